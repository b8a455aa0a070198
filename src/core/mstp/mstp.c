/*
 * The MS/TP Master Node state machine (ASHRAE 135 9.5.6, with the 2004 errata and
 * 135-2008 addenda: TokenCount reset to 1, NextStationUnknown), driven by octets in
 * and a millisecond tick. The state machine is written as the standard names its
 * transitions; where it departs from the text, a comment says why (docs/mstp.md).
 */
#include "mstp.h"

#include <string.h>

/* ---- configuration and time -------------------------------------------------------- */

void mstp_config_default(mstp_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->mac = 1;
    c->max_master = 127;
    c->max_info_frames = 1;
    c->baud = 76800;
    c->frame_abort_us = 0; /* 60 bit times at the baud rate in force */
    c->usage_timeout_us = MSTP_USAGE_TIMEOUT_MIN_US;
    c->reply_timeout_us = MSTP_REPLY_TIMEOUT_MIN_US;
}

static uint32_t bits_us(uint32_t baud, uint32_t bits)
{
    return (uint32_t)(((uint64_t)bits * 1000000u + baud - 1) / baud);
}

uint32_t mstp_octets_us(const mstp_t *m, size_t n)
{
    return bits_us(m->cfg.baud, (uint32_t)(n * 10u));
}

static uint32_t frame_abort_us(const mstp_config_t *c)
{
    return c->frame_abort_us ? c->frame_abort_us : bits_us(c->baud, MSTP_FRAME_ABORT_BITS);
}

/* The rates of Clause 9 (a device may offer fewer: the meter has no 57600). */
static bool baud_ok(uint32_t baud)
{
    return baud == 9600 || baud == 19200 || baud == 38400 || baud == 57600 || baud == 76800 ||
           baud == 115200;
}

static bool config_ok(const mstp_config_t *c)
{
    if (!baud_ok(c->baud))
        return false;
    if (c->mac > MSTP_MAX_MASTER || c->max_master > MSTP_MAX_MASTER || c->max_master < c->mac)
        return false;
    if (c->max_info_frames < 1)
        return false;
    if (c->frame_abort_us && (c->frame_abort_us < bits_us(c->baud, MSTP_FRAME_ABORT_BITS) ||
                              c->frame_abort_us > MSTP_FRAME_ABORT_MAX_US))
        return false;
    if (c->usage_timeout_us < MSTP_USAGE_TIMEOUT_MIN_US ||
        c->usage_timeout_us > MSTP_USAGE_TIMEOUT_MAX_US)
        return false;
    if (c->reply_timeout_us < MSTP_REPLY_TIMEOUT_MIN_US ||
        c->reply_timeout_us > MSTP_REPLY_TIMEOUT_MAX_US)
        return false;
    return true;
}

/* a - b for timestamps, wrap-safe. */
static int32_t since(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* SilenceTimer: time since the last octet on the wire, in or out (0 while our own
 * frame is still being sent). */
static uint32_t silence(const mstp_t *m, uint32_t now)
{
    int32_t d = since(now, m->silence_us);
    return d < 0 ? 0 : (uint32_t)d;
}

/* ---- sending ------------------------------------------------------------------------ */

/* Send one frame now; returns when its first octet goes on the wire. The port waits out
 * the turnaround (40 bit times after the last octet received) and our previous frame;
 * the node estimates the same so SilenceTimer restarts at the end of what it sent. */
static uint32_t send_frame(mstp_t *m, uint8_t type, uint8_t dst, const uint8_t *data,
                           size_t len, uint32_t now)
{
    size_t n = mstp_encode(m->txbuf, sizeof m->txbuf, type, dst, m->cfg.mac, data, len);
    uint32_t start = now;
    uint32_t turn = m->last_rx_us + bits_us(m->cfg.baud, MSTP_TURNAROUND_BITS);
    if (since(turn, start) > 0)
        start = turn;
    if (since(m->tx_end_us, start) > 0)
        start = m->tx_end_us;
    m->tx_end_us = start + mstp_octets_us(m, n);
    m->silence_us = m->tx_end_us;
    if (m->port.send(m->port.ctx, m->txbuf, n) < 0) {
        m->c.send_errors++;
        return start;
    }
    m->c.tx_frames++;
    m->c.tx_octets += (uint32_t)n;
    switch (type) {
    case MSTP_TOKEN: m->c.tokens_sent++; break;
    case MSTP_POLL_FOR_MASTER: m->c.pfm_sent++; break;
    case MSTP_REPLY_TO_PFM: m->c.pfm_replies_sent++; break;
    case MSTP_DATA_EXPECTING_REPLY:
    case MSTP_DATA_NOT_EXPECTING_REPLY: m->c.npdu_out++; break;
    }
    return start;
}

int mstp_queue(mstp_t *m, uint8_t type, uint8_t dst, const uint8_t *data, size_t len)
{
    bool ok;
    switch (type) {
    case MSTP_DATA_NOT_EXPECTING_REPLY: ok = true; break;
    /* A broadcast that expects a reply is ignored by every receiver: refuse it. */
    case MSTP_DATA_EXPECTING_REPLY:
    case MSTP_TEST_REQUEST: ok = dst != MSTP_BROADCAST; break;
    default: ok = false; break;
    }
    if (!ok || len > MSTP_MAX_DATA || (len && !data))
        return -1;
    if (m->txq_count == MSTP_TXQ_LEN) {
        m->c.queue_full++;
        return -1;
    }
    mstp_pending_t *p = &m->txq[(m->txq_head + m->txq_count++) % MSTP_TXQ_LEN];
    p->type = type;
    p->dst = dst;
    p->len = (uint16_t)len;
    if (len)
        memcpy(p->data, data, len);
    m->c.queued++;
    return 0;
}

/* A full queue is NET_ERR_BUSY: the token empties it, so a router offers the NPDU again
 * (net/net.h); anything else refused is refused for good. */
static int link_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    mstp_t *m = ctx;
    uint8_t to = MSTP_BROADCAST;
    if (dst && dst->len == 1)
        to = dst->mac[0];
    else if (dst && dst->len != 0)
        return -1;
    /* Clause 9: a request that expects a reply (NPDU control bit 2), to one station, goes
     * as Data Expecting Reply so that the station answers at once in our token; a router
     * forwarding a confirmed request onto the trunk relies on it. */
    uint8_t type = to != MSTP_BROADCAST && len >= 2 && (npdu[1] & 0x04u)
                       ? MSTP_DATA_EXPECTING_REPLY
                       : MSTP_DATA_NOT_EXPECTING_REPLY;
    if (mstp_queue(m, type, to, npdu, len) == 0)
        return 0;
    return m->txq_count == MSTP_TXQ_LEN && len <= MSTP_MAX_DATA && (npdu || !len) ? NET_ERR_BUSY
                                                                                : -1;
}

net_link_t mstp_link(mstp_t *m)
{
    return (net_link_t){.ctx = m, .send = link_send, .max_npdu = MSTP_MAX_NPDU};
}

/* ---- data up --------------------------------------------------------------------- */

/* BACnet data for us or broadcast, up to the layer above; its answer, if any, is built
 * in place in txbuf (where send_frame wants it). Returns the answer's length. */
static size_t hand_up(mstp_t *m, const mstp_frame_t *f, bool *reply_bcast)
{
    *reply_bcast = false;
    /* A reply ends a wait whoever sent it, but only a station may be answered: not the
     * broadcast address, nor ours (IDLE drops such frames before). */
    if (f->src == MSTP_BROADCAST || f->src == m->cfg.mac) {
        m->c.unwanted++;
        return 0;
    }
    m->c.npdu_in++;
    if (!m->up.receive)
        return 0;
    net_addr_t src = {.len = 1, .mac = {f->src}};
    size_t n = m->up.receive(m->up.ctx, &src, f->dst == MSTP_BROADCAST, f->data, f->len,
                             m->txbuf + MSTP_HEADER_LEN, MSTP_MAX_NPDU, reply_bcast);
    return n <= MSTP_MAX_NPDU ? n : 0;
}

/* BACnet data not expecting a reply (for us or broadcast): any answer (an I-Am to a
 * Who-Is) waits for the token. */
static void data_no_reply(mstp_t *m, const mstp_frame_t *f)
{
    bool bcast;
    size_t n = hand_up(m, f, &bcast);
    if (n)
        mstp_queue(m, MSTP_DATA_NOT_EXPECTING_REPLY, bcast ? MSTP_BROADCAST : f->src,
                   m->txbuf + MSTP_HEADER_LEN, n);
}

static void test_response(mstp_t *m, const mstp_frame_t *f)
{
    m->c.test_responses++;
    if (m->port.test_response)
        m->port.test_response(m->port.ctx, f->src, f->data, f->len);
}

static void note_latency(mstp_t *m, uint32_t start, uint32_t now)
{
    uint32_t lat = (uint32_t)since(start, now);
    if (lat > m->c.reply_latency_max_us)
        m->c.reply_latency_max_us = lat;
    m->c.reply_latency_sum_us += lat;
    m->c.reply_latency_count++;
}

/* ANSWER_DATA_REQUEST: the layer above answers synchronously, so the reply goes out at
 * once (Reply); Reply Postponed only when there is no unicast answer now
 * (DeferredReply): the request was dropped, or answered with a broadcast, which is
 * queued. */
static void answer_data_request(mstp_t *m, const mstp_frame_t *f, uint32_t now)
{
    m->c.requests++;
    bool bcast;
    size_t n = hand_up(m, f, &bcast);
    uint8_t *reply = m->txbuf + MSTP_HEADER_LEN;
    uint32_t start;
    if (n && !bcast) {
        start = send_frame(m, MSTP_DATA_NOT_EXPECTING_REPLY, f->src, reply, n, now);
        m->c.replies++;
    } else {
        if (n)
            mstp_queue(m, MSTP_DATA_NOT_EXPECTING_REPLY, MSTP_BROADCAST, reply, n);
        start = send_frame(m, MSTP_REPLY_POSTPONED, f->src, NULL, 0, now);
        m->c.postponed++;
    }
    note_latency(m, start, now);
}

/* ---- the state machine ----------------------------------------------------------- */

static uint8_t next_of(const mstp_t *m, uint8_t station)
{
    return (uint8_t)((station + 1u) % (m->cfg.max_master + 1u));
}

static void pass_token(mstp_t *m, uint32_t now)
{
    send_frame(m, MSTP_TOKEN, m->ns, NULL, 0, now);
    m->retry_count = 0;
    m->event_count = 0;
    m->state = MSTP_ST_PASS_TOKEN;
}

static void poll_for_master(mstp_t *m, uint8_t station, uint32_t now)
{
    m->ps = station;
    send_frame(m, MSTP_POLL_FOR_MASTER, station, NULL, 0, now);
    m->retry_count = 0;
    m->state = MSTP_ST_POLL_FOR_MASTER;
}

/* An invalid frame ends a wait (WAIT_FOR_REPLY, POLL_FOR_MASTER) and we send next; but
 * a header or framing error leaves the rest of that frame still arriving. Sending at
 * once would collide with it, and its octets would then pass for the successor's use
 * of the token (SawTokenUser): the token would be lost. So act on the invalid frame
 * once the line has been quiet for Tframe_abort -- what the receiver itself takes as
 * the end of a frame -- a delay of 60 bit times that Tusage_delay easily absorbs. */
static bool line_quiet(const mstp_t *m, uint32_t now)
{
    return silence(m, now) > m->rx.abort_us;
}

/* Each state handler returns true when the machine must run again at once (the
 * standard's transitions that need no new event). */

static bool st_idle(mstp_t *m, uint32_t now)
{
    if (silence(m, now) >= MSTP_TNO_TOKEN_US) { /* LostToken */
        m->event_count = 0;
        m->valid_frame = m->invalid_frame = false;
        m->c.lost_tokens++;
        m->state = MSTP_ST_NO_TOKEN;
        return true;
    }
    if (m->invalid_frame) { /* ReceivedInvalidFrame */
        m->invalid_frame = false;
        return false;
    }
    if (!m->valid_frame)
        return false;
    m->valid_frame = false;
    const mstp_frame_t *f = &m->rx.frame;
    bool bcast = f->dst == MSTP_BROADCAST;
    /* No station sends from the broadcast address, and one using ours is a duplicate:
     * answering either would address everyone, or ourselves. */
    if (f->src == MSTP_BROADCAST || f->src == m->cfg.mac) {
        m->c.unwanted++;
        return false;
    }
    switch (f->type) {
    case MSTP_TOKEN:
        if (bcast)
            break; /* a broadcast token is unwanted */
        m->c.tokens_received++;
        if (m->have_token_us) {
            m->c.rotation_last_us = (uint32_t)since(now, m->token_us);
            if (m->c.rotation_last_us > m->c.rotation_max_us)
                m->c.rotation_max_us = m->c.rotation_last_us;
        }
        m->token_us = now;
        m->have_token_us = true;
        m->frame_count = 0; /* ReceivedToken */
        m->sole_master = false;
        m->state = MSTP_ST_USE_TOKEN;
        return true;
    case MSTP_POLL_FOR_MASTER:
        if (bcast)
            break;
        send_frame(m, MSTP_REPLY_TO_PFM, f->src, NULL, 0, now); /* ReceivedPFM */
        return false;
    case MSTP_DATA_NOT_EXPECTING_REPLY: /* ReceivedDataNoReply */
        data_no_reply(m, f);
        return false;
    case MSTP_TEST_RESPONSE:
        test_response(m, f);
        return false;
    case MSTP_DATA_EXPECTING_REPLY: /* ReceivedDataNeedingReply */
        if (bcast)
            break; /* nobody may answer a broadcast: unwanted */
        m->state = MSTP_ST_ANSWER_DATA_REQUEST;
        answer_data_request(m, f, now);
        m->state = MSTP_ST_IDLE;
        return false;
    case MSTP_TEST_REQUEST:
        if (bcast)
            break;
        m->c.test_requests++;
        m->state = MSTP_ST_ANSWER_DATA_REQUEST;
        note_latency(m, send_frame(m, MSTP_TEST_RESPONSE, f->src, f->data, f->len, now), now);
        m->state = MSTP_ST_IDLE;
        return false;
    default: /* Reply-To-PFM, Reply Postponed, reserved and proprietary types */
        break;
    }
    m->c.unwanted++; /* ReceivedUnwantedFrame */
    return false;
}

static bool st_use_token(mstp_t *m, uint32_t now)
{
    if (m->txq_count == 0) { /* NothingToSend */
        m->frame_count = m->cfg.max_info_frames;
        m->state = MSTP_ST_DONE_WITH_TOKEN;
        return true;
    }
    mstp_pending_t *p = &m->txq[m->txq_head];
    m->txq_head = (uint8_t)((m->txq_head + 1u) % MSTP_TXQ_LEN);
    m->txq_count--;
    send_frame(m, p->type, p->dst, p->data, p->len, now);
    m->frame_count++;
    if (p->type == MSTP_DATA_NOT_EXPECTING_REPLY) { /* SendNoWait */
        m->state = MSTP_ST_DONE_WITH_TOKEN;
        return true;
    }
    m->state = MSTP_ST_WAIT_FOR_REPLY; /* SendAndWait */
    return false;
}

static bool st_wait_for_reply(mstp_t *m, uint32_t now)
{
    if (m->valid_frame) {
        m->valid_frame = false;
        const mstp_frame_t *f = &m->rx.frame;
        if (f->dst == m->cfg.mac && (f->type == MSTP_DATA_NOT_EXPECTING_REPLY ||
                                     f->type == MSTP_TEST_RESPONSE)) { /* ReceivedReply */
            m->c.replies_received++;
            if (f->type == MSTP_TEST_RESPONSE)
                test_response(m, f);
            else
                data_no_reply(m, f);
            m->state = MSTP_ST_DONE_WITH_TOKEN;
            return true;
        }
        if (f->dst == m->cfg.mac && f->type == MSTP_REPLY_POSTPONED) { /* ReceivedPostpone */
            m->state = MSTP_ST_DONE_WITH_TOKEN;
            return true;
        }
        /* ReceivedUnexpectedFrame: maybe a second token on the wire. Drop ours and
         * resynchronise in IDLE. */
        m->c.unexpected++;
        m->state = MSTP_ST_IDLE;
        return false;
    }
    if (m->invalid_frame && line_quiet(m, now)) { /* InvalidFrame */
        m->invalid_frame = false;
        m->state = MSTP_ST_DONE_WITH_TOKEN;
        return true;
    }
    if (silence(m, now) >= m->cfg.reply_timeout_us) { /* ReplyTimeout */
        m->c.reply_timeouts++;
        m->frame_count = m->cfg.max_info_frames;
        m->state = MSTP_ST_DONE_WITH_TOKEN;
        return true;
    }
    return false;
}

static bool st_done_with_token(mstp_t *m, uint32_t now)
{
    /* A Max_Master lowered below NS or PS since they were found: forget them, so the
     * successor is looked for again within the new range (NextStationUnknown). */
    if (m->ns > m->cfg.max_master || m->ps > m->cfg.max_master) {
        m->ns = m->ps = m->cfg.mac;
        m->sole_master = false;
    }
    if (m->frame_count < m->cfg.max_info_frames) { /* SendAnotherFrame */
        /* Nothing queued yet, the last frame still on the wire: wait for its end, as a
         * UART's end-of-frame interrupt would, so the layer above (a router draining
         * its queue between ticks) can queue the next before the token goes. */
        if (m->txq_count == 0 && since(m->tx_end_us, now) > 0)
            return false;
        m->state = MSTP_ST_USE_TOKEN;
        return true;
    }
    if (!m->sole_master && m->ns == m->cfg.mac) { /* NextStationUnknown (135-2008v-1) */
        poll_for_master(m, next_of(m, m->cfg.mac), now);
        return false;
    }
    if (m->token_count < MSTP_NPOLL - 1) {
        if (m->sole_master) { /* SoleMaster: nobody to pass to, use it again */
            m->frame_count = 0;
            m->token_count++;
            m->state = MSTP_ST_USE_TOKEN;
            return true;
        }
        m->token_count++; /* SendToken */
        pass_token(m, now);
        return false;
    }
    if (next_of(m, m->ps) == m->ns) {
        if (m->sole_master) { /* SoleMasterRestartMaintenancePFM */
            uint8_t ps = next_of(m, m->ns);
            m->ns = m->cfg.mac;
            m->token_count = 1;
            poll_for_master(m, ps, now);
            return false;
        }
        m->ps = m->cfg.mac; /* ResetMaintenancePFM */
        m->token_count = 1;
        pass_token(m, now);
        return false;
    }
    poll_for_master(m, next_of(m, m->ps), now); /* SendMaintenancePFM */
    return false;
}

static bool st_pass_token(mstp_t *m, uint32_t now)
{
    if (silence(m, now) < m->cfg.usage_timeout_us) {
        if (m->event_count > MSTP_NMIN_OCTETS) { /* SawTokenUser */
            m->state = MSTP_ST_IDLE;
            return true;
        }
        return false;
    }
    if (m->retry_count < MSTP_NRETRY_TOKEN) { /* RetrySendToken */
        m->retry_count++;
        m->c.token_retries++;
        send_frame(m, MSTP_TOKEN, m->ns, NULL, 0, now);
        m->event_count = 0;
        return false;
    }
    /* FindNewSuccessor: NS failed; poll from the station after it. When NS was the
     * station just below us that would be ourselves: start above us instead. */
    m->c.successor_failed++;
    uint8_t ps = next_of(m, m->ns);
    if (ps == m->cfg.mac)
        ps = next_of(m, ps);
    m->ns = m->cfg.mac;
    m->token_count = 0;
    poll_for_master(m, ps, now);
    return false;
}

static bool st_no_token(mstp_t *m, uint32_t now)
{
    uint32_t s = silence(m, now);
    uint32_t slot = MSTP_TNO_TOKEN_US + MSTP_TSLOT_US * m->cfg.mac;
    if (s < slot) {
        if (m->event_count > MSTP_NMIN_OCTETS) { /* SawFrame */
            m->state = MSTP_ST_IDLE;
            return true;
        }
        return false;
    }
    /* GenerateToken, within our slot. Past it a higher station has the right; but past
     * every slot (a host that stalled) nobody took it, so take it then too. */
    uint32_t end = slot + MSTP_TSLOT_US;
    uint32_t last = MSTP_TNO_TOKEN_US + MSTP_TSLOT_US * (MSTP_MAX_MASTER + 1u);
    if (s >= end && s < last)
        return false;
    m->c.tokens_generated++;
    m->ns = m->cfg.mac;
    m->token_count = 0;
    poll_for_master(m, next_of(m, m->cfg.mac), now);
    return false;
}

static bool st_poll_for_master(mstp_t *m, uint32_t now)
{
    if (m->valid_frame) {
        m->valid_frame = false;
        const mstp_frame_t *f = &m->rx.frame;
        if (f->dst == m->cfg.mac && f->type == MSTP_REPLY_TO_PFM && f->src != m->cfg.mac &&
            f->src <= MSTP_MAX_MASTER) { /* ReceivedReplyToPFM */
            m->sole_master = false;
            m->ns = f->src;
            m->ps = m->cfg.mac;
            m->token_count = 0;
            m->c.successors_found++;
            pass_token(m, now);
            return false;
        }
        m->c.unexpected++; /* ReceivedUnexpectedFrame: drop the token, resynchronise */
        m->state = MSTP_ST_IDLE;
        return false;
    }
    if (silence(m, now) < m->cfg.usage_timeout_us && !(m->invalid_frame && line_quiet(m, now)))
        return false;
    m->invalid_frame = false;
    if (m->sole_master) { /* SoleMaster: nobody answered, keep the token */
        m->frame_count = 0;
        m->state = MSTP_ST_USE_TOKEN;
        return true;
    }
    if (m->ns != m->cfg.mac) { /* DoneWithPFM */
        pass_token(m, now);
        return false;
    }
    if (next_of(m, m->ps) != m->cfg.mac) { /* SendNextPFM */
        poll_for_master(m, next_of(m, m->ps), now);
        return false;
    }
    m->sole_master = true; /* DeclareSoleMaster */
    m->c.sole_master++;
    m->frame_count = 0;
    m->state = MSTP_ST_USE_TOKEN;
    return true;
}

static void run(mstp_t *m, uint32_t now)
{
    /* Bounded: a sole master loops USE_TOKEN/DONE_WITH_TOKEN at most Npoll times
     * before it polls; the bound only guards against a bug turning into a hang. */
    for (int guard = 0; guard < 4 * (int)MSTP_NPOLL + 16; guard++) {
        bool again = false;
        switch (m->state) {
        case MSTP_ST_INITIALIZE:
            m->ns = m->ps = m->cfg.mac;   /* no successor known */
            m->token_count = MSTP_NPOLL;  /* poll for masters when first given the token */
            m->sole_master = false;
            m->valid_frame = m->invalid_frame = false;
            m->state = MSTP_ST_IDLE;
            again = true;
            break;
        case MSTP_ST_IDLE: again = st_idle(m, now); break;
        case MSTP_ST_USE_TOKEN: again = st_use_token(m, now); break;
        case MSTP_ST_WAIT_FOR_REPLY: again = st_wait_for_reply(m, now); break;
        case MSTP_ST_DONE_WITH_TOKEN: again = st_done_with_token(m, now); break;
        case MSTP_ST_PASS_TOKEN: again = st_pass_token(m, now); break;
        case MSTP_ST_NO_TOKEN: again = st_no_token(m, now); break;
        case MSTP_ST_POLL_FOR_MASTER: again = st_poll_for_master(m, now); break;
        default: m->state = MSTP_ST_IDLE; break; /* ANSWER_DATA_REQUEST is left at once */
        }
        if (!again)
            return;
    }
}

/* ---- the calls in ---------------------------------------------------------------- */

bool mstp_init(mstp_t *m, const mstp_port_t *port, const mstp_config_t *cfg,
               const net_upper_t *up, uint32_t now_us)
{
    if (!config_ok(cfg) || !port || !port->send)
        return false;
    memset(m, 0, sizeof *m);
    m->port = *port;
    if (up)
        m->up = *up;
    m->cfg = *cfg;
    m->silence_us = m->last_rx_us = m->tx_end_us = now_us;
    mstp_rx_init(&m->rx, cfg->mac, false, frame_abort_us(cfg));
    m->rx.last_us = now_us;
    m->state = MSTP_ST_INITIALIZE;
    run(m, now_us);
    return true;
}

static void rx_event(mstp_t *m, int ev, uint32_t now)
{
    switch (ev) {
    case MSTP_RX_FRAME:
        m->valid_frame = true;
        break;
    case MSTP_RX_BAD_HEADER:
    case MSTP_RX_BAD_DATA:
    case MSTP_RX_TOO_LONG:
    case MSTP_RX_ABORTED:
    case MSTP_RX_ERROR:
        m->invalid_frame = true;
        m->c.invalid_frames++;
        break;
    default: /* NONE, NOT_FOR_US: nothing for the master */
        break;
    }
    run(m, now);
}

void mstp_rx(mstp_t *m, uint8_t octet, uint32_t now_us)
{
    /* DataAvailable: SilenceTimer restarts, EventCount counts. */
    m->silence_us = m->last_rx_us = now_us;
    m->event_count++;
    rx_event(m, mstp_rx_octet(&m->rx, octet, now_us), now_us);
}

void mstp_rx_err(mstp_t *m, uint32_t now_us)
{
    /* ReceiveError counts as activity on the wire too. */
    m->silence_us = m->last_rx_us = now_us;
    m->event_count++;
    rx_event(m, mstp_rx_error(&m->rx, now_us), now_us);
}

void mstp_rx_buf(mstp_t *m, const uint8_t *p, size_t n, uint32_t now_us)
{
    for (size_t i = 0; i < n; i++)
        mstp_rx(m, p[i], now_us);
}

void mstp_tick(mstp_t *m, uint32_t now_us)
{
    /* Keep the timestamps within reach of a signed difference on a silent wire. */
    const uint32_t far = 60u * 1000000u;
    if (since(now_us, m->silence_us) > (int32_t)far)
        m->silence_us = now_us - far;
    if (since(now_us, m->last_rx_us) > (int32_t)far)
        m->last_rx_us = now_us - far;
    if (since(now_us, m->tx_end_us) > (int32_t)far)
        m->tx_end_us = now_us - far;
    if (since(now_us, m->token_us) > (int32_t)far)
        m->have_token_us = false;
    rx_event(m, mstp_rx_timeout(&m->rx, now_us), now_us);
}

/* ---- settings at run time ---------------------------------------------------------- */

bool mstp_set_max_master(mstp_t *m, uint8_t max_master)
{
    if (max_master > MSTP_MAX_MASTER || max_master < m->cfg.mac)
        return false;
    /* NS and PS beyond the new range are dropped when the token is next used. */
    m->cfg.max_master = max_master;
    return true;
}

bool mstp_set_max_info_frames(mstp_t *m, uint8_t n)
{
    if (n < 1)
        return false;
    m->cfg.max_info_frames = n;
    return true;
}

bool mstp_set_usage_timeout(mstp_t *m, uint32_t us)
{
    if (us < MSTP_USAGE_TIMEOUT_MIN_US || us > MSTP_USAGE_TIMEOUT_MAX_US)
        return false;
    m->cfg.usage_timeout_us = us;
    return true;
}

bool mstp_set_mac(mstp_t *m, uint8_t mac, uint32_t now_us)
{
    if (mac > m->cfg.max_master)
        return false;
    if (mac == m->cfg.mac)
        return true;
    /* A new address is a new station: drop any token, start again. */
    m->cfg.mac = mac;
    m->rx.addr = mac;
    m->rx.state = MSTP_RS_IDLE;
    m->state = MSTP_ST_INITIALIZE;
    run(m, now_us);
    return true;
}

bool mstp_set_baud(mstp_t *m, uint32_t baud)
{
    mstp_config_t c = m->cfg;
    c.baud = baud;
    if (c.frame_abort_us && c.frame_abort_us < bits_us(baud, MSTP_FRAME_ABORT_BITS))
        c.frame_abort_us = 0;
    if (!config_ok(&c))
        return false;
    m->cfg = c;
    /* Whatever was half-received at the old rate is garbage. */
    m->rx.abort_us = frame_abort_us(&c);
    m->rx.state = MSTP_RS_IDLE;
    return true;
}

unsigned mstp_reconfigure(mstp_t *m, const mstp_config_t *want, uint32_t now_us)
{
    unsigned changed = 0;
    if (want->baud != m->cfg.baud && mstp_set_baud(m, want->baud))
        changed |= MSTP_NEW_BAUD;
    /* MAC and Max_Master constrain each other: raise the ceiling first, lower it last. */
    if (want->max_master > m->cfg.max_master)
        mstp_set_max_master(m, want->max_master);
    if (want->mac != m->cfg.mac && mstp_set_mac(m, want->mac, now_us))
        changed |= MSTP_NEW_MAC;
    if (want->max_master != m->cfg.max_master)
        mstp_set_max_master(m, want->max_master);
    if (want->max_info_frames != m->cfg.max_info_frames)
        mstp_set_max_info_frames(m, want->max_info_frames);
    return changed;
}

const char *mstp_state_name(uint8_t state)
{
    switch (state) {
    case MSTP_ST_INITIALIZE: return "INITIALIZE";
    case MSTP_ST_IDLE: return "IDLE";
    case MSTP_ST_USE_TOKEN: return "USE_TOKEN";
    case MSTP_ST_WAIT_FOR_REPLY: return "WAIT_FOR_REPLY";
    case MSTP_ST_DONE_WITH_TOKEN: return "DONE_WITH_TOKEN";
    case MSTP_ST_PASS_TOKEN: return "PASS_TOKEN";
    case MSTP_ST_NO_TOKEN: return "NO_TOKEN";
    case MSTP_ST_POLL_FOR_MASTER: return "POLL_FOR_MASTER";
    case MSTP_ST_ANSWER_DATA_REQUEST: return "ANSWER_DATA_REQUEST";
    }
    return "?";
}
