/* p2_udp.c - wasi:sockets udp and udp-create-socket.
 *
 * Deny by default like TCP (p2_tcp.c): creating a socket fails with
 * access-denied unless the network policy has a rule, and every bind,
 * stream(remote) and send to an explicit address is checked against it.
 * A socket is a non-blocking host socket; `stream` hands out a pair of
 * datagram streams sharing its descriptor (connected to the remote when
 * one is given). receive and send never block; their pollables are the
 * descriptor becoming readable/writable, so a guest waiting in poll
 * yields to the fiber's loop. Only the latest pair is operational: a new
 * `stream` call retires the pair before it. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../base/base.h"
#include "p2.h"

#define E(name) KX_WASI_SOCKETS_NETWORK_ERROR_CODE_##name

typedef kx_wasi_sockets_udp_udp_socket udp;
typedef kx_wasi_sockets_udp_incoming_datagram_stream instream;
typedef kx_wasi_sockets_udp_outgoing_datagram_stream outstream;
typedef kx_wasi_sockets_network_ip_socket_address sock_addr;
typedef kx_result_void_wasi_sockets_network_error_code res_void;
typedef kx_result_u64_wasi_sockets_network_error_code res_u64;
typedef kx_result_u8_wasi_sockets_network_error_code res_u8;
typedef kx_result_wasi_sockets_network_ip_socket_address_wasi_sockets_network_error_code
    res_addr;
typedef kx_result_tuple2_wasi_sockets_udp_incoming_datagram_stream_wasi_sockets_udp_outgoing_datagram_stream_wasi_sockets_network_error_code
    res_streams;

enum { UDP_UNBOUND, UDP_BIND_STARTED, UDP_BOUND };

/* Most datagrams one receive returns, and one check-send permits. */
#define UDP_BATCH 64
#define UDP_MAX 65536

/* The peer of a socket or stream (`data` of its object). */
typedef struct udp_peer {
    bool connected;
    unsigned len;
    struct sockaddr_storage addr;
} udp_peer;

#define FAIL(ret, code) ((ret)->is_err = true, (ret)->val.err = (code), 0)

#define GET(o, kind, self)                                                     \
    kx_p2obj *o = kx_p2_get(KX_CTX(call), (self).rep, kind);                   \
    if (!o)                                                                    \
    return kx_p2_badhandle(call)

static int
fd_of(const kx_p2obj *o)
{
    return o->file->d->fd;
}

static udp_peer *
peer_of(kx_p2obj *o)
{
    return o->data;
}

/* ---- the socket */

int
kx_wasi_sockets_udp_create_socket_create_udp_socket(kg_call *call,
    kx_wasi_sockets_network_ip_address_family address_family,
    kx_result_wasi_sockets_udp_udp_socket_wasi_sockets_network_error_code *ret)
{
    if (!kx_p2_net_enabled(KX_CTX(call)))
        return FAIL(ret, E(ACCESS_DENIED));
    int fam = address_family == KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4
                  ? AF_INET
                  : AF_INET6;
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return FAIL(ret, kx_p2_sock_errno(errno));
    if (fam == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    kx_desc *d;
    udp_peer *peer = kb_calloc(1, sizeof *peer);
    if (!peer) {
        close(fd);
        return kx_p2_oom(call);
    }
    if (kx_desc_new(fd, true, &d) < 0) { /* closes fd */
        kb_free(peer);
        return kx_p2_oom(call);
    }
    kx_p2file *f = kx_p2file_new(d, true);
    kx_p2obj *o = f ? kx_p2_new(KX_CTX(call), KX_P2_UDP, &ret->val.ok.rep)
                    : NULL;
    if (!o) {
        kb_free(peer);
        kx_p2file_unref(f);
        return kx_p2_oom(call);
    }
    o->file = f;
    o->family = (uint8_t)fam;
    o->state = UDP_UNBOUND;
    o->data = peer;
    o->ndata = sizeof *peer;
    return 0;
}

void
kx_wasi_sockets_udp_udp_socket_drop(void *env, udp self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_sockets_udp_method_udp_socket_start_bind(kg_call *call, udp self,
    kx_wasi_sockets_network_network network, sock_addr local_address,
    res_void *ret)
{
    GET(o, KX_P2_UDP, self);
    struct sockaddr_storage ss;
    unsigned len;
    int rc = kx_p2_check_addr(call, o->family, network, &local_address, &ss,
                              &len);
    if (rc < 0)
        return kx_p2_badhandle(call);
    if (rc > 0)
        return FAIL(ret, (uint32_t)rc);
    if (o->state != UDP_UNBOUND)
        return FAIL(ret, E(INVALID_STATE));
    if (bind(fd_of(o), (struct sockaddr *)&ss, len) < 0)
        return errno == EADDRNOTAVAIL ? FAIL(ret, E(ADDRESS_NOT_BINDABLE))
                                      : FAIL(ret, kx_p2_sock_errno(errno));
    o->state = UDP_BIND_STARTED;
    return 0;
}

int
kx_wasi_sockets_udp_method_udp_socket_finish_bind(kg_call *call, udp self,
                                                  res_void *ret)
{
    GET(o, KX_P2_UDP, self);
    if (o->state != UDP_BIND_STARTED)
        return FAIL(ret, E(NOT_IN_PROGRESS));
    o->state = UDP_BOUND;
    return 0;
}

/* Retire the streams an earlier `stream` call made on this socket. */
static void
retire_streams(kumo_wasi_ctx *ctx, const kx_p2file *f)
{
    kx_p2 *p = ctx->p2;
    for (uint32_t i = 0; p && i < p->nobjs; i++) {
        kx_p2obj *s = &p->objs[i];
        if ((s->kind == KX_P2_INDATAGRAMS || s->kind == KX_P2_OUTDATAGRAMS) &&
            s->file == f)
            s->closed = true;
    }
}

/* A stream object of kind on o's descriptor with a copy of its peer. */
static int
new_stream(kg_call *call, kx_p2obj *o, kx_p2kind kind, uint32_t *rep)
{
    udp_peer *peer = kb_malloc(sizeof *peer);
    if (!peer)
        return kx_p2_oom(call);
    *peer = *peer_of(o);
    kx_p2file *f = o->file;
    int family = o->family;
    kx_p2obj *s = kx_p2_new(KX_CTX(call), kind, rep); /* moves o */
    if (!s) {
        kb_free(peer);
        return kx_p2_oom(call);
    }
    s->file = kx_p2file_ref(f);
    s->family = (uint8_t)family;
    s->data = peer;
    s->ndata = sizeof *peer;
    return 0;
}

/* Connect o to remote (or dissolve the association when NULL): 0 or an
 * error-code + 1. */
static uint32_t
associate(kg_call *call, kx_p2obj *o, const sock_addr *remote)
{
    udp_peer *peer = peer_of(o);
    struct sockaddr_storage ss;
    unsigned len;
    if (remote) {
        if (kx_p2_to_sockaddr(remote, &ss, &len) != o->family ||
            kx_p2_addr_unspecified(&ss))
            return E(INVALID_ARGUMENT) + 1;
        if (!kx_p2_addr_allowed(KX_CTX(call), &ss))
            return E(ACCESS_DENIED) + 1;
    }
    if (peer->connected) {
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        (void)connect(fd_of(o), &unspec, sizeof unspec);
        peer->connected = false;
    }
    if (!remote)
        return 0;
    if (connect(fd_of(o), (struct sockaddr *)&ss, len) < 0)
        return kx_p2_sock_errno(errno) + 1;
    peer->connected = true;
    peer->addr = ss;
    peer->len = len;
    return 0;
}

int
kx_wasi_sockets_udp_method_udp_socket_stream(kg_call *call, udp self,
    kx_option_wasi_sockets_network_ip_socket_address remote_address,
    res_streams *ret)
{
    GET(o, KX_P2_UDP, self);
    if (o->state != UDP_BOUND)
        return FAIL(ret, E(INVALID_STATE));
    uint32_t err = associate(call, o,
                             remote_address.is_some ? &remote_address.val
                                                    : NULL);
    if (err)
        return FAIL(ret, err - 1);
    retire_streams(KX_CTX(call), o->file);
    int rc = new_stream(call, o, KX_P2_INDATAGRAMS, &ret->val.ok.f0.rep);
    if (rc)
        return rc;
    o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_UDP);
    return new_stream(call, o, KX_P2_OUTDATAGRAMS, &ret->val.ok.f1.rep);
}

static int
address(kg_call *call, udp self, bool remote, res_addr *ret)
{
    GET(o, KX_P2_UDP, self);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (remote ? !peer_of(o)->connected : o->state == UDP_UNBOUND)
        return FAIL(ret, E(INVALID_STATE));
    if ((remote ? getpeername : getsockname)(fd_of(o), (struct sockaddr *)&ss,
                                             &len) < 0)
        return FAIL(ret, kx_p2_sock_errno(errno));
    kx_p2_from_sockaddr(&ss, &ret->val.ok);
    return 0;
}

int
kx_wasi_sockets_udp_method_udp_socket_local_address(kg_call *call, udp self,
                                                    res_addr *ret)
{
    return address(call, self, false, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_remote_address(kg_call *call, udp self,
                                                     res_addr *ret)
{
    return address(call, self, true, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_address_family(kg_call *call, udp self,
    kx_wasi_sockets_network_ip_address_family *ret)
{
    GET(o, KX_P2_UDP, self);
    *ret = o->family == AF_INET ? KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4
                                : KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV6;
    return 0;
}

/* ---- options */

static int
option(kg_call *call, udp self, kx_p2opt opt, uint64_t *v, bool set,
       bool *is_err, uint32_t *err)
{
    GET(o, KX_P2_UDP, self);
    *is_err = kx_p2_sockopt(fd_of(o), opt, o->family, v, set, err) < 0;
    return 0;
}

int
kx_wasi_sockets_udp_method_udp_socket_unicast_hop_limit(kg_call *call,
                                                        udp self, res_u8 *ret)
{
    uint64_t v = 0;
    int rc = option(call, self, KX_P2OPT_HOPS, &v, false, &ret->is_err,
                    &ret->val.err);
    if (!rc && !ret->is_err)
        ret->val.ok = (uint8_t)v;
    return rc;
}

int
kx_wasi_sockets_udp_method_udp_socket_set_unicast_hop_limit(kg_call *call,
    udp self, uint8_t value, res_void *ret)
{
    uint64_t v = value;
    return option(call, self, KX_P2OPT_HOPS, &v, true, &ret->is_err,
                  &ret->val.err);
}

static int
get_buf(kg_call *call, udp self, kx_p2opt opt, res_u64 *ret)
{
    uint64_t v = 0;
    int rc = option(call, self, opt, &v, false, &ret->is_err, &ret->val.err);
    if (!rc && !ret->is_err)
        ret->val.ok = v;
    return rc;
}

int
kx_wasi_sockets_udp_method_udp_socket_receive_buffer_size(kg_call *call,
                                                          udp self,
                                                          res_u64 *ret)
{
    return get_buf(call, self, KX_P2OPT_RCVBUF, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_set_receive_buffer_size(kg_call *call,
    udp self, uint64_t value, res_void *ret)
{
    return option(call, self, KX_P2OPT_RCVBUF, &value, true, &ret->is_err,
                  &ret->val.err);
}

int
kx_wasi_sockets_udp_method_udp_socket_send_buffer_size(kg_call *call,
                                                       udp self, res_u64 *ret)
{
    return get_buf(call, self, KX_P2OPT_SNDBUF, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_set_send_buffer_size(kg_call *call,
    udp self, uint64_t value, res_void *ret)
{
    return option(call, self, KX_P2OPT_SNDBUF, &value, true, &ret->is_err,
                  &ret->val.err);
}

int
kx_wasi_sockets_udp_method_udp_socket_subscribe(kg_call *call, udp self,
                                                kx_wasi_io_poll_pollable *ret)
{
    GET(o, KX_P2_UDP, self);
    (void)o; /* bind finishes at once: nothing to wait for */
    return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
}

/* ---- incoming datagrams */

void
kx_wasi_sockets_udp_incoming_datagram_stream_drop(void *env, instream self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_sockets_udp_method_incoming_datagram_stream_receive(kg_call *call,
    instream self, uint64_t max_results,
    kx_result_list_wasi_sockets_udp_incoming_datagram_wasi_sockets_network_error_code *ret)
{
    GET(o, KX_P2_INDATAGRAMS, self);
    if (o->closed)
        return FAIL(ret, E(INVALID_STATE));
    size_t max = max_results > UDP_BATCH ? UDP_BATCH : (size_t)max_results;
    ret->val.ok.ptr = NULL;
    ret->val.ok.len = 0;
    if (max == 0)
        return 0;
    kx_wasi_sockets_udp_incoming_datagram *list =
        kg_call_alloc(call, max * sizeof *list);
    uint8_t *buf = kb_malloc(UDP_MAX);
    if (!list || !buf) {
        kb_free(buf);
        return kx_p2_oom(call);
    }
    size_t n = 0;
    int rc = 0;
    while (n < max) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t got = recvfrom(fd_of(o), buf, UDP_MAX, MSG_DONTWAIT,
                               (struct sockaddr *)&from, &flen);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK && n == 0) {
                ret->is_err = true;
                ret->val.err = kx_p2_sock_errno(errno);
            }
            break;
        }
        uint8_t *copy = kg_call_alloc(call, got ? (size_t)got : 1);
        if (!copy) {
            rc = kx_p2_oom(call);
            break;
        }
        memcpy(copy, buf, (size_t)got);
        list[n].data.ptr = copy;
        list[n].data.len = (size_t)got;
        kx_p2_from_sockaddr(&from, &list[n].remote_address);
        n++;
    }
    kb_free(buf);
    if (!rc && !ret->is_err) {
        ret->val.ok.ptr = list;
        ret->val.ok.len = n;
    }
    return rc;
}

int
kx_wasi_sockets_udp_method_incoming_datagram_stream_subscribe(kg_call *call,
    instream self, kx_wasi_io_poll_pollable *ret)
{
    GET(o, KX_P2_INDATAGRAMS, self);
    if (o->closed)
        return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
    return kx_p2_pollable_new(call, KX_P2_READABLE, o->file, 0, ret);
}

/* ---- outgoing datagrams */

void
kx_wasi_sockets_udp_outgoing_datagram_stream_drop(void *env, outstream self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_sockets_udp_method_outgoing_datagram_stream_check_send(kg_call *call,
    outstream self, res_u64 *ret)
{
    GET(o, KX_P2_OUTDATAGRAMS, self);
    if (o->closed)
        return FAIL(ret, E(INVALID_STATE));
    struct pollfd p = {.fd = fd_of(o), .events = POLLOUT};
    o->off = poll(&p, 1, 0) > 0 ? UDP_BATCH : 0;
    ret->val.ok = o->off;
    return 0;
}

/* Where datagram d goes: 0 (dest/len set; *dest NULL: the connected
 * peer) or an error-code + 1. */
static uint32_t
destination(kg_call *call, kx_p2obj *o,
            const kx_wasi_sockets_udp_outgoing_datagram *d,
            struct sockaddr_storage *ss, unsigned *len, bool *connected)
{
    udp_peer *peer = peer_of(o);
    *connected = peer->connected;
    if (!d->remote_address.is_some)
        return peer->connected ? 0 : E(INVALID_ARGUMENT) + 1;
    if (kx_p2_to_sockaddr(&d->remote_address.val, ss, len) != o->family ||
        kx_p2_addr_unspecified(ss))
        return E(INVALID_ARGUMENT) + 1;
    if (peer->connected)
        return *len == peer->len && memcmp(ss, &peer->addr, *len) == 0
                   ? 0
                   : E(INVALID_ARGUMENT) + 1;
    if (!kx_p2_addr_allowed(KX_CTX(call), ss))
        return E(ACCESS_DENIED) + 1;
    return 0;
}

int
kx_wasi_sockets_udp_method_outgoing_datagram_stream_send(kg_call *call,
    outstream self, kx_list_wasi_sockets_udp_outgoing_datagram datagrams,
    res_u64 *ret)
{
    GET(o, KX_P2_OUTDATAGRAMS, self);
    if (o->closed)
        return FAIL(ret, E(INVALID_STATE));
    if (datagrams.len > o->off)
        return kg_call_trap(call, "udp send: %zu datagrams, check-send "
                                  "permitted %llu",
                            datagrams.len, (unsigned long long)o->off);
    o->off -= datagrams.len;
    uint64_t sent = 0;
    for (size_t i = 0; i < datagrams.len; i++) {
        const kx_wasi_sockets_udp_outgoing_datagram *d = &datagrams.ptr[i];
        struct sockaddr_storage ss;
        unsigned len = 0;
        bool connected;
        uint32_t err = destination(call, o, d, &ss, &len, &connected);
        ssize_t rc = -1;
        if (!err) {
            rc = connected ? send(fd_of(o), d->data.ptr, d->data.len,
                                  MSG_DONTWAIT)
                           : sendto(fd_of(o), d->data.ptr, d->data.len,
                                    MSG_DONTWAIT, (struct sockaddr *)&ss, len);
            if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (rc < 0)
                err = kx_p2_sock_errno(errno) + 1;
        }
        if (err) {
            if (sent == 0)
                return FAIL(ret, err - 1);
            break;
        }
        sent++;
    }
    ret->val.ok = sent;
    return 0;
}

int
kx_wasi_sockets_udp_method_outgoing_datagram_stream_subscribe(kg_call *call,
    outstream self, kx_wasi_io_poll_pollable *ret)
{
    GET(o, KX_P2_OUTDATAGRAMS, self);
    if (o->closed)
        return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
    return kx_p2_pollable_new(call, KX_P2_WRITABLE, o->file, 0, ret);
}
