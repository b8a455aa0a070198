/*
 * s4100 object model: the meter as its BACnet objects (Device, AI1..83, AV1..11,
 * BI1..15), as data. The AI/AV/BI definitions are generated from data/objects.csv (the
 * datasheet's tables verbatim); each object type has a property table; reads and writes
 * go through one path that applies the PICS rules (DECISIONS O1..O12, M13, M14).
 *
 * One obj_device_t per meter: it owns the metering engine and the Device properties.
 * Portable core: no heap, no OS.
 */
#ifndef S4100_OBJ_H
#define S4100_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bacnet/bac.h"
#include "metering/mtr.h"
#include "trendlog/tl.h"

/* BACnet object types this device has. */
enum { OBJ_AI = 0, OBJ_AV = 2, OBJ_BI = 3, OBJ_DEVICE = 8, OBJ_TL = 20 };
/* Binary Inputs have no Units property. */
#define OBJ_NO_UNITS_PROPERTY 0xFFFFu

typedef struct {
    uint8_t type;            /* OBJ_AI, OBJ_AV, OBJ_BI */
    uint8_t instance;        /* 1.. */
    const char *name;        /* Object_Name, verbatim (O5) */
    const char *description; /* Description */
    uint16_t units;          /* BACnet engineering units enumeration */
    bool nv;                 /* kept in non-volatile memory */
    bool writable;           /* Present_Value writable */
} obj_def_t;

#define OBJ_N_AI 83
#define OBJ_N_AV 11
#define OBJ_N_BI 15
extern const obj_def_t obj_defs[]; /* AI1..AI83, AV1..AV11, BI1..BI15 in this order */
extern const size_t obj_def_count;

/* The definition of (type, instance), or NULL. */
const obj_def_t *obj_find(uint8_t type, uint32_t instance);

/* ---- the device ------------------------------------------------------------------ */

#define OBJ_NAME_MAX 64     /* Device Object_Name */
#define OBJ_LOCATION_MAX 64 /* PICS: Location limited to 64 characters */
#define OBJ_SERIAL_MAX 16
#define OBJ_INSTANCE_MIN 1u
#define OBJ_INSTANCE_MAX 4193999u /* DECISIONS O9 */
#define OBJ_MAX_APDU 480u

/* What identifies this meter and the writable Device properties (all NV). */
typedef struct {
    uint32_t instance;
    char name[OBJ_NAME_MAX + 1];
    char location[OBJ_LOCATION_MAX + 1];
    char serial[OBJ_SERIAL_MAX + 1];
    uint8_t max_master;      /* 1..127 */
    uint8_t max_info_frames; /* 1 */
    uint8_t mac;             /* MS/TP MAC, 0..127 (default 1) */
    uint32_t baud;           /* MS/TP: 9600, 19200, 38400, 76800 (default), 115200 */
    uint32_t setup_password; /* panel SETUP password, 0..99999 (default 00000) */
    uint32_t reset_password; /* panel RESET password, 0..99999 (default 00000) */
} obj_identity_t;

typedef struct obj_device {
    mtr_t mtr;
    obj_identity_t id;
    /* AV writes: validated at once, committed at the end of the next 1 s cycle (M14). */
    mtr_config_t pending_cfg;
    uint16_t pending_avs; /* bit per AV instance */
    uint32_t writes;      /* accepted writes of NV state (a host makes them durable) */
    /* The clock: local time in 1/100 s since 2000-01-01 00:00:00 (where a power loss
     * restarts it, M16) is clock_cs at engine sample clock_n, counting on with the
     * samples (MTR_FS a second): integers, exact however long the meter runs. */
    int64_t clock_cs;
    uint64_t clock_n;
    /* Trend logs TL1..TL3 and the interval slot last logged. */
    tl_log_t tl[TL_COUNT];
    int64_t tl_slot;
} obj_device_t;

/* Factory identity for a serial number: instance pseudo-random in 1,000,000..3,097,151
 * derived from the serial (O9), default name (O12) and location, Max_Master 127,
 * Max_Info_Frames 1, MAC 1. A serial longer than OBJ_SERIAL_MAX is cut. */
void obj_identity_default(obj_identity_t *id, const char *serial);

/* Start a device on an identity, a meter configuration and its NV state (may be NULL). */
void obj_init(obj_device_t *d, const obj_identity_t *id, const mtr_config_t *cfg,
              const mtr_nv_t *nv);

/* The meter's firmware restarts. The engine starts afresh from its NV state and the
 * accepted settings (windows and demand restart); identity and trend logs are kept.
 * power_loss: the clock also restarts at 2000-01-01 00:00 with RTC_Reset active and the
 * power-up count grows (DECISIONS M16); otherwise (ReinitializeDevice) it runs on. */
void obj_restart(obj_device_t *d, bool power_loss);

/* Put accepted AV writes into effect now rather than at the end of the cycle (a host
 * commissioning the meter before it starts measuring). */
void obj_commit_settings(obj_device_t *d);
/* Call after each completed 1 s metering cycle: commits pending AV writes and logs the
 * trend logs on their interval boundary (or on AV1 = 21211 in sync mode). */
void obj_cycle(obj_device_t *d);

/* The meter's clock. */
typedef struct {
    bac_date_t date;
    bac_time_t time;
} obj_datetime_t;
void obj_clock_get(const obj_device_t *d, obj_datetime_t *dt);
/* The clock as a trend-log time (hundredths of a second since 2000-01-01). */
tl_time_t obj_clock_now(const obj_device_t *d);
/* TimeSynchronization: returns false (and changes nothing) for wildcards or a date
 * that does not exist. Clears RTC_Reset; the trend logs record the time change. */
bool obj_clock_set(obj_device_t *d, const obj_datetime_t *dt);

/* ---- objects and properties -------------------------------------------------------- */

/* The objects in Object_List order: the Device first, then AI, AV, BI, TL. */
size_t obj_count(const obj_device_t *d);
bac_oid_t obj_at(const obj_device_t *d, size_t index);
bool obj_exists(const obj_device_t *d, bac_oid_t oid);
/* Object_Name of an existing object. */
const char *obj_name(const obj_device_t *d, bac_oid_t oid);
/* Find by name (Who-Has); false if none. */
bool obj_by_name(const obj_device_t *d, const char *name, size_t len, bac_oid_t *oid);

/* An error to send as BACnet Error class/code. */
typedef struct {
    uint8_t cls;
    uint8_t code;
} obj_err_t;

#define OBJ_ERROR (-100) /* the call failed with a BACnet error in *err */
#define OBJ_NO_INDEX 0xFFFFFFFFu

/* The device instance 4194303 addresses "this device" (clause 15.5). */
#define OBJ_DEVICE_WILDCARD 4194303u
/* Resolve the wildcard device instance to this device's identifier. */
bac_oid_t obj_resolve(const obj_device_t *d, bac_oid_t oid);

/* Encode the value of a property (application-tagged) into out. Returns BAC_OK, a
 * negative BAC_E_ from the cursor (the value did not fit), or OBJ_ERROR with err set
 * (UNKNOWN_OBJECT, UNKNOWN_PROPERTY, PROPERTY_IS_NOT_AN_ARRAY, INVALID_ARRAY_INDEX). */
int obj_read(const obj_device_t *d, bac_oid_t oid, uint32_t prop, uint32_t index,
             bac_buf_t *out, obj_err_t *err);

/* Write a property from the value in `value` (a cursor over the application-tagged
 * value, positioned at its first octet and ending after it). A rejected write changes
 * nothing. Returns BAC_OK or OBJ_ERROR with err set. */
int obj_write(obj_device_t *d, bac_oid_t oid, uint32_t prop, uint32_t index,
              bac_buf_t *value, uint8_t priority, obj_err_t *err);

/* Property lists for ReadPropertyMultiple's ALL, REQUIRED and OPTIONAL. */
enum { OBJ_PROPS_ALL, OBJ_PROPS_REQUIRED, OBJ_PROPS_OPTIONAL };
size_t obj_props(const obj_device_t *d, bac_oid_t oid, int which, uint32_t *out, size_t max);

/* ---- settings shared by every way in (BACnet, the panel, the command line) ---------- */

#define OBJ_OK 0
/* Each returns OBJ_OK, or the BACnet error code it would answer (VALUE_OUT_OF_RANGE);
 * a refused value changes nothing. */
int obj_av_write(obj_device_t *d, unsigned av, float value);   /* AV1..AV11, as WriteProperty */
float obj_av_value(const obj_device_t *d, unsigned av);        /* what was last accepted */
int obj_set_instance(obj_device_t *d, uint32_t instance);     /* 1..4193999 */
int obj_set_max_master(obj_device_t *d, uint32_t max_master); /* 1..127, >= MAC */
int obj_set_mac(obj_device_t *d, uint32_t mac);               /* 0..127, <= Max_Master */
int obj_set_baud(obj_device_t *d, uint32_t baud);             /* the five rates */
bool obj_baud_valid(uint32_t baud);

/* The trend log of a TL object, or NULL. */
tl_log_t *obj_tl(obj_device_t *d, bac_oid_t oid);
/* Keep the trend logs' records in store st (TLn as its log n-1), which holds none of
 * them yet; NULL: none (each log keeps only its newest records, tl.h). */
void obj_tl_attach(obj_device_t *d, const tl_store_t *st);

/* Reliability of an object's Present_Value (BAC_RELIABILITY_...). */
uint32_t obj_reliability(const obj_device_t *d, bac_oid_t oid);

#endif
