/* http.h - internals of the HTTP server (prefix kh_). The protocol code
 * (conn.c, h1.c, h2.c) is sans-I/O: a kh_conn is fed bytes with
 * kh_conn_feed and hands output, read pauses and close requests to its
 * transport through kh_io; server.c is the libuv + OpenSSL transport and a
 * fuzz target can be another. */
#ifndef KUMO_SRC_HTTP_H
#define KUMO_SRC_HTTP_H

#include <llhttp.h>
#include <nghttp2/nghttp2.h>

#include "../base/base.h"
#include "kumo/http.h"

/* Output above HIGH makes writes report KUMO_HTTP_BLOCKED; on_writable
 * comes when it falls below LOW. */
#define KH_HIGH_WATER (256 * 1024)
#define KH_LOW_WATER (64 * 1024)

/* ---- growable byte buffer and a queue of copied chunks (conn.c) */
typedef struct kh_buf {
    uint8_t *p;
    size_t len, cap;
} kh_buf;
int kh_buf_append(kh_buf *b, const void *data, size_t n);
int kh_buf_printf(kh_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kh_buf_free(kh_buf *b);

typedef struct kh_chunk {
    struct kh_chunk *next;
    size_t len, off;
    uint8_t data[];
} kh_chunk;
typedef struct kh_queue {
    kh_chunk *head, *tail;
    size_t bytes;
} kh_queue;
int kh_queue_push(kh_queue *q, const uint8_t *data, size_t len);
void kh_queue_pop(kh_queue *q); /* drop the head chunk */
void kh_queue_clear(kh_queue *q);

/* ---- what every connection of a server shares */
typedef struct kh_env {
    kumo_http_config cfg; /* defaults filled in; listen lists not kept */
    kumo_http_handler h;
    kumo_http_stats stats;
    bool draining; /* graceful shutdown under way */
} kh_env;
void kh_env_init(kh_env *env, const kumo_http_config *cfg,
                 const kumo_http_handler *h);

typedef struct kh_conn kh_conn;

/* The transport under a connection. */
typedef struct kh_io {
    /* Queue bytes for the peer (copied). */
    void (*send)(kh_conn *c, const uint8_t *data, size_t len);
    /* Bytes queued and not yet written to the socket. */
    size_t (*pending)(kh_conn *c);
    /* Stop (true) or restart (false) reading from the peer. */
    void (*read_stop)(kh_conn *c, bool stop);
    /* Call kh_conn_run soon, from the loop (never recursively). */
    void (*schedule)(kh_conn *c);
    /* Flush what was sent, then close; the transport frees c later. */
    void (*close)(kh_conn *c);
    /* Milliseconds on a monotonic clock. */
    uint64_t (*now)(kh_conn *c);
} kh_io;

enum { KH_PROTO_SNIFF, KH_PROTO_H1, KH_PROTO_H2 };
enum { KH_T_NONE, KH_T_HEADER, KH_T_BODY, KH_T_IDLE };

typedef struct kh_fieldoff {
    size_t name, name_len, value, value_len;
} kh_fieldoff;

struct kumo_http_request {
    kh_conn *conn;
    kumo_http_request *next; /* HTTP/2: the connection's streams */
    int32_t stream_id;
    void *data;
    kumo_http_version version;
    const char *scheme;
    char *method, *authority, *path;
    kh_buf hbuf, tbuf; /* bytes of header / trailer fields */
    kh_fieldoff *offs;
    uint32_t noffs, capoffs;
    kumo_http_field *headers, *trailers;
    size_t nheaders, ntrailers;
    size_t head_bytes;      /* counted against max_header_bytes */
    int64_t content_length; /* -1 unknown */
    uint64_t body_bytes;
    uint64_t start_ms, deadline_ms;
    int reject;      /* status the server answers instead of the handler */
    bool internal;   /* answered by the server (the handler never saw it) */
    bool in_handler; /* on_request called, on_close not yet */
    bool paused, body_done, expect_continue, head_method, seen_trailers;
    bool resp_started, resp_finished, resp_chunked, aborted, gone;
    bool want_writable, deadline_hit, keep_alive_resp, continue_sent;
    int close_error;
    int status;
    uint64_t resp_bytes;
    int64_t resp_length;
    /* HTTP/2 */
    kh_queue out;       /* response body not yet taken by nghttp2 */
    kh_queue in;        /* body received while paused (window-bounded) */
    nghttp2_nv *rtrail; /* response trailers to submit at end of data */
    size_t nrtrail;
    kh_buf rtbuf;
    bool deferred, stream_closed, h2_headers_done, end_seen, eof_sent;
};

struct kh_conn {
    kh_env *env;
    const kh_io *io;
    void *io_ud;
    int proto;
    bool tls;
    bool closing;     /* close requested from the transport */
    bool close_after; /* HTTP/1: close after the current response */
    bool draining;
    bool in_feed;
    kh_buf hold; /* input received while the protocol is paused */
    bool input_paused;
    bool eof_pending; /* HTTP/1: the peer's EOF came in while paused */
    int timer_kind;
    uint64_t deadline;
    uint64_t last_send_progress;
    /* HTTP/1 */
    llhttp_t parser;
    kumo_http_request *cur;
    kh_buf fname, fvalue;
    kh_buf url;
    bool h1_error;
    int h1_pause;
    int h1_reject; /* status for a parse-level rejection */
    bool h2c_upgrade;
    kh_buf h2settings;
    /* HTTP/2 */
    nghttp2_session *h2;
    kumo_http_request *streams;
    bool goaway;
};

/* ---- connections (conn.c) */
int kh_conn_new(kh_env *env, const kh_io *io, void *io_ud, bool tls,
                kh_conn **out);
/* Fix the protocol (after ALPN). Before any feed. */
int kh_conn_set_proto(kh_conn *c, int proto);
/* Feed bytes from the peer; everything is consumed (input that cannot be
 * parsed yet is held and reading is stopped). */
void kh_conn_feed(kh_conn *c, const uint8_t *data, size_t len);
/* Input held while paused beyond which the transport stops reading. */
#define KH_HOLD_SOFT (64 * 1024)
void kh_conn_hold_check(kh_conn *c);
/* The peer closed its side (eof) or the transport failed (error < 0). */
void kh_conn_eof(kh_conn *c, int error);
/* Deferred work: deliver callbacks, resume input, pump HTTP/2 output. */
void kh_conn_run(kh_conn *c);
/* Timeouts, called periodically. */
void kh_conn_tick(kh_conn *c, uint64_t now);
/* Graceful shutdown of this connection. */
void kh_conn_drain(kh_conn *c);
/* Abandon every request (transport closed) and free c. */
void kh_conn_free(kh_conn *c);
/* True when the connection has no request in progress. */
bool kh_conn_idle(const kh_conn *c);

/* ---- requests (conn.c) */
kumo_http_request *kh_req_new(kh_conn *c);
void kh_req_free(kumo_http_request *req);
/* Add a received field (trailer after the head). Counts limits; over them
 * sets req->reject = 431 and drops the field. */
int kh_req_add_field(kumo_http_request *req, bool trailer, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen);
int kh_req_seal(kumo_http_request *req, bool trailer);
/* Head complete: answer a rejection or hand the request to the handler. */
void kh_req_dispatch(kumo_http_request *req);
void kh_req_body(kumo_http_request *req, const uint8_t *data, size_t len);
void kh_req_body_end(kumo_http_request *req);
/* The exchange ended: on_close (if the handler saw it) and access log. */
void kh_req_done(kumo_http_request *req, int error);
void kh_req_deliver_writable(kumo_http_request *req);
int kh_req_internal_respond(kumo_http_request *req, int status);
const char *kh_reason(int status);

/* ---- HTTP/1 (h1.c) */
void kh_h1_init(kh_conn *c);
void kh_h1_feed(kh_conn *c, const uint8_t *data, size_t len);
void kh_h1_run(kh_conn *c);
void kh_h1_fini(kh_conn *c);
int kh_h1_start(kumo_http_request *req, int status, const kumo_http_field *f,
                size_t n);
int kh_h1_write(kumo_http_request *req, const uint8_t *data, size_t len);
int kh_h1_finish(kumo_http_request *req, const kumo_http_field *t, size_t n);
void kh_h1_abort(kumo_http_request *req);

/* ---- HTTP/2 (h2.c) */
int kh_h2_init(kh_conn *c, const uint8_t *upgrade_settings, size_t slen,
               kumo_http_request *upgraded);
void kh_h2_feed(kh_conn *c, const uint8_t *data, size_t len);
void kh_h2_run(kh_conn *c);
void kh_h2_drain(kh_conn *c);
void kh_h2_fini(kh_conn *c);
int kh_h2_start(kumo_http_request *req, int status, const kumo_http_field *f,
                size_t n);
int kh_h2_write(kumo_http_request *req, const uint8_t *data, size_t len);
int kh_h2_finish(kumo_http_request *req, const kumo_http_field *t, size_t n);
void kh_h2_abort(kumo_http_request *req);
void kh_h2_resume_body(kumo_http_request *req);

#endif
