/* validate_types.c - resolving and checking type definitions: value types
 * (labels, emptiness, flags limit), own/borrow of resources, function types,
 * resource definitions, core function/module types and extern types. */
#include "validate.h"

kv_type *
kv_prim(kv_ctx *v, uint8_t prim)
{
    kv_type *t = kv_alloc(v, sizeof *t);
    if (t) {
        t->kind = KC_T_PRIM;
        t->prim = prim;
    }
    return t;
}

int
kv_valtype(kv_ctx *v, kv_scope *s, kc_valtype vt, size_t off, kv_type **out)
{
    if (vt.prim) {
        *out = kv_prim(v, vt.prim);
        return *out ? 0 : kv_nomem(v);
    }
    if (vt.idx >= s->sp[KC_TYPE].n)
        return kv_err(v, off, "type index out of bounds");
    kv_type *t = s->sp[KC_TYPE].v[vt.idx].t;
    if (!t || t->kind == KC_T_FUNC || t->kind == KC_T_COMPONENT ||
        t->kind == KC_T_INSTANCE || t->kind == KC_T_RESOURCE)
        return kv_err(v, off, "type index %u is not a defined type", vt.idx);
    *out = t;
    return 0;
}

static int
lower_eq(kc_str a, kc_str b)
{
    if (a.len != b.len)
        return 0;
    for (uint32_t i = 0; i < a.len; i++) {
        char x = a.s[i], y = b.s[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

/* Labels of records, variants, flags, enums and function parameters:
 * non-empty, kebab case, unique ignoring case. what: "record field". */
static int
check_labels(kv_ctx *v, const kc_type *t, const char *what,
             const char *prev, size_t off)
{
    for (uint32_t i = 0; i < t->nfields; i++) {
        kc_str n = t->fields[i].name;
        if (n.len == 0)
            return kv_err(v, off, "%s name cannot be empty", what);
        if (!kv_is_kebab(n))
            return kv_err(v, off, "%s name `%.*s` is not in kebab case", what,
                          (int)n.len, n.s);
        for (uint32_t j = 0; j < i; j++)
            if (lower_eq(n, t->fields[j].name))
                return kv_err(v, off,
                              "%s name `%.*s` conflicts with previous %s "
                              "name `%.*s`",
                              what, (int)n.len, n.s, prev,
                              (int)t->fields[j].name.len,
                              t->fields[j].name.s);
    }
    return 0;
}

static int
fields(kv_ctx *v, kv_scope *s, const kc_type *t, kv_type *o)
{
    o->n = t->nfields;
    o->f = kv_alloc(v, (size_t)t->nfields * sizeof *o->f);
    if (!o->f)
        return kv_nomem(v);
    for (uint32_t i = 0; i < t->nfields; i++) {
        int rc;
        o->f[i].name = t->fields[i].name;
        if (t->fields[i].has_type &&
            (rc = kv_valtype(v, s, t->fields[i].type, t->offset, &o->f[i].t)))
            return rc;
    }
    return 0;
}

bool
kv_has_borrow(const kv_type *t)
{
    if (!t)
        return false;
    switch (t->kind) {
    case KC_T_BORROW:
        return true;
    case KC_T_RECORD:
    case KC_T_VARIANT:
    case KC_T_TUPLE:
        for (uint32_t i = 0; i < t->n; i++)
            if (kv_has_borrow(t->f[i].t))
                return true;
        return false;
    case KC_T_LIST:
    case KC_T_FIXED_LIST:
    case KC_T_OPTION:
    case KC_T_RESULT:
    case KC_T_MAP:
        return kv_has_borrow(t->a) || kv_has_borrow(t->b);
    default:
        return false;
    }
}

static int
opt_valtype(kv_ctx *v, kv_scope *s, bool has, kc_valtype vt, size_t off,
            kv_type **out)
{
    *out = NULL;
    return has ? kv_valtype(v, s, vt, off, out) : 0;
}

static int
nonempty(kv_ctx *v, const kc_type *t, const char *msg)
{
    return t->nfields ? 0 : kv_err(v, t->offset, "%s", msg);
}

static int
resource(kv_ctx *v, kv_scope *s, const kc_type *t, bool in_type,
         kv_type *o)
{
    if (in_type)
        return kv_err(v, t->offset, "resources can only be defined within a "
                                    "concrete component");
    if (t->rep != 0x7f)
        return kv_err(v, t->offset, "resources can only be represented by "
                                    "`i32`");
    o->local = true;
    o->rep = t->rep;
    if (t->has_dtor) {
        if (t->dtor >= s->sp[KC_CORE_FUNC].n)
            return kv_err(v, t->offset, "function index out of bounds");
        kv_core *f = s->sp[KC_CORE_FUNC].v[t->dtor].c;
        if (f && (f->np != 1 || f->p[0] != 0x7f || f->nr != 0))
            return kv_err(v, t->offset, "wrong signature for a destructor");
    }
    return 0;
}

static int
functype(kv_ctx *v, kv_scope *s, const kc_type *t, kv_type *o)
{
    int rc;
    o->async = t->async;
    if ((rc = check_labels(v, t, "function parameter", "parameter",
                           t->offset)) ||
        (rc = fields(v, s, t, o)) ||
        (rc = opt_valtype(v, s, t->has_a, t->a, t->offset, &o->a)))
        return rc;
    if (kv_has_borrow(o->a))
        return kv_err(v, t->offset,
                      "function result cannot contain a `borrow` type");
    return 0;
}

int
kv_deftype(kv_ctx *v, kv_scope *s, const kc_type *t, bool in_type,
           kv_type **out)
{
    kv_type *o = kv_alloc(v, sizeof *o);
    size_t off = t->offset;
    int rc = 0;

    if (!o)
        return kv_nomem(v);
    *out = o;
    o->kind = t->kind;
    o->prim = t->prim;
    o->len = t->len;
    switch (t->kind) {
    case KC_T_PRIM:
        return 0;
    case KC_T_RECORD:
        if ((rc = nonempty(v, t, "record type must have at least one field")) ||
            (rc = check_labels(v, t, "record field", "field", off)))
            return rc;
        return fields(v, s, t, o);
    case KC_T_VARIANT:
        if ((rc = nonempty(v, t, "variant type must have at least one case")) ||
            (rc = check_labels(v, t, "variant case", "case", off)))
            return rc;
        return fields(v, s, t, o);
    case KC_T_TUPLE:
        if ((rc = nonempty(v, t, "tuple type must have at least one type")))
            return rc;
        return fields(v, s, t, o);
    case KC_T_FLAGS:
        if ((rc = nonempty(v, t, "flags must have at least one entry")))
            return rc;
        if (t->nfields > 32)
            return kv_err(v, off, "cannot have more than 32 flags");
        if ((rc = check_labels(v, t, "flag", "flag", off)))
            return rc;
        return fields(v, s, t, o);
    case KC_T_ENUM:
        if ((rc = nonempty(v, t, "enum type must have at least one variant")) ||
            (rc = check_labels(v, t, "enum tag", "tag", off)))
            return rc;
        return fields(v, s, t, o);
    case KC_T_FIXED_LIST:
        if (t->len == 0)
            return kv_err(v, off, "fixed-length list must have at least one "
                                  "element");
        return kv_valtype(v, s, t->a, off, &o->a);
    case KC_T_LIST:
    case KC_T_OPTION:
    case KC_T_STREAM:
    case KC_T_FUTURE:
        return opt_valtype(v, s, t->has_a, t->a, off, &o->a);
    case KC_T_RESULT:
    case KC_T_MAP:
        if ((rc = opt_valtype(v, s, t->has_a, t->a, off, &o->a)))
            return rc;
        return opt_valtype(v, s, t->has_b, t->b, off, &o->b);
    case KC_T_OWN:
    case KC_T_BORROW:
        if (t->handle >= s->sp[KC_TYPE].n)
            return kv_err(v, off, "type index out of bounds");
        o->a = s->sp[KC_TYPE].v[t->handle].t;
        if (!o->a || o->a->kind != KC_T_RESOURCE)
            return kv_err(v, off, "type index %u is not a resource type",
                          t->handle);
        return 0;
    case KC_T_FUNC:
        return functype(v, s, t, o);
    case KC_T_COMPONENT:
    case KC_T_INSTANCE:
        return kv_type_body(v, s, t->body, o);
    case KC_T_RESOURCE:
        return resource(v, s, t, in_type, o);
    }
    return 0;
}

/* ---- core types */

static int
core_valtypes(kv_ctx *v, uint32_t n, const kc_core_valtype *in, uint8_t **out)
{
    *out = kv_alloc(v, n ? n : 1);
    if (!*out)
        return kv_nomem(v);
    for (uint32_t i = 0; i < n; i++)
        (*out)[i] = in[i].code;
    return 0;
}

static int
core_extern(kv_ctx *v, kc_core_type *const *types, uint32_t ntypes,
            const kc_core_extern *e, size_t off, kv_core **out)
{
    kv_core *c = kv_alloc(v, sizeof *c);
    if (!c)
        return kv_nomem(v);
    *out = c;
    c->kind = e->kind;
    c->val = e->val.code;
    c->mut = e->mut;
    c->flags = e->flags;
    c->min = e->min;
    c->max = e->max;
    if (e->kind == 2 && !(e->flags & 4) &&
        (e->min > 65536 || ((e->flags & 1) && e->max > 65536)))
        return kv_err(v, off, "memory size must be at most 65536 pages "
                              "(4GiB)");
    if (e->kind == 0 || e->kind == 4) {
        if (e->type >= ntypes || types[e->type]->kind != 0x60)
            return kv_err(v, off, "type index out of bounds");
        const kc_core_type *ft = types[e->type];
        int rc;
        c->np = ft->nparams;
        c->nr = ft->nresults;
        if ((rc = core_valtypes(v, ft->nparams, ft->params, &c->p)) ||
            (rc = core_valtypes(v, ft->nresults, ft->results, &c->r)))
            return rc;
    }
    return 0;
}

/* The core types a module type's declarators see: its own, with outer
 * aliases resolved to the enclosing scope's core types. */
static int
module_type(kv_ctx *v, kv_scope *s, const kc_core_type *t, kv_core *o)
{
    kc_core_type **types =
        kv_alloc(v, (size_t)(t->ndecls + 1) * sizeof *types);
    uint32_t ntypes = 0;
    int rc;

    if (!types)
        return kv_nomem(v);
    o->kind = KV_MODULE;
    o->imp = kv_alloc(v, (size_t)(t->ndecls + 1) * sizeof *o->imp);
    o->exp = kv_alloc(v, (size_t)(t->ndecls + 1) * sizeof *o->exp);
    if (!o->imp || !o->exp)
        return kv_nomem(v);
    for (uint32_t i = 0; i < t->ndecls; i++) {
        const kc_core_decl *d = &t->decls[i];
        switch (d->kind) {
        case 0x01:
            types[ntypes++] = t->types[d->type];
            break;
        case 0x02: {
            kv_scope *o2 = s;
            for (uint32_t k = 1; k < d->outer_count && o2; k++)
                o2 = o2->parent;
            if (d->outer_count == 0 || !o2 ||
                d->outer_index >= o2->body->spaces[KC_CORE_TYPE].n)
                return kv_err(v, t->offset, "invalid outer alias count");
            kc_item it = o2->body->spaces[KC_CORE_TYPE].items[d->outer_index];
            if (it.origin != KC_FROM_DEF)
                return kv_err(v, t->offset, "unsupported core type alias");
            types[ntypes++] = o2->body->core_types[it.ref];
            break;
        }
        case 0x00:
            for (uint32_t k = 0; k < o->nimp; k++)
                if (o->imp[k].module.len == d->module.len &&
                    o->imp[k].name.len == d->name.len &&
                    memcmp(o->imp[k].module.s, d->module.s, d->module.len) ==
                        0 &&
                    memcmp(o->imp[k].name.s, d->name.s, d->name.len) == 0)
                    return kv_err(v, t->offset,
                                  "duplicate import name `%.*s:%.*s`",
                                  (int)d->module.len, d->module.s,
                                  (int)d->name.len, d->name.s);
            o->imp[o->nimp].module = d->module;
            o->imp[o->nimp].name = d->name;
            if ((rc = core_extern(v, types, ntypes, &d->ext, t->offset,
                                  &o->imp[o->nimp].c)))
                return rc;
            o->nimp++;
            break;
        case 0x03:
            for (uint32_t k = 0; k < o->nexp; k++)
                if (o->exp[k].name.len == d->name.len &&
                    memcmp(o->exp[k].name.s, d->name.s, d->name.len) == 0)
                    return kv_err(v, t->offset,
                                  "export name `%.*s` already defined",
                                  (int)d->name.len, d->name.s);
            o->exp[o->nexp].name = d->name;
            if ((rc = core_extern(v, types, ntypes, &d->ext, t->offset,
                                  &o->exp[o->nexp].c)))
                return rc;
            o->nexp++;
            break;
        }
    }
    return 0;
}

int
kv_core_deftype(kv_ctx *v, kv_scope *s, const kc_core_type *t, kv_core **out)
{
    kv_core *o = kv_alloc(v, sizeof *o);
    int rc;

    if (!o)
        return kv_nomem(v);
    *out = o;
    if (t->kind == 0x60) {
        o->kind = 0;
        o->np = t->nparams;
        o->nr = t->nresults;
        if ((rc = core_valtypes(v, t->nparams, t->params, &o->p)))
            return rc;
        return core_valtypes(v, t->nresults, t->results, &o->r);
    }
    return module_type(v, s, t, o);
}

int
kv_externtype(kv_ctx *v, kv_scope *s, const kc_extern *e, size_t off,
              kv_ext *out)
{
    memset(out, 0, sizeof *out);
    out->sort = kc_extern_sort(e->kind);
    switch (e->kind) {
    case KUMO_COMPONENT_CORE_MODULE:
        if (e->idx >= s->sp[KC_CORE_TYPE].n)
            return kv_err(v, off, "core type index out of bounds");
        out->c = s->sp[KC_CORE_TYPE].v[e->idx].c;
        if (!out->c || out->c->kind != KV_MODULE)
            return kv_err(v, off, "core type index %u is not a module type",
                          e->idx);
        return 0;
    case KUMO_COMPONENT_FUNC:
    case KUMO_COMPONENT_COMPONENT:
    case KUMO_COMPONENT_INSTANCE: {
        static const char *const names[] = {"", "function", "", "",
                                            "component", "instance"};
        kc_typekind want = e->kind == KUMO_COMPONENT_FUNC ? KC_T_FUNC
                           : e->kind == KUMO_COMPONENT_COMPONENT
                               ? KC_T_COMPONENT
                               : KC_T_INSTANCE;
        if (e->idx >= s->sp[KC_TYPE].n)
            return kv_err(v, off, "type index out of bounds");
        out->t = s->sp[KC_TYPE].v[e->idx].t;
        if (!out->t || out->t->kind != want)
            return kv_err(v, off, "type index %u is not a%s %s type", e->idx,
                          e->kind == KUMO_COMPONENT_INSTANCE ? "n" : "",
                          names[e->kind]);
        return 0;
    }
    case KUMO_COMPONENT_VALUE:
        if (e->bound == 0) {
            if (e->idx >= s->sp[KC_VALUE].n)
                return kv_err(v, off, "value index out of bounds");
            out->t = s->sp[KC_VALUE].v[e->idx].t;
            return 0;
        }
        return kv_valtype(v, s, e->val, off, &out->t);
    case KUMO_COMPONENT_TYPE:
        if (e->bound == 1) { /* sub resource: a new abstract resource */
            out->t = kv_alloc(v, sizeof *out->t);
            if (!out->t)
                return kv_nomem(v);
            out->t->kind = KC_T_RESOURCE;
            out->t->abstract = true;
            return 0;
        }
        if (e->idx >= s->sp[KC_TYPE].n)
            return kv_err(v, off, "type index out of bounds");
        out->t = s->sp[KC_TYPE].v[e->idx].t;
        return 0;
    default:
        return kv_err(v, off, "invalid extern kind");
    }
}
