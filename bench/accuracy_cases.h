/*
 * The metering accuracy suite's cases (IEC 62053-22 Class 0.2S test points, influence
 * quantities, energy to the sample at every tick), shared by tests/test_metering_accuracy.c,
 * which asserts the limits, and bench_accuracy, which prints limit against worst error
 * for the README. Synthetic waveforms with analytically known results (tests/wave.h).
 *
 * The includer defines ACC_CHECK(cond): the checks a case makes along the way (no energy
 * in another register, no sample dropped), an assertion in the test.
 */
#ifndef S4100_ACCURACY_CASES_H
#define S4100_ACCURACY_CASES_H

#include <stdbool.h>
#include <stdio.h>

#include "../tests/wave.h"

#ifndef ACC_CHECK
#error "define ACC_CHECK(cond) before including accuracy_cases.h"
#endif

/* The bar is ten times the class: energy 0.02 %, reactive 0.2 %, frequency 0.01 Hz. */
#define LIM_E 0.02    /* % active power and energy */
#define LIM_Q 0.2     /* % reactive power and energy */
#define LIM_F 0.01    /* Hz */
#define LIM_VI 0.02   /* % voltage and current readings */
#define WARMUP 2
#define MEASURE 12

typedef struct {
    const char *name;
    uint8_t type;
    double f;
    double v;      /* RMS volts to neutral (types 11/31: to the mid/star point) */
    double ipct;   /* % of the CT primary */
    double phi;    /* load angle, degrees (+ inductive), 180 added for export */
    int h;         /* harmonic order */
    double hv, hi;
    bool acb;
    double unbal[3]; /* current multipliers per phase (0: 1.0) */
    float ct, pt;
    uint8_t ct2;
} point_t;

typedef struct {
    double pe, ee, qe, eqe, fe, ve, ie;
} errs_t;

static void polar_sub(double r1, double a1, double r2, double a2, double *r, double *a)
{
    double x = r1 * cos(a1) - r2 * cos(a2), y = r1 * sin(a1) - r2 * sin(a2);
    *r = hypot(x, y);
    *a = atan2(y, x);
}

/* Expected totals from phasors: P = sum |V||I| cos(dtheta), Q likewise with sin;
 * harmonics add |Vh||Ih| cos(h dtheta) to P and the same over h (quadrature method) to Q. */
static void expected(const point_t *pt, const wave_t *w, double *P, double *Q)
{
    unsigned act = mtr_active_phases(pt->type);
    *P = *Q = 0;
    for (int p = 0; p < 3; p++) {
        if (!(act >> p & 1))
            continue;
        double vr = w->v[p], va = w->vang[p] * W_PI / 180.0;
        double ia = va - w->phi[p] * W_PI / 180.0;
        if (pt->type == 11)
            polar_sub(w->v[0], va, w->v[1], w->vang[1] * W_PI / 180.0, &vr, &va);
        double d = va - ia;
        *P += vr * w->i[p] * cos(d);
        *Q += vr * w->i[p] * sin(d);
        if (w->h) {
            *P += vr * w->hv * w->i[p] * w->hi * cos(w->h * d);
            *Q += vr * w->hv * w->i[p] * w->hi * sin(w->h * d) / w->h;
        }
    }
}

static double pct(double meas, double exp, double ref)
{
    return (meas - exp) / ref * 100.0;
}

static errs_t run_point(const point_t *pt)
{
    static mtr_t m;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    cfg.system_type = pt->type;
    if (pt->ct) cfg.ct_primary = pt->ct;
    if (pt->pt) cfg.pt_ratio = pt->pt, cfg.system_voltage = fminf(600.0f * pt->pt, 32000.0f);
    if (pt->ct2) cfg.ct_secondary = pt->ct2;
    ACC_CHECK(mtr_config_check(&cfg) == MTR_OK);
    mtr_init(&m, &cfg, NULL);

    wave_t w;
    double i = pt->ipct / 100.0 * cfg.ct_primary;
    wave_balanced(&w, pt->f, pt->v, i, pt->phi);
    if (pt->acb)
        w.vang[1] = 120, w.vang[2] = -120;
    if (pt->type == 11 || pt->type == 12)
        w.vang[1] = 180; /* split phase: B opposite A */
    for (int p = 0; p < 3; p++)
        if (pt->unbal[p] > 0)
            w.i[p] *= pt->unbal[p];
    w.h = pt->h, w.hv = pt->hv, w.hi = pt->hi;

    double P, Q;
    expected(pt, &w, &P, &Q);
    double S = 0;
    unsigned act = mtr_active_phases(pt->type);
    for (int p = 0; p < 3; p++)
        if (act >> p & 1)
            S += (pt->type == 11 ? 2 * w.v[p] : w.v[p] * sqrt(1 + w.hv * w.hv)) * w.i[p] *
                 sqrt(1 + w.hi * w.hi);

    wave_run(&m, &w, WARMUP, NULL, NULL);
    double t1 = (double)m.n;
    double ei1 = e_kwh(&m, MTR_E_KWH_IMP), ex1 = e_kwh(&m, MTR_E_KWH_EXP);
    double q1[4];
    for (int q = 0; q < 4; q++)
        q1[q] = e_kwh(&m, MTR_E_KVARH_Q1 + q);

    errs_t e = {0};
    for (int s = 0; s < MEASURE; s++) {
        wave_run(&m, &w, 1, NULL, NULL);
        double pm = m.ai[MTR_AI_KW] * 1000.0, qm = m.ai[MTR_AI_KVAR] * 1000.0;
        double pe = pct(pm, P, fabs(P)), qe = pct(qm, Q, fabs(Q) > 1e-9 * S ? fabs(Q) : S);
        double fe = m.ai[MTR_AI_FREQ] - pt->f;
        if (fabs(pe) > fabs(e.pe)) e.pe = pe;
        if (fabs(qe) > fabs(e.qe)) e.qe = qe;
        if (fabs(fe) > fabs(e.fe)) e.fe = fe;
        double ve = pct(m.ai[MTR_AI_I_A], w.i[0] * sqrt(1 + w.hi * w.hi), w.i[0]);
        if (fabs(ve) > fabs(e.ie)) e.ie = ve;
        if (pt->type == 40 || pt->type == 10 || pt->type == 12) {
            ve = pct(m.ai[MTR_AI_V_AN], w.v[0] * sqrt(1 + w.hv * w.hv), w.v[0]);
            if (fabs(ve) > fabs(e.ve)) e.ve = ve;
        }
    }
    /* Energy between two 1 s ticks against P times that span (registers run to the sample). */
    double dt = ((double)m.n - t1) / MTR_FS;
    double ei = e_kwh(&m, MTR_E_KWH_IMP) - ei1, ex = e_kwh(&m, MTR_E_KWH_EXP) - ex1;
    double eexp = P * dt / 3.6e6;
    if (P >= 0) {
        e.ee = pct(ei, eexp, eexp);
        ACC_CHECK(ex == 0.0);
    } else {
        e.ee = pct(ex, -eexp, -eexp);
        ACC_CHECK(ei == 0.0);
    }
    int qreg = Q >= 0 ? (P >= 0 ? 0 : 1) : (P < 0 ? 2 : 3);
    double eq = 0;
    for (int q = 0; q < 4; q++) {
        double d = e_kwh(&m, MTR_E_KVARH_Q1 + q) - q1[q];
        if (q == qreg) eq = d;
        else if (fabs(Q) > 1e-6 * S) ACC_CHECK(d == 0.0); /* nothing in other quadrants */
    }
    double qexp = fabs(Q) * dt / 3.6e6, sref = S * dt / 3.6e6;
    e.eqe = fabs(Q) > 1e-6 * S ? pct(eq, qexp, qexp) : pct(eq, 0, sref);
    return e;
}

#define IEC(name, ip, phi, exp) {name, 40, 50, 230, ip, (phi) + ((exp) ? 180 : 0), 0, 0, 0, false, {0}, 0, 0, 0}
#define FREQ(name, f, phi) {name, 40, f, 230, 100, phi, 0, 0, 0, false, {0}, 0, 0, 0}
#define PF08C (-36.8698976458440)

static const point_t points[] = {
    IEC("imp 1% PF1", 1, 0, 0), IEC("imp 2% PF1", 2, 0, 0), IEC("imp 5% PF1", 5, 0, 0),
    IEC("imp 100% PF1", 100, 0, 0), IEC("imp 120% PF1", 120, 0, 0),
    IEC("imp 2% PF0.5i", 2, 60, 0), IEC("imp 5% PF0.5i", 5, 60, 0),
    IEC("imp 100% PF0.5i", 100, 60, 0), IEC("imp 120% PF0.5i", 120, 60, 0),
    IEC("imp 2% PF0.8c", 2, PF08C, 0), IEC("imp 5% PF0.8c", 5, PF08C, 0),
    IEC("imp 100% PF0.8c", 100, PF08C, 0), IEC("imp 120% PF0.8c", 120, PF08C, 0),
    IEC("exp 1% PF1", 1, 0, 1), IEC("exp 2% PF1", 2, 0, 1), IEC("exp 5% PF1", 5, 0, 1),
    IEC("exp 100% PF1", 100, 0, 1), IEC("exp 120% PF1", 120, 0, 1),
    IEC("exp 2% PF0.5i", 2, 60, 1), IEC("exp 5% PF0.5i", 5, 60, 1),
    IEC("exp 100% PF0.5i", 100, 60, 1), IEC("exp 120% PF0.5i", 120, 60, 1),
    IEC("exp 2% PF0.8c", 2, PF08C, 1), IEC("exp 5% PF0.8c", 5, PF08C, 1),
    IEC("exp 100% PF0.8c", 100, PF08C, 1), IEC("exp 120% PF0.8c", 120, PF08C, 1),
    FREQ("45 Hz PF1", 45, 0), FREQ("45 Hz PF0.5i", 45, 60),
    FREQ("49 Hz PF1", 49, 0), FREQ("49 Hz PF0.5i", 49, 60),
    FREQ("50 Hz PF1", 50, 0), FREQ("50 Hz PF0.5i", 50, 60),
    FREQ("50.4 Hz PF1", 50.4, 0), FREQ("50.4 Hz PF0.5i", 50.4, 60),
    FREQ("51 Hz PF1", 51, 0), FREQ("51 Hz PF0.5i", 51, 60),
    FREQ("59.7 Hz PF1", 59.7, 0), FREQ("59.7 Hz PF0.5i", 59.7, 60),
    FREQ("60 Hz PF1", 60, 0), FREQ("60 Hz PF0.5i", 60, 60),
    FREQ("61 Hz PF1", 61, 0), FREQ("61 Hz PF0.5i", 61, 60),
    FREQ("65 Hz PF1", 65, 0), FREQ("65 Hz PF0.5i", 65, 60),
    FREQ("50.25 Hz PF0.5c", 50.25, -60), FREQ("57.3 Hz PF0.8c", 57.3, PF08C),
    {"V -10% PF1", 40, 50, 207, 100, 0, 0, 0, 0, false, {0}, 0, 0, 0},
    {"V -10% PF0.5i", 40, 50, 207, 100, 60, 0, 0, 0, false, {0}, 0, 0, 0},
    {"V +10% PF1", 40, 50, 253, 100, 0, 0, 0, 0, false, {0}, 0, 0, 0},
    {"V +10% PF0.5i", 40, 50, 253, 100, 60, 0, 0, 0, false, {0}, 0, 0, 0},
    {"5th harm 10%V 40%I", 40, 50, 230, 60, 0, 5, 0.10, 0.40, false, {0}, 0, 0, 0},
    {"5th harm PF0.5i", 40, 50, 230, 60, 60, 5, 0.10, 0.40, false, {0}, 0, 0, 0},
    {"reversed seq PF0.5i", 40, 50, 230, 100, 60, 0, 0, 0, true, {0}, 0, 0, 0},
    {"unbalanced I", 40, 50, 230, 100, 30, 0, 0, 0, false, {1.0, 0.5, 0.1}, 0, 0, 0},
    {"type 10 PF0.5i", 10, 50, 230, 100, 60, 0, 0, 0, false, {0}, 0, 0, 0},
    {"type 11 PF0.5i", 11, 60, 120, 100, 60, 0, 0, 0, false, {0}, 0, 0, 0},
    {"type 12 PF0.5i", 12, 60, 120, 100, 60, 0, 0, 0, false, {0}, 0, 0, 0},
    {"type 31 PF0.5i", 31, 60, 277, 100, 60, 0, 0, 0, false, {0}, 0, 0, 0},
    {"type 40 PF0.8c", 40, 60, 277, 100, PF08C, 0, 0, 0, false, {0}, 0, 0, 0},
    {"PT 50, 1/3V CT 3000A", 40, 60, 7967, 100, 60, 0, 0, 0, false, {0}, 3000, 50, 3},
    {"CT 5 A, 1% PF1", 40, 60, 277, 1, 0, 0, 0, 0, false, {0}, 5, 0, 0},
};

/* Frequency drifting 49 -> 51 Hz at 0.1 Hz/s: each reading is the mean over its window. */
static double acc_drift(void)
{
    static mtr_t m;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    mtr_init(&m, &cfg, NULL);
    wave_t w;
    wave_balanced(&w, 49.0, 230, 100, 30);
    w.df = 0.1;
    wave_run(&m, &w, 2, NULL, NULL);
    double worst = 0, t0 = mtr_time_samples(m.win_start);
    for (int s = 0; s < 18; s++) {
        wave_run(&m, &w, 1, NULL, NULL);
        double t1 = mtr_time_samples(m.win_start), tmid = (t0 + t1) / 2.0 / MTR_FS;
        double fexp = w.f0 + w.df * tmid;
        worst = fmax(worst, fabs(m.ai[MTR_AI_FREQ] - fexp));
        /* Active power stays exact while the frequency moves. */
        double P = 3 * 230.0 * 100.0 * cos(30 * W_PI / 180), Q = 3 * 230.0 * 100.0 * 0.5;
        ACC_CHECK(fabs(m.ai[MTR_AI_KW] * 1000 - P) / P * 100 <= LIM_E);
        ACC_CHECK(fabs(m.ai[MTR_AI_KVAR] * 1000 - Q) / Q * 100 <= LIM_Q);
        t0 = t1;
    }
    return worst;
}

/* A long run: the energy register against P times all the time it has covered; returns
 * the relative error. */
#define LIM_LONG 1e-5 /* relative: every sample to the last tick, partial cycles included */
static double acc_long_run(void)
{
    static mtr_t m;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    mtr_init(&m, &cfg, NULL);
    wave_t w;
    wave_balanced(&w, 50.3, 230, 37.5, 25);
    wave_run(&m, &w, 120, NULL, NULL);
    double P = 3 * 230.0 * 37.5 * cos(25 * W_PI / 180);
    double covered = (double)m.n / MTR_FS;
    double exp = P * covered / 3.6e6, got = e_kwh(&m, MTR_E_KWH_IMP);
    /* Samples are never dropped: the engine consumed exactly 120 s of them. */
    ACC_CHECK(m.n == 120u * MTR_FS);
    return (got - exp) / exp;
}

#define LIM_TICK 1e-5 /* relative, of each 1 s increment and of the running register */
#define TICKS 12

/* Expected rates (W) of one register group (total or a phase) from its P, Q, S. A Q
 * within rounding of zero (PF 1) may land in either quadrant: no register expects it. */
static void expect_rates(double *r, double P, double Q, double S)
{
    int q = Q >= 0 ? (P >= 0 ? 0 : 1) : (P < 0 ? 2 : 3);
    r[P >= 0 ? MTR_E_KWH_IMP : MTR_E_KWH_EXP] = fabs(P);
    if (fabs(Q) > 1e-9 * S)
        r[MTR_E_KVARH_Q1 + q] = fabs(Q);
    r[P >= 0 ? MTR_E_KVAH_IMP : MTR_E_KVAH_EXP] = S;
}

static double reg_j(const mtr_t *m, int k)
{
    return (double)m->nv.e[k].j + m->nv.e[k].frac32 / 4294967296.0;
}

/* One steady load: the worst relative error of any register's 1 s increment and of any
 * register against the analytic integral up to the tick's sample. */
static void tick_point(double f, double phi, bool exp, double *inc_err, double *int_err)
{
    static mtr_t m;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    mtr_init(&m, &cfg, NULL);
    wave_t w;
    wave_balanced(&w, f, 277, 50, phi + (exp ? 180 : 0));
    double a = (phi + (exp ? 180 : 0)) * W_PI / 180;
    double P = 277.0 * 50 * cos(a), Q = 277.0 * 50 * sin(a), S = 277.0 * 50;
    double rate[MTR_E_COUNT] = {0}, ref[MTR_E_COUNT], prev[MTR_E_COUNT] = {0};
    expect_rates(rate, 3 * P, 3 * Q, 3 * S);
    for (int p = 0; p < 3; p++)
        expect_rates(&rate[MTR_E_PER_PHASE * (1 + p)], P, Q, S);
    for (int k = 0; k < MTR_E_COUNT; k++) /* the scale of "relative": S for empty registers */
        ref[k] = rate[k] > 0 ? rate[k] : (k < MTR_E_PER_PHASE ? 3 * S : S);
    *inc_err = *int_err = 0;
    for (int t = 1; t <= TICKS; t++) {
        wave_run(&m, &w, 1, NULL, NULL);
        ACC_CHECK(m.n == (uint64_t)t * MTR_FS);
        for (int k = 0; k < MTR_E_COUNT; k++) {
            double e = reg_j(&m, k);
            *inc_err = fmax(*inc_err, fabs(e - prev[k] - rate[k]) / ref[k]);
            *int_err = fmax(*int_err, fabs(e - rate[k] * t) / (ref[k] * t));
            prev[k] = e;
        }
    }
}


/* The every-tick sweep: these frequencies, loads and directions. */
static const double acc_tick_freqs[] = {45, 45.7, 50, 59.9, 60, 65};
static const struct {
    const char *name;
    double phi;
} acc_tick_loads[] = {{"PF1", 0}, {"PF0.5i", 60}, {"PF0.8c", PF08C}};

/* A pure reactive load (sin phi = 1): P hovers around 0 and its sign, which picks the
 * quadrant register, can change from one tick to the next. The credit ahead booked to
 * one quadrant must then come off the other, or the group counts it twice: the four
 * quadrants' sum, and the kVAh, stay the integral at every tick. Returns the worst
 * relative error of the quadrants' sum; *kvah_err gets the kVAh's. */
static double acc_quadrant_boundary(double *kvah_err)
{
    static const double freqs[] = {45.7, 50, 59.9, 60};
    double worst = 0;
    *kvah_err = 0;
    for (size_t fi = 0; fi < sizeof freqs / sizeof freqs[0]; fi++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            static mtr_t m;
            mtr_config_t cfg;
            mtr_config_default(&cfg);
            mtr_init(&m, &cfg, NULL);
            wave_t w;
            wave_balanced(&w, freqs[fi], 277, 50, 90.0 * sgn);
            double q = 277.0 * 50, s3 = 3 * q;
            double prev_q = 0;
            for (int t = 1; t <= TICKS; t++) {
                wave_run(&m, &w, 1, NULL, NULL);
                double eq = 0;
                for (int k = MTR_E_KVARH_Q1; k <= MTR_E_KVARH_Q4; k++)
                    eq += reg_j(&m, k);
                double e_inc = fabs(eq - prev_q - s3) / s3, e_int = fabs(eq - s3 * t) / (s3 * t);
                worst = fmax(worst, fmax(e_inc, e_int));
                prev_q = eq;
                double es = reg_j(&m, MTR_E_KVAH_IMP) + reg_j(&m, MTR_E_KVAH_EXP);
                *kvah_err = fmax(*kvah_err, fabs(es - s3 * t) / (s3 * t));
            }
        }
    return worst;
}

#endif
