/* fiber.c - the execution model's core: each guest invocation runs on a
 * fiber, a stack of its own, so that a WASI call that must wait can
 * switch back to the libuv loop and let other invocations run, and the
 * loop switches into it again when its wait ends.
 *
 * Stacks (2 MiB, see STACK_SIZE) are mmap'd (committed as touched) with
 * a PROT_NONE guard page at their low end and kept in a small per-thread
 * pool. The switch itself is fiber_ctx.h's: a few instructions on x86-64
 * (fiber_x86_64.c), ucontext elsewhere (fiber_ucontext.c). Under
 * AddressSanitizer every switch is announced so ASan tracks which stack
 * is live, and a stack taken from the pool is unpoisoned first (ASan's
 * swapcontext interceptor did that for the ucontext backend; our own
 * switch is invisible to it). A fiber only ever switches to the loop's
 * stack and back: fibers never switch to each other, so there is no
 * scheduler state beyond "who resumed me". */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../base/base.h"
#include "fiber.h"
#include "fiber_ctx.h"
#include "kumo/engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define KX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KX_ASAN 1
#endif
#endif
#ifndef KX_ASAN
#define KX_ASAN 0
#endif

#if KX_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/* Usable bytes, committed as touched. Big enough for the deepest C
 * recursion the engine allows: host -> guest re-entry nests up to 1000
 * calls (store.c), about 880 bytes of stack each in a release build
 * (test_wasi_fiber.c prints it) and several times that under ASan. */
#if KX_ASAN
#define STACK_SIZE (8u << 20)
#else
#define STACK_SIZE (2u << 20)
#endif
#define POOL_MAX 16

struct kx_fiber {
    kx_ctx self;
    kx_ctx back; /* where suspend returns to */
    void *map;   /* guard page + stack */
    size_t map_size;
    uv_loop_t *loop;
    kx_fiber_fn fn;
    void (*done)(void *arg);
    void *arg;
    bool finished;
    /* The engine's per-thread state (guard-page recovery points, host
     * re-entry depth) belongs to whichever stack runs: swapped in on
     * enter, out when the fiber suspends or finishes. */
    kumo_exec_state exec;
    /* ASan bookkeeping: the loop stack we came from, the fake stack. */
    const void *back_bottom;
    size_t back_size;
    void *fake;
};

static _Thread_local kx_fiber *current;
static _Thread_local void *pool[POOL_MAX];
static _Thread_local int npool;
static size_t page_size;

static void *
stack_get(size_t *size)
{
    if (!page_size)
        page_size = (size_t)sysconf(_SC_PAGESIZE);
    *size = STACK_SIZE + page_size;
    if (npool > 0)
        return pool[--npool];
    void *m =
        mmap(NULL, *size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, page_size, PROT_NONE) < 0) { /* the guard page */
        munmap(m, *size);
        return NULL;
    }
    return m;
}

static void
stack_put(void *m, size_t size)
{
    if (npool < POOL_MAX) {
        pool[npool++] = m;
        return;
    }
    munmap(m, size);
}

void
kx_fiber_pool_trim(void)
{
    while (npool > 0)
        munmap(pool[--npool], STACK_SIZE + page_size);
}

kx_fiber *
kx_fiber_current(void)
{
    return current;
}

uv_loop_t *
kx_fiber_loop(const kx_fiber *f)
{
    return f->loop;
}

/* Switch from the loop's stack into f (resume/start). */
static void
enter(kx_fiber *f)
{
#if KX_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, (char *)f->map + page_size,
                                   STACK_SIZE);
#endif
    current = f;
    kumo_exec_state_swap(&f->exec);
    kx_ctx_switch(&f->back, &f->self);
    kumo_exec_state_swap(&f->exec);
    current = NULL;
#if KX_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

/* Switch from f back to the loop's stack. */
static void
leave(kx_fiber *f)
{
#if KX_ASAN
    __sanitizer_start_switch_fiber(f->finished ? NULL : &f->fake,
                                   f->back_bottom, f->back_size);
#endif
    kx_ctx_switch(&f->self, &f->back);
#if KX_ASAN
    __sanitizer_finish_switch_fiber(f->fake, &f->back_bottom, &f->back_size);
#endif
}

static void
trampoline(void)
{
    kx_fiber *f = current;
#if KX_ASAN
    __sanitizer_finish_switch_fiber(NULL, &f->back_bottom, &f->back_size);
#endif
    f->fn(f->arg);
    f->finished = true;
    leave(f); /* never returns */
}

static void
finish(kx_fiber *f)
{
    void (*done)(void *) = f->done;
    void *arg = f->arg;
    stack_put(f->map, f->map_size);
    kb_free(f);
    if (done)
        done(arg);
}

int
kx_fiber_start(uv_loop_t *loop, kx_fiber_fn fn, void *arg,
               void (*done)(void *arg))
{
    kx_fiber *f = kb_calloc(1, sizeof *f);
    if (!f)
        return KUMO_ENOMEM;
    f->map = stack_get(&f->map_size);
    if (!f->map) {
        kb_free(f);
        return KUMO_ENOMEM;
    }
    f->loop = loop;
    f->fn = fn;
    f->arg = arg;
    f->done = done;
#if KX_ASAN
    /* Frames a finished fiber left behind are still poisoned. */
    __asan_unpoison_memory_region((char *)f->map + page_size, STACK_SIZE);
#endif
    kx_ctx_make(&f->self, (char *)f->map + page_size, STACK_SIZE, trampoline);
    enter(f);
    if (f->finished)
        finish(f);
    return 0;
}

void
kx_fiber_suspend(void)
{
    kx_fiber *f = current;
    leave(f);
}

void
kx_fiber_resume(kx_fiber *f)
{
    enter(f);
    if (f->finished)
        finish(f);
}
