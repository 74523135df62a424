/* pingpong.c - the cost of a fiber switch (src/wasi/fiber.c): two fibers
 * suspended in turn and resumed by the loop's stack, and a kx_wait with a
 * zero timeout (a round trip through a uv_timer on a libuv loop, what a
 * guest pays to yield). Prints one line per measurement: the backend, the
 * median rate of RUNS runs. Built and run by bench/fiber/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kumo/wasi.h"
#include "wasi/fiber.h"
#include "wasi/fiber_ctx.h"
#include "wasi/wasi.h"

#define RUNS 5

typedef struct pp {
    kx_fiber *self;
    long rounds;
    kumo_wasi_ctx *ctx;
} pp;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
bouncer(void *arg)
{
    pp *p = arg;
    p->self = kx_fiber_current();
    for (long i = 0; i < p->rounds; i++)
        kx_fiber_suspend();
}

/* Switches per second: each resume and the suspend that answers it are
 * two switches. */
static double
switch_rate(uv_loop_t *loop, long rounds)
{
    pp a = {NULL, rounds, NULL}, b = {NULL, rounds, NULL};
    if (kx_fiber_start(loop, bouncer, &a, NULL) ||
        kx_fiber_start(loop, bouncer, &b, NULL))
        exit(1);
    double t0 = now();
    for (long i = 0; i < rounds; i++) {
        kx_fiber_resume(a.self);
        kx_fiber_resume(b.self);
    }
    double t = now() - t0;
    return 4.0 * (double)rounds / t;
}

static void
yielder(void *arg)
{
    pp *p = arg;
    for (long i = 0; i < p->rounds; i++)
        if (kx_wait(p->ctx, NULL, 0, 0) < 0)
            exit(1);
}

/* kx_wait(0) round trips per second, two fibers taking turns. */
static double
wait_rate(uv_loop_t *loop, long rounds)
{
    kumo_wasi_ctx *c1, *c2;
    if (kumo_wasi_ctx_new(&c1) || kumo_wasi_ctx_new(&c2))
        exit(1);
    pp a = {NULL, rounds, c1}, b = {NULL, rounds, c2};
    double t0 = now();
    if (kx_fiber_start(loop, yielder, &a, NULL) ||
        kx_fiber_start(loop, yielder, &b, NULL))
        exit(1);
    uv_run(loop, UV_RUN_DEFAULT);
    double t = now() - t0;
    kumo_wasi_ctx_free(c1);
    kumo_wasi_ctx_free(c2);
    return 2.0 * (double)rounds / t;
}

int
main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 100;
    uv_loop_t loop;
    double r[RUNS];
    if (scale < 1)
        scale = 1;
    uv_loop_init(&loop);
    for (int i = 0; i < RUNS; i++)
        r[i] = switch_rate(&loop, 20000 * scale);
    qsort(r, RUNS, sizeof *r, cmp);
    printf("%s switches/s %.0f\n", kx_ctx_backend, r[RUNS / 2]);
    for (int i = 0; i < RUNS; i++)
        r[i] = wait_rate(&loop, 2000 * scale);
    qsort(r, RUNS, sizeof *r, cmp);
    printf("%s waits/s %.0f\n", kx_ctx_backend, r[RUNS / 2]);
    uv_loop_close(&loop);
    kx_fiber_pool_trim();
    return 0;
}
