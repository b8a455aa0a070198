/*
 * Metering engine throughput: sample sets (6 channels) per second on one core, and
 * what that means in meters per core in real time (2520 sets/s each).
 * Usage: bench_engine [seconds-of-wall-time, default 3]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metering/mtr.h"

#define SECONDS_OF_SIGNAL 10

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 3.0;
    static mtr_frame_t sig[SECONDS_OF_SIGNAL * MTR_FS];
    static mtr_t m;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    mtr_init(&m, &cfg, NULL);
    /* 50.3 Hz, PF 0.8, 3rd harmonic: crossings land between samples like real mains. */
    for (size_t k = 0; k < sizeof sig / sizeof sig[0]; k++) {
        double a = 2 * 3.14159265358979323846 * 50.3 * (double)k / MTR_FS;
        for (int p = 0; p < 3; p++) {
            double th = a - p * 2 * 3.14159265358979323846 / 3;
            sig[k][p] = (float)(325 * (sin(th) + 0.03 * sin(3 * th)));
            sig[k][3 + p] = (float)(0.7 * sin(th - 0.6435));
        }
    }
    size_t n = sizeof sig / sizeof sig[0];
    uint64_t sets = 0;
    double t0 = now_s(), t;
    do {
        size_t off = 0;
        while (off < n)
            off += mtr_feed(&m, sig + off, n - off, NULL);
        sets += n;
        t = now_s();
    } while (t - t0 < budget);
    double rate = (double)sets / (t - t0);
    printf("engine: %.1f million sample sets/s on one core (%.2f ns per set)\n", rate / 1e6,
           1e9 / rate);
    printf("        = %.0f meters per core in real time at %u sets/s each\n", rate / MTR_FS,
           MTR_FS);
    printf("        state per meter: %zu bytes (mtr_t)\n", sizeof(mtr_t));
    printf("        check: %u cycles, KW_Total %.3f kW\n", m.cycles, m.ai[MTR_AI_KW]);
    return 0;
}
