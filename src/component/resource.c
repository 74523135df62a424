/* resource.c - resources: per-instance handle tables (index 0 is never
 * valid, freed slots are reused last-in first-out), own and borrow
 * handles, lend counts, borrow scopes of calls, destructors
 * (CanonicalABI.md: HandleTable, lift_own, lift_borrow, lower_borrow,
 * canon_resource_drop). */
#include <stdio.h>

#include "canon.h"

int
kc_handle_add(kc_cx *cx, kc_rinst *ri, kumo_cresource *rt, uint32_t rep,
              bool own, kc_call *scope, uint32_t *out)
{
    uint32_t i;
    if (ri->free_head) {
        i = ri->free_head;
        ri->free_head = ri->h[i].next_free;
    } else {
        if (ri->n == 0)
            ri->n = 1; /* slot 0 is reserved */
        if (ri->n >= (1u << 28))
            return kc_trap(cx, "handle table full");
        if (kb_reserve((void **)&ri->h, &ri->cap, ri->n + 1, sizeof *ri->h))
            return KUMO_ENOMEM;
        i = ri->n++;
    }
    kc_handle *h = &ri->h[i];
    memset(h, 0, sizeof *h);
    h->rt = rt;
    h->rep = rep;
    h->own = own;
    h->scope = scope;
    *out = i;
    return 0;
}

static const char *
origin(const kumo_cresource *rt)
{
    return rt->guest ? "guest-defined" : "host-defined";
}

int
kc_handle_get(kc_cx *cx, kc_rinst *ri, uint32_t idx, const kumo_cresource *rt,
              kc_handle **out)
{
    if (idx == 0 || idx >= ri->n || !ri->h[idx].rt)
        return kc_trap(cx, "unknown handle index %u", idx);
    kc_handle *h = &ri->h[idx];
    if (rt && h->rt != rt)
        return kc_trap(cx,
                       "handle index %u used with the wrong type, expected "
                       "%s resource but found a different %s resource",
                       idx, origin(rt), origin(h->rt));
    *out = h;
    return 0;
}

static void
handle_free(kc_rinst *ri, uint32_t idx)
{
    ri->h[idx].rt = NULL;
    ri->h[idx].next_free = ri->free_head;
    ri->free_head = idx;
}

int
kc_handle_take_own(kc_cx *cx, kc_rinst *ri, uint32_t idx,
                   const kumo_cresource *rt, uint32_t *rep)
{
    kc_handle *h = NULL;
    int rc = kc_handle_get(cx, ri, idx, rt, &h);
    if (rc)
        return rc;
    if (h->lend_count)
        return kc_trap(cx, "cannot remove owned resource while borrowed");
    if (!h->own)
        return kc_trap(cx, "cannot lift own handle %u: it is a borrow", idx);
    *rep = h->rep;
    handle_free(ri, idx);
    return 0;
}

int
kc_resource_destroy(kc_cx *cx, kumo_cresource *rt, uint32_t rep)
{
    if (!rt->guest) {
        if (rt->host_dtor)
            rt->host_dtor(rt->env, rep);
        return 0;
    }
    kc_rinst *impl = kc_res_impl(cx->top, rt);
    if (!impl)
        return kc_trap(cx, "resource type of another instance");
    kumo_func *dtor = kc_res_dtor(cx->top, rt);
    if (!dtor)
        return 0;
    if (impl->poisoned)
        return kc_trap(cx, "cannot enter component instance");
    kumo_val arg = rep;
    return kumo_func_call(cx->store, dtor, &arg, NULL);
}

int
kc_handle_drop(kc_cx *cx, kc_rinst *ri, uint32_t idx,
               const kumo_cresource *rt)
{
    kc_handle *h = NULL;
    int rc = kc_handle_get(cx, ri, idx, rt, &h);
    if (rc)
        return rc;
    if (h->lend_count)
        return kc_trap(cx, "cannot remove owned resource while borrowed");
    kumo_cresource *hrt = h->rt;
    uint32_t rep = h->rep;
    bool own = h->own;
    kc_call *scope = h->scope;
    handle_free(ri, idx);
    if (!own) {
        if (scope && scope->nborrows)
            scope->nborrows--;
        return 0;
    }
    return kc_resource_destroy(cx, hrt, rep);
}

int
kc_call_lend(kc_call *call, kc_rinst *ri, uint32_t idx)
{
    if (!call->lends && call->nlends < KC_LENDS_INLINE) {
        call->inl[call->nlends++] = (kc_lend){ri, idx};
        return 0;
    }
    if (!call->lends) {
        /* move the inline lends to the heap */
        if (kb_reserve((void **)&call->lends, &call->cap_lends,
                       call->nlends + 1, sizeof *call->lends))
            return KUMO_ENOMEM;
        memcpy(call->lends, call->inl, call->nlends * sizeof *call->lends);
    } else if (kb_reserve((void **)&call->lends, &call->cap_lends,
                          call->nlends + 1, sizeof *call->lends)) {
        return KUMO_ENOMEM;
    }
    call->lends[call->nlends++] = (kc_lend){ri, idx};
    return 0;
}

int
kc_call_finish(kc_cx *cx, kc_call *call)
{
    const kc_lend *lends = call->lends ? call->lends : call->inl;
    for (uint32_t i = 0; i < call->nlends; i++) {
        kc_rinst *ri = lends[i].inst;
        uint32_t idx = lends[i].idx;
        if (idx < ri->n && ri->h[idx].rt && ri->h[idx].lend_count)
            ri->h[idx].lend_count--;
    }
    call->nlends = 0;
    if (call->nborrows)
        return kc_trap(cx, "borrow handles still remain at the end of the "
                           "call");
    return 0;
}

void
kc_call_fini(kc_call *call)
{
    kb_free(call->lends);
    call->lends = NULL;
    call->nlends = call->cap_lends = 0;
}

void
kc_rinst_fini(kc_rinst *ri)
{
    kb_free(ri->h);
    ri->h = NULL;
    ri->n = ri->cap = ri->free_head = 0;
}
