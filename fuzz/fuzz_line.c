/*
 * libFuzzer target: octets from a line (a pty or an RS-485 adapter) through lx_line,
 * the site's frame gatherer, in pieces whose sizes and arrival times the input's first
 * octets choose. Whatever arrives, every octet passes on exactly once and in order, and
 * everything passed on as a frame is one: a preamble, a header whose CRC holds, and the
 * length that header gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mstp/mstp.h"
#include "port.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* (not assert: the fuzz build is NDEBUG) */
#define CHECK(c) ((c) ? (void)0 : abort())

typedef struct {
    uint8_t out[1 << 16];
    size_t n;
    const lx_line_t *l;
    uint32_t frames;
} sink_t;

static void emit(void *ctx, const uint8_t *p, size_t n)
{
    sink_t *s = ctx;
    CHECK(n > 0 && s->n + n <= sizeof s->out);
    memcpy(s->out + s->n, p, n);
    s->n += n;
    if (s->l->frames != s->frames) { /* this one was passed on as a whole frame */
        s->frames = s->l->frames;
        CHECK(n >= MSTP_HEADER_LEN && p[0] == 0x55 && p[1] == 0xFF);
        CHECK(mstp_header_crc(p + 2) == p[7]);
        size_t len = (size_t)p[5] << 8 | p[6];
        CHECK(n == MSTP_HEADER_LEN + (len ? len + 2 : 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 1 << 15)
        return 0;
    static sink_t s; /* (64 KB: off the stack; reset below for each input) */
    lx_line_t l = {0};
    memset(&s, 0, sizeof s);
    s.l = &l;
    size_t step = 1 + data[0] % 64;  /* octets per read */
    uint64_t gap = data[1] * 1000u;  /* microseconds between reads */
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    uint64_t now = 0;
    for (size_t k = 0; k < n; k += step) {
        size_t m = n - k < step ? n - k : step;
        lx_line_push(&l, p + k, m, now, emit, &s);
        lx_line_expire(&l, now, LX_LINE_ABORT_US, emit, &s);
        now += gap;
    }
    lx_line_expire(&l, now + LX_LINE_ABORT_US, LX_LINE_ABORT_US, emit, &s);
    CHECK(l.n == 0 && s.n == n && memcmp(s.out, p, n) == 0);
    return 0;
}
