/* kumo/component.h - the component-model layer: decoding component binaries
 * (WebAssembly component model, binary version 0x0d, layer 1) into an
 * in-memory tree and printing the component's WIT world.
 *
 * Validation (the Explainer's type checking), instantiation and the
 * canonical ABI are later steps built on the same tree. */
#ifndef KUMO_COMPONENT_H
#define KUMO_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kumo/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A decoded component. Owns a copy of the bytes it was decoded from, so the
 * caller's buffer may be freed after kumo_component_new returns. */
typedef struct kumo_component kumo_component;

/*
 * Decode a component binary. On success *out holds a new component that the
 * caller frees with kumo_component_free. On failure returns a negative
 * KUMO_E... code (KUMO_EMALFORMED for bad bytes, KUMO_EUNSUPPORTED for a
 * known but unsupported encoding such as GC core types, KUMO_ENOMEM,
 * KUMO_ELIMIT for nesting deeper than the limit) and fills diag (may be NULL)
 * with the byte offset and a message. Core modules embedded in the component
 * are not decoded here; they are kept as byte ranges.
 */
int kumo_component_new(const uint8_t *bytes, size_t len, kumo_component **out,
                       kumo_diag *diag);

/* Free a component (NULL is allowed). */
void kumo_component_free(kumo_component *c);

/* The sorts of imports and exports (externtype kinds of the binary). */
typedef enum kumo_component_sort {
    KUMO_COMPONENT_CORE_MODULE = 0,
    KUMO_COMPONENT_FUNC = 1,
    KUMO_COMPONENT_VALUE = 2,
    KUMO_COMPONENT_TYPE = 3,
    KUMO_COMPONENT_COMPONENT = 4,
    KUMO_COMPONENT_INSTANCE = 5,
} kumo_component_sort;

/* An import or export of the top-level component. name points into the
 * component (not NUL-terminated) and lives as long as it; version is the
 * optional version-suffix attribute of the newer name encoding (else NULL,
 * 0). */
typedef struct kumo_component_item {
    const char *name;
    uint32_t name_len;
    const char *version;
    uint32_t version_len;
    kumo_component_sort sort;
} kumo_component_item;

uint32_t kumo_component_import_count(const kumo_component *c);
uint32_t kumo_component_export_count(const kumo_component *c);
/* Fill *out with import/export i (i < count). Returns 0 or KUMO_EINVAL. */
int kumo_component_import(const kumo_component *c, uint32_t i,
                          kumo_component_item *out);
int kumo_component_export(const kumo_component *c, uint32_t i,
                          kumo_component_item *out);

/*
 * Print the component's world as WIT, in the form `jco wit` prints it:
 *
 *     package root:component;
 *
 *     world root {
 *       import wasi:io/error@0.2.6;
 *       ...
 *
 *       export wasi:cli/run@0.2.6;
 *     }
 *
 * Interface imports/exports print as their names; function imports/exports
 * print with their WIT signature. Returns 0, KUMO_EIO on a write error.
 */
int kumo_component_print_wit(const kumo_component *c, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
