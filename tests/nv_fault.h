/* A fault-injecting NV medium for tests (an nv_port_t): RAM that keeps apart what reads
 * see and what a power cut leaves (what was synced). Faults:
 *  - writes, syncs or reads that fail with an I/O error (eio_*);
 *  - a medium that fills up: `space` bytes of new 512-byte blocks, then NV_ENOSPC for a
 *    write that needs another, as a sparse file on a full disk (blocks written before
 *    still take writes); `full`: every write NV_ENOSPC (a copy-on-write file system);
 *  - a power cut: after `ops_left` more writes and syncs the power fails (that call and
 *    every later one fails, nothing more is written); nvf_cut then drops every write not
 *    yet synced, or keeps each of its bytes with probability `keep` (a write torn
 *    anyhow), and the power comes back.
 * Header-only: each test program includes it once. */
#ifndef S4100_TEST_NV_FAULT_H
#define S4100_TEST_NV_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "nv/nv.h"

#define NVF_BLOCK 512u

typedef struct {
    uint8_t *mem;   /* what reads see */
    uint8_t *dur;   /* what survives a power cut */
    uint8_t *alloc; /* one byte per block: allocated */
    uint32_t size;
    uint32_t lo, hi; /* bytes written since the last sync: [lo, hi) */
    bool eio_write, eio_sync, eio_read, full;
    long space;      /* bytes of new blocks left; < 0: no limit */
    long ops_left;   /* writes + syncs until the power fails; < 0: it never does */
    bool dead;
    unsigned writes, syncs, failed;
    uint64_t rng;
} nvf_t;

static uint32_t nvf_rand(nvf_t *f)
{
    f->rng = f->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(f->rng >> 33);
}

/* A blank medium of size bytes over the three caller buffers (size, size, blocks). */
static void nvf_init(nvf_t *f, uint8_t *mem, uint8_t *dur, uint8_t *alloc, uint32_t size,
                     uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->mem = mem, f->dur = dur, f->alloc = alloc, f->size = size;
    memset(mem, 0, size);
    memset(dur, 0, size);
    memset(alloc, 0, (size + NVF_BLOCK - 1) / NVF_BLOCK);
    f->lo = size;
    f->space = f->ops_left = -1;
    f->rng = seed;
}

/* One more write or sync: false when the power has gone (now or before). */
static bool nvf_power(nvf_t *f)
{
    if (f->dead)
        return false;
    if (f->ops_left == 0) {
        f->dead = true;
        return false;
    }
    if (f->ops_left > 0)
        f->ops_left--;
    return true;
}

static int nvf_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    nvf_t *f = ctx;
    if (f->eio_read || off > f->size || n > f->size - off)
        return -1;
    memcpy(buf, f->mem + off, n);
    return 0;
}

static int nvf_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    nvf_t *f = ctx;
    if (off > f->size || n > f->size - off || !nvf_power(f))
        return -1;
    if (f->eio_write || f->full) {
        f->failed++;
        return f->full ? NV_ENOSPC : -1;
    }
    if (n == 0)
        return 0;
    long need = 0;
    for (uint32_t b = off / NVF_BLOCK; b <= (off + (uint32_t)n - 1) / NVF_BLOCK; b++)
        need += !f->alloc[b];
    if (f->space >= 0 && need * (long)NVF_BLOCK > f->space) {
        f->failed++;
        return NV_ENOSPC;
    }
    for (uint32_t b = off / NVF_BLOCK; b <= (off + (uint32_t)n - 1) / NVF_BLOCK; b++)
        f->alloc[b] = 1;
    if (f->space >= 0)
        f->space -= need * (long)NVF_BLOCK;
    memcpy(f->mem + off, buf, n);
    if (off < f->lo)
        f->lo = off;
    if (off + n > f->hi)
        f->hi = off + (uint32_t)n;
    f->writes++;
    return 0;
}

static int nvf_sync(void *ctx)
{
    nvf_t *f = ctx;
    if (!nvf_power(f))
        return -1;
    if (f->eio_sync) {
        f->failed++;
        return -1;
    }
    if (f->lo < f->hi)
        memcpy(f->dur + f->lo, f->mem + f->lo, f->hi - f->lo);
    f->lo = f->size, f->hi = 0;
    f->syncs++;
    return 0;
}

static nv_port_t nvf_port(nvf_t *f)
{
    return (nv_port_t){.ctx = f, .read = nvf_read, .write = nvf_write, .sync = nvf_sync,
                       .size = f->size};
}

/* The power fails now (if it has not already) and comes back: of what was written since
 * the last sync each byte survives with probability keep (0: all dropped). Returns how
 * many bytes were not durable. */
static uint32_t nvf_cut(nvf_t *f, double keep)
{
    uint32_t lost = 0;
    for (uint32_t i = f->lo; i < f->hi; i++) {
        if (f->mem[i] == f->dur[i])
            continue;
        lost++;
        if (keep > 0 && nvf_rand(f) < (uint32_t)(keep * 2147483648.0))
            f->dur[i] = f->mem[i];
        f->mem[i] = f->dur[i];
    }
    f->lo = f->size, f->hi = 0;
    f->dead = false;
    f->ops_left = -1;
    return lost;
}

#endif
