/* errno.c - the one mapping from host errno to WASI errno and from WASI
 * errno to wasi:filesystem error-code, both generated from KX_ERRNOS. */
#include <errno.h>

#include "wasi.h"

static const char *const errno_names[] = {
#define KX_NAME(name, value, host, fs) [value] = #name,
    KX_ERRNOS(KX_NAME)
#undef KX_NAME
};

static const unsigned char errno_fs[] = {
#define KX_FS(name, value, host, fs) [value] = KX_FS_##fs,
    KX_ERRNOS(KX_FS)
#undef KX_FS
};

static const char *const fs_names[] = {
#define KX_FSNAME(name, str) str,
    KX_FS_ERRORS(KX_FSNAME)
#undef KX_FSNAME
};

/* Host errno of each WASI errno (0 where none maps). */
static const short errno_host[] = {
#define KX_HOST(name, value, host, fs) [value] = host,
    KX_ERRNOS(KX_HOST)
#undef KX_HOST
};

int
kx_errno_from_host(int host_errno)
{
    /* Errors are the rare path: a linear search keeps this the one
     * table (ENOTSUP equals EOPNOTSUPP and EWOULDBLOCK EAGAIN on Linux,
     * so they are found too). */
    for (int i = 1; i < KX_NERRNO; i++)
        if (errno_host[i] == host_errno && host_errno != 0)
            return -i;
    return -KX_EIO;
}

int
kx_errno_to_fs(int wasi_errno)
{
    if (wasi_errno < 0 || wasi_errno >= KX_NERRNO)
        return KX_FS_IO;
    return errno_fs[wasi_errno];
}

const char *
kx_errno_name(int wasi_errno)
{
    if (wasi_errno < 0 || wasi_errno >= KX_NERRNO)
        return "?";
    return errno_names[wasi_errno];
}

const char *
kx_fs_error_name(int fs_error)
{
    if (fs_error < 0 || fs_error >= KX_FS_NERROR)
        return "?";
    return fs_names[fs_error];
}
