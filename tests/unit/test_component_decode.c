/* test_component_decode.c - the component decoder and WIT printer on the
 * real components of $KUMO_SHARED/components (default ../shared), on
 * hand-made malformed binaries, and on every truncation of a real
 * component. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/component/component.h"
#include "unit.h"

static uint8_t *
read_component(const char *file, size_t *len)
{
    const char *shared = getenv("KUMO_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/components/%s",
             shared ? shared : "../shared", file);
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

static kumo_component *
load(const char *file)
{
    size_t len;
    uint8_t *buf = read_component(file, &len);
    if (!buf)
        return NULL;
    kumo_component *c = NULL;
    kumo_diag d = {0};
    int rc = kumo_component_new(buf, len, &c, &d);
    if (rc)
        fprintf(stderr, "  %s: %d at %zu: %s\n", file, rc, d.offset, d.message);
    free(buf);
    return c;
}

#define MAXN 24

typedef struct expect {
    const char *file;
    const char *exports[4];
    const char *imports[MAXN];
} expect;

#define P(v) "wasi:" v "@0.2.12"
#define H(v) "wasi:http/" v "@0.2.10"
#define STDIO P("cli/stdin"), P("cli/stdout"), P("cli/stderr")
#define TERM                                                                   \
    P("cli/terminal-input"), P("cli/terminal-output"),                         \
        P("cli/terminal-stdin"), P("cli/terminal-stdout"),                     \
        P("cli/terminal-stderr")
#define FS P("filesystem/types"), P("filesystem/preopens")

static const expect expected[] = {
    {"c-grow.command.component.wasm",
     {P("cli/run")},
     {P("io/error"), P("io/streams"), STDIO, TERM, P("clocks/wall-clock"), FS}},
    {"c-hello.command.component.wasm",
     {P("cli/run")},
     {P("cli/environment"), P("cli/exit"), P("io/error"), P("io/streams"),
      STDIO, TERM, P("clocks/monotonic-clock"), P("clocks/wall-clock"), FS,
      P("random/random")}},
    {"c-http.component.wasm",
     {H("incoming-handler")},
     {P("io/error"), P("io/streams"), H("types"), STDIO, P("clocks/wall-clock"),
      FS}},
    {"js-hello-direct.component.wasm",
     {H("incoming-handler")},
     {P("io/poll"), P("clocks/monotonic-clock"), P("io/error"), P("io/streams"),
      H("types"), H("outgoing-handler"), STDIO, TERM, P("clocks/wall-clock"),
      FS, P("random/random")}},
    {"js-hello-fetch-event.component.wasm",
     {H("incoming-handler")},
     {P("io/poll"), P("clocks/monotonic-clock"), P("io/error"), P("io/streams"),
      H("types"), H("outgoing-handler"), STDIO, TERM, P("clocks/wall-clock"),
      FS, P("random/random")}},
    {"js-quickjs-simple.component.wasm",
     {"init", "greet", "add"},
     {P("cli/environment"), P("cli/exit"), P("io/error"), P("io/poll"),
      P("io/streams"), STDIO, TERM, P("clocks/monotonic-clock"),
      P("clocks/wall-clock"), FS, P("random/insecure-seed")}},
    {"rust-hello.command.component.wasm",
     {P("cli/run")},
     {P("cli/environment"), P("cli/exit"), P("io/error"), P("io/streams"),
      STDIO, P("clocks/monotonic-clock"), P("clocks/wall-clock"), FS}},
};

static bool
item_is(const kumo_component_item *it, const char *name)
{
    return it->name_len == strlen(name) &&
           memcmp(it->name, name, it->name_len) == 0;
}

/* Every core module range of every nested component starts with the core
 * preamble. */
static unsigned
check_modules(const kumo_component *c, const kc_body *b)
{
    unsigned n = 0;
    static const uint8_t core[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    for (uint32_t i = 0; i < b->nmodules; i++) {
        KT_CHECK(b->modules[i].offset + b->modules[i].len <= c->len);
        KT_CHECK(b->modules[i].len >= 8 &&
                 memcmp(c->bytes + b->modules[i].offset, core, 8) == 0);
        n++;
    }
    for (uint32_t i = 0; i < b->ncomponents; i++)
        n += check_modules(c, b->components[i]);
    return n;
}

KT_TEST(component_real_imports_exports)
{
    for (size_t f = 0; f < sizeof expected / sizeof *expected; f++) {
        const expect *e = &expected[f];
        kumo_component *c = load(e->file);
        KT_CHECK(c != NULL);
        if (!c)
            continue;
        uint32_t ni = 0, ne = 0;
        while (ni < MAXN && e->imports[ni])
            ni++;
        while (ne < 4 && e->exports[ne])
            ne++;
        KT_CHECK(kumo_component_import_count(c) == ni);
        KT_CHECK(kumo_component_export_count(c) == ne);
        kumo_component_item it;
        for (uint32_t i = 0; i < ni && i < kumo_component_import_count(c);
             i++) {
            KT_CHECK(kumo_component_import(c, i, &it) == 0);
            KT_CHECK(item_is(&it, e->imports[i]));
            KT_CHECK(it.sort == KUMO_COMPONENT_INSTANCE);
        }
        for (uint32_t i = 0; i < ne && i < kumo_component_export_count(c);
             i++) {
            KT_CHECK(kumo_component_export(c, i, &it) == 0);
            KT_CHECK(item_is(&it, e->exports[i]));
            KT_CHECK(it.sort ==
                     (ne == 1 ? KUMO_COMPONENT_INSTANCE : KUMO_COMPONENT_FUNC));
        }
        KT_CHECK(kumo_component_import(c, ni, &it) == KUMO_EINVAL);
        KT_CHECK(check_modules(c, c->root) >= 1);
        kumo_component_free(c);
    }
}

static char *
wit_of(const kumo_component *c)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    int rc = kumo_component_print_wit(c, f);
    fclose(f);
    if (rc) {
        free(text);
        return NULL;
    }
    return text;
}

KT_TEST(component_wit_command)
{
    kumo_component *c = load("rust-hello.command.component.wasm");
    KT_REQUIRE(c != NULL);
    char *w = wit_of(c);
    KT_CHECK(w && strcmp(w, "package root:component;\n"
                            "\n"
                            "world root {\n"
                            "  import wasi:cli/environment@0.2.12;\n"
                            "  import wasi:cli/exit@0.2.12;\n"
                            "  import wasi:io/error@0.2.12;\n"
                            "  import wasi:io/streams@0.2.12;\n"
                            "  import wasi:cli/stdin@0.2.12;\n"
                            "  import wasi:cli/stdout@0.2.12;\n"
                            "  import wasi:cli/stderr@0.2.12;\n"
                            "  import wasi:clocks/monotonic-clock@0.2.12;\n"
                            "  import wasi:clocks/wall-clock@0.2.12;\n"
                            "  import wasi:filesystem/types@0.2.12;\n"
                            "  import wasi:filesystem/preopens@0.2.12;\n"
                            "\n"
                            "  export wasi:cli/run@0.2.12;\n"
                            "}\n") == 0);
    free(w);
    kumo_component_free(c);
}

KT_TEST(component_wit_functions)
{
    kumo_component *c = load("js-quickjs-simple.component.wasm");
    KT_REQUIRE(c != NULL);
    char *w = wit_of(c);
    KT_REQUIRE(w != NULL);
    KT_CHECK(strstr(w, "\n  import wasi:random/insecure-seed@0.2.12;\n\n"
                       "  export init: func(shim: string, script: string, "
                       "entry-path: option<string>, disable-gc: bool) -> "
                       "result<_, string>;\n"
                       "  export greet: func(name: string) -> string;\n"
                       "  export add: func(a: s32, b: s32) -> s32;\n}\n"));
    free(w);
    /* The nested component uses the async built-ins; they decode into
     * named canon entries. */
    const kc_body *inner = c->root->ncomponents ? c->root->components[0] : NULL;
    KT_REQUIRE(inner != NULL);
    bool seen_context_get = false, seen_waitable_join = false;
    for (uint32_t i = 0; i < inner->ncanons; i++) {
        const char *n = kc_canon_name(inner->canons[i].op);
        seen_context_get |= strcmp(n, "context.get") == 0;
        seen_waitable_join |= strcmp(n, "waitable.join") == 0;
    }
    KT_CHECK(seen_context_get && seen_waitable_join);
    kumo_component_free(c);
}

/* ---- malformed input */

static int
decode_bytes(const uint8_t *b, size_t n, kumo_diag *d)
{
    kumo_component *c = NULL;
    memset(d, 0, sizeof *d);
    int rc = kumo_component_new(b, n, &c, d);
    kumo_component_free(c);
    return rc;
}

#define PRE 0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00

static void
expect_error(const uint8_t *b, size_t n, int code, const char *msg)
{
    kumo_diag d;
    int rc = decode_bytes(b, n, &d);
    KT_CHECK(rc == code);
    KT_CHECK(d.code == code);
    if (!strstr(d.message, msg)) {
        fprintf(stderr, "  expected \"%s\", got \"%s\"\n", msg, d.message);
        KT_CHECK(strstr(d.message, msg) != NULL);
    }
}

KT_TEST(component_malformed)
{
    static const uint8_t bad_magic[] = {0x00, 0x61, 0x73, 0x6e, 0x0d, 0, 1, 0};
    expect_error(bad_magic, sizeof bad_magic, KUMO_EMALFORMED, "magic");
    static const uint8_t core[] = {0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0};
    expect_error(core, sizeof core, KUMO_EMALFORMED, "core module");
    static const uint8_t version[] = {0x00, 0x61, 0x73, 0x6d, 0x0c, 0, 1, 0};
    expect_error(version, sizeof version, KUMO_EMALFORMED, "version");
    static const uint8_t sec_id[] = {PRE, 13, 0};
    expect_error(sec_id, sizeof sec_id, KUMO_EMALFORMED, "section id");
    static const uint8_t sec_size[] = {PRE, 7, 5, 1, 0x7f};
    expect_error(sec_size, sizeof sec_size, KUMO_EMALFORMED, "section size");
    /* a type section with one bool type and a stray byte */
    static const uint8_t mismatch[] = {PRE, 7, 3, 1, 0x7f, 0x7f};
    expect_error(mismatch, sizeof mismatch, KUMO_EMALFORMED, "mismatch");
    static const uint8_t bad_type[] = {PRE, 7, 2, 1, 0x30};
    expect_error(bad_type, sizeof bad_type, KUMO_EMALFORMED, "for component defined type");
    static const uint8_t big_vec[] = {PRE,  7,    6,    0xff, 0xff,
                                      0xff, 0xff, 0x0f, 0x7f};
    expect_error(big_vec, sizeof big_vec, KUMO_EMALFORMED, "too large");
    /* list of a non-primitive negative type code */
    static const uint8_t bad_val[] = {PRE, 7, 3, 1, 0x70, 0x40};
    expect_error(bad_val, sizeof bad_val, KUMO_EMALFORMED,
                 "invalid value type");
    /* import with name prefix 0x03 */
    static const uint8_t bad_name[] = {PRE, 10, 5, 1, 0x03, 1, 'a', 0x01};
    expect_error(bad_name, sizeof bad_name, KUMO_EMALFORMED, "for component name");
    /* import with a bad UTF-8 name */
    static const uint8_t bad_utf8[] = {PRE, 10,   6,    1,   0x00,
                                       1,   0xff, 0x01, 0x00};
    expect_error(bad_utf8, sizeof bad_utf8, KUMO_EMALFORMED, "UTF-8");
    /* alias with a bad sort */
    static const uint8_t bad_sort[] = {PRE, 6, 5, 1, 0x09, 0x00, 0x00, 0x00};
    expect_error(bad_sort, sizeof bad_sort, KUMO_EMALFORMED, "for component external kind");
    /* outer alias of a func */
    static const uint8_t bad_outer[] = {PRE, 6, 5, 1, 0x01, 0x02, 0x00, 0x00};
    expect_error(bad_outer, sizeof bad_outer, KUMO_EMALFORMED,
                 "for component outer alias kind");
    /* canon with an unknown opcode */
    static const uint8_t bad_canon[] = {PRE, 8, 2, 1, 0x3f};
    expect_error(bad_canon, sizeof bad_canon, KUMO_EMALFORMED,
                 "canonical function");
    /* canon lift with a bad option */
    static const uint8_t bad_opt[] = {PRE,  8,    7, 1,    0x00,
                                      0x00, 0x00, 1, 0x09, 0x00};
    expect_error(bad_opt, sizeof bad_opt, KUMO_EMALFORMED, "option");
    /* GC core type */
    static const uint8_t gc[] = {PRE, 3, 3, 1, 0x4e, 0x00};
    expect_error(gc, sizeof gc, KUMO_EUNSUPPORTED, "GC");
    /* nested component with a core preamble */
    static const uint8_t nested[] = {PRE,  4, 8, 0x00, 0x61, 0x73,
                                     0x6d, 1, 0, 0,    0};
    expect_error(nested, sizeof nested, KUMO_EMALFORMED, "version header for a component");
    /* truncated LEB in the middle */
    static const uint8_t trunc[] = {PRE, 7, 2, 1, 0x69};
    expect_error(trunc, sizeof trunc, KUMO_EMALFORMED, "unexpected end");
}

KT_TEST(component_nesting_limit)
{
    /* 100 nested empty components: sizes computed inside out. */
    enum { DEPTH = 100 };
    static uint8_t buf[DEPTH * 16 + 16];
    size_t len = 8;
    static const uint8_t pre[8] = {PRE};
    memcpy(buf + sizeof buf - 8, pre, 8);
    size_t start = sizeof buf - 8;
    for (int i = 0; i < DEPTH; i++) {
        uint8_t hdr[16];
        size_t h = 0;
        for (size_t k = 0; k < 8; k++)
            hdr[h++] = pre[k];
        hdr[h++] = 4;
        size_t v = len;
        do {
            uint8_t b = v & 0x7f;
            v >>= 7;
            hdr[h++] = (uint8_t)(b | (v ? 0x80 : 0));
        } while (v);
        start -= h;
        memcpy(buf + start, hdr, h);
        len += h;
    }
    kumo_diag d;
    int rc = decode_bytes(buf + start, len, &d);
    KT_CHECK(rc == KUMO_ELIMIT);
    KT_CHECK(strstr(d.message, "nested") != NULL);
}

KT_TEST(component_value_and_start_sections)
{
    /* type: record {a: u8}; value section: one u8 value; start: func 0
     * with no args and one result; import func and legacy/new names. */
    static const uint8_t ok[] = {
        PRE,
        /* type: [0] record {a: u8}, [1] func(x: 0) -> u8 */
        7,
        13,
        2,
        0x72,
        1,
        1,
        'a',
        0x7d,
        0x40,
        1,
        1,
        'x',
        0x00,
        0x00,
        0x7d,
        /* import (0x02 form with a version-suffix attribute) func type 1 */
        10,
        15,
        1,
        0x02,
        5,
        'f',
        '@',
        '1',
        '.',
        '2',
        1,
        0x01,
        2,
        '.',
        '3',
        0x01,
        0x01,
        /* value section: u8 value 7 */
        12,
        4,
        1,
        0x7d,
        1,
        7,
        /* start: func 0, no args, 1 result */
        9,
        3,
        0,
        0,
        1,
        /* export "v" value 1 (the start result) and "f" func 0 */
        11,
        13,
        2,
        0x00,
        1,
        'v',
        0x02,
        1,
        0x00,
        0x00,
        1,
        'f',
        0x01,
        0x00,
        0x00,
    };
    kumo_component *c = NULL;
    kumo_diag d = {0};
    /* Without its last byte the export section is short. */
    int rc = kumo_component_new(ok, sizeof ok - 1, &c, &d);
    KT_CHECK(rc == KUMO_EMALFORMED && strstr(d.message, "section size"));
    rc = kumo_component_new(ok, sizeof ok, &c, &d);
    if (rc)
        fprintf(stderr, "  %d at %zu: %s\n", rc, d.offset, d.message);
    KT_REQUIRE(rc == 0);
    const kc_body *r = c->root;
    KT_CHECK(r->spaces[KC_TYPE].n == 2);
    KT_CHECK(r->spaces[KC_VALUE].n == 3); /* value, start, export */
    KT_CHECK(r->spaces[KC_FUNC].n == 2);  /* import + export */
    KT_CHECK(r->nstarts == 1 && r->starts[0].nresults == 1);
    kumo_component_item it;
    KT_CHECK(kumo_component_import(c, 0, &it) == 0);
    KT_CHECK(it.version_len == 2 && memcmp(it.version, ".3", 2) == 0);
    char *w = wit_of(c);
    KT_CHECK(w && strstr(w, "  import f@1.2.3: func(x: record { a: u8 }) "
                            "-> u8;\n") != NULL);
    KT_CHECK(w && strstr(w, "  export f: func(x: record { a: u8 }) -> u8;\n"));
    free(w);
    kumo_component_free(c);
}

/* The component with its core module sections emptied: all of its
 * component-level structure in a few KB. */
static uint8_t *
strip_modules(const uint8_t *b, size_t n, size_t *out_len, unsigned *nsec)
{
    uint8_t *o = malloc(n);
    if (!o)
        return NULL;
    *nsec = 0;
    memcpy(o, b, 8);
    size_t p = 8, q = 8;
    while (p < n) {
        uint8_t id = b[p++];
        size_t size = 0, start = p;
        unsigned shift = 0;
        while (p < n && (b[p] & 0x80))
            size |= (size_t)(b[p++] & 0x7f) << shift, shift += 7;
        size |= (size_t)(b[p++] & 0x7f) << shift;
        if (id == 1) {
            o[q++] = 1;
            o[q++] = 0;
        } else {
            o[q++] = id;
            memcpy(o + q, b + start, (p - start) + size);
            q += (p - start) + size;
        }
        p += size;
        ++*nsec;
    }
    *out_len = q;
    return o;
}

KT_TEST(component_truncation)
{
    size_t len, slen;
    uint8_t *buf = read_component("rust-hello.command.component.wasm", &len);
    KT_REQUIRE(buf != NULL);
    unsigned nsec;
    uint8_t *s = strip_modules(buf, len, &slen, &nsec);
    KT_REQUIRE(s != NULL);
    kumo_diag d;
    KT_CHECK(decode_bytes(s, slen, &d) == 0);
    /* Prefixes ending on a section boundary are valid components. */
    unsigned ok = 0;
    for (size_t n = 0; n < slen; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        KT_REQUIRE(copy != NULL);
        memcpy(copy, s, n);
        int rc = decode_bytes(copy, n, &d);
        ok += rc == 0;
        KT_CHECK(rc == 0 || d.message[0] != 0);
        KT_CHECK(rc == 0 || rc == KUMO_EMALFORMED);
        free(copy);
    }
    KT_CHECK(ok == nsec); /* the preamble and every section end but the last */
    /* The whole file, at a stride (module bytes are not decoded). */
    for (size_t n = 0; n < len; n += 509) {
        uint8_t *copy = malloc(n ? n : 1);
        KT_REQUIRE(copy != NULL);
        memcpy(copy, buf, n);
        int rc = decode_bytes(copy, n, &d);
        KT_CHECK(rc == 0 || rc == KUMO_EMALFORMED);
        free(copy);
    }
    free(s);
    free(buf);
}

/* ---- allocation failure: every allocation of decoding a real component
 * fails in turn; each attempt returns KUMO_ENOMEM and frees everything. */

static struct {
    long countdown; /* fail when it reaches 0; < 0 never */
    long live;
} cfa;

static void *
component_failing_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        if (ptr)
            cfa.live--;
        free(ptr);
        return NULL;
    }
    if (cfa.countdown >= 0 && cfa.countdown-- == 0)
        return NULL;
    void *p = realloc(ptr, new_size);
    if (p && !ptr)
        cfa.live++;
    return p;
}

KT_TEST(component_alloc_fail)
{
    size_t len;
    uint8_t *buf = read_component("js-quickjs-simple.component.wasm", &len);
    KT_REQUIRE(buf != NULL);
    kumo_set_allocator(component_failing_alloc, NULL);
    long n;
    for (n = 0; n < 1000; n++) {
        cfa.countdown = n;
        cfa.live = 0;
        kumo_component *c = NULL;
        kumo_diag d;
        int rc = kumo_component_new(buf, len, &c, &d);
        if (rc == 0) {
            kumo_component_free(c);
            KT_CHECK(cfa.live == 0);
            break;
        }
        KT_CHECK(rc == KUMO_ENOMEM);
        KT_CHECK(cfa.live == 0);
    }
    kumo_set_allocator(NULL, NULL);
    KT_CHECK(n > 2 && n < 1000);
    free(buf);
}
