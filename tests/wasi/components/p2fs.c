// p2fs.c - wasi:filesystem called directly, in a fresh preopen "/sb":
// open flags, streams (read/write/append, splice, write-zeroes), read and
// write at offsets, stat, set-size, set-times, directories and their
// streams, rename, hard and symbolic links, metadata hashes, advise and
// sync, and the error codes (exist, no-entry, not-directory,
// is-directory, not-empty, loop, bad-descriptor). Prints one line each.
#include "wasi2.h"

static h32 sb = -1;

#define S(x) x, (int32_t)strlen(x)

static void
find_preopen(void)
{
    ret r;
    get_directories(&r);
    uint32_t *l = (uint32_t *)(uintptr_t)R32(r, 0);
    for (uint32_t i = 0; i < R32(r, 4); i++)
        if (l[3 * i + 2] == 3 && !memcmp((char *)(uintptr_t)l[3 * i + 1],
                                         "/sb", 3))
            sb = (h32)l[3 * i];
    printf("preopens: %u, /sb found: %d\n", R32(r, 4), sb >= 0);
}

// open-at; prints "label: ok|code", returns the handle or -1
static h32
open_at(const char *label, h32 dir, int pf, const char *path, int of, int df)
{
    ret r;
    fd_open_at(dir, pf, S(path), of, df, &r);
    printf("%-36s %s\n", label, fs_res(&r, 4));
    return r.b[0] ? -1 : (h32)R32(r, 4);
}

#define T(label, call)                                                         \
    do {                                                                       \
        ret r_;                                                                \
        call;                                                                  \
        printf("%-36s %s\n", label, fs_res(&r_, 1));                           \
    } while (0)
#define RR (&r_)

static void
stat_line(const char *label, h32 fd, const char *path, int pf)
{
    ret r;
    if (path)
        fd_stat_at(fd, pf, S(path), &r);
    else
        fd_stat(fd, &r);
    if (r.b[0]) {
        printf("%-36s %s\n", label, fs_res(&r, 8));
        return;
    }
    printf("%-36s %s links=%llu size=%llu", label, fs_types[R8(r, 8)],
           (unsigned long long)R64(r, 16), (unsigned long long)R64(r, 24));
    if (R8(r, 32) && R64(r, 40) < 1500000000ull)
        printf(" atime=%llu.%u", (unsigned long long)R64(r, 40), R32(r, 48));
    if (R8(r, 56) && R64(r, 64) < 1500000000ull)
        printf(" mtime=%llu.%u", (unsigned long long)R64(r, 64), R32(r, 72));
    printf("\n");
}

static void
read_line(const char *label, h32 fd, uint64_t len, uint64_t off)
{
    ret r;
    fd_read(fd, (int64_t)len, (int64_t)off, &r);
    if (r.b[0]) {
        printf("%-36s %s\n", label, fs_res(&r, 4));
        return;
    }
    printf("%-36s \"", label);
    for (uint32_t i = 0; i < R32(r, 8); i++) {
        char c = RPTR(r, 4)[i];
        printf(c == '\n' ? "\\n" : c ? "%c" : "\\0", c);
    }
    printf("\" end=%d\n", R8(r, 12));
    free(RPTR(r, 4));
}

static const char *
stream_err(const ret *r, int off)
{
    if (!r->b[0])
        return "ok";
    if (r->b[off] == 1)
        return "closed";
    ret e;
    h32 err = (h32)R32(*r, off + 4);
    fs_error_code(err, &e);
    static char buf[64];
    err_debug(err, &e);
    snprintf(buf, sizeof buf, "failed (%s)",
             R32(e, 4) ? "has debug text" : "no debug text");
    ret c;
    fs_error_code(err, &c);
    if (c.b[0])
        snprintf(buf, sizeof buf, "failed: %s",
                 fs_errors[c.b[1] < 37 ? c.b[1] : 0]);
    err_drop(err);
    return buf;
}

static void
streams(void)
{
    ret r;
    h32 f = open_at("create a.txt (exclusive)", sb, 0, "a.txt",
                    OF_CREATE | OF_EXCLUSIVE, DF_READ | DF_WRITE);
    open_at("create a.txt again (exclusive)", sb, 0, "a.txt",
            OF_CREATE | OF_EXCLUSIVE, DF_READ | DF_WRITE);
    fd_write_via_stream(f, 0, &r);
    h32 out = (h32)R32(r, 4);
    out_blocking_write_flush(out, "hello world\n", 12, &r);
    printf("%-36s %s\n", "write-via-stream", stream_err(&r, 4));
    out_drop(out);
    stat_line("stat a.txt", f, NULL, 0);
    fd_read_via_stream(f, 6, &r);
    h32 in = (h32)R32(r, 4);
    in_blocking_read(in, 100, &r);
    printf("%-36s \"%.*s\"\n", "read-via-stream at 6", (int)R32(r, 8) - 1,
           RPTR(r, 4));
    in_blocking_read(in, 100, &r);
    printf("%-36s %s\n", "then", stream_err(&r, 4));
    in_drop(in);
    fd_append_via_stream(f, &r);
    out = (h32)R32(r, 4);
    out_blocking_write_flush(out, "more\n", 5, &r);
    out_blocking_write_zeroes_flush(out, 2, &r);
    printf("%-36s %s\n", "append-via-stream + zeroes", stream_err(&r, 4));
    out_drop(out);
    fd_write(f, "HELLO", 5, 0, &r);
    printf("%-36s %s %llu\n", "write at 0", fs_res(&r, 8),
           (unsigned long long)R64(r, 8));
    read_line("read 100 at 0", f, 100, 0);
    read_line("read 3 at 6", f, 3, 6);
    read_line("read at 1000", f, 10, 1000);
    T("set-size 5", fd_set_size(f, 5, RR));
    T("set-times (timestamps)",
      fd_set_times(f, 2, 1000000000, 5, 2, 1200000000, 7, RR));
    stat_line("stat a.txt", f, NULL, 0);
    T("set-times-at (no-change, ts)",
      fd_set_times_at(sb, 0, S("a.txt"), 0, 0, 0, 2, 1300000000, 0, RR));
    stat_line("stat-at a.txt", sb, "a.txt", 0);
    T("advise sequential", fd_advise(f, 0, 5, 1, RR));
    T("sync-data", fd_sync_data(f, RR));
    T("sync", fd_sync(f, RR));
    fd_get_type(f, &r);
    printf("%-36s %s\n", "get-type a.txt", fs_types[R8(r, 1)]);
    fd_get_flags(f, &r);
    printf("%-36s %u\n", "get-flags a.txt", R8(r, 1));
    // copy a.txt to copy.txt by splicing file streams
    h32 c = open_at("create copy.txt", sb, 0, "copy.txt", OF_CREATE,
                    DF_READ | DF_WRITE);
    fd_read_via_stream(f, 0, &r);
    in = (h32)R32(r, 4);
    fd_write_via_stream(c, 0, &r);
    out = (h32)R32(r, 4);
    uint64_t total = 0;
    for (;;) {
        out_blocking_splice(out, in, 2, &r);
        if (r.b[0])
            break;
        total += R64(r, 8);
    }
    printf("%-36s %llu then %s\n", "splice a.txt -> copy.txt",
           (unsigned long long)total, stream_err(&r, 8));
    out_drop(out);
    in_drop(in);
    read_line("read copy.txt", c, 100, 0);
    fd_drop(c);
    fd_drop(f);
}

static void
list_dir(const char *label, h32 dir)
{
    ret r;
    fd_read_directory(dir, &r);
    if (r.b[0]) {
        printf("%-36s %s\n", label, fs_res(&r, 4));
        return;
    }
    h32 ds = (h32)R32(r, 4);
    char names[16][64];
    int n = 0;
    for (;;) {
        dir_read_entry(ds, &r);
        if (r.b[0] || !R8(r, 4) || n == 16)
            break;
        snprintf(names[n++], 64, "%.*s:%s", (int)R32(r, 16), RPTR(r, 12),
                 fs_types[R8(r, 8)]);
        free(RPTR(r, 12));
    }
    dir_drop(ds);
    // sort: the kernel's order is not ours to test
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[64];
            memcpy(t, names[j], 64);
            memcpy(names[j], names[j - 1], 64);
            memcpy(names[j - 1], t, 64);
        }
    printf("%-36s", label);
    for (int i = 0; i < n; i++)
        printf(" %s", names[i]);
    printf("\n");
}

static void
directories(void)
{
    T("mkdir d", fd_create_directory_at(sb, S("d"), RR));
    T("mkdir d again", fd_create_directory_at(sb, S("d"), RR));
    T("mkdir d/e", fd_create_directory_at(sb, S("d/e"), RR));
    T("mkdir missing/x", fd_create_directory_at(sb, S("missing/x"), RR));
    h32 d = open_at("open d (directory)", sb, 0, "d", OF_DIRECTORY,
                    DF_READ | DF_MUTATE_DIR);
    h32 dr = open_at("open d (no mutate-directory)", sb, 0, "d", OF_DIRECTORY,
                     DF_READ);
    T("rename into it", fd_rename_at(sb, S("copy.txt"), dr, S("c"), RR));
    T("mkdir in it", fd_create_directory_at(dr, S("x"), RR));
    fd_drop(dr);
    T("rename a.txt -> d/b.txt", fd_rename_at(sb, S("a.txt"), d, S("b.txt"), RR));
    stat_line("stat-at a.txt", sb, "a.txt", 0);
    stat_line("stat-at d/b.txt", sb, "d/b.txt", 0);
    T("link d/b.txt -> hard", fd_link_at(sb, 0, S("d/b.txt"), sb, S("hard"), RR));
    T("link to existing name", fd_link_at(sb, 0, S("hard"), sb, S("copy.txt"), RR));
    stat_line("stat-at hard", sb, "hard", 0);
    T("symlink sym -> d/b.txt", fd_symlink_at(sb, S("d/b.txt"), S("sym"), RR));
    T("symlink loop1 -> loop2", fd_symlink_at(sb, S("loop2"), S("loop1"), RR));
    T("symlink loop2 -> loop1", fd_symlink_at(sb, S("loop1"), S("loop2"), RR));
    ret r;
    fd_readlink_at(sb, S("sym"), &r);
    printf("%-36s %s \"%.*s\"\n", "readlink sym", fs_res(&r, 4),
           r.b[0] ? 0 : (int)R32(r, 8), r.b[0] ? "" : RPTR(r, 4));
    fd_readlink_at(sb, S("hard"), &r);
    printf("%-36s %s\n", "readlink hard", fs_res(&r, 4));
    stat_line("stat-at sym (nofollow)", sb, "sym", 0);
    stat_line("stat-at sym (follow)", sb, "sym", PF_FOLLOW);
    stat_line("stat-at loop1 (follow)", sb, "loop1", PF_FOLLOW);
    open_at("open sym (nofollow)", sb, 0, "sym", 0, DF_READ);
    h32 s = open_at("open sym (follow)", sb, PF_FOLLOW, "sym", 0, DF_READ);
    h32 h = open_at("open hard", sb, 0, "hard", 0, DF_READ);
    printf("%-36s %d\n", "is-same-object(sym, hard)", fd_is_same_object(s, h));
    printf("%-36s %d\n", "is-same-object(sym, d)", fd_is_same_object(s, d));
    ret m1, m2, m3;
    fd_metadata_hash(s, &m1);
    fd_metadata_hash_at(sb, 0, S("hard"), &m2);
    fd_metadata_hash(d, &m3);
    printf("%-36s %s %s, same=%d, differs from d=%d\n",
           "metadata-hash sym / hard-at", fs_res(&m1, 8), fs_res(&m2, 8),
           R64(m1, 8) == R64(m2, 8) && R64(m1, 16) == R64(m2, 16),
           R64(m1, 8) != R64(m3, 8) || R64(m1, 16) != R64(m3, 16));
    // writes through a descriptor opened for reading only
    fd_write(h, "x", 1, 0, &r);
    printf("%-36s %s\n", "write on read-only descriptor", fs_res(&r, 8));
    fd_write_via_stream(h, 0, &r);
    printf("%-36s %s\n", "write-via-stream, read-only", fs_res(&r, 4));
    if (!r.b[0]) {
        h32 out = (h32)R32(r, 4);
        out_blocking_write_flush(out, "x", 1, &r);
        printf("%-36s %s\n", "stream write, read-only descriptor",
               stream_err(&r, 4));
        out_drop(out);
    }
    fd_read_via_stream(h, 0, &r);
    h32 in = (h32)R32(r, 4);
    fd_drop(h); // the stream keeps the file open
    in_blocking_read(in, 3, &r);
    printf("%-36s %s \"%.*s\"\n", "read stream after descriptor drop",
           stream_err(&r, 4), (int)R32(r, 8), RPTR(r, 4));
    in_drop(in);
    fd_drop(s);
    fd_read_via_stream(d, 0, &r); // a directory: reading it fails
    printf("%-36s %s\n", "read-via-stream of a directory", fs_res(&r, 4));
    if (!r.b[0]) {
        in = (h32)R32(r, 4);
        in_blocking_read(in, 3, &r);
        printf("%-36s %s\n", "read of directory stream",
               stream_err(&r, 4));
        in_drop(in);
    }
    list_dir("read-directory /sb", sb);
    list_dir("read-directory d", d);
    open_at("open missing", sb, 0, "missing", 0, DF_READ);
    open_at("open hard/x", sb, 0, "hard/x", 0, DF_READ);
    open_at("open hard as directory", sb, 0, "hard", OF_DIRECTORY, DF_READ);
    open_at("open d for writing", sb, 0, "d", 0, DF_READ | DF_WRITE);
    open_at("open loop1 (follow)", sb, PF_FOLLOW, "loop1", 0, DF_READ);
    T("rmdir d (not empty)", fd_remove_directory_at(sb, S("d"), RR));
    T("rmdir hard (a file)", fd_remove_directory_at(sb, S("hard"), RR));
    T("unlink d (a directory)", fd_unlink_file_at(sb, S("d"), RR));
    T("unlink missing", fd_unlink_file_at(sb, S("missing"), RR));
    T("rename d -> hard (dir over file)", fd_rename_at(sb, S("d"), sb, S("hard"), RR));
    T("rmdir d/e", fd_remove_directory_at(sb, S("d/e"), RR));
    T("unlink sym", fd_unlink_file_at(sb, S("sym"), RR));
    stat_line("stat-at d/b.txt after unlink sym", sb, "d/b.txt", 0);
    fd_drop(d);
    ret x;
    fflush(stdout);
    fd_stat(d, &x); // a dropped handle: the canonical ABI traps
    printf("not reached\n");
}

int
guest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    find_preopen();
    if (sb < 0)
        return 1;
    streams();
    directories();
    return 0;
}
