/* kumo/base.h - error codes, the allocation hook, diagnostics. */
#ifndef KUMO_BASE_H
#define KUMO_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error codes. Functions that can fail return 0 or one of these negative
 * values. Traps are errors too: KUMO_ETRAP_* codes carry the spec's message.
 * X(NAME, value, message)
 */
#define KUMO_ERRORS(X)                                                         \
    X(ENOMEM, -1, "out of memory")                                             \
    X(EINVAL, -2, "invalid argument")                                          \
    X(EMALFORMED, -3, "malformed module")                                      \
    X(EINVALID, -4, "invalid module")                                          \
    X(EUNLINKABLE, -5, "unlinkable module")                                    \
    X(ENOTFOUND, -6, "not found")                                              \
    X(ELIMIT, -7, "resource limit exceeded")                                   \
    X(EIO, -8, "input/output error")                                           \
    X(EUNSUPPORTED, -9, "unsupported feature")                                 \
    X(ETRAP_UNREACHABLE, -20, "unreachable")                                   \
    X(ETRAP_DIV_ZERO, -21, "integer divide by zero")                           \
    X(ETRAP_INT_OVERFLOW, -22, "integer overflow")                             \
    X(ETRAP_BAD_CONVERSION, -23, "invalid conversion to integer")              \
    X(ETRAP_MEMORY_OOB, -24, "out of bounds memory access")                    \
    X(ETRAP_TABLE_OOB, -25, "out of bounds table access")                      \
    X(ETRAP_UNDEFINED_ELEMENT, -26, "undefined element")                       \
    X(ETRAP_UNINITIALIZED_ELEMENT, -27, "uninitialized element")               \
    X(ETRAP_INDIRECT_TYPE, -28, "indirect call type mismatch")                 \
    X(ETRAP_STACK_EXHAUSTED, -29, "call stack exhausted")                      \
    X(ETRAP_HOST, -30, "host trap")                                            \
    X(ETRAP_INTERRUPTED, -31, "interrupted")                                   \
    X(ETRAP_OUT_OF_FUEL, -32, "all fuel consumed")                           \
    X(ETRAP_EXCEPTION, -33, "uncaught exception")                              \
    X(ETRAP_NULL_EXNREF, -34, "null exception reference")

enum {
#define KUMO_ERROR_ENUM(name, value, msg) KUMO_##name = value,
    KUMO_ERRORS(KUMO_ERROR_ENUM)
#undef KUMO_ERROR_ENUM
};

/* True for the codes that are traps (KUMO_ETRAP_*). */
#define KUMO_IS_TRAP(code) ((code) <= -20 && (code) >= -39)

/* The message of an error code ("unknown error" for others). Static. */
const char *kumo_strerror(int code);

/*
 * Diagnostic filled by decode, validate, link and instantiate on failure.
 * message holds the spec's wording (e.g. "type mismatch"), possibly followed
 * by detail after a colon-free suffix such as " (at function 3)".
 */
typedef struct kumo_diag {
    int code;               /* KUMO_E... */
    size_t offset;          /* byte offset in the binary, or 0 */
    uint32_t func_index;    /* function index, or UINT32_MAX */
    char message[192];
} kumo_diag;

/*
 * The allocation hook. Every allocation of libkumo goes through it.
 * realloc semantics: (ptr NULL) allocate, (new_size 0) free and return NULL.
 * old_size is the size of the block being resized or freed (0 for new).
 * Returning NULL for a non-zero size is an allocation failure, which every
 * caller handles as KUMO_ENOMEM.
 */
typedef void *(*kumo_alloc_fn)(void *ud, void *ptr, size_t old_size,
                               size_t new_size);

/* Install a hook (NULL restores the default, libc). Not thread-safe: call
 * before creating any object. */
void kumo_set_allocator(kumo_alloc_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
