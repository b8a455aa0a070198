/* Trend logs: the ring, the logging rules, the TL properties and ReadRange on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bacnet/bac.h"
#include "objects/obj.h"
#include "trendlog/tl.h"

static obj_device_t dev;
static bac_server_t srv;
static tl_log_t lg;
static tl_ram_t ram; /* where the logs keep their records (the meter's are in NV) */
static tl_store_t store;
static uint8_t out[1500];
static mtr_frame_t zero[MTR_FS];

static int setup(void **state)
{
    (void)state;
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "TL");
    id.instance = 1234;
    mtr_config_default(&cfg);
    obj_init(&dev, &id, &cfg, NULL);
    tl_ram_init(&ram);
    store = tl_ram_store(&ram);
    obj_tl_attach(&dev, &store);
    bac_server_init(&srv, &dev, NULL);
    return 0;
}

/* A log of its own on the RAM store (log 0 of it, afresh). */
static void own_log(tl_log_t *l)
{
    tl_init(l, 11);
    tl_ram_init(&ram);
    store = tl_ram_store(&ram);
    tl_attach(l, &store, 0, 0);
}

static size_t hex(const char *s, uint8_t *buf)
{
    size_t n = 0;
    unsigned v;
    for (; *s; s++)
        if (*s != ' ' && sscanf(s, "%2x", &v) == 1)
            buf[n++] = (uint8_t)v, s++;
    return n;
}

static size_t req(const char *h)
{
    static uint8_t in[600];
    bool b;
    size_t n = hex(h, in);
    return bac_server_handle(&srv, 0, in, n, false, out, sizeof out, &b);
}

static void expect(size_t got, const char *h)
{
    static uint8_t want[1500];
    size_t n = hex(h, want);
    if (got != n || memcmp(out, want, n)) {
        printf("want %s\ngot  ", h);
        for (size_t k = 0; k < got; k++)
            printf("%02X ", out[k]);
        printf("\n");
    }
    assert_int_equal(got, n);
    assert_memory_equal(out, want, n);
}

/* One 1 s metering cycle, then the object layer's. */
static void cycle(void)
{
    bool c = false;
    size_t off = 0;
    while (off < MTR_FS)
        off += mtr_feed(&dev.mtr, zero + off, MTR_FS - off, &c);
    obj_cycle(&dev);
}

static void test_ring(void **state)
{
    (void)state;
    own_log(&lg);
    for (int k = 0; k < (int)TL_BUFFER_SIZE + 10; k++) {
        tl_record_t r = {.t = k * 100, .kind = TL_REC_REAL, .value = (float)k};
        assert_true(tl_append(&lg, &r));
    }
    /* Continuous: the oldest 10 are gone, sequence numbers keep counting. */
    assert_int_equal(lg.count, TL_BUFFER_SIZE);
    assert_int_equal(lg.total, TL_BUFFER_SIZE + 10);
    assert_float_equal(tl_at(&lg, 0).value, 10, 0);
    assert_int_equal(tl_seq_of(&lg, 0), 11);
    assert_int_equal(tl_seq_of(&lg, TL_BUFFER_SIZE - 1), TL_BUFFER_SIZE + 10);
    /* Single shot: full stops the log and disables it. */
    own_log(&lg);
    lg.stop_when_full = true;
    tl_record_t r = {.kind = TL_REC_REAL};
    for (unsigned k = 0; k < TL_BUFFER_SIZE; k++)
        assert_true(tl_append(&lg, &r));
    assert_false(tl_append(&lg, &r));
    assert_false(lg.enable);
    assert_int_equal(lg.count, TL_BUFFER_SIZE);
    /* Purge leaves one buffer-purged status record. */
    tl_purge(&lg, 500);
    assert_int_equal(lg.count, 1);
    assert_int_equal(tl_at(&lg, 0).kind, TL_REC_STATUS);
    /* Sequence numbers wrap from 2^32-1 to 1. */
    own_log(&lg);
    lg.total = UINT32_MAX - 1;
    tl_append(&lg, &r);
    tl_append(&lg, &r);
    tl_append(&lg, &r);
    assert_int_equal(lg.total, 2);
    assert_int_equal(tl_seq_of(&lg, 0), UINT32_MAX);
    assert_int_equal(tl_seq_of(&lg, 1), 1);
    assert_int_equal(tl_seq_of(&lg, 2), 2);
    tl_range_t rr = {.by = TL_RANGE_SEQUENCE, .ref = 1, .count = 5};
    uint32_t f, n;
    tl_select(&lg, &rr, &f, &n);
    assert_int_equal(f, 1);
    assert_int_equal(n, 2);
}

static void test_select(void **state)
{
    (void)state;
    own_log(&lg);
    for (int k = 1; k <= 10; k++) { /* t = 10 s .. 100 s, seq 1..10 */
        tl_record_t r = {.t = k * 1000, .kind = TL_REC_REAL, .value = (float)k};
        tl_append(&lg, &r);
    }
    struct { int by; uint32_t ref; int64_t t; int32_t count; uint32_t first, n; } rows[] = {
        {TL_RANGE_ALL, 0, 0, 1, 0, 10},
        {TL_RANGE_POSITION, 1, 0, 3, 0, 3},
        {TL_RANGE_POSITION, 9, 0, 5, 8, 2},     /* clamped at the end */
        {TL_RANGE_POSITION, 5, 0, -3, 2, 3},    /* ends at the reference */
        {TL_RANGE_POSITION, 2, 0, -5, 0, 2},
        {TL_RANGE_POSITION, 11, 0, 1, 0, 0},    /* no such reference: empty */
        {TL_RANGE_POSITION, 0, 0, 1, 0, 0},
        {TL_RANGE_SEQUENCE, 4, 0, 2, 3, 2},
        {TL_RANGE_SEQUENCE, 4, 0, -2, 2, 2},
        {TL_RANGE_SEQUENCE, 99, 0, 2, 0, 0},
        {TL_RANGE_TIME, 0, 5000, 2, 5, 2},      /* strictly newer than 50 s */
        {TL_RANGE_TIME, 0, 5000, -2, 2, 2},     /* strictly older than 50 s */
        {TL_RANGE_TIME, 0, 5050, 100, 5, 5},
        {TL_RANGE_TIME, 0, 100000, 1, 0, 0},
        {TL_RANGE_TIME, 0, 500, -1, 0, 0},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        tl_range_t rr = {rows[k].by, rows[k].ref, rows[k].t, rows[k].count};
        uint32_t f = 99, n = 99;
        tl_select(&lg, &rr, &f, &n);
        assert_int_equal(n, rows[k].n);
        if (n)
            assert_int_equal(f, rows[k].first);
    }
}

static void test_time_conversion(void **state)
{
    (void)state;
    bac_date_t d;
    bac_time_t t;
    tl_time_split(0, &d, &t); /* 2000-01-01 is a Saturday */
    assert_int_equal(d.year, 100);
    assert_int_equal(d.month, 1);
    assert_int_equal(d.day, 1);
    assert_int_equal(d.wday, 6);
    tl_time_t x;
    bac_date_t leap = {100, 2, 29, BAC_ANY}, bad = {101, 2, 29, BAC_ANY};
    bac_time_t noon = {12, 0, 0, 0}, wild = {12, BAC_ANY, 0, 0};
    assert_true(tl_time_join(&leap, &noon, &x));
    tl_time_split(x, &d, &t);
    assert_int_equal(d.month, 2);
    assert_int_equal(d.day, 29);
    assert_int_equal(d.wday, 2); /* 2000-02-29 was a Tuesday */
    assert_int_equal(t.hour, 12);
    assert_false(tl_time_join(&bad, &noon, &x));
    assert_false(tl_time_join(&leap, &wild, &x));
    /* Round trip over a century, a day at a time. */
    for (tl_time_t v = 0; v < 36600LL * 8640000; v += 8640000 + 123) {
        tl_time_split(v, &d, &t);
        assert_true(tl_time_join(&d, &t, &x));
        assert_true(x == v);
    }
}

/* With a 15-minute interval a buffer holds 60 days (datasheet), in simulated time. */
static void test_sixty_days(void **state)
{
    (void)state;
    for (int k = 0; k < TL_COUNT; k++)
        dev.tl[k].ai = MTR_AI_MAX_POWER; /* a value that is there without a load */
    dev.clock_cs += 100; /* start at 00:00:01: the first boundary is 00:15:00 */
    for (int c = 0; c < 5760 * 900; c += 900) {
        dev.clock_cs += 89900; /* each cycle: 1 s of samples, 900 s of clock */
        cycle();
    }
    tl_log_t *l = &dev.tl[0];
    assert_int_equal(l->count, TL_BUFFER_SIZE);
    assert_int_equal(l->total, TL_BUFFER_SIZE);
    double span_days = (double)(tl_at(l, TL_BUFFER_SIZE - 1).t - tl_at(l, 0).t) / 100.0 / 86400.0;
    printf("5760 records at 15 min span %.4f days (first at %.0f s, last at %.0f s)\n", span_days,
           (double)tl_at(l, 0).t / 100, (double)tl_at(l, TL_BUFFER_SIZE - 1).t / 100);
    assert_true(span_days > 59.98 && span_days < 60.0);
    /* On the boundary: every record at a whole quarter hour. */
    for (uint32_t k = 0; k < TL_BUFFER_SIZE; k += 97)
        assert_int_equal(tl_at(l, k).t % 90000, 0);
    assert_float_equal(tl_at(l, 5).value, 103.923, 0.001);
    /* One more interval: continuous logging drops the oldest. */
    tl_time_t oldest = tl_at(l, 0).t;
    dev.clock_cs += 89900;
    cycle();
    assert_int_equal(l->count, TL_BUFFER_SIZE);
    assert_true(tl_at(l, 0).t == oldest + 90000);
}

/* An AV11 write accepted just before a restart still restarts the logs. */
static void test_av11_pending_at_restart(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++)
        cycle();
    dev.clock_cs += 90000;
    cycle(); /* a boundary: one record per log */
    uint32_t before = dev.tl[0].total;
    assert_true(dev.tl[0].count >= 1);
    assert_int_equal(obj_av_write(&dev, 11, 60000), OBJ_OK);
    obj_restart(&dev, false);
    assert_int_equal(dev.mtr.cfg.subinterval_cs, 60000);
    for (int k = 0; k < TL_COUNT; k++) {
        assert_int_equal(dev.tl[k].count, 1); /* the buffer-purged record alone */
        assert_int_equal(tl_at(&dev.tl[k], 0).kind, TL_REC_STATUS);
    }
    assert_true(dev.tl[0].total > before); /* numbering goes on */
}

static void test_sync_to_comms_and_av11(void **state)
{
    (void)state;
    tl_log_t *l = &dev.tl[1];
    assert_int_equal(obj_av_write(&dev, 11, 0), OBJ_OK);
    cycle(); /* commit: AV11 written -> every log purged (one status record) */
    assert_int_equal(l->count, 1);
    assert_int_equal(tl_at(l, 0).kind, TL_REC_STATUS);
    for (int k = 0; k < 30; k++)
        cycle();
    assert_int_equal(l->count, 1); /* sync mode: nothing by time */
    assert_int_equal(obj_av_write(&dev, 1, 21211), OBJ_OK);
    assert_int_equal(l->count, 1);
    cycle(); /* takes effect at the end of the next cycle */
    assert_int_equal(l->count, 2);
    assert_int_equal(tl_at(l, 1).kind, TL_REC_REAL);
    /* Log_Interval is AV11: writing one changes the other (and all four). */
    expect(req("01 04 00 03 01 0F 0C 05 00 00 03 19 86 3E 22 17 70 3F"), "01 00 20 01 0F");
    cycle();
    assert_int_equal(dev.mtr.cfg.subinterval_cs, 6000);
    expect(req("01 04 00 03 02 0C 0C 05 00 00 01 19 86"),
           "01 00 30 02 0C 0C 05 00 00 01 19 86 3E 22 17 70 3F");
    expect(req("01 04 00 03 03 0F 0C 05 00 00 02 19 86 3E 22 17 71 3F"), "01 00 50 03 0F 91 02 91 25");
}

static void test_trendlog_properties(void **state)
{
    (void)state;
    /* Buffer_Size 5760 = 22 16 80; Log_Buffer by ReadProperty: read-access-denied. */
    expect(req("01 04 00 03 01 0C 0C 05 00 00 01 19 7E"), "01 00 30 01 0C 0C 05 00 00 01 19 7E 3E 22 16 80 3F");
    expect(req("01 04 00 03 02 0C 0C 05 00 00 01 19 83"), "01 00 50 02 0C 91 02 91 1B");
    /* Log_DeviceObjectProperty: AI2 PV by default; AI75 accepted, AI76, AV1, other
     * properties and other devices refused. */
    expect(req("01 04 00 03 03 0C 0C 05 00 00 01 19 84"),
           "01 00 30 03 0C 0C 05 00 00 01 19 84 3E 0C 00 00 00 02 19 55 3F");
    expect(req("01 04 00 03 04 0F 0C 05 00 00 01 19 84 3E 0C 00 00 00 4B 19 55 3F"), "01 00 20 04 0F");
    assert_int_equal(dev.tl[0].ai, 75);
    const char *bad[] = {"0C 00 00 00 4C 19 55", "0C 00 80 00 01 19 55", "0C 00 00 00 0B 19 4D",
                         "0C 00 00 00 0B 19 55 29 01", "0C 00 00 00 0B 19 55 3C 02 00 00 05"};
    for (int k = 0; k < 5; k++) {
        char r[200];
        snprintf(r, sizeof r, "01 04 00 03 05 0F 0C 05 00 00 01 19 84 3E %s 3F", bad[k]);
        expect(req(r), "01 00 50 05 0F 91 02 91 25");
    }
    assert_int_equal(dev.tl[0].ai, 75);
    /* Record_Count: only 0 (purge). */
    expect(req("01 04 00 03 06 0F 0C 05 00 00 01 19 8D 3E 21 05 3F"), "01 00 50 06 0F 91 02 91 25");
    expect(req("01 04 00 03 07 0F 0C 05 00 00 01 19 8D 3E 21 00 3F"), "01 00 20 07 0F");
    /* Start_Time: a whole date and time or all unspecified. */
    expect(req("01 04 00 03 08 0F 0C 05 00 00 01 19 8E 3E A4 7E 0B 17 FF B4 0C 00 00 00 3F"), "01 00 20 08 0F");
    expect(req("01 04 00 03 09 0C 0C 05 00 00 01 19 8E"),
           "01 00 30 09 0C 0C 05 00 00 01 19 8E 3E A4 7E 0B 17 01 B4 0C 00 00 00 3F");
    expect(req("01 04 00 03 0A 0F 0C 05 00 00 01 19 8E 3E A4 FF FF FF FF B4 FF FF FF FF 3F"), "01 00 20 0A 0F");
    expect(req("01 04 00 03 0B 0F 0C 05 00 00 01 19 8E 3E A4 7E 0B FF FF B4 0C 00 00 00 3F"),
           "01 00 50 0B 0F 91 02 91 25");
    /* Log_Enable off adds a log-disabled record; Buffer_Size is read-only. */
    expect(req("01 04 00 03 0C 0F 0C 05 00 00 02 19 85 3E 10 3F"), "01 00 20 0C 0F");
    assert_false(dev.tl[1].enable);
    assert_int_equal(tl_at(&dev.tl[1], dev.tl[1].count - 1).kind, TL_REC_STATUS);
    expect(req("01 04 00 03 0D 0F 0C 05 00 00 01 19 7E 3E 21 05 3F"), "01 00 50 0D 0F 91 02 91 28");
}

/* Fill TL1 with n REAL records at t = 10 s, 20 s, ... (value = k). */
static void fill(unsigned n)
{
    tl_log_t *l = &dev.tl[0];
    l->count = l->cached = l->total = l->stored = 0; /* the store starts afresh */
    for (unsigned k = 1; k <= n; k++) {
        tl_record_t r = {.t = (tl_time_t)k * 1000, .kind = TL_REC_REAL, .value = (float)k};
        tl_append(l, &r);
    }
}

static void test_read_range_wire(void **state)
{
    (void)state;
    fill(3);
    /* By position 2, count 1: flags {first F, last F, more F}, 1 item, no [6]. Record:
     * 0E A4 64 01 01 06 B4 00 00 14 00 0F 1E 2C 40 00 00 00 1F 2A 04 00 */
    expect(req("01 04 00 05 01 1A 0C 05 00 00 01 19 83 3E 21 02 31 01 3F"),
           "01 00 30 01 1A 0C 05 00 00 01 19 83 3A 05 00 49 01 5E"
           " 0E A4 64 01 01 06 B4 00 00 14 00 0F 1E 2C 40 00 00 00 1F 2A 04 00 5F");
    /* No range: everything, first and last set. */
    size_t n = req("01 04 00 05 02 1A 0C 05 00 00 01 19 83");
    assert_true(n > 0);
    assert_memory_equal(out + 12, "\x3A\x05\xC0\x49\x03", 5);
    /* By sequence 3, count -2: records 2 and 3, last-item, firstSequenceNumber [6] 2. */
    n = req("01 04 00 05 03 1A 0C 05 00 00 01 19 83 6E 21 03 31 FE 6F");
    assert_memory_equal(out + 12, "\x3A\x05\x40\x49\x02", 5);
    assert_memory_equal(out + n - 2, "\x69\x02", 2);
    /* By time (newer than 15 s, 10 items): 2 and 3, [6] = 2; the old [4] reads alike. */
    n = req("01 04 00 05 04 1A 0C 05 00 00 01 19 83 7E A4 64 01 01 06 B4 00 00 0F 00 31 0A 7F");
    assert_memory_equal(out + 12, "\x3A\x05\x40\x49\x02", 5);
    assert_memory_equal(out + n - 2, "\x69\x02", 2);
    size_t n4 = req("01 04 00 05 05 1A 0C 05 00 00 01 19 83 4E A4 64 01 01 06 B4 00 00 0F 00 31 0A 4F");
    assert_int_equal(n4, n);
    /* Errors: count 0 and [5] rejected; an AI has no list; Log_Buffer with an index. */
    expect(req("01 04 00 05 06 1A 0C 05 00 00 01 19 83 3E 21 01 31 00 3F"), "01 00 60 06 06");
    assert_int_equal(req("01 04 00 05 07 1A 0C 05 00 00 01 19 83 5E 21 01 31 01 5F"), 5);
    assert_int_equal(out[2], 0x60);
    expect(req("01 04 00 05 08 1A 0C 00 00 00 01 19 55"), "01 00 50 08 1A 91 05 91 16");
    expect(req("01 04 00 05 09 1A 0C 00 00 00 01 19 58"), "01 00 50 09 1A 91 02 91 20");
    expect(req("01 04 00 05 0A 1A 0C 05 00 00 09 19 83"), "01 00 50 0A 1A 91 01 91 1F");
    expect(req("01 04 00 05 0B 1A 0C 05 00 00 01 19 83 29 01"), "01 00 50 0B 1A 91 02 91 32");
    /* A reference that does not exist: an empty ACK. */
    expect(req("01 04 00 05 0C 1A 0C 05 00 00 01 19 83 3E 21 09 31 01 3F"),
           "01 00 30 0C 1A 0C 05 00 00 01 19 83 3A 05 00 49 00 5E 5F");
}

/* A full buffer read forward and backward: truncated at 480 octets with more-items,
 * and paging by sequence number reads every record exactly once. */
static void test_read_range_paging(void **state)
{
    (void)state;
    fill(TL_BUFFER_SIZE);
    uint32_t seq = 1, seen = 0;
    for (;;) {
        char r[120];
        snprintf(r, sizeof r, "01 04 00 05 01 1A 0C 05 00 00 01 19 83 6E 23 %02X %02X %02X 31 7F 6F",
                 (unsigned)(seq >> 16 & 0xFF), (unsigned)(seq >> 8 & 0xFF), (unsigned)(seq & 0xFF));
        size_t n = req(r);
        assert_true(n > 0 && n <= 480 + 2);
        assert_int_equal(out[2], 0x30);
        uint8_t flags = out[14];
        unsigned items = out[16];
        assert_true(items > 0 && items <= 21);
        /* firstSequenceNumber is where we asked */
        unsigned first = out[n - 1] | (n >= 4 && out[n - 4] == 0x6B ? (unsigned)out[n - 3] << 16 | out[n - 2] << 8 : (out[n - 3] == 0x6A ? (unsigned)out[n - 2] << 8 : 0));
        assert_int_equal(first, seq);
        seen += items;
        seq += items;
        if (!(flags & 0x20)) {         /* no more-items: this was the end */
            assert_true(flags & 0x40); /* last-item */
            break;
        }
    }
    assert_int_equal(seen, TL_BUFFER_SIZE);
    /* Backward from the newest: the records nearest the reference, oldest first. */
    size_t n = req("01 04 00 05 02 1A 0C 05 00 00 01 19 83 3E 22 16 80 31 80 3F");
    assert_true(n <= 482);
    unsigned items = out[16];
    assert_true(out[14] & 0x40);  /* ends at the last item */
    assert_true(out[14] & 0x20);  /* and 128 were asked for: more */
    /* the final record's REAL value is 5760.0 = 45 B4 00 00 */
    assert_memory_equal(out + n - 10, "\x2C\x45\xB4\x00\x00\x1F", 6);
    printf("ReadRange: %u records per 480-octet reply\n", items);
}

static void test_time_change_record(void **state)
{
    (void)state;
    obj_datetime_t dt = {{126, 11, 23, 1}, {21, 0, 0, 0}};
    uint32_t before = dev.tl[0].count;
    assert_true(obj_clock_set(&dev, &dt));
    assert_int_equal(dev.tl[0].count, before + 1);
    tl_record_t r = tl_at(&dev.tl[0], dev.tl[0].count - 1);
    assert_int_equal(r.kind, TL_REC_TIME_CHANGE);
    assert_true(r.value > 8e8f); /* 26 years forward */
}

/* ---- records kept once: the cache and the store ----------------------------------------- */

/* A RAM store that can fail: appends and resets refused, or records lo..hi unreadable. */
typedef struct {
    tl_store_t ram;
    bool refuse;
    uint32_t lo, hi; /* unreadable (damaged) sequence numbers, lo > hi: none */
    unsigned writes;
} flaky_t;
static flaky_t fl;

static int fl_read(void *ctx, unsigned log, uint32_t seq, tl_record_t *r)
{
    flaky_t *f = ctx;
    if (seq >= f->lo && seq <= f->hi)
        return TL_GONE;
    return f->ram.read(f->ram.ctx, log, seq, r);
}

static int fl_append(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r)
{
    flaky_t *f = ctx;
    if (f->refuse)
        return -7;
    f->writes++;
    return f->ram.append(f->ram.ctx, log, seq, r);
}

static int fl_reset(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r)
{
    flaky_t *f = ctx;
    if (f->refuse)
        return -7;
    f->writes++;
    return f->ram.reset(f->ram.ctx, log, seq, r);
}

static void flaky_log(tl_log_t *l)
{
    tl_init(l, 11);
    tl_ram_init(&ram);
    fl = (flaky_t){.ram = tl_ram_store(&ram), .lo = 1, .hi = 0};
    tl_store_t st = {.ctx = &fl, .read = fl_read, .append = fl_append, .reset = fl_reset};
    tl_attach(l, &st, 0, 0);
}

static void log_k(tl_log_t *l, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        tl_record_t r = {.t = (tl_time_t)(l->total + 1) * 100, .kind = TL_REC_REAL,
                         .value = (float)(l->total + 1)};
        tl_append(l, &r);
    }
}

static bool is_placeholder(tl_record_t r)
{
    return r.kind == TL_REC_STATUS && r.value == (float)TL_STATUS_INTERRUPTED;
}

/* Record k of a log filled by log_k from 1: its own data. */
static bool is_data(const tl_log_t *l, uint32_t k)
{
    tl_record_t r = tl_at(l, k);
    uint32_t s = tl_seq_of(l, k);
    return r.kind == TL_REC_REAL && r.value == (float)s && r.t == (tl_time_t)s * 100;
}

static void test_cache_and_store(void **state)
{
    (void)state;
    /* No store: the newest TL_CACHE_SIZE are kept, the rest are gone (placeholders, never
     * data), and the counts are the log's as always. */
    tl_init(&lg, 11);
    log_k(&lg, 100);
    assert_int_equal(lg.count, 100);
    assert_int_equal(lg.total, 100);
    uint32_t old = 100 - TL_CACHE_SIZE;
    assert_true(is_data(&lg, old) && is_data(&lg, 99));
    assert_true(is_placeholder(tl_at(&lg, old - 1)) && is_placeholder(tl_at(&lg, 0)));
    assert_true(tl_at(&lg, 0).t == tl_at(&lg, old).t); /* none before: the one after */
    assert_int_equal(tl_get(&lg, 0, &(tl_record_t){0}), TL_GONE);

    /* A store: nothing is written until a flush, or until a record would leave the cache
     * unstored. */
    flaky_log(&lg);
    log_k(&lg, 10);
    assert_int_equal(fl.writes, 0);
    assert_int_equal(tl_flush(&lg), 0);
    assert_int_equal(fl.writes, 10);
    assert_int_equal(lg.stored, 10);
    log_k(&lg, TL_CACHE_SIZE + 5);
    assert_int_equal(fl.writes, 10 + TL_CACHE_SIZE);
    for (uint32_t k = 0; k < lg.count; k++)
        assert_true(is_data(&lg, k));
    assert_int_equal(tl_flush(&lg), 0);
    assert_int_equal(lg.stored, lg.total);

    /* The store refuses: records wait in the cache, the flush says so and goes on later. */
    fl.refuse = true;
    log_k(&lg, 20);
    assert_int_equal(tl_flush(&lg), -7);
    assert_int_equal(lg.stored, lg.total - 20);
    fl.refuse = false;
    assert_int_equal(tl_flush(&lg), 0);
    assert_int_equal(lg.stored, lg.total);
    for (uint32_t k = 0; k < lg.count; k++)
        assert_true(is_data(&lg, k));

    /* Refused for longer than the cache holds: the oldest waiting ones are gone, stamped as
     * the last stored record, and stored as such once the store takes records again. */
    uint32_t last = lg.count - 1;
    fl.refuse = true;
    log_k(&lg, TL_CACHE_SIZE + 3);
    assert_true(is_data(&lg, last));
    for (uint32_t k = last + 1; k <= last + 3; k++) {
        assert_true(is_placeholder(tl_at(&lg, k)));
        assert_true(tl_at(&lg, k).t == tl_at(&lg, last).t);
    }
    assert_true(is_data(&lg, last + 4));
    fl.refuse = false;
    assert_int_equal(tl_flush(&lg), 0);
    assert_true(is_placeholder(tl_at(&lg, last + 1)) && is_data(&lg, last + 4));
    lg.cached = 1; /* everything through the store now */
    assert_true(is_placeholder(tl_at(&lg, last + 2)) && tl_at(&lg, last + 2).t == tl_at(&lg, last).t);
    assert_true(is_data(&lg, last) && is_data(&lg, last + 4));

    /* Damage in the store: a placeholder, stamped as the record before it. */
    fl.lo = tl_seq_of(&lg, 5);
    fl.hi = fl.lo + 2;
    for (uint32_t k = 5; k < 8; k++) {
        tl_record_t r;
        assert_int_equal(tl_get(&lg, k, &r), TL_GONE);
        assert_true(is_placeholder(r) && r.t == tl_at(&lg, 4).t);
    }
    assert_true(is_data(&lg, 8));
    /* ... or the one after it, at the start. */
    fl.lo = tl_seq_of(&lg, 0);
    assert_true(is_placeholder(tl_at(&lg, 0)) && tl_at(&lg, 0).t == tl_at(&lg, 8).t);
    fl.lo = 1, fl.hi = 0;

    /* A purge reaches the store at the next flush, as a reset. */
    lg.cached = 1;
    tl_purge(&lg, 777);
    log_k(&lg, 2);
    unsigned w = fl.writes;
    assert_int_equal(tl_flush(&lg), 0);
    assert_int_equal(fl.writes, w + 3);
    assert_int_equal(lg.count, 3);
    lg.cached = 1;
    assert_int_equal(tl_at(&lg, 0).kind, TL_REC_STATUS);
    assert_true(tl_at(&lg, 0).value == TL_STATUS_BUFFER_PURGED);
    assert_true(is_data(&lg, 1));
    /* Single shot, full: the log stops, nothing is flushed for the refused record. */
    lg.stop_when_full = true;
    log_k(&lg, TL_BUFFER_SIZE);
    assert_false(lg.enable);
    assert_int_equal(lg.count, TL_BUFFER_SIZE);
    assert_int_equal(tl_flush(&lg), 0);
    assert_true(is_data(&lg, 1) && is_data(&lg, TL_BUFFER_SIZE - 1));
}

/* The by-time reference: a scan over the records as they are served. */
static void scan_by_time(const tl_log_t *l, tl_time_t t, int32_t count, uint32_t *first, uint32_t *n)
{
    tl_range_t all = {.by = TL_RANGE_POSITION, .count = count};
    uint32_t k;
    *first = 0, *n = 0;
    if (count > 0) {
        for (k = 0; k < l->count && tl_at(l, k).t <= t; k++)
            ;
        if (k == l->count)
            return;
    } else {
        for (k = l->count; k > 0 && tl_at(l, k - 1).t >= t; k--)
            ;
        if (k == 0)
            return;
        k--;
    }
    all.ref = k + 1;
    tl_select(l, &all, first, n);
}

static uint32_t rnd(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* By time: the answers a scan gives, however the times go (repeated, set back more often
 * than the log remembers, gaps in the store, sequence numbers across the wrap), whether
 * the log bisects or scans. */
static void test_by_time_as_a_scan(void **state)
{
    (void)state;
    uint32_t x = 4100;
    for (int round = 0; round < 40; round++) {
        flaky_log(&lg);
        if (round % 5 == 4)
            lg.total = UINT32_MAX - 300;
        unsigned n = round < 8 ? 50 + rnd(&x) % 60 : 300 + rnd(&x) % 6000;
        unsigned backs = round % 8; /* 0 .. 7 set-backs: beyond TL_DISORDER_MAX as well */
        tl_time_t t = 1000000;
        for (unsigned i = 0; i < n; i++) {
            bool back = backs && rnd(&x) % n < backs;
            t += back ? -(tl_time_t)(rnd(&x) % 50000) : (tl_time_t)(rnd(&x) % 4) * 900;
            tl_record_t r = {.t = t, .kind = back ? TL_REC_TIME_CHANGE : TL_REC_REAL,
                             .value = (float)i};
            tl_append(&lg, &r);
        }
        assert_int_equal(tl_flush(&lg), 0);
        if (round % 3 == 1) { /* a damaged stretch */
            fl.lo = tl_seq_of(&lg, rnd(&x) % lg.count);
            fl.hi = fl.lo + rnd(&x) % 30;
        }
        tl_time_t lo = tl_at(&lg, 0).t - 2000, span = t - lo + 4000;
        for (int q = 0; q < 200; q++) {
            tl_time_t at = lo + (tl_time_t)(rnd(&x) % (uint32_t)(span > 0 ? span : 1));
            if (q % 4 == 0) /* exactly a record's time */
                at = tl_at(&lg, rnd(&x) % lg.count).t;
            int32_t count = (int32_t)(rnd(&x) % 40) + 1;
            if (q % 2)
                count = -count;
            tl_range_t rr = {.by = TL_RANGE_TIME, .time = at, .count = count};
            uint32_t f1, n1, f2, n2;
            tl_select(&lg, &rr, &f1, &n1);
            scan_by_time(&lg, at, count, &f2, &n2);
            assert_int_equal(n1, n2);
            if (n1)
                assert_int_equal(f1, f2);
        }
    }
}

/* A record the store cannot read goes out as a log-status record (no bits set: revision 4
 * has no log-interrupted), with the time of the record before it; never as data. */
static void test_read_range_damaged(void **state)
{
    (void)state;
    tl_log_t *l = &dev.tl[0];
    fill(100);
    assert_int_equal(tl_flush(l), 0);
    tl_store_t plain = l->store;
    fl = (flaky_t){.ram = plain, .lo = 20, .hi = 20};
    l->store = (tl_store_t){.ctx = &fl, .read = fl_read, .append = fl_append, .reset = fl_reset};
    /* By position 19, 3 records (older than the cache): 19 (t = 190 s), 20 gone, 21. */
    expect(req("01 04 00 05 01 1A 0C 05 00 00 01 19 83 3E 21 13 31 03 3F"),
           "01 00 30 01 1A 0C 05 00 00 01 19 83 3A 05 00 49 03 5E"
           " 0E A4 64 01 01 06 B4 00 03 0A 00 0F 1E 2C 41 98 00 00 1F 2A 04 00"
           " 0E A4 64 01 01 06 B4 00 03 0A 00 0F 1E 0A 06 00 1F"
           " 0E A4 64 01 01 06 B4 00 03 1E 00 0F 1E 2C 41 A8 00 00 1F 2A 04 00 5F");
    l->store = plain;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_time_conversion),
        cmocka_unit_test_setup(test_sixty_days, setup),
        cmocka_unit_test_setup(test_sync_to_comms_and_av11, setup),
        cmocka_unit_test_setup(test_av11_pending_at_restart, setup),
        cmocka_unit_test_setup(test_trendlog_properties, setup),
        cmocka_unit_test_setup(test_read_range_wire, setup),
        cmocka_unit_test_setup(test_read_range_paging, setup),
        cmocka_unit_test_setup(test_time_change_record, setup),
        cmocka_unit_test(test_cache_and_store),
        cmocka_unit_test(test_by_time_as_a_scan),
        cmocka_unit_test_setup(test_read_range_damaged, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
