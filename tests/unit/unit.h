/* unit.h - the unit-test runner: KT_TEST(name) { ... } registers a test;
 * KT_CHECK(cond) records a failure and continues; KT_REQUIRE returns. */
#ifndef KUMO_TESTS_UNIT_H
#define KUMO_TESTS_UNIT_H

#include <stdio.h>

typedef void (*kt_fn)(void);
void kt_register(const char *name, kt_fn fn);
void kt_fail(const char *file, int line, const char *expr);

#define KT_TEST(name)                                                          \
    static void kt_##name(void);                                               \
    __attribute__((constructor)) static void kt_reg_##name(void)               \
    {                                                                          \
        kt_register(#name, kt_##name);                                         \
    }                                                                          \
    static void kt_##name(void)

#define KT_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            kt_fail(__FILE__, __LINE__, #cond);                                \
    } while (0)

#define KT_REQUIRE(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            kt_fail(__FILE__, __LINE__, #cond);                                \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif
