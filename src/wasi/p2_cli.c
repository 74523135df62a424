/* p2_cli.c - wasi:cli (environment, exit, stdin/stdout/stderr, the
 * terminal interfaces) and wasi:random (random, insecure, insecure-seed)
 * over the WASI context. */
#include <string.h>
#include <unistd.h>

#include "../base/base.h"
#include "p2.h"

#define RANDOM_MAX (64u << 20) /* bytes one get-random-bytes returns at most */

/* ---- environment */

int
kx_wasi_cli_environment_get_environment(kg_call *call,
                                        kx_list_tuple2_string_string *ret)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    kx_tuple2_string_string *v =
        kg_call_alloc(call, (size_t)ctx->nenv * sizeof *v);
    if (!v)
        return kx_p2_oom(call);
    for (uint32_t i = 0; i < ctx->nenv; i++) {
        const char *e = ctx->env[i], *eq = strchr(e, '=');
        size_t n = eq ? (size_t)(eq - e) : strlen(e);
        v[i].f0.ptr = e;
        v[i].f0.len = n;
        v[i].f1.ptr = eq ? eq + 1 : "";
        v[i].f1.len = eq ? strlen(eq + 1) : 0;
    }
    ret->ptr = v;
    ret->len = ctx->nenv;
    return 0;
}

int
kx_wasi_cli_environment_get_arguments(kg_call *call, kx_list_string *ret)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    kg_string *v = kg_call_alloc(call, (size_t)ctx->argc * sizeof *v);
    if (!v)
        return kx_p2_oom(call);
    for (uint32_t i = 0; i < ctx->argc; i++) {
        v[i].ptr = ctx->argv[i];
        v[i].len = strlen(ctx->argv[i]);
    }
    ret->ptr = v;
    ret->len = ctx->argc;
    return 0;
}

int
kx_wasi_cli_environment_initial_cwd(kg_call *call, kx_option_string *ret)
{
    (void)call;
    ret->is_some = false;
    return 0;
}

/* ---- exit: record the code and unwind the guest with a trap (the
 * runner sees ctx->exited, as with preview1's proc_exit) */

static int
do_exit(kg_call *call, uint32_t code)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    ctx->exited = true;
    ctx->exit_code = code;
    return kg_call_trap(call, "exit");
}

int
kx_wasi_cli_exit_exit(kg_call *call, kx_result_void_void status)
{
    return do_exit(call, status.is_err ? 1 : 0);
}

int
kx_wasi_cli_exit_exit_with_code(kg_call *call, uint8_t status_code)
{
    return do_exit(call, status_code);
}

/* ---- stdio */

static kx_p2file *
stdio_file(kumo_wasi_ctx *ctx, uint32_t fd)
{
    kx_desc *d = kx_fd_get(ctx, fd);
    if (d)
        return kx_p2file_new(d, false);
    if (kx_desc_new(-1, false, &d) < 0)
        return NULL;
    return kx_p2file_new(d, true);
}

int
kx_wasi_cli_stdin_get_stdin(kg_call *call, kx_wasi_io_streams_input_stream *ret)
{
    kx_p2file *f = stdio_file(KX_CTX(call), 0);
    if (!f)
        return kx_p2_oom(call);
    int rc = kx_p2_instream_new(call, f, false, 0, ret);
    kx_p2file_unref(f);
    return rc;
}

static int
get_out(kg_call *call, uint32_t fd, kx_wasi_io_streams_output_stream *ret)
{
    kx_p2file *f = stdio_file(KX_CTX(call), fd);
    if (!f)
        return kx_p2_oom(call);
    int rc = kx_p2_outstream_new(call, f, false, false, 0, ret);
    kx_p2file_unref(f);
    return rc;
}

int
kx_wasi_cli_stdout_get_stdout(kg_call *call,
                              kx_wasi_io_streams_output_stream *ret)
{
    return get_out(call, 1, ret);
}

int
kx_wasi_cli_stderr_get_stderr(kg_call *call,
                              kx_wasi_io_streams_output_stream *ret)
{
    return get_out(call, 2, ret);
}

/* ---- terminals: a terminal handle when the stdio descriptor is a tty */

void
kx_wasi_cli_terminal_input_terminal_input_drop(
    void *env, kx_wasi_cli_terminal_input_terminal_input self)
{
    kx_p2_free_obj(env, self.rep);
}

void
kx_wasi_cli_terminal_output_terminal_output_drop(
    void *env, kx_wasi_cli_terminal_output_terminal_output self)
{
    kx_p2_free_obj(env, self.rep);
}

static int
terminal(kg_call *call, uint32_t fd, kx_p2kind kind, bool *is_some,
         uint32_t *rep)
{
    kx_desc *d = kx_fd_get(KX_CTX(call), fd);
    *is_some = d && d->fd >= 0 && isatty(d->fd);
    if (*is_some && !kx_p2_new(KX_CTX(call), kind, rep))
        return kx_p2_oom(call);
    return 0;
}

int
kx_wasi_cli_terminal_stdin_get_terminal_stdin(
    kg_call *call, kx_option_wasi_cli_terminal_input_terminal_input *ret)
{
    return terminal(call, 0, KX_P2_TERMIN, &ret->is_some, &ret->val.rep);
}

int
kx_wasi_cli_terminal_stdout_get_terminal_stdout(
    kg_call *call, kx_option_wasi_cli_terminal_output_terminal_output *ret)
{
    return terminal(call, 1, KX_P2_TERMOUT, &ret->is_some, &ret->val.rep);
}

int
kx_wasi_cli_terminal_stderr_get_terminal_stderr(
    kg_call *call, kx_option_wasi_cli_terminal_output_terminal_output *ret)
{
    return terminal(call, 2, KX_P2_TERMOUT, &ret->is_some, &ret->val.rep);
}

/* ---- wasi:random */

static int
random_bytes(kg_call *call, uint64_t len, kg_bytes *ret)
{
    if (len > RANDOM_MAX)
        return kg_call_trap(call, "%s: %llu bytes is too many", call->name,
                            (unsigned long long)len);
    uint8_t *p = kg_call_alloc(call, (size_t)len);
    if (!p)
        return kx_p2_oom(call);
    if (kx_random_fill(p, (size_t)len) < 0)
        return kg_call_trap(call, "%s: no entropy", call->name);
    ret->ptr = p;
    ret->len = (size_t)len;
    return 0;
}

static int
random_u64(kg_call *call, uint64_t *ret)
{
    if (kx_random_fill(ret, sizeof *ret) < 0)
        return kg_call_trap(call, "%s: no entropy", call->name);
    return 0;
}

int
kx_wasi_random_random_get_random_bytes(kg_call *call, uint64_t len,
                                       kg_bytes *ret)
{
    return random_bytes(call, len, ret);
}

int
kx_wasi_random_random_get_random_u64(kg_call *call, uint64_t *ret)
{
    return random_u64(call, ret);
}

int
kx_wasi_random_insecure_get_insecure_random_bytes(kg_call *call, uint64_t len,
                                                  kg_bytes *ret)
{
    return random_bytes(call, len, ret);
}

int
kx_wasi_random_insecure_get_insecure_random_u64(kg_call *call, uint64_t *ret)
{
    return random_u64(call, ret);
}

int
kx_wasi_random_insecure_seed_insecure_seed(kg_call *call,
                                           kx_tuple2_u64_u64 *ret)
{
    int rc = random_u64(call, &ret->f0);
    return rc ? rc : random_u64(call, &ret->f1);
}
