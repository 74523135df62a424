// sandbox.c - the sandbox matrix, with raw wasi_snapshot_preview1 calls so
// that the host's own answer is seen (wasi-libc would refuse some paths
// before asking). Run with --dir SB::/sb --dir RO::/ro:ro where SB has
// a file `f`, symlinks `escape -> ../outside`, `abs -> /etc/passwd`,
// `updir -> ..`, `loopa -> loopb`, `loopb -> loopa`, and RO has a file
// `r`. Prints one line per attempt.
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

/* proc_raise left wasi-libc; import it directly. */
__attribute__((import_module("wasi_snapshot_preview1"),
               import_name("proc_raise"))) int raw_proc_raise(int sig);

static const char *
name(__wasi_errno_t e)
{
    switch (e) {
    case __WASI_ERRNO_SUCCESS: return "success";
    case __WASI_ERRNO_ACCES: return "EACCES";
    case __WASI_ERRNO_BADF: return "EBADF";
    case __WASI_ERRNO_EXIST: return "EEXIST";
    case __WASI_ERRNO_FAULT: return "EFAULT";
    case __WASI_ERRNO_INVAL: return "EINVAL";
    case __WASI_ERRNO_ISDIR: return "EISDIR";
    case __WASI_ERRNO_LOOP: return "ELOOP";
    case __WASI_ERRNO_NOENT: return "ENOENT";
    case __WASI_ERRNO_NOSYS: return "ENOSYS";
    case __WASI_ERRNO_NOTDIR: return "ENOTDIR";
    case __WASI_ERRNO_NOTSOCK: return "ENOTSOCK";
    case __WASI_ERRNO_PERM: return "EPERM";
    case __WASI_ERRNO_ROFS: return "EROFS";
    case __WASI_ERRNO_NOTCAPABLE: return "ENOTCAPABLE";
    default: return "other";
    }
}

static __wasi_fd_t
preopen(const char *want)
{
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        char buf[64];
        if (__wasi_fd_prestat_get(fd, &ps) != 0)
            continue;
        if (ps.u.dir.pr_name_len >= sizeof buf)
            continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf,
                                       ps.u.dir.pr_name_len) != 0)
            continue;
        buf[ps.u.dir.pr_name_len] = 0;
        if (strcmp(buf, want) == 0)
            return fd;
    }
    return (__wasi_fd_t)-1;
}

#define R_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK)
#define R_WRITE (__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK)

static __wasi_errno_t
op(__wasi_fd_t dir, const char *path, __wasi_oflags_t of,
   __wasi_rights_t rights, int follow)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(
        dir, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, of,
        rights, 0, 0, &fd);
    if (e == 0)
        (void)__wasi_fd_close(fd);
    return e;
}

#define T(label, expr) printf("%-40s %s\n", label, name(expr))

int
main(void)
{
    __wasi_fd_t sb = preopen("/sb"), ro = preopen("/ro");
    __wasi_filestat_t st;
    if (sb == (__wasi_fd_t)-1) {
        /* No preopen at all: libc cannot open anything. */
        FILE *f = fopen("/etc/passwd", "r");
        printf("no preopen: fopen /etc/passwd: %s\n", f ? "opened" : "refused");
        f = fopen("x", "w");
        printf("no preopen: fopen x: %s\n", f ? "opened" : "refused");
        return 0;
    }
    T("open f", op(sb, "f", 0, R_READ, 1));
    T("open sub/../f", op(sb, "sub/../f", 0, R_READ, 1));
    T("open ../outside", op(sb, "../outside", 0, R_READ, 1));
    T("open sub/../../outside", op(sb, "sub/../../outside", 0, R_READ, 1));
    T("open ..", op(sb, "..", __WASI_OFLAGS_DIRECTORY, R_READ, 1));
    T("open /etc/passwd (absolute)", op(sb, "/etc/passwd", 0, R_READ, 1));
    T("open escape (symlink out)", op(sb, "escape", 0, R_READ, 1));
    T("open abs (symlink absolute)", op(sb, "abs", 0, R_READ, 1));
    T("open updir/outside", op(sb, "updir/outside", 0, R_READ, 1));
    T("open escape nofollow", op(sb, "escape", 0, R_READ, 0));
    T("open loopa (symlink loop)", op(sb, "loopa", 0, R_READ, 1));
    T("open loopa/x (through a loop)", op(sb, "loopa/x", 0, R_READ, 1));
    T("create ../new", op(sb, "../new", __WASI_OFLAGS_CREAT, R_WRITE, 1));
    T("create escape/new", op(sb, "updir/new", __WASI_OFLAGS_CREAT, R_WRITE, 1));
    T("stat escape (follow)",
      __wasi_path_filestat_get(sb, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "escape", &st));
    T("stat escape (nofollow)", __wasi_path_filestat_get(sb, 0, "escape", &st));
    T("stat ../outside", __wasi_path_filestat_get(sb, 0, "../outside", &st));
    T("mkdir ../d", __wasi_path_create_directory(sb, "../d"));
    T("mkdir updir/d", __wasi_path_create_directory(sb, "updir/d"));
    T("unlink ../outside", __wasi_path_unlink_file(sb, "../outside"));
    T("rename f -> ../f", __wasi_path_rename(sb, "f", sb, "../f"));
    T("link f -> ../g", __wasi_path_link(sb, 0, "f", sb, "../g"));
    T("link escape (follow) -> hl",
      __wasi_path_link(sb, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "escape", sb,
                       "hl"));
    T("set-times escape (follow)",
      __wasi_path_filestat_set_times(sb, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                     "escape", 0, 0,
                                     __WASI_FSTFLAGS_ATIM_NOW));
    T("symlink /etc/passwd", __wasi_path_symlink("/etc/passwd", sb, "s1"));
    T("symlink ../x (relative, allowed)", __wasi_path_symlink("../x", sb, "s2"));
    T("open s2 (dangling, out)", op(sb, "s2", __WASI_OFLAGS_CREAT, R_WRITE, 1));
    uint8_t lb[64];
    __wasi_size_t ln;
    T("readlink escape", __wasi_path_readlink(sb, "escape", lb, sizeof lb, &ln));
    T("ro: open r for reading", op(ro, "r", 0, R_READ, 1));
    T("ro: open r for writing", op(ro, "r", 0, R_WRITE, 1));
    T("ro: create n", op(ro, "n", __WASI_OFLAGS_CREAT, R_WRITE, 1));
    T("ro: truncate r", op(ro, "r", __WASI_OFLAGS_TRUNC, R_READ, 1));
    T("ro: mkdir d", __wasi_path_create_directory(ro, "d"));
    T("ro: unlink r", __wasi_path_unlink_file(ro, "r"));
    T("ro: rename r -> s", __wasi_path_rename(ro, "r", ro, "s"));
    T("ro: rename into sb", __wasi_path_rename(ro, "r", sb, "moved"));
    T("ro: symlink", __wasi_path_symlink("r", ro, "l"));
    T("ro: set-times r",
      __wasi_path_filestat_set_times(ro, 0, "r", 0, 0,
                                     __WASI_FSTFLAGS_MTIM_NOW));
    T("ro: link sb/f -> l", __wasi_path_link(sb, 0, "f", ro, "l"));
    T("ro: ../ escape", op(ro, "../sb/f", 0, R_READ, 1));
    T("bad fd", op(99, "f", 0, R_READ, 1));
    T("not a dir", op(1, "f", 0, R_READ, 1));
    /* Bad guest pointers are errors, never host crashes. */
    __wasi_ciovec_t bad = {(const uint8_t *)0xfffffff0u, 64};
    __wasi_size_t nw;
    T("fd_write bad buffer", __wasi_fd_write(1, &bad, 1, &nw));
    T("fd_write bad iovec array",
      __wasi_fd_write(1, (const __wasi_ciovec_t *)0xfffffffcu, 1, &nw));
    T("args_get bad pointer",
      __wasi_args_get((uint8_t **)0xfffffff0u, (uint8_t *)0xfffffff0u));
    T("random_get bad pointer", __wasi_random_get((uint8_t *)0xffffff00u, 4096));
    T("proc_raise", (__wasi_errno_t)raw_proc_raise(6));
    __wasi_fd_t nfd;
    T("sock_accept on a file", __wasi_sock_accept(sb, 0, &nfd));
    T("sock_shutdown bad fd", __wasi_sock_shutdown(99, __WASI_SDFLAGS_WR));
    printf("sandbox done\n");
    return 0;
}
