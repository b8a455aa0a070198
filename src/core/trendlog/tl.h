/*
 * s4100 trend logs: three logs of 5760 time-stamped records each (T-VMT-I-B), the
 * logging rules, where the records are kept, and ReadRange's selection and encoding.
 *
 * Portable core: no heap, no OS. A log in RAM is its setup, its counters and a small
 * cache of its newest records; the records themselves live once, in a record store the
 * host provides (tl_store_t: the NV rings on the meter, a RAM array in tests and
 * fuzzers). Logging and the common reads of the newest records touch only the cache;
 * older records are read through the store. The object layer decides when to log (the
 * interval boundary, or AV1 = 21211 in sync mode) and this module keeps the records and
 * answers which of them a ReadRange asks for.
 */
#ifndef S4100_TL_H
#define S4100_TL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bacnet/bac.h"

#define TL_COUNT 3
#define TL_BUFFER_SIZE 5760u
/* The newest records a log keeps in RAM (16 bytes each): 16 hours at the default
 * 15-minute interval. Records not yet in the store wait here too. */
#ifndef TL_CACHE_SIZE
#define TL_CACHE_SIZE 64u
#endif
/* Clock set-backs a log remembers for its by-time reads (older ones: a scan). */
#ifndef TL_DISORDER_MAX
#define TL_DISORDER_MAX 4u
#endif

/* What a record holds (the BACnetLogRecord log-datum choice). */
enum {
    TL_REC_REAL = 2,        /* [2] real-value */
    TL_REC_STATUS = 0,      /* [0] log-status: value holds TL_STATUS_ bits */
    TL_REC_TIME_CHANGE = 9, /* [9] time-change: value = seconds the clock moved */
};
/* TL_STATUS_INTERRUPTED (BACnetLogStatus log-interrupted) marks a placeholder: a record
 * that is gone (damaged in the store, or never stored) keeps its sequence number as a
 * log-status record with this bit, never as data. */
enum { TL_STATUS_LOG_DISABLED = 1, TL_STATUS_BUFFER_PURGED = 2, TL_STATUS_INTERRUPTED = 4 };

/* Time as the meter keeps it: seconds since 2000-01-01 00:00:00, in hundredths. */
typedef int64_t tl_time_t;
#define TL_TIME_ANY INT64_MIN /* an unspecified Start_Time / Stop_Time */

typedef struct {
    tl_time_t t;
    float value;
    uint8_t kind;  /* TL_REC_ */
    uint8_t flags; /* Status_Flags of the logged value (bit 1: fault) */
} tl_record_t;

/* Where a log's records live, keyed by sequence number (a struct of functions and a
 * context, as a data link). Each returns 0, or a negative store error (passed on by
 * tl_flush); read returns TL_GONE when it holds no intact record of that number (never
 * stored, overwritten, damaged): the log then serves a placeholder. `log` is the log's
 * number in the store (tl_attach). append is only ever given the number after the last
 * one appended or reset; reset replaces everything the store holds of the log by one
 * record (r NULL: by nothing). */
enum { TL_GONE = 1 };
typedef struct {
    void *ctx;
    int (*read)(void *ctx, unsigned log, uint32_t seq, tl_record_t *r);
    int (*append)(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r);
    int (*reset)(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r);
} tl_store_t;

typedef struct {
    bool enable;
    bool stop_when_full;
    tl_time_t start, stop; /* TL_TIME_ANY: no bound */
    uint32_t ai;           /* the logged object: Present_Value of AI1..AI75 */
    uint32_t total;        /* Total_Record_Count: sequence number of the newest record */
    uint32_t count;        /* Record_Count */
    /* Records stamped earlier than the one before them (a clock set back), oldest first:
     * between them the times are in order, so a by-time read bisects each stretch. */
    uint32_t disorder[TL_DISORDER_MAX];
    uint8_t disorders;
    uint32_t disorder_lost; /* the newest one that did not fit (0: none): while it is in
                               the log, by-time reads scan */
    /* where the records are */
    tl_store_t store;      /* no functions: none (only the cache is kept) */
    uint8_t log;           /* this log's number in the store */
    uint32_t stored;       /* sequence number of the newest record the store holds (0:
                              none); the records after it wait in the cache */
    uint32_t cached;       /* the newest records in cache[], at most TL_CACHE_SIZE */
    uint32_t next;         /* the cache slot the next record goes into */
    tl_record_t cache[TL_CACHE_SIZE];
} tl_log_t;

/* Defaults: enabled, continuous, no start/stop, logging AI `ai`; no store. */
void tl_init(tl_log_t *l, uint32_t ai);

/* Keep l's records in store st as its log `log`; `stored`: the newest sequence number st
 * holds of l's records (0: none: the next flush starts st afresh). st NULL: no store. */
void tl_attach(tl_log_t *l, const tl_store_t *st, unsigned log, uint32_t stored);

/* Append one record. Returns false (nothing stored) when the log is full and
 * Stop_When_Full is set: the log then disables itself, as the standard requires. A record
 * is written to the store by tl_flush; one about to leave a full cache unstored is
 * flushed first (should that fail, it is gone: a placeholder when read). */
bool tl_append(tl_log_t *l, const tl_record_t *r);

/* Record_Count := 0: empty the buffer and insert a buffer-purged status record. The
 * store keeps the old records until the next flush starts it afresh. */
void tl_purge(tl_log_t *l, tl_time_t now);
/* No records (Record_Count 0, nothing cached); the numbering and the setup stay. */
void tl_clear(tl_log_t *l);

/* Write what the store lacks: the records since l->stored, or (after a purge, or when it
 * holds none of l's records) all of them after a reset. Records that left the cache
 * unstored go as placeholders. 0, or the store's error: l->stored says how far it got, so
 * the next call goes on from there; nothing to do costs nothing. */
int tl_flush(tl_log_t *l);

/* Placeholders for every sequence number after Total_Record_Count up to `upto` (at most
 * a buffer's worth: older ones would fall out anyway), stamped t. Returns how many
 * numbers were skipped over. */
uint32_t tl_fill(tl_log_t *l, uint32_t upto, tl_time_t t);

/* Is the log collecting at time now (enabled and within Start_Time..Stop_Time)? */
bool tl_active(const tl_log_t *l, tl_time_t now);

/* The k-th record, oldest first (k = 0 .. count-1), and its sequence number. A record
 * that cannot be read is a placeholder (TL_STATUS_INTERRUPTED) stamped with the time of
 * the nearest record before it (after it, when there is none before): tl_get then returns
 * TL_GONE, else 0. For several records, a reader remembers the gaps it met. */
int tl_get(const tl_log_t *l, uint32_t k, tl_record_t *r);
tl_record_t tl_at(const tl_log_t *l, uint32_t k);
uint32_t tl_seq_of(const tl_log_t *l, uint32_t k);

typedef struct {
    const tl_log_t *l;
    uint32_t lo, hi; /* the run of unreadable records met last: lo..hi, stamped t */
    tl_time_t t;
    bool gap;
} tl_reader_t;
void tl_reader_init(tl_reader_t *rd, const tl_log_t *l);
int tl_read(tl_reader_t *rd, uint32_t k, tl_record_t *r);

/* Sequence numbers run 1..2^32-1 and wrap to 1 (0 is never a record's): steps from b
 * forward to a, and whether a comes after b (at most half the number space ahead). */
uint32_t tl_seq_dist(uint32_t a, uint32_t b);
bool tl_seq_after(uint32_t a, uint32_t b);

/* A record store in RAM (tests, fuzzers, hosts without NV): TL_COUNT logs of
 * TL_BUFFER_SIZE records, owned by the caller (about 280 KB). */
typedef struct {
    struct {
        uint32_t last, n, head; /* newest sequence number, records held, oldest's slot */
    } log[TL_COUNT];
    tl_record_t rec[TL_COUNT][TL_BUFFER_SIZE];
} tl_ram_t;
void tl_ram_init(tl_ram_t *r);
tl_store_t tl_ram_store(tl_ram_t *r);

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
