/* diag.c - error messages and diagnostics. */
#include <stdio.h>

#include "base.h"

const char *
kumo_strerror(int code)
{
    switch (code) {
#define KUMO_ERROR_CASE(name, value, msg)                                      \
    case value:                                                                \
        return msg;
        KUMO_ERRORS(KUMO_ERROR_CASE)
#undef KUMO_ERROR_CASE
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

int
kb_diag(kumo_diag *d, int code, size_t offset, const char *fmt, ...)
{
    if (!d)
        return code;
    d->code = code;
    d->offset = offset;
    d->func_index = UINT32_MAX;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    return code;
}
