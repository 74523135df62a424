/* server.c - the libuv transport under kh_conn: listeners, accepted TCP
 * connections, TLS through OpenSSL memory BIOs with ALPN, coalesced
 * writes, the periodic timeout sweep, deferred work on an idle handle,
 * lingering close and graceful shutdown. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http.h"

#define READ_BUF (64 * 1024)
#define TICK_MS 100
#define LINGER_MS 2000

typedef struct tconn tconn;

typedef struct listener {
    uv_tcp_t tcp;
    kumo_http_server *srv;
    bool tls;
    int port;
} listener;

struct kumo_http_server {
    uv_loop_t *loop;
    kh_env env;
    listener *ls;
    size_t nls;
    SSL_CTX *ssl;
    uv_timer_t tick, grace;
    uv_idle_t idle;
    tconn *conns;
    tconn *pending;
    uint32_t handles; /* open uv handles (listeners, timers, idle, conns) */
    bool shutting;
    void (*done)(void *);
    void *done_arg;
    uint8_t rbuf[READ_BUF];
    bool rbuf_busy;
};

struct tconn {
    uv_tcp_t tcp;
    uv_shutdown_t sreq;
    kumo_http_server *srv;
    kh_conn *c;
    tconn *prev, *next, *snext;
    bool scheduled, read_stopped, reading, closing, closed, shut, eof;
    kh_buf out;
    size_t inflight;
    uint64_t last_progress, linger_deadline;
    SSL *ssl;
    BIO *rbio, *wbio;
    bool hs_done;
};

typedef struct wreq {
    uv_write_t w;
    tconn *t;
    uint8_t *p;
    size_t len;
} wreq;

static void conn_closed(uv_handle_t *h);
static void server_handle_closed(uv_handle_t *h);
static void on_idle(uv_idle_t *h);

/* ---- the kh_io of a TCP connection */
static void
drain_wbio(tconn *t)
{
    int n;
    while (t->wbio && (n = (int)BIO_pending(t->wbio)) > 0) {
        if (t->out.len + (size_t)n > t->out.cap) {
            size_t cap = t->out.cap ? t->out.cap : 4096;
            while (cap < t->out.len + (size_t)n)
                cap *= 2;
            uint8_t *p = kb_realloc(t->out.p, cap);
            if (!p)
                return;
            t->out.p = p;
            t->out.cap = cap;
        }
        int r = BIO_read(t->wbio, t->out.p + t->out.len, n);
        if (r <= 0)
            return;
        t->out.len += (size_t)r;
    }
}

static void io_schedule(kh_conn *c);

static void
io_send(kh_conn *c, const uint8_t *data, size_t len)
{
    tconn *t = c->io_ud;
    if (t->closed || len == 0)
        return;
    if (t->ssl) {
        if (SSL_write(t->ssl, data, (int)len) <= 0)
            ERR_clear_error();
        drain_wbio(t);
    } else {
        (void)kh_buf_append(&t->out, data, len);
    }
    io_schedule(c);
}

static size_t
io_pending(kh_conn *c)
{
    tconn *t = c->io_ud;
    return t->out.len + t->inflight;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void
update_reading(tconn *t)
{
    bool want = !t->closed && !t->eof && (!t->read_stopped || t->closing);
    if (want && !t->reading)
        t->reading =
            uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_read) == 0;
    else if (!want && t->reading) {
        uv_read_stop((uv_stream_t *)&t->tcp);
        t->reading = false;
    }
}

static void
io_read_stop(kh_conn *c, bool stop)
{
    tconn *t = c->io_ud;
    t->read_stopped = stop;
    update_reading(t);
}

static void
io_schedule(kh_conn *c)
{
    tconn *t = c->io_ud;
    kumo_http_server *srv = t->srv;
    if (t->scheduled || t->closed)
        return;
    t->scheduled = true;
    t->snext = srv->pending;
    srv->pending = t;
    if (!uv_is_active((uv_handle_t *)&srv->idle))
        uv_idle_start(&srv->idle, on_idle);
}

static void
hard_close(tconn *t)
{
    if (t->closed)
        return;
    t->closed = true;
    uv_close((uv_handle_t *)&t->tcp, conn_closed);
}

static void
io_close(kh_conn *c)
{
    tconn *t = c->io_ud;
    if (t->closing)
        return;
    t->closing = true;
    if (t->ssl && t->hs_done) {
        SSL_shutdown(t->ssl);
        drain_wbio(t);
    }
    update_reading(t);
    io_schedule(c);
}

static uint64_t
io_now(kh_conn *c)
{
    tconn *t = c->io_ud;
    return uv_now(t->srv->loop);
}

static const kh_io tcp_io = {io_send,     io_pending, io_read_stop,
                             io_schedule, io_close,   io_now};

/* ---- writing */
static void flush(tconn *t);

static void
on_shutdown(uv_shutdown_t *r, int status)
{
    tconn *t = r->data;
    (void)status;
    if (t->eof)
        hard_close(t);
}

static void
on_write(uv_write_t *w, int status)
{
    wreq *r = (wreq *)w;
    tconn *t = r->t;
    t->inflight -= r->len;
    kb_free(r->p);
    kb_free(r);
    if (t->closed)
        return;
    if (status < 0) {
        hard_close(t);
        return;
    }
    t->last_progress = uv_now(t->srv->loop);
    if (t->inflight + t->out.len < KH_LOW_WATER || t->closing)
        io_schedule(t->c);
}

static void
flush(tconn *t)
{
    if (t->closed)
        return;
    if (t->out.len && t->inflight == 0) {
        /* Nothing queued: write at once. Usually everything goes, which
         * saves the write request, its buffer and libuv's poll update. */
        uv_buf_t b = uv_buf_init((char *)t->out.p, (unsigned)t->out.len);
        int n = uv_try_write((uv_stream_t *)&t->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            hard_close(t);
            return;
        }
        if (n > 0) {
            t->last_progress = uv_now(t->srv->loop);
            t->out.len -= (size_t)n;
            memmove(t->out.p, t->out.p + n, t->out.len);
            if (t->out.len == 0 && !t->closing)
                io_schedule(t->c); /* as on_write: room for more output */
        }
    }
    if (t->out.len) {
        wreq *r = kb_malloc(sizeof *r);
        if (!r) {
            hard_close(t);
            return;
        }
        r->t = t;
        r->p = t->out.p;
        r->len = t->out.len;
        memset(&t->out, 0, sizeof t->out);
        if (t->inflight == 0)
            t->last_progress = uv_now(t->srv->loop);
        t->inflight += r->len;
        uv_buf_t b = uv_buf_init((char *)r->p, (unsigned)r->len);
        if (uv_write(&r->w, (uv_stream_t *)&t->tcp, &b, 1, on_write) != 0) {
            t->inflight -= r->len;
            kb_free(r->p);
            kb_free(r);
            hard_close(t);
            return;
        }
    }
    if (t->closing && !t->shut && t->inflight == 0) {
        /* Lingering close: half-close, then drain what the client still
         * sends so that it reads our last response instead of a reset. */
        t->shut = true;
        t->linger_deadline = uv_now(t->srv->loop) + LINGER_MS;
        t->sreq.data = t;
        if (t->eof ||
            uv_shutdown(&t->sreq, (uv_stream_t *)&t->tcp, on_shutdown) != 0)
            hard_close(t);
    }
}

/* ---- reading */
static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    tconn *t = h->data;
    (void)hint;
    if (t->srv->rbuf_busy) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    t->srv->rbuf_busy = true;
    buf->base = (char *)t->srv->rbuf;
    buf->len = READ_BUF;
}

static int
tls_handshake(tconn *t)
{
    int r = SSL_do_handshake(t->ssl);
    drain_wbio(t);
    if (r == 1) {
        const unsigned char *p;
        unsigned len;
        t->hs_done = true;
        SSL_get0_alpn_selected(t->ssl, &p, &len);
        if (len == 2 && memcmp(p, "h2", 2) == 0)
            return kh_conn_set_proto(t->c, KH_PROTO_H2);
        if (len == 8 && memcmp(p, "http/1.1", 8) == 0)
            return kh_conn_set_proto(t->c, KH_PROTO_H1);
        return 0;
    }
    int e = SSL_get_error(t->ssl, r);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : KUMO_EIO;
}

static void
tls_input(tconn *t, const uint8_t *data, size_t len)
{
    uint8_t plain[16384];
    if (BIO_write(t->rbio, data, (int)len) != (int)len) {
        hard_close(t);
        return;
    }
    if (!t->hs_done && tls_handshake(t) != 0) {
        flush(t);
        hard_close(t);
        return;
    }
    while (t->hs_done && !t->closed && !t->c->closing) {
        int r = SSL_read(t->ssl, plain, sizeof plain);
        if (r <= 0) {
            int e = SSL_get_error(t->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_ZERO_RETURN)
                kh_conn_eof(t->c, 0);
            else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                hard_close(t);
            break;
        }
        kh_conn_feed(t->c, plain, (size_t)r);
    }
    drain_wbio(t);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    tconn *t = s->data;
    if (buf->base == (char *)t->srv->rbuf)
        t->srv->rbuf_busy = false;
    if (n == 0 || n == UV_ENOBUFS || t->closed)
        return;
    if (n < 0) {
        t->eof = true;
        update_reading(t);
        if (n != UV_EOF || t->closing || t->shut) {
            hard_close(t);
            return;
        }
        kh_conn_eof(t->c, 0);
        flush(t);
        return;
    }
    if (t->closing)
        return; /* lingering: discard */
    if (t->ssl)
        tls_input(t, (const uint8_t *)buf->base, (size_t)n);
    else
        kh_conn_feed(t->c, (const uint8_t *)buf->base, (size_t)n);
    flush(t);
}

/* ---- deferred work and timers */
static void
on_idle(uv_idle_t *h)
{
    kumo_http_server *srv = h->data;
    tconn *list = srv->pending;
    srv->pending = NULL;
    while (list) {
        tconn *t = list;
        list = t->snext;
        t->scheduled = false;
        if (t->closed)
            continue;
        kh_conn_run(t->c);
        flush(t);
    }
    if (!srv->pending)
        uv_idle_stop(&srv->idle);
}

static void
on_tick(uv_timer_t *h)
{
    kumo_http_server *srv = h->data;
    uint64_t now = uv_now(srv->loop);
    uint64_t stall = srv->env.cfg.body_timeout_ms;
    for (tconn *t = srv->conns; t; t = t->next) {
        if (t->closed)
            continue;
        if (t->shut) {
            if (now >= t->linger_deadline)
                hard_close(t);
            continue;
        }
        if (t->inflight && now - t->last_progress > stall) {
            hard_close(t); /* the client stopped reading */
            continue;
        }
        kh_conn_tick(t->c, now);
        flush(t);
    }
}

static void
maybe_done(kumo_http_server *srv)
{
    if (!srv->shutting || srv->handles != 0 || !srv->done)
        return;
    void (*done)(void *) = srv->done;
    srv->done = NULL;
    done(srv->done_arg);
}

static void
close_server_handles(kumo_http_server *srv)
{
    uv_close((uv_handle_t *)&srv->tick, server_handle_closed);
    uv_close((uv_handle_t *)&srv->idle, server_handle_closed);
    uv_close((uv_handle_t *)&srv->grace, server_handle_closed);
}

static void
after_close(kumo_http_server *srv)
{
    srv->handles--;
    if (srv->shutting && srv->conns == NULL && srv->handles == 3 &&
        !uv_is_closing((uv_handle_t *)&srv->tick))
        close_server_handles(srv);
    maybe_done(srv);
}

static void
server_handle_closed(uv_handle_t *h)
{
    after_close(h->data);
}

static void
conn_closed(uv_handle_t *h)
{
    tconn *t = h->data;
    kumo_http_server *srv = t->srv;
    if (t->prev)
        t->prev->next = t->next;
    else
        srv->conns = t->next;
    if (t->next)
        t->next->prev = t->prev;
    for (tconn **pp = &srv->pending; *pp; pp = &(*pp)->snext)
        if (*pp == t) {
            *pp = t->snext;
            break;
        }
    kh_conn_free(t->c);
    if (t->ssl)
        SSL_free(t->ssl);
    kh_buf_free(&t->out);
    kb_free(t);
    after_close(srv);
}

/* ---- accepting */
static void
on_connection(uv_stream_t *ls, int status)
{
    listener *l = ls->data;
    kumo_http_server *srv = l->srv;
    if (status < 0 || srv->shutting)
        return;
    tconn *t = kb_calloc(1, sizeof *t);
    if (!t)
        return;
    t->srv = srv;
    uv_tcp_init(srv->loop, &t->tcp);
    t->tcp.data = t;
    srv->handles++;
    t->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = t;
    srv->conns = t;
    if (uv_accept(ls, (uv_stream_t *)&t->tcp) != 0)
        goto fail;
    uv_tcp_nodelay(&t->tcp, 1);
    if (l->tls) {
        t->ssl = SSL_new(srv->ssl);
        t->rbio = BIO_new(BIO_s_mem());
        t->wbio = BIO_new(BIO_s_mem());
        if (!t->ssl || !t->rbio || !t->wbio) {
            BIO_free(t->rbio);
            BIO_free(t->wbio);
            t->rbio = t->wbio = NULL;
            goto fail;
        }
        SSL_set_bio(t->ssl, t->rbio, t->wbio);
        SSL_set_accept_state(t->ssl);
    }
    if (kh_conn_new(&srv->env, &tcp_io, t, l->tls, &t->c) != 0)
        goto fail;
    update_reading(t);
    return;
fail:
    t->closed = true;
    uv_close((uv_handle_t *)&t->tcp, conn_closed);
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char protos[] = "\x02h2\x08http/1.1";
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, protos,
                              sizeof protos - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

static int
tls_init(kumo_http_server *srv, const kumo_http_config *cfg)
{
    if (!cfg->tls_cert_file || !cfg->tls_key_file) {
        fprintf(stderr, "http: TLS listeners need a certificate and key\n");
        return KUMO_EINVAL;
    }
    srv->ssl = SSL_CTX_new(TLS_server_method());
    if (!srv->ssl)
        return KUMO_ENOMEM;
    SSL_CTX_set_min_proto_version(srv->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(srv->ssl,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_alpn_select_cb(srv->ssl, alpn_select, NULL);
    if (SSL_CTX_use_certificate_chain_file(srv->ssl, cfg->tls_cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(srv->ssl, cfg->tls_key_file,
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(srv->ssl) != 1) {
        fprintf(stderr, "http: cannot load %s / %s\n", cfg->tls_cert_file,
                cfg->tls_key_file);
        ERR_clear_error();
        return KUMO_EIO;
    }
    return 0;
}

static int
parse_addr(const char *s, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon)
        return KUMO_EINVAL;
    size_t hl = (size_t)(colon - s);
    int port = atoi(colon + 1);
    if (hl >= sizeof host || port < 0 || port > 65535)
        return KUMO_EINVAL;
    memcpy(host, s, hl);
    host[hl] = 0;
    if (hl == 0)
        strcpy(host, "127.0.0.1");
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']')
            return KUMO_EINVAL;
        host[n - 1] = 0;
        return uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)ss) == 0
                   ? 0
                   : KUMO_EINVAL;
    }
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ? 0
                                                                  : KUMO_EINVAL;
}

static int
listen_on(kumo_http_server *srv, const char *addr, bool tls)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (parse_addr(addr, &ss) != 0) {
        fprintf(stderr, "http: bad listen address '%s'\n", addr);
        return KUMO_EINVAL;
    }
    listener *l = &srv->ls[srv->nls];
    l->srv = srv;
    l->tls = tls;
    uv_tcp_init(srv->loop, &l->tcp);
    l->tcp.data = l;
    srv->nls++;
    srv->handles++;
    int r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    if (r != 0) {
        fprintf(stderr, "http: cannot listen on %s: %s\n", addr,
                uv_strerror(r));
        return KUMO_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen);
    l->port = ntohs(bound.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)&bound)->sin6_port
                        : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

static void
listener_closed(uv_handle_t *h)
{
    listener *l = h->data;
    after_close(l->srv);
}

int
kumo_http_server_new(uv_loop_t *loop, const kumo_http_config *cfg,
                     const kumo_http_handler *handler, kumo_http_server **out)
{
    static const char *const def[] = {"127.0.0.1:8000"};
    kumo_http_config zero;
    memset(&zero, 0, sizeof zero);
    if (!cfg)
        cfg = &zero;
    if (!handler || !handler->on_request || !handler->on_close)
        return KUMO_EINVAL;
    kumo_http_server *srv = kb_calloc(1, sizeof *srv);
    if (!srv)
        return KUMO_ENOMEM;
    /* A peer that resets while we write must not kill the process. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    srv->loop = loop;
    kh_env_init(&srv->env, cfg, handler);
    const char *const *plain = cfg->listen ? cfg->listen : def;
    size_t nplain = cfg->listen ? cfg->nlisten : (cfg->nlisten_tls ? 0 : 1);
    srv->ls = kb_calloc(nplain + cfg->nlisten_tls + 1, sizeof *srv->ls);
    uv_timer_init(loop, &srv->tick);
    uv_timer_init(loop, &srv->grace);
    uv_idle_init(loop, &srv->idle);
    srv->tick.data = srv->grace.data = srv->idle.data = srv;
    srv->handles = 3;
    int rc = srv->ls ? 0 : KUMO_ENOMEM;
    if (rc == 0 && cfg->nlisten_tls)
        rc = tls_init(srv, cfg);
    for (size_t i = 0; i < nplain && rc == 0; i++)
        rc = listen_on(srv, plain[i], false);
    for (size_t i = 0; i < cfg->nlisten_tls && rc == 0; i++)
        rc = listen_on(srv, cfg->listen_tls[i], true);
    if (rc != 0) {
        /* Tear down synchronously: run the loop until the handles close. */
        kumo_http_server_shutdown(srv, 0, NULL, NULL);
        while (srv->handles)
            uv_run(loop, UV_RUN_ONCE);
        kumo_http_server_free(srv);
        return rc;
    }
    uv_timer_start(&srv->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&srv->tick);
    *out = srv;
    return 0;
}

int
kumo_http_server_port(const kumo_http_server *srv, size_t i)
{
    return i < srv->nls ? srv->ls[i].port : -1;
}

void
kumo_http_server_stats(const kumo_http_server *srv, kumo_http_stats *out)
{
    *out = srv->env.stats;
}

static void
on_grace(uv_timer_t *h)
{
    kumo_http_server *srv = h->data;
    for (tconn *t = srv->conns; t; t = t->next)
        hard_close(t);
}

void
kumo_http_server_shutdown(kumo_http_server *srv, uint32_t grace_ms,
                          void (*done)(void *arg), void *arg)
{
    if (srv->shutting)
        return;
    srv->shutting = true;
    srv->env.draining = true;
    srv->done = done;
    srv->done_arg = arg;
    for (size_t i = 0; i < srv->nls; i++)
        uv_close((uv_handle_t *)&srv->ls[i].tcp, listener_closed);
    for (tconn *t = srv->conns; t; t = t->next) {
        if (t->closed)
            continue;
        kh_conn_drain(t->c);
        io_schedule(t->c);
    }
    uv_ref((uv_handle_t *)&srv->tick);
    uv_timer_start(&srv->grace, on_grace, grace_ms, 0);
    if (srv->conns == NULL && srv->nls == 0)
        close_server_handles(srv);
}

void
kumo_http_server_free(kumo_http_server *srv)
{
    if (!srv)
        return;
    if (srv->ssl)
        SSL_CTX_free(srv->ssl);
    kb_free(srv->ls);
    kb_free(srv);
}
