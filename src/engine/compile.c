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
 * Decoding is done twice: ke_scan_func checks the body's syntax first so
 * that a malformed body is reported as such even if an earlier instruction
 * is invalid (the spec decodes the whole module before validating).
 */
#include <stdio.h>

#include "code.h"
#include "module.h"

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
} comp;

/* A decoded instruction. op is the opcode byte, or 0x100 | sub-opcode for
 * the 0xfc-prefixed ones. */
typedef struct instr {
    size_t at;
    uint32_t op;
    uint32_t x, y;     /* index immediates; memarg: x = align, y = offset */
    int64_t bt;        /* block type: >= 0 type index, else see t */
    uint64_t bits;     /* constants */
    uint32_t ntargets; /* br_table: labels before the default */
    const uint8_t *targets; /* br_table: the label vector */
    uint32_t nt;            /* select t*: number of types */
    ke_valtype t;           /* block/select/ref.null type, 0x40 = none */
} instr;

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

static const char *const op_formats[KE_OP_COUNT_] = {
#define KE_OP(name, fmt) [KE_OP_##name] = fmt,
#define KE_NUM(name, prefix, opcode, nargs, in, out)                           \
    [KE_OP_##name] = (nargs) == 1 ? "SS" : "SSS",
#define KE_MEM(name, opcode, align, type, is_store) [KE_OP_##name] = "SSI",
#include "ops.def"
};

static const char *const op_names[KE_OP_COUNT_] = {
#define KE_OP(name, fmt) [KE_OP_##name] = #name,
#define KE_NUM(name, prefix, opcode, nargs, in, out) [KE_OP_##name] = #name,
#define KE_MEM(name, opcode, align, type, is_store) [KE_OP_##name] = #name,
#include "ops.def"
};

const char *
ke_op_format(ke_op op)
{
    return (unsigned)op < KE_OP_COUNT_ ? op_formats[op] : NULL;
}

const char *
ke_op_name(ke_op op)
{
    return (unsigned)op < KE_OP_COUNT_ ? op_names[op] : "?";
}

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

/* ---- instruction decoding (shared by the scan and the compiler) ---- */

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
    in->t = T_UNKNOWN;
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

static int
read_instr(kb_reader *r, const kumo_module *m, instr *in)
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

static void
body_reader(const kumo_module *m, uint32_t fidx, kumo_diag *diag, kb_reader *r)
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

    body_reader(m, fidx, diag, &r);
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
        if ((rc = read_instr(&r, m, &in)))
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
    }
    if (expect != T_UNKNOWN && t != T_UNKNOWN && t != expect)
        return mismatch(s);
    if (out)
        *out = t;
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

static int
emit(comp *s, uint32_t n, const uint32_t *w)
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

#define EMIT(s, ...)                                                           \
    emit((s), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),            \
         (uint32_t[]){__VA_ARGS__})

static void
add_patch(comp *s, ctrl *c, uint32_t pos)
{
    s->code[pos] = c->patch;
    c->patch = pos;
}

static void
resolve(comp *s, uint32_t head, uint32_t target)
{
    while (head != KE_NONE) {
        uint32_t next = s->code[head];
        s->code[head] = target;
        head = next;
    }
}

static int
emit_copies(comp *s, uint32_t dst, uint32_t src, uint32_t n)
{
    if (dst == src)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        int rc = EMIT(s, KE_OP_COPY, dst + i, src + i);
        if (rc)
            return rc;
    }
    return 0;
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
needs_moves(const comp *s, const ctrl *c, uint32_t top)
{
    uint32_t n = label_arity(c);
    return c->kind == K_FUNC || (n > 0 && label_slot(s, c) != slot(s, top - n));
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
    int rc = emit_copies(s, label_slot(s, c), slot(s, top - n), n);
    if (rc)
        return rc;
    return emit_jump(s, c);
}

/* ---- control instructions ---- */

static int
op_block(comp *s, const instr *in)
{
    blocktype bt;
    int rc;
    if ((rc = get_blocktype(s, in, &bt)))
        return rc;
    if (in->op == 0x04) {
        if ((rc = pop(s, KUMO_I32, NULL)))
            return rc;
    }
    if ((rc = pop_n(s, bt.nparams, bt.params)))
        return rc;
    if (in->op == 0x04 && live(s)) {
        /* The condition sat just above the params. */
        uint32_t cond = slot(s, s->nvals + bt.nparams);
        if ((rc = EMIT(s, KE_OP_BR_UNLESS, cond, KE_NONE)))
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
            if ((rc = emit_copies(s, 0, slot(s, c->height), c->nresults)))
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
    int rc;
    if ((rc = get_label(s, in->x, &c)))
        return rc;
    if ((rc = pop(s, KUMO_I32, NULL)))
        return rc;
    if (live(s)) {
        uint32_t top = s->nvals, cond = slot(s, top);
        if (needs_moves(s, c, top)) {
            if ((rc = EMIT(s, KE_OP_BR_UNLESS, cond, KE_NONE)))
                return rc;
            uint32_t skip = s->ncode - 1;
            if ((rc = emit_branch(s, c, top)))
                return rc;
            s->code[skip] = s->ncode;
        } else if (c->kind == K_LOOP) {
            if ((rc = EMIT(s, KE_OP_BR_IF, cond, c->target)))
                return rc;
        } else {
            if ((rc = EMIT(s, KE_OP_BR_IF, cond, KE_NONE)))
                return rc;
            add_patch(s, c, s->ncode - 1);
        }
    }
    if ((rc = pop_n(s, label_arity(c), label_types(c))))
        return rc;
    return push_n(s, label_arity(c), label_types(c));
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
emit_br_table(comp *s, const instr *in, uint32_t top)
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
    if ((rc = EMIT(s, KE_OP_BR_TABLE, slot(s, top), n)))
        return rc;
    tpos = s->ncode;
    for (uint64_t i = 0; i <= n; i++)
        if ((rc = EMIT(s, KE_NONE)))
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
    int rc;
    if ((rc = pop(s, KUMO_I32, NULL)))
        return rc;
    uint32_t top = s->nvals;
    bool was_live = live(s);
    if ((rc = check_br_table(s, in)))
        return rc;
    if (!was_live)
        return 0;
    /* check_br_table made the frame unreachable; emit as if still live. */
    top_ctrl(s)->unreachable = false;
    rc = emit_br_table(s, in, top);
    top_ctrl(s)->unreachable = true;
    return rc;
}

static int
op_return(comp *s)
{
    ctrl *f = &s->ctrls[0];
    int rc;
    if (live(s) && (rc = emit_branch(s, f, s->nvals)))
        return rc;
    if ((rc = pop_n(s, f->nresults, f->results)))
        return rc;
    set_unreachable(s);
    return 0;
}

static int
do_call(comp *s, const ke_functype *ft, uint32_t op, uint32_t a, uint32_t b)
{
    int rc;
    if ((rc = pop_n(s, ft->nparams, ft->types)))
        return rc;
    uint32_t base = slot(s, s->nvals);
    if (op == KE_OP_CALL)
        rc = EMIT(s, KE_OP_CALL, a, base);
    else /* the index sat above the arguments */
        rc = EMIT(s, KE_OP_CALL_INDIRECT, a, b, base + ft->nparams, base);
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
        return do_call(s, ke_func_type(m, in->x), KE_OP_CALL, in->x, 0);
    }
    /* call_indirect type table */
    if (in->y >= m->ntables)
        return fail(s, "unknown table %u", in->y);
    if (in->x >= m->ntypes)
        return fail(s, "unknown type %u", in->x);
    if (m->tables[in->y].elem != KUMO_FUNCREF)
        return mismatch(s);
    if ((rc = pop(s, KUMO_I32, NULL)))
        return rc;
    return do_call(s, &m->types[in->x], KE_OP_CALL_INDIRECT, in->x, in->y);
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
    int rc;
    uint32_t h = s->nvals;
    if (in->op == 0x1c) {
        if (in->nt != 1)
            return fail(s, "invalid result arity");
        t = in->t;
    }
    if ((rc = pop(s, KUMO_I32, NULL)) || (rc = pop(s, t, &t1)) ||
        (rc = pop(s, t, &t2)))
        return rc;
    if (in->op == 0x1b) {
        if (!is_num(t1) || !is_num(t2))
            return mismatch(s);
        if (t1 != t2 && t1 != T_UNKNOWN && t2 != T_UNKNOWN)
            return mismatch(s);
        t = t1 == T_UNKNOWN ? t2 : t1;
    }
    if ((rc = EMIT(s, KE_OP_SELECT, slot(s, h - 3), slot(s, h - 3),
                   slot(s, h - 2), slot(s, h - 1))))
        return rc;
    return push(s, t);
}

static int
op_local(comp *s, const instr *in)
{
    int rc;
    if (in->x >= s->nltypes)
        return fail(s, "unknown local %u", in->x);
    ke_valtype t = s->ltypes[in->x];
    uint32_t h = s->nvals;
    switch (in->op) {
    case 0x20: /* local.get */
        if ((rc = EMIT(s, KE_OP_COPY, slot(s, h), in->x)))
            return rc;
        return push(s, t);
    case 0x21: /* local.set */
        if ((rc = pop(s, t, NULL)))
            return rc;
        return EMIT(s, KE_OP_COPY, in->x, slot(s, h - 1));
    default: /* local.tee */
        if ((rc = pop(s, t, NULL)))
            return rc;
        if ((rc = EMIT(s, KE_OP_COPY, in->x, slot(s, h - 1))))
            return rc;
        return push(s, t);
    }
}

static int
op_global(comp *s, const instr *in)
{
    const kumo_module *m = s->m;
    int rc;
    if (in->x >= m->nglobals)
        return fail(s, "unknown global %u", in->x);
    const ke_globaltype *g = &m->globals[in->x].type;
    uint32_t h = s->nvals;
    if (in->op == 0x23) {
        if ((rc = EMIT(s, KE_OP_GLOBAL_GET, slot(s, h), in->x)))
            return rc;
        return push(s, g->type);
    }
    if (!g->mutable_)
        return fail(s, "global is immutable");
    if ((rc = pop(s, g->type, NULL)))
        return rc;
    return EMIT(s, KE_OP_GLOBAL_SET, in->x, slot(s, h - 1));
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

static int
op_load_store(comp *s, const instr *in)
{
    const meminfo *mi = &mem_ops[in->op];
    uint32_t h = s->nvals;
    int rc;
    if ((rc = need_memory(s)))
        return rc;
    if (in->x > mi->align)
        return fail(s, "alignment must not be larger than natural");
    if (mi->is_store) {
        if ((rc = pop(s, mi->type, NULL)) || (rc = pop(s, KUMO_I32, NULL)))
            return rc;
        return EMIT(s, mi->op, slot(s, h - 2), slot(s, h - 1), in->y);
    }
    if ((rc = pop(s, KUMO_I32, NULL)))
        return rc;
    if ((rc = EMIT(s, mi->op, slot(s, h - 1), slot(s, h - 1), in->y)))
        return rc;
    return push(s, mi->type);
}

static int
op_numeric(comp *s, const numinfo *ni)
{
    uint32_t h = s->nvals;
    int rc;
    for (unsigned i = 0; i < ni->nargs; i++)
        if ((rc = pop(s, ni->in, NULL)))
            return rc;
    if (ni->nargs == 1)
        rc = EMIT(s, ni->op, slot(s, h - 1), slot(s, h - 1));
    else
        rc = EMIT(s, ni->op, slot(s, h - 2), slot(s, h - 2), slot(s, h - 1));
    if (rc)
        return rc;
    return push(s, ni->out);
}

static int
op_const(comp *s, const instr *in)
{
    static const ke_valtype types[4] = {KUMO_I32, KUMO_I64, KUMO_F32, KUMO_F64};
    uint32_t h = s->nvals;
    int rc;
    if (in->op == 0x41 || in->op == 0x43)
        rc = EMIT(s, KE_OP_CONST32, slot(s, h), (uint32_t)in->bits);
    else
        rc = EMIT(s, KE_OP_CONST64, slot(s, h), (uint32_t)in->bits,
                  (uint32_t)(in->bits >> 32));
    if (rc)
        return rc;
    return push(s, types[in->op - 0x41]);
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
    if ((rc = pop(s, KUMO_I32, NULL)))
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
    if (!s->ltypes)
        return oom(s);
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
        if ((rc = read_instr(&s->r, s->m, &in)))
            return rc;
        s->at = in.at;
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
    if (!c)
        return oom(s);
    c->words = s->code;
    c->nwords = s->ncode;
    s->code = NULL;
    c->nparams = s->ft->nparams;
    c->nresults = s->ft->nresults;
    c->nlocals = s->nltypes - s->ft->nparams;
    c->frame_size = (uint32_t)fs;
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
    body_reader(m, fidx, diag, &s.r);
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
    kb_free(s.vals);
    kb_free(s.ctrls);
    kb_free(s.code);
    kb_free(s.tramp);
    if (rc && diag)
        diag->func_index = fidx;
    return rc;
}

/* ---- debugging and structural checks of the internal code ---- */

/* Words of the instruction at c->words[pc] (0 when it does not fit). */
static uint32_t
instr_len(const ke_code *c, uint32_t pc)
{
    uint32_t op = c->words[pc];
    if (op >= KE_OP_COUNT_)
        return 0;
    uint64_t n = 1;
    for (const char *f = op_formats[op]; *f; f++)
        n += *f == 'L' ? 2 : 1;
    if (op == KE_OP_BR_TABLE) {
        if (pc + 3 > c->nwords)
            return 0;
        n += (uint64_t)c->words[pc + 2] + 1;
    }
    if (pc + n > c->nwords)
        return 0;
    return (uint32_t)n;
}

void
ke_code_dump(const ke_code *c, FILE *out)
{
    fprintf(out, "; params %u results %u locals %u frame %u words %u\n",
            c->nparams, c->nresults, c->nlocals, c->frame_size, c->nwords);
    for (uint32_t pc = 0; pc < c->nwords;) {
        uint32_t len = instr_len(c, pc);
        if (!len) {
            fprintf(out, "%6u  ?? %u\n", pc, c->words[pc]);
            return;
        }
        const uint32_t *w = c->words + pc + 1;
        fprintf(out, "%6u  %-20s", pc, op_names[c->words[pc]]);
        for (const char *f = op_formats[c->words[pc]]; *f; f++, w++) {
            if (*f == 'S')
                fprintf(out, " s%u", *w);
            else if (*f == 'T')
                fprintf(out, " @%u", *w);
            else if (*f == 'I')
                fprintf(out, " %u", *w);
            else {
                fprintf(out, " 0x%llx",
                        (unsigned long long)w[0] | (unsigned long long)w[1]
                                                       << 32);
                w++;
            }
        }
        if (c->words[pc] == KE_OP_BR_TABLE)
            for (uint32_t i = 0; i <= c->words[pc + 2]; i++)
                fprintf(out, " @%u", *w++);
        fputc('\n', out);
        pc += len;
    }
}

static bool
check_operands(const ke_code *c, uint32_t pc, const uint8_t *starts)
{
    const uint32_t *w = c->words + pc + 1;
    uint32_t op = c->words[pc];
    for (const char *f = op_formats[op]; *f; f++, w++) {
        if (*f == 'S' && *w >= c->frame_size)
            return false;
        if (*f == 'T' && (*w >= c->nwords || !starts[*w]))
            return false;
        if (*f == 'L')
            w++;
    }
    if (op == KE_OP_BR_TABLE) {
        for (uint32_t i = 0; i <= c->words[pc + 2]; i++, w++)
            if (*w >= c->nwords || !starts[*w])
                return false;
    }
    return true;
}

int
ke_code_check(const ke_code *c)
{
    uint8_t *starts = NULL;
    uint32_t pc, last = 0;
    int rc = KUMO_EINVAL;

    if (!c || !c->nwords || !c->words ||
        c->frame_size < c->nparams + c->nlocals + 1 ||
        c->frame_size < c->nresults)
        return KUMO_EINVAL;
    starts = kb_calloc(c->nwords, 1);
    if (!starts)
        return KUMO_ENOMEM;
    for (pc = 0; pc < c->nwords;) {
        uint32_t len = instr_len(c, pc);
        if (!len)
            goto out;
        starts[pc] = 1;
        last = pc;
        pc += len;
    }
    for (pc = 0; pc < c->nwords; pc += instr_len(c, pc))
        if (!check_operands(c, pc, starts))
            goto out;
    switch (c->words[last]) {
    case KE_OP_UNREACHABLE:
    case KE_OP_BR:
    case KE_OP_BR_TABLE:
    case KE_OP_RETURN:
        rc = 0;
        break;
    default:
        break;
    }
out:
    kb_free(starts);
    return rc;
}
