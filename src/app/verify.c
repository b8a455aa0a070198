/*
 * s4100 verify: an accuracy test. Runs a table of test points (IEC 62053-22 class 0.2S
 * and 62053-23 class 2 by default, docs/verify.md) through the metering engine, alone
 * or behind a modelled front end (gain, phase, offset, noise, ADC bits), and gives each
 * point's error against its class limit: how much of the class budget is left.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "metering/mtr.h"
#include "sim.h"

#define VF_MAX_POINTS 512
#define VF_WARMUP 2 /* 1 s cycles before the measurement: the engine locks on first */

enum { O_TABLE = 256, O_ALONE, O_GAIN, O_PHASE, O_OFFSET, O_NOISE, O_BITS, O_SEED, O_SECONDS,
       O_CSV, O_JSON, O_SVG };

typedef struct {
    double err;  /* % of the expected energy */
    double used; /* % of the limit */
    bool pass;
} vf_result_t;

typedef struct {
    const char *table, *csv, *json, *svg;
    sim_afe_err_t afe;
    bool afe_given, alone;
    unsigned seconds;
} vf_opts_t;

static void usage(FILE *f)
{
    fputs("usage: s4100 verify [options]\n"
          "Runs a table of accuracy test points through the metering engine, alone or behind\n"
          "a modelled analog front end, and prints each point's error, class limit and\n"
          "PASS/FAIL. Exit status 0 all PASS, 1 any FAIL, 2 a usage or table error.\n"
          "  --table FILE             test points (CSV, docs/verify.md); default: IEC 62053-22\n"
          "                           class 0.2S and 62053-23 class 2 (verify/iec-0.2s.csv)\n"
          "  --engine-alone           ideal signals into the engine (the default)\n"
          "  --afe-gain-error PCT     current channels' gain error, % (-10..10)\n"
          "  --afe-phase-error DEG    current lags voltage by this much more, degrees (-5..5)\n"
          "  --afe-offset PCT         DC offset on every channel, % of ADC full scale (-5..5)\n"
          "  --afe-noise PCT          RMS white noise on every channel, % of full scale (0..5)\n"
          "  --afe-bits N             ADC resolution, bits over +-full scale (8..32; 0: ideal)\n"
          "  --seed N                 the noise's seed (default 1)\n"
          "  --seconds N              measuring time per point, 1 s cycles (1..600, default 5)\n"
          "  --csv FILE               the results as CSV\n"
          "  --json FILE              the results as JSON\n"
          "  --svg FILE               a plot of error against current per power factor\n"
          "  --help                   this text\n",
          f);
}

static int bad(const char *fmt, const char *a, const char *b)
{
    fputs("s4100 verify: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputs("; try 's4100 verify --help'\n", stderr);
    return 2;
}

static int num(const char *opt, const char *arg, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "s4100 verify: --%s: '%s' is not a number from %g to %g\n", opt, arg, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* A whole number within [lo, hi]. */
static int whole(const char *opt, const char *arg, double lo, double hi, double *out)
{
    if (num(opt, arg, lo, hi, out))
        return -1;
    if (*out != floor(*out)) {
        fprintf(stderr, "s4100 verify: --%s: '%s' is not a whole number\n", opt, arg);
        return -1;
    }
    return 0;
}

static int take_afe(vf_opts_t *o, int c, const char *arg)
{
    double v;
    switch (c) {
    case O_GAIN: if (num("afe-gain-error", arg, -10, 10, &o->afe.gain_pct)) return -1; break;
    case O_PHASE: if (num("afe-phase-error", arg, -5, 5, &o->afe.phase_deg)) return -1; break;
    case O_OFFSET: if (num("afe-offset", arg, -5, 5, &o->afe.offset_pct)) return -1; break;
    case O_NOISE: if (num("afe-noise", arg, 0, 5, &o->afe.noise_pct)) return -1; break;
    case O_BITS:
        if (whole("afe-bits", arg, 0, 32, &v))
            return -1;
        if (v > 0 && v < 8) {
            fprintf(stderr, "s4100 verify: --afe-bits: '%s': 0 (ideal) or 8 to 32\n", arg);
            return -1;
        }
        o->afe.bits = (int)v;
        break;
    default: return 0;
    }
    o->afe_given = true;
    return 1;
}

static int parse(int argc, char **argv, vf_opts_t *o)
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, O_TABLE},
        {"engine-alone", no_argument, NULL, O_ALONE},
        {"afe-gain-error", required_argument, NULL, O_GAIN},
        {"afe-phase-error", required_argument, NULL, O_PHASE},
        {"afe-offset", required_argument, NULL, O_OFFSET},
        {"afe-noise", required_argument, NULL, O_NOISE},
        {"afe-bits", required_argument, NULL, O_BITS},
        {"seed", required_argument, NULL, O_SEED},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"csv", required_argument, NULL, O_CSV},
        {"json", required_argument, NULL, O_JSON},
        {"svg", required_argument, NULL, O_SVG},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    double v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int r = take_afe(o, c, optarg);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        switch (c) {
        case O_TABLE: o->table = optarg; break;
        case O_ALONE: o->alone = true; break;
        case O_CSV: o->csv = optarg; break;
        case O_JSON: o->json = optarg; break;
        case O_SVG: o->svg = optarg; break;
        case O_SEED:
            if (whole("seed", optarg, 0, 9007199254740992.0, &v))
                return 2;
            o->afe.seed = (uint64_t)v;
            break;
        case O_SECONDS:
            if (whole("seconds", optarg, 1, 600, &v))
                return 2;
            o->seconds = (unsigned)v;
            break;
        case 'h': usage(stdout); return 0;
        case ':': return bad("option '%s' needs a value%s", argv[optind - 1], "");
        default: return bad("unknown option '%s'%s", argv[optind - 1], "");
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'%s", argv[optind], "");
    if (o->alone && o->afe_given)
        return bad("--engine-alone and --afe-* options contradict each other%s%s", "", "");
    return -1;
}

/* ---- one point ---- */

static double registers(const mtr_t *m, char quantity)
{
    if (quantity == 'P')
        return mtr_energy_kwh(&m->nv.e[MTR_E_KWH_IMP]);
    double q = 0;
    for (int k = 0; k < 4; k++)
        q += mtr_energy_kwh(&m->nv.e[MTR_E_KVARH_Q1 + k]);
    return q;
}

static void cycles(mtr_t *m, sim_tp_gen_t *g, mtr_frame_t *buf, unsigned n)
{
    for (unsigned s = 0; s < n; s++) {
        size_t left = m->tick_left, off = 0;
        sim_tp_fill(g, &m->cfg, buf, left);
        bool cycle = false;
        while (off < left)
            off += mtr_feed(m, buf + off, left - off, &cycle);
    }
}

/* The energy registered between two whole-cycle boundaries against the exact energy of
 * that span: what a meter test bench compares. */
static vf_result_t run_point(const sim_tp_t *tp, const vf_opts_t *o, mtr_frame_t *buf)
{
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    mtr_t m;
    mtr_init(&m, &cfg, NULL);
    sim_tp_gen_t g;
    sim_tp_start(&g, tp, &o->afe);
    cycles(&m, &g, buf, VF_WARMUP);
    double t1 = mtr_time_samples(m.win_start), e1 = registers(&m, tp->quantity);
    cycles(&m, &g, buf, o->seconds);
    double dt = (mtr_time_samples(m.win_start) - t1) / MTR_FS, e = registers(&m, tp->quantity) - e1;
    double p, q;
    sim_tp_expected(tp, &p, &q);
    double per_amp = cfg.ct_primary; /* sim_tp_expected works per unit of the CT primary */
    double want = fabs(tp->quantity == 'P' ? p : q) * per_amp * dt / 3.6e6;
    vf_result_t r;
    r.err = (e - want) / want * 100.0;
    r.used = fabs(r.err) / tp->limit * 100.0;
    r.pass = fabs(r.err) <= tp->limit;
    return r;
}

/* ---- reports ---- */

static void factor_text(const sim_tp_t *tp, char *s, size_t cap)
{
    snprintf(s, cap, "%s%g%s", tp->quantity == 'P' ? "PF" : "sin", tp->factor,
             tp->factor >= 1.0 ? "" : tp->capacitive ? "c" : "i");
}

static void harmonic_text(const sim_tp_t *tp, char *s, size_t cap)
{
    if (tp->h)
        snprintf(s, cap, "%d:%g:%g", tp->h, tp->hv, tp->hi);
    else
        snprintf(s, cap, "-");
}

static void front_end_text(const vf_opts_t *o, char *s, size_t cap)
{
    if (!o->afe_given) {
        snprintf(s, cap, "engine alone");
        return;
    }
    snprintf(s, cap, "front end: gain %+g %%, phase %+g deg, offset %g %%FS, noise %g %%FS, %d bits",
             o->afe.gain_pct, o->afe.phase_deg, o->afe.offset_pct, o->afe.noise_pct, o->afe.bits);
}

static void print_text(const sim_tp_t *tp, const vf_result_t *r, size_t n, const vf_opts_t *o)
{
    char fe[160], fa[24], h[40];
    front_end_text(o, fe, sizeof fe);
    printf("s4100 verify: %zu points, %s, %u s each\n", n, fe, o->seconds);
    printf("%-22s %-3s %7s %-8s %6s %6s %-10s %10s %7s %7s  %s\n", "point", "qty", "I %", "factor",
           "f Hz", "V", "harmonic", "error %", "limit %", "used %", "result");
    size_t fails = 0, worst = 0;
    for (size_t k = 0; k < n; k++) {
        factor_text(&tp[k], fa, sizeof fa);
        harmonic_text(&tp[k], h, sizeof h);
        printf("%-22s %-3c %7g %-8s %6g %6g %-10s %+10.5f %7g %7.2f  %s\n", tp[k].name,
               tp[k].quantity, tp[k].ipct, fa, tp[k].f, tp[k].v, h, r[k].err, tp[k].limit,
               r[k].used, r[k].pass ? "PASS" : "FAIL");
        fails += !r[k].pass;
        if (r[k].used > r[worst].used)
            worst = k;
    }
    /* The worst point is the one that used most of its own limit. */
    printf("%zu PASS, %zu FAIL; worst: %s, error %+.5f %% against +-%g %%: %.2f %% of the limit "
           "used, margin %.5f %%\n", n - fails, fails, tp[worst].name, r[worst].err,
           tp[worst].limit, r[worst].used, tp[worst].limit - fabs(r[worst].err));
}

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "s4100 verify: %s: cannot write\n", path);
    return f;
}

static int close_out(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "s4100 verify: %s: write error\n", path);
        return -1;
    }
    return 0;
}

static int write_csv(const char *path, const sim_tp_t *tp, const vf_result_t *r, size_t n)
{
    FILE *f = open_out(path);
    if (!f)
        return -1;
    fputs("name,quantity,current_pct,factor,frequency_hz,voltage_v,harmonic,error_pct,limit_pct,"
          "limit_used_pct,result\n", f);
    char fa[24], h[40];
    for (size_t k = 0; k < n; k++) {
        factor_text(&tp[k], fa, sizeof fa);
        harmonic_text(&tp[k], h, sizeof h);
        fprintf(f, "%s,%c,%g,%s,%g,%g,%s,%.6f,%g,%.3f,%s\n", tp[k].name, tp[k].quantity,
                tp[k].ipct, fa, tp[k].f, tp[k].v, h, r[k].err, tp[k].limit, r[k].used,
                r[k].pass ? "PASS" : "FAIL");
    }
    return close_out(f, path);
}

static int write_json(const char *path, const sim_tp_t *tp, const vf_result_t *r, size_t n,
                      const vf_opts_t *o)
{
    FILE *f = open_out(path);
    if (!f)
        return -1;
    size_t fails = 0;
    for (size_t k = 0; k < n; k++)
        fails += !r[k].pass;
    fprintf(f, "{\"front_end\":%s", o->afe_given ? "{" : "null");
    if (o->afe_given)
        fprintf(f, "\"gain_error_pct\":%g,\"phase_error_deg\":%g,\"offset_pct\":%g,"
                   "\"noise_pct\":%g,\"bits\":%d,\"seed\":%llu}", o->afe.gain_pct,
                o->afe.phase_deg, o->afe.offset_pct, o->afe.noise_pct, o->afe.bits,
                (unsigned long long)o->afe.seed);
    fprintf(f, ",\"seconds\":%u,\"pass\":%zu,\"fail\":%zu,\"points\":[", o->seconds, n - fails,
            fails);
    char fa[24], h[40];
    for (size_t k = 0; k < n; k++) {
        factor_text(&tp[k], fa, sizeof fa);
        harmonic_text(&tp[k], h, sizeof h);
        fprintf(f, "%s\n{\"name\":\"%s\",\"quantity\":\"%c\",\"current_pct\":%g,\"factor\":\"%s\","
                   "\"frequency_hz\":%g,\"voltage_v\":%g,\"harmonic\":\"%s\",\"error_pct\":%.6f,"
                   "\"limit_pct\":%g,\"limit_used_pct\":%.3f,\"result\":\"%s\"}",
                k ? "," : "", tp[k].name, tp[k].quantity, tp[k].ipct, fa, tp[k].f, tp[k].v, h,
                r[k].err, tp[k].limit, r[k].used, r[k].pass ? "PASS" : "FAIL");
    }
    fputs("\n]}\n", f);
    return close_out(f, path);
}

/* ---- the plot: one panel per quantity, error against log current, a series per
 * power factor with its limit band ---- */

#define SVG_W 760
#define SVG_PH 300 /* panel height */
#define SVG_L 70
#define SVG_R 170
#define SVG_T 40
#define SVG_B 50

static const char *const svg_colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                          "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

typedef struct {
    double x0, x1, y; /* log10 current range, +- error range */
    int top;
} svg_panel_t;

static double svg_x(const svg_panel_t *p, double ipct)
{
    return SVG_L + (log10(ipct) - p->x0) / (p->x1 - p->x0) * (SVG_W - SVG_L - SVG_R);
}

static double svg_y(const svg_panel_t *p, double e)
{
    double h = SVG_PH - SVG_T - SVG_B;
    return p->top + SVG_T + (1.0 - (e + p->y) / (2.0 * p->y)) * h;
}

static void svg_axes(FILE *f, const svg_panel_t *p, char q)
{
    double yb = p->top + SVG_PH - SVG_B, yt = p->top + SVG_T, xr = SVG_W - SVG_R;
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"14\">%s energy: error against current</text>\n",
            SVG_L, yt - 14, q == 'P' ? "Active" : "Reactive");
    fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#444\"/>\n", SVG_L, yt, xr - SVG_L, yb - yt);
    static const double xt[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 150};
    for (size_t k = 0; k < sizeof xt / sizeof *xt; k++) {
        double l = log10(xt[k]);
        if (l < p->x0 - 1e-9 || l > p->x1 + 1e-9)
            continue;
        double x = svg_x(p, xt[k]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n",
                x, yt, x, yb, x, yb + 15, xt[k]);
    }
    for (int k = -4; k <= 4; k++) {
        double e = p->y * k / 4.0, y = svg_y(p, e);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                   "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%+.3g</text>\n",
                SVG_L, y, xr, y, k ? "#eee" : "#888", SVG_L - 5, y + 4, e);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">current, %% of In "
               "(log)</text>\n", (SVG_L + xr) / 2, yb + 35);
    fprintf(f, "<text x=\"16\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 16 %.1f)\">error, %%</text>\n", (yt + yb) / 2, (yt + yb) / 2);
}

/* The points of one series in order of current (index list, insertion sort: few). */
static size_t svg_series(const sim_tp_t *tp, size_t n, size_t first, size_t *idx)
{
    size_t m = 0;
    char a[24], b[24];
    factor_text(&tp[first], a, sizeof a);
    for (size_t k = first; k < n; k++) {
        factor_text(&tp[k], b, sizeof b);
        if (tp[k].quantity != tp[first].quantity || strcmp(a, b))
            continue;
        size_t j = m++;
        for (; j > 0 && tp[idx[j - 1]].ipct > tp[k].ipct; j--)
            idx[j] = idx[j - 1];
        idx[j] = k;
    }
    return m;
}

static bool svg_first_of_series(const sim_tp_t *tp, size_t k)
{
    char a[24], b[24];
    factor_text(&tp[k], a, sizeof a);
    for (size_t j = 0; j < k; j++) {
        factor_text(&tp[j], b, sizeof b);
        if (tp[j].quantity == tp[k].quantity && !strcmp(a, b))
            return false;
    }
    return true;
}

static void svg_draw_series(FILE *f, const svg_panel_t *p, const sim_tp_t *tp,
                            const vf_result_t *r, const size_t *idx, size_t m, const char *col)
{
    /* The limit band: a point's limit holds up to the next point's current, where the
     * standard's current ranges change. */
    fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.08\" stroke=\"%s\" stroke-dasharray=\"4 3\" "
               "stroke-opacity=\"0.6\" points=\"", col, col);
    for (size_t j = 0; j < m; j++) {
        double l = tp[idx[j]].limit;
        fprintf(f, "%.1f,%.1f ", svg_x(p, tp[idx[j]].ipct), svg_y(p, l));
        if (j + 1 < m)
            fprintf(f, "%.1f,%.1f ", svg_x(p, tp[idx[j + 1]].ipct), svg_y(p, l));
    }
    for (size_t j = m; j-- > 0;) {
        double l = tp[idx[j]].limit;
        if (j + 1 < m)
            fprintf(f, "%.1f,%.1f ", svg_x(p, tp[idx[j + 1]].ipct), svg_y(p, -l));
        fprintf(f, "%.1f,%.1f ", svg_x(p, tp[idx[j]].ipct), svg_y(p, -l));
    }
    fputs("\"/>\n", f);
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
    for (size_t j = 0; j < m; j++)
        fprintf(f, "%.1f,%.1f ", svg_x(p, tp[idx[j]].ipct), svg_y(p, r[idx[j]].err));
    fputs("\"/>\n", f);
    for (size_t j = 0; j < m; j++) {
        const vf_result_t *x = &r[idx[j]];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" stroke=\"%s\"><title>%s: "
                   "%+.4f %% (limit %g %%) %s</title></circle>\n", svg_x(p, tp[idx[j]].ipct),
                svg_y(p, x->err), x->pass ? col : "#fff", col, tp[idx[j]].name, x->err,
                tp[idx[j]].limit, x->pass ? "PASS" : "FAIL");
    }
}

static void svg_panel(FILE *f, int top, char q, const sim_tp_t *tp, const vf_result_t *r, size_t n,
                      size_t *idx)
{
    svg_panel_t p = {1e9, -1e9, 0, top};
    for (size_t k = 0; k < n; k++) {
        if (tp[k].quantity != q)
            continue;
        double l = log10(tp[k].ipct);
        p.x0 = fmin(p.x0, l), p.x1 = fmax(p.x1, l);
        p.y = fmax(p.y, fmax(tp[k].limit, fabs(r[k].err)));
    }
    p.x0 -= 0.1, p.x1 += 0.1, p.y *= 1.15;
    svg_axes(f, &p, q);
    int series = 0;
    for (size_t k = 0; k < n; k++) {
        if (tp[k].quantity != q || !svg_first_of_series(tp, k))
            continue;
        const char *col = svg_colours[series % 8];
        size_t m = svg_series(tp, n, k, idx);
        svg_draw_series(f, &p, tp, r, idx, m, col);
        char fa[24];
        factor_text(&tp[k], fa, sizeof fa);
        int ly = top + SVG_T + 10 + 18 * series++;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
                   "y=\"%d\" font-size=\"12\">%s</text>\n", SVG_W - SVG_R + 15, ly - 9, col,
                SVG_W - SVG_R + 35, ly, fa);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#666\">band: class limit; hollow: "
               "FAIL</text>\n", SVG_W - SVG_R + 15, top + SVG_PH - SVG_B);
}

static int write_svg(const char *path, const sim_tp_t *tp, const vf_result_t *r, size_t n,
                     const vf_opts_t *o)
{
    size_t *idx = malloc(n * sizeof *idx);
    FILE *f = idx ? open_out(path) : NULL;
    if (!f) {
        free(idx);
        return -1;
    }
    bool has[2] = {false, false};
    for (size_t k = 0; k < n; k++)
        has[tp[k].quantity == 'Q'] = true;
    int panels = has[0] + has[1], top = 30;
    char fe[160];
    front_end_text(o, fe, sizeof fe);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
               "<text x=\"%d\" y=\"20\" font-size=\"13\">s4100 verify: %s</text>\n",
            SVG_W, top + panels * SVG_PH, SVG_W, top + panels * SVG_PH, SVG_L, fe);
    for (int q = 0; q < 2; q++)
        if (has[q]) {
            svg_panel(f, top, q ? 'Q' : 'P', tp, r, n, idx);
            top += SVG_PH;
        }
    fputs("</svg>\n", f);
    free(idx);
    return close_out(f, path);
}

/* ---- the command ---- */

static long load_table(const char *path, sim_tp_t *tp)
{
    sim_err_t err = {{0}};
    long n;
    if (!path) {
        const char *t = sim_tp_default_table();
        n = sim_tp_parse(t, strlen(t), "default table", tp, VF_MAX_POINTS, &err);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "s4100 verify: %s: cannot open\n", path);
            return -1;
        }
        static const size_t cap = 1u << 20;
        char *text = malloc(cap);
        size_t len = text ? fread(text, 1, cap, f) : 0;
        bool big = text && len == cap, rd = ferror(f);
        fclose(f);
        if (!text || big || rd) {
            fprintf(stderr, "s4100 verify: %s: %s\n", path,
                    !text ? "out of memory" : big ? "larger than 1 MB" : "read error");
            free(text);
            return -1;
        }
        n = sim_tp_parse(text, len, path, tp, VF_MAX_POINTS, &err);
        free(text);
    }
    if (n < 0)
        fprintf(stderr, "s4100 verify: %s\n", err.msg);
    return n;
}

int app_verify(int argc, char **argv)
{
    vf_opts_t o = {0};
    o.seconds = 5;
    o.afe.seed = 1;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    sim_tp_t *tp = malloc(VF_MAX_POINTS * sizeof *tp);
    vf_result_t *r = malloc(VF_MAX_POINTS * sizeof *r);
    mtr_frame_t *buf = malloc(MTR_FS * sizeof *buf);
    long n = tp && r && buf ? load_table(o.table, tp) : -1;
    if (n < 0) {
        free(tp), free(r), free(buf);
        return 2;
    }
    size_t fails = 0;
    for (long k = 0; k < n; k++) {
        r[k] = run_point(&tp[k], &o, buf);
        fails += !r[k].pass;
    }
    print_text(tp, r, (size_t)n, &o);
    int io = 0;
    if (o.csv)
        io |= write_csv(o.csv, tp, r, (size_t)n);
    if (o.json)
        io |= write_json(o.json, tp, r, (size_t)n, &o);
    if (o.svg)
        io |= write_svg(o.svg, tp, r, (size_t)n, &o);
    free(tp), free(r), free(buf);
    if (fflush(stdout) != 0 || io)
        return 2;
    return fails ? 1 : 0;
}
