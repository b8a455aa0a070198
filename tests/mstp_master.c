/*
 * A test master for tests/e2e_mstp.sh: an MS/TP master node on a serial port or pty
 * that joins the meter's ring and reads and writes it, checking every answer.
 * Usage: mstp_master PTY BAUD OUR_MAC METER_MAC DEVICE_ID [ADVANCE_COMMAND]
 * ADVANCE_COMMAND (run by /bin/sh) makes a meter on virtual time process one second
 * (`s4100 ctl --control PATH advance 1`); the master keeps its node running meanwhile.
 * Without it, the meter's own clock is waited for.
 * Prints one line per check and "N passed, M failed"; exit status 0 when all passed.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bacnet/bac.h"
#include "mstp/mstp.h"
#include "port.h"
#include "sim.h"

static uint8_t reply[MSTP_MAX_DATA];
static size_t reply_len;
static int reply_type = -1;
static int passed, failed;

static void keep(int type, const uint8_t *data, size_t len)
{
    if (len > sizeof reply)
        return;
    memcpy(reply, data, len);
    reply_len = len;
    reply_type = type;
}

/* The layer above the master's node: it keeps what arrives and answers nothing. */
static size_t on_npdu(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                      size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    (void)ctx, (void)src, (void)bcast, (void)out, (void)cap, (void)reply_bcast;
    /* An unconfirmed request (the meter's I-Am at start-up) or a network message is
     * nobody's answer: only what follows our request is kept. */
    size_t o = 2;
    if (len < 2 || (npdu[1] & 0x80))
        return 0;
    if ((npdu[1] & 0x20) && len > o + 2)
        o += 3 + npdu[o + 2];
    if ((npdu[1] & 0x08) && len > o + 2)
        o += 3 + npdu[o + 2];
    if (npdu[1] & 0x20)
        o++;
    if (o >= len || npdu[o] >> 4 == 1)
        return 0;
    keep(MSTP_DATA_NOT_EXPECTING_REPLY, npdu, len);
    return 0;
}

static void on_test_response(void *ctx, uint8_t src, const uint8_t *data, size_t len)
{
    (void)ctx, (void)src;
    keep(MSTP_TEST_RESPONSE, data, len);
}

static lx_mstp_t mlink;
static mstp_t node;

/* Run the node until a frame arrives for us or timeout_ms passes. */
static bool pump(int timeout_ms)
{
    uint32_t end = lx_now_ms() + (uint32_t)timeout_ms;
    while ((int32_t)(end - lx_now_ms()) > 0) {
        struct pollfd pf = {.fd = mlink.fd, .events = POLLIN};
        poll(&pf, 1, 1);
        if (pf.revents & POLLIN)
            lx_mstp_drain(&mlink, &node);
        mstp_tick(&node, lx_now_us());
        if (reply_type >= 0)
            return true;
    }
    return false;
}

/* Run the node while `cmd` runs (at most timeout_ms): whether it exited with status 0. */
static bool pump_while(const char *cmd, int timeout_ms)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    uint32_t end = lx_now_ms() + (uint32_t)timeout_ms;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if ((int32_t)(end - lx_now_ms()) <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return false;
        }
        pump(5);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Send an NPDU expecting a reply; returns the reply's APDU (after the 2-octet NPDU). */
static const uint8_t *transact(uint8_t meter, const uint8_t *npdu, size_t n, size_t *apdu_len)
{
    reply_type = -1;
    if (mstp_queue(&node, MSTP_DATA_EXPECTING_REPLY, meter, npdu, n) < 0)
        return NULL;
    if (!pump(5000) || reply_len < 2)
        return NULL;
    *apdu_len = reply_len - 2;
    return reply + 2;
}

static void check(bool cond, const char *what)
{
    printf("%s - %s\n", cond ? "ok" : "FAIL", what);
    cond ? passed++ : failed++;
}

/* The device's object identifier, 4 octets: type << 22 | instance. */
static size_t put_dev(uint8_t *p, uint32_t dev_id)
{
    uint32_t v = 8u << 22 | dev_id;
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
    return 4;
}

static size_t hex(const char *s, uint8_t *out)
{
    size_t n = 0;
    unsigned v;
    for (; *s; s++)
        if (*s != ' ' && sscanf(s, "%2x", &v) == 1)
            out[n++] = (uint8_t)v, s++;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: mstp_master PTY BAUD OUR_MAC METER_MAC DEVICE_ID [ADVANCE_COMMAND]\n");
        return 2;
    }
    const char *advance = argc == 7 ? argv[6] : NULL;
    uint32_t baud = (uint32_t)atol(argv[2]);
    uint8_t mac = (uint8_t)atoi(argv[3]), meter = (uint8_t)atoi(argv[4]);
    uint32_t dev_id = (uint32_t)atol(argv[5]);
    char err[300];
    mstp_port_t port;
    if (lx_mstp_open(&mlink, argv[1], baud, NULL, &port, err, sizeof err) < 0) {
        fprintf(stderr, "mstp_master: %s\n", err);
        return 2;
    }
    port.test_response = on_test_response;
    mstp_config_t cfg;
    mstp_config_default(&cfg);
    cfg.mac = mac, cfg.max_master = (uint8_t)(meter + 2), cfg.baud = baud;
    if (!mstp_init(&node, &port, &cfg, &(net_upper_t){NULL, on_npdu}, lx_now_us())) {
        fprintf(stderr, "mstp_master: bad settings\n");
        return 2;
    }
    /* The ring forms: our token reaches the meter and comes back (once the meter has
     * started: a bounded wait for I/O). */
    uint32_t join_end = lx_now_ms() + 10000;
    while (node.c.tokens_received == 0 && (int32_t)(join_end - lx_now_ms()) > 0) {
        reply_type = -1; /* (the meter's I-Am at start-up is no reason to stop) */
        pump(100);
    }
    reply_type = -1;
    check(node.c.tokens_received > 0, "joined the meter's ring (token received)");

    uint8_t npdu[600];
    size_t n, al;
    const uint8_t *a;

    /* Object_List[0] = 113 */
    n = hex("01 04 00 05 01 0C 0C", npdu);
    n += put_dev(npdu + n, dev_id);
    n += hex("19 4C 29 00", npdu + n);
    a = transact(meter, npdu, n, &al);
    check(a && al >= 4 && a[0] == 0x30 && a[al - 3] == 0x21 && a[al - 2] == 113,
          "ReadProperty Object_List[0] = 113 over MS/TP");

    /* Every object's Object_Name, one ReadProperty each, read from the list. */
    int names = 0;
    for (unsigned k = 1; k <= 113; k++) {
        uint8_t q[40];
        size_t qn = hex("01 04 00 05 02 0C 0C", q);
        qn += put_dev(q + qn, dev_id);
        q[qn++] = 0x19, q[qn++] = 0x4C, q[qn++] = 0x29, q[qn++] = (uint8_t)k;
        a = transact(meter, q, qn, &al);
        if (!a || a[0] != 0x30 || al < 16)
            continue;
        /* the element: C4 + 4 octets before the closing 3F */
        bac_oid_t o = {(uint16_t)(a[al - 5] << 2 | a[al - 4] >> 6),
                       (uint32_t)(a[al - 4] & 0x3F) << 16 | (uint32_t)a[al - 3] << 8 | a[al - 2]};
        n = sim_bus_rp_npdu(npdu, sizeof npdu, 3, o, 77 /* Object_Name */);
        const uint8_t *b = transact(meter, npdu, n, &al);
        if (b && b[0] == 0x30 && al > 12)
            names++;
    }
    printf("# read %d object names\n", names);
    check(names == 113, "Object_Name of every object in the Object_List");

    /* All 83 AI Present_Values in three ReadPropertyMultiple requests. */
    int values = 0;
    for (unsigned first = 1; first <= 83; first += 28) {
        bac_oid_t oids[28];
        size_t cnt = 0;
        for (unsigned k = first; k <= 83 && cnt < 28; k++)
            oids[cnt++] = (bac_oid_t){0, k};
        n = sim_bus_rpm_npdu(npdu, sizeof npdu, 4, oids, cnt, 85);
        a = transact(meter, npdu, n, &al);
        if (a && a[0] == 0x30)
            for (size_t k = 0; k + 1 < al; k++)
                if (a[k] == 0x4E && a[k + 1] == 0x44)
                    values++;
    }
    check(values == 83, "ReadPropertyMultiple of all 83 AI Present_Values (3 requests)");

    /* Writes: Location accepted and read back; AV3 refused out of range, then accepted. */
    n = hex("01 04 00 05 05 0F 0C", npdu);
    n += put_dev(npdu + n, dev_id);
    n += hex("19 3A 3E 75 0A 00 52 53 2D 34 38 35 20 6C 6E 3F", npdu + n); /* "RS-485 ln" */
    a = transact(meter, npdu, n, &al);
    check(a && al == 3 && a[0] == 0x20, "WriteProperty Location over MS/TP: Simple-ACK");
    n = hex("01 04 00 05 06 0C 0C", npdu);
    n += put_dev(npdu + n, dev_id);
    n += hex("19 3A", npdu + n);
    a = transact(meter, npdu, n, &al);
    check(a && al > 10 && memmem(a, al, "RS-485 ln", 9) != NULL, "Location reads back");
    n = hex("01 04 00 05 07 0F 0C 00 80 00 03 19 55 3E 44 40 80 00 00 3F", npdu); /* AV3 4 A */
    a = transact(meter, npdu, n, &al);
    check(a && al == 7 && a[0] == 0x50 && a[6] == 37, "AV3 = 4: Error value-out-of-range");
    n = hex("01 04 00 05 08 0F 0C 00 80 00 03 19 55 3E 44 43 48 00 00 3F", npdu); /* 200 A */
    a = transact(meter, npdu, n, &al);
    check(a && al == 3 && a[0] == 0x20, "AV3 = 200: Simple-ACK");
    reply_type = -1;
    if (advance) /* committed at the next 1 s cycle */
        check(pump_while(advance, 30000), "the meter advanced one second");
    else
        pump(1500);
    n = hex("01 04 00 05 09 0C 0C 00 80 00 03 19 55", npdu);
    a = transact(meter, npdu, n, &al);
    check(a && al >= 6 && memcmp(a + al - 5, "\x43\x48\x00\x00\x3F", 5) == 0, "AV3 reads 200.0");

    /* Test_Request -> Test_Response with the same data. */
    reply_type = -1;
    mstp_queue(&node, MSTP_TEST_REQUEST, meter, (const uint8_t *)"s4100", 5);
    check(pump(3000) && reply_type == MSTP_TEST_RESPONSE && reply_len == 5 &&
              memcmp(reply, "s4100", 5) == 0, "Test_Request answered by Test_Response");

    /* Every answer within the master's Treply_timeout. (The meter's own latency figure
     * on a pty is an estimate from wire time at the baud rate, which a pty does not
     * impose: it runs ahead; docs/mstp.md.) */
    check(node.c.reply_timeouts == 0 && node.c.invalid_frames == 0,
          "no reply timeouts, no invalid frames seen by the master");
    printf("# master: %u tokens, %u lost, %u invalid frames, %u reply timeouts\n",
           node.c.tokens_received, node.c.lost_tokens, node.c.invalid_frames, node.c.reply_timeouts);
    printf("%d passed, %d failed\n", passed, failed);
    lx_mstp_close(&mlink);
    return failed ? 1 : 0;
}
