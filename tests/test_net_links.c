/*
 * The data links through net/net.h alone, with no server anywhere: BACnet/IP and MS/TP
 * hand NPDUs up to a fake layer above (net_upper_t) that records them and answers as
 * told, and take NPDUs down through their net_link_t. The datagrams and frames that
 * result are checked octet for octet, Reply Postponed included when the layer above
 * has no answer for a Data Expecting Reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bip/bip.h"
#include "mstp/mstp.h"
#include "net/net.h"

/* The layering itself: a link needs neither the application layer nor the objects. */
#if defined(S4100_BAC_H) || defined(S4100_OBJ_H) || defined(S4100_METER_H)
#error "a data link header pulls in the server or the object model"
#endif

/* ---- the fake layer above ----------------------------------------------------------- */

typedef struct {
    int calls;
    net_addr_t src;
    bool bcast;
    uint8_t npdu[600];
    size_t len, cap;
    /* what it answers next */
    uint8_t reply[600];
    size_t reply_len;
    bool reply_bcast;
} fake_up_t;

static fake_up_t fake;

static size_t fake_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                           size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    fake_up_t *f = ctx;
    assert_ptr_equal(f, &fake);
    assert_true(len <= sizeof f->npdu);
    f->calls++;
    f->src = *src;
    f->bcast = bcast;
    memcpy(f->npdu, npdu, len);
    f->len = len;
    f->cap = cap;
    assert_true(f->reply_len <= cap);
    memcpy(out, f->reply, f->reply_len);
    *reply_bcast = f->reply_bcast;
    return f->reply_len;
}

static const net_upper_t fake_up = {&fake, fake_receive};

static void answer(const char *octets, size_t n, bool bcast)
{
    memcpy(fake.reply, octets, n);
    fake.reply_len = n;
    fake.reply_bcast = bcast;
}

static void reset_fake(void)
{
    memset(&fake, 0, sizeof fake);
}

/* ---- BACnet/IP ---------------------------------------------------------------------- */

static struct {
    int n;
    bip_addr_t to;
    uint8_t data[BIP_MAX_DATAGRAM];
    size_t len;
} dgram;

static int dgram_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    assert_true(len <= sizeof dgram.data);
    dgram.n++;
    dgram.to = *to;
    memcpy(dgram.data, data, len);
    dgram.len = len;
    return 0;
}

static void expect_dgram(const bip_addr_t *to, const char *octets, size_t n)
{
    assert_memory_equal(&dgram.to, to, sizeof *to);
    assert_int_equal(dgram.len, n);
    assert_memory_equal(dgram.data, octets, n);
}

static bip_t bip;
static bip_addr_t self, bcast, peer, origin;

static void start_bip(const net_upper_t *up)
{
    bip_addr_parse("10.0.0.5", 47808, &self);
    bip_addr_parse("10.0.0.255", 47808, &bcast);
    bip_addr_parse("10.0.0.9", 47809, &peer);
    bip_addr_parse("10.0.0.7", 47808, &origin);
    bip_port_t port = {NULL, dgram_send};
    bip_init(&bip, &port, &self, &bcast, up);
    memset(&dgram, 0, sizeof dgram);
    reset_fake();
}

static void test_bip_up(void **state)
{
    (void)state;
    start_bip(&fake_up);
    /* Original-Unicast: the NPDU goes up from the sender, not as a broadcast; the
     * answer goes back to it as Original-Unicast. */
    answer("\x01\x00\xAA\xBB", 4, false);
    bip_receive(&bip, &peer, (const uint8_t *)"\x81\x0A\x00\x07\x01\x04\x42", 7);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(fake.src.len, 6);
    assert_memory_equal(fake.src.mac, "\x0A\x00\x00\x09\xBA\xC1", 6);
    assert_false(fake.bcast);
    assert_int_equal(fake.len, 3);
    assert_memory_equal(fake.npdu, "\x01\x04\x42", 3);
    assert_int_equal(fake.cap, BIP_MAX_NPDU);
    assert_int_equal(dgram.n, 1);
    expect_dgram(&peer, "\x81\x0A\x00\x08\x01\x00\xAA\xBB", 8);

    /* Original-Broadcast: up as a broadcast; a broadcast answer goes to the local
     * broadcast address as Original-Broadcast. */
    answer("\x01\x00\x10\x00", 4, true);
    bip_receive(&bip, &peer, (const uint8_t *)"\x81\x0B\x00\x08\x01\x00\x10\x08", 8);
    assert_int_equal(fake.calls, 2);
    assert_true(fake.bcast);
    assert_memory_equal(fake.src.mac, "\x0A\x00\x00\x09\xBA\xC1", 6);
    expect_dgram(&bcast, "\x81\x0B\x00\x08\x01\x00\x10\x00", 8);

    /* Forwarded-NPDU: up from its originator, as a broadcast; a unicast answer goes to
     * the originator, not to the BBMD that forwarded it. */
    answer("\x01\x00\xCC", 3, false);
    bip_receive(&bip, &peer,
                (const uint8_t *)"\x81\x04\x00\x0E\x0A\x00\x00\x07\xBA\xC0\x01\x00\x10\x08", 14);
    assert_int_equal(fake.calls, 3);
    assert_true(fake.bcast);
    assert_int_equal(fake.src.len, 6);
    assert_memory_equal(fake.src.mac, origin.octets, 6);
    assert_int_equal(fake.len, 4);
    expect_dgram(&origin, "\x81\x0A\x00\x07\x01\x00\xCC", 7);

    /* No answer: nothing sent. Our own broadcast looped back and a malformed BVLL
     * never reach the layer above. */
    answer("", 0, false);
    bip_receive(&bip, &peer, (const uint8_t *)"\x81\x0A\x00\x06\x01\x00", 6);
    assert_int_equal(fake.calls, 4);
    bip_receive(&bip, &self, (const uint8_t *)"\x81\x0B\x00\x06\x01\x00", 6);
    bip_receive(&bip, &peer, (const uint8_t *)"\x81\x0A\x00\x09\x01\x00", 6);
    assert_int_equal(fake.calls, 4);
    assert_int_equal(dgram.n, 3);
    assert_int_equal(bip.dropped, 2);
}

static void test_bip_without_upper(void **state)
{
    (void)state;
    /* A node that only sends: NPDUs are dropped, the BBMD functions still NAKed. */
    start_bip(NULL);
    bip_receive(&bip, &peer, (const uint8_t *)"\x81\x0A\x00\x07\x01\x04\x42", 7);
    assert_int_equal(dgram.n, 0);
    bip_receive(&bip, &peer, (const uint8_t *)"\x81\x02\x00\x04", 4);
    assert_int_equal(dgram.n, 1);
    expect_dgram(&peer, "\x81\x00\x00\x06\x00\x20", 6);
}

static void test_bip_down(void **state)
{
    (void)state;
    start_bip(&fake_up);
    net_link_t link = bip_link(&bip);
    assert_int_equal(link.max_npdu, BIP_MAX_NPDU);
    /* To the local broadcast: NULL or an empty address. */
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00\x10\x00", 4), 0);
    expect_dgram(&bcast, "\x81\x0B\x00\x08\x01\x00\x10\x00", 8);
    net_addr_t none = {0};
    assert_int_equal(link.send(link.ctx, &none, (const uint8_t *)"\x01\x00", 2), 0);
    expect_dgram(&bcast, "\x81\x0B\x00\x06\x01\x00", 6);
    /* To one station: its 6 octets. */
    net_addr_t to = {.len = 6, .mac = {10, 0, 0, 9, 0xBA, 0xC1}};
    assert_int_equal(link.send(link.ctx, &to, (const uint8_t *)"\x01\x00\x77", 3), 0);
    expect_dgram(&peer, "\x81\x0A\x00\x07\x01\x00\x77", 7);
    assert_int_equal(dgram.n, 3);
    assert_int_equal(bip.tx, 3);
    /* Refused: an address of another link, an NPDU too long. */
    net_addr_t mstp_addr = {.len = 1, .mac = {3}};
    assert_int_equal(link.send(link.ctx, &mstp_addr, (const uint8_t *)"\x01\x00", 2), -1);
    static uint8_t big[BIP_MAX_NPDU + 1];
    assert_int_equal(link.send(link.ctx, NULL, big, sizeof big), -1);
    assert_int_equal(link.send(link.ctx, NULL, big, BIP_MAX_NPDU), 0);
    assert_int_equal(dgram.len, BIP_MAX_NPDU + 4);
    assert_int_equal(dgram.n, 4);
}

/* ---- MS/TP -------------------------------------------------------------------------- */

#define FRAMES_MAX 32
static struct {
    int n;
    uint8_t raw[FRAMES_MAX][MSTP_MAX_FRAME];
    mstp_frame_t f[FRAMES_MAX];
} frames;

static int frame_send(void *ctx, const uint8_t *frame, size_t n)
{
    (void)ctx;
    assert_true(frames.n < FRAMES_MAX);
    int i = frames.n++;
    memcpy(frames.raw[i], frame, n);
    assert_int_equal(mstp_decode(frames.raw[i], n, &frames.f[i]), (int)n);
    return 0;
}

static int test_responses;

static void on_test_response(void *ctx, uint8_t src, const uint8_t *data, size_t len)
{
    (void)ctx, (void)src, (void)data, (void)len;
    test_responses++;
}

static mstp_t node;
static uint32_t T;

static void start_mstp(const net_upper_t *up)
{
    mstp_config_t c;
    mstp_config_default(&c);
    c.mac = 5;
    c.max_master = 6;
    mstp_port_t port = {.send = frame_send, .test_response = on_test_response};
    T = 1000000;
    memset(&frames, 0, sizeof frames);
    test_responses = 0;
    reset_fake();
    assert_true(mstp_init(&node, &port, &c, up, T));
    assert_int_equal(frames.n, 0); /* nothing announced: that is the layer above's */
    assert_int_equal(node.txq_count, 0);
}

static void rx_frame(uint8_t type, uint8_t dst, uint8_t src, const char *data, size_t len)
{
    uint8_t f[MSTP_MAX_FRAME];
    size_t n = mstp_encode(f, sizeof f, type, dst, src, (const uint8_t *)data, len);
    assert_true(n > 0);
    T += 600;
    for (size_t i = 0; i < n; i++)
        mstp_rx(&node, f[i], T += mstp_octets_us(&node, 1));
}

static const mstp_frame_t *sent(int i)
{
    assert_true(i < frames.n);
    return &frames.f[i];
}

static void expect_frame(int i, uint8_t type, uint8_t dst, const char *data, size_t len)
{
    const mstp_frame_t *f = sent(i);
    assert_int_equal(f->type, type);
    assert_int_equal(f->dst, dst);
    assert_int_equal(f->src, 5);
    assert_int_equal(f->len, len);
    if (len)
        assert_memory_equal(f->data, data, len);
}

static void test_mstp_der(void **state)
{
    (void)state;
    start_mstp(&fake_up);
    /* A DER for us: up from the sender, and the unicast answer is the reply, at once
     * (no token needed). */
    answer("\x01\x00\x30\x01", 4, false);
    rx_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, "\x01\x04\x02", 3);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(fake.src.len, 1);
    assert_int_equal(fake.src.mac[0], 3);
    assert_false(fake.bcast);
    assert_int_equal(fake.len, 3);
    assert_memory_equal(fake.npdu, "\x01\x04\x02", 3);
    assert_int_equal(fake.cap, MSTP_MAX_NPDU);
    assert_int_equal(frames.n, 1);
    expect_frame(0, MSTP_DATA_NOT_EXPECTING_REPLY, 3, "\x01\x00\x30\x01", 4);
    assert_int_equal(node.c.replies, 1);

    /* Nothing to answer now: Reply Postponed, at once. */
    answer("", 0, false);
    rx_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, "\x01\x04\x03", 3);
    assert_int_equal(fake.calls, 2);
    assert_int_equal(frames.n, 2);
    expect_frame(1, MSTP_REPLY_POSTPONED, 3, NULL, 0);
    assert_int_equal(node.c.postponed, 1);

    /* A broadcast answer: Reply Postponed now, the answer to everyone with the token. */
    answer("\x01\x00\x10\x00", 4, true);
    rx_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, "\x01\x04\x10\x08", 4);
    assert_int_equal(frames.n, 3);
    expect_frame(2, MSTP_REPLY_POSTPONED, 3, NULL, 0);
    assert_int_equal(node.txq_count, 1);
    answer("", 0, false);
    rx_frame(MSTP_TOKEN, 5, 3, NULL, 0);
    expect_frame(3, MSTP_DATA_NOT_EXPECTING_REPLY, MSTP_BROADCAST, "\x01\x00\x10\x00", 4);
    expect_frame(4, MSTP_POLL_FOR_MASTER, 6, NULL, 0); /* then on with the token */

    /* A broadcast DER is nobody's to answer: it does not go up. */
    int calls = fake.calls;
    rx_frame(MSTP_DATA_EXPECTING_REPLY, 255, 3, "\x01\x04\x02", 3);
    assert_int_equal(fake.calls, calls);
}

static void test_mstp_dner_and_link(void **state)
{
    (void)state;
    start_mstp(&fake_up);
    /* A Test_Response is no NPDU: it goes to the port, not up. Frames from the
     * broadcast address or from our own never go up. */
    rx_frame(MSTP_TEST_RESPONSE, 5, 3, "ping", 4);
    assert_int_equal(test_responses, 1);
    rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 255, "\x01\x00", 2);
    rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 5, "\x01\x00", 2);
    assert_int_equal(fake.calls, 0);
    /* A broadcast DNER goes up as a broadcast; its unicast answer waits for the token. */
    answer("\x01\x00\xEE", 3, false);
    rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 255, 3, "\x01\x00\x10\x08", 4);
    assert_int_equal(fake.calls, 1);
    assert_true(fake.bcast);
    assert_int_equal(fake.src.mac[0], 3);
    assert_int_equal(frames.n, 0);
    assert_int_equal(node.txq_count, 1);
    /* The layer above sends down the link: queued behind it, DNER each. */
    net_link_t link = mstp_link(&node);
    assert_int_equal(link.max_npdu, MSTP_MAX_NPDU);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00\x01", 3), 0);
    net_link_t same = link;
    net_addr_t to = {.len = 1, .mac = {4}};
    assert_int_equal(same.send(same.ctx, &to, (const uint8_t *)"\x01\x00\x02", 3), 0);
    net_addr_t bip_addr = {.len = 6};
    assert_int_equal(link.send(link.ctx, &bip_addr, (const uint8_t *)"\x01\x00", 2), -1);
    assert_int_equal(node.txq_count, 3);
    assert_true(mstp_set_max_info_frames(&node, 3));
    answer("", 0, false);
    rx_frame(MSTP_TOKEN, 5, 3, NULL, 0);
    expect_frame(0, MSTP_DATA_NOT_EXPECTING_REPLY, 3, "\x01\x00\xEE", 3);
    expect_frame(1, MSTP_DATA_NOT_EXPECTING_REPLY, MSTP_BROADCAST, "\x01\x00\x01", 3);
    expect_frame(2, MSTP_DATA_NOT_EXPECTING_REPLY, 4, "\x01\x00\x02", 3);
    expect_frame(3, MSTP_POLL_FOR_MASTER, 6, NULL, 0);
    /* A full queue refuses. */
    for (unsigned i = 0; i < MSTP_TXQ_LEN; i++)
        assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00", 2), 0);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00", 2), NET_ERR_BUSY);
}

/* A confirmed request forwarded onto the trunk (a router's) goes as Data Expecting
 * Reply to a station; to the broadcast address it cannot, so it goes as DNER. */
static void test_mstp_link_expecting_reply(void **state)
{
    (void)state;
    start_mstp(&fake_up);
    net_link_t link = mstp_link(&node);
    net_addr_t to = {.len = 1, .mac = {6}};
    assert_int_equal(link.send(link.ctx, &to, (const uint8_t *)"\x01\x04\x00\x05", 4), 0);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x04\x00\x05", 4), 0);
    assert_int_equal(link.send(link.ctx, &to, (const uint8_t *)"\x01\x00\x30", 3), 0);
    assert_int_equal(node.txq_count, 3);
    assert_int_equal(node.txq[node.txq_head].type, MSTP_DATA_EXPECTING_REPLY);
    assert_int_equal(node.txq[(node.txq_head + 1) % MSTP_TXQ_LEN].type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(node.txq[(node.txq_head + 1) % MSTP_TXQ_LEN].dst, MSTP_BROADCAST);
    assert_int_equal(node.txq[(node.txq_head + 2) % MSTP_TXQ_LEN].type, MSTP_DATA_NOT_EXPECTING_REPLY);
}

static void test_mstp_reply_from_nobody(void **state)
{
    (void)state;
    /* Waiting for the reply to our own DER, a "reply" from the broadcast address ends
     * the wait (ReceivedReply) but is no station's to answer: it does not go up. */
    start_mstp(&fake_up);
    assert_int_equal(mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 4, (const uint8_t *)"\x01\x04", 2), 0);
    rx_frame(MSTP_TOKEN, 5, 3, NULL, 0);
    expect_frame(0, MSTP_DATA_EXPECTING_REPLY, 4, "\x01\x04", 2);
    assert_int_equal(node.state, MSTP_ST_WAIT_FOR_REPLY);
    answer("\x01\x00\xEE", 3, false);
    rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 255, "\x01\x00", 2);
    assert_int_equal(fake.calls, 0);
    assert_int_equal(node.txq_count, 0);
    expect_frame(1, MSTP_POLL_FOR_MASTER, 6, NULL, 0);
    /* From the station asked, it goes up. */
    start_mstp(&fake_up);
    mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, 4, (const uint8_t *)"\x01\x04", 2);
    rx_frame(MSTP_TOKEN, 5, 3, NULL, 0);
    answer("", 0, false);
    rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 4, "\x01\x00\x20", 3);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(fake.src.mac[0], 4);
    assert_false(fake.bcast);
    assert_int_equal(node.c.replies_received, 1);
}

static void test_mstp_without_upper(void **state)
{
    (void)state;
    /* Nothing above: a DER still gets its Reply Postponed within Treply_delay. */
    start_mstp(NULL);
    rx_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, "\x01\x04\x02", 3);
    assert_int_equal(frames.n, 1);
    expect_frame(0, MSTP_REPLY_POSTPONED, 3, NULL, 0);
    rx_frame(MSTP_DATA_NOT_EXPECTING_REPLY, 5, 3, "\x01\x00", 2);
    assert_int_equal(frames.n, 1);
    assert_int_equal(node.c.npdu_in, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip_up),
        cmocka_unit_test(test_bip_without_upper),
        cmocka_unit_test(test_bip_down),
        cmocka_unit_test(test_mstp_der),
        cmocka_unit_test(test_mstp_link_expecting_reply),
        cmocka_unit_test(test_mstp_dner_and_link),
        cmocka_unit_test(test_mstp_reply_from_nobody),
        cmocka_unit_test(test_mstp_without_upper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
