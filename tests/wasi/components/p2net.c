// p2net.c - wasi:sockets called directly, on loopback. Usage:
//   p2net tcp            listen, connect, accept, exchange, refused port
//   p2net udp            bind, streams, send/receive, options, errors
//   p2net udp-overflow   send more datagrams than check-send permitted
//   p2net lookup NAME... ip-name-lookup
//   p2net byname         lookup localhost, then tcp (--allow-net
//                        localhost:* allows the addresses it resolved to)
//   p2net deny           what a guest without --allow-net gets
//   p2net policy PORT    with --allow-net 127.0.0.1:PORT: other ports
//                        and hosts are access-denied
#include "wasi2.h"

static h32 net;

#define S_(x) x, (int32_t)strlen(x)
#define LOOP(port) V4(port, 127, 0, 0, 1)

// "a.b.c.d:port" of the ip-socket-address at o (the port optional)
static const char *
addr(const ret *r, int o, int with_port)
{
    static char buf[2][64];
    static int k;
    char *b = buf[k++ & 1];
    if (r->b[o] != 0) {
        snprintf(b, 64, "ipv6");
        return b;
    }
    snprintf(b, 64, "%u.%u.%u.%u", r->b[o + 6], r->b[o + 7], r->b[o + 8],
             r->b[o + 9]);
    if (with_port)
        snprintf(b + strlen(b), 16, ":%s", R16(*r, o + 4) ? "PORT" : "0");
    return b;
}

static uint16_t
port_of(const ret *r, int o)
{
    return R16(*r, o + 4);
}

// a bound and listening TCP socket on 127.0.0.1 (port in *port)
static h32
tcp_listener(uint16_t *port)
{
    ret r;
    tcp_create(0, &r);
    h32 s = (h32)R32(r, 4);
    tcp_start_bind(s, net, LOOP(0), &r);
    printf("tcp start-bind 127.0.0.1:0: %s\n", sock_res(&r, 1));
    tcp_finish_bind(s, &r);
    tcp_start_listen(s, &r);
    tcp_finish_listen(s, &r);
    printf("tcp listen: %s\n", sock_res(&r, 1));
    tcp_local_address(s, &r);
    *port = port_of(&r, 4);
    printf("tcp local-address: %s\n", addr(&r, 4, 1));
    return s;
}

static void
block_on(h32 p)
{
    poll_block(p);
    poll_drop(p);
}

// read exactly n bytes from a stream
static void
read_n(h32 in, char *buf, uint32_t n)
{
    ret r;
    uint32_t got = 0;
    while (got < n) {
        in_blocking_read(in, n - got, &r);
        if (r.b[0])
            break;
        memcpy(buf + got, RPTR(r, 4), R32(r, 8));
        got += R32(r, 8);
        free(RPTR(r, 4));
    }
    buf[got] = 0;
}

static void
tcp_mode(void)
{
    ret r;
    uint16_t port;
    h32 l = tcp_listener(&port);
    tcp_accept(l, &r);
    printf("accept with nobody connecting: %s\n", sock_res(&r, 4));
    tcp_create(0, &r);
    h32 c = (h32)R32(r, 4);
    tcp_start_connect(c, net, LOOP(port), &r);
    printf("start-connect: %s\n", sock_res(&r, 1));
    block_on(tcp_subscribe(c));
    tcp_finish_connect(c, &r);
    printf("finish-connect: %s\n", sock_res(&r, 4));
    h32 cin = (h32)R32(r, 4), cout = (h32)R32(r, 8);
    block_on(tcp_subscribe(l));
    tcp_accept(l, &r);
    printf("accept: %s\n", sock_res(&r, 4));
    h32 a = (h32)R32(r, 4), ain = (h32)R32(r, 8), aout = (h32)R32(r, 12);
    tcp_remote_address(a, &r);
    printf("accepted remote-address: %s\n", addr(&r, 4, 1));
    tcp_remote_address(l, &r);
    printf("listener remote-address: %s\n", sock_res(&r, 4));
    char buf[64];
    out_blocking_write_flush(cout, "ping", 4, &r);
    read_n(ain, buf, 4);
    printf("server got: %s\n", buf);
    out_blocking_write_flush(aout, "pong!", 5, &r);
    read_n(cin, buf, 5);
    printf("client got: %s\n", buf);
    out_drop(aout); // closes the server's side of the connection
    in_drop(ain);
    tcp_drop(a);
    in_blocking_read(cin, 10, &r);
    printf("client read after server closed: %s\n",
           r.b[0] && r.b[4] == 1 ? "closed" : "data?");
    out_drop(cout);
    in_drop(cin);
    tcp_drop(c);
    tcp_drop(l);
    // a port nobody listens on (the listener is gone)
    tcp_create(0, &r);
    c = (h32)R32(r, 4);
    tcp_start_connect(c, net, LOOP(port), &r);
    block_on(tcp_subscribe(c));
    tcp_finish_connect(c, &r);
    printf("connect to a closed port: %s\n", sock_res(&r, 4));
    tcp_drop(c);
}

// a UDP socket bound to 127.0.0.1:0
static h32
udp_bound(const char *name, uint16_t *port)
{
    ret r;
    udp_create(0, &r);
    printf("udp create %s: %s\n", name, sock_res(&r, 4));
    h32 s = (h32)R32(r, 4);
    udp_start_bind(s, net, LOOP(0), &r);
    udp_finish_bind(s, &r);
    printf("udp bind %s: %s\n", name, sock_res(&r, 1));
    udp_local_address(s, &r);
    *port = port_of(&r, 4);
    printf("udp %s local-address: %s\n", name, addr(&r, 4, 1));
    return s;
}

// one outgoing-datagram (44 bytes): data, option<ip-socket-address>
typedef struct {
    _Alignas(4) uint8_t b[44];
} dgram;

static void
dgram_set(dgram *d, const char *data, int has_addr, uint16_t port,
          uint8_t last)
{
    memset(d, 0, sizeof *d);
    *(uint32_t *)&d->b[0] = (uint32_t)(uintptr_t)data;
    *(uint32_t *)&d->b[4] = (uint32_t)strlen(data);
    d->b[8] = (uint8_t)has_addr;
    *(uint16_t *)&d->b[16] = port; // address tag @12 = ipv4
    d->b[18] = 127, d->b[21] = last;
}

// wait for and receive up to max datagrams; prints them
static void
receive(const char *name, h32 in, int max)
{
    ret r;
    block_on(udp_in_subscribe(in));
    udp_receive(in, max, &r);
    printf("%s receive: %s, %u datagrams:", name, sock_res(&r, 4),
           r.b[0] ? 0 : R32(r, 8));
    uint8_t *l = (uint8_t *)RPTR(r, 4);
    for (uint32_t i = 0; !r.b[0] && i < R32(r, 8); i++) {
        uint8_t *d = l + 40 * i;
        ret a;
        memcpy(a.b, d + 8, 32);
        printf(" \"%.*s\" from %s", (int)*(uint32_t *)(d + 4),
               (char *)(uintptr_t)*(uint32_t *)d, addr(&a, 0, 1));
        free((void *)(uintptr_t)*(uint32_t *)d);
    }
    printf("\n");
}

static void
udp_options(h32 s)
{
    ret r;
    printf("udp address-family: %s\n", udp_family(s) ? "ipv6" : "ipv4");
    udp_set_hop_limit(s, 0, &r);
    printf("set-unicast-hop-limit 0: %s\n", sock_res(&r, 1));
    udp_set_hop_limit(s, 33, &r);
    udp_hop_limit(s, &r);
    printf("set/get unicast-hop-limit 33: %s %u\n", sock_res(&r, 1), R8(r, 1));
    udp_set_recv_buf(s, 0, &r);
    printf("set-receive-buffer-size 0: %s\n", sock_res(&r, 1));
    udp_set_recv_buf(s, 100000, &r);
    udp_recv_buf(s, &r);
    printf("receive-buffer-size after 100000: %s %s\n", sock_res(&r, 8),
           R64(r, 8) >= 100000 ? ">= 100000" : "smaller");
    udp_set_send_buf(s, 50000, &r);
    udp_send_buf(s, &r);
    printf("send-buffer-size after 50000: %s %s\n", sock_res(&r, 8),
           R64(r, 8) >= 50000 ? ">= 50000" : "smaller");
}

static void
udp_mode(int overflow)
{
    ret r;
    uint16_t pa, pb;
    udp_create(0, &r);
    h32 u = (h32)R32(r, 4);
    udp_stream(u, 0, LOOP(0), &r);
    printf("stream before bind: %s\n", sock_res(&r, 4));
    udp_local_address(u, &r);
    printf("local-address before bind: %s\n", sock_res(&r, 4));
    udp_finish_bind(u, &r);
    printf("finish-bind without start: %s\n", sock_res(&r, 1));
    udp_drop(u);
    h32 a = udp_bound("a", &pa), b = udp_bound("b", &pb);
    udp_start_bind(a, net, LOOP(0), &r);
    printf("bind a again: %s\n", sock_res(&r, 1));
    udp_options(a);
    udp_stream(a, 0, LOOP(0), &r); // a: unconnected
    h32 ain = (h32)R32(r, 4), aout = (h32)R32(r, 8);
    printf("a stream(none): %s\n", sock_res(&r, 4));
    udp_stream(b, 1, LOOP(0), &r);
    printf("b stream(port 0): %s\n", sock_res(&r, 4));
    udp_stream(b, 1, LOOP(pa), &r); // b: connected to a
    h32 bin = (h32)R32(r, 4), bout = (h32)R32(r, 8);
    printf("b stream(a): %s\n", sock_res(&r, 4));
    udp_remote_address(b, &r);
    printf("b remote-address: %s (a's port: %d)\n", addr(&r, 4, 1),
           port_of(&r, 4) == pa);
    udp_remote_address(a, &r);
    printf("a remote-address: %s\n", sock_res(&r, 4));
    udp_receive(ain, 0, &r);
    printf("receive 0: %s, %u\n", sock_res(&r, 4), R32(r, 8));
    udp_receive(ain, 5, &r);
    printf("receive with nothing sent: %s, %u\n", sock_res(&r, 4), R32(r, 8));
    udp_check_send(bout, &r);
    printf("b check-send: %s %s\n", sock_res(&r, 8),
           R64(r, 8) >= 2 ? ">= 2" : "< 2");
    dgram d[3];
    dgram_set(&d[0], "hello", 0, 0, 0);
    dgram_set(&d[1], "world", 1, pa, 1);
    udp_send(bout, d, 2, &r);
    printf("b send 2: %s %llu\n", sock_res(&r, 8),
           (unsigned long long)R64(r, 8));
    receive("a", ain, 10);
    udp_check_send(aout, &r);
    dgram_set(&d[0], "reply", 1, pb, 1);
    dgram_set(&d[1], "no address", 0, 0, 0);
    udp_send(aout, d, 1, &r);
    printf("a send to b: %s %llu\n", sock_res(&r, 8),
           (unsigned long long)R64(r, 8));
    udp_check_send(aout, &r);
    udp_send(aout, &d[1], 1, &r);
    printf("a send without address: %s\n", sock_res(&r, 8));
    udp_check_send(aout, &r);
    udp_send(aout, d, 0, &r);
    printf("a send empty list: %s %llu\n", sock_res(&r, 8),
           (unsigned long long)R64(r, 8));
    receive("b", bin, 10);
    udp_check_send(bout, &r);
    dgram_set(&d[0], "elsewhere", 1, (uint16_t)(pa + 1), 1);
    udp_send(bout, d, 1, &r);
    printf("b send to another address: %s\n", sock_res(&r, 8));
    // a second stream call retires b's first pair
    udp_stream(b, 0, LOOP(0), &r);
    h32 bin2 = (h32)R32(r, 4), bout2 = (h32)R32(r, 8);
    printf("b stream(none) again: %s\n", sock_res(&r, 4));
    udp_check_send(bout, &r);
    printf("old b stream check-send: %s\n", sock_res(&r, 8));
    udp_remote_address(b, &r);
    printf("b remote-address now: %s\n", sock_res(&r, 4));
    udp_check_send(bout2, &r);
    dgram_set(&d[0], "via new stream", 1, pa, 1);
    udp_send(bout2, d, 1, &r);
    printf("b new stream send: %s %llu\n", sock_res(&r, 8),
           (unsigned long long)R64(r, 8));
    receive("a", ain, 10);
    if (overflow) {
        udp_check_send(bout2, &r);
        uint64_t n = R64(r, 8);
        dgram *many = calloc(n + 1, sizeof *many);
        for (uint64_t i = 0; i <= n; i++)
            dgram_set(&many[i], "x", 1, pa, 1);
        printf("sending %s datagrams\n", "check-send + 1");
        fflush(stdout);
        udp_send(bout2, many, (int32_t)(n + 1), &r);
        printf("not reached\n");
    }
    udp_in_drop(bin2);
    udp_out_drop(bout2);
    udp_in_drop(bin);
    udp_out_drop(bout);
    udp_in_drop(ain);
    udp_out_drop(aout);
    udp_drop(a);
    udp_drop(b);
}

static void
lookup(const char *name)
{
    ret r;
    resolve_addresses(net, S_(name), &r);
    printf("lookup \"%s\": %s", name, sock_res(&r, 4));
    if (r.b[0]) {
        printf("\n");
        return;
    }
    h32 s = (h32)R32(r, 4);
    int v4 = 0, v6 = 0, loop = 0;
    for (;;) {
        resolve_next(s, &r);
        if (r.b[0] && !strcmp(sock_res(&r, 2), "would-block")) {
            // a name the host resolves off its loop: wait for it
            h32 p = resolve_subscribe(s);
            poll_block(p);
            poll_drop(p);
            continue;
        }
        if (r.b[0] || !R8(r, 2))
            break;
        if (R8(r, 4) == 0) {
            v4++;
            loop |= R8(r, 6) == 127 && R8(r, 9) == 1;
        } else
            v6++;
    }
    resolve_drop(s);
    printf(", ipv4: %s, 127.0.0.1: %s\n", v4 ? "yes" : "no",
           loop ? "yes" : "no");
    (void)v6;
}

static void
deny(void)
{
    ret r;
    tcp_create(0, &r);
    printf("create-tcp-socket: %s\n", sock_res(&r, 4));
    tcp_create(1, &r);
    printf("create-tcp-socket ipv6: %s\n", sock_res(&r, 4));
    udp_create(0, &r);
    printf("create-udp-socket: %s\n", sock_res(&r, 4));
    lookup("localhost");
}

// the policy let it through (whatever the network then said)
static const char *
not_denied(const ret *r, int off)
{
    return !strcmp(sock_res(r, off), "access-denied") ? "access-denied"
                                                      : "not denied";
}

static void
policy(uint16_t allowed)
{
    ret r;
    tcp_create(0, &r);
    printf("create-tcp-socket: %s\n", sock_res(&r, 4));
    h32 t = (h32)R32(r, 4);
    tcp_start_bind(t, net, LOOP(0), &r);
    printf("tcp bind 127.0.0.1:0: %s\n", sock_res(&r, 1));
    tcp_start_connect(t, net, V4(80, 10, 1, 2, 3), &r);
    printf("tcp connect 10.1.2.3:80: %s\n", sock_res(&r, 1));
    tcp_start_connect(t, net, LOOP((uint16_t)(allowed + 1)), &r);
    printf("tcp connect 127.0.0.1:other: %s\n", sock_res(&r, 1));
    tcp_start_connect(t, net, LOOP(allowed), &r);
    printf("tcp connect 127.0.0.1:allowed: %s\n", not_denied(&r, 1));
    tcp_drop(t);
    udp_create(0, &r);
    h32 u = (h32)R32(r, 4);
    udp_start_bind(u, net, LOOP(0), &r);
    printf("udp bind 127.0.0.1:0: %s\n", sock_res(&r, 1));
    udp_start_bind(u, net, LOOP(allowed), &r);
    printf("udp bind 127.0.0.1:allowed: %s\n", not_denied(&r, 1));
    udp_finish_bind(u, &r);
    udp_stream(u, 1, V4(53, 10, 1, 2, 3), &r);
    printf("udp stream(10.1.2.3:53): %s\n", sock_res(&r, 4));
    udp_stream(u, 0, LOOP(0), &r);
    h32 in = (h32)R32(r, 4), out = (h32)R32(r, 8);
    dgram d;
    udp_check_send(out, &r);
    dgram_set(&d, "x", 1, (uint16_t)(allowed + 1), 1);
    udp_send(out, &d, 1, &r);
    printf("udp send to 127.0.0.1:other: %s\n", sock_res(&r, 8));
    udp_in_drop(in);
    udp_out_drop(out);
    udp_drop(u);
    lookup("localhost");
}

int
guest_main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    net = instance_network();
    if (!strcmp(m, "tcp"))
        tcp_mode();
    else if (!strcmp(m, "udp") || !strcmp(m, "udp-overflow"))
        udp_mode(m[3] == '-');
    else if (!strcmp(m, "lookup"))
        for (int i = 2; i < argc; i++)
            lookup(argv[i]);
    else if (!strcmp(m, "byname")) {
        lookup("localhost");
        tcp_mode();
    } else if (!strcmp(m, "deny"))
        deny();
    else if (!strcmp(m, "policy") && argc > 2)
        policy((uint16_t)atoi(argv[2]));
    else {
        fprintf(stderr, "usage: p2net MODE\n");
        return 2;
    }
    net_drop(net);
    return 0;
}
