/*
 * A BACnet router (ASHRAE 135 clause 6.5, 6.6): N ports, a routing table, the
 * network-layer messages, and the router's own application entity. Everything runs
 * inside the receive upcall of the port the NPDU came from; what goes back to that
 * port's sender goes into the upcall's reply buffer (once), everything else through
 * the links' send. See docs/network.md.
 */
#include <string.h>

#include "net/net_router.h"

/* One received NPDU being handled. */
typedef struct {
    net_router_t *r;
    unsigned k;            /* the port it came in on */
    const net_addr_t *src; /* its link source */
    uint8_t *out;          /* the upcall's reply buffer, used at most once */
    size_t cap, out_len;
    bool *reply_bcast;
    bool own;              /* routing the router's own application's NPDU */
} rx_t;

static bool mac_eq(const net_addr_t *a, const bac_mac_t *m)
{
    return a->len == m->len && memcmp(a->mac, m->addr, a->len) == 0;
}

static void to_bac_mac(bac_mac_t *m, const net_addr_t *a)
{
    m->len = a->len;
    memcpy(m->addr, a->mac, a->len);
}

static void to_net_addr(net_addr_t *a, const bac_mac_t *m)
{
    memset(a, 0, sizeof *a);
    a->len = m->len <= NET_ADDR_MAX ? m->len : 0;
    memcpy(a->mac, m->addr, a->len);
}

/* ---- the output queues ------------------------------------------------------------ */

#define REC_HDR 3u   /* NPDU length (2), destination length (1) */
#define REC_PAD 0xFFu /* no NPDU length starts so: the rest of the ring is skipped */
#define TOKEN 1000u   /* one NPDU in the bucket's thousandths */

static uint32_t q_tail(const net_queue_t *q)
{
    uint32_t t = q->head + q->used;

    return t >= q->cap ? t - q->cap : t;
}

/* Append one record, kept whole: when it does not fit before the end of the ring it
 * starts at 0 and the end is skipped. False when there is no room. */
static bool q_put(net_queue_t *q, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    uint32_t n = REC_HDR + dst->len + (uint32_t)len, tail, skip = 0;
    uint8_t *o;

    if (!q->buf || len > NET_NPDU_MAX || n > q->cap - q->used)
        return false;
    if (q->used == 0)
        q->head = 0; /* empty: start over, the whole ring is one piece */
    tail = q_tail(q);
    if (tail >= q->head && q->cap - tail < n) {
        if (q->head < n)
            return false;
        skip = q->cap - tail;
        q->buf[tail] = REC_PAD;
        tail = 0;
    } else if (tail < q->head && q->head - tail < n) {
        return false;
    }
    o = q->buf + tail;
    o[0] = (uint8_t)(len >> 8);
    o[1] = (uint8_t)len;
    o[2] = dst->len;
    memcpy(o + REC_HDR, dst->mac, dst->len);
    memcpy(o + REC_HDR + dst->len, npdu, len);
    q->used += skip + n;
    q->count++;
    return true;
}

/* Drop the oldest record; the head then points at a record again. */
static void q_pop(net_queue_t *q)
{
    const uint8_t *o = q->buf + q->head;
    uint32_t n = REC_HDR + o[2] + ((uint32_t)o[0] << 8 | o[1]);

    q->head += n;
    q->used -= n;
    if (--q->count == 0) {
        q->head = q->used = 0;
    } else if (q->head == q->cap || q->buf[q->head] == REC_PAD) {
        q->used -= q->cap - q->head;
        q->head = 0;
    }
}

/* The token bucket at the router's clock. */
static bool may_send(net_port_t *p, uint32_t now)
{
    net_pace_t *b = &p->pace;
    uint32_t dt = now - b->last_ms, room;

    if (b->rate == 0)
        return true;
    b->last_ms = now;
    room = b->burst * TOKEN - b->tokens;
    /* dt * rate stays below room + rate, so it cannot overflow. */
    b->tokens += dt >= room / b->rate + 1u ? room : dt * b->rate;
    if (b->tokens > b->burst * TOKEN)
        b->tokens = b->burst * TOKEN;
    return b->tokens >= TOKEN;
}

/* Whether pacing applies: to everything, or with a broadcast queue to broadcasts only
 * (what floods a client unasked; answers come as fast as it asks). */
static bool paced(const net_port_t *p, bool bcast)
{
    return p->pace.rate && (bcast || !p->bqueue.buf);
}

static bool may_go(net_port_t *p, bool bcast, uint32_t now)
{
    return !paced(p, bcast) || may_send(p, now);
}

static void sent(net_port_t *p, bool bcast)
{
    if (paced(p, bcast))
        p->pace.tokens -= TOKEN;
    p->stats.sent++;
}

/* Port p's congestion changed: the other routers are told at the next poll (not from
 * here, where a send could set off another port's announcement, and so on). */
static void congest(net_router_t *r, net_port_t *p, bool on)
{
    if (p->congested == on)
        return;
    p->congested = on;
    p->tell = !p->tell; /* set then cleared before a poll: nothing to tell */
    if (p->tell)
        r->owed++;
    else
        r->owed--;
}

/* A port's broadcasts wait in their own queue when it has one (net_router_port_bqueue). */
static net_queue_t *queue_for(net_port_t *p, const net_addr_t *dst)
{
    return dst->len == 0 && p->bqueue.buf ? &p->bqueue : &p->queue;
}

/* What waits on port p, both queues, against what they hold. */
static void fill(const net_port_t *p, uint32_t *used, uint32_t *cap)
{
    *used = p->queue.used + p->bqueue.used;
    *cap = p->queue.cap + p->bqueue.cap;
}

static bool enqueue(net_router_t *r, net_port_t *p, const net_addr_t *dst, const uint8_t *npdu,
                    size_t len)
{
    net_queue_t *q = queue_for(p, dst);
    uint32_t used, cap;

    if (!q_put(q, dst, npdu, len)) {
        p->stats.dropped++;
        r->stats.dropped++;
        return false;
    }
    p->stats.queued++;
    r->waiting++;
    fill(p, &used, &cap);
    if (used > p->stats.peak)
        p->stats.peak = used;
    if (used > cap / 4u * 3u)
        congest(r, p, true);
    return true;
}

/* Port p's link takes npdu now, or it waits behind what already waits. False: lost. */
static bool port_out(net_router_t *r, net_port_t *p, const net_addr_t *dst, const uint8_t *npdu,
                     size_t len)
{
    static const net_addr_t bcast = {0};
    int rc = -1;

    if (!dst)
        dst = &bcast;
    /* A unicast goes ahead of broadcasts waiting in their own queue, never of another. */
    if (queue_for(p, dst)->count == 0 && p->queue.count == 0 && may_go(p, dst->len == 0, r->now_ms)) {
        if (p->link.send)
            rc = p->link.send(p->link.ctx, dst->len ? dst : NULL, npdu, len);
        if (rc == 0) {
            sent(p, dst->len == 0);
            return true;
        }
        if (rc != NET_ERR_BUSY) {
            p->stats.errors++;
            r->stats.dropped++;
            return false;
        }
    }
    return enqueue(r, p, dst, npdu, len);
}

/* Offer queue q of port p to its link, oldest first, while it takes them and pacing
 * lets. False when the link or pacing stopped it with records left. */
static bool drain_q(net_router_t *r, net_port_t *p, net_queue_t *q)
{
    bool bcast = q == &p->bqueue;

    while (q->count && may_go(p, bcast, r->now_ms)) {
        const uint8_t *o = q->buf + q->head;
        net_addr_t dst = {.len = o[2]};
        int rc = -1;

        memcpy(dst.mac, o + REC_HDR, dst.len);
        if (p->link.send)
            rc = p->link.send(p->link.ctx, dst.len ? &dst : NULL, o + REC_HDR + dst.len,
                              (size_t)o[0] << 8 | o[1]);
        if (rc == NET_ERR_BUSY)
            return false;
        if (rc == 0) {
            sent(p, bcast);
        } else {
            p->stats.errors++;
            r->stats.dropped++;
        }
        q_pop(q);
        r->waiting--;
    }
    return q->count == 0;
}

/* Unicasts first (requests and their answers), then the broadcasts' own queue. */
static void drain(net_router_t *r, net_port_t *p)
{
    uint32_t used, cap;

    if (drain_q(r, p, &p->queue) && p->bqueue.count)
        drain_q(r, p, &p->bqueue);
    fill(p, &used, &cap);
    if (used <= cap / 4u)
        congest(r, p, false);
}

/* Send npdu on port p to dst (NULL / len 0: broadcast). The first thing for the
 * sender's own port that goes to the sender or the broadcast uses the reply buffer,
 * so a link with a reply deadline (MS/TP) gets it in time, unless the port's queue or
 * pacing holds it back (then it waits its turn there). False: lost. */
static bool emit(rx_t *x, unsigned p, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    bool bcast = !dst || dst->len == 0;
    net_port_t *port = &x->r->ports[p];

    if (p == x->k && x->out && x->out_len == 0 && len <= x->cap && x->src &&
        (bcast || (dst->len == x->src->len && !memcmp(dst->mac, x->src->mac, dst->len))) &&
        port->queue.count == 0 && (!bcast || port->bqueue.count == 0) &&
        may_go(port, bcast, x->r->now_ms)) {
        memcpy(x->out, npdu, len);
        x->out_len = len;
        if (x->reply_bcast)
            *x->reply_bcast = bcast;
        sent(port, bcast);
        return true;
    }
    return port_out(x->r, port, bcast ? NULL : dst, npdu, len);
}

/* npdu on every port but skip (NO_PORT: none) that carries it. Returns how many took
 * it. */
#define NO_PORT 0xFFFFFFFFu
static unsigned emit_all(rx_t *x, unsigned skip, const uint8_t *npdu, size_t len)
{
    unsigned n = 0;

    for (unsigned p = 0; p < x->r->nports; p++)
        if (p != skip && len <= x->r->ports[p].link.max_npdu && emit(x, p, NULL, npdu, len))
            n++;
    return n;
}

/* ---- routing table -------------------------------------------------------------- */

/* Lookups by network number are binary searches: routes[] is kept sorted by DNET and
 * by_net[] lists the numbered ports sorted by net (with 313 trunks a scan cost more
 * than the rest of forwarding). */

/* The first position in by_net[] whose port's net is not below net. */
static unsigned port_pos(const net_router_t *r, uint16_t net)
{
    unsigned lo = 0, hi = r->nnets;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2u;

        if (r->ports[r->by_net[mid]].net < net)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo;
}

int net_router_port_of(const net_router_t *r, uint16_t net)
{
    unsigned i = port_pos(r, net);

    return net && i < r->nnets && r->ports[r->by_net[i]].net == net &&
                   r->by_net[i] < r->nports
               ? (int)r->by_net[i]
               : -1;
}

/* A host may take back the port it added last (nports--, when its link could not be
 * set up): forget such ports before their slot is used again. */
static void forget_taken_back(net_router_t *r)
{
    unsigned n = 0;

    for (unsigned i = 0; i < r->nnets; i++)
        if (r->by_net[i] < r->nports)
            r->by_net[n++] = r->by_net[i];
    r->nnets = (uint16_t)n;
}

/* Port k's number becomes net (not 0, no other port's), in by_net[] too. */
static void number_port(net_router_t *r, unsigned k, uint16_t net)
{
    unsigned i;

    if (r->ports[k].net) { /* a learned number learned again */
        i = port_pos(r, r->ports[k].net);
        r->nnets--;
        memmove(&r->by_net[i], &r->by_net[i + 1u], (r->nnets - i) * sizeof r->by_net[0]);
    }
    r->ports[k].net = net;
    i = port_pos(r, net);
    memmove(&r->by_net[i + 1u], &r->by_net[i], (r->nnets - i) * sizeof r->by_net[0]);
    r->by_net[i] = (uint16_t)k;
    r->nnets++;
}

/* The first position in routes[] whose DNET is not below dnet. */
static unsigned route_pos(const net_router_t *r, uint16_t dnet)
{
    unsigned lo = 0, hi = r->nroutes;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2u;

        if (r->routes[mid].dnet < dnet)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo;
}

static net_route_t *find_route(net_router_t *r, uint16_t dnet)
{
    unsigned i = route_pos(r, dnet);

    return i < r->nroutes && r->routes[i].dnet == dnet ? &r->routes[i] : NULL;
}

const net_route_t *net_router_route(const net_router_t *r, uint16_t dnet)
{
    return find_route((net_router_t *)r, dnet);
}

int net_router_set_route(net_router_t *r, uint16_t dnet, unsigned port,
                         const net_addr_t *next_hop)
{
    net_route_t *rt;

    if (dnet == 0 || dnet == BAC_NET_BROADCAST || port >= r->nports || !next_hop ||
        next_hop->len == 0 || next_hop->len > NET_ADDR_MAX || net_router_port_of(r, dnet) >= 0)
        return -1;
    rt = find_route(r, dnet);
    if (rt && rt->port == port && rt->next_hop.len == next_hop->len &&
        !memcmp(rt->next_hop.mac, next_hop->mac, next_hop->len))
        return 0;
    if (!rt) {
        unsigned i = route_pos(r, dnet);

        if (r->nroutes >= NET_MAX_ROUTES)
            return -1;
        memmove(&r->routes[i + 1u], &r->routes[i], (r->nroutes - i) * sizeof r->routes[0]);
        r->nroutes++;
        rt = &r->routes[i];
    }
    memset(rt, 0, sizeof *rt);
    rt->dnet = dnet;
    rt->port = (uint16_t)port;
    rt->next_hop = *next_hop;
    return 1;
}

static void purge_route(net_router_t *r, uint16_t dnet)
{
    net_route_t *rt = find_route(r, dnet);

    if (rt) {
        r->nroutes--;
        memmove(rt, rt + 1, (size_t)(&r->routes[r->nroutes] - rt) * sizeof *rt);
    }
}

/* ---- setup ------------------------------------------------------------------------ */

void net_router_init(net_router_t *r, const net_upper_t *app)
{
    memset(r, 0, sizeof *r);
    if (app)
        r->app = *app;
}

int net_router_add_port(net_router_t *r, const net_link_t *link, uint16_t net,
                        const net_addr_t *mac)
{
    net_port_t *p;

    if (r->nports >= NET_MAX_PORTS || net == BAC_NET_BROADCAST || !link || !mac ||
        mac->len > NET_ADDR_MAX || net_router_port_of(r, net) >= 0)
        return -1;
    forget_taken_back(r);
    p = &r->ports[r->nports];
    memset(p, 0, sizeof *p);
    p->r = r;
    p->index = r->nports;
    p->pace.last_ms = r->now_ms;
    p->link = *link;
    p->configured = net != 0;
    p->mac = *mac;
    r->nports++;
    if (net)
        number_port(r, p->index, net);
    return p->index;
}

static size_t port_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                           size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    net_port_t *p = ctx;

    return net_router_receive(p->r, p->index, src, bcast, npdu, len, out, cap, reply_bcast);
}

net_upper_t net_router_port_upper(net_router_t *r, unsigned k)
{
    net_upper_t u = {0};

    if (k < r->nports) {
        u.ctx = &r->ports[k];
        u.receive = port_receive;
    }
    return u;
}

static int set_queue(net_router_t *r, unsigned k, net_queue_t *q, uint8_t *buf, size_t cap)
{
    if (k >= r->nports || r->ports[k].queue.count || r->ports[k].bqueue.count ||
        cap > 0x7FFFFFFFu)
        return -1;
    memset(q, 0, sizeof *q);
    if (buf && cap) {
        q->buf = buf;
        q->cap = (uint32_t)cap;
    }
    return 0;
}

int net_router_port_queue(net_router_t *r, unsigned k, uint8_t *buf, size_t cap)
{
    return k < r->nports ? set_queue(r, k, &r->ports[k].queue, buf, cap) : -1;
}

int net_router_port_bqueue(net_router_t *r, unsigned k, uint8_t *buf, size_t cap)
{
    return k < r->nports ? set_queue(r, k, &r->ports[k].bqueue, buf, cap) : -1;
}

int net_router_port_pace(net_router_t *r, unsigned k, uint32_t rate, uint32_t burst)
{
    net_pace_t *b;

    if (k >= r->nports || rate > NET_PACE_MAX ||
        (rate && (burst == 0 || burst > NET_PACE_MAX)))
        return -1;
    b = &r->ports[k].pace;
    b->rate = rate;
    b->burst = rate ? burst : 0;
    b->tokens = b->burst * TOKEN;
    b->last_ms = r->now_ms;
    return 0;
}

uint32_t net_router_waiting(const net_router_t *r)
{
    return r->waiting;
}

/* ---- sending network messages ---------------------------------------------------- */

/* Encode a message from the router into o; 0 when it does not fit. */
static size_t encode_msg(uint8_t *o, size_t cap, const bac_npdu_t *hdr, const net_msg_t *m)
{
    bac_buf_t w;
    int n;

    bac_buf_writer(&w, o, cap);
    n = net_msg_encode(&w, hdr, m);
    return n > 0 ? (size_t)n : 0;
}

/* A message from the router itself on port p, local (no DNET) or to dnet/dadr. */
static void send_msg(rx_t *x, unsigned p, const net_addr_t *dst, const bac_npdu_t *hdr,
                     const net_msg_t *m)
{
    uint8_t o[NET_NPDU_MAX];
    size_t n = encode_msg(o, sizeof o, hdr, m);

    if (n && n <= x->r->ports[p].link.max_npdu)
        emit(x, p, dst, o, n);
}

/* A DNET list message (I-Am-Router, Router-Busy, Router-Available) of n octets of list,
 * broadcast on port p in as many messages as the link needs: 313 trunks do not fit in
 * one MS/TP frame. */
static void send_dnets(rx_t *x, unsigned p, uint8_t type, const uint8_t *list, size_t n)
{
    uint16_t max = x->r->ports[p].link.max_npdu;
    size_t per = max > 4u ? (max - 3u) / 2u * 2u : 0; /* version, control, type */
    bac_npdu_t h = {0};

    for (size_t off = 0; per && off < n; off += per) {
        size_t c = n - off < per ? n - off : per;
        net_msg_t m = {.type = type, .list = list + off, .list_len = c,
                       .count = (uint16_t)(c / 2u)};

        send_msg(x, p, NULL, &h, &m);
    }
}

/* Reject the NPDU h that came in on x->k from x->src: back toward its source. */
static void reject(rx_t *x, const bac_npdu_t *h, uint8_t reason, uint16_t dnet)
{
    bac_npdu_t rh;
    net_msg_t m = {.type = NET_MSG_REJECT, .reason = reason, .dnet = dnet};

    /* Never answer a Reject with a Reject: two routers could bounce them forever. */
    if (x->own || (h->network_msg && h->msg_type == NET_MSG_REJECT))
        return;
    x->r->stats.rejected++;
    bac_npdu_reply(h, &rh);
    /* The SNET forward() added names the sender's own network: answer it locally. */
    if (rh.has_dnet && rh.dnet == x->r->ports[x->k].net) {
        rh.has_dnet = false;
        rh.dadr.len = 0;
    }
    send_msg(x, x->k, x->src, &rh, &m);
}

/* The networks reachable from port k other than through k itself, from entry *i on
 * (ports, then routes), as a DNET list in o, up to cap octets; returns its length and
 * leaves *i at the next entry. only: 0 for all, else the one network asked for. */
static size_t reachable(const net_router_t *r, unsigned k, uint16_t only, unsigned *i,
                        uint8_t *o, size_t cap)
{
    size_t n = 0;

    for (; *i < (unsigned)r->nports + r->nroutes && n + 2u <= cap; (*i)++) {
        unsigned e = *i;
        uint16_t net = e < r->nports ? r->ports[e].net : r->routes[e - r->nports].dnet;
        unsigned port = e < r->nports ? e : r->routes[e - r->nports].port;

        if (net == 0 || port == k || (only && net != only))
            continue;
        o[n++] = (uint8_t)(net >> 8);
        o[n++] = (uint8_t)net;
    }
    return n;
}

/* ---- forwarding -------------------------------------------------------------------- */

/* Put header h and the octets after the incoming header (body) out on port p to dst.
 * False: too long for that link. */
static bool put_out(rx_t *x, unsigned p, const net_addr_t *dst, const bac_npdu_t *h,
                    const uint8_t *body, size_t body_len)
{
    uint8_t o[NET_NPDU_MAX];
    bac_buf_t w;

    bac_buf_writer(&w, o, sizeof o);
    bac_npdu_encode(&w, h);
    bac_put_bytes(&w, body, body_len);
    if (bac_err(&w) || bac_pos(&w) > x->r->ports[p].link.max_npdu)
        return false;
    if (emit(x, p, dst, o, bac_pos(&w)))
        x->r->stats.forwarded++;
    return true;
}

/* A global broadcast goes out of every port but the one it came in on, DNET kept: the
 * same octets everywhere, encoded once. */
static void flood(rx_t *x, const bac_npdu_t *h, const uint8_t *body, size_t len)
{
    uint8_t o[NET_NPDU_MAX];
    bac_buf_t w;

    bac_buf_writer(&w, o, sizeof o);
    bac_npdu_encode(&w, h);
    bac_put_bytes(&w, body, len);
    if (!bac_err(&w))
        x->r->stats.forwarded += emit_all(x, x->k, o, bac_pos(&w));
}

/* Route h (DNET set, not global, not port k's own network). x->own: the router's own
 * application sent it, so it may leave through port k and is never rejected. */
static void route(rx_t *x, bac_npdu_t *h, const uint8_t *body, size_t len)
{
    int p = net_router_port_of(x->r, h->dnet);
    net_route_t *rt;
    net_addr_t dst;

    if (p >= 0 && (unsigned)p == x->k && !x->own) {
        x->r->stats.dropped++; /* for the network it came from: not ours to repeat */
        return;
    }
    if (p >= 0) {
        /* The last hop: the destination network sees a local NPDU, DADR empty = its
         * broadcast. */
        to_net_addr(&dst, &h->dadr);
        h->has_dnet = false;
        h->dadr.len = 0;
        if (!put_out(x, (unsigned)p, &dst, h, body, len))
            reject(x, h, NET_REJECT_TOO_LONG, h->dnet);
        return;
    }
    rt = find_route(x->r, h->dnet);
    if (!rt) {
        bac_npdu_t wh = {0};
        net_msg_t m = {.type = NET_MSG_WHO_IS_ROUTER, .has_dnet = true, .dnet = h->dnet};
        uint8_t o[8];
        size_t n = encode_msg(o, sizeof o, &wh, &m);

        /* Look for it for next time; this one is refused (nothing waits for a route). */
        emit_all(x, x->own ? NO_PORT : x->k, o, n);
        reject(x, h, NET_REJECT_UNKNOWN_DNET, h->dnet);
        return;
    }
    if (rt->busy) {
        reject(x, h, NET_REJECT_BUSY, h->dnet);
        return;
    }
    if (!x->own && rt->port == x->k) { /* back where it came from: a loop in the making */
        x->r->stats.dropped++;
        return;
    }
    if (!put_out(x, rt->port, &rt->next_hop, h, body, len))
        reject(x, h, NET_REJECT_TOO_LONG, h->dnet);
}

/* An NPDU from port k for somewhere else: add the source, spend a hop, route it. */
static void forward(rx_t *x, bac_npdu_t h, const uint8_t *body, size_t len)
{
    net_port_t *in = &x->r->ports[x->k];

    if (!h.has_snet) {
        /* The reply must find its way back: that needs our network number. */
        if (in->net == 0 || x->src->len == 0 || x->src->len > BAC_MAC_MAX) {
            x->r->stats.dropped++;
            return;
        }
        h.has_snet = true;
        h.snet = in->net;
        to_bac_mac(&h.sadr, x->src);
    }
    if (h.hop_count <= 1) { /* it would leave with 0 (clause 6.2.2): discard */
        x->r->stats.dropped++;
        return;
    }
    h.hop_count--;
    if (h.dnet == BAC_NET_BROADCAST)
        flood(x, &h, body, len);
    else
        route(x, &h, body, len);
}

/* ---- local delivery --------------------------------------------------------------- */

static void from_app(rx_t *x, const uint8_t *npdu, size_t len, bool bcast);

static void deliver(rx_t *x, bac_npdu_t h, const uint8_t *body, size_t len, bool bcast)
{
    uint8_t in[NET_NPDU_MAX], reply[NET_NPDU_MAX];
    bac_buf_t w;
    bool rb = false;
    size_t n;

    if (!x->r->app.receive)
        return;
    /* The application sees the NPDU as a station on port k's network would. */
    h.has_dnet = false;
    h.dadr.len = 0;
    h.hop_count = 0;
    bac_buf_writer(&w, in, sizeof in);
    bac_npdu_encode(&w, &h);
    bac_put_bytes(&w, body, len);
    if (bac_err(&w))
        return;
    x->r->stats.delivered++;
    n = x->r->app.receive(x->r->app.ctx, x->src, bcast, in, bac_pos(&w), reply, sizeof reply,
                          &rb);
    if (n > 0 && n <= sizeof reply)
        from_app(x, reply, n, rb);
}

/* The application's reply, sent as from the router's address on port k. */
static void from_app(rx_t *x, const uint8_t *npdu, size_t len, bool bcast)
{
    bac_buf_t rd;
    bac_npdu_t h;
    net_port_t *in = &x->r->ports[x->k];

    bac_buf_reader(&rd, npdu, len);
    if (bac_npdu_decode(&rd, &h) < 0)
        return;
    if (!h.has_dnet || h.dnet == in->net) {
        emit(x, x->k, bcast ? NULL : x->src, npdu, len);
        return;
    }
    if (in->net && !h.has_snet) {
        h.has_snet = true;
        h.snet = in->net;
        to_bac_mac(&h.sadr, &in->mac);
    }
    if (h.dnet == BAC_NET_BROADCAST) {
        /* Our own global broadcast: port k hears it as sent; the others through us. */
        emit(x, x->k, NULL, npdu, len);
        flood(x, &h, npdu + bac_pos(&rd), len - bac_pos(&rd));
        return;
    }
    x->own = true;
    route(x, &h, npdu + bac_pos(&rd), len - bac_pos(&rd));
    x->own = false;
}

/* ---- network-layer messages addressed to the router ------------------------------ */

static void on_who_is_router(rx_t *x, const bac_npdu_t *h, const net_msg_t *m, const uint8_t *body,
                             size_t len)
{
    uint8_t list[NET_NPDU_MAX - 8u];
    uint16_t only = m->has_dnet ? m->dnet : 0;
    bool said = false, known = !m->has_dnet || net_router_port_of(x->r, m->dnet) >= 0 ||
                               find_route(x->r, m->dnet);
    unsigned i = 0;
    size_t n;

    while ((n = reachable(x->r, x->k, only, &i, list, sizeof list)) > 0) {
        send_dnets(x, x->k, NET_MSG_I_AM_ROUTER, list, n);
        said = true;
    }
    if (said || known)
        return; /* known and reachable only through the asker's own network: not us */
    /* Unknown: ask the other networks on the requester's behalf (clause 6.6.3.2). */
    bac_npdu_t fh = *h;
    if (!fh.has_snet && x->r->ports[x->k].net && x->src->len && x->src->len <= BAC_MAC_MAX) {
        fh.has_snet = true;
        fh.snet = x->r->ports[x->k].net;
        to_bac_mac(&fh.sadr, x->src);
    }
    fh.has_dnet = false;
    flood(x, &fh, body, len);
}

/* Learn from I-Am-Router; tell the other networks only what changed, so that two
 * routers on a loop of networks stop telling each other. */
static void on_i_am_router(rx_t *x, const net_msg_t *m)
{
    uint8_t list[NET_NPDU_MAX - 8u]; /* m came in one NPDU: its list fits */
    size_t n = 0;

    if (x->src->len == 0)
        return;
    for (uint16_t i = 0; i < m->count; i++) {
        uint16_t d = net_msg_dnet(m, i);

        if (net_router_set_route(x->r, d, x->k, x->src) == 1 && n + 2u <= sizeof list) {
            list[n++] = (uint8_t)(d >> 8);
            list[n++] = (uint8_t)d;
        }
    }
    for (unsigned p = 0; p < x->r->nports && n; p++)
        if (p != x->k)
            send_dnets(x, p, NET_MSG_I_AM_ROUTER, list, n);
}

/* A DNET list being passed on to every port but the one it came from, in pieces. */
typedef struct {
    rx_t *x;
    uint8_t type;
    size_t n;
    uint8_t list[NET_NPDU_MAX - 8u];
} relay_t;

static void relay_flush(relay_t *d)
{
    for (unsigned p = 0; p < d->x->r->nports && d->n; p++)
        if (p != d->x->k)
            send_dnets(d->x, p, d->type, d->list, d->n);
    d->n = 0;
}

static void relay_add(relay_t *d, uint16_t dnet)
{
    if (d->n + 2u > sizeof d->list)
        relay_flush(d);
    d->list[d->n++] = (uint8_t)(dnet >> 8);
    d->list[d->n++] = (uint8_t)dnet;
}

/* Mark rt busy or not if the sender is its next hop; pass on a change. */
static void mark(relay_t *d, net_route_t *rt, bool busy)
{
    const net_addr_t *src = d->x->src;

    if (!rt || rt->port != d->x->k || rt->next_hop.len != src->len ||
        memcmp(rt->next_hop.mac, src->mac, src->len) || rt->busy == busy)
        return;
    rt->busy = busy;
    relay_add(d, rt->dnet);
}

/* Busy/Available: mark the routes through the sender (all of them when the list is
 * empty) and pass on what changed. */
static void on_busy(rx_t *x, const net_msg_t *m, bool busy)
{
    relay_t d = {.x = x, .type = m->type};

    if (m->count == 0)
        for (unsigned i = 0; i < x->r->nroutes; i++)
            mark(&d, &x->r->routes[i], busy);
    for (uint16_t j = 0; j < m->count; j++)
        mark(&d, find_route(x->r, net_msg_dnet(m, j)), busy);
    relay_flush(&d);
}

/* Initialize-Routing-Table: a query (no entries) gets the table; an update may only
 * purge (port id 0): routes are learned from the routers themselves. */
static void on_init_rt(rx_t *x, const bac_npdu_t *h, const net_msg_t *m)
{
    uint8_t list[NET_NPDU_MAX - 16u];
    size_t n = 0, off = 0;
    uint16_t count = 0;
    net_rt_entry_t e;
    bac_npdu_t rh;
    net_msg_t a = {.type = NET_MSG_INIT_RT_ACK};

    bac_npdu_reply(h, &rh);
    if (m->count) {
        while (net_msg_rt_next(m, &off, &e))
            if (e.port_id == 0)
                purge_route(x->r, e.dnet);
        send_msg(x, x->k, x->src, &rh, &a);
        return;
    }
    /* As many entries as the link carries (a header of at most 26 octets before them),
     * and the count is one octet. */
    size_t max = x->r->ports[x->k].link.max_npdu > 26u ? x->r->ports[x->k].link.max_npdu - 26u : 0;
    if (max > sizeof list)
        max = sizeof list;
    for (unsigned i = 0; i < (unsigned)x->r->nports + x->r->nroutes && count < 255u && n + 4u <= max;
         i++) {
        uint16_t net = i < x->r->nports ? x->r->ports[i].net : x->r->routes[i - x->r->nports].dnet;
        unsigned port = i < x->r->nports ? i : x->r->routes[i - x->r->nports].port;

        if (net == 0)
            continue;
        list[n++] = (uint8_t)(net >> 8);
        list[n++] = (uint8_t)net;
        /* Port ids start at 1 (0 means purge) and are one octet: ports from 255 on
         * share id 255. */
        list[n++] = (uint8_t)(port < 254u ? port + 1u : 255u);
        list[n++] = 0;                    /* no port info */
        count++;
    }
    a.count = count;
    a.list = list;
    a.list_len = n;
    /* An Ack always carries its count when it answers a query, even 0. */
    if (n == 0)
        a.list = NULL;
    {
        uint8_t o[NET_NPDU_MAX];
        bac_buf_t w;

        bac_buf_writer(&w, o, sizeof o);
        net_msg_encode(&w, &rh, &a);
        if (n == 0)
            bac_put_u8(&w, 0);
        if (!bac_err(&w) && bac_pos(&w) <= x->r->ports[x->k].link.max_npdu)
            emit(x, x->k, x->src, o, bac_pos(&w));
    }
}

static void on_network_number(rx_t *x, const bac_npdu_t *h, const net_msg_t *m)
{
    net_port_t *in = &x->r->ports[x->k];

    /* Both are for the local network only (clause 6.4.19, 6.4.20). */
    if (h->has_snet || h->has_dnet)
        return;
    if (m->type == NET_MSG_WHAT_IS_NETWORK_NUMBER) {
        bac_npdu_t nh = {0};
        net_msg_t o = {.type = NET_MSG_NETWORK_NUMBER_IS, .dnet = in->net,
                       .flag = in->configured ? 1u : 0u};

        if (in->net)
            send_msg(x, x->k, NULL, &nh, &o);
        return;
    }
    /* Learn from a configured source only, and never over our own configuration. */
    if (!in->configured && m->flag == 1 && m->dnet != 0 && m->dnet != BAC_NET_BROADCAST &&
        net_router_port_of(x->r, m->dnet) < 0)
        number_port(x->r, x->k, m->dnet);
}

static void network_msg(rx_t *x, const bac_npdu_t *h, const uint8_t *body, size_t len,
                        bool unicast)
{
    bac_buf_t rd;
    net_msg_t m;
    bool known = h->msg_type <= NET_MSG_DISCONNECT ||
                 h->msg_type == NET_MSG_WHAT_IS_NETWORK_NUMBER ||
                 h->msg_type == NET_MSG_NETWORK_NUMBER_IS;

    if (!known) {
        if (unicast)
            reject(x, h, NET_REJECT_UNKNOWN_MSG, h->has_dnet ? h->dnet : 0);
        return;
    }
    bac_buf_reader(&rd, body, len);
    if (net_msg_decode(&rd, h->msg_type, h->vendor_id, &m) < 0) {
        x->r->stats.dropped++;
        return;
    }
    switch (m.type) {
    case NET_MSG_WHO_IS_ROUTER:
        on_who_is_router(x, h, &m, body, len);
        break;
    case NET_MSG_I_AM_ROUTER:
        on_i_am_router(x, &m);
        break;
    case NET_MSG_ROUTER_BUSY:
    case NET_MSG_ROUTER_AVAILABLE:
        on_busy(x, &m, m.type == NET_MSG_ROUTER_BUSY);
        break;
    case NET_MSG_INIT_RT:
        on_init_rt(x, h, &m);
        break;
    case NET_MSG_WHAT_IS_NETWORK_NUMBER:
    case NET_MSG_NETWORK_NUMBER_IS:
        on_network_number(x, h, &m);
        break;
    default: /* I-Could-Be, Reject, the Ack, Establish/Disconnect: nothing to do */
        break;
    }
}

/* ---- the entry point -------------------------------------------------------------- */

/* Is h (arrived on port k) for the router itself? *bcast: as a broadcast. */
static bool for_us(const net_router_t *r, unsigned k, const bac_npdu_t *h, bool *bcast)
{
    int p;

    if (!h->has_dnet || h->dnet == BAC_NET_BROADCAST)
        return true;
    p = net_router_port_of(r, h->dnet);
    if (p < 0)
        return false;
    if (h->dadr.len == 0) {
        *bcast = true; /* a remote broadcast to one of our networks reaches us too */
        return true;
    }
    (void)k;
    return mac_eq(&r->ports[p].mac, &h->dadr);
}

size_t net_router_receive(net_router_t *r, unsigned k, const net_addr_t *src, bool bcast,
                          const uint8_t *npdu, size_t len, uint8_t *out, size_t cap,
                          bool *reply_bcast)
{
    static const net_addr_t none = {0};
    rx_t x = {.r = r, .k = k, .src = src ? src : &none, .out = out, .cap = out ? cap : 0,
              .reply_bcast = reply_bcast};
    bac_buf_t rd;
    bac_npdu_t h;
    const uint8_t *body;
    size_t blen;
    bool to_bcast = bcast;

    if (reply_bcast)
        *reply_bcast = false;
    if (k >= r->nports || !npdu)
        return 0;
    bac_buf_reader(&rd, npdu, len);
    if (bac_npdu_decode(&rd, &h) < 0) {
        r->stats.dropped++;
        return 0;
    }
    body = npdu + bac_pos(&rd);
    blen = len - bac_pos(&rd);
    /* Network 0 is no network: nothing could be routed to it or answered there. */
    if ((h.has_dnet && h.dnet == 0) || (h.has_snet && h.snet == 0)) {
        r->stats.dropped++;
        return 0;
    }
    bool mine = for_us(r, k, &h, &to_bcast);
    bool onward = h.has_dnet && (!mine || h.dnet == BAC_NET_BROADCAST ||
                                 (h.dadr.len == 0 && h.dnet != r->ports[k].net));
    if (h.has_dnet && h.dnet == BAC_NET_BROADCAST)
        to_bcast = true;
    if (onward)
        forward(&x, h, body, blen);
    if (mine) {
        if (h.network_msg)
            network_msg(&x, &h, body, blen, !to_bcast);
        else
            deliver(&x, h, body, blen, to_bcast);
    }
    return x.out_len;
}

/* ---- the host's clock: queues drained, congestion told ---------------------------- */

static void tell(rx_t *x, const uint32_t *to, uint8_t type, const uint8_t *list, size_t n)
{
    for (unsigned p = 0; p < x->r->nports && n; p++)
        if (to[p / 32u] >> (p % 32u) & 1u)
            send_dnets(x, p, type, list, n);
}

/* Router-Busy-To-Network (or Router-Available-To-Network) for the networks behind port
 * k (its own and the routes through it), to the routers on the other ports: only
 * routers act on these, and a port where a route leads has one. */
static void announce(net_router_t *r, unsigned k)
{
    static const net_addr_t none = {0};
    uint32_t to[(NET_MAX_PORTS + 31u) / 32u] = {0};
    rx_t x = {.r = r, .k = NO_PORT, .src = &none};
    uint8_t type = r->ports[k].congested ? NET_MSG_ROUTER_BUSY : NET_MSG_ROUTER_AVAILABLE;
    uint8_t list[NET_NPDU_MAX - 8u];
    size_t n = 0;

    for (unsigned i = 0; i < r->nroutes; i++)
        if (r->routes[i].port != k)
            to[r->routes[i].port / 32u] |= 1u << (r->routes[i].port % 32u);
    for (unsigned e = 0; e <= r->nroutes; e++) {
        const net_route_t *rt = e ? &r->routes[e - 1u] : NULL;
        uint16_t net = !rt ? r->ports[k].net : rt->port == k ? rt->dnet : 0;

        if (net == 0)
            continue;
        if (n + 2u > sizeof list) {
            tell(&x, to, type, list, n);
            n = 0;
        }
        list[n++] = (uint8_t)(net >> 8);
        list[n++] = (uint8_t)net;
    }
    tell(&x, to, type, list, n);
}

uint32_t net_router_poll(net_router_t *r, uint32_t now_ms)
{
    r->now_ms = now_ms;
    for (unsigned k = 0; k < r->nports && (r->waiting || r->owed); k++) {
        net_port_t *p = &r->ports[k];

        if (p->queue.count || p->bqueue.count)
            drain(r, p);
        if (p->tell) {
            p->tell = false;
            r->owed--;
            announce(r, k);
        }
    }
    return r->waiting;
}
