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

/* COMTRADE (IEEE C37.111-1991/1999/2013; docs/scenarios.md): a .cfg with its .dat, or a
 * .cff. Which analog channel feeds each of Va Vb Vc Ia Ib Ic: per entry "" = by the
 * channel's phase id and unit, a channel number An or a ch_id, or "none" (zeros).
 * The part replayed: from `from` to `to` seconds after the trigger (negative: before
 * it); has_from/has_to false: from the first sample, to the last. */
typedef struct {
    char map[MTR_NCH][64];
    bool has_from, has_to;
    double from, to;
} sim_comtrade_opts_t;
/* Parse "va=3,ib=IB,ic=none" into o (entries not named are left as they are). */
int sim_comtrade_map(sim_comtrade_opts_t *o, const char *spec, sim_err_t *err);
/* Parse a window "FROM[,TO]" (seconds relative to the trigger; FROM may be "start",
 * TO "end") into o. */
int sim_comtrade_window(sim_comtrade_opts_t *o, const char *spec, sim_err_t *err);

/* What a recording says of its time. */
typedef struct {
    int rev;              /* 1991, 1999 or 2013 */
    char start[40];       /* first sample, "yyyy-mm-dd hh:mm:ss.ssssss" as the file gives it */
    char trigger[40];     /* the trigger, likewise */
    char time_code[8];    /* 2013: local time's offset from UTC ("-5h30"), else "" */
    int leap_second;      /* 2013: 0 none, 1 added, 2 removed, 3 unknown; -1 not given */
    int tmq;              /* 2013: time quality 0..15 (IEEE C37.118), -1 not given */
    double trigger_s;     /* the trigger, seconds after the first sample */
    double length_s;      /* the recording's length at MTR_FS, seconds */
    double from_s, to_s;  /* the part replayed, seconds after the first sample */
} sim_comtrade_info_t;

/* opt and info may be NULL (all automatic; no info). The whole file is read and
 * checked at open; a window outside the recording is an error. */
int sim_open_comtrade(sim_source_t **out, const char *path, const sim_comtrade_opts_t *opt,
                      sim_comtrade_info_t *info, sim_err_t *err);
/* One line for a person: the start, the trigger and the part replayed. */
void sim_comtrade_describe(const sim_comtrade_info_t *info, char *buf, size_t n);

/* Fill up to n frames of primary-side volts and amps at MTR_FS. Returns the frames
 * written, 0 at the end of a recording (a scenario never ends), negative on error.
 * pulse may be NULL; else it receives the pulse-input contact state per frame
 * (1 closed; recordings have no pulse input and give 0). */
long sim_read(sim_source_t *s, mtr_frame_t *out, uint8_t *pulse, size_t n, sim_err_t *err);

void sim_close(sim_source_t *s); /* NULL is fine */

/* The [meter] settings of a scenario, so a scenario is self-contained: fills the fields
 * the file set (others untouched) and returns true if it set any. */
bool sim_scenario_meter(const sim_source_t *s, mtr_config_t *cfg);
/* The [meter] keys the scenario gave: a bit per mtr_setting_t (0 for recordings). */
unsigned sim_scenario_meter_given(const sim_source_t *s);
/* The scenario's noise from another seed; only before the first read. 0, or -1 for a
 * recording or a source already read from. */
int sim_reseed(sim_source_t *s, uint64_t seed);

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

/* ------------------------------------------------------------------------------------
 * A virtual RS-485 bus for MS/TP (mstp_bus.c): meters (each a meter_t on an mstp_t,
 * meeting at net/net.h: its server answers through the node's upcall, its I-Am goes
 * down mstp_link; the bus, as the host, ticks the meter and applies the settings it
 * keeps to the node) and test masters on one simulated wire, in simulated
 * time (microseconds; nothing sleeps). Octets take 10 bit times at the bus's baud
 * rate; a node's frame starts after its turnaround (40 bit times after the last octet
 * it received) and after its previous frame; a transmitting node hears nothing;
 * octets that overlap another transmission are garbled (collisions); a bit error rate
 * flips data bits or breaks start/stop bits (framing errors). Every node is ticked
 * each millisecond. The bus watches the wire: token rotation, every reply's delay.
 */
#include "meter/meter.h"
#include "mstp/mstp.h"
#include "objects/obj.h"

typedef struct sim_bus sim_bus_t; /* opaque; heap */

#define SIM_BUS_MAX_NODES 64

typedef struct {
    uint64_t frames;          /* transmissions completed */
    uint64_t garbled_frames;  /* ... that did not decode as a frame on the wire */
    uint64_t octets, collision_octets, bit_errors, framing_errors;
    uint64_t busy_us;         /* wire time of all transmissions */
    uint64_t tokens, pfms;
    /* Token rotation: the time between two tokens sent by the same station. */
    uint64_t rotations, rotation_sum_us;
    uint32_t rotation_min_us, rotation_max_us;
    /* Requests (DER or Test_Request to a station) and their answers (DNER, Test_Response
     * or Reply Postponed to the requester): from the last octet of the request to the
     * first octet of the answer. Unanswered: the requester sent again first. */
    uint64_t requests, replies, postponed, unanswered;
    uint64_t reply_sum_us;
    uint32_t reply_max_us;
} sim_bus_stats_t;

sim_bus_t *sim_bus_new(uint32_t baud, uint64_t seed); /* NULL: no memory, bad baud */
void sim_bus_free(sim_bus_t *b);                     /* NULL is fine */

/* A meter at mac: a fresh meter (instance 100000 + mac, factory settings) and its MS/TP
 * master; its I-Am waits for the first token. Returns the node number, or -1. */
int sim_bus_add_meter(sim_bus_t *b, uint8_t mac, uint8_t max_master);
/* A meter the caller owns (and frees after the bus), at the MS/TP settings its device
 * holds; the bus ticks it and its node follows those settings as for add_meter. */
int sim_bus_attach_meter(sim_bus_t *b, meter_t *mt);
/* A station whose layer above is up (a router's port): its link is
 * mstp_link(sim_bus_mstp(b, node)). cfg's baud is the bus's. */
int sim_bus_add_port(sim_bus_t *b, const mstp_config_t *cfg, const net_upper_t *up);
/* A test master without a device: its requests and the replies it receives. */
int sim_bus_add_client(sim_bus_t *b, uint8_t mac, uint8_t max_master, uint8_t max_info_frames);
mstp_t *sim_bus_mstp(sim_bus_t *b, int node);
obj_device_t *sim_bus_device(sim_bus_t *b, int node); /* NULL for a test master */
meter_t *sim_bus_meter(sim_bus_t *b, int node);        /* NULL for a test master */
int sim_bus_nodes(const sim_bus_t *b);

/* Off: the node leaves the wire (hears and sends nothing, no ticks; a meter's control
 * power is cut). On: it restarts its MS/TP (INITIALIZE) at the settings its device
 * holds; a meter powers up and announces itself again. */
void sim_bus_power(sim_bus_t *b, int node, bool on);
void sim_bus_set_ber(sim_bus_t *b, double ber);
/* A foreign transmitter puts octets on the wire at at_us (not before now): noise,
 * collisions, forged frames. */
void sim_bus_inject(sim_bus_t *b, uint64_t at_us, const uint8_t *octets, size_t n);
/* Called for every transmission once it has left the wire, with the octets as they
 * were on it (garbled ones included) and its start time. */
void sim_bus_monitor(sim_bus_t *b, void (*fn)(void *ctx, uint64_t t_us, const uint8_t *octets,
                                              size_t n), void *ctx);

/* Called with every frame a node of the bus sent (not injected ones) once its last
 * octet has left the wire, as it was on the wire: what a bridge to a real line (a pty,
 * a serial port) writes out. Sooner, a fast peer there would answer over its end. The
 * bus's stations then wait Clause 9's longest Tusage_timeout (100 ms) for a token's
 * receiver to start: one over there can be late by a scheduler's slice. */
void sim_bus_tap(sim_bus_t *b, void (*fn)(void *ctx, const uint8_t *octets, size_t n), void *ctx);

void sim_bus_run(sim_bus_t *b, uint64_t us);
uint64_t sim_bus_now_us(const sim_bus_t *b);
void sim_bus_stats(const sim_bus_t *b, sim_bus_stats_t *s);
void sim_bus_reset_stats(sim_bus_t *b);

/* A test master's requests: queue a confirmed-request NPDU to dst (0, or -1 when its
 * queue is full); take the oldest reply received (its length, or -1 when none);
 * request and run the bus until dst answers or timeout_us passes (length or -1). */
int sim_bus_request(sim_bus_t *b, int client, uint8_t dst, const uint8_t *npdu, size_t len);
long sim_bus_take(sim_bus_t *b, int client, uint8_t *src, uint8_t *buf, size_t cap);
long sim_bus_transact(sim_bus_t *b, int client, uint8_t dst, const uint8_t *npdu, size_t len,
                      uint8_t *reply, size_t cap, uint64_t timeout_us);

/* Client NPDUs: ReadProperty of (oid, prop), and ReadPropertyMultiple of prop for n
 * objects; max-APDU 480. Return the length, 0 if cap is too small. */
size_t sim_bus_rp_npdu(uint8_t *out, size_t cap, uint8_t invoke_id, bac_oid_t oid,
                       uint32_t prop);
size_t sim_bus_rpm_npdu(uint8_t *out, size_t cap, uint8_t invoke_id, const bac_oid_t *oids,
                        size_t n, uint32_t prop);

/* ------------------------------------------------------------------------------------
 * Accuracy test points (testpoint.c, s4100 verify, docs/verify.md): a table of points
 * (current in % of the CT primary, power factor or sin phi, frequency, voltage, one
 * harmonic, the class limit), analytic balanced 3-phase wye waveforms for them computed
 * in closed form per sample, and a front end's error model applied to those samples.
 */
#define SIM_TP_NAME 48

typedef struct {
    char name[SIM_TP_NAME];
    char quantity;   /* 'P': active energy (factor is cos phi); 'Q': reactive (sin phi) */
    double ipct;     /* % of the CT primary (In) */
    double factor;   /* cos phi or sin phi, 0..1 */
    bool capacitive; /* current leads its voltage */
    double f, v;     /* Hz, RMS volts to neutral */
    int h;           /* harmonic order, 0 for none */
    double hv, hi;   /* its amplitude, % of the fundamental, on voltage and current */
    double limit;    /* class limit, +-% of the quantity */
} sim_tp_t;

/* The front end's errors, on top of the ideal scaling of sim_afe: a gain error and a
 * phase error of the current channels against the voltage channels (the phase as a
 * time delay, so a harmonic of order h is delayed by h times the angle), a DC offset
 * and white Gaussian noise on every channel (% of the channel's ADC full scale), and
 * quantisation to an ADC of the given bits over +-full scale (0: none). */
typedef struct {
    double gain_pct, phase_deg, offset_pct, noise_pct;
    int bits;
    uint64_t seed;
} sim_afe_err_t;

/* Parse a test-point table (CSV text; format in docs/verify.md). name labels messages
 * ("t.csv: line 4: ..."). Returns the points stored (at most cap), or SIM_ESYNTAX /
 * SIM_ERANGE with err filled; a table with no point or more than cap is SIM_ERANGE. */
long sim_tp_parse(const char *text, size_t len, const char *name, sim_tp_t *out, size_t cap,
                  sim_err_t *err);
/* The default table: IEC 62053-22 class 0.2S and IEC 62053-23 class 2 points, as text
 * (the same as verify/iec-0.2s.csv). */
const char *sim_tp_default_table(void);

/* Total P (W) and Q (var) the point's waveforms carry; Q of a harmonic counted as
 * |Vh||Ih| sin(h dphi) / h (the engine's quadrature method). */
void sim_tp_expected(const sim_tp_t *tp, double *p, double *q);

typedef struct {
    sim_tp_t tp;
    sim_afe_err_t e;
    uint64_t n;   /* next sample */
    uint64_t rng; /* noise state */
} sim_tp_gen_t;

void sim_tp_start(sim_tp_gen_t *g, const sim_tp_t *tp, const sim_afe_err_t *e); /* e may be NULL */
/* n terminal-side frames (as the ADCs see them) for a meter configured as cfg. */
void sim_tp_fill(sim_tp_gen_t *g, const mtr_config_t *cfg, mtr_frame_t *x, size_t n);

#endif
