/* intmix.c - integer hashing: table-driven CRC-32, an xxHash32-style
 * striped hash and a 64-bit mixer over a 256 KiB buffer. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BUF_SIZE (256 * 1024)

static uint32_t crc_table[256];

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t
crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#define P1 0x9e3779b1u
#define P2 0x85ebca77u
#define P3 0xc2b2ae3du
#define P4 0x27d4eb2fu
#define P5 0x165667b1u

static inline uint32_t
rotl(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t
load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint32_t
xx32(const uint8_t *p, size_t n, uint32_t seed)
{
    const uint8_t *end = p + n;
    uint32_t h;
    if (n >= 16) {
        uint32_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const uint8_t *limit = end - 16;
        do {
            v1 = rotl(v1 + load32(p) * P2, 13) * P1;
            v2 = rotl(v2 + load32(p + 4) * P2, 13) * P1;
            v3 = rotl(v3 + load32(p + 8) * P2, 13) * P1;
            v4 = rotl(v4 + load32(p + 12) * P2, 13) * P1;
            p += 16;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    } else {
        h = seed + P5;
    }
    h += (uint32_t)n;
    while (p + 4 <= end) {
        h = rotl(h + load32(p) * P3, 17) * P4;
        p += 4;
    }
    while (p < end) {
        h = rotl(h + *p * P5, 11) * P1;
        p++;
    }
    h ^= h >> 15;
    h *= P2;
    h ^= h >> 13;
    h *= P3;
    h ^= h >> 16;
    return h;
}

/* splitmix64-style finaliser over 64-bit words (i64 mul, shifts). */
static uint64_t
mix64(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h ^= v;
        h += 0x9e3779b97f4a7c15ull;
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
        h ^= h >> 31;
    }
    return h;
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    uint8_t *buf = malloc(BUF_SIZE);
    if (!buf)
        return 0;
    crc_init();
    uint32_t rng = 0xc0ffee11;
    for (size_t i = 0; i < BUF_SIZE; i += 4) {
        uint32_t v = bench_rand(&rng);
        memcpy(buf + i, &v, 4);
    }
    uint32_t h = crc32(0, (const uint8_t *)"123456789", 9) == 0xcbf43926u;
    uint32_t reps = bench_reps(400, scale);
    uint64_t m = 0;
    for (uint32_t r = 0; r < reps; r++) {
        /* Vary the window so each pass sees different data. */
        size_t off = (r * 4099) % 4096, n = BUF_SIZE - 4096;
        uint32_t c = crc32(r, buf + off, n);
        uint32_t x = xx32(buf + off + 1, n - 1, c);
        m = mix64(buf + off, n, m ^ x);
        h = bench_mix(h, c);
        h = bench_mix(h, x);
        h = bench_mix(h, (uint32_t)m ^ (uint32_t)(m >> 32));
        buf[(r * 31) % BUF_SIZE] ^= (uint8_t)x;
    }
    free(buf);
    return h;
}
