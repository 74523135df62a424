/* run.c - running a command: a store, the preview1 functions and
 * _start (a core module) or the WASI 0.2 host and wasi:cli/run (a
 * component), on a fiber of a private libuv loop that runs until the
 * program ends. A deadline is enforced twice: a watchdog
 * thread interrupts the store (a guest computing traps at its next call
 * or loop iteration) and wakes the loop through a uv_async, whose
 * callback cancels a wait in progress (a guest sleeping or reading traps
 * as it returns from the wait). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../base/base.h"
#include "fiber.h"
#include "wasi.h"

typedef struct run {
    kumo_wasi_ctx *ctx;
    const kumo_module *m;
    const kumo_component *comp;
    kumo_clinker *clinker;
    const char *trap_msg; /* the component's trap message, else NULL */
    const kumo_wasi_run_config *cfg;
    kumo_wasi_result *res;
    kumo_store *store;
    kumo_linker *linker;
    int rc;
    /* watchdog */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    atomic_bool timed_out;
    uv_async_t async;
} run;

static void
set_msg(kumo_wasi_result *res, const char *msg)
{
    snprintf(res->message, sizeof res->message, "%s", msg);
}

static void
classify(run *r, int rc)
{
    kumo_wasi_result *res = r->res;
    uint32_t code;

    if (kumo_wasi_exited(r->ctx, &code)) {
        res->end = KUMO_WASI_END_EXIT;
        res->exit_code = code;
    } else if (rc == 0) {
        res->end = KUMO_WASI_END_EXIT;
        res->exit_code = 0;
    } else if (atomic_load(&r->timed_out) && (rc == KUMO_ETRAP_INTERRUPTED ||
                                atomic_load(&r->ctx->cancel))) {
        res->end = KUMO_WASI_END_TIMEOUT;
        res->code = KUMO_ETRAP_INTERRUPTED;
        snprintf(res->message, sizeof res->message,
                 "deadline exceeded (timeout of %llu ms)",
                 (unsigned long long)r->cfg->timeout_ms);
    } else {
        res->end = KUMO_IS_TRAP(rc) ? KUMO_WASI_END_TRAP : KUMO_WASI_END_ERROR;
        res->code = rc;
        set_msg(res, KUMO_IS_TRAP(rc) ? (r->trap_msg && r->trap_msg[0]
                                              ? r->trap_msg
                                              : kumo_store_trap_message(
                                                    r->store))
                                      : kumo_strerror(rc));
    }
}

static void
start_error(run *r, int rc, const char *msg)
{
    r->res->end = KUMO_WASI_END_ERROR;
    r->res->code = rc;
    set_msg(r->res, msg);
    r->rc = rc;
}

/* The fiber's body for a component: instantiate, call wasi:cli/run. */
static void
body_component(run *r)
{
    kumo_cinstance *ci = NULL;
    kumo_cfunc *f;
    kumo_cval out = {.kind = KUMO_CV_BOOL};
    kumo_diag diag;
    int rc;

    memset(&diag, 0, sizeof diag);
    rc = kumo_component_instantiate(r->store, r->comp, r->clinker, &ci,
                                    &diag);
    if (rc < 0 && !KUMO_IS_TRAP(rc)) {
        start_error(r, rc, diag.message[0] ? diag.message : kumo_strerror(rc));
        return;
    }
    if (rc == 0) {
        if (kumo_cinstance_func(ci, "wasi:cli/run@0.2.0#run", &f) < 0 ||
            kumo_ctype_count(kumo_cfunc_type(f)) != 0) {
            start_error(r, KUMO_ENOTFOUND,
                        "no `wasi:cli/run@0.2.x` export (not a command)");
            kumo_cinstance_free(ci);
            return;
        }
        size_t nres = kumo_ctype_result(kumo_cfunc_type(f)) ? 1 : 0;
        if (r->cfg && r->cfg->fuel)
            kumo_store_set_fuel(r->store, r->cfg->fuel);
        rc = kumo_cfunc_call(f, NULL, 0, &out, nres);
        r->trap_msg = kumo_cinstance_trap_message(ci);
        if (rc == 0 && nres && out.kind == KUMO_CV_RESULT &&
            out.u.var.disc == 1 && !r->ctx->exited) {
            r->ctx->exited = true;
            r->ctx->exit_code = 1;
        }
        kumo_cvals_free(&out, nres);
    }
    classify(r, rc);
    kumo_cinstance_free(ci);
}

/* The fiber's body: instantiate (a start function may call WASI too) and
 * call _start. */
static void
body(void *arg)
{
    run *r = arg;
    if (r->comp) {
        body_component(r);
        return;
    }
    kumo_instance *inst;
    kumo_extern start;
    kumo_diag diag;
    int rc;

    memset(&diag, 0, sizeof diag);
    rc = kumo_linker_instantiate(r->linker, r->store, r->m, &inst, &diag);
    if (rc < 0 && !KUMO_IS_TRAP(rc)) {
        r->res->end = KUMO_WASI_END_ERROR;
        r->res->code = rc;
        set_msg(r->res, diag.message[0] ? diag.message : kumo_strerror(rc));
        r->rc = rc;
        return;
    }
    if (rc == 0) {
        if (kumo_instance_export(inst, "_start", 6, &start) < 0 ||
            start.kind != KUMO_EXTERN_FUNC ||
            kumo_func_type(start.u.func)->nparams != 0) {
            r->res->end = KUMO_WASI_END_ERROR;
            r->res->code = KUMO_ENOTFOUND;
            set_msg(r->res, "no `_start` function exported (not a command)");
            r->rc = KUMO_ENOTFOUND;
            return;
        }
        if (r->cfg && r->cfg->fuel)
            kumo_store_set_fuel(r->store, r->cfg->fuel);
        kumo_val results[4];
        rc = kumo_func_call(r->store, start.u.func, NULL, results);
    }
    classify(r, rc);
}

static void
on_async(uv_async_t *h)
{
    run *r = h->data;
    kx_wait_cancel(r->ctx);
}

static void *
watchdog(void *arg)
{
    run *r = arg;
    struct timespec dl;
    uint64_t ms = r->cfg->timeout_ms;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)(ms / 1000);
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->finished &&
           pthread_cond_timedwait(&r->cv, &r->mu, &dl) == 0)
        ;
    while (!r->finished) {
        /* Keep interrupting: a request made before the guest's outermost
         * call began is cleared by that call. */
        atomic_store(&r->timed_out, true);
        atomic_store(&r->ctx->cancel, 1);
        kumo_store_interrupt(r->store);
        uv_async_send(&r->async);
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 20000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &dl);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static int
drive(run *r)
{
    uv_loop_t loop;
    pthread_t th;
    bool has_watchdog = r->cfg && r->cfg->timeout_ms;
    int rc;

    if (uv_loop_init(&loop) < 0)
        return KUMO_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    uv_async_init(&loop, &r->async, on_async);
    r->async.data = r;
    uv_unref((uv_handle_t *)&r->async); /* the fiber's waits keep it up */
    if (has_watchdog && pthread_create(&th, NULL, watchdog, r) != 0)
        has_watchdog = false;
    rc = kx_fiber_start(&loop, body, r, NULL);
    if (rc == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    if (has_watchdog) {
        pthread_mutex_lock(&r->mu);
        r->finished = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(th, NULL);
    }
    uv_close((uv_handle_t *)&r->async, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    kx_fiber_pool_trim();
    return rc;
}

/* What both entry points share: reset the result and the context, make the
 * store. */
static int
begin(run *r, kumo_wasi_ctx *ctx, const kumo_wasi_run_config *cfg,
      kumo_wasi_result *res)
{
    memset(res, 0, sizeof *res);
    r->ctx = ctx;
    r->cfg = cfg;
    r->res = res;
    res->end = KUMO_WASI_END_ERROR;
    atomic_store(&ctx->cancel, 0);
    ctx->exited = false;
    return kumo_store_new(cfg ? &cfg->store : NULL, &r->store);
}

/* Run the program once its linker is ready (rc 0), and report. */
static int
finish(run *r, int rc)
{
    if (rc == 0)
        rc = drive(r);
    if (rc == 0)
        return r->rc;
    r->res->code = rc;
    set_msg(r->res, kumo_strerror(rc));
    return rc;
}

int
kumo_wasi_run_command(kumo_wasi_ctx *ctx, const kumo_module *m,
                      const kumo_wasi_run_config *cfg,
                      kumo_wasi_result *res)
{
    run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.m = m;
    rc = begin(&r, ctx, cfg, res);
    if (rc == 0)
        rc = kumo_linker_new(&r.linker);
    if (rc == 0)
        rc = kumo_wasi_preview1_define(ctx, r.store, r.linker);
    rc = finish(&r, rc);
    kumo_linker_free(r.linker);
    kumo_store_free(r.store);
    return rc;
}

int
kumo_wasi_run_component(kumo_wasi_ctx *ctx, const kumo_component *c,
                        const kumo_wasi_run_config *cfg,
                        kumo_wasi_result *res)
{
    run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.comp = c;
    rc = begin(&r, ctx, cfg, res);
    if (rc == 0)
        rc = kumo_clinker_new(&r.clinker);
    if (rc == 0)
        rc = kumo_wasi_p2_define(ctx, r.clinker);
    rc = finish(&r, rc);
    kumo_store_free(r.store);
    kumo_clinker_free(r.clinker);
    return rc;
}
