/* validate.c - module-level validation: everything but function bodies
 * (compile.c validates those). Limits, constant expressions, segments,
 * exports, the start function. Messages are the spec's. */
#include <stdio.h>

#include "module.h"

#define MAX_PAGES 65536u

typedef struct vctx {
    const kumo_module *m;
    kumo_diag *diag;
} vctx;

static int invalid(vctx *v, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
invalid(vctx *v, size_t at, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return kb_diag(v->diag, KUMO_EINVALID, at, "%s", buf);
}

/* ---- types and limits ---- */

static int
check_limits(vctx *v, const ke_limits *l, uint64_t bound, const char *msg)
{
    if (l->min > bound || (l->has_max && l->max > bound))
        return invalid(v, 0, "%s", msg);
    if (l->has_max && l->min > l->max)
        return invalid(v, 0, "size minimum must not be greater than maximum");
    return 0;
}

static int
check_table(vctx *v, const ke_tabletype *t)
{
    return check_limits(v, &t->limits, UINT32_MAX,
                        "table size must be at most 2^32-1");
}

static int
check_mem(vctx *v, const ke_memtype *t)
{
    return check_limits(v, &t->limits, MAX_PAGES,
                        "memory size must be at most 65536 pages (4GiB)");
}

/* A tag's type: a known function type without results. */
static int
check_tag(vctx *v, uint32_t type_index, size_t at)
{
    const kumo_module *m = v->m;
    if (type_index >= m->ntypes)
        return invalid(v, at, "unknown type %u", type_index);
    if (m->types[type_index].nresults)
        return invalid(v, at, "non-empty tag result type");
    return 0;
}

static int
check_imports(vctx *v)
{
    const kumo_module *m = v->m;
    int rc = 0;
    for (uint32_t i = 0; i < m->nimports && !rc; i++) {
        const ke_import *im = &m->imports[i];
        if ((int)im->kind == KUMO_EXTERN_TAG) {
            rc = check_tag(v, im->u.tag_type, im->module.off);
            continue;
        }
        switch (im->kind) {
        case KUMO_EXTERN_FUNC:
            if (im->u.type_index >= m->ntypes)
                rc = invalid(v, im->module.off, "unknown type %u",
                             im->u.type_index);
            break;
        case KUMO_EXTERN_TABLE:
            rc = check_table(v, &im->u.table);
            break;
        case KUMO_EXTERN_MEMORY:
            rc = check_mem(v, &im->u.mem);
            break;
        case KUMO_EXTERN_GLOBAL:
            break;
        }
    }
    return rc;
}

/* ---- constant expressions ---- */

/* The type stack of a constant expression is tiny in practice; deeper
 * expressions (long extended-const chains) are still fine up to this. */
#define CONST_STACK 64

typedef struct cexpr {
    ke_valtype st[CONST_STACK];
    uint32_t n;
    int err; /* first deferred type error (0 or KUMO_EINVALID) */
    size_t err_at;
    char err_msg[64];
} cexpr;

static void
defer(cexpr *e, size_t at, const char *msg, uint32_t idx)
{
    if (e->err)
        return;
    e->err = KUMO_EINVALID;
    e->err_at = at;
    if (idx == KE_NONE)
        snprintf(e->err_msg, sizeof e->err_msg, "%s", msg);
    else
        snprintf(e->err_msg, sizeof e->err_msg, "%s %u", msg, idx);
}

static void
cpush(cexpr *e, size_t at, ke_valtype t)
{
    if (e->n == CONST_STACK) {
        defer(e, at, "constant expression too deep", KE_NONE);
        return;
    }
    e->st[e->n++] = t;
}

static void
cpop(cexpr *e, size_t at, ke_valtype t)
{
    if (e->n == 0 || e->st[e->n - 1] != t)
        defer(e, at, "type mismatch", KE_NONE);
    if (e->n)
        e->n--;
}

/* Binary ops of extended-const: i32/i64 add, sub, mul. */
static bool
ext_const_op(uint8_t op, ke_valtype *t)
{
    if (op >= 0x6a && op <= 0x6c)
        *t = KUMO_I32;
    else if (op >= 0x7c && op <= 0x7e)
        *t = KUMO_I64;
    else
        return false;
    return true;
}

/* One instruction of a constant expression. Non-constant instructions and
 * unknown globals fail at once (the spec checks constness before types);
 * type errors are deferred into e. */
static int
const_instr(vctx *v, kb_reader *r, cexpr *e, uint8_t op, size_t at)
{
    const kumo_module *m = v->m;
    uint32_t x, u32;
    uint64_t u64;
    int32_t s32;
    int64_t s64;
    uint8_t b;
    ke_valtype t;
    int rc = 0;

    switch (op) {
    case 0x41:
        rc = kb_read_s32(r, &s32);
        cpush(e, at, KUMO_I32);
        return rc;
    case 0x42:
        rc = kb_read_s64(r, &s64);
        cpush(e, at, KUMO_I64);
        return rc;
    case 0x43:
        rc = kb_read_f32(r, &u32);
        cpush(e, at, KUMO_F32);
        return rc;
    case 0x44:
        rc = kb_read_f64(r, &u64);
        cpush(e, at, KUMO_F64);
        return rc;
    case 0xd0:
        if ((rc = kb_read_u8(r, &b)))
            return rc;
        cpush(e, at, b);
        return 0;
    case 0xd2:
        if ((rc = kb_read_u32(r, &x)))
            return rc;
        if (x >= m->nfuncs)
            defer(e, at, "unknown function", x);
        cpush(e, at, KUMO_FUNCREF);
        return 0;
    case 0x23:
        if ((rc = kb_read_u32(r, &x)))
            return rc;
        /* Only imported globals are visible in constant expressions. */
        if (x >= m->nimported_globals)
            return invalid(v, at, "unknown global %u", x);
        if (m->globals[x].type.mutable_)
            return invalid(v, at, "constant expression required");
        cpush(e, at, m->globals[x].type.type);
        return 0;
    default:
        if (!v->m->features.extended_const || !ext_const_op(op, &t))
            return invalid(v, at, "constant expression required");
        cpop(e, at, t);
        cpop(e, at, t);
        cpush(e, at, t);
        return 0;
    }
}

static int
check_const(vctx *v, const ke_expr *ex, ke_valtype want)
{
    const kumo_module *m = v->m;
    kb_reader r = {m->bytes, m->bytes + ex->off, m->bytes + ex->off + ex->len,
                   v->diag, NULL};
    cexpr e;
    int rc;

    e.n = 0;
    e.err = 0;
    for (;;) {
        size_t at = kb_offset(&r);
        uint8_t op;
        if ((rc = kb_read_u8(&r, &op)))
            return rc;
        if (op == 0x0b)
            break;
        if ((rc = const_instr(v, &r, &e, op, at)))
            return rc;
    }
    if (e.err)
        return kb_diag(v->diag, e.err, e.err_at, "%s", e.err_msg);
    if (e.n != 1 || e.st[0] != want)
        return invalid(v, ex->off, "type mismatch");
    return 0;
}

/* ---- globals, segments ---- */

static int
check_globals(vctx *v)
{
    const kumo_module *m = v->m;
    for (uint32_t i = m->nimported_globals; i < m->nglobals; i++) {
        const ke_global *g = &m->globals[i];
        int rc = check_const(v, &g->init, g->type.type);
        if (rc)
            return rc;
    }
    return 0;
}

static int
check_elem(vctx *v, const ke_elem *el)
{
    const kumo_module *m = v->m;
    int rc;
    if (el->mode == KE_SEG_ACTIVE) {
        if (el->table >= m->ntables)
            return invalid(v, el->at, "unknown table %u", el->table);
        if ((rc = check_const(v, &el->offset, KUMO_I32)))
            return rc;
    }
    for (uint32_t j = 0; j < el->nitems; j++) {
        const ke_elemitem *it = &el->items[j];
        if (!it->is_expr) {
            if (it->func_index >= m->nfuncs)
                return invalid(v, el->at, "unknown function %u",
                               it->func_index);
        } else if ((rc = check_const(v, &it->expr, el->type))) {
            return rc;
        }
    }
    if (el->mode == KE_SEG_ACTIVE && m->tables[el->table].elem != el->type)
        return invalid(v, el->at, "type mismatch");
    return 0;
}

static int
check_segments(vctx *v)
{
    const kumo_module *m = v->m;
    int rc;
    for (uint32_t i = 0; i < m->nelems; i++)
        if ((rc = check_elem(v, &m->elems[i])))
            return rc;
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const ke_data *d = &m->datas[i];
        if (d->mode != KE_SEG_ACTIVE)
            continue;
        if (d->mem >= m->nmems)
            return invalid(v, d->offset.off, "unknown memory %u", d->mem);
        if ((rc = check_const(v, &d->offset, KUMO_I32)))
            return rc;
    }
    return 0;
}

/* ---- exports and start ---- */

static uint32_t
name_hash(const uint8_t *s, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

static int
check_export_names(vctx *v)
{
    const kumo_module *m = v->m;
    uint32_t cap = 16, *tab;
    int rc = 0;
    while (cap < 2 * (uint64_t)m->nexports)
        cap *= 2;
    tab = kb_malloc((size_t)cap * sizeof *tab);
    if (!tab)
        return kb_diag(v->diag, KUMO_ENOMEM, 0, "out of memory");
    for (uint32_t i = 0; i < cap; i++)
        tab[i] = KE_NONE;
    for (uint32_t i = 0; i < m->nexports && !rc; i++) {
        const ke_range *nm = &m->exports[i].name;
        const uint8_t *s = m->bytes + nm->off;
        uint32_t h = name_hash(s, nm->len) & (cap - 1);
        for (; tab[h] != KE_NONE; h = (h + 1) & (cap - 1)) {
            const ke_range *o = &m->exports[tab[h]].name;
            if (o->len == nm->len && !memcmp(m->bytes + o->off, s, nm->len)) {
                rc = invalid(v, nm->off, "duplicate export name");
                break;
            }
        }
        tab[h] = i;
    }
    kb_free(tab);
    return rc;
}

static int
check_exports(vctx *v)
{
    const kumo_module *m = v->m;
    static const char *const what[] = {"function", "table", "memory",
                                       "global", "tag"};
    for (uint32_t i = 0; i < m->nexports; i++) {
        const ke_export *ex = &m->exports[i];
        uint32_t n = ex->kind == KUMO_EXTERN_FUNC     ? m->nfuncs
                     : ex->kind == KUMO_EXTERN_TABLE  ? m->ntables
                     : ex->kind == KUMO_EXTERN_MEMORY ? m->nmems
                     : ex->kind == KUMO_EXTERN_GLOBAL ? m->nglobals
                                                      : m->ntags;
        if (ex->index >= n)
            return invalid(v, ex->name.off, "unknown %s %u",
                           what[ex->kind <= 4 ? ex->kind : 4], ex->index);
    }
    return check_export_names(v);
}

static int
check_start(vctx *v)
{
    const kumo_module *m = v->m;
    if (m->start == KE_NONE)
        return 0;
    if (m->start >= m->nfuncs)
        return invalid(v, 0, "unknown function %u", m->start);
    const ke_functype *ft = ke_func_type(m, m->start);
    if (ft->nparams || ft->nresults)
        return invalid(v, 0, "start function");
    return 0;
}

static int
check_definitions(vctx *v)
{
    const kumo_module *m = v->m;
    int rc;
    for (uint32_t i = 0; i < m->nfuncs; i++)
        if (m->func_types[i] >= m->ntypes)
            return invalid(v, 0, "unknown type %u", m->func_types[i]);
    for (uint32_t i = m->nimported_tables; i < m->ntables; i++)
        if ((rc = check_table(v, &m->tables[i])))
            return rc;
    for (uint32_t i = m->nimported_mems; i < m->nmems; i++)
        if ((rc = check_mem(v, &m->mems[i])))
            return rc;
    if (m->nmems > 1 && !m->features.multi_memory)
        return invalid(v, 0, "multiple memories");
    for (uint32_t i = m->nimported_tags; i < m->ntags; i++)
        if ((rc = check_tag(v, m->tag_types[i], 0)))
            return rc;
    return 0;
}

int
ke_validate_module(const kumo_module *m, kumo_diag *diag)
{
    vctx v = {m, diag};
    int rc;
    if ((rc = check_imports(&v)) || (rc = check_definitions(&v)) ||
        (rc = check_globals(&v)) || (rc = check_segments(&v)) ||
        (rc = check_start(&v)) || (rc = check_exports(&v)))
        return rc;
    return 0;
}
