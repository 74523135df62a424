/* clink.c - the host linker (host functions and resource types by
 * interface name), calls across the component boundary (canon lift: call a
 * lifted core function with lowered arguments; canon lower: a core host
 * function that lifts its arguments from the caller and calls the target),
 * the resource built-ins, and the public call API. */
#include <stdio.h>

#include "canon.h"

/* ---- linker */

typedef struct kc_hostdef {
    char *iface; /* NULL: a top-level import */
    char *name;
    char *canon; /* iface in canonical-version form (kc_name_canon) */
    uint32_t canon_len, name_len;
    uint32_t hash;
    bool is_resource;
    kumo_chost_fn fn;
    void *env;
    void (*finalize)(void *env);
    kumo_cresource *res;
} kc_hostdef;

/* Definitions are found by a hash of (canonical interface, name, kind)
 * in an open-addressing index of def numbers + 1 (a power of two, at most
 * half full): instantiation looks up every import, and a WASI + wasi:http
 * linker holds hundreds of definitions. */
struct kumo_clinker {
    kc_hostdef *defs;
    uint32_t n, cap;
    uint32_t *index;
    uint32_t index_cap;
    bool stubs;
};

struct kumo_ccall {
    kc_cx *cx;
};

int
kumo_clinker_new(kumo_clinker **out)
{
    *out = kb_calloc(1, sizeof **out);
    return *out ? 0 : KUMO_ENOMEM;
}

void
kumo_clinker_free(kumo_clinker *l)
{
    if (!l)
        return;
    for (uint32_t i = 0; i < l->n; i++) {
        kc_hostdef *d = &l->defs[i];
        if (d->finalize)
            d->finalize(d->env);
        kb_free(d->iface);
        kb_free(d->name);
        kb_free(d->canon);
        kb_free(d->res);
    }
    kb_free(l->defs);
    kb_free(l->index);
    kb_free(l);
}

void
kumo_clinker_allow_stubs(kumo_clinker *l, bool on)
{
    l->stubs = on;
}

/* The canonical form of an interface name for lookups: written to buf
 * (cap bytes), or the name itself when it is too long to canonicalize
 * (kumo_cname_match compares such names exactly). */
static kc_str
canon_iface(kc_str iface, char *buf, size_t cap)
{
    if (iface.len > 400)
        return iface;
    size_t n = kc_name_canon(iface.s, iface.len, buf, cap);
    return (kc_str){buf, (uint32_t)n};
}

static uint32_t
def_hash(kc_str canon, const char *name, size_t name_len, bool res)
{
    uint32_t h = 2166136261u ^ (res ? 0x9e3779b9u : 0);
    for (uint32_t i = 0; i < canon.len; i++)
        h = (h ^ (uint8_t)canon.s[i]) * 16777619u;
    h = (h ^ '#') * 16777619u;
    for (size_t i = 0; i < name_len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h;
}

static kc_hostdef *
lookup(const kumo_clinker *l, kc_str iface, kc_str name, bool res)
{
    char buf[512];
    if (!l || !l->index_cap)
        return NULL;
    kc_str c = canon_iface(iface, buf, sizeof buf);
    uint32_t h = def_hash(c, name.s, name.len, res);
    uint32_t mask = l->index_cap - 1;
    for (uint32_t i = h & mask; l->index[i]; i = (i + 1) & mask) {
        kc_hostdef *d = &l->defs[l->index[i] - 1];
        if (d->hash == h && d->is_resource == res && d->name_len == name.len &&
            d->canon_len == c.len && !memcmp(d->name, name.s, name.len) &&
            !memcmp(d->canon, c.s, c.len))
            return d;
    }
    return NULL;
}

/* Put def number i into the index, growing it to stay at most half full. */
static int
index_add(kumo_clinker *l, uint32_t i)
{
    if ((l->n + 1) * 2 > l->index_cap) {
        uint32_t cap = l->index_cap ? l->index_cap * 2 : 64;
        uint32_t *ix = kb_calloc(cap, sizeof *ix);
        if (!ix)
            return KUMO_ENOMEM;
        kb_free(l->index);
        l->index = ix;
        l->index_cap = cap;
        for (uint32_t j = 0; j < l->n; j++)
            if (j != i && index_add(l, j) < 0)
                return KUMO_ENOMEM; /* not reached: room was made */
    }
    uint32_t mask = l->index_cap - 1;
    uint32_t k = l->defs[i].hash & mask;
    while (l->index[k])
        k = (k + 1) & mask;
    l->index[k] = i + 1;
    return 0;
}

static int
define(kumo_clinker *l, const char *iface, const char *name, bool res,
       kc_hostdef **out)
{
    kc_str i = {iface ? iface : "", iface ? (uint32_t)strlen(iface) : 0};
    kc_str n = {name, (uint32_t)strlen(name)};
    char buf[512];
    kc_hostdef *d = lookup(l, i, n, res);
    if (d) {
        if (d->finalize)
            d->finalize(d->env);
        d->finalize = NULL;
        *out = d;
        return 0;
    }
    if (kb_reserve((void **)&l->defs, &l->cap, l->n + 1, sizeof *l->defs))
        return KUMO_ENOMEM;
    d = &l->defs[l->n];
    memset(d, 0, sizeof *d);
    kc_str c = canon_iface(i, buf, sizeof buf);
    d->name = kb_strndup(name, n.len);
    d->iface = iface ? kb_strndup(iface, i.len) : NULL;
    d->canon = kb_strndup(c.s, c.len);
    if (!d->name || (iface && !d->iface) || !d->canon)
        goto fail;
    d->name_len = n.len;
    d->canon_len = c.len;
    d->hash = def_hash(c, name, n.len, res);
    d->is_resource = res;
    /* counted only once indexed: a failed index_add leaves it out */
    if (index_add(l, l->n) < 0)
        goto fail;
    l->n++;
    *out = d;
    return 0;
fail:
    kb_free(d->name);
    kb_free(d->iface);
    kb_free(d->canon);
    return KUMO_ENOMEM;
}

int
kumo_clinker_define_func(kumo_clinker *l, const char *iface, const char *func,
                         kumo_chost_fn fn, void *env,
                         void (*finalize)(void *env))
{
    kc_hostdef *d;
    int rc = define(l, iface, func, false, &d);
    if (rc)
        return rc;
    d->fn = fn;
    d->env = env;
    d->finalize = finalize;
    return 0;
}

int
kumo_clinker_define_resource(kumo_clinker *l, const char *iface,
                             const char *name, kumo_cresource_dtor dtor,
                             void *env, kumo_cresource **out)
{
    kc_hostdef *d;
    int rc = define(l, iface, name, true, &d);
    if (rc)
        return rc;
    if (!d->res) {
        d->res = kb_calloc(1, sizeof *d->res);
        if (!d->res)
            return KUMO_ENOMEM;
        d->res->type.kind = KUMO_CV_RESOURCE;
        d->res->type.res = d->res;
        d->res->name.s = d->name;
        d->res->name.len = (uint32_t)strlen(d->name);
    }
    d->res->host_dtor = dtor;
    d->res->env = env;
    if (out)
        *out = d->res;
    return 0;
}

bool
kc_linker_has_iface(const kumo_clinker *l, kc_str iface)
{
    char buf[512];
    if (l->stubs)
        return true;
    kc_str c = canon_iface(iface, buf, sizeof buf);
    for (uint32_t i = 0; i < l->n; i++)
        if (l->defs[i].iface && l->defs[i].canon_len == c.len &&
            !memcmp(l->defs[i].canon, c.s, c.len))
            return true;
    return false;
}

static int
stub_fn(kumo_ccall *call, void *env, const kumo_ctype *type,
        const kumo_cval *args, size_t nargs, kumo_cval *results,
        size_t nresults)
{
    (void)type, (void)args, (void)nargs, (void)results, (void)nresults;
    char buf[200];
    snprintf(buf, sizeof buf, "unimplemented host function %s",
             (const char *)env);
    return kumo_ccall_trap(call, buf);
}

int
kc_linker_func(kumo_clinker *l, kc_str iface, kc_str name, kc_arena *a,
               const kumo_ctype *type, kc_rfunc **out)
{
    const kc_hostdef *d = lookup(l, iface, name, false);
    if (!d && !(l && l->stubs))
        return KUMO_EUNLINKABLE;
    if (!type || type->kind != KUMO_CV_FUNC)
        return KUMO_EINVALID;
    kc_rfunc *f = kc_alloc(a, sizeof *f);
    if (!f)
        return KUMO_ENOMEM;
    f->type = type;
    f->kind = KC_RF_HOST;
    f->name = "";
    char *nm = kc_alloc(a, (size_t)iface.len + name.len + 2);
    if (nm) {
        memcpy(nm, iface.s, iface.len);
        if (iface.len)
            nm[iface.len] = '#';
        memcpy(nm + iface.len + (iface.len > 0), name.s, name.len);
        f->name = nm;
    }
    if (d) {
        f->fn = d->fn;
        f->env = d->env;
    } else {
        f->fn = stub_fn;
        f->env = (void *)f->name;
    }
    *out = f;
    return 0;
}

int
kc_linker_resource(kumo_clinker *l, kc_str iface, kc_str name, kc_arena *a,
                   kumo_cresource **out)
{
    kc_hostdef *d = lookup(l, iface, name, true);
    if (d) {
        *out = d->res;
        return 0;
    }
    if (!(l && l->stubs))
        return KUMO_EUNLINKABLE;
    kumo_cresource *r = kc_alloc(a, sizeof *r);
    if (!r)
        return KUMO_ENOMEM;
    r->type.kind = KUMO_CV_RESOURCE;
    r->type.res = r;
    r->name = name;
    *out = r;
    return 0;
}

/* ---- calls */

void
kc_top_set_trap(struct kumo_cinstance *top, const char *msg)
{
    if (top)
        snprintf(top->msg, sizeof top->msg, "%s", msg);
}

int
kumo_ccall_trap(kumo_ccall *call, const char *msg)
{
    return kc_trap(call->cx, "%s", msg ? msg : "host trap");
}

kumo_store *
kumo_ccall_store(kumo_ccall *call)
{
    return call->cx->store;
}

static const kumo_ctype *const *
result_types(const kumo_ctype *ft, uint32_t *n)
{
    *n = ft->result ? 1 : 0;
    return &ft->result;
}

static int
invoke_host(kc_rfunc *f, const kumo_cval *args, kumo_cval *result,
            kc_cx *cx)
{
    kumo_ccall call = {cx};
    uint32_t nres;
    result_types(f->type, &nres);
    int rc = f->fn(&call, f->env, f->type, args, f->type->n, result, nres);
    if (rc)
        return rc > 0 ? KUMO_ETRAP_HOST : rc;
    if (nres && kc_check_value(f->type->result, result)) {
        kumo_cval_free(result);
        return kc_trap(cx, "host function %s returned a value of the wrong "
                           "type", f->name);
    }
    return 0;
}

static int
invoke_lifted(kc_rfunc *f, const kumo_cval *args, kumo_cval *result,
              kc_cx *cx)
{
    const kumo_ctype *ft = f->type;
    kc_rinst *ri = f->inst;
    kc_call call = {0};
    kc_cx cc = *cx;
    cc.opts = &f->opts;
    cc.inst = ri;
    cc.call = &call;
    kumo_val in[KC_MAX_FLAT_PARAMS + 1], out[2] = {0, 0};
    uint32_t nin = 0, nres;
    const kumo_ctype *const *rts = result_types(ft, &nres);
    int rc = kc_lower_values(&cc, ft->members, ft->n, args, KC_MAX_FLAT_PARAMS,
                             false, 0, in, &nin);
    if (rc)
        goto done;
    rc = kumo_func_call(cc.store, f->core, in, out);
    if (rc)
        goto done;
    uint32_t nout = kumo_func_type(f->core)->nresults;
    if (nres && (rc = kc_lift_values(&cc, rts, nres, out, nout,
                                     KC_MAX_FLAT_RESULTS, result)))
        goto done;
    if (f->opts.post_return) {
        ri->may_leave = false;
        rc = kumo_func_call(cc.store, f->opts.post_return, out, NULL);
        ri->may_leave = true;
        if (rc) {
            kumo_cvals_free(result, nres);
            goto done;
        }
    }
    if ((rc = kc_call_finish(&cc, &call)))
        kumo_cvals_free(result, nres);
done:
    kc_call_fini(&call);
    return rc;
}

int
kc_invoke(kc_rfunc *f, struct kumo_cinstance *top, const kumo_cval *args,
          kumo_cval *result, kumo_caller *caller)
{
    kc_cx cx = {.store = top->store, .caller = caller, .top = top,
                .fused = caller != NULL};
    if (f->kind == KC_RF_HOST)
        return invoke_host(f, args, result, &cx);
    return invoke_lifted(f, args, result, &cx);
}

/* ---- canon lower: a core host function calling a component function */

typedef struct kc_lowered {
    kc_rfunc *callee;
    kc_opts opts;
    kc_rinst *inst;
    struct kumo_cinstance *top;
    uint32_t nflat_params; /* core params before the retptr */
    bool retptr;
} kc_lowered;

static int
lowered_call(kumo_caller *caller, void *env, const kumo_val *args,
             kumo_val *results)
{
    kc_lowered *lw = env;
    kc_rinst *ri = lw->inst;
    const kumo_ctype *ft = lw->callee->type;
    if (!ri->may_leave)
        return kumo_caller_trap(caller, "cannot leave component instance");
    kc_call call = {0};
    kc_cx cx = {.opts = &lw->opts, .inst = ri, .call = &call,
                .store = kumo_caller_store(caller), .caller = caller,
                .top = lw->top, .fused = lw->callee->kind == KC_RF_LIFTED};
    kumo_cval res = {.kind = KUMO_CV_BOOL};
    kumo_cval inl[8];
    kumo_cval *vs = inl;
    uint32_t nres, k = 0;
    if (ft->n + 1 <= sizeof inl / sizeof inl[0])
        memset(inl, 0, (ft->n + 1) * sizeof *inl);
    else
        vs = kb_calloc(ft->n + 1, sizeof *vs);
    const kumo_ctype *const *rts = result_types(ft, &nres);
    if (!vs)
        return kumo_caller_trap(caller, "out of memory");
    int rc = kc_lift_values(&cx, ft->members, ft->n, args, lw->nflat_params,
                            KC_MAX_FLAT_PARAMS, vs);
    if (rc)
        goto done;
    if (lw->callee->kind == KC_RF_LIFTED && lw->callee->inst == ri) {
        rc = kumo_caller_trap(caller, "cannot enter component instance");
        goto done;
    }
    if (lw->callee->kind != KC_RF_LIFTED && lw->top)
        lw->top->host_calls++;
    rc = kc_invoke(lw->callee, lw->top, vs, &res, caller);
    if (rc)
        goto done;
    if ((rc = kc_call_finish(&cx, &call)))
        goto done;
    cx.call = NULL;
    if (nres)
        rc = kc_lower_values(&cx, rts, nres, &res, KC_MAX_FLAT_RESULTS,
                             lw->retptr,
                             lw->retptr ? (uint32_t)args[lw->nflat_params] : 0,
                             results, &k);
done:
    kumo_cval_free(&res);
    kumo_cvals_free(vs, ft->n);
    if (vs != inl)
        kb_free(vs);
    kc_call_fini(&call);
    if (rc == KUMO_ENOMEM)
        rc = kumo_caller_trap(caller, "out of memory");
    return rc;
}

int
kc_lowered_new(struct kumo_cinstance *ci, kc_rfunc *callee,
               const kc_opts *opts, kc_rinst *caller_inst,
               const kumo_functype *sig, bool retptr, kumo_func **out)
{
    kc_lowered *lw = kc_alloc(&ci->arena, sizeof *lw);
    if (!lw)
        return KUMO_ENOMEM;
    lw->callee = callee;
    lw->opts = *opts;
    lw->inst = caller_inst;
    lw->top = ci;
    lw->retptr = retptr;
    lw->nflat_params = sig->nparams - (retptr ? 1 : 0);
    return kumo_func_new_host(ci->store, sig, lowered_call, lw, NULL, out);
}

/* ---- resource.new / drop / rep */

typedef struct kc_builtin {
    kc_canon_op op;
    kumo_cresource *rt;
    kc_rinst *inst;
    struct kumo_cinstance *top;
} kc_builtin;

static int
builtin_call(kumo_caller *caller, void *env, const kumo_val *args,
             kumo_val *results)
{
    kc_builtin *b = env;
    kc_cx cx = {.inst = b->inst, .store = kumo_caller_store(caller),
                .caller = caller, .top = b->top};
    uint32_t x = (uint32_t)args[0], idx;
    kc_handle *h = NULL;
    int rc;
    switch (b->op) {
    case KC_CANON_RESOURCE_NEW:
        if (!b->inst->may_leave)
            return kumo_caller_trap(caller, "cannot leave component instance");
        if ((rc = kc_handle_add(&cx, b->inst, b->rt, x, true, NULL, &idx)))
            return rc == KUMO_ENOMEM ? kumo_caller_trap(caller, "out of memory")
                                     : rc;
        results[0] = idx;
        return 0;
    case KC_CANON_RESOURCE_DROP:
        if (!b->inst->may_leave)
            return kumo_caller_trap(caller, "cannot leave component instance");
        return kc_handle_drop(&cx, b->inst, x, b->rt);
    default:
        if ((rc = kc_handle_get(&cx, b->inst, x, b->rt, &h)))
            return rc;
        results[0] = h->rep;
        return 0;
    }
}

int
kc_builtin_new(struct kumo_cinstance *ci, kc_canon_op op, kumo_cresource *rt,
               kc_rinst *inst, kumo_func **out)
{
    static const kumo_valtype i32[1] = {KUMO_I32};
    kc_builtin *b = kc_alloc(&ci->arena, sizeof *b);
    if (!b)
        return KUMO_ENOMEM;
    b->op = op;
    b->rt = rt;
    b->inst = inst;
    b->top = ci;
    kumo_functype sig = {1, op == KC_CANON_RESOURCE_DROP ? 0 : 1, i32, i32};
    return kumo_func_new_host(ci->store, &sig, builtin_call, b, NULL, out);
}

/* ---- public calls */

int
kumo_cinstance_func(kumo_cinstance *inst, const char *name, kumo_cfunc **out)
{
    const char *hash = strchr(name, '#');
    const kc_rcinst *x = inst->exports;
    kc_str fn = {name, (uint32_t)strlen(name)};
    *out = NULL;
    if (hash) {
        kc_str iface = {name, (uint32_t)(hash - name)};
        const kc_rcinst *sub = NULL;
        for (uint32_t i = 0; i < x->n && !sub; i++)
            if (x->ex[i].sort == KC_INSTANCE &&
                kumo_cname_match(x->ex[i].name.s, x->ex[i].name.len, iface.s,
                                 iface.len))
                sub = x->ex[i].v.p;
        if (!sub)
            return KUMO_ENOTFOUND;
        x = sub;
        fn.s = hash + 1;
        fn.len = (uint32_t)strlen(hash + 1);
    }
    for (uint32_t i = 0; i < x->n; i++)
        if (x->ex[i].sort == KC_FUNC && x->ex[i].name.len == fn.len &&
            !memcmp(x->ex[i].name.s, fn.s, fn.len)) {
            *out = x->ex[i].v.p;
            return 0;
        }
    return KUMO_ENOTFOUND;
}

const kumo_ctype *
kumo_cfunc_type(const kumo_cfunc *f)
{
    return f->type;
}

int
kumo_cfunc_call(kumo_cfunc *f, const kumo_cval *args, size_t nargs,
                kumo_cval *results, size_t nresults)
{
    const kumo_ctype *ft = f->type;
    struct kumo_cinstance *top = f->top;
    if (nargs != ft->n || nresults != (ft->result ? 1u : 0u))
        return KUMO_EINVAL;
    for (size_t i = 0; i < nargs; i++)
        if (kc_check_value(ft->members[i], &args[i]))
            return KUMO_EINVAL;
    for (size_t i = 0; i < nresults; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].kind = KUMO_CV_BOOL;
    }
    top->msg[0] = '\0';
    int rc = kc_invoke(f, top, args, results, NULL);
    if (rc && top->msg[0] == '\0')
        snprintf(top->msg, sizeof top->msg, "%s",
                 KUMO_IS_TRAP(rc) ? kumo_store_trap_message(top->store)
                                  : kumo_strerror(rc));
    return rc;
}

int
kumo_cinstance_call(kumo_cinstance *inst, const char *name,
                    const kumo_cval *args, size_t nargs, kumo_cval *results,
                    size_t nresults)
{
    kumo_cfunc *f;
    int rc = kumo_cinstance_func(inst, name, &f);
    if (rc)
        return rc;
    return kumo_cfunc_call(f, args, nargs, results, nresults);
}

const char *
kumo_cinstance_trap_message(const kumo_cinstance *inst)
{
    return inst->msg;
}

int
kumo_cinstance_drop(kumo_cinstance *inst, const kumo_cval *own)
{
    if (own->kind != KUMO_CV_OWN || !own->u.handle.type)
        return KUMO_EINVAL;
    kc_cx cx = {.store = inst->store, .top = inst};
    inst->msg[0] = '\0';
    int rc = kc_resource_destroy(&cx, own->u.handle.type, own->u.handle.rep);
    if (rc && inst->msg[0] == '\0')
        snprintf(inst->msg, sizeof inst->msg, "%s",
                 kumo_store_trap_message(inst->store));
    return rc;
}
