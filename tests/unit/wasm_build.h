/* wasm_build.h - a tiny writer of WebAssembly binaries for tests and
 * benchmarks: a growable byte buffer, LEB128, names and sections. Bodies
 * and constant expressions are written as raw bytes by the caller. */
#ifndef KUMO_TESTS_WASM_BUILD_H
#define KUMO_TESTS_WASM_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct wb {
    uint8_t *p;
    size_t n, cap;
} wb;

/* Out of line: keeps GCC's -Warray-bounds from tracking the realloc. */
static __attribute__((noinline)) uint8_t *
wb_room(wb *b, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->n;
    b->n += n;
    return at;
}

static inline void
wb_bytes(wb *b, const void *data, size_t n)
{
    uint8_t *at = wb_room(b, n);
    if (n)
        memcpy(at, data, n);
}

static inline void
wb_byte(wb *b, uint8_t v)
{
    wb_bytes(b, &v, 1);
}

static inline void
wb_u32(wb *b, uint32_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        wb_byte(b, (uint8_t)(c | (v ? 0x80 : 0)));
    } while (v);
}

static inline void
wb_s32(wb *b, int32_t v)
{
    for (;;) {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7; /* arithmetic shift on every compiler we use */
        if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
            wb_byte(b, c);
            return;
        }
        wb_byte(b, c | 0x80);
    }
}

static inline void
wb_name(wb *b, const char *s)
{
    wb_u32(b, (uint32_t)strlen(s));
    wb_bytes(b, s, strlen(s));
}

/* `i32.const v end` */
static inline void
wb_i32_expr(wb *b, int32_t v)
{
    wb_byte(b, 0x41);
    wb_s32(b, v);
    wb_byte(b, 0x0b);
}

/* Append section id with body's bytes to out and reset body. */
static inline void
wb_section(wb *out, uint8_t id, wb *body)
{
    wb_byte(out, id);
    wb_u32(out, (uint32_t)body->n);
    wb_bytes(out, body->p, body->n);
    body->n = 0;
}

static inline void
wb_header(wb *out)
{
    wb_bytes(out, "\0asm\1\0\0\0", 8);
}

/* A function body: no locals, the given instructions (with their end). */
static inline void
wb_body(wb *b, const void *code, size_t n)
{
    wb_u32(b, (uint32_t)n + 1);
    wb_byte(b, 0);
    wb_bytes(b, code, n);
}

static inline void
wb_free(wb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

#endif
