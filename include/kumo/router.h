/* kumo/router.h - HTTP routers of the host layer, as wasmCloud's: which
 * workload serves an incoming request.
 *
 * - dev:     host-agnostic; every request goes to the most recently added
 *            workload that is still bound (none: 404).
 * - dynamic: the request's Host (HTTP/1) or :authority (HTTP/2), without
 *            its port and case-insensitively, selects the workloads
 *            registered for that name (their `host` plus `host-aliases`);
 *            a random replica answers each request. No host: 400; a host
 *            nobody registered: 404; registered but no replica available
 *            (all marked unavailable): 503.
 * - null:    no ingress at all (nothing should listen) and no egress (the
 *            host must deny every outbound request).
 *
 * A router is used on the loop thread only; updates take effect for the
 * next request. It does not own the workloads. */
#ifndef KUMO_ROUTER_H
#define KUMO_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "kumo/base.h"
#include "kumo/http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kumo_whttp_workload kumo_whttp_workload;
typedef struct kumo_router kumo_router;

typedef enum kumo_router_kind {
    KUMO_ROUTER_DEV = 0,
    KUMO_ROUTER_DYNAMIC = 1,
    KUMO_ROUTER_NULL = 2,
} kumo_router_kind;

/* Parse "dev", "dynamic" or "null"; -1 for anything else. */
int kumo_router_kind_parse(const char *name);
const char *kumo_router_kind_name(kumo_router_kind kind);

/* 0 or KUMO_ENOMEM. */
int kumo_router_new(kumo_router_kind kind, kumo_router **out);
void kumo_router_free(kumo_router *r);
kumo_router_kind kumo_router_get_kind(const kumo_router *r);

/*
 * Bind workload w under id (copied; unique). host is required by the
 * dynamic router and must be an RFC 1123 host name (labels of letters,
 * digits and inner hyphens, 1-63 bytes each, 253 in all; a trailing port is
 * not allowed); aliases is NULL or a comma-separated list of more names
 * (blanks around commas ignored). The dev router accepts and ignores them.
 * Returns 0, KUMO_EINVAL (bad name, duplicate id, null router; *why gets a
 * static reason when why is not NULL) or KUMO_ENOMEM.
 */
int kumo_router_add(kumo_router *r, const char *id, kumo_whttp_workload *w,
                    const char *host, const char *aliases, const char **why);
/* Unbind every route of id. KUMO_ENOTFOUND when id is not bound. */
int kumo_router_remove(kumo_router *r, const char *id);
/* Mark id available or not (an unavailable replica is never picked; a
 * name whose replicas are all unavailable answers 503). */
int kumo_router_set_available(kumo_router *r, const char *id, bool on);

/* Routing outcomes (HTTP status the ingress answers with). */
typedef enum kumo_route_status {
    KUMO_ROUTE_OK = 0,
    KUMO_ROUTE_MISSING_HOST = 400,
    KUMO_ROUTE_NO_WORKLOAD = 404,
    KUMO_ROUTE_UNAVAILABLE = 503,
} kumo_route_status;

/* Pick the workload for a request whose authority is authority (Host or
 * :authority, may be NULL or empty; "name", "name:port", "[v6]:port"). */
kumo_route_status kumo_router_route(kumo_router *r, const char *authority,
                                    kumo_whttp_workload **out);

/* Whether workloads behind this router may make outbound requests at all
 * (false for the null router; otherwise each workload's allow-list
 * decides). */
bool kumo_router_egress_allowed(const kumo_router *r);

/* A server handler that routes each request and hands it to its workload
 * (kumo_whttp_serve), or answers 400/404/503 itself with a short text. */
void kumo_router_handler(kumo_router *r, kumo_http_handler *out);

/* Whether name is a valid RFC 1123 host name (see kumo_router_add). */
bool kumo_router_valid_host(const char *name, size_t len);

#ifdef __cplusplus
}
#endif
#endif
