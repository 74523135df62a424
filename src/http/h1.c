/* h1.c - HTTP/1.x on llhttp: one request at a time per connection
 * (pipelined ones wait in the held input: the parser pauses at the end of
 * every message until its response is complete), chunked bodies both ways,
 * trailers, 100-continue, and the h2c Upgrade. */
#include <strings.h>

#include "http.h"

enum { PAUSE_NONE, PAUSE_BODY, PAUSE_MSG };
static int pause_reason(kh_conn *c, int set);

static kh_conn *
conn_of(llhttp_t *p)
{
    return p->data;
}

static uint64_t
now_ms(kh_conn *c)
{
    return c->io->now(c);
}

static int
on_message_begin(llhttp_t *p)
{
    kh_conn *c = conn_of(p);
    if (c->cur)
        return HPE_USER;
    c->cur = kh_req_new(c);
    if (!c->cur)
        return HPE_USER;
    c->url.len = c->fname.len = c->fvalue.len = 0;
    c->timer_kind = KH_T_HEADER;
    c->deadline = now_ms(c) + c->env->cfg.header_timeout_ms;
    return 0;
}

/* Append a span, counting it against the header limit. */
static int
head_span(kh_conn *c, kh_buf *b, const char *at, size_t len)
{
    kumo_http_request *req = c->cur;
    if (b->len + len + req->head_bytes > c->env->cfg.max_header_bytes) {
        req->reject = 431;
        return 0;
    }
    return kh_buf_append(b, at, len) == 0 ? 0 : HPE_USER;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    kh_conn *c = conn_of(p);
    return head_span(c, &c->url, at, len);
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    kh_conn *c = conn_of(p);
    return head_span(c, &c->fname, at, len);
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    kh_conn *c = conn_of(p);
    return head_span(c, &c->fvalue, at, len);
}

static int
on_header_value_complete(llhttp_t *p)
{
    kh_conn *c = conn_of(p);
    kumo_http_request *req = c->cur;
    int rc = kh_req_add_field(req, req->seen_trailers, c->fname.p, c->fname.len,
                              c->fvalue.p, c->fvalue.len);
    c->fname.len = c->fvalue.len = 0;
    return rc == 0 ? 0 : HPE_USER;
}

static bool
value_has(const uint8_t *v, size_t len, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= len; i++)
        if (strncasecmp((const char *)v + i, token, tl) == 0)
            return true;
    return false;
}

static char *
dup_field(kumo_http_request *req, const char *name)
{
    size_t len;
    const uint8_t *v = kumo_http_request_header(req, name, &len);
    return v ? kb_strndup((const char *)v, len) : NULL;
}

/* An "Upgrade: h2c" request without a body switches to HTTP/2 once it is
 * complete (RFC 7540 3.2). */
static bool
wants_h2c(kh_conn *c, kumo_http_request *req)
{
    size_t ul, sl;
    const uint8_t *up = kumo_http_request_header(req, "upgrade", &ul);
    const uint8_t *st = kumo_http_request_header(req, "http2-settings", &sl);
    if (c->tls || !up || !st || req->content_length != 0 || req->reject ||
        c->env->draining || !value_has(up, ul, "h2c"))
        return false;
    c->h2settings.len = 0;
    return kh_buf_append(&c->h2settings, st, sl) == 0;
}

static void
send_str(kh_conn *c, const char *s)
{
    c->io->send(c, (const uint8_t *)s, strlen(s));
}

static int
on_headers_complete(llhttp_t *p)
{
    kh_conn *c = conn_of(p);
    kumo_http_request *req = c->cur;
    req->version =
        llhttp_get_http_minor(p) == 0 ? KUMO_HTTP_1_0 : KUMO_HTTP_1_1;
    const char *m = llhttp_method_name(llhttp_get_method(p));
    req->method = kb_strndup(m, strlen(m));
    req->path = kb_strndup(c->url.len ? (const char *)c->url.p : "/",
                           c->url.len ? c->url.len : 1);
    if (!req->method || !req->path || kh_req_seal(req, false) != 0)
        return HPE_USER;
    req->seen_trailers = true; /* fields from now on are trailers */
    req->authority = dup_field(req, "host");
    size_t el;
    const uint8_t *ev = kumo_http_request_header(req, "expect", &el);
    req->expect_continue = ev && value_has(ev, el, "100-continue");
    if (p->flags & F_CHUNKED)
        req->content_length = -1;
    else if (p->flags & F_CONTENT_LENGTH)
        req->content_length = (int64_t)p->content_length;
    else
        req->content_length = 0;
    req->head_method = llhttp_get_method(p) == HTTP_HEAD;
    if (!llhttp_should_keep_alive(p) || c->draining)
        c->close_after = true;
    c->timer_kind = req->content_length ? KH_T_BODY : KH_T_NONE;
    c->deadline = now_ms(c) + c->env->cfg.body_timeout_ms;
    if (wants_h2c(c, req)) {
        c->h2c_upgrade = true;
        return 0;
    }
    kh_req_dispatch(req);
    if (req->expect_continue && req->in_handler && !req->resp_started &&
        req->content_length != 0) {
        req->continue_sent = true;
        send_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    kh_conn *c = conn_of(p);
    kumo_http_request *req = c->cur;
    bool holding = req->in_handler && !req->reject && !req->gone;
    c->deadline = now_ms(c) + c->env->cfg.body_timeout_ms;
    if (holding && req->paused) {
        /* Paused before this chunk: keep it (at most one read) for the
         * resume, and stop the parser here. */
        if (kh_queue_push(&req->in, (const uint8_t *)at, len) != 0)
            return HPE_USER;
        pause_reason(c, PAUSE_BODY);
        return HPE_PAUSED;
    }
    kh_req_body(req, (const uint8_t *)at, len);
    if (holding && req->paused) {
        pause_reason(c, PAUSE_BODY);
        return HPE_PAUSED;
    }
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    kh_conn *c = conn_of(p);
    kumo_http_request *req = c->cur;
    if (req->noffs && kh_req_seal(req, true) != 0)
        return HPE_USER;
    c->timer_kind = KH_T_NONE;
    if (!c->h2c_upgrade)
        kh_req_body_end(req);
    pause_reason(c, PAUSE_MSG);
    c->io->schedule(c);
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Why the parser is paused: PAUSE_BODY (the handler paused the body) or
 * PAUSE_MSG (a message ended; the next waits for its response). set < 0
 * only reads. */
static int
pause_reason(kh_conn *c, int set)
{
    if (set >= 0)
        c->h1_pause = set;
    return c->h1_pause;
}

void
kh_h1_init(kh_conn *c)
{
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
}

void
kh_h1_fini(kh_conn *c)
{
    if (c->cur) {
        kh_req_done(c->cur, KUMO_EIO);
        kh_req_free(c->cur);
        c->cur = NULL;
    }
    kh_buf_free(&c->url);
    kh_buf_free(&c->fname);
    kh_buf_free(&c->fvalue);
    kh_buf_free(&c->h2settings);
}

/* base64url (RFC 4648 5) without padding, as HTTP2-Settings carries it. */
static size_t
b64url_decode(const uint8_t *in, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = in[i], v;
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '-' || ch == '+')
            v = 62;
        else if (ch == '_' || ch == '/')
            v = 63;
        else
            continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static void
upgrade(kh_conn *c, const uint8_t *rest, size_t len)
{
    kumo_http_request *req = c->cur;
    uint8_t *set = kb_malloc(c->h2settings.len + 1);
    size_t slen =
        set ? b64url_decode(c->h2settings.p, c->h2settings.len, set) : 0;
    send_str(c, "HTTP/1.1 101 Switching Protocols\r\n"
                "connection: Upgrade\r\nupgrade: h2c\r\n\r\n");
    c->cur = NULL;
    c->proto = KH_PROTO_H2;
    c->timer_kind = KH_T_NONE;
    req->version = KUMO_HTTP_2;
    int rc = set ? kh_h2_init(c, set, slen, req) : KUMO_ENOMEM;
    kb_free(set);
    if (rc != 0) {
        kh_req_free(req);
        c->closing = true;
        c->io->close(c);
        return;
    }
    kh_req_dispatch(req);
    kh_req_body_end(req);
    c->io->schedule(c);
    if (len)
        kh_conn_feed(c, rest, len);
}

static void
parse_error(kh_conn *c, llhttp_errno_t e)
{
    kumo_http_request *req = c->cur;
    c->h1_error = true;
    c->input_paused = true;
    c->io->read_stop(c, true);
    c->close_after = true;
    c->timer_kind = KH_T_NONE;
    if (!req) {
        req = c->cur = kh_req_new(c);
        if (!req) {
            c->closing = true;
            c->io->close(c);
            return;
        }
    }
    if (!req->resp_started) {
        int status = req->reject ? req->reject : 400;
        if (e == HPE_USER && !req->reject)
            status = 500;
        if (req->in_handler)
            req->close_error = KUMO_EIO;
        kh_req_internal_respond(req, status);
    }
    req->gone = true;
    c->io->schedule(c);
}

void
kh_h1_feed(kh_conn *c, const uint8_t *data, size_t len)
{
    if (c->h1_error)
        return;
    llhttp_errno_t e = llhttp_execute(&c->parser, (const char *)data, len);
    if (e == HPE_OK)
        return;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        const uint8_t *pos = (const uint8_t *)llhttp_get_error_pos(&c->parser);
        size_t used = pos && pos >= data && pos <= data + len
                          ? (size_t)(pos - data)
                          : len;
        if (e == HPE_PAUSED_UPGRADE)
            pause_reason(c, PAUSE_MSG);
        if (c->h2c_upgrade && pause_reason(c, -1) == PAUSE_MSG) {
            upgrade(c, data + used, len - used);
            return;
        }
        c->input_paused = true;
        if (used < len && kh_buf_append(&c->hold, data + used, len - used))
            parse_error(c, HPE_USER);
        else
            kh_conn_hold_check(c);
        return;
    }
    parse_error(c, e);
}

/* The current exchange is over: report it, then close or wait for the
 * next request. */
static void
complete(kh_conn *c, int error)
{
    kumo_http_request *req = c->cur;
    c->cur = NULL;
    kh_req_done(req, error);
    kh_req_free(req);
    if (c->close_after || c->draining || error) {
        c->closing = true;
        c->io->close(c);
        return;
    }
    c->timer_kind = KH_T_IDLE;
    c->deadline = now_ms(c) + c->env->cfg.idle_timeout_ms;
    if (llhttp_get_errno(&c->parser) == HPE_PAUSED_UPGRADE)
        llhttp_resume_after_upgrade(&c->parser);
    else
        llhttp_resume(&c->parser);
    pause_reason(c, PAUSE_NONE);
    c->input_paused = false;
}

void
kh_h1_run(kh_conn *c)
{
    kumo_http_request *req = c->cur;
    if (!req || c->closing)
        return;
    if (req->gone) {
        complete(c, req->close_error ? req->close_error : KUMO_EIO);
        return;
    }
    kh_req_deliver_writable(req);
    if (req != c->cur || c->closing)
        return;
    if (req->resp_finished && (req->body_done || c->close_after)) {
        complete(c, 0);
        return;
    }
    while (req->in.head && !req->paused && !req->gone) {
        kh_req_body(req, req->in.head->data, req->in.head->len);
        kh_queue_pop(&req->in);
    }
    if (pause_reason(c, -1) == PAUSE_BODY) {
        if (req->paused || req->in.head) {
            c->timer_kind = KH_T_NONE;
        } else {
            pause_reason(c, PAUSE_NONE);
            llhttp_resume(&c->parser);
            c->input_paused = false;
            c->timer_kind = KH_T_BODY;
            c->deadline = now_ms(c) + c->env->cfg.body_timeout_ms;
            /* The parser stopped inside a span: let it reach the states that
             * need no input (the end of the message) before more arrives. */
            if (!c->hold.len)
                kh_h1_feed(c, (const uint8_t *)"", 0);
        }
    }
}

/* Connection-specific fields the handler may not set itself. */
static bool
hop_field(const kumo_http_field *f)
{
    static const char *const names[] = {"connection", "transfer-encoding",
                                        "keep-alive", "upgrade"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (f->name_len == strlen(names[i]) &&
            strncasecmp((const char *)f->name, names[i], f->name_len) == 0)
            return true;
    return false;
}

static int64_t
parse_length(const uint8_t *v, size_t n)
{
    int64_t x = 0;
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}


#define APPEND_LIT(b, lit) kh_buf_append((b), (lit), sizeof(lit) - 1)

/* "HTTP/1.1 NNN Reason\r\n" into b. */
static int
status_line(kh_buf *b, int status)
{
    if (status < 100 || status > 999)
        return kh_buf_printf(b, "HTTP/1.1 %d %s\r\n", status,
                             kh_reason(status));
    char num[5] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                   (char)('0' + status % 10), ' ', 0};
    const char *reason = kh_reason(status);
    int rc = APPEND_LIT(b, "HTTP/1.1 ");
    rc = rc ? rc : kh_buf_append(b, num, 4);
    rc = rc ? rc : kh_buf_append(b, reason, strlen(reason));
    return rc ? rc : APPEND_LIT(b, "\r\n");
}

int
kh_h1_start(kumo_http_request *req, int status, const kumo_http_field *f,
            size_t n)
{
    kh_conn *c = req->conn;
    kh_buf b = {0};
    if (req->expect_continue && !req->continue_sent && !req->body_done &&
        status >= 200 && status < 300) {
        /* A success before the body arrived: the handler wants it. */
        req->continue_sent = true;
        send_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    int rc = status_line(&b, status);
    bool has_len = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (hop_field(&f[i]))
            continue;
        if (f[i].name_len == 14 &&
            strncasecmp((const char *)f[i].name, "content-length", 14) == 0) {
            has_len = true;
            req->resp_length = parse_length(f[i].value, f[i].value_len);
        }
        rc = kh_buf_append(&b, f[i].name, f[i].name_len);
        rc = rc ? rc : kh_buf_append(&b, ": ", 2);
        rc = rc ? rc : kh_buf_append(&b, f[i].value, f[i].value_len);
        rc = rc ? rc : kh_buf_append(&b, "\r\n", 2);
    }
    bool bodyless = status < 200 || status == 204 || status == 304;
    if (!has_len && !bodyless && !req->head_method) {
        if (req->version == KUMO_HTTP_1_1)
            req->resp_chunked = true;
        else
            c->close_after = true;
    }
    if (req->resp_chunked && rc == 0)
        rc = APPEND_LIT(&b, "transfer-encoding: chunked\r\n");
    if ((c->close_after || c->draining) && rc == 0)
        rc = APPEND_LIT(&b, "connection: close\r\n");
    else if (req->version == KUMO_HTTP_1_0 && rc == 0)
        rc = APPEND_LIT(&b, "connection: keep-alive\r\n");
    rc = rc ? rc : kh_buf_append(&b, "\r\n", 2);
    if (rc == 0)
        c->io->send(c, b.p, b.len);
    kh_buf_free(&b);
    if (bodyless || req->head_method)
        req->resp_length = 0;
    return rc;
}

int
kh_h1_write(kumo_http_request *req, const uint8_t *data, size_t len)
{
    kh_conn *c = req->conn;
    if (req->head_method || req->resp_length == 0 || len == 0)
        return 0;
    if (req->resp_chunked) {
        /* the chunk size in hex, then CRLF (no printf on this path) */
        char hdr[24];
        size_t n = sizeof hdr;
        hdr[--n] = '\n';
        hdr[--n] = '\r';
        for (size_t v = len; v || n == sizeof hdr - 2; v >>= 4)
            hdr[--n] = "0123456789abcdef"[v & 15];
        c->io->send(c, (const uint8_t *)hdr + n, sizeof hdr - n);
        c->io->send(c, data, len);
        c->io->send(c, (const uint8_t *)"\r\n", 2);
    } else {
        c->io->send(c, data, len);
    }
    return 0;
}

int
kh_h1_finish(kumo_http_request *req, const kumo_http_field *t, size_t n)
{
    kh_conn *c = req->conn;
    if (req->resp_chunked) {
        kh_buf b = {0};
        int rc = kh_buf_append(&b, "0\r\n", 3);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (hop_field(&t[i]))
                continue;
            rc = kh_buf_append(&b, t[i].name, t[i].name_len);
            rc = rc ? rc : kh_buf_append(&b, ": ", 2);
            rc = rc ? rc : kh_buf_append(&b, t[i].value, t[i].value_len);
            rc = rc ? rc : kh_buf_append(&b, "\r\n", 2);
        }
        rc = rc ? rc : kh_buf_append(&b, "\r\n", 2);
        if (rc == 0)
            c->io->send(c, b.p, b.len);
        kh_buf_free(&b);
        return rc;
    }
    if (req->resp_length > 0 && (int64_t)req->resp_bytes != req->resp_length &&
        !req->head_method)
        c->close_after = true; /* the framing is broken: end it */
    return 0;
}

void
kh_h1_abort(kumo_http_request *req)
{
    req->conn->close_after = true;
    req->gone = true;
}
