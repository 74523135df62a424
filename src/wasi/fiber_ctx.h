/* fiber_ctx.h - the stack switch under fiber.c, one backend per file:
 * fiber_x86_64.c (a few instructions and no system call: the callee-saved
 * registers, the stack pointer and the SSE/x87 control words) on x86-64,
 * fiber_ucontext.c (makecontext/swapcontext, which also saves and restores
 * the signal mask with a system call) everywhere else, or when
 * KX_FIBER_UCONTEXT is defined (bench/fiber builds the "before" that way).
 * Each backend file compiles to nothing when it is not the chosen one. */
#ifndef KUMO_SRC_WASI_FIBER_CTX_H
#define KUMO_SRC_WASI_FIBER_CTX_H

#include <stddef.h>

#if defined(__x86_64__) && !defined(KX_FIBER_UCONTEXT)
#define KX_FIBER_ASM 1
typedef struct kx_ctx {
    void *sp; /* the saved frame (fiber_x86_64.c) */
} kx_ctx;
#else
#define KX_FIBER_ASM 0
#include <ucontext.h>
typedef struct kx_ctx {
    ucontext_t uc;
} kx_ctx;
#endif

/* Prepare c so that the first switch to it runs fn on
 * [stack, stack + size). fn must never return: it ends by switching
 * away for the last time. */
void kx_ctx_make(kx_ctx *c, void *stack, size_t size, void (*fn)(void));

/* Save what runs now into from and continue in to; returns when another
 * switch names from as its destination. */
void kx_ctx_switch(kx_ctx *from, kx_ctx *to);

/* The backend's name, for benchmarks and messages. */
extern const char kx_ctx_backend[];

#endif
