/* echo.c - a wasm32-wasi guest for bench/fiber/run.sh: copies stdin to
 * stdout one byte per read and write, so that each read of a pipe that
 * the driver fills one byte at a time waits (a fiber switch out to the
 * loop and back in). */
#include <unistd.h>

int
main(void)
{
    char c;
    while (read(0, &c, 1) == 1)
        if (write(1, &c, 1) != 1)
            return 1;
    return 0;
}
