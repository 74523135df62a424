/* ctx.c - the WASI context: arguments, environment, the descriptor table
 * with its preopens and stdio, and the network policy. Everything starts
 * denied; the embedder adds what the guest may see. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/base.h"
#include "wasi.h"

extern char **environ;

static uint8_t
filetype_of(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFBLK:
        return KX_FT_BLOCK;
    case S_IFCHR:
        return KX_FT_CHAR;
    case S_IFDIR:
        return KX_FT_DIR;
    case S_IFREG:
        return KX_FT_FILE;
    case S_IFSOCK:
        return KX_FT_SOCK_STREAM;
    case S_IFLNK:
        return KX_FT_SYMLINK;
    default:
        return KX_FT_UNKNOWN; /* fifos: preview1 has no type for them */
    }
}

int
kx_desc_new(int fd, bool owned, kx_desc **out)
{
    kx_desc *d = kb_calloc(1, sizeof *d);
    struct stat st;

    if (!d) {
        if (owned && fd >= 0)
            close(fd);
        return -KX_ENOMEM;
    }
    d->fd = fd;
    d->owned = owned;
    d->can_read = d->can_write = true;
    d->filetype = KX_FT_CHAR;
    if (fd >= 0 && fstat(fd, &st) == 0)
        d->filetype = filetype_of(st.st_mode);
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) {
            if (fl & O_APPEND)
                d->fdflags |= KX_FDF_APPEND;
            if ((fl & O_ACCMODE) == O_RDONLY)
                d->can_write = false;
            else if ((fl & O_ACCMODE) == O_WRONLY)
                d->can_read = false;
        }
    }
    *out = d;
    return 0;
}

void
kx_desc_free(kx_desc *d)
{
    if (!d)
        return;
    kx_dirstream_free(d->dir);
    if (d->owned && d->fd >= 0)
        close(d->fd);
    kb_free(d->preopen);
    kb_free(d);
}

/* ---- the preview1 table ---- */

int
kx_fd_insert(kumo_wasi_ctx *ctx, kx_desc *d, uint32_t *out)
{
    uint32_t i;
    for (i = 0; i < ctx->nfds; i++)
        if (!ctx->fds[i])
            break;
    if (i == ctx->nfds) {
        if (kb_reserve((void **)&ctx->fds, &ctx->fdcap, ctx->nfds + 1,
                       sizeof *ctx->fds) < 0)
            return -KX_ENOMEM;
        ctx->nfds++;
    }
    ctx->fds[i] = d;
    *out = i;
    return 0;
}

kx_desc *
kx_fd_get(const kumo_wasi_ctx *ctx, uint32_t fd)
{
    return fd < ctx->nfds ? ctx->fds[fd] : NULL;
}

int
kx_fd_close(kumo_wasi_ctx *ctx, uint32_t fd)
{
    kx_desc *d = kx_fd_get(ctx, fd);
    if (!d)
        return -KX_EBADF;
    kx_desc_free(d);
    ctx->fds[fd] = NULL;
    return 0;
}

int
kx_fd_renumber(kumo_wasi_ctx *ctx, uint32_t from, uint32_t to)
{
    kx_desc *d = kx_fd_get(ctx, from);
    if (!d || !kx_fd_get(ctx, to))
        return -KX_EBADF;
    if (from == to)
        return 0;
    kx_desc_free(ctx->fds[to]);
    ctx->fds[to] = d;
    ctx->fds[from] = NULL;
    return 0;
}

/* ---- the context ---- */

static int
set_stdio(kumo_wasi_ctx *ctx, uint32_t slot, int fd)
{
    kx_desc *d;
    int rc = kx_desc_new(fd, false, &d);
    if (rc < 0)
        return KUMO_ENOMEM;
    if (fd < 0) {
        d->can_read = slot == 0;
        d->can_write = slot != 0;
    }
    kx_desc_free(ctx->fds[slot]);
    ctx->fds[slot] = d;
    return 0;
}

int
kumo_wasi_ctx_new(kumo_wasi_ctx **out)
{
    kumo_wasi_ctx *ctx = kb_calloc(1, sizeof *ctx);
    if (!ctx)
        return KUMO_ENOMEM;
    atomic_init(&ctx->cancel, 0);
    if (kb_reserve((void **)&ctx->fds, &ctx->fdcap, 8, sizeof *ctx->fds) < 0)
        goto fail;
    ctx->nfds = 3;
    memset(ctx->fds, 0, 3 * sizeof *ctx->fds);
    for (uint32_t i = 0; i < 3; i++)
        if (set_stdio(ctx, i, (int)i) < 0)
            goto fail;
    *out = ctx;
    return 0;
fail:
    kumo_wasi_ctx_free(ctx);
    return KUMO_ENOMEM;
}

void
kumo_wasi_ctx_free(kumo_wasi_ctx *ctx)
{
    if (!ctx)
        return;
    kx_p2_fini(ctx);
    for (uint32_t i = 0; i < ctx->argc; i++)
        kb_free(ctx->argv[i]);
    kb_free(ctx->argv);
    for (uint32_t i = 0; i < ctx->nenv; i++)
        kb_free(ctx->env[i]);
    kb_free(ctx->env);
    for (uint32_t i = 0; i < ctx->nfds; i++)
        kx_desc_free(ctx->fds[i]);
    kb_free(ctx->fds);
    for (uint32_t i = 0; i < ctx->nrules; i++) {
        kb_free(ctx->rules[i].host);
        kb_free(ctx->rules[i].port);
    }
    kb_free(ctx->rules);
    kb_free(ctx);
}

void
kumo_wasi_ctx_stdio(kumo_wasi_ctx *ctx, int in, int out, int err)
{
    /* Failure leaves the previous descriptor in place. */
    (void)set_stdio(ctx, 0, in);
    (void)set_stdio(ctx, 1, out);
    (void)set_stdio(ctx, 2, err);
}

int
kumo_wasi_ctx_arg(kumo_wasi_ctx *ctx, const char *arg)
{
    char *copy = kb_strndup(arg, strlen(arg));
    if (!copy || kb_reserve((void **)&ctx->argv, &ctx->argcap,
                            ctx->argc + 1, sizeof *ctx->argv) < 0) {
        kb_free(copy);
        return KUMO_ENOMEM;
    }
    ctx->argv[ctx->argc++] = copy;
    return 0;
}

int
kumo_wasi_ctx_env(kumo_wasi_ctx *ctx, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *kv;

    if (nl == 0 || memchr(name, '=', nl))
        return KUMO_EINVAL;
    kv = kb_malloc(nl + vl + 2);
    if (!kv)
        return KUMO_ENOMEM;
    memcpy(kv, name, nl);
    kv[nl] = '=';
    memcpy(kv + nl + 1, value, vl + 1);
    for (uint32_t i = 0; i < ctx->nenv; i++) {
        if (strncmp(ctx->env[i], kv, nl + 1) == 0) {
            kb_free(ctx->env[i]);
            ctx->env[i] = kv;
            return 0;
        }
    }
    if (kb_reserve((void **)&ctx->env, &ctx->envcap, ctx->nenv + 1,
                   sizeof *ctx->env) < 0) {
        kb_free(kv);
        return KUMO_ENOMEM;
    }
    ctx->env[ctx->nenv++] = kv;
    return 0;
}

int
kumo_wasi_ctx_env_inherit(kumo_wasi_ctx *ctx)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[256];
        if (!eq || eq == *e || (size_t)(eq - *e) >= sizeof name)
            continue;
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = 0;
        if (kumo_wasi_ctx_env(ctx, name, eq + 1) == KUMO_ENOMEM)
            return KUMO_ENOMEM;
    }
    return 0;
}

int
kumo_wasi_ctx_preopen(kumo_wasi_ctx *ctx, const char *host_path,
                      const char *guest_path, unsigned flags)
{
    kx_desc *d = NULL;
    uint32_t slot;
    int fd;

    if (!*host_path || !*guest_path)
        return KUMO_EINVAL;
    fd = open(host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return KUMO_ENOTFOUND;
    if (kx_desc_new(fd, true, &d) < 0)
        return KUMO_ENOMEM;
    d->preopen = kb_strndup(guest_path, strlen(guest_path));
    d->readonly = (flags & KUMO_WASI_DIR_READONLY) != 0;
    d->can_write = !d->readonly;
    if (!d->preopen || kx_fd_insert(ctx, d, &slot) < 0) {
        kx_desc_free(d);
        return KUMO_ENOMEM;
    }
    return 0;
}

/* ---- network policy ---- */

bool
kx_pattern_match(const char *pattern, const char *s)
{
    size_t pl = strlen(pattern), sl = strlen(s);
    if (strcmp(pattern, "*") == 0)
        return true;
    if (pl && pattern[pl - 1] == '*')
        return strncmp(pattern, s, pl - 1) == 0;
    if (pattern[0] == '*')
        return sl >= pl - 1 && strcmp(s + sl - (pl - 1), pattern + 1) == 0;
    return strcmp(pattern, s) == 0;
}

int
kumo_wasi_ctx_allow_net(kumo_wasi_ctx *ctx, const char *pattern)
{
    const char *colon = strrchr(pattern, ':');
    kx_net_rule r;

    if (!colon || colon == pattern || !colon[1])
        return KUMO_EINVAL;
    if (strcmp(colon + 1, "*") != 0) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 0 || port > 65535)
            return KUMO_EINVAL;
    }
    r.host = kb_strndup(pattern, (size_t)(colon - pattern));
    r.port = kb_strndup(colon + 1, strlen(colon + 1));
    if (!r.host || !r.port ||
        kb_reserve((void **)&ctx->rules, &ctx->rulecap, ctx->nrules + 1,
                   sizeof *ctx->rules) < 0) {
        kb_free(r.host);
        kb_free(r.port);
        return KUMO_ENOMEM;
    }
    ctx->rules[ctx->nrules++] = r;
    return 0;
}

void
kumo_wasi_ctx_allow_lookup(kumo_wasi_ctx *ctx, bool allow)
{
    ctx->allow_lookup = allow;
}

bool
kumo_wasi_ctx_net_allowed(const kumo_wasi_ctx *ctx, const char *host,
                          uint16_t port)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    for (uint32_t i = 0; i < ctx->nrules; i++)
        if (kx_pattern_match(ctx->rules[i].host, host) &&
            kx_pattern_match(ctx->rules[i].port, ps))
            return true;
    return false;
}

bool
kumo_wasi_exited(const kumo_wasi_ctx *ctx, uint32_t *code)
{
    if (ctx->exited && code)
        *code = ctx->exit_code;
    return ctx->exited;
}
