/*
 * s4100 non-volatile storage: the meter's state on a medium that may lose power at any
 * instant. See docs/nv.md for the format and the reasoning behind it.
 *
 * Two kinds of data:
 *  - the checkpoint: the small state (energy registers, AV configuration, identity,
 *    trend-log configuration) as one versioned, CRC-checked image with a table of
 *    sections, written alternately to two slots (A/B) with a sequence number. A save
 *    interrupted at any byte leaves the previous image intact; the loader takes the
 *    newest intact slot and says what it found.
 *  - record logs: per log an append-only ring of fixed-size record slots, each with its
 *    own sequence number and CRC, so one append writes one record.
 *
 * The medium is reached through nv_port_t (a file on the host, FRAM/EEPROM or a flash
 * translation layer on an MCU). Portable core: no heap, no OS, no stdio; one nv_store_t
 * per store, owned by the caller. Prefix nv_.
 */
#ifndef S4100_NV_H
#define S4100_NV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/mtr.h"
#include "objects/obj.h"
#include "trendlog/tl.h"

/* Return codes. NV_EMPTY is not an error: a medium on which nothing was ever saved. */
enum {
    NV_OK = 0,
    NV_EMPTY = 1,       /* nv_load: no checkpoint yet (a new store); the image is untouched */
    NV_EIO = -1,        /* the port failed (read, write or sync) */
    NV_EARG = -2,       /* bad argument or layout */
    NV_ESIZE = -3,      /* the medium is smaller than the layout, or the image is too big */
    NV_ECORRUPT = -4,   /* nv_load: both slots are bad; nothing was loaded */
    NV_EVERSION = -5,   /* nv_load: the newest checkpoint is in a format this code does not
                           know (written by newer firmware); nothing was loaded */
    NV_EFULL = -6,      /* a log's sequence numbers are exhausted (2^32-1 appends: 136
                           years at one a second; nv_log_reset does not renew them) */
    NV_ENOSPC = -7,     /* the medium is full (a port's write or sync said so) */
    NV_EOLDER = -8,     /* nv_load: one slot intact, the other blank although the store was
                           in use (erased): the intact one may be older than the newest
                           save. Nothing loaded unless NV_LOAD_ACCEPT_OLDER */
    NV_ELOST = -9,      /* nv_load: both slots blank, but the rings show the store was in
                           use: the checkpoint was erased. Nothing loaded */
};
const char *nv_strerror(int rc);

/* ---- the medium ------------------------------------------------------------------- */

/* A byte-addressable medium of `size` bytes. Each function returns 0 or a negative
 * value on failure: NV_ENOSPC when the medium has no room (a file system that filled
 * up), anything else counts as an I/O error. read fills all n bytes; write stores all n
 * bytes (a power cut may stop it after any prefix, or leave any subset of its bytes
 * written: the format copes); sync returns when everything written before it is
 * durable. */
typedef struct {
    void *ctx;
    int (*read)(void *ctx, uint32_t off, void *buf, size_t n);
    int (*write)(void *ctx, uint32_t off, const void *buf, size_t n);
    int (*sync)(void *ctx);
    uint32_t size;
} nv_port_t;

/* How the medium is divided: two checkpoint slots, then `logs` record rings. */
#define NV_MAX_LOGS 8
#define NV_SLOT_MAX 4096u /* the largest checkpoint slot (the store's work buffer) */
typedef struct {
    uint32_t slot_size;    /* bytes per checkpoint slot, 64..NV_SLOT_MAX */
    uint8_t logs;          /* record rings, 0..NV_MAX_LOGS */
    uint32_t log_capacity; /* records a ring keeps (it has one slot more), >= 1 */
    uint16_t log_payload;  /* the largest record, bytes, 1..NV_LOG_PAYLOAD_MAX */
} nv_layout_t;
#define NV_LOG_PAYLOAD_MAX 1024u

/* Bytes of medium a layout needs (0 if the layout is invalid). */
uint32_t nv_medium_size(const nv_layout_t *layout);

/* ---- the store ---------------------------------------------------------------------- */

typedef struct {
    nv_port_t port;
    nv_layout_t layout;
    uint32_t rec_size;                /* bytes per ring slot: header + payload + CRC */
    uint32_t log_off[NV_MAX_LOGS];    /* where each ring starts */
    /* the checkpoint slots, once scanned */
    bool scanned;
    int8_t cur;                       /* slot holding the newest intact image, -1 none */
    uint32_t seq;                     /* its sequence number */
    /* the rings, each once scanned: newest sequence number and its history's start */
    bool log_scanned[NV_MAX_LOGS];
    uint32_t log_seq[NV_MAX_LOGS];    /* 0: no record yet */
    uint32_t log_base[NV_MAX_LOGS];
    bool marked;                      /* every empty ring holds the "in use" marker */
    uint8_t buf[NV_SLOT_MAX];         /* work buffer: one slot, or a run of ring slots */
} nv_store_t;

/* Bind a store to a medium and a layout. Reads nothing. NV_EARG for a bad layout or
 * port, NV_ESIZE when port->size < nv_medium_size(layout). */
int nv_open(nv_store_t *s, const nv_port_t *port, const nv_layout_t *layout);

/* ---- the checkpoint ------------------------------------------------------------------ */

/* Section ids (never reuse one). */
enum {
    NV_SEC_METER = 1,    /* mtr_nv_t: energy registers, max demands, counters */
    NV_SEC_CONFIG = 2,   /* mtr_config_t: AV2..AV11 */
    NV_SEC_IDENTITY = 3, /* obj_identity_t: factory identity + writable Device props */
    NV_SEC_TRENDLOG = 4, /* configuration of the TL_COUNT trend logs (not their records) */
    NV_SEC_TLSTATE = 5,  /* per trend log: Total_Record_Count, oldest and newest record */
};
#define NV_SEC_BIT(id) (1u << (id))

/* What a checkpoint says of a trend log's records (section 5), so that the rings can
 * fall behind without sequence numbers going back: its Total_Record_Count, the sequence
 * number of the oldest record it held (0: none; ring records older than that precede a
 * purge and are not the log's any more) and its newest record. */
typedef struct {
    uint32_t total;
    uint32_t oldest;
    tl_record_t newest; /* valid when oldest != 0 */
} nv_tl_state_t;
void nv_tl_state_of(const tl_log_t *l, nv_tl_state_t *out);

/* What a checkpoint holds: pointers to the caller's structs. A NULL member is neither
 * saved nor loaded. On load, a section the store lacks leaves the struct as it was, so
 * fill it with defaults first. For trend logs only the configuration is kept (enable,
 * stop_when_full, start, stop, ai), and the record counters of section 5 (saved from tl,
 * loaded into tl_state; fill that with zeros first); the records go to the logs below. */
typedef struct {
    mtr_nv_t *meter;
    mtr_config_t *config;
    obj_identity_t *identity;
    tl_log_t *tl;            /* an array of TL_COUNT */
    nv_tl_state_t *tl_state; /* load only: an array of TL_COUNT (NULL: not wanted) */
} nv_image_t;

/* Save the image as the new checkpoint: serialize, write the slot that does not hold
 * the newest image, sync. When it returns NV_OK the image is durable; when it fails or
 * is cut short, the previous checkpoint is intact. The first save on a medium without
 * an intact image writes both slots, so that a lone bad slot next to a blank one can
 * only be an interrupted first save (see nv_load), and then an empty marker into every
 * empty ring: evidence that the store is in use, should both slots later be erased.
 * A marker that cannot be written does not fail the save (it is retried later). */
int nv_save(nv_store_t *s, const nv_image_t *img);

/* State of one checkpoint slot as the loader found it. */
enum {
    NV_SLOT_BLANK = 0,   /* never written (header all 0x00 or all 0xFF) */
    NV_SLOT_OK = 1,      /* intact */
    NV_SLOT_BAD = 2,     /* magic, header CRC or structure wrong: torn or damaged */
    NV_SLOT_TORN = 3,    /* header intact, body CRC wrong: an interrupted save or damage */
    NV_SLOT_VERSION = 4, /* intact header of a format version this code does not know */
};
const char *nv_slot_str(int slot_state);

typedef struct {
    int used;            /* slot loaded: 0 (A), 1 (B), -1 none */
    uint32_t seq;        /* its sequence number (+1 per save, wrapping) */
    uint8_t slot[2];     /* NV_SLOT_ state of A and B */
    uint32_t missing;    /* NV_SEC_BIT of sections asked for but not in the image loaded
                            (left as the caller had them) */
    uint32_t invalid;    /* NV_SEC_BIT of sections whose values are out of range (left as
                            the caller had them; only a buggy writer produces them) */
    bool rings_used;     /* the rings were looked at (only when the slots alone cannot tell
                            a new store from an erased one) and hold records or markers */
    bool older;          /* NV_EOLDER, or accepted: the other slot was erased after use */
} nv_load_info_t;

/* Load the newest intact checkpoint into the image's structs. Returns
 *  NV_OK       loaded from info->used; the other slot's state is in info->slot (torn or
 *              damaged: a save was cut short, the loaded image is the newest intact);
 *  NV_EMPTY    nothing saved yet (both slots blank, or one blank and the other an
 *              interrupted first save, and the rings empty): the image is untouched;
 *  NV_EOLDER   one slot intact and the other blank after use: erased. Nothing loaded
 *              (with NV_LOAD_ACCEPT_OLDER: loaded, NV_OK, info->older set);
 *  NV_ELOST    both slots blank, the rings hold records or markers: erased after use;
 *  NV_ECORRUPT both slots written and neither intact, or one blank and the other bad
 *              after use: nothing loaded, nothing changed;
 *  NV_EVERSION the newest slot is from a newer format: nothing loaded;
 *  NV_EIO.
 * None of the failures is a silent factory reset: the caller decides. info may be
 * NULL. A later nv_save writes over the slot not loaded (or both slots if none was). */
int nv_load(nv_store_t *s, nv_image_t *img, nv_load_info_t *info);
#define NV_LOAD_ACCEPT_OLDER 1u /* nv_load_ex: load the survivor of an erased slot */
int nv_load_ex(nv_store_t *s, nv_image_t *img, nv_load_info_t *info, unsigned flags);

/* ---- record logs --------------------------------------------------------------------- */

/* Append one record (1..layout.log_payload bytes) to log `log` and sync. It writes one
 * ring slot; an interrupted append leaves the log as it was. The first append or load
 * of a log scans its ring. */
int nv_log_append(nv_store_t *s, unsigned log, const void *rec, size_t len);

/* Replace the whole log by this one record (len 0: by nothing), as one append: a purge
 * that a power cut cannot leave half done. */
int nv_log_reset(nv_store_t *s, unsigned log, const void *rec, size_t len);

/* Called for each record on load, oldest first, with its log sequence number (1, 2, ...
 * per log; a gap means damaged records were skipped). A zero-length record is the empty
 * marker of nv_log_reset(..., 0) and is not passed. rec points into the store's work
 * buffer: valid during the call only, and fn must not call nv_ functions on the same
 * store. Return 0 to go on, non-zero to stop (nv_log_load then returns that value). */
typedef int (*nv_log_fn)(void *arg, uint32_t seq, const void *rec, size_t len);

typedef struct {
    uint32_t records;  /* records passed to fn */
    uint32_t first, last; /* their sequence numbers (0 if none) */
    uint32_t damaged;  /* records of the current history skipped for a bad CRC */
} nv_log_info_t;

/* Read log `log` back: the newest intact records (at most layout.log_capacity) of its
 * current history (since the last nv_log_reset), in order. A torn last record is
 * ignored; a damaged one in the middle is skipped and counted. info may be NULL. */
int nv_log_load(nv_store_t *s, unsigned log, nv_log_fn fn, void *arg, nv_log_info_t *info);

/* ---- the s4100 layout and trend-log records -------------------------------------------- */

/* A trend-log record on the medium: its sequence number (Total_Record_Count when it was
 * logged) u32, time i64 (1/100 s since 2000), value f32, kind u8, flags u8. */
#define NV_TL_RECORD_SIZE 18u
void nv_tl_record_put(uint8_t out[NV_TL_RECORD_SIZE], uint32_t seq, const tl_record_t *r);
/* false if len is not NV_TL_RECORD_SIZE */
bool nv_tl_record_get(const void *in, size_t len, uint32_t *seq, tl_record_t *r);

/* The trend logs' record store (tl_store_t) over the rings: trend log n's records live
 * in ring n, read back one record at a time (each checked: CRC, its place in the ring,
 * its history, its sequence number; anything else is TL_GONE, so a damaged record is
 * served as a placeholder, never as data). Which ring record holds which log record is
 * kept as runs of consecutive numbers (a ring holds one run unless a restore found gaps
 * or numbers that went back); should more than NV_TL_RUNS pile up, the oldest run's
 * records read as gone until they leave the ring. */
#ifndef NV_TL_RUNS
#define NV_TL_RUNS 4
#endif
typedef struct {
    uint32_t seq;  /* the run's first trend-log sequence number */
    uint32_t ring; /* the ring sequence number holding it */
    uint32_t n;    /* numbers in the run: seq + i is in ring record ring + i */
} nv_tl_run_t;

typedef struct {
    nv_tl_run_t run[NV_TL_RUNS]; /* oldest first */
    uint8_t runs;
} nv_tl_map_t;

typedef struct {
    nv_store_t *s;
    nv_tl_map_t map[TL_COUNT];
    uint32_t gone; /* reads that found no intact record (damage, or not stored) */
} nv_tl_t;

/* Bind the trend logs' store to an opened store (after nv_open; nothing mapped yet). */
void nv_tl_open(nv_tl_t *t, nv_store_t *s);
/* The tl_store_t to attach a log to (tl_attach; nv_tl_restore does it). */
tl_store_t nv_tl_store(nv_tl_t *t);

/* A placeholder for a record that is gone (damaged on the medium, or never stored): a
 * log-status record with this bit (BACnetLogStatus log-interrupted), never data. */
#define NV_TL_INTERRUPTED TL_STATUS_INTERRUPTED

typedef struct {
    uint32_t records;  /* records restored from the ring */
    uint32_t damaged;  /* ring records of the log's history that failed their CRC, were
                          misplaced or could not be decoded */
    uint32_t missing;  /* sequence numbers without a record (damaged, or appends that
                          failed or were cut): a placeholder in each one's place */
    uint32_t dropped;  /* ring records older than the checkpoint's oldest: a purge the
                          ring never saw, or numbers that went back (an old store) */
    bool from_checkpoint; /* the newest record came from the checkpoint, not the ring */
} nv_tl_restore_info_t;

/* At power-up: log l (the device's TL n) from ring n and the checkpoint's account of the
 * log (ck, from nv_load's tl_state; NULL: none), then attached to ring n (nv_tl_store).
 * Its configuration comes from the checkpoint, so load that first. The ring is read once:
 * l gets the counters, Record_Count and Total_Record_Count, the newest records in its
 * cache and the map of the ring. Sequence numbers never go back: Total_Record_Count is the
 * larger of the ring's and the checkpoint's, a gap holds NV_TL_INTERRUPTED placeholders
 * (at most a buffer's worth), and the newest record comes from the checkpoint when the
 * ring lacks it. l->stored: the newest record the ring holds (tl_flush stores the rest).
 * On failure l is empty and attached (its ring starts afresh at the next flush), and the
 * map stays as it was. info may be NULL. */
int nv_tl_restore(nv_tl_t *t, unsigned log, tl_log_t *l, const nv_tl_state_t *ck,
                  nv_tl_restore_info_t *info);

/* The meter's store: 4 KB slots and one ring per trend log, 5760 records each. */
#define NV_S4100_LAYOUT                                                                  \
    ((nv_layout_t){.slot_size = 4096, .logs = TL_COUNT, .log_capacity = TL_BUFFER_SIZE,  \
                   .log_payload = NV_TL_RECORD_SIZE})

/* CRC-32 (IEEE 802.3, as zlib: reflected 0xEDB88320). Start with crc = 0; feed on. */
uint32_t nv_crc32(uint32_t crc, const void *data, size_t n);

#endif
