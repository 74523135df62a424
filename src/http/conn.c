/* conn.c - a connection independent of its transport and protocol version:
 * protocol sniffing, held input, timeouts, the request object shared by
 * HTTP/1 and HTTP/2, limits, the access log and the public request and
 * response functions. */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "http.h"

/* ---- buffers */
int
kh_buf_append(kh_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = kb_realloc(b->p, cap);
        if (!p)
            return KUMO_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

int
kh_buf_printf(kh_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return KUMO_EINVAL;
    return kh_buf_append(b, tmp, (size_t)n);
}

void
kh_buf_free(kh_buf *b)
{
    kb_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int
kh_queue_push(kh_queue *q, const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    kh_chunk *k = kb_malloc(sizeof *k + len);
    if (!k)
        return KUMO_ENOMEM;
    k->next = NULL;
    k->len = len;
    k->off = 0;
    memcpy(k->data, data, len);
    if (q->tail)
        q->tail->next = k;
    else
        q->head = k;
    q->tail = k;
    q->bytes += len;
    return 0;
}

void
kh_queue_pop(kh_queue *q)
{
    kh_chunk *k = q->head;
    if (!k)
        return;
    q->head = k->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= k->len - k->off;
    kb_free(k);
}

void
kh_queue_clear(kh_queue *q)
{
    while (q->head)
        kh_queue_pop(q);
}

/* ---- environment */
void
kh_env_init(kh_env *env, const kumo_http_config *cfg,
            const kumo_http_handler *h)
{
    memset(env, 0, sizeof *env);
    if (cfg)
        env->cfg = *cfg;
    env->h = *h;
    kumo_http_config *c = &env->cfg;
    c->listen = c->listen_tls = NULL;
    c->tls_cert_file = c->tls_key_file = NULL;
    if (!c->max_header_bytes)
        c->max_header_bytes = 16384;
    if (!c->max_header_count)
        c->max_header_count = 100;
    if (!c->max_concurrent)
        c->max_concurrent = 1024;
    if (!c->header_timeout_ms)
        c->header_timeout_ms = 10000;
    if (!c->body_timeout_ms)
        c->body_timeout_ms = 30000;
    if (!c->idle_timeout_ms)
        c->idle_timeout_ms = 60000;
}

const char *
kh_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

/* ---- connections */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

int
kh_conn_new(kh_env *env, const kh_io *io, void *io_ud, bool tls, kh_conn **out)
{
    kh_conn *c = kb_calloc(1, sizeof *c);
    if (!c)
        return KUMO_ENOMEM;
    c->env = env;
    c->io = io;
    c->io_ud = io_ud;
    c->tls = tls;
    c->proto = KH_PROTO_SNIFF;
    kh_h1_init(c);
    c->timer_kind = KH_T_HEADER;
    c->deadline = io->now(c) + env->cfg.header_timeout_ms;
    env->stats.connections++;
    *out = c;
    return 0;
}

int
kh_conn_set_proto(kh_conn *c, int proto)
{
    c->proto = proto;
    if (proto == KH_PROTO_H2)
        return kh_h2_init(c, NULL, 0, NULL);
    return 0;
}

static void
feed_proto(kh_conn *c, const uint8_t *data, size_t len)
{
    if (c->proto == KH_PROTO_H1)
        kh_h1_feed(c, data, len);
    else if (c->proto == KH_PROTO_H2)
        kh_h2_feed(c, data, len);
}

/* Feed the held input again (after a pause ended or sniffing decided). */
static void
feed_hold(kh_conn *c)
{
    while (c->hold.len && !c->input_paused && !c->closing &&
           c->proto != KH_PROTO_SNIFF) {
        kh_buf b = c->hold;
        memset(&c->hold, 0, sizeof c->hold);
        feed_proto(c, b.p, b.len);
        kh_buf_free(&b);
    }
    if (!c->hold.len && !c->input_paused && !c->closing) {
        if (c->eof_pending) {
            c->eof_pending = false;
            kh_conn_eof(c, 0);
            return;
        }
        c->io->read_stop(c, false);
    }
}

static void
sniff(kh_conn *c)
{
    size_t n = c->hold.len < H2_PREFACE_LEN ? c->hold.len : H2_PREFACE_LEN;
    if (memcmp(c->hold.p, h2_preface, n) != 0) {
        c->proto = KH_PROTO_H1;
    } else if (n == H2_PREFACE_LEN) {
        if (kh_conn_set_proto(c, KH_PROTO_H2) != 0) {
            c->closing = true;
            c->io->close(c);
            return;
        }
    } else {
        return; /* a prefix of the preface: wait for more */
    }
    feed_hold(c);
}

/* Input that arrives while the protocol is paused is held, up to
 * KH_HOLD_SOFT bytes; only beyond that does the transport stop reading.
 * Stopping and restarting reads around every request would cost two
 * system calls per request (epoll_ctl), and a keep-alive client sends
 * nothing more until it has its answer anyway. */
void
kh_conn_hold_check(kh_conn *c)
{
    if (c->hold.len >= KH_HOLD_SOFT)
        c->io->read_stop(c, true);
}

void
kh_conn_feed(kh_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing || len == 0)
        return;
    if (c->proto == KH_PROTO_SNIFF || c->hold.len || c->input_paused) {
        if (kh_buf_append(&c->hold, data, len) != 0) {
            c->closing = true;
            c->io->close(c);
            return;
        }
        if (c->proto == KH_PROTO_SNIFF)
            sniff(c);
        else
            kh_conn_hold_check(c);
        return;
    }
    feed_proto(c, data, len);
}

void
kh_conn_run(kh_conn *c)
{
    if (c->proto == KH_PROTO_H1)
        kh_h1_run(c);
    else if (c->proto == KH_PROTO_H2)
        kh_h2_run(c);
    if (!c->closing)
        feed_hold(c);
}

bool
kh_conn_idle(const kh_conn *c)
{
    if (c->proto == KH_PROTO_H2)
        return c->streams == NULL;
    return c->cur == NULL && c->hold.len == 0;
}

void
kh_conn_eof(kh_conn *c, int error)
{
    if (c->closing)
        return;
    if (error == 0 && c->proto == KH_PROTO_H1 &&
        (c->hold.len || c->input_paused)) {
        c->eof_pending = true; /* after the held requests are answered */
        return;
    }
    if (error == 0 && c->proto == KH_PROTO_H1 && c->cur && c->cur->body_done &&
        !c->cur->gone) {
        c->close_after = true; /* answer, then close */
        return;
    }
    c->closing = true;
    c->io->close(c);
}

static void
request_deadline(kumo_http_request *req)
{
    kumo_http_handler *h = &req->conn->env->h;
    req->deadline_hit = true;
    if (h->on_deadline) {
        h->on_deadline(h->ud, req);
        return;
    }
    if (!req->resp_started)
        kh_req_internal_respond(req, 504);
    else
        kumo_http_response_abort(req);
    req->close_error = KUMO_ELIMIT;
}

static void
check_deadline(kumo_http_request *req, uint64_t now)
{
    if (req->in_handler && req->deadline_ms && !req->deadline_hit &&
        now >= req->deadline_ms && !req->gone)
        request_deadline(req);
}

void
kh_conn_tick(kh_conn *c, uint64_t now)
{
    if (c->closing)
        return;
    if (c->cur)
        check_deadline(c->cur, now);
    for (kumo_http_request *r = c->streams; r; r = r->next)
        check_deadline(r, now);
    if (c->timer_kind == KH_T_NONE || now < c->deadline)
        return;
    kumo_http_request *req = c->cur;
    if (c->proto == KH_PROTO_H1 && req && !req->resp_started &&
        c->timer_kind != KH_T_IDLE) {
        /* A slow client: answer 408 and close. */
        c->close_after = true;
        c->timer_kind = KH_T_NONE;
        if (req->in_handler)
            req->close_error = KUMO_ELIMIT;
        kh_req_internal_respond(req, 408);
        req->gone = true;
        c->io->schedule(c);
        return;
    }
    if (c->proto == KH_PROTO_H2 && c->h2 && !c->goaway) {
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2),
                              NGHTTP2_NO_ERROR, NULL, 0);
        c->goaway = true;
        c->timer_kind = KH_T_IDLE;
        c->deadline = now + 1000;
        c->io->schedule(c);
        return;
    }
    c->closing = true;
    c->io->close(c);
}

void
kh_conn_drain(kh_conn *c)
{
    c->draining = true;
    if (c->closing)
        return;
    if (c->proto == KH_PROTO_H2) {
        kh_h2_drain(c);
        return;
    }
    if (c->cur == NULL) {
        c->closing = true;
        c->io->close(c);
        return;
    }
    c->close_after = true;
}

void
kh_conn_free(kh_conn *c)
{
    if (!c)
        return;
    kh_h1_fini(c);
    kh_h2_fini(c);
    kh_buf_free(&c->hold);
    kb_free(c);
}

/* ---- requests */
kumo_http_request *
kh_req_new(kh_conn *c)
{
    kumo_http_request *req = kb_calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->conn = c;
    req->content_length = -1;
    req->resp_length = -1;
    req->scheme = c->tls ? "https" : "http";
    req->start_ms = c->io->now(c);
    return req;
}

void
kh_req_free(kumo_http_request *req)
{
    if (!req)
        return;
    kb_free(req->method);
    kb_free(req->authority);
    kb_free(req->path);
    kh_buf_free(&req->hbuf);
    kh_buf_free(&req->tbuf);
    kh_buf_free(&req->rtbuf);
    kb_free(req->offs);
    kb_free(req->headers);
    kb_free(req->trailers);
    kb_free(req->rtrail);
    kh_queue_clear(&req->out);
    kh_queue_clear(&req->in);
    kb_free(req);
}

int
kh_req_add_field(kumo_http_request *req, bool trailer, const uint8_t *name,
                 size_t nlen, const uint8_t *value, size_t vlen)
{
    const kumo_http_config *cfg = &req->conn->env->cfg;
    req->head_bytes += nlen + vlen + 4;
    if (req->reject)
        return 0;
    if (req->head_bytes > cfg->max_header_bytes ||
        req->noffs + 1 > cfg->max_header_count) {
        req->reject = 431;
        return 0;
    }
    kh_buf *b = trailer ? &req->tbuf : &req->hbuf;
    if (kb_reserve((void **)&req->offs, &req->capoffs, req->noffs + 1,
                   sizeof *req->offs) != 0)
        return KUMO_ENOMEM;
    kh_fieldoff *o = &req->offs[req->noffs];
    o->name = b->len;
    o->name_len = nlen;
    if (kh_buf_append(b, name, nlen) != 0)
        return KUMO_ENOMEM;
    for (size_t i = 0; i < nlen; i++) {
        uint8_t ch = b->p[o->name + i];
        if (ch >= 'A' && ch <= 'Z')
            b->p[o->name + i] = (uint8_t)(ch + 32);
    }
    o->value = b->len;
    o->value_len = vlen;
    if (kh_buf_append(b, value, vlen) != 0)
        return KUMO_ENOMEM;
    req->noffs++;
    return 0;
}

/* Turn the offsets collected so far into the field array. */
int
kh_req_seal(kumo_http_request *req, bool trailer)
{
    kh_buf *b = trailer ? &req->tbuf : &req->hbuf;
    const uint8_t *base = b->p ? b->p : (const uint8_t *)""; /* all empty */
    kumo_http_field *f = NULL;
    if (req->noffs) {
        f = kb_calloc(req->noffs, sizeof *f);
        if (!f)
            return KUMO_ENOMEM;
    }
    for (uint32_t i = 0; i < req->noffs; i++) {
        f[i].name = base + req->offs[i].name;
        f[i].name_len = req->offs[i].name_len;
        f[i].value = base + req->offs[i].value;
        f[i].value_len = req->offs[i].value_len;
    }
    if (trailer) {
        kb_free(req->trailers);
        req->trailers = f;
        req->ntrailers = req->noffs;
    } else {
        kb_free(req->headers);
        req->headers = f;
        req->nheaders = req->noffs;
    }
    req->noffs = 0;
    return 0;
}

int
kh_req_internal_respond(kumo_http_request *req, int status)
{
    char len[32];
    const char *reason = kh_reason(status);
    size_t blen = strlen(reason) + 1;
    int n = snprintf(len, sizeof len, "%zu", blen);
    kumo_http_field f[2] = {
        {(const uint8_t *)"content-type", 12, (const uint8_t *)"text/plain",
         10},
        {(const uint8_t *)"content-length", 14, (const uint8_t *)len,
         (size_t)n},
    };
    if (!req->in_handler)
        req->internal = true;
    if (status >= 400 && !req->body_done && req->content_length != 0 &&
        req->conn->proto == KH_PROTO_H1)
        req->conn->close_after = true;
    char body[64];
    snprintf(body, sizeof body, "%s\n", reason);
    int rc = kumo_http_respond(req, status, f, 2, (const uint8_t *)body, blen);
    return rc;
}

void
kh_req_dispatch(kumo_http_request *req)
{
    kh_env *env = req->conn->env;
    if (!req->path)
        req->path = kb_strndup("/", 1);
    if (!req->authority)
        req->authority = kb_strndup("", 0);
    if (!req->method)
        req->method = kb_strndup("GET", 3);
    if (!req->path || !req->authority || !req->method)
        req->reject = 500;
    int reject = req->reject;
    if (!reject && env->cfg.max_body_bytes &&
        req->content_length > (int64_t)env->cfg.max_body_bytes)
        reject = 413;
    if (!reject && env->stats.active >= env->cfg.max_concurrent)
        reject = 503;
    if (reject) {
        req->reject = reject;
        env->stats.rejected++;
        kh_req_internal_respond(req, reject);
        return;
    }
    req->in_handler = true;
    env->stats.active++;
    env->stats.requests++;
    uint64_t now = req->conn->io->now(req->conn);
    if (env->cfg.request_timeout_ms)
        req->deadline_ms = now + env->cfg.request_timeout_ms;
    env->h.on_request(env->h.ud, req);
}

void
kh_req_body(kumo_http_request *req, const uint8_t *data, size_t len)
{
    kh_env *env = req->conn->env;
    req->body_bytes += len;
    if (req->internal || req->gone)
        return;
    if (env->cfg.max_body_bytes && req->body_bytes > env->cfg.max_body_bytes) {
        if (!req->reject) {
            req->reject = 413;
            env->stats.rejected++;
            if (!req->resp_started) {
                kh_req_internal_respond(req, 413);
            } else {
                kumo_http_response_abort(req);
            }
            req->close_error = KUMO_ELIMIT;
        }
        return;
    }
    if (req->reject)
        return;
    if (req->in_handler && env->h.on_body)
        env->h.on_body(env->h.ud, req, data, len);
}

void
kh_req_body_end(kumo_http_request *req)
{
    kh_env *env = req->conn->env;
    if (req->body_done)
        return;
    req->body_done = true;
    if (req->in_handler && !req->reject && !req->gone && env->h.on_body_end)
        env->h.on_body_end(env->h.ud, req);
}

void
kh_req_done(kumo_http_request *req, int error)
{
    kh_env *env = req->conn->env;
    FILE *log = env->cfg.access_log;
    if (log) {
        uint64_t ms = req->conn->io->now(req->conn) - req->start_ms;
        const char *v = req->version == KUMO_HTTP_2     ? "HTTP/2"
                        : req->version == KUMO_HTTP_1_0 ? "HTTP/1.0"
                                                        : "HTTP/1.1";
        fprintf(log, "%s %s %s %d %llu %llums\n",
                req->method ? req->method : "-", req->path ? req->path : "-", v,
                req->status, (unsigned long long)req->resp_bytes,
                (unsigned long long)ms);
        fflush(log);
    }
    if (req->in_handler) {
        req->in_handler = false;
        env->stats.active--;
        if (!error)
            error = req->close_error;
        env->h.on_close(env->h.ud, req, error);
    }
}

void
kh_req_deliver_writable(kumo_http_request *req)
{
    kh_env *env = req->conn->env;
    if (!req->want_writable || !req->in_handler || req->gone ||
        req->resp_finished)
        return;
    if (!kumo_http_response_writable(req))
        return;
    req->want_writable = false;
    if (env->h.on_writable)
        env->h.on_writable(env->h.ud, req);
}

/* ---- public request API */
void
kumo_http_request_set_data(kumo_http_request *req, void *data)
{
    req->data = data;
}

void *
kumo_http_request_data(const kumo_http_request *req)
{
    return req->data;
}

kumo_http_version
kumo_http_request_version(const kumo_http_request *req)
{
    return req->version;
}

const char *
kumo_http_request_method(const kumo_http_request *req)
{
    return req->method;
}

const char *
kumo_http_request_scheme(const kumo_http_request *req)
{
    return req->scheme;
}

const char *
kumo_http_request_authority(const kumo_http_request *req)
{
    return req->authority;
}

const char *
kumo_http_request_path(const kumo_http_request *req)
{
    return req->path;
}

const kumo_http_field *
kumo_http_request_headers(const kumo_http_request *req, size_t *n)
{
    *n = req->nheaders;
    return req->headers;
}

const kumo_http_field *
kumo_http_request_trailers(const kumo_http_request *req, size_t *n)
{
    *n = req->ntrailers;
    return req->trailers;
}

const uint8_t *
kumo_http_request_header(const kumo_http_request *req, const char *name,
                         size_t *len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const kumo_http_field *f = &req->headers[i];
        if (f->name_len == nl &&
            strncasecmp((const char *)f->name, name, nl) == 0) {
            *len = f->value_len;
            return f->value;
        }
    }
    *len = 0;
    return NULL;
}

void
kumo_http_request_pause(kumo_http_request *req, bool paused)
{
    if (req->paused == paused)
        return;
    req->paused = paused;
    if (!paused)
        req->conn->io->schedule(req->conn);
}

int
kumo_http_response_start(kumo_http_request *req, int status,
                         const kumo_http_field *fields, size_t n)
{
    if (req->gone)
        return KUMO_EIO;
    if (req->resp_started || status < 100 || status > 999)
        return KUMO_EINVAL;
    req->resp_started = true;
    req->status = status;
    int rc = req->conn->proto == KH_PROTO_H2
                 ? kh_h2_start(req, status, fields, n)
                 : kh_h1_start(req, status, fields, n);
    req->conn->io->schedule(req->conn);
    return rc;
}

int
kumo_http_response_write(kumo_http_request *req, const uint8_t *data,
                         size_t len)
{
    if (req->gone)
        return KUMO_EIO;
    if (!req->resp_started || req->resp_finished)
        return KUMO_EINVAL;
    int rc = req->conn->proto == KH_PROTO_H2 ? kh_h2_write(req, data, len)
                                             : kh_h1_write(req, data, len);
    if (rc < 0)
        return rc;
    req->resp_bytes += len;
    req->conn->io->schedule(req->conn);
    if (!kumo_http_response_writable(req)) {
        req->want_writable = true;
        return KUMO_HTTP_BLOCKED;
    }
    return 0;
}

bool
kumo_http_response_writable(const kumo_http_request *req)
{
    kh_conn *c = req->conn;
    if (c->proto == KH_PROTO_H2)
        return req->out.bytes < KH_HIGH_WATER;
    return c->io->pending(c) < KH_HIGH_WATER;
}

int
kumo_http_response_finish(kumo_http_request *req,
                          const kumo_http_field *trailers, size_t n)
{
    if (req->gone)
        return KUMO_EIO;
    if (!req->resp_started || req->resp_finished)
        return KUMO_EINVAL;
    req->resp_finished = true;
    int rc = req->conn->proto == KH_PROTO_H2 ? kh_h2_finish(req, trailers, n)
                                             : kh_h1_finish(req, trailers, n);
    req->conn->io->schedule(req->conn);
    return rc;
}

int
kumo_http_respond(kumo_http_request *req, int status,
                  const kumo_http_field *fields, size_t n, const uint8_t *body,
                  size_t len)
{
    int rc = kumo_http_response_start(req, status, fields, n);
    if (rc == 0 && len)
        rc = kumo_http_response_write(req, body, len);
    if (rc >= 0)
        rc = kumo_http_response_finish(req, NULL, 0);
    return rc;
}

void
kumo_http_response_abort(kumo_http_request *req)
{
    if (req->gone || req->aborted)
        return;
    req->aborted = true;
    req->close_error = KUMO_EIO;
    if (!req->resp_started) {
        kh_req_internal_respond(req, 500);
        return;
    }
    if (req->conn->proto == KH_PROTO_H2)
        kh_h2_abort(req);
    else
        kh_h1_abort(req);
    req->conn->io->schedule(req->conn);
}
