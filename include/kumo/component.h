/* kumo/component.h - the component-model layer: decoding component binaries
 * (WebAssembly component model, binary version 0x0d, layer 1) into an
 * in-memory tree and printing the component's WIT world.
 *
 * Instantiation, linking and the canonical ABI are in the second half. */
#ifndef KUMO_COMPONENT_H
#define KUMO_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kumo/base.h"
#include "kumo/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A decoded component. Owns a copy of the bytes it was decoded from, so the
 * caller's buffer may be freed after kumo_component_new returns. */
typedef struct kumo_component kumo_component;

/*
 * Decode a component binary. On success *out holds a new component that the
 * caller frees with kumo_component_free. On failure returns a negative
 * KUMO_E... code (KUMO_EMALFORMED for bad bytes, KUMO_EUNSUPPORTED for a
 * known but unsupported encoding such as GC core types, KUMO_ENOMEM,
 * KUMO_ELIMIT for nesting deeper than the limit) and fills diag (may be NULL)
 * with the byte offset and a message. Core modules embedded in the component
 * are not decoded here; they are kept as byte ranges.
 */
int kumo_component_new(const uint8_t *bytes, size_t len, kumo_component **out,
                       kumo_diag *diag);

/*
 * Validate a decoded component as the Explainer's type checking requires
 * (index bounds, type well-formedness, import/export names, instantiation
 * argument subtyping, aliases, canonical options, resources, value use).
 * Embedded core modules are validated with the engine. kumo_component_new
 * only decodes; call this before instantiating. Returns 0, KUMO_EINVALID
 * (diag holds the message and byte offset), KUMO_EMALFORMED (an embedded
 * core module), KUMO_EUNSUPPORTED or KUMO_ENOMEM. (validate.c)
 */
int kumo_component_validate(const kumo_component *c, kumo_diag *diag);

/* NULL if the component uses no async feature (async function types,
 * stream/future types, async canonical built-ins or options), else a short
 * static description of the first one found. Test runners use it to skip
 * async scripts. */
const char *kumo_component_async_feature(const kumo_component *c);

/* Free a component (NULL is allowed). */
void kumo_component_free(kumo_component *c);

/* The sorts of imports and exports (externtype kinds of the binary). */
typedef enum kumo_component_sort {
    KUMO_COMPONENT_CORE_MODULE = 0,
    KUMO_COMPONENT_FUNC = 1,
    KUMO_COMPONENT_VALUE = 2,
    KUMO_COMPONENT_TYPE = 3,
    KUMO_COMPONENT_COMPONENT = 4,
    KUMO_COMPONENT_INSTANCE = 5,
} kumo_component_sort;

/* An import or export of the top-level component. name points into the
 * component (not NUL-terminated) and lives as long as it; version is the
 * optional version-suffix attribute of the newer name encoding (else NULL,
 * 0). */
typedef struct kumo_component_item {
    const char *name;
    uint32_t name_len;
    const char *version;
    uint32_t version_len;
    kumo_component_sort sort;
} kumo_component_item;

uint32_t kumo_component_import_count(const kumo_component *c);
uint32_t kumo_component_export_count(const kumo_component *c);
/* Fill *out with import/export i (i < count). Returns 0 or KUMO_EINVAL. */
int kumo_component_import(const kumo_component *c, uint32_t i,
                          kumo_component_item *out);
int kumo_component_export(const kumo_component *c, uint32_t i,
                          kumo_component_item *out);

/*
 * Print the component's world as WIT, in the form `jco wit` prints it:
 *
 *     package root:component;
 *
 *     world root {
 *       import wasi:io/error@0.2.6;
 *       ...
 *
 *       export wasi:cli/run@0.2.6;
 *     }
 *
 * Interface imports/exports print as their names; function imports/exports
 * print with their WIT signature. Returns 0, KUMO_EIO on a write error.
 */
int kumo_component_print_wit(const kumo_component *c, FILE *out);


/* ==== instantiation, linking and the canonical ABI ====================
 *
 * A component is instantiated in a kumo_store against a kumo_clinker that
 * holds the host's instances. The host's functions see and produce
 * dynamic component values (kumo_cval); calls into the component's exports
 * take and return them too. Lifting, lowering, strings (utf8, utf16,
 * latin1+utf16), realloc, post-return, spilling beyond the flattening
 * limits and resources (handle tables, own/borrow, lend counts,
 * destructors) follow the Canonical ABI (CanonicalABI.md).
 */

typedef enum kumo_cval_kind {
    KUMO_CV_BOOL,
    KUMO_CV_S8,
    KUMO_CV_U8,
    KUMO_CV_S16,
    KUMO_CV_U16,
    KUMO_CV_S32,
    KUMO_CV_U32,
    KUMO_CV_S64,
    KUMO_CV_U64,
    KUMO_CV_F32,
    KUMO_CV_F64,
    KUMO_CV_CHAR,
    KUMO_CV_STRING,
    KUMO_CV_LIST,
    KUMO_CV_RECORD,
    KUMO_CV_TUPLE,
    KUMO_CV_VARIANT,
    KUMO_CV_ENUM,
    KUMO_CV_OPTION,
    KUMO_CV_RESULT,
    KUMO_CV_FLAGS,
    KUMO_CV_OWN,
    KUMO_CV_BORROW,
    /* Only as kumo_ctype kinds, never values: */
    KUMO_CV_RESOURCE,
    KUMO_CV_FUNC,
    KUMO_CV_INSTANCE,
    KUMO_CV_COMPONENT,
    KUMO_CV_OTHER, /* stream, future, error-context, ... (unsupported) */
} kumo_cval_kind;

/* A resource type: guest-defined (by a component's `(type (resource ...))`)
 * or host-defined (kumo_clinker_define_resource). Owned by the instance or
 * linker that made it. */
typedef struct kumo_cresource kumo_cresource;

/*
 * A component value. Which union member is valid follows kind:
 *   BOOL b; S8..S64 s (sign-extended); U8..U64 u; F32 f32; F64 f64;
 *   CHAR ch (a Unicode scalar value); STRING str (UTF-8, ptr may be NULL
 *   when len is 0; a NUL follows the bytes);
 *   LIST, RECORD, TUPLE items (n values; record fields in type order);
 *   VARIANT, ENUM, OPTION, RESULT var (disc is the case index: option
 *   0 none 1 some, result 0 ok 1 err; payload NULL when the case has no
 *   payload); FLAGS flags (bit i = label i, at most 32 labels in bits,
 *   n = label count); OWN, BORROW handle (type and rep: the resource's
 *   representation, what resource.rep returns for guest resources, the
 *   host's own number for host resources).
 * Values passed to the library are borrowed; values the library fills
 * (call results, host-function arguments) own their storage, which
 * kumo_cval_free releases.
 */
typedef struct kumo_cval kumo_cval;
struct kumo_cval {
    kumo_cval_kind kind;
    union {
        bool b;
        int64_t s;
        uint64_t u;
        float f32;
        double f64;
        uint32_t ch;
        struct {
            char *ptr;
            size_t len;
        } str;
        struct {
            kumo_cval *items;
            uint32_t n;
        } items;
        struct {
            uint32_t disc;
            kumo_cval *payload;
        } var;
        struct {
            uint32_t bits;
            uint32_t n;
        } flags;
        struct {
            kumo_cresource *type;
            uint32_t rep;
        } handle;
    } u;
};

/* Free what v owns (strings, items, payloads), recursively, and leave v a
 * BOOL false. v itself is not freed. NULL is allowed. */
void kumo_cval_free(kumo_cval *v);
/* Free n values of an array (each with kumo_cval_free). */
void kumo_cvals_free(kumo_cval *vs, size_t n);
/* Constructors for results a host function fills in; they allocate with
 * the library's allocator. Return 0 or KUMO_ENOMEM. */
int kumo_cval_string(kumo_cval *v, const char *s, size_t len);
/* kind LIST/RECORD/TUPLE: n zeroed items (kind BOOL) to fill in. */
int kumo_cval_items(kumo_cval *v, kumo_cval_kind kind, uint32_t n);
/* kind VARIANT/ENUM/OPTION/RESULT with case disc; with_payload: a zeroed
 * payload to fill in at v->u.var.payload. */
int kumo_cval_case(kumo_cval *v, kumo_cval_kind kind, uint32_t disc,
                   bool with_payload);
/* Deep copy (out owns its storage). */
int kumo_cval_copy(kumo_cval *out, const kumo_cval *v);
/* Structural equality (floats compared by bits, NaNs equal to NaNs). */
bool kumo_cval_equal(const kumo_cval *a, const kumo_cval *b);

/* ---- types of values and functions (read-only, owned by the instance) */
typedef struct kumo_ctype kumo_ctype;

kumo_cval_kind kumo_ctype_kind(const kumo_ctype *t);
/* record fields, variant cases, enum/flags labels, tuple members, func
 * params; 1 for list/option; 2 for result (ok, err); else 0. */
uint32_t kumo_ctype_count(const kumo_ctype *t);
/* Label i (field, case, enum/flags label, param name), or NULL (tuple
 * members, list, option, result). Not NUL-terminated: *len gets it. */
const char *kumo_ctype_label(const kumo_ctype *t, uint32_t i, uint32_t *len);
/* Type of member i (field, case payload, tuple member, list/option
 * element, result ok/err, func param), NULL when it has none. */
const kumo_ctype *kumo_ctype_member(const kumo_ctype *t, uint32_t i);
/* The result type of a func type, NULL when it has none. */
const kumo_ctype *kumo_ctype_result(const kumo_ctype *t);
/* The resource type of own/borrow, NULL otherwise. */
kumo_cresource *kumo_ctype_resource(const kumo_ctype *t);

/* ---- interface names. Two names match when they are equal after their
 * versions are made canonical: `ns:pkg/iface@1.2.3` -> `@1`, `@0.2.6` ->
 * `@0.2`, `@0.0.4` stays. An unversioned name matches only itself. */
bool kumo_cname_match(const char *a, size_t alen, const char *b, size_t blen);

/* ---- the host side: a linker holding host instances and functions */
typedef struct kumo_clinker kumo_clinker;
/* What a host function sees of the call. */
typedef struct kumo_ccall kumo_ccall;

/*
 * A host function. args are the lifted arguments (owned by the library,
 * freed after the callback returns; the callback may take a string or list
 * out of an argument by zeroing it). results has room for nresults (0 or 1)
 * zeroed values that the callback fills with values it allocates with the
 * constructors above (the library frees them). type is the function type
 * the importing component declared. Return 0, or a trap: call
 * kumo_ccall_trap and return its value.
 */
typedef int (*kumo_chost_fn)(kumo_ccall *call, void *env,
                             const kumo_ctype *type, const kumo_cval *args,
                             size_t nargs, kumo_cval *results,
                             size_t nresults);

/* Record a trap message ("wasm trap: ..." style text); returns
 * KUMO_ETRAP_HOST for the host function to return. */
int kumo_ccall_trap(kumo_ccall *call, const char *msg);
kumo_store *kumo_ccall_store(kumo_ccall *call);

int kumo_clinker_new(kumo_clinker **out);
/* Frees the linker and its resource types: free it after every instance
 * made with it. */
void kumo_clinker_free(kumo_clinker *l);

/*
 * Define function `func` of interface `iface` (e.g. "wasi:cli/stdout@0.2.6";
 * NULL for a function imported by the component directly under `func`).
 * Replaces an earlier definition. env is not owned; finalize (may be NULL)
 * is called with env when the linker is freed.
 */
int kumo_clinker_define_func(kumo_clinker *l, const char *iface,
                             const char *func, kumo_chost_fn fn, void *env,
                             void (*finalize)(void *env));

/* Define resource type `name` of interface `iface` (e.g. "output-stream");
 * dtor (may be NULL) is called with the rep when the last own handle of a
 * host resource is dropped by a guest. *out (may be NULL) gets the type
 * for making own/borrow values. */
typedef void (*kumo_cresource_dtor)(void *env, uint32_t rep);
int kumo_clinker_define_resource(kumo_clinker *l, const char *iface,
                                 const char *name, kumo_cresource_dtor dtor,
                                 void *env, kumo_cresource **out);

/* When set, every function of an imported interface that the linker does
 * not define is bound to a stub that traps "unimplemented host function
 * IFACE#NAME" when called, and missing resource types are made up. For
 * instantiating commands without their host. Default off: a missing
 * import fails instantiation naming it. */
void kumo_clinker_allow_stubs(kumo_clinker *l, bool on);

/* ---- component instances */
typedef struct kumo_cinstance kumo_cinstance;
typedef struct kumo_cfunc kumo_cfunc; /* an exported function */

/*
 * Instantiate c in s, resolving its imports from l (may be NULL when c has
 * none). Imports are matched by name (interfaces by the version rule of
 * kumo_cname_match) and checked by subtyping against what the host
 * provides. On failure returns a negative code and fills diag naming the
 * missing import, the mismatched type or the unsupported built-in (async
 * built-ins such as `stream.new` are unsupported: KUMO_EUNSUPPORTED with
 * "unsupported canonical built-in `stream.new`"). A trap during
 * instantiation (a core start function) returns its trap code.
 * c and l must outlive the instance; its core objects live in s, which
 * must outlive every call into it. The instance and s may be freed in
 * either order. Types the instance hands out (kumo_cfunc_type, the
 * resource types of own/borrow values) live as long as the instance.
 */
int kumo_component_instantiate(kumo_store *s, const kumo_component *c,
                               kumo_clinker *l, kumo_cinstance **out,
                               kumo_diag *diag);
void kumo_cinstance_free(kumo_cinstance *inst);

/*
 * A fresh instance without instantiating again: kumo_cinstance_snapshot,
 * called right after instantiation while nothing runs in it, records the
 * instance's state and its store's (kumo_store_snapshot: the store must
 * hold this instance only); kumo_cinstance_restore puts both back, so the
 * instance is as it was when instantiated, whatever ran or trapped since
 * (handle tables emptied back to their recorded state without running
 * destructors: the host resets its own resources). The snapshot fails
 * with KUMO_EUNSUPPORTED when the instantiation called host functions,
 * because the state would then repeat what the host answered once (a
 * random seed, the time): such instances must be instantiated each time.
 * A failed restore leaves the instance unusable (free it).
 */
int kumo_cinstance_snapshot(kumo_cinstance *inst);
int kumo_cinstance_restore(kumo_cinstance *inst);

/* ---- pre-instantiation
 *
 * kumo_component_instantiate does two kinds of work: what depends only on
 * the component and the linker (resolving every import, checking its type
 * against the host's definitions, evaluating types, the plan of which
 * core modules, aliases, canonical functions and exports to make) and
 * what needs a store (core instances, lowered functions, handle tables,
 * start functions). A kumo_cpre does the first once; each
 * kumo_cpre_instantiate then does only the second, so instantiating again
 * and again (one instance per request) costs a fraction of
 * kumo_component_instantiate, which is kumo_cpre_new +
 * kumo_cpre_instantiate.
 */
typedef struct kumo_cpre kumo_cpre;

/*
 * Make the pre-instantiation of c against l (may be NULL when c imports
 * nothing). Fails, with the code and diag kumo_component_instantiate
 * would give, when an import is missing or mismatched or the component
 * uses an unsupported feature. c and l must outlive the pre and every
 * instance made from it; host functions and resource types are bound from
 * l (instances of one pre share l's host state). Resource types the
 * component defines are made once per pre: they are distinct from
 * those of other pres, but instances of one pre share them, so the host
 * must not pass a handle of one instance to another.
 */
int kumo_cpre_new(const kumo_component *c, kumo_clinker *l, kumo_cpre **out,
                  kumo_diag *diag);

/*
 * A new instance in s: core instances, lowered functions, handle tables,
 * start functions, in binary order. Returns as kumo_component_instantiate
 * (a core instance that cannot be made or a trap in a start function:
 * the code and diag). The instance may outlive kumo_cpre_free (it keeps
 * the pre's contents alive); s must outlive every call into it. Several
 * threads may instantiate one pre at once (each with its own store).
 */
int kumo_cpre_instantiate(kumo_cpre *p, kumo_store *s, kumo_cinstance **out,
                          kumo_diag *diag);

/* Drop the caller's reference: the pre is freed with the last instance
 * made from it (or now when none lives). NULL is allowed. */
void kumo_cpre_free(kumo_cpre *p);

/*
 * Find an exported function: "name" for a top-level function export,
 * "iface#func" for a function of an exported instance (e.g.
 * "wasi:cli/run@0.2.6#run"; the interface name matches by the version
 * rule). Returns 0 or KUMO_ENOTFOUND. The func lives as long as inst.
 */
int kumo_cinstance_func(kumo_cinstance *inst, const char *name,
                        kumo_cfunc **out);
/* Its type (kind KUMO_CV_FUNC): params via kumo_ctype_count/member/label,
 * result via kumo_ctype_result. */
const kumo_ctype *kumo_cfunc_type(const kumo_cfunc *f);

/*
 * Call f: lower args into the callee, run the core function, lift the
 * results into results[0 .. nresults) (the caller frees them with
 * kumo_cvals_free), then run post-return. nargs/nresults must match the
 * type (KUMO_EINVAL otherwise, also for args of the wrong kind). Returns
 * 0 or a trap code; the message (the Canonical ABI's, e.g. "invalid utf-8",
 * "unknown handle index 3", or the core trap's) is
 * kumo_cinstance_trap_message. Traps the ABI defines are returned as
 * KUMO_ETRAP_HOST with the ABI's message.
 */
int kumo_cfunc_call(kumo_cfunc *f, const kumo_cval *args, size_t nargs,
                    kumo_cval *results, size_t nresults);
/* kumo_cinstance_func then kumo_cfunc_call. */
int kumo_cinstance_call(kumo_cinstance *inst, const char *name,
                        const kumo_cval *args, size_t nargs,
                        kumo_cval *results, size_t nresults);
/* The message of the last trap of a call into inst (static text until
 * the next call). */
const char *kumo_cinstance_trap_message(const kumo_cinstance *inst);

/* Drop an own handle that a call returned to the host: runs the guest
 * destructor (or the host dtor). Returns 0 or a trap code. */
int kumo_cinstance_drop(kumo_cinstance *inst, const kumo_cval *own);

#ifdef __cplusplus
}
#endif
#endif
