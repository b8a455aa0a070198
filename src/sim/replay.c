/*
 * Replay of recordings: 6-channel WAV through libsndfile (streamed), CSV (read whole
 * at open, so a bad line is reported before anything runs), and frames a decoder hands
 * over through a pull hook (COMTRADE). Recordings at another rate go through
 * libsamplerate's best sinc converter, streamed in chunks.
 */
#define _POSIX_C_SOURCE 200809L /* stat */
#include "sim_int.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIM_CHUNK 4096 /* input frames per resampler refill */
#define SIM_TCOL MTR_NCH /* column map value of the t column */

static const char *const sim_ch_names[MTR_NCH] = {"va", "vb", "vc", "ia", "ib", "ic"};

struct sim_replay {
    char *path;
    SNDFILE *sf;
    float *rows; /* CSV frames, 6 floats each */
    sim_pull_fn pull; /* or a decoder's frames (sim_open_pull) */
    void (*pull_free)(void *ctx);
    void *ctx;
    size_t nrows, pos;
    uint64_t in_frames; /* input frames taken so far (for messages) */

    SRC_STATE *src; /* NULL: the recording is at MTR_FS already */
    double ratio;
    float *in;
    size_t in_have, in_pos;
    bool in_eof, done;
};

void sim_replay_free(sim_replay_t *r)
{
    if (!r)
        return;
    if (r->sf)
        sf_close(r->sf);
    if (r->src)
        src_delete(r->src);
    if (r->pull_free)
        r->pull_free(r->ctx);
    free(r->rows);
    free(r->in);
    free(r->path);
    free(r);
}

static sim_replay_t *sim_replay_new(const char *path)
{
    sim_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t len = strlen(path);
    r->path = malloc(len + 1);
    if (!r->path) {
        free(r);
        return NULL;
    }
    memcpy(r->path, path, len + 1);
    return r;
}

/* Set up resampling from rate to MTR_FS, unless rate is MTR_FS within 10 ppm. */
static int sim_replay_rate(sim_replay_t *r, double rate, sim_err_t *err)
{
    if (fabs(rate / MTR_FS - 1.0) < 1e-5)
        return SIM_OK;
    r->ratio = MTR_FS / rate;
    if (!(rate > 0) || !src_is_valid_ratio(r->ratio)) {
        sim_errf(err, "%s: sample rate %g Hz cannot be resampled to %u Hz", r->path, rate, MTR_FS);
        return SIM_ERANGE;
    }
    int e = 0;
    r->src = src_new(SRC_SINC_BEST_QUALITY, MTR_NCH, &e);
    r->in = malloc(SIM_CHUNK * sizeof(mtr_frame_t));
    if (!r->src || !r->in) {
        sim_errf(err, "%s: resampler: %s", r->path, r->src ? "out of memory" : src_strerror(e));
        return SIM_ENOMEM;
    }
    return SIM_OK;
}

/* Every sample of k frames finite, or an error naming the frame and channel. */
static long sim_check_finite(sim_replay_t *r, const float *dst, long k, sim_err_t *err)
{
    for (long j = 0; j < k * MTR_NCH; j++)
        if (!isfinite(dst[j])) {
            sim_errf(err, "%s: frame %llu: channel %s is not finite", r->path,
                     (unsigned long long)(r->in_frames + (uint64_t)(j / MTR_NCH)),
                     sim_ch_names[j % MTR_NCH]);
            return SIM_ESYNTAX;
        }
    r->in_frames += (uint64_t)k;
    return k;
}

/* Up to n input frames at the recording's own rate; 0 at the end. */
static long sim_pull(sim_replay_t *r, float *dst, size_t n, sim_err_t *err)
{
    if (r->pull) {
        long k = r->pull(r->ctx, dst, n, err);
        return k <= 0 ? k : sim_check_finite(r, dst, k, err);
    }
    if (!r->sf) {
        size_t k = r->nrows - r->pos < n ? r->nrows - r->pos : n;
        memcpy(dst, r->rows + r->pos * MTR_NCH, k * sizeof(mtr_frame_t));
        r->pos += k;
        r->in_frames += k;
        return (long)k;
    }
    sf_count_t k = sf_readf_float(r->sf, dst, (sf_count_t)n);
    if (k <= 0) {
        if (sf_error(r->sf) != SF_ERR_NO_ERROR) {
            sim_errf(err, "%s: read error: %s", r->path, sf_strerror(r->sf));
            return SIM_EIO;
        }
        return 0;
    }
    return sim_check_finite(r, dst, (long)k, err);
}

static long sim_resample(sim_replay_t *r, mtr_frame_t *out, size_t n, sim_err_t *err)
{
    size_t total = 0;
    while (total < n && !r->done) {
        if (r->in_pos == r->in_have && !r->in_eof) {
            long k = sim_pull(r, r->in, SIM_CHUNK, err);
            if (k < 0)
                return k;
            r->in_have = (size_t)k;
            r->in_pos = 0;
            r->in_eof = k == 0;
        }
        SRC_DATA d = {
            .data_in = r->in + r->in_pos * MTR_NCH,
            .input_frames = (long)(r->in_have - r->in_pos),
            .data_out = out[total],
            .output_frames = (long)(n - total),
            .end_of_input = r->in_eof,
            .src_ratio = r->ratio,
        };
        int e = src_process(r->src, &d);
        if (e) {
            sim_errf(err, "%s: resampling: %s", r->path, src_strerror(e));
            return SIM_EIO;
        }
        r->in_pos += (size_t)d.input_frames_used;
        total += (size_t)d.output_frames_gen;
        if (r->in_eof && d.output_frames_gen == 0)
            r->done = true;
        else if (d.input_frames_used == 0 && d.output_frames_gen == 0 && r->in_pos < r->in_have) {
            sim_errf(err, "%s: resampler made no progress", r->path);
            return SIM_EIO;
        }
    }
    return (long)total;
}

long sim_replay_read(sim_replay_t *r, mtr_frame_t *out, size_t n, sim_err_t *err)
{
    if (r->src)
        return sim_resample(r, out, n, err);
    return sim_pull(r, out[0], n, err);
}

static int sim_replay_source(sim_source_t **out, sim_replay_t *r)
{
    sim_source_t *s = calloc(1, sizeof *s);
    if (!s) {
        sim_replay_free(r);
        return SIM_ENOMEM;
    }
    s->kind = SIM_SRC_REPLAY;
    s->rep = r;
    *out = s;
    return SIM_OK;
}

/* A directory opens without complaint (fopen) or with a misleading one (libsndfile:
 * "Format not recognised"): say what it is. */
static bool sim_refuse_dir(const char *path, sim_err_t *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return false;
    sim_errf(err, "%s: is a directory, not a recording", path);
    return true;
}

/* A replay whose input is open: resampled from rate, handed out as a source (freed on
 * failure). */
static int sim_replay_start(sim_source_t **out, sim_replay_t *r, double rate,
                            const char *path, sim_err_t *err)
{
    int rc = sim_replay_rate(r, rate, err);
    if (rc != SIM_OK) {
        sim_replay_free(r);
        return rc;
    }
    rc = sim_replay_source(out, r);
    if (rc != SIM_OK)
        sim_errf(err, "%s: out of memory", path);
    return rc;
}

/* ---- WAV ---- */

int sim_open_wav(sim_source_t **out, const char *path, sim_err_t *err)
{
    *out = NULL;
    if (sim_refuse_dir(path, err))
        return SIM_EIO;
    sim_replay_t *r = sim_replay_new(path);
    if (!r) {
        sim_errf(err, "%s: out of memory", path);
        return SIM_ENOMEM;
    }
    SF_INFO info;
    memset(&info, 0, sizeof info);
    r->sf = sf_open(path, SFM_READ, &info);
    if (!r->sf) {
        sim_errf(err, "%s: cannot open: %s", path, sf_strerror(NULL));
        sim_replay_free(r);
        return SIM_EIO;
    }
    if (info.channels != MTR_NCH) {
        sim_errf(err, "%s: %d channels, expected 6 (Va Vb Vc Ia Ib Ic)", path, info.channels);
        sim_replay_free(r);
        return SIM_ESYNTAX;
    }
    return sim_replay_start(out, r, info.samplerate, path, err);
}

/* ---- a decoder's frames ---- */

int sim_open_pull(sim_source_t **out, const char *path, double rate, sim_pull_fn pull,
                  void (*pull_free)(void *ctx), void *ctx, sim_err_t *err)
{
    *out = NULL;
    sim_replay_t *r = sim_replay_new(path);
    if (!r) {
        sim_errf(err, "%s: out of memory", path);
        pull_free(ctx);
        return SIM_ENOMEM;
    }
    r->pull = pull;
    r->pull_free = pull_free;
    r->ctx = ctx;
    return sim_replay_start(out, r, rate, path, err);
}

/* ---- CSV ---- */

typedef struct {
    sim_replay_t *r;
    const char *path;
    int line;
    int ncols;
    int map[MTR_NCH + 1]; /* column -> channel, or SIM_TCOL */
    bool header_done, has_t;
    double *t;
    int *tline;
    size_t cap;
} sim_csv_t;

/* Reads one line of any length; false at the end of the file. */
static bool sim_getline(FILE *f, char **buf, size_t *cap, size_t *len, bool *nomem)
{
    int ch = getc(f);
    *len = 0;
    if (ch == EOF)
        return false;
    for (; ch != EOF && ch != '\n'; ch = getc(f)) {
        if (*len + 1 >= *cap) {
            size_t ncap = *cap ? 2 * *cap : 256;
            char *nb = realloc(*buf, ncap);
            if (!nb) {
                *nomem = true;
                return false;
            }
            *buf = nb;
            *cap = ncap;
        }
        (*buf)[(*len)++] = (char)ch;
    }
    if (!*buf) {
        *buf = malloc(1);
        if (!*buf) {
            *nomem = true;
            return false;
        }
        *cap = 1;
    }
    (*buf)[*len] = '\0';
    return true;
}

char *sim_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int sim_split(char *s, char **f, int max)
{
    int n = 0;
    for (;;) {
        char *c = strchr(s, ',');
        if (c)
            *c = '\0';
        if (n < max)
            f[n] = sim_trim(s);
        n++;
        if (!c)
            return n;
        s = c + 1;
    }
}

static bool sim_numeric(const char *s)
{
    char *end;
    if (!*s)
        return false;
    (void)strtod(s, &end);
    return end != s && *end == '\0';
}

static int sim_csv_header(sim_csv_t *c, char **f, int nf, sim_err_t *err)
{
    unsigned seen = 0;
    if (nf < MTR_NCH || nf > MTR_NCH + 1) {
        sim_errf(err, "%s: line %d: header has %d columns, expected va,vb,vc,ia,ib,ic and "
                 "optionally t", c->path, c->line, nf);
        return SIM_ESYNTAX;
    }
    for (int k = 0; k < nf; k++) {
        int ch = -1;
        for (int j = 0; j < MTR_NCH; j++)
            if (sim_strcaseeq(f[k], sim_ch_names[j]))
                ch = j;
        if (sim_strcaseeq(f[k], "t"))
            ch = SIM_TCOL;
        if (ch < 0 || (seen >> ch & 1u)) {
            sim_errf(err, "%s: line %d: column '%.20s' %s", c->path, c->line, f[k],
                     ch < 0 ? "is not one of t,va,vb,vc,ia,ib,ic" : "appears twice");
            return SIM_ESYNTAX;
        }
        seen |= 1u << ch;
        c->map[k] = ch;
    }
    if (nf == MTR_NCH && (seen >> SIM_TCOL & 1u)) {
        sim_errf(err, "%s: line %d: header lacks a channel (va,vb,vc,ia,ib,ic)", c->path, c->line);
        return SIM_ESYNTAX;
    }
    c->ncols = nf;
    c->has_t = (seen >> SIM_TCOL & 1u) != 0;
    return SIM_OK;
}

static int sim_csv_grow(sim_csv_t *c, sim_err_t *err)
{
    sim_replay_t *r = c->r;
    if (r->nrows < c->cap)
        return SIM_OK;
    size_t cap = c->cap ? 2 * c->cap : 1024;
    float *rows = cap < SIZE_MAX / sizeof(mtr_frame_t) ? realloc(r->rows, cap * sizeof(mtr_frame_t))
                                                       : NULL;
    if (rows)
        r->rows = rows;
    if (rows && c->has_t) {
        double *t = realloc(c->t, cap * sizeof *t);
        if (t)
            c->t = t;
        int *tl = t ? realloc(c->tline, cap * sizeof *tl) : NULL;
        if (tl)
            c->tline = tl;
        rows = tl ? rows : NULL;
    }
    if (!rows) {
        sim_errf(err, "%s: line %d: out of memory", c->path, c->line);
        return SIM_ENOMEM;
    }
    c->cap = cap;
    return SIM_OK;
}

static int sim_csv_row(sim_csv_t *c, char **f, int nf, sim_err_t *err)
{
    sim_replay_t *r = c->r;
    if (nf != c->ncols) {
        sim_errf(err, "%s: line %d: expected %d numbers, got %d", c->path, c->line, c->ncols, nf);
        return SIM_ESYNTAX;
    }
    int rc = sim_csv_grow(c, err);
    if (rc != SIM_OK)
        return rc;
    float *row = r->rows + r->nrows * MTR_NCH;
    for (int k = 0; k < nf; k++) {
        char *end;
        double x = *f[k] ? strtod(f[k], &end) : 0.0;
        if (!*f[k] || *end != '\0') {
            sim_errf(err, "%s: line %d: field %d '%.20s' is not a number", c->path, c->line,
                     k + 1, f[k]);
            return SIM_ESYNTAX;
        }
        const char *col = c->map[k] == SIM_TCOL ? "t" : sim_ch_names[c->map[k]];
        if (!isfinite(x)) {
            sim_errf(err, "%s: line %d: %s = '%.20s' is not a finite number", c->path, c->line,
                     col, f[k]);
            return SIM_ESYNTAX;
        }
        if (c->map[k] != SIM_TCOL && fabs(x) > FLT_MAX) {
            sim_errf(err, "%s: line %d: %s = '%.20s' is too large for a float", c->path, c->line,
                     col, f[k]);
            return SIM_ERANGE;
        }
        if (c->map[k] != SIM_TCOL) {
            row[c->map[k]] = (float)x;
            continue;
        }
        if (r->nrows && !(x > c->t[r->nrows - 1])) {
            sim_errf(err, "%s: line %d: t = %g does not increase", c->path, c->line, x);
            return SIM_ESYNTAX;
        }
        c->t[r->nrows] = x;
        c->tline[r->nrows] = c->line;
    }
    r->nrows++;
    return SIM_OK;
}

static int sim_csv_line(sim_csv_t *c, char *line, sim_err_t *err)
{
    char *s = sim_trim(line);
    if (!*s || *s == '#')
        return SIM_OK;
    char *f[MTR_NCH + 1];
    int nf = sim_split(s, f, MTR_NCH + 1);
    if (!c->header_done) {
        c->header_done = true;
        if (nf >= 1 && !sim_numeric(f[0]))
            return sim_csv_header(c, f, nf, err);
    }
    return sim_csv_row(c, f, nf, err);
}

/* The rate from the t column: the mean step, every step within 0.1 % of it. */
static int sim_csv_rate(sim_csv_t *c, double *rate, sim_err_t *err)
{
    size_t n = c->r->nrows;
    if (n < 2) {
        sim_errf(err, "%s: a t column needs at least two rows to give the sample rate", c->path);
        return SIM_ESYNTAX;
    }
    double mean = (c->t[n - 1] - c->t[0]) / (double)(n - 1);
    for (size_t k = 1; k < n; k++) {
        double dt = c->t[k] - c->t[k - 1];
        if (!(fabs(dt - mean) <= 1e-3 * mean)) {
            sim_errf(err, "%s: line %d: time step %g s is more than 0.1 %% off the mean step %g s",
                     c->path, c->tline[k], dt, mean);
            return SIM_ESYNTAX;
        }
    }
    *rate = 1.0 / mean;
    return SIM_OK;
}

static int sim_csv_load(sim_csv_t *c, FILE *f, sim_err_t *err)
{
    char *buf = NULL;
    size_t cap = 0, len;
    bool nomem = false;
    int rc = SIM_OK;
    while (rc == SIM_OK && sim_getline(f, &buf, &cap, &len, &nomem)) {
        c->line++;
        if (strlen(buf) != len) {
            sim_errf(err, "%s: line %d: NUL byte in the line", c->path, c->line);
            rc = SIM_ESYNTAX;
        } else {
            rc = sim_csv_line(c, buf, err);
        }
    }
    free(buf);
    if (rc == SIM_OK && nomem) {
        sim_errf(err, "%s: line %d: out of memory", c->path, c->line + 1);
        rc = SIM_ENOMEM;
    }
    if (rc == SIM_OK && ferror(f)) {
        sim_errf(err, "%s: read error", c->path);
        rc = SIM_EIO;
    }
    if (rc == SIM_OK && c->r->nrows == 0) {
        sim_errf(err, "%s: no frames", c->path);
        rc = SIM_ESYNTAX;
    }
    return rc;
}

int sim_open_csv(sim_source_t **out, const char *path, sim_err_t *err)
{
    *out = NULL;
    if (sim_refuse_dir(path, err))
        return SIM_EIO;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sim_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return SIM_EIO;
    }
    sim_csv_t c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.ncols = MTR_NCH;
    for (int k = 0; k < MTR_NCH; k++)
        c.map[k] = k;
    c.r = sim_replay_new(path);
    int rc = c.r ? sim_csv_load(&c, f, err) : SIM_ENOMEM;
    fclose(f);
    if (!c.r)
        sim_errf(err, "%s: out of memory", path);
    double rate = MTR_FS;
    if (rc == SIM_OK && c.has_t)
        rc = sim_csv_rate(&c, &rate, err);
    free(c.t);
    free(c.tline);
    if (rc == SIM_OK)
        rc = sim_replay_rate(c.r, rate, err);
    if (rc != SIM_OK) {
        sim_replay_free(c.r);
        return rc;
    }
    rc = sim_replay_source(out, c.r);
    if (rc != SIM_OK)
        sim_errf(err, "%s: out of memory", path);
    return rc;
}
