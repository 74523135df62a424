/* validate_names.c - import and export names: kebab-case labels, the
 * annotated forms [constructor]/[method]/[static] with their type rules,
 * interface names with versions, attributes, and strong uniqueness. */
#include <stdarg.h>
#include <stdio.h>

#include "validate.h"

static bool
is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* label ::= fragment ('-' fragment)*, the first starting with a letter; a
 * fragment is all lower case (and digits) or all upper case (and digits).
 * words_only: lower-case words only (namespaces and packages). */
static bool
kebab(const char *s, uint32_t n, bool words_only)
{
    uint32_t i = 0;
    bool first = true;

    if (n == 0)
        return false;
    while (i < n) {
        uint32_t st = i;
        int cls = 0; /* 1 lower, 2 upper */
        while (i < n && s[i] != '-') {
            char c = s[i];
            if (is_lower(c)) {
                if (cls == 2)
                    return false;
                cls = 1;
            } else if (is_upper(c)) {
                if (cls == 1 || words_only)
                    return false;
                cls = 2;
            } else if (!is_digit(c) || (first && i == st)) {
                return false;
            }
            i++;
        }
        if (i == st)
            return false;
        first = false;
        if (i < n) {
            i++;
            if (i == n)
                return false;
        }
    }
    return true;
}

bool
kv_is_kebab(kc_str s)
{
    return kebab(s.s, s.len, false);
}

/* ---- versions (semver, or a canonical version) */

static int
version_number(kv_ctx *v, size_t off, const char **p, const char *end)
{
    if (*p >= end)
        return kv_err(v, off, "unexpected end of input");
    if (!is_digit(**p))
        return kv_err(v, off, "unexpected character '%c'", **p);
    if (**p == '0' && *p + 1 < end && is_digit((*p)[1]))
        return kv_err(v, off, "invalid leading zero");
    while (*p < end && is_digit(**p))
        (*p)++;
    return 0;
}

/* dot-separated identifiers of a pre-release or build suffix */
static int
version_idents(kv_ctx *v, size_t off, const char **p, const char *end,
               char stop)
{
    for (;;) {
        const char *st = *p;
        while (*p < end && **p != '.' && **p != stop) {
            char c = **p;
            if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '-')
                return kv_err(v, off, "unexpected character '%c'", c);
            (*p)++;
        }
        if (*p == st)
            return kv_err(v, off, "empty identifier segment");
        if (*p >= end || **p == stop)
            return 0;
        (*p)++;
    }
}

static int
check_version(kv_ctx *v, size_t off, const char *s, uint32_t n)
{
    const char *p = s, *end = s + n;
    int rc;

    if (n == 0)
        return kv_err(v, off, "empty string");
    for (int part = 0; part < 3; part++) {
        if ((rc = version_number(v, off, &p, end)))
            return rc;
        if (p == end)
            return 0; /* a canonical version: 1, 0.2 (and full ones) */
        if (part < 2) {
            if (*p != '.')
                return kv_err(v, off, "unexpected character '%c'", *p);
            p++;
        }
    }
    if (*p == '-') {
        p++;
        if ((rc = version_idents(v, off, &p, end, '+')))
            return rc;
    }
    if (p < end && *p == '+') {
        p++;
        if ((rc = version_idents(v, off, &p, end, '\0')))
            return rc;
    }
    if (p < end)
        return kv_err(v, off, "unexpected character '%c'", *p);
    return 0;
}

/* interfacename ::= ns ':' pkg '/' label ('@' version)? */
static int
check_interface(kv_ctx *v, size_t off, kc_str name)
{
    const char *s = name.s, *end = s + name.len;
    const char *colon = memchr(s, ':', name.len);
    const char *at = memchr(s, '@', name.len);
    const char *stop = at ? at : end;

    if (!kebab(s, (uint32_t)(colon - s), true))
        return kv_err(v, off, "`%.*s` is not in kebab case", (int)(colon - s),
                      s);
    const char *pkg = colon + 1, *p = pkg;
    while (p < stop && *p != '/' && *p != ':')
        p++;
    if (!kebab(pkg, (uint32_t)(p - pkg), true))
        return kv_err(v, off, "`%.*s` is not in kebab case", (int)(p - pkg),
                      pkg);
    if (p >= stop || *p != '/')
        return kv_err(v, off, "expected `/` after package name");
    const char *iface = ++p;
    while (p < stop && *p != '/')
        p++;
    if (!kebab(iface, (uint32_t)(p - iface), false))
        return kv_err(v, off, "`%.*s` is not in kebab case",
                      (int)(p - iface), iface);
    if (p < stop)
        return kv_err(v, off, "trailing characters found: `%.*s`",
                      (int)(stop - p), p);
    if (at)
        return check_version(v, off, at + 1, (uint32_t)(end - at - 1));
    return 0;
}

/* The parts of a plain name: annotation (0 none, 1 constructor, 2 method,
 * 3 static), the resource label and the item label. */
typedef struct plain {
    int ann;
    kc_str res, item;
} plain;

static int
check_plain(kv_ctx *v, size_t off, kc_str name, plain *out)
{
    static const char *const prefix[] = {"[constructor]", "[method]",
                                         "[static]"};
    memset(out, 0, sizeof *out);
    out->item = name;
    if (name.len && name.s[0] == '[') {
        for (int i = 0; i < 3; i++) {
            size_t pl = strlen(prefix[i]);
            if (name.len >= pl && memcmp(name.s, prefix[i], pl) == 0) {
                out->ann = i + 1;
                out->item.s = name.s + pl;
                out->item.len = name.len - (uint32_t)pl;
                break;
            }
        }
        if (!out->ann)
            return kv_err(v, off, "`%.*s` is not a valid extern name",
                          (int)name.len, name.s);
    }
    if (out->ann >= 2) {
        const char *dot = memchr(out->item.s, '.', out->item.len);
        if (!dot)
            return kv_err(v, off, "failed to find `.` character");
        out->res.s = out->item.s;
        out->res.len = (uint32_t)(dot - out->item.s);
        out->item.len -= out->res.len + 1;
        out->item.s = dot + 1;
        if (!kv_is_kebab(out->res))
            return kv_err(v, off, "`%.*s` is not in kebab case",
                          (int)out->res.len, out->res.s);
    } else if (out->ann == 1) {
        out->res = out->item;
    }
    if (!kv_is_kebab(out->item))
        return kv_err(v, off, "`%.*s` is not in kebab case",
                      (int)out->item.len, out->item.s);
    return 0;
}

/* The strongly-unique canonical form of a name, in buf. */
static size_t
canonical(kc_str name, char *buf, size_t cap)
{
    plain pl;
    kc_str s = name;
    size_t n = 0;
    static const char *const prefix[] = {"[method]", "[static]"};

    for (int i = 0; i < 2; i++) {
        size_t len = strlen(prefix[i]);
        if (name.len > len && memcmp(name.s, prefix[i], len) == 0) {
            const char *dot =
                memchr(name.s + len, '.', name.len - (uint32_t)len);
            s.s = name.s + len;
            s.len = name.len - (uint32_t)len;
            if (dot) {
                pl.res.s = s.s;
                pl.res.len = (uint32_t)(dot - s.s);
                pl.item.s = dot + 1;
                pl.item.len = s.len - pl.res.len - 1;
                if (pl.res.len == pl.item.len &&
                    strncasecmp(pl.res.s, pl.item.s, pl.res.len) == 0)
                    s = pl.res;
            }
        }
    }
    for (uint32_t i = 0; i < s.len && n + 1 < cap; i++)
        buf[n++] = (char)(is_upper(s.s[i]) ? s.s[i] - 'A' + 'a' : s.s[i]);
    buf[n] = '\0';
    return n;
}

/* The resource named name in the context of an import (imports and
 * exports name it) or an export (only exports do). The exports of an
 * instance made from exports name no resources. */
static const kv_named *
find_resource(kv_scope *s, kc_str name, bool is_import)
{
    if (!s->body)
        return NULL;
    for (int pass = is_import ? 0 : 1; pass < 2; pass++) {
        uint32_t n = pass ? s->nexp : s->nimp;
        const kv_named *v = pass ? s->exp : s->imp;
        for (uint32_t i = 0; i < n; i++)
            if (v[i].name.len == name.len &&
                memcmp(v[i].name.s, name.s, name.len) == 0 &&
                v[i].e.sort == KC_TYPE && v[i].e.t &&
                v[i].e.t->kind == KC_T_RESOURCE)
                return &v[i];
    }
    return NULL;
}

/* Check that resource res of a constructor or method is named pl->res in
 * the context (see find_resource). */
static int
check_resource_name(kv_ctx *v, kv_scope *s, const plain *pl, kv_type *res,
                    bool is_import, size_t off)
{
    const kv_named *other = NULL;

    for (int pass = is_import ? 0 : 1; s->body && pass < 2; pass++) {
        uint32_t n = pass ? s->nexp : s->nimp;
        const kv_named *l = pass ? s->exp : s->imp;
        for (uint32_t i = 0; i < n; i++) {
            if (l[i].e.sort != KC_TYPE || !l[i].e.t ||
                l[i].e.t->kind != KC_T_RESOURCE ||
                kv_res(l[i].e.t) != kv_res(res))
                continue;
            if (l[i].name.len == pl->res.len &&
                memcmp(l[i].name.s, pl->res.s, pl->res.len) == 0)
                return 0;
            other = other ? other : &l[i];
        }
    }
    if (!other)
        return kv_err(v, off, "resource used in function does not have a "
                              "name in this context");
    return kv_err(v, off, "function does not match expected resource name "
                          "`%.*s`",
                  (int)other->name.len, other->name.s);
}

/* The type rules of annotated function names. */
static int
check_annotated(kv_ctx *v, kv_scope *s, const plain *pl, kv_ext e,
                bool is_import, size_t off)
{
    kv_type *ft = e.t, *res;

    if (e.sort != KC_FUNC)
        return kv_err(v, off, "`%.*s` is not a func", (int)pl->item.len,
                      pl->item.s);
    if (pl->ann == 1) {
        if (!ft->a)
            return kv_err(v, off, "function should return one value");
        res = ft->a->kind == KC_T_RESULT ? ft->a->a : ft->a;
        if (!res || res->kind != KC_T_OWN)
            return kv_err(v, off, "function should return `(own $T)` or "
                                  "`(result (own $T))`");
        return check_resource_name(v, s, pl, res->a, is_import, off);
    }
    if (pl->ann == 2) {
        if (ft->n == 0)
            return kv_err(v, off, "should have at least one argument");
        if (!kc_str_eq(ft->f[0].name, "self"))
            return kv_err(v, off, "should have a first argument called "
                                  "`self`");
        res = ft->f[0].t;
        if (!res || res->kind != KC_T_BORROW)
            return kv_err(v, off, "should take a first argument of "
                                  "`(borrow $T)`");
        return check_resource_name(v, s, pl, res->a, is_import, off);
    }
    if (find_resource(s, pl->res, is_import))
        return 0;
    if (!is_import)
        return kv_err(v, off, "resource used in function does not have a "
                              "name in this context");
    return kv_err(v, off, "static resource name is not known in this context");
}

static int
check_attributes(kv_ctx *v, const kc_name *n, kv_ext e, bool interface,
                 size_t off)
{
    kc_str im = n->implements;

    if (!n->has_implements)
        return 0;
    if (e.sort != KC_INSTANCE)
        return kv_err(v, off, "only instances can have an `implements`");
    if (interface)
        return kv_err(v, off, "name `%.*s` is not valid with `implements`",
                      (int)n->name.len, n->name.s);
    if (im.len == 0)
        return kv_err(v, off, "`implements` value `` is not a valid name");
    if (!memchr(im.s, ':', im.len))
        return kv_err(v, off, "`implements` value `%.*s` must be an "
                              "interface name", (int)im.len, im.s);
    int rc = check_interface(v, off, im);
    if (rc)
        return kv_wrap(v, rc, "`implements` value `%.*s` is not a valid "
                              "interface name", (int)im.len, im.s);
    return 0;
}

int
kv_add_name(kv_ctx *v, kv_scope *s, const kc_name *n, kv_ext e,
            bool is_import, size_t off)
{
    const char *what = is_import ? "import" : "export";
    bool interface = memchr(n->name.s, ':', n->name.len) != NULL;
    plain pl;
    int rc;

    if (interface)
        rc = check_interface(v, off, n->name);
    else
        rc = check_plain(v, off, n->name, &pl);
    if (rc)
        return kv_wrap(v, rc, "`%.*s` is not a valid extern name",
                       (int)n->name.len, n->name.s);
    if ((rc = check_attributes(v, n, e, interface, off)))
        return rc;
    if (!interface && pl.ann && (rc = check_annotated(v, s, &pl, e, is_import, off)))
        return rc;
    /* strong uniqueness */
    char a[512], b[512];
    uint32_t cnt = is_import ? s->nimp : s->nexp;
    kv_named *list = is_import ? s->imp : s->exp;
    canonical(n->name, a, sizeof a);
    for (uint32_t i = 0; i < cnt; i++) {
        canonical(list[i].name, b, sizeof b);
        if (strcmp(a, b) == 0)
            return kv_err(v, off, "%s name `%.*s` conflicts with previous "
                                  "name `%.*s`",
                          what, (int)n->name.len, n->name.s,
                          (int)list[i].name.len, list[i].name.s);
    }
    uint32_t *np = is_import ? &s->nimp : &s->nexp;
    uint32_t *cap = is_import ? &s->capimp : &s->capexp;
    kv_named **lp = is_import ? &s->imp : &s->exp;
    if (kc_grow(&v->arena, (void **)lp, cap, *np + 1, sizeof **lp))
        return kv_nomem(v);
    (*lp)[*np].name = n->name;
    (*lp)[*np].e = e;
    (*np)++;
    return 0;
}
