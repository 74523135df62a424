/* fiber.h - guest invocations on their own stacks, driven by a libuv
 * loop (fiber.c). See "WASI and the execution model" in
 * docs/ARCHITECTURE.md. */
#ifndef KUMO_SRC_WASI_FIBER_H
#define KUMO_SRC_WASI_FIBER_H

#include <stdbool.h>
#include <uv.h>

typedef struct kx_fiber kx_fiber;
typedef void (*kx_fiber_fn)(void *arg);

/*
 * Start fn(arg) on a new fiber (a pooled stack with a guard page) bound
 * to loop, and run it at once until it first suspends or returns. Call
 * on the loop's thread, outside any fiber (the loop's own stack: inside
 * uv_run callbacks or before it). done(arg) (may be NULL) runs on the
 * loop's stack after fn returned and the fiber's stack was given back.
 * Returns 0 or KUMO_ENOMEM.
 */
int kx_fiber_start(uv_loop_t *loop, kx_fiber_fn fn, void *arg,
                   void (*done)(void *arg));

/* The fiber running now, or NULL on the loop's own stack. */
kx_fiber *kx_fiber_current(void);
uv_loop_t *kx_fiber_loop(const kx_fiber *f);

/* On a fiber: switch back to the stack that resumed it. Returns when
 * someone calls kx_fiber_resume on it. */
void kx_fiber_suspend(void);

/* From the loop's stack: run f until it suspends again or returns. */
void kx_fiber_resume(kx_fiber *f);

/* Unmap the stacks kept for reuse on this thread. */
void kx_fiber_pool_trim(void);

#endif
