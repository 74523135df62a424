/* compile.c - validates a function body (the WebAssembly 2.0 algorithm
 * minus SIMD) and, in the same pass, translates it to internal code
 * (code.h, ops.def).
 *
 * The validator keeps the spec's operand stack of types and control stack.
 * Because the wasm operand at height h always lives in slot base + h, the
 * translation needs no register allocation: an instruction reads and writes
 * the slots of the heights it pops and pushes. Control flow becomes jumps:
 * a branch copies the label's values to the slots where the target block
 * leaves them, then jumps. Forward jumps are patched when their block ends;
 * the unresolved target words form a chain through the code array itself.
 * Code is only emitted while the current frame is reachable (and was
 * entered from reachable code): in dead code the type stack is polymorphic
 * and its heights are meaningless, but it is still validated.
 *
 * Decoding is done twice (scan.c): ke_scan_func checks the body's syntax
 * first so that a malformed body is reported as such even if an earlier
 * instruction is invalid (the spec decodes the whole module before
 * validating).
 */
#include <stdio.h>

#include "code.h"
#include "module.h"
#include "scan.h"

/* Frame size cap (cells): far beyond any real function, small enough that
 * slot arithmetic never overflows. */
#define MAX_FRAME (1u << 26)
#define MAX_CODE (1u << 30)

enum { K_BLOCK, K_LOOP, K_IF, K_ELSE, K_FUNC };

#define T_UNKNOWN 0

typedef struct ctrl {
    uint8_t kind;
    bool unreachable; /* rest of the frame is stack-polymorphic */
    bool dead;        /* entered from dead code: emits nothing */
    uint32_t height;  /* operand height below the block's params */
    uint32_t nparams, nresults;
    const ke_valtype *params, *results;
    uint32_t target;     /* loop: code address of the loop start */
    uint32_t patch;      /* chain of forward target words, KE_NONE ends */
    uint32_t else_patch; /* if: the BR_UNLESS target word, or KE_NONE */
} ctrl;

/* Where the value of an operand-stack entry is. Entries start as V_SLOT,
 * the value in the entry's own slot (base + height). `local.get` and the
 * constants push pending entries instead: the value is local `local`'s
 * slot, or the constant `bits`, and nothing is emitted until a consumer
 * needs it (operand folding). A pending entry is materialised into its own
 * slot before anything could change what it stands for: before its local
 * is written, and at every block boundary (so layouts agree where control
 * flow merges). Entries below the innermost block's height are always
 * V_SLOT. */
enum { V_SLOT, V_LOCAL, V_CONST };

typedef struct vinfo {
    uint8_t kind;
    bool wide; /* V_CONST: 64-bit constant */
    uint32_t local;
    uint64_t bits;
} vinfo;

/* A branch condition: the i32 in slot a (cmp == 0; neg inverts it), or
 * the integer comparison cmp (a KE_NUM compare opcode) of slot a with
 * slot b, or with immediate b when imm. */
typedef struct cond {
    uint16_t cmp;
    bool imm, neg;
    uint32_t a, b;
} cond;

typedef struct comp {
    kumo_module *m;
    kumo_diag *diag;
    kb_reader r;
    size_t at; /* offset of the current instruction */
    const ke_functype *ft;
    ke_valtype *ltypes; /* params then declared locals */
    uint32_t nltypes;
    uint32_t base; /* slot of operand height 0 */

    ke_valtype *vals;
    uint32_t nvals, capvals, maxvals;
    ctrl *ctrls;
    uint32_t nctrl, capctrl;
    uint32_t *code;
    uint32_t ncode, capcode;
    uint32_t *tramp; /* br_table: trampoline address per depth */
    uint32_t captramp;

    vinfo *vi; /* per operand-stack entry, parallel to vals */
    uint32_t capvi;
    uint32_t *lrefs;  /* per local: pending V_LOCAL entries naming it */
    uint32_t pend_lo; /* entries below this height are all V_SLOT */
    /* The last instruction emitted for the wasm instruction numbered
     * last_seq, if it wrote its result to the canonical slot of height
     * last_h: local.set may retarget it, br_if/if may fuse with it. */
    uint32_t seq, last_seq, last_pc, last_end, last_h;
    uint16_t last_op;
    /* Peephole state: the last code address a jump targets (nothing may
     * be merged across it), and the start and end of the last COPY (or
     * COPY2) emitted. */
    uint32_t label_at, copy_pc, copy_end;
    uint32_t prev_pc, prev2_pc; /* starts of the last two instructions */
} comp;

typedef ke_instr instr;

/* ---- opcode tables, from ops.def ---- */

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

/* Folding tables (0: none; opcode 0 is UNREACHABLE, never a candidate):
 * the immediate form of a binary op, the op an immediate form is of, and
 * the fused branches of a comparison. */
static const uint16_t imm_form[KE_OP_COUNT_] = {
#define KE_NUMI(name, base) [KE_OP_##base] = KE_OP_##name,
#include "ops.def"
};

static const uint16_t imm_base[KE_OP_COUNT_] = {
#define KE_NUMI(name, base) [KE_OP_##name] = KE_OP_##base,
#include "ops.def"
};

static const uint16_t brc_form[KE_OP_COUNT_] = {
#define KE_BRC(name, cmp) [KE_OP_##cmp] = KE_OP_##name,
#include "ops.def"
};

static const uint16_t brci_form[KE_OP_COUNT_] = {
#define KE_BRCI(name, cmp) [KE_OP_##cmp] = KE_OP_##name,
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

/* i32.add of an immediate followed by a fused compare-and-branch on its
 * result (ops.def KE_ADDBR), by the compare-and-branch opcode. */
static const uint16_t addbr_form[KE_OP_COUNT_] = {
#define KE_ADDBR(name, brc) [KE_OP_##brc] = KE_OP_##name,
#include "ops.def"
};

static const uint16_t addbri_form[KE_OP_COUNT_] = {
#define KE_ADDBRI(name, brci) [KE_OP_##brci] = KE_OP_##name,
#include "ops.def"
};

/* Integer comparisons: the negation (!(a op b)) and the mirror
 * ((a op b) == (b mirror a)). Commutative binary ops mirror to
 * themselves. */
#define CMP_PAIRS(W)                                                           \
    [KE_OP_##W##_EQ] = KE_OP_##W##_NE, [KE_OP_##W##_NE] = KE_OP_##W##_EQ,      \
    [KE_OP_##W##_LT_S] = KE_OP_##W##_GE_S,                                     \
    [KE_OP_##W##_GE_S] = KE_OP_##W##_LT_S,                                     \
    [KE_OP_##W##_LT_U] = KE_OP_##W##_GE_U,                                     \
    [KE_OP_##W##_GE_U] = KE_OP_##W##_LT_U,                                     \
    [KE_OP_##W##_GT_S] = KE_OP_##W##_LE_S,                                     \
    [KE_OP_##W##_LE_S] = KE_OP_##W##_GT_S,                                     \
    [KE_OP_##W##_GT_U] = KE_OP_##W##_LE_U,                                     \
    [KE_OP_##W##_LE_U] = KE_OP_##W##_GT_U
static const uint16_t cmp_negate[KE_OP_COUNT_] = {CMP_PAIRS(I32),
                                                  CMP_PAIRS(I64)};
#undef CMP_PAIRS

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

/* ---- errors ---- */

static int fail(comp *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(comp *s, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return kb_diag(s->diag, KUMO_EINVALID, s->at, "%s", buf);
}

static int
mismatch(comp *s)
{
    return fail(s, "type mismatch");
}

static int
oom(comp *s)
{
    return kb_diag(s->diag, KUMO_ENOMEM, s->at, "out of memory");
}

/* ---- the type stack and the control stack ---- */

static ctrl *
top_ctrl(comp *s)
{
    return &s->ctrls[s->nctrl - 1];
}

static bool
live(comp *s)
{
    const ctrl *c = top_ctrl(s);
    return !c->unreachable && !c->dead;
}

static uint32_t
slot(const comp *s, uint32_t h)
{
    return s->base + h;
}

static int
push(comp *s, ke_valtype t)
{
    if (s->nvals >= MAX_FRAME)
        return kb_diag(s->diag, KUMO_ELIMIT, s->at, "function too complex");
    if (s->nvals == s->capvals &&
        kb_reserve((void **)&s->vals, &s->capvals, s->nvals + 1, 1))
        return oom(s);
    if (s->nvals == s->capvi && kb_reserve((void **)&s->vi, &s->capvi,
                                           s->nvals + 1, sizeof *s->vi))
        return oom(s);
    s->vi[s->nvals].kind = V_SLOT;
    s->vals[s->nvals++] = t;
    if (s->nvals > s->maxvals)
        s->maxvals = s->nvals;
    return 0;
}

static int
pop(comp *s, ke_valtype expect, ke_valtype *out)
{
    const ctrl *c = top_ctrl(s);
    ke_valtype t = T_UNKNOWN;
    if (s->nvals == c->height) {
        if (!c->unreachable)
            return mismatch(s);
        t = T_UNKNOWN;
    } else {
        t = s->vals[--s->nvals];
        if (s->vi[s->nvals].kind == V_LOCAL)
            s->lrefs[s->vi[s->nvals].local]--;
    }
    if (expect != T_UNKNOWN && t != T_UNKNOWN && t != expect)
        return mismatch(s);
    if (out)
        *out = t;
    return 0;
}

/* pop, also giving where the value is (V_SLOT for a polymorphic pop).
 * The entry stays readable at s->vi[s->nvals] until the next push. */
static int
popv(comp *s, ke_valtype expect, ke_valtype *out, vinfo *v)
{
    uint32_t n = s->nvals;
    int rc = pop(s, expect, out);
    if (rc)
        return rc;
    if (s->nvals < n)
        *v = s->vi[s->nvals];
    else
        v->kind = V_SLOT;
    return 0;
}

static int
push_n(comp *s, uint32_t n, const ke_valtype *ts)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = push(s, ts[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int
pop_n(comp *s, uint32_t n, const ke_valtype *ts)
{
    for (uint32_t i = n; i-- > 0;) {
        int rc = pop(s, ts[i], NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static void
set_unreachable(comp *s)
{
    ctrl *c = top_ctrl(s);
    for (uint32_t h = c->height; h < s->nvals; h++)
        if (s->vi[h].kind == V_LOCAL)
            s->lrefs[s->vi[h].local]--;
    s->nvals = c->height;
    c->unreachable = true;
}

typedef struct blocktype {
    uint32_t nparams, nresults;
    const ke_valtype *params, *results;
} blocktype;

static const ke_valtype single_types[] = {
    KUMO_I32, KUMO_I64, KUMO_F32, KUMO_F64, KUMO_FUNCREF, KUMO_EXTERNREF,
};

static int
get_blocktype(comp *s, const instr *in, blocktype *bt)
{
    memset(bt, 0, sizeof *bt);
    if (in->bt >= 0) {
        if (in->bt >= s->m->ntypes)
            return fail(s, "unknown type %u", (uint32_t)in->bt);
        const ke_functype *ft = &s->m->types[in->bt];
        bt->nparams = ft->nparams;
        bt->nresults = ft->nresults;
        bt->params = ft->types;
        bt->results = ft->types + ft->nparams;
        return 0;
    }
    for (size_t i = 0; i < sizeof single_types; i++) {
        if (single_types[i] == in->t) {
            bt->nresults = 1;
            bt->results = &single_types[i];
        }
    }
    return 0;
}

static int
push_ctrl(comp *s, uint8_t kind, const blocktype *bt)
{
    bool dead = s->nctrl > 0 && !live(s);
    if (s->nctrl == s->capctrl && kb_reserve((void **)&s->ctrls, &s->capctrl,
                                             s->nctrl + 1, sizeof *s->ctrls))
        return oom(s);
    ctrl *c = &s->ctrls[s->nctrl++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->dead = dead;
    c->height = s->nvals;
    c->nparams = bt->nparams;
    c->nresults = bt->nresults;
    c->params = bt->params;
    c->results = bt->results;
    c->target = s->ncode;
    if (kind == K_LOOP)
        s->label_at = s->ncode;
    c->patch = KE_NONE;
    c->else_patch = KE_NONE;
    return push_n(s, bt->nparams, bt->params);
}

/* Arity and types of the label of frame c. */
static uint32_t
label_arity(const ctrl *c)
{
    return c->kind == K_LOOP ? c->nparams : c->nresults;
}

static const ke_valtype *
label_types(const ctrl *c)
{
    return c->kind == K_LOOP ? c->params : c->results;
}

/* ---- emission ---- */

/* Append n words (the rest of an instruction, or a table). */
static int
emit_raw(comp *s, uint32_t n, const uint32_t *w)
{
    if (!live(s))
        return 0;
    if (s->ncode + n > MAX_CODE)
        return kb_diag(s->diag, KUMO_ELIMIT, s->at, "function too large");
    if (kb_reserve((void **)&s->code, &s->capcode, s->ncode + n,
                   sizeof *s->code))
        return oom(s);
    memcpy(s->code + s->ncode, w, n * sizeof *w);
    s->ncode += n;
    return 0;
}

/* Append an instruction (n words), remembering where it starts. */
static int
emit(comp *s, uint32_t n, const uint32_t *w)
{
    if (live(s)) {
        s->prev2_pc = s->prev_pc;
        s->prev_pc = s->ncode;
    }
    return emit_raw(s, n, w);
}

#define EMIT(s, ...)                                                           \
    emit((s), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),            \
         (uint32_t[]){__VA_ARGS__})
#define EMIT_RAW(s, ...)                                                       \
    emit_raw((s), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),        \
             (uint32_t[]){__VA_ARGS__})

/* Where the instruction ending at s->ncode starts, if known (one
 * instruction taken back is allowed for), else KE_NONE. */
static uint32_t
prev_instr(const comp *s)
{
    if (s->prev_pc < s->ncode)
        return s->prev_pc;
    if (s->prev_pc == s->ncode && s->prev2_pc < s->ncode)
        return s->prev2_pc;
    return KE_NONE;
}

/* COPY dst src; merged with a COPY or COPY2 just before it into a COPY2
 * or COPY3. */
static int
emit_copy(comp *s, uint32_t dst, uint32_t src)
{
    int rc;
    if (live(s) && s->copy_end == s->ncode && s->label_at != s->ncode &&
        s->code[s->copy_pc] != KE_OP_COPY3) {
        uint32_t *op = &s->code[s->copy_pc];
        *op = *op == KE_OP_COPY ? KE_OP_COPY2 : KE_OP_COPY3;
        if ((rc = EMIT_RAW(s, dst, src)))
            return rc;
        s->copy_end = s->ncode;
        return 0;
    }
    s->copy_pc = s->ncode;
    if ((rc = EMIT(s, KE_OP_COPY, dst, src)))
        return rc;
    s->copy_end = s->ncode;
    return 0;
}

/* Record that the instruction just emitted at pc (opcode op) wrote its
 * result to the canonical slot of height h (see comp.last_*). */
static void
mark_last(comp *s, uint32_t pc, uint16_t op, uint32_t h)
{
    if (!live(s))
        return;
    s->last_seq = s->seq;
    s->last_pc = pc;
    s->last_end = s->ncode;
    s->last_op = op;
    s->last_h = h;
}

/* Whether the previous wasm instruction's result, now the entry at
 * height h, was written by the last emitted instruction. */
static bool
last_made(const comp *s, uint32_t h)
{
    return live((comp *)s) && s->last_seq + 1 == s->seq &&
           s->last_end == s->ncode && s->last_h == h && s->last_pc != KE_NONE;
}

static int
emit_const(comp *s, uint32_t dst, const vinfo *v)
{
    if (!v->wide)
        return EMIT(s, KE_OP_CONST32, dst, (uint32_t)v->bits);
    return EMIT(s, KE_OP_CONST64, dst, (uint32_t)v->bits,
                (uint32_t)(v->bits >> 32));
}

/* Move the pending entry at height h into its own slot. */
static int
materialize(comp *s, uint32_t h)
{
    vinfo *v = &s->vi[h];
    int rc = 0;
    if (v->kind == V_LOCAL) {
        s->lrefs[v->local]--;
        rc = emit_copy(s, slot(s, h), v->local);
    } else if (v->kind == V_CONST) {
        rc = emit_const(s, slot(s, h), v);
    }
    v->kind = V_SLOT;
    return rc;
}

/* Materialise every pending entry. */
static int
flush_all(comp *s)
{
    for (uint32_t h = s->pend_lo; h < s->nvals; h++) {
        int rc = materialize(s, h);
        if (rc)
            return rc;
    }
    s->pend_lo = s->nvals;
    return 0;
}

/* Materialise the top n entries of the current frame (fewer when the
 * frame holds fewer: validation then fails or the stack is polymorphic). */
static int
flush_top(comp *s, uint32_t n)
{
    uint32_t lo = top_ctrl(s)->height;
    if (s->nvals - lo > n)
        lo = s->nvals - n;
    for (uint32_t h = lo; h < s->nvals; h++) {
        int rc = materialize(s, h);
        if (rc)
            return rc;
    }
    return 0;
}

/* Before local x is written: materialise the entries that read it. */
static int
flush_local(comp *s, uint32_t x)
{
    for (uint32_t h = s->nvals; s->lrefs[x] > 0 && h-- > 0;) {
        if (s->vi[h].kind == V_LOCAL && s->vi[h].local == x) {
            int rc = materialize(s, h);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* local.get and constants emit nothing: the instruction before them
 * still counts as the last one (last_made) for the entries below. */
static void
transparent(comp *s)
{
    if (s->last_seq + 1 == s->seq)
        s->last_seq = s->seq;
}

/* Push a pending entry (plain push in dead code). */
static int
push_pending(comp *s, ke_valtype t, const vinfo *v)
{
    int rc = push(s, t);
    if (rc || !live(s))
        return rc;
    uint32_t h = s->nvals - 1;
    s->vi[h] = *v;
    if (v->kind == V_LOCAL)
        s->lrefs[v->local]++;
    if (h < s->pend_lo)
        s->pend_lo = h;
    return 0;
}

/* The slot to read the popped entry v (formerly at height h) from; a
 * constant is emitted into the entry's own slot first. */
static int
src_slot(comp *s, const vinfo *v, uint32_t h, uint32_t *out)
{
    *out = v->kind == V_LOCAL ? v->local : slot(s, h);
    if (v->kind == V_CONST)
        return emit_const(s, slot(s, h), v);
    return 0;
}

static void
add_patch(comp *s, ctrl *c, uint32_t pos)
{
    s->code[pos] = c->patch;
    c->patch = pos;
}

static void
resolve(comp *s, uint32_t head, uint32_t target)
{
    if (head != KE_NONE)
        s->label_at = target;
    while (head != KE_NONE) {
        uint32_t next = s->code[head];
        s->code[head] = target;
        head = next;
    }
}

/* Move the entries at heights [top - n, top) to slots [dst, dst + n).
 * The compiler's view of the entries is unchanged (this may be on one
 * path only). Sources are locals, constants or slots at or above their
 * destination, so ascending order is safe, except for a local inside the
 * destination range (the function's results at fp[0..)): then everything
 * goes through the entries' own slots first. */
static int
emit_moves(comp *s, uint32_t dst, uint32_t top, uint32_t n)
{
    bool hazard = false;
    int rc;
    for (uint32_t i = 0; i < n; i++) {
        const vinfo *v = &s->vi[top - n + i];
        if (v->kind == V_LOCAL && v->local >= dst && v->local < dst + n &&
            v->local != dst + i)
            hazard = true;
    }
    for (uint32_t i = 0; hazard && i < n; i++) {
        const vinfo *v = &s->vi[top - n + i];
        uint32_t own = slot(s, top - n + i);
        if (v->kind == V_LOCAL)
            rc = emit_copy(s, own, v->local);
        else if (v->kind == V_CONST)
            rc = emit_const(s, own, v);
        else
            rc = 0;
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        const vinfo *v = &s->vi[top - n + i];
        uint32_t src = slot(s, top - n + i);
        if (!hazard && v->kind == V_CONST)
            rc = emit_const(s, dst + i, v);
        else if (!hazard && v->kind == V_LOCAL)
            rc = dst + i == v->local ? 0 : emit_copy(s, dst + i, v->local);
        else
            rc = dst + i == src ? 0 : emit_copy(s, dst + i, src);
        if (rc)
            return rc;
    }
    return 0;
}

/* An unconditional return whose single result, the entry at height h,
 * was just computed: make that instruction write fp[0] directly. */
static bool
retarget_result(comp *s, uint32_t n, uint32_t h)
{
    if (n != 1 || s->vi[h].kind != V_SLOT || !last_made(s, h))
        return false;
    s->code[s->last_pc + 1] = 0;
    s->last_pc = KE_NONE;
    return true;
}

/* Whether the current frame holds at least n entries below top (else the
 * branch is invalid and validation reports it). */
static bool
have_vals(comp *s, uint32_t top, uint32_t n)
{
    return top - top_ctrl(s)->height >= n;
}

/* Where frame c's label values must be: the function's results go to
 * fp[0..), a block's to the slots above its base height. */
static uint32_t
label_slot(const comp *s, const ctrl *c)
{
    return c->kind == K_FUNC ? 0 : slot(s, c->height);
}

/* Whether a branch to c with values ending at height `top` needs more
 * than a bare jump. */
static bool
needs_moves(comp *s, const ctrl *c, uint32_t top)
{
    uint32_t n = label_arity(c);
    if (c->kind == K_FUNC)
        return true;
    if (n == 0 || !have_vals(s, top, n))
        return false;
    if (label_slot(s, c) != slot(s, top - n))
        return true;
    for (uint32_t h = top - n; h < top; h++)
        if (s->vi[h].kind != V_SLOT)
            return true;
    return false;
}

/* Emit a jump to the label of frame c (live code only). */
static int
emit_jump(comp *s, ctrl *c)
{
    int rc;
    if (c->kind == K_FUNC)
        return EMIT(s, KE_OP_RETURN);
    if (c->kind == K_LOOP)
        return EMIT(s, KE_OP_BR, c->target);
    if ((rc = EMIT(s, KE_OP_BR, KE_NONE)))
        return rc;
    add_patch(s, c, s->ncode - 1);
    return 0;
}

/* Branch to frame c with its label values at heights [top - n, top). */
static int
emit_branch(comp *s, ctrl *c, uint32_t top)
{
    uint32_t n = label_arity(c);
    int rc;
    if (!have_vals(s, top, n))
        return 0;
    if ((rc = emit_moves(s, label_slot(s, c), top, n)))
        return rc;
    return emit_jump(s, c);
}

/* ---- conditions ---- */

/* The branch condition for the popped i32 entry v (formerly at height
 * h). When the previous instruction computed it with an integer
 * comparison or eqz, that instruction is taken back and its operands
 * become the condition (fused compare-and-branch). */
static int
get_cond(comp *s, const vinfo *v, uint32_t h, cond *k)
{
    memset(k, 0, sizeof *k);
    if (v->kind == V_SLOT && last_made(s, h)) {
        const uint32_t *w = s->code + s->last_pc;
        uint16_t op = s->last_op, base = imm_base[op];
        bool fused = true;
        if (op == KE_OP_I32_EQZ) {
            k->a = w[2];
            k->neg = true;
        } else if (op == KE_OP_I64_EQZ) {
            k->cmp = KE_OP_I64_EQ;
            k->imm = true;
            k->a = w[2];
        } else if (brc_form[op]) {
            k->cmp = op;
            k->a = w[2];
            k->b = w[3];
        } else if (base && brci_form[base]) {
            k->cmp = base;
            k->imm = true;
            k->a = w[2];
            k->b = w[3];
        } else {
            fused = false;
        }
        if (fused) {
            s->ncode = s->last_pc;
            s->last_pc = KE_NONE;
            return 0;
        }
    }
    return src_slot(s, v, h, &k->a);
}

/* Branch to target when k holds (when it does not, with negate). */
static int
emit_cond_br(comp *s, const cond *k, bool negate, uint32_t target)
{
    if (!k->cmp)
        return EMIT(s, k->neg == negate ? KE_OP_BR_IF : KE_OP_BR_UNLESS, k->a,
                    target);
    uint16_t op = negate ? cmp_negate[k->cmp] : k->cmp;
    uint16_t br = k->imm ? brci_form[op] : brc_form[op];
    /* i = i + imm just before, branching on i: one ADD_BR instruction. */
    uint32_t pc = live(s) ? prev_instr(s) : KE_NONE;
    uint16_t f = k->imm ? addbri_form[br] : addbr_form[br];
    if (f && pc != KE_NONE && pc + 4 == s->ncode && s->label_at != s->ncode &&
        s->code[pc] == KE_OP_I32_ADD_I && s->code[pc + 1] == k->a) {
        uint32_t d = s->code[pc + 1], a = s->code[pc + 2], imm = s->code[pc + 3];
        s->ncode = pc;
        return EMIT(s, f, d, a, imm, k->b, target);
    }
    return EMIT(s, br, k->a, k->b, target);
}

/* ---- control instructions ---- */

static int
op_block(comp *s, const instr *in)
{
    blocktype bt;
    cond k;
    vinfo v;
    int rc;
    if ((rc = get_blocktype(s, in, &bt)))
        return rc;
    if (in->op == 0x04) {
        if ((rc = popv(s, KUMO_I32, NULL, &v)))
            return rc;
        if (live(s) && (rc = get_cond(s, &v, s->nvals, &k)))
            return rc;
    }
    /* Canonical layout at the boundary (the condition's operands are
     * locals, immediates or slots above everything flushed). */
    if (live(s) && (rc = flush_all(s)))
        return rc;
    if ((rc = pop_n(s, bt.nparams, bt.params)))
        return rc;
    if (in->op == 0x04 && live(s)) {
        if ((rc = emit_cond_br(s, &k, true, KE_NONE)))
            return rc;
        if ((rc = push_ctrl(s, K_IF, &bt)))
            return rc;
        top_ctrl(s)->else_patch = s->ncode - 1;
        return 0;
    }
    return push_ctrl(s,
                     in->op == 0x02   ? K_BLOCK
                     : in->op == 0x03 ? K_LOOP
                                      : K_IF,
                     &bt);
}

/* Pop the frame's results and check nothing else is left. */
static int
check_frame_end(comp *s, const ctrl *c)
{
    int rc = pop_n(s, c->nresults, c->results);
    if (rc)
        return rc;
    if (s->nvals != c->height)
        return mismatch(s);
    return 0;
}

static int
op_else(comp *s)
{
    ctrl *c = top_ctrl(s);
    int rc;
    if (c->kind != K_IF)
        return kb_diag(s->diag, KUMO_EMALFORMED, s->at, "END opcode expected");
    if (live(s) && (rc = flush_top(s, c->nresults)))
        return rc;
    if ((rc = check_frame_end(s, c)))
        return rc;
    if (live(s) && (rc = emit_jump(s, c)))
        return rc;
    resolve(s, c->else_patch, s->ncode);
    c->else_patch = KE_NONE;
    c->kind = K_ELSE;
    c->unreachable = false;
    return push_n(s, c->nparams, c->params);
}

static int
op_end(comp *s, bool *done)
{
    ctrl *c = top_ctrl(s);
    int rc;
    if (c->kind != K_FUNC && live(s) && (rc = flush_top(s, c->nresults)))
        return rc;
    if ((rc = check_frame_end(s, c)))
        return rc;
    if (c->kind == K_IF) {
        /* No else: the params must pass through as the results. */
        if (c->nparams != c->nresults ||
            (c->nparams &&
             memcmp(c->params, c->results, c->nparams * sizeof(ke_valtype))))
            return mismatch(s);
    }
    if (c->kind == K_FUNC) {
        if (live(s)) {
            /* The popped entries are still readable in s->vi. */
            if (!retarget_result(s, c->nresults, c->height) &&
                (rc = emit_moves(s, 0, c->height + c->nresults,
                                 c->nresults)))
                return rc;
            if ((rc = EMIT(s, KE_OP_RETURN)))
                return rc;
        }
        *done = true;
        s->nctrl--;
        return 0;
    }
    resolve(s, c->patch, s->ncode);
    resolve(s, c->else_patch, s->ncode);
    blocktype bt = {c->nparams, c->nresults, c->params, c->results};
    s->nctrl--;
    return push_n(s, bt.nresults, bt.results);
}

static int
get_label(comp *s, uint32_t depth, ctrl **out)
{
    if (depth >= s->nctrl)
        return fail(s, "unknown label");
    *out = &s->ctrls[s->nctrl - 1 - depth];
    return 0;
}

static int
op_br(comp *s, const instr *in)
{
    ctrl *c = NULL;
    int rc;
    if ((rc = get_label(s, in->x, &c)))
        return rc;
    if (live(s) && (rc = emit_branch(s, c, s->nvals)))
        return rc;
    if ((rc = pop_n(s, label_arity(c), label_types(c))))
        return rc;
    set_unreachable(s);
    return 0;
}

static int
op_br_if(comp *s, const instr *in)
{
    ctrl *c = NULL;
    cond k;
    vinfo v;
    int rc;
    if ((rc = get_label(s, in->x, &c)))
        return rc;
    if ((rc = popv(s, KUMO_I32, NULL, &v)))
        return rc;
    if (live(s)) {
        uint32_t top = s->nvals;
        if ((rc = get_cond(s, &v, top, &k)))
            return rc;
        if (needs_moves(s, c, top)) {
            if ((rc = emit_cond_br(s, &k, true, KE_NONE)))
                return rc;
            uint32_t skip = s->ncode - 1;
            if ((rc = emit_branch(s, c, top)))
                return rc;
            s->code[skip] = s->ncode;
            s->label_at = s->ncode;
        } else if (c->kind == K_LOOP) {
            if ((rc = emit_cond_br(s, &k, false, c->target)))
                return rc;
        } else {
            if ((rc = emit_cond_br(s, &k, false, KE_NONE)))
                return rc;
            add_patch(s, c, s->ncode - 1);
        }
    }
    /* Check the label's types; in live code the entries stay as they are
     * (pending ones included). */
    uint32_t n = label_arity(c), saved = s->nvals;
    if ((rc = pop_n(s, n, label_types(c))))
        return rc;
    if (!live(s))
        return push_n(s, n, label_types(c));
    for (uint32_t h = s->nvals; h < saved; h++)
        if (s->vi[h].kind == V_LOCAL)
            s->lrefs[s->vi[h].local]++;
    s->nvals = saved;
    return 0;
}

static int
read_label(comp *s, kb_reader *lr, ctrl **c, uint32_t *depth)
{
    int rc = kb_read_u32(lr, depth);
    if (rc)
        return rc;
    return get_label(s, *depth, c);
}

/* Undo pop_n of n values that left the stack at s->nvals, coming from
 * height saved: the popped values go back as they were, with the ones
 * taken from a polymorphic stack as unknown (the spec's
 * push_vals(pop_vals(...)) for br_table). */
static int
repush(comp *s, uint32_t saved, uint32_t n)
{
    uint32_t now = s->nvals, real = saved - now, k = n - real;
    if (k == 0) {
        s->nvals = saved;
        return 0;
    }
    for (uint32_t i = 0; i < k; i++) {
        int rc = push(s, T_UNKNOWN);
        if (rc)
            return rc;
    }
    /* The unknown values were below the real ones. */
    memmove(s->vals + now + k, s->vals + now, real);
    memset(s->vals + now, T_UNKNOWN, k);
    s->nvals = saved + k;
    if (s->nvals > s->maxvals)
        s->maxvals = s->nvals;
    return 0;
}

static int
check_br_table(comp *s, const instr *in)
{
    kb_reader lr = s->r;
    ctrl *c = NULL;
    uint32_t depth = 0;
    int rc;
    lr.p = in->targets;
    /* The default label comes last in the binary. */
    kb_reader dr = lr;
    for (uint32_t i = 0; i < in->ntargets; i++)
        if ((rc = kb_read_u32(&dr, &depth)))
            return rc;
    if ((rc = read_label(s, &dr, &c, &depth)))
        return rc;
    uint32_t arity = label_arity(c);
    for (uint32_t i = 0; i < in->ntargets; i++) {
        ctrl *t = NULL;
        if ((rc = read_label(s, &lr, &t, &depth)))
            return rc;
        if (label_arity(t) != arity)
            return mismatch(s);
        uint32_t saved = s->nvals;
        if ((rc = pop_n(s, arity, label_types(t))))
            return rc;
        if ((rc = repush(s, saved, arity)))
            return rc;
    }
    if ((rc = pop_n(s, arity, label_types(c))))
        return rc;
    set_unreachable(s);
    return 0;
}

/* BR_TABLE idx n t0 .. tn; targets needing value moves go through a
 * trampoline emitted after the table (one per distinct depth). */
static int
emit_br_table(comp *s, const instr *in, uint32_t top, uint32_t idx)
{
    uint32_t n = in->ntargets, tpos, depth = 0;
    kb_reader lr = s->r;
    ctrl *c = NULL;
    int rc;
    if (s->nctrl > s->captramp) {
        uint32_t old = s->captramp;
        if (kb_reserve((void **)&s->tramp, &s->captramp, s->nctrl,
                       sizeof *s->tramp))
            return oom(s);
        for (uint32_t i = old; i < s->captramp; i++)
            s->tramp[i] = KE_NONE;
    }
    if ((rc = EMIT(s, KE_OP_BR_TABLE, idx, n)))
        return rc;
    tpos = s->ncode;
    for (uint64_t i = 0; i <= n; i++)
        if ((rc = EMIT_RAW(s, KE_NONE)))
            return rc;
    lr.p = in->targets;
    for (uint64_t i = 0; i <= n; i++) {
        if ((rc = read_label(s, &lr, &c, &depth)))
            return rc;
        uint32_t w = tpos + (uint32_t)i;
        if (!needs_moves(s, c, top)) {
            if (c->kind == K_LOOP)
                s->code[w] = c->target;
            else
                add_patch(s, c, w);
            continue;
        }
        if (s->tramp[depth] == KE_NONE) {
            s->tramp[depth] = s->ncode;
            s->label_at = s->ncode;
            if ((rc = emit_branch(s, c, top)))
                return rc;
        }
        s->code[w] = s->tramp[depth];
    }
    /* Reset the trampoline map for the next br_table. */
    lr.p = in->targets;
    for (uint64_t i = 0; i <= n; i++) {
        kb_read_u32(&lr, &depth);
        s->tramp[depth] = KE_NONE;
    }
    return 0;
}

static int
op_br_table(comp *s, const instr *in)
{
    uint32_t idx = 0;
    vinfo v;
    int rc;
    if ((rc = popv(s, KUMO_I32, NULL, &v)))
        return rc;
    uint32_t top = s->nvals;
    bool was_live = live(s);
    if (was_live &&
        ((rc = src_slot(s, &v, top, &idx)) || (rc = flush_all(s))))
        return rc;
    if ((rc = check_br_table(s, in)))
        return rc;
    if (!was_live)
        return 0;
    /* check_br_table made the frame unreachable; emit as if still live. */
    top_ctrl(s)->unreachable = false;
    rc = emit_br_table(s, in, top, idx);
    top_ctrl(s)->unreachable = true;
    return rc;
}

static int
op_return(comp *s)
{
    ctrl *f = &s->ctrls[0];
    int rc;
    if (live(s) && f->nresults == 1 && s->nvals > top_ctrl(s)->height &&
        retarget_result(s, 1, s->nvals - 1))
        rc = EMIT(s, KE_OP_RETURN);
    else if (live(s))
        rc = emit_branch(s, f, s->nvals);
    else
        rc = 0;
    if (rc)
        return rc;
    if ((rc = pop_n(s, f->nresults, f->results)))
        return rc;
    set_unreachable(s);
    return 0;
}

static int
do_call(comp *s, const ke_functype *ft, uint32_t op, uint32_t a, uint32_t b,
        uint32_t idx)
{
    int rc;
    /* The arguments become the callee's frame: into their own slots. */
    if (live(s) && (rc = flush_top(s, ft->nparams)))
        return rc;
    if ((rc = pop_n(s, ft->nparams, ft->types)))
        return rc;
    uint32_t base = slot(s, s->nvals);
    if (op == KE_OP_CALL)
        rc = EMIT(s, KE_OP_CALL, a, base);
    else
        rc = EMIT(s, KE_OP_CALL_INDIRECT, a, b, idx, base);
    if (rc)
        return rc;
    return push_n(s, ft->nresults, ft->types + ft->nparams);
}

static int
op_call(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    int rc;
    if (in->op == 0x10) {
        if (in->x >= m->nfuncs)
            return fail(s, "unknown function %u", in->x);
        return do_call(s, ke_func_type(m, in->x), KE_OP_CALL, in->x, 0, 0);
    }
    /* call_indirect type table */
    if (in->y >= m->ntables)
        return fail(s, "unknown table %u", in->y);
    if (in->x >= m->ntypes)
        return fail(s, "unknown type %u", in->x);
    if (m->tables[in->y].elem != KUMO_FUNCREF)
        return mismatch(s);
    vinfo v;
    uint32_t idx = 0;
    if ((rc = popv(s, KUMO_I32, NULL, &v)) ||
        (rc = src_slot(s, &v, s->nvals, &idx)))
        return rc;
    return do_call(s, &m->types[in->x], KE_OP_CALL_INDIRECT, in->x, in->y,
                   idx);
}

/* ---- parametric, variable, reference instructions ---- */

static bool
is_num(ke_valtype t)
{
    return t == T_UNKNOWN || t == KUMO_I32 || t == KUMO_I64 || t == KUMO_F32 ||
           t == KUMO_F64;
}

static int
op_select(comp *s, const instr *in)
{
    ke_valtype t1 = T_UNKNOWN, t2 = T_UNKNOWN, t = T_UNKNOWN;
    vinfo va, vb, vc;
    uint32_t sa = 0, sb = 0, sc = 0;
    int rc;
    uint32_t h = s->nvals;
    if (in->op == 0x1c) {
        if (in->nt != 1)
            return fail(s, "invalid result arity");
        t = in->t;
    }
    if ((rc = popv(s, KUMO_I32, NULL, &vc)) || (rc = popv(s, t, &t1, &vb)) ||
        (rc = popv(s, t, &t2, &va)))
        return rc;
    if (in->op == 0x1b) {
        if (!is_num(t1) || !is_num(t2))
            return mismatch(s);
        if (t1 != t2 && t1 != T_UNKNOWN && t2 != T_UNKNOWN)
            return mismatch(s);
        t = t1 == T_UNKNOWN ? t2 : t1;
    }
    if ((rc = src_slot(s, &va, h - 3, &sa)) ||
        (rc = src_slot(s, &vb, h - 2, &sb)) ||
        (rc = src_slot(s, &vc, h - 1, &sc)))
        return rc;
    uint32_t pc = s->ncode;
    if ((rc = EMIT(s, KE_OP_SELECT, slot(s, h - 3), sa, sb, sc)))
        return rc;
    mark_last(s, pc, KE_OP_SELECT, h - 3);
    return push(s, t);
}

static int
op_local(comp *s, const instr *in)
{
    int rc;
    if (in->x >= s->nltypes)
        return fail(s, "unknown local %u", in->x);
    ke_valtype t = s->ltypes[in->x];
    uint32_t x = in->x, h = s->nvals;
    vinfo v = {V_LOCAL, false, x, 0};
    if (in->op == 0x20) { /* local.get: a pending read of x */
        transparent(s);
        return push_pending(s, t, &v);
    }
    /* local.set / local.tee */
    if ((rc = popv(s, t, NULL, &v)))
        return rc;
    if (live(s) && !(v.kind == V_LOCAL && v.local == x)) {
        if ((rc = flush_local(s, x)))
            return rc;
        if (v.kind == V_SLOT && last_made(s, h - 1)) {
            /* The previous instruction writes x directly. */
            s->code[s->last_pc + 1] = x;
            s->last_pc = KE_NONE;
        } else if (v.kind == V_CONST) {
            rc = emit_const(s, x, &v);
        } else {
            rc = emit_copy(s, x,
                      v.kind == V_LOCAL ? v.local : slot(s, h - 1));
        }
        if (rc)
            return rc;
    }
    if (in->op == 0x21)
        return 0;
    if (v.kind != V_CONST) {
        v.kind = V_LOCAL;
        v.local = x;
    }
    return push_pending(s, t, &v);
}

static int
op_global(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    int rc;
    if (in->x >= m->nglobals)
        return fail(s, "unknown global %u", in->x);
    const ke_globaltype *g = &m->globals[in->x].type;
    uint32_t h = s->nvals, src = 0;
    vinfo v;
    if (in->op == 0x23) {
        uint32_t pc = s->ncode;
        if ((rc = EMIT(s, KE_OP_GLOBAL_GET, slot(s, h), in->x)))
            return rc;
        mark_last(s, pc, KE_OP_GLOBAL_GET, h);
        return push(s, g->type);
    }
    if (!g->mutable_)
        return fail(s, "global is immutable");
    if ((rc = popv(s, g->type, NULL, &v)) ||
        (rc = src_slot(s, &v, h - 1, &src)))
        return rc;
    return EMIT(s, KE_OP_GLOBAL_SET, in->x, src);
}

static int
op_ref(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    uint32_t h = s->nvals;
    ke_valtype t = T_UNKNOWN;
    int rc;
    switch (in->op) {
    case 0xd0: /* ref.null t */
        if ((rc = EMIT(s, KE_OP_CONST64, slot(s, h), 0, 0)))
            return rc;
        return push(s, in->t);
    case 0xd1: /* ref.is_null */
        if (live(s) && (rc = flush_top(s, 1)))
            return rc;
        if ((rc = pop(s, T_UNKNOWN, &t)))
            return rc;
        if (t != T_UNKNOWN && t != KUMO_FUNCREF && t != KUMO_EXTERNREF)
            return mismatch(s);
        if ((rc = EMIT(s, KE_OP_REF_IS_NULL, slot(s, h - 1), slot(s, h - 1))))
            return rc;
        return push(s, KUMO_I32);
    default: /* ref.func x */
        if (in->x >= m->nfuncs)
            return fail(s, "unknown function %u", in->x);
        if (!m->func_declared || !m->func_declared[in->x])
            return fail(s, "undeclared function reference");
        if ((rc = EMIT(s, KE_OP_REF_FUNC, slot(s, h), in->x)))
            return rc;
        return push(s, KUMO_FUNCREF);
    }
}

/* ---- memory, numeric and constant instructions ---- */

static int
need_memory(comp *s)
{
    if (s->m->nmems == 0)
        return fail(s, "unknown memory 0");
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
    if (va->kind != V_SLOT || !last_made(s, h))
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

/* A store of a KE_LDOP result (the entry vv at height h - 1, just made)
 * to the address and offset that LDOP read: a KE_RMW (*done). */
static int
fuse_rmw(comp *s, uint16_t op, const vinfo *va, const vinfo *vv, uint32_t h,
         uint32_t offset, bool *done)
{
    uint16_t fused;
    *done = false;
    if (vv->kind != V_SLOT || !last_made(s, h - 1) ||
        !(fused = find_fusion(s->last_op, op)))
        return 0;
    const uint32_t *w = s->code + s->last_pc; /* LDOP dst x addr offset */
    uint32_t addr = va->kind == V_LOCAL ? va->local : slot(s, h - 2);
    if (va->kind == V_CONST || w[3] != addr || w[4] != offset)
        return 0;
    uint32_t x = w[2];
    s->ncode = s->last_pc;
    s->last_pc = KE_NONE;
    *done = true;
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

static int
op_load_store(comp *s, const instr *in)
{
    const meminfo *mi = &mem_ops[in->op];
    uint32_t h = s->nvals, sa = 0, sv = 0, pc, ops[3], n;
    uint16_t op = mi->op;
    bool done = false;
    vinfo va, vv;
    int rc;
    if ((rc = need_memory(s)))
        return rc;
    if (in->x > mi->align)
        return fail(s, "alignment must not be larger than natural");
    if (mi->is_store) {
        if ((rc = popv(s, mi->type, NULL, &vv)) ||
            (rc = popv(s, KUMO_I32, NULL, &va)))
            return rc;
        if (live(s) && (rc = fuse_rmw(s, op, &va, &vv, h, in->y, &done)))
            return rc;
        if (done)
            return 0;
        /* A constant value is emitted into slot h - 1 first. */
        uint32_t avoid = vv.kind == V_CONST ? slot(s, h - 1) : KE_NONE;
        if (live(s) && fuse_address(s, &va, h - 2, avoid, &op, ops, &n)) {
            if ((rc = src_slot(s, &vv, h - 1, &sv)))
                return rc;
            return emit_fused_mem(s, op, sv, ops, n, in->y);
        }
        if ((rc = src_slot(s, &va, h - 2, &sa)) ||
            (rc = src_slot(s, &vv, h - 1, &sv)))
            return rc;
        return EMIT(s, op, sa, sv, in->y);
    }
    if ((rc = popv(s, KUMO_I32, NULL, &va)))
        return rc;
    if (live(s) && fuse_address(s, &va, h - 1, KE_NONE, &op, ops, &n)) {
        pc = s->ncode;
        rc = emit_fused_mem(s, op, slot(s, h - 1), ops, n, in->y);
    } else {
        if ((rc = src_slot(s, &va, h - 1, &sa)))
            return rc;
        pc = s->ncode;
        rc = EMIT(s, op, slot(s, h - 1), sa, in->y);
    }
    if (rc)
        return rc;
    mark_last(s, pc, op, h - 1);
    return push(s, mi->type);
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
    if (!live(s))
        return 0;
    if (vb->kind == V_SLOT && last_made(s, h - 1)) {
        /* b was just made */
    } else if (comm && va->kind == V_SLOT && vb->kind != V_CONST &&
               last_made(s, h - 2)) {
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
    s->ncode = s->last_pc;
    s->last_pc = KE_NONE;
    if ((rc = src_slot(s, other, oh, &so)))
        return rc;
    pc = s->ncode;
    rc = n == 3 ? EMIT(s, fused, slot(s, h - 2), so, w[0], w[1], w[2])
                : EMIT(s, fused, slot(s, h - 2), so, w[0], w[1]);
    if (rc)
        return rc;
    mark_last(s, pc, fused, h - 2);
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
    if (!live(s) || va->kind != V_SLOT || vb->kind != V_SLOT ||
        !last_made(s, h - 1) || s->last_op != KE_OP_I32_ROTL_I ||
        s->prev_pc != q || p == KE_NONE || p + 4 != q || s->label_at > p ||
        s->code[p] != KE_OP_I32_ROTL_I || s->code[p + 1] != slot(s, h - 2))
        return 0;
    uint32_t a = s->code[p + 2], ka = s->code[p + 3];
    uint32_t b = s->code[q + 2], kb = s->code[q + 3];
    s->ncode = p;
    s->last_pc = KE_NONE;
    pc = s->ncode;
    int rc = EMIT(s, KE_OP_I32_XOR_ROTL2, slot(s, h - 2), a, ka, b, kb);
    if (rc)
        return rc;
    mark_last(s, pc, KE_OP_I32_XOR_ROTL2, h - 2);
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
        if ((rc = popv(s, ni->in, NULL, &va)) ||
            (rc = src_slot(s, &va, h - 1, &sa)))
            return rc;
        pc = s->ncode;
        if ((rc = EMIT(s, op, slot(s, h - 1), sa)))
            return rc;
        mark_last(s, pc, op, h - 1);
        return push(s, ni->out);
    }
    if ((rc = popv(s, ni->in, NULL, &vb)) || (rc = popv(s, ni->in, NULL, &va)))
        return rc;
    bool fused = false;
    if (op == KE_OP_I32_XOR && (rc = fuse_rotl_pair(s, &va, &vb, h, &fused)))
        return rc;
    if (!fused && (rc = fuse_binary(s, op, &va, &vb, h, &fused)))
        return rc;
    if (fused)
        return push(s, ni->out);
    if (imm_fits(&va, op_mirror[op]) && vb.kind != V_CONST) {
        /* constant on the left: swap the operands */
        vinfo t = va;
        va = vb;
        vb = t;
        op = op_mirror[op];
        if ((rc = src_slot(s, &va, h - 1, &sa)))
            return rc;
    } else if ((rc = src_slot(s, &va, h - 2, &sa))) {
        return rc;
    }
    pc = s->ncode;
    if (imm_fits(&vb, op)) {
        op = imm_form[op];
        rc = EMIT(s, op, slot(s, h - 2), sa, (uint32_t)vb.bits);
    } else {
        if ((rc = src_slot(s, &vb, h - 1, &sb)))
            return rc;
        pc = s->ncode;
        rc = EMIT(s, op, slot(s, h - 2), sa, sb);
    }
    if (rc)
        return rc;
    mark_last(s, pc, op, h - 2);
    return push(s, ni->out);
}

static int
op_const(comp *s, const instr *in)
{
    static const ke_valtype types[4] = {KUMO_I32, KUMO_I64, KUMO_F32, KUMO_F64};
    vinfo v = {V_CONST, in->op == 0x42 || in->op == 0x44, 0, in->bits};
    transparent(s);
    return push_pending(s, types[in->op - 0x41], &v);
}

static int
op_memory(comp *s, const instr *in)
{
    uint32_t h = s->nvals;
    int rc;
    if ((rc = need_memory(s)))
        return rc;
    if (in->op == 0x3f) {
        if ((rc = EMIT(s, KE_OP_MEMORY_SIZE, slot(s, h))))
            return rc;
        return push(s, KUMO_I32);
    }
    if ((live(s) && (rc = flush_top(s, 1))) || (rc = pop(s, KUMO_I32, NULL)))
        return rc;
    if ((rc = EMIT(s, KE_OP_MEMORY_GROW, slot(s, h - 1), slot(s, h - 1))))
        return rc;
    return push(s, KUMO_I32);
}

/* Pop three i32 operands (d s n or similar). */
static int
pop3_i32(comp *s)
{
    int rc;
    if (live(s) && (rc = flush_top(s, 3)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = pop(s, KUMO_I32, NULL)))
            return rc;
    return 0;
}

static int
op_bulk_memory(comp *s, const instr *in)
{
    uint32_t sub = in->op & 0xff, h = s->nvals;
    int rc;
    if (sub == 9) { /* data.drop */
        if (in->x >= s->m->ndatas)
            return fail(s, "unknown data segment %u", in->x);
        return EMIT(s, KE_OP_DATA_DROP, in->x);
    }
    if ((rc = need_memory(s)))
        return rc;
    if (sub == 8 && in->x >= s->m->ndatas)
        return fail(s, "unknown data segment %u", in->x);
    if ((rc = pop3_i32(s)))
        return rc;
    uint32_t a = slot(s, h - 3), b = slot(s, h - 2), c = slot(s, h - 1);
    if (sub == 8)
        return EMIT(s, KE_OP_MEMORY_INIT, in->x, a, b, c);
    return EMIT(s, sub == 10 ? KE_OP_MEMORY_COPY : KE_OP_MEMORY_FILL, a, b, c);
}

static int
need_table(comp *s, uint32_t x)
{
    if (x >= s->m->ntables)
        return fail(s, "unknown table %u", x);
    return 0;
}

static int
need_elem(comp *s, uint32_t x)
{
    if (x >= s->m->nelems)
        return fail(s, "unknown elem segment %u", x);
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
            return mismatch(s);
    } else { /* table.copy dst=x src=y */
        if ((rc = need_table(s, in->x)) || (rc = need_table(s, in->y)))
            return rc;
        if (m->tables[in->x].elem != m->tables[in->y].elem)
            return mismatch(s);
    }
    if ((rc = pop3_i32(s)))
        return rc;
    uint32_t a = slot(s, h - 3), b = slot(s, h - 2), c = slot(s, h - 1);
    if (sub == 12)
        return EMIT(s, KE_OP_TABLE_INIT, in->y, in->x, a, b, c);
    return EMIT(s, KE_OP_TABLE_COPY, in->x, in->y, a, b, c);
}

/* table.get/set/size/grow/fill */
static int
op_table(comp *s, const instr *in)
{
    uint32_t x = in->x, h = s->nvals;
    int rc;
    if ((rc = need_table(s, x)))
        return rc;
    if (live(s) && (rc = flush_top(s, 3)))
        return rc;
    ke_valtype et = s->m->tables[x].elem;
    switch (in->op) {
    case 0x25: /* table.get */
        if ((rc = pop(s, KUMO_I32, NULL)) ||
            (rc = EMIT(s, KE_OP_TABLE_GET, x, slot(s, h - 1), slot(s, h - 1))))
            return rc;
        return push(s, et);
    case 0x26: /* table.set */
        if ((rc = pop(s, et, NULL)) || (rc = pop(s, KUMO_I32, NULL)))
            return rc;
        return EMIT(s, KE_OP_TABLE_SET, x, slot(s, h - 2), slot(s, h - 1));
    case 0x100 | 15: /* table.grow: init n -> old */
        if ((rc = pop(s, KUMO_I32, NULL)) || (rc = pop(s, et, NULL)) ||
            (rc = EMIT(s, KE_OP_TABLE_GROW, x, slot(s, h - 2), slot(s, h - 2),
                       slot(s, h - 1))))
            return rc;
        return push(s, KUMO_I32);
    case 0x100 | 16: /* table.size */
        if ((rc = EMIT(s, KE_OP_TABLE_SIZE, x, slot(s, h))))
            return rc;
        return push(s, KUMO_I32);
    default: /* table.fill: i val n */
        if ((rc = pop(s, KUMO_I32, NULL)) || (rc = pop(s, et, NULL)) ||
            (rc = pop(s, KUMO_I32, NULL)))
            return rc;
        return EMIT(s, KE_OP_TABLE_FILL, x, slot(s, h - 3), slot(s, h - 2),
                    slot(s, h - 1));
    }
}

static int
op_fc(comp *s, const instr *in)
{
    uint32_t sub = in->op & 0xff;
    if (sub <= 7)
        return op_numeric(s, &num_ops[256 + sub]);
    if (sub <= 11)
        return op_bulk_memory(s, in);
    if (sub <= 14)
        return op_table_segments(s, in);
    return op_table(s, in);
}

/* ---- the main loop ---- */

static int
op_control(comp *s, const instr *in, bool *done)
{
    switch (in->op) {
    case 0x00:
        if (live(s)) {
            int rc = EMIT(s, KE_OP_UNREACHABLE);
            if (rc)
                return rc;
        }
        set_unreachable(s);
        return 0;
    case 0x01:
        return 0;
    case 0x02:
    case 0x03:
    case 0x04:
        return op_block(s, in);
    case 0x05:
        return op_else(s);
    case 0x0b:
        return op_end(s, done);
    case 0x0c:
        return op_br(s, in);
    case 0x0d:
        return op_br_if(s, in);
    case 0x0e:
        return op_br_table(s, in);
    case 0x0f:
        return op_return(s);
    default:
        return op_call(s, in);
    }
}

static int
dispatch(comp *s, const instr *in, bool *done)
{
    uint32_t op = in->op;
    if (op <= 0x11)
        return op_control(s, in, done);
    if (op == 0x1a)
        return pop(s, T_UNKNOWN, NULL);
    if (op == 0x1b || op == 0x1c)
        return op_select(s, in);
    if (op >= 0x20 && op <= 0x22)
        return op_local(s, in);
    if (op == 0x23 || op == 0x24)
        return op_global(s, in);
    if (op == 0x25 || op == 0x26)
        return op_table(s, in);
    if (op >= 0x28 && op <= 0x3e)
        return op_load_store(s, in);
    if (op == 0x3f || op == 0x40)
        return op_memory(s, in);
    if (op >= 0x41 && op <= 0x44)
        return op_const(s, in);
    if (op < 256 && num_ops[op].nargs)
        return op_numeric(s, &num_ops[op]);
    if (op >= 0xd0 && op <= 0xd2)
        return op_ref(s, in);
    if (op >= 0x100)
        return op_fc(s, in);
    return kb_diag(s->diag, KUMO_EMALFORMED, s->at, "illegal opcode 0x%02x",
                   op);
}

static int
setup(comp *s, uint32_t fidx)
{
    const ke_funcbody *fb = &s->m->bodies[fidx - s->m->nimported_funcs];
    uint64_t n = (uint64_t)s->ft->nparams + fb->nlocals;
    if (n >= MAX_FRAME)
        return kb_diag(s->diag, KUMO_ELIMIT, fb->body.off, "too many locals");
    s->nltypes = (uint32_t)n;
    s->base = s->nltypes;
    s->ltypes = kb_malloc(n ? n : 1);
    s->lrefs = kb_calloc(n ? n : 1, sizeof *s->lrefs);
    if (!s->ltypes || !s->lrefs)
        return oom(s);
    s->last_pc = KE_NONE;
    s->copy_end = KE_NONE;
    s->prev_pc = s->prev2_pc = KE_NONE;
    if (s->ft->nparams)
        memcpy(s->ltypes, s->ft->types, s->ft->nparams);
    if (fb->nlocals)
        memcpy(s->ltypes + s->ft->nparams, fb->locals, fb->nlocals);
    blocktype bt = {0, s->ft->nresults, NULL, s->ft->types + s->ft->nparams};
    return push_ctrl(s, K_FUNC, &bt);
}

static int
run(comp *s)
{
    bool done = false;
    instr in;
    int rc;
    while (!done) {
        if (kb_at_end(&s->r))
            return kb_diag(s->diag, KUMO_EMALFORMED, kb_offset(&s->r),
                           "unexpected end");
        memset(&in, 0, sizeof in);
        if ((rc = ke_read_instr(&s->r, s->m, &in)))
            return rc;
        s->at = in.at;
        s->seq++;
        if ((rc = dispatch(s, &in, &done)))
            return rc;
    }
    return 0;
}

static int
finish(comp *s, ke_code **out)
{
    uint64_t fs = (uint64_t)s->base + s->maxvals + 1;
    if (fs < s->ft->nresults)
        fs = s->ft->nresults;
    if (fs > MAX_FRAME)
        return kb_diag(s->diag, KUMO_ELIMIT, s->at, "function too complex");
    ke_code *c = kb_calloc(1, sizeof *c);
    /* One allocation: the opcode words, then their two threaded copies. */
    uint32_t *w = c ? kb_realloc(s->code, 3 * (size_t)s->ncode * sizeof *w)
                    : NULL;
    if (!w) {
        kb_free(c);
        return oom(s);
    }
    s->code = NULL;
    c->words = w;
    c->nwords = s->ncode;
    c->nparams = s->ft->nparams;
    c->nresults = s->ft->nresults;
    c->nlocals = s->nltypes - s->ft->nparams;
    c->frame_size = (uint32_t)fs;
    ke_code_thread(c, w + c->nwords);
    *out = c;
    return 0;
}

int
ke_compile_func(kumo_module *m, uint32_t fidx, kumo_diag *diag)
{
    comp s;
    ke_code *code = NULL;
    int rc;

    if (fidx < m->nimported_funcs || fidx >= m->nfuncs)
        return kb_diag(diag, KUMO_EINVAL, 0, "not a defined function");
    if ((rc = ke_scan_func(m, fidx, diag)))
        return rc;
    memset(&s, 0, sizeof s);
    s.m = m;
    s.diag = diag;
    s.ft = ke_func_type(m, fidx);
    ke_body_reader(m, fidx, diag, &s.r);
    s.at = kb_offset(&s.r);
    if ((rc = setup(&s, fidx)) || (rc = run(&s)) || (rc = finish(&s, &code)))
        goto out;
    ke_funcbody *fb = &m->bodies[fidx - m->nimported_funcs];
    if (fb->code) {
        kb_free(fb->code->words);
        kb_free(fb->code);
    }
    fb->code = code;
out:
    kb_free(s.ltypes);
    kb_free(s.lrefs);
    kb_free(s.vi);
    kb_free(s.vals);
    kb_free(s.ctrls);
    kb_free(s.code);
    kb_free(s.tramp);
    if (rc && diag)
        diag->func_index = fidx;
    return rc;
}
