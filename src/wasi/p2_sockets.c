/* p2_sockets.c - what wasi:sockets tcp (p2_tcp.c) and udp (p2_udp.c)
 * share: network and instance-network, the errno -> error-code map,
 * address conversion, the network policy check and socket options. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "../base/base.h"
#include "p2.h"

#define E(name) KX_WASI_SOCKETS_NETWORK_ERROR_CODE_##name
#define A(name) KX_WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_##name

typedef kx_wasi_sockets_network_ip_socket_address sock_addr;
typedef kx_wasi_sockets_network_ip_address ip_addr;

uint32_t
kx_p2_sock_error(int e)
{
    switch (e) {
    case KX_EACCES:
    case KX_EPERM:
    case KX_ENOTCAPABLE:
        return E(ACCESS_DENIED);
    case KX_ENOTSUP:
    case KX_ENOSYS:
        return E(NOT_SUPPORTED);
    case KX_EINVAL:
    case KX_EAFNOSUPPORT:
    case KX_EDESTADDRREQ:
        return E(INVALID_ARGUMENT);
    case KX_ENOMEM:
    case KX_ENOBUFS:
        return E(OUT_OF_MEMORY);
    case KX_ETIMEDOUT:
        return E(TIMEOUT);
    case KX_EAGAIN:
    case KX_EINPROGRESS:
        return E(WOULD_BLOCK);
    case KX_EISCONN:
    case KX_ENOTCONN:
        return E(INVALID_STATE);
    case KX_EADDRINUSE:
        return E(ADDRESS_IN_USE);
    case KX_EADDRNOTAVAIL:
        return E(ADDRESS_NOT_BINDABLE);
    case KX_ECONNREFUSED:
        return E(CONNECTION_REFUSED);
    case KX_ECONNRESET:
        return E(CONNECTION_RESET);
    case KX_ECONNABORTED:
        return E(CONNECTION_ABORTED);
    case KX_ENETUNREACH:
    case KX_EHOSTUNREACH:
    case KX_ENETDOWN:
        return E(REMOTE_UNREACHABLE);
    case KX_EMSGSIZE:
        return E(DATAGRAM_TOO_LARGE);
    default:
        return E(UNKNOWN);
    }
}

uint32_t
kx_p2_sock_errno(int host_errno)
{
    return kx_p2_sock_error(-kx_errno_from_host(host_errno));
}

bool
kx_p2_net_enabled(kumo_wasi_ctx *ctx)
{
    return ctx->nrules > 0;
}

void
kx_wasi_sockets_network_network_drop(void *env,
    kx_wasi_sockets_network_network self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_sockets_instance_network_instance_network(kg_call *call,
    kx_wasi_sockets_network_network *ret)
{
    if (!kx_p2_new(KX_CTX(call), KX_P2_NETWORK, &ret->rep))
        return kx_p2_oom(call);
    return 0;
}

/* ---- addresses */

int
kx_p2_to_sockaddr(const sock_addr *a, struct sockaddr_storage *ss,
                  unsigned *len)
{
    memset(ss, 0, sizeof *ss);
    if (a->tag == A(IPV4)) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        const kx_wasi_sockets_network_ipv4_address *x = &a->val.ipv4.address;
        uint8_t b[4] = {x->f0, x->f1, x->f2, x->f3};
        in->sin_family = AF_INET;
        in->sin_port = htons(a->val.ipv4.port);
        memcpy(&in->sin_addr, b, 4);
        *len = sizeof *in;
        return AF_INET;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    const kx_wasi_sockets_network_ipv6_address *x = &a->val.ipv6.address;
    uint16_t w[8] = {x->f0, x->f1, x->f2, x->f3, x->f4, x->f5, x->f6, x->f7};
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->val.ipv6.port);
    in6->sin6_flowinfo = htonl(a->val.ipv6.flow_info);
    in6->sin6_scope_id = a->val.ipv6.scope_id;
    for (int i = 0; i < 8; i++) {
        in6->sin6_addr.s6_addr[2 * i] = (uint8_t)(w[i] >> 8);
        in6->sin6_addr.s6_addr[2 * i + 1] = (uint8_t)w[i];
    }
    *len = sizeof *in6;
    return AF_INET6;
}

void
kx_p2_ip_from_bytes(int family, const uint8_t *b, ip_addr *out)
{
    if (family == AF_INET) {
        kx_wasi_sockets_network_ipv4_address v = {b[0], b[1], b[2], b[3]};
        out->tag = KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_IPV4;
        out->val.ipv4 = v;
        return;
    }
    uint16_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
    kx_wasi_sockets_network_ipv6_address v = {w[0], w[1], w[2], w[3],
                                              w[4], w[5], w[6], w[7]};
    out->tag = KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_IPV6;
    out->val.ipv6 = v;
}

void
kx_p2_from_sockaddr(const struct sockaddr_storage *ss, sock_addr *out)
{
    ip_addr ip;
    memset(out, 0, sizeof *out);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        kx_p2_ip_from_bytes(AF_INET, (const uint8_t *)&in->sin_addr, &ip);
        out->tag = A(IPV4);
        out->val.ipv4.port = ntohs(in->sin_port);
        out->val.ipv4.address = ip.val.ipv4;
        return;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    kx_p2_ip_from_bytes(AF_INET6, in6->sin6_addr.s6_addr, &ip);
    out->tag = A(IPV6);
    out->val.ipv6.port = ntohs(in6->sin6_port);
    out->val.ipv6.flow_info = ntohl(in6->sin6_flowinfo);
    out->val.ipv6.scope_id = in6->sin6_scope_id;
    out->val.ipv6.address = ip.val.ipv6;
}

/* The raw address bytes and the port of an AF_INET/AF_INET6 address. */
static const uint8_t *
raw_addr(const struct sockaddr_storage *ss, uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        *port = ntohs(in->sin_port);
        return (const uint8_t *)&in->sin_addr;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    *port = ntohs(in6->sin6_port);
    return in6->sin6_addr.s6_addr;
}

bool
kx_p2_addr_unspecified(const struct sockaddr_storage *ss)
{
    uint16_t port;
    const uint8_t *raw = raw_addr(ss, &port);
    size_t n = ss->ss_family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (raw[i])
            return port == 0;
    return true;
}

/* The policy: the address as text, or a name that a lookup resolved to
 * it. */
bool
kx_p2_addr_allowed(kumo_wasi_ctx *ctx, const struct sockaddr_storage *ss)
{
    char text[INET6_ADDRSTRLEN];
    uint16_t port;
    const uint8_t *raw = raw_addr(ss, &port);
    int fam = ss->ss_family;
    if (inet_ntop(fam, raw, text, sizeof text) &&
        kumo_wasi_ctx_net_allowed(ctx, text, port))
        return true;
    kx_p2 *p = ctx->p2;
    size_t n = fam == AF_INET ? 4 : 16;
    for (uint32_t i = 0; p && i < sizeof p->lookups / sizeof *p->lookups;
         i++)
        if (p->lookups[i].name && p->lookups[i].family == fam &&
            memcmp(p->lookups[i].addr, raw, n) == 0 &&
            kumo_wasi_ctx_net_allowed(ctx, p->lookups[i].name, port))
            return true;
    return false;
}

int
kx_p2_check_addr(kg_call *call, int family,
                 kx_wasi_sockets_network_network net, const sock_addr *a,
                 struct sockaddr_storage *ss, unsigned *len)
{
    if (!kx_p2_get(KX_CTX(call), net.rep, KX_P2_NETWORK))
        return -1;
    if (kx_p2_to_sockaddr(a, ss, len) != family)
        return E(INVALID_ARGUMENT);
    if (!kx_p2_addr_allowed(KX_CTX(call), ss))
        return E(ACCESS_DENIED);
    return 0;
}

/* ---- options */

int
kx_p2_sockopt(int fd, kx_p2opt opt, int family, uint64_t *v, bool set,
              uint32_t *err)
{
    int level = SOL_SOCKET, name;
    switch (opt) {
    case KX_P2OPT_HOPS:
        level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
        name = family == AF_INET ? IP_TTL : IPV6_UNICAST_HOPS;
        break;
    case KX_P2OPT_RCVBUF:
        name = SO_RCVBUF;
        break;
    default:
        name = SO_SNDBUF;
        break;
    }
    int x;
    socklen_t xlen = sizeof x;
    if (set) {
        uint64_t max = opt == KX_P2OPT_HOPS ? 255 : 1u << 30;
        if (*v == 0) {
            *err = E(INVALID_ARGUMENT);
            return -1;
        }
        x = (int)(*v > max ? max : *v);
        if (setsockopt(fd, level, name, &x, sizeof x) == 0)
            return 0;
    } else if (getsockopt(fd, level, name, &x, &xlen) == 0) {
        *v = x < 0 ? 0 : (uint64_t)x;
        return 0;
    }
    *err = kx_p2_sock_errno(errno);
    return -1;
}
