/*
 * The Linux side of the port: what the core's data links and the host loop need from
 * the OS. Prefix lx_.
 */
#ifndef S4100_PORT_LINUX_H
#define S4100_PORT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "bip/bip.h"

/* Monotonic clock. */
uint32_t lx_now_ms(void);
double lx_now_s(void);

/* A UDP socket for BACnet/IP: bound to bind_ip:port with SO_BROADCAST. Returns the fd,
 * or -1 with a message in err. */
int lx_udp_open(const char *bind_ip, uint16_t port, char *err, size_t errlen);

/* bip_port_t send function; ctx is (intptr_t)fd. */
int lx_udp_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len);

/* Receive one datagram (non-blocking): its length, 0 if none, -1 on error. */
long lx_udp_recv(int fd, bip_addr_t *from, uint8_t *buf, size_t cap);

/* Batched UDP: one recvmmsg for everything queued, and the replies collected and sent
 * with one sendmmsg, so the kernel's cost per request stays below a plain
 * recvfrom/sendto server's. Use lx_udp_batch_send as the bip_port_t send function
 * (ctx = the lx_udp_batch_t) and flush after handling a received batch. */
#define LX_UDP_BATCH 32
#define LX_UDP_DGRAM 1536
typedef struct {
    int fd;
    unsigned rx_n;                       /* datagrams in the last receive */
    uint16_t rx_len[LX_UDP_BATCH];
    bip_addr_t rx_from[LX_UDP_BATCH];
    uint8_t rx[LX_UDP_BATCH][LX_UDP_DGRAM];
    unsigned tx_n;
    uint16_t tx_len[LX_UDP_BATCH];
    bip_addr_t tx_to[LX_UDP_BATCH];
    uint8_t tx[LX_UDP_BATCH][LX_UDP_DGRAM];
} lx_udp_batch_t;
/* Receive what is queued (non-blocking): the number of datagrams, -1 on error. */
int lx_udp_batch_recv(lx_udp_batch_t *u);
int lx_udp_batch_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len);
int lx_udp_batch_flush(lx_udp_batch_t *u);

/* A signalfd delivering SIGINT and SIGTERM (both blocked for the process). */
int lx_signals_open(void);

#endif
