/* cinst.c - pre-instantiation: walk a component's definitions in binary
 * order once, building the index spaces (core modules, core instances,
 * aliases, types, canonical functions, nested components and instances,
 * imports resolved from the enclosing instantiation or the host linker,
 * exports) as a plan (canon.h): what does not depend on a store is made
 * here, once; what does (core instances and their exports, lifted and
 * lowered functions, handle tables) becomes a step filling a slot, which
 * cstep.c runs for each instance. Instance and component types of imports
 * are evaluated against what is supplied, which binds their abstract
 * resource types. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "canon.h"

typedef struct kc_frame kc_frame;
struct kc_frame {
    kc_body *body;
    kc_frame *parent; /* lexically enclosing scope (outer aliases) */
    kc_rv *sp[KC_NSORTS];
    uint32_t n[KC_NSORTS], cap[KC_NSORTS];
    kc_rv rinst; /* the handle table (a slot) */
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

typedef struct kumo_cpre kc_pre;

static int
fail(kc_pre *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(kc_pre *p, int code, const char *fmt, ...)
{
    if (p->diag) {
        va_list ap;
        va_start(ap, fmt);
        p->diag->code = code;
        p->diag->offset = 0;
        p->diag->func_index = UINT32_MAX;
        vsnprintf(p->diag->message, sizeof p->diag->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int
nomem(kc_pre *p)
{
    return fail(p, KUMO_ENOMEM, "out of memory");
}

/* A new step filling a new slot; *out is valid until the next step. */
static int
step(kc_pre *p, kc_stepkind kind, kc_step **out)
{
    if (kb_reserve((void **)&p->steps, &p->cap_steps, p->nsteps + 1,
                   sizeof *p->steps))
        return nomem(p);
    kc_step *s = &p->steps[p->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = (uint8_t)kind;
    s->slot = p->nslots++;
    *out = s;
    return 0;
}

static kc_rv
slot_rv(const kc_step *s)
{
    return (kc_rv){.slot = s->slot + 1};
}

static int
push(kc_pre *p, kc_frame *f, kc_sort s, kc_rv v)
{
    if (f->n[s] == f->cap[s] &&
        kc_grow(&p->arena, (void **)&f->sp[s], &f->cap[s], f->n[s] + 1,
                sizeof(kc_rv)))
        return nomem(p);
    f->sp[s][f->n[s]++] = v;
    return 0;
}

static int
get(kc_pre *p, kc_frame *f, kc_sort s, uint32_t i, kc_rv *out)
{
    memset(out, 0, sizeof *out);
    if (i >= f->n[s])
        return fail(p, KUMO_EINVALID, "%s index %u out of bounds",
                    kc_sort_name(s), i);
    *out = f->sp[s][i];
    return 0;
}

static int
add_export(kc_pre *p, kc_rcinst *x, kc_str name, kc_sort s, kc_rv v)
{
    if (kc_grow(&p->arena, (void **)&x->ex, &x->cap, x->n + 1,
                sizeof *x->ex))
        return nomem(p);
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
valtype(kc_pre *p, kc_frame *f, kc_valtype v, const kumo_ctype **out)
{
    if (v.prim) {
        *out = kc_prim_type(v.prim);
        if (!*out)
            return fail(p, KUMO_EUNSUPPORTED, "unsupported value type 0x%02x",
                        v.prim);
        return 0;
    }
    kc_rv r;
    int rc = get(p, f, KC_TYPE, v.idx, &r);
    if (rc)
        return rc;
    *out = r.p;
    if (!*out)
        return fail(p, KUMO_EINVALID, "type %u is not a value type", v.idx);
    return 0;
}

static int
fields(kc_pre *p, kc_frame *f, const kc_type *t, kumo_ctype *o, bool labels)
{
    o->n = t->nfields;
    kc_str *ls = kc_alloc(&p->arena, (t->nfields + 1) * sizeof *ls);
    const kumo_ctype **ms = kc_alloc(&p->arena, (t->nfields + 1) * sizeof *ms);
    if (!ls || !ms)
        return nomem(p);
    for (uint32_t i = 0; i < t->nfields; i++) {
        ls[i] = t->fields[i].name;
        int rc;
        if (t->fields[i].has_type &&
            (rc = valtype(p, f, t->fields[i].type, &ms[i])))
            return rc;
    }
    o->labels = labels ? ls : NULL;
    o->members = ms;
    return 0;
}

static int
members(kc_pre *p, kc_frame *f, kumo_ctype *o, uint32_t n, bool has_a,
        kc_valtype a, bool has_b, kc_valtype b)
{
    const kumo_ctype **ms = kc_alloc(&p->arena, 2 * sizeof *ms);
    if (!ms)
        return nomem(p);
    int rc;
    if (has_a && (rc = valtype(p, f, a, &ms[0])))
        return rc;
    if (has_b && (rc = valtype(p, f, b, &ms[1])))
        return rc;
    o->n = n;
    o->members = ms;
    return 0;
}

static int
map_type(kc_pre *p, kc_frame *f, const kc_type *t, kumo_ctype *o)
{
    kumo_ctype *pair = kc_alloc(&p->arena, sizeof *pair);
    const kumo_ctype **elem = kc_alloc(&p->arena, sizeof *elem);
    int rc;

    if (!pair || !elem)
        return nomem(p);
    pair->kind = KUMO_CV_TUPLE;
    if ((rc = members(p, f, pair, 2, true, t->a, true, t->b)))
        return rc;
    if (kc_type_layout(&p->arena, pair))
        return nomem(p);
    elem[0] = pair;
    o->kind = KUMO_CV_LIST;
    o->n = 1;
    o->members = elem;
    return 0;
}

static int
new_resource(kc_pre *p, kc_frame *f, const kc_type *t, const kumo_ctype **out)
{
    kumo_cresource *r = kc_alloc(&p->arena, sizeof *r);
    if (!r)
        return nomem(p);
    r->type.kind = KUMO_CV_RESOURCE;
    r->type.res = r;
    r->guest = true;
    r->pre = p;
    r->impl_slot = f->rinst.slot;
    if (t->has_dtor) {
        kc_rv v;
        int rc = get(p, f, KC_CORE_FUNC, t->dtor, &v);
        if (rc)
            return rc;
        r->dtor_slot = v.slot;
    }
    *out = &r->type;
    return 0;
}

/* Resolve a type definition of scope f. */
static int
deftype(kc_pre *p, kc_frame *f, const kc_type *t, const kumo_ctype **out)
{
    int rc = 0;
    if (t->kind == KC_T_PRIM) {
        *out = kc_prim_type(t->prim);
        return *out ? 0 : fail(p, KUMO_EUNSUPPORTED, "unsupported type");
    }
    if (t->kind == KC_T_RESOURCE)
        return new_resource(p, f, t, out);
    kumo_ctype *o = kc_alloc(&p->arena, sizeof *o);
    if (!o)
        return nomem(p);
    switch (t->kind) {
    case KC_T_RECORD:
        o->kind = KUMO_CV_RECORD;
        rc = fields(p, f, t, o, true);
        break;
    case KC_T_VARIANT:
        o->kind = KUMO_CV_VARIANT;
        rc = fields(p, f, t, o, true);
        break;
    case KC_T_TUPLE:
        o->kind = KUMO_CV_TUPLE;
        rc = fields(p, f, t, o, false);
        break;
    case KC_T_FLAGS:
    case KC_T_ENUM:
        o->kind = t->kind == KC_T_FLAGS ? KUMO_CV_FLAGS : KUMO_CV_ENUM;
        rc = fields(p, f, t, o, true);
        o->members = NULL;
        break;
    case KC_T_LIST:
    case KC_T_OPTION:
        o->kind = t->kind == KC_T_LIST ? KUMO_CV_LIST : KUMO_CV_OPTION;
        rc = members(p, f, o, 1, true, t->a, false, t->b);
        break;
    case KC_T_RESULT:
        o->kind = KUMO_CV_RESULT;
        rc = members(p, f, o, 2, t->has_a, t->a, t->has_b, t->b);
        break;
    case KC_T_MAP: /* map<K, V> is list<tuple<K, V>> */
        rc = map_type(p, f, t, o);
        break;
    case KC_T_OWN:
    case KC_T_BORROW: {
        kc_rv r;
        o->kind = t->kind == KC_T_OWN ? KUMO_CV_OWN : KUMO_CV_BORROW;
        if ((rc = get(p, f, KC_TYPE, t->handle, &r)))
            return rc;
        const kumo_ctype *rt = r.p;
        if (!rt || rt->kind != KUMO_CV_RESOURCE)
            return fail(p, KUMO_EINVALID, "type %u is not a resource",
                        t->handle);
        o->res = rt->res;
        break;
    }
    case KC_T_FUNC:
        o->kind = KUMO_CV_FUNC;
        if ((rc = fields(p, f, t, o, true)))
            return rc;
        if (t->has_a)
            rc = valtype(p, f, t->a, &o->result);
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
    if (kc_type_layout(&p->arena, o))
        return nomem(p);
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

/* Export `name` of core instance c (a bag: its value; an instance: a step
 * taking it from the instance, after checking that its module has it). */
static int
core_export(kc_pre *p, kc_rv c, kc_str name, kc_rv *out)
{
    const kc_rcore *rc = c.p;
    if (!rc)
        return KUMO_ENOTFOUND;
    if (!rc->mod) {
        for (uint32_t i = 0; i < rc->n; i++)
            if (rc->names[i].len == name.len &&
                memcmp(rc->names[i].s, name.s, name.len) == 0) {
                *out = rc->vals[i];
                return 0;
            }
        return KUMO_ENOTFOUND;
    }
    uint32_t n = kumo_module_export_count(rc->mod);
    for (uint32_t i = 0; i < n; i++) {
        kumo_externdesc d;
        kumo_module_export(rc->mod, i, &d);
        if (d.name_len != name.len || memcmp(d.name, name.s, name.len))
            continue;
        kc_step *s;
        kc_rv *src = kc_alloc(&p->arena, sizeof *src);
        if (!src || step(p, KC_STEP_CORE_EXPORT, &s))
            return KUMO_ENOMEM;
        *src = c;
        s->args = src;
        s->n = 1;
        s->name = name;
        *out = slot_rv(s);
        out->ext.kind = d.kind;
        return 0;
    }
    return KUMO_ENOTFOUND;
}

static int
alias(kc_pre *p, kc_frame *f, const kc_alias *a)
{
    kc_rv v = {0}, r;
    int rc;
    switch (a->kind) {
    case KC_ALIAS_CORE_EXPORT:
        if ((rc = get(p, f, KC_CORE_INSTANCE, a->instance, &r)))
            return rc;
        if ((rc = core_export(p, r, a->name, &v)))
            return rc == KUMO_ENOMEM
                       ? nomem(p)
                       : fail(p, KUMO_EINVALID, "core instance %u has no "
                              "export `%.*s`", a->instance,
                              (int)a->name.len, a->name.s);
        break;
    case KC_ALIAS_EXPORT: {
        if ((rc = get(p, f, KC_INSTANCE, a->instance, &r)))
            return rc;
        const kc_rexport *e = find_export(r.p, a->name);
        if (!e || e->sort != a->sort)
            return fail(p, KUMO_EINVALID, "instance %u has no %s export "
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
            return fail(p, KUMO_EINVALID, "outer alias beyond the root");
        if ((rc = get(p, o, a->sort, a->outer_index, &v)))
            return rc;
        break;
    }
    }
    return push(p, f, a->sort, v);
}

/* ---- core instances */

static int
core_instance(kc_pre *p, kc_frame *f, const kc_instance *in)
{
    kc_rcore *c = kc_alloc(&p->arena, sizeof *c);
    kc_rv r;
    int rc;
    if (!c)
        return nomem(p);
    if (in->from_exports) {
        c->names = kc_alloc(&p->arena, (in->nargs + 1) * sizeof *c->names);
        c->vals = kc_alloc(&p->arena, (in->nargs + 1) * sizeof *c->vals);
        if (!c->names || !c->vals)
            return nomem(p);
        for (uint32_t i = 0; i < in->nargs; i++) {
            if ((rc = get(p, f, in->args[i].sort, in->args[i].idx, &r)))
                return rc;
            c->names[i] = in->args[i].name.name;
            c->vals[i] = r;
        }
        c->n = in->nargs;
        return push(p, f, KC_CORE_INSTANCE, (kc_rv){.p = c});
    }
    if ((rc = get(p, f, KC_CORE_MODULE, in->target, &r)))
        return rc;
    const kumo_module *m = r.p;
    uint32_t ni = kumo_module_import_count(m);
    kc_rv *imps = kc_alloc(&p->arena, (ni + 1) * sizeof *imps);
    if (!imps)
        return nomem(p);
    for (uint32_t i = 0; i < ni; i++) {
        kumo_externdesc d;
        kumo_module_import(m, i, &d);
        kc_rv src = {0};
        for (uint32_t k = 0; k < in->nargs; k++) {
            kc_str an = in->args[k].name.name;
            if (an.len == d.module_len && !memcmp(an.s, d.module, an.len) &&
                in->args[k].idx < f->n[KC_CORE_INSTANCE])
                src = f->sp[KC_CORE_INSTANCE][in->args[k].idx];
        }
        kc_str fname = {d.name, d.name_len};
        if ((rc = core_export(p, src, fname, &imps[i])))
            return rc == KUMO_ENOMEM
                       ? nomem(p)
                       : fail(p, KUMO_EUNLINKABLE,
                              "core module %u: missing import `%.*s` `%.*s`",
                              in->target, (int)d.module_len, d.module,
                              (int)d.name_len, d.name);
    }
    kc_step *s;
    if ((rc = step(p, KC_STEP_CORE_INSTANCE, &s)))
        return rc;
    s->mod = m;
    s->n = ni;
    s->args = imps;
    s->index = in->target;
    c->mod = m;
    kc_rv v = slot_rv(s);
    v.p = c;
    return push(p, f, KC_CORE_INSTANCE, v);
}

static int
core_module(kc_pre *p, kc_frame *f, const kc_range *rg)
{
    kumo_module *m = kc_modcache_get(p->comp, rg->offset);
    kumo_diag d = {0};
    if (m) /* compiled by validation, owned by the component */
        return push(p, f, KC_CORE_MODULE, (kc_rv){.p = m});
    int rc = kc_core_module_new(p->comp->bytes + rg->offset, rg->len, &m, &d);
    if (rc)
        return fail(p, rc, "core module at offset %zu: %s", rg->offset,
                    d.message);
    if (kb_reserve((void **)&p->mods, &p->cap_mods, p->nmods + 1,
                   sizeof *p->mods)) {
        kumo_module_free(m);
        return nomem(p);
    }
    p->mods[p->nmods++] = m;
    return push(p, f, KC_CORE_MODULE, (kc_rv){.p = m});
}

/* ---- canonical definitions */

static int
opts(kc_pre *p, kc_frame *f, const kc_canonopts *o, kc_popts *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    out->enc = o->string_encoding;
    if (o->async || o->has_callback)
        return fail(p, KUMO_EUNSUPPORTED, "unsupported canonical option "
                                          "`async`");
    if (o->has_memory &&
        (rc = get(p, f, KC_CORE_MEMORY, o->memory, &out->mem)))
        return rc;
    if (o->has_realloc &&
        (rc = get(p, f, KC_CORE_FUNC, o->realloc, &out->realloc)))
        return rc;
    if (o->has_post_return &&
        (rc = get(p, f, KC_CORE_FUNC, o->post_return, &out->post_return)))
        return rc;
    return 0;
}

/* A lifted function: a descriptor (its type) here, made per instance. */
static int
canon_lift(kc_pre *p, kc_frame *f, const kc_canon *c)
{
    kc_rv r, t;
    kc_popts po;
    kc_step *s;
    int rc;
    kc_rfunc *fn = kc_alloc(&p->arena, sizeof *fn);
    if (!fn)
        return nomem(p);
    if ((rc = get(p, f, KC_CORE_FUNC, c->func, &r)) ||
        (rc = get(p, f, KC_TYPE, c->type, &t)) ||
        (rc = opts(p, f, &c->opts, &po)))
        return rc;
    const kumo_ctype *ft = t.p;
    if (!ft || ft->kind != KUMO_CV_FUNC)
        return fail(p, KUMO_EINVALID, "canon lift: type %u is not a function "
                                      "type", c->type);
    if (!type_usable(ft))
        return fail(p, KUMO_EUNSUPPORTED, "canon lift: unsupported value "
                                          "type (stream, future, ...)");
    kumo_functype want;
    if (kc_core_sig(&p->arena, ft, false, &want) ||
        (rc = step(p, KC_STEP_LIFT, &s)))
        return nomem(p);
    s->type = ft;
    s->func = r;
    s->opts = po;
    s->rinst = f->rinst;
    s->sig = want;
    fn->type = ft;
    fn->kind = KC_RF_LIFTED;
    fn->name = "lifted function";
    kc_rv v = slot_rv(s);
    v.p = fn;
    return push(p, f, KC_FUNC, v);
}

static int
canon(kc_pre *p, kc_frame *f, const kc_canon *c)
{
    kc_rv r;
    kc_step *s;
    int rc;
    switch (c->op) {
    case KC_CANON_LIFT:
        return canon_lift(p, f, c);
    case KC_CANON_LOWER: {
        kc_popts o;
        kumo_functype sig;
        if ((rc = get(p, f, KC_FUNC, c->func, &r)) ||
            (rc = opts(p, f, &c->opts, &o)))
            return rc;
        const kc_rfunc *callee = r.p;
        if (!type_usable(callee->type))
            return fail(p, KUMO_EUNSUPPORTED, "canon lower: unsupported "
                                              "value type (stream, ...)");
        if (kc_core_sig(&p->arena, callee->type, true, &sig) ||
            step(p, KC_STEP_LOWER, &s))
            return nomem(p);
        s->func = r;
        s->opts = o;
        s->rinst = f->rinst;
        s->sig = sig;
        s->retptr = callee->type->result &&
                    callee->type->result->nflat > KC_MAX_FLAT_RESULTS;
        break;
    }
    case KC_CANON_RESOURCE_NEW:
    case KC_CANON_RESOURCE_DROP:
    case KC_CANON_RESOURCE_REP: {
        if ((rc = get(p, f, KC_TYPE, c->type, &r)))
            return rc;
        const kumo_ctype *rt = r.p;
        if (!rt || rt->kind != KUMO_CV_RESOURCE)
            return fail(p, KUMO_EINVALID, "%s: type %u is not a resource",
                        kc_canon_name(c->op), c->type);
        if (step(p, KC_STEP_BUILTIN, &s))
            return nomem(p);
        s->op = c->op;
        s->rt = rt->res;
        s->rinst = f->rinst;
        break;
    }
    default:
        return fail(p, KUMO_EUNSUPPORTED,
                    "unsupported canonical built-in `%s`",
                    kc_canon_name(c->op));
    }
    kc_rv v = slot_rv(s);
    v.ext.kind = KUMO_EXTERN_FUNC;
    return push(p, f, KC_CORE_FUNC, v);
}

/* ---- imports */

static int instantiate_body(kc_pre *p, kc_frame *f);
static int eval_instance_type(kc_pre *p, const kumo_ctype *it,
                              const kc_rcinst *bind, kc_str iface,
                              kc_rcinst **out);

static int
host_import(kc_pre *p, kc_frame *f, const kc_import *im, kc_rv *v)
{
    const kc_extern *x = &im->ext;
    kc_str name = im->name.name, none = {"", 0};
    kc_rv t;
    int rc;
    switch (x->kind) {
    case KUMO_COMPONENT_FUNC: {
        if ((rc = get(p, f, KC_TYPE, x->idx, &t)))
            return rc;
        kc_rfunc *fn;
        if ((rc = kc_linker_func(p->linker, none, name, &p->arena, t.p, &fn)))
            return fail(p, rc, "missing import: function `%.*s`",
                        (int)name.len, name.s);
        v->p = fn;
        return 0;
    }
    case KUMO_COMPONENT_INSTANCE:
        if ((rc = get(p, f, KC_TYPE, x->idx, &t)))
            return rc;
        if (p->linker && !kc_linker_has_iface(p->linker, name))
            return fail(p, KUMO_EUNLINKABLE,
                        "missing import: instance `%.*s`", (int)name.len,
                        name.s);
        return eval_instance_type(p, t.p, NULL, name,
                                  (kc_rcinst **)&v->p);
    case KUMO_COMPONENT_TYPE:
        if (x->bound == 0) {
            if ((rc = get(p, f, KC_TYPE, x->idx, &t)))
                return rc;
            v->p = t.p;
            return 0;
        } else {
            kumo_cresource *r;
            if ((rc = kc_linker_resource(p->linker, none, name, &p->arena, &r)))
                return fail(p, rc, "missing import: resource type `%.*s`",
                            (int)name.len, name.s);
            v->p = &r->type;
            return 0;
        }
    default:
        return fail(p, KUMO_EUNSUPPORTED,
                    "import `%.*s`: unsupported import kind from the host",
                    (int)name.len, name.s);
    }
}

static int
import(kc_pre *p, kc_frame *f, const kc_import *im)
{
    kc_sort s = kc_extern_sort(im->ext.kind);
    kc_rv v = {0};
    int rc;
    if (!f->args) {
        if ((rc = host_import(p, f, im, &v)))
            return rc;
        return push(p, f, s, v);
    }
    kc_str name = im->name.name;
    const kc_rexport *a = find_export(f->args, name);
    if (!a)
        return fail(p, KUMO_EUNLINKABLE, "missing import: `%.*s`",
                    (int)name.len, name.s);
    if (a->sort != s)
        return fail(p, KUMO_EUNLINKABLE, "import `%.*s`: expected a %s, "
                    "found a %s", (int)name.len, name.s, kc_sort_name(s),
                    kc_sort_name(a->sort));
    v = a->v;
    kc_rv t;
    if (s == KC_FUNC) {
        if ((rc = get(p, f, KC_TYPE, im->ext.idx, &t)))
            return rc;
        const kc_rfunc *fn = v.p;
        if (!kc_type_equal(t.p, fn->type))
            return fail(p, KUMO_EUNLINKABLE,
                        "import `%.*s`: function type mismatch",
                        (int)name.len, name.s);
    } else if (s == KC_INSTANCE) {
        if ((rc = get(p, f, KC_TYPE, im->ext.idx, &t)) ||
            (rc = eval_instance_type(p, t.p, v.p, name,
                                     (kc_rcinst **)&v.p)))
            return rc;
    } else if (s == KC_TYPE && im->ext.bound == 0) {
        if ((rc = get(p, f, KC_TYPE, im->ext.idx, &t)))
            return rc;
        if (!kc_type_equal(t.p, v.p))
            return fail(p, KUMO_EUNLINKABLE, "import `%.*s`: type mismatch",
                        (int)name.len, name.s);
    }
    return push(p, f, s, v);
}

/* An export declarator of an instance type being evaluated. */
static int
decl_export(kc_pre *p, kc_frame *f, const kc_export *e, kc_rcinst *out)
{
    kc_sort s = kc_extern_sort(e->ext.kind);
    kc_str name = e->name.name;
    const kc_rexport *b = f->bind ? find_export(f->bind, name) : NULL;
    kc_rv v = {0}, t;
    int rc;
    if (f->bind && (!b || b->sort != s))
        return fail(p, KUMO_EUNLINKABLE, "missing import: %s `%.*s` of "
                    "instance `%.*s`", kc_sort_name(s), (int)name.len, name.s,
                    (int)f->iface.len, f->iface.s);
    switch (s) {
    case KC_FUNC:
        if ((rc = get(p, f, KC_TYPE, e->ext.idx, &t)))
            return rc;
        if (b) {
            v = b->v;
            if (!kc_type_equal(t.p, ((kc_rfunc *)v.p)->type))
                return fail(p, KUMO_EUNLINKABLE, "import `%.*s`: function "
                            "`%.*s` has a mismatched type", (int)f->iface.len,
                            f->iface.s, (int)name.len, name.s);
        } else {
            kc_rfunc *fn;
            if ((rc = kc_linker_func(p->linker, f->iface, name, &p->arena,
                                     t.p, &fn)))
                return fail(p, rc, "missing import: function `%.*s` of "
                            "instance `%.*s`", (int)name.len, name.s,
                            (int)f->iface.len, f->iface.s);
            v.p = fn;
        }
        break;
    case KC_TYPE:
        if (e->ext.bound == 0) {
            if ((rc = get(p, f, KC_TYPE, e->ext.idx, &t)))
                return rc;
            v.p = t.p;
        } else if (b) {
            v = b->v;
        } else {
            kumo_cresource *r;
            if ((rc = kc_linker_resource(p->linker, f->iface, name,
                                          &p->arena, &r)))
                return fail(p, rc, "missing import: resource type `%.*s` of "
                            "instance `%.*s`", (int)name.len, name.s,
                            (int)f->iface.len, f->iface.s);
            v.p = &r->type;
        }
        break;
    case KC_INSTANCE:
        if ((rc = get(p, f, KC_TYPE, e->ext.idx, &t)) ||
            (rc = eval_instance_type(p, t.p, b ? b->v.p : NULL, name,
                                     (kc_rcinst **)&v.p)))
            return rc;
        break;
    default:
        if (!b)
            return fail(p, KUMO_EUNSUPPORTED, "unsupported %s export `%.*s` "
                        "in an imported instance", kc_sort_name(s),
                        (int)name.len, name.s);
        v = b->v;
        break;
    }
    if ((rc = add_export(p, out, name, s, v)))
        return rc;
    return push(p, f, s, v);
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
decl_order(kc_pre *p, kc_body *b, decl_item **out, uint32_t *nout)
{
    uint32_t n = 0, k = 0;
    for (int s = 0; s < KC_NSORTS; s++)
        n += b->spaces[s].n;
    decl_item *v = kc_alloc(&p->arena, (n + 1) * sizeof *v);
    if (!v)
        return nomem(p);
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
eval_instance_type(kc_pre *p, const kumo_ctype *it, const kc_rcinst *bind,
                   kc_str iface, kc_rcinst **out)
{
    if (!it || it->kind != KUMO_CV_INSTANCE)
        return fail(p, KUMO_EINVALID, "import `%.*s`: not an instance type",
                    (int)iface.len, iface.s);
    kc_frame *f = kc_alloc(&p->arena, sizeof *f);
    kc_rcinst *x = kc_alloc(&p->arena, sizeof *x);
    if (!f || !x)
        return nomem(p);
    f->body = it->body;
    f->parent = it->scope;
    f->rinst = it->scope ? it->scope->rinst : (kc_rv){0};
    f->bind = bind;
    f->iface = iface;
    kc_body *b = it->body;
    uint32_t n = 0;
    decl_item *items = NULL;
    int rc = decl_order(p, b, &items, &n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        uint32_t ref = items[i].ref;
        switch (items[i].origin) {
        case KC_FROM_DEF:
            if (items[i].sort == KC_CORE_TYPE) {
                rc = push(p, f, KC_CORE_TYPE, (kc_rv){0});
            } else {
                const kumo_ctype *t;
                if (!(rc = deftype(p, f, b->types[ref], &t)))
                    rc = push(p, f, KC_TYPE, (kc_rv){.p = (void *)t});
            }
            break;
        case KC_FROM_ALIAS:
            rc = alias(p, f, &b->aliases[ref]);
            break;
        case KC_FROM_EXPORT:
            rc = decl_export(p, f, &b->exports[ref], x);
            break;
        default:
            rc = push(p, f, items[i].sort, (kc_rv){0});
            break;
        }
    }
    *out = x;
    return rc;
}

/* ---- component instances */

static int
new_rinst(kc_pre *p, kc_rv *out)
{
    kc_step *s;
    if (step(p, KC_STEP_RINST, &s))
        return nomem(p);
    *out = slot_rv(s);
    return 0;
}

static int
instance(kc_pre *p, kc_frame *f, const kc_instance *in)
{
    kc_rcinst *args = kc_alloc(&p->arena, sizeof *args);
    kc_rv r;
    int rc;
    if (!args)
        return nomem(p);
    for (uint32_t i = 0; i < in->nargs; i++) {
        if ((rc = get(p, f, in->args[i].sort, in->args[i].idx, &r)) ||
            (rc = add_export(p, args, in->args[i].name.name,
                             in->args[i].sort, r)))
            return rc;
    }
    if (in->from_exports)
        return push(p, f, KC_INSTANCE, (kc_rv){.p = args});
    if ((rc = get(p, f, KC_COMPONENT, in->target, &r)))
        return rc;
    const kc_rcomp *c = r.p;
    if (!c)
        return fail(p, KUMO_EUNSUPPORTED, "component %u is not available",
                    in->target);
    kc_frame *nf = kc_alloc(&p->arena, sizeof *nf);
    kc_rcinst *ex = kc_alloc(&p->arena, sizeof *ex);
    if (!nf || !ex)
        return nomem(p);
    nf->body = c->body;
    nf->parent = c->scope;
    nf->args = args;
    nf->exports = ex;
    if ((rc = new_rinst(p, &nf->rinst)) || (rc = instantiate_body(p, nf)))
        return rc;
    return push(p, f, KC_INSTANCE, (kc_rv){.p = ex});
}

static int
export(kc_pre *p, kc_frame *f, const kc_export *e)
{
    kc_rv v;
    int rc = get(p, f, e->sort, e->idx, &v);
    if (rc || (rc = add_export(p, f->exports, e->name.name, e->sort, v)))
        return rc;
    return push(p, f, e->sort, v);
}

static int
definition(kc_pre *p, kc_frame *f, const kc_def *d)
{
    kc_body *b = f->body;
    switch (d->kind) {
    case KC_DEF_CORE_MODULE:
        return core_module(p, f, &b->modules[d->ref]);
    case KC_DEF_CORE_INSTANCE:
        return core_instance(p, f, &b->core_instances[d->ref]);
    case KC_DEF_CORE_TYPE:
        return push(p, f, KC_CORE_TYPE, (kc_rv){0});
    case KC_DEF_COMPONENT: {
        kc_rcomp *c = kc_alloc(&p->arena, sizeof *c);
        if (!c)
            return nomem(p);
        c->body = b->components[d->ref];
        c->scope = f;
        return push(p, f, KC_COMPONENT, (kc_rv){.p = c});
    }
    case KC_DEF_INSTANCE:
        return instance(p, f, &b->instances[d->ref]);
    case KC_DEF_ALIAS:
        return alias(p, f, &b->aliases[d->ref]);
    case KC_DEF_TYPE: {
        const kumo_ctype *t;
        int rc = deftype(p, f, b->types[d->ref], &t);
        return rc ? rc : push(p, f, KC_TYPE, (kc_rv){.p = (void *)t});
    }
    case KC_DEF_CANON:
        return canon(p, f, &b->canons[d->ref]);
    case KC_DEF_IMPORT:
        return import(p, f, &b->imports[d->ref]);
    case KC_DEF_EXPORT:
        return export(p, f, &b->exports[d->ref]);
    case KC_DEF_START:
        return fail(p, KUMO_EUNSUPPORTED, "unsupported component start "
                                           "function");
    default:
        return fail(p, KUMO_EUNSUPPORTED, "unsupported value definition");
    }
}

static int
instantiate_body(kc_pre *p, kc_frame *f)
{
    for (uint32_t i = 0; i < f->body->ndefs; i++) {
        int rc = definition(p, f, &f->body->defs[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static void
pre_destroy(kc_pre *p)
{
    for (uint32_t i = 0; i < p->nmods; i++)
        kumo_module_free(p->mods[i]);
    kb_free(p->mods);
    kb_free(p->steps);
    kc_arena_free(&p->arena);
    kb_free(p);
}

void
kc_pre_unref(kc_pre *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1)
        pre_destroy(p);
}

int
kumo_cpre_new(const kumo_component *c, kumo_clinker *l, kumo_cpre **out,
              kumo_diag *diag)
{
    *out = NULL;
    kc_pre *p = kb_calloc(1, sizeof *p);
    if (!p)
        return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    atomic_init(&p->refs, 1);
    p->comp = c;
    p->linker = l;
    p->diag = diag;
    int rc = KUMO_ENOMEM;
    kc_frame *f = kc_alloc(&p->arena, sizeof *f);
    p->exports = kc_alloc(&p->arena, sizeof *p->exports);
    if (!f || !p->exports) {
        nomem(p);
        goto fail;
    }
    f->body = c->root;
    f->exports = p->exports;
    if ((rc = new_rinst(p, &f->rinst)) || (rc = instantiate_body(p, f)))
        goto fail;
    p->diag = NULL;
    *out = p;
    return 0;
fail:
    pre_destroy(p);
    return rc;
}

void
kumo_cpre_free(kumo_cpre *p)
{
    kc_pre_unref(p);
}
