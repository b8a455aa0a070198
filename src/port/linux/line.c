/*
 * Whole MS/TP frames out of a line that delivers octets in pieces (port.h, lx_line_).
 * The frame's length comes from its header, which is believed only once its CRC holds:
 * a length from the wire is never trusted before that.
 */
#include <string.h>

#include "port.h"

static void drop(lx_line_t *l, size_t k)
{
    memmove(l->buf, l->buf + k, l->n - k);
    l->n -= k;
}

static void pass(lx_line_t *l, size_t k, lx_line_emit_fn emit, void *ctx, bool whole)
{
    whole ? l->frames++ : l->fragments++; /* (counted first: emit may look) */
    emit(ctx, l->buf, k);
    drop(l, k);
}

/* Octets of the frame at buf[0] (a preamble there): 0 while its header is incomplete,
 * -1 when the octets there cannot be a frame's header. */
static long frame_len(const lx_line_t *l)
{
    if (l->n < 2)
        return 0;
    if (l->buf[1] != 0xFF)
        return -1;
    if (l->n < MSTP_HEADER_LEN)
        return 0;
    if (mstp_header_crc(l->buf + 2) != l->buf[7])
        return -1;
    size_t len = (size_t)l->buf[5] << 8 | l->buf[6];
    return len > MSTP_MAX_DATA ? -1 : (long)(MSTP_HEADER_LEN + (len ? len + 2 : 0));
}

/* Pass on everything complete in buf; what is left is the start of a frame. */
static void scan(lx_line_t *l, lx_line_emit_fn emit, void *ctx)
{
    while (l->n > 0) {
        if (l->buf[0] != 0x55) {
            const uint8_t *pre = memchr(l->buf, 0x55, l->n);
            pass(l, pre ? (size_t)(pre - l->buf) : l->n, emit, ctx, false);
            continue;
        }
        long k = frame_len(l);
        if (k < 0)
            pass(l, 1, emit, ctx, false); /* a stray 0x55: look for the next preamble */
        else if (k > 0 && (size_t)k <= l->n)
            pass(l, (size_t)k, emit, ctx, true);
        else
            return;
    }
}

void lx_line_push(lx_line_t *l, const uint8_t *p, size_t n, uint64_t now_us,
                  lx_line_emit_fn emit, void *ctx)
{
    if (n > 0 && l->n > 0)
        l->pieces++;
    while (n > 0) {
        if (l->n == 0)
            l->first_us = now_us;
        size_t k = sizeof l->buf - l->n < n ? sizeof l->buf - l->n : n;
        memcpy(l->buf + l->n, p, k);
        l->n += k;
        p += k;
        n -= k;
        uint32_t before = l->frames + l->fragments;
        scan(l, emit, ctx);
        if (l->frames + l->fragments != before)
            l->first_us = now_us; /* what is left came with this read */
        if (l->n == sizeof l->buf) /* cannot happen with a checked header: be sure */
            pass(l, l->n, emit, ctx, false);
    }
}

uint64_t lx_line_expire(lx_line_t *l, uint64_t now_us, uint64_t abort_us,
                        lx_line_emit_fn emit, void *ctx)
{
    if (l->n == 0)
        return UINT64_MAX;
    if (now_us - l->first_us < abort_us)
        return abort_us - (now_us - l->first_us);
    pass(l, l->n, emit, ctx, false);
    return UINT64_MAX;
}
