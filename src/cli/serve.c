/* serve.c - `kumo serve [APP.wasm] [--workload HOST=APP.wasm]... [options]`:
 * serve components that export wasi:http/incoming-handler on the HTTP
 * server (HTTP/1.1, h2c, TLS with ALPN), one request per guest invocation
 * (kumo/whttp.h), routed by wasmCloud's routers (kumo/router.h): dev (one
 * APP.wasm: every request to the most recent workload), dynamic (with
 * --workload: by Host / :authority, random replica) or null (no ingress,
 * no egress).
 *
 * Prints "kumo: serving APP on http://ADDR:PORT" on stderr per listener
 * once listening (with the bound port, so port 0 is usable). SIGTERM and
 * SIGINT drain in-flight requests, then exit 0. Exit 1 when the component
 * cannot be served, 2 on usage errors. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kumo/router.h"
#include "kumo/whttp.h"

#define MAX_LISTEN 16
#define MAX_LIST 256
#define MAX_WORKLOADS 64
#define GRACE_MS 10000

static int
usage_to(FILE *f)
{
    fprintf(f,
            "usage: kumo serve [APP.wasm] [options]\n"
            "  --workload HOST[,ALIAS]...=APP.wasm\n"
            "                          serve APP for requests to HOST or an\n"
            "                          alias (repeatable; a HOST given twice\n"
            "                          gets replicas picked at random)\n"
            "  --router dev|dynamic|null\n"
            "                          dev: every request to the last\n"
            "                          workload (default with APP.wasm);\n"
            "                          dynamic: by Host (default with\n"
            "                          --workload); null: no ingress, no\n"
            "                          egress\n"
            "  --listen ADDR:PORT      plain HTTP listener (repeatable;\n"
            "                          default 127.0.0.1:8000, port 0: any)\n"
            "  --tls-listen ADDR:PORT  TLS listener (needs --tls-cert/--tls-key)\n"
            "  --tls-cert FILE         PEM certificate chain\n"
            "  --tls-key FILE          PEM private key\n"
            "  --allow-host PATTERN    allow outbound requests (repeatable;\n"
            "                          `*`, host[:port], *.suffix, scheme://...)\n"
            "  --env K=V               environment variable for the guest\n"
            "  --pool-size N           keep N warm instances (default 0:\n"
            "                          a fresh instance per request)\n"
            "  --no-snapshot           instantiate every fresh instance instead\n"
            "                          of restoring a post-instantiation snapshot\n"
            "  --max-invocations M     retire a warm instance after M requests\n"
            "  --max-concurrency K     instances at once (503 beyond)\n"
            "  --max-memory BYTES      linear memory per instance (k/m/g ok)\n"
            "  --timeout MS            per-request deadline (500 on expiry)\n"
            "  --max-body BYTES        request body limit (413 beyond)\n"
            "  --access-log FILE|-     log requests (- is stdout)\n");
    return 2;
}

static int
usage(void)
{
    return usage_to(stderr);
}

typedef struct workload_opt {
    const char *app;
    char *host;          /* dynamic router: first name (NULL for APP.wasm) */
    const char *aliases; /* the names after it, or NULL */
} workload_opt;

typedef struct serve_opts {
    const char *app;
    workload_opt wl[MAX_WORKLOADS];
    size_t nwl;
    int router; /* kumo_router_kind, -1: by the arguments */
    const char *listen[MAX_LISTEN], *tls_listen[MAX_LISTEN];
    size_t nlisten, ntls;
    const char *cert, *key, *access_log;
    const char *allow[MAX_LIST], *env[MAX_LIST];
    kumo_whttp_config wcfg;
    uint64_t max_body;
} serve_opts;

static bool
u32_opt(const char *v, uint32_t *out)
{
    uint64_t n;
    if (kc_parse_size(v, &n) < 0 || n > UINT32_MAX)
        return false;
    *out = (uint32_t)n;
    return true;
}

/* "ADDR:PORT" with a numeric port (ADDR may be empty or "[v6]"). */
static bool
addr_ok(const char *v)
{
    const char *colon = strrchr(v, ':');
    uint64_t port;
    return colon && colon[1] && strspn(colon + 1, "0123456789") ==
                                    strlen(colon + 1) &&
           kc_parse_size(colon + 1, &port) == 0 && port <= 65535;
}

/* --workload HOST[,ALIAS]...=APP.wasm */
static bool
workload_opt_parse(serve_opts *o, const char *v)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1] || o->nwl >= MAX_WORKLOADS)
        return false;
    workload_opt *w = &o->wl[o->nwl];
    const char *comma = memchr(v, ',', (size_t)(eq - v));
    size_t hlen = (size_t)((comma ? comma : eq) - v);
    w->host = malloc(hlen + 1 + (size_t)(eq - v));
    if (!w->host)
        return false;
    memcpy(w->host, v, hlen);
    w->host[hlen] = 0;
    if (comma) {
        char *al = w->host + hlen + 1;
        memcpy(al, comma + 1, (size_t)(eq - comma - 1));
        al[eq - comma - 1] = 0;
        w->aliases = al;
    }
    w->app = eq + 1;
    o->nwl++;
    return true;
}

/* One option with its value; false on a bad one. */
static bool
option(serve_opts *o, const char *a, const char *v)
{
    uint64_t n;
    if (strcmp(a, "--workload") == 0)
        return workload_opt_parse(o, v);
    if (strcmp(a, "--router") == 0)
        return (o->router = kumo_router_kind_parse(v)) >= 0;
    if (strcmp(a, "--listen") == 0 && o->nlisten < MAX_LISTEN && addr_ok(v))
        o->listen[o->nlisten++] = v;
    else if (strcmp(a, "--tls-listen") == 0 && o->ntls < MAX_LISTEN &&
             addr_ok(v))
        o->tls_listen[o->ntls++] = v;
    else if (strcmp(a, "--tls-cert") == 0)
        o->cert = v;
    else if (strcmp(a, "--tls-key") == 0)
        o->key = v;
    else if (strcmp(a, "--access-log") == 0)
        o->access_log = v;
    else if (strcmp(a, "--allow-host") == 0 && o->wcfg.nallow_hosts < MAX_LIST)
        o->allow[o->wcfg.nallow_hosts++] = v;
    else if (strcmp(a, "--env") == 0 && o->wcfg.nenv < MAX_LIST &&
             strchr(v, '=') && v[0] != '=')
        o->env[o->wcfg.nenv++] = v;
    else if (strcmp(a, "--pool-size") == 0)
        return u32_opt(v, &o->wcfg.pool_size);
    else if (strcmp(a, "--max-invocations") == 0)
        return u32_opt(v, &o->wcfg.max_invocations);
    else if (strcmp(a, "--max-concurrency") == 0)
        return u32_opt(v, &o->wcfg.max_concurrency);
    else if (strcmp(a, "--timeout") == 0)
        return u32_opt(v, &o->wcfg.timeout_ms);
    else if (strcmp(a, "--max-memory") == 0) {
        if (kc_parse_size(v, &n) < 0 || n < 65536 || n > (1ull << 32))
            return false;
        o->wcfg.max_memory_bytes = n;
    } else if (strcmp(a, "--max-body") == 0) {
        if (kc_parse_size(v, &n) < 0)
            return false;
        o->max_body = n;
    } else
        return false;
    return true;
}

static int
parse(int argc, char **argv, serve_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage_to(stdout);
            return -1; /* not an error: exit 0 */
        }
        if (strcmp(a, "--no-snapshot") == 0) {
            o->wcfg.no_snapshot = true;
            continue;
        }
        if (a[0] != '-') {
            if (o->app)
                return usage();
            o->app = a;
            continue;
        }
        if (i + 1 >= argc || !option(o, a, argv[i + 1])) {
            fprintf(stderr, "kumo serve: bad option %s\n", a);
            return usage();
        }
        i++;
    }
    if ((!o->app && o->nwl == 0) || (o->ntls && (!o->cert || !o->key)))
        return usage();
    if (o->router < 0)
        o->router = o->nwl ? KUMO_ROUTER_DYNAMIC : KUMO_ROUTER_DEV;
    if (o->app && o->router == KUMO_ROUTER_DYNAMIC) {
        fprintf(stderr, "kumo serve: the dynamic router routes by host: "
                        "give each component as --workload HOST=APP.wasm\n");
        return 2;
    }
    if (o->app) { /* the dev router's workload */
        memmove(&o->wl[1], &o->wl[0], o->nwl * sizeof o->wl[0]);
        o->wl[0] = (workload_opt){o->app, NULL, NULL};
        o->nwl++;
    }
    if (o->router == KUMO_ROUTER_NULL) {
        o->wcfg.deny_outbound = true;
        if (o->wcfg.nallow_hosts)
            fprintf(stderr, "kumo serve: the null router denies all egress; "
                            "--allow-host ignored\n");
    }
    if (o->nlisten == 0 && o->ntls == 0)
        o->listen[o->nlisten++] = "127.0.0.1:8000";
    o->wcfg.allow_hosts = o->allow;
    o->wcfg.env = o->env;
    return 0;
}

/* ---- the server: a router over the workloads */

typedef struct server {
    kumo_router *router;
    kumo_component *comps[MAX_WORKLOADS];
    kumo_whttp_workload *w[MAX_WORKLOADS];
    size_t nw;
    kumo_http_server *srv;
    uv_signal_t sigterm, sigint;
    bool stopping;
} server;

static void
on_drained(void *arg)
{
    server *s = arg;
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    server *s = h->data;
    (void)signum;
    if (s->stopping)
        return;
    s->stopping = true;
    if (s->srv)
        kumo_http_server_shutdown(s->srv, GRACE_MS, on_drained, s);
    else
        on_drained(s);
}

/* Print one line per listener, with the bound port. */
static void
announce(const serve_opts *o, const server *s)
{
    char what[256];
    if (o->nwl == 1)
        snprintf(what, sizeof what, "%s", o->wl[0].app);
    else
        snprintf(what, sizeof what, "%zu workloads (%s router)", o->nwl,
                 kumo_router_kind_name((kumo_router_kind)o->router));
    for (size_t i = 0; i < o->nwl && o->nwl > 1; i++)
        fprintf(stderr, "kumo: workload %s%s%s -> %s\n",
                o->wl[i].host ? o->wl[i].host : "(any host)",
                o->wl[i].aliases ? "," : "",
                o->wl[i].aliases ? o->wl[i].aliases : "", o->wl[i].app);
    if (!s->srv)
        fprintf(stderr, "kumo: %s: null router, no ingress\n", what);
    for (size_t i = 0; s->srv && i < o->nlisten + o->ntls; i++) {
        bool tls = i >= o->nlisten;
        const char *a = tls ? o->tls_listen[i - o->nlisten] : o->listen[i];
        const char *colon = strrchr(a, ':');
        int host_len = colon ? (int)(colon - a) : (int)strlen(a);
        fprintf(stderr, "kumo: serving %s on %s://%.*s:%d\n", what,
                tls ? "https" : "http", host_len ? host_len : 7,
                host_len ? a : "0.0.0.0", kumo_http_server_port(s->srv, i));
    }
    fflush(stderr);
}

static int
load(const char *app, kumo_component **out)
{
    uint8_t *bytes;
    size_t len;
    kumo_diag d;
    memset(&d, 0, sizeof d);
    if (kc_read_app("serve", app, &bytes, &len) < 0)
        return 1;
    int rc = kumo_component_new(bytes, len, out, &d);
    free(bytes);
    if (rc == 0 && (rc = kumo_component_validate(*out, &d)) != 0) {
        kumo_component_free(*out);
        *out = NULL;
    }
    if (rc) {
        kc_print_load_error(app, rc, &d);
        return 1;
    }
    return 0;
}

/* Load, prepare and bind every workload. 0 or an exit status. */
static int
workloads(serve_opts *o, server *s, uv_loop_t *loop)
{
    kumo_diag d;
    const char *why;
    char id[32];
    int rc;

    for (size_t i = 0; i < o->nwl; i++) {
        const workload_opt *wo = &o->wl[i];
        if (load(wo->app, &s->comps[i]))
            return 1;
        s->nw = i + 1;
        memset(&d, 0, sizeof d);
        rc = kumo_whttp_workload_new(loop, s->comps[i], &o->wcfg, &s->w[i],
                                     &d);
        if (rc) {
            fprintf(stderr, "kumo serve: %s: %s\n", wo->app,
                    d.message[0] ? d.message : kumo_strerror(rc));
            return 1;
        }
        if (o->router == KUMO_ROUTER_NULL)
            continue;
        snprintf(id, sizeof id, "w%zu", i);
        rc = kumo_router_add(s->router, id, s->w[i], wo->host, wo->aliases,
                             &why);
        if (rc) {
            fprintf(stderr, "kumo serve: --workload %s: %s\n",
                    wo->host ? wo->host : wo->app,
                    why ? why : kumo_strerror(rc));
            return rc == KUMO_EINVAL ? 2 : 1;
        }
    }
    return 0;
}

static int
serve(serve_opts *o, FILE *log)
{
    uv_loop_t loop;
    server s;
    int rc, status = 1;

    memset(&s, 0, sizeof s);
    uv_loop_init(&loop);
    if (kumo_router_new((kumo_router_kind)o->router, &s.router)) {
        fprintf(stderr, "kumo serve: out of memory\n");
        goto done;
    }
    if ((status = workloads(o, &s, &loop)) != 0)
        goto done;
    status = 1;
    kumo_http_config hc = {.listen = o->listen,
                           .nlisten = o->nlisten,
                           .listen_tls = o->tls_listen,
                           .nlisten_tls = o->ntls,
                           .tls_cert_file = o->cert,
                           .tls_key_file = o->key,
                           .max_body_bytes = o->max_body,
                           .access_log = log};
    kumo_http_handler h;
    kumo_router_handler(s.router, &h);
    if (o->router != KUMO_ROUTER_NULL &&
        (rc = kumo_http_server_new(&loop, &hc, &h, &s.srv))) {
        fprintf(stderr, "kumo serve: cannot listen: %s\n", kumo_strerror(rc));
        goto done;
    }
    uv_signal_init(&loop, &s.sigterm);
    uv_signal_init(&loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    announce(o, &s);
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;
done:
    kumo_http_server_free(s.srv);
    for (size_t i = 0; i < s.nw; i++)
        kumo_whttp_workload_free(s.w[i]);
    uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(&loop);
    for (size_t i = 0; i < s.nw; i++)
        kumo_component_free(s.comps[i]);
    kumo_router_free(s.router);
    return status;
}

int
kc_cmd_serve(int argc, char **argv)
{
    serve_opts o;
    FILE *log = NULL;
    int rc;

    memset(&o, 0, sizeof o);
    o.router = -1;
    if ((rc = parse(argc, argv, &o))) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    if (o.access_log) {
        log = strcmp(o.access_log, "-") == 0 ? stdout
                                              : fopen(o.access_log, "a");
        if (!log) {
            fprintf(stderr, "kumo serve: %s: %s\n", o.access_log,
                    strerror(errno));
            rc = 1;
            goto out;
        }
        setvbuf(log, NULL, _IOLBF, 0);
    }
    rc = serve(&o, log);
    if (log && log != stdout)
        fclose(log);
out:
    for (size_t i = 0; i < o.nwl; i++)
        free(o.wl[i].host);
    return rc;
}
