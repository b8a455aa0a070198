/* The meter's NV as s4100 run uses it (src/app/persist.c), on a faulty medium
 * (tests/nv_fault.h): WriteProperty through the server is answered Error and changes
 * nothing when it cannot be made durable (I/O error, full medium); erased and damaged
 * checkpoints are refused, never a silent factory reset or rollback; trend-log sequence
 * numbers go on after records were lost; every failure is counted; and power cuts at
 * random instants (seeded) lose nothing acknowledged. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "meter.h"
#include "nv_fault.h"

/* persist.c applies command-line settings through settings.c; nothing here gives any. */
int app_settings_apply(const app_settings_t *st, mtr_config_t *cfg, const char *cmd)
{
    (void)st, (void)cfg, (void)cmd;
    return 0;
}

#define MEDIUM (2 * 4096 + 3 * 5761 * 38)
static uint8_t mem[MEDIUM], dur[MEDIUM], alloc_map[MEDIUM / NVF_BLOCK + 1];
static nvf_t fm;
static nv_port_t port;
static app_meter_t m;
static run_opts_t opts;
static sim_source_t *src;

static int hook(void *ctx, bac_error_t *err)
{
    return app_nv_commit_write(ctx, err); /* what run.c's durable() does */
}

/* A power-up of a new process on the medium as it is: 0, or -1 (refused). */
static int boot_meter(void)
{
    memset(&m, 0, sizeof m);
    m.nvf.fd = -1;
    m.opts = &opts;
    obj_identity_t id;
    obj_identity_default(&id, "4100000042");
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    cfg.subinterval_cs = 1000; /* a trend record every 10 s */
    obj_init(&m.mt.dev, &id, &cfg, NULL);
    app_settings_t none = {{0}, {0}};
    int rc = app_nv_attach(&m, &port, &none, -1);
    bac_server_init(&m.mt.srv, &m.mt.dev, NULL);
    m.mt.srv.on_write = hook;
    m.mt.srv.on_write_ctx = &m;
    return rc;
}

static int setup(void **state)
{
    (void)state;
    nvf_init(&fm, mem, dur, alloc_map, MEDIUM, 4100);
    port = nvf_port(&fm);
    memset(&opts, 0, sizeof opts);
    opts.nv_path = "test.nv";
    opts.quiet = true;
    sim_err_t err;
    assert_int_equal(sim_open_scenario(&src, S4100_SOURCE_DIR "/scenarios/balanced-50hz.ini", &err),
                     0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_close(src);
    return 0;
}

/* n meter seconds, each ending as in s4100 run: obj_cycle, then app_nv_sync. */
static void run_seconds(unsigned n)
{
    static mtr_frame_t x[256];
    sim_err_t err;
    while (n) {
        long got = sim_read(src, x, NULL, 256, &err);
        assert_true(got > 0);
        sim_afe(&m.mt.dev.mtr.cfg, x, (size_t)got);
        size_t off = 0;
        while (off < (size_t)got && n) {
            bool cycle = false;
            off += mtr_feed(&m.mt.dev.mtr, x + off, (size_t)got - off, &cycle);
            if (cycle) {
                obj_cycle(&m.mt.dev);
                app_nv_sync(&m, false);
                n--;
            }
        }
    }
}

/* ---- WriteProperty through the server ----------------------------------------------- */

enum { P_PV = 85, P_LOCATION = 58, P_RECORD_COUNT = 141, P_LOG_ENABLE = 133, P_LDOP = 132,
       P_LOG_INTERVAL = 134 };

static uint32_t oid(unsigned type, uint32_t inst)
{
    return (uint32_t)type << 22 | inst;
}

static uint8_t err_cls, err_code;

/* WriteProperty of an encoded value: 0 Simple-ACK, -1 Error (err_cls, err_code). */
static int wp(uint32_t o, uint8_t prop, const uint8_t *val, size_t vlen)
{
    uint8_t in[128], out[600];
    size_t n = 0;
    static uint8_t invoke;
    const uint8_t head[] = {0x01, 0x04, 0x00, 0x05, ++invoke, 0x0F, 0x0C, (uint8_t)(o >> 24),
                            (uint8_t)(o >> 16), (uint8_t)(o >> 8), (uint8_t)o, 0x19, prop, 0x3E};
    memcpy(in, head, sizeof head);
    n = sizeof head;
    memcpy(in + n, val, vlen);
    n += vlen;
    in[n++] = 0x3F;
    bool bc;
    size_t r = bac_server_handle(&m.mt.srv, 0, in, n, false, out, sizeof out, &bc);
    assert_true(r >= 5);
    if (out[2] == 0x20) {
        assert_int_equal(out[4], 15);
        return 0;
    }
    assert_int_equal(out[2], 0x50);
    assert_int_equal(out[5], 0x91);
    err_cls = out[6];
    err_code = out[8];
    return -1;
}

static int wp_real(unsigned av, float v)
{
    uint8_t b[5] = {0x44};
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        b[1 + i] = (uint8_t)(u >> (24 - 8 * i));
    return wp(oid(OBJ_AV, av), P_PV, b, 5);
}

static int wp_location(const char *text)
{
    uint8_t b[80] = {0x75, (uint8_t)(strlen(text) + 1), 0x00};
    memcpy(b + 3, text, strlen(text));
    return wp(oid(OBJ_DEVICE, m.mt.dev.id.instance), P_LOCATION, b, 3 + strlen(text));
}

static int wp_tl_unsigned(unsigned tl, uint8_t prop, uint16_t v)
{
    uint8_t b[3] = {0x22, (uint8_t)(v >> 8), (uint8_t)v};
    return wp(oid(OBJ_TL, tl), prop, b, 3);
}

static int wp_tl_enable(unsigned tl, bool on)
{
    uint8_t b[1] = {on ? 0x11 : 0x10};
    return wp(oid(OBJ_TL, tl), P_LOG_ENABLE, b, 1);
}

static int wp_tl_ai(unsigned tl, uint32_t ai)
{
    uint32_t o = oid(OBJ_AI, ai);
    uint8_t b[7] = {0x0C, (uint8_t)(o >> 24), (uint8_t)(o >> 16), (uint8_t)(o >> 8), (uint8_t)o,
                    0x19, P_PV};
    return wp(oid(OBJ_TL, tl), P_LDOP, b, 7);
}

static bool same_log(const tl_log_t *x, const tl_log_t *y)
{
    if (x->count != y->count || x->total != y->total)
        return false;
    for (uint32_t k = 0; k < x->count; k++) {
        tl_record_t p = tl_at(x, k), q = tl_at(y, k);
        if (tl_seq_of(x, k) != tl_seq_of(y, k) || p.t != q.t || p.value != q.value ||
            p.kind != q.kind || p.flags != q.flags)
            return false;
    }
    return true;
}

static bool placeholder(tl_record_t r)
{
    return r.kind == TL_REC_STATUS && r.value == (float)NV_TL_INTERRUPTED;
}

static char *status_json(void)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    app_nv_status_json(&m, f);
    fclose(f);
    return buf;
}

static const char *status_short(void)
{
    static char buf[256];
    app_nv_status_short(&m, buf, sizeof buf);
    return buf;
}

/* ---- the tests ------------------------------------------------------------------------ */

/* The case: NV writes fail, WriteProperty AV9 = 22 must not be acknowledged. */
static void test_write_refused_io(void **state)
{
    (void)state;
    assert_int_equal(boot_meter(), 0);
    assert_string_equal(status_short(), "");
    assert_int_equal(wp_real(9, 11), 0);
    fm.eio_write = true;
    assert_int_equal(wp_real(9, 22), -1);
    assert_int_equal(err_cls, BAC_ERRCLASS_DEVICE);
    assert_int_equal(err_code, BAC_ERR_OPERATIONAL_PROBLEM);
    assert_true(obj_av_value(&m.mt.dev, 9) == 11); /* nothing changed in memory either */
    run_seconds(2);
    assert_true(obj_av_value(&m.mt.dev, 9) == 11);
    assert_true(m.mt.dev.mtr.cfg.pl_imbalance_pct == 11);
    assert_int_equal(m.pst.stat.refused, 1);
    assert_non_null(strstr(status_short(), "I/O ERROR"));
    assert_non_null(strstr(status_json(), "\"writes_refused\":1"));
    assert_non_null(strstr(status_json(), "\"checkpoint\":{\"ok\":false"));
    /* Energy went on counting meanwhile. */
    assert_true(m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j > 0);
    /* A restart: still 11. */
    nvf_cut(&fm, 0);
    fm.eio_write = false;
    assert_int_equal(boot_meter(), 0);
    assert_true(obj_av_value(&m.mt.dev, 9) == 11);
    /* The medium back: acknowledged, and kept. */
    assert_int_equal(wp_real(9, 22), 0);
    nvf_cut(&fm, 0);
    assert_int_equal(boot_meter(), 0);
    assert_true(obj_av_value(&m.mt.dev, 9) == 22);
    /* A sync that fails is as bad as a write that fails. */
    char before[OBJ_LOCATION_MAX + 1];
    strcpy(before, m.mt.dev.id.location);
    fm.eio_sync = true;
    assert_int_equal(wp_location("somewhere"), -1);
    assert_string_equal(m.mt.dev.id.location, before);
    fm.eio_sync = false;
}

/* A full medium: Error resources / no-space-to-write-property. */
static void test_write_refused_full(void **state)
{
    (void)state;
    assert_int_equal(boot_meter(), 0);
    char before[OBJ_LOCATION_MAX + 1];
    strcpy(before, m.mt.dev.id.location);
    fm.full = true;
    assert_int_equal(wp_location("the roof"), -1);
    assert_int_equal(err_cls, BAC_ERRCLASS_RESOURCES);
    assert_int_equal(err_code, BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY);
    assert_string_equal(m.mt.dev.id.location, before);
    assert_int_equal(m.pst.stat.save_full, 1);
    assert_non_null(strstr(status_short(), "FULL"));
    assert_non_null(strstr(status_json(), "\"full\":1"));
    fm.full = false;
    assert_int_equal(wp_location("the roof"), 0);
    assert_string_equal(status_short(), "NV: 1 writes refused");
    nvf_cut(&fm, 0);
    assert_int_equal(boot_meter(), 0);
    assert_string_equal(m.mt.dev.id.location, "the roof");
}

/* Every kind of write that changes trend logs is undone when refused: a purge, a log
 * disabled (with its status record), a new logged object (a purge), a new Log_Interval
 * (a purge at the next cycle), Start_Time-like setup. */
static void test_write_refused_undo(void **state)
{
    (void)state;
    static tl_log_t saved[TL_COUNT];
    assert_int_equal(boot_meter(), 0);
    run_seconds(35);
    assert_true(m.mt.dev.tl[0].count >= 3);
    memcpy(saved, m.mt.dev.tl, sizeof saved);
    uint32_t cfg_interval = m.mt.dev.mtr.cfg.subinterval_cs;
    fm.eio_write = true;
    assert_int_equal(wp_tl_unsigned(1, P_RECORD_COUNT, 0), -1);
    assert_true(same_log(&m.mt.dev.tl[0], &saved[0]));
    assert_int_equal(wp_tl_enable(2, false), -1);
    assert_true(m.mt.dev.tl[1].enable);
    assert_true(same_log(&m.mt.dev.tl[1], &saved[1]));
    assert_int_equal(wp_tl_ai(3, 7), -1);
    assert_int_equal(m.mt.dev.tl[2].ai, saved[2].ai);
    assert_true(same_log(&m.mt.dev.tl[2], &saved[2]));
    assert_int_equal(wp_tl_unsigned(1, P_LOG_INTERVAL, 2000), -1);
    assert_int_equal(m.mt.dev.pending_avs, 0);
    assert_int_equal(m.pst.stat.refused, 4);
    fm.eio_write = false;
    run_seconds(1); /* no purge, no new interval at the cycle */
    assert_int_equal(m.mt.dev.mtr.cfg.subinterval_cs, cfg_interval);
    assert_true(same_log(&m.mt.dev.tl[1], &saved[1]));
    /* Accepted: the purge is durable and its number follows the old ones. */
    uint32_t total = m.mt.dev.tl[0].total;
    assert_int_equal(wp_tl_unsigned(1, P_RECORD_COUNT, 0), 0);
    assert_int_equal(m.mt.dev.tl[0].count, 1);
    nvf_cut(&fm, 0);
    assert_int_equal(boot_meter(), 0);
    assert_int_equal(m.mt.dev.tl[0].count, 1);
    assert_int_equal(m.mt.dev.tl[0].total, total + 1);
}

/* The silent resets, now refused, each with its verdict; the explicit way on. */
static void test_load_verdicts(void **state)
{
    (void)state;
    static uint8_t snap[MEDIUM];
    assert_int_equal(boot_meter(), 0);
    assert_int_equal(m.pst.load.verdict, NV_EMPTY);
    run_seconds(25);
    assert_int_equal(wp_location("site 7"), 0);
    run_seconds(5);
    app_nv_sync(&m, true);
    int newest = m.pst.nv.cur;
    int64_t kwh = m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j;
    nvf_cut(&fm, 0);
    memcpy(snap, dur, MEDIUM);
    assert_int_equal(boot_meter(), 0);
    assert_int_equal(m.pst.load.verdict, NV_OK);
    assert_string_equal(m.mt.dev.id.location, "site 7");

    /* Both checkpoint slots zeroed (file offsets 4096..12287). */
    memcpy(mem, snap, MEDIUM), memcpy(dur, snap, MEDIUM);
    memset(mem, 0, 8192), memset(dur, 0, 8192);
    assert_int_equal(boot_meter(), -1);
    assert_int_equal(m.pst.load.verdict, NV_ELOST);
    assert_memory_equal(mem + 8192, snap + 8192, MEDIUM - 8192); /* nothing written */
    /* One zeroed, a bit flipped in the other. */
    memcpy(mem, snap, MEDIUM), memcpy(dur, snap, MEDIUM);
    memset(mem + 4096, 0, 4096);
    mem[300] ^= 0x20;
    memcpy(dur, mem, MEDIUM);
    assert_int_equal(boot_meter(), -1);
    assert_int_equal(m.pst.load.verdict, NV_ECORRUPT);
    /* The newest slot erased to 0xFF: no silent rollback to the older one. */
    memcpy(mem, snap, MEDIUM);
    memset(mem + newest * 4096, 0xFF, 4096);
    memcpy(dur, mem, MEDIUM);
    assert_int_equal(boot_meter(), -1);
    assert_int_equal(m.pst.load.verdict, NV_EOLDER);
    /* --nv-accept-older: on from the older state, and it says so. */
    opts.nv_accept_older = true;
    assert_int_equal(boot_meter(), 0);
    opts.nv_accept_older = false;
    assert_true(m.pst.load.info.older);
    assert_true(m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j <= kwh);
    assert_non_null(strstr(status_short(), "OLDER"));
    assert_non_null(strstr(status_json(), "\"verdict\":\"older-accepted\""));
    /* The older slot torn (a save cut short): the newest loads, no refusal. */
    memcpy(mem, snap, MEDIUM);
    mem[(1 - newest) * 4096 + 200] ^= 1;
    memcpy(dur, mem, MEDIUM);
    assert_int_equal(boot_meter(), 0);
    assert_false(m.pst.load.info.older);
    assert_string_equal(status_short(), "");
}

/* Ring appends fail (the rings' blocks cannot be allocated: a sparse file on a full
 * disk) while checkpoints go on: records wait, the status says so, and after a power cut
 * Total_Record_Count goes on from the checkpoint's count: no number is given twice. */
static void test_sequence_numbers_continue(void **state)
{
    (void)state;
    assert_int_equal(boot_meter(), 0);
    fm.space = 0; /* the rings' first blocks hold the markers and the first records */
    run_seconds(400);
    assert_true(m.pst.stat.append_failed[0] > 0);
    assert_true(m.pst.stat.log_failing[0]);
    assert_non_null(strstr(status_short(), "TL1 not stored"));
    assert_non_null(strstr(status_json(), "\"ok\":false,\"stored\":"));
    uint32_t total = m.mt.dev.tl[0].total, stored = m.mt.dev.tl[0].stored;
    assert_true(total > stored + 10);
    assert_int_equal(wp_location("still acknowledged"), 0); /* checkpoints still work */
    nvf_cut(&fm, 0);
    assert_int_equal(boot_meter(), 0);
    assert_int_equal(m.mt.dev.tl[0].total, total); /* it used to go back to `stored` */
    assert_true(m.pst.load.tl[0].missing >= total - stored - 1);
    assert_true(m.pst.load.tl[0].from_checkpoint);
    assert_true(placeholder(tl_at(&m.mt.dev.tl[0], m.mt.dev.tl[0].count - 2)));
    assert_false(placeholder(tl_at(&m.mt.dev.tl[0], m.mt.dev.tl[0].count - 1)));
    assert_non_null(strstr(status_short(), "lost or damaged at load"));
    run_seconds(10);
    assert_int_equal(m.mt.dev.tl[0].total, total + 1);
    /* Room again: the ring catches up, the next load finds nothing missing. */
    fm.space = -1;
    run_seconds(1);
    assert_false(m.pst.stat.log_failing[0]);
    assert_int_equal(m.mt.dev.tl[0].stored, m.mt.dev.tl[0].total);
    nvf_cut(&fm, 0);
    assert_int_equal(boot_meter(), 0);
    assert_int_equal(m.mt.dev.tl[0].total, total + 1);
    assert_int_equal(m.pst.load.tl[0].missing, 0);
}

/* A damaged trend record in the middle of a ring: reported, and served as a
 * log-interrupted entry with its own number, never as data. */
static void test_damaged_record(void **state)
{
    (void)state;
    static tl_log_t saved;
    assert_int_equal(boot_meter(), 0);
    run_seconds(100);
    saved = m.mt.dev.tl[1];
    nvf_cut(&fm, 0);
    /* Ring 1, the record of ring sequence 5 (the marker is 1): log sequence 4. */
    uint32_t ring1 = 2 * 4096 + 5761 * 38;
    mem[ring1 + 5 * 38 + 22] ^= 0x04;
    memcpy(dur, mem, MEDIUM);
    assert_int_equal(boot_meter(), 0);
    assert_int_equal(m.pst.load.tl[1].damaged, 1);
    assert_int_equal(m.pst.load.tl[1].missing, 1);
    const tl_log_t *l = &m.mt.dev.tl[1];
    assert_int_equal(l->total, saved.total);
    assert_int_equal(l->count, saved.count);
    assert_true(placeholder(tl_at(l, 3)));
    assert_int_equal(tl_seq_of(l, 3), 4);
    assert_true(tl_at(l, 4).value == tl_at(&saved, 4).value);
    assert_non_null(strstr(status_json(), "\"damaged\":1"));
}

/* ---- power cuts at random instants ------------------------------------------------------ */

typedef struct {
    char location[OBJ_LOCATION_MAX + 1];
    float av9;
    bool enable[TL_COUNT];
} acked_t;

/* What a log held of the records its ring had: read before the power goes (the log
 * itself keeps only its newest records). */
typedef struct {
    uint32_t n, seq[TL_BUFFER_SIZE];
    tl_record_t r[TL_BUFFER_SIZE];
} held_t;

static void hold(const tl_log_t *l, held_t *h)
{
    tl_reader_t rd;
    tl_reader_init(&rd, l);
    h->n = 0;
    for (uint32_t i = 0; i < l->count; i++) {
        uint32_t s = tl_seq_of(l, i);
        if (s > l->stored)
            continue;
        h->seq[h->n] = s;
        tl_read(&rd, i, &h->r[h->n++]);
    }
}

static void power_cut_cycles(unsigned cycles, uint32_t seed)
{
    static held_t seen[TL_COUNT];
    acked_t acked;
    char maybe_loc[8][OBJ_LOCATION_MAX + 1]; /* refused after the last ack (torn mode) */
    unsigned n_maybe = 0;
    uint32_t ups = 0, stored[TL_COUNT] = {0}, ck_total[TL_COUNT] = {0};
    int64_t kwh_floor = 0, kwh_seen = 0;
    unsigned n_acked = 0, n_refused = 0, lost_writes = 0, lost_records = 0, back_numbers = 0,
             energy_back = 0, dropped_bytes = 0;
    fm.rng = seed;
    assert_int_equal(boot_meter(), 0);
    strcpy(acked.location, m.mt.dev.id.location);
    acked.av9 = (float)obj_av_value(&m.mt.dev, 9);
    for (int k = 0; k < TL_COUNT; k++)
        acked.enable[k] = m.mt.dev.tl[k].enable;
    ups = m.mt.dev.mtr.nv.power_ups;
    for (unsigned c = 0; c < cycles; c++) {
        double keep = c % 2 ? 0.5 : 0.0; /* every other cut tears what was in flight */
        fm.ops_left = (long)(nvf_rand(&fm) % 120);
        for (unsigned op = 0; op < 40 && !(fm.dead && op > 30); op++) {
            uint32_t r = nvf_rand(&fm);
            char text[40];
            int rc;
            switch (r % 8) {
            case 0:
            case 1:
            case 2: run_seconds(1 + r / 8 % 12); break;
            case 3:
                snprintf(text, sizeof text, "cut %u op %u", c, op);
                rc = wp_location(text);
                if (rc == 0) {
                    strcpy(acked.location, text);
                    n_maybe = 0;
                    n_acked++;
                } else {
                    assert_string_equal(m.mt.dev.id.location, acked.location);
                    if (n_maybe < 8)
                        strcpy(maybe_loc[n_maybe++], text);
                    n_refused++;
                }
                break;
            case 4: {
                float v = (float)(5 + r / 8 % 90);
                rc = wp_real(9, v);
                if (rc == 0)
                    acked.av9 = v, n_acked++;
                else
                    assert_true(obj_av_value(&m.mt.dev, 9) == acked.av9), n_refused++;
                break;
            }
            case 5: {
                unsigned k = r / 8 % TL_COUNT;
                bool on = !m.mt.dev.tl[k].enable;
                rc = wp_tl_enable(k + 1, on);
                if (rc == 0)
                    acked.enable[k] = on, n_acked++;
                else
                    assert_true(m.mt.dev.tl[k].enable == acked.enable[k]), n_refused++;
                break;
            }
            case 6: {
                unsigned k = r / 8 % TL_COUNT;
                static tl_log_t before;
                before = m.mt.dev.tl[k];
                rc = wp_tl_unsigned(k + 1, P_RECORD_COUNT, 0);
                if (rc == 0)
                    n_acked++;
                else
                    assert_true(same_log(&m.mt.dev.tl[k], &before)), n_refused++;
                break;
            }
            case 7: {
                uint32_t saves = m.pst.stat.saves;
                app_nv_sync(&m, true);
                if (m.pst.stat.saves != saves)
                    kwh_floor = m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j;
                break;
            }
            }
            kwh_seen = m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j;
            if (!m.pst.stat.failing) /* the newest checkpoint holds this much */
                for (int k = 0; k < TL_COUNT; k++)
                    ck_total[k] = m.pst.durable.tls[k].total;
        }
        for (int k = 0; k < TL_COUNT; k++) {
            hold(&m.mt.dev.tl[k], &seen[k]);
            stored[k] = m.mt.dev.tl[k].stored;
        }
        dropped_bytes += nvf_cut(&fm, keep);
        assert_int_equal(boot_meter(), 0);
        /* Nothing acknowledged is lost. */
        bool loc_ok = !strcmp(m.mt.dev.id.location, acked.location);
        for (unsigned i = 0; keep > 0 && i < n_maybe; i++)
            loc_ok = loc_ok || !strcmp(m.mt.dev.id.location, maybe_loc[i]);
        if (!loc_ok || (obj_av_value(&m.mt.dev, 9) != acked.av9 && keep == 0))
            lost_writes++;
        for (int k = 0; k < TL_COUNT; k++)
            if (keep == 0 && m.mt.dev.tl[k].enable != acked.enable[k])
                lost_writes++;
        /* Energy: never behind the last checkpoint known to be saved, never ahead. */
        int64_t kwh = m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j;
        if (kwh < kwh_floor || kwh > kwh_seen)
            energy_back++;
        if (m.mt.dev.mtr.nv.power_ups != ups + 1)
            energy_back++;
        ups = m.mt.dev.mtr.nv.power_ups;
        /* Trend logs: numbers never go back past anything stored, and every record the
         * ring had is back as it was. */
        for (int k = 0; k < TL_COUNT; k++) {
            const tl_log_t *l = &m.mt.dev.tl[k];
            uint32_t floor = stored[k] > ck_total[k] ? stored[k] : ck_total[k];
            if (l->total < floor)
                back_numbers++;
            for (uint32_t i = 0; i < seen[k].n; i++) {
                uint32_t s = seen[k].seq[i];
                if (s > stored[k] || l->count == 0 || s < tl_seq_of(l, 0) || s > l->total)
                    continue;
                const tl_record_t *p = &seen[k].r[i];
                tl_record_t q = tl_at(l, s - tl_seq_of(l, 0));
                if (p->t != q.t || p->value != q.value || p->kind != q.kind)
                    lost_records++;
            }
        }
        kwh_floor = kwh_seen = m.mt.dev.mtr.nv.e[MTR_E_KWH_IMP].j;
        n_maybe = 0;
    }
    printf("power cut: %u cycles (seed %u, half of them tearing the writes in flight): %u writes "
           "acknowledged, %u refused (not durable), %u bytes in flight dropped; lost: %u "
           "acknowledged writes, %u stored trend records, %u times a sequence number went back, "
           "%u times energy or the power-up count went wrong\n",
           cycles, seed, n_acked, n_refused, dropped_bytes, lost_writes, lost_records,
           back_numbers, energy_back);
    assert_true(n_acked > cycles && n_refused > 0);
    assert_int_equal(lost_writes, 0);
    assert_int_equal(lost_records, 0);
    assert_int_equal(back_numbers, 0);
    assert_int_equal(energy_back, 0);
}

static void test_power_cuts(void **state)
{
    (void)state;
    const char *env = getenv("NV_CUTS");
    unsigned cycles = env ? (unsigned)atoi(env) : 1000;
    power_cut_cycles(cycles, 41001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_refused_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refused_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refused_undo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_numbers_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cuts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
