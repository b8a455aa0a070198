/*
 * BACnet/IP BBMDs and foreign devices (ASHRAE 135 Annex J) in the bip link, with a fake
 * layer above and fake ports: every BVLC function in and out octet for octet (the
 * expected datagrams written by hand from Annex J's layouts, each with its fields),
 * the foreign device table timed by explicit ticks, two-hop and one-hop distribution,
 * the NAKs, a foreign device's registration life, and a site of three BBMDs, their
 * nodes and two foreign devices wired together in RAM, where every broadcast reaches
 * every other node exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bip/bip.h"

static bip_addr_t addr(const char *ip, uint16_t port)
{
    bip_addr_t a;
    assert_true(bip_addr_parse(ip, port, &a));
    return a;
}

/* ---- one link under test: what it sends, what it hands up ---------------------------- */

#define SENT_MAX 16
static struct {
    int n;
    bip_addr_t to[SENT_MAX];
    uint8_t data[SENT_MAX][BIP_BBMD_BUF];
    size_t len[SENT_MAX];
} sent;

static int capture(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    assert_true(sent.n < SENT_MAX);
    assert_true(len <= BIP_BBMD_BUF);
    sent.to[sent.n] = *to;
    memcpy(sent.data[sent.n], data, len);
    sent.len[sent.n++] = len;
    return 0;
}

static void expect_sent_n(int i, const bip_addr_t *to, const char *octets, size_t n)
{
    assert_true(i < sent.n);
    assert_memory_equal(sent.to[i].octets, to->octets, 6);
    assert_int_equal(sent.len[i], n);
    assert_memory_equal(sent.data[i], octets, n);
}
#define EXPECT_SENT(i, to, lit) expect_sent_n(i, to, lit, sizeof lit - 1)

static struct {
    int calls;
    net_addr_t src;
    bool bcast;
    uint8_t npdu[1600];
    size_t len;
    uint8_t reply[64];
    size_t reply_len;
    bool reply_bcast;
} up;

static size_t up_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                         size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    (void)ctx;
    assert_true(len <= sizeof up.npdu);
    up.calls++;
    up.src = *src;
    up.bcast = bcast;
    memcpy(up.npdu, npdu, len);
    up.len = len;
    memcpy(out, up.reply, up.reply_len);
    assert_true(up.reply_len <= cap);
    *reply_bcast = up.reply_bcast;
    return up.reply_len;
}

static void expect_up(const bip_addr_t *src, bool bcast, const char *npdu, size_t n)
{
    assert_int_equal(up.src.len, 6);
    assert_memory_equal(up.src.mac, src->octets, 6);
    assert_int_equal(up.bcast, bcast);
    assert_int_equal(up.len, n);
    assert_memory_equal(up.npdu, npdu, n);
}

/* The BBMD under test, 10.0.1.1, and its site:
 *   BDT  10.0.1.1  255.255.255.255  itself
 *        10.0.2.1  255.255.255.255  two-hop: Forwarded-NPDUs unicast to it
 *        10.0.3.1  255.255.255.0    one-hop: directed broadcast to 10.0.3.255
 * Octets: 10.0.1.1:47808 = 0A 00 01 01 BA C0; the port 47808 = BA C0. */
static bip_t b;
static bip_bbmd_t m;
static bip_addr_t self, bcast, peer2, peer3, peer3_bcast, local, fd1, fd2, stranger;
static const uint8_t ONES[4] = {255, 255, 255, 255};
static const uint8_t SLASH24[4] = {255, 255, 255, 0};

static void reset(void)
{
    memset(&sent, 0, sizeof sent);
    memset(&up, 0, sizeof up);
}

static void start(bool bbmd)
{
    self = addr("10.0.1.1", 47808);
    bcast = addr("10.0.1.255", 47808);
    peer2 = addr("10.0.2.1", 47808);
    peer3 = addr("10.0.3.1", 47808);
    peer3_bcast = addr("10.0.3.255", 47808);
    local = addr("10.0.1.7", 47808);    /* 0A 00 01 07 BA C0 */
    fd1 = addr("192.168.7.5", 47808);   /* C0 A8 07 05 BA C0 */
    fd2 = addr("172.16.0.9", 47809);    /* AC 10 00 09 BA C1 */
    stranger = addr("10.9.9.9", 47808); /* 0A 09 09 09 BA C0 */
    bip_port_t port = {NULL, capture};
    bip_init(&b, &port, &self, &bcast, &(net_upper_t){NULL, up_receive});
    bip_tick(&b, 1000);
    if (bbmd) {
        bip_bbmd_init(&m);
        assert_int_equal(bip_bdt_add(&m, &self, ONES), 0);
        assert_int_equal(bip_bdt_add(&m, &peer2, ONES), 0);
        assert_int_equal(bip_bdt_add(&m, &peer3, SLASH24), 0);
        assert_int_equal(bip_bbmd_attach(&b, &m), 0);
    }
    reset();
}

#define RX(from, lit) bip_receive(&b, from, (const uint8_t *)(lit), sizeof lit - 1)

/* Register-Foreign-Device: 81 05 00 06, TTL (2 octets). */
static void register_fd(const bip_addr_t *from, uint16_t ttl)
{
    uint8_t d[6] = {0x81, 0x05, 0x00, 0x06, (uint8_t)(ttl >> 8), (uint8_t)ttl};
    int before = sent.n;
    bip_receive(&b, from, d, sizeof d);
    assert_int_equal(sent.n, before + 1);
    /* BVLC-Result: 81 00 00 06, result 0000 (successful completion). */
    expect_sent_n(before, from, "\x81\x00\x00\x06\x00\x00", 6);
}

/* ---- a plain node ---------------------------------------------------------------------- */

static void test_plain_node_naks(void **state)
{
    (void)state;
    start(false);
    /* Each BBMD function gets a BVLC-Result NAK (81 00 00 06 + code) back to its sender. */
    RX(&local, "\x81\x01\x00\x0E\x0A\x00\x01\x01\xBA\xC0\xFF\xFF\xFF\xFF"); /* Write-BDT */
    RX(&local, "\x81\x02\x00\x04");                                         /* Read-BDT */
    RX(&local, "\x81\x05\x00\x06\x00\x3C");                                 /* Register-FD 60 s */
    RX(&local, "\x81\x06\x00\x04");                                         /* Read-FDT */
    RX(&local, "\x81\x08\x00\x0A\xC0\xA8\x07\x05\xBA\xC0");                 /* Delete-FDT-Entry */
    RX(&local, "\x81\x09\x00\x06\x01\x00");                                 /* Distribute */
    assert_int_equal(sent.n, 6);
    EXPECT_SENT(0, &local, "\x81\x00\x00\x06\x00\x10");
    EXPECT_SENT(1, &local, "\x81\x00\x00\x06\x00\x20");
    EXPECT_SENT(2, &local, "\x81\x00\x00\x06\x00\x30");
    EXPECT_SENT(3, &local, "\x81\x00\x00\x06\x00\x40");
    EXPECT_SENT(4, &local, "\x81\x00\x00\x06\x00\x50");
    EXPECT_SENT(5, &local, "\x81\x00\x00\x06\x00\x60");
    assert_int_equal(b.nak_tx, 6);
    assert_int_equal(up.calls, 0);
    /* Acks and Results a plain node never asked for: dropped, nothing sent. */
    RX(&local, "\x81\x03\x00\x04");
    RX(&local, "\x81\x07\x00\x04");
    RX(&local, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(sent.n, 6);
    assert_int_equal(b.dropped, 3);
    /* A plain node's broadcast is one Original-Broadcast; its tables are empty. */
    net_link_t link = bip_link(&b);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00\x10\x08", 4), 0);
    assert_int_equal(sent.n, 7);
    EXPECT_SENT(6, &bcast, "\x81\x0B\x00\x08\x01\x00\x10\x08");
    bip_bdt_entry_t e;
    bip_fdt_row_t r;
    assert_false(bip_bdt_get(&b, 0, &e));
    assert_false(bip_fdt_get(&b, 0, &r));
}

static void test_plain_node_forwarded(void **state)
{
    (void)state;
    start(false);
    /* Forwarded-NPDU: 81 04 00 0E, originator 10.0.1.7:47808, NPDU 01 00 10 08 (Who-Is):
     * up from the originator as a broadcast, forwarded nowhere. */
    RX(&self, "\x81\x04\x00\x0E\x0A\x00\x01\x07\xBA\xC0\x01\x00\x10\x08");
    assert_int_equal(up.calls, 0); /* from ourselves: our own re-broadcast, dropped */
    RX(&peer2, "\x81\x04\x00\x0E\x0A\x00\x01\x07\xBA\xC0\x01\x00\x10\x08");
    assert_int_equal(up.calls, 1);
    expect_up(&local, true, "\x01\x00\x10\x08", 4);
    /* Our own broadcast come back round (originator 10.0.1.1): once was enough. */
    RX(&peer2, "\x81\x04\x00\x0E\x0A\x00\x01\x01\xBA\xC0\x01\x00\x10\x08");
    /* Too short for an originator. */
    RX(&peer2, "\x81\x04\x00\x09\x0A\x00\x01\x07\xBA");
    assert_int_equal(up.calls, 1);
    assert_int_equal(sent.n, 0);
    assert_int_equal(b.dropped, 3);
}

/* ---- the BBMD's tables ------------------------------------------------------------------ */

static void test_read_bdt(void **state)
{
    (void)state;
    start(true);
    RX(&stranger, "\x81\x02\x00\x04");
    assert_int_equal(sent.n, 1);
    /* Read-BDT-Ack: 81 03, length 4 + 3 x 10 = 34 (00 22), then per entry the B/IP
     * address (6) and the distribution mask (4). */
    EXPECT_SENT(0, &stranger,
                "\x81\x03\x00\x22"
                "\x0A\x00\x01\x01\xBA\xC0\xFF\xFF\xFF\xFF"
                "\x0A\x00\x02\x01\xBA\xC0\xFF\xFF\xFF\xFF"
                "\x0A\x00\x03\x01\xBA\xC0\xFF\xFF\xFF\x00");
    /* A Read-BDT with octets it does not have: NAK 0020. */
    RX(&stranger, "\x81\x02\x00\x05\x00");
    EXPECT_SENT(1, &stranger, "\x81\x00\x00\x06\x00\x20");
    /* An empty table reads as an empty Ack. */
    bip_bdt_clear(&m);
    RX(&stranger, "\x81\x02\x00\x04");
    EXPECT_SENT(2, &stranger, "\x81\x03\x00\x04");
    /* bip_bdt_add replaces the mask of an address already there, refuses a full table. */
    bip_bdt_entry_t e;
    assert_int_equal(bip_bdt_add(&m, &peer2, ONES), 0);
    assert_int_equal(bip_bdt_add(&m, &peer2, SLASH24), 0);
    assert_true(bip_bdt_get(&b, 0, &e));
    assert_memory_equal(e.addr.octets, peer2.octets, 6);
    assert_memory_equal(e.mask, SLASH24, 4);
    assert_false(bip_bdt_get(&b, 1, &e));
    for (unsigned i = 1; i < BIP_BDT_MAX; i++) {
        bip_addr_t a = peer2;
        a.octets[3] = (uint8_t)(10 + i);
        assert_int_equal(bip_bdt_add(&m, &a, ONES), 0);
    }
    assert_int_equal(bip_bdt_add(&m, &stranger, ONES), -1);
    assert_int_equal(m.bdt_n, BIP_BDT_MAX);
}

static void test_write_bdt(void **state)
{
    (void)state;
    start(true);
    /* Write-BDT: 81 01, length 4 + 2 x 10 = 24 (00 18), entries as in the Ack. Refused
     * by default (J.4.4.2: the Network_Port is where a BDT is written): NAK 0010, the
     * table as it was. */
    static const char w2[] = "\x81\x01\x00\x18"
                             "\x0A\x00\x01\x01\xBA\xC0\xFF\xFF\xFF\xFF"
                             "\x0A\x00\x05\x01\xBA\xC1\xFF\xFF\xFF\x00";
    RX(&stranger, w2);
    EXPECT_SENT(0, &stranger, "\x81\x00\x00\x06\x00\x10");
    assert_int_equal(m.bdt_n, 3);
    /* Accepted when the host allows it: Result 0000, the table replaced. */
    m.accept_write_bdt = true;
    RX(&stranger, w2);
    EXPECT_SENT(1, &stranger, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(m.bdt_n, 2);
    assert_int_equal(m.bdt_writes, 1);
    RX(&stranger, "\x81\x02\x00\x04");
    EXPECT_SENT(2, &stranger,
                "\x81\x03\x00\x18"
                "\x0A\x00\x01\x01\xBA\xC0\xFF\xFF\xFF\xFF"
                "\x0A\x00\x05\x01\xBA\xC1\xFF\xFF\xFF\x00");
    /* Not a whole number of entries, or more than BIP_BDT_MAX: NAK, nothing changed. */
    RX(&stranger, "\x81\x01\x00\x0D\x0A\x00\x01\x01\xBA\xC0\xFF\xFF\xFF");
    EXPECT_SENT(3, &stranger, "\x81\x00\x00\x06\x00\x10");
    static uint8_t big[4 + 10 * (BIP_BDT_MAX + 1)];
    size_t n = sizeof big;
    memcpy(big, "\x81\x01", 2);
    big[2] = (uint8_t)(n >> 8);
    big[3] = (uint8_t)n;
    bip_receive(&b, &stranger, big, n);
    EXPECT_SENT(4, &stranger, "\x81\x00\x00\x06\x00\x10");
    assert_int_equal(m.bdt_n, 2);
    /* No entries: an empty table. */
    RX(&stranger, "\x81\x01\x00\x04");
    EXPECT_SENT(5, &stranger, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(m.bdt_n, 0);
    assert_int_equal(b.nak_tx, 3);
}

static void test_register_and_read_fdt(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    bip_tick(&b, 1010);
    register_fd(&fd2, 300);
    assert_int_equal(m.registrations, 2);
    bip_tick(&b, 1020);
    RX(&stranger, "\x81\x06\x00\x04");
    /* Read-FDT-Ack: 81 07, length 4 + 2 x 10 = 24 (00 18); per entry the address (6),
     * the TTL registered (2) and the seconds left, the 30 s grace included (2):
     *   192.168.7.5:47808  TTL 60 (00 3C)   registered at 1000: 60 + 30 - 20 = 70 (00 46)
     *   172.16.0.9:47809   TTL 300 (01 2C)  registered at 1010: 300 + 30 - 10 = 320 (01 40) */
    EXPECT_SENT(2, &stranger,
                "\x81\x07\x00\x18"
                "\xC0\xA8\x07\x05\xBA\xC0\x00\x3C\x00\x46"
                "\xAC\x10\x00\x09\xBA\xC1\x01\x2C\x01\x40");
    /* A renewal restarts its timer, with the TTL it now asks for, and adds no entry. */
    register_fd(&fd1, 10);
    bip_fdt_row_t r;
    assert_true(bip_fdt_get(&b, 0, &r));
    assert_memory_equal(r.addr.octets, fd1.octets, 6);
    assert_int_equal(r.ttl_s, 10);
    assert_int_equal(r.remaining_s, 40);
    assert_true(bip_fdt_get(&b, 1, &r));
    assert_int_equal(r.remaining_s, 320);
    assert_false(bip_fdt_get(&b, 2, &r));
    /* Refused: a malformed request, and any request while registrations are off. */
    RX(&stranger, "\x81\x05\x00\x05\x3C");
    EXPECT_SENT(4, &stranger, "\x81\x00\x00\x06\x00\x30");
    m.accept_fd = false;
    RX(&fd1, "\x81\x05\x00\x06\x00\x3C");
    EXPECT_SENT(5, &fd1, "\x81\x00\x00\x06\x00\x30");
    assert_int_equal(m.refused, 2);
    assert_int_equal(m.fdt_n, 2);
    /* A Read-FDT with octets it does not have: NAK 0040. */
    RX(&stranger, "\x81\x06\x00\x05\x00");
    EXPECT_SENT(6, &stranger, "\x81\x00\x00\x06\x00\x40");
}

static void test_fdt_full(void **state)
{
    (void)state;
    start(true);
    for (unsigned i = 0; i < BIP_FDT_MAX; i++) {
        bip_addr_t a = fd1;
        a.octets[3] = (uint8_t)i;
        a.octets[2] = (uint8_t)(i >> 8);
        register_fd(&a, 60);
        reset();
    }
    RX(&stranger, "\x81\x05\x00\x06\x00\x3C");
    EXPECT_SENT(0, &stranger, "\x81\x00\x00\x06\x00\x30");
    /* A device already there still renews. */
    bip_addr_t first = fd1;
    first.octets[3] = 0;
    first.octets[2] = 0;
    register_fd(&first, 60);
    /* The Ack of a full table: 4 + 10 x BIP_FDT_MAX octets, bigger than a node's
     * datagram, built in the BBMD's buffer. */
    RX(&stranger, "\x81\x06\x00\x04");
    assert_int_equal(sent.len[2], 4 + 10 * BIP_FDT_MAX);
    assert_int_equal(sent.data[2][2] << 8 | sent.data[2][3], 4 + 10 * BIP_FDT_MAX);
}

static void test_fdt_expiry(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);  /* at 1000: purged at 1090 */
    register_fd(&fd2, 120); /* at 1000: purged at 1150 */
    bip_fdt_row_t r;
    bip_tick(&b, 1089);
    assert_int_equal(m.fdt_n, 2);
    assert_true(bip_fdt_get(&b, 0, &r));
    assert_int_equal(r.remaining_s, 1);
    bip_tick(&b, 1090);
    assert_int_equal(m.fdt_n, 1);
    assert_int_equal(m.expired, 1);
    assert_true(bip_fdt_get(&b, 0, &r));
    assert_memory_equal(r.addr.octets, fd2.octets, 6);
    assert_int_equal(r.remaining_s, 60);
    /* Purged: its broadcasts are refused now (NAK 0060), and none are sent to it. */
    reset();
    RX(&fd1, "\x81\x09\x00\x06\x01\x00");
    assert_int_equal(sent.n, 1);
    EXPECT_SENT(0, &fd1, "\x81\x00\x00\x06\x00\x60");
    assert_int_equal(up.calls, 0);
    /* A renewal in time keeps an entry: fd2 renewed at 1140 lives to 1140 + 150. */
    bip_tick(&b, 1140);
    register_fd(&fd2, 120);
    bip_tick(&b, 1289);
    assert_int_equal(m.fdt_n, 1);
    bip_tick(&b, 1290);
    assert_int_equal(m.fdt_n, 0);
    assert_int_equal(m.expired, 2);
    /* A TTL of 0 lives for the grace period alone; time that wraps round is no
     * trouble. */
    bip_tick(&b, 0xFFFFFFF0u);
    register_fd(&fd1, 0);
    bip_tick(&b, 0xFFFFFFF0u + 29);
    assert_int_equal(m.fdt_n, 1);
    bip_tick(&b, 0xFFFFFFF0u + 30);
    assert_int_equal(m.fdt_n, 0);
}

static void test_delete_fdt(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    register_fd(&fd2, 60);
    reset();
    /* Delete-FDT-Entry: 81 08 00 0A, the entry's address 192.168.7.5:47808. */
    RX(&stranger, "\x81\x08\x00\x0A\xC0\xA8\x07\x05\xBA\xC0");
    EXPECT_SENT(0, &stranger, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(m.fdt_n, 1);
    assert_int_equal(m.deleted, 1);
    bip_fdt_row_t r;
    assert_true(bip_fdt_get(&b, 0, &r));
    assert_memory_equal(r.addr.octets, fd2.octets, 6);
    /* Not there (any more), or not an address: NAK 0050. */
    RX(&stranger, "\x81\x08\x00\x0A\xC0\xA8\x07\x05\xBA\xC0");
    EXPECT_SENT(1, &stranger, "\x81\x00\x00\x06\x00\x50");
    RX(&stranger, "\x81\x08\x00\x09\xAC\x10\x00\x09\xBA");
    EXPECT_SENT(2, &stranger, "\x81\x00\x00\x06\x00\x50");
    assert_int_equal(m.fdt_n, 1);
}

/* ---- distribution ----------------------------------------------------------------------- */

static void test_original_broadcast_distributed(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    reset();
    /* Original-Broadcast-NPDU from a local node: 81 0B 00 08, NPDU 01 00 10 08. */
    RX(&local, "\x81\x0B\x00\x08\x01\x00\x10\x08");
    assert_int_equal(up.calls, 1);
    expect_up(&local, true, "\x01\x00\x10\x08", 4);
    /* Forwarded-NPDU (81 04 00 0E, originator 10.0.1.7:47808, the NPDU) to every peer
     * but ourselves: unicast to the two-hop peer, directed broadcast to the one-hop
     * peer's subnet (10.0.3.1 | ~255.255.255.0); and to the foreign device. Not to the
     * local subnet: it heard the original. */
#define FWD_LOCAL "\x81\x04\x00\x0E\x0A\x00\x01\x07\xBA\xC0\x01\x00\x10\x08"
    assert_int_equal(sent.n, 3);
    EXPECT_SENT(0, &peer2, FWD_LOCAL);
    EXPECT_SENT(1, &peer3_bcast, FWD_LOCAL);
    EXPECT_SENT(2, &fd1, FWD_LOCAL);
    assert_int_equal(m.forwarded, 3);
    /* Our own broadcast looped back: neither up nor forwarded again. */
    RX(&self, "\x81\x0B\x00\x08\x01\x00\x10\x08");
    assert_int_equal(sent.n, 3);
    assert_int_equal(up.calls, 1);
}

static void test_forwarded_from_peer(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    register_fd(&fd2, 60);
    reset();
    /* Our own entry is two-hop: a peer's Forwarded-NPDU came to us alone, so we
     * broadcast it on our subnet (unchanged: same originator) and send it to each
     * foreign device. Originator 10.0.2.7:47808 = 0A 00 02 07 BA C0. */
#define FWD_REMOTE "\x81\x04\x00\x0E\x0A\x00\x02\x07\xBA\xC0\x01\x00\x10\x08"
    RX(&peer2, FWD_REMOTE);
    bip_addr_t origin = addr("10.0.2.7", 47808);
    assert_int_equal(up.calls, 1);
    expect_up(&origin, true, "\x01\x00\x10\x08", 4);
    assert_int_equal(sent.n, 3);
    EXPECT_SENT(0, &bcast, FWD_REMOTE);
    EXPECT_SENT(1, &fd1, FWD_REMOTE);
    EXPECT_SENT(2, &fd2, FWD_REMOTE);
    /* Our own entry one-hop: the directed broadcast reached our subnet already; only
     * the foreign devices get it. */
    assert_int_equal(bip_bdt_add(&m, &self, SLASH24), 0);
    reset();
    RX(&peer3, FWD_REMOTE);
    assert_int_equal(up.calls, 1);
    assert_int_equal(sent.n, 2);
    EXPECT_SENT(0, &fd1, FWD_REMOTE);
    EXPECT_SENT(1, &fd2, FWD_REMOTE);
    /* From a device that is no peer: up, as a plain node would, and no further. */
    reset();
    RX(&stranger, FWD_REMOTE);
    assert_int_equal(up.calls, 1);
    assert_int_equal(sent.n, 0);
    /* Our own re-broadcast heard back, and a foreign device's own broadcast returned to
     * it, are never passed on. Originator 192.168.7.5 = fd1. */
    RX(&self, FWD_REMOTE);
    assert_int_equal(up.calls, 1);
    assert_int_equal(sent.n, 0);
    RX(&peer2, "\x81\x04\x00\x0E\xC0\xA8\x07\x05\xBA\xC0\x01\x00\x10\x08");
    assert_int_equal(sent.n, 1);
    EXPECT_SENT(0, &fd2, "\x81\x04\x00\x0E\xC0\xA8\x07\x05\xBA\xC0\x01\x00\x10\x08");
    /* A BDT without our own entry: peers are taken to unicast to us (two-hop). */
    bip_bdt_clear(&m);
    assert_int_equal(bip_bdt_add(&m, &peer2, ONES), 0);
    reset();
    RX(&peer2, FWD_REMOTE);
    assert_int_equal(sent.n, 3);
    EXPECT_SENT(0, &bcast, FWD_REMOTE);
}

static void test_distribute_broadcast(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    register_fd(&fd2, 60);
    reset();
    /* Distribute-Broadcast-To-Network from a registered foreign device: 81 09 00 08,
     * NPDU 01 00 10 08. Up from the device; Forwarded-NPDU (originator 192.168.7.5:47808)
     * to our subnet, to every peer and to every other foreign device. */
    RX(&fd1, "\x81\x09\x00\x08\x01\x00\x10\x08");
    assert_int_equal(up.calls, 1);
    expect_up(&fd1, true, "\x01\x00\x10\x08", 4);
#define FWD_FD1 "\x81\x04\x00\x0E\xC0\xA8\x07\x05\xBA\xC0\x01\x00\x10\x08"
    assert_int_equal(sent.n, 4);
    EXPECT_SENT(0, &bcast, FWD_FD1);
    EXPECT_SENT(1, &peer2, FWD_FD1);
    EXPECT_SENT(2, &peer3_bcast, FWD_FD1);
    EXPECT_SENT(3, &fd2, FWD_FD1);
    /* From a device not registered: NAK 0060, nothing distributed, nothing up. */
    reset();
    RX(&stranger, "\x81\x09\x00\x08\x01\x00\x10\x08");
    assert_int_equal(sent.n, 1);
    EXPECT_SENT(0, &stranger, "\x81\x00\x00\x06\x00\x60");
    assert_int_equal(up.calls, 0);
}

static void test_too_long_to_forward(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    reset();
    /* The largest NPDU B/IP carries is forwarded whole; one octet more is not (and a
     * foreign device asking for it is told so), but still goes up. */
    static uint8_t d[4 + BIP_BBMD_MAX_NPDU + 1];
    for (size_t i = 4; i < sizeof d; i++)
        d[i] = (uint8_t)i;
    size_t n = 4 + BIP_BBMD_MAX_NPDU;
    memcpy(d, "\x81\x09", 2);
    d[2] = (uint8_t)(n >> 8);
    d[3] = (uint8_t)n;
    bip_receive(&b, &fd1, d, n);
    assert_int_equal(sent.n, 3);
    assert_int_equal(sent.len[0], 10 + BIP_BBMD_MAX_NPDU);
    assert_memory_equal(sent.data[0] + 10, d + 4, BIP_BBMD_MAX_NPDU);
    reset();
    n++;
    d[2] = (uint8_t)(n >> 8);
    d[3] = (uint8_t)n;
    bip_receive(&b, &fd1, d, n);
    assert_int_equal(sent.n, 1);
    EXPECT_SENT(0, &fd1, "\x81\x00\x00\x06\x00\x60");
    memcpy(d, "\x81\x0B", 2);
    bip_receive(&b, &local, d, n);
    assert_int_equal(sent.n, 1);
    assert_int_equal(up.calls, 1);
    assert_int_equal(up.len, BIP_BBMD_MAX_NPDU + 1);
    assert_int_equal(m.too_long, 2);
}

static void test_own_broadcasts(void **state)
{
    (void)state;
    start(true);
    register_fd(&fd1, 60);
    reset();
    /* The layer above broadcasts: Original-Broadcast on our subnet, then a
     * Forwarded-NPDU naming us (10.0.1.1:47808) to each peer and foreign device. */
    net_link_t link = bip_link(&b);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00\x10\x00", 4), 0);
#define FWD_SELF "\x81\x04\x00\x0E\x0A\x00\x01\x01\xBA\xC0\x01\x00\x10\x00"
    assert_int_equal(sent.n, 4);
    EXPECT_SENT(0, &bcast, "\x81\x0B\x00\x08\x01\x00\x10\x00");
    EXPECT_SENT(1, &peer2, FWD_SELF);
    EXPECT_SENT(2, &peer3_bcast, FWD_SELF);
    EXPECT_SENT(3, &fd1, FWD_SELF);
    /* Unicast unchanged: one Original-Unicast. */
    reset();
    net_addr_t to = {.len = 6, .mac = {10, 0, 1, 7, 0xBA, 0xC0}};
    assert_int_equal(link.send(link.ctx, &to, (const uint8_t *)"\x01\x00\x77", 3), 0);
    assert_int_equal(sent.n, 1);
    EXPECT_SENT(0, &local, "\x81\x0A\x00\x07\x01\x00\x77");
    /* An answer the layer above broadcasts (an I-Am to a Who-Is a peer forwarded) is
     * distributed too; a unicast answer goes to the originator. */
    reset();
    memcpy(up.reply, "\x01\x00\x10\x00", 4);
    up.reply_len = 4;
    up.reply_bcast = true;
    RX(&peer2, FWD_REMOTE);
    assert_int_equal(sent.n, 6); /* local + fd1 for the Who-Is, then the I-Am's four */
    EXPECT_SENT(2, &bcast, "\x81\x0B\x00\x08\x01\x00\x10\x00");
    EXPECT_SENT(3, &peer2, FWD_SELF);
    EXPECT_SENT(4, &peer3_bcast, FWD_SELF);
    EXPECT_SENT(5, &fd1, FWD_SELF);
    reset();
    memcpy(up.reply, "\x01\x00\xAA", 3);
    up.reply_len = 3;
    up.reply_bcast = false;
    RX(&peer2, FWD_REMOTE);
    assert_int_equal(sent.n, 3);
    bip_addr_t origin = addr("10.0.2.7", 47808);
    EXPECT_SENT(2, &origin, "\x81\x0A\x00\x07\x01\x00\xAA");
    /* A BBMD is no foreign device, nor the other way round. */
    assert_int_equal(bip_register_foreign(&b, &peer2, 60), -1);
    assert_int_equal(bip_foreign_state(&b), BIP_FD_NONE);
    /* Detached: a plain node again, NAKs and all. */
    assert_int_equal(bip_bbmd_attach(&b, NULL), 0);
    reset();
    RX(&stranger, "\x81\x02\x00\x04");
    EXPECT_SENT(0, &stranger, "\x81\x00\x00\x06\x00\x20");
}

/* ---- a foreign device ------------------------------------------------------------------ */

static void test_foreign_device(void **state)
{
    (void)state;
    start(false);
    bip_addr_t bbmd = addr("10.0.2.1", 47808);
    assert_int_equal(bip_register_foreign(&b, &bbmd, 0), -1);
    /* Registration goes at once: Register-Foreign-Device 81 05 00 06, TTL 60 (00 3C). */
    assert_int_equal(bip_register_foreign(&b, &bbmd, 60), 0);
    assert_int_equal(bip_foreign_state(&b), BIP_FD_PENDING);
    assert_int_equal(sent.n, 1);
    EXPECT_SENT(0, &bbmd, "\x81\x05\x00\x06\x00\x3C");
    /* A BBMD cannot be attached to a foreign device. */
    bip_bbmd_t other;
    bip_bbmd_init(&other);
    assert_int_equal(bip_bbmd_attach(&b, &other), -1);
    /* Unanswered: again after BIP_FD_RETRY_S (10 s, under TTL / 2). */
    bip_tick(&b, 1009);
    assert_int_equal(sent.n, 1);
    bip_tick(&b, 1010);
    assert_int_equal(sent.n, 2);
    EXPECT_SENT(1, &bbmd, "\x81\x05\x00\x06\x00\x3C");
    /* A Result from anyone but our BBMD means nothing. */
    RX(&stranger, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(bip_foreign_state(&b), BIP_FD_PENDING);
    /* Acknowledged at 1011: registered; renewed each TTL / 2 = 30 s, before it runs out. */
    bip_tick(&b, 1011);
    RX(&bbmd, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(bip_foreign_state(&b), BIP_FD_REGISTERED);
    bip_tick(&b, 1040);
    assert_int_equal(sent.n, 2);
    bip_tick(&b, 1041);
    assert_int_equal(sent.n, 3);
    EXPECT_SENT(2, &bbmd, "\x81\x05\x00\x06\x00\x3C");
    /* Broadcasts go to the BBMD as Distribute-Broadcast-To-Network (81 09 00 08 + NPDU);
     * unicasts as ever. */
    net_link_t link = bip_link(&b);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00\x10\x08", 4), 0);
    EXPECT_SENT(3, &bbmd, "\x81\x09\x00\x08\x01\x00\x10\x08");
    net_addr_t to = {.len = 6, .mac = {10, 0, 1, 7, 0xBA, 0xC0}};
    assert_int_equal(link.send(link.ctx, &to, (const uint8_t *)"\x01\x00\x77", 3), 0);
    EXPECT_SENT(4, &local, "\x81\x0A\x00\x07\x01\x00\x77");
    /* So does an answer the layer above broadcasts. */
    memcpy(up.reply, "\x01\x00\x10\x00", 4);
    up.reply_len = 4;
    up.reply_bcast = true;
    RX(&bbmd, "\x81\x04\x00\x0E\x0A\x00\x02\x07\xBA\xC0\x01\x00\x10\x08");
    bip_addr_t origin = addr("10.0.2.7", 47808);
    expect_up(&origin, true, "\x01\x00\x10\x08", 4);
    EXPECT_SENT(5, &bbmd, "\x81\x09\x00\x08\x01\x00\x10\x00");
    assert_int_equal(sent.n, 6);
    /* The renewal at 1041 unanswered: retried every 10 s; the registration proven at
     * 1011 lapses at 1071 and the state says so. */
    bip_tick(&b, 1051);
    bip_tick(&b, 1061);
    assert_int_equal(sent.n, 8);
    assert_int_equal(bip_foreign_state(&b), BIP_FD_REGISTERED);
    bip_tick(&b, 1071);
    assert_int_equal(bip_foreign_state(&b), BIP_FD_PENDING);
    assert_int_equal(sent.n, 9);
    /* Refused (NAK 0030): says so, and asks again every 10 s. */
    RX(&bbmd, "\x81\x00\x00\x06\x00\x30");
    assert_int_equal(bip_foreign_state(&b), BIP_FD_REFUSED);
    assert_int_equal(b.nak_rx, 1);
    bip_tick(&b, 1081);
    assert_int_equal(sent.n, 10);
    /* Registered again, then the BBMD NAKs a broadcast (it lost its table): register
     * again at the next tick, not a full interval later. */
    RX(&bbmd, "\x81\x00\x00\x06\x00\x00");
    assert_int_equal(bip_foreign_state(&b), BIP_FD_REGISTERED);
    RX(&bbmd, "\x81\x00\x00\x06\x00\x60");
    assert_int_equal(bip_foreign_state(&b), BIP_FD_PENDING);
    bip_tick(&b, 1082);
    assert_int_equal(sent.n, 11);
    EXPECT_SENT(10, &bbmd, "\x81\x05\x00\x06\x00\x3C");
    assert_int_equal(b.fd_register_tx, 8);
    /* Stopped: a plain node's broadcasts again, no more registrations. */
    assert_int_equal(bip_register_foreign(&b, NULL, 0), 0);
    assert_int_equal(bip_foreign_state(&b), BIP_FD_NONE);
    bip_tick(&b, 2000);
    assert_int_equal(sent.n, 11);
    assert_int_equal(link.send(link.ctx, NULL, (const uint8_t *)"\x01\x00\x10\x08", 4), 0);
    EXPECT_SENT(11, &bcast, "\x81\x0B\x00\x08\x01\x00\x10\x08");
    /* A short TTL renews each TTL / 2, and retries no slower. */
    reset();
    assert_int_equal(bip_register_foreign(&b, &bbmd, 4), 0);
    RX(&bbmd, "\x81\x00\x00\x06\x00\x00");
    bip_tick(&b, 2001);
    assert_int_equal(sent.n, 1);
    bip_tick(&b, 2002);
    assert_int_equal(sent.n, 2);
    bip_tick(&b, 2004);
    assert_int_equal(sent.n, 3);
}

/* ---- a site in RAM: three BBMDs, their nodes, two foreign devices ------------------------ */

enum { SITE_N = 9, QUEUE_N = 256 };

typedef struct {
    bip_t bip;
    bip_addr_t addr;
    int got[SITE_N]; /* broadcasts received, by sender */
    int idx;
} site_node_t;

static site_node_t site[SITE_N];
static bip_bbmd_t site_bbmd[3];
static struct {
    int head, n;
    int local_fwd[SITE_N]; /* Forwarded-NPDUs a node broadcast on its own subnet */
    int directed[SITE_N];  /* ... and to another subnet's broadcast address */
    struct {
        bip_addr_t from, to;
        uint8_t data[BIP_BBMD_BUF];
        size_t len;
    } q[QUEUE_N];
} net;

/* A datagram is queued, as a socket would: none is delivered inside a send. */
static int site_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    site_node_t *s = ctx;
    assert_true(net.n < QUEUE_N);
    int k = (net.head + net.n++) % QUEUE_N;
    if (to->octets[3] == 255 && data[1] == BIP_FORWARDED_NPDU) {
        if (!memcmp(to->octets, s->addr.octets, 3))
            net.local_fwd[s->idx]++;
        else
            net.directed[s->idx]++;
    }
    net.q[k].from = s->addr;
    net.q[k].to = *to;
    memcpy(net.q[k].data, data, len);
    net.q[k].len = len;
    return 0;
}

/* Each broadcast in the site is 01 00 AA <sender>; it must come up from its sender. */
static size_t site_receive(void *ctx, const net_addr_t *src, bool as_bcast, const uint8_t *npdu,
                           size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    site_node_t *s = ctx;
    (void)out;
    (void)cap;
    (void)reply_bcast;
    assert_true(as_bcast);
    assert_int_equal(len, 4);
    assert_int_equal(npdu[2], 0xAA);
    int from = npdu[3];
    assert_true(from < SITE_N);
    assert_int_equal(src->len, 6);
    assert_memory_equal(src->mac, site[from].addr.octets, 6);
    s->got[from]++;
    return 0;
}

/* x.y.z.255 is a subnet's broadcast: every node on it hears it, the sender too (as a
 * real socket does), and from another subnet too (a directed broadcast, routed). */
static void pump(void)
{
    int steps = 0;
    while (net.n) {
        assert_true(++steps < 10000); /* a loop would never drain */
        int k = net.head;
        net.head = (net.head + 1) % QUEUE_N;
        net.n--;
        const bip_addr_t *to = &net.q[k].to;
        for (int i = 0; i < SITE_N; i++) {
            const uint8_t *a = site[i].addr.octets;
            bool hit = to->octets[3] == 255 ? !memcmp(a, to->octets, 3) && !memcmp(a + 4, to->octets + 4, 2)
                                            : !memcmp(a, to->octets, 6);
            if (hit)
                bip_receive(&site[i].bip, &net.q[k].from, net.q[k].data, net.q[k].len);
        }
    }
}

/* Nodes 0..2 are the BBMDs of 10.0.1/24, 10.0.2/24, 10.0.3/24; 3..6 plain nodes on
 * those subnets; 7 and 8 foreign devices, registered with BBMDs 0 and 2. mask2 is
 * subnet 2's distribution mask in every BDT (they are all the same, J.4.3.2). */
static void site_start(const uint8_t mask2[4])
{
    static const char *ip[SITE_N] = {"10.0.1.1",  "10.0.2.1", "10.0.3.1",
                                     "10.0.1.2",  "10.0.1.3", "10.0.2.2",
                                     "10.0.3.2",  "192.168.7.5", "172.16.0.9"};
    memset(&net, 0, sizeof net);
    for (int i = 0; i < SITE_N; i++) {
        site_node_t *s = &site[i];
        memset(s, 0, sizeof *s);
        s->idx = i;
        s->addr = addr(ip[i], 47808);
        bip_addr_t bc = s->addr;
        bc.octets[3] = 255;
        bip_init(&s->bip, &(bip_port_t){s, site_send}, &s->addr, &bc,
                 &(net_upper_t){s, site_receive});
        bip_tick(&s->bip, 0);
    }
    for (int i = 0; i < 3; i++) {
        bip_bbmd_init(&site_bbmd[i]);
        assert_int_equal(bip_bdt_add(&site_bbmd[i], &site[0].addr, ONES), 0);
        assert_int_equal(bip_bdt_add(&site_bbmd[i], &site[1].addr, mask2), 0);
        assert_int_equal(bip_bdt_add(&site_bbmd[i], &site[2].addr, ONES), 0);
        assert_int_equal(bip_bbmd_attach(&site[i].bip, &site_bbmd[i]), 0);
    }
    assert_int_equal(bip_register_foreign(&site[7].bip, &site[0].addr, 300), 0);
    assert_int_equal(bip_register_foreign(&site[8].bip, &site[2].addr, 300), 0);
    pump();
    assert_int_equal(bip_foreign_state(&site[7].bip), BIP_FD_REGISTERED);
    assert_int_equal(bip_foreign_state(&site[8].bip), BIP_FD_REGISTERED);
}

static void site_each_broadcast_once(void)
{
    for (int from = 0; from < SITE_N; from++) {
        for (int i = 0; i < SITE_N; i++)
            memset(site[i].got, 0, sizeof site[i].got);
        uint8_t npdu[4] = {0x01, 0x00, 0xAA, (uint8_t)from};
        net_link_t link = bip_link(&site[from].bip);
        assert_int_equal(link.send(link.ctx, NULL, npdu, sizeof npdu), 0);
        pump();
        for (int i = 0; i < SITE_N; i++) {
            if (site[i].got[from] != (i == from ? 0 : 1))
                fail_msg("broadcast from node %d reached node %d %d times", from, i,
                         site[i].got[from]);
        }
    }
}

static void test_site_two_hop(void **state)
{
    (void)state;
    site_start(ONES);
    site_each_broadcast_once();
    /* Peers were sent unicasts, and each BBMD broadcast what came to it. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(net.directed[i], 0);
        assert_true(net.local_fwd[i] > 0);
    }
}

static void test_site_one_hop(void **state)
{
    (void)state;
    /* Subnet 2 reached by directed broadcast: its BBMD must not broadcast again. */
    site_start(SLASH24);
    site_each_broadcast_once();
    /* The peers sent subnet 2 directed broadcasts, and its BBMD never broadcast a
     * Forwarded-NPDU there (but still does what foreign devices send it: none here). */
    assert_true(net.directed[0] > 0);
    assert_true(net.directed[2] > 0);
    assert_int_equal(net.local_fwd[1], 0);
    assert_true(net.local_fwd[0] > 0);
    assert_true(net.local_fwd[2] > 0);
}

static void test_site_expiry(void **state)
{
    (void)state;
    /* A foreign device that stops renewing drops out of its BBMD's table after TTL +
     * 30 s; one that renews (its ticks) stays, for as long as time runs. */
    site_start(ONES);
    assert_int_equal(bip_register_foreign(&site[7].bip, NULL, 0), 0);
    for (uint32_t t = 1; t <= 400; t++) {
        for (int i = 0; i < SITE_N; i++)
            bip_tick(&site[i].bip, t);
        pump();
        if (t == 329)
            assert_int_equal(site_bbmd[0].fdt_n, 1);
    }
    assert_int_equal(site_bbmd[0].fdt_n, 0);
    assert_int_equal(site_bbmd[0].expired, 1);
    assert_int_equal(site_bbmd[2].fdt_n, 1);
    assert_int_equal(site_bbmd[2].expired, 0);
    assert_int_equal(bip_foreign_state(&site[8].bip), BIP_FD_REGISTERED);
    assert_true(site[8].bip.fd_register_tx >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_node_naks),
        cmocka_unit_test(test_plain_node_forwarded),
        cmocka_unit_test(test_read_bdt),
        cmocka_unit_test(test_write_bdt),
        cmocka_unit_test(test_register_and_read_fdt),
        cmocka_unit_test(test_fdt_full),
        cmocka_unit_test(test_fdt_expiry),
        cmocka_unit_test(test_delete_fdt),
        cmocka_unit_test(test_original_broadcast_distributed),
        cmocka_unit_test(test_forwarded_from_peer),
        cmocka_unit_test(test_distribute_broadcast),
        cmocka_unit_test(test_too_long_to_forward),
        cmocka_unit_test(test_own_broadcasts),
        cmocka_unit_test(test_foreign_device),
        cmocka_unit_test(test_site_two_hop),
        cmocka_unit_test(test_site_one_hop),
        cmocka_unit_test(test_site_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
