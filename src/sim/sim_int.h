/*
 * Internals shared by the files of src/sim (not part of the API: include sim.h).
 */
#ifndef S4100_SIM_INT_H
#define S4100_SIM_INT_H

#include "sim.h"

#include <stdio.h>

#define SIM_HMAX 50 /* highest harmonic order a scenario may set */

/* The hot vector loops are also built for AVX2 and picked when the CPU has it (GCC's
 * function multi-versioning). The same operations, no FMA: results identical to the
 * bit, only twice as many lanes. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SIM_HOT __attribute__((target_clones("avx2", "default")))
#else
#define SIM_HOT
#endif
/* Rare paths kept out of the hot loops that call them. */
#if defined(__GNUC__)
#define SIM_COLD __attribute__((noinline, cold))
#else
#define SIM_COLD
#endif

#define SIM_PI 3.14159265358979323846

/* The live parameters of the synthesizer: what a scenario's keys set. Angles in
 * degrees, RMS volts/amps primary, harmonics in % of the fundamental. Plain data, so
 * a loop can restore the start state with one assignment. */
typedef struct {
    double v[3], vang[3];   /* RMS voltage and its angle, per phase */
    double i[3], ang[3];    /* RMS current and load angle (+ = current lags) */
    bool cap[3];            /* pf_type: capacitive (leading) */
    bool exp[3];            /* direction: export (current reversed) */
    double vh[3][SIM_HMAX + 1], vhph[3][SIM_HMAX + 1];
    double ih[3][SIM_HMAX + 1], ihph[3][SIM_HMAX + 1];
    int hmax;               /* highest order ever set, bounds the per-sample scan */
    double dcv[3], dci[3];  /* DC offsets, volts / amps primary */
    double freq;            /* Hz; the drift ramp moves it */
    bool acb;               /* sequence acb: every voltage angle mirrored */
    int drift;              /* SIM_DRIFT_* */
    double drift_rate, drift_min, drift_max;
    double wob_amp, wob_period;
    double noise_v, noise_i;     /* % of nominal, sigma of Gaussian noise */
    double nominal_v, nominal_i; /* the "nominal" of the noise */
    double pulse_rate;           /* pulses/s, 0 none */
    double pulse_width;          /* ms */
} sim_params_t;

enum { SIM_DRIFT_NONE, SIM_DRIFT_RAMP, SIM_DRIFT_WOBBLE };

/* One parsed key = value: which parameter, which phases, the value (enums as 0/1/2). */
typedef struct {
    uint8_t key;
    uint8_t phases; /* bit 0..2: A..C */
    uint8_t h;      /* harmonic order for the harmonic keys */
    double x;
} sim_action_t;

typedef struct {
    uint64_t n, ramp_n; /* start, in samples from the start of the timeline; ramp length */
    size_t a0, na;      /* its actions: act[a0 .. a0+na) */
    int line;
} sim_event_t;

typedef struct {
    double *p; /* into sim_synth_t.cur, which never moves */
    double from, to;
    uint64_t n0, n1;
} sim_ramp_t;

#define SIM_MAX_RAMPS (sizeof(sim_params_t) / sizeof(double))

/* Rendering (synth.c). Phases are fixed point, cycles x 2^64, so they wrap exactly and
 * h x phase is an integer product: nothing drifts however long a source runs. Between
 * two changes of the parameters (an event, a live change, a ramp's end, a loop wrap)
 * every parameter is linear in the sample index, so each channel is
 *     base(n) x sum over terms of rel(n) sin(2 pi (h Phi(n) + psi(n))) + dc(n) + sig(n) g(n)
 * with base, rel, dc, sig and psi linear from the anchor sample. Blocks of SIM_BLK
 * samples take one exact cis per term at the block start and multiply it with a table
 * of cis(h (Phi(n0 + j) - Phi(n0)) + j dpsi), j < SIM_BLK: made once while the frequency
 * is constant, per block while it moves. */
#define SIM_BLK 64
#define SIM_NTERM (MTR_NCH * SIM_HMAX) /* the fundamental and orders 2..SIM_HMAX */
#define SIM_QBITS 12                   /* the noise: 2^12 equiprobable cells */
#define SIM_QN (1u << SIM_QBITS)

typedef struct {
    uint64_t psi, dpsi; /* angle at the anchor and its step per sample */
    double rel, drel;   /* amplitude relative to the fundamental's, and its step */
    uint16_t h, tab;    /* order; its table */
} sim_term_t;

typedef struct {
    double base, dbase; /* the fundamental's peak (signed: export), and its step */
    double dc, ddc, sig, dsig;
    uint16_t t0, nt;    /* its terms: term[t0 .. t0+nt) */
} sim_chan_t;

typedef struct {
    uint64_t dpsi, inc; /* key (h, dpsi); inc: the phase step the table was made for */
    uint16_t h;
    bool used, fresh;   /* fresh: holds the constant-frequency table for inc */
} sim_tabkey_t;

typedef struct {
    uint64_t s[4]; /* xoshiro256++ */
} sim_rng_t;

typedef struct {
    sim_params_t init, cur;
    uint8_t mask; /* phases the bare (un-suffixed) keys set, from the system type */

    sim_action_t *act;
    size_t nact, capact;
    sim_event_t *ev;
    size_t nev, capev;
    uint64_t loop_n; /* 0: the timeline runs once */

    uint64_t n;   /* index of the next frame */
    uint64_t tl0; /* frame where the current pass of the timeline began */
    size_t next_ev;
    sim_ramp_t ramp[SIM_MAX_RAMPS];
    size_t nramp;

    uint64_t ph;     /* phase of the fundamental at frame n, cycles x 2^64 */
    double f_cur;    /* effective frequency at frame n */
    uint64_t i_cur;  /* ... as a phase step per frame */
    uint64_t wob_ph; /* wobble phase, cycles x 2^64 */
    int drift_dir, drift_last;

    sim_rng_t rng, rng_slow; /* the noise; the rare draws of its tails */

    double pulse_rate_last, pulse_next;
    uint64_t pulse_last;
    bool pulse_any, pulse_closed;

    mtr_config_t meter;
    unsigned meter_set; /* bit per mtr_setting_t id present in [meter] */

    /* Rendering: the linear forms from the anchor, rebuilt when dirty. */
    bool dirty;
    uint64_t anchor;
    sim_chan_t chan[MTR_NCH];
    sim_term_t term[SIM_NTERM];
    size_t nterm;
    sim_tabkey_t key[SIM_NTERM];
    size_t nkey;
    uint16_t kused[SIM_NTERM];
    size_t nkused;
    /* The current span: how the phase moves, the pulse train in whole frames. */
    bool vary;              /* the frequency moves: phases sample by sample */
    const sim_ramp_t *fr;   /* a ramp on the frequency, or NULL */
    uint64_t inc, wob_inc;  /* phase steps while constant */
    uint64_t pnext_n, pw_n; /* next pulse at frame >= pnext_n; closed for pw_n frames */
    /* Constant tables and scratch. */
    double cis[256][2];
    float qmean[SIM_QN]; /* the mean of N(0, 1) in each cell */
    double qtail;        /* where the two outer cells begin */
    double jd[SIM_BLK];
    uint64_t dph[SIM_BLK];
    /* The noise of the aligned block gblk (frames gblk x SIM_BLK ...), per channel:
     * drawn whole when first needed, so the draws do not depend on how reads split. */
    uint64_t gblk;
    double g[(MTR_NCH + 1) * SIM_BLK]; /* channel c at c x SIM_BLK; room past the end */
    double cr[SIM_NTERM], ci[SIM_NTERM]; /* each term's cis at the block's start */
    double acc[SIM_BLK];
    float x[MTR_NCH][SIM_BLK];
    double tab[SIM_NTERM][2][SIM_BLK]; /* cos, sin */
} sim_synth_t;

typedef struct sim_replay sim_replay_t;

/* replay.c's line helpers, for the readers of text recordings (CSV, COMTRADE): a field
 * trimmed of blanks and a trailing CR, in place; a line split at commas in place, each
 * field trimmed; returns the field count (fields beyond max are counted, not stored). */
char *sim_trim(char *s);
int sim_split(char *s, char **f, int max);

enum { SIM_SRC_SCENARIO, SIM_SRC_REPLAY };

struct sim_source {
    int kind;
    uint64_t frames; /* frames handed out */
    sim_synth_t *syn;
    sim_replay_t *rep;
};

/* err may be NULL. */
void sim_errf(sim_err_t *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Case-insensitive ASCII compare (no locale). */
int sim_strcaseeq(const char *a, const char *b);
/* A whole string as a finite double (surrounding blanks allowed). */
bool sim_parse_double(const char *s, double *x);

/* synth.c */
void sim_synth_defaults(sim_params_t *p, uint8_t system_type, uint8_t *mask);
int sim_key_parse(const char *name, const char *value, uint8_t mask, sim_action_t *a,
                  char *msg, size_t msgsz);
bool sim_key_rampable(const sim_action_t *a);
/* Apply to p; y non-NULL: p is y->cur and numeric changes ramp over ramp_n samples. */
void sim_action_apply(sim_params_t *p, const sim_action_t *a, sim_synth_t *y, uint64_t ramp_n);
int sim_params_check(const sim_params_t *p, char *msg, size_t msgsz);
void sim_synth_start(sim_synth_t *y, uint64_t seed);
void sim_synth_fill(sim_synth_t *y, mtr_frame_t *out, uint8_t *pulse, size_t n);

/* scenario.c */
int sim_scenario_parse(sim_synth_t *y, FILE *f, const char *path, sim_err_t *err);

/* replay.c */
/* A decoder's frames for the replay: pull writes up to n frames (6 floats each, at the
 * rate given) and returns how many, 0 at the end, negative with err filled on error.
 * The replay owns ctx from the call on (pull_free releases it, also on failure); path
 * names the recording in messages. */
typedef long (*sim_pull_fn)(void *ctx, float *dst, size_t n, sim_err_t *err);
int sim_open_pull(sim_source_t **out, const char *path, double rate, sim_pull_fn pull,
                  void (*pull_free)(void *ctx), void *ctx, sim_err_t *err);
long sim_replay_read(sim_replay_t *r, mtr_frame_t *out, size_t n, sim_err_t *err);
void sim_replay_free(sim_replay_t *r);

#endif
