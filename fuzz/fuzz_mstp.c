/*
 * Fuzz the MS/TP node of a live meter: arbitrary octet streams, with arbitrary times
 * between the octets, into the Receive Frame and Master Node state machines, with the
 * device's BACnet server as the layer above (net_upper_t: frames that get through
 * reach every service) and the harness as the host (it ticks the server, follows the
 * device's settings after each event and announces a new MAC through the link).
 *
 * Input: [mac] [max_master] then records [ctl] [arg]:
 *   ctl 0x00..0xEF  wait ctl * 7 us (0 .. 1.7 ms: inside and around Tframe_abort and
 *                   the turnaround), then the octet arg arrives
 *   ctl 0xF0..0xF7  wait (ctl - 0xEF) * 10 ms * (arg % 8 + 1), 10..640 ms (Tusage_timeout,
 *                   Treply_timeout, Tno_token and the slots), ticking every millisecond;
 *                   an input waits at most FUZZ_SILENCE_MS in all (the rest is cut)
 *   ctl 0xF8        a receive (framing) error
 *   ctl 0xF9        the host queues a frame: DER to arg, or DNER to 255 when arg is odd
 *   ctl 0xFA        a well-formed frame follows: arg = data length, then type, dst, src
 *                   and the data, sent with correct CRCs (so the fuzzer gets past them)
 *   ctl 0xFB        the panel changes the MAC to arg & 0x7F (refused if above Max_Master)
 *   ctl 0xFC        the panel sets the baud (arg % 8: the five rates and three it
 *                   refuses)
 *   ctl 0xFD        the port's sends fail (arg odd) or work again (arg even)
 *   other           the octet arg arrives at once
 * Every frame the node sends must be well formed and one a master may send. Each input
 * starts from the same meter (meter_fixture.h: a copy back, not an init).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meter_fixture.h"
#include "mstp/mstp.h"
#include "objects/obj.h"

#define FUZZ_SILENCE_MS 2500u

static obj_device_t dev;
static bac_server_t srv;
static mstp_t node;
static uint32_t now;      /* the node's microsecond clock (it wraps) */
static uint64_t host_us;  /* the host's, from which the server's milliseconds come */
static uint32_t host_writes;

static int send_fails;

/* The server as the layer above the node; what the node hands up is checked: an NPDU
 * from another station, whole, with room for any answer. */
static size_t up_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                         size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    (void)ctx;
    if (src->len != 1 || src->mac[0] == MSTP_BROADCAST || src->mac[0] == node.cfg.mac ||
        len > MSTP_MAX_NPDU || (len && !npdu) || cap != MSTP_MAX_NPDU)
        abort();
    return bac_server_handle(&srv, (uint32_t)(host_us / 1000u), npdu, len, bcast, out, cap,
                             reply_bcast);
}

static void check_test_response(void *ctx, uint8_t src, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)src;
    if (len > MSTP_MAX_DATA || (len && !data))
        abort();
}

static int check_send(void *ctx, const uint8_t *frame, size_t n)
{
    (void)ctx;
    mstp_frame_t f;
    if (mstp_decode(frame, n, &f) != (int)n)
        abort();
    if (f.src != node.cfg.mac || f.type > MSTP_REPLY_POSTPONED)
        abort();
    /* Nothing that needs an answer goes to everyone; tokens and polls never to us. */
    if (f.dst == MSTP_BROADCAST && f.type != MSTP_DATA_NOT_EXPECTING_REPLY)
        abort();
    if ((f.type == MSTP_TOKEN || f.type == MSTP_POLL_FOR_MASTER) && f.dst == node.cfg.mac)
        abort();
    if (f.type == MSTP_TOKEN && f.dst > MSTP_MAX_MASTER)
        abort();
    return send_fails ? -1 : 0;
}

static void pass_us(uint32_t us)
{
    now += us;
    host_us += us;
}

/* The host's part after each event: a new MAC or baud, written over BACnet or on the
 * panel, applied to the node, and a new station announced. */
static void follow(void)
{
    if (dev.writes == host_writes)
        return;
    host_writes = dev.writes;
    mstp_config_t want = node.cfg;
    want.mac = dev.id.mac;
    want.max_master = dev.id.max_master;
    want.max_info_frames = dev.id.max_info_frames;
    want.baud = dev.id.baud;
    if (mstp_reconfigure(&node, &want, now) & MSTP_NEW_MAC) {
        uint8_t i_am[64];
        size_t n = bac_server_i_am(&srv, i_am, sizeof i_am);
        net_link_t link = mstp_link(&node);
        if (n)
            link.send(link.ctx, NULL, i_am, n);
    }
}

static void wait_us(uint32_t us)
{
    /* The host ticks at least every millisecond. */
    while (us > 1000) {
        pass_us(1000);
        us -= 1000;
        mstp_tick(&node, now);
        bac_server_tick(&srv, (uint32_t)(host_us / 1000u));
        follow();
    }
    pass_us(us);
    mstp_tick(&node, now);
    bac_server_tick(&srv, (uint32_t)(host_us / 1000u));
    follow();
}

static void invariants(void)
{
    if (node.state > MSTP_ST_ANSWER_DATA_REQUEST || node.state == MSTP_ST_INITIALIZE ||
        node.state == MSTP_ST_ANSWER_DATA_REQUEST)
        abort(); /* only waiting states between calls */
    if (node.state == MSTP_ST_USE_TOKEN || node.state == MSTP_ST_DONE_WITH_TOKEN)
        abort();
    if (node.txq_count > MSTP_TXQ_LEN || node.cfg.mac > node.cfg.max_master)
        abort();
    if (node.rx.state > MSTP_RS_SKIP_DATA)
        abort();
    /* The device's settings are the record; the host keeps the node on them. */
    if (node.cfg.mac != dev.id.mac || node.cfg.max_master != dev.id.max_master ||
        node.cfg.max_info_frames != dev.id.max_info_frames || node.cfg.baud != dev.id.baud)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fix_restore(&dev);
    obj_identity_t *id = &dev.id;
    id->mac = data[0] & 0x7F;
    id->max_master = (uint8_t)(id->mac + data[1] % (128u - id->mac));
    if (id->max_master < 1)
        id->max_master = 1;
    bac_server_init(&srv, &dev, NULL);
    mstp_config_t mc;
    mstp_config_default(&mc);
    mc.mac = id->mac;
    mc.max_master = id->max_master;
    mc.max_info_frames = id->max_info_frames;
    mc.baud = id->baud;
    mstp_port_t port = {.send = check_send, .test_response = check_test_response};
    net_upper_t up = {.receive = up_receive};
    send_fails = 0;
    now = 0xFFFFF000u - (uint32_t)(data[1] << 12); /* sometimes straddle the wrap */
    host_us = 0;
    host_writes = dev.writes;
    if (!mstp_init(&node, &port, &mc, &up, now))
        abort();
    /* The start-up I-Am, down the link: it waits for the token. */
    uint8_t i_am[64];
    size_t ni = bac_server_i_am(&srv, i_am, sizeof i_am);
    net_link_t link = mstp_link(&node);
    if (!ni || link.send(link.ctx, NULL, i_am, ni) != 0 || link.max_npdu != MSTP_MAX_NPDU)
        abort();
    uint32_t octet = mstp_octets_us(&node, 1);
    /* Each millisecond waited is a tick of the whole node: the budget keeps an input
     * cheap (a token loss and a full poll-for-master round still fit). */
    uint32_t silence_left = FUZZ_SILENCE_MS;
    size_t i = 2;
    while (i + 1 < size) {
        uint8_t ctl = data[i++], arg = data[i++];
        if (ctl < 0xF0) {
            wait_us(ctl * 7u);
            mstp_rx(&node, arg, now);
        } else if (ctl <= 0xF7) {
            uint32_t ms = (uint32_t)(ctl - 0xEF) * 10u * (arg % 8u + 1u);
            if (ms > silence_left)
                break;
            silence_left -= ms;
            wait_us(ms * 1000u);
        } else if (ctl == 0xF8) {
            mstp_rx_err(&node, now);
        } else if (ctl == 0xF9) {
            static const uint8_t rp[] = {0x01, 0x04, 0x00, 0x05, 0x01, 0x0C,
                                         0x0C, 0x02, 0x00, 0x04, 0xD2, 0x19, 0x4D};
            if (arg & 1)
                mstp_queue(&node, MSTP_DATA_NOT_EXPECTING_REPLY, MSTP_BROADCAST, rp, 2);
            else
                mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, arg, rp, sizeof rp);
        } else if (ctl == 0xFA) {
            if (i + 3 > size)
                break;
            uint8_t type = data[i], dst = data[i + 1], src = data[i + 2];
            i += 3;
            size_t len = arg <= size - i ? arg : size - i;
            uint8_t f[MSTP_MAX_FRAME];
            size_t n = mstp_encode(f, sizeof f, type, dst, src, data + i, len);
            i += len;
            wait_us(octet * 4); /* the sender's turnaround */
            for (size_t k = 0; k < n; k++) {
                pass_us(octet);
                mstp_rx(&node, f[k], now);
            }
        } else if (ctl == 0xFB) {
            obj_set_mac(&dev, arg & 0x7F);
        } else if (ctl == 0xFC) {
            static const uint32_t bauds[8] = {9600, 19200, 38400, 76800, 115200, 0, 57600, 1u << 31};
            obj_set_baud(&dev, bauds[arg % 8]);
        } else if (ctl == 0xFD) {
            send_fails = arg & 1;
        } else {
            mstp_rx(&node, arg, now);
        }
        follow();
        octet = mstp_octets_us(&node, 1);
        invariants();
    }
    return 0;
}
