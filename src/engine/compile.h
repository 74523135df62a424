/* compile.h - the function compiler's internal interface, shared by
 * compile.c (stacks, emission, control flow, variables, calls, the main
 * loop), compile_ops.c (memory, numeric, table instructions) and
 * compile_eh.c (exception handling). See compile.c for the scheme.
 * Prefix ke_c_. */
#ifndef KUMO_SRC_ENGINE_COMPILE_H
#define KUMO_SRC_ENGINE_COMPILE_H

#include "code.h"
#include "module.h"
#include "scan.h"

/* Frame size cap (cells): far beyond any real function, small enough that
 * slot arithmetic never overflows. */
#define MAX_FRAME (1u << 26)
#define MAX_CODE (1u << 30)

/* Control frame kinds: K_TRY is a legacy try's body, K_CATCH one of its
 * catch or catch_all clauses. */
enum { K_BLOCK, K_LOOP, K_IF, K_ELSE, K_FUNC, K_TRY, K_CATCH, K_TRY_TABLE };

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
    /* Exception handling (compile_eh.c): the protected body's code range
     * (try, try_table), the hidden slot of a legacy try's caught
     * exception, and a try_table's catch clauses (bytes of the module). */
    uint32_t try_start, try_end, exn_slot;
    uint32_t ncatch;
    const uint8_t *catches;
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
    /* The instruction recorded by ke_c_mark_last before the last one
     * (its start, end, opcode and height). */
    uint32_t plast_pc, plast_end, plast_h;
    uint16_t plast_op;
    /* The last superinstruction fuse_binary made (compile_ops.c) and,
     * when it is an F64_ADD_LD whose other operand an F64_MUL_LD (or
     * _AI) made right before it, that instruction's start (else
     * KE_NONE): a store may turn both into one F64_MADD_RMW. */
    uint32_t ldop_pc, ldop_prev;
    /* Exception handlers (compile_eh.c), the legacy `try` blocks open and
     * the most that can be (their hidden slots follow the locals). */
    ke_handler *handlers;
    uint32_t nhandlers, caphandlers;
    uint32_t ntry, max_try;
    uint32_t delegate; /* label of the `delegate` being compiled, or
                          KE_NONE */
} comp;

typedef ke_instr instr;

typedef struct blocktype {
    uint32_t nparams, nresults;
    const ke_valtype *params, *results;
} blocktype;

/* ---- compile.c ---- */
int ke_c_fail(comp *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ke_c_mismatch(comp *s);
int ke_c_oom(comp *s);
ctrl *ke_c_top_ctrl(comp *s);
/* Whether code is emitted here (reachable, not inside dead code). */
bool ke_c_live(comp *s);
/* The slot of operand height h. */
uint32_t ke_c_slot(const comp *s, uint32_t h);
int ke_c_push(comp *s, ke_valtype t);
int ke_c_pop(comp *s, ke_valtype expect, ke_valtype *out);
int ke_c_popv(comp *s, ke_valtype expect, ke_valtype *out, vinfo *v);
int ke_c_push_n(comp *s, uint32_t n, const ke_valtype *ts);
int ke_c_pop_n(comp *s, uint32_t n, const ke_valtype *ts);
void ke_c_set_unreachable(comp *s);
int ke_c_get_blocktype(comp *s, const instr *in, blocktype *bt);
int ke_c_push_ctrl(comp *s, uint8_t kind, const blocktype *bt);
uint32_t ke_c_label_arity(const ctrl *c);
const ke_valtype *ke_c_label_types(const ctrl *c);
uint32_t ke_c_label_slot(const comp *s, const ctrl *c);
int ke_c_emit_raw(comp *s, uint32_t n, const uint32_t *w);
int ke_c_emit(comp *s, uint32_t n, const uint32_t *w);
#define EMIT(s, ...)                                                           \
    ke_c_emit((s), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),      \
              (uint32_t[]){__VA_ARGS__})
#define EMIT_RAW(s, ...)                                                       \
    ke_c_emit_raw((s), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),  \
                  (uint32_t[]){__VA_ARGS__})
void ke_c_mark_last(comp *s, uint32_t pc, uint16_t op, uint32_t h);
bool ke_c_last_made(const comp *s, uint32_t h);
int ke_c_emit_const(comp *s, uint32_t dst, const vinfo *v);
int ke_c_flush_all(comp *s);
int ke_c_flush_top(comp *s, uint32_t n);
void ke_c_transparent(comp *s);
int ke_c_push_pending(comp *s, ke_valtype t, const vinfo *v);
int ke_c_src_slot(comp *s, const vinfo *v, uint32_t h, uint32_t *out);
void ke_c_add_patch(comp *s, ctrl *c, uint32_t pos);
void ke_c_resolve(comp *s, uint32_t head, uint32_t target);
int ke_c_emit_jump(comp *s, ctrl *c);
int ke_c_emit_branch(comp *s, ctrl *c, uint32_t top);
int ke_c_check_frame_end(comp *s, const ctrl *c);
int ke_c_get_label(comp *s, uint32_t depth, ctrl **out);
/* `end` of the innermost block (also closes a try-delegate). */
int ke_c_op_end(comp *s, bool *done);

/* ---- compile_ops.c ---- */
/* Numeric opcodes (op, or 0x100 | sub for 0xfc): whether op is one. */
bool ke_c_is_numeric(uint32_t op);
int ke_c_op_numeric(comp *s, uint32_t op);
int ke_c_op_const(comp *s, const instr *in);
int ke_c_op_load_store(comp *s, const instr *in);
int ke_c_op_memory(comp *s, const instr *in);
int ke_c_op_table(comp *s, const instr *in);
int ke_c_op_fc(comp *s, const instr *in);

/* ---- compile_eh.c ---- */
/* try, catch, catch_all, delegate, throw, rethrow, throw_ref, try_table
 * (the opcode bytes 06-0a, 18, 19, 1f). */
int ke_c_op_eh(comp *s, const instr *in);
/* `end` of a try (legacy), catch clause or try_table: close its
 * handlers; called by op_end before the frame is popped. */
int ke_c_end_eh(comp *s, ctrl *c);
/* Whether value type t is a reference type. */
bool ke_c_is_ref(ke_valtype t);

#endif
