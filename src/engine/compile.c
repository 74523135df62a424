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
 * The scheme is shared with compile_ops.c and compile_eh.c through
 * compile.h.
 *
 * Decoding is done twice (scan.c): ke_scan_func checks the body's syntax
 * first so that a malformed body is reported as such even if an earlier
 * instruction is invalid (the spec decodes the whole module before
 * validating).
 */
#include <stdio.h>

#include "compile.h"

/* ---- opcode tables, from ops.def ---- */





/* Folding tables (0: none; opcode 0 is UNREACHABLE, never a candidate):
 * the immediate form of a binary op, the op an immediate form is of, and
 * the fused branches of a comparison. */


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



/* ---- errors ---- */

int
ke_c_fail(comp *s, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return kb_diag(s->diag, KUMO_EINVALID, s->at, "%s", buf);
}

int
ke_c_mismatch(comp *s)
{
    return ke_c_fail(s, "type mismatch");
}

int
ke_c_oom(comp *s)
{
    return kb_diag(s->diag, KUMO_ENOMEM, s->at, "out of memory");
}

/* ---- the type stack and the control stack ---- */

ctrl *
ke_c_top_ctrl(comp *s)
{
    return &s->ctrls[s->nctrl - 1];
}

bool
ke_c_live(comp *s)
{
    const ctrl *c = ke_c_top_ctrl(s);
    return !c->unreachable && !c->dead;
}

uint32_t
ke_c_slot(const comp *s, uint32_t h)
{
    return s->base + h;
}

int
ke_c_push(comp *s, ke_valtype t)
{
    if (s->nvals >= MAX_FRAME)
        return kb_diag(s->diag, KUMO_ELIMIT, s->at, "function too complex");
    if (s->nvals == s->capvals &&
        kb_reserve((void **)&s->vals, &s->capvals, s->nvals + 1, 1))
        return ke_c_oom(s);
    if (s->nvals == s->capvi && kb_reserve((void **)&s->vi, &s->capvi,
                                           s->nvals + 1, sizeof *s->vi))
        return ke_c_oom(s);
    s->vi[s->nvals].kind = V_SLOT;
    s->vals[s->nvals++] = t;
    if (s->nvals > s->maxvals)
        s->maxvals = s->nvals;
    return 0;
}

int
ke_c_pop(comp *s, ke_valtype expect, ke_valtype *out)
{
    const ctrl *c = ke_c_top_ctrl(s);
    ke_valtype t = T_UNKNOWN;
    if (s->nvals == c->height) {
        if (!c->unreachable)
            return ke_c_mismatch(s);
        t = T_UNKNOWN;
    } else {
        t = s->vals[--s->nvals];
        if (s->vi[s->nvals].kind == V_LOCAL)
            s->lrefs[s->vi[s->nvals].local]--;
    }
    if (expect != T_UNKNOWN && t != T_UNKNOWN && t != expect)
        return ke_c_mismatch(s);
    if (out)
        *out = t;
    return 0;
}

/* pop, also giving where the value is (V_SLOT for a polymorphic pop).
 * The entry stays readable at s->vi[s->nvals] until the next push. */
int
ke_c_popv(comp *s, ke_valtype expect, ke_valtype *out, vinfo *v)
{
    uint32_t n = s->nvals;
    int rc = ke_c_pop(s, expect, out);
    if (rc)
        return rc;
    if (s->nvals < n)
        *v = s->vi[s->nvals];
    else
        v->kind = V_SLOT;
    return 0;
}

int
ke_c_push_n(comp *s, uint32_t n, const ke_valtype *ts)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = ke_c_push(s, ts[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int
ke_c_pop_n(comp *s, uint32_t n, const ke_valtype *ts)
{
    for (uint32_t i = n; i-- > 0;) {
        int rc = ke_c_pop(s, ts[i], NULL);
        if (rc)
            return rc;
    }
    return 0;
}

void
ke_c_set_unreachable(comp *s)
{
    ctrl *c = ke_c_top_ctrl(s);
    for (uint32_t h = c->height; h < s->nvals; h++)
        if (s->vi[h].kind == V_LOCAL)
            s->lrefs[s->vi[h].local]--;
    s->nvals = c->height;
    c->unreachable = true;
}

static const ke_valtype single_types[] = {
    KUMO_I32,     KUMO_I64,       KUMO_F32,   KUMO_F64,
    KUMO_FUNCREF, KUMO_EXTERNREF, KUMO_EXNREF,
};

int
ke_c_get_blocktype(comp *s, const instr *in, blocktype *bt)
{
    memset(bt, 0, sizeof *bt);
    if (in->bt >= 0) {
        if (in->bt >= s->m->ntypes)
            return ke_c_fail(s, "unknown type %u", (uint32_t)in->bt);
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

int
ke_c_push_ctrl(comp *s, uint8_t kind, const blocktype *bt)
{
    bool dead = s->nctrl > 0 && !ke_c_live(s);
    if (s->nctrl == s->capctrl && kb_reserve((void **)&s->ctrls, &s->capctrl,
                                             s->nctrl + 1, sizeof *s->ctrls))
        return ke_c_oom(s);
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
    return ke_c_push_n(s, bt->nparams, bt->params);
}

/* Arity and types of the label of frame c. */
uint32_t
ke_c_label_arity(const ctrl *c)
{
    return c->kind == K_LOOP ? c->nparams : c->nresults;
}

const ke_valtype *
ke_c_label_types(const ctrl *c)
{
    return c->kind == K_LOOP ? c->params : c->results;
}

/* ---- emission ---- */

/* Append n words (the rest of an instruction, or a table). */
int
ke_c_emit_raw(comp *s, uint32_t n, const uint32_t *w)
{
    if (!ke_c_live(s))
        return 0;
    if (s->ncode + n > MAX_CODE)
        return kb_diag(s->diag, KUMO_ELIMIT, s->at, "function too large");
    if (kb_reserve((void **)&s->code, &s->capcode, s->ncode + n,
                   sizeof *s->code))
        return ke_c_oom(s);
    memcpy(s->code + s->ncode, w, n * sizeof *w);
    s->ncode += n;
    return 0;
}

/* Append an instruction (n words), remembering where it starts. */
int
ke_c_emit(comp *s, uint32_t n, const uint32_t *w)
{
    if (ke_c_live(s)) {
        s->prev2_pc = s->prev_pc;
        s->prev_pc = s->ncode;
    }
    return ke_c_emit_raw(s, n, w);
}

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
    if (ke_c_live(s) && s->copy_end == s->ncode && s->label_at != s->ncode &&
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
void
ke_c_mark_last(comp *s, uint32_t pc, uint16_t op, uint32_t h)
{
    if (!ke_c_live(s))
        return;
    s->plast_pc = s->last_pc;
    s->plast_end = s->last_end;
    s->plast_op = s->last_op;
    s->plast_h = s->last_h;
    s->last_seq = s->seq;
    s->last_pc = pc;
    s->last_end = s->ncode;
    s->last_op = op;
    s->last_h = h;
}

/* Whether the previous wasm instruction's result, now the entry at
 * height h, was written by the last emitted instruction. */
bool
ke_c_last_made(const comp *s, uint32_t h)
{
    return ke_c_live((comp *)s) && s->last_seq + 1 == s->seq &&
           s->last_end == s->ncode && s->last_h == h && s->last_pc != KE_NONE;
}

int
ke_c_emit_const(comp *s, uint32_t dst, const vinfo *v)
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
        rc = emit_copy(s, ke_c_slot(s, h), v->local);
    } else if (v->kind == V_CONST) {
        rc = ke_c_emit_const(s, ke_c_slot(s, h), v);
    }
    v->kind = V_SLOT;
    return rc;
}

/* Materialise every pending entry. */
int
ke_c_flush_all(comp *s)
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
int
ke_c_flush_top(comp *s, uint32_t n)
{
    uint32_t lo = ke_c_top_ctrl(s)->height;
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
void
ke_c_transparent(comp *s)
{
    if (s->last_seq + 1 == s->seq)
        s->last_seq = s->seq;
}

/* Push a pending entry (plain push in dead code). */
int
ke_c_push_pending(comp *s, ke_valtype t, const vinfo *v)
{
    int rc = ke_c_push(s, t);
    if (rc || !ke_c_live(s))
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
int
ke_c_src_slot(comp *s, const vinfo *v, uint32_t h, uint32_t *out)
{
    *out = v->kind == V_LOCAL ? v->local : ke_c_slot(s, h);
    if (v->kind == V_CONST)
        return ke_c_emit_const(s, ke_c_slot(s, h), v);
    return 0;
}

void
ke_c_add_patch(comp *s, ctrl *c, uint32_t pos)
{
    s->code[pos] = c->patch;
    c->patch = pos;
}

void
ke_c_resolve(comp *s, uint32_t head, uint32_t target)
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
        uint32_t own = ke_c_slot(s, top - n + i);
        if (v->kind == V_LOCAL)
            rc = emit_copy(s, own, v->local);
        else if (v->kind == V_CONST)
            rc = ke_c_emit_const(s, own, v);
        else
            rc = 0;
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        const vinfo *v = &s->vi[top - n + i];
        uint32_t src = ke_c_slot(s, top - n + i);
        if (!hazard && v->kind == V_CONST)
            rc = ke_c_emit_const(s, dst + i, v);
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
    if (n != 1 || s->vi[h].kind != V_SLOT || !ke_c_last_made(s, h))
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
    return top - ke_c_top_ctrl(s)->height >= n;
}

/* Where frame c's label values must be: the function's results go to
 * fp[0..), a block's to the slots above its base height. */
uint32_t
ke_c_label_slot(const comp *s, const ctrl *c)
{
    return c->kind == K_FUNC ? 0 : ke_c_slot(s, c->height);
}

/* Whether a branch to c with values ending at height `top` needs more
 * than a bare jump. */
static bool
needs_moves(comp *s, const ctrl *c, uint32_t top)
{
    uint32_t n = ke_c_label_arity(c);
    if (c->kind == K_FUNC)
        return true;
    if (n == 0 || !have_vals(s, top, n))
        return false;
    if (ke_c_label_slot(s, c) != ke_c_slot(s, top - n))
        return true;
    for (uint32_t h = top - n; h < top; h++)
        if (s->vi[h].kind != V_SLOT)
            return true;
    return false;
}

/* Emit a jump to the label of frame c (live code only). */
int
ke_c_emit_jump(comp *s, ctrl *c)
{
    int rc;
    if (c->kind == K_FUNC)
        return EMIT(s, KE_OP_RETURN);
    if (c->kind == K_LOOP)
        return EMIT(s, KE_OP_BR, c->target);
    if ((rc = EMIT(s, KE_OP_BR, KE_NONE)))
        return rc;
    ke_c_add_patch(s, c, s->ncode - 1);
    return 0;
}

/* Branch to frame c with its label values at heights [top - n, top). */
int
ke_c_emit_branch(comp *s, ctrl *c, uint32_t top)
{
    uint32_t n = ke_c_label_arity(c);
    int rc;
    if (!have_vals(s, top, n))
        return 0;
    if ((rc = emit_moves(s, ke_c_label_slot(s, c), top, n)))
        return rc;
    return ke_c_emit_jump(s, c);
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
    if (v->kind == V_SLOT && ke_c_last_made(s, h)) {
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
    return ke_c_src_slot(s, v, h, &k->a);
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
    uint32_t pc = ke_c_live(s) ? prev_instr(s) : KE_NONE;
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
    if ((rc = ke_c_get_blocktype(s, in, &bt)))
        return rc;
    if (in->op == 0x04) {
        if ((rc = ke_c_popv(s, KUMO_I32, NULL, &v)))
            return rc;
        if (ke_c_live(s) && (rc = get_cond(s, &v, s->nvals, &k)))
            return rc;
    }
    /* Canonical layout at the boundary (the condition's operands are
     * locals, immediates or slots above everything flushed). */
    if (ke_c_live(s) && (rc = ke_c_flush_all(s)))
        return rc;
    if ((rc = ke_c_pop_n(s, bt.nparams, bt.params)))
        return rc;
    if (in->op == 0x04 && ke_c_live(s)) {
        if ((rc = emit_cond_br(s, &k, true, KE_NONE)))
            return rc;
        if ((rc = ke_c_push_ctrl(s, K_IF, &bt)))
            return rc;
        ke_c_top_ctrl(s)->else_patch = s->ncode - 1;
        return 0;
    }
    return ke_c_push_ctrl(s,
                     in->op == 0x02   ? K_BLOCK
                     : in->op == 0x03 ? K_LOOP
                                      : K_IF,
                     &bt);
}

/* Pop the frame's results and check nothing else is left. */
int
ke_c_check_frame_end(comp *s, const ctrl *c)
{
    int rc = ke_c_pop_n(s, c->nresults, c->results);
    if (rc)
        return rc;
    if (s->nvals != c->height)
        return ke_c_mismatch(s);
    return 0;
}

static int
op_else(comp *s)
{
    ctrl *c = ke_c_top_ctrl(s);
    int rc;
    if (c->kind != K_IF)
        return kb_diag(s->diag, KUMO_EMALFORMED, s->at, "END opcode expected");
    if (ke_c_live(s) && (rc = ke_c_flush_top(s, c->nresults)))
        return rc;
    if ((rc = ke_c_check_frame_end(s, c)))
        return rc;
    if (ke_c_live(s) && (rc = ke_c_emit_jump(s, c)))
        return rc;
    ke_c_resolve(s, c->else_patch, s->ncode);
    c->else_patch = KE_NONE;
    c->kind = K_ELSE;
    c->unreachable = false;
    return ke_c_push_n(s, c->nparams, c->params);
}

int
ke_c_op_end(comp *s, bool *done)
{
    ctrl *c = ke_c_top_ctrl(s);
    int rc;
    if (c->kind != K_FUNC && ke_c_live(s) && (rc = ke_c_flush_top(s, c->nresults)))
        return rc;
    if ((rc = ke_c_check_frame_end(s, c)))
        return rc;
    if (c->kind >= K_TRY && (rc = ke_c_end_eh(s, c)))
        return rc;
    if (c->kind == K_IF) {
        /* No else: the params must pass through as the results. */
        if (c->nparams != c->nresults ||
            (c->nparams &&
             memcmp(c->params, c->results, c->nparams * sizeof(ke_valtype))))
            return ke_c_mismatch(s);
    }
    if (c->kind == K_FUNC) {
        if (ke_c_live(s)) {
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
    ke_c_resolve(s, c->patch, s->ncode);
    ke_c_resolve(s, c->else_patch, s->ncode);
    blocktype bt = {c->nparams, c->nresults, c->params, c->results};
    s->nctrl--;
    return ke_c_push_n(s, bt.nresults, bt.results);
}

int
ke_c_get_label(comp *s, uint32_t depth, ctrl **out)
{
    if (depth >= s->nctrl)
        return ke_c_fail(s, "unknown label");
    *out = &s->ctrls[s->nctrl - 1 - depth];
    return 0;
}

static int
op_br(comp *s, const instr *in)
{
    ctrl *c = NULL;
    int rc;
    if ((rc = ke_c_get_label(s, in->x, &c)))
        return rc;
    if (ke_c_live(s) && (rc = ke_c_emit_branch(s, c, s->nvals)))
        return rc;
    if ((rc = ke_c_pop_n(s, ke_c_label_arity(c), ke_c_label_types(c))))
        return rc;
    ke_c_set_unreachable(s);
    return 0;
}

static int
op_br_if(comp *s, const instr *in)
{
    ctrl *c = NULL;
    cond k;
    vinfo v;
    int rc;
    if ((rc = ke_c_get_label(s, in->x, &c)))
        return rc;
    if ((rc = ke_c_popv(s, KUMO_I32, NULL, &v)))
        return rc;
    if (ke_c_live(s)) {
        uint32_t top = s->nvals;
        if ((rc = get_cond(s, &v, top, &k)))
            return rc;
        if (needs_moves(s, c, top)) {
            if ((rc = emit_cond_br(s, &k, true, KE_NONE)))
                return rc;
            uint32_t skip = s->ncode - 1;
            if ((rc = ke_c_emit_branch(s, c, top)))
                return rc;
            s->code[skip] = s->ncode;
            s->label_at = s->ncode;
        } else if (c->kind == K_LOOP) {
            if ((rc = emit_cond_br(s, &k, false, c->target)))
                return rc;
        } else {
            if ((rc = emit_cond_br(s, &k, false, KE_NONE)))
                return rc;
            ke_c_add_patch(s, c, s->ncode - 1);
        }
    }
    /* Check the label's types; in live code the entries stay as they are
     * (pending ones included). */
    uint32_t n = ke_c_label_arity(c), saved = s->nvals;
    if ((rc = ke_c_pop_n(s, n, ke_c_label_types(c))))
        return rc;
    if (!ke_c_live(s))
        return ke_c_push_n(s, n, ke_c_label_types(c));
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
    return ke_c_get_label(s, *depth, c);
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
        int rc = ke_c_push(s, T_UNKNOWN);
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
    uint32_t arity = ke_c_label_arity(c);
    for (uint32_t i = 0; i < in->ntargets; i++) {
        ctrl *t = NULL;
        if ((rc = read_label(s, &lr, &t, &depth)))
            return rc;
        if (ke_c_label_arity(t) != arity)
            return ke_c_mismatch(s);
        uint32_t saved = s->nvals;
        if ((rc = ke_c_pop_n(s, arity, ke_c_label_types(t))))
            return rc;
        if ((rc = repush(s, saved, arity)))
            return rc;
    }
    if ((rc = ke_c_pop_n(s, arity, ke_c_label_types(c))))
        return rc;
    ke_c_set_unreachable(s);
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
            return ke_c_oom(s);
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
                ke_c_add_patch(s, c, w);
            continue;
        }
        if (s->tramp[depth] == KE_NONE) {
            s->tramp[depth] = s->ncode;
            s->label_at = s->ncode;
            if ((rc = ke_c_emit_branch(s, c, top)))
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
    if ((rc = ke_c_popv(s, KUMO_I32, NULL, &v)))
        return rc;
    uint32_t top = s->nvals;
    bool was_live = ke_c_live(s);
    if (was_live &&
        ((rc = ke_c_src_slot(s, &v, top, &idx)) || (rc = ke_c_flush_all(s))))
        return rc;
    if ((rc = check_br_table(s, in)))
        return rc;
    if (!was_live)
        return 0;
    /* check_br_table made the frame unreachable; emit as if still live. */
    ke_c_top_ctrl(s)->unreachable = false;
    rc = emit_br_table(s, in, top, idx);
    ke_c_top_ctrl(s)->unreachable = true;
    return rc;
}

static int
op_return(comp *s)
{
    ctrl *f = &s->ctrls[0];
    int rc;
    if (ke_c_live(s) && f->nresults == 1 && s->nvals > ke_c_top_ctrl(s)->height &&
        retarget_result(s, 1, s->nvals - 1))
        rc = EMIT(s, KE_OP_RETURN);
    else if (ke_c_live(s))
        rc = ke_c_emit_branch(s, f, s->nvals);
    else
        rc = 0;
    if (rc)
        return rc;
    if ((rc = ke_c_pop_n(s, f->nresults, f->results)))
        return rc;
    ke_c_set_unreachable(s);
    return 0;
}

static int
do_call(comp *s, const ke_functype *ft, uint32_t op, uint32_t a, uint32_t b,
        uint32_t idx)
{
    int rc;
    /* The arguments become the callee's frame: into their own slots. */
    if (ke_c_live(s) && (rc = ke_c_flush_top(s, ft->nparams)))
        return rc;
    if ((rc = ke_c_pop_n(s, ft->nparams, ft->types)))
        return rc;
    uint32_t base = ke_c_slot(s, s->nvals);
    if (op == KE_OP_CALL)
        rc = EMIT(s, KE_OP_CALL, a, base);
    else
        rc = EMIT(s, KE_OP_CALL_INDIRECT, a, b, idx, base);
    if (rc)
        return rc;
    return ke_c_push_n(s, ft->nresults, ft->types + ft->nparams);
}

static int
op_call(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    int rc;
    if (in->op == 0x10) {
        if (in->x >= m->nfuncs)
            return ke_c_fail(s, "unknown function %u", in->x);
        return do_call(s, ke_func_type(m, in->x), KE_OP_CALL, in->x, 0, 0);
    }
    /* call_indirect type table */
    if (in->y >= m->ntables)
        return ke_c_fail(s, "unknown table %u", in->y);
    if (in->x >= m->ntypes)
        return ke_c_fail(s, "unknown type %u", in->x);
    if (m->tables[in->y].elem != KUMO_FUNCREF)
        return ke_c_mismatch(s);
    vinfo v;
    uint32_t idx = 0;
    if ((rc = ke_c_popv(s, KUMO_I32, NULL, &v)) ||
        (rc = ke_c_src_slot(s, &v, s->nvals, &idx)))
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
            return ke_c_fail(s, "invalid result arity");
        t = in->t;
    }
    if ((rc = ke_c_popv(s, KUMO_I32, NULL, &vc)) || (rc = ke_c_popv(s, t, &t1, &vb)) ||
        (rc = ke_c_popv(s, t, &t2, &va)))
        return rc;
    if (in->op == 0x1b) {
        if (!is_num(t1) || !is_num(t2))
            return ke_c_mismatch(s);
        if (t1 != t2 && t1 != T_UNKNOWN && t2 != T_UNKNOWN)
            return ke_c_mismatch(s);
        t = t1 == T_UNKNOWN ? t2 : t1;
    }
    if ((rc = ke_c_src_slot(s, &va, h - 3, &sa)) ||
        (rc = ke_c_src_slot(s, &vb, h - 2, &sb)) ||
        (rc = ke_c_src_slot(s, &vc, h - 1, &sc)))
        return rc;
    uint32_t pc = s->ncode;
    if ((rc = EMIT(s, KE_OP_SELECT, ke_c_slot(s, h - 3), sa, sb, sc)))
        return rc;
    ke_c_mark_last(s, pc, KE_OP_SELECT, h - 3);
    return ke_c_push(s, t);
}

static int
op_local(comp *s, const instr *in)
{
    int rc;
    if (in->x >= s->nltypes)
        return ke_c_fail(s, "unknown local %u", in->x);
    ke_valtype t = s->ltypes[in->x];
    uint32_t x = in->x, h = s->nvals;
    vinfo v = {V_LOCAL, false, x, 0};
    if (in->op == 0x20) { /* local.get: a pending read of x */
        ke_c_transparent(s);
        return ke_c_push_pending(s, t, &v);
    }
    /* local.set / local.tee */
    if ((rc = ke_c_popv(s, t, NULL, &v)))
        return rc;
    if (ke_c_live(s) && !(v.kind == V_LOCAL && v.local == x)) {
        if ((rc = flush_local(s, x)))
            return rc;
        if (v.kind == V_SLOT && ke_c_last_made(s, h - 1)) {
            /* The previous instruction writes x directly. */
            s->code[s->last_pc + 1] = x;
            s->last_pc = KE_NONE;
        } else if (v.kind == V_CONST) {
            rc = ke_c_emit_const(s, x, &v);
        } else {
            rc = emit_copy(s, x,
                      v.kind == V_LOCAL ? v.local : ke_c_slot(s, h - 1));
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
    return ke_c_push_pending(s, t, &v);
}

static int
op_global(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    int rc;
    if (in->x >= m->nglobals)
        return ke_c_fail(s, "unknown global %u", in->x);
    const ke_globaltype *g = &m->globals[in->x].type;
    uint32_t h = s->nvals, src = 0;
    vinfo v;
    if (in->op == 0x23) {
        uint32_t pc = s->ncode;
        if ((rc = EMIT(s, KE_OP_GLOBAL_GET, ke_c_slot(s, h), in->x)))
            return rc;
        ke_c_mark_last(s, pc, KE_OP_GLOBAL_GET, h);
        return ke_c_push(s, g->type);
    }
    if (!g->mutable_)
        return ke_c_fail(s, "global is immutable");
    if ((rc = ke_c_popv(s, g->type, NULL, &v)) ||
        (rc = ke_c_src_slot(s, &v, h - 1, &src)))
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
        if ((rc = EMIT(s, KE_OP_CONST64, ke_c_slot(s, h), 0, 0)))
            return rc;
        return ke_c_push(s, in->t);
    case 0xd1: /* ref.is_null */
        if (ke_c_live(s) && (rc = ke_c_flush_top(s, 1)))
            return rc;
        if ((rc = ke_c_pop(s, T_UNKNOWN, &t)))
            return rc;
        if (t != T_UNKNOWN && !ke_c_is_ref(t))
            return ke_c_mismatch(s);
        if ((rc = EMIT(s, KE_OP_REF_IS_NULL, ke_c_slot(s, h - 1), ke_c_slot(s, h - 1))))
            return rc;
        return ke_c_push(s, KUMO_I32);
    default: /* ref.func x */
        if (in->x >= m->nfuncs)
            return ke_c_fail(s, "unknown function %u", in->x);
        if (!m->func_declared || !m->func_declared[in->x])
            return ke_c_fail(s, "undeclared function reference");
        if ((rc = EMIT(s, KE_OP_REF_FUNC, ke_c_slot(s, h), in->x)))
            return rc;
        return ke_c_push(s, KUMO_FUNCREF);
    }
}

/* ---- the main loop ---- */

static int
op_control(comp *s, const instr *in, bool *done)
{
    switch (in->op) {
    case 0x00:
        if (ke_c_live(s)) {
            int rc = EMIT(s, KE_OP_UNREACHABLE);
            if (rc)
                return rc;
        }
        ke_c_set_unreachable(s);
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
        return ke_c_op_end(s, done);
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
    if (op <= 0x05 || (op >= 0x0b && op <= 0x11))
        return op_control(s, in, done);
    if ((op >= 0x06 && op <= 0x0a) || op == 0x18 || op == 0x19 || op == 0x1f)
        return ke_c_op_eh(s, in);
    if (op == 0x1a)
        return ke_c_pop(s, T_UNKNOWN, NULL);
    if (op == 0x1b || op == 0x1c)
        return op_select(s, in);
    if (op >= 0x20 && op <= 0x22)
        return op_local(s, in);
    if (op == 0x23 || op == 0x24)
        return op_global(s, in);
    if (op == 0x25 || op == 0x26)
        return ke_c_op_table(s, in);
    if (op >= 0x28 && op <= 0x3e)
        return ke_c_op_load_store(s, in);
    if (op == 0x3f || op == 0x40)
        return ke_c_op_memory(s, in);
    if (op >= 0x41 && op <= 0x44)
        return ke_c_op_const(s, in);
    if (op < 256 && ke_c_is_numeric(op))
        return ke_c_op_numeric(s, op);
    if (op >= 0xd0 && op <= 0xd2)
        return op_ref(s, in);
    if (op >= 0x100)
        return ke_c_op_fc(s, in);
    return kb_diag(s->diag, KUMO_EMALFORMED, s->at, "illegal opcode 0x%02x",
                   op);
}

static int
setup(comp *s, uint32_t fidx)
{
    const ke_funcbody *fb = &s->m->bodies[fidx - s->m->nimported_funcs];
    uint64_t n = (uint64_t)s->ft->nparams + fb->nlocals;
    if (n + s->max_try >= MAX_FRAME)
        return kb_diag(s->diag, KUMO_ELIMIT, fb->body.off, "too many locals");
    s->nltypes = (uint32_t)n;
    /* The hidden slots of legacy try blocks come after the locals. */
    s->base = s->nltypes + s->max_try;
    s->ltypes = kb_malloc(n ? n : 1);
    s->lrefs = kb_calloc(n ? n : 1, sizeof *s->lrefs);
    if (!s->ltypes || !s->lrefs)
        return ke_c_oom(s);
    s->last_pc = KE_NONE;
    s->copy_end = KE_NONE;
    s->prev_pc = s->prev2_pc = KE_NONE;
    s->plast_pc = s->ldop_pc = s->ldop_prev = KE_NONE;
    if (s->ft->nparams)
        memcpy(s->ltypes, s->ft->types, s->ft->nparams);
    if (fb->nlocals)
        memcpy(s->ltypes + s->ft->nparams, fb->locals, fb->nlocals);
    blocktype bt = {0, s->ft->nresults, NULL, s->ft->types + s->ft->nparams};
    return ke_c_push_ctrl(s, K_FUNC, &bt);
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
        return ke_c_oom(s);
    }
    s->code = NULL;
    c->words = w;
    c->nwords = s->ncode;
    c->nparams = s->ft->nparams;
    c->nresults = s->ft->nresults;
    c->nlocals = s->nltypes - s->ft->nparams;
    c->frame_size = (uint32_t)fs;
    c->handlers = s->handlers;
    c->nhandlers = s->nhandlers;
    s->handlers = NULL;
    if (c->nhandlers)
        s->m->has_handlers = true;
    if (ke_code_thread(c, w + c->nwords)) {
        ke_code_free(c);
        return ke_c_oom(s);
    }
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
    uint32_t max_try = 0;
    if ((rc = ke_scan_body(m, fidx, diag, &max_try)))
        return rc;
    memset(&s, 0, sizeof s);
    s.delegate = KE_NONE;
    s.m = m;
    s.diag = diag;
    s.ft = ke_func_type(m, fidx);
    s.max_try = max_try;
    ke_body_reader(m, fidx, diag, &s.r);
    s.at = kb_offset(&s.r);
    if ((rc = setup(&s, fidx)) || (rc = run(&s)) || (rc = finish(&s, &code)))
        goto out;
    ke_funcbody *fb = &m->bodies[fidx - m->nimported_funcs];
    ke_code_free(fb->code);
    fb->code = code;
out:
    kb_free(s.ltypes);
    kb_free(s.lrefs);
    kb_free(s.vi);
    kb_free(s.vals);
    kb_free(s.ctrls);
    kb_free(s.code);
    kb_free(s.tramp);
    kb_free(s.handlers);
    if (rc && diag)
        diag->func_index = fidx;
    return rc;
}
