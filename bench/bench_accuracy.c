/*
 * The accuracy suite's cases (tests/test_metering_accuracy.c) as one table: each case,
 * its limit and the worst error the engine shows, as a Markdown table the README can
 * carry. The engine computes in single precision (docs/metering.md); this is what that
 * costs against the limits.
 * Usage: bench_accuracy [-v]   (-v: every test point's errors too)
 */
#include <stdlib.h>
#include <string.h>

static unsigned acc_failed; /* checks made along the way that did not hold */
#define ACC_CHECK(cond) ((void)((cond) ? 0 : acc_failed++))
#include "accuracy_cases.h"

static void row(const char *name, const char *what, const char *unit, double limit, double worst)
{
    printf("| %-34s | %-26s | %9.3g %-2s | %9.2e %-2s | %7.3f %% |\n", name, what, limit, unit,
           worst, unit, worst / limit * 100.0);
}

/* The IEC points: the worst of each reading over all of them. */
static void iec_points(bool verbose)
{
    size_t n = sizeof points / sizeof points[0];
    errs_t w = {0};
    for (size_t k = 0; k < n; k++) {
        errs_t e = run_point(&points[k]);
        if (verbose)
            fprintf(stderr, "%-24s P %+.5f kWh %+.5f Q %+.5f kVARh %+.5f V %+.5f I %+.5f "
                    "f %+.6f\n", points[k].name, e.pe, e.ee, e.qe, e.eqe, e.ve, e.ie, e.fe);
        w.pe = fmax(w.pe, fabs(e.pe)), w.ee = fmax(w.ee, fabs(e.ee));
        w.qe = fmax(w.qe, fabs(e.qe)), w.eqe = fmax(w.eqe, fabs(e.eqe));
        w.ve = fmax(w.ve, fabs(e.ve)), w.ie = fmax(w.ie, fabs(e.ie));
        w.fe = fmax(w.fe, fabs(e.fe));
    }
    char name[40];
    snprintf(name, sizeof name, "IEC 62053-22 points (%zu)", n);
    row(name, "active power", "%", LIM_E, w.pe);
    row("", "active energy", "%", LIM_E, w.ee);
    row("", "reactive power", "%", LIM_Q, w.qe);
    row("", "reactive energy", "%", LIM_Q, w.eqe);
    row("", "voltage", "%", LIM_VI, w.ve);
    row("", "current", "%", LIM_VI, w.ie);
    row("", "frequency", "Hz", LIM_F, w.fe);
}

static void every_tick(void)
{
    size_t nf = sizeof acc_tick_freqs / sizeof acc_tick_freqs[0];
    size_t nl = sizeof acc_tick_loads / sizeof acc_tick_loads[0];
    double inc = 0, integ = 0;
    for (size_t fi = 0; fi < nf; fi++)
        for (size_t li = 0; li < nl; li++)
            for (int x = 0; x < 2; x++) {
                double ie, ge;
                tick_point(acc_tick_freqs[fi], acc_tick_loads[li].phi, x, &ie, &ge);
                inc = fmax(inc, ie), integ = fmax(integ, ge);
            }
    char name[40];
    snprintf(name, sizeof name, "every register, every tick (%zu)", nf * nl * 2);
    row(name, "1 s increment (relative)", "", LIM_TICK, inc);
    row("", "against the integral", "", LIM_TICK, integ);
}

int main(int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    printf("Accuracy suite, engine in single precision (float; energy registers in integer "
           "joules + 2^-32 J):\n\n");
    printf("| %-34s | %-26s | %12s | %12s | %9s |\n", "case", "quantity", "limit",
           "worst error", "of limit");
    printf("|%s|%s|%s|%s|%s|\n", "------------------------------------",
           "----------------------------", "--------------", "--------------", "-----------");
    iec_points(verbose);
    row("frequency drift 49 -> 51 Hz", "frequency", "Hz", LIM_F, acc_drift());
    row("120 s at 50.3 Hz", "energy against P x time", "", LIM_LONG, fabs(acc_long_run()));
    every_tick();
    double kvah, quad = acc_quadrant_boundary(&kvah);
    row("sin phi = 1, quadrant boundary (8)", "four quadrants' sum", "", LIM_TICK, quad);
    row("", "kVAh", "", LIM_TICK, kvah);
    printf("\nchecks along the way (no energy in another register, no sample dropped): %s\n",
           acc_failed ? "FAILED" : "all held");
    return acc_failed ? 1 : 0;
}
