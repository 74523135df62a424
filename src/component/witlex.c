/* witlex.c - WIT lexer: the arena every WIT AST lives in, diagnostics with
 * file:line:column, and tokenization (identifiers, keywords, punctuation,
 * integers, semver versions, string literals, doc comments attached to the
 * token that follows them). */
#include <stdio.h>

#include "../base/base.h"
#include "witparse.h"

/* ---- arena */

typedef struct kw_chunk {
    struct kw_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} kw_chunk;

#define CHUNK_MIN 16384

void *
kw_alloc(kw_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    kw_chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        size_t cs = size > CHUNK_MIN ? size : CHUNK_MIN;
        if (cs > SIZE_MAX / 2)
            return NULL;
        kw_chunk *n = kb_malloc(sizeof(kw_chunk) + cs);
        if (!n)
            return NULL;
        n->used = 0;
        n->size = cs;
        if (c && size > CHUNK_MIN) {
            /* a big block: keep the current chunk as the head */
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void
kw_arena_free(kw_arena *a)
{
    kw_chunk *c = a->head;
    while (c) {
        kw_chunk *n = c->next;
        kb_free(c);
        c = n;
    }
    a->head = NULL;
}

char *
kw_strndup(kw_arena *a, const char *s, size_t n)
{
    char *p = kw_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Capacity is implicit: 4, then powers of two. */
void *
kw_push(kw_arena *a, void *items_ptr, uint32_t *n, size_t elem)
{
    void **items = items_ptr;
    uint32_t cnt = *n;
    if (cnt == UINT32_MAX / 2)
        return NULL;
    if (cnt == 0 || (cnt >= 4 && (cnt & (cnt - 1)) == 0)) {
        uint32_t cap = cnt ? cnt * 2 : 4;
        unsigned char *nw = kw_alloc(a, (size_t)cap * elem);
        if (!nw)
            return NULL;
        if (cnt)
            memcpy(nw, *items, (size_t)cnt * elem);
        *items = nw;
    }
    unsigned char *slot = (unsigned char *)*items + (size_t)cnt * elem;
    memset(slot, 0, elem);
    *n = cnt + 1;
    return slot;
}

int
kw_push_ptr(kw_arena *a, void *items_ptr, uint32_t *n, void *p)
{
    void **slot = kw_push(a, items_ptr, n, sizeof(void *));
    if (!slot)
        return KUMO_ENOMEM;
    *slot = p;
    return 0;
}

/* ---- diagnostics */

int
kw_error(kumo_diag *d, int code, const kw_pos *pos, const char *fmt, ...)
{
    if (!d)
        return code;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *file = pos && pos->file ? pos->file : "<wit>";
    size_t fl = strlen(file);
    if (fl > 80)
        file += fl - 80; /* keep the tail of long paths */
    if (pos)
        return kb_diag(d, code, pos->offset, "%s:%u:%u: %s", file,
                       (unsigned)pos->line, (unsigned)pos->col, msg);
    return kb_diag(d, code, 0, "%s", msg);
}

/* ---- keywords and identifiers */

static const char *const keywords[] = {NULL,
#define KW_K_STR(n, s) s,
                                       KW_KEYWORDS(KW_K_STR)
#undef KW_K_STR
};

int
kw_keyword(const char *s, size_t n)
{
    for (size_t i = 1; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i]) == n && memcmp(keywords[i], s, n) == 0)
            return (int)i;
    return KW_K_NONE;
}

const char *
kw_keyword_name(int kw)
{
    if (kw <= 0 || (size_t)kw >= sizeof keywords / sizeof keywords[0])
        return "?";
    return keywords[kw];
}

static bool
is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

/* kebab-case: words separated by single '-', each word starts with a
 * letter and its letters are all lower case or all upper case. */
bool
kw_valid_id(const char *s)
{
    if (!*s)
        return false;
    while (*s) {
        if (!is_alpha((unsigned char)*s))
            return false;
        bool lower = *s >= 'a' && *s <= 'z';
        for (; *s && *s != '-'; s++) {
            char c = *s;
            if (!is_alnum((unsigned char)c))
                return false;
            if (is_alpha((unsigned char)c) && (c >= 'a' && c <= 'z') != lower)
                return false;
        }
        if (*s == '-') {
            s++;
            if (!*s)
                return false;
        }
    }
    return true;
}

/* ---- the lexer proper */

typedef struct lexer {
    kw_arena *a;
    const char *file;
    const char *src;
    size_t len, i;
    uint32_t line;
    size_t line_start;
    kumo_diag *d;
    /* pending doc comment text */
    char *doc;
    size_t doclen, doccap;
    bool has_doc;
} lexer;

static kw_pos
pos_at(const lexer *L, size_t i)
{
    kw_pos p;
    p.file = L->file;
    p.line = L->line;
    p.col = (uint32_t)(i - L->line_start + 1);
    p.offset = (uint32_t)i;
    return p;
}

static int
lex_err(lexer *L, size_t i, const char *fmt, const char *arg)
{
    kw_pos p = pos_at(L, i);
    return kw_error(L->d, KUMO_EMALFORMED, &p, fmt, arg);
}

/* Append one doc line (or block) to the pending docs. A '\r' run before a
 * newline or at the end is dropped, so printing `///` lines is a fixpoint. */
static int
doc_append(lexer *L, const char *s, size_t n)
{
    size_t need = L->doclen + n + 2;
    if (need > L->doccap) {
        size_t cap = L->doccap ? L->doccap * 2 : 256;
        while (cap < need)
            cap *= 2;
        char *nd = kb_realloc(L->doc, cap);
        if (!nd)
            return KUMO_ENOMEM;
        L->doc = nd;
        L->doccap = cap;
    }
    if (L->has_doc)
        L->doc[L->doclen++] = '\n';
    L->has_doc = true;
    for (size_t j = 0; j < n; j++) {
        if (s[j] == '\r') {
            size_t k = j;
            while (k < n && s[k] == '\r')
                k++;
            if (k == n || s[k] == '\n') {
                j = k - 1;
                continue;
            }
        }
        L->doc[L->doclen++] = s[j];
    }
    L->doc[L->doclen] = 0;
    return 0;
}

static void
newline(lexer *L, size_t at)
{
    L->line++;
    L->line_start = at + 1;
}

/* Length of the character at i of a comment or string: a UTF-8 scalar
 * that is not a control code other than tab, newline and carriage return,
 * nor a bidirectional override; 0 if it is not allowed. */
static size_t
utf8_len(const lexer *L, size_t i)
{
    unsigned char c = (unsigned char)L->src[i];
    if (c < 0x80)
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f
                   ? 0
                   : 1;
    size_t n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n > L->len - i || !kb_utf8_valid((const uint8_t *)L->src + i, n))
        return 0;
    if (n == 3 && c == 0xE2) {
        unsigned cp = ((unsigned)(c & 0x0F) << 12) |
                      ((unsigned)(L->src[i + 1] & 0x3F) << 6) |
                      (unsigned)(L->src[i + 2] & 0x3F);
        if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
            return 0;
    }
    if (n == 2 && c == 0xC2 && (unsigned char)L->src[i + 1] < 0xA0)
        return 0; /* C1 controls */
    return n;
}

/* Skip whitespace and comments, collecting doc comments. */
static int
skip_trivia(lexer *L)
{
    while (L->i < L->len) {
        char c = L->src[L->i];
        if (c == '\n') {
            newline(L, L->i);
            L->i++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            L->i++;
        } else if (c == '/' && L->i + 1 < L->len && L->src[L->i + 1] == '/') {
            size_t s = L->i;
            while (L->i < L->len && L->src[L->i] != '\n') {
                size_t n = utf8_len(L, L->i);
                if (!n)
                    return lex_err(
                        L, L->i, "%s",
                        "invalid UTF-8 or control character in comment");
                L->i += n;
            }
            if (L->i - s >= 3 && L->src[s + 2] == '/' &&
                (L->i - s == 3 || L->src[s + 3] != '/')) {
                size_t b = s + 3, e = L->i;
                if (b < e && L->src[b] == ' ')
                    b++;
                int rc = doc_append(L, L->src + b, e - b);
                if (rc)
                    return rc;
            }
        } else if (c == '/' && L->i + 1 < L->len && L->src[L->i + 1] == '*') {
            size_t s = L->i;
            uint32_t depth = 1;
            L->i += 2;
            bool doc = L->i < L->len && L->src[L->i] == '*' &&
                       !(L->i + 1 < L->len && L->src[L->i + 1] == '/');
            while (depth) {
                if (L->i + 1 >= L->len)
                    return lex_err(L, s, "%s", "unterminated block comment");
                if (L->src[L->i] == '*' && L->src[L->i + 1] == '/') {
                    depth--;
                    L->i += 2;
                } else if (L->src[L->i] == '/' && L->src[L->i + 1] == '*') {
                    depth++;
                    L->i += 2;
                } else {
                    if (L->src[L->i] == '\n')
                        newline(L, L->i);
                    size_t n = utf8_len(L, L->i);
                    if (!n)
                        return lex_err(
                            L, L->i, "%s",
                            "invalid UTF-8 or control character in comment");
                    L->i += n;
                }
            }
            if (doc) {
                size_t b = s + 3, e = L->i - 2;
                while (b < e && (L->src[b] == ' ' || L->src[b] == '\n' ||
                                 L->src[b] == '\r' || L->src[b] == '\t'))
                    b++;
                while (e > b &&
                       (L->src[e - 1] == ' ' || L->src[e - 1] == '\n' ||
                        L->src[e - 1] == '\r' || L->src[e - 1] == '\t'))
                    e--;
                int rc = doc_append(L, L->src + b, e - b);
                if (rc)
                    return rc;
            }
        } else {
            break;
        }
    }
    return 0;
}

/* Digits, or a full semver MAJOR.MINOR.PATCH[-pre][+build]. The '.' after a
 * version is only taken when an identifier character follows, so
 * `@0.2.6.{a}` ends the version before ".{". */
static int
lex_number(lexer *L, kw_token *t)
{
    size_t s = L->i;
    while (L->i < L->len && is_digit(L->src[L->i]))
        L->i++;
    t->kind = KW_TK_INT;
    if (L->i + 1 < L->len && L->src[L->i] == '.' &&
        is_digit(L->src[L->i + 1])) {
        for (int part = 0; part < 2; part++) {
            if (L->i + 1 >= L->len || L->src[L->i] != '.' ||
                !is_digit(L->src[L->i + 1]))
                return lex_err(L, s, "%s",
                               "invalid version: expected MAJOR.MINOR.PATCH");
            L->i++;
            while (L->i < L->len && is_digit(L->src[L->i]))
                L->i++;
        }
        t->kind = KW_TK_VERSION;
        for (int sect = 0; sect < 2; sect++) {
            char lead = sect == 0 ? '-' : '+';
            if (L->i >= L->len || L->src[L->i] != lead)
                continue;
            L->i++;
            for (;;) {
                size_t b = L->i;
                while (L->i < L->len &&
                       (is_alnum(L->src[L->i]) || L->src[L->i] == '-'))
                    L->i++;
                if (L->i == b)
                    return lex_err(L, s, "%s",
                                   "invalid version: empty identifier");
                if (L->i + 1 < L->len && L->src[L->i] == '.' &&
                    (is_alnum(L->src[L->i + 1]) || L->src[L->i + 1] == '-'))
                    L->i++;
                else
                    break;
            }
        }
    }
    t->text = kw_strndup(L->a, L->src + s, L->i - s);
    return t->text ? 0 : KUMO_ENOMEM;
}

static int
lex_ident(lexer *L, kw_token *t)
{
    size_t s = L->i;
    bool escaped = L->src[L->i] == '%';
    if (escaped)
        L->i++;
    size_t b = L->i;
    while (L->i < L->len && (is_alnum(L->src[L->i]) || L->src[L->i] == '-'))
        L->i++;
    if (L->i == b)
        return lex_err(L, s, "%s", "expected an identifier after `%`");
    t->text = kw_strndup(L->a, L->src + b, L->i - b);
    if (!t->text)
        return KUMO_ENOMEM;
    if (!kw_valid_id(t->text))
        return lex_err(L, s, "invalid identifier `%s` (expected kebab-case)",
                       t->text);
    t->kind = KW_TK_ID;
    if (!escaped) {
        t->kw = kw_keyword(t->text, L->i - b);
        if (t->kw)
            t->kind = KW_TK_KEYWORD;
    }
    return 0;
}

static int
hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}


/* A core-wasm `name` literal: escapes \t \n \r \" \' \\ \hh \u{...}; the
 * decoded bytes must be valid UTF-8. */
static int
lex_string(lexer *L, kw_token *t)
{
    size_t s = L->i++;
    char *out = kw_alloc(L->a, L->len - s + 4);
    size_t n = 0;
    if (!out)
        return KUMO_ENOMEM;
    for (;;) {
        if (L->i >= L->len || L->src[L->i] == '\n')
            return lex_err(L, s, "%s", "unterminated string literal");
        char c = L->src[L->i];
        if (c == '"') {
            L->i++;
            break;
        }
        if (c != '\\') {
            size_t cl = utf8_len(L, L->i);
            if (!cl || c == '\r')
                return lex_err(L, L->i, "%s",
                               "invalid character in string literal");
            memcpy(out + n, L->src + L->i, cl);
            n += cl;
            L->i += cl;
            continue;
        }
        if (L->i + 1 >= L->len)
            return lex_err(L, s, "%s", "unterminated string literal");
        char e = L->src[L->i + 1];
        L->i += 2;
        if (e == 't' || e == 'n' || e == 'r' || e == '"' || e == '\'' ||
            e == '\\') {
            out[n++] = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
        } else if (e == 'u' && L->i < L->len && L->src[L->i] == '{') {
            uint32_t cp = 0;
            size_t digits = 0;
            L->i++;
            while (L->i < L->len && hexval(L->src[L->i]) >= 0 &&
                   cp < 0x110000) {
                cp = cp * 16 + (uint32_t)hexval(L->src[L->i++]);
                digits++;
            }
            if (!digits || L->i >= L->len || L->src[L->i] != '}' ||
                cp >= 0x110000 || (cp >= 0xD800 && cp < 0xE000))
                return lex_err(L, L->i, "%s", "invalid unicode escape");
            L->i++;
            n += kb_utf8_put(out + n, cp);
        } else if (hexval(e) >= 0 && L->i < L->len &&
                   hexval(L->src[L->i]) >= 0) {
            out[n++] = (char)(hexval(e) * 16 + hexval(L->src[L->i]));
            L->i++;
        } else {
            return lex_err(L, L->i - 2, "%s", "invalid escape in string");
        }
    }
    if (!kb_utf8_valid((const uint8_t *)out, n) || memchr(out, 0, n))
        return lex_err(L, s, "%s", "invalid character in string literal");
    out[n] = 0;
    t->kind = KW_TK_STRING;
    t->text = out;
    return 0;
}

static int
lex_one(lexer *L, kw_token *t)
{
    char c = L->src[L->i];
    static const char punct[] = "=,:;(){}<>*/.@_";
    if (c == '-' && L->i + 1 < L->len && L->src[L->i + 1] == '>') {
        t->kind = KW_TK_PUNCT;
        t->text = "->";
        L->i += 2;
        return 0;
    }
    if (c == '_' && L->i + 1 < L->len &&
        (is_alnum(L->src[L->i + 1]) || L->src[L->i + 1] == '-'))
        return lex_err(L, L->i, "%s", "identifiers cannot start with `_`");
    if (c && strchr(punct, c)) {
        static const char *const texts[] = {"=", ",", ":", ";", "(",
                                            ")", "{", "}", "<", ">",
                                            "*", "/", ".", "@", "_"};
        t->kind = KW_TK_PUNCT;
        t->text = texts[strchr(punct, c) - punct];
        L->i++;
        return 0;
    }
    if (is_digit(c))
        return lex_number(L, t);
    if (is_alpha(c) || c == '%')
        return lex_ident(L, t);
    if (c == '"')
        return lex_string(L, t);
    char shown[8];
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
        snprintf(shown, sizeof shown, "`%c`", c);
    else
        snprintf(shown, sizeof shown, "0x%02x", (unsigned char)c);
    return lex_err(L, L->i, "unexpected character %s", shown);
}

int
kw_lex(kw_arena *a, const char *file, const char *src, size_t len,
       kw_token **toks, uint32_t *ntoks, kumo_diag *d)
{
    lexer L = {.a = a, .file = file, .src = src, .len = len, .line = 1, .d = d};
    int rc = 0;
    *toks = NULL;
    *ntoks = 0;
    if (len >= UINT32_MAX)
        return kw_error(d, KUMO_ELIMIT, NULL, "WIT source too large");
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        L.i = 3;
    for (;;) {
        if ((rc = skip_trivia(&L)) != 0)
            goto fail;
        kw_token *t = kw_push(a, toks, ntoks, sizeof(kw_token));
        if (!t) {
            rc = KUMO_ENOMEM;
            goto fail;
        }
        t->pos = pos_at(&L, L.i);
        if (L.has_doc) {
            t->docs = kw_strndup(a, L.doc, L.doclen);
            if (!t->docs) {
                rc = KUMO_ENOMEM;
                goto fail;
            }
            L.doclen = 0;
            L.has_doc = false;
        }
        if (L.i >= L.len) {
            t->kind = KW_TK_EOF;
            t->text = "end of file";
            break;
        }
        if ((rc = lex_one(&L, t)) != 0)
            goto fail;
    }
    kb_free(L.doc);
    return 0;
fail:
    kb_free(L.doc);
    return rc;
}
