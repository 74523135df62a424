/* wit.c - `kumo wit APP.wasm`: print a component's world as WIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kumo/component.h"

int
kc_cmd_wit(int argc, char **argv)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kumo_component *c = NULL;
    kumo_diag diag;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: kumo wit APP.wasm\n");
        return 2;
    }
    if (kc_read_app("wit", argv[1], &bytes, &len) < 0)
        return 1;
    memset(&diag, 0, sizeof diag);
    rc = kumo_component_new(bytes, len, &c, &diag);
    free(bytes);
    if (rc < 0) {
        kc_print_load_error(argv[1], rc, &diag);
        return 1;
    }
    rc = kumo_component_print_wit(c, stdout);
    kumo_component_free(c);
    if (rc < 0) {
        fprintf(stderr, "kumo wit: %s: %s\n", argv[1], kumo_strerror(rc));
        return 1;
    }
    return 0;
}
