// args.c - arguments, environment and the exit code.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    char *env[64];
    int n = 0;
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; e && *e && n < 64; e++)
        env[n++] = *e;
    qsort(env, (size_t)n, sizeof env[0], cmp);
    printf("environ: %d\n", n);
    for (int i = 0; i < n; i++)
        printf("  %s\n", env[i]);
    return argc > 1 ? atoi(argv[1]) : 0;
}
