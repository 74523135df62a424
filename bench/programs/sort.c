/* sort.c - memory-bound sorting: quicksort (median of three, insertion
 * sort for short runs) and a bottom-up mergesort of 1M 32-bit ints. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define COUNT (1u << 20)

static void
insertion_sort(int32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        int32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void
swap(int32_t *a, int32_t *b)
{
    int32_t t = *a;
    *a = *b;
    *b = t;
}

static void
quicksort(int32_t *a, int n)
{
    while (n > 16) {
        int mid = n / 2;
        if (a[mid] < a[0])
            swap(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap(&a[n - 1], &a[mid]);
        int32_t pivot = a[mid];
        int i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap(&a[i], &a[j]);
            i++;
            j--;
        }
        /* Recurse on the smaller side, loop on the larger. */
        int left = j + 1;
        if (left < n - left) {
            quicksort(a, left);
            a += left;
            n -= left;
        } else {
            quicksort(a + left, n - left);
            n = left;
        }
    }
    insertion_sort(a, n);
}

static void
mergesort(int32_t *a, int32_t *tmp, uint32_t n)
{
    int32_t *src = a, *dst = tmp;
    for (uint32_t width = 1; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = lo + width < n ? lo + width : n;
            uint32_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[i] <= src[j] ? src[i++] : src[j++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        int32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

static uint32_t
check(const int32_t *a, uint32_t n, uint32_t h)
{
    for (uint32_t i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return h ^ 0xbad00bad;
    for (uint32_t i = 0; i < n; i += 1024)
        h = bench_mix(h, (uint32_t)a[i]);
    return h;
}

static void
fill(int32_t *a, uint32_t n, uint32_t *rng, uint32_t range)
{
    for (uint32_t i = 0; i < n; i++)
        a[i] = (int32_t)(bench_rand(rng) % range) - (int32_t)(range / 2);
}

BENCH_EXPORT uint32_t
bench_run(uint32_t scale)
{
    int32_t *a = malloc(COUNT * sizeof *a);
    int32_t *tmp = malloc(COUNT * sizeof *tmp);
    uint32_t h = 0;
    if (!a || !tmp)
        goto out;
    uint32_t rng = 0x6b8b4567;
    uint32_t reps = bench_reps(2, scale);
    uint32_t n = scale < 100 ? COUNT * scale / 100 + 1024 : COUNT;
    for (uint32_t r = 0; r < reps; r++) {
        /* Wide range, then a narrow range with many duplicates. */
        fill(a, n, &rng, r & 1 ? 1000 : 0x7fffffff);
        quicksort(a, (int)n);
        h = check(a, n, h);
        fill(a, n, &rng, r & 1 ? 0x7fffffff : 1000);
        mergesort(a, tmp, n);
        h = check(a, n, h);
    }
out:
    free(a);
    free(tmp);
    return h;
}
