/* p2_tcp.c - wasi:sockets tcp and tcp-create-socket.
 *
 * Deny by default: creating a socket fails with access-denied unless the
 * network policy (--allow-net HOST:PORT) has a rule, and each bind and
 * connect is checked against it (the address as text, or a name a lookup
 * resolved to that address; lookups are p2_lookup.c's). Sockets are
 * non-blocking host sockets; their streams are the ordinary wasi:io
 * streams over a kx_desc, so reads and writes wait on the fiber's loop
 * like pipes do. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../base/base.h"
#include "p2.h"

#define E(name) KX_WASI_SOCKETS_NETWORK_ERROR_CODE_##name

typedef kx_wasi_sockets_tcp_tcp_socket tcp;
typedef kx_wasi_sockets_network_network network;
typedef kx_wasi_sockets_network_ip_socket_address sock_addr;
typedef kx_result_void_wasi_sockets_network_error_code res_void;
typedef kx_result_u64_wasi_sockets_network_error_code res_u64;
typedef kx_result_u32_wasi_sockets_network_error_code res_u32;
typedef kx_result_u8_wasi_sockets_network_error_code res_u8;
typedef kx_result_bool_wasi_sockets_network_error_code res_bool;
typedef kx_result_wasi_sockets_network_ip_socket_address_wasi_sockets_network_error_code
    res_addr;
typedef kx_result_tuple2_wasi_io_streams_input_stream_wasi_io_streams_output_stream_wasi_sockets_network_error_code
    res_streams;
typedef kx_result_tuple3_wasi_sockets_tcp_tcp_socket_wasi_io_streams_input_stream_wasi_io_streams_output_stream_wasi_sockets_network_error_code
    res_accept;

enum {
    KX_TCP_UNBOUND,
    KX_TCP_BIND_STARTED,
    KX_TCP_BOUND,
    KX_TCP_LISTEN_STARTED,
    KX_TCP_LISTENING,
    KX_TCP_CONNECTING,
    KX_TCP_CONNECTED,
    KX_TCP_CLOSED,
};

#define FAIL(ret, code) ((ret)->is_err = true, (ret)->val.err = (code), 0)
#define FAIL_ERRNO(ret) FAIL(ret, kx_p2_sock_errno(errno))

static kx_p2obj *
sock(kg_call *call, tcp self)
{
    return kx_p2_get(KX_CTX(call), self.rep, KX_P2_TCP);
}

#define GET(o, self)                                                           \
    kx_p2obj *o = sock(call, self);                                            \
    if (!o)                                                                    \
    return kx_p2_badhandle(call)

static int
sockfd(const kx_p2obj *o)
{
    return o->file->d->fd;
}

/* ---- creation */

static int
new_socket(kg_call *call, int fd, int family, uint8_t state, tcp *out)
{
    kx_desc *d;
    if (kx_desc_new(fd, true, &d) < 0)
        return kx_p2_oom(call);
    kx_p2file *f = kx_p2file_new(d, true);
    if (!f)
        return kx_p2_oom(call);
    kx_p2obj *o = kx_p2_new(KX_CTX(call), KX_P2_TCP, &out->rep);
    if (!o) {
        kx_p2file_unref(f);
        return kx_p2_oom(call);
    }
    o->file = f;
    o->family = (uint8_t)family;
    o->state = state;
    o->off = 128;
    return 0;
}

int
kx_wasi_sockets_tcp_create_socket_create_tcp_socket(
    kg_call *call, kx_wasi_sockets_network_ip_address_family address_family,
    kx_result_wasi_sockets_tcp_tcp_socket_wasi_sockets_network_error_code *ret)
{
    if (!kx_p2_net_enabled(KX_CTX(call)))
        return FAIL(ret, E(ACCESS_DENIED));
    int fam = address_family == KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4
                  ? AF_INET
                  : AF_INET6;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return FAIL_ERRNO(ret);
    if (fam == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    return new_socket(call, fd, fam, KX_TCP_UNBOUND, &ret->val.ok);
}

void
kx_wasi_sockets_tcp_tcp_socket_drop(void *env, tcp self)
{
    kx_p2_free_obj(env, self.rep);
}

/* ---- bind, connect, listen, accept */

int
kx_wasi_sockets_tcp_method_tcp_socket_start_bind(kg_call *call, tcp self,
                                                 network network_,
                                                 sock_addr local_address,
                                                 res_void *ret)
{
    GET(o, self);
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = kx_p2_check_addr(call, o->family, network_, &local_address,
                              &ss, &len);
    if (rc < 0)
        return kx_p2_badhandle(call);
    if (rc > 0)
        return FAIL(ret, (uint32_t)rc);
    if (o->state != KX_TCP_UNBOUND)
        return FAIL(ret, E(INVALID_STATE));
    int one = 1;
    setsockopt(sockfd(o), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(sockfd(o), (struct sockaddr *)&ss, len) < 0)
        return errno == EADDRNOTAVAIL ? FAIL(ret, E(ADDRESS_NOT_BINDABLE))
                                      : FAIL_ERRNO(ret);
    o->state = KX_TCP_BIND_STARTED;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_finish_bind(kg_call *call, tcp self,
                                                  res_void *ret)
{
    GET(o, self);
    if (o->state != KX_TCP_BIND_STARTED)
        return FAIL(ret, E(NOT_IN_PROGRESS));
    o->state = KX_TCP_BOUND;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_start_connect(kg_call *call, tcp self,
                                                    network network_,
                                                    sock_addr remote_address,
                                                    res_void *ret)
{
    GET(o, self);
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = kx_p2_check_addr(call, o->family, network_, &remote_address,
                              &ss, &len);
    if (rc < 0)
        return kx_p2_badhandle(call);
    if (rc > 0)
        return FAIL(ret, (uint32_t)rc);
    if (o->state != KX_TCP_UNBOUND && o->state != KX_TCP_BOUND)
        return FAIL(ret, E(INVALID_STATE));
    if (connect(sockfd(o), (struct sockaddr *)&ss, len) < 0 &&
        errno != EINPROGRESS) {
        o->state = KX_TCP_CLOSED;
        return FAIL_ERRNO(ret);
    }
    o->state = KX_TCP_CONNECTING;
    return 0;
}

/* Streams over a connected socket. */
static int
streams(kg_call *call, kx_p2obj *o, kx_wasi_io_streams_input_stream *in,
        kx_wasi_io_streams_output_stream *out)
{
    kx_p2file *f = o->file;
    int rc = kx_p2_instream_new(call, f, false, 0, in);
    return rc ? rc : kx_p2_outstream_new(call, f, false, false, 0, out);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_finish_connect(kg_call *call, tcp self,
                                                     res_streams *ret)
{
    GET(o, self);
    if (o->state != KX_TCP_CONNECTING)
        return FAIL(ret, E(NOT_IN_PROGRESS));
    struct pollfd p = {.fd = sockfd(o), .events = POLLOUT};
    if (poll(&p, 1, 0) == 0)
        return FAIL(ret, E(WOULD_BLOCK));
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(sockfd(o), SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        err = errno;
    if (err) {
        o->state = KX_TCP_CLOSED;
        return FAIL(ret, kx_p2_sock_errno(err));
    }
    o->state = KX_TCP_CONNECTED;
    return streams(call, o, &ret->val.ok.f0, &ret->val.ok.f1);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_start_listen(kg_call *call, tcp self,
                                                   res_void *ret)
{
    GET(o, self);
    if (o->state != KX_TCP_BOUND)
        return FAIL(ret, E(INVALID_STATE));
    if (listen(sockfd(o), (int)o->off) < 0)
        return FAIL_ERRNO(ret);
    o->state = KX_TCP_LISTEN_STARTED;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_finish_listen(kg_call *call, tcp self,
                                                    res_void *ret)
{
    GET(o, self);
    if (o->state != KX_TCP_LISTEN_STARTED)
        return FAIL(ret, E(NOT_IN_PROGRESS));
    o->state = KX_TCP_LISTENING;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_accept(kg_call *call, tcp self,
                                             res_accept *ret)
{
    GET(o, self);
    if (o->state != KX_TCP_LISTENING)
        return FAIL(ret, E(INVALID_STATE));
    int family = o->family;
    int fd = accept4(sockfd(o), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return FAIL_ERRNO(ret);
    int rc = new_socket(call, fd, family, KX_TCP_CONNECTED, &ret->val.ok.f0);
    if (rc)
        return rc;
    kx_p2obj *n = sock(call, ret->val.ok.f0);
    return streams(call, n, &ret->val.ok.f1, &ret->val.ok.f2);
}

static int
address(kg_call *call, tcp self, bool peer, res_addr *ret)
{
    GET(o, self);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (peer ? o->state != KX_TCP_CONNECTED
             : (o->state == KX_TCP_UNBOUND || o->state == KX_TCP_BIND_STARTED))
        return FAIL(ret, E(INVALID_STATE));
    if ((peer ? getpeername : getsockname)(sockfd(o), (struct sockaddr *)&ss,
                                           &len) < 0)
        return FAIL_ERRNO(ret);
    kx_p2_from_sockaddr(&ss, &ret->val.ok);
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_local_address(kg_call *call, tcp self,
                                                    res_addr *ret)
{
    return address(call, self, false, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_remote_address(kg_call *call, tcp self,
                                                     res_addr *ret)
{
    return address(call, self, true, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_is_listening(kg_call *call, tcp self,
                                                   bool *ret)
{
    GET(o, self);
    *ret = o->state == KX_TCP_LISTENING;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_address_family(
    kg_call *call, tcp self, kx_wasi_sockets_network_ip_address_family *ret)
{
    GET(o, self);
    *ret = o->family == AF_INET
               ? KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4
               : KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV6;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_listen_backlog_size(
    kg_call *call, tcp self, uint64_t value, res_void *ret)
{
    GET(o, self);
    if (value == 0)
        return FAIL(ret, E(INVALID_ARGUMENT));
    o->off = value > 4096 ? 4096 : value;
    if (o->state == KX_TCP_LISTENING && listen(sockfd(o), (int)o->off) < 0)
        return FAIL_ERRNO(ret);
    return 0;
}

/* ---- options: getsockopt/setsockopt of an int */

static int
opt_get(kx_p2obj *o, int level, int name, int *v)
{
    socklen_t len = sizeof *v;
    return getsockopt(sockfd(o), level, name, v, &len) < 0 ? -1 : 0;
}

static int
opt_set(kx_p2obj *o, int level, int name, int v)
{
    return setsockopt(sockfd(o), level, name, &v, sizeof v) < 0 ? -1 : 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_keep_alive_enabled(kg_call *call,
                                                         tcp self,
                                                         res_bool *ret)
{
    GET(o, self);
    int v;
    if (opt_get(o, SOL_SOCKET, SO_KEEPALIVE, &v))
        return FAIL_ERRNO(ret);
    ret->val.ok = v != 0;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_keep_alive_enabled(kg_call *call,
                                                             tcp self,
                                                             bool value,
                                                             res_void *ret)
{
    GET(o, self);
    if (opt_set(o, SOL_SOCKET, SO_KEEPALIVE, value))
        return FAIL_ERRNO(ret);
    return 0;
}

/* keep-alive times: the WIT counts nanoseconds, Linux whole seconds */
static int
get_secs(kg_call *call, tcp self, int name, res_u64 *ret)
{
    GET(o, self);
    int v;
    if (opt_get(o, IPPROTO_TCP, name, &v))
        return FAIL_ERRNO(ret);
    ret->val.ok = (uint64_t)v * 1000000000u;
    return 0;
}

static int
set_secs(kg_call *call, tcp self, int name, uint64_t ns, res_void *ret)
{
    GET(o, self);
    if (ns == 0)
        return FAIL(ret, E(INVALID_ARGUMENT));
    uint64_t s = (ns + 999999999u) / 1000000000u;
    if (opt_set(o, IPPROTO_TCP, name, s > 32767 ? 32767 : (int)s))
        return FAIL_ERRNO(ret);
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_keep_alive_idle_time(kg_call *call,
                                                           tcp self,
                                                           res_u64 *ret)
{
    return get_secs(call, self, TCP_KEEPIDLE, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_keep_alive_idle_time(
    kg_call *call, tcp self, kx_wasi_clocks_monotonic_clock_duration value,
    res_void *ret)
{
    return set_secs(call, self, TCP_KEEPIDLE, value, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_keep_alive_interval(kg_call *call,
                                                          tcp self,
                                                          res_u64 *ret)
{
    return get_secs(call, self, TCP_KEEPINTVL, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_keep_alive_interval(
    kg_call *call, tcp self, kx_wasi_clocks_monotonic_clock_duration value,
    res_void *ret)
{
    return set_secs(call, self, TCP_KEEPINTVL, value, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_keep_alive_count(kg_call *call,
                                                       tcp self, res_u32 *ret)
{
    GET(o, self);
    int v;
    if (opt_get(o, IPPROTO_TCP, TCP_KEEPCNT, &v))
        return FAIL_ERRNO(ret);
    ret->val.ok = (uint32_t)v;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_keep_alive_count(kg_call *call,
                                                           tcp self,
                                                           uint32_t value,
                                                           res_void *ret)
{
    GET(o, self);
    if (value == 0)
        return FAIL(ret, E(INVALID_ARGUMENT));
    if (opt_set(o, IPPROTO_TCP, TCP_KEEPCNT, value > 127 ? 127 : (int)value))
        return FAIL_ERRNO(ret);
    return 0;
}

/* hop limit and buffer sizes: kx_p2_sockopt */
static int
option(kg_call *call, tcp self, kx_p2opt opt, uint64_t *v, bool set,
       bool *is_err, uint32_t *err)
{
    GET(o, self);
    *is_err = kx_p2_sockopt(sockfd(o), opt, o->family, v, set, err) < 0;
    return 0;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_hop_limit(kg_call *call, tcp self,
                                                res_u8 *ret)
{
    uint64_t v = 0;
    int rc = option(call, self, KX_P2OPT_HOPS, &v, false, &ret->is_err,
                    &ret->val.err);
    if (!rc && !ret->is_err)
        ret->val.ok = (uint8_t)v;
    return rc;
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_hop_limit(kg_call *call, tcp self,
                                                    uint8_t value,
                                                    res_void *ret)
{
    uint64_t v = value;
    return option(call, self, KX_P2OPT_HOPS, &v, true, &ret->is_err,
                  &ret->val.err);
}

static int
get_buf(kg_call *call, tcp self, kx_p2opt opt, res_u64 *ret)
{
    uint64_t v = 0;
    int rc = option(call, self, opt, &v, false, &ret->is_err, &ret->val.err);
    if (!rc && !ret->is_err)
        ret->val.ok = v;
    return rc;
}

static int
set_buf(kg_call *call, tcp self, kx_p2opt opt, uint64_t value, res_void *ret)
{
    return option(call, self, opt, &value, true, &ret->is_err, &ret->val.err);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_receive_buffer_size(kg_call *call,
                                                          tcp self,
                                                          res_u64 *ret)
{
    return get_buf(call, self, KX_P2OPT_RCVBUF, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_receive_buffer_size(
    kg_call *call, tcp self, uint64_t value, res_void *ret)
{
    return set_buf(call, self, KX_P2OPT_RCVBUF, value, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_send_buffer_size(kg_call *call,
                                                       tcp self, res_u64 *ret)
{
    return get_buf(call, self, KX_P2OPT_SNDBUF, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_set_send_buffer_size(kg_call *call,
                                                           tcp self,
                                                           uint64_t value,
                                                           res_void *ret)
{
    return set_buf(call, self, KX_P2OPT_SNDBUF, value, ret);
}

int
kx_wasi_sockets_tcp_method_tcp_socket_subscribe(kg_call *call, tcp self,
                                                kx_wasi_io_poll_pollable *ret)
{
    GET(o, self);
    switch (o->state) {
    case KX_TCP_CONNECTING:
        return kx_p2_pollable_new(call, KX_P2_WRITABLE, o->file, 0, ret);
    case KX_TCP_LISTENING:
    case KX_TCP_CONNECTED:
        return kx_p2_pollable_new(call, KX_P2_READABLE, o->file, 0, ret);
    default:
        return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
    }
}

int
kx_wasi_sockets_tcp_method_tcp_socket_shutdown(
    kg_call *call, tcp self, kx_wasi_sockets_tcp_shutdown_type shutdown_type,
    res_void *ret)
{
    GET(o, self);
    static const int how[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    if (o->state != KX_TCP_CONNECTED)
        return FAIL(ret, E(INVALID_STATE));
    if (shutdown(sockfd(o), how[shutdown_type > 2 ? 2 : shutdown_type]) < 0)
        return FAIL_ERRNO(ret);
    return 0;
}
