/* preview1_fs.c - the fd_* and path_* functions of wasi_snapshot_preview1
 * over the typed operations of filesystem.c and io.c. Rights are not
 * tracked beyond read/write (as current runtimes do): fdstat reports
 * every right a descriptor of its kind could have. */
#include <string.h>

#include "../base/base.h"
#include "preview1.h"

#define RIGHTS_ALL 0x3fffffffull
#define RIGHTS_READ ((1ull << 1) | (1ull << 14))   /* fd_read, readdir */
#define RIGHTS_WRITE ((1ull << 0) | (1ull << 6) | (1ull << 8) | (1ull << 22))
#define RIGHTS_DIR_ONLY 0x3fffe00ull /* path_* and readdir: bits 9..25 */

int
kx_p1_iovecs(kx_p1 *k, uint32_t ptr, uint32_t n, struct iovec **out,
             int *n_used)
{
    const uint8_t *p = kx_p1_mem(k, ptr, (uint64_t)n * 8);
    uint64_t total = 0;
    struct iovec *iov;

    *out = NULL;
    *n_used = 0;
    if (!p)
        return KX_EFAULT;
    if (n > 1024)
        n = 1024;
    if (n == 0)
        return 0;
    iov = kb_calloc(n, sizeof *iov);
    if (!iov)
        return KX_ENOMEM;
    uint32_t i;
    for (i = 0; i < n; i++) {
        uint32_t buf = kx_ld32(p + 8 * i), len = kx_ld32(p + 8 * i + 4);
        uint8_t *b = kx_p1_mem(k, buf, len);
        if (!b) {
            kb_free(iov);
            return KX_EFAULT;
        }
        if (total + len > UINT32_MAX)
            len = (uint32_t)(UINT32_MAX - total);
        iov[i].iov_base = b;
        iov[i].iov_len = len;
        total += len;
    }
    *out = iov;
    *n_used = (int)i;
    return 0;
}

static int
get(kx_p1 *k, uint32_t fd, kx_desc **d)
{
    *d = kx_fd_get(k->ctx, fd);
    return *d ? 0 : KX_EBADF;
}

/* A path argument (ptr, len) in guest memory. */
static int
path_arg(kx_p1 *k, uint32_t ptr, uint32_t len, const char **out)
{
    *out = (const char *)kx_p1_mem(k, ptr, len);
    return *out ? 0 : KX_EFAULT;
}

/* ---- descriptors ---- */

int
kx_p1_fd_advise(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    return rc ? rc : KX_ERR(kx_fs_advise(d, A64(1), A64(2), (int)A32(3)));
}

int
kx_p1_fd_allocate(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    return rc ? rc : KX_ERR(kx_fs_allocate(d, A64(1), A64(2)));
}

int
kx_p1_fd_close(kx_p1 *k, const kumo_val *a)
{
    return KX_ERR(kx_fd_close(k->ctx, A32(0)));
}

int
kx_p1_fd_datasync(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    return rc ? rc : KX_ERR(kx_fs_sync(d, true));
}

int
kx_p1_fd_sync(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    return rc ? rc : KX_ERR(kx_fs_sync(d, false));
}

int
kx_p1_fd_fdstat_get(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    uint8_t *p;
    uint64_t base = RIGHTS_ALL, inh = 0;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    if (!(p = kx_p1_mem(k, A32(1), 24)))
        return KX_EFAULT;
    if (d->filetype == KX_FT_DIR) {
        inh = RIGHTS_ALL;
    } else {
        base &= ~RIGHTS_DIR_ONLY;
        if (!d->can_read)
            base &= ~RIGHTS_READ;
        if (!d->can_write)
            base &= ~RIGHTS_WRITE;
    }
    memset(p, 0, 24);
    p[0] = d->filetype;
    kx_st16(p + 2, d->fdflags);
    kx_st64(p + 8, base);
    kx_st64(p + 16, inh);
    return 0;
}

int
kx_p1_fd_fdstat_set_flags(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    if (A32(1) > 0xffff)
        return KX_EINVAL;
    return KX_ERR(kx_fs_set_flags(d, (uint16_t)A32(1)));
}

int
kx_p1_fd_fdstat_set_rights(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    return get(k, A32(0), &d); /* rights are not tracked: accept */
}

static void
put_filestat(uint8_t *p, const kx_stat *st)
{
    memset(p, 0, 64);
    kx_st64(p, st->dev);
    kx_st64(p + 8, st->ino);
    p[16] = st->filetype;
    kx_st64(p + 24, st->nlink);
    kx_st64(p + 32, st->size);
    kx_st64(p + 40, st->atim);
    kx_st64(p + 48, st->mtim);
    kx_st64(p + 56, st->ctim);
}

int
kx_p1_fd_filestat_get(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    kx_stat st;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    rc = kx_fs_stat(d, &st);
    if (rc < 0)
        return -rc;
    uint8_t *p = kx_p1_mem(k, A32(1), 64);
    if (!p)
        return KX_EFAULT;
    put_filestat(p, &st);
    return 0;
}

int
kx_p1_fd_filestat_set_size(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    return rc ? rc : KX_ERR(kx_fs_set_size(d, A64(1)));
}

int
kx_p1_fd_filestat_set_times(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    int rc = get(k, A32(0), &d);
    return rc ? rc : KX_ERR(kx_fs_set_times(d, A64(1), A64(2), A32(3)));
}

/* read, write, pread, pwrite: op 0..3 */
static int
transfer(kx_p1 *k, const kumo_val *a, int op)
{
    kx_desc *d;
    struct iovec *iov;
    int niov, rc = get(k, A32(0), &d);
    size_t done = 0;
    uint32_t result_ptr = op >= 2 ? A32(4) : A32(3);

    if (rc)
        return rc;
    if (!kx_p1_mem(k, result_ptr, 4))
        return KX_EFAULT;
    if (op < 2) {
        /* Wait before gathering: guest memory is not held across it. */
        rc = kx_io_ready(k->ctx, d, op == 1);
        if (rc < 0)
            return -rc;
    }
    rc = kx_p1_iovecs(k, A32(1), A32(2), &iov, &niov);
    if (rc)
        return rc;
    switch (op) {
    case 0:
        rc = kx_io_read(k->ctx, d, iov, niov, &done);
        break;
    case 1:
        rc = kx_io_write(k->ctx, d, iov, niov, &done);
        break;
    case 2:
        rc = kx_io_pread(d, iov, niov, A64(3), &done);
        break;
    default:
        rc = kx_io_pwrite(d, iov, niov, A64(3), &done);
        break;
    }
    kb_free(iov);
    if (rc < 0)
        return -rc;
    return kx_p1_put32(k, result_ptr, (uint32_t)done);
}

int
kx_p1_fd_read(kx_p1 *k, const kumo_val *a)
{
    return transfer(k, a, 0);
}

int
kx_p1_fd_write(kx_p1 *k, const kumo_val *a)
{
    return transfer(k, a, 1);
}

int
kx_p1_fd_pread(kx_p1 *k, const kumo_val *a)
{
    return transfer(k, a, 2);
}

int
kx_p1_fd_pwrite(kx_p1 *k, const kumo_val *a)
{
    return transfer(k, a, 3);
}

int
kx_p1_fd_prestat_get(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    uint8_t *p;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    if (!d->preopen)
        return KX_EBADF;
    if (!(p = kx_p1_mem(k, A32(1), 8)))
        return KX_EFAULT;
    memset(p, 0, 8);
    kx_st32(p + 4, (uint32_t)strlen(d->preopen));
    return 0;
}

int
kx_p1_fd_prestat_dir_name(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    uint8_t *p;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    if (!d->preopen)
        return KX_EBADF;
    size_t n = strlen(d->preopen);
    if (A32(2) < n)
        return KX_ENAMETOOLONG;
    if (!(p = kx_p1_mem(k, A32(1), n)))
        return KX_EFAULT;
    memcpy(p, d->preopen, n);
    return 0;
}

typedef struct rd {
    uint8_t *buf;
    uint32_t cap, used;
} rd;

static int
rd_entry(void *arg, const kx_dirent *e)
{
    rd *r = arg;
    uint8_t hdr[24];
    uint32_t n;

    memset(hdr, 0, sizeof hdr);
    kx_st64(hdr, e->next);
    kx_st64(hdr + 8, e->ino);
    kx_st32(hdr + 16, e->namelen);
    hdr[20] = e->filetype;
    n = r->cap - r->used < 24 ? r->cap - r->used : 24;
    memcpy(r->buf + r->used, hdr, n);
    r->used += n;
    n = r->cap - r->used < e->namelen ? r->cap - r->used : e->namelen;
    memcpy(r->buf + r->used, e->name, n);
    r->used += n;
    return r->used == r->cap; /* full (possibly truncated): stop */
}

int
kx_p1_fd_readdir(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    rd r;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    r.buf = kx_p1_mem(k, A32(1), A32(2));
    r.cap = A32(2);
    r.used = 0;
    if (!r.buf || !kx_p1_mem(k, A32(4), 4))
        return KX_EFAULT;
    if (r.cap > 0) {
        rc = kx_fs_readdir(d, A64(3), rd_entry, &r);
        if (rc < 0)
            return -rc;
    }
    return kx_p1_put32(k, A32(4), r.used);
}

int
kx_p1_fd_renumber(kx_p1 *k, const kumo_val *a)
{
    return KX_ERR(kx_fd_renumber(k->ctx, A32(0), A32(1)));
}

int
kx_p1_fd_seek(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    uint64_t off;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    if (!kx_p1_mem(k, A32(3), 8))
        return KX_EFAULT;
    if (A32(2) > 2)
        return KX_EINVAL;
    rc = kx_io_seek(d, (int64_t)A64(1), (int)A32(2), &off);
    return rc < 0 ? -rc : kx_p1_put64(k, A32(3), off);
}

int
kx_p1_fd_tell(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    uint64_t off;
    int rc = get(k, A32(0), &d);
    if (rc)
        return rc;
    rc = kx_io_seek(d, 0, 1, &off);
    return rc < 0 ? -rc : kx_p1_put64(k, A32(1), off);
}

/* ---- paths ---- */

/* (fd, path, path_len) -> errno calls that act on one path beneath fd. */
static int
path_op(kx_p1 *k, const kumo_val *a,
        int (*op)(kx_desc *dir, const char *path, size_t len))
{
    kx_desc *d;
    const char *p;
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = path_arg(k, A32(1), A32(2), &p);
    return rc ? rc : KX_ERR(op(d, p, A32(2)));
}

int
kx_p1_path_create_directory(kx_p1 *k, const kumo_val *a)
{
    return path_op(k, a, kx_fs_mkdir);
}

int
kx_p1_path_remove_directory(kx_p1 *k, const kumo_val *a)
{
    return path_op(k, a, kx_fs_rmdir);
}

int
kx_p1_path_unlink_file(kx_p1 *k, const kumo_val *a)
{
    return path_op(k, a, kx_fs_unlink);
}

int
kx_p1_path_filestat_get(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    const char *p;
    kx_stat st;
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = path_arg(k, A32(2), A32(3), &p);
    if (rc)
        return rc;
    rc = kx_fs_stat_at(d, p, A32(3), A32(1) & KX_LOOKUP_FOLLOW, &st);
    if (rc < 0)
        return -rc;
    uint8_t *out = kx_p1_mem(k, A32(4), 64);
    if (!out)
        return KX_EFAULT;
    put_filestat(out, &st);
    return 0;
}

int
kx_p1_path_filestat_set_times(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    const char *p;
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = path_arg(k, A32(2), A32(3), &p);
    if (rc)
        return rc;
    return KX_ERR(kx_fs_set_times_at(d, p, A32(3), A32(1) & KX_LOOKUP_FOLLOW,
                                     A64(4), A64(5), A32(6)));
}

int
kx_p1_path_link(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d, *nd;
    const char *p, *np;
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = get(k, A32(4), &nd);
    if (!rc)
        rc = path_arg(k, A32(2), A32(3), &p);
    if (!rc)
        rc = path_arg(k, A32(5), A32(6), &np);
    if (rc)
        return rc;
    return KX_ERR(kx_fs_link(d, A32(1) & KX_LOOKUP_FOLLOW, p, A32(3), nd, np,
                             A32(6)));
}

int
kx_p1_path_open(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d, *nd;
    const char *p;
    uint32_t fd;
    uint64_t rights = A64(5);
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = path_arg(k, A32(2), A32(3), &p);
    if (rc)
        return rc;
    if (!kx_p1_mem(k, A32(8), 4))
        return KX_EFAULT;
    if (A32(4) > 15 || A32(7) > 31)
        return KX_EINVAL;
    bool read = (rights & RIGHTS_READ) != 0;
    bool write = (rights & RIGHTS_WRITE) != 0;
    rc = kx_fs_open(d, p, A32(3), A32(1), A32(4), (uint16_t)A32(7), read,
                    write, &nd);
    if (rc < 0)
        return -rc;
    rc = kx_fd_insert(k->ctx, nd, &fd);
    if (rc < 0) {
        kx_desc_free(nd);
        return -rc;
    }
    return kx_p1_put32(k, A32(8), fd);
}

int
kx_p1_path_readlink(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    const char *p;
    size_t n = 0;
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = path_arg(k, A32(1), A32(2), &p);
    if (rc)
        return rc;
    char *buf = (char *)kx_p1_mem(k, A32(3), A32(4));
    if (!buf || !kx_p1_mem(k, A32(5), 4))
        return KX_EFAULT;
    rc = kx_fs_readlink(d, p, A32(2), buf, A32(4), &n);
    return rc < 0 ? -rc : kx_p1_put32(k, A32(5), (uint32_t)n);
}

int
kx_p1_path_rename(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d, *nd;
    const char *p, *np;
    int rc = get(k, A32(0), &d);
    if (!rc)
        rc = get(k, A32(3), &nd);
    if (!rc)
        rc = path_arg(k, A32(1), A32(2), &p);
    if (!rc)
        rc = path_arg(k, A32(4), A32(5), &np);
    return rc ? rc : KX_ERR(kx_fs_rename(d, p, A32(2), nd, np, A32(5)));
}

int
kx_p1_path_symlink(kx_p1 *k, const kumo_val *a)
{
    kx_desc *d;
    const char *t, *p;
    int rc = get(k, A32(2), &d);
    if (!rc)
        rc = path_arg(k, A32(0), A32(1), &t);
    if (!rc)
        rc = path_arg(k, A32(3), A32(4), &p);
    return rc ? rc : KX_ERR(kx_fs_symlink(t, A32(1), d, p, A32(4)));
}
