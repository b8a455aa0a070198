/*
 * Network-layer message bodies (ASHRAE 135 clause 6.4). The header is bac.h's codec;
 * lists are left on the wire as views (see net.h).
 */
#include <string.h>

#include "net/net_router.h"

static bool dnet_list(uint8_t type)
{
    return type == NET_MSG_I_AM_ROUTER || type == NET_MSG_ROUTER_BUSY ||
           type == NET_MSG_ROUTER_AVAILABLE;
}

/* Count the routing-table entries in p[0..n) and check they end exactly at n. */
static bool rt_walk(const uint8_t *p, size_t n, uint8_t count)
{
    size_t off = 0;

    for (unsigned i = 0; i < count; i++) {
        if (n - off < 4u || n - off - 4u < p[off + 3])
            return false;
        off += 4u + p[off + 3];
    }
    return off == n;
}

static int fixed(bac_buf_t *b, net_msg_t *m, size_t need)
{
    uint8_t o[3] = {0};

    if (bac_left(b) != need)
        return bac_fail(b, bac_left(b) < need ? BAC_E_TRUNCATED : BAC_E_LENGTH);
    bac_get_bytes(b, o, need);
    switch (m->type) {
    case NET_MSG_I_COULD_BE_ROUTER:
        m->perf = o[2];
        /* fall through */
    case NET_MSG_DISCONNECT:
    case NET_MSG_WHO_IS_ROUTER:
        m->has_dnet = true;
        m->dnet = (uint16_t)(o[0] << 8 | o[1]);
        break;
    case NET_MSG_ESTABLISH:
        m->dnet = (uint16_t)(o[0] << 8 | o[1]);
        m->term_time = o[2];
        break;
    case NET_MSG_REJECT:
        m->reason = o[0];
        m->dnet = (uint16_t)(o[1] << 8 | o[2]);
        break;
    case NET_MSG_NETWORK_NUMBER_IS:
        m->dnet = (uint16_t)(o[0] << 8 | o[1]);
        m->flag = o[2];
        if (o[2] > 1)
            return bac_fail(b, BAC_E_VALUE);
        break;
    default:
        break;
    }
    return b->err;
}

static int body(bac_buf_t *b, net_msg_t *m)
{
    const uint8_t *rest = b->rd + b->pos;
    size_t n = bac_left(b);

    switch (m->type) {
    case NET_MSG_WHO_IS_ROUTER:
        return n == 0 ? 0 : fixed(b, m, 2);
    case NET_MSG_I_COULD_BE_ROUTER:
    case NET_MSG_REJECT:
    case NET_MSG_ESTABLISH:
    case NET_MSG_NETWORK_NUMBER_IS:
        return fixed(b, m, 3);
    case NET_MSG_DISCONNECT:
        return fixed(b, m, 2);
    case NET_MSG_WHAT_IS_NETWORK_NUMBER:
        return n == 0 ? 0 : bac_fail(b, BAC_E_LENGTH);
    case NET_MSG_INIT_RT:
    case NET_MSG_INIT_RT_ACK:
        /* The Ack to an update carries no data at all. */
        if (n == 0 && m->type == NET_MSG_INIT_RT_ACK)
            return 0;
        if (n == 0)
            return bac_fail(b, BAC_E_TRUNCATED);
        if (!rt_walk(rest + 1, n - 1, rest[0]))
            return bac_fail(b, BAC_E_LENGTH);
        m->count = rest[0];
        m->list = rest + 1;
        m->list_len = n - 1;
        return bac_skip(b, n);
    default:
        if (dnet_list(m->type)) {
            /* I-Am-Router needs at least one network; Busy/Available may be empty
             * (all networks of that router). */
            if (n % 2u || (n == 0 && m->type == NET_MSG_I_AM_ROUTER) || n / 2u > 0xFFFFu)
                return bac_fail(b, BAC_E_LENGTH);
            m->count = (uint16_t)(n / 2u);
        }
        m->list = n ? rest : NULL;
        m->list_len = n;
        return bac_skip(b, n);
    }
}

int net_msg_decode(bac_buf_t *b, uint8_t type, uint16_t vendor_id, net_msg_t *out)
{
    net_msg_t m;
    const size_t start = b->pos;

    if (b->err)
        return b->err;
    if (!b->rd)
        return bac_fail(b, BAC_E_ARG);
    memset(&m, 0, sizeof m);
    m.type = type;
    m.vendor_id = type >= NET_MSG_PROPRIETARY ? vendor_id : 0;
    if (body(b, &m) < 0) {
        b->pos = start;
        return b->err;
    }
    *out = m;
    return (int)(b->pos - start);
}

int net_msg_encode(bac_buf_t *b, const bac_npdu_t *hdr, const net_msg_t *m)
{
    bac_npdu_t h = *hdr;
    const size_t start = b->pos;

    if (b->err)
        return b->err;
    h.network_msg = true;
    h.msg_type = m->type;
    h.vendor_id = m->vendor_id;
    bac_npdu_encode(b, &h);
    switch (m->type) {
    case NET_MSG_WHO_IS_ROUTER:
    case NET_MSG_DISCONNECT:
        if (m->has_dnet || m->type == NET_MSG_DISCONNECT)
            bac_put_u16(b, m->dnet);
        break;
    case NET_MSG_I_COULD_BE_ROUTER:
        bac_put_u16(b, m->dnet);
        bac_put_u8(b, m->perf);
        break;
    case NET_MSG_ESTABLISH:
        bac_put_u16(b, m->dnet);
        bac_put_u8(b, m->term_time);
        break;
    case NET_MSG_REJECT:
        bac_put_u8(b, m->reason);
        bac_put_u16(b, m->dnet);
        break;
    case NET_MSG_NETWORK_NUMBER_IS:
        bac_put_u16(b, m->dnet);
        bac_put_u8(b, m->flag);
        break;
    case NET_MSG_INIT_RT:
    case NET_MSG_INIT_RT_ACK:
        if (m->count > 0xFFu)
            return bac_fail(b, BAC_E_RANGE);
        if (m->type == NET_MSG_INIT_RT || m->list_len || m->count)
            bac_put_u8(b, (uint8_t)m->count);
        /* fall through */
    default:
        if (m->list_len)
            bac_put_bytes(b, m->list, m->list_len);
        break;
    }
    if (b->err) {
        b->pos = start;
        return b->err;
    }
    return (int)(b->pos - start);
}

uint16_t net_msg_dnet(const net_msg_t *m, uint16_t i)
{
    if (!m->list || (size_t)i * 2u + 2u > m->list_len)
        return 0;
    return (uint16_t)(m->list[2u * i] << 8 | m->list[2u * i + 1u]);
}

bool net_msg_rt_next(const net_msg_t *m, size_t *off, net_rt_entry_t *e)
{
    size_t o = *off;

    if (!m->list || o + 4u > m->list_len || o + 4u + m->list[o + 3u] > m->list_len)
        return false;
    e->dnet = (uint16_t)(m->list[o] << 8 | m->list[o + 1u]);
    e->port_id = m->list[o + 2u];
    e->info_len = m->list[o + 3u];
    e->info = m->list + o + 4u;
    *off = o + 4u + e->info_len;
    return true;
}
