/*
 * s4100 BACnet/IP data link (ASHRAE 135 Annex J), as a non-BBMD node.
 *
 * Receives BVLL datagrams and hands their NPDUs to the layer above through a
 * net_upper_t (net/net.h), wrapping its answer; takes NPDUs down through the net_link_t
 * of bip_link. It knows datagrams and addresses, never the object model or the server.
 * Datagrams leave through a port function, like an lwIP netif's output: the core never
 * touches a socket. No heap, no OS.
 */
#ifndef S4100_BIP_H
#define S4100_BIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

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
    net_upper_t up;       /* receive NULL: a node that only sends */
    uint32_t rx, tx, dropped, send_errors;
    uint8_t txbuf[BIP_MAX_DATAGRAM];
} bip_t;

/* up may be NULL: a node that only sends. */
void bip_init(bip_t *b, const bip_port_t *port, const bip_addr_t *self,
              const bip_addr_t *broadcast, const net_upper_t *up);

/* One received datagram. Its NPDU goes up with the source as a 6-octet net_addr_t (a
 * Forwarded-NPDU's: its originator) and whether it came as a broadcast; the answer, if
 * any, goes out through the port before this returns. The layer above must not send
 * through this link from within that receive: the answer is built in the link's
 * buffer. */
void bip_receive(bip_t *b, const bip_addr_t *from, const uint8_t *data, size_t len);

/* Send an NPDU: Original-Broadcast (to NULL), or Original-Unicast to one address. */
int bip_send(bip_t *b, const bip_addr_t *to, const uint8_t *npdu, size_t len);

/* The link as the layer above sees it: send wraps an NPDU as bip_send does, dst a
 * 6-octet address, or NULL / length 0 for the local broadcast (any other length: -1). */
net_link_t bip_link(bip_t *b);

/* "a.b.c.d" + port -> address; false if malformed. */
bool bip_addr_parse(const char *ip, uint16_t port, bip_addr_t *out);

#endif
