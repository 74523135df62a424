/* store.c - stores, host functions, calls, memories, tables and globals.
 *
 * A store owns every runtime object made in it; objects are never freed
 * one by one (instances reference each other's functions, tables hold
 * function pointers), only all together by kumo_store_free. */
#include <stdio.h>

#include "memory.h"

#define DEFAULT_MAX_PAGES 65536u
#define DEFAULT_MAX_TABLE 10000000u
#define DEFAULT_CALL_DEPTH 10000u
#define DEFAULT_STACK_CELLS (1u << 20)

/* Nested kumo_func_call invocations (host -> guest -> host -> guest ...)
 * recurse in C, unlike wasm-to-wasm calls. Counted per thread, since every
 * store's calls on a thread share its C stack; beyond the limit the call
 * traps "call stack exhausted" instead of overflowing the C stack. */
#define MAX_NESTING 1000
static _Thread_local uint32_t nesting;

void
kumo_exec_state_swap(kumo_exec_state *st)
{
    uint32_t n = nesting;
    nesting = st->nesting;
    st->nesting = n;
    ke_guard_swap_top(&st->guard_top);
}

/* ---- stores ---- */

int
kumo_store_new(const kumo_store_config *cfg, kumo_store **out)
{
    kumo_store *s = kb_calloc(1, sizeof *s);
    if (!s)
        return KUMO_ENOMEM;
    if (cfg)
        s->cfg = *cfg;
    if (!s->cfg.max_memory_pages || s->cfg.max_memory_pages > 65536)
        s->cfg.max_memory_pages = DEFAULT_MAX_PAGES;
    if (!s->cfg.max_table_elems)
        s->cfg.max_table_elems = DEFAULT_MAX_TABLE;
    if (!s->cfg.max_call_depth)
        s->cfg.max_call_depth = DEFAULT_CALL_DEPTH;
    if (!s->cfg.value_stack_cells)
        s->cfg.value_stack_cells = DEFAULT_STACK_CELLS;

    /* Not zeroed: the interpreter initialises every cell it reads. */
    s->stack = kb_malloc((size_t)s->cfg.value_stack_cells * sizeof *s->stack);
    s->frames = kb_malloc((size_t)s->cfg.max_call_depth * sizeof *s->frames);
    if (!s->stack || !s->frames) {
        kb_free(s->stack);
        kb_free(s->frames);
        kb_free(s);
        return KUMO_ENOMEM;
    }
    s->stack_cells = s->cfg.value_stack_cells;
    s->sp_free = s->stack;
    s->frame_cap = s->cfg.max_call_depth;
    s->fuel = UINT64_MAX;
    *out = s;
    return 0;
}

ke_store_marks
ke_store_marks_of(const kumo_store *s)
{
    ke_store_marks mk = {s->nfuncs,     s->nmems,     s->ntables,
                         s->nglobals,   s->ninstances, s->ntags};
    return mk;
}

/* Free (or park) every object beyond the marks and make the store as
 * good as new for the next call: used by kumo_store_free (marks all 0)
 * and by pools resetting a slot's store. */
void
ke_store_truncate(kumo_store *s, const ke_store_marks *mk, bool park)
{
    /* Finalizers first, while every object is still alive. */
    for (uint32_t i = mk->nfuncs; i < s->nfuncs; i++) {
        kumo_func *f = s->funcs[i];
        if (f->host && f->finalize)
            f->finalize(f->env);
    }
    for (uint32_t i = mk->nfuncs; i < s->nfuncs; i++)
        kb_free(s->funcs[i]); /* host type arrays live in the same block */
    for (uint32_t i = mk->nmems; i < s->nmems; i++) {
        if (park)
            ke_memory_park(s, s->mems[i]);
        else
            ke_memory_free(s->mems[i]);
    }
    for (uint32_t i = mk->ntables; i < s->ntables; i++) {
        kb_free(s->tables[i]->elems);
        kb_free(s->tables[i]);
    }
    for (uint32_t i = mk->nglobals; i < s->nglobals; i++)
        kb_free(s->globals[i]);
    for (uint32_t i = mk->ninstances; i < s->ninstances; i++)
        kb_free(s->instances[i]); /* one block with all its arrays */
    for (uint32_t i = mk->ntags; i < s->ntags; i++)
        kb_free(s->tags[i]); /* own type arrays in the same block */
    ke_exn_free_all(s);
    s->ntags = mk->ntags;
    s->nfuncs = mk->nfuncs;
    s->nmems = mk->nmems;
    s->ntables = mk->ntables;
    s->nglobals = mk->nglobals;
    s->ninstances = mk->ninstances;
    s->sp_free = s->stack;
    s->depth = 0;
    s->trap_msg[0] = '\0';
    s->fuel = UINT64_MAX;
    s->interrupt = 0;
}

void
kumo_store_free(kumo_store *s)
{
    if (!s)
        return;
    ke_store_marks none = {0, 0, 0, 0, 0, 0};
    ke_store_truncate(s, &none, false);
    while (s->spare) {
        kumo_memory *m = s->spare;
        s->spare = m->spare_next;
        ke_memory_free(m);
    }
    kb_free(s->funcs);
    kb_free(s->mems);
    kb_free(s->tables);
    kb_free(s->globals);
    kb_free(s->instances);
    kb_free(s->tags);
    kb_free(s->stack);
    kb_free(s->frames);
    kb_free(s);
}

const char *
kumo_store_trap_message(const kumo_store *s)
{
    return s->trap_msg;
}

void
kumo_store_set_fuel(kumo_store *s, uint64_t fuel)
{
    s->fuel = fuel;
}

uint64_t
kumo_store_fuel(const kumo_store *s)
{
    return s->fuel;
}

void
kumo_store_interrupt(kumo_store *s)
{
    __atomic_or_fetch(&s->interrupt, KE_INTERRUPT, __ATOMIC_SEQ_CST);
}

void
kumo_store_set_yield(kumo_store *s, kumo_yield_fn fn, void *ud)
{
    s->yield_fn = fn;
    s->yield_ud = ud;
}

void
kumo_store_request_yield(kumo_store *s)
{
    __atomic_or_fetch(&s->interrupt, KE_YIELD, __ATOMIC_SEQ_CST);
}

bool
ke_yield(kumo_store *s, uint64_t fuel)
{
    int v = __atomic_load_n(&s->interrupt, __ATOMIC_SEQ_CST);
    if (v & KE_INTERRUPT)
        return false;
    __atomic_and_fetch(&s->interrupt, ~KE_YIELD, __ATOMIC_SEQ_CST);
    if (!s->yield_fn)
        return true;
    s->fuel = fuel;
    if (s->yield_fn(s, s->yield_ud) != 0) {
        kumo_store_interrupt(s);
        return false;
    }
    return !(__atomic_load_n(&s->interrupt, __ATOMIC_SEQ_CST) &
             KE_INTERRUPT);
}

/* Append obj to one of the store's ownership lists. */
#define OWN(arr, n, cap)                                                       \
    do {                                                                       \
        void *items_ = s->arr;                                                 \
        if (kb_reserve(&items_, &s->cap, s->n + 1, sizeof *s->arr))            \
            return KUMO_ENOMEM;                                                \
        s->arr = items_;                                                       \
        s->arr[s->n++] = obj;                                                  \
    } while (0)

int
ke_store_own(kumo_store *s, int kind, void *obj)
{
    switch (kind) {
    case KUMO_EXTERN_FUNC:
        OWN(funcs, nfuncs, cap_funcs);
        break;
    case KUMO_EXTERN_TABLE:
        OWN(tables, ntables, cap_tables);
        break;
    case KUMO_EXTERN_MEMORY:
        OWN(mems, nmems, cap_mems);
        break;
    case KUMO_EXTERN_GLOBAL:
        OWN(globals, nglobals, cap_globals);
        break;
    case KE_OWN_INSTANCE:
        OWN(instances, ninstances, cap_instances);
        break;
    case KUMO_EXTERN_TAG:
        OWN(tags, ntags, cap_tags);
        break;
    default:
        return KUMO_EINVAL;
    }
    return 0;
}

/* ---- host functions ---- */

static bool
valtype_ok(kumo_valtype t)
{
    switch (t) {
    case KUMO_I32:
    case KUMO_I64:
    case KUMO_F32:
    case KUMO_F64:
    case KUMO_FUNCREF:
    case KUMO_EXTERNREF:
        return true;
    default:
        return false;
    }
}

int
kumo_func_new_host(kumo_store *s, const kumo_functype *type, kumo_host_fn fn,
                   void *env, void (*finalize)(void *env), kumo_func **out)
{
    if (!s || !type || !fn || !out)
        return KUMO_EINVAL;
    uint32_t np = type->nparams, nr = type->nresults;
    if (np > 100000 || nr > 100000)
        return KUMO_EINVAL;
    for (uint32_t i = 0; i < np + nr; i++) {
        kumo_valtype t = i < np ? type->params[i] : type->results[i - np];
        if (!valtype_ok(t))
            return KUMO_EINVAL;
    }
    /* One block: the func, its kumo_valtype arrays, its ke_valtype array. */
    size_t n = (size_t)np + nr;
    kumo_func *f = kb_calloc(1, sizeof *f + n * (sizeof(kumo_valtype) + 1));
    if (!f)
        return KUMO_ENOMEM;
    kumo_valtype *vals = (kumo_valtype *)(f + 1);
    ke_valtype *bytes = (ke_valtype *)(vals + n);
    for (uint32_t i = 0; i < n; i++) {
        vals[i] = i < np ? type->params[i] : type->results[i - np];
        bytes[i] = (ke_valtype)vals[i];
    }
    f->store = s;
    f->host = fn;
    f->env = env;
    f->finalize = finalize;
    f->index = KE_NONE;
    f->own_type.nparams = np;
    f->own_type.nresults = nr;
    f->own_type.types = bytes;
    f->type = &f->own_type;
    f->api_type.nparams = np;
    f->api_type.nresults = nr;
    f->api_type.params = n ? vals : NULL;
    f->api_type.results = n ? vals + np : NULL;
    if (ke_store_own(s, KUMO_EXTERN_FUNC, f)) {
        kb_free(f);
        return KUMO_ENOMEM;
    }
    *out = f;
    return 0;
}

kumo_memory *
kumo_caller_memory(kumo_caller *c)
{
    if (!c->inst || !c->inst->module->nmems)
        return NULL;
    return c->inst->mems[0];
}

kumo_instance *
kumo_caller_instance(kumo_caller *c)
{
    return c->inst;
}

kumo_store *
kumo_caller_store(kumo_caller *c)
{
    return c->store;
}

int
kumo_caller_trap(kumo_caller *c, const char *msg)
{
    snprintf(c->store->trap_msg, sizeof c->store->trap_msg, "%s",
             msg ? msg : kumo_strerror(KUMO_ETRAP_HOST));
    return KUMO_ETRAP_HOST;
}

/* ---- calls ---- */

const kumo_functype *
kumo_func_type(const kumo_func *f)
{
    return &f->api_type;
}

static int
call_host(kumo_store *s, kumo_func *f, kumo_val *sp)
{
    kumo_caller c = {s, NULL};
    uint32_t np = f->type->nparams, nr = f->type->nresults;
    s->sp_free = sp + np + nr;
    int rc = f->host(&c, f->env, sp, sp + np);
    if (rc) {
        if (!s->trap_msg[0])
            snprintf(s->trap_msg, sizeof s->trap_msg, "%s", kumo_strerror(rc));
        return rc;
    }
    if (nr)
        memmove(sp, sp + np, nr * sizeof *sp);
    return 0;
}

static bool
returns_exnref(const ke_functype *t)
{
    for (uint32_t i = 0; i < t->nresults; i++)
        if (t->types[t->nparams + i] == KUMO_EXNREF)
            return true;
    return false;
}

int
kumo_func_call(kumo_store *s, kumo_func *f, const kumo_val *args,
               kumo_val *results)
{
    if (!s || !f || f->store != s || (!f->host && !f->code))
        return KUMO_EINVAL;
    const ke_functype *t = f->type;
    kumo_val *sp = s->sp_free;
    uint64_t need = (uint64_t)t->nparams + t->nresults;
    if (!f->host && f->code && f->code->frame_size > need)
        need = f->code->frame_size;
    if (sp == s->stack)
        s->interrupt = 0; /* an outermost call clears old requests */
    s->trap_msg[0] = '\0';
    s->exn = NULL;
    if (need > (uint64_t)(s->stack + s->stack_cells - sp))
        return ke_trap(s, KUMO_ETRAP_STACK_EXHAUSTED);
    if (t->nparams)
        memcpy(sp, args, t->nparams * sizeof *sp);
    if (nesting >= MAX_NESTING)
        return ke_trap(s, KUMO_ETRAP_STACK_EXHAUSTED);
    uint32_t depth = s->depth;
    int rc;
    nesting++;
    if (f->host)
        rc = call_host(s, f, sp);
    else
        rc = ke_guard_call(s, f, sp);
    nesting--;
    s->sp_free = sp;
    s->depth = depth;
    if (rc == 0 && t->nresults)
        memcpy(results, sp, t->nresults * sizeof *sp);
    if (sp == s->stack && s->exns)
        ke_exn_sweep(s, rc == 0 && returns_exnref(t));
    return rc;
}

/* ---- tables ---- */

static uint32_t
table_cap(const kumo_store *s)
{
    return s->cfg.max_table_elems;
}

int
kumo_table_new(kumo_store *s, kumo_valtype elem, kumo_limits limits,
               kumo_val init, kumo_table **out)
{
    if (!s || !out || (elem != KUMO_FUNCREF && elem != KUMO_EXTERNREF) ||
        (limits.has_max && limits.max < limits.min) ||
        limits.min > UINT32_MAX || (limits.has_max && limits.max > UINT32_MAX))
        return KUMO_EINVAL;
    uint32_t cap = table_cap(s);
    if (limits.min > cap)
        return KUMO_ELIMIT;
    kumo_table *t = kb_calloc(1, sizeof *t);
    if (!t)
        return KUMO_ENOMEM;
    t->store = s;
    t->type.elem = (ke_valtype)elem;
    t->type.limits.min = limits.min;
    t->type.limits.max = limits.max;
    t->type.limits.has_max = limits.has_max;
    t->max = limits.has_max && limits.max < cap ? (uint32_t)limits.max : cap;
    if (limits.min) {
        t->elems = kb_malloc((size_t)limits.min * sizeof *t->elems);
        if (!t->elems)
            goto fail;
        for (uint64_t i = 0; i < limits.min; i++)
            t->elems[i] = init;
    }
    t->size = (uint32_t)limits.min;
    if (ke_store_own(s, KUMO_EXTERN_TABLE, t))
        goto fail;
    *out = t;
    return 0;
fail:
    kb_free(t->elems);
    kb_free(t);
    return KUMO_ENOMEM;
}

int64_t
ke_table_grow(kumo_table *t, uint32_t delta, kumo_val init)
{
    uint32_t old = t->size;
    if (delta > t->max - old)
        return -1;
    if (delta == 0)
        return old;
    kumo_val *p = kb_realloc(t->elems, ((size_t)old + delta) * sizeof *p);
    if (!p)
        return -1;
    for (uint32_t i = old; i < old + delta; i++)
        p[i] = init;
    t->elems = p;
    t->size = old + delta;
    return old;
}

uint32_t
kumo_table_size(const kumo_table *t)
{
    return t->size;
}

int
kumo_table_get(const kumo_table *t, uint32_t i, kumo_val *out)
{
    if (i >= t->size)
        return KUMO_ETRAP_TABLE_OOB;
    *out = t->elems[i];
    return 0;
}

int
kumo_table_set(kumo_table *t, uint32_t i, kumo_val v)
{
    if (i >= t->size)
        return KUMO_ETRAP_TABLE_OOB;
    if (t->type.elem == KUMO_FUNCREF && v &&
        ((kumo_func *)(uintptr_t)v)->store != t->store)
        return KUMO_EINVAL;
    t->elems[i] = v;
    return 0;
}

/* ---- globals ---- */

/* i32 and f32 values are kept with zero upper bits. */
static kumo_val
normalize(ke_valtype t, kumo_val v)
{
    return t == KUMO_I32 || t == KUMO_F32 ? (uint32_t)v : v;
}

int
kumo_global_new(kumo_store *s, kumo_valtype type, bool mutable_, kumo_val init,
                kumo_global **out)
{
    if (!s || !out || (!valtype_ok(type) && type != KUMO_EXNREF))
        return KUMO_EINVAL;
    if (type == KUMO_EXNREF)
        s->exn_rooted = true; /* exceptions now live as long as s */
    kumo_global *g = kb_calloc(1, sizeof *g);
    if (!g)
        return KUMO_ENOMEM;
    g->store = s;
    g->type.type = (ke_valtype)type;
    g->type.mutable_ = mutable_;
    g->val = normalize(g->type.type, init);
    if (ke_store_own(s, KUMO_EXTERN_GLOBAL, g)) {
        kb_free(g);
        return KUMO_ENOMEM;
    }
    *out = g;
    return 0;
}

kumo_valtype
kumo_global_type(const kumo_global *g)
{
    return (kumo_valtype)g->type.type;
}

bool
kumo_global_mutable(const kumo_global *g)
{
    return g->type.mutable_;
}

kumo_val
kumo_global_get(const kumo_global *g)
{
    return g->val;
}

int
kumo_global_set(kumo_global *g, kumo_val v)
{
    if (!g->type.mutable_)
        return KUMO_EINVAL;
    g->val = normalize(g->type.type, v);
    return 0;
}
