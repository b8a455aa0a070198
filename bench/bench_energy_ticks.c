/*
 * The test lab's figure (issue 13): per-second increments of the energy registers under
 * a steady load at an off-nominal frequency, against the exact P x 1 s.
 *
 * An analytic 3-phase wye waveform (default 45.7 Hz, 277 V, 50 A, PF 1: 41.55 kW) runs
 * through one engine; after each 1 s cycle the KWh_Import register (in double, as the
 * engine keeps it) is read and its increment printed in kW-s with its error. The last
 * lines give the worst increment error of every register the load touches.
 * Usage: bench_energy_ticks [freq-Hz [seconds [load-angle-deg]]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "metering/mtr.h"

#define PI 3.14159265358979323846
#define V_RMS 277.0
#define I_RMS 50.0

static mtr_frame_t buf[MTR_FS];

static void fill(mtr_frame_t *x, size_t n, uint64_t n0, double f, double phi, double ki)
{
    for (size_t k = 0; k < n; k++) {
        double a = 2.0 * PI * f * (double)(n0 + k) / MTR_FS;
        for (int p = 0; p < 3; p++) {
            double av = a - 2.0 * PI / 3.0 * p;
            x[k][MTR_VA + p] = (float)(sqrt(2.0) * V_RMS * sin(av));
            x[k][MTR_IA + p] = (float)(sqrt(2.0) * I_RMS * sin(av - phi) * ki);
        }
    }
}

static double reg_j(const mtr_t *m, int k)
{
    return (double)m->nv.e[k].j + m->nv.e[k].frac32 / 4294967296.0;
}

int main(int argc, char **argv)
{
    double f = argc > 1 ? atof(argv[1]) : 45.7;
    int secs = argc > 2 ? atoi(argv[2]) : 10;
    double phi = (argc > 3 ? atof(argv[3]) : 0.0) * PI / 180.0;
    static mtr_t m;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    mtr_init(&m, &cfg, NULL);
    double ki = 1.0 / cfg.ct_primary;
    double pw = 3 * V_RMS * I_RMS * cos(phi), qw = 3 * V_RMS * I_RMS * sin(phi);
    double sw = 3 * V_RMS * I_RMS;
    const int regs[] = {MTR_E_KWH_IMP, MTR_E_KVARH_Q1, MTR_E_KVARH_Q4, MTR_E_KVAH_IMP};
    const char *names[] = {"KWh_Import", "KVARh_Q1", "KVARh_Q4", "KVAh_Import"};
    const double rate[] = {pw, qw > 0 ? qw : 0, qw < 0 ? -qw : 0, sw};
    double prev[4], worst[4] = {0};
    printf("%.2f Hz, %.0f V, %.0f A, PF %.3f: P = %.3f kW; increments of KWh_Import:\n", f,
           V_RMS, I_RMS, cos(phi), pw / 1000);
    for (int s = 0; s <= secs; s++) {
        size_t left = m.tick_left, off = 0;
        fill(buf, left, m.n, f, phi, ki);
        bool cycle = false;
        while (off < left)
            off += mtr_feed(&m, buf + off, left - off, &cycle);
        for (int r = 0; r < 4; r++) {
            double e = reg_j(&m, regs[r]);
            if (s > 0 && rate[r] > 1e-6 * sw) {
                double err = (e - prev[r] - rate[r]) / rate[r];
                worst[r] = fmax(worst[r], fabs(err));
                if (r == 0)
                    printf("  second %2d: %9.4f kW-s  (%+.5f %%)\n", s, (e - prev[r]) / 1000,
                           err * 100);
            }
            prev[r] = e;
        }
    }
    printf("worst per-second increment error over %d s:\n", secs);
    for (int r = 0; r < 4; r++)
        if (rate[r] > 1e-6 * sw)
            printf("  %-12s %.6f %%\n", names[r], worst[r] * 100);
    return 0;
}
