/*
 * The router device (src/core/rdev): its answers, octet by octet, against encodings
 * written by hand from ASHRAE 135 (clause 20 tags, clause 6 NPDU, clauses 15 and 16
 * services, the Device and Network_Port objects of 135-2016 clauses 12.11 and 12.56),
 * called directly and through a net_router_t whose links are fakes.
 *
 * The test site: router device 4000 "Router 1"; port 0 BACnet/IP network 1 (router at
 * 192.168.0.1:47808, 10 Mbit/s), port 1 MS/TP network 2 (router MAC 0x7E, 76800 bit/s,
 * Max_Master 127, Max_Info_Frames 4), port 2 MS/TP network unknown (MAC 3, 38400 bit/s).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rdev/rdev.h"

#define IP_ROUTER 0xC0, 0xA8, 0x00, 0x01, 0xBA, 0xC0 /* 192.168.0.1:47808 */
#define IP_CLIENT 0xC0, 0xA8, 0x00, 0x0A, 0xBA, 0xC0 /* 192.168.0.10:47808 */

/* Device 4000: type 8 << 22 | 4000 = 0x02000FA0. Network_Port k: 56 << 22 | k. */
#define DEV_OID 0x02, 0x00, 0x0F, 0xA0
#define NP_OID(k) 0x0E, 0x00, 0x00, (k)

/* ---- the site -------------------------------------------------------------------------- */

typedef struct {
    net_addr_t dst;
    size_t len;
    uint8_t b[NET_NPDU_MAX];
} frame_t;

typedef struct {
    frame_t f[4];
    unsigned n;
} fake_link_t;

static int fake_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    fake_link_t *l = ctx;

    assert_true(l->n < 4);
    memset(&l->f[l->n], 0, sizeof l->f[l->n]);
    if (dst)
        l->f[l->n].dst = *dst;
    memcpy(l->f[l->n].b, npdu, len);
    l->f[l->n].len = len;
    l->n++;
    return 0;
}

typedef struct {
    rdev_t dev;
    net_router_t r;
    fake_link_t link[3];
    uint8_t out[NET_NPDU_MAX];
    size_t out_len;
    bool out_bcast;
} site_t;

static site_t S;

static int setup(void **state)
{
    static const net_addr_t ip = {6, {IP_ROUTER}}, ms1 = {1, {0x7E}}, ms2 = {1, {3}};
    static const uint8_t addr[4] = {192, 168, 0, 1}, mask[4] = {255, 255, 255, 0};
    const net_addr_t *mac[3] = {&ip, &ms1, &ms2};

    (void)state;
    memset(&S, 0, sizeof S);
    rdev_init(&S.dev, &S.r, 4000, "Router 1");
    net_upper_t app = rdev_upper(&S.dev);
    net_router_init(&S.r, &app);
    for (unsigned i = 0; i < 3; i++) {
        net_link_t l = {&S.link[i], fake_send, i == 0 ? 1497 : 501};
        assert_int_equal(net_router_add_port(&S.r, &l, i == 2 ? 0 : (uint16_t)(i + 1), mac[i]),
                         (int)i);
    }
    assert_true(rdev_port_bip(&S.dev, 0, 10e6f, addr, mask, 47808, RDEV_IP_NORMAL));
    assert_true(rdev_port_mstp(&S.dev, 1, 76800.0f, 127, 4));
    assert_true(rdev_port_mstp(&S.dev, 2, 38400.0f, 127, 1));
    return 0;
}

/* Straight into the device, as a station on the port's network. */
static void call(const uint8_t *b, size_t n, bool bcast)
{
    static const net_addr_t client = {6, {IP_CLIENT}};

    S.out_bcast = false;
    S.out_len = rdev_receive(&S.dev, &client, bcast, b, n, S.out, sizeof S.out, &S.out_bcast);
}

/* Through the router, arriving on port from src. */
static void route_in(unsigned port, const net_addr_t *src, bool bcast, const uint8_t *b,
                     size_t n)
{
    S.out_bcast = false;
    S.out_len = net_router_receive(&S.r, port, src, bcast, b, n, S.out, sizeof S.out,
                                   &S.out_bcast);
}

#define CALL(bcast, ...)                                                                \
    do {                                                                                \
        static const uint8_t in_[] = {__VA_ARGS__};                                     \
        call(in_, sizeof in_, bcast);                                                   \
    } while (0)

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t n)
{
    if (got_len != n || memcmp(got, want, n) != 0) {
        print_message("got %lu octets:", (unsigned long)got_len); /* (no %zu in newlib-nano) */
        for (size_t i = 0; i < got_len; i++)
            print_message(" %02X", got[i]);
        print_message("\nwant %lu octets:", (unsigned long)n);
        for (size_t i = 0; i < n; i++)
            print_message(" %02X", want[i]);
        print_message("\n");
    }
    assert_int_equal(got_len, n);
    assert_memory_equal(got, want, n);
}

#define EXPECT_OUT(bcast, ...)                                                          \
    do {                                                                                \
        static const uint8_t w_[] = {__VA_ARGS__};                                      \
        expect_bytes(S.out, S.out_len, w_, sizeof w_);                                  \
        assert_int_equal(S.out_bcast, bcast);                                           \
    } while (0)

/* The local reply NPDU header: version 1, control 0 (no DNET/SNET, normal priority). */
#define NPDU_LOCAL 0x01, 0x00
/* A local request expecting a reply: control 0x04. */
#define NPDU_REQ 0x01, 0x04
/* Confirmed-Request, not segmented: 0x00, max-segs 0 | max-APDU code 5 (1476), id. */
#define CONF(id, svc) 0x00, 0x05, (id), (svc)

/* ---- Who-Is / I-Am ------------------------------------------------------------------- */

/* I-Am as a global broadcast: NPDU 01 20 (DNET present) FF FF (DNET 65535) 00 (DLEN 0)
 * FF (hop count 255); APDU 10 00 (Unconfirmed-Request, I-Am); C4 + oid (Device 4000);
 * 22 01 E0 (Unsigned 480, Max_APDU); 91 03 (Enumerated no-segmentation); 21 85
 * (Unsigned vendor 133). */
#define I_AM 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x00, 0xC4, DEV_OID, 0x22, 0x01, 0xE0, \
             0x91, 0x03, 0x21, 0x85

static void test_who_is(void **state)
{
    (void)state;
    /* Who-Is: 01 00, 10 08 (Unconfirmed-Request, Who-Is), no range. */
    CALL(true, 0x01, 0x00, 0x10, 0x08);
    EXPECT_OUT(true, I_AM);
    /* With a range 4000..4000: 09 (ctx 0, 2 octets) 0F A0, 1A (ctx 1, 2 octets) 0F A0. */
    CALL(true, 0x01, 0x00, 0x10, 0x08, 0x0A, 0x0F, 0xA0, 0x1A, 0x0F, 0xA0);
    EXPECT_OUT(true, I_AM);
    /* 0..3999 and 4001..4194303: not us. */
    CALL(true, 0x01, 0x00, 0x10, 0x08, 0x09, 0x00, 0x1A, 0x0F, 0x9F);
    assert_int_equal(S.out_len, 0);
    CALL(true, 0x01, 0x00, 0x10, 0x08, 0x0A, 0x0F, 0xA1, 0x1B, 0x3F, 0xFF, 0xFF);
    assert_int_equal(S.out_len, 0);
    /* A low limit without the high one is malformed: silence. */
    CALL(true, 0x01, 0x00, 0x10, 0x08, 0x09, 0x00);
    assert_int_equal(S.out_len, 0);
    /* The start-up announcement is the same I-Am. */
    S.out_len = rdev_i_am(&S.dev, S.out, sizeof S.out);
    S.out_bcast = true;
    EXPECT_OUT(true, I_AM);
}

static void test_who_is_through_router(void **state)
{
    static const net_addr_t client = {6, {IP_CLIENT}};

    (void)state;
    /* A global Who-Is from the B/IP client: 01 20 FF FF 00 FF (DNET 65535, hop 255). */
    static const uint8_t who[] = {0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08};
    route_in(0, &client, true, who, sizeof who);
    /* The I-Am back on port 0 as a local broadcast, as the device wrote it. */
    EXPECT_OUT(true, I_AM);
    /* ... and out of port 1 as from network 1's router: 01 28 (DNET and SNET) FF FF 00
     * (global) 00 01 06 <router's B/IP MAC> (SNET 1, SLEN 6) FF (hop), then the APDU. */
    static const uint8_t on1[] = {0x01, 0x28, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x06, IP_ROUTER,
                                  0xFF, 0x10, 0x00, 0xC4, DEV_OID, 0x22, 0x01, 0xE0, 0x91,
                                  0x03, 0x21, 0x85};
    /* The Who-Is itself went out of ports 1 and 2 first, then the I-Am. */
    assert_true(S.link[1].n >= 2);
    expect_bytes(S.link[1].f[1].b, S.link[1].f[1].len, on1, sizeof on1);
    assert_int_equal(S.link[1].f[1].dst.len, 0);
}

/* ---- ReadProperty --------------------------------------------------------------------- */

static void test_rp_device_object_identifier(void **state)
{
    (void)state;
    /* RP: 0C + oid ([0] Device 4000), 19 4B ([1] Object_Identifier 75). */
    CALL(false, NPDU_REQ, CONF(1, 0x0C), 0x0C, DEV_OID, 0x19, 0x4B);
    /* Complex-ACK 30 01 0C, [0] oid, [1] 75, 3E (open [3]) C4 oid 3F (close [3]). */
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x01, 0x0C, 0x0C, DEV_OID, 0x19, 0x4B, 0x3E, 0xC4,
               DEV_OID, 0x3F);
    /* The wildcard instance 4194303 (02 3F FF FF) answers as Device 4000. */
    CALL(false, NPDU_REQ, CONF(2, 0x0C), 0x0C, 0x02, 0x3F, 0xFF, 0xFF, 0x19, 0x4B);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x02, 0x0C, 0x0C, DEV_OID, 0x19, 0x4B, 0x3E, 0xC4,
               DEV_OID, 0x3F);
}

static void test_rp_device_scalars(void **state)
{
    (void)state;
    /* Protocol_Revision (139 = 0x8B): Unsigned 19. */
    CALL(false, NPDU_REQ, CONF(3, 0x0C), 0x0C, DEV_OID, 0x19, 0x8B);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x03, 0x0C, 0x0C, DEV_OID, 0x19, 0x8B, 0x3E, 0x21,
               0x13, 0x3F);
    /* Model_Name (70 = 0x46): 75 0D 00 "s4100 router" (12 characters, charset 0). */
    CALL(false, NPDU_REQ, CONF(4, 0x0C), 0x0C, DEV_OID, 0x19, 0x46);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x04, 0x0C, 0x0C, DEV_OID, 0x19, 0x46, 0x3E, 0x75,
               0x0D, 0x00, 's', '4', '1', '0', '0', ' ', 'r', 'o', 'u', 't', 'e', 'r', 0x3F);
    /* Protocol_Services_Supported (97 = 0x61): 44 bits, 4 unused: 85 07 04, then bits 12
     * RP, 14 RPM, 15 WP (octet 1: 0x0B), 26 I-Am, 27 I-Have (octet 3: 0x30), 33 Who-Has,
     * 34 Who-Is (octet 4: 0x60). */
    CALL(false, NPDU_REQ, CONF(5, 0x0C), 0x0C, DEV_OID, 0x19, 0x61);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x05, 0x0C, 0x0C, DEV_OID, 0x19, 0x61, 0x3E, 0x85,
               0x07, 0x04, 0x00, 0x0B, 0x00, 0x30, 0x60, 0x00, 0x3F);
    /* Protocol_Object_Types_Supported (96 = 0x60): 60 bits, 4 unused: 85 09 04, bit 8
     * Device (octet 1: 0x80), bit 56 Network_Port (octet 7: 0x80). */
    CALL(false, NPDU_REQ, CONF(6, 0x0C), 0x0C, DEV_OID, 0x19, 0x60);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x06, 0x0C, 0x0C, DEV_OID, 0x19, 0x60, 0x3E, 0x85,
               0x09, 0x04, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3F);
    /* Device_Address_Binding (30 = 0x1E): an empty list, 3E 3F. */
    CALL(false, NPDU_REQ, CONF(7, 0x0C), 0x0C, DEV_OID, 0x19, 0x1E);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x07, 0x0C, 0x0C, DEV_OID, 0x19, 0x1E, 0x3E, 0x3F);
    /* Location is not there until the host gives one: unknown-property (91 02 91 20). */
    CALL(false, NPDU_REQ, CONF(8, 0x0C), 0x0C, DEV_OID, 0x19, 0x3A);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x08, 0x0C, 0x91, 0x02, 0x91, 0x20);
    S.dev.location = "Plant room";
    CALL(false, NPDU_REQ, CONF(9, 0x0C), 0x0C, DEV_OID, 0x19, 0x3A);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x09, 0x0C, 0x0C, DEV_OID, 0x19, 0x3A, 0x3E, 0x75,
               0x0B, 0x00, 'P', 'l', 'a', 'n', 't', ' ', 'r', 'o', 'o', 'm', 0x3F);
}

static void test_rp_arrays(void **state)
{
    (void)state;
    /* Object_List (76 = 0x4C) [0] (29 00): 4 objects (21 04). */
    CALL(false, NPDU_REQ, CONF(1, 0x0C), 0x0C, DEV_OID, 0x19, 0x4C, 0x29, 0x00);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x01, 0x0C, 0x0C, DEV_OID, 0x19, 0x4C, 0x29, 0x00,
               0x3E, 0x21, 0x04, 0x3F);
    /* [3]: Network_Port 2. */
    CALL(false, NPDU_REQ, CONF(2, 0x0C), 0x0C, DEV_OID, 0x19, 0x4C, 0x29, 0x03);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x02, 0x0C, 0x0C, DEV_OID, 0x19, 0x4C, 0x29, 0x03,
               0x3E, 0xC4, NP_OID(2), 0x3F);
    /* The whole list: the Device, then the three ports. */
    CALL(false, NPDU_REQ, CONF(3, 0x0C), 0x0C, DEV_OID, 0x19, 0x4C);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x03, 0x0C, 0x0C, DEV_OID, 0x19, 0x4C, 0x3E, 0xC4,
               DEV_OID, 0xC4, NP_OID(1), 0xC4, NP_OID(2), 0xC4, NP_OID(3), 0x3F);
    /* [5]: invalid-array-index (class property 2, code 42 = 0x2A). */
    CALL(false, NPDU_REQ, CONF(4, 0x0C), 0x0C, DEV_OID, 0x19, 0x4C, 0x29, 0x05);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x04, 0x0C, 0x91, 0x02, 0x91, 0x2A);
    /* An index on a property that is no array: property-is-not-an-array (50 = 0x32). */
    CALL(false, NPDU_REQ, CONF(5, 0x0C), 0x0C, DEV_OID, 0x19, 0x4B, 0x29, 0x01);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x05, 0x0C, 0x91, 0x02, 0x91, 0x32);
    /* Property_List (371 = 1A 01 73) [0] of the MS/TP port: 13 entries (11 every port
     * has, without Object_Identifier/Name/Type and Property_List itself, plus Max_Master
     * and Max_Info_Frames). */
    CALL(false, NPDU_REQ, CONF(6, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0x73, 0x29, 0x00);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x06, 0x0C, 0x0C, NP_OID(2), 0x1A, 0x01, 0x73, 0x29,
               0x00, 0x3E, 0x21, 0x0D, 0x3F);
}

static void test_rp_network_port(void **state)
{
    (void)state;
    /* MS/TP port (NP 2) Network_Number (425 = 1A 01 A9): Unsigned 2. */
    CALL(false, NPDU_REQ, CONF(1, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0xA9);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x01, 0x0C, 0x0C, NP_OID(2), 0x1A, 0x01, 0xA9, 0x3E,
               0x21, 0x02, 0x3F);
    /* MS/TP port MAC_Address (423 = 1A 01 A7): Octet String of 1, 61 7E. */
    CALL(false, NPDU_REQ, CONF(2, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0xA7);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x02, 0x0C, 0x0C, NP_OID(2), 0x1A, 0x01, 0xA7, 0x3E,
               0x61, 0x7E, 0x3F);
    /* B/IP port (NP 1) Network_Number: 1. */
    CALL(false, NPDU_REQ, CONF(3, 0x0C), 0x0C, NP_OID(1), 0x1A, 0x01, 0xA9);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x03, 0x0C, 0x0C, NP_OID(1), 0x1A, 0x01, 0xA9, 0x3E,
               0x21, 0x01, 0x3F);
    /* B/IP port MAC_Address: 6 octets, extended length: 65 06 C0 A8 00 01 BA C0. */
    CALL(false, NPDU_REQ, CONF(4, 0x0C), 0x0C, NP_OID(1), 0x1A, 0x01, 0xA7);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x04, 0x0C, 0x0C, NP_OID(1), 0x1A, 0x01, 0xA7, 0x3E,
               0x65, 0x06, IP_ROUTER, 0x3F);
    /* MS/TP Max_Master (64 = 0x40): 127; a B/IP port has none: unknown-property. */
    CALL(false, NPDU_REQ, CONF(5, 0x0C), 0x0C, NP_OID(2), 0x19, 0x40);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x05, 0x0C, 0x0C, NP_OID(2), 0x19, 0x40, 0x3E, 0x21,
               0x7F, 0x3F);
    CALL(false, NPDU_REQ, CONF(6, 0x0C), 0x0C, NP_OID(1), 0x19, 0x40);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x06, 0x0C, 0x91, 0x02, 0x91, 0x20);
    /* An MS/TP port has no IP_Address (400 = 1A 01 90) either. */
    CALL(false, NPDU_REQ, CONF(7, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0x90);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x07, 0x0C, 0x91, 0x02, 0x91, 0x20);
    /* APDU_Length (399 = 1A 01 8F) of MS/TP: 480 (22 01 E0). */
    CALL(false, NPDU_REQ, CONF(8, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0x8F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x08, 0x0C, 0x0C, NP_OID(2), 0x1A, 0x01, 0x8F, 0x3E,
               0x22, 0x01, 0xE0, 0x3F);
}

/* Network_Number and its quality are read live from the router. */
static void test_network_number_learned(void **state)
{
    static const net_addr_t peer = {1, {9}};

    (void)state;
    /* NP 3 (port 2): Network_Number 0, Network_Number_Quality (426 = 1A 01 AA) unknown 0. */
    CALL(false, NPDU_REQ, CONF(1, 0x0C), 0x0C, NP_OID(3), 0x1A, 0x01, 0xA9);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x01, 0x0C, 0x0C, NP_OID(3), 0x1A, 0x01, 0xA9, 0x3E,
               0x21, 0x00, 0x3F);
    CALL(false, NPDU_REQ, CONF(2, 0x0C), 0x0C, NP_OID(3), 0x1A, 0x01, 0xAA);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x02, 0x0C, 0x0C, NP_OID(3), 0x1A, 0x01, 0xAA, 0x3E,
               0x91, 0x00, 0x3F);
    /* Network-Number-Is 3, configured, from a station on that link: 01 80 13 00 03 01. */
    static const uint8_t nni[] = {0x01, 0x80, 0x13, 0x00, 0x03, 0x01};
    route_in(2, &peer, true, nni, sizeof nni);
    CALL(false, NPDU_REQ, CONF(3, 0x0C), 0x0C, NP_OID(3), 0x1A, 0x01, 0xA9);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x03, 0x0C, 0x0C, NP_OID(3), 0x1A, 0x01, 0xA9, 0x3E,
               0x21, 0x03, 0x3F);
    /* learned (1); the configured port 1 says configured (3). */
    CALL(false, NPDU_REQ, CONF(4, 0x0C), 0x0C, NP_OID(3), 0x1A, 0x01, 0xAA);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x04, 0x0C, 0x0C, NP_OID(3), 0x1A, 0x01, 0xAA, 0x3E,
               0x91, 0x01, 0x3F);
    CALL(false, NPDU_REQ, CONF(5, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0xAA);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x05, 0x0C, 0x0C, NP_OID(2), 0x1A, 0x01, 0xAA, 0x3E,
               0x91, 0x03, 0x3F);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_unknown_object(void **state)
{
    (void)state;
    /* RP Analog_Input 1 (00 00 00 01) Object_Name: Error 50 01 0C, 91 01 (class object),
     * 91 1F (unknown-object 31). */
    CALL(false, NPDU_REQ, CONF(1, 0x0C), 0x0C, 0x00, 0x00, 0x00, 0x01, 0x19, 0x4D);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x01, 0x0C, 0x91, 0x01, 0x91, 0x1F);
    /* Network_Port 4 and 0: there are three ports, numbered from 1. */
    CALL(false, NPDU_REQ, CONF(2, 0x0C), 0x0C, NP_OID(4), 0x19, 0x4D);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x02, 0x0C, 0x91, 0x01, 0x91, 0x1F);
    CALL(false, NPDU_REQ, CONF(3, 0x0C), 0x0C, NP_OID(0), 0x19, 0x4D);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x03, 0x0C, 0x91, 0x01, 0x91, 0x1F);
    /* Another Device instance. */
    CALL(false, NPDU_REQ, CONF(4, 0x0C), 0x0C, 0x02, 0x00, 0x0F, 0xA1, 0x19, 0x4D);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x04, 0x0C, 0x91, 0x01, 0x91, 0x1F);
    /* ALL in ReadProperty is no property: unknown-property. */
    CALL(false, NPDU_REQ, CONF(5, 0x0C), 0x0C, DEV_OID, 0x19, 0x08);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x05, 0x0C, 0x91, 0x02, 0x91, 0x20);
}

static void test_write_denied(void **state)
{
    (void)state;
    /* WP (15 = 0x0F) Device Object_Name := "abc": [3] 3E 75 04 00 'a' 'b' 'c' 3F.
     * Error 50 01 0F, 91 02 (property), 91 28 (write-access-denied 40). */
    CALL(false, NPDU_REQ, CONF(1, 0x0F), 0x0C, DEV_OID, 0x19, 0x4D, 0x3E, 0x75, 0x04, 0x00,
         'a', 'b', 'c', 0x3F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x01, 0x0F, 0x91, 0x02, 0x91, 0x28);
    /* NP 2 Max_Master := 10 at priority 8 (49 08): denied too. */
    CALL(false, NPDU_REQ, CONF(2, 0x0F), 0x0C, NP_OID(2), 0x19, 0x40, 0x3E, 0x21, 0x0A, 0x3F,
         0x49, 0x08);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x02, 0x0F, 0x91, 0x02, 0x91, 0x28);
    /* An unknown object, an unknown property (Present_Value 85 of the Device). */
    CALL(false, NPDU_REQ, CONF(3, 0x0F), 0x0C, NP_OID(9), 0x19, 0x40, 0x3E, 0x21, 0x0A, 0x3F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x03, 0x0F, 0x91, 0x01, 0x91, 0x1F);
    CALL(false, NPDU_REQ, CONF(4, 0x0F), 0x0C, DEV_OID, 0x19, 0x55, 0x3E, 0x21, 0x0A, 0x3F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x50, 0x04, 0x0F, 0x91, 0x02, 0x91, 0x20);
    /* No value: Reject 60 05 05 (missing-required-parameter). Priority 17: 60 06 06. */
    CALL(false, NPDU_REQ, CONF(5, 0x0F), 0x0C, DEV_OID, 0x19, 0x4D, 0x3E, 0x3F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x60, 0x05, 0x05);
    CALL(false, NPDU_REQ, CONF(6, 0x0F), 0x0C, DEV_OID, 0x19, 0x4D, 0x3E, 0x21, 0x01, 0x3F,
         0x49, 0x11);
    EXPECT_OUT(false, NPDU_LOCAL, 0x60, 0x06, 0x06);
}

static void test_other_services(void **state)
{
    (void)state;
    /* DeviceCommunicationControl (17 = 0x11): Reject 60 01 09 (unrecognized-service). */
    CALL(false, NPDU_REQ, CONF(1, 0x11), 0x19, 0x00);
    EXPECT_OUT(false, NPDU_LOCAL, 0x60, 0x01, 0x09);
    /* A segmented request (08: SEG; seq 0, window 1): Abort 71 02 04 (from the server,
     * segmentation-not-supported). */
    CALL(false, NPDU_REQ, 0x08, 0x05, 0x02, 0x00, 0x01, 0x0C, 0x0C, DEV_OID, 0x19, 0x4B);
    EXPECT_OUT(false, NPDU_LOCAL, 0x71, 0x02, 0x04);
    /* A confirmed request by broadcast is discarded; so are ACKs and network messages. */
    CALL(true, NPDU_REQ, CONF(3, 0x0C), 0x0C, DEV_OID, 0x19, 0x4B);
    assert_int_equal(S.out_len, 0);
    CALL(false, 0x01, 0x00, 0x20, 0x03, 0x0F);
    assert_int_equal(S.out_len, 0);
    CALL(false, 0x01, 0x80, 0x12);
    assert_int_equal(S.out_len, 0);
    /* Malformed RP (the property missing): Reject 60 04 05. Trailing junk: 60 05 07. */
    CALL(false, NPDU_REQ, CONF(4, 0x0C), 0x0C, DEV_OID);
    EXPECT_OUT(false, NPDU_LOCAL, 0x60, 0x04, 0x05);
    CALL(false, NPDU_REQ, CONF(5, 0x0C), 0x0C, DEV_OID, 0x19, 0x4B, 0x21, 0x00);
    EXPECT_OUT(false, NPDU_LOCAL, 0x60, 0x05, 0x07);
}

/* ---- ReadPropertyMultiple ---------------------------------------------------------------- */

static void test_rpm_all_network_port(void **state)
{
    (void)state;
    /* RPM (14 = 0x0E): [0] NP 1, 1E (open [1]) 09 08 ([0] ALL) 1F (close [1]). */
    CALL(false, NPDU_REQ, CONF(7, 0x0E), 0x0C, NP_OID(1), 0x1E, 0x09, 0x08, 0x1F);
    EXPECT_OUT(false, NPDU_LOCAL,
               0x30, 0x07, 0x0E,                         /* Complex-ACK, RPM */
               0x0C, NP_OID(1), 0x1E,                    /* [0] NP 1, open [1] */
               /* each result: [2] property id, 4E (open [4]) value 4F (close [4]) */
               0x29, 0x4B, 0x4E, 0xC4, NP_OID(1), 0x4F,  /* Object_Identifier */
               0x29, 0x4D, 0x4E, 0x75, 0x0F, 0x00,       /* Object_Name, 14 characters */
               'N', 'e', 't', 'w', 'o', 'r', 'k', ' ', 'P', 'o', 'r', 't', ' ', '1', 0x4F,
               0x29, 0x4F, 0x4E, 0x91, 0x38, 0x4F,       /* Object_Type network-port 56 */
               0x2A, 0x01, 0x73, 0x4E,                   /* Property_List (371) */
               0x91, 0x6F, 0x91, 0x67, 0x91, 0x51,       /*  Status_Flags, Reliability, OOS */
               0x92, 0x01, 0xAB, 0x92, 0x01, 0xE2,       /*  Network_Type, Protocol_Level */
               0x92, 0x01, 0xA9, 0x92, 0x01, 0xAA,       /*  Network_Number, its quality */
               0x92, 0x01, 0xA0, 0x92, 0x01, 0x8F,       /*  Changes_Pending, APDU_Length */
               0x92, 0x01, 0xA4, 0x92, 0x01, 0xA7,       /*  Link_Speed, MAC_Address */
               0x92, 0x01, 0x98, 0x92, 0x01, 0x90,       /*  BACnet_IP_Mode, IP_Address */
               0x92, 0x01, 0x9C, 0x92, 0x01, 0x9B, 0x4F, /*  UDP port, IP_Subnet_Mask */
               0x29, 0x6F, 0x4E, 0x82, 0x04, 0x00, 0x4F, /* Status_Flags: 4 bits, all clear */
               0x29, 0x67, 0x4E, 0x91, 0x00, 0x4F,       /* Reliability no-fault-detected */
               0x29, 0x51, 0x4E, 0x10, 0x4F,             /* Out_Of_Service FALSE */
               0x2A, 0x01, 0xAB, 0x4E, 0x91, 0x05, 0x4F, /* Network_Type ipv4 (5) */
               0x2A, 0x01, 0xE2, 0x4E, 0x91, 0x02, 0x4F, /* Protocol_Level bacnet-application */
               0x2A, 0x01, 0xA9, 0x4E, 0x21, 0x01, 0x4F, /* Network_Number 1 */
               0x2A, 0x01, 0xAA, 0x4E, 0x91, 0x03, 0x4F, /* Network_Number_Quality configured */
               0x2A, 0x01, 0xA0, 0x4E, 0x10, 0x4F,       /* Changes_Pending FALSE */
               0x2A, 0x01, 0x8F, 0x4E, 0x22, 0x05, 0xC4, 0x4F, /* APDU_Length 1476 */
               0x2A, 0x01, 0xA4, 0x4E, 0x44, 0x4B, 0x18, 0x96, 0x80, 0x4F, /* Link_Speed 1e7 */
               0x2A, 0x01, 0xA7, 0x4E, 0x65, 0x06, IP_ROUTER, 0x4F,        /* MAC_Address */
               0x2A, 0x01, 0x98, 0x4E, 0x91, 0x00, 0x4F, /* BACnet_IP_Mode normal */
               0x2A, 0x01, 0x90, 0x4E, 0x64, 0xC0, 0xA8, 0x00, 0x01, 0x4F, /* IP_Address */
               0x2A, 0x01, 0x9C, 0x4E, 0x22, 0xBA, 0xC0, 0x4F,             /* UDP port 47808 */
               0x2A, 0x01, 0x9B, 0x4E, 0x64, 0xFF, 0xFF, 0xFF, 0x00, 0x4F, /* IP_Subnet_Mask */
               0x1F);                                    /* close [1] */
}

static void test_rpm_errors_and_selections(void **state)
{
    (void)state;
    /* Two specs: Analog_Input 1 {Present_Value} and NP 2 {Max_Master, IP_Address,
     * Network_Type[1]}: 0C 00000001 1E 09 55 1F, 0C NP2 1E 09 40 0A 01 90 0A 01 AB 19 01 1F. */
    CALL(false, NPDU_REQ, CONF(8, 0x0E), 0x0C, 0x00, 0x00, 0x00, 0x01, 0x1E, 0x09, 0x55, 0x1F,
         0x0C, NP_OID(2), 0x1E, 0x09, 0x40, 0x0A, 0x01, 0x90, 0x0A, 0x01, 0xAB, 0x19, 0x01, 0x1F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x08, 0x0E,
               0x0C, 0x00, 0x00, 0x00, 0x01, 0x1E,
               0x29, 0x55, 0x5E, 0x91, 0x01, 0x91, 0x1F, 0x5F, /* [5] object/unknown-object */
               0x1F,
               0x0C, NP_OID(2), 0x1E,
               0x29, 0x40, 0x4E, 0x21, 0x7F, 0x4F,             /* Max_Master 127 */
               0x2A, 0x01, 0x90, 0x5E, 0x91, 0x02, 0x91, 0x20, 0x5F, /* unknown-property */
               0x2A, 0x01, 0xAB, 0x39, 0x01,                   /* [3] index 1 */
               0x5E, 0x91, 0x02, 0x91, 0x32, 0x5F,             /* property-is-not-an-array */
               0x1F);
    /* OPTIONAL of a Network_Port: none, an empty list (1E 1F). */
    CALL(false, NPDU_REQ, CONF(9, 0x0E), 0x0C, NP_OID(3), 0x1E, 0x09, 0x50, 0x1F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x09, 0x0E, 0x0C, NP_OID(3), 0x1E, 0x1F);
    /* OPTIONAL of the Device with a Description: that one (72: 2 octets, charset 0, 'R'). */
    S.dev.description = "R";
    CALL(false, NPDU_REQ, CONF(10, 0x0E), 0x0C, DEV_OID, 0x1E, 0x09, 0x50, 0x1F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x0A, 0x0E, 0x0C, DEV_OID, 0x1E, 0x29, 0x1C, 0x4E,
               0x72, 0x00, 'R', 0x4F, 0x1F);
    /* ALL with an index: invalid-array-index for ALL itself. */
    CALL(false, NPDU_REQ, CONF(11, 0x0E), 0x0C, NP_OID(3), 0x1E, 0x09, 0x08, 0x19, 0x01, 0x1F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x30, 0x0B, 0x0E, 0x0C, NP_OID(3), 0x1E, 0x29, 0x08, 0x39,
               0x01, 0x5E, 0x91, 0x02, 0x91, 0x2A, 0x5F, 0x1F);
    /* An empty property list is malformed: Reject 60 0C 04 (invalid-tag). */
    CALL(false, NPDU_REQ, CONF(12, 0x0E), 0x0C, DEV_OID, 0x1E, 0x1F);
    EXPECT_OUT(false, NPDU_LOCAL, 0x60, 0x0C, 0x04);
}

/* Counts the results of an RPM-ALL reply of one object: the [2] property ids. */
static void test_rpm_required_device(void **state)
{
    bac_buf_t rd;
    bac_npdu_t n;
    bac_apdu_t h;
    bac_oid_t oid;
    unsigned count = 0;
    uint32_t id;

    (void)state;
    CALL(false, NPDU_REQ, CONF(1, 0x0E), 0x0C, DEV_OID, 0x1E, 0x09, 0x69, 0x1F);
    bac_buf_reader(&rd, S.out, S.out_len);
    assert_true(bac_npdu_decode(&rd, &n) > 0);
    assert_true(bac_apdu_decode(&rd, &h) > 0);
    assert_int_equal(h.type, BAC_PDU_COMPLEX_ACK);
    bac_dec_ctx_oid(&rd, 0, &oid);
    bac_dec_opening(&rd, 1);
    while (bac_err(&rd) == BAC_OK && !bac_is_closing(&rd, 1)) {
        bac_dec_ctx_enum(&rd, 2, &id);
        assert_true(bac_is_opening(&rd, 4)); /* every required property reads */
        bac_skip_element(&rd);
        count++;
    }
    bac_dec_closing(&rd, 1);
    assert_true(bac_done(&rd));
    /* 135-2016 Table 12-13's required properties, Property_List included. */
    assert_int_equal(count, 21);
}

/* A reply that does not fit the client's max-APDU is an Abort; and no reply exceeds
 * the cap the caller gives. */
static void test_caps(void **state)
{
    /* RPM ALL of the Device from a client taking 50 octets (code 0). */
    static const uint8_t req[] = {NPDU_REQ, 0x00, 0x00, 0x01, 0x0E, 0x0C, DEV_OID,
                                  0x1E, 0x09, 0x08, 0x1F};
    static const uint8_t big[] = {NPDU_REQ, CONF(2, 0x0E), 0x0C, NP_OID(1), 0x1E, 0x09,
                                  0x08, 0x1F};

    (void)state;
    call(req, sizeof req, false);
    EXPECT_OUT(false, NPDU_LOCAL, 0x71, 0x01, 0x04);
    for (size_t cap = 0; cap < 300; cap++) {
        size_t n = rdev_receive(&S.dev, NULL, false, big, sizeof big, S.out, cap, NULL);

        assert_true(n <= cap);
        if (cap >= 5)
            assert_true(n >= 5); /* at least the Abort fits */
    }
    /* Max_APDU_Length_Accepted 128: the RPM ALL above (227 octets) becomes an Abort. */
    S.dev.max_apdu = 128;
    call(big, sizeof big, false);
    EXPECT_OUT(false, NPDU_LOCAL, 0x71, 0x02, 0x04);
}

/* ---- Who-Has -------------------------------------------------------------------------------- */

/* I-Have: global broadcast, 10 01, Device 4000, the object, its name. */
static void test_who_has(void **state)
{
    (void)state;
    /* Who-Has (10 07) by name [3] "Network Port 2": 3D 0F 00 + 14 characters. */
    CALL(true, 0x01, 0x00, 0x10, 0x07, 0x3D, 0x0F, 0x00, 'N', 'e', 't', 'w', 'o', 'r', 'k',
         ' ', 'P', 'o', 'r', 't', ' ', '2');
    EXPECT_OUT(true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x01, 0xC4, DEV_OID, 0xC4,
               NP_OID(2), 0x75, 0x0F, 0x00, 'N', 'e', 't', 'w', 'o', 'r', 'k', ' ', 'P', 'o',
               'r', 't', ' ', '2');
    /* By identifier [2] NP 3 (2C + oid). */
    CALL(true, 0x01, 0x00, 0x10, 0x07, 0x2C, NP_OID(3));
    EXPECT_OUT(true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x01, 0xC4, DEV_OID, 0xC4,
               NP_OID(3), 0x75, 0x0F, 0x00, 'N', 'e', 't', 'w', 'o', 'r', 'k', ' ', 'P', 'o',
               'r', 't', ' ', '3');
    /* The Device by its name "Router 1". */
    CALL(true, 0x01, 0x00, 0x10, 0x07, 0x3D, 0x09, 0x00, 'R', 'o', 'u', 't', 'e', 'r', ' ',
         '1');
    EXPECT_OUT(true, 0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x01, 0xC4, DEV_OID, 0xC4,
               DEV_OID, 0x75, 0x09, 0x00, 'R', 'o', 'u', 't', 'e', 'r', ' ', '1');
    /* Not ours: "Network Port 4", "Network Port 02", NP 4: silence. */
    CALL(true, 0x01, 0x00, 0x10, 0x07, 0x3D, 0x0F, 0x00, 'N', 'e', 't', 'w', 'o', 'r', 'k',
         ' ', 'P', 'o', 'r', 't', ' ', '4');
    assert_int_equal(S.out_len, 0);
    CALL(true, 0x01, 0x00, 0x10, 0x07, 0x3D, 0x10, 0x00, 'N', 'e', 't', 'w', 'o', 'r', 'k',
         ' ', 'P', 'o', 'r', 't', ' ', '0', '2');
    assert_int_equal(S.out_len, 0);
    CALL(true, 0x01, 0x00, 0x10, 0x07, 0x2C, NP_OID(4));
    assert_int_equal(S.out_len, 0);
}

/* ---- routed requests ------------------------------------------------------------------------- */

/* A request with SNET/SADR is answered with DNET/DADR = that source. */
static void test_routed_request_direct(void **state)
{
    (void)state;
    /* 01 0C (SNET, expecting reply), SNET 5, SLEN 1, SADR 0x21; RP Device Object_Identifier. */
    CALL(false, 0x01, 0x0C, 0x00, 0x05, 0x01, 0x21, CONF(1, 0x0C), 0x0C, DEV_OID, 0x19, 0x4B);
    /* 01 20 (DNET), DNET 5, DLEN 1, DADR 0x21, hop count 255; the ACK. */
    EXPECT_OUT(false, 0x01, 0x20, 0x00, 0x05, 0x01, 0x21, 0xFF, 0x30, 0x01, 0x0C, 0x0C, DEV_OID,
               0x19, 0x4B, 0x3E, 0xC4, DEV_OID, 0x3F);
}

/* Through the router: a client on network 7, behind router 0x10 on MS/TP network 2,
 * reads the router device; the reply goes back to 0x10 with DNET/DADR the client and
 * SNET/SADR the router device's address on network 2. */
static void test_routed_request_through_router(void **state)
{
    static const net_addr_t next_hop = {1, {0x10}};

    (void)state;
    assert_int_equal(net_router_set_route(&S.r, 7, 1, &next_hop), 1);
    /* Addressed to the router on network 2: 01 2C (DNET, SNET, expecting reply), DNET 2,
     * DLEN 1, DADR 0x7E, SNET 7, SLEN 1, SADR 0x21, hop 254; RP NP 2 MAC_Address. */
    static const uint8_t req[] = {0x01, 0x2C, 0x00, 0x02, 0x01, 0x7E, 0x00, 0x07, 0x01, 0x21,
                                  0xFE, CONF(9, 0x0C), 0x0C, NP_OID(2), 0x1A, 0x01, 0xA7};
    route_in(1, &next_hop, false, req, sizeof req);
    /* 01 28 (DNET, SNET), DNET 7, DLEN 1, DADR 0x21, SNET 2, SLEN 1, SADR 0x7E, hop 255;
     * Complex-ACK: 61 7E. It is the upcall's reply, to 0x10 (not a broadcast). */
    EXPECT_OUT(false, 0x01, 0x28, 0x00, 0x07, 0x01, 0x21, 0x00, 0x02, 0x01, 0x7E, 0xFF, 0x30,
               0x09, 0x0C, 0x0C, NP_OID(2), 0x1A, 0x01, 0xA7, 0x3E, 0x61, 0x7E, 0x3F);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(S.link[i].n, 0);
}

/* ---- the encodings decode, and tshark's view ------------------------------------------------ */

/* Write the RPM-ALL reply of NP 1 and NP 2 as BVLC Original-Unicast-NPDUs in a pcap for
 * tshark when S4100_RDEV_PCAP names a file (tests/check_rdev_tshark.sh). */
#include <stdio.h>
#include <stdlib.h>

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f);
}

static void pcap_udp(FILE *f, const uint8_t *npdu, size_t n)
{
    uint8_t p[2048];
    size_t bl = 4 + n, ul = 8 + bl, il = 20 + ul, k = 0;
    uint32_t sum = 0;

    /* IPv4 127.0.0.1 -> 127.0.0.1, UDP 47808 -> 47808, BVLC 81 0A length. */
    static const uint8_t ip[] = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0,
                                 127, 0, 0, 1, 127, 0, 0, 1};
    memcpy(p, ip, 20);
    p[2] = (uint8_t)(il >> 8);
    p[3] = (uint8_t)il;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    p[10] = (uint8_t)(~sum >> 8);
    p[11] = (uint8_t)~sum;
    k = 20;
    p[k++] = 0xBA, p[k++] = 0xC0, p[k++] = 0xBA, p[k++] = 0xC0;
    p[k++] = (uint8_t)(ul >> 8), p[k++] = (uint8_t)ul, p[k++] = 0, p[k++] = 0;
    p[k++] = 0x81, p[k++] = 0x0A, p[k++] = (uint8_t)(bl >> 8), p[k++] = (uint8_t)bl;
    memcpy(p + k, npdu, n);
    k += n;
    put32(f, 0), put32(f, 0), put32(f, (uint32_t)k), put32(f, (uint32_t)k);
    fwrite(p, 1, k, f);
}

static void test_pcap_for_tshark(void **state)
{
    const char *path = getenv("S4100_RDEV_PCAP");

    (void)state;
    if (!path)
        skip();
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    put32(f, 0xA1B2C3D4), fwrite((const uint16_t[]){2, 4}, 2, 2, f);
    put32(f, 0), put32(f, 0), put32(f, 65535), put32(f, 101); /* LINKTYPE_RAW: IP */
    S.dev.location = "Plant room";
    S.dev.description = "Router of the site";
    CALL(false, NPDU_REQ, CONF(1, 0x0E), 0x0C, NP_OID(1), 0x1E, 0x09, 0x08, 0x1F);
    pcap_udp(f, S.out, S.out_len);
    CALL(false, NPDU_REQ, CONF(2, 0x0E), 0x0C, NP_OID(2), 0x1E, 0x09, 0x08, 0x1F);
    pcap_udp(f, S.out, S.out_len);
    CALL(false, NPDU_REQ, CONF(3, 0x0E), 0x0C, DEV_OID, 0x1E, 0x09, 0x08, 0x1F);
    pcap_udp(f, S.out, S.out_len);
    CALL(true, 0x01, 0x00, 0x10, 0x08);
    pcap_udp(f, S.out, S.out_len);
    assert_int_equal(fclose(f), 0);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_who_is),
        T(test_who_is_through_router),
        T(test_rp_device_object_identifier),
        T(test_rp_device_scalars),
        T(test_rp_arrays),
        T(test_rp_network_port),
        T(test_network_number_learned),
        T(test_unknown_object),
        T(test_write_denied),
        T(test_other_services),
        T(test_rpm_all_network_port),
        T(test_rpm_errors_and_selections),
        T(test_rpm_required_device),
        T(test_caps),
        T(test_who_has),
        T(test_routed_request_direct),
        T(test_routed_request_through_router),
        T(test_pcap_for_tshark),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
