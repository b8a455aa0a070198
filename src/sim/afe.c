/*
 * The analog front end: what the meter's ADCs see for given primary-side signals.
 */
#include "sim_int.h"

/* Scale and clip n values in double, as the ADC model always was: branch-free with a
 * fixed count (two frames), which the compiler turns into vector code. */
static void sim_afe_run(float *restrict x, const double *restrict k, const double *restrict lim,
                        int n)
{
    for (int c = 0; c < n; c++) {
        double v = x[c] * k[c];
        v = v > lim[c] ? lim[c] : v;
        v = v < -lim[c] ? -lim[c] : v;
        x[c] = (float)v;
    }
}

SIM_HOT
static void sim_afe_pair(float *restrict x, const double *restrict k, const double *restrict lim)
{
    for (int c = 0; c < 2 * MTR_NCH; c++) {
        double v = x[c] * k[c];
        v = v > lim[c] ? lim[c] : v;
        v = v < -lim[c] ? -lim[c] : v;
        x[c] = (float)v;
    }
}

void sim_afe(const mtr_config_t *cfg, mtr_frame_t *x, size_t n)
{
    /* CT inputs are voltage-output CTs: the rated primary current gives 1 V, or 1/3 V. */
    const double fs = cfg->ct_secondary == 3 ? 1.0 / 3.0 : 1.0;
    const double kv = 1.0 / cfg->pt_ratio, ki = fs / cfg->ct_primary;
    const double vlim = MTR_ADC_V_PEAK, ilim = MTR_ADC_I_PEAK_FS * fs;
    double k[2 * MTR_NCH], lim[2 * MTR_NCH];
    for (int f = 0; f < 2; f++)
        for (int p = 0; p < 3; p++) {
            k[f * MTR_NCH + MTR_VA + p] = kv;
            k[f * MTR_NCH + MTR_IA + p] = ki;
            lim[f * MTR_NCH + MTR_VA + p] = vlim;
            lim[f * MTR_NCH + MTR_IA + p] = ilim;
        }
    float *v = n ? x[0] : NULL; /* the frames are one array of floats */
    size_t f = 0;
    for (; f + 1 < n; f += 2)
        sim_afe_pair(v + f * MTR_NCH, k, lim);
    if (f < n)
        sim_afe_run(v + f * MTR_NCH, k, lim, MTR_NCH);
}
