/*
 * The emulated NOR flash. What NOR allows decides the write path: bits go 1 -> 0 by
 * programming, 0 -> 1 only by erasing a whole sector. A write whose bytes only clear
 * bits is programmed in place. Otherwise its sector is erased first, keeping through a
 * sector buffer the bytes before the write and leaving those after it erased: the NV
 * store writes a checkpoint slot whole from its start and appends ring records in
 * order, so what follows the write in that sector is either the rest of the old slot
 * image or the ring's oldest records, about to be overwritten anyway; keeping them
 * would mean an erase at every later append in the sector. The layout therefore keeps
 * slots and rings sector-aligned and gives each ring a sector of slack (flash_layout).
 */
#include <string.h>

#include "flash.h"
#include "mps2.h"

extern uint8_t __nvflash_start[], __nvflash_size[];

static void mirror(flash_t *f, uint32_t off, uint32_t n)
{
    if (f->fd < 0)
        return;
    if (sh_seek(f->fd, off) != 0 || sh_write(f->fd, f->base + off, n) != 0)
        f->mirror_errors++;
}

static void erase(flash_t *f, uint32_t sector_off)
{
    memset(f->base + sector_off, 0xFF, FLASH_SECTOR);
    f->erases++;
    mirror(f, sector_off, FLASH_SECTOR);
}

static void program(flash_t *f, uint32_t off, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        f->base[off + i] &= p[i];
    f->programs++;
    mirror(f, off, n);
}

static bool clears_only(const flash_t *f, uint32_t off, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if ((f->base[off + i] & p[i]) != p[i])
            return false;
    return true;
}

/* One write within one sector. */
static void write_in_sector(flash_t *f, uint32_t off, const uint8_t *p, uint32_t n)
{
    if (!clears_only(f, off, p, n)) {
        uint32_t start = off - off % FLASH_SECTOR, keep = off - start;
        memcpy(f->sect, f->base + start, keep);
        erase(f, start);
        if (keep)
            program(f, start, f->sect, keep);
    }
    program(f, off, p, n);
}

static int port_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    flash_t *f = ctx;
    if (off > f->size || n > f->size - off)
        return NV_EIO;
    memcpy(buf, f->base + off, n);
    return 0;
}

int flash_write(flash_t *f, uint32_t off, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    if (off > f->size || n > f->size - off)
        return NV_EIO;
    while (n) {
        uint32_t room = FLASH_SECTOR - off % FLASH_SECTOR, k = n < room ? (uint32_t)n : room;
        write_in_sector(f, off, p, k);
        off += k, p += k, n -= k;
    }
    return f->mirror_errors ? NV_EIO : 0;
}

static int port_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    return flash_write(ctx, off, buf, n);
}

/* Every erase and program reached the host file as it happened. */
static int port_sync(void *ctx)
{
    flash_t *f = ctx;
    return f->mirror_errors ? NV_EIO : 0;
}

nv_port_t flash_nv_port(flash_t *f)
{
    return (nv_port_t){.ctx = f, .read = port_read, .write = port_write, .sync = port_sync,
                       .size = f->size};
}

static void load(flash_t *f, const char *path)
{
    f->fd = sh_open(path, SH_RPB);
    if (f->fd >= 0 && sh_flen(f->fd) == (long)f->size && sh_read(f->fd, f->base, f->size) == 0)
        return;
    if (f->fd >= 0)
        sh_close(f->fd);
    f->fd = sh_open(path, SH_WPB); /* new, or not this flash: blank */
    memset(f->base, 0xFF, f->size);
    if (f->fd >= 0 && sh_write(f->fd, f->base, f->size) != 0)
        f->mirror_errors++;
}

int flash_open(flash_t *f, const char *path, uint32_t size)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (size == 0 || size % FLASH_SECTOR || size > (uint32_t)(uintptr_t)__nvflash_size)
        return -1;
    f->base = __nvflash_start;
    f->size = size;
    if (path)
        load(f, path);
    else
        memset(f->base, 0xFF, size);
    return f->fd >= 0 || !path ? 0 : -1;
}

/* A ring slot's bytes, as the NV format has them: what a one-record ring adds. */
static uint32_t rec_size(uint16_t payload)
{
    nv_layout_t one = {.slot_size = FLASH_SECTOR, .logs = 1, .log_capacity = 1, .log_payload = payload};
    return (nv_medium_size(&one) - 2u * FLASH_SECTOR) / 2u;
}

bool flash_layout_ok(const nv_layout_t *l)
{
    uint32_t ring = (l->log_capacity + 1u) * rec_size(l->log_payload);
    return l->slot_size % FLASH_SECTOR == 0 && (l->logs == 0 || ring % FLASH_SECTOR == 0);
}

nv_layout_t flash_layout(uint8_t logs, uint32_t keep, uint16_t payload)
{
    uint32_t rec = rec_size(payload);
    /* Entering a sector takes at most the records that touch it: a sector's worth and
     * one straddling its start. */
    uint32_t slack = FLASH_SECTOR / rec + 2u, slots = keep + 1u + slack;
    while ((slots * rec) % FLASH_SECTOR)
        slots++;
    return (nv_layout_t){.slot_size = FLASH_SECTOR, .logs = logs, .log_capacity = slots - 1u,
                         .log_payload = payload};
}
