/* linker.c - resolves a module's imports by (module, name) and
 * instantiates it. Names are byte strings (they may hold NULs), kept in an
 * open-addressing hash table keyed by both. */
#include <stdio.h>

#include "runtime.h"

typedef struct entry {
    char *key; /* module bytes then name bytes (owned); NULL: empty */
    uint32_t mlen, nlen;
    uint32_t hash;
    kumo_extern ext;
} entry;

struct kumo_linker {
    entry *slots;
    uint32_t cap; /* power of two, or 0 */
    uint32_t count;
};

static uint32_t
hash_key(const char *mod, uint32_t mlen, const char *name, uint32_t nlen)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < mlen; i++)
        h = (h ^ (uint8_t)mod[i]) * 16777619u;
    h = (h ^ 0xffu) * 16777619u; /* separator */
    for (uint32_t i = 0; i < nlen; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h;
}

/* The slot holding (mod, name), or the empty slot where it would go. */
static entry *
find_slot(entry *slots, uint32_t cap, uint32_t h, const char *mod,
          uint32_t mlen, const char *name, uint32_t nlen)
{
    for (uint32_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        entry *e = &slots[i];
        if (!e->key)
            return e;
        if (e->hash == h && e->mlen == mlen && e->nlen == nlen &&
            memcmp(e->key, mod, mlen) == 0 &&
            memcmp(e->key + mlen, name, nlen) == 0)
            return e;
    }
}

static int
grow(kumo_linker *l)
{
    uint32_t ncap = l->cap ? l->cap * 2 : 16;
    if (ncap > (1u << 30))
        return KUMO_ENOMEM;
    entry *ns = kb_calloc(ncap, sizeof *ns);
    if (!ns)
        return KUMO_ENOMEM;
    for (uint32_t i = 0; i < l->cap; i++) {
        entry *e = &l->slots[i];
        if (!e->key)
            continue;
        for (uint32_t j = e->hash & (ncap - 1);; j = (j + 1) & (ncap - 1)) {
            if (!ns[j].key) {
                ns[j] = *e;
                break;
            }
        }
    }
    kb_free(l->slots);
    l->slots = ns;
    l->cap = ncap;
    return 0;
}

int
kumo_linker_new(kumo_linker **out)
{
    kumo_linker *l = kb_calloc(1, sizeof *l);
    if (!l)
        return KUMO_ENOMEM;
    *out = l;
    return 0;
}

void
kumo_linker_free(kumo_linker *l)
{
    if (!l)
        return;
    for (uint32_t i = 0; i < l->cap; i++)
        kb_free(l->slots[i].key);
    kb_free(l->slots);
    kb_free(l);
}

static int
define_n(kumo_linker *l, const char *mod, uint32_t mlen, const char *name,
         uint32_t nlen, const kumo_extern *ext)
{
    uint32_t h = hash_key(mod, mlen, name, nlen);
    if (l->cap) {
        entry *e = find_slot(l->slots, l->cap, h, mod, mlen, name, nlen);
        if (e->key) {
            e->ext = *ext;
            return 0;
        }
    }
    /* Keep the load factor at most 1/2. */
    if ((l->count + 1) * 2 > l->cap && grow(l))
        return KUMO_ENOMEM;
    char *key = kb_malloc((size_t)mlen + nlen);
    if (!key)
        return KUMO_ENOMEM;
    memcpy(key, mod, mlen);
    memcpy(key + mlen, name, nlen);
    entry *e = find_slot(l->slots, l->cap, h, mod, mlen, name, nlen);
    e->key = key;
    e->mlen = mlen;
    e->nlen = nlen;
    e->hash = h;
    e->ext = *ext;
    l->count++;
    return 0;
}

int
kumo_linker_define(kumo_linker *l, const char *module, const char *name,
                   const kumo_extern *ext)
{
    size_t mlen = strlen(module), nlen = strlen(name);
    if (mlen > UINT32_MAX || nlen > UINT32_MAX)
        return KUMO_EINVAL;
    return define_n(l, module, (uint32_t)mlen, name, (uint32_t)nlen, ext);
}

int
kumo_linker_define_instance(kumo_linker *l, const char *module,
                            const kumo_instance *inst)
{
    const kumo_module *m = inst->module;
    size_t mlen = strlen(module);
    if (mlen > UINT32_MAX)
        return KUMO_EINVAL;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const ke_export *e = &m->exports[i];
        kumo_extern x = {.kind = e->kind};
        if ((int)e->kind == KUMO_EXTERN_TAG)
            x.u.tag = inst->tags[e->index];
        switch (e->kind) {
        case KUMO_EXTERN_FUNC:
            x.u.func = inst->funcs[e->index];
            break;
        case KUMO_EXTERN_TABLE:
            x.u.table = inst->tables[e->index];
            break;
        case KUMO_EXTERN_MEMORY:
            x.u.memory = inst->mems[e->index];
            break;
        case KUMO_EXTERN_GLOBAL:
            x.u.global = inst->globals[e->index];
            break;
        }
        int rc =
            define_n(l, module, (uint32_t)mlen,
                     (const char *)m->bytes + e->name.off, e->name.len, &x);
        if (rc)
            return rc;
    }
    return 0;
}

int
kumo_linker_instantiate(const kumo_linker *l, kumo_store *s,
                        const kumo_module *m, kumo_instance **out,
                        kumo_diag *diag)
{
    kumo_extern *imports = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (m->nimports) {
        imports = kb_malloc(m->nimports * sizeof *imports);
        if (!imports)
            return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    }
    for (uint32_t i = 0; i < m->nimports; i++) {
        const ke_import *imp = &m->imports[i];
        const char *mod = (const char *)m->bytes + imp->module.off;
        const char *name = (const char *)m->bytes + imp->name.off;
        uint32_t mlen = imp->module.len, nlen = imp->name.len;
        entry *e = NULL;
        if (l->cap) {
            e = find_slot(l->slots, l->cap, hash_key(mod, mlen, name, nlen),
                          mod, mlen, name, nlen);
        }
        if (!e || !e->key) {
            rc = kb_diag(diag, KUMO_EUNLINKABLE, 0,
                         "unknown import: \"%.*s\" \"%.*s\"", (int)mlen, mod,
                         (int)nlen, name);
            goto done;
        }
        imports[i] = e->ext;
    }
    rc = kumo_instance_new(s, m, imports, m->nimports, out, diag);
done:
    kb_free(imports);
    return rc;
}
