/*
 * s4100 metering engine: six sampled channels in, the Series 4100 Full Data Set out.
 *
 * Portable core: no heap, no OS calls, no stdio. One mtr_t per meter, owned by the
 * caller (static, stack or a larger context struct); every call takes it.
 *
 * Samples are terminal-side values, as the meter's ADC sees them: volts at the voltage
 * terminals (to neutral, or to the meter's common reference for systems without one)
 * and volts at the CT inputs. The engine scales them to the primary side with the
 * PT ratio (AV5) and CT primary/secondary (AV3/AV4). See docs/metering.md.
 */
#ifndef S4100_MTR_H
#define S4100_MTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MTR_FS 2520u /* samples per second per channel */

enum { MTR_VA, MTR_VB, MTR_VC, MTR_IA, MTR_IB, MTR_IC, MTR_NCH };

/* One sample set: the six channels at one instant. */
typedef float mtr_frame_t[MTR_NCH];

/* Front-end limits (terminal side). Over-range is +20 % of the UL maximum. */
#define MTR_V_LN_MAX 347.0
#define MTR_V_LL_MAX 600.0
#define MTR_OVER_RANGE 1.2
/* ADC model: the converters saturate at crest factor 2 of the over-range level. */
#define MTR_ADC_V_PEAK (MTR_V_LN_MAX * MTR_OVER_RANGE * 2.0) /* 832.8 V */
#define MTR_ADC_I_PEAK_FS (MTR_OVER_RANGE * 2.0)              /* x CT secondary FS */

/* Return codes. */
enum {
    MTR_OK = 0,
    MTR_ERANGE = -1, /* a setting outside its allowed values */
    MTR_EARG = -2,   /* unknown setting or command */
};

/* Settings: the meter's Analog Value objects that the engine uses (AV2..AV11). */
typedef enum {
    MTR_SET_SYSTEM_TYPE = 2,   /* AV2: 10, 11, 12, 31, 40 */
    MTR_SET_CT_PRIMARY = 3,    /* AV3: 5..32000 A */
    MTR_SET_CT_SECONDARY = 4,  /* AV4: 1 (1 V) or 3 (1/3 V) */
    MTR_SET_PT_RATIO = 5,      /* AV5: 0.01..320 */
    MTR_SET_SYSTEM_VOLTAGE = 6,/* AV6: 82..660 x AV5, absolute 82..32000 V */
    MTR_SET_DISPLAY_UNITS = 7, /* AV7: 0 IEC, 1 IEEE (the engine only keeps it) */
    MTR_SET_PL_VOLTS = 8,      /* AV8: 1..99 % */
    MTR_SET_PL_IMBALANCE = 9,  /* AV9: 1..99 % */
    MTR_SET_SUBINTERVALS = 10, /* AV10: 1..6 */
    MTR_SET_SUBINTERVAL_LEN = 11, /* AV11: 0 or 1000..3276700 step 100 (1/100 s) */
} mtr_setting_t;

typedef struct {
    uint8_t system_type;
    float ct_primary;
    uint8_t ct_secondary;
    float pt_ratio;
    float system_voltage;
    uint8_t display_units;
    uint8_t pl_volts_pct;
    uint8_t pl_imbalance_pct;
    uint8_t subintervals;
    uint32_t subinterval_cs;
} mtr_config_t;

/* AV1 commands (DECISIONS M13); they take effect at the end of the next 1 s cycle. */
typedef enum {
    MTR_CMD_CLEAR_ENERGY = 30078,
    MTR_CMD_DEMAND_SYNC = 21211,
    MTR_CMD_MAX_DEMAND_RESET = 21212,
    MTR_CMD_CLEAR_PULSES = 16498,
} mtr_cmd_t;

/* What happened in the last cycle (m->events), for the layers above. */
enum { MTR_EV_SYNC = 1 /* a sync-to-comms sub-interval ended (AV1 = 21211, AV11 = 0) */ };

/* Analog Input instances whose Present_Value the engine produces (AI1..AI83). */
enum {
    MTR_AI_KWH_NET = 1, MTR_AI_KWH_IMP, MTR_AI_KWH_EXP,
    MTR_AI_KVARH_Q1, MTR_AI_KVARH_Q2, MTR_AI_KVARH_Q3, MTR_AI_KVARH_Q4,
    MTR_AI_KVAH_NET, MTR_AI_KVAH_IMP, MTR_AI_KVAH_EXP,
    MTR_AI_KW, MTR_AI_KVAR, MTR_AI_KVA, MTR_AI_PF,
    MTR_AI_VLL_AVG, MTR_AI_VLN_AVG, MTR_AI_I_AVG, MTR_AI_FREQ,
    MTR_AI_KW_DEM, MTR_AI_KVAR_DEM, MTR_AI_KVA_DEM,
    MTR_AI_KW_MAX_IMP, MTR_AI_KVAR_MAX_IMP, MTR_AI_KVA_MAX_IMP,
    MTR_AI_KW_MAX_EXP, MTR_AI_KVAR_MAX_EXP, MTR_AI_KVA_MAX_EXP,
    MTR_AI_RESERVED28, MTR_AI_PULSES, MTR_AI_RESERVED30,
    MTR_AI_KWH_IMP_A = 31, /* +phase: A, B, C */
    MTR_AI_KWH_EXP_A = 34,
    MTR_AI_KVARH_Q1_A = 37, /* Q1..Q4 x A..C: 37 + 3*(q-1) + phase */
    MTR_AI_KVAH_IMP_A = 49,
    MTR_AI_KVAH_EXP_A = 52,
    MTR_AI_KW_A = 55,
    MTR_AI_KVAR_A = 58,
    MTR_AI_KVA_A = 61,
    MTR_AI_PF_A = 64,
    MTR_AI_V_AB = 67, MTR_AI_V_BC, MTR_AI_V_AC,
    MTR_AI_V_AN = 70,
    MTR_AI_I_A = 73,
    MTR_AI_MAX_POWER = 76, MTR_AI_RESERVED77, MTR_AI_ENERGY_RESETS,
    MTR_AI_RESERVED79, MTR_AI_RESERVED80, MTR_AI_POWER_UPS, MTR_AI_OUTPUT_CONFIG,
    MTR_AI_ALARMS = 83,
    MTR_AI_COUNT = 83
};

/* Alert bits of AI83 / BI1..BI15 (BI n is bit n-1). */
enum {
    MTR_BI_VOLTS_ERR_A = 1, MTR_BI_VOLTS_ERR_B, MTR_BI_VOLTS_ERR_C,
    MTR_BI_CURR_ERR_A, MTR_BI_CURR_ERR_B, MTR_BI_CURR_ERR_C,
    MTR_BI_FREQ_ERR, MTR_BI_RESERVED8,
    MTR_BI_PHASE_LOSS_A, MTR_BI_PHASE_LOSS_B, MTR_BI_PHASE_LOSS_C,
    MTR_BI_LOW_PF_A, MTR_BI_LOW_PF_B, MTR_BI_LOW_PF_C,
    MTR_BI_RTC_RESET,
    MTR_BI_COUNT = 15
};
#define MTR_BIT(bi) (1u << ((bi) - 1))
/* Alerts that open the normally-closed alarm output (DECISIONS M17). */
#define MTR_ALARM_OUTPUT_MASK 0x3FFFu

/* An energy register: whole joules plus the fraction in fixed point, so that years of
 * one-second additions never drift (a float or double running sum would): every
 * addition is exact to 2^-32 J. */
typedef struct {
    int64_t j;
    uint32_t frac32; /* the fraction of a joule, in units of 2^-32 J */
} mtr_energy_t;

#define MTR_FRAC_ONE 4294967296.0f /* 2^32: frac32 per joule */

void mtr_energy_add(mtr_energy_t *e, float joules); /* joules >= 0 */
/* The register in kWh as a REAL, what AI1..AI83 show. */
float mtr_energy_kwhf(const mtr_energy_t *e);
/* The register in kWh in double, for host-side reports and checks. The core never calls
 * it (no double arithmetic on the target): it is inline so that no core object holds it. */
static inline double mtr_energy_kwh(const mtr_energy_t *e)
{
    return ((double)e->j + (double)e->frac32 / 4294967296.0) / 3.6e6;
}

/* Energy registers (NV). */
enum {
    MTR_E_KWH_IMP, MTR_E_KWH_EXP,
    MTR_E_KVARH_Q1, MTR_E_KVARH_Q2, MTR_E_KVARH_Q3, MTR_E_KVARH_Q4,
    MTR_E_KVAH_IMP, MTR_E_KVAH_EXP,
    MTR_E_PER_PHASE = 8, /* the eight above, per phase: MTR_E_PER_PHASE * (1 + phase) + k */
    MTR_E_COUNT = 32
};

/* What the engine keeps across power cycles (the NV set of AI1..AI83). */
typedef struct {
    mtr_energy_t e[MTR_E_COUNT];
    float max_dem[6]; /* kW, kVAR, kVA import; kW, kVAR, kVA export */
    uint32_t pulses;
    uint32_t energy_resets;
    uint32_t power_ups;
} mtr_nv_t;

/* Per-window sums (the quantities of mtr.c, and one slot of padding to an even count). */
#define MTR_NACC 22
typedef struct {
    float s[MTR_NACC];
} mtr_acc_t;

/* A time in samples since mtr_init: whole samples and the fraction (0..1) of one, so a
 * zero crossing keeps its sub-sample position however long the meter has run. */
typedef struct {
    uint64_t n;
    float frac;
} mtr_time_t;

/* A float sum with its running compensation (Kahan): long sums (demand over hours)
 * keep the precision of their terms. */
typedef struct {
    float s, c;
} mtr_ksum_t;

#define MTR_MAX_SUBINTERVALS 6
#define MTR_PART_MAX 60u /* samples per partial sum (divides MTR_FS) */

typedef struct {
    /* configuration */
    mtr_config_t cfg;
    float kv, ki; /* terminal -> primary scale for volts, amps */

    /* sample clock */
    uint64_t n;          /* samples consumed since init */
    uint32_t tick_left;  /* samples left in this 1 s cycle */

    /* per-sample state */
    float vprev[3], w[3]; /* quadrature integrators (trapezoid) */
    /* Zero-crossing low-pass: each delay (x[n-1], x[n-2], y[n-1], y[n-2]) with its
     * coefficient (b1, b2 == b0, a1, a2); no two delays side by side, which keeps
     * compilers from packing them into vectors that cost a shuffle per sample. */
    struct {
        float z, c;
    } lp[4];
    bool armed;
    uint64_t last_zc_n;
    mtr_frame_t last; /* the previous sample set: a crossing's split interpolates from it */

    /* windows: cyc since the last crossing, win whole cycles, pre energy-only; part the
     * samples not yet in cyc (at most MTR_PART_MAX, part_n of them) */
    mtr_acc_t cyc, win, pre, part;
    uint8_t part_n;
    mtr_time_t cyc_start, win_start, pre_start;
    mtr_time_t last_zc_t;
    uint32_t win_cycles;
    bool synced; /* win_start is a zero crossing */
    float f_last; /* last measured frequency (Hz), used for reactive scaling */

    /* demand */
    mtr_ksum_t sub_e[3], sub_t;   /* P, Q, S energies (J) and time (s) in this sub-interval */
    uint32_t sub_elapsed_s;
    float sub_avg[MTR_MAX_SUBINTERVALS][3];
    uint8_t sub_count, sub_next;
    float dem[3]; /* present demand kW, kVAR, kVA */
    bool dem_valid;

    /* pulse input */
    bool pulse_closed, pulse_counted;
    uint64_t pulse_since;

    /* pending AV1 commands (bit set) and RTC flag */
    uint8_t pending;
    bool rtc_reset;
    uint8_t events; /* MTR_EV_ bits of the last completed cycle */

    mtr_nv_t nv;
    /* Joules each register holds ahead of its whole line cycles: the partial cycle since
     * the last crossing, credited at the last 1 s tick and trued up at the next. */
    float e_ahead[MTR_E_COUNT];

    /* outputs of the last completed 1 s cycle */
    uint32_t cycles;            /* count of completed 1 s cycles */
    float ai[MTR_AI_COUNT + 1]; /* index = AI instance; [0] unused */
    uint32_t unreliable[3];     /* bit per AI instance: UNRELIABLE_OTHER */
    uint16_t alarms;            /* AI83 as bits */
} mtr_t;

/* Defaults as the datasheet: type 40, 100 A, 1 V, PT 1, 600 V, IEEE, 10 %, 25 %, 1, 90000. */
void mtr_config_default(mtr_config_t *cfg);

/* Check one setting against its range and the others (AV6 depends on AV5).
 * Returns MTR_OK, MTR_ERANGE or MTR_EARG; changes nothing. */
int mtr_setting_check(const mtr_config_t *cfg, mtr_setting_t id, float value);
/* Check, then store into cfg. */
int mtr_setting_set(mtr_config_t *cfg, mtr_setting_t id, float value);
float mtr_setting_get(const mtr_config_t *cfg, mtr_setting_t id);
/* Every field of a whole configuration in range. */
int mtr_config_check(const mtr_config_t *cfg);

/* Start a meter: a fresh engine with cfg and the NV state (NULL: all zero). */
void mtr_init(mtr_t *m, const mtr_config_t *cfg, const mtr_nv_t *nv);
/* Apply a configuration at run time: every field in range, AV6 only against its
 * absolute 82..32000 (its relation to AV5 is a write-time rule: mtr_setting_check).
 * Changing AV10/AV11 restarts demand. MTR_ERANGE changes nothing. */
int mtr_configure(mtr_t *m, const mtr_config_t *cfg);
/* Power-up bookkeeping: count it, flag the RTC reset (BI15). */
void mtr_power_up(mtr_t *m);
void mtr_rtc_synced(mtr_t *m);

/* Queue an AV1 command; it runs at the end of the next 1 s cycle. */
int mtr_command(mtr_t *m, uint32_t cmd);

/* Feed samples. Consumes up to n frames but stops right after a 1 s cycle completes:
 * returns the number consumed and sets *cycle when the readings were refreshed. */
size_t mtr_feed(mtr_t *m, mtr_frame_t *x, size_t n, bool *cycle); /* x is only read */

/* Pulse input contact state, effective from the next sample. A closure counts once
 * when it has lasted at least 20 ms. */
void mtr_pulse_input(mtr_t *m, bool closed);

/* Max_Power (AI76) for a configuration, in kW. */
float mtr_max_power_kw(const mtr_config_t *cfg);

/* Which inputs a system type uses: bit 0..2 phase A..C current/power phases. */
unsigned mtr_active_phases(uint8_t system_type);

/* A time in samples as a double, for host-side spans (the core works on differences). */
static inline double mtr_time_samples(mtr_time_t t)
{
    return (double)t.n + (double)t.frac;
}

static inline bool mtr_ai_unreliable(const mtr_t *m, unsigned ai)
{
    return ai <= MTR_AI_COUNT && (m->unreliable[ai / 32] >> (ai % 32) & 1u);
}

#endif
