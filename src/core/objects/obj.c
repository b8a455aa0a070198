/*
 * The object model: the device context, its clock, object enumeration, and the one
 * read/write path for every property of every object (obj_props.c holds the tables).
 */
#include "obj.h"

#include <math.h>
#include <string.h>


static int64_t interval_slot(const obj_device_t *d, tl_time_t now);
static void log_all(obj_device_t *d, tl_time_t now);

const obj_def_t *obj_find(uint8_t type, uint32_t instance)
{
    /* The table is AI1..83, AV1..11, BI1..15 in order (test_objects pins it): index
     * arithmetic instead of a search, since every request looks objects up. */
    size_t base, n;
    switch (type) {
    case OBJ_AI: base = 0, n = OBJ_N_AI; break;
    case OBJ_AV: base = OBJ_N_AI, n = OBJ_N_AV; break;
    case OBJ_BI: base = OBJ_N_AI + OBJ_N_AV, n = OBJ_N_BI; break;
    default: return NULL;
    }
    if (instance < 1 || instance > n)
        return NULL;
    return &obj_defs[base + instance - 1];
}

/* ---- identity and init -------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void append_str(char *dst, size_t cap, const char *src)
{
    size_t used = strlen(dst);
    copy_str(dst + used, cap - used, src);
}

void obj_identity_default(obj_identity_t *id, const char *serial)
{
    memset(id, 0, sizeof *id);
    copy_str(id->serial, sizeof id->serial, serial);
    /* FNV-1a of the serial: the same unit always gets the same factory instance. */
    uint32_t h = 2166136261u;
    for (const char *p = id->serial; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    id->instance = 1000000u + h % 2097152u; /* 1,000,000..3,097,151 */
    copy_str(id->name, sizeof id->name, "Leviton S4100 Series Energy Meter - S/N: ");
    append_str(id->name, sizeof id->name, id->serial);
    copy_str(id->location, sizeof id->location, "Installed location not yet identified");
    id->max_master = 127;
    id->max_info_frames = 1;
    id->mac = 1;
    id->baud = 76800;
}

bool obj_baud_valid(uint32_t baud)
{
    return baud == 9600 || baud == 19200 || baud == 38400 || baud == 76800 || baud == 115200;
}

int obj_set_instance(obj_device_t *d, uint32_t instance)
{
    if (instance < OBJ_INSTANCE_MIN || instance > OBJ_INSTANCE_MAX)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.instance = instance;
    d->writes++;
    return OBJ_OK;
}

int obj_set_max_master(obj_device_t *d, uint32_t mm)
{
    /* 1..127, and not below our own MAC: poll-for-master could not reach us. */
    if (mm < 1 || mm > 127 || mm < d->id.mac)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.max_master = (uint8_t)mm;
    d->writes++;
    return OBJ_OK;
}

int obj_set_mac(obj_device_t *d, uint32_t mac)
{
    if (mac > 127 || mac > d->id.max_master)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.mac = (uint8_t)mac;
    d->writes++;
    return OBJ_OK;
}

int obj_set_baud(obj_device_t *d, uint32_t baud)
{
    if (!obj_baud_valid(baud))
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.baud = baud;
    d->writes++;
    return OBJ_OK;
}

int obj_av_write(obj_device_t *d, unsigned av, float v)
{
    if (av < 1 || av > 11 || !isfinite(v))
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    if (av == 1) {
        if (v != floorf(v) || v < 0 || v > 65535 || mtr_command(&d->mtr, (uint32_t)v) != MTR_OK)
            return BAC_ERR_VALUE_OUT_OF_RANGE;
        return OBJ_OK;
    }
    /* Checked against the pending configuration, so AV5 then AV6 in one breath works. */
    if (mtr_setting_set(&d->pending_cfg, (mtr_setting_t)av, v) != MTR_OK)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->pending_avs |= (uint16_t)(1u << av);
    d->writes++;
    return OBJ_OK;
}

float obj_av_value(const obj_device_t *d, unsigned av)
{
    if (av == 1)
        return 0.0f;
    return mtr_setting_get(&d->pending_cfg, (mtr_setting_t)av);
}

void obj_init(obj_device_t *d, const obj_identity_t *id, const mtr_config_t *cfg,
              const mtr_nv_t *nv)
{
    memset(d, 0, sizeof *d);
    d->id = *id;
    mtr_init(&d->mtr, cfg, nv);
    d->pending_cfg = *cfg;
    /* What the logs record out of the box: energy in and out, and the demand. */
    static const uint32_t logged[TL_COUNT] = {MTR_AI_KWH_IMP, MTR_AI_KWH_EXP, MTR_AI_KW_DEM};
    for (int k = 0; k < TL_COUNT; k++)
        tl_init(&d->tl[k], logged[k]);
    d->tl_slot = interval_slot(d, obj_clock_now(d));
}

void obj_restart(obj_device_t *d, bool power_loss)
{
    mtr_nv_t nv = d->mtr.nv;
    mtr_config_t cfg = d->pending_cfg; /* accepted writes survive a restart */
    tl_time_t now = obj_clock_now(d);
    bool rtc_reset = d->mtr.rtc_reset;
    /* An AV11 write still pending restarts the logs as it would have at the cycle's end. */
    bool purge = d->pending_avs & (1u << MTR_SET_SUBINTERVAL_LEN);
    mtr_init(&d->mtr, &cfg, &nv);
    d->pending_avs = 0;
    if (purge)
        for (int k = 0; k < TL_COUNT; k++)
            tl_purge(&d->tl[k], now);
    if (power_loss) {
        d->clock_cs = 0, d->clock_n = 0;
        mtr_power_up(&d->mtr);
    } else {
        d->clock_cs = now, d->clock_n = 0; /* the engine restarted at sample 0 */
        d->mtr.rtc_reset = rtc_reset; /* an unsynchronized clock stays so */
    }
    d->tl_slot = interval_slot(d, obj_clock_now(d));
}

void obj_commit_settings(obj_device_t *d)
{
    if (!d->pending_avs)
        return;
    tl_time_t now = obj_clock_now(d);
    /* Every pending value passed its check when written, so this cannot fail; if it
     * ever did, keep the running configuration rather than half of it. */
    if (mtr_configure(&d->mtr, &d->pending_cfg) != MTR_OK)
        d->pending_cfg = d->mtr.cfg;
    if (d->pending_avs & (1u << MTR_SET_SUBINTERVAL_LEN)) {
        /* Writing AV11 (= every Log_Interval) restarts the logs (M14). */
        for (int k = 0; k < TL_COUNT; k++)
            tl_purge(&d->tl[k], now);
        d->tl_slot = interval_slot(d, now);
    }
    d->pending_avs = 0;
}

void obj_cycle(obj_device_t *d)
{
    tl_time_t now = obj_clock_now(d);
    obj_commit_settings(d);
    if (d->mtr.cfg.subinterval_cs == 0) {
        if (d->mtr.events & MTR_EV_SYNC)
            log_all(d, now); /* sync-to-comms: AV1 = 21211 logs a record */
        return;
    }
    int64_t slot = interval_slot(d, now);
    if (slot != d->tl_slot) {
        d->tl_slot = slot;
        /* Stamped with the boundary itself: the cycle that sees it ends within 1 s. */
        log_all(d, slot * (int64_t)d->mtr.cfg.subinterval_cs);
    }
}

/* ---- clock ---------------------------------------------------------------------------- */

tl_time_t obj_clock_now(const obj_device_t *d)
{
    int64_t dn = (int64_t)(d->mtr.n - d->clock_n) * 100; /* samples x 100 */
    return d->clock_cs + (dn >= 0 ? dn / MTR_FS : -((-dn + MTR_FS - 1) / MTR_FS));
}

void obj_clock_get(const obj_device_t *d, obj_datetime_t *dt)
{
    tl_time_split(obj_clock_now(d), &dt->date, &dt->time);
}

static int64_t interval_slot(const obj_device_t *d, tl_time_t now)
{
    int64_t iv = d->mtr.cfg.subinterval_cs;
    if (iv <= 0)
        return 0;
    return now >= 0 ? now / iv : -((-now + iv - 1) / iv);
}

bool obj_clock_set(obj_device_t *d, const obj_datetime_t *dt)
{
    tl_time_t t, before = obj_clock_now(d);
    if (!tl_time_join(&dt->date, &dt->time, &t))
        return false;
    d->clock_cs = t, d->clock_n = d->mtr.n;
    mtr_rtc_synced(&d->mtr);
    /* Each log notes the jump (a time-change record: seconds the clock moved), and the
     * interval restarts from the new time rather than logging the jump itself. */
    tl_record_t r = {.t = t, .kind = TL_REC_TIME_CHANGE, .value = (float)(t - before) / 100.0f};
    for (int k = 0; k < TL_COUNT; k++)
        if (d->tl[k].enable)
            tl_append(&d->tl[k], &r);
    d->tl_slot = interval_slot(d, t);
    return true;
}

static void log_all(obj_device_t *d, tl_time_t now)
{
    for (int k = 0; k < TL_COUNT; k++) {
        tl_log_t *l = &d->tl[k];
        if (!tl_active(l, now))
            continue;
        tl_record_t r = {.t = now, .kind = TL_REC_REAL, .value = d->mtr.ai[l->ai],
                         .flags = mtr_ai_unreliable(&d->mtr, l->ai) ? 2u : 0u};
        tl_append(l, &r);
    }
}

/* ---- objects ---------------------------------------------------------------------------- */

size_t obj_count(const obj_device_t *d)
{
    (void)d;
    return 1 + obj_def_count + TL_COUNT;
}

bac_oid_t obj_at(const obj_device_t *d, size_t index)
{
    if (index == 0)
        return (bac_oid_t){OBJ_DEVICE, d->id.instance};
    if (index > obj_def_count)
        return (bac_oid_t){OBJ_TL, (uint32_t)(index - obj_def_count)};
    const obj_def_t *def = &obj_defs[index - 1];
    return (bac_oid_t){def->type, def->instance};
}

tl_log_t *obj_tl(obj_device_t *d, bac_oid_t oid)
{
    if (oid.type != OBJ_TL || oid.instance < 1 || oid.instance > TL_COUNT)
        return NULL;
    return &d->tl[oid.instance - 1];
}

void obj_tl_attach(obj_device_t *d, const tl_store_t *st)
{
    for (unsigned k = 0; k < TL_COUNT; k++)
        tl_attach(&d->tl[k], st, k, 0);
}

static const char *const tl_names[TL_COUNT] = {"Trend_Log_1", "Trend_Log_2", "Trend_Log_3"};

bac_oid_t obj_resolve(const obj_device_t *d, bac_oid_t oid)
{
    if (oid.type == OBJ_DEVICE && oid.instance == OBJ_DEVICE_WILDCARD)
        oid.instance = d->id.instance;
    return oid;
}

bool obj_exists(const obj_device_t *d, bac_oid_t oid)
{
    if (oid.type == OBJ_DEVICE)
        return oid.instance == d->id.instance;
    if (oid.type == OBJ_TL)
        return oid.instance >= 1 && oid.instance <= TL_COUNT;
    return oid.type <= 0xFF && obj_find((uint8_t)oid.type, oid.instance) != NULL;
}

const char *obj_name(const obj_device_t *d, bac_oid_t oid)
{
    if (oid.type == OBJ_DEVICE)
        return oid.instance == d->id.instance ? d->id.name : NULL;
    if (oid.type == OBJ_TL)
        return oid.instance >= 1 && oid.instance <= TL_COUNT ? tl_names[oid.instance - 1] : NULL;
    const obj_def_t *def = oid.type <= 0xFF ? obj_find((uint8_t)oid.type, oid.instance) : NULL;
    return def ? def->name : NULL;
}

bool obj_by_name(const obj_device_t *d, const char *name, size_t len, bac_oid_t *oid)
{
    for (size_t k = 0; k < obj_count(d); k++) {
        bac_oid_t o = obj_at(d, k);
        const char *n = obj_name(d, o);
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *oid = o;
            return true;
        }
    }
    return false;
}

uint32_t obj_reliability(const obj_device_t *d, bac_oid_t oid)
{
    if (oid.type == OBJ_AI && mtr_ai_unreliable(&d->mtr, oid.instance))
        return BAC_RELIABILITY_UNRELIABLE_OTHER;
    if (oid.type == OBJ_AV && oid.instance < 16 && (d->pending_avs >> oid.instance & 1u))
        return BAC_RELIABILITY_UNRELIABLE_OTHER; /* written, not yet committed (M14) */
    return BAC_RELIABILITY_NO_FAULT_DETECTED;
}
