/*
 * The target's small cmocka (../cmocka.c) in a hosted program: what it asks of the runtime
 * (target.h) from Linux instead of semihosting, so that scripts/be-tests.sh can run the
 * core's unit tests on a big-endian CPU under qemu-user. The tests' main takes no
 * arguments, so the command line (test names to run, or --list) is read where the kernel,
 * or qemu-user emulating it for the guest, shows it: /proc/self/cmdline.
 */
#include <stdio.h>

#include "target.h"

/* The arguments NUL-separated as the kernel keeps them, joined here by spaces. */
int target_cmdline(char *buf, size_t len)
{
    if (len == 0)
        return -1;
    FILE *f = fopen("/proc/self/cmdline", "rb");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    if (f)
        fclose(f);
    if (n == 0) {
        buf[0] = 0;
        return -1;
    }
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
    return 0;
}
