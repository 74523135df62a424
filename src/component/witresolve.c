/* witresolve.c - WIT loader and resolver: reads package directories (and
 * their deps/), resolves `use` across interfaces and packages, type
 * references, world includes; checks duplicates, cycles and handle misuse;
 * gives interfaces and worlds qualified names; flattens worlds into their
 * imports and exports. Also the lookup functions. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../base/base.h"
#include "witparse.h"

#define MAX_DEPTH 512 /* nesting of interface uses / world includes */
#define MAX_FILE (64u << 20)

#define TRY(x)                                                                 \
    do {                                                                       \
        int rc_ = (x);                                                         \
        if (rc_)                                                               \
            return rc_;                                                        \
    } while (0)

static int einval(kumo_diag *d, const kw_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
einval(kumo_diag *d, const kw_pos *pos, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kw_error(d, KUMO_EINVALID, pos, "%s", msg);
}

/* ---- sets */

int
kw_set_new(kw_world_set **out)
{
    kw_world_set *s = kb_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return KUMO_ENOMEM;
    s->arena = kb_calloc(1, sizeof *s->arena);
    if (!s->arena) {
        kb_free(s);
        return KUMO_ENOMEM;
    }
    *out = s;
    return 0;
}

void
kw_set_free(kw_world_set *set)
{
    if (!set)
        return;
    kw_arena_free(set->arena);
    kb_free(set->arena);
    kb_free(set);
}

/* ---- loading files and directories */

static int
read_file(const char *path, char **out, size_t *len, kumo_diag *d)
{
    kw_pos pos = {.file = path, .line = 0, .col = 0};
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return kw_error(d, KUMO_EIO, &pos, "cannot open: %s", strerror(errno));
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > MAX_FILE) {
                fclose(f);
                kb_free(buf);
                return kw_error(d, KUMO_ELIMIT, &pos, "file too large");
            }
            char *nb = kb_realloc(buf, cap);
            if (!nb) {
                fclose(f);
                kb_free(buf);
                return KUMO_ENOMEM;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        kb_free(buf);
        return kw_error(d, KUMO_EIO, &pos, "read error");
    }
    *out = buf;
    *len = n;
    return 0;
}

static int
parse_path_into(kw_world_set *set, kw_package **unit, const char *path,
                kumo_diag *d)
{
    char *src = NULL;
    size_t len = 0;
    TRY(read_file(path, &src, &len, d));
    int rc = kw_parse_unit(set, unit, path, src, len, d);
    kb_free(src);
    return rc;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Sorted names of dir's entries (files ending in .wit when wit_only, else
 * everything but dot files). Allocated with kb_*; free with free_names. */
static int
list_dir(const char *dir, bool wit_only, char ***names, uint32_t *n,
         kumo_diag *d)
{
    kw_pos pos = {.file = dir};
    DIR *dp = opendir(dir);
    uint32_t cap = 0;
    int rc = 0;
    *names = NULL;
    *n = 0;
    if (!dp)
        return kw_error(d, KUMO_EIO, &pos, "cannot open directory: %s",
                        strerror(errno));
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (wit_only && !ends_with(e->d_name, ".wit"))
            continue;
        if ((rc = kb_reserve((void **)names, &cap, *n + 1, sizeof(char *))))
            break;
        char *s = kb_strndup(e->d_name, strlen(e->d_name));
        if (!s) {
            rc = KUMO_ENOMEM;
            break;
        }
        (*names)[(*n)++] = s;
    }
    closedir(dp);
    if (*n)
        qsort(*names, *n, sizeof(char *), cmp_str);
    return rc;
}

static void
free_names(char **names, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        kb_free(names[i]);
    kb_free(names);
}

static char *
join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = kb_malloc(la + lb + 2);
    if (s) {
        memcpy(s, a, la);
        s[la] = '/';
        memcpy(s + la + 1, b, lb + 1);
    }
    return s;
}

static bool
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One package: a single .wit file, or the .wit files of a directory. */
static int
load_unit(kw_world_set *set, const char *path, kumo_diag *d)
{
    kw_package *unit = NULL;
    char **names = NULL;
    uint32_t n = 0;
    int rc;
    if (!is_dir(path)) {
        TRY(parse_path_into(set, &unit, path, d));
        return kw_finish_unit(set, unit, path, d);
    }
    if ((rc = list_dir(path, true, &names, &n, d)))
        goto out;
    for (uint32_t i = 0; i < n && !rc; i++) {
        char *p = join(path, names[i]);
        if (!p) {
            rc = KUMO_ENOMEM;
            break;
        }
        rc = parse_path_into(set, &unit, p, d);
        kb_free(p);
    }
    if (!rc)
        rc = kw_finish_unit(set, unit, path, d);
out:
    free_names(names, n);
    return rc;
}

int
kw_add_path(kw_world_set *set, const char *path, kumo_diag *d)
{
    char **names = NULL;
    uint32_t n = 0;
    int rc = load_unit(set, path, d);
    if (rc || !is_dir(path))
        return rc;
    char *deps = join(path, "deps");
    if (!deps)
        return KUMO_ENOMEM;
    if (is_dir(deps)) {
        rc = list_dir(deps, false, &names, &n, d);
        for (uint32_t i = 0; i < n && !rc; i++) {
            char *p = join(deps, names[i]);
            if (!p) {
                rc = KUMO_ENOMEM;
                break;
            }
            if (is_dir(p) || ends_with(p, ".wit"))
                rc = load_unit(set, p, d);
            kb_free(p);
        }
        free_names(names, n);
    }
    kb_free(deps);
    return rc;
}

int
kw_load_dir(kw_world_set **out, const char *dir, kumo_diag *d)
{
    kw_world_set *set;
    TRY(kw_set_new(&set));
    int rc = kw_add_path(set, dir, d);
    if (!rc)
        rc = kw_resolve(set, d);
    if (rc) {
        kw_set_free(set);
        set = NULL;
    }
    *out = set;
    return rc;
}

/* ---- lookups */

static bool
eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* A package by name; version NULL matches when exactly one version is
 * loaded. *ambiguous is set when several are. */
static kw_package *
find_pkg(const kw_world_set *set, const char *ns, const char *name,
         const char *version, bool *ambiguous)
{
    kw_package *found = NULL;
    *ambiguous = false;
    for (uint32_t i = 0; i < set->npkgs; i++) {
        kw_package *p = set->pkgs[i];
        if (!eq(p->ns, ns) || !eq(p->name, name))
            continue;
        if (version) {
            if (eq(p->version, version))
                return p;
            continue;
        }
        if (!p->version)
            return p;
        if (found)
            *ambiguous = true;
        found = p;
    }
    return *ambiguous ? NULL : found;
}

kw_package *
kw_find_package(const kw_world_set *set, const char *ns, const char *name,
                const char *version)
{
    bool amb;
    return find_pkg(set, ns, name, version, &amb);
}

static kw_interface *
pkg_iface(const kw_package *p, const char *name)
{
    for (uint32_t i = 0; p && i < p->nifaces; i++)
        if (eq(p->ifaces[i]->name, name))
            return p->ifaces[i];
    return NULL;
}

static kw_world *
pkg_world(const kw_package *p, const char *name)
{
    for (uint32_t i = 0; p && i < p->nworlds; i++)
        if (eq(p->worlds[i]->name, name))
            return p->worlds[i];
    return NULL;
}

/* Split "ns:pkg/item@version" into arena-free pieces in buf. */
static bool
split_qname(const char *q, char *buf, size_t cap, const char **ns,
            const char **pkg, const char **item, const char **ver)
{
    size_t n = strlen(q);
    if (n >= cap)
        return false;
    memcpy(buf, q, n + 1);
    char *colon = strchr(buf, ':');
    char *slash = colon ? strchr(colon, '/') : NULL;
    if (!colon || !slash)
        return false;
    char *at = strchr(slash, '@');
    *colon = *slash = 0;
    if (at)
        *at = 0;
    *ns = buf;
    *pkg = colon + 1;
    *item = slash + 1;
    *ver = at ? at + 1 : NULL;
    return true;
}

kw_interface *
kw_find_interface(const kw_world_set *set, const char *qname)
{
    char buf[256];
    const char *ns, *pkg, *item, *ver;
    if (!split_qname(qname, buf, sizeof buf, &ns, &pkg, &item, &ver))
        return NULL;
    return pkg_iface(kw_find_package(set, ns, pkg, ver), item);
}

kw_world *
kw_find_world(const kw_world_set *set, const char *qname)
{
    char buf[256];
    const char *ns, *pkg, *item, *ver;
    if (!split_qname(qname, buf, sizeof buf, &ns, &pkg, &item, &ver))
        return NULL;
    return pkg_world(kw_find_package(set, ns, pkg, ver), item);
}

kw_typedef *
kw_find_type(const kw_interface *iface, const char *name)
{
    for (uint32_t i = 0; i < iface->ntypes; i++)
        if (eq(iface->types[i]->name, name))
            return iface->types[i];
    return NULL;
}

kw_func *
kw_find_func(const kw_interface *iface, const char *name)
{
    for (uint32_t i = 0; i < iface->nfuncs; i++)
        if (eq(iface->funcs[i]->name, name))
            return iface->funcs[i];
    return NULL;
}

kw_func *
kw_find_method(const kw_typedef *res, const char *name)
{
    for (uint32_t i = 0; i < res->nfuncs; i++)
        if (eq(res->funcs[i]->name, name))
            return res->funcs[i];
    return NULL;
}

const kw_type *
kw_type_unalias(const kw_type *t)
{
    for (int n = 0; t && n < 1000; n++) {
        if (t->kind != KW_T_NAMED || !t->def || t->def->kind != KW_D_ALIAS)
            return t;
        t = t->def->alias;
    }
    return t;
}

/* ---- resolving interface paths */

typedef struct resolver {
    kw_world_set *set;
    kw_arena *a;
    kumo_diag *d;
    uint32_t depth;
} resolver;

static char *
qualify(kw_arena *a, const kw_package *p, const char *item)
{
    size_t n = strlen(p->ns) + strlen(p->name) + strlen(item) + 4 +
               (p->version ? strlen(p->version) : 0);
    char *s = kw_alloc(a, n);
    if (s)
        snprintf(s, n, "%s:%s/%s%s%s", p->ns, p->name, item,
                 p->version ? "@" : "", p->version ? p->version : "");
    return s;
}

static int
find_path_pkg(resolver *R, const kw_path *path, kw_package **out)
{
    bool amb;
    *out = find_pkg(R->set, path->ns, path->pkg, path->version, &amb);
    if (*out)
        return 0;
    if (amb)
        return einval(R->d, &path->pos,
                      "package `%s:%s` is loaded in several versions; name "
                      "the version",
                      path->ns, path->pkg);
    return einval(R->d, &path->pos, "package `%s:%s%s%s` not found", path->ns,
                  path->pkg, path->version ? "@" : "",
                  path->version ? path->version : "");
}

/* An interface path as seen from file f of package pkg. */
static int
lookup_iface(resolver *R, kw_file *f, kw_package *pkg, const kw_path *path,
             kw_interface **out)
{
    kw_package *p;
    *out = NULL;
    if (path->ns) {
        TRY(find_path_pkg(R, path, &p));
        if (!(*out = pkg_iface(p, path->name)))
            return einval(R->d, &path->pos,
                          "interface `%s` not found in package `%s:%s`",
                          path->name, path->ns, path->pkg);
        return 0;
    }
    for (uint32_t i = 0; f && i < f->nuses; i++) {
        kw_tuse *u = &f->uses[i];
        if (eq(u->as ? u->as : u->path.name, path->name) && u->iface) {
            *out = u->iface;
            return 0;
        }
    }
    if (!(*out = pkg_iface(pkg, path->name)))
        return einval(R->d, &path->pos, "interface `%s` not found", path->name);
    return 0;
}

static int
lookup_world(resolver *R, kw_package *pkg, const kw_path *path, kw_world **out)
{
    kw_package *p = pkg;
    if (path->ns)
        TRY(find_path_pkg(R, path, &p));
    if (!(*out = pkg_world(p, path->name)))
        return einval(R->d, &path->pos, "world `%s` not found", path->name);
    return 0;
}

/* ---- names inside a scope (an interface or a world's scope) */

/* The definition a name denotes in scope: its own types, then its uses. */
static kw_typedef *
scope_def(const kw_interface *s, const char *name)
{
    kw_typedef *td = kw_find_type(s, name);
    if (td)
        return td;
    for (uint32_t i = 0; i < s->nuses; i++) {
        kw_use *u = s->uses[i];
        for (uint32_t j = 0; j < u->nnames; j++) {
            kw_use_name *n = &u->names[j];
            if (eq(n->as ? n->as : n->name, name))
                return n->target;
        }
    }
    return NULL;
}

static int
check_dup(resolver *R, const char **seen, uint32_t n, const char *name,
          const kw_pos *pos, const char *what)
{
    for (uint32_t i = 0; i < n; i++)
        if (eq(seen[i], name))
            return einval(R->d, pos, "%s `%s` is defined more than once", what,
                          name);
    return 0;
}

/* Every name a scope defines (types, use imports, functions) once. */
static int
scope_dups(resolver *R, kw_interface *s)
{
    const char **seen = NULL;
    uint32_t n = 0;
    int rc = 0;
    for (uint32_t i = 0; i < s->nuses && !rc; i++)
        for (uint32_t j = 0; j < s->uses[i]->nnames && !rc; j++) {
            kw_use_name *u = &s->uses[i]->names[j];
            const char *nm = u->as ? u->as : u->name;
            if (!(rc = check_dup(R, seen, n, nm, &u->pos, "name")))
                rc = kw_push_ptr(R->a, &seen, &n, (void *)nm);
        }
    for (uint32_t i = 0; i < s->ntypes && !rc; i++) {
        kw_typedef *t = s->types[i];
        if (!(rc = check_dup(R, seen, n, t->name, &t->pos, "name")))
            rc = kw_push_ptr(R->a, &seen, &n, (void *)t->name);
    }
    for (uint32_t i = 0; i < s->nfuncs && !rc; i++) {
        kw_func *f = s->funcs[i];
        if (!(rc = check_dup(R, seen, n, f->name, &f->pos, "name")))
            rc = kw_push_ptr(R->a, &seen, &n, (void *)f->name);
    }
    return rc;
}

/* ---- types */

static kw_typedef *
deref_alias(kw_typedef *td)
{
    for (int n = 0; td && td->kind == KW_D_ALIAS && n < 1000; n++) {
        if (!td->alias || td->alias->kind != KW_T_NAMED)
            return td;
        td = td->alias->def;
    }
    return td;
}

static int
resolve_type(resolver *R, kw_interface *s, kw_type *t, unsigned depth)
{
    if (!t)
        return 0;
    if (depth > 200)
        return kw_error(R->d, KUMO_ELIMIT, &t->pos, "type nested too deeply");
    switch (t->kind) {
    case KW_T_NAMED:
    case KW_T_BORROW:
    case KW_T_OWN:
        if (!(t->def = scope_def(s, t->name)))
            return einval(R->d, &t->pos, "type `%s` is not defined", t->name);
        return 0;
    case KW_T_TUPLE:
        for (uint32_t i = 0; i < t->nitems; i++)
            TRY(resolve_type(R, s, t->items[i], depth + 1));
        return 0;
    default:
        TRY(resolve_type(R, s, t->elem, depth + 1));
        TRY(resolve_type(R, s, t->ok, depth + 1));
        return resolve_type(R, s, t->err, depth + 1);
    }
}

/* Handles must name resources (second pass: aliases are resolved). */
static int
check_handles(resolver *R, kw_type *t, unsigned depth)
{
    if (!t || depth > 200)
        return 0;
    if (t->kind == KW_T_BORROW || t->kind == KW_T_OWN) {
        kw_typedef *r = deref_alias(t->def);
        if (!r || r->kind != KW_D_RESOURCE)
            return einval(R->d, &t->pos, "`%s` is not a resource type",
                          t->name);
    }
    for (uint32_t i = 0; i < t->nitems; i++)
        TRY(check_handles(R, t->items[i], depth + 1));
    TRY(check_handles(R, t->elem, depth + 1));
    TRY(check_handles(R, t->ok, depth + 1));
    return check_handles(R, t->err, depth + 1);
}

static int visit_def(resolver *R, kw_typedef *td);

/* Definitions a type contains by value (handles do not count). R->depth
 * counts every frame of this recursion to bound the stack. */
static int
visit_type(resolver *R, kw_typedef *from, kw_type *t)
{
    if (!t)
        return 0;
    if (++R->depth > MAX_DEPTH)
        return kw_error(R->d, KUMO_ELIMIT, &t->pos, "types nested too deeply");
    if (t->kind == KW_T_NAMED && t->def && t->def->kind != KW_D_RESOURCE) {
        if (t->def->mark == 1)
            return einval(R->d, &t->pos,
                          "type `%s` refers to itself (through `%s`)",
                          t->def->name, from->name);
        if (t->def->mark == 0)
            TRY(visit_def(R, t->def));
    }
    for (uint32_t i = 0; i < t->nitems; i++)
        TRY(visit_type(R, from, t->items[i]));
    TRY(visit_type(R, from, t->elem));
    TRY(visit_type(R, from, t->ok));
    TRY(visit_type(R, from, t->err));
    R->depth--;
    return 0;
}

static int
visit_def(resolver *R, kw_typedef *td)
{
    if (++R->depth > MAX_DEPTH)
        return kw_error(R->d, KUMO_ELIMIT, &td->pos, "types nested too deeply");
    td->mark = 1;
    TRY(visit_type(R, td, td->alias));
    for (uint32_t i = 0; i < td->nfields; i++)
        TRY(visit_type(R, td, td->fields[i].type));
    td->mark = 2;
    R->depth--;
    return 0;
}

/* Does t contain a borrow handle (looking through named non-resources)? */
static bool
has_borrow(const kw_type *t, unsigned depth)
{
    if (!t || depth > 64)
        return false;
    if (t->kind == KW_T_BORROW)
        return true;
    if (t->kind == KW_T_NAMED && t->def && t->def->kind != KW_D_RESOURCE) {
        if (has_borrow(t->def->alias, depth + 1))
            return true;
        for (uint32_t i = 0; i < t->def->nfields; i++)
            if (has_borrow(t->def->fields[i].type, depth + 1))
                return true;
        return false;
    }
    for (uint32_t i = 0; i < t->nitems; i++)
        if (has_borrow(t->items[i], depth + 1))
            return true;
    return has_borrow(t->elem, depth + 1) || has_borrow(t->ok, depth + 1) ||
           has_borrow(t->err, depth + 1);
}

static int
resolve_func(resolver *R, kw_interface *s, kw_func *f)
{
    for (uint32_t i = 0; i < f->nparams; i++) {
        kw_field *p = &f->params[i];
        for (uint32_t j = 0; j < i; j++)
            if (eq(f->params[j].name, p->name))
                return einval(R->d, &p->pos,
                              "parameter `%s` is defined more than once",
                              p->name);
        if (f->kind == KW_F_METHOD && eq(p->name, "self"))
            return einval(R->d, &p->pos,
                          "a method's `self` parameter is implicit");
        TRY(resolve_type(R, s, p->type, 0));
        TRY(check_handles(R, p->type, 0));
    }
    TRY(resolve_type(R, s, f->result, 0));
    TRY(check_handles(R, f->result, 0));
    if (has_borrow(f->result, 0))
        return einval(R->d, &f->result->pos,
                      "function results cannot contain `borrow` handles");
    return 0;
}

static int
resolve_resource(resolver *R, kw_interface *s, kw_typedef *td)
{
    bool ctor = false;
    for (uint32_t i = 0; i < td->nfuncs; i++) {
        kw_func *f = td->funcs[i];
        if (f->kind == KW_F_CONSTRUCTOR) {
            if (ctor)
                return einval(R->d, &f->pos,
                              "resource `%s` has more than one constructor",
                              td->name);
            ctor = true;
        } else {
            for (uint32_t j = 0; j < i; j++)
                if (eq(td->funcs[j]->name, f->name))
                    return einval(R->d, &f->pos,
                                  "`%s` is defined more than once in "
                                  "resource `%s`",
                                  f->name, td->name);
        }
        TRY(resolve_func(R, s, f));
        if (f->kind == KW_F_CONSTRUCTOR && f->result) {
            const kw_type *r = f->result;
            const kw_type *ok = r->kind == KW_T_RESULT ? r->ok : r;
            if (!ok || ok->kind != KW_T_NAMED || ok->def != td)
                return einval(R->d, &r->pos,
                              "a constructor of `%s` must return `%s` or "
                              "`result<%s, E>`",
                              td->name, td->name, td->name);
        }
    }
    return 0;
}

static int
check_fields(resolver *R, kw_typedef *td)
{
    for (uint32_t i = 0; i < td->nfields; i++)
        for (uint32_t j = 0; j < i; j++)
            if (eq(td->fields[j].name, td->fields[i].name))
                return einval(R->d, &td->fields[i].pos,
                              "`%s` is defined more than once in `%s`",
                              td->fields[i].name, td->name);
    return 0;
}

/* ---- interfaces */

static int resolve_scope(resolver *R, kw_interface *s, kw_file *f,
                         kw_package *pkg);

static int
resolve_uses(resolver *R, kw_interface *s, kw_file *f, kw_package *pkg)
{
    for (uint32_t i = 0; i < s->nuses; i++) {
        kw_use *u = s->uses[i];
        TRY(lookup_iface(R, f, pkg, &u->path, &u->from));
        if (u->from == s)
            return einval(R->d, &u->path.pos,
                          "interface `%s` cannot use itself", s->name);
        if (u->from->mark == 1)
            return einval(R->d, &u->path.pos,
                          "interfaces `%s` and `%s` use each other (cycle)",
                          s->name, u->from->name);
        if (u->from->mark == 0)
            TRY(resolve_scope(R, u->from, u->from->file, u->from->pkg));
        for (uint32_t j = 0; j < u->nnames; j++) {
            kw_use_name *n = &u->names[j];
            if (!(n->target = scope_def(u->from, n->name)))
                return einval(R->d, &n->pos,
                              "type `%s` is not defined in interface `%s`",
                              n->name, u->from->name);
        }
    }
    return 0;
}

static int
resolve_scope(resolver *R, kw_interface *s, kw_file *f, kw_package *pkg)
{
    if (++R->depth > MAX_DEPTH)
        return kw_error(R->d, KUMO_ELIMIT, &s->pos,
                        "interfaces use each other too deeply");
    s->mark = 1;
    TRY(resolve_uses(R, s, f, pkg));
    TRY(scope_dups(R, s));
    for (uint32_t i = 0; i < s->ntypes; i++) {
        kw_typedef *td = s->types[i];
        TRY(resolve_type(R, s, td->alias, 0));
        for (uint32_t j = 0; j < td->nfields; j++)
            TRY(resolve_type(R, s, td->fields[j].type, 0));
        TRY(check_fields(R, td));
    }
    for (uint32_t i = 0; i < s->ntypes; i++) {
        kw_typedef *td = s->types[i];
        TRY(check_handles(R, td->alias, 0));
        for (uint32_t j = 0; j < td->nfields; j++)
            TRY(check_handles(R, td->fields[j].type, 0));
        if (td->mark == 0)
            TRY(visit_def(R, td));
        if (td->kind == KW_D_RESOURCE)
            TRY(resolve_resource(R, s, td));
    }
    for (uint32_t i = 0; i < s->nfuncs; i++)
        TRY(resolve_func(R, s, s->funcs[i]));
    s->mark = 2;
    R->depth--;
    return 0;
}

/* ---- worlds */

static kw_extern *
find_extern(kw_extern *xs, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (eq(xs[i].name, name))
            return &xs[i];
    return NULL;
}

static int
add_extern(resolver *R, kw_world *w, bool is_export, const char *name,
           kw_interface *iface, kw_func *fn, const kw_pos *pos)
{
    kw_extern **xs = is_export ? &w->exports : &w->imports;
    uint32_t *n = is_export ? &w->nexports : &w->nimports;
    kw_extern *old = find_extern(*xs, *n, name);
    if (old) {
        if (old->iface == iface && old->func == fn && iface &&
            !iface->inline_in)
            return 0;
        return einval(R->d, pos, "%s `%s` conflicts with another %s",
                      is_export ? "export" : "import", name,
                      is_export ? "export" : "import");
    }
    kw_extern *x = kw_push(R->a, xs, n, sizeof *x);
    if (!x)
        return KUMO_ENOMEM;
    x->name = name;
    x->iface = iface;
    x->func = fn;
    return 0;
}

/* Import iface and, first, every interface it uses (transitively), unless
 * the world exports it. */
static int
import_deps(resolver *R, kw_world *w, kw_interface *iface, bool self,
            unsigned depth)
{
    if (depth > MAX_DEPTH)
        return kw_error(R->d, KUMO_ELIMIT, &iface->pos, "uses too deep");
    for (uint32_t i = 0; i < iface->nuses; i++) {
        kw_interface *dep = iface->uses[i]->from;
        if (dep && dep->qname &&
            !find_extern(w->imports, w->nimports, dep->qname) &&
            !find_extern(w->exports, w->nexports, dep->qname))
            TRY(import_deps(R, w, dep, true, depth + 1));
    }
    if (!self)
        return 0;
    return add_extern(R, w, false, iface->qname, iface, NULL, &iface->pos);
}

static const char *
renamed(const kw_witem *inc, const char *name)
{
    for (uint32_t i = 0; i < inc->nwith; i++)
        if (eq(inc->with[i].from, name))
            return inc->with[i].to;
    return name;
}

static int resolve_world(resolver *R, kw_world *w);

/* Externs with a plain name (functions, inline interfaces, `name: path`)
 * as opposed to interfaces imported under their qualified name. */
static bool
is_named(const kw_extern *x)
{
    return !x->iface || x->iface->inline_in || !eq(x->name, x->iface->qname);
}

static int
world_include(resolver *R, kw_world *w, kw_witem *it)
{
    kw_world *inc;
    TRY(lookup_world(R, w->pkg, &it->path, &inc));
    if (inc == w || inc->mark == 1)
        return einval(R->d, &it->path.pos, "world `%s` includes itself (cycle)",
                      inc->name);
    if (inc->mark == 0)
        TRY(resolve_world(R, inc));
    it->included = inc;
    for (uint32_t i = 0; i < it->nwith; i++) {
        const char *from = it->with[i].from;
        kw_extern *x = find_extern(inc->imports, inc->nimports, from);
        if (!x)
            x = find_extern(inc->exports, inc->nexports, from);
        if (!x || !is_named(x))
            return einval(R->d, &it->pos,
                          "`with` renames `%s`, which world `%s` does not "
                          "import or export by that name",
                          from, inc->name);
    }
    for (uint32_t i = 0; i < inc->nimports; i++) {
        kw_extern *x = &inc->imports[i];
        bool named = is_named(x);
        TRY(add_extern(R, w, false, named ? renamed(it, x->name) : x->name,
                       x->iface, x->func, &it->pos));
    }
    for (uint32_t i = 0; i < inc->nexports; i++) {
        kw_extern *x = &inc->exports[i];
        bool named = is_named(x);
        TRY(add_extern(R, w, true, named ? renamed(it, x->name) : x->name,
                       x->iface, x->func, &it->pos));
    }
    return 0;
}

static int
world_extern(resolver *R, kw_world *w, kw_witem *it)
{
    bool exp = it->kind == KW_W_EXPORT;
    switch (it->xkind) {
    case KW_X_FUNC:
        TRY(resolve_func(R, w->scope, it->func));
        return add_extern(R, w, exp, it->name, NULL, it->func, &it->pos);
    case KW_X_INLINE:
        it->iface->qname = it->name;
        TRY(resolve_scope(R, it->iface, w->file, w->pkg));
        TRY(import_deps(R, w, it->iface, false, 0));
        return add_extern(R, w, exp, it->name, it->iface, NULL, &it->pos);
    default:
        TRY(lookup_iface(R, w->file, w->pkg, &it->path, &it->iface));
        TRY(import_deps(R, w, it->iface, false, 0));
        return add_extern(R, w, exp,
                          it->xkind == KW_X_PATH ? it->iface->qname : it->name,
                          it->iface, NULL, &it->pos);
    }
}

static int
resolve_world(resolver *R, kw_world *w)
{
    if (++R->depth > MAX_DEPTH)
        return kw_error(R->d, KUMO_ELIMIT, &w->pos,
                        "worlds include each other too deeply");
    w->mark = 1;
    w->scope->qname = w->qname;
    TRY(resolve_scope(R, w->scope, w->file, w->pkg));
    TRY(import_deps(R, w, w->scope, false, 0));
    for (uint32_t i = 0; i < w->nitems; i++) {
        kw_witem *it = w->items[i];
        if (it->kind == KW_W_INCLUDE)
            TRY(world_include(R, w, it));
        else
            TRY(world_extern(R, w, it));
    }
    w->mark = 2;
    R->depth--;
    return 0;
}

/* ---- packages */

static int
name_pkg(resolver *R, kw_package *p)
{
    for (uint32_t i = 0; i < p->nifaces; i++) {
        kw_interface *it = p->ifaces[i];
        for (uint32_t j = 0; j < i; j++)
            if (eq(p->ifaces[j]->name, it->name))
                return einval(R->d, &it->pos,
                              "interface `%s` is defined more than once",
                              it->name);
        if (!(it->qname = qualify(R->a, p, it->name)))
            return KUMO_ENOMEM;
    }
    for (uint32_t i = 0; i < p->nworlds; i++) {
        kw_world *w = p->worlds[i];
        if (pkg_iface(p, w->name) || pkg_world(p, w->name) != w)
            return einval(R->d, &w->pos, "`%s` is defined more than once",
                          w->name);
        if (!(w->qname = qualify(R->a, p, w->name)))
            return KUMO_ENOMEM;
    }
    return 0;
}

static int
resolve_file_uses(resolver *R, kw_file *f)
{
    for (uint32_t i = 0; i < f->nuses; i++) {
        kw_tuse *u = &f->uses[i];
        const char *nm = u->as ? u->as : u->path.name;
        for (uint32_t j = 0; j < i; j++)
            if (eq(f->uses[j].as ? f->uses[j].as : f->uses[j].path.name, nm))
                return einval(R->d, &u->path.pos,
                              "`%s` is defined more than once", nm);
        if (f->pkg && pkg_iface(f->pkg, nm) &&
            (u->path.ns || !eq(nm, u->path.name)))
            return einval(R->d, &u->path.pos, "`%s` is defined more than once",
                          nm);
        kw_file none = {0};
        TRY(lookup_iface(R, &none, f->pkg, &u->path, &u->iface));
    }
    return 0;
}

static bool
in_set(const kw_world_set *set, const kw_package *p)
{
    for (uint32_t i = 0; p && i < set->npkgs; i++)
        if (set->pkgs[i] == p)
            return !p->resolved;
    return false;
}

int
kw_resolve(kw_world_set *set, kumo_diag *d)
{
    resolver R = {.set = set, .a = set->arena, .d = d};
    for (uint32_t i = 0; i < set->npkgs; i++)
        if (!set->pkgs[i]->resolved)
            TRY(name_pkg(&R, set->pkgs[i]));
    for (uint32_t i = 0; i < set->nfiles; i++)
        if (in_set(set, set->files[i]->pkg))
            TRY(resolve_file_uses(&R, set->files[i]));
    for (uint32_t i = 0; i < set->npkgs; i++) {
        kw_package *p = set->pkgs[i];
        if (p->resolved)
            continue;
        for (uint32_t j = 0; j < p->nifaces; j++)
            if (p->ifaces[j]->mark == 0)
                TRY(resolve_scope(&R, p->ifaces[j], p->ifaces[j]->file, p));
        for (uint32_t j = 0; j < p->nworlds; j++)
            if (p->worlds[j]->mark == 0)
                TRY(resolve_world(&R, p->worlds[j]));
    }
    for (uint32_t i = 0; i < set->npkgs; i++)
        set->pkgs[i]->resolved = true;
    return 0;
}
