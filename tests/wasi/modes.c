// modes.c - how a program ends: exit codes, traps, spinning (for
// --timeout and --fuel), sleeping (a deadline during a wait), memory.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *volatile keep;

int
main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    if (strcmp(m, "exit") == 0) {
        printf("exiting with %s\n", argv[2]);
        fflush(stdout);
        exit(atoi(argv[2]));
    }
    if (strcmp(m, "trap") == 0) {
        printf("about to trap\n");
        fflush(stdout);
        __builtin_trap();
    }
    if (strcmp(m, "spin") == 0) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    if (strcmp(m, "sleep") == 0) {
        sleep(100);
        return 0;
    }
    if (strcmp(m, "grow") == 0) {
        size_t mb = (size_t)atoi(argv[2]);
        char *p = malloc(mb << 20);
        keep = p; /* the optimiser may not assume malloc succeeds */
        printf("malloc %zu MiB: %s\n", mb, keep ? "ok" : "failed");
        if (p)
            memset(p, 1, mb << 20);
        return keep ? 0 : 1;
    }
    printf("usage: modes exit N|trap|spin|sleep|grow MB\n");
    return 2;
}
