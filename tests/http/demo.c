/* demo.c - the test server of tests/http/run-tests.sh: libkumo's HTTP
 * server with a few handlers. /hello, /echo (streams the body back with
 * backpressure, request trailers become response trailers), /trailers,
 * /grpc (unary echo with grpc-status), /slow?ms=N, /reqtrailers, /stats.
 * Prints "PORTS <plain> <tls>" once listening; SIGTERM drains and exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kumo/http.h"

typedef struct state {
    kumo_http_request *req;
    int kind;
    uv_timer_t timer;
    bool timer_on;
    uint8_t *buf;
    size_t len, cap;
} state;

enum { K_NONE, K_ECHO, K_GRPC, K_SLOW, K_REQTRAILERS };

static kumo_http_server *server;
static uv_signal_t sigterm;
static uint32_t grace_ms = 10000;

#define F(n, v)                                                                \
    {                                                                          \
        (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v),             \
            sizeof(v) - 1                                                      \
    }

static void
text(kumo_http_request *req, int status, const char *body)
{
    char len[24];
    snprintf(len, sizeof len, "%zu", strlen(body));
    kumo_http_field f[2] = {F("content-type", "text/plain"),
                            {(const uint8_t *)"content-length", 14,
                             (const uint8_t *)len, strlen(len)}};
    kumo_http_respond(req, status, f, 2, (const uint8_t *)body, strlen(body));
}

static void
on_slow(uv_timer_t *t)
{
    state *st = t->data;
    st->timer_on = false;
    if (st->req)
        text(st->req, 200, "slow done\n");
}

static bool
path_is(const char *path, const char *p)
{
    size_t n = strlen(p);
    return strncmp(path, p, n) == 0 && (path[n] == 0 || path[n] == '?');
}

static void
on_request(void *ud, kumo_http_request *req)
{
    uv_loop_t *loop = ud;
    const char *path = kumo_http_request_path(req);
    state *st = calloc(1, sizeof *st);
    if (!st) {
        kumo_http_response_abort(req);
        return;
    }
    st->req = req;
    kumo_http_request_set_data(req, st);
    if (path_is(path, "/hello")) {
        text(req, 200, "Hello");
    } else if (path_is(path, "/echo")) {
        st->kind = K_ECHO;
        kumo_http_field f[1] = {F("content-type", "application/octet-stream")};
        kumo_http_response_start(req, 200, f, 1);
    } else if (path_is(path, "/trailers")) {
        kumo_http_field t[2] = {F("x-checksum", "abc123"), F("x-done", "yes")};
        kumo_http_response_start(req, 200, NULL, 0);
        kumo_http_response_write(req, (const uint8_t *)"body\n", 5);
        kumo_http_response_finish(req, t, 2);
    } else if (path_is(path, "/grpc")) {
        st->kind = K_GRPC;
    } else if (path_is(path, "/reqtrailers")) {
        st->kind = K_REQTRAILERS;
    } else if (path_is(path, "/slow")) {
        const char *q = strstr(path, "ms=");
        st->kind = K_SLOW;
        uv_timer_init(loop, &st->timer);
        st->timer.data = st;
        st->timer_on = true;
        uv_timer_start(&st->timer, on_slow,
                       q ? strtoull(q + 3, NULL, 10) : 1000, 0);
    } else if (path_is(path, "/stats")) {
        kumo_http_stats s;
        char b[160];
        kumo_http_server_stats(server, &s);
        snprintf(b, sizeof b, "connections %llu requests %llu rejected %llu\n",
                 (unsigned long long)s.connections,
                 (unsigned long long)s.requests,
                 (unsigned long long)s.rejected);
        text(req, 200, b);
    } else {
        text(req, 404, "not found\n");
    }
}

static void
on_body(void *ud, kumo_http_request *req, const uint8_t *data, size_t len)
{
    state *st = kumo_http_request_data(req);
    (void)ud;
    if (st->kind == K_ECHO) {
        if (kumo_http_response_write(req, data, len) == KUMO_HTTP_BLOCKED)
            kumo_http_request_pause(req, true);
    } else if (st->kind == K_GRPC && st->len + len <= (1u << 20)) {
        if (st->len + len > st->cap) {
            size_t cap = (st->len + len) * 2;
            uint8_t *p = realloc(st->buf, cap);
            if (!p)
                return;
            st->buf = p;
            st->cap = cap;
        }
        memcpy(st->buf + st->len, data, len);
        st->len += len;
    }
}

static void
on_writable(void *ud, kumo_http_request *req)
{
    (void)ud;
    kumo_http_request_pause(req, false);
}

static void
on_body_end(void *ud, kumo_http_request *req)
{
    state *st = kumo_http_request_data(req);
    size_t nt;
    const kumo_http_field *t = kumo_http_request_trailers(req, &nt);
    (void)ud;
    if (st->kind == K_ECHO) {
        kumo_http_response_finish(req, t, nt);
    } else if (st->kind == K_GRPC) {
        kumo_http_field h[1] = {F("content-type", "application/grpc")};
        kumo_http_field tr[2] = {F("grpc-status", "0"),
                                 F("grpc-message", "OK")};
        kumo_http_response_start(req, 200, h, 1);
        kumo_http_response_write(req, st->buf, st->len);
        kumo_http_response_finish(req, tr, 2);
    } else if (st->kind == K_REQTRAILERS) {
        char b[512];
        size_t o = 0;
        for (size_t i = 0; i < nt && o < sizeof b - 100; i++)
            o += (size_t)snprintf(b + o, sizeof b - o, "%.*s=%.*s\n",
                                  (int)t[i].name_len, t[i].name,
                                  (int)t[i].value_len, t[i].value);
        b[o] = 0;
        text(req, 200, b);
    }
}

static void
free_state(uv_handle_t *h)
{
    state *st = h->data;
    free(st->buf);
    free(st);
}

static void
on_close(void *ud, kumo_http_request *req, int error)
{
    state *st = kumo_http_request_data(req);
    (void)ud;
    (void)error;
    if (!st)
        return;
    st->req = NULL;
    if (st->kind == K_SLOW) {
        uv_close((uv_handle_t *)&st->timer, free_state);
        return;
    }
    free(st->buf);
    free(st);
}

static void
on_done(void *arg)
{
    (void)arg;
    fprintf(stderr, "demo: shutdown complete\n");
    uv_close((uv_handle_t *)&sigterm, NULL);
}

static void
on_sigterm(uv_signal_t *s, int sig)
{
    (void)sig;
    uv_signal_stop(s);
    fprintf(stderr, "demo: SIGTERM, draining\n");
    kumo_http_server_shutdown(server, grace_ms, on_done, NULL);
}

int
main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    kumo_http_config cfg;
    const char *plain[] = {"127.0.0.1:0"}, *tls[] = {"127.0.0.1:0"};
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = plain;
    cfg.nlisten = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        unsigned long long n = strtoull(v, NULL, 10);
        if (!strcmp(k, "--cert"))
            cfg.tls_cert_file = v;
        else if (!strcmp(k, "--key"))
            cfg.tls_key_file = v;
        else if (!strcmp(k, "--max-body"))
            cfg.max_body_bytes = n;
        else if (!strcmp(k, "--max-concurrent"))
            cfg.max_concurrent = (uint32_t)n;
        else if (!strcmp(k, "--max-header-bytes"))
            cfg.max_header_bytes = n;
        else if (!strcmp(k, "--max-header-count"))
            cfg.max_header_count = (uint32_t)n;
        else if (!strcmp(k, "--header-timeout"))
            cfg.header_timeout_ms = (uint32_t)n;
        else if (!strcmp(k, "--body-timeout"))
            cfg.body_timeout_ms = (uint32_t)n;
        else if (!strcmp(k, "--idle-timeout"))
            cfg.idle_timeout_ms = (uint32_t)n;
        else if (!strcmp(k, "--deadline"))
            cfg.request_timeout_ms = (uint32_t)n;
        else if (!strcmp(k, "--grace"))
            grace_ms = (uint32_t)n;
        else if (!strcmp(k, "--access-log"))
            cfg.access_log = fopen(v, "a");
        else if (!strcmp(k, "--listen"))
            plain[0] = v;
        else {
            fprintf(stderr, "demo: unknown option %s\n", k);
            return 2;
        }
    }
    if (cfg.tls_cert_file) {
        cfg.listen_tls = tls;
        cfg.nlisten_tls = 1;
    }
    kumo_http_handler h = {loop,        on_request, on_body, on_body_end,
                           on_writable, NULL,       on_close};
    signal(SIGPIPE, SIG_IGN);
    if (kumo_http_server_new(loop, &cfg, &h, &server) != 0)
        return 1;
    printf("PORTS %d %d\n", kumo_http_server_port(server, 0),
           kumo_http_server_port(server, 1));
    fflush(stdout);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_sigterm, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    kumo_http_server_free(server);
    uv_loop_close(loop);
    if (cfg.access_log)
        fclose(cfg.access_log);
    return 0;
}
