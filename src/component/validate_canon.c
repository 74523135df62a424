/* validate_canon.c - canonical definitions: lift/lower option rules
 * (memory, realloc, post-return, string encoding), the flattened core
 * function type of a lift or lower, and resource built-ins. */
#include <stdio.h>

#include "validate.h"

#define MAX_FLAT_PARAMS 16
#define MAX_FLAT_RESULTS 1
#define MAX_FLAT 64 /* we stop counting here */

typedef struct flat {
    uint32_t n;
    uint8_t v[MAX_FLAT + 1];
} flat;

static void
push(flat *f, uint8_t t)
{
    if (f->n < MAX_FLAT)
        f->v[f->n] = t;
    if (f->n <= MAX_FLAT)
        f->n++;
}

static uint8_t
join(uint8_t a, uint8_t b)
{
    if (a == b)
        return a;
    if ((a == 0x7f && b == 0x7d) || (a == 0x7d && b == 0x7f))
        return 0x7f;
    return 0x7e;
}

static void flatten(const kv_type *t, flat *f);

/* A variant-like type: discriminant then the joined case payloads. */
static void
flatten_cases(kv_type *const *cases, uint32_t n, flat *f)
{
    flat joined = {0, {0}};
    push(f, 0x7f);
    for (uint32_t i = 0; i < n; i++) {
        flat c = {0, {0}};
        if (!cases[i])
            continue;
        flatten(cases[i], &c);
        for (uint32_t k = 0; k < c.n && k < MAX_FLAT; k++) {
            if (k < joined.n)
                joined.v[k] = join(joined.v[k], c.v[k]);
            else
                push(&joined, c.v[k]);
        }
    }
    for (uint32_t k = 0; k < joined.n && k < MAX_FLAT; k++)
        push(f, joined.v[k]);
}

static void
flatten(const kv_type *t, flat *f)
{
    if (!t)
        return;
    switch (t->kind) {
    case KC_T_PRIM:
        switch (t->prim) {
        case KC_S64:
        case KC_U64:
            push(f, 0x7e);
            return;
        case KC_F32:
            push(f, 0x7d);
            return;
        case KC_F64:
            push(f, 0x7c);
            return;
        case KC_STRING:
            push(f, 0x7f);
            push(f, 0x7f);
            return;
        default:
            push(f, 0x7f);
            return;
        }
    case KC_T_LIST:
    case KC_T_MAP:
        push(f, 0x7f);
        push(f, 0x7f);
        return;
    case KC_T_FIXED_LIST:
        for (uint32_t i = 0; i < t->len && f->n <= MAX_FLAT; i++)
            flatten(t->a, f);
        return;
    case KC_T_RECORD:
    case KC_T_TUPLE:
        for (uint32_t i = 0; i < t->n; i++)
            flatten(t->f[i].t, f);
        return;
    case KC_T_VARIANT: {
        kv_type *cases[256];
        uint32_t n = t->n < 256 ? t->n : 256;
        for (uint32_t i = 0; i < n; i++)
            cases[i] = t->f[i].t;
        flatten_cases(cases, n, f);
        return;
    }
    case KC_T_OPTION: {
        kv_type *cases[2] = {NULL, t->a};
        flatten_cases(cases, 2, f);
        return;
    }
    case KC_T_RESULT: {
        kv_type *cases[2] = {t->a, t->b};
        flatten_cases(cases, 2, f);
        return;
    }
    default: /* flags (<= 32), enum, own, borrow, stream, future */
        push(f, 0x7f);
        return;
    }
}

/* Whether values of t live in memory (strings, lists). */
static bool
uses_memory(const kv_type *t)
{
    if (!t)
        return false;
    switch (t->kind) {
    case KC_T_PRIM:
        return t->prim == KC_STRING;
    case KC_T_LIST:
    case KC_T_MAP:
        return true;
    case KC_T_RECORD:
    case KC_T_TUPLE:
    case KC_T_VARIANT:
        for (uint32_t i = 0; i < t->n; i++)
            if (uses_memory(t->f[i].t))
                return true;
        return false;
    case KC_T_FIXED_LIST:
    case KC_T_OPTION:
    case KC_T_RESULT:
        return uses_memory(t->a) || uses_memory(t->b);
    default:
        return false;
    }
}

static void
format_flat(const uint8_t *v, uint32_t n, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (uint32_t i = 0; i < n && k < len; i++) {
        const char *name = v[i] == 0x7f   ? "I32"
                           : v[i] == 0x7e ? "I64"
                           : v[i] == 0x7d ? "F32"
                           : v[i] == 0x7c ? "F64"
                                          : "Ref";
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", name);
    }
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

/* The options of a lift/lower, read again from the binary to see repeats
 * (the decoded form keeps only the last one). */
typedef struct opts {
    int encoding;  /* -1 none */
    int n_memory, n_realloc, n_post, n_enc;
    int first_enc, second_enc;
} opts;

static int
reread_opts(kv_ctx *v, const kc_canon *c, opts *o)
{
    static const char *const enc[] = {"utf8", "utf16", "latin1-utf16"};
    kb_reader r = {.base = v->comp->bytes,
                   .p = v->comp->bytes + c->offset,
                   .end = v->comp->bytes + v->comp->len};
    uint8_t b;
    uint32_t n, x;

    memset(o, 0, sizeof *o);
    if (kb_read_u8(&r, &b) || kb_read_u8(&r, &b) || kb_read_u32(&r, &x) ||
        kb_read_u32(&r, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        if (kb_read_u8(&r, &b))
            return 0;
        switch (b) {
        case 0x00:
        case 0x01:
        case 0x02:
            if (o->n_enc++ == 0) {
                o->first_enc = b;
            } else {
                return kv_err(v, c->offset,
                              "canonical encoding option `%s` conflicts "
                              "with option `%s`",
                              enc[o->first_enc], enc[b]);
            }
            break;
        case 0x03:
        case 0x04:
        case 0x05:
        case 0x07: {
            static const char *const nm[] = {"memory", "realloc",
                                              "post-return", "", "callback"};
            int *cnt = b == 0x03   ? &o->n_memory
                       : b == 0x04 ? &o->n_realloc
                       : b == 0x05 ? &o->n_post
                                   : &o->second_enc;
            if ((*cnt)++ && b != 0x07)
                return kv_err(v, c->offset,
                              "canonical option `%s` is specified more than "
                              "once",
                              nm[b - 3]);
            if (kb_read_u32(&r, &x))
                return 0;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static int
check_opts(kv_ctx *v, kv_scope *s, const kc_canon *c, bool lift,
           const flat *results, bool need_mem, bool need_realloc)
{
    const kc_canonopts *o = &c->opts;
    opts ro;
    int rc;

    if ((rc = reread_opts(v, c, &ro)))
        return rc;
    if (o->has_memory && o->memory >= s->sp[KC_CORE_MEMORY].n)
        return kv_err(v, c->offset, "memory index out of bounds");
    if (o->has_realloc) {
        if (o->realloc >= s->sp[KC_CORE_FUNC].n)
            return kv_err(v, c->offset, "function index out of bounds");
        kv_core *f = s->sp[KC_CORE_FUNC].v[o->realloc].c;
        static const uint8_t i4[4] = {0x7f, 0x7f, 0x7f, 0x7f};
        if (f && !f->unknown &&
            (f->np != 4 || f->nr != 1 || memcmp(f->p, i4, 4) != 0 ||
             f->r[0] != 0x7f))
            return kv_err(v, c->offset,
                          "canonical option `realloc` uses a core function "
                          "with an incorrect signature");
        if (!o->has_memory)
            return kv_err(v, c->offset, "canonical option `realloc` requires "
                                        "`memory` to also be specified");
    }
    if (o->has_post_return) {
        if (!lift)
            return kv_err(v, c->offset,
                          "canonical option `post-return` cannot be "
                          "specified for lowerings");
        if (o->post_return >= s->sp[KC_CORE_FUNC].n)
            return kv_err(v, c->offset, "function index out of bounds");
        kv_core *f = s->sp[KC_CORE_FUNC].v[o->post_return].c;
        if (f && !f->unknown && results &&
            (f->nr != 0 || f->np != results->n ||
             memcmp(f->p, results->v, f->np) != 0))
            return kv_err(v, c->offset,
                          "canonical option `post-return` uses a core "
                          "function with an incorrect signature");
    }
    if (need_mem && !o->has_memory)
        return kv_err(v, c->offset, "canonical option `memory` is required");
    if (need_realloc && !o->has_realloc)
        return kv_err(v, c->offset, "canonical option `realloc` is required");
    return 0;
}

static kv_core *
core_func(kv_ctx *v, const flat *p, const flat *r)
{
    kv_core *f = kv_alloc(v, sizeof *f);
    if (!f)
        return NULL;
    f->kind = 0;
    f->np = p ? p->n : 0;
    f->nr = r ? r->n : 0;
    f->p = kv_alloc(v, f->np + 1);
    f->r = kv_alloc(v, f->nr + 1);
    if (!f->p || !f->r)
        return NULL;
    if (f->np)
        memcpy(f->p, p->v, f->np);
    if (f->nr)
        memcpy(f->r, r->v, f->nr);
    return f;
}

static int
lift(kv_ctx *v, kv_scope *s, const kc_canon *c)
{
    int rc;
    if (c->func >= s->sp[KC_CORE_FUNC].n)
        return kv_err(v, c->offset, "function index out of bounds");
    if (c->type >= s->sp[KC_TYPE].n)
        return kv_err(v, c->offset, "type index out of bounds");
    kv_type *ft = s->sp[KC_TYPE].v[c->type].t;
    if (!ft || ft->kind != KC_T_FUNC)
        return kv_err(v, c->offset, "type index %u is not a function type",
                      c->type);
    flat p = {0, {0}}, r = {0, {0}};
    bool mem = false, realloc_ = false;
    for (uint32_t i = 0; i < ft->n; i++) {
        flatten(ft->f[i].t, &p);
        realloc_ |= uses_memory(ft->f[i].t);
    }
    flatten(ft->a, &r);
    mem = realloc_ || uses_memory(ft->a);
    if (p.n > MAX_FLAT_PARAMS) {
        p.n = 1;
        p.v[0] = 0x7f;
        mem = realloc_ = true;
    }
    if (r.n > MAX_FLAT_RESULTS) {
        r.n = 1;
        r.v[0] = 0x7f;
        mem = true;
    }
    bool async = ft->async || c->opts.async;
    if ((rc = check_opts(v, s, c, true, async ? NULL : &r, mem, realloc_)))
        return rc;
    kv_core *cf = s->sp[KC_CORE_FUNC].v[c->func].c;
    if (!async && cf && !cf->unknown) {
        char want[160], got[160];
        if (cf->np != p.n || memcmp(cf->p, p.v, p.n) != 0) {
            format_flat(p.v, p.n, want, sizeof want);
            format_flat(cf->p, cf->np, got, sizeof got);
            return kv_err(v, c->offset,
                          "lowered parameter types `%s` do not match "
                          "parameter types `%s` of core function %u",
                          want, got, c->func);
        }
        if (cf->nr != r.n || memcmp(cf->r, r.v, r.n) != 0) {
            format_flat(r.v, r.n, want, sizeof want);
            format_flat(cf->r, cf->nr, got, sizeof got);
            return kv_err(v, c->offset,
                          "lowered result types `%s` do not match result "
                          "types `%s` of core function %u",
                          want, got, c->func);
        }
    }
    kv_ext e = {KC_FUNC, ft, NULL};
    return kv_push(v, s, KC_FUNC, e);
}

static int
lower(kv_ctx *v, kv_scope *s, const kc_canon *c)
{
    int rc;
    if (c->func >= s->sp[KC_FUNC].n)
        return kv_err(v, c->offset, "function index out of bounds");
    kv_type *ft = s->sp[KC_FUNC].v[c->func].t;
    flat p = {0, {0}}, r = {0, {0}};
    bool mem = false, realloc_ = false;
    if (ft) {
        for (uint32_t i = 0; i < ft->n; i++) {
            flatten(ft->f[i].t, &p);
            mem |= uses_memory(ft->f[i].t);
        }
        flatten(ft->a, &r);
        realloc_ = uses_memory(ft->a);
        mem |= realloc_;
    }
    if (p.n > MAX_FLAT_PARAMS) {
        p.n = 1;
        p.v[0] = 0x7f;
        mem = true;
    }
    if (r.n > MAX_FLAT_RESULTS) {
        push(&p, 0x7f);
        r.n = 0;
        mem = true;
    }
    bool async = (ft && ft->async) || c->opts.async;
    if ((rc = check_opts(v, s, c, false, NULL, mem, realloc_)))
        return rc;
    kv_core *cf = core_func(v, &p, &r);
    if (!cf)
        return kv_nomem(v);
    cf->unknown = async;
    kv_ext e = {KC_CORE_FUNC, NULL, cf};
    return kv_push(v, s, KC_CORE_FUNC, e);
}

static int
resource_builtin(kv_ctx *v, kv_scope *s, const kc_canon *c)
{
    static const flat i32 = {1, {0x7f}};
    if (c->type >= s->sp[KC_TYPE].n)
        return kv_err(v, c->offset, "type index out of bounds");
    kv_type *t = s->sp[KC_TYPE].v[c->type].t;
    if (!t || t->kind != KC_T_RESOURCE)
        return kv_err(v, c->offset, "type index %u is not a resource type",
                      c->type);
    if (c->op != KC_CANON_RESOURCE_DROP && !kv_res(t)->local)
        return kv_err(v, c->offset, "type index %u is not a local resource",
                      c->type);
    kv_core *cf = core_func(v, &i32, c->op == KC_CANON_RESOURCE_DROP
                                         ? NULL
                                         : &i32);
    if (!cf)
        return kv_nomem(v);
    kv_ext e = {KC_CORE_FUNC, NULL, cf};
    return kv_push(v, s, KC_CORE_FUNC, e);
}

int
kv_canon(kv_ctx *v, kv_scope *s, const kc_canon *c)
{
    switch (c->op) {
    case KC_CANON_LIFT:
        return lift(v, s, c);
    case KC_CANON_LOWER:
        return lower(v, s, c);
    case KC_CANON_RESOURCE_NEW:
    case KC_CANON_RESOURCE_DROP:
    case KC_CANON_RESOURCE_REP:
        return resource_builtin(v, s, c);
    default: {
        /* async and thread built-ins: a core function whose type is not
         * checked here */
        kv_core *cf = core_func(v, NULL, NULL);
        if (!cf)
            return kv_nomem(v);
        cf->unknown = true;
        kv_ext e = {KC_CORE_FUNC, NULL, cf};
        return kv_push(v, s, KC_CORE_FUNC, e);
    }
    }
}
