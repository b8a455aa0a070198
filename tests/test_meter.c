/*
 * The meter as a unit (src/core/meter): several meters side by side in one process,
 * each fed its own waveform in its own chunking, prove that nothing leaks between them —
 * readings, energy, settings, power, the panel, the link — and that a meter fed in
 * pieces ends exactly where a meter fed at once does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meter/meter.h"
#include "wave.h"

#define N 4

typedef struct {
    unsigned sent;
    uint8_t last[64];
    size_t last_len;
    bool last_bcast;
} link_log_t;

static meter_t *meters[N], *solo;
static wave_t waves[N], solo_wave;
static link_log_t links[N];

static int link_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    link_log_t *l = ctx;
    l->sent++;
    l->last_len = len < sizeof l->last ? len : sizeof l->last;
    memcpy(l->last, npdu, l->last_len);
    l->last_bcast = !dst || dst->len == 0;
    return 0;
}

/* Meter k: its own serial, voltage, current, load angle and frequency. */
static const struct {
    const char *serial;
    double f, v, i, phi;
} spec[N] = {
    {"4100000101", 60.0, 277.0, 40.0, 0.0},
    {"4100000102", 50.0, 230.0, 10.0, 30.0},
    {"4100000103", 60.0, 120.0, 5.0, -25.0},
    {"4100000104", 60.0, 277.0, 80.0, 180.0}, /* exporting */
};

static void start(meter_t *m, wave_t *w, int k)
{
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, spec[k].serial);
    mtr_config_default(&cfg);
    cfg.ct_primary = 100;
    meter_init(m, &id, &cfg, NULL);
    wave_balanced(w, spec[k].f, spec[k].v, spec[k].i, spec[k].phi);
}

static int setup(void **state)
{
    (void)state;
    for (int k = 0; k < N; k++) {
        meters[k] = calloc(1, sizeof *meters[k]);
        start(meters[k], &waves[k], k);
        links[k] = (link_log_t){0};
        meter_set_link(meters[k], &(net_link_t){.ctx = &links[k], .send = link_send, .max_npdu = 480});
    }
    solo = calloc(1, sizeof *solo);
    start(solo, &solo_wave, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < N; k++)
        free(meters[k]);
    free(solo);
    return 0;
}

/* Feed every meter `seconds` of its own waveform, interleaved, each in its own chunk
 * sizes (a different prime per meter), so any state shared by accident would show. */
static void run_all(unsigned seconds)
{
    static mtr_frame_t buf[MTR_FS];
    static const size_t chunk[N] = {97, 251, 1009, 2520};
    size_t left[N];
    for (int k = 0; k < N; k++)
        left[k] = (size_t)seconds * MTR_FS;
    for (bool any = true; any;) {
        any = false;
        for (int k = 0; k < N; k++) {
            size_t n = left[k] < chunk[k] ? left[k] : chunk[k];
            if (!n)
                continue;
            any = true;
            wave_fill(&waves[k], &meters[k]->dev.mtr.cfg, buf, n);
            size_t used = meter_feed(meters[k], buf, NULL, n, 0, NULL);
            assert_int_equal(used, n);
            left[k] -= n;
        }
    }
}

static double kw(const meter_t *m)
{
    return (double)m->dev.mtr.ai[MTR_AI_KW];
}

static void test_each_its_own_readings(void **state)
{
    (void)state;
    run_all(5);
    for (int k = 0; k < N; k++) {
        double want = 3.0 * spec[k].v * spec[k].i * cos(spec[k].phi * W_PI / 180.0) / 1000.0;
        double got = kw(meters[k]);
        printf("meter %d: KW_Total %.4f, expected %.4f, f %.3f Hz\n", k + 1, got, want,
               (double)meters[k]->dev.mtr.ai[MTR_AI_FREQ]);
        assert_true(fabs(got - want) <= 1e-4 * fabs(want) + 1e-6);
        assert_float_equal(meters[k]->dev.mtr.ai[MTR_AI_FREQ], spec[k].f, 0.001);
        assert_int_equal(meters[k]->dev.mtr.cycles, 5);
    }
    assert_true(e_kwh(&meters[3]->dev.mtr, MTR_E_KWH_EXP) > 0);
    assert_true(e_kwh(&meters[3]->dev.mtr, MTR_E_KWH_IMP) == 0);
    assert_true(e_kwh(&meters[0]->dev.mtr, MTR_E_KWH_EXP) == 0);
}

/* Meter 2 fed in 251-set pieces among three others, and a meter fed alone in whole
 * seconds, end with the same registers to the last joule fraction. */
static void test_pieces_equal_whole(void **state)
{
    (void)state;
    static mtr_frame_t buf[MTR_FS];
    run_all(7);
    for (int s = 0; s < 7; s++) {
        wave_fill(&solo_wave, &solo->dev.mtr.cfg, buf, MTR_FS);
        assert_int_equal(meter_feed(solo, buf, NULL, MTR_FS, 0, NULL), MTR_FS);
    }
    assert_memory_equal(&solo->dev.mtr.nv.e, &meters[1]->dev.mtr.nv.e, sizeof solo->dev.mtr.nv.e);
    assert_memory_equal(solo->dev.mtr.ai, meters[1]->dev.mtr.ai, sizeof solo->dev.mtr.ai);
}

/* A WriteProperty to one meter, through the interface a link uses, changes that one. */
static void test_write_one(void **state)
{
    (void)state;
    /* WriteProperty AV9 Present_Value := REAL 33 (confirmed, invoke 7). */
    static const uint8_t wp[] = {0x01, 0x04, 0x00, 0x05, 0x07, 0x0F, 0x0C, 0x00, 0x80, 0x00, 0x09,
                                 0x19, 0x55, 0x3E, 0x44, 0x42, 0x04, 0x00, 0x00, 0x3F};
    uint8_t out[600];
    bool bcast;
    net_upper_t up = meter_upper(meters[2]);
    size_t n = up.receive(up.ctx, &(net_addr_t){.len = 1, .mac = {9}}, false, wp, sizeof wp, out,
                          sizeof out, &bcast);
    static const uint8_t ack[] = {0x01, 0x00, 0x20, 0x07, 0x0F}; /* Simple-ACK */
    assert_int_equal(n, sizeof ack);
    assert_memory_equal(out, ack, sizeof ack);
    run_all(1);
    for (int k = 0; k < N; k++)
        assert_true(obj_av_value(&meters[k]->dev, 9) == (k == 2 ? 33 : 25));
}

/* Who-Is to each: each answers with its own instance; I-Am through its own link. */
static void test_identity_and_link(void **state)
{
    (void)state;
    static const uint8_t who_is[] = {0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08};
    for (int k = 0; k < N; k++) {
        uint8_t out[64];
        bool bcast;
        net_upper_t up = meter_upper(meters[k]);
        size_t n = up.receive(up.ctx, &(net_addr_t){0}, true, who_is, sizeof who_is, out,
                              sizeof out, &bcast);
        assert_true(n > 12);
        assert_int_equal(out[8], 0xC4); /* the I-Am's object identifier */
        uint32_t inst = ((uint32_t)out[9] << 24 | (uint32_t)out[10] << 16 |
                         (uint32_t)out[11] << 8 | out[12]) & 0x3FFFFFu;
        assert_int_equal(inst, meters[k]->dev.id.instance);
        meter_announce(meters[k]);
        assert_int_equal(links[k].sent, 1);
        assert_memory_equal(links[k].last, out, n);
        for (int j = 0; j < k; j++)
            assert_int_not_equal(meters[j]->dev.id.instance, meters[k]->dev.id.instance);
    }
}

/* Power and panel: one meter off, another's panel in SETUP; the rest go on. */
static void test_power_and_panel(void **state)
{
    (void)state;
    run_all(2);
    meter_power_off(meters[1]);
    meter_key(meters[3], UI_KEY_UP);
    run_all(3);
    for (int k = 0; k < N; k++)
        assert_int_equal(meters[k]->dev.mtr.cycles, k == 1 ? 2 : 5);
    ui_display_t d;
    meter_display(meters[3], &d);
    assert_memory_equal(d.text[0], "SETUP", 5);
    meter_display(meters[0], &d);
    assert_memory_not_equal(d.text[0], "SETUP", 5);
    meter_display(meters[1], &d);
    assert_string_equal(d.text[0], "                "); /* dark */
    /* Unpowered, it hears nothing. */
    static const uint8_t who_is[] = {0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x08};
    uint8_t out[64];
    bool bcast;
    net_upper_t up = meter_upper(meters[1]);
    assert_int_equal(up.receive(up.ctx, &(net_addr_t){0}, true, who_is, sizeof who_is, out,
                                sizeof out, &bcast), 0);
    meter_power_on(meters[1]);
    assert_int_equal(links[1].sent, 1); /* it announced itself */
}

/* A lone meter is no router: every network-layer message (clause 6.4), to it or
 * broadcast, goes unanswered, as does an NPDU for another network (it does not route). */
static void test_no_router(void **state)
{
    (void)state;
    static const uint8_t msgs[][8] = {
        {0x01, 0x80, 0x00},                         /* Who-Is-Router-To-Network */
        {0x01, 0x80, 0x00, 0x00, 0x0A},             /* ... for network 10 */
        {0x01, 0x80, 0x01, 0x00, 0x0A},             /* I-Am-Router-To-Network 10 */
        {0x01, 0x80, 0x02, 0x00, 0x0A, 0x05},       /* I-Could-Be-Router */
        {0x01, 0x80, 0x03, 0x01, 0x00, 0x0A},       /* Reject-Message-To-Network */
        {0x01, 0x80, 0x04},                         /* Router-Busy */
        {0x01, 0x80, 0x05},                         /* Router-Available */
        {0x01, 0x80, 0x06, 0x00},                   /* Initialize-Routing-Table (query) */
        {0x01, 0x80, 0x12},                         /* What-Is-Network-Number */
        {0x01, 0x80, 0x13, 0x00, 0x0A, 0x01},       /* Network-Number-Is */
        {0x01, 0x80, 0x80, 0x01, 0x85},             /* proprietary, vendor 389 */
        {0x01, 0x80, 0x42},                         /* unknown type: no Reject either */
    };
    static const size_t lens[] = {3, 5, 5, 6, 6, 3, 3, 4, 3, 6, 5, 3};
    /* Who-Is for network 7 station 3, and with DNET 7 only (a remote broadcast). */
    static const uint8_t elsewhere[][12] = {
        {0x01, 0x20, 0x00, 0x07, 0x01, 0x03, 0xFF, 0x10, 0x08},
        {0x01, 0x20, 0x00, 0x07, 0x00, 0xFF, 0x10, 0x08},
    };
    uint8_t out[600];
    bool bcast;
    net_upper_t up = meter_upper(meters[0]);
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        for (int b = 0; b < 2; b++)
            assert_int_equal(up.receive(up.ctx, &(net_addr_t){.len = 1, .mac = {9}}, b, msgs[i],
                                        lens[i], out, sizeof out, &bcast), 0);
    assert_int_equal(up.receive(up.ctx, &(net_addr_t){0}, false, elsewhere[0], 9, out, sizeof out, &bcast), 0);
    assert_int_equal(up.receive(up.ctx, &(net_addr_t){0}, true, elsewhere[1], 8, out, sizeof out, &bcast), 0);
    assert_int_equal(links[0].sent, 0);
}

/* A request that came through a router (SNET 20, SADR 05) is answered to that source:
 * DNET 20, DLEN 1, DADR 05, hop count 255, and no SNET of its own. */
static void test_answer_through_router(void **state)
{
    (void)state;
    /* ReadProperty AV9 Present_Value, confirmed, invoke 3, from network 20 station 5. */
    static const uint8_t rp[] = {0x01, 0x0C, 0x00, 0x14, 0x01, 0x05, 0x00, 0x05, 0x03, 0x0C,
                                 0x0C, 0x00, 0x80, 0x00, 0x09, 0x19, 0x55};
    uint8_t out[600];
    bool bcast = true;
    net_upper_t up = meter_upper(meters[1]);
    size_t n = up.receive(up.ctx, &(net_addr_t){.len = 1, .mac = {0}}, false, rp, sizeof rp, out,
                          sizeof out, &bcast);
    static const uint8_t head[] = {0x01, 0x20, 0x00, 0x14, 0x01, 0x05, 0xFF, 0x30, 0x03, 0x0C};
    assert_true(n > sizeof head);
    assert_memory_equal(out, head, sizeof head);
    assert_false(bcast);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_its_own_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pieces_equal_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_and_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_and_panel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_router, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_through_router, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
