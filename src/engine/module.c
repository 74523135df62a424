/* module.c - module objects: load (decode, validate, compile), free, and
 * the public descriptions of imports and exports. */
#include "module.h"
#include "code.h"

kumo_features
kumo_features_default(void)
{
    kumo_features f = {
        .extended_const = true, .multi_memory = true, .exceptions = true};
    return f;
}

int
kumo_module_new(const uint8_t *bytes, size_t len, kumo_module **out,
                kumo_diag *diag)
{
    return kumo_module_new_with(bytes, len, NULL, out, diag);
}

int
kumo_module_new_with(const uint8_t *bytes, size_t len,
                     const kumo_features *features, kumo_module **out,
                     kumo_diag *diag)
{
    kumo_module *m = NULL;
    int rc;

    *out = NULL;
    if (!bytes && len)
        return kb_diag(diag, KUMO_EINVAL, 0, "invalid argument");
    if (len > UINT32_MAX)
        return kb_diag(diag, KUMO_EMALFORMED, 0, "module too large");
    m = kb_calloc(1, sizeof *m);
    if (!m)
        return kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
    m->bytes = kb_malloc(len);
    if (!m->bytes) {
        rc = kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
        goto fail;
    }
    if (len)
        memcpy(m->bytes, bytes, len);
    m->size = len;
    m->features = features ? *features : kumo_features_default();
    if ((rc = ke_decode(m, diag)))
        goto fail;
    /* The spec decodes the whole module before validating any of it, so a
     * malformed body wins over an invalid earlier part. */
    for (uint32_t f = m->nimported_funcs; f < m->nfuncs; f++)
        if ((rc = ke_scan_func(m, f, diag)))
            goto fail;
    if ((rc = ke_validate_module(m, diag)))
        goto fail;
    for (uint32_t f = m->nimported_funcs; f < m->nfuncs; f++)
        if ((rc = ke_compile_func(m, f, diag)))
            goto fail;
    if (ke_code_index_build(m)) {
        rc = kb_diag(diag, KUMO_ENOMEM, 0, "out of memory");
        goto fail;
    }
    *out = m;
    return 0;

fail:
    ke_module_free(m);
    return rc;
}

void
ke_module_free(kumo_module *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->ntypes; i++) {
        kb_free(m->types[i].types);
        if (m->ktypes)
            kb_free(m->ktypes[i]);
    }
    kb_free(m->types);
    kb_free(m->ktypes);
    kb_free(m->imports);
    kb_free(m->func_types);
    kb_free(m->tables);
    kb_free(m->mems);
    kb_free(m->globals);
    kb_free(m->tag_types);
    kb_free(m->code_index);
    kb_free(m->exports);
    for (uint32_t i = 0; i < m->nelems; i++)
        kb_free(m->elems[i].items);
    kb_free(m->elems);
    kb_free(m->datas);
    if (m->bodies) {
        /* bodies exists only once nfuncs is final (code section). */
        for (uint32_t i = 0; i < m->nfuncs - m->nimported_funcs; i++) {
            ke_funcbody *fb = &m->bodies[i];
            kb_free(fb->locals);
            ke_code_free(fb->code);
        }
        kb_free(m->bodies);
    }
    ke_image_free(m->image);
    kb_free(m->func_declared);
    if (m->func_names) {
        for (uint32_t i = 0; i < m->nfuncs; i++)
            kb_free(m->func_names[i]);
        kb_free(m->func_names);
    }
    kb_free(m->bytes);
    kb_free(m);
}

void
kumo_module_free(kumo_module *m)
{
    ke_module_free(m);
}

bool
ke_functype_equal(const ke_functype *a, const ke_functype *b)
{
    if (a == b)
        return true;
    if (a->nparams != b->nparams || a->nresults != b->nresults)
        return false;
    size_t n = (size_t)a->nparams + a->nresults;
    return n == 0 || memcmp(a->types, b->types, n) == 0;
}

uint32_t
kumo_module_import_count(const kumo_module *m)
{
    return m->nimports;
}

uint32_t
kumo_module_export_count(const kumo_module *m)
{
    return m->nexports;
}

static void
describe_functype(const kumo_module *m, uint32_t type_index, kumo_functype *out)
{
    if (type_index >= m->ntypes)
        return;
    const ke_functype *ft = &m->types[type_index];
    out->nparams = ft->nparams;
    out->nresults = ft->nresults;
    out->params = m->ktypes[type_index];
    out->results = m->ktypes[type_index] + ft->nparams;
}

static kumo_limits
public_limits(const ke_limits *l)
{
    kumo_limits k = {.min = l->min, .max = l->max, .has_max = l->has_max};
    return k;
}

/* Fill the kind-specific part of out for entity `index` of `kind`. */
static void
describe_entity(const kumo_module *m, kumo_externkind kind, uint32_t index,
                kumo_externdesc *out)
{
    out->kind = kind;
    out->index = index;
    if ((int)kind == KUMO_EXTERN_TAG) {
        if (index < m->ntags)
            describe_functype(m, m->tag_types[index], &out->func);
        return;
    }
    switch (kind) {
    case KUMO_EXTERN_FUNC:
        if (index < m->nfuncs)
            describe_functype(m, m->func_types[index], &out->func);
        break;
    case KUMO_EXTERN_TABLE:
        if (index < m->ntables) {
            out->elem_type = (kumo_valtype)m->tables[index].elem;
            out->limits = public_limits(&m->tables[index].limits);
        }
        break;
    case KUMO_EXTERN_MEMORY:
        if (index < m->nmems)
            out->limits = public_limits(&m->mems[index].limits);
        break;
    case KUMO_EXTERN_GLOBAL:
        if (index < m->nglobals) {
            out->global_type = (kumo_valtype)m->globals[index].type.type;
            out->global_mutable = m->globals[index].type.mutable_;
        }
        break;
    }
}

void
kumo_module_import(const kumo_module *m, uint32_t i, kumo_externdesc *out)
{
    memset(out, 0, sizeof *out);
    if (i >= m->nimports)
        return;
    const ke_import *im = &m->imports[i];
    out->module = (const char *)m->bytes + im->module.off;
    out->module_len = im->module.len;
    out->name = (const char *)m->bytes + im->name.off;
    out->name_len = im->name.len;
    describe_entity(m, im->kind, im->index, out);
}

void
kumo_module_export(const kumo_module *m, uint32_t i, kumo_externdesc *out)
{
    memset(out, 0, sizeof *out);
    if (i >= m->nexports)
        return;
    const ke_export *ex = &m->exports[i];
    out->name = (const char *)m->bytes + ex->name.off;
    out->name_len = ex->name.len;
    describe_entity(m, ex->kind, ex->index, out);
}

const char *
kumo_module_func_name(const kumo_module *m, uint32_t func_index)
{
    if (!m->func_names || func_index >= m->nfuncs)
        return NULL;
    return m->func_names[func_index];
}
