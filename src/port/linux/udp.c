#define _GNU_SOURCE
#include "port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint32_t lx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

double lx_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int lx_udp_open(const char *bind_ip, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, bind_ip, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "--bind %s: not an IPv4 address", bind_ip);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        snprintf(err, errlen, "bind %s:%u: %s", bind_ip, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int lx_udp_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    int fd = (int)(intptr_t)ctx;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    memcpy(&sa.sin_addr, to->octets, 4);
    memcpy(&sa.sin_port, to->octets + 4, 2);
    ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
    return n == (ssize_t)len ? 0 : -1;
}

long lx_udp_recv(int fd, bip_addr_t *from, uint8_t *buf, size_t cap)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    ssize_t n = recvfrom(fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&sa, &sl);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    if ((size_t)n > cap)
        return 0; /* larger than any BACnet/IP datagram we accept: drop it */
    memcpy(from->octets, &sa.sin_addr, 4);
    memcpy(from->octets + 4, &sa.sin_port, 2);
    return (long)n;
}

int lx_signals_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int lx_udp_batch_recv(lx_udp_batch_t *u)
{
    struct mmsghdr mm[LX_UDP_BATCH];
    struct iovec iov[LX_UDP_BATCH];
    struct sockaddr_in sa[LX_UDP_BATCH];
    memset(mm, 0, sizeof mm);
    lx_udp_rx_t *rx = u->rx;
    for (unsigned k = 0; k < LX_UDP_BATCH; k++) {
        iov[k] = (struct iovec){rx->data[k], LX_UDP_DGRAM};
        mm[k].msg_hdr.msg_iov = &iov[k];
        mm[k].msg_hdr.msg_iovlen = 1;
        mm[k].msg_hdr.msg_name = &sa[k];
        mm[k].msg_hdr.msg_namelen = sizeof sa[k];
    }
    int n = recvmmsg(u->fd, mm, LX_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
        rx->n = 0;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    unsigned kept = 0;
    for (int k = 0; k < n; k++) {
        if (mm[k].msg_hdr.msg_flags & MSG_TRUNC)
            continue; /* larger than any BACnet/IP datagram we accept */
        if (kept != (unsigned)k)
            memcpy(rx->data[kept], rx->data[k], mm[k].msg_len);
        rx->len[kept] = (uint16_t)mm[k].msg_len;
        memcpy(rx->from[kept].octets, &sa[k].sin_addr, 4);
        memcpy(rx->from[kept].octets + 4, &sa[k].sin_port, 2);
        kept++;
    }
    rx->n = kept;
    return (int)kept;
}

int lx_udp_batch_flush(lx_udp_batch_t *u)
{
    struct mmsghdr mm[LX_UDP_BATCH];
    struct iovec iov[LX_UDP_BATCH];
    struct sockaddr_in sa[LX_UDP_BATCH];
    unsigned done = 0;
    int rc = 0;
    memset(mm, 0, sizeof mm);
    for (unsigned k = 0; k < u->tx_n; k++) {
        sa[k] = (struct sockaddr_in){.sin_family = AF_INET};
        memcpy(&sa[k].sin_addr, u->tx_to[k].octets, 4);
        memcpy(&sa[k].sin_port, u->tx_to[k].octets + 4, 2);
        iov[k] = (struct iovec){u->tx[k], u->tx_len[k]};
        mm[k].msg_hdr.msg_iov = &iov[k];
        mm[k].msg_hdr.msg_iovlen = 1;
        mm[k].msg_hdr.msg_name = &sa[k];
        mm[k].msg_hdr.msg_namelen = sizeof sa[k];
    }
    while (done < u->tx_n) {
        int n = sendmmsg(u->fd, mm + done, u->tx_n - done, 0);
        if (n <= 0) {
            rc = -1; /* a full socket buffer: the rest is lost, as a datagram may be */
            break;
        }
        done += (unsigned)n;
    }
    u->tx_n = 0;
    return rc;
}

void lx_udp_batch_drop(lx_udp_batch_t *u)
{
    u->tx_n = 0;
}

int lx_udp_batch_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    lx_udp_batch_t *u = ctx;
    if (len > LX_UDP_TX_DGRAM)
        return -1;
    if (u->tx_n == LX_UDP_BATCH && lx_udp_batch_flush(u) < 0)
        return -1;
    memcpy(u->tx[u->tx_n], data, len);
    u->tx_len[u->tx_n] = (uint16_t)len;
    u->tx_to[u->tx_n] = *to;
    u->tx_n++;
    return 0;
}
