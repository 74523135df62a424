/* compile_eh.c - compiling exception handling (compile.h): throw,
 * throw_ref, try_table with its catch clauses, and the legacy try /
 * catch / catch_all / delegate / rethrow.
 *
 * Nothing is emitted on entry to a protected block: the code it covers is
 * recorded as a word range in a handler (code.h ke_handler) when the
 * block's catch clauses are known, innermost blocks first, so the
 * interpreter finds the right handler by scanning the table in order.
 *
 * try_table: a catch clause branches to a label of the enclosing blocks.
 * The interpreter writes the exception's values (and the exnref for the
 * _ref forms) straight into that label's slots and jumps to a landing
 * pad emitted after the body (skipped by a BR on the normal path), which
 * is the ordinary jump to the label.
 *
 * Legacy try: each catch clause is a block of its own whose start is the
 * handler's target; the values land at the block's base height, and the
 * exception itself in the try's hidden slot (after the locals, one per
 * nesting level of `try`) where `rethrow` finds it. `delegate l` is a
 * handler that makes the search skip the handlers nested inside label l.
 */
#include "compile.h"

bool
ke_c_is_ref(ke_valtype t)
{
    return t == KUMO_FUNCREF || t == KUMO_EXTERNREF || t == KUMO_EXNREF;
}

static int
need_tag(comp *s, uint32_t x, const ke_functype **ft)
{
    if (x >= s->m->ntags)
        return ke_c_fail(s, "unknown tag %u", x);
    *ft = &s->m->types[s->m->tag_types[x]];
    return 0;
}

static int
add_handler(comp *s, const ke_handler *h)
{
    if (s->nhandlers == s->caphandlers &&
        kb_reserve((void **)&s->handlers, &s->caphandlers, s->nhandlers + 1,
                   sizeof *s->handlers))
        return ke_c_oom(s);
    s->handlers[s->nhandlers++] = *h;
    return 0;
}

/* ---- throw, throw_ref, rethrow ---- */

static int
op_throw(comp *s, const instr *in)
{
    const ke_functype *ft = NULL;
    int rc;
    if ((rc = need_tag(s, in->x, &ft)))
        return rc;
    /* The values are read from their own slots. */
    if (ke_c_live(s) && (rc = ke_c_flush_top(s, ft->nparams)))
        return rc;
    if ((rc = ke_c_pop_n(s, ft->nparams, ft->types)))
        return rc;
    if ((rc = EMIT(s, KE_OP_THROW, in->x, ke_c_slot(s, s->nvals))))
        return rc;
    ke_c_set_unreachable(s);
    return 0;
}

static int
op_throw_ref(comp *s)
{
    uint32_t src = 0;
    vinfo v;
    int rc;
    if ((rc = ke_c_popv(s, KUMO_EXNREF, NULL, &v)) ||
        (rc = ke_c_src_slot(s, &v, s->nvals, &src)) ||
        (rc = EMIT(s, KE_OP_THROW_REF, src)))
        return rc;
    ke_c_set_unreachable(s);
    return 0;
}

static int
op_rethrow(comp *s, const instr *in)
{
    ctrl *c = NULL;
    int rc;
    if ((rc = ke_c_get_label(s, in->x, &c)))
        return rc;
    if (c->kind != K_CATCH)
        return ke_c_fail(s, "invalid rethrow label");
    if ((rc = EMIT(s, KE_OP_THROW_REF, c->exn_slot)))
        return rc;
    ke_c_set_unreachable(s);
    return 0;
}

/* ---- blocks ---- */

/* Open a try or try_table block (as op_block in compile.c). */
static int
open_block(comp *s, const instr *in, uint8_t kind)
{
    blocktype bt;
    int rc;
    if ((rc = ke_c_get_blocktype(s, in, &bt)))
        return rc;
    if (ke_c_live(s) && (rc = ke_c_flush_all(s)))
        return rc;
    if ((rc = ke_c_pop_n(s, bt.nparams, bt.params)) ||
        (rc = ke_c_push_ctrl(s, kind, &bt)))
        return rc;
    ctrl *c = ke_c_top_ctrl(s);
    c->try_start = s->ncode;
    if (kind == K_TRY)
        c->exn_slot = s->nltypes + s->ntry++;
    return 0;
}

/* Check one try_table clause against its label (in the context outside
 * the try_table, i.e. before its frame is pushed). */
static int
check_catch(comp *s, const ke_catch *k)
{
    const ke_functype *ft = NULL;
    ctrl *c = NULL;
    int rc;
    if (k->kind < 2 && (rc = need_tag(s, k->tag, &ft)))
        return rc;
    if ((rc = ke_c_get_label(s, k->label, &c)))
        return rc;
    uint32_t n = ft ? ft->nparams : 0, want = n + (k->kind & 1);
    const ke_valtype *lt = ke_c_label_types(c);
    if (ke_c_label_arity(c) != want)
        return ke_c_mismatch(s);
    if (n && memcmp(lt, ft->types, n))
        return ke_c_mismatch(s);
    if ((k->kind & 1) && lt[n] != KUMO_EXNREF)
        return ke_c_mismatch(s);
    return 0;
}

static int
op_try_table(comp *s, const instr *in)
{
    kb_reader r = s->r;
    ke_catch k;
    int rc;
    r.p = in->catches;
    for (uint32_t i = 0; i < in->ncatch; i++) {
        ke_read_catch(&r, &k);
        if ((rc = check_catch(s, &k)))
            return rc;
    }
    if ((rc = open_block(s, in, K_TRY_TABLE)))
        return rc;
    ke_c_top_ctrl(s)->catches = in->catches;
    ke_c_top_ctrl(s)->ncatch = in->ncatch;
    return 0;
}

/* The end of a try_table's body (its frame still on top, not dead):
 * a jump over the landing pads, then one pad and handler per clause. */
static int
end_try_table(comp *s, ctrl *c)
{
    uint32_t level = s->nctrl - 1;
    bool was_unreachable = c->unreachable;
    kb_reader r = s->r;
    ke_catch k;
    int rc = 0;
    c->try_end = s->ncode;
    c->unreachable = false; /* emit even after a branch or throw */
    if (!was_unreachable && (rc = EMIT(s, KE_OP_BR, KE_NONE)) == 0)
        ke_c_add_patch(s, c, s->ncode - 1);
    r.p = c->catches;
    for (uint32_t i = 0; i < c->ncatch && !rc; i++) {
        ke_read_catch(&r, &k);
        /* Labels count from outside the try_table. */
        ctrl *t = &s->ctrls[level - 1 - k.label];
        uint32_t n = ke_c_label_arity(t) - (k.kind & 1), dst = ke_c_label_slot(s, t);
        ke_handler h = {
            .start = c->try_start,
            .end = c->try_end,
            .target = s->ncode,
            .tag = k.tag,
            .dst = k.kind < 2 ? dst : KE_NONE,
            .exn = k.kind & 1 ? dst + n : KE_NONE,
            .level = level,
            .kind = KE_H_CATCH,
        };
        s->label_at = s->ncode;
        if ((rc = add_handler(s, &h)) == 0)
            rc = ke_c_emit_jump(s, t);
    }
    c->unreachable = was_unreachable;
    return rc;
}

/* catch x / catch_all of a legacy try: close the body or the previous
 * clause (as `else` does) and open the clause. */
static int
op_catch(comp *s, const instr *in)
{
    ctrl *c = ke_c_top_ctrl(s);
    const ke_functype *ft = NULL;
    int rc;
    if (c->kind != K_TRY && c->kind != K_CATCH)
        return kb_diag(s->diag, KUMO_EMALFORMED, s->at, "END opcode expected");
    if (in->op == 0x07 && (rc = need_tag(s, in->x, &ft)))
        return rc;
    if (ke_c_live(s) && (rc = ke_c_flush_top(s, c->nresults)))
        return rc;
    if ((rc = ke_c_check_frame_end(s, c)))
        return rc;
    if (c->kind == K_TRY)
        c->try_end = s->ncode;
    if (ke_c_live(s) && (rc = ke_c_emit_jump(s, c)))
        return rc;
    c->kind = K_CATCH;
    c->unreachable = false;
    if (!c->dead) {
        ke_handler h = {
            .start = c->try_start,
            .end = c->try_end,
            .target = s->ncode,
            .tag = ft ? in->x : KE_NONE,
            .dst = ft ? ke_c_slot(s, c->height) : KE_NONE,
            .exn = c->exn_slot,
            .level = s->nctrl - 1,
            .kind = KE_H_CATCH,
        };
        s->label_at = s->ncode;
        if ((rc = add_handler(s, &h)))
            return rc;
    }
    return ft ? ke_c_push_n(s, ft->nparams, ft->types) : 0;
}

/* delegate l: end the try, its body's exceptions going on from label l
 * (counted outside the try). */
static int
op_delegate(comp *s, const instr *in)
{
    ctrl *c = ke_c_top_ctrl(s);
    bool done = false;
    if (c->kind != K_TRY)
        return kb_diag(s->diag, KUMO_EMALFORMED, s->at, "END opcode expected");
    if (in->x >= s->nctrl - 1)
        return ke_c_fail(s, "unknown label");
    s->delegate = in->x;
    int rc = ke_c_op_end(s, &done);
    s->delegate = KE_NONE;
    return rc;
}

int
ke_c_end_eh(comp *s, ctrl *c)
{
    uint32_t level = s->nctrl - 1;
    int rc = 0;
    if (c->kind == K_TRY || c->kind == K_CATCH)
        s->ntry--;
    if (c->dead)
        return 0;
    if (c->kind == K_TRY_TABLE)
        return end_try_table(s, c);
    if (c->kind == K_TRY && s->delegate != KE_NONE) {
        ke_handler h = {
            .start = c->try_start,
            .end = s->ncode,
            .target = KE_NONE,
            .tag = KE_NONE,
            .dst = KE_NONE,
            .exn = KE_NONE,
            .level = level,
            .delegate = level - 1 - s->delegate,
            .kind = KE_H_DELEGATE,
        };
        rc = add_handler(s, &h);
    }
    return rc;
}

int
ke_c_op_eh(comp *s, const instr *in)
{
    switch (in->op) {
    case 0x06:
        return open_block(s, in, K_TRY);
    case 0x07:
    case 0x19:
        return op_catch(s, in);
    case 0x08:
        return op_throw(s, in);
    case 0x09:
        return op_rethrow(s, in);
    case 0x0a:
        return op_throw_ref(s);
    case 0x18:
        return op_delegate(s, in);
    default:
        return op_try_table(s, in);
    }
}
