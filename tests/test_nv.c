/* NV storage core: round trips, the byte layout, power cuts at every byte, bit flips,
 * both slots bad, versions, and the record rings. The medium is RAM behind a port that
 * can lose power after any number of bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nv/nv.h"

/* ---- a RAM medium that can lose power ------------------------------------------------- */

typedef struct {
    uint8_t *mem;
    uint32_t size;
    long budget;   /* bytes that still reach the medium; < 0: no limit */
    bool reverse;  /* a cut write keeps its last bytes instead of its first */
    bool dead;     /* the power is gone: nothing more is written */
    bool fail_read, fail_sync;
    bool rings_full; /* writes into the rings fail with NV_ENOSPC (the slots still work,
                        as a preallocated or already written file on a full disk) */
    unsigned writes, syncs;
    size_t written, slot_bytes; /* all, and those into the two checkpoint slots */
} ram_t;

static int ram_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    ram_t *r = ctx;
    if (r->fail_read || off > r->size || n > r->size - off)
        return -1;
    memcpy(buf, r->mem + off, n);
    return 0;
}

static int ram_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    ram_t *r = ctx;
    assert_true(off <= r->size && n <= r->size - off);
    if (r->dead)
        return -1;
    if (r->rings_full && off + n > 2 * 4096)
        return NV_ENOSPC;
    r->writes++;
    if (r->budget >= 0 && (long)n > r->budget) {
        size_t k = (size_t)r->budget;
        if (r->reverse)
            memcpy(r->mem + off + n - k, (const uint8_t *)buf + n - k, k);
        else
            memcpy(r->mem + off, buf, k);
        r->written += k;
        r->budget = 0;
        r->dead = true;
        return -1;
    }
    memcpy(r->mem + off, buf, n);
    r->written += n;
    if (off < 2 * 4096)
        r->slot_bytes += n;
    if (r->budget >= 0)
        r->budget -= (long)n;
    return 0;
}

static int ram_sync(void *ctx)
{
    ram_t *r = ctx;
    r->syncs++;
    return r->dead || r->fail_sync ? -1 : 0;
}

/* Small rings so that wrapping is quick; the slots as the meter's. */
static const nv_layout_t small = {.slot_size = 4096, .logs = 3, .log_capacity = 16,
                                  .log_payload = NV_TL_RECORD_SIZE};
static uint8_t medium[4 * 4096 + 3 * 17 * 64];
static ram_t ram;
static nv_store_t st;
static nv_tl_t nvtl; /* the trend logs' store over st's rings */

static nv_port_t ram_port(void)
{
    return (nv_port_t){.ctx = &ram, .read = ram_read, .write = ram_write, .sync = ram_sync,
                       .size = ram.size};
}

/* Power on: a fresh store over the medium as it is. */
static void boot(void)
{
    ram.budget = -1;
    ram.dead = ram.reverse = ram.fail_read = ram.fail_sync = ram.rings_full = false;
    nv_port_t p = ram_port();
    assert_int_equal(nv_open(&st, &p, &small), NV_OK);
    nv_tl_open(&nvtl, &st);
}

static int setup(void **state)
{
    (void)state;
    memset(medium, 0, sizeof medium);
    memset(&ram, 0, sizeof ram);
    ram.mem = medium;
    ram.size = nv_medium_size(&small);
    assert_true(ram.size <= sizeof medium);
    boot();
    return 0;
}

/* ---- the meter's state: a distinct one per k ---------------------------------------------- */

typedef struct {
    mtr_nv_t m;
    mtr_config_t c;
    obj_identity_t id;
    tl_log_t tl[TL_COUNT]; /* big (the record buffers): keep these static */
} state_t;

static state_t a, b, other, got;

static void make(state_t *s, unsigned k)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < MTR_E_COUNT; i++) {
        s->m.e[i].j = (int64_t)k * 1000003 + i * 77 + ((int64_t)i << 40);
        s->m.e[i].frac32 = ((k + (unsigned)i) % 64) << 26; /* n/64 J */
    }
    for (int i = 0; i < 6; i++)
        s->m.max_dem[i] = (float)k * 1.5f + (float)i;
    s->m.pulses = k * 3;
    s->m.energy_resets = k;
    s->m.power_ups = 100 + k;
    mtr_config_default(&s->c);
    s->c.ct_primary = 200.0f + (float)k;
    s->c.subintervals = (uint8_t)(1 + k % 6);
    char serial[20];
    snprintf(serial, sizeof serial, "SN%u", k);
    obj_identity_default(&s->id, serial);
    s->id.baud = k % 2 ? 38400 : 115200;
    s->id.setup_password = k;
    for (int i = 0; i < TL_COUNT; i++) {
        tl_init(&s->tl[i], (uint32_t)(1 + (k + (unsigned)i) % 75));
        s->tl[i].enable = (k + (unsigned)i) % 2;
        s->tl[i].start = (tl_time_t)k * 100;
    }
}

static nv_image_t image(state_t *s)
{
    return (nv_image_t){.meter = &s->m, .config = &s->c, .identity = &s->id, .tl = s->tl};
}

static bool same(const state_t *x, const state_t *y)
{
    for (int i = 0; i < MTR_E_COUNT; i++)
        if (x->m.e[i].j != y->m.e[i].j || x->m.e[i].frac32 != y->m.e[i].frac32)
            return false;
    if (memcmp(x->m.max_dem, y->m.max_dem, sizeof x->m.max_dem) ||
        x->m.pulses != y->m.pulses || x->m.energy_resets != y->m.energy_resets ||
        x->m.power_ups != y->m.power_ups)
        return false;
    const mtr_config_t *p = &x->c, *q = &y->c;
    if (p->system_type != q->system_type || p->ct_primary != q->ct_primary ||
        p->ct_secondary != q->ct_secondary || p->pt_ratio != q->pt_ratio ||
        p->system_voltage != q->system_voltage || p->display_units != q->display_units ||
        p->pl_volts_pct != q->pl_volts_pct || p->pl_imbalance_pct != q->pl_imbalance_pct ||
        p->subintervals != q->subintervals || p->subinterval_cs != q->subinterval_cs)
        return false;
    const obj_identity_t *u = &x->id, *v = &y->id;
    if (u->instance != v->instance || strcmp(u->name, v->name) ||
        strcmp(u->location, v->location) || strcmp(u->serial, v->serial) ||
        u->max_master != v->max_master || u->max_info_frames != v->max_info_frames ||
        u->mac != v->mac || u->baud != v->baud || u->setup_password != v->setup_password ||
        u->reset_password != v->reset_password)
        return false;
    for (int i = 0; i < TL_COUNT; i++)
        if (x->tl[i].enable != y->tl[i].enable ||
            x->tl[i].stop_when_full != y->tl[i].stop_when_full ||
            x->tl[i].start != y->tl[i].start || x->tl[i].stop != y->tl[i].stop ||
            x->tl[i].ai != y->tl[i].ai)
            return false;
    return true;
}

/* Load into `got` (first set to a sentinel state 999). */
static int load(nv_load_info_t *info)
{
    make(&got, 999);
    nv_image_t img = image(&got);
    return nv_load(&st, &img, info);
}

static void save(state_t *s)
{
    nv_image_t img = image(s);
    assert_int_equal(nv_save(&st, &img), NV_OK);
}

/* ---- basics --------------------------------------------------------------------------- */

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(nv_crc32(0, "123456789", 9), 0xCBF43926u); /* the standard check */
    uint32_t c = nv_crc32(0, "1234", 4);
    assert_int_equal(nv_crc32(c, "56789", 5), 0xCBF43926u); /* incremental */
    assert_int_equal(nv_crc32(0, "", 0), 0);
}

static void test_layout(void **state)
{
    (void)state;
    nv_layout_t l = NV_S4100_LAYOUT;
    /* 2 slots of 4 KB + 3 rings of 5761 records of 16 + 18 + 4 bytes */
    assert_int_equal(nv_medium_size(&l), 2 * 4096 + 3 * 5761 * 38);
    assert_int_equal(nv_medium_size(&small), 2 * 4096 + 3 * 17 * 38);
    nv_layout_t bad = l;
    bad.slot_size = NV_SLOT_MAX + 1;
    assert_int_equal(nv_medium_size(&bad), 0);
    bad = l;
    bad.logs = NV_MAX_LOGS + 1;
    assert_int_equal(nv_medium_size(&bad), 0);
    bad = l;
    bad.log_payload = 0;
    assert_int_equal(nv_medium_size(&bad), 0);
    bad = l;
    bad.log_capacity = 0;
    assert_int_equal(nv_medium_size(&bad), 0);
    bad = (nv_layout_t){.slot_size = 64}; /* no logs at all is fine */
    assert_int_equal(nv_medium_size(&bad), 128);

    nv_port_t p = ram_port();
    assert_int_equal(nv_open(&st, &p, &l), NV_ESIZE); /* a medium too small (truncated) */
    l.slot_size = 10;
    assert_int_equal(nv_open(&st, &p, &l), NV_EARG);
    p.sync = NULL;
    assert_int_equal(nv_open(&st, &p, &small), NV_EARG);
    assert_string_equal(nv_strerror(NV_ECORRUPT), "both checkpoint slots are corrupt");
    assert_string_equal(nv_slot_str(NV_SLOT_TORN), "bad body CRC (torn or damaged)");
}

static void test_empty(void **state)
{
    (void)state;
    nv_load_info_t info;
    assert_int_equal(load(&info), NV_EMPTY);
    make(&a, 999);
    assert_true(same(&got, &a)); /* untouched */
    assert_int_equal(info.used, -1);
    assert_int_equal(info.slot[0], NV_SLOT_BLANK);
    assert_int_equal(info.slot[1], NV_SLOT_BLANK);
    memset(medium, 0xFF, sizeof medium); /* an erased flash reads as 0xFF */
    boot();
    assert_int_equal(load(&info), NV_EMPTY);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    nv_load_info_t info;
    for (unsigned k = 1; k <= 6; k++) {
        make(&a, k);
        save(&a);
        boot(); /* a power cycle between each */
        assert_int_equal(load(&info), NV_OK);
        assert_true(same(&got, &a));
        /* The first save writes A (seq 1) then B (seq 2); then they alternate. */
        assert_int_equal(info.seq, k + 1);
        assert_int_equal(info.used, k % 2);
        assert_int_equal(info.slot[0], NV_SLOT_OK);
        assert_int_equal(info.slot[1], NV_SLOT_OK);
        assert_int_equal(info.missing, 0);
        assert_int_equal(info.invalid, 0);
    }
    /* Saves without a reboot in between, too. */
    for (unsigned k = 10; k < 20; k++) {
        make(&a, k);
        save(&a);
    }
    assert_int_equal(load(&info), NV_OK);
    assert_true(same(&got, &a));
}

static void test_round_trip_extremes(void **state)
{
    (void)state;
    make(&a, 1);
    /* Strings at their full length, every counter at its limit, odd floats. */
    memset(a.id.name, 'N', OBJ_NAME_MAX);
    a.id.name[OBJ_NAME_MAX] = '\0';
    memset(a.id.location, 'L', OBJ_LOCATION_MAX);
    a.id.location[OBJ_LOCATION_MAX] = '\0';
    memset(a.id.serial, 'S', OBJ_SERIAL_MAX);
    a.id.serial[OBJ_SERIAL_MAX] = '\0';
    a.id.instance = OBJ_INSTANCE_MAX;
    a.id.reset_password = 99999;
    a.id.mac = 127;
    a.m.e[0].j = INT64_MAX;
    a.m.e[1].frac32 = UINT32_MAX; /* the largest fraction: 1 - 2^-32 J */
    a.m.max_dem[0] = -1e30f;
    a.m.pulses = a.m.energy_resets = a.m.power_ups = UINT32_MAX;
    a.c.pt_ratio = 0.01f;
    a.c.system_voltage = 82.0f;
    a.c.subinterval_cs = 3276700;
    a.tl[2].start = INT64_MIN + 1;
    a.tl[2].stop = INT64_MAX;
    a.tl[2].stop_when_full = true;
    save(&a);
    boot();
    assert_int_equal(load(NULL), NV_OK);
    assert_true(same(&got, &a));
    /* Empty strings too. */
    a.id.location[0] = '\0';
    save(&a);
    assert_int_equal(load(NULL), NV_OK);
    assert_true(same(&got, &a));
}

static void test_partial_images(void **state)
{
    (void)state;
    nv_load_info_t info;
    make(&a, 3);
    /* Save only the meter and the identity. */
    nv_image_t img = {.meter = &a.m, .identity = &a.id};
    assert_int_equal(nv_save(&st, &img), NV_OK);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.missing, NV_SEC_BIT(NV_SEC_CONFIG) | NV_SEC_BIT(NV_SEC_TRENDLOG));
    make(&b, 999); /* what load() started from */
    b.m = a.m;
    b.id = a.id;
    assert_true(same(&got, &b)); /* the missing sections kept the caller's values */
    /* Load only the config: nothing else is touched. */
    make(&got, 999);
    save(&a);
    nv_image_t one = {.config = &got.c};
    assert_int_equal(nv_load(&st, &one, &info), NV_OK);
    assert_int_equal(info.missing, 0);
    b = got;
    b.c = a.c;
    assert_true(same(&got, &b));
    assert_int_equal(got.c.ct_primary, a.c.ct_primary);
}

/* ---- the byte layout -------------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void hexdump(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02X%s", p[i], i % 16 == 15 ? "\n" : " ");
    printf("\n");
}

static void expect_bytes(const uint8_t *got_p, const uint8_t *want, size_t n)
{
    if (memcmp(got_p, want, n)) {
        printf("want:\n");
        hexdump(want, n);
        printf("got:\n");
        hexdump(got_p, n);
    }
    assert_memory_equal(got_p, want, n);
}

/* A fixed, simple state whose every byte on the medium is written out below. */
static void pinned_state(state_t *s)
{
    memset(s, 0, sizeof *s);
    s->m.e[0].j = 0x0102030405060708;
    s->m.e[0].frac32 = 1u << 31; /* 0.5 J: binary64 3FE0... on the medium */
    s->m.e[31].j = 7;
    s->m.max_dem[0] = 1.0f;
    s->m.max_dem[5] = -2.0f;
    s->m.pulses = 0x11223344;
    s->m.energy_resets = 2;
    s->m.power_ups = 3;
    mtr_config_default(&s->c);
    memset(&s->id, 0, sizeof s->id);
    s->id.instance = 0x0012D687; /* 1234567 */
    strcpy(s->id.name, "M");
    strcpy(s->id.location, "Lab");
    strcpy(s->id.serial, "42");
    s->id.max_master = 127;
    s->id.max_info_frames = 1;
    s->id.mac = 1;
    s->id.baud = 76800;
    s->id.setup_password = 12345;
    s->id.reset_password = 0;
    for (int i = 0; i < TL_COUNT; i++)
        tl_init(&s->tl[i], (uint32_t)(i + 1));
    s->tl[1].start = 360000; /* 01:00:00 on 2000-01-01 */
    tl_record_t r = {.t = 0x0102, .value = 2.0f, .kind = TL_REC_REAL, .flags = 2};
    tl_append(&s->tl[2], &r);
    tl_append(&s->tl[2], &r);
}

static void test_byte_layout(void **state)
{
    (void)state;
    pinned_state(&a);
    save(&a); /* a new store: slot A seq 1, slot B seq 2 */
    const uint8_t *B = medium + 4096;

    /* Slot header: magic "S4NV", format 1, header 32, seq 2, body length 792, 5 sections,
     * flags 0, body CRC, reserved 0, header CRC. */
    static const uint8_t hdr[28] = {
        'S', '4', 'N', 'V', 1, 0, 32, 0, 2, 0, 0, 0, 0x18, 0x03, 0, 0,
        5, 0, 0, 0, 0x88, 0xF2, 0x4D, 0xDA, 0, 0, 0, 0,
    };
    expect_bytes(B, hdr, sizeof hdr);
    uint32_t hcrc = nv_crc32(0, B, 28);
    assert_int_equal(le32(B + 28), hcrc);
    /* The TOC: id, version, offset (from the body), length. Meter 32 * 16 + 6 * 4 + 12,
     * config 22, identity 4 + (1 + 1) + (1 + 3) + (1 + 2) + 3 + 12, trend logs 1 + 3 * 22,
     * trend-log counters 1 + 3 * 22. */
    static const uint8_t toc[60] = {
        1, 0, 1, 0, 60, 0, 0, 0, 0x24, 0x02, 0, 0,  /* meter at 60, 548 bytes */
        2, 0, 1, 0, 0x60, 0x02, 0, 0, 22, 0, 0, 0,  /* config at 608, 22 */
        3, 0, 1, 0, 0x76, 0x02, 0, 0, 28, 0, 0, 0,  /* identity at 630, 28 */
        4, 0, 1, 0, 0x92, 0x02, 0, 0, 67, 0, 0, 0,  /* trend logs at 658, 67 */
        5, 0, 1, 0, 0xD5, 0x02, 0, 0, 67, 0, 0, 0,  /* trend-log counters at 725, 67 */
    };
    const uint8_t *body = B + 32;
    expect_bytes(body, toc, sizeof toc);
    /* Meter: e[0] = j i64, frac f64; ... e[31]; max_dem[6] f32; pulses, resets, ups. */
    static const uint8_t e0[16] = {8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0xE0, 0x3F};
    expect_bytes(body + 60, e0, 16);
    static const uint8_t e31[16] = {7};
    expect_bytes(body + 60 + 31 * 16, e31, 16);
    static const uint8_t tail[36] = {
        0, 0, 0x80, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0,
        0x44, 0x33, 0x22, 0x11, 2, 0, 0, 0, 3, 0, 0, 0,
    };
    expect_bytes(body + 60 + 512, tail, sizeof tail);
    /* Config (the datasheet defaults): type 40, CT 100.0, 1, PT 1.0, 600.0 V, IEEE 1,
     * 10 %, 25 %, 1 sub-interval, 90000 cs. */
    static const uint8_t cfg[22] = {
        40, 0, 0, 0xC8, 0x42, 1, 0, 0, 0x80, 0x3F, 0, 0, 0x16, 0x44, 1, 10, 25, 1,
        0x90, 0x5F, 0x01, 0x00,
    };
    expect_bytes(body + 608, cfg, sizeof cfg);
    /* Identity: instance, name, location, serial (u8 length + bytes), max_master,
     * max_info_frames, mac, baud, setup and reset passwords. */
    static const uint8_t ident[28] = {
        0x87, 0xD6, 0x12, 0x00, 1, 'M', 3, 'L', 'a', 'b', 2, '4', '2', 127, 1, 1,
        0x00, 0x2C, 0x01, 0x00, 0x39, 0x30, 0, 0, 0, 0, 0, 0,
    };
    expect_bytes(body + 630, ident, sizeof ident);
    /* Trend logs: count 3; per log enable, stop_when_full, start i64, stop i64, ai u32. */
    static const uint8_t tl[67] = {
        3,
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 1, 0, 0, 0,
        1, 0, 0x40, 0x7E, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 2, 0, 0, 0,
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 3, 0, 0, 0,
    };
    expect_bytes(body + 658, tl, sizeof tl);
    /* Trend-log counters: count 3; per log Total_Record_Count u32, oldest sequence number
     * u32 (0: no record), the newest record: time i64, value f32, kind u8, flags u8. */
    static const uint8_t tls[67] = {
        3,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        2, 0, 0, 0, 1, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 2, 2,
    };
    expect_bytes(body + 725, tls, sizeof tls);
    /* And slot A is the same image with seq 1. */
    assert_int_equal(medium[8], 1);
    assert_memory_equal(medium + 32, B + 32, 792);
    /* Nothing after the body was written. */
    for (int i = 32 + 792; i < 4096; i++)
        assert_int_equal(B[i], 0);
}

static void test_byte_layout_log(void **state)
{
    (void)state;
    tl_record_t r = {.t = 0x0102030405060708, .value = 1.0f, .kind = TL_REC_REAL, .flags = 2};
    uint8_t rec[NV_TL_RECORD_SIZE];
    nv_tl_record_put(rec, 0xA1B2C3D4, &r);
    static const uint8_t want_rec[18] = {
        0xD4, 0xC3, 0xB2, 0xA1, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0x80, 0x3F, 2, 2,
    };
    expect_bytes(rec, want_rec, sizeof want_rec);
    uint32_t seq;
    tl_record_t back;
    assert_true(nv_tl_record_get(rec, sizeof rec, &seq, &back));
    assert_int_equal(seq, 0xA1B2C3D4);
    assert_true(back.t == r.t && back.value == r.value && back.kind == r.kind &&
                back.flags == r.flags);
    assert_false(nv_tl_record_get(rec, 17, &seq, &back));

    /* Log 1, first record: ring slot 1 (seq % 17) of the second ring. */
    assert_int_equal(nv_log_append(&st, 1, rec, sizeof rec), NV_OK);
    const uint8_t *p = medium + 2 * 4096 + 17 * 38 + 1 * 38;
    /* magic "RL", format 1, log 1, seq 1, base 1, length 18, flags 0, payload, CRC. */
    static const uint8_t hdr[16] = {'R', 'L', 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 18, 0, 0, 0};
    expect_bytes(p, hdr, sizeof hdr);
    expect_bytes(p + 16, want_rec, sizeof want_rec);
    uint32_t c = nv_crc32(0, p, 34);
    assert_int_equal(le32(p + 34), c);
    /* The slot before it (seq 0 would go there) is untouched. */
    for (int i = 0; i < 38; i++)
        assert_int_equal(p[i - 38], 0);
}

/* ---- power cuts --------------------------------------------------------------------------- */

static uint8_t snap[sizeof medium];

/* Cut the power after every possible number of bytes of the save of `next` over a
 * medium that holds `prev` (NULL: empty), both ways (a write keeping its first or its
 * last bytes). After each cut the loader must give exactly prev or next. */
static void cut_every_byte_of_save(state_t *prev, state_t *next)
{
    memcpy(snap, medium, sizeof medium);
    /* How many bytes does this save write? A first one also marks the empty rings, after
     * both slots: a cut among the markers leaves the save done. */
    boot();
    ram.written = ram.slot_bytes = 0;
    save(next);
    size_t total = ram.written, slots = ram.slot_bytes;
    assert_true(total > 32);
    assert_int_equal(total, slots + (prev ? 0 : 3 * 38));
    unsigned olds = 0, news = 0;
    for (int rev = 0; rev < 2; rev++) {
        for (size_t n = 0; n <= total; n++) {
            memcpy(medium, snap, sizeof medium);
            boot();
            ram.budget = (long)n;
            ram.reverse = rev;
            nv_image_t img = image(next);
            int rc = nv_save(&st, &img);
            assert_int_equal(rc, n < slots ? NV_EIO : NV_OK);
            boot(); /* power back */
            nv_load_info_t info;
            rc = load(&info);
            if (prev == NULL && rc == NV_EMPTY) {
                olds++;
            } else {
                assert_int_equal(rc, NV_OK);
                if (prev && same(&got, prev)) {
                    olds++;
                } else {
                    assert_true(same(&got, next));
                    news++;
                }
            }
            if (n == total)
                assert_true(same(&got, next));
            /* And the meter carries on: the next save and load work. */
            make(&other, 777);
            save(&other);
            boot();
            assert_int_equal(load(NULL), NV_OK);
            assert_true(same(&got, &other));
        }
    }
    /* Both outcomes occurred: the cut before the last byte keeps the old state. */
    assert_true(olds > 0 && news > 0);
    memcpy(medium, snap, sizeof medium);
    boot();
}

static void test_power_cut_first_save(void **state)
{
    (void)state;
    make(&a, 1);
    cut_every_byte_of_save(NULL, &a); /* writes A then B */
}

static void test_power_cut_save(void **state)
{
    (void)state;
    make(&a, 1);
    save(&a);
    for (unsigned k = 2; k <= 3; k++) { /* once into each slot */
        make(&b, k);
        cut_every_byte_of_save(&a, &b);
        save(&b);
        a = b;
    }
}

static void test_power_cut_after_torn_slot(void **state)
{
    (void)state;
    /* Slot B torn by an earlier cut, then a save into it again, cut again. */
    make(&a, 1);
    save(&a);
    make(&b, 2);
    save(&b);
    boot();
    ram.budget = 100;
    make(&got, 3);
    nv_image_t img = image(&got);
    assert_int_equal(nv_save(&st, &img), NV_EIO);
    boot();
    nv_load_info_t info;
    assert_int_equal(load(&info), NV_OK);
    assert_true(same(&got, &b));
    int torn = 1 - info.used;
    assert_true(info.slot[torn] == NV_SLOT_BAD || info.slot[torn] == NV_SLOT_TORN);
    make(&a, 4);
    cut_every_byte_of_save(&b, &a);
}

static void test_failed_write_keeps_slot(void **state)
{
    (void)state;
    make(&a, 1);
    save(&a);
    make(&b, 2);
    ram.fail_sync = true; /* the medium refuses: the save fails, */
    nv_image_t img = image(&b);
    assert_int_equal(nv_save(&st, &img), NV_EIO);
    ram.fail_sync = false;
    save(&b); /* the retry writes the same slot again, never the intact one */
    boot();
    assert_int_equal(load(NULL), NV_OK);
    assert_true(same(&got, &b));
    ram.fail_read = true;
    assert_int_equal(load(NULL), NV_EIO);
}

/* ---- damage -------------------------------------------------------------------------------- */

/* Write a slot by hand: header fields as given, proper CRCs. */
static void craft_slot(int slot, uint32_t seq, uint16_t format, const uint8_t *body,
                       uint32_t len, uint16_t nsec)
{
    uint8_t *h = medium + slot * 4096;
    memset(h, 0, 4096);
    memcpy(h, "S4NV", 4);
    h[4] = (uint8_t)format, h[5] = (uint8_t)(format >> 8);
    h[6] = 32;
    for (int i = 0; i < 4; i++) {
        h[8 + i] = (uint8_t)(seq >> (8 * i));
        h[12 + i] = (uint8_t)(len >> (8 * i));
    }
    h[16] = (uint8_t)nsec;
    memcpy(h + 32, body, len);
    uint32_t c = nv_crc32(0, body, len);
    for (int i = 0; i < 4; i++)
        h[20 + i] = (uint8_t)(c >> (8 * i));
    c = nv_crc32(0, h, 28);
    for (int i = 0; i < 4; i++)
        h[28 + i] = (uint8_t)(c >> (8 * i));
}

/* The body of slot `slot` as the store wrote it. */
static uint32_t body_of(int slot, uint8_t *out)
{
    const uint8_t *h = medium + slot * 4096;
    uint32_t len = (uint32_t)h[12] | (uint32_t)h[13] << 8;
    memcpy(out, h + 32, len);
    return len;
}

/* The energy fraction is 2^-32 J fixed point in RAM and a binary64 on the medium (the
 * format predates the fixed point): any fraction survives a save exactly, a binary64
 * written by an older build rounds to the nearest 2^-32 J, and one outside 0 <= x < 1
 * (or NaN) is a bad meter section, never a register. */
static void test_energy_fraction_codec(void **state)
{
    (void)state;
    static const uint32_t fracs[] = {0, 1, 2, 3, 0x80000001u, 0xFFFFFFFFu, 0x00012345u,
                                     0x7FFFFFFFu, 1u << 31, 0xDEADBEEFu};
    make(&a, 1);
    for (size_t k = 0; k < sizeof fracs / sizeof fracs[0]; k++)
        a.m.e[k].frac32 = fracs[k];
    save(&a);
    boot();
    assert_int_equal(load(NULL), NV_OK);
    assert_true(same(&got, &a));

    /* A slot whose e[0] fraction bytes hold a given binary64, newer than the last save. */
    static const struct {
        uint64_t bits;
        bool ok;
        uint32_t frac32;
    } rows[] = {
        {0x3FB999999999999Aull, true, 429496730u},  /* 0.1: 429496729.6 rounds up */
        {0x3FEFFFFFFFFFFFFFull, true, 0xFFFFFFFFu}, /* just below 1: the largest fraction */
        {0x0000000000000001ull, true, 0},           /* the smallest subnormal: 0 */
        {0x8000000000000000ull, true, 0},           /* -0 */
        {0x3FF0000000000000ull, false, 0},          /* 1.0 */
        {0xBFE0000000000000ull, false, 0},          /* -0.5 */
        {0x7FF8000000000000ull, false, 0},          /* NaN */
        {0x7FF0000000000000ull, false, 0},          /* infinity */
    };
    static uint8_t body[4096];
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        setup(NULL);
        make(&a, 1);
        save(&a);
        save(&a); /* both slots hold a */
        uint32_t len = body_of(1, body);
        for (int i = 0; i < 8; i++)
            body[60 + 8 + i] = (uint8_t)(rows[r].bits >> (8 * i));
        uint16_t nsec = (uint16_t)(medium[4096 + 16] | medium[4096 + 17] << 8);
        uint32_t seq = 0;
        for (int slot = 0; slot < 2; slot++) {
            const uint8_t *h = medium + slot * 4096;
            uint32_t q = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 |
                         (uint32_t)h[11] << 24;
            seq = q > seq ? q : seq;
        }
        craft_slot(1, seq + 1, 1, body, len, nsec);
        boot();
        nv_load_info_t info;
        assert_int_equal(load(&info), NV_OK);
        if (rows[r].ok) {
            assert_true(got.m.e[0].j == a.m.e[0].j);
            assert_int_equal(got.m.e[0].frac32, rows[r].frac32);
            assert_int_equal(info.invalid, 0);
        } else { /* an invalid meter section: the caller's registers stay as they were */
            assert_true(info.invalid & NV_SEC_BIT(NV_SEC_METER));
            make(&b, 999);
            assert_memory_equal(&got.m, &b.m, sizeof got.m);
        }
    }
}

static void test_bit_flips(void **state)
{
    (void)state;
    make(&a, 1);
    save(&a);
    make(&b, 2);
    save(&b); /* b is in slot A (seq 3), a in slot B (seq 2) */
    nv_load_info_t info;
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.used, 0);
    memcpy(snap, medium, sizeof medium);
    uint8_t body[4096];
    const uint32_t used = 32 + body_of(0, body);
    assert_int_equal(used, 32 + body_of(1, body)); /* same lengths (same strings) */
    for (int slot = 0; slot < 2; slot++) {
        for (uint32_t off = 0; off < used; off++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(medium, snap, sizeof medium);
                medium[slot * 4096 + off] ^= (uint8_t)(1u << bit);
                boot();
                assert_int_equal(load(&info), NV_OK);
                assert_true(info.slot[slot] == NV_SLOT_BAD || info.slot[slot] == NV_SLOT_TORN);
                assert_int_equal(info.slot[1 - slot], NV_SLOT_OK);
                assert_int_equal(info.used, 1 - slot);
                /* Damage to the newest: the previous state; to the older: no change. */
                assert_true(same(&got, slot == 0 ? &a : &b));
            }
        }
    }
    /* The bytes after the body are not part of the image. */
    memcpy(medium, snap, sizeof medium);
    medium[used + 5] ^= 0xFF;
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.used, 0);
    assert_true(same(&got, &b));
}

/* ---- erased slots: never a silent factory reset or rollback ------------------------------ */

static void append(unsigned log, uint32_t v);

static void test_erased_slots(void **state)
{
    (void)state;
    nv_load_info_t info;
    make(&a, 1);
    save(&a); /* the first save: A seq 1, B seq 2, markers in the empty rings */
    make(&b, 2);
    save(&b); /* A seq 3 = b, B seq 2 = a */
    memcpy(snap, medium, sizeof medium);
    make(&other, 999); /* what load() starts from: nothing may be loaded */

    /* Both slots zeroed, or erased to 0xFF: the rings say the store was in use. */
    for (int v = 0; v <= 0xFF; v += 0xFF) {
        memcpy(medium, snap, sizeof medium);
        memset(medium, v, 2 * 4096);
        boot();
        assert_int_equal(load(&info), NV_ELOST);
        assert_true(info.rings_used);
        assert_int_equal(info.used, -1);
        assert_true(same(&got, &other));
        /* and saying so changes nothing on the medium */
        boot();
        assert_int_equal(load(&info), NV_ELOST);
    }
    /* An older store without markers: its records are the evidence. */
    memcpy(medium, snap, sizeof medium);
    memset(medium + 2 * 4096, 0, ram.size - 2 * 4096);
    boot();
    append(1, 42);
    memset(medium, 0, 2 * 4096);
    boot();
    assert_int_equal(load(&info), NV_ELOST);
    /* One slot zeroed, one bit flipped in the other: damage, not a new store. */
    for (int slot = 0; slot < 2; slot++) {
        memcpy(medium, snap, sizeof medium);
        memset(medium + slot * 4096, 0, 4096);
        medium[(1 - slot) * 4096 + 200] ^= 0x08;
        boot();
        assert_int_equal(load(&info), NV_ECORRUPT);
        assert_true(info.rings_used);
        assert_true(same(&got, &other));
    }
    /* The newest slot (A, seq 3) erased to 0xFF: the older one is not loaded silently. */
    memcpy(medium, snap, sizeof medium);
    memset(medium, 0xFF, 4096);
    boot();
    assert_int_equal(load(&info), NV_EOLDER);
    assert_true(info.older);
    assert_int_equal(info.slot[0], NV_SLOT_BLANK);
    assert_int_equal(info.slot[1], NV_SLOT_OK);
    assert_true(same(&got, &other));
    /* Accepted explicitly: the survivor (a), said to be possibly older. */
    nv_image_t img = image(&got);
    assert_int_equal(nv_load_ex(&st, &img, &info, NV_LOAD_ACCEPT_OLDER), NV_OK);
    assert_true(info.older);
    assert_int_equal(info.used, 1);
    assert_true(same(&got, &a));
    /* and the store carries on: the next save fills the erased slot */
    save(&b);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_false(info.older);
    assert_true(same(&got, &b));
    /* The older slot erased: which one was newer cannot be known, so the same verdict. */
    memcpy(medium, snap, sizeof medium);
    memset(medium + 4096, 0, 4096);
    boot();
    assert_int_equal(load(&info), NV_EOLDER);

    /* A first save cut between its two slots (A intact with seq 1, B blank, no markers):
     * nothing was acknowledged yet, A loads as it is. */
    memset(medium, 0, sizeof medium);
    boot();
    ram.slot_bytes = 0;
    save(&a);
    size_t one = ram.slot_bytes / 2;
    memset(medium, 0, sizeof medium);
    boot();
    ram.budget = (long)one;
    nv_image_t ia = image(&a);
    assert_int_equal(nv_save(&st, &ia), NV_EIO);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_false(info.older);
    assert_false(info.rings_used);
    assert_int_equal(info.slot[1], NV_SLOT_BLANK);
    assert_true(same(&got, &a));
    /* but once a ring holds a record, the same picture is an erased slot B */
    append(0, 1);
    boot();
    assert_int_equal(load(&info), NV_EOLDER);
}

static void test_medium_full(void **state)
{
    (void)state;
    make(&a, 1);
    save(&a);
    ram.rings_full = true;
    uint8_t rec[NV_TL_RECORD_SIZE] = {0};
    assert_int_equal(nv_log_append(&st, 0, rec, sizeof rec), NV_ENOSPC);
    save(&a); /* the slots were written before: still fine */
    assert_string_equal(nv_strerror(NV_ENOSPC), "the medium is full");
    ram.rings_full = false;
    ram.fail_sync = true;
    assert_int_equal(nv_log_append(&st, 0, rec, sizeof rec), NV_EIO);
    nv_image_t img = image(&a);
    assert_int_equal(nv_save(&st, &img), NV_EIO);
}

static void test_both_bad(void **state)
{
    (void)state;
    make(&a, 1);
    save(&a);
    make(&b, 2);
    save(&b);
    medium[100] ^= 1;        /* slot A's body */
    medium[4096 + 10] ^= 1;  /* slot B's header */
    boot();
    nv_load_info_t info;
    assert_int_equal(load(&info), NV_ECORRUPT);
    make(&b, 999);
    assert_true(same(&got, &b)); /* nothing loaded: the caller decides */
    assert_int_equal(info.used, -1);
    assert_int_equal(info.slot[0], NV_SLOT_TORN);
    assert_int_equal(info.slot[1], NV_SLOT_BAD);
    /* Loading again says the same: no save happened behind the caller's back. */
    boot();
    assert_int_equal(load(&info), NV_ECORRUPT);
    /* If the caller decides to start afresh, the next save rewrites both slots. */
    make(&a, 5);
    save(&a);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_true(same(&got, &a));
    assert_int_equal(info.slot[0], NV_SLOT_OK);
    assert_int_equal(info.slot[1], NV_SLOT_OK);

    /* Garbage everywhere: corrupt, not empty. */
    for (size_t i = 0; i < 8192; i++)
        medium[i] = (uint8_t)(i * 131 + 7);
    boot();
    assert_int_equal(load(&info), NV_ECORRUPT);
    /* One slot garbage, the other blank, in a store in use (its rings hold the markers
     * of the first save): damage, not an interrupted first save. */
    memset(medium + 4096, 0, 4096);
    boot();
    assert_int_equal(load(&info), NV_ECORRUPT);
    assert_true(info.rings_used);
    assert_int_equal(info.slot[0], NV_SLOT_BAD);
    assert_int_equal(info.slot[1], NV_SLOT_BLANK);
    /* The same with empty rings: only an interrupted first save does that. */
    memset(medium + 8192, 0, ram.size - 8192);
    boot();
    assert_int_equal(load(&info), NV_EMPTY);
    assert_false(info.rings_used);
    assert_int_equal(info.slot[0], NV_SLOT_BAD);
    assert_int_equal(info.slot[1], NV_SLOT_BLANK);
}

/* Where section id starts in a body, and its TOC entry (sections are in id order). */
#define NSEC 5
static uint32_t sec_at(const uint8_t *body, uint16_t id)
{
    const uint8_t *e = body + (id - 1) * 12;
    assert_int_equal(e[0], id);
    return (uint32_t)e[4] | (uint32_t)e[5] << 8;
}

static void test_versions(void **state)
{
    (void)state;
    nv_load_info_t info;
    uint8_t body[4096];
    make(&a, 1);
    save(&a);
    make(&b, 2);
    save(&b); /* slot A seq 3 = b, slot B seq 2 = a */
    uint32_t len = body_of(0, body);
    memcpy(snap, medium, sizeof medium);

    /* A newer format in the newest slot: do not roll back to the older slot. */
    craft_slot(0, 3, 2, body, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_EVERSION);
    assert_int_equal(info.slot[0], NV_SLOT_VERSION);
    assert_int_equal(info.slot[1], NV_SLOT_OK);
    make(&b, 999);
    assert_true(same(&got, &b));
    /* A newer format in the older slot (say a downgrade after a save): the newest is ours. */
    memcpy(medium, snap, sizeof medium);
    craft_slot(1, 2, 2, body, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.used, 0);
    assert_int_equal(info.slot[1], NV_SLOT_VERSION);

    /* A section of a newer version: not loaded, nothing loaded. */
    memcpy(medium, snap, sizeof medium);
    uint8_t v2[4096];
    memcpy(v2, body, len);
    v2[12 + 2] = 2; /* the config section's version */
    craft_slot(0, 3, 1, v2, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_EVERSION);

    /* An unknown section (written by a newer firmware) is skipped; the known ones load.
     * Rebuild the body with an extra TOC entry for section 99 at the end. */
    memcpy(medium, snap, sizeof medium);
    uint8_t x[4096];
    uint32_t toc = (NSEC + 1) * 12, shift = 12;
    memcpy(x, body, NSEC * 12);
    for (int i = 0; i < NSEC; i++) { /* offsets move by one TOC entry */
        uint8_t *e = x + i * 12;
        uint32_t off = (uint32_t)e[4] | (uint32_t)e[5] << 8;
        off += shift;
        e[4] = (uint8_t)off, e[5] = (uint8_t)(off >> 8);
    }
    uint8_t extra[12] = {99, 0, 1, 0};
    uint32_t xoff = len + shift;
    extra[4] = (uint8_t)xoff, extra[5] = (uint8_t)(xoff >> 8), extra[8] = 5;
    memcpy(x + NSEC * 12, extra, 12);
    memcpy(x + toc, body + NSEC * 12, len - NSEC * 12);
    memcpy(x + xoff, "hello", 5);
    craft_slot(0, 3, 1, x, xoff + 5, NSEC + 1);
    boot();
    make(&b, 2);
    assert_int_equal(load(&info), NV_OK);
    assert_true(same(&got, &b));

    /* A section longer than this code knows (fields appended later): read its prefix.
     * Append two bytes to the trend-log counters, the last section. */
    memcpy(medium, snap, sizeof medium);
    memcpy(x, body, len);
    x[48 + 8] = 69; /* trend-log counters: length 67 -> 69 */
    x[len] = 0xAA, x[len + 1] = 0xBB;
    craft_slot(0, 3, 1, x, len + 2, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.invalid, 0);
    assert_true(same(&got, &b));

    /* Shorter than it must be: invalid, left as the caller had it; the rest loads. */
    memcpy(x, body, len);
    x[36 + 8] = 60; /* trend logs: 67 -> 60 */
    craft_slot(0, 3, 1, x, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.invalid, NV_SEC_BIT(NV_SEC_TRENDLOG));
    assert_int_equal(got.tl[0].ai, 1 + 999 % 75); /* the sentinel's */
    assert_true(got.m.power_ups == b.m.power_ups);

    /* Out-of-range values behind a good CRC (a buggy writer): flagged, not loaded. */
    memcpy(x, body, len);
    uint32_t cfg = sec_at(x, NV_SEC_CONFIG), id = sec_at(x, NV_SEC_IDENTITY);
    x[cfg] = 99;                /* system type 99 */
    memset(x + id, 0, 4);       /* instance 0 */
    craft_slot(0, 3, 1, x, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.invalid, NV_SEC_BIT(NV_SEC_CONFIG) | NV_SEC_BIT(NV_SEC_IDENTITY));
    make(&a, 999);
    assert_true(got.c.ct_primary == a.c.ct_primary && got.id.instance == a.id.instance);

    /* A boolean that is neither 0 nor 1: the trend-log section is invalid. */
    memcpy(x, body, len);
    x[sec_at(x, NV_SEC_TRENDLOG) + 1 + 22] = 2; /* TL2's enable */
    craft_slot(0, 3, 1, x, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.invalid, NV_SEC_BIT(NV_SEC_TRENDLOG));

    /* A TOC pointing outside the body: the slot is bad, the other one is used. */
    memcpy(x, body, len);
    x[4] = 0xFF, x[5] = 0xFF;
    craft_slot(0, 3, 1, x, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.slot[0], NV_SLOT_BAD);
    make(&a, 1);
    assert_true(same(&got, &a));
}

static void test_slot_seq_wrap(void **state)
{
    (void)state;
    nv_load_info_t info;
    uint8_t body[4096];
    make(&a, 1);
    save(&a);
    uint32_t len = body_of(0, body);
    craft_slot(0, 0xFFFFFFFFu, 1, body, len, NSEC);
    craft_slot(1, 0xFFFFFFFEu, 1, body, len, NSEC);
    boot();
    assert_int_equal(load(&info), NV_OK);
    assert_int_equal(info.used, 0);
    /* The sequence number wraps to 0, which is newer than 2^32-1. */
    for (uint32_t k = 2; k <= 4; k++) {
        make(&b, k);
        save(&b);
        boot();
        assert_int_equal(load(&info), NV_OK);
        assert_true(same(&got, &b));
        assert_int_equal(info.seq, k - 2);
        assert_int_equal(info.used, k % 2 ? 0 : 1);
    }
}

static void test_image_too_big(void **state)
{
    (void)state;
    nv_layout_t l = {.slot_size = 256};
    nv_port_t p = ram_port();
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    make(&a, 1);
    nv_image_t img = image(&a);
    assert_int_equal(nv_save(&st, &img), NV_ESIZE);
    assert_int_equal(ram.writes, 0);
    nv_image_t small_img = {.config = &a.c};
    assert_int_equal(nv_save(&st, &small_img), NV_OK);
}

/* ---- record logs ---------------------------------------------------------------------------- */

typedef struct {
    uint32_t n;
    uint32_t seq[64];
    uint32_t val[64];
} list_t;

static int collect(void *arg, uint32_t seq, const void *rec, size_t len)
{
    list_t *l = arg;
    assert_true(len >= 4 && l->n < 64);
    uint32_t v;
    memcpy(&v, rec, 4);
    l->seq[l->n] = seq;
    l->val[l->n++] = v;
    return 0;
}

static list_t load_log(unsigned log, nv_log_info_t *info)
{
    list_t l = {0};
    assert_int_equal(nv_log_load(&st, log, collect, &l, info), NV_OK);
    return l;
}

static void append(unsigned log, uint32_t v)
{
    uint8_t rec[NV_TL_RECORD_SIZE] = {0};
    memcpy(rec, &v, 4);
    assert_int_equal(nv_log_append(&st, log, rec, sizeof rec), NV_OK);
}

static void test_log_basic(void **state)
{
    (void)state;
    nv_log_info_t info;
    list_t l = load_log(0, &info);
    assert_int_equal(l.n, 0);
    assert_int_equal(info.records, 0);
    for (uint32_t i = 1; i <= 10; i++)
        append(0, 100 + i);
    append(2, 7);
    boot();
    l = load_log(0, &info);
    assert_int_equal(l.n, 10);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(l.seq[i], i + 1);
        assert_int_equal(l.val[i], 101 + i);
    }
    assert_int_equal(info.first, 1);
    assert_int_equal(info.last, 10);
    assert_int_equal(info.damaged, 0);
    assert_int_equal(load_log(1, NULL).n, 0); /* the logs are independent */
    l = load_log(2, NULL);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.val[0], 7);
    /* The checkpoint does not disturb the logs, nor they it. */
    make(&a, 1);
    save(&a);
    assert_int_equal(load_log(0, NULL).n, 10);
    append(0, 111);
    assert_int_equal(load(NULL), NV_OK);
    assert_true(same(&got, &a));
    /* Each append is one write of one record, then a sync. */
    ram.writes = ram.syncs = 0;
    ram.written = 0;
    append(1, 1);
    assert_int_equal(ram.writes, 1);
    assert_int_equal(ram.syncs, 1);
    assert_int_equal(ram.written, 38);
}

static void test_log_args(void **state)
{
    (void)state;
    uint8_t rec[64] = {0};
    assert_int_equal(nv_log_append(&st, 3, rec, 4), NV_EARG); /* only logs 0..2 */
    assert_int_equal(nv_log_append(&st, 0, rec, 0), NV_EARG);
    assert_int_equal(nv_log_append(&st, 0, rec, NV_TL_RECORD_SIZE + 1), NV_EARG);
    assert_int_equal(nv_log_append(&st, 0, NULL, 4), NV_EARG);
    assert_int_equal(nv_log_load(&st, 3, collect, NULL, NULL), NV_EARG);
    assert_int_equal(nv_log_append(&st, 0, rec, 1), NV_OK); /* short records are fine */
}

static void test_log_wrap(void **state)
{
    (void)state;
    nv_log_info_t info;
    for (uint32_t i = 1; i <= 50; i++) {
        append(1, i);
        if (i % 7 == 0)
            boot(); /* rescans the ring now and then */
        list_t l = load_log(1, &info);
        uint32_t n = i < 16 ? i : 16; /* capacity 16 */
        assert_int_equal(l.n, n);
        for (uint32_t k = 0; k < n; k++) {
            assert_int_equal(l.seq[k], i - n + 1 + k);
            assert_int_equal(l.val[k], i - n + 1 + k);
        }
    }
}

static int stop_at_3(void *arg, uint32_t seq, const void *rec, size_t len)
{
    (void)rec, (void)len;
    *(uint32_t *)arg = seq;
    return seq == 3 ? 42 : 0;
}

static void test_log_stop(void **state)
{
    (void)state;
    for (uint32_t i = 1; i <= 5; i++)
        append(0, i);
    uint32_t last = 0;
    assert_int_equal(nv_log_load(&st, 0, stop_at_3, &last, NULL), 42);
    assert_int_equal(last, 3);
}

/* Cut every byte of one append (or reset) to a log holding `before`; the loader must
 * give the old list or the old list plus the record. */
static void cut_every_byte_of_log_write(unsigned log, bool reset, uint32_t v)
{
    memcpy(snap, medium, sizeof medium);
    boot();
    list_t old = load_log(log, NULL);
    for (int rev = 0; rev < 2; rev++) {
        for (long n = 0; n <= 38; n++) {
            memcpy(medium, snap, sizeof medium);
            boot();
            ram.budget = n;
            ram.reverse = rev;
            uint8_t rec[NV_TL_RECORD_SIZE] = {0};
            memcpy(rec, &v, 4);
            int rc = reset ? nv_log_reset(&st, log, rec, sizeof rec)
                           : nv_log_append(&st, log, rec, sizeof rec);
            assert_int_equal(rc, n < 38 ? NV_EIO : NV_OK);
            boot();
            nv_log_info_t info;
            list_t l = load_log(log, &info);
            assert_int_equal(info.damaged, 0);
            bool is_old = l.n == old.n && !memcmp(l.seq, old.seq, sizeof l.seq) &&
                          !memcmp(l.val, old.val, sizeof l.val);
            bool is_new;
            if (reset) {
                is_new = l.n == 1 && l.val[0] == v;
            } else {
                /* old + v, minus the oldest if the log was full */
                uint32_t drop = old.n == 16 ? 1 : 0;
                is_new = l.n == old.n - drop + 1 && l.val[l.n - 1] == v &&
                         !memcmp(l.val, old.val + drop, (old.n - drop) * 4);
            }
            assert_true(is_old || is_new);
            /* A cut write that still left every byte that differs is the new record
             * (a reverse cut keeps the last bytes, and the first four, magic and
             * log id, are those of the record it overwrites). */
            if (n == 0)
                assert_true(is_old);
            if (n == 38)
                assert_true(is_new);
            /* The log goes on. */
            append(log, 999);
            l = load_log(log, NULL);
            assert_int_equal(l.val[l.n - 1], 999);
        }
    }
    memcpy(medium, snap, sizeof medium);
    boot();
}

static void test_power_cut_log(void **state)
{
    (void)state;
    cut_every_byte_of_log_write(0, false, 1); /* into an empty log */
    for (uint32_t i = 1; i <= 5; i++)
        append(0, i);
    cut_every_byte_of_log_write(0, false, 6); /* partly filled */
    for (uint32_t i = 6; i <= 40; i++)
        append(0, i);
    for (uint32_t k = 0; k < 17; k++) { /* full and wrapped, at every ring position */
        cut_every_byte_of_log_write(0, false, 1000 + k);
        append(0, 41 + k);
    }
    cut_every_byte_of_log_write(0, true, 5000); /* a reset */
}

static void test_log_torn_and_damaged(void **state)
{
    (void)state;
    nv_log_info_t info;
    for (uint32_t i = 1; i <= 20; i++)
        append(2, i); /* seq 1..20, ring slots (seq % 17) */
    uint8_t *ring = medium + 2 * 4096 + 2 * 17 * 38;
    /* Damage seq 10 in the middle: it is skipped and counted, the rest load in order. */
    ring[(10 % 17) * 38 + 20] ^= 0x10;
    boot();
    list_t l = load_log(2, &info);
    assert_int_equal(l.n, 15);
    assert_int_equal(info.damaged, 1);
    assert_int_equal(l.seq[0], 5);
    assert_int_equal(l.seq[4], 9);
    assert_int_equal(l.seq[5], 11);
    assert_int_equal(l.seq[14], 20);
    /* Damage the newest (20): the log ends at 19, and the next append is seq 20 again. */
    ring[(20 % 17) * 38 + 5] ^= 0x01;
    boot();
    l = load_log(2, &info);
    assert_int_equal(info.last, 19);
    append(2, 77);
    l = load_log(2, &info);
    assert_int_equal(info.last, 20);
    assert_int_equal(l.val[l.n - 1], 77);
    /* A record copied into the wrong ring slot is not taken for its sequence number. */
    memcpy(ring + 0 * 38, ring + (19 % 17) * 38, 38);
    boot();
    l = load_log(2, &info);
    assert_int_equal(info.last, 20);
    assert_int_equal(l.val[l.n - 1], 77);
    /* Nor a record of another log. */
    uint8_t *ring1 = medium + 2 * 4096 + 17 * 38;
    memcpy(ring1 + (20 % 17) * 38, ring + (20 % 17) * 38, 38);
    boot();
    assert_int_equal(load_log(1, NULL).n, 0);
}

/* A flash medium erases a whole sector when the ring enters it: the oldest records of
 * the window read blank. They are absent, not damage; a blank slot after an intact
 * record still is damage. */
static void test_log_oldest_erased(void **state)
{
    (void)state;
    nv_log_info_t info;
    for (uint32_t i = 1; i <= 20; i++)
        append(2, i); /* the window is 5..20 */
    uint8_t *ring = medium + 2 * 4096 + 2 * 17 * 38;
    for (uint32_t seq = 5; seq <= 7; seq++)
        memset(ring + (seq % 17) * 38, 0xFF, 38);
    boot();
    list_t l = load_log(2, &info);
    assert_int_equal(l.n, 13);
    assert_int_equal(info.damaged, 0);
    assert_int_equal(info.first, 8);
    memset(ring + (12 % 17) * 38, 0xFF, 38);
    boot();
    l = load_log(2, &info);
    assert_int_equal(l.n, 12);
    assert_int_equal(info.damaged, 1);
}

static void test_log_reset(void **state)
{
    (void)state;
    nv_log_info_t info;
    for (uint32_t i = 1; i <= 10; i++)
        append(0, i);
    uint8_t rec[NV_TL_RECORD_SIZE] = {0};
    uint32_t v = 500;
    memcpy(rec, &v, 4);
    assert_int_equal(nv_log_reset(&st, 0, rec, sizeof rec), NV_OK); /* purge + record */
    boot();
    list_t l = load_log(0, &info);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.seq[0], 11); /* sequence numbers go on */
    assert_int_equal(l.val[0], 500);
    append(0, 501);
    append(0, 502);
    l = load_log(0, NULL);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.val[2], 502);
    /* The reset record itself damaged: what came before it stays gone (every later
     * record names the start of its history). */
    uint8_t *ring = medium + 2 * 4096;
    ring[(11 % 17) * 38 + 20] ^= 0x01;
    boot();
    l = load_log(0, &info);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.seq[0], 12);
    assert_int_equal(info.damaged, 1);
    /* Reset to nothing. */
    assert_int_equal(nv_log_reset(&st, 0, NULL, 0), NV_OK);
    boot();
    l = load_log(0, &info);
    assert_int_equal(l.n, 0);
    assert_int_equal(info.records, 0);
    append(0, 600);
    l = load_log(0, &info);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.seq[0], 15);
    /* Resets while full and wrapped. */
    for (uint32_t i = 0; i < 40; i++)
        append(0, i);
    assert_int_equal(nv_log_reset(&st, 0, rec, sizeof rec), NV_OK);
    append(0, 1);
    boot();
    l = load_log(0, NULL);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.val[0], 500);
}

static void test_log_seq_exhausted(void **state)
{
    (void)state;
    /* A record with sequence number 2^32-1 (seq % 17 = 0 in slot 0): no more appends. */
    uint8_t *p = medium + 2 * 4096;
    memset(p, 0, 38);
    p[0] = 'R', p[1] = 'L', p[2] = 1, p[3] = 0;
    memset(p + 4, 0xFF, 4);      /* seq */
    memset(p + 8, 0xFF, 4);      /* base */
    p[12] = 18;
    uint32_t c = nv_crc32(0, p, 34);
    for (int i = 0; i < 4; i++)
        p[34 + i] = (uint8_t)(c >> (8 * i));
    assert_int_equal(UINT32_MAX % 17, 0);
    boot();
    nv_log_info_t info;
    assert_int_equal(load_log(0, &info).n, 1);
    assert_int_equal(info.last, UINT32_MAX);
    uint8_t rec[4] = {0};
    assert_int_equal(nv_log_append(&st, 0, rec, 4), NV_EFULL);
}

/* The meter's full layout: three full trend logs, wrapped, with the record helpers. */
static int count_tl(void *arg, uint32_t seq, const void *rec, size_t len)
{
    uint32_t *n = arg, tseq;
    tl_record_t r;
    assert_true(nv_tl_record_get(rec, len, &tseq, &r));
    assert_int_equal(tseq, seq);
    assert_true(r.t == (tl_time_t)seq * 90000 && r.value == (float)seq * 0.25f);
    (*n)++;
    return 0;
}

static void test_full_layout(void **state)
{
    (void)state;
    static uint8_t big[2 * 4096 + 3 * 5761 * 38];
    ram_t r = {.mem = big, .size = sizeof big, .budget = -1};
    nv_port_t p = {.ctx = &r, .read = ram_read, .write = ram_write, .sync = ram_sync,
                   .size = sizeof big};
    nv_layout_t l = NV_S4100_LAYOUT;
    assert_int_equal(nv_medium_size(&l), sizeof big);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    for (uint32_t seq = 1; seq <= TL_BUFFER_SIZE + 100; seq++) {
        tl_record_t rec = {.t = (tl_time_t)seq * 90000, .value = (float)seq * 0.25f,
                           .kind = TL_REC_REAL};
        uint8_t buf[NV_TL_RECORD_SIZE];
        nv_tl_record_put(buf, seq, &rec);
        for (unsigned log = 0; log < TL_COUNT; log++)
            assert_int_equal(nv_log_append(&st, log, buf, sizeof buf), NV_OK);
    }
    make(&a, 3);
    save(&a);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    assert_int_equal(load(NULL), NV_OK);
    assert_true(same(&got, &a));
    for (unsigned log = 0; log < TL_COUNT; log++) {
        uint32_t n = 0;
        nv_log_info_t info;
        assert_int_equal(nv_log_load(&st, log, count_tl, &n, &info), NV_OK);
        assert_int_equal(n, TL_BUFFER_SIZE);
        assert_int_equal(info.first, 101);
        assert_int_equal(info.last, TL_BUFFER_SIZE + 100);
    }
}

/* ---- trend logs in the rings ---------------------------------------------------------- */

/* What a log should hold, kept apart from the medium: a log whose records are in RAM. */
static tl_ram_t ref_ram;
static tl_store_t ref_store;
static tl_log_t ref;

static void ref_init(uint32_t ai)
{
    tl_init(&ref, ai);
    tl_ram_init(&ref_ram);
    ref_store = tl_ram_store(&ref_ram);
    tl_attach(&ref, &ref_store, 0, 0);
}

/* A log of its own on the medium's ring `log` (which holds none of its records). */
static void live_init(tl_log_t *l, unsigned log, uint32_t ai)
{
    tl_init(l, ai);
    tl_store_t rings = nv_tl_store(&nvtl);
    tl_attach(l, &rings, log, 0);
}

static bool same_rec(const tl_record_t *p, const tl_record_t *q)
{
    return p->t == q->t && p->value == q->value && p->kind == q->kind && p->flags == q->flags;
}

static bool same_log(const tl_log_t *x, const tl_log_t *y)
{
    if (x->count != y->count || x->total != y->total)
        return false;
    for (uint32_t k = 0; k < x->count; k++) {
        tl_record_t p = tl_at(x, k), q = tl_at(y, k);
        if (tl_seq_of(x, k) != tl_seq_of(y, k) || !same_rec(&p, &q))
            return false;
    }
    return true;
}

/* n records into l, and the same into `mirror` (NULL: none). */
static void log_n(tl_log_t *l, tl_log_t *mirror, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        tl_record_t r = {.t = (tl_time_t)(l->total + 1) * 100, .value = (float)l->total,
                         .kind = TL_REC_REAL, .flags = (uint8_t)(i & 2)};
        tl_append(l, &r);
        if (mirror)
            tl_append(mirror, &r);
    }
}

static void test_tl_sync_restore(void **state)
{
    (void)state;
    static uint8_t big[2 * 4096 + 3 * 5761 * 38];
    static tl_log_t live, back;
    ram_t r = {.mem = big, .size = sizeof big, .budget = -1};
    nv_port_t p = {.ctx = &r, .read = ram_read, .write = ram_write, .sync = ram_sync,
                   .size = sizeof big};
    nv_layout_t l = NV_S4100_LAYOUT;
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    nv_tl_open(&nvtl, &st);
    live_init(&live, 1, 5);
    ref_init(5);
    assert_int_equal(tl_flush(&live), NV_OK); /* nothing yet */
    assert_int_equal(r.writes, 0);

    log_n(&live, &ref, 10);
    assert_int_equal(tl_flush(&live), NV_OK);
    assert_int_equal(live.stored, 10);
    assert_int_equal(r.writes, 10);
    log_n(&live, &ref, 3);
    r.writes = 0;
    assert_int_equal(tl_flush(&live), NV_OK);
    assert_int_equal(r.writes, 3); /* only what is new */
    assert_int_equal(tl_flush(&live), NV_OK);
    assert_int_equal(r.writes, 3);
    tl_init(&back, 5);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK); /* power cycle */
    nv_tl_open(&nvtl, &st);
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, NULL), NV_OK);
    assert_true(same_log(&ref, &back));
    assert_int_equal(back.stored, 13);

    /* Past the buffer, synced now and then: the newest 5760 with their numbers, read
     * back through the ring (the log itself keeps TL_CACHE_SIZE of them). */
    for (int i = 0; i < 60; i++) {
        log_n(&live, &ref, 100);
        assert_int_equal(tl_flush(&live), NV_OK);
    }
    assert_int_equal(live.count, TL_BUFFER_SIZE);
    assert_true(same_log(&ref, &live));
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    nv_tl_open(&nvtl, &st);
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, NULL), NV_OK);
    assert_true(same_log(&ref, &back));
    assert_int_equal(nvtl.gone, 0);

    /* A purge (Record_Count := 0), then more records: the ring restarts. */
    tl_purge(&live, 12345);
    tl_purge(&ref, 12345);
    log_n(&live, &ref, 2);
    assert_int_equal(tl_flush(&live), NV_OK);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    nv_tl_open(&nvtl, &st);
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, NULL), NV_OK);
    assert_int_equal(back.count, 3);
    assert_true(same_log(&ref, &back));
    /* Never flushed while the buffer turns over: a record about to leave the cache
     * unstored is flushed first, so every one reaches the ring. */
    r.writes = 0;
    log_n(&live, &ref, TL_BUFFER_SIZE + 7);
    assert_true(r.writes >= TL_BUFFER_SIZE + 7 - TL_CACHE_SIZE);
    assert_int_equal(tl_flush(&live), NV_OK);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    nv_tl_open(&nvtl, &st);
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, NULL), NV_OK);
    assert_true(same_log(&ref, &back));
    /* The restored log carries on, and so does its ring. */
    log_n(&back, &ref, 5);
    assert_int_equal(tl_flush(&back), NV_OK);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    nv_tl_open(&nvtl, &st);
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, NULL), NV_OK);
    assert_true(same_log(&ref, &back));
    /* Other rings were never touched. */
    tl_init(&back, 1);
    assert_int_equal(nv_tl_restore(&nvtl, 0, &back, NULL, NULL), NV_OK);
    assert_int_equal(back.count, 0);
    assert_int_equal(back.total, 0);
}

static bool placeholder(const tl_record_t *r)
{
    return r->kind == TL_REC_STATUS && r->value == (float)NV_TL_INTERRUPTED;
}

static bool placeholder_at(const tl_log_t *l, uint32_t k)
{
    tl_record_t r = tl_at(l, k);
    return placeholder(&r);
}

/* The same records and numbers, except where y holds placeholders. */
static bool same_but_gaps(const tl_log_t *x, const tl_log_t *y, uint32_t *gaps)
{
    *gaps = 0;
    if (x->count != y->count || x->total != y->total)
        return false;
    for (uint32_t k = 0; k < x->count; k++) {
        tl_record_t p = tl_at(x, k), q = tl_at(y, k);
        if (tl_seq_of(x, k) != tl_seq_of(y, k))
            return false;
        if (placeholder(&q) && !placeholder(&p)) {
            ++*gaps;
            continue;
        }
        if (!same_rec(&p, &q))
            return false;
    }
    return true;
}

/* Load the checkpoint's account of the logs, then rebuild log n from its ring. */
static nv_tl_restore_info_t restore(unsigned n, tl_log_t *into)
{
    static nv_tl_state_t tls[TL_COUNT];
    memset(tls, 0, sizeof tls);
    nv_image_t img = {.tl_state = tls};
    assert_int_equal(nv_load(&st, &img, NULL), NV_OK);
    nv_tl_restore_info_t ri;
    assert_int_equal(nv_tl_restore(&nvtl, n, into, &tls[n], &ri), NV_OK);
    return ri;
}

static void test_tl_state(void **state)
{
    (void)state;
    nv_load_info_t info;
    make(&a, 1);
    log_n(&a.tl[0], NULL, 3);
    tl_purge(&a.tl[2], 4242);
    log_n(&a.tl[2], NULL, 2);
    save(&a);
    nv_tl_state_t tls[TL_COUNT], want;
    memset(tls, 0, sizeof tls);
    nv_image_t img = {.tl_state = tls};
    assert_int_equal(nv_load(&st, &img, &info), NV_OK);
    for (int i = 0; i < TL_COUNT; i++) {
        nv_tl_state_of(&a.tl[i], &want);
        assert_int_equal(tls[i].total, want.total);
        assert_int_equal(tls[i].oldest, want.oldest);
        assert_true(tls[i].newest.t == want.newest.t && tls[i].newest.value == want.newest.value &&
                    tls[i].newest.kind == want.newest.kind);
    }
    assert_int_equal(tls[0].total, 3);
    assert_int_equal(tls[0].oldest, 1);
    assert_int_equal(tls[1].oldest, 0);
    assert_int_equal(tls[2].oldest, 1);
    assert_int_equal(tls[2].total, 3);
    /* A store from before the section: missing, the caller's zeros stay. */
    nv_image_t old = {.meter = &a.m};
    assert_int_equal(nv_save(&st, &old), NV_OK);
    memset(tls, 0, sizeof tls);
    assert_int_equal(nv_load(&st, &img, &info), NV_OK);
    assert_int_equal(info.missing, NV_SEC_BIT(NV_SEC_TLSTATE));
    assert_int_equal(tls[0].total, 0);
}

/* Ring appends that fail (a full medium) while the checkpoint still works: the records
 * wait in the log's cache, the next flush goes on where the last one stopped, and after a
 * power cut the numbers go on from the checkpoint's count, never back. */
static void test_tl_appends_fail(void **state)
{
    (void)state;
    static tl_log_t back;
    make(&a, 1);
    tl_log_t *live = &a.tl[1];
    live_init(live, 1, 5);
    ref_init(5);
    save(&a);
    log_n(live, &ref, 10);
    assert_int_equal(tl_flush(live), NV_OK);
    assert_int_equal(live->stored, 10);
    ram.rings_full = true;
    log_n(live, &ref, 3);
    assert_int_equal(tl_flush(live), NV_ENOSPC);
    assert_int_equal(live->stored, 10);
    assert_true(same_log(&ref, live)); /* 11..13 wait in the cache */
    save(&a); /* counts 13 */
    boot();   /* power cut: 11..13 never reached the ring */
    tl_init(&back, 5);
    nv_tl_restore_info_t ri = restore(1, &back);
    uint32_t gaps;
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_int_equal(back.total, 13);
    assert_int_equal(gaps, 2); /* 11 and 12: placeholders */
    assert_int_equal(ri.missing, 2);
    assert_true(ri.from_checkpoint); /* 13, the newest, as the checkpoint had it */
    assert_false(placeholder_at(&back, back.count - 1));
    assert_int_equal(back.stored, 10);
    /* Stamped as the record before them. */
    assert_true(tl_at(&back, 10).t == tl_at(&back, 9).t);
    /* The ring catches up; the next record is 14, and so it stays after a restart. */
    assert_int_equal(tl_flush(&back), NV_OK);
    assert_int_equal(back.stored, 13);
    log_n(&back, &ref, 1);
    assert_int_equal(tl_flush(&back), NV_OK);
    *live = back;
    boot();
    ri = restore(1, &back);
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_int_equal(gaps, 2); /* stored as placeholders */
    assert_int_equal(back.total, 14);
    assert_int_equal(ri.missing, 0);

    /* Appends that fail part way: retried from where they stopped, no duplicates. */
    *live = back;
    log_n(live, &ref, 5);
    ram.budget = 2 * 38; /* two records get through, then the power is gone */
    assert_int_equal(tl_flush(live), NV_EIO);
    assert_int_equal(live->stored, 16);
    ram.budget = -1;
    ram.dead = false;
    assert_int_equal(tl_flush(live), NV_OK);
    assert_int_equal(live->stored, 19);
    boot();
    restore(1, &back);
    /* This small ring keeps 16 records: 1..3 are gone from it (not from the log) and come
     * back as placeholders, numbered as the checkpoint's oldest says. */
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_int_equal(gaps, 5);
    assert_true(placeholder_at(&back, 2) && !placeholder_at(&back, 3));
    /* ... stamped as the first record after them (none is before). */
    assert_true(tl_at(&back, 0).t == tl_at(&back, 3).t);
}

/* More records waiting than the cache holds while the ring is full: the oldest of them
 * are gone, and the ring gets placeholders in their place when it has room again. */
static void test_tl_cache_overflow(void **state)
{
    (void)state;
    static uint8_t big[2 * 4096 + 3 * 5761 * 38];
    static tl_log_t back;
    ram_t *r = &ram; /* a ring that keeps more than the cache */
    r->mem = big;
    r->size = sizeof big;
    nv_layout_t l = NV_S4100_LAYOUT;
    nv_port_t p = ram_port();
    assert_int_equal(nv_open(&st, &p, &l), NV_OK);
    nv_tl_open(&nvtl, &st);
    tl_log_t *live = &a.tl[0];
    make(&a, 1);
    live_init(live, 0, 5);
    ref_init(5);
    log_n(live, &ref, 3);
    assert_int_equal(tl_flush(live), NV_OK);
    ram.rings_full = true;
    log_n(live, &ref, TL_CACHE_SIZE + 5); /* 4 .. 8 leave the cache unstored */
    assert_int_equal(live->stored, 3);
    uint32_t gaps;
    assert_true(same_but_gaps(&ref, live, &gaps));
    assert_int_equal(gaps, 5);
    assert_true(placeholder_at(live, 3) && !placeholder_at(live, 8));
    assert_true(tl_at(live, 5).t == tl_at(live, 2).t); /* stamped as the one before */
    ram.rings_full = false;
    assert_int_equal(tl_flush(live), NV_OK);
    assert_int_equal(live->stored, live->total);
    save(&a);
    assert_int_equal(nv_open(&st, &p, &l), NV_OK); /* power cycle */
    nv_tl_open(&nvtl, &st);
    nv_tl_restore_info_t ri = restore(0, &back);
    assert_int_equal(ri.missing, 0); /* the placeholders are records in the ring now */
    assert_true(same_log(live, &back));
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_int_equal(gaps, 5);
}

/* A damaged record in the middle: a placeholder in its place; the others keep their
 * numbers (they used to shift down by one and serve wrong sequence numbers). Damage after
 * the load is found when the record is read: a placeholder too, never data. */
static void test_tl_damaged_record(void **state)
{
    (void)state;
    static tl_log_t live, back;
    live_init(&live, 0, 5);
    ref_init(5);
    log_n(&live, &ref, 10);
    assert_int_equal(tl_flush(&live), NV_OK); /* ring seq = tl seq */
    medium[2 * 4096 + 5 * 38 + 20] ^= 0x40;  /* record 5's payload */
    boot();
    tl_init(&back, 5);
    nv_tl_restore_info_t ri;
    assert_int_equal(nv_tl_restore(&nvtl, 0, &back, NULL, &ri), NV_OK);
    uint32_t gaps;
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_int_equal(gaps, 1);
    assert_true(placeholder_at(&back, 4));
    assert_true(tl_at(&back, 4).t == tl_at(&back, 3).t);
    assert_int_equal(tl_seq_of(&back, 5), 6);
    assert_int_equal(ri.damaged, 1);
    assert_int_equal(ri.missing, 1);
    assert_int_equal(ri.records, 9);
    /* Read through the ring (as if they had left the cache), damaged after the load. */
    back.cached = 1;
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_false(placeholder_at(&back, 6));
    medium[2 * 4096 + 7 * 38 + 20] ^= 0x01; /* record 7 */
    uint32_t gone = nvtl.gone;
    assert_true(placeholder_at(&back, 6));
    assert_true(tl_at(&back, 6).t == tl_at(&back, 5).t);
    assert_true(nvtl.gone > gone);
    assert_true(same_but_gaps(&ref, &back, &gaps));
    assert_int_equal(gaps, 2);
    /* Intact on the medium but not a trend record (another kind): not served either. */
    live = back;
    tl_record_t odd = {.t = 1, .value = 1, .kind = 77};
    tl_append(&live, &odd);
    assert_int_equal(tl_flush(&live), NV_OK);
    log_n(&live, NULL, 1);
    assert_int_equal(tl_flush(&live), NV_OK);
    boot();
    assert_int_equal(nv_tl_restore(&nvtl, 0, &back, NULL, &ri), NV_OK);
    assert_int_equal(back.total, live.total);
    assert_true(placeholder_at(&back, back.count - 2));
    assert_int_equal(ri.damaged, 3);
}

/* A purge the checkpoint holds but the ring never got (its reset failed): the older
 * records do not come back. */
static void test_tl_purge_not_in_ring(void **state)
{
    (void)state;
    static tl_log_t back;
    make(&a, 1);
    tl_log_t *live = &a.tl[2];
    live_init(live, 2, 5);
    log_n(live, NULL, 8);
    save(&a);
    assert_int_equal(tl_flush(live), NV_OK);
    tl_purge(live, 777);
    ram.rings_full = true;
    assert_int_equal(tl_flush(live), NV_ENOSPC);
    save(&a);
    boot();
    tl_init(&back, 5);
    nv_tl_restore_info_t ri = restore(2, &back);
    assert_true(same_log(live, &back));
    assert_int_equal(back.count, 1);
    assert_int_equal(back.total, 9);
    assert_int_equal(ri.dropped, 8);
    assert_true(ri.from_checkpoint);
    /* Without the checkpoint's account the purge would be undone. */
    assert_int_equal(nv_tl_restore(&nvtl, 2, &back, NULL, NULL), NV_OK);
    assert_int_equal(back.count, 8);
}

/* A ring whose records jump (numbers that went on after gaps the ring never filled, as
 * an older writer left them): each run of numbers is read from where it is. */
static void test_tl_runs(void **state)
{
    (void)state;
    static tl_log_t back;
    uint32_t seqs[] = {1, 2, 3, 7, 8, 9, 10, 20, 21};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        tl_record_t r = {.t = (tl_time_t)seqs[i] * 100, .value = (float)seqs[i],
                         .kind = TL_REC_REAL};
        uint8_t rec[NV_TL_RECORD_SIZE];
        nv_tl_record_put(rec, seqs[i], &r);
        assert_int_equal(i ? nv_log_append(&st, 1, rec, sizeof rec)
                           : nv_log_reset(&st, 1, rec, sizeof rec), NV_OK);
    }
    tl_init(&back, 5);
    nv_tl_restore_info_t ri;
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, &ri), NV_OK);
    assert_int_equal(back.count, 21);
    assert_int_equal(ri.missing, 12);
    assert_int_equal(nvtl.map[1].runs, 3);
    back.cached = 0; /* every record through the ring */
    for (uint32_t k = 0; k < back.count; k++) {
        tl_record_t r = tl_at(&back, k);
        bool held = false;
        for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
            held = held || seqs[i] == k + 1;
        if (held)
            assert_true(r.kind == TL_REC_REAL && r.value == (float)(k + 1));
        else
            assert_true(placeholder(&r));
    }
    /* More runs than the map keeps: the oldest reads as gone, never as another's. */
    tl_record_t r = {.t = 9999, .value = 99, .kind = TL_REC_REAL};
    uint8_t rec[NV_TL_RECORD_SIZE];
    for (uint32_t s = 30; s < 30 + 3 * NV_TL_RUNS; s += 3) {
        nv_tl_record_put(rec, s, &r);
        assert_int_equal(nv_log_append(&st, 1, rec, sizeof rec), NV_OK);
    }
    assert_int_equal(nv_tl_restore(&nvtl, 1, &back, NULL, &ri), NV_OK);
    assert_int_equal(nvtl.map[1].runs, NV_TL_RUNS);
    back.cached = 0;
    tl_record_t first = tl_at(&back, 0);
    assert_int_equal(tl_seq_of(&back, 0), 1);
    assert_true(placeholder(&first));
}

static void test_tl_fill(void **state)
{
    (void)state;
    static tl_log_t l;
    tl_init(&l, 1);
    log_n(&l, NULL, 5);
    assert_int_equal(tl_fill(&l, 5, 0), 0);
    assert_int_equal(tl_fill(&l, 3, 0), 0); /* never back */
    assert_int_equal(tl_fill(&l, 10005, 99), 10000);
    assert_int_equal(l.count, TL_BUFFER_SIZE);
    assert_int_equal(l.total, 10005);
    assert_int_equal(tl_seq_of(&l, 0), 10005 - TL_BUFFER_SIZE + 1);
    assert_true(placeholder_at(&l, 0) && tl_at(&l, 0).t == 99);
    /* Across the wrap from 2^32-1 to 1 (0 is never a number). */
    tl_init(&l, 1);
    l.total = UINT32_MAX - 2;
    log_n(&l, NULL, 1);
    assert_int_equal(tl_fill(&l, 3, 0), 4);
    assert_int_equal(l.total, 3);
    assert_int_equal(l.count, 5);
    assert_int_equal(tl_seq_of(&l, 0), UINT32_MAX - 1);
    tl_init(&l, 1);
    l.total = UINT32_MAX - 2;
    assert_int_equal(tl_fill(&l, 6000, 0), 6002);
    assert_int_equal(l.total, 6000);
    assert_int_equal(tl_seq_of(&l, 0), 241);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_crc32, setup),
        cmocka_unit_test_setup(test_layout, setup),
        cmocka_unit_test_setup(test_empty, setup),
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_round_trip_extremes, setup),
        cmocka_unit_test_setup(test_partial_images, setup),
        cmocka_unit_test_setup(test_energy_fraction_codec, setup),
        cmocka_unit_test_setup(test_byte_layout, setup),
        cmocka_unit_test_setup(test_byte_layout_log, setup),
        cmocka_unit_test_setup(test_power_cut_first_save, setup),
        cmocka_unit_test_setup(test_power_cut_save, setup),
        cmocka_unit_test_setup(test_power_cut_after_torn_slot, setup),
        cmocka_unit_test_setup(test_failed_write_keeps_slot, setup),
        cmocka_unit_test_setup(test_bit_flips, setup),
        cmocka_unit_test_setup(test_both_bad, setup),
        cmocka_unit_test_setup(test_erased_slots, setup),
        cmocka_unit_test_setup(test_medium_full, setup),
        cmocka_unit_test_setup(test_versions, setup),
        cmocka_unit_test_setup(test_slot_seq_wrap, setup),
        cmocka_unit_test_setup(test_image_too_big, setup),
        cmocka_unit_test_setup(test_log_basic, setup),
        cmocka_unit_test_setup(test_log_args, setup),
        cmocka_unit_test_setup(test_log_wrap, setup),
        cmocka_unit_test_setup(test_log_stop, setup),
        cmocka_unit_test_setup(test_power_cut_log, setup),
        cmocka_unit_test_setup(test_log_torn_and_damaged, setup),
        cmocka_unit_test_setup(test_log_oldest_erased, setup),
        cmocka_unit_test_setup(test_log_reset, setup),
        cmocka_unit_test_setup(test_log_seq_exhausted, setup),
        cmocka_unit_test_setup(test_full_layout, setup),
        cmocka_unit_test_setup(test_tl_sync_restore, setup),
        cmocka_unit_test_setup(test_tl_state, setup),
        cmocka_unit_test_setup(test_tl_appends_fail, setup),
        cmocka_unit_test_setup(test_tl_cache_overflow, setup),
        cmocka_unit_test_setup(test_tl_damaged_record, setup),
        cmocka_unit_test_setup(test_tl_runs, setup),
        cmocka_unit_test_setup(test_tl_purge_not_in_ring, setup),
        cmocka_unit_test_setup(test_tl_fill, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
