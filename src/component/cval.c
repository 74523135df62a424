/* cval.c - component values (kumo_cval), resolved types (kumo_ctype):
 * constructors, freeing, copying, equality, the type accessors, type
 * layout (size, alignment, flattening) and interface-name matching. */
#include <stdio.h>

#include "canon.h"

/* ---- values */

void
kumo_cval_free(kumo_cval *v)
{
    if (!v)
        return;
    switch (v->kind) {
    case KUMO_CV_STRING:
        kb_free(v->u.str.ptr);
        break;
    case KUMO_CV_LIST:
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        kumo_cvals_free(v->u.items.items, v->u.items.n);
        kb_free(v->u.items.items);
        break;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT:
        if (v->u.var.payload) {
            kumo_cval_free(v->u.var.payload);
            kb_free(v->u.var.payload);
        }
        break;
    default:
        break;
    }
    memset(v, 0, sizeof *v);
    v->kind = KUMO_CV_BOOL;
}

void
kumo_cvals_free(kumo_cval *vs, size_t n)
{
    for (size_t i = 0; vs && i < n; i++)
        kumo_cval_free(&vs[i]);
}

int
kumo_cval_string(kumo_cval *v, const char *s, size_t len)
{
    char *p = kb_malloc(len + 1);
    if (!p)
        return KUMO_ENOMEM;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    v->kind = KUMO_CV_STRING;
    v->u.str.ptr = p;
    v->u.str.len = len;
    return 0;
}

int
kumo_cval_items(kumo_cval *v, kumo_cval_kind kind, uint32_t n)
{
    v->kind = kind;
    v->u.items.n = 0;
    v->u.items.items = NULL;
    if (!n)
        return 0;
    v->u.items.items = kb_calloc(n, sizeof(kumo_cval));
    if (!v->u.items.items) {
        v->kind = KUMO_CV_BOOL;
        return KUMO_ENOMEM;
    }
    v->u.items.n = n;
    return 0;
}

int
kumo_cval_case(kumo_cval *v, kumo_cval_kind kind, uint32_t disc,
               bool with_payload)
{
    v->kind = kind;
    v->u.var.disc = disc;
    v->u.var.payload = NULL;
    if (with_payload) {
        v->u.var.payload = kb_calloc(1, sizeof(kumo_cval));
        if (!v->u.var.payload) {
            v->kind = KUMO_CV_BOOL;
            return KUMO_ENOMEM;
        }
    }
    return 0;
}

int
kumo_cval_copy(kumo_cval *out, const kumo_cval *v)
{
    int rc;
    switch (v->kind) {
    case KUMO_CV_STRING:
        return kumo_cval_string(out, v->u.str.ptr, v->u.str.len);
    case KUMO_CV_LIST:
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        if ((rc = kumo_cval_items(out, v->kind, v->u.items.n)))
            return rc;
        for (uint32_t i = 0; i < v->u.items.n; i++)
            if ((rc = kumo_cval_copy(&out->u.items.items[i],
                                     &v->u.items.items[i]))) {
                kumo_cval_free(out);
                return rc;
            }
        return 0;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT:
        if ((rc = kumo_cval_case(out, v->kind, v->u.var.disc,
                                 v->u.var.payload != NULL)))
            return rc;
        if (v->u.var.payload &&
            (rc = kumo_cval_copy(out->u.var.payload, v->u.var.payload))) {
            kumo_cval_free(out);
            return rc;
        }
        return 0;
    default:
        *out = *v;
        return 0;
    }
}

bool
kumo_cval_equal(const kumo_cval *a, const kumo_cval *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case KUMO_CV_BOOL:
        return a->u.b == b->u.b;
    case KUMO_CV_S8:
    case KUMO_CV_S16:
    case KUMO_CV_S32:
    case KUMO_CV_S64:
        return a->u.s == b->u.s;
    case KUMO_CV_F32: {
        if (a->u.f32 != a->u.f32 && b->u.f32 != b->u.f32)
            return true;
        return memcmp(&a->u.f32, &b->u.f32, 4) == 0;
    }
    case KUMO_CV_F64:
        if (a->u.f64 != a->u.f64 && b->u.f64 != b->u.f64)
            return true;
        return memcmp(&a->u.f64, &b->u.f64, 8) == 0;
    case KUMO_CV_CHAR:
        return a->u.ch == b->u.ch;
    case KUMO_CV_STRING:
        return a->u.str.len == b->u.str.len &&
               (!a->u.str.len ||
                memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0);
    case KUMO_CV_LIST:
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        if (a->u.items.n != b->u.items.n)
            return false;
        for (uint32_t i = 0; i < a->u.items.n; i++)
            if (!kumo_cval_equal(&a->u.items.items[i], &b->u.items.items[i]))
                return false;
        return true;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT:
        if (a->u.var.disc != b->u.var.disc ||
            !a->u.var.payload != !b->u.var.payload)
            return false;
        return !a->u.var.payload ||
               kumo_cval_equal(a->u.var.payload, b->u.var.payload);
    case KUMO_CV_FLAGS:
        return a->u.flags.bits == b->u.flags.bits;
    case KUMO_CV_OWN:
    case KUMO_CV_BORROW:
        return a->u.handle.type == b->u.handle.type &&
               a->u.handle.rep == b->u.handle.rep;
    default:
        return a->u.u == b->u.u;
    }
}

/* ---- types */

kumo_cval_kind
kumo_ctype_kind(const kumo_ctype *t)
{
    return t->kind;
}

uint32_t
kumo_ctype_count(const kumo_ctype *t)
{
    return t->n;
}

const char *
kumo_ctype_label(const kumo_ctype *t, uint32_t i, uint32_t *len)
{
    if (!t->labels || i >= t->n) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->labels[i].len;
    return t->labels[i].s;
}

const kumo_ctype *
kumo_ctype_member(const kumo_ctype *t, uint32_t i)
{
    return t->members && i < t->n ? t->members[i] : NULL;
}

const kumo_ctype *
kumo_ctype_result(const kumo_ctype *t)
{
    return t->result;
}

kumo_cresource *
kumo_ctype_resource(const kumo_ctype *t)
{
    return t->kind == KUMO_CV_OWN || t->kind == KUMO_CV_BORROW ? t->res
                                                                : NULL;
}

#define PRIM(K, S, F)                                                          \
    {.kind = K, .size = S, .align = S, .nflat = 1, .flat = (const uint8_t[]){F}}

static const kumo_ctype prims[] = {
    PRIM(KUMO_CV_BOOL, 1, KUMO_I32), PRIM(KUMO_CV_S8, 1, KUMO_I32),
    PRIM(KUMO_CV_U8, 1, KUMO_I32),   PRIM(KUMO_CV_S16, 2, KUMO_I32),
    PRIM(KUMO_CV_U16, 2, KUMO_I32),  PRIM(KUMO_CV_S32, 4, KUMO_I32),
    PRIM(KUMO_CV_U32, 4, KUMO_I32),  PRIM(KUMO_CV_S64, 8, KUMO_I64),
    PRIM(KUMO_CV_U64, 8, KUMO_I64),  PRIM(KUMO_CV_F32, 4, KUMO_F32),
    PRIM(KUMO_CV_F64, 8, KUMO_F64),  PRIM(KUMO_CV_CHAR, 4, KUMO_I32),
    {.kind = KUMO_CV_STRING,
     .size = 8,
     .align = 4,
     .nflat = 2,
     .flat = (const uint8_t[]){KUMO_I32, KUMO_I32}},
};

const kumo_ctype *
kc_prim_type(uint8_t prim)
{
    if (prim < KC_STRING || prim > KC_BOOL)
        return NULL;
    return &prims[KC_BOOL - prim];
}

static uint32_t
align_up(uint32_t p, uint32_t a)
{
    return (p + a - 1) & ~(a - 1);
}

static uint8_t
join(uint8_t a, uint8_t b)
{
    if (a == b)
        return a;
    if ((a == KUMO_I32 && b == KUMO_F32) || (a == KUMO_F32 && b == KUMO_I32))
        return KUMO_I32;
    return KUMO_I64;
}

/* Flattened types are capped: beyond this a value is always spilled, so
 * the exact list does not matter (only its count). */
#define FLAT_CAP 64

static int
set_flat(kc_arena *a, kumo_ctype *t, const uint8_t *f, uint32_t n,
         uint32_t count)
{
    uint8_t *p = kc_alloc(a, n ? n : 1);
    if (!p)
        return KUMO_ENOMEM;
    memcpy(p, f, n);
    t->flat = p;
    t->nflat = count;
    return 0;
}

static int
layout_variant(kc_arena *a, kumo_ctype *t, uint32_t nc,
               const kumo_ctype *const *cs)
{
    uint8_t f[FLAT_CAP + 1];
    uint32_t nf = 0, maxa = 1, maxs = 0, count = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const kumo_ctype *c = cs ? cs[i] : NULL;
        if (!c)
            continue;
        if (c->align > maxa)
            maxa = c->align;
        if (c->size > maxs)
            maxs = c->size;
        if (c->nflat > count)
            count = c->nflat;
        for (uint32_t j = 0; j < c->nflat && j < FLAT_CAP; j++)
            f[1 + j] = j < nf ? join(f[1 + j], c->flat[j]) : c->flat[j];
        if (c->nflat > nf)
            nf = c->nflat > FLAT_CAP ? FLAT_CAP : c->nflat;
    }
    f[0] = KUMO_I32;
    uint32_t ds = nc <= 256 ? 1 : nc <= 65536 ? 2 : 4;
    uint32_t al = ds > maxa ? ds : maxa;
    t->align = al;
    t->size = align_up(align_up(ds, maxa) + maxs, al);
    return set_flat(a, t, f, nf + 1, count + 1);
}

int
kc_type_layout(kc_arena *a, kumo_ctype *t)
{
    uint8_t f[FLAT_CAP];
    uint32_t nf = 0, count = 0, s = 0, al = 1;
    switch (t->kind) {
    case KUMO_CV_LIST:
        t->size = 8, t->align = 4;
        return set_flat(a, t, (const uint8_t[]){KUMO_I32, KUMO_I32}, 2, 2);
    case KUMO_CV_OWN:
    case KUMO_CV_BORROW:
        t->size = 4, t->align = 4;
        return set_flat(a, t, (const uint8_t[]){KUMO_I32}, 1, 1);
    case KUMO_CV_FLAGS:
        t->size = t->align = t->n <= 8 ? 1 : t->n <= 16 ? 2 : 4;
        if (t->n == 0)
            t->size = 0;
        return set_flat(a, t, (const uint8_t[]){KUMO_I32}, t->n ? 1 : 0,
                        t->n ? 1 : 0);
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        for (uint32_t i = 0; i < t->n; i++) {
            const kumo_ctype *m = t->members[i];
            s = align_up(s, m->align) + m->size;
            if (m->align > al)
                al = m->align;
            for (uint32_t j = 0; j < m->nflat && nf < FLAT_CAP; j++)
                f[nf++] = m->flat[j];
            count += m->nflat;
        }
        t->align = al;
        t->size = align_up(s, al);
        return set_flat(a, t, f, nf, count);
    case KUMO_CV_VARIANT:
    case KUMO_CV_RESULT:
        return layout_variant(a, t, t->kind == KUMO_CV_RESULT ? 2 : t->n,
                              t->members);
    case KUMO_CV_ENUM:
        return layout_variant(a, t, t->n, NULL);
    case KUMO_CV_OPTION: {
        const kumo_ctype *cs[2] = {NULL, t->members[0]};
        return layout_variant(a, t, 2, cs);
    }
    default:
        return 0;
    }
}

bool
kc_type_equal(const kumo_ctype *a, const kumo_ctype *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind || a->n != b->n)
        return false;
    if (a->kind == KUMO_CV_OWN || a->kind == KUMO_CV_BORROW ||
        a->kind == KUMO_CV_RESOURCE)
        return a->res == b->res;
    if (a->kind == KUMO_CV_INSTANCE || a->kind == KUMO_CV_COMPONENT)
        return true; /* checked export by export at instantiation */
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->labels && b->labels &&
            (a->labels[i].len != b->labels[i].len ||
             memcmp(a->labels[i].s, b->labels[i].s, a->labels[i].len)))
            return false;
        bool am = a->members && a->members[i], bm = b->members && b->members[i];
        if (am != bm || (am && !kc_type_equal(a->members[i], b->members[i])))
            return false;
    }
    if (!a->result != !b->result)
        return false;
    return !a->result || kc_type_equal(a->result, b->result);
}

/* ---- names */

size_t
kc_name_canon(const char *s, size_t n, char *out, size_t cap)
{
    const char *at = memchr(s, '@', n);
    size_t base = at ? (size_t)(at - s) : n;
    size_t k = 0;
    for (size_t i = 0; i < base && k < cap; i++)
        out[k++] = s[i];
    if (!at)
        return k;
    const char *v = at + 1, *end = s + n;
    unsigned long long part[3] = {0, 0, 0};
    int np = 0;
    const char *p = v;
    while (np < 3 && p < end && *p >= '0' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            part[np] = part[np] * 10 + (unsigned)(*p++ - '0');
        np++;
        if (p < end && *p == '.')
            p++;
        else
            break;
    }
    char buf[64];
    int m;
    if (np != 3 || p != end) /* pre-release, build or odd: keep as is */
        m = snprintf(buf, sizeof buf, "@%.*s", (int)(end - v), v);
    else if (part[0])
        m = snprintf(buf, sizeof buf, "@%llu", part[0]);
    else if (part[1])
        m = snprintf(buf, sizeof buf, "@0.%llu", part[1]);
    else
        m = snprintf(buf, sizeof buf, "@0.0.%llu", part[2]);
    for (int i = 0; i < m && i < (int)sizeof buf - 1 && k < cap; i++)
        out[k++] = buf[i];
    return k;
}

bool
kumo_cname_match(const char *a, size_t alen, const char *b, size_t blen)
{
    char ca[512], cb[512];
    if (alen > 400 || blen > 400)
        return alen == blen && memcmp(a, b, alen) == 0;
    size_t na = kc_name_canon(a, alen, ca, sizeof ca);
    size_t nb = kc_name_canon(b, blen, cb, sizeof cb);
    return na == nb && memcmp(ca, cb, na) == 0;
}
