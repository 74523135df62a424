/* path.c - resolving guest paths beneath a directory descriptor.
 *
 * The sandbox rests here: every path a guest names is resolved relative
 * to a preopened directory and may never leave it, whether by `..`, by an
 * absolute path or by a symlink (absolute, or relative with enough `..`).
 * The kernel does this for us with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS); where openat2 is missing (Linux < 5.6, or
 * filtered by seccomp) we walk the path one component at a time with
 * O_NOFOLLOW, keeping a stack of the directories entered, expanding
 * symlinks ourselves and refusing any step above the starting directory.
 * Both report an escape as ENOTCAPABLE. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../base/base.h"
#include "wasi.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define KX_PATH_MAX 4096
#define MAX_LINKS 40
#define MAX_DEPTH 256

bool kx_path_force_walk;
static int no_openat2; /* set once the kernel said ENOSYS */

/* Copy guest bytes to a C string. Interior NULs are invalid; absolute
 * paths never resolve beneath anything. */
static int
cstr(const char *path, size_t len, char *buf)
{
    if (len == 0)
        return -KX_ENOENT;
    if (len >= KX_PATH_MAX)
        return -KX_ENAMETOOLONG;
    if (memchr(path, 0, len))
        return -KX_EINVAL;
    memcpy(buf, path, len);
    buf[len] = 0;
    if (buf[0] == '/')
        return -KX_ENOTCAPABLE;
    return 0;
}

static int
via_openat2(int dirfd, const char *p, int oflags, mode_t mode, bool follow)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(oflags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if ((oflags & O_CREAT) || (oflags & O_TMPFILE) == O_TMPFILE)
        how.mode = mode;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0; tries < 8; tries++) {
        long fd = syscall(SYS_openat2, dirfd, p, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno == EAGAIN || errno == EINTR)
            continue; /* a concurrent rename; the kernel asks to retry */
        if (errno == ENOSYS)
            return -KX_ENOSYS;
        if (errno == EXDEV)
            return -KX_ENOTCAPABLE;
        return kx_errno_from_host(errno);
    }
    return -KX_EAGAIN;
}

/* ---- the fallback walk ---- */

typedef struct walk {
    int stack[MAX_DEPTH]; /* stack[0] is the start (not ours) */
    int depth;
    int links;
    char buf[2 * KX_PATH_MAX]; /* remaining path */
} walk;

static int
top(const walk *w)
{
    return w->stack[w->depth];
}

static void
walk_fini(walk *w)
{
    while (w->depth > 0)
        close(w->stack[w->depth--]);
}

/* Replace the consumed part with the target of link name in the current
 * directory, followed by rest. */
static int
expand(walk *w, int at, const char *name, const char *rest)
{
    char target[KX_PATH_MAX];
    ssize_t n;
    size_t rl = strlen(rest);

    if (++w->links > MAX_LINKS)
        return -KX_ELOOP;
    n = readlinkat(at, name, target, sizeof target - 1);
    if (n < 0)
        return kx_errno_from_host(errno);
    if (n == 0)
        return -KX_ENOENT;
    if (target[0] == '/')
        return -KX_ENOTCAPABLE;
    if ((size_t)n + 1 + rl + 1 > sizeof w->buf)
        return -KX_ENAMETOOLONG;
    memmove(w->buf + n + 1, rest, rl + 1);
    memcpy(w->buf, target, (size_t)n);
    w->buf[n] = rl ? '/' : 0;
    return 0;
}

/* One step: comp is the next component, rest what follows (after the
 * slash), last whether nothing but slashes follows. Returns 1 to go on,
 * a host fd when the final open succeeded, or -KX_E... */
static int
step(walk *w, char *comp, char *rest, bool last, bool dir_wanted,
     int oflags, mode_t mode, bool follow, int *out)
{
    if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
        if (comp[1] == '.') {
            if (w->depth == 0)
                return -KX_ENOTCAPABLE;
            close(w->stack[w->depth--]);
        }
        if (!last)
            return 1;
        *out = openat(top(w), ".", oflags | O_CLOEXEC, mode);
        return *out < 0 ? kx_errno_from_host(errno) : 0;
    }
    if (last) {
        int fl = oflags | O_CLOEXEC | O_NOFOLLOW;
        if (dir_wanted && !(oflags & O_CREAT))
            fl |= O_DIRECTORY;
        int fd = openat(top(w), comp, fl, mode);
        struct stat st;
        if (fd >= 0 && (!(oflags & O_PATH) || !follow ||
                        fstat(fd, &st) < 0 || !S_ISLNK(st.st_mode))) {
            *out = fd;
            return 0;
        }
        if (fd >= 0)
            close(fd); /* an O_PATH open of a symlink we must follow */
        else if (errno != ELOOP && errno != ENOTDIR)
            return kx_errno_from_host(errno);
        int err = fd >= 0 ? ELOOP : errno;
        if (!follow && !dir_wanted)
            return kx_errno_from_host(err);
        /* ELOOP/ENOTDIR: a symlink (to follow) or a real error */
        char tmp[8];
        if (readlinkat(top(w), comp, tmp, sizeof tmp) < 0)
            return kx_errno_from_host(err);
        int rc = expand(w, top(w), comp, dir_wanted ? "." : "");
        return rc < 0 ? rc : 1;
    }
    int fd = openat(top(w), comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return kx_errno_from_host(errno);
    if (fstat(fd, &st) < 0) {
        close(fd);
        return kx_errno_from_host(errno);
    }
    if (S_ISLNK(st.st_mode)) {
        close(fd);
        int rc = expand(w, top(w), comp, rest);
        return rc < 0 ? rc : 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        close(fd);
        return -KX_ENOTDIR;
    }
    if (w->depth + 1 >= MAX_DEPTH) {
        close(fd);
        return -KX_ENAMETOOLONG;
    }
    w->stack[++w->depth] = fd;
    return 1;
}

static int
via_walk(int dirfd, const char *p, int oflags, mode_t mode, bool follow)
{
    walk *w = kb_malloc(sizeof *w);
    int rc, fd = -1;

    if (!w)
        return -KX_ENOMEM;
    w->stack[0] = dirfd;
    w->depth = 0;
    w->links = 0;
    strcpy(w->buf, p);
    for (;;) {
        char *s = w->buf, *comp, *rest;
        bool last, dir_wanted;
        while (*s == '/')
            s++;
        if (!*s) { /* "" after expanding a link to "." etc. */
            rc = step(w, (char[]){'.', 0}, s, true, true, oflags, mode,
                      follow, &fd);
            break;
        }
        comp = s;
        while (*s && *s != '/')
            s++;
        rest = s;
        if (*s) {
            *s = 0;
            rest = s + 1;
        }
        s = rest;
        while (*s == '/')
            s++;
        last = *s == 0;
        dir_wanted = last && rest != comp + strlen(comp);
        /* comp/rest live in w->buf, which expand rewrites: copy them. */
        char cbuf[256 + 1];
        if (strlen(comp) > 255) {
            rc = -KX_ENAMETOOLONG;
            break;
        }
        strcpy(cbuf, comp);
        memmove(w->buf, s, strlen(s) + 1);
        rc = step(w, cbuf, w->buf, last, dir_wanted, oflags, mode, follow,
                  &fd);
        if (rc <= 0)
            break;
    }
    walk_fini(w);
    kb_free(w);
    return rc < 0 ? rc : fd;
}

int
kx_path_open(int dirfd, const char *path, size_t len, int oflags,
             mode_t mode, bool follow)
{
    char p[KX_PATH_MAX];
    int rc = cstr(path, len, p);
    if (rc < 0)
        return rc;
    if (!kx_path_force_walk && !no_openat2) {
        rc = via_openat2(dirfd, p, oflags, mode, follow);
        if (rc != -KX_ENOSYS)
            return rc;
        no_openat2 = 1;
    }
    return via_walk(dirfd, p, oflags, mode, follow);
}

int
kx_path_parent(int dirfd, const char *path, size_t len, char *base,
               size_t basecap, bool *trailing_slash)
{
    char p[KX_PATH_MAX];
    char *slash, *b;
    size_t n;
    int rc = cstr(path, len, p);

    if (rc < 0)
        return rc;
    n = strlen(p);
    *trailing_slash = false;
    while (n > 1 && p[n - 1] == '/') {
        p[--n] = 0;
        *trailing_slash = true;
    }
    slash = strrchr(p, '/');
    b = slash ? slash + 1 : p;
    if (strlen(b) + 1 > basecap)
        return -KX_ENAMETOOLONG;
    strcpy(base, b);
    if (strcmp(b, "..") == 0) {
        /* Whatever the operation, the name must not lead out. */
        int fd = kx_path_open(dirfd, p, n, O_PATH | O_DIRECTORY, 0, true);
        if (fd < 0)
            return fd;
        close(fd);
    }
    if (!slash)
        return kx_path_open(dirfd, ".", 1, O_PATH | O_DIRECTORY, 0, true);
    *slash = 0;
    return kx_path_open(dirfd, p, strlen(p), O_PATH | O_DIRECTORY, 0, true);
}
