/* preview1.h - what the two halves of the native wasi_snapshot_preview1
 * (preview1.c, preview1_fs.c) share: the call context and bounds-checked
 * access to guest memory. */
#ifndef KUMO_SRC_WASI_PREVIEW1_H
#define KUMO_SRC_WASI_PREVIEW1_H

#include "wasi.h"

/* One call: its caller (for memory) and the context. Functions return a
 * WASI errno (>= 0) or a trap code (< 0), which unwinds the guest. */
typedef struct kx_p1 {
    kumo_caller *caller;
    kumo_wasi_ctx *ctx;
} kx_p1;

/* Every function, declared from the table. */
#define KX_P1_DECLARE(name, params)                                            \
    int kx_p1_##name(kx_p1 *k, const kumo_val *a);
#define X KX_P1_DECLARE
#include "preview1.def"
#undef X
#undef KX_P1_DECLARE

/* [ptr, ptr+len) of memory 0, or NULL when out of bounds (the function
 * then returns KX_EFAULT). Valid until the call waits or returns. */
uint8_t *kx_p1_mem(kx_p1 *k, uint32_t ptr, uint64_t len);

static inline uint32_t
kx_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t
kx_ld64(const uint8_t *p)
{
    return (uint64_t)kx_ld32(p) | (uint64_t)kx_ld32(p + 4) << 32;
}

static inline void
kx_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void
kx_st32(uint8_t *p, uint32_t v)
{
    kx_st16(p, (uint16_t)v);
    kx_st16(p + 2, (uint16_t)(v >> 16));
}

static inline void
kx_st64(uint8_t *p, uint64_t v)
{
    kx_st32(p, (uint32_t)v);
    kx_st32(p + 4, (uint32_t)(v >> 32));
}

/* Store a u32 result at guest ptr: 0 or KX_EFAULT. */
int kx_p1_put32(kx_p1 *k, uint32_t ptr, uint32_t v);
int kx_p1_put64(kx_p1 *k, uint32_t ptr, uint64_t v);

/* Gather n guest iovecs (8 bytes each: ptr, len) at ptr into host ones
 * (*out, kb_free it; NULL when n is 0), each bounds-checked; at most
 * 1024 of them and 4 GiB - 1 in total are used (a shorter transfer, as
 * POSIX allows). Returns 0, KX_EFAULT or KX_ENOMEM; *n_used gets the
 * count. */
int kx_p1_iovecs(kx_p1 *k, uint32_t ptr, uint32_t n, struct iovec **out,
                 int *n_used);

/* Argument i as u32 / u64. */
#define A32(i) ((uint32_t)a[i])
#define A64(i) ((uint64_t)a[i])

/* Turn a typed operation's result (0 / -KX_E...) into the errno. */
#define KX_ERR(rc) ((rc) < 0 ? -(rc) : 0)

#endif
