/*
 * libFuzzer target: the input as a CSV recording, opened and read to the end (or a
 * bounded number of frames, since a t column may ask for heavy resampling).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/fuzz_csv.XXXXXX";
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
    if (sim_open_csv(&s, path, &err) == SIM_OK) {
        static mtr_frame_t buf[512];
        uint8_t pulse[512];
        long got;
        for (int k = 0; k < 64 && (got = sim_read(s, buf, pulse, 512, &err)) > 0; k++) {
        }
        sim_close(s);
    }
    unlink(path);
    return 0;
}
