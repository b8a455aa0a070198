/*
 * The metering engine. How it measures, in short (docs/metering.md has the detail):
 *
 * - Every sample adds its products (v^2, i^2, v*i, ...) to running sums; nothing is
 *   skipped, so energy has no blind time.
 * - The sums are cut at positive-going zero crossings of the (low-passed) reference
 *   voltage, interpolated between samples; the sample that holds a crossing is split
 *   between the two sides by the crossing's fraction. Each 1 s cycle publishes the
 *   whole cycles that ended before it, so readings cover whole cycles at any frequency.
 * - Reactive power is quadrature-based: the covariance of the current with the
 *   trapezoidal time-integral of the voltage (exactly -90 degrees at every frequency),
 *   rescaled by the integrator's known gain at the measured frequency.
 * - Single precision throughout (a Cortex-M4F has no double-precision FPU): float sums
 *   over at most a line cycle (partials of 60 samples), a second's whole cycles added
 *   cycle by cycle; times as whole samples (uint64) plus a float fraction, differences
 *   taken in integers first; energy registers in integer joules plus 2^-32 J; demand
 *   sums over up to 9 h compensated (Kahan). docs/metering.md has the error budget.
 */
#include "mtr.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846f
#define SQRT3 1.7320508075688772f

enum { LP_X1, LP_X2, LP_Y1, LP_Y2 }; /* the low-pass delays, mtr_t.lp */

/* The sums: six quantities per phase and the line-to-line squares (AB, BC, CA). Phases
 * B and C sit side by side, a row of two per quantity, so that they are summed as
 * two-lane vectors; phase A (whose voltage may be A-B) is summed with the reference. */
enum { A_VV, A_II, A_VI, A_WI, A_W, A_I, A_LL };
enum { S_BC = 0, S_LL = 12, S_A = 16 }; /* group starts in mtr_acc_t.s; 15 is padding */

static inline int acc_idx(int q, int p)
{
    return q == A_LL ? S_LL + p : p == 0 ? S_A + q : S_BC + 2 * q + (p - 1);
}

/* Zero-crossing detector: arm below -ZC_HYST volts, ignore crossings closer than
 * ZC_HOLDOFF samples (faster than 84 Hz), measure frequency only above ZC_VMIN. */
#define ZC_HYST 2.0f
#define ZC_HOLDOFF 30u
#define ZC_VMIN 20.0f
#define F_MIN 45.0f
#define F_MAX 65.0f
/* No-load: below 0.1 % of the CT primary a phase does not register power. */
#define START_FRACTION 0.001f
/* A closure of at least 20 ms: 50.4 samples, so 51. */
#define PULSE_MIN_SAMPLES ((20u * MTR_FS + 999u) / 1000u)

/* b to a in samples: short spans (seconds), where a float keeps a crossing's fraction. */
static float tdiff(mtr_time_t a, mtr_time_t b)
{
    return (float)(int32_t)(a.n - b.n) + (a.frac - b.frac);
}

enum { PEND_CLEAR_ENERGY = 1, PEND_SYNC = 2, PEND_MAXDEM = 4, PEND_PULSES = 8 };

/* ---- energy registers ---------------------------------------------------------- */

/* A whole, non-negative float as an int64 by its bits: libgcc's float -> int64
 * conversion goes through a double, which a Cortex-M4F has only in software. */
static int64_t whole_of(float w)
{
    if (w < 16777216.0f)
        return (int32_t)w; /* below 2^24: one VCVT, exact */
    uint32_t bits;
    memcpy(&bits, &w, sizeof bits);
    int shift = (int)((bits >> 23) & 0xffu) - 150; /* >= 1 from 2^24 on */
    return (int64_t)((bits & 0x7fffffu) | 0x800000u) << shift;
}

void mtr_energy_add(mtr_energy_t *e, float joules)
{
    if (!(joules > 0.0f) || joules > 1e15f)
        return; /* NaN, negative or absurd: never corrupt a register */
    float whole = floorf(joules);
    /* joules - whole is exact, and so is its scaling by 2^32 (< 2^32): the register
     * takes the addend to 2^-32 J, the rest of a float's bits being below that. */
    uint64_t f = (uint64_t)e->frac32 + (uint32_t)((joules - whole) * MTR_FRAC_ONE);
    e->j += whole_of(whole) + (int64_t)(f >> 32);
    e->frac32 = (uint32_t)f;
}

/* j + fj joules in kWh: the whole kWh split off in integers, so that the float rounds
 * once, at the end, however large the register. */
static float kwh_of(int64_t j, float fj)
{
    int64_t kwh = j / 3600000, rem = j % 3600000;
    return (float)kwh + ((float)rem + fj) / 3.6e6f;
}

float mtr_energy_kwhf(const mtr_energy_t *e)
{
    return kwh_of(e->j, (float)e->frac32 / MTR_FRAC_ONE);
}

static float energy_diff_kwh(const mtr_energy_t *a, const mtr_energy_t *b)
{
    return kwh_of(a->j - b->j, ((float)a->frac32 - (float)b->frac32) / MTR_FRAC_ONE);
}

/* ---- configuration --------------------------------------------------------------- */

void mtr_config_default(mtr_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->system_type = 40;
    cfg->ct_primary = 100.0f;
    cfg->ct_secondary = 1;
    cfg->pt_ratio = 1.0f;
    cfg->system_voltage = 600.0f;
    cfg->display_units = 1;
    cfg->pl_volts_pct = 10;
    cfg->pl_imbalance_pct = 25;
    cfg->subintervals = 1;
    cfg->subinterval_cs = 90000;
}

static bool is_int(float v)
{
    return v == floorf(v);
}

static bool in_range(float v, float lo, float hi)
{
    return v >= lo && v <= hi;
}

/* For settings that arrive as a BACnet REAL: the documented limits (0.01, 82, ...) have
 * no exact float, so accept what a client's nearest REAL gives (1 part in 10^6). */
static bool in_range_real(float v, float lo, float hi)
{
    return v >= lo * (1 - 1e-6f) && v <= hi * (1 + 1e-6f);
}

int mtr_setting_check(const mtr_config_t *cfg, mtr_setting_t id, float v)
{
    if (!isfinite(v))
        return MTR_ERANGE;
    switch (id) {
    case MTR_SET_SYSTEM_TYPE:
        return (v == 10 || v == 11 || v == 12 || v == 31 || v == 40) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_CT_PRIMARY:
        return in_range_real(v, 5, 32000) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_CT_SECONDARY:
        return (v == 1 || v == 3) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_PT_RATIO:
        return in_range_real(v, 0.01f, 320.0f) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_SYSTEM_VOLTAGE: {
        /* AV6 / AV5 must be 82..660; tolerate float rounding of the product. */
        float pt = cfg->pt_ratio;
        bool ok = in_range_real(v, 82, 32000) && in_range_real(v, 82.0f * pt, 660.0f * pt);
        return ok ? MTR_OK : MTR_ERANGE;
    }
    case MTR_SET_DISPLAY_UNITS:
        return (v == 0 || v == 1) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_PL_VOLTS:
    case MTR_SET_PL_IMBALANCE:
        return (is_int(v) && in_range(v, 1, 99)) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_SUBINTERVALS:
        return (is_int(v) && in_range(v, 1, MTR_MAX_SUBINTERVALS)) ? MTR_OK : MTR_ERANGE;
    case MTR_SET_SUBINTERVAL_LEN:
        return (v == 0 || (in_range(v, 1000, 3276700) && fmodf(v, 100) == 0)) ? MTR_OK
                                                                              : MTR_ERANGE;
    }
    return MTR_EARG;
}

int mtr_setting_set(mtr_config_t *cfg, mtr_setting_t id, float v)
{
    int rc = mtr_setting_check(cfg, id, v);
    if (rc != MTR_OK)
        return rc;
    switch (id) {
    case MTR_SET_SYSTEM_TYPE: cfg->system_type = (uint8_t)v; break;
    case MTR_SET_CT_PRIMARY: cfg->ct_primary = v; break;
    case MTR_SET_CT_SECONDARY: cfg->ct_secondary = (uint8_t)v; break;
    case MTR_SET_PT_RATIO: cfg->pt_ratio = v; break;
    case MTR_SET_SYSTEM_VOLTAGE: cfg->system_voltage = v; break;
    case MTR_SET_DISPLAY_UNITS: cfg->display_units = (uint8_t)v; break;
    case MTR_SET_PL_VOLTS: cfg->pl_volts_pct = (uint8_t)v; break;
    case MTR_SET_PL_IMBALANCE: cfg->pl_imbalance_pct = (uint8_t)v; break;
    case MTR_SET_SUBINTERVALS: cfg->subintervals = (uint8_t)v; break;
    case MTR_SET_SUBINTERVAL_LEN: cfg->subinterval_cs = (uint32_t)v; break;
    }
    return MTR_OK;
}

float mtr_setting_get(const mtr_config_t *cfg, mtr_setting_t id)
{
    switch (id) {
    case MTR_SET_SYSTEM_TYPE: return cfg->system_type;
    case MTR_SET_CT_PRIMARY: return cfg->ct_primary;
    case MTR_SET_CT_SECONDARY: return cfg->ct_secondary;
    case MTR_SET_PT_RATIO: return cfg->pt_ratio;
    case MTR_SET_SYSTEM_VOLTAGE: return cfg->system_voltage;
    case MTR_SET_DISPLAY_UNITS: return cfg->display_units;
    case MTR_SET_PL_VOLTS: return cfg->pl_volts_pct;
    case MTR_SET_PL_IMBALANCE: return cfg->pl_imbalance_pct;
    case MTR_SET_SUBINTERVALS: return cfg->subintervals;
    case MTR_SET_SUBINTERVAL_LEN: return cfg->subinterval_cs;
    }
    return NAN;
}

/* strict: also AV6 within 82..660 x AV5 (a write-time rule: after an AV5 write the
 * stored AV6 may be outside it until AV6 is written, as the datasheet's order implies). */
static int config_check(const mtr_config_t *cfg, bool strict)
{
    /* AV5 before AV6, as the datasheet asks integrators to write them. */
    static const mtr_setting_t order[] = {
        MTR_SET_SYSTEM_TYPE, MTR_SET_CT_PRIMARY, MTR_SET_CT_SECONDARY, MTR_SET_PT_RATIO,
        MTR_SET_SYSTEM_VOLTAGE, MTR_SET_DISPLAY_UNITS, MTR_SET_PL_VOLTS,
        MTR_SET_PL_IMBALANCE, MTR_SET_SUBINTERVALS, MTR_SET_SUBINTERVAL_LEN,
    };
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        float v = mtr_setting_get(cfg, order[k]);
        int rc = mtr_setting_check(cfg, order[k], v);
        if (rc != MTR_OK && !strict && order[k] == MTR_SET_SYSTEM_VOLTAGE)
            rc = (v >= 82 && v <= 32000) ? MTR_OK : MTR_ERANGE;
        if (rc != MTR_OK)
            return rc;
    }
    return MTR_OK;
}

int mtr_config_check(const mtr_config_t *cfg)
{
    return config_check(cfg, true);
}

unsigned mtr_active_phases(uint8_t type)
{
    switch (type) {
    case 10: case 11: return 1u;
    case 12: return 3u;
    default: return 7u;
    }
}

/* Line-to-neutral voltages exist (bit per phase). */
static unsigned ln_phases(uint8_t type)
{
    switch (type) {
    case 10: return 1u;
    case 12: return 3u;
    case 40: return 7u;
    default: return 0u;
    }
}

/* Line-to-line voltages exist: bit 0 AB, 1 BC, 2 CA. */
static unsigned ll_pairs(uint8_t type)
{
    switch (type) {
    case 11: case 12: return 1u;
    case 31: case 40: return 7u;
    default: return 0u;
    }
}

float mtr_max_power_kw(const mtr_config_t *cfg)
{
    float k = (cfg->system_type == 31 || cfg->system_type == 40) ? SQRT3 : 1.0f;
    return k * cfg->system_voltage * cfg->ct_primary / 1000.0f;
}

static float ct_full_scale(const mtr_config_t *cfg)
{
    return cfg->ct_secondary == 3 ? 1.0f / 3.0f : 1.0f;
}

/* ---- demand ------------------------------------------------------------------------ */

/* Kahan: a sub-interval sums up to 32767 one-second terms, which a plain float sum would
 * round 32767 times. */
static void ksum_add(mtr_ksum_t *k, float x)
{
    float y = x - k->c, t = k->s + y;
    k->c = (t - k->s) - y;
    k->s = t;
}

static void demand_restart(mtr_t *m)
{
    memset(m->sub_e, 0, sizeof m->sub_e);
    m->sub_t = (mtr_ksum_t){0};
    m->sub_elapsed_s = 0;
    m->sub_count = m->sub_next = 0;
    memset(m->dem, 0, sizeof m->dem);
    m->dem_valid = false;
}

static void demand_max_update(mtr_t *m)
{
    float *mx = m->nv.max_dem;
    float kw = m->dem[0], kvar = m->dem[1], kva = m->dem[2];
    if (kw >= 0 && kw > mx[0]) mx[0] = kw;
    if (kw < 0 && -kw > mx[3]) mx[3] = -kw;
    if (kvar >= 0 && kvar > mx[1]) mx[1] = kvar;
    if (kvar < 0 && -kvar > mx[4]) mx[4] = -kvar;
    if (kw >= 0 && kva > mx[2]) mx[2] = kva;
    if (kw < 0 && kva > mx[5]) mx[5] = kva;
}

static void demand_end_subinterval(mtr_t *m)
{
    if (m->sub_t.s <= 0)
        return;
    unsigned n = m->cfg.subinterval_cs == 0 ? 1u : m->cfg.subintervals;
    for (int q = 0; q < 3; q++)
        m->sub_avg[m->sub_next][q] = m->sub_e[q].s / m->sub_t.s / 1000.0f;
    m->sub_next = (uint8_t)((m->sub_next + 1) % MTR_MAX_SUBINTERVALS);
    if (m->sub_count < MTR_MAX_SUBINTERVALS)
        m->sub_count++;
    /* Rolling block: the mean of the last n sub-intervals (fewer right after a restart). */
    unsigned have = m->sub_count < n ? m->sub_count : n;
    for (int q = 0; q < 3; q++) {
        float sum = 0;
        for (unsigned k = 1; k <= have; k++)
            sum += m->sub_avg[(m->sub_next + MTR_MAX_SUBINTERVALS - k) % MTR_MAX_SUBINTERVALS][q];
        m->dem[q] = sum / (float)have;
    }
    m->dem_valid = true;
    demand_max_update(m);
    memset(m->sub_e, 0, sizeof m->sub_e);
    m->sub_t = (mtr_ksum_t){0};
    m->sub_elapsed_s = 0;
}

static void publish_registers(mtr_t *m);

/* ---- init ---------------------------------------------------------------------------- */

static void apply_scale(mtr_t *m)
{
    m->kv = m->cfg.pt_ratio;
    m->ki = m->cfg.ct_primary / ct_full_scale(&m->cfg);
}

static void set_nan_outputs(mtr_t *m)
{
    for (unsigned k = 1; k <= MTR_AI_COUNT; k++)
        m->ai[k] = NAN;
}

void mtr_init(mtr_t *m, const mtr_config_t *cfg, const mtr_nv_t *nv)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (nv)
        m->nv = *nv;
    apply_scale(m);
    m->tick_left = MTR_FS;
    m->f_last = 60.0f;
    /* 2nd-order Butterworth low-pass at 100 Hz (bilinear): passes 45..65 Hz, takes
     * the 5th harmonic down to 16 % and most noise off the crossings. */
    float k = tanf(PI * 100.0f / MTR_FS), norm = 1.0f / (1.0f + sqrtf(2.0f) * k + k * k);
    m->lp[LP_X2].c = k * k * norm;
    m->lp[LP_X1].c = 2.0f * m->lp[LP_X2].c;
    m->lp[LP_Y1].c = 2.0f * (k * k - 1.0f) * norm;
    m->lp[LP_Y2].c = (1.0f - sqrtf(2.0f) * k + k * k) * norm;
    set_nan_outputs(m);
    publish_registers(m); /* accumulated values are valid before the first cycle */
    /* Measured values do not exist until the first cycle ends: QNAN, and Reliability
     * says so (the reserved AIs are QNAN by definition and stay "no fault"). */
    for (unsigned ai = 1; ai <= MTR_AI_COUNT; ai++)
        if (isnan(m->ai[ai]) && ai != MTR_AI_RESERVED28 && ai != MTR_AI_RESERVED77 &&
            ai != MTR_AI_RESERVED79 && ai != MTR_AI_RESERVED80)
            m->unreliable[ai / 32] |= 1u << (ai % 32);
}

int mtr_configure(mtr_t *m, const mtr_config_t *cfg)
{
    int rc = config_check(cfg, false);
    if (rc != MTR_OK)
        return rc;
    bool demand_changed = cfg->subintervals != m->cfg.subintervals ||
                          cfg->subinterval_cs != m->cfg.subinterval_cs;
    m->cfg = *cfg;
    apply_scale(m);
    if (demand_changed)
        demand_restart(m);
    publish_registers(m);
    return MTR_OK;
}

void mtr_power_up(mtr_t *m)
{
    m->nv.power_ups++;
    m->rtc_reset = true;
    m->alarms |= MTR_BIT(MTR_BI_RTC_RESET);
    publish_registers(m);
}

void mtr_rtc_synced(mtr_t *m)
{
    m->rtc_reset = false;
    m->alarms &= (uint16_t)~MTR_BIT(MTR_BI_RTC_RESET);
    m->ai[MTR_AI_ALARMS] = (float)m->alarms;
}

int mtr_command(mtr_t *m, uint32_t cmd)
{
    switch (cmd) {
    case MTR_CMD_CLEAR_ENERGY: m->pending |= PEND_CLEAR_ENERGY; return MTR_OK;
    case MTR_CMD_DEMAND_SYNC: m->pending |= PEND_SYNC; return MTR_OK;
    case MTR_CMD_MAX_DEMAND_RESET: m->pending |= PEND_MAXDEM; return MTR_OK;
    case MTR_CMD_CLEAR_PULSES: m->pending |= PEND_PULSES; return MTR_OK;
    }
    return MTR_ERANGE;
}

/* ---- pulse input --------------------------------------------------------------------- */

static void pulse_check(mtr_t *m)
{
    if (m->pulse_closed && !m->pulse_counted && m->n - m->pulse_since >= PULSE_MIN_SAMPLES) {
        m->nv.pulses++;
        m->pulse_counted = true;
    }
}

void mtr_pulse_input(mtr_t *m, bool closed)
{
    if (closed == m->pulse_closed)
        return;
    if (closed) {
        m->pulse_since = m->n;
        m->pulse_counted = false;
    } else {
        pulse_check(m);
    }
    m->pulse_closed = closed;
}

/* ---- the 1 s cycle --------------------------------------------------------------------- */

static void acc_add(mtr_acc_t *dst, const mtr_acc_t *src)
{
    for (int k = 0; k < MTR_NACC; k++)
        dst->s[k] += src->s[k];
}

static void mark_unreliable(mtr_t *m, unsigned ai)
{
    m->unreliable[ai / 32] |= 1u << (ai % 32);
}

typedef struct {
    float v[3], i[3], p[3], q[3], s[3], pf[3], vll[3];
    float vt[3], it[3], vllt[3]; /* terminal RMS for range checks */
    bool loaded[3];
} phase_vals_t;

/* Readings of one window of duration d samples at frequency f. */
static void compute(const mtr_t *m, const mtr_acc_t *a, float d, float f, phase_vals_t *out)
{
    float w = 2.0f * PI * f / MTR_FS; /* rad per sample */
    float qgain = 2.0f * tanf(w / 2.0f); /* undoes the trapezoid integrator's gain */
    float i_start = START_FRACTION * m->cfg.ct_primary;
    for (int p = 0; p < 3; p++) {
        float vv = a->s[acc_idx(A_VV, p)], ii = a->s[acc_idx(A_II, p)];
        float vt = sqrtf(vv / d), it = sqrtf(ii / d);
        float v = m->kv * vt, i = m->ki * it;
        out->vt[p] = vt;
        out->it[p] = it;
        out->v[p] = v;
        out->i[p] = i;
        out->loaded[p] = i >= i_start;
        if (out->loaded[p]) {
            float sw = a->s[acc_idx(A_W, p)], si = a->s[acc_idx(A_I, p)];
            float cov = a->s[acc_idx(A_WI, p)] - sw * si / d;
            out->p[p] = m->kv * m->ki * a->s[acc_idx(A_VI, p)] / d;
            out->q[p] = m->kv * m->ki * cov / d * qgain;
            out->s[p] = v * i;
            out->pf[p] = out->s[p] > 0 ? out->p[p] / out->s[p] : 1.0f;
        } else {
            out->p[p] = out->q[p] = out->s[p] = 0.0f;
            out->pf[p] = 1.0f;
        }
        out->vllt[p] = sqrtf(a->s[acc_idx(A_LL, p)] / d);
        out->vll[p] = m->kv * out->vllt[p];
    }
}

/* Book an interval's energies (J) into per-register amounts r (M1, M2, M5). */
static void book(float *r, float ep, float eq, float es)
{
    /* IEC 62053-23 quadrants of (P, Q): Q1 +P+Q, Q2 -P+Q, Q3 -P-Q, Q4 +P-Q. */
    int q = eq >= 0 ? (ep >= 0 ? 0 : 1) : (ep < 0 ? 2 : 3);
    r[ep >= 0 ? MTR_E_KWH_IMP : MTR_E_KWH_EXP] += fabsf(ep);
    r[MTR_E_KVARH_Q1 + q] += fabsf(eq);
    r[ep >= 0 ? MTR_E_KVAH_IMP : MTR_E_KVAH_EXP] += es;
}

/* What a 1 s tick books: the interval's sums (whole cycles and any stretch before
 * them) over d samples; of that, d_pre samples of a partial cycle before the first
 * crossing, to book at the window's rate (pre: their sums, or NULL); and the partial
 * cycle since the last crossing, d_part samples, credited ahead at the window's rate. */
typedef struct {
    const mtr_acc_t *acc, *pre;
    float d, d_pre, d_part;
} span_t;

static float finite_j(float j)
{
    return j > 0 && j < 1e15f ? j : 0.0f;
}

/* Registers take what is due minus what they were credited ahead at the last tick (a
 * register never goes back: an over-credit waits for later energy), then this tick's
 * partial cycle. So at each tick they hold the integral to the sample. */
/* A credit ahead booked to one register of a group (kWh import/export, the four
 * kVARh quadrants, kVAh import/export) whose energy came due in another: the sign of P
 * or Q changed at the tick (a pure reactive load's P hovers around 0). It comes off that
 * other register, so the group's sum stays the integral; only their split is off, by
 * at most a partial line cycle. */
static void move_stale_credit(mtr_t *m, const float *due)
{
    static const uint8_t first[3] = {MTR_E_KWH_IMP, MTR_E_KVARH_Q1, MTR_E_KVAH_IMP};
    static const uint8_t count[3] = {2, 4, 2};
    for (int blk = 0; blk < MTR_E_COUNT; blk += MTR_E_PER_PHASE)
        for (int g = 0; g < 3; g++) {
            int lo = blk + first[g], hi = lo + count[g], best = -1;
            for (int k = lo; k < hi; k++)
                if (finite_j(due[k]) > 0 && (best < 0 || due[k] > due[best]))
                    best = k;
            for (int k = lo; best >= 0 && k < hi; k++)
                if (k != best && finite_j(due[k]) <= 0 && m->e_ahead[k] > 0) {
                    m->e_ahead[best] += m->e_ahead[k];
                    m->e_ahead[k] = 0;
                }
        }
}

static void commit_energy(mtr_t *m, const float *due, const float *ahead)
{
    move_stale_credit(m, due);
    for (int k = 0; k < MTR_E_COUNT; k++) {
        float owed = finite_j(due[k]) - m->e_ahead[k];
        m->e_ahead[k] = owed > 0 ? 0.0f : -owed;
        mtr_energy_add(&m->nv.e[k], owed);
        float a = finite_j(ahead[k]);
        mtr_energy_add(&m->nv.e[k], a);
        m->e_ahead[k] += a;
    }
}

/* This tick's energy per phase and total; dem gets the totals (P, Q, S) demand uses, as before. */
static void book_tick(mtr_t *m, const phase_vals_t *pv, const span_t *sp, float dem[3])
{
    unsigned act = mtr_active_phases(m->cfg.system_type);
    float due[MTR_E_COUNT] = {0}, ahead[MTR_E_COUNT] = {0};
    float bt[3] = {0}, at[3] = {0};
    float kvi = m->kv * m->ki;
    dem[0] = dem[1] = dem[2] = 0;
    for (int p = 0; p < 3; p++) {
        if (!(act >> p & 1) || !pv->loaded[p])
            continue;
        float ep = kvi * sp->acc->s[acc_idx(A_VI, p)] / MTR_FS;
        float eq = pv->q[p] * sp->d / MTR_FS;
        float es = pv->s[p] * sp->d / MTR_FS;
        dem[0] += ep, dem[1] += eq, dem[2] += es;
        if (sp->pre) /* the partial cycle before the first crossing: at the window's rate */
            ep += (pv->p[p] * sp->d_pre - kvi * sp->pre->s[acc_idx(A_VI, p)]) / MTR_FS;
        float r = sp->d_part / MTR_FS, ap = pv->p[p] * r, aq = pv->q[p] * r, as = pv->s[p] * r;
        book(&due[MTR_E_PER_PHASE * (1 + p)], ep, eq, es);
        book(&ahead[MTR_E_PER_PHASE * (1 + p)], ap, aq, as);
        bt[0] += ep, bt[1] += eq, bt[2] += es;
        at[0] += ap, at[1] += aq, at[2] += as;
    }
    book(due, bt[0], bt[1], bt[2]);
    book(ahead, at[0], at[1], at[2]);
    commit_energy(m, due, ahead);
}

/* Phase-loss alert bits (DECISIONS M8). */
static uint16_t phase_loss(const mtr_t *m, const phase_vals_t *pv)
{
    uint8_t t = m->cfg.system_type;
    float vsys = m->cfg.system_voltage;
    float nom_ln = t == 40 ? vsys / SQRT3 : t == 12 ? vsys / 2.0f : vsys;
    float frac = m->cfg.pl_volts_pct / 100.0f, imb = m->cfg.pl_imbalance_pct / 100.0f;
    unsigned ln = ln_phases(t), ll = ll_pairs(t), bits = 0;
    static const unsigned pair_phases[3] = {3u, 6u, 5u}; /* AB, BC, CA */

    for (int p = 0; p < 3; p++) {
        if ((ln >> p & 1) && pv->v[p] < frac * nom_ln)
            bits |= 1u << p;
        if ((ll >> p & 1) && pv->vll[p] < frac * vsys)
            bits |= pair_phases[p];
    }
    /* Imbalance, per tested set: L-N for 12 and 40, L-L for 31 and 40. */
    if ((t == 12 || t == 40) && ln) {
        float mn = INFINITY, mx = -INFINITY, sum = 0;
        int cnt = 0;
        for (int p = 0; p < 3; p++)
            if (ln >> p & 1) {
                mn = fminf(mn, pv->v[p]), mx = fmaxf(mx, pv->v[p]), sum += pv->v[p], cnt++;
            }
        float avg = sum / cnt;
        if (avg > 0 && (mx - mn) / avg > imb) {
            /* The outlier: farthest from the mean, the lower one on a tie. */
            int worst = -1;
            float dev = -1;
            for (int p = 0; p < 3; p++)
                if (ln >> p & 1) {
                    float d = fabsf(pv->v[p] - avg);
                    if (d > dev * (1 + 1e-6f) || (fabsf(d - dev) <= dev * 1e-6f && pv->v[p] < pv->v[worst])) {
                        dev = d;
                        worst = p;
                    }
                }
            bits |= 1u << worst;
        }
    }
    if (t == 31 || t == 40) {
        float mn = fminf(pv->vll[0], fminf(pv->vll[1], pv->vll[2]));
        float mx = fmaxf(pv->vll[0], fmaxf(pv->vll[1], pv->vll[2]));
        float avg = (pv->vll[0] + pv->vll[1] + pv->vll[2]) / 3.0f;
        if (avg > 0 && (mx - mn) / avg > imb) {
            /* Two low pairs share the lost phase; one low pair names both its phases. */
            unsigned low = 0, nlow = 0, common = 7u;
            for (int p = 0; p < 3; p++)
                if (pv->vll[p] < avg) {
                    low |= pair_phases[p];
                    common &= pair_phases[p];
                    nlow++;
                }
            bits |= nlow >= 2 ? common : low;
        }
    }
    return (uint16_t)(bits << (MTR_BI_PHASE_LOSS_A - 1));
}

static void publish(mtr_t *m, const phase_vals_t *pv, const span_t *sp, float f, bool f_valid,
                    float vref_t)
{
    uint8_t t = m->cfg.system_type;
    unsigned act = mtr_active_phases(t), ln = ln_phases(t), ll = ll_pairs(t);
    float *ai = m->ai;
    float fs_ct = ct_full_scale(&m->cfg);
    uint16_t alarms = 0;
    memset(m->unreliable, 0, sizeof m->unreliable);

    /* Energy of this cycle, per phase and total (M1, M2, M5). */
    float dem_e[3];
    book_tick(m, pv, sp, dem_e);

    /* Demand sub-interval. */
    for (int q = 0; q < 3; q++)
        ksum_add(&m->sub_e[q], dem_e[q]);
    ksum_add(&m->sub_t, sp->d / (float)MTR_FS);
    m->sub_elapsed_s++;
    if (m->cfg.subinterval_cs > 0 && m->sub_elapsed_s >= m->cfg.subinterval_cs / 100u)
        demand_end_subinterval(m);

    /* Instantaneous values. */
    float pt = 0, qt = 0, st = 0, vln_sum = 0, vll_sum = 0, i_sum = 0;
    int n_ln = 0, n_ll = 0, n_i = 0;
    for (int p = 0; p < 3; p++) {
        bool a = act >> p & 1;
        ai[MTR_AI_KW_A + p] = a ? pv->p[p] / 1000.0f : NAN;
        ai[MTR_AI_KVAR_A + p] = a ? pv->q[p] / 1000.0f : NAN;
        ai[MTR_AI_KVA_A + p] = a ? pv->s[p] / 1000.0f : NAN;
        ai[MTR_AI_PF_A + p] = a ? pv->pf[p] : NAN;
        ai[MTR_AI_I_A + p] = a ? pv->i[p] : NAN;
        ai[MTR_AI_V_AN + p] = (ln >> p & 1) ? pv->v[p] : NAN;
        ai[MTR_AI_V_AB + p] = (ll >> p & 1) ? pv->vll[p] : NAN;
        if (a) {
            pt += pv->p[p], qt += pv->q[p], st += pv->s[p];
            i_sum += pv->i[p], n_i++;
            if (pv->it[p] > (float)MTR_OVER_RANGE * fs_ct)
                alarms |= MTR_BIT(MTR_BI_CURR_ERR_A + p);
            if (pv->loaded[p] && fabsf(pv->pf[p]) < 0.5f)
                alarms |= MTR_BIT(MTR_BI_LOW_PF_A + p);
        }
        if (ln >> p & 1) {
            vln_sum += pv->v[p], n_ln++;
            if (pv->vt[p] > (float)(MTR_OVER_RANGE * MTR_V_LN_MAX))
                alarms |= MTR_BIT(MTR_BI_VOLTS_ERR_A + p);
        }
        if (ll >> p & 1) {
            vll_sum += pv->vll[p], n_ll++;
            if (pv->vllt[p] > (float)(MTR_OVER_RANGE * MTR_V_LL_MAX)) {
                static const uint8_t pa[3] = {0, 1, 2}, pb[3] = {1, 2, 0};
                alarms |= MTR_BIT(MTR_BI_VOLTS_ERR_A + pa[p]) | MTR_BIT(MTR_BI_VOLTS_ERR_A + pb[p]);
            }
        }
    }
    if (t == 31) /* delta: the to-reference voltages are checked against L-N limits too */
        for (int p = 0; p < 3; p++)
            if (pv->vt[p] > (float)(MTR_OVER_RANGE * MTR_V_LN_MAX))
                alarms |= MTR_BIT(MTR_BI_VOLTS_ERR_A + p);

    ai[MTR_AI_KW] = pt / 1000.0f;
    ai[MTR_AI_KVAR] = qt / 1000.0f;
    ai[MTR_AI_KVA] = st / 1000.0f;
    ai[MTR_AI_PF] = st > 0 ? pt / st : 1.0f;
    ai[MTR_AI_VLN_AVG] = n_ln ? vln_sum / (float)n_ln : NAN;
    ai[MTR_AI_VLL_AVG] = n_ll ? vll_sum / (float)n_ll : NAN;
    ai[MTR_AI_I_AVG] = n_i ? i_sum / (float)n_i : NAN;

    bool f_ok = f_valid && vref_t >= ZC_VMIN && f >= F_MIN && f <= F_MAX;
    ai[MTR_AI_FREQ] = f_ok ? f : NAN;
    if (!f_ok)
        alarms |= MTR_BIT(MTR_BI_FREQ_ERR);
    alarms |= phase_loss(m, pv);
    if (m->rtc_reset)
        alarms |= MTR_BIT(MTR_BI_RTC_RESET);

    /* Reliability (M10): what depends on an out-of-range input. */
    for (int p = 0; p < 3; p++) {
        bool verr = alarms & MTR_BIT(MTR_BI_VOLTS_ERR_A + p);
        bool ierr = alarms & MTR_BIT(MTR_BI_CURR_ERR_A + p);
        if (!verr && !ierr)
            continue;
        static const unsigned totals[] = {MTR_AI_KW, MTR_AI_KVAR, MTR_AI_KVA, MTR_AI_PF};
        for (unsigned k = 0; k < 4; k++)
            mark_unreliable(m, totals[k]);
        mark_unreliable(m, MTR_AI_KW_A + p), mark_unreliable(m, MTR_AI_KVAR_A + p);
        mark_unreliable(m, MTR_AI_KVA_A + p), mark_unreliable(m, MTR_AI_PF_A + p);
        if (verr) {
            mark_unreliable(m, MTR_AI_V_AN + p), mark_unreliable(m, MTR_AI_VLN_AVG);
            mark_unreliable(m, MTR_AI_VLL_AVG), mark_unreliable(m, MTR_AI_V_AB + p);
            mark_unreliable(m, MTR_AI_V_AB + (p + 2) % 3);
        }
        if (ierr)
            mark_unreliable(m, MTR_AI_I_A + p), mark_unreliable(m, MTR_AI_I_AVG);
    }
    if (alarms & MTR_BIT(MTR_BI_FREQ_ERR))
        mark_unreliable(m, MTR_AI_FREQ);
    m->alarms = alarms;
}

/* Commands queued by AV1 run here, at the end of the cycle after the write. */
static void run_commands(mtr_t *m)
{
    uint8_t pend = m->pending;
    m->pending = 0;
    m->events = 0;
    if (pend & PEND_CLEAR_ENERGY) {
        memset(m->nv.e, 0, sizeof m->nv.e);
        memset(m->e_ahead, 0, sizeof m->e_ahead);
        m->nv.energy_resets++;
    }
    if ((pend & PEND_SYNC) && m->cfg.subinterval_cs == 0) {
        demand_end_subinterval(m);
        m->events |= MTR_EV_SYNC;
    }
    if (pend & PEND_MAXDEM) {
        float kw = m->dem[0], kvar = m->dem[1], kva = m->dem[2];
        float *mx = m->nv.max_dem;
        mx[0] = kw > 0 ? kw : 0, mx[3] = kw < 0 ? -kw : 0;
        mx[1] = kvar > 0 ? kvar : 0, mx[4] = kvar < 0 ? -kvar : 0;
        mx[2] = kw >= 0 ? kva : 0, mx[5] = kw < 0 ? kva : 0;
    }
    if (pend & PEND_PULSES)
        m->nv.pulses = 0;
}

static void publish_registers(mtr_t *m)
{
    float *ai = m->ai;
    const mtr_energy_t *e = m->nv.e;
    for (int p = -1; p < 3; p++) {
        const mtr_energy_t *r = &e[p < 0 ? 0 : MTR_E_PER_PHASE * (1 + p)];
        if (p < 0) {
            ai[MTR_AI_KWH_NET] = energy_diff_kwh(&r[MTR_E_KWH_IMP], &r[MTR_E_KWH_EXP]);
            ai[MTR_AI_KWH_IMP] = mtr_energy_kwhf(&r[MTR_E_KWH_IMP]);
            ai[MTR_AI_KWH_EXP] = mtr_energy_kwhf(&r[MTR_E_KWH_EXP]);
            for (int q = 0; q < 4; q++)
                ai[MTR_AI_KVARH_Q1 + q] = mtr_energy_kwhf(&r[MTR_E_KVARH_Q1 + q]);
            ai[MTR_AI_KVAH_NET] = energy_diff_kwh(&r[MTR_E_KVAH_IMP], &r[MTR_E_KVAH_EXP]);
            ai[MTR_AI_KVAH_IMP] = mtr_energy_kwhf(&r[MTR_E_KVAH_IMP]);
            ai[MTR_AI_KVAH_EXP] = mtr_energy_kwhf(&r[MTR_E_KVAH_EXP]);
        } else {
            ai[MTR_AI_KWH_IMP_A + p] = mtr_energy_kwhf(&r[MTR_E_KWH_IMP]);
            ai[MTR_AI_KWH_EXP_A + p] = mtr_energy_kwhf(&r[MTR_E_KWH_EXP]);
            for (int q = 0; q < 4; q++)
                ai[MTR_AI_KVARH_Q1_A + 3 * q + p] = mtr_energy_kwhf(&r[MTR_E_KVARH_Q1 + q]);
            ai[MTR_AI_KVAH_IMP_A + p] = mtr_energy_kwhf(&r[MTR_E_KVAH_IMP]);
            ai[MTR_AI_KVAH_EXP_A + p] = mtr_energy_kwhf(&r[MTR_E_KVAH_EXP]);
        }
    }
    const float *dem = m->dem, *mx = m->nv.max_dem;
    ai[MTR_AI_KW_DEM] = dem[0], ai[MTR_AI_KVAR_DEM] = dem[1], ai[MTR_AI_KVA_DEM] = dem[2];
    for (int k = 0; k < 6; k++)
        ai[MTR_AI_KW_MAX_IMP + k] = mx[k];
    ai[MTR_AI_RESERVED28] = NAN;
    ai[MTR_AI_PULSES] = (float)m->nv.pulses;
    ai[MTR_AI_RESERVED30] = 0.0f;
    ai[MTR_AI_MAX_POWER] = mtr_max_power_kw(&m->cfg);
    ai[MTR_AI_RESERVED77] = NAN;
    ai[MTR_AI_ENERGY_RESETS] = (float)m->nv.energy_resets;
    ai[MTR_AI_RESERVED79] = NAN;
    ai[MTR_AI_RESERVED80] = NAN;
    ai[MTR_AI_POWER_UPS] = (float)m->nv.power_ups;
    ai[MTR_AI_OUTPUT_CONFIG] = 11.0f;
    ai[MTR_AI_ALARMS] = (float)m->alarms;
}

/* Reference for zero crossings and frequency: phase A to neutral, or A-B where the
 * system has no neutral (the "to reference" channel could be the reference itself). */
static bool ref_is_ab(uint8_t type)
{
    return type == 11 || type == 31;
}

/* A DC offset makes the voltage integrals ramp; only their covariance with the current
 * matters, so restart them at zero each second and shift the partial cycle's sums by
 * the same constant, which keeps the next window consistent. */
static void rebase_integrators(mtr_t *m, mtr_time_t now)
{
    float weight = tdiff(now, m->cyc_start);
    for (int p = 0; p < 3; p++) {
        float c = m->w[p];
        m->cyc.s[acc_idx(A_WI, p)] -= c * m->cyc.s[acc_idx(A_I, p)];
        m->cyc.s[acc_idx(A_W, p)] -= c * weight;
        m->w[p] = 0.0f;
    }
}

/* The stretch sums into the cycle's. */
static void part_flush(mtr_t *m)
{
    acc_add(&m->cyc, &m->part);
    memset(&m->part, 0, sizeof m->part);
    m->part_n = 0;
}

static void end_of_second(mtr_t *m)
{
    mtr_time_t now = {m->n, 0.0f};
    phase_vals_t pv;
    mtr_acc_t eacc;
    float d, dall, f;
    bool synced;
    int ref_idx = acc_idx(ref_is_ab(m->cfg.system_type) ? A_LL : A_VV, 0);
    part_flush(m);

    if (m->win_cycles > 0) {
        /* Whole cycles from win_start to the last crossing; pre holds energy before them. */
        d = tdiff(m->last_zc_t, m->win_start);
        f = m->win_cycles * (float)MTR_FS / d;
        m->f_last = f;
        synced = true;
        compute(m, &m->win, d, f, &pv);
        eacc = m->win;
        acc_add(&eacc, &m->pre);
        float d_pre = tdiff(m->win_start, m->pre_start);
        dall = d + d_pre;
        /* A partial cycle before the first crossing (not a longer dead stretch) is part of
         * the cycle the window's rate measures. */
        bool pre_at_rate = d_pre > 0 && d_pre <= 2.0f * d / m->win_cycles;
        span_t sp = {&eacc, pre_at_rate ? &m->pre : NULL, dall, pre_at_rate ? d_pre : 0.0f,
                     tdiff(now, m->last_zc_t)};
        float vref = sqrtf(m->win.s[ref_idx] / d);
        publish(m, &pv, &sp, f, synced, vref);
        memset(&m->win, 0, sizeof m->win);
        m->win_cycles = 0;
        m->win_start = m->last_zc_t;
    } else {
        /* No whole cycle this second (no voltage or far off frequency): a fixed window. */
        eacc = m->pre;
        acc_add(&eacc, &m->cyc);
        dall = tdiff(now, m->pre_start);
        f = m->f_last;
        compute(m, &eacc, dall, f, &pv);
        float vref = sqrtf(eacc.s[ref_idx] / dall);
        span_t sp = {&eacc, NULL, dall, 0.0f, 0.0f};
        publish(m, &pv, &sp, f, false, vref);
        memset(&m->cyc, 0, sizeof m->cyc);
        m->cyc_start = now;
        m->win_start = now;
        m->synced = false;
    }
    memset(&m->pre, 0, sizeof m->pre);
    m->pre_start = m->win_start;
    rebase_integrators(m, now);
    run_commands(m);
    publish_registers(m);
    m->cycles++;
}

/* dst takes cyc and the part alpha of a sample's products c; cyc restarts with the rest.
 * The products are interpolated linearly from the previous sample's (c0), not held
 * constant: a held sample puts an error of the order of the products' slope at each cut,
 * which whole cycles do not cancel (the cut falls at a different place in the sample
 * each time) and which reaches 1e-5 of a phase's energy at 45.7 Hz. The weight alpha
 * of a constant is kept, and so are the sample counts the windows' durations use. */
static inline void split_sums(float *restrict dst, float *restrict cyc, const float *restrict c,
                       const float *restrict c0, float alpha)
{
    float a1 = 0.5f * alpha * (1.0f + alpha), a0 = 0.5f * alpha * (1.0f - alpha);
    for (int k = 0; k < MTR_NACC; k++) {
        float x = a1 * c[k] + a0 * c0[k];
        dst[k] += cyc[k] + x;
        cyc[k] = c[k] - x;
    }
}

/* A positive-going crossing at time t, inside the current sample whose products are c
 * (alpha of it lies before the crossing). cyc already holds everything before it. */
static void zero_crossing(mtr_t *m, const float *c, const float *c0, float alpha, mtr_time_t t)
{
    if (m->synced) {
        split_sums(m->win.s, m->cyc.s, c, c0, alpha);
        m->win_cycles++;
    } else {
        /* First crossing after an unsynchronized stretch: energy only. */
        split_sums(m->pre.s, m->cyc.s, c, c0, alpha);
        m->win_start = t;
        m->synced = true;
    }
    m->cyc_start = t;
    m->last_zc_t = t;
}

/* The reference low-pass (Butterworth, b2 == b0) for clean crossings. */
static inline float lowpass(const mtr_t *m, float r, float x1, float x2, float y1, float y2)
{
    const float b0 = m->lp[LP_X2].c, b1 = m->lp[LP_X1].c, a1 = m->lp[LP_Y1].c, a2 = m->lp[LP_Y2].c;
    return b0 * (r + x2) + b1 * x1 - a1 * y1 - a2 * y2;
}

/* Phase A's voltage: to neutral, or A-B for type 11 (the load sees A-B). */
static inline float phase_a_volts(float va, float vb, float kb)
{
    return va - kb * vb;
}

/* The per-sample work runs in stretches between accepted zero crossings, in two passes
 * over the same samples, each small enough for its sums to stay in registers; neither
 * has a branch per sample but the first pass's exit. The passes sum into m->part, which
 * goes into the cycle's sums at each crossing, at the end of each 1 s cycle and every
 * PART_MAX samples: a float sum then rounds over a few dozen terms, not over a whole
 * second when no crossing comes (no voltage, DC), which would cost up to 5e-6 of the
 * reading. Where the sums are cut depends on the samples alone, not on how the caller
 * splits them into calls, so any chunking gives the same results to the last bit. */

/* Pass one: the reference filter and phase A, up to the first sample that holds an
 * accepted crossing, which it leaves unconsumed; returns the count consumed. */
static size_t run_ref_a(mtr_t *m, const mtr_frame_t *x, size_t n, bool ref_ab)
{
    const float kb = m->cfg.system_type == 11 ? 1.0f : 0.0f;
    float *a = &m->part.s[S_A];
    float sq[2] = {a[A_VV], a[A_II]}, xw[2] = {a[A_VI], a[A_WI]}, su[2] = {a[A_W], a[A_I]};
    float w = m->w[0], pv = m->vprev[0];
    float x1 = m->lp[LP_X1].z, x2 = m->lp[LP_X2].z, y1 = m->lp[LP_Y1].z, y2 = m->lp[LP_Y2].z;
    bool armed = m->armed;
    uint64_t since = m->n - m->last_zc_n;
    size_t hold = since >= ZC_HOLDOFF ? 0 : (size_t)(ZC_HOLDOFF - since);
    size_t k;
    for (k = 0; k < n; k++) {
        const float *s = x[k];
        float va = s[MTR_VA], vb = s[MTR_VB], i = s[MTR_IA];
        float r = ref_ab ? va - vb : va;
        float y = lowpass(m, r, x1, x2, y1, y2);
        if ((y >= 0) & (y1 < 0) && armed && k >= hold)
            break;
        x2 = x1, x1 = r, y2 = y1, y1 = y;
        armed |= y < -ZC_HYST;
        float v = phase_a_volts(va, vb, kb);
        w += 0.5f * (v + pv), pv = v;
        /* Phase A's six sums as three rows of two: half the registers. */
        float p[2] = {v, i}, q[2] = {v, w}, u[2] = {w, i};
        for (int l = 0; l < 2; l++)
            sq[l] += p[l] * p[l], xw[l] += q[l] * i, su[l] += u[l];
    }
    a[A_VV] = sq[0], a[A_II] = sq[1], a[A_VI] = xw[0], a[A_WI] = xw[1];
    a[A_W] = su[0], a[A_I] = su[1];
    m->w[0] = w, m->vprev[0] = pv;
    m->lp[LP_X1].z = x1, m->lp[LP_X2].z = x2, m->lp[LP_Y1].z = y1, m->lp[LP_Y2].z = y2;
    m->armed = armed;
    return k;
}

/* Pass two: phases B and C as the two lanes of each row, and the line-to-line squares. */
static void run_bc_ll(mtr_t *m, const mtr_frame_t *x, size_t n)
{
    float *b = &m->part.s[S_BC];
    float vv[2], ii[2], vi[2], wi[2], sw[2], si[2], ll[2], w[2], pv[2];
    for (int l = 0; l < 2; l++) {
        vv[l] = b[2 * A_VV + l], ii[l] = b[2 * A_II + l], vi[l] = b[2 * A_VI + l];
        wi[l] = b[2 * A_WI + l], sw[l] = b[2 * A_W + l], si[l] = b[2 * A_I + l];
        ll[l] = m->part.s[S_LL + l], w[l] = m->w[1 + l], pv[l] = m->vprev[1 + l];
    }
    float ca = m->part.s[S_LL + 2];
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
        b[2 * A_VV + l] = vv[l], b[2 * A_II + l] = ii[l], b[2 * A_VI + l] = vi[l];
        b[2 * A_WI + l] = wi[l], b[2 * A_W + l] = sw[l], b[2 * A_I + l] = si[l];
        m->part.s[S_LL + l] = ll[l], m->w[1 + l] = w[l], m->vprev[1 + l] = pv[l];
    }
    m->part.s[S_LL + 2] = ca;
}

/* One sample set's products, with w its voltage integrals. */
static inline void products(const mtr_t *m, const float *s, const float *w, float *c)
{
    float va = s[MTR_VA], vb = s[MTR_VB], vc = s[MTR_VC];
    float vp[3] = {phase_a_volts(va, vb, m->cfg.system_type == 11 ? 1.0f : 0.0f), vb, vc};
    float ll[3] = {va - vb, vb - vc, vc - va};
    for (int p = 0; p < 3; p++) {
        float v = vp[p], i = s[MTR_IA + p];
        c[acc_idx(A_VV, p)] = v * v, c[acc_idx(A_II, p)] = i * i, c[acc_idx(A_VI, p)] = v * i;
        c[acc_idx(A_WI, p)] = w[p] * i, c[acc_idx(A_W, p)] = w[p], c[acc_idx(A_I, p)] = i;
        c[acc_idx(A_LL, p)] = ll[p] * ll[p];
    }
}

/* The sample that holds an accepted crossing (prev: the set before it): its products
 * split at the crossing. */
static void crossing_sample(mtr_t *m, const float *s, const float *prev)
{
    float va = s[MTR_VA], vb = s[MTR_VB];
    float c[MTR_NACC], c0[MTR_NACC];
    c[15] = c0[15] = 0.0f; /* the padding slot */
    products(m, prev, m->w, c0);
    for (int p = 0; p < 3; p++) {
        float v = p ? s[MTR_VA + p] : phase_a_volts(va, vb, m->cfg.system_type == 11 ? 1.0f : 0.0f);
        m->w[p] += 0.5f * (v + m->vprev[p]), m->vprev[p] = v;
    }
    products(m, s, m->w, c);
    float r = ref_is_ab(m->cfg.system_type) ? va - vb : va;
    float x1 = m->lp[LP_X1].z, x2 = m->lp[LP_X2].z, y1 = m->lp[LP_Y1].z, y2 = m->lp[LP_Y2].z;
    float y = lowpass(m, r, x1, x2, y1, y2);
    float alpha = -y1 / (y - y1);
    zero_crossing(m, c, c0, alpha, (mtr_time_t){m->n, alpha});
    m->armed = false;
    m->last_zc_n = m->n;
    m->lp[LP_X1].z = r, m->lp[LP_X2].z = x1, m->lp[LP_Y1].z = y, m->lp[LP_Y2].z = y1;
    m->n++;
}

size_t mtr_feed(mtr_t *m, mtr_frame_t *x, size_t n, bool *cycle)
{
    size_t todo = n < m->tick_left ? n : m->tick_left;
    const mtr_frame_t *in = (const mtr_frame_t *)x;
    bool ref_ab = ref_is_ab(m->cfg.system_type);
    if (cycle)
        *cycle = false;
    for (size_t k = 0; k < todo;) {
        size_t room = MTR_PART_MAX - m->part_n;
        size_t span = todo - k < room ? todo - k : room;
        size_t run = run_ref_a(m, in + k, span, ref_ab);
        run_bc_ll(m, in + k, run);
        m->n += run;
        m->part_n += (uint8_t)run;
        k += run;
        if (run == room)
            part_flush(m);
        if (run < span) { /* stopped at a crossing */
            part_flush(m);
            crossing_sample(m, in[k], k > 0 ? in[k - 1] : m->last);
            k++;
        }
    }
    if (todo > 0)
        memcpy(m->last, in[todo - 1], sizeof m->last);
    m->tick_left -= (uint32_t)todo;
    pulse_check(m);
    if (m->tick_left == 0) {
        end_of_second(m);
        m->tick_left = MTR_FS;
        if (cycle)
            *cycle = true;
    }
    return todo;
}
