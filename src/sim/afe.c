/*
 * The analog front end: what the meter's ADCs see for given primary-side signals.
 */
#include "sim_int.h"

static double sim_clip(double x, double lim)
{
    return x > lim ? lim : x < -lim ? -lim : x;
}

void sim_afe(const mtr_config_t *cfg, mtr_frame_t *x, size_t n)
{
    /* CT inputs are voltage-output CTs: the rated primary current gives 1 V, or 1/3 V. */
    const double fs = cfg->ct_secondary == 3 ? 1.0 / 3.0 : 1.0;
    const double kv = 1.0 / cfg->pt_ratio, ki = fs / cfg->ct_primary;
    const double vlim = MTR_ADC_V_PEAK, ilim = MTR_ADC_I_PEAK_FS * fs;
    for (size_t k = 0; k < n; k++)
        for (int p = 0; p < 3; p++) {
            x[k][MTR_VA + p] = (float)sim_clip(x[k][MTR_VA + p] * kv, vlim);
            x[k][MTR_IA + p] = (float)sim_clip(x[k][MTR_IA + p] * ki, ilim);
        }
}
