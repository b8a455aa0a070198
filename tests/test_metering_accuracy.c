/*
 * Accuracy suite: synthetic waveforms with analytically known results through the
 * engine, at the IEC 62053-22 Class 0.2S test points and the influence quantities.
 * The bar is ten times the class: energy 0.02 %, reactive 0.2 %, frequency 0.01 Hz.
 * Prints the table of measured errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#define ACC_CHECK(cond) assert_true(cond)
#include "../bench/accuracy_cases.h"

static void test_accuracy_table(void **state)
{
    (void)state;
    size_t n = sizeof points / sizeof points[0];
    printf("\n%-24s %9s %9s %9s %9s %9s %9s %9s\n", "point", "P err%", "kWh err%",
           "Q err%", "kVARh err%", "V err%", "I err%", "f err Hz");
    errs_t worst = {0};
    for (size_t k = 0; k < n; k++) {
        errs_t e = run_point(&points[k]);
        printf("%-24s %+9.5f %+9.5f %+9.5f %+9.5f %+9.5f %+9.5f %+9.6f\n", points[k].name,
               e.pe, e.ee, e.qe, e.eqe, e.ve, e.ie, e.fe);
        fflush(stdout);
        assert_true(fabs(e.pe) <= LIM_E);
        assert_true(fabs(e.ee) <= LIM_E);
        assert_true(fabs(e.qe) <= LIM_Q);
        assert_true(fabs(e.eqe) <= LIM_Q);
        assert_true(fabs(e.fe) <= LIM_F);
        assert_true(fabs(e.ve) <= LIM_VI);
        assert_true(fabs(e.ie) <= LIM_VI);
        worst.pe = fmax(worst.pe, fabs(e.pe)), worst.ee = fmax(worst.ee, fabs(e.ee));
        worst.qe = fmax(worst.qe, fabs(e.qe)), worst.eqe = fmax(worst.eqe, fabs(e.eqe));
        worst.fe = fmax(worst.fe, fabs(e.fe));
    }
    printf("%-24s %9.5f %9.5f %9.5f %9.5f %9s %9s %9.6f\n", "worst |error|", worst.pe,
           worst.ee, worst.qe, worst.eqe, "", "", worst.fe);
    printf("%-24s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.3f\n", "limit", LIM_E, LIM_E, LIM_Q,
           LIM_Q, LIM_VI, LIM_VI, LIM_F);
}

/* Frequency drifting 49 -> 51 Hz at 0.1 Hz/s: each reading is the mean over its window. */
static void test_frequency_drift(void **state)
{
    (void)state;
    double worst = acc_drift();
    printf("drift 49->51 Hz at 0.1 Hz/s: worst frequency error %.6f Hz\n", worst);
    assert_true(worst <= LIM_F);
}

/* A long run: the energy register against P times all the time it has covered. */
static void test_energy_total_long_run(void **state)
{
    (void)state;
    double err = acc_long_run();
    printf("120 s at 50.3 Hz: energy error %+.6f %%\n", err * 100);
    assert_true(fabs(err) <= LIM_LONG);
}

/* ---- issue 13: energy registers to the sample at every 1 s tick ---------------------- */

static void test_energy_every_tick(void **state)
{
    (void)state;
    const double *freqs = acc_tick_freqs;
    size_t nf = sizeof acc_tick_freqs / sizeof acc_tick_freqs[0];
    size_t nl = sizeof acc_tick_loads / sizeof acc_tick_loads[0];
    double worst_inc = 0, worst_int = 0;
    printf("\n%-8s %-8s %-4s %14s %14s\n", "f Hz", "load", "dir", "1 s incr err", "integral err");
    for (size_t fi = 0; fi < nf; fi++)
        for (size_t li = 0; li < nl; li++)
            for (int x = 0; x < 2; x++) {
                double ie, ge;
                tick_point(freqs[fi], acc_tick_loads[li].phi, x, &ie, &ge);
                printf("%-8.2f %-8s %-4s %14.2e %14.2e\n", freqs[fi], acc_tick_loads[li].name,
                       x ? "exp" : "imp", ie, ge);
                assert_true(ie <= LIM_TICK);
                assert_true(ge <= LIM_TICK);
                worst_inc = fmax(worst_inc, ie), worst_int = fmax(worst_int, ge);
            }
    printf("every register, every tick: worst 1 s increment error %.2e, worst error against "
           "the integral %.2e (limit %.0e)\n", worst_inc, worst_int, LIM_TICK);
}

/* A pure reactive load (sin phi = 1): the quadrant a tick's energy lands in may change
 * from one tick to the next; the four quadrants' sum and the kVAh stay the integral. */
static void test_energy_quadrant_boundary(void **state)
{
    (void)state;
    double kvah;
    double worst = acc_quadrant_boundary(&kvah);
    printf("sin phi = 1: worst error of the four quadrants' sum, 1 s increment or integral, %.2e "
           "(limit %.0e)\n", worst, LIM_TICK);
    assert_true(worst <= LIM_TICK);
    assert_true(kvah <= LIM_TICK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_quadrant_boundary),
        cmocka_unit_test(test_accuracy_table),
        cmocka_unit_test(test_frequency_drift),
        cmocka_unit_test(test_energy_total_long_run),
        cmocka_unit_test(test_energy_every_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
