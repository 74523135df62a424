/* wit.c - print a component's world as WIT (the form `jco wit` prints), and
 * the index-space resolution it needs: following exports and aliases
 * through instances, nested components and instance types to the
 * definition of a type or function. */
#include <stdio.h>

#include "component.h"

/* ---- resolution */

/* An entry of some index space of a body. */
typedef struct kc_ref {
    const kc_body *b;
    uint32_t idx;
} kc_ref;

#define MAX_STEPS 256

typedef struct resolver {
    unsigned steps; /* guards against cycles in unvalidated input */
} resolver;

static bool find_instance_export(resolver *rs, kc_ref inst, kc_str name,
                                 kc_sort sort, kc_ref *out);
static const kc_type *resolve_type(resolver *rs, kc_ref r, kc_str *name);

static bool
str_eq(kc_str a, kc_str b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

static const kc_item *
item_at(kc_ref r, kc_sort sort)
{
    if (!r.b || r.idx >= r.b->spaces[sort].n)
        return NULL;
    return &r.b->spaces[sort].items[r.idx];
}

/* The index in space sort of b that import/export k introduced. */
static bool
space_index(const kc_body *b, kc_sort sort, kc_origin origin, uint32_t k,
            uint32_t *out)
{
    const kc_space *sp = &b->spaces[sort];
    for (uint32_t i = 0; i < sp->n; i++) {
        if (sp->items[i].origin == origin && sp->items[i].ref == k) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* Find export `name` of sort in a component or type body. */
static bool
body_export(const kc_body *b, kc_str name, kc_sort sort, kc_ref *out)
{
    for (uint32_t k = 0; k < b->nexports; k++) {
        const kc_export *e = &b->exports[k];
        if (e->sort == sort && str_eq(e->name.name, name)) {
            out->b = b;
            return space_index(b, sort, KC_FROM_EXPORT, k, &out->idx);
        }
    }
    return false;
}

/* Follow re-exports and aliases of an entry of space sort until it is a
 * definition, import, canon or declarator. Records the first name seen. */
static bool
chase(resolver *rs, kc_ref *r, kc_sort sort, kc_str *name)
{
    for (;;) {
        if (++rs->steps > MAX_STEPS)
            return false;
        const kc_item *it = item_at(*r, sort);
        if (!it)
            return false;
        if (it->origin == KC_FROM_EXPORT) {
            const kc_export *e = &r->b->exports[it->ref];
            if (name && !name->len)
                *name = e->name.name;
            if (!e->has_sortidx)
                return true;
            r->idx = e->idx;
            continue;
        }
        if (it->origin == KC_FROM_IMPORT && name && !name->len)
            *name = r->b->imports[it->ref].name.name;
        if (it->origin != KC_FROM_ALIAS)
            return true;
        const kc_alias *a = &r->b->aliases[it->ref];
        if (a->kind == KC_ALIAS_OUTER) {
            for (uint32_t i = 0; i < a->outer_count && r->b; i++)
                r->b = r->b->parent;
            r->idx = a->outer_index;
            continue;
        }
        if (a->kind != KC_ALIAS_EXPORT)
            return true;
        if (name && !name->len)
            *name = a->name;
        kc_ref next;
        if (!find_instance_export(rs, (kc_ref){r->b, a->instance}, a->name,
                                  sort, &next))
            return false;
        *r = next;
    }
}

/* The body of a component or instance type entry of the type space. */
static const kc_body *
type_body(resolver *rs, kc_ref r, kc_typekind kind)
{
    kc_str name = {0};
    const kc_type *t = resolve_type(rs, r, &name);
    return t && t->kind == kind ? t->body : NULL;
}

/* The type index of an import or declarator (extern kind). */
static bool
extern_type(const kc_body *b, const kc_item *it, kc_ref *out)
{
    const kc_extern *x;
    if (it->origin == KC_FROM_IMPORT)
        x = &b->imports[it->ref].ext;
    else if (it->origin == KC_FROM_EXPORT && b->exports[it->ref].has_ext)
        x = &b->exports[it->ref].ext;
    else
        return false;
    out->b = b;
    out->idx = x->idx;
    return true;
}

static const kc_body *
find_component(resolver *rs, kc_ref r)
{
    if (!chase(rs, &r, KC_COMPONENT, NULL))
        return NULL;
    const kc_item *it = item_at(r, KC_COMPONENT);
    if (it->origin == KC_FROM_DEF)
        return r.b->components[it->ref];
    kc_ref t;
    if (!extern_type(r.b, it, &t))
        return NULL;
    return type_body(rs, t, KC_T_COMPONENT);
}

static bool
find_instance_export(resolver *rs, kc_ref inst, kc_str name, kc_sort sort,
                     kc_ref *out)
{
    if (!chase(rs, &inst, KC_INSTANCE, NULL))
        return false;
    const kc_item *it = item_at(inst, KC_INSTANCE);
    if (it->origin == KC_FROM_DEF) {
        const kc_instance *in = &inst.b->instances[it->ref];
        if (in->from_exports) {
            for (uint32_t i = 0; i < in->nargs; i++) {
                if (in->args[i].sort == sort &&
                    str_eq(in->args[i].name.name, name)) {
                    *out = (kc_ref){inst.b, in->args[i].idx};
                    return true;
                }
            }
            return false;
        }
        const kc_body *cb = find_component(rs, (kc_ref){inst.b, in->target});
        return cb && body_export(cb, name, sort, out);
    }
    kc_ref t;
    if (!extern_type(inst.b, it, &t))
        return false;
    const kc_body *ib = type_body(rs, t, KC_T_INSTANCE);
    return ib && body_export(ib, name, sort, out);
}

/* The definition of a type entry, or NULL for an abstract (imported or
 * exported `sub resource`) type or on failure. *name gets the first name
 * on the way (import, export or alias name). */
static const kc_type *
resolve_type(resolver *rs, kc_ref r, kc_str *name)
{
    for (;;) {
        if (!chase(rs, &r, KC_TYPE, name))
            return NULL;
        const kc_item *it = item_at(r, KC_TYPE);
        if (it->origin == KC_FROM_DEF)
            return r.b->types[it->ref];
        const kc_extern *x;
        if (it->origin == KC_FROM_IMPORT)
            x = &r.b->imports[it->ref].ext;
        else if (it->origin == KC_FROM_EXPORT)
            x = &r.b->exports[it->ref].ext;
        else
            return NULL;
        if (x->kind != KUMO_COMPONENT_TYPE || x->bound != 0)
            return NULL;
        r.idx = x->idx;
    }
}

/* The function type of a func entry, and the body its indices refer to. */
static const kc_type *
resolve_func(resolver *rs, kc_ref r, const kc_body **scope)
{
    if (!chase(rs, &r, KC_FUNC, NULL))
        return NULL;
    const kc_item *it = item_at(r, KC_FUNC);
    kc_ref t = {r.b, 0};
    if (it->origin == KC_FROM_CANON)
        t.idx = r.b->canons[it->ref].type;
    else if (!extern_type(r.b, it, &t))
        return NULL;
    kc_str name = {0};
    const kc_type *ft = resolve_type(rs, t, &name);
    /* The func type's indices are relative to the body defining it. */
    kc_ref d = t;
    if (ft && chase(rs, &d, KC_TYPE, NULL))
        *scope = d.b;
    return ft && ft->kind == KC_T_FUNC ? ft : NULL;
}

/* ---- printing */

typedef struct printer {
    FILE *out;
    resolver rs;
    unsigned depth;
    unsigned budget; /* types left to print: unvalidated input may nest
                        types exponentially */
} printer;

static const char *const keywords[] = {
    "as",     "async",  "bool",   "borrow",  "char",      "constructor",
    "enum",   "export", "f32",    "f64",     "flags",     "from",
    "func",   "future", "import", "include", "interface", "list",
    "map",    "option", "own",    "package", "record",    "resource",
    "result", "s16",    "s32",    "s64",     "s8",        "static",
    "stream", "string", "tuple",  "type",    "u16",       "u32",
    "u64",    "u8",     "use",    "variant", "with",      "world",
};

static void
print_id(printer *p, kc_str s)
{
    for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++) {
        if (kc_str_eq(s, keywords[i])) {
            fputc('%', p->out);
            break;
        }
    }
    fprintf(p->out, "%.*s", (int)s.len, s.s);
}

static void print_valtype(printer *p, const kc_body *b, kc_valtype v);

/* The name of a resource handle's target (own<T> prints as T). */
static void
print_handle(printer *p, const kc_body *b, uint32_t idx)
{
    kc_str name = {0};
    p->rs.steps = 0;
    resolve_type(&p->rs, (kc_ref){b, idx}, &name);
    if (name.len)
        print_id(p, name);
    else
        fprintf(p->out, "resource%u", idx);
}

static void
print_fields(printer *p, const kc_body *b, const kc_type *t, bool labels)
{
    for (uint32_t i = 0; i < t->nfields; i++) {
        if (i)
            fputs(labels ? ", " : ", ", p->out);
        if (labels) {
            print_id(p, t->fields[i].name);
            if (t->fields[i].has_type)
                fputs(": ", p->out);
        }
        if (t->fields[i].has_type)
            print_valtype(p, b, t->fields[i].type);
    }
}

static void
print_opt_param(printer *p, const kc_body *b, const char *kw, bool has,
                kc_valtype v)
{
    fputs(kw, p->out);
    if (has) {
        fputc('<', p->out);
        print_valtype(p, b, v);
        fputc('>', p->out);
    }
}

/* An anonymous type, structurally. */
static void
print_typedef(printer *p, const kc_body *b, const kc_type *t)
{
    FILE *o = p->out;
    switch (t->kind) {
    case KC_T_PRIM:
        fputs(kc_prim_name(t->prim), o);
        return;
    case KC_T_LIST:
    case KC_T_FIXED_LIST:
        fputs("list<", o);
        print_valtype(p, b, t->a);
        if (t->kind == KC_T_FIXED_LIST)
            fprintf(o, ", %u", t->len);
        fputc('>', o);
        return;
    case KC_T_OPTION:
        print_opt_param(p, b, "option", true, t->a);
        return;
    case KC_T_RESULT:
        fputs("result", o);
        if (!t->has_a && !t->has_b)
            return;
        fputc('<', o);
        if (t->has_a)
            print_valtype(p, b, t->a);
        else
            fputc('_', o);
        if (t->has_b) {
            fputs(", ", o);
            print_valtype(p, b, t->b);
        }
        fputc('>', o);
        return;
    case KC_T_TUPLE:
        fputs("tuple<", o);
        print_fields(p, b, t, false);
        fputc('>', o);
        return;
    case KC_T_OWN:
        print_handle(p, b, t->handle);
        return;
    case KC_T_BORROW:
        fputs("borrow<", o);
        print_handle(p, b, t->handle);
        fputc('>', o);
        return;
    case KC_T_STREAM:
        print_opt_param(p, b, "stream", t->has_a, t->a);
        return;
    case KC_T_FUTURE:
        print_opt_param(p, b, "future", t->has_a, t->a);
        return;
    case KC_T_MAP:
        fputs("map<", o);
        print_valtype(p, b, t->a);
        fputs(", ", o);
        print_valtype(p, b, t->b);
        fputc('>', o);
        return;
    case KC_T_RECORD:
    case KC_T_VARIANT:
    case KC_T_FLAGS:
    case KC_T_ENUM: {
        static const char *const kw[] = {"record", "variant", "flags", "enum"};
        int k = t->kind == KC_T_RECORD    ? 0
                : t->kind == KC_T_VARIANT ? 1
                : t->kind == KC_T_FLAGS   ? 2
                                          : 3;
        fprintf(o, "%s { ", kw[k]);
        print_fields(p, b, t, true);
        fputs(" }", o);
        return;
    }
    default:
        fputs("/* unsupported type */", o);
        return;
    }
}

static void
print_valtype(printer *p, const kc_body *b, kc_valtype v)
{
    if (v.prim) {
        fputs(kc_prim_name(v.prim), p->out);
        return;
    }
    if (p->depth > 32 || p->budget == 0) {
        fputs("...", p->out);
        return;
    }
    p->budget--;
    kc_str name = {0};
    kc_ref r = {b, v.idx};
    p->rs.steps = 0;
    const kc_type *t = resolve_type(&p->rs, r, &name);
    if (name.len && (!t || t->kind != KC_T_OWN)) {
        print_id(p, name);
        return;
    }
    if (!t) {
        fprintf(p->out, "type%u", v.idx);
        return;
    }
    /* Structural members refer to the body that defines t. */
    kc_ref d = r;
    p->rs.steps = 0;
    if (chase(&p->rs, &d, KC_TYPE, NULL)) {
        const kc_item *it = item_at(d, KC_TYPE);
        if (it && it->origin == KC_FROM_DEF)
            b = d.b;
    }
    p->depth++;
    print_typedef(p, b, t);
    p->depth--;
}

static void
print_func(printer *p, const kc_body *b, const kc_type *ft)
{
    fputs(ft->async ? "async func(" : "func(", p->out);
    for (uint32_t i = 0; i < ft->nfields; i++) {
        if (i)
            fputs(", ", p->out);
        print_id(p, ft->fields[i].name);
        fputs(": ", p->out);
        print_valtype(p, b, ft->fields[i].type);
    }
    fputc(')', p->out);
    if (ft->has_a) {
        fputs(" -> ", p->out);
        print_valtype(p, b, ft->a);
    }
}

/* A name with its optional version-suffix attribute. */
static void
print_name(printer *p, const kc_name *n, bool as_id)
{
    if (as_id)
        print_id(p, n->name);
    else
        fprintf(p->out, "%.*s", (int)n->name.len, n->name.s);
    if (n->version.len)
        fprintf(p->out, "%.*s", (int)n->version.len, n->version.s);
}

/* Interface names are `ns:pkg/name[@version]`; plain names are kebab. */
static bool
is_interface_name(kc_str s)
{
    return memchr(s.s, ':', s.len) != NULL;
}

static void
print_inline_func(printer *p, const kc_name *n, kc_ref f)
{
    const kc_body *scope = f.b;
    p->rs.steps = 0;
    const kc_type *ft = resolve_func(&p->rs, f, &scope);
    if (!ft)
        return;
    fputs("    ", p->out);
    print_name(p, n, true);
    fputs(": ", p->out);
    print_func(p, scope, ft);
    fputs(";\n", p->out);
}

/* The functions of a body's exports (an instance type's declarators or a
 * component's exports). */
static void
print_body_funcs(printer *p, const kc_body *b)
{
    for (uint32_t k = 0; k < b->nexports; k++) {
        kc_ref f = {b, 0};
        if (b->exports[k].sort == KC_FUNC &&
            space_index(b, KC_FUNC, KC_FROM_EXPORT, k, &f.idx))
            print_inline_func(p, &b->exports[k].name, f);
    }
}

/* An inline interface: the functions of an instance. */
static void
print_inline_interface(printer *p, kc_ref inst)
{
    fputs("interface {\n", p->out);
    p->rs.steps = 0;
    const kc_item *it = NULL;
    if (chase(&p->rs, &inst, KC_INSTANCE, NULL))
        it = item_at(inst, KC_INSTANCE);
    kc_ref t;
    if (it && it->origin == KC_FROM_DEF) {
        const kc_instance *in = &inst.b->instances[it->ref];
        if (in->from_exports) {
            for (uint32_t i = 0; i < in->nargs; i++)
                if (in->args[i].sort == KC_FUNC)
                    print_inline_func(p, &in->args[i].name,
                                      (kc_ref){inst.b, in->args[i].idx});
        } else {
            const kc_body *cb =
                find_component(&p->rs, (kc_ref){inst.b, in->target});
            if (cb)
                print_body_funcs(p, cb);
        }
    } else if (it && extern_type(inst.b, it, &t)) {
        p->rs.steps = 0;
        const kc_body *ib = type_body(&p->rs, t, KC_T_INSTANCE);
        if (ib)
            print_body_funcs(p, ib);
    }
    fputs("  }", p->out);
}

/* One world item: kind is the externtype kind, r its entry in the space
 * of that kind (func or instance). */
static void
print_item(printer *p, const char *dir, const kc_name *n, uint8_t kind,
           kc_ref r)
{
    FILE *o = p->out;
    if (kind == KUMO_COMPONENT_INSTANCE && is_interface_name(n->name)) {
        fprintf(o, "  %s ", dir);
        print_name(p, n, false);
        fputs(";\n", o);
        return;
    }
    fprintf(o, "  %s ", dir);
    print_name(p, n, true);
    fputs(": ", o);
    if (kind == KUMO_COMPONENT_FUNC) {
        const kc_body *scope = r.b;
        p->rs.steps = 0;
        const kc_type *ft = resolve_func(&p->rs, r, &scope);
        if (ft)
            print_func(p, scope, ft);
        else
            fputs("func()", o);
    } else if (kind == KUMO_COMPONENT_INSTANCE) {
        print_inline_interface(p, r);
    } else {
        fputs("/* unsupported item */", o);
    }
    fputs(";\n", o);
}

/* A world-level type import: `type name = T;` or `resource name;`. */
static void
print_type_item(printer *p, const kc_body *b, const kc_import *im, uint32_t idx)
{
    fputs("  ", p->out);
    kc_str name = {0};
    p->rs.steps = 0;
    const kc_type *t = resolve_type(&p->rs, (kc_ref){b, idx}, &name);
    if (!t || t->kind == KC_T_RESOURCE) {
        fputs("resource ", p->out);
        print_name(p, &im->name, true);
        fputs(";\n", p->out);
        return;
    }
    fputs("type ", p->out);
    print_name(p, &im->name, true);
    fputs(" = ", p->out);
    print_typedef(p, b, t);
    fputs(";\n", p->out);
}

int
kumo_component_print_wit(const kumo_component *c, FILE *out)
{
    const kc_body *b = c->root;
    printer p = {.out = out, .budget = 100000};
    bool any = false;
    fputs("package root:component;\n\nworld root {\n", out);
    for (uint32_t k = 0; k < b->nimports; k++) {
        const kc_import *im = &b->imports[k];
        if (im->ext.kind != KUMO_COMPONENT_FUNC &&
            im->ext.kind != KUMO_COMPONENT_INSTANCE)
            continue;
        kc_ref r = {b, 0};
        if (!space_index(b, kc_extern_sort(im->ext.kind), KC_FROM_IMPORT, k,
                         &r.idx))
            r.idx = UINT32_MAX;
        print_item(&p, "import", &im->name, im->ext.kind, r);
        any = true;
    }
    for (uint32_t k = 0; k < b->nimports; k++) {
        const kc_import *im = &b->imports[k];
        if (im->ext.kind != KUMO_COMPONENT_TYPE)
            continue;
        uint32_t idx;
        if (space_index(b, KC_TYPE, KC_FROM_IMPORT, k, &idx))
            print_type_item(&p, b, im, idx);
        any = true;
    }
    if (b->nexports && any)
        fputc('\n', out);
    for (uint32_t k = 0; k < b->nexports; k++) {
        const kc_export *e = &b->exports[k];
        /* Values, components and core modules have no WIT form. */
        if (e->sort != KC_FUNC && e->sort != KC_INSTANCE)
            continue;
        uint8_t kind =
            e->sort == KC_FUNC ? KUMO_COMPONENT_FUNC : KUMO_COMPONENT_INSTANCE;
        print_item(&p, "export", &e->name, kind, (kc_ref){b, e->idx});
    }
    fputs("}\n", out);
    fflush(out);
    return ferror(out) ? KUMO_EIO : 0;
}
