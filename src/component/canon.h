/* canon.h - internal model of instantiated components and the canonical
 * ABI: resolved runtime types (struct kumo_ctype), resource types and
 * handle tables, lift/lower contexts. Prefix kc_. Shared by canon.c (lift,
 * lower, load, store, strings), resource.c (handles), cval.c (values,
 * types, names), cinst.c (instantiation) and clink.c (linker, calls). */
#ifndef KUMO_SRC_CANON_H
#define KUMO_SRC_CANON_H

#include "component.h"
#include "kumo/engine.h"

enum { KC_MAX_FLAT_PARAMS = 16, KC_MAX_FLAT_RESULTS = 1 };

struct kc_frame;
struct kc_rinst;

/* A resolved type. Lives in the arena of the top-level instance (or is a
 * static primitive). Layout facts are computed when it is made. */
struct kumo_ctype {
    kumo_cval_kind kind;
    uint32_t n;                        /* see kumo_ctype_count */
    const kc_str *labels;              /* n labels, or NULL (tuple etc.) */
    const kumo_ctype *const *members;  /* n members (NULL: no payload) */
    const kumo_ctype *result;          /* func */
    bool async;                        /* func: async (not supported) */
    kumo_cresource *res;               /* own, borrow, resource */
    uint32_t size, align;              /* value types */
    uint32_t nflat;                    /* flattened core values */
    const uint8_t *flat;               /* kumo_valtype codes, nflat */
    /* instance / component types: evaluated lazily against a binding */
    kc_body *body;
    struct kc_frame *scope;
};

/* A resource type. impl: the component instance that defined it, NULL for
 * host resource types. */
struct kumo_cresource {
    kumo_ctype type; /* kind KUMO_CV_RESOURCE, res = this */
    kc_str name;
    struct kc_rinst *impl;
    kumo_func *dtor; /* guest destructor (core func), or NULL */
    kumo_cresource_dtor host_dtor;
    void *env;
};

/* One slot of a component instance's handle table. */
typedef struct kc_handle {
    kumo_cresource *rt; /* NULL: free slot */
    uint32_t rep;
    bool own;
    uint32_t lend_count;
    struct kc_call *scope; /* borrow: the call it belongs to */
    uint32_t next_free;
} kc_handle;

/* A component instance at run time (the ABI's ComponentInstance). */
typedef struct kc_rinst {
    kc_handle *h; /* h[0] unused: index 0 is never valid */
    uint32_t n, cap, free_head;
    bool may_leave;
    bool poisoned;
    struct kumo_cinstance *top;
} kc_rinst;

/* Canonical options resolved to runtime objects. */
typedef struct kc_opts {
    kumo_memory *mem;
    kumo_func *realloc, *post_return;
    uint8_t enc; /* KC_UTF8, KC_UTF16, KC_LATIN1_UTF16 */
} kc_opts;

/* A call in progress across a component boundary: the borrows lowered
 * into the callee (they must be dropped by the end) and the handles of the
 * caller lent for it (their lend counts drop at the end). */
typedef struct kc_lend {
    kc_rinst *inst;
    uint32_t idx;
} kc_lend;

typedef struct kc_call {
    uint32_t nborrows;
    uint32_t nlends, cap_lends;
    kc_lend *lends;
} kc_call;

/* A lift/lower context. */
typedef struct kc_cx {
    const kc_opts *opts;
    kc_rinst *inst;                /* whose handle table is used */
    kc_call *call;                 /* lift: lends; lower: borrow scope */
    kumo_store *store;
    kumo_caller *caller;           /* inside a host function, else NULL */
    struct kumo_cinstance *top;    /* for trap messages */
    bool fused;                    /* the other side is a guest */
} kc_cx;

/* ---- cval.c: primitive types, type layout, values */
const kumo_ctype *kc_prim_type(uint8_t prim); /* KC_BOOL ... KC_STRING */
/* Fill size/align/flat of t from its members (arena for the flat list). */
int kc_type_layout(kc_arena *a, kumo_ctype *t);
bool kc_type_equal(const kumo_ctype *a, const kumo_ctype *b);
/* Canonical form of an interface name's version (see kumo_cname_match):
 * writes at most cap bytes, returns the length. */
size_t kc_name_canon(const char *s, size_t n, char *out, size_t cap);

/* ---- canon.c: the ABI proper. Every function returns 0 or a trap (with
 * the message recorded via kc_trap) or KUMO_ENOMEM / KUMO_EINVAL. */
int kc_trap(kc_cx *cx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* clink.c: record a trap message of a call from the host into top. */
void kc_top_set_trap(struct kumo_cinstance *top, const char *msg);
/* Lower n values of types ts as a function's params (or results when
 * is_result): flat into out[] (room for the flat count, or 1 for a spilled
 * pointer); spilled through realloc when beyond the limit. For results
 * beyond the limit retptr says where to store (already given by the
 * caller). *nout gets the count written. */
int kc_lower_values(kc_cx *cx, const kumo_ctype *const *ts, uint32_t n,
                    const kumo_cval *vs, uint32_t max_flat, bool has_retptr,
                    uint32_t retptr, kumo_val *out, uint32_t *nout);
/* Lift n values of types ts from flat core values in[0 .. nin); when
 * their flat count exceeds max_flat, in[0] is a pointer to them in
 * memory. */
int kc_lift_values(kc_cx *cx, const kumo_ctype *const *ts, uint32_t n,
                   const kumo_val *in, uint32_t nin, uint32_t max_flat,
                   kumo_cval *vs);
/* The flat core signature of a function type: lifted (callee view) or
 * lowered (caller view: results beyond the limit become a retptr). */
int kc_core_sig(kc_arena *a, const kumo_ctype *ft, bool lower,
                kumo_functype *out);
/* Check v against t (kind, counts); KUMO_EINVAL when it does not fit. */
int kc_check_value(const kumo_ctype *t, const kumo_cval *v);

/* ---- resource.c */
int kc_handle_add(kc_cx *cx, kc_rinst *ri, kumo_cresource *rt, uint32_t rep,
                  bool own, kc_call *scope, uint32_t *out);
/* Look up handle idx for type rt (NULL: any type). */
int kc_handle_get(kc_cx *cx, kc_rinst *ri, uint32_t idx,
                  const kumo_cresource *rt, kc_handle **out);
/* Remove an own handle (lift own): traps when it is lent. */
int kc_handle_take_own(kc_cx *cx, kc_rinst *ri, uint32_t idx,
                       const kumo_cresource *rt, uint32_t *rep);
/* resource.drop semantics (calls the destructor of an own handle). */
int kc_handle_drop(kc_cx *cx, kc_rinst *ri, uint32_t idx,
                   const kumo_cresource *rt);
/* Destroy a resource whose last own handle went away. */
int kc_resource_destroy(kc_cx *cx, kumo_cresource *rt, uint32_t rep);
/* End of a call: borrows still in the callee trap; lends are returned. */
int kc_call_finish(kc_cx *cx, kc_call *call);
void kc_call_fini(kc_call *call);
void kc_rinst_fini(kc_rinst *ri);

/* ---- runtime objects of instantiation (cinst.c, clink.c) */

/* A component function: lifted from a core function, or a host function
 * (a linker definition or a stub). kumo_cfunc is this struct. */
enum { KC_RF_LIFTED, KC_RF_HOST };
struct kumo_cfunc {
    const kumo_ctype *type; /* kind KUMO_CV_FUNC */
    uint8_t kind;
    kumo_func *core; /* lifted */
    kc_opts opts;
    kc_rinst *inst;
    kumo_chost_fn fn; /* host */
    void *env;
    const char *name; /* NUL-terminated, for messages */
    struct kumo_cinstance *top;
};
typedef struct kumo_cfunc kc_rfunc;

/* The run-time value of an index-space entry. */
typedef struct kc_rv {
    kumo_extern ext; /* core func, table, memory, global */
    void *p;         /* module, core instance, func, type, component,
                        instance */
} kc_rv;

typedef struct kc_rcore { /* a core instance or a bag of core exports */
    kumo_instance *inst;
    uint32_t n;
    kc_str *names;
    kumo_extern *exts;
} kc_rcore;

typedef struct kc_rexport {
    kc_str name;
    kc_sort sort;
    kc_rv v;
} kc_rexport;

typedef struct kc_rcinst { /* a component instance's exports */
    uint32_t n, cap;
    kc_rexport *ex;
} kc_rcinst;

struct kumo_cinstance {
    kc_arena arena;
    kumo_store *store;
    const kumo_component *comp;
    kumo_clinker *linker;
    kumo_diag *diag; /* during instantiation */
    kumo_module **mods;
    uint32_t nmods, cap_mods;
    kc_rinst **rinsts;
    uint32_t nrinsts, cap_rinsts;
    kc_rcinst *exports;
    char msg[256];
};

/* clink.c */
int kc_invoke(kc_rfunc *f, const kumo_cval *args, kumo_cval *result,
              kumo_caller *caller);
int kc_lowered_new(struct kumo_cinstance *ci, kc_rfunc *callee,
                   const kc_opts *opts, kc_rinst *caller_inst,
                   kumo_func **out);
int kc_builtin_new(struct kumo_cinstance *ci, kc_canon_op op,
                   kumo_cresource *rt, kc_rinst *inst, kumo_func **out);
/* Host definitions: a function (iface may be NULL) or resource type. */
int kc_linker_func(kumo_clinker *l, kc_str iface, kc_str name,
                   struct kumo_cinstance *ci, const kumo_ctype *type,
                   kc_rfunc **out);
int kc_linker_resource(kumo_clinker *l, kc_str iface, kc_str name,
                       struct kumo_cinstance *ci, kumo_cresource **out);
bool kc_linker_has_iface(const kumo_clinker *l, kc_str iface);

#endif
