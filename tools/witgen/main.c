/* main.c - witgen: generate C host bindings from WIT (run by the build).
 *
 *   witgen --prefix P --out BASE [--feature F]... WITDIR... -- IFACE...
 *
 * Loads every WIT package directory (or file) WITDIR, resolves them, and
 * writes BASE.h and BASE.c for the interfaces IFACE (qualified names,
 * the version may be left out when one is loaded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/base/base.h"
#include "gen.h"

static int
usage(void)
{
    fprintf(stderr, "usage: witgen --prefix P --out BASE [--feature F]... "
                    "WITDIR... -- IFACE...\n");
    return 2;
}

static int
write_outputs(const kw_world_set *set, kw_interface **ifs, size_t n,
              const wg_opts *o, const char *base)
{
    char hpath[4096], cpath[4096], htmp[4200], ctmp[4200], err[512];
    snprintf(hpath, sizeof hpath, "%s.h", base);
    snprintf(cpath, sizeof cpath, "%s.c", base);
    snprintf(htmp, sizeof htmp, "%s.tmp", hpath);
    snprintf(ctmp, sizeof ctmp, "%s.tmp", cpath);
    FILE *h = fopen(htmp, "w"), *c = fopen(ctmp, "w");
    int rc = 1;
    if (!h || !c) {
        perror("witgen: cannot write output");
        goto done;
    }
    if (wg_generate(set, ifs, n, o, h, c, err, sizeof err)) {
        fprintf(stderr, "witgen: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    if ((h && fclose(h)) || (c && fclose(c)))
        rc = 1;
    if (rc == 0 && (rename(htmp, hpath) || rename(ctmp, cpath))) {
        perror("witgen: rename");
        rc = 1;
    }
    if (rc) {
        remove(htmp);
        remove(ctmp);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    const char *prefix = NULL, *out = NULL;
    const char *features[32];
    size_t nfeat = 0;
    kw_world_set *set = NULL;
    kw_interface **ifs = NULL;
    kumo_diag d = {0};
    int i, rc = 1;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i++) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--prefix") == 0)
            prefix = argv[++i];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--feature") == 0 && nfeat < 32)
            features[nfeat++] = argv[++i];
        else
            return usage();
    }
    if (!prefix || !out)
        return usage();
    if (kw_set_new(&set))
        return 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (kw_add_path(set, argv[i], &d)) {
            fprintf(stderr, "witgen: %s\n", d.message);
            goto done;
        }
    if (i >= argc) {
        rc = usage();
        goto done;
    }
    i++;
    if (kw_resolve(set, &d)) {
        fprintf(stderr, "witgen: %s\n", d.message);
        goto done;
    }
    size_t n = (size_t)(argc - i);
    ifs = kb_calloc(n + 1, sizeof *ifs);
    if (!ifs)
        goto done;
    for (size_t k = 0; k < n; k++) {
        ifs[k] = kw_find_interface(set, argv[i + (int)k]);
        if (!ifs[k]) {
            fprintf(stderr, "witgen: no interface %s\n", argv[i + (int)k]);
            goto done;
        }
    }
    const char *slash = strrchr(out, '/');
    char hname[512];
    snprintf(hname, sizeof hname, "%s.h", slash ? slash + 1 : out);
    wg_opts o = {prefix, hname, features, nfeat, NULL};
    rc = write_outputs(set, ifs, n, &o, out);
done:
    kb_free(ifs);
    kw_set_free(set);
    return rc;
}
