/*
 * A full trend-log buffer read by ReadRange: 5760 records paged by sequence number in
 * 480-octet replies, through the real server (no sockets: the meter's own cost).
 * Usage: bench_trendlog [sweeps, default 200]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bacnet/bac.h"
#include "objects/obj.h"

static obj_device_t dev;
static bac_server_t srv;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int sweeps = argc > 1 ? atoi(argv[1]) : 200;
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "BENCH");
    id.instance = 1234;
    mtr_config_default(&cfg);
    obj_init(&dev, &id, &cfg, NULL);
    bac_server_init(&srv, &dev, NULL);
    for (unsigned k = 1; k <= TL_BUFFER_SIZE; k++) {
        tl_record_t r = {.t = (tl_time_t)k * 90000, .kind = TL_REC_REAL, .value = (float)k * 1.25f};
        tl_append(&dev.tl[0], &r);
    }
    uint8_t req[32], out[600];
    unsigned requests = 0, records = 0;
    double t0 = now_s();
    for (int s = 0; s < sweeps; s++) {
        uint32_t seq = 1;
        for (;;) {
            /* ReadRange TL1 Log_Buffer by sequence {seq, +100} */
            size_t n = 0;
            const uint8_t head[] = {1, 4, 0, 3, 1, 26, 0x0C, 0x05, 0, 0, 1, 0x19, 131, 0x6E, 0x23};
            for (size_t k = 0; k < sizeof head; k++)
                req[n++] = head[k];
            req[n++] = (uint8_t)(seq >> 16), req[n++] = (uint8_t)(seq >> 8), req[n++] = (uint8_t)seq;
            req[n++] = 0x31, req[n++] = 100, req[n++] = 0x6F;
            bool b;
            size_t len = bac_server_handle(&srv, 0, req, n, false, out, sizeof out, &b);
            requests++;
            if (len < 19 || out[2] != 0x30) {
                fprintf(stderr, "unexpected reply\n");
                return 1;
            }
            unsigned items = out[16];
            records += items;
            seq += items;
            if (!(out[14] & 0x20)) /* no more-items */
                break;
        }
    }
    double dt = now_s() - t0;
    printf("ReadRange sweep of a full trend log (5760 records) by sequence number:\n");
    printf("  %u requests per sweep (%.1f records per 480-octet reply)\n", requests / sweeps,
           (double)records / requests);
    printf("  %.2f us per request, %.3f ms per sweep, %.1f M records/s (server only)\n",
           dt / requests * 1e6, dt / sweeps * 1e3, records / dt / 1e6);
    return 0;
}
