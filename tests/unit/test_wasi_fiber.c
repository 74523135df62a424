/* test_wasi_fiber.c - the execution model: fibers on one libuv loop whose
 * waits (kx_wait) yield to the loop, so that while one waits the others
 * run; cancellation of a wait; guest traps (guard page, call depth) on
 * fibers; the switch itself; name lookups that wait off the loop. */
#include <fenv.h>
#include <string.h>
#include <unistd.h>

#include "../../src/wasi/fiber.h"
#include "../../src/wasi/p2.h"
#include "unit.h"
#include "wasm_build.h"

typedef struct job {
    kumo_wasi_ctx *ctx;
    int64_t sleep_ns;
    int id;
    int *order;
    int *norder;
    int rc;
    bool done;
} job;

static void
sleeper(void *arg)
{
    job *j = arg;
    j->rc = kx_wait(j->ctx, NULL, 0, j->sleep_ns);
    j->order[(*j->norder)++] = j->id;
}

static void
mark_done(void *arg)
{
    ((job *)arg)->done = true;
}

KT_TEST(wasi_fiber_interleave)
{
    uv_loop_t loop;
    kumo_wasi_ctx *c1, *c2, *c3;
    int order[3], n = 0;
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    KT_REQUIRE(kumo_wasi_ctx_new(&c1) == 0 && kumo_wasi_ctx_new(&c2) == 0 &&
               kumo_wasi_ctx_new(&c3) == 0);
    job a = {c1, 60000000, 1, order, &n, -1, false};
    job b = {c2, 20000000, 2, order, &n, -1, false};
    job c = {c3, 0, 3, order, &n, -1, false};
    KT_CHECK(kx_fiber_start(&loop, sleeper, &a, mark_done) == 0);
    KT_CHECK(kx_fiber_start(&loop, sleeper, &b, mark_done) == 0);
    KT_CHECK(kx_fiber_start(&loop, sleeper, &c, mark_done) == 0);
    /* All three are suspended in their waits: nothing finished yet. */
    KT_CHECK(n == 0 && !a.done && !b.done && !c.done);
    uv_run(&loop, UV_RUN_DEFAULT);
    KT_CHECK(a.done && b.done && c.done);
    KT_CHECK(n == 3 && order[0] == 3 && order[1] == 2 && order[2] == 1);
    KT_CHECK(a.rc == 0 && b.rc == 0 && c.rc == 0);
    uv_loop_close(&loop);
    kx_fiber_pool_trim();
    kumo_wasi_ctx_free(c1);
    kumo_wasi_ctx_free(c2);
    kumo_wasi_ctx_free(c3);
}

typedef struct reader {
    kumo_wasi_ctx *ctx;
    int fd;
    int rc;
    char buf[16];
} reader;

static void
read_pipe(void *arg)
{
    reader *r = arg;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    r->rc = kx_wait(r->ctx, &p, 1, -1);
    if (r->rc == 1 && read(r->fd, r->buf, sizeof r->buf - 1) < 0)
        r->rc = -1;
}

static void
write_later(uv_timer_t *t)
{
    int *fd = t->data;
    if (write(*fd, "ping", 4) != 4)
        return;
}

KT_TEST(wasi_fiber_pipe_wait)
{
    uv_loop_t loop;
    uv_timer_t t;
    kumo_wasi_ctx *ctx;
    int fds[2];
    reader r;
    KT_REQUIRE(pipe(fds) == 0);
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.fd = fds[0];
    KT_CHECK(kx_fiber_start(&loop, read_pipe, &r, NULL) == 0);
    uv_timer_init(&loop, &t);
    t.data = &fds[1];
    uv_timer_start(&t, write_later, 10, 0);
    uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    KT_CHECK(r.rc == 1 && strcmp(r.buf, "ping") == 0);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    close(fds[0]);
    close(fds[1]);
    kumo_wasi_ctx_free(ctx);
}

static void
cancel_later(uv_timer_t *t)
{
    kumo_wasi_ctx *ctx = t->data;
    atomic_store(&ctx->cancel, 1);
    kx_wait_cancel(ctx);
}

KT_TEST(wasi_fiber_cancel)
{
    uv_loop_t loop;
    uv_timer_t t;
    kumo_wasi_ctx *ctx;
    int order[1], n = 0;
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    job a = {ctx, 10000000000, 1, order, &n, 0, false};
    KT_CHECK(kx_fiber_start(&loop, sleeper, &a, mark_done) == 0);
    uv_timer_init(&loop, &t);
    t.data = ctx;
    uv_timer_start(&t, cancel_later, 10, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    KT_CHECK(a.done && a.rc == -KX_ECANCELED);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    kumo_wasi_ctx_free(ctx);
}

/* ---- guest traps on fibers
 *
 * (import "env" "wait" (func)) (import "env" "reenter" (func))
 * (memory 1)
 * (func (export "run") call 0  i32.const 70000  i32.const 1  i32.store)
 * (func (export "deep") call 3)          ;; unbounded wasm recursion
 * (func (export "nest") call 1)          ;; host -> guest -> host ...
 */
static kumo_module *
trap_module(void)
{
    wb out = {0}, sec = {0}, code = {0};
    kumo_module *m = NULL;
    kumo_diag d;
    wb_header(&out);
    wb_bytes(&sec, "\x01\x60\x00\x00", 4);
    wb_section(&out, 1, &sec);
    wb_u32(&sec, 2);
    wb_name(&sec, "env");
    wb_name(&sec, "wait");
    wb_bytes(&sec, "\x00\x00", 2);
    wb_name(&sec, "env");
    wb_name(&sec, "reenter");
    wb_bytes(&sec, "\x00\x00", 2);
    wb_section(&out, 2, &sec);
    wb_bytes(&sec, "\x03\x00\x00\x00", 4);
    wb_section(&out, 3, &sec);
    wb_bytes(&sec, "\x01\x00\x01", 3);
    wb_section(&out, 5, &sec);
    wb_u32(&sec, 3);
    wb_name(&sec, "run");
    wb_bytes(&sec, "\x00\x02", 2);
    wb_name(&sec, "deep");
    wb_bytes(&sec, "\x00\x03", 2);
    wb_name(&sec, "nest");
    wb_bytes(&sec, "\x00\x04", 2);
    wb_section(&out, 7, &sec);
    wb_u32(&sec, 3);
    wb_bytes(&code, "\x10\x00\x41", 3);
    wb_s32(&code, 70000); /* past the one page, inside the guard region */
    wb_bytes(&code, "\x41\x01\x36\x02\x00\x0b", 6);
    wb_u32(&sec, (uint32_t)code.n + 1);
    wb_byte(&sec, 0);
    wb_bytes(&sec, code.p, code.n);
    wb_body(&sec, "\x10\x03\x0b", 3);
    wb_body(&sec, "\x10\x01\x0b", 3);
    wb_section(&out, 10, &sec);
    if (kumo_module_new(out.p, out.n, &m, &d))
        fprintf(stderr, "trap_module: %s\n", d.message);
    wb_free(&code);
    wb_free(&sec);
    wb_free(&out);
    return m;
}

typedef struct tjob {
    kumo_wasi_ctx *ctx;
    kumo_store *store;
    kumo_instance *inst;
    int64_t sleep_ns;
    const char *fn;
    int rc;
    uint32_t nest;
    uintptr_t sp1;      /* a local's address at the first re-entry */
    uint32_t per_level; /* bytes of C stack per re-entry */
} tjob;

/* Suspends the fiber in the middle of the guest's call. */
static int
host_wait(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    tjob *j = env;
    (void)c;
    (void)args;
    (void)res;
    return kx_wait(j->ctx, NULL, 0, j->sleep_ns) < 0 ? KUMO_ETRAP_HOST : 0;
}

static int
tcall(tjob *j, const char *name)
{
    kumo_extern x;
    if (kumo_instance_export(j->inst, name, strlen(name), &x))
        return KUMO_ENOTFOUND;
    return kumo_func_call(j->store, x.u.func, NULL, NULL);
}

/* Calls "nest" again: nesting the C stack until the engine says no. */
static int
host_reenter(kumo_caller *c, void *env, const kumo_val *args, kumo_val *res)
{
    tjob *j = env;
    (void)c;
    (void)args;
    (void)res;
    j->nest++;
    if (j->nest == 1)
        j->sp1 = (uintptr_t)&j;
    else if (j->nest == 101)
        j->per_level = (uint32_t)((j->sp1 - (uintptr_t)&j) / 100);
    return tcall(j, "nest");
}

static void
tjob_body(void *arg)
{
    tjob *j = arg;
    j->rc = tcall(j, j->fn);
}

static bool
tjob_init(tjob *j, kumo_module *m, int64_t sleep_ns, const char *fn)
{
    kumo_functype t0 = {0, 0, NULL, NULL};
    kumo_extern imp[2] = {{KUMO_EXTERN_FUNC, {0}}, {KUMO_EXTERN_FUNC, {0}}};
    memset(j, 0, sizeof *j);
    j->sleep_ns = sleep_ns;
    j->fn = fn;
    j->rc = 1;
    return kumo_wasi_ctx_new(&j->ctx) == 0 &&
           kumo_store_new(NULL, &j->store) == 0 &&
           kumo_func_new_host(j->store, &t0, host_wait, j, NULL,
                              &imp[0].u.func) == 0 &&
           kumo_func_new_host(j->store, &t0, host_reenter, j, NULL,
                              &imp[1].u.func) == 0 &&
           kumo_instance_new(j->store, m, imp, 2, &j->inst, NULL) == 0;
}

static void
tjob_fini(tjob *j)
{
    if (j->store)
        kumo_store_free(j->store);
    if (j->ctx)
        kumo_wasi_ctx_free(j->ctx);
}

/* Two guests suspended inside their calls at once; the one resumed
 * first faults on its memory's guard region while the other's recovery
 * point is also live: each trap must land in its own call (the engine's
 * per-thread state travels with the fiber), many times over (nothing is
 * left blocked by a switch that does not restore the signal mask). */
KT_TEST(wasi_fiber_guard_trap)
{
    kumo_module *m = trap_module();
    KT_REQUIRE(m);
    uv_loop_t loop;
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    for (int round = 0; round < 20; round++) {
        tjob a, b;
        bool ok =
            tjob_init(&a, m, 3000000, "run") && tjob_init(&b, m, 0, "run");
        KT_CHECK(ok);
        if (ok) {
            KT_CHECK(kx_fiber_start(&loop, tjob_body, &a, NULL) == 0);
            KT_CHECK(kx_fiber_start(&loop, tjob_body, &b, NULL) == 0);
            KT_CHECK(a.rc == 1 && b.rc == 1); /* both suspended in "run" */
            uv_run(&loop, UV_RUN_DEFAULT);
            KT_CHECK(a.rc == KUMO_ETRAP_MEMORY_OOB);
            KT_CHECK(b.rc == KUMO_ETRAP_MEMORY_OOB);
            KT_CHECK(strcmp(kumo_store_trap_message(b.store),
                            "out of bounds memory access") == 0);
        }
        tjob_fini(&a);
        tjob_fini(&b);
    }
    uv_loop_close(&loop);
    kumo_module_free(m);
}

/* Unbounded recursion, in wasm and through the host, traps on a fiber's
 * 1 MiB stack instead of running off it. */
KT_TEST(wasi_fiber_stack_exhausted)
{
    kumo_module *m = trap_module();
    KT_REQUIRE(m);
    uv_loop_t loop;
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    tjob a, b;
    bool ok = tjob_init(&a, m, 0, "deep") && tjob_init(&b, m, 0, "nest");
    KT_CHECK(ok);
    if (ok) {
        KT_CHECK(kx_fiber_start(&loop, tjob_body, &a, NULL) == 0);
        KT_CHECK(kx_fiber_start(&loop, tjob_body, &b, NULL) == 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        KT_CHECK(a.rc == KUMO_ETRAP_STACK_EXHAUSTED);
        KT_CHECK(b.rc == KUMO_ETRAP_STACK_EXHAUSTED);
        KT_CHECK(b.nest > 10);
        printf("wasi_fiber_stack_exhausted: host re-entry depth %u, %u bytes "
               "of stack each\n",
               b.nest, b.per_level);
    }
    tjob_fini(&a);
    tjob_fini(&b);
    uv_loop_close(&loop);
    kumo_module_free(m);
}

/* ---- many switches, and the floating-point modes travel with them */

typedef struct bounce {
    kx_fiber *self;
    int n;
    int round; /* the rounding mode this fiber runs in */
    bool mode_kept;
} bounce;

static void
bouncer(void *arg)
{
    bounce *b = arg;
    b->self = kx_fiber_current();
    b->mode_kept = true;
    fesetround(b->round);
    for (int i = 0; i < 10000; i++) {
        b->n++;
        kx_fiber_suspend();
        if (fegetround() != b->round)
            b->mode_kept = false;
    }
    fesetround(FE_TONEAREST);
}

KT_TEST(wasi_fiber_many_switches)
{
    uv_loop_t loop;
    bounce a = {NULL, 0, FE_UPWARD, false};
    bounce b = {NULL, 0, FE_DOWNWARD, false};
    bool loop_mode_kept = true;
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    KT_REQUIRE(kx_fiber_start(&loop, bouncer, &a, NULL) == 0);
    KT_REQUIRE(kx_fiber_start(&loop, bouncer, &b, NULL) == 0);
    KT_REQUIRE(a.self && b.self && a.n == 1 && b.n == 1);
    /* Both are suspended: resume them in turn (the last resume of each
     * lets it finish and frees it). */
    for (int i = 1; i <= 10000; i++) {
        kx_fiber_resume(a.self);
        kx_fiber_resume(b.self);
        if (fegetround() != FE_TONEAREST)
            loop_mode_kept = false;
        if (i < 10000 && (a.n != i + 1 || b.n != i + 1))
            break;
    }
    KT_CHECK(a.n == 10000 && b.n == 10000);
    KT_CHECK(a.mode_kept && b.mode_kept && loop_mode_kept);
    KT_CHECK(kx_fiber_current() == NULL);
    uv_loop_close(&loop);
}

/* ---- name lookups off the loop
 *
 * libuv's thread pool is filled with jobs that wait until a timer on the
 * loop has ticked three times; a lookup started meanwhile is queued
 * behind them, so it can only finish after those ticks, and only if the
 * loop kept running while the guest waited for it. */

typedef struct pool_block {
    uv_sem_t go;
    int n; /* pool threads held */
    uv_work_t work[128];
} pool_block;

static void
hold(uv_work_t *w)
{
    uv_sem_wait(&((pool_block *)w->data)->go);
}

static void
held(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}

static void
pool_block_start(uv_loop_t *loop, pool_block *pb)
{
    const char *env = getenv("UV_THREADPOOL_SIZE"); /* as libuv reads it */
    pb->n = env ? atoi(env) : 4;
    if (pb->n < 1)
        pb->n = 1;
    if (pb->n > 128)
        pb->n = 128;
    uv_sem_init(&pb->go, 0);
    for (int i = 0; i < pb->n; i++) {
        pb->work[i].data = pb;
        uv_queue_work(loop, &pb->work[i], hold, held);
    }
}

typedef struct ticker {
    uv_timer_t t;
    pool_block *pb;
    int ticks;
} ticker;

static void
tick(uv_timer_t *t)
{
    ticker *k = t->data;
    if (++k->ticks == 3)
        for (int i = 0; i < k->pb->n; i++)
            uv_sem_post(&k->pb->go);
    if (k->ticks >= 3)
        uv_timer_stop(t);
}

typedef kx_result_wasi_sockets_ip_name_lookup_resolve_address_stream_wasi_sockets_network_error_code
    res_stream;
typedef kx_result_option_wasi_sockets_network_ip_address_wasi_sockets_network_error_code
    res_next;

typedef struct lk {
    kumo_wasi_ctx *ctx;
    ticker *k;
    const char *name;
    bool drop_early; /* drop the stream while it is in flight */
    bool keep;       /* return, leaving the stream to the context */
    bool would_block;
    int ticks_at_answer;
    int v4_loopback;
    uint32_t err; /* UINT32_MAX: none */
} lk;

static void
lookup_body(void *arg)
{
    lk *l = arg;
    kg_call c;
    kx_wasi_sockets_network_network net;
    res_stream rs;
    res_next nx;
    kx_wasi_io_poll_pollable p;
    kg_call_init(&c, NULL, l->ctx, NULL, "test");
    l->err = UINT32_MAX;
    memset(&rs, 0, sizeof rs);
    if (kx_wasi_sockets_instance_network_instance_network(&c, &net) ||
        kx_wasi_sockets_ip_name_lookup_resolve_addresses(
            &c, net, (kg_string){l->name, strlen(l->name)}, &rs) ||
        rs.is_err) {
        l->err = rs.is_err ? rs.val.err : 0;
        goto out;
    }
    if (l->drop_early)
        kx_wasi_sockets_ip_name_lookup_resolve_address_stream_drop(l->ctx,
                                                                   rs.val.ok);
    if (l->drop_early || l->keep)
        goto out;
    for (;;) {
        memset(&nx, 0, sizeof nx);
        if (kx_wasi_sockets_ip_name_lookup_method_resolve_address_stream_resolve_next_address(
                &c, rs.val.ok, &nx))
            break;
        if (nx.is_err &&
            nx.val.err == KX_WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) {
            l->would_block = true;
            if (kx_wasi_sockets_ip_name_lookup_method_resolve_address_stream_subscribe(
                    &c, rs.val.ok, &p) ||
                kx_wasi_io_poll_method_pollable_block(&c, p))
                break;
            kx_wasi_io_poll_pollable_drop(l->ctx, p);
            l->ticks_at_answer = l->k->ticks;
            continue;
        }
        if (nx.is_err) {
            l->err = nx.val.err;
            break;
        }
        if (!nx.val.ok.is_some)
            break;
        const kx_wasi_sockets_network_ip_address *a = &nx.val.ok.val;
        if (a->tag == KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_IPV4 &&
            a->val.ipv4.f0 == 127 && a->val.ipv4.f3 == 1)
            l->v4_loopback++;
    }
    kx_wasi_sockets_ip_name_lookup_resolve_address_stream_drop(l->ctx,
                                                               rs.val.ok);
out:
    kg_call_fini(&c);
}

static void
lookup_run(lk *l, bool free_ctx_early)
{
    uv_loop_t loop;
    pool_block pb;
    ticker k = {.pb = &pb};
    l->k = &k;
    KT_REQUIRE(uv_loop_init(&loop) == 0);
    KT_REQUIRE(kumo_wasi_ctx_new(&l->ctx) == 0);
    kumo_wasi_ctx_allow_lookup(l->ctx, true);
    pool_block_start(&loop, &pb);
    uv_timer_init(&loop, &k.t);
    k.t.data = &k;
    uv_timer_start(&k.t, tick, 1, 1);
    KT_CHECK(kx_fiber_start(&loop, lookup_body, l, NULL) == 0);
    if (free_ctx_early) { /* the lookup is still queued: nothing ticked */
        KT_CHECK(k.ticks == 0);
        kumo_wasi_ctx_free(l->ctx);
        l->ctx = NULL;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&k.t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    KT_CHECK(uv_loop_close(&loop) == 0);
    uv_sem_destroy(&pb.go);
    if (l->ctx)
        kumo_wasi_ctx_free(l->ctx);
}

KT_TEST(wasi_fiber_lookup_off_loop)
{
    lk l = {.name = "localhost"};
    lookup_run(&l, false);
    KT_CHECK(l.would_block);          /* it did not answer in the call */
    KT_CHECK(l.ticks_at_answer >= 3); /* the loop ran while it waited */
    KT_CHECK(l.v4_loopback >= 1 && l.err == UINT32_MAX);
    /* A numeric name answers in the call, pool or no pool. */
    lk n = {.name = "127.0.0.1"};
    lookup_run(&n, false);
    KT_CHECK(!n.would_block && n.v4_loopback == 1 && n.err == UINT32_MAX);
}

/* Dropped, or the whole context freed, while the lookup is queued: the
 * request is cancelled or finishes into nothing (ASan would see a use
 * after free); the loop still closes cleanly. */
KT_TEST(wasi_fiber_lookup_dropped)
{
    lk l = {.name = "localhost", .drop_early = true};
    lookup_run(&l, false);
    KT_CHECK(l.err == UINT32_MAX && !l.would_block);
    lk f = {.name = "localhost", .keep = true};
    lookup_run(&f, true);
    KT_CHECK(f.v4_loopback == 0);
}
