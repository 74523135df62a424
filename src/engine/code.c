/* code.c - the internal code's tables (names and operand formats from
 * ops.def), threading for the interpreter (ke_code_thread), the debug
 * listing and the structural check (code.h). */
#include <stdio.h>
#include <string.h>

#include "code.h"
#include "module.h"

static const char *const op_formats[KE_OP_COUNT_] = {
#define KE_OP(name, fmt) [KE_OP_##name] = fmt,
#define KE_NUM(name, prefix, opcode, nargs, in, out)                           \
    [KE_OP_##name] = (nargs) == 1 ? "SS" : "SSS",
#define KE_MEM(name, opcode, align, type, is_store) [KE_OP_##name] = "SSI",
#define KE_NUMI(name, base) [KE_OP_##name] = "SSI",
#define KE_BRC(name, cmp) [KE_OP_##name] = "SST",
#define KE_BRCI(name, cmp) [KE_OP_##name] = "SIT",
#define KE_MEMF(base)                                                          \
    [KE_OP_##base##_A] = "SSSI", [KE_OP_##base##_AI] = "SSII",               \
    [KE_OP_##base##_AS] = "SSSII",
#define KE_LDOP(name, load, op)                                                \
    [KE_OP_##name] = "SSSI", [KE_OP_##name##_AI] = "SSSII",
#define KE_SHOP(name, op, sh) [KE_OP_##name] = "SSSI",
#define KE_RMW(name, ldop, store) [KE_OP_##name] = "SSI",
#define KE_ADDBR(name, brc) [KE_OP_##name] = "SSIST",
#define KE_ADDBRI(name, brci) [KE_OP_##name] = "SSIIT",
#define KE_BINBIN(name, prod, op) [KE_OP_##name] = "SSSS",
#define KE_OPM(name, fmt) [KE_OP_##name] = fmt,
#define KE_PAIR(name, a, b, fmt) [KE_OP_##name] = fmt,
#define KE_PAIRM(name, a, b, fmt) [KE_OP_##name] = fmt,
#include "ops.def"
};

static const char *const op_names[KE_OP_COUNT_] = {
#define KE_OP(name, fmt) [KE_OP_##name] = #name,
#define KE_NUM(name, prefix, opcode, nargs, in, out) [KE_OP_##name] = #name,
#define KE_MEM(name, opcode, align, type, is_store) [KE_OP_##name] = #name,
#define KE_NUMI(name, base) [KE_OP_##name] = #name,
#define KE_BRC(name, cmp) [KE_OP_##name] = #name,
#define KE_BRCI(name, cmp) [KE_OP_##name] = #name,
#define KE_MEMF(base)                                                          \
    [KE_OP_##base##_A] = #base "_A", [KE_OP_##base##_AI] = #base "_AI",      \
    [KE_OP_##base##_AS] = #base "_AS",
#define KE_LDOP(name, load, op)                                                \
    [KE_OP_##name] = #name, [KE_OP_##name##_AI] = #name "_AI",
#define KE_SHOP(name, op, sh) [KE_OP_##name] = #name,
#define KE_RMW(name, ldop, store) [KE_OP_##name] = #name,
#define KE_ADDBR(name, brc) [KE_OP_##name] = #name,
#define KE_ADDBRI(name, brci) [KE_OP_##name] = #name,
#define KE_BINBIN(name, prod, op) [KE_OP_##name] = #name,
#define KE_OPM(name, fmt) [KE_OP_##name] = #name,
#define KE_PAIR(name, a, b, fmt) [KE_OP_##name] = #name,
#define KE_PAIRM(name, a, b, fmt) [KE_OP_##name] = #name,
#include "ops.def"
};


const char *
ke_op_format(ke_op op)
{
    return (unsigned)op < KE_OP_COUNT_ ? op_formats[op] : NULL;
}

const char *
ke_op_name(ke_op op)
{
    return (unsigned)op < KE_OP_COUNT_ ? op_names[op] : "?";
}

void
ke_code_free(ke_code *c)
{
    if (!c)
        return;
    kb_free(c->words);
    kb_free(c->handlers);
    kb_free(c);
}

/* ---- threading, listing, structural checks ---- */

/* Words of the instruction at c->words[pc] (0 when it does not fit). */
static uint32_t
instr_len(const ke_code *c, uint32_t pc)
{
    uint32_t op = c->words[pc];
    if (op >= KE_OP_COUNT_)
        return 0;
    uint64_t n = 1;
    for (const char *f = op_formats[op]; *f; f++)
        n += *f == 'L' ? 2 : 1;
    if (op == KE_OP_BR_TABLE) {
        if (pc + 3 > c->nwords)
            return 0;
        n += (uint64_t)c->words[pc + 2] + 1;
    }
    if (pc + n > c->nwords)
        return 0;
    return (uint32_t)n;
}

uint32_t
ke_code_instr_len(const ke_code *c, uint32_t pc)
{
    return pc < c->nwords ? instr_len(c, pc) : 0;
}

/* The threaded form: opcode words become handler offsets, and branch
 * targets become deltas from their instruction's first word. */
int
ke_code_thread(ke_code *c, uint32_t *dst)
{
    const int32_t *h = ke_interp_handlers(false);
    const int32_t *hu = ke_interp_handlers(true);
    uint32_t *du = dst + c->nwords;
    memcpy(dst, c->words, c->nwords * sizeof *dst);
    for (uint32_t pc = 0, len; pc < c->nwords; pc += len) {
        uint32_t op = c->words[pc], k = pc + 1;
        if (!(len = instr_len(c, pc)))
            break;
        dst[pc] = (uint32_t)h[op];
        du[pc] = (uint32_t)hu[op];
        for (const char *f = op_formats[op]; *f; f++, k++) {
            if (*f == 'T')
                dst[k] = c->words[k] - pc;
            else if (*f == 'L')
                k++;
        }
        if (op == KE_OP_BR_TABLE)
            for (; k < pc + len; k++)
                dst[k] = c->words[k] - pc;
        memcpy(du + pc + 1, dst + pc + 1, (len - 1) * sizeof *dst);
    }
    c->run[0] = dst;
    c->run[1] = du;
    return ke_code_pair(c, dst, du);
}

void
ke_code_dump(const ke_code *c, FILE *out)
{
    fprintf(out, "; params %u results %u locals %u frame %u words %u\n",
            c->nparams, c->nresults, c->nlocals, c->frame_size, c->nwords);
    for (uint32_t pc = 0; pc < c->nwords;) {
        uint32_t len = instr_len(c, pc);
        if (!len) {
            fprintf(out, "%6u  ?? %u\n", pc, c->words[pc]);
            return;
        }
        const uint32_t *w = c->words + pc + 1;
        fprintf(out, "%6u  %-20s", pc, op_names[c->words[pc]]);
        for (const char *f = op_formats[c->words[pc]]; *f; f++, w++) {
            if (*f == 'S')
                fprintf(out, " s%u", *w);
            else if (*f == 'T')
                fprintf(out, " @%u", *w);
            else if (*f == 'I')
                fprintf(out, " %u", *w);
            else {
                fprintf(out, " 0x%llx",
                        (unsigned long long)w[0] | (unsigned long long)w[1]
                                                       << 32);
                w++;
            }
        }
        if (c->words[pc] == KE_OP_BR_TABLE)
            for (uint32_t i = 0; i <= c->words[pc + 2]; i++)
                fprintf(out, " @%u", *w++);
        fputc('\n', out);
        pc += len;
    }
    for (uint32_t i = 0; i < c->nhandlers; i++) {
        const ke_handler *h = &c->handlers[i];
        fprintf(out, "; handler [%u, %u) level %u: ", h->start, h->end,
                h->level);
        if (h->kind == KE_H_DELEGATE)
            fprintf(out, "delegate %u\n", h->delegate);
        else
            fprintf(out, "tag %d -> @%u dst s%d exn s%d\n", (int)h->tag,
                    h->target, (int)h->dst, (int)h->exn);
    }
}

/* Handlers: ranges inside the code, targets on instruction starts,
 * slots inside the frame. */
static bool
check_handlers(const ke_code *c, const uint8_t *starts)
{
    for (uint32_t i = 0; i < c->nhandlers; i++) {
        const ke_handler *h = &c->handlers[i];
        if (h->start > h->end || h->end > c->nwords)
            return false;
        if (h->kind == KE_H_DELEGATE)
            continue;
        if (h->target >= c->nwords || !starts[h->target] ||
            (h->dst != KE_NONE && h->dst >= c->frame_size) ||
            (h->exn != KE_NONE && h->exn >= c->frame_size))
            return false;
    }
    return true;
}

static bool
check_operands(const ke_code *c, uint32_t pc, const uint8_t *starts)
{
    const uint32_t *w = c->words + pc + 1;
    uint32_t op = c->words[pc];
    for (const char *f = op_formats[op]; *f; f++, w++) {
        if (*f == 'S' && *w >= c->frame_size)
            return false;
        if (*f == 'T' && (*w >= c->nwords || !starts[*w]))
            return false;
        if (*f == 'L')
            w++;
    }
    if (op == KE_OP_BR_TABLE) {
        for (uint32_t i = 0; i <= c->words[pc + 2]; i++, w++)
            if (*w >= c->nwords || !starts[*w])
                return false;
    }
    return true;
}

int
ke_code_check(const ke_code *c)
{
    uint8_t *starts = NULL;
    uint32_t pc, last = 0;
    int rc = KUMO_EINVAL;

    if (!c || !c->nwords || !c->words ||
        c->frame_size < c->nparams + c->nlocals + 1 ||
        c->frame_size < c->nresults)
        return KUMO_EINVAL;
    starts = kb_calloc(c->nwords, 1);
    if (!starts)
        return KUMO_ENOMEM;
    for (pc = 0; pc < c->nwords;) {
        uint32_t len = instr_len(c, pc);
        if (!len)
            goto out;
        starts[pc] = 1;
        last = pc;
        pc += len;
    }
    for (pc = 0; pc < c->nwords; pc += instr_len(c, pc))
        if (!check_operands(c, pc, starts))
            goto out;
    if (!check_handlers(c, starts))
        goto out;
    switch (c->words[last]) {
    case KE_OP_UNREACHABLE:
    case KE_OP_BR:
    case KE_OP_BR_TABLE:
    case KE_OP_RETURN:
        rc = 0;
        break;
    default:
        break;
    }
out:
    kb_free(starts);
    return rc;
}
