/* test_witparse.c - the WIT front end (src/component/wit*.c): every WIT
 * package of the shared spec material (WASI 0.2.6, 0.2.12, 0.3.0, 0.3.0-rc,
 * the wasi drafts, wasmCloud) parses and resolves; known facts about them;
 * print -> parse -> print is a fixpoint and re-resolves; malformed snippets
 * give the expected file:line:col messages; allocation failures are clean.
 * Shared material is found through $KUMO_SHARED (default ../shared). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/component/witparse.h"
#include "unit.h"

static const char *
shared(void)
{
    const char *s = getenv("KUMO_SHARED");
    return s && *s ? s : "../shared";
}

static char *
mkpath(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s%s", a, b, c);
    return p;
}

/* Print a package into a malloc'd string. */
static char *
print_pkg(const kw_package *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    kw_print_package(f, p);
    fclose(f);
    return buf;
}

static struct {
    int sets, pkgs, ifaces, worlds, types, funcs, roundtrips;
} stats;

/* Print every package, parse the texts into a fresh set, resolve it, and
 * check that printing again gives the same text. */
static void
check_roundtrip(const kw_world_set *set)
{
    kw_world_set *again = NULL;
    kumo_diag d = {0};
    KT_REQUIRE(kw_set_new(&again) == 0);
    char **texts = calloc(set->npkgs, sizeof(char *));
    for (uint32_t i = 0; i < set->npkgs; i++) {
        texts[i] = print_pkg(set->pkgs[i]);
        int rc = kw_parse(again, "printed.wit", texts[i], strlen(texts[i]), &d);
        if (rc)
            fprintf(stderr, "  reparse: %s\n", d.message);
        KT_CHECK(rc == 0);
    }
    int rc = kw_resolve(again, &d);
    if (rc)
        fprintf(stderr, "  re-resolve: %s\n", d.message);
    KT_CHECK(rc == 0);
    KT_CHECK(again->npkgs == set->npkgs);
    for (uint32_t i = 0; i < set->npkgs && i < again->npkgs; i++) {
        char *t2 = print_pkg(again->pkgs[i]);
        KT_CHECK(t2 && strcmp(texts[i], t2) == 0);
        stats.roundtrips += t2 && strcmp(texts[i], t2) == 0;
        free(t2);
    }
    for (uint32_t i = 0; i < set->npkgs; i++)
        free(texts[i]);
    free(texts);
    kw_set_free(again);
}

static void
count(const kw_world_set *set)
{
    stats.sets++;
    for (uint32_t i = 0; i < set->npkgs; i++) {
        const kw_package *p = set->pkgs[i];
        stats.pkgs++;
        stats.ifaces += (int)p->nifaces;
        stats.worlds += (int)p->nworlds;
        for (uint32_t j = 0; j < p->nifaces; j++) {
            stats.types += (int)p->ifaces[j]->ntypes;
            stats.funcs += (int)p->ifaces[j]->nfuncs;
        }
    }
}

/* Load dirs (NULL-terminated) into one set and resolve. */
static kw_world_set *
load(char **dirs)
{
    kw_world_set *set = NULL;
    kumo_diag d = {0};
    if (kw_set_new(&set))
        return NULL;
    for (char **p = dirs; *p; p++) {
        if (kw_add_path(set, *p, &d)) {
            fprintf(stderr, "  %s\n", d.message);
            kw_set_free(set);
            return NULL;
        }
    }
    if (kw_resolve(set, &d)) {
        fprintf(stderr, "  %s\n", d.message);
        kw_set_free(set);
        return NULL;
    }
    return set;
}

/* Subdirectories of base (sorted by readdir order is fine), each + suffix. */
static char **
subdirs(const char *base, const char *suffix)
{
    char **out = calloc(64, sizeof(char *));
    int n = 0;
    DIR *dp = opendir(base);
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL && n < 63) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.') ||
            strcmp(e->d_name, "LICENSE") == 0)
            continue;
        out[n++] = mkpath(base, e->d_name, suffix);
    }
    if (dp)
        closedir(dp);
    return out;
}

static void
free_list(char **l)
{
    for (char **p = l; *p; p++)
        free(*p);
    free(l);
}

/* One set from every subdirectory of SHARED/spec/rel (+ suffix); facts is
 * called on it before it is freed. */
static void
group(const char *rel, const char *suffix, void (*facts)(kw_world_set *))
{
    char *base = mkpath(shared(), "spec/", rel);
    char **dirs = subdirs(base, suffix);
    kw_world_set *set = load(dirs);
    if (!set)
        fprintf(stderr, "  failed: %s\n", base);
    KT_CHECK(set != NULL);
    if (set) {
        count(set);
        check_roundtrip(set);
        if (facts)
            facts(set);
        kw_set_free(set);
    }
    free_list(dirs);
    free(base);
}

static void
one(const char *rel, void (*facts)(kw_world_set *))
{
    char *dirs[2] = {mkpath(shared(), "spec/", rel), NULL};
    kw_world_set *set = load(dirs);
    if (!set)
        fprintf(stderr, "  failed: %s\n", dirs[0]);
    KT_CHECK(set != NULL);
    if (set) {
        count(set);
        check_roundtrip(set);
        if (facts)
            facts(set);
        kw_set_free(set);
    }
    free(dirs[0]);
}

/* ---- facts */

static void
facts_026(kw_world_set *set)
{
    kw_interface *streams = kw_find_interface(set, "wasi:io/streams@0.2.6");
    KT_REQUIRE(streams != NULL);
    KT_CHECK(strcmp(streams->qname, "wasi:io/streams@0.2.6") == 0);
    KT_CHECK(kw_find_interface(set, "wasi:io/streams") == streams);
    KT_CHECK(streams->gate.since && strcmp(streams->gate.since, "0.2.0") == 0);
    kw_typedef *os = kw_find_type(streams, "output-stream");
    KT_REQUIRE(os && os->kind == KW_D_RESOURCE);
    KT_CHECK(os->docs &&
             strstr(os->docs, "be sure to fully flush your writes."));
    kw_func *bw = kw_find_method(os, "blocking-write-and-flush");
    KT_REQUIRE(bw != NULL);
    KT_CHECK(bw->kind == KW_F_METHOD && !bw->is_async);
    KT_REQUIRE(bw->nparams == 1);
    KT_CHECK(strcmp(bw->params[0].name, "contents") == 0);
    KT_CHECK(bw->params[0].type->kind == KW_T_LIST &&
             bw->params[0].type->elem->kind == KW_T_U8);
    KT_REQUIRE(bw->result && bw->result->kind == KW_T_RESULT);
    KT_CHECK(bw->result->ok == NULL);
    KT_REQUIRE(bw->result->err && bw->result->err->kind == KW_T_NAMED);
    KT_CHECK(bw->result->err->def == kw_find_type(streams, "stream-error"));
    KT_CHECK(bw->result->err->def->kind == KW_D_VARIANT);
    /* `error` in stream-error comes from wasi:io/error via use */
    kw_typedef *se = bw->result->err->def;
    KT_REQUIRE(se->nfields == 2);
    KT_CHECK(se->fields[0].type && se->fields[0].type->def &&
             se->fields[0].type->def->kind == KW_D_RESOURCE &&
             strcmp(se->fields[0].type->def->owner->qname,
                    "wasi:io/error@0.2.6") == 0);
    KT_CHECK(se->fields[1].type == NULL);

    kw_interface *http = kw_find_interface(set, "wasi:http/types@0.2.6");
    KT_REQUIRE(http != NULL);
    kw_typedef *fields = kw_find_type(http, "fields");
    KT_REQUIRE(fields && fields->kind == KW_D_RESOURCE);
    KT_CHECK(kw_find_method(fields, NULL) != NULL); /* constructor */
    kw_func *fl = kw_find_method(fields, "from-list");
    KT_CHECK(fl && fl->kind == KW_F_STATIC);
    /* incoming-body.stream returns result<input-stream> of wasi:io */
    kw_typedef *ib = kw_find_type(http, "incoming-body");
    kw_func *st = ib ? kw_find_method(ib, "stream") : NULL;
    KT_REQUIRE(st && st->result && st->result->ok);
    KT_CHECK(st->result->ok->def == kw_find_type(streams, "input-stream"));

    kw_world *cmd = kw_find_world(set, "wasi:cli/command@0.2.6");
    KT_REQUIRE(cmd != NULL);
    kw_world *imports = kw_find_world(set, "wasi:cli/imports@0.2.6");
    bool includes = false;
    for (uint32_t i = 0; i < cmd->nitems; i++)
        includes |= cmd->items[i]->kind == KW_W_INCLUDE &&
                    cmd->items[i]->included == imports;
    KT_CHECK(includes);
    bool has_streams = false, has_run = false;
    for (uint32_t i = 0; i < cmd->nimports; i++)
        has_streams |= cmd->imports[i].iface == streams;
    for (uint32_t i = 0; i < cmd->nexports; i++)
        has_run |= strcmp(cmd->exports[i].name, "wasi:cli/run@0.2.6") == 0;
    KT_CHECK(has_streams && has_run);
    KT_CHECK(cmd->nimports >= 20);

    kw_world *proxy = kw_find_world(set, "wasi:http/proxy@0.2.6");
    KT_REQUIRE(proxy != NULL);
    KT_CHECK(proxy->nexports == 1 &&
             strcmp(proxy->exports[0].name,
                    "wasi:http/incoming-handler@0.2.6") == 0);
    /* @unstable gates are kept */
    kw_interface *tz = kw_find_interface(set, "wasi:clocks/timezone@0.2.6");
    KT_CHECK(tz && tz->gate.unstable &&
             strcmp(tz->gate.unstable, "clocks-timezone") == 0);
}

static void
facts_030(kw_world_set *set)
{
    kw_interface *fs = kw_find_interface(set, "wasi:filesystem/types@0.3.0");
    KT_REQUIRE(fs != NULL);
    kw_typedef *desc = kw_find_type(fs, "descriptor");
    KT_REQUIRE(desc != NULL);
    kw_func *stat = kw_find_method(desc, "stat");
    KT_CHECK(stat && stat->is_async);
    kw_func *rvs = kw_find_method(desc, "read-via-stream");
    KT_REQUIRE(rvs && rvs->result && rvs->result->kind == KW_T_TUPLE);
    KT_REQUIRE(rvs->result->nitems == 2);
    KT_CHECK(rvs->result->items[0]->kind == KW_T_STREAM &&
             rvs->result->items[0]->elem->kind == KW_T_U8);
    KT_CHECK(rvs->result->items[1]->kind == KW_T_FUTURE);
    kw_world *svc = kw_find_world(set, "wasi:http/service@0.3.0");
    KT_CHECK(svc && svc->gate.since && strcmp(svc->gate.since, "0.3.0") == 0);
}

static void
facts_rc(kw_world_set *set)
{
    kw_world *b = kw_find_world(set, "wasmtime:wasi-http/bindings");
    KT_REQUIRE(b != NULL);
    KT_CHECK(b->nitems == 1 && b->items[0]->included &&
             strcmp(b->items[0]->included->qname,
                    "wasi:http/proxy@0.3.0-rc-2025-09-16") == 0);
    KT_CHECK(b->nimports > 5 && b->nexports == 1);
}

static void
facts_wash(kw_world_set *set)
{
    kw_world *w = kw_find_world(set, "wasmcloud:runtime/http-server@0.1.0");
    KT_REQUIRE(w != NULL);
    KT_CHECK(w->nexports == 1 && w->exports[0].iface &&
             strcmp(w->exports[0].iface->qname,
                    "wasi:http/incoming-handler@0.2.0") == 0);
    /* two versions of wasi:io: a versionless lookup is ambiguous */
    KT_CHECK(kw_find_interface(set, "wasi:io/streams@0.2.1") != NULL);
    KT_CHECK(kw_find_interface(set, "wasi:io/streams") == NULL);
}

KT_TEST(wit_spec_packages)
{
    memset(&stats, 0, sizeof stats);
    group("wasi/0.2.6/wasip2", "", facts_026);
    group("wasi/0.2.12/proposals", "/wit", NULL);
    group("wasi/0.3.0/proposals", "/wit", facts_030);
    one("wasi/0.3.0-rc-2025-09-16/wit", facts_rc);
    static const char *const drafts[] = {
        "wasi-drafts/blobstore/0.2.0-draft/wit",
        "wasi-drafts/config/0.2.0-draft/wit",
        "wasi-drafts/keyvalue/0.2.0-draft/wit",
        "wasi-drafts/keyvalue/0.2.0-draft2/wit",
        "wasi-drafts/logging/0.1.0-draft/wit",
    };
    for (size_t i = 0; i < sizeof drafts / sizeof drafts[0]; i++)
        one(drafts[i], NULL);
    char *base = mkpath(shared(), "spec/", "wasmcloud/wit");
    char **dirs = subdirs(base, "/wit");
    for (char **p = dirs; *p; p++)
        one(*p + strlen(shared()) + 6, NULL);
    free_list(dirs);
    free(base);
    one("wasmcloud/crates/wash-runtime/wit", facts_wash);
    printf("  wit: %d sets, %d packages, %d interfaces, %d worlds, %d types, "
           "%d functions, %d round-trips\n",
           stats.sets, stats.pkgs, stats.ifaces, stats.worlds, stats.types,
           stats.funcs, stats.roundtrips);
    KT_CHECK(stats.sets >= 16 && stats.pkgs >= 58);
}

/* ---- synthetic WIT covering the whole grammar */

static const char all_syntax[] =
    "/// the package\n"
    "package ex:all@1.2.3-rc.1+build.5;\n"
    "use ex:all/base@1.2.3-rc.1+build.5 as b2;\n"
    "\n"
    "/** block doc */\n"
    "@since(version = 1.0.0, feature = fancy)\n"
    "interface base {\n"
    "  resource res { constructor(x: u32); m: func(); s: static func() -> "
    "res;\n"
    "    a: async func(); }\n"
    "  record point { x: s32, y: s32, }\n"
    "  /* plain comment /* nested */ */\n"
    "  flags perms { read, write }\n"
    "  flags none {}\n"
    "  enum color { red, green }\n"
    "  variant v { a, b(string), c(list<u8, 4>) }\n"
    "  type t1 = tuple<u8, s8, u16, s16, u32, s32, u64, s64, f32, f64, char, "
    "bool,>;\n"
    "  type t2 = result; type t3 = result<u8>; type t4 = result<_, u8>;\n"
    "  type t5 = result<u8, string>; type t6 = option<list<point>>;\n"
    "  type t7 = map<string, u32>; type t8 = future; type t9 = stream;\n"
    "  type t10 = future<u8>; type t11 = stream<color>; type t12 = own<res>;\n"
    "  type t13 = error-context; type %type = borrow<res>;\n"
    "  @unstable(feature = x) @deprecated(version = 0.1.0)\n"
    "  %func: func(%list: list<t1>, p: perms) -> result<res, v>;\n"
    "  @external-id(\"a\\\"b\\u{2603}\") g: async func();\n"
    "}\n"
    "interface user {\n"
    "  use b2.{res, point as pt};\n"
    "  use base.{color};\n"
    "  f: func(r: borrow<res>, p: pt, c: color) -> res;\n"
    "}\n"
    "world w1 { import a: func(); export b: interface { f: func(); } }\n"
    "world w2 {\n"
    "  use base.{point};\n"
    "  type local = list<point>;\n"
    "  import user; import ex:all/base@1.2.3-rc.1+build.5;\n"
    "  import named: base;\n"
    "  include w1 with { a as a2, b as b2 };\n"
    "  export run: func(l: local) -> u32;\n"
    "}\n"
    "package ex:dep {\n"
    "  interface i { type x = u8; }\n"
    "  world dw { import i; }\n"
    "}\n";

KT_TEST(wit_all_syntax)
{
    kw_world_set *set = NULL;
    kumo_diag d = {0};
    KT_REQUIRE(kw_set_new(&set) == 0);
    int rc = kw_parse(set, "all.wit", all_syntax, strlen(all_syntax), &d);
    if (rc)
        fprintf(stderr, "  %s\n", d.message);
    KT_REQUIRE(rc == 0);
    rc = kw_resolve(set, &d);
    if (rc)
        fprintf(stderr, "  %s\n", d.message);
    KT_REQUIRE(rc == 0);
    KT_REQUIRE(set->npkgs == 2);
    kw_package *p = kw_find_package(set, "ex", "all", "1.2.3-rc.1+build.5");
    KT_REQUIRE(p && p->docs && strcmp(p->docs, "the package") == 0);
    kw_interface *base = kw_find_interface(set, "ex:all/base");
    KT_REQUIRE(base != NULL);
    KT_CHECK(base->docs && strcmp(base->docs, "block doc") == 0);
    KT_CHECK(strcmp(base->gate.since_feature, "fancy") == 0);
    kw_func *fn = kw_find_func(base, "func");
    KT_REQUIRE(fn && fn->gate.unstable && fn->gate.deprecated);
    KT_CHECK(strcmp(fn->params[0].name, "list") == 0);
    kw_func *g = kw_find_func(base, "g");
    KT_CHECK(g && g->is_async && g->gate.external_id &&
             strcmp(g->gate.external_id, "a\"b\xE2\x98\x83") == 0);
    kw_typedef *v = kw_find_type(base, "v");
    KT_REQUIRE(v && v->nfields == 3);
    KT_CHECK(v->fields[2].type->fixed_len == 4);
    kw_typedef *res = kw_find_type(base, "res");
    KT_REQUIRE(res && res->nfuncs == 4);
    KT_CHECK(res->funcs[0]->kind == KW_F_CONSTRUCTOR);
    KT_CHECK(res->funcs[2]->kind == KW_F_STATIC);
    KT_CHECK(res->funcs[3]->is_async);
    kw_interface *user = kw_find_interface(set, "ex:all/user");
    kw_func *f = kw_find_func(user, "f");
    KT_REQUIRE(f && f->nparams == 3);
    KT_CHECK(f->params[0].type->def == res);
    KT_CHECK(f->params[1].type->def == kw_find_type(base, "point"));
    KT_CHECK(f->result->def == res);
    kw_world *w2 = kw_find_world(set, "ex:all/w2@1.2.3-rc.1+build.5");
    KT_REQUIRE(w2 != NULL);
    /* imports: base (used by user / by the world), user, named, a2 */
    bool a2 = false, named = false;
    for (uint32_t i = 0; i < w2->nimports; i++) {
        a2 |= strcmp(w2->imports[i].name, "a2") == 0;
        named |= strcmp(w2->imports[i].name, "named") == 0 &&
                 w2->imports[i].iface == base;
    }
    KT_CHECK(a2 && named);
    KT_CHECK(w2->nimports == 4 && w2->nexports == 2);
    KT_CHECK(kw_find_world(set, "ex:dep/dw") != NULL);
    check_roundtrip(set);
    kw_set_free(set);
}

/* ---- error messages */

static const struct {
    const char *src;
    int code;
    const char *msg;
} bad[] = {
    {"package a:b;\ninterface i {\n  f: func() -> ;\n}\n", KUMO_EMALFORMED,
     "e.wit:3:16: expected a type, found `;`"},
    {"package a:b;\ninterface i {\n  type t = foo;\n}\n", KUMO_EINVALID,
     "e.wit:3:12: type `foo` is not defined"},
    {"package a:b;\ninterface i {\n  type t = u32;\n  type t = u64;\n}\n",
     KUMO_EINVALID, "e.wit:4:8: name `t` is defined more than once"},
    {"package a:b;\ninterface i {\n  record a { b: b }\n  record b { a: a "
     "}\n}\n",
     KUMO_EINVALID, "e.wit:4:17: type `a` refers to itself (through `b`)"},
    {"package a:b;\ninterface i {\n  type t = t;\n}\n", KUMO_EINVALID,
     "e.wit:3:12: type `t` refers to itself (through `t`)"},
    {"package a:b;\ninterface camelCase {}\n", KUMO_EMALFORMED,
     "e.wit:2:11: invalid identifier `camelCase` (expected kebab-case)"},
    {"package a:b;\n/* open\n", KUMO_EMALFORMED,
     "e.wit:2:1: unterminated block comment"},
    {"package a:b;\ninterface i {\n  f: func(list: u32);\n}\n", KUMO_EMALFORMED,
     "e.wit:3:11: expected an identifier, found keyword `list` (write "
     "`%list` to use it as a name)"},
    {"package a:b;\ninterface i {\n  type t = u32;\n  f: func(x: "
     "borrow<t>);\n}\n",
     KUMO_EINVALID, "e.wit:4:14: `t` is not a resource type"},
    {"package a:b;\ninterface i {\n  use nope.{x};\n}\n", KUMO_EINVALID,
     "e.wit:3:7: interface `nope` not found"},
    {"package a:b;\ninterface i {\n  use wasi:io/streams@9.9.9.{x};\n}\n",
     KUMO_EINVALID, "e.wit:3:7: package `wasi:io@9.9.9` not found"},
    {"package a:b@1.2;\n", KUMO_EMALFORMED,
     "e.wit:1:13: invalid version: expected MAJOR.MINOR.PATCH"},
    {"package a:b;\nworld w { include v; }\nworld v { include w; }\n",
     KUMO_EINVALID, "e.wit:3:19: world `w` includes itself (cycle)"},
    {"package a:b;\ninterface i { use j.{t}; type u = u8; }\ninterface j { "
     "use i.{u}; type t = u8; }\n",
     KUMO_EINVALID,
     "e.wit:3:19: interfaces `j` and `i` use each other "
     "(cycle)"},
    {"interface i {}\n", KUMO_EMALFORMED,
     "e.wit:1:1: no `package` declaration (add `package ns:name;`)"},
    {"package a:b;\ninterface i {\n  use j.{nope};\n}\ninterface j {}\n",
     KUMO_EINVALID,
     "e.wit:3:10: type `nope` is not defined in interface "
     "`j`"},
    {"package a:b;\ninterface i { resource r { constructor(); "
     "constructor(); } }\n",
     KUMO_EINVALID, "e.wit:2:43: resource `r` has more than one constructor"},
    {"package a:b;\n@since(version = 1.0.0) @unstable(feature = x)\n"
     "interface i {}\n",
     KUMO_EMALFORMED,
     "e.wit:2:26: an item cannot be both `@since` and `@unstable`"},
    {"package a:b;\n@sinse(version = 1.0.0)\ninterface i {}\n", KUMO_EMALFORMED,
     "e.wit:2:2: unknown annotation `@sinse` (expected @since, @unstable, "
     "@deprecated or @external-id)"},
    {"package a:b;\ninterface i { f: func(a: u8, a: u8); }\n", KUMO_EINVALID,
     "e.wit:2:30: parameter `a` is defined more than once"},
    {"package a:b;\ninterface i { enum e {} }\n", KUMO_EMALFORMED,
     "e.wit:2:20: `e` must have at least one case"},
    {"package a:b;\ninterface i { type t = list<u8, 0>; }\n", KUMO_EMALFORMED,
     "e.wit:2:33: invalid fixed list length `0`"},
    {"package a:b;\ninterface i { type t = u8 }\n", KUMO_EMALFORMED,
     "e.wit:2:27: expected `;`, found `}`"},
    {"package a:b;\ninterface i { type t = u8; }\npackage c:d;\n",
     KUMO_EMALFORMED,
     "e.wit:3:1: `package ...;` must be the first item of a file (later "
     "packages need a `{ }` body)"},
    {"package a:b;\ninterface i { x: func() -> \x01; }\n", KUMO_EMALFORMED,
     "e.wit:2:28: unexpected character 0x01"},
    {"package a:b;\ninterface i { resource r; f: func() -> option<borrow<r>>; "
     "}\n",
     KUMO_EINVALID,
     "e.wit:2:40: function results cannot contain `borrow` handles"},
    {"package a:b;\nworld v { import f: func(); }\n"
     "world w { include v with { g as h }; }\n",
     KUMO_EINVALID,
     "e.wit:3:11: `with` renames `g`, which world `v` does "
     "not import or export by that name"},
    {"package a:b;\nworld w { import a: func(); import a: func(); }\n",
     KUMO_EINVALID, "e.wit:2:36: import `a` conflicts with another import"},
};

KT_TEST(wit_errors)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kw_world_set *set = NULL;
        kumo_diag d = {0};
        KT_REQUIRE(kw_set_new(&set) == 0);
        int rc = kw_parse(set, "e.wit", bad[i].src, strlen(bad[i].src), &d);
        if (rc == 0)
            rc = kw_resolve(set, &d);
        if (rc != bad[i].code || strcmp(d.message, bad[i].msg) != 0)
            fprintf(stderr, "  case %zu: rc %d, \"%s\"\n", i, rc, d.message);
        KT_CHECK(rc == bad[i].code);
        KT_CHECK(strcmp(d.message, bad[i].msg) == 0);
        kw_set_free(set);
    }
}

/* ---- allocation failures */

static struct {
    long countdown;
    long live;
} fa;

static void *
failing_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        if (ptr)
            fa.live--;
        free(ptr);
        return NULL;
    }
    if (fa.countdown >= 0 && fa.countdown-- == 0)
        return NULL;
    void *p = realloc(ptr, new_size);
    if (p && !ptr)
        fa.live++;
    return p;
}

KT_TEST(wit_alloc_fail)
{
    int failures = 0;
    for (long n = 0; n < 400; n++) {
        fa.countdown = n;
        fa.live = 0;
        kumo_set_allocator(failing_alloc, NULL);
        kw_world_set *set = NULL;
        kumo_diag d = {0};
        int rc = kw_set_new(&set);
        if (rc == 0)
            rc = kw_parse(set, "all.wit", all_syntax, strlen(all_syntax), &d);
        if (rc == 0)
            rc = kw_resolve(set, &d);
        kw_set_free(set);
        bool done = fa.countdown >= 0; /* no failure injected: finished */
        kumo_set_allocator(NULL, NULL);
        KT_CHECK(rc == 0 || rc == KUMO_ENOMEM);
        KT_CHECK(fa.live == 0);
        failures += rc == KUMO_ENOMEM;
        if (done) {
            KT_CHECK(rc == 0);
            break;
        }
    }
    KT_CHECK(failures >= 5);
}

/* ---- directory layout: root files + deps/ with a folder and a file */

static void
write_file(const char *dir, const char *name, const char *text)
{
    char *p = mkpath(dir, "", name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

KT_TEST(wit_load_dir_deps)
{
    char root[] = "/tmp/kumo-wit-XXXXXX";
    KT_REQUIRE(mkdtemp(root) != NULL);
    char *deps = mkpath(root, "", "deps");
    char *d2 = mkpath(root, "", "deps/d2");
    KT_REQUIRE(mkdir(deps, 0700) == 0 && mkdir(d2, 0700) == 0);
    write_file(root, "a.wit",
               "package my:app@1.0.0;\n"
               "world app { import my:lib/api@0.1.0; export run: func(); }\n");
    write_file(root, "b.wit",
               "interface local { use my:lib/api@0.1.0.{handle}; "
               "f: func(h: handle); }\n");
    write_file(root, "notes.txt", "not wit");
    write_file(deps, "lib.wit",
               "package my:lib@0.1.0;\n"
               "interface api { use my:base/types.{id}; resource handle { "
               "id: func() -> id; } }\n"
               "package my:extra { interface x {} }\n");
    write_file(d2, "types.wit",
               "package my:base;\ninterface types { type id = u64; }\n");
    kw_world_set *set = NULL;
    kumo_diag d = {0};
    int rc = kw_load_dir(&set, root, &d);
    if (rc)
        fprintf(stderr, "  %s\n", d.message);
    KT_CHECK(rc == 0);
    if (set) {
        KT_CHECK(set->npkgs == 4);
        KT_CHECK(kw_find_interface(set, "my:extra/x") != NULL);
        kw_interface *local = kw_find_interface(set, "my:app/local@1.0.0");
        KT_REQUIRE(local != NULL);
        kw_func *f = kw_find_func(local, "f");
        KT_CHECK(f && f->params[0].type->def &&
                 strcmp(f->params[0].type->def->owner->qname,
                        "my:lib/api@0.1.0") == 0);
        kw_world *app = kw_find_world(set, "my:app/app@1.0.0");
        KT_REQUIRE(app != NULL);
        /* my:base/types is imported first, because my:lib/api uses it */
        KT_CHECK(app->nimports == 2 &&
                 strcmp(app->imports[0].name, "my:base/types") == 0 &&
                 strcmp(app->imports[1].name, "my:lib/api@0.1.0") == 0);
        KT_CHECK(app->nexports == 1 && app->exports[0].func);
        kw_set_free(set);
    }
    /* a broken dependency reports its own file and position */
    write_file(d2, "types.wit",
               "package my:base;\ninterface types { type "
               "id = u64 }\n");
    rc = kw_load_dir(&set, root, &d);
    KT_CHECK(rc == KUMO_EMALFORMED && set == NULL);
    if (!strstr(d.message, "deps/d2/types.wit:2:33: expected `;`"))
        fprintf(stderr, "  %s\n", d.message);
    KT_CHECK(strstr(d.message, "deps/d2/types.wit:2:33: expected `;`") != NULL);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    KT_CHECK(system(cmd) == 0);
    free(d2);
    free(deps);
}
