/* h2.c - HTTP/2 on nghttp2 used sans-I/O (mem_recv / mem_send). Request
 * bodies are flow-controlled by hand: bytes are "consumed" (window updates
 * sent) only once the handler took them, so a paused handler holds the
 * client back by at most one stream window. Response bodies go through a
 * per-stream queue read by a data provider that defers when it is empty. */
#include <strings.h>

#include "http.h"

#define H2_STREAM_WINDOW (256 * 1024)
#define H2_CONN_WINDOW (1024 * 1024)

static kumo_http_request *
stream_req(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static void
link_stream(kh_conn *c, kumo_http_request *req)
{
    req->next = c->streams;
    c->streams = req;
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    kh_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    kumo_http_request *req = kh_req_new(c);
    if (!req)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    req->stream_id = f->hd.stream_id;
    req->version = KUMO_HTTP_2;
    link_stream(c, req);
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, req);
    return 0;
}

static int
pseudo(kumo_http_request *req, const uint8_t *name, size_t nlen,
       const uint8_t *value, size_t vlen)
{
    char **slot = NULL;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0)
        slot = &req->method;
    else if (nlen == 5 && memcmp(name, ":path", 5) == 0)
        slot = &req->path;
    else if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
        slot = &req->authority;
    if (!slot || *slot)
        return 0;
    *slot = kb_strndup((const char *)value, vlen);
    return *slot ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
          size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
          void *ud)
{
    (void)flags;
    (void)ud;
    kumo_http_request *req = stream_req(s, f->hd.stream_id);
    if (!req || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    bool trailer = req->h2_headers_done;
    if (nlen && name[0] == ':') {
        req->head_bytes += nlen + vlen;
        if (trailer || req->reject)
            return 0;
        if (req->head_bytes > req->conn->env->cfg.max_header_bytes) {
            req->reject = 431;
            return 0;
        }
        return pseudo(req, name, nlen, value, vlen);
    }
    if (kh_req_add_field(req, trailer, name, nlen, value, vlen) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int64_t
field_length(kumo_http_request *req)
{
    size_t n;
    const uint8_t *v = kumo_http_request_header(req, "content-length", &n);
    int64_t x = 0;
    if (!v || n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static void
body_end(kumo_http_request *req)
{
    if (req->in.head || req->paused)
        req->end_seen = true; /* after the queued chunks */
    else
        kh_req_body_end(req);
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    kh_conn *c = ud;
    kumo_http_request *req = stream_req(s, f->hd.stream_id);
    if (!req)
        return 0;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS) {
        if (!req->h2_headers_done) {
            req->h2_headers_done = true;
            if (kh_req_seal(req, false) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            req->content_length = end ? 0 : field_length(req);
            req->head_method = req->method && !strcmp(req->method, "HEAD");
            kh_req_dispatch(req);
        } else if (kh_req_seal(req, true) != 0) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    } else if (f->hd.type != NGHTTP2_DATA) {
        return 0;
    }
    if (end)
        body_end(req);
    c->io->schedule(c);
    return 0;
}

static int
on_data_chunk_recv(nghttp2_session *s, uint8_t flags, int32_t id,
                   const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    kumo_http_request *req = stream_req(s, id);
    if (req && req->in_handler && !req->reject && !req->gone &&
        (req->paused || req->in.head)) {
        if (kh_queue_push(&req->in, data, len) == 0)
            return 0; /* consumed once delivered */
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id,
                                  NGHTTP2_INTERNAL_ERROR);
    } else if (req) {
        kh_req_body(req, data, len);
    }
    nghttp2_session_consume(s, id, len);
    return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t id, uint32_t error, void *ud)
{
    kh_conn *c = ud;
    kumo_http_request *req = stream_req(s, id);
    if (!req)
        return 0;
    req->stream_closed = true;
    if (!req->eof_sent) {
        req->gone = true;
        if (!req->close_error)
            req->close_error = KUMO_EIO;
    }
    (void)error;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    c->io->schedule(c);
    return 0;
}

static void *
mem_malloc(size_t size, void *ud)
{
    (void)ud;
    return kb_malloc(size);
}

static void
mem_free(void *ptr, void *ud)
{
    (void)ud;
    kb_free(ptr);
}

static void *
mem_calloc(size_t n, size_t size, void *ud)
{
    (void)ud;
    return kb_calloc(n, size);
}

static void *
mem_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return kb_realloc(ptr, size);
}

static nghttp2_mem h2_mem = {NULL, mem_malloc, mem_free, mem_calloc,
                             mem_realloc};

int
kh_h2_init(kh_conn *c, const uint8_t *upgrade_settings, size_t slen,
           kumo_http_request *upgraded)
{
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rc = KUMO_ENOMEM;
    if (nghttp2_session_callbacks_new(&cb) != 0 ||
        nghttp2_option_new(&opt) != 0)
        goto fail;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    if (nghttp2_session_server_new3(&c->h2, cb, c, opt, &h2_mem) != 0)
        goto fail;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
    };
    rc = KUMO_EIO;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
                                              H2_CONN_WINDOW) != 0)
        goto fail;
    if (upgraded) {
        if (nghttp2_session_upgrade2(c->h2, upgrade_settings, slen,
                                     upgraded->head_method, upgraded) != 0)
            goto fail;
        upgraded->stream_id = 1;
        upgraded->h2_headers_done = true;
        link_stream(c, upgraded);
    }
    rc = 0;
fail:
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (rc && c->h2) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
    }
    return rc;
}

static void
fatal(kh_conn *c)
{
    c->closing = true;
    c->io->close(c);
}

/* Move frames from nghttp2 to the transport while it has room. */
static void
pump(kh_conn *c)
{
    while (!c->closing && nghttp2_session_want_write(c->h2) &&
           c->io->pending(c) < KH_HIGH_WATER) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->h2, &d);
        if (n < 0) {
            fatal(c);
            return;
        }
        if (n == 0)
            break;
        c->io->send(c, d, (size_t)n);
    }
}

void
kh_h2_feed(kh_conn *c, const uint8_t *data, size_t len)
{
    ssize_t n = nghttp2_session_mem_recv(c->h2, data, len);
    if (n < 0) {
        nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
        pump(c);
        fatal(c);
        return;
    }
    c->io->schedule(c);
}

/* Hand queued body chunks to an unpaused handler. */
static void
deliver_input(kh_conn *c, kumo_http_request *req)
{
    while (req->in.head && !req->paused && !req->gone) {
        kh_chunk *k = req->in.head;
        size_t len = k->len;
        kh_req_body(req, k->data, len);
        kh_queue_pop(&req->in);
        if (!req->stream_closed)
            nghttp2_session_consume(c->h2, req->stream_id, len);
    }
    if (!req->in.head && !req->paused && req->end_seen) {
        req->end_seen = false;
        kh_req_body_end(req);
    }
}

static void
process_streams(kh_conn *c)
{
    kumo_http_request **pp = &c->streams;
    while (*pp) {
        kumo_http_request *req = *pp;
        if (req->stream_closed) {
            *pp = req->next;
            kh_queue_clear(&req->in);
            kh_req_done(req, req->eof_sent ? 0 : req->close_error);
            kh_req_free(req);
            continue;
        }
        deliver_input(c, req);
        kh_req_deliver_writable(req);
        pp = &req->next;
    }
}

void
kh_h2_run(kh_conn *c)
{
    if (!c->h2 || c->closing)
        return;
    for (int round = 0; round < 2 && !c->closing; round++) {
        process_streams(c);
        pump(c);
    }
    if (c->closing)
        return;
    /* Runs follow activity (input, output, a handler's answer), so an idle
     * deadline counts from the last of it; the connection's initial header
     * timer (set before the protocol was known) ends here too. */
    if (c->streams) {
        c->timer_kind = KH_T_NONE;
    } else if (!c->goaway) {
        c->timer_kind = KH_T_IDLE;
        c->deadline = c->io->now(c) + c->env->cfg.idle_timeout_ms;
    }
    if ((!nghttp2_session_want_read(c->h2) &&
         !nghttp2_session_want_write(c->h2)) ||
        (c->goaway && !c->streams && !nghttp2_session_want_write(c->h2))) {
        c->closing = true;
        c->io->close(c);
    }
}

void
kh_h2_drain(kh_conn *c)
{
    if (!c->h2 || c->goaway)
        return;
    c->goaway = true;
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    c->io->schedule(c);
}

void
kh_h2_fini(kh_conn *c)
{
    while (c->streams) {
        kumo_http_request *req = c->streams;
        c->streams = req->next;
        req->gone = true;
        kh_req_done(req, KUMO_EIO);
        kh_req_free(req);
    }
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    kumo_http_request *req = src->ptr;
    size_t n = 0;
    while (n < length && req->out.head) {
        kh_chunk *k = req->out.head;
        size_t take = k->len - k->off;
        if (take > length - n)
            take = length - n;
        memcpy(buf + n, k->data + k->off, take);
        k->off += take;
        req->out.bytes -= take;
        n += take;
        if (k->off == k->len)
            kh_queue_pop(&req->out);
    }
    if (req->want_writable && req->out.bytes < KH_LOW_WATER)
        req->conn->io->schedule(req->conn);
    if (req->out.head)
        return (ssize_t)n;
    if (!req->resp_finished) {
        if (n)
            return (ssize_t)n;
        req->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    req->eof_sent = true;
    if (req->nrtrail) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(s, id, req->rtrail, req->nrtrail) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

static bool
hop_name(const uint8_t *name, size_t len)
{
    static const char *const names[] = {"connection", "transfer-encoding",
                                        "keep-alive", "upgrade",
                                        "proxy-connection"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (len == strlen(names[i]) &&
            strncasecmp((const char *)name, names[i], len) == 0)
            return true;
    return false;
}

/* Copy fields into nv (lowercased names in b), after an optional status. */
static int
make_nv(const kumo_http_field *f, size_t n, int status, kh_buf *b,
        nghttp2_nv **out, size_t *nout)
{
    nghttp2_nv *nv = kb_calloc(n + 1, sizeof *nv);
    if (!nv)
        return KUMO_ENOMEM;
    size_t k = 0, *offs = kb_calloc(2 * (n + 1), sizeof *offs);
    int rc = offs ? 0 : KUMO_ENOMEM;
    if (status && rc == 0) {
        offs[0] = b->len;
        rc = kh_buf_printf(b, ":status%d", status);
        nv[0].namelen = 7;
        nv[0].valuelen = 3;
        k = 1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (hop_name(f[i].name, f[i].name_len) || f[i].name_len == 0 ||
            f[i].name[0] == ':')
            continue;
        offs[2 * k] = b->len;
        rc = kh_buf_append(b, f[i].name, f[i].name_len);
        for (size_t j = 0; rc == 0 && j < f[i].name_len; j++) {
            uint8_t *ch = &b->p[offs[2 * k] + j];
            if (*ch >= 'A' && *ch <= 'Z')
                *ch = (uint8_t)(*ch + 32);
        }
        rc = rc ? rc : kh_buf_append(b, f[i].value, f[i].value_len);
        nv[k].namelen = f[i].name_len;
        nv[k].valuelen = f[i].value_len;
        k++;
    }
    for (size_t i = 0; i < k && rc == 0; i++) {
        nv[i].name = b->p + offs[2 * i];
        nv[i].value = nv[i].name + nv[i].namelen;
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
    kb_free(offs);
    if (rc) {
        kb_free(nv);
        return rc;
    }
    *out = nv;
    *nout = k;
    return 0;
}

int
kh_h2_start(kumo_http_request *req, int status, const kumo_http_field *f,
            size_t n)
{
    kh_conn *c = req->conn;
    kh_buf b = {0};
    nghttp2_nv *nv = NULL;
    size_t nnv = 0;
    int rc = make_nv(f, n, status, &b, &nv, &nnv);
    if (rc)
        return rc;
    nghttp2_data_provider prd;
    prd.source.ptr = req;
    prd.read_callback = read_body;
    if (nghttp2_submit_response(c->h2, req->stream_id, nv, nnv, &prd) != 0)
        rc = KUMO_EIO;
    kb_free(nv);
    kh_buf_free(&b);
    return rc;
}

static void
resume(kumo_http_request *req)
{
    if (req->deferred) {
        req->deferred = false;
        nghttp2_session_resume_data(req->conn->h2, req->stream_id);
    }
}

int
kh_h2_write(kumo_http_request *req, const uint8_t *data, size_t len)
{
    if (req->head_method || len == 0)
        return 0;
    if (kh_queue_push(&req->out, data, len) != 0)
        return KUMO_ENOMEM;
    resume(req);
    return 0;
}

int
kh_h2_finish(kumo_http_request *req, const kumo_http_field *t, size_t n)
{
    if (n) {
        int rc = make_nv(t, n, 0, &req->rtbuf, &req->rtrail, &req->nrtrail);
        if (rc)
            return rc;
    }
    resume(req);
    return 0;
}

void
kh_h2_abort(kumo_http_request *req)
{
    nghttp2_submit_rst_stream(req->conn->h2, NGHTTP2_FLAG_NONE, req->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
    req->gone = true;
}
