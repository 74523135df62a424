/* ingress.c - the server handler of a router: route each request, hand
 * it to its workload's wasi:http runtime, or answer the routing error. */
#include <stdio.h>
#include <string.h>

#include "kumo/router.h"
#include "kumo/whttp.h"

static void
answer(kumo_http_request *req, int status, const char *text)
{
    static const uint8_t ct_name[] = "content-type";
    static const uint8_t ct_value[] = "text/plain; charset=utf-8";
    kumo_http_field ct = {ct_name, sizeof ct_name - 1, ct_value,
                          sizeof ct_value - 1};
    kumo_http_respond(req, status, &ct, 1, (const uint8_t *)text,
                      strlen(text));
}

static void
on_request(void *ud, kumo_http_request *req)
{
    kumo_router *r = ud;
    kumo_whttp_workload *w;
    char msg[320];

    switch (kumo_router_route(r, kumo_http_request_authority(req), &w)) {
    case KUMO_ROUTE_OK:
        kumo_whttp_serve(w, req);
        return;
    case KUMO_ROUTE_MISSING_HOST:
        answer(req, 400, "missing Host header\n");
        return;
    case KUMO_ROUTE_NO_WORKLOAD:
        if (kumo_router_get_kind(r) == KUMO_ROUTER_DYNAMIC)
            snprintf(msg, sizeof msg, "no workload for host %.256s\n",
                     kumo_http_request_authority(req));
        else
            snprintf(msg, sizeof msg, "no workload deployed\n");
        answer(req, 404, msg);
        return;
    case KUMO_ROUTE_UNAVAILABLE:
        answer(req, 503, "workload unavailable\n");
        return;
    }
}

static void
on_body(void *ud, kumo_http_request *req, const uint8_t *data, size_t len)
{
    (void)ud;
    kumo_whttp_on_body(req, data, len);
}

static void
on_body_end(void *ud, kumo_http_request *req)
{
    (void)ud;
    kumo_whttp_on_body_end(req);
}

static void
on_writable(void *ud, kumo_http_request *req)
{
    (void)ud;
    kumo_whttp_on_writable(req);
}

static void
on_deadline(void *ud, kumo_http_request *req)
{
    (void)ud;
    kumo_whttp_on_deadline(req);
}

static void
on_close(void *ud, kumo_http_request *req, int error)
{
    (void)ud;
    kumo_whttp_on_close(req, error);
}

void
kumo_router_handler(kumo_router *r, kumo_http_handler *out)
{
    memset(out, 0, sizeof *out);
    out->ud = r;
    out->on_request = on_request;
    out->on_body = on_body;
    out->on_body_end = on_body_end;
    out->on_writable = on_writable;
    out->on_deadline = on_deadline;
    out->on_close = on_close;
}
