/* test_canon.c - the canonical ABI and instantiation: round trips of every
 * value type through lower -> lift with a real memory and a bump realloc,
 * string transcoding, the ABI's traps, end-to-end calls into components of
 * the component-model suite ($KUMO_SHARED/testsuite/component-model) and
 * instantiation of the real components ($KUMO_SHARED/components) against
 * stub hosts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/component/canon.h"
#include "unit.h"

/* ---- a memory, a bump realloc and hand-made types */

typedef struct rig {
    kumo_store *s;
    kumo_memory *mem;
    kumo_func *realloc;
    kc_arena arena;
    kc_opts opts;
    kc_rinst ri;
    struct kumo_cinstance top;
    kc_cx cx;
    uint32_t next;
} rig;

static int
bump(kumo_caller *c, void *env, const kumo_val *args, kumo_val *results)
{
    (void)c;
    rig *r = env;
    uint32_t old = (uint32_t)args[0], old_size = (uint32_t)args[1];
    uint32_t align = (uint32_t)args[2], size = (uint32_t)args[3];
    r->next = (r->next + align - 1) & ~(align - 1);
    if (old)
        memmove(kumo_memory_data(r->mem) + r->next,
                kumo_memory_data(r->mem) + old,
                old_size < size ? old_size : size);
    results[0] = r->next;
    r->next += size;
    return 0;
}

static bool
rig_init(rig *r, uint8_t enc)
{
    static const kumo_valtype p[4] = {KUMO_I32, KUMO_I32, KUMO_I32, KUMO_I32};
    kumo_functype ft = {4, 1, p, p};
    memset(r, 0, sizeof *r);
    r->next = 16;
    if (kumo_store_new(NULL, &r->s) ||
        kumo_memory_new(r->s, (kumo_limits){1, 1, true}, &r->mem) ||
        kumo_func_new_host(r->s, &ft, bump, r, NULL, &r->realloc))
        return false;
    r->opts = (kc_opts){r->mem, r->realloc, NULL, enc};
    r->ri.may_leave = true;
    r->cx = (kc_cx){.opts = &r->opts, .inst = &r->ri, .store = r->s,
                    .top = &r->top};
    return true;
}

static void
rig_fini(rig *r)
{
    kc_rinst_fini(&r->ri);
    kc_arena_free(&r->arena);
    kumo_store_free(r->s);
}

static const kumo_ctype *
mk(rig *r, kumo_cval_kind kind, uint32_t n, const kumo_ctype *const *ms,
   const char *const *labels)
{
    kumo_ctype *t = kc_alloc(&r->arena, sizeof *t);
    const kumo_ctype **m = kc_alloc(&r->arena, (n + 1) * sizeof *m);
    kc_str *l = kc_alloc(&r->arena, (n + 1) * sizeof *l);
    for (uint32_t i = 0; i < n; i++) {
        m[i] = ms ? ms[i] : NULL;
        if (labels)
            l[i] = (kc_str){labels[i], (uint32_t)strlen(labels[i])};
    }
    t->kind = kind;
    t->n = n;
    t->members = m;
    t->labels = labels ? l : NULL;
    kc_type_layout(&r->arena, t);
    return t;
}

#define P(code) kc_prim_type(code)

static void
sv(kumo_cval *v, const char *s)
{
    kumo_cval_string(v, s, strlen(s));
}

/* Build one value of every type, lower all as params, lift them back. */
static void
roundtrip(uint8_t enc, uint32_t max_flat)
{
    rig r;
    KT_REQUIRE(rig_init(&r, enc));
    const kumo_ctype *rec_m[3] = {P(KC_U8), P(KC_S16), P(KC_STRING)};
    const char *rec_l[3] = {"a", "b", "c"};
    const kumo_ctype *var_m[3] = {P(KC_F32), NULL, P(KC_U64)};
    const char *var_l[3] = {"x", "y", "z"};
    const char *fl_l[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    const kumo_ctype *tup_m[4] = {P(KC_CHAR), P(KC_BOOL), P(KC_S64),
                                  P(KC_F64)};
    const kumo_ctype *u32 = P(KC_U32), *f64 = P(KC_F64);
    const kumo_ctype *res_m[2] = {P(KC_STRING), P(KC_S8)};
    const kumo_ctype *ts[8];
    ts[0] = mk(&r, KUMO_CV_RECORD, 3, rec_m, rec_l);
    ts[1] = mk(&r, KUMO_CV_LIST, 1, &u32, NULL);
    ts[2] = mk(&r, KUMO_CV_VARIANT, 3, var_m, var_l);
    ts[3] = mk(&r, KUMO_CV_OPTION, 1, &f64, NULL);
    ts[4] = mk(&r, KUMO_CV_RESULT, 2, res_m, NULL);
    ts[5] = mk(&r, KUMO_CV_FLAGS, 10, NULL, fl_l);
    ts[6] = mk(&r, KUMO_CV_ENUM, 3, NULL, var_l);
    ts[7] = mk(&r, KUMO_CV_TUPLE, 4, tup_m, NULL);
    KT_CHECK(ts[0]->size == 12 && ts[0]->align == 4 && ts[0]->nflat == 4);
    KT_CHECK(ts[2]->size == 16 && ts[2]->align == 8 && ts[2]->nflat == 2);
    KT_CHECK(ts[2]->flat[1] == KUMO_I64);
    KT_CHECK(ts[5]->size == 2);

    kumo_cval v[8], back[8];
    memset(v, 0, sizeof v);
    memset(back, 0, sizeof back);
    kumo_cval_items(&v[0], KUMO_CV_RECORD, 3);
    v[0].u.items.items[0] = (kumo_cval){KUMO_CV_U8, {.u = 200}};
    v[0].u.items.items[1] = (kumo_cval){KUMO_CV_S16, {.s = -300}};
    sv(&v[0].u.items.items[2], "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x8d\xb0");
    kumo_cval_items(&v[1], KUMO_CV_LIST, 3);
    for (uint32_t i = 0; i < 3; i++)
        v[1].u.items.items[i] = (kumo_cval){KUMO_CV_U32, {.u = 7 * i + 1}};
    kumo_cval_case(&v[2], KUMO_CV_VARIANT, 0, true);
    *v[2].u.var.payload = (kumo_cval){KUMO_CV_F32, {.f32 = 1.5f}};
    kumo_cval_case(&v[3], KUMO_CV_OPTION, 1, true);
    *v[3].u.var.payload = (kumo_cval){KUMO_CV_F64, {.f64 = -2.25}};
    kumo_cval_case(&v[4], KUMO_CV_RESULT, 0, true);
    sv(v[4].u.var.payload, "caf\xc3\xa9");
    v[5] = (kumo_cval){KUMO_CV_FLAGS, {.flags = {0x205, 10}}};
    kumo_cval_case(&v[6], KUMO_CV_ENUM, 2, false);
    kumo_cval_items(&v[7], KUMO_CV_TUPLE, 4);
    v[7].u.items.items[0] = (kumo_cval){KUMO_CV_CHAR, {.ch = 0x1f370}};
    v[7].u.items.items[1] = (kumo_cval){KUMO_CV_BOOL, {.b = true}};
    v[7].u.items.items[2] = (kumo_cval){KUMO_CV_S64, {.s = INT64_MIN}};
    v[7].u.items.items[3] = (kumo_cval){KUMO_CV_F64, {.f64 = 1e300}};
    for (int i = 0; i < 8; i++)
        KT_CHECK(kc_check_value(ts[i], &v[i]) == 0);

    kumo_val flat[64];
    uint32_t n = 0;
    int rc = kc_lower_values(&r.cx, ts, 8, v, max_flat, false, 0, flat, &n);
    KT_CHECK(rc == 0);
    if (rc)
        fprintf(stderr, "  lower: %d %s\n", rc, r.top.msg);
    if (max_flat < 64)
        KT_CHECK(n == 1); /* spilled through realloc */
    rc = kc_lift_values(&r.cx, ts, 8, flat, n, max_flat, back);
    KT_CHECK(rc == 0);
    for (int i = 0; rc == 0 && i < 8; i++)
        KT_CHECK(kumo_cval_equal(&v[i], &back[i]));
    kumo_cvals_free(v, 8);
    kumo_cvals_free(back, 8);
    rig_fini(&r);
}

KT_TEST(canon_roundtrip_all_types)
{
    for (uint8_t enc = KC_UTF8; enc <= KC_LATIN1_UTF16; enc++) {
        roundtrip(enc, 64);               /* flat */
        roundtrip(enc, KC_MAX_FLAT_PARAMS); /* spilled */
    }
}

/* Lower a string with encoding enc, return the two flat values. */
static int
lower_str(rig *r, const char *s, uint32_t *ptr, uint32_t *units)
{
    kumo_cval v;
    sv(&v, s);
    const kumo_ctype *t = P(KC_STRING);
    kumo_val out[2];
    uint32_t n;
    int rc = kc_lower_values(&r->cx, &t, 1, &v, 16, false, 0, out, &n);
    kumo_cval_free(&v);
    *ptr = (uint32_t)out[0];
    *units = (uint32_t)out[1];
    return rc;
}

KT_TEST(canon_string_transcoding)
{
    rig r;
    uint32_t p, u;
    KT_REQUIRE(rig_init(&r, KC_UTF16));
    uint8_t *m = kumo_memory_data(r.mem);
    KT_CHECK(lower_str(&r, "a\xe2\x98\x83\xf0\x9f\x8d\xb0", &p, &u) == 0);
    KT_CHECK(u == 4 && p % 2 == 0);
    KT_CHECK(m[p] == 'a' && m[p + 1] == 0 && m[p + 2] == 0x03 &&
             m[p + 3] == 0x26 && m[p + 4] == 0x3c && m[p + 5] == 0xd8 &&
             m[p + 6] == 0x70 && m[p + 7] == 0xdf);
    rig_fini(&r);

    KT_REQUIRE(rig_init(&r, KC_LATIN1_UTF16));
    m = kumo_memory_data(r.mem);
    KT_CHECK(lower_str(&r, "h\xc3\xa9!", &p, &u) == 0);
    KT_CHECK(u == 3 && m[p] == 'h' && m[p + 1] == 0xe9 && m[p + 2] == '!');
    KT_CHECK(lower_str(&r, "\xc3\xa9\xe2\x98\x83", &p, &u) == 0);
    KT_CHECK(u == (2u | 0x80000000u) && m[p] == 0xe9 && m[p + 1] == 0 &&
             m[p + 2] == 0x03 && m[p + 3] == 0x26);
    /* lift the tagged form back to UTF-8 */
    kumo_val in[2] = {p, u};
    kumo_cval back;
    const kumo_ctype *t = P(KC_STRING);
    KT_CHECK(kc_lift_values(&r.cx, &t, 1, in, 2, 16, &back) == 0);
    KT_CHECK(back.u.str.len == 5 &&
             memcmp(back.u.str.ptr, "\xc3\xa9\xe2\x98\x83", 5) == 0);
    kumo_cval_free(&back);
    rig_fini(&r);
}

/* Lift flat values of type t and expect a trap with message msg. */
static void
expect_trap(rig *r, const kumo_ctype *t, kumo_val a, kumo_val b,
            const char *msg)
{
    kumo_val in[2] = {a, b};
    kumo_cval v;
    r->top.msg[0] = '\0';
    int rc = kc_lift_values(&r->cx, &t, 1, in, 2, 16, &v);
    KT_CHECK(rc == KUMO_ETRAP_HOST);
    KT_CHECK(strstr(r->top.msg, msg) != NULL);
    if (!strstr(r->top.msg, msg))
        fprintf(stderr, "  got \"%s\", want \"%s\"\n", r->top.msg, msg);
    if (rc == 0)
        kumo_cval_free(&v);
}

KT_TEST(canon_traps)
{
    rig r;
    KT_REQUIRE(rig_init(&r, KC_UTF8));
    uint8_t *m = kumo_memory_data(r.mem);
    m[100] = 0xff;
    m[101] = 0xc3;
    const char *l[2] = {"a", "b"};
    const kumo_ctype *u16 = P(KC_U16);
    const kumo_ctype *str = P(KC_STRING);
    expect_trap(&r, str, 100, 1, "invalid utf-8");
    expect_trap(&r, str, 101, 1, "incomplete utf-8 byte sequence");
    expect_trap(&r, str, 65535, 2, "out of bounds of memory");
    expect_trap(&r, P(KC_CHAR), 0xd800, 0, "invalid `char` bit pattern");
    expect_trap(&r, P(KC_CHAR), 0x110000, 0, "invalid `char` bit pattern");
    expect_trap(&r, mk(&r, KUMO_CV_ENUM, 2, NULL, l), 2, 0,
                "invalid variant discriminant");
    expect_trap(&r, mk(&r, KUMO_CV_LIST, 1, &u16, NULL), 3, 1,
                "unaligned pointer");
    rig_fini(&r);
    KT_REQUIRE(rig_init(&r, KC_UTF16));
    expect_trap(&r, P(KC_STRING), 3, 1, "unaligned pointer");
    rig_fini(&r);
}

KT_TEST(canon_name_match)
{
    KT_CHECK(kumo_cname_match("wasi:cli/run@0.2.6", 18, "wasi:cli/run@0.2.0",
                              18));
    KT_CHECK(kumo_cname_match("a:b/c@1.2.3", 11, "a:b/c@1.0.0", 11));
    KT_CHECK(!kumo_cname_match("a:b/c@0.2.3", 11, "a:b/c@0.3.0", 11));
    KT_CHECK(!kumo_cname_match("a:b/c@0.0.3", 11, "a:b/c@0.0.4", 11));
    KT_CHECK(!kumo_cname_match("a:b/c@1.0.0", 11, "a:b/c@2.0.0", 11));
    KT_CHECK(!kumo_cname_match("a:b/c", 5, "a:b/c@1.0.0", 11));
}

/* ---- end to end */

static uint8_t *
slurp(const char *rel, size_t *len)
{
    const char *shared = getenv("KUMO_SHARED");
    char path[1024];
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
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

typedef struct world {
    kumo_component *c;
    kumo_store *s;
    kumo_clinker *l;
    kumo_cinstance *ci;
    kumo_diag d;
    int rc;
} world;

static bool
world_open(world *w, const char *rel, bool stubs)
{
    size_t n;
    memset(w, 0, sizeof *w);
    uint8_t *b = slurp(rel, &n);
    if (!b)
        return false;
    w->rc = kumo_component_new(b, n, &w->c, &w->d);
    free(b);
    if (w->rc || kumo_store_new(NULL, &w->s) || kumo_clinker_new(&w->l))
        return false;
    kumo_clinker_allow_stubs(w->l, stubs);
    w->rc = kumo_component_instantiate(w->s, w->c, w->l, &w->ci, &w->d);
    return true;
}

static void
world_close(world *w)
{
    kumo_cinstance_free(w->ci);
    kumo_store_free(w->s);
    kumo_clinker_free(w->l);
    kumo_component_free(w->c);
}

#define SUITE "testsuite/component-model/"

/* Instantiate rel, call name with args; check the result (or the trap
 * message when want_trap). */
static void
call_check(const char *rel, const char *name, const kumo_cval *args,
           size_t nargs, const kumo_cval *want, const char *want_trap)
{
    world w;
    KT_REQUIRE(world_open(&w, rel, false));
    KT_CHECK(w.rc == 0);
    if (w.rc) {
        fprintf(stderr, "  %s: %s\n", rel, w.d.message);
        world_close(&w);
        return;
    }
    kumo_cval res = {0};
    kumo_cfunc *fn = NULL;
    KT_CHECK(kumo_cinstance_func(w.ci, name, &fn) == 0);
    size_t nres = fn && kumo_ctype_result(kumo_cfunc_type(fn)) ? 1 : 0;
    int rc = fn ? kumo_cfunc_call(fn, args, nargs, &res, nres) : KUMO_EINVAL;
    if (want_trap) {
        KT_CHECK(rc == KUMO_ETRAP_HOST || KUMO_IS_TRAP(rc));
        const char *msg = kumo_cinstance_trap_message(w.ci);
        KT_CHECK(strstr(msg, want_trap) != NULL);
        if (!strstr(msg, want_trap))
            fprintf(stderr, "  %s %s: trap \"%s\"\n", rel, name, msg);
    } else {
        KT_CHECK(rc == 0);
        if (rc)
            fprintf(stderr, "  %s %s: %d %s\n", rel, name, rc,
                    kumo_cinstance_trap_message(w.ci));
        if (want && rc == 0)
            KT_CHECK(kumo_cval_equal(&res, want));
    }
    if (nres && rc == 0)
        kumo_cval_free(&res);
    world_close(&w);
}

static kumo_cval
u32v(uint32_t x)
{
    return (kumo_cval){KUMO_CV_U32, {.u = x}};
}

KT_TEST(canon_suite_strings_numerics)
{
    kumo_cval s;
    sv(&s, "\xe2\x98\x83\xe2\x98\xba\xef\xb8\x8f\xc3\xb6\xe3\x83\x84");
    call_check(SUITE "values/strings/strings.0.wasm", "f2", NULL, 0, &s, NULL);
    kumo_cval_free(&s);
    sv(&s, "ok");
    call_check(SUITE "values/strings/strings.6.wasm", "f", NULL, 0, &s, NULL);
    kumo_cval_free(&s);
    call_check(SUITE "values/strings/strings.3.wasm", "f", NULL, 0, NULL,
               "string pointer/length out of bounds of memory");
    call_check(SUITE "values/strings/strings.4.wasm", "f", NULL, 0, NULL,
               "invalid utf-8");

    kumo_cval a = u32v(0xffffffff), want = {KUMO_CV_S8, {.s = -1}};
    call_check(SUITE "values/numerics/numerics.1.wasm", "i-to-s8", &a, 1,
               &want, NULL);
    a = u32v(2), want = (kumo_cval){KUMO_CV_BOOL, {.b = true}};
    call_check(SUITE "values/numerics/numerics.1.wasm", "i-to-b", &a, 1,
               &want, NULL);
    want = (kumo_cval){KUMO_CV_CHAR, {.ch = 0x1f370}};
    call_check(SUITE "values/numerics/numerics.3.wasm", "roundtrip", &want, 1,
               &want, NULL);
    call_check(SUITE "values/numerics/numerics.4.wasm", "run-d800", NULL, 0,
               NULL, "invalid `char` bit pattern");
    want = (kumo_cval){KUMO_CV_FLAGS, {.flags = {0x111, 9}}};
    call_check(SUITE "values/numerics/numerics.6.wasm", "junk-to-f9", NULL, 0,
               &want, NULL);
    want = u32v(45);
    call_check(SUITE "values/numerics/numerics.5.wasm", "run", NULL, 0, &want,
               NULL);
}

KT_TEST(canon_suite_concat)
{
    const char *f = SUITE "values/concat/concat.0.wasm";
    kumo_cval arg, want;
    kumo_cval_items(&arg, KUMO_CV_LIST, 3);
    sv(&arg.u.items.items[0], "foo");
    sv(&arg.u.items.items[1], "bar");
    sv(&arg.u.items.items[2], "baz");
    sv(&want, "foobarbaz");
    call_check(f, "list", &arg, 1, &want, NULL);
    kumo_cval_free(&arg);
    kumo_cval_free(&want);

    kumo_cval_items(&arg, KUMO_CV_TUPLE, 3);
    sv(&arg.u.items.items[0], "x=");
    arg.u.items.items[1] = u32v(42);
    arg.u.items.items[2] = (kumo_cval){KUMO_CV_BOOL, {.b = true}};
    sv(&want, "x=42true");
    call_check(f, "tuple", &arg, 1, &want, NULL);
    kumo_cval_free(&arg);
    kumo_cval_free(&want);

    kumo_cval_case(&arg, KUMO_CV_VARIANT, 1, true);
    *arg.u.var.payload = u32v(99);
    sv(&want, "99");
    call_check(f, "variant", &arg, 1, &want, NULL);
    kumo_cval_free(&arg);
    kumo_cval_free(&want);

    kumo_cval p[11] = {
        {KUMO_CV_BOOL, {.b = true}}, {KUMO_CV_U8, {.u = 7}},
        {KUMO_CV_S8, {.s = -8}},     {KUMO_CV_U16, {.u = 9}},
        {KUMO_CV_S16, {.s = -10}},   {KUMO_CV_U32, {.u = 11}},
        {KUMO_CV_S32, {.s = -12}},   {KUMO_CV_U64, {.u = 13}},
        {KUMO_CV_S64, {.s = -14}},   {KUMO_CV_CHAR, {.ch = 'Z'}},
    };
    sv(&p[10], "!");
    sv(&want, "true7-89-1011-1213-14Z!");
    call_check(f, "prims", p, 11, &want, NULL);
    kumo_cval_free(&p[10]);
    kumo_cval_free(&want);
}

KT_TEST(canon_suite_cross_component)
{
    static const char *const tc[] = {"0", "1", "2", "3", "4"};
    char path[128];
    for (uint32_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, SUITE "values/transcode/transcode.%s.wasm",
                 tc[i]);
        kumo_cval want = u32v(42 + i);
        call_check(path, "run", NULL, 0, &want, NULL);
    }
    kumo_cval want = u32v(42);
    call_check(SUITE "values/realloc/realloc.0.wasm", "run", NULL, 0, &want,
               NULL);
    call_check(SUITE "values/realloc/realloc.1.wasm", "run", NULL, 0, NULL,
               "list content out-of-bounds");
    call_check(SUITE "values/alignment/alignment.0.wasm", "run", NULL, 0, NULL,
               "unaligned pointer");
    call_check(SUITE "values/alignment/alignment.6.wasm", "run-len-oob", NULL,
               0, NULL, "string content out-of-bounds");
    call_check(SUITE "values/variants/variants.0.wasm", "bad-enum-result",
               NULL, 0, NULL, "invalid variant discriminant");
    want = u32v(42);
    call_check(SUITE "values/post-return/post-return.4.wasm", "run", NULL, 0,
               &want, NULL);
    kumo_cval list;
    kumo_cval_items(&list, KUMO_CV_LIST, 2);
    list.u.items.items[0] = u32v(1);
    list.u.items.items[1] = u32v(2);
    call_check(SUITE "values/realloc/realloc.3.wasm", "f", &list, 1, NULL,
               "realloc return: beyond end of memory");
    call_check(SUITE "values/realloc/realloc.4.wasm", "f", &list, 1, NULL,
               "realloc return: result not aligned");
    kumo_cval_free(&list);
}

KT_TEST(canon_suite_resources)
{
    kumo_cval want = u32v(42);
    call_check(SUITE "resources/borrows/borrows.0.wasm", "run", NULL, 0, &want,
               NULL);
    call_check(SUITE "resources/borrows/borrows.0.wasm", "lend-trap", NULL, 0,
               NULL, "cannot remove owned resource while borrowed");
    call_check(SUITE "resources/handle-table/handle-table.0.wasm", "run", NULL,
               0, &want, NULL);
    call_check(SUITE "resources/multiple-resources/multiple-resources.0.wasm",
               "run", NULL, 0, &want, NULL);
    const char *ht = SUITE "resources/handle-table/handle-table.2.wasm";
    call_check(ht, "double-drop", NULL, 0, NULL, "unknown handle index 1");
    call_check(ht, "drop-max", NULL, 0, NULL,
               "unknown handle index 4294967295");
    call_check(SUITE "resources/handle-table/handle-table.5.wasm",
               "return-R1-as-R2", NULL, 0, NULL,
               "handle index 1 used with the wrong type");
    want = u32v(30);
    call_check(SUITE "linking/shared-everything-dynamic-linking/"
                     "shared-everything-dynamic-linking.1.wasm",
               "bar", NULL, 0, &want, NULL);
}

KT_TEST(canon_suite_async_builtin_rejected)
{
    world w;
    KT_REQUIRE(world_open(&w, SUITE "values/post-return/post-return.0.wasm",
                          false));
    KT_CHECK(w.rc == KUMO_EUNSUPPORTED);
    KT_CHECK(strstr(w.d.message, "built-in `") != NULL);
    world_close(&w);
}

/* ---- real components against stub hosts */

static int
get_env(kumo_ccall *call, void *env, const kumo_ctype *type,
        const kumo_cval *args, size_t nargs, kumo_cval *results,
        size_t nresults)
{
    (void)call, (void)env, (void)args, (void)nargs, (void)nresults;
    *(int *)env += 1;
    KT_CHECK(kumo_ctype_kind(kumo_ctype_result(type)) == KUMO_CV_LIST);
    return kumo_cval_items(&results[0], KUMO_CV_LIST, 0);
}

KT_TEST(canon_commands_instantiate)
{
    static const char *const ok[] = {
        "c-hello.command.component.wasm", "c-grow.command.component.wasm",
        "c-http.component.wasm",          "rust-hello.command.component.wasm",
        "js-hello-direct.component.wasm", "js-hello-fetch-event.component.wasm",
    };
    char path[128];
    world w;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        snprintf(path, sizeof path, "components/%s", ok[i]);
        KT_REQUIRE(world_open(&w, path, true));
        KT_CHECK(w.rc == 0);
        if (w.rc)
            fprintf(stderr, "  %s: %s\n", ok[i], w.d.message);
        world_close(&w);
    }
    /* async built-ins are refused by name */
    KT_REQUIRE(world_open(&w, "components/js-quickjs-simple.component.wasm",
                          true));
    KT_CHECK(w.rc == KUMO_EUNSUPPORTED);
    KT_CHECK(strstr(w.d.message, "task.cancel") != NULL);
    world_close(&w);
    /* without stubs the first missing import is named */
    KT_REQUIRE(world_open(&w, "components/c-hello.command.component.wasm",
                          false));
    KT_CHECK(w.rc == KUMO_EUNLINKABLE);
    KT_CHECK(strstr(w.d.message, "missing import") != NULL);
    world_close(&w);
}

KT_TEST(canon_command_calls_host)
{
    world w;
    int calls = 0;
    size_t n;
    memset(&w, 0, sizeof w);
    uint8_t *b = slurp("components/rust-hello.command.component.wasm", &n);
    KT_REQUIRE(b != NULL);
    KT_REQUIRE(kumo_component_new(b, n, &w.c, &w.d) == 0);
    free(b);
    KT_REQUIRE(kumo_store_new(NULL, &w.s) == 0);
    KT_REQUIRE(kumo_clinker_new(&w.l) == 0);
    kumo_clinker_allow_stubs(w.l, true);
    /* defined for 0.2.0; the component imports 0.2.x */
    KT_CHECK(kumo_clinker_define_func(w.l, "wasi:cli/environment@0.2.0",
                                      "get-environment", get_env, &calls,
                                      NULL) == 0);
    KT_REQUIRE(kumo_component_instantiate(w.s, w.c, w.l, &w.ci, &w.d) == 0);
    kumo_cval res;
    kumo_cfunc *f;
    KT_REQUIRE(kumo_cinstance_func(w.ci, "wasi:cli/run@0.2.0#run", &f) == 0);
    KT_CHECK(kumo_ctype_count(kumo_cfunc_type(f)) == 0);
    int rc = kumo_cfunc_call(f, NULL, 0, &res, 1);
    KT_CHECK(rc == KUMO_ETRAP_HOST);
    KT_CHECK(calls == 1);
    KT_CHECK(strstr(kumo_cinstance_trap_message(w.ci),
                    "unimplemented host function") != NULL);
    KT_CHECK(strstr(kumo_cinstance_trap_message(w.ci), "get-environment") ==
             NULL);
    world_close(&w);
}
