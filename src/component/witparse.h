/* witparse.h - the WIT (WebAssembly Interface Types text format) front end:
 * lexer (witlex.c), parser to an AST (witparse.c), loader and resolver
 * (witresolve.c) and a printer of normalized WIT (witprint.c). Prefix kw_.
 *
 * Everything a kw_world_set holds (packages, interfaces, worlds, types,
 * strings) lives in the set's arena and stays valid until kw_set_free.
 * Errors are negative KUMO_E* codes with a kumo_diag whose message reads
 * "FILE:LINE:COL: what went wrong" (offset = byte offset in that file):
 * KUMO_EMALFORMED for lexical and syntax errors, KUMO_EINVALID for name
 * resolution errors (unknown or duplicate names, cycles, misuse of handles),
 * KUMO_EIO for files that cannot be read, KUMO_ENOMEM. */
#ifndef KUMO_SRC_WITPARSE_H
#define KUMO_SRC_WITPARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kumo/base.h"

typedef struct kw_arena kw_arena;
typedef struct kw_type kw_type;
typedef struct kw_typedef kw_typedef;
typedef struct kw_func kw_func;
typedef struct kw_interface kw_interface;
typedef struct kw_world kw_world;
typedef struct kw_package kw_package;
typedef struct kw_file kw_file;
typedef struct kw_world_set kw_world_set;

/* A source position (line and column are 1-based; column counts bytes). */
typedef struct kw_pos {
    const char *file;
    uint32_t line, col;
    uint32_t offset;
} kw_pos;

/* Feature gates: @since(version = V[, feature = F]), @unstable(feature = F),
 * @deprecated(version = V), and the @external-id("...") annotation. Unset
 * fields are NULL. */
typedef struct kw_gate {
    const char *since;
    const char *since_feature;
    const char *unstable;
    const char *deprecated;
    const char *external_id;
} kw_gate;

/* ---- types */

typedef enum kw_type_kind {
    KW_T_BOOL,
    KW_T_S8,
    KW_T_U8,
    KW_T_S16,
    KW_T_U16,
    KW_T_S32,
    KW_T_U32,
    KW_T_S64,
    KW_T_U64,
    KW_T_F32,
    KW_T_F64,
    KW_T_CHAR,
    KW_T_STRING,
    KW_T_ERROR_CONTEXT,
    KW_T_LIST,   /* elem; fixed_len > 0 for list<T, N> */
    KW_T_OPTION, /* elem */
    KW_T_RESULT, /* ok and err, each possibly NULL (`_` or absent) */
    KW_T_TUPLE,  /* items */
    KW_T_MAP,    /* ok = key, err = value */
    KW_T_FUTURE, /* elem, possibly NULL */
    KW_T_STREAM, /* elem, possibly NULL */
    KW_T_BORROW, /* name (+ def after resolve: a resource) */
    KW_T_OWN,    /* name (+ def after resolve: a resource) */
    KW_T_NAMED   /* name (+ def after resolve); an owned handle when def
                    is a resource */
} kw_type_kind;

struct kw_type {
    kw_type_kind kind;
    kw_type *elem;
    kw_type *ok, *err;
    kw_type **items;
    uint32_t nitems;
    uint32_t fixed_len;
    const char *name; /* as written (after a `use ... as` rename) */
    kw_typedef *def;  /* resolved definition (never a `use`), or NULL */
    kw_pos pos;
};

typedef enum kw_def_kind {
    KW_D_ALIAS, /* type x = T */
    KW_D_RECORD,
    KW_D_VARIANT,
    KW_D_ENUM,
    KW_D_FLAGS,
    KW_D_RESOURCE
} kw_def_kind;

/* A record field, variant case (type may be NULL), enum case or flag
 * (type NULL), or function parameter. */
typedef struct kw_field {
    const char *name;
    kw_type *type;
    const char *docs;
    kw_pos pos;
} kw_field;

typedef enum kw_func_kind {
    KW_F_FREE,
    KW_F_METHOD, /* params do not list the implicit self: borrow<resource> */
    KW_F_STATIC,
    KW_F_CONSTRUCTOR /* result NULL means the implicit own<resource> */
} kw_func_kind;

struct kw_func {
    kw_func_kind kind;
    const char *name; /* NULL for constructors */
    bool is_async;
    kw_field *params;
    uint32_t nparams;
    kw_type *result; /* NULL: no result */
    kw_typedef *resource;
    const char *docs;
    kw_gate gate;
    kw_pos pos;
};

struct kw_typedef {
    kw_def_kind kind;
    const char *name;
    const char *docs;
    kw_gate gate;
    kw_pos pos;
    kw_interface *owner; /* interface or world scope that defines it */
    kw_world *world;     /* set when defined directly in a world */
    kw_type *alias;      /* KW_D_ALIAS */
    kw_field *fields;    /* record fields, variant/enum cases, flags */
    uint32_t nfields;
    kw_func **funcs; /* KW_D_RESOURCE: constructor, methods, statics */
    uint32_t nfuncs;
    uint8_t mark; /* resolver scratch */
};

/* One `use path.{a, b as c};` inside an interface or world. After resolve,
 * names[i].target is the definition named (following chains of uses). */
typedef struct kw_use_name {
    const char *name;
    const char *as; /* NULL without a rename */
    kw_typedef *target;
    kw_pos pos;
} kw_use_name;

/* An interface path as written: `name`, or `ns:pkg/name[@version]`. */
typedef struct kw_path {
    const char *ns, *pkg, *name, *version; /* ns/pkg/version NULL when local */
    kw_pos pos;
} kw_path;

typedef struct kw_use {
    kw_path path;
    kw_use_name *names;
    uint32_t nnames;
    kw_interface *from; /* resolved */
    kw_gate gate;
    const char *docs;
} kw_use;

struct kw_interface {
    const char *name;  /* NULL never; inline world interfaces use their
                          extern name */
    const char *qname; /* "wasi:io/streams@0.2.6" after resolve; for
                          inline interfaces "world.name" */
    kw_package *pkg;
    kw_world *inline_in; /* set for `import x: interface { ... }` */
    kw_file *file;       /* for top-level `use` of its file */
    const char *docs;
    kw_gate gate;
    kw_pos pos;
    kw_use **uses;
    uint32_t nuses;
    kw_typedef **types; /* defined here, in source order */
    uint32_t ntypes;
    kw_func **funcs; /* freestanding functions, in source order */
    uint32_t nfuncs;
    uint8_t mark; /* resolver scratch */
};

/* ---- worlds */

typedef enum kw_witem_kind {
    KW_W_IMPORT,
    KW_W_EXPORT,
    KW_W_INCLUDE,
} kw_witem_kind;

typedef enum kw_extern_kind {
    KW_X_PATH,     /* import wasi:io/streams@0.2.6;  or  import local; */
    KW_X_FUNC,     /* import name: func(...); */
    KW_X_INLINE,   /* import name: interface { ... } */
    KW_X_NAMEDPATH /* import name: wasi:keyvalue/store; */
} kw_extern_kind;

typedef struct kw_rename {
    const char *from, *to;
} kw_rename;

typedef struct kw_witem {
    kw_witem_kind kind;
    kw_extern_kind xkind; /* imports/exports */
    const char *name;     /* FUNC, INLINE, NAMEDPATH */
    kw_path path;         /* PATH, NAMEDPATH, INCLUDE */
    kw_func *func;        /* FUNC */
    kw_interface *iface;  /* INLINE; PATH/NAMEDPATH after resolve */
    kw_world *included;   /* INCLUDE after resolve */
    kw_rename *with;      /* INCLUDE ... with { a as b } */
    uint32_t nwith;
    const char *docs;
    kw_gate gate;
    kw_pos pos;
} kw_witem;

/* An import or export of an elaborated world (includes flattened). */
typedef struct kw_extern {
    const char *name;    /* plain name (FUNC/INLINE/NAMEDPATH) or qname */
    kw_interface *iface; /* NULL for functions */
    kw_func *func;
} kw_extern;

struct kw_world {
    const char *name;
    const char *qname; /* "wasi:cli/command@0.2.6" after resolve */
    kw_package *pkg;
    kw_file *file;
    const char *docs;
    kw_gate gate;
    kw_pos pos;
    kw_witem **items; /* imports, exports, includes in source order */
    uint32_t nitems;
    kw_interface *scope; /* the world's own `use`s and types (never NULL;
                            inline_in = this world, no functions) */
    /* After resolve: imports and exports with includes flattened and
     * interfaces deduplicated. Interfaces that imported interfaces `use`
     * are imported too (before their users). */
    kw_extern *imports;
    uint32_t nimports;
    kw_extern *exports;
    uint32_t nexports;
    uint8_t mark;
};

/* A top-level `use path [as name];` of one file. */
typedef struct kw_tuse {
    kw_path path;
    const char *as;
    kw_interface *iface; /* resolved */
} kw_tuse;

struct kw_file {
    const char *path;
    kw_package *pkg; /* the package its items belong to */
    kw_tuse *uses;
    uint32_t nuses;
};

struct kw_package {
    const char *ns, *name, *version; /* version may be NULL */
    const char *docs;
    kw_pos pos;
    kw_interface **ifaces;
    uint32_t nifaces;
    kw_world **worlds;
    uint32_t nworlds;
    bool resolved;
};

struct kw_world_set {
    kw_arena *arena;
    kw_package **pkgs;
    uint32_t npkgs;
    kw_file **files;
    uint32_t nfiles;
    uint32_t depth; /* nesting guard while resolving */
};

/* ---- API */

/* Create an empty set. Returns 0 or KUMO_ENOMEM. */
int kw_set_new(kw_world_set **out);
void kw_set_free(kw_world_set *set);

/* Parse one WIT source text (any bytes; not NUL-terminated) as a package
 * unit and add its package(s) to the set. name is used in diagnostics.
 * The file must declare its package unless pkg_hint is given (the unit of
 * a directory). Packages already in the set are kept, later duplicates
 * are dropped. Does not resolve. */
int kw_parse(kw_world_set *set, const char *name, const char *src, size_t len,
             kumo_diag *d);

/* Add a package directory: all *.wit files in dir form one package, and
 * each entry of dir/deps/ (a directory of .wit files or a single .wit
 * file) adds a dependency package. A path to a single .wit file works
 * too. Does not resolve. */
int kw_add_path(kw_world_set *set, const char *path, kumo_diag *d);

/* Resolve every package in the set: `use`s, type references, world
 * includes, qualified names, checks. Idempotent. */
int kw_resolve(kw_world_set *set, kumo_diag *d);

/* kw_set_new + kw_add_path + kw_resolve; *out is NULL on failure. */
int kw_load_dir(kw_world_set **out, const char *dir, kumo_diag *d);

/* Lookups by qualified name ("wasi:io/streams@0.2.6"; the version may be
 * omitted when only one version of the package is loaded). NULL if none. */
kw_package *kw_find_package(const kw_world_set *set, const char *ns,
                            const char *name, const char *version);
kw_interface *kw_find_interface(const kw_world_set *set, const char *qname);
kw_world *kw_find_world(const kw_world_set *set, const char *qname);
kw_typedef *kw_find_type(const kw_interface *iface, const char *name);
kw_func *kw_find_func(const kw_interface *iface, const char *name);
/* A method, static function or (name NULL) the constructor of a resource. */
kw_func *kw_find_method(const kw_typedef *resource, const char *name);

/* Follow aliases (`type a = b;`) to the underlying type. */
const kw_type *kw_type_unalias(const kw_type *t);

/* Printer: normalized WIT (uses, then types, then functions; docs and
 * gates kept). Printing a parsed package and parsing the output again
 * gives the same AST. */
void kw_print_type(FILE *f, const kw_type *t);
void kw_print_interface(FILE *f, const kw_interface *iface);
void kw_print_world(FILE *f, const kw_world *w);
void kw_print_package(FILE *f, const kw_package *p);

/* ---- internal to the kw_ files */

struct kw_arena {
    struct kw_chunk *head;
};
void *kw_alloc(kw_arena *a, size_t size); /* zeroed, NULL on OOM */
void kw_arena_free(kw_arena *a);
char *kw_strndup(kw_arena *a, const char *s, size_t n);
/* Append a zeroed element to an arena array (*items, *n); NULL on OOM. */
void *kw_push(kw_arena *a, void *items_ptr, uint32_t *n, size_t elem);
int kw_push_ptr(kw_arena *a, void *items_ptr, uint32_t *n, void *p);

typedef enum kw_tok_kind {
    KW_TK_EOF,
    KW_TK_ID,      /* text without a leading % */
    KW_TK_KEYWORD, /* kw set */
    KW_TK_INT,
    KW_TK_VERSION,
    KW_TK_STRING, /* text is the decoded value */
    KW_TK_PUNCT   /* text[0]: one of = , : ; ( ) { } < > * / . @ _ and
                     '-' for "->" */
} kw_tok_kind;

typedef struct kw_token {
    kw_tok_kind kind;
    int kw;           /* KW_K_* for keywords */
    const char *text; /* arena string */
    const char *docs; /* doc comments before the token, or NULL */
    kw_pos pos;
} kw_token;

#define KW_KEYWORDS(X)                                                         \
    X(AS, "as")                                                                \
    X(ASYNC, "async")                                                          \
    X(BOOL, "bool") X(BORROW, "borrow") X(CHAR, "char")                        \
        X(CONSTRUCTOR, "constructor") X(ENUM, "enum") X(                       \
            ERROR_CONTEXT, "error-context") X(EXPORT, "export") X(F32, "f32")  \
            X(F64, "f64") X(FLAGS, "flags") X(FROM, "from") X(FUNC, "func")    \
                X(FUTURE, "future") X(IMPORT, "import") X(INCLUDE, "include")  \
                    X(INTERFACE, "interface") X(LIST, "list") X(MAP, "map") X( \
                        OPTION, "option") X(OWN, "own") X(PACKAGE, "package")  \
                        X(RECORD, "record") X(RESOURCE, "resource")            \
                            X(RESULT, "result") X(S16, "s16") X(S32, "s32")    \
                                X(S64, "s64") X(S8, "s8") X(STATIC, "static")  \
                                    X(STREAM, "stream") X(STRING, "string")    \
                                        X(TUPLE, "tuple") X(TYPE, "type")      \
                                            X(U16, "u16") X(U32, "u32")        \
                                                X(U64, "u64") X(U8, "u8")      \
                                                    X(USE, "use") X(VARIANT,   \
                                                                    "variant") \
                                                        X(WITH, "with")        \
                                                            X(WORLD, "world")

enum {
    KW_K_NONE,
#define KW_K_ENUM(n, s) KW_K_##n,
    KW_KEYWORDS(KW_K_ENUM)
#undef KW_K_ENUM
};

/* The keyword spelled s, or KW_K_NONE. */
int kw_keyword(const char *s, size_t n);
const char *kw_keyword_name(int kw);

/* Tokenize src into *toks (arena array ending in KW_TK_EOF). */
int kw_lex(kw_arena *a, const char *file, const char *src, size_t len,
           kw_token **toks, uint32_t *ntoks, kumo_diag *d);

/* Report "FILE:LINE:COL: message" into d; returns code. */
int kw_error(kumo_diag *d, int code, const kw_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Is s a valid WIT identifier (kebab-case words)? */
bool kw_valid_id(const char *s);

/* Parse src into the set as one unit whose package is *unit (created on
 * first declaration; NULL on entry for a fresh unit). Used by the loader to
 * put a directory's files into one package. */
int kw_parse_unit(kw_world_set *set, kw_package **unit, const char *name,
                  const char *src, size_t len, kumo_diag *d);
/* Add a finished unit's package to the set (error if it has items but no
 * package name; dropped if a package of that name is already there). */
int kw_finish_unit(kw_world_set *set, kw_package *unit, const char *name,
                   kumo_diag *d);

#endif
