/* test_http_allow.c - the outbound allow-list (src/http/allow.c): every
 * form of wasmCloud's allowedHosts grammar, rejected patterns with their
 * reasons, and deny by default. */
#include <string.h>

#include "kumo/http.h"
#include "unit.h"

/* A list of one pattern (asserted to parse). */
static kumo_http_allow *
one(const char *pattern)
{
    kumo_http_allow *l = NULL;
    kumo_diag d;
    int rc = kumo_http_allow_add(&l, pattern, &d);
    if (rc != 0)
        fprintf(stderr, "  pattern '%s': %s\n", pattern, d.message);
    KT_CHECK(rc == 0);
    return l;
}

static bool
m(const char *pattern, const char *scheme, const char *host, uint16_t port)
{
    kumo_http_allow *l = one(pattern);
    bool r = kumo_http_allow_match(l, scheme, host, port);
    kumo_http_allow_free(l);
    return r;
}

static bool
ma(const char *pattern, const char *scheme, const char *authority)
{
    kumo_http_allow *l = one(pattern);
    bool r = kumo_http_allow_match_authority(l, scheme, authority);
    kumo_http_allow_free(l);
    return r;
}

KT_TEST(http_allow_deny_by_default)
{
    KT_CHECK(!kumo_http_allow_match(NULL, "http", "example.com", 80));
    KT_CHECK(!kumo_http_allow_match_authority(NULL, "https", "a.com"));
    kumo_http_allow_free(NULL);
}

KT_TEST(http_allow_star)
{
    KT_CHECK(m("*", "http", "example.com", 80));
    KT_CHECK(m("*", "https", "a.b.c", 8443));
    KT_CHECK(m("*", "http", "[::1]", 1));
    KT_CHECK(m("*", "http", "127.0.0.1", 0));
    KT_CHECK(ma("*", "https", "x.y:9"));
    KT_CHECK(!ma("*", "https", "x.y:99999")); /* unparsable authority */
    KT_CHECK(!ma("*", "https", ""));
}

KT_TEST(http_allow_host)
{
    KT_CHECK(m("example.com", "http", "example.com", 80));
    KT_CHECK(m("example.com", "https", "example.com", 8443)); /* any port */
    KT_CHECK(m("example.com", "ftp", "example.com", 21));     /* any scheme */
    KT_CHECK(m("Example.COM", "http", "eXample.com", 80));    /* case */
    KT_CHECK(m("example.com", "HTTP", "example.com.", 0));    /* root dot */
    KT_CHECK(!m("example.com", "http", "a.example.com", 80));
    KT_CHECK(!m("example.com", "http", "example.co", 80));
    KT_CHECK(!m("example.com", "http", "example.com.evil", 80));
    KT_CHECK(!m("example.com", "http", "xexample.com", 80));
    KT_CHECK(!m("example.com", "http", "", 80));
    KT_CHECK(m("127.0.0.1", "http", "127.0.0.1", 8080));
    KT_CHECK(!m("127.0.0.1", "http", "127.0.0.2", 8080));
}

KT_TEST(http_allow_host_port)
{
    KT_CHECK(m("example.com:8080", "http", "example.com", 8080));
    KT_CHECK(!m("example.com:8080", "http", "example.com", 8081));
    KT_CHECK(!m("example.com:8080", "http", "example.com", 0)); /* 80 */
    KT_CHECK(m("example.com:80", "http", "example.com", 0));
    KT_CHECK(m("example.com:443", "https", "example.com", 0));
    KT_CHECK(!m("example.com:443", "http", "example.com", 0));
    KT_CHECK(ma("example.com:8080", "http", "EXAMPLE.com:8080"));
    KT_CHECK(!ma("example.com:8080", "http", "example.com"));
    KT_CHECK(ma("example.com:80", "http", "example.com"));
    KT_CHECK(!ma("example.com:8080", "http", "example.com:8080x"));
}

KT_TEST(http_allow_scheme)
{
    KT_CHECK(m("https://example.com", "https", "example.com", 0));
    KT_CHECK(m("https://example.com", "HTTPS", "example.com", 9443));
    KT_CHECK(!m("https://example.com", "http", "example.com", 0));
    KT_CHECK(m("HTTP://example.com/", "http", "example.com", 0));
    KT_CHECK(m("http://example.com:8080", "http", "example.com", 8080));
    KT_CHECK(!m("http://example.com:8080", "https", "example.com", 8080));
    KT_CHECK(!m("http://example.com:8080", "http", "example.com", 80));
    KT_CHECK(m("http://example.com:8080/", "http", "example.com", 8080));
}

KT_TEST(http_allow_wildcard)
{
    KT_CHECK(m("*.example.com", "http", "a.example.com", 80));
    KT_CHECK(m("*.example.com", "https", "a.b.example.com", 1234));
    KT_CHECK(m("*.Example.com", "http", "A.EXAMPLE.COM", 80));
    KT_CHECK(!m("*.example.com", "http", "example.com", 80));
    KT_CHECK(!m("*.example.com", "http", ".example.com", 80));
    KT_CHECK(!m("*.example.com", "http", "aexample.com", 80));
    KT_CHECK(!m("*.example.com", "http", "a.example.com.evil.net", 80));
    KT_CHECK(!m("*.example.com", "http", "evil.com#.example.com", 80));
    KT_CHECK(!m("*.example.com", "http", "u@a.example.com", 80));
    KT_CHECK(m("*.example.com:8443", "https", "x.example.com", 8443));
    KT_CHECK(!m("*.example.com:8443", "https", "x.example.com", 443));
    KT_CHECK(m("https://*.example.com", "https", "x.example.com", 1));
    KT_CHECK(!m("https://*.example.com", "http", "x.example.com", 1));
    KT_CHECK(m("http://*.example.com:81/", "http", "y.x.example.com", 81));
    KT_CHECK(!m("http://*.example.com:81/", "http", "y.x.example.com", 80));
    KT_CHECK(!m("http://*.example.com:81/", "http", "example.com", 81));
    KT_CHECK(m("*.com", "http", "a.com", 80));
}

KT_TEST(http_allow_ipv6)
{
    KT_CHECK(m("[::1]", "http", "::1", 80));
    KT_CHECK(m("[::1]", "http", "[::1]", 80));
    KT_CHECK(m("[::1]", "http", "[0:0::1]", 80)); /* canonical compare */
    KT_CHECK(m("[2001:DB8::1]:8080", "http", "[2001:db8::1]", 8080));
    KT_CHECK(!m("[2001:db8::1]:8080", "http", "[2001:db8::1]", 8081));
    KT_CHECK(m("https://[::1]:8443/", "https", "[::1]", 8443));
    KT_CHECK(!m("[::1]", "http", "[::2]", 80));
    KT_CHECK(!m("[::1]", "http", "127.0.0.1", 80));
    KT_CHECK(ma("[::1]:8080", "http", "[::1]:8080"));
    KT_CHECK(ma("[::1]", "http", "[::1]"));
    KT_CHECK(!ma("[::1]:8080", "http", "[::1]:8081"));
    KT_CHECK(!ma("[::1]", "http", "[::1"));
}

KT_TEST(http_allow_list)
{
    kumo_http_allow *l = NULL;
    KT_REQUIRE(kumo_http_allow_add(&l, "a.com", NULL) == 0);
    KT_REQUIRE(kumo_http_allow_add(&l, "https://*.b.com:444", NULL) == 0);
    KT_REQUIRE(kumo_http_allow_add(&l, "[::1]:1", NULL) == 0);
    KT_CHECK(kumo_http_allow_match(l, "http", "a.com", 0));
    KT_CHECK(kumo_http_allow_match(l, "https", "x.b.com", 444));
    KT_CHECK(!kumo_http_allow_match(l, "http", "x.b.com", 444));
    KT_CHECK(kumo_http_allow_match(l, "http", "::1", 1));
    KT_CHECK(!kumo_http_allow_match(l, "http", "b.com", 444));
    KT_CHECK(!kumo_http_allow_match(l, "http", "c.com", 80));
    KT_CHECK(!kumo_http_allow_match(l, NULL, "a.com", 80));
    KT_CHECK(!kumo_http_allow_match(l, "http", NULL, 80));
    kumo_http_allow_free(l);
}

static void
rejects(const char *pattern, const char *reason)
{
    kumo_http_allow *l = NULL;
    kumo_diag d;
    memset(&d, 0, sizeof d);
    int rc = kumo_http_allow_add(&l, pattern, &d);
    KT_CHECK(rc == KUMO_EINVAL);
    KT_CHECK(d.code == KUMO_EINVAL);
    KT_CHECK(strstr(d.message, reason) != NULL);
    if (!strstr(d.message, reason))
        fprintf(stderr, "  '%s': got '%s'\n", pattern, d.message);
    KT_CHECK(l == NULL);
    kumo_http_allow_free(l);
}

KT_TEST(http_allow_rejects)
{
    rejects("", "empty");
    rejects("*foo", "'*'");
    rejects("*foo.com", "'*'");
    rejects("a.*.com", "'*'");
    rejects("*.", "bad host");
    rejects("*.*.com", "'*'");
    rejects("http://*", "'*' with a scheme");
    rejects("example.com/path", "no path");
    rejects("http://example.com/path", "no path");
    rejects("http://example.com//", "no path");
    rejects("example.com/", "no path"); /* trailing '/' only after scheme */
    rejects("example.com?q", "no path");
    rejects("user@example.com", "user info");
    rejects("example.com:", "bad port");
    rejects("example.com:0", "bad port");
    rejects("example.com:65536", "bad port");
    rejects("example.com:8o", "bad port");
    rejects("example.com:123456", "bad port");
    rejects("::1", "brackets");
    rejects("[::1", "unterminated");
    rejects("[::1]x", "junk");
    rejects("[zz::1]", "bad IPv6");
    rejects("[]", "bad IPv6");
    rejects("exa mple.com", "whitespace");
    rejects(" example.com", "whitespace");
    rejects("a..com", "bad host");
    rejects(".a.com", "bad host");
    rejects("a.com.", "bad host");
    rejects("1http://a.com", "bad scheme");
    rejects("://a.com", "bad scheme");
    rejects("http://", "missing host");
    rejects("http:///", "missing host");
    rejects("a_b!.com", "bad host");
    rejects(":80", "bad host");
    /* the diagnostic names the pattern */
    kumo_http_allow *l = NULL;
    kumo_diag d;
    KT_CHECK(kumo_http_allow_add(&l, "bad/one", &d) == KUMO_EINVAL);
    KT_CHECK(strstr(d.message, "'bad/one'") != NULL);
    KT_CHECK(kumo_http_allow_add(&l, NULL, NULL) == KUMO_EINVAL);
    /* a bad entry leaves the list as it was */
    KT_REQUIRE(kumo_http_allow_add(&l, "ok.com", NULL) == 0);
    KT_CHECK(kumo_http_allow_add(&l, "*bad", NULL) == KUMO_EINVAL);
    KT_CHECK(kumo_http_allow_match(l, "http", "ok.com", 0));
    KT_CHECK(!kumo_http_allow_match(l, "http", "xbad", 0));
    kumo_http_allow_free(l);
}

KT_TEST(http_call_error_names)
{
    KT_CHECK(strcmp(kumo_http_call_error_name(0), "ok") == 0);
    KT_CHECK(strcmp(kumo_http_call_error_name(KUMO_HTTP_CALL_DNS_TIMEOUT),
                    "DNS-timeout") == 0);
    /* the enum value is the WIT discriminant plus one */
    KT_CHECK(KUMO_HTTP_CALL_DNS_TIMEOUT == 1);
    KT_CHECK(KUMO_HTTP_CALL_CONNECTION_REFUSED - 1 == 6);
    KT_CHECK(KUMO_HTTP_CALL_HTTP_REQUEST_DENIED - 1 == 15);
    KT_CHECK(KUMO_HTTP_CALL_HTTP_RESPONSE_TIMEOUT - 1 == 33);
    KT_CHECK(KUMO_HTTP_CALL_INTERNAL_ERROR - 1 == 38);
    KT_CHECK(strcmp(kumo_http_call_error_name(KUMO_HTTP_CALL_INTERNAL_ERROR),
                    "internal-error") == 0);
    KT_CHECK(kumo_http_call_error_name(KUMO_HTTP_CALL_ERROR_COUNT) == NULL);
    KT_CHECK(kumo_http_call_error_name(-1) == NULL);
}
