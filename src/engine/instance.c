/* instance.c - instantiation: import matching, index spaces, constant
 * expressions, segment initialisation, the start function, exports.
 *
 * Instantiation follows WebAssembly 2.0: imports are checked, then the
 * instance's objects are created and its globals and element segments
 * evaluated; then active element segments are applied in order (each
 * bounds-checked just before it is copied, earlier ones stay applied),
 * then active data segments likewise, then the start function runs.
 * When memory 0 maps the module's data image (memory.c), its active data
 * segments are already in place: that memory is the instance's own, and
 * nobody can see it if an element segment traps, so having the data in
 * place before the element segments is unobservable. */
#include <stdio.h>

#include "memory.h"

/* ---- constant expressions ---- */

static int
const_binop(uint8_t op, kumo_val a, kumo_val b, kumo_val *out)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b;
    switch (op) {
    case 0x6a:
        *out = (uint32_t)(x + y);
        break;
    case 0x6b:
        *out = (uint32_t)(x - y);
        break;
    case 0x6c:
        *out = (uint32_t)(x * y);
        break;
    case 0x7c:
        *out = a + b;
        break;
    case 0x7d:
        *out = a - b;
        break;
    case 0x7e:
        *out = a * b;
        break;
    default:
        return KUMO_EINVALID;
    }
    return 0;
}

/* One instruction of a constant expression: push its value (or combine
 * the top two). */
static int
const_step(kumo_instance *inst, kb_reader *r, uint8_t op, kumo_val *st,
           uint32_t *n)
{
    const kumo_module *m = inst->module;
    uint32_t idx, b32;
    int32_t v32;
    int64_t v64;
    uint64_t b64;
    uint8_t ty;
    int rc;
    switch (op) {
    case 0x41:
        rc = kb_read_s32(r, &v32);
        st[(*n)++] = (uint32_t)v32;
        return rc;
    case 0x42:
        rc = kb_read_s64(r, &v64);
        st[(*n)++] = (uint64_t)v64;
        return rc;
    case 0x43:
        rc = kb_read_f32(r, &b32);
        st[(*n)++] = b32;
        return rc;
    case 0x44:
        rc = kb_read_f64(r, &b64);
        st[(*n)++] = b64;
        return rc;
    case 0x23:
        if ((rc = kb_read_u32(r, &idx)))
            return rc;
        if (idx >= m->nglobals || !inst->globals[idx])
            return KUMO_EINVALID;
        st[(*n)++] = inst->globals[idx]->val;
        return 0;
    case 0xd0:
        st[(*n)++] = 0;
        return kb_read_u8(r, &ty);
    case 0xd2:
        if ((rc = kb_read_u32(r, &idx)))
            return rc;
        if (idx >= m->nfuncs || !inst->funcs[idx])
            return KUMO_EINVALID;
        st[(*n)++] = (kumo_val)(uintptr_t)inst->funcs[idx];
        return 0;
    default:
        if (*n < 2)
            return KUMO_EINVALID;
        (*n)--;
        return const_binop(op, st[*n - 1], st[*n], &st[*n - 1]);
    }
}

int
ke_eval_const(kumo_instance *inst, ke_expr e, kumo_val *out)
{
    const kumo_module *m = inst->module;
    if ((uint64_t)e.off + e.len > m->size)
        return KUMO_EINVALID;
    kb_reader r = {
        .base = m->bytes,
        .p = m->bytes + e.off,
        .end = m->bytes + e.off + e.len,
    };
    /* Every value-pushing instruction takes at least two bytes. */
    kumo_val small[16], *st = small;
    uint32_t cap = e.len / 2 + 1, n = 0;
    if (cap > 16 && !(st = kb_malloc(cap * sizeof *st)))
        return KUMO_ENOMEM;
    int rc;
    for (;;) {
        uint8_t op;
        if ((rc = kb_read_u8(&r, &op)))
            break;
        if (op == 0x0b) {
            rc = n == 1 ? 0 : KUMO_EINVALID;
            if (!rc)
                *out = st[0];
            break;
        }
        if (n >= cap) {
            rc = KUMO_EINVALID;
            break;
        }
        if ((rc = const_step(inst, &r, op, st, &n)))
            break;
    }
    if (st != small)
        kb_free(st);
    return rc;
}

/* ---- import matching ---- */

/* Limits subtyping: the provided object's current size and declared max
 * against the import's declared limits. */
static bool
limits_match(uint64_t cur, const ke_limits *have, const ke_limits *want)
{
    if (cur < want->min)
        return false;
    if (want->has_max && (!have->has_max || have->max > want->max))
        return false;
    return true;
}

static bool
import_matches(const kumo_module *m, const ke_import *imp, const kumo_extern *x)
{
    if ((int)imp->kind == KUMO_EXTERN_TAG)
        return ke_functype_equal(x->u.tag->type, &m->types[imp->u.tag_type]);
    switch (imp->kind) {
    case KUMO_EXTERN_FUNC:
        return ke_functype_equal(x->u.func->type, &m->types[imp->u.type_index]);
    case KUMO_EXTERN_TABLE:
        return x->u.table->type.elem == imp->u.table.elem &&
               limits_match(x->u.table->size, &x->u.table->type.limits,
                            &imp->u.table.limits);
    case KUMO_EXTERN_MEMORY:
        return limits_match(x->u.memory->pages, &x->u.memory->type,
                            &imp->u.mem.limits);
    case KUMO_EXTERN_GLOBAL:
        return x->u.global->type.type == imp->u.global.type &&
               x->u.global->type.mutable_ == imp->u.global.mutable_;
    }
    return false;
}

/* The store of an extern (NULL when its pointer is NULL). */
static kumo_store *
extern_store(const kumo_extern *x)
{
    if ((int)x->kind == KUMO_EXTERN_TAG)
        return x->u.tag ? x->u.tag->store : NULL;
    switch (x->kind) {
    case KUMO_EXTERN_FUNC:
        return x->u.func ? x->u.func->store : NULL;
    case KUMO_EXTERN_TABLE:
        return x->u.table ? x->u.table->store : NULL;
    case KUMO_EXTERN_MEMORY:
        return x->u.memory ? x->u.memory->store : NULL;
    case KUMO_EXTERN_GLOBAL:
        return x->u.global ? x->u.global->store : NULL;
    }
    return NULL;
}

static int
check_imports(kumo_store *s, const kumo_module *m, const kumo_extern *imports,
              kumo_diag *diag)
{
    for (uint32_t i = 0; i < m->nimports; i++) {
        const ke_import *imp = &m->imports[i];
        const kumo_extern *x = &imports[i];
        if (extern_store(x) != s)
            return kb_diag(diag, KUMO_EINVAL, 0,
                           "import %u is NULL or from another store", i);
        if (x->kind != imp->kind || !import_matches(m, imp, x))
            return kb_diag(
                diag, KUMO_EUNLINKABLE, 0,
                "incompatible import type: \"%.*s\" \"%.*s\"",
                (int)imp->module.len, (const char *)m->bytes + imp->module.off,
                (int)imp->name.len, (const char *)m->bytes + imp->name.off);
    }
    return 0;
}

/* ---- the instance block ---- */

static uint64_t
total_items(const kumo_module *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nelems; i++)
        n += m->elems[i].nitems;
    return n;
}

/* The instance and all its arrays are one allocation (8-byte aligned
 * parts first), owned by the store. */
static int
alloc_instance(kumo_store *s, const kumo_module *m, kumo_instance **out)
{
    uint64_t nptr = (uint64_t)m->nfuncs + m->ntables + m->nmems +
                    m->nglobals + m->ntags + m->nelems;
    uint64_t nitems = total_items(m);
    uint64_t size = (sizeof(kumo_instance) + 7) / 8 * 8 + nptr * 8 +
                    nitems * sizeof(kumo_val) +
                    ((uint64_t)m->nelems + m->ndatas) * 4;
    if (size > SIZE_MAX / 2)
        return KUMO_ENOMEM;
    kumo_instance *inst = kb_calloc(1, (size_t)size);
    if (!inst)
        return KUMO_ENOMEM;
    if (ke_store_own(s, KE_OWN_INSTANCE, inst)) {
        kb_free(inst);
        return KUMO_ENOMEM;
    }
    uint8_t *p = (uint8_t *)inst + (sizeof(kumo_instance) + 7) / 8 * 8;
    inst->store = s;
    inst->module = m;
    inst->funcs = (kumo_func **)p;
    inst->tables = (kumo_table **)(inst->funcs + m->nfuncs);
    inst->mems = (kumo_memory **)(inst->tables + m->ntables);
    inst->globals = (kumo_global **)(inst->mems + m->nmems);
    inst->tags = (kumo_tag **)(inst->globals + m->nglobals);
    inst->elem_items = (kumo_val **)(inst->tags + m->ntags);
    kumo_val *items = (kumo_val *)(inst->elem_items + m->nelems);
    for (uint32_t i = 0; i < m->nelems; i++) {
        inst->elem_items[i] = items;
        items += m->elems[i].nitems;
    }
    inst->elem_sizes = (uint32_t *)items;
    inst->data_sizes = inst->elem_sizes + m->nelems;
    *out = inst;
    return 0;
}

static void
link_imports(kumo_instance *inst, const kumo_extern *imports)
{
    const kumo_module *m = inst->module;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const ke_import *imp = &m->imports[i];
        const kumo_extern *x = &imports[i];
        if ((int)imp->kind == KUMO_EXTERN_TAG) {
            inst->tags[imp->index] = x->u.tag;
            continue;
        }
        switch (imp->kind) {
        case KUMO_EXTERN_FUNC:
            inst->funcs[imp->index] = x->u.func;
            break;
        case KUMO_EXTERN_TABLE:
            inst->tables[imp->index] = x->u.table;
            break;
        case KUMO_EXTERN_MEMORY:
            inst->mems[imp->index] = x->u.memory;
            break;
        case KUMO_EXTERN_GLOBAL:
            inst->globals[imp->index] = x->u.global;
            break;
        }
    }
}

/* The wasm functions the module defines; their public types are the
 * module's kumo_valtype arrays. */
static int
define_funcs(kumo_instance *inst)
{
    const kumo_module *m = inst->module;
    uint32_t n = m->nfuncs - m->nimported_funcs;
    if (n == 0)
        return 0;
    /* One block for all of them, owned by the store through its first
     * element (the store frees what it owns with one kb_free each, and
     * wasm functions have no finalizer): one allocation per instance
     * instead of one per function. */
    kumo_func *block = kb_calloc(n, sizeof *block);
    if (!block || ke_store_own(inst->store, KUMO_EXTERN_FUNC, block)) {
        kb_free(block);
        return KUMO_ENOMEM;
    }
    for (uint32_t i = m->nimported_funcs; i < m->nfuncs; i++) {
        kumo_func *f = &block[i - m->nimported_funcs];
        uint32_t ti = m->func_types[i];
        f->store = inst->store;
        f->type = &m->types[ti];
        f->inst = inst;
        f->code = m->bodies[i - m->nimported_funcs].code;
        f->index = i;
        f->api_type.nparams = f->type->nparams;
        f->api_type.nresults = f->type->nresults;
        f->api_type.params = m->ktypes[ti];
        f->api_type.results = m->ktypes[ti] + f->type->nparams;
        inst->funcs[i] = f;
    }
    return 0;
}

static kumo_limits
to_limits(const ke_limits *l)
{
    kumo_limits k = {l->min, l->max, l->has_max};
    return k;
}

/* Defined tables, memories and globals (globals in order, each
 * initialiser seeing the ones before it). */
static int
define_objects(kumo_instance *inst)
{
    const kumo_module *m = inst->module;
    kumo_store *s = inst->store;
    int rc;
    for (uint32_t i = m->nimported_tables; i < m->ntables; i++) {
        const ke_tabletype *t = &m->tables[i];
        if ((rc = kumo_table_new(s, (kumo_valtype)t->elem,
                                 to_limits(&t->limits), 0, &inst->tables[i])))
            return rc;
    }
    for (uint32_t i = m->nimported_mems; i < m->nmems; i++) {
        const ke_image *img = NULL;
        if (i == 0 && !(s->cfg.flags & (KUMO_STORE_NO_GUARD |
                                        KUMO_STORE_NO_IMAGE)))
            img = ke_image_get(m);
        if ((rc = ke_memory_create(s, to_limits(&m->mems[i].limits), img,
                                   &inst->mems[i])))
            return rc;
    }
    for (uint32_t i = m->nimported_globals; i < m->nglobals; i++) {
        const ke_global *g = &m->globals[i];
        kumo_val v;
        if ((rc = ke_eval_const(inst, g->init, &v)))
            return rc;
        if ((rc = kumo_global_new(s, (kumo_valtype)g->type.type,
                                  g->type.mutable_, v, &inst->globals[i])))
            return rc;
    }
    for (uint32_t i = m->nimported_tags; i < m->ntags; i++)
        if ((rc = ke_tag_create(s, m, m->tag_types[i], &inst->tags[i])))
            return rc;
    return 0;
}

/* Evaluate every element segment's items (declarative ones are dropped
 * right away, so only their size matters). */
static int
eval_elems(kumo_instance *inst)
{
    const kumo_module *m = inst->module;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const ke_elem *e = &m->elems[i];
        if (e->mode == KE_SEG_DECLARATIVE)
            continue;
        for (uint32_t j = 0; j < e->nitems; j++) {
            const ke_elemitem *it = &e->items[j];
            kumo_val *dst = &inst->elem_items[i][j];
            if (it->is_expr) {
                int rc = ke_eval_const(inst, it->expr, dst);
                if (rc)
                    return rc;
            } else {
                if (it->func_index >= m->nfuncs)
                    return KUMO_EINVALID;
                *dst = (kumo_val)(uintptr_t)inst->funcs[it->func_index];
            }
        }
        inst->elem_sizes[i] = e->nitems;
    }
    for (uint32_t i = 0; i < m->ndatas; i++)
        inst->data_sizes[i] = m->datas[i].init.len;
    return 0;
}

/* table.init / memory.init of every active segment, then elem.drop /
 * data.drop. Returns 0 or a trap code (s->trap_msg set). */
static int
init_segments(kumo_instance *inst)
{
    const kumo_module *m = inst->module;
    kumo_store *s = inst->store;
    kumo_val off;
    int rc;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const ke_elem *e = &m->elems[i];
        if (e->mode != KE_SEG_ACTIVE)
            continue;
        if ((rc = ke_eval_const(inst, e->offset, &off)))
            return rc;
        kumo_table *t = inst->tables[e->table];
        uint32_t n = inst->elem_sizes[i];
        if ((uint64_t)(uint32_t)off + n > t->size)
            return ke_trap(s, KUMO_ETRAP_TABLE_OOB);
        if (n)
            memcpy(t->elems + (uint32_t)off, inst->elem_items[i],
                   n * sizeof(kumo_val));
        inst->elem_sizes[i] = 0;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const ke_data *d = &m->datas[i];
        if (d->mode != KE_SEG_ACTIVE)
            continue;
        kumo_memory *mem = inst->mems[d->mem];
        /* The module's image, mapped on its own memory 0 (an imported
         * memory may carry another module's), holds every active segment
         * already; they are dropped all the same. */
        if (mem->image && m->nimported_mems == 0) {
            inst->data_sizes[i] = 0;
            continue;
        }
        if ((rc = ke_eval_const(inst, d->offset, &off)))
            return rc;
        uint64_t n = d->init.len;
        if ((uint64_t)(uint32_t)off + n > mem->pages * KE_PAGE)
            return ke_trap(s, KUMO_ETRAP_MEMORY_OOB);
        if (n)
            memcpy(mem->data + (uint32_t)off, m->bytes + d->init.off, n);
        inst->data_sizes[i] = 0;
    }
    return 0;
}

int
kumo_instance_new(kumo_store *s, const kumo_module *m,
                  const kumo_extern *imports, uint32_t nimports,
                  kumo_instance **out, kumo_diag *diag)
{
    kumo_instance *inst = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (!s || !m || !out || (nimports && !imports))
        return kb_diag(diag, KUMO_EINVAL, 0, "invalid argument");
    if (nimports != m->nimports)
        return kb_diag(diag, KUMO_EINVAL, 0,
                       "wrong number of imports: %u given, %u expected",
                       nimports, m->nimports);
    if ((rc = check_imports(s, m, imports, diag)))
        return rc;
    if ((rc = alloc_instance(s, m, &inst)))
        goto fail;
    link_imports(inst, imports);
    if ((rc = define_funcs(inst)) || (rc = define_objects(inst)) ||
        (rc = eval_elems(inst)))
        goto fail;
    if ((rc = init_segments(inst)))
        goto fail;
    if (m->start != KE_NONE) {
        if (m->start >= m->nfuncs) {
            rc = KUMO_EINVALID;
            goto fail;
        }
        if ((rc = kumo_func_call(s, inst->funcs[m->start], NULL, NULL)))
            goto fail;
    }
    *out = inst;
    return 0;
fail:
    /* The instance (if any) and what it created stay owned by s. */
    if (KUMO_IS_TRAP(rc))
        return kb_diag(diag, rc, 0, "%s",
                       s->trap_msg[0] ? s->trap_msg : kumo_strerror(rc));
    return kb_diag(diag, rc, 0, "%s", kumo_strerror(rc));
}

/* ---- exports ---- */

int
kumo_instance_export(const kumo_instance *inst, const char *name,
                     size_t name_len, kumo_extern *out)
{
    const kumo_module *m = inst->module;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const ke_export *e = &m->exports[i];
        if (e->name.len != name_len ||
            memcmp(m->bytes + e->name.off, name, name_len) != 0)
            continue;
        out->kind = e->kind;
        if ((int)e->kind == KUMO_EXTERN_TAG) {
            out->u.tag = inst->tags[e->index];
            return 0;
        }
        switch (e->kind) {
        case KUMO_EXTERN_FUNC:
            out->u.func = inst->funcs[e->index];
            break;
        case KUMO_EXTERN_TABLE:
            out->u.table = inst->tables[e->index];
            break;
        case KUMO_EXTERN_MEMORY:
            out->u.memory = inst->mems[e->index];
            break;
        case KUMO_EXTERN_GLOBAL:
            out->u.global = inst->globals[e->index];
            break;
        }
        return 0;
    }
    return KUMO_ENOTFOUND;
}

const kumo_module *
kumo_instance_module(const kumo_instance *inst)
{
    return inst->module;
}

kumo_store *
kumo_instance_store(const kumo_instance *inst)
{
    return inst->store;
}
