/*
 * What a fleet of meters costs, per meter and per core, for the whole pipeline a meter
 * runs each second in `s4100 run --meters N`:
 *   synth + AFE    the simulated front end (sim_read + sim_afe of the default scenario)
 *   meter          engine, objects, demand, trend logs (meter_feed)
 *   NV             new trend records to the rings and a checkpoint each meter second
 *                  (tl_flush + nv_save) on a store in RAM
 * with, in the same run, the floor: the engine alone on pre-made frames. Also the RAM a
 * meter takes and a checkpoint's cost to a file with and without fdatasync.
 * Times are the thread's CPU time, so other work on a shared machine skews them less.
 * Usage: bench_fleet [meters, default 200] [meter seconds, default 20]
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/app/meter.h" /* app_meter_t: what s4100 run holds per meter */
#include "meter/meter.h"
#include "nv/nv.h"
#include "port.h"
#include "sim.h"

#define CHUNK 256 /* as src/app/run.c */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A medium in RAM; every meter writes the same scratch bytes (the cost is what counts). */
typedef struct {
    uint8_t *mem;
    uint32_t size;
} ram_t;

static int ram_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    ram_t *r = ctx;
    memcpy(buf, r->mem + off, n);
    return 0;
}

static int ram_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    ram_t *r = ctx;
    memcpy(r->mem + off, buf, n);
    return 0;
}

static int ram_sync(void *ctx)
{
    (void)ctx;
    return 0;
}

typedef struct {
    meter_t mt;
    sim_source_t *src;
    nv_store_t nv;
    nv_tl_t nvtl; /* the trend records, kept once: in the rings */
    uint32_t saves, failures;
} fleet_meter_t;

static void nv_sync_hook(void *ctx, bool force)
{
    fleet_meter_t *f = ctx;
    (void)force;
    for (unsigned k = 0; k < TL_COUNT; k++)
        if (tl_flush(&f->mt.dev.tl[k]) != NV_OK)
            f->failures++;
    nv_image_t img = {&f->mt.dev.mtr.nv, &f->mt.dev.pending_cfg, &f->mt.dev.id, f->mt.dev.tl, NULL};
    if (nv_save(&f->nv, &img) != NV_OK)
        f->failures++;
    f->saves++;
}

static char scenario[600];

static void open_meter(fleet_meter_t *f, unsigned k, const nv_port_t *port)
{
    sim_err_t err;
    char serial[24];
    if (sim_open_scenario(&f->src, scenario, &err) != SIM_OK) {
        fprintf(stderr, "bench_fleet: %s\n", err.msg);
        exit(1);
    }
    mtr_config_t cfg;
    mtr_config_default(&cfg);
    sim_scenario_meter(f->src, &cfg);
    obj_identity_t id;
    snprintf(serial, sizeof serial, "%u", 4100000001u + k);
    obj_identity_default(&id, serial);
    meter_init(&f->mt, &id, &cfg, NULL);
    nv_layout_t layout = NV_S4100_LAYOUT;
    if (nv_open(&f->nv, port, &layout) != NV_OK) {
        fprintf(stderr, "bench_fleet: nv_open failed\n");
        exit(1);
    }
    nv_tl_open(&f->nvtl, &f->nv);
    tl_store_t rings = nv_tl_store(&f->nvtl);
    meter_set_store(&f->mt, &rings);
    meter_set_nv(&f->mt, &(meter_nv_t){.ctx = f, .sync = nv_sync_hook});
}

/* One meter second for every meter, as the host loop does it: chunk by chunk. */
static void second(fleet_meter_t *fm, unsigned n, bool synth_only)
{
    mtr_frame_t buf[CHUNK];
    uint8_t pulse[CHUNK];
    sim_err_t err;
    for (size_t done = 0; done < MTR_FS; done += CHUNK) {
        size_t c = MTR_FS - done < CHUNK ? MTR_FS - done : CHUNK;
        for (unsigned k = 0; k < n; k++) {
            long got = sim_read(fm[k].src, buf, pulse, c, &err);
            sim_afe(&fm[k].mt.dev.mtr.cfg, buf, (size_t)got);
            if (!synth_only)
                meter_feed(&fm[k].mt, buf, pulse, (size_t)got, 0, NULL);
        }
    }
}

/* The floor: the engine alone on frames made beforehand. */
static double engine_alone(const mtr_config_t *cfg, double secs)
{
    static mtr_t e;
    static mtr_frame_t x[5 * MTR_FS];
    sim_source_t *s;
    sim_err_t err;
    uint8_t pulse[5 * MTR_FS];
    sim_open_scenario(&s, scenario, &err);
    sim_read(s, x, pulse, 5 * MTR_FS, &err);
    sim_afe(cfg, x, 5 * MTR_FS);
    sim_close(s);
    mtr_init(&e, cfg, NULL);
    double t0 = cpu_s();
    uint64_t sets = 0;
    while (cpu_s() - t0 < secs) {
        for (size_t off = 0; off < 5 * MTR_FS;) {
            bool cycle;
            off += mtr_feed(&e, x + off, 5 * MTR_FS - off, &cycle);
        }
        sets += 5 * MTR_FS;
    }
    return (double)sets / (cpu_s() - t0);
}

/* A checkpoint to a file, with or without fdatasync: microseconds each. */
static double file_checkpoint(fleet_meter_t *f, bool sync, int rounds)
{
    char dir[] = "/tmp/bench_fleet.XXXXXX", path[64], err[300];
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/m.nv", dir);
    lx_nv_file_t file;
    nv_port_t port;
    nv_layout_t layout = NV_S4100_LAYOUT;
    if (lx_nv_open(&file, path, nv_medium_size(&layout), &port, err, sizeof err) < 0) {
        fprintf(stderr, "bench_fleet: %s\n", err);
        return -1;
    }
    int (*real_sync)(void *) = port.sync;
    if (!sync)
        port.sync = ram_sync;
    nv_store_t st;
    nv_open(&st, &port, &layout);
    nv_image_t img = {&f->mt.dev.mtr.nv, &f->mt.dev.pending_cfg, &f->mt.dev.id, f->mt.dev.tl, NULL};
    nv_save(&st, &img);
    double t0 = wall_s();
    for (int k = 0; k < rounds; k++)
        nv_save(&st, &img);
    double us = (wall_s() - t0) / rounds * 1e6;
    (void)real_sync;
    lx_nv_close(&file);
    unlink(path);
    rmdir(dir);
    return us;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
    unsigned secs = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
    if (n < 1 || secs < 1) {
        fprintf(stderr, "usage: bench_fleet [meters >= 1] [meter seconds >= 1]\n");
        return 2;
    }
    snprintf(scenario, sizeof scenario, "%s/scenarios/default.ini", S4100_SOURCE_DIR);
    nv_layout_t layout = NV_S4100_LAYOUT;
    ram_t ram = {.size = nv_medium_size(&layout)};
    ram.mem = calloc(1, ram.size);
    nv_port_t port = {.ctx = &ram, .read = ram_read, .write = ram_write, .sync = ram_sync, .size = ram.size};

    struct mallinfo2 before = mallinfo2();
    fleet_meter_t *fm = calloc(n, sizeof *fm);
    for (unsigned k = 0; k < n; k++)
        open_meter(&fm[k], k, &port);
    struct mallinfo2 after = mallinfo2();
    double ram_per_meter = (double)(after.uordblks + after.hblkhd - before.uordblks - before.hblkhd) / n;

    second(fm, n, false); /* warm up: the first cycle */
    double t0 = cpu_s();
    for (unsigned s = 0; s < secs; s++)
        second(fm, n, false);
    double pipeline = cpu_s() - t0;
    t0 = cpu_s();
    for (unsigned s = 0; s < secs; s++)
        second(fm, n, true);
    double synth = cpu_s() - t0;
    double ms = (double)n * secs; /* meter seconds run */

    /* The NV share: the same sync the pipeline made once a meter second, alone. */
    t0 = cpu_s();
    for (unsigned s = 0; s < secs; s++)
        for (unsigned k = 0; k < n; k++)
            nv_sync_hook(&fm[k], false);
    double nv = cpu_s() - t0;
    double floor = engine_alone(&fm[0].mt.dev.mtr.cfg, 2.0);

    printf("bench_fleet: %u meters x %u meter seconds (default scenario), thread CPU time\n", n, secs);
    printf("  whole pipeline   %8.1f us a meter second  -> %7.0f meters in real time per core\n",
           pipeline / ms * 1e6, ms / pipeline);
    printf("    synth + AFE    %8.1f us                (%4.1f %%)\n", synth / ms * 1e6, 100 * synth / pipeline);
    printf("    NV sync+save   %8.1f us                (%4.1f %%)\n", nv / ms * 1e6, 100 * nv / pipeline);
    printf("    meter (rest)   %8.1f us                (%4.1f %%)\n", (pipeline - synth - nv) / ms * 1e6,
           100 * (pipeline - synth - nv) / pipeline);
    printf("  floor: engine alone %.1f M sample sets/s = %.1f us a meter second -> %.0f meters per core\n",
           floor / 1e6, MTR_FS / floor * 1e6, floor / MTR_FS);
    printf("  one meter: %.0fx real time; 60 days of trend records in %.0f s\n", ms / pipeline,
           60.0 * 86400.0 / (ms / pipeline));
    printf("  RAM a meter here: %.0f B (meter_t %zu B, of it trend logs %zu B; nv_store_t %zu B, "
           "nv_tl_t %zu B; source and the rest %.0f B)\n", ram_per_meter, sizeof(meter_t),
           sizeof fm->mt.dev.tl, sizeof(nv_store_t), sizeof(nv_tl_t),
           ram_per_meter - (double)sizeof(fleet_meter_t));
    printf("  RAM a meter in s4100 run: app_meter_t %zu B (of it meter_t %zu B, NV %zu B, "
           "UDP batch %zu B, MS/TP %zu B)\n", sizeof(app_meter_t), sizeof(meter_t),
           sizeof(pst_t),
           sizeof(lx_udp_batch_t), sizeof(mstp_t));
    printf("  checkpoint to a file: %.1f us without fdatasync, %.1f us with\n",
           file_checkpoint(&fm[0], false, 2000), file_checkpoint(&fm[0], true, 200));
    unsigned fails = 0;
    for (unsigned k = 0; k < n; k++) {
        fails += fm[k].failures;
        sim_close(fm[k].src);
    }
    if (fails)
        printf("  (NV failures: %u)\n", fails);
    free(fm);
    free(ram.mem);
    return 0;
}
