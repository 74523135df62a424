/* test_whttp.c - wasi:http/types fields through the typed host functions
 * (src/http/whttp_fields.c): header-name and value validation, forbidden
 * fields, case-insensitive get/has/delete, set replacing every value,
 * immutability of request/response headers, clone, outgoing-response
 * status validation; and a workload refusing a component without
 * wasi:http/incoming-handler. Calls that do not trap need no component
 * call, so the functions are called directly with a context as env. */
#include <string.h>

#include "../../src/http/whttp.h"
#include "unit.h"

typedef struct env {
    kumo_wasi_ctx *ctx;
    kg_call call;
} env;

static void
begin(env *e)
{
    memset(e, 0, sizeof *e);
    kumo_wasi_ctx_new(&e->ctx);
    kg_call_init(&e->call, NULL, e->ctx, NULL, "test");
}

static void
end(env *e)
{
    kg_call_fini(&e->call);
    kumo_wasi_ctx_free(e->ctx);
}

static kg_string
S(const char *s)
{
    kg_string r = {s, strlen(s)};
    return r;
}

static kx_wasi_http_types_field_value
V(const char *s)
{
    kx_wasi_http_types_field_value v = {(const uint8_t *)s, strlen(s)};
    return v;
}

/* from-list with one (name, value) entry: -1 ok, else the error tag. */
static int
from_one(env *e, const char *n, const char *v)
{
    kx_tuple2_string_bytes t = {S(n), V(v)};
    kx_list_tuple2_string_bytes l = {&t, 1};
    kx_result_wasi_http_types_fields_wasi_http_types_header_error r;
    memset(&r, 0, sizeof r);
    if (kx_wasi_http_types_static_fields_from_list(&e->call, l, &r))
        return -2;
    if (!r.is_err) {
        kx_wasi_http_types_fields_drop(e->ctx, r.val.ok);
        return -1;
    }
    return (int)r.val.err.tag;
}

KT_TEST(whttp_fields_validation)
{
    env e;
    begin(&e);
    KT_CHECK(from_one(&e, "content-type", "text/plain") == -1);
    KT_CHECK(from_one(&e, "X-Custom_1!", "a\tb ~\x80") == -1);
    KT_CHECK(from_one(&e, "", "x") ==
             KX_WASI_HTTP_TYPES_HEADER_ERROR_INVALID_SYNTAX);
    KT_CHECK(from_one(&e, "bad name", "x") ==
             KX_WASI_HTTP_TYPES_HEADER_ERROR_INVALID_SYNTAX);
    KT_CHECK(from_one(&e, "a:b", "x") ==
             KX_WASI_HTTP_TYPES_HEADER_ERROR_INVALID_SYNTAX);
    KT_CHECK(from_one(&e, "x", "line\r\nbreak") ==
             KX_WASI_HTTP_TYPES_HEADER_ERROR_INVALID_SYNTAX);
    KT_CHECK(from_one(&e, "x", "nul\0") == -1); /* strlen stops at NUL */
    KT_CHECK(from_one(&e, "x", "del\x7f") ==
             KX_WASI_HTTP_TYPES_HEADER_ERROR_INVALID_SYNTAX);
    static const char *const forbidden[] = {
        "Connection", "keep-alive", "Host", "transfer-encoding", "upgrade",
        "proxy-connection", "http2-settings", "proxy-authorization"};
    for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++)
        KT_CHECK(from_one(&e, forbidden[i], "x") ==
                 KX_WASI_HTTP_TYPES_HEADER_ERROR_FORBIDDEN);
    KT_CHECK(kh_wheader_check_name("hostx", 5) == KH_WHDR_OK);
    end(&e);
}

KT_TEST(whttp_fields_ops)
{
    env e;
    kx_wasi_http_types_fields f, c;
    kx_result_void_wasi_http_types_header_error r;
    kx_list_bytes got;
    bool has;
    begin(&e);
    KT_REQUIRE(kx_wasi_http_types_constructor_fields(&e.call, &f) == 0);
    memset(&r, 0, sizeof r);
    kx_wasi_http_types_method_fields_append(&e.call, f, S("Accept"), V("a"),
                                            &r);
    KT_CHECK(!r.is_err);
    kx_wasi_http_types_method_fields_append(&e.call, f, S("accept"), V("b"),
                                            &r);
    KT_CHECK(!r.is_err);
    kx_wasi_http_types_method_fields_get(&e.call, f, S("ACCEPT"), &got);
    KT_CHECK(got.len == 2 && got.ptr[0].len == 1 && got.ptr[0].ptr[0] == 'a' &&
             got.ptr[1].ptr[0] == 'b');
    kx_wasi_http_types_method_fields_append(&e.call, f, S("host"), V("h"),
                                            &r);
    KT_CHECK(r.is_err &&
             r.val.err.tag == KX_WASI_HTTP_TYPES_HEADER_ERROR_FORBIDDEN);
    /* set replaces every value */
    kx_wasi_http_types_field_value one = V("z");
    kx_list_bytes vals = {&one, 1};
    memset(&r, 0, sizeof r);
    kx_wasi_http_types_method_fields_set(&e.call, f, S("Accept"), vals, &r);
    KT_CHECK(!r.is_err);
    kx_wasi_http_types_method_fields_get(&e.call, f, S("accept"), &got);
    KT_CHECK(got.len == 1 && got.ptr[0].ptr[0] == 'z');
    /* entries: lowercase names */
    kx_list_tuple2_string_bytes ent;
    kx_wasi_http_types_method_fields_entries(&e.call, f, &ent);
    KT_CHECK(ent.len == 1 && ent.ptr[0].f0.len == 6 &&
             memcmp(ent.ptr[0].f0.ptr, "accept", 6) == 0);
    /* clone is independent and mutable */
    KT_REQUIRE(kx_wasi_http_types_method_fields_clone(&e.call, f, &c) == 0);
    kx_wasi_http_types_method_fields_delete(&e.call, f, S("accept"), &r);
    KT_CHECK(!r.is_err);
    kx_wasi_http_types_method_fields_has(&e.call, f, S("accept"), &has);
    KT_CHECK(!has);
    kx_wasi_http_types_method_fields_has(&e.call, c, S("Accept"), &has);
    KT_CHECK(has);
    kx_wasi_http_types_fields_drop(e.ctx, c);
    kx_wasi_http_types_fields_drop(e.ctx, f);
    end(&e);
}

KT_TEST(whttp_fields_immutable)
{
    env e;
    kx_wasi_http_types_fields f, h;
    kx_wasi_http_types_outgoing_response resp;
    kx_result_void_wasi_http_types_header_error r;
    kx_result_void_void sr;
    kx_wasi_http_types_status_code st;
    begin(&e);
    KT_REQUIRE(kx_wasi_http_types_constructor_fields(&e.call, &f) == 0);
    memset(&r, 0, sizeof r);
    kx_wasi_http_types_method_fields_append(&e.call, f, S("x-a"), V("1"),
                                            &r);
    /* the response takes the fields; its headers() are immutable */
    KT_REQUIRE(kx_wasi_http_types_constructor_outgoing_response(&e.call, f,
                                                                &resp) == 0);
    KT_REQUIRE(kx_wasi_http_types_method_outgoing_response_headers(
                   &e.call, resp, &h) == 0);
    kx_wasi_http_types_method_fields_append(&e.call, h, S("x-b"), V("2"),
                                            &r);
    KT_CHECK(r.is_err &&
             r.val.err.tag == KX_WASI_HTTP_TYPES_HEADER_ERROR_IMMUTABLE);
    kx_wasi_http_types_method_fields_delete(&e.call, h, S("x-a"), &r);
    KT_CHECK(r.is_err &&
             r.val.err.tag == KX_WASI_HTTP_TYPES_HEADER_ERROR_IMMUTABLE);
    kx_list_bytes none = {NULL, 0};
    kx_wasi_http_types_method_fields_set(&e.call, h, S("x-a"), none, &r);
    KT_CHECK(r.is_err &&
             r.val.err.tag == KX_WASI_HTTP_TYPES_HEADER_ERROR_IMMUTABLE);
    /* a clone of immutable fields is mutable */
    kx_wasi_http_types_fields c;
    KT_REQUIRE(kx_wasi_http_types_method_fields_clone(&e.call, h, &c) == 0);
    memset(&r, 0, sizeof r);
    kx_wasi_http_types_method_fields_append(&e.call, c, S("x-b"), V("2"),
                                            &r);
    KT_CHECK(!r.is_err);
    /* status codes */
    kx_wasi_http_types_method_outgoing_response_status_code(&e.call, resp,
                                                            &st);
    KT_CHECK(st == 200);
    kx_wasi_http_types_method_outgoing_response_set_status_code(&e.call, resp,
                                                                42, &sr);
    KT_CHECK(sr.is_err);
    kx_wasi_http_types_method_outgoing_response_set_status_code(&e.call, resp,
                                                                404, &sr);
    KT_CHECK(!sr.is_err);
    kx_wasi_http_types_method_outgoing_response_status_code(&e.call, resp,
                                                            &st);
    KT_CHECK(st == 404);
    kx_wasi_http_types_fields_drop(e.ctx, c);
    kx_wasi_http_types_fields_drop(e.ctx, h);
    /* resp (and a body never made) go with the context */
    end(&e);
}

KT_TEST(whttp_workload_needs_handler)
{
    /* a component with no exports at all */
    static const uint8_t empty[] = {0, 'a', 's', 'm', 0x0d, 0, 1, 0};
    kumo_component *c = NULL;
    kumo_whttp_workload *w = NULL;
    kumo_diag d;
    uv_loop_t loop;
    KT_REQUIRE(kumo_component_new(empty, sizeof empty, &c, NULL) == 0);
    uv_loop_init(&loop);
    KT_CHECK(kumo_whttp_workload_new(&loop, c, NULL, &w, &d) ==
             KUMO_ENOTFOUND);
    KT_CHECK(w == NULL && strstr(d.message, "incoming-handler") != NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    kumo_component_free(c);
}
