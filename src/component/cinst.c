/* cinst.c - instantiation: walk a component's definitions in binary order,
 * building the run-time index spaces (core modules, core instances,
 * aliases, types, canonical functions, nested components and instances,
 * imports resolved from the enclosing instantiation or the host linker,
 * exports). Instance and component types of imports are evaluated against
 * what is supplied, which binds their abstract resource types. */
#include <stdio.h>

#include "canon.h"

typedef struct kc_frame kc_frame;
struct kc_frame {
    kc_body *body;
    kc_frame *parent; /* lexically enclosing scope (outer aliases) */
    kc_rv *sp[KC_NSORTS];
    uint32_t n[KC_NSORTS], cap[KC_NSORTS];
    kc_rinst *rinst;
    const kc_rcinst *args; /* supplied imports; NULL: from the host */
    kc_rcinst *exports;
    /* instance-type evaluation: what binds the declared exports */
    const kc_rcinst *bind; /* a supplied instance, or NULL: the host */
    kc_str iface;          /* the host interface name */
};

typedef struct kc_rcomp {
    kc_body *body;
    kc_frame *scope;
} kc_rcomp;

typedef struct kumo_cinstance kc_ci;

static int
fail(kc_ci *ci, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(kc_ci *ci, int code, const char *fmt, ...)
{
    if (ci->diag) {
        va_list ap;
        va_start(ap, fmt);
        ci->diag->code = code;
        ci->diag->offset = 0;
        ci->diag->func_index = UINT32_MAX;
        vsnprintf(ci->diag->message, sizeof ci->diag->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int
nomem(kc_ci *ci)
{
    return fail(ci, KUMO_ENOMEM, "out of memory");
}

static int
push(kc_ci *ci, kc_frame *f, kc_sort s, kc_rv v)
{
    if (f->n[s] == f->cap[s] &&
        kc_grow(&ci->arena, (void **)&f->sp[s], &f->cap[s], f->n[s] + 1,
                sizeof(kc_rv)))
        return nomem(ci);
    f->sp[s][f->n[s]++] = v;
    return 0;
}

static int
get(kc_ci *ci, kc_frame *f, kc_sort s, uint32_t i, kc_rv *out)
{
    memset(out, 0, sizeof *out);
    if (i >= f->n[s])
        return fail(ci, KUMO_EINVALID, "%s index %u out of bounds",
                    kc_sort_name(s), i);
    *out = f->sp[s][i];
    return 0;
}

static int
add_export(kc_ci *ci, kc_rcinst *x, kc_str name, kc_sort s, kc_rv v)
{
    if (kc_grow(&ci->arena, (void **)&x->ex, &x->cap, x->n + 1,
                sizeof *x->ex))
        return nomem(ci);
    x->ex[x->n].name = name;
    x->ex[x->n].sort = s;
    x->ex[x->n].v = v;
    x->n++;
    return 0;
}

static const kc_rexport *
find_export(const kc_rcinst *x, kc_str name)
{
    for (uint32_t i = 0; x && i < x->n; i++)
        if (x->ex[i].name.len == name.len &&
            memcmp(x->ex[i].name.s, name.s, name.len) == 0)
            return &x->ex[i];
    for (uint32_t i = 0; x && i < x->n; i++)
        if (kumo_cname_match(x->ex[i].name.s, x->ex[i].name.len, name.s,
                             name.len))
            return &x->ex[i];
    return NULL;
}

/* ---- types */

static int
valtype(kc_ci *ci, kc_frame *f, kc_valtype v, const kumo_ctype **out)
{
    if (v.prim) {
        *out = kc_prim_type(v.prim);
        if (!*out)
            return fail(ci, KUMO_EUNSUPPORTED, "unsupported value type 0x%02x",
                        v.prim);
        return 0;
    }
    kc_rv r;
    int rc = get(ci, f, KC_TYPE, v.idx, &r);
    if (rc)
        return rc;
    *out = r.p;
    if (!*out)
        return fail(ci, KUMO_EINVALID, "type %u is not a value type", v.idx);
    return 0;
}

static int
fields(kc_ci *ci, kc_frame *f, const kc_type *t, kumo_ctype *o, bool labels)
{
    o->n = t->nfields;
    kc_str *ls = kc_alloc(&ci->arena, (t->nfields + 1) * sizeof *ls);
    const kumo_ctype **ms = kc_alloc(&ci->arena, (t->nfields + 1) * sizeof *ms);
    if (!ls || !ms)
        return nomem(ci);
    for (uint32_t i = 0; i < t->nfields; i++) {
        ls[i] = t->fields[i].name;
        int rc;
        if (t->fields[i].has_type &&
            (rc = valtype(ci, f, t->fields[i].type, &ms[i])))
            return rc;
    }
    o->labels = labels ? ls : NULL;
    o->members = ms;
    return 0;
}

static int
members(kc_ci *ci, kc_frame *f, kumo_ctype *o, uint32_t n, bool has_a,
        kc_valtype a, bool has_b, kc_valtype b)
{
    const kumo_ctype **ms = kc_alloc(&ci->arena, 2 * sizeof *ms);
    if (!ms)
        return nomem(ci);
    int rc;
    if (has_a && (rc = valtype(ci, f, a, &ms[0])))
        return rc;
    if (has_b && (rc = valtype(ci, f, b, &ms[1])))
        return rc;
    o->n = n;
    o->members = ms;
    return 0;
}

static int
map_type(kc_ci *ci, kc_frame *f, const kc_type *t, kumo_ctype *o)
{
    kumo_ctype *pair = kc_alloc(&ci->arena, sizeof *pair);
    const kumo_ctype **elem = kc_alloc(&ci->arena, sizeof *elem);
    int rc;

    if (!pair || !elem)
        return nomem(ci);
    pair->kind = KUMO_CV_TUPLE;
    if ((rc = members(ci, f, pair, 2, true, t->a, true, t->b)))
        return rc;
    if (kc_type_layout(&ci->arena, pair))
        return nomem(ci);
    elem[0] = pair;
    o->kind = KUMO_CV_LIST;
    o->n = 1;
    o->members = elem;
    return 0;
}

static int
new_resource(kc_ci *ci, kc_frame *f, const kc_type *t, const kumo_ctype **out)
{
    kumo_cresource *r = kc_alloc(&ci->arena, sizeof *r);
    if (!r)
        return nomem(ci);
    r->type.kind = KUMO_CV_RESOURCE;
    r->type.res = r;
    r->impl = f->rinst;
    if (t->has_dtor) {
        kc_rv v;
        int rc = get(ci, f, KC_CORE_FUNC, t->dtor, &v);
        if (rc)
            return rc;
        r->dtor = v.ext.u.func;
    }
    *out = &r->type;
    return 0;
}

/* Resolve a type definition of scope f. */
static int
deftype(kc_ci *ci, kc_frame *f, const kc_type *t, const kumo_ctype **out)
{
    int rc = 0;
    if (t->kind == KC_T_PRIM) {
        *out = kc_prim_type(t->prim);
        return *out ? 0 : fail(ci, KUMO_EUNSUPPORTED, "unsupported type");
    }
    if (t->kind == KC_T_RESOURCE)
        return new_resource(ci, f, t, out);
    kumo_ctype *o = kc_alloc(&ci->arena, sizeof *o);
    if (!o)
        return nomem(ci);
    switch (t->kind) {
    case KC_T_RECORD:
        o->kind = KUMO_CV_RECORD;
        rc = fields(ci, f, t, o, true);
        break;
    case KC_T_VARIANT:
        o->kind = KUMO_CV_VARIANT;
        rc = fields(ci, f, t, o, true);
        break;
    case KC_T_TUPLE:
        o->kind = KUMO_CV_TUPLE;
        rc = fields(ci, f, t, o, false);
        break;
    case KC_T_FLAGS:
    case KC_T_ENUM:
        o->kind = t->kind == KC_T_FLAGS ? KUMO_CV_FLAGS : KUMO_CV_ENUM;
        rc = fields(ci, f, t, o, true);
        o->members = NULL;
        break;
    case KC_T_LIST:
    case KC_T_OPTION:
        o->kind = t->kind == KC_T_LIST ? KUMO_CV_LIST : KUMO_CV_OPTION;
        rc = members(ci, f, o, 1, true, t->a, false, t->b);
        break;
    case KC_T_RESULT:
        o->kind = KUMO_CV_RESULT;
        rc = members(ci, f, o, 2, t->has_a, t->a, t->has_b, t->b);
        break;
    case KC_T_MAP: /* map<K, V> is list<tuple<K, V>> */
        rc = map_type(ci, f, t, o);
        break;
    case KC_T_OWN:
    case KC_T_BORROW: {
        kc_rv r;
        o->kind = t->kind == KC_T_OWN ? KUMO_CV_OWN : KUMO_CV_BORROW;
        if ((rc = get(ci, f, KC_TYPE, t->handle, &r)))
            return rc;
        const kumo_ctype *rt = r.p;
        if (!rt || rt->kind != KUMO_CV_RESOURCE)
            return fail(ci, KUMO_EINVALID, "type %u is not a resource",
                        t->handle);
        o->res = rt->res;
        break;
    }
    case KC_T_FUNC:
        o->kind = KUMO_CV_FUNC;
        if ((rc = fields(ci, f, t, o, true)))
            return rc;
        if (t->has_a)
            rc = valtype(ci, f, t->a, &o->result);
        o->async = t->async; /* refused when lifted or lowered */
        break;
    case KC_T_COMPONENT:
    case KC_T_INSTANCE:
        o->kind = t->kind == KC_T_COMPONENT ? KUMO_CV_COMPONENT
                                            : KUMO_CV_INSTANCE;
        o->body = t->body;
        o->scope = f;
        break;
    default:
        o->kind = KUMO_CV_OTHER;
        break;
    }
    if (rc)
        return rc;
    if (kc_type_layout(&ci->arena, o))
        return nomem(ci);
    *out = o;
    return 0;
}

static bool
type_usable(const kumo_ctype *t)
{
    if (!t)
        return true;
    if (t->kind == KUMO_CV_OTHER || t->async)
        return false;
    for (uint32_t i = 0; t->members && i < t->n; i++)
        if (!type_usable(t->members[i]))
            return false;
    return type_usable(t->result);
}

/* ---- aliases */

static int
core_export(kc_ci *ci, const kc_rcore *c, kc_str name, kumo_extern *out)
{
    if (c->inst)
        return kumo_instance_export(c->inst, name.s, name.len, out);
    for (uint32_t i = 0; i < c->n; i++)
        if (c->names[i].len == name.len &&
            memcmp(c->names[i].s, name.s, name.len) == 0) {
            *out = c->exts[i];
            return 0;
        }
    (void)ci;
    return KUMO_ENOTFOUND;
}

static int
alias(kc_ci *ci, kc_frame *f, const kc_alias *a)
{
    kc_rv v = {0}, r;
    int rc;
    switch (a->kind) {
    case KC_ALIAS_CORE_EXPORT:
        if ((rc = get(ci, f, KC_CORE_INSTANCE, a->instance, &r)))
            return rc;
        if (!r.p || core_export(ci, r.p, a->name, &v.ext))
            return fail(ci, KUMO_EINVALID, "core instance %u has no export "
                        "`%.*s`", a->instance, (int)a->name.len, a->name.s);
        break;
    case KC_ALIAS_EXPORT: {
        if ((rc = get(ci, f, KC_INSTANCE, a->instance, &r)))
            return rc;
        const kc_rexport *e = find_export(r.p, a->name);
        if (!e || e->sort != a->sort)
            return fail(ci, KUMO_EINVALID, "instance %u has no %s export "
                        "`%.*s`", a->instance, kc_sort_name(a->sort),
                        (int)a->name.len, a->name.s);
        v = e->v;
        break;
    }
    default: {
        kc_frame *o = f;
        for (uint32_t i = 0; i < a->outer_count && o; i++)
            o = o->parent;
        if (!o)
            return fail(ci, KUMO_EINVALID, "outer alias beyond the root");
        if ((rc = get(ci, o, a->sort, a->outer_index, &v)))
            return rc;
        break;
    }
    }
    return push(ci, f, a->sort, v);
}

/* ---- core instances */

static int
core_instance(kc_ci *ci, kc_frame *f, const kc_instance *in)
{
    kc_rcore *c = kc_alloc(&ci->arena, sizeof *c);
    kc_rv r;
    int rc;
    if (!c)
        return nomem(ci);
    if (in->from_exports) {
        c->names = kc_alloc(&ci->arena, (in->nargs + 1) * sizeof *c->names);
        c->exts = kc_alloc(&ci->arena, (in->nargs + 1) * sizeof *c->exts);
        if (!c->names || !c->exts)
            return nomem(ci);
        for (uint32_t i = 0; i < in->nargs; i++) {
            if ((rc = get(ci, f, in->args[i].sort, in->args[i].idx, &r)))
                return rc;
            c->names[i] = in->args[i].name.name;
            c->exts[i] = r.ext;
        }
        c->n = in->nargs;
        return push(ci, f, KC_CORE_INSTANCE, (kc_rv){.p = c});
    }
    if ((rc = get(ci, f, KC_CORE_MODULE, in->target, &r)))
        return rc;
    const kumo_module *m = r.p;
    uint32_t ni = kumo_module_import_count(m);
    kumo_extern *imps = kc_alloc(&ci->arena, (ni + 1) * sizeof *imps);
    if (!imps)
        return nomem(ci);
    for (uint32_t i = 0; i < ni; i++) {
        kumo_externdesc d;
        kumo_module_import(m, i, &d);
        const kc_rcore *src = NULL;
        for (uint32_t k = 0; k < in->nargs; k++) {
            kc_str an = in->args[k].name.name;
            if (an.len == d.module_len && !memcmp(an.s, d.module, an.len) &&
                in->args[k].idx < f->n[KC_CORE_INSTANCE])
                src = f->sp[KC_CORE_INSTANCE][in->args[k].idx].p;
        }
        kc_str fname = {d.name, d.name_len};
        if (!src || core_export(ci, src, fname, &imps[i]))
            return fail(ci, KUMO_EUNLINKABLE,
                        "core module %u: missing import `%.*s` `%.*s`",
                        in->target, (int)d.module_len, d.module,
                        (int)d.name_len, d.name);
    }
    kumo_diag d = {0};
    rc = kumo_instance_new(ci->store, m, imps, ni, &c->inst, &d);
    if (rc)
        return fail(ci, rc, "core instance of module %u: %s", in->target,
                    d.message);
    return push(ci, f, KC_CORE_INSTANCE, (kc_rv){.p = c});
}

static int
core_module(kc_ci *ci, kc_frame *f, const kc_range *rg)
{
    kumo_module *m = kc_modcache_get(ci->comp, rg->offset);
    kumo_diag d = {0};
    if (m) /* compiled by validation, owned by the component */
        return push(ci, f, KC_CORE_MODULE, (kc_rv){.p = m});
    int rc = kc_core_module_new(ci->comp->bytes + rg->offset, rg->len, &m, &d);
    if (rc)
        return fail(ci, rc, "core module at offset %zu: %s", rg->offset,
                    d.message);
    if (kb_reserve((void **)&ci->mods, &ci->cap_mods, ci->nmods + 1,
                   sizeof *ci->mods)) {
        kumo_module_free(m);
        return nomem(ci);
    }
    ci->mods[ci->nmods++] = m;
    return push(ci, f, KC_CORE_MODULE, (kc_rv){.p = m});
}

/* ---- canonical definitions */

static int
opts(kc_ci *ci, kc_frame *f, const kc_canonopts *o, kc_opts *out)
{
    kc_rv r;
    int rc;
    memset(out, 0, sizeof *out);
    out->enc = o->string_encoding;
    if (o->async || o->has_callback)
        return fail(ci, KUMO_EUNSUPPORTED, "unsupported canonical option "
                                           "`async`");
    if (o->has_memory) {
        if ((rc = get(ci, f, KC_CORE_MEMORY, o->memory, &r)))
            return rc;
        out->mem = r.ext.u.memory;
    }
    if (o->has_realloc) {
        if ((rc = get(ci, f, KC_CORE_FUNC, o->realloc, &r)))
            return rc;
        out->realloc = r.ext.u.func;
    }
    if (o->has_post_return) {
        if ((rc = get(ci, f, KC_CORE_FUNC, o->post_return, &r)))
            return rc;
        out->post_return = r.ext.u.func;
    }
    return 0;
}

static bool
sig_equal(const kumo_functype *a, const kumo_functype *b)
{
    if (a->nparams != b->nparams || a->nresults != b->nresults)
        return false;
    for (uint32_t i = 0; i < a->nparams; i++)
        if (a->params[i] != b->params[i])
            return false;
    for (uint32_t i = 0; i < a->nresults; i++)
        if (a->results[i] != b->results[i])
            return false;
    return true;
}

static int
canon_lift(kc_ci *ci, kc_frame *f, const kc_canon *c)
{
    kc_rv r, t;
    int rc;
    kc_rfunc *fn = kc_alloc(&ci->arena, sizeof *fn);
    if (!fn)
        return nomem(ci);
    if ((rc = get(ci, f, KC_CORE_FUNC, c->func, &r)) ||
        (rc = get(ci, f, KC_TYPE, c->type, &t)) ||
        (rc = opts(ci, f, &c->opts, &fn->opts)))
        return rc;
    const kumo_ctype *ft = t.p;
    if (!ft || ft->kind != KUMO_CV_FUNC)
        return fail(ci, KUMO_EINVALID, "canon lift: type %u is not a function "
                                       "type", c->type);
    if (!type_usable(ft))
        return fail(ci, KUMO_EUNSUPPORTED, "canon lift: unsupported value "
                                           "type (stream, future, ...)");
    kumo_functype want;
    if (kc_core_sig(&ci->arena, ft, false, &want))
        return nomem(ci);
    if (!sig_equal(&want, kumo_func_type(r.ext.u.func)))
        return fail(ci, KUMO_EINVALID, "canon lift: core function type does "
                                       "not match the flattened type");
    fn->type = ft;
    fn->kind = KC_RF_LIFTED;
    fn->core = r.ext.u.func;
    fn->inst = f->rinst;
    fn->top = ci;
    fn->name = "lifted function";
    return push(ci, f, KC_FUNC, (kc_rv){.p = fn});
}

static int
canon(kc_ci *ci, kc_frame *f, const kc_canon *c)
{
    kc_rv r;
    kumo_func *core = NULL;
    int rc;
    switch (c->op) {
    case KC_CANON_LIFT:
        return canon_lift(ci, f, c);
    case KC_CANON_LOWER: {
        kc_opts o;
        if ((rc = get(ci, f, KC_FUNC, c->func, &r)) ||
            (rc = opts(ci, f, &c->opts, &o)))
            return rc;
        kc_rfunc *callee = r.p;
        if (!type_usable(callee->type))
            return fail(ci, KUMO_EUNSUPPORTED, "canon lower: unsupported "
                                               "value type (stream, ...)");
        if ((rc = kc_lowered_new(ci, callee, &o, f->rinst, &core)))
            return fail(ci, rc, "canon lower: %s", kumo_strerror(rc));
        break;
    }
    case KC_CANON_RESOURCE_NEW:
    case KC_CANON_RESOURCE_DROP:
    case KC_CANON_RESOURCE_REP: {
        if ((rc = get(ci, f, KC_TYPE, c->type, &r)))
            return rc;
        const kumo_ctype *rt = r.p;
        if (!rt || rt->kind != KUMO_CV_RESOURCE)
            return fail(ci, KUMO_EINVALID, "%s: type %u is not a resource",
                        kc_canon_name(c->op), c->type);
        if ((rc = kc_builtin_new(ci, c->op, rt->res, f->rinst, &core)))
            return fail(ci, rc, "%s: %s", kc_canon_name(c->op),
                        kumo_strerror(rc));
        break;
    }
    default:
        return fail(ci, KUMO_EUNSUPPORTED,
                    "unsupported canonical built-in `%s`",
                    kc_canon_name(c->op));
    }
    kc_rv v = {.ext = {.kind = KUMO_EXTERN_FUNC, .u.func = core}};
    return push(ci, f, KC_CORE_FUNC, v);
}

/* ---- imports */

static int instantiate_body(kc_ci *ci, kc_frame *f);
static int eval_instance_type(kc_ci *ci, const kumo_ctype *it,
                              const kc_rcinst *bind, kc_str iface,
                              kc_rcinst **out);

static int
host_import(kc_ci *ci, kc_frame *f, const kc_import *im, kc_rv *v)
{
    const kc_extern *x = &im->ext;
    kc_str name = im->name.name, none = {"", 0};
    kc_rv t;
    int rc;
    switch (x->kind) {
    case KUMO_COMPONENT_FUNC: {
        if ((rc = get(ci, f, KC_TYPE, x->idx, &t)))
            return rc;
        kc_rfunc *fn;
        if ((rc = kc_linker_func(ci->linker, none, name, ci, t.p, &fn)))
            return fail(ci, rc, "missing import: function `%.*s`",
                        (int)name.len, name.s);
        v->p = fn;
        return 0;
    }
    case KUMO_COMPONENT_INSTANCE:
        if ((rc = get(ci, f, KC_TYPE, x->idx, &t)))
            return rc;
        if (ci->linker && !kc_linker_has_iface(ci->linker, name))
            return fail(ci, KUMO_EUNLINKABLE,
                        "missing import: instance `%.*s`", (int)name.len,
                        name.s);
        return eval_instance_type(ci, t.p, NULL, name,
                                  (kc_rcinst **)&v->p);
    case KUMO_COMPONENT_TYPE:
        if (x->bound == 0) {
            if ((rc = get(ci, f, KC_TYPE, x->idx, &t)))
                return rc;
            v->p = t.p;
            return 0;
        } else {
            kumo_cresource *r;
            if ((rc = kc_linker_resource(ci->linker, none, name, ci, &r)))
                return fail(ci, rc, "missing import: resource type `%.*s`",
                            (int)name.len, name.s);
            v->p = &r->type;
            return 0;
        }
    default:
        return fail(ci, KUMO_EUNSUPPORTED,
                    "import `%.*s`: unsupported import kind from the host",
                    (int)name.len, name.s);
    }
}

static int
import(kc_ci *ci, kc_frame *f, const kc_import *im)
{
    kc_sort s = kc_extern_sort(im->ext.kind);
    kc_rv v = {0};
    int rc;
    if (!f->args) {
        if ((rc = host_import(ci, f, im, &v)))
            return rc;
        return push(ci, f, s, v);
    }
    kc_str name = im->name.name;
    const kc_rexport *a = find_export(f->args, name);
    if (!a)
        return fail(ci, KUMO_EUNLINKABLE, "missing import: `%.*s`",
                    (int)name.len, name.s);
    if (a->sort != s)
        return fail(ci, KUMO_EUNLINKABLE, "import `%.*s`: expected a %s, "
                    "found a %s", (int)name.len, name.s, kc_sort_name(s),
                    kc_sort_name(a->sort));
    v = a->v;
    kc_rv t;
    if (s == KC_FUNC) {
        if ((rc = get(ci, f, KC_TYPE, im->ext.idx, &t)))
            return rc;
        const kc_rfunc *fn = v.p;
        if (!kc_type_equal(t.p, fn->type))
            return fail(ci, KUMO_EUNLINKABLE,
                        "import `%.*s`: function type mismatch",
                        (int)name.len, name.s);
    } else if (s == KC_INSTANCE) {
        if ((rc = get(ci, f, KC_TYPE, im->ext.idx, &t)) ||
            (rc = eval_instance_type(ci, t.p, v.p, name,
                                     (kc_rcinst **)&v.p)))
            return rc;
    } else if (s == KC_TYPE && im->ext.bound == 0) {
        if ((rc = get(ci, f, KC_TYPE, im->ext.idx, &t)))
            return rc;
        if (!kc_type_equal(t.p, v.p))
            return fail(ci, KUMO_EUNLINKABLE, "import `%.*s`: type mismatch",
                        (int)name.len, name.s);
    }
    return push(ci, f, s, v);
}

/* An export declarator of an instance type being evaluated. */
static int
decl_export(kc_ci *ci, kc_frame *f, const kc_export *e, kc_rcinst *out)
{
    kc_sort s = kc_extern_sort(e->ext.kind);
    kc_str name = e->name.name;
    const kc_rexport *b = f->bind ? find_export(f->bind, name) : NULL;
    kc_rv v = {0}, t;
    int rc;
    if (f->bind && (!b || b->sort != s))
        return fail(ci, KUMO_EUNLINKABLE, "missing import: %s `%.*s` of "
                    "instance `%.*s`", kc_sort_name(s), (int)name.len, name.s,
                    (int)f->iface.len, f->iface.s);
    switch (s) {
    case KC_FUNC:
        if ((rc = get(ci, f, KC_TYPE, e->ext.idx, &t)))
            return rc;
        if (b) {
            v = b->v;
            if (!kc_type_equal(t.p, ((kc_rfunc *)v.p)->type))
                return fail(ci, KUMO_EUNLINKABLE, "import `%.*s`: function "
                            "`%.*s` has a mismatched type", (int)f->iface.len,
                            f->iface.s, (int)name.len, name.s);
        } else {
            kc_rfunc *fn;
            if ((rc = kc_linker_func(ci->linker, f->iface, name, ci, t.p,
                                     &fn)))
                return fail(ci, rc, "missing import: function `%.*s` of "
                            "instance `%.*s`", (int)name.len, name.s,
                            (int)f->iface.len, f->iface.s);
            v.p = fn;
        }
        break;
    case KC_TYPE:
        if (e->ext.bound == 0) {
            if ((rc = get(ci, f, KC_TYPE, e->ext.idx, &t)))
                return rc;
            v.p = t.p;
        } else if (b) {
            v = b->v;
        } else {
            kumo_cresource *r;
            if ((rc = kc_linker_resource(ci->linker, f->iface, name, ci, &r)))
                return fail(ci, rc, "missing import: resource type `%.*s` of "
                            "instance `%.*s`", (int)name.len, name.s,
                            (int)f->iface.len, f->iface.s);
            v.p = &r->type;
        }
        break;
    case KC_INSTANCE:
        if ((rc = get(ci, f, KC_TYPE, e->ext.idx, &t)) ||
            (rc = eval_instance_type(ci, t.p, b ? b->v.p : NULL, name,
                                     (kc_rcinst **)&v.p)))
            return rc;
        break;
    default:
        if (!b)
            return fail(ci, KUMO_EUNSUPPORTED, "unsupported %s export `%.*s` "
                        "in an imported instance", kc_sort_name(s),
                        (int)name.len, name.s);
        v = b->v;
        break;
    }
    if ((rc = add_export(ci, out, name, s, v)))
        return rc;
    return push(ci, f, s, v);
}

/* Declarators of a type body do not keep their order in defs: rebuild it
 * from the offsets of the index-space entries. */
typedef struct decl_item {
    size_t offset;
    kc_sort sort;
    uint8_t origin;
    uint32_t ref;
} decl_item;

static size_t
item_offset(const kc_body *b, const kc_item *it)
{
    switch (it->origin) {
    case KC_FROM_ALIAS:
        return b->aliases[it->ref].offset;
    case KC_FROM_IMPORT:
        return b->imports[it->ref].offset;
    case KC_FROM_EXPORT:
        return b->exports[it->ref].offset;
    default:
        return 0;
    }
}

static int
decl_order(kc_ci *ci, kc_body *b, decl_item **out, uint32_t *nout)
{
    uint32_t n = 0, k = 0;
    for (int s = 0; s < KC_NSORTS; s++)
        n += b->spaces[s].n;
    decl_item *v = kc_alloc(&ci->arena, (n + 1) * sizeof *v);
    if (!v)
        return nomem(ci);
    for (int s = 0; s < KC_NSORTS; s++)
        for (uint32_t i = 0; i < b->spaces[s].n; i++) {
            const kc_item *it = &b->spaces[s].items[i];
            decl_item d = {item_offset(b, it), (kc_sort)s, it->origin,
                           it->ref};
            if (it->origin == KC_FROM_DEF)
                d.offset = s == KC_CORE_TYPE ? b->core_types[it->ref]->offset
                                             : b->types[it->ref]->offset;
            uint32_t j = k++;
            while (j > 0 && v[j - 1].offset > d.offset) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = d;
        }
    *out = v;
    *nout = k;
    return 0;
}

static int
eval_instance_type(kc_ci *ci, const kumo_ctype *it, const kc_rcinst *bind,
                   kc_str iface, kc_rcinst **out)
{
    if (!it || it->kind != KUMO_CV_INSTANCE)
        return fail(ci, KUMO_EINVALID, "import `%.*s`: not an instance type",
                    (int)iface.len, iface.s);
    kc_frame *f = kc_alloc(&ci->arena, sizeof *f);
    kc_rcinst *x = kc_alloc(&ci->arena, sizeof *x);
    if (!f || !x)
        return nomem(ci);
    f->body = it->body;
    f->parent = it->scope;
    f->rinst = it->scope ? it->scope->rinst : NULL;
    f->bind = bind;
    f->iface = iface;
    kc_body *b = it->body;
    uint32_t n = 0;
    decl_item *items = NULL;
    int rc = decl_order(ci, b, &items, &n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        uint32_t ref = items[i].ref;
        switch (items[i].origin) {
        case KC_FROM_DEF:
            if (items[i].sort == KC_CORE_TYPE) {
                rc = push(ci, f, KC_CORE_TYPE, (kc_rv){0});
            } else {
                const kumo_ctype *t;
                if (!(rc = deftype(ci, f, b->types[ref], &t)))
                    rc = push(ci, f, KC_TYPE, (kc_rv){.p = (void *)t});
            }
            break;
        case KC_FROM_ALIAS:
            rc = alias(ci, f, &b->aliases[ref]);
            break;
        case KC_FROM_EXPORT:
            rc = decl_export(ci, f, &b->exports[ref], x);
            break;
        default:
            rc = push(ci, f, items[i].sort, (kc_rv){0});
            break;
        }
    }
    *out = x;
    return rc;
}

/* ---- component instances */

static int
new_rinst(kc_ci *ci, kc_rinst **out)
{
    kc_rinst *ri = kc_alloc(&ci->arena, sizeof *ri);
    if (!ri || kb_reserve((void **)&ci->rinsts, &ci->cap_rinsts,
                          ci->nrinsts + 1, sizeof *ci->rinsts))
        return nomem(ci);
    ri->may_leave = true;
    ri->top = ci;
    ci->rinsts[ci->nrinsts++] = ri;
    *out = ri;
    return 0;
}

static int
instance(kc_ci *ci, kc_frame *f, const kc_instance *in)
{
    kc_rcinst *args = kc_alloc(&ci->arena, sizeof *args);
    kc_rv r;
    int rc;
    if (!args)
        return nomem(ci);
    for (uint32_t i = 0; i < in->nargs; i++) {
        if ((rc = get(ci, f, in->args[i].sort, in->args[i].idx, &r)) ||
            (rc = add_export(ci, args, in->args[i].name.name,
                             in->args[i].sort, r)))
            return rc;
    }
    if (in->from_exports)
        return push(ci, f, KC_INSTANCE, (kc_rv){.p = args});
    if ((rc = get(ci, f, KC_COMPONENT, in->target, &r)))
        return rc;
    const kc_rcomp *c = r.p;
    if (!c)
        return fail(ci, KUMO_EUNSUPPORTED, "component %u is not available",
                    in->target);
    kc_frame *nf = kc_alloc(&ci->arena, sizeof *nf);
    kc_rcinst *ex = kc_alloc(&ci->arena, sizeof *ex);
    if (!nf || !ex)
        return nomem(ci);
    nf->body = c->body;
    nf->parent = c->scope;
    nf->args = args;
    nf->exports = ex;
    if ((rc = new_rinst(ci, &nf->rinst)) || (rc = instantiate_body(ci, nf)))
        return rc;
    return push(ci, f, KC_INSTANCE, (kc_rv){.p = ex});
}

static int
export(kc_ci *ci, kc_frame *f, const kc_export *e)
{
    kc_rv v;
    int rc = get(ci, f, e->sort, e->idx, &v);
    if (rc || (rc = add_export(ci, f->exports, e->name.name, e->sort, v)))
        return rc;
    return push(ci, f, e->sort, v);
}

static int
definition(kc_ci *ci, kc_frame *f, const kc_def *d)
{
    kc_body *b = f->body;
    switch (d->kind) {
    case KC_DEF_CORE_MODULE:
        return core_module(ci, f, &b->modules[d->ref]);
    case KC_DEF_CORE_INSTANCE:
        return core_instance(ci, f, &b->core_instances[d->ref]);
    case KC_DEF_CORE_TYPE:
        return push(ci, f, KC_CORE_TYPE, (kc_rv){0});
    case KC_DEF_COMPONENT: {
        kc_rcomp *c = kc_alloc(&ci->arena, sizeof *c);
        if (!c)
            return nomem(ci);
        c->body = b->components[d->ref];
        c->scope = f;
        return push(ci, f, KC_COMPONENT, (kc_rv){.p = c});
    }
    case KC_DEF_INSTANCE:
        return instance(ci, f, &b->instances[d->ref]);
    case KC_DEF_ALIAS:
        return alias(ci, f, &b->aliases[d->ref]);
    case KC_DEF_TYPE: {
        const kumo_ctype *t;
        int rc = deftype(ci, f, b->types[d->ref], &t);
        return rc ? rc : push(ci, f, KC_TYPE, (kc_rv){.p = (void *)t});
    }
    case KC_DEF_CANON:
        return canon(ci, f, &b->canons[d->ref]);
    case KC_DEF_IMPORT:
        return import(ci, f, &b->imports[d->ref]);
    case KC_DEF_EXPORT:
        return export(ci, f, &b->exports[d->ref]);
    case KC_DEF_START:
        return fail(ci, KUMO_EUNSUPPORTED, "unsupported component start "
                                           "function");
    default:
        return fail(ci, KUMO_EUNSUPPORTED, "unsupported value definition");
    }
}

static int
instantiate_body(kc_ci *ci, kc_frame *f)
{
    for (uint32_t i = 0; i < f->body->ndefs; i++) {
        int rc = definition(ci, f, &f->body->defs[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int
kumo_component_instantiate(kumo_store *s, const kumo_component *c,
                           kumo_clinker *l, kumo_cinstance **out,
                           kumo_diag *diag)
{
    *out = NULL;
    kc_ci *ci = kb_calloc(1, sizeof *ci);
    if (!ci)
        return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    ci->store = s;
    ci->comp = c;
    ci->linker = l;
    ci->diag = diag;
    int rc = KUMO_ENOMEM;
    kc_frame *f = kc_alloc(&ci->arena, sizeof *f);
    ci->exports = kc_alloc(&ci->arena, sizeof *ci->exports);
    if (!f || !ci->exports) {
        nomem(ci);
        goto fail;
    }
    f->body = c->root;
    f->exports = ci->exports;
    if ((rc = new_rinst(ci, &f->rinst)) || (rc = instantiate_body(ci, f)))
        goto fail;
    ci->diag = NULL;
    *out = ci;
    return 0;
fail:
    ci->diag = NULL;
    kumo_cinstance_free(ci);
    return rc;
}

void
kumo_cinstance_free(kumo_cinstance *ci)
{
    if (!ci)
        return;
    for (uint32_t i = 0; i < ci->nrinsts; i++)
        kc_rinst_fini(ci->rinsts[i]);
    kb_free(ci->rinsts);
    for (uint32_t i = 0; i < ci->nmods; i++)
        kumo_module_free(ci->mods[i]);
    kb_free(ci->mods);
    kc_arena_free(&ci->arena);
    kb_free(ci);
}
