/*
 * The simulated front end against the engine it feeds: sample sets (6 channels) per
 * second on one core for
 *   synth+AFE   sim_read + sim_afe of a scenario (the waveform, harmonics, noise, pulses)
 *   engine      mtr_feed on pre-made frames (the floor: what the meter itself costs)
 *   pipeline    synth + AFE + engine + obj_cycle, chunked as `s4100 run` does
 * and what each means in meters per core in real time (2520 sets/s per meter). Times are
 * the thread's CPU time, so other work on a shared machine skews them less.
 * Usage: bench_sim [seconds-of-wall-time per figure, default 2] [scenario.ini ...]
 * (default: the shipped default, harmonics and balanced-50hz scenarios).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metering/mtr.h"
#include "objects/obj.h"
#include "sim.h"

#define CHUNK 256            /* as src/app/run.c */
#define PREMADE (20 * MTR_FS) /* frames of the engine-alone run */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static sim_source_t *open_or_die(const char *path, mtr_config_t *cfg)
{
    sim_source_t *s = NULL;
    sim_err_t err;
    if (sim_open_scenario(&s, path, &err) != SIM_OK) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        exit(1);
    }
    mtr_config_default(cfg);
    sim_scenario_meter(s, cfg);
    if (mtr_config_check(cfg) != MTR_OK) {
        fprintf(stderr, "bench_sim: %s: bad [meter] settings\n", path);
        exit(1);
    }
    return s;
}

static void report(const char *what, uint64_t sets, double secs)
{
    double rate = (double)sets / secs;
    printf("  %-10s %8.3f M sets/s  %8.1f ns/set  = %7.0f meters per core in real time\n", what,
           rate / 1e6, 1e9 / rate, rate / MTR_FS);
}

static void read_or_die(sim_source_t *s, mtr_frame_t *x, uint8_t *p, size_t n)
{
    sim_err_t err;
    if (sim_read(s, x, p, n, &err) != (long)n) {
        fprintf(stderr, "bench_sim: sim_read: %s\n", err.msg);
        exit(1);
    }
}

/* The checksum keeps the compiler from dropping the work and shows both runs agree. */
static void bench_synth(const char *path, double budget)
{
    static mtr_frame_t x[CHUNK];
    static uint8_t p[CHUNK];
    mtr_config_t cfg;
    sim_source_t *s = open_or_die(path, &cfg);
    uint64_t sets = 0;
    double sum = 0, t0 = now_s(), t;
    do {
        for (int k = 0; k < 64; k++) {
            read_or_die(s, x, p, CHUNK);
            sim_afe(&cfg, x, CHUNK);
            sum += x[CHUNK - 1][MTR_IA] + p[0];
        }
        sets += 64 * CHUNK;
        t = now_s();
    } while (t - t0 < budget);
    report("synth+AFE", sets, t - t0);
    printf("             (%.1f s of signal, checksum %.3g)\n", sim_time(s), sum);
    sim_close(s);
}

static void bench_engine(const char *path, double budget)
{
    mtr_frame_t *x = malloc(PREMADE * sizeof *x);
    mtr_t *m = malloc(sizeof *m);
    mtr_config_t cfg;
    sim_source_t *s = open_or_die(path, &cfg);
    if (!x || !m)
        exit(1);
    read_or_die(s, x, NULL, PREMADE);
    sim_afe(&cfg, x, PREMADE);
    sim_close(s);
    mtr_init(m, &cfg, NULL);
    uint64_t sets = 0;
    double t0 = now_s(), t;
    do {
        size_t off = 0;
        while (off < PREMADE)
            off += mtr_feed(m, x + off, PREMADE - off, NULL);
        sets += PREMADE;
        t = now_s();
    } while (t - t0 < budget);
    report("engine", sets, t - t0);
    printf("             (%u cycles, KW_Total %.3f kW)\n", m->cycles, m->ai[MTR_AI_KW]);
    free(m);
    free(x);
}

/* As run.c's feed(): runs of equal pulse contact, obj_cycle after each 1 s cycle. */
static void feed(obj_device_t *d, mtr_frame_t *x, const uint8_t *pulse, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t run = 1;
        while (off + run < n && pulse[off + run] == pulse[off])
            run++;
        mtr_pulse_input(&d->mtr, pulse[off] != 0);
        size_t done = 0;
        while (done < run) {
            bool cycle = false;
            done += mtr_feed(&d->mtr, x + off + done, run - done, &cycle);
            if (cycle)
                obj_cycle(d);
        }
        off += run;
    }
}

static void bench_pipeline(const char *path, double budget)
{
    static mtr_frame_t x[CHUNK];
    static uint8_t p[CHUNK];
    obj_device_t *d = malloc(sizeof *d);
    if (!d)
        exit(1);
    mtr_config_t cfg;
    sim_source_t *s = open_or_die(path, &cfg);
    obj_identity_t id;
    obj_identity_default(&id, "BENCH");
    obj_init(d, &id, &cfg, NULL);
    uint64_t sets = 0;
    double t0 = now_s(), t;
    do {
        for (int k = 0; k < 64; k++) {
            read_or_die(s, x, p, CHUNK);
            sim_afe(&d->mtr.cfg, x, CHUNK);
            feed(d, x, p, CHUNK);
        }
        sets += 64 * CHUNK;
        t = now_s();
    } while (t - t0 < budget);
    report("pipeline", sets, t - t0);
    printf("             (%u cycles, KW_Total %.3f kW)\n", d->mtr.cycles, d->mtr.ai[MTR_AI_KW]);
    sim_close(s);
    free(d);
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 2.0;
    if (!(budget > 0))
        budget = 2.0;
    static const char *const shipped[] = {"default", "harmonics", "balanced-50hz"};
    char path[1024];
    int nfiles = argc > 2 ? argc - 2 : (int)(sizeof shipped / sizeof shipped[0]);
    for (int k = 0; k < nfiles; k++) {
        if (argc > 2)
            snprintf(path, sizeof path, "%s", argv[2 + k]);
        else
            snprintf(path, sizeof path, "%s/scenarios/%s.ini", S4100_SOURCE_DIR, shipped[k]);
        printf("%s:\n", path);
        bench_synth(path, budget);
        bench_engine(path, budget);
        bench_pipeline(path, budget);
    }
    return 0;
}
