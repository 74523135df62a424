/* cstep.c - instantiating a pre-instantiation (kumo_cpre, made by
 * cinst.c): run the plan's steps in binary order, each filling one slot
 * of the new instance (a handle table, a core instance, a core export, a
 * lifted or lowered function, a resource built-in), then give the
 * instance its own copy of the export tree with the slots' values.
 * Everything else (types, host functions, the shape of every instance's
 * exports) is the pre's and shared. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "canon.h"

typedef struct kumo_cinstance kc_ci;

static int
fail(kc_ci *ci, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(kc_ci *ci, int code, const char *fmt, ...)
{
    if (ci->diag) {
        va_list ap;
        va_start(ap, fmt);
        ci->diag->code = code;
        ci->diag->offset = 0;
        ci->diag->func_index = UINT32_MAX;
        vsnprintf(ci->diag->message, sizeof ci->diag->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int
nomem(kc_ci *ci)
{
    return fail(ci, KUMO_ENOMEM, "out of memory");
}

kc_rinst *
kc_res_impl(const kc_ci *top, const kumo_cresource *rt)
{
    if (!rt->guest || !top || top->pre != rt->pre || !rt->impl_slot)
        return NULL;
    return top->slots[rt->impl_slot - 1].p;
}

kumo_func *
kc_res_dtor(const kc_ci *top, const kumo_cresource *rt)
{
    if (!rt->guest || !top || top->pre != rt->pre || !rt->dtor_slot)
        return NULL;
    return top->slots[rt->dtor_slot - 1].ext.u.func;
}

static void
resolve_opts(const kc_ci *ci, const kc_popts *po, kc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->enc = po->enc;
    if (po->mem.slot)
        o->mem = kc_rv_at(ci, po->mem).ext.u.memory;
    if (po->realloc.slot)
        o->realloc = kc_rv_at(ci, po->realloc).ext.u.func;
    if (po->post_return.slot)
        o->post_return = kc_rv_at(ci, po->post_return).ext.u.func;
}

static bool
sig_equal(const kumo_functype *a, const kumo_functype *b)
{
    if (a->nparams != b->nparams || a->nresults != b->nresults)
        return false;
    for (uint32_t i = 0; i < a->nparams; i++)
        if (a->params[i] != b->params[i])
            return false;
    for (uint32_t i = 0; i < a->nresults; i++)
        if (a->results[i] != b->results[i])
            return false;
    return true;
}

static int
run_rinst(kc_ci *ci, const kc_step *s)
{
    kc_rinst *ri = kc_alloc(&ci->arena, sizeof *ri);
    if (!ri || kb_reserve((void **)&ci->rinsts, &ci->cap_rinsts,
                          ci->nrinsts + 1, sizeof *ci->rinsts))
        return nomem(ci);
    ri->may_leave = true;
    ri->top = ci;
    ci->rinsts[ci->nrinsts++] = ri;
    ci->slots[s->slot].p = ri;
    return 0;
}

static int
run_core_instance(kc_ci *ci, const kc_step *s)
{
    kumo_extern buf[32] = {0}, *imps = buf;
    kumo_instance *inst;
    kumo_diag d = {0};
    if (s->n > 32 && !(imps = kb_malloc(s->n * sizeof *imps)))
        return nomem(ci);
    for (uint32_t i = 0; i < s->n; i++)
        imps[i] = kc_rv_at(ci, s->args[i]).ext;
    int rc = kumo_instance_new(ci->store, s->mod, imps, s->n, &inst, &d);
    if (imps != buf)
        kb_free(imps);
    if (rc)
        return fail(ci, rc, "core instance of module %u: %s", s->index,
                    d.message);
    ci->slots[s->slot].p = inst;
    return 0;
}

static int
run_core_export(kc_ci *ci, const kc_step *s)
{
    const kumo_instance *inst = kc_rv_at(ci, s->args[0]).p;
    if (kumo_instance_export(inst, s->name.s, s->name.len,
                             &ci->slots[s->slot].ext))
        return fail(ci, KUMO_EINVALID, "core instance has no export `%.*s`",
                    (int)s->name.len, s->name.s);
    return 0;
}

static int
run_lift(kc_ci *ci, const kc_step *s)
{
    kumo_func *core = kc_rv_at(ci, s->func).ext.u.func;
    if (!sig_equal(&s->sig, kumo_func_type(core)))
        return fail(ci, KUMO_EINVALID, "canon lift: core function type does "
                                       "not match the flattened type");
    kc_rfunc *fn = kc_alloc(&ci->arena, sizeof *fn);
    if (!fn)
        return nomem(ci);
    fn->type = s->type;
    fn->kind = KC_RF_LIFTED;
    fn->core = core;
    resolve_opts(ci, &s->opts, &fn->opts);
    fn->inst = kc_rv_at(ci, s->rinst).p;
    fn->top = ci;
    fn->name = "lifted function";
    ci->slots[s->slot].p = fn;
    return 0;
}

static int
run_lower(kc_ci *ci, const kc_step *s)
{
    kc_opts o;
    kumo_func *core;
    resolve_opts(ci, &s->opts, &o);
    int rc = kc_lowered_new(ci, kc_rv_at(ci, s->func).p, &o,
                            kc_rv_at(ci, s->rinst).p, &s->sig, s->retptr,
                            &core);
    if (rc)
        return fail(ci, rc, "canon lower: %s", kumo_strerror(rc));
    ci->slots[s->slot].ext.kind = KUMO_EXTERN_FUNC;
    ci->slots[s->slot].ext.u.func = core;
    return 0;
}

static int
run_builtin(kc_ci *ci, const kc_step *s)
{
    kumo_func *core;
    int rc = kc_builtin_new(ci, s->op, s->rt, kc_rv_at(ci, s->rinst).p,
                            &core);
    if (rc)
        return fail(ci, rc, "%s: %s", kc_canon_name(s->op),
                    kumo_strerror(rc));
    ci->slots[s->slot].ext.kind = KUMO_EXTERN_FUNC;
    ci->slots[s->slot].ext.u.func = core;
    return 0;
}

static int
run_step(kc_ci *ci, const kc_step *s)
{
    switch (s->kind) {
    case KC_STEP_RINST:
        return run_rinst(ci, s);
    case KC_STEP_CORE_INSTANCE:
        return run_core_instance(ci, s);
    case KC_STEP_CORE_EXPORT:
        return run_core_export(ci, s);
    case KC_STEP_LIFT:
        return run_lift(ci, s);
    case KC_STEP_LOWER:
        return run_lower(ci, s);
    default:
        return run_builtin(ci, s);
    }
}

/* The instance's export tree: the pre's with slots resolved; exported
 * host functions get a copy that knows the instance (calls from the host
 * need its store and trap message). */
static int
exports(kc_ci *ci, const kc_rcinst *plan, kc_rcinst **out)
{
    kc_rcinst *x = kc_alloc(&ci->arena, sizeof *x);
    if (!x || !(x->ex = kc_alloc(&ci->arena, (plan->n + 1) * sizeof *x->ex)))
        return nomem(ci);
    x->n = x->cap = plan->n;
    for (uint32_t i = 0; i < plan->n; i++) {
        const kc_rexport *e = &plan->ex[i];
        kc_rv v = kc_rv_at(ci, e->v);
        int rc;
        if (e->sort == KC_FUNC && !e->v.slot) {
            kc_rfunc *fn = kc_alloc(&ci->arena, sizeof *fn);
            if (!fn)
                return nomem(ci);
            *fn = *(const kc_rfunc *)v.p;
            fn->top = ci;
            v.p = fn;
        } else if (e->sort == KC_INSTANCE &&
                   (rc = exports(ci, v.p, (kc_rcinst **)&v.p))) {
            return rc;
        }
        v.slot = 0;
        x->ex[i].name = e->name;
        x->ex[i].sort = e->sort;
        x->ex[i].v = v;
    }
    *out = x;
    return 0;
}

int
kumo_cpre_instantiate(kumo_cpre *p, kumo_store *s, kumo_cinstance **out,
                      kumo_diag *diag)
{
    *out = NULL;
    kc_ci *ci = kb_calloc(1, sizeof *ci);
    if (!ci)
        return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    atomic_fetch_add(&p->refs, 1);
    ci->pre = p;
    ci->store = s;
    ci->diag = diag;
    int rc = KUMO_ENOMEM;
    if (p->nslots && !(ci->slots = kb_calloc(p->nslots, sizeof *ci->slots))) {
        nomem(ci);
        goto fail;
    }
    for (uint32_t i = 0; i < p->nsteps; i++)
        if ((rc = run_step(ci, &p->steps[i])))
            goto fail;
    if ((rc = exports(ci, p->exports, &ci->exports)))
        goto fail;
    ci->diag = NULL;
    *out = ci;
    return 0;
fail:
    ci->diag = NULL;
    kumo_cinstance_free(ci);
    return rc;
}

int
kumo_component_instantiate(kumo_store *s, const kumo_component *c,
                           kumo_clinker *l, kumo_cinstance **out,
                           kumo_diag *diag)
{
    kumo_cpre *p;
    *out = NULL;
    int rc = kumo_cpre_new(c, l, &p, diag);
    if (rc)
        return rc;
    rc = kumo_cpre_instantiate(p, s, out, diag);
    kumo_cpre_free(p);
    return rc;
}

/* ---- snapshots */

typedef struct kc_rsnap {
    kc_handle *h; /* [0, n) */
    uint32_t n, free_head;
    bool may_leave, poisoned;
} kc_rsnap;

static void
rsnap_free(kumo_cinstance *ci)
{
    if (ci->rsnap) {
        for (uint32_t i = 0; i < ci->nrinsts; i++)
            kb_free(ci->rsnap[i].h);
    }
    kb_free(ci->rsnap);
    ci->rsnap = NULL;
    kumo_snapshot_free(ci->snap);
    ci->snap = NULL;
}

int
kumo_cinstance_snapshot(kumo_cinstance *ci)
{
    if (!ci)
        return KUMO_EINVAL;
    if (ci->host_calls) {
        snprintf(ci->msg, sizeof ci->msg,
                 "instantiation called %llu host function(s)",
                 (unsigned long long)ci->host_calls);
        return KUMO_EUNSUPPORTED;
    }
    rsnap_free(ci);
    int rc = kumo_store_snapshot(ci->store, &ci->snap);
    if (rc)
        return rc;
    if (ci->nrinsts &&
        !(ci->rsnap = kb_calloc(ci->nrinsts, sizeof *ci->rsnap)))
        goto nomem;
    for (uint32_t i = 0; i < ci->nrinsts; i++) {
        const kc_rinst *ri = ci->rinsts[i];
        kc_rsnap *r = &ci->rsnap[i];
        r->n = ri->n;
        r->free_head = ri->free_head;
        r->may_leave = ri->may_leave;
        r->poisoned = ri->poisoned;
        if (ri->n) {
            if (!(r->h = kb_malloc(ri->n * sizeof *r->h)))
                goto nomem;
            memcpy(r->h, ri->h, ri->n * sizeof *r->h);
        }
    }
    return 0;
nomem:
    rsnap_free(ci);
    return KUMO_ENOMEM;
}

int
kumo_cinstance_restore(kumo_cinstance *ci)
{
    if (!ci || !ci->snap)
        return KUMO_EINVAL;
    int rc = kumo_store_restore(ci->store, ci->snap);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < ci->nrinsts; i++) {
        kc_rinst *ri = ci->rinsts[i];
        const kc_rsnap *r = &ci->rsnap[i];
        if (r->n > ri->cap &&
            kb_reserve((void **)&ri->h, &ri->cap, r->n, sizeof *ri->h))
            return KUMO_ENOMEM;
        if (r->n)
            memcpy(ri->h, r->h, r->n * sizeof *ri->h);
        ri->n = r->n;
        ri->free_head = r->free_head;
        ri->may_leave = r->may_leave;
        ri->poisoned = r->poisoned;
    }
    return 0;
}

void
kumo_cinstance_free(kumo_cinstance *ci)
{
    if (!ci)
        return;
    rsnap_free(ci);
    for (uint32_t i = 0; i < ci->nrinsts; i++)
        kc_rinst_fini(ci->rinsts[i]);
    kb_free(ci->rinsts);
    kb_free(ci->slots);
    kc_arena_free(&ci->arena);
    kc_pre_unref(ci->pre);
    kb_free(ci);
}
