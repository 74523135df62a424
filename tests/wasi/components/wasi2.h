// wasi2.h - WASI 0.2 imports declared by hand for the test guests of
// tests/wasi/components (no wit-bindgen offline): each function is the
// canonical-ABI lowering of its WIT signature. Results that do not fit
// one flat value are written to a return area the caller passes last;
// the guests read those with the R* accessors at the offsets the
// canonical ABI gives (commented per function). Handles are i32.
#ifndef KUMO_TESTS_WASI2_H
#define KUMO_TESTS_WASI2_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V "@0.2.12"
#define IMPORT(iface, name)                                                   \
    __attribute__((import_module("wasi:" iface V), import_name(name))) extern

typedef int32_t h32; // a handle

// a return area, and readers at a byte offset
typedef struct ret {
    _Alignas(8) uint8_t b[128];
} ret;
#define R8(r, o) ((r).b[o])
#define R16(r, o) (*(uint16_t *)&(r).b[o])
#define R32(r, o) (*(uint32_t *)&(r).b[o])
#define R64(r, o) (*(uint64_t *)&(r).b[o])
#define RPTR(r, o) ((char *)(uintptr_t)R32(r, o))

// ---- wasi:io
IMPORT("io/error", "[method]error.to-debug-string") void
err_debug(h32 self, ret *r); // string @0,4
IMPORT("io/error", "[resource-drop]error") void err_drop(h32);

IMPORT("io/poll", "[method]pollable.ready") int32_t poll_ready(h32);
IMPORT("io/poll", "[method]pollable.block") void poll_block(h32);
IMPORT("io/poll", "poll") void poll_list(const h32 *p, int32_t n, ret *r);
IMPORT("io/poll", "[resource-drop]pollable") void poll_drop(h32);

// result<list<u8>, stream-error>: tag @0; ok ptr,len @4,8; err tag @4
// (0 last-operation-failed with error @8, 1 closed)
IMPORT("io/streams", "[method]input-stream.read") void
in_read(h32, int64_t len, ret *r);
IMPORT("io/streams", "[method]input-stream.blocking-read") void
in_blocking_read(h32, int64_t len, ret *r);
// result<u64, stream-error>: tag @0; ok @8; err tag @8
IMPORT("io/streams", "[method]input-stream.skip") void
in_skip(h32, int64_t len, ret *r);
IMPORT("io/streams", "[method]input-stream.blocking-skip") void
in_blocking_skip(h32, int64_t len, ret *r);
IMPORT("io/streams", "[method]input-stream.subscribe") h32 in_subscribe(h32);
IMPORT("io/streams", "[resource-drop]input-stream") void in_drop(h32);
IMPORT("io/streams", "[method]output-stream.check-write") void
out_check_write(h32, ret *r); // result<u64, stream-error>
// result<_, stream-error>: tag @0; err tag @4, error @8
IMPORT("io/streams", "[method]output-stream.write") void
out_write(h32, const void *p, int32_t n, ret *r);
IMPORT("io/streams", "[method]output-stream.blocking-write-and-flush") void
out_blocking_write_flush(h32, const void *p, int32_t n, ret *r);
IMPORT("io/streams", "[method]output-stream.flush") void out_flush(h32, ret *r);
IMPORT("io/streams", "[method]output-stream.blocking-flush") void
out_blocking_flush(h32, ret *r);
IMPORT("io/streams", "[method]output-stream.write-zeroes") void
out_write_zeroes(h32, int64_t n, ret *r);
IMPORT("io/streams", "[method]output-stream.blocking-write-zeroes-and-flush")
void out_blocking_write_zeroes_flush(h32, int64_t n, ret *r);
// result<u64, stream-error>
IMPORT("io/streams", "[method]output-stream.splice") void
out_splice(h32, h32 src, int64_t len, ret *r);
IMPORT("io/streams", "[method]output-stream.blocking-splice") void
out_blocking_splice(h32, h32 src, int64_t len, ret *r);
IMPORT("io/streams", "[method]output-stream.subscribe") h32 out_subscribe(h32);
IMPORT("io/streams", "[resource-drop]output-stream") void out_drop(h32);

// ---- wasi:clocks, wasi:random
IMPORT("clocks/monotonic-clock", "now") int64_t mono_now(void);
IMPORT("clocks/monotonic-clock", "resolution") int64_t mono_resolution(void);
IMPORT("clocks/monotonic-clock", "subscribe-instant") h32
mono_subscribe_instant(int64_t);
IMPORT("clocks/monotonic-clock", "subscribe-duration") h32
mono_subscribe_duration(int64_t);
// datetime: seconds @0 (u64), nanoseconds @8 (u32)
IMPORT("clocks/wall-clock", "now") void wall_now(ret *r);
IMPORT("clocks/wall-clock", "resolution") void wall_resolution(ret *r);
IMPORT("random/random", "get-random-bytes") void
random_bytes(int64_t n, ret *r); // list @0,4
IMPORT("random/random", "get-random-u64") int64_t random_u64(void);
IMPORT("random/insecure", "get-insecure-random-bytes") void
insecure_bytes(int64_t n, ret *r);
IMPORT("random/insecure", "get-insecure-random-u64") int64_t
insecure_u64(void);
IMPORT("random/insecure-seed", "insecure-seed") void
insecure_seed(ret *r); // u64 @0, u64 @8

// ---- wasi:cli
IMPORT("cli/environment", "get-environment") void
get_environment(ret *r); // list<tuple<string,string>> @0,4 (16 bytes each)
IMPORT("cli/environment", "get-arguments") void
get_arguments(ret *r); // list<string> @0,4
IMPORT("cli/environment", "initial-cwd") void
initial_cwd(ret *r); // option<string>: tag @0, ptr,len @4,8
IMPORT("cli/exit", "exit") void cli_exit(int32_t is_err);
IMPORT("cli/stdin", "get-stdin") h32 get_stdin(void);
IMPORT("cli/stdout", "get-stdout") h32 get_stdout(void);
IMPORT("cli/stderr", "get-stderr") h32 get_stderr(void);
// option<own<terminal-*>>: tag @0, handle @4
IMPORT("cli/terminal-stdin", "get-terminal-stdin") void
get_terminal_stdin(ret *r);
IMPORT("cli/terminal-stdout", "get-terminal-stdout") void
get_terminal_stdout(ret *r);
IMPORT("cli/terminal-stderr", "get-terminal-stderr") void
get_terminal_stderr(ret *r);

// ---- wasi:filesystem (result<_, error-code>: tag @0, code @1;
// result<own<T>, error-code>: tag @0, handle or code @4)
IMPORT("filesystem/preopens", "get-directories") void
get_directories(ret *r); // list<tuple<own<descriptor>, string>> (12 bytes)
#define FS "filesystem/types"
IMPORT(FS, "[method]descriptor.read-via-stream") void
fd_read_via_stream(h32, int64_t off, ret *r);
IMPORT(FS, "[method]descriptor.write-via-stream") void
fd_write_via_stream(h32, int64_t off, ret *r);
IMPORT(FS, "[method]descriptor.append-via-stream") void
fd_append_via_stream(h32, ret *r);
IMPORT(FS, "[method]descriptor.advise") void
fd_advise(h32, int64_t off, int64_t len, int32_t advice, ret *r);
IMPORT(FS, "[method]descriptor.sync-data") void fd_sync_data(h32, ret *r);
IMPORT(FS, "[method]descriptor.sync") void fd_sync(h32, ret *r);
IMPORT(FS, "[method]descriptor.get-flags") void fd_get_flags(h32, ret *r);
IMPORT(FS, "[method]descriptor.get-type") void fd_get_type(h32, ret *r);
IMPORT(FS, "[method]descriptor.set-size") void
fd_set_size(h32, int64_t size, ret *r);
// new-timestamp: tag (0 no-change, 1 now, 2 timestamp), seconds, nanos
IMPORT(FS, "[method]descriptor.set-times") void
fd_set_times(h32, int32_t at, int64_t as, int32_t an, int32_t mt,
             int64_t ms, int32_t mn, ret *r);
// result<tuple<list<u8>, bool>>: ptr,len @4,8, eof @12
IMPORT(FS, "[method]descriptor.read") void
fd_read(h32, int64_t len, int64_t off, ret *r);
IMPORT(FS, "[method]descriptor.write") void
fd_write(h32, const void *p, int32_t n, int64_t off, ret *r); // u64 @8
IMPORT(FS, "[method]descriptor.read-directory") void
fd_read_directory(h32, ret *r);
// descriptor-stat @8: type @8, link-count @16, size @24, atime option
// @32 (tag, secs @40, nanos @48), mtime @56, ctime @80
IMPORT(FS, "[method]descriptor.stat") void fd_stat(h32, ret *r);
IMPORT(FS, "[method]descriptor.stat-at") void
fd_stat_at(h32, int32_t pflags, const char *p, int32_t n, ret *r);
IMPORT(FS, "[method]descriptor.set-times-at") void
fd_set_times_at(h32, int32_t pflags, const char *p, int32_t n, int32_t at,
                int64_t as, int32_t an, int32_t mt, int64_t ms, int32_t mn,
                ret *r);
IMPORT(FS, "[method]descriptor.link-at") void
fd_link_at(h32, int32_t pflags, const char *op, int32_t on, h32 nd,
           const char *np, int32_t nn, ret *r);
IMPORT(FS, "[method]descriptor.open-at") void
fd_open_at(h32, int32_t pflags, const char *p, int32_t n, int32_t oflags,
           int32_t dflags, ret *r);
IMPORT(FS, "[method]descriptor.readlink-at") void
fd_readlink_at(h32, const char *p, int32_t n, ret *r); // string @4,8
IMPORT(FS, "[method]descriptor.remove-directory-at") void
fd_remove_directory_at(h32, const char *p, int32_t n, ret *r);
IMPORT(FS, "[method]descriptor.rename-at") void
fd_rename_at(h32, const char *op, int32_t on, h32 nd, const char *np,
             int32_t nn, ret *r);
IMPORT(FS, "[method]descriptor.symlink-at") void
fd_symlink_at(h32, const char *op, int32_t on, const char *np, int32_t nn,
              ret *r);
IMPORT(FS, "[method]descriptor.unlink-file-at") void
fd_unlink_file_at(h32, const char *p, int32_t n, ret *r);
IMPORT(FS, "[method]descriptor.create-directory-at") void
fd_create_directory_at(h32, const char *p, int32_t n, ret *r);
IMPORT(FS, "[method]descriptor.is-same-object") int32_t
fd_is_same_object(h32, h32);
IMPORT(FS, "[method]descriptor.metadata-hash") void
fd_metadata_hash(h32, ret *r); // lower @8, upper @16
IMPORT(FS, "[method]descriptor.metadata-hash-at") void
fd_metadata_hash_at(h32, int32_t pflags, const char *p, int32_t n, ret *r);
IMPORT(FS, "[resource-drop]descriptor") void fd_drop(h32);
// result<option<directory-entry>>: option tag @4, type @8, name @12,16
IMPORT(FS, "[method]directory-entry-stream.read-directory-entry") void
dir_read_entry(h32, ret *r);
IMPORT(FS, "[resource-drop]directory-entry-stream") void dir_drop(h32);
IMPORT(FS, "filesystem-error-code") void
fs_error_code(h32 err, ret *r); // option<error-code>: tag @0, code @1

enum { PF_FOLLOW = 1 };
enum { OF_CREATE = 1, OF_DIRECTORY = 2, OF_EXCLUSIVE = 4, OF_TRUNCATE = 8 };
enum { DF_READ = 1, DF_WRITE = 2, DF_MUTATE_DIR = 32 };

static const char *const fs_errors[] = {
    "access", "would-block", "already", "bad-descriptor", "busy", "deadlock",
    "quota", "exist", "file-too-large", "illegal-byte-sequence",
    "in-progress", "interrupted", "invalid", "io", "is-directory", "loop",
    "too-many-links", "message-size", "name-too-long", "no-device",
    "no-entry", "no-lock", "insufficient-memory", "insufficient-space",
    "not-directory", "not-empty", "not-recoverable", "unsupported", "no-tty",
    "no-such-device", "overflow", "not-permitted", "pipe", "read-only",
    "invalid-seek", "text-file-busy", "cross-device"};
static const char *const fs_types[] = {
    "unknown", "block-device", "character-device", "directory", "fifo",
    "symbolic-link", "regular-file", "socket"};

// "ok" or the error-code of a result<_, error-code> (code @off)
static inline const char *
fs_res(const ret *r, int off)
{
    if (!r->b[0])
        return "ok";
    unsigned c = r->b[off];
    return c < sizeof fs_errors / sizeof *fs_errors ? fs_errors[c] : "?";
}

// ---- wasi:sockets (result<_, error-code>: tag @0, code @1)
// ip-socket-address, flat: tag, then ipv4 (port, a, b, c, d) or ipv6
// (port, flow-info, 8 x u16, scope-id), padded to 11 values. In memory
// at o: tag @o, port @o+4, ipv4 bytes @o+6, ipv6 flow @o+8, words @o+12,
// scope @o+28.
#define ADDR_PARAMS                                                            \
    int32_t, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t,   \
        int32_t, int32_t, int32_t, int32_t
#define V4(port, a, b, c, d) 0, port, a, b, c, d, 0, 0, 0, 0, 0, 0
IMPORT("sockets/instance-network", "instance-network") h32
instance_network(void);
IMPORT("sockets/network", "[resource-drop]network") void net_drop(h32);
IMPORT("sockets/tcp-create-socket", "create-tcp-socket") void
tcp_create(int32_t family, ret *r);
#define TCP "sockets/tcp"
IMPORT(TCP, "[method]tcp-socket.start-bind") void
tcp_start_bind(h32, h32 net, ADDR_PARAMS, ret *r);
IMPORT(TCP, "[method]tcp-socket.finish-bind") void tcp_finish_bind(h32, ret *);
IMPORT(TCP, "[method]tcp-socket.start-connect") void
tcp_start_connect(h32, h32 net, ADDR_PARAMS, ret *r);
// result<tuple<input, output>>: @4, @8
IMPORT(TCP, "[method]tcp-socket.finish-connect") void
tcp_finish_connect(h32, ret *r);
IMPORT(TCP, "[method]tcp-socket.start-listen") void tcp_start_listen(h32, ret *);
IMPORT(TCP, "[method]tcp-socket.finish-listen") void
tcp_finish_listen(h32, ret *);
// result<tuple<socket, input, output>>: @4, @8, @12
IMPORT(TCP, "[method]tcp-socket.accept") void tcp_accept(h32, ret *r);
// result<ip-socket-address>: address @4
IMPORT(TCP, "[method]tcp-socket.local-address") void
tcp_local_address(h32, ret *r);
IMPORT(TCP, "[method]tcp-socket.remote-address") void
tcp_remote_address(h32, ret *r);
IMPORT(TCP, "[method]tcp-socket.subscribe") h32 tcp_subscribe(h32);
IMPORT(TCP, "[resource-drop]tcp-socket") void tcp_drop(h32);

IMPORT("sockets/udp-create-socket", "create-udp-socket") void
udp_create(int32_t family, ret *r);
#define UDP "sockets/udp"
IMPORT(UDP, "[method]udp-socket.start-bind") void
udp_start_bind(h32, h32 net, ADDR_PARAMS, ret *r);
IMPORT(UDP, "[method]udp-socket.finish-bind") void udp_finish_bind(h32, ret *);
// option<ip-socket-address> flat: is_some, then the address
IMPORT(UDP, "[method]udp-socket.stream") void
udp_stream(h32, int32_t is_some, ADDR_PARAMS, ret *r); // in @4, out @8
IMPORT(UDP, "[method]udp-socket.local-address") void
udp_local_address(h32, ret *r);
IMPORT(UDP, "[method]udp-socket.remote-address") void
udp_remote_address(h32, ret *r);
IMPORT(UDP, "[method]udp-socket.address-family") int32_t udp_family(h32);
IMPORT(UDP, "[method]udp-socket.unicast-hop-limit") void
udp_hop_limit(h32, ret *r); // u8 @1
IMPORT(UDP, "[method]udp-socket.set-unicast-hop-limit") void
udp_set_hop_limit(h32, int32_t v, ret *r);
IMPORT(UDP, "[method]udp-socket.receive-buffer-size") void
udp_recv_buf(h32, ret *r); // u64 @8
IMPORT(UDP, "[method]udp-socket.set-receive-buffer-size") void
udp_set_recv_buf(h32, int64_t v, ret *r);
IMPORT(UDP, "[method]udp-socket.send-buffer-size") void
udp_send_buf(h32, ret *r);
IMPORT(UDP, "[method]udp-socket.set-send-buffer-size") void
udp_set_send_buf(h32, int64_t v, ret *r);
IMPORT(UDP, "[method]udp-socket.subscribe") h32 udp_subscribe(h32);
IMPORT(UDP, "[resource-drop]udp-socket") void udp_drop(h32);
// result<list<incoming-datagram>>: ptr,len @4,8; each 40 bytes: data
// ptr,len @0,4, remote address @8
IMPORT(UDP, "[method]incoming-datagram-stream.receive") void
udp_receive(h32, int64_t max, ret *r);
IMPORT(UDP, "[method]incoming-datagram-stream.subscribe") h32
udp_in_subscribe(h32);
IMPORT(UDP, "[resource-drop]incoming-datagram-stream") void udp_in_drop(h32);
IMPORT(UDP, "[method]outgoing-datagram-stream.check-send") void
udp_check_send(h32, ret *r); // u64 @8
// list<outgoing-datagram>: 44 bytes each: data @0,4, option tag @8,
// address @12
IMPORT(UDP, "[method]outgoing-datagram-stream.send") void
udp_send(h32, const void *list, int32_t n, ret *r); // u64 @8
IMPORT(UDP, "[method]outgoing-datagram-stream.subscribe") h32
udp_out_subscribe(h32);
IMPORT(UDP, "[resource-drop]outgoing-datagram-stream") void udp_out_drop(h32);

IMPORT("sockets/ip-name-lookup", "resolve-addresses") void
resolve_addresses(h32 net, const char *p, int32_t n, ret *r);
// result<option<ip-address>>: option tag @2, address tag @4, bytes @6
IMPORT("sockets/ip-name-lookup",
       "[method]resolve-address-stream.resolve-next-address") void
resolve_next(h32, ret *r);
IMPORT("sockets/ip-name-lookup",
       "[method]resolve-address-stream.subscribe") h32 resolve_subscribe(h32);
IMPORT("sockets/ip-name-lookup", "[resource-drop]resolve-address-stream")
void resolve_drop(h32);

static const char *const sock_errors[] = {
    "unknown", "access-denied", "not-supported", "invalid-argument",
    "out-of-memory", "timeout", "concurrency-conflict", "not-in-progress",
    "would-block", "invalid-state", "new-socket-limit",
    "address-not-bindable", "address-in-use", "remote-unreachable",
    "connection-refused", "connection-reset", "connection-aborted",
    "datagram-too-large", "name-unresolvable", "temporary-resolver-failure",
    "permanent-resolver-failure"};

static inline const char *
sock_res(const ret *r, int off)
{
    if (!r->b[0])
        return "ok";
    unsigned c = r->b[off];
    return c < sizeof sock_errors / sizeof *sock_errors ? sock_errors[c]
                                                        : "?";
}

// The guests are reactors (clang -mexec-model=reactor, `jco new
// --wasi-reactor`) exporting wasi:cli/run themselves: in a command
// module wasm-ld wraps every export other than _start in
// __wasm_call_ctors/__wasm_call_dtors, so a cabi_realloc export would
// rerun libc's constructors and flush stdio (an import call, which traps
// inside realloc) on every allocation the host makes.
int guest_main(int argc, char **argv);

__attribute__((export_name("wasi:cli/run@0.2.12#run"))) int32_t run(void);
int32_t
run(void)
{
    ret r;
    setvbuf(stdout, NULL, _IOLBF, 0); // lines reach the host before a trap
    get_arguments(&r);
    uint32_t n = R32(r, 4), *list = (uint32_t *)(uintptr_t)R32(r, 0);
    char **argv = calloc(n + 1, sizeof *argv);
    for (uint32_t i = 0; i < n; i++) {
        argv[i] = calloc(1, list[2 * i + 1] + 1);
        memcpy(argv[i], (char *)(uintptr_t)list[2 * i], list[2 * i + 1]);
    }
    int rc = guest_main((int)n, argv);
    fflush(stdout);
    fflush(stderr);
    return rc != 0;
}

// The allocator the host uses for strings and lists handed to the guest.
__attribute__((export_name("cabi_realloc"))) void *
cabi_realloc(void *ptr, size_t old, size_t align, size_t size);
void *
cabi_realloc(void *ptr, size_t old, size_t align, size_t size)
{
    (void)old;
    (void)align; // malloc aligns to 16
    void *p = realloc(ptr, size ? size : 1); // free() works on every list
    if (!p)
        abort();
    return p;
}

#endif
