#ifndef S4100_APP_H
#define S4100_APP_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "metering/mtr.h"

int app_measure(int argc, char **argv);
int app_run(int argc, char **argv);
int app_site(int argc, char **argv);
int app_verify(int argc, char **argv); /* accuracy test points: docs/verify.md */
/* s4100 ctl and the control socket: control.h */

/* Meter-setting options (--system-type ...), shared by the commands. */
#define APP_N_SETTINGS 9
#define APP_OPT_SETTING 1000 /* getopt values APP_OPT_SETTING + k */
typedef struct {
    bool given[APP_N_SETTINGS];
    double value[APP_N_SETTINGS];
} app_settings_t;

size_t app_settings_options(struct option *opts); /* fills APP_N_SETTINGS entries */
void app_settings_usage(FILE *f);
/* 1: consumed, 0: not a setting option, -1: bad value (message printed). */
int app_settings_take(app_settings_t *st, int opt, const char *arg, const char *cmd);
/* Apply the given settings over cfg, each checked as the meter checks a write. */
int app_settings_apply(const app_settings_t *st, mtr_config_t *cfg, const char *cmd);
/* Commissioning: the settings given explicitly (options, else the scenario's [meter] keys
 * in scen_given, a bit per mtr_setting_t) applied to the device as the panel applies them,
 * each change logged; all or nothing. 0, or -1 with the reason printed. */
struct obj_device;
int app_settings_commission(struct obj_device *d, const app_settings_t *st,
                            const mtr_config_t *scen, unsigned scen_given, FILE *log);
int app_parse_number(const char *cmd, const char *opt, const char *arg, double *out);

/* Where the shipped scenarios are (the default one is default.ini). */
const char *app_default_scenario(void);

#endif
