/*
 * MS/TP frames: the codec and the Receive Frame state machine (ASHRAE 135 9.3, 9.5.4,
 * Annex G).
 */
#include "mstp.h"

#include <string.h>

/* Both CRCs are LSB-first (reflected) shift registers, as the UART sends the bits:
 * x^8 + x^7 + 1 reflects to 0x81, CCITT x^16 + x^12 + x^5 + 1 to 0x8408. */
uint8_t mstp_crc8(uint8_t crc, uint8_t octet)
{
    crc ^= octet;
    for (int i = 0; i < 8; i++)
        crc = (uint8_t)((crc & 1u) ? (crc >> 1) ^ 0x81u : crc >> 1);
    return crc;
}

uint16_t mstp_crc16(uint16_t crc, uint8_t octet)
{
    crc ^= octet;
    for (int i = 0; i < 8; i++)
        crc = (uint16_t)((crc & 1u) ? (crc >> 1) ^ 0x8408u : crc >> 1);
    return crc;
}

uint8_t mstp_header_crc(const uint8_t hdr[5])
{
    uint8_t crc = 0xFF;
    for (int i = 0; i < 5; i++)
        crc = mstp_crc8(crc, hdr[i]);
    return (uint8_t)~crc;
}

uint16_t mstp_data_crc(const uint8_t *data, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++)
        crc = mstp_crc16(crc, data[i]);
    return (uint16_t)~crc;
}

size_t mstp_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t dst, uint8_t src,
                   const uint8_t *data, size_t len)
{
    size_t n = MSTP_HEADER_LEN + (len ? len + 2 : 0);
    if (len > MSTP_MAX_DATA || n > cap || (len && !data))
        return 0;
    /* The data may already sit at out + 8 (the node builds replies in place). */
    if (len)
        memmove(out + MSTP_HEADER_LEN, data, len);
    out[0] = 0x55;
    out[1] = 0xFF;
    out[2] = type;
    out[3] = dst;
    out[4] = src;
    out[5] = (uint8_t)(len >> 8);
    out[6] = (uint8_t)len;
    out[7] = mstp_header_crc(out + 2);
    if (len) {
        uint16_t crc = mstp_data_crc(out + MSTP_HEADER_LEN, len);
        out[MSTP_HEADER_LEN + len] = (uint8_t)crc; /* low octet first */
        out[MSTP_HEADER_LEN + len + 1] = (uint8_t)(crc >> 8);
    }
    return n;
}

int mstp_decode(const uint8_t *p, size_t n, mstp_frame_t *f)
{
    if (n < 2)
        return MSTP_E_SHORT;
    if (p[0] != 0x55 || p[1] != 0xFF)
        return MSTP_E_PREAMBLE;
    if (n < MSTP_HEADER_LEN)
        return MSTP_E_SHORT;
    uint8_t crc = 0xFF;
    for (int i = 2; i < 8; i++)
        crc = mstp_crc8(crc, p[i]);
    if (crc != MSTP_CRC8_RESIDUE)
        return MSTP_E_HEADER_CRC;
    size_t len = (size_t)p[5] << 8 | p[6];
    if (len > MSTP_MAX_DATA)
        return MSTP_E_TOO_LONG;
    size_t total = MSTP_HEADER_LEN + (len ? len + 2 : 0);
    if (n < total)
        return MSTP_E_SHORT;
    if (len) {
        uint16_t dcrc = 0xFFFF;
        for (size_t i = 0; i < len + 2; i++)
            dcrc = mstp_crc16(dcrc, p[MSTP_HEADER_LEN + i]);
        if (dcrc != MSTP_CRC16_RESIDUE)
            return MSTP_E_DATA_CRC;
    }
    f->type = p[2];
    f->dst = p[3];
    f->src = p[4];
    f->len = (uint16_t)len;
    f->data = p + MSTP_HEADER_LEN;
    return (int)total;
}

/* ---- the Receive Frame state machine --------------------------------------------- */

void mstp_rx_init(mstp_rx_t *r, uint8_t addr, bool promiscuous, uint32_t abort_us)
{
    memset(r, 0, sizeof *r);
    r->state = MSTP_RS_IDLE;
    r->addr = addr;
    r->promiscuous = promiscuous;
    r->abort_us = abort_us;
    r->frame.data = r->buf;
}

/* Leave a frame half-received (Tframe_abort, or a receive error): what it amounts to. */
static int drop_frame(mstp_rx_t *r, int in_frame_event)
{
    int ev = MSTP_RX_NONE;
    switch (r->state) {
    case MSTP_RS_HEADER:
    case MSTP_RS_DATA:
        ev = in_frame_event;
        break;
    case MSTP_RS_SKIP_DATA:
        /* A frame for another node ends quietly; an over-long one for us is invalid. */
        if (r->too_long) {
            r->c.too_long++;
            ev = MSTP_RX_TOO_LONG;
        }
        break;
    default: /* IDLE, PREAMBLE: no frame had started */
        break;
    }
    if (ev == MSTP_RX_ABORTED)
        r->c.aborts++;
    else if (ev == MSTP_RX_ERROR)
        r->c.frame_errors++;
    r->state = MSTP_RS_IDLE;
    r->too_long = false;
    return ev;
}

int mstp_rx_timeout(mstp_rx_t *r, uint32_t now_us)
{
    if (r->state == MSTP_RS_IDLE || (int32_t)(now_us - r->last_us) <= (int32_t)r->abort_us)
        return MSTP_RX_NONE;
    return drop_frame(r, MSTP_RX_ABORTED);
}

int mstp_rx_error(mstp_rx_t *r, uint32_t now_us)
{
    int ev = mstp_rx_timeout(r, now_us);
    r->last_us = now_us;
    r->c.errors++;
    if (ev != MSTP_RX_NONE)
        return ev; /* the frame had already timed out; this error is eaten in IDLE */
    return drop_frame(r, MSTP_RX_ERROR);
}

/* The header is complete and its CRC checks: where does the frame go? */
static int header_done(mstp_rx_t *r)
{
    mstp_frame_t *f = &r->frame;
    bool ours = r->promiscuous || f->dst == r->addr || f->dst == MSTP_BROADCAST;
    r->index = 0;
    if (!ours) {
        /* Skip its data without checking it: another node's business. */
        r->c.not_for_us++;
        r->state = f->len ? MSTP_RS_SKIP_DATA : MSTP_RS_IDLE;
        return MSTP_RX_NOT_FOR_US;
    }
    if (f->len > MSTP_MAX_DATA) {
        /* Report it only once its data has passed: reporting it now would let the
         * master send on top of the rest of the frame. */
        r->too_long = true;
        r->state = MSTP_RS_SKIP_DATA;
        return MSTP_RX_NONE;
    }
    if (f->len == 0) {
        r->state = MSTP_RS_IDLE;
        r->c.frames++;
        return MSTP_RX_FRAME;
    }
    r->data_crc = 0xFFFF;
    r->state = MSTP_RS_DATA;
    return MSTP_RX_NONE;
}

int mstp_rx_octet(mstp_rx_t *r, uint8_t octet, uint32_t now_us)
{
    /* A gap longer than Tframe_abort ends the frame in progress; the octet then starts
     * afresh in IDLE (where it cannot complete a frame, so one event is enough). */
    int ev = mstp_rx_timeout(r, now_us);
    r->last_us = now_us;
    r->c.octets++;
    mstp_frame_t *f = &r->frame;
    switch (r->state) {
    case MSTP_RS_IDLE:
        if (octet == 0x55)
            r->state = MSTP_RS_PREAMBLE;
        break;
    case MSTP_RS_PREAMBLE:
        if (octet == 0xFF) {
            r->state = MSTP_RS_HEADER;
            r->index = 0;
            r->hdr_crc = 0xFF;
        } else if (octet != 0x55) { /* a repeated 55 may still be the preamble */
            r->state = MSTP_RS_IDLE;
        }
        break;
    case MSTP_RS_HEADER:
        r->hdr_crc = mstp_crc8(r->hdr_crc, octet);
        switch (r->index++) {
        case 0: f->type = octet; break;
        case 1: f->dst = octet; break;
        case 2: f->src = octet; break;
        case 3: f->len = (uint16_t)(octet << 8); break;
        case 4: f->len = (uint16_t)(f->len | octet); break;
        default:
            if (r->hdr_crc != MSTP_CRC8_RESIDUE) {
                r->c.header_crc_errors++;
                r->state = MSTP_RS_IDLE;
                return MSTP_RX_BAD_HEADER;
            }
            return header_done(r);
        }
        break;
    case MSTP_RS_DATA:
        r->data_crc = mstp_crc16(r->data_crc, octet);
        r->buf[r->index++] = octet;
        if (r->index == f->len + 2u) {
            r->state = MSTP_RS_IDLE;
            if (r->data_crc != MSTP_CRC16_RESIDUE) {
                r->c.data_crc_errors++;
                return MSTP_RX_BAD_DATA;
            }
            r->c.frames++;
            return MSTP_RX_FRAME;
        }
        break;
    case MSTP_RS_SKIP_DATA:
        if (++r->index == f->len + 2u) {
            r->state = MSTP_RS_IDLE;
            if (r->too_long) {
                r->too_long = false;
                r->c.too_long++;
                return MSTP_RX_TOO_LONG;
            }
        }
        break;
    }
    return ev;
}
