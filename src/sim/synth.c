/*
 * The synthesizer: the live parameters, the keys that set them, and the per-sample
 * waveform. Everything is double; the fundamental's phase is integrated sample by
 * sample (trapezoid rule), so frequency changes and ramps never make the phase jump.
 */
#include "sim_int.h"

#include <math.h>
#include <string.h>

#define SIM_SQRT2 1.41421356237309504880
#define SIM_DEG (SIM_PI / 180.0)

enum {
    K_VOLTAGE, K_VANGLE, K_CURRENT, K_PF, K_PF_TYPE, K_ANGLE, K_DIRECTION,
    K_VH, K_VHPH, K_IH, K_IHPH, K_DCV, K_DCI,
    K_FREQ, K_SEQ, K_DRIFT, K_DRIFT_RATE, K_DRIFT_MIN, K_DRIFT_MAX, K_WOB_AMP,
    K_WOB_PERIOD, K_NOISE, K_NOISE_V, K_NOISE_I, K_NOM_V, K_NOM_I,
    K_PULSE_RATE, K_PULSE_WIDTH,
};

enum { F_PHASE = 1, F_RAMP = 2 };

static const char *const sim_w_pftype[] = {"inductive", "capacitive", NULL};
static const char *const sim_w_dir[] = {"import", "export", NULL};
static const char *const sim_w_seq[] = {"abc", "acb", NULL};
static const char *const sim_w_drift[] = {"none", "ramp", "wobble", NULL};

typedef struct {
    const char *name;
    uint8_t key, flags;
    double lo, hi;
    const char *unit;
    const char *const *words; /* NULL: a number */
} sim_keydef_t;

/* The limits are sanity bounds for a simulation, not the meter's ratings. */
static const sim_keydef_t sim_keys[] = {
    {"voltage", K_VOLTAGE, F_PHASE | F_RAMP, 0, 1e6, "V", NULL},
    {"vangle", K_VANGLE, F_PHASE | F_RAMP, -360, 360, "deg", NULL},
    {"current", K_CURRENT, F_PHASE | F_RAMP, 0, 1e6, "A", NULL},
    {"pf", K_PF, F_PHASE | F_RAMP, 0, 1, "", NULL},
    {"pf_type", K_PF_TYPE, F_PHASE, 0, 0, "", sim_w_pftype},
    {"angle", K_ANGLE, F_PHASE | F_RAMP, -90, 90, "deg", NULL},
    {"direction", K_DIRECTION, F_PHASE, 0, 0, "", sim_w_dir},
    {"vh", K_VH, F_PHASE | F_RAMP, 0, 100, "%", NULL},
    {"vh_phase", K_VHPH, F_PHASE | F_RAMP, -360, 360, "deg", NULL},
    {"ih", K_IH, F_PHASE | F_RAMP, 0, 100, "%", NULL},
    {"ih_phase", K_IHPH, F_PHASE | F_RAMP, -360, 360, "deg", NULL},
    {"dc_v", K_DCV, F_PHASE | F_RAMP, -1e6, 1e6, "V", NULL},
    {"dc_i", K_DCI, F_PHASE | F_RAMP, -1e6, 1e6, "A", NULL},
    {"frequency", K_FREQ, F_RAMP, 1, 1000, "Hz", NULL},
    {"sequence", K_SEQ, 0, 0, 0, "", sim_w_seq},
    {"drift", K_DRIFT, 0, 0, 0, "", sim_w_drift},
    {"drift_rate", K_DRIFT_RATE, 0, 0, 1000, "Hz/s", NULL},
    {"drift_min", K_DRIFT_MIN, 0, 1, 1000, "Hz", NULL},
    {"drift_max", K_DRIFT_MAX, 0, 1, 1000, "Hz", NULL},
    {"wobble_amplitude", K_WOB_AMP, 0, 0, 500, "Hz", NULL},
    {"wobble_period", K_WOB_PERIOD, 0, 0.001, 1e6, "s", NULL},
    {"noise", K_NOISE, F_RAMP, 0, 100, "%", NULL},
    {"noise_v", K_NOISE_V, F_RAMP, 0, 100, "%", NULL},
    {"noise_i", K_NOISE_I, F_RAMP, 0, 100, "%", NULL},
    {"nominal_v", K_NOM_V, 0, 0, 1e6, "V", NULL},
    {"nominal_i", K_NOM_I, 0, 0, 1e6, "A", NULL},
    {"pulse_rate", K_PULSE_RATE, 0, 0, 1000, "pulses/s", NULL},
    {"pulse_width", K_PULSE_WIDTH, 0, 0.01, 1e6, "ms", NULL},
};

void sim_synth_defaults(sim_params_t *p, uint8_t system_type, uint8_t *mask)
{
    memset(p, 0, sizeof *p);
    uint8_t m = system_type == 10 ? 1u : (system_type == 11 || system_type == 12) ? 3u : 7u;
    const double ang[3] = {0.0, -120.0, 120.0};
    for (int k = 0; k < 3; k++) {
        p->vang[k] = ang[k];
        p->v[k] = (m >> k & 1u) ? 120.0 : 0.0;
    }
    if (m == 3u)
        p->vang[1] = 180.0; /* split phase: B is A's mirror about the mid point */
    p->hmax = 1;
    p->freq = 60.0;
    p->drift_min = 1.0;
    p->drift_max = 1000.0;
    p->wob_period = 60.0;
    p->pulse_width = 30.0;
    *mask = m;
}

static const sim_keydef_t *sim_key_find(const char *name)
{
    for (size_t k = 0; k < sizeof sim_keys / sizeof sim_keys[0]; k++)
        if (sim_strcaseeq(sim_keys[k].name, name))
            return &sim_keys[k];
    return NULL;
}

/* "vh5_phase" -> "vh_phase" and 5; "ih7" -> "ih" and 7. Returns false if not harmonic. */
static bool sim_key_harmonic(char *base, int *h)
{
    if (strlen(base) < 3 || (base[0] != 'v' && base[0] != 'i') || base[1] != 'h' ||
        base[2] < '0' || base[2] > '9')
        return false;
    char *d = base + 2, *e = d;
    int v = 0;
    for (; *e >= '0' && *e <= '9'; e++)
        v = v < 1000 ? v * 10 + (*e - '0') : 9999; /* huge: reported as out of range */
    if (*e != '\0' && strcmp(e, "_phase") != 0)
        return false;
    memmove(d, e, strlen(e) + 1);
    *h = v;
    return true;
}

int sim_key_parse(const char *name, const char *value, uint8_t mask, sim_action_t *a,
                  char *msg, size_t msgsz)
{
    char base[48];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof base) {
        snprintf(msg, msgsz, "unknown key '%.40s'", name);
        return SIM_EKEY;
    }
    for (size_t k = 0; k <= len; k++)
        base[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] - 'A' + 'a' : name[k]);
    uint8_t phases = mask;
    bool suffix = false;
    if (len > 2 && base[len - 2] == '_' && base[len - 1] >= 'a' && base[len - 1] <= 'c') {
        phases = (uint8_t)(1u << (base[len - 1] - 'a'));
        base[len - 2] = '\0';
        suffix = true;
    }
    int h = 0;
    bool harm = sim_key_harmonic(base, &h);
    const sim_keydef_t *d = sim_key_find(base);
    if (!d || (suffix && !(d->flags & F_PHASE)) ||
        (harm != (d->key == K_VH || d->key == K_VHPH || d->key == K_IH || d->key == K_IHPH))) {
        snprintf(msg, msgsz, "unknown key '%s'", name);
        return SIM_EKEY;
    }
    if (harm && (h < 2 || h > SIM_HMAX)) {
        snprintf(msg, msgsz, "%s: harmonic order %d outside 2..%d", name, h, SIM_HMAX);
        return SIM_ERANGE;
    }
    memset(a, 0, sizeof *a);
    a->key = d->key;
    a->phases = phases;
    a->h = (uint8_t)h;
    if (d->words) {
        for (int k = 0; d->words[k]; k++)
            if (sim_strcaseeq(d->words[k], value)) {
                a->x = k;
                return SIM_OK;
            }
        snprintf(msg, msgsz, "%s: '%.40s' is not one of %s|%s%s%s", name, value, d->words[0],
                 d->words[1], d->words[2] ? "|" : "", d->words[2] ? d->words[2] : "");
        return SIM_ESYNTAX;
    }
    if (!sim_parse_double(value, &a->x)) {
        snprintf(msg, msgsz, "%s: '%.40s' is not a number", name, value);
        return SIM_ESYNTAX;
    }
    if (a->x < d->lo || a->x > d->hi) {
        snprintf(msg, msgsz, "%s: %g outside %g..%g %s", name, a->x, d->lo, d->hi, d->unit);
        return SIM_ERANGE;
    }
    return SIM_OK;
}

bool sim_key_rampable(const sim_action_t *a)
{
    for (size_t k = 0; k < sizeof sim_keys / sizeof sim_keys[0]; k++)
        if (sim_keys[k].key == a->key)
            return (sim_keys[k].flags & F_RAMP) != 0;
    return false;
}

/* Set one parameter; on the live set (y non-NULL) a newer setting replaces a ramp
 * still running on the same parameter. */
static void sim_put(sim_synth_t *y, double *p, double x, uint64_t ramp_n)
{
    if (!y) {
        *p = x;
        return;
    }
    for (size_t k = 0; k < y->nramp; k++)
        if (y->ramp[k].p == p) {
            y->ramp[k] = y->ramp[--y->nramp];
            break;
        }
    if (ramp_n == 0 || y->nramp == SIM_MAX_RAMPS) {
        *p = x;
        return;
    }
    y->ramp[y->nramp++] = (sim_ramp_t){p, *p, x, y->n, y->n + ramp_n};
}

static void sim_apply_phase(sim_params_t *p, const sim_action_t *a, int k, sim_synth_t *y,
                            uint64_t rn)
{
    double x = a->x;
    switch (a->key) {
    case K_VOLTAGE: sim_put(y, &p->v[k], x, rn); break;
    case K_VANGLE: sim_put(y, &p->vang[k], x, rn); break;
    case K_CURRENT: sim_put(y, &p->i[k], x, rn); break;
    case K_PF: sim_put(y, &p->ang[k], (p->cap[k] ? -1.0 : 1.0) * acos(x) / SIM_DEG, rn); break;
    case K_PF_TYPE:
        p->cap[k] = x != 0;
        sim_put(y, &p->ang[k], (p->cap[k] ? -1.0 : 1.0) * fabs(p->ang[k]), 0);
        break;
    case K_ANGLE:
        if (x != 0)
            p->cap[k] = x < 0;
        sim_put(y, &p->ang[k], x, rn);
        break;
    case K_DIRECTION: p->exp[k] = x != 0; break;
    case K_VH: sim_put(y, &p->vh[k][a->h], x, rn); break;
    case K_VHPH: sim_put(y, &p->vhph[k][a->h], x, rn); break;
    case K_IH: sim_put(y, &p->ih[k][a->h], x, rn); break;
    case K_IHPH: sim_put(y, &p->ihph[k][a->h], x, rn); break;
    case K_DCV: sim_put(y, &p->dcv[k], x, rn); break;
    case K_DCI: sim_put(y, &p->dci[k], x, rn); break;
    default: break;
    }
}

void sim_action_apply(sim_params_t *p, const sim_action_t *a, sim_synth_t *y, uint64_t ramp_n)
{
    uint64_t rn = sim_key_rampable(a) ? ramp_n : 0;
    double x = a->x;
    if (a->h > p->hmax)
        p->hmax = a->h;
    switch (a->key) {
    case K_FREQ: sim_put(y, &p->freq, x, rn); return;
    case K_SEQ: p->acb = x != 0; return;
    case K_DRIFT: p->drift = (int)x; return;
    case K_DRIFT_RATE: p->drift_rate = x; return;
    case K_DRIFT_MIN: p->drift_min = x; return;
    case K_DRIFT_MAX: p->drift_max = x; return;
    case K_WOB_AMP: p->wob_amp = x; return;
    case K_WOB_PERIOD: p->wob_period = x; return;
    case K_NOISE:
        sim_put(y, &p->noise_v, x, rn);
        sim_put(y, &p->noise_i, x, rn);
        return;
    case K_NOISE_V: sim_put(y, &p->noise_v, x, rn); return;
    case K_NOISE_I: sim_put(y, &p->noise_i, x, rn); return;
    case K_NOM_V: p->nominal_v = x; return;
    case K_NOM_I: p->nominal_i = x; return;
    case K_PULSE_RATE: p->pulse_rate = x; return;
    case K_PULSE_WIDTH: p->pulse_width = x; return;
    default: break;
    }
    for (int k = 0; k < 3; k++)
        if (a->phases >> k & 1u)
            sim_apply_phase(p, a, k, y, rn);
}

/* Rules between keys, checked once a section (or a live change) is complete. */
int sim_params_check(const sim_params_t *p, char *msg, size_t msgsz)
{
    if (p->drift == SIM_DRIFT_RAMP && !(p->drift_min < p->drift_max)) {
        snprintf(msg, msgsz, "drift_min %g Hz must be below drift_max %g Hz", p->drift_min,
                 p->drift_max);
        return SIM_ERANGE;
    }
    if (p->drift == SIM_DRIFT_WOBBLE &&
        (p->freq - p->wob_amp < 1.0 || p->freq + p->wob_amp > 1000.0)) {
        snprintf(msg, msgsz, "frequency %g Hz +- wobble_amplitude %g Hz leaves 1..1000 Hz",
                 p->freq, p->wob_amp);
        return SIM_ERANGE;
    }
    if (p->pulse_rate > 0 && !(p->pulse_width < 1000.0 / p->pulse_rate)) {
        snprintf(msg, msgsz, "pulse_width %g ms is not shorter than the pulse period %g ms",
                 p->pulse_width, 1000.0 / p->pulse_rate);
        return SIM_ERANGE;
    }
    return SIM_OK;
}

/* ---- running ---- */

/* splitmix64: tiny, seedable, good enough for test noise. */
static uint64_t sim_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double sim_gauss(sim_synth_t *y)
{
    if (y->has_spare) {
        y->has_spare = false;
        return y->spare;
    }
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    double u1 = ((double)(sim_rng_next(&y->rng) >> 11) + 1.0) / 9007199254740992.0;
    double u2 = (double)(sim_rng_next(&y->rng) >> 11) / 9007199254740992.0;
    double r = sqrt(-2.0 * log(u1));
    y->spare = r * sin(2.0 * SIM_PI * u2);
    y->has_spare = true;
    return r * cos(2.0 * SIM_PI * u2);
}

static double sim_eff_freq(const sim_synth_t *y)
{
    double f = y->cur.freq;
    if (y->cur.drift == SIM_DRIFT_WOBBLE)
        f += y->cur.wob_amp * sin(2.0 * SIM_PI * y->wob_ph);
    return f < 1.0 ? 1.0 : f > 1000.0 ? 1000.0 : f;
}

static void sim_timeline(sim_synth_t *y)
{
    uint64_t tl = y->n - y->tl0;
    if (y->loop_n && tl >= y->loop_n) {
        /* A new pass starts from the [signal] state; the phase, noise and pulse
         * generators run on. */
        y->tl0 += y->loop_n;
        tl -= y->loop_n;
        y->cur = y->init;
        y->nramp = 0;
        y->next_ev = 0;
    }
    while (y->next_ev < y->nev && y->ev[y->next_ev].n <= tl) {
        const sim_event_t *e = &y->ev[y->next_ev++];
        for (size_t k = 0; k < e->na; k++)
            sim_action_apply(&y->cur, &y->act[e->a0 + k], y, e->ramp_n);
    }
}

static void sim_ramps(sim_synth_t *y)
{
    for (size_t k = 0; k < y->nramp;) {
        sim_ramp_t *r = &y->ramp[k];
        if (y->n >= r->n1) {
            *r->p = r->to;
            *r = y->ramp[--y->nramp];
            continue;
        }
        *r->p = r->from + (r->to - r->from) * ((double)(y->n - r->n0) / (double)(r->n1 - r->n0));
        k++;
    }
}

/* Moves the frequency one sample along a triangle between the limits; from outside
 * the limits it walks back in without a jump. */
static void sim_drift_step(sim_synth_t *y)
{
    sim_params_t *p = &y->cur;
    if (y->drift_dir > 0 && p->freq >= p->drift_max)
        y->drift_dir = -1;
    else if (y->drift_dir < 0 && p->freq <= p->drift_min)
        y->drift_dir = 1;
    bool inside = p->freq >= p->drift_min && p->freq <= p->drift_max;
    p->freq += y->drift_dir * p->drift_rate / MTR_FS;
    if (inside)
        p->freq = p->freq < p->drift_min ? p->drift_min : p->freq > p->drift_max ? p->drift_max : p->freq;
}

static void sim_pulses(sim_synth_t *y)
{
    const double rate = y->cur.pulse_rate;
    if (rate != y->pulse_rate_last) {
        if (rate > 0) {
            /* Keep the train's phase when only the rate changes; a new train starts now. */
            double next = y->pulse_rate_last > 0 && y->pulse_any
                              ? (double)y->pulse_last + MTR_FS / rate : (double)y->n;
            y->pulse_next = next < (double)y->n ? (double)y->n : next;
        }
        y->pulse_rate_last = rate;
    }
    if (rate > 0 && (double)y->n >= y->pulse_next) {
        y->pulse_last = y->n;
        y->pulse_any = true;
        y->pulse_next += MTR_FS / rate;
    }
    y->pulse_closed = y->pulse_any &&
                      (double)(y->n - y->pulse_last) < y->cur.pulse_width * MTR_FS / 1000.0;
}

/* Bring the state to frame n: the drift (from the previous frame's mode), the events
 * and ramps due, then the pulse contact. */
static void sim_settle(sim_synth_t *y, bool step)
{
    if (step && y->drift_last == SIM_DRIFT_RAMP && y->cur.drift == SIM_DRIFT_RAMP)
        sim_drift_step(y);
    if (step && y->drift_last == SIM_DRIFT_WOBBLE && y->cur.drift == SIM_DRIFT_WOBBLE) {
        y->wob_ph += 1.0 / (y->cur.wob_period * MTR_FS);
        y->wob_ph -= floor(y->wob_ph);
    }
    sim_timeline(y);
    sim_ramps(y);
    if (y->cur.drift != y->drift_last) {
        y->wob_ph = 0.0; /* a wobble starts at its zero: no frequency step */
        y->drift_dir = 1;
        y->drift_last = y->cur.drift;
    }
    sim_pulses(y);
}

void sim_synth_start(sim_synth_t *y, uint64_t seed)
{
    y->n = 0;
    y->tl0 = 0;
    y->next_ev = 0;
    y->nramp = 0;
    y->cur = y->init;
    y->rng = seed;
    y->has_spare = false;
    y->drift_dir = 1;
    y->drift_last = y->cur.drift;
    y->wob_ph = 0.0;
    y->pulse_rate_last = 0.0;
    y->pulse_any = false;
    sim_settle(y, false);
    y->f_cur = sim_eff_freq(y);
    y->ph = 0.0;
}

static void sim_advance(sim_synth_t *y)
{
    y->n++;
    sim_settle(y, true);
    double f = sim_eff_freq(y);
    /* Trapezoid: exact for a linear frequency ramp. */
    y->ph += 0.5 * (y->f_cur + f) / MTR_FS;
    y->ph -= floor(y->ph);
    y->f_cur = f;
}

static void sim_emit(sim_synth_t *y, float *x)
{
    const sim_params_t *p = &y->cur;
    const double a = 2.0 * SIM_PI * y->ph, seq = p->acb ? -1.0 : 1.0;
    const double sv = p->noise_v / 100.0 * p->nominal_v, si = p->noise_i / 100.0 * p->nominal_i;
    for (int k = 0; k < 3; k++) {
        double av = a + seq * p->vang[k] * SIM_DEG, ai = av - p->ang[k] * SIM_DEG;
        double v = sin(av), i = sin(ai);
        for (int h = 2; h <= p->hmax; h++) {
            if (p->vh[k][h] != 0.0)
                v += p->vh[k][h] / 100.0 * sin(h * av + p->vhph[k][h] * SIM_DEG);
            if (p->ih[k][h] != 0.0)
                i += p->ih[k][h] / 100.0 * sin(h * ai + p->ihph[k][h] * SIM_DEG);
        }
        v = SIM_SQRT2 * p->v[k] * v + p->dcv[k];
        i = SIM_SQRT2 * p->i[k] * (p->exp[k] ? -i : i) + p->dci[k];
        if (sv > 0)
            v += sv * sim_gauss(y);
        if (si > 0)
            i += si * sim_gauss(y);
        x[MTR_VA + k] = (float)v;
        x[MTR_IA + k] = (float)i;
    }
}

void sim_synth_fill(sim_synth_t *y, mtr_frame_t *out, uint8_t *pulse, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        sim_emit(y, out[k]);
        if (pulse)
            pulse[k] = y->pulse_closed ? 1u : 0u;
        sim_advance(y);
    }
}
