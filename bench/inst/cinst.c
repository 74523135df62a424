/* cinst.c - component instantiation benchmark: the shared components
 * against the WASI 0.2 + wasi:http host that `kumo serve` gives them
 * (one WASI context and linker, made once), median time of one cycle:
 *
 *   old   kumo_store_new + kumo_component_instantiate + free both
 *   pre   kumo_store_new + kumo_cpre_instantiate + free both (the pre made
 *         once; its own cost printed as "pre_new")
 *
 * For the command component (c-hello) the cycle also calls
 * wasi:cli/run#run (its output goes to /dev/null); the HTTP components
 * are only instantiated and torn down (their handler needs a request).
 *
 * Usage: cinst [-n CYCLES] [SHARED_DIR]   (default 200, ../shared) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/wasi/p2.h"
#include "kumo/component.h"

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static kumo_component *
load(const char *dir, const char *name)
{
    char path[1024];
    kumo_component *c = NULL;
    snprintf(path, sizeof path, "%s/components/%s", dir, name);
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n &&
        (kumo_component_new(buf, (size_t)n, &c, NULL) ||
         kumo_component_validate(c, NULL))) {
        kumo_component_free(c);
        c = NULL;
    }
    free(buf);
    if (f)
        fclose(f);
    if (!c)
        fprintf(stderr, "cinst: cannot load %s\n", path);
    return c;
}

typedef struct host {
    kumo_wasi_ctx *ctx;
    kumo_clinker *l;
} host;

/* One cycle; pre NULL: the old path. Returns 0 or an error. */
static int
cycle(const kumo_component *c, host *h, kumo_cpre *pre, const char *call)
{
    kumo_store *s;
    kumo_cinstance *ci = NULL;
    kumo_diag d;
    int rc = kumo_store_new(NULL, &s);
    if (rc)
        return rc;
    memset(&d, 0, sizeof d);
    rc = pre ? kumo_cpre_instantiate(pre, s, &ci, &d)
             : kumo_component_instantiate(s, c, h->l, &ci, &d);
    if (rc)
        fprintf(stderr, "cinst: %s\n", d.message);
    if (!rc && call) {
        kumo_cval r;
        memset(&r, 0, sizeof r);
        rc = kumo_cinstance_call(ci, call, NULL, 0, &r, 1);
        kumo_cval_free(&r);
        kx_p2_reset(h->ctx);
    }
    kumo_cinstance_free(ci);
    kumo_store_free(s);
    return rc;
}

static double
median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    return t[n / 2];
}

static void
bench(const char *dir, const char *name, const char *call, int n)
{
    kumo_component *c = load(dir, name);
    host h = {0};
    kumo_cpre *pre = NULL;
    double *t = calloc((size_t)n, sizeof *t), old, prenew, viapre;
    if (!c || !t || kumo_wasi_ctx_new(&h.ctx) || kumo_clinker_new(&h.l) ||
        kx_p2_define(h.ctx, h.l, NULL))
        goto done;
    int null = open("/dev/null", O_WRONLY);
    kumo_wasi_ctx_stdio(h.ctx, -1, null, null);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (cycle(c, &h, NULL, call))
            goto done;
        t[i] = now_us() - t0;
    }
    old = median(t, n);
    for (int i = 0; i < n; i++) {
        kumo_cpre *p;
        double t0 = now_us();
        if (kumo_cpre_new(c, h.l, &p, NULL))
            goto done;
        t[i] = now_us() - t0;
        kumo_cpre_free(p);
    }
    prenew = median(t, n);
    if (kumo_cpre_new(c, h.l, &pre, NULL))
        goto done;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (cycle(c, &h, pre, call))
            goto done;
        t[i] = now_us() - t0;
    }
    viapre = median(t, n);
    printf("%-36s %10.1f %10.1f %10.1f %7.1fx\n", name, old, prenew, viapre,
           old / viapre);
done:
    kumo_cpre_free(pre);
    kumo_clinker_free(h.l);
    kumo_wasi_ctx_free(h.ctx);
    kumo_component_free(c);
    free(t);
}

int
main(int argc, char **argv)
{
    int n = 200;
    const char *dir = "../shared";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else
            dir = argv[i];
    }
    if (n < 1)
        n = 1;
    printf("component instantiate (+ call) + tear down, median us over %d\n",
           n);
    printf("%-36s %10s %10s %10s %8s\n", "component", "old", "pre_new",
           "pre", "old/pre");
    bench(dir, "c-hello.command.component.wasm", "wasi:cli/run@0.2.0#run", n);
    bench(dir, "c-http.component.wasm", NULL, n);
    bench(dir, "js-hello-fetch-event.component.wasm", NULL, n < 50 ? n : 50);
    return 0;
}
