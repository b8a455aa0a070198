/*
 * The meter's non-volatile memory on the host: a crash-safe file (src/core/nv over
 * src/port/linux/nv_file.c). What the datasheet marks NV survives any kill: the energy
 * within one checkpoint (a wall second), every acknowledged write exactly (made durable
 * before its acknowledgement leaves, or refused and undone), every trend record as it
 * is logged. Damage is never silent: every load verdict is printed, the meter refuses
 * to start where going on would lose state without saying so, and every failure is
 * counted for 'ctl status' and the status line. docs/nv.md has the verdicts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "meter.h"

static nv_image_t image(app_meter_t *m)
{
    return (nv_image_t){&m->mt.dev.mtr.nv, &m->mt.dev.pending_cfg, &m->mt.dev.id, m->mt.dev.tl, NULL};
}

static const char *path_of(const app_meter_t *m)
{
    return m->opts && m->opts->nv_path ? m->opts->nv_path : "NV";
}

/* The reason for the newest failure, with the file's errno when it has one. */
static const char *reason(const app_meter_t *m, char *buf, size_t cap)
{
    if (m->nvs.last_errno)
        snprintf(buf, cap, "%s (%s)", nv_strerror(m->nvs.last_rc), strerror(m->nvs.last_errno));
    else
        snprintf(buf, cap, "%s", nv_strerror(m->nvs.last_rc));
    return buf;
}

static void note_failure(app_meter_t *m, int rc)
{
    m->nv_errors++;
    m->nvs.last_rc = rc;
    m->nvs.last_errno = m->nvf.fd >= 0 ? m->nvf.err : 0;
}

/* ---- loading ------------------------------------------------------------------------- */

static void say_refused(const app_meter_t *m, int rc, const nv_load_info_t *info)
{
    const char *path = path_of(m);
    char a = info->slot[0] == NV_SLOT_BLANK ? 'A' : 'B', b = a == 'A' ? 'B' : 'A';
    switch (rc) {
    case NV_ELOST:
        fprintf(stderr, "s4100 run: %s: REFUSED: both checkpoint slots are blank (zeroed or "
                        "erased), but the trend-log rings show the store was in use: its energy "
                        "registers, settings and identity are gone. Refusing to start from a "
                        "factory state. Restore the file from a backup, or start with "
                        "--nv-factory-reset to discard it.\n", path);
        break;
    case NV_EOLDER:
        fprintf(stderr, "s4100 run: %s: REFUSED: checkpoint slot %c is blank although the store "
                        "was in use (erased); slot %c (save %u) is intact but may be older than the "
                        "last save: energy, settings and acknowledged writes since then would be "
                        "lost. Start with --nv-accept-older to go on from slot %c anyway, or with "
                        "--nv-factory-reset to discard the store.\n",
                path, a, b, info->seq, b);
        break;
    case NV_ECORRUPT:
        fprintf(stderr, "s4100 run: %s: REFUSED: both checkpoint slots are damaged (A %s, B %s)%s; "
                        "refusing to start from a factory state. Move the file away, or start with "
                        "--nv-factory-reset to discard it.\n", path, nv_slot_str(info->slot[0]),
                nv_slot_str(info->slot[1]),
                info->rings_used ? " in a store that was in use" : "");
        break;
    case NV_EVERSION:
        fprintf(stderr, "s4100 run: %s: REFUSED: the newest checkpoint was written by a newer "
                        "firmware (format or section version unknown here); going back to an "
                        "older state would lose it. Run the newer s4100, or start with "
                        "--nv-factory-reset to discard the store.\n", path);
        break;
    default:
        fprintf(stderr, "s4100 run: %s: REFUSED: cannot read the store: %s\n", path,
                nv_strerror(rc));
    }
}

static void say_log_damage(const app_meter_t *m, unsigned k, const nv_tl_restore_info_t *ri)
{
    if (ri->damaged || ri->missing)
        fprintf(stderr, "s4100 run: %s: trend log %u: %u damaged records in its ring, %u sequence "
                        "numbers without a record (damaged, or not stored before a power loss): "
                        "kept as log-interrupted entries, never as data\n", path_of(m), k + 1,
                ri->damaged, ri->missing);
    if (ri->dropped)
        fprintf(stderr, "s4100 run: %s: trend log %u: %u ring records from before a purge the "
                        "ring had not seen, left out\n", path_of(m), k + 1, ri->dropped);
    if (ri->from_checkpoint)
        fprintf(stderr, "s4100 run: %s: trend log %u: the newest record (%u) restored from the "
                        "checkpoint: the ring had missed it\n", path_of(m), k + 1,
                m->mt.dev.tl[k].total);
}

/* Trend logs from the rings and the checkpoint's account of them (ck: NULL when the
 * store predates it). */
static void load_logs(app_meter_t *m, const nv_tl_state_t *ck)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        nv_tl_restore_info_t *ri = &m->nvs.load_tl[k];
        int rc = nv_tl_restore(&m->nvtl, k, &m->mt.dev.tl[k], ck ? &ck[k] : NULL, ri);
        if (rc < 0)
            fprintf(stderr, "s4100 run: %s: trend log %u: %s: it starts empty\n", path_of(m),
                    k + 1, nv_strerror(rc));
        say_log_damage(m, k, ri);
    }
}

/* 1: nothing stored yet; 0: loaded; -1: refused (message printed). */
static int load(app_meter_t *m)
{
    const char *path = path_of(m);
    nv_load_info_t info;
    static nv_tl_state_t tls[TL_COUNT];
    memset(tls, 0, sizeof tls);
    nv_image_t img = image(m);
    img.tl_state = tls;
    bool accept = m->opts && m->opts->nv_accept_older;
    int rc = nv_load_ex(&m->nv, &img, &info, accept ? NV_LOAD_ACCEPT_OLDER : 0);
    m->nvs.verdict = rc; /* what this load found; the running counts go on */
    memset(m->nvs.load_tl, 0, sizeof m->nvs.load_tl);
    m->nvs.slot[0] = info.slot[0];
    m->nvs.slot[1] = info.slot[1];
    m->nvs.older = info.older;
    if (rc == NV_EMPTY) {
        tl_store_t rings = nv_tl_store(&m->nvtl);
        obj_tl_attach(&m->mt.dev, &rings); /* new: the first sync starts every ring */
        if (info.slot[0] != NV_SLOT_BLANK || info.slot[1] != NV_SLOT_BLANK)
            fprintf(stderr, "s4100 run: %s: slot A %s, slot B %s, rings empty: the very first "
                            "save was cut short, nothing had been acknowledged; a new store\n",
                    path, nv_slot_str(info.slot[0]), nv_slot_str(info.slot[1]));
        return 1;
    }
    if (rc < 0) {
        say_refused(m, rc, &info);
        return -1;
    }
    int other = info.used == 0 ? 1 : 0;
    if (info.older)
        fprintf(stderr, "s4100 run: %s: WARNING: slot %c was erased after use; started from slot "
                        "%c (save %u), which may be older than the last save (--nv-accept-older)\n",
                path, 'A' + other, 'A' + info.used, info.seq);
    else if (info.slot[other] != NV_SLOT_OK)
        fprintf(stderr, "s4100 run: %s: slot %c is %s (a save cut short, or damage); loaded the "
                        "newest intact state from slot %c (save %u): nothing acknowledged is lost\n",
                path, 'A' + other, nv_slot_str(info.slot[other]), 'A' + info.used, info.seq);
    uint32_t missing = info.missing & ~NV_SEC_BIT(NV_SEC_TLSTATE); /* older stores lack it */
    if (missing || info.invalid)
        fprintf(stderr, "s4100 run: %s: sections missing 0x%x or out of range 0x%x kept their "
                        "defaults\n", path, missing, info.invalid);
    bool counted = !(info.missing & NV_SEC_BIT(NV_SEC_TLSTATE));
    load_logs(m, counted ? tls : NULL);
    return 0;
}

/* ---- the durable state, and undoing a write that could not be made durable -------------- */

static void snapshot(app_meter_t *m)
{
    obj_device_t *d = &m->mt.dev;
    app_nv_durable_t *D = &m->nvd;
    D->cfg = d->pending_cfg;
    D->avs = d->pending_avs;
    D->cycles = d->mtr.cycles;
    D->id = d->id;
    for (unsigned k = 0; k < TL_COUNT; k++) {
        const tl_log_t *l = &d->tl[k];
        D->tl[k].enable = l->enable;
        D->tl[k].stop_when_full = l->stop_when_full;
        D->tl[k].start = l->start;
        D->tl[k].stop = l->stop;
        D->tl[k].ai = l->ai;
        nv_tl_state_of(l, &D->tls[k]);
    }
}

/* Each trend log as this sync leaves it: a refused write is taken back to it. Between
 * loads its records and cache change only with Total_Record_Count, and its ring's
 * progress with `stored` (the setup an undo takes from the checkpoint): all: after a load. */
static void mark_seen(app_meter_t *m, bool all)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        const tl_log_t *l = &m->mt.dev.tl[k];
        if (all || l->total != m->tl_seen[k].total || l->stored != m->tl_seen[k].stored ||
            l->count != m->tl_seen[k].count)
            m->tl_seen[k] = *l;
    }
}

/* A trend log the undone write changed after its ring did (a record pushed out of the
 * cache was stored meanwhile): read it back as the medium has it, then placeholders up
 * to what clients may have seen, so that no sequence number is given twice. */
static void reload_log(app_meter_t *m, unsigned k)
{
    tl_log_t *l = &m->mt.dev.tl[k], t = *l;
    if (nv_tl_restore(&m->nvtl, k, &t, &m->nvd.tls[k], NULL) != NV_OK) {
        m->nvs.undo_failed++; /* cannot read it back: leave the log as it is */
        return;
    }
    tl_fill(&t, m->tl_seen[k].total, t.count ? tl_at(&t, t.count - 1).t : 0);
    *l = t;
}

/* Settings, identity and trend-log setup back to the newest durable checkpoint; energy
 * keeps counting. AV writes still pending then stay pending (unless a cycle has put them
 * into effect since), and whatever differs from the running configuration is committed
 * at the next cycle, as a write would be. */
static void undo(app_meter_t *m)
{
    obj_device_t *d = &m->mt.dev;
    const app_nv_durable_t *D = &m->nvd;
    d->pending_cfg = D->cfg;
    uint16_t avs = d->mtr.cycles == D->cycles ? D->avs : 0;
    for (unsigned av = 2; av <= 11; av++)
        if (mtr_setting_get(&d->pending_cfg, (mtr_setting_t)av) !=
            mtr_setting_get(&d->mtr.cfg, (mtr_setting_t)av))
            avs |= (uint16_t)(1u << av);
    d->pending_avs = avs;
    d->id = D->id;
    for (unsigned k = 0; k < TL_COUNT; k++) {
        tl_log_t *l = &d->tl[k];
        /* The records as the last sync left them (the ring has not moved since: a write
         * adds at most one record, kept in the cache until a durable checkpoint). */
        if (l->total != m->tl_seen[k].total) {
            if (l->stored == m->tl_seen[k].stored)
                *l = m->tl_seen[k];
            else
                reload_log(m, k);
        }
        l->enable = D->tl[k].enable;
        l->stop_when_full = D->tl[k].stop_when_full;
        l->start = D->tl[k].start;
        l->stop = D->tl[k].stop;
        l->ai = D->tl[k].ai;
    }
    m->nv_writes = d->writes; /* nothing left to save of it */
}

/* ---- saving ------------------------------------------------------------------------- */

static int checkpoint(app_meter_t *m)
{
    nv_image_t img = image(m);
    m->nvf.err = 0;
    int rc = nv_save(&m->nv, &img);
    double now = lx_now_s();
    if (rc < 0) {
        note_failure(m, rc);
        m->nvs.save_failed++;
        if (rc == NV_ENOSPC)
            m->nvs.save_full++;
        m->nv_retry_at = now + 1.0;
        if (!m->nvs.failing) {
            char why[160];
            fprintf(stderr, "s4100 run: %s: checkpoint failed: %s; retried each second, and "
                            "every write is refused until a checkpoint succeeds\n", path_of(m),
                    reason(m, why, sizeof why));
        }
        m->nvs.failing = true;
        return rc;
    }
    if (m->nvs.failing)
        fprintf(stderr, "s4100 run: %s: checkpoint saved again (%u failed so far)\n", path_of(m),
                m->nvs.save_failed);
    m->nvs.failing = false;
    m->nv_saves++;
    m->nv_writes = m->mt.dev.writes;
    m->nv_last_save = now;
    snapshot(m);
    return 0;
}

int app_nv_checkpoint(app_meter_t *m)
{
    return checkpoint(m);
}

/* New trend records and purges into the rings. A failure leaves the records waiting in
 * the logs' caches: the next call goes on from where this one stopped. */
static void sync_logs(app_meter_t *m)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        tl_log_t *l = &m->mt.dev.tl[k];
        if (l->total == l->stored)
            continue;
        m->nvf.err = 0;
        int rc = tl_flush(l);
        if (rc < 0) {
            note_failure(m, rc);
            m->nvs.append_failed[k]++;
            if (!m->nvs.log_failing[k]) {
                char why[160];
                fprintf(stderr, "s4100 run: %s: trend log %u: storing records failed: %s; they "
                                "wait in memory (the newest %u) and are retried\n", path_of(m),
                        k + 1, reason(m, why, sizeof why), TL_CACHE_SIZE);
            }
            m->nvs.log_failing[k] = true;
        } else if (m->nvs.log_failing[k]) {
            fprintf(stderr, "s4100 run: %s: trend log %u: stored again, the ring has caught up "
                            "(%u failures so far)\n", path_of(m), k + 1, m->nvs.append_failed[k]);
            m->nvs.log_failing[k] = false;
        }
    }
}

void app_nv_sync(app_meter_t *m, bool force)
{
    sync_logs(m);
    double now = lx_now_s();
    bool due = force || m->mt.dev.writes != m->nv_writes || now - m->nv_last_save >= 1.0;
    if (due && (force || !m->nvs.failing || now >= m->nv_retry_at))
        checkpoint(m);
    mark_seen(m, false);
}

int app_nv_commit_write(app_meter_t *m, bac_error_t *err)
{
    int rc = checkpoint(m); /* always tried: the medium may be back */
    if (rc < 0) {
        undo(m);
        m->nvs.refused++;
        if (rc == NV_ENOSPC)
            *err = (bac_error_t){BAC_ERRCLASS_RESOURCES, BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY};
        else
            *err = (bac_error_t){BAC_ERRCLASS_DEVICE, BAC_ERR_OPERATIONAL_PROBLEM};
        return -1;
    }
    /* Durable now: the checkpoint holds a purge or a new record even if its ring cannot
     * take it yet (the loader puts it back). */
    sync_logs(m);
    mark_seen(m, false);
    return 0;
}

/* ---- start, power cycles, stop --------------------------------------------------------- */

int app_nv_attach(app_meter_t *m, const nv_port_t *port, const app_settings_t *st, long device_id)
{
    const char *path = path_of(m);
    nv_layout_t layout = NV_S4100_LAYOUT;
    if (nv_open(&m->nv, port, &layout) != NV_OK) {
        fprintf(stderr, "s4100 run: %s: the store does not fit its medium\n", path);
        return -1;
    }
    nv_tl_open(&m->nvtl, &m->nv);
    int lrc = load(m);
    if (lrc < 0)
        return -1;
    /* Explicit options win over what the meter remembers. */
    bool any = device_id > 0;
    for (int k = 0; st && k < APP_N_SETTINGS; k++)
        any |= st->given[k];
    if (any && app_settings_apply(st, &m->mt.dev.pending_cfg, "run") < 0)
        return -1;
    if (device_id > 0)
        m->mt.dev.id.instance = (uint32_t)device_id;
    obj_restart(&m->mt.dev, true); /* a power-up: counted, RTC reset, engine from NV */
    mark_seen(m, true);
    if (m->opts && !m->opts->quiet)
        printf("s4100 run: NV %s: %s, power-up %u, %.3f kWh imported\n", path,
               lrc == 1 ? "new store (factory state)" : m->nvs.older ? "loaded an OLDER state"
                                                                     : "loaded",
               m->mt.dev.mtr.nv.power_ups, mtr_energy_kwh(&m->mt.dev.mtr.nv.e[MTR_E_KWH_IMP]));
    if (checkpoint(m) < 0) {
        fprintf(stderr, "s4100 run: %s: the store cannot be written: not started\n", path);
        return -1;
    }
    sync_logs(m); /* placeholders and records the checkpoint had to give back */
    return 0;
}

int app_nv_start(app_meter_t *m, const app_settings_t *st, long device_id)
{
    const char *path = m->opts->nv_path;
    nv_layout_t layout = NV_S4100_LAYOUT;
    nv_port_t port;
    char err[400];
    if (m->opts->nv_factory_reset && unlink(path) == 0)
        fprintf(stderr, "s4100 run: %s: discarded (--nv-factory-reset)\n", path);
    int rc = lx_nv_open(&m->nvf, path, nv_medium_size(&layout), &port, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "s4100 run: %s\n", err);
        return -1;
    }
    if (rc == LX_NV_WARN)
        fprintf(stderr, "s4100 run: %s\n", err);
    if (app_nv_attach(m, &port, st, device_id) < 0) {
        lx_nv_close(&m->nvf);
        return -1;
    }
    return 0;
}

int app_nv_reload(app_meter_t *m)
{
    int rc = load(m);
    if (rc < 0)
        return -1;
    obj_restart(&m->mt.dev, true);
    mark_seen(m, true);
    checkpoint(m);
    sync_logs(m);
    return 0;
}

void app_nv_close(app_meter_t *m)
{
    app_nv_sync(m, true);
    if (m->nvf.fd >= 0)
        lx_nv_close(&m->nvf);
}

/* ---- reporting ----------------------------------------------------------------------- */

static const char *verdict_str(const app_meter_t *m)
{
    if (m->nvs.verdict == NV_EMPTY)
        return "new";
    return m->nvs.older ? "older-accepted" : "loaded";
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void app_nv_status_json(const app_meter_t *m, FILE *f)
{
    const app_nv_stat_t *s = &m->nvs;
    char why[160] = "";
    fputs("\"nv\":{\"path\":", f);
    json_str(f, path_of(m));
    fprintf(f, ",\"load\":{\"verdict\":\"%s\",\"slots\":[", verdict_str(m));
    json_str(f, nv_slot_str(s->slot[0]));
    fputc(',', f);
    json_str(f, nv_slot_str(s->slot[1]));
    fputs("],\"logs\":[", f);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        const nv_tl_restore_info_t *r = &s->load_tl[k];
        fprintf(f, "%s{\"records\":%u,\"damaged\":%u,\"missing\":%u,\"dropped\":%u,"
                   "\"from_checkpoint\":%s}", k ? "," : "", r->records, r->damaged, r->missing,
                r->dropped, r->from_checkpoint ? "true" : "false");
    }
    fprintf(f, "]},\"checkpoint\":{\"ok\":%s,\"saved\":%u,\"failed\":%u,\"full\":%u},"
               "\"writes_refused\":%u,\"undo_failed\":%u,\"logs\":[",
            s->failing ? "false" : "true", m->nv_saves, s->save_failed, s->save_full, s->refused,
            s->undo_failed);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        const tl_log_t *l = &m->mt.dev.tl[k];
        uint32_t waiting = l->total - l->stored;
        fprintf(f, "%s{\"ok\":%s,\"stored\":%u,\"waiting\":%u,\"failed\":%u}", k ? "," : "",
                s->log_failing[k] ? "false" : "true", l->stored, waiting,
                s->append_failed[k]);
    }
    fprintf(f, "],\"errors\":%u,\"last_error\":", m->nv_errors);
    if (s->last_rc)
        json_str(f, reason(m, why, sizeof why));
    else
        fputs("null", f);
    fputc('}', f);
}

/* Append text to buf (always terminated); the running length. */
static size_t add(char *buf, size_t cap, size_t n, const char *text)
{
    if (n + 1 >= cap)
        return n;
    int k = snprintf(buf + n, cap - n, "%s%s", n ? "; " : "NV: ", text);
    if (k < 0)
        return n;
    return n + (size_t)k >= cap ? cap - 1 : n + (size_t)k;
}

size_t app_nv_status_short(const app_meter_t *m, char *buf, size_t cap)
{
    const app_nv_stat_t *s = &m->nvs;
    char w[96];
    size_t n = 0;
    if (!cap)
        return 0;
    buf[0] = '\0';
    if (s->failing) {
        snprintf(w, sizeof w, "%s, saves failing, %u writes refused",
                 s->last_rc == NV_ENOSPC ? "FULL" : "I/O ERROR", s->refused);
        n = add(buf, cap, n, w);
    } else if (s->refused) {
        snprintf(w, sizeof w, "%u writes refused", s->refused);
        n = add(buf, cap, n, w);
    }
    for (unsigned k = 0; k < TL_COUNT; k++) {
        uint32_t waiting = m->mt.dev.tl[k].total - m->mt.dev.tl[k].stored;
        if (s->log_failing[k]) {
            snprintf(w, sizeof w, "TL%u not stored (%u waiting)", k + 1, waiting);
            n = add(buf, cap, n, w);
        }
    }
    if (s->older)
        n = add(buf, cap, n, "started from an OLDER state");
    uint32_t bad = 0;
    for (unsigned k = 0; k < TL_COUNT; k++)
        bad += s->load_tl[k].damaged + s->load_tl[k].missing;
    if (bad) {
        snprintf(w, sizeof w, "%u trend records lost or damaged at load", bad);
        n = add(buf, cap, n, w);
    }
    return n;
}
