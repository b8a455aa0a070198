/*
 * The meter's non-volatile memory on the host: a crash-safe file (src/core/nv over
 * src/port/linux/nv_file.c). What the datasheet marks NV survives any kill: the energy
 * within one checkpoint (a wall second), every acknowledged write exactly (made durable
 * before its acknowledgement leaves), every trend record as it is logged.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "meter.h"

static nv_image_t image(meter_t *m)
{
    return (nv_image_t){&m->dev.mtr.nv, &m->dev.pending_cfg, &m->dev.id, m->dev.tl};
}

static int load_record(void *arg, uint32_t seq, const void *rec, size_t len)
{
    tl_log_t *l = arg;
    tl_record_t r;
    uint32_t s;
    (void)seq; /* the ring's own numbering; the record carries the log's */
    if (!nv_tl_record_get(rec, len, &s, &r))
        return 0; /* a record of another size: not ours, skip it */
    /* Replaying history: a full single-shot log must not switch itself off here. */
    bool enable = l->enable, swf = l->stop_when_full;
    l->stop_when_full = false;
    tl_append(l, &r);
    l->enable = enable, l->stop_when_full = swf;
    l->total = s;
    return 0;
}

/* 1: nothing stored yet; 0: loaded; -1: refused (message printed). */
static int load(meter_t *m)
{
    const char *path = m->opts->nv_path;
    nv_load_info_t info;
    nv_image_t img = image(m);
    int rc = nv_load(&m->nv, &img, &info);
    if (rc == NV_EMPTY)
        return 1;
    if (rc == NV_ECORRUPT) {
        fprintf(stderr, "s4100 run: %s: both checkpoint slots are damaged (A %s, B %s); refusing to "
                        "start from a factory state. Move the file away, or start with "
                        "--nv-factory-reset to discard it.\n", path, nv_slot_str(info.slot[0]),
                nv_slot_str(info.slot[1]));
        return -1;
    }
    if (rc < 0) {
        fprintf(stderr, "s4100 run: %s: %s\n", path, nv_strerror(rc));
        return -1;
    }
    int other = info.used == 0 ? 1 : 0;
    if (info.slot[other] != NV_SLOT_OK && info.slot[other] != NV_SLOT_BLANK)
        fprintf(stderr, "s4100 run: %s: slot %c is %s; loaded the newest intact state from slot "
                        "%c (save %u)\n", path, 'A' + other, nv_slot_str(info.slot[other]),
                'A' + info.used, info.seq);
    if (info.missing || info.invalid)
        fprintf(stderr, "s4100 run: %s: sections missing 0x%x or out of range 0x%x kept their "
                        "defaults\n", path, info.missing, info.invalid);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        tl_log_t *l = &m->dev.tl[k];
        nv_log_info_t li;
        l->count = l->head = l->total = 0;
        int lrc = nv_log_load(&m->nv, k, load_record, l, &li);
        if (lrc < 0)
            fprintf(stderr, "s4100 run: %s: trend log %u: %s\n", path, k + 1, nv_strerror(lrc));
        else if (li.damaged)
            fprintf(stderr, "s4100 run: %s: trend log %u: %u damaged records skipped\n", path,
                    k + 1, li.damaged);
    }
    return 0;
}

static void mark_logs_synced(meter_t *m)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        m->tl_total[k] = m->dev.tl[k].total;
        m->tl_purges[k] = m->dev.tl[k].purges;
    }
}

int app_nv_checkpoint(meter_t *m)
{
    nv_image_t img = image(m);
    int rc = nv_save(&m->nv, &img);
    if (rc < 0) {
        if (m->nv_errors++ == 0)
            fprintf(stderr, "s4100 run: %s: checkpoint failed: %s\n", m->opts->nv_path,
                    nv_strerror(rc));
        return rc;
    }
    m->nv_saves++;
    m->nv_writes = m->dev.writes;
    m->nv_last_save = lx_now_s();
    return 0;
}

static void append(meter_t *m, unsigned k, const tl_record_t *r, uint32_t seq, bool reset)
{
    uint8_t rec[NV_TL_RECORD_SIZE];
    nv_tl_record_put(rec, seq, r);
    int rc = reset ? nv_log_reset(&m->nv, k, rec, sizeof rec) : nv_log_append(&m->nv, k, rec, sizeof rec);
    if (rc < 0 && m->nv_errors++ == 0)
        fprintf(stderr, "s4100 run: %s: trend log %u: %s\n", m->opts->nv_path, k + 1, nv_strerror(rc));
}

/* Mirror new trend records (and purges) into the rings. */
static void sync_logs(meter_t *m)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        tl_log_t *l = &m->dev.tl[k];
        uint32_t first;
        bool reset = l->purges != m->tl_purges[k];
        if (reset) {
            first = 0; /* a purge: the ring restarts with what the log holds now */
        } else {
            uint32_t fresh = l->total - m->tl_total[k];
            if (fresh == 0)
                continue;
            first = fresh >= l->count ? 0 : l->count - fresh;
        }
        for (uint32_t j = first; j < l->count; j++) {
            append(m, k, tl_at(l, j), tl_seq_of(l, j), reset);
            reset = false;
        }
        m->tl_total[k] = l->total;
        m->tl_purges[k] = l->purges;
    }
}

void app_nv_sync(meter_t *m, bool force)
{
    sync_logs(m);
    if (force || m->dev.writes != m->nv_writes || lx_now_s() - m->nv_last_save >= 1.0)
        app_nv_checkpoint(m);
}

int app_nv_start(meter_t *m, const app_settings_t *st, long device_id)
{
    const char *path = m->opts->nv_path;
    nv_layout_t layout = NV_S4100_LAYOUT;
    nv_port_t port;
    char err[300];
    if (m->opts->nv_factory_reset && unlink(path) == 0)
        fprintf(stderr, "s4100 run: %s: discarded (--nv-factory-reset)\n", path);
    int rc = lx_nv_open(&m->nvf, path, nv_medium_size(&layout), &port, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "s4100 run: %s\n", err);
        return -1;
    }
    if (rc == LX_NV_WARN)
        fprintf(stderr, "s4100 run: %s\n", err);
    if (nv_open(&m->nv, &port, &layout) != NV_OK) {
        fprintf(stderr, "s4100 run: %s: the store does not fit its file\n", path);
        lx_nv_close(&m->nvf);
        return -1;
    }
    int lrc = load(m);
    if (lrc < 0) {
        lx_nv_close(&m->nvf);
        return -1;
    }
    /* Explicit options win over what the meter remembers. */
    bool any = device_id > 0;
    for (int k = 0; k < APP_N_SETTINGS; k++)
        any |= st->given[k];
    if (any && app_settings_apply(st, &m->dev.pending_cfg, "run") < 0) {
        lx_nv_close(&m->nvf);
        return -1;
    }
    if (device_id > 0)
        m->dev.id.instance = (uint32_t)device_id;
    obj_restart(&m->dev, true); /* a power-up: counted, RTC reset, engine from NV */
    mark_logs_synced(m);
    if (!m->opts->quiet)
        printf("s4100 run: NV %s: %s, power-up %u, %.3f kWh imported\n", path,
               lrc == 1 ? "new store (factory state)" : "loaded", m->dev.mtr.nv.power_ups,
               mtr_energy_kwh(&m->dev.mtr.nv.e[MTR_E_KWH_IMP]));
    if (app_nv_checkpoint(m) < 0) {
        lx_nv_close(&m->nvf);
        return -1;
    }
    return 0;
}

int app_nv_reload(meter_t *m)
{
    int rc = load(m);
    if (rc < 0)
        return -1;
    obj_restart(&m->dev, true);
    mark_logs_synced(m);
    app_nv_checkpoint(m);
    return 0;
}

void app_nv_close(meter_t *m)
{
    app_nv_sync(m, true);
    lx_nv_close(&m->nvf);
}
