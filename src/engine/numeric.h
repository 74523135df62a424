/* numeric.h - WebAssembly float and conversion semantics as static
 * inlines for the interpreter (and constant folding, should we add it).
 * Prefix kn_. Floats travel as raw bits in 64-bit cells: an f32 is the low
 * 32 bits, an f64 the whole cell. Needs the default floating-point
 * environment (round to nearest even, no -ffast-math). */
#ifndef KUMO_SRC_ENGINE_NUMERIC_H
#define KUMO_SRC_ENGINE_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- bits <-> floats ---- */

static inline float
kn_f32(uint64_t cell)
{
    uint32_t b = (uint32_t)cell;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline double
kn_f64(uint64_t cell)
{
    double d;
    memcpy(&d, &cell, sizeof d);
    return d;
}

/* Bits of f, zero-extended to a cell. */
static inline uint64_t
kn_bits32(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline uint64_t
kn_bits64(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* ---- min / max ----
 * Any NaN operand gives a NaN (a + b quiets it, keeping a canonical NaN
 * canonical); -0 is below +0. Equal non-NaN operands differ only when
 * they are zeros of opposite signs: OR of the bits picks -0 for min, AND
 * picks +0 for max. */

static inline uint64_t
kn_fmin32(uint64_t x, uint64_t y)
{
    float a = kn_f32(x), b = kn_f32(y);
    if (a != a || b != b)
        return kn_bits32(a + b);
    if (a == b)
        return (uint32_t)(x | y);
    return a < b ? (uint32_t)x : (uint32_t)y;
}

static inline uint64_t
kn_fmax32(uint64_t x, uint64_t y)
{
    float a = kn_f32(x), b = kn_f32(y);
    if (a != a || b != b)
        return kn_bits32(a + b);
    if (a == b)
        return (uint32_t)(x & y);
    return a > b ? (uint32_t)x : (uint32_t)y;
}

static inline uint64_t
kn_fmin64(uint64_t x, uint64_t y)
{
    double a = kn_f64(x), b = kn_f64(y);
    if (a != a || b != b)
        return kn_bits64(a + b);
    if (a == b)
        return x | y;
    return a < b ? x : y;
}

static inline uint64_t
kn_fmax64(uint64_t x, uint64_t y)
{
    double a = kn_f64(x), b = kn_f64(y);
    if (a != a || b != b)
        return kn_bits64(a + b);
    if (a == b)
        return x & y;
    return a > b ? x : y;
}

/* ---- sign operations: pure bit operations, payloads preserved ---- */

#define KN_SIGN32 UINT32_C(0x80000000)
#define KN_SIGN64 UINT64_C(0x8000000000000000)

static inline uint64_t
kn_abs32(uint64_t x)
{
    return (uint32_t)x & ~KN_SIGN32;
}

static inline uint64_t
kn_neg32(uint64_t x)
{
    return (uint32_t)x ^ KN_SIGN32;
}

static inline uint64_t
kn_copysign32(uint64_t x, uint64_t y)
{
    return ((uint32_t)x & ~KN_SIGN32) | ((uint32_t)y & KN_SIGN32);
}

static inline uint64_t
kn_abs64(uint64_t x)
{
    return x & ~KN_SIGN64;
}

static inline uint64_t
kn_neg64(uint64_t x)
{
    return x ^ KN_SIGN64;
}

static inline uint64_t
kn_copysign64(uint64_t x, uint64_t y)
{
    return (x & ~KN_SIGN64) | (y & KN_SIGN64);
}

/* ---- rounding ----
 * NaN operands return x + x: some inline expansions of floor and friends
 * hand a signalling NaN back unchanged, and wasm wants it quieted.
 * nearest is round half to even under the default rounding mode; rint
 * keeps the sign of zero (rint(-0.5) == -0.0). */

#define KN_ROUND(name, T, fn)                                                  \
    static inline T name(T x)                                                  \
    {                                                                          \
        return x != x ? x + x : fn(x);                                         \
    }
KN_ROUND(kn_ceil32, float, ceilf)
KN_ROUND(kn_floor32, float, floorf)
KN_ROUND(kn_trunc32, float, truncf)
KN_ROUND(kn_nearest32, float, rintf)
KN_ROUND(kn_ceil64, double, ceil)
KN_ROUND(kn_floor64, double, floor)
KN_ROUND(kn_trunc64, double, trunc)
KN_ROUND(kn_nearest64, double, rint)
#undef KN_ROUND

/* ---- float -> integer ----
 * An f32 promotes to f64 exactly, so one set of f64 bounds serves both.
 * The in-range tests are written so that NaN fails them. Bounds:
 *   i32 signed:   -2^31 - 1 < x < 2^31
 *   i32 unsigned: -1 < x < 2^32
 *   i64 signed:   -2^63 <= x < 2^63 (no double lies in (-2^63 - 1, -2^63))
 *   i64 unsigned: -1 < x < 2^64 */

#define KN_2P31 2147483648.0
#define KN_2P32 4294967296.0
#define KN_2P63 9223372036854775808.0
#define KN_2P64 18446744073709551616.0

static inline int
kn_in_i32_s(double x)
{
    return x > -KN_2P31 - 1.0 && x < KN_2P31;
}

static inline int
kn_in_i32_u(double x)
{
    return x > -1.0 && x < KN_2P32;
}

static inline int
kn_in_i64_s(double x)
{
    return x >= -KN_2P63 && x < KN_2P63;
}

static inline int
kn_in_i64_u(double x)
{
    return x > -1.0 && x < KN_2P64;
}

/* Saturating truncations (NaN gives 0). Results as cells (i32 results
 * zero-extended). */
static inline uint64_t
kn_sat_i32_s(double x)
{
    if (x != x)
        return 0;
    if (x <= -KN_2P31)
        return UINT32_C(0x80000000);
    if (x >= KN_2P31)
        return UINT32_C(0x7fffffff);
    return (uint32_t)(int32_t)x;
}

static inline uint64_t
kn_sat_i32_u(double x)
{
    if (!(x > -1.0))
        return 0;
    if (x >= KN_2P32)
        return UINT32_MAX;
    return (uint32_t)x;
}

static inline uint64_t
kn_sat_i64_s(double x)
{
    if (x != x)
        return 0;
    if (x <= -KN_2P63)
        return UINT64_C(0x8000000000000000);
    if (x >= KN_2P63)
        return UINT64_C(0x7fffffffffffffff);
    return (uint64_t)(int64_t)x;
}

static inline uint64_t
kn_sat_i64_u(double x)
{
    if (!(x > -1.0))
        return 0;
    if (x >= KN_2P64)
        return UINT64_MAX;
    return (uint64_t)x;
}

/* ---- integer helpers ---- */

static inline uint32_t
kn_rotl32(uint32_t x, uint32_t n)
{
    n &= 31;
    return (x << n) | (x >> ((32 - n) & 31));
}

static inline uint32_t
kn_rotr32(uint32_t x, uint32_t n)
{
    n &= 31;
    return (x >> n) | (x << ((32 - n) & 31));
}

static inline uint64_t
kn_rotl64(uint64_t x, uint64_t n)
{
    n &= 63;
    return (x << n) | (x >> ((64 - n) & 63));
}

static inline uint64_t
kn_rotr64(uint64_t x, uint64_t n)
{
    n &= 63;
    return (x >> n) | (x << ((64 - n) & 63));
}

#endif
