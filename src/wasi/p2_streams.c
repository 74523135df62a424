/* p2_streams.c - wasi:io/error and wasi:io/streams on the shared WASI
 * core: stdio and file streams over kx_desc. Blocking operations wait
 * through kx_io_* (which yield the fiber to the loop); the non-blocking
 * ones ask the kernel first and return what is there. */
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/base.h"
#include "p2.h"

typedef kx_wasi_io_streams_input_stream instream;
typedef kx_wasi_io_streams_output_stream outstream;
typedef kx_wasi_io_streams_stream_error stream_error;
typedef kx_result_bytes_wasi_io_streams_stream_error res_bytes;
typedef kx_result_u64_wasi_io_streams_stream_error res_u64;
typedef kx_result_void_wasi_io_streams_stream_error res_void;

#define READ_MAX (1u << 20)  /* bytes one read returns at most */
#define WRITE_BUDGET 65536u /* what check-write allows for pipes */

static const uint8_t zero_len[1]; /* a write of nothing is not a flush */

/* ---- wasi:io/error */

int
kx_p2_error_new(kg_call *call, int e, kx_wasi_io_error_error *out)
{
    kx_p2obj *o = kx_p2_new(KX_CTX(call), KX_P2_ERROR, &out->rep);
    if (!o)
        return kx_p2_oom(call);
    o->err = e;
    return 0;
}

void
kx_wasi_io_error_error_drop(void *env, kx_wasi_io_error_error self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_io_error_method_error_to_debug_string(kg_call *call,
                                              kx_wasi_io_error_error self,
                                              kg_string *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_ERROR);
    if (!o)
        return kx_p2_badhandle(call);
    const char *s = kx_errno_name(o->err);
    ret->ptr = s;
    ret->len = strlen(s);
    return 0;
}

/* ---- streams */

int
kx_p2_instream_new(kg_call *call, kx_p2file *f, bool positional,
                   uint64_t off, instream *out)
{
    kx_p2obj *o = kx_p2_new(KX_CTX(call), KX_P2_INSTREAM, &out->rep);
    if (!o)
        return kx_p2_oom(call);
    o->file = kx_p2file_ref(f);
    o->positional = positional;
    o->off = off;
    return 0;
}

int
kx_p2_outstream_new(kg_call *call, kx_p2file *f, bool positional,
                    bool append, uint64_t off, outstream *out)
{
    kx_p2obj *o = kx_p2_new(KX_CTX(call), KX_P2_OUTSTREAM, &out->rep);
    if (!o)
        return kx_p2_oom(call);
    o->file = kx_p2file_ref(f);
    o->positional = positional;
    o->append = append;
    o->off = off;
    return 0;
}

void
kx_wasi_io_streams_input_stream_drop(void *env, instream self)
{
    kx_p2_free_obj(env, self.rep);
}

void
kx_wasi_io_streams_output_stream_drop(void *env, outstream self)
{
    kx_p2_free_obj(env, self.rep);
}

/* Fill err for a failed operation: -errno, or 0 / EPIPE for closed. A
 * cancelled wait (the deadline passed) traps instead. */
static int
fail(kg_call *call, int rc, stream_error *err)
{
    if (rc == -KX_ECANCELED)
        return kg_call_trap(call, "deadline exceeded");
    if (rc == 0 || rc == -KX_EPIPE) {
        err->tag = KX_WASI_IO_STREAMS_STREAM_ERROR_CLOSED;
        return 0;
    }
    err->tag = KX_WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED;
    return kx_p2_error_new(call, -rc, &err->val.last_operation_failed);
}

/* Read up to cap bytes into buf. Returns 0 (*n bytes; 0 with !*eof when
 * nothing is ready and !block) or -KX_E... */
static int
do_read(kumo_wasi_ctx *ctx, kx_p2obj *o, void *buf, size_t cap, bool block,
        size_t *n, bool *eof)
{
    kx_desc *d = o->file->d;
    struct iovec iov = {buf, cap};
    int rc;
    *n = 0;
    *eof = o->closed;
    if (o->closed || cap == 0)
        return 0;
    if (o->positional) {
        rc = kx_io_pread(d, &iov, 1, o->off, n);
        if (rc == 0)
            o->off += *n;
    } else {
        if (!block && kx_io_pollable(d)) {
            struct pollfd p = {.fd = d->fd, .events = POLLIN};
            if (poll(&p, 1, 0) <= 0)
                return 0;
        }
        rc = kx_io_read(ctx, d, &iov, 1, n);
    }
    if (rc == 0 && *n == 0)
        *eof = o->closed = true;
    return rc;
}

static int
read_common(kg_call *call, instream self, uint64_t len, bool block,
            res_bytes *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_INSTREAM);
    size_t cap = len > READ_MAX ? READ_MAX : (size_t)len, n;
    bool eof;
    if (!o)
        return kx_p2_badhandle(call);
    if (o->ext)
        return o->ext->ops->read(call, o->ext, cap, block, ret);
    uint8_t *buf = kg_call_alloc(call, cap);
    if (!buf)
        return kx_p2_oom(call);
    int rc = do_read(KX_CTX(call), o, buf, cap, block, &n, &eof);
    if (rc < 0 || eof) {
        ret->is_err = true;
        return fail(call, rc, &ret->val.err);
    }
    ret->val.ok.ptr = buf;
    ret->val.ok.len = n;
    return 0;
}

int
kx_wasi_io_streams_method_input_stream_read(kg_call *call, instream self,
                                            uint64_t len, res_bytes *ret)
{
    return read_common(call, self, len, false, ret);
}

int
kx_wasi_io_streams_method_input_stream_blocking_read(kg_call *call,
                                                     instream self,
                                                     uint64_t len,
                                                     res_bytes *ret)
{
    return read_common(call, self, len, true, ret);
}

static int
skip_common(kg_call *call, instream self, uint64_t len, bool block,
            res_u64 *ret)
{
    res_bytes r;
    memset(&r, 0, sizeof r);
    int rc = read_common(call, self, len, block, &r);
    if (rc)
        return rc;
    ret->is_err = r.is_err;
    if (r.is_err)
        ret->val.err = r.val.err;
    else
        ret->val.ok = r.val.ok.len;
    return 0;
}

int
kx_wasi_io_streams_method_input_stream_skip(kg_call *call, instream self,
                                            uint64_t len, res_u64 *ret)
{
    return skip_common(call, self, len, false, ret);
}

int
kx_wasi_io_streams_method_input_stream_blocking_skip(kg_call *call,
                                                     instream self,
                                                     uint64_t len,
                                                     res_u64 *ret)
{
    return skip_common(call, self, len, true, ret);
}

static int
subscribe(kg_call *call, uint32_t rep, kx_p2kind kind, kx_p2when when,
          kx_wasi_io_poll_pollable *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), rep, kind);
    if (!o)
        return kx_p2_badhandle(call);
    if (o->ext)
        return kx_p2_pollable_ext(call, o->ext, ret);
    kx_p2file *f = o->file;
    if (!kx_io_pollable(f->d))
        return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
    return kx_p2_pollable_new(call, when, f, 0, ret);
}

int
kx_wasi_io_streams_method_input_stream_subscribe(kg_call *call,
                                                 instream self,
                                                 kx_wasi_io_poll_pollable *ret)
{
    return subscribe(call, self.rep, KX_P2_INSTREAM, KX_P2_READABLE, ret);
}

/* ---- output */

/* Write all of buf. 0 or -KX_E... */
static int
do_write(kumo_wasi_ctx *ctx, kx_p2obj *o, const uint8_t *buf, size_t len)
{
    kx_desc *d = o->file->d;
    size_t done = 0;
    while (done < len) {
        struct iovec iov = {(void *)(buf + done), len - done};
        size_t n = 0;
        int rc;
        if (o->append) {
            struct stat st;
            if (d->fd < 0 || fstat(d->fd, &st) < 0)
                return -KX_EBADF;
            rc = kx_io_pwrite(d, &iov, 1, (uint64_t)st.st_size, &n);
        } else if (o->positional) {
            rc = kx_io_pwrite(d, &iov, 1, o->off, &n);
            o->off += n;
        } else {
            rc = kx_io_write(ctx, d, &iov, 1, &n);
        }
        if (rc < 0)
            return rc;
        if (n == 0)
            return -KX_EIO;
        done += n;
    }
    return 0;
}

static kx_p2obj *
out_get(kg_call *call, outstream self)
{
    return kx_p2_get(KX_CTX(call), self.rep, KX_P2_OUTSTREAM);
}

int
kx_wasi_io_streams_method_output_stream_check_write(kg_call *call,
                                                    outstream self,
                                                    res_u64 *ret)
{
    kx_p2obj *o = out_get(call, self);
    if (!o)
        return kx_p2_badhandle(call);
    if (o->ext)
        return o->ext->ops->check_write(call, o->ext, ret);
    if (o->closed) {
        ret->is_err = true;
        return fail(call, 0, &ret->val.err);
    }
    kx_desc *d = o->file->d;
    ret->val.ok = READ_MAX;
    if (kx_io_pollable(d)) {
        struct pollfd p = {.fd = d->fd, .events = POLLOUT};
        ret->val.ok = poll(&p, 1, 0) > 0 ? WRITE_BUDGET : 0;
    }
    return 0;
}

/* buf NULL: a flush. block: the blocking-* form (upper layers' streams
 * wait; descriptor writes always complete). */
static int
write_common(kg_call *call, outstream self, const uint8_t *buf, size_t len,
             bool block, res_void *ret)
{
    kx_p2obj *o = out_get(call, self);
    if (!o)
        return kx_p2_badhandle(call);
    if (o->ext && !buf)
        return o->ext->ops->flush(call, o->ext, block, ret);
    if (o->ext)
        return o->ext->ops->write(call, o->ext, buf, len, block, ret);
    int rc = o->closed ? 0 : do_write(KX_CTX(call), o, buf, len);
    if (rc < 0 || o->closed) {
        if (rc == -KX_EPIPE)
            o->closed = true;
        ret->is_err = true;
        return fail(call, rc, &ret->val.err);
    }
    return 0;
}

int
kx_wasi_io_streams_method_output_stream_write(kg_call *call, outstream self,
                                              kg_bytes contents,
                                              res_void *ret)
{
    return write_common(call, self, contents.ptr ? contents.ptr : zero_len,
                        contents.len, false, ret);
}

int
kx_wasi_io_streams_method_output_stream_blocking_write_and_flush(
    kg_call *call, outstream self, kg_bytes contents, res_void *ret)
{
    return write_common(call, self, contents.ptr ? contents.ptr : zero_len,
                        contents.len, true, ret);
}

int
kx_wasi_io_streams_method_output_stream_flush(kg_call *call, outstream self,
                                              res_void *ret)
{
    return write_common(call, self, NULL, 0, false, ret);
}

int
kx_wasi_io_streams_method_output_stream_blocking_flush(kg_call *call,
                                                       outstream self,
                                                       res_void *ret)
{
    return write_common(call, self, NULL, 0, true, ret);
}

int
kx_wasi_io_streams_method_output_stream_subscribe(
    kg_call *call, outstream self, kx_wasi_io_poll_pollable *ret)
{
    return subscribe(call, self.rep, KX_P2_OUTSTREAM, KX_P2_WRITABLE, ret);
}

static int
zeroes(kg_call *call, outstream self, uint64_t len, bool block,
       res_void *ret)
{
    static const uint8_t zero[4096];
    if (len > (1u << 30))
        len = 1u << 30;
    do {
        size_t n = len > sizeof zero ? sizeof zero : (size_t)len;
        int rc = write_common(call, self, zero, n, block, ret);
        if (rc || ret->is_err)
            return rc;
        len -= n;
    } while (len > 0);
    return 0;
}

int
kx_wasi_io_streams_method_output_stream_write_zeroes(kg_call *call,
                                                     outstream self,
                                                     uint64_t len,
                                                     res_void *ret)
{
    return zeroes(call, self, len, false, ret);
}

int
kx_wasi_io_streams_method_output_stream_blocking_write_zeroes_and_flush(
    kg_call *call, outstream self, uint64_t len, res_void *ret)
{
    return zeroes(call, self, len, true, ret);
}

static int
splice(kg_call *call, outstream self, instream src, uint64_t len, bool block,
       res_u64 *ret)
{
    res_bytes r;
    res_void w;
    memset(&r, 0, sizeof r);
    memset(&w, 0, sizeof w);
    if (!out_get(call, self))
        return kx_p2_badhandle(call);
    int rc = read_common(call, src, len, block, &r);
    if (rc)
        return rc;
    if (r.is_err) {
        ret->is_err = true;
        ret->val.err = r.val.err;
        return 0;
    }
    rc = write_common(call, self, r.val.ok.ptr ? r.val.ok.ptr : zero_len,
                      r.val.ok.len, block, &w);
    if (rc)
        return rc;
    ret->is_err = w.is_err;
    if (w.is_err)
        ret->val.err = w.val.err;
    else
        ret->val.ok = r.val.ok.len;
    return 0;
}

int
kx_wasi_io_streams_method_output_stream_splice(kg_call *call, outstream self,
                                               instream src, uint64_t len,
                                               res_u64 *ret)
{
    return splice(call, self, src, len, false, ret);
}

int
kx_wasi_io_streams_method_output_stream_blocking_splice(kg_call *call,
                                                        outstream self,
                                                        instream src,
                                                        uint64_t len,
                                                        res_u64 *ret)
{
    return splice(call, self, src, len, true, ret);
}
