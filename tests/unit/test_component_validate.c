/* test_component_validate.c - component validation: hand-built invalid
 * components for a set of rules, and the real components of
 * $KUMO_SHARED/components (default ../shared) must validate. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kumo/component.h"
#include "unit.h"

/* Build preamble + one section (id, body) and validate it. Returns the
 * validation code (decoding must succeed); msg gets the message. */
static int
validate_section(uint8_t id, const uint8_t *body, size_t n, char *msg,
                 size_t msglen)
{
    uint8_t buf[1024];
    static const uint8_t pre[8] = {0x00, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0};
    kumo_component *c = NULL;
    kumo_diag d;
    size_t len = 0;
    int rc;

    if (n > 127 || n + 10 > sizeof buf)
        return -100;
    memcpy(buf, pre, 8);
    len = 8;
    buf[len++] = id;
    buf[len++] = (uint8_t)n;
    memcpy(buf + len, body, n);
    len += n;
    memset(&d, 0, sizeof d);
    msg[0] = '\0';
    rc = kumo_component_new(buf, len, &c, &d);
    if (rc < 0) {
        snprintf(msg, msglen, "decode: %s", d.message);
        return -101;
    }
    rc = kumo_component_validate(c, &d);
    snprintf(msg, msglen, "%s", rc < 0 ? d.message : "");
    kumo_component_free(c);
    return rc;
}

/* The section must decode and fail validation with a message containing
 * want. */
static bool
rejects(uint8_t id, const uint8_t *body, size_t n, const char *want)
{
    char msg[256];
    int rc = validate_section(id, body, n, msg, sizeof msg);
    if (rc == KUMO_EINVALID && strstr(msg, want))
        return true;
    fprintf(stderr, "    expected \"%s\", got rc %d \"%s\"\n", want, rc, msg);
    return false;
}

#define TYPES(...)                                                             \
    (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

KT_TEST(cvalidate_defined_types)
{
    /* record with no fields */
    KT_CHECK(rejects(7, TYPES(1, 0x72, 0), "at least one field"));
    /* record field not in kebab case */
    KT_CHECK(rejects(7, TYPES(1, 0x72, 1, 3, 'a', 'B', 'c', 0x79),
                     "`aBc` is not in kebab case"));
    /* record fields equal ignoring case */
    KT_CHECK(rejects(7, TYPES(1, 0x72, 2, 1, 'a', 0x79, 1, 'A', 0x79),
                     "conflicts with previous field name"));
    KT_CHECK(rejects(7, TYPES(1, 0x71, 0), "at least one case"));
    KT_CHECK(rejects(7, TYPES(1, 0x6d, 0), "at least one variant"));
    KT_CHECK(rejects(7, TYPES(1, 0x6f, 0), "at least one type"));
    /* list of an unknown type */
    KT_CHECK(rejects(7, TYPES(1, 0x70, 5), "type index out of bounds"));
    /* own of a non-resource type */
    KT_CHECK(rejects(7, TYPES(2, 0x79, 0x69, 0), "not a resource type"));
    /* a func returning a borrow */
    KT_CHECK(rejects(7,
                     TYPES(3, 0x3f, 0x7f, 0x00, 0x68, 0x00, 0x40, 0x00, 0x00,
                           0x01),
                     "cannot contain a `borrow`"));
    /* function parameter names */
    KT_CHECK(rejects(7, TYPES(1, 0x40, 1, 0, 0x79, 0x01, 0x00),
                     "cannot be empty"));
}

/* validate_section's result for one type section body. */
static int
types_rc(const uint8_t *body, size_t n)
{
    char msg[256];
    return validate_section(7, body, n, msg, sizeof msg);
}

KT_TEST(cvalidate_max_value_size)
{
    /* elem_size(t, i64) < 2^28: (list u8 2^28-1) is fine, 2^28 is not */
    KT_CHECK(types_rc(TYPES(1, 0x67, 0x7d, 0xff, 0xff, 0xff, 0x7f)) == 0);
    KT_CHECK(rejects(7, TYPES(1, 0x67, 0x7d, 0x80, 0x80, 0x80, 0x80, 0x01),
                     "exceeds maximum byte size"));
    /* (list u64 2^29): 2^32 bytes, wraps to 0 in 32 bits */
    KT_CHECK(rejects(7, TYPES(1, 0x67, 0x77, 0x80, 0x80, 0x80, 0x80, 0x02),
                     "exceeds maximum byte size"));
    /* (list string 2^24): 16-byte strings with 64-bit pointers */
    KT_CHECK(rejects(7, TYPES(1, 0x67, 0x73, 0x80, 0x80, 0x80, 0x08),
                     "exceeds maximum byte size"));
    /* (tuple (list u8 2^28-1) (list u8 1)) = type 0, 1, then the tuple */
    KT_CHECK(rejects(7,
                     TYPES(3, 0x67, 0x7d, 0xff, 0xff, 0xff, 0x7f, 0x67, 0x7d,
                           0x01, 0x6f, 2, 0, 1),
                     "exceeds maximum byte size"));
    /* stream<char> is rejected, stream<u8> is not */
    KT_CHECK(rejects(7, TYPES(1, 0x66, 0x01, 0x74), "not valid at this time"));
    KT_CHECK(types_rc(TYPES(1, 0x66, 0x01, 0x7d)) == 0);
}

KT_TEST(cvalidate_flags_limit)
{
    uint8_t body[3 + 33 * 2];
    size_t n = 0;
    body[n++] = 1;
    body[n++] = 0x6e;
    body[n++] = 33;
    for (int i = 0; i < 33; i++) {
        body[n++] = 1;
        body[n++] = (uint8_t)('a' + i % 26);
    }
    /* 33 flags (duplicates too, but the limit is checked first) */
    KT_CHECK(rejects(7, body, n, "more than 32 flags"));
}

KT_TEST(cvalidate_resources)
{
    /* resource inside an instance type */
    KT_CHECK(rejects(7, TYPES(1, 0x42, 1, 0x01, 0x3f, 0x7f, 0x00),
                     "only be defined within a concrete component"));
}

/* Build type section + another section. */
static int
validate_two(const uint8_t *types, size_t nt, uint8_t id, const uint8_t *body,
             size_t nb, char *msg, size_t msglen)
{
    uint8_t buf[512];
    if (nt > 127 || nb > 127)
        return -100;
    static const uint8_t pre[8] = {0x00, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0};
    size_t len = 0;
    memcpy(buf, pre, 8);
    len = 8;
    buf[len++] = 7;
    buf[len++] = (uint8_t)nt;
    memcpy(buf + len, types, nt);
    len += nt;
    buf[len++] = id;
    buf[len++] = (uint8_t)nb;
    memcpy(buf + len, body, nb);
    len += nb;
    kumo_component *c = NULL;
    kumo_diag d;
    memset(&d, 0, sizeof d);
    msg[0] = '\0';
    int rc = kumo_component_new(buf, len, &c, &d);
    if (rc < 0) {
        snprintf(msg, msglen, "decode: %s", d.message);
        return -101;
    }
    rc = kumo_component_validate(c, &d);
    snprintf(msg, msglen, "%s", rc < 0 ? d.message : "");
    kumo_component_free(c);
    return rc;
}

static bool
rejects_two(const uint8_t *types, size_t nt, uint8_t id, const uint8_t *body,
            size_t nb, const char *want)
{
    char msg[256];
    int rc = validate_two(types, nt, id, body, nb, msg, sizeof msg);
    if (want == NULL && rc == 0)
        return true;
    if (want && rc == KUMO_EINVALID && strstr(msg, want))
        return true;
    fprintf(stderr, "    expected \"%s\", got rc %d \"%s\"\n",
            want ? want : "valid", rc, msg);
    return false;
}

/* type 0: (func) */
#define FUNC_T 1, 0x40, 0x00, 0x01, 0x00

KT_TEST(cvalidate_import_names)
{
    static const uint8_t ft[] = {FUNC_T};
    /* valid: "a" and "[constructor]"-free plain names, an interface name */
    KT_CHECK(rejects_two(ft, sizeof ft, 10,
                         TYPES(2, 0x00, 1, 'a', 0x01, 0, 0x00, 5, 'a', ':',
                               'b', '/', 'c', 0x01, 0),
                         NULL));
    KT_CHECK(rejects_two(ft, sizeof ft, 10,
                         TYPES(1, 0x00, 3, 'a', 'B', 'c', 0x01, 0),
                         "`aBc` is not in kebab case"));
    KT_CHECK(rejects_two(ft, sizeof ft, 10,
                         TYPES(2, 0x00, 1, 'a', 0x01, 0, 0x00, 1, 'A', 0x01,
                               0),
                         "conflicts with previous name"));
    KT_CHECK(rejects_two(ft, sizeof ft, 10,
                         TYPES(1, 0x00, 8, 'a', ':', 'b', '/', 'c', '@', '1',
                               '.', 0x01, 0),
                         "unexpected end of input"));
    KT_CHECK(rejects_two(ft, sizeof ft, 10,
                         TYPES(1, 0x00, 9, '[', 'm', 'e', 't', 'h', 'o', 'd',
                               ']', 'a', 0x01, 0),
                         "failed to find `.` character"));
    /* importing a func with a non-function type */
    static const uint8_t u32t[] = {1, 0x79};
    KT_CHECK(rejects_two(u32t, sizeof u32t, 10,
                         TYPES(1, 0x00, 1, 'a', 0x01, 0),
                         "is not a function type"));
}

KT_TEST(cvalidate_aliases_and_canon)
{
    static const uint8_t ft[] = {FUNC_T};
    /* alias of an export of a missing instance */
    KT_CHECK(rejects_two(ft, sizeof ft, 6, TYPES(1, 0x01, 0x00, 0, 1, 'f'),
                         "instance index out of bounds"));
    /* outer alias past the outermost component */
    KT_CHECK(rejects_two(ft, sizeof ft, 6, TYPES(1, 0x03, 0x02, 5, 0),
                         "invalid outer alias count"));
    /* resource.new of a non-resource type */
    static const uint8_t u32t[] = {1, 0x79};
    KT_CHECK(rejects_two(u32t, sizeof u32t, 8, TYPES(1, 0x02, 0),
                         "not a resource type"));
    /* canon lower of a missing function */
    KT_CHECK(rejects_two(ft, sizeof ft, 8, TYPES(1, 0x01, 0x00, 3, 0),
                         "function index out of bounds"));
}

KT_TEST(cvalidate_real_components)
{
    const char *shared = getenv("KUMO_SHARED");
    char dir[512];
    DIR *dp;
    struct dirent *e;
    int checked = 0;

    snprintf(dir, sizeof dir, "%s/components", shared ? shared : "../shared");
    dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "    (skipped: no %s)\n", dir);
        return;
    }
    while ((e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[1024];
        if (n < 5 || strcmp(e->d_name + n - 5, ".wasm") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        KT_REQUIRE(f != NULL);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        KT_REQUIRE(buf != NULL);
        size_t got = fread(buf, 1, (size_t)len, f);
        fclose(f);
        kumo_component *c = NULL;
        kumo_diag d;
        memset(&d, 0, sizeof d);
        int rc = kumo_component_new(buf, got, &c, &d);
        if (rc == 0) {
            rc = kumo_component_validate(c, &d);
            kumo_component_free(c);
        }
        if (rc != 0)
            fprintf(stderr, "    %s: %s (at 0x%zx)\n", e->d_name, d.message,
                    d.offset);
        KT_CHECK(rc == 0);
        free(buf);
        checked++;
    }
    closedir(dp);
    KT_CHECK(checked > 0);
}
