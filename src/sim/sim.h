/*
 * s4100 simulated analog front end (host side).
 *
 * A source produces PRIMARY-side frames (volts to neutral or to the common reference,
 * amps in the conductor) at MTR_FS: either a synthesized scenario (docs/scenarios.md)
 * or a replayed recording (6-channel WAV, or CSV). sim_afe then turns them into what the
 * meter's ADCs see. Sources are heap objects; there is no global state, so any number
 * of them can run side by side.
 */
#ifndef S4100_SIM_H
#define S4100_SIM_H

#include "metering/mtr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return codes: 0 ok, negative error (sim_err_t then says what and where). */
enum {
    SIM_OK = 0,
    SIM_EIO = -1,     /* a file cannot be opened or read */
    SIM_ESYNTAX = -2, /* a malformed line, number or word */
    SIM_ERANGE = -3,  /* a value outside its sane range, or settings that contradict */
    SIM_EKEY = -4,    /* an unknown section or key */
    SIM_ENOMEM = -5,
    SIM_EARG = -6,    /* a bad argument, or an operation the source does not support */
};

typedef struct sim_source sim_source_t; /* opaque; sim_open_* allocate, sim_close frees */

/* A human message naming the file, line or frame and what is wrong,
 * e.g. "rec.csv: line 812: expected 6 numbers, got 5". */
typedef struct {
    char msg[256];
} sim_err_t;

/* Open a source. On error *out is NULL and err (may be NULL) is filled. */
int sim_open_scenario(sim_source_t **out, const char *path, sim_err_t *err);
int sim_open_wav(sim_source_t **out, const char *path, sim_err_t *err);
int sim_open_csv(sim_source_t **out, const char *path, sim_err_t *err);

/* Fill up to n frames of primary-side volts and amps at MTR_FS. Returns the frames
 * written, 0 at the end of a recording (a scenario never ends), negative on error.
 * pulse may be NULL; else it receives the pulse-input contact state per frame
 * (1 closed; recordings have no pulse input and give 0). */
long sim_read(sim_source_t *s, mtr_frame_t *out, uint8_t *pulse, size_t n, sim_err_t *err);

void sim_close(sim_source_t *s); /* NULL is fine */

/* The [meter] settings of a scenario, so a scenario is self-contained: fills the fields
 * the file set (others untouched) and returns true if it set any. */
bool sim_scenario_meter(const sim_source_t *s, mtr_config_t *cfg);

/* Change a live scenario parameter, with the keys and values of the [signal] section
 * (e.g. "current_b", "40"; "frequency", "50.5"; "direction", "export"). sim_set_ramp
 * moves numeric parameters linearly to the value over the given seconds of signal
 * time (0: at once). Takes effect from the next frame. SIM_EARG on a recording. */
int sim_set(sim_source_t *s, const char *key, const char *value, sim_err_t *err);
int sim_set_ramp(sim_source_t *s, const char *key, const char *value, double seconds,
                 sim_err_t *err);

/* Seconds of signal produced so far (frames read / MTR_FS). */
double sim_time(const sim_source_t *s);

/* Primary-side frames -> terminal-side frames as the ADC sees them, in place:
 * volts / pt_ratio, amps / ct_primary * secondary full scale (1 V when ct_secondary
 * is 1, 1/3 V when 3), then clip at +-MTR_ADC_V_PEAK volts and
 * +-MTR_ADC_I_PEAK_FS x full scale. cfg must hold a valid configuration. */
void sim_afe(const mtr_config_t *cfg, mtr_frame_t *x, size_t n);

#endif
