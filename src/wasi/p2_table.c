/* p2_table.c - the WASI 0.2 host's object table (handle reps), shared
 * descriptors, and kumo_wasi_p2_define, which binds the generated
 * bindings (build/gen/wasi_bind.c) to a context. */
#include <string.h>

#include "../base/base.h"
#include "p2.h"

static kx_p2 *
state(kumo_wasi_ctx *ctx)
{
    if (!ctx->p2)
        ctx->p2 = kb_calloc(1, sizeof *ctx->p2);
    return ctx->p2;
}

kx_p2obj *
kx_p2_new(kumo_wasi_ctx *ctx, kx_p2kind kind, uint32_t *rep)
{
    kx_p2 *p = state(ctx);
    uint32_t i;
    if (!p)
        return NULL;
    if (p->free_head) {
        i = p->free_head - 1;
        p->free_head = p->objs[i].next;
    } else {
        if (p->nobjs >= 0x7fffffff ||
            kb_reserve((void **)&p->objs, &p->cap, p->nobjs + 1,
                       sizeof *p->objs))
            return NULL;
        i = p->nobjs++;
    }
    kx_p2obj *o = &p->objs[i];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    *rep = i + 1;
    return o;
}

kx_p2obj *
kx_p2_get(kumo_wasi_ctx *ctx, uint32_t rep, kx_p2kind kind)
{
    kx_p2 *p = ctx->p2;
    if (!p || rep == 0 || rep > p->nobjs || p->objs[rep - 1].kind != kind)
        return NULL;
    return &p->objs[rep - 1];
}

void
kx_p2_free_obj(kumo_wasi_ctx *ctx, uint32_t rep)
{
    kx_p2 *p = ctx->p2;
    if (!p || rep == 0 || rep > p->nobjs || p->objs[rep - 1].kind == KX_P2_FREE)
        return;
    kx_p2obj *o = &p->objs[rep - 1];
    kx_p2ext *ext = o->ext;
    kx_p2kind kind = (kx_p2kind)o->kind;
    kx_p2file_unref(o->file);
    kb_free(o->data);
    memset(o, 0, sizeof *o);
    o->next = p->free_head;
    p->free_head = rep;
    if (ext) { /* last: the slot is consistent whatever release does */
        ext->slots--;
        ext->ops->release(ctx, ext, kind);
    }
}

/* Free every object of the table (the bindings stay). */
static void
free_objects(kumo_wasi_ctx *ctx, kx_p2 *p)
{
    for (uint32_t i = 0; i < p->nobjs; i++)
        if (p->objs[i].kind != KX_P2_FREE)
            kx_p2_free_obj(ctx, i + 1);
    p->nobjs = 0;
    p->free_head = 0;
}

void
kx_p2_reset(kumo_wasi_ctx *ctx)
{
    if (ctx->p2)
        free_objects(ctx, ctx->p2);
}

kx_p2obj *
kx_p2_new_ext(kumo_wasi_ctx *ctx, kx_p2kind kind, kx_p2ext *ext,
              uint32_t *rep)
{
    kx_p2obj *o = kx_p2_new(ctx, kind, rep);
    if (o) {
        o->ext = ext;
        ext->slots++;
        if (kind == KX_P2_POLLABLE)
            o->when = KX_P2_EXTWAIT;
    }
    return o;
}

kx_p2ext *
kx_p2_get_ext(kumo_wasi_ctx *ctx, uint32_t rep, kx_p2kind kind,
              const kx_p2ops *ops)
{
    kx_p2obj *o = kx_p2_get(ctx, rep, kind);
    if (!o || !o->ext || (ops && o->ext->ops != ops))
        return NULL;
    return o->ext;
}

void *
kx_p2_host(kumo_wasi_ctx *ctx)
{
    return ctx->p2 ? ctx->p2->host : NULL;
}

int
kx_p2_set_host(kumo_wasi_ctx *ctx, void *host)
{
    kx_p2 *p = state(ctx);
    if (!p)
        return KUMO_ENOMEM;
    p->host = host;
    return 0;
}

void
kx_p2_fini(kumo_wasi_ctx *ctx)
{
    kx_p2 *p = ctx->p2;
    if (!p)
        return;
    free_objects(ctx, p);
    for (uint32_t i = 0; i < sizeof p->lookups / sizeof *p->lookups; i++)
        kb_free(p->lookups[i].name);
    for (uint32_t i = 0; i < p->nbinds; i++)
        kb_free(p->binds[i]);
    kb_free(p->binds);
    kb_free(p->objs);
    kb_free(p);
    ctx->p2 = NULL;
}

kx_p2file *
kx_p2file_new(kx_desc *d, bool owned)
{
    kx_p2file *f = kb_calloc(1, sizeof *f);
    if (!f) {
        if (owned)
            kx_desc_free(d);
        return NULL;
    }
    f->refs = 1;
    f->owned = owned;
    f->d = d;
    return f;
}

kx_p2file *
kx_p2file_ref(kx_p2file *f)
{
    if (f)
        f->refs++;
    return f;
}

void
kx_p2file_unref(kx_p2file *f)
{
    if (!f || --f->refs > 0)
        return;
    if (f->owned)
        kx_desc_free(f->d);
    kb_free(f);
}

int
kx_p2_badhandle(kg_call *call)
{
    return kg_call_trap(call, "%s: handle of the wrong kind", call->name);
}

int
kx_p2_oom(kg_call *call)
{
    return kg_call_trap(call, "%s: out of memory", call->name);
}

/* The wasi:http interfaces are generated with the others (they share the
 * wasi:io resource types) but implemented above this layer: only
 * kx_p2_define(ctx, l, NULL), which src/http uses, defines them. */
#define HTTP_PREFIX "wasi:http/"

static bool
skipped(const char *iface, const char *skip)
{
    return skip && strncmp(iface, skip, strlen(skip)) == 0;
}

int
kx_p2_define(kumo_wasi_ctx *ctx, kumo_clinker *l, const char *skip)
{
    kx_p2 *p = state(ctx);
    int rc;
    if (!p || kb_reserve((void **)&p->binds, &p->bindcap, p->nbinds + 1,
                         sizeof *p->binds))
        return KUMO_ENOMEM;
    kx_bindings *b = kb_calloc(1, sizeof *b);
    if (!b)
        return KUMO_ENOMEM;
    b->env = ctx;
    p->binds[p->nbinds++] = b;
    for (size_t i = 0; i < KX_NRESOURCES; i++)
        if (!skipped(kx_resources[i].iface, skip) &&
            (rc = kumo_clinker_define_resource(l, kx_resources[i].iface,
                                               kx_resources[i].name,
                                               kx_resources[i].dtor, b,
                                               &b->res[i])))
            return rc;
    for (size_t i = 0; i < kx_nfuncs; i++)
        if (!skipped(kx_funcs[i].iface, skip) &&
            (rc = kumo_clinker_define_func(l, kx_funcs[i].iface,
                                           kx_funcs[i].name, kx_funcs[i].fn,
                                           b, NULL)))
            return rc;
    return 0;
}

int
kumo_wasi_p2_define(kumo_wasi_ctx *ctx, kumo_clinker *l)
{
    return kx_p2_define(ctx, l, HTTP_PREFIX);
}

bool
kumo_wasi_p2_provides(const char *iface, size_t len)
{
    for (size_t i = 0; i < kx_ninterfaces; i++)
        if (!skipped(kx_interfaces[i], HTTP_PREFIX) &&
            kumo_cname_match(kx_interfaces[i], strlen(kx_interfaces[i]),
                             iface, len))
            return true;
    return false;
}
