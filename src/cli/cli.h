/* cli.h - the kumo command-line tool: the command table and the helpers the
 * command files share. Prefix kc_. The CLI uses only the public API. */
#ifndef KUMO_SRC_CLI_H
#define KUMO_SRC_CLI_H

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
      "decode and validate a module; print its imports and exports")           \
    X(wit, "APP.wasm", "print a component's world (imports and exports) as WIT") \
    X(spectest, "[-v|-q] [--fork] PATH...",                                    \
      "run wast2json spec scripts (.json files or directories)")

#define KC_DECLARE(name, args, help) int kc_cmd_##name(int argc, char **argv);
KUMO_CLI_COMMANDS(KC_DECLARE)
#undef KC_DECLARE

/* Read a whole file into a malloc'd buffer (free with free()). Returns 0,
 * or -1 with errno set. */
int kc_read_file(const char *path, uint8_t **out, size_t *len);

#endif
