/* cmtest.c - the component-model half of `kumo spectest`: runs the JSON
 * scripts of ../shared/testsuite/component-model (component binaries plus
 * the non-module commands kept as raw s-expressions) against the public
 * component API. Scripts whose components use async features are skipped
 * as a whole. */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kumo/component.h"

#define CM_MAX_REPORTED 20
#define CM_MAX_DEPTH 100

/* ---- s-expressions ---- */

typedef enum sx_kind { SX_LIST, SX_ATOM, SX_STRING } sx_kind;

typedef struct sx {
    sx_kind kind;
    char *text; /* atom or decoded string (NUL-terminated) */
    size_t len;
    size_t n, cap; /* list children */
    struct sx **kids;
} sx;

static void
sx_free(sx *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n; i++)
        sx_free(x->kids[i]);
    free(x->kids);
    free(x->text);
    free(x);
}

typedef struct sx_reader {
    const char *p, *end;
    char err[128];
} sx_reader;

static void
sx_skip_space(sx_reader *r)
{
    while (r->p < r->end) {
        if (*r->p == ';' && r->p + 1 < r->end && r->p[1] == ';') {
            while (r->p < r->end && *r->p != '\n')
                r->p++;
        } else if (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' ||
                   *r->p == '\r') {
            r->p++;
        } else {
            break;
        }
    }
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Append the UTF-8 encoding of code point cp. */
static size_t
put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A "..." string with the text format's escapes; r->p is past the quote. */
static int
sx_read_string(sx_reader *r, sx *x)
{
    size_t cap = (size_t)(r->end - r->p) + 1;
    char *o = malloc(cap);
    size_t n = 0;

    if (!o)
        return -1;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        if (r->p >= r->end)
            break;
        c = *r->p++;
        switch (c) {
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case '"': o[n++] = '"'; break;
        case '\'': o[n++] = '\''; break;
        case '\\': o[n++] = '\\'; break;
        case 'u': {
            uint32_t cp = 0;
            if (r->p >= r->end || *r->p != '{')
                goto bad;
            r->p++;
            while (r->p < r->end && *r->p != '}') {
                int h = hexval(*r->p++);
                if (h < 0 || cp > 0x10ffff)
                    goto bad;
                cp = cp * 16 + (uint32_t)h;
            }
            if (r->p >= r->end || cp > 0x10ffff)
                goto bad;
            r->p++;
            n += put_utf8(o + n, cp);
            break;
        }
        default: {
            int h1 = hexval(c), h2 = r->p < r->end ? hexval(*r->p) : -1;
            if (h1 < 0 || h2 < 0)
                goto bad;
            r->p++;
            o[n++] = (char)(h1 * 16 + h2);
        }
        }
    }
    if (r->p >= r->end)
        goto bad;
    r->p++;
    o[n] = '\0';
    x->text = o;
    x->len = n;
    return 0;
bad:
    free(o);
    snprintf(r->err, sizeof r->err, "bad string literal");
    return -1;
}

static sx *
sx_read(sx_reader *r, int depth)
{
    sx *x;

    sx_skip_space(r);
    if (r->p >= r->end || *r->p == ')' || depth > CM_MAX_DEPTH) {
        snprintf(r->err, sizeof r->err, "unexpected %s",
                 r->p >= r->end ? "end" : "')' or nesting");
        return NULL;
    }
    x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    if (*r->p == '(') {
        r->p++;
        x->kind = SX_LIST;
        for (;;) {
            sx_skip_space(r);
            if (r->p < r->end && *r->p == ')') {
                r->p++;
                return x;
            }
            sx *k = sx_read(r, depth + 1);
            if (!k)
                goto fail;
            if (x->n == x->cap) {
                size_t cap = x->cap ? x->cap * 2 : 4;
                sx **kids = realloc(x->kids, cap * sizeof *kids);
                if (!kids) {
                    sx_free(k);
                    goto fail;
                }
                x->kids = kids;
                x->cap = cap;
            }
            x->kids[x->n++] = k;
        }
    }
    if (*r->p == '"') {
        r->p++;
        x->kind = SX_STRING;
        if (sx_read_string(r, x) < 0)
            goto fail;
        return x;
    }
    const char *s = r->p;
    while (r->p < r->end && !strchr(" \t\r\n()\"", *r->p))
        r->p++;
    x->kind = SX_ATOM;
    x->len = (size_t)(r->p - s);
    x->text = strndup(s, x->len);
    if (!x->text)
        goto fail;
    return x;
fail:
    sx_free(x);
    return NULL;
}

static sx *
sx_parse(const char *text, char *err, size_t errlen)
{
    sx_reader r = {text, text + strlen(text), ""};
    sx *x = sx_read(&r, 0);

    if (x) {
        sx_skip_space(&r);
        if (r.p != r.end) {
            sx_free(x);
            x = NULL;
            snprintf(r.err, sizeof r.err, "trailing text");
        }
    }
    if (!x)
        snprintf(err, errlen, "%s", r.err[0] ? r.err : "out of memory");
    return x;
}

static bool
sx_is(const sx *x, const char *atom)
{
    return x && x->kind == SX_ATOM && strcmp(x->text, atom) == 0;
}

/* The head atom of a list, or "". */
static const char *
sx_head(const sx *x)
{
    if (x && x->kind == SX_LIST && x->n && x->kids[0]->kind == SX_ATOM)
        return x->kids[0]->text;
    return "";
}

/* ---- scripts ---- */

typedef struct cm_def { /* a module_definition, by its $name */
    char *name;          /* from the component-name section, or NULL */
    kumo_component *comp;
} cm_def;

typedef struct cm_inst { /* an instance, by its $name (or NULL) */
    char *name;
    kumo_cinstance *inst;
} cm_inst;

typedef struct cm_script {
    const kc_cm_opts *o;
    kumo_store *store;
    kumo_clinker *linker;
    cm_inst *insts;
    size_t ninsts, capinsts;
    kumo_cinstance *current; /* where an unnamed invoke goes */
    const char *path;
    char *dir;
    cm_def *defs;
    size_t ndefs, capdefs;
    size_t index;     /* of the current command */
    const char *type; /* of the current command */
    long passed, failed, skipped, differs;
    /* failures by category: validation (modules, assert_invalid/malformed)
     * and invocation (instances, invoke/assert_return/assert_trap) */
    long failed_validation, failed_invocation;
} cm_script;

static void
cm_fail(cm_script *s, bool invocation, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cm_fail(cm_script *s, bool invocation, const char *fmt, ...)
{
    va_list ap;

    s->failed++;
    if (invocation)
        s->failed_invocation++;
    else
        s->failed_validation++;
    if (s->o->verbose == false && s->failed > CM_MAX_REPORTED)
        return;
    printf("%s:#%zu: %s: ", s->path, s->index, s->type);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static bool
cm_msg_matches(const char *ours, const char *expected)
{
    if (!ours || !*ours || !expected)
        return false;
    if (strncmp(expected, "wasm trap: ", 11) == 0) /* wasmtime's prefix */
        expected += 11;
    if (!*expected)
        return true;
    return strstr(ours, expected) != NULL || strstr(expected, ours) != NULL;
}

static char *
cm_file_path(cm_script *s, json_t *cmd)
{
    const char *file = json_string_value(json_object_get(cmd, "filename"));
    char *p;

    if (!file)
        return NULL;
    if (asprintf(&p, "%s/%s", s->dir, file) < 0)
        return NULL;
    return p;
}

/* Read a command's binary. Returns 0, or -1 (reported as a failure). */
static int
cm_read_binary(cm_script *s, json_t *cmd, uint8_t **bytes, size_t *len)
{
    char *p = cm_file_path(s, cmd);
    int rc;

    if (!p) {
        cm_fail(s, false, "command without a filename");
        return -1;
    }
    rc = kc_read_file(p, bytes, len);
    if (rc < 0)
        cm_fail(s, false, "cannot read %s", p);
    free(p);
    return rc;
}

/* Decode and validate. Returns 0 or a negative KUMO_E code (diag set). */
static int
cm_load(const uint8_t *bytes, size_t len, kumo_component **out,
        kumo_diag *diag)
{
    int rc = kumo_component_new(bytes, len, out, diag);

    if (rc < 0)
        return rc;
    rc = kumo_component_validate(*out, diag);
    if (rc < 0) {
        kumo_component_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- the component-name custom section (a definition's $name) ---- */

static bool
leb_u32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The component's own name from its top-level component-name section
 * (subsection 0), or NULL. */
static char *
component_own_name(const uint8_t *bytes, size_t len)
{
    const uint8_t *p = bytes + 8, *end = bytes + len;
    static const char sec[] = "component-name";

    while (len >= 8 && p < end) {
        uint8_t id = *p++;
        uint32_t size, n;
        if (!leb_u32(&p, end, &size) || size > (size_t)(end - p))
            return NULL;
        const uint8_t *send = p + size, *q = p;
        p = send;
        if (id != 0 || !leb_u32(&q, send, &n) || n > (size_t)(send - q) ||
            n != sizeof sec - 1 || memcmp(q, sec, n) != 0)
            continue;
        q += n;
        while (q < send) {
            uint8_t sub = *q++;
            uint32_t sublen, nlen;
            if (!leb_u32(&q, send, &sublen) || sublen > (size_t)(send - q))
                return NULL;
            const uint8_t *r = q;
            q += sublen;
            if (sub == 0 && leb_u32(&r, q, &nlen) && nlen <= (size_t)(q - r))
                return strndup((const char *)r, nlen);
        }
    }
    return NULL;
}

/* ---- commands ---- */

static int cm_add_instance(cm_script *s, const char *name,
                           const kumo_component *c, char *msg,
                           size_t msglen);

static void
cm_module(cm_script *s, json_t *cmd, bool definition)
{
    uint8_t *bytes;
    size_t len;
    kumo_component *c = NULL;
    kumo_diag diag;
    int rc;

    if (strcmp(json_string_value(json_object_get(cmd, "module_type")) ?: "",
               "binary") != 0) {
        s->skipped++;
        return;
    }
    if (cm_read_binary(s, cmd, &bytes, &len) < 0)
        return;
    memset(&diag, 0, sizeof diag);
    rc = cm_load(bytes, len, &c, &diag);
    if (rc < 0) {
        cm_fail(s, false, "component did not validate: %s: %s (at 0x%zx)",
                kumo_strerror(rc), diag.message, diag.offset);
        free(bytes);
        return;
    }
    if (s->ndefs == s->capdefs) {
        size_t cap = s->capdefs ? s->capdefs * 2 : 8;
        cm_def *v = realloc(s->defs, cap * sizeof *v);
        if (!v) {
            kumo_component_free(c);
            free(bytes);
            cm_fail(s, false, "out of memory");
            return;
        }
        s->defs = v;
        s->capdefs = cap;
    }
    s->defs[s->ndefs].name = component_own_name(bytes, len);
    s->defs[s->ndefs].comp = c;
    s->ndefs++;
    free(bytes);
    if (!definition) {
        char msg[256];
        const char *feature;
        rc = cm_add_instance(s, s->defs[s->ndefs - 1].name, c, msg,
                             sizeof msg);
        if (rc == KUMO_EUNSUPPORTED &&
            (feature = kumo_component_async_feature(c))) {
            /* it validated; the runtime cannot run async components yet */
            if (s->o->verbose)
                printf("%s:#%zu: %s: skipped: not instantiated (async: uses "
                       "%s)\n",
                       s->path, s->index, s->type, feature);
            s->skipped++;
            return;
        }
        if (rc < 0) {
            cm_fail(s, true, "%s", msg);
            return;
        }
    }
    s->passed++;
}

static void
cm_expect_failure(cm_script *s, json_t *cmd, bool malformed)
{
    const char *text = json_string_value(json_object_get(cmd, "text"));
    uint8_t *bytes;
    size_t len;
    kumo_component *c = NULL;
    kumo_diag diag;
    int rc;

    if (strcmp(json_string_value(json_object_get(cmd, "module_type")) ?: "",
               "binary") != 0) {
        s->skipped++; /* text modules: a binary-only engine skips them */
        return;
    }
    if (cm_read_binary(s, cmd, &bytes, &len) < 0)
        return;
    memset(&diag, 0, sizeof diag);
    rc = cm_load(bytes, len, &c, &diag);
    free(bytes);
    if (!text)
        text = "";
    if (rc == 0) {
        kumo_component_free(c);
        cm_fail(s, false, "component validated, expected %s \"%s\"",
                malformed ? "malformed" : "invalid", text);
        return;
    }
    /* The suite's encoder does not tell decoding from validation errors
     * (wasm-tools reports both from its validator), so an invalid
     * component may be rejected while decoding. */
    if (rc != KUMO_EMALFORMED && (malformed || rc != KUMO_EINVALID)) {
        cm_fail(s, false, "expected %s \"%s\", got %s: \"%s\"",
                malformed ? "malformed" : "invalid", text, kumo_strerror(rc),
                diag.message);
        return;
    }
    if (!cm_msg_matches(diag.message, text)) {
        s->differs++;
        if (!s->o->quiet)
            printf("%s:#%zu: %s: note: message differs: expected \"%s\", "
                   "got \"%s\"\n",
                   s->path, s->index, s->type, text, diag.message);
    }
    s->passed++;
}

/* ---- instances and invocation (kumo_component_instantiate and
 * kumo_cinstance_call of kumo/component.h) ---- */

static int
cm_add_instance(cm_script *s, const char *name, const kumo_component *c,
                char *msg, size_t msglen)
{
    kumo_cinstance *inst;
    kumo_diag diag;
    int rc;

    if (!s->store) {
        kumo_store_config cfg = {.max_call_depth = 2000};
        if ((rc = kumo_store_new(&cfg, &s->store)) < 0 ||
            (rc = kumo_clinker_new(&s->linker)) < 0) {
            snprintf(msg, msglen, "cannot set up a store: %s",
                     kumo_strerror(rc));
            return rc;
        }
    }
    memset(&diag, 0, sizeof diag);
    rc = kumo_component_instantiate(s->store, c, s->linker, &inst, &diag);
    if (rc < 0) {
        snprintf(msg, msglen, "instantiation failed: %s: %s",
                 kumo_strerror(rc), diag.message);
        return rc;
    }
    if (s->ninsts == s->capinsts) {
        size_t cap = s->capinsts ? s->capinsts * 2 : 8;
        cm_inst *v = realloc(s->insts, cap * sizeof *v);
        if (!v) {
            kumo_cinstance_free(inst);
            snprintf(msg, msglen, "out of memory");
            return KUMO_ENOMEM;
        }
        s->insts = v;
        s->capinsts = cap;
    }
    s->insts[s->ninsts].name = name ? strdup(name) : NULL;
    s->insts[s->ninsts].inst = inst;
    s->ninsts++;
    s->current = inst;
    return 0;
}

/* (component instance $i $Def): instantiate a module_definition. */
static int
cm_instantiate(cm_script *s, const sx *form, char *msg, size_t msglen)
{
    const char *iname = NULL, *dname = NULL;
    const cm_def *def = NULL;

    for (size_t i = 2; i < form->n; i++) {
        if (form->kids[i]->kind != SX_ATOM || form->kids[i]->text[0] != '$')
            continue;
        if (!iname && i == 2)
            iname = form->kids[i]->text + 1;
        else
            dname = form->kids[i]->text + 1;
    }
    for (size_t i = s->ndefs; i-- > 0 && !def;)
        if (!dname || (s->defs[i].name && strcmp(s->defs[i].name, dname) == 0))
            def = &s->defs[i];
    if (!def) {
        snprintf(msg, msglen, "unknown component definition $%s",
                 dname ? dname : "?");
        return KUMO_ENOTFOUND;
    }
    return cm_add_instance(s, iname, def->comp, msg, msglen);
}

/* Our own values (strings and items from malloc). */
static void
cv_free(kumo_cval *v)
{
    if (!v)
        return;
    switch (v->kind) {
    case KUMO_CV_STRING:
        free(v->u.str.ptr);
        break;
    case KUMO_CV_LIST:
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        for (uint32_t i = 0; i < v->u.items.n; i++)
            cv_free(&v->u.items.items[i]);
        free(v->u.items.items);
        break;
    case KUMO_CV_VARIANT:
    case KUMO_CV_ENUM:
    case KUMO_CV_OPTION:
    case KUMO_CV_RESULT:
        cv_free(v->u.var.payload);
        free(v->u.var.payload);
        break;
    default:
        break;
    }
    v->kind = KUMO_CV_BOOL;
}

static int
label_index(const kumo_ctype *t, const char *label, uint32_t *out)
{
    for (uint32_t i = 0; i < kumo_ctype_count(t); i++) {
        uint32_t len;
        const char *l = kumo_ctype_label(t, i, &len);
        if (l && len == strlen(label) && memcmp(l, label, len) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int cv_from_sx(const sx *x, const kumo_ctype *t, kumo_cval *out,
                      char *err, size_t errlen);

static int
cv_payload(const sx *x, const kumo_ctype *t, kumo_cval *out, char *err,
           size_t errlen)
{
    out->u.var.payload = NULL;
    if (!x)
        return 0;
    if (!t) {
        snprintf(err, errlen, "unexpected payload");
        return -1;
    }
    out->u.var.payload = calloc(1, sizeof *out->u.var.payload);
    if (!out->u.var.payload)
        return -1;
    return cv_from_sx(x, t, out->u.var.payload, err, errlen);
}

static int
cv_items(const sx *x, size_t first, const kumo_ctype *t, bool list,
         kumo_cval *out, char *err, size_t errlen)
{
    uint32_t n = (uint32_t)(x->n - first);
    out->u.items.n = 0;
    out->u.items.items = calloc(n ? n : 1, sizeof *out->u.items.items);
    if (!out->u.items.items)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const sx *k = x->kids[first + i];
        const kumo_ctype *mt = kumo_ctype_member(t, list ? 0 : i);
        sx inline_value; /* (field "a" u32.const 7): the rest is the value */
        if (strcmp(sx_head(k), "field") == 0 && k->n == 3 &&
            k->kids[2]->kind == SX_LIST) {
            k = k->kids[2];
        } else if (strcmp(sx_head(k), "field") == 0 && k->n >= 3) {
            memset(&inline_value, 0, sizeof inline_value);
            inline_value.kind = SX_LIST;
            inline_value.n = k->n - 2;
            inline_value.kids = k->kids + 2;
            k = &inline_value;
        }
        out->u.items.n = i + 1;
        if (!mt || cv_from_sx(k, mt, &out->u.items.items[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* A value form such as (u32.const 1) or (record.const (field "a" ...)) as a
 * value of type t. */
static int
cv_from_sx(const sx *x, const kumo_ctype *t, kumo_cval *out, char *err,
           size_t errlen)
{
    const char *h = sx_head(x);
    const sx *a1 = x->n > 1 ? x->kids[1] : NULL;
    kumo_cval_kind k = kumo_ctype_kind(t);

    memset(out, 0, sizeof *out);
    out->kind = k;
    switch (k) {
    case KUMO_CV_BOOL:
        out->u.b = a1 && sx_is(a1, "true");
        return 0;
    case KUMO_CV_S8:
    case KUMO_CV_S16:
    case KUMO_CV_S32:
    case KUMO_CV_S64:
        out->u.s = a1 && a1->text ? strtoll(a1->text, NULL, 0) : 0;
        return 0;
    case KUMO_CV_U8:
    case KUMO_CV_U16:
    case KUMO_CV_U32:
    case KUMO_CV_U64:
        out->u.u = a1 && a1->text ? strtoull(a1->text, NULL, 0) : 0;
        return 0;
    case KUMO_CV_F32:
        out->u.f32 = a1 && a1->text ? strtof(a1->text, NULL) : 0;
        return 0;
    case KUMO_CV_F64:
        out->u.f64 = a1 && a1->text ? strtod(a1->text, NULL) : 0;
        return 0;
    case KUMO_CV_CHAR: {
        const unsigned char *p =
            a1 && a1->text ? (const unsigned char *)a1->text
                           : (const unsigned char *)"";
        uint32_t cp = p[0];
        int n = cp < 0x80 ? 0 : cp < 0xe0 ? 1 : cp < 0xf0 ? 2 : 3;
        cp &= n == 0 ? 0x7f : n == 1 ? 0x1f : n == 2 ? 0x0f : 0x07;
        for (int i = 1; i <= n && p[i]; i++)
            cp = (cp << 6) | (p[i] & 0x3f);
        out->u.ch = cp;
        return 0;
    }
    case KUMO_CV_STRING:
        out->u.str.len = a1 ? a1->len : 0;
        out->u.str.ptr = malloc(out->u.str.len + 1);
        if (!out->u.str.ptr)
            return -1;
        memcpy(out->u.str.ptr, a1 ? a1->text : "", out->u.str.len);
        out->u.str.ptr[out->u.str.len] = '\0';
        return 0;
    case KUMO_CV_LIST:
        return cv_items(x, 1, t, true, out, err, errlen);
    case KUMO_CV_RECORD:
    case KUMO_CV_TUPLE:
        return cv_items(x, 1, t, false, out, err, errlen);
    case KUMO_CV_FLAGS:
        out->u.flags.n = kumo_ctype_count(t);
        for (size_t i = 1; i < x->n; i++) {
            uint32_t bit;
            if (!x->kids[i]->text ||
                label_index(t, x->kids[i]->text, &bit) < 0 || bit >= 32) {
                snprintf(err, errlen, "unknown flag");
                return -1;
            }
            out->u.flags.bits |= 1u << bit;
        }
        return 0;
    case KUMO_CV_ENUM:
    case KUMO_CV_VARIANT:
        if (!a1 || !a1->text || label_index(t, a1->text, &out->u.var.disc) < 0) {
            snprintf(err, errlen, "unknown case in %s", h);
            return -1;
        }
        return cv_payload(x->n > 2 ? x->kids[2] : NULL,
                          kumo_ctype_member(t, out->u.var.disc), out, err,
                          errlen);
    case KUMO_CV_OPTION:
        out->u.var.disc = strcmp(h, "option.some") == 0;
        return cv_payload(out->u.var.disc ? a1 : NULL,
                          kumo_ctype_member(t, 0), out, err, errlen);
    case KUMO_CV_RESULT:
        out->u.var.disc = strcmp(h, "result.err") == 0;
        return cv_payload(a1, kumo_ctype_member(t, out->u.var.disc), out, err,
                          errlen);
    default:
        snprintf(err, errlen, "cannot make a value of %s", h);
        return -1;
    }
}

/* Run (invoke $inst? "name" args...): results into res (nres 0 or 1). */
static int
cm_call(cm_script *s, const sx *invoke, kumo_cval *res, size_t *nres,
        const kumo_ctype **rtype, char *msg, size_t msglen)
{
    kumo_cinstance *inst = s->current;
    size_t i = 1;
    kumo_cfunc *f;
    kumo_cval *args = NULL;
    size_t nargs = 0;
    int rc;

    *nres = 0;
    if (strcmp(sx_head(invoke), "invoke") != 0) {
        snprintf(msg, msglen, "unknown action %s", sx_head(invoke));
        return KUMO_EINVAL;
    }
    if (i < invoke->n && invoke->kids[i]->kind == SX_ATOM &&
        invoke->kids[i]->text[0] == '$') {
        const char *n = invoke->kids[i]->text + 1;
        inst = NULL;
        for (size_t k = s->ninsts; k-- > 0 && !inst;)
            if (s->insts[k].name && strcmp(s->insts[k].name, n) == 0)
                inst = s->insts[k].inst;
        i++;
    }
    if (!inst || i >= invoke->n || invoke->kids[i]->kind != SX_STRING) {
        snprintf(msg, msglen, "no instance to invoke");
        return KUMO_ENOTFOUND;
    }
    rc = kumo_cinstance_func(inst, invoke->kids[i]->text, &f);
    if (rc < 0) {
        snprintf(msg, msglen, "no exported function \"%s\"",
                 invoke->kids[i]->text);
        return rc;
    }
    const kumo_ctype *ft = kumo_cfunc_type(f);
    nargs = invoke->n - i - 1;
    if (nargs != kumo_ctype_count(ft)) {
        snprintf(msg, msglen, "%zu arguments for %u parameters", nargs,
                 kumo_ctype_count(ft));
        return KUMO_EINVAL;
    }
    args = calloc(nargs ? nargs : 1, sizeof *args);
    if (!args)
        return KUMO_ENOMEM;
    for (size_t k = 0; k < nargs; k++) {
        if (cv_from_sx(invoke->kids[i + 1 + k], kumo_ctype_member(ft, (uint32_t)k),
                       &args[k], msg, msglen) < 0) {
            rc = KUMO_EINVAL;
            goto done;
        }
    }
    *rtype = kumo_ctype_result(ft);
    *nres = *rtype ? 1 : 0;
    rc = kumo_cfunc_call(f, args, nargs, res, *nres);
    if (rc < 0) {
        const char *tm = kumo_cinstance_trap_message(inst);
        snprintf(msg, msglen, "%s", tm && *tm ? tm : kumo_strerror(rc));
        *nres = 0;
    }
done:
    for (size_t k = 0; k < nargs; k++)
        cv_free(&args[k]);
    free(args);
    return rc;
}

/* Every invocation goes through here: invoke, assert_return (expected
 * results compared with kumo_cval_equal) and assert_trap (the trap message
 * compared like the core runner does). */
static int
cm_invoke(cm_script *s, const sx *cmd, char *msg, size_t msglen)
{
    const char *head = sx_head(cmd);
    const sx *invoke = strcmp(head, "invoke") == 0 ? cmd : cmd->kids[1];
    kumo_cval res[1];
    size_t nres = 0;
    const kumo_ctype *rtype = NULL;
    int rc;

    memset(res, 0, sizeof res);
    rc = cm_call(s, invoke, res, &nres, &rtype, msg, msglen);
    if (strcmp(head, "assert_trap") == 0) {
        const char *want = cmd->n > 2 && cmd->kids[2]->kind == SX_STRING
                               ? cmd->kids[2]->text
                               : "";
        if (rc == 0) {
            kumo_cvals_free(res, nres);
            snprintf(msg, msglen, "returned, expected trap \"%s\"", want);
            return KUMO_EINVAL;
        }
        if (!KUMO_IS_TRAP(rc))
            return rc; /* not a trap */
        if (!cm_msg_matches(msg, want)) {
            s->differs++;
            if (!s->o->quiet)
                printf("%s:#%zu: %s: note: message differs: expected \"%s\", "
                       "got \"%s\"\n",
                       s->path, s->index, s->type, want, msg);
        }
        return 0;
    }
    if (rc < 0 || strcmp(head, "invoke") == 0) {
        kumo_cvals_free(res, nres);
        return rc;
    }
    size_t nwant = cmd->n - 2;
    if (nwant != nres) {
        kumo_cvals_free(res, nres);
        snprintf(msg, msglen, "%zu results, expected %zu", nres, nwant);
        return KUMO_EINVAL;
    }
    if (nwant) {
        kumo_cval want;
        char err[128] = "";
        if (cv_from_sx(cmd->kids[2], rtype, &want, err, sizeof err) < 0) {
            snprintf(msg, msglen, "bad expected value: %s", err);
            rc = KUMO_EINVAL;
        } else if (!kumo_cval_equal(&res[0], &want)) {
            snprintf(msg, msglen, "result differs from the expected value");
            rc = KUMO_EINVAL;
        }
        cv_free(&want);
    }
    kumo_cvals_free(res, nres);
    return rc;
}

static void
cm_raw(cm_script *s, json_t *cmd)
{
    const char *raw = json_string_value(json_object_get(cmd, "raw"));
    char err[256];
    sx *x;
    int rc;

    if (!raw) {
        cm_fail(s, true, "command without its raw form");
        return;
    }
    x = sx_parse(raw, err, sizeof err);
    if (!x) {
        cm_fail(s, true, "cannot read %s: %s", raw, err);
        return;
    }
    const char *head = sx_head(x);
    if (strcmp(head, "component") == 0 && x->n >= 2 &&
        sx_is(x->kids[1], "instance")) {
        rc = cm_instantiate(s, x, err, sizeof err);
    } else if (strcmp(head, "invoke") == 0) {
        rc = cm_invoke(s, x, err, sizeof err);
    } else if ((strcmp(head, "assert_return") == 0 ||
                strcmp(head, "assert_trap") == 0) &&
               x->n >= 2) {
        rc = cm_invoke(s, x, err, sizeof err);
    } else {
        rc = KUMO_EINVAL;
        snprintf(err, sizeof err, "unknown command %s", head);
    }
    if (rc < 0)
        cm_fail(s, true, "%s", err);
    else
        s->passed++;
    sx_free(x);
}

static void
cm_command(cm_script *s, json_t *cmd)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));

    s->type = type ? type : "?";
    if (!type)
        cm_fail(s, false, "command without a type");
    else if (strcmp(type, "module") == 0)
        cm_module(s, cmd, false);
    else if (strcmp(type, "module_definition") == 0)
        cm_module(s, cmd, true);
    else if (strcmp(type, "assert_invalid") == 0)
        cm_expect_failure(s, cmd, false);
    else if (strcmp(type, "assert_malformed") == 0)
        cm_expect_failure(s, cmd, true);
    else if (json_object_get(cmd, "raw"))
        cm_raw(s, cmd);
    else if (strcmp(type, "assert_trap") == 0)
        cm_fail(s, true, "not implemented: component instantiation");
    else
        cm_fail(s, false, "unknown command type");
}

/* An async built-in named in the parse error of a text module. */
static const char *
text_async_feature(const char *text)
{
    static const char *const names[] = {"waitable-set.", "stream.", "future.",
                                        "subtask.", "task.", "async"};

    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++)
        if (strstr(text, names[i]))
            return names[i];
    return NULL;
}

/* Whether the script is an async one, to be skipped whole: some binary
 * uses an async feature (async func types, stream/future, async built-ins
 * or options) and either the script instantiates or invokes components
 * (the runtime has no async support), or every binary of it is async (a
 * script validating async features only). Returns the feature and fills
 * file with the binary that uses it, or NULL. */
static const char *
cm_async_feature(cm_script *s, json_t *cmds, char *file, size_t filelen)
{
    const char *first = NULL;
    size_t nbinaries = 0, nasync = 0;
    bool invokes = false;

    for (size_t i = 0; i < json_array_size(cmds); i++) {
        json_t *cmd = json_array_get(cmds, i);
        const char *mt = json_string_value(json_object_get(cmd, "module_type"));
        char *p;
        uint8_t *bytes;
        size_t len;
        kumo_component *c;
        const char *feature = NULL;

        if (json_object_get(cmd, "raw"))
            invokes = true;
        if (mt && strcmp(mt, "text") == 0 &&
            (feature = text_async_feature(json_string_value(
                 json_object_get(cmd, "parse_error"))))) {
            /* a text form the encoder could not encode */
            nbinaries++;
            nasync++;
            if (!first) {
                snprintf(file, filelen, "%s",
                         json_string_value(json_object_get(cmd, "filename")));
                first = feature;
            }
            continue;
        }
        if (!mt || strcmp(mt, "binary") != 0 || !(p = cm_file_path(s, cmd)))
            continue;
        nbinaries++;
        if (kc_read_file(p, &bytes, &len) == 0) {
            if (kumo_component_new(bytes, len, &c, NULL) == 0) {
                feature = kumo_component_async_feature(c);
                kumo_component_free(c);
            }
            free(bytes);
        }
        if (feature) {
            nasync++;
            if (!first) {
                const char *base = strrchr(p, '/');
                snprintf(file, filelen, "%s", base ? base + 1 : p);
                first = feature;
            }
        }
        free(p);
    }
    return nasync && (invokes || nasync == nbinaries) ? first : NULL;
}

static char *
cm_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return strdup(".");
    return strndup(path, (size_t)(slash - path));
}

bool
kc_cm_is_script(const char *path, struct json_t *root)
{
    json_t *cmds = json_object_get(root, "commands");
    const char *src =
        json_string_value(json_object_get(root, "source_filename"));

    (void)path;
    if (src && strstr(src, "component-model"))
        return true;
    for (size_t i = 0; i < json_array_size(cmds); i++)
        if (json_object_get(json_array_get(cmds, i), "raw"))
            return true;
    return false;
}

void
kc_cm_run_script(const kc_cm_opts *o, const char *path, struct json_t *root,
                 kc_cm_counts *t)
{
    json_t *cmds = json_object_get(root, "commands");
    cm_script s;
    char name[256], file[256];
    const char *base = strrchr(path, '/');
    size_t n;

    memset(&s, 0, sizeof s);
    s.o = o;
    s.path = path;
    s.type = "setup";
    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    snprintf(name, sizeof name, "%.*s", (int)n, base);
    s.dir = cm_dir_of(path);
    if (!s.dir) {
        t->failed++;
        return;
    }
    const char *feature = cm_async_feature(&s, cmds, file, sizeof file);
    if (feature) {
        s.skipped = (long)json_array_size(cmds);
        if (!o->quiet)
            printf("%s: skipped (async: %s uses %s)\n", name, file, feature);
    } else {
        for (size_t i = 0; i < json_array_size(cmds); i++) {
            s.index = i;
            cm_command(&s, json_array_get(cmds, i));
        }
    }
    if (s.failed > CM_MAX_REPORTED && !o->verbose)
        printf("%s: %ld more failures not shown (use -v)\n", path,
               s.failed - CM_MAX_REPORTED);
    if (!o->quiet)
        printf("%s: %ld passed, %ld failed, %ld skipped\n", name, s.passed,
               s.failed, s.skipped);
    t->passed += s.passed;
    t->failed += s.failed;
    t->skipped += s.skipped;
    t->differs += s.differs;
    t->failed_validation += s.failed_validation;
    t->failed_invocation += s.failed_invocation;
    if (feature)
        t->skipped_scripts++;
    for (size_t i = s.ninsts; i-- > 0;) {
        kumo_cinstance_free(s.insts[i].inst);
        free(s.insts[i].name);
    }
    free(s.insts);
    kumo_store_free(s.store);
    kumo_clinker_free(s.linker);
    for (size_t i = 0; i < s.ndefs; i++) {
        kumo_component_free(s.defs[i].comp);
        free(s.defs[i].name);
    }
    free(s.defs);
    free(s.dir);
}
