/*
 * The network layer (src/core/net): every clause 6 message built and parsed against
 * octets written by hand from the layouts of ASHRAE 135 clause 6.4, and every routing
 * decision of the router with fake links that record what they send.
 *
 * The test site: port 0 BACnet/IP network 1 (router at 192.168.0.1:47808), port 1 MS/TP
 * network 2 (router MAC 1), port 2 MS/TP network 3 (router MAC 1). A client at
 * 192.168.0.10:47808, a meter at MAC 5 on network 2. The queue and pacing tests use a
 * site of up to 301 ports built the same way (port k: network k + 1) on links that say
 * busy when told to, and a virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/net_router.h"

#define IP_ROUTER 0xC0, 0xA8, 0x00, 0x01, 0xBA, 0xC0
#define IP_CLIENT 0xC0, 0xA8, 0x00, 0x0A, 0xBA, 0xC0
#define IP_ROUTER2 0xC0, 0xA8, 0x00, 0x02, 0xBA, 0xC0

/* ---- fakes ---------------------------------------------------------------------- */

typedef struct {
    net_addr_t dst;
    size_t len;
    uint8_t b[NET_NPDU_MAX];
} frame_t;

typedef struct {
    frame_t f[8];
    unsigned n;
} fake_link_t;

static int fake_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    fake_link_t *l = ctx;

    assert_true(l->n < 8);
    memset(&l->f[l->n], 0, sizeof l->f[l->n]);
    if (dst)
        l->f[l->n].dst = *dst;
    memcpy(l->f[l->n].b, npdu, len);
    l->f[l->n].len = len;
    l->n++;
    return 0;
}

typedef struct {
    unsigned calls;
    net_addr_t src;
    bool bcast;
    uint8_t in[NET_NPDU_MAX];
    size_t in_len;
    const uint8_t *reply;
    size_t reply_len;
    bool reply_bcast;
} fake_app_t;

static size_t fake_app_rx(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                          size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    fake_app_t *a = ctx;

    a->calls++;
    a->src = *src;
    a->bcast = bcast;
    memcpy(a->in, npdu, len);
    a->in_len = len;
    if (a->reply_len == 0 || a->reply_len > cap)
        return 0;
    memcpy(out, a->reply, a->reply_len);
    *reply_bcast = a->reply_bcast;
    return a->reply_len;
}

typedef struct {
    net_router_t r;
    fake_link_t link[3];
    fake_app_t app;
    uint8_t out[NET_NPDU_MAX];
    size_t out_len;
    bool out_bcast;
} site_t;

static site_t S;

static int setup(void **state)
{
    static const net_addr_t ip = {6, {IP_ROUTER}}, ms = {1, {1}};
    net_upper_t app = {&S.app, fake_app_rx};

    (void)state;
    memset(&S, 0, sizeof S);
    net_router_init(&S.r, &app);
    for (unsigned i = 0; i < 3; i++) {
        net_link_t l = {&S.link[i], fake_send, i == 0 ? 1497 : 501};
        assert_int_equal(net_router_add_port(&S.r, &l, (uint16_t)(i + 1), i == 0 ? &ip : &ms),
                         (int)i);
    }
    return 0;
}

static void rx(unsigned port, const net_addr_t *src, bool bcast, const uint8_t *b, size_t n)
{
    S.out_len = net_router_receive(&S.r, port, src, bcast, b, n, S.out, sizeof S.out,
                                   &S.out_bcast);
}

#define RX(port, src, bcast, ...)                                                      \
    do {                                                                               \
        static const uint8_t in_[] = {__VA_ARGS__};                                    \
        rx(port, src, bcast, in_, sizeof in_);                                         \
    } while (0)

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t n)
{
    assert_int_equal(got_len, n);
    assert_memory_equal(got, want, n);
}

#define EXPECT_OUT(bcast, ...)                                                         \
    do {                                                                               \
        static const uint8_t w_[] = {__VA_ARGS__};                                     \
        expect_bytes(S.out, S.out_len, w_, sizeof w_);                                 \
        assert_int_equal(S.out_bcast, bcast);                                          \
    } while (0)

/* Frame i sent on port p, to dst (len 0: broadcast). */
#define EXPECT_SENT(p, i, dst_len, dst_mac, ...)                                       \
    do {                                                                               \
        static const uint8_t w_[] = {__VA_ARGS__};                                     \
        const frame_t *f_ = &S.link[p].f[i];                                           \
        assert_true(S.link[p].n > (i));                                                \
        assert_int_equal(f_->dst.len, dst_len);                                        \
        assert_memory_equal(f_->dst.mac, dst_mac, dst_len);                            \
        expect_bytes(f_->b, f_->len, w_, sizeof w_);                                   \
    } while (0)

#define RX_Q(port, src, bcast, ...)                                                    \
    do {                                                                               \
        static const uint8_t in_[] = {__VA_ARGS__};                                    \
        qrx(port, src, bcast, in_, sizeof in_);                                        \
    } while (0)

/* The last NPDU port p's queue-test link took, to dst. */
#define EXPECT_LAST(p, dst_len, dst_mac, ...)                                          \
    do {                                                                               \
        static const uint8_t w_[] = {__VA_ARGS__};                                     \
        const frame_t *f_ = &Q.l[p].last;                                              \
        assert_int_equal(f_->dst.len, dst_len);                                        \
        assert_memory_equal(f_->dst.mac, dst_mac, dst_len);                            \
        expect_bytes(f_->b, f_->len, w_, sizeof w_);                                   \
    } while (0)

static const net_addr_t client = {6, {IP_CLIENT}};
static const net_addr_t router2 = {6, {IP_ROUTER2}};
static const net_addr_t meter5 = {1, {5}};
static const net_addr_t router7 = {1, {7}};
static const uint8_t client_mac[] = {IP_CLIENT};
static const uint8_t router2_mac[] = {IP_ROUTER2};
static const uint8_t mac5[] = {5}, mac7[] = {7}, mac9[] = {9};

static void no_sends(void)
{
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(S.link[i].n, 0);
}

static void clear(void)
{
    for (unsigned i = 0; i < 3; i++)
        S.link[i].n = 0;
    S.out_len = 0;
}

/* ---- the messages, octet by octet ------------------------------------------------ */

/* Parse a whole network-message NPDU; returns the body. */
static net_msg_t parse(const uint8_t *b, size_t n, bac_npdu_t *h)
{
    bac_buf_t rd;
    net_msg_t m;

    bac_buf_reader(&rd, b, n);
    assert_true(bac_npdu_decode(&rd, h) > 0);
    assert_true(h->network_msg);
    assert_true(net_msg_decode(&rd, h->msg_type, h->vendor_id, &m) >= 0);
    assert_true(bac_done(&rd));
    return m;
}

/* Build m with a local header and compare with want; then parse want back. */
static void build(const net_msg_t *m, const uint8_t *want, size_t n)
{
    uint8_t o[64];
    bac_buf_t w;
    bac_npdu_t h = {0};

    bac_buf_writer(&w, o, sizeof o);
    assert_int_equal(net_msg_encode(&w, &h, m), (int)n);
    assert_memory_equal(o, want, n);
}

#define VEC(name, ...) static const uint8_t name[] = {__VA_ARGS__}

static void test_msg_who_is_router(void **state)
{
    (void)state;
    /* version 1, control 0x80 (network message, no DNET/SNET), type 0x00 */
    VEC(any, 0x01, 0x80, 0x00);
    /* ... then the 2-octet network wanted: 2 */
    VEC(net2, 0x01, 0x80, 0x00, 0x00, 0x02);
    net_msg_t m = {.type = NET_MSG_WHO_IS_ROUTER};
    bac_npdu_t h;

    build(&m, any, sizeof any);
    assert_false(parse(any, sizeof any, &h).has_dnet);
    m.has_dnet = true;
    m.dnet = 2;
    build(&m, net2, sizeof net2);
    m = parse(net2, sizeof net2, &h);
    assert_true(m.has_dnet);
    assert_int_equal(m.dnet, 2);
}

static void test_msg_i_am_router(void **state)
{
    (void)state;
    /* type 0x01, then the networks: 2, 0x0103 */
    VEC(v, 0x01, 0x80, 0x01, 0x00, 0x02, 0x01, 0x03);
    static const uint8_t list[] = {0x00, 0x02, 0x01, 0x03};
    net_msg_t m = {.type = NET_MSG_I_AM_ROUTER, .count = 2, .list = list, .list_len = 4};
    bac_npdu_t h;

    build(&m, v, sizeof v);
    m = parse(v, sizeof v, &h);
    assert_int_equal(m.count, 2);
    assert_int_equal(net_msg_dnet(&m, 0), 2);
    assert_int_equal(net_msg_dnet(&m, 1), 0x0103);
}

static void test_msg_could_be_reject(void **state)
{
    (void)state;
    /* I-Could-Be-Router-To-Network: type 0x02, DNET 5, performance index 10 */
    VEC(cb, 0x01, 0x80, 0x02, 0x00, 0x05, 0x0A);
    /* Reject-Message-To-Network: type 0x03, reason 1, DNET 9 */
    VEC(rj, 0x01, 0x80, 0x03, 0x01, 0x00, 0x09);
    net_msg_t m = {.type = NET_MSG_I_COULD_BE_ROUTER, .dnet = 5, .perf = 10};
    bac_npdu_t h;

    build(&m, cb, sizeof cb);
    m = parse(cb, sizeof cb, &h);
    assert_int_equal(m.dnet, 5);
    assert_int_equal(m.perf, 10);
    m = (net_msg_t){.type = NET_MSG_REJECT, .reason = NET_REJECT_UNKNOWN_DNET, .dnet = 9};
    build(&m, rj, sizeof rj);
    m = parse(rj, sizeof rj, &h);
    assert_int_equal(m.reason, 1);
    assert_int_equal(m.dnet, 9);
}

static void test_msg_busy_available(void **state)
{
    (void)state;
    /* Router-Busy-To-Network: type 0x04, networks 2; and with no list (all) */
    VEC(busy, 0x01, 0x80, 0x04, 0x00, 0x02);
    VEC(busy_all, 0x01, 0x80, 0x04);
    /* Router-Available-To-Network: type 0x05, network 2 */
    VEC(avail, 0x01, 0x80, 0x05, 0x00, 0x02);
    static const uint8_t list[] = {0x00, 0x02};
    net_msg_t m = {.type = NET_MSG_ROUTER_BUSY, .count = 1, .list = list, .list_len = 2};
    bac_npdu_t h;

    build(&m, busy, sizeof busy);
    m = parse(busy, sizeof busy, &h);
    assert_int_equal(m.count, 1);
    assert_int_equal(net_msg_dnet(&m, 0), 2);
    m = parse(busy_all, sizeof busy_all, &h);
    assert_int_equal(m.count, 0);
    m = (net_msg_t){.type = NET_MSG_ROUTER_AVAILABLE, .count = 1, .list = list, .list_len = 2};
    build(&m, avail, sizeof avail);
    m = parse(avail, sizeof avail, &h);
    assert_int_equal(m.type, NET_MSG_ROUTER_AVAILABLE);
    assert_int_equal(net_msg_dnet(&m, 0), 2);
}

static void test_msg_init_routing_table(void **state)
{
    (void)state;
    /* Initialize-Routing-Table query: type 0x06, number of ports 0 */
    VEC(q, 0x01, 0x80, 0x06, 0x00);
    /* Ack: type 0x07, 2 ports: DNET 1 port id 1 info length 0; DNET 2 port id 2 info
     * length 2, info 0xAB 0xCD */
    VEC(ack, 0x01, 0x80, 0x07, 0x02, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02, 0x02, 0x02, 0xAB,
        0xCD);
    net_msg_t m = {.type = NET_MSG_INIT_RT};
    net_rt_entry_t e;
    size_t off = 0;
    bac_npdu_t h;

    build(&m, q, sizeof q);
    m = parse(q, sizeof q, &h);
    assert_int_equal(m.count, 0);
    m = (net_msg_t){.type = NET_MSG_INIT_RT_ACK, .count = 2, .list = ack + 4,
                    .list_len = sizeof ack - 4};
    build(&m, ack, sizeof ack);
    m = parse(ack, sizeof ack, &h);
    assert_int_equal(m.count, 2);
    assert_true(net_msg_rt_next(&m, &off, &e));
    assert_int_equal(e.dnet, 1);
    assert_int_equal(e.port_id, 1);
    assert_int_equal(e.info_len, 0);
    assert_true(net_msg_rt_next(&m, &off, &e));
    assert_int_equal(e.dnet, 2);
    assert_int_equal(e.port_id, 2);
    assert_int_equal(e.info_len, 2);
    assert_int_equal(e.info[1], 0xCD);
    assert_false(net_msg_rt_next(&m, &off, &e));
}

static void test_msg_connection_and_number(void **state)
{
    (void)state;
    /* Establish-Connection-To-Network: type 0x08, DNET 5, termination time 10 min */
    VEC(est, 0x01, 0x80, 0x08, 0x00, 0x05, 0x0A);
    /* Disconnect-Connection-To-Network: type 0x09, DNET 5 */
    VEC(dis, 0x01, 0x80, 0x09, 0x00, 0x05);
    /* What-Is-Network-Number: type 0x12, no data */
    VEC(what, 0x01, 0x80, 0x12);
    /* Network-Number-Is: type 0x13, network 2, flag 1 (configured) */
    VEC(is, 0x01, 0x80, 0x13, 0x00, 0x02, 0x01);
    net_msg_t m = {.type = NET_MSG_ESTABLISH, .dnet = 5, .term_time = 10};
    bac_npdu_t h;

    build(&m, est, sizeof est);
    assert_int_equal(parse(est, sizeof est, &h).term_time, 10);
    m = (net_msg_t){.type = NET_MSG_DISCONNECT, .dnet = 5};
    build(&m, dis, sizeof dis);
    assert_int_equal(parse(dis, sizeof dis, &h).dnet, 5);
    m = (net_msg_t){.type = NET_MSG_WHAT_IS_NETWORK_NUMBER};
    build(&m, what, sizeof what);
    parse(what, sizeof what, &h);
    m = (net_msg_t){.type = NET_MSG_NETWORK_NUMBER_IS, .dnet = 2, .flag = 1};
    build(&m, is, sizeof is);
    m = parse(is, sizeof is, &h);
    assert_int_equal(m.dnet, 2);
    assert_int_equal(m.flag, 1);
}

static void test_msg_proprietary_and_bad(void **state)
{
    (void)state;
    /* type 0x80, vendor id 0x0104, one octet of data */
    VEC(prop, 0x01, 0x80, 0x80, 0x01, 0x04, 0xAA);
    static const uint8_t data[] = {0xAA};
    net_msg_t m = {.type = 0x80, .vendor_id = 0x0104, .list = data, .list_len = 1};
    bac_npdu_t h;
    bac_buf_t rd;

    build(&m, prop, sizeof prop);
    m = parse(prop, sizeof prop, &h);
    assert_int_equal(m.vendor_id, 0x0104);
    assert_int_equal(m.list_len, 1);
    /* Layouts checked exactly: an odd DNET list, a reject one octet short, a
     * Network-Number-Is flag 2, an empty I-Am-Router, a routing table entry cut short. */
    static const struct {
        uint8_t type;
        uint8_t n;
        uint8_t b[6];
    } bad[] = {{0x01, 3, {0, 2, 0}}, {0x03, 2, {1, 0}},    {0x13, 3, {0, 2, 2}},
               {0x01, 0, {0}},       {0x06, 4, {1, 0, 1, 1}}, {0x00, 1, {0}}};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bac_buf_reader(&rd, bad[i].b, bad[i].n);
        assert_true(net_msg_decode(&rd, bad[i].type, 0, &m) < 0);
        assert_int_equal(bac_pos(&rd), 0);
    }
}

/* ---- routing ----------------------------------------------------------------------- */

static void test_local_delivery(void **state)
{
    (void)state;
    static const uint8_t reply[] = {0x01, 0x00, 0x20, 0x01, 0x0F};
    S.app.reply = reply;
    S.app.reply_len = sizeof reply;
    /* A confirmed request to the router's own IP address, no DNET: control 0x04. */
    RX(0, &client, false, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0F);
    assert_int_equal(S.app.calls, 1);
    expect_bytes(S.app.in, S.app.in_len,
                 (const uint8_t[]){0x01, 0x04, 0x00, 0x05, 0x01, 0x0F}, 6);
    assert_false(S.app.bcast);
    assert_int_equal(S.app.src.len, 6);
    /* The answer goes back through the upcall's reply buffer, to the client. */
    EXPECT_OUT(false, 0x01, 0x00, 0x20, 0x01, 0x0F);
    no_sends();
}

static void test_forward_ip_to_mstp(void **state)
{
    (void)state;
    /* Client -> meter 5 on network 2: control 0x24 (DNET, expecting reply), DNET 2,
     * DLEN 1, DADR 5, hop count 255, APDU (ReadProperty header). */
    RX(0, &client, false, 0x01, 0x24, 0x00, 0x02, 0x01, 0x05, 0xFF, 0x00, 0x05, 0x01, 0x0C);
    /* On the trunk to MAC 5: control 0x0C (SNET, expecting reply), SNET 1, SLEN 6,
     * SADR = the client's IP and port; no DNET, no hop count. */
    EXPECT_SENT(1, 0, 1, mac5, 0x01, 0x0C, 0x00, 0x01, 0x06, IP_CLIENT, 0x00, 0x05, 0x01,
                0x0C);
    assert_int_equal(S.link[1].n, 1);
    assert_int_equal(S.out_len, 0);
    assert_int_equal(S.app.calls, 0);
}

static void test_reply_mstp_to_ip(void **state)
{
    (void)state;
    /* Meter 5 answers: control 0x20 (DNET), DNET 1, DLEN 6, DADR client, hop 255,
     * APDU (ComplexAck header). */
    RX(1, &meter5, false, 0x01, 0x20, 0x00, 0x01, 0x06, IP_CLIENT, 0xFF, 0x30, 0x01, 0x0C);
    /* To the client: control 0x08 (SNET), SNET 2, SLEN 1, SADR 5. */
    EXPECT_SENT(0, 0, 6, client_mac, 0x01, 0x08, 0x00, 0x02, 0x01, 0x05, 0x30, 0x01, 0x0C);
    assert_int_equal(S.link[0].n, 1);
    assert_int_equal(S.link[2].n, 0);
}

static void test_global_broadcast(void **state)
{
    (void)state;
    /* Global Who-Is from the client: control 0x20, DNET 0xFFFF, DLEN 0, hop 255,
     * APDU Unconfirmed Who-Is. */
    RX(0, &client, true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08);
    /* The router's device hears it as a broadcast, without DNET. */
    assert_int_equal(S.app.calls, 1);
    assert_true(S.app.bcast);
    expect_bytes(S.app.in, S.app.in_len, (const uint8_t[]){0x01, 0x00, 0x10, 0x08}, 4);
    /* Every other port broadcasts it with DNET kept, SNET 1/SADR client, hop 254. */
    for (unsigned p = 1; p <= 2; p++) {
        EXPECT_SENT(p, 0, 0, mac5, 0x01, 0x28, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x06, IP_CLIENT,
                    0xFE, 0x10, 0x08);
        assert_int_equal(S.link[p].n, 1);
    }
    assert_int_equal(S.link[0].n, 0);
}

static void test_remote_broadcast(void **state)
{
    (void)state;
    /* Who-Is to every station of network 2: DNET 2, DLEN 0, hop 255. */
    RX(0, &client, false, 0x01, 0x20, 0x00, 0x02, 0x00, 0xFF, 0x10, 0x08);
    /* Network 2's local broadcast, SNET 1/SADR client. */
    EXPECT_SENT(1, 0, 0, mac5, 0x01, 0x08, 0x00, 0x01, 0x06, IP_CLIENT, 0x10, 0x08);
    /* The router is on network 2 too: its device hears it. */
    assert_int_equal(S.app.calls, 1);
    assert_int_equal(S.link[2].n, 0);
}

/* Teach the router network 4 behind router 7 on port 2. */
static void learn_net4(void)
{
    /* I-Am-Router-To-Network 4 from MAC 7 on network 3. */
    RX(2, &router7, true, 0x01, 0x80, 0x01, 0x00, 0x04);
    const net_route_t *rt = net_router_route(&S.r, 4);
    assert_non_null(rt);
    assert_int_equal(rt->port, 2);
    assert_int_equal(rt->next_hop.mac[0], 7);
}

static void test_learn_route(void **state)
{
    (void)state;
    learn_net4();
    /* It tells the other networks: I-Am-Router-To-Network 4, broadcast. */
    EXPECT_SENT(0, 0, 0, mac5, 0x01, 0x80, 0x01, 0x00, 0x04);
    EXPECT_SENT(1, 0, 0, mac5, 0x01, 0x80, 0x01, 0x00, 0x04);
    assert_int_equal(S.link[2].n, 0);
    clear();
    /* Told again: nothing changed, nothing said (no loops between routers). */
    RX(2, &router7, true, 0x01, 0x80, 0x01, 0x00, 0x04);
    no_sends();
    /* Traffic for network 4 goes to router 7 with DNET kept and one hop spent:
     * control 0x2C (DNET, SNET, expecting reply), DNET 4, DLEN 1, DADR 9, SNET 1,
     * SLEN 6, SADR client, hop 254. */
    RX(0, &client, false, 0x01, 0x24, 0x00, 0x04, 0x01, 0x09, 0xFF, 0x00, 0x05, 0x01, 0x0C);
    EXPECT_SENT(2, 0, 1, mac7, 0x01, 0x2C, 0x00, 0x04, 0x01, 0x09, 0x00, 0x01, 0x06, IP_CLIENT,
                0xFE, 0x00, 0x05, 0x01, 0x0C);
    (void)mac9;
}

static void test_hop_count_expiry(void **state)
{
    (void)state;
    learn_net4();
    clear();
    /* Hop count 1 would leave with 0: discarded. */
    RX(0, &client, false, 0x01, 0x20, 0x00, 0x04, 0x01, 0x09, 0x01, 0x10, 0x08);
    no_sends();
    assert_int_equal(S.out_len, 0);
    /* Hop count 2 leaves with 1. */
    RX(0, &client, false, 0x01, 0x20, 0x00, 0x04, 0x01, 0x09, 0x02, 0x10, 0x08);
    EXPECT_SENT(2, 0, 1, mac7, 0x01, 0x28, 0x00, 0x04, 0x01, 0x09, 0x00, 0x01, 0x06, IP_CLIENT,
                0x01, 0x10, 0x08);
    /* Already 0 on arrival: discarded too, global broadcasts included. */
    clear();
    RX(0, &client, true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0x00, 0x10, 0x08);
    no_sends();
}

static void test_unknown_dnet(void **state)
{
    (void)state;
    /* To network 9, which nobody has mentioned. */
    RX(0, &client, false, 0x01, 0x24, 0x00, 0x09, 0x01, 0x05, 0xFF, 0x00, 0x05, 0x01, 0x0C);
    /* The router asks the other networks: Who-Is-Router-To-Network 9, broadcast. */
    EXPECT_SENT(1, 0, 0, mac5, 0x01, 0x80, 0x00, 0x00, 0x09);
    EXPECT_SENT(2, 0, 0, mac5, 0x01, 0x80, 0x00, 0x00, 0x09);
    /* and refuses this one: Reject-Message-To-Network reason 1, DNET 9, to the client. */
    EXPECT_OUT(false, 0x01, 0x80, 0x03, 0x01, 0x00, 0x09);
    assert_int_equal(S.link[0].n, 0);
}

static void test_unknown_dnet_remote_source(void **state)
{
    (void)state;
    /* The same from a station behind router2 (SNET 7, SADR 0x33): the Reject goes
     * to router2 with DNET 7 / DADR 0x33, hop 255. */
    RX(0, &router2, false, 0x01, 0x28, 0x00, 0x09, 0x01, 0x05, 0x00, 0x07, 0x01, 0x33, 0xFE,
       0x10, 0x08);
    EXPECT_OUT(false, 0x01, 0xA0, 0x00, 0x07, 0x01, 0x33, 0xFF, 0x03, 0x01, 0x00, 0x09);
}

static void test_busy(void **state)
{
    (void)state;
    learn_net4();
    clear();
    /* Router 7: Router-Busy-To-Network 4. Passed on to the other networks. */
    RX(2, &router7, true, 0x01, 0x80, 0x04, 0x00, 0x04);
    assert_true(net_router_route(&S.r, 4)->busy);
    EXPECT_SENT(0, 0, 0, mac5, 0x01, 0x80, 0x04, 0x00, 0x04);
    EXPECT_SENT(1, 0, 0, mac5, 0x01, 0x80, 0x04, 0x00, 0x04);
    clear();
    /* Traffic for network 4 now: Reject reason 2 (router busy), DNET 4. */
    RX(0, &client, false, 0x01, 0x24, 0x00, 0x04, 0x01, 0x09, 0xFF, 0x00, 0x05, 0x01, 0x0C);
    EXPECT_OUT(false, 0x01, 0x80, 0x03, 0x02, 0x00, 0x04);
    no_sends();
    /* Router-Available-To-Network with no list: all its networks are back. */
    RX(2, &router7, true, 0x01, 0x80, 0x05);
    assert_false(net_router_route(&S.r, 4)->busy);
    EXPECT_SENT(0, 0, 0, mac5, 0x01, 0x80, 0x05, 0x00, 0x04);
    clear();
    RX(0, &client, false, 0x01, 0x24, 0x00, 0x04, 0x01, 0x09, 0xFF, 0x00, 0x05, 0x01, 0x0C);
    assert_int_equal(S.link[2].n, 1);
}

static void test_who_is_router(void **state)
{
    (void)state;
    learn_net4();
    clear();
    /* Who-Is-Router-To-Network, no DNET, from the IP side: I-Am-Router 2, 3, 4
     * broadcast on network 1 (not network 1 itself). */
    RX(0, &client, true, 0x01, 0x80, 0x00);
    EXPECT_OUT(true, 0x01, 0x80, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04);
    /* From network 3: 1 and 2 only (4 is reached through network 3 itself). */
    RX(2, &router7, true, 0x01, 0x80, 0x00);
    EXPECT_OUT(true, 0x01, 0x80, 0x01, 0x00, 0x01, 0x00, 0x02);
    /* For network 4 from network 3: not through us, no answer. */
    RX(2, &router7, true, 0x01, 0x80, 0x00, 0x00, 0x04);
    assert_int_equal(S.out_len, 0);
    /* For network 2 from the IP side: I-Am-Router 2. */
    RX(0, &client, true, 0x01, 0x80, 0x00, 0x00, 0x02);
    EXPECT_OUT(true, 0x01, 0x80, 0x01, 0x00, 0x02);
    no_sends();
    /* For an unknown network 8: asked on the other ports on the client's behalf,
     * control 0x88 (network message, SNET), SNET 1, SLEN 6, SADR client. */
    RX(0, &client, true, 0x01, 0x80, 0x00, 0x00, 0x08);
    assert_int_equal(S.out_len, 0);
    EXPECT_SENT(1, 0, 0, mac5, 0x01, 0x88, 0x00, 0x01, 0x06, IP_CLIENT, 0x00, 0x00, 0x08);
    EXPECT_SENT(2, 0, 0, mac5, 0x01, 0x88, 0x00, 0x01, 0x06, IP_CLIENT, 0x00, 0x00, 0x08);
}

static void test_init_routing_table(void **state)
{
    (void)state;
    learn_net4();
    clear();
    /* Query (0 ports): the Ack lists networks 1..3 on port ids 1..3 and 4 on port id 3,
     * no port info. */
    RX(0, &client, false, 0x01, 0x80, 0x06, 0x00);
    EXPECT_OUT(false, 0x01, 0x80, 0x07, 0x04, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02, 0x02, 0x00,
               0x00, 0x03, 0x03, 0x00, 0x00, 0x04, 0x03, 0x00);
    /* An update purging network 4 (port id 0): acknowledged with no data. */
    RX(0, &client, false, 0x01, 0x80, 0x06, 0x01, 0x00, 0x04, 0x00, 0x00);
    EXPECT_OUT(false, 0x01, 0x80, 0x07);
    assert_null(net_router_route(&S.r, 4));
}

static void test_network_number(void **state)
{
    static const net_addr_t ms = {1, {1}};
    fake_link_t l4 = {0};
    net_link_t link = {&l4, fake_send, 501};

    (void)state;
    /* What-Is-Network-Number on network 2: Network-Number-Is 2, configured. */
    RX(1, &meter5, true, 0x01, 0x80, 0x12);
    EXPECT_OUT(true, 0x01, 0x80, 0x13, 0x00, 0x02, 0x01);
    /* Not when it carries SNET (it came through a router). */
    RX(1, &meter5, true, 0x01, 0x88, 0x00, 0x07, 0x01, 0x33, 0x12);
    assert_int_equal(S.out_len, 0);
    /* A port whose number is not configured learns it from a configured source... */
    assert_int_equal(net_router_add_port(&S.r, &link, 0, &ms), 3);
    RX(3, &meter5, true, 0x01, 0x80, 0x12);
    assert_int_equal(S.out_len, 0); /* nothing to tell yet */
    RX(3, &router7, true, 0x01, 0x80, 0x13, 0x00, 0x0A, 0x00); /* learned: ignored */
    assert_int_equal(S.r.ports[3].net, 0);
    RX(3, &router7, true, 0x01, 0x80, 0x13, 0x00, 0x0A, 0x01);
    assert_int_equal(S.r.ports[3].net, 10);
    /* ... and then says it was learned (flag 0). */
    RX(3, &meter5, true, 0x01, 0x80, 0x12);
    EXPECT_OUT(true, 0x01, 0x80, 0x13, 0x00, 0x0A, 0x00);
    /* A configured port never relearns. */
    RX(1, &router7, true, 0x01, 0x80, 0x13, 0x00, 0x0B, 0x01);
    assert_int_equal(S.r.ports[1].net, 2);
}

static void test_unknown_message_type(void **state)
{
    (void)state;
    /* Type 0x14 addressed to the router: Reject reason 3; as a broadcast: silence. */
    RX(0, &client, false, 0x01, 0x80, 0x14);
    EXPECT_OUT(false, 0x01, 0x80, 0x03, 0x03, 0x00, 0x00);
    RX(0, &client, true, 0x01, 0x80, 0x14);
    assert_int_equal(S.out_len, 0);
    /* Proprietary 0x80, vendor 0x0104: the same. */
    RX(0, &client, false, 0x01, 0x80, 0x80, 0x01, 0x04, 0xAA);
    EXPECT_OUT(false, 0x01, 0x80, 0x03, 0x03, 0x00, 0x00);
    /* A Reject is never answered with a Reject. */
    RX(0, &client, false, 0x01, 0x80, 0x03, 0x07, 0x00, 0x09);
    assert_int_equal(S.out_len, 0);
    no_sends();
}

static void test_not_back_where_it_came_from(void **state)
{
    (void)state;
    /* DNET 1 arriving on network 1 for another station: not ours to repeat. */
    RX(0, &client, false, 0x01, 0x20, 0x00, 0x01, 0x06, IP_ROUTER2, 0xFF, 0x10, 0x08);
    no_sends();
    assert_int_equal(S.out_len, 0);
    /* A route that points back to the incoming port: dropped, not bounced. */
    net_router_set_route(&S.r, 7, 0, &router2);
    RX(0, &client, false, 0x01, 0x20, 0x00, 0x07, 0x01, 0x33, 0xFF, 0x10, 0x08);
    no_sends();
}

static void test_network_zero(void **state)
{
    (void)state;
    /* DNET 0 or SNET 0 name no network: dropped, nothing answered (a Reject to SNET 0
     * could not be addressed). */
    RX(0, &client, false, 0x01, 0x20, 0x00, 0x00, 0x00, 0xFF, 0x10, 0x08);
    RX(0, &router2, false, 0x01, 0x28, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x33, 0xFF, 0x10,
       0x08);
    assert_int_equal(S.out_len, 0);
    no_sends();
    assert_int_equal(S.app.calls, 0);
    assert_int_equal(S.r.stats.dropped, 2);
}

static void test_reject_relayed_to_source(void **state)
{
    (void)state;
    /* A Reject from router 7 for our client (DNET 1, DADR client) is routed to it like
     * any NPDU, SNET added (clause 6.6.3.5). */
    RX(2, &router7, false, 0x01, 0xA0, 0x00, 0x01, 0x06, IP_CLIENT, 0xFF, 0x03, 0x01, 0x00,
       0x0C);
    EXPECT_SENT(0, 0, 6, client_mac, 0x01, 0x88, 0x00, 0x03, 0x01, 0x07, 0x03, 0x01, 0x00,
                0x0C);
}

static void test_app_reply_routed(void **state)
{
    (void)state;
    /* Network 7 lies behind router2 on network 1. */
    RX(0, &router2, true, 0x01, 0x80, 0x01, 0x00, 0x07);
    clear();
    /* The router's device answers a request from station 0x33 on network 7, which
     * came through router2 (SNET 7, SADR 0x33); the device's reply has DNET 7. */
    static const uint8_t reply[] = {0x01, 0x20, 0x00, 0x07, 0x01, 0x33, 0xFF, 0x20, 0x01, 0x0F};
    S.app.reply = reply;
    S.app.reply_len = sizeof reply;
    RX(0, &router2, false, 0x01, 0x0C, 0x00, 0x07, 0x01, 0x33, 0x00, 0x05, 0x01, 0x0F);
    assert_int_equal(S.app.calls, 1);
    /* Out to router2 with the router's own source: SNET 1, SADR its IP address. */
    EXPECT_OUT(false, 0x01, 0x28, 0x00, 0x07, 0x01, 0x33, 0x00, 0x01, 0x06, IP_ROUTER, 0xFF,
               0x20, 0x01, 0x0F);
    (void)router2_mac;
}

static void test_too_long(void **state)
{
    uint8_t big[600] = {0x01, 0x24, 0x00, 0x02, 0x01, 0x05, 0xFF};

    (void)state;
    /* 593 octets of APDU do not fit MS/TP's 501: Reject reason 4. */
    rx(0, &client, false, big, sizeof big);
    no_sends();
    EXPECT_OUT(false, 0x01, 0x80, 0x03, 0x04, 0x00, 0x02);
}

/* ---- queueing and pacing ----------------------------------------------------------- */

/* A link that may say busy (or fail) and keeps what it takes: every NPDU in log (small
 * ones), the last one whole. */
typedef struct {
    uint8_t dlen, dst[NET_ADDR_MAX];
    uint16_t len;
    uint8_t b[40];
} qrec_t;

typedef struct {
    int busy;       /* NET_ERR_BUSY for the next this many offers */
    int room;       /* then take this many (-1: any number), NET_ERR_BUSY after */
    int fail;       /* -1 (a hard error) for the next this many offers */
    unsigned offers, taken;
    frame_t last;
    qrec_t *log;    /* NULL: count only */
    unsigned cap;
} qlink_t;

#define QPORTS 301u

static struct {
    net_router_t r;
    qlink_t l[QPORTS];
    uint8_t arena[1u << 20]; /* the queues' storage */
    size_t used;
    qrec_t log[1400];
} Q;

static int q_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    qlink_t *l = ctx;

    l->offers++;
    if (l->fail > 0) {
        l->fail--;
        return -1;
    }
    if (l->busy > 0) {
        l->busy--;
        return NET_ERR_BUSY;
    }
    if (l->room == 0)
        return NET_ERR_BUSY;
    if (l->room > 0)
        l->room--;
    memset(&l->last, 0, sizeof l->last);
    if (dst)
        l->last.dst = *dst;
    memcpy(l->last.b, npdu, len);
    l->last.len = len;
    if (l->log) {
        qrec_t *q = &l->log[l->taken];

        assert_true(l->taken < l->cap && len <= sizeof q->b);
        q->dlen = dst ? dst->len : 0;
        memcpy(q->dst, l->last.dst.mac, NET_ADDR_MAX);
        q->len = (uint16_t)len;
        memcpy(q->b, npdu, len);
    }
    l->taken++;
    return 0;
}

/* A router of n ports: 0 B/IP network 1 (192.168.0.1), k MS/TP network k + 1 (MAC 1);
 * every link takes everything until told otherwise. */
static void qsite(unsigned n, const net_upper_t *app)
{
    static const net_addr_t ip = {6, {IP_ROUTER}}, ms = {1, {1}};

    memset(&Q, 0, sizeof Q);
    net_router_init(&Q.r, app);
    for (unsigned i = 0; i < n; i++) {
        net_link_t l = {&Q.l[i], q_send, i == 0 ? 1497 : 501};

        Q.l[i].room = -1;
        assert_int_equal(net_router_add_port(&Q.r, &l, (uint16_t)(i + 1), i == 0 ? &ip : &ms),
                         (int)i);
    }
}

static void qgive(unsigned k, size_t cap)
{
    assert_true(Q.used + cap <= sizeof Q.arena);
    assert_int_equal(net_router_port_queue(&Q.r, k, Q.arena + Q.used, cap), 0);
    Q.used += cap;
}

static void qlog(unsigned k, unsigned cap)
{
    Q.l[k].log = Q.log;
    Q.l[k].cap = cap;
}

static void qrx(unsigned port, const net_addr_t *src, bool bcast, const uint8_t *b, size_t n)
{
    uint8_t out[NET_NPDU_MAX];
    bool rb;

    S.out_len = net_router_receive(&Q.r, port, src, bcast, b, n, out, sizeof out, &rb);
}

/* The client's ReadProperty-like request number seq to meter 5 on network 2, and what
 * the trunk must get: SNET 1, SADR the client, the APDU unchanged. */
static void to_meter5(uint8_t seq)
{
    const uint8_t in[] = {0x01, 0x24, 0x00, 0x02, 0x01, 0x05, 0xFF, 0x00, 0x05, seq, 0x0C};

    qrx(0, &client, false, in, sizeof in);
}

static void expect_at_meter5(const qrec_t *q, uint8_t seq)
{
    const uint8_t w[] = {0x01, 0x0C, 0x00, 0x01, 0x06, IP_CLIENT, 0x00, 0x05, seq, 0x0C};

    assert_int_equal(q->dlen, 1);
    assert_int_equal(q->dst[0], 5);
    expect_bytes(q->b, q->len, w, sizeof w);
}

static void test_busy_link_then_accepts(void **state)
{
    (void)state;
    qsite(2, NULL);
    qgive(1, 4096);
    qlog(1, 16);
    Q.l[1].busy = 3;
    /* The first is offered and refused: it waits; the four after it queue behind it
     * without being offered (order is kept). */
    for (uint8_t i = 0; i < 5; i++)
        to_meter5(i);
    assert_int_equal(Q.l[1].offers, 1);
    assert_int_equal(Q.l[1].taken, 0);
    assert_int_equal(net_router_waiting(&Q.r), 5);
    assert_int_equal(Q.r.ports[1].stats.queued, 5);
    /* Polls: refused twice more (the same NPDU each time), then all of them. */
    assert_int_equal(net_router_poll(&Q.r, 1), 5);
    assert_int_equal(net_router_poll(&Q.r, 2), 5);
    assert_int_equal(Q.l[1].offers, 3);
    assert_int_equal(net_router_poll(&Q.r, 3), 0);
    assert_int_equal(Q.l[1].taken, 5);
    for (uint8_t i = 0; i < 5; i++)
        expect_at_meter5(&Q.log[i], i);
    assert_int_equal(Q.r.ports[1].stats.sent, 5);
    assert_int_equal(Q.r.ports[1].stats.dropped, 0);
    assert_int_equal(Q.r.stats.dropped, 0);
    assert_int_equal(Q.r.stats.forwarded, 5);
    /* Empty again: the next goes straight to the link. */
    to_meter5(5);
    assert_int_equal(Q.l[1].taken, 6);
    expect_at_meter5(&Q.log[5], 5);
    assert_int_equal(net_router_waiting(&Q.r), 0);
}

/* With a queue of their own, broadcasts flooded into a busy trunk wait behind the
 * requests routed to its stations, whatever came first; each class keeps its order. */
static void test_broadcasts_after_unicasts(void **state)
{
    const uint8_t who_is[] = {0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08};

    (void)state;
    qsite(2, NULL);
    qgive(1, 4096);
    assert_int_equal(net_router_port_bqueue(&Q.r, 1, Q.arena + Q.used, 4096), 0);
    Q.used += 4096;
    qlog(1, 16);
    Q.l[1].room = 0;
    for (int i = 0; i < 3; i++)
        qrx(0, &client, true, who_is, sizeof who_is);
    to_meter5(0);
    to_meter5(1);
    assert_int_equal(net_router_waiting(&Q.r), 5);
    assert_int_equal(Q.r.ports[1].queue.count, 2);
    assert_int_equal(Q.r.ports[1].bqueue.count, 3);
    Q.l[1].room = -1;
    assert_int_equal(net_router_poll(&Q.r, 1), 0);
    assert_int_equal(Q.l[1].taken, 5);
    expect_at_meter5(&Q.log[0], 0);
    expect_at_meter5(&Q.log[1], 1);
    /* then the Who-Is three times, as a local broadcast with SNET 1 / SADR the client */
    const uint8_t w[] = {0x01, 0x28, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x06, IP_CLIENT, 0xFE, 0x10, 0x08};
    for (int i = 2; i < 5; i++) {
        assert_int_equal(Q.log[i].dlen, 0);
        expect_bytes(Q.log[i].b, Q.log[i].len, w, sizeof w);
    }
    /* A unicast with only broadcasts waiting goes straight to the link. */
    Q.l[1].room = 0;
    qrx(0, &client, true, who_is, sizeof who_is);
    Q.l[1].room = -1;
    to_meter5(2);
    assert_int_equal(Q.l[1].taken, 6);
    expect_at_meter5(&Q.log[5], 2);
    assert_int_equal(net_router_poll(&Q.r, 2), 0);
    assert_int_equal(Q.log[6].dlen, 0);
}

/* With a broadcast queue, pacing holds back broadcasts only: answers to the client's
 * own requests go at once, a flood of I-Ams at the pace. */
static void test_pacing_broadcasts_only(void **state)
{
    const uint8_t reply[] = {0x01, 0x20, 0x00, 0x01, 0x06, IP_CLIENT, 0xFF, 0x30, 0x01, 0x0C};
    const uint8_t i_am[] = {0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x00, 0xC4, 0x02, 0x00, 0x00, 0x05};

    (void)state;
    qsite(2, NULL);
    qgive(0, 4096);
    assert_int_equal(net_router_port_bqueue(&Q.r, 0, Q.arena + Q.used, 4096), 0);
    Q.used += 4096;
    assert_int_equal(net_router_port_pace(&Q.r, 0, 1, 1), 0); /* one a second */
    for (int i = 0; i < 3; i++) {
        qrx(1, &meter5, true, i_am, sizeof i_am);
        qrx(1, &meter5, false, reply, sizeof reply);
    }
    /* three answers and the first I-Am out; two I-Ams wait */
    assert_int_equal(Q.l[0].taken, 4);
    assert_int_equal(Q.r.ports[0].bqueue.count, 2);
    assert_int_equal(net_router_poll(&Q.r, 999), 2);
    assert_int_equal(net_router_poll(&Q.r, 1000), 1);
    qrx(1, &meter5, false, reply, sizeof reply); /* still at once */
    assert_int_equal(Q.l[0].taken, 6);
    assert_int_equal(net_router_poll(&Q.r, 2000), 0);
    assert_int_equal(Q.l[0].taken, 7);
    assert_int_equal(Q.r.stats.dropped, 0);
}

static void test_queue_full_drops_keeps_order(void **state)
{
    /* A record: 3 octets + the MAC (1) + the NPDU (15): 19. Room for three and a half:
     * the fourth wraps to the start of the ring. */
    const size_t rec = 3u + 1u + 15u;

    (void)state;
    qsite(2, NULL);
    qgive(1, 3u * rec + rec / 2u);
    qlog(1, 16);
    Q.l[1].room = 0; /* busy until the trunk moves */
    for (uint8_t i = 0; i < 5; i++)
        to_meter5(i);
    /* 0..2 wait, 3 and 4 are lost and counted. */
    assert_int_equal(net_router_waiting(&Q.r), 3);
    assert_int_equal(Q.r.ports[1].stats.dropped, 2);
    assert_int_equal(Q.r.stats.dropped, 2);
    assert_int_equal(Q.r.stats.forwarded, 3);
    assert_int_equal(Q.r.ports[1].stats.peak, 3u * rec);
    /* One leaves; 5 fits only at the start of the ring (the tail end is skipped); 6 does
     * not fit at all. */
    Q.l[1].room = 1;
    net_router_poll(&Q.r, 1);
    to_meter5(5);
    to_meter5(6);
    assert_int_equal(net_router_waiting(&Q.r), 3);
    assert_int_equal(Q.r.ports[1].stats.dropped, 3);
    assert_int_equal(Q.r.ports[1].queue.used, Q.r.ports[1].queue.cap);
    Q.l[1].room = -1;
    assert_int_equal(net_router_poll(&Q.r, 2), 0);
    assert_int_equal(Q.l[1].taken, 4);
    expect_at_meter5(&Q.log[0], 0);
    expect_at_meter5(&Q.log[1], 1);
    expect_at_meter5(&Q.log[2], 2);
    expect_at_meter5(&Q.log[3], 5);
    assert_int_equal(Q.r.ports[1].queue.used, 0);
}

static void test_queue_model(void **state)
{
    /* Random lengths, a link busy at random, polls at random: what comes out is exactly
     * what was not counted as dropped, in order, byte for byte (the ring wraps many
     * times in 300 octets). */
    static uint8_t want[4000][40];
    static size_t want_len[4000];
    unsigned nwant = 0, seen = 0;
    uint32_t x = 12345;

    (void)state;
    qsite(2, NULL);
    qgive(1, 300);
    qlog(1, 1400);
    for (unsigned step = 0; step < 6000; step++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (x % 3u == 0) {
            Q.l[1].room = (int)(x >> 8) % 4;
            net_router_poll(&Q.r, step);
        } else {
            uint8_t in[40] = {0x01, 0x20, 0x00, 0x02, 0x01, 0x05, 0xFF};
            size_t n = 7u + 1u + (x >> 4) % 24u;
            uint32_t dropped = Q.r.ports[1].stats.dropped;

            for (size_t i = 7; i < n; i++)
                in[i] = (uint8_t)(step + i);
            qrx(0, &client, false, in, n);
            if (Q.r.ports[1].stats.dropped == dropped) {
                /* On the trunk: control 0x08, SNET 1, SADR the client, the APDU. */
                uint8_t *w = want[nwant];

                memcpy(w, (const uint8_t[]){0x01, 0x08, 0x00, 0x01, 0x06, IP_CLIENT}, 11);
                memcpy(w + 11, in + 7, n - 7u);
                want_len[nwant++] = 11u + n - 7u;
            }
        }
        for (; seen < Q.l[1].taken; seen++) {
            assert_true(seen < nwant);
            expect_bytes(Q.log[seen].b, Q.log[seen].len, want[seen], want_len[seen]);
        }
        if (seen >= 1000) { /* start the log again */
            memmove(want, want + seen, (nwant - seen) * sizeof want[0]);
            memmove(want_len, want_len + seen, (nwant - seen) * sizeof want_len[0]);
            nwant -= seen;
            Q.l[1].taken = seen = 0;
        }
    }
    assert_true(Q.r.ports[1].stats.dropped > 100 && Q.r.ports[1].stats.sent > 1000);
    assert_int_equal(Q.r.ports[1].stats.sent + Q.r.ports[1].stats.dropped + Q.r.waiting,
                     Q.r.stats.forwarded + Q.r.ports[1].stats.dropped);
}

static void test_hard_error_not_retried(void **state)
{
    (void)state;
    qsite(2, NULL);
    qgive(1, 4096);
    Q.l[1].fail = 1;
    to_meter5(0);
    to_meter5(1);
    /* The first is lost and counted; it does not wait; the second goes. */
    assert_int_equal(Q.r.ports[1].stats.errors, 1);
    assert_int_equal(Q.r.stats.dropped, 1);
    assert_int_equal(net_router_waiting(&Q.r), 0);
    assert_int_equal(Q.l[1].taken, 1);
    /* Without a queue a busy link loses the NPDU too (counted). */
    assert_int_equal(net_router_port_queue(&Q.r, 1, NULL, 0), 0);
    Q.l[1].busy = 1;
    to_meter5(2);
    assert_int_equal(Q.r.ports[1].stats.dropped, 1);
    assert_int_equal(Q.r.stats.dropped, 2);
    /* A queue is not taken away while it holds NPDUs. */
    qgive(1, 4096);
    Q.l[1].busy = 1;
    to_meter5(3);
    assert_int_equal(net_router_port_queue(&Q.r, 1, NULL, 0), -1);
}

static void test_pacing(void **state)
{
    (void)state;
    qsite(2, NULL);
    qgive(1, 4096);
    qlog(1, 64);
    /* Out of range: a rate with no burst, or beyond NET_PACE_MAX. */
    assert_int_equal(net_router_port_pace(&Q.r, 1, 10, 0), -1);
    assert_int_equal(net_router_port_pace(&Q.r, 1, NET_PACE_MAX + 1u, 1), -1);
    assert_int_equal(net_router_port_pace(&Q.r, 2, 10, 3), -1);
    net_router_poll(&Q.r, 1000);
    /* 10 a second, 3 at once; the bucket starts full. */
    assert_int_equal(net_router_port_pace(&Q.r, 1, 10, 3), 0);
    for (uint8_t i = 0; i < 10; i++)
        to_meter5(i);
    assert_int_equal(Q.l[1].taken, 3);
    assert_int_equal(net_router_waiting(&Q.r), 7);
    net_router_poll(&Q.r, 1099); /* 0.99 of a token */
    assert_int_equal(Q.l[1].taken, 3);
    net_router_poll(&Q.r, 1100);
    assert_int_equal(Q.l[1].taken, 4);
    net_router_poll(&Q.r, 1100);
    assert_int_equal(Q.l[1].taken, 4);
    net_router_poll(&Q.r, 1450); /* 3.5 tokens, but the bucket holds 3 */
    assert_int_equal(Q.l[1].taken, 7);
    net_router_poll(&Q.r, 1549);
    assert_int_equal(Q.l[1].taken, 7);
    net_router_poll(&Q.r, 1550);
    assert_int_equal(Q.l[1].taken, 8);
    /* A long pause fills the bucket to 3, no more. */
    net_router_poll(&Q.r, 100000);
    assert_int_equal(Q.l[1].taken, 10);
    for (uint8_t i = 10; i < 20; i++)
        to_meter5(i);
    assert_int_equal(Q.l[1].taken, 11); /* 1 token was left */
    net_router_poll(&Q.r, 200000);
    assert_int_equal(Q.l[1].taken, 14);
    for (uint8_t i = 0; i < 14; i++)
        expect_at_meter5(&Q.log[i], i);
    /* 3 a second, 1 at once (a full bucket: one goes): then 333 ms are 0.999 of a token,
     * 334 ms 1.002. The clock may wrap. */
    assert_int_equal(net_router_port_pace(&Q.r, 1, 3, 1), 0);
    net_router_poll(&Q.r, 0xFFFFFF00u);
    assert_int_equal(net_router_waiting(&Q.r), 5);
    unsigned t = Q.l[1].taken;
    net_router_poll(&Q.r, 0xFFFFFF00u + 333u);
    assert_int_equal(Q.l[1].taken, t);
    net_router_poll(&Q.r, 0xFFFFFF00u + 334u);
    assert_int_equal(Q.l[1].taken, t + 1u);
    /* No limit again: the rest goes at the next poll. */
    assert_int_equal(net_router_port_pace(&Q.r, 1, 0, 0), 0);
    assert_int_equal(net_router_poll(&Q.r, 0xFFFFFF00u + 335u), 0);
    assert_int_equal(Q.l[1].taken, 20);
    expect_at_meter5(&Q.log[19], 19);
}

static void test_reply_waits_its_turn(void **state)
{
    static const uint8_t reply[] = {0x01, 0x00, 0x30, 0x01, 0x0C};
    fake_app_t app = {.reply = reply, .reply_len = sizeof reply};
    net_upper_t up = {&app, fake_app_rx};

    (void)state;
    qsite(2, &up);
    qgive(1, 4096);
    qlog(1, 16);
    /* Meter 5 asks the router's device (no DNET): answered in the upcall... */
    RX_Q(1, &meter5, false, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0C);
    assert_int_equal(S.out_len, sizeof reply);
    assert_int_equal(Q.r.ports[1].stats.sent, 1);
    /* ...but while the trunk has NPDUs waiting, the answer waits behind them (MS/TP
     * then answers Reply Postponed and sends it with the token). */
    Q.l[1].busy = 1;
    to_meter5(7);
    RX_Q(1, &meter5, false, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0C);
    assert_int_equal(S.out_len, 0);
    assert_int_equal(net_router_poll(&Q.r, 1), 0);
    expect_at_meter5(&Q.log[0], 7);
    assert_int_equal(Q.log[1].dlen, 1);
    assert_int_equal(Q.log[1].dst[0], 5);
    expect_bytes(Q.log[1].b, Q.log[1].len, reply, sizeof reply);
}

static void test_router_busy_announced(void **state)
{
    (void)state;
    qsite(3, NULL);
    qlog(0, 16);
    /* Network 7 behind router2 on the IP side: a router lives there. None on port 1. */
    RX_Q(0, &router2, true, 0x01, 0x80, 0x01, 0x00, 0x07);
    Q.l[0].taken = Q.l[1].taken = Q.l[2].taken = 0;
    /* Port 2's queue passes 3/4 full: at the next poll Router-Busy-To-Network 3 goes to
     * the IP side, broadcast; not to port 1 (no router known there). */
    qgive(2, 100);
    Q.l[2].room = 0;
    for (uint8_t i = 0; i < 4; i++) { /* 4 x 20 octets */
        const uint8_t in[] = {0x01, 0x24, 0x00, 0x03, 0x01, 0x05, 0xFF, 0x00, 0x05, i, 0x0C};
        qrx(0, &client, false, in, sizeof in);
    }
    assert_true(Q.r.ports[2].congested);
    assert_int_equal(Q.l[0].taken, 0);
    net_router_poll(&Q.r, 1);
    assert_int_equal(Q.l[0].taken, 1);
    assert_int_equal(Q.l[1].taken, 0);
    assert_int_equal(Q.log[0].dlen, 0);
    expect_bytes(Q.log[0].b, Q.log[0].len, (const uint8_t[]){0x01, 0x80, 0x04, 0x00, 0x03}, 5);
    /* Said once. Drained to a quarter or less: Router-Available-To-Network 3. */
    net_router_poll(&Q.r, 2);
    assert_int_equal(Q.l[0].taken, 1);
    Q.l[2].room = 2;
    net_router_poll(&Q.r, 3);
    assert_true(Q.r.ports[2].congested); /* 40 of 100 octets */
    Q.l[2].room = 1;
    net_router_poll(&Q.r, 4);
    assert_false(Q.r.ports[2].congested);
    net_router_poll(&Q.r, 5);
    assert_int_equal(Q.l[0].taken, 2);
    expect_bytes(Q.log[1].b, Q.log[1].len, (const uint8_t[]){0x01, 0x80, 0x05, 0x00, 0x03}, 5);
}

static void test_300_ports(void **state)
{
    uint8_t big[NET_NPDU_MAX];
    unsigned n;

    (void)state;
    if (NET_MAX_PORTS < QPORTS)
        skip();
    qsite(QPORTS, NULL);
    /* A global Who-Is from the client: one copy on each of the 300 trunks, none back. */
    RX_Q(0, &client, true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08);
    static const uint8_t who[] = {0x01, 0x28, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x06, IP_CLIENT,
                                  0xFE, 0x10, 0x08};
    assert_int_equal(Q.l[0].taken, 0);
    for (unsigned k = 1; k < QPORTS; k++) {
        assert_int_equal(Q.l[k].taken, 1);
        assert_int_equal(Q.l[k].last.dst.len, 0);
        expect_bytes(Q.l[k].last.b, Q.l[k].last.len, who, sizeof who);
    }
    assert_int_equal(Q.r.stats.forwarded, 300);
    /* Port 300 (an index past 255) both ways: the client to meter 5 on network 301, and
     * the meter's answer back with SNET 301. */
    RX_Q(0, &client, false, 0x01, 0x24, 0x01, 0x2D, 0x01, 0x05, 0xFF, 0x00, 0x05, 0x01, 0x0C);
    assert_int_equal(Q.l[300].taken, 2);
    EXPECT_LAST(300, 1, mac5, 0x01, 0x0C, 0x00, 0x01, 0x06, IP_CLIENT, 0x00, 0x05, 0x01, 0x0C);
    RX_Q(300, &meter5, false, 0x01, 0x20, 0x00, 0x01, 0x06, IP_CLIENT, 0xFF, 0x30, 0x01, 0x0C);
    EXPECT_LAST(0, 6, client_mac, 0x01, 0x08, 0x01, 0x2D, 0x01, 0x05, 0x30, 0x01, 0x0C);
    /* Who-Is-Router-To-Network from trunk 300: the 300 other networks do not fit one
     * MS/TP frame (249 DNETs do): two I-Am-Router-To-Network, 1..300 in order. The
     * first goes back in the upcall, the second through the link. */
    n = 0;
    {
        bool rb;
        static const uint8_t wir[] = {0x01, 0x80, 0x00};
        size_t len = net_router_receive(&Q.r, 300, &meter5, true, wir, sizeof wir, big,
                                        sizeof big, &rb);
        bac_npdu_t h;
        net_msg_t m = parse(big, len, &h);

        assert_true(rb);
        assert_int_equal(len, 3u + 2u * 249u);
        assert_int_equal(m.type, NET_MSG_I_AM_ROUTER);
        for (uint16_t i = 0; i < m.count; i++)
            assert_int_equal(net_msg_dnet(&m, i), ++n);
        m = parse(Q.l[300].last.b, Q.l[300].last.len, &h);
        assert_int_equal(m.count, 51);
        for (uint16_t i = 0; i < m.count; i++)
            assert_int_equal(net_msg_dnet(&m, i), ++n);
    }
    assert_int_equal(n, 300);
    /* Initialize-Routing-Table from the client: as many entries as fit 1497 octets
     * (count is one octet: 255), port ids 1..254, then 255 for every port from 254 on. */
    {
        bool rb;
        static const uint8_t q[] = {0x01, 0x80, 0x06, 0x00};
        size_t len = net_router_receive(&Q.r, 0, &client, false, q, sizeof q, big, sizeof big,
                                        &rb);
        bac_npdu_t h;
        net_msg_t m = parse(big, len, &h);
        net_rt_entry_t e;
        size_t off = 0;
        unsigned i = 0;

        assert_int_equal(m.count, 255);
        while (net_msg_rt_next(&m, &off, &e)) {
            assert_int_equal(e.dnet, i + 1u);
            assert_int_equal(e.port_id, i < 254u ? i + 1u : 255u);
            i++;
        }
        assert_int_equal(i, 255);
    }
}

static void test_port_taken_back(void **state)
{
    static const net_addr_t ms = {1, {1}};
    net_link_t l = {&Q.l[3], q_send, 501};

    (void)state;
    qsite(3, NULL);
    /* A host adds port 3 for network 40, cannot set up its link and takes it back; the
     * slot is used again for network 9: 40 is gone, 9 and the others found. */
    assert_int_equal(net_router_add_port(&Q.r, &l, 40, &ms), 3);
    Q.r.nports--;
    assert_int_equal(net_router_port_of(&Q.r, 40), -1);
    assert_int_equal(net_router_add_port(&Q.r, &l, 9, &ms), 3);
    assert_int_equal(net_router_port_of(&Q.r, 40), -1);
    assert_int_equal(net_router_port_of(&Q.r, 9), 3);
    for (unsigned k = 0; k < 3; k++)
        assert_int_equal(net_router_port_of(&Q.r, (uint16_t)(k + 1)), (int)k);
    assert_int_equal(Q.r.nnets, 4);
}

/* 20 MS/TP trunks of 32 meters each answer two global Who-Is with global I-Ams; the
 * B/IP side is paced at 500 a second, a trunk takes 4 NPDUs a millisecond. Every I-Am
 * reaches the client, in the order the router got them (so each meter's two in order),
 * and none is lost anywhere. */
#define TRUNKS 20u
#define METERS 32u

static void i_am(uint8_t *o, unsigned trunk, unsigned meter, unsigned round, bool fwd)
{
    unsigned inst = trunk * 100u + meter;
    size_t n = 0;

    o[n++] = 0x01;
    if (fwd) { /* as it leaves the router: SNET the trunk, SADR the meter, a hop spent */
        const uint8_t h[] = {0x28, 0xFF, 0xFF, 0x00, 0x00, (uint8_t)(trunk + 2u), 0x01,
                             (uint8_t)(meter + 2u), 0xFE};
        memcpy(o + n, h, sizeof h);
        n += sizeof h;
    } else {
        const uint8_t h[] = {0x20, 0xFF, 0xFF, 0x00, 0xFF};
        memcpy(o + n, h, sizeof h);
        n += sizeof h;
    }
    /* I-Am: device, max APDU 480, no segmentation, vendor = the round */
    const uint8_t a[] = {0x10, 0x00, 0xC4, 0x02, 0x00, (uint8_t)(inst >> 8), (uint8_t)inst,
                         0x22, 0x01, 0xE0, 0x91, 0x03, 0x21, (uint8_t)round};
    memcpy(o + n, a, sizeof a);
}

static void test_who_is_flood_paced(void **state)
{
    static uint16_t order[2u * TRUNKS * METERS]; /* trunk << 8 | meter << 1 | round */
    unsigned norder = 0, next[TRUNKS] = {0};

    (void)state;
    qsite(1u + TRUNKS, NULL);
    qgive(0, 64u * 1024u);
    qlog(0, 1400);
    assert_int_equal(net_router_port_pace(&Q.r, 0, 500, 50), 0);
    for (unsigned k = 1; k <= TRUNKS; k++)
        qgive(k, 40u * 1024u);
    net_router_poll(&Q.r, 0);
    for (uint32_t t = 0; t < 100000u; t++) {
        /* Two Who-Is, at 0 and 40 ms: every meter answers each, one meter of each trunk
         * a millisecond (the token goes round). */
        if (t == 0 || t == 40) {
            RX_Q(0, &client, true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08);
            for (unsigned k = 0; k < TRUNKS; k++)
                next[k] = t ? METERS : 0;
        }
        for (unsigned k = 0; k < TRUNKS; k++) {
            if (next[k] >= (t < 40 ? METERS : 2u * METERS) || (t >= 40 && next[k] < METERS))
                continue;
            unsigned m = next[k] % METERS, round = next[k] / METERS;
            net_addr_t src = {1, {(uint8_t)(m + 2u)}};
            uint8_t in[20];

            i_am(in, k, m, round, false);
            qrx(1u + k, &src, true, in, sizeof in);
            order[norder++] = (uint16_t)(k << 8 | m << 1 | round);
            next[k]++;
        }
        for (unsigned k = 1; k <= TRUNKS; k++)
            Q.l[k].room = 4; /* the token came round */
        net_router_poll(&Q.r, t);
        if (norder == 2u * TRUNKS * METERS && net_router_waiting(&Q.r) == 0)
            break;
    }
    assert_int_equal(norder, 2u * TRUNKS * METERS);
    assert_int_equal(net_router_waiting(&Q.r), 0);
    assert_int_equal(Q.l[0].taken, 2u * TRUNKS * METERS);
    for (unsigned i = 0; i < norder; i++) {
        uint8_t w[24];

        i_am(w, order[i] >> 8, (order[i] >> 1) & 0x7Fu, order[i] & 1u, true);
        assert_int_equal(Q.log[i].dlen, 0);
        expect_bytes(Q.log[i].b, Q.log[i].len, w, sizeof w);
    }
    /* Nothing lost anywhere: each trunk also got the 19 x 64 I-Ams of the others. */
    assert_int_equal(Q.r.stats.dropped, 0);
    for (unsigned k = 1; k <= TRUNKS; k++)
        assert_int_equal(Q.l[k].taken, 2u + (TRUNKS - 1u) * 2u * METERS);
    /* Paced: 1280 at 500 a second after a burst of 50 take 2.46 s of virtual time. */
    assert_true(Q.r.now_ms >= 2400 && Q.r.now_ms <= 2600);
    assert_true(Q.r.ports[0].stats.peak > 10000);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_msg_who_is_router),
        T(test_msg_i_am_router),
        T(test_msg_could_be_reject),
        T(test_msg_busy_available),
        T(test_msg_init_routing_table),
        T(test_msg_connection_and_number),
        T(test_msg_proprietary_and_bad),
        T(test_local_delivery),
        T(test_forward_ip_to_mstp),
        T(test_reply_mstp_to_ip),
        T(test_global_broadcast),
        T(test_remote_broadcast),
        T(test_learn_route),
        T(test_hop_count_expiry),
        T(test_unknown_dnet),
        T(test_unknown_dnet_remote_source),
        T(test_busy),
        T(test_who_is_router),
        T(test_init_routing_table),
        T(test_network_number),
        T(test_unknown_message_type),
        T(test_not_back_where_it_came_from),
        T(test_network_zero),
        T(test_reject_relayed_to_source),
        T(test_app_reply_routed),
        T(test_too_long),
        T(test_busy_link_then_accepts),
        T(test_broadcasts_after_unicasts),
        T(test_pacing_broadcasts_only),
        T(test_queue_full_drops_keeps_order),
        T(test_queue_model),
        T(test_hard_error_not_retried),
        T(test_pacing),
        T(test_reply_waits_its_turn),
        T(test_router_busy_announced),
        T(test_300_ports),
        T(test_port_taken_back),
        T(test_who_is_flood_paced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
