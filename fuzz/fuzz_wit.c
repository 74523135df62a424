/* fuzz_wit.c - libFuzzer target for the WIT front end: parse arbitrary
 * bytes as a WIT file and resolve it; for every package that parsed, print
 * it, parse the printed text again and check that printing that gives the
 * same text (the printer is a fixpoint), aborting otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/component/witparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
print_pkg(const kw_package *p, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    kw_print_package(f, p);
    fclose(f);
    return buf;
}

static void
roundtrip(const kw_package *p)
{
    size_t len1 = 0, len2 = 0;
    char *t1 = print_pkg(p, &len1);
    kw_world_set *set = NULL;
    kumo_diag d;
    if (!t1 || kw_set_new(&set) != 0) {
        free(t1);
        return;
    }
    if (kw_parse(set, "printed.wit", t1, len1, &d) != 0) {
        fprintf(stderr, "printed WIT does not parse: %s\n---\n%s---\n",
                d.message, t1);
        abort();
    }
    if (set->npkgs != 1)
        abort();
    char *t2 = print_pkg(set->pkgs[0], &len2);
    if (!t2 || len1 != len2 || memcmp(t1, t2, len1) != 0) {
        fprintf(stderr, "printing is not a fixpoint\n---\n%s---\n%s---\n", t1,
                t2 ? t2 : "");
        abort();
    }
    free(t1);
    free(t2);
    kw_set_free(set);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kw_world_set *set = NULL;
    kumo_diag d;
    if (size > 65536 || kw_set_new(&set) != 0)
        return 0;
    if (kw_parse(set, "fuzz.wit", (const char *)data, size, &d) == 0) {
        for (uint32_t i = 0; i < set->npkgs; i++)
            roundtrip(set->pkgs[i]);
        if (kw_resolve(set, &d) == 0 && set->npkgs > 0) {
            kw_package *p = set->pkgs[0];
            for (uint32_t i = 0; i < p->nifaces; i++)
                (void)kw_find_interface(set, p->ifaces[i]->qname);
            for (uint32_t i = 0; i < p->nworlds; i++)
                (void)kw_find_world(set, p->worlds[i]->qname);
        }
    }
    kw_set_free(set);
    return 0;
}
