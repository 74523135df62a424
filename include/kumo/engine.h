/* kumo/engine.h - the WebAssembly engine: decode, validate, instantiate,
 * call. Core WebAssembly 2.0 without SIMD, plus extended-const,
 * multi-memory and exception handling (exnref and the legacy try). */
#ifndef KUMO_ENGINE_H
#define KUMO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kumo/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Value types, with their binary encodings. */
typedef enum kumo_valtype {
    KUMO_I32 = 0x7f,
    KUMO_I64 = 0x7e,
    KUMO_F32 = 0x7d,
    KUMO_F64 = 0x7c,
    KUMO_V128 = 0x7b,
    KUMO_FUNCREF = 0x70,
    KUMO_EXTERNREF = 0x6f,
} kumo_valtype;
/* exnref (exception handling): a value type of guest code only, never in
 * a host function's or a global's type given by the host. A macro, not
 * an enumerator, so that existing switches over kumo_valtype stay
 * complete. */
#define KUMO_EXNREF ((kumo_valtype)0x69)

/*
 * A value as it sits in a stack slot: 64 bits. i32 is in the low 32 bits
 * (upper bits unspecified on read, written as zero), floats are raw IEEE
 * bits (NaN payloads are preserved exactly), funcref is a kumo_func pointer
 * (NULL for null), externref is the host's pointer value (NULL for null).
 */
typedef uint64_t kumo_val;

typedef enum kumo_externkind {
    KUMO_EXTERN_FUNC = 0,
    KUMO_EXTERN_TABLE = 1,
    KUMO_EXTERN_MEMORY = 2,
    KUMO_EXTERN_GLOBAL = 3,
} kumo_externkind;
/* Exception tags (u.tag); a macro for the same reason as KUMO_EXNREF. */
#define KUMO_EXTERN_TAG ((kumo_externkind)4)

typedef struct kumo_module kumo_module;     /* decoded + validated + compiled */
typedef struct kumo_store kumo_store;       /* owns all runtime objects */
typedef struct kumo_instance kumo_instance; /* owned by its store */
typedef struct kumo_func kumo_func;         /* owned by its store */
typedef struct kumo_table kumo_table;       /* owned by its store */
typedef struct kumo_memory kumo_memory;     /* owned by its store */
typedef struct kumo_global kumo_global;     /* owned by its store */
typedef struct kumo_tag kumo_tag;           /* owned by its store */
typedef struct kumo_linker kumo_linker;     /* name -> extern map */

typedef struct kumo_extern {
    kumo_externkind kind;
    union {
        kumo_func *func;
        kumo_table *table;
        kumo_memory *memory;
        kumo_global *global;
        kumo_tag *tag;
    } u;
} kumo_extern;

/* A function type. Arrays are owned by whoever made the type. */
typedef struct kumo_functype {
    uint32_t nparams, nresults;
    const kumo_valtype *params;
    const kumo_valtype *results;
} kumo_functype;

typedef struct kumo_limits {
    uint64_t min;
    uint64_t max;  /* valid when has_max */
    bool has_max;
} kumo_limits;

/* Describes an import or export of a module (strings point into the
 * module and live as long as it; names are UTF-8, not NUL-terminated). */
typedef struct kumo_externdesc {
    const char *module; /* imports only */
    uint32_t module_len;
    const char *name;
    uint32_t name_len;
    kumo_externkind kind;
    kumo_functype func;        /* KUMO_EXTERN_FUNC; TAG: its params */
    kumo_valtype elem_type;    /* KUMO_EXTERN_TABLE */
    kumo_limits limits;        /* TABLE and MEMORY */
    kumo_valtype global_type;  /* KUMO_EXTERN_GLOBAL */
    bool global_mutable;
    uint32_t index; /* index in its index space */
} kumo_externdesc;

/* ---- modules ---- */

/*
 * Decode, validate and compile a binary module. bytes are copied; the
 * caller may free them afterwards. On failure returns KUMO_EMALFORMED,
 * KUMO_EINVALID or KUMO_ENOMEM and fills diag (may be NULL) with the spec's
 * message and the byte offset.
 */
int kumo_module_new(const uint8_t *bytes, size_t len, kumo_module **out,
                    kumo_diag *diag);

/* Optional WebAssembly features beyond 2.0. kumo_module_new enables all of
 * them; a host that wants exactly WebAssembly 2.0 (the core spec suite)
 * clears them. */
typedef struct kumo_features {
    bool extended_const; /* i32/i64 add, sub, mul in constant expressions */
    /* several memories; loads, stores and memory instructions take a
     * memory index */
    bool multi_memory;
    /* tags, throw, throw_ref, try_table, exnref, and the legacy
     * try/catch/catch_all/delegate/rethrow */
    bool exceptions;
} kumo_features;

/* kumo_features with every supported feature enabled. */
kumo_features kumo_features_default(void);

/* kumo_module_new with an explicit feature set (NULL = default). */
int kumo_module_new_with(const uint8_t *bytes, size_t len,
                         const kumo_features *features, kumo_module **out,
                         kumo_diag *diag);
void kumo_module_free(kumo_module *m);

uint32_t kumo_module_import_count(const kumo_module *m);
uint32_t kumo_module_export_count(const kumo_module *m);
void kumo_module_import(const kumo_module *m, uint32_t i,
                        kumo_externdesc *out);
void kumo_module_export(const kumo_module *m, uint32_t i,
                        kumo_externdesc *out);
/* Function name from the name section, or NULL. NUL-terminated. */
const char *kumo_module_func_name(const kumo_module *m, uint32_t func_index);

/* ---- stores ---- */

typedef struct kumo_store_config {
    uint32_t max_memory_pages; /* cap on every memory, 0 = 65536 */
    uint32_t max_table_elems;  /* cap on every table, 0 = 10,000,000 */
    uint32_t max_call_depth;   /* wasm frames, 0 = 10,000 */
    uint32_t value_stack_cells;/* 64-bit cells, 0 = 1M (8 MiB) */
    uint32_t flags;            /* KUMO_STORE_* below, 0 = defaults */
} kumo_store_config;

/* Store flags. By default every memory is a virtual reservation of 8 GiB
 * plus a guard region (committed as it grows, so its base never moves and
 * out-of-bounds accesses can fault instead of being checked), and a
 * module whose data segments are constant and large enough instantiates
 * its memory by mapping a shared copy-on-write image instead of copying
 * them. Both fall back to the heap / copying on their own when the host
 * refuses reservations or memfds. */
#define KUMO_STORE_NO_GUARD 1u /* heap memories, explicit bounds checks */
#define KUMO_STORE_NO_IMAGE 2u /* copy data segments at instantiation */

/* cfg may be NULL for defaults. */
int kumo_store_new(const kumo_store_config *cfg, kumo_store **out);
/* Frees the store and every instance and object it owns. */
void kumo_store_free(kumo_store *s);
/*
 * Snapshots. kumo_store_snapshot records the state of everything s owns
 * (memory contents and sizes, globals, tables, dropped segments, which
 * objects exist); kumo_store_restore puts s back exactly as it was: what
 * was made since is freed, memories shrink back to their recorded size
 * and get their recorded contents (pages reset as when freed, then the
 * recorded bytes copied back), globals, tables and segments their values.
 * Taken right after instantiation, a restore is a fresh instance without
 * instantiating again. Both fail with KUMO_EINVAL while a call into s is
 * running. A restore that fails leaves s unusable (free it).
 */
typedef struct kumo_snapshot kumo_snapshot;
int kumo_store_snapshot(kumo_store *s, kumo_snapshot **out);
int kumo_store_restore(kumo_store *s, const kumo_snapshot *snap);
void kumo_snapshot_free(kumo_snapshot *snap);

/* The message of the last trap in this store (valid until the next call
 * into the store). */
const char *kumo_store_trap_message(const kumo_store *s);

/*
 * Fuel and interruption. With fuel set, every function entry and every
 * backward branch (loop iteration) consumes one unit; when it runs out the
 * guest traps with KUMO_ETRAP_OUT_OF_FUEL. The default is unlimited
 * (UINT64_MAX). kumo_store_interrupt may be called from another thread or a
 * signal handler: the running guest traps KUMO_ETRAP_INTERRUPTED at its next
 * function entry or backward branch; the request is cleared when the next
 * outermost call into the store begins.
 */
void kumo_store_set_fuel(kumo_store *s, uint64_t fuel);
uint64_t kumo_store_fuel(const kumo_store *s);
void kumo_store_interrupt(kumo_store *s);

/*
 * Cooperative time slicing. kumo_store_request_yield (thread- and
 * signal-safe, like kumo_store_interrupt) asks the running guest to call
 * the store's yield function at its next function entry or backward branch
 * (within 1024 of them); a host running many guests on fibers of one
 * thread sets one that switches to its scheduler, so a guest that computes
 * without calling the host cannot hold the thread. fn runs on the guest's
 * stack, between two instructions: it may switch stacks and run other
 * stores, but must not call into s. It returns 0 to go on, or non-zero to
 * stop the guest with KUMO_ETRAP_INTERRUPTED. Without a yield function a
 * request is ignored. An interrupt wins over a pending yield request.
 */
typedef int (*kumo_yield_fn)(kumo_store *s, void *ud);
void kumo_store_set_yield(kumo_store *s, kumo_yield_fn fn, void *ud);
void kumo_store_request_yield(kumo_store *s);

/*
 * Per-thread execution state of the engine: the guard-page recovery points
 * and the depth of host -> guest re-entry. A host that switches stacks on
 * one thread (fibers: several guest calls suspended and resumed on one
 * event loop) keeps one kumo_exec_state per fiber, zero-initialised, and
 * calls kumo_exec_state_swap(&fiber_state) right before switching into the
 * fiber and again right after switching back out: each swap exchanges the
 * thread's current state with *st.
 */
typedef struct kumo_exec_state {
    void *guard_top;
    uint32_t nesting;
} kumo_exec_state;

void kumo_exec_state_swap(kumo_exec_state *st);

/* ---- host functions ---- */

/* What a host function sees of its caller. */
typedef struct kumo_caller kumo_caller;
/* Memory 0 of the calling instance, or NULL. The pointer is valid only
 * until the host function returns or calls back into the guest. */
kumo_memory *kumo_caller_memory(kumo_caller *c);
kumo_instance *kumo_caller_instance(kumo_caller *c);
kumo_store *kumo_caller_store(kumo_caller *c);
/* Record a trap message; the host function then returns KUMO_ETRAP_HOST. */
int kumo_caller_trap(kumo_caller *c, const char *msg);

/*
 * A host function: args has ftype.nparams values, results room for
 * ftype.nresults. Returns 0, or a trap code (KUMO_ETRAP_*), which unwinds
 * the guest. It may call guest functions of the same store (re-entry).
 */
typedef int (*kumo_host_fn)(kumo_caller *caller, void *env,
                            const kumo_val *args, kumo_val *results);

/* The type is copied. env is not owned; finalize (may be NULL) is called
 * with env when the store is freed. */
int kumo_func_new_host(kumo_store *s, const kumo_functype *type,
                       kumo_host_fn fn, void *env,
                       void (*finalize)(void *env), kumo_func **out);

/* ---- instances ---- */

/*
 * Instantiate m in s with imports given in the module's import order
 * (nimports must equal kumo_module_import_count). Checks import types
 * ("incompatible import type"), initialises globals, tables and memories,
 * applies segments and runs the start function. On a trap during
 * segment initialisation or start, returns the trap code with diag set;
 * effects on imported objects stay, as the spec requires.
 */
int kumo_instance_new(kumo_store *s, const kumo_module *m,
                      const kumo_extern *imports, uint32_t nimports,
                      kumo_instance **out, kumo_diag *diag);
/* Look up an export by name. Returns 0 or KUMO_ENOTFOUND. */
int kumo_instance_export(const kumo_instance *inst, const char *name,
                         size_t name_len, kumo_extern *out);
const kumo_module *kumo_instance_module(const kumo_instance *inst);
/* The store that owns inst. */
kumo_store *kumo_instance_store(const kumo_instance *inst);

/* ---- instance pools ----
 *
 * A pool instantiates one module again and again for short-lived work
 * (one instance per request) without paying for a new store, new memory
 * reservations or mmap/munmap each time. Each pool slot is a store with
 * the module's imports defined in it once; kumo_pool_instantiate takes an
 * idle slot (or makes one) and instantiates the module in it (start
 * function included); kumo_pool_release frees everything the instance
 * and the work created in that store, resets its memories in place
 * (their pages are dropped, so they read as the module's data image or
 * zeros again) and keeps the slot for the next instantiation. A released
 * instance is exactly a fresh one: memories, globals, tables, dropped
 * segments, fuel (unlimited) and the trap message are all initial. The
 * objects the imports callback made persist across uses: resetting them
 * is the host's business.
 *
 * A pool may be used from several threads (a mutex guards its idle list);
 * one instance from it is used by one thread at a time, like any store.
 * The module must outlive the pool.
 */
typedef struct kumo_pool kumo_pool;

/* Define the module's imports in s (a new slot's store): fill imports[0 ..
 * kumo_module_import_count(m)) with objects of s, e.g. host functions.
 * Returns 0 or an error, which fails the instantiation asking for it. */
typedef int (*kumo_pool_imports_fn)(kumo_store *s, void *env,
                                    kumo_extern *imports);

typedef struct kumo_pool_config {
    kumo_store_config store;      /* for every slot's store */
    uint32_t max_idle;            /* released slots kept, 0 = 16 */
    kumo_pool_imports_fn imports; /* NULL when m has no imports */
    void *env;                    /* passed to imports */
} kumo_pool_config;

/* cfg may be NULL (defaults, no imports). */
int kumo_pool_new(const kumo_module *m, const kumo_pool_config *cfg,
                  kumo_pool **out);
/* Every instance must have been released. */
void kumo_pool_free(kumo_pool *p);
/* Instantiate the pool's module; as kumo_instance_new (a failure leaves
 * nothing to release). Call its functions with kumo_instance_store(*out). */
int kumo_pool_instantiate(kumo_pool *p, kumo_instance **out,
                          kumo_diag *diag);
/* Give inst (from kumo_pool_instantiate on p) back; inst, its store and
 * everything made in that store since instantiation are gone after. */
void kumo_pool_release(kumo_pool *p, kumo_instance *inst);

/* ---- linker: resolves imports by (module, name) ---- */
int kumo_linker_new(kumo_linker **out);
void kumo_linker_free(kumo_linker *l);
/* Define or replace module.name. */
int kumo_linker_define(kumo_linker *l, const char *module, const char *name,
                       const kumo_extern *ext);
/* Define every export of inst under module name. */
int kumo_linker_define_instance(kumo_linker *l, const char *module,
                                const kumo_instance *inst);
/* Resolve m's imports ("unknown import" when missing) and instantiate. */
int kumo_linker_instantiate(const kumo_linker *l, kumo_store *s,
                            const kumo_module *m, kumo_instance **out,
                            kumo_diag *diag);

/* ---- calls, functions, memories, tables, globals ---- */

const kumo_functype *kumo_func_type(const kumo_func *f);
/* Call f. args/results as in kumo_host_fn. Returns 0 or a trap code
 * (message via kumo_store_trap_message), KUMO_EINVAL if s is not f's store.
 * A wasm exception that nobody catches leaves as KUMO_ETRAP_EXCEPTION
 * ("uncaught exception"); a host function that returns that code for a
 * call back into the guest lets the exception go on unwinding the guest
 * frames above it (any other code is a trap). */
int kumo_func_call(kumo_store *s, kumo_func *f, const kumo_val *args,
                   kumo_val *results);

uint8_t *kumo_memory_data(kumo_memory *m);
uint64_t kumo_memory_size(const kumo_memory *m); /* bytes */
/* Grow by delta pages; *old_pages gets the previous size. Returns 0 or
 * KUMO_ELIMIT (beyond the max or the store's cap) or KUMO_ENOMEM. */
int kumo_memory_grow(kumo_memory *m, uint64_t delta, uint64_t *old_pages);

uint32_t kumo_table_size(const kumo_table *t);
int kumo_table_get(const kumo_table *t, uint32_t i, kumo_val *out);
int kumo_table_set(kumo_table *t, uint32_t i, kumo_val v);

kumo_valtype kumo_global_type(const kumo_global *g);
bool kumo_global_mutable(const kumo_global *g);
kumo_val kumo_global_get(const kumo_global *g);
int kumo_global_set(kumo_global *g, kumo_val v); /* EINVAL if immutable */

/* Standalone objects (for hosts and the spec runner's `spectest`). */
int kumo_memory_new(kumo_store *s, kumo_limits limits, kumo_memory **out);
int kumo_table_new(kumo_store *s, kumo_valtype elem, kumo_limits limits,
                   kumo_val init, kumo_table **out);
int kumo_global_new(kumo_store *s, kumo_valtype type, bool mutable_,
                    kumo_val init, kumo_global **out);
/* A new exception tag with the given parameter types (results must be
 * empty; the type is copied). Tags are compared by identity. */
int kumo_tag_new(kumo_store *s, const kumo_functype *type, kumo_tag **out);
const kumo_functype *kumo_tag_type(const kumo_tag *t);

#ifdef __cplusplus
}
#endif
#endif
