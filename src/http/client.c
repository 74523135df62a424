/* client.c - the outbound HTTP client: libcurl's multi socket interface
 * driven by libuv (a uv_poll per socket curl asks about, one uv_timer for
 * curl's timeout), on the caller's loop, single-threaded.
 *
 * Re-entrancy is the main design constraint. libcurl forbids adding or
 * removing easy handles from inside its callbacks, and our receivers may
 * call anything from theirs. So nothing a receiver calls touches the multi
 * handle directly: starts, pause changes and failures are queued on the
 * client's "kick" list and done from a uv_idle callback; frees requested
 * while we are inside a loop callback (depth > 0) are queued on the
 * "doomed" list and done when the outermost callback returns. Every user
 * callback is guarded by call->freed, so none runs after
 * kumo_http_call_free. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"

#define CONNECT_TIMEOUT_MS 30000ull
#define FIRST_BYTE_TIMEOUT_MS 600000ull
#define BETWEEN_BYTES_TIMEOUT_MS 600000ull
#define MAX_HEAD_BYTES 65536
#define CURL_HEAD_LIMIT (100 * 1024 - 1) /* libcurl's CURL_MAX_HTTP_HEADER */

/* A libcurl multi handle: a connection pool. libcurl 7.88 would reuse an
 * HTTP/1.1 connection for an h2c prior-knowledge request (and fail): h2c
 * calls get a pool of their own, without multiplexing or reuse (see
 * kumo_http_client_new, setup_easy). */
typedef struct pool {
    CURLM *m;
    kumo_http_client *c;
    uv_timer_t *timer; /* libcurl's timeout, in the client's handles */
} pool;

/* The pools: a connection pool mixing versions for one host misleads
 * libcurl 7.88 (see above), and an http/1.1-only TLS connection makes it
 * open a new connection per call instead of multiplexing on its h2 one. */
enum { M_MAIN, M_H2C, M_H1_TLS, M_COUNT };

/* One socket libcurl watches. Freed by its close callback. */
typedef struct sock_watch {
    uv_poll_t h;
    curl_socket_t fd;
    pool *m;
    struct sock_watch *prev, *next;
} sock_watch;

/* The client's libuv handles, allocated apart from the client so that it
 * can be freed at once while they close. */
typedef struct handles {
    uv_timer_t timer[M_COUNT]; /* libcurl's timeouts */
    uv_idle_t idle;            /* runs the kick list */
    int open;
} handles;

struct kumo_http_client {
    uv_loop_t *loop;
    pool multi[M_COUNT];
    handles *hs;
    sock_watch *polls;
    kumo_http_call *calls;  /* live (not freed) calls */
    kumo_http_call *doomed; /* freed inside a callback, destroyed later */
    kumo_http_call *kick;   /* calls with deferred work */
    int depth;              /* > 0 inside one of our loop callbacks */
    bool idle_on;
};

enum { T_NONE, T_FIRST_BYTE, T_BETWEEN_BYTES };

struct kumo_http_call {
    kumo_http_client *c;
    kumo_http_call *prev, *next; /* c->calls, or c->doomed (next only) */
    kumo_http_call *kick_next;
    kumo_http_call_handler h;
    void *data;
    CURL *easy;
    pool *m;
    struct curl_slist *hdrs, *trailers_out;
    uv_timer_t *timer;
    int timer_kind;
    uint64_t first_byte_ms, between_bytes_ms;
    size_t max_head;
    /* state */
    bool in_kick, pending_add, pending_fail, attached, done, freed;
    int err;       /* our own error, decided inside a curl callback */
    int curl_mask; /* CURLPAUSE_* as libcurl has it */
    /* request body */
    bool has_body, finished, send_paused, blocked, want_writable;
    int64_t body_len; /* -1: unknown (chunked on HTTP/1.1) */
    uint64_t written;
    kh_queue q;
    /* response */
    bool recv_paused, head_done;
    int status;
    kumo_http_version version;
    size_t head_bytes;
    kh_buf fbuf; /* field bytes of the head or trailers being read */
    kh_fieldoff *fo;
    uint32_t nfo, capfo;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- error names and the mapping from libcurl */

#define ERR_NAME(name, wit) wit,
static const char *const error_names[] = {"ok",
                                          KUMO_HTTP_CALL_ERRORS(ERR_NAME)};
#undef ERR_NAME

const char *
kumo_http_call_error_name(int error)
{
    if (error < 0 || error >= KUMO_HTTP_CALL_ERROR_COUNT)
        return NULL;
    return error_names[error];
}

/* libcurl codes with one meaning; the others are decided in map_curl. */
static const struct {
    CURLcode code;
    int error;
} curl_errors[] = {
    {CURLE_COULDNT_RESOLVE_HOST, KUMO_HTTP_CALL_DNS_ERROR},
    {CURLE_COULDNT_RESOLVE_PROXY, KUMO_HTTP_CALL_DNS_ERROR},
    {CURLE_SSL_CONNECT_ERROR, KUMO_HTTP_CALL_TLS_PROTOCOL_ERROR},
    {CURLE_USE_SSL_FAILED, KUMO_HTTP_CALL_TLS_PROTOCOL_ERROR},
    {CURLE_SSL_SHUTDOWN_FAILED, KUMO_HTTP_CALL_TLS_PROTOCOL_ERROR},
    {CURLE_PEER_FAILED_VERIFICATION, KUMO_HTTP_CALL_TLS_CERTIFICATE_ERROR},
    {CURLE_SSL_CERTPROBLEM, KUMO_HTTP_CALL_TLS_CERTIFICATE_ERROR},
    {CURLE_SSL_ISSUER_ERROR, KUMO_HTTP_CALL_TLS_CERTIFICATE_ERROR},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, KUMO_HTTP_CALL_TLS_CERTIFICATE_ERROR},
    {CURLE_SSL_INVALIDCERTSTATUS, KUMO_HTTP_CALL_TLS_CERTIFICATE_ERROR},
    {CURLE_SSL_CACERT_BADFILE, KUMO_HTTP_CALL_CONFIGURATION_ERROR},
    {CURLE_SSL_CRL_BADFILE, KUMO_HTTP_CALL_CONFIGURATION_ERROR},
    {CURLE_SSL_CIPHER, KUMO_HTTP_CALL_CONFIGURATION_ERROR},
    {CURLE_SSL_ENGINE_NOTFOUND, KUMO_HTTP_CALL_CONFIGURATION_ERROR},
    {CURLE_SSL_ENGINE_SETFAILED, KUMO_HTTP_CALL_CONFIGURATION_ERROR},
    {CURLE_UNSUPPORTED_PROTOCOL, KUMO_HTTP_CALL_CONFIGURATION_ERROR},
    {CURLE_GOT_NOTHING, KUMO_HTTP_CALL_CONNECTION_TERMINATED},
    {CURLE_SEND_ERROR, KUMO_HTTP_CALL_CONNECTION_TERMINATED},
    {CURLE_RECV_ERROR, KUMO_HTTP_CALL_CONNECTION_TERMINATED},
    {CURLE_PARTIAL_FILE, KUMO_HTTP_CALL_HTTP_RESPONSE_INCOMPLETE},
    {CURLE_HTTP2, KUMO_HTTP_CALL_HTTP_PROTOCOL_ERROR},
    {CURLE_HTTP2_STREAM, KUMO_HTTP_CALL_HTTP_PROTOCOL_ERROR},
    {CURLE_WEIRD_SERVER_REPLY, KUMO_HTTP_CALL_HTTP_PROTOCOL_ERROR},
    {CURLE_UNSUPPORTED_PROTOCOL, KUMO_HTTP_CALL_HTTP_PROTOCOL_ERROR},
    {CURLE_URL_MALFORMAT, KUMO_HTTP_CALL_HTTP_REQUEST_URI_INVALID},
    {CURLE_BAD_CONTENT_ENCODING, KUMO_HTTP_CALL_HTTP_RESPONSE_CONTENT_CODING},
    {CURLE_FILESIZE_EXCEEDED, KUMO_HTTP_CALL_HTTP_RESPONSE_BODY_SIZE},
    {CURLE_TOO_MANY_REDIRECTS, KUMO_HTTP_CALL_LOOP_DETECTED},
};

static int
map_connect_errno(long e)
{
    switch (e) {
    case ECONNREFUSED:
        return KUMO_HTTP_CALL_CONNECTION_REFUSED;
    case ETIMEDOUT:
        return KUMO_HTTP_CALL_CONNECTION_TIMEOUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
        return KUMO_HTTP_CALL_DESTINATION_IP_UNROUTABLE;
    case EACCES:
    case EPERM:
        return KUMO_HTTP_CALL_DESTINATION_IP_PROHIBITED;
    default:
        return KUMO_HTTP_CALL_DESTINATION_UNAVAILABLE;
    }
}

static int
map_curl(kumo_http_call *call, CURLcode res)
{
    long os_errno = 0;
    curl_off_t lookup = 0;
    if (call->err)
        return call->err;
    switch (res) {
    case CURLE_OK:
        return call->head_done ? KUMO_HTTP_CALL_OK
                               : KUMO_HTTP_CALL_HTTP_PROTOCOL_ERROR;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno);
        return map_connect_errno(os_errno);
    case CURLE_OPERATION_TIMEDOUT:
        /* Only the connect phase has a libcurl timeout (ours do the
         * rest); a lookup that never finished is a DNS timeout. */
        curl_easy_getinfo(call->easy, CURLINFO_NAMELOOKUP_TIME_T, &lookup);
        if (lookup == 0 && strstr(call->errbuf, "esolv"))
            return KUMO_HTTP_CALL_DNS_TIMEOUT;
        return KUMO_HTTP_CALL_CONNECTION_TIMEOUT;
    default:
        break;
    }
    for (size_t i = 0; i < sizeof curl_errors / sizeof curl_errors[0]; i++)
        if (curl_errors[i].code == res)
            return curl_errors[i].error;
    return KUMO_HTTP_CALL_INTERNAL_ERROR;
}

/* ---- entering and leaving loop callbacks */

static void destroy_call(kumo_http_call *call);
static void unlink_call(kumo_http_call *call);

static void
enter(kumo_http_client *c)
{
    c->depth++;
}

static void
leave(kumo_http_client *c)
{
    if (--c->depth > 0)
        return;
    while (c->doomed) {
        kumo_http_call *call = c->doomed;
        c->doomed = call->next;
        destroy_call(call);
    }
}

static void on_idle(uv_idle_t *h);

/* Queue deferred work for call (run from the idle callback). */
static void
kick(kumo_http_call *call)
{
    kumo_http_client *c = call->c;
    if (!call->in_kick) {
        call->in_kick = true;
        call->kick_next = c->kick;
        c->kick = call;
    }
    if (!c->idle_on) {
        c->idle_on = true;
        uv_idle_start(&c->hs->idle, on_idle);
    }
}

static void
unkick(kumo_http_call *call)
{
    kumo_http_call **pp = &call->c->kick;
    if (!call->in_kick)
        return;
    while (*pp && *pp != call)
        pp = &(*pp)->kick_next;
    if (*pp)
        *pp = call->kick_next;
    call->in_kick = false;
}

/* ---- per-call timer: first byte, then between bytes */

static void on_call_timer(uv_timer_t *t);

static void
timer_arm(kumo_http_call *call, int kind)
{
    uint64_t ms =
        kind == T_FIRST_BYTE ? call->first_byte_ms : call->between_bytes_ms;
    call->timer_kind = kind;
    uv_timer_start(call->timer, on_call_timer, ms, 0);
}

static void
timer_stop(kumo_http_call *call)
{
    call->timer_kind = T_NONE;
    uv_timer_stop(call->timer);
}

static void
detach(kumo_http_call *call)
{
    if (call->attached) {
        curl_multi_remove_handle(call->m->m, call->easy);
        call->attached = false;
    }
}

/* Make a field array of the collected field bytes (NULL when none). */
static kumo_http_field *
fields_build(kumo_http_call *call)
{
    kumo_http_field *f;
    if (call->nfo == 0)
        return NULL;
    f = kb_malloc(call->nfo * sizeof *f);
    if (!f)
        return NULL;
    for (uint32_t i = 0; i < call->nfo; i++) {
        f[i].name = call->fbuf.p + call->fo[i].name;
        f[i].name_len = call->fo[i].name_len;
        f[i].value = call->fbuf.p + call->fo[i].value;
        f[i].value_len = call->fo[i].value_len;
    }
    return f;
}

static void
fields_reset(kumo_http_call *call)
{
    call->fbuf.len = 0;
    call->nfo = 0;
}

/* The end: on_done once (unless freed). Outside curl callbacks only. */
static void
complete(kumo_http_call *call, int error)
{
    kumo_http_field *t = NULL;
    size_t nt = 0;
    if (call->done)
        return;
    call->done = true;
    timer_stop(call);
    detach(call);
    if (error && !call->errbuf[0])
        snprintf(call->errbuf, sizeof call->errbuf, "%s",
                 kumo_http_call_error_name(error));
    if (error == 0 && call->nfo > 0) {
        t = fields_build(call);
        if (!t)
            error = KUMO_HTTP_CALL_INTERNAL_ERROR;
        else
            nt = call->nfo;
    }
    if (!call->freed)
        call->h.on_done(call->h.ud, call, error, t, nt);
    kb_free(t);
}

static void
on_call_timer(uv_timer_t *t)
{
    kumo_http_call *call = t->data;
    kumo_http_client *c = call->c;
    int kind = call->timer_kind;
    enter(c);
    snprintf(call->errbuf, sizeof call->errbuf, "%s timeout",
             kind == T_FIRST_BYTE ? "first-byte" : "between-bytes");
    complete(call, kind == T_FIRST_BYTE
                       ? KUMO_HTTP_CALL_HTTP_RESPONSE_TIMEOUT
                       : KUMO_HTTP_CALL_CONNECTION_READ_TIMEOUT);
    leave(c);
}

/* ---- libcurl callbacks of a transfer */

/* Record "name: value" (or a continuation line) of the current section. */
static int
field_line(kumo_http_call *call, const char *s, size_t n)
{
    kh_fieldoff *o;
    if (s[0] == ' ' || s[0] == '\t') { /* obs-fold: join to the last */
        while (n > 0 && (*s == ' ' || *s == '\t'))
            s++, n--;
        if (call->nfo == 0)
            return 0;
        o = &call->fo[call->nfo - 1];
        if (kh_buf_append(&call->fbuf, " ", 1) ||
            kh_buf_append(&call->fbuf, s, n))
            return KUMO_ENOMEM;
        o->value_len += n + 1;
        return 0;
    }
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return 0; /* not a field: ignored */
    size_t nlen = (size_t)(colon - s), v = nlen + 1;
    while (v < n && (s[v] == ' ' || s[v] == '\t'))
        v++;
    while (n > v && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (kb_reserve((void **)&call->fo, &call->capfo, call->nfo + 1,
                   sizeof *call->fo))
        return KUMO_ENOMEM;
    o = &call->fo[call->nfo];
    o->name = call->fbuf.len;
    o->name_len = nlen;
    if (kh_buf_append(&call->fbuf, s, nlen))
        return KUMO_ENOMEM;
    for (size_t i = 0; i < nlen; i++) {
        uint8_t *p = &call->fbuf.p[o->name + i];
        if (*p >= 'A' && *p <= 'Z')
            *p = (uint8_t)(*p + 32);
    }
    o->value = call->fbuf.len;
    o->value_len = n - v;
    if (kh_buf_append(&call->fbuf, s + v, n - v))
        return KUMO_ENOMEM;
    call->nfo++;
    return 0;
}

static void
deliver_head(kumo_http_call *call)
{
    long v = 0;
    kumo_http_field *f = fields_build(call);
    curl_easy_getinfo(call->easy, CURLINFO_HTTP_VERSION, &v);
    call->version = v == CURL_HTTP_VERSION_2_0   ? KUMO_HTTP_2
                    : v == CURL_HTTP_VERSION_1_0 ? KUMO_HTTP_1_0
                                                 : KUMO_HTTP_1_1;
    call->head_done = true;
    if (call->h.on_response && !call->freed)
        call->h.on_response(call->h.ud, call, call->status, f,
                            f ? call->nfo : 0);
    kb_free(f);
    fields_reset(call);
}

/* A line of a response head (1xx ones included) or of the trailers. */
static size_t
on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    kumo_http_call *call = ud;
    size_t len = size * nitems, n = len;
    if (call->freed)
        return 0;
    if (!call->recv_paused)
        timer_arm(call, T_BETWEEN_BYTES);
    call->head_bytes += len;
    if (call->head_bytes > call->max_head) {
        call->err = call->head_done
                        ? KUMO_HTTP_CALL_HTTP_RESPONSE_TRAILER_SECTION_SIZE
                        : KUMO_HTTP_CALL_HTTP_RESPONSE_HEADER_SECTION_SIZE;
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (call->head_done) {
        if (n > 0 && field_line(call, buf, n))
            goto nomem;
        return len;
    }
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a status line */
        const char *sp = memchr(buf, ' ', n);
        fields_reset(call);
        call->status = 0;
        if (sp && sp + 4 <= buf + n)
            for (int i = 1; i <= 3; i++)
                if (sp[i] >= '0' && sp[i] <= '9')
                    call->status = call->status * 10 + (sp[i] - '0');
        return len;
    }
    if (n == 0) { /* end of a head */
        if (call->status >= 100 && call->status < 200) {
            fields_reset(call);
            call->head_bytes = 0;
            return len;
        }
        deliver_head(call);
        call->head_bytes = 0; /* trailers are counted on their own */
        return len;
    }
    if (field_line(call, buf, n))
        goto nomem;
    return len;
nomem:
    call->err = KUMO_HTTP_CALL_INTERNAL_ERROR;
    snprintf(call->errbuf, sizeof call->errbuf, "out of memory");
    return 0;
}

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    kumo_http_call *call = ud;
    size_t len = size * nmemb;
    if (call->freed)
        return CURL_WRITEFUNC_ERROR;
    if (call->recv_paused) {
        /* libcurl keeps this chunk and stops reading until unpaused */
        call->curl_mask |= CURLPAUSE_RECV;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!call->head_done)
        deliver_head(call);
    timer_arm(call, T_BETWEEN_BYTES);
    if (call->h.on_body && !call->freed && len > 0)
        call->h.on_body(call->h.ud, call, (const uint8_t *)ptr, len);
    return len;
}

static size_t
on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    kumo_http_call *call = ud;
    size_t want = size * nitems, got = 0;
    if (call->freed)
        return CURL_READFUNC_ABORT;
    if (call->q.bytes == 0) {
        if (call->finished)
            return 0;
        /* the caller is not writing: not the server's time */
        if (!call->head_done)
            timer_stop(call);
        call->send_paused = true;
        call->curl_mask |= CURLPAUSE_SEND;
        return CURL_READFUNC_PAUSE;
    }
    while (got < want && call->q.head) {
        kh_chunk *k = call->q.head;
        size_t n = k->len - k->off;
        if (n > want - got)
            n = want - got;
        memcpy(buf + got, k->data + k->off, n);
        got += n;
        if (k->off + n == k->len) {
            kh_queue_pop(&call->q); /* subtracts what was left of it */
        } else {
            k->off += n;
            call->q.bytes -= n;
        }
    }
    if (!call->head_done)
        timer_arm(call, T_FIRST_BYTE);
    if (call->blocked && call->q.bytes < KH_LOW_WATER) {
        call->blocked = false;
        call->want_writable = true;
        kick(call);
    }
    return got;
}

static int
on_trailers(struct curl_slist **list, void *ud)
{
    kumo_http_call *call = ud;
    for (struct curl_slist *s = call->trailers_out; s; s = s->next) {
        struct curl_slist *n = curl_slist_append(*list, s->data);
        if (!n)
            return CURL_TRAILERFUNC_ABORT;
        *list = n;
    }
    return CURL_TRAILERFUNC_OK;
}

/* Connected; the request is about to be sent. */
static int
on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port,
          int local_port)
{
    kumo_http_call *call = ud;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    if (call->freed)
        return CURL_PREREQFUNC_ABORT;
    if (!call->head_done)
        timer_arm(call, T_FIRST_BYTE);
    return CURL_PREREQFUNC_OK;
}

/* ---- the multi handle and libuv */

static void
check_done(pool *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        kumo_http_call *call = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
        if (call && !call->done)
            complete(call, map_curl(call, res));
    }
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    sock_watch *p = h->data;
    pool *m = p->m;
    kumo_http_client *c = m->c;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else
        flags = (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    enter(c);
    curl_multi_socket_action(m->m, p->fd, flags, &running);
    check_done(m);
    leave(c);
}

static void
on_curl_timeout(uv_timer_t *t)
{
    pool *m = t->data;
    kumo_http_client *c = m->c;
    int running;
    enter(c);
    curl_multi_socket_action(m->m, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
    leave(c);
}

static void
poll_closed(uv_handle_t *h)
{
    kb_free(h->data);
}

static void
poll_close(kumo_http_client *c, sock_watch *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        c->polls = p->next;
    if (p->next)
        p->next->prev = p->prev;
    uv_close((uv_handle_t *)&p->h, poll_closed);
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    pool *m = userp;
    kumo_http_client *c = m->c;
    sock_watch *p = socketp;
    int events = 0;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (p) {
            curl_multi_assign(m->m, s, NULL);
            poll_close(c, p);
        }
        return 0;
    }
    if (!p) {
        p = kb_calloc(1, sizeof *p);
        if (!p)
            return -1;
        if (uv_poll_init_socket(c->loop, &p->h, s) != 0) {
            kb_free(p);
            return -1;
        }
        p->h.data = p;
        p->fd = s;
        p->m = m;
        p->next = c->polls;
        if (c->polls)
            c->polls->prev = p;
        c->polls = p;
        curl_multi_assign(m->m, s, p);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&p->h, events, on_poll);
    return 0;
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    pool *m = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(m->timer);
    else
        uv_timer_start(m->timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Bring libcurl's pause state in line with ours. */
static void
sync_pause(kumo_http_call *call)
{
    int mask = call->curl_mask;
    if (call->send_paused && (call->q.bytes > 0 || call->finished)) {
        call->send_paused = false;
        mask &= ~CURLPAUSE_SEND;
    }
    if (call->recv_paused)
        mask |= CURLPAUSE_RECV;
    else
        mask &= ~CURLPAUSE_RECV;
    if (mask != call->curl_mask) {
        call->curl_mask = mask;
        /* may deliver held body bytes (on_write) from in here */
        curl_easy_pause(call->easy, mask);
    }
}

/* Deferred work of one call. */
static void
run_kick(kumo_http_call *call)
{
    if (call->freed || call->done)
        return;
    if (call->pending_add) {
        call->pending_add = false;
        if (curl_multi_add_handle(call->m->m, call->easy) != CURLM_OK) {
            complete(call, KUMO_HTTP_CALL_INTERNAL_ERROR);
            return;
        }
        call->attached = true;
    }
    if (call->pending_fail) {
        complete(call, call->err);
        return;
    }
    sync_pause(call);
    if (call->want_writable && !call->freed && !call->done) {
        call->want_writable = false;
        if (call->h.on_writable)
            call->h.on_writable(call->h.ud, call);
    }
}

static void
on_idle(uv_idle_t *h)
{
    kumo_http_client *c = h->data;
    kumo_http_call *list = c->kick;
    c->kick = NULL;
    enter(c);
    while (list) {
        kumo_http_call *call = list;
        list = call->kick_next;
        call->in_kick = false;
        run_kick(call);
    }
    for (int i = 0; i < M_COUNT; i++)
        check_done(&c->multi[i]); /* unpausing may finish a transfer */
    leave(c);
    if (!c->kick) {
        c->idle_on = false;
        uv_idle_stop(h);
    }
}

/* ---- the client */

static void
handles_closed(uv_handle_t *h)
{
    handles *hs = h->data;
    if (--hs->open == 0)
        kb_free(hs);
}

int
kumo_http_client_new(uv_loop_t *loop, kumo_http_client **out)
{
    static bool curl_ready;
    kumo_http_client *c = NULL;
    struct sigaction sa;
    *out = NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return KUMO_EIO;
        curl_ready = true;
    }
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    c = kb_calloc(1, sizeof *c);
    if (!c)
        return KUMO_ENOMEM;
    c->loop = loop;
    c->hs = kb_calloc(1, sizeof *c->hs);
    if (!c->hs)
        goto fail;
    for (int i = 0; i < M_COUNT; i++) {
        pool *m = &c->multi[i];
        m->c = c;
        m->m = curl_multi_init();
        if (!m->m)
            goto fail;
        m->timer = &c->hs->timer[i];
        curl_multi_setopt(m->m, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(m->m, CURLMOPT_SOCKETDATA, m);
        curl_multi_setopt(m->m, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(m->m, CURLMOPT_TIMERDATA, m);
        /* libcurl 7.88 fails concurrent streams on an h2c prior-knowledge
         * connection ("Error in the HTTP2 framing layer"): there, one
         * exchange per connection at a time, connections reused serially */
        curl_multi_setopt(m->m, CURLMOPT_PIPELINING,
                          i == M_H2C ? CURLPIPE_NOTHING : CURLPIPE_MULTIPLEX);
    }
    for (int i = 0; i < M_COUNT; i++) {
        uv_timer_init(loop, &c->hs->timer[i]);
        c->hs->timer[i].data = &c->multi[i];
    }
    uv_idle_init(loop, &c->hs->idle);
    c->hs->idle.data = c;
    *out = c;
    return 0;
fail:
    for (int i = 0; i < M_COUNT; i++)
        if (c->multi[i].m)
            curl_multi_cleanup(c->multi[i].m);
    kb_free(c->hs);
    kb_free(c);
    return KUMO_ENOMEM;
}

void
kumo_http_client_free(kumo_http_client *c)
{
    if (!c)
        return;
    while (c->calls) {
        kumo_http_call *call = c->calls;
        call->freed = true;
        unlink_call(call);
        destroy_call(call);
    }
    while (c->doomed) {
        kumo_http_call *call = c->doomed;
        c->doomed = call->next;
        destroy_call(call);
    }
    for (int i = 0; i < M_COUNT; i++)
        curl_multi_cleanup(c->multi[i].m);
    while (c->polls)
        poll_close(c, c->polls);
    c->hs->open = M_COUNT + 1;
    for (int i = 0; i < M_COUNT; i++) {
        c->hs->timer[i].data = c->hs;
        uv_close((uv_handle_t *)&c->hs->timer[i], handles_closed);
    }
    c->hs->idle.data = c->hs;
    uv_close((uv_handle_t *)&c->hs->idle, handles_closed);
    kb_free(c);
}

/* ---- starting a call */

static bool
is_tchar(uint8_t ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool
token_ok(const uint8_t *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(s[i]))
            return false;
    return true;
}

/* host[:port] or [v6][:port] of printable ASCII without the characters
 * that would make libcurl read user info, a path or a fragment. */
static bool
authority_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > 300 || a[0] == ':')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("@/?#\\%\"<>^`{|}", ch))
            return false;
    }
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        return close && close > a + 1 && (!close[1] || close[1] == ':');
    }
    return strchr(a, '[') == NULL && strchr(a, ']') == NULL;
}

static bool
path_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f || ch == '#')
            return false;
    }
    return true;
}

static bool
value_ok(const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == 0 || v[i] == '\r' || v[i] == '\n')
            return false;
    return true;
}

static bool
name_is(const kumo_http_field *f, const char *name)
{
    return f->name_len == strlen(name) &&
           strncasecmp((const char *)f->name, name, f->name_len) == 0;
}

/* Append "name: value" ("name;" for an empty value, libcurl's way of
 * sending one) to *list. */
static int
slist_field(struct curl_slist **list, const kumo_http_field *f)
{
    struct curl_slist *n;
    char *line = kb_malloc(f->name_len + f->value_len + 3);
    if (!line)
        return KUMO_ENOMEM;
    memcpy(line, f->name, f->name_len);
    if (f->value_len == 0) {
        memcpy(line + f->name_len, ";", 2);
    } else {
        memcpy(line + f->name_len, ": ", 2);
        memcpy(line + f->name_len + 2, f->value, f->value_len);
        line[f->name_len + 2 + f->value_len] = 0;
    }
    n = curl_slist_append(*list, line);
    kb_free(line);
    if (!n)
        return KUMO_ENOMEM;
    *list = n;
    return 0;
}

static int
parse_length(const kumo_http_field *f, int64_t *out)
{
    uint64_t v = 0;
    if (f->value_len == 0 || f->value_len > 18)
        return KUMO_EINVAL;
    for (size_t i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return KUMO_EINVAL;
        v = v * 10 + (uint64_t)(f->value[i] - '0');
    }
    *out = (int64_t)v;
    return 0;
}

/* The request fields as a libcurl header list. */
static int
build_headers(kumo_http_call *call, const kumo_http_call_opts *o)
{
    static const char *const dropped[] = {"connection", "keep-alive",
                                          "proxy-connection",
                                          "transfer-encoding", "upgrade"};
    bool accept = false, expect = false;
    for (size_t i = 0; i < o->nfields; i++) {
        const kumo_http_field *f = &o->fields[i];
        bool drop = false;
        if (!token_ok(f->name, f->name_len) ||
            !value_ok(f->value, f->value_len))
            return KUMO_EINVAL;
        for (size_t d = 0; d < sizeof dropped / sizeof dropped[0]; d++)
            drop |= name_is(f, dropped[d]);
        if (name_is(f, "content-length") && o->has_body) {
            if (parse_length(f, &call->body_len))
                return KUMO_EINVAL;
            drop = true; /* libcurl sends it from CURLOPT_INFILESIZE */
        }
        accept |= name_is(f, "accept");
        expect |= name_is(f, "expect");
        if (!drop && slist_field(&call->hdrs, f))
            return KUMO_ENOMEM;
    }
    /* libcurl's own "Accept: *" and "Expect: 100-continue" are not ours */
    if (!accept) {
        struct curl_slist *n = curl_slist_append(call->hdrs, "Accept:");
        if (!n)
            return KUMO_ENOMEM;
        call->hdrs = n;
    }
    if (!expect) {
        struct curl_slist *n = curl_slist_append(call->hdrs, "Expect:");
        if (!n)
            return KUMO_ENOMEM;
        call->hdrs = n;
    }
    return 0;
}

static long
http_version(const kumo_http_call_opts *o, bool https)
{
    if (https)
        return o->http1_only ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS;
    return o->h2c_prior_knowledge ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                  : CURL_HTTP_VERSION_1_1;
}

static uint64_t
ns_to_ms(uint64_t ns, uint64_t dflt)
{
    if (ns == 0)
        return dflt;
    return ns / 1000000 ? ns / 1000000 : 1;
}

/* Set the options of call->easy. Returns 0 or KUMO_ENOMEM. */
static int
setup_easy(kumo_http_call *call, const kumo_http_call_opts *o,
           const char *method, const char *url, bool https)
{
    CURL *e = call->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val) rc |= curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, url);
    if (getenv("KUMO_HTTP_CLIENT_VERBOSE")) /* libcurl's trace on stderr */
        SET(CURLOPT_VERBOSE, 1L);
    SET(CURLOPT_PRIVATE, (char *)call);
    SET(CURLOPT_ERRORBUFFER, call->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PROXY, ""); /* never the environment's proxy */
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PIPEWAIT, https ? 1L : 0L); /* wait to multiplex on h2 */
    /* libcurl 7.88's HTTP/2 receive path can deliver a stream's last bytes
     * out of order when a read of the connection buffer (32 KiB) overflows
     * the transfer buffer; one larger than that read avoids it */
    SET(CURLOPT_BUFFERSIZE, 65536L);
    if (call->m == &call->c->multi[M_H2C]) {
        /* libcurl 7.88 also fails the second exchange on a reused h2c
         * prior-knowledge connection: one connection per call there */
        SET(CURLOPT_FRESH_CONNECT, 1L);
        SET(CURLOPT_FORBID_REUSE, 1L);
    }
    SET(CURLOPT_HTTP_VERSION, http_version(o, https));
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        (long)ns_to_ms(o->connect_timeout_ns, CONNECT_TIMEOUT_MS));
    if (o->ca_file)
        SET(CURLOPT_CAINFO, o->ca_file);
    SET(CURLOPT_HTTPHEADER, call->hdrs);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, call);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, call);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, call);
    if (strcmp(method, "HEAD") == 0)
        SET(CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") == 0 && !call->has_body)
        SET(CURLOPT_HTTPGET, 1L);
    else
        SET(CURLOPT_CUSTOMREQUEST, method);
    if (call->has_body) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, call);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)call->body_len);
        if (call->body_len < 0) {
            SET(CURLOPT_TRAILERFUNCTION, on_trailers);
            SET(CURLOPT_TRAILERDATA, call);
        }
    }
#undef SET
    return rc == CURLE_OK ? 0 : KUMO_ENOMEM;
}

static int
check_opts(const kumo_http_call_opts *o, const char **method, const char **path,
           bool *https)
{
    *method = o->method ? o->method : "GET";
    *path = o->path && o->path[0] ? o->path : "/";
    if (!token_ok((const uint8_t *)*method, strlen(*method)))
        return KUMO_EINVAL;
    if (!o->scheme || strcasecmp(o->scheme, "http") == 0)
        *https = false;
    else if (strcasecmp(o->scheme, "https") == 0)
        *https = true;
    else
        return KUMO_EINVAL;
    if (!o->authority || !authority_ok(o->authority) || !path_ok(*path))
        return KUMO_EINVAL;
    if (o->has_body && strcmp(*method, "HEAD") == 0)
        return KUMO_EINVAL;
    return 0;
}

static void
timer_closed(uv_handle_t *h)
{
    kb_free(h);
}

int
kumo_http_call_start(kumo_http_client *c, const kumo_http_call_opts *opts,
                     const kumo_http_call_handler *handler,
                     kumo_http_call **out)
{
    const char *method, *path;
    bool https;
    char *url = NULL;
    kumo_http_call *call = NULL;
    int rc = check_opts(opts, &method, &path, &https);
    *out = NULL;
    if (rc)
        return rc;
    if (!handler || !handler->on_done)
        return KUMO_EINVAL;
    rc = KUMO_ENOMEM;
    call = kb_calloc(1, sizeof *call);
    if (!call)
        goto fail;
    call->c = c;
    call->m = &c->multi[https ? (opts->http1_only ? M_H1_TLS : M_MAIN)
                              : (opts->h2c_prior_knowledge ? M_H2C : M_MAIN)];
    call->h = *handler;
    call->has_body = opts->has_body;
    call->body_len = -1;
    call->first_byte_ms =
        ns_to_ms(opts->first_byte_timeout_ns, FIRST_BYTE_TIMEOUT_MS);
    call->between_bytes_ms =
        ns_to_ms(opts->between_bytes_timeout_ns, BETWEEN_BYTES_TIMEOUT_MS);
    call->max_head = opts->max_response_header_bytes
                         ? opts->max_response_header_bytes
                         : MAX_HEAD_BYTES;
    if (call->max_head > CURL_HEAD_LIMIT)
        call->max_head = CURL_HEAD_LIMIT;
    url = kb_malloc(strlen(opts->authority) + strlen(path) + 16);
    call->timer = kb_calloc(1, sizeof *call->timer); /* data NULL: not init */
    call->easy = curl_easy_init();
    if (!url || !call->timer || !call->easy)
        goto fail;
    uv_timer_init(c->loop, call->timer);
    call->timer->data = call;
    sprintf(url, "%s://%s%s", https ? "https" : "http", opts->authority, path);
    rc = build_headers(call, opts);
    if (rc == 0)
        rc = setup_easy(call, opts, method, url, https);
    if (rc)
        goto fail;
    kb_free(url); /* libcurl copied it */
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    call->pending_add = true;
    kick(call);
    *out = call;
    return 0;
fail:
    kb_free(url);
    if (call) {
        if (call->easy)
            curl_easy_cleanup(call->easy);
        curl_slist_free_all(call->hdrs);
        if (call->timer && call->timer->data)
            uv_close((uv_handle_t *)call->timer, timer_closed);
        else
            kb_free(call->timer);
        kb_free(call);
    }
    return rc;
}

/* ---- the running call */

int
kumo_http_call_write(kumo_http_call *call, const uint8_t *data, size_t len)
{
    if (!call->has_body || call->finished)
        return KUMO_EINVAL;
    if (call->done)
        return KUMO_EIO;
    if (call->body_len >= 0 && call->written + len > (uint64_t)call->body_len)
        return KUMO_EINVAL;
    if (kh_queue_push(&call->q, data, len))
        return KUMO_ENOMEM;
    call->written += len;
    if (call->send_paused && len > 0)
        kick(call);
    if (call->q.bytes >= KH_HIGH_WATER) {
        call->blocked = true;
        return KUMO_HTTP_BLOCKED;
    }
    return 0;
}

int
kumo_http_call_finish(kumo_http_call *call, const kumo_http_field *trailers,
                      size_t n)
{
    if (!call->has_body || call->finished)
        return KUMO_EINVAL;
    if (call->done)
        return KUMO_EIO;
    call->finished = true;
    if (call->body_len >= 0 && call->written != (uint64_t)call->body_len) {
        call->err = KUMO_HTTP_CALL_HTTP_REQUEST_BODY_SIZE;
        snprintf(call->errbuf, sizeof call->errbuf,
                 "request body of %llu bytes, content-length %lld",
                 (unsigned long long)call->written, (long long)call->body_len);
        call->pending_fail = true;
        kick(call);
        return KUMO_EINVAL;
    }
    for (size_t i = 0; i < n && call->body_len < 0; i++) {
        if (!token_ok(trailers[i].name, trailers[i].name_len) ||
            !value_ok(trailers[i].value, trailers[i].value_len))
            return KUMO_EINVAL;
        if (slist_field(&call->trailers_out, &trailers[i]))
            return KUMO_ENOMEM;
    }
    if (call->send_paused)
        kick(call);
    return 0;
}

void
kumo_http_call_pause(kumo_http_call *call, bool paused)
{
    if (call->recv_paused == paused)
        return;
    call->recv_paused = paused;
    if (call->done)
        return;
    if (call->head_done) {
        /* the between-bytes clock does not run while we hold back */
        if (paused)
            timer_stop(call);
        else
            timer_arm(call, T_BETWEEN_BYTES);
    }
    kick(call);
}

kumo_http_version
kumo_http_call_version(const kumo_http_call *call)
{
    return call->head_done ? call->version : 0;
}

const char *
kumo_http_call_error_message(const kumo_http_call *call)
{
    return call->errbuf;
}

void
kumo_http_call_set_data(kumo_http_call *call, void *data)
{
    call->data = data;
}

void *
kumo_http_call_data(const kumo_http_call *call)
{
    return call->data;
}

/* Unlink call from the live list. */
static void
unlink_call(kumo_http_call *call)
{
    kumo_http_client *c = call->c;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

/* Release everything (call is already unlinked). Outside curl only. */
static void
destroy_call(kumo_http_call *call)
{
    unkick(call);
    detach(call);
    curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->hdrs);
    curl_slist_free_all(call->trailers_out);
    kh_queue_clear(&call->q);
    kh_buf_free(&call->fbuf);
    kb_free(call->fo);
    uv_close((uv_handle_t *)call->timer, timer_closed);
    kb_free(call);
}

void
kumo_http_call_free(kumo_http_call *call)
{
    kumo_http_client *c;
    if (!call)
        return;
    c = call->c;
    call->freed = true;
    unlink_call(call);
    if (c->depth > 0) {
        timer_stop(call);
        unkick(call);
        call->next = c->doomed;
        c->doomed = call;
        return;
    }
    destroy_call(call);
}
