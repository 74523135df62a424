/* preview1.c - wasi_snapshot_preview1 implemented natively on the WASI
 * layer: the host-function table (from preview1.def), guest-memory
 * access, and the functions that are not about files (arguments,
 * environment, clocks, random, poll_oneoff, process, sockets).
 * preview1_fs.c has the fd_* and path_* functions.
 *
 * Every guest pointer is bounds-checked against memory 0 before use; a
 * bad one is the errno `fault`. Nothing a guest passes can make the host
 * touch memory outside the guest's linear memory. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "../base/base.h"
#include "preview1.h"

uint8_t *
kx_p1_mem(kx_p1 *k, uint32_t ptr, uint64_t len)
{
    kumo_memory *m = kumo_caller_memory(k->caller);
    if (!m || (uint64_t)ptr + len > kumo_memory_size(m))
        return NULL;
    return kumo_memory_data(m) + ptr;
}

int
kx_p1_put32(kx_p1 *k, uint32_t ptr, uint32_t v)
{
    uint8_t *p = kx_p1_mem(k, ptr, 4);
    if (!p)
        return KX_EFAULT;
    kx_st32(p, v);
    return 0;
}

int
kx_p1_put64(kx_p1 *k, uint32_t ptr, uint64_t v)
{
    uint8_t *p = kx_p1_mem(k, ptr, 8);
    if (!p)
        return KX_EFAULT;
    kx_st64(p, v);
    return 0;
}

/* ---- arguments and environment ---- */

static int
sizes(kx_p1 *k, char **strs, uint32_t n, uint32_t count_ptr,
      uint32_t size_ptr)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += strlen(strs[i]) + 1;
    if (total > UINT32_MAX)
        return KX_EOVERFLOW;
    int rc = kx_p1_put32(k, count_ptr, n);
    return rc ? rc : kx_p1_put32(k, size_ptr, (uint32_t)total);
}

static int
strings(kx_p1 *k, char **strs, uint32_t n, uint32_t ptrs, uint32_t buf)
{
    uint8_t *pp = kx_p1_mem(k, ptrs, (uint64_t)n * 4);
    uint64_t total = 0;
    if (!pp)
        return KX_EFAULT;
    for (uint32_t i = 0; i < n; i++)
        total += strlen(strs[i]) + 1;
    uint8_t *bp = kx_p1_mem(k, buf, total);
    if (!bp)
        return KX_EFAULT;
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t l = strlen(strs[i]) + 1;
        kx_st32(pp + 4 * i, buf + off);
        memcpy(bp + off, strs[i], l);
        off += (uint32_t)l;
    }
    return 0;
}

int
kx_p1_args_get(kx_p1 *k, const kumo_val *a)
{
    return strings(k, k->ctx->argv, k->ctx->argc, A32(0), A32(1));
}

int
kx_p1_args_sizes_get(kx_p1 *k, const kumo_val *a)
{
    return sizes(k, k->ctx->argv, k->ctx->argc, A32(0), A32(1));
}

int
kx_p1_environ_get(kx_p1 *k, const kumo_val *a)
{
    return strings(k, k->ctx->env, k->ctx->nenv, A32(0), A32(1));
}

int
kx_p1_environ_sizes_get(kx_p1 *k, const kumo_val *a)
{
    return sizes(k, k->ctx->env, k->ctx->nenv, A32(0), A32(1));
}

/* ---- clocks, random, process ---- */

int
kx_p1_clock_res_get(kx_p1 *k, const kumo_val *a)
{
    uint64_t ns;
    int rc = kx_clock_res(A32(0), &ns);
    return rc < 0 ? -rc : kx_p1_put64(k, A32(1), ns);
}

int
kx_p1_clock_time_get(kx_p1 *k, const kumo_val *a)
{
    uint64_t ns;
    int rc = kx_clock_time(A32(0), &ns);
    return rc < 0 ? -rc : kx_p1_put64(k, A32(2), ns);
}

int
kx_p1_random_get(kx_p1 *k, const kumo_val *a)
{
    uint8_t *p = kx_p1_mem(k, A32(0), A32(1));
    if (!p)
        return KX_EFAULT;
    return KX_ERR(kx_random_fill(p, A32(1)));
}

int
kx_p1_proc_exit(kx_p1 *k, const kumo_val *a)
{
    /* Unwind the guest with a host trap; the runner sees `exited`. */
    k->ctx->exited = true;
    k->ctx->exit_code = A32(0);
    return kumo_caller_trap(k->caller, "exit");
}

int
kx_p1_proc_raise(kx_p1 *k, const kumo_val *a)
{
    (void)k;
    (void)a;
    return KX_ENOSYS;
}

int
kx_p1_sched_yield(kx_p1 *k, const kumo_val *a)
{
    (void)a;
    int rc = kx_wait(k->ctx, NULL, 0, 0);
    return rc < 0 ? -rc : 0;
}

/* ---- poll_oneoff ---- */

#define SUB_SIZE 48
#define EVENT_SIZE 32

typedef struct sub {
    uint64_t userdata;
    uint8_t tag;      /* 0 clock, 1 fd_read, 2 fd_write */
    uint16_t error;   /* set: an event at once */
    int64_t deadline; /* clock: ns from now */
    kx_desc *d;       /* fd_read/fd_write */
    int pfd;          /* index in the pollfd array, or -1 */
    bool fired;
} sub;

static void
parse_sub(kx_p1 *k, const uint8_t *p, sub *s)
{
    memset(s, 0, sizeof *s);
    s->userdata = kx_ld64(p);
    s->tag = p[8];
    s->pfd = -1;
    if (s->tag == 0) {
        uint32_t id = kx_ld32(p + 16);
        uint64_t t = kx_ld64(p + 24), now;
        uint16_t flags = (uint16_t)(p[40] | p[41] << 8);
        if (kx_clock_time(id, &now) < 0) {
            s->error = KX_EINVAL;
            return;
        }
        if (flags & 1) /* abstime */
            t = t > now ? t - now : 0;
        s->deadline = t > INT64_MAX ? INT64_MAX : (int64_t)t;
    } else if (s->tag == 1 || s->tag == 2) {
        s->d = kx_fd_get(k->ctx, kx_ld32(p + 16));
        if (!s->d)
            s->error = KX_EBADF;
        else if (s->tag == 1 && !s->d->can_read)
            s->error = KX_EBADF;
        else if (s->tag == 2 && !s->d->can_write)
            s->error = KX_EBADF;
    } else {
        s->error = KX_EINVAL;
    }
}

static void
put_event(uint8_t *e, const sub *s, uint64_t nbytes, bool hup)
{
    memset(e, 0, EVENT_SIZE);
    kx_st64(e, s->userdata);
    kx_st16(e + 8, s->error);
    e[10] = s->tag;
    if (s->tag != 0) {
        kx_st64(e + 16, nbytes);
        kx_st16(e + 24, hup ? 1 : 0);
    }
}

/* Decide what fired; returns how many. */
static uint32_t
collect(sub *subs, uint32_t n, struct pollfd *pfds, int64_t waited)
{
    uint32_t fired = 0;
    for (uint32_t i = 0; i < n; i++) {
        sub *s = &subs[i];
        if (s->error)
            s->fired = true;
        else if (s->tag == 0)
            s->fired = s->deadline <= waited;
        else if (s->pfd < 0)
            s->fired = true; /* files are always ready */
        else
            s->fired = pfds[s->pfd].revents != 0;
        fired += s->fired;
    }
    return fired;
}

static int
poll_wait(kx_p1 *k, sub *subs, uint32_t n, struct pollfd *pfds)
{
    uint32_t np = 0;
    int64_t timeout = -1;
    uint64_t t0, t1;

    for (uint32_t i = 0; i < n; i++) {
        sub *s = &subs[i];
        if (s->error)
            continue;
        if (s->tag == 0) {
            if (timeout < 0 || s->deadline < timeout)
                timeout = s->deadline;
        } else if (kx_io_pollable(s->d)) {
            s->pfd = (int)np;
            pfds[np].fd = s->d->fd;
            pfds[np].events = s->tag == 1 ? POLLIN : POLLOUT;
            pfds[np].revents = 0;
            np++;
        }
    }
    /* Ready at once? Then no wait. */
    if (np && poll(pfds, np, 0) < 0)
        return kx_errno_from_host(errno);
    if (collect(subs, n, pfds, 0) > 0)
        return 0;
    kx_clock_time(KX_CLOCK_MONOTONIC, &t0);
    int rc = kx_wait(k->ctx, pfds, np, timeout);
    if (rc < 0)
        return rc;
    kx_clock_time(KX_CLOCK_MONOTONIC, &t1);
    /* A timeout fires the earliest clock even if the timer was early. */
    int64_t waited = (int64_t)(t1 - t0);
    if (rc == 0 && waited < timeout)
        waited = timeout;
    collect(subs, n, pfds, waited);
    return 0;
}

int
kx_p1_poll_oneoff(kx_p1 *k, const kumo_val *a)
{
    uint32_t n = A32(2), nev = 0;
    sub *subs = NULL;
    struct pollfd *pfds = NULL;
    int rc;

    if (n == 0)
        return KX_EINVAL;
    if (!kx_p1_mem(k, A32(0), (uint64_t)n * SUB_SIZE) ||
        !kx_p1_mem(k, A32(1), (uint64_t)n * EVENT_SIZE) ||
        !kx_p1_mem(k, A32(3), 4))
        return KX_EFAULT;
    subs = kb_calloc(n, sizeof *subs);
    pfds = kb_calloc(n, sizeof *pfds);
    if (!subs || !pfds) {
        rc = KX_ENOMEM;
        goto done;
    }
    const uint8_t *in = kx_p1_mem(k, A32(0), (uint64_t)n * SUB_SIZE);
    for (uint32_t i = 0; i < n; i++)
        parse_sub(k, in + (size_t)i * SUB_SIZE, &subs[i]);
    rc = poll_wait(k, subs, n, pfds);
    if (rc < 0) {
        rc = -rc;
        goto done;
    }
    /* Memory may only be touched again now (the wait may have yielded). */
    uint8_t *out = kx_p1_mem(k, A32(1), (uint64_t)n * EVENT_SIZE);
    if (!out) {
        rc = KX_EFAULT;
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        sub *s = &subs[i];
        if (!s->fired)
            continue;
        bool hup = s->pfd >= 0 && (pfds[s->pfd].revents & POLLHUP);
        uint64_t nb = s->tag == 1 && !s->error ? kx_io_nread(s->d) : 0;
        put_event(out + (size_t)nev * EVENT_SIZE, s, nb, hup);
        nev++;
    }
    rc = kx_p1_put32(k, A32(3), nev);
done:
    kb_free(subs);
    kb_free(pfds);
    return rc;
}

/* ---- sockets: only descriptors the host handed in can be sockets ---- */

static int
sock_of(kx_p1 *k, uint32_t fd, kx_desc **out)
{
    kx_desc *d = kx_fd_get(k->ctx, fd);
    if (!d)
        return KX_EBADF;
    if (d->filetype != KX_FT_SOCK_STREAM && d->filetype != KX_FT_SOCK_DGRAM)
        return KX_ENOTSOCK;
    *out = d;
    return 0;
}

int
kx_p1_sock_accept(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = sock_of(k, A32(0), &d);
    return rc ? rc : KX_ENOTSUP;
}

int
kx_p1_sock_recv(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    struct iovec *iov = NULL;
    int rc = sock_of(k, A32(0), &d);
    size_t got;
    if (rc)
        return rc;
    if (A32(3) & ~3u)
        return KX_EINVAL;
    if (A32(3)) /* peek/waitall: not supported on this path */
        return KX_ENOTSUP;
    rc = kx_io_ready(k->ctx, d, false);
    if (rc < 0)
        return -rc;
    int niov;
    rc = kx_p1_iovecs(k, A32(1), A32(2), &iov, &niov);
    if (rc)
        return rc;
    rc = KX_ERR(kx_io_read(k->ctx, d, iov, niov, &got));
    kb_free(iov);
    if (rc == 0)
        rc = kx_p1_put32(k, A32(4), (uint32_t)got);
    return rc ? rc : kx_p1_put32(k, A32(5), 0);
}

int
kx_p1_sock_send(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    struct iovec *iov = NULL;
    size_t put;
    int rc = sock_of(k, A32(0), &d);
    if (rc)
        return rc;
    if (A32(3))
        return KX_EINVAL;
    int niov;
    rc = kx_p1_iovecs(k, A32(1), A32(2), &iov, &niov);
    if (rc)
        return rc;
    rc = KX_ERR(kx_io_write(k->ctx, d, iov, niov, &put));
    kb_free(iov);
    return rc ? rc : kx_p1_put32(k, A32(4), (uint32_t)put);
}

int
kx_p1_sock_shutdown(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = sock_of(k, A32(0), &d), how;
    if (rc)
        return rc;
    switch (A32(1)) {
    case 1:
        how = SHUT_RD;
        break;
    case 2:
        how = SHUT_WR;
        break;
    case 3:
        how = SHUT_RDWR;
        break;
    default:
        return KX_EINVAL;
    }
    return shutdown(d->fd, how) == 0 ? 0 : -kx_errno_from_host(errno);
}

/* ---- the table ---- */

#define KX_P1_WRAP(name, params)                                               \
    static int p1_##name(kumo_caller *c, void *env, const kumo_val *args,     \
                         kumo_val *results)                                   \
    {                                                                          \
        kx_p1 k = {c, env};                                                    \
        int rc = kx_p1_##name(&k, args);                                       \
        return finish(&k, rc, results);                                        \
    }

/* A typed result becomes the errno result; a cancelled wait (the
 * deadline passed) and proc_exit unwind the guest instead. */
static int
finish(kx_p1 *k, int rc, kumo_val *results)
{
    if (rc < 0)
        return rc;
    if (rc == KX_ECANCELED && atomic_load(&k->ctx->cancel))
        return KUMO_ETRAP_INTERRUPTED;
    if (results)
        results[0] = (uint32_t)rc;
    return 0;
}

#define X KX_P1_WRAP
#include "preview1.def"
#undef X

typedef struct p1_entry {
    const char *name;
    const char *params;
    kumo_host_fn fn;
} p1_entry;

static const p1_entry table[] = {
#define X(name, params) {#name, params, p1_##name},
#include "preview1.def"
#undef X
};

int
kumo_wasi_preview1_define(kumo_wasi_ctx *ctx, kumo_store *s, kumo_linker *l)
{
    static const kumo_valtype i32 = KUMO_I32;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        kumo_valtype params[16];
        kumo_functype ft;
        kumo_func *f;
        kumo_extern ext;
        uint32_t n = (uint32_t)strlen(table[i].params);
        for (uint32_t j = 0; j < n; j++)
            params[j] = table[i].params[j] == 'I' ? KUMO_I64 : KUMO_I32;
        ft.nparams = n;
        ft.params = params;
        ft.nresults = strcmp(table[i].name, "proc_exit") == 0 ? 0 : 1;
        ft.results = &i32;
        int rc = kumo_func_new_host(s, &ft, table[i].fn, ctx, NULL, &f);
        if (rc < 0)
            return rc;
        ext.kind = KUMO_EXTERN_FUNC;
        ext.u.func = f;
        rc = kumo_linker_define(l, "wasi_snapshot_preview1", table[i].name,
                                &ext);
        if (rc < 0)
            return rc;
    }
    return 0;
}
