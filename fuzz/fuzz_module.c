/* fuzz_module.c - libFuzzer target: decode, validate and compile a module,
 * instantiate it against stub imports and call every exported function with
 * zero arguments under a small stack and an interruption deadline. Then
 * the store is restored to a snapshot taken right after instantiation and
 * the calls are made again: they must give the same results and traps
 * (kumo_store_restore must bring back everything the calls changed). */
#include <stdlib.h>
#include <string.h>

#include "kumo/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
stub(kumo_caller *c, void *env, const kumo_val *args, kumo_val *results)
{
    uint32_t nresults = (uint32_t)(uintptr_t)env;
    (void)c;
    (void)args;
    for (uint32_t i = 0; i < nresults; i++)
        results[i] = 0;
    return 0;
}

static int
make_stub(kumo_store *s, const kumo_externdesc *d, kumo_extern *out)
{
    out->kind = d->kind;
    switch (d->kind) {
    case KUMO_EXTERN_FUNC:
        return kumo_func_new_host(s, &d->func, stub,
                                  (void *)(uintptr_t)d->func.nresults, NULL,
                                  &out->u.func);
    case KUMO_EXTERN_TABLE:
        return kumo_table_new(s, d->elem_type, d->limits, 0, &out->u.table);
    case KUMO_EXTERN_MEMORY:
        return kumo_memory_new(s, d->limits, &out->u.memory);
    case KUMO_EXTERN_GLOBAL:
        return kumo_global_new(s, d->global_type, d->global_mutable, 0,
                               &out->u.global);
    }
    return KUMO_EINVAL;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

/* Call every exported function with zero arguments; a digest of the trap
 * codes and numeric results (references are pointers: left out). */
static uint64_t
call_all(kumo_store *s, const kumo_module *m, kumo_instance *inst)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t ne = kumo_module_export_count(m);
    for (uint32_t i = 0; i < ne; i++) {
        kumo_externdesc d;
        kumo_extern ext;
        kumo_module_export(m, i, &d);
        if (d.kind != KUMO_EXTERN_FUNC)
            continue;
        if (kumo_instance_export(inst, d.name, d.name_len, &ext) != 0)
            continue;
        kumo_val args[64] = {0}, results[64];
        const kumo_functype *ft = kumo_func_type(ext.u.func);
        if (ft->nparams > 64 || ft->nresults > 64)
            continue;
        kumo_store_set_fuel(s, 100000);
        int rc = kumo_func_call(s, ext.u.func, args, results);
        h = mix(h, (uint64_t)(int64_t)rc);
        for (uint32_t k = 0; rc == 0 && k < ft->nresults; k++) {
            kumo_valtype t = ft->results[k];
            if (t == KUMO_I32 || t == KUMO_I64 || t == KUMO_F32 ||
                t == KUMO_F64)
                h = mix(h, (uint64_t)results[k]);
        }
    }
    return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_module *m = NULL;
    kumo_snapshot *snap = NULL;
    kumo_store *s = NULL;
    kumo_extern *imports = NULL;
    kumo_diag diag;
    if (kumo_module_new(data, size, &m, &diag) != 0)
        return 0;
    kumo_store_config cfg = {.max_memory_pages = 16,
                             .max_table_elems = 1024,
                             .max_call_depth = 200,
                             .value_stack_cells = 1 << 16};
    if (kumo_store_new(&cfg, &s) != 0)
        goto done;
    uint32_t ni = kumo_module_import_count(m);
    imports = calloc(ni ? ni : 1, sizeof *imports);
    if (!imports)
        goto done;
    for (uint32_t i = 0; i < ni; i++) {
        kumo_externdesc d;
        kumo_module_import(m, i, &d);
        if (d.kind == KUMO_EXTERN_MEMORY && d.limits.min > 16)
            goto done;
        if (d.kind == KUMO_EXTERN_TABLE && d.limits.min > 1024)
            goto done;
        if (make_stub(s, &d, &imports[i]) != 0)
            goto done;
    }
    kumo_instance *inst;
    kumo_store_set_fuel(s, 100000);
    if (kumo_instance_new(s, m, imports, ni, &inst, &diag) != 0)
        goto done;
    if (kumo_store_snapshot(s, &snap) != 0)
        snap = NULL;
    uint64_t first = call_all(s, m, inst);
    if (snap) {
        if (kumo_store_restore(s, snap) != 0)
            abort();
        if (call_all(s, m, inst) != first)
            abort(); /* a restore left something of the first calls */
    }
done:
    kumo_snapshot_free(snap);
    free(imports);
    kumo_store_free(s);
    kumo_module_free(m);
    return 0;
}
