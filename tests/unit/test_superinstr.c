/* test_superinstr.c - pair and chain superinstructions (pairs.c, ops.def
 * KE_PAIR) and the multiply-add into memory (F64_MADD_RMW): a module whose
 * functions compile to them (asserted on the threaded code), run with
 * guarded memory (unchecked handlers, faults become traps) and with heap
 * memory (checked handlers), against plain C. A fused access out of
 * bounds must trap after exactly the effects of the instructions before
 * it, as the unfused sequence would. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/code.h"
#include "../../src/engine/module.h"
#include "kumo/engine.h"
#include "unit.h"

/* The module (wat2wasm of the text below; function indices in order):
 * (module
 *   (memory (export "mem") 1)
 *   (func $axpy2 (export "axpy2") (param i32 i32 f64) (local i32 i32 i32)
 *     loop
 *       local.get 0 local.get 3 i32.add local.tee 4
 *       local.get 2
 *       local.get 1 local.get 3 i32.add local.tee 5
 *       f64.load f64.mul local.get 4 f64.load f64.add f64.store
 *       local.get 4 i32.const 8 i32.add local.tee 4
 *       local.get 2
 *       local.get 5 i32.const 8 i32.add
 *       f64.load f64.mul local.get 4 f64.load f64.add f64.store
 *       local.get 3 i32.const 16 i32.add local.tee 3
 *       i32.const 64 i32.ne br_if 0
 *     end)
 *   (func $fib (export "fib") (param i32) (result i32) (local i32)
 *     i32.const 0 local.set 1
 *     block
 *       local.get 0 i32.const 2 i32.lt_u br_if 0
 *       i32.const 0 local.set 1
 *       loop
 *         local.get 0 i32.const -1 i32.add call $fib local.get 1 i32.add local.set 1
 *         local.get 0 i32.const -2 i32.add local.tee 0 i32.const 1 i32.gt_u br_if 0
 *       end
 *     end
 *     local.get 0 local.get 1 i32.add)
 *   (func $tak (export "tak") (param i32 i32 i32) (result i32) (local i32 i32)
 *     block
 *       local.get 1 local.get 0 i32.ge_s br_if 0
 *       loop
 *         local.get 0 i32.const -1 i32.add local.get 1 local.get 2 call $tak local.set 3
 *         local.get 1 i32.const -1 i32.add local.get 2 local.get 0 call $tak local.set 4
 *         local.get 2 i32.const -1 i32.add local.get 0 local.get 1 call $tak local.set 2
 *         local.get 4 local.set 1 local.get 3 local.set 0
 *         local.get 4 local.get 3 i32.lt_s br_if 0
 *       end
 *     end
 *     local.get 2)
 *   (func $ack (export "ack") (param i32 i32) (result i32)
 *     block
 *       local.get 0 i32.eqz br_if 0
 *       loop
 *         block
 *           block
 *             local.get 1 br_if 0
 *             i32.const 1 local.set 1
 *             br 1
 *           end
 *           local.get 0 local.get 1 i32.const -1 i32.add call $ack local.set 1
 *         end
 *         local.get 0 i32.const -1 i32.add local.tee 0 br_if 0
 *       end
 *     end
 *     local.get 1 i32.const 1 i32.add)
 *   ;; sha-256: s0(w) + w2, S0(a) + maj-like, S1(e) + ch-like (rotl forms)
 *   (func $sigma (export "sigma") (param i32 i32 i32 i32) (result i32)
 *     (local i32 i32)
 *     local.get 0 i32.const 25 i32.rotl local.get 0 i32.const 14 i32.rotl i32.xor
 *     local.get 0 i32.const 3 i32.shr_u i32.xor
 *     local.get 1 i32.add local.set 4
 *     local.get 1 i32.const 30 i32.rotl local.get 1 i32.const 19 i32.rotl i32.xor
 *     local.get 1 i32.const 10 i32.rotl i32.xor
 *     local.get 2 local.get 3 i32.xor local.get 1 i32.and
 *     i32.add local.set 5
 *     local.get 2 i32.const 26 i32.rotl local.get 2 i32.const 21 i32.rotl i32.xor
 *     local.get 2 i32.const 7 i32.rotl i32.xor
 *     local.get 3 local.get 2 i32.and i32.add
 *     local.get 4 i32.add local.get 5 i32.add)
 *   ;; load, copy and branch chains of a bytecode loop
 *   (func $scan (export "scan") (param i32 i32) (result i32)
 *     (local i32 i32 i32 i32 i32 i32)
 *     block
 *       loop
 *         local.get 2 i32.const 1 i32.add local.set 3
 *         local.get 0 local.get 2 i32.const 2 i32.shl i32.add i32.load local.tee 4
 *         local.set 5
 *         local.get 6 local.get 4 i32.add local.set 6
 *         i32.const -1 local.set 7
 *         local.get 1 local.get 3 i32.lt_u br_if 1
 *         local.get 3 local.set 2
 *         local.get 2 local.get 1 i32.lt_u br_if 0
 *       end
 *       i32.const 5 local.set 7
 *     end
 *     local.get 6 local.get 5 i32.add local.get 7 i32.xor)
 *   ;; f64 store then load; multiply twice into memory
 *   (func $fmem (export "fmem") (param i32 i32 f64 f64) (result f64)
 *     local.get 0 local.get 2 f64.store
 *     local.get 1 f64.load local.set 3
 *     local.get 0 local.get 2 local.get 3 local.get 2 f64.mul f64.mul local.get 0 f64.load f64.add f64.store
 *     local.get 3)
 *   ;; i32 loads: load, load; load, compare-branch; store8, load
 *   (func $imem (export "imem") (param i32 i32 i32) (result i32) (local i32 i32)
 *     local.get 0 i32.load local.set 3
 *     local.get 1 i32.load local.set 4
 *     block
 *       local.get 2 i32.load local.get 4 i32.ge_u br_if 0
 *       local.get 3 i32.const 100 i32.add local.set 3
 *     end
 *     local.get 0 local.get 3 i32.store8
 *     local.get 1 i32.load local.get 4 i32.xor local.get 3 i32.sub)
 * )
 */
static const uint8_t module_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x29, 0x06, 0x60,
    0x03, 0x7f, 0x7f, 0x7c, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x03,
    0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60,
    0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x04, 0x7f, 0x7f, 0x7c,
    0x7c, 0x01, 0x7c, 0x03, 0x09, 0x08, 0x00, 0x01, 0x02, 0x03, 0x04, 0x03,
    0x05, 0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x3e, 0x09, 0x03, 0x6d,
    0x65, 0x6d, 0x02, 0x00, 0x05, 0x61, 0x78, 0x70, 0x79, 0x32, 0x00, 0x00,
    0x03, 0x66, 0x69, 0x62, 0x00, 0x01, 0x03, 0x74, 0x61, 0x6b, 0x00, 0x02,
    0x03, 0x61, 0x63, 0x6b, 0x00, 0x03, 0x05, 0x73, 0x69, 0x67, 0x6d, 0x61,
    0x00, 0x04, 0x04, 0x73, 0x63, 0x61, 0x6e, 0x00, 0x05, 0x04, 0x66, 0x6d,
    0x65, 0x6d, 0x00, 0x06, 0x04, 0x69, 0x6d, 0x65, 0x6d, 0x00, 0x07, 0x0a,
    0x84, 0x04, 0x08, 0x4c, 0x01, 0x03, 0x7f, 0x03, 0x40, 0x20, 0x00, 0x20,
    0x03, 0x6a, 0x22, 0x04, 0x20, 0x02, 0x20, 0x01, 0x20, 0x03, 0x6a, 0x22,
    0x05, 0x2b, 0x03, 0x00, 0xa2, 0x20, 0x04, 0x2b, 0x03, 0x00, 0xa0, 0x39,
    0x03, 0x00, 0x20, 0x04, 0x41, 0x08, 0x6a, 0x22, 0x04, 0x20, 0x02, 0x20,
    0x05, 0x41, 0x08, 0x6a, 0x2b, 0x03, 0x00, 0xa2, 0x20, 0x04, 0x2b, 0x03,
    0x00, 0xa0, 0x39, 0x03, 0x00, 0x20, 0x03, 0x41, 0x10, 0x6a, 0x22, 0x03,
    0x41, 0xc0, 0x00, 0x47, 0x0d, 0x00, 0x0b, 0x0b, 0x36, 0x01, 0x01, 0x7f,
    0x41, 0x00, 0x21, 0x01, 0x02, 0x40, 0x20, 0x00, 0x41, 0x02, 0x49, 0x0d,
    0x00, 0x41, 0x00, 0x21, 0x01, 0x03, 0x40, 0x20, 0x00, 0x41, 0x7f, 0x6a,
    0x10, 0x01, 0x20, 0x01, 0x6a, 0x21, 0x01, 0x20, 0x00, 0x41, 0x7e, 0x6a,
    0x22, 0x00, 0x41, 0x01, 0x4b, 0x0d, 0x00, 0x0b, 0x0b, 0x20, 0x00, 0x20,
    0x01, 0x6a, 0x0b, 0x49, 0x01, 0x02, 0x7f, 0x02, 0x40, 0x20, 0x01, 0x20,
    0x00, 0x4e, 0x0d, 0x00, 0x03, 0x40, 0x20, 0x00, 0x41, 0x7f, 0x6a, 0x20,
    0x01, 0x20, 0x02, 0x10, 0x02, 0x21, 0x03, 0x20, 0x01, 0x41, 0x7f, 0x6a,
    0x20, 0x02, 0x20, 0x00, 0x10, 0x02, 0x21, 0x04, 0x20, 0x02, 0x41, 0x7f,
    0x6a, 0x20, 0x00, 0x20, 0x01, 0x10, 0x02, 0x21, 0x02, 0x20, 0x04, 0x21,
    0x01, 0x20, 0x03, 0x21, 0x00, 0x20, 0x04, 0x20, 0x03, 0x48, 0x0d, 0x00,
    0x0b, 0x0b, 0x20, 0x02, 0x0b, 0x36, 0x00, 0x02, 0x40, 0x20, 0x00, 0x45,
    0x0d, 0x00, 0x03, 0x40, 0x02, 0x40, 0x02, 0x40, 0x20, 0x01, 0x0d, 0x00,
    0x41, 0x01, 0x21, 0x01, 0x0c, 0x01, 0x0b, 0x20, 0x00, 0x20, 0x01, 0x41,
    0x7f, 0x6a, 0x10, 0x03, 0x21, 0x01, 0x0b, 0x20, 0x00, 0x41, 0x7f, 0x6a,
    0x22, 0x00, 0x0d, 0x00, 0x0b, 0x0b, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x0b,
    0x53, 0x01, 0x02, 0x7f, 0x20, 0x00, 0x41, 0x19, 0x77, 0x20, 0x00, 0x41,
    0x0e, 0x77, 0x73, 0x20, 0x00, 0x41, 0x03, 0x76, 0x73, 0x20, 0x01, 0x6a,
    0x21, 0x04, 0x20, 0x01, 0x41, 0x1e, 0x77, 0x20, 0x01, 0x41, 0x13, 0x77,
    0x73, 0x20, 0x01, 0x41, 0x0a, 0x77, 0x73, 0x20, 0x02, 0x20, 0x03, 0x73,
    0x20, 0x01, 0x71, 0x6a, 0x21, 0x05, 0x20, 0x02, 0x41, 0x1a, 0x77, 0x20,
    0x02, 0x41, 0x15, 0x77, 0x73, 0x20, 0x02, 0x41, 0x07, 0x77, 0x73, 0x20,
    0x03, 0x20, 0x02, 0x71, 0x6a, 0x20, 0x04, 0x6a, 0x20, 0x05, 0x6a, 0x0b,
    0x49, 0x01, 0x06, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x02, 0x41, 0x01,
    0x6a, 0x21, 0x03, 0x20, 0x00, 0x20, 0x02, 0x41, 0x02, 0x74, 0x6a, 0x28,
    0x02, 0x00, 0x22, 0x04, 0x21, 0x05, 0x20, 0x06, 0x20, 0x04, 0x6a, 0x21,
    0x06, 0x41, 0x7f, 0x21, 0x07, 0x20, 0x01, 0x20, 0x03, 0x49, 0x0d, 0x01,
    0x20, 0x03, 0x21, 0x02, 0x20, 0x02, 0x20, 0x01, 0x49, 0x0d, 0x00, 0x0b,
    0x41, 0x05, 0x21, 0x07, 0x0b, 0x20, 0x06, 0x20, 0x05, 0x6a, 0x20, 0x07,
    0x73, 0x0b, 0x25, 0x00, 0x20, 0x00, 0x20, 0x02, 0x39, 0x03, 0x00, 0x20,
    0x01, 0x2b, 0x03, 0x00, 0x21, 0x03, 0x20, 0x00, 0x20, 0x02, 0x20, 0x03,
    0x20, 0x02, 0xa2, 0xa2, 0x20, 0x00, 0x2b, 0x03, 0x00, 0xa0, 0x39, 0x03,
    0x00, 0x20, 0x03, 0x0b, 0x39, 0x01, 0x02, 0x7f, 0x20, 0x00, 0x28, 0x02,
    0x00, 0x21, 0x03, 0x20, 0x01, 0x28, 0x02, 0x00, 0x21, 0x04, 0x02, 0x40,
    0x20, 0x02, 0x28, 0x02, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x00, 0x20, 0x03,
    0x41, 0xe4, 0x00, 0x6a, 0x21, 0x03, 0x0b, 0x20, 0x00, 0x20, 0x03, 0x3a,
    0x00, 0x00, 0x20, 0x01, 0x28, 0x02, 0x00, 0x20, 0x04, 0x73, 0x20, 0x03,
    0x6b, 0x0b,
};

enum { F_AXPY2, F_FIB, F_TAK, F_ACK, F_SIGMA, F_SCAN, F_FMEM, F_IMEM };

typedef struct env {
    kumo_store *s;
    kumo_module *m;
    kumo_instance *inst;
    uint8_t *mem;
} env;

static bool
env_new(env *e, uint32_t flags)
{
    kumo_store_config cfg;
    kumo_extern x;
    memset(e, 0, sizeof *e);
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    if (kumo_module_new(module_wasm, sizeof module_wasm, &e->m, NULL) ||
        kumo_store_new(&cfg, &e->s) ||
        kumo_instance_new(e->s, e->m, NULL, 0, &e->inst, NULL) ||
        kumo_instance_export(e->inst, "mem", 3, &x))
        return false;
    e->mem = kumo_memory_data(x.u.memory);
    return true;
}

static void
env_free(env *e)
{
    if (e->s)
        kumo_store_free(e->s);
    if (e->m)
        kumo_module_free(e->m);
}

static int
call(env *e, const char *name, const kumo_val *args, kumo_val *res)
{
    kumo_extern x;
    if (kumo_instance_export(e->inst, name, strlen(name), &x))
        return -1;
    return kumo_func_call(e->s, x.u.func, args, res);
}

/* Whether function fi's threaded code (both copies) runs op somewhere. */
static bool
has_op(const kumo_module *m, uint32_t fi, ke_op op)
{
    const ke_code *c = m->bodies[fi].code;
    uint32_t h0 = (uint32_t)ke_interp_handlers(false)[op];
    uint32_t h1 = (uint32_t)ke_interp_handlers(true)[op];
    for (uint32_t pc = 0, len; pc < c->nwords; pc += len) {
        if (!(len = ke_code_instr_len(c, pc)))
            return false;
        if (c->run[0][pc] == h0 && c->run[1][pc] == h1)
            return true;
    }
    return false;
}

/* Whether function fi's compiled words have instruction op. */
static bool
has_word(const kumo_module *m, uint32_t fi, ke_op op)
{
    const ke_code *c = m->bodies[fi].code;
    for (uint32_t pc = 0, len; pc < c->nwords; pc += len) {
        if (!(len = ke_code_instr_len(c, pc)))
            return false;
        if (c->words[pc] == op)
            return true;
    }
    return false;
}

static uint64_t
bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static double
f64_at(const uint8_t *p)
{
    double d;
    memcpy(&d, p, 8);
    return d;
}

static void
put_f64(uint8_t *p, double d)
{
    memcpy(p, &d, 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t
u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

KT_TEST(superinstr_formed)
{
    env e;
    KT_REQUIRE(env_new(&e, 0));
    const kumo_module *m = e.m;
    KT_CHECK(has_word(m, F_AXPY2, KE_OP_F64_MADD_RMW));
    KT_CHECK(has_word(m, F_AXPY2, KE_OP_F64_MADD_RMW_AI));
    KT_CHECK(has_op(m, F_AXPY2, KE_OP_T_ADDADD_MADD));
    KT_CHECK(has_op(m, F_AXPY2, KE_OP_T_ADDI_MADDAI_ADDBR));
    KT_CHECK(has_op(m, F_FIB, KE_OP_P_CONST_BRI_LT_U));
    KT_CHECK(has_op(m, F_FIB, KE_OP_P_ADD_ADDBRI_GT_U));
    KT_CHECK(has_op(m, F_FIB, KE_OP_P_ADDI_CALL));
    KT_CHECK(has_op(m, F_FIB, KE_OP_P_ADD_RETURN));
    KT_CHECK(has_op(m, F_TAK, KE_OP_T_ADDI_COPY2_CALL));
    KT_CHECK(has_op(m, F_TAK, KE_OP_P_COPY_RETURN));
    KT_CHECK(has_op(m, F_ACK, KE_OP_T_ADDI_COPY_CALL));
    KT_CHECK(has_op(m, F_ACK, KE_OP_P_ADDI_BR_IF));
    KT_CHECK(has_op(m, F_ACK, KE_OP_P_ADDI_RETURN));
    KT_CHECK(has_op(m, F_SIGMA, KE_OP_T_ROTL2_XORSHR_ADD));
    KT_CHECK(has_op(m, F_SIGMA, KE_OP_T_ROTL2_XORROTL_ANDXOR));
    KT_CHECK(has_op(m, F_SIGMA, KE_OP_T_ROTL2_XORROTL_ADDAND));
    KT_CHECK(has_op(m, F_SCAN, KE_OP_T_ADDI_LOADAS_COPY));
    KT_CHECK(has_op(m, F_SCAN, KE_OP_Q_CONSTBR_COPYBR));
    KT_CHECK(has_op(m, F_FMEM, KE_OP_P_F64STORE_LOAD));
    KT_CHECK(has_op(m, F_FMEM, KE_OP_P_MULMUL_ADDRMW));
    KT_CHECK(has_op(m, F_IMEM, KE_OP_P_LOAD_LOAD));
    KT_CHECK(has_op(m, F_IMEM, KE_OP_P_LOAD_BR_GE_U));
    KT_CHECK(has_op(m, F_IMEM, KE_OP_P_STORE8_LOAD));
    /* The opcode words keep the separate instructions. */
    KT_CHECK(!has_word(m, F_AXPY2, KE_OP_T_ADDADD_MADD));
    KT_CHECK(ke_code_check(m->bodies[F_SCAN].code) == 0);
    env_free(&e);
}

/* c[k] += a * b[k] for k < 8 (the loop runs 4 times, 2 elements each),
 * with the product rounded before the add. */
static void
axpy_ref(double *c, const double *b, double a)
{
    for (int k = 0; k < 8; k++) {
        volatile double t = a * b[k];
        c[k] = t + c[k];
    }
}

static void
axpy_case(env *e, uint32_t c, uint32_t b, double a)
{
    double cw[8], bw[8];
    for (int k = 0; k < 8; k++) {
        cw[k] = 1.0 / (k + 3) + k;
        bw[k] = (k - 3.5) * 1.0000001;
        put_f64(e->mem + c + 8 * k, cw[k]);
        put_f64(e->mem + b + 8 * k, bw[k]);
    }
    bw[5] = INFINITY;
    put_f64(e->mem + b + 40, INFINITY);
    axpy_ref(cw, bw, a);
    kumo_val args[3] = {c, b, bits(a)};
    KT_CHECK(call(e, "axpy2", args, NULL) == 0);
    for (int k = 0; k < 8; k++) {
        double got = f64_at(e->mem + c + 8 * k);
        KT_CHECK(isnan(cw[k]) ? isnan(got) : bits(got) == bits(cw[k]));
    }
}

static void
axpy(uint32_t flags)
{
    env e;
    KT_REQUIRE(env_new(&e, flags));
    axpy_case(&e, 0, 1024, 1.5);
    axpy_case(&e, 4096, 64, 1e-17);    /* the product rounds away */
    axpy_case(&e, 8, 128, NAN);        /* NaN everywhere */
    axpy_case(&e, 512, 256, 0.0);      /* 0 * inf is NaN at k = 5 */
    KT_CHECK(isnan(f64_at(e.mem + 512 + 40)));

    /* The second element's store (c + 8) is out of bounds: the first
     * element is updated, the second access traps. */
    uint32_t c = 65536 - 8;
    put_f64(e.mem + c, 2.0);
    put_f64(e.mem + 0, 3.0);
    kumo_val args[3] = {c, 0, bits(0.5)};
    KT_CHECK(call(&e, "axpy2", args, NULL) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(f64_at(e.mem + c) == 3.5);
    /* The second element's load (b + 8) is out of bounds: c[1] keeps
     * its value. */
    put_f64(e.mem + 0, 2.0);
    put_f64(e.mem + 8, 7.0);
    put_f64(e.mem + 65528, 4.0);
    kumo_val args2[3] = {0, 65528, bits(0.25)};
    KT_CHECK(call(&e, "axpy2", args2, NULL) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(f64_at(e.mem + 0) == 3.0 && f64_at(e.mem + 8) == 7.0);
    /* Both out of bounds at once, and an address that wraps. */
    kumo_val args3[3] = {0xfffffff8u, 0xfffffff0u, bits(1.0)};
    KT_CHECK(call(&e, "axpy2", args3, NULL) == KUMO_ETRAP_MEMORY_OOB);
    env_free(&e);
}

KT_TEST(superinstr_madd_loop)
{
    axpy(0);
    axpy(KUMO_STORE_NO_GUARD);
}

static uint32_t
fib_ref(uint32_t n)
{
    return n < 2 ? n : fib_ref(n - 1) + fib_ref(n - 2);
}

static int32_t
tak_ref(int32_t x, int32_t y, int32_t z)
{
    if (y >= x)
        return z;
    return tak_ref(tak_ref(x - 1, y, z), tak_ref(y - 1, z, x),
                   tak_ref(z - 1, x, y));
}

static uint32_t
ack_ref(uint32_t m, uint32_t n)
{
    while (m != 0) {
        n = n == 0 ? 1 : ack_ref(m, n - 1);
        m--;
    }
    return n + 1;
}

KT_TEST(superinstr_calls)
{
    env e;
    KT_REQUIRE(env_new(&e, 0));
    kumo_val r[1];
    for (uint32_t n = 0; n < 22; n += 3) {
        kumo_val a[1] = {n};
        KT_CHECK(call(&e, "fib", a, r) == 0 && (uint32_t)r[0] == fib_ref(n));
    }
    static const int32_t tk[][3] = {{18, 12, 6}, {6, 12, 18}, {-3, -7, 4},
                                    {10, 5, 0}};
    for (size_t i = 0; i < sizeof tk / sizeof tk[0]; i++) {
        kumo_val a[3] = {(uint32_t)tk[i][0], (uint32_t)tk[i][1],
                         (uint32_t)tk[i][2]};
        KT_CHECK(call(&e, "tak", a, r) == 0 &&
                 (int32_t)r[0] == tak_ref(tk[i][0], tk[i][1], tk[i][2]));
    }
    static const uint32_t ak[][2] = {{0, 0}, {0, 0xffffffffu}, {1, 0},
                                     {2, 3}, {3, 3}, {2, 200}};
    for (size_t i = 0; i < sizeof ak / sizeof ak[0]; i++) {
        kumo_val a[2] = {ak[i][0], ak[i][1]};
        KT_CHECK(call(&e, "ack", a, r) == 0 &&
                 (uint32_t)r[0] == ack_ref(ak[i][0], ak[i][1]));
    }
    env_free(&e);
}

static uint32_t
rotl(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static uint32_t
sigma_ref(uint32_t w, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t x = (rotl(w, 25) ^ rotl(w, 14) ^ (w >> 3)) + a;
    uint32_t y = (rotl(a, 30) ^ rotl(a, 19) ^ rotl(a, 10)) + ((b ^ c) & a);
    uint32_t z = (rotl(b, 26) ^ rotl(b, 21) ^ rotl(b, 7)) + (c & b);
    return z + x + y;
}

KT_TEST(superinstr_sigma)
{
    env e;
    KT_REQUIRE(env_new(&e, 0));
    uint32_t s = 12345;
    for (int i = 0; i < 200; i++) {
        uint32_t v[4];
        for (int k = 0; k < 4; k++) {
            s = s * 1103515245u + 12345u;
            v[k] = s ^ (s >> 13);
        }
        if (i == 0)
            v[0] = v[1] = v[2] = v[3] = 0xffffffffu;
        kumo_val a[4] = {v[0], v[1], v[2], v[3]}, r[1];
        KT_CHECK(call(&e, "sigma", a, r) == 0 &&
                 (uint32_t)r[0] == sigma_ref(v[0], v[1], v[2], v[3]));
    }
    env_free(&e);
}

/* scan(base, n): sum of the words base[0..] while the index is below n
 * (at least one), xor'ed with the exit flag. */
static uint32_t
scan_ref(const uint8_t *mem, uint32_t base, uint32_t n)
{
    uint32_t i = 0, acc = 0, last = 0, flag;
    for (;;) {
        uint32_t next = i + 1;
        uint32_t v = u32_at(mem + base + 4 * i);
        last = v;
        acc += v;
        flag = 0xffffffffu;
        if (n < next)
            break;
        i = next;
        if (!(i < n)) {
            flag = 5;
            break;
        }
    }
    return (acc + last) ^ flag;
}

static void
scan(uint32_t flags)
{
    env e;
    KT_REQUIRE(env_new(&e, flags));
    for (uint32_t k = 0; k < 64; k++)
        put_u32(e.mem + 256 + 4 * k, k * 2654435761u);
    static const uint32_t ns[] = {0, 1, 2, 7, 64};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        kumo_val a[2] = {256, ns[i]}, r[1];
        KT_CHECK(call(&e, "scan", a, r) == 0 &&
                 (uint32_t)r[0] == scan_ref(e.mem, 256, ns[i]));
    }
    /* The load runs off the end of memory in the fourth iteration. */
    kumo_val a[2] = {65536 - 12, 100}, r[1];
    KT_CHECK(call(&e, "scan", a, r) == KUMO_ETRAP_MEMORY_OOB);
    env_free(&e);
}

KT_TEST(superinstr_chains)
{
    scan(0);
    scan(KUMO_STORE_NO_GUARD);
}

static void
fmem(uint32_t flags)
{
    env e;
    KT_REQUIRE(env_new(&e, flags));
    kumo_val r[1];
    /* fmem(p, q, x, _): mem[p] = x; y = mem[q]; mem[p] = x * (y * x) + x;
     * returns y. */
    put_f64(e.mem + 64, 3.0);
    kumo_val a[4] = {16, 64, bits(2.0), 0};
    KT_CHECK(call(&e, "fmem", a, r) == 0 && r[0] == bits(3.0));
    KT_CHECK(f64_at(e.mem + 16) == 14.0);
    kumo_val an[4] = {16, 64, bits(NAN), 0};
    KT_CHECK(call(&e, "fmem", an, r) == 0 && r[0] == bits(3.0));
    KT_CHECK(isnan(f64_at(e.mem + 16)));
    /* The load after the store is out of bounds: the store happened. */
    kumo_val ao[4] = {24, 65536 - 4, bits(5.0), 0};
    KT_CHECK(call(&e, "fmem", ao, r) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(f64_at(e.mem + 24) == 5.0);
    /* The store itself is out of bounds. */
    kumo_val as[4] = {65536 - 7, 64, bits(5.0), 0};
    KT_CHECK(call(&e, "fmem", as, r) == KUMO_ETRAP_MEMORY_OOB);
    env_free(&e);
}

static void
imem(uint32_t flags)
{
    env e;
    KT_REQUIRE(env_new(&e, flags));
    kumo_val r[1];
    /* imem(a, b, c): x = M[a]; y = M[b]; if (M[c] < y) x += 100;
     * M8[a] = x; returns (M[b] ^ y) - x. */
    put_u32(e.mem + 100, 0x1234);
    put_u32(e.mem + 200, 50);
    put_u32(e.mem + 300, 49);
    kumo_val a[3] = {100, 200, 300};
    KT_CHECK(call(&e, "imem", a, r) == 0 &&
             (uint32_t)r[0] == (uint32_t)(0 - (0x1234 + 100)));
    KT_CHECK(u32_at(e.mem + 100) ==
             ((0x1234 & ~0xffu) | ((0x1234 + 100) & 0xff)));
    put_u32(e.mem + 300, 50);
    put_u32(e.mem + 104, 0);
    put_u32(e.mem + 100, 0x1200);
    KT_CHECK(call(&e, "imem", a, r) == 0 &&
             (uint32_t)r[0] == (uint32_t)(0 - 0x1200));
    /* a store of one byte at a + 0 where a aliases b: M[b] changed. */
    put_u32(e.mem + 100, 0x01020304);
    kumo_val al[3] = {100, 100, 300};
    uint32_t x = 0x01020304 + 100, after = (0x01020304 & ~0xffu) | (x & 0xff);
    KT_CHECK(call(&e, "imem", al, r) == 0 &&
             (uint32_t)r[0] == (uint32_t)((after ^ 0x01020304) - x));
    /* Out of bounds in each pair's second element. */
    kumo_val ob[3] = {100, 65533, 300};
    KT_CHECK(call(&e, "imem", ob, r) == KUMO_ETRAP_MEMORY_OOB);
    kumo_val oc[3] = {100, 200, 0xfffffffcu};
    KT_CHECK(call(&e, "imem", oc, r) == KUMO_ETRAP_MEMORY_OOB);
    env_free(&e);
}

KT_TEST(superinstr_memory_pairs)
{
    fmem(0);
    fmem(KUMO_STORE_NO_GUARD);
    imem(0);
    imem(KUMO_STORE_NO_GUARD);
}
