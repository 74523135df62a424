/* kumo/whttp.h - serving WebAssembly components over HTTP: wasi:http
 * (types, incoming-handler, outgoing-handler) on top of the HTTP server of
 * kumo/http.h and the WASI 0.2 host of kumo/wasi.h.
 *
 * A workload is one component that exports
 * wasi:http/incoming-handler@0.2.x, with its limits. A kumo_http_handler
 * (a router, or `kumo serve`'s single-workload handler) hands each request
 * to a workload with kumo_whttp_serve and forwards the request's later
 * callbacks with kumo_whttp_on_*. Each request runs the guest's `handle` on
 * a fiber of the server's loop: a guest waiting for body bytes, for room
 * to write or in wasi:io/poll yields to the loop, so requests interleave on
 * one thread. Single-threaded: call everything on the loop's thread. */
#ifndef KUMO_WHTTP_H
#define KUMO_WHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kumo/base.h"
#include "kumo/component.h"
#include "kumo/http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kumo_whttp_workload kumo_whttp_workload;

/* Limits and environment of a workload. Zero values select the default in
 * brackets. Strings are copied by kumo_whttp_workload_new. */
typedef struct kumo_whttp_config {
    uint64_t max_memory_bytes; /* per instance, linear memories [4 GiB] */
    uint32_t timeout_ms;       /* per request, guest time included [none];
                                  expiry: 500 (or abort once started) */
    uint64_t fuel;             /* per request [unlimited] */
    const char *const *env;    /* "NAME=value" strings */
    size_t nenv;
    /* Outbound wasi:http: allowedHosts patterns (kumo_http_allow_add);
     * none denies every outbound request (HTTP-request-denied). */
    const char *const *allow_hosts;
    size_t nallow_hosts;
    bool deny_outbound; /* deny even when patterns are given (null router) */
    /* Instances. pool_size 0: a fresh instance per request (no reuse).
     * pool_size N: up to N idle instances are kept and reused (warm), each
     * retired after max_invocations requests [unlimited] or a trap.
     * max_concurrency: instances serving at once [unlimited]; requests
     * beyond it are answered 503. */
    uint32_t pool_size;
    uint32_t max_invocations;
    uint32_t max_concurrency;
    /* Fresh instances (pool_size 0) are made by restoring a snapshot taken
     * right after instantiation (kumo_cinstance_snapshot), which is the
     * same state without instantiating again; components whose
     * instantiation calls the host are instantiated each time. Set to
     * instantiate every time anyway. */
    bool no_snapshot;
    /* Request bodies: bytes buffered for the guest before the server is
     * paused [256 KiB]. */
    uint32_t body_buffer_bytes;
} kumo_whttp_config;

/*
 * Prepare component c (validated; it must outlive the workload) for serving
 * on loop: checks that it exports wasi:http/incoming-handler@0.2.x and that
 * every import is satisfiable by the host (WASI 0.2 and wasi:http) by
 * instantiating it once; prepares the host bindings. On failure returns
 * KUMO_ENOTFOUND (no handler export), KUMO_EINVAL (bad configuration, e.g. an
 * allow-host pattern), the instantiation's code (a missing import: the
 * message names it) or KUMO_ENOMEM, with d (may be NULL) filled.
 */
int kumo_whttp_workload_new(uv_loop_t *loop, const kumo_component *c,
                            const kumo_whttp_config *cfg,
                            kumo_whttp_workload **out, kumo_diag *d);

/*
 * Free a workload. Requests still running are aborted first (their guests
 * stop at their next wait). libuv handles close asynchronously: run the
 * loop afterwards so their close callbacks complete. NULL is fine.
 */
void kumo_whttp_workload_free(kumo_whttp_workload *w);

/*
 * Serve req (from a kumo_http_handler's on_request) with workload w: the
 * request's data slot (kumo_http_request_set_data) is taken by the
 * workload. The guest may run (and even answer) before this returns. The
 * handler must forward the request's later callbacks to the functions
 * below, which ignore requests that were not handed to a workload (their
 * data must then be NULL or not a workload's).
 */
void kumo_whttp_serve(kumo_whttp_workload *w, kumo_http_request *req);
void kumo_whttp_on_body(kumo_http_request *req, const uint8_t *data,
                        size_t len);
void kumo_whttp_on_body_end(kumo_http_request *req);
void kumo_whttp_on_writable(kumo_http_request *req);
/* The server's deadline: the guest is stopped, 500 or abort. */
void kumo_whttp_on_deadline(kumo_http_request *req);
void kumo_whttp_on_close(kumo_http_request *req, int error);
/* Whether req was handed to a workload (and its on_close not seen yet). */
bool kumo_whttp_owns(const kumo_http_request *req);

typedef struct kumo_whttp_stats {
    uint64_t requests;  /* handed to kumo_whttp_serve */
    uint64_t served;    /* the guest's handle returned */
    uint64_t instances; /* instantiations */
    uint64_t traps;     /* traps and timeouts */
    uint64_t rejected;  /* 503 at max_concurrency, failed instantiations */
    uint32_t active;    /* requests running now */
    uint32_t idle;      /* warm instances kept */
    uint64_t restores;  /* fresh instances made by restoring a snapshot */
} kumo_whttp_stats;
void kumo_whttp_workload_stats(const kumo_whttp_workload *w,
                               kumo_whttp_stats *out);

#ifdef __cplusplus
}
#endif
#endif
