/*
 * The meter's non-volatile memory on the host: the core's NV policy (src/core/persist:
 * load and judge, checkpoint, trend records to the rings, a write durable or undone)
 * over a crash-safe file (src/port/linux/nv_file.c). This layer only says what the
 * policy finds and does: every load verdict is printed, a refusal stops the meter, a
 * failure is said once when it starts and once when it ends, the file's errno is kept,
 * and the counts go to 'ctl status' and the status line. docs/nv.md has the verdicts.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "meter.h"

static const char *path_of(const app_meter_t *m)
{
    return m->opts && m->opts->nv_path ? m->opts->nv_path : "NV";
}

/* The reason for the newest failure, with the file's errno when it has one. */
static const char *reason(const app_meter_t *m, char *buf, size_t cap)
{
    if (m->nv_errno)
        snprintf(buf, cap, "%s (%s)", nv_strerror(m->pst.stat.last_rc), strerror(m->nv_errno));
    else
        snprintf(buf, cap, "%s", nv_strerror(m->pst.stat.last_rc));
    return buf;
}

/* The core's clock for NV: the wall's monotonic milliseconds (a checkpoint a wall second,
 * whatever the meters' time scale). */
static uint32_t now_ms(app_meter_t *m)
{
    m->nvf.err = 0; /* what follows fails with its own errno, or none */
    return lx_now_ms();
}

/* The core's transitions, said once each; every failure keeps the file's errno. */
static void on_event(void *ctx, const pst_event_t *ev)
{
    app_meter_t *m = ctx;
    const pst_stat_t *s = &m->pst.stat;
    char why[160];
    if (ev->kind == PST_EV_SAVE_FAILED || ev->kind == PST_EV_LOG_FAILED) {
        m->nv_errno = m->nvf.fd >= 0 ? m->nvf.err : 0;
        m->nvf.err = 0;
    }
    if (ev->kind == PST_EV_SAVE_FAILED && ev->first)
        fprintf(stderr, "s4100 run: %s: checkpoint failed: %s; retried each second, and "
                        "every write is refused until a checkpoint succeeds\n", path_of(m),
                reason(m, why, sizeof why));
    else if (ev->kind == PST_EV_SAVE_BACK)
        fprintf(stderr, "s4100 run: %s: checkpoint saved again (%u failed so far)\n", path_of(m),
                s->save_failed);
    else if (ev->kind == PST_EV_LOG_FAILED && ev->first)
        fprintf(stderr, "s4100 run: %s: trend log %u: storing records failed: %s; they "
                        "wait in memory (the newest %u) and are retried\n", path_of(m),
                ev->log + 1, reason(m, why, sizeof why), TL_CACHE_SIZE);
    else if (ev->kind == PST_EV_LOG_BACK)
        fprintf(stderr, "s4100 run: %s: trend log %u: stored again, the ring has caught up "
                        "(%u failures so far)\n", path_of(m), ev->log + 1, s->append_failed[ev->log]);
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
                m->pst.load.tl_total[k]);
}

static void say_logs(const app_meter_t *m)
{
    const pst_load_t *L = &m->pst.load;
    for (unsigned k = 0; k < TL_COUNT; k++) {
        if (L->tl_rc[k] < 0)
            fprintf(stderr, "s4100 run: %s: trend log %u: %s: it starts empty\n", path_of(m),
                    k + 1, nv_strerror(L->tl_rc[k]));
        say_log_damage(m, k, &L->tl[k]);
    }
}

/* What a load that went on found (the core's verdict, pst_load). */
static void say_loaded(const app_meter_t *m)
{
    const char *path = path_of(m);
    const nv_load_info_t *info = &m->pst.load.info;
    int other = info->used == 0 ? 1 : 0;
    if (info->older)
        fprintf(stderr, "s4100 run: %s: WARNING: slot %c was erased after use; started from slot "
                        "%c (save %u), which may be older than the last save (--nv-accept-older)\n",
                path, 'A' + other, 'A' + info->used, info->seq);
    else if (info->slot[other] != NV_SLOT_OK)
        fprintf(stderr, "s4100 run: %s: slot %c is %s (a save cut short, or damage); loaded the "
                        "newest intact state from slot %c (save %u): nothing acknowledged is lost\n",
                path, 'A' + other, nv_slot_str(info->slot[other]), 'A' + info->used, info->seq);
    uint32_t missing = info->missing & ~NV_SEC_BIT(NV_SEC_TLSTATE); /* older stores lack it */
    if (missing || info->invalid)
        fprintf(stderr, "s4100 run: %s: sections missing 0x%x or out of range 0x%x kept their "
                        "defaults\n", path, missing, info->invalid);
    say_logs(m);
}

/* The verdict of a load said. 1: nothing stored yet; 0: loaded; -1: refused. */
static int say_load(const app_meter_t *m, pst_open_t rc)
{
    const nv_load_info_t *info = &m->pst.load.info;
    if (rc == PST_NEW) {
        if (info->slot[0] != NV_SLOT_BLANK || info->slot[1] != NV_SLOT_BLANK)
            fprintf(stderr, "s4100 run: %s: slot A %s, slot B %s, rings empty: the very first "
                            "save was cut short, nothing had been acknowledged; a new store\n",
                    path_of(m), nv_slot_str(info->slot[0]), nv_slot_str(info->slot[1]));
        return 1;
    }
    if (rc < 0) {
        say_refused(m, m->pst.load.verdict, info);
        return -1;
    }
    say_loaded(m);
    return 0;
}

/* ---- saving ------------------------------------------------------------------------- */

int app_nv_checkpoint(app_meter_t *m)
{
    return pst_checkpoint(&m->pst, now_ms(m));
}

void app_nv_sync(app_meter_t *m, bool force)
{
    pst_sync(&m->pst, force, now_ms(m));
}

int app_nv_commit_write(app_meter_t *m, bac_error_t *err)
{
    return pst_commit_write(&m->pst, err, now_ms(m));
}

/* ---- start, power cycles, stop --------------------------------------------------------- */

/* Explicit options win over what the meter remembers: a commissioning act. */
static int commission(app_meter_t *m, const app_settings_t *st, long device_id)
{
    bool any = device_id > 0;
    for (int k = 0; st && k < APP_N_SETTINGS; k++)
        any |= st->given[k];
    if (any && app_settings_apply(st, &m->mt.dev.pending_cfg, "run") < 0)
        return -1;
    if (device_id > 0)
        m->mt.dev.id.instance = (uint32_t)device_id;
    return 0;
}

int app_nv_attach(app_meter_t *m, const nv_port_t *port, const app_settings_t *st, long device_id)
{
    const char *path = path_of(m);
    nv_layout_t layout = pst_layout_s4100();
    pst_opts_t o = {.notify = {m, on_event}};
    if (m->opts && m->opts->nv_accept_older)
        o.flags |= PST_ACCEPT_OLDER;
    m->nv_errno = 0;
    pst_open_t orc = pst_open(&m->pst, &m->mt, port, &layout, &o);
    if (orc == PST_NOFIT) {
        fprintf(stderr, "s4100 run: %s: the store does not fit its medium\n", path);
        return -1;
    }
    int lrc = say_load(m, orc);
    if (lrc < 0 || commission(m, st, device_id) < 0)
        return -1;
    int up = pst_start(&m->pst, now_ms(m)); /* the power-up, then its first checkpoint */
    obj_device_t *d = &m->mt.dev;
    if (m->opts && !m->opts->quiet)
        printf("s4100 run: NV %s: %s, power-up %u, %.3f kWh imported\n", path,
               lrc == 1 ? "new store (factory state)" : m->pst.load.info.older
                                                          ? "loaded an OLDER state"
                                                          : "loaded",
               d->mtr.nv.power_ups, mtr_energy_kwh(&d->mtr.nv.e[MTR_E_KWH_IMP]));
    if (up < 0) {
        fprintf(stderr, "s4100 run: %s: the store cannot be written: not started\n", path);
        return -1;
    }
    return 0;
}

int app_nv_start(app_meter_t *m, const app_settings_t *st, long device_id)
{
    const char *path = m->opts->nv_path;
    nv_layout_t layout = pst_layout_s4100();
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

/* Load and power up as two steps, so that what the load found is said first. */
int app_nv_reload(app_meter_t *m)
{
    if (say_load(m, pst_load(&m->pst)) < 0)
        return -1;
    pst_start(&m->pst, now_ms(m)); /* a failing checkpoint is said, counted and retried */
    return 0;
}

void app_nv_close(app_meter_t *m)
{
    pst_close(&m->pst, now_ms(m));
    if (m->nvf.fd >= 0)
        lx_nv_close(&m->nvf);
}

/* ---- reporting ----------------------------------------------------------------------- */

static const char *verdict_str(const app_meter_t *m)
{
    if (m->pst.load.verdict == NV_EMPTY)
        return "new";
    return m->pst.load.info.older ? "older-accepted" : "loaded";
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
    const pst_stat_t *s = &m->pst.stat;
    const pst_load_t *L = &m->pst.load;
    char why[160] = "";
    fputs("\"nv\":{\"path\":", f);
    json_str(f, path_of(m));
    fprintf(f, ",\"load\":{\"verdict\":\"%s\",\"slots\":[", verdict_str(m));
    json_str(f, nv_slot_str(L->info.slot[0]));
    fputc(',', f);
    json_str(f, nv_slot_str(L->info.slot[1]));
    fputs("],\"logs\":[", f);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        const nv_tl_restore_info_t *r = &L->tl[k];
        fprintf(f, "%s{\"records\":%u,\"damaged\":%u,\"missing\":%u,\"dropped\":%u,"
                   "\"from_checkpoint\":%s}", k ? "," : "", r->records, r->damaged, r->missing,
                r->dropped, r->from_checkpoint ? "true" : "false");
    }
    fprintf(f, "]},\"checkpoint\":{\"ok\":%s,\"saved\":%u,\"failed\":%u,\"full\":%u},"
               "\"writes_refused\":%u,\"undo_failed\":%u,\"logs\":[",
            s->failing ? "false" : "true", s->saves, s->save_failed, s->save_full, s->refused,
            s->undo_failed);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        fprintf(f, "%s{\"ok\":%s,\"stored\":%u,\"waiting\":%u,\"failed\":%u}", k ? "," : "",
                s->log_failing[k] ? "false" : "true", m->mt.dev.tl[k].stored,
                pst_waiting(&m->pst, k),
                s->append_failed[k]);
    }
    fprintf(f, "],\"errors\":%u,\"last_error\":", s->errors);
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
    const pst_stat_t *s = &m->pst.stat;
    const pst_load_t *L = &m->pst.load;
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
        if (s->log_failing[k]) {
            snprintf(w, sizeof w, "TL%u not stored (%u waiting)", k + 1, pst_waiting(&m->pst, k));
            n = add(buf, cap, n, w);
        }
    }
    if (L->info.older)
        n = add(buf, cap, n, "started from an OLDER state");
    uint32_t bad = 0;
    for (unsigned k = 0; k < TL_COUNT; k++)
        bad += L->tl[k].damaged + L->tl[k].missing;
    if (bad) {
        snprintf(w, sizeof w, "%u trend records lost or damaged at load", bad);
        n = add(buf, cap, n, w);
    }
    return n;
}
