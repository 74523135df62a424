/* guard.c - the guard-page trap: a fault inside a guarded memory's
 * reservation while a guest call runs on this thread becomes
 * KUMO_ETRAP_MEMORY_OOB at that call's boundary.
 *
 * One SIGSEGV/SIGBUS handler is installed per process, the first time a
 * memory is reserved. Each ke_guard_call pushes a recovery point (a
 * sigjmp_buf and the store) on a per-thread list; the handler checks the
 * innermost point's store for a guarded memory containing the fault
 * address and siglongjmps there. Any other fault is passed on to the
 * handler that was installed before ours (or the default action, which
 * re-faults and kills the process as if we were not there).
 *
 * The handler runs with SA_NODEFER so that SIGSEGV is not left blocked
 * after the longjmp; that lets sigsetjmp skip saving the signal mask
 * (a system call) on every call. A fault in host code called from the
 * guest skips that host code's cleanup: touching guest memory out of
 * bounds from the host is a host bug, but it traps rather than crashes. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include "memory.h"

typedef struct guard_point {
    sigjmp_buf jb;
    kumo_store *store;
    uint32_t depth;
    kumo_val *sp_free;
    struct guard_point *prev;
} guard_point;

static _Thread_local guard_point *top;

void
ke_guard_swap_top(void **p)
{
    guard_point *t = top;
    top = *p;
    *p = t;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int installed; /* 1 in place, -1 refused */
static struct sigaction prev_segv, prev_bus;

static bool
ours(const kumo_store *s, uintptr_t a)
{
    for (uint32_t i = 0; i < s->nmems; i++) {
        const kumo_memory *m = s->mems[i];
        uintptr_t base = (uintptr_t)m->data;
        if (m->guarded && a >= base && a - base < m->reserved)
            return true;
    }
    return false;
}

/* Hand a fault that is not ours to whoever handled it before us. */
static void
chain(int sig, siginfo_t *si, void *ctx)
{
    const struct sigaction *pa = sig == SIGSEGV ? &prev_segv : &prev_bus;
    if (pa->sa_flags & SA_SIGINFO) {
        pa->sa_sigaction(sig, si, ctx);
        return;
    }
    if (pa->sa_handler != SIG_DFL && pa->sa_handler != SIG_IGN) {
        pa->sa_handler(sig);
        return;
    }
    /* Default action: restore it; a real fault repeats on return and
     * terminates the process, a sent signal is raised again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void
handler(int sig, siginfo_t *si, void *ctx)
{
    guard_point *p = top;
    if (p && si->si_code > 0 && ours(p->store, (uintptr_t)si->si_addr))
        siglongjmp(p->jb, 1);
    chain(sig, si, ctx);
}

static void
install(void)
{
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    installed = -1;
    if (sigaction(SIGSEGV, &sa, &prev_segv))
        return;
    if (sigaction(SIGBUS, &sa, &prev_bus)) {
        sigaction(SIGSEGV, &prev_segv, NULL);
        return;
    }
    /* A sanitizer may pretend to install it and keep its own. */
    if (sigaction(SIGSEGV, NULL, &cur) == 0 &&
        (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == handler)
        installed = 1;
}

bool
ke_guard_available(void)
{
    pthread_once(&once, install);
    return installed > 0;
}

int
ke_guard_call(kumo_store *s, kumo_func *f, kumo_val *sp)
{
    guard_point p;
    p.store = s;
    p.depth = s->depth;
    p.sp_free = s->sp_free;
    p.prev = top;
    /* p is not modified after sigsetjmp, so it is intact after a jump. */
    if (sigsetjmp(p.jb, 0)) {
        top = p.prev;
        s->depth = p.depth;
        s->sp_free = p.sp_free;
        return ke_trap(s, KUMO_ETRAP_MEMORY_OOB);
    }
    top = &p;
    int rc = ke_interp_call(s, f, sp);
    top = p.prev;
    return rc;
}
