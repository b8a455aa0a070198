/*
 * Protocol headers: the NPDU (clause 6.2) and the APDU headers (clause 20.1).
 *
 * Headers are small and fixed in layout, so encoders build them in a local array and
 * write it in one call, and decoders read into a local struct that reaches the
 * caller only when the whole header decoded.
 */
#include "bac.h"

#include <string.h>

/* A multi-step call ends here: on an error the cursor goes back to where the call
 * started (the error stays), so every call is all-or-nothing for its caller. */
static int finish(bac_buf_t *b, size_t start)
{
    if (b->err) {
        b->pos = start;
        return b->err;
    }
    return (int)(b->pos - start);
}

/* ---- NPDU ------------------------------------------------------------------------- */

#define NPDU_NETWORK_MSG 0x80u
#define NPDU_DNET 0x20u
#define NPDU_SNET 0x08u
#define NPDU_EXPECTING_REPLY 0x04u
#define NPDU_PRIORITY 0x03u

int bac_npdu_encode(bac_buf_t *b, const bac_npdu_t *n)
{
    uint8_t o[2 + 3 + BAC_MAC_MAX + 3 + BAC_MAC_MAX + 1 + 3];
    size_t k = 0;
    uint8_t ctl = n->priority;

    if (b->err)
        return b->err;
    if (n->priority > NPDU_PRIORITY || n->dadr.len > BAC_MAC_MAX ||
        (n->has_snet && (n->sadr.len == 0 || n->sadr.len > BAC_MAC_MAX ||
                         n->snet == BAC_NET_BROADCAST)))
        return bac_fail(b, BAC_E_RANGE);
    if (n->network_msg)
        ctl |= NPDU_NETWORK_MSG;
    if (n->has_dnet)
        ctl |= NPDU_DNET;
    if (n->has_snet)
        ctl |= NPDU_SNET;
    if (n->expecting_reply)
        ctl |= NPDU_EXPECTING_REPLY;
    o[k++] = BAC_NPDU_VERSION;
    o[k++] = ctl;
    if (n->has_dnet) {
        o[k++] = (uint8_t)(n->dnet >> 8);
        o[k++] = (uint8_t)n->dnet;
        o[k++] = n->dadr.len;
        memcpy(o + k, n->dadr.addr, n->dadr.len);
        k += n->dadr.len;
    }
    if (n->has_snet) {
        o[k++] = (uint8_t)(n->snet >> 8);
        o[k++] = (uint8_t)n->snet;
        o[k++] = n->sadr.len;
        memcpy(o + k, n->sadr.addr, n->sadr.len);
        k += n->sadr.len;
    }
    if (n->has_dnet)
        o[k++] = n->hop_count;
    if (n->network_msg) {
        o[k++] = n->msg_type;
        if (n->msg_type >= 0x80) {
            o[k++] = (uint8_t)(n->vendor_id >> 8);
            o[k++] = (uint8_t)n->vendor_id;
        }
    }
    return bac_put_bytes(b, o, k);
}

static void get_mac(bac_buf_t *b, bac_mac_t *m)
{
    if (bac_get_u8(b, &m->len) < 0)
        return;
    if (m->len > BAC_MAC_MAX) {
        bac_fail(b, BAC_E_RANGE);
        return;
    }
    bac_get_bytes(b, m->addr, m->len);
}

int bac_npdu_decode(bac_buf_t *b, bac_npdu_t *out)
{
    bac_npdu_t n;
    uint8_t ver = 0, ctl = 0;
    const size_t start = b->pos;

    if (b->err)
        return b->err;
    memset(&n, 0, sizeof n);
    bac_get_u8(b, &ver);
    if (!b->err && ver != BAC_NPDU_VERSION)
        bac_fail(b, BAC_E_VALUE);
    bac_get_u8(b, &ctl);
    n.network_msg = (ctl & NPDU_NETWORK_MSG) != 0;
    n.has_dnet = (ctl & NPDU_DNET) != 0;
    n.has_snet = (ctl & NPDU_SNET) != 0;
    n.expecting_reply = (ctl & NPDU_EXPECTING_REPLY) != 0;
    n.priority = ctl & NPDU_PRIORITY;
    if (n.has_dnet) {
        bac_get_u16(b, &n.dnet);
        get_mac(b, &n.dadr);
    }
    if (n.has_snet) {
        bac_get_u16(b, &n.snet);
        get_mac(b, &n.sadr);
        /* A source must be a single station on a real network: a reply has to be
         * addressable to it. */
        if (!b->err && (n.sadr.len == 0 || n.snet == BAC_NET_BROADCAST))
            bac_fail(b, BAC_E_VALUE);
    }
    if (n.has_dnet)
        bac_get_u8(b, &n.hop_count);
    if (n.network_msg) {
        bac_get_u8(b, &n.msg_type);
        if (!b->err && n.msg_type >= 0x80)
            bac_get_u16(b, &n.vendor_id);
    }
    if (!b->err)
        *out = n;
    return finish(b, start);
}

void bac_npdu_reply(const bac_npdu_t *req, bac_npdu_t *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->priority = req->priority;
    if (req->has_snet) {
        reply->has_dnet = true;
        reply->dnet = req->snet;
        reply->dadr = req->sadr;
        reply->hop_count = 255;
    }
}

/* ---- APDU headers ----------------------------------------------------------------- */

#define APDU_SEG 0x08u
#define APDU_MOR 0x04u
#define APDU_SA 0x02u
#define APDU_NAK 0x02u
#define APDU_SRV 0x01u

uint16_t bac_max_apdu_octets(uint8_t code)
{
    static const uint16_t octets[] = {50, 128, 206, 480, 1024, 1476};

    return code < sizeof octets / sizeof octets[0] ? octets[code] : 0;
}

uint8_t bac_max_apdu_code(size_t octets)
{
    uint8_t code = 0;

    while (code < 5 && bac_max_apdu_octets((uint8_t)(code + 1)) <= octets)
        code++;
    return code;
}

int bac_apdu_encode(bac_buf_t *b, const bac_apdu_t *a)
{
    uint8_t o[6];
    size_t k = 0;
    uint8_t first = (uint8_t)(a->type << 4);

    if (b->err)
        return b->err;
    switch (a->type) {
    case BAC_PDU_CONFIRMED_REQ:
        if (a->max_segs > 7 || a->max_apdu_code > 15)
            return bac_fail(b, BAC_E_RANGE);
        first |= (a->segmented ? APDU_SEG : 0) | (a->more_follows ? APDU_MOR : 0) |
                 (a->seg_accepted ? APDU_SA : 0);
        o[k++] = first;
        o[k++] = (uint8_t)(a->max_segs << 4 | a->max_apdu_code);
        o[k++] = a->invoke_id;
        if (a->segmented) {
            o[k++] = a->seq;
            o[k++] = a->window;
        }
        o[k++] = a->service;
        break;
    case BAC_PDU_UNCONFIRMED_REQ:
        o[k++] = first;
        o[k++] = a->service;
        break;
    case BAC_PDU_SIMPLE_ACK:
    case BAC_PDU_ERROR:
        o[k++] = first;
        o[k++] = a->invoke_id;
        o[k++] = a->service;
        break;
    case BAC_PDU_COMPLEX_ACK:
        first |= (a->segmented ? APDU_SEG : 0) | (a->more_follows ? APDU_MOR : 0);
        o[k++] = first;
        o[k++] = a->invoke_id;
        if (a->segmented) {
            o[k++] = a->seq;
            o[k++] = a->window;
        }
        o[k++] = a->service;
        break;
    case BAC_PDU_SEGMENT_ACK:
        o[k++] = first | (a->nak ? APDU_NAK : 0) | (a->srv ? APDU_SRV : 0);
        o[k++] = a->invoke_id;
        o[k++] = a->seq;
        o[k++] = a->window;
        break;
    case BAC_PDU_REJECT:
        o[k++] = first;
        o[k++] = a->invoke_id;
        o[k++] = a->reason;
        break;
    case BAC_PDU_ABORT:
        o[k++] = first | (a->srv ? APDU_SRV : 0);
        o[k++] = a->invoke_id;
        o[k++] = a->reason;
        break;
    default:
        return bac_fail(b, BAC_E_RANGE);
    }
    return bac_put_bytes(b, o, k);
}

int bac_apdu_decode(bac_buf_t *b, bac_apdu_t *out)
{
    bac_apdu_t a;
    uint8_t first = 0, o1 = 0;
    const size_t start = b->pos;

    if (b->err)
        return b->err;
    memset(&a, 0, sizeof a);
    if (bac_get_u8(b, &first) < 0)
        return finish(b, start);
    a.type = first >> 4;
    switch (a.type) {
    case BAC_PDU_CONFIRMED_REQ:
        a.segmented = (first & APDU_SEG) != 0;
        a.more_follows = (first & APDU_MOR) != 0;
        a.seg_accepted = (first & APDU_SA) != 0;
        bac_get_u8(b, &o1);
        a.max_segs = (o1 >> 4) & 0x07u;
        a.max_apdu_code = o1 & 0x0Fu;
        a.max_apdu = bac_max_apdu_octets(a.max_apdu_code);
        bac_get_u8(b, &a.invoke_id);
        if (a.segmented) {
            bac_get_u8(b, &a.seq);
            bac_get_u8(b, &a.window);
        }
        bac_get_u8(b, &a.service);
        break;
    case BAC_PDU_UNCONFIRMED_REQ:
        bac_get_u8(b, &a.service);
        break;
    case BAC_PDU_SIMPLE_ACK:
    case BAC_PDU_ERROR:
        bac_get_u8(b, &a.invoke_id);
        bac_get_u8(b, &a.service);
        break;
    case BAC_PDU_COMPLEX_ACK:
        a.segmented = (first & APDU_SEG) != 0;
        a.more_follows = (first & APDU_MOR) != 0;
        bac_get_u8(b, &a.invoke_id);
        if (a.segmented) {
            bac_get_u8(b, &a.seq);
            bac_get_u8(b, &a.window);
        }
        bac_get_u8(b, &a.service);
        break;
    case BAC_PDU_SEGMENT_ACK:
        a.nak = (first & APDU_NAK) != 0;
        a.srv = (first & APDU_SRV) != 0;
        bac_get_u8(b, &a.invoke_id);
        bac_get_u8(b, &a.seq);
        bac_get_u8(b, &a.window);
        break;
    case BAC_PDU_REJECT:
        bac_get_u8(b, &a.invoke_id);
        bac_get_u8(b, &a.reason);
        break;
    case BAC_PDU_ABORT:
        a.srv = (first & APDU_SRV) != 0;
        bac_get_u8(b, &a.invoke_id);
        bac_get_u8(b, &a.reason);
        break;
    default:
        bac_fail(b, BAC_E_VALUE);
        break;
    }
    if (!b->err)
        *out = a;
    return finish(b, start);
}

static int enc_reply(bac_buf_t *b, uint8_t type, uint8_t invoke_id, uint8_t service,
                     uint8_t reason, bool srv)
{
    bac_apdu_t a;

    memset(&a, 0, sizeof a);
    a.type = type;
    a.invoke_id = invoke_id;
    a.service = service;
    a.reason = reason;
    a.srv = srv;
    return bac_apdu_encode(b, &a);
}

int bac_enc_simple_ack(bac_buf_t *b, uint8_t invoke_id, uint8_t service)
{
    return enc_reply(b, BAC_PDU_SIMPLE_ACK, invoke_id, service, 0, false);
}

int bac_enc_complex_ack(bac_buf_t *b, uint8_t invoke_id, uint8_t service)
{
    return enc_reply(b, BAC_PDU_COMPLEX_ACK, invoke_id, service, 0, false);
}

int bac_enc_error(bac_buf_t *b, uint8_t invoke_id, uint8_t service, uint32_t err_class,
                  uint32_t err_code)
{
    const size_t start = b->pos;

    enc_reply(b, BAC_PDU_ERROR, invoke_id, service, 0, false);
    bac_enc_enum(b, err_class);
    bac_enc_enum(b, err_code);
    return finish(b, start);
}

int bac_enc_reject(bac_buf_t *b, uint8_t invoke_id, uint8_t reason)
{
    return enc_reply(b, BAC_PDU_REJECT, invoke_id, 0, reason, false);
}

int bac_enc_abort(bac_buf_t *b, uint8_t invoke_id, uint8_t reason, bool server)
{
    return enc_reply(b, BAC_PDU_ABORT, invoke_id, 0, reason, server);
}

int bac_dec_error(bac_buf_t *b, uint32_t *err_class, uint32_t *err_code)
{
    uint32_t cls = 0, code = 0;
    const size_t start = b->pos;

    if (b->err)
        return b->err;
    bac_dec_enum(b, &cls);
    bac_dec_enum(b, &code);
    if (!b->err) {
        *err_class = cls;
        *err_code = code;
    }
    return finish(b, start);
}
