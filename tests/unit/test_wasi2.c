/* test_wasi2.c - the WASI 0.2 host behind the generated bindings: every
 * non-async component of $KUMO_SHARED/components (default ../shared)
 * instantiates against it (the HTTP ones with stubs for wasi:http only,
 * every other import must be provided), and c-hello runs to the end with
 * its output, exit code and file checked. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kumo/wasi.h"
#include "unit.h"

static uint8_t *
read_component(const char *file, size_t *len)
{
    char path[512];
    const char *shared = getenv("KUMO_SHARED");
    snprintf(path, sizeof path, "%s/components/%s",
             shared ? shared : "../shared", file);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static bool
is_http(const kumo_component_item *it)
{
    return it->name_len >= 10 && memcmp(it->name, "wasi:http/", 10) == 0;
}

/* Instantiate file against the WASI 0.2 host; imports other than
 * wasi:http must all be provided. */
static bool
instantiates(const char *file)
{
    size_t len;
    uint8_t *bytes = read_component(file, &len);
    kumo_component *c = NULL;
    kumo_wasi_ctx *ctx = NULL;
    kumo_clinker *l = NULL;
    kumo_store *s = NULL;
    kumo_cinstance *ci = NULL;
    kumo_diag d;
    bool ok = false, stubs = false;

    memset(&d, 0, sizeof d);
    if (!bytes) {
        fprintf(stderr, "  %s: cannot read\n", file);
        return false;
    }
    if (kumo_component_new(bytes, len, &c, &d) ||
        kumo_component_validate(c, &d)) {
        fprintf(stderr, "  %s: %s\n", file, d.message);
        goto done;
    }
    for (uint32_t i = 0; i < kumo_component_import_count(c); i++) {
        kumo_component_item it;
        kumo_component_import(c, i, &it);
        if (is_http(&it)) {
            stubs = true;
        } else if (!kumo_wasi_p2_provides(it.name, it.name_len)) {
            fprintf(stderr, "  %s: import %.*s not provided\n", file,
                    (int)it.name_len, it.name);
            goto done;
        }
    }
    if (kumo_wasi_ctx_new(&ctx) || kumo_clinker_new(&l) ||
        kumo_wasi_p2_define(ctx, l) || kumo_store_new(NULL, &s))
        goto done;
    kumo_clinker_allow_stubs(l, stubs);
    int rc = kumo_component_instantiate(s, c, l, &ci, &d);
    if (rc)
        fprintf(stderr, "  %s: instantiate: %s\n", file, d.message);
    ok = rc == 0;
done:
    kumo_cinstance_free(ci);
    kumo_store_free(s);
    kumo_clinker_free(l);
    kumo_wasi_ctx_free(ctx);
    kumo_component_free(c);
    free(bytes);
    return ok;
}

KT_TEST(wasi2_instantiate_components)
{
    static const char *const files[] = {
        "c-hello.command.component.wasm",
        "c-grow.command.component.wasm",
        "rust-hello.command.component.wasm",
        "c-http.component.wasm",
        "js-hello-direct.component.wasm",
        "js-hello-fetch-event.component.wasm",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        KT_CHECK(instantiates(files[i]));
}

KT_TEST(wasi2_provides)
{
    KT_CHECK(kumo_wasi_p2_provides("wasi:io/streams@0.2.0", 21));
    KT_CHECK(kumo_wasi_p2_provides("wasi:cli/run@0.2.6", 18) == false);
    KT_CHECK(kumo_wasi_p2_provides("wasi:sockets/tcp@0.2.3", 22));
    KT_CHECK(kumo_wasi_p2_provides("wasi:io/streams@0.3.0", 21) == false);
}

static char *
slurp_fd(int fd)
{
    static char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

KT_TEST(wasi2_run_c_hello)
{
    size_t len;
    uint8_t *bytes = read_component("c-hello.command.component.wasm", &len);
    KT_REQUIRE(bytes != NULL);
    kumo_component *c = NULL;
    kumo_wasi_ctx *ctx = NULL;
    kumo_wasi_result res;
    kumo_diag d;
    char dir[] = "/tmp/kumo-wasi2-XXXXXX", out[] = "/tmp/kumo-wasi2-out-XXXXXX",
         err[] = "/tmp/kumo-wasi2-err-XXXXXX";
    memset(&d, 0, sizeof d);
    KT_REQUIRE(mkdtemp(dir) != NULL);
    int ofd = mkstemp(out), efd = mkstemp(err), nfd = open("/dev/null", O_RDONLY);
    KT_REQUIRE(ofd >= 0 && efd >= 0 && nfd >= 0);
    KT_REQUIRE(kumo_component_new(bytes, len, &c, &d) == 0);
    KT_REQUIRE(kumo_wasi_ctx_new(&ctx) == 0);
    kumo_wasi_ctx_arg(ctx, "c-hello.wasm");
    kumo_wasi_ctx_arg(ctx, "0");
    kumo_wasi_ctx_env(ctx, "GREETING", "hi");
    KT_CHECK(kumo_wasi_ctx_preopen(ctx, dir, "/tmp", 0) == 0);
    kumo_wasi_ctx_stdio(ctx, nfd, ofd, efd);
    KT_CHECK(kumo_wasi_run_component(ctx, c, NULL, &res) == 0);
    KT_CHECK(res.end == KUMO_WASI_END_EXIT && res.exit_code == 0);
    if (res.end != KUMO_WASI_END_EXIT)
        fprintf(stderr, "  c-hello: %s\n", res.message);
    const char *text = slurp_fd(ofd);
    KT_CHECK(strstr(text, "Hello from C (wasm32-wasi), argc=2\n"
                          "  argv[0]=c-hello.wasm\n  argv[1]=0\n"
                          "  GREETING=hi\n") != NULL);
    KT_CHECK(strstr(text, "  wrote /tmp/wasi-c-test.txt\n") != NULL);
    KT_CHECK(strcmp(slurp_fd(efd), "this goes to stderr\n") == 0);
    char path[256];
    snprintf(path, sizeof path, "%s/wasi-c-test.txt", dir);
    FILE *f = fopen(path, "r");
    char line[64] = "";
    KT_CHECK(f && fgets(line, sizeof line, f) &&
             strcmp(line, "written by wasm\n") == 0);
    if (f)
        fclose(f);
    unlink(path);
    rmdir(dir);
    unlink(out);
    unlink(err);
    close(ofd);
    close(efd);
    close(nfd);
    kumo_wasi_ctx_free(ctx);
    kumo_component_free(c);
    free(bytes);
}
