/* gen.h - the WIT binding generator (prefix wg_): C declarations and
 * kumo_clinker glue for host implementations of WIT interfaces. Used by
 * tools/witgen/main.c at build time and by the unit tests. */
#ifndef KUMO_TOOLS_WITGEN_GEN_H
#define KUMO_TOOLS_WITGEN_GEN_H

#include <stddef.h>
#include <stdio.h>

#include "../../src/component/witparse.h"

typedef struct wg_opts {
    const char *prefix;      /* C prefix of everything generated: "kx" */
    const char *header_name; /* how the .c includes the header */
    const char *const *features; /* enabled @unstable features */
    size_t nfeatures;
    const char *bind_include; /* path the header includes bind.h by;
                                 NULL: "../../src/component/bind.h" (the
                                 header lives in build/gen/) */
} wg_opts;

/*
 * Generate the header (to h) and the glue (to c) for interfaces ifaces
 * of a resolved set. Types the interfaces use from other interfaces are
 * declared too. Returns 0, or KUMO_EUNSUPPORTED / KUMO_EINVAL /
 * KUMO_ENOMEM with a message in err.
 */
int wg_generate(const kw_world_set *set, kw_interface *const *ifaces,
                size_t n, const wg_opts *o, FILE *h, FILE *c, char *err,
                size_t errcap);

#endif
