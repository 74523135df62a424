/* fuzz_http.h - the harness shared by fuzz_http1.c and fuzz_http2.c: a
 * sans-I/O kh_conn with a null transport and a handler that answers in
 * several ways depending on the path (now, on body end, streamed echo with
 * pauses, abort, never). The first input byte picks the chunking of the
 * rest and whether the output is reported as backed up. */
#include <stdlib.h>
#include <string.h>

#include "../src/http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    bool scheduled, closed, backed_up;
    uint64_t now, sent;
} io;

static void
fz_send(kh_conn *c, const uint8_t *d, size_t n)
{
    (void)c;
    (void)d;
    io.sent += n;
}

static size_t
fz_pending(kh_conn *c)
{
    (void)c;
    return io.backed_up ? KH_HIGH_WATER : 0;
}

static void
fz_read_stop(kh_conn *c, bool stop)
{
    (void)c;
    (void)stop;
}

static void
fz_schedule(kh_conn *c)
{
    (void)c;
    io.scheduled = true;
}

static void
fz_close(kh_conn *c)
{
    (void)c;
    io.closed = true;
}

static uint64_t
fz_now(kh_conn *c)
{
    (void)c;
    return io.now;
}

static const kh_io fz_io = {fz_send,     fz_pending, fz_read_stop,
                            fz_schedule, fz_close,   fz_now};

static void
on_request(void *ud, kumo_http_request *req)
{
    const char *p = kumo_http_request_path(req);
    static const kumo_http_field f[1] = {
        {(const uint8_t *)"X-A", 3, (const uint8_t *)"b", 1}};
    size_t n;
    (void)ud;
    (void)kumo_http_request_header(req, "host", &n);
    (void)kumo_http_request_authority(req);
    switch (p[0] && p[1] ? p[1] : 'h') {
    case 'h':
        kumo_http_respond(req, 200, f, 1, (const uint8_t *)"hi", 2);
        break;
    case 'e':
        kumo_http_response_start(req, 200, NULL, 0);
        break;
    case 'p':
        kumo_http_request_pause(req, true);
        break;
    case 'a':
        kumo_http_response_abort(req);
        break;
    default:
        break; /* answered at body end, or never */
    }
}

static void
on_body(void *ud, kumo_http_request *req, const uint8_t *d, size_t n)
{
    (void)ud;
    if (kumo_http_response_write(req, d, n) == KUMO_HTTP_BLOCKED)
        kumo_http_request_pause(req, true);
}

static void
on_body_end(void *ud, kumo_http_request *req)
{
    size_t nt;
    const kumo_http_field *t = kumo_http_request_trailers(req, &nt);
    (void)ud;
    if (kumo_http_request_path(req)[1] == 'n')
        return; /* never answered */
    if (kumo_http_response_finish(req, t, nt) == KUMO_EINVAL)
        kumo_http_respond(req, 204, NULL, 0, NULL, 0);
}

static void
on_writable(void *ud, kumo_http_request *req)
{
    (void)ud;
    kumo_http_request_pause(req, false);
}

static void
on_close(void *ud, kumo_http_request *req, int error)
{
    (void)ud;
    (void)req;
    (void)error;
}

static void
run(kh_conn *c)
{
    for (int i = 0; i < 8 && io.scheduled && !io.closed; i++) {
        io.scheduled = false;
        kh_conn_run(c);
    }
}

static int
fuzz_conn(int proto, const uint8_t *prefix, size_t plen, const uint8_t *data,
          size_t size)
{
    static const kumo_http_handler h = {
        NULL, on_request, on_body, on_body_end, on_writable, NULL, on_close};
    kumo_http_config cfg;
    kh_env env;
    kh_conn *c;
    if (size < 1)
        return 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_header_bytes = 2048;
    cfg.max_header_count = 16;
    cfg.max_body_bytes = 4096;
    cfg.max_concurrent = 4;
    cfg.request_timeout_ms = 500;
    kh_env_init(&env, &cfg, &h);
    memset(&io, 0, sizeof io);
    if (kh_conn_new(&env, &fz_io, NULL, false, &c) != 0)
        return 0;
    if (proto != KH_PROTO_SNIFF && kh_conn_set_proto(c, proto) != 0) {
        kh_conn_free(c);
        return 0;
    }
    size_t chunk = (size_t)(data[0] & 63) + 1;
    io.backed_up = (data[0] & 64) != 0;
    data++;
    size--;
    if (plen)
        kh_conn_feed(c, prefix, plen);
    for (size_t off = 0; off < size && !io.closed; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        kh_conn_feed(c, data + off, n);
        run(c);
        io.now += 100;
        if ((data[off] & 7) == 0)
            io.backed_up = !io.backed_up;
        kh_conn_tick(c, io.now);
        run(c);
    }
    if (!io.closed) {
        io.backed_up = false;
        kh_conn_eof(c, 0);
        run(c);
        io.now += 100000;
        kh_conn_tick(c, io.now);
        run(c);
    }
    kh_conn_free(c);
    if (env.stats.active != 0)
        abort(); /* every request the handler saw got its on_close */
    return 0;
}
