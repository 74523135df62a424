/* p2_lookup.c - wasi:sockets/ip-name-lookup.
 *
 * Lookups need --allow-lookup. A numeric name is parsed in the call. Any
 * other name is resolved off the loop's thread: on a fiber,
 * resolve-addresses starts a uv_getaddrinfo on the fiber's loop (libuv's
 * thread pool runs getaddrinfo) and returns the stream at once;
 * resolve-next-address says would-block until the callback has run, and
 * the stream's pollable is ready from then on. A guest waiting for it in
 * wasi:io/poll suspends its fiber (kx_wait_ext) and the callback wakes
 * it, so a slow resolver stalls only the guest that asked. Off a fiber (a
 * host calling the guest on its own thread, no loop) getaddrinfo runs in
 * the call, as it always did.
 *
 * Every address a lookup returns is remembered with the name in the ring
 * kx_p2.lookups, which the network policy matches connections against
 * (kx_p2_addr_allowed in p2_sockets.c).
 *
 * The stream is a kx_p2ext, so it outlives its table slots while its
 * request is in flight: when the last slot goes (the guest dropped the
 * stream and its pollables, or the context is reset or freed), release
 * cancels the request and leaves the stream to the callback, which then
 * frees it without touching the context. */
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "../base/base.h"
#include "fiber.h"
#include "p2.h"

#define E(name) KX_WASI_SOCKETS_NETWORK_ERROR_CODE_##name
#define FAIL(ret, code) ((ret)->is_err = true, (ret)->val.err = (code), 0)

typedef kx_wasi_sockets_network_ip_address ip_addr;
typedef kx_wasi_sockets_ip_name_lookup_resolve_address_stream stream;

typedef struct lookup {
    kx_p2ext ext;       /* first: what the table holds */
    kumo_wasi_ctx *ctx; /* NULL once every slot is gone */
    uv_getaddrinfo_t req;
    bool pending; /* req is in flight */
    bool failed;  /* err is the answer */
    uint32_t err; /* an error-code */
    ip_addr *addrs;
    uint32_t n, next;
    char host[256];
} lookup;

static void
remember(kumo_wasi_ctx *ctx, int family, const void *addr, const char *name)
{
    kx_p2 *p = ctx->p2;
    if (!p)
        return;
    kx_p2lookup *l = &p->lookups[p->nlookups++ % 64];
    kb_free(l->name);
    l->name = kb_strndup(name, strlen(name));
    l->family = (uint8_t)family;
    memcpy(l->addr, addr, family == AF_INET ? 4 : 16);
}

/* getaddrinfo's EAI_* -> error-code */
static uint32_t
eai_error(int rc)
{
    switch (rc) {
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
        return E(NAME_UNRESOLVABLE);
    case EAI_AGAIN:
        return E(TEMPORARY_RESOLVER_FAILURE);
    case EAI_MEMORY:
        return E(OUT_OF_MEMORY);
    default:
        return E(PERMANENT_RESOLVER_FAILURE);
    }
}

/* libuv's UV_EAI_* -> error-code */
static uint32_t
uv_error(int status)
{
    switch (status) {
    case UV_EAI_NONAME:
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY:
        return E(NAME_UNRESOLVABLE);
    case UV_EAI_AGAIN:
        return E(TEMPORARY_RESOLVER_FAILURE);
    case UV_EAI_MEMORY:
    case UV_ENOMEM:
        return E(OUT_OF_MEMORY);
    default:
        return E(PERMANENT_RESOLVER_FAILURE);
    }
}

/* The IPv4 and IPv6 addresses of res become l's answer and enter the
 * policy's ring. */
static void
take(lookup *l, kumo_wasi_ctx *ctx, const struct addrinfo *res)
{
    uint32_t n = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    l->addrs = kb_calloc(n ? n : 1, sizeof *l->addrs);
    if (!l->addrs) {
        l->failed = true;
        l->err = E(OUT_OF_MEMORY);
        return;
    }
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        const void *raw;
        if (a->ai_family == AF_INET)
            raw = &((const struct sockaddr_in *)a->ai_addr)->sin_addr;
        else if (a->ai_family == AF_INET6)
            raw = &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        else
            continue;
        kx_p2_ip_from_bytes(a->ai_family, raw, &l->addrs[l->n++]);
        remember(ctx, a->ai_family, raw, l->host);
    }
}

static void
lookup_free(lookup *l)
{
    kb_free(l->addrs);
    kb_free(l);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    lookup *l = req->data;
    kumo_wasi_ctx *ctx = l->ctx;
    l->pending = false;
    if (!ctx) { /* released while in flight (or cancelled) */
        uv_freeaddrinfo(res);
        lookup_free(l);
        return;
    }
    if (status < 0) {
        l->failed = true;
        l->err = uv_error(status);
    } else {
        take(l, ctx, res);
    }
    uv_freeaddrinfo(res);
    /* Last: the woken fiber may drop the stream or end. */
    kx_wait_wake(ctx);
}

static void
lookup_release(kumo_wasi_ctx *ctx, kx_p2ext *self, kx_p2kind kind)
{
    lookup *l = (lookup *)self;
    (void)ctx;
    (void)kind;
    if (self->slots > 0)
        return;
    if (!l->pending) {
        lookup_free(l);
        return;
    }
    /* The callback frees it: with UV_ECANCELED if the request had not
     * started, else when getaddrinfo returns. */
    l->ctx = NULL;
    uv_cancel((uv_req_t *)&l->req);
}

static bool
lookup_ready(kx_p2ext *self)
{
    return !((lookup *)self)->pending;
}

static const kx_p2ops lookup_ops = {
    .name = "resolve-address-stream",
    .release = lookup_release,
    .ready = lookup_ready,
};

/* Resolve l->host now (numeric_only: only if it is an address literal,
 * which never leaves the process). Returns false when numeric_only and
 * the name is not numeric. */
static bool
resolve_now(lookup *l, kumo_wasi_ctx *ctx, bool numeric_only)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = numeric_only ? AI_NUMERICHOST : 0;
    int rc = getaddrinfo(l->host, NULL, &hints, &res);
    if (rc == EAI_NONAME && numeric_only)
        return false;
    if (rc) {
        l->failed = true;
        l->err = eai_error(rc);
        return true;
    }
    take(l, ctx, res);
    freeaddrinfo(res);
    return true;
}

/* Start resolving l->host on f's loop; 0 or a libuv error. */
static int
resolve_async(lookup *l, kx_fiber *f)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    l->req.data = l;
    int rc = uv_getaddrinfo(kx_fiber_loop(f), &l->req, on_resolved, l->host,
                            NULL, &hints);
    if (rc == 0)
        l->pending = true;
    return rc;
}

int
kx_wasi_sockets_ip_name_lookup_resolve_addresses(
    kg_call *call, kx_wasi_sockets_network_network network_, kg_string name,
    kx_result_wasi_sockets_ip_name_lookup_resolve_address_stream_wasi_sockets_network_error_code
        *ret)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    kx_fiber *f = kx_fiber_current();
    lookup *l;
    if (!kx_p2_get(ctx, network_.rep, KX_P2_NETWORK))
        return kx_p2_badhandle(call);
    if (!ctx->allow_lookup)
        return FAIL(ret, E(ACCESS_DENIED));
    if (name.len == 0 || name.len >= sizeof l->host ||
        memchr(name.ptr, 0, name.len))
        return FAIL(ret, E(INVALID_ARGUMENT));
    l = kb_calloc(1, sizeof *l);
    if (!l)
        return kx_p2_oom(call);
    l->ext.ops = &lookup_ops;
    l->ctx = ctx;
    memcpy(l->host, name.ptr, name.len);
    if (!resolve_now(l, ctx, f != NULL)) {
        int rc = resolve_async(l, f);
        if (rc < 0) {
            lookup_free(l);
            return FAIL(ret, uv_error(rc));
        }
    }
    if (!kx_p2_new_ext(ctx, KX_P2_RESOLVE, &l->ext, &ret->val.ok.rep)) {
        lookup_release(ctx, &l->ext, KX_P2_RESOLVE);
        return kx_p2_oom(call);
    }
    return 0;
}

void
kx_wasi_sockets_ip_name_lookup_resolve_address_stream_drop(void *env,
                                                           stream self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_sockets_ip_name_lookup_method_resolve_address_stream_resolve_next_address(
    kg_call *call, stream self,
    kx_result_option_wasi_sockets_network_ip_address_wasi_sockets_network_error_code
        *ret)
{
    lookup *l = (lookup *)kx_p2_get_ext(KX_CTX(call), self.rep, KX_P2_RESOLVE,
                                        &lookup_ops);
    if (!l)
        return kx_p2_badhandle(call);
    if (l->pending)
        return FAIL(ret, E(WOULD_BLOCK));
    if (l->failed)
        return FAIL(ret, l->err);
    ret->val.ok.is_some = l->next < l->n;
    if (ret->val.ok.is_some)
        ret->val.ok.val = l->addrs[l->next++];
    return 0;
}

int
kx_wasi_sockets_ip_name_lookup_method_resolve_address_stream_subscribe(
    kg_call *call, stream self, kx_wasi_io_poll_pollable *ret)
{
    kx_p2ext *l =
        kx_p2_get_ext(KX_CTX(call), self.rep, KX_P2_RESOLVE, &lookup_ops);
    if (!l)
        return kx_p2_badhandle(call);
    return kx_p2_pollable_ext(call, l, ret);
}
