/* run.c - `kumo run [options] APP.wasm [args...]`: run a WASI program in
 * the sandbox. Preview1 core modules (what clang + wasi-libc produce) run
 * natively on the WASI layer; components exporting wasi:cli/run arrive
 * with the component host.
 *
 * Exit status: the program's exit code; 134 when it traps (including
 * running out of fuel), 124 when --timeout expires, 1 when it cannot be
 * loaded or linked, 2 for usage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kumo/wasi.h"

#define EXIT_TRAP 134
#define EXIT_TIMEOUT 124

static int
usage(void)
{
    fprintf(stderr,
            "usage: kumo run [options] APP.wasm [args...]\n"
            "  --dir HOST[::GUEST][:ro]  preopen a host directory (as GUEST,\n"
            "                            default the same path; :ro read-only)\n"
            "  --env K=V                 set an environment variable\n"
            "  --env-inherit             pass the host's environment\n"
            "  --allow-net HOST:PORT     allow connections (patterns, * ok)\n"
            "  --allow-lookup            allow name lookups\n"
            "  --max-memory N[k|m|g]     cap linear memory (bytes)\n"
            "  --timeout SECONDS         trap the program after this long\n"
            "  --fuel N                  trap after N units of fuel\n");
    return 2;
}

/* "HOST[::GUEST][:ro]" */
static int
add_dir(kumo_wasi_ctx *ctx, const char *spec)
{
    char buf[4096];
    unsigned flags = 0;
    size_t n = strlen(spec);
    const char *guest;
    char *sep;

    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, spec, n + 1);
    if (n > 3 && strcmp(buf + n - 3, ":ro") == 0) {
        flags |= KUMO_WASI_DIR_READONLY;
        buf[n - 3] = 0;
    }
    sep = strstr(buf, "::");
    guest = buf;
    if (sep) {
        *sep = 0;
        guest = sep + 2;
    }
    int rc = kumo_wasi_ctx_preopen(ctx, buf, guest, flags);
    if (rc < 0) {
        fprintf(stderr, "kumo run: --dir %s: %s\n", spec,
                rc == KUMO_ENOTFOUND ? strerror(errno) : kumo_strerror(rc));
        return -1;
    }
    return 0;
}

typedef struct opts {
    kumo_wasi_run_config cfg;
    int app; /* index of APP.wasm in argv */
} opts;

/* Parse options into ctx and o. Returns 0, or an exit status. */
static int
parse(int argc, char **argv, kumo_wasi_ctx *ctx, opts *o)
{
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 2;
        }
        if (strcmp(a, "--env-inherit") == 0) {
            if (kumo_wasi_ctx_env_inherit(ctx) < 0)
                return 1;
            continue;
        }
        if (strcmp(a, "--allow-lookup") == 0) {
            kumo_wasi_ctx_allow_lookup(ctx, true);
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--dir") == 0) {
            if (add_dir(ctx, v) < 0)
                return 1;
        } else if (strcmp(a, "--env") == 0) {
            const char *eq = strchr(v, '=');
            char name[256];
            if (!eq || eq == v || (size_t)(eq - v) >= sizeof name)
                return usage();
            memcpy(name, v, (size_t)(eq - v));
            name[eq - v] = 0;
            if (kumo_wasi_ctx_env(ctx, name, eq + 1) < 0)
                return usage();
        } else if (strcmp(a, "--allow-net") == 0) {
            if (kumo_wasi_ctx_allow_net(ctx, v) < 0)
                return usage();
        } else if (strcmp(a, "--max-memory") == 0) {
            if (kc_parse_size(v, &n) < 0 || n < 65536 || n > (1ull << 32))
                return usage();
            o->cfg.store.max_memory_pages = (uint32_t)(n / 65536);
        } else if (strcmp(a, "--timeout") == 0) {
            char *end;
            double s = strtod(v, &end);
            if (*end || !(s > 0) || s > 1e9)
                return usage();
            o->cfg.timeout_ms = (uint64_t)(s * 1000.0 + 0.5);
            if (o->cfg.timeout_ms == 0)
                o->cfg.timeout_ms = 1;
        } else if (strcmp(a, "--fuel") == 0) {
            if (kc_parse_size(v, &n) < 0 || n == 0)
                return usage();
            o->cfg.fuel = n;
        } else {
            fprintf(stderr, "kumo run: unknown option %s\n", a);
            return usage();
        }
    }
    if (i >= argc)
        return usage();
    o->app = i;
    for (; i < argc; i++)
        if (kumo_wasi_ctx_arg(ctx, argv[i]) < 0)
            return 1;
    return 0;
}

static int
report(const char *app, const kumo_wasi_result *res)
{
    switch (res->end) {
    case KUMO_WASI_END_EXIT:
        return (int)(res->exit_code & 0xff);
    case KUMO_WASI_END_TIMEOUT:
        fprintf(stderr, "kumo run: %s: trap: %s\n", app, res->message);
        return EXIT_TIMEOUT;
    case KUMO_WASI_END_TRAP:
        fprintf(stderr, "kumo run: %s: trap: %s\n", app, res->message);
        return EXIT_TRAP;
    default:
        fprintf(stderr, "kumo run: %s: %s\n", app, res->message);
        return 1;
    }
}

static int
run_module(const char *app, const uint8_t *bytes, size_t len,
           kumo_wasi_ctx *ctx, const opts *o)
{
    kumo_module *m = NULL;
    kumo_wasi_result res;
    kumo_diag diag;
    int rc;

    memset(&diag, 0, sizeof diag);
    rc = kumo_module_new(bytes, len, &m, &diag);
    if (rc < 0) {
        fprintf(stderr, "kumo run: %s:0x%zx: %s: %s\n", app, diag.offset,
                kumo_strerror(rc),
                diag.message[0] ? diag.message : kumo_strerror(rc));
        return 1;
    }
    kumo_wasi_run_command(ctx, m, &o->cfg, &res);
    kumo_module_free(m);
    fflush(stdout);
    return report(app, &res);
}

static int
run_component(const char *app, const uint8_t *bytes, size_t len,
              kumo_wasi_ctx *ctx, const opts *o)
{
    kumo_component *c = NULL;
    kumo_wasi_result res;
    kumo_diag diag;
    int rc;

    memset(&diag, 0, sizeof diag);
    rc = kumo_component_new(bytes, len, &c, &diag);
    if (rc == 0)
        rc = kumo_component_validate(c, &diag);
    if (rc < 0) {
        fprintf(stderr, "kumo run: %s:0x%zx: %s: %s\n", app, diag.offset,
                kumo_strerror(rc),
                diag.message[0] ? diag.message : kumo_strerror(rc));
        kumo_component_free(c);
        return 1;
    }
    kumo_wasi_run_component(ctx, c, &o->cfg, &res);
    kumo_component_free(c);
    fflush(stdout);
    return report(app, &res);
}

int
kc_cmd_run(int argc, char **argv)
{
    kumo_wasi_ctx *ctx = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    opts o;
    int rc;

    memset(&o, 0, sizeof o);
    if (kumo_wasi_ctx_new(&ctx) < 0) {
        fprintf(stderr, "kumo run: out of memory\n");
        return 1;
    }
    rc = parse(argc, argv, ctx, &o);
    if (rc)
        goto done;
    const char *app = argv[o.app];
    if (kc_read_file(app, &bytes, &len) < 0) {
        fprintf(stderr, "kumo run: %s: %s\n", app, strerror(errno));
        rc = 1;
        goto done;
    }
    if (len >= 8 && memcmp(bytes, "\0asm", 4) == 0 && bytes[4] == 0x0d &&
        bytes[6] == 0x01)
        rc = run_component(app, bytes, len, ctx, &o);
    else
        rc = run_module(app, bytes, len, ctx, &o);
done:
    free(bytes);
    kumo_wasi_ctx_free(ctx);
    return rc;
}
