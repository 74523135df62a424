/* cli.h - the kumo command-line tool: the command table and the helpers the
 * command files share. Prefix kc_. The CLI uses only the public API. */
#ifndef KUMO_SRC_CLI_H
#define KUMO_SRC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KUMO_VERSION "0.1.0"

/*
 * Every command, defined once: X(name, arguments, one-line help).
 * Each has a handler `int kc_cmd_<name>(int argc, char **argv)` where
 * argv[0] is the command name; it returns the process exit status
 * (0 success, 1 failure, 2 usage error).
 */
#define KUMO_CLI_COMMANDS(X)                                                   \
    X(help, "", "show this help")                                              \
    X(version, "", "print the version")                                        \
    X(inspect, "APP.wasm",                                                     \
      "decode and validate a module or component; list imports and exports") \
    X(wit, "APP.wasm", "print a component's world (imports and exports) as WIT") \
    X(run, "[options] APP.wasm [args...]",                                     \
      "run a WASI command (component or preview1 module) sandboxed; --help")   \
    X(serve, "[APP.wasm] [options]",                                           \
      "serve wasi:http components (HTTP/1.1, HTTP/2, TLS; --workload "         \
      "HOST=APP.wasm routes by host); --help for options")                     \
    X(spectest, "[-v|-q] [--fork] PATH...",                                    \
      "run wast2json spec scripts (.json files or directories)")

#define KC_DECLARE(name, args, help) int kc_cmd_##name(int argc, char **argv);
KUMO_CLI_COMMANDS(KC_DECLARE)
#undef KC_DECLARE

/* Read a whole file into a malloc'd buffer (free with free()). Returns 0,
 * or -1 with errno set. */
int kc_read_file(const char *path, uint8_t **out, size_t *len);

/* kc_read_file for a command's APP.wasm argument: on failure prints
 * "kumo CMD: PATH: reason" and returns -1. */
/* A decimal count with an optional k/m/g (binary) suffix; 0 or -1. */
int kc_parse_size(const char *s, uint64_t *out);
int kc_read_app(const char *cmd, const char *path, uint8_t **out, size_t *len);

/* Print a load failure as "PATH:0xOFFSET: error: CLASS: MESSAGE". */
struct kumo_diag;
void kc_print_load_error(const char *path, int rc, const struct kumo_diag *d);

/* cmtest.c: component-model scripts of `kumo spectest`. */
struct json_t;

typedef struct kc_cm_opts {
    bool verbose, quiet;
} kc_cm_opts;

/* Counts of component-model scripts: failures split into validation
 * (module/definition/assert_invalid/assert_malformed) and invocation
 * (component_instance/invoke/assert_return/assert_trap). */
typedef struct kc_cm_counts {
    long passed, failed, skipped, differs;
    long failed_validation, failed_invocation, skipped_scripts, scripts;
} kc_cm_counts;

/* Whether a loaded JSON script is a component-model one. */
bool kc_cm_is_script(const char *path, struct json_t *root);
/* Run it, adding to *t (per-script line unless quiet). */
void kc_cm_run_script(const kc_cm_opts *o, const char *path,
                      struct json_t *root, kc_cm_counts *t);

#endif
