/* test_wasi_path.c - the sandbox's path resolution (src/wasi/path.c) with
 * openat2 and with the component-walking fallback, the errno table, and
 * typed filesystem operations on a read-only preopen. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/wasi/wasi.h"
#include "unit.h"

static char root[64];

static void
mk(const char *rel, const char *content)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
}

static void
ln(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (symlink(target, p) < 0)
        perror("symlink");
}

static int
setup(void)
{
    char p[256];
    snprintf(root, sizeof root, "/tmp/kumo-wasi-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(p, sizeof p, "%s/sb", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/sb/sub", root);
    mkdir(p, 0777);
    mk("outside", "secret\n");
    mk("sb/file", "inside\n");
    mk("sb/sub/f2", "f2\n");
    ln("../outside", "sb/escape");
    ln("/etc/passwd", "sb/abs");
    ln("sub/f2", "sb/inner");
    ln("loop", "sb/loop");
    ln("..", "sb/updir");
    ln("sub", "sb/subdir");
    snprintf(p, sizeof p, "%s/sb", root);
    return open(p, O_RDONLY | O_DIRECTORY);
}

static void
teardown(int fd)
{
    char cmd[128];
    close(fd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "teardown failed\n");
}

static int
try_open(int dir, const char *path, bool follow)
{
    int fd = kx_path_open(dir, path, strlen(path), O_RDONLY, 0, follow);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return fd;
}

static void
matrix(int dir)
{
    KT_CHECK(try_open(dir, "file", true) == 0);
    KT_CHECK(try_open(dir, "sub/../file", true) == 0);
    KT_CHECK(try_open(dir, "sub/./f2", true) == 0);
    KT_CHECK(try_open(dir, "./sub//f2", true) == 0);
    KT_CHECK(try_open(dir, "inner", true) == 0);
    KT_CHECK(try_open(dir, "subdir/f2", true) == 0);
    KT_CHECK(try_open(dir, "sub/", true) == 0);
    KT_CHECK(try_open(dir, "../outside", true) == -KX_ENOTCAPABLE);
    KT_CHECK(try_open(dir, "sub/../../outside", true) == -KX_ENOTCAPABLE);
    KT_CHECK(try_open(dir, "..", true) == -KX_ENOTCAPABLE);
    KT_CHECK(kx_path_open(dir, "..", 2, O_RDONLY | O_DIRECTORY, 0666, true) ==
             -KX_ENOTCAPABLE);
    int d2 = kx_path_open(dir, "sub", 3, O_RDONLY | O_DIRECTORY, 0666, true);
    KT_CHECK(d2 >= 0);
    if (d2 >= 0)
        close(d2);
    KT_CHECK(try_open(dir, "/etc/passwd", true) == -KX_ENOTCAPABLE);
    KT_CHECK(try_open(dir, "escape", true) == -KX_ENOTCAPABLE);
    KT_CHECK(try_open(dir, "abs", true) == -KX_ENOTCAPABLE);
    KT_CHECK(try_open(dir, "updir/outside", true) == -KX_ENOTCAPABLE);
    KT_CHECK(try_open(dir, "loop", true) == -KX_ELOOP);
    KT_CHECK(try_open(dir, "escape", false) == -KX_ELOOP);
    KT_CHECK(try_open(dir, "missing", true) == -KX_ENOENT);
    KT_CHECK(try_open(dir, "file/x", true) == -KX_ENOTDIR);
    KT_CHECK(kx_path_open(dir, "a\0b", 3, O_RDONLY, 0, true) == -KX_EINVAL);
    KT_CHECK(kx_path_open(dir, "", 0, O_RDONLY, 0, true) == -KX_ENOENT);

    /* O_PATH without following gives the link itself. */
    int fd = kx_path_open(dir, "escape", 6, O_PATH, 0, false);
    struct stat st;
    KT_CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode));
    if (fd >= 0)
        close(fd);

    char base[256];
    bool slash;
    KT_CHECK(kx_path_parent(dir, "../x", 4, base, sizeof base, &slash) ==
             -KX_ENOTCAPABLE);
    KT_CHECK(kx_path_parent(dir, "..", 2, base, sizeof base, &slash) ==
             -KX_ENOTCAPABLE);
    KT_CHECK(kx_path_parent(dir, "escape/x", 8, base, sizeof base, &slash) ==
             -KX_ENOTCAPABLE);
    fd = kx_path_parent(dir, "sub/new/", 8, base, sizeof base, &slash);
    KT_CHECK(fd >= 0 && strcmp(base, "new") == 0 && slash);
    if (fd >= 0)
        close(fd);
}

KT_TEST(wasi_path_openat2)
{
    int dir = setup();
    KT_REQUIRE(dir >= 0);
    kx_path_force_walk = false;
    matrix(dir);
    teardown(dir);
}

KT_TEST(wasi_path_walk_fallback)
{
    int dir = setup();
    KT_REQUIRE(dir >= 0);
    kx_path_force_walk = true;
    matrix(dir);
    kx_path_force_walk = false;
    teardown(dir);
}

KT_TEST(wasi_errno_table)
{
    KT_CHECK(kx_errno_from_host(ENOENT) == -KX_ENOENT);
    KT_CHECK(kx_errno_from_host(EXDEV) == -KX_EXDEV);
    KT_CHECK(kx_errno_from_host(ENOTSUP) == -KX_ENOTSUP);
    KT_CHECK(kx_errno_from_host(EWOULDBLOCK) == -KX_EAGAIN);
    KT_CHECK(kx_errno_from_host(0) == -KX_EIO);
    KT_CHECK(kx_errno_from_host(99999) == -KX_EIO);
    KT_CHECK(KX_ENOTCAPABLE == 76 && KX_EROFS == 69 && KX_EBADF == 8);
    KT_CHECK(kx_errno_to_fs(KX_EROFS) == KX_FS_READ_ONLY);
    KT_CHECK(kx_errno_to_fs(KX_ENOTCAPABLE) == KX_FS_NOT_PERMITTED);
    KT_CHECK(kx_errno_to_fs(KX_ENOENT) == KX_FS_NO_ENTRY);
    KT_CHECK(KX_FS_CROSS_DEVICE == 36);
    KT_CHECK(strcmp(kx_fs_error_name(KX_FS_READ_ONLY), "read-only") == 0);
    KT_CHECK(strcmp(kx_errno_name(KX_ENOTCAPABLE), "NOTCAPABLE") == 0);
}

KT_TEST(wasi_readonly_preopen)
{
    kumo_wasi_ctx *ctx;
    kx_desc *d, *f;
    char p[256];
    int dir = setup();
    KT_REQUIRE(dir >= 0);
    close(dir);
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    snprintf(p, sizeof p, "%s/sb", root);
    KT_REQUIRE(kumo_wasi_ctx_preopen(ctx, p, "/ro", KUMO_WASI_DIR_READONLY) ==
               0);
    d = kx_fd_get(ctx, 3);
    KT_REQUIRE(d && d->preopen && d->readonly);
    KT_CHECK(kx_fs_open(d, "file", 4, 0, 0, 0, true, false, &f) == 0);
    if (f) {
        KT_CHECK(kx_fs_set_size(f, 0) == -KX_EROFS);
        kx_desc_free(f);
    }
    KT_CHECK(kx_fs_open(d, "file", 4, 0, 0, 0, true, true, &f) == -KX_EROFS);
    KT_CHECK(kx_fs_open(d, "n", 1, 0, KX_O_CREAT, 0, true, false, &f) ==
             -KX_EROFS);
    KT_CHECK(kx_fs_mkdir(d, "x", 1) == -KX_EROFS);
    KT_CHECK(kx_fs_unlink(d, "file", 4) == -KX_EROFS);
    KT_CHECK(kx_fs_rename(d, "file", 4, d, "g", 1) == -KX_EROFS);
    KT_CHECK(kx_fs_symlink("file", 4, d, "l", 1) == -KX_EROFS);
    kx_stat st;
    KT_CHECK(kx_fs_stat_at(d, "file", 4, true, &st) == 0 && st.size == 7 &&
             st.filetype == KX_FT_FILE);
    KT_CHECK(kx_fs_stat_at(d, "escape", 6, false, &st) == 0 &&
             st.filetype == KX_FT_SYMLINK);
    KT_CHECK(kx_fs_stat_at(d, "escape", 6, true, &st) == -KX_ENOTCAPABLE);
    kumo_wasi_ctx_free(ctx);
    teardown(open("/", O_RDONLY));
}

KT_TEST(wasi_net_policy)
{
    kumo_wasi_ctx *ctx;
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    KT_CHECK(!kumo_wasi_ctx_net_allowed(ctx, "127.0.0.1", 80));
    KT_CHECK(kumo_wasi_ctx_allow_net(ctx, "127.0.0.1:8080") == 0);
    KT_CHECK(kumo_wasi_ctx_allow_net(ctx, "*.example.com:*") == 0);
    KT_CHECK(kumo_wasi_ctx_allow_net(ctx, "nocolon") == KUMO_EINVAL);
    KT_CHECK(kumo_wasi_ctx_allow_net(ctx, "h:99999") == KUMO_EINVAL);
    KT_CHECK(kumo_wasi_ctx_net_allowed(ctx, "127.0.0.1", 8080));
    KT_CHECK(!kumo_wasi_ctx_net_allowed(ctx, "127.0.0.1", 8081));
    KT_CHECK(kumo_wasi_ctx_net_allowed(ctx, "api.example.com", 443));
    KT_CHECK(!kumo_wasi_ctx_net_allowed(ctx, "example.org", 443));
    KT_CHECK(kumo_wasi_ctx_env(ctx, "A", "1") == 0);
    KT_CHECK(kumo_wasi_ctx_env(ctx, "A", "2") == 0);
    KT_CHECK(ctx->nenv == 1 && strcmp(ctx->env[0], "A=2") == 0);
    KT_CHECK(kumo_wasi_ctx_env(ctx, "B=C", "1") == KUMO_EINVAL);
    kumo_wasi_ctx_free(ctx);
}
