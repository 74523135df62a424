/* p2_poll.c - wasi:io/poll and wasi:clocks (monotonic-clock, wall-clock).
 * A pollable is always ready, a monotonic deadline, or a descriptor
 * becoming readable/writable; waiting for several goes through kx_wait,
 * which on a fiber yields to the libuv loop. */
#include <string.h>

#include "../base/base.h"
#include "p2.h"

typedef kx_wasi_io_poll_pollable pollable;

int
kx_p2_pollable_new(kg_call *call, kx_p2when when, kx_p2file *file,
                   uint64_t deadline, pollable *out)
{
    kx_p2obj *o = kx_p2_new(KX_CTX(call), KX_P2_POLLABLE, &out->rep);
    if (!o)
        return kx_p2_oom(call);
    o->when = (uint8_t)when;
    o->file = kx_p2file_ref(file);
    o->off = deadline;
    return 0;
}

int
kx_p2_pollable_ext(kg_call *call, kx_p2ext *ext, pollable *out)
{
    if (!kx_p2_new_ext(KX_CTX(call), KX_P2_POLLABLE, ext, &out->rep))
        return kx_p2_oom(call);
    return 0;
}

void
kx_wasi_io_poll_pollable_drop(void *env, pollable self)
{
    kx_p2_free_obj(env, self.rep);
}

static uint64_t
now_ns(void)
{
    uint64_t t = 0;
    kx_clock_time(KX_CLOCK_MONOTONIC, &t);
    return t;
}

static bool
ready_now(const kx_p2obj *o, uint64_t now)
{
    switch (o->when) {
    case KX_P2_TIMER:
        return now >= o->off;
    case KX_P2_READABLE:
    case KX_P2_WRITABLE: {
        const kx_desc *d = o->file->d;
        if (!kx_io_pollable(d))
            return true;
        struct pollfd p = {.fd = d->fd,
                           .events = o->when == KX_P2_READABLE ? POLLIN
                                                               : POLLOUT};
        return poll(&p, 1, 0) != 0;
    }
    case KX_P2_EXTWAIT:
        return o->ext->ops->ready(o->ext);
    default:
        return true;
    }
}

/*
 * Wait until at least one of the n objects is ready; ready[i] tells
 * which. 0 or a trap.
 */
static int
wait_any(kg_call *call, kx_p2obj **objs, size_t n, bool *ready)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    struct pollfd *fds = kg_call_alloc(call, n * sizeof *fds);
    if (!fds)
        return kx_p2_oom(call);
    for (;;) {
        uint64_t now = now_ns(), deadline = UINT64_MAX;
        uint32_t nfds = 0;
        bool any = false, ext = false;
        for (size_t i = 0; i < n; i++) {
            ready[i] = ready_now(objs[i], now);
            any |= ready[i];
            ext |= objs[i]->when == KX_P2_EXTWAIT;
            if (objs[i]->when == KX_P2_TIMER && objs[i]->off < deadline)
                deadline = objs[i]->off;
            else if (objs[i]->when == KX_P2_READABLE ||
                     objs[i]->when == KX_P2_WRITABLE) {
                fds[nfds].fd = objs[i]->file->d->fd;
                fds[nfds].events = objs[i]->when == KX_P2_READABLE ? POLLIN
                                                                   : POLLOUT;
                nfds++;
            }
        }
        if (any)
            return 0;
        int64_t timeout = -1;
        if (deadline != UINT64_MAX)
            timeout = deadline - now > (uint64_t)INT64_MAX
                          ? INT64_MAX
                          : (int64_t)(deadline - now);
        int rc = kx_wait_ext(ctx, fds, nfds, timeout, ext);
        if (rc == -KX_ECANCELED)
            return kg_call_trap(call, "deadline exceeded");
        if (rc < 0)
            return kg_call_trap(call, "poll: %s", kx_errno_name(-rc));
    }
}

int
kx_wasi_io_poll_poll(kg_call *call, kx_list_wasi_io_poll_pollable in,
                     kx_list_u32 *ret)
{
    if (in.len == 0)
        return kg_call_trap(call, "poll: empty list of pollables");
    if (in.len > UINT32_MAX)
        return kg_call_trap(call, "poll: too many pollables");
    kx_p2obj **objs = kg_call_alloc(call, in.len * sizeof *objs);
    bool *ready = kg_call_alloc(call, in.len);
    uint32_t *out = kg_call_alloc(call, in.len * sizeof *out);
    if (!objs || !ready || !out)
        return kx_p2_oom(call);
    for (size_t i = 0; i < in.len; i++)
        if (!(objs[i] = kx_p2_get(KX_CTX(call), in.ptr[i].rep,
                                  KX_P2_POLLABLE)))
            return kx_p2_badhandle(call);
    int rc = wait_any(call, objs, in.len, ready);
    if (rc)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < in.len; i++)
        if (ready[i])
            out[k++] = (uint32_t)i;
    ret->ptr = out;
    ret->len = k;
    return 0;
}

int
kx_wasi_io_poll_method_pollable_ready(kg_call *call, pollable self,
                                      bool *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_POLLABLE);
    if (!o)
        return kx_p2_badhandle(call);
    *ret = ready_now(o, now_ns());
    return 0;
}

int
kx_wasi_io_poll_method_pollable_block(kg_call *call, pollable self)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_POLLABLE);
    bool ready;
    if (!o)
        return kx_p2_badhandle(call);
    return wait_any(call, &o, 1, &ready);
}

/* ---- wasi:clocks/monotonic-clock */

int
kx_wasi_clocks_monotonic_clock_now(kg_call *call,
                                   kx_wasi_clocks_monotonic_clock_instant *ret)
{
    (void)call;
    *ret = now_ns();
    return 0;
}

int
kx_wasi_clocks_monotonic_clock_resolution(
    kg_call *call, kx_wasi_clocks_monotonic_clock_duration *ret)
{
    (void)call;
    if (kx_clock_res(KX_CLOCK_MONOTONIC, ret) < 0)
        *ret = 1;
    return 0;
}

int
kx_wasi_clocks_monotonic_clock_subscribe_instant(
    kg_call *call, kx_wasi_clocks_monotonic_clock_instant when, pollable *ret)
{
    return kx_p2_pollable_new(call, KX_P2_TIMER, NULL, when, ret);
}

int
kx_wasi_clocks_monotonic_clock_subscribe_duration(
    kg_call *call, kx_wasi_clocks_monotonic_clock_duration when,
    pollable *ret)
{
    uint64_t now = now_ns();
    uint64_t at = when > UINT64_MAX - now ? UINT64_MAX : now + when;
    return kx_p2_pollable_new(call, KX_P2_TIMER, NULL, at, ret);
}

/* ---- wasi:clocks/wall-clock */

int
kx_wasi_clocks_wall_clock_now(kg_call *call,
                              kx_wasi_clocks_wall_clock_datetime *ret)
{
    uint64_t t = 0;
    (void)call;
    kx_clock_time(KX_CLOCK_REALTIME, &t);
    ret->seconds = t / 1000000000u;
    ret->nanoseconds = (uint32_t)(t % 1000000000u);
    return 0;
}

int
kx_wasi_clocks_wall_clock_resolution(kg_call *call,
                                     kx_wasi_clocks_wall_clock_datetime *ret)
{
    uint64_t t = 1;
    (void)call;
    kx_clock_res(KX_CLOCK_REALTIME, &t);
    ret->seconds = t / 1000000000u;
    ret->nanoseconds = (uint32_t)(t % 1000000000u);
    return 0;
}
