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

/* ==== the outbound client (src/http/client.c, src/http/allow.c) ====
 *
 * Outbound exchanges on the caller's uv_loop_t with libcurl's multi socket
 * interface driven by libuv (uv_poll + uv_timer): single-threaded, never
 * blocking. HTTP/1.1, HTTP/2 (h2 over TLS via ALPN, h2c with prior
 * knowledge on request), TLS with the system trust roots, connections
 * reused across the calls of one client. Like the server, every function
 * must be called on the loop's thread.
 */

/* ---- the allow-list (wasmCloud's allowedHosts grammar) */

/* A list of host patterns; NULL is the empty list, which denies all. */
typedef struct kumo_http_allow kumo_http_allow;

/* Append pattern to *list (allocating the list on first use). Grammar:
 *   "*"                       everything
 *   "host" | "host:port"      one host (any port when none is given)
 *   "*.suffix[:port]"         any name strictly under suffix: "*.a.com"
 *                             matches "x.a.com" and "x.y.a.com", not "a.com"
 *   "scheme://host[:port][/]" and "scheme://" + "*.suffix[:port][/]"
 *                             the same, for one scheme only
 * Without a scheme any scheme matches. Hosts are case-insensitive; IPv6
 * literals are written in brackets ("[::1]:8080"). Paths, queries, user
 * info, "*foo", "a.*.com" and bad ports are rejected.
 * Returns 0, KUMO_EINVAL (malformed; diag, if not NULL, gets the code and
 * a message naming the pattern and the reason) or KUMO_ENOMEM. */
int kumo_http_allow_add(kumo_http_allow **list, const char *pattern,
                        kumo_diag *diag);

/* True when some pattern of list allows scheme://host:port. host may carry
 * IPv6 brackets or not; port 0 means the scheme's default (80 for "http",
 * 443 for "https"). A NULL list matches nothing (deny by default). */
bool kumo_http_allow_match(const kumo_http_allow *list, const char *scheme,
                           const char *host, uint16_t port);

/* The same for an authority "host[:port]" ("[v6]:port"); false when it
 * does not parse. */
bool kumo_http_allow_match_authority(const kumo_http_allow *list,
                                     const char *scheme,
                                     const char *authority);

/* Free the list (NULL is fine). */
void kumo_http_allow_free(kumo_http_allow *list);

/* ---- errors of an outbound call: the cases of wasi:http/types error-code,
 * in WIT order. X(NAME, wit-name). The enum value is the WIT discriminant
 * plus one (0 is success), so discriminant = value - 1. Payloads are not
 * carried (kumo_http_call_error_message gives text for internal-error). */
#define KUMO_HTTP_CALL_ERRORS(X)                                               \
    X(DNS_TIMEOUT, "DNS-timeout")                                              \
    X(DNS_ERROR, "DNS-error")                                                  \
    X(DESTINATION_NOT_FOUND, "destination-not-found")                          \
    X(DESTINATION_UNAVAILABLE, "destination-unavailable")                      \
    X(DESTINATION_IP_PROHIBITED, "destination-IP-prohibited")                  \
    X(DESTINATION_IP_UNROUTABLE, "destination-IP-unroutable")                  \
    X(CONNECTION_REFUSED, "connection-refused")                                \
    X(CONNECTION_TERMINATED, "connection-terminated")                          \
    X(CONNECTION_TIMEOUT, "connection-timeout")                                \
    X(CONNECTION_READ_TIMEOUT, "connection-read-timeout")                      \
    X(CONNECTION_WRITE_TIMEOUT, "connection-write-timeout")                    \
    X(CONNECTION_LIMIT_REACHED, "connection-limit-reached")                    \
    X(TLS_PROTOCOL_ERROR, "TLS-protocol-error")                                \
    X(TLS_CERTIFICATE_ERROR, "TLS-certificate-error")                          \
    X(TLS_ALERT_RECEIVED, "TLS-alert-received")                                \
    X(HTTP_REQUEST_DENIED, "HTTP-request-denied")                              \
    X(HTTP_REQUEST_LENGTH_REQUIRED, "HTTP-request-length-required")            \
    X(HTTP_REQUEST_BODY_SIZE, "HTTP-request-body-size")                        \
    X(HTTP_REQUEST_METHOD_INVALID, "HTTP-request-method-invalid")              \
    X(HTTP_REQUEST_URI_INVALID, "HTTP-request-URI-invalid")                    \
    X(HTTP_REQUEST_URI_TOO_LONG, "HTTP-request-URI-too-long")                  \
    X(HTTP_REQUEST_HEADER_SECTION_SIZE, "HTTP-request-header-section-size")    \
    X(HTTP_REQUEST_HEADER_SIZE, "HTTP-request-header-size")                    \
    X(HTTP_REQUEST_TRAILER_SECTION_SIZE, "HTTP-request-trailer-section-size")  \
    X(HTTP_REQUEST_TRAILER_SIZE, "HTTP-request-trailer-size")                  \
    X(HTTP_RESPONSE_INCOMPLETE, "HTTP-response-incomplete")                    \
    X(HTTP_RESPONSE_HEADER_SECTION_SIZE, "HTTP-response-header-section-size")  \
    X(HTTP_RESPONSE_HEADER_SIZE, "HTTP-response-header-size")                  \
    X(HTTP_RESPONSE_BODY_SIZE, "HTTP-response-body-size")                      \
    X(HTTP_RESPONSE_TRAILER_SECTION_SIZE,                                      \
      "HTTP-response-trailer-section-size")                                    \
    X(HTTP_RESPONSE_TRAILER_SIZE, "HTTP-response-trailer-size")                \
    X(HTTP_RESPONSE_TRANSFER_CODING, "HTTP-response-transfer-coding")          \
    X(HTTP_RESPONSE_CONTENT_CODING, "HTTP-response-content-coding")            \
    X(HTTP_RESPONSE_TIMEOUT, "HTTP-response-timeout")                          \
    X(HTTP_UPGRADE_FAILED, "HTTP-upgrade-failed")                              \
    X(HTTP_PROTOCOL_ERROR, "HTTP-protocol-error")                              \
    X(LOOP_DETECTED, "loop-detected")                                          \
    X(CONFIGURATION_ERROR, "configuration-error")                              \
    X(INTERNAL_ERROR, "internal-error")

typedef enum kumo_http_call_error {
    KUMO_HTTP_CALL_OK = 0,
#define KUMO_HTTP_CALL_ERROR_ENUM(name, wit) KUMO_HTTP_CALL_##name,
    KUMO_HTTP_CALL_ERRORS(KUMO_HTTP_CALL_ERROR_ENUM)
#undef KUMO_HTTP_CALL_ERROR_ENUM
        KUMO_HTTP_CALL_ERROR_COUNT
} kumo_http_call_error;

/* The WIT case name of an error ("connection-refused"), "ok" for 0, NULL
 * for values out of range. Static. */
const char *kumo_http_call_error_name(int error);

typedef struct kumo_http_client kumo_http_client;
typedef struct kumo_http_call kumo_http_call;

/* Create a client on loop: one libcurl multi handle (its connection pool)
 * and the libuv handles that drive it. Sets SIGPIPE to ignored when it has
 * its default action. Returns 0, KUMO_ENOMEM or KUMO_EIO (libcurl init). */
int kumo_http_client_new(uv_loop_t *loop, kumo_http_client **out);

/* Free the client. Calls still open are aborted silently (no callbacks;
 * their kumo_http_call objects are freed too and must not be used after).
 * Its libuv handles close asynchronously: run the loop afterwards so the
 * close callbacks complete. Not from inside a call's callback. */
void kumo_http_client_free(kumo_http_client *c);

/* The request. Strings are copied by kumo_http_call_start. Timeouts are in
 * nanoseconds, 0 selecting the default in brackets:
 *   connect_timeout_ns:       name lookup + TCP connect + TLS handshake
 *                             [30 s] -> DNS-timeout / connection-timeout
 *   first_byte_timeout_ns:    from the request being sent (the request body
 *                             is not counted while the caller is not
 *                             writing it) to the first response byte
 *                             [600 s] -> HTTP-response-timeout
 *   between_bytes_timeout_ns: between response bytes (not counted while
 *                             the receiver has paused delivery) [600 s]
 *                             -> connection-read-timeout */
typedef struct kumo_http_call_opts {
    const char *method;    /* "GET", "POST", any token; NULL = "GET" */
    const char *scheme;    /* "http" or "https"; NULL = "http" */
    const char *authority; /* "host", "host:port", "[v6]:port"; required */
    const char *path;      /* path-with-query; NULL or "" = "/" */
    /* Request fields (copied). content-length, if present, fixes the body
     * size; connection-specific fields (connection, keep-alive,
     * proxy-connection, transfer-encoding, upgrade) are dropped. No
     * accept, expect or user-agent is added. */
    const kumo_http_field *fields;
    size_t nfields;
    /* A request body follows through kumo_http_call_write/finish. Without
     * content-length it is sent chunked on HTTP/1.1. */
    bool has_body;
    /* "http": speak HTTP/2 directly. libcurl 7.88 mishandles reused and
     * multiplexed h2c connections, so each such call gets its own. */
    bool h2c_prior_knowledge;
    bool http1_only;          /* "https": offer only http/1.1 in ALPN */
    uint64_t connect_timeout_ns;
    uint64_t first_byte_timeout_ns;
    uint64_t between_bytes_timeout_ns;
    const char *ca_file;           /* PEM trust roots; NULL = the system's */
    size_t max_response_header_bytes; /* head of the response [65536] ->
                                         HTTP-response-header-section-size */
} kumo_http_call_opts;

/*
 * The receiver of a call. Every callback gets ud and the call; none is
 * called from inside a kumo_http_* function, and none after
 * kumo_http_call_free returns. Inside them the receiver may call any
 * kumo_http_call_* function on any call (including kumo_http_call_free),
 * but not kumo_http_client_free.
 */
typedef struct kumo_http_call_handler {
    void *ud;
    /* The final response head arrived (1xx responses are skipped). fields
     * (lowercase names) are valid during the call only. May be NULL. */
    void (*on_response)(void *ud, kumo_http_call *call, int status,
                        const kumo_http_field *fields, size_t n);
    /* A chunk of the response body, valid during the call only. The
     * receiver may kumo_http_call_pause(call, true) to stop delivery (no
     * unbounded buffering: the connection is held back). May be NULL. */
    void (*on_body)(void *ud, kumo_http_call *call, const uint8_t *data,
                    size_t len);
    /* The request body buffer drained below its low-water mark after
     * kumo_http_call_write returned KUMO_HTTP_BLOCKED. May be NULL. */
    void (*on_writable)(void *ud, kumo_http_call *call);
    /* The exchange is over, exactly once: error is KUMO_HTTP_CALL_OK
     * (response complete; trailers, lowercase names, valid during the call
     * only) or a kumo_http_call_error. on_response may not have been
     * called when error != 0. The call stays allocated until
     * kumo_http_call_free. Required. */
    void (*on_done)(void *ud, kumo_http_call *call, int error,
                    const kumo_http_field *trailers, size_t ntrailers);
} kumo_http_call_handler;

/* Start a call (asynchronous: nothing is sent before the loop runs).
 * opts and handler are copied. Returns 0, KUMO_EINVAL (bad method, scheme,
 * authority, path or field; nothing is started) or KUMO_ENOMEM. The caller
 * owns *out and frees it with kumo_http_call_free, once, at any time. */
int kumo_http_call_start(kumo_http_client *c, const kumo_http_call_opts *opts,
                         const kumo_http_call_handler *handler,
                         kumo_http_call **out);

/* Queue request body bytes (copied). Returns 0, KUMO_HTTP_BLOCKED (queued,
 * but the buffer is over its high-water mark: wait for on_writable),
 * KUMO_EINVAL (no body, already finished, or more than content-length) or
 * KUMO_EIO (the call is over). */
int kumo_http_call_write(kumo_http_call *call, const uint8_t *data,
                         size_t len);

/* End the request body, with optional trailers (copied; sent with chunked
 * encoding on HTTP/1.1; dropped when the body has a content-length, and on
 * HTTP/2, where libcurl 7.88 cannot send request trailers).
 * Returns 0, KUMO_EINVAL (no body, finished twice, or fewer bytes than
 * content-length: the call then fails with HTTP-request-body-size) or
 * KUMO_EIO (the call is over). */
int kumo_http_call_finish(kumo_http_call *call,
                          const kumo_http_field *trailers, size_t n);

/* Stop (true) or resume (false) on_body delivery. */
void kumo_http_call_pause(kumo_http_call *call, bool paused);

/* The protocol version of the response (valid from on_response), or 0. */
kumo_http_version kumo_http_call_version(const kumo_http_call *call);

/* A human-readable reason for the error given to on_done ("" when none):
 * libcurl's message or ours. Valid until kumo_http_call_free. */
const char *kumo_http_call_error_message(const kumo_http_call *call);

/* Per-call data for the receiver. */
void kumo_http_call_set_data(kumo_http_call *call, void *data);
void *kumo_http_call_data(const kumo_http_call *call);

/* Abort the call if it is still running (the connection is closed or the
 * HTTP/2 stream reset) and free it. No callback runs after it returns.
 * NULL is fine. */
void kumo_http_call_free(kumo_http_call *call);

#ifdef __cplusplus
}
#endif
#endif
