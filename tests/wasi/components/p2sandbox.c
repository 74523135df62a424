// p2sandbox.c - the sandbox matrix through wasi:filesystem (the
// component form of tests/wasi/sandbox.c). Run with --dir SB::/sb
// --dir RO::/ro:ro where SB has a file `f`, a directory `sub`, symlinks
// `escape -> ../outside`, `abs -> /etc/passwd`, `updir -> ..`,
// `loopa -> loopb`, `loopb -> loopa`, and RO a file `r`. Every row is an
// attempt with the error code it must get; a row printing "WRONG" fails
// the run (exit 1). Without preopens it only reports that it has none.
#include "wasi2.h"

enum op {
    OPEN, STAT, MKDIR, UNLINK, RMDIR, RENAME, LINK, SYMLINK, READLINK,
    TIMES_AT, HASH_AT, TIMES, SET_SIZE, WRITE_STREAM
};
enum { SB, RO };

typedef struct row {
    const char *label;
    enum op op;
    int dir;
    const char *path;
    int pf, of, df; // path flags, open flags, descriptor flags
    int dir2;
    const char *path2;
    const char *want;
} row;

#define F PF_FOLLOW
#define RD DF_READ
#define WR (DF_READ | DF_WRITE)
static const row rows[] = {
    {"open f", OPEN, SB, "f", F, 0, RD, 0, 0, "ok"},
    {"open sub/../f", OPEN, SB, "sub/../f", F, 0, RD, 0, 0, "ok"},
    {"open ../outside", OPEN, SB, "../outside", F, 0, RD, 0, 0, "not-permitted"},
    {"open sub/../../outside", OPEN, SB, "sub/../../outside", F, 0, RD, 0, 0, "not-permitted"},
    {"open .. (directory)", OPEN, SB, "..", F, OF_DIRECTORY, RD, 0, 0, "not-permitted"},
    {"open /etc/passwd (absolute)", OPEN, SB, "/etc/passwd", F, 0, RD, 0, 0, "not-permitted"},
    {"open escape (symlink out)", OPEN, SB, "escape", F, 0, RD, 0, 0, "not-permitted"},
    {"open abs (symlink absolute)", OPEN, SB, "abs", F, 0, RD, 0, 0, "not-permitted"},
    {"open updir/outside", OPEN, SB, "updir/outside", F, 0, RD, 0, 0, "not-permitted"},
    {"open escape (nofollow)", OPEN, SB, "escape", 0, 0, RD, 0, 0, "loop"},
    {"open loopa (symlink loop)", OPEN, SB, "loopa", F, 0, RD, 0, 0, "loop"},
    {"open loopa/x (through a loop)", OPEN, SB, "loopa/x", F, 0, RD, 0, 0, "loop"},
    {"create ../new", OPEN, SB, "../new", F, OF_CREATE, WR, 0, 0, "not-permitted"},
    {"create updir/new", OPEN, SB, "updir/new", F, OF_CREATE, WR, 0, 0, "not-permitted"},
    {"stat-at escape (follow)", STAT, SB, "escape", F, 0, 0, 0, 0, "not-permitted"},
    {"stat-at escape (nofollow)", STAT, SB, "escape", 0, 0, 0, 0, 0, "ok"},
    {"stat-at ../outside", STAT, SB, "../outside", 0, 0, 0, 0, 0, "not-permitted"},
    {"stat-at /etc", STAT, SB, "/etc", 0, 0, 0, 0, 0, "not-permitted"},
    {"mkdir ../d", MKDIR, SB, "../d", 0, 0, 0, 0, 0, "not-permitted"},
    {"mkdir updir/d", MKDIR, SB, "updir/d", 0, 0, 0, 0, 0, "not-permitted"},
    {"unlink ../outside", UNLINK, SB, "../outside", 0, 0, 0, 0, 0, "not-permitted"},
    {"rmdir ..", RMDIR, SB, "..", 0, 0, 0, 0, 0, "not-permitted"},
    {"rename f -> ../f", RENAME, SB, "f", 0, 0, 0, SB, "../f", "not-permitted"},
    {"rename ../outside -> stolen", RENAME, SB, "../outside", 0, 0, 0, SB, "stolen", "not-permitted"},
    {"link f -> ../g", LINK, SB, "f", 0, 0, 0, SB, "../g", "not-permitted"},
    {"link ../outside -> hl", LINK, SB, "../outside", 0, 0, 0, SB, "hl", "not-permitted"},
    {"link escape (follow) -> hl", LINK, SB, "escape", F, 0, 0, SB, "hl", "not-permitted"},
    {"symlink s1 -> /etc/passwd", SYMLINK, SB, "/etc/passwd", 0, 0, 0, SB, "s1", "not-permitted"},
    {"symlink s2 -> ../x (allowed)", SYMLINK, SB, "../x", 0, 0, 0, SB, "s2", "ok"},
    {"create through s2 (dangling, out)", OPEN, SB, "s2", F, OF_CREATE, WR, 0, 0, "not-permitted"},
    {"readlink escape", READLINK, SB, "escape", 0, 0, 0, 0, 0, "ok"},
    {"set-times-at ../outside", TIMES_AT, SB, "../outside", 0, 0, 0, 0, 0, "not-permitted"},
    {"set-times-at escape (follow)", TIMES_AT, SB, "escape", F, 0, 0, 0, 0, "not-permitted"},
    {"metadata-hash-at ../outside", HASH_AT, SB, "../outside", 0, 0, 0, 0, 0, "not-permitted"},
    {"ro: open r for reading", OPEN, RO, "r", F, 0, RD, 0, 0, "ok"},
    {"ro: open r for writing", OPEN, RO, "r", F, 0, WR, 0, 0, "read-only"},
    {"ro: create n", OPEN, RO, "n", F, OF_CREATE, WR, 0, 0, "read-only"},
    {"ro: truncate r", OPEN, RO, "r", F, OF_TRUNCATE, RD, 0, 0, "read-only"},
    {"ro: mkdir d", MKDIR, RO, "d", 0, 0, 0, 0, 0, "read-only"},
    {"ro: unlink r", UNLINK, RO, "r", 0, 0, 0, 0, 0, "read-only"},
    {"ro: rename r -> s", RENAME, RO, "r", 0, 0, 0, RO, "s", "read-only"},
    {"ro: rename r -> /sb/moved", RENAME, RO, "r", 0, 0, 0, SB, "moved", "read-only"},
    {"ro: rename /sb/f -> r2 (into ro)", RENAME, SB, "f", 0, 0, 0, RO, "r2", "read-only"},
    {"ro: link /sb/f -> l (into ro)", LINK, SB, "f", 0, 0, 0, RO, "l", "read-only"},
    {"ro: symlink l -> r", SYMLINK, RO, "r", 0, 0, 0, RO, "l", "read-only"},
    {"ro: set-times-at r", TIMES_AT, RO, "r", 0, 0, 0, 0, 0, "read-only"},
    {"ro: set-times on the preopen", TIMES, RO, 0, 0, 0, 0, 0, 0, "read-only"},
    {"ro: set-size of r (opened to read)", SET_SIZE, RO, "r", F, 0, RD, 0, 0, "read-only"},
    {"ro: write-via-stream of r", WRITE_STREAM, RO, "r", F, 0, RD, 0, 0, "bad-descriptor"},
    {"ro: ../sb/f", OPEN, RO, "../sb/f", F, 0, RD, 0, 0, "not-permitted"},
};

static h32 dirs[2] = {-1, -1};

#define S(x) x, (int32_t)strlen(x)

// run one row; the result code as text
static const char *
attempt(const row *w)
{
    ret r;
    h32 d = dirs[w->dir], d2 = dirs[w->dir2], fd;
    switch (w->op) {
    case OPEN:
    case SET_SIZE:
    case WRITE_STREAM:
        fd_open_at(d, w->pf, S(w->path), w->of, w->df, &r);
        if (r.b[0] || w->op == OPEN) {
            if (!r.b[0])
                fd_drop((h32)R32(r, 4));
            return fs_res(&r, 4);
        }
        fd = (h32)R32(r, 4);
        if (w->op == SET_SIZE) {
            fd_set_size(fd, 0, &r);
            fd_drop(fd);
            return fs_res(&r, 1);
        }
        fd_write_via_stream(fd, 0, &r);
        if (!r.b[0])
            out_drop((h32)R32(r, 4));
        fd_drop(fd);
        return fs_res(&r, 4);
    case STAT:
        fd_stat_at(d, w->pf, S(w->path), &r);
        return fs_res(&r, 8);
    case HASH_AT:
        fd_metadata_hash_at(d, w->pf, S(w->path), &r);
        return fs_res(&r, 8);
    case MKDIR:
        fd_create_directory_at(d, S(w->path), &r);
        break;
    case UNLINK:
        fd_unlink_file_at(d, S(w->path), &r);
        break;
    case RMDIR:
        fd_remove_directory_at(d, S(w->path), &r);
        break;
    case RENAME:
        fd_rename_at(d, S(w->path), d2, S(w->path2), &r);
        break;
    case LINK:
        fd_link_at(d, w->pf, S(w->path), d2, S(w->path2), &r);
        break;
    case SYMLINK:
        fd_symlink_at(d2, S(w->path), S(w->path2), &r);
        break;
    case READLINK:
        fd_readlink_at(d, S(w->path), &r);
        return fs_res(&r, 4);
    case TIMES_AT:
        fd_set_times_at(d, w->pf, S(w->path), 1, 0, 0, 1, 0, 0, &r);
        break;
    case TIMES:
        fd_set_times(d, 1, 0, 0, 1, 0, 0, &r);
        break;
    }
    return fs_res(&r, 1);
}

int
guest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ret r;
    get_directories(&r);
    uint32_t n = R32(r, 4), *l = (uint32_t *)(uintptr_t)R32(r, 0);
    for (uint32_t i = 0; i < n; i++) {
        const char *name = (const char *)(uintptr_t)l[3 * i + 1];
        if (l[3 * i + 2] == 3 && !memcmp(name, "/sb", 3))
            dirs[SB] = (h32)l[3 * i];
        if (l[3 * i + 2] == 3 && !memcmp(name, "/ro", 3))
            dirs[RO] = (h32)l[3 * i];
    }
    printf("preopens: %u\n", n);
    if (dirs[SB] < 0 || dirs[RO] < 0)
        return n != 0;
    int wrong = 0;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const char *got = attempt(&rows[i]);
        int bad = strcmp(got, rows[i].want) != 0;
        printf("%-40s %s%s%s\n", rows[i].label, got,
               bad ? " WRONG, want " : "", bad ? rows[i].want : "");
        wrong += bad;
    }
    printf("sandbox: %d wrong\n", wrong);
    return wrong != 0;
}
