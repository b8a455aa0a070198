/*
 * MS/TP on the virtual bus: 32 meters and a client master at 76.8 k and 115.2 k.
 * Prints the token rotation time and the points per second a client reads, each next
 * to the wire's theoretical maximum and the ratio, and the meter's reply latency in
 * host CPU time (last octet in -> first octet out).
 *
 * How the maxima are computed (bit times b = 1 / baud; an octet is 10 b):
 *  - A token hop cannot be shorter than the turnaround every station must leave after
 *    the last octet it received (Tturnaround, 40 b) plus the 8-octet Token frame (80 b):
 *    120 b. A rotation of N masters is N hops.
 *  - Clause 9 also obliges each master to poll the empty addresses between itself and
 *    its successor: with g of them, one Poll For Master per token for g tokens out of
 *    every Npoll - 1 + g (TokenCount runs 1..Npoll-1, then one poll per token until PS
 *    reaches NS - 1). An unanswered poll costs the PFM frame (80 b) plus Tusage_timeout
 *    (20 ms, its minimum). So the mean rotation is at least
 *        N * 120 b  +  sum_i g_i / (Npoll - 1 + g_i) * (80 b + 20 ms).
 *    With MACs 0..N-1 and Max_Master N-1 there are no gaps and only the first term.
 *  - A client master sending F requests per token adds, per request, the request frame
 *    and the reply frame, each after a turnaround: (40 + 10 (10 + Lq)) b + (40 +
 *    10 (10 + La)) b for NPDUs of Lq and La octets (8 header + 2 CRC octets each).
 *    Reading P points per request, the most points per second is
 *        F * P / (rotation + F * exchange).
 *    (and P / exchange if the client could keep the token for ever: the wire bound).
 * The simulated meters answer in zero host time, so the ratios measure the protocol
 * machinery: the node timers' 1 ms tick, and the state machines' choices.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define N_METERS 32
#define POINTS 20      /* Present_Values per ReadPropertyMultiple */
#define CLIENT_MIF 4   /* the client's Max_Info_Frames (the meters': 1, as the datasheet) */

static const uint8_t scattered[N_METERS] = {3,   7,   12,  18,  19,  25,  31,  34,  40,  44,  51,
                                            53,  58,  64,  66,  71,  77,  80,  85,  90,  93,  99,
                                            101, 104, 110, 112, 115, 118, 121, 124, 125, 127};

static double bits_s(uint32_t baud, double bits)
{
    return bits / baud;
}

/* The theoretical mean rotation of the masters at macs[0..n) with Max_Master mm. */
static double rotation_max_s(uint32_t baud, const uint8_t *macs, int n, int mm)
{
    double t = n * bits_s(baud, 120);
    for (int i = 0; i < n; i++) {
        int next = -1, lowest = 256;
        for (int j = 0; j < n; j++) {
            if (macs[j] > macs[i] && (next < 0 || macs[j] < next))
                next = macs[j];
            if (macs[j] < lowest)
                lowest = macs[j];
        }
        int ns = next >= 0 ? next : lowest;
        int g = ((ns - macs[i] - 1) % (mm + 1) + (mm + 1)) % (mm + 1);
        t += (double)g / (MSTP_NPOLL - 1 + g) * (bits_s(baud, 80) + MSTP_USAGE_TIMEOUT_MIN_US / 1e6);
    }
    return t;
}

static size_t rpm_request(uint8_t *out, size_t cap, uint8_t invoke)
{
    bac_oid_t oids[POINTS];
    for (int i = 0; i < POINTS; i++)
        oids[i] = (bac_oid_t){OBJ_AI, (uint32_t)(i + 1)};
    return sim_bus_rpm_npdu(out, cap, invoke, oids, POINTS, BAC_PROP_PRESENT_VALUE);
}

static void run(uint32_t baud, bool spread)
{
    uint8_t macs[N_METERS + 1];
    int mm = spread ? 127 : N_METERS;
    sim_bus_t *b = sim_bus_new(baud, 1);
    int client = sim_bus_add_client(b, 0, (uint8_t)mm, CLIENT_MIF);
    macs[0] = 0;
    for (int i = 0; i < N_METERS; i++) {
        macs[i + 1] = spread ? scattered[i] : (uint8_t)(i + 1);
        sim_bus_add_meter(b, macs[i + 1], (uint8_t)mm);
    }
    sim_bus_run(b, 10000000); /* the ring forms */

    /* Token rotation with nothing to send, over 5 minutes: the polls come in bursts once
     * every Npoll rotations, so a short window would catch a part of a cycle. */
    sim_bus_reset_stats(b);
    sim_bus_run(b, 300000000);
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    double rot = (double)st.rotation_sum_us / (double)st.rotations / 1e6;
    double rot_max = rotation_max_s(baud, macs, N_METERS + 1, mm);
    printf("%6u baud, %s MACs, Max_Master %3d: token rotation %7.2f ms (min %.2f, max %.2f); "
           "theoretical %7.2f ms; ratio %.3f\n", baud, spread ? "scattered " : "contiguous", mm,
           rot * 1e3, st.rotation_min_us / 1e3, st.rotation_max_us / 1e3, rot_max * 1e3,
           rot_max / rot);

    /* A client keeps CLIENT_MIF ReadPropertyMultiple requests queued, round robin over
     * the meters, for 2 minutes of bus time. */
    uint8_t rq[MSTP_MAX_NPDU], reply[MSTP_MAX_NPDU];
    size_t lq = rpm_request(rq, sizeof rq, 0), la = 0;
    mstp_t *cm = sim_bus_mstp(b, client);
    uint64_t points = 0;
    int next = 0;
    uint8_t invoke = 0;
    sim_bus_reset_stats(b);
    uint64_t t0 = sim_bus_now_us(b);
    while (sim_bus_now_us(b) - t0 < 120000000u) {
        while (cm->txq_count < CLIENT_MIF) {
            rpm_request(rq, sizeof rq, invoke++);
            sim_bus_request(b, client, macs[1 + next], rq, lq);
            next = (next + 1) % N_METERS;
        }
        sim_bus_run(b, 1000);
        long n;
        while ((n = sim_bus_take(b, client, NULL, reply, sizeof reply)) > 0) {
            if (reply[2] == 0x30) /* Complex-ACK */
                points += POINTS;
            la = (size_t)n;
        }
    }
    double secs = (double)(sim_bus_now_us(b) - t0) / 1e6;
    sim_bus_stats(b, &st);
    double pps = (double)points / secs;
    double exchange = bits_s(baud, 40 + 10.0 * (10 + lq)) + bits_s(baud, 40 + 10.0 * (10 + la));
    double pps_max = CLIENT_MIF * POINTS / (rot_max + CLIENT_MIF * exchange);
    printf("        client F=%d, RPM of %d points (request %zu, reply %zu octets): %7.1f "
           "points/s; theoretical %7.1f; ratio %.3f (wire bound %.0f points/s); worst reply "
           "%.2f ms\n", CLIENT_MIF, POINTS, lq, la, pps, pps_max, pps / pps_max,
           POINTS / exchange, st.reply_max_us / 1e3);
    sim_bus_free(b);
}

/* ---- host time of the meter's reply ------------------------------------------------ */

static struct timespec sent_at;
static int sends;

static int stamp_send(void *ctx, const uint8_t *frame, size_t n)
{
    (void)ctx;
    (void)frame;
    (void)n;
    if (sends++ == 0)
        clock_gettime(CLOCK_MONOTONIC, &sent_at);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency(const char *what, const uint8_t *npdu, size_t len)
{
    static meter_t mt;
    static mstp_t m;
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "BENCH");
    id.instance = 1234;
    mtr_config_default(&cfg);
    meter_init(&mt, &id, &cfg, NULL);
    mstp_config_t mc;
    mstp_config_default(&mc);
    mc.mac = id.mac;
    mstp_port_t port = {.send = stamp_send};
    net_upper_t up = meter_upper(&mt); /* the meter answers through the node's upcall */
    uint32_t now = 1000000;
    mstp_init(&m, &port, &mc, &up, now);
    uint8_t f[MSTP_MAX_FRAME];
    size_t n = mstp_encode(f, sizeof f, MSTP_DATA_EXPECTING_REPLY, id.mac, 3, npdu, len);
    enum { RUNS = 20000 };
    static double us[RUNS];
    for (int r = 0; r < RUNS; r++) {
        for (size_t k = 0; k + 1 < n; k++)
            mstp_rx(&m, f[k], now += 130);
        sends = 0;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        mstp_rx(&m, f[n - 1], now += 130);
        us[r] = (double)(sent_at.tv_sec - t0.tv_sec) * 1e6 + (sent_at.tv_nsec - t0.tv_nsec) / 1e3;
        now += 5000;
    }
    qsort(us, RUNS, sizeof us[0], cmp_double);
    printf("reply latency, host time, last octet in -> first octet out, %s: median %.1f us, "
           "p99 %.1f us, max %.1f us (target < 1000 us)\n", what, us[RUNS / 2],
           us[RUNS * 99 / 100], us[RUNS - 1]);
}

int main(void)
{
    const uint32_t rates[] = {76800, 115200};
    for (int r = 0; r < 2; r++) {
        run(rates[r], false);
        run(rates[r], true);
    }
    uint8_t rq[MSTP_MAX_NPDU];
    size_t n = sim_bus_rp_npdu(rq, sizeof rq, 1, (bac_oid_t){OBJ_AI, 1}, BAC_PROP_PRESENT_VALUE);
    latency("ReadProperty AI1 Present_Value", rq, n);
    n = sim_bus_rp_npdu(rq, sizeof rq, 2, (bac_oid_t){OBJ_DEVICE, 1234}, BAC_PROP_OBJECT_NAME);
    latency("ReadProperty Device Object_Name", rq, n);
    n = rpm_request(rq, sizeof rq, 3);
    latency("ReadPropertyMultiple 20 Present_Values", rq, n);
    return 0;
}
