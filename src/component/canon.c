/* canon.c - the canonical ABI: loading and storing component values in
 * linear memory, lifting and lowering them from and to flat core values,
 * strings in utf8 / utf16 / latin1+utf16 with transcoding, realloc and the
 * traps the ABI defines (CanonicalABI.md: load, store, lift_flat,
 * lower_flat, lift_flat_values, lower_flat_values). */
#include <stdio.h>

#include "canon.h"

#define UTF16_TAG 0x80000000u
#define MAX_STRING_BYTES ((1u << 28) - 1)

int
kc_trap(kc_cx *cx, const char *fmt, ...)
{
    char buf[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (cx->caller)
        return kumo_caller_trap(cx->caller, buf);
    kc_top_set_trap(cx->top, buf);
    return KUMO_ETRAP_HOST;
}

static uint32_t
align_to(uint32_t p, uint32_t a)
{
    return (p + a - 1) & ~(a - 1);
}

/* ---- memory access */

static int
mem_range(kc_cx *cx, uint64_t ptr, uint64_t len, uint8_t **out)
{
    if (!cx->opts || !cx->opts->mem)
        return kc_trap(cx, "canonical ABI needs a memory option");
    kumo_memory *m = cx->opts->mem;
    if (ptr + len > kumo_memory_size(m))
        return kc_trap(cx, "out of bounds memory access");
    *out = kumo_memory_data(m) + ptr;
    return 0;
}

static uint64_t
mem_size(kc_cx *cx)
{
    return cx->opts && cx->opts->mem ? kumo_memory_size(cx->opts->mem) : 0;
}

static uint64_t
rd(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void
wr(uint8_t *p, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* realloc(old, old_size, align, new_size) with the ABI's result checks. */
/* What a realloc call allocates, for the messages of the checks on its
 * result (a fused guest-to-guest call reports them like wasmtime's
 * adapters do). */
enum { FOR_TUPLE, FOR_STRING, FOR_LIST };

static int
call_realloc(kc_cx *cx, uint32_t old, uint32_t old_size, uint32_t align,
             uint32_t size, uint32_t *out, int what)
{
    if (!cx->opts || !cx->opts->realloc)
        return kc_trap(cx, "canonical ABI needs a realloc option");
    kumo_val args[4] = {old, old_size, align, size}, res[1] = {0};
    kc_rinst *ri = cx->inst;
    bool saved = ri ? ri->may_leave : true;
    if (ri)
        ri->may_leave = false;
    int rc = kumo_func_call(cx->store, cx->opts->realloc, args, res);
    if (ri)
        ri->may_leave = saved;
    if (rc)
        return rc;
    uint32_t p = (uint32_t)res[0];
    if (p != align_to(p, align))
        return kc_trap(cx, cx->fused ? "unaligned pointer"
                                     : "realloc return: result not aligned");
    if ((uint64_t)p + size > mem_size(cx)) {
        if (!cx->fused)
            return kc_trap(cx, "realloc return: beyond end of memory");
        return kc_trap(cx, what == FOR_STRING ? "string content out-of-bounds"
                           : what == FOR_LIST ? "list content out-of-bounds"
                                              : "pointer out-of-bounds");
    }
    *out = p;
    return 0;
}

/* ---- strings */

static int
utf8_decode(const uint8_t *s, size_t n, size_t *i, uint32_t *cp)
{
    uint8_t c = s[*i];
    if (c < 0x80) {
        *cp = c;
        *i += 1;
        return 0;
    }
    uint32_t len, min, v;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, v = c & 0x07;
    else
        return -1;
    for (uint32_t k = 1; k < len; k++) {
        if (*i + k >= n)
            return -2; /* incomplete */
        uint8_t d = s[*i + k];
        if ((d & 0xc0) != 0x80)
            return -1;
        v = (v << 6) | (d & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return -1;
    *cp = v;
    *i += len;
    return 0;
}


static int
string_oob(kc_cx *cx)
{
    return kc_trap(cx, cx->fused
                           ? "string content out-of-bounds"
                           : "string pointer/length out of bounds of memory");
}

/* Decode [ptr, ptr + byte_length) of the given simple encoding (0 utf8,
 * 1 utf16, 2 latin1) into a new UTF-8 string value. */
static int
decode_string(kc_cx *cx, uint32_t ptr, uint32_t bytes, int enc, kumo_cval *v)
{
    uint8_t *m;
    int rc = mem_range(cx, ptr, bytes, &m);
    if (rc)
        return string_oob(cx);
    size_t cap = enc == 0 ? bytes : enc == 1 ? (size_t)bytes / 2 * 3
                                             : (size_t)bytes * 2;
    char *o = kb_malloc(cap + 1);
    if (!o)
        return KUMO_ENOMEM;
    size_t n = 0;
    if (enc == 0) {
        size_t i = 0;
        while (i < bytes) {
            uint32_t cp;
            int e = utf8_decode(m, bytes, &i, &cp);
            if (e) {
                kb_free(o);
                return kc_trap(cx, e == -2 ? "incomplete utf-8 byte sequence"
                                           : "invalid utf-8");
            }
        }
        memcpy(o, m, bytes);
        n = bytes;
    } else if (enc == 1) {
        for (uint32_t i = 0; i < bytes / 2; i++) {
            uint32_t u = (uint32_t)rd(m + 2 * i, 2);
            if (u >= 0xd800 && u <= 0xdbff && i + 1 < bytes / 2) {
                uint32_t l = (uint32_t)rd(m + 2 * i + 2, 2);
                if (l >= 0xdc00 && l <= 0xdfff) {
                    u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
                    i++;
                }
            }
            if (u >= 0xd800 && u <= 0xdfff) {
                kb_free(o);
                return kc_trap(cx, "invalid utf-16");
            }
            n += kb_utf8_put(o + n, u);
        }
    } else {
        for (uint32_t i = 0; i < bytes; i++)
            n += kb_utf8_put(o + n, m[i]);
    }
    o[n] = '\0';
    v->kind = KUMO_CV_STRING;
    v->u.str.ptr = o;
    v->u.str.len = n;
    return 0;
}

static int
lift_string(kc_cx *cx, uint32_t ptr, uint32_t units, kumo_cval *v)
{
    uint8_t enc = cx->opts ? cx->opts->enc : KC_UTF8;
    uint64_t bytes;
    uint32_t align = 2;
    int simple;
    if (enc == KC_UTF8) {
        bytes = units, align = 1, simple = 0;
    } else if (enc == KC_UTF16) {
        bytes = 2 * (uint64_t)units, simple = 1;
    } else if (units & UTF16_TAG) {
        bytes = 2 * (uint64_t)(units ^ UTF16_TAG), simple = 1;
    } else {
        bytes = units, simple = 2;
    }
    if (bytes > MAX_STRING_BYTES)
        return string_oob(cx);
    if (ptr != align_to(ptr, align))
        return kc_trap(cx, "unaligned pointer");
    if ((uint64_t)ptr + bytes > mem_size(cx))
        return string_oob(cx);
    return decode_string(cx, ptr, (uint32_t)bytes, simple, v);
}

/* UTF-16 code units of a valid UTF-8 string, and whether it is all
 * Latin-1. */
static void
utf8_measure(const char *s, size_t n, uint64_t *units16, bool *latin1)
{
    size_t i = 0;
    *units16 = 0;
    *latin1 = true;
    while (i < n) {
        uint32_t cp = 0;
        if (utf8_decode((const uint8_t *)s, n, &i, &cp))
            break; /* values from the host are validated on entry */
        *units16 += cp >= 0x10000 ? 2 : 1;
        if (cp >= 256)
            *latin1 = false;
    }
}

static uint32_t
put_utf16(uint8_t *m, const char *s, size_t n)
{
    size_t i = 0;
    uint32_t k = 0;
    while (i < n) {
        uint32_t cp = 0;
        if (utf8_decode((const uint8_t *)s, n, &i, &cp))
            break;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            wr(m + 2 * k++, 0xd800 + (cp >> 10), 2);
            wr(m + 2 * k++, 0xdc00 + (cp & 0x3ff), 2);
        } else {
            wr(m + 2 * k++, cp, 2);
        }
    }
    return k;
}

/* latin1+utf16 destination from a UTF-8 source (store_string_to_latin1_or_
 * utf16 with UTF-8 code units). */
static int
store_latin1_or_utf16(kc_cx *cx, const char *s, uint32_t n, uint32_t *ptr,
                      uint32_t *units)
{
    uint32_t p;
    uint8_t *m;
    int rc = call_realloc(cx, 0, 0, 2, n, &p, FOR_STRING);
    if (rc || (rc = mem_range(cx, p, n, &m)))
        return rc;
    uint64_t u16;
    bool latin1;
    utf8_measure(s, n, &u16, &latin1);
    if (latin1) {
        size_t i = 0;
        uint32_t k = 0, cp = 0;
        while (i < n && !utf8_decode((const uint8_t *)s, n, &i, &cp))
            m[k++] = (uint8_t)cp;
        if (k < n && (rc = call_realloc(cx, p, n, 2, k, &p, FOR_STRING)))
            return rc;
        *ptr = p, *units = k;
        return 0;
    }
    uint64_t worst = 2 * (uint64_t)n;
    if (worst > MAX_STRING_BYTES)
        return string_oob(cx);
    if ((rc = call_realloc(cx, p, n, 2, (uint32_t)worst, &p, FOR_STRING)) ||
        (rc = mem_range(cx, p, worst, &m)))
        return rc;
    uint32_t k = put_utf16(m, s, n);
    if (worst > 2 * (uint64_t)k &&
        (rc = call_realloc(cx, p, (uint32_t)worst, 2, 2 * k, &p, FOR_STRING)))
        return rc;
    *ptr = p, *units = k | UTF16_TAG;
    return 0;
}

static int
lower_string(kc_cx *cx, const kumo_cval *v, uint32_t *ptr, uint32_t *units)
{
    const char *s = v->u.str.ptr;
    if (v->u.str.len > MAX_STRING_BYTES)
        return kc_trap(cx, "string too long");
    uint32_t n = (uint32_t)v->u.str.len;
    uint8_t enc = cx->opts ? cx->opts->enc : KC_UTF8;
    uint8_t *m;
    uint32_t p;
    int rc;
    if (enc == KC_UTF8) {
        if ((rc = call_realloc(cx, 0, 0, 1, n, &p, FOR_STRING)) ||
            (rc = mem_range(cx, p, n, &m)))
            return rc;
        if (n)
            memcpy(m, s, n);
        *ptr = p, *units = n;
        return 0;
    }
    if (enc == KC_LATIN1_UTF16)
        return store_latin1_or_utf16(cx, s, n, ptr, units);
    uint64_t worst = 2 * (uint64_t)n;
    if ((rc = call_realloc(cx, 0, 0, 2, (uint32_t)worst, &p, FOR_STRING)) ||
        (rc = mem_range(cx, p, worst, &m)))
        return rc;
    uint32_t k = put_utf16(m, s, n);
    if (2 * (uint64_t)k < worst &&
        (rc = call_realloc(cx, p, (uint32_t)worst, 2, 2 * k, &p, FOR_STRING)))
        return rc;
    *ptr = p, *units = k;
    return 0;
}

/* ---- values */

static int
new_items(kumo_cval *v, kumo_cval_kind kind, uint32_t n)
{
    v->kind = kind;
    v->u.items.n = 0;
    v->u.items.items = NULL;
    if (n) {
        v->u.items.items = kb_calloc(n, sizeof(kumo_cval));
        if (!v->u.items.items)
            return KUMO_ENOMEM;
    }
    v->u.items.n = n;
    return 0;
}

static int
new_case(kumo_cval *v, kumo_cval_kind kind, uint32_t disc, bool payload)
{
    v->kind = kind;
    v->u.var.disc = disc;
    v->u.var.payload = NULL;
    if (payload) {
        v->u.var.payload = kb_calloc(1, sizeof(kumo_cval));
        if (!v->u.var.payload)
            return KUMO_ENOMEM;
    }
    return 0;
}

static kumo_cval_kind
case_kind(const kumo_ctype *t)
{
    return t->kind;
}

/* Number of cases of a variant-like type and the payload type of case i. */
static uint32_t
ncases(const kumo_ctype *t)
{
    switch (t->kind) {
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT:
        return 2;
    default:
        return t->n;
    }
}

static const kumo_ctype *
case_type(const kumo_ctype *t, uint32_t i)
{
    switch (t->kind) {
    case KUMO_CV_OPTION:
        return i == 1 ? t->members[0] : NULL;
    case KUMO_CV_RESULT:
        return t->members[i];
    case KUMO_CV_ENUM:
        return NULL;
    default:
        return t->members[i];
    }
}

static uint32_t
disc_size(uint32_t n)
{
    return n <= 256 ? 1 : n <= 65536 ? 2 : 4;
}

static uint32_t
max_case_align(const kumo_ctype *t)
{
    uint32_t a = 1, n = ncases(t);
    for (uint32_t i = 0; i < n; i++) {
        const kumo_ctype *c = case_type(t, i);
        if (c && c->align > a)
            a = c->align;
    }
    return a;
}

static int
check_char(kc_cx *cx, uint32_t c)
{
    if (c >= 0x110000 || (c >= 0xd800 && c <= 0xdfff))
        return kc_trap(cx, "invalid `char` bit pattern");
    return 0;
}

static int lift_handle(kc_cx *cx, const kumo_ctype *t, uint32_t i,
                       kumo_cval *v);
static int lower_handle(kc_cx *cx, const kumo_ctype *t, const kumo_cval *v,
                        uint32_t *out);

/* Set a scalar value from raw bits (shared by load and lift_flat). */
static int
scalar(kc_cx *cx, const kumo_ctype *t, uint64_t x, kumo_cval *v)
{
    v->kind = t->kind;
    switch (t->kind) {
    case KUMO_CV_BOOL:
        v->u.b = (uint32_t)x != 0;
        return 0;
    case KUMO_CV_S8:
        v->u.s = (int8_t)x;
        return 0;
    case KUMO_CV_U8:
        v->u.u = (uint8_t)x;
        return 0;
    case KUMO_CV_S16:
        v->u.s = (int16_t)x;
        return 0;
    case KUMO_CV_U16:
        v->u.u = (uint16_t)x;
        return 0;
    case KUMO_CV_S32:
        v->u.s = (int32_t)x;
        return 0;
    case KUMO_CV_U32:
        v->u.u = (uint32_t)x;
        return 0;
    case KUMO_CV_S64:
        v->u.s = (int64_t)x;
        return 0;
    case KUMO_CV_U64:
        v->u.u = x;
        return 0;
    case KUMO_CV_F32: {
        uint32_t b = (uint32_t)x;
        memcpy(&v->u.f32, &b, 4);
        return 0;
    }
    case KUMO_CV_F64:
        memcpy(&v->u.f64, &x, 8);
        return 0;
    case KUMO_CV_CHAR:
        v->u.ch = (uint32_t)x;
        return check_char(cx, (uint32_t)x);
    case KUMO_CV_OWN:
    case KUMO_CV_BORROW:
        v->kind = KUMO_CV_BOOL;
        return lift_handle(cx, t, (uint32_t)x, v);
    default:
        return KUMO_EINVAL;
    }
}

static uint64_t
scalar_bits(const kumo_cval *v)
{
    switch (v->kind) {
    case KUMO_CV_BOOL:
        return v->u.b;
    case KUMO_CV_S8:
    case KUMO_CV_S16:
    case KUMO_CV_S32:
        return (uint32_t)(int32_t)v->u.s;
    case KUMO_CV_S64:
        return (uint64_t)v->u.s;
    case KUMO_CV_F32: {
        uint32_t b;
        memcpy(&b, &v->u.f32, 4);
        return b;
    }
    case KUMO_CV_F64: {
        uint64_t b;
        memcpy(&b, &v->u.f64, 8);
        return b;
    }
    case KUMO_CV_CHAR:
        return v->u.ch;
    default:
        return v->u.u;
    }
}

static int load(kc_cx *cx, uint32_t ptr, const kumo_ctype *t, kumo_cval *v);

static int
load_fields(kc_cx *cx, uint32_t ptr, const kumo_ctype *t, kumo_cval *v)
{
    int rc = new_items(v, t->kind, t->n);
    for (uint32_t i = 0; !rc && i < t->n; i++) {
        ptr = align_to(ptr, t->members[i]->align);
        rc = load(cx, ptr, t->members[i], &v->u.items.items[i]);
        ptr += t->members[i]->size;
    }
    return rc;
}

static int
load_list(kc_cx *cx, uint32_t ptr, uint32_t len, const kumo_ctype *e,
          kumo_cval *v)
{
    uint64_t bytes = (uint64_t)len * e->size;
    if (ptr != align_to(ptr, e->align))
        return kc_trap(cx, "unaligned pointer");
    if ((uint64_t)ptr + bytes > mem_size(cx))
        return kc_trap(cx, cx->fused
                               ? "list content out-of-bounds"
                               : "list pointer/length out of bounds of memory");
    int rc = new_items(v, KUMO_CV_LIST, len);
    for (uint32_t i = 0; !rc && i < len; i++)
        rc = load(cx, ptr + i * e->size, e, &v->u.items.items[i]);
    return rc;
}

static int
load(kc_cx *cx, uint32_t ptr, const kumo_ctype *t, kumo_cval *v)
{
    uint8_t *m;
    int rc = mem_range(cx, ptr, t->size, &m);
    if (rc)
        return rc;
    switch (t->kind) {
    case KUMO_CV_STRING:
    case KUMO_CV_LIST: {
        uint32_t p = (uint32_t)rd(m, 4), n = (uint32_t)rd(m + 4, 4);
        if (t->kind == KUMO_CV_STRING)
            return lift_string(cx, p, n, v);
        return load_list(cx, p, n, t->members[0], v);
    }
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        return load_fields(cx, ptr, t, v);
    case KUMO_CV_FLAGS:
        v->kind = KUMO_CV_FLAGS;
        v->u.flags.n = t->n;
        v->u.flags.bits = (uint32_t)rd(m, t->size) &
                          (t->n >= 32 ? 0xffffffffu : (1u << t->n) - 1);
        return 0;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT: {
        uint32_t nc = ncases(t), ds = disc_size(nc);
        uint32_t d = (uint32_t)rd(m, ds);
        if (d >= nc)
            return kc_trap(cx, "invalid variant discriminant");
        const kumo_ctype *ct = case_type(t, d);
        if ((rc = new_case(v, case_kind(t), d, ct != NULL)) || !ct)
            return rc;
        return load(cx, align_to(ptr + ds, max_case_align(t)), ct,
                    v->u.var.payload);
    }
    default:
        return scalar(cx, t, rd(m, t->size), v);
    }
}

static int store(kc_cx *cx, const kumo_cval *v, const kumo_ctype *t,
                 uint32_t ptr);

static int
store_list(kc_cx *cx, const kumo_cval *v, const kumo_ctype *e, uint32_t *ptr)
{
    uint64_t bytes = (uint64_t)v->u.items.n * e->size;
    if (bytes > UINT32_MAX)
        return kc_trap(cx, "list too long");
    uint32_t p;
    int rc = call_realloc(cx, 0, 0, e->align, (uint32_t)bytes, &p, FOR_LIST);
    for (uint32_t i = 0; !rc && i < v->u.items.n; i++)
        rc = store(cx, &v->u.items.items[i], e, p + i * e->size);
    *ptr = p;
    return rc;
}

static int
store(kc_cx *cx, const kumo_cval *v, const kumo_ctype *t, uint32_t ptr)
{
    uint8_t *m;
    uint32_t a = 0, b = 0;
    int rc;
    switch (t->kind) {
    case KUMO_CV_STRING:
    case KUMO_CV_LIST:
        rc = t->kind == KUMO_CV_STRING ? lower_string(cx, v, &a, &b)
                                       : store_list(cx, v, t->members[0], &a);
        if (t->kind == KUMO_CV_LIST)
            b = v->u.items.n;
        if (rc || (rc = mem_range(cx, ptr, 8, &m)))
            return rc;
        wr(m, a, 4);
        wr(m + 4, b, 4);
        return 0;
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        for (uint32_t i = 0; i < t->n; i++) {
            ptr = align_to(ptr, t->members[i]->align);
            if ((rc = store(cx, &v->u.items.items[i], t->members[i], ptr)))
                return rc;
            ptr += t->members[i]->size;
        }
        return 0;
    case KUMO_CV_FLAGS:
        if ((rc = mem_range(cx, ptr, t->size, &m)))
            return rc;
        wr(m, v->u.flags.bits, t->size);
        return 0;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT: {
        uint32_t nc = ncases(t), ds = disc_size(nc), d = v->u.var.disc;
        if ((rc = mem_range(cx, ptr, ds, &m)))
            return rc;
        wr(m, d, ds);
        const kumo_ctype *ct = case_type(t, d);
        if (!ct)
            return 0;
        return store(cx, v->u.var.payload, ct,
                     align_to(ptr + ds, max_case_align(t)));
    }
    case KUMO_CV_OWN:
    case KUMO_CV_BORROW:
        if ((rc = lower_handle(cx, t, v, &a)) ||
            (rc = mem_range(cx, ptr, 4, &m)))
            return rc;
        wr(m, a, 4);
        return 0;
    default:
        if ((rc = mem_range(cx, ptr, t->size, &m)))
            return rc;
        wr(m, scalar_bits(v), t->size);
        return 0;
    }
}

/* ---- flat values */

typedef struct flat_iter {
    const kumo_val *v;
    uint32_t i, n;
} flat_iter;

static uint64_t
next_flat(flat_iter *it)
{
    return it->i < it->n ? it->v[it->i++] : 0;
}

static int
lift_flat(kc_cx *cx, flat_iter *it, const kumo_ctype *t, kumo_cval *v)
{
    int rc;
    switch (t->kind) {
    case KUMO_CV_STRING:
    case KUMO_CV_LIST: {
        uint32_t p = (uint32_t)next_flat(it), n = (uint32_t)next_flat(it);
        if (t->kind == KUMO_CV_STRING)
            return lift_string(cx, p, n, v);
        return load_list(cx, p, n, t->members[0], v);
    }
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        rc = new_items(v, t->kind, t->n);
        for (uint32_t i = 0; !rc && i < t->n; i++)
            rc = lift_flat(cx, it, t->members[i], &v->u.items.items[i]);
        return rc;
    case KUMO_CV_FLAGS:
        v->kind = KUMO_CV_FLAGS;
        v->u.flags.n = t->n;
        v->u.flags.bits = (uint32_t)next_flat(it) &
                          (t->n >= 32 ? 0xffffffffu : (1u << t->n) - 1);
        return 0;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT: {
        uint32_t nc = ncases(t), d = (uint32_t)next_flat(it);
        uint32_t end = it->i + t->nflat - 1;
        if (d >= nc)
            return kc_trap(cx, "invalid variant discriminant");
        const kumo_ctype *ct = case_type(t, d);
        if ((rc = new_case(v, case_kind(t), d, ct != NULL)))
            return rc;
        if (ct && (rc = lift_flat(cx, it, ct, v->u.var.payload)))
            return rc;
        it->i = end;
        return 0;
    }
    default:
        return scalar(cx, t, next_flat(it), v);
    }
}

static int
lower_flat(kc_cx *cx, const kumo_cval *v, const kumo_ctype *t, kumo_val *out,
           uint32_t *k)
{
    int rc;
    uint32_t a = 0, b = 0;
    switch (t->kind) {
    case KUMO_CV_STRING:
        if ((rc = lower_string(cx, v, &a, &b)))
            return rc;
        out[(*k)++] = a;
        out[(*k)++] = b;
        return 0;
    case KUMO_CV_LIST:
        if ((rc = store_list(cx, v, t->members[0], &a)))
            return rc;
        out[(*k)++] = a;
        out[(*k)++] = v->u.items.n;
        return 0;
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        for (uint32_t i = 0; i < t->n; i++)
            if ((rc = lower_flat(cx, &v->u.items.items[i], t->members[i], out,
                                 k)))
                return rc;
        return 0;
    case KUMO_CV_FLAGS:
        out[(*k)++] = v->u.flags.bits;
        return 0;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT: {
        uint32_t end = *k + t->nflat;
        out[(*k)++] = v->u.var.disc;
        const kumo_ctype *ct = case_type(t, v->u.var.disc);
        if (ct && (rc = lower_flat(cx, v->u.var.payload, ct, out, k)))
            return rc;
        while (*k < end)
            out[(*k)++] = 0;
        return 0;
    }
    case KUMO_CV_OWN:
    case KUMO_CV_BORROW:
        if ((rc = lower_handle(cx, t, v, &a)))
            return rc;
        out[(*k)++] = a;
        return 0;
    default:
        out[(*k)++] = scalar_bits(v);
        return 0;
    }
}

/* ---- handles */

static int
lift_handle(kc_cx *cx, const kumo_ctype *t, uint32_t i, kumo_cval *v)
{
    uint32_t rep = 0;
    int rc;
    if (t->kind == KUMO_CV_OWN) {
        if ((rc = kc_handle_take_own(cx, cx->inst, i, t->res, &rep)))
            return rc;
    } else {
        kc_handle *h = NULL;
        if ((rc = kc_handle_get(cx, cx->inst, i, t->res, &h)))
            return rc;
        rep = h->rep;
        if (h->own && cx->call) {
            if (kc_call_lend(cx->call, cx->inst, i))
                return KUMO_ENOMEM;
            h->lend_count++;
        }
    }
    v->kind = t->kind;
    v->u.handle.type = t->res;
    v->u.handle.rep = rep;
    return 0;
}

static int
lower_handle(kc_cx *cx, const kumo_ctype *t, const kumo_cval *v,
             uint32_t *out)
{
    uint32_t rep = v->u.handle.rep;
    if (t->kind == KUMO_CV_OWN)
        return kc_handle_add(cx, cx->inst, t->res, rep, true, NULL, out);
    if (t->res->guest && kc_res_impl(cx->top, t->res) == cx->inst) {
        *out = rep;
        return 0;
    }
    if (cx->call)
        cx->call->nborrows++;
    return kc_handle_add(cx, cx->inst, t->res, rep, false, cx->call, out);
}

/* ---- groups of values (params, results) */

static void
tuple_layout(const kumo_ctype *const *ts, uint32_t n, uint32_t *size,
             uint32_t *align, uint32_t *nflat)
{
    uint32_t s = 0, a = 1, f = 0;
    for (uint32_t i = 0; i < n; i++) {
        s = align_to(s, ts[i]->align) + ts[i]->size;
        if (ts[i]->align > a)
            a = ts[i]->align;
        f += ts[i]->nflat;
    }
    *size = align_to(s, a);
    *align = a;
    *nflat = f;
}

static int
check_ptr(kc_cx *cx, uint32_t ptr, uint32_t size, uint32_t align)
{
    if (ptr != align_to(ptr, align))
        return kc_trap(cx, "unaligned pointer");
    if ((uint64_t)ptr + size > mem_size(cx))
        return kc_trap(cx, "out of bounds memory access");
    return 0;
}

int
kc_lift_values(kc_cx *cx, const kumo_ctype *const *ts, uint32_t n,
               const kumo_val *in, uint32_t nin, uint32_t max_flat,
               kumo_cval *vs)
{
    uint32_t size, align, nflat;
    int rc = 0;
    tuple_layout(ts, n, &size, &align, &nflat);
    if (nflat > max_flat) {
        uint32_t ptr = nin ? (uint32_t)in[0] : 0;
        if ((rc = check_ptr(cx, ptr, size, align)))
            return rc;
        for (uint32_t i = 0; !rc && i < n; i++) {
            ptr = align_to(ptr, ts[i]->align);
            rc = load(cx, ptr, ts[i], &vs[i]);
            ptr += ts[i]->size;
        }
    } else {
        flat_iter it = {in, 0, nin};
        for (uint32_t i = 0; !rc && i < n; i++)
            rc = lift_flat(cx, &it, ts[i], &vs[i]);
    }
    if (rc)
        kumo_cvals_free(vs, n);
    return rc;
}

int
kc_lower_values(kc_cx *cx, const kumo_ctype *const *ts, uint32_t n,
                const kumo_cval *vs, uint32_t max_flat, bool has_retptr,
                uint32_t retptr, kumo_val *out, uint32_t *nout)
{
    uint32_t size, align, nflat, k = 0;
    int rc = 0;
    tuple_layout(ts, n, &size, &align, &nflat);
    if (nflat > max_flat) {
        uint32_t ptr = retptr;
        if (!has_retptr) {
            if ((rc = call_realloc(cx, 0, 0, align, size, &ptr, FOR_TUPLE)))
                return rc;
            out[k++] = ptr;
        }
        if ((rc = check_ptr(cx, ptr, size, align)))
            return rc;
        for (uint32_t i = 0; !rc && i < n; i++) {
            ptr = align_to(ptr, ts[i]->align);
            rc = store(cx, &vs[i], ts[i], ptr);
            ptr += ts[i]->size;
        }
    } else {
        for (uint32_t i = 0; !rc && i < n; i++)
            rc = lower_flat(cx, &vs[i], ts[i], out, &k);
    }
    *nout = k;
    return rc;
}

int
kc_core_sig(kc_arena *a, const kumo_ctype *ft, bool lower, kumo_functype *out)
{
    uint32_t np = 0, nr = 0;
    for (uint32_t i = 0; i < ft->n; i++)
        np += ft->members[i]->nflat;
    if (ft->result)
        nr = ft->result->nflat;
    bool spill_params = np > KC_MAX_FLAT_PARAMS;
    bool spill_results = nr > KC_MAX_FLAT_RESULTS;
    uint32_t cp = spill_params ? 1 : np;
    uint32_t cr = spill_results ? (lower ? 0 : 1) : nr;
    if (lower && spill_results)
        cp++;
    kumo_valtype *p = kc_alloc(a, (cp + cr + 1) * sizeof *p);
    if (!p)
        return KUMO_ENOMEM;
    uint32_t k = 0;
    if (spill_params) {
        p[k++] = KUMO_I32;
    } else {
        for (uint32_t i = 0; i < ft->n; i++)
            for (uint32_t j = 0; j < ft->members[i]->nflat; j++)
                p[k++] = (kumo_valtype)ft->members[i]->flat[j];
    }
    if (lower && spill_results)
        p[k++] = KUMO_I32;
    uint32_t r0 = k;
    if (spill_results && !lower)
        p[k++] = KUMO_I32;
    else if (!spill_results)
        for (uint32_t j = 0; j < nr; j++)
            p[k++] = (kumo_valtype)ft->result->flat[j];
    out->nparams = cp;
    out->nresults = cr;
    out->params = p;
    out->results = p + r0;
    return 0;
}

/* ---- checking host-supplied values against their types */

int
kc_check_value(const kumo_ctype *t, const kumo_cval *v)
{
    switch (t->kind) {
    case KUMO_CV_STRING:
        if (v->kind != KUMO_CV_STRING ||
            (v->u.str.len && !v->u.str.ptr) ||
            !kb_utf8_valid((const uint8_t *)v->u.str.ptr, v->u.str.len))
            return KUMO_EINVAL;
        return 0;
    case KUMO_CV_LIST:
        if (v->kind != KUMO_CV_LIST || (v->u.items.n && !v->u.items.items))
            return KUMO_EINVAL;
        for (uint32_t i = 0; i < v->u.items.n; i++)
            if (kc_check_value(t->members[0], &v->u.items.items[i]))
                return KUMO_EINVAL;
        return 0;
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        if (v->kind != t->kind || v->u.items.n != t->n)
            return KUMO_EINVAL;
        for (uint32_t i = 0; i < t->n; i++)
            if (kc_check_value(t->members[i], &v->u.items.items[i]))
                return KUMO_EINVAL;
        return 0;
    case KUMO_CV_FLAGS:
        return v->kind == KUMO_CV_FLAGS ? 0 : KUMO_EINVAL;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT: {
        if (v->kind != t->kind || v->u.var.disc >= ncases(t))
            return KUMO_EINVAL;
        const kumo_ctype *ct = case_type(t, v->u.var.disc);
        if (!ct)
            return 0;
        return v->u.var.payload ? kc_check_value(ct, v->u.var.payload)
                                : KUMO_EINVAL;
    }
    case KUMO_CV_CHAR:
        if (v->kind != KUMO_CV_CHAR || v->u.ch >= 0x110000 ||
            (v->u.ch >= 0xd800 && v->u.ch <= 0xdfff))
            return KUMO_EINVAL;
        return 0;
    case KUMO_CV_OWN:
    case KUMO_CV_BORROW:
        if ((v->kind != KUMO_CV_OWN && v->kind != KUMO_CV_BORROW) ||
            v->u.handle.type != t->res)
            return KUMO_EINVAL;
        return 0;
    default:
        return v->kind == t->kind ? 0 : KUMO_EINVAL;
    }
}
