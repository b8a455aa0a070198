/*
 * The synthetic load. scenarios/default.ini's [signal] section, read by hand into the
 * numbers below (the firmware has no file system): 60 Hz; 277 / 276 / 278.5 V; 40 / 37 /
 * 40 A at PF 0.92 inductive; a 1.5 % 5th harmonic in the voltages, 6 % 5th and 3 % 7th
 * in the currents, each at h times its fundamental's angle (src/sim/synth.c); a pulse
 * every 4 s, 100 ms long. Its 0.02 % noise is left out (the readings it moves are below
 * the comparison's tolerance), and so are the scenario's events: the firmware stays on
 * the first hours' load.
 */
#include <math.h>
#include <string.h>

#include "gen.h"

#define TWO_PI 6.28318530718f
#define DEG 0.0174532925199f

static const float v_rms[3] = {277.0f, 276.0f, 278.5f};
static const float i_rms[3] = {40.0f, 37.0f, 40.0f};
static const float v_angle[3] = {0.0f, -120.0f, 120.0f};
static const float pf = 0.92f;

static void add_term(gen_chan_t *c, uint8_t h, float peak, float angle_rad)
{
    c->h[c->nt] = h;
    c->amp[c->nt] = peak;
    c->phase[c->nt] = angle_rad;
    c->nt++;
}

void gen_default(gen_t *g, const mtr_config_t *cfg)
{
    memset(g, 0, sizeof *g);
    g->freq = 60.0f;
    const float kv = 1.0f / cfg->pt_ratio;
    const float ki = (cfg->ct_secondary == 3 ? 1.0f / 3.0f : 1.0f) / cfg->ct_primary;
    const float load = acosf(pf); /* the current lags: inductive */
    for (int k = 0; k < 3; k++) {
        float va = v_angle[k] * DEG, ia = va - load;
        gen_chan_t *v = &g->ch[MTR_VA + k], *i = &g->ch[MTR_IA + k];
        float vp = sqrtf(2.0f) * v_rms[k] * kv, ip = sqrtf(2.0f) * i_rms[k] * ki;
        add_term(v, 1, vp, va);
        add_term(v, 5, vp * 0.015f, 5.0f * va);
        add_term(i, 1, ip, ia);
        add_term(i, 5, ip * 0.06f, 5.0f * ia);
        add_term(i, 7, ip * 0.03f, 7.0f * ia);
    }
    for (unsigned h = 1; h <= GEN_TERMS * 4; h++) {
        float w = TWO_PI * g->freq * (float)h / (float)MTR_FS;
        g->rot_re[h - 1] = cosf(w);
        g->rot_im[h - 1] = sinf(w);
    }
    g->pulse_period = 4u * MTR_FS;
    g->pulse_len = MTR_FS / 10u;
}

/* One channel's n samples into column c of x: each term's phasor anchored at the
 * block's start, then turned sample by sample; the sample is its imaginary part. */
static void fill_chan(const gen_t *g, const gen_chan_t *ch, mtr_frame_t *x, int c, uint32_t n)
{
    float re[GEN_TERMS], im[GEN_TERMS], rr[GEN_TERMS], ri[GEN_TERMS];
    for (unsigned t = 0; t < ch->nt; t++) {
        float a = TWO_PI * g->cyc * (float)ch->h[t] + ch->phase[t];
        re[t] = ch->amp[t] * cosf(a);
        im[t] = ch->amp[t] * sinf(a);
        rr[t] = g->rot_re[ch->h[t] - 1];
        ri[t] = g->rot_im[ch->h[t] - 1];
    }
    for (uint32_t s = 0; s < n; s++) {
        float y = 0.0f;
        for (unsigned t = 0; t < ch->nt; t++) {
            y += im[t]; /* sin(h theta + phase), as synth.c: a cos would invert the 7th */
            float nr = re[t] * rr[t] - im[t] * ri[t];
            im[t] = re[t] * ri[t] + im[t] * rr[t];
            re[t] = nr;
        }
        x[s][c] = y;
    }
}

void gen_fill(gen_t *g, mtr_frame_t *x, uint8_t *pulse, uint32_t n)
{
    for (int c = 0; c < MTR_NCH; c++)
        fill_chan(g, &g->ch[c], x, c, n);
    for (uint32_t s = 0; s < n; s++)
        pulse[s] = g->pulse_period && (g->n + s) % g->pulse_period < g->pulse_len;
    g->n += n;
    g->cyc += g->freq * (float)n / (float)MTR_FS;
    g->cyc -= floorf(g->cyc);
}
