/*
 * The front panel (src/core/ui): every menu path walked with the keys, the display text
 * checked character for character, and every setting the panel changes read back the
 * way BACnet reads it (and the other way round).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "objects/obj.h"
#include "ui/ui.h"

static obj_device_t dev;
static ui_t ui;
static ui_display_t disp;

static void start(const char *serial, uint8_t system_type)
{
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, serial);
    id.instance = 1234567;
    mtr_config_default(&cfg);
    cfg.system_type = system_type;
    obj_init(&dev, &id, &cfg, NULL);
    ui_init(&ui, &dev);
}

static int setup(void **state)
{
    (void)state;
    start("SN42", 40);
    return 0;
}

/* Press keys: u (up/+), d (down/-), s (select), b (back). */
static void keys(const char *k)
{
    for (; *k; k++) {
        switch (*k) {
        case 'u': ui_key(&ui, UI_KEY_UP); break;
        case 'd': ui_key(&ui, UI_KEY_DOWN); break;
        case 's': ui_key(&ui, UI_KEY_SELECT); break;
        case 'b': ui_key(&ui, UI_KEY_BACK); break;
        default: fail_msg("bad key '%c'", *k);
        }
    }
}

/* A display row without its trailing spaces. */
static const char *row(int r)
{
    static char buf[UI_ROWS][UI_COLS + 1];
    ui_render(&ui, &disp);
    assert_int_equal(strlen(disp.text[r]), UI_COLS);
    memcpy(buf[r], disp.text[r], UI_COLS + 1);
    for (int c = UI_COLS - 1; c >= 0 && buf[r][c] == ' '; c--)
        buf[r][c] = '\0';
    return buf[r];
}

/* The screen must read exactly r0 / r1 (trailing spaces aside). */
#define SCREEN(r0, r1) screen_is(r0, r1, __LINE__)
static void screen_is(const char *r0, const char *r1, int line)
{
    const char *a = row(0), *b = row(1);
    if (strcmp(a, r0) != 0 || strcmp(b, r1) != 0) {
        printf("line %d: want [%s] / [%s]\n         got  [%s] / [%s]\n", line, r0, r1, a, b);
        fail();
    }
}

/* Row 0 as the layout puts it: label at column 0, qualifier at 6, the right part
 * ending at column 15. */
static const char *t0(const char *label, const char *tag, const char *right)
{
    static char buf[4][UI_COLS + 1];
    static int k;
    char *b = buf[k++ % 4];
    memset(b, ' ', UI_COLS);
    b[UI_COLS] = '\0';
    size_t nl = strlen(label), nt = tag ? strlen(tag) : 0, nr = right ? strlen(right) : 0;
    assert_true(nl <= 5 && nt <= 4 && nr <= 6); /* the fields' widths */
    for (size_t i = 0; i < nl && i < 5; i++)
        b[i] = label[i];
    for (size_t i = 0; i < nt && i < 4; i++)
        b[6 + i] = tag[i];
    for (size_t i = 0; i < nr && i < 6; i++)
        b[UI_COLS - nr + i] = right[i];
    for (int c = UI_COLS - 1; c >= 0 && b[c] == ' '; c--)
        b[c] = '\0';
    return b;
}

/* Row 1 as the layout puts a value: right-aligned in columns 0..9, unit from 11. */
static const char *r1(const char *value, const char *unit)
{
    static char buf[4][UI_COLS + 8];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, UI_COLS + 8, "%10s %s", value, unit);
    for (int c = (int)strlen(b) - 1; c >= 0 && b[c] == ' '; c--)
        b[c] = '\0';
    return b;
}

/* The blinking columns of row 1. */
static uint16_t blink1(void)
{
    ui_render(&ui, &disp);
    return disp.blink[1];
}

/* One metering cycle on zero input: commits pending AV writes and runs AV1 commands. */
static void run_cycle(void)
{
    static mtr_frame_t z[256];
    bool cycle = false;
    while (!cycle)
        mtr_feed(&dev.mtr, z, 256, &cycle);
    obj_cycle(&dev);
}

/* The Present_Value of an AV, as a BACnet client reads it. */
static double bacnet_av(unsigned av)
{
    uint8_t buf[16];
    bac_buf_t w, r;
    obj_err_t err;
    float f;
    bac_buf_writer(&w, buf, sizeof buf);
    assert_true(obj_read(&dev, (bac_oid_t){OBJ_AV, av}, BAC_PROP_PRESENT_VALUE, OBJ_NO_INDEX, &w,
                         &err) >= 0);
    bac_buf_reader(&r, buf, bac_pos(&w));
    assert_true(bac_dec_real(&r, &f) >= 0);
    return f;
}

/* WriteProperty Present_Value of an AV, as a BACnet client writes it. */
static int bacnet_write_av(unsigned av, float v)
{
    uint8_t buf[16];
    bac_buf_t w, r;
    obj_err_t err;
    bac_buf_writer(&w, buf, sizeof buf);
    bac_enc_real(&w, v);
    bac_buf_reader(&r, buf, bac_pos(&w));
    return obj_write(&dev, (bac_oid_t){OBJ_AV, av}, BAC_PROP_PRESENT_VALUE, OBJ_NO_INDEX, &r, 16,
                     &err);
}

/* From the home screen into a setup menu: SETUP is one up from home (the list wraps). */
static void enter_setup(const char *password_keys)
{
    keys("bu"); /* home, then SETUP */
    SCREEN("SETUP", "CONFIGURE");
    keys("s");
    SCREEN(t0("PASWD", NULL, "SETUP"), r1("00000", ""));
    keys(password_keys);
    keys("s");
}

/* Open setup menu number k (0 S BAC ... 8 S PWD) after the password. */
static void open_menu(int k)
{
    for (int i = 0; i < k; i++)
        keys("d");
    keys("s");
}

/* ---- main menu and readings ---------------------------------------------------------- */

static void test_home_and_main_menu(void **state)
{
    (void)state;
    dev.mtr.ai[MTR_AI_KWH_NET] = 1.0f;
    SCREEN("KWh   NET _PHASE", "     1.000 kWh");
    static const char *labels[] = {"KWh", "KVARh", "KVAh", "W", "VAR", "VA", "A", "VLL", "VLN",
                                   "PF", "HZ", "D", "M", "ALERT", "INFO", "RESET", "SETUP"};
    size_t n = sizeof labels / sizeof labels[0];
    for (size_t k = 0; k <= n; k++) {
        char label[6];
        memcpy(label, row(0), 5);
        label[5] = '\0';
        for (int c = 4; c >= 0 && (label[c] == ' ' || label[c] == '\0'); c--)
            label[c] = '\0';
        assert_string_equal(label, labels[k % n]);
        keys("d");
    }
    /* Up from home wraps to SETUP; BACK anywhere in the main menu goes home. */
    keys("b");
    keys("u");
    SCREEN("SETUP", "CONFIGURE");
    keys("uu");
    SCREEN("INFO", "UNIT INFO");
    keys("b");
    SCREEN("KWh   NET _PHASE", "     1.000 kWh");
    assert_false(disp.wrench);
}

typedef struct {
    const char *label, *tag, *right; /* row 0 */
    const char *value, *unit;        /* row 1 */
} shown_t;
#define SHOWN(s) SCREEN(t0((s).label, (s).tag, (s).right), r1((s).value, (s).unit))

/* Each group: what the main menu shows (its summary) and then SELECT, DOWN... through
 * all its screens, wrapping back to the summary. */
static void walk_group(int top, const shown_t *s, size_t n)
{
    keys("b");
    for (int k = 0; k < top; k++)
        keys("d");
    SHOWN(s[0]);
    if (n == 1) {
        keys("s"); /* HZ: nothing more to open */
        SHOWN(s[0]);
        return;
    }
    keys("s");
    for (size_t k = 1; k <= n; k++) {
        SHOWN(s[k % n]);
        keys("d");
    }
    keys("uu"); /* up goes back through the list */
    SHOWN(s[n - 1]);
    keys("b");
    SHOWN(s[0]);
}
#define WALK(top, ...)                                                                       \
    do {                                                                                     \
        static const shown_t s_[] = {__VA_ARGS__};                                           \
        walk_group(top, s_, sizeof s_ / sizeof s_[0]);                                       \
    } while (0)

static void test_every_data_screen(void **state)
{
    (void)state;
    /* Every AI k reads k (PF k/100), so each screen shows which AI it is. */
    for (int k = 1; k <= MTR_AI_COUNT; k++)
        dev.mtr.ai[k] = (float)k;
    for (int k = 0; k < 3; k++)
        dev.mtr.ai[MTR_AI_PF_A + k] = (float)(MTR_AI_PF_A + k) / 100.0f;
    dev.mtr.ai[MTR_AI_PF] = 0.14f;

    WALK(0, {"KWh", "NET", "_PHASE", "1.000", "kWh"}, {"KWh", "IMP", "_PHASE", "2.000", "kWh"},
         {"KWh", "EXP", "_PHASE", "3.000", "kWh"}, {"KWh", "IMP", "A", "31.000", "kWh"},
         {"KWh", "IMP", "B", "32.000", "kWh"}, {"KWh", "IMP", "C", "33.000", "kWh"},
         {"KWh", "EXP", "A", "34.000", "kWh"}, {"KWh", "EXP", "B", "35.000", "kWh"},
         {"KWh", "EXP", "C", "36.000", "kWh"});
    WALK(1, {"KVARh", "Q1", "_PHASE", "4.000", "kVARh"}, {"KVARh", "Q2", "_PHASE", "5.000", "kVARh"},
         {"KVARh", "Q3", "_PHASE", "6.000", "kVARh"}, {"KVARh", "Q4", "_PHASE", "7.000", "kVARh"},
         {"KVARh", "Q1", "A", "37.000", "kVARh"}, {"KVARh", "Q1", "B", "38.000", "kVARh"},
         {"KVARh", "Q1", "C", "39.000", "kVARh"}, {"KVARh", "Q2", "A", "40.000", "kVARh"},
         {"KVARh", "Q2", "B", "41.000", "kVARh"}, {"KVARh", "Q2", "C", "42.000", "kVARh"},
         {"KVARh", "Q3", "A", "43.000", "kVARh"}, {"KVARh", "Q3", "B", "44.000", "kVARh"},
         {"KVARh", "Q3", "C", "45.000", "kVARh"}, {"KVARh", "Q4", "A", "46.000", "kVARh"},
         {"KVARh", "Q4", "B", "47.000", "kVARh"}, {"KVARh", "Q4", "C", "48.000", "kVARh"});
    WALK(2, {"KVAh", "NET", "_PHASE", "8.000", "kVAh"}, {"KVAh", "IMP", "_PHASE", "9.000", "kVAh"},
         {"KVAh", "EXP", "_PHASE", "10.000", "kVAh"}, {"KVAh", "IMP", "A", "49.000", "kVAh"},
         {"KVAh", "IMP", "B", "50.000", "kVAh"}, {"KVAh", "IMP", "C", "51.000", "kVAh"},
         {"KVAh", "EXP", "A", "52.000", "kVAh"}, {"KVAh", "EXP", "B", "53.000", "kVAh"},
         {"KVAh", "EXP", "C", "54.000", "kVAh"});
    WALK(3, {"W", NULL, "_PHASE", "11.000", "kW"}, {"W", NULL, "A", "55.000", "kW"},
         {"W", NULL, "B", "56.000", "kW"}, {"W", NULL, "C", "57.000", "kW"});
    WALK(4, {"VAR", NULL, "_PHASE", "12.000", "kVAR"}, {"VAR", NULL, "A", "58.000", "kVAR"},
         {"VAR", NULL, "B", "59.000", "kVAR"}, {"VAR", NULL, "C", "60.000", "kVAR"});
    WALK(5, {"VA", NULL, "_PHASE", "13.000", "kVA"}, {"VA", NULL, "A", "61.000", "kVA"},
         {"VA", NULL, "B", "62.000", "kVA"}, {"VA", NULL, "C", "63.000", "kVA"});
    WALK(6, {"A", NULL, "_PHASE", "17.00", "A"}, {"A", NULL, "A", "73.00", "A"},
         {"A", NULL, "B", "74.00", "A"}, {"A", NULL, "C", "75.00", "A"});
    WALK(7, {"VLL", NULL, "_PHASE", "15.0", "V"}, {"VAB", NULL, NULL, "67.0", "V"}, {"VBC", NULL, NULL, "68.0", "V"},
         {"VAC", NULL, NULL, "69.0", "V"});
    WALK(8, {"VLN", NULL, "_PHASE", "16.0", "V"}, {"VLN", NULL, "AN", "70.0", "V"},
         {"VLN", NULL, "BN", "71.0", "V"}, {"VLN", NULL, "CN", "72.0", "V"});
    WALK(9, {"PF", NULL, "_PHASE", "0.140", ""}, {"PF", NULL, "A", "0.640", ""},
         {"PF", NULL, "B", "0.650", ""}, {"PF", NULL, "C", "0.660", ""});
    WALK(10, {"HZ", NULL, NULL, "18.00", "Hz"});
    WALK(11, {"D", "W", NULL, "19.000", "kW"}, {"D", "VAR", NULL, "20.000", "kVAR"},
         {"D", "VA", NULL, "21.000", "kVA"});
    WALK(12, {"M", "W", "IMP", "22.000", "kW"}, {"M", "VAR", "IMP", "23.000", "kVAR"},
         {"M", "VA", "IMP", "24.000", "kVA"}, {"M", "W", "EXP", "25.000", "kW"},
         {"M", "VAR", "EXP", "26.000", "kVAR"}, {"M", "VA", "EXP", "27.000", "kVA"});
    /* The rows in full, as the LCD has them. */
    SCREEN("M     W      IMP", "    22.000 kW");
}

static void test_iec_labels(void **state)
{
    (void)state;
    for (int k = 1; k <= MTR_AI_COUNT; k++)
        dev.mtr.ai[k] = 1.5f;
    /* AV7 = 0 over BACnet: the panel's labels follow at once. */
    assert_int_equal(bacnet_write_av(7, 0.0f), BAC_OK);
    SCREEN(t0("KPh", "NET", "_PHASE"), r1("1.500", "kWh"));
    keys("d");
    SCREEN(t0("KQh", "Q1", "_PHASE"), r1("1.500", "kvarh"));
    keys("d");
    SCREEN(t0("KSh", "NET", "_PHASE"), r1("1.500", "kVAh"));
    keys("d");
    SCREEN(t0("P", NULL, "_PHASE"), r1("1.500", "kW"));
    keys("d");
    SCREEN(t0("Q", NULL, "_PHASE"), r1("1.500", "kvar"));
    keys("d");
    SCREEN(t0("S", NULL, "_PHASE"), r1("1.500", "kVA"));
    keys("dd");
    SCREEN(t0("U", NULL, "_PHASE"), r1("1.5", "V"));
    keys("s");
    SCREEN("UAB", r1("1.5", "V"));
    keys("d");
    SCREEN("UBC", r1("1.5", "V"));
    keys("d");
    SCREEN("UAC", r1("1.5", "V"));
    keys("bd");
    SCREEN(t0("V", NULL, "_PHASE"), r1("1.5", "V"));
    keys("ddd");
    SCREEN(t0("D", "P", NULL), r1("1.500", "kW"));
    keys("sd");
    SCREEN(t0("D", "S", NULL), r1("1.500", "kVA"));
    keys("bd");
    SCREEN(t0("MAX", "P", "IMP"), r1("1.500", "kW"));
    keys("s");
    SCREEN(t0("MAX", "Q", "IMP"), r1("1.500", "kvar"));
    /* Back to IEEE. */
    assert_int_equal(bacnet_write_av(7, 1.0f), BAC_OK);
    SCREEN(t0("M", "VAR", "IMP"), r1("1.500", "kVAR"));
}

/* Energy (kWh in the AI) and power (kW) range from W/Wh up to GW/GWh. */
static void test_auto_ranging(void **state)
{
    (void)state;
    static const struct {
        float kwh;
        const char *value, *unit;
    } e[] = {
        {0.0f, "0.000", "Wh"},        {0.000999f, "0.999", "Wh"},   {0.999f, "999.00", "Wh"},
        {0.99999f, "999.99", "Wh"},   {0.999996f, "1.000", "kWh"},  {1.0f, "1.000", "kWh"},
        {12.3456f, "12.346", "kWh"},  {999.99f, "999.99", "kWh"},   {1000.0f, "1.000", "MWh"},
        {123456.7f, "123.46", "MWh"}, {1e6f, "1.000", "GWh"},       {5e10f, "50000", "GWh"},
        {2e11f, "OVER", "GWh"},        {-0.5f, "-500.00", "Wh"},     {-1234.6f, "-1.235", "MWh"},
        {-0.0000001f, "0.000", "Wh"},
        /* Rounded from the float's exact value: a decimal tie goes up (563.305 MWh), where
         * dividing in binary floating point would land just below it and round down. */
        {563305.0f, "563.31", "MWh"}, {INFINITY, "OVER", "GWh"},  {1e-40f, "0.000", "Wh"},
        {NAN, "----", ""}, /* last: the screen below still shows it */
    };
    for (size_t k = 0; k < sizeof e / sizeof e[0]; k++) {
        dev.mtr.ai[MTR_AI_KWH_NET] = e[k].kwh;
        SCREEN("KWh   NET _PHASE", r1(e[k].value, e[k].unit));
    }
    SCREEN("KWh   NET _PHASE", "      ----");
    keys("ddd"); /* W */
    static const struct {
        float kw;
        const char *value, *unit;
    } p[] = {
        {0.0005f, "0.500", "W"}, {2.5f, "2.500", "kW"}, {-1500.0f, "-1.500", "MW"},
        {99.9999f, "100.00", "kW"}, {65501.5f, "65.502", "MW"},
    };
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++) {
        dev.mtr.ai[MTR_AI_KW] = p[k].kw;
        SCREEN(t0("W", NULL, "_PHASE"), r1(p[k].value, p[k].unit));
    }
    /* Volts, amps, PF and Hz keep their unit and a fixed number of decimals. */
    keys("ddd");
    dev.mtr.ai[MTR_AI_I_AVG] = 0.1234f;
    SCREEN(t0("A", NULL, "_PHASE"), r1("0.12", "A"));
    keys("d");
    dev.mtr.ai[MTR_AI_VLL_AVG] = 480.04f;
    SCREEN(t0("VLL", NULL, "_PHASE"), r1("480.0", "V"));
    dev.mtr.ai[MTR_AI_VLL_AVG] = 32000.0f;
    SCREEN(t0("VLL", NULL, "_PHASE"), r1("32000", "V"));
    keys("dd");
    dev.mtr.ai[MTR_AI_PF] = -0.5f;
    SCREEN(t0("PF", NULL, "_PHASE"), "    -0.500");
    keys("d");
    dev.mtr.ai[MTR_AI_FREQ] = 59.996f;
    SCREEN("HZ", r1("60.00", "Hz"));
}

/* A type 10 meter (1L+1n) has no phase B or C: the engine reads QNAN, the panel ----. */
static void test_type10_shows_dashes(void **state)
{
    (void)state;
    start("SN10", 10);
    run_cycle();
    assert_true(isnan(dev.mtr.ai[MTR_AI_KW_A + 1]));
    keys("ddds");
    SCREEN(t0("W", NULL, "A"), r1("0.000", "W"));
    keys("d");
    SCREEN(t0("W", NULL, "B"), "      ----");
    keys("d");
    SCREEN(t0("W", NULL, "C"), "      ----");
    keys("bdddd"); /* VLL: there is no line-to-line voltage on a type 10 */
    SCREEN(t0("VLL", NULL, "_PHASE"), "      ----");
    keys("ds");
    SCREEN(t0("VLN", NULL, "AN"), r1("0.0", "V"));
    keys("d");
    SCREEN(t0("VLN", NULL, "BN"), "      ----");
}

/* ---- ALERT and INFO ---------------------------------------------------------------------- */

static void test_alerts(void **state)
{
    (void)state;
    keys("uuuu"); /* up from home: SETUP, RESET, INFO, ALERT */
    dev.mtr.alarms = 0;
    SCREEN("ALERT", "NONE");
    assert_false(disp.wrench);
    dev.mtr.alarms = MTR_BIT(MTR_BI_PHASE_LOSS_A) | MTR_BIT(MTR_BI_PHASE_LOSS_C) |
                     MTR_BIT(MTR_BI_FREQ_ERR);
    SCREEN("ALERT", "2 ACTIVE");
    assert_true(disp.wrench);
    keys("s");
    SCREEN("PLOSS", "ACTIVE A C");
    keys("d");
    SCREEN("LOWPF", "OK");
    keys("d");
    SCREEN("FERR", "ACTIVE");
    keys("d");
    SCREEN("I OVR", "OK");
    keys("d");
    SCREEN("V OVR", "OK");
    keys("d");
    SCREEN("RTC", "OK");
    keys("d");
    SCREEN("PLOSS", "ACTIVE A C");
    keys("u");
    SCREEN("RTC", "OK");
    /* Every kind, every phase. */
    dev.mtr.alarms = 0x7FFF;
    SCREEN("RTC", "ACTIVE");
    keys("u");
    SCREEN("V OVR", "ACTIVE A B C");
    keys("u");
    SCREEN("I OVR", "ACTIVE A B C");
    keys("uu");
    SCREEN("LOWPF", "ACTIVE A B C");
    keys("b");
    SCREEN("ALERT", "6 ACTIVE");
    /* RTC reset alone is listed but is no input problem: no wrench (as the alarm output). */
    dev.mtr.alarms = MTR_BIT(MTR_BI_RTC_RESET);
    SCREEN("ALERT", "1 ACTIVE");
    assert_false(disp.wrench);
}

static void test_info(void **state)
{
    (void)state;
    keys("uuu");
    SCREEN("INFO", "UNIT INFO");
    keys("s");
    SCREEN("MODEL", r1("S4100", ""));
    keys("d");
    SCREEN("OS", r1("1.000", ""));
    keys("d");
    SCREEN("RS", r1("1.000", ""));
    keys("d");
    SCREEN("SN", r1("SN42", ""));
    keys("d");
    SCREEN("MODEL", r1("S4100", ""));
    keys("b");
    SCREEN("INFO", "UNIT INFO");
    /* A serial number longer than the value field takes the whole row. */
    start("ABCDEFGHIJKLMNOP", 40);
    keys("uuusu");
    SCREEN("SN", "ABCDEFGHIJKLMNOP");
}

/* ---- RESET ---------------------------------------------------------------------------- */

static void test_reset_wrong_password(void **state)
{
    (void)state;
    keys("uu");
    SCREEN("RESET", "RESET DATA");
    keys("s");
    SCREEN(t0("PASWD", NULL, "RESET"), r1("00000", ""));
    assert_int_equal(blink1(), 1u << 9); /* the rightmost digit blinks */
    keys("u");
    SCREEN(t0("PASWD", NULL, "RESET"), r1("00001", ""));
    keys("s");
    SCREEN("PASWD", "WRONG");
    ui_tick(&ui, UI_MESSAGE_MS - 1);
    SCREEN("PASWD", "WRONG");
    ui_tick(&ui, 1);
    SCREEN("RESET", "RESET DATA");
    assert_int_equal(dev.mtr.pending, 0);
    /* BACK on the password screen leaves without asking. */
    keys("sb");
    SCREEN("RESET", "RESET DATA");
}

static void test_reset_energy_and_demand(void **state)
{
    (void)state;
    mtr_energy_add(&dev.mtr.nv.e[MTR_E_KWH_IMP], 3.6e6); /* 1 kWh */
    dev.mtr.nv.max_dem[0] = 5.0f;
    run_cycle();
    assert_float_equal(dev.mtr.ai[MTR_AI_KWH_IMP], 1.0, 1e-6);
    assert_float_equal(dev.mtr.ai[MTR_AI_KW_MAX_IMP], 5.0, 1e-6);
    float resets = dev.mtr.ai[MTR_AI_ENERGY_RESETS];

    keys("uus");
    keys("s"); /* password 00000 */
    SCREEN(t0("ENERG", NULL, "RESET"), "CLEAR ENERGY");
    keys("s");
    SCREEN(t0("ENERG", NULL, "RESET"), "SEL=YES BACK=NO");
    keys("b"); /* cancelled: nothing happens */
    SCREEN(t0("ENERG", NULL, "RESET"), "CLEAR ENERGY");
    run_cycle();
    assert_float_equal(dev.mtr.ai[MTR_AI_KWH_IMP], 1.0, 1e-6);

    keys("ss");
    SCREEN("ENERG", "DONE");
    keys("d"); /* a key hurries the message and does nothing else */
    SCREEN(t0("ENERG", NULL, "RESET"), "CLEAR ENERGY");
    run_cycle();
    assert_float_equal(dev.mtr.ai[MTR_AI_KWH_IMP], 0.0, 0.0);
    assert_float_equal(dev.mtr.ai[MTR_AI_ENERGY_RESETS], resets + 1, 0.0);
    assert_float_equal(dev.mtr.ai[MTR_AI_KW_MAX_IMP], 5.0, 1e-6);

    keys("d");
    SCREEN(t0("DEMND", NULL, "RESET"), "RESET MAX DEM");
    keys("sb");
    run_cycle();
    assert_float_equal(dev.mtr.ai[MTR_AI_KW_MAX_IMP], 5.0, 1e-6);
    keys("ss");
    SCREEN("DEMND", "DONE");
    ui_tick(&ui, UI_MESSAGE_MS);
    SCREEN(t0("DEMND", NULL, "RESET"), "RESET MAX DEM");
    run_cycle();
    assert_float_equal(dev.mtr.ai[MTR_AI_KW_MAX_IMP], 0.0, 0.0); /* to present demand */
    keys("d");
    SCREEN(t0("ENERG", NULL, "RESET"), "CLEAR ENERGY");
    keys("b");
    SCREEN("RESET", "RESET DATA");
    /* Leaving logs out: the password is asked again. */
    keys("s");
    SCREEN(t0("PASWD", NULL, "RESET"), r1("00000", ""));
}

/* ---- SETUP ---------------------------------------------------------------------------- */

static void test_setup_password_and_menus(void **state)
{
    (void)state;
    enter_setup("du"); /* 00010: wrong */
    SCREEN("PASWD", "WRONG");
    keys("s");
    SCREEN("SETUP", "CONFIGURE");
    enter_setup("");
    static const char *menus[][2] = {
        {"S BAC", "BACNET MS/TP"}, {"S CT", "CT"},         {"S SYS", "SYSTEM TYPE"},
        {"S PT", "PT RATIO"},      {"S V", "SYSTEM VOLTAGE"}, {"S PL", "PHASE LOSS"},
        {"S DMD", "DEMAND"},       {"S DIS", "DISPLAY UNITS"}, {"S PWD", "PASSWORDS"},
    };
    /* The full row once, as the LCD has it. */
    SCREEN("S BAC      SETUP", "BACNET MS/TP");
    for (int k = 0; k <= 9; k++) {
        SCREEN(t0(menus[k % 9][0], NULL, "SETUP"), menus[k % 9][1]);
        keys("d");
    }
    keys("uu");
    SCREEN(t0("S PWD", NULL, "SETUP"), "PASSWORDS");
    keys("b");
    SCREEN("SETUP", "CONFIGURE");
    keys("s");
    SCREEN(t0("PASWD", NULL, "SETUP"), r1("00000", ""));
}

static void test_setup_bacnet(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(0);
    SCREEN("MAC        S BAC", "       001");
    assert_int_equal(blink1(), 1u << 9);
    keys("uuuu");
    SCREEN(t0("MAC", NULL, "S BAC"), r1("005", ""));
    keys("d"); /* - moves the blink one digit left */
    assert_int_equal(blink1(), 1u << 8);
    keys("s");
    assert_int_equal(dev.id.mac, 5);
    SCREEN(t0("KBAUD", NULL, "S BAC"), r1("76.8", ""));
    assert_int_equal(blink1(), 0xFu << 6); /* a choice blinks as a whole */
    keys("u");
    SCREEN(t0("KBAUD", NULL, "S BAC"), r1("115.2", ""));
    keys("u");
    SCREEN(t0("KBAUD", NULL, "S BAC"), r1("9.6", ""));
    keys("d");
    SCREEN(t0("KBAUD", NULL, "S BAC"), r1("115.2", ""));
    keys("dd");
    SCREEN(t0("KBAUD", NULL, "S BAC"), r1("38.4", ""));
    keys("s");
    assert_int_equal(dev.id.baud, 38400);
    SCREEN(t0("ID1", NULL, "S BAC"), r1("1234", ""));
    keys("dddu"); /* thousands digit 1 -> 2 */
    SCREEN(t0("ID1", NULL, "S BAC"), r1("2234", ""));
    assert_int_equal(blink1(), 1u << 6);
    keys("s");
    assert_int_equal(dev.id.instance, 1234567); /* not yet: ID2 completes it */
    SCREEN(t0("ID2", NULL, "S BAC"), r1("567", ""));
    keys("uu");
    keys("s");
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    assert_int_equal(dev.id.instance, 2234569);
    /* The BACnet view: the Device object is now Device,2234569. */
    assert_int_equal(obj_at(&dev, 0).instance, 2234569);
    assert_int_equal(obj_at(&dev, 0).type, OBJ_DEVICE);
    assert_int_equal(dev.writes, 3);
    /* Walking through without changing anything changes nothing. */
    keys("sssss");
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    assert_int_equal(dev.writes, 3);
    assert_int_equal(dev.id.instance, 2234569);
}

static void test_setup_device_id_limits(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(0);
    keys("ss"); /* MAC, KBAUD as they are */
    SCREEN(t0("ID1", NULL, "S BAC"), r1("1234", ""));
    /* 4194xxx is beyond 4,193,999 whatever ID2 is: refused at ID1. */
    keys("d" "uuuuuu" "d" "uuuuuuuuu" "d" "uuu");
    SCREEN(t0("ID1", NULL, "S BAC"), r1("4194", ""));
    keys("s");
    SCREEN("ID1", "OUT OF RANGE");
    ui_tick(&ui, UI_MESSAGE_MS);
    SCREEN(t0("ID1", NULL, "S BAC"), r1("4194", "")); /* the entry is back, to be fixed */
    assert_int_equal(dev.id.instance, 1234567);
    /* 4193 and 999: the largest instance. */
    keys("d" "uuuuuuuuu"); /* from the thousands round to the units: 4 -> 3 */
    SCREEN(t0("ID1", NULL, "S BAC"), r1("4193", ""));
    keys("s");
    SCREEN(t0("ID2", NULL, "S BAC"), r1("567", ""));
    keys("uu" "d" "uuu" "d" "uuuu");
    SCREEN(t0("ID2", NULL, "S BAC"), r1("999", ""));
    keys("s");
    assert_int_equal(dev.id.instance, 4193999);
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    /* 0000 000 is no instance: refused at ID2, and nothing changes. */
    keys("sss");
    keys("uuuuuuu" "d" "u" "d" "uuuuuuuuu" "d" "uuuuuu");
    SCREEN(t0("ID1", NULL, "S BAC"), r1("0000", ""));
    keys("s");
    keys("u" "d" "u" "d" "u");
    SCREEN(t0("ID2", NULL, "S BAC"), r1("000", ""));
    keys("s");
    SCREEN("ID2", "OUT OF RANGE");
    keys("s"); /* dismiss */
    SCREEN(t0("ID2", NULL, "S BAC"), r1("000", ""));
    keys("b"); /* cancel */
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    assert_int_equal(dev.id.instance, 4193999);
    /* A MAC above Max_Master is refused by the same rule as over BACnet. */
    assert_int_equal(obj_set_max_master(&dev, 100), OBJ_OK);
    keys("s" "dd" "u");
    SCREEN(t0("MAC", NULL, "S BAC"), r1("101", ""));
    keys("s");
    SCREEN("MAC", "OUT OF RANGE");
    keys("b");
    keys("b");
    assert_int_equal(dev.id.mac, 1);
}

static void test_setup_cancelled_edits(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(0);
    keys("uuu");
    SCREEN(t0("MAC", NULL, "S BAC"), r1("004", ""));
    keys("b");
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    assert_int_equal(dev.id.mac, 1);
    /* An ID1 accepted then ID2 cancelled: the instance stays. */
    keys("sss" "u" "s" "b");
    assert_int_equal(dev.id.instance, 1234567);
    /* S CT: CT V accepted, CT SZ cancelled: only CT V changes. */
    keys("d" "s" "u" "s" "d" "d" "u");
    SCREEN(t0("CT SZ", NULL, "S CT"), r1("00200", "A"));
    keys("b");
    SCREEN(t0("S CT", NULL, "SETUP"), "CT");
    assert_true(obj_av_value(&dev, 4) == 3.0);
    assert_true(obj_av_value(&dev, 3) == 100.0);
    assert_int_equal(dev.writes, 1);
    assert_int_equal(dev.pending_avs, 1u << 4);
}

static void test_setup_ct_and_system_type(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(1);
    SCREEN(t0("CT V", NULL, "S CT"), r1("1.0", "V"));
    keys("u");
    SCREEN(t0("CT V", NULL, "S CT"), r1(".33", "V"));
    keys("s");
    SCREEN(t0("CT SZ", NULL, "S CT"), r1("00100", "A"));
    keys("ddu");
    SCREEN(t0("CT SZ", NULL, "S CT"), r1("00200", "A"));
    keys("s");
    SCREEN(t0("S CT", NULL, "SETUP"), "CT");
    keys("d" "s");
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("3L+1n", ""));
    keys("u");
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("1L+1n", ""));
    keys("u");
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("2L", ""));
    keys("u");
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("2L+1n", ""));
    keys("u");
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("3L", ""));
    keys("ddd");
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("1L+1n", ""));
    keys("s");
    SCREEN(t0("S SYS", NULL, "SETUP"), "SYSTEM TYPE");
    /* Accepted at once (the panel shows them), committed at the next 1 s cycle as a
     * BACnet write is: then BACnet reads them too. */
    assert_true(obj_av_value(&dev, 2) == 10.0);
    assert_true(obj_av_value(&dev, 3) == 200.0);
    assert_true(obj_av_value(&dev, 4) == 3.0);
    run_cycle();
    assert_true(bacnet_av(2) == 10.0);
    assert_true(bacnet_av(3) == 200.0);
    assert_true(bacnet_av(4) == 3.0);
    assert_int_equal(dev.mtr.cfg.system_type, 10);
    assert_int_equal(dev.writes, 3);
}

static void test_setup_pt_voltage_and_max_power(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(4);
    SCREEN(t0("V LL", NULL, "S V"), r1("00600", "V"));
    /* 81 V: below 82 x PT 1. */
    keys("u" "d" "uuuuuuuu" "d" "uuuu");
    SCREEN(t0("V LL", NULL, "S V"), r1("00081", "V"));
    keys("s");
    SCREEN("V LL", "OUT OF RANGE");
    ui_tick(&ui, UI_MESSAGE_MS);
    SCREEN(t0("V LL", NULL, "S V"), r1("00081", "V"));
    /* 1081 V: above 660 x PT 1. */
    keys("du");
    SCREEN(t0("V LL", NULL, "S V"), r1("01081", "V"));
    keys("s");
    SCREEN("V LL", "OUT OF RANGE");
    keys("b" "b");
    SCREEN(t0("S V", NULL, "SETUP"), "SYSTEM VOLTAGE");
    assert_true(obj_av_value(&dev, 6) == 600.0);
    assert_int_equal(dev.pending_avs, 0);
    /* PT 2:1 first (S PT comes before S V), then 1081 V is within 164..1320. */
    keys("u" "s");
    SCREEN(t0("RATIO", NULL, "S PT"), r1("001.00", ":1"));
    assert_int_equal(blink1(), 1u << 9);
    keys("dd");
    assert_int_equal(blink1(), 1u << 6); /* the point is skipped */
    keys("u");
    SCREEN(t0("RATIO", NULL, "S PT"), r1("002.00", ":1"));
    keys("s");
    assert_true(obj_av_value(&dev, 5) == 2.0);
    keys("d" "s" "u" "d" "uuuuuuuu" "d" "uuuu" "d" "u");
    SCREEN(t0("V LL", NULL, "S V"), r1("01081", "V"));
    keys("s");
    assert_true(obj_av_value(&dev, 6) == 1081.0);
    /* MX KW: sqrt(3) x 1081 V x 100 A, read-only; +/- do nothing, SELECT moves on. */
    SCREEN(t0("MX KW", NULL, "S V"), r1("187.23", "kW"));
    keys("ud");
    SCREEN(t0("MX KW", NULL, "S V"), r1("187.23", "kW"));
    assert_int_equal(blink1(), 0);
    keys("s");
    SCREEN(t0("S V", NULL, "SETUP"), "SYSTEM VOLTAGE");
    run_cycle();
    assert_true(bacnet_av(5) == 2.0);
    assert_true(bacnet_av(6) == 1081.0);
    assert_float_equal(dev.mtr.ai[MTR_AI_MAX_POWER], 187.23, 0.01);
    /* Type 10: the system voltage is line to neutral. */
    assert_int_equal(bacnet_write_av(2, 10.0f), BAC_OK);
    keys("s");
    SCREEN(t0("V LN", NULL, "S V"), r1("01081", "V"));
    keys("b");
}

static void test_setup_phase_loss_demand_units(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(5);
    SCREEN(t0("VOLTS", NULL, "S PL"), r1("0.10", ""));
    assert_int_equal(blink1(), 1u << 9);
    keys("u");
    SCREEN(t0("VOLTS", NULL, "S PL"), r1("0.11", ""));
    keys("s");
    SCREEN(t0("IMBAL", NULL, "S PL"), r1("0.25", ""));
    keys("uuuuu" "d" "uuuuuuuu");
    SCREEN(t0("IMBAL", NULL, "S PL"), r1("0.00", ""));
    assert_int_equal(blink1(), 1u << 8);
    keys("s");
    SCREEN("IMBAL", "OUT OF RANGE");
    keys("s" "b");
    SCREEN(t0("S PL", NULL, "SETUP"), "PHASE LOSS");
    assert_true(obj_av_value(&dev, 8) == 11.0);
    assert_true(obj_av_value(&dev, 9) == 25.0);

    keys("d" "s");
    SCREEN(t0("INTRV", NULL, "S DMD"), r1("1", ""));
    keys("uuuuuu");
    SCREEN(t0("INTRV", NULL, "S DMD"), r1("7", ""));
    keys("s");
    SCREEN("INTRV", "OUT OF RANGE");
    keys("u"); /* dismissed */
    keys("uuuuu");
    SCREEN(t0("INTRV", NULL, "S DMD"), r1("2", ""));
    keys("s");
    SCREEN(t0("SEC", NULL, "S DMD"), r1("00900", "s"));
    /* 5 s: neither 0 (sync to comms) nor 10..32767. */
    keys("ddu" "ddd" "uuuuu");
    SCREEN(t0("SEC", NULL, "S DMD"), r1("00005", "s"));
    keys("s");
    SCREEN("SEC", "OUT OF RANGE");
    keys("s" "uuuuu");
    SCREEN(t0("SEC", NULL, "S DMD"), r1("00000", "s"));
    keys("s");
    SCREEN(t0("S DMD", NULL, "SETUP"), "DEMAND");
    run_cycle();
    assert_true(bacnet_av(10) == 2.0);
    assert_true(bacnet_av(11) == 0.0);
    /* 15 min back, as hundredths in AV11. */
    keys("s" "s" "dd" "uuuuuuuuu");
    SCREEN(t0("SEC", NULL, "S DMD"), r1("00900", "s"));
    keys("s");
    assert_true(obj_av_value(&dev, 11) == 90000.0);
    /* Walking through unchanged writes nothing (AV11 again would restart demand). */
    run_cycle();
    uint32_t before = dev.writes;
    keys("ss" "s");
    assert_int_equal(dev.pending_avs, 0);
    assert_int_equal(dev.writes, before);

    keys("d" "s");
    SCREEN(t0("UNITS", NULL, "S DIS"), r1("IEEE", ""));
    keys("u");
    SCREEN(t0("UNITS", NULL, "S DIS"), r1("IEC", ""));
    keys("s");
    assert_true(obj_av_value(&dev, 7) == 0.0);
    keys("bb");
    dev.mtr.ai[MTR_AI_KWH_NET] = 2.0f;
    SCREEN(t0("KPh", "NET", "_PHASE"), r1("2.000", "kWh"));
    run_cycle();
    assert_true(bacnet_av(7) == 0.0);
}

static void test_setup_passwords(void **state)
{
    (void)state;
    enter_setup("");
    open_menu(8);
    SCREEN(t0("SETUP", NULL, "S PWD"), r1("00000", ""));
    keys("u" "d" "uu");
    SCREEN(t0("SETUP", NULL, "S PWD"), r1("00021", ""));
    keys("s");
    SCREEN(t0("RESET", NULL, "S PWD"), r1("00000", ""));
    keys("dddd" "u" "s");
    SCREEN(t0("S PWD", NULL, "SETUP"), "PASSWORDS");
    assert_int_equal(dev.id.setup_password, 21);
    assert_int_equal(dev.id.reset_password, 10000);
    assert_int_equal(dev.writes, 2); /* counted like any setting, so the host saves them */
    keys("b");
    /* The old password no longer opens SETUP; the new one does. */
    enter_setup("");
    SCREEN("PASWD", "WRONG");
    ui_tick(&ui, UI_MESSAGE_MS);
    enter_setup("u" "d" "uu");
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    keys("b" "u");
    SCREEN("RESET", "RESET DATA");
    keys("s" "dddd" "u" "s");
    SCREEN(t0("ENERG", NULL, "RESET"), "CLEAR ENERGY");
}

/* docs/panel.md's commissioning walk-through, key for key, then the BACnet view. */
static void test_commissioning_walkthrough(void **state)
{
    (void)state;
    keys("u" "s" "s");                 /* 1. SETUP, PASWD 00000, S BAC */
    SCREEN(t0("S BAC", NULL, "SETUP"), "BACNET MS/TP");
    keys("s" "uuuu" "s" "d" "s");      /* 2. MAC 005, KBAUD 38.4 */
    SCREEN(t0("ID1", NULL, "S BAC"), r1("1234", ""));
    keys("ddd" "u" "s" "s");           /*    ID1 2234, ID2 567 */
    keys("d" "s" "u" "s" "dd" "u" "s"); /* 3. CT V .33, CT SZ 00200 */
    keys("d" "s" "uuu");               /* 4. SYSTM */
    SCREEN(t0("SYSTM", NULL, "S SYS"), r1("2L+1n", ""));
    keys("s" "b" "b");                 /* 5. home */
    dev.mtr.ai[MTR_AI_KWH_NET] = 0.0f;
    SCREEN("KWh   NET _PHASE", r1("0.000", "Wh"));
    run_cycle();
    assert_int_equal(dev.id.mac, 5);
    assert_int_equal(dev.id.baud, 38400);
    assert_int_equal(obj_at(&dev, 0).instance, 2234567);
    assert_true(bacnet_av(2) == 12.0);
    assert_true(bacnet_av(3) == 200.0);
    assert_true(bacnet_av(4) == 3.0);
}

/* A BACnet write shows on the panel: one state. */
static void test_bacnet_to_panel(void **state)
{
    (void)state;
    assert_int_equal(bacnet_write_av(3, 250.0f), BAC_OK);
    assert_int_equal(bacnet_write_av(11, 60000.0f), BAC_OK);
    assert_int_not_equal(bacnet_write_av(3, 4.0f), BAC_OK); /* refused: nothing changes */
    assert_int_equal(obj_set_instance(&dev, 42), OBJ_OK);
    assert_int_equal(obj_set_mac(&dev, 17), OBJ_OK);
    enter_setup("");
    open_menu(0);
    SCREEN(t0("MAC", NULL, "S BAC"), r1("017", ""));
    keys("ss");
    SCREEN(t0("ID1", NULL, "S BAC"), r1("0000", ""));
    keys("s");
    SCREEN(t0("ID2", NULL, "S BAC"), r1("042", ""));
    keys("sd" "s" "s");
    SCREEN(t0("CT SZ", NULL, "S CT"), r1("00250", "A"));
    keys("b" "ddddd" "ss");
    SCREEN(t0("SEC", NULL, "S DMD"), r1("00600", "s"));
}

/* ---- time ------------------------------------------------------------------------------ */

static void test_blink_heartbeat_and_idle(void **state)
{
    (void)state;
    ui_render(&ui, &disp);
    assert_true(disp.heart);
    ui_tick(&ui, 500);
    ui_render(&ui, &disp);
    assert_false(disp.heart);
    ui_tick(&ui, 500);
    ui_render(&ui, &disp);
    assert_true(disp.heart);

    enter_setup("");
    open_menu(0);
    keys("u");
    ui_render(&ui, &disp);
    assert_true(disp.blink_on); /* lit right after a key */
    ui_tick(&ui, UI_BLINK_MS - 1);
    ui_render(&ui, &disp);
    assert_true(disp.blink_on);
    ui_tick(&ui, 1);
    ui_render(&ui, &disp);
    assert_false(disp.blink_on);
    ui_tick(&ui, UI_BLINK_MS);
    ui_render(&ui, &disp);
    assert_true(disp.blink_on);
    keys("u");
    SCREEN(t0("MAC", NULL, "S BAC"), r1("003", ""));
    /* Left alone for 5 minutes: home, the edit dropped, logged out. */
    ui_tick(&ui, UI_IDLE_MS - 1);
    SCREEN(t0("MAC", NULL, "S BAC"), r1("003", ""));
    ui_tick(&ui, 1);
    dev.mtr.ai[MTR_AI_KWH_NET] = 0.0f;
    SCREEN("KWh   NET _PHASE", r1("0.000", "Wh"));
    assert_int_equal(dev.id.mac, 1);
    keys("us");
    SCREEN(t0("PASWD", NULL, "SETUP"), r1("00000", ""));
    /* A long tick in one go is the same. */
    ui_tick(&ui, 3600000u);
    SCREEN("KWh   NET _PHASE", r1("0.000", "Wh"));
    /* Browsing data screens also returns home. */
    keys("dds");
    ui_tick(&ui, UI_IDLE_MS);
    SCREEN("KWh   NET _PHASE", r1("0.000", "Wh"));
}

static void test_key_names(void **state)
{
    (void)state;
    ui_key_t k;
    assert_true(ui_key_parse("up", &k));
    assert_int_equal(k, UI_KEY_UP);
    assert_true(ui_key_parse("-", &k));
    assert_int_equal(k, UI_KEY_DOWN);
    assert_true(ui_key_parse("select", &k));
    assert_int_equal(k, UI_KEY_SELECT);
    assert_true(ui_key_parse("enter", &k));
    assert_int_equal(k, UI_KEY_SELECT);
    assert_true(ui_key_parse("back", &k));
    assert_int_equal(k, UI_KEY_BACK);
    assert_false(ui_key_parse("left", &k));
    assert_false(ui_key_parse("", &k));
    /* An out-of-range key value is ignored. */
    ui_key(&ui, (ui_key_t)7);
    dev.mtr.ai[MTR_AI_KWH_NET] = 1.0f;
    SCREEN("KWh   NET _PHASE", r1("1.000", "kWh"));
}

/* Two panels on two meters do not share anything. */
static void test_independent_panels(void **state)
{
    (void)state;
    static obj_device_t dev2;
    ui_t ui2;
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "OTHER");
    mtr_config_default(&cfg);
    obj_init(&dev2, &id, &cfg, NULL);
    ui_init(&ui2, &dev2);
    ui_key(&ui2, UI_KEY_UP);
    ui_display_t d2;
    ui_render(&ui2, &d2);
    assert_memory_equal(d2.text[0], "SETUP", 5);
    dev.mtr.ai[MTR_AI_KWH_NET] = 1.0f;
    SCREEN("KWh   NET _PHASE", r1("1.000", "kWh"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_home_and_main_menu, setup),
        cmocka_unit_test_setup(test_every_data_screen, setup),
        cmocka_unit_test_setup(test_iec_labels, setup),
        cmocka_unit_test_setup(test_auto_ranging, setup),
        cmocka_unit_test_setup(test_type10_shows_dashes, setup),
        cmocka_unit_test_setup(test_alerts, setup),
        cmocka_unit_test_setup(test_info, setup),
        cmocka_unit_test_setup(test_reset_wrong_password, setup),
        cmocka_unit_test_setup(test_reset_energy_and_demand, setup),
        cmocka_unit_test_setup(test_setup_password_and_menus, setup),
        cmocka_unit_test_setup(test_setup_bacnet, setup),
        cmocka_unit_test_setup(test_setup_device_id_limits, setup),
        cmocka_unit_test_setup(test_setup_cancelled_edits, setup),
        cmocka_unit_test_setup(test_setup_ct_and_system_type, setup),
        cmocka_unit_test_setup(test_setup_pt_voltage_and_max_power, setup),
        cmocka_unit_test_setup(test_setup_phase_loss_demand_units, setup),
        cmocka_unit_test_setup(test_setup_passwords, setup),
        cmocka_unit_test_setup(test_commissioning_walkthrough, setup),
        cmocka_unit_test_setup(test_bacnet_to_panel, setup),
        cmocka_unit_test_setup(test_blink_heartbeat_and_idle, setup),
        cmocka_unit_test_setup(test_key_names, setup),
        cmocka_unit_test_setup(test_independent_panels, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
