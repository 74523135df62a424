/* calls.c - call-heavy recursion: fib, Takeuchi, Ackermann, mutual
 * recursion and calls through a function-pointer table. */
#include "bench.h"

#define NOINLINE __attribute__((noinline))

static NOINLINE uint32_t
fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static NOINLINE int32_t
tak(int32_t x, int32_t y, int32_t z)
{
    if (y >= x)
        return z;
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

static NOINLINE uint32_t
ack(uint32_t m, uint32_t n)
{
    while (m != 0) {
        if (n == 0) {
            n = 1;
        } else {
            n = ack(m, n - 1);
        }
        m--;
    }
    return n + 1;
}

static NOINLINE uint32_t is_odd(uint32_t n, uint32_t acc);

static NOINLINE uint32_t
is_even(uint32_t n, uint32_t acc)
{
    return n == 0 ? acc : is_odd(n - 1, acc * 3 + 1);
}

static NOINLINE uint32_t
is_odd(uint32_t n, uint32_t acc)
{
    return n == 0 ? acc ^ 1 : is_even(n - 1, acc + 7);
}

/* Indirect calls: a small expression tree evaluated via a table. */
typedef uint32_t (*binop)(uint32_t, uint32_t);

static NOINLINE uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
static NOINLINE uint32_t op_sub(uint32_t a, uint32_t b) { return a - b; }
static NOINLINE uint32_t op_mul(uint32_t a, uint32_t b) { return a * b; }
static NOINLINE uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ b; }

static binop volatile ops[4] = {op_add, op_sub, op_mul, op_xor};

static NOINLINE uint32_t
tree(uint32_t depth, uint32_t seed)
{
    if (depth == 0)
        return seed;
    binop f = ops[seed & 3];
    return f(tree(depth - 1, seed * 1103515245u + 12345u),
             tree(depth - 1, seed ^ (seed >> 7)));
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    uint32_t h = 0;
    uint32_t reps = bench_reps(600, scale);
    for (uint32_t r = 0; r < reps; r++) {
        h = bench_mix(h, fib(24 + (r & 1)));
        h = bench_mix(h, (uint32_t)tak(18, 12, 6));
        h = bench_mix(h, ack(2, 200 + (r & 63)));
        h = bench_mix(h, ack(3, 5));
        h = bench_mix(h, is_even(1000 + (r & 255), r));
        h = bench_mix(h, tree(14, r + 1));
    }
    return h;
}
