/* compile_ops.c - compiling memory, numeric, constant and table
 * instructions (compile.h), with the superinstruction fusions that start
 * from them (see "Internal code" in docs/ARCHITECTURE.md). Memory 0 uses
 * the plain and fused load/store forms; other memories (multi-memory)
 * use the generic bounds-checked LOAD_M/STORE_M and the *_M memory
 * instructions. */
#include "compile.h"

typedef struct numinfo {
    uint16_t op;
    uint8_t nargs; /* 0: not a numeric opcode */
    uint8_t in, out;
} numinfo;

/* Index: the opcode byte, or 256 + sub-opcode for 0xfc-prefixed ones. */
static const numinfo num_ops[256 + 8] = {
#define KE_NUM(name, prefix, opcode, nargs, in, out)                           \
    [((prefix) ? 256 : 0) + (opcode)] = {KE_OP_##name, nargs, KUMO_##in,       \
                                         KUMO_##out},
#include "ops.def"
};

typedef struct meminfo {
    uint16_t op;
    uint8_t align, type, is_store, valid;
} meminfo;

static const meminfo mem_ops[256] = {
#define KE_MEM(name, opcode, align, type, is_store)                            \
    [opcode] = {KE_OP_##name, align, KUMO_##type, is_store, 1},
#include "ops.def"
};

static const uint16_t imm_form[KE_OP_COUNT_] = {
#define KE_NUMI(name, base) [KE_OP_##base] = KE_OP_##name,
#include "ops.def"
};

/* The fused-address forms of a load or store. */
static const uint16_t memf_a[KE_OP_COUNT_] = {
#define KE_MEMF(base) [KE_OP_##base] = KE_OP_##base##_A,
#include "ops.def"
};

static const uint16_t memf_ai[KE_OP_COUNT_] = {
#define KE_MEMF(base) [KE_OP_##base] = KE_OP_##base##_AI,
#include "ops.def"
};

static const uint16_t memf_as[KE_OP_COUNT_] = {
#define KE_MEMF(base) [KE_OP_##base] = KE_OP_##base##_AS,
#include "ops.def"
};

/* Superinstructions made of a producer and the binary op consuming its
 * result (ops.def KE_LDOP, KE_SHOP). */
typedef struct fusion {
    uint16_t prod, op, fused;
} fusion;

static const fusion fusions[] = {
#define KE_LDOP(name, load, op)                                                \
    {KE_OP_##load, KE_OP_##op, KE_OP_##name},                                  \
        {KE_OP_##load##_AI, KE_OP_##op, KE_OP_##name##_AI},
#define KE_SHOP(name, op, sh) {KE_OP_##sh, KE_OP_##op, KE_OP_##name},
#define KE_RMW(name, ldop, store) {KE_OP_##ldop, KE_OP_##store, KE_OP_##name},
#define KE_BINBIN(name, prod, op) {KE_OP_##prod, KE_OP_##op, KE_OP_##name},
#include "ops.def"
};

static uint16_t
find_fusion(uint16_t prod, uint16_t op)
{
    for (size_t i = 0; i < sizeof fusions / sizeof fusions[0]; i++)
        if (fusions[i].prod == prod && fusions[i].op == op)
            return fusions[i].fused;
    return 0;
}

#define MIRRORS(W)                                                             \
    [KE_OP_##W##_EQ] = KE_OP_##W##_EQ, [KE_OP_##W##_NE] = KE_OP_##W##_NE,      \
    [KE_OP_##W##_LT_S] = KE_OP_##W##_GT_S,                                     \
    [KE_OP_##W##_GT_S] = KE_OP_##W##_LT_S,                                     \
    [KE_OP_##W##_LT_U] = KE_OP_##W##_GT_U,                                     \
    [KE_OP_##W##_GT_U] = KE_OP_##W##_LT_U,                                     \
    [KE_OP_##W##_LE_S] = KE_OP_##W##_GE_S,                                     \
    [KE_OP_##W##_GE_S] = KE_OP_##W##_LE_S,                                     \
    [KE_OP_##W##_LE_U] = KE_OP_##W##_GE_U,                                     \
    [KE_OP_##W##_GE_U] = KE_OP_##W##_LE_U,                                     \
    [KE_OP_##W##_ADD] = KE_OP_##W##_ADD, [KE_OP_##W##_MUL] = KE_OP_##W##_MUL,  \
    [KE_OP_##W##_AND] = KE_OP_##W##_AND, [KE_OP_##W##_OR] = KE_OP_##W##_OR,    \
    [KE_OP_##W##_XOR] = KE_OP_##W##_XOR
static const uint16_t op_mirror[KE_OP_COUNT_] = {MIRRORS(I32), MIRRORS(I64)};
#undef MIRRORS

/* ---- memory, numeric and constant instructions ---- */

static int
need_memory(comp *s, uint32_t idx)
{
    if (idx >= s->m->nmems)
        return ke_c_fail(s, "unknown memory %u", idx);
    return 0;
}

/* Whether the address entry va (at height h) was just computed by an
 * i32.add (or add of a shifted operand) whose operands do not include
 * slot `avoid`: then that add is taken back and its operands become the
 * address of a fused load or store (ops.def KE_MEMF). *op is the plain
 * form; it becomes the fused one, and ops[0..n) the add's operands. */
static bool
fuse_address(comp *s, const vinfo *va, uint32_t h, uint32_t avoid,
             uint16_t *op, uint32_t ops[3], uint32_t *n)
{
    if (va->kind != V_SLOT || !ke_c_last_made(s, h))
        return false;
    const uint32_t *w = s->code + s->last_pc;
    uint16_t fused;
    *n = 2;
    if (s->last_op == KE_OP_I32_ADD) {
        fused = memf_a[*op];
        if (w[3] == avoid)
            return false;
    } else if (s->last_op == KE_OP_I32_ADD_I) {
        fused = memf_ai[*op];
    } else if (s->last_op == KE_OP_I32_ADD_SHL) {
        fused = memf_as[*op];
        *n = 3;
        if (w[3] == avoid)
            return false;
    } else {
        return false;
    }
    if (!fused || w[2] == avoid)
        return false;
    memcpy(ops, w + 2, *n * sizeof *ops);
    *op = fused;
    s->ncode = s->last_pc;
    s->last_pc = KE_NONE;
    return true;
}

/* An F64_ADD_RMW of temporary slot x (the F64_ADD_LD just taken back)
 * into p + poff: when x was made by an F64_MUL_LD (or _AI) right before
 * that F64_ADD_LD, both become one F64_MADD_RMW (the product is used
 * only here, so it is no longer written to x). */
static int
emit_madd(comp *s, uint32_t x, uint32_t p, uint32_t poff)
{
    uint32_t q = s->ldop_prev, w[6];
    if (s->ldop_pc == s->ncode && q != KE_NONE && s->label_at <= q &&
        s->code[q + 1] == x &&
        ((s->code[q] == KE_OP_F64_MUL_LD && q + 5 == s->ncode) ||
         (s->code[q] == KE_OP_F64_MUL_LD_AI && q + 6 == s->ncode))) {
        bool ai = s->code[q] == KE_OP_F64_MUL_LD_AI;
        memcpy(w, s->code + q + 2, (ai ? 4 : 3) * sizeof *w);
        s->ncode = q;
        if (ai)
            return EMIT(s, KE_OP_F64_MADD_RMW_AI, w[0], w[1], w[2], w[3], p,
                        poff);
        return EMIT(s, KE_OP_F64_MADD_RMW, w[0], w[1], w[2], p, poff);
    }
    return EMIT(s, KE_OP_F64_ADD_RMW, x, p, poff);
}

/* A store of a KE_LDOP result (the entry vv at height h - 1, just made)
 * to the address and offset that LDOP read: a KE_RMW (*done). */
static int
fuse_rmw(comp *s, uint16_t op, const vinfo *va, const vinfo *vv, uint32_t h,
         uint32_t offset, bool *done)
{
    uint16_t fused;
    *done = false;
    if (vv->kind != V_SLOT || !ke_c_last_made(s, h - 1) ||
        !(fused = find_fusion(s->last_op, op)))
        return 0;
    const uint32_t *w = s->code + s->last_pc; /* LDOP dst x addr offset */
    uint32_t addr = va->kind == V_LOCAL ? va->local : ke_c_slot(s, h - 2);
    if (va->kind == V_CONST || w[3] != addr || w[4] != offset)
        return 0;
    uint32_t x = w[2];
    s->ncode = s->last_pc;
    s->last_pc = KE_NONE;
    *done = true;
    if (fused == KE_OP_F64_ADD_RMW && x == ke_c_slot(s, h - 1))
        return emit_madd(s, x, addr, offset);
    return EMIT(s, fused, x, addr, offset);
}

static int
emit_fused_mem(comp *s, uint16_t op, uint32_t x, const uint32_t *ops,
               uint32_t n, uint32_t offset)
{
    if (n == 3)
        return EMIT(s, op, x, ops[0], ops[1], ops[2], offset);
    return EMIT(s, op, x, ops[0], ops[1], offset);
}

/* A load or store of a memory other than 0: LOAD_M / STORE_M. */
static int
load_store_m(comp *s, const instr *in, const meminfo *mi)
{
    uint32_t h = s->nvals, sa = 0, sv = 0, pc;
    vinfo va, vv;
    int rc;
    if (mi->is_store) {
        if ((rc = ke_c_popv(s, mi->type, NULL, &vv)) ||
            (rc = ke_c_popv(s, KUMO_I32, NULL, &va)) ||
            (rc = ke_c_src_slot(s, &va, h - 2, &sa)) ||
            (rc = ke_c_src_slot(s, &vv, h - 1, &sv)))
            return rc;
        return EMIT(s, KE_OP_STORE_M, sa, sv, in->y, in->mem, in->op);
    }
    if ((rc = ke_c_popv(s, KUMO_I32, NULL, &va)) ||
        (rc = ke_c_src_slot(s, &va, h - 1, &sa)))
        return rc;
    pc = s->ncode;
    if ((rc = EMIT(s, KE_OP_LOAD_M, ke_c_slot(s, h - 1), sa, in->y, in->mem,
                   in->op)))
        return rc;
    ke_c_mark_last(s, pc, KE_OP_LOAD_M, h - 1);
    return ke_c_push(s, mi->type);
}

int
ke_c_op_load_store(comp *s, const instr *in)
{
    const meminfo *mi = &mem_ops[in->op];
    uint32_t h = s->nvals, sa = 0, sv = 0, pc, ops[3], n;
    uint16_t op = mi->op;
    bool done = false;
    vinfo va, vv;
    int rc;
    if ((rc = need_memory(s, in->mem)))
        return rc;
    if (in->x > mi->align)
        return ke_c_fail(s, "alignment must not be larger than natural");
    if (in->mem != 0)
        return load_store_m(s, in, mi);
    if (mi->is_store) {
        if ((rc = ke_c_popv(s, mi->type, NULL, &vv)) ||
            (rc = ke_c_popv(s, KUMO_I32, NULL, &va)))
            return rc;
        if (ke_c_live(s) && (rc = fuse_rmw(s, op, &va, &vv, h, in->y, &done)))
            return rc;
        if (done)
            return 0;
        /* A constant value is emitted into slot h - 1 first. */
        uint32_t avoid = vv.kind == V_CONST ? ke_c_slot(s, h - 1) : KE_NONE;
        if (ke_c_live(s) && fuse_address(s, &va, h - 2, avoid, &op, ops, &n)) {
            if ((rc = ke_c_src_slot(s, &vv, h - 1, &sv)))
                return rc;
            return emit_fused_mem(s, op, sv, ops, n, in->y);
        }
        if ((rc = ke_c_src_slot(s, &va, h - 2, &sa)) ||
            (rc = ke_c_src_slot(s, &vv, h - 1, &sv)))
            return rc;
        return EMIT(s, op, sa, sv, in->y);
    }
    if ((rc = ke_c_popv(s, KUMO_I32, NULL, &va)))
        return rc;
    if (ke_c_live(s) && fuse_address(s, &va, h - 1, KE_NONE, &op, ops, &n)) {
        pc = s->ncode;
        rc = emit_fused_mem(s, op, ke_c_slot(s, h - 1), ops, n, in->y);
    } else {
        if ((rc = ke_c_src_slot(s, &va, h - 1, &sa)))
            return rc;
        pc = s->ncode;
        rc = EMIT(s, op, ke_c_slot(s, h - 1), sa, in->y);
    }
    if (rc)
        return rc;
    ke_c_mark_last(s, pc, op, h - 1);
    return ke_c_push(s, mi->type);
}

/* Whether constant v can be the immediate of a form of op. */
static bool
imm_fits(const vinfo *v, uint16_t op)
{
    return v->kind == V_CONST && op && imm_form[op] &&
           (!v->wide || (uint64_t)(int64_t)(int32_t)v->bits == v->bits);
}

/* Binary op on entries va (height h - 2) and vb (h - 1): when one of
 * them was just computed by a load or shift that has a superinstruction
 * with op, take that instruction back and emit the superinstruction
 * (its other operand first; *done). The producer must be operand b
 * unless op is commutative. */
static int
fuse_binary(comp *s, uint16_t op, const vinfo *va, const vinfo *vb,
            uint32_t h, bool *done)
{
    bool comm = op_mirror[op] == op || op == KE_OP_F64_ADD ||
                op == KE_OP_F64_MUL;
    const vinfo *other = va;
    uint32_t oh = h - 2, so = 0, pc;
    uint16_t fused;
    int rc;
    *done = false;
    if (!ke_c_live(s))
        return 0;
    if (vb->kind == V_SLOT && ke_c_last_made(s, h - 1)) {
        /* b was just made */
    } else if (comm && va->kind == V_SLOT && vb->kind != V_CONST &&
               ke_c_last_made(s, h - 2)) {
        other = vb;
        oh = h - 1;
    } else {
        return 0;
    }
    if (imm_fits(other, op) || !(fused = find_fusion(s->last_op, op)))
        return 0;
    /* The producer's operands after its destination: 2, or 3 for the
     * LOAD_AI forms. */
    uint32_t w[3], n = s->last_end - s->last_pc - 2;
    memcpy(w, s->code + s->last_pc + 2, n * sizeof *w);
    /* F64_MUL_LD then this F64_ADD_LD: remember for emit_madd. */
    s->ldop_prev = KE_NONE;
    if (fused == KE_OP_F64_ADD_LD && oh == h - 2 && other->kind == V_SLOT &&
        s->plast_pc != KE_NONE &&
        s->plast_end == s->last_pc && s->plast_h == oh &&
        s->code[s->plast_pc] == s->plast_op &&
        (s->plast_op == KE_OP_F64_MUL_LD || s->plast_op == KE_OP_F64_MUL_LD_AI))
        s->ldop_prev = s->plast_pc;
    s->ncode = s->last_pc;
    s->last_pc = KE_NONE;
    if ((rc = ke_c_src_slot(s, other, oh, &so)))
        return rc;
    pc = s->ncode;
    rc = n == 3 ? EMIT(s, fused, ke_c_slot(s, h - 2), so, w[0], w[1], w[2])
                : EMIT(s, fused, ke_c_slot(s, h - 2), so, w[0], w[1]);
    if (rc)
        return rc;
    ke_c_mark_last(s, pc, fused, h - 2);
    s->ldop_pc = pc;
    *done = true;
    return 0;
}

/* i32.xor of two rotates by constants, the last two instructions (into
 * the xor's operand slots): one I32_XOR_ROTL2 (*done). */
static int
fuse_rotl_pair(comp *s, const vinfo *va, const vinfo *vb, uint32_t h,
               bool *done)
{
    uint32_t p = s->prev2_pc, q = s->last_pc, pc;
    *done = false;
    if (!ke_c_live(s) || va->kind != V_SLOT || vb->kind != V_SLOT ||
        !ke_c_last_made(s, h - 1) || s->last_op != KE_OP_I32_ROTL_I ||
        s->prev_pc != q || p == KE_NONE || p + 4 != q || s->label_at > p ||
        s->code[p] != KE_OP_I32_ROTL_I || s->code[p + 1] != ke_c_slot(s, h - 2))
        return 0;
    uint32_t a = s->code[p + 2], ka = s->code[p + 3];
    uint32_t b = s->code[q + 2], kb = s->code[q + 3];
    s->ncode = p;
    s->last_pc = KE_NONE;
    pc = s->ncode;
    int rc = EMIT(s, KE_OP_I32_XOR_ROTL2, ke_c_slot(s, h - 2), a, ka, b, kb);
    if (rc)
        return rc;
    ke_c_mark_last(s, pc, KE_OP_I32_XOR_ROTL2, h - 2);
    *done = true;
    return 0;
}

static int
op_numeric(comp *s, const numinfo *ni)
{
    uint32_t h = s->nvals, sa = 0, sb = 0, pc;
    uint16_t op = ni->op;
    vinfo va, vb;
    int rc;
    if (ni->nargs == 1) {
        if ((rc = ke_c_popv(s, ni->in, NULL, &va)) ||
            (rc = ke_c_src_slot(s, &va, h - 1, &sa)))
            return rc;
        pc = s->ncode;
        if ((rc = EMIT(s, op, ke_c_slot(s, h - 1), sa)))
            return rc;
        ke_c_mark_last(s, pc, op, h - 1);
        return ke_c_push(s, ni->out);
    }
    if ((rc = ke_c_popv(s, ni->in, NULL, &vb)) || (rc = ke_c_popv(s, ni->in, NULL, &va)))
        return rc;
    bool fused = false;
    if (op == KE_OP_I32_XOR && (rc = fuse_rotl_pair(s, &va, &vb, h, &fused)))
        return rc;
    if (!fused && (rc = fuse_binary(s, op, &va, &vb, h, &fused)))
        return rc;
    if (fused)
        return ke_c_push(s, ni->out);
    if (imm_fits(&va, op_mirror[op]) && vb.kind != V_CONST) {
        /* constant on the left: swap the operands */
        vinfo t = va;
        va = vb;
        vb = t;
        op = op_mirror[op];
        if ((rc = ke_c_src_slot(s, &va, h - 1, &sa)))
            return rc;
    } else if ((rc = ke_c_src_slot(s, &va, h - 2, &sa))) {
        return rc;
    }
    pc = s->ncode;
    if (imm_fits(&vb, op)) {
        op = imm_form[op];
        rc = EMIT(s, op, ke_c_slot(s, h - 2), sa, (uint32_t)vb.bits);
    } else {
        if ((rc = ke_c_src_slot(s, &vb, h - 1, &sb)))
            return rc;
        pc = s->ncode;
        rc = EMIT(s, op, ke_c_slot(s, h - 2), sa, sb);
    }
    if (rc)
        return rc;
    ke_c_mark_last(s, pc, op, h - 2);
    return ke_c_push(s, ni->out);
}

int
ke_c_op_const(comp *s, const instr *in)
{
    static const ke_valtype types[4] = {KUMO_I32, KUMO_I64, KUMO_F32, KUMO_F64};
    vinfo v = {V_CONST, in->op == 0x42 || in->op == 0x44, 0, in->bits};
    ke_c_transparent(s);
    return ke_c_push_pending(s, types[in->op - 0x41], &v);
}

/* memory.size, memory.grow */
int
ke_c_op_memory(comp *s, const instr *in)
{
    uint32_t h = s->nvals, m = in->mem;
    int rc;
    if ((rc = need_memory(s, m)))
        return rc;
    if (in->op == 0x3f) {
        rc = m ? EMIT(s, KE_OP_MEMORY_SIZE_M, ke_c_slot(s, h), m)
               : EMIT(s, KE_OP_MEMORY_SIZE, ke_c_slot(s, h));
        return rc ? rc : ke_c_push(s, KUMO_I32);
    }
    if ((ke_c_live(s) && (rc = ke_c_flush_top(s, 1))) ||
        (rc = ke_c_pop(s, KUMO_I32, NULL)))
        return rc;
    uint32_t d = ke_c_slot(s, h - 1);
    rc = m ? EMIT(s, KE_OP_MEMORY_GROW_M, d, d, m)
           : EMIT(s, KE_OP_MEMORY_GROW, d, d);
    return rc ? rc : ke_c_push(s, KUMO_I32);
}

/* Pop three i32 operands (d s n or similar). */
static int
pop3_i32(comp *s)
{
    int rc;
    if (ke_c_live(s) && (rc = ke_c_flush_top(s, 3)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = ke_c_pop(s, KUMO_I32, NULL)))
            return rc;
    return 0;
}

/* memory.init, data.drop, memory.copy, memory.fill */
static int
op_bulk_memory(comp *s, const instr *in)
{
    uint32_t sub = in->op & 0xff, h = s->nvals;
    int rc;
    if (sub == 9) { /* data.drop */
        if (in->x >= s->m->ndatas)
            return ke_c_fail(s, "unknown data segment %u", in->x);
        return EMIT(s, KE_OP_DATA_DROP, in->x);
    }
    if (sub == 10) { /* memory.copy dst src */
        if ((rc = need_memory(s, in->x)) || (rc = need_memory(s, in->y)))
            return rc;
    } else if ((rc = need_memory(s, in->mem))) {
        return rc;
    }
    if (sub == 8 && in->x >= s->m->ndatas)
        return ke_c_fail(s, "unknown data segment %u", in->x);
    if ((rc = pop3_i32(s)))
        return rc;
    uint32_t a = ke_c_slot(s, h - 3), b = ke_c_slot(s, h - 2);
    uint32_t c = ke_c_slot(s, h - 1), m = in->mem;
    if (sub == 8)
        return m ? EMIT(s, KE_OP_MEMORY_INIT_M, in->x, a, b, c, m)
                 : EMIT(s, KE_OP_MEMORY_INIT, in->x, a, b, c);
    if (sub == 10)
        return in->x || in->y
                   ? EMIT(s, KE_OP_MEMORY_COPY_M, a, b, c, in->x, in->y)
                   : EMIT(s, KE_OP_MEMORY_COPY, a, b, c);
    return m ? EMIT(s, KE_OP_MEMORY_FILL_M, a, b, c, m)
             : EMIT(s, KE_OP_MEMORY_FILL, a, b, c);
}

static int
need_table(comp *s, uint32_t x)
{
    if (x >= s->m->ntables)
        return ke_c_fail(s, "unknown table %u", x);
    return 0;
}

static int
need_elem(comp *s, uint32_t x)
{
    if (x >= s->m->nelems)
        return ke_c_fail(s, "unknown elem segment %u", x);
    return 0;
}

/* table.init, elem.drop, table.copy */
static int
op_table_segments(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    uint32_t sub = in->op & 0xff, h = s->nvals;
    int rc;
    if (sub == 13) {
        if ((rc = need_elem(s, in->x)))
            return rc;
        return EMIT(s, KE_OP_ELEM_DROP, in->x);
    }
    if (sub == 12) { /* table.init elem=x table=y */
        if ((rc = need_table(s, in->y)) || (rc = need_elem(s, in->x)))
            return rc;
        if (m->tables[in->y].elem != m->elems[in->x].type)
            return ke_c_mismatch(s);
    } else { /* table.copy dst=x src=y */
        if ((rc = need_table(s, in->x)) || (rc = need_table(s, in->y)))
            return rc;
        if (m->tables[in->x].elem != m->tables[in->y].elem)
            return ke_c_mismatch(s);
    }
    if ((rc = pop3_i32(s)))
        return rc;
    uint32_t a = ke_c_slot(s, h - 3), b = ke_c_slot(s, h - 2), c = ke_c_slot(s, h - 1);
    if (sub == 12)
        return EMIT(s, KE_OP_TABLE_INIT, in->y, in->x, a, b, c);
    return EMIT(s, KE_OP_TABLE_COPY, in->x, in->y, a, b, c);
}

/* table.get/set/size/grow/fill */
int
ke_c_op_table(comp *s, const instr *in)
{
    uint32_t x = in->x, h = s->nvals;
    int rc;
    if ((rc = need_table(s, x)))
        return rc;
    if (ke_c_live(s) && (rc = ke_c_flush_top(s, 3)))
        return rc;
    ke_valtype et = s->m->tables[x].elem;
    switch (in->op) {
    case 0x25: /* table.get */
        if ((rc = ke_c_pop(s, KUMO_I32, NULL)) ||
            (rc = EMIT(s, KE_OP_TABLE_GET, x, ke_c_slot(s, h - 1), ke_c_slot(s, h - 1))))
            return rc;
        return ke_c_push(s, et);
    case 0x26: /* table.set */
        if ((rc = ke_c_pop(s, et, NULL)) || (rc = ke_c_pop(s, KUMO_I32, NULL)))
            return rc;
        return EMIT(s, KE_OP_TABLE_SET, x, ke_c_slot(s, h - 2), ke_c_slot(s, h - 1));
    case 0x100 | 15: /* table.grow: init n -> old */
        if ((rc = ke_c_pop(s, KUMO_I32, NULL)) || (rc = ke_c_pop(s, et, NULL)) ||
            (rc = EMIT(s, KE_OP_TABLE_GROW, x, ke_c_slot(s, h - 2), ke_c_slot(s, h - 2),
                       ke_c_slot(s, h - 1))))
            return rc;
        return ke_c_push(s, KUMO_I32);
    case 0x100 | 16: /* table.size */
        if ((rc = EMIT(s, KE_OP_TABLE_SIZE, x, ke_c_slot(s, h))))
            return rc;
        return ke_c_push(s, KUMO_I32);
    default: /* table.fill: i val n */
        if ((rc = ke_c_pop(s, KUMO_I32, NULL)) || (rc = ke_c_pop(s, et, NULL)) ||
            (rc = ke_c_pop(s, KUMO_I32, NULL)))
            return rc;
        return EMIT(s, KE_OP_TABLE_FILL, x, ke_c_slot(s, h - 3), ke_c_slot(s, h - 2),
                    ke_c_slot(s, h - 1));
    }
}

int
ke_c_op_fc(comp *s, const instr *in)
{
    uint32_t sub = in->op & 0xff;
    if (sub <= 7)
        return op_numeric(s, &num_ops[256 + sub]);
    if (sub <= 11)
        return op_bulk_memory(s, in);
    if (sub <= 14)
        return op_table_segments(s, in);
    return ke_c_op_table(s, in);
}

bool
ke_c_is_numeric(uint32_t op)
{
    return op < 256 + 8 && num_ops[op].nargs;
}

int
ke_c_op_numeric(comp *s, uint32_t op)
{
    return op_numeric(s, &num_ops[op]);
}
