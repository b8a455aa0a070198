/*
 * NV store costs on the file backend (the meter's layout: 4 KB slots, 3 x 5760 trend
 * records): a checkpoint (save of the small state) and a trend-log append, each with and
 * without fdatasync, and the loader on a full store. Also the core alone (RAM medium),
 * i.e. serialization and CRC, which is what an MCU pays besides its medium.
 * Usage: bench_nv [directory for the store file, default /tmp]
 * The fdatasync figures are those of the directory's file system and disk.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nv/nv.h"
#include "port.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Per-operation times: mean, median and 99th percentile in microseconds. */
static void report(const char *what, double *t, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    printf("%-44s %9.1f %9.1f %9.1f us  (n=%d)\n", what, sum / n * 1e6, t[n / 2] * 1e6,
           t[n * 99 / 100] * 1e6, n);
}

static mtr_nv_t meter;
static mtr_config_t config;
static obj_identity_t ident;
static tl_log_t tl[TL_COUNT];
static nv_tl_t nvtl;
static double times[200000];

static nv_image_t image(void)
{
    return (nv_image_t){.meter = &meter, .config = &config, .identity = &ident, .tl = tl};
}

static void bench_saves(nv_store_t *s, const char *what, int n)
{
    nv_image_t img = image();
    for (int i = 0; i < n; i++) {
        meter.e[0].j += 1000;
        meter.pulses++;
        double t0 = now_s();
        if (nv_save(s, &img) != NV_OK) {
            fprintf(stderr, "save failed\n");
            exit(1);
        }
        times[i] = now_s() - t0;
    }
    report(what, times, n);
}

static void bench_appends(nv_store_t *s, const char *what, int n)
{
    static uint32_t seq[TL_COUNT]; /* each log's own numbers, going on across calls */
    for (int i = 0; i < n; i++) {
        tl_record_t r = {.t = (tl_time_t)i * 90000, .value = (float)i, .kind = TL_REC_REAL};
        uint8_t rec[NV_TL_RECORD_SIZE];
        nv_tl_record_put(rec, ++seq[i % TL_COUNT], &r);
        double t0 = now_s();
        if (nv_log_append(s, (unsigned)i % TL_COUNT, rec, sizeof rec) != NV_OK) {
            fprintf(stderr, "append failed\n");
            exit(1);
        }
        times[i] = now_s() - t0;
    }
    report(what, times, n);
}

/* RAM medium for the core-only figures. */
static uint8_t ram[2 * 4096 + 3 * 5761 * 38];
static int ram_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    (void)ctx;
    memcpy(buf, ram + off, n);
    return 0;
}
static int ram_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    (void)ctx;
    memcpy(ram + off, buf, n);
    return 0;
}
static int ram_sync(void *ctx)
{
    (void)ctx;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/bench_nv.%d.nv", dir, (int)getpid());
    nv_layout_t layout = NV_S4100_LAYOUT;
    uint32_t size = nv_medium_size(&layout);

    mtr_config_default(&config);
    obj_identity_default(&ident, "BENCH");
    for (int i = 0; i < TL_COUNT; i++)
        tl_init(&tl[i], (uint32_t)(1 + i));
    for (int i = 0; i < MTR_E_COUNT; i++)
        meter.e[i].j = 1000000000LL * i;

    lx_nv_file_t f;
    nv_port_t port;
    nv_store_t s;
    if (lx_nv_open(&f, path, size, &port, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    nv_open(&s, &port, &layout);
    printf("store %s: %u bytes of medium (+4 KB header)\n", path, size);
    printf("%-44s %9s %9s %9s\n", "", "mean", "median", "p99");

    nv_store_t r;
    nv_port_t rp = {.ctx = NULL, .read = ram_read, .write = ram_write, .sync = ram_sync,
                    .size = sizeof ram};
    nv_open(&r, &rp, &layout);
    bench_saves(&r, "checkpoint, core only (RAM medium)", 100000);
    bench_appends(&r, "log append, core only (RAM medium)", 100000);

    f.nosync = true;
    bench_saves(&s, "checkpoint, file, no fdatasync", 100000);
    bench_appends(&s, "log append, file, no fdatasync", 100000);
    f.nosync = false;
    bench_saves(&s, "checkpoint, file + fdatasync", 2000);
    bench_appends(&s, "log append, file + fdatasync", 2000);

    /* The loader on a full store: all three rings full and wrapped (the appends above
     * already wrapped them: 100000 / 3 > 5760). */
    lx_nv_close(&f);
    const int loads = 20;
    uint32_t recs = 0;
    for (int i = 0; i < loads; i++) {
        double t0 = now_s();
        if (lx_nv_open(&f, path, size, &port, err, sizeof err) < 0 ||
            nv_open(&s, &port, &layout) != NV_OK) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        nv_image_t img = image();
        nv_tl_state_t tls[TL_COUNT] = {{0}};
        img.tl_state = tls;
        nv_load_info_t info;
        if (nv_load(&s, &img, &info) != NV_OK)
            return 1;
        recs = 0;
        nv_tl_open(&nvtl, &s);
        for (unsigned log = 0; log < TL_COUNT; log++) {
            if (nv_tl_restore(&nvtl, log, &tl[log], &tls[log], NULL) != NV_OK)
                return 1;
            recs += tl[log].count;
        }
        times[i] = now_s() - t0;
        if (i + 1 < loads)
            lx_nv_close(&f);
    }
    char what[80];
    snprintf(what, sizeof what, "load: open + checkpoint + 3 logs rebuilt, %u records", recs);
    report(what, times, loads);

    /* A record older than the cache, read through from the file (page cache warm). */
    const int reads = 100000;
    uint32_t gone = nvtl.gone, x = 1;
    for (int i = 0; i < reads; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t k = (x >> 8) % (tl[0].count - TL_CACHE_SIZE);
        tl_record_t rec;
        double t0 = now_s();
        tl_get(&tl[0], k, &rec);
        times[i] = now_s() - t0;
    }
    report("a record read through from the file", times, reads);
    if (nvtl.gone != gone)
        printf("  (%u reads found no record)\n", nvtl.gone - gone);
    lx_nv_close(&f);
    unlink(path);
    return 0;
}
