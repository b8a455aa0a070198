/*
 * A small cmocka for the target: the subset of cmocka's API that the core's unit tests
 * use, so that the same tests/test_*.c build for a Cortex-M4F and run under QEMU with
 * semihosting (scripts/target-tests.sh).
 *
 * Why it exists: Debian packages cmocka for the host only (there is no arm-none-eabi
 * build), and the tests must stay unchanged so that the host and the target run the
 * very same assertions. Only what grep finds in the selected tests is here: unit tests
 * with setup/teardown, group runs, the assert_* macros, fail/fail_msg, skip and
 * print_message. No mocking (will_return/expect_*) and no leak checks (test_malloc).
 *
 * It behaves like cmocka 1.1: the same per-test "[ RUN      ]" / "[       OK ]" /
 * "[  FAILED  ]" lines and summary, an assertion leaves the test with longjmp, the
 * group's result is the number of failed tests (so main's return value is non-zero on
 * any failure), and assert_float_equal compares in float like cmocka's (a NaN passes).
 * One addition: test names on the semihosting command line (QEMU -append) run only those
 * tests, "--list" lists them (scripts/target-tests.sh runs long programs case by case).
 */
#ifndef S4100_TARGET_CMOCKA_H
#define S4100_TARGET_CMOCKA_H

/* The tests include this with -isystem, as the host's cmocka.h is a system header:
 * fail_msg's ", ##__VA_ARGS__" is a GNU extension that -Wpedantic would flag. */
#pragma GCC system_header

#include <stddef.h>
#include <stdint.h>

typedef uintmax_t LargestIntegralType;

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup(f, setup) {#f, f, setup, NULL, NULL}
#define cmocka_unit_test_teardown(f, teardown) {#f, f, NULL, teardown, NULL}
#define cmocka_unit_test_setup_teardown(f, setup, teardown) {#f, f, setup, teardown, NULL}
#define cmocka_unit_test_prestate(f, state) {#f, f, NULL, NULL, state}
#define cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, state) \
    {#f, f, setup, teardown, state}

#define cmocka_run_group_tests(tests, group_setup, group_teardown)                         \
    _cmocka_run_group_tests(#tests, tests, sizeof(tests) / sizeof((tests)[0]), group_setup, \
                            group_teardown)
#define cmocka_run_group_tests_name(name, tests, group_setup, group_teardown)               \
    _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), group_setup,  \
                            group_teardown)

#define cm_cast(x) ((LargestIntegralType)(x))
#define cm_cast_ptr(x) ((LargestIntegralType)(uintptr_t)(x))

#define assert_true(c) _assert_true(cm_cast(c), #c, __FILE__, __LINE__)
#define assert_false(c) _assert_true(!(c), #c, __FILE__, __LINE__)
#define assert_non_null(c) _assert_true(cm_cast_ptr(c), #c, __FILE__, __LINE__)
#define assert_null(c) _assert_true(!(c), #c, __FILE__, __LINE__)
#define assert_return_code(rc, error) _assert_true((rc) >= 0, #rc, __FILE__, __LINE__)
#define assert_int_equal(a, b) _assert_int_equal(cm_cast(a), cm_cast(b), __FILE__, __LINE__)
#define assert_int_not_equal(a, b) \
    _assert_int_not_equal(cm_cast(a), cm_cast(b), __FILE__, __LINE__)
#define assert_ptr_equal(a, b) \
    _assert_int_equal(cm_cast_ptr(a), cm_cast_ptr(b), __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b) \
    _assert_int_not_equal(cm_cast_ptr(a), cm_cast_ptr(b), __FILE__, __LINE__)
#define assert_in_range(v, lo, hi) \
    _assert_in_range(cm_cast(v), cm_cast(lo), cm_cast(hi), __FILE__, __LINE__)
#define assert_float_equal(a, b, eps) \
    _assert_float_equal((float)(a), (float)(b), (float)(eps), __FILE__, __LINE__)
#define assert_float_not_equal(a, b, eps) \
    _assert_float_not_equal((float)(a), (float)(b), (float)(eps), __FILE__, __LINE__)
#define assert_string_equal(a, b) _assert_string_equal((a), (b), __FILE__, __LINE__)
#define assert_string_not_equal(a, b) _assert_string_not_equal((a), (b), __FILE__, __LINE__)
#define assert_memory_equal(a, b, n) \
    _assert_memory_equal((const void *)(a), (const void *)(b), (n), __FILE__, __LINE__)
#define assert_memory_not_equal(a, b, n) \
    _assert_memory_not_equal((const void *)(a), (const void *)(b), (n), __FILE__, __LINE__)

#define fail() _fail(__FILE__, __LINE__)
#define fail_msg(msg, ...)                                 \
    do {                                                   \
        print_error("ERROR: " msg "\n", ##__VA_ARGS__);    \
        fail();                                            \
    } while (0)
#define skip() _skip(__FILE__, __LINE__)

void print_message(const char *format, ...) __attribute__((format(printf, 1, 2)));
void print_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

void _assert_true(LargestIntegralType result, const char *expr, const char *file, int line);
void _assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                       int line);
void _assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                           int line);
void _assert_in_range(LargestIntegralType v, LargestIntegralType lo, LargestIntegralType hi,
                      const char *file, int line);
void _assert_float_equal(float a, float b, float eps, const char *file, int line);
void _assert_float_not_equal(float a, float b, float eps, const char *file, int line);
void _assert_string_equal(const char *a, const char *b, const char *file, int line);
void _assert_string_not_equal(const char *a, const char *b, const char *file, int line);
void _assert_memory_equal(const void *a, const void *b, size_t n, const char *file, int line);
void _assert_memory_not_equal(const void *a, const void *b, size_t n, const char *file,
                              int line);
void _fail(const char *file, int line) __attribute__((noreturn));
void _skip(const char *file, int line) __attribute__((noreturn));
int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t n,
                            CMFixtureFunction group_setup, CMFixtureFunction group_teardown);

#endif
