/* client-test.c - the outbound client (src/http/client.c) against real
 * servers on 127.0.0.1: the demo server of tests/http (plain and TLS ports
 * given on the command line, its CA file) and small raw servers made here
 * (silent, stalling mid-body, truncating, a full accept queue). Checks
 * results by content, never by timing. Usage:
 *   client-test PLAIN_PORT TLS_PORT CA_FILE
 * Prints "ok"/"FAIL" lines and "client: N passed, N failed". */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kumo/http.h"

static uv_loop_t *loop;
static kumo_http_client *client;
static int plain_port, tls_port;
static const char *ca_file;
static int passed, failed;

static void
check(const char *name, bool ok, const char *detail)
{
    if (ok) {
        passed++;
        printf("ok   %s\n", name);
    } else {
        failed++;
        printf("FAIL %s%s%s\n", name, detail ? ": " : "", detail ? detail : "");
    }
    fflush(stdout);
}

static long
rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- one exchange */

typedef struct ex {
    kumo_http_call *call;
    bool done, got_response;
    int status, error, ndone;
    kumo_http_version version;
    char body[8192];
    size_t body_len;
    uint64_t total;
    char hdrs[4096], trailers[1024];
    char msg[256];
    /* upload: up_total bytes of pattern (streamed), then trailers */
    bool upload;
    uint64_t up_total, up_sent;
    const kumo_http_field *up_trailers;
    size_t n_up_trailers;
    int write_err;
    /* download verification against the pattern */
    bool verify;
    uint64_t bad_at;
    /* receiver pauses */
    uint64_t pause_every, next_pause;
    uv_timer_t pause_timer;
    bool pause_timer_on;
    int pauses;
    long rss_base, rss_peak;
    /* free the call from inside on_body after this many bytes */
    uint64_t free_after;
    bool freed;
    int after_free; /* callbacks seen after the free: must stay 0 */
} ex;

static uint8_t
pattern(uint64_t i)
{
    return (uint8_t)(i * 7 + (i >> 13));
}

static void
append(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    size_t len = strlen(dst);
    if (len + n >= cap)
        n = cap - len - 1;
    memcpy(dst + len, p, n);
    dst[len + n] = 0;
}

static void
fields_text(char *dst, size_t cap, const kumo_http_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        append(dst, cap, f[i].name, f[i].name_len);
        append(dst, cap, (const uint8_t *)": ", 2);
        append(dst, cap, f[i].value, f[i].value_len);
        append(dst, cap, (const uint8_t *)"\n", 1);
    }
}

static void
pump_upload(ex *e)
{
    uint8_t buf[65536];
    while (e->up_sent < e->up_total) {
        size_t n = sizeof buf;
        if (e->up_total - e->up_sent < n)
            n = (size_t)(e->up_total - e->up_sent);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(e->up_sent + i);
        int rc = kumo_http_call_write(e->call, buf, n);
        if (rc < 0) {
            e->write_err = rc;
            return;
        }
        e->up_sent += n;
        if (rc == KUMO_HTTP_BLOCKED)
            return;
    }
    int rc = kumo_http_call_finish(e->call, e->up_trailers, e->n_up_trailers);
    if (rc < 0)
        e->write_err = rc;
}

static void
on_response(void *ud, kumo_http_call *call, int status,
            const kumo_http_field *f, size_t n)
{
    ex *e = ud;
    if (e->freed)
        e->after_free++;
    e->got_response = true;
    e->status = status;
    e->version = kumo_http_call_version(call);
    fields_text(e->hdrs, sizeof e->hdrs, f, n);
}

static void
on_unpause(uv_timer_t *t)
{
    ex *e = t->data;
    kumo_http_call_pause(e->call, false);
}

static void
on_body(void *ud, kumo_http_call *call, const uint8_t *data, size_t len)
{
    ex *e = ud;
    if (e->freed) {
        e->after_free++;
        return;
    }
    if (e->verify) {
        for (size_t i = 0; i < len && !e->bad_at; i++)
            if (data[i] != pattern(e->total + i))
                e->bad_at = e->total + i + 1;
    } else if (e->body_len + len < sizeof e->body) {
        memcpy(e->body + e->body_len, data, len);
        e->body_len += len;
        e->body[e->body_len] = 0;
    }
    e->total += len;
    if (e->rss_base && (e->total & 0xfffff) < len) {
        long r = rss_kb();
        if (r > e->rss_peak)
            e->rss_peak = r;
    }
    if (e->pause_every && e->total >= e->next_pause) {
        e->next_pause += e->pause_every;
        e->pauses++;
        kumo_http_call_pause(call, true);
        uv_timer_start(&e->pause_timer, on_unpause, 20, 0);
    }
    if (e->free_after && e->total >= e->free_after) {
        e->freed = true;
        kumo_http_call_free(call);
        e->call = NULL;
        e->done = true;
    }
}

static void
on_writable(void *ud, kumo_http_call *call)
{
    ex *e = ud;
    (void)call;
    if (e->freed) {
        e->after_free++;
        return;
    }
    pump_upload(e);
}

static void
on_done(void *ud, kumo_http_call *call, int error, const kumo_http_field *t,
        size_t n)
{
    ex *e = ud;
    if (e->freed) {
        e->after_free++;
        return;
    }
    e->ndone++;
    e->done = true;
    e->error = error;
    snprintf(e->msg, sizeof e->msg, "%s (%s)", kumo_http_call_error_name(error),
             kumo_http_call_error_message(call));
    fields_text(e->trailers, sizeof e->trailers, t, n);
}

static const kumo_http_call_handler handler_proto = {NULL, on_response, on_body,
                                                     on_writable, on_done};

static void
ex_init(ex *e)
{
    memset(e, 0, sizeof *e);
    uv_timer_init(loop, &e->pause_timer);
    e->pause_timer.data = e;
    e->pause_timer_on = true;
}

static void
ex_fini(ex *e)
{
    kumo_http_call_free(e->call);
    e->call = NULL;
    if (e->pause_timer_on) {
        uv_close((uv_handle_t *)&e->pause_timer, NULL);
        e->pause_timer_on = false;
        uv_run(loop, UV_RUN_NOWAIT);
    }
}

static bool guard_fired;
static void
on_guard(uv_timer_t *t)
{
    (void)t;
    guard_fired = true;
}

/* Run the loop until every exchange is done (or 60 s pass). */
static void
wait_all(ex **es, size_t n)
{
    uv_timer_t guard;
    guard_fired = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, 60000, 0);
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all &= es[i]->done;
        if (all || guard_fired)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static int
start(ex *e, const kumo_http_call_opts *o)
{
    kumo_http_call_handler h = handler_proto;
    h.ud = e;
    int rc = kumo_http_call_start(client, o, &h, &e->call);
    if (rc == 0 && e->upload)
        pump_upload(e);
    return rc;
}

/* Start one exchange and wait for it. */
static int
run(ex *e, const kumo_http_call_opts *o)
{
    int rc = start(e, o);
    if (rc == 0)
        wait_all(&e, 1);
    return rc;
}

static char authority[64], tls_authority[64];

static kumo_http_call_opts
get(const char *path)
{
    kumo_http_call_opts o;
    memset(&o, 0, sizeof o);
    o.method = "GET";
    o.scheme = "http";
    o.authority = authority;
    o.path = path;
    return o;
}

#define F(n, v)                                                                \
    {                                                                          \
        (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v),             \
            sizeof(v) - 1                                                      \
    }

static void
expect_error(const char *name, ex *e, int want)
{
    char d[400];
    snprintf(d, sizeof d, "got %s, want %s", e->msg,
             kumo_http_call_error_name(want));
    check(name, e->done && e->error == want && e->ndone == 1, d);
}

static unsigned long
server_connections(void)
{
    ex e;
    unsigned long n = 0;
    kumo_http_call_opts o = get("/stats");
    ex_init(&e);
    if (run(&e, &o) == 0)
        sscanf(e.body, "connections %lu", &n);
    ex_fini(&e);
    return n;
}

/* ---- raw servers: silent, stalling mid-body, truncating */

enum { RAW_SILENT, RAW_STALL, RAW_TRUNC };

typedef struct raw_server {
    uv_tcp_t tcp;
    int mode, port;
    uv_tcp_t *conns[8];
    int nconns;
} raw_server;

static void
raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[65536];
    (void)h, (void)size;
    *buf = uv_buf_init(b, sizeof b);
}

static void
raw_closed(uv_handle_t *h)
{
    free(h);
}

static void
raw_written(uv_write_t *w, int status)
{
    uv_tcp_t *t = w->data;
    raw_server *rs = t->data;
    (void)status;
    if (rs->mode == RAW_TRUNC && !uv_is_closing((uv_handle_t *)t)) {
        for (int i = 0; i < rs->nconns; i++)
            if (rs->conns[i] == t)
                rs->conns[i] = NULL;
        uv_close((uv_handle_t *)t, raw_closed);
    }
    free(w);
}

static void
raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    raw_server *rs = s->data;
    static const char stall[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
                                "\r\npartial";
    static const char trunc[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                                "\r\nabc";
    (void)buf;
    if (n <= 0 || rs->mode == RAW_SILENT)
        return;
    uv_read_stop(s);
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = rs->mode == RAW_STALL
                     ? uv_buf_init((char *)stall, sizeof stall - 1)
                     : uv_buf_init((char *)trunc, sizeof trunc - 1);
    w->data = s;
    uv_write(w, s, &b, 1, raw_written);
}

static void
raw_accept(uv_stream_t *srv, int status)
{
    raw_server *rs = srv->data;
    if (status < 0 || rs->nconns == 8)
        return;
    uv_tcp_t *t = malloc(sizeof *t);
    uv_tcp_init(loop, t);
    t->data = rs;
    if (uv_accept(srv, (uv_stream_t *)t) != 0) {
        uv_close((uv_handle_t *)t, raw_closed);
        return;
    }
    rs->conns[rs->nconns++] = t;
    uv_read_start((uv_stream_t *)t, raw_alloc, raw_read);
}

static void
raw_start(raw_server *rs, int mode)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    memset(rs, 0, sizeof *rs);
    rs->mode = mode;
    uv_tcp_init(loop, &rs->tcp);
    rs->tcp.data = rs;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&rs->tcp, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&rs->tcp, 8, raw_accept);
    uv_tcp_getsockname(&rs->tcp, (struct sockaddr *)&got, &len);
    rs->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void
raw_stop(raw_server *rs)
{
    for (int i = 0; i < rs->nconns; i++)
        if (rs->conns[i]) /* (TRUNC closes its own) */
            uv_close((uv_handle_t *)rs->conns[i], raw_closed);
    uv_close((uv_handle_t *)&rs->tcp, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* A listener whose accept queue is full: new SYNs are dropped, so a
 * connect neither succeeds nor fails. Returns its port; fds in fd[4]. */
static int
blackhole(int fd[4])
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(fd[0], (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd[0], 0) != 0 ||
        getsockname(fd[0], (struct sockaddr *)&a, &len) != 0)
        return -1;
    for (int i = 1; i < 4; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(fd[i], F_SETFL, O_NONBLOCK);
        connect(fd[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100000);
    return ntohs(a.sin_port);
}

/* ---- the tests */

static void
test_basics(void)
{
    ex e;
    kumo_http_call_opts o = get("/hello");
    ex_init(&e);
    int rc = run(&e, &o);
    check("h1 GET /hello",
          rc == 0 && e.error == 0 && e.status == 200 &&
              !strcmp(e.body, "Hello") && e.version == KUMO_HTTP_1_1,
          e.msg);
    check("h1 response fields (lowercase names)",
          strstr(e.hdrs, "content-type: text/plain\n") &&
              strstr(e.hdrs, "content-length: 5\n"),
          e.hdrs);
    ex_fini(&e);

    ex_init(&e);
    o = get("/nope");
    run(&e, &o);
    check("h1 404",
          e.error == 0 && e.status == 404 && !strcmp(e.body, "not found\n"),
          e.msg);
    ex_fini(&e);

    unsigned long before = server_connections();
    for (int i = 0; i < 3; i++) {
        ex_init(&e);
        o = get("/hello");
        run(&e, &o);
        ex_fini(&e);
    }
    unsigned long after = server_connections();
    char d[64];
    snprintf(d, sizeof d, "%lu new connections", after - before);
    check("h1 connection reuse across calls", before > 0 && after == before, d);

    ex_init(&e);
    o = get("/hello");
    o.h2c_prior_knowledge = true;
    run(&e, &o);
    check("h2c prior knowledge GET",
          e.error == 0 && e.status == 200 && !strcmp(e.body, "Hello") &&
              e.version == KUMO_HTTP_2,
          e.msg);
    ex_fini(&e);

    ex_init(&e);
    o = get("/hello");
    o.scheme = "https";
    o.authority = tls_authority;
    o.ca_file = ca_file;
    run(&e, &o);
    check("TLS h2 via ALPN",
          e.error == 0 && e.status == 200 && !strcmp(e.body, "Hello") &&
              e.version == KUMO_HTTP_2,
          e.msg);
    ex_fini(&e);

    ex_init(&e);
    o.http1_only = true;
    run(&e, &o);
    check("TLS http/1.1 via ALPN",
          e.error == 0 && !strcmp(e.body, "Hello") &&
              e.version == KUMO_HTTP_1_1,
          e.msg);
    ex_fini(&e);

    ex_init(&e);
    o = get("/hello");
    o.method = "HEAD";
    run(&e, &o);
    check("HEAD",
          e.error == 0 && e.status == 200 && e.total == 0 &&
              strstr(e.hdrs, "content-length: 5\n"),
          e.msg);
    ex_fini(&e);
}

/* 20 calls at once: over TLS h2 they share one connection; over h2c
 * (libcurl multiplexes none there) and HTTP/1.1 they all complete. */
static void
test_concurrent(void)
{
    const char *modes[] = {"TLS h2", "h2c", "HTTP/1.1"};
    for (int m = 0; m < 3; m++) {
        ex es[20], *ps[20];
        int ok = 0;
        char name[80], d[400], why[300] = "";
        unsigned long before = server_connections();
        for (int i = 0; i < 20; i++) {
            kumo_http_call_opts o = get("/hello");
            o.h2c_prior_knowledge = m == 1;
            if (m == 0) {
                o.scheme = "https";
                o.authority = tls_authority;
                o.ca_file = ca_file;
            }
            ex_init(&es[i]);
            ps[i] = &es[i];
            start(&es[i], &o);
        }
        wait_all(ps, 20);
        for (int i = 0; i < 20; i++) {
            bool good = es[i].error == 0 && !strcmp(es[i].body, "Hello") &&
                        es[i].version == (m < 2 ? KUMO_HTTP_2 : KUMO_HTTP_1_1);
            if (!good && !why[0])
                snprintf(why, sizeof why, "; %s, version %d", es[i].msg,
                         (int)es[i].version);
            ok += good;
            ex_fini(&es[i]);
        }
        unsigned long after = server_connections();
        snprintf(name, sizeof name, "20 concurrent calls (%s)%s", modes[m],
                 m == 0 ? " on one connection" : "");
        snprintf(d, sizeof d, "%d ok, %lu new connections%s", ok,
                 after - before, why);
        check(name, ok == 20 && (m != 0 || after - before <= 1), d);
    }
}

static void
test_bodies(void)
{
    static const kumo_http_field len5[] = {F("content-length", "5"),
                                           F("X-Custom", "v1")};
    static const kumo_http_field rt[] = {F("x-sum", "42"), F("x-b", "q")};
    const char *modes[] = {"h1", "h2c", "TLS h2", "TLS h1"};
    ex e;
    kumo_http_call_opts o;
    char name[96];

    for (int m = 0; m < 4; m++) {
        o = get("/echo");
        o.method = "POST";
        o.has_body = true;
        o.fields = len5;
        o.nfields = 2;
        o.h2c_prior_knowledge = m == 1;
        if (m >= 2) {
            o.scheme = "https";
            o.authority = tls_authority;
            o.ca_file = ca_file;
            o.http1_only = m == 3;
        }
        ex_init(&e);
        e.upload = true;
        e.up_total = 5;
        run(&e, &o);
        snprintf(name, sizeof name, "%s POST with content-length", modes[m]);
        check(name,
              e.error == 0 && e.total == 5 && e.write_err == 0 &&
                  memcmp(e.body, "\x00\x07\x0e\x15\x1c", 5) == 0,
              e.msg);
        ex_fini(&e);

        /* streamed body without a length, trailers both ways: /echo
         * returns the request trailers as response trailers */
        o.fields = NULL;
        o.nfields = 0;
        ex_init(&e);
        e.upload = true;
        e.up_total = 300000;
        e.verify = true;
        e.up_trailers = rt;
        e.n_up_trailers = 2;
        run(&e, &o);
        snprintf(name, sizeof name, "%s streamed body echo", modes[m]);
        check(name, e.error == 0 && e.total == 300000 && !e.bad_at, e.msg);
        snprintf(name, sizeof name, "%s request trailers echoed back",
                 modes[m]);
        if (m == 1 || m == 2) /* a known gap, see the header */
            printf("skip %s (libcurl 7.88 sends no HTTP/2 request "
                   "trailers)\n",
                   name);
        else
            check(name,
                  strstr(e.trailers, "x-sum: 42\n") &&
                      strstr(e.trailers, "x-b: q\n"),
                  e.trailers);
        ex_fini(&e);

        o = get("/trailers");
        o.h2c_prior_knowledge = m == 1;
        if (m >= 2) {
            o.scheme = "https";
            o.authority = tls_authority;
            o.ca_file = ca_file;
            o.http1_only = m == 3;
        }
        ex_init(&e);
        run(&e, &o);
        snprintf(name, sizeof name, "%s response trailers", modes[m]);
        check(name,
              e.error == 0 && !strcmp(e.body, "body\n") &&
                  strstr(e.trailers, "x-checksum: abc123\n") &&
                  strstr(e.trailers, "x-done: yes\n"),
              e.trailers);
        ex_fini(&e);
    }
}

/* 100 MB up and 100 MB back through /echo with the receiver pausing every
 * 8 MB; this process's RSS must stay flat. */
static void
test_stream(const char *label, bool h2c, bool tls)
{
    ex e;
    kumo_http_call_opts o = get("/echo");
    char name[96], d[400];
    o.method = "PUT";
    o.has_body = true;
    o.h2c_prior_knowledge = h2c;
    if (tls) {
        o.scheme = "https";
        o.authority = tls_authority;
        o.ca_file = ca_file;
    }
    ex_init(&e);
    e.upload = true;
    e.up_total = 100000000;
    e.verify = true;
    e.pause_every = 8 << 20;
    e.next_pause = e.pause_every;
    e.rss_base = rss_kb();
    e.rss_peak = e.rss_base;
    run(&e, &o);
    snprintf(name, sizeof name, "100 MB streamed echo (%s)", label);
    snprintf(d, sizeof d, "%s, %llu bytes, bad at %llu", e.msg,
             (unsigned long long)e.total, (unsigned long long)e.bad_at);
    check(name,
          e.error == 0 && e.total == 100000000 && !e.bad_at &&
              e.up_sent == 100000000 && e.pauses >= 10,
          d);
    printf("     %s: RSS before %ld kB, peak %ld kB, %d pauses\n", label,
           e.rss_base, e.rss_peak, e.pauses);
    snprintf(name, sizeof name, "flat RSS (%s)", label);
    snprintf(d, sizeof d, "grew %ld kB", e.rss_peak - e.rss_base);
    check(name, e.rss_peak - e.rss_base < 20000, d);
    ex_fini(&e);
}

static void
test_errors(void)
{
    ex e;
    kumo_http_call_opts o;
    char auth[64];
    int fd[4];

    /* refused: a port that was just free */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &alen);
    close(s);
    snprintf(auth, sizeof auth, "127.0.0.1:%d", ntohs(a.sin_port));
    o = get("/");
    o.authority = auth;
    ex_init(&e);
    run(&e, &o);
    expect_error("connection refused", &e, KUMO_HTTP_CALL_CONNECTION_REFUSED);
    check("no on_response on failure", !e.got_response, NULL);
    ex_fini(&e);

    o = get("/");
    o.authority = "no-such-host.invalid";
    ex_init(&e);
    run(&e, &o);
    expect_error("DNS failure (.invalid)", &e, KUMO_HTTP_CALL_DNS_ERROR);
    ex_fini(&e);

    int bport = blackhole(fd);
    snprintf(auth, sizeof auth, "127.0.0.1:%d", bport);
    o = get("/");
    o.authority = auth;
    o.connect_timeout_ns = 500000000;
    ex_init(&e);
    run(&e, &o);
    expect_error("connect timeout (full accept queue)", &e,
                 KUMO_HTTP_CALL_CONNECTION_TIMEOUT);
    ex_fini(&e);
    for (int i = 0; i < 4; i++)
        close(fd[i]);

    o = get("/slow?ms=5000");
    o.first_byte_timeout_ns = 300000000;
    ex_init(&e);
    run(&e, &o);
    expect_error("first-byte timeout (slow handler)", &e,
                 KUMO_HTTP_CALL_HTTP_RESPONSE_TIMEOUT);
    ex_fini(&e);

    raw_server rs;
    raw_start(&rs, RAW_SILENT);
    snprintf(auth, sizeof auth, "127.0.0.1:%d", rs.port);
    o = get("/");
    o.authority = auth;
    o.first_byte_timeout_ns = 300000000;
    ex_init(&e);
    run(&e, &o);
    expect_error("first-byte timeout (server never answers)", &e,
                 KUMO_HTTP_CALL_HTTP_RESPONSE_TIMEOUT);
    ex_fini(&e);
    raw_stop(&rs);

    raw_start(&rs, RAW_STALL);
    snprintf(auth, sizeof auth, "127.0.0.1:%d", rs.port);
    o = get("/");
    o.authority = auth;
    o.between_bytes_timeout_ns = 300000000;
    ex_init(&e);
    run(&e, &o);
    expect_error("between-bytes timeout (stalls mid-body)", &e,
                 KUMO_HTTP_CALL_CONNECTION_READ_TIMEOUT);
    check("stall: head and partial body delivered first",
          e.got_response && e.status == 200 && !strcmp(e.body, "partial"),
          e.body);
    ex_fini(&e);
    raw_stop(&rs);

    raw_start(&rs, RAW_TRUNC);
    snprintf(auth, sizeof auth, "127.0.0.1:%d", rs.port);
    o = get("/");
    o.authority = auth;
    ex_init(&e);
    run(&e, &o);
    expect_error("truncated body", &e, KUMO_HTTP_CALL_HTTP_RESPONSE_INCOMPLETE);
    ex_fini(&e);
    raw_stop(&rs);

    o = get("/hello");
    o.scheme = "https";
    o.authority = tls_authority;
    ex_init(&e);
    run(&e, &o);
    expect_error("TLS certificate error (self-signed, system roots)", &e,
                 KUMO_HTTP_CALL_TLS_CERTIFICATE_ERROR);
    ex_fini(&e);

    o = get("/hello");
    o.max_response_header_bytes = 40;
    ex_init(&e);
    run(&e, &o);
    expect_error("response head over the limit", &e,
                 KUMO_HTTP_CALL_HTTP_RESPONSE_HEADER_SECTION_SIZE);
    ex_fini(&e);
}

static void
test_api(void)
{
    static const kumo_http_field len10[] = {F("content-length", "10")};
    static const kumo_http_field bad[] = {F("x-bad", "a\r\nb")};
    ex e;
    kumo_http_call_opts o;
    kumo_http_call *call;
    kumo_http_call_handler h = handler_proto;
    h.ud = &e;
    struct {
        const char *method, *scheme, *authority, *path;
    } invalid[] = {
        {"GE T", "http", "a", "/"},   {"GET", "ftp", "a", "/"},
        {"GET", "http", "u@a", "/"},  {"GET", "http", "a/b", "/"},
        {"GET", "http", "", "/"},     {"GET", "http", "a", "x"},
        {"GET", "http", "a", "/ x"},  {"GET", "http", "a", "/#f"},
        {"GET", "http", "[::1", "/"}, {"GET", "http", ":80", "/"},
    };
    int nbad = 0;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        o = get(invalid[i].path);
        o.method = invalid[i].method;
        o.scheme = invalid[i].scheme;
        o.authority = invalid[i].authority;
        call = NULL;
        nbad += kumo_http_call_start(client, &o, &h, &call) == KUMO_EINVAL &&
                call == NULL;
    }
    o = get("/");
    o.fields = bad;
    o.nfields = 1;
    nbad += kumo_http_call_start(client, &o, &h, &call) == KUMO_EINVAL;
    check("invalid method, scheme, authority, path, field -> EINVAL",
          nbad == 11, NULL);

    /* content-length 10 but 4 bytes: finish says EINVAL, the call fails */
    o = get("/echo");
    o.method = "POST";
    o.has_body = true;
    o.fields = len10;
    o.nfields = 1;
    ex_init(&e);
    kumo_http_call_start(client, &o, &h, &e.call);
    int w1 = kumo_http_call_write(e.call, (const uint8_t *)"abcdefghijk", 11);
    int w2 = kumo_http_call_write(e.call, (const uint8_t *)"abcd", 4);
    int f1 = kumo_http_call_finish(e.call, NULL, 0);
    int w3 = kumo_http_call_write(e.call, (const uint8_t *)"x", 1);
    wait_all((ex *[]){&e}, 1);
    check("write over content-length -> EINVAL", w1 == KUMO_EINVAL && w2 == 0,
          NULL);
    check("short body: finish EINVAL, write after finish EINVAL",
          f1 == KUMO_EINVAL && w3 == KUMO_EINVAL, NULL);
    expect_error("short body -> HTTP-request-body-size", &e,
                 KUMO_HTTP_CALL_HTTP_REQUEST_BODY_SIZE);
    ex_fini(&e);

    /* freed while waiting: no callback afterwards */
    o = get("/slow?ms=1000");
    ex_init(&e);
    start(&e, &o);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    e.freed = true;
    kumo_http_call_free(e.call);
    e.call = NULL;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_guard, 1500, 0);
    guard_fired = false;
    while (!guard_fired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    check("free while running: no callbacks after",
          e.after_free == 0 && e.ndone == 0, NULL);
    ex_fini(&e);

    /* freed from inside on_body, mid-stream */
    o = get("/echo");
    o.method = "POST";
    o.has_body = true;
    ex_init(&e);
    e.upload = true;
    e.up_total = 50000000;
    e.verify = true;
    e.free_after = 1 << 20;
    run(&e, &o);
    check("free inside on_body: no callbacks after",
          e.freed && e.after_free == 0 && e.ndone == 0, NULL);
    ex_fini(&e);

    /* still works afterwards */
    o = get("/hello");
    ex_init(&e);
    run(&e, &o);
    check("client usable after aborted calls",
          e.error == 0 && !strcmp(e.body, "Hello"), e.msg);
    ex_fini(&e);
}

/* kumo_http_client_free with a call still running, then every handle of
 * the loop closes. */
static void
test_client_free(void)
{
    ex e;
    kumo_http_call_opts o = get("/slow?ms=3000");
    ex_init(&e);
    e.pause_timer_on = false;
    uv_close((uv_handle_t *)&e.pause_timer, NULL);
    start(&e, &o);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    e.freed = true;
    kumo_http_client_free(client);
    client = NULL;
    uv_run(loop, UV_RUN_DEFAULT);
    check("client free with a running call: no callbacks",
          e.after_free == 0 && e.ndone == 0, NULL);
    check("every loop handle closed", uv_loop_close(loop) == 0, NULL);
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: client-test PLAIN_PORT TLS_PORT CA_FILE\n");
        return 2;
    }
    plain_port = atoi(argv[1]);
    tls_port = atoi(argv[2]);
    ca_file = argv[3];
    snprintf(authority, sizeof authority, "127.0.0.1:%d", plain_port);
    snprintf(tls_authority, sizeof tls_authority, "localhost:%d", tls_port);
    loop = uv_default_loop();
    if (kumo_http_client_new(loop, &client) != 0) {
        printf("client: 0 passed, 1 failed\n");
        return 1;
    }
    const char *only = getenv("CLIENT_TEST_ONLY");
#define T(name, call)                                                          \
    if (!only || strstr(name, only))                                           \
    call
    T("basics", test_basics());
    T("concurrent", test_concurrent());
    T("bodies", test_bodies());
    T("stream", test_stream("HTTP/1.1 chunked", false, false));
    T("stream", test_stream("h2c", true, false));
    T("stream", test_stream("TLS h2", false, true));
    T("errors", test_errors());
    T("api", test_api());
    test_client_free();
    printf("client: %d passed, %d failed\n", passed, failed);
    fflush(stdout); /* before LeakSanitizer's exit, if any */
    return failed ? 1 : 0;
}
