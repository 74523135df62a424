/* pairs.c - running adjacent instructions as one pair superinstruction
 * (ops.def KE_PAIR): a peephole pass over the threaded copies of a
 * function's code (ke_code_thread).
 *
 * A pair keeps the words of both instructions where they are: only the
 * first opcode word changes (to the pair's handler), and the second
 * opcode word stays as an operand the pair's handler skips. So no code
 * moves, branch targets and handler ranges stay valid, and the pass
 * needs no relocation; it only has to avoid pairs whose second
 * instruction is a branch target (or an exception handler's boundary),
 * since a jump there would land inside the pair. A pair whose first
 * element is itself a pair is a chain of three (or more) instructions,
 * grown the same way. The opcode words (ke_code.words: dumps, checks,
 * tests) keep the separate instructions. */
#include <string.h>

#include "../base/base.h"
#include "code.h"

typedef struct pair {
    uint16_t a, b, op;
} pair;

static const pair pairs[] = {
#define KE_PAIR(name, a, b, fmt) {KE_OP_##a, KE_OP_##b, KE_OP_##name},
#define KE_PAIRM(name, a, b, fmt) {KE_OP_##a, KE_OP_##b, KE_OP_##name},
#include "ops.def"
};

/* Whether pair p's format is a's, "I", then b's (ops.def promises it;
 * checked here so that a wrong table entry only loses the pair). */
static bool
format_ok(const pair *p)
{
    const char *fa = ke_op_format(p->a), *fb = ke_op_format(p->b);
    const char *fp = ke_op_format(p->op);
    size_t na = strlen(fa);
    return strlen(fp) == na + 1 + strlen(fb) && !memcmp(fp, fa, na) &&
           fp[na] == 'I' && !strcmp(fp + na + 1, fb);
}

static uint16_t
find_pair(uint32_t a, uint32_t b)
{
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i].a == a && pairs[i].b == b)
            return format_ok(&pairs[i]) ? pairs[i].op : 0;
    return 0;
}

/* Mark in `label` every word a branch or handler can reach or that
 * bounds a handler's range. */
static void
mark_labels(const ke_code *c, uint8_t *label)
{
    for (uint32_t pc = 0, len; pc < c->nwords; pc += len) {
        uint32_t op = c->words[pc], k = pc + 1;
        if (!(len = ke_code_instr_len(c, pc)))
            return;
        for (const char *f = ke_op_format(op); *f; f++, k++) {
            if (*f == 'T' && c->words[k] < c->nwords)
                label[c->words[k]] = 1;
            else if (*f == 'L')
                k++;
        }
        if (op == KE_OP_BR_TABLE)
            for (; k < pc + len; k++)
                if (c->words[k] < c->nwords)
                    label[c->words[k]] = 1;
    }
    for (uint32_t i = 0; i < c->nhandlers; i++) {
        const ke_handler *h = &c->handlers[i];
        uint32_t at[3] = {h->start, h->end, h->target};
        for (int j = 0; j < 3; j++)
            if (at[j] < c->nwords)
                label[at[j]] = 1;
    }
}

/* Branch targets of the instruction at run[at] (threaded: deltas from
 * `at`) become deltas from `pc` (the pair's start, at - pc words
 * before). */
static void
rebase_targets(const ke_code *c, uint32_t at, uint32_t pc, uint32_t *run)
{
    uint32_t k = at + 1;
    for (const char *f = ke_op_format(c->words[at]); *f; f++, k++) {
        if (*f == 'T')
            run[k] += at - pc;
        else if (*f == 'L')
            k++;
    }
}

int
ke_code_pair(const ke_code *c, uint32_t *run0, uint32_t *run1)
{
    const int32_t *h = ke_interp_handlers(false);
    const int32_t *hu = ke_interp_handlers(true);
    uint8_t *label = kb_calloc(c->nwords + 1, 1);
    if (!label)
        return KUMO_ENOMEM;
    mark_labels(c, label);
    for (uint32_t pc = 0, len; pc < c->nwords; pc += len) {
        if (!(len = ke_code_instr_len(c, pc)))
            break;
        uint32_t next = pc + len, len2, op;
        if (next >= c->nwords || label[next] ||
            !(len2 = ke_code_instr_len(c, next)) ||
            !(op = find_pair(c->words[pc], c->words[next])))
            continue;
        /* Grow the pair into a chain while (chain, next instruction)
         * is itself listed: a triple is a pair whose first element is a
         * pair, and so on. */
        do {
            rebase_targets(c, next, pc, run0);
            rebase_targets(c, next, pc, run1);
            len += len2;
            next = pc + len;
            run0[pc] = (uint32_t)h[op];
            run1[pc] = (uint32_t)hu[op];
        } while (next < c->nwords && !label[next] &&
                 (len2 = ke_code_instr_len(c, next)) &&
                 (op = find_pair(op, c->words[next])));
    }
    kb_free(label);
    return 0;
}
