/*
 * The meter's NV policy (persist.h). What the datasheet marks NV survives any power cut:
 * the energy within one checkpoint period, every acknowledged write exactly (durable
 * before its acknowledgement leaves, or refused and undone), every trend record as it is
 * logged. Damage is never silent: a load that would lose state is refused, and every
 * failure is counted and reported through the notify hook.
 */
#include "persist/persist.h"

#include <string.h>

#define PST_PERIOD_MS 1000u

static nv_image_t image(pst_t *p)
{
    obj_device_t *d = &p->m->dev;
    return (nv_image_t){&d->mtr.nv, &d->pending_cfg, &d->id, d->tl, NULL};
}

static void notify(pst_t *p, pst_event_kind_t kind, unsigned log, int rc, bool first)
{
    if (p->opts.notify.fn)
        p->opts.notify.fn(p->opts.notify.ctx, &(pst_event_t){kind, rc, log, first});
}

static void note_failure(pst_t *p, int rc)
{
    p->stat.errors++;
    p->stat.last_rc = rc;
}

nv_layout_t pst_layout_s4100(void)
{
    return NV_S4100_LAYOUT;
}

uint32_t pst_waiting(const pst_t *p, unsigned k)
{
    const tl_log_t *l = &p->m->dev.tl[k];
    return l->total - l->stored;
}

/* ---- loading ------------------------------------------------------------------------- */

/* Trend logs from the rings and the checkpoint's account of them (ck: NULL when the
 * store predates it). A log that cannot be read starts empty, attached to its ring. */
static void load_logs(pst_t *p, const nv_tl_state_t *ck)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        tl_log_t *l = &p->m->dev.tl[k];
        p->load.tl_rc[k] = nv_tl_restore(&p->rings, k, l, ck ? &ck[k] : NULL, &p->load.tl[k]);
        p->load.tl_total[k] = l->total;
    }
}

pst_open_t pst_load(pst_t *p)
{
    nv_tl_state_t tls[TL_COUNT];
    memset(tls, 0, sizeof tls);
    memset(&p->load, 0, sizeof p->load);
    nv_image_t img = image(p);
    img.tl_state = tls;
    unsigned flags = p->opts.flags & PST_ACCEPT_OLDER ? NV_LOAD_ACCEPT_OLDER : 0;
    int rc = nv_load_ex(&p->nv, &img, &p->load.info, flags);
    p->load.verdict = rc;
    if (rc == NV_EMPTY) {
        tl_store_t rings = nv_tl_store(&p->rings);
        obj_tl_attach(&p->m->dev, &rings); /* new: the first sync starts every ring */
        return PST_NEW;
    }
    if (rc < 0)
        return PST_REFUSED;
    /* A store older than section 5 has no account of its logs: the rings alone tell. */
    bool counted = !(p->load.info.missing & NV_SEC_BIT(NV_SEC_TLSTATE));
    load_logs(p, counted ? tls : NULL);
    return PST_LOADED;
}

pst_open_t pst_open(pst_t *p, meter_t *m, const nv_port_t *port, const nv_layout_t *layout,
                    const pst_opts_t *opts)
{
    nv_layout_t lay = layout ? *layout : pst_layout_s4100();
    memset(p, 0, sizeof *p);
    p->m = m;
    if (opts)
        p->opts = *opts;
    if (!p->opts.checkpoint_ms)
        p->opts.checkpoint_ms = PST_PERIOD_MS;
    if (nv_open(&p->nv, port, &lay) != NV_OK)
        return PST_NOFIT;
    nv_tl_open(&p->rings, &p->nv);
    return pst_load(p);
}

/* ---- the durable state, and undoing a write that could not be made durable -------------- */

static void snapshot(pst_t *p)
{
    const obj_device_t *d = &p->m->dev;
    pst_durable_t *D = &p->durable;
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
static void mark_seen(pst_t *p, bool all)
{
    for (unsigned k = 0; k < TL_COUNT; k++) {
        const tl_log_t *l = &p->m->dev.tl[k];
        tl_log_t *s = &p->seen[k];
        if (all || l->total != s->total || l->stored != s->stored || l->count != s->count)
            *s = *l;
    }
}

/* A trend log the undone write changed after its ring did (a record pushed out of the
 * cache was stored meanwhile): read it back as the medium has it, then placeholders up
 * to what clients may have seen, so that no sequence number is given twice. */
static void reload_log(pst_t *p, unsigned k)
{
    tl_log_t *l = &p->m->dev.tl[k], *t = &p->scratch;
    *t = *l;
    if (nv_tl_restore(&p->rings, k, t, &p->durable.tls[k], NULL) != NV_OK) {
        p->stat.undo_failed++; /* cannot read it back: leave the log as it is */
        return;
    }
    tl_fill(t, p->seen[k].total, t->count ? tl_at(t, t->count - 1).t : 0);
    *l = *t;
}

/* AV writes still pending at the checkpoint stay pending (unless a cycle has put them
 * into effect since), and whatever differs from the running configuration is committed
 * at the next cycle, as a write would be. */
static uint16_t undo_pending_avs(const obj_device_t *d, const pst_durable_t *D)
{
    uint16_t avs = d->mtr.cycles == D->cycles ? D->avs : 0;
    for (unsigned av = 2; av <= 11; av++)
        if (mtr_setting_get(&d->pending_cfg, (mtr_setting_t)av) !=
            mtr_setting_get(&d->mtr.cfg, (mtr_setting_t)av))
            avs |= (uint16_t)(1u << av);
    return avs;
}

static void undo_log(pst_t *p, unsigned k)
{
    tl_log_t *l = &p->m->dev.tl[k];
    const pst_durable_t *D = &p->durable;
    /* The records as the last sync left them (the ring has not moved since: a write adds
     * at most one record, kept in the cache until a durable checkpoint). */
    if (l->total != p->seen[k].total) {
        if (l->stored == p->seen[k].stored)
            *l = p->seen[k];
        else
            reload_log(p, k);
    }
    l->enable = D->tl[k].enable;
    l->stop_when_full = D->tl[k].stop_when_full;
    l->start = D->tl[k].start;
    l->stop = D->tl[k].stop;
    l->ai = D->tl[k].ai;
}

/* Settings, identity and trend-log setup back to the newest durable checkpoint; energy
 * keeps counting. */
static void undo(pst_t *p)
{
    obj_device_t *d = &p->m->dev;
    d->pending_cfg = p->durable.cfg;
    d->pending_avs = undo_pending_avs(d, &p->durable);
    d->id = p->durable.id;
    for (unsigned k = 0; k < TL_COUNT; k++)
        undo_log(p, k);
    p->writes = d->writes; /* nothing left to save of it */
}

/* ---- saving ------------------------------------------------------------------------- */

static void checkpoint_failed(pst_t *p, int rc, uint32_t now_ms)
{
    note_failure(p, rc);
    p->stat.save_failed++;
    if (rc == NV_ENOSPC)
        p->stat.save_full++;
    p->retry_ms = now_ms + p->opts.checkpoint_ms;
    notify(p, PST_EV_SAVE_FAILED, 0, rc, !p->stat.failing);
    p->stat.failing = true;
}

int pst_checkpoint(pst_t *p, uint32_t now_ms)
{
    nv_image_t img = image(p);
    int rc = nv_save(&p->nv, &img);
    if (rc < 0) {
        checkpoint_failed(p, rc, now_ms);
        return rc;
    }
    if (p->stat.failing)
        notify(p, PST_EV_SAVE_BACK, 0, NV_OK, false);
    p->stat.failing = false;
    p->stat.saves++;
    p->writes = p->m->dev.writes;
    p->last_save_ms = now_ms;
    snapshot(p);
    return NV_OK;
}

/* New trend records and purges into the rings. A failure leaves the records waiting in
 * the logs' caches: the next call goes on from where this one stopped. */
static void sync_log(pst_t *p, unsigned k)
{
    tl_log_t *l = &p->m->dev.tl[k];
    if (l->total == l->stored)
        return;
    int rc = tl_flush(l);
    if (rc < 0) {
        note_failure(p, rc);
        p->stat.append_failed[k]++;
        notify(p, PST_EV_LOG_FAILED, k, rc, !p->stat.log_failing[k]);
        p->stat.log_failing[k] = true;
    } else if (p->stat.log_failing[k]) {
        p->stat.log_failing[k] = false;
        notify(p, PST_EV_LOG_BACK, k, NV_OK, false);
    }
}

static void sync_logs(pst_t *p)
{
    for (unsigned k = 0; k < TL_COUNT; k++)
        sync_log(p, k);
}

/* A failing checkpoint is retried once a period, not at every cycle: a dead medium must
 * not cost a write attempt per call. */
void pst_sync(pst_t *p, bool force, uint32_t now_ms)
{
    sync_logs(p);
    bool due = force || p->m->dev.writes != p->writes ||
               now_ms - p->last_save_ms >= p->opts.checkpoint_ms;
    bool retry = !p->stat.failing || (int32_t)(now_ms - p->retry_ms) >= 0;
    if (due && (force || retry))
        pst_checkpoint(p, now_ms);
    mark_seen(p, false);
}

int pst_commit_write(pst_t *p, bac_error_t *err, uint32_t now_ms)
{
    int rc = pst_checkpoint(p, now_ms); /* always tried: the medium may be back */
    if (rc < 0) {
        undo(p);
        p->stat.refused++;
        if (rc == NV_ENOSPC)
            *err = (bac_error_t){BAC_ERRCLASS_RESOURCES, BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY};
        else
            *err = (bac_error_t){BAC_ERRCLASS_DEVICE, BAC_ERR_OPERATIONAL_PROBLEM};
        return -1;
    }
    /* Durable now: the checkpoint holds a purge or a new record even if its ring cannot
     * take it yet (the loader puts it back). */
    sync_logs(p);
    mark_seen(p, false);
    return 0;
}

/* ---- power-up, power cycles, stop ------------------------------------------------------- */

static void power_up(pst_t *p)
{
    obj_restart(&p->m->dev, true); /* a power-up: counted, RTC reset, engine from NV */
    mark_seen(p, true);
}

int pst_start(pst_t *p, uint32_t now_ms)
{
    power_up(p);
    int rc = pst_checkpoint(p, now_ms);
    if (rc < 0)
        return rc;
    sync_logs(p); /* placeholders and records the checkpoint had to give back */
    return NV_OK;
}

pst_open_t pst_reload(pst_t *p, uint32_t now_ms)
{
    pst_open_t rc = pst_load(p);
    if (rc < 0)
        return rc;
    power_up(p);
    pst_checkpoint(p, now_ms); /* a failure is counted and retried: the meter goes on */
    sync_logs(p);
    return rc;
}

void pst_close(pst_t *p, uint32_t now_ms)
{
    pst_sync(p, true, now_ms);
}

/* ---- the meter's hooks ------------------------------------------------------------------ */

static int hook_commit(void *ctx, bac_error_t *err)
{
    pst_t *p = ctx;
    return pst_commit_write(p, err, p->m->now_ms);
}

static void hook_sync(void *ctx, bool force)
{
    pst_t *p = ctx;
    pst_sync(p, force, p->m->now_ms);
}

meter_nv_t pst_meter_nv(pst_t *p)
{
    return (meter_nv_t){.ctx = p, .commit = hook_commit, .sync = hook_sync};
}
