/* validate_sub.c - subtyping of component and core types (instantiation
 * arguments, export ascriptions) and resource substitution when a
 * component type is instantiated. */
#include <stdio.h>

#include "validate.h"

const char *
kv_kind_name(const kv_type *t)
{
    static const char *const names[] = {
        "primitive", "record", "variant", "list",     "list",
        "tuple",     "flags",  "enum",    "option",   "result",
        "own",       "borrow", "stream",  "future",   "map",
        "func",      "component", "instance", "resource",
    };
    if (!t)
        return "none";
    if (t->kind == KC_T_PRIM)
        return kc_prim_name(t->prim);
    return (unsigned)t->kind < sizeof names / sizeof names[0]
               ? names[t->kind]
               : "?";
}

int
kv_subst_add(kv_ctx *v, kv_subst *m, kv_type *from, kv_type *to)
{
    uint32_t cap = m->cap;
    if (kc_grow(&v->arena, (void **)&m->from, &cap, m->n + 1,
                sizeof *m->from) ||
        kc_grow(&v->arena, (void **)&m->to, &m->cap, m->n + 1,
                sizeof *m->to))
        return kv_nomem(v);
    m->from[m->n] = from;
    m->to[m->n] = to;
    m->n++;
    return 0;
}

static kv_type *
lookup(const kv_subst *m, kv_type *r)
{
    r = kv_res(r);
    for (uint32_t i = 0; m && i < m->n; i++)
        if (m->from[i] == r)
            return m->to[i];
    return r;
}

static int sub_val(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m,
                   size_t off);

static int
sub_opt(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off,
        const char *what)
{
    if (!a && !b)
        return 0;
    if (!a)
        return kv_err(v, off, "expected %s type, but found none", what);
    if (!b)
        return kv_err(v, off, "expected %s type to not be present", what);
    int rc = sub_val(v, a, b, m, off);
    return rc ? kv_wrap(v, rc, "type mismatch in %s variant", what) : 0;
}

static int
sub_fields(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    static const char *const noun[] = {"", "fields", "cases", "", "",
                                       "types"};
    int rc;
    if (a->n != b->n)
        return kv_err(v, off, "expected %u %s, found %u", b->n,
                      noun[b->kind < 6 ? b->kind : 0], a->n);
    for (uint32_t i = 0; i < a->n; i++) {
        kc_str an = a->f[i].name, bn = b->f[i].name;
        if (b->kind != KC_T_TUPLE &&
            (an.len != bn.len || memcmp(an.s, bn.s, an.len) != 0))
            return kv_err(v, off, "expected %s `%.*s`, found `%.*s`",
                          b->kind == KC_T_RECORD ? "field name"
                                                 : "case named",
                          (int)bn.len, bn.s, (int)an.len, an.s);
        if (b->kind == KC_T_VARIANT) {
            if (b->f[i].t && !a->f[i].t)
                return kv_err(v, off,
                              "expected case `%.*s` to have a type, found "
                              "none",
                              (int)bn.len, bn.s);
            if (!b->f[i].t && a->f[i].t)
                return kv_err(v, off, "expected case `%.*s` to have no type",
                              (int)bn.len, bn.s);
            if (!b->f[i].t)
                continue;
        }
        if ((rc = sub_val(v, a->f[i].t, b->f[i].t, m, off))) {
            if (b->kind == KC_T_TUPLE)
                return kv_wrap(v, rc, "type mismatch in tuple field %u", i);
            return kv_wrap(v, rc, "type mismatch in %s `%.*s`",
                           b->kind == KC_T_RECORD ? "record field"
                                                  : "variant case",
                           (int)bn.len, bn.s);
        }
    }
    return 0;
}

static int
sub_labels(kv_ctx *v, kv_type *a, kv_type *b, size_t off)
{
    bool ok = a->n == b->n;
    for (uint32_t i = 0; ok && i < a->n; i++)
        ok = a->f[i].name.len == b->f[i].name.len &&
             memcmp(a->f[i].name.s, b->f[i].name.s, a->f[i].name.len) == 0;
    return ok ? 0
              : kv_err(v, off, "mismatch in %s elements",
                       b->kind == KC_T_ENUM ? "enum" : "flags");
}

static int
sub_resource(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    if (kv_res(lookup(m, b)) == kv_res(a) || kv_res(lookup(m, a)) == kv_res(b))
        return 0;
    return kv_err(v, off, "resource types are not the same");
}

static int
sub_val(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    if (a == b)
        return 0;
    if (!a || !b)
        return kv_err(v, off, "type mismatch");
    if (a->kind != b->kind) {
        return kv_err(v, off, "expected %s, found %s", kv_kind_name(b),
                      kv_kind_name(a));
    }
    switch (b->kind) {
    case KC_T_PRIM:
        if (a->prim != b->prim)
            return kv_err(v, off, "expected primitive `%s` found primitive "
                                  "`%s`",
                          kv_kind_name(b), kv_kind_name(a));
        return 0;
    case KC_T_RECORD:
    case KC_T_VARIANT:
    case KC_T_TUPLE:
        return sub_fields(v, a, b, m, off);
    case KC_T_FLAGS:
    case KC_T_ENUM:
        return sub_labels(v, a, b, off);
    case KC_T_FIXED_LIST:
        if (a->len != b->len)
            return kv_err(v, off, "expected list of length %u, found %u",
                          b->len, a->len);
        return sub_val(v, a->a, b->a, m, off);
    case KC_T_LIST:
    case KC_T_OPTION:
    case KC_T_STREAM:
    case KC_T_FUTURE:
        if (!a->a != !b->a)
            return kv_err(v, off, "type mismatch");
        return a->a ? sub_val(v, a->a, b->a, m, off) : 0;
    case KC_T_RESULT: {
        int rc = sub_opt(v, a->a, b->a, m, off, "ok");
        return rc ? rc : sub_opt(v, a->b, b->b, m, off, "err");
    }
    case KC_T_MAP: {
        int rc = sub_val(v, a->a, b->a, m, off);
        return rc ? rc : sub_val(v, a->b, b->b, m, off);
    }
    case KC_T_OWN:
    case KC_T_BORROW:
        return sub_resource(v, a->a, b->a, m, off);
    case KC_T_RESOURCE:
        return sub_resource(v, a, b, m, off);
    default:
        return kv_sub_type(v, a, b, m, off);
    }
}

static int
sub_func(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    int rc;
    if (a->n != b->n)
        return kv_err(v, off, "expected %u parameters, found %u", b->n, a->n);
    for (uint32_t i = 0; i < a->n; i++) {
        kc_str an = a->f[i].name, bn = b->f[i].name;
        if (an.len != bn.len || memcmp(an.s, bn.s, an.len) != 0)
            return kv_err(v, off, "expected parameter named `%.*s`, found "
                                  "`%.*s`",
                          (int)bn.len, bn.s, (int)an.len, an.s);
        /* value types are compared for equality (no variance): the
         * message names the expected parameter first */
        if ((rc = sub_val(v, a->f[i].t, b->f[i].t, m, off)))
            return kv_wrap(v, rc, "type mismatch in function parameter "
                                  "`%.*s`",
                           (int)an.len, an.s);
    }
    /* results are named the way wasm-tools reports them */
    if (b->a && !a->a)
        return kv_err(v, off, "expected no result, found one");
    if (!b->a && a->a)
        return kv_err(v, off, "expected a result, found none");
    if (b->a && (rc = sub_val(v, a->a, b->a, m, off)))
        return kv_wrap(v, rc, "type mismatch with result type");
    if (a->async != b->async)
        return kv_err(v, off, "expected %s function, found %s function",
                      b->async ? "async" : "sync", a->async ? "async" : "sync");
    return 0;
}

static const kv_named *
find_named(const kv_named *list, uint32_t n, kc_str name)
{
    for (uint32_t i = 0; i < n; i++)
        if (list[i].name.len == name.len &&
            memcmp(list[i].name.s, name.s, name.len) == 0)
            return &list[i];
    return NULL;
}

static int
sub_instance(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    for (uint32_t i = 0; i < b->nexp; i++) {
        const kv_named *be = &b->exp[i];
        const kv_named *ae = find_named(a->exp, a->nexp, be->name);
        if (!ae)
            return kv_err(v, off, "missing expected export `%.*s`",
                          (int)be->name.len, be->name.s);
        int rc = kv_sub_ext(v, &ae->e, &be->e, m, off);
        if (rc)
            return kv_wrap(v, rc, "type mismatch in instance export `%.*s`",
                           (int)be->name.len, be->name.s);
    }
    return 0;
}

static int
sub_component(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    int rc;
    for (uint32_t i = 0; i < a->nimp; i++) {
        const kv_named *ai = &a->imp[i];
        const kv_named *bi = find_named(b->imp, b->nimp, ai->name);
        if (!bi)
            return kv_err(v, off, "missing expected import `%.*s`",
                          (int)ai->name.len, ai->name.s);
        if ((rc = kv_sub_ext(v, &bi->e, &ai->e, m, off)))
            return kv_wrap(v, rc, "type mismatch in import `%.*s`",
                           (int)ai->name.len, ai->name.s);
    }
    for (uint32_t i = 0; i < b->nexp; i++) {
        const kv_named *be = &b->exp[i];
        const kv_named *ae = find_named(a->exp, a->nexp, be->name);
        if (!ae)
            return kv_err(v, off, "missing expected export `%.*s`",
                          (int)be->name.len, be->name.s);
        if ((rc = kv_sub_ext(v, &ae->e, &be->e, m, off)))
            return kv_wrap(v, rc, "type mismatch in export `%.*s`",
                           (int)be->name.len, be->name.s);
    }
    return 0;
}

int
kv_sub_type(kv_ctx *v, kv_type *a, kv_type *b, kv_subst *m, size_t off)
{
    if (a == b)
        return 0;
    if (!a || !b)
        return kv_err(v, off, "type mismatch");
    if (a->kind != b->kind)
        return sub_val(v, a, b, m, off);
    switch (b->kind) {
    case KC_T_FUNC:
        return sub_func(v, a, b, m, off);
    case KC_T_INSTANCE:
        return sub_instance(v, a, b, m, off);
    case KC_T_COMPONENT:
        return sub_component(v, a, b, m, off);
    default:
        return sub_val(v, a, b, m, off);
    }
}

static const char *
ext_name(uint8_t sort)
{
    return sort == KC_CORE_MODULE ? "module" : kc_sort_name((kc_sort)sort);
}

int
kv_sub_ext(kv_ctx *v, const kv_ext *a, const kv_ext *b, kv_subst *m,
           size_t off)
{
    if (a->sort != b->sort)
        return kv_err(v, off, "expected %s, found %s", ext_name(b->sort),
                      ext_name(a->sort));
    if (b->sort == KC_CORE_MODULE)
        return kv_sub_core(v, a->c, b->c, off);
    if (b->sort == KC_TYPE && b->t && b->t->kind == KC_T_RESOURCE) {
        if (!a->t || a->t->kind != KC_T_RESOURCE)
            return kv_err(v, off, "expected resource, found defined type");
        kv_type *br = kv_res(b->t);
        if (br->abstract && lookup(m, br) == br && m)
            return kv_subst_add(v, m, br, a->t);
        return sub_resource(v, a->t, b->t, m, off);
    }
    if (b->sort == KC_TYPE && a->t && a->t->kind == KC_T_RESOURCE)
        return kv_err(v, off, "expected defined type, found resource");
    if (b->sort == KC_TYPE && b->t && a->t && b->t->kind == KC_T_PRIM &&
        a->t->kind != KC_T_PRIM) /* a defined primitive type */
        return kv_err(v, off, "expected primitive, found %s",
                      kv_kind_name(a->t));
    int rc = kv_sub_type(v, a->t, b->t, m, off);
    /* an imported defined type is the argument's type in the instance */
    if (!rc && m && b->sort == KC_TYPE && b->t && a->t && b->t != a->t)
        rc = kv_subst_add(v, m, b->t, a->t);
    return rc;
}

/* ---- core */

static const char *
core_kind_name(uint8_t k)
{
    static const char *const names[] = {"func", "table", "memory", "global",
                                        "tag"};
    return k < 5 ? names[k] : k == KV_MODULE ? "module" : "instance";
}

static const char *
core_val_name(uint8_t c)
{
    switch (c) {
    case 0x7f:
        return "i32";
    case 0x7e:
        return "i64";
    case 0x7d:
        return "f32";
    case 0x7c:
        return "f64";
    case 0x7b:
        return "v128";
    case 0x70:
        return "funcref";
    case 0x6f:
        return "externref";
    default:
        return "ref";
    }
}

static bool
limits_ok(const kv_core *a, const kv_core *b)
{
    if (a->min < b->min)
        return false;
    if (!(b->flags & 1))
        return true;
    return (a->flags & 1) && a->max <= b->max;
}

static int
sub_core_module(kv_ctx *v, const kv_core *a, const kv_core *b, size_t off)
{
    int rc;
    for (uint32_t i = 0; i < a->nimp; i++) {
        const kv_cnamed *ai = &a->imp[i];
        const kv_cnamed *bi = NULL;
        for (uint32_t k = 0; k < b->nimp && !bi; k++)
            if (b->imp[k].module.len == ai->module.len &&
                b->imp[k].name.len == ai->name.len &&
                memcmp(b->imp[k].module.s, ai->module.s, ai->module.len) == 0 &&
                memcmp(b->imp[k].name.s, ai->name.s, ai->name.len) == 0)
                bi = &b->imp[k];
        if (!bi)
            return kv_err(v, off, "missing expected import `%.*s::%.*s`",
                          (int)ai->module.len, ai->module.s,
                          (int)ai->name.len, ai->name.s);
        if ((rc = kv_sub_core(v, bi->c, ai->c, off)))
            return kv_wrap(v, rc, "type mismatch in import `%.*s::%.*s`",
                           (int)ai->module.len, ai->module.s,
                           (int)ai->name.len, ai->name.s);
    }
    for (uint32_t i = 0; i < b->nexp; i++) {
        const kv_cnamed *be = &b->exp[i];
        const kv_cnamed *ae = NULL;
        for (uint32_t k = 0; k < a->nexp && !ae; k++)
            if (a->exp[k].name.len == be->name.len &&
                memcmp(a->exp[k].name.s, be->name.s, be->name.len) == 0)
                ae = &a->exp[k];
        if (!ae)
            return kv_err(v, off, "missing expected export `%.*s`",
                          (int)be->name.len, be->name.s);
        if ((rc = kv_sub_core(v, ae->c, be->c, off)))
            return kv_wrap(v, rc, "type mismatch in export `%.*s`",
                           (int)be->name.len, be->name.s);
    }
    return 0;
}

/* "(func (param i32) (result i32))" into buf. */
static const char *
core_func_text(const kv_core *f, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "(func");
    for (uint32_t k = 0; k < f->np + f->nr && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, " (%s %s)",
                              k < f->np ? "param" : "result",
                              core_val_name(k < f->np ? f->p[k]
                                                      : f->r[k - f->np]));
    if (n < len)
        snprintf(buf + n, len - n, ")");
    return buf;
}

int
kv_sub_core(kv_ctx *v, const kv_core *a, const kv_core *b, size_t off)
{
    if (!a || !b || a->unknown || b->unknown)
        return 0;
    if (a->kind != b->kind)
        return kv_err(v, off, "expected %s, found %s", core_kind_name(b->kind),
                      core_kind_name(a->kind));
    switch (b->kind) {
    case 0:
    case 4:
        if (a->np != b->np || a->nr != b->nr ||
            (a->np && memcmp(a->p, b->p, a->np) != 0) ||
            (a->nr && memcmp(a->r, b->r, a->nr) != 0))
        {
            char x[96], y[96];
            return kv_err(v, off, "type mismatch: expected: %s, found: %s",
                          core_func_text(b, x, sizeof x),
                          core_func_text(a, y, sizeof y));
        }
        return 0;
    case 1:
        if (a->val != b->val)
            return kv_err(v, off, "expected table element type %s, found %s",
                          core_val_name(b->val), core_val_name(a->val));
        return limits_ok(a, b) ? 0
                               : kv_err(v, off, "mismatch in table limits");
    case 2:
        if ((a->flags & 2) != (b->flags & 2))
            return kv_err(v, off, "mismatch in the shared flag for memories");
        if ((a->flags & 4) != (b->flags & 4))
            return kv_err(v, off, "mismatch in index type used for memories");
        return limits_ok(a, b) ? 0
                               : kv_err(v, off, "mismatch in memory limits");
    case 3:
        if (a->mut != b->mut)
            return kv_err(v, off, "global types differ in mutability");
        if (a->val != b->val)
            return kv_err(v, off, "expected global type %s, found %s",
                          core_val_name(b->val), core_val_name(a->val));
        return 0;
    case KV_MODULE:
        return sub_core_module(v, a, b, off);
    default:
        return 0;
    }
}

/* ---- substitution */

static kv_type *subst(kv_ctx *v, kv_type *t, kv_subst *m);

static kv_ext
subst_ext(kv_ctx *v, kv_ext e, kv_subst *m)
{
    if (e.t)
        e.t = subst(v, e.t, m);
    return e;
}

static kv_type *
subst(kv_ctx *v, kv_type *t, kv_subst *m)
{
    if (!t || t->kind == KC_T_PRIM)
        return t;
    if (t->kind == KC_T_RESOURCE && t->same) {
        /* a name of a resource: an argument or a new resource replaces
         * it when instantiating; otherwise it stays a name of the same */
        kv_type *r = subst(v, t->same, m);
        if (r != t->same && !m->keep_names)
            return r;
        kv_type *w = kv_alloc(v, sizeof *w);
        if (!w)
            return t;
        *w = *t;
        w->same = kv_res(r);
        if (!m->keep_names)
            w->named = 0;
        return w;
    }
    if (t->kind == KC_T_RESOURCE) {
        kv_type *r = lookup(m, t);
        if (r != t || !(m->limited ? t->abstract && t->depth > m->depth
                                   : t->abstract || t->local))
            return r;
        r = kv_alloc(v, sizeof *r);
        if (!r || kv_subst_add(v, m, t, r))
            return t;
        *r = *t;
        r->local = false; /* a resource of an instance is not defined here */
        r->depth = m->depth;
        if (!m->keep_names)
            r->named = 0;
        return r;
    }
    /* other types: substituted imports and copies made so far are shared */
    for (uint32_t i = 0; i < m->n; i++)
        if (m->from[i] == t)
            return m->to[i];
    kv_type *o = kv_alloc(v, sizeof *o);
    if (!o || kv_subst_add(v, m, t, o))
        return t;
    *o = *t;
    if (!m->keep_names)
        o->named = 0;
    o->a = subst(v, t->a, m);
    o->b = subst(v, t->b, m);
    if (t->n) {
        o->f = kv_alloc(v, (size_t)t->n * sizeof *o->f);
        if (!o->f)
            return t;
        for (uint32_t i = 0; i < t->n; i++) {
            o->f[i].name = t->f[i].name;
            o->f[i].t = subst(v, t->f[i].t, m);
        }
    }
    if (t->nexp) {
        o->exp = kv_alloc(v, (size_t)t->nexp * sizeof *o->exp);
        if (!o->exp)
            return t;
        for (uint32_t i = 0; i < t->nexp; i++) {
            o->exp[i].name = t->exp[i].name;
            o->exp[i].e = subst_ext(v, t->exp[i].e, m);
        }
    }
    if (t->nimp) {
        o->imp = kv_alloc(v, (size_t)t->nimp * sizeof *o->imp);
        if (!o->imp)
            return t;
        for (uint32_t i = 0; i < t->nimp; i++) {
            o->imp[i].name = t->imp[i].name;
            o->imp[i].e = subst_ext(v, t->imp[i].e, m);
        }
    }
    return o;
}

kv_type *
kv_subst_type(kv_ctx *v, kv_type *t, kv_subst *m)
{
    return subst(v, t, m);
}

uint32_t
kv_depth(const kv_scope *s)
{
    uint32_t d = 0;
    for (; s && s->parent; s = s->parent)
        d++;
    return d;
}

kv_type *
kv_fresh_instance(kv_ctx *v, kv_scope *s, kv_type *t)
{
    kv_subst m = {0, 0, NULL, NULL, kv_depth(s), true, true};
    return subst(v, t, &m);
}

kv_type *
kv_unnamed(kv_ctx *v, kv_type *t)
{
    kv_subst m = {0, 0, NULL, NULL, UINT32_MAX, true, false};
    return subst(v, t, &m);
}
