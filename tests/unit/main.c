/* main.c - runs every registered unit test (or those whose name contains
 * argv[1]) and prints "unit: N passed, N failed". */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define KT_MAX 1024

static struct {
    const char *name;
    kt_fn fn;
} tests[KT_MAX];
static int ntests;
static int current_failed;

void
kt_register(const char *name, kt_fn fn)
{
    if (ntests < KT_MAX) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void
kt_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, expr);
    current_failed = 1;
}

int
main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        current_failed = 0;
        tests[i].fn();
        if (current_failed) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
