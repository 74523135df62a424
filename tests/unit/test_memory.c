/* test_memory.c - reserved memories, the guard-page trap, copy-on-write
 * memory images and instance pools (memory.c, guard.c, pool.c), with
 * modules written by wasm_build.h. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/engine/memory.h"
#include "unit.h"
#include "wasm_build.h"

static kumo_module *
load(wb *b)
{
    kumo_module *m = NULL;
    kumo_diag d;
    if (kumo_module_new(b->p, b->n, &m, &d) && d.code != KUMO_ENOMEM)
        fprintf(stderr, "load: %s\n", d.message);
    wb_free(b);
    return m;
}

static kumo_extern
export_of(kumo_instance *inst, const char *name)
{
    kumo_extern x;
    memset(&x, 0, sizeof x);
    if (kumo_instance_export(inst, name, strlen(name), &x))
        x.u.func = NULL;
    return x;
}

static int
call0(kumo_instance *inst, const char *name, kumo_val *res)
{
    kumo_func *f = export_of(inst, name).u.func;
    if (!f)
        return KUMO_ENOTFOUND;
    return kumo_func_call(kumo_instance_store(inst), f, NULL, res);
}

/* ---- reserved memories ---- */

KT_TEST(memory_reserved_grow)
{
    long base = ke_memory_live_reservations();
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    kumo_memory *m;
    kumo_limits l = {1, 70000, true};
    KT_REQUIRE(kumo_memory_new(s, l, &m) == 0);
    KT_CHECK(m->reserved == KE_RESERVE);
    KT_CHECK(ke_memory_live_reservations() == base + 1);
    KT_CHECK(m->max_pages == 65536); /* the store's cap */
    uint8_t *d = kumo_memory_data(m);
    d[5] = 1;
    KT_CHECK(ke_memory_grow(m, 3) == 1);
    KT_CHECK(kumo_memory_data(m) == d && d[5] == 1); /* never moves */
    KT_CHECK(d[4 * KE_PAGE - 1] == 0);
    d[4 * KE_PAGE - 1] = 2;
    KT_CHECK(ke_memory_grow(m, 65533) == -1);
    KT_CHECK(kumo_memory_size(m) == 4 * KE_PAGE);
    kumo_store_free(s);
    KT_CHECK(ke_memory_live_reservations() == base);

    /* The fallback: heap memories with explicit checks. */
    kumo_store_config cfg = {0};
    cfg.flags = KUMO_STORE_NO_GUARD;
    KT_REQUIRE(kumo_store_new(&cfg, &s) == 0);
    KT_REQUIRE(kumo_memory_new(s, l, &m) == 0);
    KT_CHECK(m->reserved == 0 && !m->guarded);
    KT_CHECK(ke_memory_grow(m, 1) == 1 && kumo_memory_data(m)[KE_PAGE] == 0);
    KT_CHECK(ke_memory_live_reservations() == base);
    kumo_store_free(s);
}

/* ---- the guard-page trap ---- */

/* Types: 0 = [] -> [], 1 = [] -> [i32]. */
static void
types_section(wb *out)
{
    wb sec = {0};
    wb_bytes(&sec, "\x02\x60\x00\x00\x60\x00\x01\x7f", 8);
    wb_section(out, 1, &sec);
    wb_free(&sec);
}

/*
 * (import "env" "touch" (func)) (import "env" "reenter" (func (result i32)))
 * (memory 1) (func (export "run") call 0)
 * (func (export "ok") (result i32) i32.const 7)
 * (func (export "outer") (result i32) call 1)
 */
static kumo_module *
guard_module(void)
{
    wb out = {0}, sec = {0};
    wb_header(&out);
    types_section(&out);
    wb_u32(&sec, 2);
    wb_name(&sec, "env");
    wb_name(&sec, "touch");
    wb_bytes(&sec, "\x00\x00", 2);
    wb_name(&sec, "env");
    wb_name(&sec, "reenter");
    wb_bytes(&sec, "\x00\x01", 2);
    wb_section(&out, 2, &sec);
    wb_bytes(&sec, "\x03\x00\x01\x01", 4);
    wb_section(&out, 3, &sec);
    wb_bytes(&sec, "\x01\x00\x01", 3);
    wb_section(&out, 5, &sec);
    wb_u32(&sec, 3);
    wb_name(&sec, "run");
    wb_bytes(&sec, "\x00\x02", 2);
    wb_name(&sec, "ok");
    wb_bytes(&sec, "\x00\x03", 2);
    wb_name(&sec, "outer");
    wb_bytes(&sec, "\x00\x04", 2);
    wb_section(&out, 7, &sec);
    wb_u32(&sec, 3);
    wb_body(&sec, "\x10\x00\x0b", 3);
    wb_body(&sec, "\x41\x07\x0b", 3);
    wb_body(&sec, "\x10\x01\x0b", 3);
    wb_section(&out, 10, &sec);
    wb_free(&sec);
    return load(&out);
}

static int touched;

/* Write into the guard region just past the end of the caller's memory. */
static int
host_touch(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    (void)env;
    (void)args;
    (void)res;
    kumo_memory *m = kumo_caller_memory(c);
    volatile uint8_t *p = m->data + m->pages * KE_PAGE + 100;
    touched++;
    *p = 1;
    return 0; /* not reached */
}

/* Calls "run" again from the host: its trap must come back here. */
static int
host_reenter(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    (void)env;
    (void)args;
    int rc = call0(kumo_caller_instance(c), "run", NULL);
    res[0] = rc == KUMO_ETRAP_MEMORY_OOB ? 1 : 0;
    return 0;
}

KT_TEST(guard_trap)
{
    if (!ke_guard_available()) {
        /* E.g. a sanitizer that keeps its own SEGV handler
         * (ASAN_OPTIONS=allow_user_segv_handler=0). */
        printf("guard_trap: skipped, guard handler not installed\n");
        return;
    }
    kumo_module *m = guard_module();
    KT_REQUIRE(m);
    kumo_store *s;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    kumo_functype t0 = {0, 0, NULL, NULL};
    kumo_valtype i32 = KUMO_I32;
    kumo_functype t1 = {0, 1, NULL, &i32};
    kumo_extern imp[2] = {{KUMO_EXTERN_FUNC, {0}}, {KUMO_EXTERN_FUNC, {0}}};
    KT_REQUIRE(kumo_func_new_host(s, &t0, host_touch, NULL, NULL,
                                  &imp[0].u.func) == 0);
    KT_REQUIRE(kumo_func_new_host(s, &t1, host_reenter, NULL, NULL,
                                  &imp[1].u.func) == 0);
    kumo_instance *inst;
    KT_REQUIRE(kumo_instance_new(s, m, imp, 2, &inst, NULL) == 0);
    KT_REQUIRE(inst->mems[0]->guarded);
    kumo_val r = 0;
    touched = 0;
    KT_CHECK(call0(inst, "run", NULL) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(touched == 1);
    KT_CHECK(strcmp(kumo_store_trap_message(s),
                    "out of bounds memory access") == 0);
    KT_CHECK(s->depth == 0 && s->sp_free == s->stack);
    KT_CHECK(call0(inst, "ok", &r) == 0 && r == 7);
    /* Nested: the inner call traps, the outer one completes. */
    KT_CHECK(call0(inst, "outer", &r) == 0 && r == 1);
    KT_CHECK(touched == 2);
    KT_CHECK(s->depth == 0 && s->sp_free == s->stack);
    /* Many times: the signal is not left blocked. */
    for (int i = 0; i < 100; i++)
        KT_CHECK(call0(inst, "run", NULL) == KUMO_ETRAP_MEMORY_OOB);
    KT_CHECK(call0(inst, "ok", &r) == 0 && r == 7);
    kumo_store_free(s);
    kumo_module_free(m);
}

/* A fault that is not ours still kills the process (in a child). */
KT_TEST(guard_foreign_fault)
{
    if (!ke_guard_available())
        return;
    fflush(NULL);
    pid_t pid = fork();
    KT_REQUIRE(pid >= 0);
    if (pid == 0) {
        /* Quiet: a sanitizer would print a report. */
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        volatile uintptr_t addr = 16;
        *(volatile uint8_t *)addr = 1;
        _exit(0);
    }
    int st;
    KT_REQUIRE(waitpid(pid, &st, 0) == pid);
    /* Killed by SIGSEGV, or a sanitizer's report and exit status. */
    KT_CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
             (WIFEXITED(st) && WEXITSTATUS(st) != 0));
}

/* ---- images and pools ---- */

typedef struct bopts {
    uint32_t n0;     /* bytes of data segment 0 at offset 100 */
    bool add_offset; /* segment 0's offset as i32.const 50 + 50 */
    uint32_t off1;   /* offset of segment 1 ("tail!") */
} bopts;

static uint8_t
pattern(uint32_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/*
 * (memory (export "mem") 2 4) (table (export "tab") 2 funcref)
 * (global (export "g") (mut i32) 0) (global (export "h") (mut i64) 42)
 * (func $f (result i32) 5) (func $start g += 1) (start $start)
 * (func (export "init") memory.init 0 at 0 len 1)
 * (func (export "initp") memory.init 2 at 0 len 3)
 * (func (export "dropp") data.drop 2)
 * (elem (i32.const 0) $f)
 * data 0: n0 pattern bytes at 100; data 1: "tail!" at off1; data 2:
 * passive "xyz".
 */
static kumo_module *
image_module(const bopts *o)
{
    wb out = {0}, sec = {0};
    wb_header(&out);
    types_section(&out);
    wb_bytes(&sec, "\x05\x01\x00\x00\x00\x00", 6);
    wb_section(&out, 3, &sec);
    wb_bytes(&sec, "\x01\x70\x00\x02", 4);
    wb_section(&out, 4, &sec);
    wb_bytes(&sec, "\x01\x01\x02\x04", 4);
    wb_section(&out, 5, &sec);
    wb_bytes(&sec, "\x02\x7f\x01\x41\x00\x0b\x7e\x01\x42\x2a\x0b", 11);
    wb_section(&out, 6, &sec);
    static const char *const names[] = {"mem", "tab", "g", "h",
                                        "init", "initp", "dropp"};
    static const uint8_t kinds[] = {2, 1, 3, 3, 0, 0, 0};
    static const uint8_t idx[] = {0, 0, 0, 1, 2, 3, 4};
    wb_u32(&sec, 7);
    for (int i = 0; i < 7; i++) {
        wb_name(&sec, names[i]);
        wb_byte(&sec, kinds[i]);
        wb_byte(&sec, idx[i]);
    }
    wb_section(&out, 7, &sec);
    wb_byte(&sec, 1);
    wb_section(&out, 8, &sec);
    wb_bytes(&sec, "\x01\x00\x41\x00\x0b\x01\x00", 7);
    wb_section(&out, 9, &sec);
    wb_byte(&sec, 3);
    wb_section(&out, 12, &sec);
    wb_u32(&sec, 5);
    wb_body(&sec, "\x41\x05\x0b", 3);
    wb_body(&sec, "\x23\x00\x41\x01\x6a\x24\x00\x0b", 8);
    wb_body(&sec, "\x41\x00\x41\x00\x41\x01\xfc\x08\x00\x00\x0b", 11);
    wb_body(&sec, "\x41\x00\x41\x00\x41\x03\xfc\x08\x02\x00\x0b", 11);
    wb_body(&sec, "\xfc\x09\x02\x0b", 4);
    wb_section(&out, 10, &sec);
    wb_u32(&sec, 3);
    wb_byte(&sec, 0);
    if (o->add_offset)
        wb_bytes(&sec, "\x41\x32\x41\x32\x6a\x0b", 6);
    else
        wb_i32_expr(&sec, 100);
    wb_u32(&sec, o->n0);
    for (uint32_t i = 0; i < o->n0; i++)
        wb_byte(&sec, pattern(i));
    wb_byte(&sec, 0);
    wb_i32_expr(&sec, (int32_t)o->off1);
    wb_u32(&sec, 5);
    wb_bytes(&sec, "tail!", 5);
    wb_bytes(&sec, "\x01\x03xyz", 5);
    wb_section(&out, 11, &sec);
    wb_free(&sec);
    return load(&out);
}

/* Everything of a fresh instance of image_module, as instantiated. */
static bool
is_fresh(kumo_instance *inst, uint32_t n0)
{
    kumo_memory *mem = export_of(inst, "mem").u.memory;
    kumo_table *tab = export_of(inst, "tab").u.table;
    uint8_t *d = kumo_memory_data(mem);
    kumo_val v0, v1;
    bool ok = kumo_memory_size(mem) == 2 * KE_PAGE;
    for (uint32_t i = 0; ok && i < 2 * KE_PAGE; i++) {
        uint8_t want = 0;
        if (i >= 100 && i < 100 + n0)
            want = pattern(i - 100);
        else if (i >= 70000 && i < 70005)
            want = (uint8_t)"tail!"[i - 70000];
        ok = d[i] == want;
    }
    ok = ok && kumo_global_get(export_of(inst, "g").u.global) == 1 &&
         kumo_global_get(export_of(inst, "h").u.global) == 42;
    ok = ok && kumo_table_size(tab) == 2 && kumo_table_get(tab, 0, &v0) == 0 &&
         v0 == (kumo_val)(uintptr_t)inst->funcs[0] &&
         kumo_table_get(tab, 1, &v1) == 0 && v1 == 0;
    /* Active segments are dropped, the passive one is not. */
    ok = ok && call0(inst, "init", NULL) == KUMO_ETRAP_MEMORY_OOB;
    return ok;
}

/* Scribble over everything is_fresh looks at. */
static void
dirty(kumo_instance *inst)
{
    kumo_memory *mem = export_of(inst, "mem").u.memory;
    KT_CHECK(kumo_memory_grow(mem, 2, NULL) == 0);
    uint8_t *d = kumo_memory_data(mem);
    memset(d, 0xee, 4 * KE_PAGE);
    KT_CHECK(kumo_global_set(export_of(inst, "g").u.global, 77) == 0);
    KT_CHECK(kumo_global_set(export_of(inst, "h").u.global, 0) == 0);
    kumo_table *tab = export_of(inst, "tab").u.table;
    kumo_val f;
    KT_CHECK(kumo_table_get(tab, 0, &f) == 0);
    KT_CHECK(kumo_table_set(tab, 1, f) == 0 && kumo_table_set(tab, 0, 0) == 0);
    KT_CHECK(call0(inst, "dropp", NULL) == 0);
    KT_CHECK(call0(inst, "initp", NULL) == KUMO_ETRAP_MEMORY_OOB);
}

KT_TEST(image_instantiate)
{
    long images = ke_image_live();
    bopts big = {20000, false, 70000};
    kumo_module *m = image_module(&big);
    KT_REQUIRE(m);
    KT_CHECK(m->image == NULL); /* lazily built */
    kumo_store *s;
    kumo_instance *inst;
    for (int copy = 0; copy < 2; copy++) {
        kumo_store_config cfg = {0};
        cfg.flags = copy ? KUMO_STORE_NO_IMAGE : 0;
        KT_REQUIRE(kumo_store_new(&cfg, &s) == 0);
        KT_REQUIRE(kumo_instance_new(s, m, NULL, 0, &inst, NULL) == 0);
        kumo_memory *mem = inst->mems[0];
        KT_CHECK(copy ? mem->image == NULL : mem->image != NULL);
        KT_CHECK(is_fresh(inst, big.n0));
        dirty(inst);
        kumo_store_free(s);
    }
    KT_CHECK(ke_image_get(m) != NULL && ke_image_live() == images + 1);
    /* Writes of one instance never reach the image. */
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    KT_REQUIRE(kumo_instance_new(s, m, NULL, 0, &inst, NULL) == 0);
    KT_CHECK(is_fresh(inst, big.n0));
    kumo_store_free(s);
    kumo_module_free(m);
    KT_CHECK(ke_image_live() == images);

    /* No image: small data, a non-plain offset, an out-of-bounds one. */
    bopts other[3] = {{16, false, 70000}, {20000, true, 70000},
                      {20000, false, 2 * KE_PAGE - 4}};
    for (int i = 0; i < 3; i++) {
        KT_REQUIRE((m = image_module(&other[i])));
        KT_CHECK(ke_image_get(m) == NULL);
        KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
        int rc = kumo_instance_new(s, m, NULL, 0, &inst, NULL);
        if (i < 2)
            KT_CHECK(rc == 0 && is_fresh(inst, other[i].n0));
        else
            KT_CHECK(rc == KUMO_ETRAP_MEMORY_OOB);
        kumo_store_free(s);
        kumo_module_free(m);
    }
    KT_CHECK(ke_image_live() == images);
}

static void
pool_cycles(uint32_t n0, uint32_t flags)
{
    bopts o = {n0, false, 70000};
    kumo_module *m = image_module(&o);
    KT_REQUIRE(m);
    kumo_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.store.flags = flags;
    cfg.max_idle = 2;
    kumo_pool *p;
    KT_REQUIRE(kumo_pool_new(m, &cfg, &p) == 0);
    long res = ke_memory_live_reservations();
    kumo_instance *inst;
    uint8_t *first = NULL;
    for (int i = 0; i < 50; i++) {
        KT_REQUIRE(kumo_pool_instantiate(p, &inst, NULL) == 0);
        KT_CHECK(is_fresh(inst, n0));
        /* The same slot and memory every time: no mmap churn. */
        if (!first)
            first = inst->mems[0]->data;
        else if (!(flags & KUMO_STORE_NO_GUARD))
            KT_CHECK(inst->mems[0]->data == first);
        dirty(inst);
        kumo_pool_release(p, inst);
    }
    if (!(flags & KUMO_STORE_NO_GUARD))
        KT_CHECK(ke_memory_live_reservations() == res + 1);
    /* Three at once, then back to max_idle slots. */
    kumo_instance *three[3];
    for (int i = 0; i < 3; i++) {
        KT_REQUIRE(kumo_pool_instantiate(p, &three[i], NULL) == 0);
        KT_CHECK(is_fresh(three[i], n0));
    }
    for (int i = 0; i < 3; i++)
        kumo_pool_release(p, three[i]);
    if (!(flags & KUMO_STORE_NO_GUARD))
        KT_CHECK(ke_memory_live_reservations() == res + 2);
    kumo_pool_free(p);
    KT_CHECK(ke_memory_live_reservations() == res);
    kumo_module_free(m);
}

KT_TEST(pool_fresh_state)
{
    pool_cycles(20000, 0);                   /* image mapping */
    pool_cycles(16, 0);                      /* anonymous + copy */
    pool_cycles(20000, KUMO_STORE_NO_IMAGE); /* copy */
    pool_cycles(20000, KUMO_STORE_NO_GUARD); /* heap memories */
}

/* Snapshot right after instantiation, then dirty + restore many times:
 * every restore gives exactly a fresh instance, in the same memory. */
static void
snapshot_cycles(uint32_t n0, uint32_t flags)
{
    bopts o = {n0, false, 70000};
    kumo_module *m = image_module(&o);
    KT_REQUIRE(m);
    kumo_store_config cfg = {0};
    cfg.flags = flags;
    kumo_store *s;
    kumo_instance *inst;
    KT_REQUIRE(kumo_store_new(&cfg, &s) == 0);
    KT_REQUIRE(kumo_instance_new(s, m, NULL, 0, &inst, NULL) == 0);
    kumo_snapshot *snap;
    KT_REQUIRE(kumo_store_snapshot(s, &snap) == 0);
    uint64_t fuel = kumo_store_fuel(s);
    uint8_t *data = inst->mems[0]->data;
    uint32_t nmems = s->nmems;
    for (int i = 0; i < 20; i++) {
        dirty(inst);
        /* objects made after the snapshot go away on restore */
        kumo_memory *extra;
        kumo_limits l = {1, 1, true};
        KT_CHECK(kumo_memory_new(s, l, &extra) == 0);
        kumo_store_set_fuel(s, 5);
        KT_REQUIRE(kumo_store_restore(s, snap) == 0);
        KT_CHECK(s->nmems == nmems);
        KT_CHECK(kumo_store_fuel(s) == fuel);
        KT_CHECK(is_fresh(inst, n0));
        if (!(flags & KUMO_STORE_NO_GUARD))
            KT_CHECK(inst->mems[0]->data == data);
    }
    /* What the start function did is part of the snapshot, not redone. */
    KT_CHECK(kumo_global_get(export_of(inst, "g").u.global) == 1);
    kumo_snapshot_free(snap);
    kumo_store_free(s);
    kumo_module_free(m);
}

KT_TEST(snapshot_restore)
{
    snapshot_cycles(20000, 0);                   /* image mapping */
    snapshot_cycles(16, 0);                      /* anonymous + copy */
    snapshot_cycles(20000, KUMO_STORE_NO_IMAGE); /* copy */
    snapshot_cycles(20000, KUMO_STORE_NO_GUARD); /* heap memories */
}

/* A snapshot records what ran after instantiation too, and restoring
 * while a call runs is refused. */
KT_TEST(snapshot_after_changes)
{
    bopts o = {16, false, 70000};
    kumo_module *m = image_module(&o);
    KT_REQUIRE(m);
    kumo_store *s;
    kumo_instance *inst;
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    KT_REQUIRE(kumo_instance_new(s, m, NULL, 0, &inst, NULL) == 0);
    kumo_memory *mem = export_of(inst, "mem").u.memory;
    KT_CHECK(kumo_memory_grow(mem, 1, NULL) == 0);
    uint8_t *d = kumo_memory_data(mem);
    d[3 * KE_PAGE - 1] = 0x5a;
    d[0] = 0x11;
    KT_CHECK(kumo_global_set(export_of(inst, "g").u.global, 9) == 0);
    kumo_snapshot *snap;
    KT_REQUIRE(kumo_store_snapshot(s, &snap) == 0);
    for (int i = 0; i < 3; i++) {
        KT_CHECK(kumo_memory_grow(mem, 1, NULL) == 0);
        memset(kumo_memory_data(mem), 0xee, 4 * KE_PAGE);
        KT_CHECK(kumo_global_set(export_of(inst, "g").u.global, 3) == 0);
        KT_REQUIRE(kumo_store_restore(s, snap) == 0);
        d = kumo_memory_data(mem);
        KT_CHECK(kumo_memory_size(mem) == 3 * KE_PAGE);
        KT_CHECK(d[3 * KE_PAGE - 1] == 0x5a && d[0] == 0x11 &&
                 d[100] == pattern(0) && d[2 * KE_PAGE] == 0);
        KT_CHECK(kumo_global_get(export_of(inst, "g").u.global) == 9);
    }
    kumo_snapshot_free(snap);
    kumo_store_free(s);
    kumo_module_free(m);
}

/* A pool whose module has imports gets them from the callback, once per
 * slot; fuel is reset between uses. */
static int imports_calls;

static int
guard_imports(kumo_store *s, void *env, kumo_extern *imp)
{
    (void)env;
    kumo_functype t0 = {0, 0, NULL, NULL};
    kumo_valtype i32 = KUMO_I32;
    kumo_functype t1 = {0, 1, NULL, &i32};
    imports_calls++;
    imp[0].kind = imp[1].kind = KUMO_EXTERN_FUNC;
    int rc = kumo_func_new_host(s, &t0, host_touch, NULL, NULL, &imp[0].u.func);
    if (!rc)
        rc = kumo_func_new_host(s, &t1, host_reenter, NULL, NULL,
                                &imp[1].u.func);
    return rc;
}

KT_TEST(pool_imports)
{
    kumo_module *m = guard_module();
    KT_REQUIRE(m);
    kumo_pool *p;
    KT_CHECK(kumo_pool_new(m, NULL, &p) == KUMO_EINVAL);
    kumo_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.imports = guard_imports;
    KT_REQUIRE(kumo_pool_new(m, &cfg, &p) == 0);
    imports_calls = 0;
    for (int i = 0; i < 5; i++) {
        kumo_instance *inst;
        kumo_val r = 0;
        KT_REQUIRE(kumo_pool_instantiate(p, &inst, NULL) == 0);
        KT_CHECK(kumo_store_fuel(kumo_instance_store(inst)) == UINT64_MAX);
        KT_CHECK(call0(inst, "ok", &r) == 0 && r == 7);
        kumo_store_set_fuel(kumo_instance_store(inst), 1);
        kumo_pool_release(p, inst);
    }
    KT_CHECK(imports_calls == 1);
    kumo_pool_free(p);
    kumo_module_free(m);
}

/* ---- allocation failures ---- */

static struct {
    long countdown;
    long live;
} fa;

static void *
failing_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        if (ptr)
            fa.live--;
        free(ptr);
        return NULL;
    }
    if (fa.countdown >= 0 && fa.countdown-- == 0)
        return NULL;
    void *p = realloc(ptr, new_size);
    if (p && !ptr)
        fa.live++;
    return p;
}

/* Load, instantiate twice directly and twice through a pool, free. */
static int
lifecycle(const bopts *o)
{
    kumo_module *m = image_module(o);
    if (!m)
        return KUMO_ENOMEM;
    kumo_store *s = NULL;
    kumo_pool *p = NULL;
    kumo_instance *inst;
    int rc = kumo_store_new(NULL, &s);
    for (int i = 0; rc == 0 && i < 2; i++)
        rc = kumo_instance_new(s, m, NULL, 0, &inst, NULL);
    if (rc == 0)
        rc = kumo_pool_new(m, NULL, &p);
    for (int i = 0; rc == 0 && i < 2; i++) {
        if ((rc = kumo_pool_instantiate(p, &inst, NULL)) == 0)
            kumo_pool_release(p, inst);
    }
    kumo_pool_free(p);
    kumo_store_free(s);
    kumo_module_free(m);
    return rc;
}

KT_TEST(memory_alloc_failures)
{
    long res = ke_memory_live_reservations(), images = ke_image_live();
    bopts kinds[2] = {{20000, false, 70000}, {16, false, 70000}};
    for (int k = 0; k < 2; k++) {
        int rc = KUMO_ENOMEM;
        for (long n = 0; rc == KUMO_ENOMEM && n < 100000; n++) {
            fa.countdown = n;
            fa.live = 0;
            kumo_set_allocator(failing_alloc, NULL);
            rc = lifecycle(&kinds[k]);
            kumo_set_allocator(NULL, NULL);
            KT_CHECK(fa.live == 0);
            KT_CHECK(ke_memory_live_reservations() == res);
            KT_CHECK(ke_image_live() == images);
            KT_CHECK(rc == 0 || rc == KUMO_ENOMEM);
        }
        KT_CHECK(rc == 0);
    }
}
