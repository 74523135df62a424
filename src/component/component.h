/* component.h - internal model of a decoded component: the definition tree,
 * the types, and the index spaces of every (nested) component and type
 * scope. Prefix kc_. All nodes live in one arena owned by kumo_component;
 * strings point into the component's copy of the binary. */
#ifndef KUMO_SRC_COMPONENT_H
#define KUMO_SRC_COMPONENT_H

#include "../base/base.h"
#include "kumo/component.h"

/* ---- arena (component.c). Blocks are freed all at once. */
typedef struct kc_arena_block kc_arena_block;
typedef struct kc_arena {
    kc_arena_block *head;
} kc_arena;

void *kc_alloc(kc_arena *a, size_t size); /* zeroed, 8-aligned; NULL=ENOMEM */
void kc_arena_free(kc_arena *a);
/* Grow an arena array to hold need elements (like kb_reserve). */
int kc_grow(kc_arena *a, void **items, uint32_t *cap, uint32_t need,
            size_t elem);

/* A string inside the binary (UTF-8, validated, not NUL-terminated). */
typedef struct kc_str {
    const char *s;
    uint32_t len;
} kc_str;

bool kc_str_eq(kc_str a, const char *lit);

/* Decode and validate a core module of a component, with the core features
 * components use (multiple memories). */
struct kumo_module;
int kc_core_module_new(const uint8_t *bytes, size_t len,
                       struct kumo_module **out, kumo_diag *diag);

/* ---- sorts; they double as index-space ids. */
typedef enum kc_sort {
    KC_CORE_FUNC,
    KC_CORE_TABLE,
    KC_CORE_MEMORY,
    KC_CORE_GLOBAL,
    KC_CORE_TAG,
    KC_CORE_TYPE,
    KC_CORE_MODULE,
    KC_CORE_INSTANCE,
    KC_FUNC,
    KC_VALUE,
    KC_TYPE,
    KC_COMPONENT,
    KC_INSTANCE,
    KC_NSORTS
} kc_sort;

const char *kc_sort_name(kc_sort s);

/* How an index-space entry came to be; ref indexes the matching array of
 * the scope (types, imports, exports, aliases, canons, ...). */
typedef enum kc_origin {
    KC_FROM_DEF,    /* a definition section: types[], core_types[],
                       modules[], components[], instances[],
                       core_instances[], values[] */
    KC_FROM_IMPORT, /* imports[ref] */
    KC_FROM_EXPORT, /* exports[ref] */
    KC_FROM_ALIAS,  /* aliases[ref] */
    KC_FROM_CANON,  /* canons[ref] */
    KC_FROM_START,  /* starts[ref] (a start result value) */
} kc_origin;

typedef struct kc_item {
    uint8_t origin; /* kc_origin */
    uint32_t ref;
} kc_item;

typedef struct kc_space {
    uint32_t n, cap;
    kc_item *items;
} kc_space;

/* ---- value types. prim != 0: a primitive (its binary code, 0x73..0x7f or
 * 0x64); prim == 0: idx into the type index space. */
enum {
    KC_BOOL = 0x7f,
    KC_S8 = 0x7e,
    KC_U8 = 0x7d,
    KC_S16 = 0x7c,
    KC_U16 = 0x7b,
    KC_S32 = 0x7a,
    KC_U32 = 0x79,
    KC_S64 = 0x78,
    KC_U64 = 0x77,
    KC_F32 = 0x76,
    KC_F64 = 0x75,
    KC_CHAR = 0x74,
    KC_STRING = 0x73,
    KC_ERROR_CONTEXT = 0x64,
};

typedef struct kc_valtype {
    uint8_t prim;
    uint32_t idx;
} kc_valtype;

const char *kc_prim_name(uint8_t prim); /* NULL if not a primitive code */

/* A label with an optional type: record fields, variant cases, params,
 * flags/enum labels (has_type false), tuple members (empty label). */
typedef struct kc_field {
    kc_str name;
    bool has_type;
    kc_valtype type;
} kc_field;

typedef enum kc_typekind {
    KC_T_PRIM,
    KC_T_RECORD,
    KC_T_VARIANT,
    KC_T_LIST,
    KC_T_FIXED_LIST,
    KC_T_TUPLE,
    KC_T_FLAGS,
    KC_T_ENUM,
    KC_T_OPTION,
    KC_T_RESULT,
    KC_T_OWN,
    KC_T_BORROW,
    KC_T_STREAM,
    KC_T_FUTURE,
    KC_T_MAP,
    KC_T_FUNC,
    KC_T_COMPONENT,
    KC_T_INSTANCE,
    KC_T_RESOURCE,
} kc_typekind;

typedef struct kc_body kc_body;

/* A component-level type definition. */
typedef struct kc_type {
    kc_typekind kind;
    size_t offset; /* where it starts in the binary */
    uint8_t prim;  /* KC_T_PRIM */
    uint32_t nfields;
    kc_field *fields; /* record, variant, tuple, flags, enum; func params */
    /* list/fixed-list/option/stream/future element (has_a), result ok (has_a)
     * and err (has_b), map key (a) and value (b), func result (has_a). */
    bool has_a, has_b;
    kc_valtype a, b;
    uint32_t len;    /* fixed-size list length */
    uint32_t handle; /* own/borrow: resource type index */
    bool async;      /* func: 0x43 async func */
    /* resource */
    uint8_t rep; /* core valtype of the representation */
    bool has_dtor;
    uint32_t dtor;
    kc_body *body; /* component/instance type declarators */
} kc_type;

/* ---- core types (core:type). Only function and module types are decoded;
 * GC rec/sub/struct/array types are reported as unsupported. */
typedef struct kc_core_valtype {
    uint8_t code; /* 0x7f i32 ... 0x70 funcref, 0x63/0x64 ref null?/ref */
    int64_t heap; /* for 0x63/0x64: heap type (s33) */
} kc_core_valtype;

/* A core extern type (core:externtype / importdesc). */
typedef struct kc_core_extern {
    uint8_t kind;        /* 0 func, 1 table, 2 memory, 3 global, 4 tag */
    uint32_t type;       /* func/tag: type index */
    kc_core_valtype val; /* table element / global type */
    bool mut;            /* global */
    uint8_t flags;       /* limits flags (0x01 max, 0x02 shared, 0x04 64-bit) */
    uint64_t min, max;
} kc_core_extern;

typedef struct kc_core_decl {
    uint8_t kind; /* 0 import, 1 type, 2 alias (outer type), 3 export */
    kc_str module, name;
    kc_core_extern ext;
    uint32_t type; /* kind 1: index in the module type's core_types */
    uint32_t outer_count, outer_index; /* kind 2 */
} kc_core_decl;

typedef struct kc_core_type {
    uint8_t kind; /* 0x60 func, 0x50 module */
    size_t offset;
    uint32_t nparams, nresults;
    kc_core_valtype *params, *results;
    uint32_t ndecls;
    kc_core_decl *decls;
    /* module types: their own core type space (types in decls) */
    uint32_t ntypes, cap_types;
    struct kc_core_type **types;
} kc_core_type;

/* ---- names of imports and exports */
typedef struct kc_name {
    kc_str name;
    uint8_t form;      /* 0x00, 0x01 or 0x02 */
    kc_str version;    /* versionsuffix attribute (form 0x02), else empty */
    kc_str implements; /* implements attribute (form 0x02), else empty */
    bool has_implements;
    kc_str external_id;
} kc_name;

/* An externtype: the kind is the kumo_component_sort numbering. */
typedef struct kc_extern {
    uint8_t kind;   /* kumo_component_sort */
    uint8_t bound;  /* type: 0 eq, 1 sub resource; value: 0 eq, 1 valtype */
    uint32_t idx;   /* type index (core type for modules; value for eq) */
    kc_valtype val; /* value bound 1 */
} kc_extern;

typedef struct kc_import {
    kc_name name;
    kc_extern ext;
    size_t offset;
} kc_import;

/* Component exports (name + sortidx + optional type) and export
 * declarators of types (no sortidx: has_sortidx false, has_ext true). */
typedef struct kc_export {
    kc_name name;
    bool has_sortidx;
    kc_sort sort;
    uint32_t idx;
    bool has_ext;
    kc_extern ext;
    size_t offset;
} kc_export;

/* ---- aliases */
typedef enum kc_alias_kind {
    KC_ALIAS_EXPORT,      /* instance export */
    KC_ALIAS_CORE_EXPORT, /* core instance export */
    KC_ALIAS_OUTER,
} kc_alias_kind;

typedef struct kc_alias {
    kc_sort sort;
    kc_alias_kind kind;
    uint32_t instance; /* export / core export */
    kc_str name;
    uint32_t outer_count; /* outer */
    uint32_t outer_index;
    size_t offset;
} kc_alias;

/* ---- instances */
typedef struct kc_arg { /* with-argument or inline export */
    kc_name name;
    kc_sort sort;
    uint32_t idx;
} kc_arg;

typedef struct kc_instance { /* core or component instance */
    bool from_exports;       /* false: instantiate */
    uint32_t target;         /* module / component index */
    uint32_t nargs;
    kc_arg *args; /* with-args or inline exports */
    size_t offset;
} kc_instance;

/* ---- canonical definitions: one table of every built-in. X(ENUM, opcode,
 * "name", shape). Opcodes marked legacy are from older drafts. */
typedef enum kc_canon_shape {
    KC_SH_LIFT,  /* 0x00 f opts ft */
    KC_SH_LOWER, /* 0x00 f opts */
    KC_SH_NONE,
    KC_SH_TYPE,        /* t */
    KC_SH_TYPE_OPTS,   /* t opts */
    KC_SH_TYPE_ASYNC,  /* t async? */
    KC_SH_OPTS,        /* opts */
    KC_SH_RESULT_OPTS, /* resultlist opts */
    KC_SH_CONTEXT,     /* core:valtype u32 */
    KC_SH_ASYNC,       /* async? */
    KC_SH_CANCEL,      /* cancel? */
    KC_SH_CANCEL_MEM,  /* cancel? memidx */
    KC_SH_CTYPE_TABLE, /* core typeidx tableidx */
    KC_SH_SH_CTYPE,    /* shared? core typeidx */
    KC_SH_SH_CTYPE_TABLE,
    KC_SH_SHARED, /* shared? */
} kc_canon_shape;

#define KC_CANON_OPS(X)                                                        \
    X(LIFT, 0x00, "lift", KC_SH_LIFT)                                          \
    X(LOWER, 0x01, "lower", KC_SH_LOWER)                                       \
    X(RESOURCE_NEW, 0x02, "resource.new", KC_SH_TYPE)                          \
    X(RESOURCE_DROP, 0x03, "resource.drop", KC_SH_TYPE)                        \
    X(RESOURCE_REP, 0x04, "resource.rep", KC_SH_TYPE)                          \
    X(TASK_CANCEL, 0x05, "task.cancel", KC_SH_NONE)                            \
    X(SUBTASK_CANCEL, 0x06, "subtask.cancel", KC_SH_ASYNC)                     \
    X(BACKPRESSURE_SET, 0x08, "backpressure.set", KC_SH_NONE)                  \
    X(TASK_RETURN, 0x09, "task.return", KC_SH_RESULT_OPTS)                     \
    X(CONTEXT_GET, 0x0a, "context.get", KC_SH_CONTEXT)                         \
    X(CONTEXT_SET, 0x0b, "context.set", KC_SH_CONTEXT)                         \
    X(THREAD_YIELD, 0x0c, "thread.yield", KC_SH_CANCEL)                        \
    X(SUBTASK_DROP, 0x0d, "subtask.drop", KC_SH_NONE)                          \
    X(STREAM_NEW, 0x0e, "stream.new", KC_SH_TYPE)                              \
    X(STREAM_READ, 0x0f, "stream.read", KC_SH_TYPE_OPTS)                       \
    X(STREAM_WRITE, 0x10, "stream.write", KC_SH_TYPE_OPTS)                     \
    X(STREAM_CANCEL_READ, 0x11, "stream.cancel-read", KC_SH_TYPE_ASYNC)        \
    X(STREAM_CANCEL_WRITE, 0x12, "stream.cancel-write", KC_SH_TYPE_ASYNC)      \
    X(STREAM_DROP_READABLE, 0x13, "stream.drop-readable", KC_SH_TYPE)          \
    X(STREAM_DROP_WRITABLE, 0x14, "stream.drop-writable", KC_SH_TYPE)          \
    X(FUTURE_NEW, 0x15, "future.new", KC_SH_TYPE)                              \
    X(FUTURE_READ, 0x16, "future.read", KC_SH_TYPE_OPTS)                       \
    X(FUTURE_WRITE, 0x17, "future.write", KC_SH_TYPE_OPTS)                     \
    X(FUTURE_CANCEL_READ, 0x18, "future.cancel-read", KC_SH_TYPE_ASYNC)        \
    X(FUTURE_CANCEL_WRITE, 0x19, "future.cancel-write", KC_SH_TYPE_ASYNC)      \
    X(FUTURE_DROP_READABLE, 0x1a, "future.drop-readable", KC_SH_TYPE)          \
    X(FUTURE_DROP_WRITABLE, 0x1b, "future.drop-writable", KC_SH_TYPE)          \
    X(ERROR_CONTEXT_NEW, 0x1c, "error-context.new", KC_SH_OPTS)                \
    X(ERROR_CONTEXT_DEBUG_MESSAGE, 0x1d, "error-context.debug-message",        \
      KC_SH_OPTS)                                                              \
    X(ERROR_CONTEXT_DROP, 0x1e, "error-context.drop", KC_SH_NONE)              \
    X(WAITABLE_SET_NEW, 0x1f, "waitable-set.new", KC_SH_NONE)                  \
    X(WAITABLE_SET_WAIT, 0x20, "waitable-set.wait", KC_SH_CANCEL_MEM)          \
    X(WAITABLE_SET_POLL, 0x21, "waitable-set.poll", KC_SH_CANCEL_MEM)          \
    X(WAITABLE_SET_DROP, 0x22, "waitable-set.drop", KC_SH_NONE)                \
    X(WAITABLE_JOIN, 0x23, "waitable.join", KC_SH_NONE)                        \
    X(BACKPRESSURE_INC, 0x24, "backpressure.inc", KC_SH_NONE)                  \
    X(BACKPRESSURE_DEC, 0x25, "backpressure.dec", KC_SH_NONE)                  \
    X(THREAD_INDEX, 0x26, "thread.index", KC_SH_NONE)                          \
    X(THREAD_NEW_INDIRECT, 0x27, "thread.new-indirect", KC_SH_CTYPE_TABLE)     \
    X(THREAD_RESUME_LATER, 0x28, "thread.resume-later", KC_SH_NONE)            \
    X(THREAD_SUSPEND, 0x29, "thread.suspend", KC_SH_CANCEL)                    \
    X(THREAD_SUSPEND_THEN_RESUME, 0x2a, "thread.suspend-then-resume",          \
      KC_SH_CANCEL)                                                            \
    X(THREAD_YIELD_THEN_RESUME, 0x2b, "thread.yield-then-resume",              \
      KC_SH_CANCEL)                                                            \
    X(THREAD_SUSPEND_THEN_PROMOTE, 0x2c, "thread.suspend-then-promote",        \
      KC_SH_CANCEL)                                                            \
    X(THREAD_YIELD_THEN_PROMOTE, 0x2d, "thread.yield-then-promote",            \
      KC_SH_CANCEL)                                                            \
    X(THREAD_SPAWN_REF, 0x40, "thread.spawn-ref", KC_SH_SH_CTYPE)              \
    X(THREAD_SPAWN_INDIRECT, 0x41, "thread.spawn-indirect",                    \
      KC_SH_SH_CTYPE_TABLE)                                                    \
    X(THREAD_AVAILABLE_PARALLELISM, 0x42, "thread.available-parallelism",      \
      KC_SH_SHARED)

typedef enum kc_canon_op {
#define KC_CANON_ENUM(e, code, name, shape) KC_CANON_##e,
    KC_CANON_OPS(KC_CANON_ENUM)
#undef KC_CANON_ENUM
        KC_CANON_COUNT
} kc_canon_op;

const char *kc_canon_name(kc_canon_op op);

enum { KC_UTF8, KC_UTF16, KC_LATIN1_UTF16 };

typedef struct kc_canonopts {
    uint8_t string_encoding; /* KC_UTF8 (default), KC_UTF16, ... */
    bool has_memory, has_realloc, has_post_return, async, has_callback;
    uint32_t memory, realloc, post_return, callback;
} kc_canonopts;

typedef struct kc_canon {
    kc_canon_op op;
    uint8_t opcode;
    uint32_t func;   /* lift: core func; lower: func */
    uint32_t type;   /* lift: func type; resource/stream/future: type;
                        thread.*: core type */
    uint32_t index;  /* context.*: slot; waitable-set.*: memory;
                        thread.*: table */
    uint8_t valtype; /* context.*: core valtype */
    bool async, cancellable, shared;
    bool has_result; /* task.return */
    kc_valtype result;
    kc_canonopts opts;
    size_t offset;
} kc_canon;

typedef struct kc_start {
    uint32_t func;
    uint32_t nargs;
    uint32_t *args;
    uint32_t nresults;
} kc_start;

typedef struct kc_range { /* a byte range of the binary */
    size_t offset, len;
} kc_range;

typedef struct kc_value { /* value section entry (not decoded further) */
    kc_valtype type;
    kc_range bytes; /* the encoded val(t) */
} kc_value;

/* Definitions in binary order (what instantiation walks). */
typedef enum kc_defkind {
    KC_DEF_CORE_MODULE,
    KC_DEF_CORE_INSTANCE,
    KC_DEF_CORE_TYPE,
    KC_DEF_COMPONENT,
    KC_DEF_INSTANCE,
    KC_DEF_ALIAS,
    KC_DEF_TYPE,
    KC_DEF_CANON,
    KC_DEF_START,
    KC_DEF_IMPORT,
    KC_DEF_EXPORT,
    KC_DEF_VALUE,
} kc_defkind;

typedef struct kc_def {
    uint8_t kind; /* kc_defkind */
    uint32_t ref; /* index into the matching array */
} kc_def;

typedef enum kc_bodykind {
    KC_BODY_COMPONENT,
    KC_BODY_COMPONENT_TYPE,
    KC_BODY_INSTANCE_TYPE,
} kc_bodykind;

#define KC_ARRAY(T, name)                                                      \
    uint32_t n##name, cap_##name;                                              \
    T *name

/* A component, or the declarators of a component/instance type: one scope
 * with its own index spaces. Type bodies only use core_types, types,
 * aliases, imports and exports (export declarators). */
struct kc_body {
    kc_bodykind kind;
    kc_body *parent;    /* enclosing scope (for outer aliases), or NULL */
    size_t offset, len; /* the body's bytes */
    kc_space spaces[KC_NSORTS];
    KC_ARRAY(kc_def, defs);
    KC_ARRAY(kc_range, modules);
    KC_ARRAY(kc_instance, core_instances);
    KC_ARRAY(kc_core_type *, core_types);
    KC_ARRAY(kc_body *, components);
    KC_ARRAY(kc_instance, instances);
    KC_ARRAY(kc_alias, aliases);
    KC_ARRAY(kc_type *, types);
    KC_ARRAY(kc_canon, canons);
    KC_ARRAY(kc_start, starts);
    KC_ARRAY(kc_import, imports);
    KC_ARRAY(kc_export, exports);
    KC_ARRAY(kc_value, values);
};

/* The core modules of a component, compiled once by validation and shared
 * (read-only) by every instantiation; keyed by their offset. */
typedef struct kc_modcache {
    uint32_t n, cap;
    size_t *offset;
    struct kumo_module **mod;
} kc_modcache;

struct kumo_component {
    kc_arena arena;
    uint8_t *bytes; /* owned copy */
    size_t len;
    kc_body *root;
    kc_modcache *mods; /* filled by kumo_component_validate */
};

/* The cached module at offset, or NULL. */
struct kumo_module *kc_modcache_get(const kumo_component *c, size_t offset);
/* Keep m (compiled from the module at offset) in the cache; on failure
 * (ENOMEM) the caller still owns m. */
int kc_modcache_put(const kumo_component *c, size_t offset,
                    struct kumo_module *m);

/* ---- decoding (decode.c, types.c) */
#define KC_MAX_DEPTH 64

typedef struct kc_decoder {
    kb_reader r;
    kc_arena *arena;
    kumo_diag *diag;
    unsigned depth;
} kc_decoder;

/* Push an entry onto space s of body b. */
int kc_push(kc_decoder *d, kc_body *b, kc_sort s, kc_origin o, uint32_t ref);
/* Append a definition record. */
int kc_add_def(kc_decoder *d, kc_body *b, kc_defkind k, uint32_t ref);
/* Report a malformed encoding at the reader's offset. */
int kc_error(kc_decoder *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Read a vector count, checked against the bytes left (each element takes
 * at least min_size bytes) so it can size an allocation. */
int kc_read_count(kc_decoder *d, uint32_t min_size, uint32_t *n);
int kc_read_str(kc_decoder *d, kc_str *out);
int kc_read_sort(kc_decoder *d, kc_sort *out);
int kc_read_name(kc_decoder *d, kc_name *out);
int kc_read_extern(kc_decoder *d, kc_extern *out);
int kc_read_alias(kc_decoder *d, kc_alias *out);

/* types.c */
int kc_read_valtype(kc_decoder *d, kc_valtype *out);
int kc_read_type(kc_decoder *d, kc_body *scope, kc_type **out);
int kc_read_core_type(kc_decoder *d, kc_core_type **out);
/* A body of declarators (component or instance type) after its opcode. */
int kc_read_decls(kc_decoder *d, kc_body *b);
int kc_read_core_valtype(kc_decoder *d, kc_core_valtype *out);

/* decode.c: decode the sections of a component body in [r.p, r.end). */
int kc_read_component(kc_decoder *d, kc_body *b);

/* Where an exported/imported item's space entry points: the sort of the
 * externtype kind (module -> KC_CORE_MODULE, ...). */
kc_sort kc_extern_sort(uint8_t kind);

#endif
