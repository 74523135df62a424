/* base.h - internal base layer: allocation, growable arrays, diagnostics,
 * the byte reader with LEB128 and UTF-8. Prefix kb_. */
#ifndef KUMO_SRC_BASE_H
#define KUMO_SRC_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kumo/base.h"

/* ---- allocation (alloc.c). All go through the hook of kumo_set_allocator.
 * kb_free and kb_realloc do not need the size: a small header keeps it. */
void *kb_malloc(size_t size);
void *kb_calloc(size_t n, size_t size); /* zeroed; NULL on overflow too */
void *kb_realloc(void *ptr, size_t size);
void kb_free(void *ptr);
char *kb_strndup(const char *s, size_t n);

/* Grow *items (element size elem) so that it holds at least need elements.
 * *cap is updated. Returns 0 or KUMO_ENOMEM (the array is left intact). */
int kb_reserve(void **items, uint32_t *cap, uint32_t need, size_t elem);

/* ---- diagnostics (diag.c) */
/* Fill d (may be NULL) and return code. */
int kb_diag(kumo_diag *d, int code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- reader (reader.c): a cursor over a byte range of a binary.
 * Every read returns 0 or a negative code after filling r->diag with the
 * spec's message ("unexpected end", "integer representation too long",
 * "integer too large", "malformed UTF-8 encoding") at the offending offset
 * (offset = position from r->base). */
typedef struct kb_reader {
    const uint8_t *base; /* start of the whole binary (for offsets) */
    const uint8_t *p;    /* cursor */
    const uint8_t *end;  /* end of the current range */
    kumo_diag *diag;     /* may be NULL */
    const char *eof_msg; /* message at end of range; default
                            "unexpected end" */
} kb_reader;

static inline size_t
kb_offset(const kb_reader *r)
{
    return (size_t)(r->p - r->base);
}

static inline bool
kb_at_end(const kb_reader *r)
{
    return r->p >= r->end;
}

int kb_eof(kb_reader *r); /* reports r->eof_msg, returns KUMO_EMALFORMED */
int kb_read_u8(kb_reader *r, uint8_t *out);
int kb_read_bytes(kb_reader *r, size_t n, const uint8_t **out);
int kb_read_u32(kb_reader *r, uint32_t *out);  /* unsigned LEB128, <=5 bytes */
int kb_read_s32(kb_reader *r, int32_t *out);   /* signed LEB128, <=5 bytes */
int kb_read_s33(kb_reader *r, int64_t *out);   /* block types */
int kb_read_s64(kb_reader *r, int64_t *out);   /* signed LEB128, <=10 bytes */
int kb_read_u64(kb_reader *r, uint64_t *out);  /* unsigned LEB128, <=10 */
int kb_read_f32(kb_reader *r, uint32_t *bits); /* little-endian raw bits */
int kb_read_f64(kb_reader *r, uint64_t *bits);
/* A name: u32 length then UTF-8 bytes (validated). Not NUL-terminated. */
int kb_read_name(kb_reader *r, const uint8_t **out, uint32_t *len);

/* Write the UTF-8 encoding of code point cp (at most U+10FFFF, not a
 * surrogate: the caller checks) to out, which has room for 4 bytes.
 * Returns the number of bytes written. */
size_t kb_utf8_put(char *out, uint32_t cp);

/* True when [s, s+n) is well-formed UTF-8 (no overlongs, no surrogates,
 * at most U+10FFFF). */
bool kb_utf8_valid(const uint8_t *s, size_t n);

#endif
