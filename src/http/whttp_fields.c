/* whttp_fields.c - wasi:http/types fields (with the header rules: names
 * are tokens, values visible bytes, hop-by-hop and host fields forbidden,
 * fields of requests and responses immutable), incoming-request,
 * outgoing-response, the objects' handle helpers and http-error-code. */
#include <stdlib.h>
#include <string.h>

#include "../base/base.h"
#include "whttp.h"

typedef kx_wasi_http_types_fields fields_h;
typedef kx_wasi_http_types_header_error header_error;
typedef kx_result_void_wasi_http_types_header_error res_herr;

/* ---- field lists */

int
kh_wflist_add(kh_wflist *l, const char *name, size_t nlen,
              const uint8_t *val, size_t vlen)
{
    if (nlen > UINT32_MAX / 2 || vlen > UINT32_MAX / 2 ||
        kb_reserve((void **)&l->f, &l->cap, l->n + 1, sizeof *l->f))
        return KUMO_ENOMEM;
    uint8_t *m = kb_malloc(nlen + vlen + 1);
    if (!m)
        return KUMO_ENOMEM;
    for (size_t i = 0; i < nlen; i++) {
        uint8_t c = (uint8_t)name[i];
        m[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
    }
    if (vlen)
        memcpy(m + nlen, val, vlen);
    m[nlen + vlen] = 0;
    l->f[l->n].mem = m;
    l->f[l->n].nlen = (uint32_t)nlen;
    l->f[l->n].vlen = (uint32_t)vlen;
    l->n++;
    return 0;
}

void
kh_wflist_free(kh_wflist *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        kb_free(l->f[i].mem);
    kb_free(l->f);
    memset(l, 0, sizeof *l);
}

int
kh_wflist_copy(kh_wflist *dst, const kh_wflist *src)
{
    memset(dst, 0, sizeof *dst);
    for (uint32_t i = 0; i < src->n; i++) {
        const kh_wfield *f = &src->f[i];
        if (kh_wflist_add(dst, (const char *)f->mem, f->nlen,
                          f->mem + f->nlen, f->vlen)) {
            kh_wflist_free(dst);
            return KUMO_ENOMEM;
        }
    }
    return 0;
}

int
kh_wflist_from_http(kh_wflist *dst, const kumo_http_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kh_wflist_add(dst, (const char *)f[i].name, f[i].name_len,
                          f[i].value, f[i].value_len))
            return KUMO_ENOMEM;
    return 0;
}

int
kh_wflist_to_http(const kh_wflist *l, kumo_http_field **out)
{
    *out = NULL;
    if (l->n == 0)
        return 0;
    kumo_http_field *a = kb_calloc(l->n, sizeof *a);
    if (!a)
        return KUMO_ENOMEM;
    for (uint32_t i = 0; i < l->n; i++) {
        a[i].name = l->f[i].mem;
        a[i].name_len = l->f[i].nlen;
        a[i].value = l->f[i].mem + l->f[i].nlen;
        a[i].value_len = l->f[i].vlen;
    }
    *out = a;
    return 0;
}

/* Whether field f is named name (any case, len bytes). */
static bool
named(const kh_wfield *f, const char *name, size_t len)
{
    if (f->nlen != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (f->mem[i] != c)
            return false;
    }
    return true;
}

const kh_wfield *
kh_wflist_find(const kh_wflist *l, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < l->n; i++)
        if (named(&l->f[i], name, len))
            return &l->f[i];
    return NULL;
}

static void
remove_named(kh_wflist *l, const char *name, size_t len)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        if (named(&l->f[i], name, len))
            kb_free(l->f[i].mem);
        else
            l->f[k++] = l->f[i];
    }
    l->n = k;
}

/* ---- header rules */

static bool
tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Hop-by-hop fields and the ones the host sets itself: a guest may not
 * set them (the header-error `forbidden`), as wasmtime's defaults. */
static const char *const forbidden[] = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "transfer-encoding", "upgrade", "host",
    "http2-settings",
};

int
kh_wheader_check_name(const char *name, size_t len)
{
    if (len == 0)
        return KH_WHDR_SYNTAX;
    for (size_t i = 0; i < len; i++)
        if (!tchar((uint8_t)name[i]))
            return KH_WHDR_SYNTAX;
    for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++) {
        kh_wfield f = {(uint8_t *)(uintptr_t)forbidden[i],
                       (uint32_t)strlen(forbidden[i]), 0};
        if (named(&f, name, len))
            return KH_WHDR_FORBIDDEN;
    }
    return KH_WHDR_OK;
}

bool
kh_wheader_value_ok(const uint8_t *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
            return false;
    return true;
}

/* ---- objects behind handles */

int
kh_wslot(kg_call *call, kx_p2kind kind, kh_wobj *o, uint32_t *rep)
{
    if (!kx_p2_new_ext(KX_CTX(call), kind, &o->ext, rep))
        return kx_p2_oom(call);
    return 0;
}

void *
kh_wget(kg_call *call, uint32_t rep, kx_p2kind kind, const kx_p2ops *ops)
{
    return kx_p2_get_ext(KX_CTX(call), rep, kind, ops);
}

void *
kh_wtake(kg_call *call, uint32_t rep, const kx_p2ops *ops)
{
    kh_wobj *o = (kh_wobj *)kx_p2_get_ext(KX_CTX(call), rep, KX_P2_EXT, ops);
    if (!o)
        return NULL;
    o->ext.slots++; /* keep it over the slot's release */
    kx_p2_free_obj(KX_CTX(call), rep);
    return o;
}

void
kh_wput(kumo_wasi_ctx *ctx, kh_wobj *o)
{
    o->ext.slots--;
    o->ext.ops->release(ctx, &o->ext, KX_P2_EXT);
}

/* ---- fields */

static void
fields_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    kh_wfields *f = (kh_wfields *)e;
    (void)ctx;
    (void)kind;
    if (f->o.ext.slots > 0)
        return;
    kh_wflist_free(&f->list);
    kb_free(f);
}

const kx_p2ops kh_wfields_ops = {.name = "fields",
                                 .release = fields_release};

int
kh_wfields_new(kg_call *call, kh_wflist *list, bool immutable, uint32_t *rep)
{
    kh_wfields *f = kb_calloc(1, sizeof *f);
    if (!f) {
        kh_wflist_free(list);
        return kx_p2_oom(call);
    }
    f->o.ext.ops = &kh_wfields_ops;
    f->immutable = immutable;
    f->list = *list;
    memset(list, 0, sizeof *list);
    int rc = kh_wslot(call, KX_P2_EXT, &f->o, rep);
    if (rc) {
        kh_wflist_free(&f->list);
        kb_free(f);
    }
    return rc;
}

static kh_wfields *
fields_get(kg_call *call, fields_h self)
{
    return kh_wget(call, self.rep, KX_P2_EXT, &kh_wfields_ops);
}

void
kx_wasi_http_types_fields_drop(void *env, fields_h self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_constructor_fields(kg_call *call, fields_h *ret)
{
    kh_wflist l = {0};
    return kh_wfields_new(call, &l, false, &ret->rep);
}

static void
herr(bool *is_err, header_error *e, int why)
{
    *is_err = true;
    e->tag = why == KH_WHDR_FORBIDDEN
                 ? KX_WASI_HTTP_TYPES_HEADER_ERROR_FORBIDDEN
                 : KX_WASI_HTTP_TYPES_HEADER_ERROR_INVALID_SYNTAX;
}

int
kx_wasi_http_types_static_fields_from_list(
    kg_call *call, kx_list_tuple2_string_bytes entries,
    kx_result_wasi_http_types_fields_wasi_http_types_header_error *ret)
{
    kh_wflist l = {0};
    for (size_t i = 0; i < entries.len; i++) {
        const kx_tuple2_string_bytes *t = &entries.ptr[i];
        int why = kh_wheader_check_name(t->f0.ptr, t->f0.len);
        if (why == KH_WHDR_OK && !kh_wheader_value_ok(t->f1.ptr, t->f1.len))
            why = KH_WHDR_SYNTAX;
        if (why != KH_WHDR_OK) {
            kh_wflist_free(&l);
            herr(&ret->is_err, &ret->val.err, why);
            return 0;
        }
        if (kh_wflist_add(&l, t->f0.ptr, t->f0.len, t->f1.ptr, t->f1.len)) {
            kh_wflist_free(&l);
            return kx_p2_oom(call);
        }
    }
    ret->is_err = false;
    return kh_wfields_new(call, &l, false, &ret->val.ok.rep);
}

int
kx_wasi_http_types_method_fields_get(kg_call *call, fields_h self,
                                     kx_wasi_http_types_field_name name,
                                     kx_list_bytes *ret)
{
    kh_wfields *f = fields_get(call, self);
    if (!f)
        return kx_p2_badhandle(call);
    size_t n = 0;
    for (uint32_t i = 0; i < f->list.n; i++)
        n += named(&f->list.f[i], name.ptr, name.len);
    ret->len = 0;
    ret->ptr = n ? kg_call_alloc(call, n * sizeof *ret->ptr) : NULL;
    if (n && !ret->ptr)
        return kx_p2_oom(call);
    for (uint32_t i = 0; i < f->list.n; i++)
        if (named(&f->list.f[i], name.ptr, name.len)) {
            ret->ptr[ret->len].ptr = f->list.f[i].mem + f->list.f[i].nlen;
            ret->ptr[ret->len].len = f->list.f[i].vlen;
            ret->len++;
        }
    return 0;
}

int
kx_wasi_http_types_method_fields_has(kg_call *call, fields_h self,
                                     kx_wasi_http_types_field_name name,
                                     bool *ret)
{
    kh_wfields *f = fields_get(call, self);
    if (!f)
        return kx_p2_badhandle(call);
    *ret = false;
    for (uint32_t i = 0; i < f->list.n && !*ret; i++)
        *ret = named(&f->list.f[i], name.ptr, name.len);
    return 0;
}

/* The checks set, delete and append share: 0 when the change may go on,
 * else ret is the error. */
static int
may_change(kh_wfields *f, kg_string name, res_herr *ret)
{
    if (f->immutable) {
        ret->is_err = true;
        ret->val.err.tag = KX_WASI_HTTP_TYPES_HEADER_ERROR_IMMUTABLE;
        return -1;
    }
    int why = kh_wheader_check_name(name.ptr, name.len);
    if (why != KH_WHDR_OK) {
        herr(&ret->is_err, &ret->val.err, why);
        return -1;
    }
    return 0;
}

int
kx_wasi_http_types_method_fields_set(kg_call *call, fields_h self,
                                     kx_wasi_http_types_field_name name,
                                     kx_list_bytes value, res_herr *ret)
{
    kh_wfields *f = fields_get(call, self);
    if (!f)
        return kx_p2_badhandle(call);
    if (may_change(f, name, ret))
        return 0;
    for (size_t i = 0; i < value.len; i++)
        if (!kh_wheader_value_ok(value.ptr[i].ptr, value.ptr[i].len)) {
            herr(&ret->is_err, &ret->val.err, KH_WHDR_SYNTAX);
            return 0;
        }
    remove_named(&f->list, name.ptr, name.len);
    for (size_t i = 0; i < value.len; i++)
        if (kh_wflist_add(&f->list, name.ptr, name.len, value.ptr[i].ptr,
                          value.ptr[i].len))
            return kx_p2_oom(call);
    ret->is_err = false;
    return 0;
}

int
kx_wasi_http_types_method_fields_delete(kg_call *call, fields_h self,
                                        kx_wasi_http_types_field_name name,
                                        res_herr *ret)
{
    kh_wfields *f = fields_get(call, self);
    if (!f)
        return kx_p2_badhandle(call);
    if (may_change(f, name, ret))
        return 0;
    remove_named(&f->list, name.ptr, name.len);
    ret->is_err = false;
    return 0;
}

int
kx_wasi_http_types_method_fields_append(kg_call *call, fields_h self,
                                        kx_wasi_http_types_field_name name,
                                        kx_wasi_http_types_field_value value,
                                        res_herr *ret)
{
    kh_wfields *f = fields_get(call, self);
    if (!f)
        return kx_p2_badhandle(call);
    if (may_change(f, name, ret))
        return 0;
    if (!kh_wheader_value_ok(value.ptr, value.len)) {
        herr(&ret->is_err, &ret->val.err, KH_WHDR_SYNTAX);
        return 0;
    }
    if (kh_wflist_add(&f->list, name.ptr, name.len, value.ptr, value.len))
        return kx_p2_oom(call);
    ret->is_err = false;
    return 0;
}

int
kx_wasi_http_types_method_fields_entries(kg_call *call, fields_h self,
                                         kx_list_tuple2_string_bytes *ret)
{
    kh_wfields *f = fields_get(call, self);
    if (!f)
        return kx_p2_badhandle(call);
    ret->len = f->list.n;
    ret->ptr = NULL;
    if (!f->list.n)
        return 0;
    ret->ptr = kg_call_alloc(call, f->list.n * sizeof *ret->ptr);
    if (!ret->ptr)
        return kx_p2_oom(call);
    for (uint32_t i = 0; i < f->list.n; i++) {
        ret->ptr[i].f0.ptr = (const char *)f->list.f[i].mem;
        ret->ptr[i].f0.len = f->list.f[i].nlen;
        ret->ptr[i].f1.ptr = f->list.f[i].mem + f->list.f[i].nlen;
        ret->ptr[i].f1.len = f->list.f[i].vlen;
    }
    return 0;
}

int
kx_wasi_http_types_method_fields_clone(kg_call *call, fields_h self,
                                       fields_h *ret)
{
    kh_wfields *f = fields_get(call, self);
    kh_wflist l;
    if (!f)
        return kx_p2_badhandle(call);
    if (kh_wflist_copy(&l, &f->list))
        return kx_p2_oom(call);
    return kh_wfields_new(call, &l, false, &ret->rep);
}

/* An immutable copy of l as a new handle (the headers of a request or
 * response). */
static int
immutable_copy(kg_call *call, const kh_wflist *l, fields_h *ret)
{
    kh_wflist c;
    if (kh_wflist_copy(&c, l))
        return kx_p2_oom(call);
    return kh_wfields_new(call, &c, true, &ret->rep);
}

/* ---- incoming-request */

/* incoming-request and response-outparam: both a reference to the
 * request; the ops tables (compared by identity) tell them apart. */
typedef struct reqref {
    kh_wobj o;
    kh_wreq *r;
} reqref;
typedef reqref inreq;
typedef reqref outparam;

static void
reqref_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    reqref *q = (reqref *)e;
    (void)ctx;
    (void)kind;
    if (q->o.ext.slots > 0)
        return;
    kh_wreq_unref(q->r);
    kb_free(q);
}

static const kx_p2ops inreq_ops = {.name = "incoming-request",
                                   .release = reqref_release};
static const kx_p2ops outparam_ops = {.name = "response-outparam",
                                      .release = reqref_release};

int
kh_wreq_handles(kumo_wasi_ctx *ctx, kh_wreq *r, uint32_t *req_rep,
                uint32_t *out_rep)
{
    inreq *q = kb_calloc(1, sizeof *q);
    outparam *p = kb_calloc(1, sizeof *p);
    if (!q || !p) {
        kb_free(q);
        kb_free(p);
        return KUMO_ENOMEM;
    }
    q->o.ext.ops = &inreq_ops;
    p->o.ext.ops = &outparam_ops;
    q->r = p->r = r;
    r->refs += 2;
    if (!kx_p2_new_ext(ctx, KX_P2_EXT, &q->o.ext, req_rep)) {
        reqref_release(ctx, &q->o.ext, KX_P2_EXT);
        reqref_release(ctx, &p->o.ext, KX_P2_EXT);
        return KUMO_ENOMEM;
    }
    if (!kx_p2_new_ext(ctx, KX_P2_EXT, &p->o.ext, out_rep)) {
        reqref_release(ctx, &p->o.ext, KX_P2_EXT);
        return KUMO_ENOMEM; /* the request slot goes with the context */
    }
    return 0;
}

static inreq *
inreq_get(kg_call *call, kx_wasi_http_types_incoming_request self)
{
    return kh_wget(call, self.rep, KX_P2_EXT, &inreq_ops);
}

void
kx_wasi_http_types_incoming_request_drop(
    void *env, kx_wasi_http_types_incoming_request self)
{
    kx_p2_free_obj(env, self.rep);
}

void
kx_wasi_http_types_response_outparam_drop(
    void *env, kx_wasi_http_types_response_outparam self)
{
    kx_p2_free_obj(env, self.rep);
}

static const char *const methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
    "PATCH",
};

int
kx_wasi_http_types_method_incoming_request_method(
    kg_call *call, kx_wasi_http_types_incoming_request self,
    kx_wasi_http_types_method *ret)
{
    inreq *q = inreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    for (uint32_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strcmp(q->r->method, methods[i]) == 0) {
            ret->tag = i;
            return 0;
        }
    ret->tag = KX_WASI_HTTP_TYPES_METHOD_OTHER;
    ret->val.other.ptr = q->r->method;
    ret->val.other.len = strlen(q->r->method);
    return 0;
}

int
kx_wasi_http_types_method_incoming_request_path_with_query(
    kg_call *call, kx_wasi_http_types_incoming_request self,
    kx_option_string *ret)
{
    inreq *q = inreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    ret->is_some = true;
    ret->val.ptr = q->r->path;
    ret->val.len = strlen(q->r->path);
    return 0;
}

int
kx_wasi_http_types_method_incoming_request_scheme(
    kg_call *call, kx_wasi_http_types_incoming_request self,
    kx_option_wasi_http_types_scheme *ret)
{
    inreq *q = inreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    ret->is_some = true;
    ret->val.tag = strcmp(q->r->scheme, "https") == 0
                       ? KX_WASI_HTTP_TYPES_SCHEME_HTTPS
                       : KX_WASI_HTTP_TYPES_SCHEME_HTTP;
    return 0;
}

int
kx_wasi_http_types_method_incoming_request_authority(
    kg_call *call, kx_wasi_http_types_incoming_request self,
    kx_option_string *ret)
{
    inreq *q = inreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    ret->is_some = q->r->authority[0] != 0;
    ret->val.ptr = q->r->authority;
    ret->val.len = strlen(q->r->authority);
    return 0;
}

int
kx_wasi_http_types_method_incoming_request_headers(
    kg_call *call, kx_wasi_http_types_incoming_request self, fields_h *ret)
{
    inreq *q = inreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    return immutable_copy(call, &q->r->headers, ret);
}

int
kx_wasi_http_types_method_incoming_request_consume(
    kg_call *call, kx_wasi_http_types_incoming_request self,
    kx_result_wasi_http_types_incoming_body_void *ret)
{
    inreq *q = inreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    if (q->r->consumed || !q->r->in) {
        ret->is_err = true;
        return 0;
    }
    q->r->consumed = true;
    ret->is_err = false;
    return kh_win_body_new(call, q->r->in, &ret->val.ok.rep);
}

/* ---- response-outparam.set */

int
kx_wasi_http_types_static_response_outparam_set(
    kg_call *call, kx_wasi_http_types_response_outparam param,
    kx_result_wasi_http_types_outgoing_response_wasi_http_types_error_code
        response)
{
    outparam *p = kh_wtake(call, param.rep, &outparam_ops);
    kh_wresp *resp = NULL;
    int rc = 0;
    if (!p)
        return kx_p2_badhandle(call);
    if (!response.is_err &&
        !(resp = kh_wtake(call, response.val.ok.rep, &kh_wresp_ops)))
        rc = kx_p2_badhandle(call);
    else if (p->r->outparam_set)
        rc = kg_call_trap(call, "response-outparam.set: already set");
    else if (resp)
        kh_wreq_respond(p->r, resp);
    else
        kh_wreq_fail(p->r, 500, "the component answered with an error");
    if (rc == 0)
        p->r->outparam_set = true;
    if (resp)
        kh_wput(KX_CTX(call), &resp->o);
    kh_wput(KX_CTX(call), &p->o);
    return rc;
}

/* ---- outgoing-response */

static void
resp_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    kh_wresp *r = (kh_wresp *)e;
    (void)ctx;
    (void)kind;
    if (r->o.ext.slots > 0)
        return;
    kh_wflist_free(&r->headers);
    kh_wout_unref(r->out);
    kb_free(r);
}

const kx_p2ops kh_wresp_ops = {.name = "outgoing-response",
                               .release = resp_release};

static kh_wresp *
resp_get(kg_call *call, kx_wasi_http_types_outgoing_response self)
{
    return kh_wget(call, self.rep, KX_P2_EXT, &kh_wresp_ops);
}

void
kx_wasi_http_types_outgoing_response_drop(
    void *env, kx_wasi_http_types_outgoing_response self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_constructor_outgoing_response(
    kg_call *call, kx_wasi_http_types_headers headers,
    kx_wasi_http_types_outgoing_response *ret)
{
    kh_wfields *f = kh_wtake(call, headers.rep, &kh_wfields_ops);
    if (!f)
        return kx_p2_badhandle(call);
    kh_wresp *r = kb_calloc(1, sizeof *r);
    if (!r) {
        kh_wput(KX_CTX(call), &f->o);
        return kx_p2_oom(call);
    }
    r->o.ext.ops = &kh_wresp_ops;
    r->status = 200;
    r->headers = f->list;
    memset(&f->list, 0, sizeof f->list);
    kh_wput(KX_CTX(call), &f->o);
    int rc = kh_wslot(call, KX_P2_EXT, &r->o, &ret->rep);
    if (rc)
        resp_release(KX_CTX(call), &r->o.ext, KX_P2_EXT);
    return rc;
}

int
kx_wasi_http_types_method_outgoing_response_status_code(
    kg_call *call, kx_wasi_http_types_outgoing_response self,
    kx_wasi_http_types_status_code *ret)
{
    kh_wresp *r = resp_get(call, self);
    if (!r)
        return kx_p2_badhandle(call);
    *ret = r->status;
    return 0;
}

int
kx_wasi_http_types_method_outgoing_response_set_status_code(
    kg_call *call, kx_wasi_http_types_outgoing_response self,
    kx_wasi_http_types_status_code status_code, kx_result_void_void *ret)
{
    kh_wresp *r = resp_get(call, self);
    if (!r)
        return kx_p2_badhandle(call);
    ret->is_err = status_code < 100 || status_code > 999;
    if (!ret->is_err)
        r->status = status_code;
    return 0;
}

int
kx_wasi_http_types_method_outgoing_response_headers(
    kg_call *call, kx_wasi_http_types_outgoing_response self, fields_h *ret)
{
    kh_wresp *r = resp_get(call, self);
    if (!r)
        return kx_p2_badhandle(call);
    return immutable_copy(call, &r->headers, ret);
}

int
kx_wasi_http_types_method_outgoing_response_body(
    kg_call *call, kx_wasi_http_types_outgoing_response self,
    kx_result_wasi_http_types_outgoing_body_void *ret)
{
    kh_wresp *r = resp_get(call, self);
    if (!r)
        return kx_p2_badhandle(call);
    if (r->out) {
        ret->is_err = true;
        return 0;
    }
    if (!(r->out = kh_wout_new(kh_winst_of(call))))
        return kx_p2_oom(call);
    const kh_wfield *cl = kh_wflist_find(&r->headers, "content-length");
    if (cl) {
        char num[24];
        size_t n = cl->vlen < sizeof num - 1 ? cl->vlen : sizeof num - 1;
        memcpy(num, cl->mem + cl->nlen, n);
        num[n] = 0;
        r->out->has_limit = true;
        r->out->limit = strtoull(num, NULL, 10);
    }
    ret->is_err = false;
    return kh_wout_body_new(call, r->out, &ret->val.ok.rep);
}

/* ---- errors */

void
kh_werror(kx_wasi_http_types_error_code *e, uint32_t tag)
{
    memset(e, 0, sizeof *e);
    e->tag = tag;
}

/* An io error carries its error-code case in the object's `off` (+1). */
int
kh_wio_error(kg_call *call, uint32_t tag, kx_wasi_io_error_error *out)
{
    int rc = kx_p2_error_new(call, KX_EIO, out);
    if (rc)
        return rc;
    kx_p2obj *o = kx_p2_get(KX_CTX(call), out->rep, KX_P2_ERROR);
    if (o)
        o->off = (uint64_t)tag + 1;
    return 0;
}

int
kx_wasi_http_types_http_error_code(kg_call *call, kx_wasi_io_error_error err,
                                   kx_option_wasi_http_types_error_code *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), err.rep, KX_P2_ERROR);
    if (!o)
        return kx_p2_badhandle(call);
    ret->is_some = o->off != 0;
    if (ret->is_some)
        kh_werror(&ret->val, (uint32_t)(o->off - 1));
    return 0;
}
