/* test_cpre.c - pre-instantiation (kumo_cpre): many instances of one pre
 * are each fresh (handle tables, memories, guest resource types bound to
 * their own instance), errors are the ones kumo_component_instantiate
 * gives, instances outlive kumo_cpre_free, and the real components
 * ($KUMO_SHARED/components) pre-instantiate against the WASI + wasi:http
 * host that `kumo serve` uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/wasi/p2.h"
#include "kumo/component.h"
#include "unit.h"

static kumo_component *
load(const char *rel)
{
    const char *shared = getenv("KUMO_SHARED");
    char path[1024];
    kumo_component *c = NULL;
    snprintf(path, sizeof path, "%s/%s", shared ? shared : "../shared", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return NULL;
    }
    uint8_t *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n &&
        (kumo_component_new(buf, (size_t)n, &c, NULL) ||
         kumo_component_validate(c, NULL))) {
        kumo_component_free(c);
        c = NULL;
    }
    free(buf);
    fclose(f);
    return c;
}

#define SUITE "testsuite/component-model/"

static uint32_t
call_u32(kumo_cinstance *ci, const char *name, int *rc)
{
    kumo_cval r;
    memset(&r, 0, sizeof r);
    *rc = kumo_cinstance_call(ci, name, NULL, 0, &r, 1);
    uint32_t v = *rc == 0 ? (uint32_t)r.u.u : UINT32_MAX;
    kumo_cval_free(&r);
    return v;
}

/* Guest resources with destructors: every instance of one pre starts with
 * an empty handle table, whether it shares a store with the others or
 * not; the instances outlive the pre. */
KT_TEST(cpre_instances_are_fresh)
{
    kumo_component *c = load(SUITE "resources/handle-table/handle-table.0.wasm");
    KT_REQUIRE(c != NULL);
    kumo_cpre *p;
    kumo_store *shared, *own[3];
    kumo_cinstance *in[6];
    int rc;
    KT_REQUIRE(kumo_cpre_new(c, NULL, &p, NULL) == 0);
    KT_REQUIRE(kumo_store_new(NULL, &shared) == 0);
    for (int i = 0; i < 3; i++) {
        KT_REQUIRE(kumo_store_new(NULL, &own[i]) == 0);
        KT_REQUIRE(kumo_cpre_instantiate(p, own[i], &in[i], NULL) == 0);
        KT_REQUIRE(kumo_cpre_instantiate(p, shared, &in[3 + i], NULL) == 0);
    }
    kumo_cpre_free(p); /* the instances keep it */
    for (int i = 0; i < 6; i++) {
        KT_CHECK(call_u32(in[i], "run", &rc) == 42);
        KT_CHECK(rc == 0);
    }
    for (int i = 0; i < 6; i++)
        kumo_cinstance_free(in[i]);
    for (int i = 0; i < 3; i++)
        kumo_store_free(own[i]);
    kumo_store_free(shared);
    kumo_component_free(c);
}

/* A trap poisons nothing beyond its instance: the next instance of the
 * same pre traps the same way, with the same message. */
KT_TEST(cpre_trap_stays_in_its_instance)
{
    kumo_component *c = load(SUITE "resources/handle-table/handle-table.2.wasm");
    KT_REQUIRE(c != NULL);
    kumo_cpre *p;
    KT_REQUIRE(kumo_cpre_new(c, NULL, &p, NULL) == 0);
    for (int i = 0; i < 3; i++) {
        kumo_store *s;
        kumo_cinstance *ci;
        KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
        KT_REQUIRE(kumo_cpre_instantiate(p, s, &ci, NULL) == 0);
        int rc = kumo_cinstance_call(ci, "double-drop", NULL, 0, NULL, 0);
        KT_CHECK(KUMO_IS_TRAP(rc));
        KT_CHECK(strstr(kumo_cinstance_trap_message(ci),
                        "unknown handle index 1") != NULL);
        kumo_cinstance_free(ci);
        kumo_store_free(s);
    }
    kumo_cpre_free(p);
    kumo_component_free(c);
}

/* A missing import fails kumo_cpre_new with the code and message that
 * kumo_component_instantiate gives. */
KT_TEST(cpre_errors_match_instantiate)
{
    kumo_component *c = load("components/c-http.component.wasm");
    KT_REQUIRE(c != NULL);
    kumo_clinker *l;
    kumo_store *s;
    kumo_cpre *p = NULL;
    kumo_cinstance *ci = NULL;
    kumo_diag d1, d2;
    memset(&d1, 0, sizeof d1);
    memset(&d2, 0, sizeof d2);
    KT_REQUIRE(kumo_clinker_new(&l) == 0);
    KT_REQUIRE(kumo_store_new(NULL, &s) == 0);
    int rc1 = kumo_cpre_new(c, l, &p, &d1);
    int rc2 = kumo_component_instantiate(s, c, l, &ci, &d2);
    KT_CHECK(rc1 == KUMO_EUNLINKABLE && rc2 == rc1);
    KT_CHECK(p == NULL && ci == NULL);
    KT_CHECK(strstr(d1.message, "missing import") != NULL);
    KT_CHECK(strcmp(d1.message, d2.message) == 0);
    kumo_store_free(s);
    kumo_clinker_free(l);
    kumo_component_free(c);
}

/* The real HTTP components against the host `kumo serve` gives them: one
 * pre, several instances, each with the handler export, each freed in
 * another order than made. */
static void
serve_host(const char *rel)
{
    kumo_component *c = load(rel);
    KT_REQUIRE(c != NULL);
    kumo_wasi_ctx *ctx;
    kumo_clinker *l;
    kumo_cpre *p;
    kumo_diag d;
    memset(&d, 0, sizeof d);
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    KT_REQUIRE(kumo_clinker_new(&l) == 0);
    KT_REQUIRE(kx_p2_define(ctx, l, NULL) == 0);
    int rc = kumo_cpre_new(c, l, &p, &d);
    if (rc)
        fprintf(stderr, "  %s: %s\n", rel, d.message);
    KT_REQUIRE(rc == 0);
    kumo_store *s[3];
    kumo_cinstance *ci[3];
    for (int i = 0; i < 3; i++) {
        kumo_cfunc *f;
        KT_REQUIRE(kumo_store_new(NULL, &s[i]) == 0);
        KT_REQUIRE(kumo_cpre_instantiate(p, s[i], &ci[i], &d) == 0);
        KT_CHECK(kumo_cinstance_func(
                     ci[i], "wasi:http/incoming-handler@0.2.0#handle", &f) ==
                 0);
        KT_CHECK(kumo_ctype_count(kumo_cfunc_type(f)) == 2);
    }
    kumo_cinstance_free(ci[1]);
    kumo_store_free(s[1]);
    kumo_cpre_free(p);
    kumo_store_free(s[0]); /* instance and store in either order */
    kumo_cinstance_free(ci[0]);
    kumo_cinstance_free(ci[2]);
    kumo_store_free(s[2]);
    kumo_wasi_ctx_free(ctx);
    kumo_clinker_free(l);
    kumo_component_free(c);
}

KT_TEST(cpre_c_http)
{
    serve_host("components/c-http.component.wasm");
}

KT_TEST(cpre_js_fetch_event)
{
    serve_host("components/js-hello-fetch-event.component.wasm");
}
