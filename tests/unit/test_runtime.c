/* test_runtime.c - stores, memories, tables, globals, host functions,
 * the linker and instantiation of hand-built modules (no decoder needed),
 * and allocation-failure injection over all of them. */
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/runtime.h"
#include "unit.h"

/* ---- a hand-built module ---- */

/* Everything a test module needs, in one place, so nothing is freed. */
typedef struct tmod {
    kumo_module m;
    uint8_t bytes[512];
    ke_functype types[2];
    ke_valtype tvals[4];
    kumo_valtype kvals[2];
    kumo_valtype *ktypes[2];
    ke_import imports[4];
    uint32_t func_types[1];
    ke_tabletype tables[2];
    ke_memtype mems[1];
    ke_global globals[3];
    ke_export exports[4];
    ke_elemitem items[4];
    ke_elem elems[3];
    ke_data datas[2];
} tmod;

static ke_range
put(tmod *t, const void *data, uint32_t n)
{
    ke_range r = {(uint32_t)t->m.size, n};
    memcpy(t->bytes + t->m.size, data, n);
    t->m.size += n;
    return r;
}

#define PUT(t, lit) put(t, lit, sizeof lit - 1)

static ke_limits
lim(uint64_t min, uint64_t max, bool has_max)
{
    ke_limits l = {min, max, has_max};
    return l;
}

/*
 * Imports env.f (func (i32)->i32), env.t (table funcref 2..10),
 * env.m (memory 1..2), env.g (global i32); defines table 1 (funcref 3),
 * globals g1 = g + 5 (extended const) and g2 = ref.func 0; exports f, g1,
 * t2, m; elem 0 puts f at table 0 [1], elem 1 is passive (null, f), elem 2
 * declarative; data 0 writes "hello" at g1, data 1 is passive ("xyz").
 * data_off overrides data 0's offset expression when non-NULL.
 */
static void
tmod_init(tmod *t, const char *data_off)
{
    memset(t, 0, sizeof *t);
    kumo_module *m = &t->m;
    m->bytes = t->bytes;
    m->start = KE_NONE;
    t->tvals[0] = KUMO_I32;
    t->tvals[1] = KUMO_I32;
    t->types[1] = (ke_functype){1, 1, t->tvals};
    m->ntypes = 2;
    m->types = t->types;
    t->kvals[0] = t->kvals[1] = KUMO_I32;
    t->ktypes[1] = t->kvals;
    m->ktypes = t->ktypes;

    ke_range env = PUT(t, "env");
    t->imports[0] =
        (ke_import){env, PUT(t, "f"), KUMO_EXTERN_FUNC, 0, {.type_index = 1}};
    t->imports[1] = (ke_import){env,
                                PUT(t, "t"),
                                KUMO_EXTERN_TABLE,
                                0,
                                {.table = {KUMO_FUNCREF, lim(2, 10, true)}}};
    t->imports[2] = (ke_import){
        env, PUT(t, "m"), KUMO_EXTERN_MEMORY, 0, {.mem = {lim(1, 2, true)}}};
    t->imports[3] = (ke_import){
        env, PUT(t, "g"), KUMO_EXTERN_GLOBAL, 0, {.global = {KUMO_I32, false}}};
    m->nimports = 4;
    m->imports = t->imports;

    t->func_types[0] = 1;
    m->nfuncs = m->nimported_funcs = 1;
    m->func_types = t->func_types;
    t->tables[0] = t->imports[1].u.table;
    t->tables[1] = (ke_tabletype){KUMO_FUNCREF, lim(3, 0, false)};
    m->ntables = 2;
    m->nimported_tables = 1;
    m->tables = t->tables;
    t->mems[0] = t->imports[2].u.mem;
    m->nmems = m->nimported_mems = 1;
    m->mems = t->mems;

    t->globals[0].type = t->imports[3].u.global;
    /* global.get 0; i32.const 5; i32.add; end */
    t->globals[1] =
        (ke_global){{KUMO_I32, false}, PUT(t, "\x23\x00\x41\x05\x6a\x0b")};
    t->globals[2] = (ke_global){{KUMO_FUNCREF, false}, PUT(t, "\xd2\x00\x0b")};
    m->nglobals = 3;
    m->nimported_globals = 1;
    m->globals = t->globals;

    t->exports[0] = (ke_export){PUT(t, "f"), KUMO_EXTERN_FUNC, 0};
    t->exports[1] = (ke_export){PUT(t, "g1"), KUMO_EXTERN_GLOBAL, 1};
    t->exports[2] = (ke_export){PUT(t, "t2"), KUMO_EXTERN_TABLE, 1};
    t->exports[3] = (ke_export){PUT(t, "m"), KUMO_EXTERN_MEMORY, 0};
    m->nexports = 4;
    m->exports = t->exports;

    t->items[0] = (ke_elemitem){false, 0, {0, 0}};
    t->items[1] = (ke_elemitem){true, 0, PUT(t, "\xd0\x70\x0b")};
    t->items[2] = (ke_elemitem){false, 0, {0, 0}};
    t->items[3] = (ke_elemitem){false, 0, {0, 0}};
    t->elems[0] =
        (ke_elem){KE_SEG_ACTIVE, 0, PUT(t, "\x41\x01\x0b"), KUMO_FUNCREF, 1,
                  &t->items[0],  0};
    t->elems[1] =
        (ke_elem){KE_SEG_PASSIVE, 0, {0, 0}, KUMO_FUNCREF, 2, &t->items[1], 0};
    t->elems[2] = (ke_elem){KE_SEG_DECLARATIVE, 0, {0, 0}, KUMO_FUNCREF, 1,
                            &t->items[3],       0};
    m->nelems = 3;
    m->elems = t->elems;

    ke_range off = data_off ? put(t, data_off, (uint32_t)strlen(data_off) + 1)
                            : PUT(t, "\x23\x01\x0b");
    if (data_off) /* the NUL stands for `end` */
        t->bytes[off.off + off.len - 1] = 0x0b;
    t->datas[0] = (ke_data){KE_SEG_ACTIVE, 0, off, PUT(t, "hello")};
    t->datas[1] = (ke_data){KE_SEG_PASSIVE, 0, {0, 0}, PUT(t, "xyz")};
    m->ndatas = 2;
    m->datas = t->datas;
}

/* ---- host functions ---- */

static const kumo_valtype i32_1[] = {KUMO_I32};
static const kumo_valtype i32_2[] = {KUMO_I32, KUMO_I32};

static int
host_add(kumo_caller *c, void *env, const kumo_val *args, kumo_val *results)
{
    (void)env;
    if (kumo_caller_instance(c) != NULL || kumo_caller_memory(c) != NULL)
        return kumo_caller_trap(c, "unexpected caller");
    results[0] = (uint32_t)(args[0] + args[1]);
    return 0;
}

static int
host_inc(kumo_caller *c, void *env, const kumo_val *args, kumo_val *results)
{
    (void)c;
    (void)env;
    if ((uint32_t)args[0] == 13)
        return kumo_caller_trap(c, "unlucky");
    results[0] = (uint32_t)(args[0] + 1);
    return 0;
}

/* Calls env (a kumo_func (i32)->i32) re-entrantly, twice. */
static int
host_twice(kumo_caller *c, void *env, const kumo_val *args, kumo_val *results)
{
    kumo_store *s = kumo_caller_store(c);
    kumo_val v = args[0];
    for (int i = 0; i < 2; i++) {
        int rc = kumo_func_call(s, env, &v, &v);
        if (rc)
            return rc;
    }
    results[0] = v;
    return 0;
}

static int finalized;

static void
fin(void *env)
{
    finalized += *(int *)env;
}

static kumo_func *
new_inc(kumo_store *s)
{
    kumo_functype ft = {1, 1, i32_1, i32_1};
    kumo_func *f = NULL;
    if (kumo_func_new_host(s, &ft, host_inc, NULL, NULL, &f))
        return NULL;
    return f;
}

KT_TEST(runtime_host_call)
{
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    kumo_functype ft = {2, 1, i32_2, i32_1};
    kumo_func *add, *inc, *twice;
    static int weight = 5;
    finalized = 0;
    KT_REQUIRE(kumo_func_new_host(s, &ft, host_add, &weight, fin, &add) == 0);
    const kumo_functype *got = kumo_func_type(add);
    KT_CHECK(got->nparams == 2 && got->nresults == 1);
    KT_CHECK(got->params[1] == KUMO_I32 && got->results[0] == KUMO_I32);

    kumo_val args[2] = {40, 2}, res[1] = {0};
    KT_CHECK(kumo_func_call(s, add, args, res) == 0 && res[0] == 42);
    KT_CHECK(s->sp_free == s->stack && s->depth == 0);

    /* Traps carry their message; the store stays usable. */
    KT_REQUIRE((inc = new_inc(s)) != NULL);
    kumo_val v = 13;
    KT_CHECK(kumo_func_call(s, inc, &v, res) == KUMO_ETRAP_HOST);
    KT_CHECK(strcmp(kumo_store_trap_message(s), "unlucky") == 0);
    KT_CHECK(s->sp_free == s->stack);
    v = 1;
    KT_CHECK(kumo_func_call(s, inc, &v, &v) == 0 && v == 2);

    /* Re-entry: host -> host through kumo_func_call. */
    kumo_functype ft1 = {1, 1, i32_1, i32_1};
    KT_REQUIRE(kumo_func_new_host(s, &ft1, host_twice, inc, NULL, &twice) == 0);
    v = 10;
    KT_CHECK(kumo_func_call(s, twice, &v, res) == 0 && res[0] == 12);
    v = 12; /* 13, then the second nested call traps */
    KT_CHECK(kumo_func_call(s, twice, &v, res) == KUMO_ETRAP_HOST);
    KT_CHECK(strcmp(kumo_store_trap_message(s), "unlucky") == 0);
    KT_CHECK(s->sp_free == s->stack);

    /* Functions of another store are refused. */
    kumo_store *s2;
    KT_REQUIRE(kumo_store_new(NULL, &s2) == 0);
    KT_CHECK(kumo_func_call(s2, add, args, res) == KUMO_EINVAL);
    kumo_store_free(s2);

    /* Invalid value types are refused. */
    kumo_valtype bad[] = {(kumo_valtype)0x42};
    kumo_functype badt = {1, 0, bad, NULL};
    kumo_func *f;
    KT_CHECK(kumo_func_new_host(s, &badt, host_add, NULL, NULL, &f) ==
             KUMO_EINVAL);
    kumo_store_free(s);
    KT_CHECK(finalized == 5);
}

KT_TEST(runtime_stack_exhausted)
{
    kumo_store_config cfg = {0};
    cfg.value_stack_cells = 1;
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(&cfg, &s) == 0);
    kumo_functype ft = {2, 1, i32_2, i32_1};
    kumo_func *add;
    KT_REQUIRE(kumo_func_new_host(s, &ft, host_add, NULL, NULL, &add) == 0);
    kumo_val args[2] = {1, 2}, res[1];
    KT_CHECK(kumo_func_call(s, add, args, res) == KUMO_ETRAP_STACK_EXHAUSTED);
    KT_CHECK(strcmp(kumo_store_trap_message(s), "call stack exhausted") == 0);
    kumo_store_free(s);
}

/* ---- memories, tables, globals ---- */

KT_TEST(runtime_memory_grow)
{
    kumo_store_config cfg = {0};
    cfg.max_memory_pages = 4;
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(&cfg, &s) == 0);
    kumo_memory *m, *m2;
    uint64_t old;
    kumo_limits l = {1, 3, true};
    KT_REQUIRE(kumo_memory_new(s, l, &m) == 0);
    KT_CHECK(kumo_memory_size(m) == KE_PAGE);
    kumo_memory_data(m)[KE_PAGE - 1] = 7;
    KT_CHECK(kumo_memory_grow(m, 2, &old) == 0 && old == 1);
    KT_CHECK(kumo_memory_size(m) == 3 * KE_PAGE);
    KT_CHECK(kumo_memory_data(m)[KE_PAGE - 1] == 7);
    KT_CHECK(kumo_memory_data(m)[KE_PAGE] == 0);
    KT_CHECK(kumo_memory_data(m)[3 * KE_PAGE - 1] == 0);
    KT_CHECK(kumo_memory_grow(m, 1, &old) == KUMO_ELIMIT && old == 3);
    KT_CHECK(ke_memory_grow(m, 1) == -1);
    KT_CHECK(ke_memory_grow(m, 0) == 3);
    KT_CHECK(ke_memory_grow(m, UINT64_MAX) == -1);

    /* No declared max: the store's cap applies. */
    l = (kumo_limits){0, 0, false};
    KT_REQUIRE(kumo_memory_new(s, l, &m2) == 0);
    KT_CHECK(kumo_memory_size(m2) == 0 && kumo_memory_data(m2) == NULL);
    KT_CHECK(ke_memory_grow(m2, 4) == 0);
    KT_CHECK(ke_memory_grow(m2, 1) == -1);
    KT_CHECK(kumo_memory_size(m2) == 4 * KE_PAGE);

    l = (kumo_limits){5, 0, false};
    KT_CHECK(kumo_memory_new(s, l, &m2) == KUMO_ELIMIT);
    l = (kumo_limits){2, 1, true};
    KT_CHECK(kumo_memory_new(s, l, &m2) == KUMO_EINVAL);
    kumo_store_free(s);
}

KT_TEST(runtime_table_grow)
{
    kumo_store_config cfg = {0};
    cfg.max_table_elems = 100;
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(&cfg, &s) == 0);
    kumo_table *t, *t2;
    kumo_limits l = {2, 5, true};
    kumo_val v;
    KT_REQUIRE(kumo_table_new(s, KUMO_EXTERNREF, l, 9, &t) == 0);
    KT_CHECK(kumo_table_size(t) == 2);
    KT_CHECK(kumo_table_get(t, 1, &v) == 0 && v == 9);
    KT_CHECK(kumo_table_get(t, 2, &v) == KUMO_ETRAP_TABLE_OOB);
    KT_CHECK(ke_table_grow(t, 3, 4) == 2);
    KT_CHECK(kumo_table_size(t) == 5);
    KT_CHECK(kumo_table_get(t, 4, &v) == 0 && v == 4);
    KT_CHECK(ke_table_grow(t, 1, 0) == -1);
    KT_CHECK(ke_table_grow(t, 0, 0) == 5);
    KT_CHECK(kumo_table_set(t, 0, 77) == 0);
    KT_CHECK(kumo_table_get(t, 0, &v) == 0 && v == 77);
    KT_CHECK(kumo_table_set(t, 5, 77) == KUMO_ETRAP_TABLE_OOB);

    l = (kumo_limits){0, 0, false};
    KT_REQUIRE(kumo_table_new(s, KUMO_FUNCREF, l, 0, &t2) == 0);
    KT_CHECK(ke_table_grow(t2, 100, 0) == 0);
    KT_CHECK(ke_table_grow(t2, 1, 0) == -1);
    KT_CHECK(ke_table_grow(t2, UINT32_MAX, 0) == -1);
    l = (kumo_limits){101, 0, false};
    KT_CHECK(kumo_table_new(s, KUMO_FUNCREF, l, 0, &t2) == KUMO_ELIMIT);
    KT_CHECK(kumo_table_new(s, KUMO_I32, l, 0, &t2) == KUMO_EINVAL);

    /* A funcref of another store cannot be stored. */
    kumo_store *s2;
    KT_REQUIRE(kumo_store_new(NULL, &s2) == 0);
    kumo_func *f = new_inc(s2);
    KT_REQUIRE(f != NULL);
    KT_CHECK(kumo_table_set(t2, 0, (uintptr_t)f) == KUMO_EINVAL);
    kumo_store_free(s2);
    kumo_store_free(s);
}

KT_TEST(runtime_globals)
{
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    kumo_global *c, *v;
    KT_REQUIRE(kumo_global_new(s, KUMO_I32, false, 0x1ffffffffull, &c) == 0);
    KT_CHECK(kumo_global_get(c) == 0xffffffffu);
    KT_CHECK(!kumo_global_mutable(c) && kumo_global_type(c) == KUMO_I32);
    KT_CHECK(kumo_global_set(c, 1) == KUMO_EINVAL);
    KT_CHECK(kumo_global_get(c) == 0xffffffffu);
    KT_REQUIRE(kumo_global_new(s, KUMO_I64, true, 1, &v) == 0);
    KT_CHECK(kumo_global_set(v, 0x123456789ull) == 0);
    KT_CHECK(kumo_global_get(v) == 0x123456789ull);
    KT_CHECK(kumo_global_new(s, (kumo_valtype)0, true, 1, &v) == KUMO_EINVAL);
    kumo_store_free(s);
}

/* ---- instantiation and linking ---- */

typedef struct env {
    kumo_func *f;
    kumo_table *t;
    kumo_memory *m;
    kumo_global *g;
} env;

static int
env_new(kumo_store *s, env *e)
{
    kumo_functype ft = {1, 1, i32_1, i32_1};
    kumo_limits tl = {2, 10, true}, ml = {1, 2, true};
    int rc;
    if ((rc = kumo_func_new_host(s, &ft, host_inc, NULL, NULL, &e->f)) ||
        (rc = kumo_table_new(s, KUMO_FUNCREF, tl, 0, &e->t)) ||
        (rc = kumo_memory_new(s, ml, &e->m)) ||
        (rc = kumo_global_new(s, KUMO_I32, false, 100, &e->g)))
        return rc;
    return 0;
}

static void
env_externs(const env *e, kumo_extern x[4])
{
    x[0] = (kumo_extern){KUMO_EXTERN_FUNC, {.func = e->f}};
    x[1] = (kumo_extern){KUMO_EXTERN_TABLE, {.table = e->t}};
    x[2] = (kumo_extern){KUMO_EXTERN_MEMORY, {.memory = e->m}};
    x[3] = (kumo_extern){KUMO_EXTERN_GLOBAL, {.global = e->g}};
}

static int
link_env(kumo_linker *l, const env *e)
{
    kumo_extern x[4];
    static const char *const names[] = {"f", "t", "m", "g"};
    env_externs(e, x);
    for (int i = 0; i < 4; i++) {
        int rc = kumo_linker_define(l, "env", names[i], &x[i]);
        if (rc)
            return rc;
    }
    return 0;
}

KT_TEST(runtime_instantiate)
{
    static tmod t;
    tmod_init(&t, NULL);
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    env e;
    KT_REQUIRE(env_new(s, &e) == 0);
    kumo_extern x[4];
    env_externs(&e, x);
    kumo_instance *inst;
    kumo_diag d;
    KT_REQUIRE(kumo_instance_new(s, &t.m, x, 4, &inst, &d) == 0);
    KT_CHECK(kumo_instance_module(inst) == &t.m);

    kumo_val v;
    KT_CHECK(kumo_table_get(e.t, 1, &v) == 0 && v == (uintptr_t)e.f);
    KT_CHECK(kumo_table_get(e.t, 0, &v) == 0 && v == 0);
    KT_CHECK(memcmp(kumo_memory_data(e.m) + 105, "hello", 5) == 0);
    KT_CHECK(inst->elem_sizes[0] == 0 && inst->elem_sizes[1] == 2);
    KT_CHECK(inst->elem_sizes[2] == 0);
    KT_CHECK(inst->elem_items[1][0] == 0);
    KT_CHECK(inst->elem_items[1][1] == (uintptr_t)e.f);
    KT_CHECK(inst->data_sizes[0] == 0 && inst->data_sizes[1] == 3);

    kumo_extern out;
    KT_CHECK(kumo_instance_export(inst, "g1", 2, &out) == 0);
    KT_CHECK(out.kind == KUMO_EXTERN_GLOBAL &&
             kumo_global_get(out.u.global) == 105);
    KT_CHECK(kumo_global_get(inst->globals[2]) == (uintptr_t)e.f);
    KT_CHECK(kumo_instance_export(inst, "t2", 2, &out) == 0);
    KT_CHECK(out.kind == KUMO_EXTERN_TABLE &&
             kumo_table_size(out.u.table) == 3);
    KT_CHECK(kumo_instance_export(inst, "f", 1, &out) == 0);
    KT_CHECK(out.kind == KUMO_EXTERN_FUNC && out.u.func == e.f);
    KT_CHECK(kumo_instance_export(inst, "g", 1, &out) == KUMO_ENOTFOUND);
    KT_CHECK(kumo_instance_export(inst, "g12", 3, &out) == KUMO_ENOTFOUND);

    KT_CHECK(kumo_instance_new(s, &t.m, x, 3, &inst, &d) == KUMO_EINVAL);
    kumo_store_free(s);
}

KT_TEST(runtime_instantiate_trap)
{
    static tmod t;
    /* i32.const 65534: "hello" runs past the end of the 1-page memory. */
    tmod_init(&t, "\x41\xfe\xff\x03");
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    env e;
    KT_REQUIRE(env_new(s, &e) == 0);
    kumo_extern x[4];
    env_externs(&e, x);
    kumo_instance *inst = (kumo_instance *)1;
    kumo_diag d;
    KT_CHECK(kumo_instance_new(s, &t.m, x, 4, &inst, &d) ==
             KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(inst == NULL);
    KT_CHECK(strcmp(d.message, "out of bounds memory access") == 0);
    /* The element segment before it stays applied. */
    kumo_val v;
    KT_CHECK(kumo_table_get(e.t, 1, &v) == 0 && v == (uintptr_t)e.f);

    /* Element segment out of bounds: offset 2 + 1 item > table size 2. */
    tmod_init(&t, NULL);
    t.bytes[t.elems[0].offset.off + 1] = 2;
    KT_CHECK(kumo_instance_new(s, &t.m, x, 4, &inst, &d) ==
             KUMO_ETRAP_TABLE_OOB);
    KT_CHECK(strcmp(d.message, "out of bounds table access") == 0);
    /* ... and no data segment was applied after it. */
    KT_CHECK(kumo_memory_data(e.m)[105] == 0);
    kumo_store_free(s);
}

/* Instantiating with x[i] replaced must fail "incompatible import type". */
static bool
incompatible(kumo_store *s, const tmod *t, const env *e, int i,
             kumo_extern repl)
{
    kumo_extern x[4];
    kumo_instance *inst;
    kumo_diag d;
    env_externs(e, x);
    x[i] = repl;
    int rc = kumo_instance_new(s, &t->m, x, 4, &inst, &d);
    return rc == KUMO_EUNLINKABLE &&
           strncmp(d.message, "incompatible import type",
                   strlen("incompatible import type")) == 0;
}

KT_TEST(runtime_import_matching)
{
    static tmod t;
    tmod_init(&t, NULL);
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    env e;
    KT_REQUIRE(env_new(s, &e) == 0);

    /* Wrong kind. */
    kumo_extern g = {KUMO_EXTERN_GLOBAL, {.global = e.g}};
    KT_CHECK(incompatible(s, &t, &e, 0, g));
    KT_CHECK(incompatible(s, &t, &e, 1, g));
    KT_CHECK(incompatible(s, &t, &e, 2, g));
    kumo_extern f = {KUMO_EXTERN_FUNC, {.func = e.f}};
    KT_CHECK(incompatible(s, &t, &e, 3, f));

    /* Function type. */
    kumo_functype ft = {2, 1, i32_2, i32_1};
    KT_REQUIRE(kumo_func_new_host(s, &ft, host_add, NULL, NULL, &f.u.func) ==
               0);
    KT_CHECK(incompatible(s, &t, &e, 0, f));

    /* Tables: element type, min, max. Declared: funcref 2..10. */
    kumo_extern x = {KUMO_EXTERN_TABLE, {0}};
    kumo_limits l = {2, 10, true};
    KT_REQUIRE(kumo_table_new(s, KUMO_EXTERNREF, l, 0, &x.u.table) == 0);
    KT_CHECK(incompatible(s, &t, &e, 1, x));
    l = (kumo_limits){1, 10, true};
    KT_REQUIRE(kumo_table_new(s, KUMO_FUNCREF, l, 0, &x.u.table) == 0);
    KT_CHECK(incompatible(s, &t, &e, 1, x));
    KT_CHECK(ke_table_grow(x.u.table, 2, 0) == 1); /* size 3 >= 2 now */
    KT_CHECK(!incompatible(s, &t, &e, 1, x));
    l = (kumo_limits){2, 0, false};
    KT_REQUIRE(kumo_table_new(s, KUMO_FUNCREF, l, 0, &x.u.table) == 0);
    KT_CHECK(incompatible(s, &t, &e, 1, x));
    l = (kumo_limits){2, 11, true};
    KT_REQUIRE(kumo_table_new(s, KUMO_FUNCREF, l, 0, &x.u.table) == 0);
    KT_CHECK(incompatible(s, &t, &e, 1, x));
    l = (kumo_limits){4, 9, true};
    KT_REQUIRE(kumo_table_new(s, KUMO_FUNCREF, l, 0, &x.u.table) == 0);
    KT_CHECK(!incompatible(s, &t, &e, 1, x));

    /* Memories (pages). Declared: 1..2. */
    x.kind = KUMO_EXTERN_MEMORY;
    l = (kumo_limits){0, 2, true};
    KT_REQUIRE(kumo_memory_new(s, l, &x.u.memory) == 0);
    KT_CHECK(incompatible(s, &t, &e, 2, x));
    KT_CHECK(ke_memory_grow(x.u.memory, 1) == 0);
    KT_CHECK(!incompatible(s, &t, &e, 2, x));
    l = (kumo_limits){1, 0, false};
    KT_REQUIRE(kumo_memory_new(s, l, &x.u.memory) == 0);
    KT_CHECK(incompatible(s, &t, &e, 2, x));
    l = (kumo_limits){1, 3, true};
    KT_REQUIRE(kumo_memory_new(s, l, &x.u.memory) == 0);
    KT_CHECK(incompatible(s, &t, &e, 2, x));

    /* Globals: type and mutability. Declared: immutable i32. */
    x.kind = KUMO_EXTERN_GLOBAL;
    KT_REQUIRE(kumo_global_new(s, KUMO_I64, false, 0, &x.u.global) == 0);
    KT_CHECK(incompatible(s, &t, &e, 3, x));
    KT_REQUIRE(kumo_global_new(s, KUMO_I32, true, 0, &x.u.global) == 0);
    KT_CHECK(incompatible(s, &t, &e, 3, x));
    kumo_store_free(s);
}

KT_TEST(runtime_linker)
{
    static tmod t;
    tmod_init(&t, NULL);
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    env e;
    KT_REQUIRE(env_new(s, &e) == 0);
    kumo_linker *l;
    KT_REQUIRE(kumo_linker_new(&l) == 0);
    kumo_instance *inst;
    kumo_diag d;

    /* Missing env.g. */
    kumo_extern x[4];
    env_externs(&e, x);
    KT_REQUIRE(kumo_linker_define(l, "env", "f", &x[0]) == 0);
    KT_REQUIRE(kumo_linker_define(l, "env", "t", &x[1]) == 0);
    KT_REQUIRE(kumo_linker_define(l, "env", "m", &x[2]) == 0);
    KT_CHECK(kumo_linker_instantiate(l, s, &t.m, &inst, &d) ==
             KUMO_EUNLINKABLE);
    KT_CHECK(strcmp(d.message, "unknown import: \"env\" \"g\"") == 0);

    /* Wrong kind under the right name, then replaced by the right one. */
    KT_REQUIRE(kumo_linker_define(l, "env", "g", &x[0]) == 0);
    KT_CHECK(kumo_linker_instantiate(l, s, &t.m, &inst, &d) ==
             KUMO_EUNLINKABLE);
    KT_CHECK(strncmp(d.message, "incompatible import type", 24) == 0);
    KT_REQUIRE(kumo_linker_define(l, "env", "g", &x[3]) == 0);
    KT_REQUIRE(kumo_linker_instantiate(l, s, &t.m, &inst, &d) == 0);

    /* Many names force rehashing; earlier ones stay. */
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        KT_REQUIRE(kumo_linker_define(l, "other", name, &x[i % 4]) == 0);
    }
    KT_REQUIRE(kumo_linker_instantiate(l, s, &t.m, &inst, &d) == 0);

    /* Re-export an instance: "env2" gets f, g1, t2, m. */
    KT_REQUIRE(kumo_linker_define_instance(l, "env2", inst) == 0);
    KT_REQUIRE(kumo_linker_define(l, "env", "f", &x[0]) == 0);
    kumo_linker_free(l);
    kumo_store_free(s);
}

/* ---- allocation failure injection ---- */

typedef struct failhook {
    long countdown; /* fail when it reaches 0; <0: never */
    long allocs;
    long long live;
    bool failed;
} failhook;

static void *
fail_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    failhook *h = ud;
    if (new_size == 0) {
        h->live -= (long long)old_size;
        free(ptr);
        return NULL;
    }
    h->allocs++;
    if (h->countdown >= 0 && h->countdown-- == 0) {
        h->failed = true;
        return NULL;
    }
    void *p = realloc(ptr, new_size);
    if (p)
        h->live += (long long)new_size - (long long)old_size;
    return p;
}

/* Everything, in order; returns the first error. */
static int
scenario(const tmod *t)
{
    kumo_store *s = NULL;
    kumo_linker *l = NULL;
    kumo_instance *inst;
    env e;
    kumo_diag d;
    int rc;
    if ((rc = kumo_store_new(NULL, &s)))
        return rc;
    if ((rc = kumo_linker_new(&l)) || (rc = env_new(s, &e)) ||
        (rc = link_env(l, &e)))
        goto done;
    for (int i = 0; i < 3; i++) {
        if ((rc = kumo_linker_instantiate(l, s, &t->m, &inst, &d)))
            goto done;
        if (d.code = 0, (rc = kumo_linker_define_instance(l, "inst", inst)))
            goto done;
    }
    kumo_memory *m = e.m;
    if (kumo_memory_grow(m, 1, NULL) == KUMO_ENOMEM) {
        rc = KUMO_ENOMEM;
        goto done;
    }
    if (ke_table_grow(e.t, 4, 0) < 0)
        rc = KUMO_ENOMEM;
done:
    kumo_linker_free(l);
    kumo_store_free(s);
    return rc;
}

KT_TEST(runtime_alloc_failures)
{
    static tmod t;
    tmod_init(&t, NULL);
    failhook h;
    int n;
    for (n = 0; n < 1000; n++) {
        h = (failhook){n, 0, 0, false};
        kumo_set_allocator(fail_alloc, &h);
        int rc = scenario(&t);
        kumo_set_allocator(NULL, NULL);
        KT_CHECK(h.live == 0);
        if (!h.failed) {
            KT_CHECK(rc == 0);
            break;
        }
        KT_CHECK(rc == KUMO_ENOMEM);
        if (rc != KUMO_ENOMEM || h.live) {
            fprintf(stderr, "  failing allocation %d: rc %d, %lld live\n", n,
                    rc, h.live);
            break;
        }
    }
    KT_CHECK(n > 20 && n < 1000);
}

/* ---- re-entry through a real module ---- */

/* (import "env" "h" (func (param i32) (result i32)))
 * (func (export "g") (param i32) (result i32)
 *   (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
 *     (else (i32.add (call 0 (i32.sub (local.get 0) (i32.const 1)))
 *                    (i32.const 1))))) */
static const uint8_t reenter_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01,
    0x60, 0x01, 0x7f, 0x01, 0x7f, 0x02, 0x09, 0x01, 0x03, 0x65, 0x6e,
    0x76, 0x01, 0x68, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x07, 0x05,
    0x01, 0x01, 0x67, 0x00, 0x01, 0x0a, 0x17, 0x01, 0x15, 0x00, 0x20,
    0x00, 0x45, 0x04, 0x7f, 0x41, 0x00, 0x05, 0x20, 0x00, 0x41, 0x01,
    0x6b, 0x10, 0x00, 0x41, 0x01, 0x6a, 0x0b, 0x0b};

/* env.h: calls the guest's g (in *env) with its argument. */
static int
host_reenter(kumo_caller *c, void *gp, const kumo_val *args, kumo_val *results)
{
    kumo_func *g = *(kumo_func **)gp;
    return kumo_func_call(kumo_caller_store(c), g, args, results);
}

KT_TEST(runtime_reentry)
{
    kumo_module *m;
    kumo_diag d;
    KT_REQUIRE(kumo_module_new(reenter_wasm, sizeof reenter_wasm, &m, &d) == 0);
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    static kumo_func *g;
    kumo_functype ft = {1, 1, i32_1, i32_1};
    kumo_extern h = {KUMO_EXTERN_FUNC, {0}};
    KT_REQUIRE(kumo_func_new_host(s, &ft, host_reenter, &g, NULL, &h.u.func) ==
               0);
    kumo_instance *inst;
    KT_REQUIRE(kumo_instance_new(s, m, &h, 1, &inst, &d) == 0);
    kumo_extern x;
    KT_REQUIRE(kumo_instance_export(inst, "g", 1, &x) == 0);
    g = x.u.func;
    const kumo_functype *t = kumo_func_type(g);
    KT_CHECK(t->nparams == 1 && t->nresults == 1 && t->params[0] == KUMO_I32);

    /* host -> g -> h -> g -> ... 300 levels deep, and back. */
    kumo_val v = 300, r = 0;
    KT_CHECK(kumo_func_call(s, g, &v, &r) == 0 && r == 300);
    KT_CHECK(s->sp_free == s->stack && s->depth == 0);
    /* Deeper than the host re-entry limit (1000): a clean trap, not a C
     * stack overflow; then the store works. */
    v = 100000;
    KT_CHECK(kumo_func_call(s, g, &v, &r) == KUMO_ETRAP_STACK_EXHAUSTED);
    KT_CHECK(s->sp_free == s->stack && s->depth == 0);
    v = 5;
    KT_CHECK(kumo_func_call(s, g, &v, &r) == 0 && r == 5);
    kumo_store_free(s);
    kumo_module_free(m);
}
