/* The host's view of one running meter (s4100 run), shared by run.c and persist.c. */
#ifndef S4100_APP_METER_H
#define S4100_APP_METER_H

#include "app.h"
#include "control.h"
#include "bacnet/bac.h"
#include "bip/bip.h"
#include "meter/meter.h"
#include "nv/nv.h"
#include "persist/persist.h"
#include "objects/obj.h"
#include "port.h"
#include "sim.h"
#include "ui/ui.h"

typedef struct {
    const char *bind, *broadcast, *serial, *scenario, *password, *control, *nv_path;
    const char *mstp, *pcap;  /* MS/TP instead of BACnet/IP: the serial device or pty */
    const char *comtrade;     /* a COMTRADE recording instead of a scenario */
    sim_comtrade_opts_t ct_map; /* --comtrade-map */
    long mac, baud, max_master; /* -1: as NV (or the factory) has them */
    bool nv_factory_reset;
    bool nv_accept_older; /* --nv-accept-older: start from the intact checkpoint slot
                             although the other was erased after use (it may hold an
                             older state: persist.c says so loudly) */
    double time_scale;
    bool virtual_time; /* the clock moves only on 'ctl advance' */
    unsigned meters;   /* --meters N: meters in this process */
    bool no_panel;
    uint16_t port;
    long device_id; /* -1: the factory value */
    unsigned seconds; /* 0: until stopped */
    bool quiet;
} run_opts_t;

typedef struct {
    meter_t mt;          /* the meter itself: device, server, panel, power */
    bip_t bip;
    sim_source_t *src;
    bool shared_src;    /* src is a group's (a site's trunk load): not this meter's to
                           change, reseed or close */
    /* A variant of the scenario for meter 2.. of a fleet: the load level, and the load
     * angle as the currents delayed by whole samples (--meters). */
    float vary_scale;   /* 0: as the scenario has it */
    unsigned vary_delay; /* samples, 0..3: 8.6 degrees each at 60 Hz */
    unsigned vary_pos;
    float vary_hist[4][3];
    mtr_config_t cfg;
    lx_udp_batch_t udp;
    double last_status; /* wall time of the last status line */
    bool panel;         /* drawn in the terminal */
    bool panel_dirty;
    const run_opts_t *opts;
    /* MS/TP (with --mstp) */
    bool mstp_on;
    mstp_t mstp;
    lx_mstp_t ml;
    lx_pcap_t *pcap;
    /* non-volatile storage: the policy is the core's (src/core/persist), persist.c puts
     * it on a file and says what it does */
    lx_nv_file_t nvf;
    pst_t pst;
    int nv_errno;                /* the file's errno at the newest failure (0: none) */
} app_meter_t;

/* Open the store and bring the meter up from it (or from the factory state when it is
 * new). Prints what it found; returns 0, or -1 with the reason printed: the store is
 * damaged or erased in a way that would lose state silently (docs/nv.md lists every
 * verdict), unless opts->nv_factory_reset or opts->nv_accept_older say otherwise. */
int app_nv_start(app_meter_t *m, const app_settings_t *st, long device_id);
/* The same on a store reached through any port (tests give it a faulty one); the file
 * is not involved (app_nv_close closes m->nvf only when it is open: set nvf.fd = -1). */
int app_nv_attach(app_meter_t *m, const nv_port_t *port, const app_settings_t *st, long device_id);
/* The bac_server on_write hook's work (pst_commit_write): make the write just accepted
 * durable (a checkpoint; new trend records and purges then go to the rings). 0: durable. -1: it is
 * not, and the write is undone (settings, identity, trend-log setup back to the newest
 * durable checkpoint, a trend log it purged or logged into read back from its ring;
 * energy keeps counting) with *err set: resources / no-space-to-write-property for a
 * full medium, device / operational-problem otherwise. */
int app_nv_commit_write(app_meter_t *m, bac_error_t *err);
/* The "nv":{...} member of 'ctl status' (no comma before or after). */
void app_nv_status_json(const app_meter_t *m, FILE *f);
/* A few words for the status line when something is wrong with NV ("" when all is
 * well); returns the length. */
size_t app_nv_status_short(const app_meter_t *m, char *buf, size_t cap);
/* A checkpoint of the small state (energy, settings, identity, trend-log setup). */
int app_nv_checkpoint(app_meter_t *m);
/* Make everything durable that changed: accepted writes and new trend records now, the
 * energy once a wall second (or always when force). Call before replies leave. */
void app_nv_sync(app_meter_t *m, bool force);
/* Power on: reload what NV holds, as a real meter's firmware does at boot. */
int app_nv_reload(app_meter_t *m);
void app_nv_close(app_meter_t *m);

/* meter_cmd.c: what the control socket does to one meter. */
/* display, key, power, set: the answer's lines to f. */
void app_meter_cmd(app_meter_t *m, const app_ctl_cmd_t *c, FILE *f);
/* Power on: what NV holds reloaded, as a real meter's firmware does at boot. */
void app_meter_power_on(app_meter_t *m);
/* Its status as JSON members: the state ("powered" .. "dcc", a comma after), and the
 * tail ("nv" when it has NV, "settings", "readings" and the closing brace, newline). */
void app_meter_json_state(const app_meter_t *m, FILE *f);
void app_meter_json_tail(const app_meter_t *m, FILE *f);
/* "RTC PLOSS-B" for an alarm word; "none". */
const char *app_alert_list(uint32_t alarms, char *buf, size_t cap);

/* feed.c: the samples of a meter in a fleet or a site. */
#define APP_FEED_MAX 256 /* sample sets per call: 0.1 s, so BACnet waits little */
/* Meter k's variant of its scenario (k 0: as written): load 0.5..1.0, the currents late
 * by 0..3 samples, its own noise. Deterministic from k. */
void app_meter_vary(app_meter_t *m, unsigned k, uint64_t scenario_seed);
/* n (<= APP_FEED_MAX) sample sets from its source through the front end into the meter
 * (dropped while it is unpowered). 1: the source ended or failed (exit status in *rc,
 * reason printed). */
int app_meter_feed(app_meter_t *m, size_t n, unsigned max_cycles, unsigned *cycles, int *rc);
/* The same from frames already read (a shared source's): x is changed (the variant, the
 * front end), so it must be the meter's own copy. */
void app_meter_feed_frames(app_meter_t *m, mtr_frame_t *x, const uint8_t *pulse, size_t n,
                           unsigned max_cycles, unsigned *cycles);

#endif
