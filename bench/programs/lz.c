/* lz.c - a deflate-like compressor and decompressor, round-tripped over
 * generated text: LZ77 with hash chains and lazy matching, per-block
 * canonical Huffman codes (length-limited), a bit writer and reader. The
 * "larger real-world-style program" of the suite. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define WINDOW (1u << 15)
#define HASH_BITS 15
#define HASH_SIZE (1u << HASH_BITS)
#define MIN_MATCH 3
#define MAX_MATCH 258
#define MAX_CHAIN 48
#define BLOCK 65536
#define NLITLEN 286
#define NDIST 30
#define MAX_BITS 15

/* ---- length and distance symbol tables (deflate's) ---- */

static const uint16_t len_base[29] = {
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
};
static const uint8_t len_extra[29] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
};
static const uint16_t dist_base[30] = {
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
    257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
};
static const uint8_t dist_extra[30] = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
    7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
};

static int
len_code(uint32_t len)
{
    int c = 0;
    while (c < 28 && len_base[c + 1] <= len)
        c++;
    return c;
}

static int
dist_code(uint32_t d)
{
    int lo = 0, hi = 29;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (dist_base[mid] <= d)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* ---- tokens ---- */

typedef struct token {
    uint16_t len;  /* 0 = literal */
    uint16_t dist; /* or the literal byte */
} token;

typedef struct matcher {
    int32_t head[HASH_SIZE];
    int32_t prev[WINDOW];
} matcher;

static inline uint32_t
hash3(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

static void
insert(matcher *m, const uint8_t *buf, uint32_t pos)
{
    uint32_t h = hash3(buf + pos);
    m->prev[pos & (WINDOW - 1)] = m->head[h];
    m->head[h] = (int32_t)pos;
}

static uint32_t
longest(const matcher *m, const uint8_t *buf, uint32_t pos, uint32_t end,
        uint32_t *dist)
{
    uint32_t best = 0, limit = end - pos;
    if (limit > MAX_MATCH)
        limit = MAX_MATCH;
    if (limit < MIN_MATCH)
        return 0;
    int32_t cand = m->head[hash3(buf + pos)];
    for (int chain = 0; chain < MAX_CHAIN && cand >= 0; chain++) {
        uint32_t c = (uint32_t)cand;
        if (pos - c > WINDOW - 1 || c >= pos)
            break;
        if (buf[c + best] == buf[pos + best]) {
            uint32_t n = 0;
            while (n < limit && buf[c + n] == buf[pos + n])
                n++;
            if (n > best) {
                best = n;
                *dist = pos - c;
                if (n == limit)
                    break;
            }
        }
        cand = m->prev[c & (WINDOW - 1)];
    }
    return best >= MIN_MATCH ? best : 0;
}

/* Tokenise buf[start, end) (earlier bytes may be referenced). */
static uint32_t
tokenize(matcher *m, const uint8_t *buf, uint32_t start, uint32_t end,
         token *out)
{
    uint32_t n = 0, pos = start;
    while (pos < end) {
        uint32_t d1 = 0, len = pos + 2 < end ? longest(m, buf, pos, end, &d1) : 0;
        if (len && len < 32 && pos + 3 < end) {
            /* Lazy: is the match at pos+1 better? */
            insert(m, buf, pos);
            uint32_t d2 = 0, len2 = longest(m, buf, pos + 1, end, &d2);
            if (len2 > len) {
                out[n].len = 0;
                out[n++].dist = buf[pos];
                pos++;
                len = len2;
                d1 = d2;
            } else {
                out[n].len = (uint16_t)len;
                out[n++].dist = (uint16_t)d1;
                for (uint32_t i = 1; i < len; i++)
                    if (pos + i + 2 < end)
                        insert(m, buf, pos + i);
                pos += len;
                continue;
            }
        }
        if (len) {
            out[n].len = (uint16_t)len;
            out[n++].dist = (uint16_t)d1;
            for (uint32_t i = 0; i < len; i++)
                if (pos + i + 2 < end)
                    insert(m, buf, pos + i);
            pos += len;
        } else {
            out[n].len = 0;
            out[n++].dist = buf[pos];
            if (pos + 2 < end)
                insert(m, buf, pos);
            pos++;
        }
    }
    return n;
}

/* ---- Huffman code construction ---- */

typedef struct hnode {
    uint32_t freq;
    int16_t left, right; /* -1 for leaves */
    int16_t sym;
} hnode;

static void
sift_down(int16_t *heap, int n, int i, const hnode *nodes)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < n && nodes[heap[l]].freq < nodes[heap[s]].freq)
            s = l;
        if (r < n && nodes[heap[r]].freq < nodes[heap[s]].freq)
            s = r;
        if (s == i)
            return;
        int16_t t = heap[i];
        heap[i] = heap[s];
        heap[s] = t;
        i = s;
    }
}

static void
depths(const hnode *nodes, int i, uint8_t d, uint8_t *lens)
{
    if (nodes[i].left < 0) {
        lens[nodes[i].sym] = d ? d : 1;
        return;
    }
    depths(nodes, nodes[i].left, (uint8_t)(d + 1), lens);
    depths(nodes, nodes[i].right, (uint8_t)(d + 1), lens);
}

/* Code lengths for freqs[0..n), limited to MAX_BITS by flattening the
 * frequencies and rebuilding until the tree fits. */
static void
build_lengths(const uint32_t *freqs, int n, uint8_t *lens)
{
    hnode nodes[2 * NLITLEN];
    int16_t heap[NLITLEN];
    uint32_t f[NLITLEN];
    for (int i = 0; i < n; i++)
        f[i] = freqs[i];
    for (int shift = 0;; shift++) {
        int nn = 0, hn = 0;
        memset(lens, 0, (size_t)n);
        for (int i = 0; i < n; i++) {
            if (!f[i])
                continue;
            nodes[nn] = (hnode){f[i], -1, -1, (int16_t)i};
            heap[hn++] = (int16_t)nn++;
        }
        if (nn == 0)
            return;
        if (nn == 1) {
            lens[nodes[0].sym] = 1;
            return;
        }
        for (int i = hn / 2 - 1; i >= 0; i--)
            sift_down(heap, hn, i, nodes);
        while (hn > 1) {
            int16_t a = heap[0];
            heap[0] = heap[--hn];
            sift_down(heap, hn, 0, nodes);
            int16_t b = heap[0];
            nodes[nn] = (hnode){nodes[a].freq + nodes[b].freq, a, b, -1};
            heap[0] = (int16_t)nn++;
            sift_down(heap, hn, 0, nodes);
        }
        depths(nodes, heap[0], 0, lens);
        int ok = 1;
        for (int i = 0; i < n; i++)
            if (lens[i] > MAX_BITS)
                ok = 0;
        if (ok)
            return;
        for (int i = 0; i < n; i++)
            if (f[i])
                f[i] = (f[i] >> 1) | 1;
    }
}

/* Canonical codes (bit-reversed for LSB-first output). */
static void
build_codes(const uint8_t *lens, int n, uint16_t *codes)
{
    uint16_t count[MAX_BITS + 1] = {0}, next[MAX_BITS + 2];
    for (int i = 0; i < n; i++)
        count[lens[i]]++;
    count[0] = 0;
    uint16_t code = 0;
    for (int b = 1; b <= MAX_BITS; b++) {
        code = (uint16_t)((code + count[b - 1]) << 1);
        next[b] = code;
    }
    for (int i = 0; i < n; i++) {
        if (!lens[i])
            continue;
        uint16_t c = next[lens[i]]++, r = 0;
        for (int b = 0; b < lens[i]; b++)
            r = (uint16_t)(r << 1 | ((c >> b) & 1));
        codes[i] = r;
    }
}

/* ---- bit I/O ---- */

typedef struct bitw {
    uint8_t *out;
    uint32_t pos, cap;
    uint64_t acc;
    int nacc;
} bitw;

static void
put_bits(bitw *w, uint32_t v, int n)
{
    w->acc |= (uint64_t)v << w->nacc;
    w->nacc += n;
    while (w->nacc >= 8) {
        if (w->pos < w->cap)
            w->out[w->pos] = (uint8_t)w->acc;
        w->pos++;
        w->acc >>= 8;
        w->nacc -= 8;
    }
}

static void
flush_bits(bitw *w)
{
    if (w->nacc > 0)
        put_bits(w, 0, 8 - w->nacc);
}

typedef struct bitr {
    const uint8_t *in;
    uint32_t pos, len;
    uint64_t acc;
    int nacc;
} bitr;

static uint32_t
get_bits(bitr *r, int n)
{
    while (r->nacc < n) {
        uint64_t byte = r->pos < r->len ? r->in[r->pos] : 0;
        r->pos++;
        r->acc |= byte << r->nacc;
        r->nacc += 8;
    }
    uint32_t v = (uint32_t)(r->acc & ((1u << n) - 1));
    r->acc >>= n;
    r->nacc -= n;
    return v;
}

/* ---- decoding tables: a 9-bit fast table, canonical walk otherwise ---- */

#define FAST_BITS 9

typedef struct decoder {
    int16_t fast[1 << FAST_BITS]; /* sym << 4 | len, or -1 */
    uint16_t count[MAX_BITS + 1];
    uint16_t symbols[NLITLEN];
} decoder;

static void
build_decoder(decoder *d, const uint8_t *lens, int n)
{
    uint16_t offs[MAX_BITS + 2], codes[NLITLEN];
    memset(d->count, 0, sizeof d->count);
    for (int i = 0; i < n; i++)
        d->count[lens[i]]++;
    d->count[0] = 0;
    offs[1] = 0;
    for (int b = 1; b <= MAX_BITS; b++)
        offs[b + 1] = (uint16_t)(offs[b] + d->count[b]);
    for (int i = 0; i < n; i++)
        if (lens[i])
            d->symbols[offs[lens[i]]++] = (uint16_t)i;
    for (int i = 0; i < (1 << FAST_BITS); i++)
        d->fast[i] = -1;
    build_codes(lens, n, codes);
    for (int i = 0; i < n; i++) {
        if (!lens[i] || lens[i] > FAST_BITS)
            continue;
        for (int fill = codes[i]; fill < (1 << FAST_BITS); fill += 1 << lens[i])
            d->fast[fill] = (int16_t)(i << 4 | lens[i]);
    }
}

static int
decode_sym(bitr *r, const decoder *d)
{
    if (r->nacc < FAST_BITS) {
        while (r->nacc <= 56) {
            uint64_t byte = r->pos < r->len ? r->in[r->pos] : 0;
            r->pos++;
            r->acc |= byte << r->nacc;
            r->nacc += 8;
        }
    }
    int16_t e = d->fast[r->acc & ((1u << FAST_BITS) - 1)];
    if (e >= 0) {
        r->acc >>= e & 15;
        r->nacc -= e & 15;
        return e >> 4;
    }
    /* Slow path: canonical decoding one bit at a time. */
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAX_BITS; len++) {
        code |= (int)get_bits(r, 1);
        int count = d->count[len];
        if (code - first < count)
            return d->symbols[index + (code - first)];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}

/* ---- block format: 286 + 30 code lengths (4 bits each), then symbols ---- */

typedef struct codec {
    matcher m;
    token toks[BLOCK + 1];
    decoder dl, dd;
} codec;

static void
compress_block(codec *c, const uint8_t *buf, uint32_t start, uint32_t end,
               bitw *w)
{
    uint32_t lf[NLITLEN] = {0}, df[NDIST] = {0};
    uint8_t ll[NLITLEN], dl[NDIST];
    uint16_t lc[NLITLEN], dc[NDIST];
    uint32_t n = tokenize(&c->m, buf, start, end, c->toks);
    for (uint32_t i = 0; i < n; i++) {
        if (c->toks[i].len == 0) {
            lf[c->toks[i].dist]++;
        } else {
            lf[257 + len_code(c->toks[i].len)]++;
            df[dist_code(c->toks[i].dist)]++;
        }
    }
    lf[256] = 1;
    build_lengths(lf, NLITLEN, ll);
    build_lengths(df, NDIST, dl);
    build_codes(ll, NLITLEN, lc);
    build_codes(dl, NDIST, dc);
    put_bits(w, end - start, 17);
    for (int i = 0; i < NLITLEN; i++)
        put_bits(w, ll[i], 4);
    for (int i = 0; i < NDIST; i++)
        put_bits(w, dl[i], 4);
    for (uint32_t i = 0; i < n; i++) {
        token t = c->toks[i];
        if (t.len == 0) {
            put_bits(w, lc[t.dist], ll[t.dist]);
            continue;
        }
        int lcode = len_code(t.len), dcode = dist_code(t.dist);
        put_bits(w, lc[257 + lcode], ll[257 + lcode]);
        put_bits(w, t.len - len_base[lcode], len_extra[lcode]);
        put_bits(w, dc[dcode], dl[dcode]);
        put_bits(w, t.dist - dist_base[dcode], dist_extra[dcode]);
    }
    put_bits(w, lc[256], ll[256]);
}

static uint32_t
compress(codec *c, const uint8_t *in, uint32_t n, uint8_t *out, uint32_t cap)
{
    bitw w = {out, 0, cap, 0, 0};
    for (uint32_t i = 0; i < HASH_SIZE; i++)
        c->m.head[i] = -1;
    for (uint32_t start = 0; start < n; start += BLOCK) {
        uint32_t end = start + BLOCK < n ? start + BLOCK : n;
        put_bits(&w, 1, 1); /* another block */
        compress_block(c, in, start, end, &w);
    }
    put_bits(&w, 0, 1);
    flush_bits(&w);
    return w.pos;
}

/* Returns decompressed size, or (uint32_t)-1 on corrupt input. */
static uint32_t
decompress(codec *c, const uint8_t *in, uint32_t n, uint8_t *out,
           uint32_t cap)
{
    bitr r = {in, 0, n, 0, 0};
    uint32_t pos = 0;
    uint8_t ll[NLITLEN], dl[NDIST];
    while (get_bits(&r, 1)) {
        uint32_t size = get_bits(&r, 17), stop = pos + size;
        if (stop > cap)
            return (uint32_t)-1;
        for (int i = 0; i < NLITLEN; i++)
            ll[i] = (uint8_t)get_bits(&r, 4);
        for (int i = 0; i < NDIST; i++)
            dl[i] = (uint8_t)get_bits(&r, 4);
        build_decoder(&c->dl, ll, NLITLEN);
        build_decoder(&c->dd, dl, NDIST);
        for (;;) {
            int sym = decode_sym(&r, &c->dl);
            if (sym < 0 || sym > 285)
                return (uint32_t)-1;
            if (sym < 256) {
                if (pos >= stop)
                    return (uint32_t)-1;
                out[pos++] = (uint8_t)sym;
                continue;
            }
            if (sym == 256)
                break;
            int lcode = sym - 257;
            uint32_t len = len_base[lcode] + get_bits(&r, len_extra[lcode]);
            int dcode = decode_sym(&r, &c->dd);
            if (dcode < 0 || dcode >= NDIST)
                return (uint32_t)-1;
            uint32_t dist = dist_base[dcode] + get_bits(&r, dist_extra[dcode]);
            if (dist > pos || len > stop - pos)
                return (uint32_t)-1;
            for (uint32_t i = 0; i < len; i++, pos++)
                out[pos] = out[pos - dist];
        }
        if (pos != stop)
            return (uint32_t)-1;
    }
    return pos;
}

/* ---- input: pseudo-English text with Zipf-like word choice ---- */

static uint32_t
gen_text(uint8_t *out, uint32_t n, uint32_t seed)
{
    static const char *syl[] = {
        "ka", "lo", "mi", "ne", "ru", "sta", "ver", "ion", "ent", "ar",
        "th", "qu", "ble", "com", "pre", "ing", "ed", "al", "ous", "ty",
    };
    char words[512][16];
    uint32_t rng = seed | 1;
    for (int i = 0; i < 512; i++) {
        int ns = 1 + (int)(bench_rand(&rng) % 3), len = 0;
        for (int s = 0; s < ns; s++) {
            const char *p = syl[bench_rand(&rng) % 20];
            while (*p && len < 15)
                words[i][len++] = *p++;
        }
        words[i][len] = 0;
    }
    uint32_t pos = 0, col = 0;
    while (pos < n) {
        /* Zipf-ish: the minimum of two draws favours small indices. */
        uint32_t a = bench_rand(&rng) % 512, b = bench_rand(&rng) % 512;
        const char *w = words[a < b ? (a * b) % 512 < a ? a : a / 2 : b / 2];
        if (bench_rand(&rng) % 50 == 0) {
            /* A number, to add some entropy. */
            uint32_t v = bench_rand(&rng) % 100000;
            char tmp[8];
            int k = 0;
            do {
                tmp[k++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            while (k && pos < n)
                out[pos++] = (uint8_t)tmp[--k];
        }
        while (*w && pos < n)
            out[pos++] = (uint8_t)*w++, col++;
        if (pos < n) {
            uint32_t p = bench_rand(&rng) % 16;
            out[pos++] = p == 0 ? '.' : p == 1 ? ',' : ' ';
            col++;
        }
        if (col > 70 && pos < n) {
            out[pos++] = '\n';
            col = 0;
        }
    }
    return n;
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    uint32_t size = scale < 100 ? (1u << 20) * scale / 100 + 4096 : 1u << 20;
    uint32_t cap = size + size / 2 + 1024;
    codec *c = malloc(sizeof *c);
    uint8_t *in = malloc(size), *comp = malloc(cap), *back = malloc(size);
    uint32_t h = 0;
    if (!c || !in || !comp || !back)
        goto out;
    uint32_t reps = bench_reps(4, scale);
    for (uint32_t r = 0; r < reps; r++) {
        gen_text(in, size, 0x5eed + r);
        uint32_t clen = compress(c, in, size, comp, cap);
        if (clen > cap) {
            h = bench_mix(h, 0xdeadbeef);
            break;
        }
        uint32_t dlen = decompress(c, comp, clen, back, size);
        int same = dlen == size && memcmp(in, back, size) == 0;
        h = bench_mix(h, clen);
        h = bench_mix(h, (uint32_t)same);
        for (uint32_t i = 0; i < clen; i += 97)
            h = bench_mix(h, comp[i]);
    }
out:
    free(back);
    free(comp);
    free(in);
    free(c);
    return h;
}
