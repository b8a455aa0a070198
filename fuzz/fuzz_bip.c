/*
 * Fuzz the whole receive path of a live meter: BVLC -> NPDU (up through net_upper_t)
 * -> APDU -> every service -> object reads and writes -> the reply. Any datagram must be answered within the
 * limits (never more than 480 octets of APDU) or dropped, never crash or overrun.
 * The first octet picks how the datagram arrived (bit 0: from our own address), whether
 * a password is set (bit 7), the meter in sync-to-comms mode (bit 6), a durability
 * hook that fails every other write (bit 5) and a port whose sends fail (bit 1). Each input starts from the same meter
 * (meter_fixture.h) and delivers the datagram twice, with a 1 s cycle between, so a
 * write is committed and logged before the second delivery reads it back.
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
static uint32_t now_ms;

static int send_fails;

static int check_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)to;
    /* A reply is a well-formed BVLL of at most BVLC + NPDU header + 480 octets. */
    if (len < 4 || len > BIP_MAX_DATAGRAM || data[0] != 0x81 || (size_t)(data[2] << 8 | data[3]) != len)
        abort();
    return send_fails ? -1 : 0;
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
    bip_receive(&bip, &peer[data[0] & 1], copy, size - 1);
    free(copy);
    return 0;
}
