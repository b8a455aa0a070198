/*
 * BACnet/IP, Annex J, for a node that is not a BBMD: Original-Unicast and
 * Original-Broadcast NPDUs in and out, Forwarded-NPDUs answered to their originator,
 * and a BVLC-Result NAK for the BBMD functions (J.2).
 */
#include "bip.h"

#include <string.h>

/* BVLC-Result codes: the NAK for each BBMD function we do not serve. */
static uint16_t nak_code(uint8_t func)
{
    switch (func) {
    case BIP_WRITE_BDT: return 0x0010;
    case BIP_READ_BDT: return 0x0020;
    case BIP_REGISTER_FD: return 0x0030;
    case BIP_READ_FDT: return 0x0040;
    case BIP_DELETE_FDT_ENTRY: return 0x0050;
    case BIP_DISTRIBUTE_BROADCAST: return 0x0060;
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

static int out(bip_t *b, const bip_addr_t *to, size_t len)
{
    int rc = b->port.send(b->port.ctx, to, b->txbuf, len);
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

static void send_nak(bip_t *b, const bip_addr_t *to, uint16_t code)
{
    put_header(b->txbuf, BIP_RESULT, 6);
    b->txbuf[4] = (uint8_t)(code >> 8);
    b->txbuf[5] = (uint8_t)code;
    out(b, to, 6);
}

int bip_send(bip_t *b, const bip_addr_t *to, const uint8_t *npdu, size_t len)
{
    if (len > BIP_MAX_NPDU)
        return -1;
    bool bcast = to == NULL;
    put_header(b->txbuf, bcast ? BIP_ORIGINAL_BROADCAST : BIP_ORIGINAL_UNICAST, len + 4);
    memcpy(b->txbuf + 4, npdu, len);
    return out(b, bcast ? &b->broadcast : to, len + 4);
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

void bip_receive(bip_t *b, const bip_addr_t *from, const uint8_t *data, size_t len)
{
    b->rx++;
    /* The BVLL length must be the datagram's: never trust one without the other. */
    if (len < 4 || data[0] != BIP_BVLC_TYPE || (size_t)(data[2] << 8 | data[3]) != len) {
        b->dropped++;
        return;
    }
    uint8_t func = data[1];
    const bip_addr_t *reply_to = from;
    bip_addr_t origin;
    size_t off = 4;
    bool bcast;
    switch (func) {
    case BIP_ORIGINAL_UNICAST:
        bcast = false;
        break;
    case BIP_ORIGINAL_BROADCAST:
        if (!memcmp(from, &b->self, sizeof *from)) {
            b->dropped++; /* our own broadcast, looped back */
            return;
        }
        bcast = true;
        break;
    case BIP_FORWARDED_NPDU:
        if (len < 10) {
            b->dropped++;
            return;
        }
        /* A broadcast a BBMD forwarded: answer its originator, not the BBMD. */
        memcpy(origin.octets, data + 4, 6);
        reply_to = &origin;
        off = 10;
        bcast = true;
        break;
    default:
        if (nak_code(func))
            send_nak(b, from, nak_code(func));
        else
            b->dropped++; /* results, acks, unknown functions: nothing to answer */
        return;
    }
    if (!b->up.receive)
        return;
    net_addr_t src = {.len = sizeof reply_to->octets};
    memcpy(src.mac, reply_to->octets, sizeof reply_to->octets);
    bool reply_bcast = false;
    size_t n = b->up.receive(b->up.ctx, &src, bcast, data + off, len - off, b->txbuf + 4,
                             BIP_MAX_NPDU, &reply_bcast);
    if (n == 0 || n > BIP_MAX_NPDU)
        return;
    put_header(b->txbuf, reply_bcast ? BIP_ORIGINAL_BROADCAST : BIP_ORIGINAL_UNICAST, n + 4);
    out(b, reply_bcast ? &b->broadcast : reply_to, n + 4);
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
