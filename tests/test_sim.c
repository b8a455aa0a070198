/*
 * The simulated front end: scenario parsing and its errors, the synthesized waveform
 * against its closed form, frequency ramps, events/ramps/loops, pulses, live changes,
 * CSV/WAV replay and resampling, the AFE scaling and clipping.
 * Uses only mtr.h's types and constants, not the engine.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define PI 3.14159265358979323846
#define SQ2 1.41421356237309504880
#define FS ((double)MTR_FS)

/* ---- temp files ---- */

typedef struct {
    char dir[64];
    char path[128];
} tmp_t;

static void tmp_init(tmp_t *t)
{
    strcpy(t->dir, "/tmp/test_sim.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
}

static const char *tmp_write(tmp_t *t, const char *name, const char *text)
{
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    FILE *f = fopen(t->path, "wb");
    assert_non_null(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return t->path;
}

static const char *tmp_name(tmp_t *t, const char *name)
{
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    return t->path;
}

static void tmp_done(tmp_t *t)
{
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(t->dir);
}

/* A scenario from text; fails the test (printing the message) if it does not open. */
static sim_source_t *scen(const char *text)
{
    tmp_t t;
    tmp_init(&t);
    sim_source_t *s = NULL;
    sim_err_t err = {""};
    int rc = sim_open_scenario(&s, tmp_write(&t, "s.ini", text), &err);
    tmp_done(&t);
    if (rc != SIM_OK)
        fail_msg("scenario did not open: %s", err.msg);
    return s;
}

static void expect_err(const char *text, int code, const char *what)
{
    tmp_t t;
    tmp_init(&t);
    sim_source_t *s = (sim_source_t *)&t; /* must come back NULL */
    sim_err_t err = {""};
    const char *path = tmp_write(&t, "bad.ini", text);
    int rc = sim_open_scenario(&s, path, &err);
    tmp_done(&t);
    if (rc != code || s != NULL || !strstr(err.msg, what) || !strstr(err.msg, "bad.ini"))
        fail_msg("for:\n%s\nexpected %d '%s', got %d '%s'", text, code, what, rc, err.msg);
}

static void read_n(sim_source_t *s, mtr_frame_t *x, uint8_t *pulse, size_t n)
{
    sim_err_t err;
    assert_int_equal(sim_read(s, x, pulse, n, &err), (long)n);
}

/* ---- the shipped scenarios ---- */

static void test_shipped_scenarios(void **state)
{
    (void)state;
    static const char *const names[] = {"default", "balanced-50hz", "export-pv", "phase-loss",
                                        "harmonics", "drift", "split-phase"};
    static mtr_frame_t x[MTR_FS];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/scenarios/%s.ini", S4100_SOURCE_DIR, names[k]);
        sim_source_t *s = NULL;
        sim_err_t err = {""};
        if (sim_open_scenario(&s, path, &err) != SIM_OK)
            fail_msg("%s", err.msg);
        mtr_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.subintervals = 99; /* not in any file: must stay */
        assert_true(sim_scenario_meter(s, &cfg));
        assert_int_equal(cfg.subintervals, 99);
        assert_true(cfg.system_type == 40 || cfg.system_type == 12);
        assert_true(cfg.ct_primary >= 100);
        for (int sec = 0; sec < 3; sec++)
            read_n(s, x, NULL, MTR_FS);
        for (size_t j = 0; j < MTR_FS; j++)
            for (int c = 0; c < MTR_NCH; c++)
                assert_true(isfinite(x[j][c]) && fabsf(x[j][c]) < 2000.0f);
        sim_close(s);
    }
}

/* The default day: 10 minutes, importing at night, exporting at noon. */
static void test_default_day(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/scenarios/default.ini", S4100_SOURCE_DIR);
    sim_source_t *s = NULL;
    sim_err_t err;
    assert_int_equal(sim_open_scenario(&s, path, &err), SIM_OK);
    static mtr_frame_t x[MTR_FS];
    double p_by_hour[24] = {0};
    for (int sec = 0; sec < 600; sec++) {
        read_n(s, x, NULL, MTR_FS);
        double p = 0;
        for (size_t j = 0; j < MTR_FS; j++)
            p += (double)x[j][MTR_VA] * x[j][MTR_IA] / FS;
        p_by_hour[sec / 25] += p / 25.0;
    }
    assert_true(p_by_hour[2] > 8e3);   /* 02:00 night import, ~40 A x 277 V x 0.92 */
    assert_true(p_by_hour[7] > 20e3);  /* morning import */
    assert_true(p_by_hour[11] < -10e3); /* export around noon */
    assert_true(p_by_hour[19] > 20e3); /* evening import */
    /* loops: the second day starts like the first */
    mtr_frame_t y[10];
    read_n(s, y, NULL, 10);
    sim_close(s);
    assert_int_equal(sim_open_scenario(&s, path, &err), SIM_OK);
    read_n(s, x, NULL, 10);
    for (int j = 0; j < 10; j++)
        assert_true(fabs(x[j][MTR_IA] - y[j][MTR_IA]) < 0.5); /* same current, other noise */
    sim_close(s);
}

/* ---- parse errors ---- */

static void test_parse_errors(void **state)
{
    (void)state;
    expect_err("[bogus]\nvoltage = 1\n", SIM_EKEY, "line 1: unknown section [bogus]");
    expect_err("[signal]\nvolts = 5\n", SIM_EKEY, "line 2: unknown key 'volts'");
    expect_err("[signal]\n\nfrequency_a = 50\n", SIM_EKEY, "line 3: unknown key");
    expect_err("[scenario]\nfoo = 1\n", SIM_EKEY, "line 2: unknown key 'foo' in [scenario]");
    expect_err("[meter]\nct = 1\n", SIM_EKEY, "line 2: unknown key 'ct' in [meter]");
    expect_err("[signal]\nvoltage = abc\n", SIM_ESYNTAX, "line 2: voltage: 'abc' is not a number");
    expect_err("[signal]\nvoltage = 12x\n", SIM_ESYNTAX, "line 2:");
    expect_err("[signal]\nvoltage =\n", SIM_ESYNTAX, "line 2:");
    expect_err("[signal]\nvoltage = nan\n", SIM_ESYNTAX, "line 2:");
    expect_err("[signal]\nvoltage = 277 # volts\n", SIM_ESYNTAX, "line 2:");
    expect_err("[signal]\nvoltage_b = -1\n", SIM_ERANGE, "line 2: voltage_b: -1 outside");
    expect_err("[signal]\ncurrent = -0.1\n", SIM_ERANGE, "line 2: current");
    expect_err("[signal]\nfrequency = 0.5\n", SIM_ERANGE, "line 2: frequency");
    expect_err("[signal]\nfrequency = 1001\n", SIM_ERANGE, "line 2: frequency");
    expect_err("[signal]\npf = 1.01\n", SIM_ERANGE, "line 2: pf");
    expect_err("[signal]\npf = -0.5\n", SIM_ERANGE, "line 2: pf");
    expect_err("[signal]\nangle = 91\n", SIM_ERANGE, "line 2: angle");
    expect_err("[signal]\nvh1 = 5\n", SIM_ERANGE, "line 2: vh1: harmonic order 1");
    expect_err("[signal]\nih51_phase = 5\n", SIM_ERANGE, "line 2: ih51_phase: harmonic order");
    expect_err("[signal]\nih123456 = 5\n", SIM_ERANGE, "line 2:");
    expect_err("[signal]\nvh5 = 101\n", SIM_ERANGE, "line 2: vh5");
    expect_err("[signal]\nvh5_foo = 1\n", SIM_EKEY, "line 2: unknown key");
    expect_err("[signal]\ndirection = sideways\n", SIM_ESYNTAX,
               "line 2: direction: 'sideways' is not one of import|export");
    expect_err("[signal]\nsequence = bca\n", SIM_ESYNTAX, "line 2: sequence");
    expect_err("[signal]\ndrift = jump\n", SIM_ESYNTAX, "line 2: drift");
    expect_err("[signal]\nramp = 5\n", SIM_EKEY, "line 2: ramp: only in [at T]");
    expect_err("voltage = 1\n", SIM_ESYNTAX, "line 1: 'voltage' before any [section]");
    expect_err("[signal]\njunk\n", SIM_ESYNTAX, "line 2: expected 'key = value'");
    expect_err("[signal\nvoltage = 1\n", SIM_ESYNTAX, "line 1: section header without ']'");
    expect_err("[signal] x\n", SIM_ESYNTAX, "line 1: text after the section header");
    expect_err("[signal]\n  voltage = 1\n", SIM_ESYNTAX, "line 2: indented line");
    expect_err("[signal]\nvoltage = 1\n[signal]\n", SIM_ESYNTAX, "line 3: section [signal] appears twice");
    expect_err("[signal]\nvoltage = 1\n[meter]\nct_primary = 5\n", SIM_ESYNTAX,
               "line 3: section [meter] out of order");
    expect_err("[at 10]\ncurrent = 1\n[at 5]\ncurrent = 2\n", SIM_ERANGE,
               "line 3: [at 5]: event at 5 s comes before the previous one at 10 s");
    expect_err("[scenario]\nloop = 60\n[at 60]\ncurrent = 1\n", SIM_ERANGE,
               "line 3: [at 60]: event at 60 s is not within the loop");
    expect_err("[scenario]\ntime_scale = 60\nloop = 1:00\n[at 0:59]\n[at 1:00]\n", SIM_ERANGE,
               "line 5: [at 1:00]");
    expect_err("[at soon]\n", SIM_ESYNTAX, "line 1: [at soon]: not a time");
    expect_err("[at 1:75]\n", SIM_ESYNTAX, "line 1: [at 1:75]: not a time");
    expect_err("[at -5]\n", SIM_ESYNTAX, "line 1:");
    expect_err("[at 5]\nramp = forever\n", SIM_ESYNTAX, "line 2: ramp");
    expect_err("[scenario]\nloop = 0\n", SIM_ESYNTAX, "line 2: loop");
    expect_err("[scenario]\nseed = -3\n", SIM_ESYNTAX, "line 2: seed");
    expect_err("[scenario]\ntime_scale = 0\n", SIM_ERANGE, "line 2: time_scale");
    expect_err("[meter]\nsystem_type = 20\n", SIM_ERANGE, "line 2: system_type: 20");
    expect_err("[meter]\nct_secondary = 2\n", SIM_ERANGE, "line 2: ct_secondary");
    expect_err("[meter]\nct_primary = 4\n", SIM_ERANGE, "line 2: ct_primary");
    expect_err("[meter]\nsubinterval_cs = 1050\n", SIM_ERANGE, "line 2: subinterval_cs");
    expect_err("[meter]\npl_volts_pct = 2.5\n", SIM_ERANGE, "line 2: pl_volts_pct");
    expect_err("[meter]\nsystem_type = ten\n", SIM_ESYNTAX, "line 2: system_type: 'ten'");
    expect_err("[meter]\npt_ratio = 10\nsystem_voltage = 400\n", SIM_ERANGE,
               "line 3: system_voltage 400 V outside 82..660 x pt_ratio");
    /* rules between keys: reported at the section's last key */
    expect_err("[signal]\ndrift = ramp\ndrift_min = 52\ndrift_max = 51\n\n[at 5]\n", SIM_ERANGE,
               "line 4: drift_min 52 Hz must be below drift_max 51 Hz");
    expect_err("[signal]\npulse_rate = 10\n[at 3]\npulse_width = 100\n", SIM_ERANGE,
               "line 4: pulse_width 100 ms is not shorter than the pulse period 100 ms");
    expect_err("[signal]\nfrequency = 5\ndrift = wobble\nwobble_amplitude = 4.5\n", SIM_ERANGE,
               "line 4: frequency 5 Hz +- wobble_amplitude 4.5 Hz");
    /* what inih would misread */
    char longline[400] = "[signal]\nvoltage = 1";
    size_t ll = strlen(longline);
    memset(longline + ll, ' ', 250);
    strcpy(longline + ll + 250, "0\n");
    expect_err(longline, SIM_ESYNTAX, "line 2: line longer than");
    /* the first error is the one reported */
    expect_err("[signal]\nvoltage = 1\ncurrent = x\nbogus = 2\n", SIM_ESYNTAX, "line 3:");
    sim_source_t *s = (sim_source_t *)1;
    sim_err_t err;
    assert_int_equal(sim_open_scenario(&s, "/nonexistent/x.ini", &err), SIM_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "/nonexistent/x.ini: cannot open"));
    assert_int_equal(sim_open_scenario(&s, "/nonexistent/x.ini", NULL), SIM_EIO);
}

/* A NUL byte in a file (not expressible in a C string literal test above). */
static void test_parse_nul(void **state)
{
    (void)state;
    tmp_t t;
    tmp_init(&t);
    const char *path = tmp_name(&t, "nul.ini");
    FILE *f = fopen(path, "wb");
    fwrite("[signal]\nvolt\0age = 1\n", 1, 22, f);
    fclose(f);
    sim_source_t *s;
    sim_err_t err;
    assert_int_equal(sim_open_scenario(&s, path, &err), SIM_ESYNTAX);
    assert_non_null(strstr(err.msg, "line 2: NUL byte"));
    tmp_done(&t);
}

/* ---- the waveform ---- */

/* The closed form of docs/scenarios.md with a constant frequency. */
typedef struct {
    double f, v[3], vang[3], i[3], ang[3], dcv[3], dci[3];
    bool exp[3];
    int h;
    double vh[3], vhph[3], ih[3], ihph[3];
} ref_t;

static void ref_frame(const ref_t *r, uint64_t n, double *out)
{
    double a = 2 * PI * fmod(r->f * (double)n / FS, 1.0), d = PI / 180;
    for (int p = 0; p < 3; p++) {
        double av = a + r->vang[p] * d, ai = av - r->ang[p] * d;
        double v = sin(av), i = sin(ai);
        if (r->h) {
            v += r->vh[p] / 100 * sin(r->h * av + r->vhph[p] * d);
            i += r->ih[p] / 100 * sin(r->h * ai + r->ihph[p] * d);
        }
        out[p] = SQ2 * r->v[p] * v + r->dcv[p];
        out[3 + p] = SQ2 * r->i[p] * (r->exp[p] ? -i : i) + r->dci[p];
    }
}

static void compare(sim_source_t *s, const ref_t *r, size_t n, double tol)
{
    mtr_frame_t *x = malloc(n * sizeof *x);
    read_n(s, x, NULL, n);
    for (size_t k = 0; k < n; k++) {
        double e[6];
        ref_frame(r, k, e);
        for (int c = 0; c < 6; c++)
            if (fabs(x[k][c] - e[c]) > tol)
                fail_msg("frame %zu channel %d: %.9g, expected %.9g", k, c, x[k][c], e[c]);
    }
    free(x);
}

static void test_synth_analytic(void **state)
{
    (void)state;
    sim_source_t *s = scen("[signal]\n"
                           "frequency = 50\n"
                           "voltage = 230\nvoltage_b = 231.5\nvoltage_c = 228\n"
                           "current = 10\ncurrent_b = 20\ncurrent_c = 5\n"
                           "pf_a = 0.8\n"
                           "pf_type_b = capacitive\npf_b = 0.5\n"
                           "angle_c = 30\ndirection_c = export\n"
                           "vh3 = 5\nvh3_phase = 30\nih3_a = 20\nih3_phase_a = -45\n"
                           "dc_v_b = 2\ndc_i_c = -0.5\n");
    ref_t r = {.f = 50, .v = {230, 231.5, 228}, .vang = {0, -120, 120}, .i = {10, 20, 5},
               .ang = {acos(0.8) * 180 / PI, -60, 30}, .dcv = {0, 2, 0}, .dci = {0, 0, -0.5},
               .exp = {false, false, true}, .h = 3, .vh = {5, 5, 5}, .vhph = {30, 30, 30},
               .ih = {20, 0, 0}, .ihph = {-45, 0, 0}};
    compare(s, &r, 10 * MTR_FS, 1e-3); /* float resolution of ~330 V is 2e-5 */
    sim_close(s);

    /* acb mirrors the angles; the first sample of each phase checks them too */
    s = scen("[signal]\nfrequency = 60\nvoltage = 100\ncurrent = 1\nsequence = acb\n");
    ref_t q = {.f = 60, .v = {100, 100, 100}, .vang = {0, 120, -120}, .i = {1, 1, 1}};
    compare(s, &q, MTR_FS, 1e-3);
    sim_close(s);
}

static void test_system_type_defaults(void **state)
{
    (void)state;
    sim_source_t *s = scen("[meter]\nsystem_type = 10\n[signal]\nvoltage = 120\ncurrent = 5\n");
    ref_t r = {.f = 60, .v = {120, 0, 0}, .vang = {0, -120, 120}, .i = {5, 0, 0}};
    compare(s, &r, 500, 1e-4);
    sim_close(s);

    s = scen("[meter]\nsystem_type = 12\n[signal]\nvoltage = 120\ncurrent = 5\n");
    ref_t q = {.f = 60, .v = {120, 120, 0}, .vang = {0, 180, 120}, .i = {5, 5, 0}};
    compare(s, &q, 500, 1e-4);
    sim_close(s);

    /* type 11: A and B to the mid point, so V_AB = va - vb = 2 va */
    s = scen("[meter]\nsystem_type = 11\n[signal]\nvoltage = 120\nvoltage_c = 7\n");
    mtr_frame_t x[100];
    read_n(s, x, NULL, 100);
    for (int k = 0; k < 100; k++) {
        assert_true(fabs(x[k][MTR_VA] + x[k][MTR_VB]) < 1e-3);
        assert_true(fabs(x[k][MTR_VC]) <= 7 * SQ2 + 1e-3);
    }
    sim_close(s);

    s = scen("[meter]\nsystem_type = 31\n[signal]\nvoltage = 277\n");
    ref_t d = {.f = 60, .v = {277, 277, 277}, .vang = {0, -120, 120}};
    compare(s, &d, 500, 1e-3);
    sim_close(s);

    /* no [signal] at all: the documented defaults */
    s = scen("[scenario]\nname = empty\n");
    ref_t e = {.f = 60, .v = {120, 120, 120}, .vang = {0, -120, 120}};
    compare(s, &e, 500, 1e-4);
    assert_false(sim_scenario_meter(s, &(mtr_config_t){0}));
    sim_close(s);
}

/* Rising zero crossings of channel c, interpolated, in samples. */
static size_t crossings(mtr_frame_t *x, size_t n, int c, double *t, size_t max)
{
    size_t m = 0;
    for (size_t k = 1; k < n && m < max; k++)
        if (x[k - 1][c] < 0 && x[k][c] >= 0)
            t[m++] = (double)(k - 1) + x[k - 1][c] / (x[k - 1][c] - x[k][c]);
    return m;
}

/* The largest step between samples a sine of amplitude a at frequency f may make. */
static void assert_smooth(mtr_frame_t *x, size_t n, int c, double a, double fmax)
{
    double lim = a * 2 * sin(PI * fmax / FS) * 1.0001 + 1e-3;
    for (size_t k = 1; k < n; k++)
        if (fabs(x[k][c] - x[k - 1][c]) > lim)
            fail_msg("jump at frame %zu: %g -> %g (limit %g)", k, x[k - 1][c], x[k][c], lim);
}

static void test_freq_drift_ramp(void **state)
{
    (void)state;
    sim_source_t *s = scen("[signal]\nfrequency = 50\nvoltage = 100\n"
                           "drift = ramp\ndrift_rate = 0.5\ndrift_min = 49\ndrift_max = 51\n");
    size_t n = 20 * MTR_FS;
    mtr_frame_t *x = malloc(n * sizeof *x);
    read_n(s, x, NULL, n);
    /* the first 2 s go 50 -> 51 Hz: phase = 2 pi (50 t + 0.25 t^2), exactly */
    for (size_t k = 0; k < 2 * MTR_FS; k++) {
        double t = (double)k / FS, e = 100 * SQ2 * sin(2 * PI * (50 * t + 0.25 * t * t));
        if (fabs(x[k][MTR_VA] - e) > 2e-3)
            fail_msg("frame %zu: %.9g, expected %.9g", k, x[k][MTR_VA], e);
    }
    assert_smooth(x, n, MTR_VA, 100 * SQ2, 51);
    /* the frequency, cycle by cycle, sweeps 49..51 and no further */
    double t[1100];
    size_t m = crossings(x, n, MTR_VA, t, 1100);
    double fmin = 1e9, fmax = 0;
    for (size_t k = 1; k < m; k++) {
        double f = FS / (t[k] - t[k - 1]);
        fmin = fmin < f ? fmin : f;
        fmax = fmax > f ? fmax : f;
    }
    assert_true(fmin > 48.99 && fmin < 49.02);
    assert_true(fmax < 51.01 && fmax > 50.98);
    free(x);
    sim_close(s);
}

static void test_freq_event_ramp_and_wobble(void **state)
{
    (void)state;
    /* 50 Hz, at 1 s ramp to 60 Hz over 2 s */
    sim_source_t *s = scen("[signal]\nfrequency = 50\nvoltage = 100\n[at 1]\nfrequency = 60\nramp = 2\n");
    size_t n = 5 * MTR_FS;
    mtr_frame_t *x = malloc(n * sizeof *x);
    read_n(s, x, NULL, n);
    for (size_t k = 0; k < n; k++) {
        double tt = (double)k / FS, cyc;
        if (tt <= 1)
            cyc = 50 * tt;
        else if (tt <= 3)
            cyc = 50 + 50 * (tt - 1) + 2.5 * (tt - 1) * (tt - 1);
        else
            cyc = 50 + 110 + 60 * (tt - 3);
        double e = 100 * SQ2 * sin(2 * PI * cyc);
        if (fabs(x[k][MTR_VA] - e) > 2e-3)
            fail_msg("frame %zu: %.9g, expected %.9g", k, x[k][MTR_VA], e);
    }
    sim_close(s);

    /* wobble: f = 50 + sin(2 pi t / 4); phase = 2 pi (50 t + 4/(2 pi) (1 - cos(2 pi t/4))) */
    s = scen("[signal]\nfrequency = 50\nvoltage = 100\n"
             "drift = wobble\nwobble_amplitude = 1\nwobble_period = 4\n");
    read_n(s, x, NULL, n);
    for (size_t k = 0; k < n; k++) {
        double tt = (double)k / FS;
        double cyc = 50 * tt + 4 / (2 * PI) * (1 - cos(2 * PI * tt / 4));
        double e = 100 * SQ2 * sin(2 * PI * cyc);
        if (fabs(x[k][MTR_VA] - e) > 0.01)
            fail_msg("frame %zu: %.9g, expected %.9g", k, x[k][MTR_VA], e);
    }
    assert_smooth(x, n, MTR_VA, 100 * SQ2, 51);
    free(x);
    sim_close(s);
}

/* Current amplitude, pf and direction through events, a ramp and two loop passes. */
static void test_events_ramps_loop(void **state)
{
    (void)state;
    sim_source_t *s = scen("[scenario]\nloop = 4\n"
                           "[signal]\nfrequency = 60\nvoltage = 100\ncurrent = 10\n"
                           "[at 1]\ncurrent = 20\n"
                           "[at 2]\ncurrent = 0\nramp = 1\ndirection = export\n"
                           "[at 2]\nvoltage_b = 0\n");
    size_t n = 8 * MTR_FS + 10;
    mtr_frame_t *x = malloc(n * sizeof *x);
    read_n(s, x, NULL, n);
    for (size_t k = 0; k < n; k++) {
        size_t tl = k % (4 * MTR_FS);
        double I = tl < MTR_FS ? 10 : tl < 2 * MTR_FS ? 20
                 : tl < 3 * MTR_FS ? 20 * (1 - (double)(tl - 2 * MTR_FS) / FS) : 0;
        double sg = tl >= 2 * MTR_FS ? -1 : 1;
        double a = 2 * PI * fmod(60.0 * (double)k / FS, 1.0);
        double e = sg * SQ2 * I * sin(a);
        double vb = tl >= 2 * MTR_FS ? 0 : 100 * SQ2 * sin(a - 2 * PI / 3);
        if (fabs(x[k][MTR_IA] - e) > 1e-4 || fabs(x[k][MTR_VB] - vb) > 1e-3)
            fail_msg("frame %zu: ia %.9g expected %.9g; vb %.9g expected %.9g", k, x[k][MTR_IA],
                     e, x[k][MTR_VB], vb);
    }
    free(x);
    sim_close(s);

    /* a pf ramp moves the load angle linearly: 0 -> 60 deg over 1 s */
    s = scen("[signal]\nfrequency = 60\nvoltage = 100\ncurrent = 10\n[at 0]\npf = 0.5\nramp = 1\n");
    x = malloc(2 * MTR_FS * sizeof *x);
    read_n(s, x, NULL, 2 * MTR_FS);
    for (size_t k = 0; k < 2 * MTR_FS; k++) {
        double ang = k < MTR_FS ? 60.0 * (double)k / FS : 60.0;
        double e = 10 * SQ2 * sin(2 * PI * fmod(60.0 * (double)k / FS, 1.0) - ang * PI / 180);
        if (fabs(x[k][MTR_IA] - e) > 1e-4)
            fail_msg("frame %zu: %.9g expected %.9g", k, x[k][MTR_IA], e);
    }
    free(x);
    sim_close(s);

    /* time_scale and h:mm times: 1:00 (one hour) of scenario time = 3600/3600 = 1 s */
    s = scen("[scenario]\ntime_scale = 3600\n[signal]\ncurrent = 1\n[at 1:00]\ncurrent = 3\n");
    mtr_frame_t y[MTR_FS + 200];
    read_n(s, y, NULL, MTR_FS + 200);
    double m0 = 0, m1 = 0;
    for (size_t k = 0; k < MTR_FS; k++)
        m0 = fmax(m0, fabs(y[k][MTR_IA]));
    for (size_t k = MTR_FS; k < MTR_FS + 200; k++)
        m1 = fmax(m1, fabs(y[k][MTR_IA]));
    /* sampled peaks: within cos(4.3 deg) of the true peak at 60 Hz */
    assert_true(m0 <= SQ2 + 1e-4 && m0 > 0.99 * SQ2);
    assert_true(m1 <= 3 * SQ2 + 1e-4 && m1 > 0.99 * 3 * SQ2);
    sim_close(s);
}

/* Count closed spans and check their length. */
static void pulse_spans(const uint8_t *p, size_t n, size_t *count, size_t *minw, size_t *maxw)
{
    *count = 0;
    *minw = SIZE_MAX;
    *maxw = 0;
    size_t run = 0;
    for (size_t k = 0; k <= n; k++) {
        if (k < n && p[k]) {
            run++;
            continue;
        }
        if (run) {
            (*count)++;
            *minw = run < *minw ? run : *minw;
            *maxw = run > *maxw ? run : *maxw;
        }
        run = 0;
    }
}

static void test_pulses(void **state)
{
    (void)state;
    sim_source_t *s = scen("[signal]\npulse_rate = 10\npulse_width = 30\n"
                           "[at 10]\npulse_rate = 3\npulse_width = 50\n"
                           "[at 20]\npulse_rate = 0\n");
    size_t n = 30 * MTR_FS;
    mtr_frame_t *x = malloc(n * sizeof *x);
    uint8_t *p = malloc(n);
    read_n(s, x, p, n);
    size_t c, lo, hi;
    pulse_spans(p, 10 * MTR_FS, &c, &lo, &hi);
    assert_int_equal(c, 100);
    assert_int_equal(lo, 76); /* 30 ms = 75.6 samples: closed for 76 */
    assert_int_equal(hi, 76);
    assert_int_equal(p[0], 1); /* a train starts at once */
    pulse_spans(p + 10 * MTR_FS, 10 * MTR_FS, &c, &lo, &hi);
    assert_int_equal(c, 30);
    assert_int_equal(lo, 126);
    pulse_spans(p + 20 * MTR_FS, 10 * MTR_FS, &c, &lo, &hi);
    assert_int_equal(c, 0);
    /* NULL pulse is fine */
    read_n(s, x, NULL, 10);
    free(p);
    free(x);
    sim_close(s);
}

static void test_noise(void **state)
{
    (void)state;
    const char *text = "[scenario]\nseed = 7\n[signal]\nvoltage = 0\ncurrent = 0\n"
                       "noise = 1\nnominal_v = 200\nnominal_i = 50\n";
    sim_source_t *a = scen(text), *b = scen(text);
    sim_source_t *c = scen("[scenario]\nseed = 8\n[signal]\nvoltage = 0\nnoise_v = 1\nnominal_v = 200\n");
    size_t n = 20000;
    mtr_frame_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z);
    read_n(a, x, NULL, n);
    read_n(b, y, NULL, n);
    read_n(c, z, NULL, n);
    assert_memory_equal(x, y, n * sizeof *x);
    double sv = 0, si = 0, mv = 0;
    size_t same = 0;
    for (size_t k = 0; k < n; k++) {
        sv += (double)x[k][MTR_VB] * x[k][MTR_VB];
        si += (double)x[k][MTR_IC] * x[k][MTR_IC];
        mv += x[k][MTR_VB];
        same += x[k][MTR_VA] == z[k][MTR_VA];
    }
    assert_true(fabs(sqrt(sv / n) - 2.0) < 0.05);  /* 1 % of 200 V */
    assert_true(fabs(sqrt(si / n) - 0.5) < 0.0125); /* 1 % of 50 A */
    assert_true(fabs(mv / n) < 0.05);
    assert_true(same < 10);
    free(x);
    free(y);
    free(z);
    sim_close(a);
    sim_close(b);
    sim_close(c);
}

/* ---- a day of signal against exact references ---- */

/* The fundamental's phase in cycles, as an exact fraction num / den of integers: the
 * trapezoid sum of frequencies that are doubles M x 2^-47 Hz (32..64 Hz), constant at f0,
 * then from frame n0 a linear ramp over L frames to f1, then constant at f1. */
__extension__ typedef unsigned __int128 u128_t;

typedef struct {
    u128_t m0, m1, n0, l, den;
} day_ref_t;

static u128_t mantissa47(double f)
{
    int e;
    double m = frexp(f, &e);
    assert_int_equal(e, 6); /* f = M x 2^-47 with M < 2^53 */
    return (u128_t)ldexp(m, 53);
}

static u128_t day_num(const day_ref_t *r, uint64_t n)
{
    u128_t two_l = 2 * r->l;
    if (n <= r->n0)
        return two_l * r->m0 * n;
    u128_t m = n - r->n0 < r->l ? n - r->n0 : r->l;
    u128_t x = two_l * r->m0 * r->n0 + two_l * r->m0 * m + (r->m1 - r->m0) * m * m;
    return x + two_l * r->m1 * (n - r->n0 - m);
}

/* frac(h x phase) in cycles, and a sine of it shifted by off cycles. */
static double day_sin(const day_ref_t *r, u128_t num, unsigned h, double off)
{
    u128_t q = num % r->den * h % r->den;
    return sin(2 * PI * ((double)q / (double)r->den - off));
}

/* 24 h at 2520 S/s, a frequency ramp after the first hour, harmonics and a load angle:
 * every 97th frame and every frame of the first second, the ramp and the last second
 * against the closed form in exact arithmetic. Each value is within float rounding
 * plus 1e-9 of the channel's peak: the phase does not drift, however long the run. */
static void test_synth_day(void **state)
{
    (void)state;
    sim_source_t *s = scen("[signal]\nfrequency = 50.3\nvoltage = 230\ncurrent = 10\npf = 0.8\n"
                           "vh5 = 4\nih3 = 10\nih3_phase = 30\n"
                           "[at 3600]\nfrequency = 60.1\nramp = 100\n");
    day_ref_t r = {.m0 = mantissa47(50.3), .m1 = mantissa47(60.1), .n0 = 3600 * MTR_FS,
                   .l = 100 * MTR_FS};
    r.den = 2 * r.l * MTR_FS * ((u128_t)1 << 47);
    const uint64_t total = 24ull * 3600 * MTR_FS, n1 = (uint64_t)(r.n0 + r.l);
    const double phi = acos(0.8) / (2 * PI); /* the load angle, cycles */
    const double av = SQ2 * 230 * 1.04, ai = SQ2 * 10 * 1.1, eps = 1e-9;
    const size_t chunk = 10 * MTR_FS;
    mtr_frame_t *x = malloc(chunk * sizeof *x);
    uint64_t checked = 0;
    double worst = 0; /* the largest error beyond float rounding, in peaks */
    for (uint64_t n = 0; n < total; n += chunk) {
        read_n(s, x, NULL, chunk);
        for (size_t k = 0; k < chunk; k++) {
            uint64_t i = n + k;
            bool dense = i < MTR_FS || (i + MTR_FS >= r.n0 && i <= n1 + MTR_FS) ||
                         i + MTR_FS >= total;
            if (!dense && i % 97)
                continue;
            u128_t num = day_num(&r, i);
            double e[3] = {SQ2 * 230 * (day_sin(&r, num, 1, 0) + 0.04 * day_sin(&r, num, 5, 0)),
                           SQ2 * 230 * (day_sin(&r, num, 1, 1.0 / 3) +
                                        0.04 * day_sin(&r, num, 5, 5.0 / 3)),
                           SQ2 * 10 * (day_sin(&r, num, 1, phi) +
                                       0.1 * day_sin(&r, num, 3, 3 * phi - 30.0 / 360))};
            double got[3] = {x[k][MTR_VA], x[k][MTR_VB], x[k][MTR_IA]};
            for (int c = 0; c < 3; c++) {
                double peak = c < 2 ? av : ai, err = fabs(got[c] - e[c]);
                double beyond = (err - 0x1p-24 * fabs(e[c])) / peak;
                worst = beyond > worst ? beyond : worst;
                if (err > 0x1p-24 * fabs(e[c]) + 2 * eps * peak)
                    fail_msg("frame %llu (%.3f s) channel %d: %.9g, expected %.9g",
                             (unsigned long long)i, (double)i / FS, c, got[c], e[c]);
            }
            checked++;
        }
    }
    assert_true(checked > total / 97);
    print_message("      %llu frames checked, worst error beyond float rounding %.2g of the peak\n",
                  (unsigned long long)checked, worst);
    free(x);
    sim_close(s);
}

/* ---- the noise ---- */

/* Six million deviates at sigma 1 V: the mean, the RMS, the CDF at 0.05 steps (within
 * sampling error plus one of the 4096 cells), the tails to 4.5 sigma, no correlation
 * between frames or channels. */
static void test_noise_distribution(void **state)
{
    (void)state;
    sim_source_t *s = scen("[scenario]\nseed = 99\n[signal]\nvoltage = 0\ncurrent = 0\n"
                           "noise_v = 1\nnominal_v = 100\n");
    const size_t frames = 2000000, chunk = 100000;
    enum { NB = 200 }; /* bins of 0.05 over -5..5 */
    static uint64_t hist[NB + 2];
    memset(hist, 0, sizeof hist);
    mtr_frame_t *x = malloc(chunk * sizeof *x);
    double sum = 0, sum2 = 0, lag = 0, cross = 0, prev = 0;
    for (size_t done = 0; done < frames; done += chunk) {
        read_n(s, x, NULL, chunk);
        for (size_t k = 0; k < chunk; k++) {
            for (int c = MTR_VA; c <= MTR_VC; c++) {
                double g = x[k][c];
                sum += g;
                sum2 += g * g;
                int b = (int)floor((g + 5.0) / 0.05);
                hist[b < 0 ? 0 : b >= NB ? NB + 1 : b + 1]++;
            }
            assert_true(x[k][MTR_IA] == 0 && x[k][MTR_IC] == 0);
            lag += prev * x[k][MTR_VA];
            prev = x[k][MTR_VA];
            cross += (double)x[k][MTR_VA] * x[k][MTR_VB];
        }
    }
    const double n = 3.0 * frames, mean = sum / n, rms = sqrt(sum2 / n);
    print_message("      mean %.2e, rms %.6f\n", mean, rms);
    assert_true(fabs(mean) < 5 / sqrt(n));
    assert_true(fabs(rms - 1) < 5 * sqrt(0.5 / n));
    assert_true(fabs(lag / frames) < 5 / sqrt((double)frames));
    assert_true(fabs(cross / frames) < 5 / sqrt((double)frames));
    uint64_t below = hist[0];
    for (int b = 0; b < NB; b++) {
        below += hist[b + 1];
        double edge = -5.0 + 0.05 * (b + 1), p = 0.5 * erfc(-edge / SQ2);
        double tol = 5 * sqrt(p * (1 - p) / n) + 1.0 / 4096 + 1e-9;
        if (fabs((double)below / n - p) > tol)
            fail_msg("P(x < %.2f) = %.6f, expected %.6f", edge, (double)below / n, p);
    }
    /* The tails beyond the outer cells (3.29) are drawn exactly. */
    for (double t = 3.5; t <= 4.51; t += 0.5) {
        uint64_t out = 0;
        for (int b = 0; b < NB; b++) {
            double lo = -5.0 + 0.05 * b;
            if (lo >= t - 1e-9 || lo + 0.05 <= -t + 1e-9)
                out += hist[b + 1];
        }
        out += hist[0] + hist[NB + 1];
        double p = erfc(t / SQ2);
        if (fabs((double)out - n * p) > 5 * sqrt(n * p) + 3)
            fail_msg("P(|x| > %.1f): %llu, expected %.1f", t, (unsigned long long)out, n * p);
    }
    free(x);
    sim_close(s);
}

/* One source read whole, the other in reads of odd sizes: the noise is the same to the
 * bit, the rest within float rounding, the pulses exactly. */
static void compare_split(sim_source_t *a, sim_source_t *b, size_t n)
{
    mtr_frame_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t *p = malloc(n), *q = malloc(n);
    read_n(a, x, p, n);
    static const size_t sizes[] = {1, 7, 63, 64, 65, 1000, 2, 129, 4097, 31};
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t m = sizes[k % 10] < n - off ? sizes[k % 10] : n - off;
        read_n(b, y + off, q + off, m);
        off += m;
    }
    assert_memory_equal(p, q, n);
    for (size_t k = 0; k < n; k++)
        for (int c = 0; c < MTR_NCH; c++)
            if (fabs(x[k][c] - y[k][c]) > 0x1p-21 * (fabs(x[k][c]) + 1))
                fail_msg("frame %zu channel %d: %.9g, split reads %.9g", k, c, x[k][c], y[k][c]);
    free(x);
    free(y);
    free(p);
    free(q);
    sim_close(a);
    sim_close(b);
}

/* However the reads split the frames, the signal is the same: the default day (noise,
 * ramps, pulses), and noise that ramps in and out around events and a frequency ramp. */
static void test_read_split(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/scenarios/default.ini", S4100_SOURCE_DIR);
    sim_source_t *a = NULL, *b = NULL;
    sim_err_t err;
    assert_int_equal(sim_open_scenario(&a, path, &err), SIM_OK);
    assert_int_equal(sim_open_scenario(&b, path, &err), SIM_OK);
    compare_split(a, b, 60 * MTR_FS);
    const char *text = "[scenario]\nseed = 5\n"
                       "[signal]\nfrequency = 50\nvoltage = 230\ncurrent = 5\nnominal_v = 230\n"
                       "nominal_i = 10\npulse_rate = 7\npulse_width = 20\n"
                       "[at 0.5]\nnoise_v = 0.5\nramp = 1.3\n"
                       "[at 2]\nfrequency = 51\nramp = 0.7\nnoise_i = 1\n"
                       "[at 3.01]\nnoise_v = 0\nramp = 0.5\nvh7 = 3\n"
                       "[at 4.2]\nnoise_i = 0\n";
    compare_split(scen(text), scen(text), 6 * MTR_FS);
}

/* ---- live changes (the control socket's door) ---- */

static void test_live_set(void **state)
{
    (void)state;
    sim_source_t *s = scen("[signal]\nfrequency = 60\nvoltage = 100\ncurrent = 10\n");
    mtr_frame_t x[MTR_FS];
    read_n(s, x, NULL, 100);
    sim_err_t err;
    assert_int_equal(sim_set(s, "current_b", "40", &err), SIM_OK);
    assert_int_equal(sim_set(s, "DIRECTION_C", "export", &err), SIM_OK);
    read_n(s, x, NULL, 100);
    for (int k = 0; k < 100; k++) {
        double a = 2 * PI * fmod(60.0 * (100 + k) / FS, 1.0);
        assert_true(fabs(x[k][MTR_IB] - 40 * SQ2 * sin(a - 2 * PI / 3)) < 1e-4);
        assert_true(fabs(x[k][MTR_IC] + 10 * SQ2 * sin(a + 2 * PI / 3)) < 1e-4);
        assert_true(fabs(x[k][MTR_IA] - 10 * SQ2 * sin(a)) < 1e-4);
    }
    assert_true(fabs(sim_time(s) - 200 / FS) < 1e-12);

    /* a live ramp: voltage 100 -> 200 over 1 s */
    assert_int_equal(sim_set_ramp(s, "voltage_a", "200", 1.0, &err), SIM_OK);
    read_n(s, x, NULL, MTR_FS);
    double peak_first = 0, peak_last = 0;
    for (int k = 0; k < 50; k++)
        peak_first = fmax(peak_first, fabs(x[k][MTR_VA]));
    for (size_t k = MTR_FS - 50; k < MTR_FS; k++)
        peak_last = fmax(peak_last, fabs(x[k][MTR_VA]));
    assert_true(peak_first < 104 * SQ2 && peak_last > 195 * SQ2);

    /* rejected changes leave the source as it was */
    assert_int_equal(sim_set(s, "pulse_rate", "20", &err), SIM_OK);
    assert_int_equal(sim_set(s, "pulse_width", "60", &err), SIM_ERANGE);
    assert_non_null(strstr(err.msg, "pulse_width 60 ms"));
    assert_int_equal(sim_set(s, "voltage", "-3", &err), SIM_ERANGE);
    assert_int_equal(sim_set(s, "nope", "1", &err), SIM_EKEY);
    assert_non_null(strstr(err.msg, "unknown key 'nope'"));
    assert_int_equal(sim_set(s, "frequency", "x", &err), SIM_ESYNTAX);
    assert_int_equal(sim_set_ramp(s, "frequency", "50", -1, &err), SIM_ERANGE);
    assert_int_equal(sim_set(s, "ramp", "1", &err), SIM_EKEY);
    uint8_t p[MTR_FS];
    read_n(s, x, p, MTR_FS);
    size_t c, lo, hi;
    pulse_spans(p, MTR_FS, &c, &lo, &hi);
    assert_int_equal(c, 20);
    assert_int_equal(hi, 76);

    /* a live frequency change keeps the phase continuous */
    mtr_frame_t y[2 * MTR_FS];
    assert_int_equal(sim_set_ramp(s, "frequency", "45", 0.5, &err), SIM_OK);
    read_n(s, y, NULL, MTR_FS);
    assert_int_equal(sim_set(s, "frequency", "65", &err), SIM_OK);
    read_n(s, y + MTR_FS, NULL, MTR_FS);
    assert_smooth(y, 2 * MTR_FS, MTR_VA, 200 * SQ2, 65);
    sim_close(s);
}

/* Live drift-mode changes start at the next frame: a wobble from its zero, a ramp
 * upwards from the frequency; the phase follows the documented trapezoid exactly. */
static void test_live_drift(void **state)
{
    (void)state;
    sim_source_t *s = scen("[signal]\nfrequency = 50\nvoltage = 100\nwobble_amplitude = 3\n"
                           "wobble_period = 0.5\ndrift_rate = 40\ndrift_min = 48\ndrift_max = 50.5\n");
    const size_t n = 8000, on1 = 1000, on2 = 5000;
    mtr_frame_t *x = malloc(n * sizeof *x);
    sim_err_t err;
    read_n(s, x, NULL, on1);
    assert_int_equal(sim_set(s, "drift", "wobble", &err), SIM_OK);
    read_n(s, x + on1, NULL, on2 - on1);
    assert_int_equal(sim_set(s, "drift", "ramp", &err), SIM_OK);
    read_n(s, x + on2, NULL, n - on2);
    double ph = 0, f = 50, fr = 50;
    int dir = 1;
    for (size_t k = 0; k < n; k++) {
        double e = 100 * SQ2 * sin(2 * PI * ph);
        if (fabs(x[k][MTR_VA] - e) > 1e-3)
            fail_msg("frame %zu: %.9g, expected %.9g", k, x[k][MTR_VA], e);
        /* f at frame k + 1 */
        double g = 50;
        if (k + 1 > on1 && k + 1 <= on2)
            g = 50 + 3 * sin(2 * PI * (double)(k + 1 - (on1 + 1)) / (0.5 * FS));
        if (k + 1 > on2 + 1) {
            if (dir > 0 && fr >= 50.5)
                dir = -1;
            else if (dir < 0 && fr <= 48)
                dir = 1;
            fr += dir * 40 / FS;
            fr = fr < 48 ? 48 : fr > 50.5 ? 50.5 : fr;
        }
        if (k + 1 > on2)
            g = fr;
        ph += 0.5 * (f + g) / FS;
        ph -= floor(ph);
        f = g;
    }
    free(x);
    sim_close(s);
}

/* ---- replay ---- */

static void test_csv(void **state)
{
    (void)state;
    tmp_t t;
    tmp_init(&t);
    sim_source_t *s;
    sim_err_t err;
    mtr_frame_t x[8];
    uint8_t p[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    const char *path = tmp_write(&t, "a.csv", "# a recording\n"
                                              "Va,VB,vc,ia,ib,ic\n"
                                              "1,2,3,4,5,6\r\n"
                                              "\n"
                                              "  # comment\n"
                                              "-1.5, 2e3 ,0,0,0,-7\n");
    assert_int_equal(sim_open_csv(&s, path, &err), SIM_OK);
    assert_int_equal(sim_read(s, x, p, 8, &err), 2);
    assert_true(x[0][0] == 1 && x[0][5] == 6 && x[1][0] == -1.5f && x[1][1] == 2000 && x[1][5] == -7);
    assert_int_equal(p[0] | p[1], 0);
    assert_int_equal(sim_read(s, x, p, 8, &err), 0);
    assert_int_equal(sim_set(s, "current", "1", &err), SIM_EARG);
    assert_false(sim_scenario_meter(s, &(mtr_config_t){0}));
    sim_close(s);

    /* no header; columns in another order with a header */
    path = tmp_write(&t, "b.csv", "1,2,3,4,5,6\n");
    assert_int_equal(sim_open_csv(&s, path, &err), SIM_OK);
    assert_int_equal(sim_read(s, x, NULL, 8, &err), 1);
    sim_close(s);
    path = tmp_write(&t, "c.csv", "ic,ib,ia,vc,vb,va\n1,2,3,4,5,6\n");
    assert_int_equal(sim_open_csv(&s, path, &err), SIM_OK);
    assert_int_equal(sim_read(s, x, NULL, 8, &err), 1);
    assert_true(x[0][MTR_VA] == 6 && x[0][MTR_IC] == 1);
    sim_close(s);

    /* a t column at exactly 2520 Hz: no resampling, values unchanged */
    char buf[4096] = "t,va,vb,vc,ia,ib,ic\n";
    for (int k = 0; k < 20; k++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%.12g,%d,0,0,0,0,0\n",
                 100.0 + k / FS, k);
    path = tmp_write(&t, "t.csv", buf);
    assert_int_equal(sim_open_csv(&s, path, &err), SIM_OK);
    assert_int_equal(sim_read(s, x, NULL, 8, &err), 8);
    assert_true(x[7][MTR_VA] == 7);
    sim_close(s);

    static const struct {
        const char *text, *what;
        int code;
    } bad[] = {
        {"1,2,3,4,5,6\n1,2,3,4,5\n", "e.csv: line 2: expected 6 numbers, got 5", SIM_ESYNTAX},
        {"1,2,3,4,5,6\n1,2,3,4,5,6,\n", "line 2: expected 6 numbers, got 7", SIM_ESYNTAX},
        {"#\n1,2,3,x,5,6\n", "line 2: field 4 'x' is not a number", SIM_ESYNTAX},
        {"1,2,3,,5,6\n", "line 1: field 4 '' is not a number", SIM_ESYNTAX},
        {"1,2,3,4,5,6\n1,nan,3,4,5,6\n", "line 2: vb = 'nan' is not a finite number", SIM_ESYNTAX},
        {"1,2,3,4,5,-inf\n", "line 1: ic = '-inf' is not a finite", SIM_ESYNTAX},
        {"1,2,3,4,5,1e39\n", "line 1: ic = '1e39' is too large for a float", SIM_ERANGE},
        {"va,vb,vc,ia,ib,ix\n", "line 1: column 'ix' is not one of", SIM_ESYNTAX},
        {"va,vb,vc,ia,ib,va\n", "line 1: column 'va' appears twice", SIM_ESYNTAX},
        {"t,vb,vc,ia,ib,ic\n", "line 1: header lacks a channel", SIM_ESYNTAX},
        {"va,vb\n", "line 1: header has 2 columns", SIM_ESYNTAX},
        {"t,va,vb,vc,ia,ib,ic\n0,1,1,1,1,1,1\n", "needs at least two rows", SIM_ESYNTAX},
        {"t,va,vb,vc,ia,ib,ic\n0,1,1,1,1,1,1\n0,1,1,1,1,1,1\n", "line 3: t = 0 does not increase",
         SIM_ESYNTAX},
        {"t,va,vb,vc,ia,ib,ic\n0,1,1,1,1,1,1\n0.001,1,1,1,1,1,1\n0.00201,1,1,1,1,1,1\n"
         "0.003,1,1,1,1,1,1\n",
         "line 4: time step", SIM_ESYNTAX},
        {"t,va,vb,vc,ia,ib,ic\n0,1,1,1,1,1,1\n1000,1,1,1,1,1,1\n", "cannot be resampled",
         SIM_ERANGE},
        {"# nothing\n\n", "e.csv: no frames", SIM_ESYNTAX},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        s = (sim_source_t *)1;
        int rc = sim_open_csv(&s, tmp_write(&t, "e.csv", bad[k].text), &err);
        if (rc != bad[k].code || s || !strstr(err.msg, bad[k].what))
            fail_msg("for:\n%s\nexpected %d '%s', got %d '%s'", bad[k].text, bad[k].code,
                     bad[k].what, rc, err.msg);
    }
    s = (sim_source_t *)1;
    assert_int_equal(sim_open_csv(&s, tmp_name(&t, "missing.csv"), &err), SIM_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "missing.csv: cannot open"));
    tmp_done(&t);
}

static void write_wav(const char *path, int rate, int channels, const float *data, size_t frames,
                      int format)
{
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf)
        fail_msg("sf_open(%s): %s", path, sf_strerror(NULL));
    assert_int_equal(sf_writef_float(sf, data, (sf_count_t)frames), (sf_count_t)frames);
    sf_close(sf);
}

static void test_wav(void **state)
{
    (void)state;
    tmp_t t;
    tmp_init(&t);
    sim_source_t *s;
    sim_err_t err;
    const int fmt = SF_FORMAT_WAV | SF_FORMAT_FLOAT;

    /* at 2520 Hz: read back unchanged, primary units unscaled */
    float d[100 * 6];
    for (int k = 0; k < 600; k++)
        d[k] = (float)(k * 1.5 - 300);
    write_wav(tmp_name(&t, "a.wav"), MTR_FS, 6, d, 100, fmt);
    assert_int_equal(sim_open_wav(&s, tmp_name(&t, "a.wav"), &err), SIM_OK);
    mtr_frame_t x[64];
    uint8_t p[64];
    assert_int_equal(sim_read(s, x, p, 64, &err), 64);
    assert_memory_equal(x, d, 64 * sizeof x[0]);
    assert_int_equal(sim_read(s, x, NULL, 64, &err), 36);
    assert_memory_equal(x, d + 64 * 6, 36 * sizeof x[0]);
    assert_int_equal(sim_read(s, x, NULL, 64, &err), 0);
    assert_true(fabs(sim_time(s) - 100 / FS) < 1e-12);
    sim_close(s);

    /* the wrong channel count */
    write_wav(tmp_name(&t, "b.wav"), MTR_FS, 2, d, 100, fmt);
    s = (sim_source_t *)1;
    assert_int_equal(sim_open_wav(&s, tmp_name(&t, "b.wav"), &err), SIM_ESYNTAX);
    assert_null(s);
    assert_non_null(strstr(err.msg, "b.wav: 2 channels, expected 6"));

    /* not a sound file; missing */
    assert_int_equal(sim_open_wav(&s, tmp_write(&t, "c.wav", "hello"), &err), SIM_EIO);
    assert_non_null(strstr(err.msg, "c.wav: cannot open"));
    assert_int_equal(sim_open_wav(&s, tmp_name(&t, "none.wav"), &err), SIM_EIO);

    /* a non-finite sample: the read fails naming the frame */
    d[6 * 37 + 4] = NAN;
    write_wav(tmp_name(&t, "n.wav"), MTR_FS, 6, d, 100, fmt);
    assert_int_equal(sim_open_wav(&s, tmp_name(&t, "n.wav"), &err), SIM_OK);
    assert_int_equal(sim_read(s, x, NULL, 30, &err), 30);
    assert_true(sim_read(s, x, NULL, 30, &err) < 0);
    assert_non_null(strstr(err.msg, "n.wav: frame 37: channel ib is not finite"));
    sim_close(s);
    tmp_done(&t);
}

/* RMS over the whole cycles of one second and the frequency from zero crossings. */
static void check_sine(mtr_frame_t *x, size_t n, double amp_rms, double f)
{
    double ss = 0;
    size_t mid = n / 2 - MTR_FS / 2;
    for (size_t k = mid; k < mid + MTR_FS; k++)
        ss += (double)x[k][MTR_VA] * x[k][MTR_VA];
    double rms = sqrt(ss / FS);
    if (fabs(rms / amp_rms - 1) > 1e-4)
        fail_msg("rms %.9g, expected %.9g", rms, amp_rms);
    double t[2000];
    size_t lo = MTR_FS, hi = n - MTR_FS;
    size_t m = crossings(x + lo, hi - lo, MTR_VA, t, 2000);
    double fm = FS * (double)(m - 1) / (t[m - 1] - t[0]);
    if (fabs(fm / f - 1) > 1e-4)
        fail_msg("frequency %.9g, expected %.9g", fm, f);
}

static void test_resample(void **state)
{
    (void)state;
    tmp_t t;
    tmp_init(&t);
    sim_source_t *s;
    sim_err_t err;
    const int rate = 5000;
    const size_t nin = 10 * (size_t)rate;
    float *d = malloc(nin * 6 * sizeof *d);
    for (size_t k = 0; k < nin; k++)
        for (int c = 0; c < 6; c++)
            d[k * 6 + c] = (float)((c < 3 ? 230 : 10) * SQ2 * sin(2 * PI * 50 * (double)k / rate - c));
    write_wav(tmp_name(&t, "r.wav"), rate, 6, d, nin, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    assert_int_equal(sim_open_wav(&s, tmp_name(&t, "r.wav"), &err), SIM_OK);
    size_t cap = 11 * MTR_FS, n = 0;
    mtr_frame_t *x = malloc(cap * sizeof *x);
    long got;
    while ((got = sim_read(s, x + n, NULL, n + 1000 < cap ? 1000 : cap - n, &err)) > 0)
        n += (size_t)got;
    assert_true(got == 0);
    assert_true(n >= 10 * MTR_FS - 2 && n <= 10 * MTR_FS + 2);
    check_sine(x, n, 230, 50);
    sim_close(s);

    /* the same through a CSV with a t column */
    size_t rows = 4 * (size_t)rate;
    char *csv = malloc(rows * 64 + 64), *q = csv;
    q += sprintf(q, "t,va,vb,vc,ia,ib,ic\n");
    for (size_t k = 0; k < rows; k++)
        q += sprintf(q, "%.9g,%.9g,0,0,0,0,0\n", (double)k / rate, d[k * 6]);
    assert_int_equal(sim_open_csv(&s, tmp_write(&t, "r.csv", csv), &err), SIM_OK);
    n = 0;
    while ((got = sim_read(s, x + n, NULL, 777, &err)) > 0)
        n += (size_t)got;
    assert_true(n >= 4 * MTR_FS - 2 && n <= 4 * MTR_FS + 2);
    check_sine(x, n, 230, 50);
    sim_close(s);
    free(csv);
    free(x);
    free(d);
    tmp_done(&t);
}

/* ---- the AFE ---- */

static void test_afe(void **state)
{
    (void)state;
    mtr_config_t cfg = {.system_type = 40, .ct_primary = 200, .ct_secondary = 1, .pt_ratio = 2};
    mtr_frame_t x[3] = {{480, -240, 0, 100, -200, 50},
                        {2000, -2000, 1665.6f, 480, -480, 479},
                        {1665.7f, 0, 0, 481, 0, 0}};
    sim_afe(&cfg, x, 3);
    assert_true(x[0][0] == 240 && x[0][1] == -120 && x[0][2] == 0);
    assert_true(fabsf(x[0][3] - 0.5f) < 1e-7f && fabsf(x[0][4] + 1.0f) < 1e-7f &&
                fabsf(x[0][5] - 0.25f) < 1e-7f);
    /* clipped at +-832.8 V and +-2.4 x 1 V */
    assert_true(x[1][0] == (float)MTR_ADC_V_PEAK && x[1][1] == -(float)MTR_ADC_V_PEAK);
    assert_true(x[1][2] == 832.8f);
    assert_true(x[1][3] == 2.4f && x[1][4] == -2.4f && x[1][5] < 2.4f);
    assert_true(x[2][0] == 832.8f && x[2][3] == 2.4f);

    /* 1/3 V CTs: full scale 1/3 V, clip at 0.8 V */
    cfg.ct_secondary = 3;
    cfg.pt_ratio = 1;
    mtr_frame_t y[1] = {{100, 0, 0, 200, -600, 300}};
    sim_afe(&cfg, y, 1);
    assert_true(y[0][0] == 100);
    assert_true(fabsf(y[0][3] - 1.0f / 3) < 1e-7f);
    assert_true(y[0][4] == -0.8f && fabsf(y[0][5] - 0.5f) < 1e-7f);
    sim_afe(&cfg, y, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_scenarios),
        cmocka_unit_test(test_default_day),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_synth_analytic),
        cmocka_unit_test(test_system_type_defaults),
        cmocka_unit_test(test_freq_drift_ramp),
        cmocka_unit_test(test_freq_event_ramp_and_wobble),
        cmocka_unit_test(test_events_ramps_loop),
        cmocka_unit_test(test_pulses),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_synth_day),
        cmocka_unit_test(test_noise_distribution),
        cmocka_unit_test(test_read_split),
        cmocka_unit_test(test_live_set),
        cmocka_unit_test(test_live_drift),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_wav),
        cmocka_unit_test(test_resample),
        cmocka_unit_test(test_afe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
