/*
 * MS/TP on Linux serial ports and ptys: termios2 (any rate, 76800 included, through
 * BOTHER), RS-485 mode where the driver has it, framing errors marked in the input, and
 * the glue between the fd and an mstp_t (the port's send, the receive drain, a capture).
 *
 * <termios.h> is not used: its struct termios clashes with the kernel's, and only the
 * kernel's termios2 carries an arbitrary rate.
 */
#define _GNU_SOURCE
#include "port.h"

#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

uint32_t lx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int lx_serial_set_baud(int fd, uint32_t baud)
{
    if (!obj_baud_valid(baud)) {
        errno = EINVAL;
        return -1;
    }
    struct termios2 t;
    if (ioctl(fd, TCGETS2, &t) < 0)
        return -1;
    /* Raw 8N1, no flow control, the receiver on, modem lines ignored. INPCK + PARMRK
     * (and not IGNPAR, ISTRIP): an octet with a framing error arrives as \377 \0 c, a
     * break as \377 \0 \0, and a real \377 as \377 \377. */
    t.c_iflag = INPCK | PARMRK;
    t.c_oflag = 0;
    t.c_lflag = 0;
    t.c_cflag = CS8 | CREAD | CLOCAL | BOTHER | (BOTHER << IBSHIFT);
    t.c_ispeed = t.c_ospeed = baud;
    memset(t.c_cc, 0, sizeof t.c_cc);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    return ioctl(fd, TCSETS2, &t);
}

int lx_serial_open(const char *path, uint32_t baud, bool *rs485, char *err, size_t errlen)
{
    if (rs485)
        *rs485 = false;
    if (!obj_baud_valid(baud)) {
        snprintf(err, errlen, "%s: %u baud: the meter has 9600, 19200, 38400, 76800, 115200",
                 path, baud);
        return -1;
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (lx_serial_set_baud(fd, baud) < 0) {
        snprintf(err, errlen, "%s: cannot set %u baud 8N1: %s", path, baud, strerror(errno));
        close(fd);
        return -1;
    }
    /* RS-485 half duplex in the driver: RTS high while sending drives the transmitter;
     * no extra delays (the turnaround is ours). ENOTTY (a pty, a driver without it) or
     * EINVAL: an adapter that switches by itself, or none: carry on. */
    struct serial_rs485 r;
    memset(&r, 0, sizeof r);
    r.flags = SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
    if (ioctl(fd, TIOCSRS485, &r) == 0) {
        if (rs485)
            *rs485 = true;
    } else if (errno != ENOTTY && errno != EINVAL && errno != EOPNOTSUPP) {
        snprintf(err, errlen, "%s: RS-485 mode: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    ioctl(fd, TCFLSH, TCIOFLUSH); /* whatever was pending belongs to nobody */
    return fd;
}

/* ---- the glue to an mstp_t ---------------------------------------------------------- */

int lx_mstp_open(lx_mstp_t *l, const char *path, uint32_t baud, lx_pcap_t *pcap,
                 mstp_port_t *port, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = lx_serial_open(path, baud, NULL, err, errlen);
    if (l->fd < 0)
        return -1;
    l->baud = baud;
    l->pcap = pcap;
    mstp_rx_init(&l->sniff, 0, true, 100000);
    port->ctx = l;
    port->send = lx_mstp_send;
    port->test_response = NULL;
    return l->fd;
}

int lx_mstp_set_baud(lx_mstp_t *l, uint32_t baud)
{
    if (lx_serial_set_baud(l->fd, baud) < 0)
        return -1;
    l->baud = baud;
    return 0;
}

static void sleep_until_us(uint32_t t)
{
    for (;;) {
        int32_t left = (int32_t)(t - lx_now_us());
        if (left <= 0)
            return;
        struct timespec ts = {0, (long)left * 1000};
        nanosleep(&ts, NULL);
    }
}

int lx_mstp_send(void *ctx, const uint8_t *frame, size_t n)
{
    lx_mstp_t *l = ctx;
    /* Tturnaround: 40 bit times after the last octet received before driving the line
     * (at most 4.2 ms, at 9600 baud). */
    if (l->have_rx)
        sleep_until_us(l->last_rx_us + (40u * 1000000u + l->baud - 1) / l->baud);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(l->fd, frame + done, n - done);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {l->fd, POLLOUT, 0};
            poll(&p, 1, 100);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            l->tx_errors++;
            return -1;
        }
    }
    l->tx_frames++;
    if (l->pcap)
        lx_pcap_frame(l->pcap, wall_us(), frame, n);
    return 0;
}

/* The capture's own receive FSM: keep the octets of the frame in progress and record
 * it when it ends whole (valid, or with a CRC error for Wireshark to flag). */
static void sniff(lx_mstp_t *l, int octet, uint32_t t)
{
    if (!l->pcap)
        return;
    uint8_t before = l->sniff.state;
    int ev = octet < 0 ? mstp_rx_error(&l->sniff, t) : mstp_rx_octet(&l->sniff, (uint8_t)octet, t);
    if (octet < 0)
        return;
    if (before <= MSTP_RS_PREAMBLE && l->sniff.state == MSTP_RS_HEADER)
        l->raw_len = 0, l->raw[l->raw_len++] = 0x55; /* 55 FF just completed */
    if (before >= MSTP_RS_PREAMBLE && l->raw_len < sizeof l->raw)
        l->raw[l->raw_len++] = (uint8_t)octet;
    if (ev == MSTP_RX_FRAME || ev == MSTP_RX_BAD_HEADER || ev == MSTP_RX_BAD_DATA)
        lx_pcap_frame(l->pcap, wall_us(), l->raw, l->raw_len);
}

static void octet_in(lx_mstp_t *l, mstp_t *m, int octet, uint32_t t)
{
    if (octet < 0) {
        l->rx_errors++;
        mstp_rx_err(m, t);
    } else {
        l->rx_octets++;
        mstp_rx(m, (uint8_t)octet, t);
    }
    sniff(l, octet, t);
    l->last_rx_us = t;
    l->have_rx = true;
}

long lx_mstp_drain(lx_mstp_t *l, mstp_t *m)
{
    uint8_t buf[1024];
    long total = 0;
    for (;;) {
        ssize_t n = read(l->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return total;
        if (n <= 0) {
            if (n == 0)
                errno = EPIPE; /* the other end of a pty went away */
            return total ? total : -1;
        }
        /* The octets of one read all arrived by now: octet k of n completed at the
         * latest (n - 1 - k) octet times ago. Never before what came earlier. */
        uint32_t now = lx_now_us();
        uint32_t octet_us = (10u * 1000000u + l->baud - 1) / l->baud;
        uint32_t t = now - (uint32_t)(n - 1) * octet_us;
        if (l->have_rx && (int32_t)(t - l->last_rx_us) < 0)
            t = l->last_rx_us;
        for (ssize_t i = 0; i < n; i++) {
            uint8_t c = buf[i];
            uint32_t ti = (int32_t)(now - t) > 0 ? t : now;
            t += octet_us;
            if (l->mark_zero) { /* \377 \0 c: c had a framing error (or c = 0: a break) */
                l->mark_zero = false;
                octet_in(l, m, -1, ti);
            } else if (l->mark) {
                l->mark = false;
                if (c == 0)
                    l->mark_zero = true;
                else
                    octet_in(l, m, c, ti); /* \377 \377: a real \377 */
            } else if (c == 0xFF) {
                l->mark = true;
            } else {
                octet_in(l, m, c, ti);
            }
        }
        total += n;
    }
}

void lx_mstp_close(lx_mstp_t *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}
