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

/* A resource type. Host resource types belong to a linker; a type a
 * component defines belongs to the pre-instantiation (kumo_cpre) that
 * evaluated it: its implementation (the defining component instance's
 * handle table and destructor) differs per instance, so it is found in the
 * instance's slots (impl_slot, dtor_slot: slot numbers + 1, 0 = none) by
 * kc_res_impl / kc_res_dtor. */
struct kumo_cresource {
    kumo_ctype type; /* kind KUMO_CV_RESOURCE, res = this */
    kc_str name;
    bool guest;
    const struct kumo_cpre *pre; /* guest: the pre whose slots these are */
    uint32_t impl_slot, dtor_slot;
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

#define KC_LENDS_INLINE 4
typedef struct kc_call {
    uint32_t nborrows;
    uint32_t nlends, cap_lends;
    kc_lend *lends; /* NULL: the first KC_LENDS_INLINE are in inl */
    kc_lend inl[KC_LENDS_INLINE];
} kc_call;
/* resource.c: room for one more lend (0 or KUMO_ENOMEM). */
int kc_call_lend(kc_call *call, kc_rinst *ri, uint32_t idx);

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

/* ---- runtime objects of instantiation (cinst.c, clink.c)
 *
 * kumo_cpre_new walks the component once and produces a *plan*: every
 * index-space entry is a kc_rv, either static (a module, a type, a host
 * function, an instance's bag of exports: made once, shared by every
 * instance) or a *slot* of the instance (core instances and their
 * exports, lifted and lowered functions, handle tables: made per
 * instance). The plan's steps (kc_step) fill the slots in binary order;
 * kumo_cpre_instantiate runs only them. */

/* A component function: lifted from a core function, or a host function
 * (a linker definition or a stub). kumo_cfunc is this struct. In a plan,
 * a lifted function is a descriptor (type and kind only) whose value is
 * a slot; host functions are static (top NULL: the caller supplies the
 * instance) except the copies an instance makes of exported ones. */
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

/* The value of an index-space entry. slot 0: static, ext/p hold it; else
 * the value is the instance's slots[slot - 1] (p may still point to a
 * static descriptor: a lifted function's kc_rfunc, a core instance's
 * kc_rcore). */
typedef struct kc_rv {
    kumo_extern ext; /* core func, table, memory, global */
    void *p;         /* module, core instance, func, type, component,
                        instance, handle table */
    uint32_t slot;
} kc_rv;

typedef struct kc_rcore { /* a core instance or a bag of core exports */
    const kumo_module *mod; /* instance: its module (value in a slot) */
    uint32_t n;             /* bag */
    kc_str *names;
    kc_rv *vals;
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

/* Canonical options of a plan (values resolved per instance). */
typedef struct kc_popts {
    uint8_t enc;
    kc_rv mem, realloc, post_return; /* p unused; slot 0: absent */
} kc_popts;

typedef enum kc_stepkind {
    KC_STEP_RINST,         /* a component instance's handle table */
    KC_STEP_CORE_INSTANCE, /* kumo_instance_new */
    KC_STEP_CORE_EXPORT,   /* an export of a core instance */
    KC_STEP_LIFT,          /* a lifted function */
    KC_STEP_LOWER,         /* a core function calling a component one */
    KC_STEP_BUILTIN,       /* resource.new / drop / rep */
} kc_stepkind;

typedef struct kc_step {
    uint8_t kind;         /* kc_stepkind */
    uint32_t slot;        /* the slot it fills (0-based) */
    uint32_t index;       /* core instance: module index (messages) */
    const kumo_module *mod;  /* core instance */
    uint32_t n;              /* core instance: imports */
    kc_rv *args;             /* core instance: imports; export: [0] inst */
    kc_str name;             /* core export */
    const kumo_ctype *type;  /* lift */
    kc_rv func;              /* lift: core func; lower: callee */
    kc_popts opts;           /* lift, lower */
    kc_rv rinst;             /* lift, lower, builtin: the handle table */
    kumo_functype sig;       /* lift: expected core type; lower: its type */
    bool retptr;             /* lower */
    kc_canon_op op;          /* builtin */
    kumo_cresource *rt;      /* builtin */
} kc_step;

struct kumo_cpre {
    kc_arena arena; /* the plan, types, static functions */
    const kumo_component *comp;
    kumo_clinker *linker;
    kumo_diag *diag; /* while it is made */
    kumo_module **mods; /* compiled here (not cached by validation) */
    uint32_t nmods, cap_mods;
    kc_step *steps;
    uint32_t nsteps, cap_steps;
    uint32_t nslots;
    kc_rcinst *exports;
    _Atomic uint32_t refs; /* the owner's and one per instance */
};

struct kumo_cinstance {
    kc_arena arena; /* per-instance functions, handle tables, exports */
    kumo_store *store;
    struct kumo_cpre *pre;
    kumo_diag *diag; /* during instantiation */
    kc_rv *slots;    /* pre->nslots */
    kc_rinst **rinsts;
    uint32_t nrinsts, cap_rinsts;
    kc_rcinst *exports;
    char msg[256];
    /* kumo_cinstance_snapshot: the store's state and each handle table's
     * (rsnap, nrinsts entries); host_calls counts calls to host functions
     * (lowered imports), which must be none when the snapshot is taken. */
    uint64_t host_calls;
    kumo_snapshot *snap;
    struct kc_rsnap *rsnap;
};

/* cinst.c: drop a reference (the last one frees the pre). */
void kc_pre_unref(struct kumo_cpre *p);

/* The value of v in instance ci. */
static inline kc_rv
kc_rv_at(const struct kumo_cinstance *ci, kc_rv v)
{
    return v.slot ? ci->slots[v.slot - 1] : v;
}
/* The handle table and destructor of a guest resource type in top (NULL
 * for host resource types). */
kc_rinst *kc_res_impl(const struct kumo_cinstance *top,
                      const kumo_cresource *rt);
kumo_func *kc_res_dtor(const struct kumo_cinstance *top,
                       const kumo_cresource *rt);

/* clink.c. kc_invoke calls f on behalf of instance top (f->top for
 * lifted functions; host functions of a plan have none). */
int kc_invoke(kc_rfunc *f, struct kumo_cinstance *top, const kumo_cval *args,
              kumo_cval *result, kumo_caller *caller);
/* sig: the core type of the lowered function (kc_core_sig, lower),
 * retptr: its last param is the results' address. */
int kc_lowered_new(struct kumo_cinstance *ci, kc_rfunc *callee,
                   const kc_opts *opts, kc_rinst *caller_inst,
                   const kumo_functype *sig, bool retptr, kumo_func **out);
int kc_builtin_new(struct kumo_cinstance *ci, kc_canon_op op,
                   kumo_cresource *rt, kc_rinst *inst, kumo_func **out);
/* Host definitions: a function (iface may be NULL) or resource type;
 * what they make (functions, stub resource types) is allocated in a. */
int kc_linker_func(kumo_clinker *l, kc_str iface, kc_str name, kc_arena *a,
                   const kumo_ctype *type, kc_rfunc **out);
int kc_linker_resource(kumo_clinker *l, kc_str iface, kc_str name,
                       kc_arena *a, kumo_cresource **out);
bool kc_linker_has_iface(const kumo_clinker *l, kc_str iface);

#endif
