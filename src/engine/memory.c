/* memory.c - linear memories: virtual reservations with guard pages (or
 * heap blocks as a fallback), growth, copy-on-write memory images of
 * modules, and parking memories for reuse by instance pools.
 *
 * A reserved memory is one PROT_NONE mapping of KE_RESERVE bytes; growth
 * mprotects more of it read-write, so the base never moves and nothing is
 * copied. Reservations are made with mmap directly, not through the
 * allocation hook: the hook is a realloc-style byte allocator that can
 * neither hand out page-aligned address space nor change its protection,
 * and a reservation commits nothing until it grows. Everything else (the
 * kumo_memory object, images' bookkeeping, heap memories) still goes
 * through the hook, and memory accounting is the same for both kinds:
 * max_pages is min(declared max, store cap). */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>

#include "memory.h"

/* Parked memories a store keeps for reuse; more are unmapped. */
#define MAX_SPARE 4

static long live_reservations;
static long live_images;

long
ke_memory_live_reservations(void)
{
    return __atomic_load_n(&live_reservations, __ATOMIC_RELAXED);
}

long
ke_image_live(void)
{
    return __atomic_load_n(&live_images, __ATOMIC_RELAXED);
}

static size_t
host_page(void)
{
    static size_t page;
    if (!page) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (size_t)p : 4096;
    }
    return page;
}

/* ---- resetting pages ----
 *
 * Dropping pages (MADV_DONTNEED) is cheap, but every page the next user
 * touches then faults and is zeroed by the kernel, which costs far more
 * than clearing a page that is still mapped. So anonymous memory keeps
 * its resident pages, cleared with memset, up to a budget (mincore tells
 * which are resident); beyond it, or for an image mapping (whose pages
 * must revert to the file's), everything is dropped. */

/* Resident bytes a reset keeps per memory. */
#define KEEP_RESIDENT ((uint64_t)16 << 20)

/* Reset [base, base + len) to zeros (img NULL) or to img's contents.
 * At most keep bytes stay resident; *kept gets how many did. */
static int
reset_pages(uint8_t *base, uint64_t len, const ke_image *img, uint64_t keep,
            uint64_t *kept)
{
    unsigned char vec[1024];
    size_t page = host_page();
    uint64_t done = 0, resident = 0;
    *kept = 0;
    if (!len)
        return 0;
    while (!img && done < len) {
        uint64_t chunk = len - done < sizeof vec * page ? len - done
                                                         : sizeof vec * page;
        if (mincore(base + done, (size_t)chunk, vec))
            break;
        uint64_t np = (chunk + page - 1) / page, n = 0;
        for (uint64_t i = 0; i < np; i++)
            n += vec[i] & 1;
        if ((resident + n) * page > keep)
            break;
        for (uint64_t i = 0; i < np; i++) {
            if (vec[i] & 1)
                memset(base + done + i * page, 0, page);
        }
        resident += n;
        done += chunk;
    }
    *kept = resident * page;
    if (done < len &&
        madvise(base + done, (size_t)(len - done), MADV_DONTNEED))
        return -1;
    return 0;
}

/* ---- reservations ----
 *
 * Freed reservations go to a small process-wide cache instead of being
 * unmapped (unmapping 8 GiB of address space costs more than everything
 * else of an instantiation): their pages are reset first (a few MiB of
 * cleared pages may stay resident, see reset_pages; the whole cache keeps
 * at most CACHE_RESIDENT bytes), and their first `rw` bytes stay
 * read-write. */

#define CACHE_MAX 32
#define CACHE_RESIDENT ((uint64_t)64 << 20)

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint8_t *base;
    uint64_t rw, resident;
} cache[CACHE_MAX];
static int ncache;
static uint64_t cache_resident;

/* A PROT_NONE reservation whose first *rw bytes are read-write zeros, or
 * NULL (reservations impossible here). */
static uint8_t *
reserve(uint64_t *rw)
{
    if (sizeof(size_t) < 8 || host_page() > KE_PAGE)
        return NULL;
    uint8_t *base = NULL;
    pthread_mutex_lock(&cache_lock);
    if (ncache) {
        ncache--;
        base = cache[ncache].base;
        *rw = cache[ncache].rw;
        cache_resident -= cache[ncache].resident;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!base) {
        void *p = mmap(NULL, KE_RESERVE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        base = p;
        *rw = 0;
    }
    __atomic_add_fetch(&live_reservations, 1, __ATOMIC_RELAXED);
    return base;
}

/* Give back a reservation whose first rw bytes are read-write (img
 * mapped at its start, or NULL): cache it when reuse is set and the cache
 * has room, else unmap it. */
static void
unreserve(uint8_t *base, uint64_t rw, const ke_image *img, bool reuse)
{
    uint64_t kept = 0;
    __atomic_sub_fetch(&live_reservations, 1, __ATOMIC_RELAXED);
    if (reuse && img && rw) {
        /* Replace the image mapping (and everything) by fresh PROT_NONE
         * address space, so no image outlives its module in the cache. */
        reuse = mmap(base, (size_t)rw, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                     -1, 0) != MAP_FAILED;
        rw = 0;
    } else if (reuse) {
        pthread_mutex_lock(&cache_lock);
        uint64_t budget = ncache < CACHE_MAX && cache_resident < CACHE_RESIDENT
                              ? CACHE_RESIDENT - cache_resident
                              : 0;
        pthread_mutex_unlock(&cache_lock);
        if (budget > KEEP_RESIDENT)
            budget = KEEP_RESIDENT;
        reuse = reset_pages(base, rw, NULL, budget, &kept) == 0;
    }
    if (reuse) {
        pthread_mutex_lock(&cache_lock);
        if (ncache < CACHE_MAX) {
            cache[ncache].base = base;
            cache[ncache].rw = rw;
            cache[ncache].resident = kept;
            cache_resident += kept;
            ncache++;
            base = NULL;
        }
        pthread_mutex_unlock(&cache_lock);
    }
    if (base)
        munmap(base, KE_RESERVE);
}

/* Make [from, to) of the reservation at base accessible (to > from) or
 * not (to < from). */
static int
protect(uint8_t *base, uint64_t from, uint64_t to)
{
    if (from == to)
        return 0;
    int prot = to > from ? PROT_READ | PROT_WRITE : PROT_NONE;
    uint64_t lo = to > from ? from : to, hi = to > from ? to : from;
    if (mprotect(base + lo, (size_t)(hi - lo), prot))
        return KUMO_ENOMEM;
    return 0;
}

/* Reserve m->data, map img over its start, make pages accessible; with
 * no reservation possible leaves m->data NULL and returns 0. */
static int
reserve_memory(kumo_memory *m, uint64_t pages, const ke_image *img)
{
    uint64_t rw;
    m->data = reserve(&rw);
    if (!m->data)
        return 0; /* caller falls back to the heap */
    m->reserved = KE_RESERVE;
    if (img && img->len <= pages * KE_PAGE &&
        mmap(m->data, img->len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_FIXED, img->fd, 0) != MAP_FAILED) {
        m->image = img;
        if (img->len > rw)
            rw = img->len;
    }
    if (protect(m->data, rw, pages * KE_PAGE)) {
        unreserve(m->data, 0, NULL, false);
        m->data = NULL;
        m->reserved = 0;
        m->image = NULL;
        return KUMO_ENOMEM;
    }
    m->guarded = ke_guard_available();
    return 0;
}

/* ---- memories ---- */

static kumo_memory *
take_spare(kumo_store *s, const ke_image *img)
{
    for (kumo_memory **pp = &s->spare; *pp; pp = &(*pp)->spare_next) {
        kumo_memory *m = *pp;
        if (m->image == img) {
            *pp = m->spare_next;
            m->spare_next = NULL;
            return m;
        }
    }
    return NULL;
}

/* A parked memory for limits l: reset its accessible size to l.min pages
 * (its contents were reset when it was parked). */
static int
reuse_spare(kumo_store *s, kumo_memory *m, uint64_t pages)
{
    int rc = protect(m->data, m->pages * KE_PAGE, pages * KE_PAGE);
    if (rc) {
        ke_memory_free(m);
        return rc;
    }
    m->pages = pages;
    if ((rc = ke_store_own(s, KUMO_EXTERN_MEMORY, m))) {
        ke_memory_free(m);
        return rc;
    }
    return 0;
}

int
ke_memory_create(kumo_store *s, kumo_limits l, const ke_image *img,
                 kumo_memory **out)
{
    if (!s || !out || (l.has_max && l.max < l.min))
        return KUMO_EINVAL;
    uint64_t cap = s->cfg.max_memory_pages;
    if (l.min > cap)
        return KUMO_ELIMIT;
    uint64_t max = l.has_max && l.max < cap ? l.max : cap;
    kumo_memory *m = take_spare(s, img);
    if (m) {
        m->type.min = l.min;
        m->type.max = l.max;
        m->type.has_max = l.has_max;
        m->max_pages = max;
        int rc = reuse_spare(s, m, l.min);
        if (rc == 0)
            *out = m;
        return rc;
    }
    if (!(m = kb_calloc(1, sizeof *m)))
        return KUMO_ENOMEM;
    m->store = s;
    m->type.min = l.min;
    m->type.max = l.max;
    m->type.has_max = l.has_max;
    m->max_pages = max;
    if (!(s->cfg.flags & KUMO_STORE_NO_GUARD) &&
        reserve_memory(m, l.min, img))
        goto fail;
    if (!m->data && l.min &&
        !(m->data = kb_calloc((size_t)l.min, KE_PAGE)))
        goto fail;
    m->pages = l.min;
    if (ke_store_own(s, KUMO_EXTERN_MEMORY, m))
        goto fail;
    *out = m;
    return 0;
fail:
    ke_memory_free(m);
    return KUMO_ENOMEM;
}

int
kumo_memory_new(kumo_store *s, kumo_limits limits, kumo_memory **out)
{
    return ke_memory_create(s, limits, NULL, out);
}

void
ke_memory_free(kumo_memory *m)
{
    if (!m)
        return;
    if (m->reserved)
        unreserve(m->data, m->pages * KE_PAGE, m->image, true);
    else
        kb_free(m->data);
    kb_free(m);
}

void
ke_memory_park(kumo_store *s, kumo_memory *m)
{
    uint32_t n = 0;
    for (kumo_memory *p = s->spare; p; p = p->spare_next)
        n++;
    /* Dropping the private pages restores the image's pages (a private
     * file mapping); anonymous pages are cleared or dropped. */
    uint64_t kept;
    if (!m->reserved || n >= MAX_SPARE ||
        reset_pages(m->data, m->pages * KE_PAGE, m->image, KEEP_RESIDENT,
                    &kept)) {
        ke_memory_free(m);
        return;
    }
    m->spare_next = s->spare;
    s->spare = m;
}

/* ---- snapshots ----
 *
 * A capture looks at the resident pages only (mincore; a page never
 * touched reads as the reset gives it) and keeps those that differ from
 * zeros or, inside an image, from the image. A restore resets the pages
 * as a free does (reset_pages), takes back what the memory grew since,
 * and copies the kept runs back: a fresh instance's memory without
 * instantiating. */

static int
snap_add(ke_memsnap *ms, const uint8_t *p, uint64_t off, uint64_t len)
{
    struct ke_memrun *last = ms->nruns ? &ms->runs[ms->nruns - 1] : NULL;
    if (ms->len + len > ms->cap) {
        uint64_t cap = ms->cap ? ms->cap * 2 : 65536;
        while (cap < ms->len + len)
            cap *= 2;
        uint8_t *d = kb_realloc(ms->data, (size_t)cap);
        if (!d)
            return KUMO_ENOMEM;
        ms->data = d;
        ms->cap = cap;
    }
    memcpy(ms->data + ms->len, p, (size_t)len);
    if (last && last->off + last->len == off) {
        last->len += len;
    } else {
        if (kb_reserve((void **)&ms->runs, &ms->cap_runs, ms->nruns + 1,
                       sizeof *ms->runs))
            return KUMO_ENOMEM;
        ms->runs[ms->nruns++] = (struct ke_memrun){off, len, ms->len};
    }
    ms->len += len;
    return 0;
}

/* Whether the page at off differs from what a reset makes of it. */
static bool
page_changed(const kumo_memory *m, uint64_t off, size_t page, uint8_t *buf)
{
    const uint8_t *p = m->data + off;
    if (m->image && off < m->image->len) {
        size_t n = m->image->len - off < page ? (size_t)(m->image->len - off)
                                              : page;
        if (m->image->view && n == page)
            return memcmp(p, m->image->view + off, page) != 0;
        memset(buf, 0, page);
        if (pread(m->image->fd, buf, n, (off_t)off) != (ssize_t)n)
            return true;
        return memcmp(p, buf, page) != 0;
    }
    for (size_t i = 0; i < page; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v)
            return true;
    }
    return false;
}

int
ke_memory_capture(const kumo_memory *m, ke_memsnap *ms)
{
    size_t page = host_page();
    uint64_t len = m->pages * KE_PAGE;
    unsigned char vec[1024];
    uint8_t *buf = kb_malloc(page);
    int rc = 0;
    if (!buf)
        return KUMO_ENOMEM;
    ms->pages = m->pages;
    for (uint64_t done = 0; done < len && rc == 0;) {
        uint64_t chunk = len - done < sizeof vec * page ? len - done
                                                         : sizeof vec * page;
        uint64_t np = chunk / page;
        if (!m->reserved)
            memset(vec, 1, (size_t)np);
        else if (mincore(m->data + done, (size_t)chunk, vec))
            memset(vec, 1, (size_t)np); /* look at everything */
        for (uint64_t i = 0; i < np && rc == 0; i++) {
            uint64_t off = done + i * page;
            if ((vec[i] & 1) && page_changed(m, off, page, buf))
                rc = snap_add(ms, m->data + off, off, page);
        }
        done += chunk;
    }
    kb_free(buf);
    return rc;
}

/* /proc/self/pagemap, opened once (-1: unavailable). */
static int
pagemap_fd(void)
{
    static int fd = -2;
    int f = __atomic_load_n(&fd, __ATOMIC_ACQUIRE);
    if (f == -2) {
        int mine = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), none = -2;
        if (__atomic_compare_exchange_n(&fd, &none, mine, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            f = mine;
        } else {
            if (mine >= 0)
                close(mine);
            f = none;
        }
    }
    return f;
}

/* Small anonymous memories are cleared whole on a restore: a mincore
 * call costs more than clearing 128 KiB that the previous request mostly
 * brought into the cache anyway. */
#define RESTORE_CLEAR_WHOLE ((uint64_t)256 << 10)

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)

/* Reset an image-backed memory [base, base + len) without dropping its
 * pages. Dropping (MADV_DONTNEED) makes every page the next request
 * touches fault again - for a large image that is most of a small
 * request's time. pagemap says which pages are private (written since
 * mapped, or anonymous past the image); only those changed, and copying
 * the image's bytes (zeros past it) over them keeps them mapped. 0, or -1
 * when pagemap is unavailable or more than keep bytes are private (the
 * caller then drops everything). */
static int
restore_private(uint8_t *base, uint64_t len, const ke_image *img,
                uint64_t keep)
{
    uint64_t vec[512];
    size_t page = host_page();
    uint64_t priv = 0;
    int fd = pagemap_fd();
    if (fd < 0 || !img->view || (uintptr_t)base % page)
        return -1;
    for (uint64_t done = 0; done < len;) {
        uint64_t np = (len - done) / page;
        if (np > sizeof vec / sizeof vec[0])
            np = sizeof vec / sizeof vec[0];
        off_t at = (off_t)((uintptr_t)(base + done) / page * sizeof vec[0]);
        if (pread(fd, vec, (size_t)np * sizeof vec[0], at) !=
            (ssize_t)(np * sizeof vec[0]))
            return -1;
        for (uint64_t i = 0; i < np; i++) {
            uint64_t e = vec[i], off = done + i * page;
            if (!(e & (PM_PRESENT | PM_SWAPPED)) ||
                ((e & PM_PRESENT) && (e & PM_FILE)))
                continue; /* never touched, or still the image's page */
            if ((priv += page) > keep)
                return -1;
            size_t n = off >= img->len               ? 0
                       : img->len - off < page ? (size_t)(img->len - off)
                                               : page;
            if (n)
                memcpy(base + off, img->view + off, n);
            if (n < page)
                memset(base + off + n, 0, page - n);
        }
        done += np * page;
    }
    return 0;
}

int
ke_memory_restore(kumo_memory *m, const ke_memsnap *ms)
{
    uint64_t len = ms->pages * KE_PAGE, kept;
    if (m->pages < ms->pages)
        return KUMO_EINVAL; /* memories never shrink: not this memory's */
    if (m->reserved) {
        if (m->pages > ms->pages) {
            uint64_t cur = m->pages * KE_PAGE;
            if (madvise(m->data + len, (size_t)(cur - len), MADV_DONTNEED) ||
                protect(m->data, cur, len))
                return KUMO_ENOMEM;
            m->pages = ms->pages;
        }
        if (!m->image && len <= RESTORE_CLEAR_WHOLE)
            memset(m->data, 0, (size_t)len); /* cheaper than asking */
        else if ((!m->image ||
                  restore_private(m->data, len, m->image, KEEP_RESIDENT)) &&
                 reset_pages(m->data, len, m->image, KEEP_RESIDENT, &kept))
            return KUMO_ENOMEM;
    } else {
        if (m->pages > ms->pages) {
            uint8_t *p = kb_realloc(m->data, (size_t)len);
            if (!p && len)
                return KUMO_ENOMEM;
            m->data = p;
            m->pages = ms->pages;
        }
        if (len)
            memset(m->data, 0, (size_t)len);
    }
    for (uint32_t i = 0; i < ms->nruns; i++)
        memcpy(m->data + ms->runs[i].off, ms->data + ms->runs[i].pos,
               (size_t)ms->runs[i].len);
    return 0;
}

void
ke_memsnap_fini(ke_memsnap *ms)
{
    kb_free(ms->runs);
    kb_free(ms->data);
    memset(ms, 0, sizeof *ms);
}

uint8_t *
kumo_memory_data(kumo_memory *m)
{
    return m->pages ? m->data : NULL;
}

uint64_t
kumo_memory_size(const kumo_memory *m)
{
    return m->pages * KE_PAGE;
}

int
kumo_memory_grow(kumo_memory *m, uint64_t delta, uint64_t *old_pages)
{
    uint64_t old = m->pages;
    if (old_pages)
        *old_pages = old;
    if (delta > m->max_pages - old)
        return KUMO_ELIMIT;
    if (delta == 0)
        return 0;
    uint64_t bytes = (old + delta) * KE_PAGE;
    if (bytes > SIZE_MAX)
        return KUMO_ENOMEM;
    if (m->reserved) {
        if (bytes > m->reserved || protect(m->data, old * KE_PAGE, bytes))
            return KUMO_ENOMEM;
    } else {
        uint8_t *p = kb_realloc(m->data, (size_t)bytes);
        if (!p)
            return KUMO_ENOMEM;
        memset(p + old * KE_PAGE, 0, (size_t)(delta * KE_PAGE));
        m->data = p;
    }
    m->pages = old + delta;
    return 0;
}

int64_t
ke_memory_grow(kumo_memory *m, uint64_t delta)
{
    uint64_t old;
    if (kumo_memory_grow(m, delta, &old))
        return -1;
    return (int64_t)old;
}

/* ---- memory images ---- */

/* Marks "this module has no image" (never freed). */
static ke_image no_image = {-1, 0, NULL};

/* The offset of an active segment when its expression is exactly
 * `i32.const N end`. */
static bool
const_offset(const kumo_module *m, ke_expr e, uint32_t *off)
{
    if ((uint64_t)e.off + e.len > m->size)
        return false;
    kb_reader r = {m->bytes, m->bytes + e.off, m->bytes + e.off + e.len,
                   NULL, NULL};
    uint8_t op, end;
    int32_t v;
    if (kb_read_u8(&r, &op) || op != 0x41 || kb_read_s32(&r, &v) ||
        kb_read_u8(&r, &end) || end != 0x0b || !kb_at_end(&r))
        return false;
    *off = (uint32_t)v;
    return true;
}

/* The image's length when m qualifies for one, else 0. */
static size_t
image_extent(const kumo_module *m)
{
    if (m->nmems == 0 || m->nimported_mems)
        return 0;
    uint64_t limit = m->mems[0].limits.min * KE_PAGE, end = 0, total = 0;
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const ke_data *d = &m->datas[i];
        uint32_t off;
        if (d->mode != KE_SEG_ACTIVE)
            continue;
        if (d->mem != 0 || !const_offset(m, d->offset, &off) ||
            (uint64_t)off + d->init.len > limit)
            return 0;
        if (d->init.len && (uint64_t)off + d->init.len > end)
            end = (uint64_t)off + d->init.len;
        total += d->init.len;
    }
    if (total < KE_IMAGE_MIN)
        return 0;
    uint64_t page = host_page();
    return (size_t)((end + page - 1) / page * page);
}

static int
write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Build m's image, or return &no_image. */
static ke_image *
image_build(const kumo_module *m)
{
    size_t len = image_extent(m);
    if (!len)
        return &no_image;
    ke_image *img = kb_malloc(sizeof *img);
    if (!img)
        return &no_image;
    img->len = len;
    img->fd = memfd_create("kumo-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (img->fd < 0)
        goto fail;
    if (ftruncate(img->fd, (off_t)len))
        goto fail;
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const ke_data *d = &m->datas[i];
        uint32_t off;
        if (d->mode == KE_SEG_ACTIVE && d->init.len &&
            (!const_offset(m, d->offset, &off) ||
             write_all(img->fd, m->bytes + d->init.off, d->init.len, off)))
            goto fail;
    }
    /* Sealed, so nobody can truncate it under a mapping (SIGBUS). */
    fcntl(img->fd, F_ADD_SEALS,
          F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    /* A read-only view, for restoring pages by copying (snapshots). */
    void *v = mmap(NULL, len, PROT_READ, MAP_SHARED, img->fd, 0);
    img->view = v == MAP_FAILED ? NULL : v;
    __atomic_add_fetch(&live_images, 1, __ATOMIC_RELAXED);
    return img;
fail:
    if (img->fd >= 0)
        close(img->fd);
    kb_free(img);
    return &no_image;
}

const ke_image *
ke_image_get(const kumo_module *m)
{
    /* The module is shared and immutable except for this cache. */
    ke_image **slot = &((kumo_module *)m)->image;
    ke_image *img = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!img) {
        ke_image *mine = image_build(m), *none = NULL;
        if (__atomic_compare_exchange_n(slot, &none, mine, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            img = mine;
        } else {
            ke_image_free(mine); /* another thread won */
            img = none;
        }
    }
    return img == &no_image ? NULL : img;
}

void
ke_image_free(struct ke_image *img)
{
    if (!img || img == &no_image)
        return;
    if (img->view)
        munmap((void *)img->view, img->len);
    close(img->fd);
    kb_free(img);
    __atomic_sub_fetch(&live_images, 1, __ATOMIC_RELAXED);
}
