/* The meter-setting options shared by the commands, named after their objects. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "objects/obj.h"

static const struct {
    const char *name;
    mtr_setting_t id;
    const char *help;
} settings[APP_N_SETTINGS] = {
    {"system-type", MTR_SET_SYSTEM_TYPE, "10|11|12|31|40            AV2 (default 40)"},
    {"ct-primary", MTR_SET_CT_PRIMARY, "A                          AV3, 5..32000 (default 100)"},
    {"ct-secondary", MTR_SET_CT_SECONDARY, "1|3                      AV4, 1 V or 1/3 V CTs (default 1)"},
    {"pt-ratio", MTR_SET_PT_RATIO, "R                            AV5, 0.01..320 (default 1)"},
    {"system-voltage", MTR_SET_SYSTEM_VOLTAGE, "V                      AV6, 82..660 x PT ratio (default 600)"},
    {"phase-loss-voltage-threshold", MTR_SET_PL_VOLTS, "PCT      AV8, 1..99 (default 10)"},
    {"phase-loss-imbalance-threshold", MTR_SET_PL_IMBALANCE, "PCT    AV9, 1..99 (default 25)"},
    {"subintervals", MTR_SET_SUBINTERVALS, "N                        AV10, 1..6 (default 1)"},
    {"subinterval-length", MTR_SET_SUBINTERVAL_LEN,
     "CS                 AV11, 0 or 1000..3276700 step 100,\n"
     "                                          hundredths of a second (default 90000)"},
};

size_t app_settings_options(struct option *opts)
{
    for (int k = 0; k < APP_N_SETTINGS; k++)
        opts[k] = (struct option){settings[k].name, required_argument, NULL, APP_OPT_SETTING + k};
    return APP_N_SETTINGS;
}

void app_settings_usage(FILE *f)
{
    fputs("meter settings (defaults as the datasheet; they override a scenario's [meter]):\n", f);
    for (int k = 0; k < APP_N_SETTINGS; k++)
        fprintf(f, "  --%s %s\n", settings[k].name, settings[k].help);
}

int app_parse_number(const char *cmd, const char *opt, const char *arg, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !isfinite(v)) {
        fprintf(stderr, "s4100 %s: --%s: '%s' is not a number\n", cmd, opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int app_settings_take(app_settings_t *st, int opt, const char *arg, const char *cmd)
{
    int k = opt - APP_OPT_SETTING;
    if (k < 0 || k >= APP_N_SETTINGS)
        return 0;
    if (app_parse_number(cmd, settings[k].name, arg, &st->value[k]))
        return -1;
    st->given[k] = true;
    return 1;
}

int app_settings_apply(const app_settings_t *st, mtr_config_t *cfg, const char *cmd)
{
    for (int k = 0; k < APP_N_SETTINGS; k++) {
        if (st->given[k] && mtr_setting_set(cfg, settings[k].id, st->value[k]) != MTR_OK) {
            fprintf(stderr, "s4100 %s: --%s %g is out of range (see --help)\n", cmd,
                    settings[k].name, st->value[k]);
            return -1;
        }
    }
    if (mtr_config_check(cfg) != MTR_OK) {
        fprintf(stderr, "s4100 %s: --system-voltage %g is outside 82..660 x PT ratio (%g) "
                        "and 82..32000 V\n", cmd, (double)cfg->system_voltage, (double)cfg->pt_ratio);
        return -1;
    }
    return 0;
}

/* ---- commissioning: explicit settings applied over what the meter remembers --------- */

typedef struct {
    mtr_setting_t id;
    double value;
    char source[48]; /* "--ct-primary" or "scenario" */
} wanted_t;

/* The settings given explicitly, options winning over the scenario's [meter] section. */
static unsigned wanted(const app_settings_t *st, const mtr_config_t *scen, unsigned scen_given,
                       wanted_t out[MTR_SET_SUBINTERVAL_LEN + 1])
{
    unsigned n = 0;
    for (int id = MTR_SET_SYSTEM_TYPE; id <= MTR_SET_SUBINTERVAL_LEN; id++) {
        int k = 0;
        while (k < APP_N_SETTINGS && settings[k].id != (mtr_setting_t)id)
            k++;
        if (k < APP_N_SETTINGS && st->given[k]) {
            out[n] = (wanted_t){(mtr_setting_t)id, st->value[k], ""};
            snprintf(out[n++].source, sizeof out[0].source, "--%s", settings[k].name);
        } else if (scen && (scen_given >> id & 1u)) {
            out[n++] = (wanted_t){(mtr_setting_t)id, mtr_setting_get(scen, (mtr_setting_t)id), "scenario"};
        }
    }
    return n;
}

/* Settings check against each other (AV6 against AV5), so the order they are applied in
 * matters: retry the refused ones while any pass, as an operator would re-enter them. */
static unsigned apply_passes(obj_device_t *d, mtr_config_t *cfg, const wanted_t *w, unsigned n,
                             bool *done, FILE *log)
{
    unsigned left = n;
    for (bool progress = true; left && progress;) {
        progress = false;
        for (unsigned k = 0; k < n; k++) {
            if (done[k])
                continue;
            double was = mtr_setting_get(d ? &d->pending_cfg : cfg, w[k].id);
            int ok = d ? obj_av_write(d, w[k].id, w[k].value) == OBJ_OK
                       : mtr_setting_set(cfg, w[k].id, w[k].value) == MTR_OK;
            if (!ok)
                continue;
            done[k] = true, left--, progress = true;
            if (log && was != w[k].value)
                fprintf(log, "s4100 run: AV%u %s %g -> %g (%s)\n", (unsigned)w[k].id,
                        obj_find(OBJ_AV, w[k].id)->name, was, w[k].value, w[k].source);
        }
    }
    return left;
}

int app_settings_commission(obj_device_t *d, const app_settings_t *st, const mtr_config_t *scen,
                            unsigned scen_given, FILE *log)
{
    wanted_t w[MTR_SET_SUBINTERVAL_LEN + 1];
    bool done[MTR_SET_SUBINTERVAL_LEN + 1] = {false};
    unsigned n = wanted(st, scen, scen_given, w);
    mtr_config_t trial = d->pending_cfg;
    if (apply_passes(NULL, &trial, w, n, done, NULL) || mtr_config_check(&trial) != MTR_OK) {
        for (unsigned k = 0; k < n; k++)
            if (!done[k] || mtr_config_check(&trial) != MTR_OK)
                fprintf(stderr, "s4100 run: %s: AV%u %s %g is refused with the meter's other "
                                "settings (AV5 PT ratio %g, AV6 system voltage %g)\n",
                        w[k].source, (unsigned)w[k].id, obj_find(OBJ_AV, w[k].id)->name,
                        w[k].value, (double)trial.pt_ratio, (double)trial.system_voltage);
        return -1;
    }
    memset(done, 0, sizeof done);
    return apply_passes(d, NULL, w, n, done, log) ? -1 : 0;
}
