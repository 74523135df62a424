// stdio.c - stdin (a pipe: the read waits on the loop), stdout, stderr.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(void)
{
    char buf[4096];
    size_t total = 0, lines = 0;
    while (fgets(buf, sizeof buf, stdin)) {
        total += strlen(buf);
        lines++;
        printf("line %zu: %s", lines, buf);
    }
    printf("read %zu bytes in %zu lines\n", total, lines);
    fprintf(stderr, "to stderr\n");
    /* A write larger than a pipe buffer. */
    static char big[200000];
    memset(big, 'x', sizeof big);
    size_t off = 0;
    while (off < sizeof big) {
        ssize_t n = write(2, big + off, sizeof big - off);
        if (n <= 0)
            return 1;
        off += (size_t)n;
    }
    printf("wrote %zu bytes to stderr\n", off);
    return 0;
}
