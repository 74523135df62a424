/* scan.c - decoding function-body instructions, and the syntax scan of a
 * body (ke_scan_func): every instruction decodes, `else` only in an `if`,
 * the final `end` is the body's last byte. */
#include "scan.h"

typedef ke_instr instr;


static bool
valtype_ok(uint8_t t)
{
    return t == KUMO_I32 || t == KUMO_I64 || t == KUMO_F32 || t == KUMO_F64 ||
           t == KUMO_FUNCREF || t == KUMO_EXTERNREF;
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
read_blocktype(kb_reader *r, instr *in)
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
    if (in->t != 0x40 && !valtype_ok(in->t))
        return malformed(r, at, "malformed value type");
    return 0;
}

static int
read_select_types(kb_reader *r, instr *in)
{
    int rc = kb_read_u32(r, &in->nt);
    if (rc)
        return rc;
    in->t = 0; /* unknown */
    for (uint32_t i = 0; i < in->nt; i++) {
        uint8_t t;
        if ((rc = kb_read_u8(r, &t)))
            return rc;
        if (!valtype_ok(t))
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
        return sub == 8 ? read_zero(r) : 0;
    case 10: /* memory.copy */
        if ((rc = read_zero(r)))
            return rc;
        return read_zero(r);
    case 11: /* memory.fill */
        return read_zero(r);
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
    if (op >= 0x28 && op <= 0x3e) { /* memarg */
        if ((rc = kb_read_u32(r, &in->x)))
            return rc;
        return kb_read_u32(r, &in->y);
    }
    if ((op >= 0x20 && op <= 0x26) || op == 0x0c || op == 0x0d || op == 0x10 ||
        op == 0xd2)
        return kb_read_u32(r, &in->x);
    switch (op) {
    case 0x02:
    case 0x03:
    case 0x04:
        return read_blocktype(r, in);
    case 0x0e:
        return read_br_table(r, in);
    case 0x11:
        if ((rc = kb_read_u32(r, &in->x)))
            return rc;
        return kb_read_u32(r, &in->y);
    case 0x1c:
        return read_select_types(r, in);
    case 0x3f:
    case 0x40:
        return read_zero(r);
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
        if (in->t != KUMO_FUNCREF && in->t != KUMO_EXTERNREF)
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

/* The syntax of a body: every instruction decodes, `else` only in an `if`,
 * the final `end` is the body's last byte. */
int
ke_scan_func(const kumo_module *m, uint32_t fidx, kumo_diag *diag)
{
    kb_reader r;
    uint8_t *kinds = NULL; /* per open block: 1 = `if` before `else` */
    uint32_t depth = 1, cap = 0;
    instr in;
    int rc = 0;

    ke_body_reader(m, fidx, diag, &r);
    if ((rc = kb_reserve((void **)&kinds, &cap, 16, 1)))
        goto nomem;
    kinds[0] = 0;
    while (depth > 0) {
        if (kb_at_end(&r)) {
            bool at_eof = r.end >= m->bytes + m->size;
            rc = malformed(&r, kb_offset(&r),
                           at_eof ? "unexpected end" : "END opcode expected");
            goto out;
        }
        if ((rc = ke_read_instr(&r, m, &in)))
            goto out;
        if (in.op >= 0x02 && in.op <= 0x04) {
            if ((rc = kb_reserve((void **)&kinds, &cap, depth + 1, 1)))
                goto nomem;
            kinds[depth++] = in.op == 0x04;
        } else if (in.op == 0x05) {
            if (!kinds[depth - 1]) {
                rc = malformed(&r, in.at, "END opcode expected");
                goto out;
            }
            kinds[depth - 1] = 0;
        } else if (in.op == 0x0b) {
            depth--;
        }
    }
    if (!kb_at_end(&r))
        rc = malformed(&r, kb_offset(&r), "section size mismatch");
out:
    kb_free(kinds);
    if (rc && diag)
        diag->func_index = fidx;
    return rc;
nomem:
    rc = kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    goto out;
}
