/*
 * COMTRADE recordings (IEEE C37.111-1991/1999/2013): a .cfg and its .dat, or one .cff.
 * The whole recording is read and checked at open (so a bad record is reported before
 * anything runs), turned into primary volts and amps, resampled to MTR_FS segment by
 * segment, and then handed to the WAV replay as a float WAV in an anonymous memory file:
 * the replay's streaming, end handling and messages stay the same for every recording.
 */
#define _GNU_SOURCE /* memfd_create */
#include "sim_int.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CT_MAX_CH 4096        /* analog or digital channels */
#define CT_MAX_RATES 999
#define CT_LINE_MAX 4096      /* a .cfg line */
#define CT_MAX_BYTES ((size_t)1 << 31)
#define CT_MAX_SAMPLES ((uint64_t)1 << 30)

enum { CT_ASCII, CT_BINARY, CT_BINARY32, CT_FLOAT32 };
enum { CT_UNIT_NONE, CT_UNIT_V, CT_UNIT_A };

static const char *const ct_slot_name[MTR_NCH] = {"Va", "Vb", "Vc", "Ia", "Ib", "Ic"};

typedef struct {
    char id[64], ph[32], uu[16];
    double a, b, prim, sec, mult; /* mult: unit (k) times primary/secondary for 'S' */
    int unit, line;
} ct_chan_t;

/* A .cfg time stamp: whole seconds since 1970 as written (local time; a leap second's
 * :60 counts as the next minute's :00), and the fraction. */
typedef struct {
    bool set;          /* false: the line's fields were empty (the file gives no time) */
    bool leap;         /* written as second 60 */
    int64_t sec;
    double frac;
    int line;
    char text[40];     /* "yyyy-mm-dd hh:mm:ss.ssssss" */
} ct_when_t;

typedef struct {
    const char *path;  /* the file given, for messages */
    char *dpath;       /* the data's file for messages (the .dat, or path for a .cff) */
    char *cfg;         /* whole .cfg text (or the .cff) */
    size_t cfg_len;
    const char *p, *end; /* .cfg cursor */
    int line;
    char raw[CT_LINE_MAX]; /* the current line as read, for messages (ct_split cuts) */
    const uint8_t *dat; /* data bytes */
    size_t dat_len;
    int dat_line0;     /* line of the data's first line in dpath, less one */
    int dat_hdr, ft_line; /* .cff: the DAT section's header line; the .cfg's ft line */
    bool dat_ascii;    /* .cff: the DAT section says ASCII */
    char *dat_buf;     /* a separate .dat, owned */
    int rev, na, nd, ft, nrates, rate_line, ts_line;
    bool ns;           /* time stamps in nanoseconds (2013, 9 digits) */
    ct_when_t t0, trig; /* the .cfg's first-sample and trigger stamps */
    int tz_min;        /* 2013 time_code in minutes (local time minus UTC) */
    sim_comtrade_info_t info;
    double timemult;
    ct_chan_t *ch;
    double rate[CT_MAX_RATES];
    uint64_t endsamp[CT_MAX_RATES];
    uint64_t nsamp;
    int slot[MTR_NCH]; /* analog channel index, or -1: zeros */
    float *rows;       /* nsamp frames at the file's rates */
    double *ts;        /* time stamps in seconds (only when nrates is 0) */
} ct_t;

/* ---- small helpers ---- */

static int ct_read_all(const char *path, char **buf, size_t *len, sim_err_t *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        sim_errf(err, "%s: is a directory, not a recording", path);
        return SIM_EIO;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        sim_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return SIM_EIO;
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    int rc = b ? SIM_OK : SIM_ENOMEM;
    while (rc == SIM_OK) {
        if (n == cap) {
            char *nb = cap < CT_MAX_BYTES ? realloc(b, 2 * cap + 1) : NULL;
            if (!nb) {
                rc = cap < CT_MAX_BYTES ? SIM_ENOMEM : SIM_ERANGE;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (rc == SIM_OK && ferror(f)) {
        sim_errf(err, "%s: read error", path);
        rc = SIM_EIO;
    }
    fclose(f);
    if (rc == SIM_ENOMEM)
        sim_errf(err, "%s: out of memory", path);
    if (rc == SIM_ERANGE)
        sim_errf(err, "%s: larger than %zu bytes", path, CT_MAX_BYTES);
    if (rc != SIM_OK) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return SIM_OK;
}


static bool ct_uint(const char *s, uint64_t max, uint64_t *v)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t x = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > max)
            return false;
    }
    *v = x;
    return *s == '\0';
}

/* The next .cfg line into buf (trimmed); false at the end. A line too long or with a
 * NUL byte is an error (*rc set). */
static bool ct_next(ct_t *c, char *buf, int *rc, sim_err_t *err)
{
    if (c->p >= c->end)
        return false;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *e = nl ? nl : c->end;
    size_t n = (size_t)(e - c->p);
    c->line++;
    if (n >= CT_LINE_MAX || memchr(c->p, '\0', n)) {
        sim_errf(err, "%s: line %d: %s", c->path, c->line,
                 n >= CT_LINE_MAX ? "line too long" : "NUL byte in the line");
        *rc = SIM_ESYNTAX;
        return false;
    }
    char tmp[CT_LINE_MAX];
    memcpy(tmp, c->p, n);
    tmp[n] = '\0';
    strcpy(buf, sim_trim(tmp));
    strcpy(c->raw, buf);
    c->p = nl ? nl + 1 : c->end;
    return true;
}

/* The next line, which must exist: what names what was expected. */
static int ct_need(ct_t *c, char *buf, const char *what, sim_err_t *err)
{
    int rc = SIM_OK;
    if (ct_next(c, buf, &rc, err))
        return SIM_OK;
    if (rc == SIM_OK) {
        sim_errf(err, "%s: line %d: the file ends where %s was expected", c->path, c->line + 1,
                 what);
        rc = SIM_ESYNTAX;
    }
    return rc;
}

static int ct_bad(ct_t *c, sim_err_t *err, const char *what, const char *val)
{
    sim_errf(err, "%s: line %d: %s '%.40s'", c->path, c->line, what, val);
    return SIM_ESYNTAX;
}

/* ---- the .cfg ---- */

static int ct_station(ct_t *c, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[4];
    int rc = ct_need(c, buf, "the station line", err);
    if (rc != SIM_OK)
        return rc;
    int nf = sim_split(buf, f, 4);
    if (nf < 2 || nf > 3)
        return ct_bad(c, err, "station line: expected station_name,rec_dev_id[,rev_year], got", c->raw);
    c->rev = 1991;
    if (nf == 3 && *f[2]) {
        uint64_t y;
        if (!ct_uint(f[2], 9999, &y) || (y != 1991 && y != 1999 && y != 2013))
            return ct_bad(c, err, "revision year is not 1991, 1999 or 2013:", f[2]);
        c->rev = (int)y;
    }
    return SIM_OK;
}

/* "12A" or "4D": the count before the letter. */
static bool ct_count(const char *s, char letter, int *n)
{
    size_t len = strlen(s);
    if (len < 2 || (s[len - 1] | 0x20) != (letter | 0x20))
        return false;
    char tmp[16];
    if (len - 1 >= sizeof tmp)
        return false;
    memcpy(tmp, s, len - 1);
    tmp[len - 1] = '\0';
    uint64_t v;
    if (!ct_uint(tmp, CT_MAX_CH, &v))
        return false;
    *n = (int)v;
    return true;
}

static int ct_counts(ct_t *c, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[4];
    int rc = ct_need(c, buf, "the channel counts (TT,##A,##D)", err);
    if (rc != SIM_OK)
        return rc;
    uint64_t tt;
    if (sim_split(buf, f, 4) != 3 || !ct_uint(f[0], 2 * CT_MAX_CH, &tt) ||
        !ct_count(f[1], 'A', &c->na) || !ct_count(f[2], 'D', &c->nd))
        return ct_bad(c, err, "channel counts: expected TT,##A,##D (at most 4096 each), got", c->raw);
    if (tt != (uint64_t)(c->na + c->nd)) {
        sim_errf(err, "%s: line %d: %llu channels in all, but %d analog + %d digital", c->path,
                 c->line, (unsigned long long)tt, c->na, c->nd);
        return SIM_ESYNTAX;
    }
    return SIM_OK;
}

static int ct_unit(const char *uu, double *mult)
{
    static const struct { const char *u; int unit; double m; } t[] = {
        {"V", CT_UNIT_V, 1}, {"kV", CT_UNIT_V, 1e3}, {"A", CT_UNIT_A, 1}, {"kA", CT_UNIT_A, 1e3},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        if (sim_strcaseeq(uu, t[k].u)) {
            *mult = t[k].m;
            return t[k].unit;
        }
    *mult = 1;
    return CT_UNIT_NONE;
}

static int ct_analog(ct_t *c, int k, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[14];
    int rc = ct_need(c, buf, "an analog channel line", err);
    if (rc != SIM_OK)
        return rc;
    ct_chan_t *h = &c->ch[k];
    h->line = c->line;
    int nf = sim_split(buf, f, 14);
    if (nf != 10 && nf != 13) {
        sim_errf(err, "%s: line %d: analog channel %d: %d fields, expected 13 "
                 "(An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS) or 10 (1991)",
                 c->path, c->line, k + 1, nf);
        return SIM_ESYNTAX;
    }
    uint64_t an;
    if (!ct_uint(f[0], CT_MAX_CH, &an) || an != (uint64_t)k + 1) {
        sim_errf(err, "%s: line %d: analog channel number '%.20s', expected %d", c->path,
                 c->line, f[0], k + 1);
        return SIM_ESYNTAX;
    }
    snprintf(h->id, sizeof h->id, "%s", f[1]);
    snprintf(h->ph, sizeof h->ph, "%s", f[2]);
    snprintf(h->uu, sizeof h->uu, "%s", f[4]);
    double skew, mn, mx;
    if (!sim_parse_double(f[5], &h->a) || h->a == 0)
        return ct_bad(c, err, "scale factor a is not a finite non-zero number:", f[5]);
    if (!sim_parse_double(f[6], &h->b))
        return ct_bad(c, err, "offset b is not a finite number:", f[6]);
    if ((*f[7] && !sim_parse_double(f[7], &skew)) || !sim_parse_double(f[8], &mn) ||
        !sim_parse_double(f[9], &mx) || mn > mx) {
        sim_errf(err, "%s: line %d: analog channel %d: skew, min or max is not a number, or "
                 "min > max", c->path, c->line, k + 1);
        return SIM_ESYNTAX;
    }
    h->unit = ct_unit(h->uu, &h->mult);
    h->prim = h->sec = 1;
    if (nf == 13) {
        if (!sim_parse_double(f[10], &h->prim) || !(h->prim > 0) ||
            !sim_parse_double(f[11], &h->sec) || !(h->sec > 0)) {
            sim_errf(err, "%s: line %d: analog channel %d: primary '%.20s' and secondary '%.20s' "
                     "must be positive numbers", c->path, c->line, k + 1, f[10], f[11]);
            return SIM_ESYNTAX;
        }
        if ((f[12][0] | 0x20) == 's' && !f[12][1])
            h->mult *= h->prim / h->sec;
        else if ((f[12][0] | 0x20) != 'p' || f[12][1])
            return ct_bad(c, err, "PS is not P or S:", f[12]);
    }
    if (!isfinite(h->a * h->mult) || !isfinite(h->b * h->mult))
        return ct_bad(c, err, "scaling overflows:", f[5]);
    return SIM_OK;
}

static int ct_digital(ct_t *c, int k, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[6];
    int rc = ct_need(c, buf, "a digital channel line", err);
    if (rc != SIM_OK)
        return rc;
    int nf = sim_split(buf, f, 6);
    uint64_t dn;
    if (nf < 3 || nf > 5) {
        sim_errf(err, "%s: line %d: digital channel %d: %d fields, expected 5 (Dn,ch_id,ph,ccbm,y)",
                 c->path, c->line, k + 1, nf);
        return SIM_ESYNTAX;
    }
    if (!ct_uint(f[0], CT_MAX_CH, &dn) || dn != (uint64_t)k + 1) {
        sim_errf(err, "%s: line %d: digital channel number '%.20s', expected %d", c->path,
                 c->line, f[0], k + 1);
        return SIM_ESYNTAX;
    }
    return SIM_OK;
}

static int ct_rates(ct_t *c, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[3];
    int rc = ct_need(c, buf, "the line frequency", err);
    double lf;
    if (rc != SIM_OK)
        return rc;
    if (!sim_parse_double(buf, &lf) || lf < 0)
        return ct_bad(c, err, "line frequency is not a number:", buf);
    if ((rc = ct_need(c, buf, "nrates", err)) != SIM_OK)
        return rc;
    uint64_t nr;
    if (!ct_uint(buf, CT_MAX_RATES, &nr))
        return ct_bad(c, err, "nrates is not a whole number from 0 to 999:", buf);
    c->nrates = (int)nr;
    c->rate_line = c->line + 1;
    for (int k = 0; k < (nr ? (int)nr : 1); k++) {
        if ((rc = ct_need(c, buf, "samp,endsamp", err)) != SIM_OK)
            return rc;
        uint64_t e;
        if (sim_split(buf, f, 3) != 2 || !sim_parse_double(f[0], &c->rate[k]) ||
            !ct_uint(f[1], CT_MAX_SAMPLES, &e))
            return ct_bad(c, err, "expected samp,endsamp, got", c->raw);
        if (nr && !(c->rate[k] > 0)) {
            sim_errf(err, "%s: line %d: sample rate %g Hz is not positive", c->path, c->line,
                     c->rate[k]);
            return SIM_ERANGE;
        }
        if (e <= (k ? c->endsamp[k - 1] : 0)) {
            sim_errf(err, "%s: line %d: endsamp %llu does not increase", c->path, c->line,
                     (unsigned long long)e);
            return SIM_ESYNTAX;
        }
        c->endsamp[k] = e;
    }
    c->nsamp = c->endsamp[nr ? nr - 1 : 0];
    return SIM_OK;
}

/* Days from 1970-01-01 to a civil date (proleptic Gregorian). */
static int64_t ct_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static unsigned ct_mdays(unsigned y, unsigned m)
{
    static const unsigned char n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

/* "d/m/y" into its three numbers and the year's digit count. */
static bool ct_date(const char *s, unsigned v[3], int *ydigits)
{
    int k = 0;
    for (; k < 3; k++) {
        const char *st = s;
        unsigned x = 0;
        while (*s >= '0' && *s <= '9' && s - st < 4)
            x = x * 10 + (unsigned)(*s++ - '0');
        if (s == st || (k < 2 ? *s != '/' : *s != '\0'))
            return false;
        v[k] = x;
        *ydigits = (int)(s - st);
        s += k < 2;
    }
    return true;
}

/* The calendar date the fields of ct_date give: day first since 1999; month first and
 * a two-digit year (1970..2069) in 1991. */
static bool ct_civil(int rev, const unsigned v[3], int yd, unsigned *y, unsigned *m,
                     unsigned *d)
{
    *d = rev == 1991 ? v[1] : v[0];
    *m = rev == 1991 ? v[0] : v[1];
    *y = v[2];
    if (rev == 1991 && yd <= 2)
        *y += *y < 70 ? 2000 : 1900;
    return (yd == 4 || (rev == 1991 && yd == 2)) && *y >= 1 && *m >= 1 && *m <= 12 &&
           *d >= 1 && *d <= ct_mdays(*y, *m);
}

/* 1999 and 2013: dd/mm/yyyy,hh:mm:ss.ssssss (2013 also .sssssssss, nanoseconds);
 * 1991: mm/dd/yy, a two-digit year read as 1970..2069. Both fields empty: not given. */
static int ct_stamp(ct_t *c, const char *what, ct_when_t *w, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[3];
    int rc = ct_need(c, buf, what, err);
    if (rc != SIM_OK)
        return rc;
    memset(w, 0, sizeof *w);
    w->line = c->line;
    int nf = sim_split(buf, f, 3);
    if (nf == 2 && !*f[0] && !*f[1])
        return SIM_OK;
    unsigned v[3], d, m, y, hh, mm;
    int yd = 0, n2 = 0;
    double ss = -1;
    bool ok = nf == 2 && ct_date(f[0], v, &yd) &&
              sscanf(f[1], "%2u:%2u:%n", &hh, &mm, &n2) == 2 && n2 >= 4 &&
              sim_parse_double(f[1] + n2, &ss) && hh < 24 && mm < 60 && ss >= 0 && ss < 61;
    if (!ok || !ct_civil(c->rev, v, yd, &y, &m, &d)) {
        sim_errf(err, "%s: line %d: %s time stamp: expected %s,hh:mm:ss.ssssss, got '%.40s'",
                 c->path, c->line, what, c->rev == 1991 ? "mm/dd/yy" : "dd/mm/yyyy", c->raw);
        return SIM_ESYNTAX;
    }
    const char *dot = strchr(f[1] + n2, '.');
    size_t digits = dot ? strlen(dot + 1) : 0;
    if (digits >= 9)
        c->ns = true;
    double whole = floor(ss);
    w->set = true;
    w->leap = ss >= 60;
    w->frac = ss - whole;
    w->sec = ct_days(y, m, d) * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60 + (int64_t)whole;
    snprintf(w->text, sizeof w->text, "%04u-%02u-%02u %02u:%02u:%0*.*f", y, m, d, hh, mm,
             digits >= 9 ? 12 : 9, digits >= 9 ? 9 : 6, ss);
    return SIM_OK;
}

/* A 2013 time code: "0", "-4", "+10h30", "-7h15" (sign, hours, optionally h and
 * minutes; six characters at most). */
static bool ct_tz(const char *s, int *min)
{
    unsigned h = 0, mi = 0;
    int n = 0;
    size_t len = strlen(s);
    int sign = *s == '-' ? -1 : 1;
    const char *p = s + (*s == '-' || *s == '+');
    if (len > 6 || *p < '0' || *p > '9')
        return false;
    if (sscanf(p, "%2u%n", &h, &n) != 1)
        return false;
    p += n;
    if (*p == 'h' || *p == 'H') {
        if (!(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && !p[3]))
            return false;
        mi = (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
        p += 3;
    }
    if (*p || h > 23 || mi > 59)
        return false;
    *min = sign * (int)(h * 60 + mi);
    return true;
}

/* 2013's two lines after timemult, when there: time_code,local_code and
 * tmq_code,leap_second. Empty fields are allowed (not given). */
static int ct_time_lines(ct_t *c, sim_err_t *err)
{
    char buf[CT_LINE_MAX], *f[3];
    int rc = SIM_OK, lc;
    c->info.leap_second = c->info.tmq = -1;
    if (!ct_next(c, buf, &rc, err))
        return rc;
    int nf = sim_split(buf, f, 3);
    if (nf != 2 || (*f[0] && !ct_tz(f[0], &c->tz_min)) || (*f[1] && !ct_tz(f[1], &lc)))
        return ct_bad(c, err, "time_code,local_code: expected offsets from UTC such as "
                      "-5h30,-5h30 or 0,+1, got", c->raw);
    snprintf(c->info.time_code, sizeof c->info.time_code, "%s", f[0]);
    if (!ct_next(c, buf, &rc, err))
        return rc;
    nf = sim_split(buf, f, 3);
    uint64_t leap = 0;
    bool ok = nf == 2 && (!*f[0] || (isxdigit((unsigned char)f[0][0]) && !f[0][1])) &&
              (!*f[1] || ct_uint(f[1], 3, &leap));
    if (!ok)
        return ct_bad(c, err, "tmq_code,leap_second: expected a hex digit and 0..3, got",
                      c->raw);
    if (*f[0])
        c->info.tmq = (int)strtol(f[0], NULL, 16);
    if (*f[1])
        c->info.leap_second = (int)leap;
    return SIM_OK;
}

static int ct_format(ct_t *c, sim_err_t *err)
{
    static const char *const names[] = {"ASCII", "BINARY", "BINARY32", "FLOAT32"};
    char buf[CT_LINE_MAX];
    int rc = ct_need(c, buf, "the data file type", err);
    if (rc != SIM_OK)
        return rc;
    c->ft_line = c->line;
    for (int k = 0; k < 4; k++)
        if (sim_strcaseeq(buf, names[k])) {
            c->ft = k;
            break;
        } else if (k == 3) {
            return ct_bad(c, err, "data file type is not ASCII, BINARY, BINARY32 or FLOAT32:", buf);
        }
    c->timemult = 1;
    rc = SIM_OK;
    if (c->rev < 1999 || !ct_next(c, buf, &rc, err))
        return rc; /* 1991 has no timemult; 1999 files often end before it */
    if (*buf && (!sim_parse_double(buf, &c->timemult) || !(c->timemult > 0)))
        return ct_bad(c, err, "timemult is not a positive number:", buf);
    return c->rev == 2013 ? ct_time_lines(c, err) : SIM_OK;
}

static int ct_parse_cfg(ct_t *c, sim_err_t *err)
{
    int rc = ct_station(c, err);
    if (rc == SIM_OK)
        rc = ct_counts(c, err);
    if (rc != SIM_OK)
        return rc;
    c->ch = calloc((size_t)c->na + 1, sizeof *c->ch);
    if (!c->ch) {
        sim_errf(err, "%s: out of memory", c->path);
        return SIM_ENOMEM;
    }
    for (int k = 0; k < c->na && rc == SIM_OK; k++)
        rc = ct_analog(c, k, err);
    for (int k = 0; k < c->nd && rc == SIM_OK; k++)
        rc = ct_digital(c, k, err);
    if (rc == SIM_OK)
        rc = ct_rates(c, err);
    if (rc == SIM_OK)
        rc = ct_stamp(c, "first sample", &c->t0, err);
    if (rc == SIM_OK)
        rc = ct_stamp(c, "trigger", &c->trig, err);
    if (rc == SIM_OK)
        rc = ct_format(c, err);
    return rc;
}

/* ---- channel mapping ---- */

static int ct_phase(const char *ph)
{
    char n[32];
    size_t k = 0;
    for (const char *s = ph; *s && k + 1 < sizeof n; s++)
        if (*s != ' ' && *s != '-' && *s != '_')
            n[k++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
    n[k] = '\0';
    const char *p = n;
    if (!strncmp(p, "PHASE", 5))
        p += 5;
    else if (!strncmp(p, "PH", 2))
        p += 2;
    static const char *const t[3][4] = {{"A", "AN", "L1", "L1N"}, {"B", "BN", "L2", "L2N"},
                                        {"C", "CN", "L3", "L3N"}};
    for (int ph3 = 0; ph3 < 3; ph3++)
        for (int j = 0; j < 4; j++)
            if (!strcmp(p, t[ph3][j]))
                return ph3;
    return -1;
}

/* The slot a channel's phase id and unit give, or -1. */
static int ct_auto_slot(const ct_chan_t *h)
{
    int ph = ct_phase(h->ph);
    if (ph < 0 || h->unit == CT_UNIT_NONE)
        return -1;
    return (h->unit == CT_UNIT_V ? 0 : 3) + ph;
}

static int ct_explicit(ct_t *c, int s, const char *want, sim_err_t *err)
{
    uint64_t an;
    int k = -1;
    if (ct_uint(want, CT_MAX_CH, &an)) {
        k = an >= 1 && an <= (uint64_t)c->na ? (int)an - 1 : -2;
    } else {
        for (int j = 0; j < c->na && k < 0; j++)
            if (!strcmp(c->ch[j].id, want))
                k = j;
    }
    if (k < 0) {
        sim_errf(err, "%s: %s: no analog channel '%.40s' (channels 1 to %d)", c->path,
                 ct_slot_name[s], want, c->na);
        return SIM_EKEY;
    }
    const ct_chan_t *h = &c->ch[k];
    if (h->unit != (s < 3 ? CT_UNIT_V : CT_UNIT_A)) {
        sim_errf(err, "%s: line %d: channel %d '%.40s' has unit '%.15s', %s needs %s", c->path,
                 h->line, k + 1, h->id, h->uu, ct_slot_name[s], s < 3 ? "V or kV" : "A or kA");
        return SIM_ERANGE;
    }
    c->slot[s] = k;
    return SIM_OK;
}

static int ct_map(ct_t *c, const sim_comtrade_opts_t *opt, sim_err_t *err)
{
    bool set[MTR_NCH] = {false}, used[CT_MAX_CH] = {false};
    for (int s = 0; s < MTR_NCH; s++) {
        c->slot[s] = -1;
        const char *want = opt ? opt->map[s] : "";
        if (!*want)
            continue;
        set[s] = true;
        if (sim_strcaseeq(want, "none"))
            continue;
        int rc = ct_explicit(c, s, want, err);
        if (rc != SIM_OK)
            return rc;
        used[c->slot[s]] = true;
    }
    for (int k = 0; k < c->na; k++) {
        int s = used[k] ? -1 : ct_auto_slot(&c->ch[k]);
        if (s < 0 || set[s])
            continue;
        if (c->slot[s] >= 0) {
            const ct_chan_t *o = &c->ch[c->slot[s]];
            sim_errf(err, "%s: line %d: channels %d '%.30s' (line %d) and %d '%.30s' both look "
                     "like %s: choose one with --comtrade-map", c->path, c->ch[k].line,
                     c->slot[s] + 1, o->id, o->line, k + 1, c->ch[k].id, ct_slot_name[s]);
            return SIM_ESYNTAX;
        }
        c->slot[s] = k;
    }
    for (int s = 0; s < MTR_NCH; s++)
        if (!set[s] && c->slot[s] < 0) {
            sim_errf(err, "%s: no analog channel for %s (phase %c, unit %s): name one with "
                     "--comtrade-map %c%c=N, or %c%c=none", c->path, ct_slot_name[s], 'A' + s % 3,
                     s < 3 ? "V or kV" : "A or kA", s < 3 ? 'v' : 'i', 'a' + s % 3,
                     s < 3 ? 'v' : 'i', 'a' + s % 3);
            return SIM_EKEY;
        }
    return SIM_OK;
}

int sim_comtrade_map(sim_comtrade_opts_t *o, const char *spec, sim_err_t *err)
{
    size_t len = strlen(spec);
    char *s = malloc(len + 1);
    if (!s) {
        sim_errf(err, "out of memory");
        return SIM_ENOMEM;
    }
    memcpy(s, spec, len + 1);
    char *f[MTR_NCH + 1];
    int nf = sim_split(s, f, MTR_NCH + 1), rc = SIM_OK;
    for (int k = 0; k < nf && k <= MTR_NCH && rc == SIM_OK; k++) {
        char *eq = strchr(f[k], '=');
        int slot = -1;
        if (eq) {
            *eq = '\0';
            for (int j = 0; j < MTR_NCH; j++)
                if (sim_strcaseeq(sim_trim(f[k]), ct_slot_name[j]))
                    slot = j;
        }
        const char *v = eq ? sim_trim(eq + 1) : "";
        if (slot < 0 || !*v || strlen(v) >= sizeof o->map[0]) {
            sim_errf(err, "channel map '%.60s': expected va|vb|vc|ia|ib|ic=N|ch_id|none, "
                     "comma separated", spec);
            rc = SIM_ESYNTAX;
        } else {
            strcpy(o->map[slot], v);
        }
    }
    if (rc == SIM_OK && nf > MTR_NCH) {
        sim_errf(err, "channel map '%.60s': more than 6 entries", spec);
        rc = SIM_ESYNTAX;
    }
    free(s);
    return rc;
}

/* ---- the data ---- */

static uint32_t ct_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int ct_store(ct_t *c, uint64_t r, int s, double raw, const char *where, uint64_t at,
                    sim_err_t *err)
{
    const ct_chan_t *h = &c->ch[c->slot[s]];
    double v = (h->a * raw + h->b) * h->mult;
    if (!(fabs(v) <= FLT_MAX)) {
        sim_errf(err, "%s: %s %llu: %s (channel %d) = %g is not a finite float", c->dpath,
                 where, (unsigned long long)at, ct_slot_name[s], c->slot[s] + 1, v);
        return SIM_ERANGE;
    }
    c->rows[r * MTR_NCH + (uint64_t)s] = (float)v;
    return SIM_OK;
}

static int ct_missing(ct_t *c, const char *where, uint64_t at, const char *what, sim_err_t *err)
{
    sim_errf(err, "%s: %s %llu: %s is missing (the missing-data marker)", c->dpath, where,
             (unsigned long long)at, what);
    return SIM_ESYNTAX;
}

static size_t ct_recsize(const ct_t *c)
{
    size_t w = c->ft == CT_BINARY ? 2 : 4;
    return 8 + (size_t)c->na * w + 2 * (((size_t)c->nd + 15) / 16);
}

/* The data holds exactly the records the .cfg gives. */
static int ct_binary_size(const ct_t *c, sim_err_t *err)
{
    size_t rec = ct_recsize(c);
    uint64_t whole = c->dat_len / rec;
    if (whole < c->nsamp || c->dat_len % rec) {
        sim_errf(err, "%s: record %llu: %s: %zu bytes hold %llu records of %zu bytes, the cfg "
                 "(line %d) gives %llu", c->dpath, (unsigned long long)whole + 1,
                 whole < c->nsamp ? "truncated" : "trailing bytes", c->dat_len,
                 (unsigned long long)whole, rec, c->rate_line, (unsigned long long)c->nsamp);
        return SIM_ESYNTAX;
    }
    if (whole > c->nsamp) {
        sim_errf(err, "%s: record %llu: beyond the %llu samples the cfg gives (line %d: endsamp)",
                 c->dpath, (unsigned long long)c->nsamp + 1, (unsigned long long)c->nsamp,
                 c->rate_line);
        return SIM_ESYNTAX;
    }
    return SIM_OK;
}

static int ct_binary(ct_t *c, sim_err_t *err)
{
    size_t w = c->ft == CT_BINARY ? 2 : 4, rec = ct_recsize(c);
    for (uint64_t r = 0; r < c->nsamp; r++) {
        const uint8_t *p = c->dat + r * rec;
        uint32_t t = ct_le32(p + 4);
        if (c->ts) {
            if (t == 0xFFFFFFFFu)
                return ct_missing(c, "record", r + 1, "the time stamp", err);
            c->ts[r] = t;
        }
        for (int s = 0; s < MTR_NCH; s++) {
            if (c->slot[s] < 0)
                continue;
            const uint8_t *q = p + 8 + (size_t)c->slot[s] * w;
            uint32_t u = w == 2 ? (uint32_t)(q[0] | q[1] << 8) : ct_le32(q);
            double raw;
            bool miss;
            if (c->ft == CT_BINARY) {
                raw = (double)(int16_t)(uint16_t)u;
                miss = u == 0x8000u;
            } else if (c->ft == CT_BINARY32) {
                raw = u & 0x80000000u ? -(double)(~u) - 1.0 : (double)u;
                miss = u == 0x80000000u;
            } else {
                float fl;
                memcpy(&fl, &u, sizeof fl);
                raw = fl;
                miss = isnan(fl);
            }
            if (miss)
                return ct_missing(c, "record", r + 1, ct_slot_name[s], err);
            int rc = ct_store(c, r, s, raw, "record", r + 1, err);
            if (rc != SIM_OK)
                return rc;
        }
    }
    return SIM_OK;
}

/* One ASCII data line (NUL-terminated, in place). */
static int ct_ascii_line(ct_t *c, uint64_t r, char *s, char **f, int line, sim_err_t *err)
{
    int want = 2 + c->na + c->nd;
    int nf = sim_split(s, f, want);
    if (nf != want) {
        sim_errf(err, "%s: line %d: %d fields, expected %d (n,timestamp,%d analog,%d digital)",
                 c->dpath, line, nf, want, c->na, c->nd);
        return SIM_ESYNTAX;
    }
    if (c->ts) {
        double t;
        if (!*f[1])
            return ct_missing(c, "line", (uint64_t)line, "the time stamp", err);
        if (!sim_parse_double(f[1], &t) || t < 0) {
            sim_errf(err, "%s: line %d: time stamp '%.20s' is not a number", c->dpath, line, f[1]);
            return SIM_ESYNTAX;
        }
        c->ts[r] = t;
    }
    for (int s2 = 0; s2 < MTR_NCH; s2++) {
        if (c->slot[s2] < 0)
            continue;
        const char *v = f[2 + c->slot[s2]];
        double raw;
        if (!*v || (c->rev < 2013 && !strcmp(v, "99999")))
            return ct_missing(c, "line", (uint64_t)line, ct_slot_name[s2], err);
        if (!sim_parse_double(v, &raw)) {
            sim_errf(err, "%s: line %d: %s (channel %d) '%.20s' is not a number", c->dpath, line,
                     ct_slot_name[s2], c->slot[s2] + 1, v);
            return SIM_ESYNTAX;
        }
        int rc = ct_store(c, r, s2, raw, "line", (uint64_t)line, err);
        if (rc != SIM_OK)
            return rc;
    }
    return SIM_OK;
}

/* Data lines: every non-blank line, a lone SUB (^Z, DOS end of file) excepted. */
static bool ct_blank(const char *p, const char *e)
{
    for (; p < e; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != 0x1a)
            return false;
    return true;
}

/* The data holds exactly the lines the .cfg gives. */
static int ct_ascii_size(const ct_t *c, sim_err_t *err)
{
    const char *p = (const char *)c->dat, *end = p + c->dat_len;
    uint64_t count = 0;
    for (const char *q = p; q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *e = nl ? nl : end;
        count += !ct_blank(q, e);
        q = nl ? nl + 1 : end;
    }
    if (count != c->nsamp) {
        sim_errf(err, "%s: %llu data lines, the cfg (line %d: endsamp) gives %llu samples",
                 c->dpath, (unsigned long long)count, c->rate_line, (unsigned long long)c->nsamp);
        return SIM_ESYNTAX;
    }
    return SIM_OK;
}

static int ct_ascii(ct_t *c, sim_err_t *err)
{
    const char *p = (const char *)c->dat, *end = p + c->dat_len;
    char **f = malloc((size_t)(2 + c->na + c->nd) * sizeof *f);
    char *buf = malloc(c->dat_len + 1);
    int rc = f && buf ? SIM_OK : SIM_ENOMEM;
    if (rc != SIM_OK)
        sim_errf(err, "%s: out of memory", c->dpath);
    uint64_t r = 0;
    int line = c->dat_line0;
    for (const char *q = p; q < end && rc == SIM_OK;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *e = nl ? nl : end;
        line++;
        if (!ct_blank(q, e)) {
            if (memchr(q, '\0', (size_t)(e - q))) {
                sim_errf(err, "%s: line %d: NUL byte in the line", c->dpath, line);
                rc = SIM_ESYNTAX;
                break;
            }
            memcpy(buf, q, (size_t)(e - q));
            buf[e - q] = '\0';
            rc = ct_ascii_line(c, r++, buf, f, line, err);
        }
        q = nl ? nl + 1 : end;
    }
    free(f);
    free(buf);
    return rc;
}

/* ---- the file(s) ---- */

static bool ct_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && sim_strcaseeq(s + n - m, suffix);
}

/* The .dat next to a .cfg: same name, extension in the case of the .cfg's (dat or DAT). */
static int ct_load_dat(ct_t *c, sim_err_t *err)
{
    size_t n = strlen(c->path);
    c->dpath = malloc(n + 5);
    if (!c->dpath) {
        sim_errf(err, "%s: out of memory", c->path);
        return SIM_ENOMEM;
    }
    memcpy(c->dpath, c->path, n + 1);
    char *dot = strrchr(c->dpath, '.');
    if (!dot || strchr(dot, '/'))
        dot = c->dpath + n;
    strcpy(dot, dot[0] && dot[1] >= 'A' && dot[1] <= 'Z' ? ".DAT" : ".dat");
    size_t len;
    int rc = ct_read_all(c->dpath, &c->dat_buf, &len, err);
    if (rc != SIM_OK)
        return rc;
    c->dat = (const uint8_t *)c->dat_buf;
    c->dat_len = len;
    return SIM_OK;
}

static bool ct_is_section(const char *p, size_t n)
{
    static const char h[] = "--- file type:";
    if (n < sizeof h - 1)
        return false;
    for (size_t k = 0; k < sizeof h - 1; k++)
        if ((p[k] >= 'A' && p[k] <= 'Z' ? p[k] - 'A' + 'a' : p[k]) != h[k])
            return false;
    return true;
}

/* A .cff: "--- file type: CFG ---", "--- file type: DAT ASCII ---" or "--- file type: DAT
 * BINARY: <bytes> ---", and INF/HDR sections the meter does not need. */
static int ct_split_cff(ct_t *c, sim_err_t *err)
{
    const char *p = c->cfg, *end = c->cfg + c->cfg_len;
    const char *cfg = NULL, *cfg_end = NULL;
    int line = 0;
    c->dpath = malloc(strlen(c->path) + 1);
    if (!c->dpath) {
        sim_errf(err, "%s: out of memory", c->path);
        return SIM_ENOMEM;
    }
    strcpy(c->dpath, c->path);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
        line++;
        size_t n = (size_t)(e - p);
        char hdr[96];
        if (n < 14 || !ct_is_section(p, (size_t)(end - p)) || n >= sizeof hdr) {
            p = next;
            continue;
        }
        memcpy(hdr, p, n);
        hdr[n] = '\0';
        char *t = sim_trim(hdr + 14);
        for (char *u = t; *u; u++)
            *u = (char)(*u >= 'a' && *u <= 'z' ? *u - 'a' + 'A' : *u);
        if (cfg && !cfg_end)
            cfg_end = p;
        if (!strncmp(t, "CFG", 3)) {
            cfg = next;
            c->line = line;
        } else if (!strncmp(t, "DAT ASCII", 9)) {
            c->dat = (const uint8_t *)next;
            c->dat_len = (size_t)(end - next);
            c->dat_line0 = line;
            c->dat_hdr = line;
            c->dat_ascii = true;
            /* ASCII data ends at the next section header */
            for (const char *q = next; q < end;) {
                const char *qn = memchr(q, '\n', (size_t)(end - q));
                if (ct_is_section(q, (size_t)(end - q))) {
                    c->dat_len = (size_t)(q - next);
                    break;
                }
                q = qn ? qn + 1 : end;
            }
            for (const char *q = next; q < next + c->dat_len; q++)
                line += *q == '\n';
            p = next + c->dat_len;
            continue;
        } else if (!strncmp(t, "DAT ", 4)) { /* BINARY, BINARY32, FLOAT32 as writers spell it */
            uint64_t bytes;
            char *colon = strchr(t, ':'), *dash = colon ? strstr(colon, "---") : NULL;
            if (dash)
                *dash = '\0';
            if (!colon || !ct_uint(sim_trim(colon + 1), CT_MAX_BYTES, &bytes)) {
                sim_errf(err, "%s: line %d: expected '--- file type: DAT BINARY: <bytes> ---'",
                         c->path, line);
                return SIM_ESYNTAX;
            }
            if (bytes > (uint64_t)(end - next)) {
                sim_errf(err, "%s: line %d: the DAT section says %llu bytes, the file holds %zu "
                         "after it", c->path, line, (unsigned long long)bytes,
                         (size_t)(end - next));
                return SIM_ESYNTAX;
            }
            c->dat = (const uint8_t *)next;
            c->dat_len = (size_t)bytes;
            c->dat_hdr = line;
            c->dat_ascii = false;
            p = next + bytes;
            continue;
        }
        p = next;
    }
    if (!cfg || !c->dat) {
        sim_errf(err, "%s: no '--- file type: %s' section", c->path, cfg ? "DAT" : "CFG");
        return SIM_ESYNTAX;
    }
    c->p = cfg;
    c->end = cfg_end ? cfg_end : end;
    return SIM_OK;
}

/* The sample rate from the time stamps (nrates 0): the mean step, each step within one
 * tick plus 0.1 % of it. */
static int ct_stamp_rate(ct_t *c, sim_err_t *err)
{
    double unit = (c->ns ? 1e-9 : 1e-6) * c->timemult;
    uint64_t n = c->nsamp;
    if (n < 2) {
        sim_errf(err, "%s: line %d: nrates 0 needs at least two samples to give the rate",
                 c->path, c->rate_line);
        return SIM_ESYNTAX;
    }
    double mean = (c->ts[n - 1] - c->ts[0]) / (double)(n - 1);
    for (uint64_t k = 1; k < n; k++) {
        double dt = c->ts[k] - c->ts[k - 1];
        if (!(dt > 0) || !(fabs(dt - mean) <= 1e-3 * mean + 1.0)) {
            sim_errf(err, "%s: sample %llu: time step %g s is not within 0.1 %% of the mean step "
                     "%g s (nrates 0: the time stamps give the rate)", c->dpath,
                     (unsigned long long)k + 1, dt * unit, mean * unit);
            return SIM_ESYNTAX;
        }
    }
    c->rate[0] = 1.0 / (mean * unit);
    c->endsamp[0] = n;
    return SIM_OK;
}

/* Segment k starts at T[k] seconds; T[nseg] is the end. */
static void ct_times(const ct_t *c, int nseg, double *T)
{
    T[0] = 0;
    for (int k = 0; k < nseg; k++)
        T[k + 1] = T[k] + (double)(c->endsamp[k] - (k ? c->endsamp[k - 1] : 0)) / c->rate[k];
}

/* The recording at time t (inside it), linearly interpolated between its samples: only
 * the guard samples around a rate change use it. */
static void ct_at(const ct_t *c, const double *T, int nseg, double t, float *o)
{
    int k = 0, hi = nseg - 1; /* the last segment starting at or before t */
    while (k < hi) {
        int mid = (k + hi + 1) / 2;
        if (t >= T[mid])
            k = mid;
        else
            hi = mid - 1;
    }
    uint64_t a = k ? c->endsamp[k - 1] : 0;
    double pos = (t - T[k]) * c->rate[k];
    pos = pos < 0 ? 0 : pos;
    uint64_t j = (uint64_t)pos;
    double fr = pos - (double)j;
    j += a;
    if (j + 1 >= c->nsamp) {
        j = c->nsamp - 1;
        fr = 0;
    }
    for (int s = 0; s < MTR_NCH; s++) {
        double x0 = c->rows[j * MTR_NCH + (uint64_t)s];
        double x1 = fr > 0 ? c->rows[(j + 1) * MTR_NCH + (uint64_t)s] : x0;
        o[s] = (float)(x0 + fr * (x1 - x0));
    }
}

/* Guard samples on a side: more than the converter's filter reaches (some 150 zero
 * crossings at its best quality, in input samples when downsampling). */
static size_t ct_guard_len(double ratio)
{
    return (size_t)(320.0 / (ratio < 1 ? ratio : 1)) + 8;
}

/* The guard length from g on that puts the resampler's output grid on the whole
 * output's grid (its first frame at want + gb x ratio frames), or closest to it: a
 * fraction left over would shift the time of everything after a rate change. */
static size_t ct_guard(size_t g, double want, double ratio)
{
    size_t best = g;
    double bd = 1;
    for (size_t x = g; x < g + 4096 && bd > 1e-9; x++) {
        double i0 = want + (double)x * ratio, d = fabs(i0 - floor(i0 + 0.5));
        if (d < bd) {
            bd = d;
            best = x;
        }
    }
    return best;
}

/* One segment to MTR_FS, frames m0 .. m1 of the whole output: the segment with guard
 * samples on each inner side (so no filter edge at a rate change), resampled, and the
 * output frames whose times fall in the segment taken (within half an output sample). */
static int ct_segment(ct_t *c, const double *T, int nseg, int k, float *out, uint64_t m0,
                      uint64_t m1, sim_err_t *err)
{
    double r = c->rate[k], ratio = MTR_FS / r;
    uint64_t a = k ? c->endsamp[k - 1] : 0, n = c->endsamp[k] - a;
    size_t g = ct_guard_len(ratio);
    size_t gb = k ? ct_guard(g, (double)m0 - T[k] * MTR_FS, ratio) : 0;
    size_t ga = k + 1 < nseg ? g : 0, nin = gb + (size_t)n + ga;
    size_t cap = (size_t)((double)nin * ratio) + 16;
    float *in = malloc(nin * sizeof(mtr_frame_t)), *o = malloc(cap * sizeof(mtr_frame_t));
    int rc = in && o ? SIM_OK : SIM_ENOMEM;
    if (rc == SIM_OK) {
        for (size_t j = 0; j < gb; j++)
            ct_at(c, T, nseg, T[k] - (double)(gb - j) / r, in + j * MTR_NCH);
        memcpy(in + gb * MTR_NCH, c->rows + a * MTR_NCH, (size_t)n * sizeof(mtr_frame_t));
        for (size_t j = 0; j < ga; j++)
            ct_at(c, T, nseg, T[k + 1] + (double)j / r, in + (gb + (size_t)n + j) * MTR_NCH);
        SRC_DATA d = {.data_in = in, .input_frames = (long)nin, .data_out = o,
                      .output_frames = (long)cap, .src_ratio = ratio};
        int e = src_simple(&d, SRC_SINC_BEST_QUALITY, MTR_NCH);
        if (e) {
            sim_errf(err, "%s: resampling segment %d: %s", c->path, k + 1, src_strerror(e));
            rc = SIM_EIO;
        } else {
            /* output frame i is at T[k] - gb/r + i/MTR_FS */
            double i0 = ((double)m0 / MTR_FS - T[k] + (double)gb / r) * MTR_FS;
            long base = lround(i0);
            for (uint64_t m = m0; m < m1; m++) {
                long i = base + (long)(m - m0);
                float *dst = out + m * MTR_NCH;
                if (i >= 0 && i < d.output_frames_gen)
                    memcpy(dst, o + (size_t)i * MTR_NCH, sizeof(mtr_frame_t));
                else
                    memset(dst, 0, sizeof(mtr_frame_t));
            }
        }
    } else {
        sim_errf(err, "%s: out of memory", c->path);
    }
    free(in);
    free(o);
    return rc;
}

/* The frames at MTR_FS, each segment resampled on its own (docs/scenarios.md). */
static int ct_resample(ct_t *c, float **out, size_t *nout, sim_err_t *err)
{
    int nseg = c->nrates ? c->nrates : 1;
    bool same = true;
    for (int k = 0; k < nseg; k++) {
        same = same && fabs(c->rate[k] / MTR_FS - 1.0) < 1e-5;
        if (!(c->rate[k] > 0) || !src_is_valid_ratio(MTR_FS / c->rate[k])) {
            sim_errf(err, "%s: line %d: sample rate %g Hz cannot be resampled to %u Hz", c->path,
                     c->rate_line + (c->nrates ? k : 0), c->rate[k], MTR_FS);
            return SIM_ERANGE;
        }
    }
    if (same) {
        *out = c->rows;
        *nout = c->nsamp;
        c->rows = NULL;
        return SIM_OK;
    }
    double *T = malloc((size_t)(nseg + 1) * sizeof *T);
    if (!T) {
        sim_errf(err, "%s: out of memory", c->path);
        return SIM_ENOMEM;
    }
    ct_times(c, nseg, T);
    /* Many short segments would make the guards the bulk of the work: refuse them. */
    double guards = 0;
    for (int k = 0; k < nseg; k++)
        guards += (double)ct_guard_len(MTR_FS / c->rate[k]) * ((k > 0) + (k + 1 < nseg));
    if (guards > 16.0 * (double)c->nsamp + 1e6) {
        sim_errf(err, "%s: line %d: %d sample rates over %llu samples: the segments are too "
                 "short to resample each on its own", c->path, c->rate_line, nseg,
                 (unsigned long long)c->nsamp);
        free(T);
        return SIM_ERANGE;
    }
    double total = floor(T[nseg] * MTR_FS + 0.5);
    float *o = total < 4e9 ? calloc((size_t)total + 1, sizeof(mtr_frame_t)) : NULL;
    int rc = o ? SIM_OK : SIM_ENOMEM;
    if (!o)
        sim_errf(err, "%s: out of memory", c->path);
    for (int k = 0; k < nseg && rc == SIM_OK; k++) {
        uint64_t m0 = (uint64_t)floor(T[k] * MTR_FS + 0.5);
        uint64_t m1 = k + 1 < nseg ? (uint64_t)floor(T[k + 1] * MTR_FS + 0.5) : (uint64_t)total;
        rc = ct_segment(c, T, nseg, k, o, m0, m1, err);
    }
    free(T);
    if (rc != SIM_OK) {
        free(o);
        return rc;
    }
    *out = o;
    *nout = (size_t)total;
    return SIM_OK;
}

/* ---- the trigger and the window ---- */

/* Whether UTC day D (days since 1970) ends on 30 June or 31 December, where leap
 * seconds go; y: a year near D. */
static bool ct_leap_day(int64_t D, int64_t y)
{
    for (int64_t k = y - 1; k <= y + 1; k++)
        if (D + 1 == ct_days(k, 7, 1) || D + 1 == ct_days(k + 1, 1, 1))
            return true;
    return false;
}

/* Seconds from the first sample to the trigger. The stamps are local time (2013:
 * time_code from UTC); a leap second the file declares (leap_second 1 added, 2 removed)
 * at the end of the first sample's UTC day, when that is 30 June or 31 December, is
 * counted: a stamp written after it lies one second more (or less) from the start than
 * the calendar says. A stamp written as :60 is inside the added second. */
static double ct_trigger_s(const ct_t *c)
{
    int64_t u0 = c->t0.sec - (int64_t)c->tz_min * 60, ut = c->trig.sec - (int64_t)c->tz_min * 60;
    int64_t v = u0 - (c->t0.leap ? 1 : 0);
    int64_t day = v / 86400 - (v % 86400 < 0); /* floor, for dates before 1970 too */
    int64_t bound = (day + 1) * 86400, adj0 = 0, adjt = 0;
    int ls = c->info.leap_second;
    if ((ls == 1 || ls == 2) && ct_leap_day(day, 1970 + day / 365)) {
        int sign = ls == 1 ? 1 : -1;
        adj0 = u0 >= bound && !c->t0.leap ? sign : 0;
        adjt = ut >= bound && !c->trig.leap ? sign : 0;
    }
    return (double)((ut + adjt) - (u0 + adj0)) + (c->trig.frac - c->t0.frac);
}

/* The frames m0 .. m1 of n at MTR_FS that the window asks for, and the info. */
static int ct_window(ct_t *c, const sim_comtrade_opts_t *opt, size_t n, size_t *m0,
                     size_t *m1, sim_err_t *err)
{
    sim_comtrade_info_t *in = &c->info;
    bool stamps = c->t0.set && c->trig.set;
    in->rev = c->rev;
    snprintf(in->start, sizeof in->start, "%s", c->t0.text);
    snprintf(in->trigger, sizeof in->trigger, "%s", c->trig.text);
    in->trigger_s = stamps ? ct_trigger_s(c) : 0;
    in->length_s = (double)n / MTR_FS;
    in->from_s = 0;
    in->to_s = in->length_s;
    bool rel = opt && (opt->has_from || opt->has_to);
    if (rel && !stamps) {
        sim_errf(err, "%s: line %d: the file gives no %s time, so a window relative to the "
                 "trigger cannot be placed", c->path, c->t0.set ? c->trig.line : c->t0.line,
                 c->t0.set ? "trigger" : "first-sample");
        return SIM_ERANGE;
    }
    if (opt && opt->has_from)
        in->from_s = in->trigger_s + opt->from;
    if (opt && opt->has_to)
        in->to_s = in->trigger_s + opt->to;
    double half = 0.5 / MTR_FS;
    if (in->from_s < -half || in->to_s > in->length_s + half || !(in->to_s > in->from_s)) {
        sim_errf(err, "%s: the window %.6f to %.6f s from the trigger is not inside the "
                 "recording, which runs from %.6f to %.6f s from the trigger", c->path,
                 in->from_s - in->trigger_s, in->to_s - in->trigger_s, -in->trigger_s,
                 in->length_s - in->trigger_s);
        return SIM_ERANGE;
    }
    double a = floor(in->from_s * MTR_FS + 0.5), b = floor(in->to_s * MTR_FS + 0.5);
    *m0 = a < 0 ? 0 : (size_t)a;
    *m1 = b > (double)n ? n : (size_t)b;
    if (*m1 <= *m0) {
        sim_errf(err, "%s: the window %.6f to %.6f s from the trigger holds no sample at %u "
                 "S/s", c->path, in->from_s - in->trigger_s, in->to_s - in->trigger_s, MTR_FS);
        return SIM_ERANGE;
    }
    return SIM_OK;
}

/* The decoded frames, handed to the replay through its pull hook. */
typedef struct {
    float *x;
    size_t pos, end;
} ct_feed_t;

static long ct_pull(void *ctx, float *dst, size_t n, sim_err_t *err)
{
    (void)err;
    ct_feed_t *f = ctx;
    size_t k = f->end - f->pos < n ? f->end - f->pos : n;
    memcpy(dst, f->x + f->pos * MTR_NCH, k * sizeof(mtr_frame_t));
    f->pos += k;
    return (long)k;
}

static void ct_feed_free(void *ctx)
{
    ct_feed_t *f = ctx;
    free(f->x);
    free(f);
}

/* Takes x (n frames at MTR_FS); the replay reads frames m0 .. m1 of it. */
static int ct_source(ct_t *c, float *x, size_t m0, size_t m1, sim_source_t **out,
                     sim_err_t *err)
{
    ct_feed_t *f = malloc(sizeof *f);
    if (!f) {
        free(x);
        sim_errf(err, "%s: out of memory", c->path);
        return SIM_ENOMEM;
    }
    *f = (ct_feed_t){.x = x, .pos = m0, .end = m1};
    return sim_open_pull(out, c->path, MTR_FS, ct_pull, ct_feed_free, f, err);
}

int sim_comtrade_window(sim_comtrade_opts_t *o, const char *spec, sim_err_t *err)
{
    char s[128], *f[3];
    if (strlen(spec) >= sizeof s) {
        sim_errf(err, "window '%.40s...': too long", spec);
        return SIM_ESYNTAX;
    }
    strcpy(s, spec);
    int nf = sim_split(s, f, 3);
    bool from = nf >= 1 && *f[0] && !sim_strcaseeq(f[0], "start");
    bool to = nf == 2 && *f[1] && !sim_strcaseeq(f[1], "end");
    double a = 0, b = 0;
    bool ok = nf <= 2 && (!from || sim_parse_double(f[0], &a)) &&
              (!to || sim_parse_double(f[1], &b)) && (from || to || nf == 2);
    if (!ok) {
        sim_errf(err, "window '%.40s': expected FROM[,TO], seconds from the trigger (FROM "
                 "may be start, TO end), e.g. 0 or -0.1,0.5", spec);
        return SIM_ESYNTAX;
    }
    if (from && to && !(b > a)) {
        sim_errf(err, "window '%.40s': the end %g s is not after the start %g s", spec, b, a);
        return SIM_ERANGE;
    }
    o->has_from = from;
    o->from = a;
    o->has_to = to;
    o->to = b;
    return SIM_OK;
}

void sim_comtrade_describe(const sim_comtrade_info_t *in, char *buf, size_t n)
{
    char tz[24] = "";
    if (in->time_code[0])
        snprintf(tz, sizeof tz, " (UTC%s%s)", in->time_code[0] == '-' || in->time_code[0] == '+'
                                                 ? "" : "+", in->time_code);
    if (!in->start[0] || !in->trigger[0])
        snprintf(buf, n, "COMTRADE %d, first sample %s%s, no trigger time; replaying %.6f to "
                 "%.6f s of %.6f s", in->rev, in->start[0] ? in->start : "not given", tz,
                 in->from_s, in->to_s, in->length_s);
    else
        snprintf(buf, n, "COMTRADE %d, first sample %s%s, trigger %s (%.6f s after it); "
                 "replaying %.6f to %.6f s from the trigger (%.6f s)", in->rev, in->start, tz,
                 in->trigger, in->trigger_s, in->from_s - in->trigger_s,
                 in->to_s - in->trigger_s, in->to_s - in->from_s);
}

static void ct_free(ct_t *c)
{
    free(c->cfg);
    free(c->dat_buf);
    free(c->dpath);
    free(c->ch);
    free(c->rows);
    free(c->ts);
}

static int ct_open(ct_t *c, const sim_comtrade_opts_t *opt, sim_source_t **out, sim_err_t *err)
{
    int rc = ct_read_all(c->path, &c->cfg, &c->cfg_len, err);
    if (rc != SIM_OK)
        return rc;
    c->p = c->cfg;
    c->end = c->cfg + c->cfg_len;
    c->info.leap_second = c->info.tmq = -1;
    bool cff = ct_ends_with(c->path, ".cff");
    if (cff && (rc = ct_split_cff(c, err)) != SIM_OK)
        return rc;
    if ((rc = ct_parse_cfg(c, err)) != SIM_OK)
        return rc;
    if (cff && c->dat_ascii != (c->ft == CT_ASCII)) {
        sim_errf(err, "%s: line %d: the DAT section is %s, but the data file type (line %d) is "
                 "%s", c->path, c->dat_hdr, c->dat_ascii ? "ASCII" : "binary", c->ft_line,
                 c->dat_ascii ? "binary" : "ASCII");
        return SIM_ESYNTAX;
    }
    if ((rc = ct_map(c, opt, err)) != SIM_OK)
        return rc;
    if (!cff && (rc = ct_load_dat(c, err)) != SIM_OK)
        return rc;
    /* Counts from the .cfg are only trusted once the data is known to hold them. */
    rc = c->ft == CT_ASCII ? ct_ascii_size(c, err) : ct_binary_size(c, err);
    if (rc != SIM_OK)
        return rc;
    c->rows = calloc(c->nsamp, sizeof(mtr_frame_t));
    c->ts = c->nrates ? NULL : calloc(c->nsamp, sizeof *c->ts);
    if (!c->rows || (!c->nrates && !c->ts)) {
        sim_errf(err, "%s: out of memory", c->path);
        return SIM_ENOMEM;
    }
    rc = c->ft == CT_ASCII ? ct_ascii(c, err) : ct_binary(c, err);
    if (rc == SIM_OK && !c->nrates)
        rc = ct_stamp_rate(c, err);
    if (rc != SIM_OK)
        return rc;
    float *x;
    size_t n, m0, m1;
    if ((rc = ct_resample(c, &x, &n, err)) != SIM_OK)
        return rc;
    if ((rc = ct_window(c, opt, n, &m0, &m1, err)) != SIM_OK) {
        free(x);
        return rc;
    }
    return ct_source(c, x, m0, m1, out, err);
}

int sim_open_comtrade(sim_source_t **out, const char *path, const sim_comtrade_opts_t *opt,
                      sim_comtrade_info_t *info, sim_err_t *err)
{
    *out = NULL;
    ct_t *c = calloc(1, sizeof *c);
    if (!c) {
        sim_errf(err, "%s: out of memory", path);
        return SIM_ENOMEM;
    }
    c->path = path;
    int rc = ct_open(c, opt, out, err);
    if (rc == SIM_OK && info)
        *info = c->info;
    ct_free(c);
    free(c);
    return rc;
}
