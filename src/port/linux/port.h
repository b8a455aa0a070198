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
#define LX_UDP_DGRAM 1536 /* the largest datagram received (larger ones are dropped) */
#define LX_UDP_TX_DGRAM BIP_MAX_DATAGRAM /* the largest a meter sends */
/* What one receive takes in: shared by every socket of a process, whose datagrams are
 * handled one socket after another (96 KB once, not per meter). */
typedef struct {
    unsigned n;
    uint16_t len[LX_UDP_BATCH];
    bip_addr_t from[LX_UDP_BATCH];
    uint8_t data[LX_UDP_BATCH][LX_UDP_DGRAM];
} lx_udp_rx_t;
/* One socket: its replies queue here until flushed (17 KB). */
typedef struct {
    int fd;
    lx_udp_rx_t *rx;                     /* the process's receive buffer */
    unsigned tx_n;
    uint16_t tx_len[LX_UDP_BATCH];
    bip_addr_t tx_to[LX_UDP_BATCH];
    uint8_t tx[LX_UDP_BATCH][LX_UDP_TX_DGRAM];
} lx_udp_batch_t;
/* Receive what is queued (non-blocking) into u->rx: the number of datagrams, -1 on
 * error. */
int lx_udp_batch_recv(lx_udp_batch_t *u);
/* Forget the replies queued (they are not to leave). */
void lx_udp_batch_drop(lx_udp_batch_t *u);
int lx_udp_batch_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len);
int lx_udp_batch_flush(lx_udp_batch_t *u);

/* A signalfd delivering SIGINT and SIGTERM (both blocked for the process). */
int lx_signals_open(void);

/* ---- non-volatile store in a file (nv_file.c) ---------------------------------------- */

#include <stdbool.h>

#include "nv/nv.h"

/* The backing file of an nv_store_t: a 4 KB header page (magic "S4100-NV", the medium
 * size) and the medium. One process at a time (flock). */
struct lx_nv_group;
typedef struct {
    int fd;
    uint32_t size; /* medium bytes */
    bool nosync;   /* sync does nothing: faster, not crash-safe (benchmarks only) */
    int err;       /* errno of the last write or sync that failed (0: none yet) */
    /* Group commit (lx_nv_group_t): while defer is set, a sync leaves the data for the
     * group's next flush instead of an fdatasync of its own. */
    struct lx_nv_group *group;
    bool defer;
    bool dirty;    /* written since the last sync or flush */
    bool pending;  /* a deferred sync waits for the flush */
} lx_nv_file_t;

/* Group commit for the stores of one process (s4100 run --meters N): a checkpoint a
 * second for every meter cannot each fdatasync, so routine saves (energy, new trend
 * records) defer their sync and one flush a tick makes all of them durable at once —
 * one syncfs() per file system. Two saves of one file never both wait: a write to a
 * file whose deferred sync is still pending syncs it first, so at most one save per
 * store is ever in flight (the crash-safe format's rule). Acknowledged writes do not
 * defer: they are durable before their acknowledgement, as without a group. A flush
 * that fails turns deferring off for good (every save syncs on its own again). */
typedef struct lx_nv_group {
    lx_nv_file_t **files; /* the members (the host allocates; not the core) */
    unsigned n, cap;
    bool off;             /* a flush failed */
    uint64_t deferred;    /* syncs left to a flush */
    uint64_t forced;      /* deferred syncs made early: the file was written again */
    uint64_t flushes;     /* syncfs() calls */
    uint64_t failures;    /* flushes that failed */
} lx_nv_group_t;

/* Join f to g (g grows as needed); 0 or -1 (out of memory). */
int lx_nv_group_add(lx_nv_group_t *g, lx_nv_file_t *f);
/* Make every deferred sync durable: one syncfs() per file system holding a pending
 * file. 0, or -1 when one failed (deferring then stops). */
int lx_nv_group_flush(lx_nv_group_t *g);
/* Members with a deferred sync waiting. */
unsigned lx_nv_group_pending(const lx_nv_group_t *g);
void lx_nv_group_free(lx_nv_group_t *g);

enum {
    LX_NV_OPENED = 0,  /* an existing store */
    LX_NV_CREATED = 1, /* it did not exist: a new, empty store was created (atomically) */
    LX_NV_WARN = 2,    /* opened, but see err: the file was truncated (the missing part
                          reads as damaged) or a header copy was damaged */
};

/* Open the store file at path for a medium of `size` bytes (nv_medium_size(&layout)),
 * creating it when missing, and fill *port. Returns an LX_NV_ status, or -1 with the
 * reason (and the path) in err: cannot open or create, locked by another process, not
 * an s4100 NV store (magic), header damaged, made for another medium size, too large.
 * The file's blocks are allocated up front (fallocate), so a disk that fills up later
 * cannot make a save fail on a file system that overwrites in place (ext4, xfs); where
 * it still happens (copy-on-write file systems, quotas) write and sync return
 * NV_ENOSPC. */
int lx_nv_open(lx_nv_file_t *f, const char *path, uint32_t size, nv_port_t *port, char *err,
               size_t errlen);
void lx_nv_close(lx_nv_file_t *f);

/* The nv_port_t functions (ctx is the lx_nv_file_t). */
int lx_nv_read(void *ctx, uint32_t off, void *buf, size_t n);
int lx_nv_write(void *ctx, uint32_t off, const void *buf, size_t n);
int lx_nv_sync(void *ctx);

/* ------------------------------------------------------------------------------------
 * MS/TP on a serial port or a pty (serial.c), and captures (pcap.c).
 */
#include "mstp/mstp.h"

/* Monotonic microseconds, wrapping like the MS/TP core's clock. */
uint32_t lx_now_us(void);

/* Open a serial device (or a pty) raw 8N1 at baud (9600, 19200, 38400, 76800 through
 * termios2/BOTHER, 115200), non-blocking, with framing errors marked in the input
 * (PARMRK), and Linux RS-485 mode (TIOCSRS485: RTS drives the transmitter) where the
 * driver has it; *rs485 (may be NULL) says whether it is on (a pty has none). Returns
 * the fd, or -1 with the reason in err. */
int lx_serial_open(const char *path, uint32_t baud, bool *rs485, char *err, size_t errlen);
int lx_serial_set_baud(int fd, uint32_t baud); /* 0 or -1 (errno) */

typedef struct lx_pcap lx_pcap_t;

/* One MS/TP link on a serial fd: the port the mstp_t sends through, the receive side
 * that feeds it, and an optional capture of every frame seen (both ways). */
typedef struct {
    int fd;
    uint32_t baud;
    uint32_t last_rx_us;  /* when the last octet arrived: the turnaround runs from it */
    bool have_rx;
    bool mark;            /* PARMRK: inside a \377 escape ... */
    bool mark_zero;       /* ... \377 \0 seen: the next octet had a framing error */
    lx_pcap_t *pcap;      /* NULL: no capture */
    mstp_rx_t sniff;      /* a promiscuous receive FSM: what the capture records */
    uint8_t raw[MSTP_MAX_FRAME];
    size_t raw_len;
    uint32_t rx_octets, rx_errors, tx_frames, tx_errors;
} lx_mstp_t;

/* Open path at baud for MS/TP (lx_serial_open) and fill *port for mstp_init: its send
 * waits out the turnaround (40 bit times after the last octet received) then writes the
 * whole frame. pcap may be NULL. Returns the fd or -1 with err. */
int lx_mstp_open(lx_mstp_t *l, const char *path, uint32_t baud, lx_pcap_t *pcap,
                 mstp_port_t *port, char *err, size_t errlen);
/* The mstp_port_t send function (ctx is the lx_mstp_t). */
int lx_mstp_send(void *ctx, const uint8_t *frame, size_t n);
/* Read what has arrived (non-blocking) into the node: octets timestamped by when they
 * must have completed (the read time, minus an octet time for each later octet in the
 * same read), framing errors as mstp_rx_err. Call when poll() says the fd is readable,
 * and call mstp_tick at least every millisecond besides. USB adapters hand octets over
 * in chunks a few milliseconds apart, which looks like a Tframe_abort gap inside a
 * frame: give such a node a longer Tframe_abort (mstp_config_t.frame_abort_us, up to
 * 100 ms). Returns the octets read, 0 if none, -1 on an error or hang-up (errno). */
long lx_mstp_drain(lx_mstp_t *l, mstp_t *m);
/* Change the line speed (after mstp_set_baud). */
int lx_mstp_set_baud(lx_mstp_t *l, uint32_t baud);
void lx_mstp_close(lx_mstp_t *l);

/* Whole MS/TP frames out of a line that delivers octets in pieces (a USB RS-485
 * adapter's chunks, QEMU's UART one octet per write, a descheduled peer), for a bridge
 * that puts them onto a virtual bus: a frame goes on as one transmission, as it lay on
 * the wire, whatever pauses the host put inside it. Octets that are no frame (no
 * preamble, a bad header CRC) pass on as they came; a frame still incomplete after
 * abort_us (Clause 9's longest Tframe_abort, 100 ms) passes on as the fragment it is. */
#define LX_LINE_ABORT_US 100000u
typedef void (*lx_line_emit_fn)(void *ctx, const uint8_t *octets, size_t n);
typedef struct {
    uint8_t buf[MSTP_MAX_FRAME];
    size_t n;
    uint64_t first_us; /* when the oldest octet held arrived */
    uint32_t frames, fragments, pieces; /* frames whole; passed on unframed; reads held */
} lx_line_t;
/* Take n octets read at now_us; pass on what is complete. */
void lx_line_push(lx_line_t *l, const uint8_t *p, size_t n, uint64_t now_us,
                  lx_line_emit_fn emit, void *ctx);
/* Pass on an incomplete frame held for abort_us or more. Returns the microseconds until
 * one would be (UINT64_MAX: nothing held), for a poll timeout. */
uint64_t lx_line_expire(lx_line_t *l, uint64_t now_us, uint64_t abort_us,
                        lx_line_emit_fn emit, void *ctx);

/* A pcap file of MS/TP frames, link type 165 (DLT_BACNET_MS_TP: each record one frame
 * from the preamble on), which Wireshark and tshark decode. Returns NULL with err. */
lx_pcap_t *lx_pcap_open(const char *path, char *err, size_t errlen);
/* Record one frame seen at t_us (any clock; written as seconds.microseconds). The
 * signature of sim_bus_monitor's callback, so a virtual bus can be captured too. */
void lx_pcap_frame(void *pcap, uint64_t t_us, const uint8_t *frame, size_t n);
uint64_t lx_pcap_frames(const lx_pcap_t *p);
void lx_pcap_close(lx_pcap_t *p); /* NULL is fine */

#endif
