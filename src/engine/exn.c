/* exn.c - exception handling at run time: tags, exception objects, and
 * finding the handler of a frame while an exception unwinds.
 *
 * An exception is a heap object owned by its store; an exnref is a
 * pointer to one. Values are copied freely between slots, so there is no
 * reference count: exceptions are kept on a list in the store and freed
 * all together when an outermost call into the store returns (no guest
 * frame is left that could hold one), unless an exnref global exists or
 * the call returns exnrefs; then they live as long as the store.
 *
 * Handlers are found by code address: a function's threaded code says
 * nothing about which function it is, so a module with handlers keeps its
 * compiled functions sorted by address (code_index) and a frame's
 * instruction pointer is looked up there. Modules without handlers are
 * never searched, and calls pay nothing for any of this. */
#include <stdio.h>
#include <stdlib.h>

#include "memory.h"

/* ---- tags ---- */

static void
tag_api(kumo_tag *t, const kumo_valtype *params)
{
    t->api_type.nparams = t->type->nparams;
    t->api_type.nresults = 0;
    t->api_type.params = params;
    t->api_type.results = NULL;
}

int
ke_tag_create(kumo_store *s, const kumo_module *m, uint32_t ti,
              kumo_tag **out)
{
    kumo_tag *t = kb_calloc(1, sizeof *t);
    if (!t || ke_store_own(s, KUMO_EXTERN_TAG, t)) {
        kb_free(t);
        return KUMO_ENOMEM;
    }
    t->store = s;
    t->type = &m->types[ti];
    tag_api(t, m->ktypes[ti]);
    *out = t;
    return 0;
}

int
kumo_tag_new(kumo_store *s, const kumo_functype *type, kumo_tag **out)
{
    if (!s || !type || !out || type->nresults || type->nparams > 100000)
        return KUMO_EINVAL;
    uint32_t n = type->nparams;
    /* One block: the tag, its kumo_valtype params, its ke_valtype ones. */
    kumo_tag *t = kb_calloc(1, sizeof *t + n * (sizeof(kumo_valtype) + 1));
    if (!t)
        return KUMO_ENOMEM;
    kumo_valtype *vals = (kumo_valtype *)(t + 1);
    ke_valtype *bytes = (ke_valtype *)(vals + n);
    for (uint32_t i = 0; i < n; i++) {
        vals[i] = type->params[i];
        bytes[i] = (ke_valtype)vals[i];
    }
    t->store = s;
    t->own_type.nparams = n;
    t->own_type.types = bytes;
    t->type = &t->own_type;
    tag_api(t, n ? vals : NULL);
    if (ke_store_own(s, KUMO_EXTERN_TAG, t)) {
        kb_free(t);
        return KUMO_ENOMEM;
    }
    *out = t;
    return 0;
}

const kumo_functype *
kumo_tag_type(const kumo_tag *t)
{
    return &t->api_type;
}

/* ---- exceptions ---- */

ke_exn *
ke_exn_new(kumo_store *s, kumo_tag *tag, const kumo_val *vals)
{
    uint32_t n = tag->type->nparams;
    ke_exn *e = kb_malloc(sizeof *e + (size_t)n * sizeof(kumo_val));
    if (!e)
        return NULL;
    e->tag = tag;
    e->n = n;
    if (n)
        memcpy(e->vals, vals, n * sizeof *vals);
    e->next = s->exns;
    s->exns = e;
    return e;
}

void
ke_exn_free_all(kumo_store *s)
{
    while (s->exns) {
        ke_exn *e = s->exns;
        s->exns = e->next;
        kb_free(e);
    }
    s->exn = NULL;
}

void
ke_exn_sweep(kumo_store *s, bool keep)
{
    if (!s->exn_rooted && !keep)
        ke_exn_free_all(s);
}

/* ---- finding handlers ---- */

static int
by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(ke_code *const *)a)->words;
    uintptr_t y = (uintptr_t)(*(ke_code *const *)b)->words;
    return x < y ? -1 : x > y;
}

int
ke_code_index_build(kumo_module *m)
{
    uint32_t n = m->nfuncs - m->nimported_funcs;
    if (!m->has_handlers || !n)
        return 0;
    m->code_index = kb_malloc(n * sizeof *m->code_index);
    if (!m->code_index)
        return KUMO_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        m->code_index[i] = m->bodies[i].code;
    qsort(m->code_index, n, sizeof *m->code_index, by_address);
    m->ncode_index = n;
    return 0;
}

/* The code whose allocation (words, then the two threaded copies, each
 * nwords long) holds ip, or NULL. */
static const ke_code *
code_of(const kumo_module *m, const uint32_t *ip)
{
    uint32_t lo = 0, hi = m->ncode_index;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)m->code_index[mid]->words <= (uintptr_t)ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const ke_code *c = m->code_index[lo - 1];
    if ((uintptr_t)ip >= (uintptr_t)(c->words + 3 * (size_t)c->nwords))
        return NULL;
    return c;
}

const ke_handler *
ke_exn_find(const kumo_instance *inst, const uint32_t *ip, const ke_exn *exn,
            const uint32_t **run)
{
    const kumo_module *m = inst->module;
    if (!m->has_handlers)
        return NULL;
    const ke_code *c = code_of(m, ip);
    if (!c || !c->nhandlers)
        return NULL;
    size_t off = (size_t)(ip - c->words);
    uint32_t copy = (uint32_t)(off / c->nwords), pc = (uint32_t)(off % c->nwords);
    uint32_t limit = UINT32_MAX; /* handlers above this level are skipped */
    for (uint32_t i = 0; i < c->nhandlers; i++) {
        const ke_handler *h = &c->handlers[i];
        if (h->level > limit || pc < h->start || pc >= h->end)
            continue;
        if (h->kind == KE_H_DELEGATE) {
            limit = h->delegate;
            continue;
        }
        if (h->tag != KE_NONE && inst->tags[h->tag] != exn->tag)
            continue;
        *run = c->words + (size_t)copy * c->nwords;
        return h;
    }
    return NULL;
}
