/*
 * ARM semihosting (the "Semihosting for AArch32 and AArch64" specification): the
 * firmware asks the debugger, here QEMU with -semihosting, for host files (the NV
 * flash's backing file), its command line and a console. On Cortex-M the call is
 * BKPT 0xAB with the operation in r0 and a parameter block in r1.
 */
#include <stdarg.h>
#include <string.h>

#include "mps2.h"

enum {
    SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05,
    SYS_READ = 0x06, SYS_SEEK = 0x0A, SYS_FLEN = 0x0C, SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static int32_t call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

int sh_open(const char *path, int mode)
{
    uint32_t a[3] = {(uint32_t)(uintptr_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return call(SYS_OPEN, a);
}

int sh_close(int fd)
{
    uint32_t a[1] = {(uint32_t)fd};
    return call(SYS_CLOSE, a);
}

long sh_flen(int fd)
{
    uint32_t a[1] = {(uint32_t)fd};
    return call(SYS_FLEN, a);
}

int sh_seek(int fd, uint32_t pos)
{
    uint32_t a[2] = {(uint32_t)fd, pos};
    return call(SYS_SEEK, a);
}

int sh_write(int fd, const void *p, size_t n)
{
    uint32_t a[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)p, (uint32_t)n};
    return call(SYS_WRITE, a);
}

int sh_read(int fd, void *p, size_t n)
{
    uint32_t a[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)p, (uint32_t)n};
    return call(SYS_READ, a);
}

int sh_cmdline(char *buf, size_t cap)
{
    uint32_t a[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
    return call(SYS_GET_CMDLINE, a);
}

void sh_puts(const char *s)
{
    call(SYS_WRITE0, s);
}

void sh_exit(int status)
{
    /* AArch32 passes the reason itself in r1: QEMU exits 0 on ApplicationExit and 1 on
     * any other reason (RunTimeErrorUnknown here). */
    call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                         : ADP_STOPPED_RUNTIME_ERROR));
    for (;;)
        ;
}

/* A console printf without stdio: enough for start-up and status lines. */
static size_t put_u(char *out, uint32_t v, unsigned base)
{
    char tmp[11];
    size_t n = 0, k = 0;
    do {
        unsigned d = v % base;
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n)
        out[k++] = tmp[--n];
    return k;
}

void sh_printf(const char *fmt, ...)
{
    char line[320];
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p && n < sizeof line - 12; p++) {
        if (*p != '%') {
            line[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (*s && n < sizeof line - 12)
                line[n++] = *s++;
            break;
        }
        case 'u': n += put_u(line + n, va_arg(ap, uint32_t), 10); break;
        case 'x': n += put_u(line + n, va_arg(ap, uint32_t), 16); break;
        case 'c': line[n++] = (char)va_arg(ap, int); break;
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            if (v < 0)
                line[n++] = '-';
            n += put_u(line + n, v < 0 ? 0u - (uint32_t)v : (uint32_t)v, 10);
            break;
        }
        case '\0': p--; break;
        default: line[n++] = *p; break;
        }
    }
    va_end(ap);
    line[n] = '\0';
    sh_puts(line);
}
