// clocks.c - clocks, random, sleeping and poll with a timeout.
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long
now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main(void)
{
    struct timespec res;
    long long t0 = now(CLOCK_MONOTONIC), t1;
    printf("realtime plausible: %d\n", now(CLOCK_REALTIME) > 1600000000LL * 1000000000LL);
    printf("res ok: %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0 &&
                               (res.tv_sec > 0 || res.tv_nsec > 0));
    printf("cputime ok: %d\n", now(CLOCK_PROCESS_CPUTIME_ID) >= 0);

    struct timespec d = {0, 50000000};
    nanosleep(&d, NULL);
    t1 = now(CLOCK_MONOTONIC);
    printf("slept >= 50ms: %d\n", t1 - t0 >= 50000000LL);
    printf("monotonic increases: %d\n", now(CLOCK_MONOTONIC) >= t1);

    /* poll on stdin (a pipe nobody writes to): times out. */
    struct pollfd p = {.fd = 0, .events = POLLIN};
    t0 = now(CLOCK_MONOTONIC);
    int r = poll(&p, 1, 30);
    printf("poll timeout: %d waited >= 30ms: %d\n", r,
           now(CLOCK_MONOTONIC) - t0 >= 30000000LL);
    /* stdout is writable at once. */
    struct pollfd q = {.fd = 1, .events = POLLOUT};
    printf("poll stdout writable: %d\n", poll(&q, 1, 1000));

    unsigned char a[32], b[32], z[32] = {0};
    getentropy(a, sizeof a);
    getentropy(b, sizeof b);
    printf("random differs: %d nonzero: %d\n", memcmp(a, b, 32) != 0,
           memcmp(a, z, 32) != 0);
    sched_yield();
    printf("clocks ok\n");
    return 0;
}
