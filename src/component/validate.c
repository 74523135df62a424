/* validate.c - component validation (the Explainer's type checking): walks
 * every component and type body in binary order, building the extern type
 * of each index-space entry and checking index bounds, instantiation
 * arguments, aliases, imports/exports and values. Types, names, subtyping
 * and canonical definitions are in validate_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kumo/engine.h"
#include "validate.h"

/* ---- helpers */

int
kv_err(kv_ctx *v, size_t off, const char *fmt, ...)
{
    char msg[sizeof v->diag->message];
    va_list ap;

    if (!v->diag)
        return KUMO_EINVALID;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kb_diag(v->diag, KUMO_EINVALID, off, "%s", msg);
}

int
kv_wrap(kv_ctx *v, int rc, const char *fmt, ...)
{
    char pre[sizeof v->diag->message], msg[2 * sizeof v->diag->message + 4];
    va_list ap;

    if (!v->diag || rc != KUMO_EINVALID)
        return rc;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s: %s", pre, v->diag->message);
    size_t n = strlen(msg);
    if (n >= sizeof v->diag->message)
        n = sizeof v->diag->message - 1;
    memcpy(v->diag->message, msg, n);
    v->diag->message[n] = '\0';
    return rc;
}

int
kv_nomem(kv_ctx *v)
{
    return kb_diag(v->diag, KUMO_ENOMEM, 0, "out of memory");
}

void *
kv_alloc(kv_ctx *v, size_t size)
{
    return kc_alloc(&v->arena, size);
}

int
kv_push(kv_ctx *v, kv_scope *s, kc_sort sort, kv_ext e)
{
    kv_space *sp = &s->sp[sort];
    if (kc_grow(&v->arena, (void **)&sp->v, &sp->cap, sp->n + 1,
                sizeof *sp->v))
        return kv_nomem(v);
    e.sort = (uint8_t)sort;
    sp->v[sp->n++] = e;
    return 0;
}

static kc_str
arena_str(kv_ctx *v, const char *s, uint32_t len)
{
    kc_str out = {"", 0};
    char *p = kv_alloc(v, (size_t)len + 1);
    if (p) {
        memcpy(p, s, len);
        out.s = p;
        out.len = len;
    }
    return out;
}

/* ---- core modules (validated by the engine) */

static kv_core *
core_from_desc(kv_ctx *v, const kumo_externdesc *d)
{
    kv_core *c = kv_alloc(v, sizeof *c);
    if (!c)
        return NULL;
    c->kind = (uint8_t)d->kind;
    switch (d->kind) {
    case KUMO_EXTERN_FUNC:
        c->np = d->func.nparams;
        c->nr = d->func.nresults;
        c->p = kv_alloc(v, c->np + 1);
        c->r = kv_alloc(v, c->nr + 1);
        if (!c->p || !c->r)
            return NULL;
        for (uint32_t i = 0; i < c->np; i++)
            c->p[i] = (uint8_t)d->func.params[i];
        for (uint32_t i = 0; i < c->nr; i++)
            c->r[i] = (uint8_t)d->func.results[i];
        break;
    case KUMO_EXTERN_TABLE:
    case KUMO_EXTERN_MEMORY:
        c->val = (uint8_t)d->elem_type;
        c->min = d->limits.min;
        c->max = d->limits.max;
        c->flags = d->limits.has_max ? 1 : 0;
        break;
    case KUMO_EXTERN_GLOBAL:
        c->val = (uint8_t)d->global_type;
        c->mut = d->global_mutable;
        break;
    }
    return c;
}

/* A sort as the suite's messages name it ("module" for core modules). */
static const char *
sort_word(uint8_t sort)
{
    return sort == KC_CORE_MODULE ? "module" : kc_sort_name((kc_sort)sort);
}

static bool
str_eq(kc_str a, kc_str b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

/* The component tools' wording for two core decoding errors, put in front
 * of the core spec's. */
static const char *
core_message_context(const kumo_diag *d, const uint8_t *b, size_t len)
{
    if (strcmp(d->message, "unexpected content after last section") == 0)
        return "section out of order: ";
    if (strcmp(d->message, "unknown binary version") == 0 && len >= 8 &&
        b[6] != 0x00)
        return "expected a version header for a module: ";
    return "";
}

static int
core_module(kv_ctx *v, kv_scope *s, const kc_range *r)
{
    kumo_module *m = NULL;
    kumo_diag d;
    kv_core *c = kv_alloc(v, sizeof *c);
    int rc;

    if (!c)
        return kv_nomem(v);
    c->kind = KV_MODULE;
    memset(&d, 0, sizeof d);
    rc = kc_core_module_new(v->comp->bytes + r->offset, r->len, &m, &d);
    if (rc == KUMO_EUNSUPPORTED) {
        c->unknown = true;
    } else if (rc < 0) {
        if (rc == KUMO_ENOMEM)
            return kv_nomem(v);
        return kb_diag(v->diag, rc, r->offset + d.offset, "%s%s",
                       core_message_context(&d, v->comp->bytes + r->offset,
                                            r->len),
                       d.message);
    } else {
        c->nimp = kumo_module_import_count(m);
        c->nexp = kumo_module_export_count(m);
        c->imp = kv_alloc(v, (size_t)(c->nimp + 1) * sizeof *c->imp);
        c->exp = kv_alloc(v, (size_t)(c->nexp + 1) * sizeof *c->exp);
        rc = c->imp && c->exp ? 0 : KUMO_ENOMEM;
        for (uint32_t i = 0; i < c->nimp && !rc; i++) {
            kumo_externdesc e;
            kumo_module_import(m, i, &e);
            c->imp[i].module = arena_str(v, e.module, e.module_len);
            c->imp[i].name = arena_str(v, e.name, e.name_len);
            if (!(c->imp[i].c = core_from_desc(v, &e)))
                rc = KUMO_ENOMEM;
        }
        for (uint32_t i = 0; i < c->nexp && !rc; i++) {
            kumo_externdesc e;
            kumo_module_export(m, i, &e);
            c->exp[i].name = arena_str(v, e.name, e.name_len);
            if (!(c->exp[i].c = core_from_desc(v, &e)))
                rc = KUMO_ENOMEM;
        }
        /* instantiation reuses the compiled module */
        if (rc || kc_modcache_get(v->comp, r->offset) ||
            kc_modcache_put(v->comp, r->offset, m))
            kumo_module_free(m);
        if (rc)
            return kv_nomem(v);
        /* instantiation arguments name imports by module and name */
        for (uint32_t i = 0; i < c->nimp; i++)
            for (uint32_t k = 0; k < i; k++)
                if (str_eq(c->imp[i].module, c->imp[k].module) &&
                    str_eq(c->imp[i].name, c->imp[k].name))
                    return kv_err(v, r->offset,
                                  "duplicate import name `%.*s:%.*s`",
                                  (int)c->imp[i].module.len,
                                  c->imp[i].module.s,
                                  (int)c->imp[i].name.len, c->imp[i].name.s);
    }
    kv_ext e = {0, NULL, c};
    return kv_push(v, s, KC_CORE_MODULE, e);
}

static const kv_cnamed *
core_export(const kv_core *inst, kc_str name)
{
    for (uint32_t i = 0; inst && i < inst->nexp; i++)
        if (str_eq(inst->exp[i].name, name))
            return &inst->exp[i];
    return NULL;
}

static int
core_instantiate(kv_ctx *v, kv_scope *s, const kc_instance *in)
{
    if (in->target >= s->sp[KC_CORE_MODULE].n)
        return kv_err(v, in->offset, "unknown module %u: module index out of "
                                     "bounds", in->target);
    kv_core *mod = s->sp[KC_CORE_MODULE].v[in->target].c;
    for (uint32_t i = 0; i < in->nargs; i++) {
        const kc_arg *a = &in->args[i];
        if (a->idx >= s->sp[KC_CORE_INSTANCE].n)
            return kv_err(v, in->offset, "core instance index out of bounds");
        for (uint32_t k = 0; k < i; k++)
            if (str_eq(in->args[k].name.name, a->name.name))
                return kv_err(v, in->offset,
                              "duplicate module instantiation argument "
                              "named `%.*s`",
                              (int)a->name.name.len, a->name.name.s);
    }
    for (uint32_t i = 0; mod && !mod->unknown && i < mod->nimp; i++) {
        const kv_cnamed *im = &mod->imp[i];
        const kc_arg *arg = NULL;
        for (uint32_t k = 0; k < in->nargs && !arg; k++)
            if (str_eq(in->args[k].name.name, im->module))
                arg = &in->args[k];
        if (!arg)
            return kv_err(v, in->offset,
                          "missing module instantiation argument named "
                          "`%.*s`",
                          (int)im->module.len, im->module.s);
        kv_core *inst = s->sp[KC_CORE_INSTANCE].v[arg->idx].c;
        if (!inst || inst->unknown)
            continue;
        const kv_cnamed *ex = core_export(inst, im->name);
        if (!ex)
            return kv_err(v, in->offset,
                          "module instantiation argument `%.*s` does not "
                          "export an item named `%.*s`",
                          (int)im->module.len, im->module.s,
                          (int)im->name.len, im->name.s);
        int rc = kv_sub_core(v, ex->c, im->c, in->offset);
        if (rc)
            return kv_wrap(v, rc, "type mismatch for export `%.*s` of module "
                                  "instantiation argument `%.*s`",
                           (int)im->name.len, im->name.s,
                           (int)im->module.len, im->module.s);
    }
    kv_core *c = kv_alloc(v, sizeof *c);
    if (!c)
        return kv_nomem(v);
    c->kind = KV_INSTANCE;
    c->unknown = !mod || mod->unknown;
    if (mod) {
        c->nexp = mod->nexp;
        c->exp = mod->exp;
    }
    kv_ext e = {0, NULL, c};
    return kv_push(v, s, KC_CORE_INSTANCE, e);
}

static int
core_from_exports(kv_ctx *v, kv_scope *s, const kc_instance *in)
{
    kv_core *c = kv_alloc(v, sizeof *c);
    if (!c)
        return kv_nomem(v);
    c->kind = KV_INSTANCE;
    c->exp = kv_alloc(v, (size_t)(in->nargs + 1) * sizeof *c->exp);
    if (!c->exp)
        return kv_nomem(v);
    for (uint32_t i = 0; i < in->nargs; i++) {
        const kc_arg *a = &in->args[i];
        if (a->sort > KC_CORE_TAG)
            return kv_err(v, in->offset, "invalid core instance export sort");
        if (a->idx >= s->sp[a->sort].n)
            return kv_err(v, in->offset, "unknown %s %u: %s index out of "
                                         "bounds",
                          kc_sort_name(a->sort) + 5, a->idx,
                          kc_sort_name(a->sort) + 5);
        if (core_export(c, a->name.name))
            return kv_err(v, in->offset, "export name `%.*s` already defined",
                          (int)a->name.name.len, a->name.name.s);
        c->exp[c->nexp].name = a->name.name;
        c->exp[c->nexp].c = s->sp[a->sort].v[a->idx].c;
        if (!c->exp[c->nexp].c) {
            kv_core *t = kv_alloc(v, sizeof *t);
            if (!t)
                return kv_nomem(v);
            t->kind = (uint8_t)(a->sort - KC_CORE_FUNC);
            t->unknown = true;
            c->exp[c->nexp].c = t;
        }
        c->nexp++;
    }
    kv_ext e = {0, NULL, c};
    return kv_push(v, s, KC_CORE_INSTANCE, e);
}

/* ---- component instances */

static int
use_value(kv_ctx *v, kv_scope *s, uint32_t idx, size_t off)
{
    if (idx >= s->sp[KC_VALUE].n)
        return kv_err(v, off, "value index out of bounds");
    if (kc_grow(&v->arena, (void **)&s->value_used, &s->cap_value_used,
                s->sp[KC_VALUE].n, 1))
        return kv_nomem(v);
    if (s->value_used[idx] == 1)
        return kv_err(v, off, "value index %u used more than once", idx);
    s->value_used[idx] = 1;
    return 0;
}

static int
arg_ext(kv_ctx *v, kv_scope *s, const kc_arg *a, size_t off, kv_ext *out)
{
    if (a->idx >= s->sp[a->sort].n)
        return kv_err(v, off, "unknown %s %u: %s index out of bounds",
                      sort_word(a->sort), a->idx, kc_sort_name(a->sort));
    *out = s->sp[a->sort].v[a->idx];
    if (a->sort == KC_VALUE)
        return use_value(v, s, a->idx, off);
    return 0;
}

static kv_type *renamed(kv_ctx *v, kv_type *t, uint8_t sort, uint8_t named,
                        unsigned depth);

static int
instantiate(kv_ctx *v, kv_scope *s, const kc_instance *in)
{
    kv_subst m = {0, 0, NULL, NULL, kv_depth(s), false, false};
    int rc;

    if (in->target >= s->sp[KC_COMPONENT].n)
        return kv_err(v, in->offset, "unknown component %u: component index "
                                     "out of bounds", in->target);
    kv_type *ct = s->sp[KC_COMPONENT].v[in->target].t;
    kv_ext *args = kv_alloc(v, (size_t)(in->nargs + 1) * sizeof *args);
    if (!args)
        return kv_nomem(v);
    for (uint32_t i = 0; i < in->nargs; i++) {
        const kc_arg *a = &in->args[i];
        for (uint32_t k = 0; k < i; k++)
            if (str_eq(in->args[k].name.name, a->name.name))
                return kv_err(v, in->offset,
                              "instantiation argument `%.*s` conflicts with "
                              "previous argument `%.*s`",
                              (int)a->name.name.len, a->name.name.s,
                              (int)a->name.name.len, a->name.name.s);
        if ((rc = arg_ext(v, s, a, in->offset, &args[i])))
            return rc;
    }
    for (uint32_t i = 0; ct && i < ct->nimp; i++) {
        const kv_named *im = &ct->imp[i];
        uint32_t k = 0;
        while (k < in->nargs && !str_eq(in->args[k].name.name, im->name))
            k++;
        if (k == in->nargs)
            return kv_err(v, in->offset, "missing import named `%.*s`",
                          (int)im->name.len, im->name.s);
        if ((rc = kv_sub_ext(v, &args[k], &im->e, &m, in->offset)))
            return kv_wrap(v, rc, "type mismatch for component instantiation "
                                  "argument `%.*s`",
                           (int)im->name.len, im->name.s);
    }
    kv_type *it = kv_alloc(v, sizeof *it);
    if (!it)
        return kv_nomem(v);
    it->kind = KC_T_INSTANCE;
    if (ct) {
        kv_type tmp = *ct;
        tmp.kind = KC_T_INSTANCE;
        tmp.nimp = 0;
        kv_type *st = kv_subst_type(v, &tmp, &m);
        st = renamed(v, st, KC_INSTANCE, 0, 0);
        if (!st)
            return kv_nomem(v);
        *it = *st;
    }
    kv_ext e = {0, it, NULL};
    return kv_push(v, s, KC_INSTANCE, e);
}

static int
from_exports(kv_ctx *v, kv_scope *s, const kc_instance *in)
{
    kv_scope names;
    int rc;

    memset(&names, 0, sizeof names);
    for (uint32_t i = 0; i < in->nargs; i++) {
        kv_ext e;
        if ((rc = arg_ext(v, s, &in->args[i], in->offset, &e)) ||
            (rc = kv_add_name(v, &names, &in->args[i].name, e, false,
                              in->offset)))
            return rc;
    }
    kv_type *it = kv_alloc(v, sizeof *it);
    if (!it)
        return kv_nomem(v);
    it->kind = KC_T_INSTANCE;
    it->nexp = names.nexp;
    it->exp = names.exp;
    it = renamed(v, it, KC_INSTANCE, 0, 0);
    if (!it)
        return kv_nomem(v);
    kv_ext e = {0, it, NULL};
    return kv_push(v, s, KC_INSTANCE, e);
}

/* ---- aliases */

static bool
refers_to_resources(const kv_type *t, unsigned depth)
{
    if (!t || depth > 64)
        return false;
    if (t->kind == KC_T_RESOURCE)
        return true;
    if (refers_to_resources(t->a, depth + 1) ||
        refers_to_resources(t->b, depth + 1))
        return true;
    for (uint32_t i = 0; i < t->n; i++)
        if (refers_to_resources(t->f[i].t, depth + 1))
            return true;
    for (uint32_t i = 0; i < t->nimp; i++)
        if (refers_to_resources(t->imp[i].e.t, depth + 1))
            return true;
    for (uint32_t i = 0; i < t->nexp; i++)
        if (refers_to_resources(t->exp[i].e.t, depth + 1))
            return true;
    return false;
}

static int
alias(kv_ctx *v, kv_scope *s, const kc_alias *a)
{
    kv_ext e = {0, NULL, NULL};
    if (s->body->kind != KC_BODY_COMPONENT &&
        (a->kind == KC_ALIAS_CORE_EXPORT ||
         (a->kind == KC_ALIAS_EXPORT && a->sort != KC_TYPE &&
          a->sort != KC_INSTANCE) ||
         (a->kind == KC_ALIAS_OUTER && a->sort != KC_TYPE &&
          a->sort != KC_CORE_TYPE)))
        return kv_err(v, a->offset, "%s aliases in a type declaration may "
                                    "only refer to types or instances",
                      a->kind == KC_ALIAS_OUTER ? "outer" : "export");
    switch (a->kind) {
    case KC_ALIAS_EXPORT: {
        if (a->instance >= s->sp[KC_INSTANCE].n)
            return kv_err(v, a->offset, "instance index out of bounds");
        kv_type *it = s->sp[KC_INSTANCE].v[a->instance].t;
        const kv_named *ex = NULL;
        for (uint32_t i = 0; it && i < it->nexp && !ex; i++)
            if (str_eq(it->exp[i].name, a->name))
                ex = &it->exp[i];
        if (!ex)
            return kv_err(v, a->offset, "instance %u has no export named "
                                        "`%.*s`",
                          a->instance, (int)a->name.len, a->name.s);
        if (ex->e.sort != a->sort)
            return kv_err(v, a->offset, "export `%.*s` for instance %u is not "
                                        "a %s",
                          (int)a->name.len, a->name.s, a->instance,
                          sort_word(a->sort));
        e = ex->e;
        break;
    }
    case KC_ALIAS_CORE_EXPORT: {
        static const char *const kinds[] = {"func", "table", "memory",
                                            "global", "tag"};
        if (a->instance >= s->sp[KC_CORE_INSTANCE].n)
            return kv_err(v, a->offset, "core instance index out of bounds");
        kv_core *ci = s->sp[KC_CORE_INSTANCE].v[a->instance].c;
        if (a->sort > KC_CORE_TAG)
            return kv_err(v, a->offset, "invalid core export alias sort");
        if (ci && !ci->unknown) {
            const kv_cnamed *ex = core_export(ci, a->name);
            if (!ex)
                return kv_err(v, a->offset,
                              "core instance %u has no export named `%.*s`",
                              a->instance, (int)a->name.len, a->name.s);
            if (ex->c && ex->c->kind != a->sort - KC_CORE_FUNC)
                return kv_err(v, a->offset,
                              "export `%.*s` for core instance %u is not a "
                              "%s",
                              (int)a->name.len, a->name.s, a->instance,
                              kinds[a->sort - KC_CORE_FUNC]);
            e.c = ex->c;
        } else {
            e.c = kv_alloc(v, sizeof *e.c);
            if (!e.c)
                return kv_nomem(v);
            e.c->kind = (uint8_t)(a->sort - KC_CORE_FUNC);
            e.c->unknown = true;
        }
        break;
    }
    case KC_ALIAS_OUTER: {
        kv_scope *o = s;
        for (uint32_t k = 0; k < a->outer_count && o; k++)
            o = o->parent;
        if (!o)
            return kv_err(v, a->offset, "invalid outer alias count of %u",
                          a->outer_count);
        if (a->outer_index >= o->sp[a->sort].n)
            return kv_err(v, a->offset, "%s index out of bounds",
                          kc_sort_name(a->sort));
        e = o->sp[a->sort].v[a->outer_index];
        /* names of the enclosing component do not reach into another */
        bool other = false;
        for (kv_scope *q = s; q != o; q = q->parent)
            other |= q->body->kind != KC_BODY_INSTANCE_TYPE;
        if (other && a->sort == KC_TYPE && e.t &&
            !(e.t = kv_unnamed(v, e.t)))
            return kv_nomem(v);
        if (a->outer_count > 0 && a->sort == KC_TYPE &&
            refers_to_resources(e.t, 0)) {
            /* resources may not cross a component boundary this way */
            bool crosses = false;
            for (kv_scope *q = s; q != o; q = q->parent)
                crosses |= q->body->kind == KC_BODY_COMPONENT;
            if (crosses)
                return kv_err(v, a->offset,
                              "type index %u transitively refers to "
                              "resources not defined in the current "
                              "component",
                              a->outer_index);
        }
        break;
    }
    }
    return kv_push(v, s, a->sort, e);
}

/* ---- imports, exports, starts, values */

/* External visibility: records, variants, enums, flags and resources in
 * the type of an import or export must be reached through an imported (or,
 * for exports, exported) type name. top: t itself is the type being named.
 * imp: checking an import. */
static bool
visible(const kv_type *t, bool top, bool imp, unsigned depth)
{
    if (!t || depth > 64)
        return true;
    switch (t->kind) {
    case KC_T_PRIM:
        return true;
    case KC_T_RECORD:
    case KC_T_VARIANT:
    case KC_T_ENUM:
    case KC_T_FLAGS:
    case KC_T_RESOURCE:
        if (!top)
            return t->named == 1 || (t->named == 2 && !imp);
        break;
    case KC_T_OWN:
    case KC_T_BORROW:
        return visible(t->a, false, imp, depth + 1);
    default:
        break;
    }
    if (!visible(t->a, false, imp, depth + 1) ||
        !visible(t->b, false, imp, depth + 1))
        return false;
    for (uint32_t i = 0; i < t->n; i++)
        if (!visible(t->f[i].t, false, imp, depth + 1))
            return false;
    if (t->kind == KC_T_INSTANCE || t->kind == KC_T_COMPONENT) {
        for (uint32_t i = 0; i < t->nexp; i++)
            if (!visible(t->exp[i].e.t, true, false, depth + 1))
                return false;
        for (uint32_t i = 0; i < t->nimp; i++)
            if (!visible(t->imp[i].e.t, true, true, depth + 1))
                return false;
    }
    return true;
}

/* A copy of type t named (or unnamed: named 0) by an import or export;
 * for instances, their type exports (recursively). */
static kv_type *
renamed(kv_ctx *v, kv_type *t, uint8_t sort, uint8_t named, unsigned depth)
{
    if (!t || depth > 64 || (sort != KC_TYPE && sort != KC_INSTANCE))
        return t;
    kv_type *w = kv_alloc(v, sizeof *w);
    if (!w)
        return NULL;
    *w = *t;
    if (sort == KC_TYPE) {
        w->named = named;
        if (w->kind == KC_T_RESOURCE)
            w->same = kv_res(t);
        return w;
    }
    w->exp = kv_alloc(v, (size_t)(t->nexp + 1) * sizeof *w->exp);
    if (!w->exp)
        return NULL;
    for (uint32_t i = 0; i < t->nexp; i++) {
        w->exp[i] = t->exp[i];
        w->exp[i].e.t =
            renamed(v, t->exp[i].e.t, t->exp[i].e.sort, named, depth + 1);
        if (t->exp[i].e.t && !w->exp[i].e.t)
            return NULL;
    }
    return w;
}

/* An imported or exported item gets a new index: a named copy. */
static int
name_type(kv_ctx *v, kv_scope *s, kv_ext *e, bool is_import, size_t off)
{
    const char *what = is_import ? "import" : "export";
    if (e->sort == KC_CORE_MODULE || !e->t)
        return 0;
    /* instance types check when used by a concrete import or export */
    if (s->body->kind != KC_BODY_INSTANCE_TYPE &&
        !visible(e->t, true, is_import, 0))
        return kv_err(v, off, "%s not valid to be used as %s",
                      kc_sort_name((kc_sort)e->sort), what);
    kv_type *w = renamed(v, e->t, e->sort, is_import ? 1 : 2, 0);
    if (!w)
        return kv_nomem(v);
    e->t = w;
    return 0;
}

static int
import(kv_ctx *v, kv_scope *s, const kc_import *im)
{
    kv_ext e;
    int rc;
    if ((rc = kv_externtype(v, s, &im->ext, im->offset, &e)) ||
        (rc = name_type(v, s, &e, true, im->offset)) ||
        (rc = kv_add_name(v, s, &im->name, e, true, im->offset)))
        return rc;
    if ((rc = kv_push(v, s, e.sort, e)))
        return rc;
    if (e.sort == KC_VALUE && s->body->kind == KC_BODY_COMPONENT) {
        if (kc_grow(&v->arena, (void **)&s->value_used, &s->cap_value_used,
                    s->sp[KC_VALUE].n, 1))
            return kv_nomem(v);
        s->value_used[s->sp[KC_VALUE].n - 1] = 2; /* must be used */
    }
    return 0;
}

static int
export(kv_ctx *v, kv_scope *s, const kc_export *ex)
{
    kv_ext e;
    int rc;
    if (ex->has_sortidx) {
        if (ex->idx >= s->sp[ex->sort].n)
            return kv_err(v, ex->offset, "%s index out of bounds",
                          kc_sort_name(ex->sort));
        e = s->sp[ex->sort].v[ex->idx];
        if (ex->sort == KC_VALUE &&
            (rc = use_value(v, s, ex->idx, ex->offset)))
            return rc;
        if (ex->has_ext) {
            kv_ext asc;
            if ((rc = kv_externtype(v, s, &ex->ext, ex->offset, &asc)))
                return rc;
            if ((rc = kv_sub_ext(v, &e, &asc, NULL, ex->offset)))
                return kv_wrap(v, rc, "ascribed type of export is not "
                                      "compatible with item's type");
            e = asc;
        }
    } else if ((rc = kv_externtype(v, s, &ex->ext, ex->offset, &e))) {
        return rc;
    }
    if ((rc = name_type(v, s, &e, false, ex->offset)) ||
        (rc = kv_add_name(v, s, &ex->name, e, false, ex->offset)))
        return rc;
    return kv_push(v, s, e.sort, e);
}

static int
start(kv_ctx *v, kv_scope *s, const kc_start *st, size_t off)
{
    int rc;
    if (st->func >= s->sp[KC_FUNC].n)
        return kv_err(v, off, "function index out of bounds");
    kv_type *ft = s->sp[KC_FUNC].v[st->func].t;
    if (ft && ft->n != st->nargs)
        return kv_err(v, off, "component start function requires %u "
                              "arguments but was given %u",
                      ft->n, st->nargs);
    for (uint32_t i = 0; i < st->nargs; i++)
        if ((rc = use_value(v, s, st->args[i], off)))
            return rc;
    if (ft && (ft->a ? 1u : 0u) != st->nresults)
        return kv_err(v, off, "component start function has a result count "
                              "mismatch");
    for (uint32_t i = 0; i < st->nresults; i++) {
        kv_ext e = {0, ft ? ft->a : NULL, NULL};
        if ((rc = kv_push(v, s, KC_VALUE, e)))
            return rc;
    }
    return 0;
}

static int validate_body(kv_ctx *v, kv_scope *parent, const kc_body *b,
                         kv_type *out);

static int
component_def(kv_ctx *v, kv_scope *s, const kc_def *d)
{
    const kc_body *b = s->body;
    kv_ext e = {0, NULL, NULL};
    int rc;

    switch (d->kind) {
    case KC_DEF_CORE_MODULE:
        return core_module(v, s, &b->modules[d->ref]);
    case KC_DEF_CORE_INSTANCE:
        if (b->core_instances[d->ref].from_exports)
            return core_from_exports(v, s, &b->core_instances[d->ref]);
        return core_instantiate(v, s, &b->core_instances[d->ref]);
    case KC_DEF_CORE_TYPE:
        if ((rc = kv_core_deftype(v, s, b->core_types[d->ref], &e.c)))
            return rc;
        return kv_push(v, s, KC_CORE_TYPE, e);
    case KC_DEF_COMPONENT:
        if (!(e.t = kv_alloc(v, sizeof *e.t)))
            return kv_nomem(v);
        if ((rc = validate_body(v, s, b->components[d->ref], e.t)))
            return rc;
        return kv_push(v, s, KC_COMPONENT, e);
    case KC_DEF_INSTANCE:
        if (b->instances[d->ref].from_exports)
            return from_exports(v, s, &b->instances[d->ref]);
        return instantiate(v, s, &b->instances[d->ref]);
    case KC_DEF_ALIAS:
        return alias(v, s, &b->aliases[d->ref]);
    case KC_DEF_TYPE:
        if ((rc = kv_deftype(v, s, b->types[d->ref], false, &e.t)))
            return rc;
        return kv_push(v, s, KC_TYPE, e);
    case KC_DEF_CANON:
        return kv_canon(v, s, &b->canons[d->ref]);
    case KC_DEF_START:
        return start(v, s, &b->starts[d->ref], b->offset);
    case KC_DEF_IMPORT:
        return import(v, s, &b->imports[d->ref]);
    case KC_DEF_EXPORT:
        return export(v, s, &b->exports[d->ref]);
    case KC_DEF_VALUE:
        if ((rc = kv_valtype(v, s, b->values[d->ref].type,
                             b->values[d->ref].bytes.offset, &e.t)) ||
            (rc = kv_push(v, s, KC_VALUE, e)))
            return rc;
        if (kc_grow(&v->arena, (void **)&s->value_used, &s->cap_value_used,
                    s->sp[KC_VALUE].n, 1))
            return kv_nomem(v);
        s->value_used[s->sp[KC_VALUE].n - 1] = 2; /* must be used */
        return 0;
    }
    return 0;
}

/* ---- type bodies: declarators in binary order (by offset) */

typedef struct decl {
    size_t off;
    uint8_t kind; /* 0 core type, 1 type, 2 alias, 3 import, 4 export */
    uint32_t ref;
} decl;

static int
cmp_decl(const void *a, const void *b)
{
    const decl *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int
type_decl(kv_ctx *v, kv_scope *s, const decl *d)
{
    const kc_body *b = s->body;
    kv_ext e = {0, NULL, NULL};
    int rc;
    switch (d->kind) {
    case 0:
        if ((rc = kv_core_deftype(v, s, b->core_types[d->ref], &e.c)))
            return rc;
        return kv_push(v, s, KC_CORE_TYPE, e);
    case 1:
        if ((rc = kv_deftype(v, s, b->types[d->ref], true, &e.t)))
            return rc;
        return kv_push(v, s, KC_TYPE, e);
    case 2:
        return alias(v, s, &b->aliases[d->ref]);
    case 3:
        return import(v, s, &b->imports[d->ref]);
    default:
        return export(v, s, &b->exports[d->ref]);
    }
}

int
kv_type_body(kv_ctx *v, kv_scope *parent, const kc_body *b, kv_type *out)
{
    uint32_t n = b->ncore_types + b->ntypes + b->naliases + b->nimports +
                 b->nexports;
    decl *ds = kb_malloc(((size_t)n + 1) * sizeof *ds);
    uint32_t k = 0;
    int rc = 0;

    if (!ds)
        return kv_nomem(v);
    for (uint32_t i = 0; i < b->ncore_types; i++)
        ds[k++] = (decl){b->core_types[i]->offset, 0, i};
    for (uint32_t i = 0; i < b->ntypes; i++)
        ds[k++] = (decl){b->types[i]->offset, 1, i};
    for (uint32_t i = 0; i < b->naliases; i++)
        ds[k++] = (decl){b->aliases[i].offset, 2, i};
    for (uint32_t i = 0; i < b->nimports; i++)
        ds[k++] = (decl){b->imports[i].offset, 3, i};
    for (uint32_t i = 0; i < b->nexports; i++)
        ds[k++] = (decl){b->exports[i].offset, 4, i};
    qsort(ds, n, sizeof *ds, cmp_decl);

    kv_scope *s = kv_alloc(v, sizeof *s);
    if (!s) {
        kb_free(ds);
        return kv_nomem(v);
    }
    s->parent = parent;
    s->body = b;
    if (v->depth++ > KC_MAX_DEPTH * 2)
        rc = kv_err(v, b->offset, "nesting too deep");
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = type_decl(v, s, &ds[i]);
    v->depth--;
    kb_free(ds);
    out->kind = b->kind == KC_BODY_COMPONENT_TYPE ? KC_T_COMPONENT
                                                  : KC_T_INSTANCE;
    out->nimp = s->nimp;
    out->imp = s->imp;
    out->nexp = s->nexp;
    out->exp = s->exp;
    return rc;
}

static int
validate_body(kv_ctx *v, kv_scope *parent, const kc_body *b, kv_type *out)
{
    kv_scope *s = kv_alloc(v, sizeof *s);
    int rc = 0;

    if (!s)
        return kv_nomem(v);
    s->parent = parent;
    s->body = b;
    if (v->depth++ > KC_MAX_DEPTH * 2)
        rc = kv_err(v, b->offset, "nesting too deep");
    for (uint32_t i = 0; i < b->ndefs && !rc; i++)
        rc = component_def(v, s, &b->defs[i]);
    v->depth--;
    if (rc)
        return rc;
    for (uint32_t i = 0; i < s->sp[KC_VALUE].n; i++)
        if (i < s->cap_value_used && s->value_used[i] == 2)
            return kv_err(v, b->offset, "value index %u was not used", i);
    out->kind = KC_T_COMPONENT;
    out->nimp = s->nimp;
    out->imp = s->imp;
    out->nexp = s->nexp;
    out->exp = s->exp;
    return 0;
}

int
kumo_component_validate(const kumo_component *c, kumo_diag *diag)
{
    kv_ctx v;
    kv_type top;
    int rc;

    memset(&v, 0, sizeof v);
    memset(&top, 0, sizeof top);
    v.diag = diag;
    v.comp = c;
    rc = validate_body(&v, NULL, c->root, &top);
    kc_arena_free(&v.arena);
    return rc;
}

/* ---- async features (for test runners) */

static const char *
body_async_feature(const kc_body *b)
{
    for (uint32_t i = 0; i < b->ntypes; i++) {
        const kc_type *t = b->types[i];
        if (t->kind == KC_T_FUNC && t->async)
            return "an async func type";
        if (t->kind == KC_T_STREAM)
            return "a stream type";
        if (t->kind == KC_T_FUTURE)
            return "a future type";
        if (t->kind == KC_T_PRIM && t->prim == KC_ERROR_CONTEXT)
            return "error-context";
        if (t->body) {
            const char *f = body_async_feature(t->body);
            if (f)
                return f;
        }
    }
    for (uint32_t i = 0; i < b->ncanons; i++) {
        const kc_canon *c = &b->canons[i];
        if (c->op > KC_CANON_RESOURCE_REP)
            return kc_canon_name(c->op);
        if (c->opts.async || c->opts.has_callback)
            return "the async canonical option";
    }
    for (uint32_t i = 0; i < b->ncomponents; i++) {
        const char *f = body_async_feature(b->components[i]);
        if (f)
            return f;
    }
    return NULL;
}

const char *
kumo_component_async_feature(const kumo_component *c)
{
    return body_async_feature(c->root);
}
