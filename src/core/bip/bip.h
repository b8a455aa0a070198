/*
 * s4100 BACnet/IP data link (ASHRAE 135 Annex J): a plain node, a BBMD, or a foreign
 * device.
 *
 * Receives BVLL datagrams and hands their NPDUs to the layer above through a
 * net_upper_t (net/net.h), wrapping its answer; takes NPDUs down through the net_link_t
 * of bip_link. It knows datagrams and addresses, never the object model or the server.
 * Datagrams leave through a port function, like an lwIP netif's output: the core never
 * touches a socket. No heap, no OS.
 *
 * A plain node NAKs the BBMD functions. Attaching a bip_bbmd_t (its tables and
 * buffer, kept apart so the many nodes that are not BBMDs stay small) makes it a BBMD
 * (J.4, J.5.2); bip_register_foreign makes it a foreign device of a remote BBMD
 * (J.5.2.1), its broadcasts then sent as Distribute-Broadcast-To-Network. Time enters
 * only through bip_tick. docs/bbmd.md has the choices.
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

/* BVLC-Result codes (J.2.1.1). */
enum {
    BIP_RESULT_OK = 0x0000,
    BIP_NAK_WRITE_BDT = 0x0010,
    BIP_NAK_READ_BDT = 0x0020,
    BIP_NAK_REGISTER_FD = 0x0030,
    BIP_NAK_READ_FDT = 0x0040,
    BIP_NAK_DELETE_FDT = 0x0050,
    BIP_NAK_DISTRIBUTE = 0x0060,
};

/* Table sizes, overridable at build time (-DBIP_FDT_MAX=200). */
#ifndef BIP_BDT_MAX
#define BIP_BDT_MAX 16u
#endif
#ifndef BIP_FDT_MAX
#define BIP_FDT_MAX 64u
#endif
/* A foreign device that hears nothing back registers again this often (seconds). */
#ifndef BIP_FD_RETRY_S
#define BIP_FD_RETRY_S 10u
#endif
#define BIP_FDT_GRACE_S 30u /* J.5.2.3: an FDT entry outlives its TTL by this */
/* A BBMD forwards what other devices broadcast, not only our 480-octet APDUs: up to
 * B/IP's own largest NPDU (1497 octets). */
#define BIP_BBMD_MAX_NPDU 1497u
#define BIP_BBMD_FWD_MAX (10u + BIP_BBMD_MAX_NPDU) /* a Forwarded-NPDU */
#define BIP_BBMD_TABLE_MAX (BIP_BDT_MAX > BIP_FDT_MAX ? BIP_BDT_MAX : BIP_FDT_MAX)
#define BIP_BBMD_BUF \
    (BIP_BBMD_FWD_MAX > 4u + 10u * BIP_BBMD_TABLE_MAX ? BIP_BBMD_FWD_MAX \
                                                      : 4u + 10u * BIP_BBMD_TABLE_MAX)

/* An IPv4 address and UDP port, in network order, as B/IP carries them (6 octets). */
typedef struct {
    uint8_t octets[6];
} bip_addr_t;

typedef struct {
    void *ctx;
    /* Send one datagram; returns 0 or a negative error (counted, not retried). */
    int (*send)(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len);
} bip_port_t;

/* One Broadcast Distribution Table entry (J.4.3.2): a BBMD and the mask that says how
 * to reach its subnet — all ones: unicast to it, and it broadcasts ("two-hop");
 * otherwise a directed broadcast to address | ~mask ("one-hop"). */
typedef struct {
    bip_addr_t addr;
    uint8_t mask[4];
} bip_bdt_entry_t;

/* One Foreign Device Table entry as Read-FDT-Ack and the Network_Port show it. */
typedef struct {
    bip_addr_t addr;
    uint16_t ttl_s;       /* as registered */
    uint16_t remaining_s; /* until purged, the 30 s grace included (J.5.2.3) */
} bip_fdt_row_t;

/* A BBMD's state, attached to one bip_t (bip_bbmd_attach). Set the flags after
 * bip_bbmd_init; the tables through bip_bdt_add and the wire. */
typedef struct bip_bbmd {
    bip_bdt_entry_t bdt[BIP_BDT_MAX];
    struct {
        bip_addr_t addr;
        uint16_t ttl_s;
        uint32_t expires_s; /* bip_tick time at which it is purged */
    } fdt[BIP_FDT_MAX];
    uint16_t bdt_n, fdt_n;
    bool accept_fd;        /* Register-Foreign-Device accepted (default true) */
    bool accept_write_bdt; /* Write-BDT accepted (default false: NAK, J.4.4.2) */
    /* forwarded: Forwarded-NPDU datagrams sent; registrations: accepted (a renewal
     * too); refused: NAKed; too_long: NPDUs too big to forward. */
    uint32_t forwarded, registrations, refused, expired, deleted, bdt_writes, too_long;
    uint8_t buf[BIP_BBMD_BUF]; /* Forwarded-NPDUs and table acks are built here */
} bip_bbmd_t;

/* A foreign device's registration with its BBMD. */
typedef enum {
    BIP_FD_NONE,       /* not a foreign device */
    BIP_FD_PENDING,    /* registration sent, no answer yet (or the last one lapsed) */
    BIP_FD_REGISTERED, /* acknowledged, and not yet past its TTL */
    BIP_FD_REFUSED,    /* NAKed: tried again every BIP_FD_RETRY_S */
} bip_fd_state_t;

typedef struct {
    bip_port_t port;
    bip_addr_t self;      /* our address: our own broadcasts come back and are dropped */
    bip_addr_t broadcast; /* the local broadcast address and port */
    net_upper_t up;       /* receive NULL: a node that only sends */
    bip_bbmd_t *bbmd;     /* NULL: not a BBMD */
    uint32_t now_s;       /* the last bip_tick */
    struct {
        bip_addr_t bbmd;
        uint16_t ttl_s;
        uint8_t state;    /* bip_fd_state_t */
        uint32_t next_s;  /* when the next Register-Foreign-Device goes */
        uint32_t until_s; /* end of the registration the last ack proved */
    } fd;
    uint32_t rx, tx, dropped, send_errors;
    uint32_t nak_tx, nak_rx, fd_register_tx;
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

/* Send an NPDU: Original-Unicast to one address, or a broadcast (to NULL):
 * Original-Broadcast on a plain node; that plus a Forwarded-NPDU to every peer and
 * foreign device on a BBMD; Distribute-Broadcast-To-Network to its BBMD on a foreign
 * device. */
int bip_send(bip_t *b, const bip_addr_t *to, const uint8_t *npdu, size_t len);

/* The link as the layer above sees it: send wraps an NPDU as bip_send does, dst a
 * 6-octet address, or NULL / length 0 for the local broadcast (any other length: -1). */
net_link_t bip_link(bip_t *b);

/* Time, in seconds of any monotonic count: purges expired FDT entries, renews a
 * foreign device's registration. Call it before the first datagram and then about
 * once a second; registrations received are timed from the last call. */
void bip_tick(bip_t *b, uint32_t now_s);

/* Empty tables, registrations accepted, Write-BDT refused. */
void bip_bbmd_init(bip_bbmd_t *m);

/* Make b a BBMD with m (NULL: a plain node again). -1 if b is a foreign device. */
int bip_bbmd_attach(bip_t *b, bip_bbmd_t *m);

/* Add a BDT entry, or set the mask of the one with that address; -1 when full. The
 * table holds every BBMD of the site, this one too: its own entry's mask says how the
 * peers reach it (J.4.5), and it is never sent to. */
int bip_bdt_add(bip_bbmd_t *m, const bip_addr_t *addr, const uint8_t mask[4]);
void bip_bdt_clear(bip_bbmd_t *m);

/* Entry i of b's BDT / FDT; false past the end or when b is not a BBMD. */
bool bip_bdt_get(const bip_t *b, size_t i, bip_bdt_entry_t *out);
bool bip_fdt_get(const bip_t *b, size_t i, bip_fdt_row_t *out);

/* Register with the BBMD at bbmd for ttl_s seconds (1..65535), at once and again
 * each ttl_s / 2 (BIP_FD_RETRY_S while unanswered); broadcasts then go to it as
 * Distribute-Broadcast-To-Network. bbmd NULL: stop (the BBMD lets the entry lapse).
 * -1 if b is a BBMD or ttl_s is 0. */
int bip_register_foreign(bip_t *b, const bip_addr_t *bbmd, uint16_t ttl_s);
bip_fd_state_t bip_foreign_state(const bip_t *b);

/* "a.b.c.d" + port -> address; false if malformed. */
bool bip_addr_parse(const char *ip, uint16_t port, bip_addr_t *out);

#endif
