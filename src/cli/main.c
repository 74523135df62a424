/* main.c - the kumo command-line tool: command dispatch, `help`,
 * `version` and `inspect`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kumo/component.h"
#include "kumo/engine.h"

typedef struct command {
    const char *name;
    const char *args;
    const char *help;
    int (*fn)(int argc, char **argv);
} command;

static const command commands[] = {
#define KC_ENTRY(name, args, help) {#name, args, help, kc_cmd_##name},
    KUMO_CLI_COMMANDS(KC_ENTRY)
#undef KC_ENTRY
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void
usage(FILE *f)
{
    fprintf(f, "usage: kumo <command> [args]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[i].name,
                 commands[i].args);
        fprintf(f, "  %-36s %s\n", head, commands[i].help);
    }
}

int
kc_cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

int
kc_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kumo %s\n", KUMO_VERSION);
    return 0;
}

int
kc_read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return -1;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                errno = ENOMEM;
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                errno = EIO;
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    fclose(f);
    return -1;
}

/* ---- inspect ---- */

static const char *
valtype_name(kumo_valtype t)
{
    switch (t) {
    case KUMO_I32:
        return "i32";
    case KUMO_I64:
        return "i64";
    case KUMO_F32:
        return "f32";
    case KUMO_F64:
        return "f64";
    case KUMO_V128:
        return "v128";
    case KUMO_FUNCREF:
        return "funcref";
    case KUMO_EXTERNREF:
        return "externref";
    }
    return "?";
}

static void
print_types(uint32_t n, const kumo_valtype *types)
{
    putchar('(');
    for (uint32_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", valtype_name(types[i]));
    putchar(')');
}

static void
print_limits(const kumo_limits *l)
{
    if (l->has_max)
        printf("%llu..%llu", (unsigned long long)l->min,
               (unsigned long long)l->max);
    else
        printf("%llu..", (unsigned long long)l->min);
}

static void
print_desc(const kumo_externdesc *d)
{
    switch (d->kind) {
    case KUMO_EXTERN_FUNC:
        printf("func[%u] ", d->index);
        print_types(d->func.nparams, d->func.params);
        printf(" -> ");
        print_types(d->func.nresults, d->func.results);
        break;
    case KUMO_EXTERN_TABLE:
        printf("table[%u] %s ", d->index, valtype_name(d->elem_type));
        print_limits(&d->limits);
        break;
    case KUMO_EXTERN_MEMORY:
        printf("memory[%u] ", d->index);
        print_limits(&d->limits);
        printf(" pages");
        break;
    case KUMO_EXTERN_GLOBAL:
        printf("global[%u] %s%s", d->index, d->global_mutable ? "mut " : "",
               valtype_name(d->global_type));
        break;
    }
}

static void
print_module(const kumo_module *m)
{
    uint32_t ni = kumo_module_import_count(m);
    uint32_t ne = kumo_module_export_count(m);
    kumo_externdesc d;

    printf("imports (%u):\n", ni);
    for (uint32_t i = 0; i < ni; i++) {
        kumo_module_import(m, i, &d);
        printf("  \"%.*s\" \"%.*s\": ", (int)d.module_len, d.module,
               (int)d.name_len, d.name);
        print_desc(&d);
        putchar('\n');
    }
    printf("exports (%u):\n", ne);
    for (uint32_t i = 0; i < ne; i++) {
        kumo_module_export(m, i, &d);
        printf("  \"%.*s\": ", (int)d.name_len, d.name);
        print_desc(&d);
        if (d.kind == KUMO_EXTERN_FUNC) {
            const char *fname = kumo_module_func_name(m, d.index);
            if (fname)
                printf("  $%s", fname);
        }
        putchar('\n');
    }
}

/* A decimal count with an optional k/m/g (binary) suffix, for sizes and
 * numbers on command lines. 0 or -1 (empty, sign, junk, overflow). */
int
kc_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    int shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        break;
    }
    if (shift) {
        if (v > (ULLONG_MAX >> shift))
            return -1;
        v <<= shift;
        end++;
    }
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int
kc_read_app(const char *cmd, const char *path, uint8_t **out, size_t *len)
{
    if (kc_read_file(path, out, len) == 0)
        return 0;
    fprintf(stderr, "kumo %s: %s: %s\n", cmd, path, strerror(errno));
    return -1;
}

void
kc_print_load_error(const char *path, int rc, const kumo_diag *d)
{
    fprintf(stderr, "%s:0x%zx: error: %s: %s\n", path, d->offset,
            kumo_strerror(rc), d->message[0] ? d->message : kumo_strerror(rc));
}

static const char *
sort_name(kumo_component_sort sort)
{
    static const char *const names[] = {"core module", "func", "value",
                                        "type", "component", "instance"};
    return (unsigned)sort < 6 ? names[sort] : "?";
}

static void
print_item(const kumo_component_item *it)
{
    printf("  %s %.*s", sort_name(it->sort), (int)it->name_len, it->name);
    if (it->version)
        printf(" (version %.*s)", (int)it->version_len, it->version);
    putchar('\n');
}

/* `kumo inspect` of a component: decode, validate, list imports/exports. */
static int
inspect_component(const char *path, uint8_t *bytes, size_t len)
{
    kumo_component *c = NULL;
    kumo_component_item it;
    kumo_diag diag;
    int rc;

    memset(&diag, 0, sizeof diag);
    rc = kumo_component_new(bytes, len, &c, &diag);
    free(bytes);
    if (rc == 0) {
        memset(&diag, 0, sizeof diag);
        rc = kumo_component_validate(c, &diag);
    }
    if (rc < 0) {
        kc_print_load_error(path, rc, &diag);
        kumo_component_free(c);
        return 1;
    }
    const char *async = kumo_component_async_feature(c);
    printf("%s: valid component, %zu bytes%s%s\n", path, len,
           async ? ", uses async: " : "", async ? async : "");
    uint32_t ni = kumo_component_import_count(c);
    uint32_t ne = kumo_component_export_count(c);
    printf("imports (%u):\n", ni);
    for (uint32_t i = 0; i < ni; i++)
        if (kumo_component_import(c, i, &it) == 0)
            print_item(&it);
    printf("exports (%u):\n", ne);
    for (uint32_t i = 0; i < ne; i++)
        if (kumo_component_export(c, i, &it) == 0)
            print_item(&it);
    kumo_component_free(c);
    return 0;
}

int
kc_cmd_inspect(int argc, char **argv)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kumo_module *m = NULL;
    kumo_diag diag;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: kumo inspect APP.wasm\n");
        return 2;
    }
    if (kc_read_app("inspect", argv[1], &bytes, &len) < 0)
        return 1;
    /* a component's preamble: layer 1 in the upper half of the version */
    if (len >= 8 && bytes[6] == 1 && bytes[7] == 0)
        return inspect_component(argv[1], bytes, len);
    memset(&diag, 0, sizeof diag);
    rc = kumo_module_new(bytes, len, &m, &diag);
    free(bytes);
    if (rc < 0) {
        kc_print_load_error(argv[1], rc, &diag);
        return 1;
    }
    printf("%s: valid module, %zu bytes\n", argv[1], len);
    print_module(m);
    kumo_module_free(m);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return kc_cmd_version(argc - 1, argv + 1);
    fprintf(stderr, "kumo: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
