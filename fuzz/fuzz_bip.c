/*
 * Fuzz the whole receive path of a live meter: BVLC -> NPDU (up through net_upper_t)
 * -> APDU -> every service -> object reads and writes -> the reply. Any datagram must be answered within the
 * limits (never more than 480 octets of APDU) or dropped, never crash or overrun.
 * The first octet picks how the datagram arrived (bit 0: from our own address), whether
 * a password is set (bit 7), the meter in sync-to-comms mode (bit 6), a durability
 * hook that fails every other write (bit 5) and a port whose sends fail (bit 1). Each input starts from the same meter
 * (meter_fixture.h) and delivers the datagram twice, with a 1 s cycle between, so a
 * write is committed and logged before the second delivery reads it back.
 *
 * The link's role (Annex J): bit 2 makes it a BBMD (the sender 127.0.0.9 both a BDT
 * peer and a registered foreign device, a one-hop peer subnet, a second foreign
 * device; bit 4: our own entry one-hop and Write-BDT accepted); bit 3 (without bit 2)
 * a foreign device of 127.0.0.9 (bit 4: its registration acknowledged). Between the
 * deliveries 60 s pass on the link's clock: the 30 s registration lapses, a foreign
 * device renews. Every datagram sent is checked against what the role may send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bacnet/bac.h"
#include "bip/bip.h"
#include "meter_fixture.h"
#include "objects/obj.h"

static obj_device_t dev;
static bac_server_t srv;
static bip_t bip;
static bip_bbmd_t bbmd;
static uint32_t now_ms;

static int send_fails;

/* What each role may send: a plain node only NPDUs and Results; a foreign device also
 * its registration and Distribute-Broadcast-To-Network, to its BBMD alone; a BBMD also
 * Forwarded-NPDUs (never to itself or back to their originator) and table acks. */
static bool allowed(uint8_t func, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    switch (func) {
    case BIP_RESULT: return len == 6;
    case BIP_ORIGINAL_UNICAST: return len <= BIP_MAX_DATAGRAM;
    case BIP_ORIGINAL_BROADCAST: return bip.fd.state == BIP_FD_NONE && len <= BIP_MAX_DATAGRAM;
    case BIP_REGISTER_FD: return bip.fd.state != BIP_FD_NONE && len == 6;
    case BIP_DISTRIBUTE_BROADCAST:
        return bip.fd.state != BIP_FD_NONE && !memcmp(to, &bip.fd.bbmd, 6) &&
               len <= BIP_MAX_DATAGRAM;
    case BIP_FORWARDED_NPDU:
        return bip.bbmd && len >= 10 && len <= BIP_BBMD_FWD_MAX && memcmp(to, &bip.self, 6) &&
               memcmp(to, data + 4, 6);
    case BIP_READ_BDT_ACK: return bip.bbmd && (len - 4) % 10 == 0 && len <= 4 + 10 * BIP_BDT_MAX;
    case BIP_READ_FDT_ACK: return bip.bbmd && (len - 4) % 10 == 0 && len <= 4 + 10 * BIP_FDT_MAX;
    }
    return false;
}

static int check_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    /* A well-formed BVLL its role may send; an NPDU of ours of at most BVLC + NPDU
     * header + 480 octets. */
    if (len < 4 || len > BIP_BBMD_BUF || data[0] != 0x81 || (size_t)(data[2] << 8 | data[3]) != len ||
        !allowed(data[1], to, data, len))
        abort();
    return send_fails ? -1 : 0;
}

/* The tables never hold more than they may, nor an entry past its time. */
static void check_tables(void)
{
    bip_bdt_entry_t e;
    bip_fdt_row_t r;
    size_t i = 0;
    while (bip_bdt_get(&bip, i, &e))
        i++;
    if (i > BIP_BDT_MAX)
        abort();
    for (i = 0; bip_fdt_get(&bip, i, &r); i++)
        if (i >= BIP_FDT_MAX || r.remaining_s == 0 || r.remaining_s > r.ttl_s + BIP_FDT_GRACE_S)
            abort();
}

/* The role the flags pick; a BBMD's tables filled through the wire, as peers fill them. */
static void start_role(uint8_t flags, const bip_addr_t *self, const bip_addr_t *peer)
{
    bip_tick(&bip, 0);
    if (flags & 4) {
        bip_addr_t fd2, subnet;
        bip_addr_parse("127.0.0.20", 47809, &fd2);
        bip_addr_parse("127.0.2.1", 47808, &subnet);
        const uint8_t ones[4] = {255, 255, 255, 255}, slash24[4] = {255, 255, 255, 0};
        bip_bbmd_init(&bbmd);
        bbmd.accept_write_bdt = flags & 0x10;
        bip_bdt_add(&bbmd, self, (flags & 0x10) ? slash24 : ones);
        bip_bdt_add(&bbmd, peer, ones);
        bip_bdt_add(&bbmd, &subnet, slash24);
        bip_bbmd_attach(&bip, &bbmd);
        static const uint8_t reg30[] = {0x81, 0x05, 0x00, 0x06, 0x00, 30};
        static const uint8_t reg600[] = {0x81, 0x05, 0x00, 0x06, 0x02, 0x58};
        bip_receive(&bip, peer, reg30, sizeof reg30);
        bip_receive(&bip, &fd2, reg600, sizeof reg600);
        if (bip_register_foreign(&bip, peer, 60) != -1)
            abort(); /* a BBMD is no foreign device */
    } else if (flags & 8) {
        bip_register_foreign(&bip, peer, 30);
        if (flags & 0x10) {
            static const uint8_t ack[] = {0x81, 0x00, 0x00, 0x06, 0x00, 0x00};
            bip_receive(&bip, peer, ack, sizeof ack);
        }
    }
}

/* The server as the layer above the link; what the link hands up is checked: a 6-octet
 * source, room for any answer. */
static size_t up_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                         size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    (void)ctx;
    if (src->len != 6 || cap != BIP_MAX_NPDU || (len && !npdu))
        abort();
    return bac_server_handle(&srv, now_ms, npdu, len, bcast, out, cap, reply_bcast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bip_addr_t self, bcast, peer[2];
    if (size < 1)
        return 0;
    if (!peer[0].octets[0]) {
        bip_addr_parse("127.0.0.1", 47808, &self);
        bip_addr_parse("127.255.255.255", 47808, &bcast);
        bip_addr_parse("127.0.0.9", 47808, &peer[0]);
        bip_addr_parse("127.0.0.1", 47808, &peer[1]);
    }
    int variant = (data[0] & 0x40) ? FIX_SYNC_TO_COMMS : FIX_LOGGING;
    fix_restore_variant(&dev, variant);
    bac_server_init(&srv, &dev, (data[0] & 0x80) ? "pw" : NULL);
    if (data[0] & 0x20)
        srv.on_write = fix_flaky_hook;
    bip_port_t port = {NULL, check_send};
    bip_init(&bip, &port, &self, &bcast, &(net_upper_t){.receive = up_receive});
    send_fails = data[0] & 2;
    start_role(data[0], &self, &peer[0]);
    /* An exact-size copy, so that any read past the datagram is caught. */
    uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
    memcpy(copy, data + 1, size - 1);
    now_ms = 0;
    bip_receive(&bip, &peer[data[0] & 1], copy, size - 1);
    if (bac_server_reinit_requested(&srv, NULL)) {
        /* As the host does once the ACK is out: restart, then announce down the link. */
        uint8_t i_am[64];
        obj_restart(&dev, false);
        size_t n = bac_server_i_am(&srv, i_am, sizeof i_am);
        net_link_t link = bip_link(&bip);
        if (n)
            link.send(link.ctx, NULL, i_am, n);
    }
    fix_cycle_variant(&dev, variant);
    now_ms = 60000;
    check_tables();
    bip_tick(&bip, 60);
    bip_receive(&bip, &peer[data[0] & 1], copy, size - 1);
    check_tables();
    free(copy);
    return 0;
}
