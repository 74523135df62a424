// files.c - files in the preopen /sb: create, write, read, seek, stat,
// readdir, rename, unlink, mkdir, rmdir, symlink, readlink, truncate,
// pread/pwrite, utimes, append.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            printf("FAIL line %d: %s (errno %d %s)\n", __LINE__, #c, errno,    \
                   strerror(errno));                                           \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
list(const char *dir)
{
    char *names[32];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    CHECK(d);
    while ((e = readdir(d)) && n < 32)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp);
    printf("%s:", dir);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
    return 0;
}

int
main(void)
{
    char buf[256];
    struct stat st;
    FILE *f = fopen("/sb/a.txt", "w");
    CHECK(f);
    CHECK(fputs("hello, file\n", f) >= 0);
    CHECK(fclose(f) == 0);
    CHECK(stat("/sb/a.txt", &st) == 0);
    printf("size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));

    int fd = open("/sb/a.txt", O_RDWR);
    CHECK(fd >= 0);
    CHECK(lseek(fd, 7, SEEK_SET) == 7);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    CHECK(n == 5);
    buf[n] = 0;
    printf("after seek: %s", buf);
    CHECK(pwrite(fd, "HELLO", 5, 0) == 5);
    CHECK(pread(fd, buf, 5, 0) == 5);
    printf("pread: %.5s\n", buf);
    CHECK(lseek(fd, 0, SEEK_CUR) == 12);
    CHECK(ftruncate(fd, 5) == 0);
    CHECK(fstat(fd, &st) == 0 && st.st_size == 5);
    CHECK(close(fd) == 0);

    fd = open("/sb/a.txt", O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "+tail", 5) == 5);
    close(fd);
    f = fopen("/sb/a.txt", "r");
    CHECK(f && fgets(buf, sizeof buf, f));
    fclose(f);
    printf("appended: %s\n", buf);

    CHECK(mkdir("/sb/dir", 0755) == 0);
    CHECK(mkdir("/sb/dir", 0755) < 0 && errno == EEXIST);
    CHECK(rename("/sb/a.txt", "/sb/dir/b.txt") == 0);
    CHECK(access("/sb/a.txt", F_OK) < 0 && errno == ENOENT);
    CHECK(symlink("dir/b.txt", "/sb/link") == 0);
    n = readlink("/sb/link", buf, sizeof buf);
    CHECK(n == 9);
    printf("readlink: %.*s\n", (int)n, buf);
    CHECK(lstat("/sb/link", &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat("/sb/link", &st) == 0 && S_ISREG(st.st_mode));
    if (list("/sb") || list("/sb/dir"))
        return 1;

    struct timeval tv[2] = {{1000000000, 0}, {1234567890, 0}};
    CHECK(utimes("/sb/dir/b.txt", tv) == 0);
    CHECK(stat("/sb/dir/b.txt", &st) == 0);
    printf("mtime=%lld\n", (long long)st.st_mtime);

    CHECK(rmdir("/sb/dir") < 0 && errno == ENOTEMPTY);
    CHECK(unlink("/sb/link") == 0);
    CHECK(unlink("/sb/dir/b.txt") == 0);
    CHECK(unlink("/sb/dir/b.txt") < 0 && errno == ENOENT);
    CHECK(unlink("/sb/dir") < 0);
    CHECK(rmdir("/sb/dir") == 0);
    CHECK(open("/sb/nope", O_RDONLY) < 0 && errno == ENOENT);
    CHECK(open("/sb/x", O_CREAT | O_EXCL | O_WRONLY, 0644) >= 0);
    CHECK(open("/sb/x", O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 &&
          errno == EEXIST);
    CHECK(unlink("/sb/x") == 0);
    if (list("/sb"))
        return 1;
    printf("files ok\n");
    return 0;
}
