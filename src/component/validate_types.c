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

/* ---- canonical ABI sizes (elem_size and alignment with i64 pointers) */

#define KV_SIZE_CAP ((uint64_t)1 << 32)

static uint64_t
align_to(uint64_t n, uint8_t a)
{
    return (n + a - 1) / a * a;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
    return a + b > KV_SIZE_CAP ? KV_SIZE_CAP : a + b;
}

static uint8_t
prim_size(uint8_t prim)
{
    switch (prim) {
    case KC_BOOL:
    case KC_S8:
    case KC_U8:
        return 1;
    case KC_S16:
    case KC_U16:
        return 2;
    case KC_S64:
    case KC_U64:
    case KC_F64:
        return 8;
    case KC_STRING:
        return 16;
    default:
        return 4;
    }
}

static uint8_t
disc_size(uint32_t ncases)
{
    return ncases <= 256 ? 1 : ncases <= 65536 ? 2 : 4;
}

/* Variant-shaped types: fold one payload into the largest size cs and
 * alignment ca, then lay out a discriminant of ncases before them. */
static void
payload(kv_type *p, uint64_t *cs, uint8_t *ca)
{
    uint8_t a;
    uint64_t s;

    if (!p)
        return;
    s = kv_elem_size(p, &a);
    *cs = s > *cs ? s : *cs;
    *ca = a > *ca ? a : *ca;
}

static uint64_t
variant_size(uint32_t ncases, uint64_t cs, uint8_t ca, uint8_t *align)
{
    uint8_t d = disc_size(ncases);

    *align = d > ca ? d : ca;
    return align_to(sat_add(align_to(d, ca), cs), *align);
}

static uint64_t
elem_size(kv_type *t, uint8_t *align)
{
    uint64_t s = 0, n, cs = 0;
    uint8_t a = 1, ca = 1;

    *align = 4;
    switch (t->kind) {
    case KC_T_PRIM:
        s = prim_size(t->prim);
        *align = t->prim == KC_STRING ? 8 : (uint8_t)s;
        return s;
    case KC_T_LIST:
    case KC_T_MAP:
        *align = 8;
        return 16;
    case KC_T_FIXED_LIST:
        n = kv_elem_size(t->a, align);
        return n && t->len > KV_SIZE_CAP / n ? KV_SIZE_CAP : n * t->len;
    case KC_T_RECORD:
    case KC_T_TUPLE:
        *align = 1;
        for (uint32_t i = 0; i < t->n; i++) {
            n = t->f[i].t ? kv_elem_size(t->f[i].t, &a) : 0;
            s = sat_add(align_to(s, a), n);
            *align = a > *align ? a : *align;
        }
        return align_to(s, *align);
    case KC_T_FLAGS:
        *align = t->n <= 8 ? 1 : t->n <= 16 ? 2 : 4;
        return *align;
    case KC_T_ENUM:
        return variant_size(t->n, 0, 1, align);
    case KC_T_OPTION:
    case KC_T_RESULT:
        payload(t->a, &cs, &ca);
        payload(t->b, &cs, &ca);
        return variant_size(2, cs, ca, align);
    case KC_T_VARIANT:
        for (uint32_t i = 0; i < t->n; i++)
            payload(t->f[i].t, &cs, &ca);
        return variant_size(t->n, cs, ca, align);
    default: /* own, borrow, stream, future */
        return 4;
    }
}

uint64_t
kv_elem_size(kv_type *t, uint8_t *align)
{
    if (!t->sized) {
        t->size = elem_size(t, &t->align);
        t->sized = true;
    }
    *align = t->align;
    return t->size;
}

static int
check_size(kv_ctx *v, kv_type *t, size_t off)
{
    uint8_t a;
    if (kv_elem_size(t, &a) >= ((uint64_t)1 << 28))
        return kv_err(v, off, "type exceeds maximum byte size of 2^28");
    return 0;
}

static int
deftype(kv_ctx *v, kv_scope *s, const kc_type *t, bool in_type,
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
    case KC_T_STREAM:
        if (t->has_a && t->a.prim == KC_CHAR)
            return kv_err(v, off, "`stream<char>` is not valid at this time");
        return opt_valtype(v, s, t->has_a, t->a, off, &o->a);
    case KC_T_LIST:
    case KC_T_OPTION:
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

int
kv_deftype(kv_ctx *v, kv_scope *s, const kc_type *t, bool in_type,
           kv_type **out)
{
    int rc = deftype(v, s, t, in_type, out);

    if (rc || (*out)->kind == KC_T_FUNC || (*out)->kind == KC_T_COMPONENT ||
        (*out)->kind == KC_T_INSTANCE || (*out)->kind == KC_T_RESOURCE)
        return rc;
    return check_size(v, *out, t->offset);
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
        if (want == KC_T_INSTANCE &&
            !(out->t = kv_fresh_instance(v, s, out->t)))
            return kv_nomem(v);
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
            out->t->depth = kv_depth(s);
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
