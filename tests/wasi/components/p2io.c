// p2io.c - WASI 0.2 io, clocks, random and cli called directly (the
// preview1 adapter still carries printf). Usage: p2io MODE [args]:
//   clocks  monotonic/wall clocks, resolutions, sleeping on a pollable
//   random  random/insecure bytes and u64s, insecure-seed
//   cli     arguments, environment, initial-cwd, terminals of pipes
//   stdin   reads stdin (a pipe) with read/blocking-read/skip/subscribe
//   splice  blocking-splice stdin -> stdout, then write-zeroes/flush
//   poll    poll over many pollables (timers, streams), ready, block
//   exit-ok, exit-err   wasi:cli/exit with ok / err
#include "wasi2.h"

#define MS 1000000LL

static void
clocks(void)
{
    int64_t res = mono_resolution(), t0 = mono_now(), t1 = mono_now();
    printf("monotonic resolution > 0: %d\n", res > 0);
    printf("monotonic is monotonic: %d\n", t1 >= t0);
    h32 p = mono_subscribe_duration(30 * MS);
    printf("30ms timer ready at once: %d\n", poll_ready(p));
    poll_block(p);
    int64_t slept = mono_now() - t0;
    printf("slept >= 30ms: %d (< 5s: %d)\n", slept >= 30 * MS,
           slept < 5000 * MS);
    printf("ready after block: %d\n", poll_ready(p));
    poll_drop(p);
    p = mono_subscribe_instant(mono_now() - 1);
    printf("past instant ready: %d\n", poll_ready(p));
    poll_drop(p);
    p = mono_subscribe_duration(0);
    printf("zero duration ready: %d\n", poll_ready(p));
    poll_drop(p);
    ret r;
    wall_now(&r);
    printf("wall clock after 2020: %d, nanoseconds < 1e9: %d\n",
           R64(r, 0) > 1577836800ull, R32(r, 8) < 1000000000u);
    wall_resolution(&r);
    printf("wall resolution nonzero: %d\n", R64(r, 0) > 0 || R32(r, 8) > 0);
}

static int
nonzero(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i])
            return 1;
    return 0;
}

static void
random_mode(void)
{
    static const int64_t lens[] = {0, 1, 16, 1000, 65536};
    ret r;
    for (unsigned i = 0; i < sizeof lens / sizeof *lens; i++) {
        random_bytes(lens[i], &r);
        uint32_t n = R32(r, 4);
        printf("random bytes %lld: got %u%s\n", (long long)lens[i], n,
               n >= 16 && !nonzero((uint8_t *)RPTR(r, 0), n) ? " (zeros!)"
                                                              : "");
        free(RPTR(r, 0));
        insecure_bytes(lens[i], &r);
        printf("insecure bytes %lld: got %u\n", (long long)lens[i], R32(r, 4));
        free(RPTR(r, 0));
    }
    uint64_t a = (uint64_t)random_u64(), b = (uint64_t)random_u64();
    printf("random u64 differ: %d\n", a != b);
    a = (uint64_t)insecure_u64(), b = (uint64_t)insecure_u64();
    printf("insecure u64 differ: %d\n", a != b);
    insecure_seed(&r);
    printf("insecure seed nonzero: %d\n", R64(r, 0) != 0 || R64(r, 8) != 0);
}

static void
cli(void)
{
    ret r;
    get_arguments(&r);
    char *list = RPTR(r, 0);
    printf("arguments: %u\n", R32(r, 4));
    for (uint32_t i = 0; i < R32(r, 4); i++) {
        char *s = (char *)(uintptr_t)*(uint32_t *)(list + 8 * i);
        uint32_t n = *(uint32_t *)(list + 8 * i + 4);
        printf("  [%u] %.*s\n", i, (int)n,
               i == 0 && strrchr(s, '/') ? "ARGV0" : s);
    }
    get_environment(&r);
    list = RPTR(r, 0);
    printf("environment: %u\n", R32(r, 4));
    for (uint32_t i = 0; i < R32(r, 4); i++) {
        uint32_t *e = (uint32_t *)(list + 16 * i);
        printf("  %.*s=%.*s\n", (int)e[1], (char *)(uintptr_t)e[0],
               (int)e[3], (char *)(uintptr_t)e[2]);
    }
    initial_cwd(&r);
    printf("initial-cwd: %s\n", R8(r, 0) ? "some" : "none");
    get_terminal_stdin(&r);
    printf("terminal-stdin: %s\n", R8(r, 0) ? "some" : "none");
    get_terminal_stdout(&r);
    printf("terminal-stdout: %s\n", R8(r, 0) ? "some" : "none");
    get_terminal_stderr(&r);
    printf("terminal-stderr: %s\n", R8(r, 0) ? "some" : "none");
}

// a stream result: "ok N", "closed" or "failed"
static const char *
sres(const ret *r, int off)
{
    if (!r->b[0])
        return "ok";
    return r->b[off] == 1 ? "closed" : "failed";
}

static void
stdin_mode(void)
{
    h32 in = get_stdin();
    ret r;
    h32 p = in_subscribe(in);
    poll_block(p); // the pipe has data (or is closed)
    poll_drop(p);
    in_read(in, 3, &r);
    printf("read 3: %s \"%.*s\"\n", sres(&r, 4), (int)R32(r, 8), RPTR(r, 4));
    in_skip(in, 2, &r);
    printf("skip 2: %s %llu\n", sres(&r, 8), (unsigned long long)R64(r, 8));
    in_blocking_read(in, 4, &r);
    printf("blocking-read 4: %s \"%.*s\"\n", sres(&r, 4), (int)R32(r, 8),
           RPTR(r, 4));
    in_blocking_skip(in, 1, &r);
    printf("blocking-skip 1: %s %llu\n", sres(&r, 8),
           (unsigned long long)R64(r, 8));
    size_t total = 0;
    for (;;) {
        in_blocking_read(in, 1000, &r);
        if (r.b[0]) {
            printf("then: %s after %zu more bytes\n", sres(&r, 4), total);
            break;
        }
        total += R32(r, 8);
        free(RPTR(r, 4));
    }
    in_read(in, 1, &r);
    printf("read after end: %s\n", sres(&r, 4));
    in_drop(in);
}

static void
splice(void)
{
    fflush(stdout);
    h32 in = get_stdin(), out = get_stdout();
    ret r;
    uint64_t total = 0;
    for (;;) {
        out_blocking_splice(out, in, 7, &r);
        if (r.b[0])
            break;
        total += R64(r, 8);
    }
    printf("\nspliced %llu bytes, then %s\n", (unsigned long long)total,
           sres(&r, 8));
    fflush(stdout);
    out_check_write(out, &r);
    printf("check-write: %s %s\n", sres(&r, 8),
           R64(r, 8) > 0 ? "> 0" : "0");
    fflush(stdout);
    out_write(out, "direct write\n", 13, &r);
    printf("write: %s\n", sres(&r, 4));
    fflush(stdout);
    out_blocking_write_flush(out, "[", 1, &r);
    out_blocking_write_zeroes_flush(out, 3, &r);
    out_write(out, "]\n", 2, &r);
    out_flush(out, &r);
    out_blocking_flush(out, &r);
    printf("flush: %s\n", sres(&r, 4));
    fflush(stdout);
    out_drop(out);
    in_drop(in);
}

static void
poll_mode(void)
{
    enum { N = 12 };
    h32 ps[N];
    ret r;
    int64_t t0 = mono_now();
    for (int i = 0; i < N; i++)
        ps[i] = mono_subscribe_duration(i == 7 ? 40 * MS : 3600000 * MS);
    poll_list(ps, N, &r);
    uint32_t *idx = (uint32_t *)(uintptr_t)R32(r, 0);
    printf("poll over %d timers: %u ready:", N, R32(r, 4));
    for (uint32_t i = 0; i < R32(r, 4); i++)
        printf(" %u", idx[i]);
    printf(" (waited >= 40ms: %d)\n", mono_now() - t0 >= 40 * MS);
    free(idx);
    // an already-ready pollable (stdout writable) among long timers
    h32 out = get_stdout();
    poll_drop(ps[7]);
    ps[7] = out_subscribe(out);
    poll_list(ps, N, &r);
    idx = (uint32_t *)(uintptr_t)R32(r, 0);
    printf("with stdout writable: %u ready: %u\n", R32(r, 4), idx[0]);
    free(idx);
    // the same pollable twice, and a past deadline
    h32 two[3] = {ps[0], mono_subscribe_instant(0), ps[0]};
    poll_list(two, 3, &r);
    idx = (uint32_t *)(uintptr_t)R32(r, 0);
    printf("duplicates and a past instant: %u ready: %u\n", R32(r, 4), idx[0]);
    free(idx);
    poll_drop(two[1]);
    for (int i = 0; i < N; i++)
        poll_drop(ps[i]);
    out_drop(out);
    // stdin: a pipe the script keeps silent for a while, then writes
    h32 in = get_stdin();
    h32 both[2] = {in_subscribe(in), mono_subscribe_duration(20 * MS)};
    poll_list(both, 2, &r);
    idx = (uint32_t *)(uintptr_t)R32(r, 0);
    printf("silent stdin vs 20ms timer: %u ready: %u\n", R32(r, 4), idx[0]);
    free(idx);
    poll_drop(both[1]);
    both[1] = mono_subscribe_duration(10000 * MS);
    poll_list(both, 2, &r);
    idx = (uint32_t *)(uintptr_t)R32(r, 0);
    printf("stdin vs 10s timer: %u ready: %u\n", R32(r, 4), idx[0]);
    free(idx);
    in_read(in, 100, &r);
    printf("stdin: %s \"%.*s\"\n", sres(&r, 4), (int)R32(r, 8) - 1,
           RPTR(r, 4));
    poll_drop(both[0]);
    poll_drop(both[1]);
    in_drop(in);
}

int
guest_main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "clocks"))
        clocks();
    else if (!strcmp(m, "random"))
        random_mode();
    else if (!strcmp(m, "cli"))
        cli();
    else if (!strcmp(m, "stdin"))
        stdin_mode();
    else if (!strcmp(m, "splice"))
        splice();
    else if (!strcmp(m, "poll"))
        poll_mode();
    else if (!strcmp(m, "exit-ok") || !strcmp(m, "exit-err")) {
        printf("exiting\n");
        fflush(stdout);
        cli_exit(m[5] == 'e');
        printf("not reached\n");
    } else {
        fprintf(stderr, "usage: p2io MODE\n");
        return 2;
    }
    return 0;
}
