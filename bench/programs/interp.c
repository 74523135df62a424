/* interp.c - a switch-dispatched stack-machine interpreter running three
 * guest programs assembled at start: a prime sieve, Collatz lengths and
 * recursive fib (calls, frames), plus a string-hash loop over heap data. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum op {
    OP_HALT, OP_PUSH, OP_POP, OP_DUP, OP_SWAP, OP_OVER,
    OP_LOAD, OP_STORE, OP_INC, OP_GLOAD, OP_GSTORE, OP_BLOAD,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_NEG,
    OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR, OP_NOT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_JMP, OP_JZ, OP_JNZ, OP_CALL, OP_RET, OP_EMIT,
    OP_ADDI, OP_MULI, OP_LTJ, OP_COUNT
};

#define STACK_MAX 4096
#define FRAMES_MAX 1024
#define GLOBALS 65536
#define NLOCALS 8

typedef struct vm {
    int32_t *code;
    int32_t stack[STACK_MAX];
    int32_t locals[FRAMES_MAX * NLOCALS];
    int32_t ret[FRAMES_MAX];
    int32_t *globals;
    const uint8_t *bytes;
    uint32_t nbytes;
    uint32_t out;
} vm;

/* Returns 0 on success, -1 on a guest fault. */
static int
run(vm *m, int32_t pc)
{
    int32_t *code = m->code, *sp = m->stack, *fp = m->locals;
    int32_t depth = 0;
    for (;;) {
        int32_t op = code[pc++];
        int32_t a, b;
        switch (op) {
        case OP_HALT:
            return 0;
        case OP_PUSH:
            *sp++ = code[pc++];
            break;
        case OP_POP:
            sp--;
            break;
        case OP_DUP:
            sp[0] = sp[-1];
            sp++;
            break;
        case OP_SWAP:
            a = sp[-1];
            sp[-1] = sp[-2];
            sp[-2] = a;
            break;
        case OP_OVER:
            sp[0] = sp[-2];
            sp++;
            break;
        case OP_LOAD:
            *sp++ = fp[code[pc++]];
            break;
        case OP_STORE:
            fp[code[pc++]] = *--sp;
            break;
        case OP_INC:
            fp[code[pc]] += code[pc + 1];
            pc += 2;
            break;
        case OP_GLOAD:
            a = sp[-1];
            if ((uint32_t)a >= GLOBALS)
                return -1;
            sp[-1] = m->globals[a];
            break;
        case OP_GSTORE:
            a = sp[-1]; /* index */
            if ((uint32_t)a >= GLOBALS)
                return -1;
            m->globals[a] = sp[-2];
            sp -= 2;
            break;
        case OP_BLOAD:
            a = sp[-1];
            sp[-1] = (uint32_t)a < m->nbytes ? m->bytes[a] : -1;
            break;
#define BIN(OPC, EXPR)                                                      \
        case OPC:                                                           \
            b = *--sp;                                                      \
            a = sp[-1];                                                     \
            sp[-1] = (EXPR);                                                \
            break;
        BIN(OP_ADD, (int32_t)((uint32_t)a + (uint32_t)b))
        BIN(OP_SUB, (int32_t)((uint32_t)a - (uint32_t)b))
        BIN(OP_MUL, (int32_t)((uint32_t)a * (uint32_t)b))
        BIN(OP_AND, a & b)
        BIN(OP_OR, a | b)
        BIN(OP_XOR, a ^ b)
        BIN(OP_SHL, (int32_t)((uint32_t)a << (b & 31)))
        BIN(OP_SHR, (int32_t)((uint32_t)a >> (b & 31)))
        BIN(OP_EQ, a == b)
        BIN(OP_NE, a != b)
        BIN(OP_LT, a < b)
        BIN(OP_LE, a <= b)
        BIN(OP_GT, a > b)
        BIN(OP_GE, a >= b)
#undef BIN
        case OP_DIV:
        case OP_MOD:
            b = *--sp;
            a = sp[-1];
            if (b == 0 || (a == INT32_MIN && b == -1))
                return -1;
            sp[-1] = op == OP_DIV ? a / b : a % b;
            break;
        case OP_NEG:
            sp[-1] = (int32_t)(0u - (uint32_t)sp[-1]);
            break;
        case OP_NOT:
            sp[-1] = !sp[-1];
            break;
        case OP_JMP:
            pc = code[pc];
            break;
        case OP_JZ:
            pc = *--sp == 0 ? code[pc] : pc + 1;
            break;
        case OP_JNZ:
            pc = *--sp != 0 ? code[pc] : pc + 1;
            break;
        case OP_LTJ: /* if local[x] < imm goto target */
            pc = fp[code[pc]] < code[pc + 1] ? code[pc + 2] : pc + 3;
            break;
        case OP_CALL: /* target, nargs: args move into the new frame */
            if (depth + 1 >= FRAMES_MAX)
                return -1;
            a = code[pc + 1];
            m->ret[depth++] = pc + 2;
            fp += NLOCALS;
            for (b = a - 1; b >= 0; b--)
                fp[b] = *--sp;
            pc = code[pc];
            break;
        case OP_RET:
            if (depth == 0)
                return 0;
            pc = m->ret[--depth];
            fp -= NLOCALS;
            break;
        case OP_EMIT:
            m->out = bench_mix(m->out, (uint32_t)*--sp);
            break;
        case OP_ADDI:
            sp[-1] = (int32_t)((uint32_t)sp[-1] + (uint32_t)code[pc++]);
            break;
        case OP_MULI:
            sp[-1] = (int32_t)((uint32_t)sp[-1] * (uint32_t)code[pc++]);
            break;
        default:
            return -1;
        }
        if (sp < m->stack || sp >= m->stack + STACK_MAX - 2)
            return -1;
    }
}

/* ---- a tiny assembler ---- */

typedef struct asm_ {
    int32_t *code;
    int32_t len, cap;
    int32_t labels[64];
    int32_t fix_at[256], fix_label[256];
    int32_t nfix;
} asm_;

static void
emit(asm_ *a, int32_t v)
{
    if (a->len == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->code = realloc(a->code, (size_t)a->cap * sizeof *a->code);
    }
    a->code[a->len++] = v;
}

static void
e1(asm_ *a, int32_t op)
{
    emit(a, op);
}

static void
e2(asm_ *a, int32_t op, int32_t x)
{
    emit(a, op);
    emit(a, x);
}

static void
label(asm_ *a, int l)
{
    a->labels[l] = a->len;
}

/* Emit a reference to label l, patched later. */
static void
ref(asm_ *a, int l)
{
    a->fix_at[a->nfix] = a->len;
    a->fix_label[a->nfix++] = l;
    emit(a, 0);
}

static void
jump(asm_ *a, int32_t op, int l)
{
    emit(a, op);
    ref(a, l);
}

static void
link_labels(asm_ *a)
{
    for (int i = 0; i < a->nfix; i++)
        a->code[a->fix_at[i]] = a->labels[a->fix_label[i]];
}

enum { L_SIEVE, L_S1, L_S2, L_S3, L_S4, L_S5, L_S6,
       L_COLL, L_C1, L_C2, L_C3, L_C4, L_C5,
       L_FIB, L_F1, L_FIBMAIN,
       L_HASH, L_H1, L_H2, L_END };

/* sieve(n=local0): mark composites in globals[0..n), emit count. */
static void
asm_sieve(asm_ *a)
{
    label(a, L_SIEVE);
    e2(a, OP_PUSH, 0); e2(a, OP_STORE, 1);              /* i = 0 */
    label(a, L_S1);                                     /* clear */
    e2(a, OP_PUSH, 0); e2(a, OP_LOAD, 1); e1(a, OP_GSTORE);
    e2(a, OP_INC, 1); emit(a, 1);
    e2(a, OP_LOAD, 1); e2(a, OP_LOAD, 0); e1(a, OP_LT); jump(a, OP_JNZ, L_S1);
    e2(a, OP_PUSH, 2); e2(a, OP_STORE, 1);              /* i = 2 */
    e2(a, OP_PUSH, 0); e2(a, OP_STORE, 3);              /* count = 0 */
    label(a, L_S2);
    e2(a, OP_LOAD, 1); e1(a, OP_GLOAD); jump(a, OP_JNZ, L_S4);
    e2(a, OP_INC, 3); emit(a, 1);                       /* prime */
    e2(a, OP_LOAD, 1); e2(a, OP_PUSH, 46341); e1(a, OP_GE); jump(a, OP_JNZ, L_S4);
    e2(a, OP_LOAD, 1); e2(a, OP_LOAD, 1); e1(a, OP_MUL); e2(a, OP_STORE, 2);
    label(a, L_S3);                                     /* j = i*i */
    e2(a, OP_LOAD, 2); e2(a, OP_LOAD, 0); e1(a, OP_LT); jump(a, OP_JZ, L_S4);
    e2(a, OP_PUSH, 1); e2(a, OP_LOAD, 2); e1(a, OP_GSTORE);
    e2(a, OP_LOAD, 2); e2(a, OP_LOAD, 1); e1(a, OP_ADD); e2(a, OP_STORE, 2);
    jump(a, OP_JMP, L_S3);
    label(a, L_S4);
    e2(a, OP_INC, 1); emit(a, 1);
    e2(a, OP_LOAD, 1); e2(a, OP_LOAD, 0); e1(a, OP_LT); jump(a, OP_JNZ, L_S2);
    e2(a, OP_LOAD, 3); e1(a, OP_EMIT);
    e1(a, OP_RET);
}

/* collatz(limit=local0): sum of sequence lengths for 1..limit. */
static void
asm_collatz(asm_ *a)
{
    label(a, L_COLL);
    e2(a, OP_PUSH, 1); e2(a, OP_STORE, 1);              /* i = 1 */
    e2(a, OP_PUSH, 0); e2(a, OP_STORE, 4);              /* total */
    label(a, L_C1);
    e2(a, OP_LOAD, 1); e2(a, OP_STORE, 2);              /* x = i */
    e2(a, OP_PUSH, 0); e2(a, OP_STORE, 3);              /* len */
    label(a, L_C2);
    e2(a, OP_LOAD, 2); e2(a, OP_PUSH, 1); e1(a, OP_LE); jump(a, OP_JNZ, L_C5);
    e2(a, OP_LOAD, 2); e2(a, OP_PUSH, 1); e1(a, OP_AND); jump(a, OP_JZ, L_C3);
    e2(a, OP_LOAD, 2); e2(a, OP_MULI, 3); e2(a, OP_ADDI, 1); e2(a, OP_STORE, 2);
    jump(a, OP_JMP, L_C4);
    label(a, L_C3);
    e2(a, OP_LOAD, 2); e2(a, OP_PUSH, 1); e1(a, OP_SHR); e2(a, OP_STORE, 2);
    label(a, L_C4);
    e2(a, OP_INC, 3); emit(a, 1);
    jump(a, OP_JMP, L_C2);
    label(a, L_C5);
    e2(a, OP_LOAD, 4); e2(a, OP_LOAD, 3); e1(a, OP_ADD); e2(a, OP_STORE, 4);
    e2(a, OP_INC, 1); emit(a, 1);
    e2(a, OP_LOAD, 1); e2(a, OP_LOAD, 0); e1(a, OP_LE); jump(a, OP_JNZ, L_C1);
    e2(a, OP_LOAD, 4); e1(a, OP_EMIT);
    e1(a, OP_RET);
}

/* fib(n=local0) -> stack; fibmain(n) emits fib(n). */
static void
asm_fib(asm_ *a)
{
    label(a, L_FIB);
    e2(a, OP_LOAD, 0); e2(a, OP_PUSH, 2); e1(a, OP_LT); jump(a, OP_JZ, L_F1);
    e2(a, OP_LOAD, 0); e1(a, OP_RET);
    label(a, L_F1);
    e2(a, OP_LOAD, 0); e2(a, OP_ADDI, -1); jump(a, OP_CALL, L_FIB); emit(a, 1);
    e2(a, OP_LOAD, 0); e2(a, OP_ADDI, -2); jump(a, OP_CALL, L_FIB); emit(a, 1);
    e1(a, OP_ADD); e1(a, OP_RET);
    label(a, L_FIBMAIN);
    e2(a, OP_LOAD, 0); jump(a, OP_CALL, L_FIB); emit(a, 1);
    e1(a, OP_EMIT); e1(a, OP_RET);
}

/* hash(n=local0): FNV-1a over the byte buffer, n passes. */
static void
asm_hash(asm_ *a)
{
    label(a, L_HASH);
    e2(a, OP_PUSH, (int32_t)0x811c9dc5u); e2(a, OP_STORE, 3);
    label(a, L_H1);
    e2(a, OP_PUSH, 0); e2(a, OP_STORE, 1);
    label(a, L_H2);
    e2(a, OP_LOAD, 3); e2(a, OP_LOAD, 1); e1(a, OP_BLOAD); e1(a, OP_XOR);
    e2(a, OP_MULI, 16777619); e2(a, OP_STORE, 3);
    e2(a, OP_INC, 1); emit(a, 1);
    emit(a, OP_LTJ); emit(a, 1); emit(a, 4096); ref(a, L_H2);
    e2(a, OP_INC, 0); emit(a, -1);
    e2(a, OP_LOAD, 0); e2(a, OP_PUSH, 0); e1(a, OP_GT); jump(a, OP_JNZ, L_H1);
    e2(a, OP_LOAD, 3); e1(a, OP_EMIT);
    e1(a, OP_RET);
}

/* Call entry with one argument from a top-level stub. */
static int
call1(vm *m, asm_ *a, int entry, int32_t arg)
{
    int32_t at = a->len;
    e2(a, OP_PUSH, arg);
    jump(a, OP_CALL, entry);
    emit(a, 1);
    e1(a, OP_HALT);
    link_labels(a);
    m->code = a->code;
    int rc = run(m, at);
    a->len = at;
    a->nfix--;
    return rc;
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    vm *m = calloc(1, sizeof *m);
    uint8_t *bytes = malloc(4096);
    asm_ a;
    memset(&a, 0, sizeof a);
    uint32_t h = 0;
    if (!m || !bytes)
        goto out;
    m->globals = calloc(GLOBALS, sizeof *m->globals);
    if (!m->globals)
        goto out;
    uint32_t rng = 0x1234abcd;
    for (int i = 0; i < 4096; i++)
        bytes[i] = (uint8_t)bench_rand(&rng);
    m->bytes = bytes;
    m->nbytes = 4096;

    asm_sieve(&a);
    asm_collatz(&a);
    asm_fib(&a);
    asm_hash(&a);
    link_labels(&a);

    uint32_t reps = bench_reps(20, scale);
    for (uint32_t r = 0; r < reps; r++) {
        int rc = 0;
        rc |= call1(m, &a, L_SIEVE, 8000 + (int32_t)r);
        rc |= call1(m, &a, L_COLL, 4000 + (int32_t)r);
        rc |= call1(m, &a, L_FIBMAIN, 18 + (int32_t)(r & 1));
        rc |= call1(m, &a, L_HASH, 8);
        h = bench_mix(h, m->out);
        h = bench_mix(h, (uint32_t)rc);
    }
    free(m->globals);
out:
    free(a.code);
    free(bytes);
    free(m);
    return h;
}
