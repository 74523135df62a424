/* wait.c - waiting for descriptors and time. On a fiber, a wait
 * registers uv_poll handles for the descriptors and a uv_timer for the
 * timeout with the fiber's loop and suspends the fiber; the first of
 * them to fire (or a cancellation) resumes it. Off a fiber (a host that
 * calls the guest on its own thread) it is a plain ppoll.
 *
 * libuv handles are closed asynchronously, so they live in a heap block
 * that the last close callback frees, after the fiber has moved on. */
#include <errno.h>
#include <time.h>

#include "../base/base.h"
#include "fiber.h"
#include "p2.h"
#include "wasi.h"

typedef struct kx_waiter {
    kx_fiber *fiber;
    uv_timer_t timer;
    bool has_timer;
    bool woken;
    bool ext; /* kx_wait_ext(..., true): kx_wait_wake may end it */
    uint32_t npolls;
    uint32_t open; /* handles not yet closed */
    uv_poll_t polls[];
} kx_waiter;

static void
wake(kx_waiter *w)
{
    if (w->woken)
        return;
    w->woken = true;
    kx_fiber_resume(w->fiber);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    wake(h->data);
}

static void
on_timer(uv_timer_t *h)
{
    wake(h->data);
}

static void
on_close(uv_handle_t *h)
{
    kx_waiter *w = h->data;
    if (--w->open == 0)
        kb_free(w);
}

static int
wait_fiber(kumo_wasi_ctx *ctx, kx_fiber *f, struct pollfd *fds,
           uint32_t nfds, int64_t timeout_ns, bool ext)
{
    uv_loop_t *loop = kx_fiber_loop(f);
    kx_waiter *w = kb_calloc(1, sizeof *w + nfds * sizeof(uv_poll_t));
    int rc;

    if (!w)
        return -KX_ENOMEM;
    w->fiber = f;
    w->ext = ext;
    for (uint32_t i = 0; i < nfds; i++) {
        int ev = ((fds[i].events & POLLIN) ? UV_READABLE : 0) |
                 ((fds[i].events & POLLOUT) ? UV_WRITABLE : 0);
        if (uv_poll_init(loop, &w->polls[w->npolls], fds[i].fd) < 0)
            continue; /* not pollable (a regular file): ready at once */
        w->polls[w->npolls].data = w;
        w->open++;
        uv_poll_start(&w->polls[w->npolls], ev, on_poll);
        w->npolls++;
    }
    if (timeout_ns >= 0) {
        /* libuv counts whole milliseconds of a cached clock: refresh it
         * and round up by one so the wait is never shorter than asked. */
        uint64_t ms = ((uint64_t)timeout_ns + 999999u) / 1000000u;
        if (ms)
            ms++;
        uv_update_time(loop);
        uv_timer_init(loop, &w->timer);
        w->timer.data = w;
        w->open++;
        w->has_timer = true;
        uv_timer_start(&w->timer, on_timer, ms, 0);
    }
    if (w->npolls == nfds && (w->open > 0 || ext)) {
        ctx->waiting = w;
        kx_fiber_suspend();
        ctx->waiting = NULL;
    }
    for (uint32_t i = 0; i < w->npolls; i++)
        uv_close((uv_handle_t *)&w->polls[i], on_close);
    if (w->has_timer)
        uv_close((uv_handle_t *)&w->timer, on_close);
    if (w->open == 0)
        kb_free(w);
    if (atomic_load(&ctx->cancel))
        return -KX_ECANCELED;
    /* Which are ready now (the callbacks only say that one was). */
    if (nfds == 0)
        return 0;
    rc = poll(fds, nfds, 0);
    return rc < 0 ? kx_errno_from_host(errno) : rc;
}

/* Off a fiber: ppoll in slices so that a cancellation is seen. */
static int
wait_thread(kumo_wasi_ctx *ctx, struct pollfd *fds, uint32_t nfds,
            int64_t timeout_ns)
{
    const int64_t slice = 50000000; /* 50 ms */
    for (;;) {
        int64_t t = timeout_ns < 0 || timeout_ns > slice ? slice : timeout_ns;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)t};
        if (atomic_load(&ctx->cancel))
            return -KX_ECANCELED;
        int rc = ppoll(fds, nfds, &ts, NULL);
        if (rc < 0 && errno != EINTR)
            return kx_errno_from_host(errno);
        if (rc > 0)
            return rc;
        if (timeout_ns >= 0) {
            timeout_ns -= t;
            if (timeout_ns <= 0)
                return 0;
        }
    }
}

int
kx_wait_ext(kumo_wasi_ctx *ctx, struct pollfd *fds, uint32_t nfds,
            int64_t timeout_ns, bool ext)
{
    kx_fiber *f = kx_fiber_current();
    for (uint32_t i = 0; i < nfds; i++)
        fds[i].revents = 0;
    if (atomic_load(&ctx->cancel))
        return -KX_ECANCELED;
    if (f)
        return wait_fiber(ctx, f, fds, nfds, timeout_ns, ext);
    if (nfds == 0 && timeout_ns == 0)
        return 0;
    return wait_thread(ctx, fds, nfds, timeout_ns);
}

int
kx_wait(kumo_wasi_ctx *ctx, struct pollfd *fds, uint32_t nfds,
        int64_t timeout_ns)
{
    return kx_wait_ext(ctx, fds, nfds, timeout_ns, false);
}

void
kx_wait_cancel(kumo_wasi_ctx *ctx)
{
    if (ctx->waiting)
        wake(ctx->waiting);
}

/* An upper layer's event: the fiber waiting in kx_wait_ext re-checks.
 * Only such a wait: a plain kx_wait (a blocking read, poll_oneoff) would
 * take the wake for readiness or a timeout. */
void
kx_wait_wake(kumo_wasi_ctx *ctx)
{
    if (ctx->waiting && ctx->waiting->ext)
        wake(ctx->waiting);
}

/* ---- yielding: one turn of the loop */

typedef struct kx_yielder {
    kx_fiber *fiber;
    uv_idle_t idle;
} kx_yielder;

static void
on_yield_close(uv_handle_t *h)
{
    kb_free(h->data);
}

static void
on_yield_idle(uv_idle_t *h)
{
    kx_yielder *y = h->data;
    uv_idle_stop(h);
    kx_fiber_resume(y->fiber);
}

/* An idle handle resumes the fiber: idle handles run once per loop
 * iteration and keep the poll phase from blocking, so the loop processes
 * pending I/O and due timers and comes back at once. (A zero timer would
 * not do: libuv runs timers that come due while it runs timers in the
 * same phase, so the loop would never reach its I/O.) */
int
kx_wait_yield(kumo_wasi_ctx *ctx)
{
    kx_fiber *f = kx_fiber_current();
    if (atomic_load(&ctx->cancel))
        return -KX_ECANCELED;
    if (!f)
        return 0;
    kx_yielder *y = kb_calloc(1, sizeof *y);
    if (!y)
        return -KX_ENOMEM;
    y->fiber = f;
    uv_idle_init(kx_fiber_loop(f), &y->idle);
    y->idle.data = y;
    uv_idle_start(&y->idle, on_yield_idle);
    kx_fiber_suspend();
    uv_close((uv_handle_t *)&y->idle, on_yield_close);
    return atomic_load(&ctx->cancel) ? -KX_ECANCELED : 0;
}
