/* witparse.c - WIT parser: a recursive-descent parser over the token array
 * of witlex.c producing the AST of witparse.h (packages, interfaces,
 * worlds, type definitions, functions, gates, docs). Names are not
 * resolved here (witresolve.c does that). */
#include "witparse.h"
#include "../base/base.h"

#define MAX_TYPE_DEPTH 64

typedef struct parser {
    kw_world_set *set;
    kw_arena *a;
    kw_token *t;
    uint32_t n, i;
    kumo_diag *d;
    kw_file *file;
} parser;

#define TRY(x)                                                                 \
    do {                                                                       \
        int rc_ = (x);                                                         \
        if (rc_)                                                               \
            return rc_;                                                        \
    } while (0)

#define NEW(P, T) ((T *)kw_alloc((P)->a, sizeof(T)))

static kw_token *
peek(parser *P, uint32_t k)
{
    uint32_t j = P->i + k;
    return &P->t[j < P->n ? j : P->n - 1];
}

static kw_token *
next(parser *P)
{
    kw_token *t = peek(P, 0);
    if (P->i < P->n - 1)
        P->i++;
    return t;
}

static bool
is_punct(const kw_token *t, const char *p)
{
    return t->kind == KW_TK_PUNCT && strcmp(t->text, p) == 0;
}

static bool
is_kw(const kw_token *t, int kw)
{
    return t->kind == KW_TK_KEYWORD && t->kw == kw;
}

static bool
at_punct(parser *P, const char *p)
{
    return is_punct(peek(P, 0), p);
}

static bool
eat_punct(parser *P, const char *p)
{
    if (!at_punct(P, p))
        return false;
    next(P);
    return true;
}

static void
describe(const kw_token *t, char *buf, size_t n)
{
    switch (t->kind) {
    case KW_TK_EOF:
        snprintf(buf, n, "end of file");
        break;
    case KW_TK_ID:
        snprintf(buf, n, "identifier `%.40s`", t->text);
        break;
    case KW_TK_KEYWORD:
        snprintf(buf, n, "keyword `%s`", t->text);
        break;
    case KW_TK_INT:
        snprintf(buf, n, "integer `%.20s`", t->text);
        break;
    case KW_TK_VERSION:
        snprintf(buf, n, "version `%.40s`", t->text);
        break;
    case KW_TK_STRING:
        snprintf(buf, n, "a string literal");
        break;
    case KW_TK_PUNCT:
        snprintf(buf, n, "`%s`", t->text);
        break;
    }
}

static int
unexpected(parser *P, const char *what)
{
    char buf[64];
    kw_token *t = peek(P, 0);
    describe(t, buf, sizeof buf);
    return kw_error(P->d, KUMO_EMALFORMED, &t->pos, "expected %s, found %s",
                    what, buf);
}

static int
expect_punct(parser *P, const char *p)
{
    if (eat_punct(P, p))
        return 0;
    char what[16];
    snprintf(what, sizeof what, "`%s`", p);
    return unexpected(P, what);
}

static int
expect_kw(parser *P, int kw)
{
    if (is_kw(peek(P, 0), kw)) {
        next(P);
        return 0;
    }
    char what[32];
    snprintf(what, sizeof what, "`%s`", kw_keyword_name(kw));
    return unexpected(P, what);
}

static int
parse_id(parser *P, const char **name, kw_pos *pos)
{
    kw_token *t = peek(P, 0);
    if (t->kind != KW_TK_ID) {
        if (t->kind == KW_TK_KEYWORD) {
            return kw_error(P->d, KUMO_EMALFORMED, &t->pos,
                            "expected an identifier, found keyword `%s` "
                            "(write `%%%s` to use it as a name)",
                            t->text, t->text);
        }
        return unexpected(P, "an identifier");
    }
    next(P);
    *name = t->text;
    if (pos)
        *pos = t->pos;
    return 0;
}

static int
parse_version(parser *P, const char **out)
{
    kw_token *t = peek(P, 0);
    if (t->kind != KW_TK_VERSION)
        return unexpected(P, "a semver version");
    next(P);
    *out = t->text;
    return 0;
}

/* ---- gates: @since(version = V[, feature = f]) @unstable(feature = f)
 * @deprecated(version = V) @external-id("...") */

static int
gate_field(parser *P, const char *field, const char **out)
{
    const char *name;
    kw_pos pos;
    TRY(parse_id(P, &name, &pos));
    if (strcmp(name, field) != 0)
        return kw_error(P->d, KUMO_EMALFORMED, &pos,
                        "expected `%s`, found `%s`", field, name);
    TRY(expect_punct(P, "="));
    if (strcmp(field, "version") == 0)
        return parse_version(P, out);
    return parse_id(P, out, NULL);
}

static int
parse_gate1(parser *P, kw_gate *g)
{
    const char *name;
    kw_pos pos;
    const char **slot;
    next(P); /* @ */
    TRY(parse_id(P, &name, &pos));
    TRY(expect_punct(P, "("));
    if (strcmp(name, "since") == 0) {
        slot = &g->since;
    } else if (strcmp(name, "unstable") == 0) {
        slot = &g->unstable;
    } else if (strcmp(name, "deprecated") == 0) {
        slot = &g->deprecated;
    } else if (strcmp(name, "external-id") == 0) {
        slot = &g->external_id;
    } else {
        return kw_error(P->d, KUMO_EMALFORMED, &pos,
                        "unknown annotation `@%s` (expected @since, "
                        "@unstable, @deprecated or @external-id)",
                        name);
    }
    if (*slot)
        return kw_error(P->d, KUMO_EMALFORMED, &pos, "duplicate `@%s`", name);
    if (slot == &g->external_id) {
        kw_token *t = peek(P, 0);
        if (t->kind != KW_TK_STRING)
            return unexpected(P, "a string literal");
        next(P);
        *slot = t->text;
    } else if (slot == &g->unstable) {
        TRY(gate_field(P, "feature", slot));
    } else {
        TRY(gate_field(P, "version", slot));
        if (slot == &g->since && eat_punct(P, ","))
            TRY(gate_field(P, "feature", &g->since_feature));
    }
    TRY(expect_punct(P, ")"));
    if (g->since && g->unstable)
        return kw_error(P->d, KUMO_EMALFORMED, &pos,
                        "an item cannot be both `@since` and `@unstable`");
    return 0;
}

static int
parse_gates(parser *P, kw_gate *g)
{
    memset(g, 0, sizeof *g);
    while (at_punct(P, "@"))
        TRY(parse_gate1(P, g));
    return 0;
}

/* ---- types */

static int parse_type(parser *P, kw_type **out, unsigned depth);

static kw_type *
new_type(parser *P, kw_type_kind k, const kw_pos *pos)
{
    kw_type *t = NEW(P, kw_type);
    if (t) {
        t->kind = k;
        t->pos = *pos;
    }
    return t;
}

static int
angle_type(parser *P, kw_type **out, unsigned depth)
{
    TRY(expect_punct(P, "<"));
    TRY(parse_type(P, out, depth + 1));
    return 0;
}

static int
parse_handle(parser *P, kw_type *t)
{
    TRY(expect_punct(P, "<"));
    TRY(parse_id(P, &t->name, NULL));
    return expect_punct(P, ">");
}

static int
parse_list(parser *P, kw_type *t, unsigned depth)
{
    TRY(angle_type(P, &t->elem, depth));
    if (eat_punct(P, ",")) {
        kw_token *n = peek(P, 0);
        if (n->kind != KW_TK_INT)
            return unexpected(P, "a list length");
        unsigned long v = 0;
        for (const char *s = n->text; *s; s++) {
            v = v * 10 + (unsigned long)(*s - '0');
            if (v > UINT32_MAX)
                break;
        }
        if (v == 0 || v > UINT32_MAX)
            return kw_error(P->d, KUMO_EMALFORMED, &n->pos,
                            "invalid fixed list length `%.20s`", n->text);
        t->fixed_len = (uint32_t)v;
        next(P);
    }
    return expect_punct(P, ">");
}

static int
parse_result(parser *P, kw_type *t, unsigned depth)
{
    if (!eat_punct(P, "<"))
        return 0;
    if (eat_punct(P, "_")) {
        TRY(expect_punct(P, ","));
        TRY(parse_type(P, &t->err, depth + 1));
        return expect_punct(P, ">");
    }
    TRY(parse_type(P, &t->ok, depth + 1));
    if (eat_punct(P, ","))
        TRY(parse_type(P, &t->err, depth + 1));
    return expect_punct(P, ">");
}

static int
parse_tuple(parser *P, kw_type *t, unsigned depth)
{
    TRY(expect_punct(P, "<"));
    do {
        if (at_punct(P, ">") && t->nitems)
            break;
        kw_type **slot = kw_push(P->a, &t->items, &t->nitems, sizeof *slot);
        if (!slot)
            return KUMO_ENOMEM;
        TRY(parse_type(P, slot, depth + 1));
    } while (eat_punct(P, ","));
    return expect_punct(P, ">");
}

static const struct {
    int kw;
    kw_type_kind kind;
} prims[] = {
    {KW_K_BOOL, KW_T_BOOL},     {KW_K_S8, KW_T_S8},
    {KW_K_U8, KW_T_U8},         {KW_K_S16, KW_T_S16},
    {KW_K_U16, KW_T_U16},       {KW_K_S32, KW_T_S32},
    {KW_K_U32, KW_T_U32},       {KW_K_S64, KW_T_S64},
    {KW_K_U64, KW_T_U64},       {KW_K_F32, KW_T_F32},
    {KW_K_F64, KW_T_F64},       {KW_K_CHAR, KW_T_CHAR},
    {KW_K_STRING, KW_T_STRING}, {KW_K_ERROR_CONTEXT, KW_T_ERROR_CONTEXT},
};

static int
parse_type(parser *P, kw_type **out, unsigned depth)
{
    kw_token *tok = peek(P, 0);
    kw_type *t;
    if (depth > MAX_TYPE_DEPTH)
        return kw_error(P->d, KUMO_ELIMIT, &tok->pos, "type nested too deeply");
    if (tok->kind == KW_TK_ID) {
        next(P);
        if (!(t = new_type(P, KW_T_NAMED, &tok->pos)))
            return KUMO_ENOMEM;
        t->name = tok->text;
        *out = t;
        return 0;
    }
    if (tok->kind != KW_TK_KEYWORD)
        return unexpected(P, "a type");
    for (size_t k = 0; k < sizeof prims / sizeof prims[0]; k++) {
        if (prims[k].kw == tok->kw) {
            next(P);
            if (!(*out = new_type(P, prims[k].kind, &tok->pos)))
                return KUMO_ENOMEM;
            return 0;
        }
    }
    kw_type_kind kind;
    switch (tok->kw) {
    case KW_K_LIST:
        kind = KW_T_LIST;
        break;
    case KW_K_OPTION:
        kind = KW_T_OPTION;
        break;
    case KW_K_RESULT:
        kind = KW_T_RESULT;
        break;
    case KW_K_TUPLE:
        kind = KW_T_TUPLE;
        break;
    case KW_K_MAP:
        kind = KW_T_MAP;
        break;
    case KW_K_FUTURE:
        kind = KW_T_FUTURE;
        break;
    case KW_K_STREAM:
        kind = KW_T_STREAM;
        break;
    case KW_K_BORROW:
        kind = KW_T_BORROW;
        break;
    case KW_K_OWN:
        kind = KW_T_OWN;
        break;
    default:
        return unexpected(P, "a type");
    }
    next(P);
    if (!(t = new_type(P, kind, &tok->pos)))
        return KUMO_ENOMEM;
    *out = t;
    switch (kind) {
    case KW_T_LIST:
        return parse_list(P, t, depth);
    case KW_T_OPTION:
        TRY(angle_type(P, &t->elem, depth));
        return expect_punct(P, ">");
    case KW_T_RESULT:
        return parse_result(P, t, depth);
    case KW_T_TUPLE:
        return parse_tuple(P, t, depth);
    case KW_T_MAP:
        TRY(angle_type(P, &t->ok, depth));
        TRY(expect_punct(P, ","));
        TRY(parse_type(P, &t->err, depth + 1));
        return expect_punct(P, ">");
    case KW_T_FUTURE:
    case KW_T_STREAM:
        if (!at_punct(P, "<"))
            return 0;
        TRY(angle_type(P, &t->elem, depth));
        return expect_punct(P, ">");
    default:
        return parse_handle(P, t);
    }
}

/* ---- functions */

/* '(' (id ':' ty),* ')' */
static int
parse_params(parser *P, kw_func *f)
{
    TRY(expect_punct(P, "("));
    while (!at_punct(P, ")")) {
        kw_field *p = kw_push(P->a, &f->params, &f->nparams, sizeof *p);
        if (!p)
            return KUMO_ENOMEM;
        p->docs = peek(P, 0)->docs;
        TRY(parse_id(P, &p->name, &p->pos));
        TRY(expect_punct(P, ":"));
        TRY(parse_type(P, &p->type, 0));
        if (!eat_punct(P, ","))
            break;
    }
    return expect_punct(P, ")");
}

/* 'async'? 'func' params ('->' ty)? */
static int
parse_functype(parser *P, kw_func *f)
{
    if (is_kw(peek(P, 0), KW_K_ASYNC)) {
        next(P);
        f->is_async = true;
    }
    TRY(expect_kw(P, KW_K_FUNC));
    TRY(parse_params(P, f));
    if (eat_punct(P, "->"))
        TRY(parse_type(P, &f->result, 0));
    return 0;
}

static kw_func *
new_func(parser *P, const char *docs, const kw_gate *g)
{
    kw_func *f = NEW(P, kw_func);
    if (f) {
        f->docs = docs;
        f->gate = *g;
    }
    return f;
}

/* ---- type definitions */

/* '{' (id [ '(' ty ')' ]),* '}' for records (types required), variants
 * (optional payload) and enums/flags (no payload). */
static int
parse_fields(parser *P, kw_typedef *td)
{
    TRY(expect_punct(P, "{"));
    while (!at_punct(P, "}")) {
        kw_field *f = kw_push(P->a, &td->fields, &td->nfields, sizeof *f);
        if (!f)
            return KUMO_ENOMEM;
        f->docs = peek(P, 0)->docs;
        TRY(parse_id(P, &f->name, &f->pos));
        if (td->kind == KW_D_RECORD) {
            TRY(expect_punct(P, ":"));
            TRY(parse_type(P, &f->type, 0));
        } else if (td->kind == KW_D_VARIANT && eat_punct(P, "(")) {
            TRY(parse_type(P, &f->type, 0));
            TRY(expect_punct(P, ")"));
        }
        if (!eat_punct(P, ","))
            break;
    }
    TRY(expect_punct(P, "}"));
    if (td->nfields == 0 && td->kind != KW_D_RECORD && td->kind != KW_D_FLAGS)
        return kw_error(P->d, KUMO_EMALFORMED, &td->pos,
                        "`%s` must have at least one case", td->name);
    return 0;
}

static int
parse_resource_body(parser *P, kw_typedef *td)
{
    TRY(expect_punct(P, "{"));
    while (!eat_punct(P, "}")) {
        const char *docs = peek(P, 0)->docs;
        kw_gate g;
        TRY(parse_gates(P, &g));
        kw_func *f = new_func(P, docs, &g);
        if (!f)
            return KUMO_ENOMEM;
        f->resource = td;
        f->pos = peek(P, 0)->pos;
        if (is_kw(peek(P, 0), KW_K_CONSTRUCTOR)) {
            next(P);
            f->kind = KW_F_CONSTRUCTOR;
            TRY(parse_params(P, f));
            if (eat_punct(P, "->"))
                TRY(parse_type(P, &f->result, 0));
        } else {
            TRY(parse_id(P, &f->name, &f->pos));
            TRY(expect_punct(P, ":"));
            f->kind = KW_F_METHOD;
            if (is_kw(peek(P, 0), KW_K_STATIC)) {
                next(P);
                f->kind = KW_F_STATIC;
            }
            TRY(parse_functype(P, f));
        }
        TRY(expect_punct(P, ";"));
        TRY(kw_push_ptr(P->a, &td->funcs, &td->nfuncs, f));
    }
    return 0;
}

static bool
at_typedef(parser *P)
{
    kw_token *t = peek(P, 0);
    return is_kw(t, KW_K_TYPE) || is_kw(t, KW_K_RECORD) ||
           is_kw(t, KW_K_VARIANT) || is_kw(t, KW_K_ENUM) ||
           is_kw(t, KW_K_FLAGS) || is_kw(t, KW_K_RESOURCE);
}

static int
parse_typedef(parser *P, kw_interface *scope, const char *docs,
              const kw_gate *g)
{
    kw_token *kwt = next(P);
    kw_typedef *td = NEW(P, kw_typedef);
    if (!td)
        return KUMO_ENOMEM;
    td->docs = docs;
    td->gate = *g;
    td->owner = scope;
    if (scope->inline_in && scope->inline_in->scope == scope)
        td->world = scope->inline_in;
    TRY(parse_id(P, &td->name, &td->pos));
    switch (kwt->kw) {
    case KW_K_TYPE:
        td->kind = KW_D_ALIAS;
        TRY(expect_punct(P, "="));
        TRY(parse_type(P, &td->alias, 0));
        TRY(expect_punct(P, ";"));
        break;
    case KW_K_RECORD:
        td->kind = KW_D_RECORD;
        TRY(parse_fields(P, td));
        break;
    case KW_K_VARIANT:
        td->kind = KW_D_VARIANT;
        TRY(parse_fields(P, td));
        break;
    case KW_K_ENUM:
        td->kind = KW_D_ENUM;
        TRY(parse_fields(P, td));
        break;
    case KW_K_FLAGS:
        td->kind = KW_D_FLAGS;
        TRY(parse_fields(P, td));
        break;
    default:
        td->kind = KW_D_RESOURCE;
        if (!eat_punct(P, ";"))
            TRY(parse_resource_body(P, td));
        break;
    }
    return kw_push_ptr(P->a, &scope->types, &scope->ntypes, td);
}

/* ---- paths and use */

/* id | id ':' id '/' id ('@' version)? */
static int
parse_path(parser *P, kw_path *p)
{
    const char *first;
    TRY(parse_id(P, &first, &p->pos));
    if (!eat_punct(P, ":")) {
        p->name = first;
        return 0;
    }
    p->ns = first;
    TRY(parse_id(P, &p->pkg, NULL));
    TRY(expect_punct(P, "/"));
    TRY(parse_id(P, &p->name, NULL));
    if (eat_punct(P, "@"))
        TRY(parse_version(P, &p->version));
    return 0;
}

/* 'use' path '.' '{' (id ('as' id)?),+ '}' ';' */
static int
parse_use(parser *P, kw_interface *scope, const char *docs, const kw_gate *g)
{
    next(P); /* use */
    kw_use *u = NEW(P, kw_use);
    if (!u)
        return KUMO_ENOMEM;
    u->docs = docs;
    u->gate = *g;
    TRY(parse_path(P, &u->path));
    TRY(expect_punct(P, "."));
    TRY(expect_punct(P, "{"));
    do {
        if (at_punct(P, "}") && u->nnames)
            break;
        kw_use_name *n = kw_push(P->a, &u->names, &u->nnames, sizeof *n);
        if (!n)
            return KUMO_ENOMEM;
        TRY(parse_id(P, &n->name, &n->pos));
        if (is_kw(peek(P, 0), KW_K_AS)) {
            next(P);
            TRY(parse_id(P, &n->as, &n->pos));
        }
    } while (eat_punct(P, ","));
    TRY(expect_punct(P, "}"));
    TRY(expect_punct(P, ";"));
    return kw_push_ptr(P->a, &scope->uses, &scope->nuses, u);
}

/* ---- interfaces */

/* Items up to the closing '}' (consumed). */
static int
parse_iface_items(parser *P, kw_interface *iface)
{
    while (!eat_punct(P, "}")) {
        const char *docs = peek(P, 0)->docs;
        kw_gate g;
        TRY(parse_gates(P, &g));
        if (is_kw(peek(P, 0), KW_K_USE)) {
            TRY(parse_use(P, iface, docs, &g));
        } else if (at_typedef(P)) {
            TRY(parse_typedef(P, iface, docs, &g));
        } else if (peek(P, 0)->kind == KW_TK_ID) {
            kw_func *f = new_func(P, docs, &g);
            if (!f)
                return KUMO_ENOMEM;
            TRY(parse_id(P, &f->name, &f->pos));
            TRY(expect_punct(P, ":"));
            TRY(parse_functype(P, f));
            TRY(expect_punct(P, ";"));
            TRY(kw_push_ptr(P->a, &iface->funcs, &iface->nfuncs, f));
        } else {
            return unexpected(P, "`use`, a type definition, a function or "
                                 "`}`");
        }
    }
    return 0;
}

static kw_interface *
new_iface(parser *P, kw_package *pkg, const char *docs, const kw_gate *g)
{
    kw_interface *i = NEW(P, kw_interface);
    if (i) {
        i->pkg = pkg;
        i->file = P->file;
        i->docs = docs;
        i->gate = *g;
    }
    return i;
}

static int
parse_interface(parser *P, kw_package *pkg, const char *docs, const kw_gate *g)
{
    next(P); /* interface */
    kw_interface *i = new_iface(P, pkg, docs, g);
    if (!i)
        return KUMO_ENOMEM;
    TRY(parse_id(P, &i->name, &i->pos));
    TRY(expect_punct(P, "{"));
    TRY(parse_iface_items(P, i));
    return kw_push_ptr(P->a, &pkg->ifaces, &pkg->nifaces, i);
}

/* ---- worlds */

/* The extern after `import`/`export`. */
static int
parse_extern(parser *P, kw_world *w, kw_witem *it)
{
    kw_token *t0 = peek(P, 0), *t1 = peek(P, 1), *t2 = peek(P, 2),
             *t3 = peek(P, 3);
    bool named = t0->kind == KW_TK_ID && is_punct(t1, ":") &&
                 !(t2->kind == KW_TK_ID && is_punct(t3, "/"));
    if (!named) {
        it->xkind = KW_X_PATH;
        TRY(parse_path(P, &it->path));
        return expect_punct(P, ";");
    }
    TRY(parse_id(P, &it->name, &it->pos));
    next(P); /* : */
    kw_token *t = peek(P, 0);
    if (is_kw(t, KW_K_FUNC) || is_kw(t, KW_K_ASYNC)) {
        it->xkind = KW_X_FUNC;
        if (!(it->func = new_func(P, it->docs, &it->gate)))
            return KUMO_ENOMEM;
        it->func->name = it->name;
        it->func->pos = it->pos;
        TRY(parse_functype(P, it->func));
        return expect_punct(P, ";");
    }
    if (is_kw(t, KW_K_INTERFACE)) {
        next(P);
        it->xkind = KW_X_INLINE;
        if (!(it->iface = new_iface(P, w->pkg, it->docs, &it->gate)))
            return KUMO_ENOMEM;
        it->iface->name = it->name;
        it->iface->pos = it->pos;
        it->iface->inline_in = w;
        TRY(expect_punct(P, "{"));
        return parse_iface_items(P, it->iface);
    }
    it->xkind = KW_X_NAMEDPATH;
    TRY(parse_path(P, &it->path));
    return expect_punct(P, ";");
}

/* 'include' path ('with' '{' (id 'as' id),+ '}')? ';' */
static int
parse_include(parser *P, kw_witem *it)
{
    TRY(parse_path(P, &it->path));
    if (is_kw(peek(P, 0), KW_K_WITH)) {
        next(P);
        TRY(expect_punct(P, "{"));
        do {
            if (at_punct(P, "}") && it->nwith)
                break;
            kw_rename *r = kw_push(P->a, &it->with, &it->nwith, sizeof *r);
            if (!r)
                return KUMO_ENOMEM;
            TRY(parse_id(P, &r->from, NULL));
            TRY(expect_kw(P, KW_K_AS));
            TRY(parse_id(P, &r->to, NULL));
        } while (eat_punct(P, ","));
        TRY(expect_punct(P, "}"));
    }
    return expect_punct(P, ";");
}

static int
parse_world_item(parser *P, kw_world *w)
{
    const char *docs = peek(P, 0)->docs;
    kw_gate g;
    TRY(parse_gates(P, &g));
    kw_token *t = peek(P, 0);
    if (is_kw(t, KW_K_USE))
        return parse_use(P, w->scope, docs, &g);
    if (at_typedef(P))
        return parse_typedef(P, w->scope, docs, &g);
    if (!is_kw(t, KW_K_IMPORT) && !is_kw(t, KW_K_EXPORT) &&
        !is_kw(t, KW_K_INCLUDE))
        return unexpected(P, "`import`, `export`, `include`, `use`, a type "
                             "definition or `}`");
    next(P);
    kw_witem *it = NEW(P, kw_witem);
    if (!it)
        return KUMO_ENOMEM;
    it->docs = docs;
    it->gate = g;
    it->pos = t->pos;
    it->kind = t->kw == KW_K_IMPORT   ? KW_W_IMPORT
               : t->kw == KW_K_EXPORT ? KW_W_EXPORT
                                      : KW_W_INCLUDE;
    if (it->kind == KW_W_INCLUDE)
        TRY(parse_include(P, it));
    else
        TRY(parse_extern(P, w, it));
    return kw_push_ptr(P->a, &w->items, &w->nitems, it);
}

static int
parse_world(parser *P, kw_package *pkg, const char *docs, const kw_gate *g)
{
    next(P); /* world */
    kw_world *w = NEW(P, kw_world);
    if (!w)
        return KUMO_ENOMEM;
    w->pkg = pkg;
    w->file = P->file;
    w->docs = docs;
    w->gate = *g;
    TRY(parse_id(P, &w->name, &w->pos));
    w->scope = new_iface(P, pkg, NULL, g);
    if (!w->scope)
        return KUMO_ENOMEM;
    w->scope->name = w->name;
    w->scope->pos = w->pos;
    w->scope->inline_in = w;
    TRY(expect_punct(P, "{"));
    while (!eat_punct(P, "}"))
        TRY(parse_world_item(P, w));
    return kw_push_ptr(P->a, &pkg->worlds, &pkg->nworlds, w);
}

/* ---- files and packages */

static int
parse_toplevel_use(parser *P)
{
    next(P); /* use */
    kw_tuse *u = kw_push(P->a, &P->file->uses, &P->file->nuses, sizeof *u);
    if (!u)
        return KUMO_ENOMEM;
    TRY(parse_path(P, &u->path));
    if (is_kw(peek(P, 0), KW_K_AS)) {
        next(P);
        TRY(parse_id(P, &u->as, NULL));
    }
    return expect_punct(P, ";");
}

static int parse_nested_decl(parser *P);

/* Items of a package body, up to '}' (nested) or end of file. */
static int
parse_pkg_items(parser *P, kw_package *pkg, bool nested)
{
    for (;;) {
        kw_token *t = peek(P, 0);
        if (nested ? is_punct(t, "}") : t->kind == KW_TK_EOF)
            break;
        if (is_kw(t, KW_K_PACKAGE)) {
            if (nested)
                return kw_error(P->d, KUMO_EMALFORMED, &t->pos,
                                "packages cannot be nested more than one "
                                "level");
            TRY(parse_nested_decl(P));
            continue;
        }
        const char *docs = t->docs;
        kw_gate g;
        TRY(parse_gates(P, &g));
        t = peek(P, 0);
        if (is_kw(t, KW_K_INTERFACE)) {
            TRY(parse_interface(P, pkg, docs, &g));
        } else if (is_kw(t, KW_K_WORLD)) {
            TRY(parse_world(P, pkg, docs, &g));
        } else if (is_kw(t, KW_K_USE)) {
            TRY(parse_toplevel_use(P));
        } else {
            return unexpected(P, nested ? "`interface`, `world`, `use` or "
                                          "`}`"
                                        : "`interface`, `world`, `use` or "
                                          "`package`");
        }
    }
    return 0;
}

/* 'package' id ':' id ('@' version)? */
static int
parse_pkg_name(parser *P, kw_package *pkg)
{
    pkg->docs = peek(P, 0)->docs;
    next(P); /* package */
    TRY(parse_id(P, &pkg->ns, &pkg->pos));
    TRY(expect_punct(P, ":"));
    TRY(parse_id(P, &pkg->name, NULL));
    if (at_punct(P, ":") || at_punct(P, "/"))
        return kw_error(P->d, KUMO_EUNSUPPORTED, &peek(P, 0)->pos,
                        "nested namespaces and packages are not supported");
    if (eat_punct(P, "@"))
        TRY(parse_version(P, &pkg->version));
    return 0;
}

static bool
same_name(const kw_package *a, const kw_package *b)
{
    if (strcmp(a->ns, b->ns) != 0 || strcmp(a->name, b->name) != 0)
        return false;
    if (!a->version || !b->version)
        return a->version == b->version;
    return strcmp(a->version, b->version) == 0;
}

/* Add a package to the set unless one of that name is there already. */
static int
add_package(kw_world_set *set, kw_package *pkg)
{
    for (uint32_t i = 0; i < set->npkgs; i++)
        if (same_name(set->pkgs[i], pkg))
            return 0;
    return kw_push_ptr(set->arena, &set->pkgs, &set->npkgs, pkg);
}

static int
new_file(parser *P, const char *name)
{
    P->file = NEW(P, kw_file);
    if (!P->file)
        return KUMO_ENOMEM;
    P->file->path = name;
    return kw_push_ptr(P->a, &P->set->files, &P->set->nfiles, P->file);
}

static int
parse_nested(parser *P, kw_package *pkg, const char *fname)
{
    kw_file *outer = P->file;
    TRY(new_file(P, fname));
    P->file->pkg = pkg;
    next(P); /* { */
    TRY(parse_pkg_items(P, pkg, true));
    next(P); /* } */
    P->file = outer;
    return add_package(P->set, pkg);
}

/* `package a:b { ... }` after other items of a file. */
static int
parse_nested_decl(parser *P)
{
    kw_token *t = peek(P, 0);
    kw_package *pkg = NEW(P, kw_package);
    if (!pkg)
        return KUMO_ENOMEM;
    TRY(parse_pkg_name(P, pkg));
    if (!at_punct(P, "{"))
        return kw_error(P->d, KUMO_EMALFORMED, &t->pos,
                        "`package ...;` must be the first item of a file "
                        "(later packages need a `{ }` body)");
    return parse_nested(P, pkg, P->file->path);
}

static int
parse_file(parser *P, kw_package **unit, const char *fname)
{
    kw_package *top = NULL;
    TRY(new_file(P, fname));
    while (is_kw(peek(P, 0), KW_K_PACKAGE)) {
        kw_package *pkg = NEW(P, kw_package);
        if (!pkg)
            return KUMO_ENOMEM;
        TRY(parse_pkg_name(P, pkg));
        if (at_punct(P, "{")) {
            TRY(parse_nested(P, pkg, fname));
            continue;
        }
        if (top)
            return kw_error(P->d, KUMO_EMALFORMED, &pkg->pos,
                            "only one `package ...;` declaration per file");
        TRY(expect_punct(P, ";"));
        top = pkg;
        if (*unit && (*unit)->ns && !same_name(*unit, pkg))
            return kw_error(P->d, KUMO_EMALFORMED, &pkg->pos,
                            "package `%s:%s` differs from `%s:%s` declared "
                            "by another file of this directory",
                            pkg->ns, pkg->name, (*unit)->ns, (*unit)->name);
        if (!*unit) {
            *unit = pkg;
        } else if (!(*unit)->ns) {
            (*unit)->ns = pkg->ns;
            (*unit)->name = pkg->name;
            (*unit)->version = pkg->version;
            (*unit)->pos = pkg->pos;
        }
        if (pkg->docs && !(*unit)->docs)
            (*unit)->docs = pkg->docs;
    }
    if (peek(P, 0)->kind == KW_TK_EOF)
        return 0;
    if (!*unit && !(*unit = NEW(P, kw_package)))
        return KUMO_ENOMEM;
    P->file->pkg = *unit;
    return parse_pkg_items(P, *unit, false);
}

int
kw_parse_unit(kw_world_set *set, kw_package **unit, const char *name,
              const char *src, size_t len, kumo_diag *d)
{
    parser P = {.set = set, .a = set->arena, .d = d};
    const char *fname = kw_strndup(set->arena, name, strlen(name));
    if (!fname)
        return KUMO_ENOMEM;
    TRY(kw_lex(P.a, fname, src, len, &P.t, &P.n, d));
    return parse_file(&P, unit, fname);
}

int
kw_finish_unit(kw_world_set *set, kw_package *unit, const char *name,
               kumo_diag *d)
{
    if (!unit)
        return 0;
    if (!unit->ns) {
        if (!unit->nifaces && !unit->nworlds)
            return 0;
        kw_pos pos = {.file = name, .line = 1, .col = 1};
        return kw_error(d, KUMO_EMALFORMED, &pos,
                        "no `package` declaration (add `package ns:name;`)");
    }
    return add_package(set, unit);
}

int
kw_parse(kw_world_set *set, const char *name, const char *src, size_t len,
         kumo_diag *d)
{
    kw_package *unit = NULL;
    TRY(kw_parse_unit(set, &unit, name, src, len, d));
    return kw_finish_unit(set, unit, name, d);
}
