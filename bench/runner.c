/* runner.c - runs one benchmark program and prints its timings.
 *
 * Built twice by bench/run.sh:
 *   native:  cc -O2 runner.c programs/NAME.c       (calls bench_run directly)
 *   kumo:    cc -O2 -DBENCH_KUMO runner.c libkumo.a (loads NAME.wasm through
 *            the public engine API and calls its bench_run export)
 *
 * Usage: runner [-n RUNS] [-s SCALE] [-t SECONDS] [FILE.wasm]
 *        (-t: stop early once the runs took longer than SECONDS, after at
 *        least 3 runs, or after 1 run if that one alone was longer)
 *        runner -i COUNT FILE.wasm       (kumo only: instantiation cost)
 * Output, one line per run then a summary, all parsed by run.sh:
 *   run 1 ms 312.402 checksum 0x943831eb
 *   median_ms 312.402 checksum 0x943831eb
 *   inst_us 41.200                       (with -i: median microseconds)
 * Errors go to stderr as "ERROR: ..." with exit status 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_KUMO
#include "kumo/engine.h"
#else
uint32_t bench_run(uint32_t scale);
#endif

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#ifdef BENCH_KUMO

typedef struct loaded {
    kumo_module *mod;
    kumo_store *store;
    kumo_instance *inst;
    kumo_func *run;  /* bench_run, or NULL */
    kumo_func *init; /* _initialize, or NULL */
    char **names;    /* "module.name" per import, env of its stub */
    uint32_t nnames;
} loaded;

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Every import gets a stub of the right type that traps when called:
 * the benchmarks are meant to need no host functions at run time. */
static int
stub_import(kumo_caller *caller, void *env, const kumo_val *args,
            kumo_val *results)
{
    (void)args;
    (void)results;
    char msg[160];
    snprintf(msg, sizeof msg, "benchmark called unexpected import %s",
             (const char *)env);
    return kumo_caller_trap(caller, msg);
}

static int
make_stubs(loaded *l, kumo_extern *ext)
{
    for (uint32_t i = 0; i < l->nnames; i++) {
        kumo_externdesc d;
        kumo_module_import(l->mod, i, &d);
        size_t len = (size_t)d.module_len + d.name_len + 2;
        if (!(l->names[i] = malloc(len)))
            return -1;
        snprintf(l->names[i], len, "%.*s.%.*s", (int)d.module_len, d.module,
                 (int)d.name_len, d.name);
        if (d.kind != KUMO_EXTERN_FUNC) {
            fprintf(stderr, "ERROR: unsupported non-function import %s\n",
                    l->names[i]);
            return -1;
        }
        ext[i].kind = KUMO_EXTERN_FUNC;
        int rc = kumo_func_new_host(l->store, &d.func, stub_import,
                                    l->names[i], NULL, &ext[i].u.func);
        if (rc < 0) {
            fprintf(stderr, "ERROR: kumo_func_new_host: %s\n",
                    kumo_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static kumo_func *
find_func(kumo_instance *inst, const char *name)
{
    kumo_extern e;
    if (kumo_instance_export(inst, name, strlen(name), &e) < 0 ||
        e.kind != KUMO_EXTERN_FUNC)
        return NULL;
    return e.u.func;
}

static void
release(loaded *l)
{
    if (l->store)
        kumo_store_free(l->store);
    l->store = NULL;
    l->inst = NULL;
    for (uint32_t i = 0; l->names && i < l->nnames; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
}

/* A new store and instance of l->mod, _initialize called. */
static int
instantiate(loaded *l)
{
    kumo_diag diag;
    kumo_extern *ext = NULL;
    int rc;
    l->nnames = kumo_module_import_count(l->mod);
    l->names = calloc(l->nnames + 1, sizeof *l->names);
    ext = calloc(l->nnames + 1, sizeof *ext);
    if (!l->names || !ext)
        goto fail;
    if ((rc = kumo_store_new(NULL, &l->store)) < 0) {
        fprintf(stderr, "ERROR: kumo_store_new: %s\n", kumo_strerror(rc));
        goto fail;
    }
    if (make_stubs(l, ext) < 0)
        goto fail;
    memset(&diag, 0, sizeof diag);
    rc = kumo_instance_new(l->store, l->mod, ext, l->nnames, &l->inst, &diag);
    if (rc < 0) {
        fprintf(stderr, "ERROR: kumo_instance_new: %s (%s)\n",
                kumo_strerror(rc), diag.message);
        goto fail;
    }
    l->init = find_func(l->inst, "_initialize");
    l->run = find_func(l->inst, "bench_run");
    if (l->init && (rc = kumo_func_call(l->store, l->init, NULL, NULL)) < 0) {
        fprintf(stderr, "ERROR: _initialize trapped: %s (%s)\n",
                kumo_strerror(rc), kumo_store_trap_message(l->store));
        goto fail;
    }
    free(ext);
    return 0;
fail:
    free(ext);
    release(l);
    return -1;
}

static int
load(const char *path, loaded *l)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kumo_diag diag;
    memset(l, 0, sizeof *l);
    if (read_file(path, &bytes, &len) < 0) {
        fprintf(stderr, "ERROR: cannot read %s\n", path);
        return -1;
    }
    memset(&diag, 0, sizeof diag);
    int rc = kumo_module_new(bytes, len, &l->mod, &diag);
    free(bytes);
    if (rc < 0) {
        fprintf(stderr, "ERROR: kumo_module_new(%s): %s: %s at offset %zu\n",
                path, kumo_strerror(rc), diag.message, diag.offset);
        return -1;
    }
    return 0;
}

/* Median cost of store_new + instantiate + _initialize + store_free. */
static int
inst_cost(loaded *l, int count)
{
    double *t = calloc((size_t)count, sizeof *t);
    if (!t)
        return -1;
    for (int i = 0; i < count; i++) {
        double t0 = now_ms();
        if (instantiate(l) < 0) {
            free(t);
            return -1;
        }
        release(l);
        t[i] = (now_ms() - t0) * 1e3;
    }
    printf("inst_us %.3f\n", median(t, count));
    free(t);
    return 0;
}

static int
call_run(loaded *l, uint32_t scale, uint32_t *out)
{
    kumo_val arg = scale, res = 0;
    int rc = kumo_func_call(l->store, l->run, &arg, &res);
    if (rc < 0) {
        fprintf(stderr, "ERROR: bench_run trapped: %s (%s)\n",
                kumo_strerror(rc), kumo_store_trap_message(l->store));
        return -1;
    }
    *out = (uint32_t)res;
    return 0;
}
#endif

int
main(int argc, char **argv)
{
    int runs = 5, inst = 0;
    double budget_ms = 0;
    uint32_t scale = 100;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            scale = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            budget_ms = atof(argv[++i]) * 1e3;
        else if (!strcmp(argv[i], "-i") && i + 1 < argc)
            inst = atoi(argv[++i]);
        else
            file = argv[i];
    }
    if (runs < 1 || runs > 1000)
        runs = 5;
    double times[1000], total = 0;
    uint32_t first = 0;
    int done = 0;
    int status = 0;
#ifdef BENCH_KUMO
    loaded l;
    if (!file) {
        fprintf(stderr, "usage: %s [-n RUNS] [-s SCALE] [-i COUNT] FILE.wasm\n",
                argv[0]);
        return 2;
    }
    if (load(file, &l) < 0)
        return 1;
    if (inst > 0) {
        status = inst_cost(&l, inst) < 0;
        kumo_module_free(l.mod);
        return status;
    }
    if (instantiate(&l) < 0) {
        kumo_module_free(l.mod);
        return 1;
    }
    if (!l.run) {
        fprintf(stderr, "ERROR: %s exports no bench_run function\n", file);
        status = 1;
        goto out;
    }
#else
    (void)file;
    (void)inst;
#endif
    for (int i = 0; i < runs; i++) {
        uint32_t sum;
        double t0 = now_ms();
#ifdef BENCH_KUMO
        if (call_run(&l, scale, &sum) < 0) {
            status = 1;
            goto out;
        }
#else
        sum = bench_run(scale);
#endif
        times[i] = now_ms() - t0;
        total += times[i];
        done = i + 1;
        printf("run %d ms %.3f checksum 0x%08x\n", i + 1, times[i], sum);
        fflush(stdout);
        if (i == 0)
            first = sum;
        else if (sum != first) {
            fprintf(stderr, "ERROR: checksum changed between runs\n");
            status = 1;
        }
        if (budget_ms > 0 && total > budget_ms && (done >= 3 || done == 1))
            break;
    }
    printf("median_ms %.3f checksum 0x%08x runs %d\n", median(times, done),
           first, done);
#ifdef BENCH_KUMO
out:
    release(&l);
    kumo_module_free(l.mod);
#endif
    return status;
}
