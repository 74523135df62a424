/* bind.c - the runtime of generated host bindings (bind.h): a per-call
 * arena for typed results, traps, and registering a generated table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../base/base.h"
#include "bind.h"

struct kg_chunk {
    kg_chunk *next;
    max_align_t data[];
};

void
kg_call_init(kg_call *c, kumo_ccall *cc, void *env,
             kumo_cresource *const *res, const char *name)
{
    c->cc = cc;
    c->env = env;
    c->res = res;
    c->name = name;
    c->arena = NULL;
}

void
kg_call_fini(kg_call *c)
{
    while (c->arena) {
        kg_chunk *next = c->arena->next;
        kb_free(c->arena);
        c->arena = next;
    }
}

void *
kg_call_alloc(kg_call *c, size_t n)
{
    if (n > SIZE_MAX - sizeof(kg_chunk) - 16)
        return NULL;
    kg_chunk *k = kb_calloc(1, sizeof *k + (n ? n : 1));
    if (!k)
        return NULL;
    k->next = c->arena;
    c->arena = k;
    return k->data;
}

kg_string
kg_call_strdup(kg_call *c, const char *s, size_t len)
{
    kg_string r = {NULL, 0};
    char *p = len < SIZE_MAX ? kg_call_alloc(c, len + 1) : NULL;
    if (p) {
        if (len)
            memcpy(p, s, len);
        r.ptr = p;
        r.len = len;
    }
    return r;
}

int
kg_call_trap(kg_call *c, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return kumo_ccall_trap(c->cc, buf);
}

int
kg_call_badtype(kg_call *c)
{
    return kg_call_trap(c, "host function %s: the component imports it "
                           "with another type",
                        c->name);
}

int
kg_define(kumo_clinker *l, const kg_resource_binding *rs, size_t nres,
          const kg_func_binding *fs, size_t nfuncs, void *env_block,
          kumo_cresource **res)
{
    int rc;
    for (size_t i = 0; i < nres; i++)
        if ((rc = kumo_clinker_define_resource(l, rs[i].iface, rs[i].name,
                                               rs[i].dtor, env_block,
                                               &res[i])))
            return rc;
    for (size_t i = 0; i < nfuncs; i++)
        if ((rc = kumo_clinker_define_func(l, fs[i].iface, fs[i].name,
                                           fs[i].fn, env_block, NULL)))
            return rc;
    return 0;
}
