/* scan.c - decoding function-body instructions, and the syntax scan of a
 * body (ke_scan_func): every instruction decodes, `else` only in an `if`,
 * the final `end` is the body's last byte. */
#include "scan.h"

typedef ke_instr instr;


static bool
valtype_ok(const kumo_module *m, uint8_t t)
{
    return t == KUMO_I32 || t == KUMO_I64 || t == KUMO_F32 || t == KUMO_F64 ||
           t == KUMO_FUNCREF || t == KUMO_EXTERNREF ||
           (t == KUMO_EXNREF && m->features.exceptions);
}

static int
malformed(kb_reader *r, size_t at, const char *msg)
{
    return kb_diag(r->diag, KUMO_EMALFORMED, at, "%s", msg);
}

static int
read_zero(kb_reader *r)
{
    uint8_t b;
    int rc = kb_read_u8(r, &b);
    if (rc)
        return rc;
    if (b != 0)
        return malformed(r, kb_offset(r) - 1, "zero byte expected");
    return 0;
}

/* Block type: bt >= 0 is a type index; otherwise t is a value type or
 * 0x40 for none. */
static int
read_blocktype(kb_reader *r, const kumo_module *m, instr *in)
{
    size_t at = kb_offset(r);
    int64_t v;
    int rc = kb_read_s33(r, &v);
    if (rc)
        return rc;
    in->bt = v;
    if (v >= 0)
        return 0;
    if (v < -64)
        return malformed(r, at, "malformed value type");
    in->t = (uint8_t)(0x80 + v);
    if (in->t != 0x40 && !valtype_ok(m, in->t))
        return malformed(r, at, "malformed value type");
    return 0;
}

static int
read_select_types(kb_reader *r, const kumo_module *m, instr *in)
{
    int rc = kb_read_u32(r, &in->nt);
    if (rc)
        return rc;
    in->t = 0; /* unknown */
    for (uint32_t i = 0; i < in->nt; i++) {
        uint8_t t;
        if ((rc = kb_read_u8(r, &t)))
            return rc;
        if (!valtype_ok(m, t))
            return malformed(r, kb_offset(r) - 1, "malformed value type");
        if (i == 0)
            in->t = t;
    }
    return 0;
}

static int
read_br_table(kb_reader *r, instr *in)
{
    int rc = kb_read_u32(r, &in->ntargets);
    if (rc)
        return rc;
    in->targets = r->p;
    for (uint64_t i = 0; i <= in->ntargets; i++) {
        uint32_t l;
        if ((rc = kb_read_u32(r, &l)))
            return rc;
    }
    return 0;
}

/* A memory index: a u32 with multi-memory, else a zero byte. */
static int
read_memidx(kb_reader *r, const kumo_module *m, uint32_t *out)
{
    *out = 0;
    if (m->features.multi_memory)
        return kb_read_u32(r, out);
    return read_zero(r);
}

/* memarg: alignment flags (bit 6: a memory index follows, with
 * multi-memory), then the offset. */
static int
read_memarg(kb_reader *r, const kumo_module *m, instr *in)
{
    int rc = kb_read_u32(r, &in->x);
    if (rc)
        return rc;
    if (m->features.multi_memory && (in->x & 0x40)) {
        in->x &= ~0x40u;
        if ((rc = kb_read_u32(r, &in->mem)))
            return rc;
    }
    return kb_read_u32(r, &in->y);
}

/* try_table's clauses: kind, then tag (catch, catch_ref) and label. */
static int
read_catches(kb_reader *r, instr *in)
{
    int rc = kb_read_u32(r, &in->ncatch);
    if (rc)
        return rc;
    in->catches = r->p;
    for (uint64_t i = 0; i < in->ncatch; i++) {
        uint8_t kind;
        uint32_t x;
        size_t at = kb_offset(r);
        if ((rc = kb_read_u8(r, &kind)))
            return rc;
        if (kind > 3)
            return malformed(r, at, "malformed catch clause");
        if (kind < 2 && (rc = kb_read_u32(r, &x)))
            return rc;
        if ((rc = kb_read_u32(r, &x)))
            return rc;
    }
    return 0;
}

void
ke_read_catch(kb_reader *r, ke_catch *c)
{
    kb_read_u8(r, &c->kind);
    c->tag = KE_NONE;
    if (c->kind < 2)
        kb_read_u32(r, &c->tag);
    kb_read_u32(r, &c->label);
}

static int
read_fc(kb_reader *r, const kumo_module *m, instr *in)
{
    uint32_t sub;
    int rc = kb_read_u32(r, &sub);
    if (rc)
        return rc;
    in->op = 0x100 | (sub & 0xff);
    if (sub <= 7)
        return 0;
    switch (sub) {
    case 8: /* memory.init */
    case 9: /* data.drop */
        /* Without data segments the index is simply unknown (invalid);
         * wabt omits the data count section in that case. */
        if (!m->has_datacount && m->ndatas > 0)
            return malformed(r, in->at, "data count section required");
        if ((rc = kb_read_u32(r, &in->x)))
            return rc;
        return sub == 8 ? read_memidx(r, m, &in->mem) : 0;
    case 10: /* memory.copy dst src */
        if ((rc = read_memidx(r, m, &in->x)))
            return rc;
        return read_memidx(r, m, &in->y);
    case 11: /* memory.fill */
        return read_memidx(r, m, &in->mem);
    case 12: /* table.init elem table */
    case 14: /* table.copy dst src */
        if ((rc = kb_read_u32(r, &in->x)))
            return rc;
        return kb_read_u32(r, &in->y);
    case 13: /* elem.drop */
    case 15: /* table.grow */
    case 16: /* table.size */
    case 17: /* table.fill */
        return kb_read_u32(r, &in->x);
    default:
        return kb_diag(r->diag, KUMO_EMALFORMED, in->at,
                       "illegal opcode 0xfc %u", sub);
    }
}

static bool
no_immediates(uint8_t op)
{
    return op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0b || op == 0x0f ||
           op == 0x1a || op == 0x1b || op == 0xd1 || (op >= 0x45 && op <= 0xc4);
}

/* Exception handling (only with the feature): try 06, catch 07, throw 08,
 * rethrow 09, throw_ref 0a, delegate 18, catch_all 19, try_table 1f. */
static int
read_eh(kb_reader *r, const kumo_module *m, instr *in)
{
    switch (in->op) {
    case 0x06:
        return read_blocktype(r, m, in);
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x18:
        return kb_read_u32(r, &in->x);
    case 0x0a:
    case 0x19:
        return 0;
    default: { /* 0x1f */
        int rc = read_blocktype(r, m, in);
        return rc ? rc : read_catches(r, in);
    }
    }
}

static bool
is_eh(uint8_t op)
{
    return (op >= 0x06 && op <= 0x0a) || op == 0x18 || op == 0x19 ||
           op == 0x1f;
}

int
ke_read_instr(kb_reader *r, const kumo_module *m, instr *in)
{
    uint8_t op;
    int rc;
    in->at = kb_offset(r);
    if ((rc = kb_read_u8(r, &op)))
        return rc;
    in->op = op;
    if (no_immediates(op))
        return 0;
    if (op >= 0x28 && op <= 0x3e)
        return read_memarg(r, m, in);
    if (is_eh(op) && m->features.exceptions)
        return read_eh(r, m, in);
    if ((op >= 0x20 && op <= 0x26) || op == 0x0c || op == 0x0d || op == 0x10 ||
        op == 0xd2)
        return kb_read_u32(r, &in->x);
    switch (op) {
    case 0x02:
    case 0x03:
    case 0x04:
        return read_blocktype(r, m, in);
    case 0x0e:
        return read_br_table(r, in);
    case 0x11:
        if ((rc = kb_read_u32(r, &in->x)))
            return rc;
        return kb_read_u32(r, &in->y);
    case 0x1c:
        return read_select_types(r, m, in);
    case 0x3f:
    case 0x40:
        return read_memidx(r, m, &in->mem);
    case 0x41: {
        int32_t v;
        rc = kb_read_s32(r, &v);
        in->bits = (uint32_t)v;
        return rc;
    }
    case 0x42: {
        int64_t v;
        rc = kb_read_s64(r, &v);
        in->bits = (uint64_t)v;
        return rc;
    }
    case 0x43: {
        uint32_t v;
        rc = kb_read_f32(r, &v);
        in->bits = v;
        return rc;
    }
    case 0x44:
        return kb_read_f64(r, &in->bits);
    case 0xd0:
        if ((rc = kb_read_u8(r, &in->t)))
            return rc;
        if (in->t != KUMO_FUNCREF && in->t != KUMO_EXTERNREF &&
            !(in->t == KUMO_EXNREF && m->features.exceptions))
            return malformed(r, kb_offset(r) - 1, "malformed reference type");
        return 0;
    case 0xfc:
        return read_fc(r, m, in);
    default:
        return kb_diag(r->diag, KUMO_EMALFORMED, in->at,
                       "illegal opcode 0x%02x", op);
    }
}

void
ke_body_reader(const kumo_module *m, uint32_t fidx, kumo_diag *diag, kb_reader *r)
{
    const ke_funcbody *fb = &m->bodies[fidx - m->nimported_funcs];
    r->base = m->bytes;
    r->p = m->bytes + fb->expr.off;
    r->end = r->p + fb->expr.len;
    r->diag = diag;
    r->eof_msg = NULL;
}

/* Block kinds of the syntax scan. */
enum { S_BLOCK, S_IF, S_TRY, S_CATCH, S_CATCH_ALL };

/* The structure rule of one instruction: *kind is the innermost open
 * block's kind (changed by else/catch), *open the change in depth. */
static int
scan_structure(kb_reader *r, const instr *in, uint8_t *kind, int *open)
{
    *open = 0;
    switch (in->op) {
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x06:
    case 0x1f:
        *open = 1;
        return 0;
    case 0x05:
        if (*kind != S_IF)
            return malformed(r, in->at, "END opcode expected");
        *kind = S_BLOCK;
        return 0;
    case 0x07:
    case 0x19:
        if (*kind != S_TRY && *kind != S_CATCH)
            return malformed(r, in->at, "END opcode expected");
        *kind = in->op == 0x07 ? S_CATCH : S_CATCH_ALL;
        return 0;
    case 0x18:
        if (*kind != S_TRY)
            return malformed(r, in->at, "END opcode expected");
        *open = -1;
        return 0;
    case 0x0b:
        *open = -1;
        return 0;
    default:
        return 0;
    }
}

/* The syntax of a body: every instruction decodes, `else` only in an `if`,
 * `catch` and `catch_all` only in a `try` (catch_all last), `delegate`
 * only right in a `try`, the final `end` is the body's last byte. */
int
ke_scan_body(const kumo_module *m, uint32_t fidx, kumo_diag *diag,
             uint32_t *max_try)
{
    kb_reader r;
    uint8_t *kinds = NULL; /* per open block, S_* */
    uint32_t depth = 1, cap = 0, tries = 0, most = 0;
    instr in;
    int rc = 0, open;

    ke_body_reader(m, fidx, diag, &r);
    if ((rc = kb_reserve((void **)&kinds, &cap, 16, 1)))
        goto nomem;
    kinds[0] = S_BLOCK;
    while (depth > 0) {
        if (kb_at_end(&r)) {
            bool at_eof = r.end >= m->bytes + m->size;
            rc = malformed(&r, kb_offset(&r),
                           at_eof ? "unexpected end" : "END opcode expected");
            goto out;
        }
        if ((rc = ke_read_instr(&r, m, &in)))
            goto out;
        uint8_t k = kinds[depth - 1];
        if ((rc = scan_structure(&r, &in, &kinds[depth - 1], &open)))
            goto out;
        if (open > 0) {
            if ((rc = kb_reserve((void **)&kinds, &cap, depth + 1, 1)))
                goto nomem;
            kinds[depth++] = in.op == 0x04   ? S_IF
                             : in.op == 0x06 ? S_TRY
                                             : S_BLOCK;
            if (in.op == 0x06 && ++tries > most)
                most = tries;
        } else if (open < 0) {
            if (k >= S_TRY)
                tries--;
            depth--;
        }
    }
    if (!kb_at_end(&r))
        rc = malformed(&r, kb_offset(&r), "section size mismatch");
    if (max_try)
        *max_try = most;
out:
    kb_free(kinds);
    if (rc && diag)
        diag->func_index = fidx;
    return rc;
nomem:
    rc = kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    goto out;
}

int
ke_scan_func(const kumo_module *m, uint32_t fidx, kumo_diag *diag)
{
    return ke_scan_body(m, fidx, diag, NULL);
}
