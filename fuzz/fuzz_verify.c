/*
 * libFuzzer target: the input as an s4100 verify test-point table (sim_tp_parse). An
 * accepted table must hold only points inside the ranges the parser promises (what the
 * waveform generator and the reports rely on: a name safe in CSV, JSON and SVG, a peak
 * inside the ADC, a harmonic below Nyquist), give finite expected P and Q, and waveforms
 * inside the ADC's range; a refused one a NUL-terminated message.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_point(const sim_tp_t *tp)
{
    size_t n = strnlen(tp->name, SIM_TP_NAME);
    if (n == 0 || n == SIM_TP_NAME || strpbrk(tp->name, "\"\\<>&,"))
        abort();
    if ((tp->quantity != 'P' && tp->quantity != 'Q') || !(tp->ipct >= 0.1 && tp->ipct <= 150) ||
        !(tp->factor >= 0.1 && tp->factor <= 1) || !(tp->f >= 45 && tp->f <= 65) ||
        !(tp->v >= 10 && tp->v <= MTR_V_LN_MAX) || !(tp->limit > 0 && tp->limit <= 100) ||
        (tp->h && tp->h * tp->f >= MTR_FS / 2.0))
        abort();
    double p, q;
    sim_tp_expected(tp, &p, &q);
    if (!isfinite(p) || !isfinite(q) || !(fabs(tp->quantity == 'P' ? p : q) > 0))
        abort();
    /* A few frames through the worst front end the options allow. */
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    sim_afe_err_t e = {10, 5, 5, 5, 8, 1};
    sim_tp_gen_t g;
    sim_tp_start(&g, tp, &e);
    mtr_frame_t x[8];
    sim_tp_fill(&g, &cfg, x, 8);
    for (int k = 0; k < 8; k++)
        for (int c = 0; c < MTR_NCH; c++)
            if (!isfinite(x[k][c]) || fabs(x[k][c]) > MTR_ADC_V_PEAK)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sim_tp_t tp[64];
    sim_err_t err;
    memset(&err, 0x55, sizeof err);
    long n = sim_tp_parse((const char *)data, size, "fuzz", tp, 64, &err);
    if (n < 0) {
        if (!memchr(err.msg, '\0', sizeof err.msg) || n < SIM_ERANGE || n > SIM_ESYNTAX)
            abort();
        return 0;
    }
    if (n == 0 || n > 64)
        abort();
    for (long k = 0; k < n; k++)
        check_point(&tp[k]);
    return 0;
}
