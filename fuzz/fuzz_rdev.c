/*
 * libFuzzer target for the router device (rdev/rdev.h): arbitrary NPDUs into the
 * device of a 3-port router (B/IP network 1, MS/TP network 2, an MS/TP port whose
 * number is unknown), straight into its upper or through the router. Every reply must
 * fit the cap given (and the device's Max_APDU_Length_Accepted), decode as an NPDU
 * addressed as the standard wants (a global broadcast for I-Am/I-Have, else back to
 * the request's SNET/SADR), carry a server's APDU, and be well-formed tag by tag.
 *
 * Input: [flags][cap high][cap low][NPDU ...]; flags bit 0 received as a broadcast,
 * bit 1 through the router (port from bits 4..5), bits 2..3 Max_APDU 50/128/480/1476,
 * bit 6 with a Description.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rdev/rdev.h"

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c))                                                                      \
            __builtin_trap();                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    bac_buf_t rd;
    bac_npdu_t h;

    CHECK(len <= *(const uint16_t *)ctx);
    CHECK(!dst || dst->len <= NET_ADDR_MAX);
    bac_buf_reader(&rd, npdu, len);
    CHECK(bac_npdu_decode(&rd, &h) > 0);
    return 0;
}

/* The APDU of a reply: a server's PDU, its service data tag by tag well-formed. */
static void check_apdu(const uint8_t *p, size_t n, uint16_t max_apdu)
{
    bac_buf_t rd;
    bac_apdu_t a;

    CHECK(n <= max_apdu);
    bac_buf_reader(&rd, p, n);
    CHECK(bac_apdu_decode(&rd, &a) > 0);
    CHECK(a.type == BAC_PDU_UNCONFIRMED_REQ || a.type == BAC_PDU_COMPLEX_ACK ||
          a.type == BAC_PDU_ERROR || a.type == BAC_PDU_REJECT || a.type == BAC_PDU_ABORT);
    CHECK(!a.segmented);
    while (bac_left(&rd) && bac_err(&rd) == BAC_OK)
        bac_skip_element(&rd);
    CHECK(bac_done(&rd));
}

static void check_reply(const uint8_t *in, size_t len, const uint8_t *out, size_t n,
                        bool reply_bcast, uint16_t max_apdu)
{
    bac_buf_t rd;
    bac_npdu_t req, rep;

    bac_buf_reader(&rd, out, n);
    CHECK(bac_npdu_decode(&rd, &rep) > 0);
    CHECK(!rep.network_msg);
    if (reply_bcast) {
        CHECK(rep.has_dnet && rep.dnet == BAC_NET_BROADCAST && rep.dadr.len == 0);
    } else {
        /* Only answered requests come back, and they decode. */
        bac_buf_t q;
        bac_buf_reader(&q, in, len);
        CHECK(bac_npdu_decode(&q, &req) > 0);
        CHECK(rep.has_dnet == req.has_snet);
        if (req.has_snet)
            CHECK(rep.dnet == req.snet && rep.dadr.len == req.sadr.len &&
                  !memcmp(rep.dadr.addr, req.sadr.addr, req.sadr.len));
    }
    check_apdu(out + bac_pos(&rd), n - bac_pos(&rd), max_apdu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t sizes[4] = {50, 128, 480, 1476};
    static const net_addr_t ip = {6, {0xC0, 0xA8, 0x00, 0x01, 0xBA, 0xC0}}, ms = {1, {0x7E}};
    static const net_addr_t client = {6, {0xC0, 0xA8, 0x00, 0x0A, 0xBA, 0xC0}};
    static const uint8_t addr[4] = {192, 168, 0, 1}, mask[4] = {255, 255, 255, 0};
    static rdev_t d; /* 20 KB with 1024 ports' info: kept off the stack */
    net_router_t r;
    uint16_t max[3] = {1497, 501, 501};
    uint8_t out[NET_NPDU_MAX];
    bool bcast, reply_bcast = false;
    size_t cap, n;

    if (size < 3)
        return 0;
    rdev_init(&d, &r, 4000, "Router 1");
    d.max_apdu = sizes[(data[0] >> 2) & 3u];
    d.location = "Plant room";
    if (data[0] & 0x40u)
        d.description = "Site router";
    net_upper_t app = rdev_upper(&d);
    net_router_init(&r, &app);
    for (unsigned i = 0; i < 3; i++) {
        net_link_t l = {&max[i], fake_send, max[i]};
        CHECK(net_router_add_port(&r, &l, i == 2 ? 0 : (uint16_t)(i + 1), i == 0 ? &ip : &ms) ==
              (int)i);
    }
    rdev_port_bip(&d, 0, 10e6f, addr, mask, 47808, RDEV_IP_BBMD);
    rdev_port_mstp(&d, 1, 76800.0f, 127, 4);
    rdev_port_mstp(&d, 2, 9600.0f, 64, 1);
    bcast = data[0] & 1u;
    cap = ((size_t)data[1] << 8 | data[2]) % (sizeof out + 1u);
    data += 3;
    size -= 3;
    if (data[-3] & 2u) {
        unsigned port = (data[-3] >> 4) % 3u;

        n = net_router_receive(&r, port, port ? &ms : &client, bcast, data, size, out, cap,
                               &reply_bcast);
        CHECK(n <= cap);
        /* The router hands its device a reply buffer of NET_NPDU_MAX whatever the port:
         * only a device that accepts no more than the smallest link's APDU (480) is sure
         * to fit MS/TP (docs/router-device.md). */
        if (d.max_apdu <= 480)
            CHECK(n <= max[port]);
        return 0;
    }
    n = rdev_receive(&d, &client, bcast, data, size, out, cap, &reply_bcast);
    CHECK(n <= cap);
    if (n)
        check_reply(data, size, out, n, reply_bcast, d.max_apdu);
    return 0;
}
