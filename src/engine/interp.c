/* interp.c - the interpreter: runs the internal code of code.h/ops.def.
 *
 * One loop, threaded with computed goto: every handler ends by jumping
 * straight to the next instruction's handler, so each has its own
 * indirect branch for the predictor. The label table is generated from
 * ops.def, so an opcode without a handler does not compile.
 *
 * Hot state lives in locals: ip, fp, the current instance, its code's
 * word array (branch targets are word indices), and memory 0's base and
 * byte size. The memory pair is reloaded after anything that may move or
 * resize memory: calls (on return), memory.grow and host calls.
 *
 * Wasm-to-wasm calls do not recurse in C: a ke_frame on the store's frame
 * stack records the caller, and RETURN pops it. The entry frame has a
 * NULL return ip, which ends the loop. Host functions are called
 * directly; they may re-enter ke_interp_call, which continues above the
 * caller's frame (s->sp_free).
 *
 * Fuel (engine.h) is charged at function entries and backward branches
 * from a local copy; an interrupt request is checked at the same points.
 *
 * Traps leave through the single exit at the bottom, which restores
 * s->depth to its value on entry so that the store stays usable.
 */
#include <stdio.h>
#include <string.h>

#include "numeric.h"
#include "runtime.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "loads and stores assume a little-endian host");

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Host results up to this many cells use a buffer on the C stack. */
#define HOST_RESULTS_INLINE 16

int
ke_trap(kumo_store *s, int code)
{
    snprintf(s->trap_msg, sizeof s->trap_msg, "%s", kumo_strerror(code));
    return code;
}

/* Call a host function from the guest: args in the callee frame at nfp,
 * results copied back over them. Returns 0 or a trap code with
 * s->trap_msg set. */
static int
call_host(kumo_store *s, kumo_instance *inst, kumo_func *callee, kumo_val *nfp,
          kumo_val *frame_end)
{
    kumo_val inline_res[HOST_RESULTS_INLINE];
    kumo_val *res = inline_res;
    uint32_t nres = callee->type->nresults;
    kumo_caller caller = {s, inst};
    kumo_val *saved_free = s->sp_free;
    int rc;

    if (nres > HOST_RESULTS_INLINE) {
        res = kb_malloc(nres * sizeof(kumo_val));
        if (!res)
            return ke_trap(s, KUMO_ENOMEM);
    }
    s->sp_free = frame_end;
    s->trap_msg[0] = '\0';
    rc = callee->host(&caller, callee->env, nfp, res);
    s->sp_free = saved_free;
    if (UNLIKELY(rc != 0)) {
        if (rc > 0)
            rc = KUMO_ETRAP_HOST;
        if (s->trap_msg[0] == '\0')
            ke_trap(s, rc);
    } else {
        for (uint32_t i = 0; i < nres; i++)
            nfp[i] = res[i];
    }
    if (res != inline_res)
        kb_free(res);
    return rc;
}

/* Operand i (1-based) of the current instruction, and its slot. */
#define OP(i) (ip[i])
#define R(i) (fp[ip[i]])
/* Direct threading: the opcode word holds the handler's offset from
 * L_UNREACHABLE (ke_code_thread). */
#define NEXT goto *(const void *)(base + (int32_t)*ip)

/* Memory 0 of inst into the locals mem / mem_size. */
#define LOAD_MEM()                                                             \
    do {                                                                       \
        if (inst->module->nmems) {                                             \
            kumo_memory *m0_ = inst->mems[0];                                  \
            mem = m0_->data;                                                   \
            mem_size = m0_->pages * KE_PAGE;                                   \
            unchecked = m0_->guarded;                                          \
        } else {                                                               \
            mem = NULL;                                                        \
            mem_size = 0;                                                      \
            unchecked = 0;                                                     \
        }                                                                      \
    } while (0)
/* Memory 0's current size in bytes (instructions that have memory 0:
 * the local mem_size is only kept up to date for checked code). */
#define MEM_SIZE() (inst->mems[0]->pages * KE_PAGE)


/* Fuel: one unit per function entry and per backward branch. fuel is a
 * local copy of s->fuel, written back at the exit and around host calls.
 * The fast path is one compare against fuel_mark; at or below the mark
 * the slow path traps when the fuel is gone or an interrupt is pending,
 * and otherwise sets the next mark FUEL_CHUNK units lower. So an
 * asynchronous interrupt is seen within FUEL_CHUNK charges; the entry
 * and host-call returns set the mark to fuel to check at once. */
#define FUEL_CHUNK 1024
#define CHARGE()                                                               \
    do {                                                                       \
        if (UNLIKELY(fuel <= fuel_mark)) {                                     \
            if (fuel == 0 || (s->interrupt && !ke_yield(s, fuel)))             \
                goto out_of_fuel;                                              \
            fuel_mark = fuel > FUEL_CHUNK ? fuel - FUEL_CHUNK : 0;             \
            s->fuel = fuel; /* what a guard-page trap leaves */                \
        }                                                                      \
        fuel--;                                                                \
    } while (0)

/* Branch by delta words from the current instruction (the threaded code
 * stores targets relative, see ke_code_thread), charging fuel when it
 * does not go forwards. */
#define JUMP(delta)                                                            \
    do {                                                                       \
        int32_t d_ = (int32_t)(delta);                                         \
        if (d_ <= 0)                                                           \
            CHARGE();                                                          \
        ip += d_;                                                              \
    } while (0)

/* Call callee with its frame at nfp (arguments in place); ip is the
 * return address. A host function goes through call_host below. */
#define CALL(callee, nfp)                                                      \
    do {                                                                       \
        const ke_code *cc = (callee)->code;                                    \
        if (UNLIKELY(cc == NULL)) {                                            \
            host_callee = (callee);                                            \
            host_fp = (nfp);                                                   \
            goto call_host;                                                    \
        }                                                                      \
        if (UNLIKELY(frp >= frames_end ||                                      \
                     (size_t)(stack_end - (nfp)) < cc->frame_size))            \
            TRAP(KUMO_ETRAP_STACK_EXHAUSTED);                                  \
        CHARGE();                                                              \
        frp->ret_ip = ip;                                                      \
        frp->fp = fp;                                                          \
        frp->inst = inst;                                                      \
        frp++;                                                                 \
        for (uint32_t i_ = 0; i_ < cc->nlocals; i_++)                          \
            (nfp)[cc->nparams + i_] = 0;                                       \
        fp = (nfp);                                                            \
        if (UNLIKELY((callee)->inst != inst)) {                                \
            inst = (callee)->inst;                                             \
            LOAD_MEM();                                                        \
        }                                                                      \
        ip = cc->run[unchecked];                                               \
        NEXT;                                                                  \
    } while (0)

#define TRAP(code)                                                             \
    do {                                                                       \
        rc = (code);                                                           \
        goto trap;                                                             \
    } while (0)

/* ---- numeric handler shapes ---- */
#define UN32(name, expr)                                                       \
    L_##name:                                                                  \
    {                                                                          \
        uint32_t a = (uint32_t)R(2);                                           \
        R(1) = (uint32_t)(expr);                                               \
        ip += 3;                                                               \
        NEXT;                                                                  \
    }
#define BIN32(name, expr)                                                      \
    L_##name:                                                                  \
    {                                                                          \
        uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3);                       \
        R(1) = (uint32_t)(expr);                                               \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define UN64(name, expr)                                                       \
    L_##name:                                                                  \
    {                                                                          \
        uint64_t a = R(2);                                                     \
        R(1) = (uint64_t)(expr);                                               \
        ip += 3;                                                               \
        NEXT;                                                                  \
    }
/* 64-bit operands; the result type is given (uint32_t for comparisons). */
#define BIN64(name, T, expr)                                                   \
    L_##name:                                                                  \
    {                                                                          \
        uint64_t a = R(2), b = R(3);                                           \
        R(1) = (T)(expr);                                                      \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
/* Cell-to-cell operations (float bit helpers, conversions). */
#define UNC(name, expr)                                                        \
    L_##name:                                                                  \
    {                                                                          \
        uint64_t a = R(2);                                                     \
        R(1) = (expr);                                                         \
        ip += 3;                                                               \
        NEXT;                                                                  \
    }
#define BINC(name, expr)                                                       \
    L_##name:                                                                  \
    {                                                                          \
        uint64_t a = R(2), b = R(3);                                           \
        R(1) = (expr);                                                         \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define UNF32(name, expr)                                                      \
    L_##name:                                                                  \
    {                                                                          \
        float a = kn_f32(R(2));                                                \
        R(1) = kn_bits32(expr);                                                \
        ip += 3;                                                               \
        NEXT;                                                                  \
    }
#define BINF32(name, expr)                                                     \
    L_##name:                                                                  \
    {                                                                          \
        float a = kn_f32(R(2)), b = kn_f32(R(3));                              \
        R(1) = kn_bits32(expr);                                                \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define CMPF32(name, expr)                                                     \
    L_##name:                                                                  \
    {                                                                          \
        float a = kn_f32(R(2)), b = kn_f32(R(3));                              \
        R(1) = (uint64_t)(expr);                                               \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define UNF64(name, expr)                                                      \
    L_##name:                                                                  \
    {                                                                          \
        double a = kn_f64(R(2));                                               \
        R(1) = kn_bits64(expr);                                                \
        ip += 3;                                                               \
        NEXT;                                                                  \
    }
#define BINF64(name, expr)                                                     \
    L_##name:                                                                  \
    {                                                                          \
        double a = kn_f64(R(2)), b = kn_f64(R(3));                             \
        R(1) = kn_bits64(expr);                                                \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define CMPF64(name, expr)                                                     \
    L_##name:                                                                  \
    {                                                                          \
        double a = kn_f64(R(2)), b = kn_f64(R(3));                             \
        R(1) = (uint64_t)(expr);                                               \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
/* Trapping float -> int: x is the operand as a double (exact for f32). */
#define TRUNC(name, GET, INRANGE, conv)                                        \
    L_##name:                                                                  \
    {                                                                          \
        double x = (double)GET(R(2));                                          \
        if (UNLIKELY(!INRANGE(x)))                                             \
            TRAP(x != x ? KUMO_ETRAP_BAD_CONVERSION                            \
                        : KUMO_ETRAP_INT_OVERFLOW);                            \
        R(1) = (conv);                                                         \
        ip += 3;                                                               \
        NEXT;                                                                  \
    }

/* Immediate forms: the second operand is the word OP(3). */
#define BIN32I(name, expr)                                                     \
    L_##name:                                                                  \
    {                                                                          \
        uint32_t a = (uint32_t)R(2), b = OP(3);                                \
        R(1) = (uint32_t)(expr);                                               \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define BIN64I(name, T, expr)                                                  \
    L_##name:                                                                  \
    {                                                                          \
        uint64_t a = R(2), b = (uint64_t)(int64_t)(int32_t)OP(3);              \
        R(1) = (T)(expr);                                                      \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
/* Fused compare-and-branch: (a, b, target) and (a, imm, target). */
#define BRC(name, T, GETB, expr)                                               \
    L_##name:                                                                  \
    {                                                                          \
        T a = (T)R(1), b = (T)(GETB);                                          \
        if (expr) {                                                            \
            JUMP(OP(3));                                                       \
            NEXT;                                                              \
        }                                                                      \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
/* Add an immediate, then compare and branch (ops.def KE_ADDBR): (dst,
 * a, imm, b or imm2, target). */
#define ADDBR(name, GETB, expr)                                                \
    L_##name:                                                                  \
    {                                                                          \
        uint32_t a = (uint32_t)R(2) + OP(3);                                   \
        R(1) = a;                                                              \
        uint32_t b = (uint32_t)(GETB);                                         \
        if (expr) {                                                            \
            JUMP(OP(5));                                                       \
            NEXT;                                                              \
        }                                                                      \
        ip += 6;                                                               \
        NEXT;                                                                  \
    }
/* An integer comparison in its four shapes. */
#define CMP32(name, expr)                                                      \
    BIN32(name, expr)                                                          \
    BIN32I(name##_I, expr)                                                     \
    BRC(BR_##name, uint32_t, R(2), expr)                                       \
    BRC(BR_##name##_I, uint32_t, OP(2), expr)
#define CMP64(name, expr)                                                      \
    BIN64(name, uint32_t, expr)                                                \
    BIN64I(name##_I, uint32_t, expr)                                           \
    BRC(BR_##name, uint64_t, R(2), expr)                                       \
    BRC(BR_##name##_I, uint64_t, (int64_t)(int32_t)OP(2), expr)
#define ARI32(name, expr) BIN32(name, expr) BIN32I(name##_I, expr)
#define ARI64(name, expr)                                                      \
    BIN64(name, uint64_t, expr) BIN64I(name##_I, uint64_t, expr)

/* ---- loads and stores ----
 * Effective addresses: the plain form (ops.def KE_MEM) reads the address
 * from operand `a` and the offset from operand 3; the fused forms
 * (KE_MEMF) add operands 2 and 3 (a slot, an immediate, or a slot
 * shifted by operand 4) modulo 2^32 and take the offset from the last
 * operand. CHECKED is the single bounds check
 * of every load and store; the UNCHECKED handlers serve instances whose
 * memory 0 is guarded (runtime.h: an access past the end faults in the
 * reservation and guard.c turns the fault into the same trap). */
#define EA_P(a) ((uint64_t)(uint32_t)R(a) + OP(3))
#define EA_A ((uint64_t)(uint32_t)(R(2) + R(3)) + OP(4))
#define EA_AI ((uint64_t)(uint32_t)(R(2) + OP(3)) + OP(4))
#define EA_AS ((uint64_t)(uint32_t)(R(2) + (R(3) << (OP(4) & 31))) + OP(5))
#define CHECKED(ea, width)                                                     \
    if (UNLIKELY((ea) + (width) > mem_size))                                   \
    TRAP(KUMO_ETRAP_MEMORY_OOB)
#define UNCHECKED(ea, width) (void)0
/* One load handler: label, access type, conversion, address, length. */
#define LOAD1(label, T, conv, EAX, len, CHECK)                                 \
    label:                                                                     \
    {                                                                          \
        T v;                                                                   \
        uint64_t ea = EAX;                                                     \
        CHECK(ea, sizeof(T));                                                  \
        memcpy(&v, mem + ea, sizeof(T));                                       \
        R(1) = (conv);                                                         \
        ip += len;                                                             \
        NEXT;                                                                  \
    }
#define STORE1(label, T, vslot, EAX, len, CHECK)                               \
    label:                                                                     \
    {                                                                          \
        T v = (T)R(vslot);                                                     \
        uint64_t ea = EAX;                                                     \
        CHECK(ea, sizeof(T));                                                  \
        memcpy(mem + ea, &v, sizeof(T));                                       \
        ip += len;                                                             \
        NEXT;                                                                  \
    }
/* The handlers of a load or store, checked (L_) and unchecked (LU_);
 * LOADF/STOREF with the fused address forms (ops.def KE_MEMF). */
#define LOAD(name, T, conv)                                                    \
    LOAD1(L_##name, T, conv, EA_P(2), 4, CHECKED)                              \
    LOAD1(LU_##name, T, conv, EA_P(2), 4, UNCHECKED)
#define LOADF(name, T, conv)                                                   \
    LOAD(name, T, conv)                                                        \
    LOAD1(L_##name##_A, T, conv, EA_A, 5, CHECKED)                             \
    LOAD1(L_##name##_AI, T, conv, EA_AI, 5, CHECKED)                           \
    LOAD1(L_##name##_AS, T, conv, EA_AS, 6, CHECKED)                           \
    LOAD1(LU_##name##_A, T, conv, EA_A, 5, UNCHECKED)                          \
    LOAD1(LU_##name##_AI, T, conv, EA_AI, 5, UNCHECKED)                        \
    LOAD1(LU_##name##_AS, T, conv, EA_AS, 6, UNCHECKED)
#define STORE(name, T)                                                         \
    STORE1(L_##name, T, 2, EA_P(1), 4, CHECKED)                                \
    STORE1(LU_##name, T, 2, EA_P(1), 4, UNCHECKED)
#define STOREF(name, T)                                                        \
    STORE(name, T)                                                             \
    STORE1(L_##name##_A, T, 1, EA_A, 5, CHECKED)                               \
    STORE1(L_##name##_AI, T, 1, EA_AI, 5, CHECKED)                             \
    STORE1(L_##name##_AS, T, 1, EA_AS, 6, CHECKED)                             \
    STORE1(LU_##name##_A, T, 1, EA_A, 5, UNCHECKED)                            \
    STORE1(LU_##name##_AI, T, 1, EA_AI, 5, UNCHECKED)                          \
    STORE1(LU_##name##_AS, T, 1, EA_AS, 6, UNCHECKED)

/* A load feeding a binary operation (ops.def KE_LDOP): (dst, x, addr,
 * offset); GET turns a cell (or the loaded T) into operand type A, PUT
 * the result back into a cell. */
#define LDOP1(label, T, A, GET, PUT, expr, EAX, len, CHECK)                    \
    label:                                                                     \
    {                                                                          \
        T v;                                                                   \
        uint64_t ea = EAX;                                                     \
        CHECK(ea, sizeof(T));                                                  \
        memcpy(&v, mem + ea, sizeof(T));                                       \
        A a = GET(R(2)), b = GET(v);                                           \
        R(1) = PUT(expr);                                                      \
        ip += len;                                                             \
        NEXT;                                                                  \
    }
#define EA_LD ((uint64_t)(uint32_t)R(3) + OP(4))
#define EA_LDAI ((uint64_t)(uint32_t)(R(3) + OP(4)) + OP(5))
#define LDOP(name, T, A, GET, PUT, expr)                                       \
    LDOP1(L_##name, T, A, GET, PUT, expr, EA_LD, 5, CHECKED)                   \
    LDOP1(L_##name##_AI, T, A, GET, PUT, expr, EA_LDAI, 6, CHECKED)            \
    LDOP1(LU_##name, T, A, GET, PUT, expr, EA_LD, 5, UNCHECKED)                \
    LDOP1(LU_##name##_AI, T, A, GET, PUT, expr, EA_LDAI, 6, UNCHECKED)
/* Its read-modify-write form (ops.def KE_RMW): (x, addr, offset). */
#define RMW1(label, T, A, GET, PUT, expr, CHECK)                               \
    label:                                                                     \
    {                                                                          \
        T v;                                                                   \
        uint64_t ea = (uint64_t)(uint32_t)R(2) + OP(3);                        \
        CHECK(ea, sizeof(T));                                                  \
        memcpy(&v, mem + ea, sizeof(T));                                       \
        A a = GET(R(1)), b = GET(v);                                           \
        v = (T)PUT(expr);                                                      \
        memcpy(mem + ea, &v, sizeof(T));                                       \
        ip += 4;                                                               \
        NEXT;                                                                  \
    }
#define RMW(name, T, A, GET, PUT, expr)                                        \
    RMW1(L_##name, T, A, GET, PUT, expr, CHECKED)                              \
    RMW1(LU_##name, T, A, GET, PUT, expr, UNCHECKED)
#define U32(x) ((uint32_t)(x))

/* An i32 operation on a shifted or rotated operand (ops.def KE_SHOP):
 * (dst, a, b, k): fp[dst] = OP(a, SH(b, k)). */
#define SHOP(name, OPX, SHX)                                                   \
    L_##name:                                                                  \
    {                                                                          \
        uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3), k = OP(4);            \
        b = SHX(b, k);                                                         \
        R(1) = (uint32_t)OPX(a, b);                                            \
        ip += 5;                                                               \
        NEXT;                                                                  \
    }
/* Two i32 operations (ops.def KE_BINBIN): (dst, a, b, c): fp[dst] =
 * OPX(a, PRODX(b, c)). */
#define BINBIN(name, OPX, PRODX)                                               \
    L_##name:                                                                  \
    {                                                                          \
        uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3), c = (uint32_t)R(4);   \
        b = PRODX(b, c);                                                       \
        R(1) = (uint32_t)OPX(a, b);                                            \
        ip += 5;                                                               \
        NEXT;                                                                  \
    }
#define BINBINF(name, OPX, PRODX)                                              \
    L_##name:                                                                  \
    {                                                                          \
        double a = kn_f64(R(2)), b = kn_f64(R(3)), c = kn_f64(R(4));           \
        b = PRODX(b, c);                                                       \
        R(1) = kn_bits64(OPX(a, b));                                           \
        ip += 5;                                                               \
        NEXT;                                                                  \
    }
#define X_SUB(a, b) ((a) - (b))
#define X_MUL(a, b) ((a) * (b))
#define X_ADD(a, b) ((a) + (b))
#define X_AND(a, b) ((a) & (b))
#define X_OR(a, b) ((a) | (b))
#define X_XOR(a, b) ((a) ^ (b))
#define X_SHL(b, k) ((b) << ((k)&31))
#define X_SHR_U(b, k) ((b) >> ((k)&31))
#define X_ROTL(b, k) kn_rotl32(b, k)

/* RETURN: pop the frame; the entry frame leaves the loop. A guarded
 * memory never moves and its size is not needed here; a heap memory may
 * have moved or grown in the callee. */
#define DO_RETURN()                                                            \
    do {                                                                       \
        ke_frame *fr_ = --frp;                                                 \
        if (UNLIKELY(fr_->ret_ip == NULL))                                     \
            goto done;                                                         \
        ip = fr_->ret_ip;                                                      \
        fp = fr_->fp;                                                          \
        if (UNLIKELY(fr_->inst != inst || !unchecked)) {                       \
            inst = fr_->inst;                                                  \
            LOAD_MEM();                                                        \
        }                                                                      \
        NEXT;                                                                  \
    } while (0)

/* f64 multiply-add into memory (ops.def F64_MADD_RMW) as an effect
 * (see the pairs below): fp[x] times the f64 at address QEA, added to
 * the f64 at p + poff (operands PS, PS + 1), stored there. Two
 * statements, so that no compiler contracts them into a fused
 * multiply-add (wasm rounds the product). */
#define E_MADD(o, QEA, PS, CK)                                                 \
    {                                                                          \
        uint64_t qa_ = QEA;                                                    \
        uint64_t pa_ = (uint64_t)(uint32_t)R((o) + (PS)) + OP((o) + (PS) + 1); \
        uint64_t q_, p_;                                                       \
        CK(qa_, 8);                                                            \
        CK(pa_, 8);                                                            \
        memcpy(&q_, mem + qa_, 8);                                             \
        memcpy(&p_, mem + pa_, 8);                                             \
        double t_ = kn_f64(R((o) + 1)) * kn_f64(q_);                           \
        t_ = t_ + kn_f64(p_);                                                  \
        p_ = kn_bits64(t_);                                                    \
        memcpy(mem + pa_, &p_, 8);                                             \
    }
#define E_F64_MADD_RMW(o, CK)                                                  \
    E_MADD(o, (uint64_t)(uint32_t)R((o) + 2) + OP((o) + 3), 4, CK)
#define E_F64_MADD_RMW_AI(o, CK)                                               \
    E_MADD(o, (uint64_t)(uint32_t)(R((o) + 2) + OP((o) + 3)) + OP((o) + 4), 5, \
           CK)
#define MADD(name, len)                                                        \
    L_##name : {                                                               \
        E_##name(0, CHECKED) ip += len;                                        \
        NEXT;                                                                  \
    }                                                                          \
    LU_##name : {                                                              \
        E_##name(0, UNCHECKED) ip += len;                                      \
        NEXT;                                                                  \
    }

/* ---- pairs (ops.def KE_PAIR, pairs.c) ----
 * E_op(o, CK): the effect of instruction `op` whose opcode word is word
 * o of the pair (0 for the first, the first's length for the second),
 * with bounds checks CK. A branching second element jumps (deltas count
 * from the pair's start) or falls through to the pair's end. */
#define E_I32_ADD(o, CK) R((o) + 1) = (uint32_t)(R((o) + 2) + R((o) + 3));
#define E_I32_ADD_I(o, CK) R((o) + 1) = (uint32_t)(R((o) + 2) + OP((o) + 3));
#define E_I32_AND(o, CK) R((o) + 1) = (uint32_t)(R((o) + 2) & R((o) + 3));
#define E_I32_AND_I(o, CK) R((o) + 1) = (uint32_t)R((o) + 2) & OP((o) + 3);
#define E_I32_XOR(o, CK) R((o) + 1) = (uint32_t)(R((o) + 2) ^ R((o) + 3));
#define E_I32_SHL_I(o, CK)                                                     \
    R((o) + 1) = (uint32_t)((uint32_t)R((o) + 2) << (OP((o) + 3) & 31));
#define E_I32_MUL_I(o, CK)                                                     \
    R((o) + 1) = (uint32_t)((uint32_t)R((o) + 2) * OP((o) + 3));
#define E_I32_XOR_SHR_U(o, CK)                                                 \
    R((o) + 1) = (uint32_t)R((o) + 2) ^                                        \
                 ((uint32_t)R((o) + 3) >> (OP((o) + 4) & 31));
#define E_COPY(o, CK) R((o) + 1) = R((o) + 2);
#define E_COPY2(o, CK)                                                         \
    R((o) + 1) = R((o) + 2);                                                   \
    R((o) + 3) = R((o) + 4);
#define E_CONST32(o, CK) R((o) + 1) = OP((o) + 2);
#define E_LD32(o, EAX, CK)                                                     \
    {                                                                          \
        uint32_t v_;                                                           \
        uint64_t ea_ = EAX;                                                    \
        CK(ea_, 4);                                                            \
        memcpy(&v_, mem + ea_, 4);                                             \
        R((o) + 1) = v_;                                                       \
    }
#define E_I32_LOAD(o, CK)                                                      \
    E_LD32(o, (uint64_t)(uint32_t)R((o) + 2) + OP((o) + 3), CK)
#define E_I32_LOAD_AI(o, CK)                                                   \
    E_LD32(o, (uint64_t)(uint32_t)(R((o) + 2) + OP((o) + 3)) + OP((o) + 4), CK)
#define E_I32_LOAD_AS(o, CK)                                                   \
    E_LD32(o,                                                                  \
           (uint64_t)(uint32_t)(R((o) + 2) +                                   \
                                (R((o) + 3) << (OP((o) + 4) & 31))) +         \
               OP((o) + 5),                                                    \
           CK)
#define E_I32_STORE(o, CK)                                                     \
    {                                                                          \
        uint32_t v_ = (uint32_t)R((o) + 2);                                    \
        uint64_t ea_ = (uint64_t)(uint32_t)R((o) + 1) + OP((o) + 3);           \
        CK(ea_, 4);                                                            \
        memcpy(mem + ea_, &v_, 4);                                             \
    }
#define E_BR(o, CK)                                                            \
    JUMP(OP((o) + 1));                                                         \
    NEXT;
#define E_BR_IF(o, CK)                                                         \
    if ((uint32_t)R((o) + 1)) {                                                \
        JUMP(OP((o) + 2));                                                     \
        NEXT;                                                                  \
    }
#define E_BR_I32_LT_U(o, CK)                                                   \
    if ((uint32_t)R((o) + 1) < (uint32_t)R((o) + 2)) {                         \
        JUMP(OP((o) + 3));                                                     \
        NEXT;                                                                  \
    }
#define E_RETURN(o, CK) DO_RETURN();
#define E_CALL(o, CK)                                                          \
    {                                                                          \
        kumo_func *callee_ = inst->funcs[OP((o) + 1)];                         \
        kumo_val *nfp_ = fp + OP((o) + 2);                                     \
        ip += (o) + 3;                                                         \
        CALL(callee_, nfp_);                                                   \
    }
#define E_I32_XOR_ROTL2(o, CK)                                                 \
    R((o) + 1) = kn_rotl32((uint32_t)R((o) + 2), OP((o) + 3)) ^                \
                 kn_rotl32((uint32_t)R((o) + 4), OP((o) + 5));
#define E_I32_XOR_ROTL(o, CK)                                                  \
    R((o) + 1) = (uint32_t)R((o) + 2) ^                                        \
                 kn_rotl32((uint32_t)R((o) + 3), OP((o) + 4));
#define E_I32_ADD_AND(o, CK)                                                   \
    R((o) + 1) = (uint32_t)(R((o) + 2) + (R((o) + 3) & R((o) + 4)));
#define E_I32_AND_XOR(o, CK)                                                   \
    R((o) + 1) = (uint32_t)(R((o) + 2) & (R((o) + 3) ^ R((o) + 4)));
#define E_LD(o, T, CK)                                                         \
    {                                                                          \
        T v_;                                                                  \
        uint64_t ea_ = (uint64_t)(uint32_t)R((o) + 2) + OP((o) + 3);           \
        CK(ea_, sizeof(T));                                                    \
        memcpy(&v_, mem + ea_, sizeof(T));                                     \
        R((o) + 1) = v_;                                                       \
    }
#define E_ST(o, T, CK)                                                         \
    {                                                                          \
        T v_ = (T)R((o) + 2);                                                  \
        uint64_t ea_ = (uint64_t)(uint32_t)R((o) + 1) + OP((o) + 3);           \
        CK(ea_, sizeof(T));                                                    \
        memcpy(mem + ea_, &v_, sizeof(T));                                     \
    }
#define E_F64_LOAD(o, CK) E_LD(o, uint64_t, CK)
#define E_F64_STORE(o, CK) E_ST(o, uint64_t, CK)
#define E_I32_STORE8(o, CK) E_ST(o, uint8_t, CK)
#define E_F64_MUL_MUL(o, CK)                                                   \
    R((o) + 1) = kn_bits64(kn_f64(R((o) + 2)) *                                \
                           (kn_f64(R((o) + 3)) * kn_f64(R((o) + 4))));
#define E_F64_ADD_RMW(o, CK)                                                   \
    {                                                                          \
        uint64_t v_;                                                           \
        uint64_t ea_ = (uint64_t)(uint32_t)R((o) + 2) + OP((o) + 3);           \
        CK(ea_, 8);                                                            \
        memcpy(&v_, mem + ea_, 8);                                             \
        v_ = kn_bits64(kn_f64(R((o) + 1)) + kn_f64(v_));                       \
        memcpy(mem + ea_, &v_, 8);                                             \
    }
/* Conditional branches as effects: jump (and leave) when taken. */
#define E_BRIF(cond, t)                                                        \
    if (cond) {                                                                \
        JUMP(OP(t));                                                           \
        NEXT;                                                                  \
    }
#define E_BR_UNLESS(o, CK) E_BRIF(!(uint32_t)R((o) + 1), (o) + 2)
#define E_BR_I32_GE_U(o, CK)                                                   \
    E_BRIF((uint32_t)R((o) + 1) >= (uint32_t)R((o) + 2), (o) + 3)
#define E_BR_I32_LT_U_I(o, CK)                                                 \
    E_BRIF((uint32_t)R((o) + 1) < OP((o) + 2), (o) + 3)
#define E_ADDBRI(o, CMP)                                                       \
    {                                                                          \
        uint32_t a_ = (uint32_t)R((o) + 2) + OP((o) + 3);                      \
        R((o) + 1) = a_;                                                       \
        E_BRIF(a_ CMP OP((o) + 4), (o) + 5)                                    \
    }
#define E_ADD_BR_I32_NE_I(o, CK) E_ADDBRI(o, !=)
#define E_ADD_BR_I32_GT_U_I(o, CK) E_ADDBRI(o, >)
/* Pairs that start longer chains (a pair as the first element). */
#define E_P_ADD_ADD(o, CK) E_I32_ADD(o, CK) E_I32_ADD((o) + N_I32_ADD, CK)
#define E_P_ADDI_COPY(o, CK) E_I32_ADD_I(o, CK) E_COPY((o) + N_I32_ADD_I, CK)
#define E_P_ADDI_COPY2(o, CK) E_I32_ADD_I(o, CK) E_COPY2((o) + N_I32_ADD_I, CK)
#define E_P_ADDI_MADDAI(o, CK)                                                 \
    E_I32_ADD_I(o, CK) E_F64_MADD_RMW_AI((o) + N_I32_ADD_I, CK)
#define E_P_CONST_BR_LT_U(o, CK)                                               \
    E_CONST32(o, CK) E_BR_I32_LT_U((o) + N_CONST32, CK)
#define E_T_CONSTBR_COPY(o, CK)                                                \
    E_P_CONST_BR_LT_U(o, CK) E_COPY((o) + N_P_CONST_BR_LT_U, CK)
#define E_P_ADDI_LOAD_AS(o, CK)                                                \
    E_I32_ADD_I(o, CK) E_I32_LOAD_AS((o) + N_I32_ADD_I, CK)
#define E_P_ROTL2_XORROTL(o, CK)                                               \
    E_I32_XOR_ROTL2(o, CK) E_I32_XOR_ROTL((o) + N_I32_XOR_ROTL2, CK)
#define E_P_ROTL2_XORSHR(o, CK)                                                \
    E_I32_XOR_ROTL2(o, CK) E_I32_XOR_SHR_U((o) + N_I32_XOR_ROTL2, CK)
/* Word lengths of the instructions that pairs are made of. */
#define N_I32_ADD 4
#define N_I32_ADD_I 4
#define N_I32_AND 4
#define N_I32_AND_I 4
#define N_I32_XOR 4
#define N_I32_SHL_I 4
#define N_I32_MUL_I 4
#define N_I32_XOR_SHR_U 5
#define N_COPY 3
#define N_COPY2 5
#define N_CONST32 3
#define N_I32_LOAD 4
#define N_I32_LOAD_AI 5
#define N_I32_LOAD_AS 6
#define N_I32_STORE 4
#define N_BR 2
#define N_BR_IF 3
#define N_BR_I32_LT_U 4
#define N_RETURN 1
#define N_CALL 3
#define N_I32_XOR_ROTL2 6
#define N_I32_XOR_ROTL 5
#define N_I32_ADD_AND 5
#define N_I32_AND_XOR 5
#define N_F64_LOAD 4
#define N_F64_STORE 4
#define N_I32_STORE8 4
#define N_F64_MUL_MUL 5
#define N_F64_ADD_RMW 4
#define N_F64_MADD_RMW 6
#define N_F64_MADD_RMW_AI 7
#define N_BR_UNLESS 3
#define N_BR_I32_GE_U 4
#define N_BR_I32_LT_U_I 4
#define N_ADD_BR_I32_NE_I 6
#define N_ADD_BR_I32_GT_U_I 6
#define N_P_ADD_ADD (2 * N_I32_ADD)
#define N_P_ADDI_COPY (N_I32_ADD_I + N_COPY)
#define N_P_ADDI_COPY2 (N_I32_ADD_I + N_COPY2)
#define N_P_ADDI_MADDAI (N_I32_ADD_I + N_F64_MADD_RMW_AI)
#define N_P_CONST_BR_LT_U (N_CONST32 + N_BR_I32_LT_U)
#define N_T_CONSTBR_COPY (N_P_CONST_BR_LT_U + N_COPY)
#define N_P_ADDI_LOAD_AS (N_I32_ADD_I + N_I32_LOAD_AS)
#define N_P_ROTL2_XORROTL (N_I32_XOR_ROTL2 + N_I32_XOR_ROTL)
#define N_P_ROTL2_XORSHR (N_I32_XOR_ROTL2 + N_I32_XOR_SHR_U)
#define PAIR1(label, a, b, CK)                                                 \
    label:                                                                     \
    {                                                                          \
        E_##a(0, CK) E_##b(N_##a, CK) ip += N_##a + N_##b;                     \
        NEXT;                                                                  \
    }
#define PAIR(name, a, b) PAIR1(L_##name, a, b, CHECKED)
#define PAIRM(name, a, b)                                                      \
    PAIR1(L_##name, a, b, CHECKED) PAIR1(LU_##name, a, b, UNCHECKED)

/* ---- memories other than 0 (LOAD_M, STORE_M) ----
 * One generic handler each: the access is picked by its wasm opcode. */

/* Bytes accessed by the load or store of wasm opcode op (0x28..0x3e). */
static uint32_t
access_width(uint32_t op)
{
    static const uint8_t width[0x3f - 0x28] = {
        4, 8, 4, 8, 1, 1, 2, 2, 1, 1, 2, 2, 4, 4, /* loads */
        4, 8, 4, 8, 1, 2, 1, 2, 4,                /* stores */
    };
    return op >= 0x28 && op <= 0x3e ? width[op - 0x28] : 0;
}

/* The value the load op reads at p (width already checked). */
static kumo_val
load_any(const uint8_t *p, uint32_t op)
{
    uint64_t v = 0;
    memcpy(&v, p, access_width(op));
    switch (op) {
    case 0x2c: /* i32.load8_s */
        return (uint32_t)(int32_t)(int8_t)v;
    case 0x2e: /* i32.load16_s */
        return (uint32_t)(int32_t)(int16_t)v;
    case 0x30: /* i64.load8_s */
        return (uint64_t)(int64_t)(int8_t)v;
    case 0x32: /* i64.load16_s */
        return (uint64_t)(int64_t)(int16_t)v;
    case 0x34: /* i64.load32_s */
        return (uint64_t)(int64_t)(int32_t)v;
    default:
        return v;
    }
}

/* The memory.copy/fill/init bounds check: [d, d + n) inside m. */
static bool
range_ok(const kumo_memory *m, uint64_t d, uint64_t n)
{
    return d + n <= m->pages * KE_PAGE;
}

/* The interpreter; with handlers != NULL it only returns its handler
 * offset tables there (for ke_interp_handlers: [0] checked, [1]
 * unchecked loads and stores). */
static int
run(kumo_store *s, kumo_func *f, kumo_val *sp, const int32_t **handlers)
{
#define H(name) (int32_t)((const char *)&&L_##name - (const char *)&&L_UNREACHABLE),
#define HU(name) (int32_t)((const char *)&&LU_##name - (const char *)&&L_UNREACHABLE),
#define KE_OP(name, fmt) H(name)
#define KE_NUM(name, prefix, opcode, nargs, in, out) H(name)
#define KE_NUMI(name, b) H(name)
#define KE_BRC(name, cmp) H(name)
#define KE_BRCI(name, cmp) H(name)
#define KE_SHOP(name, op, sh) H(name)
#define KE_ADDBR(name, brc) H(name)
#define KE_ADDBRI(name, brci) H(name)
#define KE_BINBIN(name, prod, op) H(name)
#define KE_PAIR(name, a, b, fmt) H(name)
    static const int32_t offsets[] = {
#define KE_MEM(name, opcode, align, type, is_store) H(name)
#define KE_OPM(name, fmt) H(name)
#define KE_PAIRM(name, a, b, fmt) H(name)
#define KE_MEMF(b) H(b##_A) H(b##_AI) H(b##_AS)
#define KE_LDOP(name, load, op) H(name) H(name##_AI)
#define KE_RMW(name, ldop, store) H(name)
#include "ops.def"
    };
#define KE_OP(name, fmt) H(name)
#define KE_NUM(name, prefix, opcode, nargs, in, out) H(name)
#define KE_NUMI(name, b) H(name)
#define KE_BRC(name, cmp) H(name)
#define KE_BRCI(name, cmp) H(name)
#define KE_SHOP(name, op, sh) H(name)
#define KE_ADDBR(name, brc) H(name)
#define KE_ADDBRI(name, brci) H(name)
#define KE_BINBIN(name, prod, op) H(name)
#define KE_PAIR(name, a, b, fmt) H(name)
    static const int32_t offsets_unchecked[] = {
#define KE_MEM(name, opcode, align, type, is_store) HU(name)
#define KE_OPM(name, fmt) HU(name)
#define KE_PAIRM(name, a, b, fmt) HU(name)
#define KE_MEMF(b) HU(b##_A) HU(b##_AI) HU(b##_AS)
#define KE_LDOP(name, load, op) HU(name) HU(name##_AI)
#define KE_RMW(name, ldop, store) HU(name)
#include "ops.def"
    };
#undef H
#undef HU
    _Static_assert(sizeof offsets / sizeof offsets[0] == KE_OP_COUNT_,
                   "a handler for every opcode of ops.def");
    _Static_assert(sizeof offsets_unchecked / sizeof offsets[0] ==
                       KE_OP_COUNT_,
                   "a handler for every opcode of ops.def");
    const char *const base = (const char *)&&L_UNREACHABLE;

    if (handlers) {
        handlers[0] = offsets;
        handlers[1] = offsets_unchecked;
        return 0;
    }

    const uint32_t depth0 = s->depth;
    kumo_val *const stack_end = s->stack + s->stack_cells;
    const ke_code *code = f->code;
    /* The next free frame; s->depth is only brought up to date around
     * host calls (which may re-enter) and at the exit. */
    ke_frame *frp = s->frames + depth0;
    ke_frame *const frames_end = s->frames + s->frame_cap;
    kumo_instance *inst = f->inst;
    const uint32_t *ip;
    kumo_val *fp = sp;
    uint8_t *mem;
    uint64_t mem_size;
    unsigned unchecked; /* 1: memory 0 is guarded, ke_code.run[1] */
    kumo_func *host_callee; /* for call_host */
    kumo_val *host_fp;
    ke_exn *exn; /* the exception unwinding (throw, unwind) */
    uint64_t fuel, fuel_mark;
    int rc = 0;

    if (UNLIKELY(code == NULL)) /* a host function called directly */
        return call_host(s, NULL, f, sp, sp + f->type->nparams);
    fuel = fuel_mark = s->fuel;
    if (UNLIKELY(frp >= frames_end ||
                 (size_t)(stack_end - sp) < code->frame_size))
        TRAP(KUMO_ETRAP_STACK_EXHAUSTED);
    CHARGE();
    frp->ret_ip = NULL; /* the entry frame: RETURN leaves the loop */
    frp->fp = NULL;
    frp->inst = NULL;
    frp->code = NULL;
    frp++;
    for (uint32_t i = 0; i < code->nlocals; i++)
        fp[code->nparams + i] = 0;
    LOAD_MEM();
    ip = code->run[unchecked];
    NEXT;

    /* ---- control ---- */
L_UNREACHABLE:
    TRAP(KUMO_ETRAP_UNREACHABLE);
L_NOP:
    ip += 1;
    NEXT;
L_BR:
    JUMP(OP(1));
    NEXT;
L_BR_IF:
    if ((uint32_t)R(1))
        JUMP(OP(2));
    else
        ip += 3;
    NEXT;
L_BR_UNLESS:
    if (!(uint32_t)R(1))
        JUMP(OP(2));
    else
        ip += 3;
    NEXT;
L_BR_TABLE : {
    uint32_t i = (uint32_t)R(1), n = OP(2);
    JUMP(ip[3 + (i < n ? i : n)]);
    NEXT;
}
L_RETURN:
    DO_RETURN();
L_CALL : {
    kumo_func *callee = inst->funcs[OP(1)];
    kumo_val *nfp = fp + OP(2);
    ip += 3;
    CALL(callee, nfp);
}
L_CALL_INDIRECT : {
    kumo_table *t = inst->tables[OP(2)];
    uint32_t i = (uint32_t)R(3);
    const ke_functype *want = &inst->module->types[OP(1)];
    if (UNLIKELY(i >= t->size))
        TRAP(KUMO_ETRAP_UNDEFINED_ELEMENT);
    kumo_func *callee = (kumo_func *)(uintptr_t)t->elems[i];
    if (UNLIKELY(callee == NULL))
        TRAP(KUMO_ETRAP_UNINITIALIZED_ELEMENT);
    if (UNLIKELY(callee->type != want &&
                 !ke_functype_equal(callee->type, want)))
        TRAP(KUMO_ETRAP_INDIRECT_TYPE);
    kumo_val *nfp = fp + OP(4);
    ip += 5;
    CALL(callee, nfp);
}
call_host:
    /* The host may re-enter (above the arguments and results: nothing of
     * the caller's frame above them is live), or read or set the fuel. */
    s->fuel = fuel;
    s->depth = (uint32_t)(frp - s->frames);
    {
        const ke_functype *ht = host_callee->type;
        uint32_t cells = ht->nparams > ht->nresults ? ht->nparams
                                                    : ht->nresults;
        rc = call_host(s, inst, host_callee, host_fp, host_fp + cells);
    }
    fuel = fuel_mark = s->fuel; /* and check for an interrupt */
    if (UNLIKELY(rc != 0)) {
        /* A wasm exception from a call back into the guest that the host
         * function passed on: it goes on unwinding from the call. */
        exn = rc == KUMO_ETRAP_EXCEPTION ? s->exn : NULL;
        s->exn = NULL;
        if (!exn)
            goto fail;
        LOAD_MEM();
        ip--;
        goto unwind;
    }
    LOAD_MEM();
    NEXT;

    /* ---- data movement ---- */
L_COPY:
    R(1) = R(2);
    ip += 3;
    NEXT;
L_COPY2:
    R(1) = R(2);
    R(3) = R(4);
    ip += 5;
    NEXT;
L_COPY3:
    R(1) = R(2);
    R(3) = R(4);
    R(5) = R(6);
    ip += 7;
    NEXT;
L_I32_XOR_ROTL2:
    R(1) = kn_rotl32((uint32_t)R(2), OP(3)) ^ kn_rotl32((uint32_t)R(4), OP(5));
    ip += 6;
    NEXT;
L_SELECT:
    R(1) = (uint32_t)R(4) ? R(2) : R(3);
    ip += 5;
    NEXT;
L_CONST32:
    R(1) = OP(2);
    ip += 3;
    NEXT;
L_CONST64:
    R(1) = (uint64_t)OP(2) | (uint64_t)OP(3) << 32;
    ip += 4;
    NEXT;
L_GLOBAL_GET:
    R(1) = inst->globals[OP(2)]->val;
    ip += 3;
    NEXT;
L_GLOBAL_SET:
    inst->globals[OP(1)]->val = R(2);
    ip += 3;
    NEXT;

    /* ---- references ---- */
L_REF_IS_NULL:
    R(1) = R(2) == 0;
    ip += 3;
    NEXT;
L_REF_FUNC:
    R(1) = (kumo_val)(uintptr_t)inst->funcs[OP(2)];
    ip += 3;
    NEXT;

    /* ---- memory ---- */
L_MEMORY_SIZE:
    R(1) = MEM_SIZE() / KE_PAGE;
    ip += 2;
    NEXT;
L_MEMORY_GROW : {
    int64_t old = ke_memory_grow(inst->mems[0], (uint32_t)R(2));
    R(1) = (uint32_t)old;
    LOAD_MEM();
    ip += 3;
    NEXT;
}
L_MEMORY_INIT : {
    uint32_t seg = OP(1);
    uint64_t d = (uint32_t)R(2), src = (uint32_t)R(3), n = (uint32_t)R(4);
    if (UNLIKELY(src + n > inst->data_sizes[seg] || d + n > MEM_SIZE()))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    if (n)
        memcpy(mem + d,
               inst->module->bytes + inst->module->datas[seg].init.off + src,
               n);
    ip += 5;
    NEXT;
}
L_DATA_DROP:
    inst->data_sizes[OP(1)] = 0;
    ip += 2;
    NEXT;
L_MEMORY_COPY : {
    uint64_t d = (uint32_t)R(1), src = (uint32_t)R(2), n = (uint32_t)R(3);
    uint64_t size = MEM_SIZE();
    if (UNLIKELY(src + n > size || d + n > size))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    if (n)
        memmove(mem + d, mem + src, n);
    ip += 4;
    NEXT;
}
L_MEMORY_FILL : {
    uint64_t d = (uint32_t)R(1), n = (uint32_t)R(3);
    if (UNLIKELY(d + n > MEM_SIZE()))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    if (n)
        memset(mem + d, (uint8_t)R(2), n);
    ip += 4;
    NEXT;
}

    /* ---- memories other than 0 ---- */
L_LOAD_M : {
    kumo_memory *m = inst->mems[OP(4)];
    uint64_t ea = (uint64_t)(uint32_t)R(2) + OP(3);
    if (UNLIKELY(ea + access_width(OP(5)) > m->pages * KE_PAGE))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    R(1) = load_any(m->data + ea, OP(5));
    ip += 6;
    NEXT;
}
L_STORE_M : {
    kumo_memory *m = inst->mems[OP(4)];
    uint64_t ea = (uint64_t)(uint32_t)R(1) + OP(3);
    uint32_t w = access_width(OP(5));
    kumo_val v = R(2);
    if (UNLIKELY(ea + w > m->pages * KE_PAGE))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    memcpy(m->data + ea, &v, w);
    ip += 6;
    NEXT;
}
L_MEMORY_SIZE_M:
    R(1) = inst->mems[OP(2)]->pages;
    ip += 3;
    NEXT;
L_MEMORY_GROW_M : {
    int64_t old = ke_memory_grow(inst->mems[OP(3)], (uint32_t)R(2));
    R(1) = (uint32_t)old;
    LOAD_MEM(); /* the same memory may be imported as memory 0 too */
    ip += 4;
    NEXT;
}
L_MEMORY_INIT_M : {
    kumo_memory *m = inst->mems[OP(5)];
    uint32_t seg = OP(1);
    uint64_t d = (uint32_t)R(2), src = (uint32_t)R(3), n = (uint32_t)R(4);
    if (UNLIKELY(src + n > inst->data_sizes[seg] || !range_ok(m, d, n)))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    if (n)
        memcpy(m->data + d,
               inst->module->bytes + inst->module->datas[seg].init.off + src,
               n);
    ip += 6;
    NEXT;
}
L_MEMORY_COPY_M : {
    kumo_memory *md = inst->mems[OP(4)], *ms = inst->mems[OP(5)];
    uint64_t d = (uint32_t)R(1), src = (uint32_t)R(2), n = (uint32_t)R(3);
    if (UNLIKELY(!range_ok(ms, src, n) || !range_ok(md, d, n)))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    if (n)
        memmove(md->data + d, ms->data + src, n);
    ip += 6;
    NEXT;
}
L_MEMORY_FILL_M : {
    kumo_memory *m = inst->mems[OP(4)];
    uint64_t d = (uint32_t)R(1), n = (uint32_t)R(3);
    if (UNLIKELY(!range_ok(m, d, n)))
        TRAP(KUMO_ETRAP_MEMORY_OOB);
    if (n)
        memset(m->data + d, (uint8_t)R(2), n);
    ip += 5;
    NEXT;
}

    /* ---- exceptions ---- */
L_THROW:
    exn = ke_exn_new(s, inst->tags[OP(1)], fp + OP(2));
    if (UNLIKELY(!exn))
        TRAP(KUMO_ENOMEM);
    goto unwind;
L_THROW_REF:
    exn = (ke_exn *)(uintptr_t)R(1);
    if (UNLIKELY(!exn))
        TRAP(KUMO_ETRAP_NULL_EXNREF);
    goto unwind;
unwind:
    /* ip is inside the instruction that threw (or called the function
     * that did): try the handlers of this frame, then pop frames. */
    for (;;) {
        const uint32_t *run_base;
        const ke_handler *h = ke_exn_find(inst, ip, exn, &run_base);
        if (h) {
            if (h->dst != KE_NONE)
                for (uint32_t i_ = 0; i_ < exn->n; i_++)
                    fp[h->dst + i_] = exn->vals[i_];
            if (h->exn != KE_NONE)
                fp[h->exn] = (kumo_val)(uintptr_t)exn;
            ip = run_base + h->target;
            rc = 0; /* from a host call that passed the exception on */
            NEXT;
        }
        ke_frame *fr = --frp;
        if (fr->ret_ip == NULL) {
            s->exn = exn; /* for a host function to pass on */
            TRAP(KUMO_ETRAP_EXCEPTION);
        }
        ip = fr->ret_ip - 1;
        fp = fr->fp;
        inst = fr->inst;
        LOAD_MEM();
    }

    /* ---- tables ---- */
L_TABLE_GET : {
    kumo_table *t = inst->tables[OP(1)];
    uint32_t i = (uint32_t)R(3);
    if (UNLIKELY(i >= t->size))
        TRAP(KUMO_ETRAP_TABLE_OOB);
    R(2) = t->elems[i];
    ip += 4;
    NEXT;
}
L_TABLE_SET : {
    kumo_table *t = inst->tables[OP(1)];
    uint32_t i = (uint32_t)R(2);
    if (UNLIKELY(i >= t->size))
        TRAP(KUMO_ETRAP_TABLE_OOB);
    t->elems[i] = R(3);
    ip += 4;
    NEXT;
}
L_TABLE_SIZE:
    R(2) = inst->tables[OP(1)]->size;
    ip += 3;
    NEXT;
L_TABLE_GROW : {
    int64_t old = ke_table_grow(inst->tables[OP(1)], (uint32_t)R(4), R(3));
    R(2) = (uint32_t)old;
    ip += 5;
    NEXT;
}
L_TABLE_FILL : {
    kumo_table *t = inst->tables[OP(1)];
    uint64_t i = (uint32_t)R(2), n = (uint32_t)R(4);
    kumo_val v = R(3);
    if (UNLIKELY(i + n > t->size))
        TRAP(KUMO_ETRAP_TABLE_OOB);
    for (uint64_t k = 0; k < n; k++)
        t->elems[i + k] = v;
    ip += 5;
    NEXT;
}
L_TABLE_COPY : {
    kumo_table *td = inst->tables[OP(1)], *ts = inst->tables[OP(2)];
    uint64_t d = (uint32_t)R(3), src = (uint32_t)R(4), n = (uint32_t)R(5);
    if (UNLIKELY(src + n > ts->size || d + n > td->size))
        TRAP(KUMO_ETRAP_TABLE_OOB);
    if (n)
        memmove(td->elems + d, ts->elems + src, n * sizeof(kumo_val));
    ip += 6;
    NEXT;
}
L_TABLE_INIT : {
    kumo_table *t = inst->tables[OP(1)];
    uint32_t seg = OP(2);
    uint64_t d = (uint32_t)R(3), src = (uint32_t)R(4), n = (uint32_t)R(5);
    if (UNLIKELY(src + n > inst->elem_sizes[seg] || d + n > t->size))
        TRAP(KUMO_ETRAP_TABLE_OOB);
    if (n)
        memcpy(t->elems + d, inst->elem_items[seg] + src, n * sizeof(kumo_val));
    ip += 6;
    NEXT;
}
L_ELEM_DROP:
    inst->elem_sizes[OP(1)] = 0;
    ip += 2;
    NEXT;

    /* ---- loads: (dst, addr, offset) ---- */
    LOADF(I32_LOAD, uint32_t, v)
    LOADF(I64_LOAD, uint64_t, v)
    LOADF(F32_LOAD, uint32_t, v)
    LOADF(F64_LOAD, uint64_t, v)
    LOADF(I32_LOAD8_S, int8_t, (uint32_t)(int32_t)v)
    LOADF(I32_LOAD8_U, uint8_t, v)
    LOAD(I32_LOAD16_S, int16_t, (uint32_t)(int32_t)v)
    LOADF(I32_LOAD16_U, uint16_t, v)
    LOAD(I64_LOAD8_S, int8_t, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD8_U, uint8_t, v)
    LOAD(I64_LOAD16_S, int16_t, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD16_U, uint16_t, v)
    LOAD(I64_LOAD32_S, int32_t, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD32_U, uint32_t, v)

    /* ---- stores: (addr, value, offset) ---- */
    STOREF(I32_STORE, uint32_t)
    STOREF(I64_STORE, uint64_t)
    STOREF(F32_STORE, uint32_t)
    STOREF(F64_STORE, uint64_t)
    STOREF(I32_STORE8, uint8_t)
    STOREF(I32_STORE16, uint16_t)
    STORE(I64_STORE8, uint8_t)
    STORE(I64_STORE16, uint16_t)
    STORE(I64_STORE32, uint32_t)

    /* ---- superinstructions ---- */
    LDOP(F64_ADD_LD, uint64_t, double, kn_f64, kn_bits64, a + b)
    LDOP(F64_SUB_LD, uint64_t, double, kn_f64, kn_bits64, a - b)
    LDOP(F64_MUL_LD, uint64_t, double, kn_f64, kn_bits64, a * b)
    LDOP(I32_ADD_LD, uint32_t, uint32_t, U32, U32, a + b)
    RMW(F64_ADD_RMW, uint64_t, double, kn_f64, kn_bits64, a + b)
    RMW(F64_SUB_RMW, uint64_t, double, kn_f64, kn_bits64, a - b)
    RMW(F64_MUL_RMW, uint64_t, double, kn_f64, kn_bits64, a * b)
    RMW(I32_ADD_RMW, uint32_t, uint32_t, U32, U32, a + b)
    BINBIN(I32_ADD_ADD, X_ADD, X_ADD)
    BINBIN(I32_ADD_AND, X_ADD, X_AND)
    BINBIN(I32_ADD_XOR, X_ADD, X_XOR)
    BINBIN(I32_XOR_AND, X_XOR, X_AND)
    BINBIN(I32_XOR_XOR, X_XOR, X_XOR)
    BINBIN(I32_AND_XOR, X_AND, X_XOR)
    BINBINF(F64_ADD_MUL, X_ADD, X_MUL)
    BINBINF(F64_SUB_MUL, X_SUB, X_MUL)
    BINBINF(F64_MUL_MUL, X_MUL, X_MUL)
    BINBINF(F64_MUL_SUB, X_MUL, X_SUB)
    BINBINF(F64_MUL_ADD, X_MUL, X_ADD)
    ADDBR(ADD_BR_I32_NE, R(4), a != b)
    ADDBR(ADD_BR_I32_LT_S, R(4), (int32_t)a < (int32_t)b)
    ADDBR(ADD_BR_I32_LT_U, R(4), a < b)
    ADDBR(ADD_BR_I32_NE_I, OP(4), a != b)
    ADDBR(ADD_BR_I32_LT_S_I, OP(4), (int32_t)a < (int32_t)b)
    ADDBR(ADD_BR_I32_LT_U_I, OP(4), a < b)
    ADDBR(ADD_BR_I32_GT_S_I, OP(4), (int32_t)a > (int32_t)b)
    ADDBR(ADD_BR_I32_GT_U_I, OP(4), a > b)
    SHOP(I32_ADD_SHL, X_ADD, X_SHL)
    SHOP(I32_ADD_SHR_U, X_ADD, X_SHR_U)
    SHOP(I32_ADD_ROTL, X_ADD, X_ROTL)
    SHOP(I32_AND_SHL, X_AND, X_SHL)
    SHOP(I32_AND_SHR_U, X_AND, X_SHR_U)
    SHOP(I32_AND_ROTL, X_AND, X_ROTL)
    SHOP(I32_OR_SHL, X_OR, X_SHL)
    SHOP(I32_OR_SHR_U, X_OR, X_SHR_U)
    SHOP(I32_OR_ROTL, X_OR, X_ROTL)
    SHOP(I32_XOR_SHL, X_XOR, X_SHL)
    SHOP(I32_XOR_SHR_U, X_XOR, X_SHR_U)
    SHOP(I32_XOR_ROTL, X_XOR, X_ROTL)
    MADD(F64_MADD_RMW, 6)
    MADD(F64_MADD_RMW_AI, 7)

    /* ---- pairs ---- */
#define KE_PAIR(name, a, b, fmt) PAIR(name, a, b)
#define KE_PAIRM(name, a, b, fmt) PAIRM(name, a, b)
#include "ops.def"

    /* ---- i32 comparisons ---- */
    UN32(I32_EQZ, a == 0)
    CMP32(I32_EQ, a == b)
    CMP32(I32_NE, a != b)
    CMP32(I32_LT_S, (int32_t)a < (int32_t)b)
    CMP32(I32_LT_U, a < b)
    CMP32(I32_GT_S, (int32_t)a > (int32_t)b)
    CMP32(I32_GT_U, a > b)
    CMP32(I32_LE_S, (int32_t)a <= (int32_t)b)
    CMP32(I32_LE_U, a <= b)
    CMP32(I32_GE_S, (int32_t)a >= (int32_t)b)
    CMP32(I32_GE_U, a >= b)

    /* ---- i64 comparisons ---- */
    UN64(I64_EQZ, a == 0)
    CMP64(I64_EQ, a == b)
    CMP64(I64_NE, a != b)
    CMP64(I64_LT_S, (int64_t)a < (int64_t)b)
    CMP64(I64_LT_U, a < b)
    CMP64(I64_GT_S, (int64_t)a > (int64_t)b)
    CMP64(I64_GT_U, a > b)
    CMP64(I64_LE_S, (int64_t)a <= (int64_t)b)
    CMP64(I64_LE_U, a <= b)
    CMP64(I64_GE_S, (int64_t)a >= (int64_t)b)
    CMP64(I64_GE_U, a >= b)

    /* ---- float comparisons (false on NaN except ne) ---- */
    CMPF32(F32_EQ, a == b)
    CMPF32(F32_NE, a != b)
    CMPF32(F32_LT, a < b)
    CMPF32(F32_GT, a > b)
    CMPF32(F32_LE, a <= b)
    CMPF32(F32_GE, a >= b)
    CMPF64(F64_EQ, a == b)
    CMPF64(F64_NE, a != b)
    CMPF64(F64_LT, a < b)
    CMPF64(F64_GT, a > b)
    CMPF64(F64_LE, a <= b)
    CMPF64(F64_GE, a >= b)

    /* ---- i32 arithmetic ---- */
    UN32(I32_CLZ, a ? (uint32_t)__builtin_clz(a) : 32)
    UN32(I32_CTZ, a ? (uint32_t)__builtin_ctz(a) : 32)
    UN32(I32_POPCNT, __builtin_popcount(a))
    ARI32(I32_ADD, a + b)
    ARI32(I32_SUB, a - b)
    ARI32(I32_MUL, a * b)
L_I32_DIV_S : {
    uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    if (UNLIKELY(a == UINT32_C(0x80000000) && b == UINT32_MAX))
        TRAP(KUMO_ETRAP_INT_OVERFLOW);
    R(1) = (uint32_t)((int32_t)a / (int32_t)b);
    ip += 4;
    NEXT;
}
L_I32_DIV_U : {
    uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    R(1) = a / b;
    ip += 4;
    NEXT;
}
L_I32_REM_S : {
    uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    R(1) = b == UINT32_MAX ? 0 : (uint32_t)((int32_t)a % (int32_t)b);
    ip += 4;
    NEXT;
}
L_I32_REM_U : {
    uint32_t a = (uint32_t)R(2), b = (uint32_t)R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    R(1) = a % b;
    ip += 4;
    NEXT;
}
    ARI32(I32_AND, a & b)
    ARI32(I32_OR, a | b)
    ARI32(I32_XOR, a ^ b)
    ARI32(I32_SHL, a << (b & 31))
    ARI32(I32_SHR_S, (int32_t)a >> (b & 31))
    ARI32(I32_SHR_U, a >> (b & 31))
    ARI32(I32_ROTL, kn_rotl32(a, b))
    ARI32(I32_ROTR, kn_rotr32(a, b))

    /* ---- i64 arithmetic ---- */
    UN64(I64_CLZ, a ? (uint64_t)__builtin_clzll(a) : 64)
    UN64(I64_CTZ, a ? (uint64_t)__builtin_ctzll(a) : 64)
    UN64(I64_POPCNT, __builtin_popcountll(a))
    ARI64(I64_ADD, a + b)
    ARI64(I64_SUB, a - b)
    ARI64(I64_MUL, a * b)
L_I64_DIV_S : {
    uint64_t a = R(2), b = R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    if (UNLIKELY(a == UINT64_C(0x8000000000000000) && b == UINT64_MAX))
        TRAP(KUMO_ETRAP_INT_OVERFLOW);
    R(1) = (uint64_t)((int64_t)a / (int64_t)b);
    ip += 4;
    NEXT;
}
L_I64_DIV_U : {
    uint64_t a = R(2), b = R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    R(1) = a / b;
    ip += 4;
    NEXT;
}
L_I64_REM_S : {
    uint64_t a = R(2), b = R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    R(1) = b == UINT64_MAX ? 0 : (uint64_t)((int64_t)a % (int64_t)b);
    ip += 4;
    NEXT;
}
L_I64_REM_U : {
    uint64_t a = R(2), b = R(3);
    if (UNLIKELY(b == 0))
        TRAP(KUMO_ETRAP_DIV_ZERO);
    R(1) = a % b;
    ip += 4;
    NEXT;
}
    ARI64(I64_AND, a & b)
    ARI64(I64_OR, a | b)
    ARI64(I64_XOR, a ^ b)
    ARI64(I64_SHL, a << (b & 63))
    ARI64(I64_SHR_S, (int64_t)a >> (b & 63))
    ARI64(I64_SHR_U, a >> (b & 63))
    ARI64(I64_ROTL, kn_rotl64(a, b))
    ARI64(I64_ROTR, kn_rotr64(a, b))

    /* ---- f32 arithmetic ---- */
    UNC(F32_ABS, kn_abs32(a))
    UNC(F32_NEG, kn_neg32(a))
    UNF32(F32_CEIL, kn_ceil32(a))
    UNF32(F32_FLOOR, kn_floor32(a))
    UNF32(F32_TRUNC, kn_trunc32(a))
    UNF32(F32_NEAREST, kn_nearest32(a))
    UNF32(F32_SQRT, sqrtf(a))
    BINF32(F32_ADD, a + b)
    BINF32(F32_SUB, a - b)
    BINF32(F32_MUL, a * b)
    BINF32(F32_DIV, a / b)
    BINC(F32_MIN, kn_fmin32(a, b))
    BINC(F32_MAX, kn_fmax32(a, b))
    BINC(F32_COPYSIGN, kn_copysign32(a, b))

    /* ---- f64 arithmetic ---- */
    UNC(F64_ABS, kn_abs64(a))
    UNC(F64_NEG, kn_neg64(a))
    UNF64(F64_CEIL, kn_ceil64(a))
    UNF64(F64_FLOOR, kn_floor64(a))
    UNF64(F64_TRUNC, kn_trunc64(a))
    UNF64(F64_NEAREST, kn_nearest64(a))
    UNF64(F64_SQRT, sqrt(a))
    BINF64(F64_ADD, a + b)
    BINF64(F64_SUB, a - b)
    BINF64(F64_MUL, a * b)
    BINF64(F64_DIV, a / b)
    BINC(F64_MIN, kn_fmin64(a, b))
    BINC(F64_MAX, kn_fmax64(a, b))
    BINC(F64_COPYSIGN, kn_copysign64(a, b))

    /* ---- conversions ---- */
    UNC(I32_WRAP_I64, (uint32_t)a)
    TRUNC(I32_TRUNC_F32_S, kn_f32, kn_in_i32_s, (uint32_t)(int32_t)x)
    TRUNC(I32_TRUNC_F32_U, kn_f32, kn_in_i32_u, (uint32_t)x)
    TRUNC(I32_TRUNC_F64_S, kn_f64, kn_in_i32_s, (uint32_t)(int32_t)x)
    TRUNC(I32_TRUNC_F64_U, kn_f64, kn_in_i32_u, (uint32_t)x)
    UNC(I64_EXTEND_I32_S, (uint64_t)(int64_t)(int32_t)(uint32_t)a)
    UNC(I64_EXTEND_I32_U, (uint32_t)a)
    TRUNC(I64_TRUNC_F32_S, kn_f32, kn_in_i64_s, (uint64_t)(int64_t)x)
    TRUNC(I64_TRUNC_F32_U, kn_f32, kn_in_i64_u, (uint64_t)x)
    TRUNC(I64_TRUNC_F64_S, kn_f64, kn_in_i64_s, (uint64_t)(int64_t)x)
    TRUNC(I64_TRUNC_F64_U, kn_f64, kn_in_i64_u, (uint64_t)x)
    UNC(F32_CONVERT_I32_S, kn_bits32((float)(int32_t)(uint32_t)a))
    UNC(F32_CONVERT_I32_U, kn_bits32((float)(uint32_t)a))
    UNC(F32_CONVERT_I64_S, kn_bits32((float)(int64_t)a))
    UNC(F32_CONVERT_I64_U, kn_bits32((float)a))
    UNC(F32_DEMOTE_F64, kn_bits32((float)kn_f64(a)))
    UNC(F64_CONVERT_I32_S, kn_bits64((double)(int32_t)(uint32_t)a))
    UNC(F64_CONVERT_I32_U, kn_bits64((double)(uint32_t)a))
    UNC(F64_CONVERT_I64_S, kn_bits64((double)(int64_t)a))
    UNC(F64_CONVERT_I64_U, kn_bits64((double)a))
    UNC(F64_PROMOTE_F32, kn_bits64((double)kn_f32(a)))
    UNC(I32_REINTERPRET_F32, (uint32_t)a)
    UNC(I64_REINTERPRET_F64, a)
    UNC(F32_REINTERPRET_I32, (uint32_t)a)
    UNC(F64_REINTERPRET_I64, a)
    UNC(I32_EXTEND8_S, (uint32_t)(int32_t)(int8_t)(uint8_t)a)
    UNC(I32_EXTEND16_S, (uint32_t)(int32_t)(int16_t)(uint16_t)a)
    UNC(I64_EXTEND8_S, (uint64_t)(int64_t)(int8_t)(uint8_t)a)
    UNC(I64_EXTEND16_S, (uint64_t)(int64_t)(int16_t)(uint16_t)a)
    UNC(I64_EXTEND32_S, (uint64_t)(int64_t)(int32_t)(uint32_t)a)
    UNC(I32_TRUNC_SAT_F32_S, kn_sat_i32_s(kn_f32(a)))
    UNC(I32_TRUNC_SAT_F32_U, kn_sat_i32_u(kn_f32(a)))
    UNC(I32_TRUNC_SAT_F64_S, kn_sat_i32_s(kn_f64(a)))
    UNC(I32_TRUNC_SAT_F64_U, kn_sat_i32_u(kn_f64(a)))
    UNC(I64_TRUNC_SAT_F32_S, kn_sat_i64_s(kn_f32(a)))
    UNC(I64_TRUNC_SAT_F32_U, kn_sat_i64_u(kn_f32(a)))
    UNC(I64_TRUNC_SAT_F64_S, kn_sat_i64_s(kn_f64(a)))
    UNC(I64_TRUNC_SAT_F64_U, kn_sat_i64_u(kn_f64(a)))

out_of_fuel:
    rc = (s->interrupt & KE_INTERRUPT) ? KUMO_ETRAP_INTERRUPTED
                                       : KUMO_ETRAP_OUT_OF_FUEL;
trap:
    ke_trap(s, rc);
fail:
done:
    s->depth = depth0;
    s->fuel = fuel;
    return rc;
}

int
ke_interp_call(kumo_store *s, kumo_func *f, kumo_val *sp)
{
    return run(s, f, sp, NULL);
}

const int32_t *
ke_interp_handlers(bool unchecked)
{
    const int32_t *h[2] = {NULL, NULL};
    run(NULL, NULL, NULL, h);
    return h[unchecked];
}
