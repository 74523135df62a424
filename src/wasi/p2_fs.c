/* p2_fs.c - wasi:filesystem (types, preopens) on the shared WASI core:
 * the same sandboxed path resolution (kx_path_*, openat2 beneath the
 * preopen), the same kx_fs_* operations and the same errno ->
 * error-code table (KX_ERRNOS) as preview1. */
#include <string.h>

#include "../base/base.h"
#include "p2.h"

typedef kx_wasi_filesystem_types_descriptor descriptor;
typedef kx_wasi_filesystem_types_new_timestamp new_timestamp;
typedef kx_wasi_filesystem_types_path_flags path_flags;
typedef kx_result_void_wasi_filesystem_types_error_code res_void;
typedef kx_result_wasi_filesystem_types_descriptor_stat_wasi_filesystem_types_error_code
    res_stat;
typedef kx_result_wasi_filesystem_types_metadata_hash_value_wasi_filesystem_types_error_code
    res_hash;

#define T(name) KX_WASI_FILESYSTEM_TYPES_##name
#define FOLLOW(pf) (((pf) & T(PATH_FLAGS_SYMLINK_FOLLOW)) != 0)

/* Set ret (any result<_, error-code>) to the error of rc (-KX_E...);
 * evaluates to 0 for the typed function to return. */
#define FAIL(ret, rc)                                                          \
    ((ret)->is_err = true, (ret)->val.err = (uint32_t)kx_errno_to_fs(-(rc)), 0)

/* The descriptor behind a handle; NULL traps (via the caller). */
static kx_desc *
desc(kg_call *call, descriptor self)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_DESCRIPTOR);
    return o ? o->file->d : NULL;
}

#define GET(d, self)                                                           \
    kx_desc *d = desc(call, self);                                             \
    if (!d)                                                                    \
    return kx_p2_badhandle(call)

static int
void_result(int rc, res_void *ret)
{
    if (rc < 0)
        return FAIL(ret, rc);
    return 0;
}

static uint32_t
dtype(uint8_t ft)
{
    switch (ft) {
    case KX_FT_BLOCK:
        return T(DESCRIPTOR_TYPE_BLOCK_DEVICE);
    case KX_FT_CHAR:
        return T(DESCRIPTOR_TYPE_CHARACTER_DEVICE);
    case KX_FT_DIR:
        return T(DESCRIPTOR_TYPE_DIRECTORY);
    case KX_FT_FILE:
        return T(DESCRIPTOR_TYPE_REGULAR_FILE);
    case KX_FT_SOCK_DGRAM:
    case KX_FT_SOCK_STREAM:
        return T(DESCRIPTOR_TYPE_SOCKET);
    case KX_FT_SYMLINK:
        return T(DESCRIPTOR_TYPE_SYMBOLIC_LINK);
    default:
        return T(DESCRIPTOR_TYPE_UNKNOWN);
    }
}

static int
new_desc(kg_call *call, kx_p2file *f, descriptor *out)
{
    kx_p2obj *o = kx_p2_new(KX_CTX(call), KX_P2_DESCRIPTOR, &out->rep);
    if (!o)
        return kx_p2_oom(call);
    o->file = kx_p2file_ref(f);
    return 0;
}

void
kx_wasi_filesystem_types_descriptor_drop(void *env, descriptor self)
{
    kx_p2_free_obj(env, self.rep);
}

/* ---- streams */

int
kx_wasi_filesystem_types_method_descriptor_read_via_stream(
    kg_call *call, descriptor self, uint64_t offset,
    kx_result_wasi_io_streams_input_stream_wasi_filesystem_types_error_code
        *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_DESCRIPTOR);
    if (!o)
        return kx_p2_badhandle(call);
    if (!o->file->d->can_read)
        return FAIL(ret, -KX_EBADF);
    return kx_p2_instream_new(call, o->file, true, offset, &ret->val.ok);
}

static int
out_stream(kg_call *call, descriptor self, bool append, uint64_t offset,
           kx_result_wasi_io_streams_output_stream_wasi_filesystem_types_error_code
               *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_DESCRIPTOR);
    if (!o)
        return kx_p2_badhandle(call);
    if (!o->file->d->can_write)
        return FAIL(ret, -KX_EBADF);
    return kx_p2_outstream_new(call, o->file, true, append, offset,
                               &ret->val.ok);
}

int
kx_wasi_filesystem_types_method_descriptor_write_via_stream(
    kg_call *call, descriptor self, uint64_t offset,
    kx_result_wasi_io_streams_output_stream_wasi_filesystem_types_error_code
        *ret)
{
    return out_stream(call, self, false, offset, ret);
}

int
kx_wasi_filesystem_types_method_descriptor_append_via_stream(
    kg_call *call, descriptor self,
    kx_result_wasi_io_streams_output_stream_wasi_filesystem_types_error_code
        *ret)
{
    return out_stream(call, self, true, 0, ret);
}

/* ---- descriptor operations */

int
kx_wasi_filesystem_types_method_descriptor_advise(
    kg_call *call, descriptor self, uint64_t offset, uint64_t length,
    kx_wasi_filesystem_types_advice advice, res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_advise(d, offset, length, (int)advice), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_sync_data(kg_call *call,
                                                     descriptor self,
                                                     res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_sync(d, true), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_sync(kg_call *call,
                                                descriptor self,
                                                res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_sync(d, false), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_get_flags(
    kg_call *call, descriptor self,
    kx_result_wasi_filesystem_types_descriptor_flags_wasi_filesystem_types_error_code
        *ret)
{
    GET(d, self);
    uint32_t f = 0;
    if (d->can_read)
        f |= T(DESCRIPTOR_FLAGS_READ);
    if (d->can_write)
        f |= T(DESCRIPTOR_FLAGS_WRITE);
    if (d->filetype == KX_FT_DIR && !d->readonly)
        f |= T(DESCRIPTOR_FLAGS_MUTATE_DIRECTORY);
    if (d->fdflags & KX_FDF_SYNC)
        f |= T(DESCRIPTOR_FLAGS_FILE_INTEGRITY_SYNC);
    if (d->fdflags & KX_FDF_DSYNC)
        f |= T(DESCRIPTOR_FLAGS_DATA_INTEGRITY_SYNC);
    if (d->fdflags & KX_FDF_RSYNC)
        f |= T(DESCRIPTOR_FLAGS_REQUESTED_WRITE_SYNC);
    ret->val.ok = f;
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_get_type(
    kg_call *call, descriptor self,
    kx_result_wasi_filesystem_types_descriptor_type_wasi_filesystem_types_error_code
        *ret)
{
    GET(d, self);
    ret->val.ok = dtype(d->filetype);
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_set_size(kg_call *call,
                                                    descriptor self,
                                                    uint64_t size,
                                                    res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_set_size(d, size), ret);
}

/* new-timestamp pair -> (atim, mtim, preview1 fstflags) */
static uint32_t
times(new_timestamp a, new_timestamp m, uint64_t *atim, uint64_t *mtim)
{
    uint32_t fl = 0;
    *atim = *mtim = 0;
    if (a.tag == T(NEW_TIMESTAMP_NOW))
        fl |= KX_FST_ATIM_NOW;
    else if (a.tag == T(NEW_TIMESTAMP_TIMESTAMP)) {
        fl |= KX_FST_ATIM;
        *atim = a.val.timestamp.seconds * 1000000000u +
                a.val.timestamp.nanoseconds;
    }
    if (m.tag == T(NEW_TIMESTAMP_NOW))
        fl |= KX_FST_MTIM_NOW;
    else if (m.tag == T(NEW_TIMESTAMP_TIMESTAMP)) {
        fl |= KX_FST_MTIM;
        *mtim = m.val.timestamp.seconds * 1000000000u +
                m.val.timestamp.nanoseconds;
    }
    return fl;
}

int
kx_wasi_filesystem_types_method_descriptor_set_times(kg_call *call,
                                                     descriptor self,
                                                     new_timestamp atime,
                                                     new_timestamp mtime,
                                                     res_void *ret)
{
    GET(d, self);
    uint64_t a, m;
    uint32_t fl = times(atime, mtime, &a, &m);
    return void_result(kx_fs_set_times(d, a, m, fl), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_read(
    kg_call *call, descriptor self, uint64_t length, uint64_t offset,
    kx_result_tuple2_bytes_bool_wasi_filesystem_types_error_code *ret)
{
    GET(d, self);
    size_t cap = length > (1u << 20) ? (1u << 20) : (size_t)length, n = 0;
    uint8_t *buf = kg_call_alloc(call, cap);
    if (!buf)
        return kx_p2_oom(call);
    struct iovec iov = {buf, cap};
    int rc = kx_io_pread(d, &iov, 1, offset, &n);
    if (rc < 0)
        return FAIL(ret, rc);
    ret->val.ok.f0.ptr = buf;
    ret->val.ok.f0.len = n;
    ret->val.ok.f1 = n < cap || (cap == 0 && length > 0);
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_write(
    kg_call *call, descriptor self, kg_bytes buffer, uint64_t offset,
    kx_result_u64_wasi_filesystem_types_error_code *ret)
{
    GET(d, self);
    size_t n = 0;
    struct iovec iov = {(void *)buffer.ptr, buffer.len};
    int rc = kx_io_pwrite(d, &iov, 1, offset, &n);
    if (rc < 0)
        return FAIL(ret, rc);
    ret->val.ok = n;
    return 0;
}

static void
fill_stat(const kx_stat *st, kx_wasi_filesystem_types_descriptor_stat *o)
{
    o->type = dtype(st->filetype);
    o->link_count = st->nlink;
    o->size = st->size;
    kx_option_wasi_clocks_wall_clock_datetime *ts[3] = {
        &o->data_access_timestamp, &o->data_modification_timestamp,
        &o->status_change_timestamp};
    uint64_t ns[3] = {st->atim, st->mtim, st->ctim};
    for (int i = 0; i < 3; i++) {
        ts[i]->is_some = true;
        ts[i]->val.seconds = ns[i] / 1000000000u;
        ts[i]->val.nanoseconds = (uint32_t)(ns[i] % 1000000000u);
    }
}

int
kx_wasi_filesystem_types_method_descriptor_stat(kg_call *call,
                                                descriptor self,
                                                res_stat *ret)
{
    GET(d, self);
    kx_stat st;
    int rc = kx_fs_stat(d, &st);
    if (rc < 0)
        return FAIL(ret, rc);
    fill_stat(&st, &ret->val.ok);
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_stat_at(kg_call *call,
                                                   descriptor self,
                                                   path_flags pf,
                                                   kg_string path,
                                                   res_stat *ret)
{
    GET(d, self);
    kx_stat st;
    int rc = kx_fs_stat_at(d, path.ptr, path.len, FOLLOW(pf), &st);
    if (rc < 0)
        return FAIL(ret, rc);
    fill_stat(&st, &ret->val.ok);
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_set_times_at(
    kg_call *call, descriptor self, path_flags pf, kg_string path,
    new_timestamp atime, new_timestamp mtime, res_void *ret)
{
    GET(d, self);
    uint64_t a, m;
    uint32_t fl = times(atime, mtime, &a, &m);
    return void_result(kx_fs_set_times_at(d, path.ptr, path.len, FOLLOW(pf),
                                          a, m, fl),
                       ret);
}

int
kx_wasi_filesystem_types_method_descriptor_link_at(
    kg_call *call, descriptor self, path_flags pf, kg_string old_path,
    descriptor new_descriptor, kg_string new_path, res_void *ret)
{
    GET(d, self);
    GET(nd, new_descriptor);
    return void_result(kx_fs_link(d, FOLLOW(pf), old_path.ptr, old_path.len,
                                  nd, new_path.ptr, new_path.len),
                       ret);
}

int
kx_wasi_filesystem_types_method_descriptor_open_at(
    kg_call *call, descriptor self, path_flags pf, kg_string path,
    kx_wasi_filesystem_types_open_flags of,
    kx_wasi_filesystem_types_descriptor_flags flags,
    kx_result_wasi_filesystem_types_descriptor_wasi_filesystem_types_error_code
        *ret)
{
    GET(d, self);
    uint32_t oflags = 0;
    uint16_t fdflags = 0;
    kx_desc *nd;
    if (of & T(OPEN_FLAGS_CREATE))
        oflags |= KX_O_CREAT;
    if (of & T(OPEN_FLAGS_DIRECTORY))
        oflags |= KX_O_DIRECTORY;
    if (of & T(OPEN_FLAGS_EXCLUSIVE))
        oflags |= KX_O_EXCL;
    if (of & T(OPEN_FLAGS_TRUNCATE))
        oflags |= KX_O_TRUNC;
    if (flags & T(DESCRIPTOR_FLAGS_FILE_INTEGRITY_SYNC))
        fdflags |= KX_FDF_SYNC;
    if (flags & T(DESCRIPTOR_FLAGS_DATA_INTEGRITY_SYNC))
        fdflags |= KX_FDF_DSYNC;
    if (flags & T(DESCRIPTOR_FLAGS_REQUESTED_WRITE_SYNC))
        fdflags |= KX_FDF_RSYNC;
    int rc = kx_fs_open(d, path.ptr, path.len,
                        FOLLOW(pf) ? KX_LOOKUP_FOLLOW : 0, oflags, fdflags,
                        (flags & T(DESCRIPTOR_FLAGS_READ)) != 0,
                        (flags & T(DESCRIPTOR_FLAGS_WRITE)) != 0, &nd);
    if (rc < 0)
        return FAIL(ret, rc);
    if (!(flags & T(DESCRIPTOR_FLAGS_MUTATE_DIRECTORY)) &&
        nd->filetype == KX_FT_DIR)
        nd->readonly = true;
    kx_p2file *f = kx_p2file_new(nd, true);
    if (!f)
        return kx_p2_oom(call);
    rc = new_desc(call, f, &ret->val.ok);
    kx_p2file_unref(f);
    return rc;
}

int
kx_wasi_filesystem_types_method_descriptor_readlink_at(
    kg_call *call, descriptor self, kg_string path,
    kx_result_string_wasi_filesystem_types_error_code *ret)
{
    GET(d, self);
    size_t n = 0;
    char *buf = kg_call_alloc(call, 4096);
    if (!buf)
        return kx_p2_oom(call);
    int rc = kx_fs_readlink(d, path.ptr, path.len, buf, 4096, &n);
    if (rc < 0)
        return FAIL(ret, rc);
    ret->val.ok.ptr = buf;
    ret->val.ok.len = n;
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_create_directory_at(
    kg_call *call, descriptor self, kg_string path, res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_mkdir(d, path.ptr, path.len), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_remove_directory_at(
    kg_call *call, descriptor self, kg_string path, res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_rmdir(d, path.ptr, path.len), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_unlink_file_at(
    kg_call *call, descriptor self, kg_string path, res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_unlink(d, path.ptr, path.len), ret);
}

int
kx_wasi_filesystem_types_method_descriptor_rename_at(
    kg_call *call, descriptor self, kg_string old_path,
    descriptor new_descriptor, kg_string new_path, res_void *ret)
{
    GET(d, self);
    GET(nd, new_descriptor);
    return void_result(kx_fs_rename(d, old_path.ptr, old_path.len, nd,
                                    new_path.ptr, new_path.len),
                       ret);
}

int
kx_wasi_filesystem_types_method_descriptor_symlink_at(
    kg_call *call, descriptor self, kg_string old_path, kg_string new_path,
    res_void *ret)
{
    GET(d, self);
    return void_result(kx_fs_symlink(old_path.ptr, old_path.len, d,
                                     new_path.ptr, new_path.len),
                       ret);
}

int
kx_wasi_filesystem_types_method_descriptor_is_same_object(
    kg_call *call, descriptor self, descriptor other, bool *ret)
{
    GET(d, self);
    GET(od, other);
    kx_stat a, b;
    *ret = kx_fs_stat(d, &a) == 0 && kx_fs_stat(od, &b) == 0 &&
           a.dev == b.dev && a.ino == b.ino;
    return 0;
}

static void
hash(const kx_stat *st, kx_wasi_filesystem_types_metadata_hash_value *h)
{
    /* (dev, ino, mtime) mixed so equal files hash equal, changed ones not */
    uint64_t x = st->dev * 0x9e3779b97f4a7c15u ^ st->ino;
    h->lower = x ^ (x >> 29);
    h->upper = st->mtim ^ (st->size * 0xbf58476d1ce4e5b9u);
}

int
kx_wasi_filesystem_types_method_descriptor_metadata_hash(kg_call *call,
                                                         descriptor self,
                                                         res_hash *ret)
{
    GET(d, self);
    kx_stat st;
    int rc = kx_fs_stat(d, &st);
    if (rc < 0)
        return FAIL(ret, rc);
    hash(&st, &ret->val.ok);
    return 0;
}

int
kx_wasi_filesystem_types_method_descriptor_metadata_hash_at(
    kg_call *call, descriptor self, path_flags pf, kg_string path,
    res_hash *ret)
{
    GET(d, self);
    kx_stat st;
    int rc = kx_fs_stat_at(d, path.ptr, path.len, FOLLOW(pf), &st);
    if (rc < 0)
        return FAIL(ret, rc);
    hash(&st, &ret->val.ok);
    return 0;
}

/* ---- directories */

int
kx_wasi_filesystem_types_method_descriptor_read_directory(
    kg_call *call, descriptor self,
    kx_result_wasi_filesystem_types_directory_entry_stream_wasi_filesystem_types_error_code
        *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_DESCRIPTOR);
    if (!o)
        return kx_p2_badhandle(call);
    if (o->file->d->filetype != KX_FT_DIR)
        return FAIL(ret, -KX_ENOTDIR);
    kx_p2file *f = o->file;
    kx_p2obj *s = kx_p2_new(KX_CTX(call), KX_P2_DIRSTREAM, &ret->val.ok.rep);
    if (!s)
        return kx_p2_oom(call);
    s->file = kx_p2file_ref(f);
    return 0;
}

void
kx_wasi_filesystem_types_directory_entry_stream_drop(
    void *env, kx_wasi_filesystem_types_directory_entry_stream self)
{
    kx_p2_free_obj(env, self.rep);
}

typedef struct dirent_pick {
    kg_call *call;
    bool found;
    uint64_t next;
    kx_wasi_filesystem_types_directory_entry *e;
    bool oom;
} dirent_pick;

static int
pick(void *arg, const kx_dirent *e)
{
    dirent_pick *p = arg;
    p->next = e->next;
    if ((e->namelen == 1 && e->name[0] == '.') ||
        (e->namelen == 2 && e->name[0] == '.' && e->name[1] == '.'))
        return 0;
    p->e->type = dtype(e->filetype);
    p->e->name = kg_call_strdup(p->call, e->name, e->namelen);
    p->oom = p->e->name.ptr == NULL;
    p->found = true;
    return 1;
}

int
kx_wasi_filesystem_types_method_directory_entry_stream_read_directory_entry(
    kg_call *call, kx_wasi_filesystem_types_directory_entry_stream self,
    kx_result_option_wasi_filesystem_types_directory_entry_wasi_filesystem_types_error_code
        *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), self.rep, KX_P2_DIRSTREAM);
    if (!o)
        return kx_p2_badhandle(call);
    dirent_pick p = {call, false, o->off, &ret->val.ok.val, false};
    int rc = kx_fs_readdir(o->file->d, o->off, pick, &p);
    if (p.oom)
        return kx_p2_oom(call);
    if (rc < 0)
        return FAIL(ret, rc);
    o->off = p.next;
    ret->val.ok.is_some = p.found;
    return 0;
}

int
kx_wasi_filesystem_types_filesystem_error_code(
    kg_call *call, kx_wasi_io_error_error err,
    kx_option_wasi_filesystem_types_error_code *ret)
{
    kx_p2obj *o = kx_p2_get(KX_CTX(call), err.rep, KX_P2_ERROR);
    if (!o)
        return kx_p2_badhandle(call);
    ret->is_some = o->err > 0;
    ret->val = (uint32_t)kx_errno_to_fs(o->err);
    return 0;
}

/* ---- wasi:filesystem/preopens */

int
kx_wasi_filesystem_preopens_get_directories(
    kg_call *call, kx_list_tuple2_wasi_filesystem_types_descriptor_string *ret)
{
    kumo_wasi_ctx *ctx = KX_CTX(call);
    uint32_t n = 0;
    for (uint32_t i = 0; i < ctx->nfds; i++)
        n += ctx->fds[i] && ctx->fds[i]->preopen;
    kx_tuple2_wasi_filesystem_types_descriptor_string *v =
        kg_call_alloc(call, (size_t)n * sizeof *v);
    if (!v)
        return kx_p2_oom(call);
    n = 0;
    for (uint32_t i = 0; i < ctx->nfds; i++) {
        kx_desc *d = ctx->fds[i];
        if (!d || !d->preopen)
            continue;
        kx_p2file *f = kx_p2file_new(d, false);
        if (!f)
            return kx_p2_oom(call);
        int rc = new_desc(call, f, &v[n].f0);
        kx_p2file_unref(f);
        if (rc)
            return rc;
        v[n].f1.ptr = d->preopen;
        v[n].f1.len = strlen(d->preopen);
        n++;
    }
    ret->ptr = v;
    ret->len = n;
    return 0;
}
