/* component.c - the component object: arena, index-space helpers and the
 * public API of kumo/component.h (new, free, imports/exports). */
#include <stdio.h>

#include "component.h"
#include "kumo/engine.h"

struct kc_arena_block {
    kc_arena_block *next;
    size_t used, size;
    /* data follows, 16-aligned */
};

#define KC_BLOCK_HDR ((sizeof(kc_arena_block) + 15) & ~(size_t)15)
#define KC_BLOCK_MIN ((size_t)64 * 1024)

void *
kc_alloc(kc_arena *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
        size = 8;
    kc_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > KC_BLOCK_MIN / 2 ? size : KC_BLOCK_MIN;
        if (cap > SIZE_MAX - KC_BLOCK_HDR)
            return NULL;
        kc_arena_block *nb = kb_malloc(KC_BLOCK_HDR + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->size = cap;
        if (b && size > KC_BLOCK_MIN / 2) {
            /* A big block: keep filling the current one afterwards. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b + KC_BLOCK_HDR + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void
kc_arena_free(kc_arena *a)
{
    kc_arena_block *b = a->head;
    while (b) {
        kc_arena_block *next = b->next;
        kb_free(b);
        b = next;
    }
    a->head = NULL;
}

int
kc_grow(kc_arena *a, void **items, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > UINT32_MAX / 2)
            return KUMO_ELIMIT;
        ncap *= 2;
    }
    if ((size_t)ncap > SIZE_MAX / elem)
        return KUMO_ENOMEM;
    void *p = kc_alloc(a, (size_t)ncap * elem);
    if (!p)
        return KUMO_ENOMEM;
    if (*items && *cap)
        memcpy(p, *items, (size_t)*cap * elem);
    *items = p;
    *cap = ncap;
    return 0;
}

bool
kc_str_eq(kc_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && memcmp(a.s, lit, n) == 0;
}

const char *
kc_sort_name(kc_sort s)
{
    static const char *const names[KC_NSORTS] = {
        "core func", "core table",  "core memory",   "core global", "core tag",
        "core type", "core module", "core instance", "func",        "value",
        "type",      "component",   "instance",
    };
    return (unsigned)s < KC_NSORTS ? names[s] : "?";
}

const char *
kc_canon_name(kc_canon_op op)
{
    static const char *const names[] = {
#define KC_CANON_NAME(e, code, name, shape) name,
        KC_CANON_OPS(KC_CANON_NAME)
#undef KC_CANON_NAME
    };
    return (unsigned)op < KC_CANON_COUNT ? names[op] : "?";
}

kc_sort
kc_extern_sort(uint8_t kind)
{
    switch (kind) {
    case KUMO_COMPONENT_CORE_MODULE:
        return KC_CORE_MODULE;
    case KUMO_COMPONENT_FUNC:
        return KC_FUNC;
    case KUMO_COMPONENT_VALUE:
        return KC_VALUE;
    case KUMO_COMPONENT_TYPE:
        return KC_TYPE;
    case KUMO_COMPONENT_COMPONENT:
        return KC_COMPONENT;
    default:
        return KC_INSTANCE;
    }
}

int
kc_push(kc_decoder *d, kc_body *b, kc_sort s, kc_origin o, uint32_t ref)
{
    kc_space *sp = &b->spaces[s];
    int rc = kc_grow(d->arena, (void **)&sp->items, &sp->cap, sp->n + 1,
                     sizeof *sp->items);
    if (rc)
        return kb_diag(d->diag, rc, kb_offset(&d->r), "%s", kumo_strerror(rc));
    sp->items[sp->n].origin = (uint8_t)o;
    sp->items[sp->n].ref = ref;
    sp->n++;
    return 0;
}

int
kc_add_def(kc_decoder *d, kc_body *b, kc_defkind k, uint32_t ref)
{
    int rc = kc_grow(d->arena, (void **)&b->defs, &b->cap_defs, b->ndefs + 1,
                     sizeof *b->defs);
    if (rc)
        return kb_diag(d->diag, rc, kb_offset(&d->r), "%s", kumo_strerror(rc));
    b->defs[b->ndefs].kind = (uint8_t)k;
    b->defs[b->ndefs].ref = ref;
    b->ndefs++;
    return 0;
}

int
kumo_component_new(const uint8_t *bytes, size_t len, kumo_component **out,
                   kumo_diag *diag)
{
    static const uint8_t preamble[8] = {0x00, 0x61, 0x73, 0x6d,
                                        0x0d, 0x00, 0x01, 0x00};
    *out = NULL;
    if (!bytes && len)
        return kb_diag(diag, KUMO_EINVAL, 0, "no bytes");
    if (len < 4 || memcmp(bytes, preamble, 4) != 0)
        return kb_diag(diag, KUMO_EMALFORMED, 0, "magic header not detected");
    if (len < 8)
        return kb_diag(diag, KUMO_EMALFORMED, len, "unexpected end");
    if (bytes[6] == 0 && bytes[7] == 0)
        return kb_diag(diag, KUMO_EMALFORMED, 4,
                       "not a component (a core module)");
    if (memcmp(bytes + 4, preamble + 4, 4) != 0)
        return kb_diag(diag, KUMO_EMALFORMED, 4,
                       "unknown component version 0x%02x%02x layer 0x%02x%02x",
                       bytes[5], bytes[4], bytes[7], bytes[6]);

    kumo_component *c = kb_calloc(1, sizeof *c);
    if (!c)
        return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    int rc = KUMO_ENOMEM;
    c->bytes = kb_malloc(len);
    if (!c->bytes) {
        kb_diag(diag, rc, 0, "out of memory");
        goto fail;
    }
    memcpy(c->bytes, bytes, len);
    c->len = len;
    c->mods = kb_calloc(1, sizeof *c->mods);
    if (!c->mods) {
        kb_diag(diag, rc, 0, "out of memory");
        goto fail;
    }
    c->root = kc_alloc(&c->arena, sizeof *c->root);
    if (!c->root) {
        kb_diag(diag, rc, 0, "out of memory");
        goto fail;
    }
    kc_decoder d = {
        .r = {.base = c->bytes,
              .p = c->bytes + 8,
              .end = c->bytes + len,
              .diag = diag},
        .arena = &c->arena,
        .diag = diag,
    };
    c->root->kind = KC_BODY_COMPONENT;
    c->root->offset = 0;
    c->root->len = len;
    rc = kc_read_component(&d, c->root);
    if (rc)
        goto fail;
    *out = c;
    return 0;
fail:
    kumo_component_free(c);
    return rc;
}

void
kumo_component_free(kumo_component *c)
{
    if (!c)
        return;
    if (c->mods) {
        for (uint32_t i = 0; i < c->mods->n; i++)
            kumo_module_free(c->mods->mod[i]);
        kb_free(c->mods->offset);
        kb_free(c->mods->mod);
        kb_free(c->mods);
    }
    kc_arena_free(&c->arena);
    kb_free(c->bytes);
    kb_free(c);
}

uint32_t
kumo_component_import_count(const kumo_component *c)
{
    return c->root->nimports;
}

uint32_t
kumo_component_export_count(const kumo_component *c)
{
    return c->root->nexports;
}

static void
fill_item(const kc_name *n, uint8_t kind, kumo_component_item *out)
{
    out->name = n->name.s;
    out->name_len = n->name.len;
    out->version = n->version.len ? n->version.s : NULL;
    out->version_len = n->version.len;
    out->sort = (kumo_component_sort)kind;
}

int
kumo_component_import(const kumo_component *c, uint32_t i,
                      kumo_component_item *out)
{
    if (i >= c->root->nimports)
        return KUMO_EINVAL;
    const kc_import *im = &c->root->imports[i];
    fill_item(&im->name, im->ext.kind, out);
    return 0;
}

/* The externtype kind of a component export's sort. */
static uint8_t
sort_kind(kc_sort s)
{
    switch (s) {
    case KC_CORE_MODULE:
        return KUMO_COMPONENT_CORE_MODULE;
    case KC_FUNC:
        return KUMO_COMPONENT_FUNC;
    case KC_VALUE:
        return KUMO_COMPONENT_VALUE;
    case KC_TYPE:
        return KUMO_COMPONENT_TYPE;
    case KC_COMPONENT:
        return KUMO_COMPONENT_COMPONENT;
    default:
        return KUMO_COMPONENT_INSTANCE;
    }
}

int
kumo_component_export(const kumo_component *c, uint32_t i,
                      kumo_component_item *out)
{
    if (i >= c->root->nexports)
        return KUMO_EINVAL;
    const kc_export *ex = &c->root->exports[i];
    fill_item(&ex->name, ex->has_sortidx ? sort_kind(ex->sort) : ex->ext.kind,
              out);
    return 0;
}

int
kc_core_module_new(const uint8_t *bytes, size_t len, kumo_module **out,
                   kumo_diag *diag)
{
    kumo_features f = kumo_features_default();

    f.multi_memory = true;
    return kumo_module_new_with(bytes, len, &f, out, diag);
}

kumo_module *
kc_modcache_get(const kumo_component *c, size_t offset)
{
    for (uint32_t i = 0; c->mods && i < c->mods->n; i++)
        if (c->mods->offset[i] == offset)
            return c->mods->mod[i];
    return NULL;
}

int
kc_modcache_put(const kumo_component *c, size_t offset, kumo_module *m)
{
    kc_modcache *mc = c->mods;
    uint32_t cap = mc->cap;

    if (kb_reserve((void **)&mc->offset, &cap, mc->n + 1,
                   sizeof *mc->offset) ||
        kb_reserve((void **)&mc->mod, &mc->cap, mc->n + 1, sizeof *mc->mod))
        return KUMO_ENOMEM;
    mc->offset[mc->n] = offset;
    mc->mod[mc->n++] = m;
    return 0;
}
