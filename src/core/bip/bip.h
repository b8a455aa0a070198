/*
 * s4100 BACnet/IP data link (ASHRAE 135 Annex J), as a non-BBMD node.
 *
 * Receives BVLL datagrams, hands their NPDUs to the application (bac_server_handle) and
 * wraps the answers. Sending goes through a port function, like an lwIP netif's
 * output: the core never touches a socket. No heap, no OS.
 */
#ifndef S4100_BIP_H
#define S4100_BIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bacnet/bac.h"

#define BIP_BVLC_TYPE 0x81u
#define BIP_MAX_APDU 480u
#define BIP_MAX_NPDU (BIP_MAX_APDU + 32u) /* NPDU header with DNET/DADR, SNET/SADR */
#define BIP_MAX_DATAGRAM (4u + 6u + BIP_MAX_NPDU) /* BVLC + forwarded address + NPDU */

/* BVLC functions. */
enum {
    BIP_RESULT = 0x00,
    BIP_WRITE_BDT = 0x01,
    BIP_READ_BDT = 0x02,
    BIP_READ_BDT_ACK = 0x03,
    BIP_FORWARDED_NPDU = 0x04,
    BIP_REGISTER_FD = 0x05,
    BIP_READ_FDT = 0x06,
    BIP_READ_FDT_ACK = 0x07,
    BIP_DELETE_FDT_ENTRY = 0x08,
    BIP_DISTRIBUTE_BROADCAST = 0x09,
    BIP_ORIGINAL_UNICAST = 0x0A,
    BIP_ORIGINAL_BROADCAST = 0x0B,
};

/* An IPv4 address and UDP port, in network order, as B/IP carries them (6 octets). */
typedef struct {
    uint8_t octets[6];
} bip_addr_t;

typedef struct {
    void *ctx;
    /* Send one datagram; returns 0 or a negative error (counted, not retried). */
    int (*send)(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len);
} bip_port_t;

typedef struct {
    bip_port_t port;
    bip_addr_t self;      /* our address: our own broadcasts come back and are dropped */
    bip_addr_t broadcast; /* the local broadcast address and port */
    bac_server_t *srv;
    uint32_t rx, tx, dropped, send_errors;
    uint8_t txbuf[BIP_MAX_DATAGRAM];
} bip_t;

void bip_init(bip_t *b, const bip_port_t *port, const bip_addr_t *self,
              const bip_addr_t *broadcast, bac_server_t *srv);

/* One received datagram. Answers (if any) go out through the port before it returns. */
void bip_receive(bip_t *b, uint32_t now_ms, const bip_addr_t *from, const uint8_t *data,
                 size_t len);

/* Send an NPDU the device initiates (I-Am at start-up): broadcast, or to one address. */
int bip_send(bip_t *b, const bip_addr_t *to, const uint8_t *npdu, size_t len);

/* "a.b.c.d" + port -> address; false if malformed. */
bool bip_addr_parse(const char *ip, uint16_t port, bip_addr_t *out);

#endif
