/* hashtab.c - an open-addressing hash table (linear probing, backward
 * shift deletion) with 32-bit keys: inserts, hits, misses, deletes. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct slot {
    uint32_t key; /* 0 = empty */
    uint32_t value;
} slot;

typedef struct table {
    slot *slots;
    uint32_t mask;
    uint32_t count;
} table;

static inline uint32_t
hash32(uint32_t k)
{
    k ^= k >> 16;
    k *= 0x7feb352du;
    k ^= k >> 15;
    k *= 0x846ca68bu;
    k ^= k >> 16;
    return k;
}

static int
table_init(table *t, uint32_t log2)
{
    t->mask = (1u << log2) - 1;
    t->count = 0;
    t->slots = calloc((size_t)t->mask + 1, sizeof(slot));
    return t->slots ? 0 : -1;
}

static int
table_grow(table *t)
{
    slot *old = t->slots;
    uint32_t oldn = t->mask + 1;
    slot *s = calloc((size_t)oldn * 2, sizeof(slot));
    if (!s)
        return -1;
    t->slots = s;
    t->mask = oldn * 2 - 1;
    for (uint32_t i = 0; i < oldn; i++) {
        if (!old[i].key)
            continue;
        uint32_t j = hash32(old[i].key) & t->mask;
        while (s[j].key)
            j = (j + 1) & t->mask;
        s[j] = old[i];
    }
    free(old);
    return 0;
}

/* Insert or update; returns 1 if new. */
static int
table_put(table *t, uint32_t key, uint32_t value)
{
    if ((t->count + 1) * 4 > (t->mask + 1) * 3 && table_grow(t) < 0)
        return -1;
    uint32_t i = hash32(key) & t->mask;
    while (t->slots[i].key) {
        if (t->slots[i].key == key) {
            t->slots[i].value = value;
            return 0;
        }
        i = (i + 1) & t->mask;
    }
    t->slots[i].key = key;
    t->slots[i].value = value;
    t->count++;
    return 1;
}

static slot *
table_get(const table *t, uint32_t key)
{
    uint32_t i = hash32(key) & t->mask;
    while (t->slots[i].key) {
        if (t->slots[i].key == key)
            return &t->slots[i];
        i = (i + 1) & t->mask;
    }
    return NULL;
}

static int
table_del(table *t, uint32_t key)
{
    slot *s = table_get(t, key);
    if (!s)
        return 0;
    uint32_t i = (uint32_t)(s - t->slots);
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j].key)
            break;
        uint32_t home = hash32(t->slots[j].key) & t->mask;
        /* Move j back to i if its home is not in (i, j]. */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = 0;
    t->count--;
    return 1;
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    uint32_t reps = bench_reps(4, scale);
    uint32_t nkeys = scale < 100 ? 400000 * scale / 100 + 100 : 400000;
    uint32_t h = 0;
    for (uint32_t r = 0; r < reps; r++) {
        table t;
        if (table_init(&t, 10) < 0)
            return 0;
        uint32_t rng = 0x9e3779b9u + r;
        for (uint32_t i = 0; i < nkeys; i++) {
            uint32_t k = (bench_rand(&rng) % (nkeys * 4)) + 1;
            table_put(&t, k, i);
        }
        uint32_t hits = 0, sum = 0;
        for (uint32_t i = 0; i < nkeys * 2; i++) {
            slot *s = table_get(&t, (i * 2654435761u) % (nkeys * 4) + 1);
            if (s) {
                hits++;
                sum += s->value;
            }
        }
        uint32_t dels = 0;
        for (uint32_t k = 1; k <= nkeys * 4; k += 3)
            dels += (uint32_t)table_del(&t, k);
        for (uint32_t i = 0; i < nkeys; i++) {
            slot *s = table_get(&t, i * 7 + 1);
            if (s)
                sum ^= s->value * 31;
        }
        h = bench_mix(h, hits);
        h = bench_mix(h, sum);
        h = bench_mix(h, dels);
        h = bench_mix(h, t.count);
        free(t.slots);
    }
    return h;
}
