/*
 * The source object: open a scenario, read frames from any source, live changes.
 */
#include "sim_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sim_errf(sim_err_t *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

int sim_strcaseeq(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        x = x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x;
        y = y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y;
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

bool sim_parse_double(const char *s, double *x)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return false;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (end == s || *end != '\0' || !isfinite(v) || errno == ERANGE)
        return false;
    *x = v;
    return true;
}

int sim_open_scenario(sim_source_t **out, const char *path, sim_err_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sim_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return SIM_EIO;
    }
    sim_source_t *s = calloc(1, sizeof *s);
    sim_synth_t *y = calloc(1, sizeof *y);
    if (!s || !y) {
        fclose(f);
        free(s);
        free(y);
        sim_errf(err, "%s: out of memory", path);
        return SIM_ENOMEM;
    }
    s->kind = SIM_SRC_SCENARIO;
    s->syn = y;
    int rc = sim_scenario_parse(y, f, path, err);
    fclose(f);
    if (rc != SIM_OK) {
        sim_close(s);
        return rc;
    }
    *out = s;
    return SIM_OK;
}

long sim_read(sim_source_t *s, mtr_frame_t *out, uint8_t *pulse, size_t n, sim_err_t *err)
{
    if (!s || (!out && n)) {
        sim_errf(err, "sim_read: bad arguments");
        return SIM_EARG;
    }
    if (n == 0)
        return 0;
    if (n > LONG_MAX)
        n = LONG_MAX;
    long got;
    if (s->kind == SIM_SRC_SCENARIO) {
        sim_synth_fill(s->syn, out, pulse, n);
        got = (long)n;
    } else {
        got = sim_replay_read(s->rep, out, n, err);
        if (got > 0 && pulse)
            memset(pulse, 0, (size_t)got);
    }
    if (got > 0)
        s->frames += (uint64_t)got;
    return got;
}

void sim_close(sim_source_t *s)
{
    if (!s)
        return;
    if (s->syn) {
        free(s->syn->act);
        free(s->syn->ev);
        free(s->syn);
    }
    sim_replay_free(s->rep);
    free(s);
}

bool sim_scenario_meter(const sim_source_t *s, mtr_config_t *cfg)
{
    if (!s || s->kind != SIM_SRC_SCENARIO || !s->syn->meter_set)
        return false;
    const mtr_config_t *m = &s->syn->meter;
    unsigned set = s->syn->meter_set;
#define SIM_COPY(id, field) \
    if (set >> (id) & 1u)   \
        cfg->field = m->field;
    SIM_COPY(MTR_SET_SYSTEM_TYPE, system_type)
    SIM_COPY(MTR_SET_CT_PRIMARY, ct_primary)
    SIM_COPY(MTR_SET_CT_SECONDARY, ct_secondary)
    SIM_COPY(MTR_SET_PT_RATIO, pt_ratio)
    SIM_COPY(MTR_SET_SYSTEM_VOLTAGE, system_voltage)
    SIM_COPY(MTR_SET_DISPLAY_UNITS, display_units)
    SIM_COPY(MTR_SET_PL_VOLTS, pl_volts_pct)
    SIM_COPY(MTR_SET_PL_IMBALANCE, pl_imbalance_pct)
    SIM_COPY(MTR_SET_SUBINTERVALS, subintervals)
    SIM_COPY(MTR_SET_SUBINTERVAL_LEN, subinterval_cs)
#undef SIM_COPY
    return true;
}

int sim_set_ramp(sim_source_t *s, const char *key, const char *value, double seconds,
                 sim_err_t *err)
{
    if (!s || !key || !value) {
        sim_errf(err, "bad arguments");
        return SIM_EARG;
    }
    if (s->kind != SIM_SRC_SCENARIO) {
        sim_errf(err, "%s: a recording has no parameters to set", key);
        return SIM_EARG;
    }
    if (!(seconds >= 0 && seconds <= 1e9)) {
        sim_errf(err, "%s: ramp %g s outside 0..1e9 s", key, seconds);
        return SIM_ERANGE;
    }
    sim_synth_t *y = s->syn;
    sim_action_t a;
    char msg[160];
    int rc = sim_key_parse(key, value, y->mask, &a, msg, sizeof msg);
    if (rc != SIM_OK) {
        sim_errf(err, "%s", msg);
        return rc;
    }
    /* Check the end state on a copy first: a rejected change leaves the source as it was. */
    sim_params_t *trial = malloc(sizeof *trial);
    if (!trial) {
        sim_errf(err, "out of memory");
        return SIM_ENOMEM;
    }
    *trial = y->cur;
    sim_action_apply(trial, &a, NULL, 0);
    rc = sim_params_check(trial, msg, sizeof msg);
    free(trial);
    if (rc != SIM_OK) {
        sim_errf(err, "%s", msg);
        return rc;
    }
    sim_action_apply(&y->cur, &a, y, (uint64_t)llround(seconds * MTR_FS));
    return SIM_OK;
}

int sim_set(sim_source_t *s, const char *key, const char *value, sim_err_t *err)
{
    return sim_set_ramp(s, key, value, 0.0, err);
}

double sim_time(const sim_source_t *s)
{
    return s ? (double)s->frames / MTR_FS : 0.0;
}
