/* decode.c - the binary decoder: bytes in, a kumo_module's fields out.
 *
 * The shape follows the spec's reference decoder so that malformed
 * binaries get the spec's messages: a section's contents are read against
 * the end of the whole binary, not the section, and the section's declared
 * size is checked afterwards ("section size mismatch"); every vector or
 * name length is checked against the bytes left in the binary ("length out
 * of bounds"); running off the end is "unexpected end of section or
 * function". Function bodies are only split here (size, locals); their
 * instructions are validated and translated by compile.c. */
#include "module.h"

/* A practical cap on a function's declared locals (as other engines). */
#define KE_MAX_LOCALS 50000u

static const char eof_section[] = "unexpected end of section or function";

typedef struct dec {
    kumo_module *m;
    kb_reader r; /* over the whole binary */
    kumo_diag *diag;
    uint32_t ncode; /* entries of the code section */
    bool has_names; /* a `name` custom section was seen */
    ke_range names; /* its payload (after the section's name) */
} dec;

static int
fail(dec *d, size_t off, const char *msg)
{
    return kb_diag(d->diag, KUMO_EMALFORMED, off, "%s", msg);
}

static int
nomem(dec *d)
{
    return kb_diag(d->diag, KUMO_ENOMEM, kb_offset(&d->r), "out of memory");
}

static size_t
pos(const dec *d)
{
    return kb_offset(&d->r);
}

/* ---- generic values ---- */

/* A u32 length that must not exceed the bytes left from where it starts. */
static int
read_len(dec *d, uint32_t *n)
{
    size_t at = pos(d);
    int rc = kb_read_u32(&d->r, n);
    if (rc)
        return rc;
    if (*n > (size_t)(d->r.end - d->r.base) - at)
        return fail(d, at, "length out of bounds");
    return 0;
}

/* A one-byte signed LEB128 (type constructors, value types). */
static int
read_s7(dec *d, uint8_t *b)
{
    int rc = kb_read_u8(&d->r, b);
    if (rc)
        return rc;
    if (*b & 0x80)
        return fail(d, pos(d), "integer representation too long");
    return 0;
}

static bool
is_valtype(const kumo_module *m, uint8_t b)
{
    if (b == KUMO_EXNREF)
        return m->features.exceptions;
    switch (b) {
    case KUMO_I32:
    case KUMO_I64:
    case KUMO_F32:
    case KUMO_F64:
    case KUMO_V128:
    case KUMO_FUNCREF:
    case KUMO_EXTERNREF:
        return true;
    default:
        return false;
    }
}

static int
read_valtype(dec *d, ke_valtype *out)
{
    uint8_t b;
    int rc = read_s7(d, &b);
    if (rc)
        return rc;
    if (!is_valtype(d->m, b))
        return fail(d, pos(d) - 1, "malformed value type");
    *out = b;
    return 0;
}

static int
read_reftype(dec *d, ke_valtype *out)
{
    uint8_t b;
    int rc = read_s7(d, &b);
    if (rc)
        return rc;
    if (b != KUMO_FUNCREF && b != KUMO_EXTERNREF)
        return fail(d, pos(d) - 1, "malformed reference type");
    *out = b;
    return 0;
}

/* A name: length, bytes, valid UTF-8. */
static int
read_name(dec *d, ke_range *out)
{
    uint32_t n;
    const uint8_t *s;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    size_t at = pos(d);
    if ((rc = kb_read_bytes(&d->r, n, &s)))
        return rc;
    if (!kb_utf8_valid(s, n))
        return fail(d, at, "malformed UTF-8 encoding");
    out->off = (uint32_t)at;
    out->len = n;
    return 0;
}

/* Limits flags are a 1-bit unsigned LEB128: 0 (min) or 1 (min, max). */
static int
read_limits(dec *d, ke_limits *out)
{
    uint8_t flags;
    uint32_t v;
    int rc = kb_read_u8(&d->r, &flags);
    if (rc)
        return rc;
    if (flags & 0x80)
        return fail(d, pos(d), "integer representation too long");
    if (flags > 1)
        return fail(d, pos(d) - 1, "integer too large");
    if ((rc = kb_read_u32(&d->r, &v)))
        return rc;
    out->min = v;
    out->has_max = flags == 1;
    out->max = 0;
    if (out->has_max) {
        if ((rc = kb_read_u32(&d->r, &v)))
            return rc;
        out->max = v;
    }
    return 0;
}

static int
read_tabletype(dec *d, ke_tabletype *out)
{
    int rc = read_reftype(d, &out->elem);
    if (rc)
        return rc;
    return read_limits(d, &out->limits);
}

static int
read_globaltype(dec *d, ke_globaltype *out)
{
    uint8_t mut;
    int rc = read_valtype(d, &out->type);
    if (rc)
        return rc;
    if ((rc = kb_read_u8(&d->r, &mut)))
        return rc;
    if (mut > 1)
        return fail(d, pos(d) - 1, "malformed mutability");
    out->mutable_ = mut == 1;
    return 0;
}

/* ---- constant expressions ---- */

/* Mark function idx as referenced outside function bodies. Called only
 * after the function section, so nfuncs is final. */
static int
mark_func(dec *d, uint32_t idx)
{
    kumo_module *m = d->m;
    if (idx >= m->nfuncs)
        return 0; /* the validator reports "unknown function" */
    if (!m->func_declared) {
        m->func_declared = kb_calloc(m->nfuncs, sizeof(bool));
        if (!m->func_declared)
            return nomem(d);
    }
    m->func_declared[idx] = true;
    return 0;
}

/* The immediates of a 0xfc-prefixed instruction. */
static int
skip_fc(dec *d, size_t at)
{
    uint32_t sub, x;
    uint8_t z;
    int rc = kb_read_u32(&d->r, &sub);
    if (rc)
        return rc;
    int nidx = 0, nzero = 0;
    switch (sub) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
        break;
    case 8: /* memory.init */
        nidx = 1, nzero = 1;
        break;
    case 9:
    case 13:
    case 15:
    case 16:
    case 17:
        nidx = 1;
        break;
    case 10: /* memory.copy */
        nzero = 2;
        break;
    case 11: /* memory.fill */
        nzero = 1;
        break;
    case 12:
    case 14:
        nidx = 2;
        break;
    default:
        return fail(d, at, "illegal opcode");
    }
    for (int i = 0; i < nidx; i++)
        if ((rc = kb_read_u32(&d->r, &x)))
            return rc;
    for (int i = 0; i < nzero; i++) {
        if ((rc = kb_read_u8(&d->r, &z)))
            return rc;
        if (z != 0)
            return fail(d, pos(d) - 1, "zero byte expected");
    }
    return 0;
}

/* The immediates of the exception-handling instructions (a constant
 * expression cannot hold them; the validator says so). */
static int
skip_eh(dec *d, uint8_t op, size_t at)
{
    uint32_t x, n;
    int64_t bt;
    uint8_t kind;
    int rc;
    switch (op) {
    case 0x06:
        return kb_read_s33(&d->r, &bt);
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x18:
        return kb_read_u32(&d->r, &x);
    case 0x0a:
    case 0x19:
        return 0;
    case 0x1f:
        if ((rc = kb_read_s33(&d->r, &bt)) || (rc = read_len(d, &n)))
            return rc;
        for (uint32_t i = 0; i < n; i++) {
            if ((rc = kb_read_u8(&d->r, &kind)))
                return rc;
            if (kind < 2 && (rc = kb_read_u32(&d->r, &x)))
                return rc;
            if ((rc = kb_read_u32(&d->r, &x)))
                return rc;
        }
        return 0;
    default:
        return fail(d, at, "illegal opcode");
    }
}

/* Skip the immediates of instruction op (at offset at). Constant
 * expressions may only hold a few instructions, but the validator reports
 * the others ("constant expression required"), so every instruction is
 * decoded here to find the right `end`. */
static int
skip_imm(dec *d, uint8_t op, size_t at)
{
    uint32_t x, n;
    int32_t i32;
    int64_t i64;
    uint8_t b;
    const uint8_t *bytes;
    ke_valtype t;
    int rc = 0;

    if (op >= 0x45 && op <= 0xc4)
        return 0; /* numeric: no immediates */
    switch (op) {
    case 0x00:
    case 0x01:
    case 0x0f:
    case 0x1a:
    case 0x1b:
    case 0xd1:
        return 0;
    case 0x02:
    case 0x03:
    case 0x04:
        return kb_read_s33(&d->r, &i64);
    case 0x0c:
    case 0x0d:
    case 0x10:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
        return kb_read_u32(&d->r, &x);
    case 0x0e:
        if ((rc = read_len(d, &n)))
            return rc;
        for (uint64_t i = 0; i <= n && !rc; i++)
            rc = kb_read_u32(&d->r, &x);
        return rc;
    case 0x11:
        if ((rc = kb_read_u32(&d->r, &x)))
            return rc;
        return kb_read_u32(&d->r, &x);
    case 0x1c:
        if ((rc = read_len(d, &n)))
            return rc;
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = read_valtype(d, &t);
        return rc;
    case 0x3f:
    case 0x40:
        if (d->m->features.multi_memory)
            return kb_read_u32(&d->r, &x);
        if ((rc = kb_read_u8(&d->r, &b)))
            return rc;
        return b ? fail(d, pos(d) - 1, "zero byte expected") : 0;
    case 0x41:
        return kb_read_s32(&d->r, &i32);
    case 0x42:
        return kb_read_s64(&d->r, &i64);
    case 0x43:
        return kb_read_bytes(&d->r, 4, &bytes);
    case 0x44:
        return kb_read_bytes(&d->r, 8, &bytes);
    case 0xd0:
        if (d->m->features.exceptions && d->r.p < d->r.end &&
            *d->r.p == KUMO_EXNREF)
            return kb_read_u8(&d->r, &b);
        return read_reftype(d, &t);
    case 0xd2:
        if ((rc = kb_read_u32(&d->r, &x)))
            return rc;
        return mark_func(d, x);
    case 0xfc:
        return skip_fc(d, at);
    default:
        if (op >= 0x28 && op <= 0x3e) { /* loads and stores: memarg */
            if ((rc = kb_read_u32(&d->r, &x)))
                return rc;
            if ((x & 0x40) && d->m->features.multi_memory &&
                (rc = kb_read_u32(&d->r, &n)))
                return rc;
            return kb_read_u32(&d->r, &x);
        }
        if (d->m->features.exceptions)
            return skip_eh(d, op, at);
        return fail(d, at, "illegal opcode");
    }
}

/* A constant expression up to and including its final `end`. */
static int
read_expr(dec *d, ke_expr *out)
{
    size_t start = pos(d);
    uint32_t depth = 0;
    for (;;) {
        size_t at = pos(d);
        uint8_t op;
        int rc = kb_read_u8(&d->r, &op);
        if (rc)
            return rc;
        if (op == 0x0b) {
            if (depth == 0)
                break;
            depth--;
            continue;
        }
        if (op == 0x05 && depth == 0)
            return fail(d, at, "END opcode expected");
        if ((rc = skip_imm(d, op, at)))
            return rc;
        if ((op >= 0x02 && op <= 0x04) ||
            (d->m->features.exceptions && (op == 0x06 || op == 0x1f)))
            depth++;
        if (op == 0x18 && d->m->features.exceptions && depth > 0)
            depth--;
    }
    out->off = (uint32_t)start;
    out->len = (uint32_t)(pos(d) - start);
    return 0;
}

/* ---- sections ---- */

static int
read_types(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    m->types = kb_calloc(n, sizeof *m->types);
    m->ktypes = kb_calloc(n, sizeof *m->ktypes);
    if (!m->types || !m->ktypes)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        ke_functype *ft = &m->types[i];
        uint8_t form;
        uint32_t np, nr;
        if ((rc = read_s7(d, &form)))
            return rc;
        if (form != 0x60)
            return fail(d, pos(d) - 1, "malformed function type");
        if ((rc = read_len(d, &np)))
            return rc;
        /* Results are read after the params: grow once for both. */
        ft->types = kb_malloc(np);
        if (!ft->types)
            return nomem(d);
        m->ntypes = i + 1;
        for (uint32_t k = 0; k < np; k++)
            if ((rc = read_valtype(d, &ft->types[k])))
                return rc;
        ft->nparams = np;
        if ((rc = read_len(d, &nr)))
            return rc;
        ke_valtype *all = kb_realloc(ft->types, (size_t)np + nr + 1);
        if (!all)
            return nomem(d);
        ft->types = all;
        for (uint32_t k = 0; k < nr; k++)
            if ((rc = read_valtype(d, &ft->types[np + k])))
                return rc;
        ft->nresults = nr;
        m->ktypes[i] = kb_calloc((size_t)np + nr, sizeof(kumo_valtype));
        if (!m->ktypes[i])
            return nomem(d);
        for (uint32_t k = 0; k < np + nr; k++)
            m->ktypes[i][k] = (kumo_valtype)ft->types[k];
    }
    m->ntypes = n;
    return 0;
}

/* A tag type: attribute 0 (exception), then a function type index. */
static int
read_tagtype(dec *d, uint32_t *type_index)
{
    uint8_t attr;
    int rc = kb_read_u8(&d->r, &attr);
    if (rc)
        return rc;
    if (attr != 0)
        return fail(d, pos(d) - 1, "malformed tag attribute");
    return kb_read_u32(&d->r, type_index);
}

static int
read_import(dec *d, ke_import *im)
{
    kumo_module *m = d->m;
    uint8_t kind;
    int rc;
    if ((rc = read_name(d, &im->module)) || (rc = read_name(d, &im->name)))
        return rc;
    if ((rc = kb_read_u8(&d->r, &kind)))
        return rc;
    switch (kind) {
    case KUMO_EXTERN_FUNC:
        im->index = m->nimported_funcs++;
        rc = kb_read_u32(&d->r, &im->u.type_index);
        break;
    case KUMO_EXTERN_TABLE:
        im->index = m->nimported_tables++;
        rc = read_tabletype(d, &im->u.table);
        break;
    case KUMO_EXTERN_MEMORY:
        im->index = m->nimported_mems++;
        rc = read_limits(d, &im->u.mem.limits);
        break;
    case KUMO_EXTERN_GLOBAL:
        im->index = m->nimported_globals++;
        rc = read_globaltype(d, &im->u.global);
        break;
    case KUMO_EXTERN_TAG:
        if (!m->features.exceptions)
            return fail(d, pos(d) - 1, "malformed import kind");
        im->index = m->nimported_tags++;
        rc = read_tagtype(d, &im->u.tag_type);
        break;
    default:
        return fail(d, pos(d) - 1, "malformed import kind");
    }
    im->kind = (kumo_externkind)kind;
    return rc;
}

/* Give the imported entities their place in the index spaces. */
static int
place_imports(dec *d)
{
    kumo_module *m = d->m;
    m->func_types = kb_calloc(m->nimported_funcs, sizeof *m->func_types);
    m->tables = kb_calloc(m->nimported_tables, sizeof *m->tables);
    m->mems = kb_calloc(m->nimported_mems, sizeof *m->mems);
    m->globals = kb_calloc(m->nimported_globals, sizeof *m->globals);
    m->tag_types = kb_calloc(m->nimported_tags, sizeof *m->tag_types);
    if (!m->func_types || !m->tables || !m->mems || !m->globals ||
        !m->tag_types)
        return nomem(d);
    for (uint32_t i = 0; i < m->nimports; i++) {
        const ke_import *im = &m->imports[i];
        switch ((int)im->kind) {
        case KUMO_EXTERN_FUNC:
            m->func_types[im->index] = im->u.type_index;
            break;
        case KUMO_EXTERN_TAG:
            m->tag_types[im->index] = im->u.tag_type;
            break;
        case KUMO_EXTERN_TABLE:
            m->tables[im->index] = im->u.table;
            break;
        case KUMO_EXTERN_MEMORY:
            m->mems[im->index] = im->u.mem;
            break;
        case KUMO_EXTERN_GLOBAL:
            m->globals[im->index].type = im->u.global;
            break;
        }
    }
    m->nfuncs = m->nimported_funcs;
    m->ntables = m->nimported_tables;
    m->nmems = m->nimported_mems;
    m->nglobals = m->nimported_globals;
    m->ntags = m->nimported_tags;
    return 0;
}

static int
read_imports(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    m->imports = kb_calloc(n, sizeof *m->imports);
    if (!m->imports)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = read_import(d, &m->imports[i])))
            return rc;
        m->nimports = i + 1;
    }
    return 0;
}

/* Grow an index-space array from `have` to `have + n` elements. */
static int
grow(dec *d, void **arr, uint32_t have, uint32_t n, size_t elem)
{
    uint8_t *p = kb_realloc(*arr, ((size_t)have + n) * elem + 1);
    if (!p)
        return nomem(d);
    memset(p + (size_t)have * elem, 0, (size_t)n * elem);
    *arr = p;
    return 0;
}

static int
read_funcs(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    if ((size_t)m->nfuncs + n > UINT32_MAX - 1)
        return fail(d, pos(d), "too many functions");
    if ((rc = grow(d, (void **)&m->func_types, m->nfuncs, n,
                   sizeof *m->func_types)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = kb_read_u32(&d->r, &m->func_types[m->nfuncs])))
            return rc;
        m->nfuncs++;
    }
    return 0;
}

static int
read_tables(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    if ((rc = grow(d, (void **)&m->tables, m->ntables, n, sizeof *m->tables)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = read_tabletype(d, &m->tables[m->ntables])))
            return rc;
        m->ntables++;
    }
    return 0;
}

static int
read_mems(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    if ((rc = grow(d, (void **)&m->mems, m->nmems, n, sizeof *m->mems)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = read_limits(d, &m->mems[m->nmems].limits)))
            return rc;
        m->nmems++;
    }
    return 0;
}

static int
read_tags(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    if ((rc = grow(d, (void **)&m->tag_types, m->ntags, n,
                   sizeof *m->tag_types)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = read_tagtype(d, &m->tag_types[m->ntags])))
            return rc;
        m->ntags++;
    }
    return 0;
}

static int
read_globals(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    if ((rc =
             grow(d, (void **)&m->globals, m->nglobals, n, sizeof *m->globals)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        ke_global *g = &m->globals[m->nglobals];
        if ((rc = read_globaltype(d, &g->type)) ||
            (rc = read_expr(d, &g->init)))
            return rc;
        m->nglobals++;
    }
    return 0;
}

static int
read_exports(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    m->exports = kb_calloc(n, sizeof *m->exports);
    if (!m->exports)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        ke_export *ex = &m->exports[i];
        uint8_t kind;
        if ((rc = read_name(d, &ex->name)) || (rc = kb_read_u8(&d->r, &kind)))
            return rc;
        if (kind > KUMO_EXTERN_GLOBAL &&
            !(kind == KUMO_EXTERN_TAG && m->features.exceptions))
            return fail(d, pos(d) - 1, "malformed export kind");
        ex->kind = (kumo_externkind)kind;
        if ((rc = kb_read_u32(&d->r, &ex->index)))
            return rc;
        m->nexports = i + 1;
        if (kind == KUMO_EXTERN_FUNC && (rc = mark_func(d, ex->index)))
            return rc;
    }
    return 0;
}

/* The items of an element segment: function indices or expressions. */
static int
read_elem_items(dec *d, ke_elem *el, bool exprs)
{
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    el->items = kb_calloc(n, sizeof *el->items);
    if (!el->items)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        ke_elemitem *it = &el->items[i];
        it->is_expr = exprs;
        if (exprs)
            rc = read_expr(d, &it->expr);
        else if (!(rc = kb_read_u32(&d->r, &it->func_index)))
            rc = mark_func(d, it->func_index);
        if (rc)
            return rc;
        el->nitems = i + 1;
    }
    return 0;
}

/* Encodings 1-3 name the element kind with one byte: 0x00 = funcref. */
static int
read_elemkind(dec *d, ke_valtype *out)
{
    uint8_t b;
    int rc = kb_read_u8(&d->r, &b);
    if (rc)
        return rc;
    if (b != 0)
        return fail(d, pos(d) - 1, "malformed element kind");
    *out = KUMO_FUNCREF;
    return 0;
}

/* Element segment encodings (flags): bit 0 passive/declarative, bit 1
 * explicit table (active) or declarative (passive), bit 2 expressions. */
static int
read_elem(dec *d, ke_elem *el)
{
    uint32_t flags;
    size_t at = pos(d);
    int rc = kb_read_u32(&d->r, &flags);
    if (rc)
        return rc;
    if (flags > 7)
        return fail(d, at, "malformed elements segment kind");
    el->at = (uint32_t)at;
    el->type = KUMO_FUNCREF;
    bool exprs = flags & 4;
    if (flags & 1) {
        el->mode = flags & 2 ? KE_SEG_DECLARATIVE : KE_SEG_PASSIVE;
    } else {
        el->mode = KE_SEG_ACTIVE;
        if ((flags & 2) && (rc = kb_read_u32(&d->r, &el->table)))
            return rc;
        if ((rc = read_expr(d, &el->offset)))
            return rc;
    }
    if (flags & 3) { /* an explicit element kind or type */
        rc = exprs ? read_reftype(d, &el->type) : read_elemkind(d, &el->type);
        if (rc)
            return rc;
    }
    return read_elem_items(d, el, exprs);
}

static int
read_elems(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    m->elems = kb_calloc(n, sizeof *m->elems);
    if (!m->elems)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        m->nelems = i + 1;
        if ((rc = read_elem(d, &m->elems[i])))
            return rc;
    }
    return 0;
}

static int
read_data(dec *d, ke_data *seg)
{
    uint32_t flags, len;
    size_t at = pos(d);
    const uint8_t *bytes;
    int rc = kb_read_u32(&d->r, &flags);
    if (rc)
        return rc;
    switch (flags) {
    case 0:
    case 2:
        seg->mode = KE_SEG_ACTIVE;
        if (flags == 2 && (rc = kb_read_u32(&d->r, &seg->mem)))
            return rc;
        if ((rc = read_expr(d, &seg->offset)))
            return rc;
        break;
    case 1:
        seg->mode = KE_SEG_PASSIVE;
        break;
    default:
        return fail(d, at, "malformed data segment kind");
    }
    if ((rc = read_len(d, &len)))
        return rc;
    seg->init.off = (uint32_t)pos(d);
    seg->init.len = len;
    return kb_read_bytes(&d->r, len, &bytes);
}

static int
read_datas(dec *d)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    m->datas = kb_calloc(n, sizeof *m->datas);
    if (!m->datas)
        return nomem(d);
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = read_data(d, &m->datas[i])))
            return rc;
        m->ndatas = i + 1;
    }
    return 0;
}

/* The local declarations of a body: (count, type) pairs, expanded. */
static int
read_locals(dec *d, ke_funcbody *fb)
{
    size_t at = pos(d);
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    const uint8_t *decl = d->r.p;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t cnt;
        ke_valtype t;
        if ((rc = kb_read_u32(&d->r, &cnt)) || (rc = read_valtype(d, &t)))
            return rc;
        total += cnt;
    }
    if (total > KE_MAX_LOCALS)
        return fail(d, at, "too many locals");
    fb->locals = kb_malloc((size_t)total);
    if (!fb->locals)
        return nomem(d);
    /* Second pass over the (now known good) declarations to expand. */
    kb_reader r2 = d->r;
    r2.p = decl;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t cnt;
        uint8_t t;
        kb_read_u32(&r2, &cnt);
        kb_read_u8(&r2, &t);
        memset(fb->locals + fb->nlocals, t, cnt);
        fb->nlocals += cnt;
    }
    return 0;
}

/* A body whose last byte is not `end` is malformed; report it the way the
 * spec's decoder, which reads on past the body, does. */
static int
check_body_end(dec *d, const ke_funcbody *fb, bool last, size_t sec_end)
{
    const uint8_t *b = d->r.base;
    if (fb->expr.len > 0 && b[fb->body.off + fb->body.len - 1] == 0x0b)
        return 0;
    if (!last)
        return fail(d, fb->body.off + fb->body.len, "END opcode expected");
    if (sec_end >= (size_t)(d->r.end - d->r.base))
        return fail(d, sec_end, eof_section);
    return fail(d, fb->body.off, "section size mismatch");
}

static int
read_body(dec *d, ke_funcbody *fb, bool last, size_t sec_end)
{
    uint32_t size;
    int rc = read_len(d, &size);
    if (rc)
        return rc;
    size_t start = pos(d), end = start + size;
    /* The length check counts the size's own bytes (as the spec's). */
    if (end > (size_t)(d->r.end - d->r.base))
        return fail(d, (size_t)(d->r.end - d->r.base), eof_section);
    if ((rc = read_locals(d, fb)))
        return rc;
    if (pos(d) > end)
        return fail(d, start, "section size mismatch");
    fb->body.off = (uint32_t)start;
    fb->body.len = size;
    fb->expr.off = (uint32_t)pos(d);
    fb->expr.len = (uint32_t)(end - pos(d));
    if ((rc = check_body_end(d, fb, last, sec_end)))
        return rc;
    d->r.p = d->r.base + end;
    return 0;
}

static int
read_code(dec *d, size_t sec_end)
{
    kumo_module *m = d->m;
    uint32_t n;
    int rc = read_len(d, &n);
    if (rc)
        return rc;
    uint32_t ndef = m->nfuncs - m->nimported_funcs;
    if (ndef) {
        m->bodies = kb_calloc(ndef, sizeof *m->bodies);
        if (!m->bodies)
            return nomem(d);
    }
    d->ncode = n;
    for (uint32_t i = 0; i < n; i++) {
        /* Bodies beyond the function section are decoded and dropped: the
         * count mismatch is reported after the last section. */
        ke_funcbody spare = {0}, *fb = i < ndef ? &m->bodies[i] : &spare;
        rc = read_body(d, fb, i + 1 == n, sec_end);
        kb_free(spare.locals);
        if (rc)
            return rc;
    }
    return 0;
}

/* A custom section: a name, then bytes. Only `name` is kept (for later). */
static int
read_custom(dec *d, size_t end)
{
    ke_range name;
    int rc = read_name(d, &name);
    if (rc)
        return rc;
    if (pos(d) > end || end > (size_t)(d->r.end - d->r.base))
        return kb_eof(&d->r);
    if (name.len == 4 && !memcmp(d->r.base + name.off, "name", 4)) {
        d->has_names = true;
        d->names.off = (uint32_t)pos(d);
        d->names.len = (uint32_t)(end - pos(d));
    }
    d->r.p = d->r.base + end;
    return 0;
}

static int
read_section(dec *d, uint8_t id, size_t end)
{
    kumo_module *m = d->m;
    switch (id) {
    case 0:
        return read_custom(d, end);
    case 1:
        return read_types(d);
    case 2:
        return read_imports(d);
    case 3:
        return read_funcs(d);
    case 4:
        return read_tables(d);
    case 5:
        return read_mems(d);
    case 6:
        return read_globals(d);
    case 7:
        return read_exports(d);
    case 8:
        return kb_read_u32(&d->r, &m->start);
    case 9:
        return read_elems(d);
    case 10:
        return read_code(d, end);
    case 11:
        return read_datas(d);
    case 13:
        return read_tags(d);
    default: /* 12 */
        m->has_datacount = true;
        return kb_read_u32(&d->r, &m->datacount);
    }
}

/* Position of each section id in the required order (datacount, 12,
 * comes between element, 9, and code, 10; tag, 13, between memory, 5,
 * and global, 6). */
static const uint8_t section_rank[14] = {0,  2,  4,  6,  8,  10, 12,
                                         14, 16, 18, 22, 24, 20, 11};

static int
read_sections(dec *d)
{
    unsigned last = 0;
    bool imports_placed = false;
    int rc;
    while (!kb_at_end(&d->r)) {
        size_t id_at = pos(d);
        uint8_t id = *d->r.p;
        if (id > 13 || (id == 13 && !d->m->features.exceptions))
            return fail(d, id_at, "malformed section id");
        if (id != 0 && section_rank[id] <= last)
            return fail(d, id_at, "unexpected content after last section");
        if (id != 0 && section_rank[id] > 4 && !imports_placed) {
            if ((rc = place_imports(d)))
                return rc;
            imports_placed = true;
        }
        d->r.p++;
        uint32_t size;
        if ((rc = read_len(d, &size)))
            return rc;
        size_t start = pos(d), end = start + size;
        if ((rc = read_section(d, id, end)))
            return rc;
        if (pos(d) != end)
            return fail(d, start, "section size mismatch");
        if (id != 0)
            last = section_rank[id];
    }
    if (!imports_placed)
        return place_imports(d);
    return 0;
}

/* ---- the name section (never an error) ---- */

static int
read_func_names(dec *d, kb_reader *r)
{
    kumo_module *m = d->m;
    uint32_t n;
    if (kb_read_u32(r, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx, len;
        const uint8_t *s;
        if (kb_read_u32(r, &idx) || kb_read_name(r, &s, &len))
            return 0;
        if (idx >= m->nfuncs || m->func_names[idx])
            continue;
        m->func_names[idx] = kb_strndup((const char *)s, len);
        if (!m->func_names[idx])
            return nomem(d);
    }
    return 0;
}

static int
read_names(dec *d)
{
    kumo_module *m = d->m;
    if (!d->has_names || m->nfuncs == 0)
        return 0;
    kb_reader r = {
        .base = d->r.base,
        .p = d->r.base + d->names.off,
        .end = d->r.base + d->names.off + d->names.len,
    };
    while (!kb_at_end(&r)) {
        uint8_t id;
        uint32_t size;
        if (kb_read_u8(&r, &id) || kb_read_u32(&r, &size) ||
            size > (size_t)(r.end - r.p))
            return 0;
        if (id == 1) {
            m->func_names = kb_calloc(m->nfuncs, sizeof(char *));
            if (!m->func_names)
                return nomem(d);
            kb_reader sub = r;
            sub.end = r.p + size;
            return read_func_names(d, &sub);
        }
        r.p += size;
    }
    return 0;
}

/* ---- the module ---- */

static int
read_header(dec *d)
{
    static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
    static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
    const uint8_t *b;
    int rc;
    d->r.eof_msg = "unexpected end";
    if ((rc = kb_read_bytes(&d->r, 4, &b)))
        return rc;
    if (memcmp(b, magic, 4))
        return fail(d, 0, "magic header not detected");
    if ((rc = kb_read_bytes(&d->r, 4, &b)))
        return rc;
    if (memcmp(b, version, 4))
        return fail(d, 4, "unknown binary version");
    d->r.eof_msg = eof_section;
    return 0;
}

int
ke_decode(kumo_module *m, kumo_diag *diag)
{
    static const uint8_t empty[1];
    dec d = {.m = m, .diag = diag};
    const uint8_t *base = m->bytes ? m->bytes : empty;
    int rc;

    m->start = KE_NONE;
    if (m->size > UINT32_MAX)
        return kb_diag(diag, KUMO_EMALFORMED, 0, "module too large");
    d.r.base = base;
    d.r.p = base;
    d.r.end = base + m->size;
    d.r.diag = diag;
    if ((rc = read_header(&d)) || (rc = read_sections(&d)))
        return rc;
    if (d.ncode != m->nfuncs - m->nimported_funcs)
        return fail(&d, m->size,
                    "function and code section have inconsistent lengths");
    if (m->has_datacount && m->datacount != m->ndatas)
        return fail(&d, m->size,
                    "data count and data section have inconsistent lengths");
    if (m->nfuncs && !m->func_declared) {
        m->func_declared = kb_calloc(m->nfuncs, sizeof(bool));
        if (!m->func_declared)
            return nomem(&d);
    }
    return read_names(&d);
}
