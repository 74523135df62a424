/* p2_sockets.c - wasi:sockets network, instance-network, udp and
 * udp-create-socket (tcp and ip-name-lookup are in p2_tcp.c), and the
 * errno -> error-code map. UDP is the deny path: creating a socket fails
 * with access-denied unless the network policy (--allow-net) allows
 * something, and with not-supported when it does (not implemented yet);
 * as no UDP socket can exist, its methods can only be reached with a
 * handle of the wrong kind, which traps. */
#include "../base/base.h"
#include "p2.h"

#define E(name) KX_WASI_SOCKETS_NETWORK_ERROR_CODE_##name

/* A socket method: check the handle, then fail as not supported. */
#define METHOD(kind, self, ret)                                                \
    do {                                                                       \
        if (!kx_p2_get(KX_CTX(call), (self).rep, kind))                        \
            return kx_p2_badhandle(call);                                      \
        (ret)->is_err = true;                                                  \
        (ret)->val.err = E(NOT_SUPPORTED);                                     \
        return 0;                                                              \
    } while (0)

/* A method without an error case: check the handle. */
#define CHECK(kind, self)                                                      \
    do {                                                                       \
        if (!kx_p2_get(KX_CTX(call), (self).rep, kind))                        \
            return kx_p2_badhandle(call);                                      \
    } while (0)

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
    case KX_EAFNOSUPPORT:
        return E(NOT_SUPPORTED);
    case KX_EINVAL:
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
        return E(REMOTE_UNREACHABLE);
    default:
        return E(UNKNOWN);
    }
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

void
kx_wasi_sockets_udp_udp_socket_drop(void *env,
    kx_wasi_sockets_udp_udp_socket self)
{
    kx_p2_free_obj(env, self.rep);
}

void
kx_wasi_sockets_udp_incoming_datagram_stream_drop(void *env,
    kx_wasi_sockets_udp_incoming_datagram_stream self)
{
    kx_p2_free_obj(env, self.rep);
}

void
kx_wasi_sockets_udp_outgoing_datagram_stream_drop(void *env,
    kx_wasi_sockets_udp_outgoing_datagram_stream self)
{
    kx_p2_free_obj(env, self.rep);
}

int
kx_wasi_sockets_udp_method_udp_socket_start_bind(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_wasi_sockets_network_network network,
    kx_wasi_sockets_network_ip_socket_address local_address,
    kx_result_void_wasi_sockets_network_error_code *ret)
{
    (void)local_address;
    (void)network;
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_finish_bind(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_result_void_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_stream(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_option_wasi_sockets_network_ip_socket_address remote_address,
    kx_result_tuple2_wasi_sockets_udp_incoming_datagram_stream_wasi_sockets_udp_outgoing_datagram_stream_wasi_sockets_network_error_code *ret)
{
    (void)remote_address;
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_local_address(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_result_wasi_sockets_network_ip_socket_address_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_remote_address(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_result_wasi_sockets_network_ip_socket_address_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_address_family(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_wasi_sockets_network_ip_address_family *ret)
{
    CHECK(KX_P2_UDP, self);
    *ret = KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4;
    return 0;
}

int
kx_wasi_sockets_udp_method_udp_socket_unicast_hop_limit(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_result_u8_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_set_unicast_hop_limit(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self, uint8_t value,
    kx_result_void_wasi_sockets_network_error_code *ret)
{
    (void)value;
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_receive_buffer_size(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_result_u64_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_set_receive_buffer_size(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self, uint64_t value,
    kx_result_void_wasi_sockets_network_error_code *ret)
{
    (void)value;
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_send_buffer_size(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self,
    kx_result_u64_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_set_send_buffer_size(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self, uint64_t value,
    kx_result_void_wasi_sockets_network_error_code *ret)
{
    (void)value;
    METHOD(KX_P2_UDP, self, ret);
}

int
kx_wasi_sockets_udp_method_udp_socket_subscribe(kg_call *call,
    kx_wasi_sockets_udp_udp_socket self, kx_wasi_io_poll_pollable *ret)
{
    CHECK(KX_P2_UDP, self);
    return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
}

int
kx_wasi_sockets_udp_method_incoming_datagram_stream_receive(kg_call *call,
    kx_wasi_sockets_udp_incoming_datagram_stream self, uint64_t max_results,
    kx_result_list_wasi_sockets_udp_incoming_datagram_wasi_sockets_network_error_code *ret)
{
    (void)max_results;
    METHOD(KX_P2_INDATAGRAMS, self, ret);
}

int
kx_wasi_sockets_udp_method_incoming_datagram_stream_subscribe(kg_call *call,
    kx_wasi_sockets_udp_incoming_datagram_stream self,
    kx_wasi_io_poll_pollable *ret)
{
    CHECK(KX_P2_INDATAGRAMS, self);
    return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
}

int
kx_wasi_sockets_udp_method_outgoing_datagram_stream_check_send(kg_call *call,
    kx_wasi_sockets_udp_outgoing_datagram_stream self,
    kx_result_u64_wasi_sockets_network_error_code *ret)
{
    METHOD(KX_P2_OUTDATAGRAMS, self, ret);
}

int
kx_wasi_sockets_udp_method_outgoing_datagram_stream_send(kg_call *call,
    kx_wasi_sockets_udp_outgoing_datagram_stream self,
    kx_list_wasi_sockets_udp_outgoing_datagram datagrams,
    kx_result_u64_wasi_sockets_network_error_code *ret)
{
    (void)datagrams;
    METHOD(KX_P2_OUTDATAGRAMS, self, ret);
}

int
kx_wasi_sockets_udp_method_outgoing_datagram_stream_subscribe(kg_call *call,
    kx_wasi_sockets_udp_outgoing_datagram_stream self,
    kx_wasi_io_poll_pollable *ret)
{
    CHECK(KX_P2_OUTDATAGRAMS, self);
    return kx_p2_pollable_new(call, KX_P2_READY, NULL, 0, ret);
}

int
kx_wasi_sockets_udp_create_socket_create_udp_socket(kg_call *call,
    kx_wasi_sockets_network_ip_address_family address_family,
    kx_result_wasi_sockets_udp_udp_socket_wasi_sockets_network_error_code *ret)
{
    (void)address_family;
    ret->is_err = true;
    ret->val.err = kx_p2_net_enabled(KX_CTX(call)) ? E(NOT_SUPPORTED)
                                                   : E(ACCESS_DENIED);
    return 0;
}
