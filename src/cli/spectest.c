/* spectest.c - `kumo spectest`: runs WebAssembly spec-suite scripts in the
 * JSON form that wabt's wast2json writes (one JSON file plus .wasm files per
 * .wast), against the public engine API. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "kumo/engine.h"

/* Failure lines printed per script unless -v. */
#define MAX_REPORTED 20
/* Deep enough for the suite's recursive tests (about 200 frames), small
 * enough that assert_exhaustion is quick. */
#define SPEC_CALL_DEPTH 2000
/* Per-script time limit under --fork, in seconds. */
#define FORK_TIMEOUT 300

/* Every script command, defined once: X(type). */
#define SPEC_COMMANDS(X)                                                       \
    X(module)                                                                  \
    X(register)                                                                \
    X(action)                                                                  \
    X(assert_return)                                                           \
    X(assert_trap)                                                             \
    X(assert_exhaustion)                                                       \
    X(assert_invalid)                                                          \
    X(assert_malformed)                                                        \
    X(assert_unlinkable)                                                       \
    X(assert_uninstantiable)                                                   \
    X(assert_exception)

typedef struct opts {
    bool verbose, quiet, fork;
    bool all_features; /* enable every feature for every script */
    bool no_guard;     /* stores with KUMO_STORE_NO_GUARD */
} opts;

/* differs: passed with the right kind of failure but a message other than
 * the suite's (e.g. where wast2json's encoding lost what the text meant). */
typedef struct totals {
    long passed, failed, skipped, differs;
    kc_cm_counts cm; /* the component-model scripts among them */
} totals;

typedef struct named {
    char *name;
    kumo_instance *inst; /* NULL when the module failed to instantiate */
} named;

typedef struct script {
    const opts *o;
    const char *path; /* the JSON file */
    char *dir;        /* its folder, where the .wasm files are */
    kumo_store *store;
    kumo_linker *linker;
    kumo_instance *current;
    named *names;
    size_t nnames, capnames;
    kumo_module **mods; /* kept until the store is gone */
    size_t nmods, capmods;
    long passed, failed, skipped, differs;
    kumo_features features; /* WebAssembly 2.0 plus the script's proposal */
    int line;         /* line of the current command in the .wast */
    const char *type; /* type of the current command */
} script;

/* The outcome of an action: results, or a trap/error code with a
 * message. */
typedef struct outcome {
    int rc;
    uint32_t n;
    kumo_val *vals;
    const kumo_valtype *types;
    kumo_valtype global_type;
    char msg[256];
} outcome;

/* ---- reporting ---- */

static void
pass(script *s)
{
    s->passed++;
}

static void
fail(script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(script *s, const char *fmt, ...)
{
    va_list ap;

    s->failed++;
    if (s->failed > MAX_REPORTED && !s->o->verbose)
        return;
    printf("%s:%d: %s: ", s->path, s->line, s->type);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* The suite's expected texts are sometimes shortened, ours sometimes carry
 * detail: accept either containing the other. */
static bool
msg_matches(const char *ours, const char *expected)
{
    if (!ours || !*ours || !expected)
        return false;
    return strstr(ours, expected) != NULL || strstr(expected, ours) != NULL;
}

/* ---- values ---- */

static int
parse_type(const char *name, kumo_valtype *out)
{
    static const struct {
        const char *name;
        kumo_valtype t;
    } types[] = {
        {"i32", KUMO_I32},         {"i64", KUMO_I64},
        {"f32", KUMO_F32},         {"f64", KUMO_F64},
        {"v128", KUMO_V128},       {"funcref", KUMO_FUNCREF},
        {"externref", KUMO_EXTERNREF},
    };
    for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(name, types[i].name) == 0) {
            *out = types[i].t;
            return 0;
        }
    }
    return -1;
}

static const char *
type_name(kumo_valtype t)
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

static int
parse_u64(const char *str, uint64_t max, uint64_t *out)
{
    char *end;

    if (!str || !*str || *str == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(str, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* An argument or a constant: {"type": T, "value": "decimal bits"|"null"}. */
static int
parse_value(json_t *j, kumo_valtype *type, kumo_val *out, char *err,
            size_t errlen)
{
    const char *tname = json_string_value(json_object_get(j, "type"));
    const char *val = json_string_value(json_object_get(j, "value"));
    uint64_t v = 0;

    if (parse_type(tname, type) < 0 || *type == KUMO_V128) {
        snprintf(err, errlen, "unsupported value type %s",
                 tname ? tname : "(none)");
        return -1;
    }
    if (!val) {
        snprintf(err, errlen, "%s value missing", tname);
        return -1;
    }
    switch (*type) {
    case KUMO_I32:
    case KUMO_F32:
        if (parse_u64(val, UINT32_MAX, &v) < 0)
            goto bad;
        break;
    case KUMO_I64:
    case KUMO_F64:
        if (parse_u64(val, UINT64_MAX, &v) < 0)
            goto bad;
        break;
    case KUMO_FUNCREF:
        /* Only null funcrefs can be written in a script. */
        if (strcmp(val, "null") != 0)
            goto bad;
        break;
    case KUMO_EXTERNREF:
        /* ref.extern N is host pointer N + 1, so that 0 is not null. */
        if (strcmp(val, "null") == 0)
            break;
        if (parse_u64(val, UINTPTR_MAX - 1, &v) < 0)
            goto bad;
        v = (kumo_val)(uintptr_t)(v + 1);
        break;
    case KUMO_V128:
        goto bad;
    }
    *out = v;
    return 0;
bad:
    snprintf(err, errlen, "bad %s value \"%s\"", tname, val);
    return -1;
}

static void
format_val(kumo_valtype t, kumo_val v, char *buf, size_t len)
{
    switch (t) {
    case KUMO_I32:
    case KUMO_F32:
        snprintf(buf, len, "%s:%u (0x%x)", type_name(t), (uint32_t)v,
                 (uint32_t)v);
        break;
    case KUMO_I64:
    case KUMO_F64:
        snprintf(buf, len, "%s:%llu (0x%llx)", type_name(t),
                 (unsigned long long)v, (unsigned long long)v);
        break;
    case KUMO_FUNCREF:
    case KUMO_EXTERNREF:
        if (v == 0)
            snprintf(buf, len, "%s:null", type_name(t));
        else
            snprintf(buf, len, "%s:%p", type_name(t), (void *)(uintptr_t)v);
        break;
    default:
        snprintf(buf, len, "%s:?", type_name(t));
        break;
    }
}

/* Does result (t, v) match expectation j? On mismatch writes why. */
static bool
check_value(json_t *j, kumo_valtype t, kumo_val v, char *why, size_t len)
{
    const char *tname = json_string_value(json_object_get(j, "type"));
    const char *val = json_string_value(json_object_get(j, "value"));
    kumo_valtype want;
    kumo_val wv = 0;
    char got[64];
    bool ok;

    format_val(t, v, got, sizeof got);
    if (parse_type(tname, &want) < 0 || want != t) {
        snprintf(why, len, "expected type %s, got %s", tname ? tname : "?",
                 got);
        return false;
    }
    if (t == KUMO_F32 && val && strncmp(val, "nan:", 4) == 0) {
        uint32_t b = (uint32_t)v;
        ok = strcmp(val, "nan:canonical") == 0
                 ? (b & 0x7fffffffu) == 0x7fc00000u
                 : (b & 0x7fc00000u) == 0x7fc00000u;
    } else if (t == KUMO_F64 && val && strncmp(val, "nan:", 4) == 0) {
        uint64_t b = v;
        ok = strcmp(val, "nan:canonical") == 0
                 ? (b & 0x7fffffffffffffffull) == 0x7ff8000000000000ull
                 : (b & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    } else if ((t == KUMO_FUNCREF && (!val || strcmp(val, "null") != 0)) ||
               (t == KUMO_EXTERNREF && !val)) {
        ok = v != 0; /* any non-null reference */
    } else {
        if (parse_value(j, &want, &wv, why, len) < 0)
            return false;
        if (t == KUMO_I32 || t == KUMO_F32)
            ok = (uint32_t)v == (uint32_t)wv;
        else
            ok = v == wv;
    }
    if (!ok)
        snprintf(why, len, "expected %s:%s, got %s", tname,
                 val ? val : "non-null", got);
    return ok;
}

/* ---- the spectest host module ---- */

static int
host_print(kumo_caller *caller, void *env, const kumo_val *args,
           kumo_val *results)
{
    const kumo_functype *ft = env;

    (void)caller;
    (void)results;
    for (uint32_t i = 0; i < ft->nparams; i++) {
        char buf[64];
        format_val(ft->params[i], args[i], buf, sizeof buf);
        printf("%s%s", i ? " " : "spectest print: ", buf);
    }
    putchar('\n');
    return 0;
}

static int
host_silent(kumo_caller *caller, void *env, const kumo_val *args,
            kumo_val *results)
{
    (void)caller;
    (void)env;
    (void)args;
    (void)results;
    return 0;
}

static const kumo_valtype t_i32[] = {KUMO_I32};
static const kumo_valtype t_i64[] = {KUMO_I64};
static const kumo_valtype t_f32[] = {KUMO_F32};
static const kumo_valtype t_f64[] = {KUMO_F64};
static const kumo_valtype t_i32_f32[] = {KUMO_I32, KUMO_F32};
static const kumo_valtype t_f64_f64[] = {KUMO_F64, KUMO_F64};

static const struct {
    const char *name;
    kumo_functype type;
} spectest_funcs[] = {
    {"print", {0, 0, NULL, NULL}},
    {"print_i32", {1, 0, t_i32, NULL}},
    {"print_i64", {1, 0, t_i64, NULL}},
    {"print_f32", {1, 0, t_f32, NULL}},
    {"print_f64", {1, 0, t_f64, NULL}},
    {"print_i32_f32", {2, 0, t_i32_f32, NULL}},
    {"print_f64_f64", {2, 0, t_f64_f64, NULL}},
};

static int
define_global(script *s, const char *name, kumo_valtype t, kumo_val v)
{
    kumo_extern e = {.kind = KUMO_EXTERN_GLOBAL};
    int rc = kumo_global_new(s->store, t, false, v, &e.u.global);

    return rc < 0 ? rc : kumo_linker_define(s->linker, "spectest", name, &e);
}

static int
define_spectest(script *s)
{
    kumo_extern e;
    float f32 = 666.6f;
    double f64 = 666.6;
    uint32_t f32bits;
    uint64_t f64bits;
    int rc;

    for (size_t i = 0; i < sizeof spectest_funcs / sizeof spectest_funcs[0];
         i++) {
        const kumo_functype *ft = &spectest_funcs[i].type;
        e.kind = KUMO_EXTERN_FUNC;
        rc = kumo_func_new_host(s->store, ft,
                                s->o->verbose ? host_print : host_silent,
                                (void *)ft, NULL, &e.u.func);
        if (rc < 0)
            return rc;
        rc = kumo_linker_define(s->linker, "spectest", spectest_funcs[i].name,
                                &e);
        if (rc < 0)
            return rc;
    }
    memcpy(&f32bits, &f32, sizeof f32bits);
    memcpy(&f64bits, &f64, sizeof f64bits);
    if ((rc = define_global(s, "global_i32", KUMO_I32, 666)) < 0 ||
        (rc = define_global(s, "global_i64", KUMO_I64, 666)) < 0 ||
        (rc = define_global(s, "global_f32", KUMO_F32, f32bits)) < 0 ||
        (rc = define_global(s, "global_f64", KUMO_F64, f64bits)) < 0)
        return rc;
    e.kind = KUMO_EXTERN_TABLE;
    rc = kumo_table_new(s->store, KUMO_FUNCREF,
                        (kumo_limits){.min = 10, .max = 20, .has_max = true},
                        0, &e.u.table);
    if (rc < 0 || (rc = kumo_linker_define(s->linker, "spectest", "table",
                                           &e)) < 0)
        return rc;
    e.kind = KUMO_EXTERN_MEMORY;
    rc = kumo_memory_new(s->store,
                         (kumo_limits){.min = 1, .max = 2, .has_max = true},
                         &e.u.memory);
    if (rc < 0)
        return rc;
    return kumo_linker_define(s->linker, "spectest", "memory", &e);
}

/* ---- modules and instances ---- */

static int
add_name(script *s, const char *name, kumo_instance *inst)
{
    if (s->nnames == s->capnames) {
        size_t cap = s->capnames ? s->capnames * 2 : 16;
        named *n = realloc(s->names, cap * sizeof *n);
        if (!n)
            return KUMO_ENOMEM;
        s->names = n;
        s->capnames = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return KUMO_ENOMEM;
    s->names[s->nnames].name = copy;
    s->names[s->nnames].inst = inst;
    s->nnames++;
    return 0;
}

/* The instance called name (the newest of that name), or the current one
 * for NULL. Sets *found to whether the name is known. */
static kumo_instance *
find_instance(script *s, const char *name, bool *found)
{
    *found = true;
    if (!name)
        return s->current;
    for (size_t i = s->nnames; i-- > 0;) {
        if (strcmp(s->names[i].name, name) == 0)
            return s->names[i].inst;
    }
    *found = false;
    return NULL;
}

static int
keep_module(script *s, kumo_module *m)
{
    if (s->nmods == s->capmods) {
        size_t cap = s->capmods ? s->capmods * 2 : 64;
        kumo_module **n = realloc(s->mods, cap * sizeof *n);
        if (!n)
            return KUMO_ENOMEM;
        s->mods = n;
        s->capmods = cap;
    }
    s->mods[s->nmods++] = m;
    return 0;
}

/* Read and decode the command's "filename". On failure diag holds the
 * message (an unreadable file is KUMO_EIO). */
static int
load_module(script *s, json_t *cmd, kumo_module **out, kumo_diag *diag)
{
    const char *file = json_string_value(json_object_get(cmd, "filename"));
    uint8_t *bytes = NULL;
    size_t len = 0;
    char *path = NULL;
    int rc;

    memset(diag, 0, sizeof *diag);
    diag->func_index = UINT32_MAX;
    *out = NULL;
    if (!file) {
        snprintf(diag->message, sizeof diag->message, "no filename");
        return diag->code = KUMO_EIO;
    }
    if (asprintf(&path, "%s/%s", s->dir, file) < 0)
        return diag->code = KUMO_ENOMEM;
    if (kc_read_file(path, &bytes, &len) < 0) {
        snprintf(diag->message, sizeof diag->message, "cannot read %s: %s",
                 path, strerror(errno));
        free(path);
        return diag->code = KUMO_EIO;
    }
    free(path);
    rc = kumo_module_new_with(bytes, len, &s->features, out, diag);
    free(bytes);
    if (rc < 0) {
        if (!diag->message[0])
            snprintf(diag->message, sizeof diag->message, "%s",
                     kumo_strerror(rc));
        return rc;
    }
    rc = keep_module(s, *out);
    if (rc < 0) {
        kumo_module_free(*out);
        *out = NULL;
    }
    return rc;
}

static int
instantiate(script *s, const kumo_module *m, kumo_instance **out,
            kumo_diag *diag)
{
    int rc;

    memset(diag, 0, sizeof *diag);
    rc = kumo_linker_instantiate(s->linker, s->store, m, out, diag);
    if (rc < 0 && !diag->message[0])
        snprintf(diag->message, sizeof diag->message, "%s",
                 KUMO_IS_TRAP(rc) ? kumo_store_trap_message(s->store)
                                  : kumo_strerror(rc));
    return rc;
}

static bool
skip_text(script *s, json_t *cmd)
{
    const char *mt = json_string_value(json_object_get(cmd, "module_type"));

    if (mt && strcmp(mt, "text") == 0) {
        s->skipped++;
        return true;
    }
    return false;
}

static void
cmd_module(script *s, json_t *cmd)
{
    const char *name = json_string_value(json_object_get(cmd, "name"));
    kumo_module *m;
    kumo_instance *inst = NULL;
    kumo_diag diag;
    int rc;

    if (skip_text(s, cmd))
        return;
    s->current = NULL;
    rc = load_module(s, cmd, &m, &diag);
    if (rc == KUMO_EMALFORMED &&
        strncmp(diag.message, "illegal opcode 0xfd", 19) == 0) {
        s->skipped++; /* SIMD, which the engine does not implement */
    } else if (rc < 0) {
        fail(s, "module did not load: %s: %s (at 0x%zx)", kumo_strerror(rc),
             diag.message, diag.offset);
    } else {
        rc = instantiate(s, m, &inst, &diag);
        if (rc < 0)
            fail(s, "module did not instantiate: %s: %s", kumo_strerror(rc),
                 diag.message);
        else
            pass(s);
    }
    s->current = rc < 0 ? NULL : inst;
    if (name && add_name(s, name, s->current) < 0)
        fail(s, "out of memory");
}

static void
cmd_register(script *s, json_t *cmd)
{
    const char *as = json_string_value(json_object_get(cmd, "as"));
    const char *name = json_string_value(json_object_get(cmd, "name"));
    bool found;
    kumo_instance *inst = find_instance(s, name, &found);
    int rc;

    if (!as) {
        fail(s, "register without \"as\"");
        return;
    }
    if (!inst) {
        fail(s, "no module %s to register", name ? name : "(current)");
        return;
    }
    rc = kumo_linker_define_instance(s->linker, as, inst);
    if (rc < 0)
        fail(s, "register as \"%s\": %s", as, kumo_strerror(rc));
    else
        pass(s);
}

/* ---- actions ---- */

static int
outcome_error(outcome *oc, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
outcome_error(outcome *oc, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(oc->msg, sizeof oc->msg, fmt, ap);
    va_end(ap);
    return oc->rc = rc;
}

static int
invoke(script *s, kumo_func *f, json_t *args, outcome *oc)
{
    const kumo_functype *ft = kumo_func_type(f);
    size_t nargs = json_array_size(args);
    kumo_val *argv = NULL;
    int rc = 0;

    if (nargs != ft->nparams)
        return outcome_error(oc, KUMO_EINVAL, "%zu arguments for %u params",
                             nargs, ft->nparams);
    argv = calloc(nargs + 1, sizeof *argv);
    oc->vals = calloc(ft->nresults + 1, sizeof *oc->vals);
    if (!argv || !oc->vals) {
        rc = outcome_error(oc, KUMO_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nargs; i++) {
        kumo_valtype t;
        if (parse_value(json_array_get(args, i), &t, &argv[i], oc->msg,
                        sizeof oc->msg) < 0) {
            rc = oc->rc = KUMO_EINVAL;
            goto done;
        }
        if (t != ft->params[i]) {
            rc = outcome_error(oc, KUMO_EINVAL,
                               "argument %zu is %s, param is %s", i,
                               type_name(t), type_name(ft->params[i]));
            goto done;
        }
    }
    oc->n = ft->nresults;
    oc->types = ft->results;
    rc = oc->rc = kumo_func_call(s->store, f, argv, oc->vals);
    if (rc < 0) {
        const char *m = KUMO_IS_TRAP(rc) ? kumo_store_trap_message(s->store)
                                         : NULL;
        snprintf(oc->msg, sizeof oc->msg, "%s",
                 m && *m ? m : kumo_strerror(rc));
    }
done:
    free(argv);
    return rc;
}

/* Run an "action" object ("invoke" or "get"). oc->vals must be freed. */
static int
run_action(script *s, json_t *action, outcome *oc)
{
    const char *type = json_string_value(json_object_get(action, "type"));
    const char *mod = json_string_value(json_object_get(action, "module"));
    json_t *jfield = json_object_get(action, "field");
    const char *field = json_string_value(jfield);
    kumo_instance *inst;
    kumo_extern ext;
    bool found;

    memset(oc, 0, sizeof *oc);
    if (!type || !field)
        return outcome_error(oc, KUMO_EINVAL, "bad action");
    inst = find_instance(s, mod, &found);
    if (!found)
        return outcome_error(oc, KUMO_ENOTFOUND, "unknown module %s", mod);
    if (!inst)
        return outcome_error(oc, KUMO_ENOTFOUND, "no instance%s%s",
                             mod ? " " : "", mod ? mod : "");
    if (kumo_instance_export(inst, field, json_string_length(jfield), &ext) <
        0)
        return outcome_error(oc, KUMO_ENOTFOUND, "no export \"%s\"", field);
    if (strcmp(type, "invoke") == 0) {
        if (ext.kind != KUMO_EXTERN_FUNC)
            return outcome_error(oc, KUMO_EINVAL, "\"%s\" is not a function",
                                 field);
        return invoke(s, ext.u.func, json_object_get(action, "args"), oc);
    }
    if (strcmp(type, "get") == 0) {
        if (ext.kind != KUMO_EXTERN_GLOBAL)
            return outcome_error(oc, KUMO_EINVAL, "\"%s\" is not a global",
                                 field);
        oc->vals = calloc(1, sizeof *oc->vals);
        if (!oc->vals)
            return outcome_error(oc, KUMO_ENOMEM, "out of memory");
        oc->n = 1;
        oc->global_type = kumo_global_type(ext.u.global);
        oc->types = &oc->global_type;
        oc->vals[0] = kumo_global_get(ext.u.global);
        return 0;
    }
    return outcome_error(oc, KUMO_EINVAL, "unknown action type %s", type);
}

static const char *
action_name(json_t *cmd)
{
    const char *f = json_string_value(
        json_object_get(json_object_get(cmd, "action"), "field"));
    return f ? f : "?";
}

static void
cmd_action(script *s, json_t *cmd)
{
    outcome oc;

    if (run_action(s, json_object_get(cmd, "action"), &oc) < 0)
        fail(s, "\"%s\": %s: %s", action_name(cmd), kumo_strerror(oc.rc),
             oc.msg);
    else
        pass(s);
    free(oc.vals);
}

static void
cmd_assert_return(script *s, json_t *cmd)
{
    json_t *expected = json_object_get(cmd, "expected");
    size_t nexp = json_array_size(expected);
    outcome oc;
    char why[256];

    if (run_action(s, json_object_get(cmd, "action"), &oc) < 0) {
        fail(s, "\"%s\": %s: %s", action_name(cmd), kumo_strerror(oc.rc),
             oc.msg);
        goto done;
    }
    if (nexp != oc.n) {
        fail(s, "\"%s\": %u results, expected %zu", action_name(cmd), oc.n,
             nexp);
        goto done;
    }
    for (uint32_t i = 0; i < oc.n; i++) {
        if (!check_value(json_array_get(expected, i), oc.types[i], oc.vals[i],
                         why, sizeof why)) {
            fail(s, "\"%s\": result %u: %s", action_name(cmd), i, why);
            goto done;
        }
    }
    pass(s);
done:
    free(oc.vals);
}

/* want is an error code, or 1 for "any trap". */
static const char *
class_name(int want)
{
    return want == 1 ? "a trap" : kumo_strerror(want);
}


/* The operation failed with rc and message ours: pass when that is the
 * expected class of failure with the expected text. */
static void
check_failure(script *s, json_t *cmd, int rc, const char *ours, int want)
{
    const char *text = json_string_value(json_object_get(cmd, "text"));
    bool class_ok = want == 1 ? KUMO_IS_TRAP(rc) : rc == want;

    if (!text)
        text = "";
    if (!class_ok)
        fail(s, "expected %s \"%s\", got %s: \"%s\"", class_name(want), text,
             kumo_strerror(rc), ours);
    else if (!msg_matches(ours, text)) {
        s->differs++;
        printf("%s:%d: %s: note: message differs: expected \"%s\", got "
               "\"%s\"\n", s->path, s->line, s->type, text, ours);
        pass(s);
    } else {
        pass(s);
    }
}

/* assert_trap/assert_exhaustion on an action. */
static void
expect_action_trap(script *s, json_t *cmd)
{
    outcome oc;
    int rc = run_action(s, json_object_get(cmd, "action"), &oc);

    if (rc == 0)
        fail(s, "\"%s\" returned, expected trap \"%s\"", action_name(cmd),
             json_string_value(json_object_get(cmd, "text")));
    else
        check_failure(s, cmd, rc, oc.msg, 1);
    free(oc.vals);
}

/* assert_malformed/invalid/unlinkable/uninstantiable (and assert_trap on a
 * module): the module must fail in decoding (want EMALFORMED, EINVALID)
 * or in instantiation (EUNLINKABLE, or 1 for a trap). */
static void
expect_module_failure(script *s, json_t *cmd, int want)
{
    kumo_module *m;
    kumo_instance *inst;
    kumo_diag diag;
    const char *text = json_string_value(json_object_get(cmd, "text"));
    int rc;

    if (skip_text(s, cmd))
        return;
    rc = load_module(s, cmd, &m, &diag);
    if (want == KUMO_EMALFORMED || want == KUMO_EINVALID) {
        if (rc == 0)
            fail(s, "module loaded, expected %s \"%s\"", class_name(want),
                 text ? text : "");
        else
            check_failure(s, cmd, rc, diag.message, want);
        return;
    }
    if (rc < 0) {
        fail(s, "module did not load: %s: %s (at 0x%zx), expected %s",
             kumo_strerror(rc), diag.message, diag.offset, class_name(want));
        return;
    }
    rc = instantiate(s, m, &inst, &diag);
    if (rc == 0)
        fail(s, "module instantiated, expected %s \"%s\"", class_name(want),
             text ? text : "");
    else
        check_failure(s, cmd, rc, diag.message, want);
}

static void
cmd_assert_trap(script *s, json_t *cmd)
{
    if (json_object_get(cmd, "action"))
        expect_action_trap(s, cmd);
    else
        expect_module_failure(s, cmd, 1);
}

/* assert_exception: the action throws a wasm exception nobody catches. */
static void
cmd_assert_exception(script *s, json_t *cmd)
{
    outcome oc;
    int rc = run_action(s, json_object_get(cmd, "action"), &oc);

    if (rc == 0)
        fail(s, "\"%s\" returned, expected an uncaught exception",
             action_name(cmd));
    else if (rc != KUMO_ETRAP_EXCEPTION)
        fail(s, "\"%s\": expected an uncaught exception, got %s: %s",
             action_name(cmd), kumo_strerror(rc), oc.msg);
    else
        pass(s);
    free(oc.vals);
}

static void
cmd_assert_exhaustion(script *s, json_t *cmd)
{
    expect_action_trap(s, cmd);
}

static void
cmd_assert_invalid(script *s, json_t *cmd)
{
    expect_module_failure(s, cmd, KUMO_EINVALID);
}

static void
cmd_assert_malformed(script *s, json_t *cmd)
{
    expect_module_failure(s, cmd, KUMO_EMALFORMED);
}

static void
cmd_assert_unlinkable(script *s, json_t *cmd)
{
    expect_module_failure(s, cmd, KUMO_EUNLINKABLE);
}

static void
cmd_assert_uninstantiable(script *s, json_t *cmd)
{
    expect_module_failure(s, cmd, 1);
}

/* ---- scripts ---- */

static const struct {
    const char *type;
    void (*fn)(script *s, json_t *cmd);
} spec_commands[] = {
#define SPEC_ENTRY(name) {#name, cmd_##name},
    SPEC_COMMANDS(SPEC_ENTRY)
#undef SPEC_ENTRY
};

static void
run_command(script *s, json_t *cmd)
{
    json_t *jline = json_object_get(cmd, "line");

    s->type = json_string_value(json_object_get(cmd, "type"));
    s->line = json_is_integer(jline) ? (int)json_integer_value(jline) : 0;
    if (!s->type) {
        s->type = "?";
        fail(s, "command without a type");
        return;
    }
    for (size_t i = 0; i < sizeof spec_commands / sizeof spec_commands[0];
         i++) {
        if (strcmp(s->type, spec_commands[i].type) == 0) {
            spec_commands[i].fn(s, cmd);
            return;
        }
    }
    fail(s, "unknown command type");
}

static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* The script's name for the summary line: the file name without .json. */
static void
script_name(const char *path, char *buf, size_t len)
{
    const char *base = strrchr(path, '/');
    size_t n;

    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    snprintf(buf, len, "%.*s", (int)n, base);
}

static void
script_fini(script *s)
{
    kumo_linker_free(s->linker);
    kumo_store_free(s->store);
    for (size_t i = 0; i < s->nmods; i++)
        kumo_module_free(s->mods[i]);
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i].name);
    free(s->mods);
    free(s->names);
    free(s->dir);
}

static int
script_init(script *s, const opts *o, const char *path)
{
    kumo_store_config cfg = {.max_call_depth = SPEC_CALL_DEPTH};
    int rc;

    if (o->no_guard)
        cfg.flags |= KUMO_STORE_NO_GUARD;
    memset(s, 0, sizeof *s);
    s->o = o;
    s->path = path;
    s->type = "setup";
    s->dir = dir_of(path);
    if (!s->dir)
        return KUMO_ENOMEM;
    /* Core scripts test exactly WebAssembly 2.0; a proposal's scripts (in
     * a folder proposals/NAME/) test 2.0 plus that proposal. */
    s->features = kumo_features_default();
    if (!o->all_features) {
        s->features.extended_const =
            strstr(path, "proposals/extended-const/") != NULL;
        s->features.multi_memory =
            strstr(path, "proposals/multi-memory/") != NULL;
        s->features.exceptions =
            strstr(path, "proposals/exception-handling/") != NULL;
    }
    if ((rc = kumo_store_new(&cfg, &s->store)) < 0 ||
        (rc = kumo_linker_new(&s->linker)) < 0 ||
        (rc = define_spectest(s)) < 0)
        return rc;
    return 0;
}

/* Run one JSON script and add its counts to t. */
static void
run_script(const opts *o, const char *path, totals *t)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    json_t *cmds = json_object_get(root, "commands");
    script s;
    char name[256];
    int rc;

    if (!root || !json_is_array(cmds)) {
        if (!root)
            printf("%s:%d:%d: bad JSON: %s\n", path, jerr.line, jerr.column,
                   jerr.text);
        else
            printf("%s: not a spec script (no \"commands\" array)\n", path);
        t->failed++;
        json_decref(root);
        return;
    }
    if (kc_cm_is_script(path, root)) {
        kc_cm_opts co = {o->verbose, o->quiet};
        kc_cm_counts before = t->cm;
        kc_cm_run_script(&co, path, root, &t->cm);
        t->cm.scripts++;
        t->passed += t->cm.passed - before.passed;
        t->failed += t->cm.failed - before.failed;
        t->skipped += t->cm.skipped - before.skipped;
        t->differs += t->cm.differs - before.differs;
        json_decref(root);
        return;
    }
    rc = script_init(&s, o, path);
    if (rc < 0) {
        fail(&s, "cannot set up the store: %s", kumo_strerror(rc));
    } else {
        for (size_t i = 0; i < json_array_size(cmds); i++)
            run_command(&s, json_array_get(cmds, i));
    }
    script_name(path, name, sizeof name);
    if (s.failed > MAX_REPORTED && !o->verbose)
        printf("%s: %ld more failures not shown (use -v)\n", path,
               s.failed - MAX_REPORTED);
    if (!o->quiet)
        printf("%s: %ld passed, %ld failed, %ld skipped\n", name, s.passed,
               s.failed, s.skipped);
    t->passed += s.passed;
    t->failed += s.failed;
    t->skipped += s.skipped;
    t->differs += s.differs;
    script_fini(&s);
    json_decref(root);
}

/* Run the script in a child process so that an engine crash is reported as
 * a failed script instead of ending the run. */
static void
run_script_forked(const opts *o, const char *path, totals *t)
{
    int fds[2];
    pid_t pid;
    totals ct;
    int status;
    ssize_t got = 0;

    memset(&ct, 0, sizeof ct);
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        printf("%s: cannot fork: %s\n", path, strerror(errno));
        t->failed++;
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(FORK_TIMEOUT);
        run_script(o, path, &ct);
        fflush(stdout);
        if (write(fds[1], &ct, sizeof ct) != (ssize_t)sizeof ct)
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    while (got < (ssize_t)sizeof ct) {
        ssize_t r = read(fds[0], (char *)&ct + got, sizeof ct - (size_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof ct && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0) {
        t->passed += ct.passed;
        t->failed += ct.failed;
        t->skipped += ct.skipped;
        t->differs += ct.differs;
        t->cm.passed += ct.cm.passed;
        t->cm.failed += ct.cm.failed;
        t->cm.skipped += ct.cm.skipped;
        t->cm.differs += ct.cm.differs;
        t->cm.failed_validation += ct.cm.failed_validation;
        t->cm.failed_invocation += ct.cm.failed_invocation;
        t->cm.skipped_scripts += ct.cm.skipped_scripts;
        t->cm.scripts += ct.cm.scripts;
        return;
    }
    if (WIFSIGNALED(status))
        printf("%s: crashed: signal %d (%s)\n", path, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    else
        printf("%s: child exited with status %d\n", path,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    t->failed++;
}

/* ---- finding scripts ---- */

typedef struct pathlist {
    char **v;
    size_t n, cap;
} pathlist;

static int
pathlist_add(pathlist *pl, char *p)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 64;
        char **v = realloc(pl->v, cap * sizeof *v);
        if (!v) {
            free(p);
            return -1;
        }
        pl->v = v;
        pl->cap = cap;
    }
    pl->v[pl->n++] = p;
    return 0;
}

static int
cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
is_json(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* Add every *.json under dir (recursively). Returns 0 or -1 (reported). */
static int
collect_dir(const char *dir, pathlist *pl)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "kumo spectest: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *p;
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
            rc = -1;
            break;
        }
        if (stat(p, &st) < 0) {
            free(p);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = collect_dir(p, pl);
            free(p);
        } else if (S_ISREG(st.st_mode) && is_json(e->d_name)) {
            rc = pathlist_add(pl, p);
        } else {
            free(p);
        }
    }
    closedir(d);
    return rc;
}

/* Add path: a script, or a directory of them (sorted). */
static int
collect(const char *path, pathlist *pl)
{
    struct stat st;
    size_t first = pl->n;
    char *p;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "kumo spectest: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        p = strdup(path);
        return p ? pathlist_add(pl, p) : -1;
    }
    /* "dir/" and "dir" give the same paths */
    p = strdup(path);
    if (!p)
        return -1;
    for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
        p[n - 1] = '\0';
    int rc = collect_dir(p, pl);
    free(p);
    if (pl->n > first)
        qsort(pl->v + first, pl->n - first, sizeof *pl->v, cmp_path);
    else if (rc == 0)
        fprintf(stderr, "kumo spectest: %s: no .json scripts found\n", path);
    return rc == 0 && pl->n > first ? 0 : -1;
}

static void
spectest_usage(FILE *f)
{
    fprintf(f, "usage: kumo spectest [-v|-q] [--fork] PATH...\n"
               "  PATH    a wast2json .json script, or a directory searched\n"
               "          recursively for them\n"
               "  -v      verbose: every failure, spectest prints\n"
               "  -q      quiet: only failures and the final line\n"
               "  --fork  run each script in a child process (a crash fails\n"
               "          that script only)\n"
               "  --all-features  enable every feature for every script\n"
               "          (default: WebAssembly 2.0, plus the proposal of\n"
               "          scripts under proposals/NAME/)\n"
               "  --no-guard  heap memories with explicit bounds checks\n"
               "          (KUMO_STORE_NO_GUARD) instead of guard pages\n");
}

int
kc_cmd_spectest(int argc, char **argv)
{
    opts o = {false, false, false, false, false};
    pathlist pl = {NULL, 0, 0};
    totals t;
    bool opts_done = false;
    int i, npaths = 0;

    memset(&t, 0, sizeof t);
    /* options may come anywhere; "--" ends them */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (opts_done || a[0] != '-' || a[1] == '\0') {
            argv[npaths++] = argv[i]; /* paths compacted to the front */
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o.verbose = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o.quiet = true;
        } else if (strcmp(a, "--fork") == 0) {
            o.fork = true;
        } else if (strcmp(a, "--all-features") == 0) {
            o.all_features = true;
        } else if (strcmp(a, "--no-guard") == 0) {
            o.no_guard = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            spectest_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kumo spectest: unknown option %s\n", a);
            spectest_usage(stderr);
            return 2;
        }
    }
    if (npaths == 0) {
        spectest_usage(stderr);
        return 2;
    }
    for (i = 0; i < npaths; i++) {
        if (collect(argv[i], &pl) < 0)
            t.failed++;
    }
    for (size_t k = 0; k < pl.n; k++) {
        if (o.fork)
            run_script_forked(&o, pl.v[k], &t);
        else
            run_script(&o, pl.v[k], &t);
        free(pl.v[k]);
    }
    free(pl.v);
    if (t.differs)
        printf("spectest: %ld passed with a message other than the "
               "suite's (notes above)\n", t.differs);
    if (t.cm.scripts)
        printf("spectest: component model: %ld scripts (%ld async skipped); "
               "failed: %ld validation, %ld invocation\n",
               t.cm.scripts, t.cm.skipped_scripts, t.cm.failed_validation,
               t.cm.failed_invocation);
    printf("spectest: %ld passed, %ld failed, %ld skipped\n", t.passed,
           t.failed, t.skipped);
    fflush(stdout);
    return t.failed ? 1 : 0;
}
