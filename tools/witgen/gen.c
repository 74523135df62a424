/* gen.c - the WIT binding generator: for each function of the chosen
 * interfaces a typed C prototype that the host implements, C types for
 * the WIT types they use, and glue registering them with a kumo_clinker
 * (converting kumo_cval arguments and results; see src/component/bind.h
 * for the conventions).
 *
 * Naming (P = prefix, I = P_ns_pkg_iface with '-' as '_'):
 *   type T of I          I_T               (struct or typedef)
 *   enum/variant case C  UPPER(I_T)_C      (tag constants)
 *   flag F               UPPER(I_T)_F      (bit masks)
 *   option/result/list/tuple types   P_option_X, P_result_X_Y, ...
 *   function f           int I_f(kg_call *, params..., R *ret)
 *   method m of R        int I_method_R_m(kg_call *, I_R self, params...)
 *   static s of R        int I_static_R_s(kg_call *, params..., R *ret)
 *   constructor of R     int I_constructor_R(...)
 *   destructor of R      void I_R_drop(void *env, I_R self)
 * The generated text goes to memory streams first (types must precede
 * their users; the resource count is known only at the end). */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/base/base.h"
#include "gen.h"

typedef struct sbuf {
    FILE *f;
    char *text;
    size_t len;
} sbuf;

typedef struct gen {
    const wg_opts *o;
    sbuf types, protos, decls, bodies, ftab, rtab;
    char **pool; /* strings to free */
    uint32_t npool, poolcap;
    const void **done; /* typedefs emitted */
    uint32_t ndone, donecap;
    char **convs; /* conversion names emitted / C composite types */
    uint32_t nconvs, convcap;
    char **ctypes;
    uint32_t nctypes, ctypecap;
    const kw_typedef **res; /* resources by index */
    uint32_t nres, rescap;
    uint32_t nfuncs;
    int rc;
    char *err;
    size_t errcap;
} gen;

static void
fail(gen *g, int rc, const char *fmt, ...)
{
    va_list ap;
    if (g->rc)
        return;
    g->rc = rc;
    va_start(ap, fmt);
    vsnprintf(g->err, g->errcap, fmt, ap);
    va_end(ap);
}

static char *
sfmt(gen *g, const char *fmt, ...)
{
    static char empty[1];
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return empty;
    }
    if (kb_reserve((void **)&g->pool, &g->poolcap, g->npool + 1,
                   sizeof *g->pool)) {
        free(s);
        fail(g, KUMO_ENOMEM, "out of memory");
        return empty;
    }
    g->pool[g->npool++] = s;
    return s;
}

/* Add s to a set of strings; false if it was there. */
static bool
set_add(gen *g, char ***set, uint32_t *n, uint32_t *cap, const char *s)
{
    for (uint32_t i = 0; i < *n; i++)
        if (strcmp((*set)[i], s) == 0)
            return false;
    if (kb_reserve((void **)set, cap, *n + 1, sizeof **set)) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return false;
    }
    (*set)[(*n)++] = (char *)s;
    return true;
}

static bool
feature_on(const gen *g, const kw_gate *gate)
{
    if (!gate->unstable)
        return true;
    for (size_t i = 0; i < g->o->nfeatures; i++)
        if (strcmp(g->o->features[i], gate->unstable) == 0)
            return true;
    return false;
}

/* kebab-case -> snake_case */
static char *
ident(gen *g, const char *s)
{
    char *r = sfmt(g, "%s", s);
    for (char *p = r; *p; p++)
        if (*p == '-')
            *p = '_';
    return r;
}

/* ident for a standalone C name (field, parameter): C keywords and a few
 * macros get a trailing '_' */
static char *
member(gen *g, const char *s)
{
    static const char *const kw[] = {
        "auto",   "break",    "case",     "char",   "const",   "continue",
        "default", "do",      "double",   "else",   "enum",    "extern",
        "float",  "for",      "goto",     "if",     "inline",  "int",
        "long",   "register", "restrict", "return", "short",   "signed",
        "sizeof", "static",   "struct",   "switch", "typedef", "union",
        "unsigned", "void",   "volatile", "while",  "bool",    "true",
        "false",  "errno",    "stdin",    "stdout", "stderr",  "call",
        "ret",    "self",     NULL};
    char *r = ident(g, s);
    for (int i = 0; kw[i]; i++)
        if (strcmp(kw[i], r) == 0)
            return sfmt(g, "%s_", r);
    return r;
}

static char *
upper(gen *g, const char *s)
{
    char *r = sfmt(g, "%s", s);
    for (char *p = r; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return r;
}

static const char *
iface_c(gen *g, const kw_interface *i)
{
    if (!i->pkg)
        return sfmt(g, "%s_%s", g->o->prefix, ident(g, i->name));
    return sfmt(g, "%s_%s_%s_%s", g->o->prefix, ident(g, i->pkg->ns),
                ident(g, i->pkg->name), ident(g, i->name));
}

static const char *
def_c(gen *g, const kw_typedef *td)
{
    return sfmt(g, "%s_%s", iface_c(g, td->owner), ident(g, td->name));
}

static const char *const prim_c[] = {
    [KW_T_BOOL] = "bool",     [KW_T_S8] = "int8_t",    [KW_T_U8] = "uint8_t",
    [KW_T_S16] = "int16_t",   [KW_T_U16] = "uint16_t", [KW_T_S32] = "int32_t",
    [KW_T_U32] = "uint32_t",  [KW_T_S64] = "int64_t",  [KW_T_U64] = "uint64_t",
    [KW_T_F32] = "float",     [KW_T_F64] = "double",   [KW_T_CHAR] = "uint32_t",
    [KW_T_STRING] = "kg_string",
};
static const char *const prim_m[] = {
    [KW_T_BOOL] = "bool", [KW_T_S8] = "s8",     [KW_T_U8] = "u8",
    [KW_T_S16] = "s16",   [KW_T_U16] = "u16",   [KW_T_S32] = "s32",
    [KW_T_U32] = "u32",   [KW_T_S64] = "s64",   [KW_T_U64] = "u64",
    [KW_T_F32] = "f32",   [KW_T_F64] = "f64",   [KW_T_CHAR] = "char",
    [KW_T_STRING] = "string",
};
static const char *const prim_k[] = {
    [KW_T_BOOL] = "BOOL", [KW_T_S8] = "S8",   [KW_T_U8] = "U8",
    [KW_T_S16] = "S16",   [KW_T_U16] = "U16", [KW_T_S32] = "S32",
    [KW_T_U32] = "U32",   [KW_T_S64] = "S64", [KW_T_U64] = "U64",
    [KW_T_F32] = "F32",   [KW_T_F64] = "F64", [KW_T_CHAR] = "CHAR",
    [KW_T_STRING] = "STRING",
};

static bool
is_prim(kw_type_kind k)
{
    return k <= KW_T_STRING;
}

/* The definition behind a named/own/borrow type, aliases followed. */
static const kw_typedef *
named_def(const kw_type *t)
{
    const kw_typedef *d = t->def;
    while (d && d->kind == KW_D_ALIAS && d->alias &&
           (d->alias->kind == KW_T_NAMED || d->alias->kind == KW_T_OWN ||
            d->alias->kind == KW_T_BORROW))
        d = d->alias->def;
    return d;
}

/* The type with aliases of anonymous types followed. */
static const kw_type *
unalias(const kw_type *t)
{
    while (t && t->kind == KW_T_NAMED && t->def &&
           t->def->kind == KW_D_ALIAS && t->def->alias)
        t = t->def->alias;
    return t;
}

static bool
is_bytes(const kw_type *t)
{
    t = unalias(t);
    return t->kind == KW_T_LIST && !t->fixed_len &&
           unalias(t->elem)->kind == KW_T_U8;
}

static const char *ctype(gen *g, const kw_type *t);

/* The mangled name of a type (unique per structure, aliases followed). */
static const char *
mangle(gen *g, const kw_type *t)
{
    if (!t)
        return "void";
    t = unalias(t);
    if (is_prim(t->kind))
        return prim_m[t->kind];
    switch (t->kind) {
    case KW_T_LIST:
        return is_bytes(t) ? "bytes" : sfmt(g, "list_%s", mangle(g, t->elem));
    case KW_T_OPTION:
        return sfmt(g, "option_%s", mangle(g, t->elem));
    case KW_T_RESULT:
        return sfmt(g, "result_%s_%s", mangle(g, t->ok), mangle(g, t->err));
    case KW_T_TUPLE: {
        const char *s = sfmt(g, "tuple%u", t->nitems);
        for (uint32_t i = 0; i < t->nitems; i++)
            s = sfmt(g, "%s_%s", s, mangle(g, t->items[i]));
        return s;
    }
    case KW_T_NAMED:
    case KW_T_OWN:
    case KW_T_BORROW: {
        const kw_typedef *d = named_def(t);
        if (!d)
            break;
        return def_c(g, d) + strlen(g->o->prefix) + 1;
    }
    default:
        break;
    }
    fail(g, KUMO_EUNSUPPORTED, "%s:%u: unsupported type (%d)",
         t->pos.file ? t->pos.file : "?", t->pos.line, (int)t->kind);
    return "void";
}

static bool
mark_done(gen *g, const void *p)
{
    for (uint32_t i = 0; i < g->ndone; i++)
        if (g->done[i] == p)
            return false;
    if (kb_reserve((void **)&g->done, &g->donecap, g->ndone + 1,
                   sizeof *g->done)) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return false;
    }
    g->done[g->ndone++] = p;
    return true;
}

static uint32_t
res_index(gen *g, const kw_typedef *td)
{
    for (uint32_t i = 0; i < g->nres; i++)
        if (g->res[i] == td)
            return i;
    return UINT32_MAX;
}

static void
emit_resource(gen *g, const kw_typedef *td)
{
    const char *n = def_c(g, td);
    fprintf(g->types.f,
            "/* resource %s of %s (own and borrow handles: the rep) */\n"
            "typedef struct %s {\n    uint32_t rep;\n} %s;\n"
            "#define %s_RES_%s %u\n\n",
            td->name, td->owner->qname, n, n, upper(g, g->o->prefix),
            upper(g, n + strlen(g->o->prefix) + 1), g->nres);
    if (kb_reserve((void **)&g->res, &g->rescap, g->nres + 1, sizeof *g->res))
        fail(g, KUMO_ENOMEM, "out of memory");
    else
        g->res[g->nres++] = td;
    fprintf(g->protos.f, "void %s_drop(void *env, %s self);\n", n, n);
}

/* The case constants of a variant or enum. */
static void
tags(gen *g, FILE *f, const char *U, const kw_typedef *td)
{
    for (uint32_t i = 0; i < td->nfields; i++)
        fprintf(f, "#define %s_%s %uu\n", U,
                upper(g, ident(g, td->fields[i].name)), i);
    fprintf(f, "\n");
}

/* Emit the C declaration of a named definition (after its members). */
static void
emit_def(gen *g, const kw_typedef *td)
{
    if (!mark_done(g, td))
        return;
    const char *n = def_c(g, td), *U = upper(g, n);
    const char **mt = kb_calloc(td->nfields + 1, sizeof *mt);
    if (!mt) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < td->nfields; i++)
        if (td->fields[i].type && td->kind != KW_D_ENUM &&
            td->kind != KW_D_FLAGS)
            mt[i] = ctype(g, td->fields[i].type);
    FILE *f = g->types.f;
    switch (td->kind) {
    case KW_D_ALIAS:
        fprintf(f, "typedef %s %s;\n\n", ctype(g, td->alias), n);
        break;
    case KW_D_RECORD:
        fprintf(f, "typedef struct %s {\n", n);
        for (uint32_t i = 0; i < td->nfields; i++)
            fprintf(f, "    %s %s;\n", mt[i], member(g, td->fields[i].name));
        if (!td->nfields)
            fprintf(f, "    char unused;\n");
        fprintf(f, "} %s;\n\n", n);
        break;
    case KW_D_VARIANT: {
        bool any = false;
        fprintf(f, "typedef struct %s {\n    uint32_t tag;\n", n);
        for (uint32_t i = 0; i < td->nfields; i++)
            if (mt[i]) {
                fprintf(f, "%s %s %s;\n", any ? "       " : "    union {\n       ",
                        mt[i], member(g, td->fields[i].name));
                any = true;
            }
        fprintf(f, "%s} %s;\n", any ? "    } val;\n" : "", n);
        tags(g, f, U, td);
        break;
    }
    case KW_D_ENUM:
        fprintf(f, "typedef uint32_t %s;\n", n);
        tags(g, f, U, td);
        break;
    case KW_D_FLAGS:
        if (td->nfields > 32)
            fail(g, KUMO_EUNSUPPORTED, "flags %s: more than 32 labels",
                 td->name);
        fprintf(f, "typedef uint32_t %s;\n", n);
        for (uint32_t i = 0; i < td->nfields; i++)
            fprintf(f, "#define %s_%s (1u << %u)\n", U,
                    upper(g, ident(g, td->fields[i].name)), i);
        fprintf(f, "\n");
        break;
    case KW_D_RESOURCE:
        emit_resource(g, td);
        break;
    }
    kb_free(mt);
}

/* Declare an anonymous composite type (option/result/list/tuple). */
static const char *
composite(gen *g, const kw_type *t)
{
    const char *name = sfmt(g, "%s_%s", g->o->prefix, mangle(g, t));
    const char *a = NULL, *b = NULL;
    if (t->kind == KW_T_LIST || t->kind == KW_T_OPTION)
        a = ctype(g, t->elem);
    if (t->kind == KW_T_RESULT) {
        a = t->ok ? ctype(g, t->ok) : NULL;
        b = t->err ? ctype(g, t->err) : NULL;
    }
    const char **items = NULL;
    if (t->kind == KW_T_TUPLE) {
        items = kb_calloc(t->nitems + 1, sizeof *items);
        if (!items) {
            fail(g, KUMO_ENOMEM, "out of memory");
            return name;
        }
        for (uint32_t i = 0; i < t->nitems; i++)
            items[i] = ctype(g, t->items[i]);
    }
    if (!set_add(g, &g->ctypes, &g->nctypes, &g->ctypecap, name)) {
        kb_free(items);
        return name;
    }
    FILE *f = g->types.f;
    switch (t->kind) {
    case KW_T_LIST:
        fprintf(f, "typedef struct %s {\n    %s *ptr;\n    size_t len;\n} %s;\n\n",
                name, a, name);
        break;
    case KW_T_OPTION:
        fprintf(f, "typedef struct %s {\n    bool is_some;\n    %s val;\n} %s;\n\n",
                name, a, name);
        break;
    case KW_T_RESULT:
        fprintf(f, "typedef struct %s {\n    bool is_err;\n", name);
        if (a || b) {
            fprintf(f, "    union {\n");
            if (a)
                fprintf(f, "        %s ok;\n", a);
            if (b)
                fprintf(f, "        %s err;\n", b);
            fprintf(f, "    } val;\n");
        }
        fprintf(f, "} %s;\n\n", name);
        break;
    default: /* tuple */
        fprintf(f, "typedef struct %s {\n", name);
        for (uint32_t i = 0; i < t->nitems; i++)
            fprintf(f, "    %s f%u;\n", items[i], i);
        fprintf(f, "} %s;\n\n", name);
        break;
    }
    kb_free(items);
    return name;
}

/* The C type of t, declaring what it needs first. */
static const char *
ctype(gen *g, const kw_type *t)
{
    if (is_prim(t->kind))
        return prim_c[t->kind];
    switch (t->kind) {
    case KW_T_LIST:
        if (t->fixed_len)
            break;
        if (is_bytes(t))
            return "kg_bytes";
        return composite(g, t);
    case KW_T_OPTION:
    case KW_T_RESULT:
    case KW_T_TUPLE:
        return composite(g, t);
    case KW_T_NAMED:
    case KW_T_OWN:
    case KW_T_BORROW: {
        const kw_typedef *d = t->kind == KW_T_NAMED ? t->def : named_def(t);
        if (!d)
            break;
        emit_def(g, d);
        return def_c(g, d);
    }
    default:
        break;
    }
    fail(g, KUMO_EUNSUPPORTED, "%s:%u: unsupported type in bindings",
         t->pos.file ? t->pos.file : "?", t->pos.line);
    return "int";
}

/* ---- conversions between kumo_cval and the C types */

static const char *conv(gen *g, const kw_type *t);

static void
conv_prim(gen *g, FILE *f, kw_type_kind k, const char *ct, bool lift)
{
    static const char *const mem[] = {
        [KW_T_BOOL] = "b",  [KW_T_S8] = "s",  [KW_T_U8] = "u",
        [KW_T_S16] = "s",   [KW_T_U16] = "u", [KW_T_S32] = "s",
        [KW_T_U32] = "u",   [KW_T_S64] = "s", [KW_T_U64] = "u",
        [KW_T_F32] = "f32", [KW_T_F64] = "f64", [KW_T_CHAR] = "ch",
    };
    (void)g;
    if (k == KW_T_STRING && lift)
        fprintf(f, "    if (v->kind != KUMO_CV_STRING)\n        return -1;\n"
                   "    out->ptr = v->u.str.ptr ? v->u.str.ptr : \"\";\n"
                   "    out->len = v->u.str.len;\n    return 0;\n");
    else if (k == KW_T_STRING)
        fprintf(f, "    return kumo_cval_string(out, in->ptr ? in->ptr : \"\","
                   " in->ptr ? in->len : 0);\n");
    else if (lift)
        fprintf(f, "    if (v->kind != KUMO_CV_%s)\n        return -1;\n"
                   "    *out = (%s)v->u.%s;\n    return 0;\n",
                prim_k[k], ct, mem[k]);
    else
        fprintf(f, "    out->kind = KUMO_CV_%s;\n    out->u.%s = *in;\n"
                   "    return 0;\n",
                prim_k[k], mem[k]);
}

static void
conv_list(gen *g, FILE *f, const kw_type *t, bool lift)
{
    bool bytes = is_bytes(t);
    const char *et = bytes ? "uint8_t" : ctype(g, t->elem);
    const char *em = bytes ? NULL : conv(g, t->elem);
    if (lift) {
        fprintf(f, "    if (v->kind != KUMO_CV_LIST)\n        return -1;\n"
                   "    uint32_t n = v->u.items.n;\n"
                   "    %s *p = kg_call_alloc(c, (size_t)n * sizeof *p);\n"
                   "    if (!p)\n        return -1;\n"
                   "    for (uint32_t i = 0; i < n; i++) {\n",
                et);
        if (bytes)
            fprintf(f, "        if (v->u.items.items[i].kind != KUMO_CV_U8)\n"
                       "            return -1;\n"
                       "        p[i] = (uint8_t)v->u.items.items[i].u.u;\n");
        else
            fprintf(f, "        if (lift_%s(c, &v->u.items.items[i], &p[i]))\n"
                       "            return -1;\n",
                    em);
        fprintf(f, "    }\n    out->ptr = p;\n    out->len = n;\n    return 0;\n");
        return;
    }
    fprintf(f, "    if (in->len > UINT32_MAX)\n        return KUMO_ENOMEM;\n"
               "    int rc = kumo_cval_items(out, KUMO_CV_LIST, "
               "(uint32_t)in->len);\n"
               "    for (size_t i = 0; rc == 0 && i < in->len; i++) {\n");
    if (bytes)
        fprintf(f, "        out->u.items.items[i].kind = KUMO_CV_U8;\n"
                   "        out->u.items.items[i].u.u = in->ptr[i];\n");
    else
        fprintf(f, "        rc = lower_%s(c, &in->ptr[i], "
                   "&out->u.items.items[i]);\n",
                em);
    fprintf(f, "    }\n    return rc;\n");
}

static void
conv_option(gen *g, FILE *f, const kw_type *t, bool lift)
{
    const char *em = conv(g, t->elem);
    if (lift)
        fprintf(f, "    if (v->kind != KUMO_CV_OPTION || v->u.var.disc > 1)\n"
                   "        return -1;\n"
                   "    out->is_some = v->u.var.disc == 1;\n"
                   "    if (!out->is_some)\n        return 0;\n"
                   "    if (!v->u.var.payload)\n        return -1;\n"
                   "    return lift_%s(c, v->u.var.payload, &out->val);\n",
                em);
    else
        fprintf(f, "    int rc = kumo_cval_case(out, KUMO_CV_OPTION, "
                   "in->is_some, in->is_some);\n"
                   "    if (rc || !in->is_some)\n        return rc;\n"
                   "    return lower_%s(c, &in->val, out->u.var.payload);\n",
                em);
}

static void
conv_result(gen *g, FILE *f, const kw_type *t, bool lift)
{
    const char *om = t->ok ? conv(g, t->ok) : NULL;
    const char *xm = t->err ? conv(g, t->err) : NULL;
    if (lift) {
        fprintf(f, "    if (v->kind != KUMO_CV_RESULT || v->u.var.disc > 1)\n"
                   "        return -1;\n"
                   "    out->is_err = v->u.var.disc == 1;\n");
        if (om)
            fprintf(f, "    if (!out->is_err)\n        return v->u.var.payload "
                       "? lift_%s(c, v->u.var.payload, &out->val.ok) : -1;\n",
                    om);
        if (xm)
            fprintf(f, "    if (out->is_err)\n        return v->u.var.payload "
                       "? lift_%s(c, v->u.var.payload, &out->val.err) : -1;\n",
                    xm);
        fprintf(f, "    return 0;\n");
        return;
    }
    fprintf(f, "    bool has = in->is_err ? %s : %s;\n"
               "    int rc = kumo_cval_case(out, KUMO_CV_RESULT, in->is_err, "
               "has);\n    if (rc || !has)\n        return rc;\n",
            xm ? "true" : "false", om ? "true" : "false");
    if (om)
        fprintf(f, "    if (!in->is_err)\n        return lower_%s(c, "
                   "&in->val.ok, out->u.var.payload);\n",
                om);
    if (xm)
        fprintf(f, "    if (in->is_err)\n        return lower_%s(c, "
                   "&in->val.err, out->u.var.payload);\n",
                xm);
    fprintf(f, "    return 0;\n");
}

/* record (fields named) or tuple (f0, f1, ...) */
static void
conv_fields(gen *g, FILE *f, const char *kind, uint32_t n,
            const kw_type *const *types, const kw_field *fields, bool lift)
{
    const char **ms = kb_calloc(n + 1, sizeof *ms);
    if (!ms) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        ms[i] = conv(g, fields ? fields[i].type : types[i]);
    if (lift)
        fprintf(f, "    if (v->kind != KUMO_CV_%s || v->u.items.n != %u)\n"
                   "        return -1;\n",
                kind, n);
    else
        fprintf(f, "    int rc = kumo_cval_items(out, KUMO_CV_%s, %u);\n"
                   "    if (rc)\n        return rc;\n",
                kind, n);
    for (uint32_t i = 0; i < n; i++) {
        const char *fn = fields ? member(g, fields[i].name) : sfmt(g, "f%u", i);
        if (lift)
            fprintf(f, "    if (lift_%s(c, &v->u.items.items[%u], &out->%s))\n"
                       "        return -1;\n",
                    ms[i], i, fn);
        else
            fprintf(f, "    if ((rc = lower_%s(c, &in->%s, "
                       "&out->u.items.items[%u])))\n        return rc;\n",
                    ms[i], fn, i);
    }
    fprintf(f, "    return 0;\n");
    kb_free(ms);
}

static void
conv_variant(gen *g, FILE *f, const kw_typedef *td, bool lift)
{
    const char **ms = kb_calloc(td->nfields + 1, sizeof *ms);
    if (!ms) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < td->nfields; i++)
        if (td->fields[i].type)
            ms[i] = conv(g, td->fields[i].type);
    if (lift)
        fprintf(f, "    if (v->kind != KUMO_CV_VARIANT || v->u.var.disc >= %u)\n"
                   "        return -1;\n    out->tag = v->u.var.disc;\n"
                   "    switch (out->tag) {\n",
                td->nfields);
    else
        fprintf(f, "    int rc;\n    switch (in->tag) {\n");
    for (uint32_t i = 0; i < td->nfields; i++) {
        if (!ms[i])
            continue;
        const char *fn = member(g, td->fields[i].name);
        if (lift)
            fprintf(f, "    case %u:\n        return v->u.var.payload ? "
                       "lift_%s(c, v->u.var.payload, &out->val.%s) : -1;\n",
                    i, ms[i], fn);
        else
            fprintf(f, "    case %u:\n        if ((rc = kumo_cval_case(out, "
                       "KUMO_CV_VARIANT, %u, true)))\n            return rc;\n"
                       "        return lower_%s(c, &in->val.%s, "
                       "out->u.var.payload);\n",
                    i, i, ms[i], fn);
    }
    if (lift)
        fprintf(f, "    default:\n        return 0;\n    }\n");
    else
        fprintf(f, "    default:\n        (void)rc;\n        return "
                   "kumo_cval_case(out, KUMO_CV_VARIANT, in->tag, false);\n"
                   "    }\n");
    kb_free(ms);
}

static void
conv_def(gen *g, FILE *f, const kw_typedef *td, bool lift)
{
    uint32_t n = td->nfields;
    switch (td->kind) {
    case KW_D_RECORD:
        conv_fields(g, f, "RECORD", n, NULL, td->fields, lift);
        break;
    case KW_D_VARIANT:
        conv_variant(g, f, td, lift);
        break;
    case KW_D_ENUM:
        if (lift)
            fprintf(f, "    if (v->kind != KUMO_CV_ENUM || v->u.var.disc >= %u)"
                       "\n        return -1;\n    *out = v->u.var.disc;\n"
                       "    return 0;\n",
                    n);
        else
            fprintf(f, "    return kumo_cval_case(out, KUMO_CV_ENUM, *in, "
                       "false);\n");
        break;
    case KW_D_FLAGS:
        if (lift)
            fprintf(f, "    if (v->kind != KUMO_CV_FLAGS)\n        return -1;\n"
                       "    *out = v->u.flags.bits & 0x%xu;\n    return 0;\n",
                    n >= 32 ? 0xffffffffu : (1u << n) - 1);
        else
            fprintf(f, "    out->kind = KUMO_CV_FLAGS;\n"
                       "    out->u.flags.bits = *in;\n"
                       "    out->u.flags.n = %u;\n    return 0;\n",
                    n);
        break;
    case KW_D_RESOURCE: {
        uint32_t idx = res_index(g, td);
        if (lift)
            fprintf(f, "    if ((v->kind != KUMO_CV_OWN && v->kind != "
                       "KUMO_CV_BORROW) ||\n        v->u.handle.type != "
                       "c->res[%u])\n        return -1;\n"
                       "    out->rep = v->u.handle.rep;\n    return 0;\n",
                    idx);
        else
            fprintf(f, "    out->kind = KUMO_CV_OWN;\n"
                       "    out->u.handle.type = c->res[%u];\n"
                       "    out->u.handle.rep = in->rep;\n    return 0;\n",
                    idx);
        break;
    }
    default:
        break;
    }
}

/* Emit lift_M/lower_M for t (once); returns M. */
static const char *
conv(gen *g, const kw_type *t)
{
    const char *ct = ctype(g, t);
    const char *m = mangle(g, t);
    if (g->rc || !set_add(g, &g->convs, &g->nconvs, &g->convcap, m))
        return m;
    fprintf(g->decls.f,
            "KG_UNUSED static int lift_%s(kg_call *c, const kumo_cval *v, "
            "%s *out);\nKG_UNUSED static int lower_%s(kg_call *c, const %s "
            "*in, kumo_cval *out);\n",
            m, ct, m, ct);
    const kw_type *u = unalias(t);
    for (int lift = 1; lift >= 0; lift--) {
        /* members first: their emission must not interleave with ours */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) {
            fail(g, KUMO_ENOMEM, "out of memory");
            return m;
        }
        if (lift)
            fprintf(f, "static int\nlift_%s(kg_call *c, const kumo_cval *v, "
                       "%s *out)\n{\n    (void)c;\n",
                    m, ct);
        else
            fprintf(f, "static int\nlower_%s(kg_call *c, const %s *in, "
                       "kumo_cval *out)\n{\n    (void)c;\n",
                    m, ct);
        if (is_prim(u->kind)) {
            conv_prim(g, f, u->kind, ct, lift);
        } else if (u->kind == KW_T_LIST) {
            conv_list(g, f, u, lift);
        } else if (u->kind == KW_T_OPTION) {
            conv_option(g, f, u, lift);
        } else if (u->kind == KW_T_RESULT) {
            conv_result(g, f, u, lift);
        } else if (u->kind == KW_T_TUPLE) {
            conv_fields(g, f, "TUPLE", u->nitems,
                        (const kw_type *const *)u->items, NULL, lift);
        } else {
            conv_def(g, f, named_def(u), lift);
        }
        fprintf(f, "}\n\n");
        fclose(f);
        fwrite(text, 1, len, g->bodies.f);
        free(text);
    }
    return m;
}

/* ---- functions */

/* The kumo_chost_fn of one function: lift, call, lower. */
static void
emit_glue(gen *g, const kw_interface *iface, const char *bin, const char *cn,
          const kw_type **pt, uint32_t np, const kw_type *result)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fail(g, KUMO_ENOMEM, "out of memory");
        return;
    }
    fprintf(f, "static int\nglue_%u(kumo_ccall *cc, void *env, const "
               "kumo_ctype *type,\n        const kumo_cval *args, size_t "
               "nargs, kumo_cval *results,\n        size_t nresults)\n{\n"
               "    %s_bindings *b = env;\n    kg_call c;\n    int rc;\n",
            g->nfuncs, g->o->prefix);
    for (uint32_t i = 0; i < np; i++)
        fprintf(f, "    %s a%u;\n", ctype(g, pt[i]), i);
    if (result)
        fprintf(f, "    %s r;\n    memset(&r, 0, sizeof r);\n",
                ctype(g, result));
    fprintf(f, "    (void)type;\n    (void)args;\n    (void)results;\n"
               "    kg_call_init(&c, cc, b->env, b->res, \"%s#%s\");\n"
               "    if (nargs != %u || nresults != %u",
            iface->qname, bin, np, result ? 1 : 0);
    for (uint32_t i = 0; i < np; i++)
        fprintf(f, " ||\n        lift_%s(&c, &args[%u], &a%u)", conv(g, pt[i]),
                i, i);
    fprintf(f, ") {\n        rc = kg_call_badtype(&c);\n        goto done;\n"
               "    }\n    rc = %s(&c",
            cn);
    for (uint32_t i = 0; i < np; i++)
        fprintf(f, ", a%u", i);
    fprintf(f, "%s);\n", result ? ", &r" : "");
    if (result)
        fprintf(f, "    if (rc == 0 && lower_%s(&c, &r, &results[0])) {\n"
                   "        kumo_cval_free(&results[0]);\n"
                   "        rc = kg_call_trap(&c, \"out of memory\");\n    }\n",
                conv(g, result));
    fprintf(f, "done:\n    kg_call_fini(&c);\n    return rc;\n}\n\n");
    fclose(f);
    fwrite(text, 1, len, g->bodies.f);
    free(text);
    fprintf(g->ftab.f, "    {\"%s\", \"%s\", glue_%u},\n", iface->qname, bin,
            g->nfuncs);
    g->nfuncs++;
}


static void
gen_func(gen *g, const kw_interface *iface, const kw_func *fn)
{
    if (!feature_on(g, &fn->gate) ||
        (fn->resource && !feature_on(g, &fn->resource->gate)))
        return;
    if (fn->is_async) {
        fail(g, KUMO_EUNSUPPORTED, "%s: async functions are not supported",
             fn->name ? fn->name : "constructor");
        return;
    }
    const char *ic = iface_c(g, iface), *bin, *cn;
    const kw_typedef *r = fn->resource;
    kw_type self = {.kind = KW_T_BORROW, .def = (kw_typedef *)r};
    kw_type own = {.kind = KW_T_OWN, .def = (kw_typedef *)r};
    const kw_type *result = fn->result;
    if (r)
        emit_def(g, r);
    switch (fn->kind) {
    case KW_F_METHOD:
        bin = sfmt(g, "[method]%s.%s", r->name, fn->name);
        cn = sfmt(g, "%s_method_%s_%s", ic, ident(g, r->name),
                  ident(g, fn->name));
        break;
    case KW_F_STATIC:
        bin = sfmt(g, "[static]%s.%s", r->name, fn->name);
        cn = sfmt(g, "%s_static_%s_%s", ic, ident(g, r->name),
                  ident(g, fn->name));
        break;
    case KW_F_CONSTRUCTOR:
        bin = sfmt(g, "[constructor]%s", r->name);
        cn = sfmt(g, "%s_constructor_%s", ic, ident(g, r->name));
        if (!result)
            result = &own;
        break;
    default:
        bin = fn->name;
        cn = sfmt(g, "%s_%s", ic, ident(g, fn->name));
        break;
    }
    uint32_t np = fn->nparams + (fn->kind == KW_F_METHOD);
    const kw_type **pt = kb_calloc(np + 1, sizeof *pt);
    const char **pn = kb_calloc(np + 1, sizeof *pn);
    if (!pt || !pn) {
        kb_free(pt);
        kb_free(pn);
        fail(g, KUMO_ENOMEM, "out of memory");
        return;
    }
    uint32_t k = 0;
    if (fn->kind == KW_F_METHOD) {
        pt[k] = &self;
        pn[k++] = "self";
    }
    for (uint32_t i = 0; i < fn->nparams; i++) {
        pt[k] = fn->params[i].type;
        pn[k++] = member(g, fn->params[i].name);
    }
    /* the prototype */
    FILE *p = g->protos.f;
    fprintf(p, "/* %s#%s */\n", iface->qname, bin);
    fprintf(p, "int %s(kg_call *call", cn);
    for (uint32_t i = 0; i < np; i++)
        fprintf(p, ", %s %s", ctype(g, pt[i]), pn[i]);
    if (result)
        fprintf(p, ", %s *ret", ctype(g, result));
    fprintf(p, ");\n");
    emit_glue(g, iface, bin, cn, pt, np, result);
    kb_free(pt);
    kb_free(pn);
}

static void
gen_interface(gen *g, const kw_interface *iface)
{
    if (!feature_on(g, &iface->gate))
        return;
    for (uint32_t i = 0; i < iface->ntypes; i++)
        if (feature_on(g, &iface->types[i]->gate))
            emit_def(g, iface->types[i]);
    for (uint32_t i = 0; i < iface->nfuncs; i++)
        gen_func(g, iface, iface->funcs[i]);
    for (uint32_t i = 0; i < iface->ntypes; i++) {
        const kw_typedef *td = iface->types[i];
        if (td->kind == KW_D_RESOURCE)
            for (uint32_t j = 0; j < td->nfuncs; j++)
                gen_func(g, iface, td->funcs[j]);
    }
}

static void
gen_resource_entry(gen *g, const kw_typedef *td)
{
    uint32_t idx = res_index(g, td);
    const char *n = def_c(g, td);
    fprintf(g->bodies.f,
            "static void\ndtor_%u(void *env, uint32_t rep)\n{\n"
            "    %s_bindings *b = env;\n    %s self = {rep};\n"
            "    %s_drop(b->env, self);\n}\n\n",
            idx, g->o->prefix, n, n);
    fprintf(g->ftab.f, "%s", "");
    fprintf(g->rtab.f, "    {\"%s\", \"%s\", dtor_%u},\n", td->owner->qname,
            td->name, idx);
}

static void
sbuf_open(gen *g, sbuf *b)
{
    b->f = open_memstream(&b->text, &b->len);
    if (!b->f)
        fail(g, KUMO_ENOMEM, "out of memory");
}

static void
sbuf_close(sbuf *b)
{
    if (b->f)
        fclose(b->f);
    b->f = NULL;
}

static void
write_header(gen *g, kw_interface *const *ifaces, size_t n, FILE *h)
{
    const char *P = g->o->prefix, *UP = upper(g, P);
    fprintf(h, "/* Generated by tools/witgen from WIT: do not edit. */\n"
               "#ifndef %s_BIND_GENERATED_H\n#define %s_BIND_GENERATED_H\n\n"
               "#include <stdbool.h>\n#include <stddef.h>\n"
               "#include <stdint.h>\n\n#include \"%s\"\n\n",
            UP, UP,
            g->o->bind_include ? g->o->bind_include
                               : "component/bind.h");
    fwrite(g->types.text, 1, g->types.len, h);
    fprintf(h, "#define %s_NRESOURCES %u\n\n", UP, g->nres);
    fprintf(h,
            "/* The bindings of a linker: env is what the typed functions "
            "see as\n * call->env (and the drop functions as env); res is "
            "filled by %s_define. */\n"
            "typedef struct %s_bindings {\n    void *env;\n"
            "    kumo_cresource *res[%s_NRESOURCES + 1];\n} %s_bindings;\n\n",
            P, P, UP, P);
    fprintf(h, "/* Define every resource type and function with l; b (env set "
               "by the\n * caller) must live as long as l. Returns 0 or "
               "KUMO_ENOMEM. */\n"
               "int %s_define(kumo_clinker *l, %s_bindings *b);\n\n", P, P);
    fprintf(h, "/* The tables behind %s_define, and the interfaces. */\n"
               "extern const kg_func_binding %s_funcs[];\n"
               "extern const size_t %s_nfuncs;\n"
               "extern const kg_resource_binding %s_resources[];\n"
               "extern const char *const %s_interfaces[];\n"
               "extern const size_t %s_ninterfaces;\n\n",
            P, P, P, P, P, P);
    fprintf(h, "/* ---- implemented by the host */\n");
    fwrite(g->protos.text, 1, g->protos.len, h);
    (void)ifaces, (void)n;
    fprintf(h, "\n#endif\n");
}

static void
write_c(gen *g, kw_interface *const *ifaces, size_t n, FILE *c)
{
    const char *P = g->o->prefix;
    fprintf(c, "/* Generated by tools/witgen from WIT: do not edit. */\n"
               "#include <string.h>\n\n#include \"%s\"\n\n"
               "/* one conversion per type: a set may not use both ways */\n"
               "#define KG_UNUSED __attribute__((unused))\n\n",
            g->o->header_name);
    fwrite(g->decls.text, 1, g->decls.len, c);
    fprintf(c, "\n");
    fwrite(g->bodies.text, 1, g->bodies.len, c);
    fprintf(c, "const kg_func_binding %s_funcs[] = {\n", P);
    fwrite(g->ftab.text, 1, g->ftab.len, c);
    fprintf(c, "    {NULL, NULL, NULL},\n};\nconst size_t %s_nfuncs = %u;\n\n",
            P, g->nfuncs);
    fprintf(c, "const kg_resource_binding %s_resources[] = {\n", P);
    fwrite(g->rtab.text, 1, g->rtab.len, c);
    fprintf(c, "    {NULL, NULL, NULL},\n};\n\n");
    fprintf(c, "const char *const %s_interfaces[] = {\n", P);
    for (size_t i = 0; i < n; i++)
        fprintf(c, "    \"%s\",\n", ifaces[i]->qname);
    fprintf(c, "    NULL,\n};\nconst size_t %s_ninterfaces = %zu;\n\n", P, n);
    fprintf(c, "int\n%s_define(kumo_clinker *l, %s_bindings *b)\n{\n"
               "    return kg_define(l, %s_resources, %u, %s_funcs, %u, b, "
               "b->res);\n}\n",
            P, P, P, g->nres, P, g->nfuncs);
}

int
wg_generate(const kw_world_set *set, kw_interface *const *ifaces, size_t n,
            const wg_opts *o, FILE *h, FILE *c, char *err, size_t errcap)
{
    gen g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.err = err;
    g.errcap = errcap;
    (void)set;
    if (errcap)
        err[0] = 0;
    sbuf *bufs[] = {&g.types, &g.protos, &g.decls, &g.bodies, &g.ftab,
                    &g.rtab};
    for (size_t i = 0; i < 6; i++)
        sbuf_open(&g, bufs[i]);
    for (size_t i = 0; i < n && !g.rc; i++)
        gen_interface(&g, ifaces[i]);
    for (uint32_t i = 0; i < g.nres && !g.rc; i++)
        gen_resource_entry(&g, g.res[i]);
    for (size_t i = 0; i < 6; i++)
        sbuf_close(bufs[i]);
    if (!g.rc) {
        write_header(&g, ifaces, n, h);
        write_c(&g, ifaces, n, c);
    }
    for (size_t i = 0; i < 6; i++)
        free(bufs[i]->text);
    for (uint32_t i = 0; i < g.npool; i++)
        free(g.pool[i]);
    kb_free(g.pool);
    kb_free(g.done);
    kb_free(g.convs);
    kb_free(g.ctypes);
    kb_free(g.res);
    return g.rc;
}
