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
    char path[512];
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

/* ---- the standard's cases: tests/comtrade/ (see its README.md) ---- */

static void std_path(char *p, size_t cap, const char *name)
{
    snprintf(p, cap, "%s/tests/comtrade/%s", S4100_SOURCE_DIR, name);
}

/* A file of tests/comtrade/ copied to c->base + ext (c->path names it if a .cfg/.cff). */
static void std_copy(ctx_t *c, const char *name, const char *ext)
{
    char from[512], to[512];
    std_path(from, sizeof from, name);
    snprintf(to, sizeof to, "%s%s", c->base, ext);
    FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
    assert_non_null(f);
    assert_non_null(g);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        assert_int_equal(fwrite(buf, 1, n, g), n);
    fclose(f);
    fclose(g);
    if (strcmp(ext, ".dat"))
        snprintf(c->path, sizeof c->path, "%s", to);
}

static void put_le(uint8_t **p, uint32_t v, int bytes)
{
    for (int k = 0; k < bytes; k++)
        *(*p)++ = (uint8_t)(v >> (8 * k));
}

static void write_dat(const ctx_t *c, const uint8_t *b, size_t n)
{
    char p[200];
    dat_path(c, p, sizeof p);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Every frame of a recording that must open; its info in *in. */
static long frames(const char *path, const sim_comtrade_opts_t *o, sim_comtrade_info_t *in,
                   mtr_frame_t *buf)
{
    sim_source_t *s;
    sim_err_t err = {{0}};
    if (sim_open_comtrade(&s, path, o, in, &err) != SIM_OK)
        fail_msg("%s", err.msg);
    long got = 0, k;
    while ((k = sim_read(s, buf + got, NULL, (size_t)(NMAX - got), &err)) > 0)
        got += k;
    sim_close(s);
    if (k < 0)
        fail_msg("%s", err.msg);
    return got;
}

static void near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol * (fabs(want) > 1 ? fabs(want) : 1)))
        fail_msg("%s: %.9g, expected %.9g", what, got, want);
}

/* C37.111-1991 layout (the 1999 standard's description of what changed): line 1 without
 * rev_year, analog lines of 10 fields (no primary, secondary, PS), status lines Dn,ch_id,y,
 * dates mm/dd/yy, no timemult line; ASCII data, values a*x+b in the channel's unit. */
static void test_std_1991(void **state)
{
    ctx_t *c = *state;
    static mtr_frame_t buf[NMAX];
    char path[512];
    sim_comtrade_info_t in;
    std_path(path, sizeof path, "r1991.cfg");
    long n = frames(path, NULL, &in, buf);
    assert_int_equal(n, 8); /* 2520 S/s: the samples as they are */
    for (int k = 0; k < 8; k++) {
        int s = k + 1;
        double raw[6] = {100 * s, -50 * s, -50 * s + 3, 10 * s, -4 * s, -6 * s + 1};
        for (int ch = 0; ch < 6; ch++)
            near(buf[k][ch], ch < 3 ? 0.01 * raw[ch] * 1e3 : 0.5 * raw[ch] - 1, 1e-6, "1991");
    }
    assert_int_equal(in.rev, 1991);
    assert_string_equal(in.start, "1999-12-31 23:59:59.998000"); /* month first */
    assert_string_equal(in.trigger, "1999-12-31 23:59:59.999000");
    near(in.trigger_s, 0.001, 1e-9, "1991 trigger");
    assert_string_equal(in.time_code, "");
    assert_int_equal(in.leap_second, -1);
    /* from the trigger on: 0.001 s is frame 2.52, so frames 3.. */
    sim_comtrade_opts_t o;
    sim_err_t err;
    memset(&o, 0, sizeof o);
    assert_int_equal(sim_comtrade_window(&o, "0", &err), SIM_OK);
    n = frames(path, &o, &in, buf);
    assert_int_equal(n, 5);
    near(buf[0][0], 0.01 * 400 * 1e3, 1e-6, "first frame after the trigger");
    near(in.from_s, 0.001, 1e-12, "from");
    /* a two-digit year below 70 is 20yy */
    std_copy(c, "r1991.cfg", ".cfg");
    std_copy(c, "r1991.dat", ".dat");
    edit_line(c->path, 14, "01/01/00,00:00:00.000200");
    frames(c->path, NULL, &in, buf);
    assert_string_equal(in.trigger, "2000-01-01 00:00:00.000200");
    near(in.trigger_s, 0.0022, 1e-9, "trigger across the new year");
    /* a 1999-style date in a 1991 file: month 31 */
    edit_line(c->path, 13, "31/12/1999,23:59:59.998000");
    expect_error(c, c->path, "line 13: first sample time stamp: expected mm/dd/yy,hh:mm:ss");
}

/* C37.111-1999 layout: rev_year 1999, analog lines of 13 fields with secondary values
 * (PS = S: primary = value x primary/secondary), status lines Dn,ch_id,ph,ccbm,y, dates
 * dd/mm/yyyy, timemult; BINARY data: records of n and timestamp (4 bytes each, little
 * endian), 2 bytes per analog channel (two's complement), 2 bytes per 16 status bits. */
static void test_std_1999(void **state)
{
    ctx_t *c = *state;
    static mtr_frame_t buf[NMAX];
    std_copy(c, "r1999.cfg", ".cfg");
    uint8_t dat[6 * 22], *p = dat;
    int16_t raw[6][6];
    for (int k = 0; k < 6; k++) {
        put_le(&p, (uint32_t)k + 1, 4);
        put_le(&p, (uint32_t)lround(k * 1e6 / 2520), 4);
        for (int ch = 0; ch < 6; ch++) {
            raw[k][ch] = (int16_t)((ch + 1) * 900 * (k + 1) * (ch % 2 ? -1 : 1));
            put_le(&p, (uint16_t)raw[k][ch], 2);
        }
        put_le(&p, k >= 3 ? 3 : 0, 2);
    }
    write_dat(c, dat, sizeof dat);
    sim_comtrade_info_t in;
    assert_int_equal(frames(c->path, NULL, &in, buf), 6);
    for (int k = 0; k < 6; k++)
        for (int ch = 0; ch < 6; ch++) {
            double want = ch < 3 ? 0.01 * raw[k][ch] * (138000.0 / 115)
                                 : (0.001 * raw[k][ch] + 0.002) * (1200.0 / 5);
            near(buf[k][ch], want, 1e-6, "1999 secondary to primary");
        }
    assert_int_equal(in.rev, 1999);
    assert_string_equal(in.start, "2024-03-15 10:20:30.400000"); /* day first */
    near(in.trigger_s, 0.001, 1e-9, "1999 trigger");
    /* the window's end only; then both ends before the trigger */
    sim_comtrade_opts_t o;
    sim_err_t err;
    memset(&o, 0, sizeof o);
    assert_int_equal(sim_comtrade_window(&o, "start,0.0005", &err), SIM_OK);
    assert_int_equal(frames(c->path, &o, &in, buf), 4); /* 0.0015 s: frame 3.78 */
    assert_int_equal(sim_comtrade_window(&o, "-0.001,-0.0002", &err), SIM_OK);
    assert_int_equal(frames(c->path, &o, &in, buf), 2); /* frames 0 .. 2.016 */
    near(buf[1][3], (0.001 * raw[1][3] + 0.002) * 240, 1e-6, "window before the trigger");
}

/* C37.111-2013 layout with nrates 0: one "0,endsamp" line and the data's time stamps
 * give the rate; stamps of nanoseconds (the .cfg's dates carry 9 decimals), times
 * timemult; FLOAT32 and BINARY32 data; the time_code,local_code and tmq_code,leap_second
 * lines. */
static void test_std_2013(void **state)
{
    ctx_t *c = *state;
    static mtr_frame_t buf[NMAX];
    static const char *const ft[] = {"FLOAT32", "BINARY32"};
    for (int f = 0; f < 2; f++) {
        std_copy(c, "r2013.cfg", ".cfg");
        edit_line(c->path, 14, ft[f]);
        uint8_t dat[6 * 32], *p = dat;
        double raw[6][6];
        for (int k = 0; k < 6; k++) {
            put_le(&p, (uint32_t)k + 1, 4);
            put_le(&p, (uint32_t)k * 793651u, 4); /* x 0.5 ns: 1/2519.9997 s */
            for (int ch = 0; ch < 6; ch++) {
                raw[k][ch] = (k + 1) * (ch + 1) * (ch % 2 ? -30 : 40) + (f ? 0 : 0.25);
                uint32_t u;
                float fl = (float)raw[k][ch];
                if (f == 0)
                    memcpy(&u, &fl, 4);
                else
                    u = (uint32_t)(int32_t)raw[k][ch];
                put_le(&p, u, 4);
            }
        }
        write_dat(c, dat, sizeof dat);
        sim_comtrade_info_t in;
        assert_int_equal(frames(c->path, NULL, &in, buf), 6);
        for (int k = 0; k < 6; k++)
            for (int ch = 0; ch < 6; ch++)
                near(buf[k][ch], ch < 3 ? 2 * raw[k][ch] + 0.5 : 0.001 * raw[k][ch] * 1e3, 1e-6,
                     ft[f]);
        assert_int_equal(in.rev, 2013);
        assert_string_equal(in.start, "2025-01-01 00:00:00.000000000");
        near(in.trigger_s, 793651e-9, 1e-12, "2013 trigger");
        assert_string_equal(in.time_code, "+1");
        assert_int_equal(in.tmq, 0);
        assert_int_equal(in.leap_second, 0);
    }
    /* timemult 1: the same stamps are twice the step, 1260 S/s, resampled to 12 frames */
    edit_line(c->path, 15, "1");
    sim_comtrade_info_t in;
    assert_int_equal(frames(c->path, NULL, &in, buf), 12);
}

/* 2013: several rates in one file (nrates lines of samp,endsamp, endsamp counting from
 * the file's first sample), the recorder's time zone and an unlocked clock. */
static void test_std_rates(void **state)
{
    static mtr_frame_t buf[NMAX];
    char path[512];
    std_path(path, sizeof path, "rates.cfg");
    sim_comtrade_info_t in;
    /* 8 at 5040, 4 at 2520, 6 at 1260 S/s: 8/5040 + 4/2520 + 6/1260 s = 20 frames */
    assert_int_equal(frames(path, NULL, &in, buf), 20);
    near(in.length_s, 20.0 / 2520, 1e-12, "length");
    near(in.trigger_s, 0.001587, 1e-9, "trigger");
    assert_string_equal(in.time_code, "-5h30");
    assert_int_equal(in.tmq, 11);
    assert_int_equal(in.leap_second, 3);
    char line[256];
    sim_comtrade_describe(&in, line, sizeof line);
    assert_non_null(strstr(line, "first sample 2013-11-05 14:05:07.000000 (UTC-5h30), trigger "
                                 "2013-11-05 14:05:07.001587 (0.001587 s after it)"));
    /* 2013 ASCII: with nrates > 0 a time stamp may be left empty, and 99999 is a value
     * (the missing-data marker is an empty field since 2013) */
    ctx_t *c = *state;
    std_copy(c, "rates.cfg", ".cfg");
    std_copy(c, "rates.dat", ".dat");
    char dat[200];
    dat_path(c, dat, sizeof dat);
    edit_line(dat, 3, "3,,99999,100,100,5,5,5");
    assert_int_equal(frames(c->path, NULL, &in, buf), 20);
}

/* 2013 .cff: the four files in one, each after "--- file type: X ---" (CFG, INF, HDR,
 * DAT ASCII); a recorder of currents only with no phase ids: the channels are named. */
static void test_std_cff(void **state)
{
    ctx_t *c = *state;
    static mtr_frame_t buf[NMAX];
    char path[512];
    std_path(path, sizeof path, "r2013.cff");
    snprintf(c->path, sizeof c->path, "%s", path);
    expect_error(c, path, "no analog channel for Va (phase A, unit V or kV)");
    sim_comtrade_opts_t o;
    sim_err_t err;
    memset(&o, 0, sizeof o);
    assert_int_equal(sim_comtrade_map(&o, "va=none,vb=none,vc=none,ia=IA,ib=2,ic=IC", &err),
                     SIM_OK);
    sim_comtrade_info_t in;
    assert_int_equal(frames(path, &o, &in, buf), 10);
    for (int k = 0; k < 10; k++) {
        int s = k + 1;
        double raw[3] = {8 * s, -8 * s + 1, 3 - s};
        for (int ch = 0; ch < 3; ch++) {
            assert_true(buf[k][ch] == 0);
            near(buf[k][3 + ch], (0.125 * raw[ch] + 0.0625) * 600, 1e-6, "cff");
        }
    }
    near(in.trigger_s, 0.002, 1e-9, "cff trigger");
    assert_string_equal(in.time_code, "0");
    /* the DAT section's type and the cfg's ft disagree */
    std_copy(c, "r2013.cff", ".cff");
    edit_line(c->path, 15, "BINARY");
    expect_error(c, c->path, "line 23: the DAT section is ASCII, but the data file type (line 15) "
                             "is binary");
}

/* r2013.cfg's data: six records of zeros, 1/2520 s apart. */
static void write_zero_dat(const ctx_t *c)
{
    uint8_t dat[6 * 32] = {0}, *p = dat;
    for (int r = 0; r < 6; r++, p += 24) {
        put_le(&p, (uint32_t)r + 1, 4);
        put_le(&p, (uint32_t)r * 793651u, 4);
    }
    write_dat(c, dat, sizeof dat);
}

/* 2013's leap_second (1: a second was added, 2: one was removed) with time_code: the
 * trigger's distance from the first sample across the end of 30 June / 31 December UTC. */
static void test_std_leap(void **state)
{
    ctx_t *c = *state;
    static mtr_frame_t buf[NMAX];
    static const struct {
        const char *start, *trig, *tz, *tmq;
        double want;
    } t[] = {
        {"30/06/2015,23:59:59.900000000", "01/07/2015,00:00:00.100000000", "0,0", "0,1", 1.2},
        {"30/06/2015,23:59:59.900000000", "01/07/2015,00:00:00.100000000", "0,0", "0,0", 0.2},
        {"30/06/2015,23:59:60.500000000", "01/07/2015,00:00:00.250000000", "0,0", "0,1", 0.75},
        {"01/07/2015,01:59:59.900000000", "01/07/2015,02:00:00.100000000", "+2,+2", "0,1", 1.2},
        {"01/07/2015,01:59:59.900000000", "01/07/2015,02:00:00.100000000", "0,+2", "0,1", 0.2},
        {"31/12/2016,23:59:58.900000000", "01/01/2017,00:00:00.100000000", "0,0", "0,2", 0.2},
        {"29/02/2024,12:00:00.000000000", "01/03/2024,12:00:00.000000000", "-7h15,-7h15", "F,",
         86400},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        std_copy(c, "r2013.cfg", ".cfg");
        edit_line(c->path, 12, t[k].start);
        edit_line(c->path, 13, t[k].trig);
        edit_line(c->path, 16, t[k].tz);
        edit_line(c->path, 17, t[k].tmq);
        write_zero_dat(c);
        sim_comtrade_info_t in;
        frames(c->path, NULL, &in, buf);
        near(in.trigger_s, t[k].want, 1e-9, t[k].start);
    }
}

/* Malformed dates and 2013 lines, windows outside the recording: one line naming the
 * file and line. */
static void test_std_errors(void **state)
{
    ctx_t *c = *state;
    static const struct { int line; const char *text, *msg; } bad[] = {
        {12, "29/02/2023,00:00:00.000000000", "line 12: first sample time stamp: expected "
                                              "dd/mm/yyyy"},
        {13, "01/13/2025,00:00:00", "line 13: trigger time stamp"},
        {13, "1/1/25,00:00:00", "line 13: trigger time stamp"},
        {16, "-5:30,-5:30", "line 16: time_code,local_code: expected offsets from UTC"},
        {16, "+1", "line 16: time_code,local_code"},
        {17, "G,0", "line 17: tmq_code,leap_second: expected a hex digit and 0..3, got 'G,0'"},
        {17, "0,4", "line 17: tmq_code,leap_second"},
        {15, "0", "line 15: timemult is not a positive number"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        std_copy(c, "r2013.cfg", ".cfg");
        edit_line(c->path, bad[k].line, bad[k].text);
        write_dat(c, (const uint8_t[6 * 32]){0}, 6 * 32);
        expect_error(c, c->path, bad[k].msg);
    }
    /* windows */
    static const struct { const char *w, *msg; } win[] = {
        {"-0.01", "the window -0.010000 to 0.006350 s from the trigger is not inside the "
                  "recording, which runs from -0.001587 to 0.006350 s from the trigger"},
        {"0,0.5", "is not inside the recording"},
        {"0.007,end", "is not inside the recording"},
        {"0.0001,0.0001001", "holds no sample at 2520 S/s"},
    };
    sim_err_t err;
    sim_comtrade_opts_t o;
    std_path(c->path, sizeof c->path, "rates.cfg");
    for (size_t k = 0; k < sizeof win / sizeof win[0]; k++) {
        memset(&o, 0, sizeof o);
        assert_int_equal(sim_comtrade_window(&o, win[k].w, &err), SIM_OK);
        sim_source_t *s;
        assert_true(sim_open_comtrade(&s, c->path, &o, NULL, &err) < 0);
        if (!strstr(err.msg, win[k].msg) || strncmp(err.msg, c->path, strlen(c->path)))
            fail_msg("window %s: got '%s'", win[k].w, err.msg);
    }
    static const char *const spec_bad[] = {"", "abc", "1,0", "0,1,2", "start,x", "nan"};
    for (size_t k = 0; k < sizeof spec_bad / sizeof spec_bad[0]; k++) {
        memset(&o, 0, sizeof o);
        assert_int_not_equal(sim_comtrade_window(&o, spec_bad[k], &err), SIM_OK);
        assert_non_null(strstr(err.msg, "window '"));
    }
    assert_int_equal(sim_comtrade_window(&o, "start,end", &err), SIM_OK);
    assert_false(o.has_from || o.has_to);
    /* no trigger time in the file, and a window relative to it */
    std_copy(c, "r2013.cfg", ".cfg");
    edit_line(c->path, 13, ",");
    write_zero_dat(c);
    assert_int_equal(sim_comtrade_window(&o, "0", &err), SIM_OK);
    sim_source_t *s;
    assert_true(sim_open_comtrade(&s, c->path, &o, NULL, &err) < 0);
    if (!strstr(err.msg, "line 13: the file gives no trigger time"))
        fail_msg("got %s", err.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_1991, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_1999, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_2013, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_cff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_leap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
