/* witprint.c - print the WIT AST back as normalized WIT text: 4-space
 * indentation, `///` docs, gates, `%`-escaped keywords; inside a scope the
 * `use`s come first, then type definitions, then functions. Parsing the
 * output gives the same AST, so printing is a fixpoint (the tests rely on
 * it). Works on unresolved ASTs too: types print by the name written. */
#include "../base/base.h"
#include "witparse.h"

static void
indent(FILE *f, int n)
{
    for (int i = 0; i < n; i++)
        fputs("    ", f);
}

static void
put_id(FILE *f, const char *name)
{
    if (kw_keyword(name, strlen(name)))
        fputc('%', f);
    fputs(name, f);
}

static void
put_docs(FILE *f, const char *docs, int ind)
{
    if (!docs)
        return;
    const char *s = docs;
    for (;;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        indent(f, ind);
        fputs("///", f);
        if (n) {
            fputc(' ', f);
            fwrite(s, 1, n, f);
        }
        fputc('\n', f);
        if (!e)
            break;
        s = e + 1;
    }
}

static void
put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u{%x}", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void
put_gate(FILE *f, const kw_gate *g, int ind)
{
    if (g->external_id) {
        indent(f, ind);
        fputs("@external-id(", f);
        put_string(f, g->external_id);
        fputs(")\n", f);
    }
    if (g->since) {
        indent(f, ind);
        fprintf(f, "@since(version = %s", g->since);
        if (g->since_feature) {
            fputs(", feature = ", f);
            put_id(f, g->since_feature);
        }
        fputs(")\n", f);
    }
    if (g->unstable) {
        indent(f, ind);
        fputs("@unstable(feature = ", f);
        put_id(f, g->unstable);
        fputs(")\n", f);
    }
    if (g->deprecated) {
        indent(f, ind);
        fprintf(f, "@deprecated(version = %s)\n", g->deprecated);
    }
}

static void
put_path(FILE *f, const kw_path *p)
{
    if (p->ns) {
        put_id(f, p->ns);
        fputc(':', f);
        put_id(f, p->pkg);
        fputc('/', f);
    }
    put_id(f, p->name);
    if (p->version)
        fprintf(f, "@%s", p->version);
}

static const char *const prim_names[] = {
    [KW_T_BOOL] = "bool",     [KW_T_S8] = "s8",
    [KW_T_U8] = "u8",         [KW_T_S16] = "s16",
    [KW_T_U16] = "u16",       [KW_T_S32] = "s32",
    [KW_T_U32] = "u32",       [KW_T_S64] = "s64",
    [KW_T_U64] = "u64",       [KW_T_F32] = "f32",
    [KW_T_F64] = "f64",       [KW_T_CHAR] = "char",
    [KW_T_STRING] = "string", [KW_T_ERROR_CONTEXT] = "error-context",
};

static void
put_type(FILE *f, const kw_type *t, unsigned depth)
{
    if (!t || depth > 256) {
        fputs("_", f);
        return;
    }
    switch (t->kind) {
    case KW_T_LIST:
        fputs("list<", f);
        put_type(f, t->elem, depth + 1);
        if (t->fixed_len)
            fprintf(f, ", %u", (unsigned)t->fixed_len);
        fputc('>', f);
        return;
    case KW_T_OPTION:
        fputs("option<", f);
        put_type(f, t->elem, depth + 1);
        fputc('>', f);
        return;
    case KW_T_RESULT:
        fputs("result", f);
        if (!t->ok && !t->err)
            return;
        fputc('<', f);
        if (t->ok)
            put_type(f, t->ok, depth + 1);
        else
            fputc('_', f);
        if (t->err) {
            fputs(", ", f);
            put_type(f, t->err, depth + 1);
        }
        fputc('>', f);
        return;
    case KW_T_TUPLE:
        fputs("tuple<", f);
        for (uint32_t i = 0; i < t->nitems; i++) {
            if (i)
                fputs(", ", f);
            put_type(f, t->items[i], depth + 1);
        }
        fputc('>', f);
        return;
    case KW_T_MAP:
        fputs("map<", f);
        put_type(f, t->ok, depth + 1);
        fputs(", ", f);
        put_type(f, t->err, depth + 1);
        fputc('>', f);
        return;
    case KW_T_FUTURE:
    case KW_T_STREAM:
        fputs(t->kind == KW_T_FUTURE ? "future" : "stream", f);
        if (t->elem) {
            fputc('<', f);
            put_type(f, t->elem, depth + 1);
            fputc('>', f);
        }
        return;
    case KW_T_BORROW:
    case KW_T_OWN:
        fputs(t->kind == KW_T_BORROW ? "borrow<" : "own<", f);
        put_id(f, t->name);
        fputc('>', f);
        return;
    case KW_T_NAMED:
        put_id(f, t->name);
        return;
    default:
        fputs(prim_names[t->kind], f);
        return;
    }
}

void
kw_print_type(FILE *f, const kw_type *t)
{
    put_type(f, t, 0);
}

static void
put_params(FILE *f, const kw_func *fn)
{
    fputc('(', f);
    for (uint32_t i = 0; i < fn->nparams; i++) {
        if (i)
            fputs(", ", f);
        put_id(f, fn->params[i].name);
        fputs(": ", f);
        put_type(f, fn->params[i].type, 0);
    }
    fputc(')', f);
    if (fn->result) {
        fputs(" -> ", f);
        put_type(f, fn->result, 0);
    }
}

static void
put_func(FILE *f, const kw_func *fn, int ind, bool with_docs)
{
    if (with_docs) {
        put_docs(f, fn->docs, ind);
        put_gate(f, &fn->gate, ind);
    }
    indent(f, ind);
    if (fn->kind == KW_F_CONSTRUCTOR) {
        fputs("constructor", f);
        put_params(f, fn);
        fputs(";\n", f);
        return;
    }
    put_id(f, fn->name);
    fputs(": ", f);
    if (fn->kind == KW_F_STATIC)
        fputs("static ", f);
    if (fn->is_async)
        fputs("async ", f);
    fputs("func", f);
    put_params(f, fn);
    fputs(";\n", f);
}

static void
put_fields(FILE *f, const kw_typedef *td, int ind)
{
    for (uint32_t i = 0; i < td->nfields; i++) {
        const kw_field *fl = &td->fields[i];
        put_docs(f, fl->docs, ind);
        indent(f, ind);
        put_id(f, fl->name);
        if (fl->type && td->kind == KW_D_RECORD) {
            fputs(": ", f);
            put_type(f, fl->type, 0);
        } else if (fl->type) {
            fputc('(', f);
            put_type(f, fl->type, 0);
            fputc(')', f);
        }
        fputs(",\n", f);
    }
}

static void
put_typedef(FILE *f, const kw_typedef *td, int ind)
{
    static const char *const kinds[] = {
        [KW_D_ALIAS] = "type",      [KW_D_RECORD] = "record",
        [KW_D_VARIANT] = "variant", [KW_D_ENUM] = "enum",
        [KW_D_FLAGS] = "flags",     [KW_D_RESOURCE] = "resource",
    };
    put_docs(f, td->docs, ind);
    put_gate(f, &td->gate, ind);
    indent(f, ind);
    fprintf(f, "%s ", kinds[td->kind]);
    put_id(f, td->name);
    switch (td->kind) {
    case KW_D_ALIAS:
        fputs(" = ", f);
        put_type(f, td->alias, 0);
        fputs(";\n", f);
        return;
    case KW_D_RESOURCE:
        if (!td->nfuncs) {
            fputs(";\n", f);
            return;
        }
        fputs(" {\n", f);
        for (uint32_t i = 0; i < td->nfuncs; i++)
            put_func(f, td->funcs[i], ind + 1, true);
        break;
    default:
        fputs(" {\n", f);
        put_fields(f, td, ind + 1);
        break;
    }
    indent(f, ind);
    fputs("}\n", f);
}

static void
put_use(FILE *f, const kw_use *u, int ind)
{
    put_docs(f, u->docs, ind);
    put_gate(f, &u->gate, ind);
    indent(f, ind);
    fputs("use ", f);
    put_path(f, &u->path);
    fputs(".{", f);
    for (uint32_t i = 0; i < u->nnames; i++) {
        if (i)
            fputs(", ", f);
        put_id(f, u->names[i].name);
        if (u->names[i].as) {
            fputs(" as ", f);
            put_id(f, u->names[i].as);
        }
    }
    fputs("};\n", f);
}

/* The body of a scope: uses, types, functions, then the closing brace. */
static void
put_scope_body(FILE *f, const kw_interface *s, int ind)
{
    for (uint32_t i = 0; i < s->nuses; i++)
        put_use(f, s->uses[i], ind);
    for (uint32_t i = 0; i < s->ntypes; i++)
        put_typedef(f, s->types[i], ind);
    for (uint32_t i = 0; i < s->nfuncs; i++)
        put_func(f, s->funcs[i], ind, true);
}

static void
put_interface(FILE *f, const kw_interface *iface, int ind)
{
    put_docs(f, iface->docs, ind);
    put_gate(f, &iface->gate, ind);
    indent(f, ind);
    fputs("interface ", f);
    put_id(f, iface->name);
    fputs(" {\n", f);
    put_scope_body(f, iface, ind + 1);
    indent(f, ind);
    fputs("}\n", f);
}

void
kw_print_interface(FILE *f, const kw_interface *iface)
{
    put_interface(f, iface, 0);
}

static void
put_witem(FILE *f, const kw_witem *it, int ind)
{
    put_docs(f, it->docs, ind);
    put_gate(f, &it->gate, ind);
    indent(f, ind);
    if (it->kind == KW_W_INCLUDE) {
        fputs("include ", f);
        put_path(f, &it->path);
        if (it->nwith) {
            fputs(" with { ", f);
            for (uint32_t i = 0; i < it->nwith; i++) {
                if (i)
                    fputs(", ", f);
                put_id(f, it->with[i].from);
                fputs(" as ", f);
                put_id(f, it->with[i].to);
            }
            fputs(" }", f);
        }
        fputs(";\n", f);
        return;
    }
    fputs(it->kind == KW_W_IMPORT ? "import " : "export ", f);
    if (it->xkind == KW_X_PATH) {
        put_path(f, &it->path);
        fputs(";\n", f);
        return;
    }
    put_id(f, it->name);
    fputs(": ", f);
    if (it->xkind == KW_X_NAMEDPATH) {
        put_path(f, &it->path);
        fputs(";\n", f);
    } else if (it->xkind == KW_X_FUNC) {
        if (it->func->is_async)
            fputs("async ", f);
        fputs("func", f);
        put_params(f, it->func);
        fputs(";\n", f);
    } else {
        fputs("interface {\n", f);
        put_scope_body(f, it->iface, ind + 1);
        indent(f, ind);
        fputs("}\n", f);
    }
}

static void
put_world(FILE *f, const kw_world *w, int ind)
{
    put_docs(f, w->docs, ind);
    put_gate(f, &w->gate, ind);
    indent(f, ind);
    fputs("world ", f);
    put_id(f, w->name);
    fputs(" {\n", f);
    put_scope_body(f, w->scope, ind + 1);
    for (uint32_t i = 0; i < w->nitems; i++)
        put_witem(f, w->items[i], ind + 1);
    indent(f, ind);
    fputs("}\n", f);
}

void
kw_print_world(FILE *f, const kw_world *w)
{
    put_world(f, w, 0);
}

/* Top-level uses of the files that hold the package's items, once each. */
static void
put_file_uses(FILE *f, const kw_package *p)
{
    const kw_file *done[64];
    uint32_t ndone = 0;
    for (uint32_t i = 0; i < p->nifaces + p->nworlds; i++) {
        const kw_file *file = i < p->nifaces ? p->ifaces[i]->file
                                             : p->worlds[i - p->nifaces]->file;
        bool seen = false;
        for (uint32_t j = 0; j < ndone; j++)
            seen |= done[j] == file;
        if (seen || !file)
            continue;
        if (ndone < 64)
            done[ndone++] = file;
        for (uint32_t j = 0; j < file->nuses; j++) {
            fputs("use ", f);
            put_path(f, &file->uses[j].path);
            if (file->uses[j].as) {
                fputs(" as ", f);
                put_id(f, file->uses[j].as);
            }
            fputs(";\n", f);
        }
    }
}

void
kw_print_package(FILE *f, const kw_package *p)
{
    put_docs(f, p->docs, 0);
    fputs("package ", f);
    put_id(f, p->ns ? p->ns : "unnamed");
    fputc(':', f);
    put_id(f, p->name ? p->name : "unnamed");
    if (p->version)
        fprintf(f, "@%s", p->version);
    fputs(";\n", f);
    put_file_uses(f, p);
    for (uint32_t i = 0; i < p->nifaces; i++) {
        fputc('\n', f);
        put_interface(f, p->ifaces[i], 0);
    }
    for (uint32_t i = 0; i < p->nworlds; i++) {
        fputc('\n', f);
        put_world(f, p->worlds[i], 0);
    }
}
