/* json.c - JSON generate / parse / walk / serialise / re-parse over a
 * generated document of nested objects, arrays, escaped strings and
 * numbers. Parsing builds a tree in an arena; object keys are interned in
 * a small hash table. Byte-at-a-time, branchy, pointer-chasing code. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jval {
    uint8_t type;
    uint32_t len;           /* string bytes, or child count */
    union {
        double num;
        const char *str;    /* arena copy, unescaped */
        struct jval *first; /* children (objects: key string, value, ...) */
    } u;
    struct jval *next;
} jval;

typedef struct arena {
    uint8_t *base;
    size_t used, cap;
} arena;

static void *
arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (a->used + n > a->cap)
        return NULL;
    void *p = a->base + a->used;
    a->used += n;
    return p;
}

/* ---- generator ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void
sb_putc(sbuf *b, char c)
{
    if (b->len < b->cap)
        b->p[b->len] = c;
    b->len++;
}

static void
sb_puts(sbuf *b, const char *s)
{
    while (*s)
        sb_putc(b, *s++);
}

static void
sb_putu(sbuf *b, uint32_t v)
{
    char tmp[12];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        sb_putc(b, tmp[--k]);
}

static const char *keys[] = {
    "id", "name", "tags", "value", "children", "enabled", "ratio",
    "description", "owner", "created", "items", "meta", "x", "y",
};

static void
gen_string(sbuf *b, uint32_t *rng)
{
    static const char alpha[] = "abcdefghij klmnopqrstuvwxyz ABCDEF";
    uint32_t n = 3 + bench_rand(rng) % 24;
    sb_putc(b, '"');
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = bench_rand(rng) % 64;
        if (r == 0)
            sb_puts(b, "\\n");
        else if (r == 1)
            sb_puts(b, "\\\"");
        else if (r == 2)
            sb_puts(b, "\\u00e9");
        else
            sb_putc(b, alpha[r % (sizeof alpha - 1)]);
    }
    sb_putc(b, '"');
}

static void
gen_value(sbuf *b, uint32_t *rng, int depth)
{
    uint32_t r = bench_rand(rng) % (depth > 5 ? 6 : 9);
    switch (r) {
    case 0:
        sb_puts(b, (bench_rand(rng) & 1) ? "true" : "false");
        break;
    case 1:
        sb_puts(b, "null");
        break;
    case 2:
    case 3:
        if (bench_rand(rng) & 1)
            sb_putc(b, '-');
        sb_putu(b, bench_rand(rng) % 100000);
        if (r == 3) {
            sb_putc(b, '.');
            sb_putu(b, bench_rand(rng) % 1000);
            if (bench_rand(rng) & 1) {
                sb_puts(b, "e-");
                sb_putu(b, bench_rand(rng) % 5);
            }
        }
        break;
    case 4:
    case 5:
        gen_string(b, rng);
        break;
    case 6: {
        uint32_t n = bench_rand(rng) % 8;
        sb_putc(b, '[');
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                sb_puts(b, ", ");
            gen_value(b, rng, depth + 1);
        }
        sb_putc(b, ']');
        break;
    }
    default: {
        uint32_t n = 1 + bench_rand(rng) % 6;
        sb_puts(b, "{\n");
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                sb_puts(b, ",\n");
            sb_putc(b, '"');
            sb_puts(b, keys[bench_rand(rng) % 14]);
            sb_puts(b, "\": ");
            gen_value(b, rng, depth + 1);
        }
        sb_puts(b, "\n}");
        break;
    }
    }
}

/* ---- parser ---- */

typedef struct parser {
    const char *p, *end;
    arena *a;
    int err;
} parser;

static void
skip_ws(parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static jval *parse_value(parser *ps, int depth);

static jval *
new_val(parser *ps, uint8_t type)
{
    jval *v = arena_alloc(ps->a, sizeof *v);
    if (!v) {
        ps->err = 1;
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

static jval *
parse_string(parser *ps)
{
    const char *s = ++ps->p;
    size_t maxlen = 0;
    while (s + maxlen < ps->end && s[maxlen] != '"')
        maxlen += s[maxlen] == '\\' ? 2 : 1;
    jval *v = new_val(ps, J_STR);
    char *out = arena_alloc(ps->a, maxlen + 1);
    if (!v || !out)
        return ps->err = 1, NULL;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        if (ps->p >= ps->end)
            return ps->err = 1, NULL;
        c = *ps->p++;
        switch (c) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case '"': case '\\': case '/': out[n++] = c; break;
        case 'u': {
            uint32_t cp = 0;
            for (int i = 0; i < 4; i++) {
                int d = ps->p < ps->end ? hexval(*ps->p++) : -1;
                if (d < 0)
                    return ps->err = 1, NULL;
                cp = cp << 4 | (uint32_t)d;
            }
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else { /* two bytes are enough for this generator */
                out[n++] = (char)(0xc0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            return ps->err = 1, NULL;
        }
    }
    if (ps->p >= ps->end)
        return ps->err = 1, NULL;
    ps->p++;
    out[n] = 0;
    v->u.str = out;
    v->len = (uint32_t)n;
    return v;
}

static jval *
parse_number(parser *ps)
{
    int neg = 0, eneg = 0;
    uint64_t mant = 0;
    int frac = 0, exp = 0;
    if (*ps->p == '-')
        neg = 1, ps->p++;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        mant = mant * 10 + (uint64_t)(*ps->p++ - '0');
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            mant = mant * 10 + (uint64_t)(*ps->p++ - '0'), frac++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '-' || *ps->p == '+'))
            eneg = *ps->p++ == '-';
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            exp = exp * 10 + (*ps->p++ - '0');
    }
    jval *v = new_val(ps, J_NUM);
    if (!v)
        return NULL;
    double d = (double)mant;
    int e = (eneg ? -exp : exp) - frac;
    for (; e > 0; e--)
        d *= 10;
    for (; e < 0; e++)
        d /= 10;
    v->u.num = neg ? -d : d;
    return v;
}

static jval *
parse_container(parser *ps, int depth, char close)
{
    jval *v = new_val(ps, close == ']' ? J_ARR : J_OBJ), **tail;
    if (!v)
        return NULL;
    tail = &v->u.first;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        skip_ws(ps);
        if (close == '}') {
            if (ps->p >= ps->end || *ps->p != '"')
                return ps->err = 1, NULL;
            jval *k = parse_string(ps);
            if (!k)
                return NULL;
            *tail = k;
            tail = &k->next;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':')
                return ps->err = 1, NULL;
        }
        jval *c = parse_value(ps, depth + 1);
        if (!c)
            return NULL;
        *tail = c;
        tail = &c->next;
        v->len++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return v;
        }
        return ps->err = 1, NULL;
    }
}

static jval *
parse_value(parser *ps, int depth)
{
    skip_ws(ps);
    if (ps->p >= ps->end || depth > 64)
        return ps->err = 1, NULL;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, '}');
    case '[':
        return parse_container(ps, depth, ']');
    case '"':
        return parse_string(ps);
    case 't':
        ps->p += 4;
        return new_val(ps, J_TRUE);
    case 'f':
        ps->p += 5;
        return new_val(ps, J_FALSE);
    case 'n':
        ps->p += 4;
        return new_val(ps, J_NULL);
    default:
        return parse_number(ps);
    }
}

/* ---- walk and serialise ---- */

static uint32_t
walk(const jval *v, uint32_t h)
{
    h = bench_mix(h, v->type);
    switch (v->type) {
    case J_NUM:
        return bench_mix_double(h, v->u.num);
    case J_STR:
        for (uint32_t i = 0; i < v->len; i++)
            h = h * 31 + (uint8_t)v->u.str[i];
        return h;
    case J_ARR:
    case J_OBJ:
        for (const jval *c = v->u.first; c; c = c->next)
            h = walk(c, h);
        return bench_mix(h, v->len);
    default:
        return h;
    }
}

static void
emit_num(sbuf *b, double d)
{
    /* Fixed 3-decimal form: deterministic and exact enough to re-parse. */
    if (d < 0) {
        sb_putc(b, '-');
        d = -d;
    }
    uint64_t milli = (uint64_t)(d * 1000.0 + 0.5);
    sb_putu(b, (uint32_t)(milli / 1000));
    sb_putc(b, '.');
    uint32_t f = (uint32_t)(milli % 1000);
    sb_putc(b, (char)('0' + f / 100));
    sb_putc(b, (char)('0' + f / 10 % 10));
    sb_putc(b, (char)('0' + f % 10));
}

static void
serialise(sbuf *b, const jval *v)
{
    switch (v->type) {
    case J_NULL: sb_puts(b, "null"); break;
    case J_TRUE: sb_puts(b, "true"); break;
    case J_FALSE: sb_puts(b, "false"); break;
    case J_NUM: emit_num(b, v->u.num); break;
    case J_STR:
        sb_putc(b, '"');
        for (uint32_t i = 0; i < v->len; i++) {
            char c = v->u.str[i];
            if (c == '"' || c == '\\')
                sb_putc(b, '\\'), sb_putc(b, c);
            else if (c == '\n')
                sb_puts(b, "\\n");
            else
                sb_putc(b, c);
        }
        sb_putc(b, '"');
        break;
    default: {
        int obj = v->type == J_OBJ;
        sb_putc(b, obj ? '{' : '[');
        int first = 1;
        for (const jval *c = v->u.first; c; c = c->next) {
            if (!first)
                sb_putc(b, ',');
            first = 0;
            if (obj) {
                serialise(b, c);
                sb_putc(b, ':');
                c = c->next;
            }
            serialise(b, c);
        }
        sb_putc(b, obj ? '}' : ']');
        break;
    }
    }
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    size_t doc_cap = 2u << 20;
    sbuf doc = {malloc(doc_cap), 0, doc_cap};
    sbuf out = {malloc(doc_cap), 0, doc_cap};
    arena a = {malloc(16u << 20), 0, 16u << 20};
    uint32_t h = 0;
    if (!doc.p || !out.p || !a.base)
        goto done;
    uint32_t reps = bench_reps(50, scale);
    uint32_t items = scale < 100 ? 4000 * scale / 100 + 10 : 4000;
    for (uint32_t r = 0; r < reps; r++) {
        uint32_t rng = 0xabcdef01u + r;
        doc.len = 0;
        sb_puts(&doc, "[\n");
        for (uint32_t i = 0; i < items; i++) {
            if (i)
                sb_puts(&doc, ",\n");
            gen_value(&doc, &rng, 3); /* depth 3: mostly objects */
        }
        sb_puts(&doc, "\n]");
        if (doc.len > doc.cap)
            return 0xdead0001;
        a.used = 0;
        parser ps = {doc.p, doc.p + doc.len, &a, 0};
        jval *root = parse_value(&ps, 0);
        if (!root || ps.err)
            return 0xdead0002;
        uint32_t h1 = walk(root, 0);
        out.len = 0;
        serialise(&out, root);
        if (out.len > out.cap)
            return 0xdead0003;
        a.used = 0;
        parser ps2 = {out.p, out.p + out.len, &a, 0};
        jval *root2 = parse_value(&ps2, 0);
        if (!root2 || ps2.err)
            return 0xdead0004;
        sbuf out2 = {doc.p, 0, doc.cap}; /* reuse doc's buffer */
        serialise(&out2, root2);
        int same = out2.len == out.len && memcmp(out.p, out2.p, out.len) == 0;
        h = bench_mix(h, h1);
        h = bench_mix(h, (uint32_t)doc.len);
        h = bench_mix(h, (uint32_t)out.len);
        h = bench_mix(h, (uint32_t)same);
        h = bench_mix(h, (uint32_t)a.used);
    }
done:
    free(doc.p);
    free(out.p);
    free(a.base);
    return h;
}
