/* runtime.h - runtime objects: store, instances, functions, memories,
 * tables, globals, and the interpreter's entry. Prefix ke_. */
#ifndef KUMO_SRC_ENGINE_RUNTIME_H
#define KUMO_SRC_ENGINE_RUNTIME_H

#include "code.h"
#include "module.h"

#define KE_PAGE 65536u

struct kumo_func {
    kumo_store *store;
    const ke_functype *type; /* wasm: the module's; host: own_type */
    kumo_instance *inst;     /* defining instance; NULL for host funcs */
    const ke_code *code;     /* wasm functions */
    uint32_t index;          /* index in inst's function space */
    kumo_host_fn host;       /* host functions */
    void *env;
    void (*finalize)(void *env);
    ke_functype own_type;    /* host functions: owned copy */
    /* What kumo_func_type returns; its arrays are owned by the func (host)
     * or are the module's ktypes (wasm). */
    kumo_functype api_type;
};

struct kumo_memory {
    kumo_store *store;
    uint8_t *data;       /* pages * KE_PAGE bytes (NULL when 0 pages) */
    uint64_t pages;
    uint64_t max_pages;  /* effective: min(declared max, store cap) */
    ke_limits type;      /* declared limits (for import matching: min is
                            the current size) */
    /* memory.c: reserved memories (reserved != 0) live in a virtual
     * reservation of `reserved` bytes at data (KE_RESERVE) whose first
     * pages * KE_PAGE bytes are read-write and the rest PROT_NONE; the
     * base never moves on grow. guarded: reserved and the guard-page trap
     * (guard.c) is installed, so any access at data + (u32 address +
     * u32 offset + width) past pages * KE_PAGE faults into the
     * reservation and becomes KUMO_ETRAP_MEMORY_OOB: the interpreter may
     * skip bounds checks. Heap memories (reserved == 0, guarded false)
     * need explicit checks. image: the module data image mapped
     * copy-on-write at data (NULL: none). */
    bool guarded;
    size_t reserved;
    const struct ke_image *image;
    kumo_memory *spare_next; /* in kumo_store.spare (pool reuse) */
};

struct kumo_table {
    kumo_store *store;
    kumo_val *elems;
    uint32_t size;
    uint32_t max;        /* effective: min(declared max, store cap) */
    ke_tabletype type;   /* declared */
};

struct kumo_global {
    kumo_store *store;
    kumo_val val;
    ke_globaltype type;
};

/* An exception tag (exception handling): compared by identity. */
struct kumo_tag {
    kumo_store *store;
    const ke_functype *type; /* params only; the module's or own_type */
    ke_functype own_type;    /* kumo_tag_new: owned copy */
    kumo_functype api_type;  /* what kumo_tag_type returns */
};

/* An exception: its tag and values. An exnref is a pointer to one.
 * Exceptions are owned by their store (kumo_store.exns) and freed with it,
 * or when an outermost call returns while nothing can refer to them any
 * more (exn.c, ke_exn_sweep). */
typedef struct ke_exn {
    struct ke_exn *next;
    kumo_tag *tag;
    uint32_t n;
    kumo_val vals[];
} ke_exn;

struct kumo_instance {
    kumo_store *store;
    const kumo_module *module;
    kumo_func **funcs;     /* module->nfuncs */
    kumo_table **tables;   /* module->ntables */
    kumo_memory **mems;    /* module->nmems */
    kumo_global **globals; /* module->nglobals */
    kumo_tag **tags;       /* module->ntags */
    /* Element segments evaluated at instantiation; elem.drop (and active
     * or declarative segments after instantiation) set the size to 0. */
    kumo_val **elem_items;
    uint32_t *elem_sizes;
    /* Data segments: size 0 once dropped (or active after init). */
    uint32_t *data_sizes;
};

/* A frame of the interpreter's call stack. */
typedef struct ke_frame {
    const uint32_t *ret_ip;
    kumo_val *fp;
    kumo_instance *inst;
    const ke_code *code;
} ke_frame;

struct kumo_store {
    kumo_store_config cfg; /* with defaults filled in */

    /* The value stack and the call-frame stack, shared by all calls in
     * this store (re-entrant calls continue above the caller's frame). */
    kumo_val *stack;
    uint32_t stack_cells;
    kumo_val *sp_free;      /* first free cell for a new entry */
    ke_frame *frames;
    uint32_t frame_cap;     /* = cfg.max_call_depth */
    uint32_t depth;         /* frames in use */

    char trap_msg[256];

    /* Fuel: decremented at function entries and backward branches; a trap
     * at zero. `interrupt` (set asynchronously) sends the interpreter to
     * its slow fuel path: KE_INTERRUPT makes it report
     * KUMO_ETRAP_INTERRUPTED, KE_YIELD alone calls yield_fn (ke_yield). */
    uint64_t fuel;
    volatile int interrupt;
    kumo_yield_fn yield_fn;
    void *yield_ud;

    /* Everything the store owns, freed by kumo_store_free. */
    kumo_func **funcs;
    uint32_t nfuncs, cap_funcs;
    kumo_memory **mems;
    uint32_t nmems, cap_mems;
    kumo_table **tables;
    uint32_t ntables, cap_tables;
    kumo_global **globals;
    uint32_t nglobals, cap_globals;
    kumo_instance **instances;
    uint32_t ninstances, cap_instances;
    kumo_tag **tags;
    uint32_t ntags, cap_tags;

    /* exn.c: every exception thrown and not yet swept; the one leaving the
     * innermost kumo_func_call uncaught (KUMO_ETRAP_EXCEPTION), for a host
     * function to let it go on unwinding; and whether an exnref global
     * exists (then exceptions are only freed with the store). */
    ke_exn *exns;
    ke_exn *exn;
    bool exn_rooted;

    /* pool.c: the pool slot owning this store (NULL for ordinary
     * stores), and reserved memories a pool reset parked here for reuse
     * by the next instantiation (memory.c; freed with the store). */
    struct ke_slot *slot;
    kumo_memory *spare;
};

struct kumo_caller {
    kumo_store *store;
    kumo_instance *inst; /* calling instance, NULL when called from host */
};

/*
 * interp.c: run wasm function f (f->code != NULL) whose arguments are at
 * sp[0 .. nparams), sp inside s->stack at or above s->sp_free. Results
 * are left in sp[0 .. nresults). Returns 0 or a trap code, with
 * s->trap_msg set. Host functions called from the guest receive args in
 * the callee frame and a results buffer that does not alias it.
 */
int ke_interp_call(kumo_store *s, kumo_func *f, kumo_val *sp);

/*
 * guard.c: ke_interp_call(s, f, sp) under a recovery point: a fault in
 * the reservation of a guarded memory of s while this call (or a host
 * function it calls) runs on this thread longjmps back here, restores
 * s->depth and s->sp_free and returns KUMO_ETRAP_MEMORY_OOB. Nested calls
 * (host -> guest) each get their own recovery point. Used by
 * kumo_func_call (and so by start functions).
 */
/* guard.c: exchange the thread's innermost recovery point with *top. */
void ke_guard_swap_top(void **top);

int ke_guard_call(kumo_store *s, kumo_func *f, kumo_val *sp);

/* instance.c: evaluate a validated constant expression of inst's module
 * (globals must be initialised up to what it reads). */
int ke_eval_const(kumo_instance *inst, ke_expr e, kumo_val *out);

/* Memory and table helpers shared by instance.c and interp.c.
 * Grow returns the old size, or -1 (as uint64/uint32 max) on failure. */
int64_t ke_memory_grow(kumo_memory *m, uint64_t delta);
int64_t ke_table_grow(kumo_table *t, uint32_t delta, kumo_val init);

/* store.c: make s own obj, a kumo_func/table/memory/global (kind is its
 * kumo_externkind) or a kumo_instance (KE_OWN_INSTANCE), freed by
 * kumo_store_free. Returns 0 or KUMO_ENOMEM (then the caller still owns
 * obj). */
#define KE_OWN_INSTANCE 5
int ke_store_own(kumo_store *s, int kind, void *obj);

/* exn.c: a new exception of tag with tag's nparams values from vals
 * (NULL when out of memory), owned by s. */
ke_exn *ke_exn_new(kumo_store *s, kumo_tag *tag, const kumo_val *vals);
/* exn.c: free the exceptions of s nothing can refer to any more (called
 * when an outermost call returns; `keep` results of type exnref may). */
void ke_exn_sweep(kumo_store *s, bool keep);
void ke_exn_free_all(kumo_store *s);
/* exn.c: the handler of inst's code catching exn thrown at the word ip
 * (an instruction pointer into a threaded copy of one of inst's
 * functions), or NULL; *run is set to the start of that threaded copy. */
const ke_handler *ke_exn_find(const kumo_instance *inst, const uint32_t *ip,
                              const ke_exn *exn, const uint32_t **run);
/* exn.c: a tag of inst's module type ti, owned by s. */
int ke_tag_create(kumo_store *s, const kumo_module *m, uint32_t ti,
                  kumo_tag **out);

/* Set s->trap_msg from code (and optional detail), return code. */
int ke_trap(kumo_store *s, int code);


/* Bits of kumo_store.interrupt. */
#define KE_INTERRUPT 1
#define KE_YIELD 2
/* The interpreter's slow fuel path saw s->interrupt set: with only a yield
 * request, clear it and call the store's yield function (fuel is the
 * interpreter's count, stored first). True when the guest goes on, false
 * when it must trap (interrupted). */
bool ke_yield(kumo_store *s, uint64_t fuel);

#endif
