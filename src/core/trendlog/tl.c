#include "tl.h"

#include <string.h>

/* ---- sequence numbers ------------------------------------------------------------------ */

uint32_t tl_seq_dist(uint32_t a, uint32_t b)
{
    return a >= b ? a - b : a - b - 1; /* the wrap skips 0 */
}

bool tl_seq_after(uint32_t a, uint32_t b)
{
    uint32_t d = tl_seq_dist(a, b);
    return d != 0 && d < 0x80000000u;
}

static uint32_t seq_next(uint32_t s)
{
    return s == UINT32_MAX ? 1 : s + 1;
}

uint32_t tl_seq_of(const tl_log_t *l, uint32_t k)
{
    /* The newest (k = count-1) has sequence total; step back, minding the wrap. */
    uint32_t back = l->count - 1 - k;
    uint32_t s = l->total - back;
    if (l->total <= back) /* wrapped past 2^32-1 to 1 */
        s -= 1;
    return s;
}

/* ---- the log --------------------------------------------------------------------------- */

/* Position k of sequence number seq, or false if no record has it. */
static bool k_of_seq(const tl_log_t *l, uint32_t seq, uint32_t *k)
{
    if (l->count == 0)
        return false;
    uint32_t oldest = tl_seq_of(l, 0);
    uint32_t off = seq - oldest;
    if (oldest > l->total) /* the window spans the wrap */
        off = seq >= oldest ? seq - oldest : seq + (UINT32_MAX - oldest);
    if (off >= l->count)
        return false;
    *k = off;
    return true;
}

void tl_init(tl_log_t *l, uint32_t ai)
{
    memset(l, 0, sizeof *l);
    l->enable = true;
    l->start = l->stop = TL_TIME_ANY;
    l->ai = ai;
}

void tl_attach(tl_log_t *l, const tl_store_t *st, unsigned log, uint32_t stored)
{
    if (st)
        l->store = *st;
    else
        memset(&l->store, 0, sizeof l->store);
    l->log = (uint8_t)log;
    l->stored = stored;
}

/* Records the store lacks, counted back from the newest; count or more: all of them (a
 * purge since, or a store that holds none of the log's records). */
static uint32_t pending(const tl_log_t *l)
{
    if (l->total == l->stored)
        return 0;
    return tl_seq_after(l->total, l->stored) ? tl_seq_dist(l->total, l->stored) : UINT32_MAX;
}

static const tl_record_t *cached(const tl_log_t *l, uint32_t back)
{
    return &l->cache[(l->next + TL_CACHE_SIZE - 1 - back) % TL_CACHE_SIZE];
}

/* Record k from the cache or the store: 0, or TL_GONE when neither has it intact. */
static int reach(const tl_log_t *l, uint32_t k, tl_record_t *r)
{
    uint32_t back = l->count - 1 - k;
    if (back < l->cached) {
        *r = *cached(l, back);
        return 0;
    }
    uint32_t n = pending(l);
    if (!l->store.read || n >= l->count || back < n)
        return TL_GONE; /* not stored, and no longer cached */
    return l->store.read(l->store.ctx, l->log, tl_seq_of(l, k), r) == 0 ? 0 : TL_GONE;
}

/* Is record seq one after which the order matters (in the log, and not its oldest)? */
static bool inside(const tl_log_t *l, uint32_t seq)
{
    uint32_t k;
    return seq && k_of_seq(l, seq, &k) && k > 0;
}

/* Record seq is stamped earlier than the one before it: remember where. */
static void note_disorder(tl_log_t *l, uint32_t seq)
{
    uint8_t n = 0;
    for (uint8_t i = 0; i < l->disorders; i++) /* forget those gone from the log */
        if (inside(l, l->disorder[i]))
            l->disorder[n++] = l->disorder[i];
    if (n == TL_DISORDER_MAX) {
        l->disorder_lost = l->disorder[0];
        memmove(l->disorder, l->disorder + 1, (TL_DISORDER_MAX - 1) * sizeof l->disorder[0]);
        n--;
    }
    l->disorder[n++] = seq;
    l->disorders = n;
}

bool tl_append(tl_log_t *l, const tl_record_t *r)
{
    if (l->count == TL_BUFFER_SIZE && l->stop_when_full) {
        l->enable = false; /* single-shot: full means done */
        return false;
    }
    if (l->cached == TL_CACHE_SIZE && l->store.append && pending(l) >= TL_CACHE_SIZE)
        tl_flush(l); /* the oldest cached record would leave unstored */
    if (l->count == TL_BUFFER_SIZE)
        l->count--; /* continuous: drop the oldest */
    uint32_t seq = seq_next(l->total);
    if (l->count && r->t < cached(l, 0)->t)
        note_disorder(l, seq);
    l->cache[l->next] = *r;
    l->next = (l->next + 1) % TL_CACHE_SIZE;
    if (l->cached < TL_CACHE_SIZE)
        l->cached++;
    l->count++;
    l->total = seq;
    return true;
}

void tl_clear(tl_log_t *l)
{
    l->count = l->cached = 0;
    l->disorders = 0;
    l->disorder_lost = 0;
}

void tl_purge(tl_log_t *l, tl_time_t now)
{
    tl_clear(l);
    tl_record_t r = {.t = now, .kind = TL_REC_STATUS, .value = TL_STATUS_BUFFER_PURGED};
    tl_append(l, &r);
}

int tl_flush(tl_log_t *l)
{
    uint32_t n = pending(l), k;
    if (!n || !l->store.append)
        return 0;
    tl_reader_t rd;
    tl_record_t r;
    tl_reader_init(&rd, l);
    if (n >= l->count) {
        /* The store holds none of these records: start it afresh with the oldest. */
        uint32_t seq = l->count ? tl_seq_of(l, 0) : l->total;
        if (l->count)
            tl_read(&rd, 0, &r);
        int rc = l->store.reset(l->store.ctx, l->log, seq, l->count ? &r : NULL);
        if (rc)
            return rc;
        l->stored = seq;
        k = 1;
    } else {
        k = l->count - n;
    }
    for (; k < l->count; k++) {
        uint32_t seq = tl_seq_of(l, k);
        tl_read(&rd, k, &r); /* gone from the cache unstored: a placeholder */
        int rc = l->store.append(l->store.ctx, l->log, seq, &r);
        if (rc)
            return rc; /* l->stored says how far it got */
        l->stored = seq;
    }
    return 0;
}

/* tl_append, also into a full single-shot log: filling a gap must not switch it off. */
static void put(tl_log_t *l, const tl_record_t *r)
{
    bool enable = l->enable, swf = l->stop_when_full;
    l->stop_when_full = false;
    tl_append(l, r);
    l->enable = enable;
    l->stop_when_full = swf;
}

uint32_t tl_fill(tl_log_t *l, uint32_t upto, tl_time_t t)
{
    if (!tl_seq_after(upto, l->total))
        return 0;
    uint32_t n = tl_seq_dist(upto, l->total), k = n;
    if (k > TL_BUFFER_SIZE) {
        /* Only the newest buffer's worth would stay. */
        tl_clear(l);
        l->total = upto - TL_BUFFER_SIZE; /* then TL_BUFFER_SIZE steps reach upto */
        if (upto <= TL_BUFFER_SIZE)
            l->total--; /* the wrap skips 0 */
        k = TL_BUFFER_SIZE;
    }
    tl_record_t r = {.t = t, .kind = TL_REC_STATUS, .value = (float)TL_STATUS_INTERRUPTED};
    while (k--)
        put(l, &r);
    return n;
}

bool tl_active(const tl_log_t *l, tl_time_t now)
{
    if (!l->enable)
        return false;
    if (l->start != TL_TIME_ANY && now < l->start)
        return false;
    if (l->stop != TL_TIME_ANY && now >= l->stop)
        return false;
    return true;
}

/* ---- reading ---------------------------------------------------------------------------- */

void tl_reader_init(tl_reader_t *rd, const tl_log_t *l)
{
    memset(rd, 0, sizeof *rd);
    rd->l = l;
}

static void placeholder(tl_record_t *r, tl_time_t t)
{
    *r = (tl_record_t){.t = t, .kind = TL_REC_STATUS, .value = (float)TL_STATUS_INTERRUPTED};
}

static bool in_gap(const tl_reader_t *rd, uint32_t k)
{
    return rd->gap && k >= rd->lo && k <= rd->hi;
}

/* The run of unreadable records around k, stamped as the record before it (the one after
 * it when none is before): what a restore from the medium gives them. */
static void find_gap(tl_reader_t *rd, uint32_t k)
{
    const tl_log_t *l = rd->l;
    tl_record_t x = {0};
    bool before = false, after = false;
    rd->lo = rd->hi = k;
    while (rd->lo > 0 && !before)
        if (!(before = reach(l, rd->lo - 1, &x) == 0))
            rd->lo--;
    rd->t = x.t;
    while (rd->hi + 1 < l->count && !after)
        if (!(after = reach(l, rd->hi + 1, &x) == 0))
            rd->hi++;
    if (!before && after)
        rd->t = x.t;
    rd->gap = true;
}

int tl_read(tl_reader_t *rd, uint32_t k, tl_record_t *r)
{
    if (!in_gap(rd, k)) {
        if (reach(rd->l, k, r) == 0)
            return 0;
        find_gap(rd, k);
    }
    placeholder(r, rd->t);
    return TL_GONE;
}

int tl_get(const tl_log_t *l, uint32_t k, tl_record_t *r)
{
    tl_reader_t rd;
    tl_reader_init(&rd, l);
    return tl_read(&rd, k, r);
}

tl_record_t tl_at(const tl_log_t *l, uint32_t k)
{
    tl_record_t r;
    tl_get(l, k, &r);
    return r;
}

/* ---- a record store in RAM ------------------------------------------------------------ */

static int ram_read(void *ctx, unsigned log, uint32_t seq, tl_record_t *r)
{
    tl_ram_t *m = ctx;
    if (log >= TL_COUNT || !m->log[log].n)
        return TL_GONE;
    uint32_t last = m->log[log].last, n = m->log[log].n;
    if (seq != last && !tl_seq_after(last, seq))
        return TL_GONE;
    uint32_t back = tl_seq_dist(last, seq);
    if (back >= n)
        return TL_GONE;
    *r = m->rec[log][(m->log[log].head + n - 1 - back) % TL_BUFFER_SIZE];
    return 0;
}

static int ram_append(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r)
{
    tl_ram_t *m = ctx;
    if (log >= TL_COUNT)
        return -1;
    if (m->log[log].n && seq != seq_next(m->log[log].last))
        m->log[log].n = 0; /* not the next: what it held does not come before it */
    if (m->log[log].n == TL_BUFFER_SIZE) {
        m->log[log].head = (m->log[log].head + 1) % TL_BUFFER_SIZE;
        m->log[log].n--;
    }
    m->rec[log][(m->log[log].head + m->log[log].n) % TL_BUFFER_SIZE] = *r;
    m->log[log].n++;
    m->log[log].last = seq;
    return 0;
}

static int ram_reset(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r)
{
    tl_ram_t *m = ctx;
    if (log >= TL_COUNT)
        return -1;
    m->log[log].n = m->log[log].head = 0;
    m->log[log].last = seq;
    return r ? ram_append(ctx, log, seq, r) : 0;
}

void tl_ram_init(tl_ram_t *r)
{
    memset(r->log, 0, sizeof r->log);
}

tl_store_t tl_ram_store(tl_ram_t *r)
{
    return (tl_store_t){.ctx = r, .read = ram_read, .append = ram_append, .reset = ram_reset};
}

/* ---- ReadRange ------------------------------------------------------------------------------ */

/* Forward count records from index k (inclusive), or backward ending at it. */
static void span(const tl_log_t *l, uint32_t k, int32_t count, uint32_t *first, uint32_t *n)
{
    if (count > 0) {
        uint32_t avail = l->count - k;
        *first = k;
        *n = (uint32_t)count < avail ? (uint32_t)count : avail;
    } else {
        uint32_t want = (uint32_t)(-(int64_t)count), avail = k + 1;
        *n = want < avail ? want : avail;
        *first = k + 1 - *n;
    }
}

static tl_time_t time_at(tl_reader_t *rd, uint32_t k)
{
    tl_record_t r;
    tl_read(rd, k, &r);
    return r.t;
}

/* In lo..hi-1, whose times are in order: the first record stamped after t (newer: true),
 * or at t or later (false); hi if none. The cache is tried first: the newest records
 * are the ones asked for most. */
static uint32_t bisect(tl_reader_t *rd, uint32_t lo, uint32_t hi, tl_time_t t, bool newer)
{
    uint32_t c = rd->l->count - rd->l->cached;
    bool probe = c > lo && c < hi;
    while (lo < hi) {
        uint32_t mid = probe ? c : lo + (hi - lo) / 2;
        tl_time_t m = time_at(rd, mid);
        probe = false;
        if (newer ? m > t : m >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Forward: the first record strictly newer than t; backward: one past the last record
 * strictly older (0 if none), as a scan from that end finds them. The stretches between
 * the clock's set-backs are each in order (a gap's placeholders take a neighbour's time,
 * so they keep it): each is bisected, oldest first going forward, newest first going
 * back. With a set-back the log no longer remembers, it scans. */
static uint32_t by_time(const tl_log_t *l, tl_time_t t, bool forward)
{
    tl_reader_t rd;
    uint32_t k, cut[TL_DISORDER_MAX + 2], n = 0;
    tl_reader_init(&rd, l);
    if (inside(l, l->disorder_lost)) {
        if (forward)
            for (k = 0; k < l->count && time_at(&rd, k) <= t; k++)
                ;
        else
            for (k = l->count; k > 0 && time_at(&rd, k - 1) >= t; k--)
                ;
        return k;
    }
    cut[n++] = 0;
    for (uint8_t i = 0; i < l->disorders; i++)
        if (inside(l, l->disorder[i]) && k_of_seq(l, l->disorder[i], &k))
            cut[n++] = k;
    cut[n] = l->count;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = forward ? i : n - 1 - i;
        k = bisect(&rd, cut[j], cut[j + 1], t, forward);
        if (forward ? k < cut[j + 1] : k > cut[j])
            return k;
    }
    return forward ? l->count : 0;
}

void tl_select(const tl_log_t *l, const tl_range_t *rr, uint32_t *first, uint32_t *n)
{
    *first = 0;
    *n = 0;
    if (l->count == 0)
        return;
    uint32_t k;
    switch (rr->by) {
    case TL_RANGE_ALL:
        *n = l->count;
        return;
    case TL_RANGE_POSITION:
        if (rr->ref < 1 || rr->ref > l->count)
            return; /* a reference that does not exist: an empty answer */
        span(l, rr->ref - 1, rr->count, first, n);
        return;
    case TL_RANGE_SEQUENCE:
        if (k_of_seq(l, rr->ref, &k))
            span(l, k, rr->count, first, n);
        return;
    case TL_RANGE_TIME:
        /* Strictly newer than the time going forward, strictly older going back. */
        k = by_time(l, rr->time, rr->count > 0);
        if (rr->count > 0 && k < l->count)
            span(l, k, rr->count, first, n);
        else if (rr->count < 0 && k > 0)
            span(l, k - 1, rr->count, first, n);
        return;
    }
}

/* ---- dates ------------------------------------------------------------------------------ */

/* Days since 2000-01-01 of a civil date (proleptic Gregorian), and back. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 730425; /* 730425: 0000-03-01 .. 2000-01-01 */
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 730425;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void tl_time_split(tl_time_t t, bac_date_t *d, bac_time_t *tm)
{
    int64_t days = t >= 0 ? t / 8640000 : -((-t + 8639999) / 8640000);
    int64_t cs = t - days * 8640000;
    int64_t y;
    int m, dd;
    civil_from_days(days, &y, &m, &dd);
    int64_t wd = ((days % 7) + 7 + 5) % 7; /* 2000-01-01 was a Saturday (Mon = 0) */
    if (y < 1900 || y > 1900 + 254) { /* beyond what a BACnet Date can say */
        *d = (bac_date_t){BAC_ANY, BAC_ANY, BAC_ANY, BAC_ANY};
    } else {
        *d = (bac_date_t){(uint8_t)(y - 1900), (uint8_t)m, (uint8_t)dd, (uint8_t)(wd + 1)};
    }
    *tm = (bac_time_t){(uint8_t)(cs / 360000), (uint8_t)(cs / 6000 % 60), (uint8_t)(cs / 100 % 60),
                       (uint8_t)(cs % 100)};
}

static int days_in_month(int64_t y, int m)
{
    static const uint8_t dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

bool tl_time_join(const bac_date_t *d, const bac_time_t *tm, tl_time_t *t)
{
    if (d->year == BAC_ANY || d->month < 1 || d->month > 12 || d->day < 1)
        return false;
    int64_t y = 1900 + d->year;
    if (d->day > days_in_month(y, d->month))
        return false;
    if (tm->hour > 23 || tm->min > 59 || tm->sec > 59 || tm->hundredths > 99)
        return false; /* every wildcard (0xFF) too */
    *t = days_from_civil(y, d->month, d->day) * 8640000 + tm->hour * 360000 + tm->min * 6000 +
         tm->sec * 100 + tm->hundredths;
    return true;
}

/* ---- encoding ------------------------------------------------------------------------------ */

int tl_encode_record(bac_buf_t *b, const tl_record_t *r)
{
    bac_date_t d;
    bac_time_t tm;
    tl_time_split(r->t, &d, &tm);
    bac_enc_opening(b, 0);
    bac_enc_date(b, d);
    bac_enc_time(b, tm);
    bac_enc_closing(b, 0);
    bac_enc_opening(b, 1);
    if (r->kind == TL_REC_STATUS) {
        bac_bits_t bs; /* BACnetLogStatus at revision 4: log-disabled, buffer-purged */
        bac_bits_init(&bs, 2);
        bac_bits_set(&bs, 0, ((unsigned)r->value & TL_STATUS_LOG_DISABLED) != 0);
        bac_bits_set(&bs, 1, ((unsigned)r->value & TL_STATUS_BUFFER_PURGED) != 0);
        bac_enc_ctx_bits(b, 0, &bs);
    } else {
        bac_enc_ctx_real(b, r->kind == TL_REC_TIME_CHANGE ? 9 : 2, r->value);
    }
    bac_enc_closing(b, 1);
    if (r->kind == TL_REC_REAL) {
        bac_bits_t sf;
        bac_bits_init(&sf, BAC_SF_COUNT);
        bac_bits_set(&sf, BAC_SF_FAULT, (r->flags & 2u) != 0);
        bac_enc_ctx_bits(b, 2, &sf);
    }
    return bac_err(b);
}
