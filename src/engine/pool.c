/* pool.c - instance pools: slots (a store with the module's imports
 * defined once) reused across instantiations of one module.
 *
 * Releasing an instance truncates its slot's store back to what existed
 * after the imports were defined (ke_store_truncate): functions, tables,
 * globals and the instance block are freed, and memories are parked
 * (memory.c) after MADV_DONTNEED, which makes a private mapping of the
 * module's image read as the image again and anonymous pages read as
 * zeros. The next instantiation in that slot takes the parked memory back
 * (at most an mprotect to fix its size) instead of reserving and mapping
 * a new one, and the store's value and frame stacks are reused as they
 * are. */
#include <pthread.h>

#include "memory.h"

#define DEFAULT_MAX_IDLE 16

typedef struct ke_slot {
    kumo_pool *pool;
    kumo_store *store;
    ke_store_marks marks;    /* the store right after the imports */
    struct ke_slot *next;    /* in the idle list */
    kumo_extern imports[];   /* module->nimports */
} ke_slot;

struct kumo_pool {
    const kumo_module *module;
    kumo_pool_config cfg;
    pthread_mutex_t lock;
    ke_slot *idle;
    uint32_t nidle;
};

int
kumo_pool_new(const kumo_module *m, const kumo_pool_config *cfg,
              kumo_pool **out)
{
    if (!m || !out || (m->nimports && (!cfg || !cfg->imports)))
        return KUMO_EINVAL;
    kumo_pool *p = kb_calloc(1, sizeof *p);
    if (!p)
        return KUMO_ENOMEM;
    p->module = m;
    if (cfg)
        p->cfg = *cfg;
    if (!p->cfg.max_idle)
        p->cfg.max_idle = DEFAULT_MAX_IDLE;
    if (pthread_mutex_init(&p->lock, NULL)) {
        kb_free(p);
        return KUMO_ENOMEM;
    }
    *out = p;
    return 0;
}

static void
slot_free(ke_slot *sl)
{
    kumo_store_free(sl->store);
    kb_free(sl);
}

void
kumo_pool_free(kumo_pool *p)
{
    if (!p)
        return;
    while (p->idle) {
        ke_slot *sl = p->idle;
        p->idle = sl->next;
        slot_free(sl);
    }
    pthread_mutex_destroy(&p->lock);
    kb_free(p);
}

static int
slot_new(kumo_pool *p, ke_slot **out, kumo_diag *diag)
{
    const kumo_module *m = p->module;
    ke_slot *sl = kb_calloc(1, sizeof *sl + m->nimports * sizeof(kumo_extern));
    if (!sl)
        return kb_diag(diag, KUMO_ENOMEM, 0, "%s", kumo_strerror(KUMO_ENOMEM));
    int rc = kumo_store_new(&p->cfg.store, &sl->store);
    if (rc) {
        kb_free(sl);
        return kb_diag(diag, rc, 0, "%s", kumo_strerror(rc));
    }
    if (m->nimports && (rc = p->cfg.imports(sl->store, p->cfg.env,
                                            sl->imports))) {
        slot_free(sl);
        return kb_diag(diag, rc, 0, "pool imports: %s", kumo_strerror(rc));
    }
    sl->pool = p;
    sl->marks = ke_store_marks_of(sl->store);
    sl->store->slot = sl;
    *out = sl;
    return 0;
}

/* Reset sl's store and keep it idle (or free it when enough are). */
static void
slot_put(kumo_pool *p, ke_slot *sl)
{
    ke_store_truncate(sl->store, &sl->marks, true);
    pthread_mutex_lock(&p->lock);
    if (p->nidle < p->cfg.max_idle) {
        sl->next = p->idle;
        p->idle = sl;
        p->nidle++;
        sl = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (sl)
        slot_free(sl);
}

int
kumo_pool_instantiate(kumo_pool *p, kumo_instance **out, kumo_diag *diag)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return kb_diag(diag, KUMO_EINVAL, 0, "invalid argument");
    pthread_mutex_lock(&p->lock);
    ke_slot *sl = p->idle;
    if (sl) {
        p->idle = sl->next;
        p->nidle--;
    }
    pthread_mutex_unlock(&p->lock);
    int rc;
    if (!sl && (rc = slot_new(p, &sl, diag)))
        return rc;
    const kumo_module *m = p->module;
    rc = kumo_instance_new(sl->store, m, sl->imports, m->nimports, out, diag);
    if (rc)
        slot_put(p, sl);
    return rc;
}

void
kumo_pool_release(kumo_pool *p, kumo_instance *inst)
{
    if (!p || !inst)
        return;
    ke_slot *sl = inst->store->slot;
    if (!sl || sl->pool != p)
        return; /* not from this pool: a host bug, ignored */
    slot_put(p, sl);
}
