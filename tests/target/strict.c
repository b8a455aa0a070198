/*
 * memcpy and memmove without unaligned word accesses. The runtime sets CCR.UNALIGN_TRP,
 * so that a misaligned 16/32-bit access anywhere in the core or the tests faults (what a
 * Cortex-M0, or an M4 with trapping on, would do with a cast of a byte buffer); newlib's
 * memcpy for ARMv7-M, as Debian builds it, itself copies with unaligned loads when source
 * and destination are misaligned to each other, so the tests link these instead.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* GCC would turn these loops back into calls to memcpy (CMake also says so per file). */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

/* Word copies where both are 4-aligned, octets otherwise. */
NO_LIBCALL void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 3u) == 0) {
        for (; n && ((uintptr_t)d & 3u); n--)
            *d++ = *s++;
        for (; n >= 4; n -= 4, d += 4, s += 4)
            *(uint32_t *)(void *)d = *(const uint32_t *)(const void *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

NO_LIBCALL void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);  /* forward is safe: memcpy copies low to high */
    while (n--)
        d[n] = s[n];
    return dst;
}
