/*
 * COMTRADE recordings (src/sim/comtrade.c) written by an independent writer
 * (tests/comtrade_write.py, from the standard's layout) in all four data formats, as
 * .cfg/.dat (1999, 2013) and .cff, from analytic 60 Hz signals: the frames read back
 * at MTR_FS carry the known RMS values and phase; several sample rates, time-stamp
 * rates, secondary values, kV, channel maps; and every malformed file gives one line
 * naming the file and the line or record.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define NMAX (MTR_FS * 4)
#define PI 3.14159265358979323846

typedef struct {
    char dir[64];
    char base[128];
    char path[160];
} ctx_t;

static int setup(void **state)
{
    ctx_t *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    strcpy(c->dir, "/tmp/test_comtrade.XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    snprintf(c->base, sizeof c->base, "%s/t", c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    if (system(cmd) != 0)
        return -1;
    free(c);
    return 0;
}

/* Writes c->base.cfg/.dat (or .cff) with the independent writer; c->path names it. */
static void write_rec(ctx_t *c, const char *args)
{
    if (system("python3 -c '' 2>/dev/null") != 0)
        skip();
    char cmd[768];
    snprintf(cmd, sizeof cmd, "python3 '%s/tests/comtrade_write.py' '%s' %s", S4100_SOURCE_DIR,
             c->base, args);
    assert_int_equal(system(cmd), 0);
    snprintf(c->path, sizeof c->path, "%s.%s", c->base, strstr(args, "--cff") ? "cff" : "cfg");
}

typedef struct {
    long n;
    double rms[MTR_NCH];
    double pf; /* Va with Ia */
    double vab; /* Va with Vb: cos of their angle */
} meas_t;

static int read_all(const char *path, const sim_comtrade_opts_t *o, mtr_frame_t *buf, long *n,
                    sim_err_t *err)
{
    sim_source_t *s;
    int rc = sim_open_comtrade(&s, path, o, NULL, err);
    if (rc != SIM_OK)
        return rc;
    long got = 0, k;
    while ((k = sim_read(s, buf + got, NULL, (size_t)(NMAX - got), err)) > 0)
        got += k;
    sim_close(s);
    *n = got;
    return k < 0 ? (int)k : SIM_OK;
}

/* RMS and phase over whole 60 Hz cycles, away from the filter's edges. */
static meas_t measure(const char *path, const sim_comtrade_opts_t *o)
{
    static mtr_frame_t buf[NMAX];
    meas_t m;
    memset(&m, 0, sizeof m);
    sim_err_t err = {{0}};
    int rc = read_all(path, o, buf, &m.n, &err);
    if (rc != SIM_OK)
        fail_msg("%s", err.msg);
    long a = 420, z = a + (m.n - 840) / 42 * 42;
    assert_true(z > a);
    double ss[MTR_NCH] = {0}, p = 0, vv = 0;
    for (long k = a; k < z; k++) {
        for (int ch = 0; ch < MTR_NCH; ch++)
            ss[ch] += (double)buf[k][ch] * buf[k][ch];
        p += (double)buf[k][0] * buf[k][3];
        vv += (double)buf[k][0] * buf[k][1];
    }
    for (int ch = 0; ch < MTR_NCH; ch++)
        m.rms[ch] = sqrt(ss[ch] / (double)(z - a));
    m.pf = m.rms[3] > 0 ? p / (double)(z - a) / (m.rms[0] * m.rms[3]) : 0;
    m.vab = vv / (double)(z - a) / (m.rms[0] * m.rms[1]);
    return m;
}

static void expect(const meas_t *m, long n, double v, double i, double phi_deg, double tol)
{
    assert_int_equal(m->n, n);
    for (int ch = 0; ch < MTR_NCH; ch++) {
        double want = ch < 3 ? v : i;
        if (fabs(m->rms[ch] - want) > tol * want)
            fail_msg("channel %d: RMS %.6f, expected %.6f", ch, m->rms[ch], want);
    }
    if (fabs(m->pf - cos(phi_deg * PI / 180)) > tol)
        fail_msg("pf %.6f, expected %.6f", m->pf, cos(phi_deg * PI / 180));
    if (fabs(m->vab - cos(2 * PI / 3)) > tol)
        fail_msg("Va/Vb %.6f, expected -0.5", m->vab);
}

static void test_formats(void **state)
{
    ctx_t *c = *state;
    static const char *const fmt[] = {"ascii", "binary", "binary32", "float32"};
    static const char *const kind[] = {"--rev 1999", "--rev 2013", "--cff"};
    for (int f = 0; f < 4; f++)
        for (int k = 0; k < 3; k++) {
            char args[128];
            snprintf(args, sizeof args, "--format %s %s", fmt[f], kind[k]);
            write_rec(c, args);
            meas_t m = measure(c->path, NULL);
            print_message("%-28s Va %.5f Ia %.5f pf %.6f\n", args, m.rms[0], m.rms[3], m.pf);
            /* 2 s at 5000 S/s; BINARY's 16 bits bound the quantization error */
            expect(&m, 2 * MTR_FS, 230, 50, 30, f == 1 ? 1e-4 : 2e-5);
        }
}

static void test_variants(void **state)
{
    ctx_t *c = *state;
    meas_t m;
    /* secondary values, kV/kA, channels in another order */
    write_rec(c, "--format binary32 --secondary --kv --shuffle --v 7967 --i 320 --phi -20");
    m = measure(c->path, NULL);
    expect(&m, 2 * MTR_FS, 7967, 320, -20, 2e-5);
    /* three rates in one file: 1 s each at 5000, 1000 and 2520 S/s */
    write_rec(c, "--format float32 --rev 2013 --rates 5000:5000,1000:1000,2520:2520");
    m = measure(c->path, NULL);
    expect(&m, 3 * MTR_FS, 230, 50, 30, 2e-5);
    /* a rate change off the output grid: 1441 samples at 4800, 2039 at 1200 */
    write_rec(c, "--format ascii --rates 4800:1441,1200:2039");
    m = measure(c->path, NULL);
    expect(&m, 5038, 230, 50, 30, 1e-4); /* 1.999375 s */
    /* nrates 0: the time stamps (timemult 2) give the rate */
    write_rec(c, "--format binary --stamps --rates 4000:8000");
    m = measure(c->path, NULL);
    expect(&m, 2 * MTR_FS, 230, 50, 30, 1e-4);
    /* already at 2520 S/s: the samples as they are */
    write_rec(c, "--format float32 --rates 2520:5040");
    m = measure(c->path, NULL);
    expect(&m, 2 * MTR_FS, 230, 50, 30, 1e-6);
}

static void test_map(void **state)
{
    ctx_t *c = *state;
    sim_comtrade_opts_t o;
    sim_err_t err = {{0}};
    write_rec(c, "--format binary32 --shuffle");
    memset(&o, 0, sizeof o);
    /* by ch_id and channel number (shuffled: IA VA IN IB VB IC VC) */
    assert_int_equal(sim_comtrade_map(&o, "va=VB, Vb=2", &err), SIM_OK);
    meas_t m = measure(c->path, &o);
    assert_true(fabs(m.pf) < 1e-4); /* VB (-120) with IA (-30): 90 degrees */
    assert_true(fabs(m.vab + 0.5) < 1e-4);
    memset(&o, 0, sizeof o);
    assert_int_equal(sim_comtrade_map(&o, "ic=none", &err), SIM_OK);
    m = measure(c->path, &o);
    assert_true(m.rms[5] == 0 && fabs(m.rms[4] - 50) < 1e-3);

    static const struct { const char *map, *msg; } bad[] = {
        {"vx=1", "expected va|vb|vc|ia|ib|ic"},
        {"va=", "expected va|vb|vc|ia|ib|ic"},
        {"va=1,vb=2,vc=3,ia=4,ib=5,ic=6,va=7", "more than 6"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memset(&o, 0, sizeof o);
        assert_int_not_equal(sim_comtrade_map(&o, bad[k].map, &err), SIM_OK);
        assert_non_null(strstr(err.msg, bad[k].msg));
    }
    static const struct { const char *map, *msg; } refused[] = {
        {"va=1", "line 3: channel 1 'IA' has unit 'A', Va needs V or kV"},
        {"ia=8", "Ia: no analog channel '8' (channels 1 to 7)"},
        {"ib=IX", "Ib: no analog channel 'IX'"},
    };
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        memset(&o, 0, sizeof o);
        assert_int_equal(sim_comtrade_map(&o, refused[k].map, &err), SIM_OK);
        sim_source_t *s;
        assert_true(sim_open_comtrade(&s, c->path, &o, NULL, &err) < 0);
        assert_null(s);
        if (!strstr(err.msg, refused[k].msg) || strncmp(err.msg, c->path, strlen(c->path)))
            fail_msg("'%s': got '%s'", refused[k].map, err.msg);
    }
}

/* ---- malformed files ---- */

/* Replaces line n (1-based) of a text file; NULL deletes it. */
static void edit_line(const char *path, int n, const char *text)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char in[1 << 21], out[1 << 21];
    size_t len = fread(in, 1, sizeof in - 1, f), o = 0;
    fclose(f);
    in[len] = '\0';
    int line = 1;
    for (char *p = in; p < in + len;) {
        char *nl = memchr(p, '\n', (size_t)(in + len - p));
        size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(in + len - p);
        if (line == n) {
            if (text)
                o += (size_t)sprintf(out + o, "%s\r\n", text);
        } else {
            memcpy(out + o, p, l);
            o += l;
        }
        p += l;
        line++;
    }
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out, 1, o, f), o);
    fclose(f);
}

static void dat_path(const ctx_t *c, char *p, size_t cap)
{
    snprintf(p, cap, "%s.dat", c->base);
}

static void expect_error(const ctx_t *c, const char *file, const char *msg)
{
    sim_source_t *s;
    sim_err_t err = {{0}};
    int rc = sim_open_comtrade(&s, c->path, NULL, NULL, &err);
    print_message("%s\n", err.msg);
    assert_true(rc < 0);
    assert_null(s);
    char want[512];
    snprintf(want, sizeof want, "%s: %s", file, msg);
    if (!strstr(err.msg, want) || strchr(err.msg, '\n'))
        fail_msg("expected '%s', got '%s'", want, err.msg);
}

/* Lines of the writer's default .cfg: 3-9 analog VA VB VC IA IB IC IN, 10-11 digital,
 * 12 lf, 13 nrates, 14 samp,endsamp, 15-16 time stamps, 17 ft, 18 timemult. */
static void test_errors(void **state)
{
    ctx_t *c = *state;
    char dat[160];
    dat_path(c, dat, sizeof dat);
    static const struct { int line; const char *text, *msg; } cfg_bad[] = {
        {1, "station only", "line 1: station line"},
        {1, "st,dev,2020", "line 1: revision year is not 1991, 1999 or 2013: '2020'"},
        {2, "9,6A,2D", "line 2: 9 channels in all, but 6 analog + 2 digital"},
        {2, "9,7X,2D", "line 2: channel counts"},
        {3, "1,VA,A,,V,abc,0,0,-99998,99998,14400,120,P", "line 3: scale factor a is not"},
        {3, "1,VA,A,,V,0,0,0,-99998,99998,14400,120,P", "line 3: scale factor a is not"},
        {4, "2,VB,B,,V,1,nan,0,-99998,99998,14400,120,P", "line 4: offset b is not"},
        {5, "3,VC,C,,V,1,0,0,-99998,99998,0,120,S", "line 5: analog channel 3: primary '0'"},
        {6, "4,IA,A,,A,1,0,0,-99998,99998,400,5,X", "line 6: PS is not P or S: 'X'"},
        {7, "5,IB,B,,A,1,0,0,-99998,99998,400", "line 7: analog channel 5: 11 fields"},
        {8, "7,IC,C,,A,1,0,0,-99998,99998,400,5,P", "line 8: analog channel number '7', expected 6"},
        {8, "6,IC,N,,A,1,0,0,-99998,99998,400,5,P", "no analog channel for Ic (phase C"},
        {9, "7,IN,A,,kV,1,0,0,-99998,99998,400,5,P", "line 9: channels 1 'VA' (line 3) and 7 'IN'"},
        {10, "1,TRIP1", "line 10: digital channel 1: 2 fields"},
        {12, "sixty", "line 12: line frequency is not a number"},
        {13, "1000", "line 13: nrates is not a whole number"},
        {14, "5000,0", "line 14: endsamp 0 does not increase"},
        {14, "-5,10000", "line 14: sample rate -5 Hz is not positive"},
        {14, "0.001,10000", "line 14: sample rate 0.001 Hz cannot be resampled"},
        {15, "32/13/2026,02:00:00", "line 15: first sample time stamp: expected dd/mm/yyyy"},
        {17, "BINARY64", "line 17: data file type is not ASCII, BINARY, BINARY32 or FLOAT32"},
        {18, "-1", "line 18: timemult is not a positive number"},
        {17, NULL, "line 17: data file type is not"},
    };
    for (size_t k = 0; k < sizeof cfg_bad / sizeof cfg_bad[0]; k++) {
        write_rec(c, "--format ascii");
        edit_line(c->path, cfg_bad[k].line, cfg_bad[k].text);
        expect_error(c, c->path, cfg_bad[k].msg);
    }
    /* the file ends early */
    write_rec(c, "--format ascii");
    for (int k = 0; k < 7; k++)
        edit_line(c->path, 12, NULL);
    expect_error(c, c->path, "line 12: the file ends where the line frequency was expected");
    write_rec(c, "--format ascii");
    edit_line(c->path, 14, "5000,10001");
    expect_error(c, dat, "10000 data lines, the cfg (line 14: endsamp) gives 10001 samples");

    /* ASCII data */
    write_rec(c, "--format ascii");
    edit_line(dat, 7, "7,1200,1,2,3,4,5,6,0,0");
    expect_error(c, dat, "line 7: 10 fields, expected 11");
    write_rec(c, "--format ascii");
    edit_line(dat, 9, "9,1600,1,x,3,4,5,6,7,0,0");
    expect_error(c, dat, "line 9: Vb (channel 2) 'x' is not a number");
    write_rec(c, "--format ascii");
    edit_line(dat, 4, "4,600,99999,2,3,4,5,6,7,0,0");
    expect_error(c, dat, "line 4: Va is missing (the missing-data marker)");
    write_rec(c, "--format ascii");
    edit_line(dat, 5, "5,800,1,2,3,,5,6,7,0,0");
    expect_error(c, dat, "line 5: Ia is missing");
    write_rec(c, "--format ascii");
    edit_line(dat, 10000, NULL);
    expect_error(c, dat, "9999 data lines, the cfg (line 14: endsamp) gives 10000 samples");

    /* binary data: records of 8 + 7 x 2 + 2 bytes */
    write_rec(c, "--format binary");
    assert_int_equal(truncate(dat, 10000 * 24 - 5), 0);
    expect_error(c, dat, "record 10000: truncated: 239995 bytes hold 9999 records of 24 bytes");
    write_rec(c, "--format binary");
    assert_int_equal(truncate(dat, 10001 * 24), 0);
    expect_error(c, dat, "record 10001: beyond the 10000 samples the cfg gives (line 14");
    write_rec(c, "--format binary");
    FILE *f = fopen(dat, "r+b");
    assert_non_null(f);
    fseek(f, 41 * 24 + 8 + 2 * 2, SEEK_SET); /* record 42, channel 3 (VC) */
    fputc(0x00, f);
    fputc(0x80, f);
    fclose(f);
    expect_error(c, dat, "record 42: Vc is missing (the missing-data marker)");
    write_rec(c, "--format float32");
    f = fopen(dat, "r+b");
    assert_non_null(f);
    fseek(f, 99 * 38 + 8 + 4 * 5, SEEK_SET); /* record 100, channel 6 (IC): +inf */
    fwrite("\x00\x00\x80\x7f", 1, 4, f);
    fclose(f);
    expect_error(c, dat, "record 100: Ic (channel 6) = inf is not a finite float");
    write_rec(c, "--format binary32");
    assert_int_equal(unlink(dat), 0);
    expect_error(c, dat, "cannot open");

    /* nrates 0 with uneven time stamps */
    write_rec(c, "--format ascii --stamps --rates 4000:8000");
    edit_line(dat, 100, "100,13000,1,2,3,4,5,6,7,0,0");
    expect_error(c, dat, "sample 100: time step");

    /* rate segments too short to resample on their own */
    char args[1024] = "--format binary --rates ";
    for (int k = 0; k < 50; k++)
        strcat(strcat(args, k ? "," : ""), k % 2 ? "2520:2" : "600000:2");
    write_rec(c, args);
    expect_error(c, c->path, "line 14: 50 sample rates over 100 samples: the segments are too short");

    /* .cff sections */
    write_rec(c, "--format binary --cff");
    edit_line(c->path, 25, "--- file type: DAT BINARY: 999999 ---");
    expect_error(c, c->path, "line 25: the DAT section says 999999 bytes");
    write_rec(c, "--format ascii --cff");
    edit_line(c->path, 1, "--- file type: XYZ ---");
    expect_error(c, c->path, "no '--- file type: CFG' section");
    write_rec(c, "--format ascii --cff");
    edit_line(c->path, 26, "2,200,1,2,3");
    expect_error(c, c->path, "line 26: 5 fields, expected 11");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
