/* filesystem.c - typed filesystem operations on descriptors and on paths
 * beneath them (path.c does the sandboxed resolution). Shared by the
 * native preview1 functions and the wasi:filesystem bindings. A
 * descriptor opened beneath a read-only preopen refuses every change
 * with EROFS (wasi:filesystem `read-only`). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/base.h"
#include "wasi.h"

#define NAME_MAX_ 256

/* Cookies are the host's directory positions (telldir: d_off on Linux),
 * not entry counts: a count goes wrong when the guest unlinks entries
 * between two fd_readdir calls (wasi-libc resumes a listing with the
 * cookie of the last entry that fit in its buffer), and skips entries
 * that were never removed; a d_off stays put. */
struct kx_dirstream {
    DIR *dir;
    uint64_t pos; /* cookie of the next entry readdir returns */
};

static int
host_err(void)
{
    return kx_errno_from_host(errno);
}

static uint8_t
ft_of(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFBLK:
        return KX_FT_BLOCK;
    case S_IFCHR:
        return KX_FT_CHAR;
    case S_IFDIR:
        return KX_FT_DIR;
    case S_IFREG:
        return KX_FT_FILE;
    case S_IFSOCK:
        return KX_FT_SOCK_STREAM;
    case S_IFLNK:
        return KX_FT_SYMLINK;
    default:
        return KX_FT_UNKNOWN;
    }
}

static uint64_t
ns(struct timespec t)
{
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void
fill_stat(const struct stat *s, kx_stat *st)
{
    st->dev = (uint64_t)s->st_dev;
    st->ino = (uint64_t)s->st_ino;
    st->nlink = (uint64_t)s->st_nlink;
    st->size = (uint64_t)s->st_size;
    st->atim = ns(s->st_atim);
    st->mtim = ns(s->st_mtim);
    st->ctim = ns(s->st_ctim);
    st->filetype = ft_of(s->st_mode);
}

static int
need_dir(const kx_desc *dir)
{
    if (dir->fd < 0)
        return -KX_EBADF;
    return dir->filetype == KX_FT_DIR ? 0 : -KX_ENOTDIR;
}

/* ---- open ---- */

static int
open_flags(uint32_t oflags, uint16_t fdflags, bool read, bool write)
{
    int fl = write ? (read ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (oflags & KX_O_CREAT)
        fl |= O_CREAT;
    if (oflags & KX_O_EXCL)
        fl |= O_EXCL;
    if (oflags & KX_O_TRUNC)
        fl |= O_TRUNC;
    if (oflags & KX_O_DIRECTORY)
        fl |= O_DIRECTORY;
    if (fdflags & KX_FDF_APPEND)
        fl |= O_APPEND;
    if (fdflags & KX_FDF_NONBLOCK)
        fl |= O_NONBLOCK;
    if (fdflags & KX_FDF_DSYNC)
        fl |= O_DSYNC;
    if (fdflags & (KX_FDF_SYNC | KX_FDF_RSYNC))
        fl |= O_SYNC;
    return fl | O_NOCTTY;
}

int
kx_fs_open(kx_desc *dir, const char *path, size_t len, uint32_t lookup,
           uint32_t oflags, uint16_t fdflags, bool read, bool write,
           kx_desc **out)
{
    kx_desc *d;
    int fd, rc = need_dir(dir);

    if (rc < 0)
        return rc;
    if (dir->readonly &&
        (write || (oflags & (KX_O_CREAT | KX_O_TRUNC)) ||
         (fdflags & KX_FDF_APPEND)))
        return -KX_EROFS;
    if ((oflags & KX_O_DIRECTORY) && write)
        return -KX_EISDIR;
    fd = kx_path_open(dir->fd, path, len,
                      open_flags(oflags, fdflags, read, write), 0666,
                      (lookup & KX_LOOKUP_FOLLOW) != 0);
    if (fd < 0)
        return fd;
    rc = kx_desc_new(fd, true, &d);
    if (rc < 0)
        return rc;
    d->readonly = dir->readonly;
    d->can_read = read || !write;
    d->can_write = write;
    d->fdflags = fdflags;
    *out = d;
    return 0;
}

/* ---- stat and times ---- */

int
kx_fs_stat(kx_desc *d, kx_stat *st)
{
    struct stat s;
    if (d->fd < 0) {
        memset(st, 0, sizeof *st);
        st->filetype = KX_FT_CHAR;
        return 0;
    }
    if (fstat(d->fd, &s) < 0)
        return host_err();
    fill_stat(&s, st);
    return 0;
}

int
kx_fs_stat_at(kx_desc *dir, const char *path, size_t len, bool follow,
              kx_stat *st)
{
    struct stat s;
    int fd, rc = need_dir(dir);
    if (rc < 0)
        return rc;
    fd = kx_path_open(dir->fd, path, len, O_PATH, 0, follow);
    if (fd < 0)
        return fd;
    rc = fstat(fd, &s) < 0 ? host_err() : 0;
    close(fd);
    if (rc == 0)
        fill_stat(&s, st);
    return rc;
}

static int
times_of(uint64_t atim, uint64_t mtim, uint32_t fl, struct timespec ts[2])
{
    if (((fl & KX_FST_ATIM) && (fl & KX_FST_ATIM_NOW)) ||
        ((fl & KX_FST_MTIM) && (fl & KX_FST_MTIM_NOW)) || (fl & ~15u))
        return -KX_EINVAL;
    ts[0].tv_sec = (time_t)(atim / 1000000000u);
    ts[0].tv_nsec = (long)(atim % 1000000000u);
    ts[1].tv_sec = (time_t)(mtim / 1000000000u);
    ts[1].tv_nsec = (long)(mtim % 1000000000u);
    if (!(fl & KX_FST_ATIM))
        ts[0].tv_nsec = (fl & KX_FST_ATIM_NOW) ? UTIME_NOW : UTIME_OMIT;
    if (!(fl & KX_FST_MTIM))
        ts[1].tv_nsec = (fl & KX_FST_MTIM_NOW) ? UTIME_NOW : UTIME_OMIT;
    return 0;
}

/* utimensat on an O_PATH descriptor: AT_EMPTY_PATH where the kernel
 * takes it, else through its /proc/self/fd link (which names exactly
 * this file, whatever its path). */
static int
utimens_fd(int fd, const struct timespec ts[2])
{
    char link[64];
    if (utimensat(fd, "", ts, AT_EMPTY_PATH) == 0)
        return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    return utimensat(AT_FDCWD, link, ts, 0) == 0 ? 0 : host_err();
}

int
kx_fs_set_times(kx_desc *d, uint64_t atim, uint64_t mtim, uint32_t fstflags)
{
    struct timespec ts[2];
    int rc = times_of(atim, mtim, fstflags, ts);
    if (rc < 0)
        return rc;
    if (d->fd < 0)
        return -KX_EBADF;
    if (d->readonly)
        return -KX_EROFS;
    return futimens(d->fd, ts) == 0 ? 0 : host_err();
}

int
kx_fs_set_times_at(kx_desc *dir, const char *path, size_t len, bool follow,
                   uint64_t atim, uint64_t mtim, uint32_t fstflags)
{
    struct timespec ts[2];
    int fd, rc = need_dir(dir);
    if (rc == 0)
        rc = times_of(atim, mtim, fstflags, ts);
    if (rc < 0)
        return rc;
    if (dir->readonly)
        return -KX_EROFS;
    fd = kx_path_open(dir->fd, path, len, O_PATH, 0, follow);
    if (fd < 0)
        return fd;
    rc = utimens_fd(fd, ts);
    close(fd);
    return rc;
}

int
kx_fs_set_size(kx_desc *d, uint64_t size)
{
    if (d->readonly)
        return -KX_EROFS;
    if (d->fd < 0 || !d->can_write)
        return -KX_EBADF;
    if (size > INT64_MAX)
        return -KX_EINVAL;
    return ftruncate(d->fd, (off_t)size) == 0 ? 0 : host_err();
}

/* ---- names inside a directory ---- */

/* Parent of path beneath dir (writable when write). */
static int
parent(kx_desc *dir, const char *path, size_t len, bool write, char *base,
       bool *slash)
{
    int rc = need_dir(dir);
    if (rc < 0)
        return rc;
    if (write && dir->readonly)
        return -KX_EROFS;
    return kx_path_parent(dir->fd, path, len, base, NAME_MAX_, slash);
}

int
kx_fs_mkdir(kx_desc *dir, const char *path, size_t len)
{
    char base[NAME_MAX_];
    bool slash;
    int rc, p = parent(dir, path, len, true, base, &slash);
    if (p < 0)
        return p;
    rc = mkdirat(p, base, 0777) == 0 ? 0 : host_err();
    close(p);
    return rc;
}

int
kx_fs_rmdir(kx_desc *dir, const char *path, size_t len)
{
    char base[NAME_MAX_];
    bool slash;
    int rc, p = parent(dir, path, len, true, base, &slash);
    if (p < 0)
        return p;
    rc = unlinkat(p, base, AT_REMOVEDIR) == 0 ? 0 : host_err();
    close(p);
    return rc;
}

/* A trailing slash demands a directory. */
static int
check_slash(int p, const char *base, bool slash)
{
    struct stat s;
    if (!slash)
        return 0;
    if (fstatat(p, base, &s, AT_SYMLINK_NOFOLLOW) < 0)
        return host_err();
    return S_ISDIR(s.st_mode) ? 0 : -KX_ENOTDIR;
}

int
kx_fs_unlink(kx_desc *dir, const char *path, size_t len)
{
    char base[NAME_MAX_];
    bool slash;
    int rc, p = parent(dir, path, len, true, base, &slash);
    if (p < 0)
        return p;
    rc = check_slash(p, base, slash);
    if (rc == 0)
        rc = slash ? -KX_EISDIR
                   : (unlinkat(p, base, 0) == 0 ? 0 : host_err());
    close(p);
    return rc;
}

int
kx_fs_rename(kx_desc *dir, const char *path, size_t len, kx_desc *ndir,
             const char *npath, size_t nlen)
{
    char b1[NAME_MAX_], b2[NAME_MAX_];
    bool s1, s2;
    int rc, p2 = -1, p1 = parent(dir, path, len, true, b1, &s1);
    if (p1 < 0)
        return p1;
    p2 = parent(ndir, npath, nlen, true, b2, &s2);
    if (p2 < 0) {
        rc = p2;
        goto done;
    }
    rc = check_slash(p1, b1, s1 || s2);
    if (rc == 0)
        rc = renameat(p1, b1, p2, b2) == 0 ? 0 : host_err();
    close(p2);
done:
    close(p1);
    return rc;
}

int
kx_fs_link(kx_desc *dir, bool follow, const char *path, size_t len,
           kx_desc *ndir, const char *npath, size_t nlen)
{
    char b1[NAME_MAX_], b2[NAME_MAX_], link[64];
    bool s1, s2;
    int rc, src = -1, p2 = -1, p1 = parent(dir, path, len, false, b1, &s1);
    if (p1 < 0)
        return p1;
    p2 = parent(ndir, npath, nlen, true, b2, &s2);
    if (p2 < 0) {
        rc = p2;
        goto done;
    }
    if (!follow) {
        rc = linkat(p1, b1, p2, b2, 0) == 0 ? 0 : host_err();
        goto done;
    }
    /* Following must stay beneath too: resolve the source ourselves and
     * link the file its /proc/self/fd link names. */
    src = kx_path_open(dir->fd, path, len, O_PATH, 0, true);
    if (src < 0) {
        rc = src;
        goto done;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", src);
    rc = linkat(AT_FDCWD, link, p2, b2, AT_SYMLINK_FOLLOW) == 0 ? 0
                                                               : host_err();
done:
    if (src >= 0)
        close(src);
    if (p2 >= 0)
        close(p2);
    close(p1);
    return rc;
}

int
kx_fs_symlink(const char *target, size_t tlen, kx_desc *dir,
              const char *path, size_t len)
{
    char base[NAME_MAX_], t[4096];
    bool slash;
    int rc, p;

    if (tlen == 0)
        return -KX_ENOENT;
    if (tlen >= sizeof t)
        return -KX_ENAMETOOLONG;
    if (memchr(target, 0, tlen))
        return -KX_EINVAL;
    if (target[0] == '/')
        return -KX_ENOTCAPABLE; /* could never resolve beneath */
    memcpy(t, target, tlen);
    t[tlen] = 0;
    p = parent(dir, path, len, true, base, &slash);
    if (p < 0)
        return p;
    rc = symlinkat(t, p, base) == 0 ? 0 : host_err();
    close(p);
    return rc;
}

int
kx_fs_readlink(kx_desc *dir, const char *path, size_t len, char *buf,
               size_t cap, size_t *n)
{
    char base[NAME_MAX_];
    bool slash;
    ssize_t got;
    int rc = 0, p = parent(dir, path, len, false, base, &slash);
    if (p < 0)
        return p;
    got = readlinkat(p, base, buf, cap);
    if (got < 0)
        rc = host_err();
    else
        *n = (size_t)got;
    close(p);
    return rc;
}

/* ---- descriptor operations ---- */

int
kx_fs_sync(kx_desc *d, bool data_only)
{
    if (d->fd < 0)
        return -KX_EINVAL;
    if ((data_only ? fdatasync(d->fd) : fsync(d->fd)) == 0)
        return 0;
    return host_err();
}

int
kx_fs_advise(kx_desc *d, uint64_t off, uint64_t len, int advice)
{
    static const int map[] = {POSIX_FADV_NORMAL, POSIX_FADV_SEQUENTIAL,
                              POSIX_FADV_RANDOM, POSIX_FADV_WILLNEED,
                              POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
    if (advice < 0 || advice > 5 || off > INT64_MAX || len > INT64_MAX)
        return -KX_EINVAL;
    if (d->fd < 0)
        return -KX_EBADF;
    if (d->filetype == KX_FT_DIR)
        return -KX_EBADF;
    int rc = posix_fadvise(d->fd, (off_t)off, (off_t)len, map[advice]);
    if (rc == ESPIPE)
        return -KX_ESPIPE;
    return rc ? kx_errno_from_host(rc) : 0;
}

int
kx_fs_allocate(kx_desc *d, uint64_t off, uint64_t len)
{
    if (d->readonly)
        return -KX_EROFS;
    if (d->fd < 0 || !d->can_write)
        return -KX_EBADF;
    if (off > INT64_MAX || len > INT64_MAX || off + len > INT64_MAX)
        return -KX_EINVAL;
    int rc = posix_fallocate(d->fd, (off_t)off, (off_t)len);
    return rc ? kx_errno_from_host(rc) : 0;
}

int
kx_fs_set_flags(kx_desc *d, uint16_t fdflags)
{
    int fl;
    if (fdflags & ~(KX_FDF_APPEND | KX_FDF_NONBLOCK | KX_FDF_DSYNC |
                    KX_FDF_RSYNC | KX_FDF_SYNC))
        return -KX_EINVAL;
    if (d->fd >= 0 && d->filetype == KX_FT_FILE) {
        /* Only append can change on a host file; the sync flags cannot
         * change after open (as on Linux) and nonblocking is ours. */
        if ((fdflags & KX_FDF_APPEND) && d->readonly)
            return -KX_EROFS;
        fl = fcntl(d->fd, F_GETFL);
        if (fl < 0)
            return host_err();
        fl = (fdflags & KX_FDF_APPEND) ? (fl | O_APPEND) : (fl & ~O_APPEND);
        if (fcntl(d->fd, F_SETFL, fl) < 0)
            return host_err();
    }
    d->fdflags = (uint16_t)((d->fdflags & (KX_FDF_DSYNC | KX_FDF_RSYNC |
                                           KX_FDF_SYNC)) |
                            (fdflags & (KX_FDF_APPEND | KX_FDF_NONBLOCK)));
    return 0;
}

/* ---- directories ---- */

void
kx_dirstream_free(kx_dirstream *ds)
{
    if (!ds)
        return;
    if (ds->dir)
        closedir(ds->dir);
    kb_free(ds);
}

static int
dir_open(kx_desc *d)
{
    int fd;
    if (d->dir)
        return 0;
    d->dir = kb_calloc(1, sizeof *d->dir);
    if (!d->dir)
        return -KX_ENOMEM;
    fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(d->dir->dir = fdopendir(fd))) {
        int rc = host_err();
        if (fd >= 0)
            close(fd);
        kx_dirstream_free(d->dir);
        d->dir = NULL;
        return rc;
    }
    return 0;
}

int
kx_fs_readdir(kx_desc *d, uint64_t cookie,
              int (*fn)(void *arg, const kx_dirent *e), void *arg)
{
    kx_dirstream *ds;
    int rc = need_dir(d);
    if (rc == 0)
        rc = dir_open(d);
    if (rc < 0)
        return rc;
    ds = d->dir;
    if (cookie != ds->pos) {
        if (cookie == 0) {
            rewinddir(ds->dir);
        } else {
            if (cookie > (uint64_t)LONG_MAX)
                return 0; /* not a position we handed out: the end */
            seekdir(ds->dir, (long)cookie);
        }
        ds->pos = cookie;
    }
    for (;;) {
        struct dirent *de;
        long next;
        errno = 0;
        de = readdir(ds->dir);
        if (!de)
            return errno ? host_err() : 0;
        next = telldir(ds->dir);
        if (next < 0)
            return host_err();
        ds->pos = (uint64_t)next;
        kx_dirent e;
        e.next = ds->pos;
        e.ino = (uint64_t)de->d_ino;
        e.name = de->d_name;
        e.namelen = (uint32_t)strlen(de->d_name);
        switch (de->d_type) {
        case DT_DIR:
            e.filetype = KX_FT_DIR;
            break;
        case DT_REG:
            e.filetype = KX_FT_FILE;
            break;
        case DT_LNK:
            e.filetype = KX_FT_SYMLINK;
            break;
        case DT_CHR:
            e.filetype = KX_FT_CHAR;
            break;
        case DT_BLK:
            e.filetype = KX_FT_BLOCK;
            break;
        case DT_SOCK:
            e.filetype = KX_FT_SOCK_STREAM;
            break;
        default: {
            struct stat s;
            e.filetype = fstatat(dirfd(ds->dir), de->d_name, &s,
                                 AT_SYMLINK_NOFOLLOW) == 0
                             ? ft_of(s.st_mode)
                             : KX_FT_UNKNOWN;
        }
        }
        if (fn(arg, &e))
            return 0;
    }
}
