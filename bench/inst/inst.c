/* inst.c - instantiation benchmark: decode a module once, then many times
 * instantiate it, call a trivial export and tear the instance down, and
 * print the median time of one such cycle.
 *
 * Modules (written here with tests/unit/wasm_build.h):
 *   small  (memory 1), 16 bytes of data, exports "nop" and "touch"
 *   big    (memory 256), four 3.5 MB data segments = a 14 MB image
 * "nop" returns a constant; "touch" reads one byte of data 1 MB in and
 * writes one at 0 (two page faults on a fresh memory).
 * Paths:
 *   store   kumo_store_new + kumo_instance_new + call + kumo_store_free
 *   pool    kumo_pool_instantiate + call + kumo_pool_release
 * each with the store flags: default (reserved memory, image mapped
 * copy-on-write), NO_IMAGE (reserved, data copied) and NO_GUARD|NO_IMAGE
 * (the old path: heap memory, data copied).
 *
 * Usage: inst [-n CYCLES]   (default 2000 small / 200 big) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tests/unit/wasm_build.h"
#include "kumo/engine.h"

#define MIB (1024u * 1024u)

/* small: 1 page, 16 bytes of data; big: 256 pages, 4 x 3.5 MiB. */
static void
build(wb *out, int big)
{
    wb sec = {0};
    wb_header(out);
    wb_bytes(&sec, "\x01\x60\x00\x01\x7f", 5);
    wb_section(out, 1, &sec);
    wb_bytes(&sec, "\x02\x00\x00", 3);
    wb_section(out, 3, &sec);
    wb_bytes(&sec, "\x01\x00", 2);
    wb_u32(&sec, big ? 256 : 1);
    wb_section(out, 5, &sec);
    wb_u32(&sec, 2);
    wb_name(&sec, "nop");
    wb_bytes(&sec, "\x00\x00", 2);
    wb_name(&sec, "touch");
    wb_bytes(&sec, "\x00\x01", 2);
    wb_section(out, 7, &sec);
    wb_u32(&sec, 2);
    wb_body(&sec, "\x41\x2a\x0b", 3);
    /* i32.const 0; i32.const 1048576 (0 when small); i32.load8_u;
     * i32.store8; i32.const 1 */
    uint8_t touch[32];
    size_t n = 0;
    touch[n++] = 0x41;
    touch[n++] = 0x00;
    touch[n++] = 0x41;
    if (big) {
        memcpy(touch + n, "\x80\x80\xc0\x00", 4); /* 1 << 20 */
        n += 4;
    } else {
        touch[n++] = 0x00;
    }
    memcpy(touch + n, "\x2d\x00\x00\x3a\x00\x00\x41\x01\x0b", 9);
    n += 9;
    wb_body(&sec, touch, n);
    wb_section(out, 10, &sec);
    uint32_t nseg = big ? 4 : 1, len = big ? 7 * MIB / 2 : 16;
    wb_u32(&sec, nseg);
    for (uint32_t s = 0; s < nseg; s++) {
        wb_byte(&sec, 0);
        wb_i32_expr(&sec, (int32_t)(s * 4 * MIB + 64));
        wb_u32(&sec, len);
        for (uint32_t i = 0; i < len; i++)
            wb_byte(&sec, (uint8_t)(i * 31 + s));
    }
    wb_section(out, 11, &sec);
    wb_free(&sec);
}

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
die(const char *what, int rc)
{
    fprintf(stderr, "ERROR: %s: %s\n", what, kumo_strerror(rc));
    exit(1);
}

static void
call(kumo_instance *inst, const char *fn)
{
    kumo_extern x;
    kumo_val r;
    int rc = kumo_instance_export(inst, fn, strlen(fn), &x);
    if (rc || (rc = kumo_func_call(kumo_instance_store(inst), x.u.func, NULL,
                                   &r)))
        die(fn, rc);
}

/* One cycle; with a pool when p is not NULL. */
static void
cycle(const kumo_module *m, kumo_pool *p, const kumo_store_config *cfg,
      const char *fn)
{
    kumo_instance *inst = NULL;
    int rc;
    if (p) {
        if ((rc = kumo_pool_instantiate(p, &inst, NULL)))
            die("pool instantiate", rc);
        call(inst, fn);
        kumo_pool_release(p, inst);
        return;
    }
    kumo_store *s;
    if ((rc = kumo_store_new(cfg, &s)) ||
        (rc = kumo_instance_new(s, m, NULL, 0, &inst, NULL)))
        die("instantiate", rc);
    call(inst, fn);
    kumo_store_free(s);
}

static double
median_us(const kumo_module *m, int pooled, uint32_t flags, const char *fn,
          int n)
{
    kumo_pool_config pc;
    memset(&pc, 0, sizeof pc);
    pc.store.flags = flags;
    kumo_pool *p = NULL;
    int rc;
    if (pooled && (rc = kumo_pool_new(m, &pc, &p)))
        die("pool", rc);
    double *t = malloc((size_t)n * sizeof *t);
    if (!t)
        die("malloc", KUMO_ENOMEM);
    cycle(m, p, &pc.store, fn); /* warm-up: builds the image, a slot */
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        cycle(m, p, &pc.store, fn);
        t[i] = now_us() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    double med = t[n / 2];
    free(t);
    kumo_pool_free(p);
    return med;
}

int
main(int argc, char **argv)
{
    int n = 0;
    if (argc == 3 && strcmp(argv[1], "-n") == 0)
        n = atoi(argv[2]);
    static const struct {
        const char *name;
        uint32_t flags;
    } modes[] = {
        {"image", 0},
        {"copy", KUMO_STORE_NO_IMAGE},
        {"heap+copy", KUMO_STORE_NO_GUARD | KUMO_STORE_NO_IMAGE},
    };
    printf("instantiate + call + tear down, median us "
           "(image: reserved memory, data image mapped copy-on-write;\n"
           " copy: reserved memory, data copied; heap+copy: the old path)\n");
    printf("%-6s %-10s %-6s %10s %10s\n", "module", "mode", "path", "nop",
           "touch");
    for (int big = 0; big < 2; big++) {
        wb bytes = {0};
        build(&bytes, big);
        kumo_module *m;
        kumo_diag d;
        int rc = kumo_module_new(bytes.p, bytes.n, &m, &d);
        if (rc) {
            fprintf(stderr, "ERROR: module: %s\n", d.message);
            return 1;
        }
        int cycles = n > 0 ? n : big ? 200 : 2000;
        for (int mode = 0; mode < 3; mode++) {
            for (int pooled = 0; pooled < 2; pooled++) {
                double a = median_us(m, pooled, modes[mode].flags, "nop",
                                     cycles);
                double b = median_us(m, pooled, modes[mode].flags, "touch",
                                     cycles);
                printf("%-6s %-10s %-6s %10.2f %10.2f\n",
                       big ? "14MB" : "small", modes[mode].name,
                       pooled ? "pool" : "store", a, b);
            }
        }
        kumo_module_free(m);
        wb_free(&bytes);
    }
    return 0;
}
