/* types.c - the component type grammar (defvaltypes, func, component,
 * instance and resource types with their declarators) and core types
 * (function and module types) of a component binary. */
#include "component.h"

const char *
kc_prim_name(uint8_t prim)
{
    switch (prim) {
    case KC_BOOL:
        return "bool";
    case KC_S8:
        return "s8";
    case KC_U8:
        return "u8";
    case KC_S16:
        return "s16";
    case KC_U16:
        return "u16";
    case KC_S32:
        return "s32";
    case KC_U32:
        return "u32";
    case KC_S64:
        return "s64";
    case KC_U64:
        return "u64";
    case KC_F32:
        return "f32";
    case KC_F64:
        return "f64";
    case KC_CHAR:
        return "char";
    case KC_STRING:
        return "string";
    case KC_ERROR_CONTEXT:
        return "error-context";
    default:
        return NULL;
    }
}

static int
nomem(kc_decoder *d)
{
    return kb_diag(d->diag, KUMO_ENOMEM, kb_offset(&d->r), "out of memory");
}

/* valtype ::= typeidx | primvaltype, as an s33 (negative: a type code). */
int
kc_read_valtype(kc_decoder *d, kc_valtype *out)
{
    size_t at = kb_offset(&d->r);
    int64_t v;
    int rc = kb_read_s33(&d->r, &v);
    if (rc)
        return rc;
    if (v >= 0) {
        out->prim = 0;
        out->idx = (uint32_t)v;
        return 0;
    }
    uint8_t code = (uint8_t)(v & 0x7f);
    if (v < -64 || !kc_prim_name(code))
        return kb_diag(d->diag, KUMO_EMALFORMED, at,
                       "invalid value type 0x%02x", d->r.base[at]);
    out->prim = code;
    out->idx = 0;
    return 0;
}

/* <T>? with T = valtype */
static int
read_opt_valtype(kc_decoder *d, bool *has, kc_valtype *out)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    if (b > 1) {
        d->r.p--;
        return kc_error(d, "invalid optional type 0x%02x", b);
    }
    *has = b == 1;
    return *has ? kc_read_valtype(d, out) : 0;
}

/* vec(labelvaltype), vec(case), vec(valtype) or vec(labellit). */
enum { F_LABEL_TYPE, F_CASE, F_TYPE, F_LABEL };

static int
read_fields(kc_decoder *d, kc_type *t, int form)
{
    uint32_t n;
    int rc = kc_read_count(d, 1, &n);
    if (rc)
        return rc;
    t->nfields = n;
    t->fields = kc_alloc(d->arena, (size_t)n * sizeof *t->fields);
    if (!t->fields)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        kc_field *f = &t->fields[i];
        if (form != F_TYPE && (rc = kc_read_str(d, &f->name)))
            return rc;
        switch (form) {
        case F_LABEL_TYPE:
        case F_TYPE:
            f->has_type = true;
            rc = kc_read_valtype(d, &f->type);
            break;
        case F_CASE: {
            uint8_t b;
            if ((rc = read_opt_valtype(d, &f->has_type, &f->type)) ||
                (rc = kb_read_u8(&d->r, &b)))
                return rc;
            if (b != 0x00) {
                d->r.p--;
                return kc_error(d, "invalid leading byte (0x%x) for zero byte "
                                   "required", b);
            }
            break;
        }
        default:
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int
read_defvaltype(kc_decoder *d, uint8_t op, kc_type *t)
{
    kb_reader *r = &d->r;
    int rc;
    if (kc_prim_name(op)) {
        t->kind = KC_T_PRIM;
        t->prim = op;
        return 0;
    }
    switch (op) {
    case 0x72:
        t->kind = KC_T_RECORD;
        return read_fields(d, t, F_LABEL_TYPE);
    case 0x71:
        t->kind = KC_T_VARIANT;
        return read_fields(d, t, F_CASE);
    case 0x70:
        t->kind = KC_T_LIST;
        t->has_a = true;
        return kc_read_valtype(d, &t->a);
    case 0x67:
        t->kind = KC_T_FIXED_LIST;
        t->has_a = true;
        if ((rc = kc_read_valtype(d, &t->a)))
            return rc;
        return kb_read_u32(r, &t->len);
    case 0x6f:
        t->kind = KC_T_TUPLE;
        return read_fields(d, t, F_TYPE);
    case 0x6e:
        t->kind = KC_T_FLAGS;
        return read_fields(d, t, F_LABEL);
    case 0x6d:
        t->kind = KC_T_ENUM;
        return read_fields(d, t, F_LABEL);
    case 0x6b:
        t->kind = KC_T_OPTION;
        t->has_a = true;
        return kc_read_valtype(d, &t->a);
    case 0x6a:
        t->kind = KC_T_RESULT;
        if ((rc = read_opt_valtype(d, &t->has_a, &t->a)))
            return rc;
        return read_opt_valtype(d, &t->has_b, &t->b);
    case 0x69:
    case 0x68:
        t->kind = op == 0x69 ? KC_T_OWN : KC_T_BORROW;
        return kb_read_u32(r, &t->handle);
    case 0x66:
    case 0x65:
        t->kind = op == 0x66 ? KC_T_STREAM : KC_T_FUTURE;
        return read_opt_valtype(d, &t->has_a, &t->a);
    case 0x63:
        t->kind = KC_T_MAP;
        t->has_a = t->has_b = true;
        if ((rc = kc_read_valtype(d, &t->a)))
            return rc;
        return kc_read_valtype(d, &t->b);
    default:
        r->p--;
        return kc_error(d, "invalid leading byte (0x%x) for component defined type", op);
    }
}

static int
read_functype(kc_decoder *d, kc_type *t)
{
    uint8_t b;
    int rc;
    if ((rc = read_fields(d, t, F_LABEL_TYPE)) || (rc = kb_read_u8(&d->r, &b)))
        return rc;
    if (b == 0x00) {
        t->has_a = true;
        return kc_read_valtype(d, &t->a);
    }
    if (b != 0x01) {
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for component "
                           "function results", b);
    }
    uint32_t n;
    if ((rc = kb_read_u32(&d->r, &n)))
        return rc;
    if (n != 0) /* the former named-results form */
        return kc_error(d, "invalid leading byte (0x1) for number of "
                           "results");
    return 0;
}

static int
read_resource(kc_decoder *d, kc_type *t)
{
    int rc;
    t->kind = KC_T_RESOURCE;
    if ((rc = kb_read_u8(&d->r, &t->rep)))
        return rc;
    if (t->rep != 0x7f && t->rep != 0x7e) {
        d->r.p--;
        return kc_error(d, "invalid resource representation 0x%02x", t->rep);
    }
    uint8_t b;
    if ((rc = kb_read_u8(&d->r, &b)))
        return rc;
    if (b > 1) {
        d->r.p--;
        return kc_error(d, "invalid optional destructor 0x%02x", b);
    }
    t->has_dtor = b == 1;
    return b ? kb_read_u32(&d->r, &t->dtor) : 0;
}

int
kc_read_type(kc_decoder *d, kc_body *scope, kc_type **out)
{
    uint8_t op;
    int rc;
    kc_type *t = kc_alloc(d->arena, sizeof *t);
    if (!t)
        return nomem(d);
    *out = t;
    t->offset = kb_offset(&d->r);
    if ((rc = kb_read_u8(&d->r, &op)))
        return rc;
    switch (op) {
    case 0x40:
    case 0x43:
        t->kind = KC_T_FUNC;
        t->async = op == 0x43;
        return read_functype(d, t);
    case 0x41:
    case 0x42: {
        if (d->depth >= KC_MAX_DEPTH)
            return kb_diag(d->diag, KUMO_ELIMIT, t->offset,
                           "types nested too deeply");
        t->kind = op == 0x41 ? KC_T_COMPONENT : KC_T_INSTANCE;
        t->body = kc_alloc(d->arena, sizeof *t->body);
        if (!t->body)
            return nomem(d);
        t->body->kind =
            op == 0x41 ? KC_BODY_COMPONENT_TYPE : KC_BODY_INSTANCE_TYPE;
        t->body->parent = scope;
        t->body->offset = t->offset;
        d->depth++;
        rc = kc_read_decls(d, t->body);
        d->depth--;
        t->body->len = kb_offset(&d->r) - t->offset;
        return rc;
    }
    case 0x3f:
        return read_resource(d, t);
    default:
        return read_defvaltype(d, op, t);
    }
}

#define PUSH_ARRAY(b, name)                                                    \
    kc_grow(d->arena, (void **)&(b)->name, &(b)->cap_##name, (b)->n##name + 1, \
            sizeof *(b)->name)

/* One declarator of a component type (imports allowed) or instance type. */
static int
read_decl(kc_decoder *d, kc_body *b)
{
    uint8_t tag;
    uint32_t k;
    int rc;
    if ((rc = kb_read_u8(&d->r, &tag)))
        return rc;
    switch (tag) {
    case 0x00:
        if (PUSH_ARRAY(b, core_types))
            return nomem(d);
        k = b->ncore_types;
        if ((rc = kc_read_core_type(d, &b->core_types[k])))
            return rc;
        b->ncore_types++;
        return kc_push(d, b, KC_CORE_TYPE, KC_FROM_DEF, k);
    case 0x01:
        if (PUSH_ARRAY(b, types))
            return nomem(d);
        k = b->ntypes;
        if ((rc = kc_read_type(d, b, &b->types[k])))
            return rc;
        b->ntypes++;
        return kc_push(d, b, KC_TYPE, KC_FROM_DEF, k);
    case 0x02:
        if (PUSH_ARRAY(b, aliases))
            return nomem(d);
        k = b->naliases;
        if ((rc = kc_read_alias(d, &b->aliases[k])))
            return rc;
        b->naliases++;
        return kc_push(d, b, b->aliases[k].sort, KC_FROM_ALIAS, k);
    case 0x03: {
        if (b->kind != KC_BODY_COMPONENT_TYPE) {
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x3) for component or "
                               "instance type declaration");
        }
        if (PUSH_ARRAY(b, imports))
            return nomem(d);
        k = b->nimports;
        kc_import *im = &b->imports[k];
        im->offset = kb_offset(&d->r);
        if ((rc = kc_read_name(d, &im->name)) ||
            (rc = kc_read_extern(d, &im->ext)))
            return rc;
        b->nimports++;
        return kc_push(d, b, kc_extern_sort(im->ext.kind), KC_FROM_IMPORT, k);
    }
    case 0x04: {
        if (PUSH_ARRAY(b, exports))
            return nomem(d);
        k = b->nexports;
        kc_export *e = &b->exports[k];
        memset(e, 0, sizeof *e);
        e->offset = kb_offset(&d->r);
        e->has_ext = true;
        if ((rc = kc_read_name(d, &e->name)) ||
            (rc = kc_read_extern(d, &e->ext)))
            return rc;
        e->sort = kc_extern_sort(e->ext.kind);
        b->nexports++;
        return kc_push(d, b, e->sort, KC_FROM_EXPORT, k);
    }
    default:
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for component or "
                           "instance type declaration", tag);
    }
}

int
kc_read_decls(kc_decoder *d, kc_body *b)
{
    uint32_t n;
    int rc = kc_read_count(d, 1, &n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = read_decl(d, b)))
            return rc;
    return 0;
}

/* ---- core types */

int
kc_read_core_valtype(kc_decoder *d, kc_core_valtype *out)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    out->code = b;
    out->heap = 0;
    if (b >= 0x7b && b <= 0x7f) /* i32 i64 f32 f64 v128 */
        return 0;
    if (b >= 0x69 && b <= 0x74) /* reference type shorthands */
        return 0;
    if (b == 0x63 || b == 0x64)
        return kb_read_s33(&d->r, &out->heap);
    d->r.p--;
    return kc_error(d, "invalid core value type 0x%02x", b);
}

static int
read_limits(kc_decoder *d, kc_core_extern *e)
{
    int rc;
    if ((rc = kb_read_u8(&d->r, &e->flags)))
        return rc;
    if (e->flags > 0x07) {
        d->r.p--;
        return kc_error(d, "invalid limits flags 0x%02x", e->flags);
    }
    if (e->flags & 0x04) {
        if ((rc = kb_read_u64(&d->r, &e->min)))
            return rc;
        return (e->flags & 1) ? kb_read_u64(&d->r, &e->max) : 0;
    }
    uint32_t v;
    if ((rc = kb_read_u32(&d->r, &v)))
        return rc;
    e->min = v;
    if (!(e->flags & 1))
        return 0;
    if ((rc = kb_read_u32(&d->r, &v)))
        return rc;
    e->max = v;
    return 0;
}

static int
read_core_extern(kc_decoder *d, kc_core_extern *e)
{
    uint8_t b;
    int rc;
    if ((rc = kb_read_u8(&d->r, &e->kind)))
        return rc;
    switch (e->kind) {
    case 0x00:
        return kb_read_u32(&d->r, &e->type);
    case 0x01:
        if ((rc = kc_read_core_valtype(d, &e->val)))
            return rc;
        return read_limits(d, e);
    case 0x02:
        return read_limits(d, e);
    case 0x03:
        if ((rc = kc_read_core_valtype(d, &e->val)) ||
            (rc = kb_read_u8(&d->r, &b)))
            return rc;
        if (b > 1) {
            d->r.p--;
            return kc_error(d, "malformed mutability");
        }
        e->mut = b == 1;
        return 0;
    case 0x04:
        if ((rc = kb_read_u8(&d->r, &b)))
            return rc;
        if (b != 0) {
            d->r.p--;
            return kc_error(d, "invalid tag attribute 0x%02x", b);
        }
        return kb_read_u32(&d->r, &e->type);
    default:
        d->r.p--;
        return kc_error(d, "invalid core extern kind 0x%02x", e->kind);
    }
}

static int
read_core_valtypes(kc_decoder *d, uint32_t *n, kc_core_valtype **out)
{
    int rc = kc_read_count(d, 1, n);
    if (rc)
        return rc;
    *out = kc_alloc(d->arena, (size_t)*n * sizeof **out);
    if (!*out)
        return nomem(d);
    for (uint32_t i = 0; i < *n; i++)
        if ((rc = kc_read_core_valtype(d, &(*out)[i])))
            return rc;
    return 0;
}

static int
read_module_decl(kc_decoder *d, kc_core_type *t, kc_core_decl *decl)
{
    int rc;
    uint8_t b;
    if ((rc = kb_read_u8(&d->r, &decl->kind)))
        return rc;
    switch (decl->kind) {
    case 0x00:
        if ((rc = kc_read_str(d, &decl->module)) ||
            (rc = kc_read_str(d, &decl->name)))
            return rc;
        return read_core_extern(d, &decl->ext);
    case 0x01: {
        if (d->r.p < d->r.end && *d->r.p == 0x50)
            return kc_error(d, "invalid leading byte (0x50) for a core type: "
                               "module types cannot be nested");
        if (kc_grow(d->arena, (void **)&t->types, &t->cap_types, t->ntypes + 1,
                    sizeof *t->types))
            return nomem(d);
        if ((rc = kc_read_core_type(d, &t->types[t->ntypes])))
            return rc;
        decl->type = t->ntypes++;
        return 0;
    }
    case 0x02:
        if ((rc = kb_read_u8(&d->r, &b)))
            return rc;
        if (b != 0x10) {
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x%x) for outer alias kind", b);
        }
        if ((rc = kb_read_u8(&d->r, &b)))
            return rc;
        if (b != 0x01) {
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x%x) for outer alias target", b);
        }
        if ((rc = kb_read_u32(&d->r, &decl->outer_count)))
            return rc;
        return kb_read_u32(&d->r, &decl->outer_index);
    case 0x03:
        if ((rc = kc_read_str(d, &decl->name)))
            return rc;
        return read_core_extern(d, &decl->ext);
    default:
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for type definition", decl->kind);
    }
}

int
kc_read_core_type(kc_decoder *d, kc_core_type **out)
{
    uint8_t op;
    int rc;
    kc_core_type *t = kc_alloc(d->arena, sizeof *t);
    if (!t)
        return nomem(d);
    *out = t;
    t->offset = kb_offset(&d->r);
    if ((rc = kb_read_u8(&d->r, &op)))
        return rc;
    t->kind = op;
    if (op == 0x00 || op == 0x4f) { /* sub (0x00 0x50: non-final) */
        uint32_t n, x;
        if (op == 0x00) {
            if ((rc = kb_read_u8(&d->r, &op)))
                return rc;
            if (op != 0x50) {
                d->r.p--;
                return kc_error(d, "invalid leading byte 0x%02x for a core "
                                   "subtype", op);
            }
        }
        if ((rc = kc_read_count(d, 1, &n)))
            return rc;
        if (n > 1)
            return kc_error(d, "a core subtype has at most one supertype");
        for (uint32_t i = 0; i < n; i++)
            if ((rc = kb_read_u32(&d->r, &x)))
                return rc;
        if ((rc = kb_read_u8(&d->r, &op)))
            return rc;
        if (op != 0x60) {
            d->r.p--;
            return kb_diag(d->diag, KUMO_EUNSUPPORTED, kb_offset(&d->r),
                           "GC struct and array types are not supported");
        }
        t->kind = op; /* a function type; supertypes are not checked */
    }
    if (op == 0x60) {
        if ((rc = read_core_valtypes(d, &t->nparams, &t->params)))
            return rc;
        return read_core_valtypes(d, &t->nresults, &t->results);
    }
    if (op != 0x50) {
        d->r.p--;
        if (op == 0x4e || op == 0x5f || op == 0x5e)
            return kb_diag(d->diag, KUMO_EUNSUPPORTED, kb_offset(&d->r),
                           "GC core types are not supported");
        return kc_error(d, "invalid core type 0x%02x", op);
    }
    if (d->depth >= KC_MAX_DEPTH)
        return kb_diag(d->diag, KUMO_ELIMIT, t->offset,
                       "types nested too deeply");
    uint32_t n;
    if ((rc = kc_read_count(d, 1, &n)))
        return rc;
    t->ndecls = n;
    t->decls = kc_alloc(d->arena, (size_t)n * sizeof *t->decls);
    if (!t->decls)
        return nomem(d);
    d->depth++;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = read_module_decl(d, t, &t->decls[i]);
    d->depth--;
    return rc;
}
