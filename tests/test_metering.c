/* Functional tests of the metering engine: settings, system types, quadrants, demand,
 * AV1 commands, alerts, pulse input, register resolution, sample-feeding contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "wave.h"

static mtr_t M, M2;

static void start(mtr_t *m, uint8_t type)
{
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    cfg.system_type = type;
    mtr_init(m, &cfg, NULL);
}

static bool is_nan(float f)
{
    return f != f;
}

/* cmocka's assert_float_equal compares in float and lets a NaN through. */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (double)(eps))

static void test_settings_ranges(void **state)
{
    (void)state;
    mtr_config_t c;
    mtr_config_default(&c);
    struct { mtr_setting_t id; double ok[4]; double bad[5]; } rows[] = {
        {MTR_SET_SYSTEM_TYPE, {10, 11, 12, 40}, {0, 13, 30, 41, 40.5}},
        {MTR_SET_CT_PRIMARY, {5, 100, 32000, 123.5}, {4.99, 0, -5, 32001, 1e9}},
        {MTR_SET_CT_SECONDARY, {1, 3, 1, 3}, {0, 2, 4, 1.5, -1}},
        {MTR_SET_PT_RATIO, {0.01, (float)0.01, 320, 2.5}, {0.009, 0, -1, 320.1, 1000}},
        {MTR_SET_SYSTEM_VOLTAGE, {82, 600, 660, 120}, {81.9, 660.1, 0, -600, 32001}},
        {MTR_SET_DISPLAY_UNITS, {0, 1, 0, 1}, {2, -1, 0.5, 10, 255}},
        {MTR_SET_PL_VOLTS, {1, 10, 99, 50}, {0, 100, 10.5, -1, 255}},
        {MTR_SET_PL_IMBALANCE, {1, 25, 99, 50}, {0, 100, 25.5, -1, 255}},
        {MTR_SET_SUBINTERVALS, {1, 2, 6, 3}, {0, 7, 1.5, -1, 255}},
        {MTR_SET_SUBINTERVAL_LEN, {0, 1000, 90000, 3276700}, {10, 999, 1050, 3276800, 90001}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (int k = 0; k < 4; k++)
            assert_int_equal(mtr_setting_check(&c, rows[r].id, rows[r].ok[k]), MTR_OK);
        for (int k = 0; k < 5; k++) {
            mtr_config_t before = c;
            assert_int_equal(mtr_setting_set(&c, rows[r].id, rows[r].bad[k]), MTR_ERANGE);
            assert_memory_equal(&before, &c, sizeof c); /* a rejected write changes nothing */
        }
        assert_int_equal(mtr_setting_check(&c, rows[r].id, NAN), MTR_ERANGE);
        assert_int_equal(mtr_setting_check(&c, rows[r].id, INFINITY), MTR_ERANGE);
    }
    assert_int_equal(mtr_setting_check(&c, (mtr_setting_t)1, 0), MTR_EARG);
    /* AV6 is bounded by AV5: 82..660 times the PT ratio, absolute 82..32000. */
    assert_int_equal(mtr_setting_set(&c, MTR_SET_PT_RATIO, 10), MTR_OK);
    assert_int_equal(mtr_setting_check(&c, MTR_SET_SYSTEM_VOLTAGE, 600), MTR_ERANGE);
    assert_int_equal(mtr_setting_check(&c, MTR_SET_SYSTEM_VOLTAGE, 820), MTR_OK);
    assert_int_equal(mtr_setting_check(&c, MTR_SET_SYSTEM_VOLTAGE, 6600), MTR_OK);
    assert_int_equal(mtr_setting_check(&c, MTR_SET_SYSTEM_VOLTAGE, 6601), MTR_ERANGE);
    assert_int_equal(mtr_setting_set(&c, MTR_SET_PT_RATIO, 100), MTR_OK);
    assert_int_equal(mtr_setting_check(&c, MTR_SET_SYSTEM_VOLTAGE, 32000), MTR_OK);
    assert_int_equal(mtr_setting_check(&c, MTR_SET_SYSTEM_VOLTAGE, 32001), MTR_ERANGE);
    /* A whole configuration: the defaults pass, a bad one fails and mtr_configure keeps the old. */
    mtr_config_default(&c);
    assert_int_equal(mtr_config_check(&c), MTR_OK);
    start(&M, 40);
    c.ct_secondary = 2;
    assert_int_equal(mtr_configure(&M, &c), MTR_ERANGE);
    assert_int_equal(M.cfg.ct_secondary, 1);
}

static void test_max_power(void **state)
{
    (void)state;
    mtr_config_t c;
    mtr_config_default(&c);
    assert_near(mtr_max_power_kw(&c), 103.923, 0.001); /* datasheet default */
    c.system_type = 31;
    assert_near(mtr_max_power_kw(&c), 103.923, 0.001);
    uint8_t single[] = {10, 11, 12};
    for (int k = 0; k < 3; k++) {
        c.system_type = single[k];
        assert_near(mtr_max_power_kw(&c), 60.0, 1e-9);
    }
    c.system_type = 40, c.system_voltage = 480, c.ct_primary = 400;
    assert_near(mtr_max_power_kw(&c), 332.554, 0.001);
    start(&M, 12);
    wave_t w;
    wave_balanced(&w, 60, 120, 10, 0);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_MAX_POWER], 60.0, 1e-4);
}

/* Which AIs read QNAN in each system type (DECISIONS M11). */
static void test_qnan_per_system_type(void **state)
{
    (void)state;
    struct { uint8_t type; const char *phases; bool ln[3]; bool ll[3]; bool vln_avg, vll_avg; } rows[] = {
        {10, "A", {1, 0, 0}, {0, 0, 0}, true, false},
        {11, "A", {0, 0, 0}, {1, 0, 0}, false, true},
        {12, "AB", {1, 1, 0}, {1, 0, 0}, true, true},
        {31, "ABC", {0, 0, 0}, {1, 1, 1}, false, true},
        {40, "ABC", {1, 1, 1}, {1, 1, 1}, true, true},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        start(&M, rows[r].type);
        wave_t w;
        wave_balanced(&w, 60, 277, 50, 20);
        wave_run(&M, &w, 2, NULL, NULL);
        for (int p = 0; p < 3; p++) {
            bool act = strchr(rows[r].phases, 'A' + p) != NULL;
            unsigned per_phase[] = {MTR_AI_KW_A, MTR_AI_KVAR_A, MTR_AI_KVA_A, MTR_AI_PF_A, MTR_AI_I_A};
            for (int k = 0; k < 5; k++)
                assert_int_equal(is_nan(M.ai[per_phase[k] + p]), !act);
            assert_int_equal(is_nan(M.ai[MTR_AI_V_AN + p]), !rows[r].ln[p]);
            assert_int_equal(is_nan(M.ai[MTR_AI_V_AB + p]), !rows[r].ll[p]);
        }
        assert_int_equal(is_nan(M.ai[MTR_AI_VLN_AVG]), !rows[r].vln_avg);
        assert_int_equal(is_nan(M.ai[MTR_AI_VLL_AVG]), !rows[r].vll_avg);
        /* Everything that always exists is a number. */
        unsigned always[] = {MTR_AI_KWH_NET, MTR_AI_KW, MTR_AI_KVAR, MTR_AI_KVA, MTR_AI_PF,
                             MTR_AI_I_AVG, MTR_AI_FREQ, MTR_AI_KW_DEM, MTR_AI_MAX_POWER,
                             MTR_AI_PULSES, MTR_AI_ALARMS, MTR_AI_OUTPUT_CONFIG, MTR_AI_KWH_IMP_A};
        for (size_t k = 0; k < sizeof always / sizeof always[0]; k++)
            assert_false(is_nan(M.ai[always[k]]));
        assert_true(is_nan(M.ai[MTR_AI_RESERVED28]));
        assert_near(M.ai[MTR_AI_OUTPUT_CONFIG], 11.0, 0);
        assert_int_equal(M.alarms & ~MTR_BIT(MTR_BI_RTC_RESET), 0);
    }
}

/* Current on inputs the system type doesn't use must not accumulate anywhere. */
static void test_no_accumulation_on_unused_inputs(void **state)
{
    (void)state;
    start(&M, 10);
    wave_t w;
    wave_balanced(&w, 50, 230, 80, 0);
    w.i[0] = 10; /* A carries 10 A, B and C carry 80 A that must be ignored */
    wave_run(&M, &w, 10, NULL, NULL);
    for (int p = 1; p < 3; p++)
        for (int k = 0; k < MTR_E_PER_PHASE; k++)
            assert_true(M.nv.e[MTR_E_PER_PHASE * (1 + p) + k].j == 0);
    double pa = e_kwh(&M, MTR_E_PER_PHASE + MTR_E_KWH_IMP), pt = e_kwh(&M, MTR_E_KWH_IMP);
    assert_true(pa > 0);
    assert_near(pt, pa, pa * 1e-12);
    assert_near(M.ai[MTR_AI_KW], 2.3, 2.3e-4);
}

/* Each quadrant lands in its own total and per-phase register, nothing else moves. */
static void test_quadrants(void **state)
{
    (void)state;
    struct { double phi; int q; bool import; } rows[] = {
        {40, 0, true}, {180 - 40, 1, false}, {180 + 40, 2, false}, {-40, 3, true},
    };
    for (int r = 0; r < 4; r++) {
        start(&M, 40);
        wave_t w;
        wave_balanced(&w, 50, 230, 50, rows[r].phi);
        wave_run(&M, &w, 5, NULL, NULL);
        for (int base = 0; base <= 3 * MTR_E_PER_PHASE; base += MTR_E_PER_PHASE) {
            for (int q = 0; q < 4; q++) {
                bool hit = q == rows[r].q;
                assert_int_equal(M.nv.e[base + MTR_E_KVARH_Q1 + q].j > 0, hit);
            }
            assert_int_equal(M.nv.e[base + MTR_E_KWH_IMP].j > 0, rows[r].import);
            assert_int_equal(M.nv.e[base + MTR_E_KWH_EXP].j > 0, !rows[r].import);
            assert_int_equal(M.nv.e[base + MTR_E_KVAH_IMP].j > 0, rows[r].import);
            assert_int_equal(M.nv.e[base + MTR_E_KVAH_EXP].j > 0, !rows[r].import);
        }
        /* Signs of the readings (M1, M4): P and PF carry the sign of P, Q its own. */
        double p = M.ai[MTR_AI_KW], q = M.ai[MTR_AI_KVAR];
        assert_int_equal(p > 0, rows[r].import);
        assert_int_equal(q > 0, rows[r].q < 2);
        assert_int_equal(M.ai[MTR_AI_PF] > 0, rows[r].import);
        assert_near(fabs(M.ai[MTR_AI_PF]), cos(40 * W_PI / 180), 1e-5);
        assert_near(M.ai[MTR_AI_KWH_NET], M.ai[MTR_AI_KWH_IMP] - M.ai[MTR_AI_KWH_EXP], 1e-6);
        assert_near(M.ai[MTR_AI_KVAH_NET], M.ai[MTR_AI_KVAH_IMP] - M.ai[MTR_AI_KVAH_EXP], 1e-6);
        /* Total kVAh = sum of phase S times time. */
        assert_near(M.ai[MTR_AI_KVA], 3 * 230 * 50 / 1000.0, 1e-3);
    }
}

/* Below the starting current (0.1 % of the CT primary) a phase is at no load (M4). */
static void test_no_load(void **state)
{
    (void)state;
    start(&M, 40);
    wave_t w;
    wave_balanced(&w, 50, 230, 0.09, 70); /* 0.09 % of 100 A, PF 0.34 */
    wave_run(&M, &w, 5, NULL, NULL);
    for (int k = 0; k < MTR_E_COUNT; k++)
        assert_true(M.nv.e[k].j == 0 && M.nv.e[k].frac32 == 0);
    for (int p = 0; p < 3; p++) {
        assert_near(M.ai[MTR_AI_KW_A + p], 0, 0);
        assert_near(M.ai[MTR_AI_PF_A + p], 1.0, 0);
    }
    assert_int_equal(M.alarms & (MTR_BIT(MTR_BI_LOW_PF_A) | MTR_BIT(MTR_BI_LOW_PF_B) | MTR_BIT(MTR_BI_LOW_PF_C)), 0);
    wave_balanced(&w, 50, 230, 0.11, 70); /* just above: it registers, and PF is low */
    w.n = 5 * MTR_FS;
    wave_run(&M, &w, 5, NULL, NULL);
    assert_true(M.nv.e[MTR_E_KWH_IMP].j > 0);
    assert_true(M.alarms & MTR_BIT(MTR_BI_LOW_PF_A));
}

static void set_demand(mtr_t *m, unsigned subs, unsigned len_cs)
{
    mtr_config_t c = m->cfg;
    c.subintervals = (uint8_t)subs;
    c.subinterval_cs = len_cs;
    assert_int_equal(mtr_configure(m, &c), MTR_OK);
}

static void test_demand_block(void **state)
{
    (void)state;
    start(&M, 40);
    set_demand(&M, 1, 6000); /* 60 s block */
    wave_t w;
    wave_balanced(&w, 60, 277, 40, 30);
    double kw = 3 * 277 * 40 * cos(W_PI / 6) / 1000, kvar = 3 * 277 * 40 * 0.5 / 1000;
    wave_run(&M, &w, 59, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], 0, 0); /* no interval has ended yet */
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], kw, kw * 2e-4);
    assert_near(M.ai[MTR_AI_KVAR_DEM], kvar, kvar * 2e-3);
    assert_near(M.ai[MTR_AI_KVA_DEM], 3 * 277 * 40 / 1000.0, 0.01);
    assert_near(M.ai[MTR_AI_KW_MAX_IMP], kw, kw * 2e-4);
    assert_near(M.ai[MTR_AI_KW_MAX_EXP], 0, 0);
    /* Half the load for the next block: present demand follows, the maximum stays. */
    w.i[0] = w.i[1] = w.i[2] = 20;
    wave_run(&M, &w, 60, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], kw / 2, kw * 2e-3);
    assert_near(M.ai[MTR_AI_KW_MAX_IMP], kw, kw * 2e-4);
    /* Export: signed present demand, the export maximum is its magnitude. */
    for (int p = 0; p < 3; p++)
        w.phi[p] = 180 + 30;
    wave_run(&M, &w, 60, NULL, NULL);
    assert_true(M.ai[MTR_AI_KW_DEM] < 0);
    assert_near(M.ai[MTR_AI_KW_MAX_EXP], kw / 2, kw * 2e-3);
    assert_near(M.ai[MTR_AI_KVA_MAX_EXP], 3 * 277 * 20 / 1000.0, 0.01);
    assert_near(M.ai[MTR_AI_KW_MAX_IMP], kw, kw * 2e-4);
}

static void test_demand_rolling(void **state)
{
    (void)state;
    start(&M, 40);
    set_demand(&M, 3, 1000); /* 3 sub-intervals of 10 s */
    wave_t w;
    wave_balanced(&w, 50, 230, 10, 0);
    double p1 = 3 * 230 * 10 / 1000.0;
    wave_run(&M, &w, 10, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], p1, p1 * 2e-4);
    w.i[0] = w.i[1] = w.i[2] = 40; /* 4x load from here */
    wave_run(&M, &w, 10, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], (p1 + 4 * p1) / 2, p1 * 5e-3);
    wave_run(&M, &w, 10, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], (p1 + 8 * p1) / 3, p1 * 5e-3);
    wave_run(&M, &w, 9, NULL, NULL); /* updates only at sub-interval ends */
    assert_near(M.ai[MTR_AI_KW_DEM], (p1 + 8 * p1) / 3, p1 * 5e-3);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], 4 * p1, p1 * 5e-3);
    /* Writing AV11 restarts demand (M14). */
    set_demand(&M, 3, 2000);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], 0, 0);
}

static void test_demand_sync_to_comms(void **state)
{
    (void)state;
    start(&M, 40);
    set_demand(&M, 4, 0); /* sync mode: AV10 ignored, block demand */
    wave_t w;
    wave_balanced(&w, 50, 230, 20, 0);
    double p = 3 * 230 * 20 / 1000.0;
    wave_run(&M, &w, 100, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], 0, 0); /* never ends by itself */
    assert_int_equal(mtr_command(&M, MTR_CMD_DEMAND_SYNC), MTR_OK);
    assert_near(M.ai[MTR_AI_KW_DEM], 0, 0); /* takes effect at the next cycle's end */
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], p, p * 2e-4);
    w.i[0] = w.i[1] = w.i[2] = 60;
    wave_run(&M, &w, 20, NULL, NULL);
    mtr_command(&M, MTR_CMD_DEMAND_SYNC);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], 3 * p, p * 2e-3); /* block, not rolling */
    /* Outside sync mode the command is accepted but does not end a sub-interval. */
    set_demand(&M, 1, 6000);
    wave_run(&M, &w, 5, NULL, NULL);
    mtr_command(&M, MTR_CMD_DEMAND_SYNC);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_DEM], 0, 0);
}

static void test_commands(void **state)
{
    (void)state;
    start(&M, 40);
    set_demand(&M, 1, 1000);
    wave_t w;
    wave_balanced(&w, 50, 230, 30, 0);
    wave_run(&M, &w, 10, NULL, NULL);
    assert_true(M.ai[MTR_AI_KWH_IMP] > 0);
    assert_int_equal(mtr_command(&M, 12345), MTR_ERANGE);
    assert_int_equal(mtr_command(&M, 0), MTR_ERANGE);
    /* Clear energy: at the end of the next cycle, and the reset counter counts it. */
    assert_int_equal(mtr_command(&M, MTR_CMD_CLEAR_ENERGY), MTR_OK);
    assert_true(M.ai[MTR_AI_KWH_IMP] > 0);
    wave_run(&M, &w, 1, NULL, NULL);
    for (int k = 0; k < MTR_E_COUNT; k++)
        assert_true(M.nv.e[k].j == 0 && M.nv.e[k].frac32 == 0);
    assert_near(M.ai[MTR_AI_KWH_IMP], 0, 0);
    assert_near(M.ai[MTR_AI_KWH_IMP_A], 0, 0);
    assert_near(M.ai[MTR_AI_ENERGY_RESETS], 1, 0);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_true(M.ai[MTR_AI_KWH_IMP] > 0); /* and accumulation goes on */
    /* Max demand reset: maxima become the present demands. */
    set_demand(&M, 1, 2000), set_demand(&M, 1, 1000); /* restart: align sub-intervals */
    w.i[0] = w.i[1] = w.i[2] = 90;
    wave_run(&M, &w, 10, NULL, NULL);
    w.i[0] = w.i[1] = w.i[2] = 30;
    wave_run(&M, &w, 10, NULL, NULL);
    /* readings lag the tick by under a cycle, so a step leaks ~0.1 % across */
    assert_near(M.ai[MTR_AI_KW_MAX_IMP], 3 * 230 * 90 / 1000.0, 0.2);
    mtr_command(&M, MTR_CMD_MAX_DEMAND_RESET);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_KW_MAX_IMP], M.ai[MTR_AI_KW_DEM], 0);
    assert_near(M.ai[MTR_AI_KW_MAX_IMP], 3 * 230 * 30 / 1000.0, 0.1);
    /* Pulses cleared. */
    M.nv.pulses = 17;
    mtr_command(&M, MTR_CMD_CLEAR_PULSES);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_near(M.ai[MTR_AI_PULSES], 0, 0);
}

static uint16_t alarms_after(uint8_t type, wave_t *w, unsigned secs)
{
    start(&M, type);
    wave_run(&M, w, secs, NULL, NULL);
    return M.alarms;
}

#define B(x) MTR_BIT(MTR_BI_##x)

static void test_alerts(void **state)
{
    (void)state;
    wave_t w;
    /* Healthy: nothing. */
    wave_balanced(&w, 60, 277, 50, 10);
    assert_int_equal(alarms_after(40, &w, 2), 0);
    /* Phase A lost on a wye: its loss bit, and frequency (phase A) is gone. */
    wave_balanced(&w, 60, 277, 50, 10);
    w.v[0] = 0;
    assert_int_equal(alarms_after(40, &w, 3), B(PHASE_LOSS_A) | B(FREQ_ERR));
    assert_true(is_nan(M.ai[MTR_AI_FREQ]));
    assert_true(mtr_ai_unreliable(&M, MTR_AI_FREQ));
    /* Phase C at 70 %: above the 10 % loss threshold, but a 30 % imbalance > 25 %. */
    wave_balanced(&w, 60, 277, 50, 10);
    w.v[2] = 0.7 * 277;
    assert_int_equal(alarms_after(40, &w, 2), B(PHASE_LOSS_C));
    /* The same with AV9 at 35 %: no alert. */
    start(&M, 40);
    mtr_config_t c = M.cfg;
    c.pl_imbalance_pct = 35;
    mtr_configure(&M, &c);
    w.n = 0;
    wave_run(&M, &w, 2, NULL, NULL);
    assert_int_equal(M.alarms, 0);
    /* Delta with A open (the A terminal sits between B and C): L-L AB and CA low -> A. */
    wave_balanced(&w, 60, 277, 50, 10);
    w.v[0] = 277 * 0.5, w.vang[0] = 180; /* mid point of B and C */
    assert_int_equal(alarms_after(31, &w, 2) & B(PHASE_LOSS_A), B(PHASE_LOSS_A));
    assert_int_equal(M.alarms & (B(PHASE_LOSS_B) | B(PHASE_LOSS_C)), 0);
    /* Low PF on B only. */
    wave_balanced(&w, 60, 277, 50, 10);
    w.phi[1] = 65;
    assert_int_equal(alarms_after(40, &w, 2), B(LOW_PF_B));
    /* Over-voltage: 450 V L-N at the terminals (> 416.4), all three. */
    wave_balanced(&w, 60, 450, 50, 10);
    assert_int_equal(alarms_after(40, &w, 2) & 7u, B(VOLTS_ERR_A) | B(VOLTS_ERR_B) | B(VOLTS_ERR_C));
    assert_true(mtr_ai_unreliable(&M, MTR_AI_V_AN));
    assert_true(mtr_ai_unreliable(&M, MTR_AI_KW));
    assert_false(mtr_ai_unreliable(&M, MTR_AI_I_A));
    /* Over-current on B: 125 % of the CT. */
    wave_balanced(&w, 60, 277, 50, 10);
    w.i[1] = 125;
    assert_int_equal(alarms_after(40, &w, 2), B(CURR_ERR_B));
    assert_true(mtr_ai_unreliable(&M, MTR_AI_I_A + 1));
    assert_false(mtr_ai_unreliable(&M, MTR_AI_I_A));
    /* Frequency out of 45..65 Hz: QNAN and BI7 (40 Hz and 70 Hz). */
    wave_balanced(&w, 40, 277, 50, 10);
    assert_int_equal(alarms_after(40, &w, 2), B(FREQ_ERR));
    assert_true(is_nan(M.ai[MTR_AI_FREQ]));
    wave_balanced(&w, 70, 277, 50, 10);
    assert_int_equal(alarms_after(40, &w, 2), B(FREQ_ERR));
    wave_balanced(&w, 45.01, 277, 50, 10);
    assert_int_equal(alarms_after(40, &w, 2), 0);
    /* RTC reset after power-up until the clock is synchronized; AI83 is the bitmap. */
    wave_balanced(&w, 60, 277, 50, 10);
    w.phi[0] = 70;
    start(&M, 40);
    mtr_power_up(&M);
    wave_run(&M, &w, 2, NULL, NULL);
    assert_int_equal(M.alarms, B(RTC_RESET) | B(LOW_PF_A));
    assert_near(M.ai[MTR_AI_ALARMS], (float)(B(RTC_RESET) | B(LOW_PF_A)), 0);
    assert_near(M.ai[MTR_AI_POWER_UPS], 1, 0);
    mtr_rtc_synced(&M);
    wave_run(&M, &w, 1, NULL, NULL);
    assert_int_equal(M.alarms, B(LOW_PF_A));
    /* Alerts are not latched. */
    w.phi[0] = 10;
    wave_run(&M, &w, 1, NULL, NULL);
    assert_int_equal(M.alarms, 0);
    /* Split phase (12): A lost -> A; type 10 with A low -> A; type 11 with A-B near 0 -> A, B. */
    wave_balanced(&w, 60, 120, 20, 0);
    w.vang[1] = 180, w.v[0] = 0;
    assert_int_equal(alarms_after(12, &w, 2) & 0x1FFu, B(PHASE_LOSS_A) | B(FREQ_ERR));
    wave_balanced(&w, 60, 40, 20, 0); /* 40 V < 10 % of 600 V L-N nominal for type 10 */
    assert_int_equal(alarms_after(10, &w, 2), B(PHASE_LOSS_A));
    wave_balanced(&w, 60, 20, 20, 0);
    w.vang[1] = 180; /* V_AB 40 V < 60 V */
    assert_int_equal(alarms_after(11, &w, 2), B(PHASE_LOSS_A) | B(PHASE_LOSS_B));
}

/* The pulse input counts closures of at least 20 ms once (M15). */
static void test_pulse_debounce(void **state)
{
    (void)state;
    start(&M, 40);
    static mtr_frame_t z[MTR_FS];
    memset(z, 0, sizeof z);
    struct { unsigned closed, open; bool counts; } seq[] = {
        {10, 50, false}, {50, 50, false},  /* 4.0 and 19.8 ms */
        {51, 50, true}, {200, 50, true},   /* 20.2 ms and 79 ms */
        {2, 1, false}, {60, 3, true},      /* bounce then a real closure */
        {5000, 100, true},                 /* held for 2 s: once */
    };
    uint32_t expect = 0;
    for (size_t k = 0; k < sizeof seq / sizeof seq[0]; k++) {
        mtr_pulse_input(&M, true);
        size_t left = seq[k].closed;
        while (left) {
            size_t c = left > MTR_FS ? MTR_FS : left;
            left -= mtr_feed(&M, z, c, NULL);
        }
        mtr_pulse_input(&M, false);
        left = seq[k].open;
        while (left) {
            size_t c = left > MTR_FS ? MTR_FS : left;
            left -= mtr_feed(&M, z, c, NULL);
        }
        expect += seq[k].counts;
        assert_int_equal(M.nv.pulses, expect);
    }
    /* A closure that is still held counts once it has lasted 20 ms. */
    mtr_pulse_input(&M, true);
    mtr_feed(&M, z, 60, NULL);
    assert_int_equal(M.nv.pulses, expect + 1);
    mtr_feed(&M, z, 600, NULL);
    assert_int_equal(M.nv.pulses, expect + 1);
}

/* A register in joules, exact (whole joules and 2^-32 J). */
static double reg_j(const mtr_energy_t *e)
{
    return (double)e->j + e->frac32 / 4294967296.0;
}

/* Registers keep every joule over years; a float running sum would not. */
static void test_energy_resolution_years(void **state)
{
    (void)state;
    mtr_energy_t e = {0, 0};
    float naive = 0;
    const double per_s = 1234.5; /* exact in binary: the expected sum is exact too */
    const uint64_t secs = 366ull * 86400ull;
    for (uint64_t s = 0; s < secs; s++) {
        mtr_energy_add(&e, per_s);
        naive += (float)per_s;
    }
    double exp_j = per_s * (double)secs;
    assert_true(reg_j(&e) == exp_j);
    double naive_err = fabs((double)naive - exp_j) / exp_j;
    printf("one year of 1 s additions: register exact, float running sum off by %.2f %%\n",
           naive_err * 100);
    assert_true(naive_err > 1e-3); /* the naive way really would drift */
    /* A meter with 30 years on the register still counts a 0.3 J step: ten of them are
     * ten times the REAL 0.3f (0.3 + 1.2e-8) the engine hands it, to 2^-32 J each. */
    mtr_energy_t big = {(int64_t)1e15, 0};
    const double ten_steps = 10 * (double)(float)0.3f; /* (float): FLT_EVAL_METHOD 1 keeps 0.3f double */
    for (int k = 0; k < 10; k++)
        mtr_energy_add(&big, 0.3f);
    assert_near((double)(big.j - (int64_t)1e15) + big.frac32 / 0x1p32, ten_steps, 1e-8);
    /* Large addends (a register restored, a huge step) keep every bit, around and past
     * 2^24 where the whole part stops going through an int32 and is taken from the
     * float's bits. */
    const float steps[] = {16777215.0f, 16777216.0f, 16777218.5f, 3.0e10f, 1.5e14f, 9.9e14f};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        mtr_energy_t r = {7, 0};
        mtr_energy_add(&r, steps[k]);
        assert_near((double)(r.j - 7) + r.frac32 / 0x1p32, (double)steps[k], 0);
    }
    /* Bad input never corrupts a register. */
    mtr_energy_add(&big, NAN);
    mtr_energy_add(&big, -5);
    mtr_energy_add(&big, INFINITY);
    assert_near((double)(big.j - (int64_t)1e15) + big.frac32 / 0x1p32, ten_steps, 1e-8);
}

/* Feeding samples in any chunking gives identical results: no sample is dropped or
 * processed twice, and two meters in one process do not interfere. */
/* The same samples in one go and in odd pieces end in the same state to the last bit.
 * (Meters side by side on different inputs: tests/test_meter.c.) */
static void test_chunking(void **state)
{
    (void)state;
    start(&M, 40);
    start(&M2, 40);
    wave_t w1;
    wave_balanced(&w1, 50.7, 230, 33, 37);
    w1.h = 3, w1.hv = 0.05, w1.hi = 0.2;
    static mtr_frame_t buf[7 * MTR_FS];
    wave_fill(&w1, &M.cfg, buf, 7 * MTR_FS);
    size_t off = 0;
    bool cyc;
    while (off < 7 * MTR_FS) /* one meter in one go ... */
        off += mtr_feed(&M, buf + off, 7 * MTR_FS - off, &cyc);
    size_t chunks[] = {1, 7, 1000, 2, 333, 4096};
    off = 0;
    for (int k = 0; off < 7 * MTR_FS; k++) { /* ... the other in odd pieces */
        size_t c = chunks[k % 6];
        if (c > 7 * MTR_FS - off)
            c = 7 * MTR_FS - off;
        size_t done = 0;
        while (done < c)
            done += mtr_feed(&M2, buf + off + done, c - done, &cyc);
        off += c;
    }
    assert_int_equal(M.cycles, 7);
    assert_int_equal(M2.cycles, 7);
    assert_true(M.n == M2.n);
    assert_memory_equal(M.ai, M2.ai, sizeof M.ai);
    assert_memory_equal(&M.nv, &M2.nv, sizeof M.nv);
}

/* The engine sums in stretches between zero crossings and keeps its per-sample state
 * between calls: one sample per call must give, every second and to the last bit, what
 * whole seconds give, on every system type (each reference channel and phase A wiring),
 * with harmonics, a DC offset and a drifting frequency. */
static void test_one_sample_per_call_every_type(void **state)
{
    (void)state;
    static const uint8_t types[] = {10, 11, 12, 31, 40};
    static mtr_frame_t buf[MTR_FS];
    for (size_t t = 0; t < sizeof types; t++) {
        start(&M, types[t]);
        start(&M2, types[t]);
        wave_t w;
        wave_balanced(&w, 49.3, 230, 40, 25);
        w.df = 0.4, w.h = 5, w.hv = 0.04, w.hi = 0.3, w.vdc = 1.5;
        if (types[t] == 11 || types[t] == 12)
            w.vang[1] = 180;
        for (int s = 0; s < 4; s++) {
            wave_fill(&w, &M.cfg, buf, MTR_FS);
            bool cyc = false;
            size_t off = 0;
            while (off < MTR_FS)
                off += mtr_feed(&M, buf + off, MTR_FS - off, &cyc);
            assert_true(cyc);
            for (size_t k = 0; k < MTR_FS; k++) {
                assert_int_equal(mtr_feed(&M2, buf + k, 1, &cyc), 1);
                assert_true(cyc == (k == MTR_FS - 1));
            }
            assert_true(M.n == M2.n);
            assert_memory_equal(M.ai, M2.ai, sizeof M.ai);
            assert_memory_equal(M.nv.e, M2.nv.e, sizeof M.nv.e);
            assert_memory_equal(M.unreliable, M2.unreliable, sizeof M.unreliable);
            assert_int_equal(M.alarms, M2.alarms);
        }
        assert_false(is_nan(M.ai[MTR_AI_FREQ])); /* the crossings were found */
    }
}

/* A glitch on the reference just after each crossing that the low-pass passes (the
 * output dips below the arming level and comes back up a few samples later) is not a
 * cycle: the hold-off ignores it, also when every sample comes in a call of its own. */
static void test_crossing_holdoff(void **state)
{
    (void)state;
    start(&M, 40);
    start(&M2, 40);
    wave_t w;
    wave_balanced(&w, 50, 230, 50, 0);
    static mtr_frame_t buf[MTR_FS];
    for (int s = 0; s < 4; s++) {
        uint64_t n0 = w.n;
        wave_fill(&w, &M.cfg, buf, MTR_FS);
        for (size_t k = 0; k < MTR_FS; k++) {
            double cycles = 50.0 * (double)(n0 + k) / MTR_FS;
            double ph = cycles - floor(cycles); /* of phase A's cycle, from its crossing */
            if (ph > 0.15 && ph < 0.3)
                buf[k][MTR_VA] -= 900.0f;
        }
        size_t off = 0;
        while (off < MTR_FS)
            off += mtr_feed(&M, buf + off, MTR_FS - off, NULL);
        for (size_t k = 0; k < MTR_FS; k++)
            mtr_feed(&M2, buf + k, 1, NULL);
        if (s > 0)
            assert_near(M.ai[MTR_AI_FREQ], 50.0, 1e-3);
        assert_memory_equal(M.ai, M2.ai, sizeof M.ai);
    }
}

/* Noise on every channel: frequency and energy stay within their limits. */
static void test_noise(void **state)
{
    (void)state;
    start(&M, 40);
    wave_t w;
    wave_balanced(&w, 50.5, 230, 50, 30);
    static mtr_frame_t buf[MTR_FS];
    srand(1);
    double t1 = 0, e1 = 0;
    double P = 3 * 230 * 50 * cos(W_PI / 6);
    for (int s = 0; s < 30; s++) {
        wave_fill(&w, &M.cfg, buf, MTR_FS);
        for (int k = 0; k < (int)MTR_FS; k++)
            for (int c = 0; c < MTR_NCH; c++) {
                /* ~1 % RMS of the channel's full scale, uniform */
                double fsn = c < 3 ? 3.0 : 0.01;
                buf[k][c] += (float)(fsn * ((double)rand() / RAND_MAX - 0.5) * 3.46);
            }
        size_t off = 0;
        while (off < MTR_FS)
            off += mtr_feed(&M, buf + off, MTR_FS - off, NULL);
        if (s >= 2)
            assert_true(fabs(M.ai[MTR_AI_FREQ] - 50.5) <= 0.01);
        if (s == 2)
            t1 = (double)M.n, e1 = e_kwh(&M, MTR_E_KWH_IMP);
    }
    /* The registers run to the sample: the span is the samples fed. */
    double exp = P * ((double)M.n - t1) / MTR_FS / 3.6e6, got = e_kwh(&M, MTR_E_KWH_IMP) - e1;
    printf("1 %% noise: energy error %+.5f %%\n", (got - exp) / exp * 100);
    assert_true(fabs(got - exp) / exp * 100 <= 0.02);
}

/* A DC offset on the voltages must not disturb reactive power (integrator drift). */
static void test_dc_offset(void **state)
{
    (void)state;
    start(&M, 40);
    wave_t w;
    wave_balanced(&w, 60, 277, 50, 60);
    w.vdc = 2.0;
    wave_run(&M, &w, 30, NULL, NULL);
    double q = 3 * 277 * 50 * sin(W_PI / 3) / 1000;
    assert_near(M.ai[MTR_AI_KVAR], q, q * 0.002);
}

/* The partial cycle credited at a tick is trued up at the next: a load that stops inside
 * a line cycle leaves every register where the energy ended (within one line cycle), it
 * never goes back, and nothing more is credited once the load is gone. */
static void test_energy_credit_trued_up(void **state)
{
    (void)state;
    start(&M, 40);
    wave_t w;
    wave_balanced(&w, 45.7, 277, 50, 30);
    static mtr_frame_t buf[MTR_FS];
    double P = 277.0 * 50 * cos(W_PI / 6), cycle_j = 3 * 277.0 * 50 / 45.7;
    const uint32_t stop = 3 * MTR_FS + 1000; /* inside a line cycle, mid-second */
    double prev[MTR_E_COUNT] = {0};
    for (int s = 0; s < 7; s++) {
        wave_fill(&w, &M.cfg, buf, MTR_FS);
        for (uint32_t k = 0; k < MTR_FS; k++)
            if ((uint32_t)s * MTR_FS + k >= stop)
                buf[k][MTR_IA] = buf[k][MTR_IB] = buf[k][MTR_IC] = 0.0f;
        size_t off = 0;
        while (off < MTR_FS)
            off += mtr_feed(&M, buf + off, MTR_FS - off, NULL);
        for (int k = 0; k < MTR_E_COUNT; k++) {
            double e = reg_j(&M.nv.e[k]);
            assert_true(e >= prev[k]); /* never back */
            if (s >= 5)
                assert_true(e == prev[k]); /* no load: nothing more */
            prev[k] = e;
        }
        if (s < 3) /* steady: to the sample */
            assert_near(prev[MTR_E_KWH_IMP], 3 * P * (s + 1), 1e-5 * 3 * P * (s + 1));
    }
    double exact = 3 * P * stop / MTR_FS;
    assert_near(prev[MTR_E_KWH_IMP], exact, cycle_j);
    for (int p = 0; p < 3; p++)
        assert_near(prev[MTR_E_PER_PHASE * (1 + p) + MTR_E_KWH_IMP], exact / 3, cycle_j / 3);
}

/* An energy clear drops the credit ahead with the registers: they restart from zero. */
static void test_energy_clear_drops_credit(void **state)
{
    (void)state;
    start(&M, 40);
    wave_t w;
    wave_balanced(&w, 59.9, 277, 50, 0);
    wave_run(&M, &w, 3, NULL, NULL);
    assert_int_equal(mtr_command(&M, MTR_CMD_CLEAR_ENERGY), MTR_OK);
    wave_run(&M, &w, 1, NULL, NULL);
    for (int k = 0; k < MTR_E_COUNT; k++) {
        assert_true(M.nv.e[k].j == 0 && M.nv.e[k].frac32 == 0);
        assert_true(M.e_ahead[k] == 0.0);
    }
    /* From here on, each second adds P x 1 s again, within one line cycle's energy
     * for the cycle that straddled the clear. */
    double P = 3 * 277.0 * 50;
    wave_run(&M, &w, 1, NULL, NULL);
    double e1 = mtr_energy_kwh(&M.nv.e[MTR_E_KWH_IMP]) * 3.6e6;
    assert_near(e1, P, P / 59.9);
    wave_run(&M, &w, 1, NULL, NULL);
    double e2 = mtr_energy_kwh(&M.nv.e[MTR_E_KWH_IMP]) * 3.6e6;
    assert_near(e2 - e1, P, 1e-5 * P);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_ranges),
        cmocka_unit_test(test_max_power),
        cmocka_unit_test(test_qnan_per_system_type),
        cmocka_unit_test(test_no_accumulation_on_unused_inputs),
        cmocka_unit_test(test_quadrants),
        cmocka_unit_test(test_no_load),
        cmocka_unit_test(test_demand_block),
        cmocka_unit_test(test_demand_rolling),
        cmocka_unit_test(test_demand_sync_to_comms),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_pulse_debounce),
        cmocka_unit_test(test_energy_resolution_years),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_one_sample_per_call_every_type),
        cmocka_unit_test(test_crossing_holdoff),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_dc_offset),
        cmocka_unit_test(test_energy_credit_trued_up),
        cmocka_unit_test(test_energy_clear_drops_credit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
