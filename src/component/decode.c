/* decode.c - the component binary: sections, instances, aliases, canon,
 * start, imports/exports and values, building the tree and the index spaces
 * of each (nested) component. Types are in types.c. */
#include <stdio.h>

#include "component.h"

int
kc_error(kc_decoder *d, const char *fmt, ...)
{
    if (!d->diag)
        return KUMO_EMALFORMED;
    char msg[sizeof d->diag->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kb_diag(d->diag, KUMO_EMALFORMED, kb_offset(&d->r), "%s", msg);
}

int
kc_read_count(kc_decoder *d, uint32_t min_size, uint32_t *n)
{
    int rc = kb_read_u32(&d->r, n);
    if (rc)
        return rc;
    size_t left = (size_t)(d->r.end - d->r.p);
    if (min_size && *n > left / min_size)
        return kc_error(d,
                        "unexpected end-of-file: vector length %u too "
                        "large for the %zu bytes left",
                        *n, left);
    return 0;
}

int
kc_read_str(kc_decoder *d, kc_str *out)
{
    const uint8_t *p;
    int rc = kb_read_name(&d->r, &p, &out->len);
    if (rc)
        return rc;
    out->s = (const char *)p;
    return 0;
}

static int
read_core_sort(kc_decoder *d, kc_sort *out)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    switch (b) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
        *out = (kc_sort)(KC_CORE_FUNC + b);
        return 0;
    case 0x10:
        *out = KC_CORE_TYPE;
        return 0;
    case 0x11:
        *out = KC_CORE_MODULE;
        return 0;
    case 0x12:
        *out = KC_CORE_INSTANCE;
        return 0;
    default:
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for core external kind", b);
    }
}

int
kc_read_sort(kc_decoder *d, kc_sort *out)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    switch (b) {
    case 0x00:
        return read_core_sort(d, out);
    case 0x01:
        *out = KC_FUNC;
        return 0;
    case 0x02:
        *out = KC_VALUE;
        return 0;
    case 0x03:
        *out = KC_TYPE;
        return 0;
    case 0x04:
        *out = KC_COMPONENT;
        return 0;
    case 0x05:
        *out = KC_INSTANCE;
        return 0;
    default:
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for component external kind", b);
    }
}

/* nameattributes: 0x00/0x01 name, or 0x02 name vec(attribute). */
int
kc_read_name(kc_decoder *d, kc_name *out)
{
    uint8_t form;
    memset(out, 0, sizeof *out);
    int rc = kb_read_u8(&d->r, &form);
    if (rc)
        return rc;
    if (form > 0x02) {
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for component name", form);
    }
    out->form = form;
    if ((rc = kc_read_str(d, &out->name)))
        return rc;
    if (form != 0x02)
        return 0;
    static const char *const names[] = {"implements", "versionsuffix",
                                        "external-id"};
    uint32_t n;
    uint8_t seen = 0;
    if ((rc = kc_read_count(d, 2, &n)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kind;
        kc_str s;
        if ((rc = kb_read_u8(&d->r, &kind)))
            return rc;
        if (kind > 0x02) {
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x%x) for name option", kind);
        }
        if (seen & (1u << kind)) {
            d->r.p--;
            return kc_error(d, "duplicate '%s' option in name", names[kind]);
        }
        seen |= (uint8_t)(1u << kind);
        if ((rc = kc_read_str(d, &s)))
            return rc;
        out->has_implements |= kind == 0x00;
        if (kind == 0x00)
            out->implements = s;
        else if (kind == 0x01)
            out->version = s;
        else
            out->external_id = s;
    }
    return 0;
}

int
kc_read_extern(kc_decoder *d, kc_extern *out)
{
    uint8_t kind, b;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = kb_read_u8(&d->r, &kind)))
        return rc;
    out->kind = kind;
    switch (kind) {
    case 0x00:
        if ((rc = kb_read_u8(&d->r, &b)))
            return rc;
        if (b != 0x11) {
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x%x) for component "
                               "external kind", kind);
        }
        return kb_read_u32(&d->r, &out->idx);
    case 0x01:
    case 0x04:
    case 0x05:
        return kb_read_u32(&d->r, &out->idx);
    case 0x02:
    case 0x03:
        if ((rc = kb_read_u8(&d->r, &out->bound)))
            return rc;
        if (out->bound == 0x00)
            return kb_read_u32(&d->r, &out->idx);
        if (out->bound != 0x01) {
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x%x) for %s bound",
                            out->bound, kind == 0x02 ? "value" : "type");
        }
        return kind == 0x02 ? kc_read_valtype(d, &out->val) : 0;
    default:
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for component "
                           "external kind", kind);
    }
}

/* An outer alias (target 0x02 after the sort) may only name core types,
 * core modules, types and components. Leaves the reader where it was. */
static int
outer_sort_check(kc_decoder *d)
{
    const uint8_t *p = d->r.p, *end = d->r.end;
    uint8_t b = p < end ? p[0] : 0xff, core = 0, tag;

    if (b == 0x00) {
        if (p + 2 >= end)
            return 0;
        core = p[1];
        tag = p[2];
    } else if (p + 1 < end) {
        tag = p[1];
    } else {
        return 0;
    }
    if (tag != 0x02 || (b == 0x00 && (core == 0x10 || core == 0x11)) ||
        b == 0x03 || b == 0x04)
        return 0;
    return kc_error(d, "invalid leading byte (0x%x) for component outer "
                       "alias kind", b == 0x00 ? core : b);
}

int
kc_read_alias(kc_decoder *d, kc_alias *out)
{
    uint8_t tag;
    int rc;
    memset(out, 0, sizeof *out);
    out->offset = kb_offset(&d->r);
    if ((rc = outer_sort_check(d)) || (rc = kc_read_sort(d, &out->sort)) ||
        (rc = kb_read_u8(&d->r, &tag)))
        return rc;
    switch (tag) {
    case 0x00:
    case 0x01:
        if (tag == 0x00 && out->sort <= KC_CORE_INSTANCE &&
            out->sort != KC_CORE_MODULE)
            return kc_error(d, "alias export of a %s", kc_sort_name(out->sort));
        if (tag == 0x01 && out->sort >= KC_FUNC)
            return kc_error(d, "core export alias of a %s",
                            kc_sort_name(out->sort));
        out->kind = tag == 0x00 ? KC_ALIAS_EXPORT : KC_ALIAS_CORE_EXPORT;
        if ((rc = kb_read_u32(&d->r, &out->instance)))
            return rc;
        return kc_read_str(d, &out->name);
    case 0x02:
        /* outeraliassort: core type, core module, type, component */
        if (out->sort != KC_CORE_TYPE && out->sort != KC_CORE_MODULE &&
            out->sort != KC_TYPE && out->sort != KC_COMPONENT)
            return kc_error(d, "outer alias of a %s", kc_sort_name(out->sort));
        out->kind = KC_ALIAS_OUTER;
        if ((rc = kb_read_u32(&d->r, &out->outer_count)))
            return rc;
        return kb_read_u32(&d->r, &out->outer_index);
    default:
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for alias", tag);
    }
}

/* ---- section bodies */

static int
read_core_instance(kc_decoder *d, kc_instance *in)
{
    uint8_t tag;
    uint32_t n;
    int rc;
    in->offset = kb_offset(&d->r);
    if ((rc = kb_read_u8(&d->r, &tag)))
        return rc;
    if (tag > 0x01) {
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for core instance", tag);
    }
    in->from_exports = tag == 0x01;
    if (!in->from_exports && (rc = kb_read_u32(&d->r, &in->target)))
        return rc;
    if ((rc = kc_read_count(d, 3, &n)))
        return rc;
    in->nargs = n;
    in->args = kc_alloc(d->arena, (size_t)n * sizeof *in->args);
    if (!in->args)
        return kb_diag(d->diag, KUMO_ENOMEM, kb_offset(&d->r), "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        kc_arg *a = &in->args[i];
        if ((rc = kc_read_str(d, &a->name.name)))
            return rc;
        if (!in->from_exports && d->r.p < d->r.end && *d->r.p != 0x12)
            return kc_error(d, "invalid leading byte (0x%x) for instantiation "
                               "arg kind", *d->r.p);
        if ((rc = read_core_sort(d, &a->sort)) ||
            (rc = kb_read_u32(&d->r, &a->idx)))
            return rc;
    }
    return 0;
}

static int
read_instance(kc_decoder *d, kc_instance *in)
{
    uint8_t tag;
    uint32_t n;
    int rc;
    in->offset = kb_offset(&d->r);
    if ((rc = kb_read_u8(&d->r, &tag)))
        return rc;
    if (tag > 0x01) {
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for instance", tag);
    }
    in->from_exports = tag == 0x01;
    if (!in->from_exports && (rc = kb_read_u32(&d->r, &in->target)))
        return rc;
    if ((rc = kc_read_count(d, 3, &n)))
        return rc;
    in->nargs = n;
    in->args = kc_alloc(d->arena, (size_t)n * sizeof *in->args);
    if (!in->args)
        return kb_diag(d->diag, KUMO_ENOMEM, kb_offset(&d->r), "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        kc_arg *a = &in->args[i];
        if (in->from_exports)
            rc = kc_read_name(d, &a->name);
        else
            rc = kc_read_str(d, &a->name.name);
        if (rc || (rc = kc_read_sort(d, &a->sort)) ||
            (rc = kb_read_u32(&d->r, &a->idx)))
            return rc;
    }
    return 0;
}

static int
read_opts(kc_decoder *d, kc_canonopts *o)
{
    uint32_t n;
    int rc = kc_read_count(d, 1, &n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b;
        if ((rc = kb_read_u8(&d->r, &b)))
            return rc;
        switch (b) {
        case 0x00:
        case 0x01:
        case 0x02:
            o->string_encoding = b;
            break;
        case 0x03:
            o->has_memory = true;
            rc = kb_read_u32(&d->r, &o->memory);
            break;
        case 0x04:
            o->has_realloc = true;
            rc = kb_read_u32(&d->r, &o->realloc);
            break;
        case 0x05:
            o->has_post_return = true;
            rc = kb_read_u32(&d->r, &o->post_return);
            break;
        case 0x06:
            o->async = true;
            break;
        case 0x07:
            o->has_callback = true;
            rc = kb_read_u32(&d->r, &o->callback);
            break;
        default:
            d->r.p--;
            return kc_error(d, "invalid leading byte (0x%x) for canonical option", b);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* A 0x00/0x01 flag byte (async?, cancel?, shared?). */
static int
read_flag(kc_decoder *d, const char *what, bool *out)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    if (b > 1) {
        d->r.p--;
        return kc_error(d, "invalid boolean value 0x%x (%s flag)", b, what);
    }
    *out = b == 1;
    return 0;
}

static int
read_zero_byte(kc_decoder *d, const char *what)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    if (b != 0x00) {
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for %s", b, what);
    }
    return 0;
}

static const struct {
    uint8_t opcode;
    uint8_t shape;
} canon_ops[] = {
#define KC_CANON_ROW(e, code, name, shape) {code, shape},
    KC_CANON_OPS(KC_CANON_ROW)
#undef KC_CANON_ROW
};

static int
read_canon_shape(kc_decoder *d, kc_canon *c, kc_canon_shape shape)
{
    kb_reader *r = &d->r;
    int rc = 0;
    switch (shape) {
    case KC_SH_LIFT:
    case KC_SH_LOWER:
        if ((rc = read_zero_byte(d, shape == KC_SH_LIFT
                                        ? "canonical function lift"
                                        : "canonical function lower")) ||
            (rc = kb_read_u32(r, &c->func)) || (rc = read_opts(d, &c->opts)))
            return rc;
        return shape == KC_SH_LIFT ? kb_read_u32(r, &c->type) : 0;
    case KC_SH_NONE:
        return 0;
    case KC_SH_TYPE:
        return kb_read_u32(r, &c->type);
    case KC_SH_TYPE_OPTS:
        if ((rc = kb_read_u32(r, &c->type)))
            return rc;
        return read_opts(d, &c->opts);
    case KC_SH_TYPE_ASYNC:
        if ((rc = kb_read_u32(r, &c->type)))
            return rc;
        return read_flag(d, "async", &c->async);
    case KC_SH_OPTS:
        return read_opts(d, &c->opts);
    case KC_SH_RESULT_OPTS: {
        uint8_t b;
        if ((rc = kb_read_u8(r, &b)))
            return rc;
        if (b == 0x00) {
            c->has_result = true;
            rc = kc_read_valtype(d, &c->result);
        } else if (b == 0x01) {
            rc = read_zero_byte(d, "empty result list");
        } else {
            r->p--;
            return kc_error(d, "invalid leading byte (0x%x) for component "
                               "function results", b);
        }
        return rc ? rc : read_opts(d, &c->opts);
    }
    case KC_SH_CONTEXT:
        if ((rc = kb_read_u8(r, &c->valtype)))
            return rc;
        if (c->valtype != 0x7f && c->valtype != 0x7e) {
            r->p--;
            return kc_error(d, "invalid context value type 0x%02x", c->valtype);
        }
        return kb_read_u32(r, &c->index);
    case KC_SH_ASYNC:
        return read_flag(d, "async", &c->async);
    case KC_SH_CANCEL:
        return read_flag(d, "cancel", &c->cancellable);
    case KC_SH_CANCEL_MEM:
        if ((rc = read_flag(d, "cancel", &c->cancellable)))
            return rc;
        return kb_read_u32(r, &c->index);
    case KC_SH_SH_CTYPE:
    case KC_SH_SH_CTYPE_TABLE:
    case KC_SH_SHARED:
        if ((rc = read_flag(d, "shared", &c->shared)) || shape == KC_SH_SHARED)
            return rc;
        if ((rc = kb_read_u32(r, &c->type)) || shape == KC_SH_SH_CTYPE)
            return rc;
        return kb_read_u32(r, &c->index);
    case KC_SH_CTYPE_TABLE:
        if ((rc = kb_read_u32(r, &c->type)))
            return rc;
        return kb_read_u32(r, &c->index);
    }
    return 0;
}

static int
read_canon(kc_decoder *d, kc_canon *c)
{
    uint8_t b;
    int rc;
    c->offset = kb_offset(&d->r);
    if ((rc = kb_read_u8(&d->r, &b)))
        return rc;
    for (unsigned i = 0; i < KC_CANON_COUNT; i++) {
        if (canon_ops[i].opcode == b) {
            c->op = (kc_canon_op)i;
            c->opcode = b;
            return read_canon_shape(d, c, (kc_canon_shape)canon_ops[i].shape);
        }
    }
    d->r.p--;
    return kc_error(d, "invalid leading byte (0x%x) for canonical function", b);
}

static int
read_start(kc_decoder *d, kc_start *s)
{
    uint32_t n;
    int rc;
    if ((rc = kb_read_u32(&d->r, &s->func)) || (rc = kc_read_count(d, 1, &n)))
        return rc;
    s->nargs = n;
    s->args = kc_alloc(d->arena, (size_t)n * sizeof *s->args);
    if (!s->args)
        return kb_diag(d->diag, KUMO_ENOMEM, kb_offset(&d->r), "out of memory");
    for (uint32_t i = 0; i < n; i++)
        if ((rc = kb_read_u32(&d->r, &s->args[i])))
            return rc;
    if ((rc = kb_read_u32(&d->r, &s->nresults)))
        return rc;
    if (s->nresults > 1)
        return kc_error(d, "start function with %u results", s->nresults);
    return 0;
}

static int
read_export(kc_decoder *d, kc_export *e)
{
    uint8_t b;
    int rc;
    e->offset = kb_offset(&d->r);
    e->has_sortidx = true;
    if ((rc = kc_read_name(d, &e->name)) || (rc = kc_read_sort(d, &e->sort)) ||
        (rc = kb_read_u32(&d->r, &e->idx)) || (rc = kb_read_u8(&d->r, &b)))
        return rc;
    if (b > 0x01) {
        d->r.p--;
        return kc_error(d, "invalid leading byte (0x%x) for optional component export type", b);
    }
    e->has_ext = b == 0x01;
    return e->has_ext ? kc_read_extern(d, &e->ext) : 0;
}

/* value ::= valtype len:u32 bytes */
static int
read_value(kc_decoder *d, kc_value *v)
{
    uint32_t len;
    const uint8_t *p;
    int rc;
    if ((rc = kc_read_valtype(d, &v->type)) || (rc = kb_read_u32(&d->r, &len)))
        return rc;
    v->bytes.offset = kb_offset(&d->r);
    v->bytes.len = len;
    return kb_read_bytes(&d->r, len, &p);
}

/* ---- sections */

#define PUSH_ARRAY(b, name)                                                    \
    kc_grow(d->arena, (void **)&(b)->name, &(b)->cap_##name, (b)->n##name + 1, \
            sizeof *(b)->name)

static int
nomem(kc_decoder *d)
{
    return kb_diag(d->diag, KUMO_ENOMEM, kb_offset(&d->r), "out of memory");
}

static int read_nested(kc_decoder *d, kc_body *b);

/* One element of a vector section. */
static int
read_element(kc_decoder *d, kc_body *b, uint8_t id)
{
    int rc;
    uint32_t k;
    switch (id) {
    case 2:
        if (PUSH_ARRAY(b, core_instances))
            return nomem(d);
        k = b->ncore_instances;
        memset(&b->core_instances[k], 0, sizeof b->core_instances[k]);
        if ((rc = read_core_instance(d, &b->core_instances[k])))
            return rc;
        b->ncore_instances++;
        if ((rc = kc_push(d, b, KC_CORE_INSTANCE, KC_FROM_DEF, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_CORE_INSTANCE, k);
    case 3:
        if (PUSH_ARRAY(b, core_types))
            return nomem(d);
        k = b->ncore_types;
        if ((rc = kc_read_core_type(d, &b->core_types[k])))
            return rc;
        b->ncore_types++;
        if ((rc = kc_push(d, b, KC_CORE_TYPE, KC_FROM_DEF, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_CORE_TYPE, k);
    case 5:
        if (PUSH_ARRAY(b, instances))
            return nomem(d);
        k = b->ninstances;
        memset(&b->instances[k], 0, sizeof b->instances[k]);
        if ((rc = read_instance(d, &b->instances[k])))
            return rc;
        b->ninstances++;
        if ((rc = kc_push(d, b, KC_INSTANCE, KC_FROM_DEF, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_INSTANCE, k);
    case 6:
        if (PUSH_ARRAY(b, aliases))
            return nomem(d);
        k = b->naliases;
        if ((rc = kc_read_alias(d, &b->aliases[k])))
            return rc;
        b->naliases++;
        if ((rc = kc_push(d, b, b->aliases[k].sort, KC_FROM_ALIAS, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_ALIAS, k);
    case 7:
        if (PUSH_ARRAY(b, types))
            return nomem(d);
        k = b->ntypes;
        if ((rc = kc_read_type(d, b, &b->types[k])))
            return rc;
        b->ntypes++;
        if ((rc = kc_push(d, b, KC_TYPE, KC_FROM_DEF, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_TYPE, k);
    case 8: {
        if (PUSH_ARRAY(b, canons))
            return nomem(d);
        k = b->ncanons;
        kc_canon *c = &b->canons[k];
        memset(c, 0, sizeof *c);
        if ((rc = read_canon(d, c)))
            return rc;
        b->ncanons++;
        kc_sort s = c->op == KC_CANON_LIFT ? KC_FUNC : KC_CORE_FUNC;
        if ((rc = kc_push(d, b, s, KC_FROM_CANON, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_CANON, k);
    }
    case 10: {
        if (PUSH_ARRAY(b, imports))
            return nomem(d);
        k = b->nimports;
        kc_import *im = &b->imports[k];
        im->offset = kb_offset(&d->r);
        if ((rc = kc_read_name(d, &im->name)) ||
            (rc = kc_read_extern(d, &im->ext)))
            return rc;
        b->nimports++;
        if ((rc = kc_push(d, b, kc_extern_sort(im->ext.kind), KC_FROM_IMPORT,
                          k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_IMPORT, k);
    }
    case 11: {
        if (PUSH_ARRAY(b, exports))
            return nomem(d);
        k = b->nexports;
        kc_export *e = &b->exports[k];
        memset(e, 0, sizeof *e);
        if ((rc = read_export(d, e)))
            return rc;
        if (e->sort < KC_FUNC && e->sort != KC_CORE_MODULE)
            return kc_error(d, "export of a %s", kc_sort_name(e->sort));
        b->nexports++;
        if ((rc = kc_push(d, b, e->sort, KC_FROM_EXPORT, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_EXPORT, k);
    }
    case 12:
        if (PUSH_ARRAY(b, values))
            return nomem(d);
        k = b->nvalues;
        if ((rc = read_value(d, &b->values[k])))
            return rc;
        b->nvalues++;
        if ((rc = kc_push(d, b, KC_VALUE, KC_FROM_DEF, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_VALUE, k);
    }
    return 0;
}

static int
read_start_section(kc_decoder *d, kc_body *b)
{
    int rc;
    if (PUSH_ARRAY(b, starts))
        return nomem(d);
    uint32_t k = b->nstarts;
    memset(&b->starts[k], 0, sizeof b->starts[k]);
    if ((rc = read_start(d, &b->starts[k])))
        return rc;
    b->nstarts++;
    for (uint32_t i = 0; i < b->starts[k].nresults; i++)
        if ((rc = kc_push(d, b, KC_VALUE, KC_FROM_START, k)))
            return rc;
    return kc_add_def(d, b, KC_DEF_START, k);
}

static int
read_section(kc_decoder *d, kc_body *b, uint8_t id)
{
    int rc;
    uint32_t n;
    switch (id) {
    case 0: {
        kc_str name;
        if ((rc = kc_read_str(d, &name)))
            return rc;
        d->r.p = d->r.end; /* custom sections are skipped */
        return 0;
    }
    case 1: {
        if (PUSH_ARRAY(b, modules))
            return nomem(d);
        uint32_t k = b->nmodules;
        b->modules[k].offset = kb_offset(&d->r);
        b->modules[k].len = (size_t)(d->r.end - d->r.p);
        d->r.p = d->r.end;
        b->nmodules++;
        if ((rc = kc_push(d, b, KC_CORE_MODULE, KC_FROM_DEF, k)))
            return rc;
        return kc_add_def(d, b, KC_DEF_CORE_MODULE, k);
    }
    case 4:
        return read_nested(d, b);
    case 9:
        return read_start_section(d, b);
    case 2:
    case 3:
    case 5:
    case 6:
    case 7:
    case 8:
    case 10:
    case 11:
    case 12:
        if ((rc = kc_read_count(d, 1, &n)))
            return rc;
        for (uint32_t i = 0; i < n; i++)
            if ((rc = read_element(d, b, id)))
                return rc;
        return 0;
    default:
        return kc_error(d, "malformed section id %u", id);
    }
}

/* A nested component: preamble then sections, in [r.p, r.end). */
static int
read_nested(kc_decoder *d, kc_body *b)
{
    static const uint8_t preamble[8] = {0x00, 0x61, 0x73, 0x6d,
                                        0x0d, 0x00, 0x01, 0x00};
    const uint8_t *p;
    int rc;
    size_t start = kb_offset(&d->r);
    if ((rc = kb_read_bytes(&d->r, 8, &p)))
        return rc;
    if (memcmp(p, preamble, 8) != 0) {
        d->r.p = p;
        return kc_error(d, memcmp(p, preamble, 4) != 0 ? "magic header not "
                                                         "detected"
                           : p[6] != 0x01 || p[7] != 0x00
                               ? "expected a version header for a component"
                               : "unknown binary version");
    }
    if (d->depth >= KC_MAX_DEPTH)
        return kb_diag(d->diag, KUMO_ELIMIT, start,
                       "components nested too deeply");
    if (PUSH_ARRAY(b, components))
        return nomem(d);
    kc_body *nb = kc_alloc(d->arena, sizeof *nb);
    if (!nb)
        return nomem(d);
    nb->kind = KC_BODY_COMPONENT;
    nb->parent = b;
    nb->offset = start;
    nb->len = (size_t)(d->r.end - d->r.base) - start;
    d->depth++;
    rc = kc_read_component(d, nb);
    d->depth--;
    if (rc)
        return rc;
    uint32_t k = b->ncomponents++;
    b->components[k] = nb;
    if ((rc = kc_push(d, b, KC_COMPONENT, KC_FROM_DEF, k)))
        return rc;
    return kc_add_def(d, b, KC_DEF_COMPONENT, k);
}

int
kc_read_component(kc_decoder *d, kc_body *b)
{
    const uint8_t *end = d->r.end;
    int rc;
    while (d->r.p < end) {
        uint8_t id;
        uint32_t size;
        if ((rc = kb_read_u8(&d->r, &id)))
            return rc;
        if (id > 12) {
            d->r.p--;
            return kc_error(d, "malformed section id %u", id);
        }
        if ((rc = kb_read_u32(&d->r, &size)))
            return rc;
        if (size > (size_t)(end - d->r.p))
            return kc_error(d, "unexpected end-of-file: section size %u "
                               "exceeds the %zu bytes left",
                            size, (size_t)(end - d->r.p));
        const uint8_t *sec_end = d->r.p + size;
        d->r.end = sec_end;
        rc = read_section(d, b, id);
        d->r.end = end;
        if (rc)
            return rc;
        if (d->r.p != sec_end)
            return kc_error(d,
                            "section size mismatch: %zu bytes left in "
                            "section %u",
                            (size_t)(sec_end - d->r.p), id);
    }
    return 0;
}
