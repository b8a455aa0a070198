/*
 * Property tables of each object type and the read/write path. The values come from
 * the object definitions (obj_defs), the metering engine and the device identity; the
 * rules (types, ranges, access) are the PICS's.
 */
#include <math.h>
#include <string.h>

#include "obj.h"

#define OBJ_HAVE_TRENDLOG 1

enum { P_REQ = 1, P_OPT = 2, P_ARRAY = 4, P_W = 8 };

typedef struct {
    uint16_t id;
    uint8_t flags;
} prop_t;

static const prop_t device_props[] = {
    {BAC_PROP_OBJECT_IDENTIFIER, P_REQ | P_W},
    {BAC_PROP_OBJECT_NAME, P_REQ | P_W},
    {BAC_PROP_OBJECT_TYPE, P_REQ},
    {BAC_PROP_SYSTEM_STATUS, P_REQ},
    {BAC_PROP_VENDOR_NAME, P_REQ},
    {BAC_PROP_VENDOR_IDENTIFIER, P_REQ},
    {BAC_PROP_MODEL_NAME, P_REQ},
    {BAC_PROP_FIRMWARE_REVISION, P_REQ},
    {BAC_PROP_APPLICATION_SOFTWARE_VERSION, P_REQ},
    {BAC_PROP_PROTOCOL_VERSION, P_REQ},
    {BAC_PROP_PROTOCOL_REVISION, P_REQ},
    {BAC_PROP_PROTOCOL_SERVICES_SUPPORTED, P_REQ},
    {BAC_PROP_PROTOCOL_OBJECT_TYPES_SUPPORTED, P_REQ},
    {BAC_PROP_OBJECT_LIST, P_REQ | P_ARRAY},
    {BAC_PROP_MAX_APDU_LENGTH_ACCEPTED, P_REQ},
    {BAC_PROP_SEGMENTATION_SUPPORTED, P_REQ},
    {BAC_PROP_APDU_TIMEOUT, P_REQ},
    {BAC_PROP_NUMBER_OF_APDU_RETRIES, P_REQ},
    {BAC_PROP_DEVICE_ADDRESS_BINDING, P_REQ},
    {BAC_PROP_DATABASE_REVISION, P_REQ},
    {BAC_PROP_MAX_MASTER, P_OPT | P_W},
    {BAC_PROP_MAX_INFO_FRAMES, P_OPT},
    {BAC_PROP_DESCRIPTION, P_OPT},
    {BAC_PROP_LOCATION, P_OPT | P_W},
    {BAC_PROP_LOCAL_TIME, P_OPT},
    {BAC_PROP_LOCAL_DATE, P_OPT},
};

static const prop_t analog_props[] = { /* AI; AV adds write access to Present_Value */
    {BAC_PROP_OBJECT_IDENTIFIER, P_REQ},
    {BAC_PROP_OBJECT_NAME, P_REQ},
    {BAC_PROP_OBJECT_TYPE, P_REQ},
    {BAC_PROP_PRESENT_VALUE, P_REQ},
    {BAC_PROP_STATUS_FLAGS, P_REQ},
    {BAC_PROP_EVENT_STATE, P_REQ},
    {BAC_PROP_OUT_OF_SERVICE, P_REQ},
    {BAC_PROP_UNITS, P_REQ},
    {BAC_PROP_DESCRIPTION, P_OPT},
    {BAC_PROP_RELIABILITY, P_OPT},
};

static const prop_t binary_props[] = {
    {BAC_PROP_OBJECT_IDENTIFIER, P_REQ},
    {BAC_PROP_OBJECT_NAME, P_REQ},
    {BAC_PROP_OBJECT_TYPE, P_REQ},
    {BAC_PROP_PRESENT_VALUE, P_REQ},
    {BAC_PROP_STATUS_FLAGS, P_REQ},
    {BAC_PROP_EVENT_STATE, P_REQ},
    {BAC_PROP_OUT_OF_SERVICE, P_REQ},
    {BAC_PROP_POLARITY, P_REQ},
    {BAC_PROP_DESCRIPTION, P_OPT},
    {BAC_PROP_RELIABILITY, P_OPT},
};

static const prop_t trendlog_props[] = {
    {BAC_PROP_OBJECT_IDENTIFIER, P_REQ},
    {BAC_PROP_OBJECT_NAME, P_REQ},
    {BAC_PROP_OBJECT_TYPE, P_REQ},
    {BAC_PROP_LOG_ENABLE, P_REQ | P_W},
    {BAC_PROP_STOP_WHEN_FULL, P_REQ | P_W},
    {BAC_PROP_BUFFER_SIZE, P_REQ},
    {BAC_PROP_LOG_BUFFER, P_REQ},
    {BAC_PROP_RECORD_COUNT, P_REQ | P_W},
    {BAC_PROP_TOTAL_RECORD_COUNT, P_REQ},
    {BAC_PROP_EVENT_STATE, P_REQ},
    {BAC_PROP_STATUS_FLAGS, P_REQ},
    {BAC_PROP_DESCRIPTION, P_OPT},
    {BAC_PROP_START_TIME, P_OPT | P_W},
    {BAC_PROP_STOP_TIME, P_OPT | P_W},
    {BAC_PROP_LOG_DEVICE_OBJECT_PROPERTY, P_OPT | P_W},
    {BAC_PROP_LOG_INTERVAL, P_OPT | P_W},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const prop_t *props_of(uint16_t type, size_t *n)
{
    switch (type) {
    case OBJ_DEVICE: *n = N(device_props); return device_props;
    case OBJ_AI: case OBJ_AV: *n = N(analog_props); return analog_props;
    case OBJ_BI: *n = N(binary_props); return binary_props;
    case OBJ_TL: *n = N(trendlog_props); return trendlog_props;
    }
    *n = 0;
    return NULL;
}

static const prop_t *find_prop(uint16_t type, uint32_t id)
{
    size_t n;
    const prop_t *p = props_of(type, &n);
    for (size_t k = 0; k < n; k++)
        if (p[k].id == id)
            return &p[k];
    return NULL;
}

static bool prop_writable(uint16_t type, const prop_t *p)
{
    if (type == OBJ_AV && p->id == BAC_PROP_PRESENT_VALUE)
        return true;
    return (p->flags & P_W) != 0;
}

size_t obj_props(const obj_device_t *d, bac_oid_t oid, int which, uint32_t *out, size_t max)
{
    if (!obj_exists(d, oid))
        return 0;
    size_t n, k, got = 0;
    const prop_t *p = props_of(oid.type, &n);
    for (k = 0; k < n && got < max; k++) {
        bool req = p[k].flags & P_REQ;
        if (which == OBJ_PROPS_ALL || (which == OBJ_PROPS_REQUIRED) == req)
            out[got++] = p[k].id;
    }
    return got;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int fail(obj_err_t *err, uint8_t cls, uint8_t code)
{
    err->cls = cls;
    err->code = code;
    return OBJ_ERROR;
}

static int enc_str(bac_buf_t *b, const char *s)
{
    return bac_enc_charstring(b, s, strlen(s));
}

static int enc_services(bac_buf_t *b)
{
    static const uint8_t bits[] = {
        BAC_SSB_READ_PROPERTY, BAC_SSB_READ_PROPERTY_MULTIPLE, BAC_SSB_WRITE_PROPERTY,
        BAC_SSB_DEVICE_COMMUNICATION_CONTROL, BAC_SSB_REINITIALIZE_DEVICE, BAC_SSB_I_AM,
        BAC_SSB_I_HAVE, BAC_SSB_TIME_SYNCHRONIZATION, BAC_SSB_WHO_HAS, BAC_SSB_WHO_IS,
#if OBJ_HAVE_TRENDLOG
        BAC_SSB_READ_RANGE,
#endif
    };
    bac_bits_t bs;
    bac_bits_init(&bs, BAC_SSB_COUNT_REV4);
    for (size_t k = 0; k < N(bits); k++)
        bac_bits_set(&bs, bits[k], true);
    return bac_enc_bits(b, &bs);
}

static int enc_object_types(bac_buf_t *b)
{
    bac_bits_t bs;
    bac_bits_init(&bs, BAC_OBJ_TYPE_COUNT_REV4);
    bac_bits_set(&bs, OBJ_AI, true);
    bac_bits_set(&bs, OBJ_AV, true);
    bac_bits_set(&bs, OBJ_BI, true);
    bac_bits_set(&bs, OBJ_DEVICE, true);
    bac_bits_set(&bs, OBJ_TL, OBJ_HAVE_TRENDLOG);
    return bac_enc_bits(b, &bs);
}

static int enc_status_flags(const obj_device_t *d, bac_oid_t oid, bac_buf_t *b)
{
    bac_bits_t bs;
    bac_bits_init(&bs, BAC_SF_COUNT);
    bac_bits_set(&bs, BAC_SF_FAULT, obj_reliability(d, oid) != BAC_RELIABILITY_NO_FAULT_DETECTED);
    return bac_enc_bits(b, &bs);
}

static int read_object_list(const obj_device_t *d, uint32_t index, bac_buf_t *b, obj_err_t *err)
{
    size_t n = obj_count(d);
    if (index == 0)
        return bac_enc_unsigned(b, (uint32_t)n);
    if (index != OBJ_NO_INDEX) {
        if (index > n)
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_ARRAY_INDEX);
        return bac_enc_oid(b, obj_at(d, index - 1));
    }
    for (size_t k = 0; k < n; k++)
        bac_enc_oid(b, obj_at(d, k));
    return bac_err(b);
}

static int read_device(const obj_device_t *d, uint32_t prop, bac_buf_t *b)
{
    obj_datetime_t dt;
    switch (prop) {
    case BAC_PROP_SYSTEM_STATUS: return bac_enc_enum(b, BAC_STATUS_OPERATIONAL);
    case BAC_PROP_VENDOR_NAME: return enc_str(b, "Leviton Mfg.");
    case BAC_PROP_VENDOR_IDENTIFIER: return bac_enc_unsigned(b, 133);
    case BAC_PROP_MODEL_NAME: return enc_str(b, "S4100 Energy Meter");
    /* "xyyy" with an implied decimal point after x: 1.000 */
    case BAC_PROP_FIRMWARE_REVISION: return enc_str(b, "1000");
    case BAC_PROP_APPLICATION_SOFTWARE_VERSION:
        return enc_str(b, "RS= 1000, OS=1000, BACnet Gateway=1000");
    case BAC_PROP_PROTOCOL_VERSION: return bac_enc_unsigned(b, 1);
    case BAC_PROP_PROTOCOL_REVISION: return bac_enc_unsigned(b, 4);
    case BAC_PROP_PROTOCOL_SERVICES_SUPPORTED: return enc_services(b);
    case BAC_PROP_PROTOCOL_OBJECT_TYPES_SUPPORTED: return enc_object_types(b);
    case BAC_PROP_MAX_APDU_LENGTH_ACCEPTED: return bac_enc_unsigned(b, OBJ_MAX_APDU);
    case BAC_PROP_SEGMENTATION_SUPPORTED: return bac_enc_enum(b, BAC_SEGMENTATION_NONE);
    case BAC_PROP_APDU_TIMEOUT: return bac_enc_unsigned(b, 60000);
    case BAC_PROP_NUMBER_OF_APDU_RETRIES: return bac_enc_unsigned(b, 0);
    case BAC_PROP_DEVICE_ADDRESS_BINDING: return bac_err(b); /* an empty list */
    case BAC_PROP_DATABASE_REVISION: return bac_enc_unsigned(b, 0);
    case BAC_PROP_MAX_MASTER: return bac_enc_unsigned(b, d->id.max_master);
    case BAC_PROP_MAX_INFO_FRAMES: return bac_enc_unsigned(b, d->id.max_info_frames);
    case BAC_PROP_LOCATION: return enc_str(b, d->id.location);
    case BAC_PROP_DESCRIPTION: {
        char s[64] = "S4100 DIN-Rail Energy Meter S/N: ";
        size_t used = strlen(s), n = strlen(d->id.serial);
        memcpy(s + used, d->id.serial, n < sizeof s - used ? n : sizeof s - used - 1);
        return enc_str(b, s);
    }
    case BAC_PROP_LOCAL_TIME: obj_clock_get(d, &dt); return bac_enc_time(b, dt.time);
    case BAC_PROP_LOCAL_DATE: obj_clock_get(d, &dt); return bac_enc_date(b, dt.date);
    }
    return BAC_E_ARG; /* not reached: the table lists only these */
}

static int enc_datetime(bac_buf_t *b, tl_time_t t)
{
    bac_date_t d = {BAC_ANY, BAC_ANY, BAC_ANY, BAC_ANY};
    bac_time_t tm = {BAC_ANY, BAC_ANY, BAC_ANY, BAC_ANY};
    if (t != TL_TIME_ANY)
        tl_time_split(t, &d, &tm);
    bac_enc_date(b, d);
    return bac_enc_time(b, tm);
}

static int read_trendlog(const obj_device_t *d, bac_oid_t oid, uint32_t prop, bac_buf_t *b,
                         obj_err_t *err)
{
    const tl_log_t *l = obj_tl((obj_device_t *)d, oid);
    switch (prop) {
    case BAC_PROP_LOG_ENABLE: return bac_enc_bool(b, l->enable);
    case BAC_PROP_STOP_WHEN_FULL: return bac_enc_bool(b, l->stop_when_full);
    case BAC_PROP_BUFFER_SIZE: return bac_enc_unsigned(b, TL_BUFFER_SIZE);
    case BAC_PROP_LOG_BUFFER: /* a list only ReadRange reads */
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_READ_ACCESS_DENIED);
    case BAC_PROP_RECORD_COUNT: return bac_enc_unsigned(b, l->count);
    case BAC_PROP_TOTAL_RECORD_COUNT: return bac_enc_unsigned(b, l->total);
    case BAC_PROP_EVENT_STATE: return bac_enc_enum(b, BAC_EVENT_STATE_NORMAL);
    case BAC_PROP_STATUS_FLAGS: return enc_status_flags(d, oid, b);
    case BAC_PROP_DESCRIPTION: {
        char s[] = "Trend Log x";
        s[sizeof s - 2] = (char)('0' + oid.instance);
        return enc_str(b, s);
    }
    case BAC_PROP_START_TIME: return enc_datetime(b, l->start);
    case BAC_PROP_STOP_TIME: return enc_datetime(b, l->stop);
    case BAC_PROP_LOG_DEVICE_OBJECT_PROPERTY:
        bac_enc_ctx_oid(b, 0, (bac_oid_t){OBJ_AI, l->ai});
        return bac_enc_ctx_enum(b, 1, BAC_PROP_PRESENT_VALUE);
    case BAC_PROP_LOG_INTERVAL: /* tied to AV11 (O11): one value for all four */
        return bac_enc_unsigned(b, (uint32_t)obj_av_value(d, 11));
    }
    return BAC_E_ARG;
}

static float av_value(const obj_device_t *d, uint32_t inst)
{
    if (inst == 1)
        return 0.0f; /* the command register always reads 0 */
    return (float)mtr_setting_get(&d->mtr.cfg, (mtr_setting_t)inst);
}

/* The property of an existing object (the wildcard device resolved in *oid), or NULL
 * with the error a read or a write answers. */
static const prop_t *lookup(const obj_device_t *d, bac_oid_t *oid, uint32_t prop, obj_err_t *err)
{
    *oid = obj_resolve(d, *oid);
    if (!obj_exists(d, *oid)) {
        fail(err, BAC_ERRCLASS_OBJECT, BAC_ERR_UNKNOWN_OBJECT);
        return NULL;
    }
    const prop_t *p = find_prop(oid->type, prop);
    if (!p)
        fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_UNKNOWN_PROPERTY);
    return p;
}

int obj_read(const obj_device_t *d, bac_oid_t oid, uint32_t prop, uint32_t index,
             bac_buf_t *b, obj_err_t *err)
{
    const prop_t *p = lookup(d, &oid, prop, err);
    if (!p)
        return OBJ_ERROR;
    if (index != OBJ_NO_INDEX && !(p->flags & P_ARRAY))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_PROPERTY_IS_NOT_AN_ARRAY);

    switch (prop) {
    case BAC_PROP_OBJECT_IDENTIFIER: return bac_enc_oid(b, oid);
    case BAC_PROP_OBJECT_NAME: return enc_str(b, obj_name(d, oid));
    case BAC_PROP_OBJECT_TYPE: return bac_enc_enum(b, oid.type);
    case BAC_PROP_OBJECT_LIST: return read_object_list(d, index, b, err);
    }
    if (oid.type == OBJ_DEVICE)
        return read_device(d, prop, b);
    if (oid.type == OBJ_TL)
        return read_trendlog(d, oid, prop, b, err);

    const obj_def_t *def = obj_find((uint8_t)oid.type, oid.instance);
    switch (prop) {
    case BAC_PROP_DESCRIPTION: return enc_str(b, def->description);
    case BAC_PROP_STATUS_FLAGS: return enc_status_flags(d, oid, b);
    case BAC_PROP_EVENT_STATE: return bac_enc_enum(b, BAC_EVENT_STATE_NORMAL);
    case BAC_PROP_OUT_OF_SERVICE: return bac_enc_bool(b, false);
    case BAC_PROP_UNITS: return bac_enc_enum(b, def->units);
    case BAC_PROP_RELIABILITY: return bac_enc_enum(b, obj_reliability(d, oid));
    case BAC_PROP_POLARITY: return bac_enc_enum(b, BAC_POLARITY_NORMAL);
    case BAC_PROP_PRESENT_VALUE:
        if (oid.type == OBJ_AI)
            return bac_enc_real(b, d->mtr.ai[oid.instance]);
        if (oid.type == OBJ_AV)
            return bac_enc_real(b, av_value(d, oid.instance));
        return bac_enc_enum(b, (d->mtr.alarms >> (oid.instance - 1) & 1u) ? BAC_BINARY_ACTIVE
                                                                            : BAC_BINARY_INACTIVE);
    }
    return BAC_E_ARG;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Decode the one value of a write; anything else there is the wrong datatype. */
static bool dec_done(bac_buf_t *v, int rc)
{
    return rc >= 0 && bac_done(v);
}

static int write_string(bac_buf_t *v, char *dst, size_t cap, bool allow_empty,
                        const obj_device_t *d, bool is_name, obj_err_t *err)
{
    bac_str_t s;
    int rc = bac_dec_charstring(v, &s);
    if (rc == BAC_E_CHARSET)
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_CHARACTER_SET_NOT_SUPPORTED);
    if (!dec_done(v, rc))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
    if (s.len >= cap || (!allow_empty && s.len == 0))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
    for (size_t k = 0; k < s.len; k++)
        if (s.data[k] < 0x20 || s.data[k] > 0x7E) /* printable ANSI X3.4 only */
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
    if (is_name) {
        bac_oid_t other;
        bool same = strlen(dst) == s.len && memcmp(dst, s.data, s.len) == 0;
        if (!same && obj_by_name(d, (const char *)s.data, s.len, &other))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_DUPLICATE_NAME);
    }
    memcpy(dst, s.data, s.len);
    dst[s.len] = '\0';
    return BAC_OK;
}

static int write_device(obj_device_t *d, uint32_t prop, bac_buf_t *v, obj_err_t *err)
{
    switch (prop) {
    case BAC_PROP_OBJECT_IDENTIFIER: {
        bac_oid_t id;
        if (!dec_done(v, bac_dec_oid(v, &id)))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
        if (id.type != OBJ_DEVICE || obj_set_instance(d, id.instance) != OBJ_OK)
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
        return BAC_OK;
    }
    case BAC_PROP_OBJECT_NAME:
        return write_string(v, d->id.name, sizeof d->id.name, false, d, true, err);
    case BAC_PROP_LOCATION:
        return write_string(v, d->id.location, sizeof d->id.location, true, d, false, err);
    case BAC_PROP_MAX_MASTER: {
        uint32_t mm;
        int rc = bac_dec_unsigned(v, &mm);
        if (rc == BAC_E_RANGE && bac_is_app(v, BAC_APP_UNSIGNED))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
        if (!dec_done(v, rc))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
        if (obj_set_max_master(d, mm) != OBJ_OK)
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
        return BAC_OK;
    }
    }
    return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_WRITE_ACCESS_DENIED);
}

static int write_av(obj_device_t *d, uint32_t inst, bac_buf_t *v, obj_err_t *err)
{
    float f;
    if (!dec_done(v, bac_dec_real(v, &f)))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
    int rc = obj_av_write(d, inst, f);
    return rc == OBJ_OK ? BAC_OK : fail(err, BAC_ERRCLASS_PROPERTY, (uint8_t)rc);
}

/* Start_Time / Stop_Time: a Date and a Time, all-unspecified meaning "no bound". */
static int write_datetime(bac_buf_t *v, tl_time_t *dst, obj_err_t *err)
{
    bac_date_t dd;
    bac_time_t tm;
    bac_dec_date(v, &dd);
    bac_dec_time(v, &tm);
    if (!bac_done(v))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
    bool any = dd.year == BAC_ANY && dd.month == BAC_ANY && dd.day == BAC_ANY &&
               tm.hour == BAC_ANY && tm.min == BAC_ANY && tm.sec == BAC_ANY;
    tl_time_t t = TL_TIME_ANY;
    if (!any) {
        if (tm.hundredths == BAC_ANY)
            tm.hundredths = 0;
        if (!tl_time_join(&dd, &tm, &t))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
    }
    *dst = t;
    return BAC_OK;
}

static int write_bool(bac_buf_t *v, bool *dst, obj_err_t *err)
{
    bool b;
    if (!dec_done(v, bac_dec_bool(v, &b)))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
    *dst = b;
    return BAC_OK;
}

static int write_trendlog(obj_device_t *d, bac_oid_t oid, uint32_t prop, bac_buf_t *v,
                          obj_err_t *err)
{
    tl_log_t *l = obj_tl(d, oid);
    tl_time_t now = obj_clock_now(d);
    switch (prop) {
    case BAC_PROP_LOG_ENABLE: {
        bool was = l->enable;
        int rc = write_bool(v, &l->enable, err);
        if (rc == BAC_OK && was && !l->enable) {
            tl_record_t r = {.t = now, .kind = TL_REC_STATUS, .value = TL_STATUS_LOG_DISABLED};
            l->enable = true; /* the note goes in even if the buffer just filled */
            tl_append(l, &r);
            l->enable = false;
        }
        return rc;
    }
    case BAC_PROP_STOP_WHEN_FULL: return write_bool(v, &l->stop_when_full, err);
    case BAC_PROP_START_TIME: return write_datetime(v, &l->start, err);
    case BAC_PROP_STOP_TIME: return write_datetime(v, &l->stop, err);
    case BAC_PROP_RECORD_COUNT: {
        uint32_t n;
        int rc = bac_dec_unsigned(v, &n);
        if (!dec_done(v, rc))
            return fail(err, BAC_ERRCLASS_PROPERTY, rc == BAC_E_RANGE ? BAC_ERR_VALUE_OUT_OF_RANGE
                                                                      : BAC_ERR_INVALID_DATA_TYPE);
        if (n != 0) /* only 0: purge */
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
        tl_purge(l, now);
        return BAC_OK;
    }
    case BAC_PROP_LOG_INTERVAL: {
        uint32_t iv;
        int rc = bac_dec_unsigned(v, &iv);
        if (!dec_done(v, rc))
            return fail(err, BAC_ERRCLASS_PROPERTY, rc == BAC_E_RANGE ? BAC_ERR_VALUE_OUT_OF_RANGE
                                                                      : BAC_ERR_INVALID_DATA_TYPE);
        rc = obj_av_write(d, 11, iv);
        return rc == OBJ_OK ? BAC_OK : fail(err, BAC_ERRCLASS_PROPERTY, (uint8_t)rc);
    }
    case BAC_PROP_LOG_DEVICE_OBJECT_PROPERTY: {
        /* Only the Present_Value of AI1..AI75 of this device (PICS). */
        bac_oid_t o, dv;
        uint32_t p, idx;
        bac_dec_ctx_oid(v, 0, &o);
        bac_dec_ctx_enum(v, 1, &p);
        bool has_idx = bac_is_context(v, 2), has_dev = false;
        if (has_idx)
            bac_dec_ctx_unsigned(v, 2, &idx);
        if (bac_is_context(v, 3)) {
            bac_dec_ctx_oid(v, 3, &dv);
            has_dev = true;
        }
        if (!bac_done(v))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_DATA_TYPE);
        if (o.type != OBJ_AI || o.instance < 1 || o.instance > 75 || p != BAC_PROP_PRESENT_VALUE ||
            has_idx || (has_dev && (dv.type != OBJ_DEVICE || dv.instance != d->id.instance)))
            return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_VALUE_OUT_OF_RANGE);
        if (o.instance != l->ai) {
            l->ai = o.instance;
            tl_purge(l, now); /* records of two quantities must not mix */
        }
        return BAC_OK;
    }
    }
    return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_WRITE_ACCESS_DENIED);
}

static int write_any(obj_device_t *d, bac_oid_t oid, uint32_t prop, uint32_t index,
                     bac_buf_t *value, obj_err_t *err);

int obj_write(obj_device_t *d, bac_oid_t oid, uint32_t prop, uint32_t index, bac_buf_t *value,
              uint8_t priority, obj_err_t *err)
{
    (void)priority; /* no object here is commandable: the priority is ignored (15.9.1.1.5) */
    int rc = write_any(d, oid, prop, index, value, err);
    if (rc == BAC_OK && !(oid.type == OBJ_AV)) /* AV writes count in obj_av_write */
        d->writes++;
    return rc;
}

static int write_any(obj_device_t *d, bac_oid_t oid, uint32_t prop, uint32_t index,
                     bac_buf_t *value, obj_err_t *err)
{
    const prop_t *p = lookup(d, &oid, prop, err);
    if (!p)
        return OBJ_ERROR;
    if (!prop_writable(oid.type, p))
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_WRITE_ACCESS_DENIED);
    if (index != OBJ_NO_INDEX)
        return fail(err, BAC_ERRCLASS_PROPERTY, BAC_ERR_PROPERTY_IS_NOT_AN_ARRAY);
    if (oid.type == OBJ_DEVICE)
        return write_device(d, prop, value, err);
    if (oid.type == OBJ_TL)
        return write_trendlog(d, oid, prop, value, err);
    return write_av(d, oid.instance, value, err);
}
