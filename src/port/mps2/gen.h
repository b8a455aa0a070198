/*
 * The firmware's stand-in for the analog front end: three voltages and three currents
 * synthesised on target in single precision, as the meter's ADC would deliver them
 * (terminal side, through the CT/PT scaling), with the pulse input's contact. Each
 * harmonic term is a phasor turned by a fixed rotation every sample: no sin() per
 * sample, one cosf/sinf pair per term and block to re-anchor it exactly.
 *
 * The load is the steady [signal] part of scenarios/default.ini, the host's default for
 * `s4100 run` (see gen.c), so the firmware and the host read the same until that
 * scenario's first event (5:00 scenario time: 125 s of meter time).
 */
#ifndef S4100_MPS2_GEN_H
#define S4100_MPS2_GEN_H

#include <stdint.h>

#include "metering/mtr.h"

#define GEN_TERMS 3 /* per channel: the fundamental and up to two harmonics */

typedef struct {
    uint8_t nt;
    uint8_t h[GEN_TERMS];
    float amp[GEN_TERMS];   /* peak, terminal side */
    float phase[GEN_TERMS]; /* radians at the start of a line cycle */
} gen_chan_t;

typedef struct {
    float freq;              /* Hz */
    float cyc;               /* where the line cycle is, 0..1, at the next sample */
    uint32_t n;              /* sample sets made */
    uint32_t pulse_period;   /* sets between pulses (0: none) */
    uint32_t pulse_len;      /* sets the contact stays closed */
    gen_chan_t ch[MTR_NCH];
    float rot_re[GEN_TERMS * 4], rot_im[GEN_TERMS * 4]; /* e^(j h w / fs) by order h-1 */
} gen_t;

/* The default scenario's load, scaled as the ADC sees it under cfg (CT/PT). */
void gen_default(gen_t *g, const mtr_config_t *cfg);
/* The next n sample sets (pulse: the contact per set, 1 closed). */
void gen_fill(gen_t *g, mtr_frame_t *x, uint8_t *pulse, uint32_t n);

#endif
