/* test_interp.c - the interpreter on hand-assembled internal code, with a
 * store and instance built directly from runtime.h's structs. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/runtime.h"
#include "unit.h"

#define NFUNCS 16
#define NSTACK 4096
#define NFRAMES 256
#define NELEMS 8

typedef struct world {
    kumo_store s;
    kumo_module m;
    kumo_instance inst;
    ke_functype types[6];
    ke_valtype tbytes[6][4];
    uint32_t func_types[NFUNCS];
    kumo_func funcs[NFUNCS];
    kumo_func *fptrs[NFUNCS];
    ke_code codes[NFUNCS];
    kumo_memory mem;
    kumo_memory *mems[1];
    kumo_table table;
    kumo_table *tables[1];
    kumo_global glob;
    kumo_global *globals[1];
    ke_data datas[1];
    uint32_t data_sizes[1];
    uint8_t bytes[8];
    kumo_val seg_items[3];
    kumo_val *elem_items[1];
    uint32_t elem_sizes[1];
    kumo_val stack[NSTACK];
    ke_frame frames[NFRAMES];
} world;

enum { T_I64_I64, T_II_I, T_V_V, T_I_I, T_III_I, T_II_I_COPY };

static void
set_type(world *w, int t, const char *sig)
{
    /* sig: params then '>' then results, letters i (i32) I (i64) */
    ke_functype *ft = &w->types[t];
    uint32_t n = 0;
    bool results = false;
    for (const char *c = sig; *c; c++) {
        if (*c == '>') {
            results = true;
            continue;
        }
        w->tbytes[t][n++] = *c == 'i' ? KUMO_I32 : KUMO_I64;
        if (results)
            ft->nresults++;
        else
            ft->nparams++;
    }
    ft->types = w->tbytes[t];
}

static world *
world_new(void)
{
    world *w = calloc(1, sizeof *w);
    set_type(w, T_I64_I64, "I>I");
    set_type(w, T_II_I, "ii>i");
    set_type(w, T_V_V, ">");
    set_type(w, T_I_I, "i>i");
    set_type(w, T_III_I, "iii>i");
    set_type(w, T_II_I_COPY, "ii>i"); /* equal to T_II_I, other pointer */
    w->m.ntypes = 6;
    w->m.types = w->types;
    w->m.nfuncs = NFUNCS;
    w->m.func_types = w->func_types;
    w->m.nmems = 1;
    w->m.ntables = 1;
    w->m.nglobals = 1;
    w->m.ndatas = 1;
    w->m.datas = w->datas;
    memcpy(w->bytes, "\0\0abcdef", 8);
    w->m.bytes = w->bytes;
    w->m.size = sizeof w->bytes;
    w->datas[0].mode = KE_SEG_PASSIVE;
    w->datas[0].init.off = 2;
    w->datas[0].init.len = 6;
    w->data_sizes[0] = 6;

    w->s.stack = w->stack;
    w->s.stack_cells = NSTACK;
    w->s.sp_free = w->stack;
    w->s.frames = w->frames;
    w->s.frame_cap = NFRAMES;
    w->s.fuel = UINT64_MAX;

    w->mem.store = &w->s;
    w->mem.data = kb_calloc(1, KE_PAGE);
    w->mem.pages = 1;
    w->mem.max_pages = 2;
    w->mem.type.min = 1;
    w->mem.type.max = 2;
    w->mem.type.has_max = true;
    w->mems[0] = &w->mem;

    w->table.store = &w->s;
    w->table.elems = kb_calloc(NELEMS, sizeof(kumo_val));
    w->table.size = 4;
    w->table.max = NELEMS;
    w->table.type.elem = KUMO_FUNCREF;
    w->table.type.limits.min = 4;
    w->table.type.limits.max = NELEMS;
    w->table.type.limits.has_max = true;
    w->tables[0] = &w->table;

    w->glob.store = &w->s;
    w->glob.type.type = KUMO_I32;
    w->glob.type.mutable_ = true;
    w->globals[0] = &w->glob;

    w->inst.store = &w->s;
    w->inst.module = &w->m;
    w->inst.funcs = w->fptrs;
    w->inst.mems = w->mems;
    w->inst.tables = w->tables;
    w->inst.globals = w->globals;
    w->inst.data_sizes = w->data_sizes;
    w->elem_items[0] = w->seg_items;
    w->elem_sizes[0] = 3;
    w->inst.elem_items = w->elem_items;
    w->inst.elem_sizes = w->elem_sizes;
    for (int i = 0; i < NFUNCS; i++) {
        w->fptrs[i] = &w->funcs[i];
        w->funcs[i].store = &w->s;
        w->funcs[i].index = (uint32_t)i;
    }
    return w;
}

static void
world_free(world *w)
{
    for (int i = 0; i < NFUNCS; i++)
        free(w->codes[i].words);
    kb_free(w->mem.data);
    kb_free(w->table.elems);
    free(w);
}

/* Define wasm function idx of type t from words (copied, followed by
 * their two threaded forms, as compile.c lays them out). */
static void
define(world *w, uint32_t idx, int t, uint32_t nlocals, uint32_t frame_size,
       const uint32_t *words, uint32_t nwords)
{
    ke_code *c = &w->codes[idx];
    free(c->words);
    c->words = malloc(3 * nwords * sizeof(uint32_t));
    memcpy(c->words, words, nwords * sizeof(uint32_t));
    c->nwords = nwords;
    c->nparams = w->types[t].nparams;
    c->nresults = w->types[t].nresults;
    c->nlocals = nlocals;
    c->frame_size = frame_size;
    ke_code_thread(c, c->words + nwords);
    w->func_types[idx] = (uint32_t)t;
    w->funcs[idx].type = &w->types[t];
    w->funcs[idx].inst = &w->inst;
    w->funcs[idx].code = c;
}

#define DEFINE(w, idx, t, nlocals, frame, ...)                                 \
    define(w, idx, t, nlocals, frame, (const uint32_t[]){__VA_ARGS__},         \
           sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

static void
define_host(world *w, uint32_t idx, int t, kumo_host_fn fn, void *env)
{
    w->func_types[idx] = (uint32_t)t;
    w->funcs[idx].type = &w->types[t];
    w->funcs[idx].inst = NULL;
    w->funcs[idx].code = NULL;
    w->funcs[idx].host = fn;
    w->funcs[idx].env = env;
}

/* Call function idx with args (nargs cells); results into out. */
static int
call(world *w, uint32_t idx, uint32_t nargs, const kumo_val *args,
     kumo_val *out)
{
    kumo_val *sp = w->s.sp_free;
    if (nargs)
        memcpy(sp, args, nargs * sizeof(kumo_val));
    int rc = ke_interp_call(&w->s, &w->funcs[idx], sp);
    if (rc == 0 && out)
        *out = sp[0];
    return rc;
}

static kumo_val
u64(uint64_t x)
{
    return x;
}

#define CALL1(w, idx, a, out) call(w, idx, 1, (kumo_val[]){u64(a)}, out)
#define CALL2(w, idx, a, b, out)                                               \
    call(w, idx, 2, (kumo_val[]){u64(a), u64(b)}, out)
#define CALL3(w, idx, a, b, c, out)                                            \
    call(w, idx, 3, (kumo_val[]){u64(a), u64(b), u64(c)}, out)

/* Run one numeric op on (a, b) through the interpreter: function 15. */
static int
run_op(world *w, ke_op op, int nargs, uint64_t a, uint64_t b, uint64_t *out)
{
    if (nargs == 1)
        /* clang-format off */
        DEFINE(w, 15, T_II_I, 0, 3, op, 2, 0, KE_OP_COPY, 0, 2,
               KE_OP_RETURN);
    /* clang-format on */
    else
        /* clang-format off */
        DEFINE(w, 15, T_II_I, 0, 3, op, 2, 0, 1, KE_OP_COPY, 0, 2,
               KE_OP_RETURN);
    /* clang-format on */
    return CALL2(w, 15, a, b, out);
}

static uint64_t
op1(world *w, ke_op op, uint64_t a)
{
    uint64_t r = 0xdeadbeef;
    KT_CHECK(run_op(w, op, 1, a, 0, &r) == 0);
    return r;
}

static uint64_t
op2(world *w, ke_op op, uint64_t a, uint64_t b)
{
    uint64_t r = 0xdeadbeef;
    KT_CHECK(run_op(w, op, 2, a, b, &r) == 0);
    return r;
}

/* Trapping ops: conversions are unary, divisions binary. */
static int
op_trap(world *w, ke_op op, uint64_t a, uint64_t b)
{
    uint64_t r;
    int nargs = op >= KE_OP_I32_WRAP_I64 ? 1 : 2;
    return run_op(w, op, nargs, a, b, &r);
}

static uint64_t
f32b(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static uint64_t
f64b(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* ---- control and calls ---- */

KT_TEST(interp_factorial_loop)
{
    world *w = world_new();
    /* fp0 = n, fp1 = acc, fp2 = scratch */
    /* clang-format off */
    DEFINE(w, 0, T_I64_I64, 1, 3,
           KE_OP_CONST64, 1, 1, 0,     /* 0: acc = 1 */
           KE_OP_I64_EQZ, 2, 0,        /* 4: loop */
           KE_OP_BR_IF, 2, 24,         /* 7 */
           KE_OP_I64_MUL, 1, 1, 0,     /* 10 */
           KE_OP_CONST64, 2, 1, 0,     /* 14 */
           KE_OP_I64_SUB, 0, 0, 2,     /* 18 */
           KE_OP_BR, 4,                /* 22 */
           KE_OP_COPY, 0, 1,           /* 24 */
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 0;
    KT_CHECK(CALL1(w, 0, 20, &r) == 0);
    KT_CHECK(r == UINT64_C(2432902008176640000));
    KT_CHECK(CALL1(w, 0, 0, &r) == 0 && r == 1);
    KT_CHECK(w->s.depth == 0);
    world_free(w);
}

static void
define_fact_rec(world *w, uint32_t idx)
{
    /* clang-format off */
    DEFINE(w, idx, T_I64_I64, 0, 3,
           KE_OP_I64_EQZ, 1, 0,        /* 0 */
           KE_OP_BR_UNLESS, 1, 11,     /* 3 */
           KE_OP_CONST64, 0, 1, 0,     /* 6 */
           KE_OP_RETURN,               /* 10 */
           KE_OP_CONST64, 2, 1, 0,     /* 11 */
           KE_OP_I64_SUB, 2, 0, 2,
           KE_OP_CALL, idx, 2,
           KE_OP_I64_MUL, 0, 0, 2,
           KE_OP_RETURN);
    /* clang-format on */
}

KT_TEST(interp_factorial_recursive)
{
    world *w = world_new();
    define_fact_rec(w, 1);
    kumo_val r = 0;
    KT_CHECK(CALL1(w, 1, 10, &r) == 0 && r == 3628800);
    KT_CHECK(CALL1(w, 1, 20, &r) == 0);
    KT_CHECK(r == UINT64_C(2432902008176640000));
    KT_CHECK(w->s.depth == 0);
    world_free(w);
}

KT_TEST(interp_br_table_select)
{
    world *w = world_new();
    /* (i32 i) -> i32: br_table over 3 targets + default */
    /* clang-format off */
    DEFINE(w, 0, T_I_I, 0, 2,
           KE_OP_BR_TABLE, 0, 3, 10, 14, 18, 22, /* 0 */
           KE_OP_NOP,                            /* 7 */
           KE_OP_NOP,                            /* 8 */
           KE_OP_UNREACHABLE,                    /* 9 */
           KE_OP_CONST32, 0, 100, KE_OP_RETURN,  /* 10 */
           KE_OP_CONST32, 0, 101, KE_OP_RETURN,  /* 14 */
           KE_OP_CONST32, 0, 102, KE_OP_RETURN,  /* 18 */
           KE_OP_CONST32, 1, 7,                  /* 22 */
           KE_OP_SELECT, 0, 1, 0, 0,             /* 25: i ? 7 : i */
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 0;
    KT_CHECK(CALL1(w, 0, 0, &r) == 0 && r == 100);
    KT_CHECK(CALL1(w, 0, 1, &r) == 0 && r == 101);
    KT_CHECK(CALL1(w, 0, 2, &r) == 0 && r == 102);
    KT_CHECK(CALL1(w, 0, 3, &r) == 0 && r == 7);
    KT_CHECK(CALL1(w, 0, 0xffffffff, &r) == 0 && r == 7);
    /* upper garbage bits of an i32 index are ignored */
    KT_CHECK(CALL1(w, 0, UINT64_C(0x100000001), &r) == 0 && r == 101);
    world_free(w);
}

KT_TEST(interp_unreachable_and_locals_zeroed)
{
    world *w = world_new();
    DEFINE(w, 0, T_V_V, 0, 1, KE_OP_UNREACHABLE);
    KT_CHECK(call(w, 0, 0, NULL, NULL) == KUMO_ETRAP_UNREACHABLE);
    KT_CHECK(strcmp(w->s.trap_msg, "unreachable") == 0);
    KT_CHECK(w->s.depth == 0);
    /* (i32) -> i32 with 2 locals: returns local1 + local2 == 0 */
    DEFINE(w, 1, T_I_I, 2, 3, KE_OP_I32_ADD, 0, 1, 2, KE_OP_RETURN);
    w->stack[1] = 55;
    w->stack[2] = 66;
    kumo_val r = 1;
    KT_CHECK(CALL1(w, 1, 9, &r) == 0 && r == 0);
    world_free(w);
}

KT_TEST(interp_call_indirect)
{
    world *w = world_new();
    DEFINE(w, 2, T_II_I, 0, 2, KE_OP_I32_ADD, 0, 0, 1, KE_OP_RETURN);
    DEFINE(w, 3, T_I_I, 0, 1, KE_OP_RETURN);
    DEFINE(w, 5, T_II_I_COPY, 0, 2, KE_OP_I32_SUB, 0, 0, 1, KE_OP_RETURN);
    /* (idx a b) -> call_indirect (type ii>i) table 0 */
    /* clang-format off */
    DEFINE(w, 4, T_III_I, 0, 6,
           KE_OP_COPY, 4, 1,
           KE_OP_COPY, 5, 2,
           KE_OP_CALL_INDIRECT, T_II_I, 0, 0, 4,
           KE_OP_COPY, 0, 4,
           KE_OP_RETURN);
    /* clang-format on */
    w->table.elems[0] = (kumo_val)(uintptr_t)&w->funcs[2];
    w->table.elems[1] = (kumo_val)(uintptr_t)&w->funcs[3];
    w->table.elems[2] = 0;
    w->table.elems[3] = (kumo_val)(uintptr_t)&w->funcs[5];
    kumo_val r = 0;
    KT_CHECK(CALL3(w, 4, 0, 40, 2, &r) == 0 && r == 42);
    KT_CHECK(CALL3(w, 4, 3, 40, 2, &r) == 0 && r == 38);
    KT_CHECK(CALL3(w, 4, 1, 40, 2, &r) == KUMO_ETRAP_INDIRECT_TYPE);
    KT_CHECK(strcmp(w->s.trap_msg, "indirect call type mismatch") == 0);
    KT_CHECK(CALL3(w, 4, 2, 40, 2, &r) == KUMO_ETRAP_UNINITIALIZED_ELEMENT);
    KT_CHECK(CALL3(w, 4, 4, 40, 2, &r) == KUMO_ETRAP_UNDEFINED_ELEMENT);
    KT_CHECK(CALL3(w, 4, 0xffffffff, 1, 2, &r) == KUMO_ETRAP_UNDEFINED_ELEMENT);
    KT_CHECK(strcmp(w->s.trap_msg, "undefined element") == 0);
    KT_CHECK(w->s.depth == 0);
    world_free(w);
}

KT_TEST(interp_stack_exhaustion)
{
    world *w = world_new();
    /* depth: f() { f(); } */
    DEFINE(w, 6, T_V_V, 0, 1, KE_OP_CALL, 6, 0, KE_OP_RETURN);
    w->s.frame_cap = 100;
    KT_CHECK(call(w, 6, 0, NULL, NULL) == KUMO_ETRAP_STACK_EXHAUSTED);
    KT_CHECK(strcmp(w->s.trap_msg, "call stack exhausted") == 0);
    KT_CHECK(w->s.depth == 0);
    /* value stack: each frame moves up 2 cells */
    DEFINE(w, 7, T_V_V, 1, 3, KE_OP_CALL, 7, 2, KE_OP_RETURN);
    w->s.frame_cap = NFRAMES;
    w->s.stack_cells = 64;
    KT_CHECK(call(w, 7, 0, NULL, NULL) == KUMO_ETRAP_STACK_EXHAUSTED);
    KT_CHECK(w->s.depth == 0);
    /* the store is still usable */
    w->s.stack_cells = NSTACK;
    define_fact_rec(w, 1);
    kumo_val r = 0;
    KT_CHECK(CALL1(w, 1, 5, &r) == 0 && r == 120);
    /* recursion deeper than the frame cap traps, then works again */
    w->s.frame_cap = 10;
    KT_CHECK(CALL1(w, 1, 20, &r) == KUMO_ETRAP_STACK_EXHAUSTED);
    KT_CHECK(CALL1(w, 1, 8, &r) == 0 && r == 40320);
    KT_CHECK(w->s.depth == 0);
    world_free(w);
}

/* ---- host calls ---- */

static int
host_add(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    (void)env;
    (void)c;
    res[0] = (uint32_t)(args[0] + args[1]);
    return 0;
}

static int
host_fact(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    world *w = env;
    kumo_store *s = c->store;
    kumo_val *sp = s->sp_free;
    /* the re-entry area is above the caller's frame */
    KT_CHECK(sp > args);
    sp[0] = args[0];
    int rc = ke_interp_call(s, &w->funcs[1], sp);
    if (rc)
        return rc;
    res[0] = sp[0];
    return 0;
}

static int
host_trap(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    (void)env;
    (void)res;
    if (args[0] == 1) {
        snprintf(c->store->trap_msg, sizeof c->store->trap_msg, "boom");
        return KUMO_ETRAP_HOST;
    }
    return KUMO_ETRAP_HOST;
}

KT_TEST(interp_host_calls)
{
    world *w = world_new();
    define_fact_rec(w, 1);
    define_host(w, 8, T_II_I, host_add, NULL);
    define_host(w, 9, T_I64_I64, host_fact, w);
    define_host(w, 10, T_I_I, host_trap, NULL);
    /* (a b) -> host_add(a, b) + 1 */
    /* clang-format off */
    DEFINE(w, 11, T_II_I, 0, 4,
           KE_OP_COPY, 2, 0, KE_OP_COPY, 3, 1,
           KE_OP_CALL, 8, 2,
           KE_OP_CONST32, 3, 1,
           KE_OP_I32_ADD, 0, 2, 3,
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 0;
    KT_CHECK(CALL2(w, 11, 40, 1, &r) == 0 && r == 42);
    /* guest -> host -> guest (recursive fact) */
    DEFINE(w, 12, T_I64_I64, 0, 3, KE_OP_CALL, 9, 0, KE_OP_RETURN);
    KT_CHECK(CALL1(w, 12, 6, &r) == 0 && r == 720);
    KT_CHECK(w->s.depth == 0 && w->s.sp_free == w->stack);
    /* a trap in the re-entered guest propagates with its message */
    w->s.frame_cap = 5;
    KT_CHECK(CALL1(w, 12, 50, &r) == KUMO_ETRAP_STACK_EXHAUSTED);
    KT_CHECK(strcmp(w->s.trap_msg, "call stack exhausted") == 0);
    KT_CHECK(w->s.depth == 0 && w->s.sp_free == w->stack);
    w->s.frame_cap = NFRAMES;
    /* host traps: own message, or the code's */
    DEFINE(w, 13, T_I_I, 0, 2, KE_OP_CALL, 10, 0, KE_OP_RETURN);
    KT_CHECK(CALL1(w, 13, 1, &r) == KUMO_ETRAP_HOST);
    KT_CHECK(strcmp(w->s.trap_msg, "boom") == 0);
    KT_CHECK(CALL1(w, 13, 2, &r) == KUMO_ETRAP_HOST);
    KT_CHECK(strcmp(w->s.trap_msg, "host trap") == 0);
    KT_CHECK(w->s.depth == 0);
    /* a host function entered directly */
    w->funcs[8].host = host_add;
    KT_CHECK(CALL2(w, 8, 1, 2, &r) == 0 && r == 3);
    world_free(w);
}

static int
host_interrupt(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    (void)env;
    (void)args;
    (void)res;
    c->store->interrupt = 1;
    return 0;
}

KT_TEST(interp_fuel_and_interrupt)
{
    world *w = world_new();
    /* (n) counts down to 0 in a loop: n + 1 backward branches */
    /* clang-format off */
    DEFINE(w, 0, T_I_I, 0, 3,
           KE_OP_CONST32, 1, 1,        /* 0 */
           KE_OP_BR_UNLESS, 0, 14,     /* 3: loop */
           KE_OP_I32_SUB, 0, 0, 1,     /* 6 */
           KE_OP_BR, 3,                /* 10 */
           KE_OP_NOP, KE_OP_NOP,       /* 12 */
           KE_OP_RETURN);              /* 14 */
    kumo_val r = 1;
    w->s.fuel = 1 + 10; /* entry + 10 iterations */
    KT_CHECK(CALL1(w, 0, 10, &r) == 0 && r == 0);
    /* clang-format on */
    KT_CHECK(w->s.fuel == 0);
    w->s.fuel = 10;
    KT_CHECK(CALL1(w, 0, 10, &r) == KUMO_ETRAP_OUT_OF_FUEL);
    KT_CHECK(strcmp(w->s.trap_msg, "all fuel consumed") == 0);
    KT_CHECK(w->s.fuel == 0 && w->s.depth == 0);
    /* calls charge one unit each */
    define_fact_rec(w, 1);
    w->s.fuel = 6;
    KT_CHECK(CALL1(w, 1, 5, &r) == 0 && r == 120 && w->s.fuel == 0);
    w->s.fuel = 5;
    KT_CHECK(CALL1(w, 1, 5, &r) == KUMO_ETRAP_OUT_OF_FUEL);
    /* an interrupt raised during the run stops the next loop iteration */
    w->s.fuel = UINT64_MAX;
    define_host(w, 2, T_V_V, host_interrupt, NULL);
    DEFINE(w, 3, T_V_V, 0, 1, KE_OP_CALL, 2, 0, KE_OP_BR, 0);
    KT_CHECK(call(w, 3, 0, NULL, NULL) == KUMO_ETRAP_INTERRUPTED);
    KT_CHECK(strcmp(w->s.trap_msg, "interrupted") == 0);
    KT_CHECK(w->s.depth == 0);
    w->s.interrupt = 0;
    KT_CHECK(CALL1(w, 1, 5, &r) == 0 && r == 120);
    world_free(w);
}

static int
count_yields(kumo_store *s, void *ud)
{
    int *n = ud;
    (*n)++;
    kumo_store_request_yield(s); /* ask again: yield every slice */
    return *n >= 1000 ? 1 : 0;   /* the 1000th stops the guest */
}

KT_TEST(interp_yield)
{
    world *w = world_new();
    int n = 0;
    /* clang-format off */
    DEFINE(w, 0, T_I_I, 0, 3,
           KE_OP_CONST32, 1, 1,
           KE_OP_BR_UNLESS, 0, 14,
           KE_OP_I32_SUB, 0, 0, 1,
           KE_OP_BR, 3,
           KE_OP_NOP, KE_OP_NOP,
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 1;
    w->s.fuel = UINT64_MAX;
    /* no yield function: a request is dropped */
    kumo_store_request_yield(&w->s);
    KT_CHECK(CALL1(w, 0, 100000, &r) == 0 && r == 0);
    /* with one: called about every 1024 iterations, the guest goes on */
    kumo_store_set_yield(&w->s, count_yields, &n);
    kumo_store_request_yield(&w->s);
    w->s.interrupt |= KE_YIELD; /* the entry clears old requests */
    KT_CHECK(CALL1(w, 0, 200000, &r) == 0 && r == 0);
    KT_CHECK(n >= 150 && n <= 200);
    /* a non-zero answer stops it as an interrupt */
    n = 0;
    KT_CHECK(CALL1(w, 0, 2000000000, &r) == KUMO_ETRAP_INTERRUPTED);
    KT_CHECK(n == 1000 && w->s.depth == 0);
    /* an interrupt wins over a yield request */
    kumo_store_set_yield(&w->s, count_yields, &n);
    n = 0;
    w->s.interrupt = KE_YIELD | KE_INTERRUPT;
    define_host(w, 2, T_V_V, host_interrupt, NULL);
    DEFINE(w, 3, T_V_V, 0, 1, KE_OP_CALL, 2, 0, KE_OP_BR, 0);
    KT_CHECK(call(w, 3, 0, NULL, NULL) == KUMO_ETRAP_INTERRUPTED && n == 0);
    w->s.interrupt = 0;
    world_free(w);
}

/* ---- memory ---- */

KT_TEST(interp_memory_load_store)
{
    world *w = world_new();
    /* (addr val) -> store i32 at addr+1, load i32 back from addr+1 */
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 3,
           KE_OP_I32_STORE, 0, 1, 1,
           KE_OP_I32_LOAD, 2, 0, 1,
           KE_OP_COPY, 0, 2,
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 0;
    KT_CHECK(CALL2(w, 0, 7, 0xa1b2c3d4, &r) == 0 && r == 0xa1b2c3d4);
    KT_CHECK(w->mem.data[8] == 0xd4 && w->mem.data[11] == 0xa1);
    KT_CHECK(CALL2(w, 0, 65531, 5, &r) == 0 && r == 5);
    KT_CHECK(CALL2(w, 0, 65532, 5, &r) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(strcmp(w->s.trap_msg, "out of bounds memory access") == 0);
    KT_CHECK(CALL2(w, 0, 0xffffffff, 5, &r) == KUMO_ETRAP_MEMORY_OOB);
    /* sign/zero extension of narrow loads */
    w->mem.data[100] = 0x80;
    w->mem.data[101] = 0xff;
    DEFINE(w, 1, T_I_I, 0, 2, KE_OP_I32_LOAD8_S, 0, 0, 0, KE_OP_RETURN);
    KT_CHECK(CALL1(w, 1, 100, &r) == 0 && r == 0xffffff80);
    DEFINE(w, 1, T_I_I, 0, 2, KE_OP_I64_LOAD16_S, 0, 0, 0, KE_OP_RETURN);
    KT_CHECK(CALL1(w, 1, 100, &r) == 0 && r == UINT64_C(0xffffffffffffff80));
    DEFINE(w, 1, T_I_I, 0, 2, KE_OP_I64_LOAD16_U, 0, 0, 0, KE_OP_RETURN);
    KT_CHECK(CALL1(w, 1, 100, &r) == 0 && r == 0xff80);
    /* offset is added without wrapping */
    /* clang-format off */
    DEFINE(w, 1, T_I_I, 0, 2, KE_OP_I32_LOAD8_U, 0, 0, 0xffffffff,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL1(w, 1, 1, &r) == KUMO_ETRAP_MEMORY_OOB);
    world_free(w);
}

/* Superinstructions (ops.def KE_MEMF, KE_LDOP, KE_RMW, KE_ADDBR, ...),
 * checked and, with memory 0 marked guarded, through the unchecked
 * handlers (in-bounds accesses only: this memory has no guard pages). */
static void
superinstructions(world *w)
{
    kumo_val r = 0;
    memset(w->mem.data, 0, 256);
    /* (a b) -> load32 at (u32)(a + b) + 4, wrapping a + b */
    DEFINE(w, 0, T_II_I, 0, 3, KE_OP_I32_LOAD_A, 0, 0, 1, 4, KE_OP_RETURN);
    memcpy(w->mem.data + 20, "\x11\x22\x33\x44", 4);
    KT_CHECK(CALL2(w, 0, 10, 6, &r) == 0 && r == 0x44332211);
    KT_CHECK(CALL2(w, 0, 0xfffffff0, 32, &r) == 0 && r == 0x44332211);
    /* (a b) -> load8_u at (u32)(a + (b << 2)) + 0; store8 via _AI */
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 3,
           KE_OP_I32_STORE8_AI, 1, 0, 0xffffffff, 3,
           KE_OP_I32_LOAD8_U_AS, 0, 0, 1, 2, 0,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL2(w, 0, 8, 3, &r) == 0 && r == 0x11 &&
             w->mem.data[10] == 3);
    KT_CHECK(CALL2(w, 0, 8, 1, &r) == 0 && r == 0);
    w->mem.data[12] = 0x7b;
    KT_CHECK(CALL2(w, 0, 8, 1, &r) == 0 && r == 0x7b);
    /* i32: a + load32(b + 4); then mem[b + 4] += a */
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 3,
           KE_OP_I32_ADD_LD, 2, 0, 1, 4,
           KE_OP_I32_ADD_RMW, 0, 1, 4,
           KE_OP_COPY, 0, 2,
           KE_OP_RETURN);
    /* clang-format on */
    memcpy(w->mem.data + 104, "\x05\x00\x00\x00", 4);
    KT_CHECK(CALL2(w, 0, 7, 100, &r) == 0 && r == 12 &&
             w->mem.data[104] == 12);
    /* add, compare and branch: count a up to b by 3 */
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 3,
           KE_OP_ADD_BR_I32_LT_U, 0, 0, 3, 1, 0,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL2(w, 0, 0, 10, &r) == 0 && r == 12);
    DEFINE(w, 0, T_I_I, 0, 2, KE_OP_ADD_BR_I32_NE_I, 0, 0, 1, 7, 0,
           KE_OP_RETURN);
    KT_CHECK(CALL1(w, 0, 2, &r) == 0 && r == 7);
    /* shifted operands, two-operation forms, COPY2 */
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 4,
           KE_OP_I32_XOR_ROTL, 2, 0, 1, 8,
           KE_OP_I32_ADD_XOR, 3, 2, 0, 1,
           KE_OP_COPY2, 0, 3, 1, 2,
           KE_OP_I32_SUB, 0, 0, 1,
           KE_OP_RETURN);
    /* clang-format on */
    uint32_t a = 0x12345678, b = 0x9abcdef0;
    uint32_t x = a ^ ((b << 8) | (b >> 24)), y = x + (a ^ b);
    KT_CHECK(CALL2(w, 0, a, b, &r) == 0 && (uint32_t)r == y - x);
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 5,
           KE_OP_I32_XOR_ROTL2, 2, 0, 3, 1, 29,
           KE_OP_COPY3, 3, 2, 4, 0, 0, 3,
           KE_OP_I32_SUB, 0, 0, 4,
           KE_OP_RETURN);
    /* clang-format on */
    x = ((a << 3) | (a >> 29)) ^ ((b << 29) | (b >> 3));
    KT_CHECK(CALL2(w, 0, a, b, &r) == 0 && (uint32_t)r == x - a);
}

KT_TEST(interp_superinstructions)
{
    world *w = world_new();
    superinstructions(w);
    w->mem.guarded = true; /* the unchecked handlers */
    superinstructions(w);
    w->mem.guarded = false;
    world_free(w);
}

KT_TEST(interp_memory_bulk)
{
    world *w = world_new();
    /* (d s n) memory.init seg 0 */
    /* clang-format off */
    DEFINE(w, 0, T_III_I, 0, 3, KE_OP_MEMORY_INIT, 0, 0, 1, 2,
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r;
    KT_CHECK(CALL3(w, 0, 10, 1, 3, &r) == 0);
    KT_CHECK(memcmp(w->mem.data + 10, "bcd", 3) == 0);
    KT_CHECK(CALL3(w, 0, 10, 4, 3, &r) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(CALL3(w, 0, 65535, 0, 2, &r) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(w->mem.data[65535] == 0); /* nothing written on a trap */
    KT_CHECK(CALL3(w, 0, 65536, 6, 0, &r) == 0);
    KT_CHECK(CALL3(w, 0, 65537, 0, 0, &r) == KUMO_ETRAP_MEMORY_OOB);
    /* data.drop, then init of 0 bytes at 0 is fine, 1 byte traps */
    DEFINE(w, 1, T_V_V, 0, 1, KE_OP_DATA_DROP, 0, KE_OP_RETURN);
    KT_CHECK(call(w, 1, 0, NULL, NULL) == 0);
    KT_CHECK(CALL3(w, 0, 0, 0, 0, &r) == 0);
    KT_CHECK(CALL3(w, 0, 0, 0, 1, &r) == KUMO_ETRAP_MEMORY_OOB);
    /* memory.copy (overlapping) and fill */
    DEFINE(w, 2, T_III_I, 0, 3, KE_OP_MEMORY_COPY, 0, 1, 2, KE_OP_RETURN);
    KT_CHECK(CALL3(w, 2, 11, 10, 3, &r) == 0);
    KT_CHECK(memcmp(w->mem.data + 10, "bbcd", 4) == 0);
    KT_CHECK(CALL3(w, 2, 0, 65535, 2, &r) == KUMO_ETRAP_MEMORY_OOB);
    DEFINE(w, 3, T_III_I, 0, 3, KE_OP_MEMORY_FILL, 0, 1, 2, KE_OP_RETURN);
    KT_CHECK(CALL3(w, 3, 20, 0x1ff, 3, &r) == 0);
    KT_CHECK(w->mem.data[20] == 0xff && w->mem.data[22] == 0xff &&
             w->mem.data[23] == 0);
    KT_CHECK(CALL3(w, 3, 65536, 1, 1, &r) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(CALL3(w, 3, 65536, 1, 0, &r) == 0);
    world_free(w);
}

static int
host_grow(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    (void)env;
    (void)args;
    KT_CHECK(c->inst != NULL);
    res[0] = (uint32_t)ke_memory_grow(c->inst->mems[0], 1);
    return 0;
}

KT_TEST(interp_cross_instance)
{
    world *w = world_new();
    world *w2 = world_new();
    kumo_val r = 0;
    /* w2's function 0 reads its own memory at address 0 */
    DEFINE(w2, 0, T_I_I, 0, 2, KE_OP_I32_LOAD8_U, 0, 0, 0, KE_OP_RETURN);
    w2->mem.data[5] = 22;
    w->mem.data[5] = 11;
    /* w's function 1 is w2's function 0: (a) -> w2.f(a) * 256 + load(a) */
    w->fptrs[1] = &w2->funcs[0];
    /* clang-format off */
    DEFINE(w, 0, T_I_I, 0, 3,
           KE_OP_COPY, 1, 0,
           KE_OP_CALL, 1, 1,
           KE_OP_I32_LOAD8_U, 2, 0, 0,
           KE_OP_CONST32, 0, 8,
           KE_OP_I32_SHL, 1, 1, 0,
           KE_OP_I32_ADD, 0, 1, 2,
           KE_OP_RETURN);
    /* clang-format on */
    /* both worlds share w's stack: w2 only provides the instance */
    KT_CHECK(CALL1(w, 0, 5, &r) == 0 && r == 22 * 256 + 11);
    /* a host call that grows memory: the base is reloaded afterwards */
    define_host(w, 2, T_I_I, host_grow, NULL);
    /* clang-format off */
    DEFINE(w, 3, T_I_I, 0, 2,
           KE_OP_CALL, 2, 1,
           KE_OP_I32_STORE, 0, 0, 65536,
           KE_OP_I32_LOAD, 0, 0, 65536,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL1(w, 3, 12, &r) == 0 && r == 12);
    KT_CHECK(w->mem.pages == 2);
    world_free(w2);
    world_free(w);
}

KT_TEST(interp_memory_grow)
{
    world *w = world_new();
    /* (delta) -> grow; then store at 65536 must work after growth */
    /* clang-format off */
    DEFINE(w, 0, T_I_I, 0, 3,
           KE_OP_MEMORY_GROW, 1, 0,
           KE_OP_MEMORY_SIZE, 2,
           KE_OP_I32_ADD, 0, 1, 2, /* old + new size */
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 0;
    KT_CHECK(CALL1(w, 0, 1, &r) == 0 && r == 1 + 2);
    KT_CHECK(w->mem.pages == 2);
    KT_CHECK(CALL1(w, 0, 1, &r) == 0 && r == (uint32_t)(0xffffffff + 2));
    DEFINE(w, 1, T_II_I, 0, 2, KE_OP_I32_STORE, 0, 1, 0, KE_OP_RETURN);
    KT_CHECK(CALL2(w, 1, 65536 + 100, 1, &r) == 0);
    world_free(w);
}

KT_TEST(interp_globals_refs)
{
    world *w = world_new();
    /* clang-format off */
    DEFINE(w, 0, T_I_I, 0, 2,
           KE_OP_GLOBAL_GET, 1, 0,
           KE_OP_I32_ADD, 1, 1, 0,
           KE_OP_GLOBAL_SET, 0, 1,
           KE_OP_REF_FUNC, 0, 3,
           KE_OP_RETURN);
    /* clang-format on */
    kumo_val r = 0;
    w->glob.val = 5;
    KT_CHECK(CALL1(w, 0, 3, &r) == 0);
    KT_CHECK(w->glob.val == 8);
    KT_CHECK(r == (kumo_val)(uintptr_t)&w->funcs[3]);
    DEFINE(w, 1, T_I_I, 0, 2, KE_OP_REF_IS_NULL, 0, 0, KE_OP_RETURN);
    KT_CHECK(CALL1(w, 1, 0, &r) == 0 && r == 1);
    KT_CHECK(CALL1(w, 1, 1234, &r) == 0 && r == 0);
    world_free(w);
}

KT_TEST(interp_tables)
{
    world *w = world_new();
    kumo_val r = 0;
    /* (i v) table.set; table.get i */
    /* clang-format off */
    DEFINE(w, 0, T_II_I, 0, 2,
           KE_OP_TABLE_SET, 0, 0, 1,
           KE_OP_TABLE_GET, 0, 0, 0,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL2(w, 0, 3, 77, &r) == 0 && r == 77);
    KT_CHECK(CALL2(w, 0, 4, 77, &r) == KUMO_ETRAP_TABLE_OOB);
    KT_CHECK(strcmp(w->s.trap_msg, "out of bounds table access") == 0);
    /* (init n) table.grow; table.size */
    /* clang-format off */
    DEFINE(w, 1, T_II_I, 0, 3,
           KE_OP_TABLE_GROW, 0, 2, 0, 1,
           KE_OP_TABLE_SIZE, 0, 0,
           KE_OP_I32_ADD, 0, 0, 2,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL2(w, 1, 9, 2, &r) == 0 && r == 4 + 6);
    KT_CHECK(w->table.elems[5] == 9);
    KT_CHECK(CALL2(w, 1, 9, 3, &r) == 0 && r == (uint32_t)(6 - 1));
    /* (i v n) table.fill */
    /* clang-format off */
    DEFINE(w, 2, T_III_I, 0, 3, KE_OP_TABLE_FILL, 0, 0, 1, 2,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL3(w, 2, 1, 5, 3, &r) == 0);
    KT_CHECK(w->table.elems[1] == 5 && w->table.elems[3] == 5 &&
             w->table.elems[4] == 9);
    KT_CHECK(CALL3(w, 2, 4, 5, 3, &r) == KUMO_ETRAP_TABLE_OOB);
    KT_CHECK(w->table.elems[4] == 9); /* nothing written on a trap */
    KT_CHECK(CALL3(w, 2, 6, 5, 0, &r) == 0);
    KT_CHECK(CALL3(w, 2, 7, 5, 0, &r) == KUMO_ETRAP_TABLE_OOB);
    /* (d s n) table.copy 0 0 */
    /* clang-format off */
    DEFINE(w, 3, T_III_I, 0, 3, KE_OP_TABLE_COPY, 0, 0, 0, 1, 2,
           KE_OP_RETURN);
    /* clang-format on */
    w->table.elems[0] = 10;
    KT_CHECK(CALL3(w, 3, 2, 0, 3, &r) == 0);
    KT_CHECK(w->table.elems[2] == 10 && w->table.elems[3] == 5 &&
             w->table.elems[4] == 5);
    KT_CHECK(CALL3(w, 3, 0, 4, 3, &r) == KUMO_ETRAP_TABLE_OOB);
    /* (d s n) table.init 0 elem 0; elem.drop */
    w->seg_items[0] = 100;
    w->seg_items[1] = 101;
    w->seg_items[2] = 102;
    /* clang-format off */
    DEFINE(w, 4, T_III_I, 0, 3, KE_OP_TABLE_INIT, 0, 0, 0, 1, 2,
           KE_OP_RETURN);
    /* clang-format on */
    KT_CHECK(CALL3(w, 4, 4, 1, 2, &r) == 0);
    KT_CHECK(w->table.elems[4] == 101 && w->table.elems[5] == 102);
    KT_CHECK(CALL3(w, 4, 0, 2, 2, &r) == KUMO_ETRAP_TABLE_OOB);
    KT_CHECK(CALL3(w, 4, 0, 3, 0, &r) == 0);
    DEFINE(w, 5, T_V_V, 0, 1, KE_OP_ELEM_DROP, 0, KE_OP_RETURN);
    KT_CHECK(call(w, 5, 0, NULL, NULL) == 0);
    KT_CHECK(CALL3(w, 4, 0, 0, 1, &r) == KUMO_ETRAP_TABLE_OOB);
    KT_CHECK(CALL3(w, 4, 0, 0, 0, &r) == 0);
    world_free(w);
}

/* ---- integer semantics ---- */

KT_TEST(interp_int_division)
{
    world *w = world_new();
    KT_CHECK(op_trap(w, KE_OP_I32_DIV_S, 1, 0) == KUMO_ETRAP_DIV_ZERO);
    KT_CHECK(strcmp(w->s.trap_msg, "integer divide by zero") == 0);
    KT_CHECK(op_trap(w, KE_OP_I32_DIV_S, 0x80000000, 0xffffffff) ==
             KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(strcmp(w->s.trap_msg, "integer overflow") == 0);
    KT_CHECK(op2(w, KE_OP_I32_REM_S, 0x80000000, 0xffffffff) == 0);
    KT_CHECK(op_trap(w, KE_OP_I32_REM_U, 1, 0) == KUMO_ETRAP_DIV_ZERO);
    KT_CHECK(op2(w, KE_OP_I32_DIV_S, (uint32_t)-7, 2) == (uint32_t)-3);
    KT_CHECK(op2(w, KE_OP_I32_REM_S, (uint32_t)-7, 2) == (uint32_t)-1);
    KT_CHECK(op2(w, KE_OP_I32_DIV_U, (uint32_t)-7, 2) == 0x7ffffffc);
    KT_CHECK(op_trap(w, KE_OP_I64_DIV_S, UINT64_C(1) << 63, UINT64_MAX) ==
             KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op2(w, KE_OP_I64_REM_S, UINT64_C(1) << 63, UINT64_MAX) == 0);
    KT_CHECK(op_trap(w, KE_OP_I64_DIV_U, 5, 0) == KUMO_ETRAP_DIV_ZERO);
    /* the upper half of an i32 cell is ignored: 0x1_00000000 is 0 */
    KT_CHECK(op_trap(w, KE_OP_I32_DIV_U, 5, UINT64_C(1) << 32) ==
             KUMO_ETRAP_DIV_ZERO);
    world_free(w);
}

KT_TEST(interp_int_bits)
{
    world *w = world_new();
    KT_CHECK(op1(w, KE_OP_I32_CLZ, 0) == 32);
    KT_CHECK(op1(w, KE_OP_I32_CTZ, 0) == 32);
    KT_CHECK(op1(w, KE_OP_I64_CLZ, 0) == 64);
    KT_CHECK(op1(w, KE_OP_I64_CTZ, 0) == 64);
    KT_CHECK(op1(w, KE_OP_I32_CLZ, 1) == 31);
    KT_CHECK(op1(w, KE_OP_I32_POPCNT, 0xffffffff) == 32);
    KT_CHECK(op2(w, KE_OP_I32_SHL, 1, 33) == 2);
    KT_CHECK(op2(w, KE_OP_I32_SHR_S, 0x80000000, 31) == 0xffffffff);
    KT_CHECK(op2(w, KE_OP_I32_ROTL, 0x80000001, 1) == 3);
    KT_CHECK(op2(w, KE_OP_I32_ROTR, 3, 33) == 0x80000001);
    KT_CHECK(op2(w, KE_OP_I32_ROTL, 0x12345678, 0) == 0x12345678);
    KT_CHECK(op2(w, KE_OP_I64_ROTL, UINT64_C(3) << 62, 65) ==
             ((UINT64_C(1) << 63) | 1));
    KT_CHECK(op2(w, KE_OP_I64_SHR_S, UINT64_C(1) << 63, 127) == UINT64_MAX);
    KT_CHECK(op2(w, KE_OP_I32_ADD, 0xffffffff, 1) == 0); /* zero-extended */
    KT_CHECK(op2(w, KE_OP_I32_SUB, 0, 1) == 0xffffffff);
    KT_CHECK(op1(w, KE_OP_I32_EXTEND8_S, 0x80) == 0xffffff80);
    KT_CHECK(op1(w, KE_OP_I64_EXTEND32_S, 0x80000000) ==
             UINT64_C(0xffffffff80000000));
    KT_CHECK(op1(w, KE_OP_I64_EXTEND_I32_S, UINT64_C(0xffffffff)) ==
             UINT64_MAX);
    KT_CHECK(op1(w, KE_OP_I64_EXTEND_I32_U, UINT64_MAX) == 0xffffffff);
    KT_CHECK(op1(w, KE_OP_I32_WRAP_I64, UINT64_MAX) == 0xffffffff);
    KT_CHECK(op2(w, KE_OP_I32_LT_S, 0xffffffff, 0) == 1);
    KT_CHECK(op2(w, KE_OP_I64_GT_U, UINT64_MAX, 0) == 1);
    world_free(w);
}

/* ---- float semantics ---- */

#define F32_CANON 0x7fc00000u
#define F32_NANPAY 0x7fa00001u /* signalling NaN with a payload */

static bool
is_nan32(uint64_t b)
{
    return (b & 0x7f800000) == 0x7f800000 && (b & 0x7fffff) != 0 &&
           b <= 0xffffffff;
}

static bool
is_nan64(uint64_t b)
{
    return (b & UINT64_C(0x7ff0000000000000)) == UINT64_C(0x7ff0000000000000) &&
           (b & UINT64_C(0xfffffffffffff)) != 0;
}

KT_TEST(interp_float_nearest)
{
    world *w = world_new();
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, f32b(0.5f)) == f32b(0.0f));
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, f32b(1.5f)) == f32b(2.0f));
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, f32b(2.5f)) == f32b(2.0f));
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, f32b(-0.5f)) == f32b(-0.0f));
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, f32b(-3.5f)) == f32b(-4.0f));
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, f32b(8388609.0f)) == f32b(8388609.0f));
    KT_CHECK(op1(w, KE_OP_F64_NEAREST, f64b(-0.5)) == f64b(-0.0));
    KT_CHECK(op1(w, KE_OP_F64_NEAREST, f64b(4.5)) == f64b(4.0));
    KT_CHECK(op1(w, KE_OP_F64_NEAREST, f64b(4503599627370497.0)) ==
             f64b(4503599627370497.0));
    KT_CHECK(op1(w, KE_OP_F64_CEIL, f64b(-0.5)) == f64b(-0.0));
    KT_CHECK(op1(w, KE_OP_F32_TRUNC, f32b(-0.9f)) == f32b(-0.0f));
    KT_CHECK(is_nan32(op1(w, KE_OP_F32_NEAREST, F32_CANON)));
    /* a signalling NaN comes back quiet from the rounding ops */
    KT_CHECK(op1(w, KE_OP_F32_FLOOR, F32_NANPAY) & 0x400000);
    KT_CHECK(op1(w, KE_OP_F32_NEAREST, 0xffa00000) & 0x400000);
    KT_CHECK(op1(w, KE_OP_F64_TRUNC, UINT64_C(0x7ff4000000000000)) &
             UINT64_C(0x8000000000000));
    world_free(w);
}

KT_TEST(interp_float_min_max_sign)
{
    world *w = world_new();
    uint64_t pz = f32b(0.0f), nz = f32b(-0.0f);
    KT_CHECK(op2(w, KE_OP_F32_MIN, pz, nz) == nz);
    KT_CHECK(op2(w, KE_OP_F32_MIN, nz, pz) == nz);
    KT_CHECK(op2(w, KE_OP_F32_MAX, pz, nz) == pz);
    KT_CHECK(op2(w, KE_OP_F32_MAX, nz, pz) == pz);
    KT_CHECK(op2(w, KE_OP_F64_MIN, f64b(0.0), f64b(-0.0)) == f64b(-0.0));
    KT_CHECK(op2(w, KE_OP_F64_MAX, f64b(-0.0), f64b(0.0)) == f64b(0.0));
    KT_CHECK(op2(w, KE_OP_F32_MIN, f32b(1.0f), f32b(-2.0f)) == f32b(-2.0f));
    KT_CHECK(is_nan32(op2(w, KE_OP_F32_MIN, F32_CANON, f32b(1.0f))));
    KT_CHECK(is_nan32(op2(w, KE_OP_F32_MAX, f32b(1.0f), F32_NANPAY)));
    KT_CHECK(op2(w, KE_OP_F32_MIN, f32b(1.0f), F32_CANON) == F32_CANON);
    KT_CHECK(is_nan64(op2(w, KE_OP_F64_MIN, f64b(-INFINITY), f64b(NAN))));
    /* abs/neg/copysign keep NaN payloads bit for bit */
    KT_CHECK(op1(w, KE_OP_F32_NEG, F32_NANPAY) == (F32_NANPAY | 0x80000000u));
    KT_CHECK(op1(w, KE_OP_F32_ABS, F32_NANPAY | 0x80000000u) == F32_NANPAY);
    KT_CHECK(op2(w, KE_OP_F32_COPYSIGN, F32_NANPAY, nz) ==
             (F32_NANPAY | 0x80000000u));
    KT_CHECK(op1(w, KE_OP_F64_NEG, UINT64_C(0x7ff0000000000001)) ==
             UINT64_C(0xfff0000000000001));
    KT_CHECK(op2(w, KE_OP_F64_COPYSIGN, f64b(2.0), f64b(-0.0)) == f64b(-2.0));
    /* float results are zero-extended, f32 reads ignore the upper half */
    KT_CHECK(op2(w, KE_OP_F32_ADD, f32b(1.0f) | UINT64_C(0xabc) << 32,
                 f32b(2.0f)) == f32b(3.0f));
    KT_CHECK(op2(w, KE_OP_F32_LT, f32b(1.0f), F32_CANON) == 0);
    KT_CHECK(op2(w, KE_OP_F32_NE, F32_CANON, F32_CANON) == 1);
    world_free(w);
}

KT_TEST(interp_float_trunc_bounds)
{
    world *w = world_new();
    /* i32 signed from f32: -2^31 ok, 2^31 overflows */
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_F32_S, f32b(-2147483648.0f)) == 0x80000000);
    KT_CHECK(op_trap(w, KE_OP_I32_TRUNC_F32_S, f32b(2147483648.0f), 0) ==
             KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op_trap(w, KE_OP_I32_TRUNC_F32_S, f32b(-2147483904.0f), 0) ==
             KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op_trap(w, KE_OP_I32_TRUNC_F32_S, F32_CANON, 0) ==
             KUMO_ETRAP_BAD_CONVERSION);
    KT_CHECK(strcmp(w->s.trap_msg, "invalid conversion to integer") == 0);
    /* i32 signed from f64: (-2^31 - 1, 2^31) */
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_F64_S, f64b(-2147483648.9)) == 0x80000000);
    KT_CHECK(op_trap(w, KE_OP_I32_TRUNC_F64_S, f64b(-2147483649.0), 0) ==
             KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_F64_S, f64b(2147483647.9)) == 0x7fffffff);
    /* unsigned: (-1, 2^32) */
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_F64_U, f64b(-0.9)) == 0);
    KT_CHECK(op_trap(w, KE_OP_I32_TRUNC_F64_U, f64b(-1.0), 0) ==
             KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_F64_U, f64b(4294967295.9)) == 0xffffffff);
    KT_CHECK(op_trap(w, KE_OP_I32_TRUNC_F64_U, f64b(4294967296.0), 0) ==
             KUMO_ETRAP_INT_OVERFLOW);
    /* i64 */
    KT_CHECK(op1(w, KE_OP_I64_TRUNC_F64_S, f64b(-9223372036854775808.0)) ==
             UINT64_C(1) << 63);
    KT_CHECK(op_trap(w, KE_OP_I64_TRUNC_F64_S, f64b(9223372036854775808.0),
                     0) == KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op1(w, KE_OP_I64_TRUNC_F32_U, f32b(18446742974197923840.0f)) ==
             UINT64_C(18446742974197923840));
    KT_CHECK(op_trap(w, KE_OP_I64_TRUNC_F32_U, f32b(18446744073709551616.0f),
                     0) == KUMO_ETRAP_INT_OVERFLOW);
    KT_CHECK(op_trap(w, KE_OP_I64_TRUNC_F64_U, f64b(NAN), 0) ==
             KUMO_ETRAP_BAD_CONVERSION);
    /* saturating */
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_SAT_F32_S, F32_CANON) == 0);
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_SAT_F32_S, f32b(3e9f)) == 0x7fffffff);
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_SAT_F32_S, f32b(-3e9f)) == 0x80000000);
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_SAT_F64_U, f64b(-5.0)) == 0);
    KT_CHECK(op1(w, KE_OP_I32_TRUNC_SAT_F64_U, f64b(1e10)) == 0xffffffff);
    KT_CHECK(op1(w, KE_OP_I64_TRUNC_SAT_F64_S, f64b(INFINITY)) ==
             UINT64_C(0x7fffffffffffffff));
    KT_CHECK(op1(w, KE_OP_I64_TRUNC_SAT_F64_S, f64b(-INFINITY)) == UINT64_C(1)
                                                                       << 63);
    KT_CHECK(op1(w, KE_OP_I64_TRUNC_SAT_F32_U, f32b(1e20f)) == UINT64_MAX);
    KT_CHECK(op1(w, KE_OP_I64_TRUNC_SAT_F64_U, f64b(NAN)) == 0);
    world_free(w);
}

KT_TEST(interp_float_convert)
{
    world *w = world_new();
    /* u64 -> f32 must round once: 2^63 + 2^39 + 1 is just above the
     * halfway point between two f32s; through double it would tie. */
    KT_CHECK(op1(w, KE_OP_F32_CONVERT_I64_U, UINT64_C(0x8000008000000001)) ==
             0x5f000001);
    KT_CHECK(op1(w, KE_OP_F32_CONVERT_I64_U, UINT64_MAX) == 0x5f800000);
    KT_CHECK(op1(w, KE_OP_F32_CONVERT_I64_S, UINT64_C(0x0020000020000001)) ==
             f32b(9007200328482816.0f));
    KT_CHECK(op1(w, KE_OP_F32_CONVERT_I64_S, UINT64_MAX) == f32b(-1.0f));
    KT_CHECK(op1(w, KE_OP_F32_CONVERT_I32_U, 0xffffffff) ==
             f32b(4294967296.0f));
    KT_CHECK(op1(w, KE_OP_F32_CONVERT_I32_S, 0x80000000) ==
             f32b(-2147483648.0f));
    KT_CHECK(op1(w, KE_OP_F64_CONVERT_I64_U, UINT64_MAX) ==
             f64b(18446744073709551616.0));
    KT_CHECK(op1(w, KE_OP_F64_CONVERT_I64_U, UINT64_C(0x8000000000000401)) ==
             f64b(9223372036854777856.0));
    KT_CHECK(op1(w, KE_OP_F64_CONVERT_I32_U, 0xffffffff) == f64b(4294967295.0));
    KT_CHECK(op1(w, KE_OP_F32_DEMOTE_F64, f64b(0x1.fffffefffffffp-1)) ==
             f32b(0x1.fffffep-1f));
    KT_CHECK(is_nan32(op1(w, KE_OP_F32_DEMOTE_F64, f64b(NAN))));
    KT_CHECK(op1(w, KE_OP_F64_PROMOTE_F32, f32b(-0.0f)) == f64b(-0.0));
    KT_CHECK(op1(w, KE_OP_I32_REINTERPRET_F32, F32_NANPAY) == F32_NANPAY);
    KT_CHECK(op1(w, KE_OP_F64_REINTERPRET_I64, 0x7ff0000000000001) ==
             0x7ff0000000000001);
    world_free(w);
}
