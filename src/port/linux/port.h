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

/* ---- non-volatile store in a file (nv_file.c) ---------------------------------------- */

#include <stdbool.h>

#include "nv/nv.h"

/* The backing file of an nv_store_t: a 4 KB header page (magic "S4100-NV", the medium
 * size) and the medium. One process at a time (flock). */
typedef struct {
    int fd;
    uint32_t size; /* medium bytes */
    bool nosync;   /* sync does nothing: faster, not crash-safe (benchmarks only) */
} lx_nv_file_t;

enum {
    LX_NV_OPENED = 0,  /* an existing store */
    LX_NV_CREATED = 1, /* it did not exist: a new, empty store was created (atomically) */
    LX_NV_WARN = 2,    /* opened, but see err: the file was truncated (the missing part
                          reads as damaged) or a header copy was damaged */
};

/* Open the store file at path for a medium of `size` bytes (nv_medium_size(&layout)),
 * creating it when missing, and fill *port. Returns an LX_NV_ status, or -1 with the
 * reason (and the path) in err: cannot open or create, locked by another process, not
 * an s4100 NV store (magic), header damaged, made for another medium size, too large. */
int lx_nv_open(lx_nv_file_t *f, const char *path, uint32_t size, nv_port_t *port, char *err,
               size_t errlen);
void lx_nv_close(lx_nv_file_t *f);

/* The nv_port_t functions (ctx is the lx_nv_file_t). */
int lx_nv_read(void *ctx, uint32_t off, void *buf, size_t n);
int lx_nv_write(void *ctx, uint32_t off, const void *buf, size_t n);
int lx_nv_sync(void *ctx);

#endif
