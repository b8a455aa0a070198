/*
 * BACnet/IP, Annex J: Original-Unicast and Original-Broadcast NPDUs in and out,
 * Forwarded-NPDUs up from their originator. A plain node NAKs the BBMD functions
 * (J.2); with a bip_bbmd_t it is a BBMD (J.4.5 broadcast distribution, J.5.2 the
 * foreign device table); after bip_register_foreign, a foreign device (J.5.2.1).
 */
#include "bip.h"

#include <string.h>

_Static_assert(BIP_BBMD_BUF <= 0xFFFFu, "a BVLC length is 16 bits");
_Static_assert(BIP_MAX_DATAGRAM <= BIP_BBMD_FWD_MAX, "a BBMD forwards all we send");

/* Where distribute() sends a Forwarded-NPDU. */
enum { TO_LOCAL = 1, TO_PEERS = 2, TO_FDS = 4 };

static bool same(const bip_addr_t *a, const bip_addr_t *b)
{
    return !memcmp(a->octets, b->octets, sizeof a->octets);
}

/* Wrap-safe "now is at or past t". */
static bool reached(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

/* BVLC-Result codes: the NAK for each BBMD function a plain node does not serve. */
static uint16_t nak_code(uint8_t func)
{
    switch (func) {
    case BIP_WRITE_BDT: return BIP_NAK_WRITE_BDT;
    case BIP_READ_BDT: return BIP_NAK_READ_BDT;
    case BIP_REGISTER_FD: return BIP_NAK_REGISTER_FD;
    case BIP_READ_FDT: return BIP_NAK_READ_FDT;
    case BIP_DELETE_FDT_ENTRY: return BIP_NAK_DELETE_FDT;
    case BIP_DISTRIBUTE_BROADCAST: return BIP_NAK_DISTRIBUTE;
    }
    return 0;
}

void bip_init(bip_t *b, const bip_port_t *port, const bip_addr_t *self,
              const bip_addr_t *broadcast, const net_upper_t *up)
{
    memset(b, 0, sizeof *b);
    b->port = *port;
    b->self = *self;
    b->broadcast = *broadcast;
    if (up)
        b->up = *up;
}

static int out(bip_t *b, const bip_addr_t *to, const uint8_t *p, size_t len)
{
    int rc = b->port.send(b->port.ctx, to, p, len);
    if (rc < 0)
        b->send_errors++;
    else
        b->tx++;
    return rc;
}

static void put_header(uint8_t *p, uint8_t func, size_t len)
{
    p[0] = BIP_BVLC_TYPE;
    p[1] = func;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void send_result(bip_t *b, const bip_addr_t *to, uint16_t code)
{
    put_header(b->txbuf, BIP_RESULT, 6);
    put_u16(b->txbuf + 4, code);
    if (code)
        b->nak_tx++;
    out(b, to, b->txbuf, 6);
}

/* ---- the BBMD's tables ----------------------------------------------------------- */

static int bdt_find(const bip_bbmd_t *m, const bip_addr_t *a)
{
    for (int i = 0; i < m->bdt_n; i++)
        if (same(&m->bdt[i].addr, a))
            return i;
    return -1;
}

static int fdt_find(const bip_bbmd_t *m, const bip_addr_t *a)
{
    for (int i = 0; i < m->fdt_n; i++)
        if (same(&m->fdt[i].addr, a))
            return i;
    return -1;
}

/* Shift the rest down: the order stays as registered, as the Network_Port shows it. */
static void fdt_remove(bip_bbmd_t *m, int i)
{
    memmove(&m->fdt[i], &m->fdt[i + 1], (size_t)(m->fdt_n - i - 1) * sizeof m->fdt[0]);
    m->fdt_n--;
}

static uint16_t fdt_remaining(const bip_bbmd_t *m, int i, uint32_t now)
{
    int32_t left = (int32_t)(m->fdt[i].expires_s - now);
    return left <= 0 ? 0 : left > 0xFFFF ? 0xFFFF : (uint16_t)left;
}

/* A peer's address with the inverted mask ORed in: itself (two-hop) or its subnet's
 * directed broadcast (one-hop), J.4.5. */
static bip_addr_t bdt_target(const bip_bdt_entry_t *e)
{
    bip_addr_t to = e->addr;
    for (int k = 0; k < 4; k++)
        to.octets[k] |= (uint8_t)~e->mask[k];
    return to;
}

/* A Forwarded-NPDU from a peer was unicast to us alone, and so is ours to broadcast,
 * unless our own entry's mask says the peers reach our subnet by directed broadcast
 * (J.4.5: all BDTs are the same, so our entry tells how they send to us). */
static bool arrives_two_hop(const bip_t *b)
{
    int own = bdt_find(b->bbmd, &b->self);
    if (own < 0)
        return true;
    static const uint8_t ones[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    return !memcmp(b->bbmd->bdt[own].mask, ones, 4);
}

static void forward(bip_t *b, const bip_addr_t *to, size_t len)
{
    b->bbmd->forwarded++;
    out(b, to, b->bbmd->buf, len);
}

/* One broadcast, as a Forwarded-NPDU naming origin, wherever `where` says; never back
 * to the originator, nor to ourselves. False if the NPDU is too big to forward. */
static bool distribute(bip_t *b, const bip_addr_t *origin, const uint8_t *npdu, size_t len,
                       unsigned where)
{
    bip_bbmd_t *m = b->bbmd;
    if (len > BIP_BBMD_MAX_NPDU) {
        m->too_long++;
        return false;
    }
    put_header(m->buf, BIP_FORWARDED_NPDU, len + 10);
    memcpy(m->buf + 4, origin->octets, 6);
    memcpy(m->buf + 10, npdu, len);
    if (where & TO_LOCAL)
        forward(b, &b->broadcast, len + 10);
    for (int i = 0; (where & TO_PEERS) && i < m->bdt_n; i++) {
        if (same(&m->bdt[i].addr, &b->self) || same(&m->bdt[i].addr, origin))
            continue;
        bip_addr_t to = bdt_target(&m->bdt[i]);
        forward(b, &to, len + 10);
    }
    for (int i = 0; (where & TO_FDS) && i < m->fdt_n; i++)
        if (!same(&m->fdt[i].addr, origin) && !same(&m->fdt[i].addr, &b->self))
            forward(b, &m->fdt[i].addr, len + 10);
    return true;
}

/* ---- sending --------------------------------------------------------------------- */

/* npdu may already sit at txbuf + 4 (the answer of the layer above). */
static int send_unicast(bip_t *b, const bip_addr_t *to, const uint8_t *npdu, size_t len)
{
    memmove(b->txbuf + 4, npdu, len);
    put_header(b->txbuf, BIP_ORIGINAL_UNICAST, len + 4);
    return out(b, to, b->txbuf, len + 4);
}

static int send_broadcast(bip_t *b, const uint8_t *npdu, size_t len)
{
    memmove(b->txbuf + 4, npdu, len);
    if (b->fd.state != BIP_FD_NONE) {
        put_header(b->txbuf, BIP_DISTRIBUTE_BROADCAST, len + 4);
        return out(b, &b->fd.bbmd, b->txbuf, len + 4);
    }
    put_header(b->txbuf, BIP_ORIGINAL_BROADCAST, len + 4);
    int rc = out(b, &b->broadcast, b->txbuf, len + 4);
    if (b->bbmd)
        distribute(b, &b->self, b->txbuf + 4, len, TO_PEERS | TO_FDS);
    return rc;
}

int bip_send(bip_t *b, const bip_addr_t *to, const uint8_t *npdu, size_t len)
{
    if (len > BIP_MAX_NPDU)
        return -1;
    return to ? send_unicast(b, to, npdu, len) : send_broadcast(b, npdu, len);
}

static int link_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    bip_addr_t to;
    if (!dst || dst->len == 0)
        return bip_send(ctx, NULL, npdu, len);
    if (dst->len != sizeof to.octets)
        return -1;
    memcpy(to.octets, dst->mac, sizeof to.octets);
    return bip_send(ctx, &to, npdu, len);
}

net_link_t bip_link(bip_t *b)
{
    return (net_link_t){.ctx = b, .send = link_send, .max_npdu = BIP_MAX_NPDU};
}

/* ---- receiving ------------------------------------------------------------------- */

/* Up from src; a unicast answer goes back to src (a Forwarded-NPDU's originator, not
 * the BBMD), a broadcast one as our own broadcasts do. */
static void deliver(bip_t *b, const bip_addr_t *src, bool bcast, const uint8_t *npdu,
                    size_t len)
{
    if (!b->up.receive)
        return;
    net_addr_t a = {.len = sizeof src->octets};
    memcpy(a.mac, src->octets, sizeof src->octets);
    bool reply_bcast = false;
    size_t n = b->up.receive(b->up.ctx, &a, bcast, npdu, len, b->txbuf + 4, BIP_MAX_NPDU,
                             &reply_bcast);
    if (n == 0 || n > BIP_MAX_NPDU)
        return;
    if (reply_bcast)
        send_broadcast(b, b->txbuf + 4, n);
    else
        send_unicast(b, src, b->txbuf + 4, n);
}

static void on_original_broadcast(bip_t *b, const bip_addr_t *from, const uint8_t *npdu,
                                  size_t len)
{
    if (same(from, &b->self)) {
        b->dropped++; /* our own broadcast, looped back */
        return;
    }
    if (b->bbmd)
        distribute(b, from, npdu, len, TO_PEERS | TO_FDS);
    deliver(b, from, true, npdu, len);
}

static void on_forwarded(bip_t *b, const bip_addr_t *from, const uint8_t *body, size_t len)
{
    bip_addr_t origin;
    if (len < 6) {
        b->dropped++;
        return;
    }
    memcpy(origin.octets, body, 6);
    /* Our own local re-broadcast, or our own broadcast come back round: once is all. */
    if (same(from, &b->self) || same(&origin, &b->self)) {
        b->dropped++;
        return;
    }
    /* Only a peer's is ours to pass on (J.4.5); from anyone else it just goes up. */
    if (b->bbmd && bdt_find(b->bbmd, from) >= 0)
        distribute(b, &origin, body + 6, len - 6,
                   TO_FDS | (arrives_two_hop(b) ? TO_LOCAL : 0));
    deliver(b, &origin, true, body + 6, len - 6);
}

static void on_distribute(bip_t *b, const bip_addr_t *from, const uint8_t *npdu, size_t len)
{
    /* Only a registered foreign device may have us broadcast for it (J.4.5). */
    if (!b->bbmd || fdt_find(b->bbmd, from) < 0 ||
        !distribute(b, from, npdu, len, TO_LOCAL | TO_PEERS | TO_FDS)) {
        send_result(b, from, BIP_NAK_DISTRIBUTE);
        return;
    }
    deliver(b, from, true, npdu, len);
}

static void on_write_bdt(bip_t *b, const bip_addr_t *from, const uint8_t *p, size_t len)
{
    bip_bbmd_t *m = b->bbmd;
    if (!m->accept_write_bdt || len % 10 || len / 10 > BIP_BDT_MAX) {
        send_result(b, from, BIP_NAK_WRITE_BDT);
        return;
    }
    m->bdt_n = (uint16_t)(len / 10);
    for (int i = 0; i < m->bdt_n; i++, p += 10) {
        memcpy(m->bdt[i].addr.octets, p, 6);
        memcpy(m->bdt[i].mask, p + 6, 4);
    }
    m->bdt_writes++;
    send_result(b, from, BIP_RESULT_OK);
}

static void send_read_bdt_ack(bip_t *b, const bip_addr_t *to)
{
    bip_bbmd_t *m = b->bbmd;
    size_t n = 4;
    for (int i = 0; i < m->bdt_n; i++, n += 10) {
        memcpy(m->buf + n, m->bdt[i].addr.octets, 6);
        memcpy(m->buf + n + 6, m->bdt[i].mask, 4);
    }
    put_header(m->buf, BIP_READ_BDT_ACK, n);
    out(b, to, m->buf, n);
}

static void on_register(bip_t *b, const bip_addr_t *from, const uint8_t *p, size_t len)
{
    bip_bbmd_t *m = b->bbmd;
    int i = fdt_find(m, from);
    if (len != 2 || !m->accept_fd || (i < 0 && m->fdt_n >= BIP_FDT_MAX)) {
        m->refused++;
        send_result(b, from, BIP_NAK_REGISTER_FD);
        return;
    }
    if (i < 0) {
        i = m->fdt_n++;
        m->fdt[i].addr = *from;
    }
    /* J.5.2.3: a renewal restarts the timer; the grace covers a renewal in flight. */
    m->fdt[i].ttl_s = get_u16(p);
    m->fdt[i].expires_s = b->now_s + m->fdt[i].ttl_s + BIP_FDT_GRACE_S;
    m->registrations++;
    send_result(b, from, BIP_RESULT_OK);
}

static void send_read_fdt_ack(bip_t *b, const bip_addr_t *to)
{
    bip_bbmd_t *m = b->bbmd;
    size_t n = 4;
    for (int i = 0; i < m->fdt_n; i++, n += 10) {
        memcpy(m->buf + n, m->fdt[i].addr.octets, 6);
        put_u16(m->buf + n + 6, m->fdt[i].ttl_s);
        put_u16(m->buf + n + 8, fdt_remaining(m, i, b->now_s));
    }
    put_header(m->buf, BIP_READ_FDT_ACK, n);
    out(b, to, m->buf, n);
}

static void on_delete_fdt(bip_t *b, const bip_addr_t *from, const uint8_t *p, size_t len)
{
    bip_addr_t a;
    int i = -1;
    if (len == 6) {
        memcpy(a.octets, p, 6);
        i = fdt_find(b->bbmd, &a);
    }
    if (i < 0) {
        send_result(b, from, BIP_NAK_DELETE_FDT);
        return;
    }
    fdt_remove(b->bbmd, i);
    b->bbmd->deleted++;
    send_result(b, from, BIP_RESULT_OK);
}

/* The BBMD functions: a plain node NAKs each; a BBMD serves them. A request with
 * octets its function does not have is refused with the function's NAK. */
static void on_bbmd_function(bip_t *b, const bip_addr_t *from, uint8_t func,
                             const uint8_t *p, size_t len)
{
    if (!b->bbmd) {
        send_result(b, from, nak_code(func));
        return;
    }
    switch (func) {
    case BIP_WRITE_BDT: on_write_bdt(b, from, p, len); break;
    case BIP_READ_BDT:
        if (len)
            send_result(b, from, BIP_NAK_READ_BDT);
        else
            send_read_bdt_ack(b, from);
        break;
    case BIP_REGISTER_FD: on_register(b, from, p, len); break;
    case BIP_READ_FDT:
        if (len)
            send_result(b, from, BIP_NAK_READ_FDT);
        else
            send_read_fdt_ack(b, from);
        break;
    case BIP_DELETE_FDT_ENTRY: on_delete_fdt(b, from, p, len); break;
    }
}

static uint32_t fd_interval(const bip_t *b)
{
    return b->fd.ttl_s / 2u ? b->fd.ttl_s / 2u : 1u;
}

static uint32_t fd_retry(const bip_t *b)
{
    return BIP_FD_RETRY_S < fd_interval(b) ? BIP_FD_RETRY_S : fd_interval(b);
}

static void fd_register(bip_t *b)
{
    put_header(b->txbuf, BIP_REGISTER_FD, 6);
    put_u16(b->txbuf + 4, b->fd.ttl_s);
    b->fd_register_tx++;
    b->fd.next_s = b->now_s + fd_retry(b); /* unless an ack says otherwise */
    out(b, &b->fd.bbmd, b->txbuf, 6);
}

/* A BVLC-Result matters only to a foreign device, and only from its BBMD: a foreign
 * device sends it nothing else a Result answers. */
static void on_result(bip_t *b, const bip_addr_t *from, const uint8_t *p, size_t len)
{
    if (len != 2 || b->fd.state == BIP_FD_NONE || !same(from, &b->fd.bbmd)) {
        b->dropped++;
        return;
    }
    uint16_t code = get_u16(p);
    if (code)
        b->nak_rx++;
    if (code == BIP_RESULT_OK) {
        b->fd.state = BIP_FD_REGISTERED;
        b->fd.until_s = b->now_s + b->fd.ttl_s;
        b->fd.next_s = b->now_s + fd_interval(b);
    } else if (code == BIP_NAK_REGISTER_FD) {
        b->fd.state = BIP_FD_REFUSED;
    } else if (code == BIP_NAK_DISTRIBUTE && b->fd.state == BIP_FD_REGISTERED) {
        /* The BBMD has lost us (restarted?): register again at the next tick. */
        b->fd.state = BIP_FD_PENDING;
        b->fd.next_s = b->now_s;
    }
}

void bip_receive(bip_t *b, const bip_addr_t *from, const uint8_t *data, size_t len)
{
    b->rx++;
    /* The BVLL length must be the datagram's: never trust one without the other. */
    if (len < 4 || data[0] != BIP_BVLC_TYPE || (size_t)(data[2] << 8 | data[3]) != len) {
        b->dropped++;
        return;
    }
    uint8_t func = data[1];
    const uint8_t *body = data + 4;
    size_t n = len - 4;
    switch (func) {
    case BIP_ORIGINAL_UNICAST: deliver(b, from, false, body, n); break;
    case BIP_ORIGINAL_BROADCAST: on_original_broadcast(b, from, body, n); break;
    case BIP_FORWARDED_NPDU: on_forwarded(b, from, body, n); break;
    case BIP_DISTRIBUTE_BROADCAST: on_distribute(b, from, body, n); break;
    case BIP_RESULT: on_result(b, from, body, n); break;
    case BIP_WRITE_BDT:
    case BIP_READ_BDT:
    case BIP_REGISTER_FD:
    case BIP_READ_FDT:
    case BIP_DELETE_FDT_ENTRY: on_bbmd_function(b, from, func, body, n); break;
    default: b->dropped++; /* acks, Secure-BVLL, unknown functions: nothing to answer */
    }
}

/* ---- time and configuration ------------------------------------------------------ */

void bip_tick(bip_t *b, uint32_t now_s)
{
    b->now_s = now_s;
    bip_bbmd_t *m = b->bbmd;
    for (int i = 0; m && i < m->fdt_n;) {
        if (reached(now_s, m->fdt[i].expires_s)) {
            fdt_remove(m, i);
            m->expired++;
        } else {
            i++;
        }
    }
    if (b->fd.state == BIP_FD_NONE)
        return;
    if (b->fd.state == BIP_FD_REGISTERED && reached(now_s, b->fd.until_s))
        b->fd.state = BIP_FD_PENDING; /* no ack renewed it in time */
    if (reached(now_s, b->fd.next_s))
        fd_register(b);
}

void bip_bbmd_init(bip_bbmd_t *m)
{
    memset(m, 0, sizeof *m);
    m->accept_fd = true;
}

int bip_bbmd_attach(bip_t *b, bip_bbmd_t *m)
{
    if (m && b->fd.state != BIP_FD_NONE)
        return -1;
    b->bbmd = m;
    return 0;
}

int bip_bdt_add(bip_bbmd_t *m, const bip_addr_t *addr, const uint8_t mask[4])
{
    int i = bdt_find(m, addr);
    if (i < 0) {
        if (m->bdt_n >= BIP_BDT_MAX)
            return -1;
        i = m->bdt_n++;
        m->bdt[i].addr = *addr;
    }
    memcpy(m->bdt[i].mask, mask, 4);
    return 0;
}

void bip_bdt_clear(bip_bbmd_t *m)
{
    m->bdt_n = 0;
}

bool bip_bdt_get(const bip_t *b, size_t i, bip_bdt_entry_t *out_entry)
{
    if (!b->bbmd || i >= b->bbmd->bdt_n)
        return false;
    *out_entry = b->bbmd->bdt[i];
    return true;
}

bool bip_fdt_get(const bip_t *b, size_t i, bip_fdt_row_t *row)
{
    if (!b->bbmd || i >= b->bbmd->fdt_n)
        return false;
    row->addr = b->bbmd->fdt[i].addr;
    row->ttl_s = b->bbmd->fdt[i].ttl_s;
    row->remaining_s = fdt_remaining(b->bbmd, (int)i, b->now_s);
    return true;
}

int bip_register_foreign(bip_t *b, const bip_addr_t *bbmd, uint16_t ttl_s)
{
    if (!bbmd) {
        b->fd.state = BIP_FD_NONE;
        return 0;
    }
    if (b->bbmd || ttl_s == 0)
        return -1;
    b->fd.bbmd = *bbmd;
    b->fd.ttl_s = ttl_s;
    b->fd.state = BIP_FD_PENDING;
    fd_register(b);
    return 0;
}

bip_fd_state_t bip_foreign_state(const bip_t *b)
{
    return (bip_fd_state_t)b->fd.state;
}

bool bip_addr_parse(const char *ip, uint16_t port, bip_addr_t *a)
{
    unsigned part = 0, val = 0, digits = 0;
    for (const char *p = ip;; p++) {
        if (*p >= '0' && *p <= '9') {
            val = val * 10 + (unsigned)(*p - '0');
            if (++digits > 3 || val > 255)
                return false;
        } else if ((*p == '.' || *p == '\0') && digits) {
            if (part > 3)
                return false;
            a->octets[part++] = (uint8_t)val;
            val = digits = 0;
            if (*p == '\0')
                break;
        } else {
            return false;
        }
    }
    if (part != 4)
        return false;
    a->octets[4] = (uint8_t)(port >> 8);
    a->octets[5] = (uint8_t)port;
    return true;
}
