/*
 * Scenario files: INI parsed with inih. inih splits key = value and strips comments;
 * our reader in front of it counts lines (the handler gets no line number), rejects
 * what inih would silently misread (over-long lines, continuation lines, NUL bytes)
 * and sees the section headers, so every message can name the line.
 * Format: docs/scenarios.md.
 */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include "sim_int.h"

#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { SEC_NONE, SEC_SCENARIO, SEC_METER, SEC_SIGNAL, SEC_AT, SEC_BAD };

typedef struct {
    sim_synth_t *y;
    FILE *f;
    int line;
    int err_line, err_code;
    char err_msg[200];

    int sect, rank;
    unsigned seen;
    int last_key_line;
    bool signal_ready;

    double time_scale, loop_raw;
    int loop_line;
    uint64_t seed;
    double last_t;        /* the previous event's time, s */
    sim_params_t chk;     /* the state after the sections so far, to check each */
} sim_parse_t;

static void sim_perr(sim_parse_t *c, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void sim_perr(sim_parse_t *c, int code, const char *fmt, ...)
{
    if (c->err_line)
        return; /* the first error is the one to fix */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
    c->err_line = c->line;
    c->err_code = code;
}

/* "90", "90.5" seconds, or "h:mm" / "h:mm:ss[.s]" — scenario time, before time_scale. */
static bool sim_parse_time(const char *s, double *out)
{
    double part[3];
    int np = 0;
    char buf[64];
    size_t len = strlen(s);
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len + 1);
    char *p = buf;
    for (;;) {
        char *colon = strchr(p, ':');
        if (colon)
            *colon = '\0';
        if (np == 3 || !sim_parse_double(p, &part[np]) || part[np] < 0)
            return false;
        np++;
        if (!colon)
            break;
        p = colon + 1;
    }
    for (int k = 1; k < np; k++)
        if (part[k] >= 60.0 || (k < np - 1 && part[k] != floor(part[k])))
            return false;
    if (np > 1 && part[0] != floor(part[0]))
        return false;
    *out = np == 1 ? part[0] : np == 2 ? part[0] * 3600 + part[1] * 60
                                       : part[0] * 3600 + part[1] * 60 + part[2];
    return *out < 1e9;
}

static uint64_t sim_samples(double seconds)
{
    return (uint64_t)llround(seconds * MTR_FS);
}

/* ---- sections ---- */

static void sim_ensure_signal(sim_parse_t *c)
{
    if (c->signal_ready)
        return;
    sim_synth_t *y = c->y;
    uint8_t type = (y->meter_set >> MTR_SET_SYSTEM_TYPE & 1u) ? y->meter.system_type : 40;
    sim_synth_defaults(&y->init, type, &y->mask);
    c->chk = y->init;
    c->signal_ready = true;
}

static void sim_section_end(sim_parse_t *c)
{
    sim_synth_t *y = c->y;
    char msg[160];
    int line = c->line;
    c->line = c->last_key_line;
    if (c->sect == SEC_SCENARIO && c->loop_line) {
        c->line = c->loop_line;
        y->loop_n = sim_samples(c->loop_raw / c->time_scale);
        if (y->loop_n == 0)
            sim_perr(c, SIM_ERANGE, "loop: shorter than one sample");
    } else if (c->sect == SEC_METER && (y->meter_set >> MTR_SET_SYSTEM_VOLTAGE & 1u) &&
               (y->meter_set >> MTR_SET_PT_RATIO & 1u)) {
        double sv = y->meter.system_voltage, pt = y->meter.pt_ratio;
        if (sv < 82.0 * pt || sv > 660.0 * pt)
            sim_perr(c, SIM_ERANGE, "system_voltage %g V outside 82..660 x pt_ratio (%g)", sv, pt);
    } else if ((c->sect == SEC_SIGNAL || c->sect == SEC_AT) &&
               sim_params_check(&c->chk, msg, sizeof msg) != SIM_OK) {
        sim_perr(c, SIM_ERANGE, "%s", msg);
    }
    c->line = line;
}

static void sim_event_begin(sim_parse_t *c, const char *when)
{
    sim_synth_t *y = c->y;
    double t;
    if (!sim_parse_time(when, &t)) {
        sim_perr(c, SIM_ESYNTAX, "[at %.40s]: not a time (seconds, h:mm or h:mm:ss)", when);
        c->sect = SEC_BAD;
        return;
    }
    t /= c->time_scale;
    if (y->nev && t < c->last_t) {
        sim_perr(c, SIM_ERANGE, "[at %.40s]: event at %g s comes before the previous one at %g s",
                 when, t, c->last_t);
        c->sect = SEC_BAD;
        return;
    }
    if (y->loop_n && sim_samples(t) >= y->loop_n) {
        sim_perr(c, SIM_ERANGE, "[at %.40s]: event at %g s is not within the loop of %g s", when,
                 t, (double)y->loop_n / MTR_FS);
        c->sect = SEC_BAD;
        return;
    }
    if (y->nev == y->capev) {
        size_t cap = y->capev ? 2 * y->capev : 16;
        sim_event_t *ev = realloc(y->ev, cap * sizeof *ev);
        if (!ev) {
            sim_perr(c, SIM_ENOMEM, "out of memory");
            c->sect = SEC_BAD;
            return;
        }
        y->ev = ev;
        y->capev = cap;
    }
    y->ev[y->nev++] = (sim_event_t){sim_samples(t), 0, y->nact, 0, c->line};
    c->last_t = t;
}

static void sim_section_begin(sim_parse_t *c, const char *name)
{
    static const char *const names[] = {"", "scenario", "meter", "signal"};
    int kind = SEC_BAD;
    const char *arg = NULL;
    for (int k = SEC_SCENARIO; k <= SEC_SIGNAL; k++)
        if (sim_strcaseeq(name, names[k]))
            kind = k;
    if ((name[0] == 'a' || name[0] == 'A') && (name[1] == 't' || name[1] == 'T') &&
        (name[2] == ' ' || name[2] == '\t')) {
        kind = SEC_AT;
        for (arg = name + 2; *arg == ' ' || *arg == '\t'; arg++) {}
    }
    sim_section_end(c);
    if (kind == SEC_BAD) {
        sim_perr(c, SIM_EKEY, "unknown section [%.40s] (expected scenario, meter, signal or at T)",
                 name);
        c->sect = SEC_BAD;
        return;
    }
    if (kind != SEC_AT && (c->seen >> kind & 1u)) {
        sim_perr(c, SIM_ESYNTAX, "section [%s] appears twice", names[kind]);
        c->sect = SEC_BAD;
        return;
    }
    if (kind < c->rank) {
        sim_perr(c, SIM_ESYNTAX,
                 "section [%.40s] out of order: [scenario], [meter], [signal], then [at T] events",
                 name);
        c->sect = SEC_BAD;
        return;
    }
    c->sect = kind;
    c->rank = kind;
    c->seen |= 1u << kind;
    c->last_key_line = c->line;
    if (kind == SEC_SIGNAL || kind == SEC_AT)
        sim_ensure_signal(c);
    if (kind == SEC_AT)
        sim_event_begin(c, arg);
}

/* A header line: "[name]" with an optional comment after it. */
static void sim_header(sim_parse_t *c, const char *s)
{
    const char *end = strchr(s, ']');
    if (!end) {
        sim_perr(c, SIM_ESYNTAX, "section header without ']'");
        c->sect = SEC_BAD;
        return;
    }
    const char *rest = end + 1;
    while (*rest == ' ' || *rest == '\t' || *rest == '\r')
        rest++;
    if (*rest != '\n' && *rest != '\0' && *rest != ';' && *rest != '#') {
        sim_perr(c, SIM_ESYNTAX, "text after the section header");
        c->sect = SEC_BAD;
        return;
    }
    s++;
    while (*s == ' ' || *s == '\t')
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char name[64];
    size_t len = (size_t)(end - s) < sizeof name - 1 ? (size_t)(end - s) : sizeof name - 1;
    memcpy(name, s, len);
    name[len] = '\0';
    sim_section_begin(c, name);
}

/* inih's fgets: one physical line per call, always ending in '\n'. What we reject is
 * handed on as a comment line so inih carries on and the line numbers stay true. */
static char *sim_reader(char *str, int num, void *stream)
{
    sim_parse_t *c = stream;
    int ch = getc(c->f);
    if (ch == EOF || num < 4)
        return NULL;
    c->line++;
    int len = 0;
    bool nul = false, longer = false;
    for (; ch != EOF && ch != '\n'; ch = getc(c->f)) {
        if (ch == '\0')
            nul = true;
        else if (len < num - 2)
            str[len++] = (char)ch;
        else
            longer = true;
    }
    str[len] = '\n';
    str[len + 1] = '\0';
    if (c->line == 1 && len >= 3 && !memcmp(str, "\xEF\xBB\xBF", 3))
        memmove(str, str + 3, (size_t)len - 1);
    if (nul || longer) {
        if (nul)
            sim_perr(c, SIM_ESYNTAX, "NUL byte in the line");
        else
            sim_perr(c, SIM_ESYNTAX, "line longer than %d characters", num - 2);
        strcpy(str, ";\n");
        return str;
    }
    const char *s = str;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    if (*s == '\n' || *s == ';' || *s == '#')
        return str;
    if (s != str) {
        sim_perr(c, SIM_ESYNTAX, "indented line (a key starts at the line's beginning; "
                                 "continuation lines are not supported)");
        strcpy(str, ";\n");
        return str;
    }
    if (*s == '[') {
        sim_header(c, s);
        strcpy(str, ";\n"); /* the section is ours: inih need not see it */
    }
    return str;
}

/* ---- keys ---- */

static int sim_scenario_key(sim_parse_t *c, const char *name, const char *value)
{
    double x;
    if (sim_strcaseeq(name, "name") || sim_strcaseeq(name, "description"))
        return 1;
    if (sim_strcaseeq(name, "loop")) {
        if (!sim_parse_time(value, &c->loop_raw) || c->loop_raw <= 0) {
            sim_perr(c, SIM_ESYNTAX, "loop: '%.40s' is not a positive time", value);
            return 0;
        }
        c->loop_line = c->line;
        return 1;
    }
    if (sim_strcaseeq(name, "time_scale")) {
        if (!sim_parse_double(value, &x)) {
            sim_perr(c, SIM_ESYNTAX, "time_scale: '%.40s' is not a number", value);
            return 0;
        }
        if (x < 0.001 || x > 1e6) {
            sim_perr(c, SIM_ERANGE, "time_scale: %g outside 0.001..1e6", x);
            return 0;
        }
        c->time_scale = x;
        return 1;
    }
    if (sim_strcaseeq(name, "seed")) {
        char *end;
        const char *p = value;
        while (*p == ' ')
            p++;
        unsigned long long v = strtoull(p, &end, 10);
        if (*p < '0' || *p > '9' || *end != '\0') {
            sim_perr(c, SIM_ESYNTAX, "seed: '%.40s' is not a whole number", value);
            return 0;
        }
        c->seed = v;
        return 1;
    }
    sim_perr(c, SIM_EKEY, "unknown key '%.40s' in [scenario]", name);
    return 0;
}

typedef struct {
    const char *name;
    mtr_setting_t id;
    double lo, hi;
    bool whole;
} sim_meterkey_t;

static const sim_meterkey_t sim_meter_keys[] = {
    {"system_type", MTR_SET_SYSTEM_TYPE, 10, 40, true},
    {"ct_primary", MTR_SET_CT_PRIMARY, 5, 32000, false},
    {"ct_secondary", MTR_SET_CT_SECONDARY, 1, 3, true},
    {"pt_ratio", MTR_SET_PT_RATIO, 0.01, 320, false},
    {"system_voltage", MTR_SET_SYSTEM_VOLTAGE, 82, 32000, false},
    {"display_units", MTR_SET_DISPLAY_UNITS, 0, 1, true},
    {"pl_volts_pct", MTR_SET_PL_VOLTS, 1, 99, true},
    {"pl_imbalance_pct", MTR_SET_PL_IMBALANCE, 1, 99, true},
    {"subintervals", MTR_SET_SUBINTERVALS, 1, 6, true},
    {"subinterval_cs", MTR_SET_SUBINTERVAL_LEN, 0, 3276700, true},
};

static bool sim_meter_allowed(mtr_setting_t id, double x)
{
    switch (id) {
    case MTR_SET_SYSTEM_TYPE: return x == 10 || x == 11 || x == 12 || x == 31 || x == 40;
    case MTR_SET_CT_SECONDARY: return x == 1 || x == 3;
    case MTR_SET_SUBINTERVAL_LEN: return x == 0 || (x >= 1000 && fmod(x, 100) == 0);
    default: return true;
    }
}

static void sim_meter_store(mtr_config_t *m, mtr_setting_t id, double x)
{
    switch (id) {
    case MTR_SET_SYSTEM_TYPE: m->system_type = (uint8_t)x; break;
    case MTR_SET_CT_PRIMARY: m->ct_primary = (float)x; break;
    case MTR_SET_CT_SECONDARY: m->ct_secondary = (uint8_t)x; break;
    case MTR_SET_PT_RATIO: m->pt_ratio = (float)x; break;
    case MTR_SET_SYSTEM_VOLTAGE: m->system_voltage = (float)x; break;
    case MTR_SET_DISPLAY_UNITS: m->display_units = (uint8_t)x; break;
    case MTR_SET_PL_VOLTS: m->pl_volts_pct = (uint8_t)x; break;
    case MTR_SET_PL_IMBALANCE: m->pl_imbalance_pct = (uint8_t)x; break;
    case MTR_SET_SUBINTERVALS: m->subintervals = (uint8_t)x; break;
    case MTR_SET_SUBINTERVAL_LEN: m->subinterval_cs = (uint32_t)x; break;
    }
}

static int sim_meter_key(sim_parse_t *c, const char *name, const char *value)
{
    const sim_meterkey_t *k = NULL;
    for (size_t j = 0; j < sizeof sim_meter_keys / sizeof sim_meter_keys[0]; j++)
        if (sim_strcaseeq(name, sim_meter_keys[j].name))
            k = &sim_meter_keys[j];
    if (!k) {
        sim_perr(c, SIM_EKEY, "unknown key '%.40s' in [meter]", name);
        return 0;
    }
    double x;
    if (k->id == MTR_SET_DISPLAY_UNITS && sim_strcaseeq(value, "iec"))
        x = 0;
    else if (k->id == MTR_SET_DISPLAY_UNITS && sim_strcaseeq(value, "ieee"))
        x = 1;
    else if (!sim_parse_double(value, &x)) {
        sim_perr(c, SIM_ESYNTAX, "%s: '%.40s' is not a number", k->name, value);
        return 0;
    }
    if (x < k->lo || x > k->hi || (k->whole && x != floor(x)) || !sim_meter_allowed(k->id, x)) {
        sim_perr(c, SIM_ERANGE, "%s: %g is not an allowed value (see docs/scenarios.md)",
                 k->name, x);
        return 0;
    }
    sim_meter_store(&c->y->meter, k->id, x);
    c->y->meter_set |= 1u << k->id;
    return 1;
}

static int sim_signal_key(sim_parse_t *c, const char *name, const char *value)
{
    sim_synth_t *y = c->y;
    char msg[160];
    if (c->sect == SEC_AT && sim_strcaseeq(name, "ramp")) {
        double t;
        if (!sim_parse_time(value, &t)) {
            sim_perr(c, SIM_ESYNTAX, "ramp: '%.40s' is not a time", value);
            return 0;
        }
        y->ev[y->nev - 1].ramp_n = sim_samples(t / c->time_scale);
        return 1;
    }
    if (sim_strcaseeq(name, "ramp")) {
        sim_perr(c, SIM_EKEY, "ramp: only in [at T] sections");
        return 0;
    }
    sim_action_t a;
    int rc = sim_key_parse(name, value, y->mask, &a, msg, sizeof msg);
    if (rc != SIM_OK) {
        sim_perr(c, rc, "%s", msg);
        return 0;
    }
    sim_action_apply(&c->chk, &a, NULL, 0);
    if (c->sect == SEC_SIGNAL) {
        sim_action_apply(&y->init, &a, NULL, 0);
        return 1;
    }
    if (y->nact == y->capact) {
        size_t cap = y->capact ? 2 * y->capact : 32;
        sim_action_t *act = realloc(y->act, cap * sizeof *act);
        if (!act) {
            sim_perr(c, SIM_ENOMEM, "out of memory");
            return 0;
        }
        y->act = act;
        y->capact = cap;
    }
    y->act[y->nact++] = a;
    y->ev[y->nev - 1].na++;
    return 1;
}

static int sim_handler(void *user, const char *section, const char *name, const char *value)
{
    sim_parse_t *c = user;
    (void)section; /* the reader tracked it, with its line */
    c->last_key_line = c->line;
    switch (c->sect) {
    case SEC_NONE:
        sim_perr(c, SIM_ESYNTAX, "'%.40s' before any [section]", name);
        return 0;
    case SEC_SCENARIO: return sim_scenario_key(c, name, value);
    case SEC_METER: return sim_meter_key(c, name, value);
    case SEC_SIGNAL:
    case SEC_AT: return sim_signal_key(c, name, value);
    default: return 1; /* in a rejected section: its header was the error */
    }
}

/* The noise's nominal values, when the file gave none. */
static void sim_nominal(sim_synth_t *y)
{
    sim_params_t *p = &y->init;
    double vmax = 0, imax = 0;
    for (int k = 0; k < 3; k++) {
        vmax = p->v[k] > vmax ? p->v[k] : vmax;
        imax = p->i[k] > imax ? p->i[k] : imax;
    }
    if (p->nominal_v == 0)
        p->nominal_v = vmax;
    if (p->nominal_i == 0)
        p->nominal_i = (y->meter_set >> MTR_SET_CT_PRIMARY & 1u) ? y->meter.ct_primary : imax;
}

int sim_scenario_parse(sim_synth_t *y, FILE *f, const char *path, sim_err_t *err)
{
    /* fopen succeeds on a directory; reading it then fails with a bare EISDIR. */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        sim_errf(err, "%s: is a directory, not a scenario file", path);
        return SIM_EIO;
    }
    sim_parse_t c;
    memset(&c, 0, sizeof c);
    c.y = y;
    c.f = f;
    c.time_scale = 1.0;
    c.seed = 1;
    int r = ini_parse_stream(sim_reader, &c, sim_handler, &c);
    sim_section_end(&c);
    sim_ensure_signal(&c);
    if (r < 0 && !c.err_line) {
        sim_errf(err, "%s: cannot parse (inih error %d)", path, r);
        return r == -2 ? SIM_ENOMEM : SIM_EIO;
    }
    if (r > 0 && (!c.err_line || r < c.err_line)) {
        c.err_line = r;
        c.err_code = SIM_ESYNTAX;
        snprintf(c.err_msg, sizeof c.err_msg, "expected 'key = value', '[section]' or a comment");
    }
    if (c.err_line) {
        sim_errf(err, "%s: line %d: %s", path, c.err_line, c.err_msg);
        return c.err_code;
    }
    if (ferror(f)) {
        sim_errf(err, "%s: read error", path);
        return SIM_EIO;
    }
    sim_nominal(y);
    sim_synth_start(y, c.seed);
    return SIM_OK;
}
