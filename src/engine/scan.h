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
    uint32_t x, y;     /* index immediates; memarg: x = align, y = offset;
                          memory.copy: x = dst memory, y = src memory */
    uint32_t mem;      /* memory index of a memarg, memory.size/grow/fill/init */
    int64_t bt;        /* block type: >= 0 type index, else see t */
    uint64_t bits;     /* constants */
    uint32_t ntargets; /* br_table: labels before the default */
    const uint8_t *targets; /* br_table: the label vector */
    uint32_t nt;            /* select t*: number of types */
    ke_valtype t;           /* block/select/ref.null type, 0x40 = none */
    uint32_t ncatch;        /* try_table: catch clauses */
    const uint8_t *catches; /* try_table: the clause vector */
} ke_instr;

/* A try_table catch clause (kind: 0 catch, 1 catch_ref, 2 catch_all,
 * 3 catch_all_ref; tag is KE_NONE for the catch_all forms). */
typedef struct ke_catch {
    uint8_t kind;
    uint32_t tag, label;
} ke_catch;

/* Read the next clause of a try_table's vector (already checked by
 * ke_read_instr). */
void ke_read_catch(kb_reader *r, ke_catch *c);

/* Decode the instruction at r into in: 0 or a malformed error (spec
 * message, diagnostic through r->diag). */
int ke_read_instr(kb_reader *r, const kumo_module *m, ke_instr *in);

/* ke_scan_func, also giving the deepest nesting of legacy `try`
 * blocks (max_try may be NULL). */
int ke_scan_body(const kumo_module *m, uint32_t fidx, kumo_diag *diag,
                 uint32_t *max_try);

/* A reader over the body of defined function fidx of m. */
void ke_body_reader(const kumo_module *m, uint32_t fidx, kumo_diag *diag,
                    kb_reader *r);

#endif
