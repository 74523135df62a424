/* matmul.c - dense double matrix multiply (i-k-j order, row-major, heap
 * matrices), repeated with the product fed back in. */
#include <stdlib.h>

#include "bench.h"

#define N 160

static void
matmul(const double *a, const double *b, double *c, int n)
{
    for (int i = 0; i < n * n; i++)
        c[i] = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *brow = b + k * n;
            double *crow = c + i * n;
            for (int j = 0; j < n; j++)
                crow[j] += aik * brow[j];
        }
    }
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    double *a = malloc(sizeof(double) * N * N);
    double *b = malloc(sizeof(double) * N * N);
    double *c = malloc(sizeof(double) * N * N);
    uint32_t h = 0;
    if (!a || !b || !c)
        goto out;
    uint32_t rng = 0x2545f491;
    for (int i = 0; i < N * N; i++) {
        a[i] = (double)(bench_rand(&rng) % 2001) / 1000.0 - 1.0;
        b[i] = (double)(bench_rand(&rng) % 2001) / 1000.0 - 1.0;
    }
    uint32_t reps = bench_reps(200, scale);
    for (uint32_t r = 0; r < reps; r++) {
        matmul(a, b, c, N);
        /* Normalise the product into a so values stay bounded. */
        double mx = 0;
        for (int i = 0; i < N * N; i++) {
            double v = c[i] < 0 ? -c[i] : c[i];
            if (v > mx)
                mx = v;
        }
        double inv = mx > 0 ? 1.0 / mx : 1.0;
        for (int i = 0; i < N * N; i++)
            a[i] = c[i] * inv;
        h = bench_mix_double(h, mx);
        h = bench_mix_double(h, c[(r * 7919) % (N * N)]);
    }
out:
    free(a);
    free(b);
    free(c);
    return h;
}
