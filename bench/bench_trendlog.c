/*
 * ReadRange of a full trend log (5760 records) through the real server (no sockets: the
 * meter's own cost), the records kept once in a record store and read through it:
 *   sweep     every record paged by sequence number in 480-octet replies;
 *   by time   a random instant, 20 records forward or back: in time order the log
 *             bisects; after a clock set back it scans;
 * each over a RAM store (tl_ram_t) and over the NV rings in a file (s4100 run's store,
 * page cache warm), and the same reads of the newest records (the log's cache alone).
 * Usage: bench_trendlog [sweeps, default 50] [by-time requests, default 2000]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bacnet/bac.h"
#include "nv/nv.h"
#include "objects/obj.h"
#include "port.h"

static obj_device_t dev;
static bac_server_t srv;
static tl_ram_t ram;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t ask(const uint8_t *req, size_t n, uint8_t *out)
{
    bool b;
    size_t len = bac_server_handle(&srv, 0, req, n, false, out, 600, &b);
    if (len < 19 || out[2] != 0x30) {
        fprintf(stderr, "bench_trendlog: unexpected reply\n");
        exit(1);
    }
    return len;
}

/* TL1 full: 5760 records every 15 minutes; back: the clock set back 50 intervals at
 * record 100 (a time-change record), so that the times are not in order. */
static void fill(const tl_store_t *st, bool back)
{
    tl_log_t *l = &dev.tl[0];
    tl_init(l, 2);
    tl_attach(l, st, 0, 0);
    for (unsigned k = 1; k <= TL_BUFFER_SIZE; k++) {
        tl_record_t r = {.t = (tl_time_t)(k + 1000) * 90000, .kind = TL_REC_REAL,
                         .value = (float)k * 1.25f};
        if (back && k == 100) {
            tl_record_t c = {.t = (tl_time_t)(k + 950) * 90000, .kind = TL_REC_TIME_CHANGE,
                             .value = -45000.0f};
            tl_append(l, &c);
        }
        tl_append(l, &r);
    }
    if (tl_flush(l) != 0) {
        fprintf(stderr, "bench_trendlog: the store failed\n");
        exit(1);
    }
}

/* Every record by sequence number {seq, +100}: microseconds per request. */
static double sweep(int sweeps, double *per_reply)
{
    uint8_t req[32], out[600];
    unsigned requests = 0, records = 0;
    double t0 = now_s();
    for (int s = 0; s < sweeps; s++) {
        uint32_t seq = dev.tl[0].total - dev.tl[0].count + 1;
        for (;;) {
            size_t n = 0;
            const uint8_t head[] = {1, 4, 0, 3, 1, 26, 0x0C, 0x05, 0, 0, 1, 0x19, 131, 0x6E, 0x23};
            for (size_t k = 0; k < sizeof head; k++)
                req[n++] = head[k];
            req[n++] = (uint8_t)(seq >> 16), req[n++] = (uint8_t)(seq >> 8), req[n++] = (uint8_t)seq;
            req[n++] = 0x31, req[n++] = 100, req[n++] = 0x6F;
            ask(req, n, out);
            requests++;
            unsigned items = out[16];
            records += items;
            seq += items;
            if (!(out[14] & 0x20)) /* no more-items */
                break;
        }
    }
    *per_reply = (double)records / requests;
    return (now_s() - t0) / requests * 1e6;
}

/* By time [7]: the instant just after record k, count records: microseconds each. Random
 * records (newest: among the cached ones only). */
static double by_time(int rounds, bool newest)
{
    uint8_t req[40], out[600];
    uint32_t x = 12345;
    double t0 = now_s();
    for (int i = 0; i < rounds; i++) {
        x = x * 1664525u + 1013904223u;
        unsigned k = newest ? TL_BUFFER_SIZE - 1 - (x >> 8) % (TL_CACHE_SIZE - 20)
                            : 1 + (x >> 8) % TL_BUFFER_SIZE;
        bac_date_t d;
        bac_time_t tm;
        tl_time_split((tl_time_t)(k + 1000) * 90000 + 1, &d, &tm);
        const uint8_t q[] = {1, 4, 0, 3, 1, 26, 0x0C, 0x05, 0, 0, 1, 0x19, 131, 0x7E, 0xA4,
                             d.year, d.month, d.day, d.wday, 0xB4, tm.hour, tm.min, tm.sec,
                             tm.hundredths, 0x31, (uint8_t)(newest || i % 2 ? 20 : -20), 0x7F};
        for (size_t j = 0; j < sizeof q; j++)
            req[j] = q[j];
        ask(req, sizeof q, out);
    }
    return (now_s() - t0) / rounds * 1e6;
}

static void run(const char *name, const tl_store_t *st, int sweeps, int rounds)
{
    double per;
    fill(st, false);
    double sw = sweep(sweeps, &per);
    printf("%-22s sweep %7.2f us/request (%.1f records each, %.3f ms a sweep)\n", name, sw, per,
           sw * 5760 / per / 1000);
    printf("%-22s by time, in order %7.2f us; newest (cached) %6.2f us", "", by_time(rounds, false),
           by_time(rounds, true));
    fill(st, true);
    printf("; clock set back %8.2f us\n", by_time(rounds / 10 + 1, false));
}

int main(int argc, char **argv)
{
    int sweeps = argc > 1 ? atoi(argv[1]) : 50;
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "BENCH");
    id.instance = 1234;
    mtr_config_default(&cfg);
    obj_init(&dev, &id, &cfg, NULL);
    bac_server_init(&srv, &dev, NULL);
    printf("ReadRange of a full trend log (5760 records, %u of them cached), server only:\n",
           TL_CACHE_SIZE);

    tl_ram_init(&ram);
    tl_store_t rs = tl_ram_store(&ram);
    run("RAM store", &rs, sweeps, rounds);

    char path[64], err[400];
    snprintf(path, sizeof path, "/tmp/bench_trendlog.%d.nv", (int)getpid());
    nv_layout_t layout = NV_S4100_LAYOUT;
    lx_nv_file_t f;
    nv_port_t port;
    nv_store_t s;
    static nv_tl_t nvtl;
    if (lx_nv_open(&f, path, nv_medium_size(&layout), &port, err, sizeof err) < 0) {
        fprintf(stderr, "bench_trendlog: %s\n", err);
        return 1;
    }
    f.nosync = true; /* filling it is not what is measured */
    nv_open(&s, &port, &layout);
    nv_tl_open(&nvtl, &s);
    tl_store_t ns = nv_tl_store(&nvtl);
    run("NV rings, file", &ns, sweeps, rounds);
    if (nvtl.gone)
        printf("  (%u reads found no record)\n", nvtl.gone);
    lx_nv_close(&f);
    unlink(path);
    return 0;
}
