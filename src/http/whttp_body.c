/* whttp_body.c - bodies between the guest and the network. An incoming
 * body (kh_win) is a bounded buffer the producer (the server's on_body, or
 * the client's) fills and pauses on when full; the guest reads it through
 * an input-stream and gets the trailers from future-trailers. An outgoing
 * body (kh_wout) passes the guest's writes to a sink (the server response
 * or the client request) as they come, holding them only until the sink
 * is attached (a response whose outparam is not set yet); the sink's
 * backpressure shows as check-write 0 and a pollable that waits for
 * writable. Nothing is ever buffered whole. */
#include <stdlib.h>
#include <string.h>

#include "../base/base.h"
#include "whttp.h"

typedef kx_wasi_io_streams_stream_error stream_error;

#define PENDING_MAX (1u << 20) /* held before the sink is attached */
#define WRITE_BUDGET 65536u    /* check-write when the sink has room */
#define PENDING_HARD (64u << 20) /* a guest writing past check-write */

/* ---- kh_win */

kh_win *
kh_win_new(kh_winst *inst, const kh_win_src *ops, void *src, size_t high)
{
    kh_win *in = kb_calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->refs = 1;
    in->inst = inst;
    in->src_ops = ops;
    in->src = src;
    in->high = high ? high : 256u * 1024;
    return in;
}

void
kh_win_unref(kh_win *in)
{
    if (!in || --in->refs > 0)
        return;
    kb_free(in->buf);
    kh_wflist_free(&in->trailers);
    kb_free(in);
}

static void
set_paused(kh_win *in, bool paused)
{
    if (in->paused == paused || !in->src_ops)
        return;
    in->paused = paused;
    in->src_ops->pause(in->src, paused);
}

int
kh_win_push(kh_win *in, const uint8_t *data, size_t len)
{
    if (in->discard || in->eof || in->failed || len == 0)
        return 0;
    if (in->off && in->off + in->len + len > in->cap) {
        memmove(in->buf, in->buf + in->off, in->len);
        in->off = 0;
    }
    if (in->len + len > in->cap) {
        size_t cap = in->cap ? in->cap : 16384;
        while (cap < in->len + len)
            cap *= 2;
        uint8_t *b = kb_realloc(in->buf, cap);
        if (!b)
            return KUMO_ENOMEM;
        in->buf = b;
        in->cap = cap;
    }
    memcpy(in->buf + in->off + in->len, data, len);
    in->len += len;
    if (in->len >= in->high)
        set_paused(in, true);
    kh_wake(in->inst);
    return 0;
}

void
kh_win_end(kh_win *in, const kumo_http_field *trailers, size_t n)
{
    if (in->eof || in->failed)
        return;
    in->eof = true;
    if (kh_wflist_from_http(&in->trailers, trailers, n))
        kh_wflist_free(&in->trailers);
    kh_wake(in->inst);
}

void
kh_win_fail(kh_win *in, uint32_t error)
{
    if (in->eof || in->failed)
        return;
    in->failed = true;
    in->error = error;
    kh_wake(in->inst);
}

/* The producer may go on: room again, or the guest lost interest. */
static void
drained(kh_win *in)
{
    if (in->discard) {
        in->off = in->len = 0;
        set_paused(in, false);
    } else if (in->len < in->high / 2) {
        set_paused(in, false);
    }
}

/* ---- input-stream on a kh_win */

typedef struct instream {
    kh_wobj o;
    kh_win *in;
} instream;

static void
instream_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    instream *s = (instream *)e;
    (void)ctx;
    (void)kind;
    if (s->o.ext.slots > 0)
        return;
    kh_win_unref(s->in);
    kb_free(s);
}

static bool
win_readable(void *arg)
{
    kh_win *in = arg;
    return in->len > 0 || in->eof || in->failed || !in->inst;
}

static bool
instream_ready(kx_p2ext *e)
{
    return win_readable(((instream *)e)->in);
}

static int
instream_read(kg_call *call, kx_p2ext *e, uint64_t len, bool block,
              kx_p2_res_bytes *ret)
{
    kh_win *in = ((instream *)e)->in;
    if (block && len > 0 && !win_readable(in)) {
        int rc = kh_wwait(call, win_readable, in);
        if (rc)
            return rc;
    }
    if (in->len == 0 && (in->eof || !in->inst)) {
        ret->is_err = true;
        ret->val.err.tag = KX_WASI_IO_STREAMS_STREAM_ERROR_CLOSED;
        return 0;
    }
    if (in->len == 0 && in->failed) {
        ret->is_err = true;
        ret->val.err.tag =
            KX_WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED;
        return kh_wio_error(call, in->error,
                            &ret->val.err.val.last_operation_failed);
    }
    static const uint8_t none[1];
    size_t n = len < in->len ? (size_t)len : in->len;
    const uint8_t *buf = none; /* an empty read (len 0, or nothing yet) */
    if (n) {
        uint8_t *b = kg_call_alloc(call, n);
        if (!b)
            return kx_p2_oom(call);
        memcpy(b, in->buf + in->off, n);
        buf = b;
    }
    in->given |= n > 0;
    in->off += n;
    in->len -= n;
    if (in->len == 0)
        in->off = 0;
    drained(in);
    ret->is_err = false;
    ret->val.ok.ptr = buf;
    ret->val.ok.len = n;
    return 0;
}

static const kx_p2ops instream_ops = {
    .name = "input-stream",
    .release = instream_release,
    .read = instream_read,
    .ready = instream_ready,
};

/* ---- incoming-body */

typedef struct inbody {
    kh_wobj o;
    kh_win *in;
} inbody;

static void
inbody_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    inbody *b = (inbody *)e;
    (void)ctx;
    (void)kind;
    if (b->o.ext.slots > 0)
        return;
    kh_win_unref(b->in);
    kb_free(b);
}

static const kx_p2ops inbody_ops = {.name = "incoming-body",
                                    .release = inbody_release};

int
kh_win_body_new(kg_call *call, kh_win *in, uint32_t *rep)
{
    inbody *b = kb_calloc(1, sizeof *b);
    if (!b)
        return kx_p2_oom(call);
    b->o.ext.ops = &inbody_ops;
    b->in = in;
    in->refs++;
    int rc = kh_wslot(call, KX_P2_EXT, &b->o, rep);
    if (rc)
        inbody_release(KX_CTX(call), &b->o.ext, KX_P2_EXT);
    return rc;
}

void
kx_wasi_http_types_incoming_body_drop(void *env,
                                      kx_wasi_http_types_incoming_body self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_method_incoming_body_stream(
    kg_call *call, kx_wasi_http_types_incoming_body self,
    kx_result_wasi_io_streams_input_stream_void *ret)
{
    inbody *b = kh_wget(call, self.rep, KX_P2_EXT, &inbody_ops);
    if (!b)
        return kx_p2_badhandle(call);
    if (b->in->taken) {
        ret->is_err = true;
        return 0;
    }
    instream *s = kb_calloc(1, sizeof *s);
    if (!s)
        return kx_p2_oom(call);
    b->in->taken = true;
    s->o.ext.ops = &instream_ops;
    s->in = b->in;
    s->in->refs++;
    ret->is_err = false;
    int rc = kh_wslot(call, KX_P2_INSTREAM, &s->o, &ret->val.ok.rep);
    if (rc)
        instream_release(KX_CTX(call), &s->o.ext, KX_P2_INSTREAM);
    return rc;
}

/* ---- future-trailers */

typedef struct ftrailers {
    kh_wobj o;
    kh_win *in;
    bool got;
} ftrailers;

static void
ftrailers_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    ftrailers *t = (ftrailers *)e;
    (void)ctx;
    (void)kind;
    if (t->o.ext.slots > 0)
        return;
    kh_win_unref(t->in);
    kb_free(t);
}

static bool
ftrailers_ready(kx_p2ext *e)
{
    kh_win *in = ((ftrailers *)e)->in;
    return in->eof || in->failed || !in->inst;
}

static const kx_p2ops ftrailers_ops = {.name = "future-trailers",
                                       .release = ftrailers_release,
                                       .ready = ftrailers_ready};

void
kx_wasi_http_types_future_trailers_drop(
    void *env, kx_wasi_http_types_future_trailers self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_static_incoming_body_finish(
    kg_call *call, kx_wasi_http_types_incoming_body this_,
    kx_wasi_http_types_future_trailers *ret)
{
    inbody *b = kh_wtake(call, this_.rep, &inbody_ops);
    if (!b)
        return kx_p2_badhandle(call);
    ftrailers *t = kb_calloc(1, sizeof *t);
    int rc = 0;
    if (!t) {
        rc = kx_p2_oom(call);
    } else {
        t->o.ext.ops = &ftrailers_ops;
        t->in = b->in;
        t->in->refs++;
        t->in->discard = true; /* what the guest did not read is dropped */
        drained(t->in);
        if ((rc = kh_wslot(call, KX_P2_EXT, &t->o, &ret->rep)))
            ftrailers_release(KX_CTX(call), &t->o.ext, KX_P2_EXT);
    }
    kh_wput(KX_CTX(call), &b->o);
    return rc;
}

int
kx_wasi_http_types_method_future_trailers_subscribe(
    kg_call *call, kx_wasi_http_types_future_trailers self,
    kx_wasi_io_poll_pollable *ret)
{
    ftrailers *t = kh_wget(call, self.rep, KX_P2_EXT, &ftrailers_ops);
    if (!t)
        return kx_p2_badhandle(call);
    int rc = kx_p2_pollable_ext(call, &t->o.ext, ret);
    return rc;
}

int
kx_wasi_http_types_method_future_trailers_get(
    kg_call *call, kx_wasi_http_types_future_trailers self,
    kx_option_result_result_option_wasi_http_types_fields_wasi_http_types_error_code_void
        *ret)
{
    ftrailers *t = kh_wget(call, self.rep, KX_P2_EXT, &ftrailers_ops);
    if (!t)
        return kx_p2_badhandle(call);
    kh_win *in = t->in;
    ret->is_some = ftrailers_ready(&t->o.ext);
    if (!ret->is_some)
        return 0;
    if (t->got) {
        ret->val.is_err = true;
        return 0;
    }
    t->got = true;
    ret->val.is_err = false;
    if (in->failed || !in->eof) {
        ret->val.val.ok.is_err = true;
        kh_werror(&ret->val.val.ok.val.err,
                  in->failed ? in->error
                             : KX_WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TERMINATED);
        return 0;
    }
    ret->val.val.ok.is_err = false;
    ret->val.val.ok.val.ok.is_some = in->trailers.n > 0;
    if (in->trailers.n == 0)
        return 0;
    kh_wflist l = in->trailers;
    memset(&in->trailers, 0, sizeof in->trailers);
    /* trailers the guest receives are immutable, as headers are */
    return kh_wfields_new(call, &l, true, &ret->val.val.ok.val.ok.val.rep);
}

/* ---- kh_wout */

kh_wout *
kh_wout_new(kh_winst *inst)
{
    kh_wout *out = kb_calloc(1, sizeof *out);
    if (out) {
        out->refs = 1;
        out->inst = inst;
    }
    return out;
}

void
kh_wout_unref(kh_wout *out)
{
    if (!out || --out->refs > 0)
        return;
    kb_free(out->pending);
    kh_wflist_free(&out->trailers);
    kb_free(out);
}

/* Hand bytes to the sink. */
static void
sink_write(kh_wout *out, const uint8_t *data, size_t len)
{
    int rc = out->sink_ops->write(out->sink, data, len);
    if (rc == KUMO_HTTP_BLOCKED)
        out->blocked = true;
    else if (rc < 0)
        out->broken = true;
}

static void
sink_finish(kh_wout *out)
{
    kumo_http_field *t = NULL;
    if (out->broken)
        return;
    if (out->has_trailers && kh_wflist_to_http(&out->trailers, &t)) {
        out->sink_ops->abort(out->sink);
        out->broken = true;
        return;
    }
    if (out->sink_ops->finish(out->sink, t, out->has_trailers
                                                 ? out->trailers.n
                                                 : 0) < 0)
        out->broken = true;
    kb_free(t);
}

void
kh_wout_attach(kh_wout *out, const kh_wout_sink *ops, void *sink)
{
    out->sink_ops = ops;
    out->sink = sink;
    if (out->npending)
        sink_write(out, out->pending, out->npending);
    kb_free(out->pending);
    out->pending = NULL;
    out->npending = out->cap = 0;
    if (out->aborted)
        ops->abort(sink);
    else if (out->finished)
        sink_finish(out);
    kh_wake(out->inst);
}

void
kh_wout_writable(kh_wout *out)
{
    out->blocked = false;
    kh_wake(out->inst);
}

void
kh_wout_gone(kh_wout *out)
{
    out->broken = true;
    out->sink_ops = NULL;
    out->sink = NULL;
    kh_wake(out->inst);
}

/* Room for a write now (bytes). */
static size_t
room(const kh_wout *out)
{
    if (out->broken || out->finished)
        return 0;
    if (!out->sink_ops)
        return out->npending < PENDING_MAX ? PENDING_MAX - out->npending : 0;
    return out->blocked ? 0 : WRITE_BUDGET;
}

static bool
wout_writable(void *arg)
{
    kh_wout *out = arg;
    return out->broken || room(out) > 0 || !out->inst;
}

/* Accept len bytes (whatever the room: the caller waits before or after). */
static int
wout_put(kh_wout *out, const uint8_t *data, size_t len)
{
    if (out->has_limit && out->written + len > out->limit)
        return -1;
    out->written += len;
    if (out->sink_ops) {
        sink_write(out, data, len);
        return out->broken ? -1 : 0;
    }
    if (len > PENDING_HARD || out->npending + len > PENDING_HARD)
        return -1;
    if (len == 0)
        return 0;
    if (kb_reserve((void **)&out->pending, &out->cap,
                   (uint32_t)(out->npending + len), 1))
        return KUMO_ENOMEM;
    memcpy(out->pending + out->npending, data, len);
    out->npending += len;
    return 0;
}

/* ---- output-stream on a kh_wout */

typedef struct outstream {
    kh_wobj o;
    kh_wout *out;
} outstream;

static void
outstream_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    outstream *s = (outstream *)e;
    (void)ctx;
    (void)kind;
    if (s->o.ext.slots > 0)
        return;
    kh_wout_unref(s->out);
    kb_free(s);
}

static bool
outstream_ready(kx_p2ext *e)
{
    return wout_writable(((outstream *)e)->out);
}

static void
closed(stream_error *err)
{
    err->tag = KX_WASI_IO_STREAMS_STREAM_ERROR_CLOSED;
}

static int
outstream_check(kg_call *call, kx_p2ext *e, kx_p2_res_u64 *ret)
{
    kh_wout *out = ((outstream *)e)->out;
    (void)call;
    if (out->broken || out->finished || !out->inst) {
        ret->is_err = true;
        closed(&ret->val.err);
        return 0;
    }
    ret->is_err = false;
    ret->val.ok = room(out);
    return 0;
}

/* Wait until the sink took everything (blocking flush). */
static bool
flushed(void *arg)
{
    kh_wout *out = arg;
    return out->broken || !out->inst || (out->sink_ops && !out->blocked) ||
           (!out->sink_ops && out->npending < PENDING_MAX);
}

static int
outstream_flush(kg_call *call, kx_p2ext *e, bool block, kx_p2_res_void *ret)
{
    kh_wout *out = ((outstream *)e)->out;
    if (block && !flushed(out)) {
        int rc = kh_wwait(call, flushed, out);
        if (rc)
            return rc;
    }
    ret->is_err = out->broken || !out->inst;
    if (ret->is_err)
        closed(&ret->val.err);
    return 0;
}

static int
outstream_write(kg_call *call, kx_p2ext *e, const uint8_t *buf, size_t len,
                bool block, kx_p2_res_void *ret)
{
    kh_wout *out = ((outstream *)e)->out;
    int rc;
    if (block && !wout_writable(out) && (rc = kh_wwait(call, wout_writable,
                                                       out)))
        return rc;
    if (out->broken || out->finished || !out->inst) {
        ret->is_err = true;
        closed(&ret->val.err);
        return 0;
    }
    rc = wout_put(out, buf, len);
    if (rc == KUMO_ENOMEM)
        return kx_p2_oom(call);
    if (rc < 0) {
        ret->is_err = true;
        closed(&ret->val.err);
        return 0;
    }
    if (block)
        return outstream_flush(call, e, true, ret);
    ret->is_err = false;
    return 0;
}

static const kx_p2ops outstream_ops = {
    .name = "output-stream",
    .release = outstream_release,
    .check_write = outstream_check,
    .write = outstream_write,
    .flush = outstream_flush,
    .ready = outstream_ready,
};

/* ---- outgoing-body */

typedef struct outbody {
    kh_wobj o;
    kh_wout *out;
    bool done; /* finish consumed it */
} outbody;

static void
outbody_release(kumo_wasi_ctx *ctx, kx_p2ext *e, kx_p2kind kind)
{
    outbody *b = (outbody *)e;
    (void)ctx;
    (void)kind;
    if (b->o.ext.slots > 0)
        return;
    kh_wout *out = b->out;
    if (!b->done && !out->finished && !out->aborted) {
        /* dropped without finish: the body is incomplete */
        out->aborted = true;
        if (out->sink_ops)
            out->sink_ops->abort(out->sink);
    }
    kh_wout_unref(out);
    kb_free(b);
}

static const kx_p2ops outbody_ops = {.name = "outgoing-body",
                                     .release = outbody_release};

int
kh_wout_body_new(kg_call *call, kh_wout *out, uint32_t *rep)
{
    outbody *b = kb_calloc(1, sizeof *b);
    if (!b)
        return kx_p2_oom(call);
    b->o.ext.ops = &outbody_ops;
    b->out = out;
    out->refs++;
    int rc = kh_wslot(call, KX_P2_EXT, &b->o, rep);
    if (rc) {
        b->done = true;
        outbody_release(KX_CTX(call), &b->o.ext, KX_P2_EXT);
    }
    return rc;
}

void
kx_wasi_http_types_outgoing_body_drop(void *env,
                                      kx_wasi_http_types_outgoing_body self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_http_types_method_outgoing_body_write(
    kg_call *call, kx_wasi_http_types_outgoing_body self,
    kx_result_wasi_io_streams_output_stream_void *ret)
{
    outbody *b = kh_wget(call, self.rep, KX_P2_EXT, &outbody_ops);
    if (!b)
        return kx_p2_badhandle(call);
    if (b->out->taken) {
        ret->is_err = true;
        return 0;
    }
    outstream *s = kb_calloc(1, sizeof *s);
    if (!s)
        return kx_p2_oom(call);
    b->out->taken = true;
    s->o.ext.ops = &outstream_ops;
    s->out = b->out;
    s->out->refs++;
    ret->is_err = false;
    int rc = kh_wslot(call, KX_P2_OUTSTREAM, &s->o, &ret->val.ok.rep);
    if (rc)
        outstream_release(KX_CTX(call), &s->o.ext, KX_P2_OUTSTREAM);
    return rc;
}

int
kx_wasi_http_types_static_outgoing_body_finish(
    kg_call *call, kx_wasi_http_types_outgoing_body this_,
    kx_option_wasi_http_types_fields trailers,
    kx_result_void_wasi_http_types_error_code *ret)
{
    outbody *b = kh_wtake(call, this_.rep, &outbody_ops);
    kh_wfields *t = NULL;
    if (!b)
        return kx_p2_badhandle(call);
    if (trailers.is_some &&
        !(t = kh_wtake(call, trailers.val.rep, &kh_wfields_ops))) {
        kh_wput(KX_CTX(call), &b->o);
        return kx_p2_badhandle(call);
    }
    kh_wout *out = b->out;
    b->done = true;
    ret->is_err = false;
    if (out->has_limit && out->written != out->limit) {
        ret->is_err = true;
        kh_werror(&ret->val.err,
                  KX_WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_BODY_SIZE);
        ret->val.err.val.HTTP_request_body_size.is_some = true;
        ret->val.err.val.HTTP_request_body_size.val = out->written;
        out->aborted = true;
        if (out->sink_ops)
            out->sink_ops->abort(out->sink);
    } else {
        out->finished = true;
        if (t) {
            out->trailers = t->list;
            memset(&t->list, 0, sizeof t->list);
            out->has_trailers = true;
        }
        if (out->sink_ops)
            sink_finish(out);
    }
    if (t)
        kh_wput(KX_CTX(call), &t->o);
    kh_wput(KX_CTX(call), &b->o);
    return 0;
}
