/* kumo/http.h - the HTTP server: HTTP/1.1 (keep-alive, pipelining, chunked
 * bodies, 100-continue), HTTP/2 cleartext (prior knowledge and Upgrade) and
 * over TLS with ALPN, on a libuv loop. It knows nothing of WebAssembly: a
 * handler vtable receives each request and answers it with a streaming,
 * possibly asynchronous, response. Single-threaded: every function must be
 * called on the loop's thread. */
#ifndef KUMO_HTTP_H
#define KUMO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "kumo/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kumo_http_server kumo_http_server;
typedef struct kumo_http_request kumo_http_request;

/* A header or trailer field: byte strings, not NUL-terminated. Names of
 * received fields are lowercase (HTTP/2 requires it; HTTP/1 ones are folded).
 */
typedef struct kumo_http_field {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
} kumo_http_field;

typedef enum kumo_http_version {
    KUMO_HTTP_1_0 = 10,
    KUMO_HTTP_1_1 = 11,
    KUMO_HTTP_2 = 20
} kumo_http_version;

/* kumo_http_response_write returns this (> 0) when it accepted the bytes but
 * the output buffer is over its high-water mark: stop writing until
 * on_writable. */
#define KUMO_HTTP_BLOCKED 1

/*
 * The handler. Every callback gets ud and the request. The request object is
 * owned by the server; it stays valid from on_request until on_close
 * returns, and the handler may answer it at any time in between, from any
 * later callback of the loop (responses may be asynchronous). No callback is
 * ever called from inside a kumo_http_* function the handler calls.
 *
 * Request bodies are pushed: on_body delivers chunks as they arrive (data
 * valid during the call only); kumo_http_request_pause stops delivery (the
 * server stops reading, so the client is held back by TCP or HTTP/2 flow
 * control) until it is resumed. on_body_end says the body is complete; the
 * request trailers are then available.
 */
typedef struct kumo_http_handler {
    void *ud;
    /* A request head arrived. Required. */
    void (*on_request)(void *ud, kumo_http_request *req);
    /* A chunk of the request body. May be NULL (the body is discarded). */
    void (*on_body)(void *ud, kumo_http_request *req, const uint8_t *data,
                    size_t len);
    /* The request body (and its trailers) is complete. May be NULL. */
    void (*on_body_end)(void *ud, kumo_http_request *req);
    /* The response buffer drained below its low-water mark after a write
     * returned KUMO_HTTP_BLOCKED. May be NULL. */
    void (*on_writable)(void *ud, kumo_http_request *req);
    /* The per-request deadline passed. May be NULL: the server then answers
     * 504 (or aborts a started response). A handler that sets it must end
     * the request itself (finish or abort). */
    void (*on_deadline)(void *ud, kumo_http_request *req);
    /* The exchange is over: 0 when the response was completely handed to
     * the connection, or a negative KUMO_E* code (client went away, reset,
     * deadline, abort). Required. req is freed when it returns. */
    void (*on_close)(void *ud, kumo_http_request *req, int error);
} kumo_http_handler;

/*
 * Configuration. Zero values select the defaults in brackets. Addresses are
 * "host:port", "[v6]:port" or ":port"; port 0 picks a free port (see
 * kumo_http_server_port).
 */
typedef struct kumo_http_config {
    const char *const *listen;     /* plain listeners [127.0.0.1:8000] */
    size_t nlisten;                /* 0 with listen NULL: the default */
    const char *const *listen_tls; /* TLS listeners (need cert and key) */
    size_t nlisten_tls;
    const char *tls_cert_file;   /* PEM certificate chain */
    const char *tls_key_file;    /* PEM private key */
    size_t max_header_bytes;     /* request line + fields [16384] -> 431 */
    uint32_t max_header_count;   /* fields per request [100] -> 431 */
    uint64_t max_body_bytes;     /* request body, 0 = unlimited -> 413 */
    uint32_t max_concurrent;     /* requests in handlers [1024] -> 503 */
    uint32_t header_timeout_ms;  /* whole request head [10000] -> 408 */
    uint32_t body_timeout_ms;    /* between body reads/writes [30000] */
    uint32_t idle_timeout_ms;    /* keep-alive idle [60000] */
    uint32_t request_timeout_ms; /* per-request deadline, 0 = none */
    FILE *access_log; /* "method path proto status bytes ms" lines, or NULL */
} kumo_http_config;

/* Create a server on loop and start listening. cfg is copied (its strings
 * are not: they must outlive kumo_http_server_new only). handler is copied.
 * Returns 0, KUMO_EINVAL (bad address), KUMO_EIO (bind/listen/TLS files,
 * message on stderr) or KUMO_ENOMEM. Sets SIGPIPE to ignored when it has
 * its default action (a reset peer must not kill the process). */
int kumo_http_server_new(uv_loop_t *loop, const kumo_http_config *cfg,
                         const kumo_http_handler *handler,
                         kumo_http_server **out);

/* The bound port of listener i (plain ones first, then TLS), or -1. */
int kumo_http_server_port(const kumo_http_server *srv, size_t i);

/* Graceful shutdown: stop accepting, close idle connections, send GOAWAY
 * on HTTP/2 and "connection: close" on HTTP/1, let in-flight requests finish
 * for up to grace_ms, then close what is left. done (may be NULL) runs once
 * every connection and listener is closed; then call kumo_http_server_free.
 * Calling it twice only shortens nothing. */
void kumo_http_server_shutdown(kumo_http_server *srv, uint32_t grace_ms,
                               void (*done)(void *arg), void *arg);

/* Free a server whose shutdown completed (or that never accepted). */
void kumo_http_server_free(kumo_http_server *srv);

/* Counters (for tests and metrics). */
typedef struct kumo_http_stats {
    uint64_t connections; /* accepted */
    uint64_t requests;    /* handed to the handler */
    uint64_t rejected;    /* answered by the server (4xx/5xx limits) */
    uint32_t active;      /* requests between on_request and on_close */
} kumo_http_stats;
void kumo_http_server_stats(const kumo_http_server *srv, kumo_http_stats *out);

/* ---- the request (valid until on_close returns) */
void kumo_http_request_set_data(kumo_http_request *req, void *data);
void *kumo_http_request_data(const kumo_http_request *req);
kumo_http_version kumo_http_request_version(const kumo_http_request *req);
/* method ("GET"), scheme ("http"/"https"), authority (Host or :authority,
 * may be empty), path ("/a?b", the request target): NUL-terminated. */
const char *kumo_http_request_method(const kumo_http_request *req);
const char *kumo_http_request_scheme(const kumo_http_request *req);
const char *kumo_http_request_authority(const kumo_http_request *req);
const char *kumo_http_request_path(const kumo_http_request *req);
/* Header fields (without HTTP/2 pseudo-headers), in arrival order. */
const kumo_http_field *kumo_http_request_headers(const kumo_http_request *req,
                                                 size_t *n);
/* Trailer fields, available from on_body_end (n is 0 before). */
const kumo_http_field *kumo_http_request_trailers(const kumo_http_request *req,
                                                  size_t *n);
/* The first field named name (case-insensitive) or NULL; *len its length. */
const uint8_t *kumo_http_request_header(const kumo_http_request *req,
                                        const char *name, size_t *len);
/* Stop (true) or resume (false) on_body delivery. */
void kumo_http_request_pause(kumo_http_request *req, bool paused);

/* ---- the response */
/* Send the status and fields (copied). A content-length field fixes the
 * body size; without it HTTP/1.1 uses chunked encoding. Connection-specific
 * fields are dropped on HTTP/2. Returns 0, KUMO_EINVAL (already started,
 * bad status) or KUMO_EIO (the exchange is gone). */
int kumo_http_response_start(kumo_http_request *req, int status,
                             const kumo_http_field *fields, size_t n);
/* Queue body bytes (copied). Returns 0, KUMO_HTTP_BLOCKED (queued, but
 * wait for on_writable), KUMO_EINVAL (not started or finished) or KUMO_EIO. */
int kumo_http_response_write(kumo_http_request *req, const uint8_t *data,
                             size_t len);
/* True when a write would not block. */
bool kumo_http_response_writable(const kumo_http_request *req);
/* End the response, with optional trailers (copied; dropped on HTTP/1 when
 * the body is not chunked). Returns 0, KUMO_EINVAL or KUMO_EIO. */
int kumo_http_response_finish(kumo_http_request *req,
                              const kumo_http_field *trailers, size_t n);
/* Start, write body and finish in one call. */
int kumo_http_respond(kumo_http_request *req, int status,
                      const kumo_http_field *fields, size_t n,
                      const uint8_t *body, size_t len);
/* Abandon the exchange: 500 if nothing was sent yet, otherwise reset the
 * stream (HTTP/2) or close the connection (HTTP/1). on_close follows. */
void kumo_http_response_abort(kumo_http_request *req);

#ifdef __cplusplus
}
#endif
#endif
