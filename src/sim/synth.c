/*
 * The synthesizer: the live parameters, the keys that set them, and the per-sample
 * waveform. Parameters are double; the fundamental's phase is integrated sample by
 * sample (trapezoid rule) in fixed point, so frequency changes and ramps never make the
 * phase jump and a long run never drifts. The waveform is rendered in blocks from
 * linear forms of the parameters (see sim_int.h): per sample a few multiply-adds per
 * term instead of a sin(), and table-driven noise from xoshiro256++ instead of Box-Muller.
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
    if (y)
        y->dirty = true; /* the linear forms of the running waveform change here */
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

/* ---- running: fixed-point phases, a fast cis, the noise ---- */

#define SIM_TWO64 18446744073709551616.0

/* Cycles, any sign and size, as cycles x 2^64 (wrapped). Small values, the per-sample
 * steps, keep every bit they have. */
static uint64_t sim_fix(double c)
{
    if (fabs(c) < 0.25)
        return (uint64_t)llrint(c * SIM_TWO64);
    c -= floor(c);
    double x = c * SIM_TWO64;
    return x >= SIM_TWO64 ? 0 : (uint64_t)x;
}

/* f Hz (1..1000) as a phase step per frame: f x 2^64 / MTR_FS rounded, exactly, from the
 * double's bits, so a day-long run keeps every bit of the frequency. */
static uint64_t sim_inc(double f)
{
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    unsigned s = (unsigned)(u >> 52 & 0x7ff) - 1011u; /* f x 2^64 = m x 2^s, s in 12..21 */
    uint64_t m = (u & ((1ull << 52) - 1)) | 1ull << 52;
    return ((m / MTR_FS) << s) + (((m % MTR_FS) << s) + MTR_FS / 2) / MTR_FS;
}

/* The trapezoid step to a frame of frequency f (exact for a linear ramp). */
static void sim_phase_step(sim_synth_t *y, double f)
{
    uint64_t i = sim_inc(f);
    y->ph += (y->i_cur + i + 1) >> 1;
    y->f_cur = f;
    y->i_cur = i;
}

/* cos and sin of 2 pi ph / 2^64: the nearest of 256 table angles, rotated by the rest
 * (|x| <= pi/256, where these Taylor terms are exact to well below 1e-16). */
static inline void sim_cis(const sim_synth_t *y, uint64_t ph, double *c, double *s)
{
    unsigned k = (unsigned)((ph + (1ull << 55)) >> 56);
    double x = (double)(int64_t)(ph - ((uint64_t)k << 56)) * (2.0 * SIM_PI / SIM_TWO64);
    double x2 = x * x;
    double sn = x + x * x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0));
    double cm = x2 * (-0.5 + x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0))); /* cos x - 1 */
    const double *e = y->cis[k];
    *c = e[0] + (e[0] * cm - e[1] * sn);
    *s = e[1] + (e[1] * cm + e[0] * sn);
}

static uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256++ (Blackman and Vigna): fast, every bit good, state per source. */
static inline uint64_t sim_rng_next(uint64_t *s)
{
    uint64_t r = sim_rotl(s[0] + s[3], 23) + s[0], t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return r;
}

static double sim_uniform(sim_rng_t *r) /* (0, 1] */
{
    return ((double)(sim_rng_next(r->s) >> 11) + 1.0) * 0x1p-53;
}

static void sim_seed(sim_synth_t *y, uint64_t seed)
{
    for (int k = 0; k < 8; k++) { /* splitmix64, as the xoshiro authors advise */
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        (k < 4 ? y->rng.s : y->rng_slow.s)[k % 4] = z ^ (z >> 31);
    }
}

/* The noise: N(0, 1) cut into SIM_QN cells of equal probability at Phi^-1(k / SIM_QN).
 * 12 random bits pick a cell; an inner cell gives its mean (so the mean and, to 1e-6,
 * the variance are those of N(0, 1), in steps of at most 0.03 up to |x| = 3), an outer
 * one an exact draw from the tail beyond |x| = 3.29. Five deviates per 64 random bits,
 * no branch but the rare tail: about twice as fast as a ziggurat. */

static double sim_phi(double x) /* the density */
{
    return exp(-0.5 * x * x) / sqrt(2.0 * SIM_PI);
}

static void sim_noise_init(sim_synth_t *y)
{
    /* Cell boundaries by Newton's method on Phi(x) = p, each from the one before. */
    double b = -3.3, pd = 0.0;
    for (unsigned k = 1; k <= SIM_QN / 2; k++) {
        double p = (double)k / SIM_QN;
        for (int it = 0; it < 60; it++) {
            double d = (0.5 * erfc(-b / SIM_SQRT2) - p) / sim_phi(b);
            b -= d;
            if (fabs(d) < 1e-15)
                break;
        }
        if (k == SIM_QN / 2)
            b = 0.0;
        if (k == 1)
            y->qtail = -b;
        else
            y->qmean[k - 1] = (float)(SIM_QN * (pd - sim_phi(b)));
        pd = sim_phi(b);
    }
    for (unsigned k = 1; k < SIM_QN / 2; k++)
        y->qmean[SIM_QN - 1 - k] = -y->qmean[k];
    y->qmean[0] = y->qmean[SIM_QN - 1] = 0.0f; /* not used: the tails */
}

/* Beyond the outer boundary c (Marsaglia 1964); its draws have a stream of their own. */
SIM_COLD static double sim_noise_tail(sim_synth_t *y, unsigned cell)
{
    const double c = y->qtail;
    double t, e;
    do {
        t = -log(sim_uniform(&y->rng_slow)) / c;
        e = -log(sim_uniform(&y->rng_slow));
    } while (2.0 * e < t * t);
    return cell ? c + t : -(c + t);
}

static inline double sim_noise_cell(sim_synth_t *y, unsigned cell)
{
    if (cell - 1u < SIM_QN - 2u)
        return y->qmean[cell];
    return sim_noise_tail(y, cell);
}

/* ---- running: the parameters sample by sample ---- */

static double sim_eff_freq(const sim_synth_t *y)
{
    double f = y->cur.freq;
    if (y->cur.drift == SIM_DRIFT_WOBBLE) {
        double c, s;
        sim_cis(y, y->wob_ph, &c, &s);
        f += y->cur.wob_amp * s;
    }
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
        y->dirty = true;
    }
    while (y->next_ev < y->nev && y->ev[y->next_ev].n <= tl) {
        const sim_event_t *e = &y->ev[y->next_ev++];
        for (size_t k = 0; k < e->na; k++)
            sim_action_apply(&y->cur, &y->act[e->a0 + k], y, e->ramp_n);
    }
}

static void sim_ramp_eval(const sim_synth_t *y, const sim_ramp_t *r)
{
    *r->p = r->from + (r->to - r->from) * ((double)(y->n - r->n0) / (double)(r->n1 - r->n0));
}

static void sim_ramps(sim_synth_t *y)
{
    for (size_t k = 0; k < y->nramp;) {
        sim_ramp_t *r = &y->ramp[k];
        if (y->n >= r->n1) {
            *r->p = r->to;
            *r = y->ramp[--y->nramp];
            y->dirty = true; /* the parameter stops moving */
            continue;
        }
        sim_ramp_eval(y, r);
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

/* sim_pulses within a span (the rate does not change), in whole frames. */
static inline void sim_pulses_fast(sim_synth_t *y)
{
    if (y->cur.pulse_rate > 0 && y->n >= y->pnext_n) {
        y->pulse_last = y->n;
        y->pulse_any = true;
        y->pulse_next += MTR_FS / y->cur.pulse_rate;
        y->pnext_n = (uint64_t)ceil(y->pulse_next);
    }
    y->pulse_closed = y->pulse_any && y->n - y->pulse_last < y->pw_n;
}

/* Bring the state to frame n: the drift (from the previous frame's mode), the events
 * and ramps due, then the pulse contact. */
static void sim_settle(sim_synth_t *y, bool step)
{
    if (step && y->drift_last == SIM_DRIFT_RAMP && y->cur.drift == SIM_DRIFT_RAMP)
        sim_drift_step(y);
    if (step && y->drift_last == SIM_DRIFT_WOBBLE && y->cur.drift == SIM_DRIFT_WOBBLE)
        y->wob_ph += sim_fix(1.0 / (y->cur.wob_period * MTR_FS));
    sim_timeline(y);
    sim_ramps(y);
    if (y->cur.drift != y->drift_last) {
        y->wob_ph = 0; /* a wobble starts at its zero: no frequency step */
        y->drift_dir = 1;
        y->drift_last = y->cur.drift;
    }
    sim_pulses(y);
}

void sim_synth_start(sim_synth_t *y, uint64_t seed)
{
    for (int k = 0; k < 256; k++) {
        y->cis[k][0] = cos(2.0 * SIM_PI * k / 256.0);
        y->cis[k][1] = sin(2.0 * SIM_PI * k / 256.0);
    }
    for (int j = 0; j < SIM_BLK; j++)
        y->jd[j] = j;
    sim_noise_init(y);
    y->n = 0;
    y->tl0 = 0;
    y->next_ev = 0;
    y->nramp = 0;
    y->cur = y->init;
    sim_seed(y, seed);
    y->drift_dir = 1;
    y->drift_last = y->cur.drift;
    y->wob_ph = 0;
    y->pulse_rate_last = 0.0;
    y->pulse_any = false;
    y->nkey = 0;
    y->gblk = 0;
    y->dirty = true;
    sim_settle(y, false);
    y->f_cur = sim_eff_freq(y);
    y->i_cur = sim_inc(y->f_cur);
    y->ph = 0;
}

/* One frame on, with everything a frame may bring (events, ramps ending, loops). */
static void sim_advance(sim_synth_t *y)
{
    y->n++;
    sim_settle(y, true);
    sim_phase_step(y, sim_eff_freq(y));
}

/* One frame on inside a span, where no event, loop or ramp end falls: only the
 * frequency and the pulse train move. */
static inline void sim_step(sim_synth_t *y)
{
    y->n++;
    if (y->vary) {
        if (y->cur.drift == SIM_DRIFT_RAMP)
            sim_drift_step(y);
        if (y->cur.drift == SIM_DRIFT_WOBBLE)
            y->wob_ph += y->wob_inc;
        if (y->fr)
            sim_ramp_eval(y, y->fr);
        sim_phase_step(y, sim_eff_freq(y));
    } else {
        y->ph += y->inc;
    }
    sim_pulses_fast(y);
}

/* ---- running: the waveform as linear forms from an anchor frame ---- */

/* The step per frame of a parameter: its ramp's slope, or 0. */
static double sim_slope(const sim_synth_t *y, const double *p)
{
    for (size_t k = 0; k < y->nramp; k++)
        if (y->ramp[k].p == p)
            return (y->ramp[k].to - y->ramp[k].from) / (double)(y->ramp[k].n1 - y->ramp[k].n0);
    return 0.0;
}

/* The table for (h, dpsi): one already made for it, else a free one. */
static uint16_t sim_key(sim_synth_t *y, unsigned h, uint64_t dpsi)
{
    size_t free_k = y->nkey;
    for (size_t k = 0; k < y->nkey; k++) {
        sim_tabkey_t *t = &y->key[k];
        if (t->h == h && t->dpsi == dpsi) {
            if (!t->used) {
                t->used = true;
                y->kused[y->nkused++] = (uint16_t)k;
            }
            return (uint16_t)k;
        }
        if (!t->used && free_k == y->nkey)
            free_k = k;
    }
    if (free_k == y->nkey)
        y->nkey++; /* never past SIM_NTERM: there are no more terms than that */
    y->key[free_k] = (sim_tabkey_t){dpsi, 0, (uint16_t)h, true, false};
    y->kused[y->nkused++] = (uint16_t)free_k;
    return (uint16_t)free_k;
}

/* A term of order h: relative amplitude rel (+ drel per frame), angle psi degrees
 * (+ dpsi per frame). */
static void sim_term_add(sim_synth_t *y, unsigned h, double rel, double drel, double psi,
                         double dpsi)
{
    sim_term_t *t = &y->term[y->nterm++];
    t->h = (uint16_t)h;
    t->rel = rel;
    t->drel = drel;
    t->psi = sim_fix(psi / 360.0);
    t->dpsi = sim_fix(dpsi / 360.0);
    t->tab = sim_key(y, h, t->dpsi);
}

/* One phase's voltage (cur = false) or current channel: amplitude, DC, noise, terms. */
static void sim_chan_setup(sim_synth_t *y, int k, bool cur)
{
    sim_params_t *p = &y->cur;
    sim_chan_t *c = &y->chan[cur ? MTR_IA + k : MTR_VA + k];
    double *amp = cur ? &p->i[k] : &p->v[k], *dc = cur ? &p->dci[k] : &p->dcv[k];
    double *noise = cur ? &p->noise_i : &p->noise_v, nom = cur ? p->nominal_i : p->nominal_v;
    double sg = cur && p->exp[k] ? -SIM_SQRT2 : SIM_SQRT2, seq = p->acb ? -1.0 : 1.0;
    c->base = sg * *amp;
    c->dbase = sg * sim_slope(y, amp);
    c->dc = *dc;
    c->ddc = sim_slope(y, dc);
    c->sig = *noise / 100.0 * nom;
    c->dsig = sim_slope(y, noise) / 100.0 * nom;
    c->t0 = (uint16_t)y->nterm;
    if (c->base != 0.0 || c->dbase != 0.0) {
        /* The fundamental's angle: the voltage's, less the load angle for a current. */
        double a = seq * p->vang[k], da = seq * sim_slope(y, &p->vang[k]);
        if (cur) {
            a -= p->ang[k];
            da -= sim_slope(y, &p->ang[k]);
        }
        sim_term_add(y, 1, 1.0, 0.0, a, da);
        for (int h = 2; h <= p->hmax; h++) {
            double *rel = cur ? &p->ih[k][h] : &p->vh[k][h];
            double *ph = cur ? &p->ihph[k][h] : &p->vhph[k][h];
            double drel = sim_slope(y, rel);
            if (*rel != 0.0 || drel != 0.0)
                sim_term_add(y, (unsigned)h, *rel / 100.0, drel / 100.0, h * a + *ph,
                             h * da + sim_slope(y, ph));
        }
    }
    c->nt = (uint16_t)(y->nterm - c->t0);
}

static void sim_terms_setup(sim_synth_t *y)
{
    y->anchor = y->n;
    y->nterm = 0;
    y->nkused = 0;
    for (size_t k = 0; k < y->nkey; k++)
        y->key[k].used = false;
    for (int k = 0; k < 3; k++) {
        sim_chan_setup(y, k, false);
        sim_chan_setup(y, k, true);
    }
    y->dirty = false;
}

/* How the next span runs; returns how many frames it may last (>= 1). */
static uint64_t sim_span_setup(sim_synth_t *y)
{
    if (y->dirty)
        sim_terms_setup(y);
    uint64_t end = UINT64_MAX;
    if (y->next_ev < y->nev)
        end = y->tl0 + y->ev[y->next_ev].n;
    if (y->loop_n && y->tl0 + y->loop_n < end)
        end = y->tl0 + y->loop_n;
    y->fr = NULL;
    for (size_t k = 0; k < y->nramp; k++) {
        if (y->ramp[k].n1 < end)
            end = y->ramp[k].n1;
        if (y->ramp[k].p == &y->cur.freq)
            y->fr = &y->ramp[k];
    }
    y->vary = y->fr || y->cur.drift != SIM_DRIFT_NONE;
    y->inc = y->i_cur;
    y->wob_inc = sim_fix(1.0 / (y->cur.wob_period * MTR_FS));
    y->pnext_n = (uint64_t)ceil(y->pulse_next);
    y->pw_n = (uint64_t)ceil(y->cur.pulse_width * MTR_FS / 1000.0);
    /* A live change between two reads: the first step of a new frequency is a
     * trapezoid; a new drift mode starts at the next frame; a new pulse rate starts or
     * retimes the train. sim_advance does all three. */
    if ((!y->vary && sim_eff_freq(y) != y->f_cur) || y->cur.drift != y->drift_last ||
        y->cur.pulse_rate != y->pulse_rate_last)
        return 1;
    return end - y->n;
}

/* The pulse contact over frames n0 .. n0+len-1 and the state moved on to n0+steps,
 * run by run: it changes only where a pulse starts or a closure ends. */
static void sim_pulse_runs(sim_synth_t *y, uint8_t *pulse, size_t len, size_t steps)
{
    const uint64_t n0 = y->n, end_out = n0 + len, end_state = n0 + steps;
    uint64_t n = n0;
    for (;;) {
        uint64_t nxt = UINT64_MAX;
        if (y->cur.pulse_rate > 0)
            nxt = y->pnext_n > n ? y->pnext_n : n + 1;
        if (y->pulse_closed && y->pulse_last + y->pw_n < nxt)
            nxt = y->pulse_last + y->pw_n;
        if (pulse)
            memset(pulse + (n - n0), y->pulse_closed, (nxt < end_out ? nxt : end_out) - n);
        if (nxt > end_state)
            break;
        n = y->n = nxt;
        sim_pulses_fast(y);
    }
    y->n = end_state;
}

/* Per frame of the block: the pulse contact, the phase from the block's start; then
 * the state moves on (the last frame of a span with everything sim_advance does). */
static void sim_block_state(sim_synth_t *y, uint8_t *pulse, size_t len, bool full_last)
{
    const uint64_t ph0 = y->ph;
    size_t steps = full_last ? len - 1 : len;
    if (y->vary) {
        for (size_t j = 0; j < len; j++) {
            if (pulse)
                pulse[j] = y->pulse_closed;
            y->dph[j] = y->ph - ph0;
            if (j < steps)
                sim_step(y);
        }
    } else if (y->cur.pulse_rate > 0 || y->pulse_closed) {
        sim_pulse_runs(y, pulse, len, steps);
        y->ph += steps * y->inc;
    } else {
        if (pulse)
            memset(pulse, 0, len);
        y->n += steps;
        y->ph += steps * y->inc;
    }
    if (full_last)
        sim_advance(y);
}

/* The block's tables: cis(h dph(j) + j dpsi); while the frequency is constant
 * dph(j) = j inc, so a table made once serves every block. */
static void sim_block_tables(sim_synth_t *y, size_t len)
{
    for (size_t u = 0; u < y->nkused; u++) {
        sim_tabkey_t *t = &y->key[y->kused[u]];
        double(*tab)[SIM_BLK] = y->tab[y->kused[u]];
        if (y->vary) {
            for (size_t j = 0; j < len; j++)
                sim_cis(y, t->h * y->dph[j] + j * t->dpsi, &tab[0][j], &tab[1][j]);
            t->fresh = false;
        } else if (!t->fresh || t->inc != y->inc) {
            uint64_t step = t->h * y->inc + t->dpsi;
            for (size_t j = 0; j < SIM_BLK; j++)
                sim_cis(y, j * step, &tab[0][j], &tab[1][j]);
            t->fresh = true;
            t->inc = y->inc;
        }
    }
}

/* Does channel c have noise in the block (j0 .. j0+len from the anchor)? */
static bool sim_noisy(const sim_synth_t *y, int c, double j0, size_t len)
{
    const sim_chan_t *ch = &y->chan[c];
    return ch->sig + j0 * ch->dsig > 0 || ch->sig + (j0 + (double)len) * ch->dsig > 0;
}

/* The standard normal deviates of the aligned block holding frame n, if not drawn. */
static void sim_block_noise(sim_synth_t *y, uint64_t n)
{
    if (y->gblk == n / SIM_BLK + 1)
        return;
    y->gblk = n / SIM_BLK + 1; /* 0: none yet */
    sim_rng_t r = y->rng;
    double *g = y->g;
    const unsigned m = SIM_QN - 1;
    for (size_t k = 0; k < MTR_NCH * SIM_BLK; k += 5) { /* the last word gives 4 */
        uint64_t b = sim_rng_next(r.s);
        g[k] = sim_noise_cell(y, (unsigned)b & m);
        g[k + 1] = sim_noise_cell(y, (unsigned)(b >> SIM_QBITS) & m);
        g[k + 2] = sim_noise_cell(y, (unsigned)(b >> 2 * SIM_QBITS) & m);
        g[k + 3] = sim_noise_cell(y, (unsigned)(b >> 3 * SIM_QBITS) & m);
        if (k + 4 < MTR_NCH * SIM_BLK)
            g[k + 4] = sim_noise_cell(y, (unsigned)(b >> 4 * SIM_QBITS) & m);
    }
    y->rng = r;
}

/* The loops below run over whole tables (a fixed count, restrict pointers), which the
 * compiler turns into vector code; frames past the block's end are computed unused. */

/* acc(j) (+)= Im((cr + i ci) tab(j)), times rel0 + j drel if ramp. */
SIM_HOT
static void sim_acc(double *restrict acc, const double *restrict tc, const double *restrict ts,
                    double cr, double ci, bool first)
{
    if (first)
        for (size_t j = 0; j < SIM_BLK; j++)
            acc[j] = cr * ts[j] + ci * tc[j];
    else
        for (size_t j = 0; j < SIM_BLK; j++)
            acc[j] += cr * ts[j] + ci * tc[j];
}

SIM_HOT
static void sim_acc_ramp(double *restrict acc, const double *restrict tc,
                         const double *restrict ts, const double *restrict jd, double cr,
                         double ci, double r0, double dr)
{
    for (size_t j = 0; j < SIM_BLK; j++)
        acc[j] += (r0 + jd[j] * dr) * (cr * ts[j] + ci * tc[j]);
}

/* x(j) = base(j) acc(j) + dc(j) [+ sig(j) g(j), sig never below 0]. */
SIM_HOT
static void sim_out(float *restrict x, const double *restrict acc, const double *restrict jd,
                    const double *restrict g, const double lin[6])
{
    const double b = lin[0], db = lin[1], d = lin[2], dd = lin[3], s = lin[4], ds = lin[5];
    if (g)
        for (size_t j = 0; j < SIM_BLK; j++) {
            double sg = s + jd[j] * ds;
            sg = sg > 0.0 ? sg : 0.0;
            x[j] = (float)((b + jd[j] * db) * acc[j] + (d + jd[j] * dd) + sg * g[j]);
        }
    else
        for (size_t j = 0; j < SIM_BLK; j++)
            x[j] = (float)((b + jd[j] * db) * acc[j] + (d + jd[j] * dd));
}

/* The same where nothing ramps: the base is in acc already. */
SIM_HOT
static void sim_out_const(float *restrict x, const double *restrict acc,
                          const double *restrict g, double d, double s)
{
    if (g)
        for (size_t j = 0; j < SIM_BLK; j++)
            x[j] = (float)(acc[j] + d + s * g[j]);
    else
        for (size_t j = 0; j < SIM_BLK; j++)
            x[j] = (float)(acc[j] + d);
}

/* Every term's cis at the block's start, all together: they are independent, so they
 * overlap in the pipeline. */
static void sim_block_coefs(sim_synth_t *y, uint64_t n0, uint64_t ph0)
{
    const uint64_t dn = n0 - y->anchor;
    for (size_t k = 0; k < y->nterm; k++) {
        const sim_term_t *t = &y->term[k];
        sim_cis(y, t->h * ph0 + t->psi + dn * t->dpsi, &y->cr[k], &y->ci[k]);
    }
}

/* A channel's frames of the block into y->x[c]: base(j) x sum of rel(j) Im(C tab(j))
 * + dc(j) + noise. Where the base does not ramp it goes into C. */
static void sim_block_chan(sim_synth_t *y, int c, uint64_t n0, size_t len)
{
    const sim_chan_t *ch = &y->chan[c];
    const double j0 = (double)(n0 - y->anchor);
    const bool fixed = ch->dbase == 0.0 && ch->ddc == 0.0 && ch->dsig == 0.0;
    const double scale = fixed ? ch->base : 1.0;
    bool first = true;
    for (size_t k = ch->t0; k < (size_t)ch->t0 + ch->nt; k++) {
        const sim_term_t *t = &y->term[k];
        double rel = t->rel + j0 * t->drel, cr = scale * y->cr[k], ci = scale * y->ci[k];
        double(*tab)[SIM_BLK] = y->tab[t->tab];
        if (t->drel != 0.0) {
            if (first)
                memset(y->acc, 0, sizeof y->acc);
            sim_acc_ramp(y->acc, tab[0], tab[1], y->jd, cr, ci, rel, t->drel);
        } else {
            sim_acc(y->acc, tab[0], tab[1], rel * cr, rel * ci, first);
        }
        first = false;
    }
    if (first)
        memset(y->acc, 0, sizeof y->acc);
    const double *g = NULL;
    if (sim_noisy(y, c, j0, len)) {
        sim_block_noise(y, n0);
        g = y->g + (size_t)c * SIM_BLK + n0 % SIM_BLK;
    }
    if (fixed) {
        sim_out_const(y->x[c], y->acc, g, ch->dc, ch->sig);
    } else {
        const double lin[6] = {ch->base + j0 * ch->dbase, ch->dbase, ch->dc + j0 * ch->ddc,
                               ch->ddc, ch->sig + j0 * ch->dsig, ch->dsig};
        sim_out(y->x[c], y->acc, y->jd, g, lin);
    }
}

/* Channel rows into frames. Two frames (12 floats) at a time: pairs of channels
 * interleaved, then three 4-float stores. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
typedef float sim_v2f __attribute__((vector_size(8)));
typedef float sim_v4f __attribute__((vector_size(16)));

static sim_v4f sim_zip(const float *a, const float *b)
{
    sim_v2f u, v;
    memcpy(&u, a, sizeof u);
    memcpy(&v, b, sizeof v);
    return __builtin_shufflevector(u, v, 0, 2, 1, 3); /* a0 b0 a1 b1 */
}

static void sim_interleave(mtr_frame_t *out, float (*x)[SIM_BLK], size_t len)
{
    float *o = out[0];
    size_t j = 0;
    for (; j + 1 < len; j += 2, o += 2 * MTR_NCH) {
        sim_v4f ab = sim_zip(x[0] + j, x[1] + j), cd = sim_zip(x[2] + j, x[3] + j);
        sim_v4f ef = sim_zip(x[4] + j, x[5] + j);
        sim_v4f o0 = __builtin_shufflevector(ab, cd, 0, 1, 4, 5);
        sim_v4f o1 = __builtin_shufflevector(ef, ab, 0, 1, 6, 7);
        sim_v4f o2 = __builtin_shufflevector(cd, ef, 2, 3, 6, 7);
        memcpy(o, &o0, sizeof o0);
        memcpy(o + 4, &o1, sizeof o1);
        memcpy(o + 8, &o2, sizeof o2);
    }
    for (; j < len; j++)
        for (int c = 0; c < MTR_NCH; c++)
            out[j][c] = x[c][j];
}
#else
static void sim_interleave(mtr_frame_t *out, float (*x)[SIM_BLK], size_t len)
{
    for (size_t j = 0; j < len; j++)
        for (int c = 0; c < MTR_NCH; c++)
            out[j][c] = x[c][j];
}
#endif

/* Frames of one span within one aligned block of SIM_BLK. */
static void sim_block(sim_synth_t *y, mtr_frame_t *out, uint8_t *pulse, size_t len,
                      bool full_last)
{
    const uint64_t n0 = y->n, ph0 = y->ph;
    sim_block_state(y, pulse, len, full_last);
    sim_block_tables(y, len);
    sim_block_coefs(y, n0, ph0);
    for (int c = 0; c < MTR_NCH; c++)
        sim_block_chan(y, c, n0, len);
    sim_interleave(out, y->x, len);
}

void sim_synth_fill(sim_synth_t *y, mtr_frame_t *out, uint8_t *pulse, size_t n)
{
    size_t k = 0;
    while (k < n) {
        uint64_t left = sim_span_setup(y);
        size_t len = n - k < left ? n - k : (size_t)left;
        /* Every read ends on a full step, so the parameters are current between reads. */
        while (len) {
            size_t b = SIM_BLK - (size_t)(y->n % SIM_BLK);
            b = len < b ? len : b;
            len -= b;
            sim_block(y, out + k, pulse ? pulse + k : NULL, b, len == 0);
            k += b;
        }
    }
}
