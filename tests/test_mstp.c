/*
 * MS/TP (Clause 9): the codec and CRCs against the Annex G / BACNET-NOTES vectors, the
 * Receive Frame state machine octet by octet (every error path, Tframe_abort), and
 * the Master Node state machine event by event with a hand-driven clock. A meter sits
 * on the node as a host puts it there (meter_upper up, mstp_link down, the settings
 * followed after each event); a plain node hands up to a recorder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "meter/meter.h"
#include "mstp/mstp.h"
#include "objects/obj.h"

/* ---- helpers ------------------------------------------------------------------------ */

#define HEX_MAX 1024
static size_t hex(const char *s, uint8_t *buf)
{
    size_t n = 0;
    unsigned v;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        assert_true(n < HEX_MAX);
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        buf[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* What a node sent, decoded, with the time it was sent. */
#define SENT_MAX 256
typedef struct {
    int n;
    uint8_t raw[SENT_MAX][MSTP_MAX_FRAME];
    size_t len[SENT_MAX];
    mstp_frame_t f[SENT_MAX];
    uint32_t at[SENT_MAX];
} sent_t;

static sent_t sent;
static uint32_t T; /* the clock, microseconds */

static int cap_send(void *ctx, const uint8_t *frame, size_t n)
{
    (void)ctx;
    assert_true(sent.n < SENT_MAX);
    int i = sent.n++;
    memcpy(sent.raw[i], frame, n);
    sent.len[i] = n;
    assert_int_equal(mstp_decode(sent.raw[i], n, &sent.f[i]), (int)n);
    sent.at[i] = T;
    return 0;
}

/* NPDUs handed up (a test master's layer above: it records and answers nothing), and
 * Test_Responses handed to the port. */
static int up_count;
static uint8_t up_src;
static uint8_t up_data[MSTP_MAX_DATA];
static size_t up_len;
static int test_responses;
static uint8_t tr_data[MSTP_MAX_DATA];
static size_t tr_len;

static size_t rec_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                          size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    (void)ctx, (void)bcast, (void)out, (void)cap, (void)reply_bcast;
    assert_int_equal(src->len, 1);
    up_count++;
    up_src = src->mac[0];
    memcpy(up_data, npdu, len);
    up_len = len;
    return 0;
}

static const net_upper_t recorder = {NULL, rec_receive};

static void cap_test_response(void *ctx, uint8_t src, const uint8_t *data, size_t len)
{
    (void)ctx, (void)src;
    test_responses++;
    memcpy(tr_data, data, len);
    tr_len = len;
}

static const mstp_port_t port = {.send = cap_send, .test_response = cap_test_response};

static mstp_t node;
static meter_t mt;       /* the meter on the node, with start_meter */
static bool hosting;     /* the node carries mt */
static uint32_t host_writes;

static uint32_t octet_us(void)
{
    return mstp_octets_us(&node, 1);
}

/* The host's part after each event (run.c, the virtual bus): the meter's clock, and
 * settings written over BACnet or the panel applied to the node at once. */
static void host(void)
{
    if (!hosting)
        return;
    meter_tick(&mt, T / 1000u);
    if (mt.dev.writes == host_writes)
        return;
    host_writes = mt.dev.writes;
    mstp_config_t want;
    mstp_config_default(&want);
    want.mac = mt.dev.id.mac;
    want.max_master = mt.dev.id.max_master;
    want.max_info_frames = mt.dev.id.max_info_frames;
    want.baud = mt.dev.id.baud;
    if (mstp_reconfigure(&node, &want, T) & MSTP_NEW_MAC)
        meter_announce(&mt);
}

/* Octets arriving back to back, each timestamped when complete. */
static void feed(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        T += octet_us();
        mstp_rx(&node, p[i], T);
        host();
    }
}

static void feed_frame(uint8_t type, uint8_t dst, uint8_t src, const uint8_t *data, size_t len)
{
    uint8_t f[MSTP_MAX_FRAME];
    size_t n = mstp_encode(f, sizeof f, type, dst, src, data, len);
    assert_true(n > 0);
    T += 600; /* the sender's turnaround */
    feed(f, n);
}

/* Let time pass with a tick every millisecond (and one at the end). */
static void advance(uint32_t us)
{
    uint32_t end = T + us;
    while ((int32_t)(end - T) > 1000) {
        T += 1000;
        mstp_tick(&node, T);
        host();
    }
    T = end;
    mstp_tick(&node, T);
    host();
}

static const mstp_frame_t *last(void)
{
    assert_true(sent.n > 0);
    return &sent.f[sent.n - 1];
}

static void expect_sent(uint8_t type, uint8_t dst)
{
    const mstp_frame_t *f = last();
    if (f->type != type || f->dst != dst)
        printf("sent type %u to %u, expected type %u to %u\n", f->type, f->dst, type, dst);
    assert_int_equal(f->type, type);
    assert_int_equal(f->dst, dst);
    assert_int_equal(f->src, node.cfg.mac);
}

static uint32_t T0 = 1000000; /* when nodes start */

static void start_node_up(uint8_t mac, uint8_t max_master, const net_upper_t *up)
{
    mstp_config_t c;
    mstp_config_default(&c);
    c.mac = mac;
    c.max_master = max_master;
    memset(&sent, 0, sizeof sent);
    up_count = test_responses = 0;
    hosting = false;
    T = T0;
    assert_true(mstp_init(&node, &port, &c, up, T));
    assert_int_equal(node.state, MSTP_ST_IDLE);
}

static void start_node(uint8_t mac, uint8_t max_master)
{
    start_node_up(mac, max_master, &recorder);
}

/* A meter on the node, as a host starts one: its settings make the link's, its upper
 * layer goes on the node, its I-Am down the node's link (it waits for the token). */
static void start_meter(uint8_t mac, uint8_t max_master)
{
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "SN42");
    id.instance = 1234;
    id.mac = mac;
    id.max_master = max_master;
    mtr_config_default(&cfg);
    meter_init(&mt, &id, &cfg, NULL);
    net_upper_t up = meter_upper(&mt);
    start_node_up(mac, max_master, &up);
    net_link_t link = mstp_link(&node);
    meter_set_link(&mt, &link);
    hosting = true;
    host_writes = mt.dev.writes;
    meter_tick(&mt, T / 1000u);
    meter_announce(&mt);
}

/* ---- the codec -------------------------------------------------------------------- */

static void test_crc_vectors(void **state)
{
    (void)state;
    /* Annex G.1 / BACNET-NOTES: header 00 10 05 00 00 -> register 0x73, sent 0x8C, and
     * the receiver's register over the five octets plus the CRC octet is 0x55. */
    const uint8_t hdr[5] = {0x00, 0x10, 0x05, 0x00, 0x00};
    uint8_t c8 = 0xFF;
    for (int i = 0; i < 5; i++)
        c8 = mstp_crc8(c8, hdr[i]);
    assert_int_equal(c8, 0x73);
    assert_int_equal(mstp_header_crc(hdr), 0x8C);
    assert_int_equal(mstp_crc8(c8, 0x8C), MSTP_CRC8_RESIDUE);

    /* Annex G.2: data 01 22 30 -> register 0x42EF, sent as 10 BD; residue 0xF0B8. */
    const uint8_t data[3] = {0x01, 0x22, 0x30};
    uint16_t c16 = 0xFFFF;
    for (int i = 0; i < 3; i++)
        c16 = mstp_crc16(c16, data[i]);
    assert_int_equal(c16, 0x42EF);
    assert_int_equal(mstp_data_crc(data, 3), 0xBD10);
    c16 = mstp_crc16(mstp_crc16(c16, 0x10), 0xBD);
    assert_int_equal(c16, MSTP_CRC16_RESIDUE);
}

static void test_encode_decode(void **state)
{
    (void)state;
    uint8_t f[MSTP_MAX_FRAME + 8], want[64];
    /* Token 7 -> 0 (BACNET-NOTES). */
    size_t n = mstp_encode(f, sizeof f, MSTP_TOKEN, 0, 7, NULL, 0);
    assert_int_equal(n, hex("55 FF 00 00 07 00 00 37", want));
    assert_memory_equal(f, want, n);
    /* The Annex G header (type 0, dst 0x10, src 5) goes out with CRC 0x8C. */
    n = mstp_encode(f, sizeof f, MSTP_TOKEN, 0x10, 0x05, NULL, 0);
    assert_int_equal(n, hex("55 FF 00 10 05 00 00 8C", want));
    assert_memory_equal(f, want, n);
    /* A data frame carrying the Annex G data: CRC low octet first. */
    const uint8_t data[3] = {0x01, 0x22, 0x30};
    n = mstp_encode(f, sizeof f, MSTP_DATA_NOT_EXPECTING_REPLY, 0x10, 0x05, data, 3);
    assert_int_equal(n, 13);
    assert_int_equal(f[5], 0x00);
    assert_int_equal(f[6], 0x03);
    assert_int_equal(f[11], 0x10);
    assert_int_equal(f[12], 0xBD);
    mstp_frame_t fr;
    assert_int_equal(mstp_decode(f, n, &fr), 13);
    assert_int_equal(fr.type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(fr.dst, 0x10);
    assert_int_equal(fr.src, 0x05);
    assert_int_equal(fr.len, 3);
    assert_memory_equal(fr.data, data, 3);

    /* 501 data octets is the most; 502 is refused; so is a buffer too small. */
    static uint8_t big[MSTP_MAX_DATA + 1];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    n = mstp_encode(f, sizeof f, MSTP_DATA_EXPECTING_REPLY, 3, 4, big, MSTP_MAX_DATA);
    assert_int_equal(n, MSTP_MAX_FRAME);
    assert_int_equal(mstp_decode(f, n, &fr), (int)MSTP_MAX_FRAME);
    assert_int_equal(fr.len, MSTP_MAX_DATA);
    assert_int_equal(mstp_encode(f, sizeof f, 6, 3, 4, big, MSTP_MAX_DATA + 1), 0);
    assert_int_equal(mstp_encode(f, 12, 6, 3, 4, data, 3), 0);
    assert_int_equal(mstp_encode(f, 7, MSTP_TOKEN, 3, 4, NULL, 0), 0);

    /* Decode errors. */
    n = mstp_encode(f, sizeof f, MSTP_DATA_NOT_EXPECTING_REPLY, 0x10, 0x05, data, 3);
    assert_int_equal(mstp_decode(f, 12, &fr), MSTP_E_SHORT);
    assert_int_equal(mstp_decode(f, 5, &fr), MSTP_E_SHORT);
    f[12] ^= 1;
    assert_int_equal(mstp_decode(f, n, &fr), MSTP_E_DATA_CRC);
    f[12] ^= 1;
    f[4] ^= 0x40;
    assert_int_equal(mstp_decode(f, n, &fr), MSTP_E_HEADER_CRC);
    f[4] ^= 0x40;
    f[1] = 0xFE;
    assert_int_equal(mstp_decode(f, n, &fr), MSTP_E_PREAMBLE);
    /* A header (CRC right) announcing 502 octets. */
    uint8_t h[8] = {0x55, 0xFF, 6, 1, 2, 0x01, 0xF6, 0};
    h[7] = mstp_header_crc(h + 2);
    assert_int_equal(mstp_decode(h, 8, &fr), MSTP_E_TOO_LONG);
}

/* ---- the Receive Frame state machine ------------------------------------------------ */

static mstp_rx_t rx;
static uint32_t rt;

/* Feed octets 1 octet time apart (at 76.8 k: 131 us); returns the last result and checks
 * every earlier one was NONE. */
static int rx_feed(const uint8_t *p, size_t n)
{
    int ev = MSTP_RX_NONE;
    for (size_t i = 0; i < n; i++) {
        rt += 131;
        ev = mstp_rx_octet(&rx, p[i], rt);
        if (i + 1 < n && ev != MSTP_RX_NONE && ev != MSTP_RX_NOT_FOR_US)
            fail_msg("event %d at octet %lu of %lu", ev, (unsigned long)i, (unsigned long)n);
    }
    return ev;
}

static int rx_hex(const char *s)
{
    uint8_t b[HEX_MAX];
    return rx_feed(b, hex(s, b));
}

static int rx_frame(uint8_t type, uint8_t dst, uint8_t src, const uint8_t *data, size_t len)
{
    uint8_t f[MSTP_MAX_FRAME];
    size_t n = mstp_encode(f, sizeof f, type, dst, src, data, len);
    return rx_feed(f, n);
}

#define ABORT_76K8 782u /* 60 bit times at 76800 baud, rounded up */

static void rx_setup(uint8_t addr, bool promiscuous)
{
    mstp_rx_init(&rx, addr, promiscuous, ABORT_76K8);
    rt = 5000;
}

static void test_rx_valid_frames(void **state)
{
    (void)state;
    rx_setup(0x10, false);
    /* The Annex G token, octet by octet: nothing until the CRC octet. */
    assert_int_equal(rx_hex("55 FF 00 10 05 00 00"), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_HEADER);
    assert_int_equal(rx_hex("8C"), MSTP_RX_FRAME);
    assert_int_equal(rx.frame.type, 0);
    assert_int_equal(rx.frame.dst, 0x10);
    assert_int_equal(rx.frame.src, 0x05);
    assert_int_equal(rx.frame.len, 0);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    /* A data frame to us with the Annex G data. */
    assert_int_equal(rx_hex("55 FF 06 10 05 00 03 9C 01 22 30 10 BD"), MSTP_RX_FRAME);
    assert_int_equal(rx.frame.len, 3);
    assert_memory_equal(rx.frame.data, "\x01\x22\x30", 3);
    /* Broadcast is ours too; garbage and repeated 55s before the preamble are eaten. */
    assert_int_equal(rx_hex("00 FF 12 55 55 55"), MSTP_RX_NONE);
    assert_int_equal(rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 255, 3, (const uint8_t *)"abc", 3),
                     MSTP_RX_FRAME);
    assert_int_equal(rx.c.frames, 3);
    /* 55 then not FF: back to IDLE. */
    assert_int_equal(rx_hex("55 12"), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    /* The longest frame: 501 data octets. */
    static uint8_t big[MSTP_MAX_DATA];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i ^ 0x55);
    assert_int_equal(rx_frame(MSTP_DATA_EXPECTING_REPLY, 0x10, 1, big, sizeof big),
                     MSTP_RX_FRAME);
    assert_int_equal(rx.frame.len, MSTP_MAX_DATA);
    assert_memory_equal(rx.frame.data, big, sizeof big);
    /* Reserved and proprietary types are frames like any other. */
    assert_int_equal(rx_frame(0x80, 0x10, 1, big, 10), MSTP_RX_FRAME);
    assert_int_equal(rx.frame.type, 0x80);
}

static void test_rx_errors(void **state)
{
    (void)state;
    rx_setup(0x10, false);
    /* Bad header CRC. */
    assert_int_equal(rx_hex("55 FF 00 10 05 00 00 8D"), MSTP_RX_BAD_HEADER);
    assert_int_equal(rx.c.header_crc_errors, 1);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    /* Bad data CRC (one data bit flipped). */
    assert_int_equal(rx_hex("55 FF 06 10 05 00 03 9C 01 22 31 10 BD"), MSTP_RX_BAD_DATA);
    assert_int_equal(rx.c.data_crc_errors, 1);
    /* Not for us: reported at the header, its data skipped without a check, and the
     * next frame is received. */
    assert_int_equal(rx_frame(MSTP_TOKEN, 0x11, 5, NULL, 0), MSTP_RX_NOT_FOR_US);
    static uint8_t big[600];
    memset(big, 0x55, sizeof big); /* data that looks like preambles must not resync */
    uint8_t f[MSTP_MAX_FRAME];
    size_t n = mstp_encode(f, sizeof f, MSTP_DATA_EXPECTING_REPLY, 0x11, 5, big, 100);
    assert_int_equal(rx_feed(f, 8), MSTP_RX_NOT_FOR_US);
    assert_int_equal(rx.state, MSTP_RS_SKIP_DATA);
    assert_int_equal(rx_feed(f + 8, n - 8), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    assert_int_equal(rx_frame(MSTP_TOKEN, 0x10, 5, NULL, 0), MSTP_RX_FRAME);
    assert_int_equal(rx.c.not_for_us, 2);
    /* Too long for us: 502 octets, reported only after they (and the CRC) passed. */
    uint8_t h[8] = {0x55, 0xFF, 6, 0x10, 2, 0x01, 0xF6, 0};
    h[7] = mstp_header_crc(h + 2);
    assert_int_equal(rx_feed(h, 8), MSTP_RX_NONE);
    assert_int_equal(rx_feed(big, 503), MSTP_RX_NONE);
    assert_int_equal(rx_feed(big, 1), MSTP_RX_TOO_LONG);
    assert_int_equal(rx.c.too_long, 1);
    assert_int_equal(rx_frame(MSTP_TOKEN, 0x10, 5, NULL, 0), MSTP_RX_FRAME);
    /* A frame for another node may be longer than ours (a COBS frame): skipped quietly. */
    uint8_t h2[8] = {0x55, 0xFF, 32, 0x11, 2, 0x02, 0x00, 0};
    h2[7] = mstp_header_crc(h2 + 2);
    assert_int_equal(rx_feed(h2, 8), MSTP_RX_NOT_FOR_US);
    assert_int_equal(rx_feed(big, 512), MSTP_RX_NONE);
    assert_int_equal(rx_feed(big, 2), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    /* Receive errors: eaten in IDLE, PREAMBLE restarts, inside a frame it is invalid. */
    assert_int_equal(mstp_rx_error(&rx, rt += 131), MSTP_RX_NONE);
    assert_int_equal(rx_hex("55"), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_error(&rx, rt += 131), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    assert_int_equal(rx_hex("55 FF 00 10"), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_error(&rx, rt += 131), MSTP_RX_ERROR);
    assert_int_equal(rx_hex("55 FF 06 10 05 00 03 9C 01"), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_error(&rx, rt += 131), MSTP_RX_ERROR);
    assert_int_equal(rx.c.frame_errors, 2);
    /* An error while skipping another node's data: back to IDLE, nothing to report. */
    n = mstp_encode(f, sizeof f, MSTP_DATA_EXPECTING_REPLY, 0x11, 5, big, 100);
    rx_feed(f, 20);
    assert_int_equal(mstp_rx_error(&rx, rt += 131), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    assert_int_equal(rx.c.errors, 5);
}

static void test_rx_frame_abort(void **state)
{
    (void)state;
    rx_setup(0x10, false);
    /* A gap of exactly Tframe_abort inside the header is tolerated... */
    assert_int_equal(rx_hex("55 FF 00 10"), MSTP_RX_NONE);
    rt += ABORT_76K8 - 131;
    assert_int_equal(rx_hex("05 00 00 8C"), MSTP_RX_FRAME);
    /* ... one microsecond more aborts: the late octet is reported as the abort and then
     * starts afresh in IDLE. */
    assert_int_equal(rx_hex("55 FF 00 10"), MSTP_RX_NONE);
    rt += ABORT_76K8 - 131 + 1;
    assert_int_equal(rx_hex("05"), MSTP_RX_ABORTED);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    assert_int_equal(rx.c.aborts, 1);
    /* The timeout without an octet (the tick), in DATA. */
    assert_int_equal(rx_hex("55 FF 06 10 05 00 03 9C 01"), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_timeout(&rx, rt + ABORT_76K8), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_timeout(&rx, rt + ABORT_76K8 + 1), MSTP_RX_ABORTED);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    rt += ABORT_76K8 + 1;
    /* After an abort a whole frame is received. */
    assert_int_equal(rx_frame(MSTP_TOKEN, 0x10, 5, NULL, 0), MSTP_RX_FRAME);
    /* A truncated frame followed (after a gap) by a good one: the good one survives. */
    assert_int_equal(rx_hex("55 FF 06 10 05 00 30"), MSTP_RX_NONE);
    rt += 5000;
    assert_int_equal(rx_hex("55"), MSTP_RX_ABORTED);
    assert_int_equal(rx_hex("FF 00 10 05 00 00 8C"), MSTP_RX_FRAME);
    /* In PREAMBLE a timeout is no invalid frame: nothing had started. */
    assert_int_equal(rx_hex("55"), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_timeout(&rx, rt + 10000), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    /* Skipping another node's data: a timeout ends it quietly. */
    rt += 10000;
    uint8_t other[MSTP_MAX_FRAME];
    mstp_encode(other, sizeof other, MSTP_DATA_NOT_EXPECTING_REPLY, 0x11, 5, other + 100, 48);
    assert_int_equal(rx_feed(other, 8), MSTP_RX_NOT_FOR_US);
    assert_int_equal(rx_feed(other + 8, 10), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_timeout(&rx, rt + 10000), MSTP_RX_NONE);
    assert_int_equal(rx.state, MSTP_RS_IDLE);
    /* Over-long data for us cut short by a timeout is still an invalid frame. */
    rt += 10000;
    uint8_t h[8] = {0x55, 0xFF, 6, 0x10, 2, 0x03, 0x00, 0};
    h[7] = mstp_header_crc(h + 2);
    assert_int_equal(rx_feed(h, 8), MSTP_RX_NONE);
    assert_int_equal(mstp_rx_timeout(&rx, rt + 10000), MSTP_RX_TOO_LONG);
    /* The timestamps wrap: a frame straddling 2^32 us is received. */
    rt = 0xFFFFFFFFu - 400;
    assert_int_equal(rx_frame(MSTP_TOKEN, 0x10, 5, NULL, 0), MSTP_RX_FRAME);
    assert_true(rt < 1000);
}

static void test_rx_promiscuous(void **state)
{
    (void)state;
    rx_setup(0, true);
    assert_int_equal(rx_frame(MSTP_TOKEN, 0x11, 5, NULL, 0), MSTP_RX_FRAME);
    assert_int_equal(rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 0x42, 5, (const uint8_t *)"xy", 2),
                     MSTP_RX_FRAME);
    assert_int_equal(rx.frame.dst, 0x42);
    assert_int_equal(rx.c.not_for_us, 0);
}

/* ---- the Master Node state machine --------------------------------------------------- */

static void test_init_and_config(void **state)
{
    (void)state;
    mstp_config_t c;
    mstp_config_default(&c);
    assert_int_equal(c.mac, 1);
    assert_int_equal(c.max_master, 127);
    assert_int_equal(c.max_info_frames, 1);
    assert_int_equal(c.baud, 76800);
    c.mac = 9;
    c.max_master = 20;
    c.baud = 9600;
    assert_true(mstp_init(&node, &port, &c, NULL, 0));
    assert_int_equal(node.rx.abort_us, 6250); /* 60 bit times at 9600 */
    /* Refused: Max_Master below the MAC, MAC above 127, a baud rate Clause 9 lacks,
     * timers outside Clause 9's ranges. (57600 is a Clause 9 rate: the meter lacks it,
     * and its settings refuse it before they reach the link.) */
    mstp_config_t bad = c;
    bad.max_master = 8;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));
    bad = c;
    bad.mac = 128;
    bad.max_master = 127;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));
    bad = c;
    bad.baud = 4800;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));
    bad.baud = 57600;
    assert_true(mstp_init(&node, &port, &bad, NULL, 0));
    bad = c;
    bad.usage_timeout_us = 19999;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));
    bad = c;
    bad.reply_timeout_us = 301000;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));
    bad = c;
    bad.frame_abort_us = 100001;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));
    bad = c;
    bad.max_info_frames = 0;
    assert_false(mstp_init(&node, &port, &bad, NULL, 0));

    /* INITIALIZE -> IDLE: NS = PS = TS, TokenCount = Npoll; a meter's I-Am, sent down
     * the link, is queued. */
    start_meter(5, 127);
    assert_int_equal(node.ns, 5);
    assert_int_equal(node.ps, 5);
    assert_int_equal(node.token_count, MSTP_NPOLL);
    assert_int_equal(node.txq_count, 1);
    assert_int_equal(node.txq[0].type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(node.txq[0].dst, 255);
    assert_int_equal(sent.n, 0); /* nothing is sent without the token */
}

static void test_reply_to_pfm(void **state)
{
    (void)state;
    start_node(5, 127);
    feed_frame(MSTP_POLL_FOR_MASTER, 5, 3, NULL, 0);
    assert_int_equal(sent.n, 1);
    expect_sent(MSTP_REPLY_TO_PFM, 3);
    /* The node's clock: its answer starts after the turnaround, 40 bit times, so
     * SilenceTimer restarts when the answer's last octet has left. */
    assert_int_equal(node.tx_end_us - T, 521u + mstp_octets_us(&node, 8));
    assert_int_equal(node.state, MSTP_ST_IDLE);
    /* Polls for others and broadcast polls are not answered. */
    feed_frame(MSTP_POLL_FOR_MASTER, 6, 3, NULL, 0);
    feed_frame(MSTP_POLL_FOR_MASTER, 255, 3, NULL, 0);
    assert_int_equal(sent.n, 1);
    assert_int_equal(node.c.unwanted, 1);
    /* Nor polls from the broadcast address or from our own (a duplicate station). */
    feed_frame(MSTP_POLL_FOR_MASTER, 5, 255, NULL, 0);
    feed_frame(MSTP_POLL_FOR_MASTER, 5, 5, NULL, 0);
    feed_frame(MSTP_TEST_REQUEST, 5, 255, NULL, 0);
    assert_int_equal(sent.n, 1);
    assert_int_equal(node.c.unwanted, 4);
}

/* Give the node the token from station `from`. */
static void give_token(uint8_t from)
{
    feed_frame(MSTP_TOKEN, node.cfg.mac, from, NULL, 0);
}

/* The station we passed the token to uses it: it passes it on to station 3. */
static void successor_uses_token(void)
{
    feed_frame(MSTP_TOKEN, 3, node.ns, NULL, 0);
}

static void test_token_pass_and_pfm_walk(void **state)
{
    (void)state;
    start_node(5, 10);
    /* First token: no successor known -> Poll For Master from TS+1 (NextStationUnknown). */
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    assert_int_equal(node.state, MSTP_ST_POLL_FOR_MASTER);
    /* No answer within Tusage_timeout of the end of the poll -> the next station
     * (SendNextPFM). */
    advance(18000);
    assert_int_equal(sent.n, 1);
    advance(4000);
    expect_sent(MSTP_POLL_FOR_MASTER, 7);
    advance(22000);
    expect_sent(MSTP_POLL_FOR_MASTER, 8);
    /* Station 8 answers: it becomes NS and gets the token (ReceivedReplyToPFM). */
    feed_frame(MSTP_REPLY_TO_PFM, 5, 8, NULL, 0);
    expect_sent(MSTP_TOKEN, 8);
    assert_int_equal(node.ns, 8);
    assert_int_equal(node.ps, 5);
    assert_int_equal(node.state, MSTP_ST_PASS_TOKEN);
    assert_int_equal(node.c.successors_found, 1);
    /* 8 starts using it (SawTokenUser) -> IDLE. */
    successor_uses_token();
    assert_int_equal(node.state, MSTP_ST_IDLE);
    /* An unanswered PFM that the reply of another station garbles: an invalid frame
     * ends the wait at once. */
    start_node(5, 10);
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    T += 600;
    feed((const uint8_t *)"\x55\xFF\x02\x05\x06\x00\x00\x00", 8); /* bad header CRC */
    /* ... once the line has been quiet for Tframe_abort (the rest of a damaged frame
     * could still be arriving). */
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    advance(1000);
    expect_sent(MSTP_POLL_FOR_MASTER, 7);
    assert_int_equal(node.c.invalid_frames, 1);
}

static void test_pass_token_retry_and_new_successor(void **state)
{
    (void)state;
    start_node(5, 10);
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    expect_sent(MSTP_TOKEN, 6);
    int n = sent.n;
    /* 6 stays silent: one retry after Tusage_timeout (Nretry_token = 1)... */
    advance(18000);
    assert_int_equal(sent.n, n);
    advance(4000);
    expect_sent(MSTP_TOKEN, 6);
    assert_int_equal(node.c.token_retries, 1);
    /* ... then FindNewSuccessor: PFM to NS+1, NS = TS. */
    advance(22000);
    expect_sent(MSTP_POLL_FOR_MASTER, 7);
    assert_int_equal(node.ns, 5);
    assert_int_equal(node.c.successor_failed, 1);
    /* Nobody else: the walk goes 8, 9, 10, 0, 1, 2, 3, 4 and stops before TS. */
    const uint8_t walk[] = {8, 9, 10, 0, 1, 2, 3, 4};
    for (size_t i = 0; i < sizeof walk; i++) {
        advance(22000);
        expect_sent(MSTP_POLL_FOR_MASTER, walk[i]);
    }
    /* DeclareSoleMaster: it keeps the token, nothing to send, so it polls again at
     * once (after Npoll uses of the token) -- its maintenance walk restarts at TS+1. */
    n = sent.n;
    advance(22000);
    assert_int_equal(node.c.sole_master, 1);
    assert_true(node.sole_master);
    assert_int_equal(sent.n, n + 1);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    /* A sole master that finds a station passes the token to it. */
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    expect_sent(MSTP_TOKEN, 6);
    assert_false(node.sole_master);
}

/* Tusage_timeout set to its longest (a wire shared with a late peer): the token is
 * retried after 100 ms, not 20; out of range is refused and changes nothing. */
static void test_usage_timeout_longest(void **state)
{
    (void)state;
    start_node(5, 10);
    assert_false(mstp_set_usage_timeout(&node, MSTP_USAGE_TIMEOUT_MIN_US - 1));
    assert_false(mstp_set_usage_timeout(&node, MSTP_USAGE_TIMEOUT_MAX_US + 1));
    assert_int_equal(node.cfg.usage_timeout_us, MSTP_USAGE_TIMEOUT_MIN_US);
    assert_true(mstp_set_usage_timeout(&node, MSTP_USAGE_TIMEOUT_MAX_US));
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    expect_sent(MSTP_TOKEN, 6);
    int n = sent.n;
    advance(98000);
    assert_int_equal(sent.n, n);
    advance(4000);
    expect_sent(MSTP_TOKEN, 6);
    assert_int_equal(node.c.token_retries, 1);
}

static void test_npoll_maintenance(void **state)
{
    (void)state;
    start_node(5, 10);
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    advance(22000);
    expect_sent(MSTP_POLL_FOR_MASTER, 7);
    advance(22000);
    expect_sent(MSTP_POLL_FOR_MASTER, 8);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 8, NULL, 0);
    expect_sent(MSTP_TOKEN, 8);
    successor_uses_token();
    /* TokenCount is 0: the token goes straight on 49 times (Npoll - 1)... */
    for (int i = 0; i < 49; i++) {
        give_token(3);
        expect_sent(MSTP_TOKEN, 8);
        successor_uses_token();
    }
    assert_int_equal(node.token_count, 49);
    /* ... then one maintenance poll per token through the gap 6, 7 ... */
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    advance(22000);
    expect_sent(MSTP_TOKEN, 8); /* DoneWithPFM */
    successor_uses_token();
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 7);
    advance(22000);
    expect_sent(MSTP_TOKEN, 8);
    successor_uses_token();
    /* ... and when PS reaches NS - 1 the cycle restarts (ResetMaintenancePFM). */
    give_token(3);
    expect_sent(MSTP_TOKEN, 8);
    assert_int_equal(node.token_count, 1);
    assert_int_equal(node.ps, 5);
    successor_uses_token();
    for (int i = 0; i < 48; i++) {
        give_token(3);
        expect_sent(MSTP_TOKEN, 8);
        successor_uses_token();
    }
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    /* A station that answers a maintenance poll becomes the new NS. */
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    expect_sent(MSTP_TOKEN, 6);
    assert_int_equal(node.ns, 6);
}

static void test_lost_token(void **state)
{
    (void)state;
    start_node(5, 10);
    /* Tno_token of silence -> NO_TOKEN; our slot starts Tslot * TS later. */
    advance(499000);
    assert_int_equal(node.state, MSTP_ST_IDLE);
    advance(1000);
    assert_int_equal(node.state, MSTP_ST_NO_TOKEN);
    assert_int_equal(node.c.lost_tokens, 1);
    advance(49000);
    assert_int_equal(sent.n, 0);
    advance(1000); /* 500 + 10 * 5 ms */
    expect_sent(MSTP_POLL_FOR_MASTER, 6); /* GenerateToken */
    assert_int_equal(node.c.tokens_generated, 1);

    /* A lower station generates first (its PFM seen within our wait): back to IDLE. */
    start_node(5, 10);
    advance(520000);
    assert_int_equal(node.state, MSTP_ST_NO_TOKEN);
    feed_frame(MSTP_POLL_FOR_MASTER, 3, 2, NULL, 0);
    assert_int_equal(node.state, MSTP_ST_IDLE);
    assert_int_equal(sent.n, 0);

    /* A host that stalled past its slot: no token from us in a higher slot... */
    start_node(5, 10);
    T += 565000; /* 10 ms past the end of our slot, without a tick */
    mstp_tick(&node, T);
    assert_int_equal(node.state, MSTP_ST_NO_TOKEN);
    assert_int_equal(sent.n, 0);
    /* ... but past every slot nobody took it, so we do. */
    advance(1300000);
    assert_true(sent.n > 0);
    assert_int_equal(sent.f[0].type, MSTP_POLL_FOR_MASTER);
    assert_int_equal(sent.f[0].dst, 6);
}

static void test_duplicate_token(void **state)
{
    (void)state;
    start_node(5, 10);
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    successor_uses_token();
    /* A DER waits for the token; it goes out and the node waits for the reply. */
    assert_int_equal(mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 9, (const uint8_t *)"\x01\x04", 2), 0);
    give_token(3);
    expect_sent(MSTP_DATA_EXPECTING_REPLY, 9);
    assert_int_equal(node.state, MSTP_ST_WAIT_FOR_REPLY);
    /* A token for us now means two tokens: drop ours, resynchronise in IDLE. */
    int n = sent.n;
    give_token(4);
    assert_int_equal(node.state, MSTP_ST_IDLE);
    assert_int_equal(node.c.unexpected, 1);
    assert_int_equal(sent.n, n); /* that token was not used */
    /* Same in POLL_FOR_MASTER: a frame that is not the Reply-To-PFM. */
    start_node(5, 10);
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    feed_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 255, 2, (const uint8_t *)"\x01\x00", 2);
    assert_int_equal(node.state, MSTP_ST_IDLE);
    assert_int_equal(node.c.unexpected, 1);
    /* A broadcast token is not a token. */
    n = sent.n;
    feed_frame(MSTP_TOKEN, 255, 3, NULL, 0);
    assert_int_equal(sent.n, n);
}

static void test_max_info_frames(void **state)
{
    (void)state;
    start_node(5, 10);
    assert_true(mstp_set_max_info_frames(&node, 2));
    assert_false(mstp_set_max_info_frames(&node, 0));
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    successor_uses_token();
    for (uint8_t i = 0; i < 3; i++)
        assert_int_equal(mstp_queue(&node, MSTP_DATA_NOT_EXPECTING_REPLY, 20 + i, &i, 1), 0);
    int n = sent.n;
    give_token(3);
    /* Two frames, then the token. */
    assert_int_equal(sent.n, n + 3);
    assert_int_equal(sent.f[n].dst, 20);
    assert_int_equal(sent.f[n + 1].dst, 21);
    expect_sent(MSTP_TOKEN, 6);
    successor_uses_token();
    give_token(3);
    /* One frame left, a second allowed: the node keeps the token until that frame has
     * left the wire, so the layer above can still queue one (a router refilling from
     * its queue between ticks) ... */
    assert_int_equal(sent.n, n + 4);
    assert_int_equal(sent.f[n + 3].dst, 22);
    assert_int_equal(node.state, MSTP_ST_DONE_WITH_TOKEN);
    advance(node.tx_end_us - T + 1000);
    /* ... and, nothing queued, passes it then. */
    assert_int_equal(sent.n, n + 5);
    expect_sent(MSTP_TOKEN, 6);
    /* A frame queued while the last is on the wire goes in the same token. */
    successor_uses_token();
    uint8_t b = 7;
    give_token(3);
    assert_int_equal(sent.n, n + 6); /* nothing queued: only a token */
    expect_sent(MSTP_TOKEN, 6);
    successor_uses_token();
    assert_int_equal(mstp_queue(&node, MSTP_DATA_NOT_EXPECTING_REPLY, 23, &b, 1), 0);
    give_token(3);
    assert_int_equal(sent.n, n + 7);
    assert_int_equal(mstp_queue(&node, MSTP_DATA_NOT_EXPECTING_REPLY, 24, &b, 1), 0);
    advance(node.tx_end_us - T + 1000);
    assert_int_equal(sent.n, n + 9);
    assert_int_equal(sent.f[n + 7].dst, 24);
    expect_sent(MSTP_TOKEN, 6);
    n += 4;
    /* The queue holds MSTP_TXQ_LEN frames; refused kinds are refused. */
    for (unsigned i = 0; i < MSTP_TXQ_LEN; i++)
        assert_int_equal(mstp_queue(&node, MSTP_DATA_NOT_EXPECTING_REPLY, 1, NULL, 0), 0);
    assert_int_equal(mstp_queue(&node, MSTP_DATA_NOT_EXPECTING_REPLY, 1, NULL, 0), -1);
    assert_int_equal(node.c.queue_full, 1);
    /* Through the link a full queue is "busy, try later" (a router keeps the NPDU and
     * offers it again); what could never be sent stays a hard error. */
    net_link_t link = mstp_link(&node);
    static const uint8_t big[MSTP_MAX_DATA + 1u];
    const net_addr_t to3 = {1, {3}}, ip = {6, {127, 0, 0, 1, 0xBA, 0xC0}};
    assert_int_equal(link.send(link.ctx, &to3, (const uint8_t *)"\x01\x00", 2), NET_ERR_BUSY);
    assert_int_equal(link.send(link.ctx, NULL, big, sizeof big), -1);
    assert_int_equal(link.send(link.ctx, &ip, (const uint8_t *)"\x01\x00", 2), -1);
    /* The token empties the queue: the link takes it again. */
    give_token(3);
    assert_int_equal(node.txq_count, MSTP_TXQ_LEN - 2u);
    assert_int_equal(link.send(link.ctx, &to3, (const uint8_t *)"\x01\x00", 2), 0);
    start_node(5, 10);
    assert_int_equal(mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 255, NULL, 0), -1);
    assert_int_equal(mstp_queue(&node, MSTP_TEST_REQUEST, 255, NULL, 0), -1);
    assert_int_equal(mstp_queue(&node, MSTP_TOKEN, 3, NULL, 0), -1);
    assert_int_equal(mstp_queue(&node, MSTP_REPLY_POSTPONED, 3, NULL, 0), -1);
}

static void test_answer_within_treply_delay(void **state)
{
    (void)state;
    start_meter(5, 127);
    /* ReadProperty Device 1234 Object_Name, expecting a reply. */
    uint8_t rq[64];
    size_t n = hex("01 04 00 05 01 0C 0C 02 00 04 D2 19 4D", rq);
    feed_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, n);
    uint32_t got = T;
    /* Answered at once, as DNER to the requester, after only the turnaround. */
    assert_int_equal(sent.n, 1);
    expect_sent(MSTP_DATA_NOT_EXPECTING_REPLY, 3);
    assert_int_equal(sent.at[0], got);
    assert_int_equal(node.c.reply_latency_max_us, 521);
    assert_true(node.c.reply_latency_max_us < MSTP_TREPLY_DELAY_US);
    assert_int_equal(node.c.replies, 1);
    const mstp_frame_t *f = last();
    uint8_t want[16];
    size_t wn = hex("01 00 30 01 0C 0C 02 00 04 D2 19 4D 3E 75", want);
    assert_memory_equal(f->data, want, wn);
    assert_int_equal(node.state, MSTP_ST_IDLE);
    /* A broadcast DER is nobody's to answer. */
    feed_frame(MSTP_DATA_EXPECTING_REPLY, 255, 3, rq, n);
    assert_int_equal(sent.n, 1);
    /* A request the server drops (a confirmed service under DCC DISABLE) gets Reply
     * Postponed at once rather than a Treply_timeout wait. */
    mt.srv.dcc = BAC_DCC_DISABLE;
    feed_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, n);
    expect_sent(MSTP_REPLY_POSTPONED, 3);
    assert_int_equal(node.c.postponed, 1);
    mt.srv.dcc = BAC_DCC_ENABLE;
    /* A Who-Is sent as DER: the I-Am is a broadcast, so Reply Postponed now and the
     * I-Am when the token comes. */
    n = hex("01 04 10 08", rq);
    feed_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, n);
    expect_sent(MSTP_REPLY_POSTPONED, 3);
    assert_int_equal(node.txq_count, 2); /* start-up I-Am, this I-Am */
}

static void test_broadcast_who_is(void **state)
{
    (void)state;
    start_meter(5, 10);
    give_token(3); /* first token: the start-up I-Am goes, then the poll */
    assert_int_equal(sent.n, 2);
    assert_int_equal(sent.f[0].type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(sent.f[0].dst, 255);
    assert_int_equal(sent.f[0].data[6], 0x10); /* after a global-broadcast NPDU header: */
    assert_int_equal(sent.f[0].data[7], 0x00); /* unconfirmed I-Am */
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    successor_uses_token();
    /* Who-Is, broadcast, not expecting a reply: nothing until the token. */
    uint8_t rq[8];
    size_t n = hex("01 20 FF FF 00 FF 10 08", rq); /* global broadcast NPDU */
    int before = sent.n;
    feed_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 255, 3, rq, n);
    assert_int_equal(sent.n, before);
    assert_int_equal(node.txq_count, 1);
    give_token(3);
    assert_int_equal(sent.n, before + 2);
    assert_int_equal(sent.f[before].type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(sent.f[before].dst, 255);
    expect_sent(MSTP_TOKEN, 6);
}

static void test_test_request(void **state)
{
    (void)state;
    start_node(5, 10);
    feed_frame(MSTP_TEST_REQUEST, 5, 3, (const uint8_t *)"hello", 5);
    expect_sent(MSTP_TEST_RESPONSE, 3);
    assert_int_equal(last()->len, 5);
    assert_memory_equal(last()->data, "hello", 5);
    assert_int_equal(node.c.test_requests, 1);
    /* Without data too; a broadcast Test_Request is not answered. */
    feed_frame(MSTP_TEST_REQUEST, 5, 3, NULL, 0);
    expect_sent(MSTP_TEST_RESPONSE, 3);
    assert_int_equal(last()->len, 0);
    feed_frame(MSTP_TEST_REQUEST, 255, 3, NULL, 0);
    assert_int_equal(sent.n, 2);
    /* Our own Test_Request: the response is handed up, then the token moves on. */
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    successor_uses_token();
    assert_int_equal(mstp_queue(&node, MSTP_TEST_REQUEST, 6, (const uint8_t *)"ping", 4), 0);
    give_token(3);
    expect_sent(MSTP_TEST_REQUEST, 6);
    assert_int_equal(node.state, MSTP_ST_WAIT_FOR_REPLY);
    feed_frame(MSTP_TEST_RESPONSE, 5, 6, (const uint8_t *)"ping", 4);
    expect_sent(MSTP_TOKEN, 6);
    assert_int_equal(test_responses, 1);
    assert_int_equal(tr_len, 4);
    assert_memory_equal(tr_data, "ping", 4);
    assert_int_equal(up_count, 0); /* no NPDU: nothing went up */
}

static void test_wait_for_reply(void **state)
{
    (void)state;
    start_node(5, 10);
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 6, NULL, 0);
    successor_uses_token();
    /* ReceivedReply: handed up, then the token is passed. */
    mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 9, (const uint8_t *)"\x01\x04", 2);
    give_token(3);
    expect_sent(MSTP_DATA_EXPECTING_REPLY, 9);
    feed_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 9, (const uint8_t *)"\x01\x00\x20", 3);
    expect_sent(MSTP_TOKEN, 6);
    assert_int_equal(up_count, 1);
    assert_int_equal(up_src, 9);
    assert_int_equal(up_len, 3);
    assert_memory_equal(up_data, "\x01\x00\x20", 3);
    assert_int_equal(node.c.replies_received, 1);
    successor_uses_token();
    /* ReceivedPostpone: the token is passed, the reply comes later. */
    mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 9, (const uint8_t *)"\x01\x04", 2);
    give_token(3);
    feed_frame(MSTP_REPLY_POSTPONED, 5, 9, NULL, 0);
    expect_sent(MSTP_TOKEN, 6);
    successor_uses_token();
    /* The postponed reply, sent when 9 has the token, is handed up in IDLE. */
    feed_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 9, (const uint8_t *)"\x01\x00\x20", 3);
    assert_int_equal(up_count, 2);
    /* ReplyTimeout: Treply_timeout (255 ms) of silence, then the token goes. */
    mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 9, (const uint8_t *)"\x01\x04", 2);
    give_token(3);
    int n = sent.n;
    advance(254000);
    assert_int_equal(sent.n, n);
    advance(4000);
    expect_sent(MSTP_TOKEN, 6);
    assert_int_equal(node.c.reply_timeouts, 1);
    successor_uses_token();
    /* InvalidFrame: a garbled reply ends the wait at once. */
    mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 9, (const uint8_t *)"\x01\x04", 2);
    give_token(3);
    T += 600;
    feed((const uint8_t *)"\x55\xFF\x06\x05\x09\x00\x03\x00", 8);
    expect_sent(MSTP_DATA_EXPECTING_REPLY, 9);
    feed((const uint8_t *)"\x01\x00\x20\x11\x22", 5); /* the rest of that frame */
    advance(700);
    expect_sent(MSTP_DATA_EXPECTING_REPLY, 9); /* not while it may still arrive */
    advance(300);
    expect_sent(MSTP_TOKEN, 6);
}

static void test_settings_take_effect(void **state)
{
    (void)state;
    start_meter(5, 127);
    /* Max_Master written over BACnet applies to the link as soon as it is accepted (the
     * host follows the device's settings after each event). */
    uint8_t rq[64];
    size_t n = hex("01 04 00 05 02 0F 0C 02 00 04 D2 19 40 3E 21 40 3F", rq);
    feed_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, n);
    expect_sent(MSTP_DATA_NOT_EXPECTING_REPLY, 3);
    assert_int_equal(last()->data[2], 0x20); /* Simple-ACK */
    assert_int_equal(node.cfg.max_master, 64);
    /* Below our MAC is refused (by the object and by the link). */
    n = hex("01 04 00 05 03 0F 0C 02 00 04 D2 19 40 3E 21 04 3F", rq);
    feed_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, n);
    assert_int_equal(last()->data[2], 0x50); /* Error */
    assert_int_equal(node.cfg.max_master, 64);
    assert_false(mstp_set_max_master(&node, 4));
    assert_false(mstp_set_max_master(&node, 128));
    /* A lower Max_Master drops a successor beyond it: the next token polls again
     * within range. */
    start_node(5, 127);
    give_token(3);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 100, NULL, 0);
    expect_sent(MSTP_TOKEN, 100);
    successor_uses_token();
    assert_true(mstp_set_max_master(&node, 10));
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    /* The panel's MAC: a new station, which the meter announces again; the baud rate. */
    start_meter(5, 127);
    assert_false(mstp_set_mac(&node, 128, T));
    assert_int_equal(obj_set_mac(&mt.dev, 9), OBJ_OK);
    advance(1000);
    assert_int_equal(node.cfg.mac, 9);
    assert_int_equal(node.rx.addr, 9);
    assert_int_equal(node.txq_count, 2);
    assert_int_equal(node.txq[1].dst, MSTP_BROADCAST);
    assert_true(mstp_set_mac(&node, 9, T)); /* the same again: nothing */
    assert_int_equal(node.txq_count, 2);
    feed_frame(MSTP_POLL_FOR_MASTER, 9, 3, NULL, 0);
    expect_sent(MSTP_REPLY_TO_PFM, 3);
    assert_false(mstp_set_baud(&node, 1200));
    assert_true(mstp_set_baud(&node, 9600));
    assert_int_equal(node.rx.abort_us, 6250);
    /* Everything at once, in an order that keeps MAC <= Max_Master. */
    mstp_config_t want = node.cfg;
    want.mac = 40;
    want.max_master = 40;
    want.baud = 115200;
    assert_int_equal(mstp_reconfigure(&node, &want, T), MSTP_NEW_MAC | MSTP_NEW_BAUD);
    assert_int_equal(node.cfg.mac, 40);
    assert_int_equal(node.cfg.max_master, 40);
    assert_int_equal(node.cfg.baud, 115200);
    want.mac = 3;
    want.max_master = 4;
    want.max_info_frames = 2;
    assert_int_equal(mstp_reconfigure(&node, &want, T), MSTP_NEW_MAC);
    assert_int_equal(node.cfg.mac, 3);
    assert_int_equal(node.cfg.max_master, 4);
    assert_int_equal(node.cfg.max_info_frames, 2);
    want.max_master = 200; /* out of range: left as it was */
    assert_int_equal(mstp_reconfigure(&node, &want, T), 0);
    assert_int_equal(node.cfg.max_master, 4);
}

static void test_clock_wrap(void **state)
{
    (void)state;
    /* A token round across the wrap of the microsecond clock. */
    T0 = 0xFFFFFFFFu - 10000;
    start_node(5, 10);
    T0 = 1000000;
    give_token(3);
    expect_sent(MSTP_POLL_FOR_MASTER, 6);
    advance(22000);
    expect_sent(MSTP_POLL_FOR_MASTER, 7);
    feed_frame(MSTP_REPLY_TO_PFM, 5, 7, NULL, 0);
    expect_sent(MSTP_TOKEN, 7);
    assert_true(T < 0x80000000u); /* wrapped */
    successor_uses_token();
    assert_int_equal(node.state, MSTP_ST_IDLE);
    /* Tno_token still measured right after the wrap. */
    advance(499000);
    assert_int_equal(node.state, MSTP_ST_IDLE);
    advance(2000);
    assert_int_equal(node.state, MSTP_ST_NO_TOKEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_rx_valid_frames),
        cmocka_unit_test(test_rx_errors),
        cmocka_unit_test(test_rx_frame_abort),
        cmocka_unit_test(test_rx_promiscuous),
        cmocka_unit_test(test_init_and_config),
        cmocka_unit_test(test_reply_to_pfm),
        cmocka_unit_test(test_token_pass_and_pfm_walk),
        cmocka_unit_test(test_pass_token_retry_and_new_successor),
        cmocka_unit_test(test_usage_timeout_longest),
        cmocka_unit_test(test_npoll_maintenance),
        cmocka_unit_test(test_lost_token),
        cmocka_unit_test(test_duplicate_token),
        cmocka_unit_test(test_max_info_frames),
        cmocka_unit_test(test_answer_within_treply_delay),
        cmocka_unit_test(test_broadcast_who_is),
        cmocka_unit_test(test_test_request),
        cmocka_unit_test(test_wait_for_reply),
        cmocka_unit_test(test_settings_take_effect),
        cmocka_unit_test(test_clock_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
