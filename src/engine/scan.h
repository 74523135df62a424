/* scan.h - decoding function-body instructions (scan.c), shared by the
 * syntax scan (ke_scan_func, module.h) and the compiler (compile.c). */
#ifndef KUMO_SRC_ENGINE_SCAN_H
#define KUMO_SRC_ENGINE_SCAN_H

#include "module.h"

/* A decoded instruction. op is the opcode byte, or 0x100 | sub-opcode for
 * the 0xfc-prefixed ones. */
typedef struct ke_instr {
    size_t at;
    uint32_t op;
    uint32_t x, y;     /* index immediates; memarg: x = align, y = offset */
    int64_t bt;        /* block type: >= 0 type index, else see t */
    uint64_t bits;     /* constants */
    uint32_t ntargets; /* br_table: labels before the default */
    const uint8_t *targets; /* br_table: the label vector */
    uint32_t nt;            /* select t*: number of types */
    ke_valtype t;           /* block/select/ref.null type, 0x40 = none */
} ke_instr;

/* Decode the instruction at r into in: 0 or a malformed error (spec
 * message, diagnostic through r->diag). */
int ke_read_instr(kb_reader *r, const kumo_module *m, ke_instr *in);

/* A reader over the body of defined function fidx of m. */
void ke_body_reader(const kumo_module *m, uint32_t fidx, kumo_diag *diag,
                    kb_reader *r);

#endif
