/* test_decode.c - the binary decoder on hand-written binaries: LEB128
 * edges, every section, section order, element encodings, the name
 * section, and the spec's messages for malformed input. */
#include <string.h>

#include "../../src/engine/module.h"
#include "unit.h"

typedef struct wbuf {
    uint8_t b[1024];
    size_t n;
} wbuf;

static void
put(wbuf *w, const char *s, size_t n)
{
    memcpy(w->b + w->n, s, n);
    w->n += n;
}

#define PUT(w, lit) put(w, lit, sizeof(lit) - 1)

/* A section with a one-byte size (contents < 128 bytes). */
static void
section(wbuf *w, uint8_t id, const char *s, size_t n)
{
    w->b[w->n++] = id;
    w->b[w->n++] = (uint8_t)n;
    put(w, s, n);
}

#define SEC(w, id, lit) section(w, id, lit, sizeof(lit) - 1)

static void
header(wbuf *w)
{
    w->n = 0;
    PUT(w, "\0asm\1\0\0\0");
}

/* Decode w into a fresh module (*out, to free with ke_module_free). */
static int
decode(const wbuf *w, kumo_module **out, kumo_diag *diag)
{
    kumo_module *m = kb_calloc(1, sizeof *m);
    m->bytes = kb_malloc(w->n);
    memcpy(m->bytes, w->b, w->n);
    m->size = w->n;
    memset(diag, 0, sizeof *diag);
    *out = m;
    return ke_decode(m, diag);
}

/* Decode, expect failure with message msg; free. */
static bool
fails_with(const wbuf *w, const char *msg)
{
    kumo_module *m;
    kumo_diag d;
    int rc = decode(w, &m, &d);
    ke_module_free(m);
    if (rc == KUMO_EMALFORMED && strcmp(d.message, msg) == 0)
        return true;
    fprintf(stderr, "  want '%s', got rc %d '%s'\n", msg, rc, d.message);
    return false;
}

static bool
decodes(const wbuf *w)
{
    kumo_module *m;
    kumo_diag d;
    int rc = decode(w, &m, &d);
    ke_module_free(m);
    if (rc)
        fprintf(stderr, "  unexpected error '%s' at %zu\n", d.message,
                d.offset);
    return rc == 0;
}

KT_TEST(decode_header)
{
    wbuf w = {.n = 0};
    KT_CHECK(fails_with(&w, "unexpected end"));
    PUT(&w, "\0as");
    KT_CHECK(fails_with(&w, "unexpected end"));
    w.n = 0;
    PUT(&w, "asm\0\1\0\0\0");
    KT_CHECK(fails_with(&w, "magic header not detected"));
    w.n = 0;
    PUT(&w, "\0asm\2\0\0\0");
    KT_CHECK(fails_with(&w, "unknown binary version"));

    kumo_module *m;
    kumo_diag d;
    header(&w);
    KT_REQUIRE(decode(&w, &m, &d) == 0);
    KT_CHECK(m->start == KE_NONE && m->nfuncs == 0 && m->ntypes == 0);
    ke_module_free(m);
}

KT_TEST(decode_leb128_edges)
{
    kumo_module *m;
    kumo_diag d;
    wbuf w;
    /* Memory min 2 as a non-minimal 5-byte LEB, max 2^32-1. */
    header(&w);
    SEC(&w, 5, "\1\1\x82\x80\x80\x80\0\xff\xff\xff\xff\x0f");
    KT_REQUIRE(decode(&w, &m, &d) == 0);
    KT_CHECK(m->nmems == 1 && m->mems[0].limits.min == 2);
    KT_CHECK(m->mems[0].limits.has_max);
    KT_CHECK(m->mems[0].limits.max == UINT32_MAX);
    ke_module_free(m);
    /* Six bytes is too long; unused bits set is too large. */
    header(&w);
    SEC(&w, 5, "\1\0\x82\x80\x80\x80\x80\0");
    KT_CHECK(fails_with(&w, "integer representation too long"));
    header(&w);
    SEC(&w, 5, "\1\0\x82\x80\x80\x80\x70");
    KT_CHECK(fails_with(&w, "integer too large"));
    /* Limits flags are a 1-bit LEB. */
    header(&w);
    SEC(&w, 5, "\1\2\0");
    KT_CHECK(fails_with(&w, "integer too large"));
    header(&w);
    SEC(&w, 5, "\1\x81\0\0");
    KT_CHECK(fails_with(&w, "integer representation too long"));
    /* Signed: i32.const -1 in 5 bytes is fine, unused bits unset not. */
    header(&w);
    SEC(&w, 6, "\1\x7f\0\x41\xff\xff\xff\xff\x7f\x0b");
    KT_CHECK(decodes(&w));
    header(&w);
    SEC(&w, 6, "\1\x7f\0\x41\xff\xff\xff\xff\x0f\x0b");
    KT_CHECK(fails_with(&w, "integer too large"));
    /* i64.const 0 in 10 bytes; 11 is too long. */
    header(&w);
    SEC(&w, 6, "\1\x7e\0\x42\x80\x80\x80\x80\x80\x80\x80\x80\x80\0\x0b");
    KT_CHECK(decodes(&w));
    header(&w);
    SEC(&w, 6, "\1\x7e\0\x42\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\0\x0b");
    KT_CHECK(fails_with(&w, "integer representation too long"));
    /* A type form with a continuation bit. */
    header(&w);
    SEC(&w, 1, "\1\xe0\x7f\0\0");
    KT_CHECK(fails_with(&w, "integer representation too long"));
}

KT_TEST(decode_functions_and_locals)
{
    kumo_module *m;
    kumo_diag d;
    wbuf w;
    header(&w);
    SEC(&w, 1, "\1\x60\1\x7f\1\x7e"); /* (i32) -> i64 */
    SEC(&w, 3, "\1\0");
    SEC(&w, 10, "\1\x08\2\2\x7f\1\x7c\x42\0\x0b"); /* 2 i32, 1 f64 */
    KT_REQUIRE(decode(&w, &m, &d) == 0);
    KT_CHECK(m->ntypes == 1 && m->types[0].nparams == 1);
    KT_CHECK(m->types[0].nresults == 1 && m->types[0].types[1] == 0x7e);
    KT_CHECK(m->nfuncs == 1 && m->func_types[0] == 0);
    KT_REQUIRE(m->bodies != NULL);
    KT_CHECK(m->bodies[0].nlocals == 3);
    KT_CHECK(m->bodies[0].locals[0] == KUMO_I32);
    KT_CHECK(m->bodies[0].locals[1] == KUMO_I32);
    KT_CHECK(m->bodies[0].locals[2] == KUMO_F64);
    KT_CHECK(m->bodies[0].body.len == 8 && m->bodies[0].expr.len == 3);
    KT_CHECK(m->bytes[m->bodies[0].expr.off] == 0x42);
    ke_module_free(m);

    /* Locals summing to 2^32 and a body without its end. */
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\1\0");
    SEC(&w, 10, "\1\x0a\2\xff\xff\xff\xff\x0f\x7f\1\x7e\x0b");
    KT_CHECK(fails_with(&w, "too many locals"));
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\1\0");
    SEC(&w, 10, "\1\3\0\x41\1");
    KT_CHECK(fails_with(&w, "unexpected end of section or function"));
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\2\0\0");
    SEC(&w, 10, "\1\2\0\x0b");
    KT_CHECK(
        fails_with(&w, "function and code section have inconsistent lengths"));
}

KT_TEST(decode_imports_exports)
{
    kumo_module *m;
    kumo_diag d;
    kumo_externdesc e;
    wbuf w;
    header(&w);
    SEC(&w, 1, "\1\x60\2\x7f\x7d\1\x7c");
    SEC(&w, 2,
        "\4"
        "\1m\1"
        "f\0\0"
        "\1m\1t\1\x70\1\1\5"
        "\1m\1"
        "e\2\0\3"
        "\1m\1g\3\x7e\1");
    SEC(&w, 3, "\1\0");
    SEC(&w, 7, "\2\1x\0\1\1y\3\0");
    SEC(&w, 10, "\1\2\0\x0b");
    KT_REQUIRE(decode(&w, &m, &d) == 0);
    KT_CHECK(m->nimports == 4 && m->nfuncs == 2 && m->nimported_funcs == 1);
    KT_CHECK(m->ntables == 1 && m->nmems == 1 && m->nglobals == 1);
    KT_CHECK(kumo_module_import_count(m) == 4);
    kumo_module_import(m, 0, &e);
    KT_CHECK(e.kind == KUMO_EXTERN_FUNC && e.module_len == 1);
    KT_CHECK(e.name_len == 1 && e.name[0] == 'f' && e.module[0] == 'm');
    KT_CHECK(e.func.nparams == 2 && e.func.nresults == 1);
    KT_CHECK(e.func.params[0] == KUMO_I32 && e.func.params[1] == KUMO_F32);
    KT_CHECK(e.func.results[0] == KUMO_F64);
    kumo_module_import(m, 1, &e);
    KT_CHECK(e.kind == KUMO_EXTERN_TABLE && e.elem_type == KUMO_FUNCREF);
    KT_CHECK(e.limits.min == 1 && e.limits.has_max && e.limits.max == 5);
    kumo_module_import(m, 2, &e);
    KT_CHECK(e.kind == KUMO_EXTERN_MEMORY && e.limits.min == 3);
    KT_CHECK(!e.limits.has_max);
    kumo_module_import(m, 3, &e);
    KT_CHECK(e.kind == KUMO_EXTERN_GLOBAL && e.global_type == KUMO_I64);
    KT_CHECK(e.global_mutable);
    KT_CHECK(kumo_module_export_count(m) == 2);
    kumo_module_export(m, 0, &e);
    KT_CHECK(e.kind == KUMO_EXTERN_FUNC && e.index == 1 && e.name[0] == 'x');
    KT_CHECK(e.func.nparams == 2);
    kumo_module_export(m, 1, &e);
    KT_CHECK(e.kind == KUMO_EXTERN_GLOBAL && e.global_type == KUMO_I64);
    KT_CHECK(m->func_declared && m->func_declared[1]);
    KT_CHECK(!m->func_declared[0]);
    ke_module_free(m);

    header(&w);
    SEC(&w, 2, "\1\0\0\4");
    KT_CHECK(fails_with(&w, "malformed import kind"));
    header(&w);
    SEC(&w, 2, "\1\1\xff\0\0\0");
    KT_CHECK(fails_with(&w, "malformed UTF-8 encoding"));
    header(&w);
    SEC(&w, 6, "\1\x7f\2\x41\0\x0b");
    KT_CHECK(fails_with(&w, "malformed mutability"));
}

KT_TEST(decode_section_order)
{
    wbuf w;
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\1\0");
    SEC(&w, 8, "\0");
    SEC(&w, 8, "\0");
    KT_CHECK(fails_with(&w, "unexpected content after last section"));
    header(&w);
    SEC(&w, 3, "\0");
    SEC(&w, 1, "\0");
    KT_CHECK(fails_with(&w, "unexpected content after last section"));
    /* datacount (12) goes before code (10); custom sections anywhere. */
    header(&w);
    SEC(&w, 0, "\1x");
    SEC(&w, 12, "\0");
    SEC(&w, 0, "\1y");
    SEC(&w, 10, "\0");
    SEC(&w, 11, "\0");
    KT_CHECK(decodes(&w));
    header(&w);
    SEC(&w, 10, "\0");
    SEC(&w, 12, "\0");
    KT_CHECK(fails_with(&w, "unexpected content after last section"));
    header(&w);
    SEC(&w, 13, "");
    KT_CHECK(fails_with(&w, "malformed section id"));
    header(&w);
    SEC(&w, 1, "\0\0");
    KT_CHECK(fails_with(&w, "section size mismatch"));
    header(&w);
    PUT(&w, "\1\x10\0");
    KT_CHECK(fails_with(&w, "length out of bounds"));
    header(&w);
    SEC(&w, 12, "\2");
    SEC(&w, 11, "\1\1\0");
    KT_CHECK(fails_with(
        &w, "data count and data section have inconsistent lengths"));
}

KT_TEST(decode_elem_and_data_segments)
{
    kumo_module *m;
    kumo_diag d;
    wbuf w;
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\3\0\0\0");
    SEC(&w, 4, "\1\x70\0\1");
    SEC(&w, 5, "\1\0\1");
    SEC(&w, 9,
        "\x08"
        "\0\x41\0\x0b\1\0"         /* 0: active, idx */
        "\1\0\1\1"                 /* 1: passive, idx */
        "\2\0\x41\0\x0b\0\1\1"     /* 2: table 0 */
        "\3\0\0"                   /* 3: declarative */
        "\4\x41\0\x0b\1\xd2\2\x0b" /* 4: active, exprs */
        "\5\x6f\1\xd0\x6f\x0b"     /* 5: passive, exprs */
        "\6\0\x41\0\x0b\x70\0"     /* 6: table 0, exprs */
        "\7\x70\1\xd0\x70\x0b");   /* 7: declarative */
    SEC(&w, 10, "\3\2\0\x0b\2\0\x0b\2\0\x0b");
    SEC(&w, 11, "\3\0\x41\0\x0b\2hi\1\1x\2\0\x41\1\x0b\0");
    KT_REQUIRE(decode(&w, &m, &d) == 0);
    KT_REQUIRE(m->nelems == 8);
    KT_CHECK(m->elems[0].mode == KE_SEG_ACTIVE && m->elems[0].nitems == 1);
    KT_CHECK(!m->elems[0].items[0].is_expr);
    KT_CHECK(m->elems[1].mode == KE_SEG_PASSIVE);
    KT_CHECK(m->elems[1].items[0].func_index == 1);
    KT_CHECK(m->elems[3].mode == KE_SEG_DECLARATIVE);
    KT_CHECK(m->elems[4].items[0].is_expr);
    KT_CHECK(m->elems[4].items[0].expr.len == 3);
    KT_CHECK(m->elems[5].type == KUMO_EXTERNREF);
    KT_CHECK(m->elems[6].nitems == 0 && m->elems[6].offset.len == 3);
    KT_CHECK(m->elems[7].mode == KE_SEG_DECLARATIVE);
    KT_CHECK(m->func_declared[0] && m->func_declared[1]);
    KT_CHECK(m->func_declared[2]);
    KT_REQUIRE(m->ndatas == 3);
    KT_CHECK(m->datas[0].mode == KE_SEG_ACTIVE && m->datas[0].init.len == 2);
    KT_CHECK(memcmp(m->bytes + m->datas[0].init.off, "hi", 2) == 0);
    KT_CHECK(m->datas[1].mode == KE_SEG_PASSIVE);
    KT_CHECK(m->datas[2].offset.len == 3 && m->datas[2].init.len == 0);
    ke_module_free(m);

    header(&w);
    SEC(&w, 9, "\1\5\x7f\1\xd2\0\x0b");
    KT_CHECK(fails_with(&w, "malformed reference type"));
    header(&w);
    SEC(&w, 9, "\1\5\x70\1\xf3\0\x0b");
    KT_CHECK(fails_with(&w, "illegal opcode"));
    header(&w);
    SEC(&w, 9, "\1\x08\0");
    KT_CHECK(fails_with(&w, "malformed elements segment kind"));
    /* A non-constant instruction still finds its end (the validator
     * rejects it); nested blocks too. */
    header(&w);
    SEC(&w, 6, "\1\x7f\0\x02\x40\x0b\x41\0\x28\2\0\x0b");
    KT_CHECK(decodes(&w));
}

KT_TEST(decode_name_section)
{
    kumo_module *m;
    kumo_diag d;
    wbuf w;
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\2\0\0");
    SEC(&w, 10, "\2\2\0\x0b\2\0\x0b");
    SEC(&w, 0,
        "\4name"
        "\0\2\1m"                  /* module name */
        "\1\x0b\2\0\3one\1\3two"); /* function names */
    KT_REQUIRE(decode(&w, &m, &d) == 0);
    KT_CHECK(kumo_module_func_name(m, 0) &&
             strcmp(kumo_module_func_name(m, 0), "one") == 0);
    KT_CHECK(kumo_module_func_name(m, 1) &&
             strcmp(kumo_module_func_name(m, 1), "two") == 0);
    KT_CHECK(kumo_module_func_name(m, 2) == NULL);
    ke_module_free(m);
    /* A broken name section is ignored. */
    header(&w);
    SEC(&w, 1, "\1\x60\0\0");
    SEC(&w, 3, "\1\0");
    SEC(&w, 10, "\1\2\0\x0b");
    SEC(&w, 0, "\4name\1\x7f\1\0");
    KT_CHECK(decodes(&w));
    /* A custom section whose name runs past its end is malformed. */
    header(&w);
    PUT(&w, "\0\1\4name");
    KT_CHECK(fails_with(&w, "unexpected end of section or function"));
}
