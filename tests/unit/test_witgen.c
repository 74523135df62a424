/* test_witgen.c - the WIT binding generator (tools/witgen): declarations
 * generated from a WIT snippet compile, and the glue generated at build
 * time from tests/unit/witgen-test.wit (build/gen/wgtest_bind.{h,c})
 * registers every function and converts arguments and results. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/witgen/gen.h"
#include "unit.h"
#include "wgtest_bind.h"

static char *
read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf)
        buf[fread(buf, 1, (1 << 20) - 1, f)] = 0;
    fclose(f);
    return buf;
}

KT_TEST(witgen_snippet)
{
    static const char wit[] =
        "package my:snip;\n"
        "interface api {\n"
        "  record pair { a: u8, b: string }\n"
        "  flags mode { fast, safe }\n"
        "  resource blob { constructor(n: u32); size: func() -> u32; }\n"
        "  swap: func(p: pair, m: mode) -> result<pair, string>;\n"
        "  all: func(xs: list<option<s64>>) -> tuple<u8, f64, char>;\n"
        "}\n";
    kw_world_set *set = NULL;
    kumo_diag d = {0};
    KT_REQUIRE(kw_set_new(&set) == 0);
    KT_REQUIRE(kw_parse(set, "snip.wit", wit, sizeof wit - 1, &d) == 0);
    KT_REQUIRE(kw_resolve(set, &d) == 0);
    kw_interface *api = kw_find_interface(set, "my:snip/api");
    KT_REQUIRE(api != NULL);

    char dir[] = "/tmp/kumo-witgen-XXXXXX", bind[PATH_MAX], hp[PATH_MAX + 32],
         cp[PATH_MAX + 32], err[256];
    KT_REQUIRE(mkdtemp(dir) != NULL);
    KT_REQUIRE(realpath("src/component/bind.h", bind) != NULL);
    snprintf(hp, sizeof hp, "%s/snip_bind.h", dir);
    snprintf(cp, sizeof cp, "%s/snip_bind.c", dir);
    FILE *h = fopen(hp, "w"), *c = fopen(cp, "w");
    KT_REQUIRE(h && c);
    wg_opts o = {"sn", "snip_bind.h", NULL, 0, bind};
    int rc = wg_generate(set, &api, 1, &o, h, c, err, sizeof err);
    fclose(h);
    fclose(c);
    KT_CHECK(rc == 0);
    char *ht = read_all(hp), *ct = read_all(cp);
    KT_REQUIRE(ht && ct);
    KT_CHECK(strstr(ht, "int sn_my_snip_api_swap(kg_call *call, "
                        "sn_my_snip_api_pair p, sn_my_snip_api_mode m, "
                        "sn_result_my_snip_api_pair_string *ret);"));
    KT_CHECK(strstr(ht, "int sn_my_snip_api_constructor_blob(kg_call *call, "
                        "uint32_t n, sn_my_snip_api_blob *ret);"));
    KT_CHECK(strstr(ht, "int sn_my_snip_api_method_blob_size(kg_call *call, "
                        "sn_my_snip_api_blob self, uint32_t *ret);"));
    KT_CHECK(strstr(ht, "void sn_my_snip_api_blob_drop(void *env, "
                        "sn_my_snip_api_blob self);"));
    KT_CHECK(strstr(ht, "#define SN_MY_SNIP_API_MODE_SAFE (1u << 1)"));
    KT_CHECK(strstr(ht, "typedef struct sn_tuple3_u8_f64_char {"));
    KT_CHECK(strstr(ct, "{\"my:snip/api\", \"[method]blob.size\", glue_"));
    KT_CHECK(strstr(ct, "{\"my:snip/api\", \"[constructor]blob\", glue_"));
    KT_CHECK(strstr(ct, "{\"my:snip/api\", \"blob\", dtor_0}"));
    /* the generated glue compiles warning-free (where a compiler is) */
    if (system("command -v cc >/dev/null 2>&1") == 0) {
        char cmd[3 * PATH_MAX];
        snprintf(cmd, sizeof cmd,
                 "cc -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes "
                 "-Wmissing-prototypes -Werror -D_GNU_SOURCE -Iinclude "
                 "-fsyntax-only %s",
                 cp);
        KT_CHECK(system(cmd) == 0);
    }
    /* an unsupported type is an error, not a crash */
    static const char bad[] = "package my:bad;\ninterface x {\n"
                              "  f: func(s: stream<u8>);\n}\n";
    kw_world_set *set2 = NULL;
    KT_REQUIRE(kw_set_new(&set2) == 0);
    KT_REQUIRE(kw_parse(set2, "bad.wit", bad, sizeof bad - 1, &d) == 0);
    KT_REQUIRE(kw_resolve(set2, &d) == 0);
    kw_interface *x = kw_find_interface(set2, "my:bad/x");
    FILE *n1 = fopen("/dev/null", "w"), *n2 = fopen("/dev/null", "w");
    KT_CHECK(wg_generate(set2, &x, 1, &o, n1, n2, err, sizeof err) ==
             KUMO_EUNSUPPORTED);
    fclose(n1);
    fclose(n2);
    kw_set_free(set2);
    free(ht);
    free(ct);
    unlink(hp);
    unlink(cp);
    rmdir(dir);
    kw_set_free(set);
}

/* ---- the host side of witgen-test.wit */

typedef struct host {
    uint64_t counters[8];
    uint32_t ncounters;
    int drops, nothings;
} host;

#define HOST(call) ((host *)(call)->env)

int
wgt_kumo_test_things_echo(kg_call *call, kg_string s, kg_bytes b,
                          wgt_tuple2_string_bytes *ret)
{
    (void)call;
    ret->f0 = s;
    ret->f1 = b;
    return 0;
}

int
wgt_kumo_test_things_classify(kg_call *call, wgt_kumo_test_things_point p,
                              wgt_kumo_test_things_color c,
                              wgt_kumo_test_things_perms f,
                              wgt_result_kumo_test_things_shape_string *ret)
{
    (void)call;
    if (p.label.len == 0) {
        ret->is_err = true;
        ret->val.err.ptr = "no label";
        ret->val.err.len = 8;
        return 0;
    }
    ret->val.ok.tag = WGT_KUMO_TEST_THINGS_SHAPE_CIRCLE;
    ret->val.ok.val.circle = (uint32_t)(p.x + p.y) + c + f;
    return 0;
}

int
wgt_kumo_test_things_maybe(kg_call *call, wgt_option_u32 x,
                           wgt_option_u64 *ret)
{
    (void)call;
    ret->is_some = x.is_some;
    ret->val = (uint64_t)x.val + 1;
    return 0;
}

int
wgt_kumo_test_things_nothing(kg_call *call)
{
    HOST(call)->nothings++;
    return 0;
}

int
wgt_kumo_test_things_constructor_counter(kg_call *call, uint64_t start,
                                         wgt_kumo_test_things_counter *ret)
{
    host *h = HOST(call);
    if (h->ncounters >= 8)
        return kg_call_trap(call, "too many counters");
    h->counters[h->ncounters] = start;
    ret->rep = ++h->ncounters;
    return 0;
}

int
wgt_kumo_test_things_method_counter_add(kg_call *call,
                                        wgt_kumo_test_things_counter self,
                                        uint64_t n, uint64_t *ret)
{
    *ret = HOST(call)->counters[self.rep - 1] += n;
    return 0;
}

int
wgt_kumo_test_things_method_counter_get(kg_call *call,
                                        wgt_kumo_test_things_counter self,
                                        uint64_t *ret)
{
    *ret = HOST(call)->counters[self.rep - 1];
    return 0;
}

int
wgt_kumo_test_things_static_counter_merge(kg_call *call,
                                          wgt_kumo_test_things_counter a,
                                          wgt_kumo_test_things_counter b,
                                          wgt_kumo_test_things_counter *ret)
{
    host *h = HOST(call);
    return wgt_kumo_test_things_constructor_counter(
        call, h->counters[a.rep - 1] + h->counters[b.rep - 1], ret);
}

void
wgt_kumo_test_things_counter_drop(void *env, wgt_kumo_test_things_counter self)
{
    (void)self;
    ((host *)env)->drops++;
}

int
wgt_kumo_test_more_take(kg_call *call, wgt_kumo_test_things_counter c,
                        uint64_t *ret)
{
    *ret = HOST(call)->counters[c.rep - 1];
    return 0;
}

int
wgt_kumo_test_more_origin(kg_call *call, wgt_kumo_test_things_point *ret)
{
    (void)call;
    ret->x = -1;
    ret->y = 2;
    ret->label.ptr = "origin";
    ret->label.len = 6;
    return 0;
}

static kumo_chost_fn
find(const char *iface, const char *name)
{
    for (size_t i = 0; i < wgt_nfuncs; i++)
        if (strcmp(wgt_funcs[i].iface, iface) == 0 &&
            strcmp(wgt_funcs[i].name, name) == 0)
            return wgt_funcs[i].fn;
    return NULL;
}

#define THINGS "kumo:test/things@0.1.0"

static int
call(wgt_bindings *b, const char *iface, const char *name, kumo_cval *args,
     size_t nargs, kumo_cval *res, size_t nres)
{
    kumo_chost_fn fn = find(iface, name);
    if (!fn)
        return -1000;
    memset(res, 0, sizeof *res);
    return fn(NULL, b, NULL, args, nargs, res, nres);
}

static void
u(kumo_cval *v, kumo_cval_kind k, uint64_t x)
{
    v->kind = k;
    v->u.u = x;
}

KT_TEST(witgen_glue)
{
    kumo_clinker *l = NULL;
    host h;
    wgt_bindings b;
    kumo_cval a[3], r;
    memset(&h, 0, sizeof h);
    memset(&b, 0, sizeof b);
    b.env = &h;
    KT_REQUIRE(kumo_clinker_new(&l) == 0);
    KT_CHECK(wgt_define(l, &b) == 0);
    KT_CHECK(b.res[WGT_RES_KUMO_TEST_THINGS_COUNTER] != NULL);
    KT_CHECK(wgt_nfuncs == 10 && wgt_ninterfaces == 2);
    KT_CHECK(find(THINGS, "[constructor]counter") &&
             find(THINGS, "[method]counter.add") &&
             find(THINGS, "[method]counter.get") &&
             find(THINGS, "[static]counter.merge") && find(THINGS, "echo") &&
             find("kumo:test/more@0.1.0", "take"));

    /* echo: string and list<u8> in, tuple out */
    memset(a, 0, sizeof a);
    KT_REQUIRE(kumo_cval_string(&a[0], "hi", 2) == 0);
    KT_REQUIRE(kumo_cval_items(&a[1], KUMO_CV_LIST, 3) == 0);
    for (int i = 0; i < 3; i++)
        u(&a[1].u.items.items[i], KUMO_CV_U8, (uint64_t)(i + 7));
    KT_CHECK(call(&b, THINGS, "echo", a, 2, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_TUPLE && r.u.items.n == 2 &&
             kumo_cval_equal(&r.u.items.items[0], &a[0]) &&
             kumo_cval_equal(&r.u.items.items[1], &a[1]));
    kumo_cval_free(&r);
    kumo_cvals_free(a, 2);

    /* classify: record, enum, flags in; result<variant, string> out */
    KT_REQUIRE(kumo_cval_items(&a[0], KUMO_CV_RECORD, 3) == 0);
    a[0].u.items.items[0].kind = KUMO_CV_S32;
    a[0].u.items.items[0].u.s = 3;
    a[0].u.items.items[1].kind = KUMO_CV_S32;
    a[0].u.items.items[1].u.s = 4;
    KT_REQUIRE(kumo_cval_string(&a[0].u.items.items[2], "p", 1) == 0);
    KT_REQUIRE(kumo_cval_case(&a[1], KUMO_CV_ENUM, 2, false) == 0);
    a[2].kind = KUMO_CV_FLAGS;
    a[2].u.flags.bits = 5;
    a[2].u.flags.n = 3;
    KT_CHECK(call(&b, THINGS, "classify", a, 3, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_RESULT && r.u.var.disc == 0 &&
             r.u.var.payload->kind == KUMO_CV_VARIANT &&
             r.u.var.payload->u.var.disc == 1 &&
             r.u.var.payload->u.var.payload->u.u == 14);
    kumo_cval_free(&r);
    kumo_cvals_free(a, 3);

    /* maybe: option in and out */
    KT_REQUIRE(kumo_cval_case(&a[0], KUMO_CV_OPTION, 1, true) == 0);
    u(a[0].u.var.payload, KUMO_CV_U32, 41);
    KT_CHECK(call(&b, THINGS, "maybe", a, 1, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_OPTION && r.u.var.disc == 1 &&
             r.u.var.payload->kind == KUMO_CV_U64 &&
             r.u.var.payload->u.u == 42);
    kumo_cval_free(&r);
    kumo_cvals_free(a, 1);
    KT_CHECK(call(&b, THINGS, "nothing", NULL, 0, &r, 0) == 0 &&
             h.nothings == 1);

    /* resources: constructor, method on a borrow, static, own argument */
    kumo_cresource *rt = b.res[WGT_RES_KUMO_TEST_THINGS_COUNTER];
    u(&a[0], KUMO_CV_U64, 5);
    KT_CHECK(call(&b, THINGS, "[constructor]counter", a, 1, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_OWN && r.u.handle.type == rt &&
             r.u.handle.rep == 1);
    a[0].kind = KUMO_CV_BORROW;
    a[0].u.handle.type = rt;
    a[0].u.handle.rep = 1;
    u(&a[1], KUMO_CV_U64, 3);
    KT_CHECK(call(&b, THINGS, "[method]counter.add", a, 2, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_U64 && r.u.u == 8);
    a[1] = a[0];
    KT_CHECK(call(&b, THINGS, "[static]counter.merge", a, 2, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_OWN && r.u.handle.rep == 2 &&
             h.counters[1] == 16);
    a[0].kind = KUMO_CV_OWN;
    a[0].u.handle.rep = 2;
    KT_CHECK(call(&b, "kumo:test/more@0.1.0", "take", a, 1, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_U64 && r.u.u == 16);
    KT_CHECK(call(&b, "kumo:test/more@0.1.0", "origin", NULL, 0, &r, 1) == 0);
    KT_CHECK(r.kind == KUMO_CV_RECORD && r.u.items.n == 3 &&
             r.u.items.items[0].u.s == -1 &&
             r.u.items.items[2].u.str.len == 6);
    kumo_cval_free(&r);
    wgt_resources[0].dtor(&b, 1);
    KT_CHECK(h.drops == 1);
    kumo_clinker_free(l);
}
