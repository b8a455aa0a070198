/*
 * MS/TP on a Linux pty: a meter's node on the slave end (lx_mstp_*, termios2 at 76800,
 * PARMRK framing-error marks), the test as a master on the other end; captures in pcap
 * files (link type 165) read back with libpcap and, when tshark is installed, checked
 * by tshark for malformed frames and CRC errors.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <asm/termbits.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "port.h"
#include "sim.h"

static meter_t mt;
static mstp_t node;
static lx_mstp_t link_;
static int master = -1;
static char slave[128];

static void open_pty(void)
{
    master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    assert_int_equal(ptsname_r(master, slave, sizeof slave), 0);
}

static void start_meter(lx_pcap_t *cap)
{
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "PTY");
    id.instance = 1234;
    id.mac = 5;
    mtr_config_default(&cfg);
    meter_init(&mt, &id, &cfg, NULL);
    open_pty();
    mstp_port_t port;
    char err[200];
    int fd = lx_mstp_open(&link_, slave, 76800, cap, &port, err, sizeof err);
    if (fd < 0)
        fail_msg("%s", err);
    /* As a host starts one: the device's settings make the link's; the meter above the
     * node, its I-Am down the node's link. */
    mstp_config_t mc;
    mstp_config_default(&mc);
    mc.mac = id.mac;
    mc.max_master = id.max_master;
    mc.max_info_frames = id.max_info_frames;
    mc.baud = id.baud;
    net_upper_t up = meter_upper(&mt);
    assert_true(mstp_init(&node, &port, &mc, &up, lx_now_us()));
    net_link_t link = mstp_link(&node);
    meter_set_link(&mt, &link);
    meter_tick(&mt, lx_now_ms());
    meter_announce(&mt);
}

static void stop_meter(void)
{
    lx_mstp_close(&link_);
    close(master);
    master = -1;
}

/* Run the node's loop for ms milliseconds, collecting what it sends in out. */
static size_t pump(int ms, uint8_t *out, size_t cap)
{
    size_t got = 0;
    uint32_t end = lx_now_us() + (uint32_t)ms * 1000u;
    while ((int32_t)(end - lx_now_us()) > 0) {
        struct pollfd p[2] = {{link_.fd, POLLIN, 0}, {master, POLLIN, 0}};
        poll(p, 2, 1);
        if (p[0].revents & POLLIN)
            assert_true(lx_mstp_drain(&link_, &node) >= 0);
        mstp_tick(&node, lx_now_us());
        meter_tick(&mt, lx_now_ms());
        ssize_t n;
        while (got < cap && (n = read(master, out + got, cap - got)) > 0)
            got += (size_t)n;
    }
    return got;
}

static void send_frame(uint8_t type, uint8_t dst, uint8_t src, const uint8_t *data, size_t len)
{
    uint8_t f[MSTP_MAX_FRAME];
    size_t n = mstp_encode(f, sizeof f, type, dst, src, data, len);
    assert_int_equal(write(master, f, n), (ssize_t)n);
}

static void test_termios2_baud(void **state)
{
    (void)state;
    open_pty();
    char err[200];
    bool rs485 = true;
    int fd = lx_serial_open(slave, 76800, &rs485, err, sizeof err);
    if (fd < 0)
        fail_msg("%s", err);
    assert_false(rs485); /* a pty has no RS-485 mode: ENOTTY, ignored */
    struct termios2 t;
    assert_int_equal(ioctl(fd, TCGETS2, &t), 0);
    assert_int_equal(t.c_ospeed, 76800);
    assert_int_equal(t.c_cflag & CSIZE, CS8);
    const uint32_t rates[] = {9600, 19200, 38400, 76800, 115200};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lx_serial_set_baud(fd, rates[i]), 0);
        assert_int_equal(ioctl(fd, TCGETS2, &t), 0);
        assert_int_equal(t.c_ospeed, rates[i]);
        assert_int_equal(t.c_ispeed, rates[i]);
    }
    assert_int_equal(lx_serial_set_baud(fd, 57600), -1);
    assert_int_equal(lx_serial_open(slave, 1200, NULL, err, sizeof err), -1);
    assert_int_equal(lx_serial_open("/nonexistent/tty", 9600, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/tty"));
    close(fd);
    close(master);
}

static void test_pty_exchange(void **state)
{
    (void)state;
    start_meter(NULL);
    uint8_t out[4096];
    mstp_frame_t f;
    /* A poll for master: the FF of the preamble followed by 00 must not read as a
     * framing-error mark (PARMRK doubles a real \377). */
    send_frame(MSTP_POLL_FOR_MASTER, 5, 3, NULL, 0);
    size_t n = pump(30, out, sizeof out);
    assert_int_equal(n, 8);
    assert_int_equal(mstp_decode(out, n, &f), 8);
    assert_int_equal(f.type, MSTP_REPLY_TO_PFM);
    assert_int_equal(f.dst, 3);
    assert_int_equal(link_.rx_errors, 0);
    /* ReadProperty Device Object_Name, answered at once. */
    uint8_t rq[64];
    size_t rn = sim_bus_rp_npdu(rq, sizeof rq, 7, (bac_oid_t){OBJ_DEVICE, 1234},
                                BAC_PROP_OBJECT_NAME);
    send_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, rn);
    n = pump(50, out, sizeof out);
    int fl = mstp_decode(out, n, &f);
    assert_true(fl > 0);
    assert_int_equal(f.type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(f.dst, 3);
    assert_int_equal(f.data[2], 0x30); /* Complex-ACK */
    assert_int_equal(f.data[3], 7);
    /* A data frame full of \377: each one doubled by the tty, undone by the drain. */
    static uint8_t ff[200];
    memset(ff, 0xFF, sizeof ff);
    send_frame(MSTP_TEST_REQUEST, 5, 3, ff, sizeof ff);
    n = pump(60, out, sizeof out);
    fl = mstp_decode(out, n, &f);
    assert_true(fl > 0);
    assert_int_equal(f.type, MSTP_TEST_RESPONSE);
    assert_int_equal(f.len, sizeof ff);
    assert_memory_equal(f.data, ff, sizeof ff);
    /* The token: the start-up I-Am goes, then the poll for a successor. */
    send_frame(MSTP_TOKEN, 5, 3, NULL, 0);
    n = pump(30, out, sizeof out);
    fl = mstp_decode(out, n, &f);
    assert_true(fl > 0);
    assert_int_equal(f.type, MSTP_DATA_NOT_EXPECTING_REPLY);
    assert_int_equal(f.dst, 255);
    assert_int_equal(mstp_decode(out + fl, n - (size_t)fl, &f), 8);
    assert_int_equal(f.type, MSTP_POLL_FOR_MASTER);
    assert_int_equal(f.dst, 6);
    assert_int_equal(node.c.invalid_frames, 0);
    stop_meter();
}

static int tshark_clean(const char *path, long *frames)
{
    char cmd[512];
    if (system("command -v tshark >/dev/null 2>&1") != 0)
        return -1;
    /* Malformed frames and any expert warning (bad CRCs are errors) print a line. */
    snprintf(cmd, sizeof cmd,
             "tshark -r %s -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null",
             path);
    FILE *p = popen(cmd, "r");
    char line[512];
    int bad = 0;
    while (fgets(line, sizeof line, p)) {
        printf("tshark: %s", line);
        bad++;
    }
    pclose(p);
    snprintf(cmd, sizeof cmd, "tshark -r %s -Y mstp 2>/dev/null | wc -l", path);
    p = popen(cmd, "r");
    if (!fgets(line, sizeof line, p) || sscanf(line, "%ld", frames) != 1)
        *frames = -1;
    pclose(p);
    return bad;
}

/* Read a capture back with libpcap: link type 165, every record one whole frame. */
static long check_capture(const char *path, long *bad_crc)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p)
        fail_msg("%s", err);
    assert_int_equal(pcap_datalink(p), 165);
    struct pcap_pkthdr *h;
    const u_char *d;
    long n = 0;
    *bad_crc = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        mstp_frame_t f;
        int r = mstp_decode(d, h->caplen, &f);
        if (r == MSTP_E_HEADER_CRC || r == MSTP_E_DATA_CRC)
            (*bad_crc)++;
        else
            assert_int_equal(r, (int)h->caplen);
        n++;
    }
    pcap_close(p);
    return n;
}

static void test_capture_pty(void **state)
{
    (void)state;
    char path[] = "/tmp/s4100-mstp-pty-XXXXXX.pcap";
    int tmp = mkstemps(path, 5);
    assert_true(tmp >= 0);
    close(tmp);
    char err[200];
    lx_pcap_t *cap = lx_pcap_open(path, err, sizeof err);
    if (!cap)
        fail_msg("%s", err);
    start_meter(cap);
    uint8_t out[4096], rq[64];
    send_frame(MSTP_POLL_FOR_MASTER, 5, 3, NULL, 0);
    pump(20, out, sizeof out);
    size_t rn = sim_bus_rp_npdu(rq, sizeof rq, 1, (bac_oid_t){OBJ_AI, 1}, BAC_PROP_PRESENT_VALUE);
    send_frame(MSTP_DATA_EXPECTING_REPLY, 5, 3, rq, rn);
    pump(30, out, sizeof out);
    /* A frame with a bad data CRC is captured too (for Wireshark to flag). */
    uint8_t f[64];
    size_t fn = mstp_encode(f, sizeof f, MSTP_DATA_NOT_EXPECTING_REPLY, 255, 3, rq, rn);
    f[fn - 1] ^= 0x5A;
    assert_int_equal(write(master, f, fn), (ssize_t)fn);
    pump(20, out, sizeof out);
    stop_meter();
    /* In: PFM, DER, the damaged frame; out: Reply-To-PFM, the answer. */
    assert_int_equal(lx_pcap_frames(cap), 5);
    lx_pcap_close(cap);
    long bad;
    assert_int_equal(check_capture(path, &bad), 5);
    assert_int_equal(bad, 1);
    long frames;
    int r = tshark_clean(path, &frames);
    if (r >= 0) {
        assert_int_equal(frames, 5);
        assert_int_equal(r, 1); /* exactly the damaged frame */
    }
    unlink(path);
}

static void test_capture_virtual_bus(void **state)
{
    (void)state;
    /* A virtual bus captured whole: 8 meters and a client reading from each. */
    char path[] = "/tmp/s4100-mstp-bus-XXXXXX.pcap";
    int tmp = mkstemps(path, 5);
    assert_true(tmp >= 0);
    close(tmp);
    char err[200];
    lx_pcap_t *cap = lx_pcap_open(path, err, sizeof err);
    assert_non_null(cap);
    sim_bus_t *b = sim_bus_new(76800, 3);
    for (int i = 0; i < 8; i++)
        sim_bus_add_meter(b, (uint8_t)(10 + i * 3), 127);
    int client = sim_bus_add_client(b, 0, 127, 1);
    sim_bus_monitor(b, lx_pcap_frame, cap);
    sim_bus_run(b, 4000000);
    uint8_t rq[64], reply[MSTP_MAX_DATA];
    for (int i = 0; i < 8; i++) {
        size_t rn = sim_bus_rp_npdu(rq, sizeof rq, (uint8_t)i,
                                    (bac_oid_t){OBJ_DEVICE, 100010u + (uint32_t)i * 3},
                                    BAC_PROP_OBJECT_NAME);
        assert_true(sim_bus_transact(b, client, (uint8_t)(10 + i * 3), rq, rn, reply,
                                     sizeof reply, 2000000) > 0);
    }
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    sim_bus_free(b);
    long n = (long)lx_pcap_frames(cap);
    lx_pcap_close(cap);
    assert_int_equal(n, (long)st.frames);
    long bad;
    assert_int_equal(check_capture(path, &bad), n);
    assert_int_equal(bad, 0);
    long frames;
    int r = tshark_clean(path, &frames);
    if (r >= 0) {
        printf("tshark decoded %ld MS/TP frames of the virtual bus, none malformed\n", frames);
        assert_int_equal(r, 0);
        assert_int_equal(frames, n);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_termios2_baud),
        cmocka_unit_test(test_pty_exchange),
        cmocka_unit_test(test_capture_pty),
        cmocka_unit_test(test_capture_virtual_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
