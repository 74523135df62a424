/* allow.c - the outbound allow-list: wasmCloud's allowedHosts grammar
 * ("*", "host[:port]", "*.suffix[:port]", optionally "scheme://" before
 * either), parsed once into entries and matched per request. Deny by
 * default: an empty list matches nothing. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "http.h"

typedef struct allow_entry {
    char *scheme;  /* lowercase, NULL = any */
    char *host;    /* lowercase, IPv6 canonical without brackets; NULL = "*" */
    bool suffix;   /* "*.host": names strictly under host */
    uint16_t port; /* 0 = any */
} allow_entry;

struct kumo_http_allow {
    allow_entry *e;
    uint32_t n, cap;
};

#define HOST_MAX 253

static char *
lower_dup(const char *s, size_t n)
{
    char *p = kb_strndup(s, n);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = (char)tolower((unsigned char)p[i]);
    return p;
}

static bool
scheme_ok(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("+-.", s[i]))
            return false;
    return true;
}

/* A DNS name or IPv4 address: non-empty labels of letters, digits, '-' and
 * '_' separated by single dots. */
static bool
name_ok(const char *s, size_t n)
{
    size_t label = 0;
    if (n == 0 || n > HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* Canonical text of the IPv6 literal s[0..n) (no brackets) into out
 * (INET6_ADDRSTRLEN bytes). */
static bool
v6_canon(const char *s, size_t n, char *out)
{
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a;
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (inet_pton(AF_INET6, tmp, &a) != 1)
        return false;
    return inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN) != NULL;
}

/* "digits" in 1..65535. */
static bool
port_parse(const char *s, size_t n, uint16_t *out)
{
    uint32_t v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* Split "host[:port]" or "[v6][:port]": host (brackets removed) and port
 * (0 when absent). Returns NULL or the reason it does not parse. */
static const char *
split_authority(const char *s, size_t n, const char **host, size_t *hlen,
                bool *v6, uint16_t *port)
{
    const char *colon = NULL;
    *port = 0;
    *v6 = false;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return "unterminated IPv6 literal";
        *host = s + 1;
        *hlen = (size_t)(close - s - 1);
        *v6 = true;
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return "junk after the IPv6 literal";
            colon = close + 1;
        }
    } else {
        colon = memchr(s, ':', n);
        if (colon && memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
            return "IPv6 literals must be in brackets";
        *host = s;
        *hlen = colon ? (size_t)(colon - s) : n;
    }
    if (colon && !port_parse(colon + 1, (size_t)(s + n - colon - 1), port))
        return "bad port (1-65535)";
    return NULL;
}

/* Parse the part after an optional scheme into e. Returns NULL or why
 * not. */
static const char *
parse_host(const char *s, size_t n, allow_entry *e)
{
    const char *host;
    size_t hlen;
    bool v6;
    char canon[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < n; i++)
        if (strchr("/?#@\\", s[i]))
            return "only a host and port are allowed (no path, query or "
                   "user info)";
    const char *why = split_authority(s, n, &host, &hlen, &v6, &e->port);
    if (why)
        return why;
    if (v6) {
        if (!v6_canon(host, hlen, canon))
            return "bad IPv6 literal";
        e->host = kb_strndup(canon, strlen(canon));
        return e->host ? NULL : "";
    }
    if (hlen >= 2 && host[0] == '*' && host[1] == '.') {
        e->suffix = true;
        host += 2;
        hlen -= 2;
    }
    if (memchr(host, '*', hlen))
        return "'*' is only allowed alone or as a leading '*.' label";
    if (!name_ok(host, hlen))
        return "bad host name";
    e->host = lower_dup(host, hlen);
    return e->host ? NULL : "";
}

/* Parse pattern into e. Returns NULL, "" (out of memory) or why not. */
static const char *
parse_pattern(const char *p, allow_entry *e)
{
    size_t n = strlen(p);
    const char *sep = strstr(p, "://");
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)p[i]) || iscntrl((unsigned char)p[i]))
            return "whitespace or control character";
    if (n == 0)
        return "empty pattern";
    if (n == 1 && p[0] == '*')
        return NULL;
    if (sep) {
        if (!scheme_ok(p, (size_t)(sep - p)))
            return "bad scheme";
        e->scheme = lower_dup(p, (size_t)(sep - p));
        if (!e->scheme)
            return "";
        p = sep + 3;
        n = strlen(p);
        if (n > 0 && p[n - 1] == '/')
            n--; /* "scheme://host/" */
        if (n == 1 && p[0] == '*')
            return "'*' with a scheme is not a pattern (use '*' alone)";
    }
    if (n == 0)
        return "missing host";
    return parse_host(p, n, e);
}

static void
entry_fini(allow_entry *e)
{
    kb_free(e->scheme);
    kb_free(e->host);
}

int
kumo_http_allow_add(kumo_http_allow **list, const char *pattern,
                    kumo_diag *diag)
{
    allow_entry e = {0};
    const char *why;
    kumo_http_allow *l = *list;
    if (!pattern)
        return kb_diag(diag, KUMO_EINVAL, 0, "allowed host: NULL pattern");
    why = parse_pattern(pattern, &e);
    if (why && !*why)
        goto nomem;
    if (why) {
        entry_fini(&e);
        return kb_diag(diag, KUMO_EINVAL, 0, "allowed host '%.80s': %s",
                       pattern, why);
    }
    if (!l) {
        l = kb_calloc(1, sizeof *l);
        if (!l)
            goto nomem;
        *list = l;
    }
    if (kb_reserve((void **)&l->e, &l->cap, l->n + 1, sizeof *l->e) != 0)
        goto nomem;
    l->e[l->n++] = e;
    return 0;
nomem:
    entry_fini(&e);
    return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
}

static uint16_t
default_port(const char *scheme)
{
    if (strcasecmp(scheme, "http") == 0)
        return 80;
    if (strcasecmp(scheme, "https") == 0)
        return 443;
    return 0;
}

static bool
entry_match(const allow_entry *e, const char *scheme, const char *host,
            size_t hlen, uint16_t port)
{
    if (e->scheme && strcasecmp(e->scheme, scheme) != 0)
        return false;
    if (e->port && e->port != port)
        return false;
    if (!e->host)
        return true;
    size_t elen = strlen(e->host);
    if (!e->suffix)
        return hlen == elen && memcmp(host, e->host, hlen) == 0;
    return hlen > elen + 1 && host[hlen - elen - 1] == '.' &&
           memcmp(host + hlen - elen, e->host, elen) == 0;
}

/* Match the already-split host (brackets removed when v6). */
static bool
match_split(const kumo_http_allow *list, const char *scheme, const char *h,
            size_t hlen, bool v6, uint16_t port)
{
    char buf[HOST_MAX + 2];
    if (!list || !scheme || hlen == 0)
        return false;
    if (v6 || memchr(h, ':', hlen)) {
        if (!v6_canon(h, hlen, buf))
            return false;
        hlen = strlen(buf);
    } else {
        if (h[hlen - 1] == '.') /* "a.com." is the DNS name "a.com" */
            hlen--;
        if (!name_ok(h, hlen)) /* never "a.com#.b.com" past "*.b.com" */
            return false;
        for (size_t i = 0; i < hlen; i++)
            buf[i] = (char)tolower((unsigned char)h[i]);
        buf[hlen] = 0;
    }
    if (port == 0)
        port = default_port(scheme);
    for (uint32_t i = 0; i < list->n; i++)
        if (entry_match(&list->e[i], scheme, buf, hlen, port))
            return true;
    return false;
}

bool
kumo_http_allow_match(const kumo_http_allow *list, const char *scheme,
                      const char *host, uint16_t port)
{
    if (!host)
        return false;
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        return match_split(list, scheme, host + 1, n - 2, true, port);
    return match_split(list, scheme, host, n, false, port);
}

bool
kumo_http_allow_match_authority(const kumo_http_allow *list, const char *scheme,
                                const char *authority)
{
    const char *host;
    size_t hlen;
    bool v6;
    uint16_t port;
    if (!authority ||
        split_authority(authority, strlen(authority), &host, &hlen, &v6, &port))
        return false;
    return match_split(list, scheme, host, hlen, v6, port);
}

void
kumo_http_allow_free(kumo_http_allow *list)
{
    if (!list)
        return;
    for (uint32_t i = 0; i < list->n; i++)
        entry_fini(&list->e[i]);
    kb_free(list->e);
    kb_free(list);
}
