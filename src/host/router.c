/* router.c - the routing table of the dev, dynamic and null routers
 * (include/kumo/router.h). Bindings are kept in an array in the order they
 * were added; a request scans it once (reservoir sampling picks a random
 * available replica in the same pass), which is cheaper than hashing for
 * the few to few hundred workloads a host serves. */
#include <ctype.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../base/base.h"
#include "kumo/router.h"

typedef struct rt_name {
    char *s; /* lowercase, no trailing dot */
    size_t len;
} rt_name;

typedef struct rt_bind {
    char *id;
    kumo_whttp_workload *w;
    bool available;
    rt_name *names;
    uint32_t nnames;
} rt_bind;

struct kumo_router {
    kumo_router_kind kind;
    rt_bind *binds;
    uint32_t n, cap;
    uint64_t rng; /* xorshift64* state, never 0 */
};

int
kumo_router_kind_parse(const char *name)
{
    if (strcmp(name, "dev") == 0)
        return KUMO_ROUTER_DEV;
    if (strcmp(name, "dynamic") == 0)
        return KUMO_ROUTER_DYNAMIC;
    if (strcmp(name, "null") == 0)
        return KUMO_ROUTER_NULL;
    return -1;
}

const char *
kumo_router_kind_name(kumo_router_kind kind)
{
    switch (kind) {
    case KUMO_ROUTER_DEV:
        return "dev";
    case KUMO_ROUTER_DYNAMIC:
        return "dynamic";
    case KUMO_ROUTER_NULL:
        return "null";
    }
    return "?";
}

int
kumo_router_new(kumo_router_kind kind, kumo_router **out)
{
    kumo_router *r = kb_calloc(1, sizeof *r);
    if (!r)
        return KUMO_ENOMEM;
    r->kind = kind;
    if (getrandom(&r->rng, sizeof r->rng, GRND_NONBLOCK) != sizeof r->rng)
        r->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    if (r->rng == 0)
        r->rng = 0x2545F4914F6CDD1Dull;
    *out = r;
    return 0;
}

static void
bind_fini(rt_bind *b)
{
    for (uint32_t i = 0; i < b->nnames; i++)
        kb_free(b->names[i].s);
    kb_free(b->names);
    kb_free(b->id);
}

void
kumo_router_free(kumo_router *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++)
        bind_fini(&r->binds[i]);
    kb_free(r->binds);
    kb_free(r);
}

kumo_router_kind
kumo_router_get_kind(const kumo_router *r)
{
    return r->kind;
}

bool
kumo_router_valid_host(const char *name, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-')
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && name[len - 1] != '-';
}

static int
find(const kumo_router *r, const char *id)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (strcmp(r->binds[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Append name[0..len) (trimmed of blanks) to b's names; KUMO_EINVAL when
 * it is not a host name. */
static int
add_name(rt_bind *b, const char *name, size_t len, const char **why)
{
    while (len && isspace((unsigned char)*name)) {
        name++;
        len--;
    }
    while (len && isspace((unsigned char)name[len - 1]))
        len--;
    if (!kumo_router_valid_host(name, len)) {
        if (why)
            *why = memchr(name, ':', len)
                       ? "a host name must not carry a port"
                       : "not a valid RFC 1123 host name";
        return KUMO_EINVAL;
    }
    rt_name *nn = kb_realloc(b->names, (b->nnames + 1) * sizeof *nn);
    if (!nn)
        return KUMO_ENOMEM;
    b->names = nn;
    char *s = kb_strndup(name, len);
    if (!s)
        return KUMO_ENOMEM;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    nn[b->nnames].s = s;
    nn[b->nnames].len = len;
    b->nnames++;
    return 0;
}

static int
add_names(rt_bind *b, const char *host, const char *aliases,
          const char **why)
{
    int rc = add_name(b, host, strlen(host), why);
    const char *p = aliases;

    while (rc == 0 && p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *q = p;
        size_t blank = 0;
        while (blank < len && isspace((unsigned char)q[blank]))
            blank++;
        if (blank < len) /* empty entries ("a,,b", trailing comma) skip */
            rc = add_name(b, p, len, why);
        p = comma ? comma + 1 : NULL;
    }
    return rc;
}

int
kumo_router_add(kumo_router *r, const char *id, kumo_whttp_workload *w,
                const char *host, const char *aliases, const char **why)
{
    rt_bind b;
    int rc;

    if (why)
        *why = NULL;
    if (r->kind == KUMO_ROUTER_NULL) {
        if (why)
            *why = "the null router has no ingress";
        return KUMO_EINVAL;
    }
    if (!id || !id[0] || find(r, id) >= 0) {
        if (why)
            *why = "workload id empty or already bound";
        return KUMO_EINVAL;
    }
    if (r->kind == KUMO_ROUTER_DYNAMIC && (!host || !host[0])) {
        if (why)
            *why = "the dynamic router needs a host name";
        return KUMO_EINVAL;
    }
    memset(&b, 0, sizeof b);
    b.w = w;
    b.available = true;
    b.id = kb_strndup(id, strlen(id));
    if (!b.id)
        return KUMO_ENOMEM;
    if (r->kind == KUMO_ROUTER_DYNAMIC) {
        rc = add_names(&b, host, aliases, why);
        if (rc < 0)
            goto fail;
    }
    rc = kb_reserve((void **)&r->binds, &r->cap, r->n + 1, sizeof b);
    if (rc < 0)
        goto fail;
    r->binds[r->n++] = b;
    return 0;
fail:
    bind_fini(&b);
    return rc;
}

int
kumo_router_remove(kumo_router *r, const char *id)
{
    int i = find(r, id);
    if (i < 0)
        return KUMO_ENOTFOUND;
    bind_fini(&r->binds[i]);
    memmove(&r->binds[i], &r->binds[i + 1],
            (r->n - (uint32_t)i - 1) * sizeof *r->binds);
    r->n--;
    return 0;
}

int
kumo_router_set_available(kumo_router *r, const char *id, bool on)
{
    int i = find(r, id);
    if (i < 0)
        return KUMO_ENOTFOUND;
    r->binds[i].available = on;
    return 0;
}

static uint64_t
next_random(kumo_router *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 0x2545F4914F6CDD1Dull;
}

/* The host part of an authority: without port, brackets kept for IPv6
 * literals, without one trailing dot. */
static void
authority_host(const char *a, const char **host, size_t *len)
{
    size_t n = strlen(a);
    if (a[0] == '[') {
        const char *end = strchr(a, ']');
        n = end ? (size_t)(end - a) + 1 : n;
    } else {
        const char *colon = strrchr(a, ':');
        if (colon)
            n = (size_t)(colon - a);
    }
    if (n > 1 && a[n - 1] == '.')
        n--;
    *host = a;
    *len = n;
}

static bool
has_name(const rt_bind *b, const char *host, size_t len)
{
    for (uint32_t i = 0; i < b->nnames; i++)
        if (b->names[i].len == len && strncasecmp(b->names[i].s, host,
                                                  len) == 0)
            return true;
    return false;
}

kumo_route_status
kumo_router_route(kumo_router *r, const char *authority,
                  kumo_whttp_workload **out)
{
    *out = NULL;
    if (r->kind == KUMO_ROUTER_NULL)
        return KUMO_ROUTE_NO_WORKLOAD;
    if (r->kind == KUMO_ROUTER_DEV) {
        for (uint32_t i = r->n; i-- > 0;)
            if (r->binds[i].available) {
                *out = r->binds[i].w;
                return KUMO_ROUTE_OK;
            }
        return r->n ? KUMO_ROUTE_UNAVAILABLE : KUMO_ROUTE_NO_WORKLOAD;
    }
    const char *host;
    size_t len;
    if (!authority || !authority[0])
        return KUMO_ROUTE_MISSING_HOST;
    authority_host(authority, &host, &len);
    if (len == 0)
        return KUMO_ROUTE_MISSING_HOST;
    uint64_t seen = 0;
    bool named = false;
    for (uint32_t i = 0; i < r->n; i++) {
        const rt_bind *b = &r->binds[i];
        if (!has_name(b, host, len))
            continue;
        named = true;
        if (!b->available)
            continue;
        /* reservoir sampling: the k-th candidate replaces with p = 1/k */
        if (next_random(r) % ++seen == 0)
            *out = b->w;
    }
    if (*out)
        return KUMO_ROUTE_OK;
    return named ? KUMO_ROUTE_UNAVAILABLE : KUMO_ROUTE_NO_WORKLOAD;
}

bool
kumo_router_egress_allowed(const kumo_router *r)
{
    return r->kind != KUMO_ROUTER_NULL;
}
