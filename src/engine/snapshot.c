/* snapshot.c - recording a store's state and putting it back
 * (kumo_store_snapshot / kumo_store_restore, engine.h).
 *
 * A host that wants a fresh instance per request can instantiate once,
 * snapshot, and restore after each request instead of instantiating
 * again: the store keeps its objects, so a restore costs resetting the
 * pages the request touched plus a few copies. Objects made after the
 * snapshot are freed (ke_store_truncate); the memory contents are handled
 * by memory.c (ke_memory_capture / ke_memory_restore). */
#include <string.h>

#include "memory.h"
#include "module.h"

typedef struct snap_table {
    uint32_t size;
    kumo_val *elems;
} snap_table;

typedef struct snap_inst {
    uint32_t *elem_sizes, *data_sizes;
} snap_inst;

struct kumo_snapshot {
    ke_store_marks marks;
    uint64_t fuel;
    kumo_val *globals;     /* marks.nglobals */
    snap_table *tables;    /* marks.ntables */
    ke_memsnap *mems;      /* marks.nmems */
    snap_inst *insts;      /* marks.ninstances */
};

void
kumo_snapshot_free(kumo_snapshot *snap)
{
    if (!snap)
        return;
    if (snap->tables) {
        for (uint32_t i = 0; i < snap->marks.ntables; i++)
            kb_free(snap->tables[i].elems);
    }
    if (snap->mems) {
        for (uint32_t i = 0; i < snap->marks.nmems; i++)
            ke_memsnap_fini(&snap->mems[i]);
    }
    if (snap->insts) {
        for (uint32_t i = 0; i < snap->marks.ninstances; i++) {
            kb_free(snap->insts[i].elem_sizes);
            kb_free(snap->insts[i].data_sizes);
        }
    }
    kb_free(snap->globals);
    kb_free(snap->tables);
    kb_free(snap->mems);
    kb_free(snap->insts);
    kb_free(snap);
}

static void *
dup_array(const void *p, uint32_t n, size_t elem, int *rc)
{
    if (!n)
        return NULL;
    void *q = kb_malloc(n * elem);
    if (!q) {
        *rc = KUMO_ENOMEM;
        return NULL;
    }
    memcpy(q, p, n * elem);
    return q;
}

static int
capture(kumo_store *s, kumo_snapshot *snap)
{
    const ke_store_marks *mk = &snap->marks;
    int rc = 0;
    for (uint32_t i = 0; i < mk->nglobals; i++)
        snap->globals[i] = s->globals[i]->val;
    for (uint32_t i = 0; i < mk->ntables && !rc; i++) {
        kumo_table *t = s->tables[i];
        snap->tables[i].size = t->size;
        snap->tables[i].elems = dup_array(t->elems, t->size, sizeof(kumo_val),
                                          &rc);
    }
    for (uint32_t i = 0; i < mk->nmems && !rc; i++)
        rc = ke_memory_capture(s->mems[i], &snap->mems[i]);
    for (uint32_t i = 0; i < mk->ninstances && !rc; i++) {
        kumo_instance *in = s->instances[i];
        snap->insts[i].elem_sizes = dup_array(
            in->elem_sizes, in->module->nelems, sizeof(uint32_t), &rc);
        if (!rc)
            snap->insts[i].data_sizes = dup_array(
                in->data_sizes, in->module->ndatas, sizeof(uint32_t), &rc);
    }
    return rc;
}

int
kumo_store_snapshot(kumo_store *s, kumo_snapshot **out)
{
    if (!s || !out || s->depth)
        return KUMO_EINVAL;
    kumo_snapshot *snap = kb_calloc(1, sizeof *snap);
    if (!snap)
        return KUMO_ENOMEM;
    snap->marks = ke_store_marks_of(s);
    snap->fuel = s->fuel;
    const ke_store_marks *mk = &snap->marks;
    int rc = KUMO_ENOMEM;
    if ((mk->nglobals &&
         !(snap->globals = kb_calloc(mk->nglobals, sizeof *snap->globals))) ||
        (mk->ntables &&
         !(snap->tables = kb_calloc(mk->ntables, sizeof *snap->tables))) ||
        (mk->nmems && !(snap->mems = kb_calloc(mk->nmems, sizeof *snap->mems))) ||
        (mk->ninstances &&
         !(snap->insts = kb_calloc(mk->ninstances, sizeof *snap->insts))))
        goto fail;
    if ((rc = capture(s, snap)))
        goto fail;
    *out = snap;
    return 0;
fail:
    kumo_snapshot_free(snap);
    return rc;
}

static int
restore_table(kumo_table *t, const snap_table *st)
{
    if (t->size < st->size) {
        /* tables never shrink, so this one was replaced: make room */
        kumo_val *e = kb_realloc(t->elems, st->size * sizeof *e);
        if (!e)
            return KUMO_ENOMEM;
        t->elems = e;
    }
    t->size = st->size;
    if (st->size)
        memcpy(t->elems, st->elems, st->size * sizeof *t->elems);
    return 0;
}

int
kumo_store_restore(kumo_store *s, const kumo_snapshot *snap)
{
    const ke_store_marks *mk = &snap->marks;
    if (!s || s->depth || s->nglobals < mk->nglobals ||
        s->ntables < mk->ntables || s->nmems < mk->nmems ||
        s->ninstances < mk->ninstances || s->nfuncs < mk->nfuncs ||
        s->ntags < mk->ntags)
        return KUMO_EINVAL;
    ke_store_truncate(s, mk, true);
    s->fuel = snap->fuel;
    for (uint32_t i = 0; i < mk->nglobals; i++)
        s->globals[i]->val = snap->globals[i];
    for (uint32_t i = 0; i < mk->ntables; i++) {
        int rc = restore_table(s->tables[i], &snap->tables[i]);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < mk->nmems; i++) {
        int rc = ke_memory_restore(s->mems[i], &snap->mems[i]);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < mk->ninstances; i++) {
        kumo_instance *in = s->instances[i];
        if (in->module->nelems)
            memcpy(in->elem_sizes, snap->insts[i].elem_sizes,
                   in->module->nelems * sizeof(uint32_t));
        if (in->module->ndatas)
            memcpy(in->data_sizes, snap->insts[i].data_sizes,
                   in->module->ndatas * sizeof(uint32_t));
    }
    return 0;
}
