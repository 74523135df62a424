/* fiber_ucontext.c - the portable stack switch (see fiber_ctx.h):
 * makecontext/swapcontext. glibc's swapcontext saves and restores the
 * signal mask, one rt_sigprocmask system call per switch; the x86-64
 * backend avoids that. */
#include "fiber_ctx.h"

#if !KX_FIBER_ASM

const char kx_ctx_backend[] = "ucontext";

void
kx_ctx_make(kx_ctx *c, void *stack, size_t size, void (*fn)(void))
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, fn, 0);
}

void
kx_ctx_switch(kx_ctx *from, kx_ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

#endif
