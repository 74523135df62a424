/* clocks.c - wall, monotonic and CPU-time clocks (preview1 clock ids;
 * wasi:clocks uses the first two). */
#include <errno.h>
#include <time.h>

#include "wasi.h"

static int
host_clock(uint32_t id, clockid_t *out)
{
    switch (id) {
    case KX_CLOCK_REALTIME:
        *out = CLOCK_REALTIME;
        return 0;
    case KX_CLOCK_MONOTONIC:
        *out = CLOCK_MONOTONIC;
        return 0;
    case KX_CLOCK_PROCESS:
        *out = CLOCK_PROCESS_CPUTIME_ID;
        return 0;
    case KX_CLOCK_THREAD:
        *out = CLOCK_THREAD_CPUTIME_ID;
        return 0;
    default:
        return -KX_EINVAL;
    }
}

int
kx_clock_time(uint32_t id, uint64_t *ns)
{
    struct timespec ts;
    clockid_t c;
    int rc = host_clock(id, &c);
    if (rc < 0)
        return rc;
    if (clock_gettime(c, &ts) < 0)
        return kx_errno_from_host(errno);
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

int
kx_clock_res(uint32_t id, uint64_t *ns)
{
    struct timespec ts;
    clockid_t c;
    int rc = host_clock(id, &c);
    if (rc < 0)
        return rc;
    if (clock_getres(c, &ts) < 0)
        return kx_errno_from_host(errno);
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (*ns == 0)
        *ns = 1;
    return 0;
}
