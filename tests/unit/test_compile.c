/* test_compile.c - function-body validation and translation to internal
 * code (compile.c) and module-level validation (validate.c), on
 * hand-written binaries: exact code for small functions, structural checks
 * (ke_code_check) for control flow, and the spec's messages. */
#include <string.h>

#include "../../src/engine/code.h"
#include "../../src/engine/module.h"
#include "unit.h"

typedef struct mbuf {
    uint8_t b[1024];
    size_t n;
} mbuf;

static void
put(mbuf *w, const void *s, size_t n)
{
    memcpy(w->b + w->n, s, n);
    w->n += n;
}

static void
section(mbuf *w, uint8_t id, const void *s, size_t n)
{
    w->b[w->n++] = id;
    w->b[w->n++] = (uint8_t)n;
    put(w, s, n);
}

/* These tests check WebAssembly 2.0's messages with multi-memory and
 * exceptions off (kumo_features_default enables them; extended-const is
 * kept, its constant expressions are tested here). */
static const kumo_features wasm2 = {.extended_const = true};

/* A module with the given type section contents, one function of type 0
 * with the given body (locals + code), optionally one memory, and extra
 * raw sections appended after the code section. */
static int
build(const char *types, size_t tn, bool mem, const char *body, size_t bn,
      kumo_module **out, kumo_diag *d)
{
    mbuf w = {.n = 0};
    uint8_t code[256];
    put(&w, "\0asm\1\0\0\0", 8);
    section(&w, 1, types, tn);
    section(&w, 3, "\x01\x00", 2);
    if (mem)
        section(&w, 5, "\x01\x00\x01", 3);
    code[0] = 1;
    code[1] = (uint8_t)bn;
    memcpy(code + 2, body, bn);
    section(&w, 10, code, bn + 2);
    memset(d, 0, sizeof *d);
    return kumo_module_new_with(w.b, w.n, &wasm2, out, d);
}

#define BUILD(types, mem, body, out, d)                                        \
    build(types, sizeof(types) - 1, mem, body, sizeof(body) - 1, out, d)

static const ke_code *
code0(const kumo_module *m)
{
    return m->bodies[0].code;
}

/* Length in words of the instruction at pc. */
static uint32_t
ilen(const ke_code *c, uint32_t pc)
{
    uint32_t o = c->words[pc], len = 1;
    for (const char *f = ke_op_format((ke_op)o); *f; f++)
        len += *f == 'L' ? 2 : 1;
    if (o == KE_OP_BR_TABLE)
        len += c->words[pc + 2] + 1;
    return len;
}

/* Number of instructions with opcode op. */
static int
count_op(const ke_code *c, ke_op op)
{
    int n = 0;
    for (uint32_t pc = 0; pc < c->nwords; pc += ilen(c, pc))
        n += c->words[pc] == op;
    return n;
}

/* Address of the first instruction with opcode op, or UINT32_MAX. */
static uint32_t
find_op(const ke_code *c, ke_op op)
{
    for (uint32_t pc = 0; pc < c->nwords; pc += ilen(c, pc))
        if (c->words[pc] == op)
            return pc;
    return UINT32_MAX;
}

KT_TEST(compile_op_tables)
{
    KT_CHECK(!strcmp(ke_op_name(KE_OP_I32_ADD), "I32_ADD"));
    KT_CHECK(!strcmp(ke_op_format(KE_OP_I32_ADD), "SSS"));
    KT_CHECK(!strcmp(ke_op_format(KE_OP_I32_EQZ), "SS"));
    KT_CHECK(!strcmp(ke_op_format(KE_OP_I64_LOAD8_U), "SSI"));
    KT_CHECK(!strcmp(ke_op_format(KE_OP_CALL_INDIRECT), "IISS"));
    KT_CHECK(!strcmp(ke_op_name(KE_OP_TABLE_INIT), "TABLE_INIT"));
    for (int op = 0; op < KE_OP_COUNT_; op++)
        KT_CHECK(ke_op_format((ke_op)op) != NULL);
    KT_CHECK(ke_op_format(KE_OP_COUNT_) == NULL);
}

/* (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.add):
 * the local.gets fold into the add's operands and the add writes the
 * result slot fp[0] directly. */
KT_TEST(compile_add_exact)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x02\x7f\x7f\x01\x7f", false,
                   "\x00\x20\x00\x20\x01\x6a\x0b", &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    /* clang-format off */
    static const uint32_t want[] = {
        KE_OP_I32_ADD, 0, 0, 1, KE_OP_RETURN,
    };
    /* clang-format on */
    KT_CHECK(c->nwords == sizeof want / sizeof want[0]);
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    KT_CHECK(c->nparams == 2 && c->nresults == 1 && c->nlocals == 0);
    KT_CHECK(c->frame_size == 2 + 2 + 1);
    KT_CHECK(ke_code_check(c) == 0);
    kumo_module_free(m);
}

/* (func (result i32) (local i64) i64.const 5 local.set 0 i32.const 7):
 * constants are emitted where they are consumed, straight into the
 * local and the result slot. */
KT_TEST(compile_locals_consts)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x00\x01\x7f", false,
                   "\x01\x01\x7e\x42\x05\x21\x00\x41\x07\x0b", &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    /* clang-format off */
    static const uint32_t want[] = {
        KE_OP_CONST64, 0, 5, 0, KE_OP_CONST32, 0, 7, KE_OP_RETURN,
    };
    /* clang-format on */
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    KT_CHECK(c->nlocals == 1);
    kumo_module_free(m);
}

/* Branch out of two nested blocks with a value:
 * (func (result i32)
 *   (block (result i32) (i32.const 1) (block (i32.const 2) (br 1)) drop
 *     (i32.const 3)))
 * The br puts its value (2) at height 0 and jumps past the outer block's
 * end; constants are materialised when the inner block starts (1) and at
 * the outer block's end (3). */
KT_TEST(compile_br_nested)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x00\x01\x7f", false,
                   "\x00\x02\x7f\x41\x01\x02\x40\x41\x02\x0c\x01\x0b\x1a"
                   "\x41\x03\x0b\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    KT_CHECK(ke_code_check(c) == 0);
    KT_CHECK(count_op(c, KE_OP_BR) == 1);
    /* clang-format off */
    static const uint32_t want[] = {
        KE_OP_CONST32, 0, 1, KE_OP_CONST32, 0, 2, KE_OP_BR, 11,
        KE_OP_CONST32, 0, 3, KE_OP_RETURN,
    };
    /* clang-format on */
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    kumo_module_free(m);
}

/* A pending local.get must be read before its local is written:
 * (func (param i32) (result i32) local.get 0 local.get 0 i32.const 1
 *   i32.add local.set 0 local.get 0 i32.sub)   ;; x - (x + 1) */
KT_TEST(compile_fold_local_hazard)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x01\x7f\x01\x7f", false,
                   "\x00\x20\x00\x20\x00\x41\x01\x6a\x21\x00\x20\x00\x6b"
                   "\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    /* clang-format off */
    static const uint32_t want[] = {
        KE_OP_I32_ADD_I, 2, 0, 1, /* x + 1 into its stack slot */
        KE_OP_COPY2, 1, 0,        /* the first local.get, before the set, */
        0, 2,                     /* then local.set 0 (merged COPYs) */
        KE_OP_I32_SUB, 0, 1, 0,   /* straight into the result slot */
        KE_OP_RETURN,
    };
    /* clang-format on */
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    KT_CHECK(ke_code_check(c) == 0);
    kumo_module_free(m);
}

/* A comparison feeding br_if becomes one fused instruction:
 * (func (param i32) (result i32)
 *   block local.get 0 i32.const 10 i32.lt_s br_if 0 end i32.const 0) */
KT_TEST(compile_fused_compare_branch)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x01\x7f\x01\x7f", false,
                   "\x00\x02\x40\x20\x00\x41\x0a\x48\x0d\x00\x0b\x41\x00"
                   "\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    /* clang-format off */
    static const uint32_t want[] = {
        KE_OP_BR_I32_LT_S_I, 0, 10, 4,
        KE_OP_CONST32, 0, 0, KE_OP_RETURN,
    };
    /* clang-format on */
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    KT_CHECK(ke_code_check(c) == 0);
    KT_CHECK(!strcmp(ke_op_format(KE_OP_BR_I32_LT_S_I), "SIT"));
    KT_CHECK(!strcmp(ke_op_format(KE_OP_BR_I64_NE), "SST"));
    KT_CHECK(!strcmp(ke_op_format(KE_OP_I64_SHL_I), "SSI"));
    kumo_module_free(m);
}

/* Dead code is validated but not emitted:
 * (func (result i32) unreachable i32.add) */
KT_TEST(compile_dead_code)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x00\x01\x7f", false, "\x00\x00\x6a\x0b", &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    KT_CHECK(c->nwords == 1 && c->words[0] == KE_OP_UNREACHABLE);
    KT_CHECK(c->frame_size >= 1);
    KT_CHECK(ke_code_check(c) == 0);
    kumo_module_free(m);
    /* ...but must still type-check: unreachable (f32.const 0) i32.add */
    rc = BUILD("\x01\x60\x00\x01\x7f", false,
               "\x00\x00\x43\x00\x00\x00\x00\x6a\x0b", &m, &d);
    KT_CHECK(rc == KUMO_EINVALID && !strcmp(d.message, "type mismatch"));
}

/* A loop with a parameter counting down (type 1 = [i32] -> [i32]):
 * (func (param i32) (result i32) local.get 0
 *   (loop (param i32) (result i32) i32.const 1 i32.sub local.tee 0
 *     local.get 0 br_if 0)) */
KT_TEST(compile_loop_params)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x02\x60\x01\x7f\x01\x7f\x60\x01\x7f\x01\x7f", false,
                   "\x00\x20\x00\x03\x01\x41\x01\x6b\x22\x00\x20\x00\x0d"
                   "\x00\x0b\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    KT_CHECK(ke_code_check(c) == 0);
    /* COPY s1 s0 (the param enters the loop at its slot), then the sub
     * writes local 0 directly (local.tee); the loop value is then local 0,
     * so the branch back moves it: BR_UNLESS over COPY + BR to word 3. */
    KT_CHECK(c->words[0] == KE_OP_COPY && c->words[1] == 1 && c->words[2] == 0);
    KT_CHECK(c->words[3] == KE_OP_I32_SUB_I && c->words[4] == 0 &&
             c->words[5] == 1 && c->words[6] == 1);
    KT_CHECK(count_op(c, KE_OP_BR_UNLESS) == 1);
    uint32_t pc = find_op(c, KE_OP_BR);
    KT_REQUIRE(pc != UINT32_MAX);
    KT_CHECK(c->words[pc + 1] == 3);
    kumo_module_free(m);
}

/* br_table whose targets need value moves goes through trampolines:
 * (func (param i32) (result i32)
 *   (block (result i32) (block (result i32)
 *     (i32.const 9) (i32.const 8) (local.get 0) (br_table 0 1 0))
 *     drop (i32.const 5)))
 * height 0 = 9, height 1 = 8, the index at height 2: both labels need
 * the 8 moved to height 0. */
KT_TEST(compile_br_table_trampolines)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x01\x7f\x01\x7f", false,
                   "\x00\x02\x7f\x02\x7f\x41\x09\x41\x08\x20\x00\x0e\x02"
                   "\x00\x01\x00\x0b\x1a\x41\x05\x0b\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    KT_CHECK(ke_code_check(c) == 0);
    KT_CHECK(count_op(c, KE_OP_BR_TABLE) == 1);
    /* One trampoline per distinct depth: two COPY+BR sequences. */
    KT_CHECK(count_op(c, KE_OP_BR) == 2);
    kumo_module_free(m);
}

/* if without else: params must equal results; with them equal the value
 * passes through. (func (param i32) (result i32) local.get 0 local.get 0
 * (if (param i32) (result i32) (then i32.const 1 i32.add))) */
KT_TEST(compile_if_no_else)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x02\x60\x01\x7f\x01\x7f\x60\x01\x7f\x01\x7f", false,
                   "\x00\x20\x00\x20\x00\x04\x01\x41\x01\x6a\x0b\x0b", &m, &d);
    KT_REQUIRE(rc == 0);
    KT_CHECK(ke_code_check(code0(m)) == 0);
    KT_CHECK(count_op(code0(m), KE_OP_BR_UNLESS) == 1);
    kumo_module_free(m);
    /* (if (result i32) (then i32.const 1)) without else: invalid */
    rc = BUILD("\x01\x60\x01\x7f\x01\x7f", false,
               "\x00\x20\x00\x04\x7f\x41\x01\x0b\x0b", &m, &d);
    KT_CHECK(rc == KUMO_EINVALID && !strcmp(d.message, "type mismatch"));
}

static void
expect_fail(const char *types, size_t tn, bool mem, const char *body, size_t bn,
            int code, const char *msg)
{
    kumo_module *m = NULL;
    kumo_diag d;
    int rc = build(types, tn, mem, body, bn, &m, &d);
    KT_CHECK(rc == code);
    KT_CHECK(!strncmp(d.message, msg, strlen(msg)));
    if (rc != code || strncmp(d.message, msg, strlen(msg)))
        fprintf(stderr, "  expected %d '%s', got %d '%s'\n", code, msg, rc,
                d.message);
    if (!rc)
        kumo_module_free(m);
}

#define FAILS(types, mem, body, code, msg)                                     \
    expect_fail(types, sizeof(types) - 1, mem, body, sizeof(body) - 1, code,   \
                msg)

#define T_VOID "\x01\x60\x00\x00"

KT_TEST(compile_messages)
{
    FAILS(T_VOID, false, "\x00\x20\x00\x1a\x0b", KUMO_EINVALID,
          "unknown local");
    FAILS(T_VOID, false, "\x00\x0c\x01\x0b", KUMO_EINVALID, "unknown label");
    FAILS(T_VOID, false, "\x00\x10\x05\x0b", KUMO_EINVALID,
          "unknown function 5");
    FAILS(T_VOID, false, "\x00\x23\x00\x1a\x0b", KUMO_EINVALID,
          "unknown global 0");
    FAILS(T_VOID, false, "\x00\x41\x00\x28\x02\x00\x1a\x0b", KUMO_EINVALID,
          "unknown memory 0");
    FAILS(T_VOID, true, "\x00\x41\x00\x28\x03\x00\x1a\x0b", KUMO_EINVALID,
          "alignment must not be larger than natural");
    FAILS(T_VOID, false, "\x00\x41\x00\x0b", KUMO_EINVALID, "type mismatch");
    FAILS(T_VOID, false, "\x00\x02\x05\x0b\x0b", KUMO_EINVALID, "unknown type");
    FAILS(T_VOID, false, "\x00\x41\x00\x41\x00\x41\x00\x1c\x00\x1a\x0b",
          KUMO_EINVALID, "invalid result arity");
    FAILS(T_VOID, false, "\x00\xd2\x00\x1a\x0b", KUMO_EINVALID,
          "undeclared function reference");
    /* Malformed encodings. */
    FAILS(T_VOID, false, "\x00\x06\x0b", KUMO_EMALFORMED, "illegal opcode");
    FAILS(T_VOID, false, "\x00\xfd\x00\x0b", KUMO_EMALFORMED, "illegal opcode");
    FAILS(T_VOID, true, "\x00\x3f\x01\x1a\x0b", KUMO_EMALFORMED,
          "zero byte expected");
    FAILS(T_VOID, false, "\x00\x05\x0b", KUMO_EMALFORMED,
          "END opcode expected");
    /* A malformed instruction after an invalid one: malformed wins, as
     * the spec decodes before validating. */
    FAILS(T_VOID, false, "\x00\x20\x07\x1a\xff\x0b", KUMO_EMALFORMED,
          "illegal opcode");
}

/* Module-level validation. */
static int
load(const char *bin, size_t n, kumo_diag *d)
{
    kumo_module *m = NULL;
    memset(d, 0, sizeof *d);
    int rc = kumo_module_new_with((const uint8_t *)bin, n, &wasm2, &m, d);
    kumo_module_free(m);
    return rc;
}

#define LOAD(lit, d)                                                           \
    load("\0asm\1\0\0\0" lit, sizeof("\0asm\1\0\0\0" lit) - 1, d)

KT_TEST(validate_module_messages)
{
    kumo_diag d;
    /* two memories */
    KT_CHECK(LOAD("\x05\x05\x02\x00\x01\x00\x01", &d) == KUMO_EINVALID &&
             !strcmp(d.message, "multiple memories"));
    /* memory min > max */
    KT_CHECK(
        LOAD("\x05\x04\x01\x01\x02\x01", &d) == KUMO_EINVALID &&
        !strcmp(d.message, "size minimum must not be greater than maximum"));
    /* memory over 65536 pages */
    KT_CHECK(
        LOAD("\x05\x05\x01\x00\x81\x80\x04", &d) == KUMO_EINVALID &&
        !strcmp(d.message, "memory size must be at most 65536 pages (4GiB)"));
    /* global i32 = f32.const 0 */
    KT_CHECK(LOAD("\x06\x09\x01\x7f\x00\x43\x00\x00\x00\x00\x0b", &d) ==
                 KUMO_EINVALID &&
             !strcmp(d.message, "type mismatch"));
    /* global i32 = i32.const 0, i32.ctz */
    KT_CHECK(LOAD("\x06\x07\x01\x7f\x00\x41\x00\x68\x0b", &d) ==
                 KUMO_EINVALID &&
             !strcmp(d.message, "constant expression required"));
    /* extended-const: i32.const 1 i32.const 2 i32.add is fine */
    KT_CHECK(LOAD("\x06\x09\x01\x7f\x00\x41\x01\x41\x02\x6a\x0b", &d) == 0);
    /* global.get of a defined global */
    KT_CHECK(LOAD("\x06\x0b\x02\x7f\x00\x41\x00\x0b\x7f\x00\x23\x00\x0b", &d) ==
                 KUMO_EINVALID &&
             !strncmp(d.message, "unknown global", 14));
    /* duplicate export name */
    KT_CHECK(LOAD("\x05\x03\x01\x00\x01\x07\x09\x02\x01\x61\x02\x00\x01\x61"
                  "\x02\x00",
                  &d) == KUMO_EINVALID &&
             !strcmp(d.message, "duplicate export name"));
    /* start function of type [i32] -> [] */
    KT_CHECK(LOAD("\x01\x05\x01\x60\x01\x7f\x00\x03\x02\x01\x00\x08\x01\x00"
                  "\x0a\x04\x01\x02\x00\x0b",
                  &d) == KUMO_EINVALID &&
             !strcmp(d.message, "start function"));
}

/* Superinstructions: an address computed by shl + add folds into the
 * load, whose result goes straight to the function's result:
 * (func (param i32 i32) (result i32)
 *   (i32.load offset=4 (i32.add (local.get 0)
 *                               (i32.shl (local.get 1) (i32.const 2))))) */
KT_TEST(compile_fused_address)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x02\x7f\x7f\x01\x7f", true,
                   "\x00\x20\x00\x20\x01\x41\x02\x74\x6a\x28\x02\x04"
                   "\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    static const uint32_t want[] = {KE_OP_I32_LOAD_AS, 0, 0, 1, 2, 4,
                                    KE_OP_RETURN};
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    KT_CHECK(ke_code_check(c) == 0);
    kumo_module_free(m);
}

/* A counting loop's back-edge is one instruction:
 * (func (param i32) (result i32)
 *   (loop (br_if 0 (i32.ne (local.tee 0 (i32.add (local.get 0)
 *                                                (i32.const 1)))
 *                          (i32.const 10))))
 *   (local.get 0)) */
KT_TEST(compile_add_branch)
{
    kumo_module *m;
    kumo_diag d;
    int rc = BUILD("\x01\x60\x01\x7f\x01\x7f", false,
                   "\x00\x03\x40\x20\x00\x41\x01\x6a\x22\x00\x41\x0a"
                   "\x47\x0d\x00\x0b\x20\x00\x0b",
                   &m, &d);
    KT_REQUIRE(rc == 0);
    const ke_code *c = code0(m);
    static const uint32_t want[] = {KE_OP_ADD_BR_I32_NE_I, 0, 0, 1, 10, 0,
                                    KE_OP_RETURN};
    KT_CHECK(c->nwords == sizeof want / sizeof want[0] &&
             !memcmp(c->words, want, sizeof want));
    KT_CHECK(ke_code_check(c) == 0);
    kumo_module_free(m);
}
