/* whttp.h - internals of wasi:http (src/http/whttp*.c, prefix kh_w): the
 * objects behind the guest's wasi:http handles, the bodies that flow in
 * and out of a guest, and the per-instance state. The objects live in the
 * WASI 0.2 table of the instance's context (src/wasi/p2.h, KX_P2_EXT and
 * the ext hooks of streams and pollables).
 *
 * whttp_fields.c  fields, header validation, requests, responses, options
 * whttp_body.c    incoming/outgoing bodies, their streams, future-trailers,
 *                 response-outparam
 * whttp_serve.c   workloads, instances, fibers, the server side
 * whttp_out.c     wasi:http/outgoing-handler on the HTTP client */
#ifndef KUMO_SRC_HTTP_WHTTP_H
#define KUMO_SRC_HTTP_WHTTP_H

#include "../wasi/p2.h"
#include "kumo/whttp.h"

typedef struct kumo_whttp_workload kh_wwork;
typedef struct kh_winst kh_winst;
typedef struct kh_wreq kh_wreq;
typedef struct kh_wcall kh_wcall;

/* ---- field lists: names lowercase, values bytes */
typedef struct kh_wfield {
    uint8_t *mem; /* name bytes then value bytes, one block */
    uint32_t nlen, vlen;
} kh_wfield;

typedef struct kh_wflist {
    kh_wfield *f;
    uint32_t n, cap;
} kh_wflist;

/* Append (copies, lowercases the name). 0 or KUMO_ENOMEM. */
int kh_wflist_add(kh_wflist *l, const char *name, size_t nlen,
                  const uint8_t *val, size_t vlen);
int kh_wflist_copy(kh_wflist *dst, const kh_wflist *src);
int kh_wflist_from_http(kh_wflist *dst, const kumo_http_field *f, size_t n);
/* An array of n kumo_http_fields pointing into l (kb_free it); NULL with
 * n == 0 is fine. 0 or KUMO_ENOMEM. */
int kh_wflist_to_http(const kh_wflist *l, kumo_http_field **out);
void kh_wflist_free(kh_wflist *l);
/* The value of the first field named name (lowercase), or NULL. */
const kh_wfield *kh_wflist_find(const kh_wflist *l, const char *name);

/* Header checks (wasi:http header-error cases). */
#define KH_WHDR_OK 0
#define KH_WHDR_SYNTAX 1
#define KH_WHDR_FORBIDDEN 2
int kh_wheader_check_name(const char *name, size_t len);
bool kh_wheader_value_ok(const uint8_t *v, size_t len);

/* ---- the objects behind handles. Every one starts with kh_wobj; its
 * ext.slots counts the table slots naming it (a stream and its pollables)
 * plus references the host holds for a while (kh_wtake). */
typedef struct kh_wobj {
    kx_p2ext ext;
} kh_wobj;

/* A new slot of kind for o; 0 or a trap. */
int kh_wslot(kg_call *call, kx_p2kind kind, kh_wobj *o, uint32_t *rep);
/* The object of kind/ops that rep names, or NULL. */
void *kh_wget(kg_call *call, uint32_t rep, kx_p2kind kind,
              const kx_p2ops *ops);
/* For own<R> arguments: the object, its slot freed (the guest gave it to
 * us), with one extra slot count the caller must drop with kh_wput. */
void *kh_wtake(kg_call *call, uint32_t rep, const kx_p2ops *ops);
void kh_wput(kumo_wasi_ctx *ctx, kh_wobj *o);

/* fields */
typedef struct kh_wfields {
    kh_wobj o;
    bool immutable;
    kh_wflist list;
} kh_wfields;
extern const kx_p2ops kh_wfields_ops;
/* A new fields handle owning *list's entries (moved; *list is emptied). */
int kh_wfields_new(kg_call *call, kh_wflist *list, bool immutable,
                   uint32_t *rep);

/* ---- bodies flowing into the guest (a request's, an outbound call's
 * response). Refcounted; the producer pushes, the guest reads. */
typedef struct kh_win kh_win;
typedef struct kh_win_src {
    void (*pause)(void *src, bool paused);
} kh_win_src;
struct kh_win {
    int refs;
    kh_winst *inst; /* woken on changes; NULL once detached */
    const kh_win_src *src_ops;
    void *src;
    uint8_t *buf;
    size_t off, len, cap, high; /* pending bytes buf[off .. off + len) */
    bool paused;
    bool eof;     /* complete; trailers below */
    bool failed;  /* ended with error (code below) */
    bool discard; /* the guest finished the body early: drop the rest */
    bool taken;   /* stream() was called */
    bool given;   /* bytes went to the guest */
    uint32_t error; /* wasi:http error-code case when failed */
    kh_wflist trailers;
    bool trailers_taken;
};
kh_win *kh_win_new(kh_winst *inst, const kh_win_src *ops, void *src,
                   size_t high);
void kh_win_unref(kh_win *in);
/* Producer side. push returns 0 or KUMO_ENOMEM. */
int kh_win_push(kh_win *in, const uint8_t *data, size_t len);
void kh_win_end(kh_win *in, const kumo_http_field *trailers, size_t n);
void kh_win_fail(kh_win *in, uint32_t error);
/* A new incoming-body handle on in. */
int kh_win_body_new(kg_call *call, kh_win *in, uint32_t *rep);

/* ---- bodies flowing out of the guest (a response's, an outbound
 * request's). Writes are held in `pending` until a sink is attached. */
typedef struct kh_wout kh_wout;
typedef struct kh_wout_sink {
    /* 0, KUMO_HTTP_BLOCKED or a negative code (the receiver is gone). */
    int (*write)(void *sink, const uint8_t *data, size_t len);
    int (*finish)(void *sink, const kumo_http_field *trailers, size_t n);
    void (*abort)(void *sink);
} kh_wout_sink;
struct kh_wout {
    int refs;
    kh_winst *inst;
    const kh_wout_sink *sink_ops;
    void *sink;
    uint8_t *pending;
    size_t npending;
    uint32_t cap;
    bool blocked;  /* the sink said KUMO_HTTP_BLOCKED: wait for writable */
    bool broken;   /* the receiver is gone */
    bool finished; /* outgoing-body.finish called */
    bool aborted;  /* dropped without finish */
    bool taken;    /* write() was called */
    bool has_limit;
    uint64_t limit, written; /* content-length, bytes written */
    kh_wflist trailers; /* finish before a sink was attached */
    bool has_trailers;
};
kh_wout *kh_wout_new(kh_winst *inst);
void kh_wout_unref(kh_wout *out);
/* Attach the receiver: pending bytes (and a finish) go out now. */
void kh_wout_attach(kh_wout *out, const kh_wout_sink *ops, void *sink);
void kh_wout_writable(kh_wout *out);
void kh_wout_gone(kh_wout *out);
int kh_wout_body_new(kg_call *call, kh_wout *out, uint32_t *rep);

/* outgoing-response */
typedef struct kh_wresp {
    kh_wobj o;
    uint16_t status;
    kh_wflist headers;
    kh_wout *out; /* made by body() */
} kh_wresp;
extern const kx_p2ops kh_wresp_ops;

/* ---- the server side: one request handed to a workload */
struct kh_wreq {
    uint32_t magic;
    int refs;
    kh_wwork *w;
    kumo_http_request *req; /* NULL after on_close */
    kh_winst *inst;         /* running it; NULL when done */
    char *method, *path, *scheme, *authority;
    kh_wflist headers;
    kh_win *in;
    kh_wout *out;        /* the response body, once set */
    bool consumed;       /* incoming-request.consume called */
    bool outparam_set;
    bool started;        /* response head sent */
    bool finished;       /* response complete */
    bool closed;         /* on_close seen */
};
void kh_wreq_unref(kh_wreq *r);
/* response-outparam and incoming-request handles for r. */
int kh_wreq_handles(kumo_wasi_ctx *ctx, kh_wreq *r, uint32_t *req_rep,
                    uint32_t *out_rep);
/* Start the response (outparam.set ok). */
void kh_wreq_respond(kh_wreq *r, kh_wresp *resp);
/* Answer with a plain-text status if nothing was sent, else abort. */
void kh_wreq_fail(kh_wreq *r, int status, const char *msg);

/* ---- instances and workloads (whttp_serve.c) */
struct kh_winst {
    kh_wwork *w;
    kumo_wasi_ctx *ctx; /* the slot: context and linker, reused */
    kumo_clinker *l;
    kumo_cpre *pre; /* the component pre-instantiated against l */
    kumo_store *store;
    kumo_cinstance *ci;
    kumo_cfunc *handle;
    kh_wreq *cur;
    uint32_t uses;
    bool snap;     /* the instance has a post-instantiation snapshot */
    bool trapped;
    bool running;  /* a request is in its guest */
    bool queued;   /* in the wake queue */
    bool expired;  /* its deadline passed */
    uint64_t deadline; /* uv_now ms, 0 none */
    kh_winst *next, *prev;   /* active list / idle list */
    kh_winst *wnext, *wprev; /* wake queue */
};
/* The instance whose context call runs in. */
kh_winst *kh_winst_of(kg_call *call);
/* Resume the instance's guest from the loop soon (an event it may wait
 * for happened). NULL is fine. */
void kh_wake(kh_winst *inst);
/* Wait (on the guest's fiber) until cond(arg) holds; 0 or a trap. */
int kh_wwait(kg_call *call, bool (*cond)(void *arg), void *arg);
/* The workload's loop, allow-list, client (made on first use). */
uv_loop_t *kh_wwork_loop(kh_wwork *w);
bool kh_wwork_allowed(kh_wwork *w, const char *scheme,
                      const char *authority);
kumo_http_client *kh_wwork_client(kh_wwork *w);

/* ---- error codes: fill a wasi:http error-code value */
void kh_werror(kx_wasi_http_types_error_code *e, uint32_t tag);
/* An io error object carrying a wasi:http error-code (http-error-code
 * returns it). 0 or a trap. */
int kh_wio_error(kg_call *call, uint32_t tag, kx_wasi_io_error_error *out);

#endif
