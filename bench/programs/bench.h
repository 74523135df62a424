/* bench.h - shared helpers for the benchmark programs. Each program is a
 * reactor-style library exporting uint32_t bench_run(uint32_t scale): the
 * work done is scale percent of the default (100), the result a checksum
 * that is the same natively and under any correct wasm engine. */
#ifndef KUMO_BENCH_H
#define KUMO_BENCH_H

#include <stdint.h>

#ifdef __wasm__
#define BENCH_EXPORT __attribute__((export_name("bench_run")))
#else
#define BENCH_EXPORT
#endif

uint32_t bench_run(uint32_t scale);

/* Repetitions: base * scale / 100, at least 1. */
static inline uint32_t
bench_reps(uint32_t base, uint32_t scale)
{
    uint64_t r = (uint64_t)base * scale / 100;
    return r ? (uint32_t)r : 1;
}

/* A small deterministic PRNG (xorshift32); state must be non-zero. */
static inline uint32_t
bench_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Fold a value into a running checksum. */
static inline uint32_t
bench_mix(uint32_t h, uint32_t v)
{
    h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
    return h;
}

/* Fold the bits of a double (exact IEEE result) into a checksum. */
static inline uint32_t
bench_mix_double(uint32_t h, double d)
{
    union { double d; uint64_t u; } c;
    c.d = d;
    h = bench_mix(h, (uint32_t)c.u);
    return bench_mix(h, (uint32_t)(c.u >> 32));
}

#endif
