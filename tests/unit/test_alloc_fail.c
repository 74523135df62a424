/* test_alloc_fail.c - every allocation of decoding, validating, compiling
 * and instantiating a set of spec modules is made to fail in turn: each
 * attempt must fail cleanly with KUMO_ENOMEM and leave nothing allocated. */
#include <stdlib.h>
#include <string.h>

#include "kumo/engine.h"
#include "unit.h"

static struct {
    long countdown; /* fail when it reaches 0; < 0 never */
    long allocs;
    long live_blocks;
    size_t live_bytes;
} fa;

static void *
failing_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    if (new_size == 0) {
        if (ptr) {
            fa.live_blocks--;
            fa.live_bytes -= old_size;
        }
        free(ptr);
        return NULL;
    }
    fa.allocs++;
    if (fa.countdown >= 0 && fa.countdown-- == 0)
        return NULL;
    void *p = realloc(ptr, new_size);
    if (p) {
        if (!ptr)
            fa.live_blocks++;
        fa.live_bytes += new_size - old_size;
    }
    return p;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Decode, instantiate (the modules have no imports) and free. */
static int
load_and_instantiate(const uint8_t *bytes, size_t len)
{
    kumo_module *m = NULL;
    kumo_store *s = NULL;
    kumo_instance *inst;
    kumo_diag diag;
    int rc = kumo_module_new(bytes, len, &m, &diag);
    if (rc == 0)
        rc = kumo_store_new(NULL, &s);
    if (rc == 0)
        rc = kumo_instance_new(s, m, NULL, 0, &inst, &diag);
    kumo_store_free(s);
    kumo_module_free(m);
    return rc;
}

static const char *const modules[] = {
    "fac/fac.0.wasm",       "br_table/br_table.0.wasm",
    "call_indirect/call_indirect.0.wasm", "elem/elem.0.wasm",
    "data/data.0.wasm",     "names/names.0.wasm",
    "table_init/table_init.0.wasm", "memory_grow/memory_grow.0.wasm",
};

KT_TEST(alloc_failure_each_allocation)
{
    const char *shared = getenv("KUMO_SHARED");
    char path[512];
    for (size_t i = 0; i < sizeof modules / sizeof *modules; i++) {
        snprintf(path, sizeof path, "%s/testsuite/core/%s",
                 shared ? shared : "../shared", modules[i]);
        size_t len;
        uint8_t *bytes = slurp(path, &len);
        KT_REQUIRE(bytes != NULL);
        kumo_set_allocator(failing_alloc, NULL);
        memset(&fa, 0, sizeof fa);
        fa.countdown = -1;
        KT_CHECK(load_and_instantiate(bytes, len) == 0);
        KT_CHECK(fa.live_blocks == 0 && fa.live_bytes == 0);
        long total = fa.allocs;
        KT_CHECK(total > 0);
        for (long n = 0; n < total; n++) {
            memset(&fa, 0, sizeof fa);
            fa.countdown = n;
            int rc = load_and_instantiate(bytes, len);
            if (rc != KUMO_ENOMEM || fa.live_blocks != 0) {
                fprintf(stderr, "  %s: failing allocation %ld: rc %d, %ld "
                        "blocks left\n", modules[i], n, rc, fa.live_blocks);
                KT_CHECK(rc == KUMO_ENOMEM);
                KT_CHECK(fa.live_blocks == 0);
                break;
            }
        }
        kumo_set_allocator(NULL, NULL);
        free(bytes);
    }
}
