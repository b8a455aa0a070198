/*
 * s4100 trend logs: three logs of 5760 time-stamped records each (T-VMT-I-B), the
 * record ring, the logging rules, and ReadRange's selection and encoding.
 *
 * Portable core: no heap, no OS. The logs live in the device context; the object layer
 * decides when to log (the interval boundary, or AV1 = 21211 in sync mode) and this
 * module keeps the records and answers which of them a ReadRange asks for.
 */
#ifndef S4100_TL_H
#define S4100_TL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bacnet/bac.h"

#define TL_COUNT 3
#define TL_BUFFER_SIZE 5760u

/* What a record holds (the BACnetLogRecord log-datum choice). */
enum {
    TL_REC_REAL = 2,        /* [2] real-value */
    TL_REC_STATUS = 0,      /* [0] log-status: value holds TL_STATUS_ bits */
    TL_REC_TIME_CHANGE = 9, /* [9] time-change: value = seconds the clock moved */
};
enum { TL_STATUS_LOG_DISABLED = 1, TL_STATUS_BUFFER_PURGED = 2 };

/* Time as the meter keeps it: seconds since 2000-01-01 00:00:00, in hundredths. */
typedef int64_t tl_time_t;
#define TL_TIME_ANY INT64_MIN /* an unspecified Start_Time / Stop_Time */

typedef struct {
    tl_time_t t;
    float value;
    uint8_t kind;  /* TL_REC_ */
    uint8_t flags; /* Status_Flags of the logged value (bit 1: fault) */
} tl_record_t;

typedef struct {
    bool enable;
    bool stop_when_full;
    tl_time_t start, stop; /* TL_TIME_ANY: no bound */
    uint32_t ai;           /* the logged object: Present_Value of AI1..AI75 */
    uint32_t total;        /* Total_Record_Count: sequence number of the newest record */
    uint32_t count;        /* Record_Count */
    uint32_t head;         /* ring index of the oldest record */
    uint32_t purges;       /* counts tl_purge, so a store can mirror the log */
    tl_record_t rec[TL_BUFFER_SIZE];
} tl_log_t;

/* Defaults: enabled, continuous, no start/stop, logging AI `ai`. */
void tl_init(tl_log_t *l, uint32_t ai);

/* Append one record. Returns false (nothing stored) when the log is full and
 * Stop_When_Full is set: the log then disables itself, as the standard requires. */
bool tl_append(tl_log_t *l, const tl_record_t *r);

/* Record_Count := 0: empty the buffer and insert a buffer-purged status record. */
void tl_purge(tl_log_t *l, tl_time_t now);

/* Is the log collecting at time now (enabled and within Start_Time..Stop_Time)? */
bool tl_active(const tl_log_t *l, tl_time_t now);

/* The k-th record, oldest first (k = 0 .. count-1), and its sequence number. */
const tl_record_t *tl_at(const tl_log_t *l, uint32_t k);
uint32_t tl_seq_of(const tl_log_t *l, uint32_t k);

/* ---- ReadRange ------------------------------------------------------------------------ */

enum { TL_RANGE_ALL, TL_RANGE_POSITION, TL_RANGE_SEQUENCE, TL_RANGE_TIME };

typedef struct {
    int by;            /* TL_RANGE_ */
    uint32_t ref;      /* position (1 = oldest) or sequence number */
    tl_time_t time;    /* by time */
    int32_t count;     /* + forward from the reference, - backward ending at it; != 0 */
} tl_range_t;

/* Which records a range selects: the k of the first (oldest) one and how many. */
void tl_select(const tl_log_t *l, const tl_range_t *rr, uint32_t *first, uint32_t *n);

/* Encode one BACnetLogRecord into b. */
int tl_encode_record(bac_buf_t *b, const tl_record_t *r);

/* Date and time of a tl_time_t, and back (false for wildcards or impossible dates). */
void tl_time_split(tl_time_t t, bac_date_t *d, bac_time_t *tm);
bool tl_time_join(const bac_date_t *d, const bac_time_t *tm, tl_time_t *t);

#endif
