/*
 * libFuzzer target: the input as a scenario file; if it opens, synthesize a few seconds
 * (events, ramps and loops run) and poke the live setter with a key from the input.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/fuzz_scenario.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return 0;
    }
    fwrite(data, 1, size, f);
    fclose(f);

    sim_source_t *s = NULL;
    sim_err_t err;
    if (sim_open_scenario(&s, path, &err) == SIM_OK) {
        static mtr_frame_t buf[MTR_FS];
        uint8_t pulse[MTR_FS];
        mtr_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        sim_scenario_meter(s, &cfg);
        for (int k = 0; k < 3; k++)
            sim_read(s, buf, pulse, MTR_FS, &err);
        /* the first line as "key value" for the live setter */
        char key[64] = "", val[64] = "";
        size_t n = size < 127 ? size : 127;
        char line[128];
        memcpy(line, data, n);
        line[n] = '\0';
        if (sscanf(line, "%63s %63s", key, val) == 2) {
            sim_set_ramp(s, key, val, 0.5, &err);
            sim_read(s, buf, pulse, MTR_FS, &err);
        }
        sim_close(s);
    }
    unlink(path);
    return 0;
}
