/* io.c - reads and writes on descriptors. Regular files and directories
 * never wait; pipes, sockets and terminals may, so before touching them we
 * ask the kernel whether they are ready and, when not, wait through
 * kx_wait, which on a fiber yields to the libuv loop instead of blocking
 * the thread. */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi.h"

bool
kx_io_pollable(const kx_desc *d)
{
    return d->fd >= 0 && d->filetype != KX_FT_FILE &&
           d->filetype != KX_FT_DIR && d->filetype != KX_FT_BLOCK;
}

/* Wait until d is ready for events (POLLIN/POLLOUT) unless it is
 * nonblocking for the guest. */
static int
ready(kumo_wasi_ctx *ctx, kx_desc *d, short events)
{
    struct pollfd p = {.fd = d->fd, .events = events};
    if (poll(&p, 1, 0) > 0)
        return 0;
    if (d->fdflags & KX_FDF_NONBLOCK)
        return -KX_EAGAIN;
    int rc = kx_wait(ctx, &p, 1, -1);
    return rc < 0 ? rc : 0;
}

int
kx_io_ready(kumo_wasi_ctx *ctx, kx_desc *d, bool write)
{
    if (!kx_io_pollable(d) || (write ? !d->can_write : !d->can_read))
        return 0;
    return ready(ctx, d, write ? POLLOUT : POLLIN);
}

/* readv (POLLIN) or writev (POLLOUT), waiting on the loop first when the
 * descriptor is pollable and retrying when it would block (unless the guest
 * asked for non-blocking I/O). */
static int
transfer(kumo_wasi_ctx *ctx, kx_desc *d, const struct iovec *iov, int n,
         short events, size_t *done)
{
    for (;;) {
        if (kx_io_pollable(d)) {
            int rc = ready(ctx, d, events);
            if (rc < 0)
                return rc;
        }
        ssize_t got = events == POLLIN ? readv(d->fd, iov, n)
                                       : writev(d->fd, iov, n);
        if (got >= 0) {
            *done = (size_t)got;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
            !kx_io_pollable(d) || (d->fdflags & KX_FDF_NONBLOCK))
            return kx_errno_from_host(errno);
    }
}

int
kx_io_read(kumo_wasi_ctx *ctx, kx_desc *d, const struct iovec *iov, int n,
           size_t *done)
{
    *done = 0;
    if (!d->can_read)
        return -KX_EBADF;
    if (d->fd < 0)
        return 0;
    if (d->filetype == KX_FT_DIR)
        return -KX_EISDIR;
    return transfer(ctx, d, iov, n, POLLIN, done);
}

int
kx_io_write(kumo_wasi_ctx *ctx, kx_desc *d, const struct iovec *iov, int n,
            size_t *done)
{
    *done = 0;
    if (!d->can_write)
        return -KX_EBADF;
    if (d->fd < 0) { /* the null device swallows everything */
        for (int i = 0; i < n; i++)
            *done += iov[i].iov_len;
        return 0;
    }
    if (d->filetype == KX_FT_DIR)
        return -KX_EISDIR;
    return transfer(ctx, d, iov, n, POLLOUT, done);
}

int
kx_io_pread(kx_desc *d, const struct iovec *iov, int n, uint64_t off,
            size_t *done)
{
    *done = 0;
    if (!d->can_read || d->fd < 0)
        return -KX_EBADF;
    if (d->filetype == KX_FT_DIR)
        return -KX_EISDIR;
    if (off > INT64_MAX)
        return -KX_EINVAL;
    ssize_t got = preadv(d->fd, iov, n, (off_t)off);
    if (got < 0)
        return kx_errno_from_host(errno);
    *done = (size_t)got;
    return 0;
}

int
kx_io_pwrite(kx_desc *d, const struct iovec *iov, int n, uint64_t off,
             size_t *done)
{
    *done = 0;
    if (!d->can_write || d->fd < 0)
        return -KX_EBADF;
    if (d->filetype == KX_FT_DIR)
        return -KX_EISDIR;
    if (off > INT64_MAX)
        return -KX_EINVAL;
    ssize_t put = pwritev(d->fd, iov, n, (off_t)off);
    if (put < 0)
        return kx_errno_from_host(errno);
    *done = (size_t)put;
    return 0;
}

int
kx_io_seek(kx_desc *d, int64_t off, int whence, uint64_t *newoff)
{
    static const int map[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    if (whence < 0 || whence > 2)
        return -KX_EINVAL;
    if (d->fd < 0)
        return -KX_ESPIPE;
    if (d->filetype == KX_FT_DIR)
        return -KX_EBADF;
    off_t r = lseek(d->fd, (off_t)off, map[whence]);
    if (r < 0)
        return kx_errno_from_host(errno);
    *newoff = (uint64_t)r;
    return 0;
}

uint64_t
kx_io_nread(kx_desc *d)
{
    if (d->fd < 0)
        return 0;
    if (d->filetype == KX_FT_FILE) {
        struct stat st;
        off_t cur = lseek(d->fd, 0, SEEK_CUR);
        if (cur < 0 || fstat(d->fd, &st) < 0 || st.st_size < cur)
            return 0;
        return (uint64_t)(st.st_size - cur);
    }
    int n = 0;
    if (ioctl(d->fd, FIONREAD, &n) < 0 || n < 0)
        return 0;
    return (uint64_t)n;
}
