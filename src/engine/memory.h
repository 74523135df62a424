/* memory.h - internal API of linear memories (memory.c), the guard-page
 * trap (guard.c), module memory images (memory.c) and instance pools
 * (pool.c). See "Memory, images and pools" in docs/ARCHITECTURE.md. */
#ifndef KUMO_SRC_ENGINE_MEMORY_H
#define KUMO_SRC_ENGINE_MEMORY_H

#include "runtime.h"

/* Bytes reserved per guarded memory: 8 GiB (any u32 address + u32
 * offset) plus a 64 KiB guard for the access width. */
#define KE_RESERVE ((size_t)1 << 33 | (size_t)KE_PAGE)

/* Modules whose active data segments total fewer bytes than this copy
 * them at instantiation (cheaper than mapping and faulting an image). */
#define KE_IMAGE_MIN (16u * 1024)

/* The initial contents of a module's memory 0: a sealed memfd of len
 * bytes (a multiple of the host page size) holding every active data
 * segment, mapped MAP_PRIVATE into each instance's reservation. Built
 * once per module (lazily, race-free) and owned by it. */
typedef struct ke_image {
    int fd;
    size_t len;
    const uint8_t *view; /* the contents mapped read-only, or NULL */
} ke_image;

/* The module's image, building it on first use; NULL when the module has
 * none (imported or no memory, a non-constant or out-of-bounds segment
 * offset, less than KE_IMAGE_MIN bytes of data, memfd unavailable). */
const ke_image *ke_image_get(const kumo_module *m);

/* A new memory owned by s with limits l; when img is not NULL and the
 * memory is reserved, img is mapped at its start (check m->image: a heap
 * memory has none and needs its segments copied). Reuses a memory parked
 * in s->spare for the same image when there is one. 0, KUMO_EINVAL,
 * KUMO_ELIMIT or KUMO_ENOMEM. */
int ke_memory_create(kumo_store *s, kumo_limits l, const ke_image *img,
                     kumo_memory **out);

/* Free m (not owned by a store any more): unmap or free its data. */
void ke_memory_free(kumo_memory *m);

/* Reset reserved memory m to its image (or zeros) with MADV_DONTNEED and
 * park it in s->spare for reuse; heap memories, and memories beyond
 * a few parked ones, are freed instead. */
void ke_memory_park(kumo_store *s, kumo_memory *m);

/* Reservations currently mapped and images currently open (tests check
 * that failure paths and pools leave none behind). */
long ke_memory_live_reservations(void);
long ke_image_live(void);

/* guard.c: install the SIGSEGV/SIGBUS handler once; true when it is in
 * place (false e.g. when a sanitizer refuses foreign SEGV handlers). */
bool ke_guard_available(void);

/* store.c: object counts of a store, and freeing every object beyond
 * them (memories are parked for reuse when park is set). */
/* Snapshots (snapshot.c): a memory's size and the bytes that differ
 * from what a reset gives (zeros, or the image's contents), as runs of
 * host pages. */
typedef struct ke_memsnap {
    uint64_t pages;
    uint32_t nruns, cap_runs;
    struct ke_memrun {
        uint64_t off, len; /* bytes; bytes of the run at data + pos */
        uint64_t pos;
    } *runs;
    uint8_t *data;
    uint64_t len, cap;
} ke_memsnap;

/* Record m's contents; ms must be zeroed (or finished) first. */
int ke_memory_capture(const kumo_memory *m, ke_memsnap *ms);
/* Put m back to what ms recorded: its size and contents. */
int ke_memory_restore(kumo_memory *m, const ke_memsnap *ms);
void ke_memsnap_fini(ke_memsnap *ms);

typedef struct ke_store_marks {
    uint32_t nfuncs, nmems, ntables, nglobals, ninstances, ntags;
} ke_store_marks;

ke_store_marks ke_store_marks_of(const kumo_store *s);
void ke_store_truncate(kumo_store *s, const ke_store_marks *mk, bool park);

#endif
