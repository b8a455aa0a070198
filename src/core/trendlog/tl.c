#include "tl.h"

#include <string.h>

void tl_init(tl_log_t *l, uint32_t ai)
{
    memset(l, 0, sizeof *l);
    l->enable = true;
    l->start = l->stop = TL_TIME_ANY;
    l->ai = ai;
}

bool tl_append(tl_log_t *l, const tl_record_t *r)
{
    if (l->count == TL_BUFFER_SIZE) {
        if (l->stop_when_full) {
            l->enable = false; /* single-shot: full means done */
            return false;
        }
        l->head = (l->head + 1) % TL_BUFFER_SIZE; /* continuous: drop the oldest */
        l->count--;
    }
    l->rec[(l->head + l->count) % TL_BUFFER_SIZE] = *r;
    l->count++;
    /* Sequence numbers run 1..2^32-1 and wrap to 1 (0 is never a record's). */
    l->total = l->total == UINT32_MAX ? 1 : l->total + 1;
    return true;
}

void tl_purge(tl_log_t *l, tl_time_t now)
{
    l->count = 0;
    l->head = 0;
    l->purges++;
    tl_record_t r = {.t = now, .kind = TL_REC_STATUS, .value = TL_STATUS_BUFFER_PURGED};
    tl_append(l, &r);
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

const tl_record_t *tl_at(const tl_log_t *l, uint32_t k)
{
    return &l->rec[(l->head + k) % TL_BUFFER_SIZE];
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
        if (rr->count > 0) {
            for (k = 0; k < l->count && tl_at(l, k)->t <= rr->time; k++)
                ;
            if (k < l->count)
                span(l, k, rr->count, first, n);
        } else {
            for (k = l->count; k > 0 && tl_at(l, k - 1)->t >= rr->time; k--)
                ;
            if (k > 0)
                span(l, k - 1, rr->count, first, n);
        }
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
