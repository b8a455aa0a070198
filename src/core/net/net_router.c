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

/* Send npdu on port p to dst (NULL / len 0: broadcast). The first thing for the
 * sender's own port that goes to the sender or the broadcast uses the reply buffer,
 * so a link with a reply deadline (MS/TP) gets it in time. */
static void emit(rx_t *x, unsigned p, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    bool bcast = !dst || dst->len == 0;
    net_port_t *port = &x->r->ports[p];

    if (p == x->k && x->out && x->out_len == 0 && len <= x->cap && x->src &&
        (bcast || (dst->len == x->src->len && !memcmp(dst->mac, x->src->mac, dst->len)))) {
        memcpy(x->out, npdu, len);
        x->out_len = len;
        if (x->reply_bcast)
            *x->reply_bcast = bcast;
        return;
    }
    if (port->link.send)
        port->link.send(port->link.ctx, bcast ? NULL : dst, npdu, len);
}

/* ---- routing table -------------------------------------------------------------- */

int net_router_port_of(const net_router_t *r, uint16_t net)
{
    for (unsigned i = 0; net && i < r->nports; i++)
        if (r->ports[i].net == net)
            return (int)i;
    return -1;
}

static net_route_t *find_route(net_router_t *r, uint16_t dnet)
{
    for (unsigned i = 0; i < r->nroutes; i++)
        if (r->routes[i].dnet == dnet)
            return &r->routes[i];
    return NULL;
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
        if (r->nroutes >= NET_MAX_ROUTES)
            return -1;
        rt = &r->routes[r->nroutes++];
    }
    memset(rt, 0, sizeof *rt);
    rt->dnet = dnet;
    rt->port = (uint8_t)port;
    rt->next_hop = *next_hop;
    return 1;
}

static void purge_route(net_router_t *r, uint16_t dnet)
{
    net_route_t *rt = find_route(r, dnet);

    if (rt)
        *rt = r->routes[--r->nroutes];
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
    p = &r->ports[r->nports];
    memset(p, 0, sizeof *p);
    p->r = r;
    p->index = r->nports;
    p->link = *link;
    p->net = net;
    p->configured = net != 0;
    p->mac = *mac;
    return r->nports++;
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

/* ---- sending network messages ---------------------------------------------------- */

/* A message from the router itself on port p, local (no DNET) or to dnet/dadr. */
static void send_msg(rx_t *x, unsigned p, const net_addr_t *dst, const bac_npdu_t *hdr,
                     const net_msg_t *m)
{
    uint8_t o[NET_NPDU_MAX];
    bac_buf_t w;
    int n;

    bac_buf_writer(&w, o, sizeof o);
    n = net_msg_encode(&w, hdr, m);
    if (n > 0 && (size_t)n <= x->r->ports[p].link.max_npdu)
        emit(x, p, dst, o, (size_t)n);
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

/* The networks reachable from port k other than through k itself, as a DNET list in
 * o (at most cap/2 entries); returns its length in octets. only: 0 for all, else the
 * one network asked for (0 octets if it is not reachable that way). */
static size_t reachable(const net_router_t *r, unsigned k, uint16_t only, uint8_t *o, size_t cap)
{
    size_t n = 0;

    for (unsigned i = 0; i < r->nports + r->nroutes && n + 2u <= cap; i++) {
        uint16_t net;
        unsigned port;

        if (i < r->nports) {
            net = r->ports[i].net;
            port = i;
        } else {
            net = r->routes[i - r->nports].dnet;
            port = r->routes[i - r->nports].port;
        }
        if (net == 0 || port == k || (only && net != only))
            continue;
        o[n++] = (uint8_t)(net >> 8);
        o[n++] = (uint8_t)net;
    }
    return n;
}

static void i_am_router(rx_t *x, unsigned p, const uint8_t *list, size_t n)
{
    bac_npdu_t h = {0};
    net_msg_t m = {.type = NET_MSG_I_AM_ROUTER, .list = list, .list_len = n,
                   .count = (uint16_t)(n / 2u)};

    if (n)
        send_msg(x, p, NULL, &h, &m);
}

/* ---- forwarding -------------------------------------------------------------------- */

/* Put header h and the octets after the incoming header (body) out on port p to dst. */
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
    emit(x, p, dst, o, bac_pos(&w));
    x->r->stats.forwarded++;
    return true;
}

/* A global broadcast goes out of every port but the one it came in on, DNET kept. */
static void flood(rx_t *x, const bac_npdu_t *h, const uint8_t *body, size_t len)
{
    for (unsigned p = 0; p < x->r->nports; p++)
        if (p != x->k)
            put_out(x, p, NULL, h, body, len);
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

        /* Look for it for next time; this one is refused (there is no queue). */
        for (unsigned q = 0; q < x->r->nports; q++)
            if (x->own || q != x->k)
                send_msg(x, q, NULL, &wh, &m);
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
    size_t n = reachable(x->r, x->k, m->has_dnet ? m->dnet : 0, list, sizeof list);
    bool known = !m->has_dnet || net_router_port_of(x->r, m->dnet) >= 0 ||
                 find_route(x->r, m->dnet);

    if (n) {
        i_am_router(x, x->k, list, n);
        return;
    }
    if (known)
        return; /* reachable only through the asker's own network: not through us */
    /* Unknown: ask the other networks on the requester's behalf (clause 6.6.3.2). */
    bac_npdu_t fh = *h;
    if (!fh.has_snet && x->r->ports[x->k].net && x->src->len && x->src->len <= BAC_MAC_MAX) {
        fh.has_snet = true;
        fh.snet = x->r->ports[x->k].net;
        to_bac_mac(&fh.sadr, x->src);
    }
    fh.has_dnet = false;
    for (unsigned p = 0; p < x->r->nports; p++)
        if (p != x->k)
            put_out(x, p, NULL, &fh, body, len);
}

/* Learn from I-Am-Router; tell the other networks only what changed, so that two
 * routers on a loop of networks stop telling each other. */
static void on_i_am_router(rx_t *x, const net_msg_t *m)
{
    uint8_t list[NET_NPDU_MAX - 8u];
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
    for (unsigned p = 0; p < x->r->nports; p++)
        if (p != x->k)
            i_am_router(x, p, list, n);
}

/* Busy/Available: mark the routes through the sender (all of them when the list is
 * empty) and pass on what changed. */
static void on_busy(rx_t *x, const net_msg_t *m, bool busy)
{
    uint8_t list[2u * NET_MAX_ROUTES];
    size_t n = 0;

    for (unsigned i = 0; i < x->r->nroutes; i++) {
        net_route_t *rt = &x->r->routes[i];
        bool listed = m->count == 0;

        for (uint16_t j = 0; j < m->count && !listed; j++)
            listed = net_msg_dnet(m, j) == rt->dnet;
        if (!listed || rt->port != x->k || rt->next_hop.len != x->src->len ||
            memcmp(rt->next_hop.mac, x->src->mac, x->src->len) || rt->busy == busy)
            continue;
        rt->busy = busy;
        list[n++] = (uint8_t)(rt->dnet >> 8);
        list[n++] = (uint8_t)rt->dnet;
    }
    if (n == 0)
        return;
    for (unsigned p = 0; p < x->r->nports; p++) {
        bac_npdu_t h = {0};
        net_msg_t o = {.type = m->type, .list = list, .list_len = n, .count = (uint16_t)(n / 2u)};

        if (p != x->k)
            send_msg(x, p, NULL, &h, &o);
    }
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
    for (unsigned i = 0; i < x->r->nports + x->r->nroutes && count < 255u && n + 4u <= sizeof list;
         i++) {
        uint16_t net = i < x->r->nports ? x->r->ports[i].net : x->r->routes[i - x->r->nports].dnet;
        unsigned port = i < x->r->nports ? i : x->r->routes[i - x->r->nports].port;

        if (net == 0)
            continue;
        list[n++] = (uint8_t)(net >> 8);
        list[n++] = (uint8_t)net;
        list[n++] = (uint8_t)(port + 1u); /* port ids start at 1: 0 means purge */
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
        in->net = m->dnet;
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
