/*
 * libFuzzer target: the input as a COMTRADE recording, opened (the .cfg parser, the
 * channel map, the ASCII or binary data decoder, the resampling) and read to the end or
 * a bounded number of frames. Mostly a .cff; an input that starts with '#' is split at
 * its first "\n@@DAT@@\n" into a .cfg and its .dat instead. A last byte 'M' adds a
 * channel map, a next-to-last 'W' a window around the trigger (then the times are
 * described too).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static const uint8_t *find(const uint8_t *p, size_t n, const char *s)
{
    size_t m = strlen(s);
    for (size_t k = 0; k + m <= n; k++)
        if (!memcmp(p + k, s, m))
            return p + k;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/fuzz_comtrade.XXXXXX", path[64], dat[64];
    if (!mkdtemp(dir))
        return 0;
    const uint8_t *cut = size && data[0] == '#' ? find(data, size, "\n@@DAT@@\n") : NULL;
    snprintf(path, sizeof path, "%s/r.%s", dir, cut ? "cfg" : "cff");
    snprintf(dat, sizeof dat, "%s/r.dat", dir);
    int ok = cut ? put(path, data + 1, (size_t)(cut - data) - 1) == 0 &&
                       put(dat, cut + 9, size - (size_t)(cut - data) - 9) == 0
                 : put(path, data, size) == 0;
    sim_comtrade_opts_t o;
    memset(&o, 0, sizeof o);
    sim_err_t err;
    if (size > 2 && data[size - 1] == 'M')
        (void)sim_comtrade_map(&o, "va=1,vb=2,vc=none,ia=IA", &err);
    if (size > 2 && data[size - 2] == 'W')
        (void)sim_comtrade_window(&o, "-0.001,0.01", &err);
    sim_source_t *s = NULL;
    sim_comtrade_info_t info;
    if (ok && sim_open_comtrade(&s, path, &o, &info, &err) == SIM_OK) {
        char line[256];
        sim_comtrade_describe(&info, line, sizeof line);
        static mtr_frame_t buf[512];
        uint8_t pulse[512];
        long got;
        for (int k = 0; k < 64 && (got = sim_read(s, buf, pulse, 512, &err)) > 0; k++) {
        }
        sim_close(s);
    }
    unlink(path);
    unlink(dat);
    rmdir(dir);
    return 0;
}
