/*
 * lx_line (src/port/linux/line.c): whole MS/TP frames out of a line that delivers its
 * octets in pieces, as the site's pty bridge uses it. Frames are built with the core's
 * encoder; what passes on is checked octet for octet and by where it was cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mstp/mstp.h"
#include "port.h"

typedef struct {
    uint8_t out[8192];
    size_t n;
    size_t cut[64]; /* length of each piece passed on */
    unsigned pieces;
} sink_t;

static void emit(void *ctx, const uint8_t *p, size_t n)
{
    sink_t *s = ctx;
    assert_true(s->n + n <= sizeof s->out && s->pieces < 64);
    memcpy(s->out + s->n, p, n);
    s->n += n;
    s->cut[s->pieces++] = n;
}

static size_t frame(uint8_t *out, uint8_t type, uint8_t dst, uint8_t src, size_t len)
{
    uint8_t data[MSTP_MAX_DATA];
    for (size_t k = 0; k < len; k++)
        data[k] = (uint8_t)(k * 7 + 0x55); /* preambles inside the data too */
    size_t n = mstp_encode(out, MSTP_MAX_FRAME, type, dst, src, len ? data : NULL, len);
    assert_true(n > 0);
    return n;
}

/* A token and a 300-octet data frame, one octet per read with pauses under the abort
 * time: two transmissions, each whole. */
static void test_octet_by_octet(void **state)
{
    (void)state;
    uint8_t in[1024];
    size_t a = frame(in, MSTP_TOKEN, 3, 1, 0);
    size_t b = frame(in + a, MSTP_DATA_NOT_EXPECTING_REPLY, 255, 1, 300);
    lx_line_t l = {0};
    sink_t s = {0};
    for (size_t k = 0; k < a + b; k++)
        lx_line_push(&l, in + k, 1, 1000 * k, emit, &s);
    assert_int_equal(s.pieces, 2);
    assert_int_equal(s.cut[0], a);
    assert_int_equal(s.cut[1], b);
    assert_memory_equal(s.out, in, a + b);
    assert_int_equal(l.frames, 2);
    assert_int_equal(l.fragments, 0);
    assert_int_equal(lx_line_expire(&l, 1u << 30, LX_LINE_ABORT_US, emit, &s), UINT64_MAX);
}

/* Several frames in one read, and a read ending inside a header. */
static void test_back_to_back(void **state)
{
    (void)state;
    uint8_t in[2048];
    size_t n = 0, len[4];
    len[0] = frame(in + n, MSTP_POLL_FOR_MASTER, 9, 0, 0), n += len[0];
    len[1] = frame(in + n, MSTP_DATA_EXPECTING_REPLY, 5, 0, 1), n += len[1];
    len[2] = frame(in + n, MSTP_REPLY_POSTPONED, 0, 5, 0), n += len[2];
    len[3] = frame(in + n, MSTP_DATA_NOT_EXPECTING_REPLY, 0, 5, 501), n += len[3];
    lx_line_t l = {0};
    sink_t s = {0};
    size_t first = len[0] + len[1] + 5; /* three octets into the third header */
    lx_line_push(&l, in, first, 0, emit, &s);
    assert_int_equal(s.pieces, 2);
    lx_line_push(&l, in + first, n - first, 10, emit, &s);
    assert_int_equal(s.pieces, 4);
    for (unsigned k = 0; k < 4; k++)
        assert_int_equal(s.cut[k], len[k]);
    assert_memory_equal(s.out, in, n);
    assert_int_equal(l.pieces, 1);
}

/* Noise before a frame and a header with a bad CRC pass on as they came (the bus's
 * receivers judge them); the frame after them is still found whole. */
static void test_noise_and_bad_header(void **state)
{
    (void)state;
    uint8_t in[256] = {0x00, 0x12, 0x55, 0x00, 0x34};
    size_t n = 5;
    size_t bad = frame(in + n, MSTP_TOKEN, 1, 2, 0);
    in[n + 4] ^= 0x01; /* the source address: the header CRC no longer holds */
    n += bad;
    size_t good = frame(in + n, MSTP_TOKEN, 2, 1, 0);
    n += good;
    lx_line_t l = {0};
    sink_t s = {0};
    lx_line_push(&l, in, n, 0, emit, &s);
    assert_memory_equal(s.out, in, n);
    assert_int_equal(s.cut[s.pieces - 1], good);
    assert_int_equal(l.frames, 1);
    assert_true(l.fragments >= 2);
}

/* A frame that stops halfway passes on as the fragment it is once the abort time has
 * gone by, not before; a length above MSTP_MAX_DATA is no frame. */
static void test_abort(void **state)
{
    (void)state;
    uint8_t in[600];
    size_t n = frame(in, MSTP_DATA_NOT_EXPECTING_REPLY, 255, 1, 100);
    lx_line_t l = {0};
    sink_t s = {0};
    lx_line_push(&l, in, 40, 5000, emit, &s);
    assert_int_equal(s.pieces, 0);
    assert_int_equal(lx_line_expire(&l, 5000 + 60000, LX_LINE_ABORT_US, emit, &s), 40000);
    assert_int_equal(s.pieces, 0);
    assert_int_equal(lx_line_expire(&l, 5000 + LX_LINE_ABORT_US, LX_LINE_ABORT_US, emit, &s),
                     UINT64_MAX);
    assert_int_equal(s.pieces, 1);
    assert_int_equal(s.cut[0], 40);
    assert_int_equal(l.fragments, 1);
    (void)n;
    uint8_t big[8] = {0x55, 0xFF, MSTP_DATA_NOT_EXPECTING_REPLY, 1, 2, 0x02, 0x00};
    big[7] = mstp_header_crc(big + 2); /* 512 data octets: more than a frame holds */
    sink_t t = {0};
    lx_line_push(&l, big, 8, 0, emit, &t);
    assert_int_equal(t.n, 8);
    assert_int_equal(l.frames, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_octet_by_octet),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_noise_and_bad_header),
        cmocka_unit_test(test_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
