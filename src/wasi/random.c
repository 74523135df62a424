/* random.c - cryptographically secure random bytes from the kernel. */
#include <errno.h>
#include <sys/random.h>

#include "wasi.h"

int
kx_random_fill(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return kx_errno_from_host(errno);
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}
