/* validate.h - internal model of component validation (validate*.c):
 * resolved types, the extern types of every index-space entry and the
 * checks shared between the files. Prefix kv_. Everything lives in one
 * arena freed when validation ends. */
#ifndef KUMO_SRC_COMPONENT_VALIDATE_H
#define KUMO_SRC_COMPONENT_VALIDATE_H

#include "component.h"

typedef struct kv_type kv_type;
typedef struct kv_core kv_core;

/* An extern type: what one index of some sort refers to. */
typedef struct kv_ext {
    uint8_t sort; /* kc_sort */
    kv_type *t;   /* component sorts: func/instance/component/type/value */
    kv_core *c;   /* core sorts */
} kv_ext;

typedef struct kv_named {
    kc_str name;
    kv_ext e;
} kv_named;

typedef struct kv_field {
    kc_str name;
    kv_type *t; /* NULL: no payload */
} kv_field;

/* A resolved component type. Resources are compared by identity (the
 * kv_type pointer). */
struct kv_type {
    kc_typekind kind;
    uint8_t prim;
    uint32_t n;
    kv_field *f;  /* record/variant/tuple/flags/enum; func params */
    kv_type *a;   /* list/option/stream/future element, result ok, func
                     result, own/borrow resource */
    kv_type *b;   /* result err, map value */
    uint32_t len; /* fixed list */
    bool async;
    /* resource */
    bool local;    /* defined by a resource type definition */
    bool abstract; /* made by a (sub resource) import/export declarator */
    /* named: reached through an imported/exported type index (external
     * visibility); same: for such a name of a resource, the resource */
    uint8_t named; /* 0 no, 1 by an import, 2 by an export */
    kv_type *same;
    uint8_t rep;
    uint32_t depth; /* resource: nesting depth of the scope creating it */
    /* instance/component types */
    uint32_t nimp, nexp;
    kv_named *imp, *exp;
    /* canonical ABI layout with 64-bit pointers, cached by kv_elem_size */
    bool sized;
    uint8_t align;
    uint64_t size;
};

/* Core types: 0 func, 1 table, 2 memory, 3 global, 4 tag (core extern
 * kinds), KV_MODULE, KV_INSTANCE. Value types are core valtype codes. */
enum { KV_MODULE = 0x50, KV_INSTANCE = 0x51 };

typedef struct kv_cnamed {
    kc_str module, name;
    kv_core *c;
} kv_cnamed;

struct kv_core {
    uint8_t kind;
    uint32_t np, nr;
    uint8_t *p, *r;  /* func, tag */
    uint8_t val;     /* table element, global */
    bool mut;        /* global */
    uint8_t flags;   /* limits: 1 max, 2 shared, 4 64-bit */
    uint64_t min, max;
    bool unknown;    /* a module/instance whose type could not be read */
    uint32_t nimp, nexp;
    kv_cnamed *imp, *exp;
};

/* The identity of a resource type (through exported names). */
static inline kv_type *
kv_res(kv_type *t)
{
    return t && t->same ? t->same : t;
}

typedef struct kv_space {
    uint32_t n, cap;
    kv_ext *v;
} kv_space;

/* One scope: a component or a component/instance type body. */
typedef struct kv_scope kv_scope;
struct kv_scope {
    kv_scope *parent;
    const kc_body *body;
    kv_space sp[KC_NSORTS];
    /* names declared so far: imports, exports (type bodies and
     * components) */
    uint32_t nimp, nexp, capimp, capexp;
    kv_named *imp, *exp;
    uint8_t *value_used; /* per value index (components) */
    uint32_t cap_value_used;
};

typedef struct kv_ctx {
    kc_arena arena;
    kumo_diag *diag;
    const kumo_component *comp;
    unsigned depth;
} kv_ctx;

int kv_err(kv_ctx *v, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put context in front of the message of the error rc. Returns rc. */
int kv_wrap(kv_ctx *v, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *kv_kind_name(const kv_type *t);
/* The component type of a nested component / instance type bodies. */
int kv_type_body(kv_ctx *v, kv_scope *parent, const kc_body *b,
                 kv_type *out);
int kv_nomem(kv_ctx *v);
void *kv_alloc(kv_ctx *v, size_t size);
int kv_push(kv_ctx *v, kv_scope *s, kc_sort sort, kv_ext e);

/* ---- types (validate_types.c) */
/* Resolve and check type definition t of scope s (in a type body when
 * in_type). */
int kv_deftype(kv_ctx *v, kv_scope *s, const kc_type *t, bool in_type,
               kv_type **out);
/* A valtype use (prim or index of a defined value type). */
int kv_valtype(kv_ctx *v, kv_scope *s, kc_valtype vt, size_t off,
               kv_type **out);
int kv_core_deftype(kv_ctx *v, kv_scope *s, const kc_core_type *t,
                    kv_core **out);
/* An externtype of an import or export declarator. */
int kv_externtype(kv_ctx *v, kv_scope *s, const kc_extern *e, size_t off,
                  kv_ext *out);
kv_type *kv_prim(kv_ctx *v, uint8_t prim);
bool kv_is_kebab(kc_str s);
/* elem_size(t, i64) of the canonical ABI, saturated at 2^32; sets *align.
 * Validation requires it below 2^28 for every defined value type. */
uint64_t kv_elem_size(kv_type *t, uint8_t *align);

/* ---- names (validate_names.c) */
/* Check an import or export name and its uniqueness in the list; then add
 * it. is_import picks the message. */
int kv_add_name(kv_ctx *v, kv_scope *s, const kc_name *n, kv_ext e,
                bool is_import, size_t off);

/* ---- subtyping (validate_sub.c). 0 or an EINVALID with "what" (an
 * explanation) in the diag. */
typedef struct kv_subst { /* resource substitution while instantiating */
    uint32_t n, cap;
    kv_type **from, **to;
    /* fresh resources get this depth; limited: only abstract resources
     * deeper than it are made fresh (a use of an instance type) */
    uint32_t depth;
    bool limited;
    bool keep_names; /* copies keep their import/export naming */
} kv_subst;

int kv_sub_ext(kv_ctx *v, const kv_ext *a, const kv_ext *b, kv_subst *m,
               size_t off);
int kv_sub_type(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off);
int kv_sub_core(kv_ctx *v, const kv_core *a, const kv_core *b, size_t off);
/* Copy t with the substitution applied; fresh: map every resource not in m
 * to a new resource (instantiation makes new resource types). */
kv_type *kv_subst_type(kv_ctx *v, kv_type *t, kv_subst *m);
int kv_subst_add(kv_ctx *v, kv_subst *m, kv_type *from, kv_type *to);
/* The nesting depth of scope s (0: the outermost component). */
uint32_t kv_depth(const kv_scope *s);
/* A use of instance type t in scope s: each use is a distinct instance,
 * so the abstract resources its body declares become new ones. */
kv_type *kv_fresh_instance(kv_ctx *v, kv_scope *s, kv_type *t);
/* A copy of t no longer named by any import or export (a type reaching
 * another component through an outer alias). */
kv_type *kv_unnamed(kv_ctx *v, kv_type *t);

/* ---- canonical ABI (validate_canon.c) */
int kv_canon(kv_ctx *v, kv_scope *s, const kc_canon *c);
/* Whether a type contains a borrow / any resource. */
bool kv_has_borrow(const kv_type *t);

#endif
