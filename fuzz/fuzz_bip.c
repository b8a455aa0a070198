/*
 * Fuzz the whole receive path of a live meter: BVLC -> NPDU -> APDU -> every service
 * -> object reads and writes -> the reply. Any datagram must be answered within the
 * limits (never more than 480 octets of APDU) or dropped, never crash or overrun.
 * The first octet picks how the datagram arrived (its source address); the device is
 * reset every run so inputs are independent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bacnet/bac.h"
#include "bip/bip.h"
#include "objects/obj.h"

static obj_device_t dev;
static bac_server_t srv;
static bip_t bip;
static size_t last_len;

static int check_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)to;
    /* A reply is a well-formed BVLL of at most BVLC + NPDU header + 480 octets. */
    if (len < 4 || len > BIP_MAX_DATAGRAM || data[0] != 0x81 || (size_t)(data[2] << 8 | data[3]) != len)
        abort();
    last_len = len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "FUZZ");
    id.instance = 1234;
    mtr_config_default(&cfg);
    obj_init(&dev, &id, &cfg, NULL);
    bac_server_init(&srv, &dev, (data[0] & 0x80) ? "pw" : NULL);
    bip_addr_t self, bcast, peer;
    bip_addr_parse("127.0.0.1", 47808, &self);
    bip_addr_parse("127.255.255.255", 47808, &bcast);
    bip_addr_parse((data[0] & 1) ? "127.0.0.1" : "127.0.0.9", 47808, &peer);
    bip_port_t port = {NULL, check_send};
    bip_init(&bip, &port, &self, &bcast, &srv);
    /* Feed the datagram twice, with a 1 s metering cycle between: state carries over. */
    uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
    memcpy(copy, data + 1, size - 1);
    bip_receive(&bip, 0, &peer, copy, size - 1);
    static mtr_frame_t zero[MTR_FS];
    mtr_feed(&dev.mtr, zero, MTR_FS, NULL);
    obj_cycle(&dev);
    bip_receive(&bip, 60000, &peer, copy, size - 1);
    free(copy);
    return 0;
}
