/* A meter's samples: its scenario, its variant in a fleet or a site, the front end. */
#include <stdio.h>

#include "meter.h"

static void vary(app_meter_t *m, mtr_frame_t *x, size_t n)
{
    if (m->vary_scale == 0.0f)
        return;
    for (size_t k = 0; k < n; k++) {
        float *h = m->vary_hist[m->vary_pos % 4], *late = m->vary_hist[(m->vary_pos + 4 - m->vary_delay) % 4];
        for (int p = 0; p < 3; p++)
            h[p] = x[k][MTR_IA + p];
        for (int p = 0; p < 3; p++)
            x[k][MTR_IA + p] = late[p] * m->vary_scale;
        m->vary_pos++;
    }
}

/* Deterministic from the meter's number: the same fleet twice is the same fleet. */
void app_meter_vary(app_meter_t *m, unsigned k, uint64_t scenario_seed)
{
    if (k == 0)
        return; /* meter 1 runs the scenario as written */
    uint64_t z = 0x9E3779B97F4A7C15ull * (k + 1);
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    m->vary_scale = 0.5f + (float)((z >> 11) % 1000) / 1999.0f; /* 0.5 .. 1.0 */
    m->vary_delay = (unsigned)(z >> 40) % 4;
    if (!m->shared_src) /* a shared source keeps its noise: the group's one stream */
        sim_reseed(m->src, scenario_seed + k);
}

/* One chunk of samples for one meter. 1: its source ended or failed (rc in *rc). */
int app_meter_feed(app_meter_t *m, size_t n, unsigned max_cycles, unsigned *cycles, int *rc)
{
    mtr_frame_t buf[APP_FEED_MAX];
    uint8_t pulse[APP_FEED_MAX];
    sim_err_t err = {{0}};
    long got = sim_read(m->src, buf, pulse, n, &err);
    *cycles = 0;
    if (got <= 0) {
        fprintf(stderr, "s4100: %s\n", got < 0 ? err.msg : "the recording ended");
        *rc = got < 0 ? 1 : 0;
        return 1;
    }
    app_meter_feed_frames(m, buf, pulse, (size_t)got, max_cycles, cycles);
    return 0;
}

void app_meter_feed_frames(app_meter_t *m, mtr_frame_t *x, const uint8_t *pulse, size_t n,
                           unsigned max_cycles, unsigned *cycles)
{
    *cycles = 0;
    vary(m, x, n);
    if (m->mt.powered) { /* unpowered, time passes and the meter sees nothing */
        sim_afe(&m->mt.dev.mtr.cfg, x, n);
        meter_feed(&m->mt, x, pulse, n, max_cycles, cycles);
        if (*cycles)
            m->panel_dirty = true;
    }
}
