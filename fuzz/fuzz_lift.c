/* fuzz_lift.c - libFuzzer target for the canonical ABI's lifting from
 * arbitrary guest memory. The input picks a string encoding and a list of
 * value types (records, variants, lists, flags, ... nested a few levels),
 * then flat core values and the bytes of a one-page guest memory. Lifting
 * must either succeed with values of those types or trap cleanly; what
 * lifted is lowered again (a bump realloc in the same memory) and lifted
 * once more, which must give equal values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/component/canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static uint8_t
take(cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

typedef struct rig {
    kumo_store *s;
    kumo_memory *mem;
    kumo_func *realloc;
    kc_arena arena;
    kc_opts opts;
    kc_rinst ri;
    struct kumo_cinstance top;
    kc_cx cx;
    uint32_t next;
} rig;

static int
bump(kumo_caller *c, void *env, const kumo_val *args, kumo_val *results)
{
    (void)c;
    rig *r = *(rig **)env;
    uint32_t old = (uint32_t)args[0], old_size = (uint32_t)args[1];
    uint32_t align = (uint32_t)args[2], size = (uint32_t)args[3];
    uint64_t at = ((uint64_t)r->next + align - 1) & ~((uint64_t)align - 1);
    if (align == 0 || (align & (align - 1)) || at + size > 65536)
        return KUMO_ETRAP_UNREACHABLE;
    if (old && old_size && (uint64_t)old + old_size <= 65536)
        memmove(kumo_memory_data(r->mem) + at, kumo_memory_data(r->mem) + old,
                old_size < size ? old_size : size);
    results[0] = (uint32_t)at;
    r->next = (uint32_t)(at + size);
    return 0;
}

static const char *const labels[40] = {
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
    "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "aa", "ab",
    "ac", "ad", "ae", "af", "ag", "ah", "ai", "aj", "ak", "al", "am", "an"};

static const kumo_ctype *gen_type(rig *r, cursor *c, int depth);

static const kumo_ctype *
compound(rig *r, cursor *c, int depth, kumo_cval_kind kind, uint32_t n,
         bool payloads, bool optional)
{
    kumo_ctype *t = kc_alloc(&r->arena, sizeof *t);
    const kumo_ctype **m = kc_alloc(&r->arena, (n + 1) * sizeof *m);
    kc_str *l = kc_alloc(&r->arena, (n + 1) * sizeof *l);
    if (!t || !m || !l)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (payloads && (!optional || take(c) & 1)) {
            m[i] = gen_type(r, c, depth + 1);
            if (!m[i])
                return NULL;
        }
        l[i] = (kc_str){labels[i], (uint32_t)strlen(labels[i])};
    }
    t->kind = kind;
    t->n = n;
    t->members = m;
    t->labels = (kind == KUMO_CV_LIST || kind == KUMO_CV_TUPLE ||
                 kind == KUMO_CV_OPTION || kind == KUMO_CV_RESULT)
                    ? NULL
                    : l;
    if (kc_type_layout(&r->arena, t) != 0)
        return NULL;
    return t;
}

static const kumo_ctype *
gen_type(rig *r, cursor *c, int depth)
{
    static const uint8_t prims[13] = {KC_BOOL, KC_S8,  KC_U8,  KC_S16, KC_U16,
                                      KC_S32,  KC_U32, KC_S64, KC_U64, KC_F32,
                                      KC_F64,  KC_CHAR, KC_STRING};
    uint8_t b = take(c);
    uint32_t n = 1 + take(c) % 5;
    unsigned pick = depth >= 4 ? b % 13 : b % 21;

    if (pick < 13)
        return kc_prim_type(prims[pick]);
    switch (pick) {
    case 13:
        return compound(r, c, depth, KUMO_CV_LIST, 1, true, false);
    case 14:
        return compound(r, c, depth, KUMO_CV_RECORD, n, true, false);
    case 15:
        return compound(r, c, depth, KUMO_CV_TUPLE, n, true, false);
    case 16:
        return compound(r, c, depth, KUMO_CV_VARIANT, n, true, true);
    case 17:
        return compound(r, c, depth, KUMO_CV_ENUM, n, false, false);
    case 18:
        return compound(r, c, depth, KUMO_CV_OPTION, 1, true, false);
    case 19:
        return compound(r, c, depth, KUMO_CV_RESULT, 2, true, true);
    default:
        return compound(r, c, depth, KUMO_CV_FLAGS, 1 + take(c) % 40, false,
                        false);
    }
}

/* The store, memory and realloc are made once (a memory is an 8 GiB
 * reservation: making one per input would dominate); per input the rig
 * gets a fresh arena, handle table and memory contents. */
static bool
rig_init(rig *r, uint8_t enc)
{
    static const kumo_valtype p[4] = {KUMO_I32, KUMO_I32, KUMO_I32, KUMO_I32};
    static kumo_store *s;
    static kumo_memory *mem;
    static kumo_func *realloc_fn;
    static rig *current;
    kumo_functype ft = {4, 1, p, p};

    memset(r, 0, sizeof *r);
    current = r;
    if (!s && (kumo_store_new(NULL, &s) ||
               kumo_memory_new(s, (kumo_limits){1, 1, true}, &mem) ||
               kumo_func_new_host(s, &ft, bump, &current, NULL, &realloc_fn)))
        return false;
    r->s = s;
    r->mem = mem;
    r->realloc = realloc_fn;
    memset(kumo_memory_data(mem), 0, 65536);
    r->opts = (kc_opts){r->mem, r->realloc, NULL, enc};
    r->ri.may_leave = true;
    r->cx = (kc_cx){.opts = &r->opts, .inst = &r->ri, .store = r->s,
                    .top = &r->top};
    return true;
}

static void
rig_fini(rig *r)
{
    kc_rinst_fini(&r->ri);
    kc_arena_free(&r->arena);
}

/* Flat values for the types: one per flat slot (or one pointer when they
 * spill), 8 bytes of input each. */
static uint32_t
gen_flat(cursor *c, const kumo_ctype *const *ts, uint32_t nt,
         uint32_t max_flat, kumo_val *in)
{
    uint32_t total = 0;
    for (uint32_t i = 0; i < nt; i++)
        total += ts[i]->nflat;
    if (total > max_flat)
        total = 1;
    for (uint32_t i = 0; i < total; i++) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v |= (uint64_t)take(c) << (8 * k);
        in[i] = v;
    }
    return total;
}

static void
roundtrip(rig *r, const kumo_ctype *const *ts, uint32_t nt, uint32_t max_flat,
          const kumo_cval *vs)
{
    kumo_val flat[64 * 5 + 1];
    kumo_cval back[4];
    uint32_t n = 0;

    r->next = 32768;
    if (kc_lower_values(&r->cx, ts, nt, vs, max_flat, false, 0, flat, &n) != 0)
        return; /* out of room in the page: a clean trap */
    memset(back, 0, sizeof back);
    if (kc_lift_values(&r->cx, ts, nt, flat, n, max_flat, back) != 0) {
        fprintf(stderr, "lifting what was lowered trapped: %s\n", r->top.msg);
        abort();
    }
    for (uint32_t i = 0; i < nt; i++)
        if (kc_check_value(ts[i], &back[i]) != 0 ||
            !kumo_cval_equal(&vs[i], &back[i])) {
            fprintf(stderr, "value %u changed in a lower/lift round trip\n", i);
            abort();
        }
    kumo_cvals_free(back, nt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cursor c = {data, size};
    rig r;
    const kumo_ctype *ts[4];
    kumo_cval vs[4];
    kumo_val in[64 * 5 + 1];
    uint8_t head = take(&c);
    uint32_t nt = 1 + (head >> 2) % 4;
    uint32_t max_flat = head & 0x40 ? KC_MAX_FLAT_RESULTS : KC_MAX_FLAT_PARAMS;

    if (size > 70000)
        return 0;
    if (!rig_init(&r, (uint8_t)((head & 3) % 3)))
        goto done;
    for (uint32_t i = 0; i < nt; i++)
        if (!(ts[i] = gen_type(&r, &c, 0)))
            goto done;
    uint32_t nin = gen_flat(&c, ts, nt, max_flat, in);
    memcpy(kumo_memory_data(r.mem), c.p, c.n < 65536 ? c.n : 65536);
    memset(vs, 0, sizeof vs);
    if (kc_lift_values(&r.cx, ts, nt, in, nin, max_flat, vs) == 0) {
        for (uint32_t i = 0; i < nt; i++)
            if (kc_check_value(ts[i], &vs[i]) != 0) {
                fprintf(stderr, "lifted value %u does not fit its type\n", i);
                abort();
            }
        roundtrip(&r, ts, nt, max_flat, vs);
        kumo_cvals_free(vs, nt);
    }
done:
    rig_fini(&r);
    return 0;
}
