/* The host's view of one running meter (s4100 run), shared by run.c and persist.c. */
#ifndef S4100_APP_METER_H
#define S4100_APP_METER_H

#include "app.h"
#include "bacnet/bac.h"
#include "bip/bip.h"
#include "nv/nv.h"
#include "objects/obj.h"
#include "port.h"
#include "sim.h"
#include "ui/ui.h"

typedef struct {
    const char *bind, *broadcast, *serial, *scenario, *password, *control, *nv_path;
    const char *mstp, *pcap;  /* MS/TP instead of BACnet/IP: the serial device or pty */
    long mac, baud, max_master; /* -1: as NV (or the factory) has them */
    bool nv_factory_reset;
    double time_scale;
    bool virtual_time; /* the clock moves only on 'ctl advance' */
    bool no_panel;
    uint16_t port;
    long device_id; /* -1: the factory value */
    unsigned seconds; /* 0: until stopped */
    bool quiet;
} run_opts_t;

typedef struct {
    obj_device_t dev;
    bac_server_t srv;
    bip_t bip;
    sim_source_t *src;
    mtr_config_t cfg;
    lx_udp_batch_t udp;
    bool powered;
    int ctl;
    double last_status; /* wall time of the last status line */
    ui_t ui;            /* the front panel */
    bool panel;         /* drawn in the terminal */
    bool panel_dirty;
    const run_opts_t *opts;
    /* MS/TP (with --mstp) */
    bool mstp_on;
    mstp_t mstp;
    lx_mstp_t ml;
    lx_pcap_t *pcap;
    /* non-volatile storage (persist.c) */
    lx_nv_file_t nvf;
    nv_store_t nv;
    uint32_t nv_writes;          /* dev.writes when last made durable */
    double nv_last_save;         /* wall time of the last checkpoint */
    uint32_t nv_saves, nv_errors;
    uint32_t tl_total[TL_COUNT]; /* trend records already in the rings */
    uint32_t tl_purges[TL_COUNT];
} meter_t;

/* Open the store and bring the meter up from it (or from the factory state when it is
 * new). Prints what it found; returns 0, or -1 with the reason printed. */
int app_nv_start(meter_t *m, const app_settings_t *st, long device_id);
/* A checkpoint of the small state (energy, settings, identity, trend-log setup). */
int app_nv_checkpoint(meter_t *m);
/* Make everything durable that changed: accepted writes and new trend records now, the
 * energy once a wall second (or always when force). Call before replies leave. */
void app_nv_sync(meter_t *m, bool force);
/* Power on: reload what NV holds, as a real meter's firmware does at boot. */
int app_nv_reload(meter_t *m);
void app_nv_close(meter_t *m);

#endif
