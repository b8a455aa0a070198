/* The NV policy of the core (src/core/persist) alone: a meter_t and a pst_t over a RAM
 * medium (tests/nv_fault.h), driven as an MCU main loop would drive them (meter_tick on
 * a millisecond clock, meter_feed, the meter's NV hooks from pst_meter_nv). A load after
 * a power cut gives back what was saved; a WriteProperty that cannot be made durable is
 * answered Error and undone; trend records survive a power cycle with their numbers; an
 * erased or damaged store is refused, not reset; the checkpoint clock (and its wrap) and
 * the failure events behave. Only core headers and test helpers: no host code, so it can
 * run on the target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "meter/meter.h"
#include "nv_fault.h"
#include "persist/persist.h"
#include "wave.h"

/* A small layout (a ring of 128 records per log: 22.9 KB), so a target's RAM holds it. */
static const nv_layout_t layout = {.slot_size = 4096, .logs = TL_COUNT, .log_capacity = 128,
                                   .log_payload = NV_TL_RECORD_SIZE};
#define MEDIUM (2 * 4096 + TL_COUNT * 129 * 38)

static uint8_t mem[MEDIUM], dur[MEDIUM], alloc_map[MEDIUM / NVF_BLOCK + 1];
static nvf_t fm;
static nv_port_t port;
static meter_t m;
static pst_t p;
static wave_t w;
static uint32_t clock_ms;

/* Events as a host would see them. */
static struct {
    unsigned save_failed, save_first, save_back, log_failed, log_first, log_back;
} ev;

static void on_event(void *ctx, const pst_event_t *e)
{
    (void)ctx;
    switch (e->kind) {
    case PST_EV_SAVE_FAILED: ev.save_failed++, ev.save_first += e->first; break;
    case PST_EV_SAVE_BACK: ev.save_back++; break;
    case PST_EV_LOG_FAILED: ev.log_failed++, ev.log_first += e->first; break;
    case PST_EV_LOG_BACK: ev.log_back++; break;
    }
}

/* A power-up on the medium as it is: the factory meter, then what NV holds. */
static pst_open_t boot_flags(unsigned flags)
{
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "4100000077");
    mtr_config_default(&cfg);
    cfg.ct_primary = 100;
    cfg.subinterval_cs = 1000; /* a trend record every 10 s */
    meter_init(&m, &id, &cfg, NULL);
    meter_tick(&m, clock_ms);
    memset(&ev, 0, sizeof ev);
    pst_opts_t o = {.flags = flags, .notify = {NULL, on_event}};
    pst_open_t rc = pst_open(&p, &m, &port, &layout, &o);
    if (rc < 0)
        return rc;
    assert_int_equal(pst_start(&p, clock_ms), NV_OK);
    meter_nv_t nv = pst_meter_nv(&p);
    meter_set_nv(&m, &nv);
    return rc;
}

static pst_open_t boot(void)
{
    return boot_flags(0);
}

static int setup(void **state)
{
    (void)state;
    nvf_init(&fm, mem, dur, alloc_map, MEDIUM, 4101);
    port = nvf_port(&fm);
    wave_balanced(&w, 60.0, 277.0, 40.0, 0.0);
    clock_ms = 0xFFFFF000u; /* the clock wraps during every test */
    return 0;
}

/* n meter seconds: the clock ticks, a second of samples goes in (its cycle syncs NV). */
static void run_seconds(unsigned n)
{
    static mtr_frame_t x[MTR_FS / 4];
    for (unsigned s = 0; s < n; s++) {
        clock_ms += 1000;
        meter_tick(&m, clock_ms);
        for (unsigned q = 0; q < 4; q++) {
            wave_fill(&w, &m.dev.mtr.cfg, x, MTR_FS / 4);
            assert_int_equal(meter_feed(&m, x, NULL, MTR_FS / 4, 0, NULL), MTR_FS / 4);
        }
    }
}

/* ---- WriteProperty through the meter's server ------------------------------------------ */

enum { P_PV = 85, P_LOCATION = 58, P_RECORD_COUNT = 141 };

static uint32_t oid(unsigned type, uint32_t inst)
{
    return (uint32_t)type << 22 | inst;
}

static uint8_t err_cls, err_code;

/* 0 Simple-ACK, -1 Error (err_cls, err_code). */
static int wp(uint32_t o, uint8_t prop, const uint8_t *val, size_t vlen)
{
    static uint8_t invoke;
    uint8_t in[128], out[600];
    const uint8_t head[] = {0x01, 0x04, 0x00, 0x05, ++invoke, 0x0F, 0x0C, (uint8_t)(o >> 24),
                            (uint8_t)(o >> 16), (uint8_t)(o >> 8), (uint8_t)o, 0x19, prop, 0x3E};
    size_t n = sizeof head;
    memcpy(in, head, n);
    memcpy(in + n, val, vlen);
    n += vlen;
    in[n++] = 0x3F;
    bool bc;
    size_t r = bac_server_handle(&m.srv, m.now_ms, in, n, false, out, sizeof out, &bc);
    assert_true(r >= 5);
    if (out[2] == 0x20)
        return 0;
    assert_int_equal(out[2], 0x50);
    err_cls = out[6];
    err_code = out[8];
    return -1;
}

static int wp_location(const char *text)
{
    uint8_t b[80] = {0x75, (uint8_t)(strlen(text) + 1), 0x00};
    memcpy(b + 3, text, strlen(text));
    return wp(oid(OBJ_DEVICE, m.dev.id.instance), P_LOCATION, b, 3 + strlen(text));
}

static int wp_av(unsigned av, float v)
{
    uint8_t b[5] = {0x44};
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        b[1 + i] = (uint8_t)(u >> (24 - 8 * i));
    return wp(oid(OBJ_AV, av), P_PV, b, 5);
}

static int wp_purge(unsigned tl)
{
    const uint8_t b[2] = {0x21, 0x00};
    return wp(oid(OBJ_TL, tl), P_RECORD_COUNT, b, 2);
}

static bool same_log(const tl_log_t *x, const tl_log_t *y)
{
    if (x->count != y->count || x->total != y->total)
        return false;
    for (uint32_t k = 0; k < x->count; k++) {
        tl_record_t a = tl_at(x, k), b = tl_at(y, k);
        if (tl_seq_of(x, k) != tl_seq_of(y, k) || a.t != b.t || a.value != b.value ||
            a.kind != b.kind || a.flags != b.flags)
            return false;
    }
    return true;
}

/* ---- the tests ------------------------------------------------------------------------- */

/* A new store, then everything back after a power cycle (pst_close: the power-off save). */
static void test_save_load(void **state)
{
    (void)state;
    static mtr_nv_t e;
    static tl_log_t logs[TL_COUNT];
    assert_int_equal(boot(), PST_NEW);
    assert_int_equal(p.load.verdict, NV_EMPTY);
    assert_int_equal(m.dev.mtr.nv.power_ups, 1);
    run_seconds(25);
    assert_int_equal(wp_location("plant room"), 0);
    run_seconds(10);
    pst_close(&p, clock_ms);
    assert_false(p.stat.failing);
    assert_true(m.dev.mtr.nv.e[MTR_E_KWH_IMP].j > 0);
    e = m.dev.mtr.nv;
    memcpy(logs, m.dev.tl, sizeof logs);
    nvf_cut(&fm, 0);
    assert_int_equal(boot(), PST_LOADED);
    assert_int_equal(p.load.verdict, NV_OK);
    assert_string_equal(m.dev.id.location, "plant room");
    assert_true(m.dev.mtr.nv.e[MTR_E_KWH_IMP].j == e.e[MTR_E_KWH_IMP].j);
    assert_int_equal(m.dev.mtr.nv.power_ups, e.power_ups + 1);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        assert_true(same_log(&m.dev.tl[k], &logs[k]));
        assert_int_equal(pst_waiting(&p, k), 0);
    }
    /* The s4100's own layout is what the host's file holds. */
    nv_layout_t s4100 = pst_layout_s4100();
    assert_int_equal(nv_medium_size(&s4100), 2 * 4096 + TL_COUNT * (TL_BUFFER_SIZE + 1) * 38);
}

/* A write the medium cannot take is answered Error and undone; the next one goes in. */
static void test_refused_write_undone(void **state)
{
    (void)state;
    static tl_log_t before;
    assert_int_equal(boot(), PST_NEW);
    run_seconds(35);
    assert_int_equal(wp_location("first"), 0);
    assert_int_equal(wp_av(9, 11), 0);
    run_seconds(1); /* AV9 in effect */
    fm.eio_write = true;
    assert_int_equal(wp_location("second"), -1);
    assert_int_equal(err_cls, BAC_ERRCLASS_DEVICE);
    assert_int_equal(err_code, BAC_ERR_OPERATIONAL_PROBLEM);
    assert_string_equal(m.dev.id.location, "first");
    assert_int_equal(wp_av(9, 22), -1);
    assert_int_equal(m.dev.pending_avs, 0);
    run_seconds(10); /* a record that its ring cannot take: it waits in the cache */
    assert_true(pst_waiting(&p, 0) >= 1);
    before = m.dev.tl[0];
    assert_true(before.count >= 3);
    assert_int_equal(wp_purge(1), -1);
    assert_true(same_log(&m.dev.tl[0], &before));
    assert_int_equal(p.stat.refused, 3);
    assert_true(p.stat.failing);
    assert_int_equal(ev.save_first, 1); /* said once, however often it fails */
    run_seconds(2);
    assert_true(obj_av_value(&m.dev, 9) == 11);
    fm.eio_write = false;
    fm.full = true;
    assert_int_equal(wp_location("third"), -1);
    assert_int_equal(err_cls, BAC_ERRCLASS_RESOURCES);
    assert_int_equal(err_code, BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY);
    assert_int_equal(p.stat.save_full, 1);
    fm.full = false;
    assert_int_equal(wp_location("fourth"), 0);
    assert_false(p.stat.failing);
    assert_int_equal(ev.save_back, 1);
    nvf_cut(&fm, 0);
    assert_int_equal(boot(), PST_LOADED);
    assert_string_equal(m.dev.id.location, "fourth");
    assert_true(obj_av_value(&m.dev, 9) == 11);
}

/* Trend records go to the rings as they are logged and come back after a power cut
 * (no close: only what the hooks made durable), their numbers going on. */
static void test_records_power_cycle(void **state)
{
    (void)state;
    static tl_log_t logs[TL_COUNT];
    assert_int_equal(boot(), PST_NEW);
    run_seconds(100);
    assert_true(m.dev.tl[0].total >= 9);
    for (unsigned k = 0; k < TL_COUNT; k++)
        assert_int_equal(pst_waiting(&p, k), 0);
    memcpy(logs, m.dev.tl, sizeof logs);
    nvf_cut(&fm, 0);
    assert_int_equal(boot(), PST_LOADED);
    for (unsigned k = 0; k < TL_COUNT; k++) {
        assert_true(same_log(&m.dev.tl[k], &logs[k]));
        assert_int_equal(p.load.tl_rc[k], NV_OK);
        assert_int_equal(p.load.tl[k].damaged + p.load.tl[k].missing, 0);
        assert_int_equal(p.load.tl_total[k], logs[k].total);
    }
    /* A ring that cannot take records: they wait, said once; then it catches up. */
    fm.space = 0; /* the rings' first blocks (512 bytes: 13 records) still take writes */
    run_seconds(100);
    assert_true(p.stat.log_failing[0]);
    assert_true(pst_waiting(&p, 0) >= 2);
    assert_true(ev.log_first >= 1 && ev.log_failed >= ev.log_first);
    fm.space = -1;
    run_seconds(1);
    assert_false(p.stat.log_failing[0]);
    assert_int_equal(pst_waiting(&p, 0), 0);
    assert_int_equal(ev.log_back, ev.log_first); /* each said once failing, once back */
    uint32_t total = m.dev.tl[0].total;
    nvf_cut(&fm, 0);
    assert_int_equal(boot(), PST_LOADED);
    assert_int_equal(m.dev.tl[0].total, total);
    run_seconds(10);
    assert_int_equal(m.dev.tl[0].total, total + 1);
}

/* Control power off and on: the same meter and pst_t, pst_reload. */
static void test_reload(void **state)
{
    (void)state;
    assert_int_equal(boot(), PST_NEW);
    run_seconds(20);
    assert_int_equal(wp_location("kept"), 0);
    meter_power_off(&m); /* the hook saves everything */
    uint32_t ups = m.dev.mtr.nv.power_ups;
    nvf_cut(&fm, 0);
    strcpy(m.dev.id.location, "lost with RAM");
    assert_int_equal(pst_reload(&p, clock_ms), PST_LOADED);
    meter_power_on(&m);
    assert_string_equal(m.dev.id.location, "kept");
    assert_int_equal(m.dev.mtr.nv.power_ups, ups + 1);
}

/* Erased or damaged checkpoints are refused with their verdict, and nothing is changed
 * or written; the explicit way on from an older slot says so. */
static void test_refusals(void **state)
{
    (void)state;
    static uint8_t orig[MEDIUM], img[MEDIUM];
    obj_identity_t factory;
    obj_identity_default(&factory, "4100000077");
    assert_int_equal(boot(), PST_NEW);
    run_seconds(25);
    assert_int_equal(wp_location("site 9"), 0);
    pst_close(&p, clock_ms);
    int newest = p.nv.cur, older = 1 - newest;
    nvf_cut(&fm, 0);
    memcpy(orig, dur, MEDIUM);
    const struct {
        uint32_t off, n;
        int fill, flip; /* flip: a byte of the newest slot damaged too */
        int verdict;
    } cases[] = {
        {0, 8192, 0x00, 0, NV_ELOST},                            /* both slots zeroed */
        {(uint32_t)newest * 4096, 4096, 0xFF, 0, NV_EOLDER},     /* the newest erased */
        {(uint32_t)older * 4096, 4096, 0x00, 1, NV_ECORRUPT},    /* one zeroed, one damaged */
    };
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(img, orig, MEDIUM);
        memset(img + cases[c].off, cases[c].fill, cases[c].n);
        if (cases[c].flip)
            img[newest * 4096 + 300] ^= 0x20;
        memcpy(mem, img, MEDIUM), memcpy(dur, img, MEDIUM);
        assert_int_equal(boot(), PST_REFUSED);
        assert_int_equal(p.load.verdict, cases[c].verdict);
        assert_string_equal(m.dev.id.location, factory.location); /* untouched */
        assert_int_equal(m.dev.mtr.nv.power_ups, 0);
        assert_memory_equal(mem, img, MEDIUM); /* nothing written */
        assert_memory_equal(dur, img, MEDIUM);
    }
    /* The explicit way on from the survivor of an erased slot, saying so. */
    memcpy(mem, orig, MEDIUM);
    memset(mem + newest * 4096, 0xFF, 4096);
    memcpy(dur, mem, MEDIUM);
    assert_int_equal(boot_flags(PST_ACCEPT_OLDER), PST_LOADED);
    assert_true(p.load.info.older);
    assert_string_equal(m.dev.id.location, "site 9");
    /* A medium smaller than the layout. */
    nv_port_t small = port;
    small.size = MEDIUM - 1;
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    meter_init(&m, &factory, &cfg, NULL);
    assert_int_equal(pst_open(&p, &m, &small, &layout, NULL), PST_NOFIT);
}

/* The checkpoint clock: once checkpoint_ms, across the clock's wrap; a failing one is
 * retried once a period (its retry time past the wrap too), never at each call. */
static void test_checkpoint_clock(void **state)
{
    (void)state;
    clock_ms = 0xFFFFFE00u; /* 512 ms before the wrap */
    assert_int_equal(boot(), PST_NEW);
    uint32_t t = clock_ms, saves = p.stat.saves;
    pst_sync(&p, false, t + 999);
    assert_int_equal(p.stat.saves, saves);
    pst_sync(&p, false, t + 1000); /* past the wrap */
    assert_int_equal(p.stat.saves, saves + 1);

    clock_ms = t = 0xFFFFF95Cu; /* a power cycle; 1700 ms before the wrap */
    assert_int_equal(boot(), PST_LOADED);
    fm.eio_write = true;
    pst_sync(&p, false, t + 1000); /* fails; its retry is due past the wrap */
    assert_int_equal(p.stat.save_failed, 1);
    pst_sync(&p, false, t + 1500);
    pst_sync(&p, false, t + 1999);
    assert_int_equal(p.stat.save_failed, 1);
    pst_sync(&p, false, t + 2000);
    assert_int_equal(p.stat.save_failed, 2);
    assert_int_equal(ev.save_failed, 2);
    assert_int_equal(ev.save_first, 1);
    pst_sync(&p, true, t + 2001); /* force: at once */
    assert_int_equal(p.stat.save_failed, 3);
    fm.eio_write = false;
    pst_sync(&p, false, t + 3000);
    assert_true(p.stat.failing);
    pst_sync(&p, false, t + 3001);
    assert_false(p.stat.failing);
    assert_int_equal(ev.save_back, 1);
    assert_int_equal(p.stat.errors, 3);
    assert_int_equal(p.stat.last_rc, NV_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_save_load, setup),
        cmocka_unit_test_setup(test_refused_write_undone, setup),
        cmocka_unit_test_setup(test_records_power_cycle, setup),
        cmocka_unit_test_setup(test_reload, setup),
        cmocka_unit_test_setup(test_refusals, setup),
        cmocka_unit_test_setup(test_checkpoint_clock, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
