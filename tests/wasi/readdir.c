// readdir.c - directory listings larger than wasi-libc's fd_readdir buffer
// in the preopen /sb: every entry exactly once, rewinddir, and unlinking
// each entry while the listing goes on (wasi-libc resumes a listing from
// the cookie of the last entry that fit in its buffer; the cookies must
// stay valid when earlier entries are removed, as a native readdir does).
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N 600

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            printf("FAIL line %d: %s (errno %d %s)\n", __LINE__, #c, errno,    \
                   strerror(errno));                                           \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static char seen[N];

static void
name_of(int i, char *buf, size_t cap)
{
    // names of 1..120 'n's then the index: entries of many sizes, so that
    // the 4 KiB buffer ends inside an entry again and again
    int len = i % 120 + 1;
    memset(buf, 'n', (size_t)len);
    snprintf(buf + len, cap - (size_t)len, "_%d", i);
}

// count the entries of /sb/big (not "." and ".."), each index once
static int
scan(DIR *d, int *count, int *dups)
{
    struct dirent *e;
    memset(seen, 0, sizeof seen);
    *count = *dups = 0;
    errno = 0;
    while ((e = readdir(d))) {
        const char *us = strrchr(e->d_name, '_');
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        CHECK(us);
        int i = atoi(us + 1);
        CHECK(i >= 0 && i < N);
        if (seen[i]++)
            (*dups)++;
        (*count)++;
    }
    CHECK(errno == 0);
    return 0;
}

int
main(void)
{
    char name[256], path[300];
    int count, dups;
    CHECK(mkdir("/sb/big", 0755) == 0);
    for (int i = 0; i < N; i++) {
        name_of(i, name, sizeof name);
        snprintf(path, sizeof path, "/sb/big/%s", name);
        FILE *f = fopen(path, "w");
        CHECK(f);
        fclose(f);
    }
    DIR *d = opendir("/sb/big");
    CHECK(d);
    CHECK(scan(d, &count, &dups) == 0);
    printf("listed %d entries, %d twice\n", count, dups);
    rewinddir(d);
    CHECK(scan(d, &count, &dups) == 0);
    printf("after rewinddir: %d entries, %d twice\n", count, dups);
    closedir(d);

    // unlink each entry as it is listed
    d = opendir("/sb/big");
    CHECK(d);
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        CHECK(unlinkat(dirfd(d), e->d_name, 0) == 0);
        removed++;
    }
    closedir(d);
    d = opendir("/sb/big");
    CHECK(d);
    CHECK(scan(d, &count, &dups) == 0);
    closedir(d);
    printf("unlinked while listing: %d, left %d\n", removed, count);
    CHECK(rmdir("/sb/big") == 0);
    return 0;
}
