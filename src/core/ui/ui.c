/*
 * The front panel: screens as tables (main menu, readings, alerts, info, reset
 * commands, setup menus and their parameters) and one small render/key pair per kind
 * of screen. docs/panel.md is the map a technician follows; this file is that map.
 */
#include "ui.h"

#include <math.h>
#include <string.h>

/* ---- kinds of screens --------------------------------------------------------------- */

enum {
    UI_M_TOP,      /* the main menu: KWh ... SETUP */
    UI_M_DATA,     /* the readings of one group (per phase, per register) */
    UI_M_ALERT,    /* the alert list */
    UI_M_INFO,     /* MODEL, OS, RS, SN */
    UI_M_PASSWORD, /* PASWD before RESET or SETUP */
    UI_M_RESET,    /* ENERG, DEMND */
    UI_M_CONFIRM,  /* "are you sure" for a reset command */
    UI_M_SETUP,    /* S BAC ... S PWD */
    UI_M_PARAM,    /* one setup parameter, being edited */
    UI_M_MESSAGE,  /* DONE / WRONG / OUT OF RANGE, for UI_MESSAGE_MS */
    UI_M_COUNT
};

enum { UI_PW_NONE, UI_PW_SETUP, UI_PW_RESET };

#define UI_IEC 0
#define UI_IEEE 1
#define N(a) ((uint8_t)(sizeof(a) / sizeof((a)[0])))
#define SAME(s) {s, s}

/* ---- units and the number format -------------------------------------------------- */

/* How a reading is shown. The AIs hold power in kW and energy in kWh; scale brings them
 * to W and Wh, from which the display ranges up through k, M and G. */
typedef struct {
    const char *name[2]; /* [UI_IEC], [UI_IEEE]: IEC writes reactive units as var */
    bool prefixed;       /* auto-ranging W -> kW -> MW -> GW */
    uint8_t maxdec;      /* most decimals worth showing */
    uint16_t scale;      /* AI value -> base unit */
} ui_unit_t;

enum { U_NONE, U_W, U_VAR, U_VA, U_WH, U_VARH, U_VAH, U_V, U_A, U_HZ, U_COUNT };

static const ui_unit_t units[U_COUNT] = {
    /* PF: no unit, three decimals (0.987, -1.000). */
    [U_NONE] = {SAME(""), false, 3, 1},
    /* Three decimals after a prefix: 999.00 Wh becomes 1.000 kWh, so the step to the
     * next unit keeps the resolution of the last (1 Wh) instead of jumping to 10 Wh. */
    [U_W] = {SAME("W"), true, 3, 1000},
    [U_VAR] = {{"var", "VAR"}, true, 3, 1000},
    [U_VA] = {SAME("VA"), true, 3, 1000},
    [U_WH] = {SAME("Wh"), true, 3, 1000},
    [U_VARH] = {{"varh", "VARh"}, true, 3, 1000},
    [U_VAH] = {SAME("VAh"), true, 3, 1000},
    [U_V] = {SAME("V"), false, 1, 1},
    [U_A] = {SAME("A"), false, 2, 1},
    [U_HZ] = {SAME("Hz"), false, 2, 1},
};

/* The numeric field: five digits, a decimal point and a sign, like the meter's LCD. */
#define UI_DIGITS 5
static const uint32_t pow10u[] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u};
static const char prefixes[] = " kMG";

/* Small string helpers (no stdio in the core). */
static void scopy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* r as decimal digits with a point before the last dec of them (at least one digit
 * before the point); appended at out, returns the new end. */
static char *put_fixed(char *out, uint32_t r, int dec)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + r % 10);
        r /= 10;
    } while (r || n <= dec);
    while (n > 0) {
        *out++ = tmp[--n];
        if (n == dec && dec > 0)
            *out++ = '.';
    }
    *out = '\0';
    return out;
}

/* A reading's magnitude as n x 2^e, exactly: the LCD rounds it in integers, right for
 * every float and with no double arithmetic (the target's FPU is single precision). */
typedef struct {
    uint64_t n; /* < 2^34: a float's 24-bit significand times the unit's scale */
    int e;
} exact_t;

static exact_t exact_of(float v, uint16_t scale)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    uint32_t be = u >> 23 & 0xFFu, mant = u & 0x7FFFFFu;
    exact_t x = {(uint64_t)(be ? mant | 0x800000u : mant) * scale, be ? (int)be - 150 : -149};
    return x;
}

#define SCALED_MAX (UINT64_C(1) << 62)

/* floor(x 10^k), or with half floor(x 10^k + 1/2), for k in -9..3; SCALED_MAX when
 * larger (an infinity too). */
static uint64_t scaled(exact_t x, int k, bool half)
{
    uint64_t num = x.n, den = 1;
    for (int i = 0; i < k; i++)
        num *= 10u;
    for (int i = 0; i > k; i--)
        den *= 10u;
    if (x.e >= 0) {
        if (x.e >= 62 || num > SCALED_MAX >> x.e)
            return SCALED_MAX;
        num <<= x.e;
    } else {
        if (-x.e >= 62 || den > SCALED_MAX >> -x.e)
            return 0; /* num < 2^44 is below half of den */
        den <<= -x.e;
    }
    return half ? (2 * num + den) / (2 * den) : num / den;
}

/* A reading as the LCD shows it: the value in num (up to UI_DIGITS significant digits,
 * at most maxdec decimals, "-" when negative), its unit (with the prefix it ranged to)
 * in unit. NaN, a value this system type does not have, is "----". */
static void format_reading(float v, const ui_unit_t *u, int notation, char num[12],
                           char unit[8])
{
    unit[0] = '\0';
    if (isnan(v)) {
        scopy(num, 12, "----");
        return;
    }
    exact_t a = exact_of(v, u->scale); /* x below: a / 10^(3p), in the unit p ranged to */
    int p, nint, dec;
    uint32_t r = 0;
    for (p = 0;; p++) {
        uint64_t xi = scaled(a, -3 * p, false);
        if (u->prefixed && p < 3 && xi >= 1000u)
            continue;
        /* x >= 99999.5: beyond the field even in the largest unit */
        if (scaled(a, -3 * p, true) >= 100000u) {
            scopy(num, 12, "OVER");
            break;
        }
        for (nint = 1; xi >= pow10u[nint]; nint++)
            ;
        for (;;) {
            dec = UI_DIGITS - nint;
            if (dec > u->maxdec)
                dec = u->maxdec;
            if (dec < 0)
                dec = 0;
            r = (uint32_t)scaled(a, dec - 3 * p, true);
            if (r < pow10u[nint + dec])
                break;
            nint++; /* rounding carried into another integer digit: 9.99996 -> 10.000 */
        }
        if (u->prefixed && p < 3 && r >= 1000u * pow10u[dec])
            continue; /* 999.9996 rounds to 1000: the next unit up */
        char *o = num;
        if (v < 0 && r > 0)
            *o++ = '-';
        put_fixed(o, r, dec);
        break;
    }
    const char *name = u->name[notation];
    if (u->prefixed && p > 0 && p <= 3) {
        unit[0] = prefixes[p];
        scopy(unit + 1, 7, name);
    } else {
        scopy(unit, 8, name);
    }
}

/* ---- the display rows --------------------------------------------------------------- */

/* s at column col, cut at max characters and at the row's end. */
static void put(char *row, int col, const char *s, int max)
{
    int n = (int)strlen(s);
    if (n > max)
        n = max;
    if (n > UI_COLS - col)
        n = UI_COLS - col;
    memcpy(row + col, s, (size_t)n);
}

/* s right-aligned to end just before column end; returns its first column. */
static int put_right(char *row, int end, const char *s)
{
    int n = (int)strlen(s);
    if (n > end)
        n = end;
    memcpy(row + end - n, s, (size_t)n);
    return end - n;
}

/* Row 0: the screen name, a qualifier, and the phase or direction at the right. */
static void put_title(ui_display_t *out, const char *label, const char *tag, const char *right)
{
    put(out->text[0], 0, label, 5);
    if (tag)
        put(out->text[0], 6, tag, 4);
    if (right)
        put_right(out->text[0], UI_COLS, right);
}

/* Row 1: a value right-aligned in columns 0..9 and its unit from column 11. Returns the
 * value's first column (for the blink attribute). */
static int put_value(ui_display_t *out, const char *value, const char *unit)
{
    int col = put_right(out->text[1], 10, value);
    if (unit)
        put(out->text[1], 11, unit, 5);
    return col;
}

/* Row 1 as words (notes, messages, alert states), from column 0. */
static void put_note(ui_display_t *out, const char *note)
{
    put(out->text[1], 0, note, UI_COLS);
}

static int notation(const ui_t *ui)
{
    /* AV7 as last accepted: the labels follow a change at once, on the panel or BACnet. */
    return obj_av_value(ui->dev, MTR_SET_DISPLAY_UNITS) != 0.0f ? UI_IEEE : UI_IEC;
}

/* ---- the tables: main menu and readings ------------------------------------------- */

/* One data screen: an AI and how to title it. */
typedef struct {
    const char *label[2]; /* [UI_IEC], [UI_IEEE]; NULL: the group's label */
    const char *tag[2];   /* qualifier: NET, IMP, Q1, or the quantity under D and M */
    const char *right;    /* _PHASE (summary of the active phases), A, B, C, AN, IMP... */
    uint8_t ai;           /* MTR_AI_ */
    uint8_t unit;         /* U_ */
} ui_reading_t;

#define RD(tg, rt, ai_, u) {{NULL, NULL}, SAME(tg), rt, ai_, u}
#define RD2(iec, ieee, rt, ai_, u) {{NULL, NULL}, {iec, ieee}, rt, ai_, u}
#define RD_ABC(tg, ai_a, u) RD(tg, "A", ai_a, u), RD(tg, "B", (ai_a) + 1, u), RD(tg, "C", (ai_a) + 2, u)

static const ui_reading_t rd_kwh[] = {
    RD("NET", "_PHASE", MTR_AI_KWH_NET, U_WH), RD("IMP", "_PHASE", MTR_AI_KWH_IMP, U_WH),
    RD("EXP", "_PHASE", MTR_AI_KWH_EXP, U_WH),
    RD_ABC("IMP", MTR_AI_KWH_IMP_A, U_WH), RD_ABC("EXP", MTR_AI_KWH_EXP_A, U_WH),
};
static const ui_reading_t rd_kvarh[] = {
    RD("Q1", "_PHASE", MTR_AI_KVARH_Q1, U_VARH), RD("Q2", "_PHASE", MTR_AI_KVARH_Q2, U_VARH),
    RD("Q3", "_PHASE", MTR_AI_KVARH_Q3, U_VARH), RD("Q4", "_PHASE", MTR_AI_KVARH_Q4, U_VARH),
    RD_ABC("Q1", MTR_AI_KVARH_Q1_A, U_VARH), RD_ABC("Q2", MTR_AI_KVARH_Q1_A + 3, U_VARH),
    RD_ABC("Q3", MTR_AI_KVARH_Q1_A + 6, U_VARH), RD_ABC("Q4", MTR_AI_KVARH_Q1_A + 9, U_VARH),
};
static const ui_reading_t rd_kvah[] = {
    RD("NET", "_PHASE", MTR_AI_KVAH_NET, U_VAH), RD("IMP", "_PHASE", MTR_AI_KVAH_IMP, U_VAH),
    RD("EXP", "_PHASE", MTR_AI_KVAH_EXP, U_VAH),
    RD_ABC("IMP", MTR_AI_KVAH_IMP_A, U_VAH), RD_ABC("EXP", MTR_AI_KVAH_EXP_A, U_VAH),
};
static const ui_reading_t rd_w[] = {RD("", "_PHASE", MTR_AI_KW, U_W), RD_ABC("", MTR_AI_KW_A, U_W)};
static const ui_reading_t rd_var[] = {RD("", "_PHASE", MTR_AI_KVAR, U_VAR),
                                      RD_ABC("", MTR_AI_KVAR_A, U_VAR)};
static const ui_reading_t rd_va[] = {RD("", "_PHASE", MTR_AI_KVA, U_VA), RD_ABC("", MTR_AI_KVA_A, U_VA)};
static const ui_reading_t rd_amps[] = {RD("", "_PHASE", MTR_AI_I_AVG, U_A), RD_ABC("", MTR_AI_I_A, U_A)};
/* The datasheet names the line-to-line screens VAB, VBC, VAC (IEC UAB, UBC, UAC). */
static const ui_reading_t rd_vll[] = {
    RD("", "_PHASE", MTR_AI_VLL_AVG, U_V),
    {{"UAB", "VAB"}, SAME(""), NULL, MTR_AI_V_AB, U_V},
    {{"UBC", "VBC"}, SAME(""), NULL, MTR_AI_V_BC, U_V},
    {{"UAC", "VAC"}, SAME(""), NULL, MTR_AI_V_AC, U_V},
};
static const ui_reading_t rd_vln[] = {
    RD("", "_PHASE", MTR_AI_VLN_AVG, U_V), RD("", "AN", MTR_AI_V_AN, U_V),
    RD("", "BN", MTR_AI_V_AN + 1, U_V), RD("", "CN", MTR_AI_V_AN + 2, U_V),
};
static const ui_reading_t rd_pf[] = {RD("", "_PHASE", MTR_AI_PF, U_NONE),
                                     RD_ABC("", MTR_AI_PF_A, U_NONE)};
static const ui_reading_t rd_hz[] = {RD("", NULL, MTR_AI_FREQ, U_HZ)};
/* Present demand totals, then the maximums in each direction. */
static const ui_reading_t rd_dem[] = {
    RD2("P", "W", NULL, MTR_AI_KW_DEM, U_W), RD2("Q", "VAR", NULL, MTR_AI_KVAR_DEM, U_VAR),
    RD2("S", "VA", NULL, MTR_AI_KVA_DEM, U_VA),
};
static const ui_reading_t rd_max[] = {
    RD2("P", "W", "IMP", MTR_AI_KW_MAX_IMP, U_W), RD2("Q", "VAR", "IMP", MTR_AI_KVAR_MAX_IMP, U_VAR),
    RD2("S", "VA", "IMP", MTR_AI_KVA_MAX_IMP, U_VA), RD2("P", "W", "EXP", MTR_AI_KW_MAX_EXP, U_W),
    RD2("Q", "VAR", "EXP", MTR_AI_KVAR_MAX_EXP, U_VAR), RD2("S", "VA", "EXP", MTR_AI_KVA_MAX_EXP, U_VA),
};

/* A main-menu screen. Data groups show their first reading (the summary); SELECT opens
 * the rest. The others open a list, RESET and SETUP behind a password. */
typedef struct ui_top {
    const char *label[2];
    uint8_t enter;    /* the screen kind SELECT opens (UI_M_TOP: none) */
    uint8_t password; /* UI_PW_: asked before entering */
    const ui_reading_t *rd;
    uint8_t nrd;
    const char *note; /* row 1 of a menu screen */
    void (*status)(const ui_t *ui, ui_display_t *out); /* row 1 drawn live instead */
} ui_top_t;

#define GROUP(iec, ieee, rds) {{iec, ieee}, UI_M_DATA, UI_PW_NONE, rds, N(rds), NULL, NULL}

static void alert_summary(const ui_t *ui, ui_display_t *out);

/* Energy first: the home screen is the billing register, KWh NET. */
static const ui_top_t tops[] = {
    GROUP("KPh", "KWh", rd_kwh),
    GROUP("KQh", "KVARh", rd_kvarh),
    GROUP("KSh", "KVAh", rd_kvah),
    GROUP("P", "W", rd_w),
    GROUP("Q", "VAR", rd_var),
    GROUP("S", "VA", rd_va),
    GROUP("A", "A", rd_amps),
    GROUP("U", "VLL", rd_vll),
    GROUP("V", "VLN", rd_vln),
    GROUP("PF", "PF", rd_pf),
    {SAME("HZ"), UI_M_TOP, UI_PW_NONE, rd_hz, N(rd_hz), NULL, NULL}, /* one reading only */
    GROUP("D", "D", rd_dem),
    GROUP("MAX", "M", rd_max),
    {SAME("ALERT"), UI_M_ALERT, UI_PW_NONE, NULL, 0, NULL, alert_summary},
    {SAME("INFO"), UI_M_INFO, UI_PW_NONE, NULL, 0, "UNIT INFO", NULL},
    {SAME("RESET"), UI_M_RESET, UI_PW_RESET, NULL, 0, "RESET DATA", NULL},
    {SAME("SETUP"), UI_M_SETUP, UI_PW_SETUP, NULL, 0, "CONFIGURE", NULL},
};
#define UI_HOME 0

static void render_reading(const ui_t *ui, ui_display_t *out, const ui_top_t *t,
                           const ui_reading_t *rd)
{
    int nt = notation(ui);
    const char *label = rd->label[nt] ? rd->label[nt] : t->label[nt];
    put_title(out, label, rd->tag[nt], rd->right);
    char num[12], unit[8];
    format_reading(ui->dev->mtr.ai[rd->ai], &units[rd->unit], nt, num, unit);
    put_value(out, num, unit);
}

/* ---- alerts ------------------------------------------------------------------------ */

/* An alert screen: one alert bit, or three consecutive ones for phases A, B, C. */
typedef struct {
    const char *label;
    uint8_t bi;      /* MTR_BI_ of the first */
    uint8_t nphase;  /* 3: per phase; 1: one bit */
} ui_alert_t;

static const ui_alert_t alerts[] = {
    {"PLOSS", MTR_BI_PHASE_LOSS_A, 3},
    {"LOWPF", MTR_BI_LOW_PF_A, 3},
    {"FERR", MTR_BI_FREQ_ERR, 1},
    {"I OVR", MTR_BI_CURR_ERR_A, 3},
    {"V OVR", MTR_BI_VOLTS_ERR_A, 3},
    {"RTC", MTR_BI_RTC_RESET, 1},
};

static unsigned alert_bits(const ui_t *ui, const ui_alert_t *a)
{
    return (ui->dev->mtr.alarms >> (a->bi - 1)) & ((1u << a->nphase) - 1u);
}

static void alert_summary(const ui_t *ui, ui_display_t *out)
{
    unsigned n = 0;
    for (uint8_t k = 0; k < N(alerts); k++)
        n += alert_bits(ui, &alerts[k]) != 0;
    if (n == 0) {
        put_note(out, "NONE");
        return;
    }
    char s[12] = "0 ACTIVE";
    s[0] = (char)('0' + n);
    put_note(out, s);
}

/* ---- info -------------------------------------------------------------------------- */

/* A character-string property of the Device object, as BACnet reads it, so the panel
 * shows exactly what the network sees. */
static void device_string(const obj_device_t *d, uint32_t prop, char *out, size_t cap)
{
    uint8_t buf[128];
    bac_buf_t w, r;
    obj_err_t err;
    bac_str_t s;
    out[0] = '\0';
    bac_buf_writer(&w, buf, sizeof buf);
    /* Both return a length (>= 0) or an error (< 0). */
    if (obj_read(d, (bac_oid_t){OBJ_DEVICE, d->id.instance}, prop, OBJ_NO_INDEX, &w, &err) < 0)
        return;
    bac_buf_reader(&r, buf, bac_pos(&w));
    if (bac_dec_charstring(&r, &s) < 0)
        return;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(out, s.data, n);
    out[n] = '\0';
}

/* "xyyy" after key= in Application_Software_Version ("RS= 1000, OS=1000, ..."), shown
 * with its implied decimal point: 1.000. */
static void version_of(const obj_device_t *d, const char *key, char *out, size_t cap)
{
    char s[80];
    device_string(d, BAC_PROP_APPLICATION_SOFTWARE_VERSION, s, sizeof s);
    scopy(out, cap, "----");
    size_t kl = strlen(key);
    for (const char *p = s; *p; p++) {
        if (strncmp(p, key, kl) != 0)
            continue;
        p += kl;
        while (*p == ' ')
            p++;
        if (strlen(p) >= 4 && cap >= 6) {
            out[0] = p[0];
            out[1] = '.';
            memcpy(out + 2, p + 1, 3);
            out[5] = '\0';
        }
        return;
    }
}

static void info_model(const obj_device_t *d, char *out, size_t cap)
{
    device_string(d, BAC_PROP_MODEL_NAME, out, cap); /* "S4100 Energy Meter" */
    char *sp = strchr(out, ' ');
    if (sp)
        *sp = '\0';
}
static void info_os(const obj_device_t *d, char *out, size_t cap) { version_of(d, "OS=", out, cap); }
static void info_rs(const obj_device_t *d, char *out, size_t cap) { version_of(d, "RS=", out, cap); }
static void info_sn(const obj_device_t *d, char *out, size_t cap) { scopy(out, cap, d->id.serial); }

typedef struct {
    const char *label;
    void (*get)(const obj_device_t *d, char *out, size_t cap);
} ui_info_t;

static const ui_info_t infos[] = {
    {"MODEL", info_model}, {"OS", info_os}, {"RS", info_rs}, {"SN", info_sn},
};

/* ---- reset commands ---------------------------------------------------------------- */

typedef struct {
    const char *label;
    const char *note;
    uint16_t av1; /* the AV1 command it writes, as a BACnet client would */
} ui_reset_t;

static const ui_reset_t resets[] = {
    {"ENERG", "CLEAR ENERGY", MTR_CMD_CLEAR_ENERGY},
    {"DEMND", "RESET MAX DEM", MTR_CMD_MAX_DEMAND_RESET},
};

/* ---- setup parameters -------------------------------------------------------------- */

enum { P_DIGITS, P_CHOICE, P_SHOW };

typedef struct {
    uint32_t value;
    const char *text;
} ui_choice_t;

/* A setup parameter. get/set work on the "raw" value the panel edits: the digits as an
 * integer (RATIO 1.00 is 100), or a choice's value. set returns 0, or -1 when the meter
 * refused the value (then nothing changed). */
typedef struct ui_param {
    const char *label;
    const char *label10; /* the label under system type 10 (1L+1n), if another */
    uint8_t kind;        /* P_ */
    uint8_t ndig, ndec;  /* P_DIGITS: digits, of which decimals */
    const ui_choice_t *choices;
    uint8_t nchoice;
    uint8_t av;          /* AV-backed: the AV, setting = raw * mul / div */
    uint16_t mul, div;
    uint8_t pw;          /* password parameters: which */
    const char *unit;
    uint32_t (*get)(const ui_t *ui, const struct ui_param *p);
    int (*set)(ui_t *ui, const struct ui_param *p, uint32_t raw);
    float (*show)(const ui_t *ui); /* P_SHOW: a read-only reading, in kW */
} ui_param_t;

static uint32_t *password_ref(obj_device_t *d, uint8_t which)
{
    return which == UI_PW_SETUP ? &d->id.setup_password : &d->id.reset_password;
}

/* The Analog Value settings: the one validated write path BACnet uses too. An unchanged
 * value is not written again (rewriting AV11 would restart demand and the logs). */
static uint32_t av_get(const ui_t *ui, const ui_param_t *p)
{
    float v = obj_av_value(ui->dev, p->av) * p->div / p->mul;
    return v > 0 ? (uint32_t)lroundf(v) : 0u;
}
static int av_set(ui_t *ui, const ui_param_t *p, uint32_t raw)
{
    if (raw == ui->raw0)
        return 0;
    return obj_av_write(ui->dev, p->av, (float)raw * p->mul / p->div) == OBJ_OK ? 0 : -1;
}

static uint32_t mac_get(const ui_t *ui, const ui_param_t *p)
{
    (void)p;
    return ui->dev->id.mac;
}
static int mac_set(ui_t *ui, const ui_param_t *p, uint32_t raw)
{
    (void)p;
    if (raw == ui->raw0)
        return 0;
    return obj_set_mac(ui->dev, raw) == OBJ_OK ? 0 : -1;
}

static uint32_t baud_get(const ui_t *ui, const ui_param_t *p)
{
    (void)p;
    return ui->dev->id.baud;
}
static int baud_set(ui_t *ui, const ui_param_t *p, uint32_t raw)
{
    (void)p;
    if (raw == ui->raw0)
        return 0;
    return obj_set_baud(ui->dev, raw) == OBJ_OK ? 0 : -1;
}

/* The device instance is entered as ID1 (upper four digits) then ID2 (lower three) and
 * set once, when ID2 is accepted: the device never goes on the network under a
 * half-entered number, and backing out of ID2 leaves it as it was. */
static uint32_t id1_get(const ui_t *ui, const ui_param_t *p)
{
    (void)p;
    return ui->dev->id.instance / 1000u;
}
static int id1_set(ui_t *ui, const ui_param_t *p, uint32_t raw)
{
    (void)p;
    if (raw * 1000u > OBJ_INSTANCE_MAX) /* no ID2 can complete it */
        return -1;
    ui->id_hi = raw;
    return 0;
}
static uint32_t id2_get(const ui_t *ui, const ui_param_t *p)
{
    (void)p;
    return ui->dev->id.instance % 1000u;
}
static int id2_set(ui_t *ui, const ui_param_t *p, uint32_t raw)
{
    (void)p;
    uint32_t inst = ui->id_hi * 1000u + raw;
    if (inst == ui->dev->id.instance)
        return 0;
    return obj_set_instance(ui->dev, inst) == OBJ_OK ? 0 : -1;
}

static uint32_t pw_get(const ui_t *ui, const ui_param_t *p)
{
    return *password_ref(ui->dev, p->pw);
}
static int pw_set(ui_t *ui, const ui_param_t *p, uint32_t raw)
{
    uint32_t *pw = password_ref(ui->dev, p->pw);
    if (raw == *pw)
        return 0;
    *pw = raw; /* five digits: 00000..99999, every value valid */
    /* The passwords have no obj_set_ call (BACnet cannot write them); count the write
     * where the obj_set_ calls do, so the host keeps it in NV like the others. */
    ui->dev->writes++;
    return 0;
}

/* MX KW from the accepted settings (what AI76 reads once they are committed), so the
 * effect of the V LL just entered shows at once. */
static float max_kw(const ui_t *ui)
{
    return mtr_max_power_kw(&ui->dev->pending_cfg);
}

#define CHOICES(c) .choices = c, .nchoice = N(c)
#define AV(n, m, dv) .av = n, .mul = m, .div = dv, .get = av_get, .set = av_set

static const ui_choice_t baud_choices[] = {
    {9600, "9.6"}, {19200, "19.2"}, {38400, "38.4"}, {76800, "76.8"}, {115200, "115.2"},
};
static const ui_choice_t ctv_choices[] = {{1, "1.0"}, {3, ".33"}};
static const ui_choice_t sys_choices[] = {
    {10, "1L+1n"}, {11, "2L"}, {12, "2L+1n"}, {31, "3L"}, {40, "3L+1n"},
};
static const ui_choice_t units_choices[] = {{1, "IEEE"}, {0, "IEC"}};

static const ui_param_t p_bac[] = {
    {.label = "MAC", .kind = P_DIGITS, .ndig = 3, .get = mac_get, .set = mac_set},
    {.label = "KBAUD", .kind = P_CHOICE, CHOICES(baud_choices), .get = baud_get, .set = baud_set},
    {.label = "ID1", .kind = P_DIGITS, .ndig = 4, .get = id1_get, .set = id1_set},
    {.label = "ID2", .kind = P_DIGITS, .ndig = 3, .get = id2_get, .set = id2_set},
};
static const ui_param_t p_ct[] = {
    {.label = "CT V", .kind = P_CHOICE, CHOICES(ctv_choices), AV(MTR_SET_CT_SECONDARY, 1, 1), .unit = "V"},
    {.label = "CT SZ", .kind = P_DIGITS, .ndig = 5, AV(MTR_SET_CT_PRIMARY, 1, 1), .unit = "A"},
};
static const ui_param_t p_sys[] = {
    {.label = "SYSTM", .kind = P_CHOICE, CHOICES(sys_choices), AV(MTR_SET_SYSTEM_TYPE, 1, 1)},
};
static const ui_param_t p_pt[] = {
    {.label = "RATIO", .kind = P_DIGITS, .ndig = 5, .ndec = 2, AV(MTR_SET_PT_RATIO, 1, 100), .unit = ":1"},
};
static const ui_param_t p_volt[] = {
    {.label = "V LL", .label10 = "V LN", .kind = P_DIGITS, .ndig = 5,
     AV(MTR_SET_SYSTEM_VOLTAGE, 1, 1), .unit = "V"},
    {.label = "MX KW", .kind = P_SHOW, .show = max_kw},
};
/* The datasheet gives phase loss as a fraction (0.10 of the system voltage); AV8/AV9
 * hold it in percent, so the two digits after "0." are the percent. */
static const ui_param_t p_ploss[] = {
    {.label = "VOLTS", .kind = P_DIGITS, .ndig = 2, .ndec = 2, AV(MTR_SET_PL_VOLTS, 1, 1)},
    {.label = "IMBAL", .kind = P_DIGITS, .ndig = 2, .ndec = 2, AV(MTR_SET_PL_IMBALANCE, 1, 1)},
};
/* SEC in seconds; AV11 holds hundredths (DECISIONS O11). */
static const ui_param_t p_dem[] = {
    {.label = "INTRV", .kind = P_DIGITS, .ndig = 1, AV(MTR_SET_SUBINTERVALS, 1, 1)},
    {.label = "SEC", .kind = P_DIGITS, .ndig = 5, AV(MTR_SET_SUBINTERVAL_LEN, 100, 1), .unit = "s"},
};
static const ui_param_t p_disp[] = {
    {.label = "UNITS", .kind = P_CHOICE, CHOICES(units_choices), AV(MTR_SET_DISPLAY_UNITS, 1, 1)},
};
static const ui_param_t p_pw[] = {
    {.label = "SETUP", .kind = P_DIGITS, .ndig = 5, .pw = UI_PW_SETUP, .get = pw_get, .set = pw_set},
    {.label = "RESET", .kind = P_DIGITS, .ndig = 5, .pw = UI_PW_RESET, .get = pw_get, .set = pw_set},
};

/* The password entry is a five-digit parameter of its own. */
static const ui_param_t p_password = {.label = "PASWD", .kind = P_DIGITS, .ndig = 5};

typedef struct {
    const char *label;
    const char *note;
    const ui_param_t *params;
    uint8_t n;
} ui_menu_t;

#define MENU(l, note, ps) {l, note, ps, N(ps)}

/* In this order RATIO comes before V LL, as the datasheet asks (V LL is checked
 * against the PT ratio). */
static const ui_menu_t menus[] = {
    MENU("S BAC", "BACNET MS/TP", p_bac),
    MENU("S CT", "CT", p_ct),
    MENU("S SYS", "SYSTEM TYPE", p_sys),
    MENU("S PT", "PT RATIO", p_pt),
    MENU("S V", "SYSTEM VOLTAGE", p_volt),
    MENU("S PL", "PHASE LOSS", p_ploss),
    MENU("S DMD", "DEMAND", p_dem),
    MENU("S DIS", "DISPLAY UNITS", p_disp),
    MENU("S PWD", "PASSWORDS", p_pw),
};

/* ---- state changes ------------------------------------------------------------------ */

static void go_home(ui_t *ui)
{
    ui->mode = UI_M_TOP;
    ui->top = UI_HOME;
    ui->sub = 0;
}

static void message(ui_t *ui, const char *title, const char *text, uint8_t after)
{
    ui->msg_title = title;
    ui->msg_text = text;
    ui->msg_ms = UI_MESSAGE_MS;
    ui->after_msg = after;
    ui->mode = UI_M_MESSAGE;
}

static const ui_param_t *current_param(const ui_t *ui)
{
    if (ui->mode == UI_M_PASSWORD)
        return &p_password;
    return &menus[ui->sub].params[ui->param];
}

static const char *param_label(const ui_t *ui, const ui_param_t *p)
{
    if (p->label10 && obj_av_value(ui->dev, MTR_SET_SYSTEM_TYPE) == 10.0f)
        return p->label10;
    return p->label;
}

/* Start editing the current parameter from its present value, the rightmost digit
 * blinking. */
static void edit_begin(ui_t *ui, const ui_param_t *p)
{
    ui->raw = p->get ? p->get(ui, p) : 0u;
    ui->raw0 = ui->raw;
    ui->cursor = 0;
}

static void open_param(ui_t *ui, uint8_t k)
{
    ui->param = k;
    ui->mode = UI_M_PARAM;
    edit_begin(ui, current_param(ui));
}

static int choice_index(const ui_param_t *p, uint32_t raw)
{
    for (int k = 0; k < p->nchoice; k++)
        if (p->choices[k].value == raw)
            return k;
    return -1;
}

/* + and - on an edited value: digits as the datasheet (+ increments the blinking digit,
 * - selects the digit to its left, round to the rightmost), choices step either way. */
static void edit_key(ui_t *ui, const ui_param_t *p, ui_key_t key)
{
    if (p->kind == P_CHOICE) {
        int k = choice_index(p, ui->raw);
        int n = p->nchoice;
        k = key == UI_KEY_UP ? (k + 1) % n : (k <= 0 ? n - 1 : k - 1);
        ui->raw = p->choices[k].value;
    } else if (p->kind == P_DIGITS) {
        if (key == UI_KEY_UP) {
            uint32_t w = pow10u[ui->cursor], dg = ui->raw / w % 10u;
            ui->raw = ui->raw - dg * w + (dg + 1u) % 10u * w;
        } else {
            ui->cursor = (uint8_t)((ui->cursor + 1u) % p->ndig);
        }
    }
}

/* The digits of an entry, zero-padded to the field (MAC 001, CT SZ 00100, RATIO
 * 001.00, VOLTS 0.10: that leading zero is not a digit to edit). Returns the position
 * in s of digit `cursor`, counted from the right. */
static int digits_text(char *s, uint32_t raw, uint8_t ndig, uint8_t ndec, uint8_t cursor)
{
    char *o = s;
    int at = 0;
    if (ndec == ndig)
        *o++ = '0';
    for (int k = ndig - 1; k >= 0; k--) {
        if (ndec && k == ndec - 1)
            *o++ = '.';
        if (k == cursor)
            at = (int)(o - s);
        *o++ = (char)('0' + raw / pow10u[k] % 10u);
    }
    *o = '\0';
    return at;
}

/* Row 1 of a parameter: the value being edited with its blinking part. */
static void edit_render(const ui_t *ui, const ui_param_t *p, ui_display_t *out)
{
    char s[16];
    if (p->kind == P_SHOW) {
        char unit[8];
        format_reading(p->show(ui), &units[U_W], UI_IEEE, s, unit);
        put_value(out, s, unit);
        return;
    }
    if (p->kind == P_CHOICE) {
        int k = choice_index(p, ui->raw);
        const char *t = k >= 0 ? p->choices[k].text : "----";
        int col = put_value(out, t, p->unit);
        out->blink[1] = (uint16_t)(((1u << strlen(t)) - 1u) << col);
        return;
    }
    int at = digits_text(s, ui->raw, p->ndig, p->ndec, ui->cursor);
    int col = put_value(out, s, p->unit);
    out->blink[1] = (uint16_t)(1u << (col + at));
}

/* ---- per screen kind: render and key ------------------------------------------------ */

static void list_move(uint8_t *i, uint8_t n, ui_key_t key)
{
    if (key == UI_KEY_UP)
        *i = (uint8_t)((*i + n - 1) % n);
    else if (key == UI_KEY_DOWN)
        *i = (uint8_t)((*i + 1) % n);
}

static void top_render(const ui_t *ui, ui_display_t *out)
{
    const ui_top_t *t = &tops[ui->top];
    if (t->nrd) {
        render_reading(ui, out, t, &t->rd[0]);
        return;
    }
    put_title(out, t->label[notation(ui)], NULL, NULL);
    if (t->status)
        t->status(ui, out);
    else if (t->note)
        put_note(out, t->note);
}

static void top_key(ui_t *ui, ui_key_t key)
{
    const ui_top_t *t = &tops[ui->top];
    if (key == UI_KEY_BACK) {
        go_home(ui);
    } else if (key != UI_KEY_SELECT) {
        list_move(&ui->top, N(tops), key);
    } else if (t->password) {
        ui->mode = UI_M_PASSWORD;
        edit_begin(ui, &p_password); /* always starts at 00000 */
    } else if (t->enter != UI_M_TOP) {
        ui->mode = t->enter;
        ui->sub = t->nrd > 1 ? 1 : 0; /* a data group opens past the summary already shown */
    }
}

static void data_render(const ui_t *ui, ui_display_t *out)
{
    const ui_top_t *t = &tops[ui->top];
    render_reading(ui, out, t, &t->rd[ui->sub]);
}

static void data_key(ui_t *ui, ui_key_t key)
{
    if (key == UI_KEY_BACK)
        ui->mode = UI_M_TOP;
    else
        list_move(&ui->sub, tops[ui->top].nrd, key);
}

static void alert_render(const ui_t *ui, ui_display_t *out)
{
    const ui_alert_t *a = &alerts[ui->sub];
    unsigned bits = alert_bits(ui, a);
    put_title(out, a->label, NULL, NULL);
    if (!bits) {
        put_note(out, "OK");
        return;
    }
    char s[UI_COLS + 1] = "ACTIVE";
    size_t n = strlen(s);
    for (unsigned ph = 0; a->nphase > 1 && ph < a->nphase; ph++) {
        if (bits >> ph & 1u) {
            s[n++] = ' ';
            s[n++] = (char)('A' + ph);
        }
    }
    s[n] = '\0';
    put_note(out, s);
}

static void list_key_back_top(ui_t *ui, ui_key_t key, uint8_t n)
{
    if (key == UI_KEY_BACK)
        ui->mode = UI_M_TOP;
    else
        list_move(&ui->sub, n, key);
}

static void alert_key(ui_t *ui, ui_key_t key) { list_key_back_top(ui, key, N(alerts)); }

static void info_render(const ui_t *ui, ui_display_t *out)
{
    char s[OBJ_SERIAL_MAX + 1];
    infos[ui->sub].get(ui->dev, s, sizeof s);
    put_title(out, infos[ui->sub].label, NULL, NULL);
    if (strlen(s) > 10)
        put_note(out, s); /* a long serial number takes the whole row */
    else
        put_value(out, s, NULL);
}

static void info_key(ui_t *ui, ui_key_t key) { list_key_back_top(ui, key, N(infos)); }

static void password_render(const ui_t *ui, ui_display_t *out)
{
    put_title(out, "PASWD", NULL, tops[ui->top].label[UI_IEEE]);
    edit_render(ui, &p_password, out);
}

static void password_key(ui_t *ui, ui_key_t key)
{
    const ui_top_t *t = &tops[ui->top];
    if (key == UI_KEY_BACK) {
        ui->mode = UI_M_TOP;
    } else if (key != UI_KEY_SELECT) {
        edit_key(ui, &p_password, key);
    } else if (ui->raw == *password_ref(ui->dev, t->password)) {
        ui->mode = t->enter;
        ui->sub = 0;
    } else {
        message(ui, "PASWD", "WRONG", UI_M_TOP);
    }
}

static void reset_render(const ui_t *ui, ui_display_t *out)
{
    put_title(out, resets[ui->sub].label, NULL, "RESET");
    put_note(out, resets[ui->sub].note);
}

static void reset_key(ui_t *ui, ui_key_t key)
{
    if (key == UI_KEY_SELECT)
        ui->mode = UI_M_CONFIRM;
    else
        list_key_back_top(ui, key, N(resets));
}

static void confirm_render(const ui_t *ui, ui_display_t *out)
{
    put_title(out, resets[ui->sub].label, NULL, "RESET");
    put_note(out, "SEL=YES BACK=NO");
}

static void confirm_key(ui_t *ui, ui_key_t key)
{
    const ui_reset_t *r = &resets[ui->sub];
    if (key == UI_KEY_BACK) {
        ui->mode = UI_M_RESET;
    } else if (key == UI_KEY_SELECT) {
        bool ok = obj_av_write(ui->dev, 1, r->av1) == OBJ_OK;
        message(ui, r->label, ok ? "DONE" : "ERROR", UI_M_RESET);
    }
}

static void setup_render(const ui_t *ui, ui_display_t *out)
{
    put_title(out, menus[ui->sub].label, NULL, "SETUP");
    put_note(out, menus[ui->sub].note);
}

static void setup_key(ui_t *ui, ui_key_t key)
{
    if (key == UI_KEY_SELECT)
        open_param(ui, 0);
    else
        list_key_back_top(ui, key, N(menus));
}

static void param_render(const ui_t *ui, ui_display_t *out)
{
    const ui_param_t *p = current_param(ui);
    put_title(out, param_label(ui, p), NULL, menus[ui->sub].label);
    edit_render(ui, p, out);
}

/* SELECT accepts and moves on to the menu's next parameter, after the last back to the
 * menu (the datasheet's Quick Setup flow); BACK leaves the menu and drops this edit. A
 * refused value changes nothing: the error shows, then the entry is back for fixing. */
static void param_key(ui_t *ui, ui_key_t key)
{
    const ui_param_t *p = current_param(ui);
    if (key == UI_KEY_BACK) {
        ui->mode = UI_M_SETUP;
    } else if (key != UI_KEY_SELECT) {
        edit_key(ui, p, key);
    } else {
        int rc = p->set ? p->set(ui, p, ui->raw) : 0;
        if (rc < 0) {
            message(ui, param_label(ui, p), "OUT OF RANGE", UI_M_PARAM);
            return;
        }
        if (ui->param + 1 < menus[ui->sub].n)
            open_param(ui, (uint8_t)(ui->param + 1));
        else
            ui->mode = UI_M_SETUP;
    }
}

static void message_render(const ui_t *ui, ui_display_t *out)
{
    put_title(out, ui->msg_title, NULL, NULL);
    put_note(out, ui->msg_text);
}

/* Any key just dismisses a message (so a key pressed to hurry it never acts twice). */
static void message_key(ui_t *ui, ui_key_t key)
{
    (void)key;
    ui->mode = ui->after_msg;
}

typedef struct {
    void (*render)(const ui_t *ui, ui_display_t *out);
    void (*key)(ui_t *ui, ui_key_t key);
} ui_mode_t;

static const ui_mode_t modes[UI_M_COUNT] = {
    [UI_M_TOP] = {top_render, top_key},
    [UI_M_DATA] = {data_render, data_key},
    [UI_M_ALERT] = {alert_render, alert_key},
    [UI_M_INFO] = {info_render, info_key},
    [UI_M_PASSWORD] = {password_render, password_key},
    [UI_M_RESET] = {reset_render, reset_key},
    [UI_M_CONFIRM] = {confirm_render, confirm_key},
    [UI_M_SETUP] = {setup_render, setup_key},
    [UI_M_PARAM] = {param_render, param_key},
    [UI_M_MESSAGE] = {message_render, message_key},
};

/* ---- the API -------------------------------------------------------------------------- */

void ui_init(ui_t *ui, obj_device_t *d)
{
    memset(ui, 0, sizeof *ui);
    ui->dev = d;
    go_home(ui);
}

void ui_key(ui_t *ui, ui_key_t key)
{
    if ((unsigned)key > UI_KEY_BACK)
        return;
    ui->idle_ms = 0;
    ui->blink_ms = 0; /* the digit just changed shows at once */
    modes[ui->mode].key(ui, key);
}

void ui_tick(ui_t *ui, uint32_t ms)
{
    ui->clock_ms = (ui->clock_ms + ms % 1000u) % 1000u;
    ui->blink_ms = (ui->blink_ms + ms % (2u * UI_BLINK_MS)) % (2u * UI_BLINK_MS);
    if (ui->mode == UI_M_MESSAGE) {
        if (ms >= ui->msg_ms)
            ui->mode = ui->after_msg;
        else
            ui->msg_ms -= ms;
    }
    ui->idle_ms = ms >= UI_IDLE_MS - ui->idle_ms ? UI_IDLE_MS : ui->idle_ms + ms;
    /* Left alone, the panel drops any edit and password and shows the home screen. */
    if (ui->idle_ms >= UI_IDLE_MS && !(ui->mode == UI_M_TOP && ui->top == UI_HOME))
        go_home(ui);
}

void ui_render(const ui_t *ui, ui_display_t *out)
{
    for (int r = 0; r < UI_ROWS; r++) {
        memset(out->text[r], ' ', UI_COLS);
        out->text[r][UI_COLS] = '\0';
        out->blink[r] = 0;
    }
    out->blink_on = ui->blink_ms < UI_BLINK_MS;
    out->heart = ui->clock_ms < 500u;
    out->wrench = (ui->dev->mtr.alarms & MTR_ALARM_OUTPUT_MASK) != 0;
    modes[ui->mode].render(ui, out);
}

bool ui_key_parse(const char *name, ui_key_t *key)
{
    static const struct {
        const char *name;
        ui_key_t key;
    } names[] = {
        {"up", UI_KEY_UP},         {"+", UI_KEY_UP},         {"down", UI_KEY_DOWN},
        {"-", UI_KEY_DOWN},        {"select", UI_KEY_SELECT}, {"right", UI_KEY_SELECT},
        {"enter", UI_KEY_SELECT},  {"back", UI_KEY_BACK},     {"esc", UI_KEY_BACK},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strcmp(name, names[k].name) == 0) {
            *key = names[k].key;
            return true;
        }
    }
    return false;
}
