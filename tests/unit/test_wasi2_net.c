/* test_wasi2_net.c - wasi:sockets through the typed host functions (no
 * component toolchain here builds socket guests): the deny path, a TCP
 * connection on loopback allowed by the policy, a connection the policy
 * refuses, and name lookups. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../src/wasi/p2.h"
#include "unit.h"

#define E(name) KX_WASI_SOCKETS_NETWORK_ERROR_CODE_##name

typedef kx_result_void_wasi_sockets_network_error_code res_void;

static kg_call
mkcall(kumo_wasi_ctx *ctx)
{
    kg_call c;
    kg_call_init(&c, NULL, ctx, NULL, "test");
    return c;
}

static kx_wasi_sockets_network_ip_socket_address
loopback(uint16_t port)
{
    kx_wasi_sockets_network_ip_socket_address a;
    memset(&a, 0, sizeof a);
    a.tag = KX_WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV4;
    a.val.ipv4.port = port;
    a.val.ipv4.address.f0 = 127;
    a.val.ipv4.address.f3 = 1;
    return a;
}

static kx_wasi_sockets_tcp_tcp_socket
mksock(kg_call *c, uint32_t *err)
{
    kx_result_wasi_sockets_tcp_tcp_socket_wasi_sockets_network_error_code r;
    memset(&r, 0, sizeof r);
    kx_wasi_sockets_tcp_create_socket_create_tcp_socket(
        c, KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4, &r);
    *err = r.is_err ? r.val.err : UINT32_MAX;
    return r.val.ok;
}

KT_TEST(wasi2_sockets_denied)
{
    kumo_wasi_ctx *ctx = NULL;
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    kg_call c = mkcall(ctx);
    uint32_t err;
    mksock(&c, &err);
    KT_CHECK(err == E(ACCESS_DENIED));
    kx_wasi_sockets_network_network net;
    KT_CHECK(kx_wasi_sockets_instance_network_instance_network(&c, &net) == 0);
    kx_result_wasi_sockets_ip_name_lookup_resolve_address_stream_wasi_sockets_network_error_code
        lr;
    memset(&lr, 0, sizeof lr);
    kg_string name = {"localhost", 9};
    KT_CHECK(kx_wasi_sockets_ip_name_lookup_resolve_addresses(&c, net, name,
                                                              &lr) == 0);
    KT_CHECK(lr.is_err && lr.val.err == E(ACCESS_DENIED));
    kx_result_wasi_sockets_udp_udp_socket_wasi_sockets_network_error_code ur;
    memset(&ur, 0, sizeof ur);
    kx_wasi_sockets_udp_create_socket_create_udp_socket(
        &c, KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4, &ur);
    KT_CHECK(ur.is_err && ur.val.err == E(ACCESS_DENIED));
    kg_call_fini(&c);
    kumo_wasi_ctx_free(ctx);
}

/* Retry f while it says would-block (up to a second). */
#define RETRY(expr, res)                                                       \
    for (int tries_ = 0; tries_ < 1000; tries_++) {                            \
        memset(&(res), 0, sizeof(res));                                        \
        KT_CHECK((expr) == 0);                                                 \
        if (!(res).is_err || (res).val.err != E(WOULD_BLOCK))                  \
            break;                                                             \
        usleep(1000);                                                          \
    }

KT_TEST(wasi2_tcp_loopback)
{
    kumo_wasi_ctx *ctx = NULL;
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    KT_REQUIRE(kumo_wasi_ctx_allow_net(ctx, "127.0.0.1:*") == 0);
    kg_call c = mkcall(ctx);
    kx_wasi_sockets_network_network net;
    KT_REQUIRE(kx_wasi_sockets_instance_network_instance_network(&c, &net) ==
               0);
    uint32_t err;
    kx_wasi_sockets_tcp_tcp_socket srv = mksock(&c, &err), cli;
    KT_REQUIRE(err == UINT32_MAX);
    res_void rv;
    memset(&rv, 0, sizeof rv);
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_start_bind(
                 &c, srv, net, loopback(0), &rv) == 0 &&
             !rv.is_err);
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_finish_bind(&c, srv, &rv) ==
                 0 &&
             !rv.is_err);
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_start_listen(&c, srv,
                                                                &rv) == 0 &&
             !rv.is_err);
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_finish_listen(&c, srv,
                                                                 &rv) == 0 &&
             !rv.is_err);
    kx_result_wasi_sockets_network_ip_socket_address_wasi_sockets_network_error_code
        la;
    memset(&la, 0, sizeof la);
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_local_address(&c, srv,
                                                                 &la) == 0);
    uint16_t port = la.val.ok.val.ipv4.port;
    KT_CHECK(!la.is_err && port != 0);

    /* the policy refuses other hosts */
    cli = mksock(&c, &err);
    kx_wasi_sockets_network_ip_socket_address other = loopback(80);
    other.val.ipv4.address.f0 = 10;
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_start_connect(
                 &c, cli, net, other, &rv) == 0 &&
             rv.is_err && rv.val.err == E(ACCESS_DENIED));

    memset(&rv, 0, sizeof rv); /* the host sets only what it returns */
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_start_connect(
                 &c, cli, net, loopback(port), &rv) == 0 &&
             !rv.is_err);
    kx_result_tuple2_wasi_io_streams_input_stream_wasi_io_streams_output_stream_wasi_sockets_network_error_code
        cs;
    RETRY(kx_wasi_sockets_tcp_method_tcp_socket_finish_connect(&c, cli, &cs),
          cs);
    KT_REQUIRE(!cs.is_err);
    kx_result_tuple3_wasi_sockets_tcp_tcp_socket_wasi_io_streams_input_stream_wasi_io_streams_output_stream_wasi_sockets_network_error_code
        ac;
    RETRY(kx_wasi_sockets_tcp_method_tcp_socket_accept(&c, srv, &ac), ac);
    KT_REQUIRE(!ac.is_err);

    /* bytes flow both ways through the wasi:io streams */
    kx_result_void_wasi_io_streams_stream_error wr;
    memset(&wr, 0, sizeof wr);
    kg_bytes ping = {(const uint8_t *)"ping", 4};
    KT_CHECK(kx_wasi_io_streams_method_output_stream_blocking_write_and_flush(
                 &c, cs.val.ok.f1, ping, &wr) == 0 &&
             !wr.is_err);
    kx_result_bytes_wasi_io_streams_stream_error rd;
    memset(&rd, 0, sizeof rd);
    KT_CHECK(kx_wasi_io_streams_method_input_stream_blocking_read(
                 &c, ac.val.ok.f1, 16, &rd) == 0);
    KT_CHECK(!rd.is_err && rd.val.ok.len == 4 &&
             memcmp(rd.val.ok.ptr, "ping", 4) == 0);
    kx_result_wasi_sockets_network_ip_socket_address_wasi_sockets_network_error_code
        ra;
    memset(&ra, 0, sizeof ra);
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_remote_address(
                 &c, cli, &ra) == 0 &&
             !ra.is_err && ra.val.ok.val.ipv4.port == port);
    bool listening = false;
    KT_CHECK(kx_wasi_sockets_tcp_method_tcp_socket_is_listening(
                 &c, srv, &listening) == 0 &&
             listening);
    kg_call_fini(&c);
    kumo_wasi_ctx_free(ctx); /* closes every socket and stream */
}

KT_TEST(wasi2_name_lookup)
{
    kumo_wasi_ctx *ctx = NULL;
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    kumo_wasi_ctx_allow_lookup(ctx, true);
    kg_call c = mkcall(ctx);
    kx_wasi_sockets_network_network net;
    KT_REQUIRE(kx_wasi_sockets_instance_network_instance_network(&c, &net) ==
               0);
    kx_result_wasi_sockets_ip_name_lookup_resolve_address_stream_wasi_sockets_network_error_code
        lr;
    memset(&lr, 0, sizeof lr);
    kg_string name = {"127.0.0.1", 9};
    KT_CHECK(kx_wasi_sockets_ip_name_lookup_resolve_addresses(&c, net, name,
                                                              &lr) == 0);
    KT_REQUIRE(!lr.is_err);
    kx_result_option_wasi_sockets_network_ip_address_wasi_sockets_network_error_code
        nx;
    memset(&nx, 0, sizeof nx);
    KT_CHECK(
        kx_wasi_sockets_ip_name_lookup_method_resolve_address_stream_resolve_next_address(
            &c, lr.val.ok, &nx) == 0);
    KT_CHECK(!nx.is_err && nx.val.ok.is_some &&
             nx.val.ok.val.tag == KX_WASI_SOCKETS_NETWORK_IP_ADDRESS_IPV4 &&
             nx.val.ok.val.val.ipv4.f0 == 127);
    kg_string empty = {"", 0};
    memset(&lr, 0, sizeof lr);
    KT_CHECK(kx_wasi_sockets_ip_name_lookup_resolve_addresses(&c, net, empty,
                                                              &lr) == 0 &&
             lr.is_err && lr.val.err == E(INVALID_ARGUMENT));
    kg_call_fini(&c);
    kumo_wasi_ctx_free(ctx);
}
