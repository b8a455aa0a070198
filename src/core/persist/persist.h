/*
 * The meter's NV policy (prefix pst_): what a Series 4100 keeps across power loss and
 * how, over any nv_port_t (a file on the host, flash or FRAM on an MCU). One pst_t per
 * meter, owned by the caller next to its meter_t; it owns the store (nv_store_t), the
 * trend logs' rings (nv_tl_t), the durable snapshot a refused write is undone to, and
 * the counters a host reports. The policy:
 *
 *   pst_open      bind the store and load it, judging what it finds: an erased or
 *                 damaged checkpoint is refused (PST_REFUSED, load.verdict says why),
 *                 never a silent factory reset or rollback (docs/nv.md)
 *   (the host applies explicit settings over what was loaded: commissioning)
 *   pst_start     the power-up: obj_restart, then a first checkpoint
 *   pst_sync      each cycle / panel edit: new trend records to the rings now, accepted
 *                 writes now, the energy once checkpoint_ms (force: everything now)
 *   pst_commit_write  an accepted WriteProperty made durable before its ACK, or undone
 *   pst_reload    control power back: load and power up again
 *   pst_close     save everything (power off, exit)
 *
 * The core has no clock: calls that may checkpoint take the caller's monotonic
 * millisecond clock (wrapping is fine); the meter_nv_t hooks of pst_meter_nv use the
 * meter's (meter_tick). Nothing is printed: failures are counted in `stat`, what a load
 * found is in `load`, and transitions (failing, working again) go to an optional
 * notify hook so a host can say so once.
 *
 * Portable core: C11, no heap, no stdio, no OS, no globals.
 */
#ifndef S4100_PERSIST_H
#define S4100_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

#include "bacnet/bac.h"
#include "meter/meter.h"
#include "nv/nv.h"
#include "objects/obj.h"
#include "trendlog/tl.h"

/* What pst_open / pst_load found. */
typedef enum {
    PST_LOADED = 0,  /* from the newest intact checkpoint (load.info: what else was seen) */
    PST_NEW = 1,     /* nothing stored yet: the factory state; the rings start afresh */
    PST_REFUSED = -1, /* loading would lose state silently, or the medium failed:
                         load.verdict is the NV_ code (NV_ELOST, NV_EOLDER, NV_ECORRUPT,
                         NV_EVERSION, NV_EIO); nothing in the meter changed */
    PST_NOFIT = -2,  /* the layout is invalid or larger than the medium: nothing read */
} pst_open_t;

/* pst_opts_t.flags */
#define PST_ACCEPT_OLDER 1u /* load the survivor of an erased slot (NV_EOLDER), saying so
                               in load.info.older: an explicit operator's choice */

/* What happened to the store, for a host to say once (messages, a log line). */
typedef enum {
    PST_EV_SAVE_FAILED, /* a checkpoint failed (rc); first: the first of a run */
    PST_EV_SAVE_BACK,   /* a checkpoint succeeded after failures */
    PST_EV_LOG_FAILED,  /* trend log `log`'s records could not be stored (rc); they wait
                           in its cache and are retried; first: the first of a run */
    PST_EV_LOG_BACK,    /* trend log `log`'s ring has caught up after failures */
} pst_event_kind_t;

typedef struct {
    pst_event_kind_t kind;
    int rc;       /* the NV_ code of a failure */
    unsigned log; /* 0..TL_COUNT-1 for PST_EV_LOG_ */
    bool first;
} pst_event_t;

/* Called inside the pst_ call, after stat was updated (stat.last_rc is the failure):
 * the place for a host to capture its medium's own error detail (errno). */
typedef struct {
    void *ctx;
    void (*fn)(void *ctx, const pst_event_t *ev);
} pst_notify_t;

typedef struct {
    unsigned flags;         /* PST_ACCEPT_OLDER */
    uint32_t checkpoint_ms; /* routine checkpoint period (energy), and the retry period of
                               a failing one; 0: 1000 */
    pst_notify_t notify;    /* fn NULL: none */
} pst_opts_t;

/* What the newest load (pst_open, pst_load) found. */
typedef struct {
    int verdict;         /* nv_load's: NV_OK, NV_EMPTY, or the refusal */
    nv_load_info_t info; /* slot states, the slot used, its save number, sections missing
                            or out of range, older */
    int tl_rc[TL_COUNT]; /* nv_tl_restore's per log: < 0 the log could not be read and
                            starts empty */
    nv_tl_restore_info_t tl[TL_COUNT]; /* damage found in each trend log's ring */
    uint32_t tl_total[TL_COUNT];       /* each log's Total_Record_Count as loaded */
} pst_load_t;

/* Running counts since pst_open (a reload keeps them). */
typedef struct {
    uint32_t saves;                   /* checkpoints saved */
    uint32_t errors;                  /* failures of any kind */
    uint32_t save_failed, save_full;  /* checkpoints that failed; of them: medium full */
    uint32_t refused;                 /* writes answered Error: not durable, undone */
    uint32_t undo_failed;             /* undos whose trend log could not be read back */
    uint32_t append_failed[TL_COUNT]; /* ring syncs that failed (records wait in RAM) */
    bool failing;                     /* the newest checkpoint failed */
    bool log_failing[TL_COUNT];
    int last_rc;                      /* NV_ code of the newest failure (0: none yet) */
} pst_stat_t;

/* What the newest durable checkpoint holds of what a write can change: a write that
 * cannot be made durable is undone back to it. */
typedef struct {
    mtr_config_t cfg;   /* dev.pending_cfg */
    uint16_t avs;       /* dev.pending_avs then */
    uint32_t cycles;    /* dev.mtr.cycles then */
    obj_identity_t id;
    struct {
        bool enable, stop_when_full;
        tl_time_t start, stop;
        uint32_t ai;
    } tl[TL_COUNT];
    nv_tl_state_t tls[TL_COUNT]; /* the checkpoint's account of each log's records */
} pst_durable_t;

typedef struct pst {
    meter_t *m;
    nv_store_t nv;
    nv_tl_t rings;       /* the trend logs' records, kept once: in the rings */
    pst_opts_t opts;
    uint32_t writes;     /* dev.writes when last made durable */
    uint32_t last_save_ms; /* the clock at the last checkpoint */
    uint32_t retry_ms;   /* a failing checkpoint is retried from then */
    /* Each trend log (setup, counters, cache) as the last sync left it: until the next
     * sync nothing of it reaches the rings, so a refused write is taken back exactly. */
    tl_log_t seen[TL_COUNT];
    /* A trend log an undo reads back from its ring: here, not on the stack, because an
     * undo runs deep inside the server's WriteProperty handler (1.1 KB on an MCU). */
    tl_log_t scratch;
    pst_durable_t durable;
    pst_load_t load;
    pst_stat_t stat;
} pst_t;

/* The store of a Series 4100 (what s4100 run uses): 4 KB checkpoint slots and one ring
 * per trend log of TL_BUFFER_SIZE records; nv_medium_size() gives the bytes it needs. */
nv_layout_t pst_layout_s4100(void);

/* Bind p to meter m (initialised: the factory identity and settings) and a medium, then
 * load (pst_load). layout NULL: pst_layout_s4100(); opts NULL: defaults. Nothing is
 * written. After PST_LOADED or PST_NEW apply commissioning, then pst_start. */
pst_open_t pst_open(pst_t *p, meter_t *m, const nv_port_t *port, const nv_layout_t *layout,
                    const pst_opts_t *opts);

/* Read the store into the meter: checkpoint (energy, settings, identity, trend-log
 * setup), then each trend log from its ring. PST_REFUSED changes nothing in the meter. */
pst_open_t pst_load(pst_t *p);

/* The power-up after a load: obj_restart (counted; the engine from NV), then a first
 * checkpoint and the rings brought up to date. NV_OK, or the checkpoint's failure (the
 * store cannot be written: a meter should not start on it). */
int pst_start(pst_t *p, uint32_t now_ms);

/* Control power restored: pst_load, then pst_start unless refused (a failing first
 * checkpoint is counted and retried by pst_sync, the meter goes on). */
pst_open_t pst_reload(pst_t *p, uint32_t now_ms);

/* A checkpoint now (energy, settings, identity, trend-log setup). NV_OK or the failure
 * (counted; pst_sync retries it every checkpoint_ms). */
int pst_checkpoint(pst_t *p, uint32_t now_ms);

/* Make durable what changed: new trend records and purges into the rings, then a
 * checkpoint when a write was accepted since the last, checkpoint_ms have passed, or
 * force. Call after each cycle and panel edit, before replies leave. */
void pst_sync(pst_t *p, bool force, uint32_t now_ms);

/* The server's on_write work: make the write just accepted durable. 0: durable. -1: it
 * is not, and it is undone (settings, identity, trend-log setup back to the newest
 * durable checkpoint; a log it purged or logged into read back from its ring; energy
 * keeps counting) with *err: resources / no-space-to-write-property for a full medium,
 * device / operational-problem otherwise. */
int pst_commit_write(pst_t *p, bac_error_t *err, uint32_t now_ms);

/* The hooks for meter_set_nv(m, &nv): commit = pst_commit_write, sync = pst_sync, on the
 * meter's clock (meter_tick). p must stay where it is. */
meter_nv_t pst_meter_nv(pst_t *p);

/* Everything saved (power off, exit): pst_sync(force). The medium is the caller's. */
void pst_close(pst_t *p, uint32_t now_ms);

/* Records of trend log k not yet in its ring (waiting in its cache). */
uint32_t pst_waiting(const pst_t *p, unsigned k);

#endif
