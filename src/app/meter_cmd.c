/* What the control socket does to one meter, for s4100 run and s4100 site alike. */
#include <stdio.h>

#include "meter.h"

static const char *const alert_names[MTR_BI_COUNT] = {
    "VOLT-A", "VOLT-B", "VOLT-C", "CURR-A", "CURR-B", "CURR-C", "FREQ", "BI8",
    "PLOSS-A", "PLOSS-B", "PLOSS-C", "LOWPF-A", "LOWPF-B", "LOWPF-C", "RTC"};

/* "RTC PLOSS-B": the RTC first (a fresh meter always shows it), then BI1..BI14; "none". */
const char *app_alert_list(uint32_t alarms, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned k = 0; k < MTR_BI_COUNT && n < cap; k++) {
        unsigned bi = k == 0 ? MTR_BI_RTC_RESET : k;
        if (alarms & MTR_BIT(bi))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", alert_names[bi - 1]);
    }
    if (!buf[0])
        snprintf(buf, cap, "none");
    return buf;
}

void app_meter_power_on(app_meter_t *m)
{
    if (app_nv_reload(m) < 0)
        obj_restart(&m->mt.dev, true); /* the store went bad meanwhile: keep what RAM had */
    meter_power_on(&m->mt);
}

static void cmd_panel(app_meter_t *m, const app_ctl_cmd_t *c, FILE *f)
{
    if (!m->mt.powered) {
        fputs("error: the meter is powered off: its display is dark\n", f);
        return;
    }
    if (c->verb == APP_CTL_KEY)
        meter_key(&m->mt, c->key);
    m->panel_dirty = true;
    ui_display_t d;
    meter_display(&m->mt, &d);
    fprintf(f, "%s\n%s\n", d.text[0], d.text[1]);
}

static void cmd_set(app_meter_t *m, const app_ctl_cmd_t *c, FILE *f)
{
    if (m->shared_src) {
        fprintf(f, "error: set %s: this meter runs its trunk's shared load (load = shared): "
                   "give it a scenario of its own to change its load alone\n", c->name);
        return;
    }
    sim_err_t err = {{0}};
    int rc = c->ramp ? sim_set_ramp(m->src, c->name, c->value, c->seconds, &err)
                     : sim_set(m->src, c->name, c->value, &err);
    if (rc < 0)
        fprintf(f, "error: set %s: %s\n", c->name, err.msg[0] ? err.msg : "refused");
    else if (c->ramp)
        fprintf(f, "ok: %s ramps to %s over %g s\n", c->name, c->value, c->seconds);
    else
        fprintf(f, "ok: %s = %s\n", c->name, c->value);
}

void app_meter_cmd(app_meter_t *m, const app_ctl_cmd_t *c, FILE *f)
{
    switch (c->verb) {
    case APP_CTL_DISPLAY:
    case APP_CTL_KEY: cmd_panel(m, c, f); break;
    case APP_CTL_POWER:
        if (c->on && !m->mt.powered)
            app_meter_power_on(m);
        else if (!c->on && m->mt.powered)
            meter_power_off(&m->mt);
        fprintf(f, "ok: power %s\n", c->on ? "on" : "off");
        break;
    case APP_CTL_SET: cmd_set(m, c, f); break;
    default: fputs("error: not a command for one meter\n", f); break;
    }
}

void app_meter_json_state(const app_meter_t *m, FILE *f)
{
    obj_datetime_t dt;
    obj_clock_get(&m->mt.dev, &dt);
    const mtr_t *e = &m->mt.dev.mtr;
    static const char *const dcc[] = {"enable", "disable", "disable-initiation"};
    char alerts[128];
    fprintf(f, "\"powered\":%s,\"device_id\":%u,\"cycles\":%u,\"sim_time\":%.3f,"
               "\"clock\":\"%04d-%02d-%02dT%02d:%02d:%02d\",\"alarms\":%u,\"alerts\":\"%s\","
               "\"alarm_output\":\"%s\",\"dcc\":\"%s\",",
            m->mt.powered ? "true" : "false", m->mt.dev.id.instance, e->cycles, sim_time(m->src),
            1900 + dt.date.year, dt.date.month, dt.date.day, dt.time.hour, dt.time.min, dt.time.sec,
            e->alarms, app_alert_list(e->alarms, alerts, sizeof alerts),
            (!m->mt.powered || (e->alarms & MTR_ALARM_OUTPUT_MASK)) ? "open" : "closed",
            dcc[m->mt.srv.dcc % 3]);
}

void app_meter_json_tail(const app_meter_t *m, FILE *f)
{
    if (m->opts && m->opts->nv_path) {
        app_nv_status_json(m, f);
        fputc(',', f);
    }
    fputs("\"settings\":{", f);
    for (unsigned av = MTR_SET_SYSTEM_TYPE; av <= MTR_SET_SUBINTERVAL_LEN; av++)
        fprintf(f, "%s\"%s\":%.9g", av > MTR_SET_SYSTEM_TYPE ? "," : "", obj_find(OBJ_AV, av)->name,
                mtr_setting_get(&m->mt.dev.pending_cfg, (mtr_setting_t)av));
    fputs("},\"readings\":{", f);
    app_json_readings(f, &m->mt.dev.mtr);
    fputs("}}\n", f);
}
