/* wasi.h - internal API of the WASI layer (prefix kx_): the context, host
 * descriptors, the errno table, and the typed operations that both the
 * native wasi_snapshot_preview1 functions and the WASI 0.2 bindings call.
 *
 * Typed operations return 0 or a negative WASI errno (-KX_E...), never a
 * host errno: kx_errno_from_host converts at the one place a system call
 * fails. */
#ifndef KUMO_SRC_WASI_H
#define KUMO_SRC_WASI_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kumo/wasi.h"

/*
 * Every WASI errno, defined once: X(NAME, preview1 value, host errno,
 * wasi:filesystem error-code). The host errno is the Linux one the
 * kernel returns for it (0: none maps here); the error-code is the
 * `error-code` case of wasi:filesystem/types (KX_FS_* below), or IO when
 * 0.2 has no closer case.
 */
#define KX_ERRNOS(X)                                                           \
    X(SUCCESS, 0, 0, IO)                                                       \
    X(2BIG, 1, E2BIG, IO)                                                      \
    X(ACCES, 2, EACCES, ACCESS)                                                \
    X(ADDRINUSE, 3, EADDRINUSE, IO)                                            \
    X(ADDRNOTAVAIL, 4, EADDRNOTAVAIL, IO)                                      \
    X(AFNOSUPPORT, 5, EAFNOSUPPORT, IO)                                        \
    X(AGAIN, 6, EAGAIN, WOULD_BLOCK)                                           \
    X(ALREADY, 7, EALREADY, ALREADY)                                           \
    X(BADF, 8, EBADF, BAD_DESCRIPTOR)                                          \
    X(BADMSG, 9, EBADMSG, IO)                                                  \
    X(BUSY, 10, EBUSY, BUSY)                                                   \
    X(CANCELED, 11, ECANCELED, IO)                                             \
    X(CHILD, 12, ECHILD, IO)                                                   \
    X(CONNABORTED, 13, ECONNABORTED, IO)                                       \
    X(CONNREFUSED, 14, ECONNREFUSED, IO)                                       \
    X(CONNRESET, 15, ECONNRESET, IO)                                           \
    X(DEADLK, 16, EDEADLK, DEADLOCK)                                           \
    X(DESTADDRREQ, 17, EDESTADDRREQ, IO)                                       \
    X(DOM, 18, EDOM, IO)                                                       \
    X(DQUOT, 19, EDQUOT, QUOTA)                                                \
    X(EXIST, 20, EEXIST, EXIST)                                                \
    X(FAULT, 21, EFAULT, IO)                                                   \
    X(FBIG, 22, EFBIG, FILE_TOO_LARGE)                                         \
    X(HOSTUNREACH, 23, EHOSTUNREACH, IO)                                       \
    X(IDRM, 24, EIDRM, IO)                                                     \
    X(ILSEQ, 25, EILSEQ, ILLEGAL_BYTE_SEQUENCE)                                \
    X(INPROGRESS, 26, EINPROGRESS, IN_PROGRESS)                                \
    X(INTR, 27, EINTR, INTERRUPTED)                                            \
    X(INVAL, 28, EINVAL, INVALID)                                              \
    X(IO, 29, EIO, IO)                                                         \
    X(ISCONN, 30, EISCONN, IO)                                                 \
    X(ISDIR, 31, EISDIR, IS_DIRECTORY)                                         \
    X(LOOP, 32, ELOOP, LOOP)                                                   \
    X(MFILE, 33, EMFILE, IO)                                                   \
    X(MLINK, 34, EMLINK, TOO_MANY_LINKS)                                       \
    X(MSGSIZE, 35, EMSGSIZE, MESSAGE_SIZE)                                     \
    X(MULTIHOP, 36, EMULTIHOP, IO)                                             \
    X(NAMETOOLONG, 37, ENAMETOOLONG, NAME_TOO_LONG)                            \
    X(NETDOWN, 38, ENETDOWN, IO)                                               \
    X(NETRESET, 39, ENETRESET, IO)                                             \
    X(NETUNREACH, 40, ENETUNREACH, IO)                                         \
    X(NFILE, 41, ENFILE, IO)                                                   \
    X(NOBUFS, 42, ENOBUFS, IO)                                                 \
    X(NODEV, 43, ENODEV, NO_DEVICE)                                            \
    X(NOENT, 44, ENOENT, NO_ENTRY)                                             \
    X(NOEXEC, 45, ENOEXEC, IO)                                                 \
    X(NOLCK, 46, ENOLCK, NO_LOCK)                                              \
    X(NOLINK, 47, ENOLINK, IO)                                                 \
    X(NOMEM, 48, ENOMEM, INSUFFICIENT_MEMORY)                                  \
    X(NOMSG, 49, ENOMSG, IO)                                                   \
    X(NOPROTOOPT, 50, ENOPROTOOPT, IO)                                         \
    X(NOSPC, 51, ENOSPC, INSUFFICIENT_SPACE)                                   \
    X(NOSYS, 52, ENOSYS, UNSUPPORTED)                                          \
    X(NOTCONN, 53, ENOTCONN, IO)                                               \
    X(NOTDIR, 54, ENOTDIR, NOT_DIRECTORY)                                      \
    X(NOTEMPTY, 55, ENOTEMPTY, NOT_EMPTY)                                      \
    X(NOTRECOVERABLE, 56, ENOTRECOVERABLE, NOT_RECOVERABLE)                    \
    X(NOTSOCK, 57, ENOTSOCK, IO)                                               \
    X(NOTSUP, 58, EOPNOTSUPP, UNSUPPORTED)                                     \
    X(NOTTY, 59, ENOTTY, NO_TTY)                                               \
    X(NXIO, 60, ENXIO, NO_SUCH_DEVICE)                                         \
    X(OVERFLOW, 61, EOVERFLOW, OVERFLOW)                                       \
    X(OWNERDEAD, 62, EOWNERDEAD, IO)                                           \
    X(PERM, 63, EPERM, NOT_PERMITTED)                                          \
    X(PIPE, 64, EPIPE, PIPE)                                                   \
    X(PROTO, 65, EPROTO, IO)                                                   \
    X(PROTONOSUPPORT, 66, EPROTONOSUPPORT, IO)                                 \
    X(PROTOTYPE, 67, EPROTOTYPE, IO)                                           \
    X(RANGE, 68, ERANGE, IO)                                                   \
    X(ROFS, 69, EROFS, READ_ONLY)                                              \
    X(SPIPE, 70, ESPIPE, INVALID_SEEK)                                         \
    X(SRCH, 71, ESRCH, IO)                                                     \
    X(STALE, 72, ESTALE, IO)                                                   \
    X(TIMEDOUT, 73, ETIMEDOUT, IO)                                             \
    X(TXTBSY, 74, ETXTBSY, TEXT_FILE_BUSY)                                     \
    X(XDEV, 75, EXDEV, CROSS_DEVICE)                                           \
    X(NOTCAPABLE, 76, 0, NOT_PERMITTED)

enum {
#define KX_ERRNO_ENUM(name, value, host, fs) KX_E##name = value,
    KX_ERRNOS(KX_ERRNO_ENUM)
#undef KX_ERRNO_ENUM
    KX_NERRNO
};

/* The cases of wasi:filesystem/types error-code, in WIT order. */
#define KX_FS_ERRORS(X)                                                        \
    X(ACCESS, "access") X(WOULD_BLOCK, "would-block")                          \
    X(ALREADY, "already") X(BAD_DESCRIPTOR, "bad-descriptor")                  \
    X(BUSY, "busy") X(DEADLOCK, "deadlock") X(QUOTA, "quota")                  \
    X(EXIST, "exist") X(FILE_TOO_LARGE, "file-too-large")                      \
    X(ILLEGAL_BYTE_SEQUENCE, "illegal-byte-sequence")                          \
    X(IN_PROGRESS, "in-progress") X(INTERRUPTED, "interrupted")                \
    X(INVALID, "invalid") X(IO, "io") X(IS_DIRECTORY, "is-directory")          \
    X(LOOP, "loop") X(TOO_MANY_LINKS, "too-many-links")                        \
    X(MESSAGE_SIZE, "message-size") X(NAME_TOO_LONG, "name-too-long")          \
    X(NO_DEVICE, "no-device") X(NO_ENTRY, "no-entry")                          \
    X(NO_LOCK, "no-lock") X(INSUFFICIENT_MEMORY, "insufficient-memory")        \
    X(INSUFFICIENT_SPACE, "insufficient-space")                                \
    X(NOT_DIRECTORY, "not-directory") X(NOT_EMPTY, "not-empty")                \
    X(NOT_RECOVERABLE, "not-recoverable") X(UNSUPPORTED, "unsupported")        \
    X(NO_TTY, "no-tty") X(NO_SUCH_DEVICE, "no-such-device")                    \
    X(OVERFLOW, "overflow") X(NOT_PERMITTED, "not-permitted")                  \
    X(PIPE, "pipe") X(READ_ONLY, "read-only")                                  \
    X(INVALID_SEEK, "invalid-seek") X(TEXT_FILE_BUSY, "text-file-busy")        \
    X(CROSS_DEVICE, "cross-device")

enum {
#define KX_FS_ENUM(name, str) KX_FS_##name,
    KX_FS_ERRORS(KX_FS_ENUM)
#undef KX_FS_ENUM
    KX_FS_NERROR
};

/* errno.c: host errno -> -KX_E... (unknown ones become -KX_EIO). */
int kx_errno_from_host(int host_errno);
/* WASI errno (positive) -> wasi:filesystem error-code (KX_FS_...). */
int kx_errno_to_fs(int wasi_errno);
/* Names: "noent", "no-entry". Static strings; "?" when out of range. */
const char *kx_errno_name(int wasi_errno);
const char *kx_fs_error_name(int fs_error);

/* WASI file types (preview1 filetype; 0.2 descriptor-type adds fifo). */
enum {
    KX_FT_UNKNOWN = 0,
    KX_FT_BLOCK = 1,
    KX_FT_CHAR = 2,
    KX_FT_DIR = 3,
    KX_FT_FILE = 4,
    KX_FT_SOCK_DGRAM = 5,
    KX_FT_SOCK_STREAM = 6,
    KX_FT_SYMLINK = 7,
};

/* fdflags, oflags, lookupflags, fstflags, whence (preview1 values; the
 * 0.2 bindings translate their flags to these). */
enum {
    KX_FDF_APPEND = 1,
    KX_FDF_DSYNC = 2,
    KX_FDF_NONBLOCK = 4,
    KX_FDF_RSYNC = 8,
    KX_FDF_SYNC = 16,
    KX_O_CREAT = 1,
    KX_O_DIRECTORY = 2,
    KX_O_EXCL = 4,
    KX_O_TRUNC = 8,
    KX_LOOKUP_FOLLOW = 1,
    KX_FST_ATIM = 1,
    KX_FST_ATIM_NOW = 2,
    KX_FST_MTIM = 4,
    KX_FST_MTIM_NOW = 8,
};

/* ---- descriptors (ctx.c) ---- */

typedef struct kx_dirstream kx_dirstream; /* filesystem.c */

/* An open host descriptor as the guest sees it. */
typedef struct kx_desc {
    int fd;              /* host fd; -1: null device (reads EOF) */
    bool owned;          /* closed when freed (not the host's stdio) */
    bool readonly;       /* opened from/beneath a read-only preopen */
    bool can_read, can_write;
    uint8_t filetype;    /* KX_FT_... */
    uint16_t fdflags;    /* KX_FDF_... */
    char *preopen;       /* guest name when this is a preopen, else NULL */
    kx_dirstream *dir;   /* readdir state, lazily made */
} kx_desc;

/* A rule of the network policy. */
typedef struct kx_net_rule {
    char *host; /* pattern: exact, "*", or "prefix*" / "*suffix" */
    char *port; /* "*" or a number */
} kx_net_rule;

struct kx_fiber;

struct kumo_wasi_ctx {
    char **argv;
    uint32_t argc, argcap;
    char **env; /* "NAME=value" */
    uint32_t nenv, envcap;
    kx_desc **fds; /* the preview1 descriptor table; NULL = free */
    uint32_t nfds, fdcap;
    kx_net_rule *rules;
    uint32_t nrules, rulecap;
    bool allow_lookup;
    bool exited;
    uint32_t exit_code;
    atomic_int cancel; /* set when the deadline passed: waits end */
    struct kx_waiter *waiting; /* the wait in progress (wait.c) */
    struct kx_p2 *p2;          /* WASI 0.2 objects (p2.h), lazily made */
};

/* Wrap host fd (owned or not) into a new descriptor; filetype from fstat.
 * Returns 0 or -KX_ENOMEM (the fd is closed when owned). */
int kx_desc_new(int fd, bool owned, kx_desc **out);
void kx_desc_free(kx_desc *d);

/* The preview1 table: lowest free slot, lookup, close. */
int kx_fd_insert(kumo_wasi_ctx *ctx, kx_desc *d, uint32_t *out);
kx_desc *kx_fd_get(const kumo_wasi_ctx *ctx, uint32_t fd);
int kx_fd_close(kumo_wasi_ctx *ctx, uint32_t fd);
int kx_fd_renumber(kumo_wasi_ctx *ctx, uint32_t from, uint32_t to);

/* ---- path resolution beneath a directory (path.c) ---- */

/*
 * Open path (bytes, not NUL-terminated) beneath directory fd dirfd with
 * open(2) flags oflags (O_NOFOLLOW on the last component when !follow).
 * `..` above dirfd, absolute paths and symlinks leading out give
 * -KX_ENOTCAPABLE. Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * and, where the kernel lacks it, walks the components itself with
 * O_NOFOLLOW. Returns a host fd (>= 0) or -KX_E...
 */
int kx_path_open(int dirfd, const char *path, size_t len, int oflags,
                 mode_t mode, bool follow);

/*
 * For operations on a name inside a directory (unlink, mkdir, rename,
 * symlink, lstat): open the parent of path beneath dirfd (O_PATH) and
 * copy the last component into base (NUL-terminated, trailing slashes
 * dropped; *trailing_slash tells whether there were any). A last
 * component of `..` or a path ending in `..` is refused when it leads
 * out. Returns the parent fd or -KX_E...
 */
int kx_path_parent(int dirfd, const char *path, size_t len, char *base,
                   size_t basecap, bool *trailing_slash);

/* Tests: force the component-walking fallback (no openat2). */
extern bool kx_path_force_walk;

/* ---- filesystem (filesystem.c) ---- */

typedef struct kx_stat {
    uint64_t dev, ino, nlink, size;
    uint64_t atim, mtim, ctim; /* ns since the epoch */
    uint8_t filetype;
} kx_stat;

int kx_fs_open(kx_desc *dir, const char *path, size_t len, uint32_t lookup,
               uint32_t oflags, uint16_t fdflags, bool read, bool write,
               kx_desc **out);
int kx_fs_stat(kx_desc *d, kx_stat *st);
int kx_fs_stat_at(kx_desc *dir, const char *path, size_t len, bool follow,
                  kx_stat *st);
int kx_fs_set_size(kx_desc *d, uint64_t size);
int kx_fs_set_times(kx_desc *d, uint64_t atim, uint64_t mtim,
                    uint32_t fstflags);
int kx_fs_set_times_at(kx_desc *dir, const char *path, size_t len,
                       bool follow, uint64_t atim, uint64_t mtim,
                       uint32_t fstflags);
int kx_fs_mkdir(kx_desc *dir, const char *path, size_t len);
int kx_fs_rmdir(kx_desc *dir, const char *path, size_t len);
int kx_fs_unlink(kx_desc *dir, const char *path, size_t len);
int kx_fs_rename(kx_desc *dir, const char *path, size_t len, kx_desc *ndir,
                 const char *npath, size_t nlen);
int kx_fs_link(kx_desc *dir, bool follow, const char *path, size_t len,
               kx_desc *ndir, const char *npath, size_t nlen);
int kx_fs_symlink(const char *target, size_t tlen, kx_desc *dir,
                  const char *path, size_t len);
/* Copies at most cap bytes of the link's target; *n gets the count. */
int kx_fs_readlink(kx_desc *dir, const char *path, size_t len, char *buf,
                   size_t cap, size_t *n);
int kx_fs_sync(kx_desc *d, bool data_only);
int kx_fs_advise(kx_desc *d, uint64_t off, uint64_t len, int advice);
int kx_fs_allocate(kx_desc *d, uint64_t off, uint64_t len);
int kx_fs_set_flags(kx_desc *d, uint16_t fdflags);

/* One directory entry; cookie is the position after it. */
typedef struct kx_dirent {
    uint64_t next, ino;
    uint8_t filetype;
    const char *name;
    uint32_t namelen;
} kx_dirent;

/* Call fn for the entries of directory d from position cookie (0 = start)
 * until fn returns non-zero or the end. Includes "." and "..". */
int kx_fs_readdir(kx_desc *d, uint64_t cookie,
                  int (*fn)(void *arg, const kx_dirent *e), void *arg);
void kx_dirstream_free(kx_dirstream *ds);

/* ---- streams: reads and writes that wait on the loop (io.c) ---- */

int kx_io_read(kumo_wasi_ctx *ctx, kx_desc *d, const struct iovec *iov,
               int n, size_t *done);
int kx_io_write(kumo_wasi_ctx *ctx, kx_desc *d, const struct iovec *iov,
                int n, size_t *done);
int kx_io_pread(kx_desc *d, const struct iovec *iov, int n, uint64_t off,
                size_t *done);
int kx_io_pwrite(kx_desc *d, const struct iovec *iov, int n, uint64_t off,
                 size_t *done);
/* whence: 0 set, 1 cur, 2 end. */
int kx_io_seek(kx_desc *d, int64_t off, int whence, uint64_t *newoff);
/* Wait until d can be read (or written) without blocking; 0 at once for
 * files, when d is nonblocking for the guest -KX_EAGAIN. */
int kx_io_ready(kumo_wasi_ctx *ctx, kx_desc *d, bool write);
/* Bytes readable now without waiting (files: size - offset), or 0. */
uint64_t kx_io_nread(kx_desc *d);
/* Whether reads/writes on d could wait (pipes, sockets, ttys). */
bool kx_io_pollable(const kx_desc *d);

/* ---- clocks, random (clocks.c, random.c) ---- */

enum {
    KX_CLOCK_REALTIME = 0,
    KX_CLOCK_MONOTONIC = 1,
    KX_CLOCK_PROCESS = 2,
    KX_CLOCK_THREAD = 3,
};
int kx_clock_time(uint32_t id, uint64_t *ns);
int kx_clock_res(uint32_t id, uint64_t *ns);
int kx_random_fill(void *buf, size_t n);

/* ---- waiting (wait.c) ----
 *
 * Wait until one of fds is ready (revents filled) or timeout_ns passes
 * (-1: no timeout). On a fiber this registers the fds and a timer with
 * the fiber's libuv loop and suspends the fiber, so the loop runs other
 * work meanwhile; elsewhere it blocks in ppoll. Returns the number of
 * ready fds (0: timed out; with no fds and timeout 0 on a fiber, after
 * one turn of the loop: sched_yield), -KX_ECANCELED when ctx->cancel was set
 * (the deadline passed), or -KX_E... */
int kx_wait(kumo_wasi_ctx *ctx, struct pollfd *fds, uint32_t nfds,
            int64_t timeout_ns);
/* Wake the waits of ctx's fiber after ctx->cancel was set. Call on the
 * loop's thread (e.g. from a uv_async callback). */
void kx_wait_cancel(kumo_wasi_ctx *ctx);
/* On a fiber: let the loop run one iteration (its pending I/O, due timers
 * and other fibers) and come back. 0, -KX_ECANCELED when ctx->cancel is
 * set, or -KX_ENOMEM. Off a fiber: 0 at once. */
int kx_wait_yield(kumo_wasi_ctx *ctx);

/* ---- WASI 0.2 (p2_table.c): free the context's 0.2 objects ---- */
void kx_p2_fini(kumo_wasi_ctx *ctx);

/* ---- network policy (ctx.c) ---- */
bool kx_pattern_match(const char *pattern, const char *s);

#endif
