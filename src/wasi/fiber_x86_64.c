/* fiber_x86_64.c - the stack switch on x86-64 (see fiber_ctx.h): no
 * system call, about twenty instructions.
 *
 * kx_ctx_switch(from, to) is called like any function, so the compiler
 * already keeps everything the System V ABI lets a callee clobber; what a
 * callee must preserve is saved on the running stack: rbp, rbx, r12-r15,
 * the MXCSR control bits and the x87 control word. The stack pointer
 * then goes to from->sp, the other stack's pointer comes from to->sp, and
 * the same frame is popped there. Unlike swapcontext the signal mask is
 * not switched: every fiber of a thread shares the thread's mask (Kumo
 * never changes it per fiber; guard.c's handler uses SA_NODEFER, so a
 * trap's siglongjmp leaves nothing blocked).
 *
 * A new stack gets the frame a switch would have saved, with its return
 * address at kx_ctx_start, which calls fn (kept in r13) with rbp zero
 * and a CFI rule marking the outermost frame, so debuggers and ASan's
 * unwinder stop there. */
#include "fiber_ctx.h"

#if KX_FIBER_ASM
#include <stdint.h>

const char kx_ctx_backend[] = "x86-64 asm";

void kx_ctx_start(void);

/* The frame, lowest address first: MXCSR (4 bytes) and x87 CW (2),
 * r15, r14, r13, r12, rbx, rbp, return address. */
__asm__(".pushsection .text\n"
        ".globl kx_ctx_switch\n"
        ".hidden kx_ctx_switch\n"
        ".type kx_ctx_switch, @function\n"
        ".p2align 4\n"
        "kx_ctx_switch:\n"
        "    .cfi_startproc\n"
        "    pushq %rbp\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %rbx\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r12\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r13\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r14\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r15\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    subq $8, %rsp\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq (%rsi), %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r15\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r14\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r13\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r12\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %rbx\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %rbp\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size kx_ctx_switch, .-kx_ctx_switch\n"
        "\n"
        ".globl kx_ctx_start\n"
        ".hidden kx_ctx_start\n"
        ".type kx_ctx_start, @function\n"
        ".p2align 4\n"
        "kx_ctx_start:\n"
        "    .cfi_startproc\n"
        "    .cfi_undefined rip\n"
        "    callq *%r13\n"
        "    ud2\n" /* fn never returns */
        "    .cfi_endproc\n"
        ".size kx_ctx_start, .-kx_ctx_start\n"
        ".popsection\n");

void
kx_ctx_make(kx_ctx *c, void *stack, size_t size, void (*fn)(void))
{
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    /* 8 slots of frame and 16 bytes above: after the final ret the stack
     * pointer is top - 16, 16-byte aligned for kx_ctx_start's call. */
    uint64_t *sp = (uint64_t *)(top - 80);
    uint32_t mxcsr;
    uint16_t fpucw;

    /* The new stack starts with this thread's modes (like getcontext). */
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fpucw));
    sp[0] = (uint64_t)mxcsr | (uint64_t)fpucw << 32;
    sp[1] = 0;             /* r15 */
    sp[2] = 0;             /* r14 */
    sp[3] = (uintptr_t)fn; /* r13: what kx_ctx_start calls */
    sp[4] = 0;             /* r12 */
    sp[5] = 0;             /* rbx */
    sp[6] = 0;             /* rbp: the end of the frame chain */
    sp[7] = (uintptr_t)kx_ctx_start;
    sp[8] = 0;
    sp[9] = 0;
    c->sp = sp;
}

#endif
