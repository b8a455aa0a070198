/*
 * Analytic test waveforms for the metering tests: every sample computed in closed form
 * from the parameters (no accumulated phase), so the expected readings are exact.
 */
#ifndef S4100_TEST_WAVE_H
#define S4100_TEST_WAVE_H

#include "metering/mtr.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define W_PI 3.14159265358979323846

typedef struct {
    double f0, df;   /* frequency (Hz) and its linear drift (Hz/s) */
    double v[3];     /* primary RMS volts to neutral (or the reference) */
    double vang[3];  /* voltage angles, degrees */
    double i[3];     /* primary RMS amps */
    double phi[3];   /* load angle, degrees: current lags its voltage (export: +180) */
    double hv, hi;   /* harmonic content of voltage and current, fraction of fundamental */
    int h;           /* harmonic order (0: none) */
    double vdc;      /* DC offset on the voltages, volts primary */
    uint64_t n;      /* next sample index */
} wave_t;

/* Balanced 3-phase wye, abc sequence. */
static inline void wave_balanced(wave_t *w, double f, double v, double i, double phi_deg)
{
    memset(w, 0, sizeof *w);
    w->f0 = f;
    for (int p = 0; p < 3; p++) {
        w->v[p] = v;
        w->vang[p] = -120.0 * p;
        w->i[p] = i;
        w->phi[p] = phi_deg;
    }
}

/* Phase of the fundamental at time t (radians). */
static inline double wave_phase(const wave_t *w, double t)
{
    return 2.0 * W_PI * (w->f0 * t + 0.5 * w->df * t * t);
}

/* Terminal-side frames for a meter configured as cfg (PT ratio, CT primary/secondary). */
static inline void wave_fill(wave_t *w, const mtr_config_t *cfg, mtr_frame_t *x, size_t n)
{
    double fs_ct = cfg->ct_secondary == 3 ? 1.0 / 3.0 : 1.0;
    double kv = 1.0 / cfg->pt_ratio, ki = fs_ct / cfg->ct_primary;
    for (size_t k = 0; k < n; k++, w->n++) {
        double t = (double)w->n / MTR_FS, a = wave_phase(w, t);
        for (int p = 0; p < 3; p++) {
            double av = a + w->vang[p] * W_PI / 180.0;
            double ai = av - w->phi[p] * W_PI / 180.0;
            double v = sin(av), i = sin(ai);
            if (w->h) {
                v += w->hv * sin(w->h * av);
                i += w->hi * sin(w->h * ai);
            }
            x[k][MTR_VA + p] = (float)((sqrt(2.0) * w->v[p] * v + w->vdc) * kv);
            x[k][MTR_IA + p] = (float)(sqrt(2.0) * w->i[p] * i * ki);
        }
    }
}

/* Run whole 1 s cycles; calls fn (may be NULL) after each. */
typedef void (*wave_cycle_fn)(mtr_t *m, void *user);
static inline void wave_run(mtr_t *m, wave_t *w, unsigned seconds, wave_cycle_fn fn, void *user)
{
    static mtr_frame_t buf[MTR_FS];
    for (unsigned s = 0; s < seconds; s++) {
        size_t left = m->tick_left, off = 0;
        wave_fill(w, &m->cfg, buf, left);
        bool cycle = false;
        while (off < left)
            off += mtr_feed(m, buf + off, left - off, &cycle);
        if (fn)
            fn(m, user);
    }
}

static inline double e_kwh(const mtr_t *m, int reg)
{
    return mtr_energy_kwh(&m->nv.e[reg]);
}

#endif
