/* What the test runtime (startup.c) offers the target's cmocka. */
#ifndef S4100_TARGET_H
#define S4100_TARGET_H

#include <stddef.h>

/* The semihosting command line (QEMU: the kernel's path, then -append's text) into buf,
 * NUL-terminated; returns 0, or -1 if the host gave none. */
int target_cmdline(char *buf, size_t len);

#endif
