/*
 * The object model: the device context, its clock, object enumeration, and the one
 * read/write path for every property of every object (obj_props.c holds the tables).
 */
#include "obj.h"

#include <math.h>
#include <string.h>


const obj_def_t *obj_find(uint8_t type, uint32_t instance)
{
    for (size_t k = 0; k < obj_def_count; k++)
        if (obj_defs[k].type == type && obj_defs[k].instance == instance)
            return &obj_defs[k];
    return NULL;
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
    return OBJ_OK;
}

int obj_set_max_master(obj_device_t *d, uint32_t mm)
{
    /* 1..127, and not below our own MAC: poll-for-master could not reach us. */
    if (mm < 1 || mm > 127 || mm < d->id.mac)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.max_master = (uint8_t)mm;
    return OBJ_OK;
}

int obj_set_mac(obj_device_t *d, uint32_t mac)
{
    if (mac > 127 || mac > d->id.max_master)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.mac = (uint8_t)mac;
    return OBJ_OK;
}

int obj_set_baud(obj_device_t *d, uint32_t baud)
{
    if (!obj_baud_valid(baud))
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->id.baud = baud;
    return OBJ_OK;
}

int obj_av_write(obj_device_t *d, unsigned av, double v)
{
    if (av < 1 || av > 11 || !isfinite(v))
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    if (av == 1) {
        if (v != floor(v) || v < 0 || v > 65535 || mtr_command(&d->mtr, (uint32_t)v) != MTR_OK)
            return BAC_ERR_VALUE_OUT_OF_RANGE;
        return OBJ_OK;
    }
    /* Checked against the pending configuration, so AV5 then AV6 in one breath works. */
    if (mtr_setting_set(&d->pending_cfg, (mtr_setting_t)av, v) != MTR_OK)
        return BAC_ERR_VALUE_OUT_OF_RANGE;
    d->pending_avs |= (uint16_t)(1u << av);
    return OBJ_OK;
}

double obj_av_value(const obj_device_t *d, unsigned av)
{
    if (av == 1)
        return 0.0;
    return mtr_setting_get(&d->pending_cfg, (mtr_setting_t)av);
}

void obj_init(obj_device_t *d, const obj_identity_t *id, const mtr_config_t *cfg,
              const mtr_nv_t *nv)
{
    memset(d, 0, sizeof *d);
    d->id = *id;
    mtr_init(&d->mtr, cfg, nv);
    d->pending_cfg = *cfg;
}

void obj_cycle(obj_device_t *d)
{
    if (!d->pending_avs)
        return;
    /* Every pending value passed its check when written, so this cannot fail; if it
     * ever did, keep the running configuration rather than half of it. */
    if (mtr_configure(&d->mtr, &d->pending_cfg) != MTR_OK)
        d->pending_cfg = d->mtr.cfg;
    d->pending_avs = 0;
}

/* ---- clock ---------------------------------------------------------------------------- */

/* Days since 2000-01-01 of a civil date (proleptic Gregorian). */
static long days_from_civil(int y, int m, int dd)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 730425; /* 730425: days from 0000-03-01 to 2000-01-01 */
}

static void civil_from_days(long z, int *y, int *m, int *dd)
{
    z += 730425;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static double clock_now(const obj_device_t *d)
{
    return d->clock_base + (double)d->mtr.n / MTR_FS;
}

void obj_clock_get(const obj_device_t *d, obj_datetime_t *dt)
{
    double t = clock_now(d);
    long days = (long)floor(t / 86400.0);
    double sod = t - (double)days * 86400.0;
    long cs = (long)floor(sod * 100.0);
    if (cs >= 8640000) /* rounding at midnight */
        cs = 8639999;
    int y, m, dd;
    civil_from_days(days, &y, &m, &dd);
    long wd = ((days % 7) + 7 + 5) % 7; /* 2000-01-01 was a Saturday: 5 = Sat from Mon 0 */
    dt->date = (bac_date_t){(uint8_t)(y - 1900), (uint8_t)m, (uint8_t)dd, (uint8_t)(wd + 1)};
    dt->time = (bac_time_t){(uint8_t)(cs / 360000), (uint8_t)(cs / 6000 % 60),
                            (uint8_t)(cs / 100 % 60), (uint8_t)(cs % 100)};
}

static int days_in_month(int y, int m)
{
    static const uint8_t dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

bool obj_clock_set(obj_device_t *d, const obj_datetime_t *dt)
{
    const bac_date_t *a = &dt->date;
    const bac_time_t *t = &dt->time;
    if (a->year == BAC_ANY || a->month < 1 || a->month > 12 || a->day < 1)
        return false;
    int y = 1900 + a->year;
    if (a->day > days_in_month(y, a->month))
        return false;
    if (t->hour > 23 || t->min > 59 || t->sec > 59 || t->hundredths > 99)
        return false; /* also every wildcard (0xFF) */
    double secs = (double)days_from_civil(y, a->month, a->day) * 86400.0 + t->hour * 3600.0 +
                  t->min * 60.0 + t->sec + t->hundredths / 100.0;
    d->clock_base = secs - (double)d->mtr.n / MTR_FS;
    mtr_rtc_synced(&d->mtr);
    return true;
}

/* ---- objects ---------------------------------------------------------------------------- */

size_t obj_count(const obj_device_t *d)
{
    (void)d;
    return 1 + obj_def_count;
}

bac_oid_t obj_at(const obj_device_t *d, size_t index)
{
    if (index == 0)
        return (bac_oid_t){OBJ_DEVICE, d->id.instance};
    const obj_def_t *def = &obj_defs[index - 1];
    return (bac_oid_t){def->type, def->instance};
}

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
    return oid.type <= 0xFF && obj_find((uint8_t)oid.type, oid.instance) != NULL;
}

const char *obj_name(const obj_device_t *d, bac_oid_t oid)
{
    if (oid.type == OBJ_DEVICE)
        return oid.instance == d->id.instance ? d->id.name : NULL;
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
