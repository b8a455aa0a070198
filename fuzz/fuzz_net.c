/*
 * libFuzzer target for the network layer (net/net_router.h): a router of 3 ports (IP
 * network 1, MS/TP network 2, a port that learns its number) whose fake links check
 * every NPDU the router sends: it decodes with bac.h's decoder (and its network message
 * body with net_msg_decode), fits the link, and a forwarded NPDU never leaves by the
 * port it came in on nor gains hops. The router's own device answers everything with a
 * fixed reply, to the sender or globally, so the path of its replies is fuzzed too.
 *
 * The ports' queues and pacing too: the links take only as much as a tick allows and
 * say NET_ERR_BUSY after, or fail now and then; the router is polled at increasing times
 * (across the 32-bit wrap). Checked: nothing reaches a link past a port's waiting
 * NPDUs, an NPDU refused as busy is the next one offered (unless it was dropped), each
 * ring walks exactly to its count and octets, the counters agree with what the links
 * took, and at the end every queue drains.
 *
 * Input: records of [port][source selector][length][length octets of NPDU]; a first
 * octet 0xC0..0xDF is a tick instead ([0xC0][ms to advance][2 bits per link: how many
 * it takes, 0, 1, 2 or any]), 0xE0..0xFF configures port (octet & 0x1F) % 3: [ ][queue
 * octets / 8][rate (low 5 bits) x 50 a second, burst (high 3 bits) + 1] (no NPDU
 * follows).
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
    const net_router_t *r;
    const bool *polling;
    unsigned index;
    uint16_t max;
    int room;          /* NPDUs it takes before the next tick; -1: any */
    unsigned fail;     /* a pseudo-random hard error now and then */
    uint32_t taken;
    bool refused;      /* the last offer was NET_ERR_BUSY: the next must be the same */
    bool refused_bcast; /* ... unless it was a broadcast, which a unicast may pass */
    uint32_t dropped;  /* the port's dropped count then */
    size_t refused_len;
    uint8_t refused_npdu[NET_NPDU_MAX];
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
    const net_port_t *p = &l->r->ports[l->index];

    CHECK(len <= l->max);
    CHECK(!dst || dst->len <= NET_ADDR_MAX);
    /* Outside a poll nothing may pass what waits (a unicast may pass broadcasts in their
     * own queue); in a poll only the oldest is offered, unicasts first. */
    bool bc = !dst || dst->len == 0;
    CHECK(*l->polling || p->queue.count == 0);
    CHECK(*l->polling || !bc || p->bqueue.count == 0);
    if (l->refused && p->stats.dropped == l->dropped && (!l->refused_bcast || bc))
        CHECK(len == l->refused_len && !memcmp(npdu, l->refused_npdu, len));
    l->refused = false;
    if (*l->polling) {
        bac_buf_t rd;
        bac_npdu_t h;

        bac_buf_reader(&rd, npdu, len);
        CHECK(bac_npdu_decode(&rd, &h) > 0); /* queued earlier: its origin is gone */
    } else {
        check_npdu(l->cur, l->index, npdu, len);
    }
    if (++l->fail % 53u == 0)
        return -1;
    if (l->room == 0) {
        l->refused = true;
        l->refused_bcast = bc;
        l->dropped = p->stats.dropped;
        l->refused_len = len;
        memcpy(l->refused_npdu, npdu, len);
        return NET_ERR_BUSY;
    }
    if (l->room > 0)
        l->room--;
    l->taken++;
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

/* Walk port p's ring: records end to end (tails skipped at the wrap) make exactly its
 * count and its octets. */
static void check_queue(const net_queue_t *q)
{
    uint32_t off = q->head, used = 0;

    CHECK(q->used <= q->cap && (q->buf || q->count == 0));
    for (uint32_t i = 0; i < q->count; i++) {
        if (q->buf[off] == 0xFF) { /* the rest of the ring skipped */
            used += q->cap - off;
            off = 0;
        }
        uint32_t n = 3u + q->buf[off + 2] + ((uint32_t)q->buf[off] << 8 | q->buf[off + 1]);
        CHECK(q->buf[off + 2] <= NET_ADDR_MAX && off + n <= q->cap);
        used += n;
        off += n;
        if (off == q->cap)
            off = 0;
    }
    CHECK(used == q->used);
}

static void check_router(const net_router_t *r, const link_ctx_t *lc, const uint32_t *replies)
{
    uint32_t waiting = 0;

    for (unsigned i = 0; i < 3; i++) {
        check_queue(&r->ports[i].queue);
        check_queue(&r->ports[i].bqueue);
        waiting += r->ports[i].queue.count + r->ports[i].bqueue.count;
        CHECK(r->ports[i].stats.sent == lc[i].taken + replies[i]);
        CHECK(r->ports[i].stats.peak >= r->ports[i].queue.used + r->ports[i].bqueue.used);
    }
    CHECK(waiting == r->waiting);
    CHECK(r->nroutes <= NET_MAX_ROUTES && r->nnets <= r->nports);
    for (unsigned i = 1; i < r->nroutes; i++)
        CHECK(r->routes[i - 1u].dnet < r->routes[i].dnet);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const net_addr_t srcs[4] = {
        {6, {0xC0, 0xA8, 0x00, 0x0A, 0xBA, 0xC0}}, {1, {5}}, {1, {7}}, {0, {0}}};
    static const net_addr_t ip = {6, {0xC0, 0xA8, 0x00, 0x01, 0xBA, 0xC0}}, ms = {1, {1}};
    static net_router_t r; /* 46 KB: not on the stack */
    static uint8_t qbuf[3][2040], bqbuf[3][2040];
    cur_t cur;
    static link_ctx_t lc[3];
    net_upper_t app = {&cur, app_rx};
    uint8_t out[NET_NPDU_MAX];
    uint32_t now = 0xFFFFF000u, replies[3] = {0};
    bool polling = false;

    memset(&cur, 0, sizeof cur);
    net_router_init(&r, &app);
    net_router_poll(&r, now);
    for (unsigned i = 0; i < 3; i++) {
        lc[i] = (link_ctx_t){.cur = &cur, .r = &r, .polling = &polling, .index = i,
                             .max = i == 0 ? 1497 : 501, .room = -1};
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

        if (data[0] >= 0xE0) { /* configure port (octet & 0x1F) % 3 */
            unsigned k = (data[0] & 0x1Fu) % 3u;

            if (r.ports[k].queue.count == 0 && r.ports[k].bqueue.count == 0) {
                bool own = data[1] & 1u; /* broadcasts in a queue of their own */
                CHECK(net_router_port_queue(&r, k, qbuf[k], data[1] * 8u) == 0);
                CHECK(net_router_port_bqueue(&r, k, own ? bqbuf[k] : NULL, own ? data[1] * 8u : 0) == 0);
            }
            CHECK(net_router_port_pace(&r, k, (data[2] & 0x1Fu) * 50u, (data[2] >> 5) + 1u) == 0);
            data += 3;
            size -= 3;
            continue;
        }
        if (data[0] >= 0xC0) { /* a tick: the links move, the router is polled */
            static const int rooms[4] = {0, 1, 2, -1};
            uint32_t left;

            now += data[1];
            for (unsigned i = 0; i < 3; i++)
                lc[i].room = rooms[(data[2] >> (2u * i)) & 3u];
            polling = true;
            left = net_router_poll(&r, now);
            polling = false;
            CHECK(left == r.waiting);
            check_router(&r, lc, replies);
            data += 3;
            size -= 3;
            continue;
        }
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
            replies[port]++;
        }
        check_router(&r, lc, replies);
        data += len;
        size -= len;
    }
    /* The links take everything again: within a bounded number of polls (pacing is at
     * least 50 a second) every queue drains. */
    for (unsigned i = 0; i < 3; i++)
        lc[i].room = -1;
    polling = true;
    for (unsigned t = 0; t < 1000u && net_router_poll(&r, now += 1000u); t++)
        ;
    polling = false;
    CHECK(r.waiting == 0);
    check_router(&r, lc, replies);
    return 0;
}
