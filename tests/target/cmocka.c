/*
 * The target's small cmocka (see cmocka.h for why it exists). Output and results as
 * cmocka 1.1: messages on stdout, errors on stderr, the number of failed tests returned.
 * Sizes print as %lu: newlib as Debian builds it for arm-none-eabi has no C99 %zu.
 */
#include "cmocka.h"
#include "target.h"

#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { CM_PASSED, CM_FAILED, CM_SKIPPED };

/* The one test running; a framework's own state, like cmocka's globals. */
static jmp_buf cm_jump;
static int cm_running;

void print_message(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    fflush(stdout);
}

void print_error(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fflush(stdout);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fflush(stderr);
}

__attribute__((noreturn)) static void cm_leave(int status)
{
    if (!cm_running) {
        print_error("[  ERROR   ] --- an assertion outside of a test\n");
        fflush(NULL);
        _Exit(1);
    }
    longjmp(cm_jump, status);
}

void _fail(const char *file, int line)
{
    print_error("[   LINE   ] --- %s:%d: error: Failure!\n", file, line);
    cm_leave(CM_FAILED);
}

void _skip(const char *file, int line)
{
    (void)file;
    (void)line;
    cm_leave(CM_SKIPPED);
}

void _assert_true(LargestIntegralType result, const char *expr, const char *file, int line)
{
    if (!result) {
        print_error("[  ERROR   ] --- %s\n", expr);
        _fail(file, line);
    }
}

void _assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                       int line)
{
    if (a != b) {
        print_error("[  ERROR   ] --- %#llx != %#llx\n", (unsigned long long)a, (unsigned long long)b);
        _fail(file, line);
    }
}

void _assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                           int line)
{
    if (a == b) {
        print_error("[  ERROR   ] --- %#llx == %#llx\n", (unsigned long long)a, (unsigned long long)b);
        _fail(file, line);
    }
}

void _assert_in_range(LargestIntegralType v, LargestIntegralType lo, LargestIntegralType hi,
                      const char *file, int line)
{
    if (v < lo || v > hi) {
        print_error("[  ERROR   ] --- %#llx is not within the range %#llx-%#llx\n",
                    (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
        _fail(file, line);
    }
}

/* cmocka's comparison: within eps, or within FLT_EPSILON relative; a NaN passes
 * because neither test is true of it (tests that care compare by hand). */
static int cm_float_equal(float a, float b, float eps)
{
    float diff = a - b;
    diff = diff >= 0.f ? diff : -diff;
    if (diff <= eps)
        return 1;
    float aa = a >= 0.f ? a : -a, ab = b >= 0.f ? b : -b;
    float largest = ab > aa ? ab : aa;
    return !(diff > largest * FLT_EPSILON);
}

void _assert_float_equal(float a, float b, float eps, const char *file, int line)
{
    if (!cm_float_equal(a, b, eps)) {
        print_error("[  ERROR   ] --- %f != %f\n", (double)a, (double)b);
        _fail(file, line);
    }
}

void _assert_float_not_equal(float a, float b, float eps, const char *file, int line)
{
    if (cm_float_equal(a, b, eps)) {
        print_error("[  ERROR   ] --- %f == %f\n", (double)a, (double)b);
        _fail(file, line);
    }
}

void _assert_string_equal(const char *a, const char *b, const char *file, int line)
{
    if (!a || !b || strcmp(a, b) != 0) {
        print_error("[  ERROR   ] --- \"%s\" != \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
        _fail(file, line);
    }
}

void _assert_string_not_equal(const char *a, const char *b, const char *file, int line)
{
    if (a && b && strcmp(a, b) == 0) {
        print_error("[  ERROR   ] --- \"%s\" == \"%s\"\n", a, b);
        _fail(file, line);
    }
}

/* Like cmocka: every differing octet (up to a screenful), then their count. */
void _assert_memory_equal(const void *a, const void *b, size_t n, const char *file, int line)
{
    const unsigned char *x = a, *y = b;
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == y[i])
            continue;
        if (differ++ < 32)
            print_error("[  ERROR   ] --- difference at offset %lu 0x%02x 0x%02x\n",
                        (unsigned long)i, x[i], y[i]);
    }
    if (differ) {
        print_error("[  ERROR   ] --- %lu bytes of %p and %p differ\n", (unsigned long)differ, a,
                    b);
        _fail(file, line);
    }
}

void _assert_memory_not_equal(const void *a, const void *b, size_t n, const char *file,
                              int line)
{
    if (memcmp(a, b, n) == 0) {
        print_error("[  ERROR   ] --- %lu bytes of %p and %p are the same\n", (unsigned long)n, a,
                    b);
        _fail(file, line);
    }
}

/* Runs fn(state) with assertions armed: returns 0, CM_FAILED or CM_SKIPPED. */
static int cm_run_test(CMUnitTestFunction fn, void **state)
{
    int rc = setjmp(cm_jump);
    if (rc == 0) {
        cm_running = 1;
        fn(state);
    }
    cm_running = 0;
    return rc;
}

/* A fixture: its return value, or CM_FAILED if an assertion left it. */
static int cm_run_fixture(CMFixtureFunction fn, void **state)
{
    volatile int rc = -1;
    if (setjmp(cm_jump) == 0) {
        cm_running = 1;
        rc = fn(state);
    }
    cm_running = 0;
    return rc == -1 ? CM_FAILED : rc;
}

/* One test with its fixtures: CM_PASSED, CM_FAILED or CM_SKIPPED. */
static int cm_one(const struct CMUnitTest *t, void *group_state)
{
    void *state = t->initial_state ? t->initial_state : group_state;
    print_message("[ RUN      ] %s\n", t->name);
    if (t->setup_func && cm_run_fixture(t->setup_func, &state) != 0) {
        print_error("[  ERROR   ] %s: Test setup failed\n", t->name);
        print_error("[  FAILED  ] %s\n", t->name);
        return CM_FAILED;
    }
    int rc = cm_run_test(t->test_func, &state);
    if (t->teardown_func && cm_run_fixture(t->teardown_func, &state) != 0 && rc == CM_PASSED) {
        print_error("[  ERROR   ] %s: Test teardown failed\n", t->name);
        rc = CM_FAILED;
    }
    if (rc == CM_PASSED)
        print_message("[       OK ] %s\n", t->name);
    else if (rc == CM_SKIPPED)
        print_message("[  SKIPPED ] %s\n", t->name);
    else
        print_error("[  FAILED  ] %s\n", t->name);
    return rc;
}

static void cm_list(const struct CMUnitTest *const *tests, const int *status, size_t n,
                    int which, const char *tag)
{
    for (size_t i = 0; i < n; i++)
        if (status[i] == which)
            print_error("%s %s\n", tag, tests[i]->name);
}

static int cm_summary(const struct CMUnitTest *const *tests, const int *status, size_t n)
{
    size_t count[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        count[status[i]]++;
    print_message("[==========] %lu test(s) run.\n", (unsigned long)n);
    print_message("[  PASSED  ] %lu test(s).\n", (unsigned long)count[CM_PASSED]);
    if (count[CM_SKIPPED]) {
        print_error("[  SKIPPED ] %lu test(s), listed below:\n", (unsigned long)count[CM_SKIPPED]);
        cm_list(tests, status, n, CM_SKIPPED, "[  SKIPPED ]");
    }
    if (count[CM_FAILED]) {
        print_error("[  FAILED  ] %lu test(s), listed below:\n", (unsigned long)count[CM_FAILED]);
        cm_list(tests, status, n, CM_FAILED, "[  FAILED  ]");
        print_error("\n %lu FAILED TEST(S)\n", (unsigned long)count[CM_FAILED]);
    }
    return (int)count[CM_FAILED];
}

/* A run of some of the tests, named on the command line (QEMU's -append; the first word
 * is the program): scripts/target-tests.sh runs the cases of a long test program as
 * separate QEMU runs, side by side. "--list" prints the names and runs nothing. */
static char cm_cmdline[1024];

static const char *cm_args(void)
{
    if (!cm_cmdline[0] && target_cmdline(cm_cmdline, sizeof cm_cmdline) != 0)
        return "";
    const char *a = cm_cmdline;
    while (*a && *a != ' ')
        a++;
    while (*a == ' ')
        a++;
    return a;
}

static int cm_named(const char *args, const char *name)
{
    size_t n = strlen(name);
    for (const char *a = args; *a;) {
        size_t w = strcspn(a, " ");
        if (w == n && memcmp(a, name, n) == 0)
            return 1;
        a += w;
        a += strspn(a, " ");
    }
    return 0;
}

/* The selected tests have at most a few dozen cases per group. */
#define CM_MAX_TESTS 256

int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t n,
                            CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    static const struct CMUnitTest *run[CM_MAX_TESTS];
    static int status[CM_MAX_TESTS];
    void *group_state = NULL;
    const char *args = cm_args();
    (void)group_name;
    if (strcmp(args, "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            print_message("%s\n", tests[i].name);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n && k < CM_MAX_TESTS; i++)
        if (!*args || cm_named(args, tests[i].name))
            run[k++] = &tests[i];
    if (n > CM_MAX_TESTS) {
        print_error("[  ERROR   ] %lu tests in one group: raise CM_MAX_TESTS\n", (unsigned long)n);
        return (int)n;
    }
    n = k;
    print_message("[==========] Running %lu test(s).\n", (unsigned long)n);
    if (group_setup && cm_run_fixture(group_setup, &group_state) != 0) {
        print_error("[  ERROR   ] Group setup failed\n");
        return (int)n;
    }
    for (size_t i = 0; i < n; i++)
        status[i] = cm_one(run[i], group_state);
    if (group_teardown && cm_run_fixture(group_teardown, &group_state) != 0)
        print_error("[  ERROR   ] Group teardown failed\n");
    return cm_summary(run, status, n);
}
