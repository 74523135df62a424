/* test_wasi_fiber.c - the execution model: fibers on one libuv loop whose
 * waits (kx_wait) yield to the loop, so that while one waits the others
 * run; cancellation of a wait. */
#include <string.h>
#include <unistd.h>

#include "../../src/wasi/fiber.h"
#include "../../src/wasi/wasi.h"
#include "unit.h"

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
