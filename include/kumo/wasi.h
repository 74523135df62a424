/* kumo/wasi.h - the WASI layer: a sandboxed WASI context (arguments,
 * environment, preopened directories, stdio, network policy), the
 * wasi_snapshot_preview1 host functions over it, and a runner that executes
 * a preview1 command module on a fiber driven by a libuv loop.
 *
 * Deny by default: a new context has no arguments, no environment, no
 * preopened directories and no network; stdio is the host's 0, 1, 2. */
#ifndef KUMO_WASI_H
#define KUMO_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kumo/base.h"
#include "kumo/component.h"
#include "kumo/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A WASI context: what one program may see. Used by one program run (one
 * store) at a time. */
typedef struct kumo_wasi_ctx kumo_wasi_ctx;

/* Returns 0 or KUMO_ENOMEM. */
int kumo_wasi_ctx_new(kumo_wasi_ctx **out);
/* Closes every descriptor the context opened (never the host's stdio). */
void kumo_wasi_ctx_free(kumo_wasi_ctx *ctx);

/* Append one program argument (argv[0] first). Copied. 0 or KUMO_ENOMEM. */
int kumo_wasi_ctx_arg(kumo_wasi_ctx *ctx, const char *arg);
/* Set one environment variable, replacing an earlier one of that name.
 * Copied. 0, KUMO_EINVAL (empty name or '=' in it) or KUMO_ENOMEM. */
int kumo_wasi_ctx_env(kumo_wasi_ctx *ctx, const char *name,
                      const char *value);
/* Set every variable of the host's environment (environ). */
int kumo_wasi_ctx_env_inherit(kumo_wasi_ctx *ctx);

#define KUMO_WASI_DIR_READONLY 1u /* no writes of any kind beneath it */

/*
 * Preopen host directory host_path as guest_path (e.g. "/data" or ".").
 * Every path the guest uses is resolved beneath a preopen: `..` above it,
 * absolute paths and symlinks leading out are refused (ENOTCAPABLE).
 * Returns 0, KUMO_ENOTFOUND (host_path cannot be opened as a directory;
 * errno is kept), KUMO_EINVAL or KUMO_ENOMEM.
 */
int kumo_wasi_ctx_preopen(kumo_wasi_ctx *ctx, const char *host_path,
                          const char *guest_path, unsigned flags);

/* Use these host descriptors as the guest's stdin, stdout and stderr
 * (not owned, not closed; -1 gives a descriptor that reads EOF / discards
 * writes). Default 0, 1, 2. */
void kumo_wasi_ctx_stdio(kumo_wasi_ctx *ctx, int in, int out, int err);

/* Network policy (used by the WASI 0.2 sockets; preview1 has no way to
 * create sockets). pattern is HOST:PORT where either side may be `*`
 * or end in `*` (e.g. "127.0.0.1:8080", "*.example.com:443", "*:*").
 * Returns 0, KUMO_EINVAL or KUMO_ENOMEM. */
int kumo_wasi_ctx_allow_net(kumo_wasi_ctx *ctx, const char *pattern);
/* Allow name lookups (off by default, separate from connections). */
void kumo_wasi_ctx_allow_lookup(kumo_wasi_ctx *ctx, bool allow);
/* Whether the policy allows a connection to host:port. */
bool kumo_wasi_ctx_net_allowed(const kumo_wasi_ctx *ctx, const char *host,
                               uint16_t port);

/*
 * Define every wasi_snapshot_preview1 function as a host function of s
 * in l, bound to ctx (which must outlive s). Guest pointers are bounds
 * checked: a bad pointer returns the WASI errno `fault`, never touches
 * host memory. proc_exit unwinds the guest with KUMO_ETRAP_HOST and
 * records the exit code (kumo_wasi_exit_code). Returns 0 or KUMO_ENOMEM.
 */
int kumo_wasi_preview1_define(kumo_wasi_ctx *ctx, kumo_store *s,
                              kumo_linker *l);

/*
 * Define every function and resource type of WASI 0.2 (wasi:io error,
 * poll, streams; wasi:clocks monotonic-clock, wall-clock; wasi:random
 * random, insecure, insecure-seed; wasi:cli environment, exit, stdin,
 * stdout, stderr, terminal-*; wasi:filesystem types, preopens;
 * wasi:sockets network, instance-network, tcp, tcp-create-socket, udp,
 * udp-create-socket, ip-name-lookup) in l, bound to ctx (which must
 * outlive l and every instance made with it). The interfaces are
 * defined at version 0.2.12 and match imports of any 0.2.x. The host
 * functions are the typed C functions of the bindings generated from
 * the WIT (tools/witgen). wasi:cli/exit unwinds the guest like proc_exit.
 * Sockets follow the network policy: TCP sockets and connections need
 * kumo_wasi_ctx_allow_net, lookups kumo_wasi_ctx_allow_lookup (else
 * access-denied); UDP is not supported yet.
 * Returns 0 or KUMO_ENOMEM.
 */
int kumo_wasi_p2_define(kumo_wasi_ctx *ctx, kumo_clinker *l);

/* Whether kumo_wasi_p2_define provides interface iface (a name such as
 * "wasi:io/streams@0.2.6", matched by the version rule). */
bool kumo_wasi_p2_provides(const char *iface, size_t len);

/* True when the guest called proc_exit; *code gets its argument. */
bool kumo_wasi_exited(const kumo_wasi_ctx *ctx, uint32_t *code);

/* ---- running a preview1 command ---- */

typedef struct kumo_wasi_run_config {
    kumo_store_config store; /* limits (max_memory_pages, ...) */
    uint64_t fuel;           /* 0 = unlimited */
    uint64_t timeout_ms;     /* 0 = none; expiry traps the guest */
} kumo_wasi_run_config;

/* How a run ended. */
typedef enum kumo_wasi_end {
    KUMO_WASI_END_EXIT = 0,    /* returned from _start or proc_exit */
    KUMO_WASI_END_TRAP = 1,    /* a trap; message says which */
    KUMO_WASI_END_TIMEOUT = 2, /* the deadline passed */
    KUMO_WASI_END_ERROR = 3,   /* could not link or instantiate */
} kumo_wasi_end;

typedef struct kumo_wasi_result {
    kumo_wasi_end end;
    uint32_t exit_code; /* KUMO_WASI_END_EXIT */
    int code;           /* trap or error code (KUMO_E...) */
    char message[256];  /* trap or error message */
} kumo_wasi_result;

/*
 * Instantiate m (a preview1 command: imports only wasi_snapshot_preview1,
 * exports _start) against ctx in a new store and run _start on a fiber of
 * a private libuv loop, driving the loop until the program ends: a guest
 * that waits (poll_oneoff, sleeps, reads from a pipe) yields to the loop
 * instead of blocking the thread. Fills *res. Returns 0 when the program
 * ran (whatever its end), or a negative code (res filled too) when it
 * could not start.
 */
int kumo_wasi_run_command(kumo_wasi_ctx *ctx, const kumo_module *m,
                          const kumo_wasi_run_config *cfg,
                          kumo_wasi_result *res);

/*
 * Instantiate component c (a command: exports wasi:cli/run@0.2.x) against
 * the WASI 0.2 host of ctx in a new store and call run on a fiber, as
 * kumo_wasi_run_command does for modules. run returning ok ends with exit
 * code 0, err with 1, wasi:cli/exit with its code. Fills *res; returns 0
 * when the program ran, or a negative code when it could not start.
 */
int kumo_wasi_run_component(kumo_wasi_ctx *ctx, const kumo_component *c,
                            const kumo_wasi_run_config *cfg,
                            kumo_wasi_result *res);

#ifdef __cplusplus
}
#endif
#endif
