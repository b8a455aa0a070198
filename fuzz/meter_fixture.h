/*
 * The meter every whole-meter fuzz target starts each input from. Built once: a few
 * 1 s cycles of a balanced 3-phase load, two months of trend-log records (TL1 wrapped
 * past its 5,760 records, TL2 with a backward clock change and a disable, TL3 with
 * sequence numbers wrapping past 2^32 - 1),
 * the clock synchronized, and the sample stream stopped FIX_TAIL samples before the end
 * of a 1 s cycle that also crosses a 15-minute logging boundary. The logs keep their
 * records in a RAM record store the fixture owns (fix_ram), as the meter's are in NV.
 * Before each input the pristine copy of the meter and of its records is copied back (a
 * memcpy instead of an init and 2,520 samples), and
 * fix_cycle() completes that cycle in FIX_TAIL samples: readings, demand, pending AV
 * commits and one trend record per log, as a real second of the meter would. A second
 * variant runs in sync-to-comms mode (AV11 = 0), where AV1 = 21211 logs instead.
 *
 * Harness code, not core: statics are fine here (one meter per fuzz process).
 */
#ifndef S4100_FUZZ_METER_FIXTURE_H
#define S4100_FUZZ_METER_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "../tests/wave.h"
#include "bacnet/bac.h"
#include "objects/obj.h"

#define FIX_INSTANCE 1234u
#define FIX_TAIL 8u /* samples the pristine meter is short of a completed 1 s cycle */
#define FIX_TL_STEP 90000 /* the default Log_Interval, 15 min, in 1/100 s */

/* The variants a target can start from. */
enum {
    FIX_LOGGING,      /* Log_Interval 15 min; the pending cycle logs a record in each log */
    FIX_SYNC_TO_COMMS, /* AV11 = 0 (all logs purged when it was set): AV1 = 21211 logs */
    FIX_VARIANTS
};

static obj_device_t fix_pristine[FIX_VARIANTS];
static tl_ram_t fix_ram, fix_ram_pristine[FIX_VARIANTS]; /* the logs' records */
static mtr_frame_t fix_tail[FIX_VARIANTS][FIX_TAIL];
static int fix_built;

/* Feed frames until n are consumed; true if a 1 s cycle completed (then obj_cycle). */
static inline int fix_feed(obj_device_t *d, mtr_frame_t *x, size_t n)
{
    int cycled = 0;
    while (n) {
        bool cycle = false;
        size_t k = mtr_feed(&d->mtr, x, n, &cycle);
        if (cycle) {
            obj_cycle(d);
            cycled = 1;
        }
        x += k;
        n -= k;
    }
    return cycled;
}

static inline tl_time_t fix_time(uint8_t y, uint8_t mo, uint8_t day, uint8_t h, uint8_t mi)
{
    bac_date_t dd = {y, mo, day, BAC_ANY};
    bac_time_t tm = {h, mi, 0, 0};
    tl_time_t t;
    if (!tl_time_join(&dd, &tm, &t))
        abort();
    return t;
}

/* n records every 15 minutes ending one step before `end`, as log_all writes them. */
static inline void fix_log(tl_log_t *l, tl_time_t end, unsigned n, float v0, float dv)
{
    for (unsigned k = 0; k < n; k++) {
        tl_record_t r = {.t = end - (tl_time_t)(n - k) * FIX_TL_STEP, .kind = TL_REC_REAL,
                         .value = v0 + dv * (float)k, .flags = k % 500 == 7 ? 2u : 0u};
        tl_append(l, &r);
    }
}

/* A request through the server, as a client would set the meter up. */
static inline void fix_request(obj_device_t *d, const uint8_t *apdu, size_t n)
{
    bac_server_t s;
    uint8_t npdu[64] = {0x01, 0x04}, out[600];
    bool bcast;
    if (n > sizeof npdu - 2)
        abort();
    memcpy(npdu + 2, apdu, n);
    bac_server_init(&s, d, NULL);
    size_t len = bac_server_handle(&s, 0, npdu, n + 2, false, out, sizeof out, &bcast);
    if (len < 3 || out[2] != 0x20) /* each must be acknowledged */
        abort();
}

/* Feed d (at a cycle boundary) until FIX_TAIL samples short of the next cycle end and
 * keep it with those samples as variant v. */
static inline void fix_keep(obj_device_t *d, wave_t *w, int v)
{
    static mtr_frame_t buf[MTR_FS];
    size_t left = d->mtr.tick_left;
    wave_fill(w, &d->mtr.cfg, buf, left);
    if (fix_feed(d, buf, left - FIX_TAIL))
        abort();
    memcpy(fix_tail[v], buf + left - FIX_TAIL, sizeof fix_tail[v]);
    fix_pristine[v] = *d;
    fix_ram_pristine[v] = fix_ram;
}

/* Complete the pending 1 s cycle of a meter restored as variant v (once per restore;
 * after an obj_restart the engine starts a new cycle and these samples do not end it). */
static inline int fix_cycle_variant(obj_device_t *d, int v)
{
    mtr_frame_t x[FIX_TAIL];
    memcpy(x, fix_tail[v], sizeof x);
    return fix_feed(d, x, FIX_TAIL);
}

static inline void fix_build(void)
{
    static obj_device_t d;
    static mtr_frame_t buf[MTR_FS];
    obj_identity_t id;
    mtr_config_t cfg;
    wave_t w;

    obj_identity_default(&id, "FUZZ");
    id.instance = FIX_INSTANCE;
    mtr_config_default(&cfg);
    obj_init(&d, &id, &cfg, NULL);
    tl_ram_init(&fix_ram);
    tl_store_t records = tl_ram_store(&fix_ram);
    obj_tl_attach(&d, &records);
    wave_balanced(&w, 60.0, 230.0, 20.0, 25.0);
    w.i[2] = 125.0; /* phase C above the 120 A over-range of the CT: an alarm, unreliable readings */
    for (int s = 0; s < 3; s++) {
        size_t n = d.mtr.tick_left;
        wave_fill(&w, &d.mtr.cfg, buf, n);
        if (!fix_feed(&d, buf, n))
            abort();
    }
    /* Two months of 15-minute records up to B, a logging boundary. */
    const tl_time_t b = fix_time(124, 6, 1, 12, 0);
    fix_log(&d.tl[0], b, TL_BUFFER_SIZE + 40, 1000.0f, 0.25f); /* wrapped */
    fix_log(&d.tl[1], b - 100 * FIX_TL_STEP, 150, 20.0f, 0.5f);
    /* The clock went back 10 intervals: older times follow newer ones. */
    tl_record_t back = {.t = b - 111 * FIX_TL_STEP, .kind = TL_REC_TIME_CHANGE, .value = -9000.0f};
    tl_append(&d.tl[1], &back);
    fix_log(&d.tl[1], b - 10 * FIX_TL_STEP, 100, 95.0f, 0.5f);
    /* TL3's sequence numbers pass 2^32 - 1 and start again at 1: what an NV store of a
     * very old log would restore, and the one way to reach that code in an hour. */
    d.tl[2].total = UINT32_MAX - 40;
    fix_log(&d.tl[2], b, 60, 3.0f, 0.01f);
    /* TimeSynchronization to just before B, so that the cycle FIX_TAIL samples short of
     * completing ends past it: time-change records now, an interval record then. */
    size_t left = d.mtr.tick_left;
    if (left < 3 * FIX_TAIL)
        abort();
    obj_datetime_t now;
    tl_time_split(b - (tl_time_t)((left - FIX_TAIL) * 100 / MTR_FS), &now.date, &now.time);
    if (!obj_clock_set(&d, &now))
        abort();
    /* TL2: Log_Enable FALSE then TRUE (a log-disabled record). */
    static const uint8_t tl2_off[] = {0x00, 0x05, 0x01, 0x0F, 0x0C, 0x05, 0x00, 0x00, 0x02,
                                      0x19, 0x85, 0x3E, 0x10, 0x3F};
    static const uint8_t tl2_on[] = {0x00, 0x05, 0x02, 0x0F, 0x0C, 0x05, 0x00, 0x00, 0x02,
                                     0x19, 0x85, 0x3E, 0x11, 0x3F};
    fix_request(&d, tl2_off, sizeof tl2_off);
    fix_request(&d, tl2_on, sizeof tl2_on);
    fix_keep(&d, &w, FIX_LOGGING);
    /* The tail completes the cycle, and that cycle logs in every log. */
    uint32_t total[TL_COUNT];
    for (int k = 0; k < TL_COUNT; k++)
        total[k] = d.tl[k].total;
    if (!fix_cycle_variant(&d, FIX_LOGGING))
        abort();
    for (int k = 0; k < TL_COUNT; k++)
        if (d.tl[k].total != (total[k] == UINT32_MAX ? 1 : total[k] + 1))
            abort();
    /* Sync-to-comms: AV11 := 0.0, committed by the next cycle (which purges the logs). */
    static const uint8_t av11_zero[] = {0x00, 0x05, 0x03, 0x0F, 0x0C, 0x00, 0x80, 0x00, 0x0B,
                                        0x19, 0x55, 0x3E, 0x44, 0x00, 0x00, 0x00, 0x00, 0x3F};
    fix_request(&d, av11_zero, sizeof av11_zero);
    size_t n = d.mtr.tick_left;
    wave_fill(&w, &d.mtr.cfg, buf, n);
    if (!fix_feed(&d, buf, n) || d.mtr.cfg.subinterval_cs != 0)
        abort();
    fix_keep(&d, &w, FIX_SYNC_TO_COMMS);
    fix_built = 1;
}

/* A host's durability hook (bac_server_t.on_write) whose saves fail every other time. */
static int fix_hook_calls;
static inline int fix_flaky_hook(void *ctx, bac_error_t *err)
{
    (void)ctx;
    if (++fix_hook_calls % 2)
        return 0;
    if (fix_hook_calls % 4 == 0)
        *err = (bac_error_t){BAC_ERRCLASS_RESOURCES, BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY};
    return -1;
}

/* The pristine meter of variant v (FIX_) into d. */
static inline void fix_restore_variant(obj_device_t *d, int v)
{
    if (!fix_built)
        fix_build();
    memcpy(d, &fix_pristine[v], sizeof *d);
    memcpy(&fix_ram, &fix_ram_pristine[v], sizeof fix_ram);
    fix_hook_calls = 0;
}

static inline void fix_restore(obj_device_t *d)
{
    fix_restore_variant(d, FIX_LOGGING);
}

static inline int fix_cycle(obj_device_t *d)
{
    return fix_cycle_variant(d, FIX_LOGGING);
}

#endif
