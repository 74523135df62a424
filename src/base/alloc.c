/* alloc.c - the one allocation hook every libkumo allocation goes through. */
#include <stdlib.h>

#include "base.h"

static void *
default_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

static kumo_alloc_fn hook = default_alloc;
static void *hook_ud;

void
kumo_set_allocator(kumo_alloc_fn fn, void *ud)
{
    hook = fn ? fn : default_alloc;
    hook_ud = fn ? ud : NULL;
}

/* Each block carries its size in a header aligned for any type, so that
 * callers can free without remembering sizes and the hook still sees them. */
#define HDR 16

void *
kb_realloc(void *ptr, size_t size)
{
    size_t old = 0;
    uint8_t *blk = NULL;
    if (ptr) {
        blk = (uint8_t *)ptr - HDR;
        memcpy(&old, blk, sizeof old);
    }
    if (size == 0) {
        if (blk)
            hook(hook_ud, blk, old + HDR, 0);
        return NULL;
    }
    if (size > SIZE_MAX - HDR)
        return NULL;
    uint8_t *nb = hook(hook_ud, blk, blk ? old + HDR : 0, size + HDR);
    if (!nb)
        return NULL;
    memcpy(nb, &size, sizeof size);
    return nb + HDR;
}

void *
kb_malloc(size_t size)
{
    return kb_realloc(NULL, size ? size : 1);
}

void *
kb_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = kb_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void
kb_free(void *ptr)
{
    if (ptr)
        kb_realloc(ptr, 0);
}

char *
kb_strndup(const char *s, size_t n)
{
    char *d = kb_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int
kb_reserve(void **items, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint64_t ncap = *cap ? (uint64_t)*cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    if (ncap * elem > SIZE_MAX / 2)
        return KUMO_ENOMEM;
    void *p = kb_realloc(*items, (size_t)ncap * elem);
    if (!p)
        return KUMO_ENOMEM;
    *items = p;
    *cap = (uint32_t)ncap;
    return 0;
}
