/*
 * s4100 data-link interface (prefix net_): what a link and the layer above it see of
 * each other, in the manner of lwIP's netif — a struct of function pointers and a
 * context in each direction. A link knows frames and addresses; the layer above knows
 * NPDUs. Neither includes the other: a BACnet/IP port, an MS/TP node, the meter's
 * application layer and (later) a router all meet here.
 *
 * Portable core: no heap, no OS, no stdio, no mutable globals.
 */
#ifndef S4100_NET_H
#define S4100_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ADDR_MAX 7u /* the longest MAC a link uses (BACnet/IP: 6) */

/* net_link_t.send: "not now, try again later" (any other negative is a hard error). */
#define NET_ERR_BUSY (-2)

/* A link-layer address: BACnet/IP 6 octets (IPv4 + port), MS/TP 1; len 0 is the local
 * broadcast. */
typedef struct {
    uint8_t len;
    uint8_t mac[NET_ADDR_MAX];
} net_addr_t;

/* Down: what the layer above may ask of a link. */
typedef struct {
    void *ctx;
    /* Send one NPDU to dst (NULL or len 0: the local broadcast). Returns 0;
     * NET_ERR_BUSY when the link cannot take it now but will later (its own queue is
     * full: the caller keeps it and offers it again after the link has been ticked);
     * or another negative error (counted by the link, not retried). A link that can
     * only send when it may (MS/TP: holding the token) queues it. */
    int (*send)(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len);
    uint16_t max_npdu; /* the largest NPDU the link carries */
} net_link_t;

/* Up: what a link hands to the layer above. receive is synchronous so that a link that
 * must answer within a deadline (MS/TP's Treply_delay) gets the answer at once: the
 * reply NPDU, if any, is written into out (at most cap octets) and its length
 * returned, 0 for none; *reply_bcast says it goes to the local broadcast rather than
 * back to src. */
typedef struct {
    void *ctx;
    size_t (*receive)(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                      size_t len, uint8_t *out, size_t cap, bool *reply_bcast);
} net_upper_t;

/* The network layer on top of this (clause 6 messages and the router) is
 * net/net_router.h: it needs the NPDU codec of bacnet/bac.h, which no data link may
 * pull in (tests/test_net_links.c checks that). */

#endif
