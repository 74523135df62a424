/* test_http_conn.c - the HTTP connection state machine without sockets:
 * bytes in, bytes and handler callbacks out (src/http/conn.c, h1.c, h2.c). */
#include <stdio.h>
#include <string.h>

#include "../../src/http/http.h"
#include "unit.h"

/* ---- a capturing transport */
static struct {
    kh_buf out;
    bool scheduled, closed, read_stopped;
    uint64_t now;
} t;

static void
t_send(kh_conn *c, const uint8_t *d, size_t n)
{
    (void)c;
    kh_buf_append(&t.out, d, n);
}

static size_t
t_pending(kh_conn *c)
{
    (void)c;
    return 0;
}

static void
t_read_stop(kh_conn *c, bool stop)
{
    (void)c;
    t.read_stopped = stop;
}

static void
t_schedule(kh_conn *c)
{
    (void)c;
    t.scheduled = true;
}

static void
t_close(kh_conn *c)
{
    (void)c;
    t.closed = true;
}

static uint64_t
t_now(kh_conn *c)
{
    (void)c;
    return t.now;
}

static const kh_io t_io = {t_send,     t_pending, t_read_stop,
                           t_schedule, t_close,   t_now};

/* ---- a recording handler: /hello answers at once, /echo echoes the body
 * (pausing after the first chunk when pause_first), others answer at body
 * end with "n=<body bytes> t=<trailers>". */
static struct {
    int requests, closes, bodies;
    char method[16], path[64], host[32];
    kh_buf body;
    bool pause_first;
    kumo_http_request *last;
} hs;

static void
h_request(void *ud, kumo_http_request *req)
{
    (void)ud;
    hs.requests++;
    hs.last = req;
    snprintf(hs.method, sizeof hs.method, "%s", kumo_http_request_method(req));
    snprintf(hs.path, sizeof hs.path, "%s", kumo_http_request_path(req));
    snprintf(hs.host, sizeof hs.host, "%s", kumo_http_request_authority(req));
    if (!strcmp(hs.path, "/hello"))
        kumo_http_respond(req, 200, NULL, 0, (const uint8_t *)"Hello", 5);
    else if (!strcmp(hs.path, "/echo"))
        kumo_http_response_start(req, 200, NULL, 0);
}

static void
h_body(void *ud, kumo_http_request *req, const uint8_t *d, size_t n)
{
    (void)ud;
    hs.bodies++;
    kh_buf_append(&hs.body, d, n);
    if (!strcmp(kumo_http_request_path(req), "/echo"))
        kumo_http_response_write(req, d, n);
    if (hs.pause_first && hs.bodies == 1)
        kumo_http_request_pause(req, true);
}

static void
h_body_end(void *ud, kumo_http_request *req)
{
    size_t nt;
    const kumo_http_field *tr = kumo_http_request_trailers(req, &nt);
    char b[128];
    (void)ud;
    if (!strcmp(kumo_http_request_path(req), "/echo")) {
        kumo_http_response_finish(req, tr, nt);
        return;
    }
    if (!strcmp(kumo_http_request_path(req), "/hello"))
        return;
    snprintf(b, sizeof b, "n=%zu t=%.*s", hs.body.len,
             nt ? (int)tr[0].value_len : 0,
             nt ? (const char *)tr[0].value : "");
    kumo_http_respond(req, 200, NULL, 0, (const uint8_t *)b, strlen(b));
}

static void
h_close(void *ud, kumo_http_request *req, int error)
{
    (void)ud;
    (void)req;
    (void)error;
    hs.closes++;
}

static kh_env env;
static kh_conn *conn;

static void
setup(const kumo_http_config *cfg)
{
    static const kumo_http_handler h = {NULL, h_request, h_body, h_body_end,
                                        NULL, NULL,      h_close};
    kh_buf_free(&t.out);
    kh_buf_free(&hs.body);
    memset(&t, 0, sizeof t);
    memset(&hs, 0, sizeof hs);
    kh_env_init(&env, cfg, &h);
    conn = NULL;
    kh_conn_new(&env, &t_io, NULL, false, &conn);
}

static void
run(void)
{
    for (int i = 0; i < 10 && t.scheduled; i++) {
        t.scheduled = false;
        kh_conn_run(conn);
    }
}

static void
feed(const char *s)
{
    kh_conn_feed(conn, (const uint8_t *)s, strlen(s));
    run();
}

static int
count(const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= t.out.len; i++)
        if (memcmp(t.out.p + i, needle, nl) == 0)
            n++;
    return n;
}

static void
teardown(void)
{
    kh_conn_free(conn);
    kh_buf_free(&t.out);
    kh_buf_free(&hs.body);
}

KT_TEST(http_h1_get)
{
    setup(NULL);
    KT_REQUIRE(conn != NULL);
    feed("GET /hello HTTP/1.1\r\nHost: ex");
    KT_CHECK(hs.requests == 0);
    feed("ample\r\n\r\n");
    KT_CHECK(hs.requests == 1 && !strcmp(hs.host, "example"));
    teardown();

    setup(NULL);
    feed("GET /hello HTTP/1.1\r\nHost: example\r\n\r\n");
    KT_CHECK(hs.requests == 1 && hs.closes == 1);
    KT_CHECK(!strcmp(hs.method, "GET") && !strcmp(hs.host, "example"));
    KT_CHECK(count("HTTP/1.1 200 OK\r\n") == 1);
    KT_CHECK(count("transfer-encoding: chunked\r\n") == 1);
    KT_CHECK(count("5\r\nHello\r\n0\r\n\r\n") == 1);
    KT_CHECK(!t.closed);
    teardown();
}

KT_TEST(http_h1_pipelining_in_order)
{
    setup(NULL);
    feed("POST /sum HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
         "GET /hello HTTP/1.1\r\n\r\n"
         "GET /hello HTTP/1.0\r\n\r\n");
    KT_CHECK(hs.requests == 3 && hs.closes == 3);
    const char *o = (const char *)t.out.p;
    const char *a = strstr(o, "n=3 t=");
    const char *b = strstr(o, "Hello");
    KT_CHECK(a && b && a < b);
    KT_CHECK(count("HTTP/1.1 200 OK") == 3);
    KT_CHECK(t.closed); /* HTTP/1.0 without keep-alive */
    teardown();
}

KT_TEST(http_h1_chunked_trailers)
{
    setup(NULL);
    feed("POST /sum HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         "4\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Check: ok\r\n\r\n");
    KT_CHECK(hs.body.len == 9 && memcmp(hs.body.p, "wikipedia", 9) == 0);
    KT_CHECK(count("n=9 t=ok") == 1);
    teardown();
}

KT_TEST(http_h1_echo_trailers_out)
{
    setup(NULL);
    feed("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\nX-T: 7\r\n\r\n");
    KT_CHECK(count("3\r\nabc\r\n0\r\nx-t: 7\r\n\r\n") == 1);
    teardown();
}

KT_TEST(http_h1_pause_holds_input)
{
    setup(NULL);
    hs.pause_first = true;
    feed("POST /sum HTTP/1.1\r\nContent-Length: 6\r\n\r\nab");
    /* a little input is held while reading goes on (no poll churn) */
    KT_CHECK(hs.bodies == 1 && !t.read_stopped);
    feed("cdef");
    KT_CHECK(hs.bodies == 1 && hs.requests == 1 && !t.read_stopped);
    kumo_http_request_pause(hs.last, false);
    run();
    KT_CHECK(hs.bodies == 2 && hs.body.len == 6 && !t.read_stopped);
    KT_CHECK(count("n=6") == 1);
    teardown();
}

/* Beyond KH_HOLD_SOFT bytes held, the transport stops reading until the
 * handler takes them. */
KT_TEST(http_h1_pause_stops_reading)
{
    size_t big = 3 * KH_HOLD_SOFT;
    char head[96];
    snprintf(head, sizeof head,
             "POST /sum HTTP/1.1\r\nContent-Length: %zu\r\n\r\nab", big);
    char *rest = malloc(big - 2);
    KT_REQUIRE(rest);
    memset(rest, 'x', big - 2);
    setup(NULL);
    hs.pause_first = true;
    feed(head);
    KT_CHECK(hs.bodies == 1 && !t.read_stopped);
    kh_conn_feed(conn, (const uint8_t *)rest, KH_HOLD_SOFT / 2);
    KT_CHECK(!t.read_stopped);
    kh_conn_feed(conn, (const uint8_t *)rest + KH_HOLD_SOFT / 2,
                 big - 2 - KH_HOLD_SOFT / 2);
    KT_CHECK(t.read_stopped && hs.bodies == 1);
    kumo_http_request_pause(hs.last, false);
    run();
    KT_CHECK(hs.body.len == big && !t.read_stopped);
    char want[32];
    snprintf(want, sizeof want, "n=%zu", big);
    KT_CHECK(count(want) == 1);
    free(rest);
    teardown();
}

KT_TEST(http_h1_limits)
{
    kumo_http_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_header_count = 2;
    cfg.max_body_bytes = 4;
    setup(&cfg);
    feed("GET /hello HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    KT_CHECK(hs.requests == 0 && count("HTTP/1.1 431 ") == 1);
    KT_CHECK(!t.closed); /* no body: the connection survives */
    feed("POST /sum HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
    KT_CHECK(hs.requests == 0 && count("HTTP/1.1 413 ") == 1 && t.closed);
    teardown();

    setup(NULL);
    feed("BAD\r\n\r\n");
    KT_CHECK(count("HTTP/1.1 400 ") == 1 && t.closed);
    teardown();
}

KT_TEST(http_h1_timeouts)
{
    kumo_http_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.header_timeout_ms = 100;
    cfg.idle_timeout_ms = 300;
    setup(&cfg);
    feed("GET /hello HTTP/1.1\r\n");
    kh_conn_tick(conn, 150);
    run();
    KT_CHECK(count("HTTP/1.1 408 ") == 1 && t.closed);
    teardown();

    setup(&cfg);
    feed("GET /hello HTTP/1.1\r\n\r\n");
    kh_conn_tick(conn, 200);
    KT_CHECK(!t.closed);
    kh_conn_tick(conn, 400);
    KT_CHECK(t.closed);
    teardown();
}

KT_TEST(http_h1_continue)
{
    setup(NULL);
    feed("PUT /sum HTTP/1.1\r\nExpect: 100-continue\r\n"
         "Content-Length: 2\r\n\r\n");
    KT_CHECK(count("HTTP/1.1 100 Continue\r\n\r\n") == 1);
    feed("hi");
    KT_CHECK(count("n=2") == 1);
    teardown();
}

static void
frame(kh_buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
      size_t n)
{
    uint8_t h[9] = {(uint8_t)(n >> 16),
                    (uint8_t)(n >> 8),
                    (uint8_t)n,
                    type,
                    flags,
                    (uint8_t)(sid >> 24),
                    (uint8_t)(sid >> 16),
                    (uint8_t)(sid >> 8),
                    (uint8_t)sid};
    kh_buf_append(b, h, 9);
    kh_buf_append(b, p, n);
}

KT_TEST(http_h2_prior_knowledge)
{
    /* GET (static 2) http (6) :path literal "/hello", :authority "a". */
    static const uint8_t get[] = {0x82, 0x86, 0x44, 6,    '/', 'h', 'e',
                                  'l',  'l',  'o',  0x41, 1,   'a'};
    static const uint8_t post[] = {0x83, 0x86, 0x44, 4, '/', 's',
                                   'u',  'm',  0x41, 1, 'b'};
    kh_buf in = {0};
    setup(NULL);
    kh_buf_append(&in, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    frame(&in, 4, 0, 0, NULL, 0);
    frame(&in, 1, 5, 1, get, sizeof get);
    frame(&in, 1, 4, 3, post, sizeof post);
    frame(&in, 0, 0, 3, "xyz", 3);
    frame(&in, 0, 1, 3, "w", 1);
    /* split the input at every 7th byte: the sniffer must cope */
    for (size_t i = 0; i < in.len; i += 7)
        kh_conn_feed(conn, in.p + i, in.len - i < 7 ? in.len - i : 7);
    run();
    KT_CHECK(conn->proto == KH_PROTO_H2);
    KT_CHECK(hs.requests == 2 && hs.closes == 2);
    KT_CHECK(!strcmp(hs.host, "b") && !strcmp(hs.path, "/sum"));
    KT_CHECK(count("Hello") == 1 && count("n=4 t=") == 1);
    kh_buf_free(&in);
    teardown();
}

static void
h_request_pause(void *ud, kumo_http_request *req)
{
    (void)ud;
    hs.requests++;
    hs.last = req;
    kumo_http_request_pause(req, true);
}

KT_TEST(http_h1_pause_before_body)
{
    static const kumo_http_handler h = {
        NULL, h_request_pause, h_body, h_body_end, NULL, NULL, h_close};
    setup(NULL);
    env.h = h;
    feed("POST /sum HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
    KT_CHECK(hs.requests == 1 && hs.bodies == 0 && !t.read_stopped);
    kumo_http_request_pause(hs.last, false);
    run();
    KT_CHECK(hs.bodies == 1 && hs.body.len == 4 && count("n=4") == 1);
    teardown();
}

KT_TEST(http_h2_pause_and_trailers)
{
    static const uint8_t post[] = {0x83, 0x86, 0x44, 4, '/', 's',
                                   'u',  'm',  0x41, 1, 'b'};
    static const uint8_t trailer[] = {0x40, 3, 'x', '-', 't', 2, 'o', 'k'};
    kh_buf in = {0};
    setup(NULL);
    hs.pause_first = true;
    kh_buf_append(&in, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    frame(&in, 4, 0, 0, NULL, 0);
    frame(&in, 1, 4, 1, post, sizeof post);
    frame(&in, 0, 0, 1, "abc", 3);
    frame(&in, 0, 0, 1, "defg", 4);
    frame(&in, 1, 5, 1, trailer, sizeof trailer);
    kh_conn_feed(conn, in.p, in.len);
    run();
    KT_CHECK(hs.requests == 1 && hs.bodies == 1 && count("n=") == 0);
    kumo_http_request_pause(hs.last, false);
    run();
    KT_CHECK(hs.bodies == 2 && hs.body.len == 7);
    KT_CHECK(count("n=7 t=ok") == 1 && hs.closes == 1);
    kh_buf_free(&in);
    teardown();
}
