/*
 * The target runtime's own test, run first by scripts/target-tests.sh: the small cmocka
 * must report what fails (and exit with the number of failed tests, through QEMU), not
 * only what passes; a misaligned word access must fault (exit 1, CFSR.UNALIGNED); the FPU
 * must be on; a stack overflow must fault. Run whole it expects SELFTEST_FAILS failures;
 * "unaligned" or "overflow" on the command line makes that fault instead.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "target.h"

#define SELFTEST_FAILS 7

static void test_passes(void **state)
{
    (void)state;
    static const uint8_t a[] = {1, 2, 3}, b[] = {1, 2, 3};
    volatile float x = 1.0f / 3.0f;
    assert_int_equal(-1, (int64_t)-1);
    assert_int_not_equal(1, 2);
    assert_true(1);
    assert_false(0);
    assert_memory_equal(a, b, sizeof a);
    assert_string_equal("abc", "abc");
    assert_float_equal(x * 3.0f, 1.0f, 1e-6);
    assert_float_equal(NAN, 1.0f, 0); /* cmocka's quirk: a NaN passes */
    assert_non_null(a);
    assert_null(NULL);
}

static void test_fails_int(void **state)
{
    (void)state;
    assert_int_equal(1, 2);
}

static void test_fails_memory(void **state)
{
    (void)state;
    static const uint8_t a[] = {1, 2, 3}, b[] = {1, 9, 3};
    assert_memory_equal(a, b, sizeof a);
}

static void test_fails_string(void **state)
{
    (void)state;
    assert_string_equal("abc", "abd");
}

static void test_fails_float(void **state)
{
    (void)state;
    assert_float_equal(1.0f, 1.1f, 0.01);
}

static void test_fails_msg(void **state)
{
    (void)state;
    fail_msg("failed on purpose: %d", 42);
}

static void test_skips(void **state)
{
    (void)state;
    skip();
}

static int setup_fails(void **state)
{
    (void)state;
    return -1;
}

static int setup_state(void **state)
{
    static int value = 7;
    *state = &value;
    return 0;
}

static int teardown_state(void **state)
{
    return *(int *)*state == 7 ? 0 : -1;
}

static void test_never_runs(void **state)
{
    (void)state;
    fail_msg("ran after its setup failed");
}

static void test_state(void **state)
{
    assert_int_equal(*(int *)*state, 7);
}

static void test_fails_teardown(void **state)
{
    *(int *)*state = 8; /* the teardown sees it and fails the test */
}

/* A misaligned word load: a byte buffer read through a uint32_t pointer at an offset the
 * compiler cannot see (it would make byte loads of a misalignment it knows of). */
static uint32_t misaligned_load(void)
{
    static uint32_t words[2] = {0x11223344u, 0x55667788u};
    static volatile size_t offset = 1;
    const uint32_t *p = (const uint32_t *)(const void *)((const uint8_t *)words + offset);
    return *p;
}

/* Unbounded recursion: the stack runs into the MPU guard below it. */
static unsigned deep(volatile unsigned *n)
{
    volatile uint8_t frame[64];
    frame[0] = (uint8_t)*n;
    if (++*n == 0) /* never: n counts up from 0 */
        return 0;
    return deep(n) + frame[0];
}

/* Whether the command line ends in word (newlib's strstr itself loads words misaligned). */
static int ends_with(const char *s, const char *word)
{
    size_t n = strlen(s), w = strlen(word);
    if (n < w)
        return 0;
    for (size_t i = 0; i < w; i++)
        if (s[n - w + i] != word[i])
            return 0;
    return 1;
}

int main(void)
{
    char cmd[128];
    if (target_cmdline(cmd, sizeof cmd) == 0 && ends_with(cmd, "unaligned")) {
        printf("misaligned load: %08lx (must not be reached)\n", (unsigned long)misaligned_load());
        return 0;
    }
    if (ends_with(cmd, "overflow")) {
        volatile unsigned n = 0;
        printf("recursion: %u (must not be reached)\n", deep(&n));
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passes),
        cmocka_unit_test(test_fails_int),
        cmocka_unit_test(test_fails_memory),
        cmocka_unit_test(test_fails_string),
        cmocka_unit_test(test_fails_float),
        cmocka_unit_test(test_fails_msg),
        cmocka_unit_test(test_skips),
        cmocka_unit_test_setup(test_never_runs, setup_fails),
        cmocka_unit_test_setup_teardown(test_state, setup_state, teardown_state),
        cmocka_unit_test_setup_teardown(test_fails_teardown, setup_state, teardown_state),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("selftest: %d failed, %d expected\n", failed, SELFTEST_FAILS);
    return failed;
}
