/* reader.c - bounded byte cursor: LEB128, floats, UTF-8 names, with the
 * WebAssembly spec's messages for malformed encodings. */
#include "base.h"

int
kb_eof(kb_reader *r)
{
    return kb_diag(r->diag, KUMO_EMALFORMED, kb_offset(r), "%s",
                   r->eof_msg ? r->eof_msg : "unexpected end");
}

int
kb_read_u8(kb_reader *r, uint8_t *out)
{
    if (r->p >= r->end)
        return kb_eof(r);
    *out = *r->p++;
    return 0;
}

int
kb_read_bytes(kb_reader *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return kb_diag(r->diag, KUMO_EMALFORMED, kb_offset(r),
                       "%s", r->eof_msg ? r->eof_msg : "unexpected end");
    *out = r->p;
    r->p += n;
    return 0;
}

/* Unsigned LEB128 of at most `bits` bits. */
static int
read_uleb(kb_reader *r, unsigned bits, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; i++) {
        if (r->p >= r->end)
            return kb_eof(r);
        uint8_t b = *r->p++;
        if (i == max_bytes - 1) {
            /* Last byte: continuation bit set is too long; bits beyond
             * `bits` must be zero. */
            if (b & 0x80)
                return kb_diag(r->diag, KUMO_EMALFORMED, kb_offset(r) - 1,
                               "integer representation too long");
            unsigned used = bits - shift;
            if (used < 7 && (b >> used) != 0)
                return kb_diag(r->diag, KUMO_EMALFORMED, kb_offset(r) - 1,
                               "integer too large");
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    *out = v;
    return 0;
}

/* Signed LEB128 of at most `bits` bits. */
static int
read_sleb(kb_reader *r, unsigned bits, int64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    unsigned max_bytes = (bits + 6) / 7;
    uint8_t b;
    for (unsigned i = 0;; i++) {
        if (r->p >= r->end)
            return kb_eof(r);
        b = *r->p++;
        if (i == max_bytes - 1) {
            if (b & 0x80)
                return kb_diag(r->diag, KUMO_EMALFORMED, kb_offset(r) - 1,
                               "integer representation too long");
            /* The unused high bits must all equal the sign bit. */
            unsigned used = bits - shift; /* 1..7 meaningful bits */
            if (used < 7) {
                int8_t sb = (int8_t)(b << 1) >> 1; /* sign-extend 7 bits */
                int8_t top = (int8_t)(sb >> (used - 1));
                if (top != 0 && top != -1)
                    return kb_diag(r->diag, KUMO_EMALFORMED,
                                   kb_offset(r) - 1, "integer too large");
            }
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    *out = (int64_t)v;
    return 0;
}

int
kb_read_u32(kb_reader *r, uint32_t *out)
{
    uint64_t v;
    int rc = read_uleb(r, 32, &v);
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

int
kb_read_u64(kb_reader *r, uint64_t *out)
{
    return read_uleb(r, 64, out);
}

int
kb_read_s32(kb_reader *r, int32_t *out)
{
    int64_t v;
    int rc = read_sleb(r, 32, &v);
    if (rc == 0)
        *out = (int32_t)v;
    return rc;
}

int
kb_read_s33(kb_reader *r, int64_t *out)
{
    return read_sleb(r, 33, out);
}

int
kb_read_s64(kb_reader *r, int64_t *out)
{
    return read_sleb(r, 64, out);
}

int
kb_read_f32(kb_reader *r, uint32_t *bits)
{
    const uint8_t *b = NULL;
    int rc = kb_read_bytes(r, 4, &b);
    if (rc)
        return rc;
    *bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
            (uint32_t)b[3] << 24;
    return 0;
}

int
kb_read_f64(kb_reader *r, uint64_t *bits)
{
    const uint8_t *b = NULL;
    int rc = kb_read_bytes(r, 8, &b);
    if (rc)
        return rc;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    *bits = v;
    return 0;
}

int
kb_read_name(kb_reader *r, const uint8_t **out, uint32_t *len)
{
    uint32_t n;
    int rc = kb_read_u32(r, &n);
    if (rc)
        return rc;
    size_t at = kb_offset(r);
    if ((rc = kb_read_bytes(r, n, out)))
        return rc;
    if (!kb_utf8_valid(*out, n))
        return kb_diag(r->diag, KUMO_EMALFORMED, at,
                       "malformed UTF-8 encoding");
    *len = n;
    return 0;
}

bool
kb_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len;
        if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f;
            len = 2;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f;
            len = 3;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07;
            len = 4;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

size_t
kb_utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}
