/* drive.c - runs `KUMO run ECHO.wasm` with pipes for stdin and stdout and
 * sends it N bytes in lockstep (write one, read it back), so the guest's
 * every read waits. Prints the round trips per second. Part of
 * bench/fiber/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    int in[2], out[2];
    if (argc < 4) {
        fprintf(stderr, "usage: drive KUMO GUEST.wasm N\n");
        return 2;
    }
    long n = atol(argv[3]);
    if (pipe(in) || pipe(out))
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(argv[1], argv[1], "run", argv[2], (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    struct timespec t0, t1;
    char c = 'x';
    /* One round trip first: the guest is loaded and waiting. */
    if (write(in[1], &c, 1) != 1 || read(out[0], &c, 1) != 1)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        if (write(in[1], &c, 1) != 1 || read(out[0], &c, 1) != 1)
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(in[1]);
    int st;
    waitpid(pid, &st, 0);
    double t = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("%.0f\n", (double)n / t);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
