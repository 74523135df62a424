/* fuzz_component.c - libFuzzer target for components: decode arbitrary
 * bytes as a component, validate it (embedded core modules included),
 * print its world as WIT, and instantiate what validated against a linker
 * of trapping stubs, under fuel and small memory limits, so instantiation
 * (core instances, aliases, canon built-ins, start functions) runs too.
 * Nothing here may crash, leak or hang. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kumo/component.h"
#include "kumo/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
print_wit(const kumo_component *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    kumo_component_print_wit(c, f);
    fclose(f);
    free(buf);
}

static void
instantiate(const kumo_component *c)
{
    kumo_store_config cfg = {.max_memory_pages = 16,
                             .max_table_elems = 1000,
                             .max_call_depth = 200};
    kumo_store *s = NULL;
    kumo_clinker *l = NULL;
    kumo_cinstance *ci = NULL;
    kumo_diag d;

    if (kumo_store_new(&cfg, &s) != 0)
        return;
    if (kumo_clinker_new(&l) == 0) {
        kumo_clinker_allow_stubs(l, true);
        kumo_store_set_fuel(s, 100000);
        memset(&d, 0, sizeof d);
        if (kumo_component_instantiate(s, c, l, &ci, &d) == 0)
            kumo_cinstance_free(ci);
        kumo_clinker_free(l);
    }
    kumo_store_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_component *c = NULL;
    kumo_diag d;

    if (size > 65536)
        return 0;
    memset(&d, 0, sizeof d);
    if (kumo_component_new(data, size, &c, &d) != 0)
        return 0;
    memset(&d, 0, sizeof d);
    if (kumo_component_validate(c, &d) == 0) {
        print_wit(c);
        if (!kumo_component_async_feature(c))
            instantiate(c);
    } else if (d.code == KUMO_EINVALID && d.message[0] == 0) {
        fprintf(stderr, "validation failed without a message\n");
        abort();
    }
    kumo_component_free(c);
    return 0;
}
