/* module.h - the decoded module: what decode.c fills, validate.c and
 * compile.c check and translate, instance.c instantiates. Prefix ke_. */
#ifndef KUMO_SRC_ENGINE_MODULE_H
#define KUMO_SRC_ENGINE_MODULE_H

#include "../base/base.h"
#include "kumo/engine.h"

#define KE_NONE UINT32_MAX

/* Binary opcodes of value/reference types (as kumo_valtype). */
typedef uint8_t ke_valtype;

typedef struct ke_functype {
    uint32_t nparams, nresults;
    ke_valtype *types; /* nparams params then nresults results (owned) */
} ke_functype;

/* A byte range of the module's own copy of the binary. */
typedef struct ke_range {
    uint32_t off, len;
} ke_range;

typedef struct ke_limits {
    uint64_t min, max;
    bool has_max;
} ke_limits;

typedef struct ke_tabletype {
    ke_valtype elem;   /* KUMO_FUNCREF or KUMO_EXTERNREF */
    ke_limits limits;
} ke_tabletype;

typedef struct ke_memtype {
    ke_limits limits;  /* in 64 KiB pages */
} ke_memtype;

typedef struct ke_globaltype {
    ke_valtype type;
    bool mutable_;
} ke_globaltype;

/* A constant expression: the bytes of its instructions including the
 * final `end` (0x0b), inside module->bytes. */
typedef ke_range ke_expr;

typedef struct ke_import {
    ke_range module, name; /* UTF-8 validated */
    kumo_externkind kind;
    uint32_t index;        /* index in the kind's index space */
    union {
        uint32_t type_index;   /* FUNC */
        ke_tabletype table;    /* TABLE */
        ke_memtype mem;        /* MEMORY */
        ke_globaltype global;  /* GLOBAL */
        uint32_t tag_type;     /* TAG: type index */
    } u;
} ke_import;

typedef struct ke_export {
    ke_range name;
    kumo_externkind kind;
    uint32_t index;
} ke_export;

typedef struct ke_global {
    ke_globaltype type;
    ke_expr init; /* {0,0} for imported globals */
} ke_global;

typedef enum ke_segmode {
    KE_SEG_ACTIVE,
    KE_SEG_PASSIVE,
    KE_SEG_DECLARATIVE,
} ke_segmode;

/* An element item: a function index (encodings 0-3) or an expression
 * (encodings 4-7). */
typedef struct ke_elemitem {
    bool is_expr;
    uint32_t func_index; /* when !is_expr */
    ke_expr expr;        /* when is_expr */
} ke_elemitem;

typedef struct ke_elem {
    ke_segmode mode;
    uint32_t table;      /* active */
    ke_expr offset;      /* active */
    ke_valtype type;     /* KUMO_FUNCREF or KUMO_EXTERNREF */
    uint32_t nitems;
    ke_elemitem *items;  /* owned */
    uint32_t at;         /* byte offset of the segment, for diagnostics */
} ke_elem;

typedef struct ke_data {
    ke_segmode mode;     /* ACTIVE or PASSIVE */
    uint32_t mem;        /* active */
    ke_expr offset;      /* active */
    ke_range init;       /* the bytes */
} ke_data;

struct ke_code; /* compiled function, code.h */

/* A function defined by the module (not imported). */
typedef struct ke_funcbody {
    ke_range body;        /* locals declarations + instructions + end */
    /* Deepest nesting of legacy `try` blocks (scan.c): each gets a hidden
     * slot after the locals for the exception its catch clauses caught
     * (rethrow reads it). */
    uint32_t max_try;
    ke_range expr;        /* instructions only (after the locals) */
    uint32_t nlocals;     /* declared locals, not counting params */
    ke_valtype *locals;   /* nlocals types, expanded (owned) */
    struct ke_code *code; /* filled by compile.c (owned) */
} ke_funcbody;

struct kumo_module {
    kumo_features features;
    uint8_t *bytes; /* owned copy of the binary; ranges index into it */
    size_t size;

    uint32_t ntypes;
    ke_functype *types;
    /* The same types as kumo_valtype (an enum, so not layout-compatible
     * with ke_valtype): ntypes arrays of params then results, built by
     * decode.c for the public API (kumo_externdesc). Owned. */
    kumo_valtype **ktypes;

    uint32_t nimports;
    ke_import *imports;

    /* Index spaces: imports first, then definitions. */
    uint32_t nfuncs, nimported_funcs;
    uint32_t *func_types; /* nfuncs type indices */
    uint32_t ntables, nimported_tables;
    ke_tabletype *tables;
    uint32_t nmems, nimported_mems;
    ke_memtype *mems;
    uint32_t nglobals, nimported_globals;
    ke_global *globals;
    uint32_t ntags, nimported_tags; /* exception handling */
    uint32_t *tag_types;            /* ntags type indices */

    uint32_t nexports;
    ke_export *exports;

    uint32_t start; /* KE_NONE when absent */

    uint32_t nelems;
    ke_elem *elems;

    bool has_datacount;
    uint32_t datacount;
    uint32_t ndatas;
    ke_data *datas;

    ke_funcbody *bodies; /* nfuncs - nimported_funcs */

    /* Functions referenced outside function bodies (element segments,
     * exports, global initialisers): ref.func in a body may only name
     * these. Filled by decode.c; nfuncs bools. */
    bool *func_declared;

    /* From the `name` custom section (optional, never an error). */
    char **func_names; /* nfuncs entries or NULL; each NUL-terminated */

    /* exn.c: whether any body has exception handlers, and then the
     * compiled code of every defined function sorted by address (to find
     * the code of a frame from its instruction pointer while unwinding). */
    bool has_handlers;
    struct ke_code **code_index;
    uint32_t ncode_index;

    /* memory.c: memory 0's initial image, built on first instantiation
     * (ke_image_get) and set once with an atomic compare-and-swap, so a
     * module shared by several threads stays safe; NULL until then. Freed
     * by ke_module_free through ke_image_free. */
    struct ke_image *image;
};

/* decode.c: parse the binary into m (m zeroed by the caller, m->bytes and
 * m->size set). Every malformed input is reported with the spec's message
 * and the offset. Does not validate types (validate.c does). */
int ke_decode(kumo_module *m, kumo_diag *diag);

/* validate.c: module-level validation (everything except function bodies):
 * limits, const expressions, segments, exports, start. */
int ke_validate_module(const kumo_module *m, kumo_diag *diag);

/* compile.c: validate one function body and translate it to internal code
 * (code.h). fidx is the function index (imports included). */
int ke_compile_func(kumo_module *m, uint32_t fidx, kumo_diag *diag);

/* compile.c: check only the syntax of function fidx's body (instruction
 * encodings, else/end nesting, data count required). ke_compile_func does
 * it too; calling it on every body before validating anything reports a
 * malformed body ahead of an invalid earlier one, as the spec does. */
int ke_scan_func(const kumo_module *m, uint32_t fidx, kumo_diag *diag);

/* exn.c: build m->code_index when m->has_handlers (after compiling). */
int ke_code_index_build(kumo_module *m);

/* Free everything m owns (safe on a partly filled module) and m itself. */
void ke_module_free(kumo_module *m);

/* memory.c: free a module's memory image (NULL and the "none" marker are
 * fine). */
struct ke_image;
void ke_image_free(struct ke_image *img);

/* Type of function index i. */
static inline const ke_functype *
ke_func_type(const kumo_module *m, uint32_t fidx)
{
    return &m->types[m->func_types[fidx]];
}

bool ke_functype_equal(const ke_functype *a, const ke_functype *b);

#endif
