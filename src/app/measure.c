/*
 * s4100 measure: run the metering engine over a scenario or a recording as fast as it
 * can and print the 1 s readings, one line per cycle, keyed by the AI object names.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "control.h"
#include "metering/mtr.h"
#include "objects/obj.h"
#include "sim.h"

enum { OPT_CSV_IN = 256, OPT_REFERENCE, OPT_COMTRADE, OPT_COMTRADE_MAP, OPT_COMTRADE_WINDOW };

static void usage(FILE *f)
{
    fputs("usage: s4100 measure (--scenario FILE | --wav FILE | --csv-in FILE |\n"
          "                      --comtrade FILE) [options]\n"
          "Runs the metering engine over a scenario or a recording as fast as it can and\n"
          "prints the readings of each 1 s cycle, keyed by the AI object names.\n"
          "  --scenario FILE        a scenario (docs/scenarios.md; shipped ones in scenarios/)\n"
          "  --wav FILE             a 6-channel WAV recording\n"
          "  --csv-in FILE          a CSV recording: va,vb,vc,ia,ib,ic per line, optional\n"
          "                         header and t column\n"
          "  --comtrade FILE        a COMTRADE recording (IEEE C37.111): FILE.cfg with its\n"
          "                         .dat, or FILE.cff\n"
          "  --comtrade-map MAP     its analog channels for Va..Ic, e.g. va=1,vb=2,ic=IC3\n"
          "                         (number, ch_id or none; default: by phase id and unit)\n"
          "  --comtrade-window FROM[,TO]  only this part of it, in seconds from the trigger\n"
          "                         (negative: before it; FROM may be start, TO end), e.g.\n"
          "                         0 = from the trigger on; its first sample and trigger\n"
          "                         times and the part replayed are printed on stderr\n"
          "  --seconds N            how many 1 s cycles (scenarios: default 10;\n"
          "                         recordings: default the whole file)\n"
          "  --json | --csv         output format (default JSON lines; QNAN is null in JSON,\n"
          "                         an empty field in CSV)\n"
          "  --reference FILE       compare with a reference meter's readings (CSV: t, then AI\n"
          "                         names) and print the error per quantity, not readings\n"
          "  --help                 this text\n"
          "Recordings hold primary-side volts (to neutral, or to a common reference) and amps,\n"
          "channels Va Vb Vc Ia Ib Ic; a WAV as 32-bit float samples, any rate (resampled).\n",
          f);
    app_settings_usage(f);
}

static void print_header_csv(void)
{
    fputs("t", stdout);
    for (unsigned k = 1; k <= MTR_AI_COUNT; k++)
        printf(",%s", obj_find(OBJ_AI, k)->name);
    putchar('\n');
}

static void print_cycle(const mtr_t *m, bool csv)
{
    if (csv)
        printf("%u", m->cycles);
    else
        printf("{\"t\":%u", m->cycles);
    if (csv) {
        for (unsigned k = 1; k <= MTR_AI_COUNT; k++)
            isnan(m->ai[k]) ? printf(",") : printf(",%.9g", (double)m->ai[k]);
        puts("");
        return;
    }
    putchar(',');
    app_json_readings(stdout, m);
    puts("}");
}

/* ---- --reference: a reference meter's readings against this run ---- */

/* A reference meter's readings: a CSV with a header "t,<AI name>,..." (the names
 * measure --csv prints, any subset, any order) and a row per reading, t in seconds from
 * the start, rising; a row is compared with the 1 s cycle that ends at that second
 * (t rounded); an empty field is no reading. */
typedef struct {
    const char *path;
    int ncol;
    unsigned col[MTR_AI_COUNT]; /* AI instance per value column */
    size_t nrow, next, matched;
    double *t, *val;            /* nrow times, nrow x ncol values (NAN: none) */
    size_t n[MTR_AI_COUNT];     /* per column: readings compared */
    double sum[MTR_AI_COUNT], worst[MTR_AI_COUNT];
} ref_t;

static unsigned ref_ai_by_name(const char *name)
{
    for (unsigned k = 1; k <= MTR_AI_COUNT; k++)
        if (!strcmp(obj_find(OBJ_AI, k)->name, name))
            return k;
    return 0;
}

static char *ref_field(char **s)
{
    char *f = *s, *c = strchr(f, ',');
    if (c)
        *c = '\0', *s = c + 1;
    else
        *s = NULL;
    f[strcspn(f, "\r\n")] = '\0';
    while (*f == ' ')
        f++;
    return f;
}

static int ref_fail(const ref_t *r, size_t line, const char *why, const char *what)
{
    fprintf(stderr, "s4100 measure: %s: line %zu: %s%s\n", r->path, line, why, what);
    return -1;
}

static int ref_header(ref_t *r, char *s)
{
    if (strcmp(ref_field(&s), "t"))
        return ref_fail(r, 1, "the header must begin with t", "");
    while (s) {
        char *name = ref_field(&s);
        unsigned k = ref_ai_by_name(name);
        if (!k)
            return ref_fail(r, 1, "not the name of a reading: ", name);
        for (int c = 0; c < r->ncol; c++)
            if (r->col[c] == k)
                return ref_fail(r, 1, "a reading named twice: ", name);
        if (r->ncol == MTR_AI_COUNT)
            return ref_fail(r, 1, "too many columns", "");
        r->col[r->ncol++] = k;
    }
    return r->ncol ? 0 : ref_fail(r, 1, "no reading named after t", "");
}

static int ref_row(ref_t *r, char *s, size_t line)
{
    double *v = realloc(r->val, (r->nrow + 1) * (size_t)r->ncol * sizeof *v);
    double *t = v ? realloc(r->t, (r->nrow + 1) * sizeof *t) : NULL;
    if (v)
        r->val = v;
    if (!t)
        return ref_fail(r, line, "out of memory", "");
    r->t = t;
    v += r->nrow * (size_t)r->ncol;
    for (int c = -1; c < r->ncol; c++) {
        if (!s)
            return ref_fail(r, line, "fewer fields than the header", "");
        char *f = ref_field(&s), *end;
        double x = *f ? strtod(f, &end) : NAN;
        if ((*f && (end == f || *end || !isfinite(x))) || (c < 0 && !*f))
            return ref_fail(r, line, "not a number: ", f);
        if (c < 0)
            t[r->nrow] = round(x);
        else
            v[c] = x;
    }
    if (s)
        return ref_fail(r, line, "more fields than the header", "");
    if (t[r->nrow] < 1 || (r->nrow && t[r->nrow] <= t[r->nrow - 1]))
        return ref_fail(r, line, "t must rise, from 1 s on (whole seconds)", "");
    r->nrow++;
    return 0;
}

static int ref_load(ref_t *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "s4100 measure: %s: cannot open\n", path);
        return -1;
    }
    char line[8192];
    size_t no = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        no++;
        if (!strchr(line, '\n') && !feof(f))
            rc = ref_fail(r, no, "longer than 8191 characters", "");
        else if (no == 1)
            rc = ref_header(r, line);
        else if (line[strspn(line, " \r\n")])
            rc = ref_row(r, line, no);
    }
    fclose(f);
    if (rc == 0 && r->nrow == 0)
        rc = ref_fail(r, no, "no readings", "");
    return rc;
}

/* A cycle of the run against the reference row for that second, if there is one. */
static void ref_cycle(ref_t *r, const mtr_t *m)
{
    while (r->next < r->nrow && r->t[r->next] < m->cycles)
        r->next++;
    if (r->next == r->nrow || r->t[r->next] != m->cycles)
        return;
    const double *v = r->val + r->next * (size_t)r->ncol;
    r->matched++;
    for (int c = 0; c < r->ncol; c++) {
        double meas = m->ai[r->col[c]];
        if (isnan(v[c]) || isnan(meas) || fabs(v[c]) < 1e-12)
            continue; /* no reading, or none to take a percentage of */
        double e = (meas - v[c]) / fabs(v[c]) * 100.0;
        r->n[c]++;
        r->sum[c] += e;
        if (fabs(e) > fabs(r->worst[c]))
            r->worst[c] = e;
    }
}

/* The error of each quantity: (this run - reference) / |reference|, mean and worst. */
static int ref_report(ref_t *r)
{
    if (r->matched < r->nrow)
        fprintf(stderr, "s4100 measure: warning: %s: %zu of its %zu rows had no cycle of the run\n",
                r->path, r->nrow - r->matched, r->nrow);
    printf("%-24s %8s %14s %14s\n", "quantity", "readings", "mean error %", "worst error %");
    for (int c = 0; c < r->ncol; c++) {
        const char *name = obj_find(OBJ_AI, r->col[c])->name;
        if (r->n[c])
            printf("%-24s %8zu %+14.6f %+14.6f\n", name, r->n[c], r->sum[c] / (double)r->n[c],
                   r->worst[c]);
        else
            printf("%-24s %8d %14s %14s\n", name, 0, "-", "-");
    }
    free(r->t);
    free(r->val);
    return r->matched ? 0 : -1;
}

/* Feed n frames, switching the pulse input where the recording's contact changes. */
static void feed(mtr_t *m, mtr_frame_t *x, const uint8_t *pulse, size_t n, bool csv,
                 unsigned *cycles_left, ref_t *ref)
{
    size_t off = 0;
    while (off < n && *cycles_left) {
        size_t run = 1;
        while (off + run < n && pulse[off + run] == pulse[off])
            run++;
        mtr_pulse_input(m, pulse[off] != 0);
        size_t done = 0;
        while (done < run && *cycles_left) {
            bool cycle = false;
            done += mtr_feed(m, x + off + done, run - done, &cycle);
            if (cycle) {
                ref ? ref_cycle(ref, m) : print_cycle(m, csv);
                (*cycles_left)--;
            }
        }
        off += run;
    }
}

static void hint(void)
{
    fputs("try 's4100 measure --help'\n", stderr);
}

/* Long options that begin with the given prefix (up to '='), for an ambiguity message. */
static int matching_options(const struct option *opts, const char *arg, char *list, size_t cap)
{
    size_t len = strcspn(arg, "="), used = 0;
    int n = 0;
    list[0] = '\0';
    for (const struct option *o = opts; o->name; o++) {
        if (strncmp(o->name, arg, len) != 0)
            continue;
        int w = snprintf(list + used, cap - used, "%s--%s", n ? ", " : "", o->name);
        if (w > 0 && (size_t)w < cap - used)
            used += (size_t)w;
        n++;
    }
    return n;
}

/* One line for what getopt_long refused (c is '?' or ':'), then where to look. */
static void option_error(int c, char **argv, const struct option *opts)
{
    const char *arg = argv[optind - 1];
    bool is_long = !strncmp(arg, "--", 2);
    char list[256];
    if (c == ':')
        fprintf(stderr, "s4100 measure: option '%s' needs a value\n", arg);
    else if (!is_long && optopt)
        fprintf(stderr, "s4100 measure: unknown option '-%c'\n", optopt);
    else if (optopt)
        fprintf(stderr, "s4100 measure: option '%.*s' takes no value\n", (int)strcspn(arg, "="), arg);
    else if (matching_options(opts, arg + 2, list, sizeof list) > 1)
        fprintf(stderr, "s4100 measure: option '%.*s' is ambiguous: %s\n",
                (int)strcspn(arg, "="), arg, list);
    else
        fprintf(stderr, "s4100 measure: unknown option '%s'\n", arg);
    hint();
}

static bool parse_seconds(const char *arg, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= 1 && v <= 1e9) || v != floor(v)) {
        fprintf(stderr, "s4100 measure: --seconds: '%s' is not a whole number from 1 to 1e9\n", arg);
        return false;
    }
    *out = v;
    return true;
}

/* A recording that ended before the cycles asked for, or with a tail that makes no
 * whole 1 s cycle, says so: those seconds are simply missing from the output. */
static void recording_end(const char *path, uint64_t frames, unsigned cycles, bool have_seconds,
                          double seconds)
{
    double len = (double)frames / MTR_FS;
    if (frames < MTR_FS) {
        fprintf(stderr, "s4100 measure: warning: %s lasts %.3f s, less than one 1 s cycle: "
                        "no readings\n", path, len);
        return;
    }
    if (have_seconds && cycles < seconds)
        fprintf(stderr, "s4100 measure: warning: --seconds %.0f goes past the end of %s: it "
                        "lasts %.3f s, %u readings\n", seconds, path, len, cycles);
    if (frames % MTR_FS)
        fprintf(stderr, "s4100 measure: warning: the last %.3f s of %s are not a whole 1 s "
                        "cycle and give no reading\n", (double)(frames % MTR_FS) / MTR_FS, path);
}

int app_measure(int argc, char **argv)
{
    static struct option opts[APP_N_SETTINGS + 12];
    size_t no = 0;
    opts[no++] = (struct option){"scenario", required_argument, NULL, 's'};
    opts[no++] = (struct option){"wav", required_argument, NULL, 'w'};
    opts[no++] = (struct option){"csv-in", required_argument, NULL, OPT_CSV_IN};
    opts[no++] = (struct option){"comtrade", required_argument, NULL, OPT_COMTRADE};
    opts[no++] = (struct option){"comtrade-map", required_argument, NULL, OPT_COMTRADE_MAP};
    opts[no++] = (struct option){"comtrade-window", required_argument, NULL, OPT_COMTRADE_WINDOW};
    opts[no++] = (struct option){"seconds", required_argument, NULL, 'n'};
    opts[no++] = (struct option){"json", no_argument, NULL, 'j'};
    opts[no++] = (struct option){"csv", no_argument, NULL, 'c'};
    opts[no++] = (struct option){"reference", required_argument, NULL, OPT_REFERENCE};
    opts[no++] = (struct option){"help", no_argument, NULL, 'h'};
    no += app_settings_options(opts + no);
    opts[no] = (struct option){0, 0, 0, 0};

    const char *scenario = NULL, *wav = NULL, *csv_in = NULL, *reference = NULL;
    const char *comtrade = NULL;
    sim_comtrade_opts_t ct_map;
    sim_comtrade_info_t ct_info;
    bool ct_window = false;
    memset(&ct_map, 0, sizeof ct_map);
    sim_err_t err = {{0}};
    bool csv = false, have_seconds = false;
    double seconds = 10;
    app_settings_t st = {{0}, {0}};
    int c;
    optind = 1;
    opterr = 0; /* our own messages: one line each, prefixed */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': scenario = optarg; break;
        case 'w': wav = optarg; break;
        case OPT_CSV_IN: csv_in = optarg; break;
        case OPT_COMTRADE: comtrade = optarg; break;
        case OPT_COMTRADE_MAP:
            if (sim_comtrade_map(&ct_map, optarg, &err) != SIM_OK) {
                fprintf(stderr, "s4100 measure: --comtrade-map: %s\n", err.msg);
                return 2;
            }
            break;
        case OPT_COMTRADE_WINDOW:
            if (sim_comtrade_window(&ct_map, optarg, &err) != SIM_OK) {
                fprintf(stderr, "s4100 measure: --comtrade-window: %s\n", err.msg);
                return 2;
            }
            ct_window = true;
            break;
        case 'j': csv = false; break;
        case 'c': csv = true; break;
        case OPT_REFERENCE: reference = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'n':
            if (!parse_seconds(optarg, &seconds))
                return 2;
            have_seconds = true;
            break;
        case '?':
        case ':': option_error(c, argv, opts); return 2;
        default: {
            int rc = app_settings_take(&st, c, optarg, "measure");
            if (rc <= 0)
                return 2;
        }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "s4100 measure: unexpected argument '%s'\n", argv[optind]);
        hint();
        return 2;
    }
    if (!!scenario + !!wav + !!csv_in + !!comtrade != 1) {
        fprintf(stderr, "s4100 measure: give exactly one of --scenario, --wav, --csv-in, --comtrade\n");
        hint();
        return 2;
    }
    if (ct_window && !comtrade) {
        fprintf(stderr, "s4100 measure: --comtrade-window needs --comtrade\n");
        hint();
        return 2;
    }

    sim_source_t *src = NULL;
    int rc = scenario   ? sim_open_scenario(&src, scenario, &err)
             : wav      ? sim_open_wav(&src, wav, &err)
             : comtrade ? sim_open_comtrade(&src, comtrade, &ct_map, &ct_info, &err)
                        : sim_open_csv(&src, csv_in, &err);
    if (rc < 0) {
        fprintf(stderr, "s4100 measure: %s\n", err.msg);
        return 1;
    }
    if (comtrade) {
        char what[256];
        sim_comtrade_describe(&ct_info, what, sizeof what);
        fprintf(stderr, "s4100 measure: %s: %s\n", comtrade, what);
    }

    /* Settings: datasheet defaults, then the scenario's [meter], then the options, each
     * checked as the meter checks a write (AV5 before AV6). */
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    if (scenario)
        sim_scenario_meter(src, &cfg);
    if (mtr_config_check(&cfg) != MTR_OK) {
        fprintf(stderr, "s4100 measure: %s: the [meter] settings are out of range\n", scenario);
        sim_close(src);
        return 1;
    }
    if (app_settings_apply(&st, &cfg, "measure") < 0) {
        sim_close(src);
        return 2;
    }

    mtr_t m; /* the engine alone: 2 KB */
    mtr_init(&m, &cfg, NULL);
    ref_t ref, *refp = reference ? &ref : NULL;
    if (refp && ref_load(refp, reference) < 0) {
        free(ref.t), free(ref.val), sim_close(src);
        return 2;
    }
    if (refp && scenario && !have_seconds)
        seconds = ref.t[ref.nrow - 1]; /* as long as the reference */
    unsigned asked = (scenario || have_seconds) ? (unsigned)seconds : ~0u;
    unsigned cycles_left = asked;
    uint64_t frames = 0;
    if (csv && !refp)
        print_header_csv();

    enum { CHUNK = 1024 };
    mtr_frame_t buf[CHUNK]; /* 24 KB */
    uint8_t pulse[CHUNK];
    while (cycles_left) {
        long n = sim_read(src, buf, pulse, CHUNK, &err);
        if (n < 0) {
            fflush(stdout);
            fprintf(stderr, "s4100 measure: %s\n", err.msg);
            sim_close(src);
            if (refp)
                free(ref.t), free(ref.val);
            return 1;
        }
        if (n == 0) {
            fflush(stdout);
            recording_end(wav ? wav : comtrade ? comtrade : csv_in, frames, asked - cycles_left, have_seconds, seconds);
            break;
        }
        frames += (uint64_t)n;
        sim_afe(&cfg, buf, (size_t)n);
        feed(&m, buf, pulse, (size_t)n, csv, &cycles_left, refp);
    }
    sim_close(src);
    if (refp && ref_report(refp) < 0) {
        fprintf(stderr, "s4100 measure: %s: no row matched a cycle of the run\n", reference);
        return 1;
    }
    if (fflush(stdout) != 0) {
        perror("s4100 measure: stdout");
        return 1;
    }
    return 0;
}
