/*
 * Accuracy test points for s4100 verify: the table parser, analytic waveforms and the
 * front end's error model. Every sample is computed in closed form from its index (no
 * accumulated phase), so the expected P and Q are exact and any error is the engine's
 * or the modelled front end's.
 */
#include "sim_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_PI 3.14159265358979323846
#define TP_LINE 256
#define TP_FIELDS 8

/* Kept identical to verify/iec-0.2s.csv (tests/e2e_verify.sh compares the two runs). */
static const char tp_default[] =
#include "testpoint_iec.inc"
    ;

const char *sim_tp_default_table(void)
{
    return tp_default;
}

__attribute__((format(printf, 4, 5)))
static long tp_fail(sim_err_t *err, const char *name, unsigned line, const char *fmt, ...)
{
    if (!err)
        return SIM_ESYNTAX;
    int k = snprintf(err->msg, sizeof err->msg, "%s: line %u: ", name, line);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < sizeof err->msg)
        vsnprintf(err->msg + k, sizeof err->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return SIM_ESYNTAX;
}

static char *tp_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* A finite number filling the whole field, within [lo, hi]. */
static bool tp_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "1", "0.5i", "0.8c" (L/C accepted too): below 1 the sign of the angle must be said. */
static bool tp_factor(char *s, sim_tp_t *tp)
{
    size_t n = strlen(s);
    char k = n ? (char)tolower((unsigned char)s[n - 1]) : 0;
    bool ind = k == 'i' || k == 'l', cap = k == 'c';
    if (ind || cap)
        s[n - 1] = '\0';
    if (!tp_num(s, 0.1, 1.0, &tp->factor))
        return false;
    if (!ind && !cap && tp->factor < 1.0)
        return false;
    tp->capacitive = cap;
    return true;
}

/* "-" or "0": none; else order:V%:I%. */
static bool tp_harmonic(char *s, sim_tp_t *tp)
{
    tp->h = 0;
    tp->hv = tp->hi = 0;
    if (!strcmp(s, "-") || !strcmp(s, "0"))
        return true;
    char *a = strchr(s, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!a || !b)
        return false;
    *a = *b = '\0';
    double h;
    if (!tp_num(s, 2, 50, &h) || h != floor(h) || !tp_num(a + 1, 0, 30, &tp->hv) ||
        !tp_num(b + 1, 0, 100, &tp->hi))
        return false;
    tp->h = (int)h;
    return true;
}

/* The name goes into CSV, JSON and SVG as it is: printable, no quote, comma or markup. */
static bool tp_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SIM_TP_NAME)
        return false;
    for (; *s; s++)
        if (!isprint((unsigned char)*s) || strchr("\"\\<>&,", *s))
            return false;
    return true;
}

/* One row: the fields are split already. 0, or a reason. */
static const char *tp_row(char **fld, sim_tp_t *tp)
{
    memset(tp, 0, sizeof *tp);
    if (!tp_name_ok(fld[0]))
        return "name: 1 to 47 printable characters, none of \" \\ < > &";
    strcpy(tp->name, fld[0]);
    if (strlen(fld[1]) != 1 || !strchr("PQ", fld[1][0]))
        return "quantity: P (active) or Q (reactive)";
    tp->quantity = fld[1][0];
    if (!tp_num(fld[2], 0.1, 150, &tp->ipct))
        return "current_pct: a number from 0.1 to 150 (% of the CT primary)";
    if (!tp_factor(fld[3], tp))
        return "factor: 1, or 0.1..1 followed by i (inductive) or c (capacitive)";
    if (!tp_num(fld[4], 45, 65, &tp->f))
        return "frequency_hz: a number from 45 to 65";
    if (!tp_num(fld[5], 10, MTR_V_LN_MAX, &tp->v))
        return "voltage_v: a number from 10 to 347 (volts to neutral)";
    if (!tp_harmonic(fld[6], tp))
        return "harmonic: - or order:V%:I% (order 2..50, V% 0..30, I% 0..100)";
    if (tp->h && tp->h * tp->f >= MTR_FS / 2.0)
        return "harmonic: above the Nyquist frequency of the ADCs (1260 Hz)";
    if (!tp_num(fld[7], 1e-6, 100, &tp->limit))
        return "limit_pct: a number above 0, at most 100";
    /* The peak must stay inside the ADC's range (+-2.4 x CT full scale). */
    if (tp->ipct / 100.0 * sqrt(2.0) * (1.0 + tp->hi / 100.0) > MTR_ADC_I_PEAK_FS)
        return "current_pct: the peak (with the harmonic) clips the ADC";
    return NULL;
}

static int tp_split(char *line, char **fld)
{
    int n = 0;
    for (char *s = line;; n++) {
        char *c = strchr(s, ',');
        if (n < TP_FIELDS)
            fld[n] = tp_trim(s);
        if (!c)
            return n + 1;
        *c = '\0';
        s = c + 1;
    }
}

long sim_tp_parse(const char *text, size_t len, const char *name, sim_tp_t *out, size_t cap,
                  sim_err_t *err)
{
    size_t n = 0, pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        size_t e = pos;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        if (e - pos >= TP_LINE)
            return tp_fail(err, name, lineno, "longer than %d characters", TP_LINE - 1);
        char line[TP_LINE], *fld[TP_FIELDS];
        size_t ll = e - pos;
        memcpy(line, text + pos, ll);
        line[ll] = '\0';
        pos = e + 1;
        if (strlen(line) != ll)
            return tp_fail(err, name, lineno, "a NUL character");
        char *s = tp_trim(line);
        if (!*s || *s == '#')
            continue;
        int nf = tp_split(s, fld);
        if (!strcmp(fld[0], "name"))
            continue; /* the header */
        if (nf != TP_FIELDS)
            return tp_fail(err, name, lineno, "expected %d fields (name,quantity,current_pct,"
                           "factor,frequency_hz,voltage_v,harmonic,limit_pct), got %d",
                           TP_FIELDS, nf);
        if (n == cap)
            return tp_fail(err, name, lineno, "more than %zu points", cap), SIM_ERANGE;
        const char *why = tp_row(fld, &out[n]);
        if (why)
            return tp_fail(err, name, lineno, "%s", why), SIM_ERANGE;
        n++;
    }
    if (n == 0) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "%s: no test points", name);
        return SIM_ERANGE;
    }
    return (long)n;
}

/* Load angle in radians, + when the current lags. */
static double tp_phi(const sim_tp_t *tp)
{
    double a = tp->quantity == 'Q' ? asin(tp->factor) : acos(tp->factor);
    return tp->capacitive ? -a : a;
}

void sim_tp_expected(const sim_tp_t *tp, double *p, double *q)
{
    double i = tp->ipct / 100.0, phi = tp_phi(tp); /* per unit of the CT primary */
    double vh = tp->v * tp->hv / 100.0, ih = i * tp->hi / 100.0;
    *p = 3.0 * (tp->v * i * cos(phi) + (tp->h ? vh * ih * cos(tp->h * phi) : 0.0));
    *q = 3.0 * (tp->v * i * sin(phi) + (tp->h ? vh * ih * sin(tp->h * phi) / tp->h : 0.0));
}

void sim_tp_start(sim_tp_gen_t *g, const sim_tp_t *tp, const sim_afe_err_t *e)
{
    memset(g, 0, sizeof *g);
    g->tp = *tp;
    if (e)
        g->e = *e;
    g->rng = g->e.seed ^ 0x9e3779b97f4a7c15ull;
}

/* splitmix64, then Box-Muller: the noise need not be fast, only seeded. */
static double tp_uniform(sim_tp_gen_t *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double tp_gauss(sim_tp_gen_t *g)
{
    double u = tp_uniform(g), v = tp_uniform(g);
    return sqrt(-2.0 * log(u)) * cos(2.0 * TP_PI * v);
}

/* Offset, noise and quantisation of one channel whose ADC spans +-fs. */
static float tp_adc(sim_tp_gen_t *g, double x, double fs)
{
    const sim_afe_err_t *e = &g->e;
    x += e->offset_pct / 100.0 * fs;
    if (e->noise_pct > 0)
        x += e->noise_pct / 100.0 * fs * tp_gauss(g);
    x = x > fs ? fs : x < -fs ? -fs : x;
    if (e->bits > 0) {
        double lsb = 2.0 * fs / ldexp(1.0, e->bits);
        x = round(x / lsb) * lsb;
    }
    return (float)x;
}

void sim_tp_fill(sim_tp_gen_t *g, const mtr_config_t *cfg, mtr_frame_t *x, size_t n)
{
    const sim_tp_t *tp = &g->tp;
    double fs_ct = cfg->ct_secondary == 3 ? 1.0 / 3.0 : 1.0;
    double kv = sqrt(2.0) * tp->v / cfg->pt_ratio;
    double ki = sqrt(2.0) * tp->ipct / 100.0 * fs_ct * (1.0 + g->e.gain_pct / 100.0);
    double vfs = MTR_ADC_V_PEAK, ifs = MTR_ADC_I_PEAK_FS * fs_ct;
    double lag = tp_phi(tp) + g->e.phase_deg * TP_PI / 180.0;
    double hv = tp->hv / 100.0, hi = tp->hi / 100.0;
    for (size_t k = 0; k < n; k++, g->n++) {
        double a = 2.0 * TP_PI * tp->f * ((double)g->n / MTR_FS);
        for (int p = 0; p < 3; p++) {
            double av = a - 2.0 * TP_PI / 3.0 * p, ai = av - lag;
            double v = sin(av), i = sin(ai);
            if (tp->h) {
                v += hv * sin(tp->h * av);
                i += hi * sin(tp->h * ai);
            }
            x[k][MTR_VA + p] = tp_adc(g, kv * v, vfs);
            x[k][MTR_IA + p] = tp_adc(g, ki * i, ifs);
        }
    }
}
