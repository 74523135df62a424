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
} kx_p2when;

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

#endif
