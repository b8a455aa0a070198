/*
 * Metering engine throughput: sample sets (6 channels) per second on one core, what
 * that means in meters per core in real time (2520 sets/s each), and next to it, in the
 * same run, the floor: the same products summed with no other work.
 *
 * Times are this thread's CPU time, so other load on a shared machine does not count;
 * engine and floor alternate in rounds and each reports its best round.
 * Usage: bench_engine [seconds-of-CPU-time-in-all, default 3]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metering/mtr.h"

#define SECONDS_OF_SIGNAL 10
#define ROUNDS 3

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The floor's state: the engine's 21 sums and the three voltage integrators. */
typedef struct {
    float a[6];                                     /* phase A: vv ii vi wi w i */
    float vv[2], ii[2], vi[2], wi[2], sw[2], si[2]; /* phases B, C */
    float ll[2], ca;                                /* AB, BC; CA */
    float w[3], pv[3];
} bare_t;

/* The bare sum: every product the engine sums (v^2, i^2, v*i, integral(v)*i, integral(v),
 * i per phase, the line-to-line squares), in float as the engine sums them, in the
 * engine's two passes and layout (phase A; phases B and C as two-lane rows with the
 * line-to-line squares), with no filter, no zero crossings and no 1 s cycle. The sums
 * are locals so that they stay in registers. */
static void bare_sum_a(bare_t *b, const mtr_frame_t *x, size_t n)
{
    float vv = b->a[0], ii = b->a[1], vi = b->a[2], wi = b->a[3], sw = b->a[4], si = b->a[5];
    float w = b->w[0], pv = b->pv[0];
    for (size_t k = 0; k < n; k++) {
        float v = x[k][MTR_VA], i = x[k][MTR_IA];
        w += 0.5f * (v + pv), pv = v;
        vv += v * v, ii += i * i, vi += v * i, wi += w * i, sw += w, si += i;
    }
    b->a[0] = vv, b->a[1] = ii, b->a[2] = vi, b->a[3] = wi, b->a[4] = sw, b->a[5] = si;
    b->w[0] = w, b->pv[0] = pv;
}

static void bare_sum_bc(bare_t *b, const mtr_frame_t *x, size_t n)
{
    float vv[2], ii[2], vi[2], wi[2], sw[2], si[2], ll[2], w[2], pv[2], ca = b->ca;
    for (int l = 0; l < 2; l++) {
        vv[l] = b->vv[l], ii[l] = b->ii[l], vi[l] = b->vi[l], wi[l] = b->wi[l];
        sw[l] = b->sw[l], si[l] = b->si[l], ll[l] = b->ll[l], w[l] = b->w[1 + l];
        pv[l] = b->pv[1 + l];
    }
    for (size_t k = 0; k < n; k++) {
        const float *s = x[k];
        float v[2] = {s[MTR_VB], s[MTR_VC]}, i[2] = {s[MTR_IB], s[MTR_IC]};
        float d[2] = {s[MTR_VA] - s[MTR_VB], s[MTR_VB] - s[MTR_VC]};
        float dca = s[MTR_VC] - s[MTR_VA];
        for (int l = 0; l < 2; l++) {
            w[l] += 0.5f * (v[l] + pv[l]), pv[l] = v[l];
            vv[l] += v[l] * v[l], ii[l] += i[l] * i[l], vi[l] += v[l] * i[l];
            wi[l] += w[l] * i[l], sw[l] += w[l], si[l] += i[l];
            ll[l] += d[l] * d[l];
        }
        ca += dca * dca;
    }
    for (int l = 0; l < 2; l++) {
        b->vv[l] = vv[l], b->ii[l] = ii[l], b->vi[l] = vi[l], b->wi[l] = wi[l];
        b->sw[l] = sw[l], b->si[l] = si[l], b->ll[l] = ll[l], b->w[1 + l] = w[l];
        b->pv[1 + l] = pv[l];
    }
    b->ca = ca;
}

/* All of the floor's sums in one number, so that none of them is optimised away. */
static double bare_check(const bare_t *b)
{
    const float *p = (const float *)b;
    double sum = 0;
    for (size_t k = 0; k < sizeof *b / sizeof(float); k++)
        sum += p[k];
    return sum;
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 3.0;
    static mtr_frame_t sig[SECONDS_OF_SIGNAL * MTR_FS];
    static mtr_t m;
    static bare_t bare;
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
    double best_engine = 0, best_floor = 0, round = budget / (2 * ROUNDS);
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t sets = 0;
        double t0 = cpu_s(), t;
        do {
            size_t off = 0;
            while (off < n)
                off += mtr_feed(&m, sig + off, n - off, NULL);
            sets += n;
            t = cpu_s();
        } while (t - t0 < round);
        best_engine = fmax(best_engine, (double)sets / (t - t0));
        sets = 0;
        t0 = cpu_s();
        do {
            bare_sum_a(&bare, (const mtr_frame_t *)sig, n);
            bare_sum_bc(&bare, (const mtr_frame_t *)sig, n);
            sets += n;
            t = cpu_s();
        } while (t - t0 < round);
        best_floor = fmax(best_floor, (double)sets / (t - t0));
    }
    printf("engine: %.1f million sample sets/s on one core (%.2f ns per set)\n", best_engine / 1e6,
           1e9 / best_engine);
    printf("        = %.0f meters per core in real time at %u sets/s each\n", best_engine / MTR_FS,
           MTR_FS);
    printf("floor:  %.1f million sample sets/s (%.2f ns per set): the same products summed, "
           "nothing else\n",
           best_floor / 1e6, 1e9 / best_floor);
    printf("        engine / floor = %.2f\n", best_engine / best_floor);
    printf("        state per meter: %zu bytes (mtr_t)\n", sizeof(mtr_t));
    printf("        check: %u cycles, KW_Total %.3f kW; floor %.6g\n", m.cycles, m.ai[MTR_AI_KW],
           bare_check(&bare));
    printf("        (best of %d rounds of thread CPU time, engine and floor alternating)\n",
           ROUNDS);
    return 0;
}
