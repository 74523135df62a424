/* whttp_serve.c - workloads: a component exporting
 * wasi:http/incoming-handler served from the HTTP server's loop.
 *
 * Each request gets an instance and runs `handle` on a fiber (a stack of
 * its own, src/wasi/fiber.c), started from on_request: a guest that waits
 * (body bytes, room to write, wasi:io/poll) suspends its fiber and the
 * loop goes on; the server's later callbacks (on_body, on_writable,
 * on_close, ...) change the request's state and queue the instance in the
 * wake queue, which an idle handle drains on the loop's stack (never from
 * inside the server's callbacks), resuming the waits so they look again.
 *
 * An instance is a store + component instance on top of a *slot*: a WASI
 * context, a linker holding the WASI 0.2 and wasi:http bindings bound to
 * it and the component pre-instantiated against that linker (kumo_cpre:
 * imports resolved and type-checked, types evaluated, the plan made).
 * Defining the ~200 host functions and pre-instantiating cost
 * milliseconds, so slots are kept and reused; the context's table is
 * reset between instances, and an instance is only the per-instance part
 * of instantiation (kumo_cpre_instantiate). The pre is per slot, not per
 * workload, because the WASI bindings keep their context in the linker's
 * function environments and resource types. With
 * pool_size 0 every request gets a fresh store and instance (the default,
 * and what the fetch-event JavaScript components require); with pool_size
 * N a finished instance waits in the idle list for the next request until
 * it served max_invocations or trapped.
 *
 * Deadlines and time slices: the loop cannot see a guest that computes
 * without calling the host, so a watchdog thread (one per workload, a
 * tick every 10 ms while requests run; after a second without any it
 * sleeps until one starts) interrupts the stores of expired requests (the guest
 * traps at its next call or loop iteration) and wakes the loop through a
 * uv_async, whose callback cancels the waits of expired requests; every
 * other running store is asked to yield (kumo_store_request_yield): at its
 * next call or loop iteration the guest's fiber gives the loop one turn
 * (yield_slice), so a computing guest delays others by a slice, not by its
 * whole run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/base.h"
#include "../wasi/fiber.h"
#include "whttp.h"

#define WREQ_MAGIC 0x6b777271u
#define SPARE_SLOTS 64
#define WATCHDOG_DOZE_TICKS 100 /* of 10 ms */
/* Restored instances kept once the workload is idle: each keeps the pages
 * its requests touched, which only matter under load. */
#define FRESH_IDLE_KEEP 2
#define HANDLER "wasi:http/incoming-handler@0.2.0"

struct kumo_whttp_workload {
    uv_loop_t *loop;
    const kumo_component *c;
    kumo_whttp_config cfg;
    char **env;
    kumo_http_allow *allow;
    kumo_http_client *client;
    kh_winst *idle; /* warm instances (pool_size > 0) */
    uint32_t nidle;
    kh_winst *spare; /* slots without an instance */
    uint32_t nspare;
    kh_winst *fresh; /* restored to their snapshot (pool_size 0) */
    uint32_t nfresh;
    bool no_snapshot; /* instantiation calls the host: instantiate */
    kh_winst *active; /* serving (guarded by mu: the watchdog reads it) */
    uint32_t nactive;
    kh_winst *wake_head, *wake_tail;
    uv_idle_t idle_h;
    uv_async_t async;
    int open_handles;
    kumo_whttp_stats stats;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool has_th, stop, freeing;
    bool dozing; /* the watchdog waits for a request (guarded by mu) */
    bool trim;   /* idle: the loop should trim the fresh list (mu) */
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- slots and instances */

static void
slot_free(kh_winst *in)
{
    if (!in)
        return;
    kumo_cinstance_free(in->ci);
    kumo_store_free(in->store);
    kumo_cpre_free(in->pre); /* before the linker it was made with */
    kumo_wasi_ctx_free(in->ctx);
    kumo_clinker_free(in->l);
    kb_free(in);
}

static int
slot_new(kh_wwork *w, kh_winst **out)
{
    kh_winst *in = kb_calloc(1, sizeof *in);
    int rc = KUMO_ENOMEM;
    if (!in)
        return rc;
    in->w = w;
    if ((rc = kumo_wasi_ctx_new(&in->ctx)) || (rc = kumo_clinker_new(&in->l)))
        goto fail;
    kumo_wasi_ctx_stdio(in->ctx, -1, 1, 2);
    for (size_t i = 0; i < w->cfg.nenv; i++) {
        char *eq = strchr(w->env[i], '=');
        *eq = 0;
        rc = kumo_wasi_ctx_env(in->ctx, w->env[i], eq + 1);
        *eq = '=';
        if (rc)
            goto fail;
    }
    if ((rc = kx_p2_define(in->ctx, in->l, NULL)) ||
        (rc = kx_p2_set_host(in->ctx, in)))
        goto fail;
    *out = in;
    return 0;
fail:
    slot_free(in);
    return rc;
}

/* The store's yield function (kumo_store_set_yield): the watchdog asks
 * every running guest to yield each tick, so a guest that computes without
 * waiting lets the loop turn (other requests run, new ones are accepted or
 * refused at max_concurrency, timers fire) and is resumed right after. A
 * cancelled (expired) request stops the guest instead. */
static int
yield_slice(kumo_store *s, void *ud)
{
    kh_winst *in = ud;
    (void)s;
    return kx_wait_yield(in->ctx) == -KX_ECANCELED ? 1 : 0;
}

/* Make the store and the component instance of slot in (and the slot's
 * pre-instantiation the first time). */
static int
instantiate(kh_winst *in, kumo_diag *d)
{
    kh_wwork *w = in->w;
    kumo_store_config sc;
    kumo_store *s = NULL;
    int rc;

    if (!in->pre && (rc = kumo_cpre_new(w->c, in->l, &in->pre, d))) {
        in->trapped = true;
        return rc;
    }
    memset(&sc, 0, sizeof sc);
    if (w->cfg.max_memory_bytes) {
        uint64_t pages = w->cfg.max_memory_bytes / 65536u;
        sc.max_memory_pages = pages == 0 ? 1
                              : pages > 65536 ? 65536
                                              : (uint32_t)pages;
    }
    if ((rc = kumo_store_new(&sc, &s)))
        return rc;
    kumo_store_set_yield(s, yield_slice, in);
    pthread_mutex_lock(&w->mu);
    in->store = s;
    pthread_mutex_unlock(&w->mu);
    w->stats.instances++;
    rc = kumo_cpre_instantiate(in->pre, s, &in->ci, d);
    if (rc == 0 && kumo_cinstance_func(in->ci, HANDLER "#handle", &in->handle))
        rc = KUMO_ENOTFOUND;
    in->uses = 0;
    in->trapped = rc != 0;
    in->snap = false;
    if (rc == 0 && !w->cfg.pool_size && !w->cfg.no_snapshot &&
        !w->no_snapshot) {
        int src = kumo_cinstance_snapshot(in->ci);
        in->snap = src == 0;
        if (src == KUMO_EUNSUPPORTED) {
            /* its state depends on what the host answered: never reuse */
            w->no_snapshot = true;
            fprintf(stderr, "kumo: %s; fresh instances are instantiated "
                            "for every request\n",
                    "the component's instantiation calls the host");
        }
    }
    return rc;
}

/* The slot's side of ending an instance's request: the WASI context's
 * objects, its cancel flag and the instance's failure flags. */
static void
slot_reset(kh_winst *in)
{
    kx_p2_reset(in->ctx);
    atomic_store(&in->ctx->cancel, 0);
    in->trapped = in->expired = false;
}

/* Put an instance that served a request (pool_size 0) back to the state
 * right after its instantiation: the next request gets a fresh instance
 * without instantiating. False when it cannot be (then retire it). */
static bool
restore(kh_winst *in)
{
    kh_wwork *w = in->w;
    if (!in->snap || w->freeing || w->no_snapshot || w->cfg.pool_size ||
        w->nfresh >= SPARE_SLOTS)
        return false;
    slot_reset(in);
    pthread_mutex_lock(&w->mu);
    int rc = kumo_cinstance_restore(in->ci);
    pthread_mutex_unlock(&w->mu);
    if (rc)
        return false;
    in->uses = 0;
    in->next = w->fresh;
    w->fresh = in;
    w->nfresh++;
    w->stats.restores++;
    return true;
}

/* Drop the instance, keep (or free) the slot. */
static void
retire(kh_winst *in)
{
    kh_wwork *w = in->w;
    kumo_cinstance_free(in->ci);
    in->ci = NULL;
    in->handle = NULL;
    pthread_mutex_lock(&w->mu);
    kumo_store_free(in->store);
    in->store = NULL;
    pthread_mutex_unlock(&w->mu);
    slot_reset(in);
    if (w->freeing || w->nspare >= SPARE_SLOTS) {
        slot_free(in);
        return;
    }
    in->next = w->spare;
    w->spare = in;
    w->nspare++;
}

/* ---- the wake queue */

static void
on_idle(uv_idle_t *h)
{
    kh_wwork *w = h->data;
    while (w->wake_head) {
        kh_winst *in = w->wake_head;
        w->wake_head = in->wnext;
        if (!w->wake_head)
            w->wake_tail = NULL;
        in->wnext = NULL;
        in->queued = false;
        kx_wait_wake(in->ctx); /* may finish the request, free in */
    }
    uv_idle_stop(h);
}

void
kh_wake(kh_winst *in)
{
    if (!in || in->queued || !in->cur)
        return;
    kh_wwork *w = in->w;
    in->queued = true;
    in->wnext = NULL;
    if (w->wake_tail)
        w->wake_tail->wnext = in;
    else
        w->wake_head = in;
    w->wake_tail = in;
    uv_idle_start(&w->idle_h, on_idle);
}

static void
unqueue(kh_winst *in)
{
    kh_wwork *w = in->w;
    if (!in->queued)
        return;
    kh_winst **pp = &w->wake_head, *prev = NULL;
    while (*pp && *pp != in) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (*pp)
        *pp = in->wnext;
    if (w->wake_tail == in)
        w->wake_tail = prev;
    in->queued = false;
}

kh_winst *
kh_winst_of(kg_call *call)
{
    return kx_p2_host(KX_CTX(call));
}

int
kh_wwait(kg_call *call, bool (*cond)(void *arg), void *arg)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    while (!cond(arg)) {
        int rc = kx_wait_ext(ctx, NULL, 0, -1, true);
        if (rc == -KX_ECANCELED)
            return kg_call_trap(call, "deadline exceeded");
        if (rc < 0)
            return kg_call_trap(call, "wait: %s", kx_errno_name(-rc));
    }
    return 0;
}

uv_loop_t *
kh_wwork_loop(kh_wwork *w)
{
    return w->loop;
}

bool
kh_wwork_allowed(kh_wwork *w, const char *scheme, const char *authority)
{
    return !w->cfg.deny_outbound &&
           kumo_http_allow_match_authority(w->allow, scheme, authority);
}

kumo_http_client *
kh_wwork_client(kh_wwork *w)
{
    if (!w->client && kumo_http_client_new(w->loop, &w->client))
        w->client = NULL;
    return w->client;
}

/* ---- the server side of a request */

void
kh_wreq_unref(kh_wreq *r)
{
    if (!r || --r->refs > 0)
        return;
    kb_free(r->method);
    kb_free(r->path);
    kb_free(r->scheme);
    kb_free(r->authority);
    kh_wflist_free(&r->headers);
    /* a warm instance's leaked handles may outlive us: detach them */
    if (r->in)
        r->in->src_ops = NULL;
    kh_win_unref(r->in);
    if (r->out) {
        r->out->sink_ops = NULL;
        r->out->sink = NULL;
        r->out->broken = true;
    }
    kh_wout_unref(r->out);
    r->magic = 0;
    kb_free(r);
}

static void
src_pause(void *src, bool paused)
{
    kh_wreq *r = src;
    if (r->req)
        kumo_http_request_pause(r->req, paused);
}

static const kh_win_src server_src = {.pause = src_pause};

static int
sink_write(void *sink, const uint8_t *data, size_t len)
{
    kh_wreq *r = sink;
    if (!r->req || r->finished)
        return KUMO_EIO;
    return kumo_http_response_write(r->req, data, len);
}

static int
sink_finish(void *sink, const kumo_http_field *t, size_t n)
{
    kh_wreq *r = sink;
    if (!r->req || r->finished)
        return KUMO_EIO;
    r->finished = true;
    return kumo_http_response_finish(r->req, t, n);
}

static void
sink_abort(void *sink)
{
    kh_wreq *r = sink;
    if (r->req && !r->finished)
        kumo_http_response_abort(r->req);
    r->finished = true;
}

static const kh_wout_sink server_sink = {
    .write = sink_write, .finish = sink_finish, .abort = sink_abort};

void
kh_wreq_respond(kh_wreq *r, kh_wresp *resp)
{
    kumo_http_field *f = NULL;
    if (!r->req || r->finished) {
        if (resp->out)
            resp->out->broken = true;
        return;
    }
    if (kh_wflist_to_http(&resp->headers, &f) ||
        kumo_http_response_start(r->req, resp->status, f,
                                 resp->headers.n) != 0) {
        kb_free(f);
        if (resp->out)
            resp->out->broken = true;
        kh_wreq_fail(r, 500, "the response could not be sent");
        return;
    }
    kb_free(f);
    r->started = true;
    if (!resp->out) {
        r->finished = true;
        kumo_http_response_finish(r->req, NULL, 0);
        return;
    }
    r->out = resp->out;
    r->out->refs++;
    kh_wout_attach(r->out, &server_sink, r);
}

void
kh_wreq_fail(kh_wreq *r, int status, const char *msg)
{
    static const kumo_http_field ct = {(const uint8_t *)"content-type", 12,
                                       (const uint8_t *)"text/plain", 10};
    char body[256];
    if (!r->req || r->finished)
        return;
    r->finished = true;
    if (r->started) {
        kumo_http_response_abort(r->req);
        return;
    }
    r->started = true;
    int n = snprintf(body, sizeof body, "%s\n", msg);
    kumo_http_respond(r->req, status, &ct, 1, (const uint8_t *)body,
                      n < 0 ? 0 : (size_t)n < sizeof body ? (size_t)n
                                                          : sizeof body - 1);
}

static char *
wdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kb_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static kh_wreq *
wreq_new(kh_wwork *w, kumo_http_request *req)
{
    kh_wreq *r = kb_calloc(1, sizeof *r);
    size_t n;
    if (!r)
        return NULL;
    r->magic = WREQ_MAGIC;
    r->refs = 1;
    r->w = w;
    r->req = req;
    const kumo_http_field *h = kumo_http_request_headers(req, &n);
    r->method = wdup(kumo_http_request_method(req));
    r->path = wdup(kumo_http_request_path(req));
    r->scheme = wdup(kumo_http_request_scheme(req));
    r->authority = wdup(kumo_http_request_authority(req));
    r->in = kh_win_new(NULL, &server_src, r, w->cfg.body_buffer_bytes);
    if (!r->method || !r->path || !r->scheme || !r->authority || !r->in ||
        kh_wflist_from_http(&r->headers, h, n)) {
        kh_wreq_unref(r);
        return NULL;
    }
    return r;
}

/* ---- running a request */

static void
report(kh_winst *in, const char *what, const char *msg)
{
    kh_wreq *r = in->cur;
    fprintf(stderr, "kumo: %s %s: %s: %s\n", r->method, r->path, what,
            msg && msg[0] ? msg : "(no message)");
}

/* The fiber: instantiate when needed, call handle. */
static void
run(void *arg)
{
    kh_winst *in = arg;
    kh_wwork *w = in->w;
    kumo_diag d;
    uint32_t qrep, prep;
    int rc;

    atomic_store(&in->ctx->cancel, 0);
    memset(&d, 0, sizeof d);
    if (!in->ci && (rc = instantiate(in, &d))) {
        report(in, "cannot instantiate",
               d.message[0] ? d.message : kumo_strerror(rc));
        in->trapped = true;
        return;
    }
    if (kh_wreq_handles(in->ctx, in->cur, &qrep, &prep)) {
        in->trapped = true;
        return;
    }
    kumo_cresource **res = in->ctx->p2->binds[0]->res;
    kumo_cval a[2];
    memset(a, 0, sizeof a);
    a[0].kind = a[1].kind = KUMO_CV_OWN;
    a[0].u.handle.type = res[KX_RES_WASI_HTTP_TYPES_INCOMING_REQUEST];
    a[0].u.handle.rep = qrep;
    a[1].u.handle.type = res[KX_RES_WASI_HTTP_TYPES_RESPONSE_OUTPARAM];
    a[1].u.handle.rep = prep;
    kumo_store_set_fuel(in->store, w->cfg.fuel ? w->cfg.fuel : UINT64_MAX);
    in->uses++;
    in->running = true;
    rc = kumo_cfunc_call(in->handle, a, 2, NULL, 0);
    in->running = false;
    if (rc) {
        in->trapped = true;
        if (in->deadline && now_ms() >= in->deadline)
            in->expired = true; /* the watchdog's interrupt */
        w->stats.traps++;
        report(in, "trap",
               in->expired || atomic_load(&in->ctx->cancel)
                   ? "deadline exceeded"
                   : kumo_cinstance_trap_message(in->ci));
    } else {
        w->stats.served++;
    }
}

static void
active_remove(kh_winst *in)
{
    kh_wwork *w = in->w;
    pthread_mutex_lock(&w->mu);
    if (in->prev)
        in->prev->next = in->next;
    else
        w->active = in->next;
    if (in->next)
        in->next->prev = in->prev;
    in->next = in->prev = NULL;
    w->nactive--;
    in->deadline = 0;
    pthread_mutex_unlock(&w->mu);
}

static void done(void *arg);

/* An instance for the next request: warm, or a slot to instantiate in. */
static kh_winst *
take_instance(kh_wwork *w)
{
    kh_winst *in;
    if ((in = w->idle)) {
        w->idle = in->next;
        w->nidle--;
    } else if ((in = w->fresh)) {
        w->fresh = in->next;
        w->nfresh--;
    } else if ((in = w->spare)) {
        w->spare = in->next;
        w->nspare--;
    } else if (slot_new(w, &in)) {
        return NULL;
    }
    in->next = in->prev = NULL;
    return in;
}

/* Run r (which holds a reference for the run) on an instance. */
static void
start(kh_wwork *w, kh_wreq *r)
{
    kh_winst *in = take_instance(w);
    if (!in) {
        kh_wreq_fail(r, 500, "out of memory");
        kh_wreq_unref(r);
        return;
    }
    r->inst = in;
    r->in->inst = in;
    in->cur = r;
    pthread_mutex_lock(&w->mu);
    in->next = w->active;
    if (w->active)
        w->active->prev = in;
    w->active = in;
    w->nactive++;
    in->deadline = w->cfg.timeout_ms ? now_ms() + w->cfg.timeout_ms : 0;
    if (w->dozing)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (kx_fiber_start(w->loop, run, in, done)) {
        in->trapped = true;
        done(in);
    }
}

/* A warm instance that answered before returned now without answering
 * nor touching the request: it serves one request per instance (as
 * JavaScript fetch-event components do). Reuse stops for the workload and
 * the request runs again on a fresh instance. */
static bool
single_use(kh_winst *in, kh_wreq *r)
{
    kh_wwork *w = in->w;
    if (in->trapped || r->outparam_set || in->uses < 2 || r->in->given ||
        !r->req || r->started || w->freeing)
        return false;
    if (w->cfg.pool_size)
        fprintf(stderr, "kumo: %s: instances serve one request each; "
                        "warm reuse disabled\n", r->path);
    w->cfg.pool_size = 0;
    return true;
}

/* After the fiber: answer what the guest left unanswered, detach the
 * request, keep or retire the instance. */
static void
done(void *arg)
{
    kh_winst *in = arg;
    kh_wwork *w = in->w;
    kh_wreq *r = in->cur;
    bool again = single_use(in, r);

    if (again)
        in->trapped = true; /* retire it */
    else if (in->trapped)
        kh_wreq_fail(r, 500, in->expired ? "deadline exceeded"
                                         : "internal error");
    else if (!r->outparam_set)
        kh_wreq_fail(r, 500, "the component sent no response");
    unqueue(in);
    active_remove(in);
    in->cur = NULL;
    r->inst = NULL;
    r->in->inst = NULL;
    if (r->out)
        r->out->inst = NULL;
    if (!w->freeing && w->cfg.pool_size && !in->trapped &&
        w->nidle < w->cfg.pool_size &&
        (!w->cfg.max_invocations || in->uses < w->cfg.max_invocations)) {
        in->next = w->idle;
        w->idle = in;
        w->nidle++;
    } else if (!restore(in)) {
        retire(in);
    }
    if (again) {
        r->consumed = false;
        r->in->taken = false;
        start(w, r);
        return;
    }
    r->in->discard = true; /* an unread body is dropped */
    r->in->off = r->in->len = 0;
    if (r->in->paused && r->req)
        kumo_http_request_pause(r->req, false);
    r->in->paused = false;
    /* a guest that finished without finishing its body: incomplete */
    if (!r->finished && r->outparam_set && r->started)
        kh_wreq_fail(r, 500, "incomplete response");
    kh_wreq_unref(r);
}

void
kumo_whttp_serve(kumo_whttp_workload *w, kumo_http_request *req)
{
    kh_wreq *r;

    w->stats.requests++;
    if (w->freeing ||
        (w->cfg.max_concurrency && w->nactive >= w->cfg.max_concurrency)) {
        w->stats.rejected++;
        kumo_http_respond(req, 503, NULL, 0,
                          (const uint8_t *)"too many requests\n", 18);
        return;
    }
    if (!(r = wreq_new(w, req))) {
        w->stats.rejected++;
        kumo_http_respond(req, 500, NULL, 0,
                          (const uint8_t *)"out of memory\n", 14);
        return;
    }
    kumo_http_request_set_data(req, r);
    r->refs++; /* the run's reference; the first is the server's */
    start(w, r);
}

/* ---- forwarding the server's callbacks */

static kh_wreq *
of(const kumo_http_request *req)
{
    kh_wreq *r = kumo_http_request_data(req);
    return r && r->magic == WREQ_MAGIC && r->req == req ? r : NULL;
}

bool
kumo_whttp_owns(const kumo_http_request *req)
{
    return of(req) != NULL;
}

void
kumo_whttp_on_body(kumo_http_request *req, const uint8_t *data, size_t len)
{
    kh_wreq *r = of(req);
    if (r && kh_win_push(r->in, data, len))
        kh_win_fail(r->in, KX_WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR);
}

void
kumo_whttp_on_body_end(kumo_http_request *req)
{
    kh_wreq *r = of(req);
    size_t n;
    if (!r)
        return;
    const kumo_http_field *t = kumo_http_request_trailers(req, &n);
    kh_win_end(r->in, t, n);
}

void
kumo_whttp_on_writable(kumo_http_request *req)
{
    kh_wreq *r = of(req);
    if (r && r->out)
        kh_wout_writable(r->out);
}

/* Stop the guest of in: its waits end with a trap, its computing traps at
 * the next call or loop iteration. */
static void
expire(kh_winst *in)
{
    in->expired = true;
    atomic_store(&in->ctx->cancel, 1);
    pthread_mutex_lock(&in->w->mu);
    if (in->store)
        kumo_store_interrupt(in->store);
    pthread_mutex_unlock(&in->w->mu);
    kh_wake(in);
}

void
kumo_whttp_on_deadline(kumo_http_request *req)
{
    kh_wreq *r = of(req);
    if (!r)
        return;
    if (r->inst)
        expire(r->inst);
    kh_wreq_fail(r, 500, "deadline exceeded");
}

void
kumo_whttp_on_close(kumo_http_request *req, int error)
{
    kh_wreq *r = of(req);
    (void)error;
    if (!r)
        return;
    r->req = NULL;
    r->closed = true;
    kumo_http_request_set_data(req, NULL);
    kh_win_fail(r->in, KX_WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TERMINATED);
    if (r->out)
        kh_wout_gone(r->out);
    kh_wreq_unref(r);
}

/* ---- the watchdog */

static void
on_async(uv_async_t *h)
{
    kh_wwork *w = h->data;
    uint64_t now = now_ms();
    pthread_mutex_lock(&w->mu);
    bool trim = w->trim && !w->active;
    w->trim = false;
    pthread_mutex_unlock(&w->mu);
    while (trim && w->nfresh > FRESH_IDLE_KEEP) {
        kh_winst *in = w->fresh;
        w->fresh = in->next;
        w->nfresh--;
        retire(in);
    }
    /* expire() may end a request (not here: it only queues a wake), so
     * the list is stable while we walk it */
    for (kh_winst *in = w->active; in; in = in->next)
        if (in->deadline && now >= in->deadline && !in->expired)
            expire(in);
}

static void *
watchdog(void *arg)
{
    kh_wwork *w = arg;
    uint32_t empty = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        bool any = false;
        /* Idle for a second: sleep until a request starts (start() wakes
         * us), so an idle server does not wake 100 times a second. */
        empty = w->active ? 0 : empty + 1;
        if (empty >= WATCHDOG_DOZE_TICKS) {
            w->dozing = true;
            w->trim = true;
            uv_async_send(&w->async);
            pthread_cond_wait(&w->cv, &w->mu);
            w->dozing = false;
            empty = 0;
            continue;
        }
        uint64_t now = now_ms();
        for (kh_winst *in = w->active; in; in = in->next) {
            if (in->deadline && now >= in->deadline) {
                if (in->store)
                    kumo_store_interrupt(in->store);
                any = true;
            } else if (in->store) {
                kumo_store_request_yield(in->store); /* time slice */
            }
        }
        if (any)
            uv_async_send(&w->async);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- workloads */

static bool
exports_handler(const kumo_component *c)
{
    for (uint32_t i = 0; i < kumo_component_export_count(c); i++) {
        kumo_component_item it;
        if (kumo_component_export(c, i, &it) == 0 &&
            it.sort == KUMO_COMPONENT_INSTANCE &&
            kumo_cname_match(it.name, it.name_len, HANDLER,
                             strlen(HANDLER)))
            return true;
    }
    return false;
}

static int
copy_config(kh_wwork *w, const kumo_whttp_config *cfg, kumo_diag *d)
{
    int rc;
    if (cfg)
        w->cfg = *cfg;
    w->cfg.env = NULL;
    w->cfg.allow_hosts = NULL;
    w->cfg.nallow_hosts = 0;
    if (w->cfg.nenv && !(w->env = kb_calloc(w->cfg.nenv, sizeof *w->env)))
        return KUMO_ENOMEM;
    for (size_t i = 0; i < w->cfg.nenv; i++) {
        if (!strchr(cfg->env[i], '=') || cfg->env[i][0] == '=') {
            kb_diag(d, KUMO_EINVAL, 0, "bad environment entry `%s`",
                          cfg->env[i]);
            return KUMO_EINVAL;
        }
        if (!(w->env[i] = wdup(cfg->env[i])))
            return KUMO_ENOMEM;
    }
    for (size_t i = 0; cfg && i < cfg->nallow_hosts; i++)
        if ((rc = kumo_http_allow_add(&w->allow, cfg->allow_hosts[i], d)))
            return rc;
    return 0;
}

static void
on_handle_closed(uv_handle_t *h)
{
    kh_wwork *w = h->data;
    if (--w->open_handles > 0)
        return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    kb_free(w);
}

/* Check c by instantiating it once in a slot (kept as the first warm
 * instance or spare slot). */
static int
first_instance(kh_wwork *w, kumo_diag *d)
{
    kh_winst *in;
    int rc = slot_new(w, &in);
    if (rc)
        return rc;
    if ((rc = instantiate(in, d))) {
        if (rc == KUMO_ENOTFOUND && !d->message[0])
            kb_diag(d, rc, 0, "no `%s#handle` function", HANDLER);
        slot_free(in);
        return rc;
    }
    if (w->cfg.pool_size) {
        in->next = w->idle;
        w->idle = in;
        w->nidle++;
    } else if (!restore(in)) {
        retire(in);
    }
    return 0;
}

int
kumo_whttp_workload_new(uv_loop_t *loop, const kumo_component *c,
                        const kumo_whttp_config *cfg,
                        kumo_whttp_workload **out, kumo_diag *d)
{
    kumo_diag local;
    kh_wwork *w;
    int rc;

    if (!d)
        d = &local;
    memset(d, 0, sizeof *d);
    *out = NULL;
    if (!exports_handler(c)) {
        kb_diag(d, KUMO_ENOTFOUND, 0,
                      "the component does not export "
                      "wasi:http/incoming-handler@0.2.x");
        return KUMO_ENOTFOUND;
    }
    if (!(w = kb_calloc(1, sizeof *w)))
        return KUMO_ENOMEM;
    w->loop = loop;
    w->c = c;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    uv_idle_init(loop, &w->idle_h);
    uv_async_init(loop, &w->async, on_async);
    w->idle_h.data = w->async.data = w;
    w->open_handles = 2;
    uv_unref((uv_handle_t *)&w->async);
    if ((rc = copy_config(w, cfg, d)) || (rc = first_instance(w, d)))
        goto fail;
    /* the watchdog also drives time slicing: always started */
    if (pthread_create(&w->th, NULL, watchdog, w) == 0)
        w->has_th = true;
    *out = w;
    return 0;
fail:
    if (rc == KUMO_ENOMEM && !d->message[0])
        kb_diag(d, rc, 0, "out of memory");
    kumo_whttp_workload_free(w);
    return rc;
}

void
kumo_whttp_workload_free(kumo_whttp_workload *w)
{
    if (!w)
        return;
    w->freeing = true;
    if (w->has_th) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
    }
    /* stop running guests: each resumes, traps and finishes its request */
    while (w->active) {
        kh_winst *in = w->active;
        expire(in);
        unqueue(in);
        kx_wait_wake(in->ctx);
        if (w->active == in) /* not waiting: cannot happen on the loop */
            break;
    }
    while (w->idle) {
        kh_winst *in = w->idle;
        w->idle = in->next;
        slot_free(in);
    }
    while (w->spare) {
        kh_winst *in = w->spare;
        w->spare = in->next;
        slot_free(in);
    }
    while (w->fresh) {
        kh_winst *in = w->fresh;
        w->fresh = in->next;
        slot_free(in);
    }
    if (w->client)
        kumo_http_client_free(w->client);
    kumo_http_allow_free(w->allow);
    for (size_t i = 0; w->env && i < w->cfg.nenv; i++)
        kb_free(w->env[i]);
    kb_free(w->env);
    uv_close((uv_handle_t *)&w->idle_h, on_handle_closed);
    uv_close((uv_handle_t *)&w->async, on_handle_closed);
}

void
kumo_whttp_workload_stats(const kumo_whttp_workload *w, kumo_whttp_stats *out)
{
    *out = w->stats;
    out->active = w->nactive;
    out->idle = w->nidle;
}
