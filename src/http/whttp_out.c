/* whttp_out.c - wasi:http/outgoing-handler: outgoing-request and
 * request-options, handle() on the workload's HTTP client (kumo/http.h,
 * libcurl on the same loop), future-incoming-response and
 * incoming-response. Deny by default: the workload's allow-list must
 * accept scheme://authority, else the call fails with HTTP-request-denied.
 * The request body streams out of the guest's outgoing-body as it is
 * written; the response body streams into an incoming-body (a kh_win the
 * client pauses on). */
#include <stdlib.h>
#include <string.h>

#include "../base/base.h"
#include "whttp.h"

typedef kx_wasi_http_types_outgoing_request oreq_h;
typedef kx_wasi_http_types_request_options opts_h;

/* ---- outgoing-request */

typedef struct oreq {
    kh_wobj o;
    char *method;    /* "GET" ... or the other(...) token */
    char *scheme;    /* NULL: none */
    char *authority; /* NULL: none */
    char *path;      /* NULL: none */
    kh_wflist headers;
    kh_wout *out;
} oreq;

static void
oreq_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    oreq *q = (oreq *)e;
    (void)ctx;
    (void)kind;
    if (q->o.ext.slots > 0)
        return;
    kb_free(q->method);
    kb_free(q->scheme);
    kb_free(q->authority);
    kb_free(q->path);
    kh_wflist_free(&q->headers);
    kh_wout_unref(q->out);
    kb_free(q);
}

static const kx_p2ops oreq_ops = {.name = "outgoing-request",
                                  .release = oreq_release};

static oreq *
oreq_get(kg_call *call, oreq_h self)
{
    return kh_wget(call, self.rep, KX_P2_EXT, &oreq_ops);
}

void
kx_wasi_http_types_outgoing_request_drop(void *env, oreq_h self)
{
    kx_p2_free_obj(env, self.rep);
}

static char *
sdup(const char *s, size_t n)
{
    char *d = kb_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int
kx_wasi_http_types_constructor_outgoing_request(kg_call *call,
                                                kx_wasi_http_types_headers h,
                                                oreq_h *ret)
{
    kh_wfields *f = kh_wtake(call, h.rep, &kh_wfields_ops);
    if (!f)
        return kx_p2_badhandle(call);
    oreq *q = kb_calloc(1, sizeof *q);
    if (!q || !(q->method = sdup("GET", 3))) {
        kb_free(q);
        kh_wput(KX_CTX(call), &f->o);
        return kx_p2_oom(call);
    }
    q->o.ext.ops = &oreq_ops;
    q->headers = f->list;
    memset(&f->list, 0, sizeof f->list);
    kh_wput(KX_CTX(call), &f->o);
    int rc = kh_wslot(call, KX_P2_EXT, &q->o, &ret->rep);
    if (rc)
        oreq_release(KX_CTX(call), &q->o.ext, KX_P2_EXT);
    return rc;
}

int
kx_wasi_http_types_method_outgoing_request_body(
    kg_call *call, oreq_h self,
    kx_result_wasi_http_types_outgoing_body_void *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    if (q->out) {
        ret->is_err = true;
        return 0;
    }
    if (!(q->out = kh_wout_new(kh_winst_of(call))))
        return kx_p2_oom(call);
    ret->is_err = false;
    return kh_wout_body_new(call, q->out, &ret->val.ok.rep);
}

static const char *const methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
    "PATCH",
};

int
kx_wasi_http_types_method_outgoing_request_method(
    kg_call *call, oreq_h self, kx_wasi_http_types_method *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    for (uint32_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strcmp(q->method, methods[i]) == 0) {
            ret->tag = i;
            return 0;
        }
    ret->tag = KX_WASI_HTTP_TYPES_METHOD_OTHER;
    ret->val.other.ptr = q->method;
    ret->val.other.len = strlen(q->method);
    return 0;
}

/* Replace *slot with a copy of s (NULL: none). false when out of memory. */
static bool
replace(char **slot, const char *s, size_t n, bool some)
{
    char *d = some ? sdup(s, n) : NULL;
    if (some && !d)
        return false;
    kb_free(*slot);
    *slot = d;
    return true;
}

int
kx_wasi_http_types_method_outgoing_request_set_method(
    kg_call *call, oreq_h self, kx_wasi_http_types_method m,
    kx_result_void_void *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    const char *s = m.tag < KX_WASI_HTTP_TYPES_METHOD_OTHER ? methods[m.tag]
                                                            : m.val.other.ptr;
    size_t n = m.tag < KX_WASI_HTTP_TYPES_METHOD_OTHER ? strlen(s)
                                                       : m.val.other.len;
    ret->is_err = n == 0;
    for (size_t i = 0; i < n && !ret->is_err; i++)
        ret->is_err = kh_wheader_check_name(s + i, 1) == KH_WHDR_SYNTAX;
    if (!ret->is_err && !replace(&q->method, s, n, true))
        return kx_p2_oom(call);
    return 0;
}

static void
opt_string(const char *s, kx_option_string *ret)
{
    ret->is_some = s != NULL;
    ret->val.ptr = s;
    ret->val.len = s ? strlen(s) : 0;
}

int
kx_wasi_http_types_method_outgoing_request_path_with_query(
    kg_call *call, oreq_h self, kx_option_string *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    opt_string(q->path, ret);
    return 0;
}

/* Bytes a URI part may hold: visible ASCII but the delimiters in bad. */
static bool
uri_ok(const char *s, size_t n, const char *bad)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr(bad, c))
            return false;
    }
    return true;
}

int
kx_wasi_http_types_method_outgoing_request_set_path_with_query(
    kg_call *call, oreq_h self, kx_option_string p, kx_result_void_void *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    ret->is_err = p.is_some && !uri_ok(p.val.ptr, p.val.len, "#");
    if (!ret->is_err && !replace(&q->path, p.val.ptr, p.val.len, p.is_some))
        return kx_p2_oom(call);
    return 0;
}

int
kx_wasi_http_types_method_outgoing_request_scheme(
    kg_call *call, oreq_h self, kx_option_wasi_http_types_scheme *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    ret->is_some = q->scheme != NULL;
    if (!q->scheme)
        return 0;
    if (strcmp(q->scheme, "http") == 0) {
        ret->val.tag = KX_WASI_HTTP_TYPES_SCHEME_HTTP;
    } else if (strcmp(q->scheme, "https") == 0) {
        ret->val.tag = KX_WASI_HTTP_TYPES_SCHEME_HTTPS;
    } else {
        ret->val.tag = KX_WASI_HTTP_TYPES_SCHEME_OTHER;
        ret->val.val.other.ptr = q->scheme;
        ret->val.val.other.len = strlen(q->scheme);
    }
    return 0;
}

int
kx_wasi_http_types_method_outgoing_request_set_scheme(
    kg_call *call, oreq_h self, kx_option_wasi_http_types_scheme s,
    kx_result_void_void *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    const char *p = "http";
    size_t n = 4;
    if (s.is_some && s.val.tag == KX_WASI_HTTP_TYPES_SCHEME_HTTPS) {
        p = "https";
        n = 5;
    } else if (s.is_some && s.val.tag == KX_WASI_HTTP_TYPES_SCHEME_OTHER) {
        p = s.val.val.other.ptr;
        n = s.val.val.other.len;
    }
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    ret->is_err = s.is_some && (n == 0 || !((p[0] | 32) >= 'a' &&
                                            (p[0] | 32) <= 'z'));
    for (size_t i = 0; i < n && !ret->is_err && s.is_some; i++) {
        char c = p[i];
        ret->is_err = !(((c | 32) >= 'a' && (c | 32) <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                        c == '.');
    }
    if (!ret->is_err && !replace(&q->scheme, p, n, s.is_some))
        return kx_p2_oom(call);
    return 0;
}

int
kx_wasi_http_types_method_outgoing_request_authority(
    kg_call *call, oreq_h self, kx_option_string *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    opt_string(q->authority, ret);
    return 0;
}

int
kx_wasi_http_types_method_outgoing_request_set_authority(
    kg_call *call, oreq_h self, kx_option_string a, kx_result_void_void *ret)
{
    oreq *q = oreq_get(call, self);
    if (!q)
        return kx_p2_badhandle(call);
    ret->is_err = a.is_some && (a.val.len == 0 ||
                                !uri_ok(a.val.ptr, a.val.len, "/?#@\\"));
    if (!ret->is_err &&
        !replace(&q->authority, a.val.ptr, a.val.len, a.is_some))
        return kx_p2_oom(call);
    return 0;
}

int
kx_wasi_http_types_method_outgoing_request_headers(
    kg_call *call, oreq_h self, kx_wasi_http_types_headers *ret)
{
    oreq *q = oreq_get(call, self);
    kh_wflist c;
    if (!q)
        return kx_p2_badhandle(call);
    if (kh_wflist_copy(&c, &q->headers))
        return kx_p2_oom(call);
    return kh_wfields_new(call, &c, true, &ret->rep);
}

/* ---- request-options (durations in nanoseconds) */

typedef struct ropts {
    kh_wobj o;
    kx_option_u64 t[3]; /* connect, first-byte, between-bytes */
} ropts;

static void
ropts_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    (void)ctx;
    (void)kind;
    if (e->slots == 0)
        kb_free(e);
}

static const kx_p2ops ropts_ops = {.name = "request-options",
                                   .release = ropts_release};

void
kx_wasi_http_types_request_options_drop(void *env, opts_h self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_constructor_request_options(kg_call *call, opts_h *ret)
{
    ropts *o = kb_calloc(1, sizeof *o);
    if (!o)
        return kx_p2_oom(call);
    o->o.ext.ops = &ropts_ops;
    int rc = kh_wslot(call, KX_P2_EXT, &o->o, &ret->rep);
    if (rc)
        kb_free(o);
    return rc;
}

static int
opt_get(kg_call *call, opts_h self, int i, kx_option_u64 *ret)
{
    ropts *o = kh_wget(call, self.rep, KX_P2_EXT, &ropts_ops);
    if (!o)
        return kx_p2_badhandle(call);
    *ret = o->t[i];
    return 0;
}

static int
opt_set(kg_call *call, opts_h self, int i, kx_option_u64 v,
        kx_result_void_void *ret)
{
    ropts *o = kh_wget(call, self.rep, KX_P2_EXT, &ropts_ops);
    if (!o)
        return kx_p2_badhandle(call);
    o->t[i] = v;
    ret->is_err = false;
    return 0;
}

int
kx_wasi_http_types_method_request_options_connect_timeout(
    kg_call *call, opts_h self, kx_option_u64 *ret)
{
    return opt_get(call, self, 0, ret);
}

int
kx_wasi_http_types_method_request_options_set_connect_timeout(
    kg_call *call, opts_h self, kx_option_u64 d, kx_result_void_void *ret)
{
    return opt_set(call, self, 0, d, ret);
}

int
kx_wasi_http_types_method_request_options_first_byte_timeout(
    kg_call *call, opts_h self, kx_option_u64 *ret)
{
    return opt_get(call, self, 1, ret);
}

int
kx_wasi_http_types_method_request_options_set_first_byte_timeout(
    kg_call *call, opts_h self, kx_option_u64 d, kx_result_void_void *ret)
{
    return opt_set(call, self, 1, d, ret);
}

int
kx_wasi_http_types_method_request_options_between_bytes_timeout(
    kg_call *call, opts_h self, kx_option_u64 *ret)
{
    return opt_get(call, self, 2, ret);
}

int
kx_wasi_http_types_method_request_options_set_between_bytes_timeout(
    kg_call *call, opts_h self, kx_option_u64 d, kx_result_void_void *ret)
{
    return opt_set(call, self, 2, d, ret);
}

/* ---- an outbound call */

struct kh_wcall {
    int refs;
    kh_winst *inst;
    kumo_http_call *call;
    bool head, done;
    int error; /* kumo_http_call_error */
    uint16_t status;
    kh_wflist headers;
    kh_win *in;
    kh_wout *out;
};

static void
wcall_unref(kh_wcall *c)
{
    if (!c || --c->refs > 0)
        return;
    kumo_http_call_free(c->call); /* aborts it if still running */
    if (c->in) {
        c->in->src_ops = NULL;
        kh_win_fail(c->in, KX_WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TERMINATED);
        kh_win_unref(c->in);
    }
    if (c->out) {
        kh_wout_gone(c->out);
        kh_wout_unref(c->out);
    }
    kh_wflist_free(&c->headers);
    kb_free(c);
}

static void
call_pause(void *src, bool paused)
{
    kh_wcall *c = src;
    kumo_http_call_pause(c->call, paused);
}

static const kh_win_src call_src = {.pause = call_pause};

static void
on_response(void *ud, kumo_http_call *call, int status,
            const kumo_http_field *fields, size_t n)
{
    kh_wcall *c = ud;
    (void)call;
    c->head = true;
    c->status = (uint16_t)status;
    if (kh_wflist_from_http(&c->headers, fields, n) ||
        !(c->in = kh_win_new(c->inst, &call_src, c, 0)))
        c->error = KUMO_HTTP_CALL_INTERNAL_ERROR;
    kh_wake(c->inst);
}

static void
on_body(void *ud, kumo_http_call *call, const uint8_t *data, size_t len)
{
    kh_wcall *c = ud;
    (void)call;
    if (c->in && kh_win_push(c->in, data, len))
        kh_win_fail(c->in, KX_WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR);
}

static void
on_writable(void *ud, kumo_http_call *call)
{
    kh_wcall *c = ud;
    (void)call;
    if (c->out)
        kh_wout_writable(c->out);
}

static void
on_done(void *ud, kumo_http_call *call, int error,
        const kumo_http_field *trailers, size_t n)
{
    kh_wcall *c = ud;
    (void)call;
    c->done = true;
    if (error && !c->error)
        c->error = error;
    if (c->in && error)
        kh_win_fail(c->in, (uint32_t)error - 1);
    else if (c->in)
        kh_win_end(c->in, trailers, n);
    if (c->out)
        kh_wout_gone(c->out);
    kh_wake(c->inst);
}

static int
sink_write(void *sink, const uint8_t *data, size_t len)
{
    kh_wcall *c = sink;
    return c->done ? KUMO_EIO : kumo_http_call_write(c->call, data, len);
}

static int
sink_finish(void *sink, const kumo_http_field *t, size_t n)
{
    kh_wcall *c = sink;
    return c->done ? KUMO_EIO : kumo_http_call_finish(c->call, t, n);
}

static void
sink_abort(void *sink)
{
    kh_wcall *c = sink;
    if (c->done)
        return;
    /* the guest dropped its request body unfinished: end the call */
    kumo_http_call_free(c->call);
    c->call = NULL;
    c->done = true;
    if (!c->error)
        c->error = KUMO_HTTP_CALL_HTTP_REQUEST_BODY_SIZE;
    if (c->in)
        kh_win_fail(c->in, (uint32_t)c->error - 1);
    kh_wake(c->inst);
}

static const kh_wout_sink call_sink = {
    .write = sink_write, .finish = sink_finish, .abort = sink_abort};

/* ---- future-incoming-response, incoming-response */

typedef struct fresp {
    kh_wobj o;
    kh_wcall *c;
    bool got;
} fresp;

static void
fresp_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    fresp *f = (fresp *)e;
    (void)ctx;
    (void)kind;
    if (f->o.ext.slots > 0)
        return;
    wcall_unref(f->c);
    kb_free(f);
}

static bool
fresp_ready(kx_p2ext *e)
{
    kh_wcall *c = ((fresp *)e)->c;
    return c->head || c->done || c->error;
}

static const kx_p2ops fresp_ops = {.name = "future-incoming-response",
                                   .release = fresp_release,
                                   .ready = fresp_ready};

typedef struct inresp {
    kh_wobj o;
    kh_wcall *c;
    bool consumed;
} inresp;

static void
inresp_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    inresp *r = (inresp *)e;
    (void)ctx;
    (void)kind;
    if (r->o.ext.slots > 0)
        return;
    wcall_unref(r->c);
    kb_free(r);
}

static const kx_p2ops inresp_ops = {.name = "incoming-response",
                                    .release = inresp_release};

void
kx_wasi_http_types_future_incoming_response_drop(
    void *env, kx_wasi_http_types_future_incoming_response self)
{
    kx_p2_free_obj(env, self.rep);
}

void
kx_wasi_http_types_incoming_response_drop(
    void *env, kx_wasi_http_types_incoming_response self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_method_future_incoming_response_subscribe(
    kg_call *call, kx_wasi_http_types_future_incoming_response self,
    kx_wasi_io_poll_pollable *ret)
{
    fresp *f = kh_wget(call, self.rep, KX_P2_EXT, &fresp_ops);
    if (!f)
        return kx_p2_badhandle(call);
    return kx_p2_pollable_ext(call, &f->o.ext, ret);
}

int
kx_wasi_http_types_method_future_incoming_response_get(
    kg_call *call, kx_wasi_http_types_future_incoming_response self,
    kx_option_result_result_wasi_http_types_incoming_response_wasi_http_types_error_code_void
        *ret)
{
    fresp *f = kh_wget(call, self.rep, KX_P2_EXT, &fresp_ops);
    if (!f)
        return kx_p2_badhandle(call);
    kh_wcall *c = f->c;
    ret->is_some = fresp_ready(&f->o.ext);
    if (!ret->is_some)
        return 0;
    if (f->got) {
        ret->val.is_err = true;
        return 0;
    }
    f->got = true;
    ret->val.is_err = false;
    if (c->error || !c->head) {
        ret->val.val.ok.is_err = true;
        kh_werror(&ret->val.val.ok.val.err,
                  c->error ? (uint32_t)c->error - 1
                           : KX_WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR);
        return 0;
    }
    inresp *r = kb_calloc(1, sizeof *r);
    if (!r)
        return kx_p2_oom(call);
    r->o.ext.ops = &inresp_ops;
    r->c = c;
    c->refs++;
    ret->val.val.ok.is_err = false;
    int rc = kh_wslot(call, KX_P2_EXT, &r->o, &ret->val.val.ok.val.ok.rep);
    if (rc)
        inresp_release(KX_CTX(call), &r->o.ext, KX_P2_EXT);
    return rc;
}

static inresp *
inresp_get(kg_call *call, kx_wasi_http_types_incoming_response self)
{
    return kh_wget(call, self.rep, KX_P2_EXT, &inresp_ops);
}

int
kx_wasi_http_types_method_incoming_response_status(
    kg_call *call, kx_wasi_http_types_incoming_response self,
    kx_wasi_http_types_status_code *ret)
{
    inresp *r = inresp_get(call, self);
    if (!r)
        return kx_p2_badhandle(call);
    *ret = r->c->status;
    return 0;
}

int
kx_wasi_http_types_method_incoming_response_headers(
    kg_call *call, kx_wasi_http_types_incoming_response self,
    kx_wasi_http_types_headers *ret)
{
    inresp *r = inresp_get(call, self);
    kh_wflist l;
    if (!r)
        return kx_p2_badhandle(call);
    if (kh_wflist_copy(&l, &r->c->headers))
        return kx_p2_oom(call);
    return kh_wfields_new(call, &l, true, &ret->rep);
}

int
kx_wasi_http_types_method_incoming_response_consume(
    kg_call *call, kx_wasi_http_types_incoming_response self,
    kx_result_wasi_http_types_incoming_body_void *ret)
{
    inresp *r = inresp_get(call, self);
    if (!r)
        return kx_p2_badhandle(call);
    if (r->consumed || !r->c->in) {
        ret->is_err = true;
        return 0;
    }
    r->consumed = true;
    ret->is_err = false;
    return kh_win_body_new(call, r->c->in, &ret->val.ok.rep);
}

/* ---- handle */

static void
call_error(kx_result_wasi_http_types_future_incoming_response_wasi_http_types_error_code
               *ret,
           uint32_t tag)
{
    ret->is_err = true;
    kh_werror(&ret->val.err, tag);
}

/* Start the call for q (opts o may be NULL) into c. 0, or an error-code
 * case + 1 (the guest gets the error), or -1 out of memory. */
static int
start(kh_winst *in, oreq *q, ropts *o, kh_wcall *c)
{
    const char *scheme = q->scheme ? q->scheme : "https";
    kumo_http_call_opts opts;
    kumo_http_field *f = NULL;
    kumo_http_client *client;

    if (!q->authority)
        return KX_WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_URI_INVALID + 1;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return KX_WASI_HTTP_TYPES_ERROR_CODE_HTTP_PROTOCOL_ERROR + 1;
    if (!kh_wwork_allowed(in->w, scheme, q->authority))
        return KX_WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED + 1;
    if (!(client = kh_wwork_client(in->w)))
        return KX_WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR + 1;
    if (kh_wflist_to_http(&q->headers, &f))
        return -1;
    memset(&opts, 0, sizeof opts);
    opts.method = q->method;
    opts.scheme = scheme;
    opts.authority = q->authority;
    opts.path = q->path;
    opts.fields = f;
    opts.nfields = q->headers.n;
    opts.has_body = q->out != NULL;
    if (o) {
        opts.connect_timeout_ns = o->t[0].is_some ? o->t[0].val : 0;
        opts.first_byte_timeout_ns = o->t[1].is_some ? o->t[1].val : 0;
        opts.between_bytes_timeout_ns = o->t[2].is_some ? o->t[2].val : 0;
    }
    kumo_http_call_handler h = {.ud = c,
                                .on_response = on_response,
                                .on_body = on_body,
                                .on_writable = on_writable,
                                .on_done = on_done};
    int rc = kumo_http_call_start(client, &opts, &h, &c->call);
    kb_free(f);
    if (rc == KUMO_ENOMEM)
        return -1;
    if (rc)
        return KX_WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_URI_INVALID + 1;
    return 0;
}

int
kx_wasi_http_outgoing_handler_handle(
    kg_call *call, oreq_h request, kx_option_wasi_http_types_request_options options,
    kx_result_wasi_http_types_future_incoming_response_wasi_http_types_error_code
        *ret)
{
    oreq *q = kh_wtake(call, request.rep, &oreq_ops);
    ropts *o = NULL;
    kh_winst *in = kh_winst_of(call);
    kh_wcall *c = NULL;
    fresp *f = NULL;
    int rc = 0, e;

    if (!q)
        return kx_p2_badhandle(call);
    if (options.is_some &&
        !(o = kh_wtake(call, options.val.rep, &ropts_ops))) {
        rc = kx_p2_badhandle(call);
        goto done;
    }
    if (!in) { /* not a wasi:http context */
        call_error(ret, KX_WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED);
        goto done;
    }
    if (!(c = kb_calloc(1, sizeof *c)) || !(f = kb_calloc(1, sizeof *f))) {
        rc = kx_p2_oom(call);
        goto done;
    }
    c->refs = 1;
    c->inst = in;
    if ((e = start(in, q, o, c)) != 0) {
        if (e < 0)
            rc = kx_p2_oom(call);
        else
            call_error(ret, (uint32_t)e - 1);
        goto done;
    }
    if (q->out) {
        c->out = q->out;
        c->out->refs++;
        kh_wout_attach(c->out, &call_sink, c);
    }
    f->o.ext.ops = &fresp_ops;
    f->c = c;
    c = NULL;
    ret->is_err = false;
    if ((rc = kh_wslot(call, KX_P2_EXT, &f->o, &ret->val.ok.rep)))
        fresp_release(KX_CTX(call), &f->o.ext, KX_P2_EXT);
    f = NULL;
done:
    kb_free(f);
    wcall_unref(c);
    if (o)
        kh_wput(KX_CTX(call), &o->o);
    kh_wput(KX_CTX(call), &q->o);
    return rc;
}
