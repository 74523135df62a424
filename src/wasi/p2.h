/* p2.h - internals of the WASI 0.2 host (src/wasi/p2_*.c): the table of
 * host objects behind the resource handles the guest holds, and helpers
 * shared by the interface files. The typed functions they implement are
 * declared by the generated build/gen/wasi_bind.h (tools/witgen).
 *
 * A handle's rep is an index + 1 into the table; the Canonical ABI checks
 * that a handle names a resource of the right type, and every lookup
 * checks the object's kind again, so a wrong rep traps instead of
 * touching the wrong object. */
#ifndef KUMO_SRC_WASI_P2_H
#define KUMO_SRC_WASI_P2_H

#include "wasi.h"
#include "wasi_bind.h"

typedef enum kx_p2kind {
    KX_P2_FREE = 0,
    KX_P2_ERROR,
    KX_P2_POLLABLE,
    KX_P2_INSTREAM,
    KX_P2_OUTSTREAM,
    KX_P2_DESCRIPTOR,
    KX_P2_DIRSTREAM,
    KX_P2_TERMIN,
    KX_P2_TERMOUT,
    KX_P2_NETWORK,
    KX_P2_TCP,
    KX_P2_UDP,
    KX_P2_INDATAGRAMS,
    KX_P2_OUTDATAGRAMS,
    KX_P2_RESOLVE,
    KX_P2_EXT, /* an upper layer's resource (kx_p2ext), e.g. wasi:http's */
} kx_p2kind;

/* A descriptor shared by the objects that use it (a descriptor and the
 * streams and pollables made from it). */
typedef struct kx_p2file {
    int refs;
    bool owned; /* d is ours to free (else the context's stdio/preopen) */
    kx_desc *d;
} kx_p2file;

/* What a pollable waits for. */
typedef enum kx_p2when {
    KX_P2_READY,    /* always ready */
    KX_P2_TIMER,    /* monotonic deadline */
    KX_P2_READABLE, /* file readable */
    KX_P2_WRITABLE, /* file writable */
    KX_P2_EXTWAIT,  /* an upper layer's condition: ext->ops->ready */
} kx_p2when;

typedef struct kx_p2ext kx_p2ext;

typedef struct kx_p2obj {
    uint8_t kind;      /* kx_p2kind */
    uint8_t when;      /* pollables: kx_p2when */
    bool positional;   /* streams: pread/pwrite at off (files) */
    bool append;       /* output streams of append-via-stream */
    bool closed;       /* input streams: end of file seen */
    int err;           /* errors: the WASI errno (positive) */
    kx_p2file *file;   /* streams, descriptors, dir streams, pollables */
    uint64_t off;      /* stream position; dir stream cookie; deadline;
                          tcp listen backlog */
    uint8_t state;     /* sockets: KX_TCP_... (p2_tcp.c) */
    uint8_t family;    /* sockets: AF_INET / AF_INET6 */
    void *data;        /* kind-specific block, kb_free'd with the object */
    kx_p2ext *ext;     /* an upper layer's object (see kx_p2ext) or NULL */
    uint32_t ndata;
    uint32_t next;     /* free list */
} kx_p2obj;

/* An address a name lookup returned, with the name (the network policy
 * matches connections to it by either). */
typedef struct kx_p2lookup {
    uint8_t addr[16];
    uint8_t family;
    char *name;
} kx_p2lookup;

typedef struct kx_p2 {
    kx_p2obj *objs;
    uint32_t nobjs, cap;
    uint32_t free_head; /* index + 1, 0: none */
    kx_bindings **binds; /* one per kumo_wasi_p2_define */
    uint32_t nbinds, bindcap;
    kx_p2lookup lookups[64]; /* the latest lookups, a ring */
    uint32_t nlookups;
    void *host; /* an upper layer's per-context data (kx_p2_host) */
} kx_p2;

/* The context of a call (call->env). */
#define KX_CTX(call) ((kumo_wasi_ctx *)(call)->env)

/* New object of kind (zeroed otherwise); *rep gets its handle rep. NULL
 * when out of memory. The pointer is valid until the next kx_p2_new. */
kx_p2obj *kx_p2_new(kumo_wasi_ctx *ctx, kx_p2kind kind, uint32_t *rep);
/* The object rep names if it is of kind, else NULL. */
kx_p2obj *kx_p2_get(kumo_wasi_ctx *ctx, uint32_t rep, kx_p2kind kind);
/* Release an object (and its reference to a file). */
void kx_p2_free_obj(kumo_wasi_ctx *ctx, uint32_t rep);
/* Free every object and the bindings (kumo_wasi_ctx_free). */
void kx_p2_fini(kumo_wasi_ctx *ctx);

kx_p2file *kx_p2file_ref(kx_p2file *f);
void kx_p2file_unref(kx_p2file *f);
/* Wrap a descriptor (owned or the context's); NULL when out of memory
 * (an owned d is freed then). */
kx_p2file *kx_p2file_new(kx_desc *d, bool owned);

/* Trap for a rep of the wrong kind or out of memory. */
int kx_p2_badhandle(kg_call *call);
int kx_p2_oom(kg_call *call);

/* A new error object for WASI errno e (positive); 0 or a trap. */
int kx_p2_error_new(kg_call *call, int e, kx_wasi_io_error_error *out);
/* A pollable; 0 or a trap. */
int kx_p2_pollable_new(kg_call *call, kx_p2when when, kx_p2file *file,
                       uint64_t deadline, kx_wasi_io_poll_pollable *out);
/* New input/output stream objects on f (a reference is taken). */
int kx_p2_instream_new(kg_call *call, kx_p2file *f, bool positional,
                       uint64_t off, kx_wasi_io_streams_input_stream *out);
int kx_p2_outstream_new(kg_call *call, kx_p2file *f, bool positional,
                        bool append, uint64_t off,
                        kx_wasi_io_streams_output_stream *out);

/* WASI errno (positive) -> wasi:sockets error-code. */
uint32_t kx_p2_sock_error(int e);
/* Whether the guest may use `network` handles at all (p2_sockets.c). */
bool kx_p2_net_enabled(kumo_wasi_ctx *ctx);

/* Shared by p2_tcp.c and p2_udp.c (p2_sockets.c). struct sockaddr_storage
 * and socklen_t come from <sys/socket.h>, which the users include. */
struct sockaddr_storage;
/* Host errno -> wasi:sockets error-code. */
uint32_t kx_p2_sock_errno(int host_errno);
/* WIT address -> host address; returns its family (AF_INET/AF_INET6). */
int kx_p2_to_sockaddr(const kx_wasi_sockets_network_ip_socket_address *a,
                      struct sockaddr_storage *ss, unsigned *len);
void kx_p2_from_sockaddr(const struct sockaddr_storage *ss,
                         kx_wasi_sockets_network_ip_socket_address *out);
void kx_p2_ip_from_bytes(int family, const uint8_t *b,
                         kx_wasi_sockets_network_ip_address *out);
/* Address all zeros or port 0. */
bool kx_p2_addr_unspecified(const struct sockaddr_storage *ss);
/* Whether the network policy allows ss (its text or a looked-up name). */
bool kx_p2_addr_allowed(kumo_wasi_ctx *ctx, const struct sockaddr_storage *ss);
/* Check net names a network, a's family is family and the policy allows
 * it: 0, an error-code (> 0), or -1 for a bad network handle. */
int kx_p2_check_addr(kg_call *call, int family,
                     kx_wasi_sockets_network_network net,
                     const kx_wasi_sockets_network_ip_socket_address *a,
                     struct sockaddr_storage *ss, unsigned *len);
/* Get or set a socket option; 0, or -1 with *err an error-code (set: 0 is
 * invalid-argument, larger values are clamped). */
typedef enum kx_p2opt {
    KX_P2OPT_HOPS,   /* IP_TTL / IPV6_UNICAST_HOPS */
    KX_P2OPT_RCVBUF, /* SO_RCVBUF */
    KX_P2OPT_SNDBUF, /* SO_SNDBUF */
} kx_p2opt;
int kx_p2_sockopt(int fd, kx_p2opt opt, int family, uint64_t *v, bool set,
                  uint32_t *err);

/* ---- hooks for upper layers (wasi:http in src/http/whttp*.c)
 *
 * An upper layer keeps objects of its own in the table: resources of its
 * interfaces (kind KX_P2_EXT), input and output streams (KX_P2_INSTREAM /
 * KX_P2_OUTSTREAM) and pollables (KX_P2_POLLABLE, when KX_P2_EXTWAIT) whose
 * behaviour it provides. Such an object starts with a kx_p2ext whose ops
 * say what to do; the wasi:io functions dispatch to them. The table
 * never frees an ext object: release is called whenever a slot that names
 * it is freed (the guest dropped the handle, or the context is freed),
 * after ext->slots was decremented: the object may go when it reaches 0. */
typedef kx_result_bytes_wasi_io_streams_stream_error kx_p2_res_bytes;
typedef kx_result_u64_wasi_io_streams_stream_error kx_p2_res_u64;
typedef kx_result_void_wasi_io_streams_stream_error kx_p2_res_void;

typedef struct kx_p2ops {
    const char *name; /* for messages */
    /* A table slot of kind `kind` naming self was freed. Required. Must
     * not touch the table. */
    void (*release)(kumo_wasi_ctx *ctx, kx_p2ext *self, kx_p2kind kind);
    /* Input streams: read up to len bytes, waiting for at least one when
     * block (an end of stream is the `closed` error). 0 or a trap. */
    int (*read)(kg_call *call, kx_p2ext *self, uint64_t len, bool block,
                kx_p2_res_bytes *ret);
    /* Output streams: check-write, write (blocking: wait for room, write
     * all, flush) and flush (block: wait until flushed). 0 or a trap. */
    int (*check_write)(kg_call *call, kx_p2ext *self, kx_p2_res_u64 *ret);
    int (*write)(kg_call *call, kx_p2ext *self, const uint8_t *buf,
                 size_t len, bool block, kx_p2_res_void *ret);
    int (*flush)(kg_call *call, kx_p2ext *self, bool block,
                 kx_p2_res_void *ret);
    /* Streams and pollables: whether a read/write would not wait, or the
     * awaited condition holds. Required for anything pollable. */
    bool (*ready)(kx_p2ext *self);
} kx_p2ops;

struct kx_p2ext {
    const kx_p2ops *ops;
    uint32_t slots; /* table slots naming it (kept by the table; an owner
                       may add references of its own) */
};

/* A new slot of kind (KX_P2_EXT, KX_P2_INSTREAM, KX_P2_OUTSTREAM or
 * KX_P2_POLLABLE with when KX_P2_EXTWAIT) naming ext. NULL when out of
 * memory (ext is not released then). */
kx_p2obj *kx_p2_new_ext(kumo_wasi_ctx *ctx, kx_p2kind kind, kx_p2ext *ext,
                        uint32_t *rep);
/* The ext object of slot rep if it is of kind and has ops (NULL: any). */
kx_p2ext *kx_p2_get_ext(kumo_wasi_ctx *ctx, uint32_t rep, kx_p2kind kind,
                        const kx_p2ops *ops);
/* A pollable on ext (ready: ext->ops->ready); 0 or a trap. */
int kx_p2_pollable_ext(kg_call *call, kx_p2ext *ext,
                       kx_wasi_io_poll_pollable *out);
/* Free every object but keep the bindings: the context can serve another
 * instance (an upper layer's instance slots). */
void kx_p2_reset(kumo_wasi_ctx *ctx);
/* The upper layer's per-context data (NULL until set). */
void *kx_p2_host(kumo_wasi_ctx *ctx);
int kx_p2_set_host(kumo_wasi_ctx *ctx, void *host);
/* Define the WASI 0.2 interfaces whose names do not start with skip (NULL:
 * all of them, including the wasi:http ones an upper layer implements) in
 * l, bound to ctx. 0 or KUMO_ENOMEM. */
int kx_p2_define(kumo_wasi_ctx *ctx, kumo_clinker *l, const char *skip);

/* Waiting for an upper layer's events (wait.c). kx_wait_ext is kx_wait
 * that, with ext, also suspends when there is nothing to poll and no
 * timeout: kx_wait_wake (from the loop's stack) ends it. */
int kx_wait_ext(kumo_wasi_ctx *ctx, struct pollfd *fds, uint32_t nfds,
                int64_t timeout_ns, bool ext);
void kx_wait_wake(kumo_wasi_ctx *ctx);

#endif
