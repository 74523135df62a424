/* code.h - the internal code that compile.c emits and interp.c runs.
 *
 * A function's frame is a window of 64-bit cells on the store's value
 * stack, addressed by slot index from fp:
 *   fp[0 .. nparams)                      parameters (placed by the caller)
 *   fp[nparams .. nparams + nlocals)      declared locals (zeroed on entry)
 *   fp[nparams + nlocals .. frame_size)   operand stack; the wasm operand
 *                                         stack at height h is slot
 *                                         nparams + nlocals + h
 * Results are returned in fp[0 .. nresults). A call places the callee's
 * frame at the caller's argument slots, so arguments are never copied.
 * Control flow is resolved at compile time: block results are moved with
 * COPY before a branch, so the interpreter has no label stack.
 */
#ifndef KUMO_SRC_ENGINE_CODE_H
#define KUMO_SRC_ENGINE_CODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ke_op {
#define KE_OP(name, fmt) KE_OP_##name,
#define KE_NUM(name, prefix, opcode, nargs, in, out) KE_OP_##name,
#define KE_MEM(name, opcode, align, type, is_store) KE_OP_##name,
#define KE_NUMI(name, base) KE_OP_##name,
#define KE_BRC(name, cmp) KE_OP_##name,
#define KE_BRCI(name, cmp) KE_OP_##name,
#define KE_MEMF(base) KE_OP_##base##_A, KE_OP_##base##_AI, KE_OP_##base##_AS,
#define KE_LDOP(name, load, op) KE_OP_##name, KE_OP_##name##_AI,
#define KE_SHOP(name, op, sh) KE_OP_##name,
#define KE_RMW(name, ldop, store) KE_OP_##name,
#define KE_ADDBR(name, brc) KE_OP_##name,
#define KE_ADDBRI(name, brci) KE_OP_##name,
#define KE_BINBIN(name, prod, op) KE_OP_##name,
#define KE_OPM(name, fmt) KE_OP_##name,
#define KE_PAIR(name, a, b, fmt) KE_OP_##name,
#define KE_PAIRM(name, a, b, fmt) KE_OP_##name,
#include "ops.def"
    KE_OP_COUNT_
} ke_op;

/* An exception handler of a function (exception handling): while an
 * exception unwinds through an instruction in words [start, end) of the
 * code, the handlers covering it are tried in array order (inner first).
 * KE_H_CATCH catches exceptions of tag `tag` of the instance (any when
 * KE_NONE): their values go to fp[dst ..] (unless dst is KE_NONE), the
 * exception itself (an exnref) to fp[exn] (unless KE_NONE), and execution
 * continues at word `target`. KE_H_DELEGATE (legacy try-delegate) skips
 * every later handler whose level (the try's block depth) is above
 * `delegate`: the exception goes on as if thrown in the block at that
 * depth (0: to the caller). */
enum { KE_H_CATCH, KE_H_DELEGATE };

typedef struct ke_handler {
    uint32_t start, end;
    uint32_t target;
    uint32_t tag;
    uint32_t dst, exn;
    uint32_t level, delegate;
    uint8_t kind;
} ke_handler;

typedef struct ke_code {
    uint32_t *words; /* owned; the code as opcode words (ops.def) */
    uint32_t nwords;
    /* What the interpreter runs: words with each opcode word replaced by
     * its handler's offset (direct threading, see ke_code_thread); not
     * separately owned (compile.c keeps it in the words allocation). */
    /* run[1]: the same for instances whose memory 0 is guarded
     * (runtime.h): loads and stores go to handlers without bounds checks. */
    const uint32_t *run[2];
    uint32_t nparams, nresults;
    uint32_t nlocals;    /* declared locals, excluding params */
    uint32_t frame_size; /* cells the frame needs, params to deepest
                            operand (including a callee's argument area) */
    ke_handler *handlers; /* owned; NULL when none */
    uint32_t nhandlers;
} ke_code;

/* Free c and everything it owns (NULL is fine). */
void ke_code_free(ke_code *c);

/* Operand format string of op (from ops.def), e.g. "SSS". */
const char *ke_op_format(ke_op op);
/* Name of op, e.g. "I32_ADD". */
const char *ke_op_name(ke_op op);

/* Fill dst (2 * c->nwords words) with the two threaded forms of c->words
 * and set c->run[0] = dst, c->run[1] = dst + c->nwords (compile.c;
 * c must pass ke_code_check). 0 or KUMO_ENOMEM. */
int ke_code_thread(ke_code *c, uint32_t *dst);
/* The handler offsets by opcode, for ke_code_thread (interp.c): with
 * bounds-checked loads and stores (unchecked false) or without. */
const int32_t *ke_interp_handlers(bool unchecked);

/* Part of ke_code_thread (pairs.c): in the threaded copies run0 and run1
 * of c->words, run adjacent instruction pairs as the pair
 * superinstructions of ops.def (KE_PAIR). c->words keeps the separate
 * instructions; in the copies only the first opcode word and the second
 * instruction's branch targets (then counted from the pair's start)
 * change. No pair spans a branch target or an exception handler's
 * boundary. 0 or KUMO_ENOMEM. */
int ke_code_pair(const ke_code *c, uint32_t *run0, uint32_t *run1);
/* Words of the instruction at c->words[pc], 0 when it does not fit. */
uint32_t ke_code_instr_len(const ke_code *c, uint32_t pc);

/* Debug listing of c, one instruction per line (compile.c). */
void ke_code_dump(const ke_code *c, FILE *out);
/* Structural check of c: known opcodes, operands inside the code, slots
 * below frame_size, branch targets on instruction boundaries, no falling
 * off the end. 0 or KUMO_EINVAL (compile.c; for tests and fuzzing). */
int ke_code_check(const ke_code *c);

#endif
