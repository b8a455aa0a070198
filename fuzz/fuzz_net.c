/*
 * libFuzzer target for the network layer (net/net_router.h): a router of 3 ports (IP
 * network 1, MS/TP network 2, a port that learns its number) whose fake links check
 * every NPDU the router sends: it decodes with bac.h's decoder (and its network message
 * body with net_msg_decode), fits the link, and a forwarded NPDU never leaves by the
 * port it came in on nor gains hops. The router's own device answers everything with a
 * fixed reply, to the sender or globally, so the path of its replies is fuzzed too.
 *
 * Input: records of [port][source selector][length][length octets of NPDU].
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/net_router.h"

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c))                                                                      \
            __builtin_trap();                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The NPDU being handled: what a forwarded copy of it looks like. */
typedef struct {
    unsigned port;
    bac_npdu_t h;
    const uint8_t *body;
    size_t body_len;
    bool reply_dnet;
} cur_t;

typedef struct {
    cur_t *cur;
    unsigned index;
    uint16_t max;
} link_ctx_t;

static void check_npdu(const cur_t *c, unsigned port, const uint8_t *npdu, size_t len)
{
    bac_buf_t rd;
    bac_npdu_t h;
    net_msg_t m;
    const uint8_t *body;
    size_t blen;

    bac_buf_reader(&rd, npdu, len);
    CHECK(bac_npdu_decode(&rd, &h) > 0);
    CHECK(!h.has_dnet || h.dnet != 0);
    body = npdu + bac_pos(&rd);
    blen = len - bac_pos(&rd);
    bool copy = blen == c->body_len && (blen == 0 || !memcmp(body, c->body, blen)) &&
                h.network_msg == c->h.network_msg && h.msg_type == c->h.msg_type;
    bool app = !h.network_msg && blen == 2 && body[0] == 0x30 && body[1] == 0xEE;

    if (h.network_msg && !copy) {
        /* One of the router's own messages: a layout it must get right. */
        CHECK(net_msg_decode(&rd, h.msg_type, h.vendor_id, &m) >= 0 && bac_done(&rd));
    }
    if (copy && !app) {
        /* The input, forwarded: never back where it came from, never with more hops. */
        CHECK(port != c->port);
        if (h.has_dnet && c->h.has_dnet)
            CHECK(h.hop_count < c->h.hop_count);
    }
}

static int fake_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    link_ctx_t *l = ctx;

    CHECK(len <= l->max);
    CHECK(!dst || dst->len <= NET_ADDR_MAX);
    check_npdu(l->cur, l->index, npdu, len);
    return 0;
}

static size_t app_rx(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                     size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    cur_t *c = ctx;
    bac_buf_t rd, w;
    bac_npdu_t h, r;

    (void)src;
    bac_buf_reader(&rd, npdu, len);
    CHECK(bac_npdu_decode(&rd, &h) > 0); /* the router hands up what it decoded */
    CHECK(!h.has_dnet && !h.network_msg);
    if (c->reply_dnet) {
        /* An I-Am style global broadcast. */
        memset(&r, 0, sizeof r);
        r.has_dnet = true;
        r.dnet = BAC_NET_BROADCAST;
        r.hop_count = 255;
        *reply_bcast = true;
    } else {
        bac_npdu_reply(&h, &r);
        *reply_bcast = bcast;
    }
    bac_buf_writer(&w, out, cap);
    bac_npdu_encode(&w, &r);
    bac_put_u8(&w, 0x30);
    bac_put_u8(&w, 0xEE);
    if (bac_err(&w))
        return 0;
    return bac_pos(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const net_addr_t srcs[4] = {
        {6, {0xC0, 0xA8, 0x00, 0x0A, 0xBA, 0xC0}}, {1, {5}}, {1, {7}}, {0, {0}}};
    static const net_addr_t ip = {6, {0xC0, 0xA8, 0x00, 0x01, 0xBA, 0xC0}}, ms = {1, {1}};
    net_router_t r;
    cur_t cur;
    link_ctx_t lc[3];
    net_upper_t app = {&cur, app_rx};
    uint8_t out[NET_NPDU_MAX];

    memset(&cur, 0, sizeof cur);
    net_router_init(&r, &app);
    for (unsigned i = 0; i < 3; i++) {
        lc[i] = (link_ctx_t){&cur, i, i == 0 ? 1497 : 501};
        net_link_t l = {&lc[i], fake_send, lc[i].max};
        CHECK(net_router_add_port(&r, &l, i == 2 ? 0 : (uint16_t)(i + 1), i == 0 ? &ip : &ms) ==
              (int)i);
    }
    while (size >= 3) {
        unsigned port = data[0] % 3u;
        const net_addr_t *src = &srcs[data[1] & 3u];
        bool bcast = data[1] & 4u;
        size_t len = data[2];
        bac_buf_t rd;
        bool reply_bcast = false;
        size_t n;

        cur.reply_dnet = data[1] & 8u;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        cur.port = port;
        memset(&cur.h, 0, sizeof cur.h);
        bac_buf_reader(&rd, data, len);
        cur.body = data;
        cur.body_len = len;
        if (bac_npdu_decode(&rd, &cur.h) > 0) {
            cur.body = data + bac_pos(&rd);
            cur.body_len = len - bac_pos(&rd);
        }
        n = net_router_receive(&r, port, src, bcast, data, len, out, sizeof out, &reply_bcast);
        CHECK(n <= sizeof out);
        if (n) {
            CHECK(n <= lc[port].max);
            check_npdu(&cur, port, out, n);
        }
        CHECK(r.nroutes <= NET_MAX_ROUTES);
        data += len;
        size -= len;
    }
    return 0;
}
