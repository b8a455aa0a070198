/*
 * An emulated NOR flash for the NV store: 4 KB sectors that erase to 0xFF, programming
 * that only clears bits, and a host file mirroring every erase and program (through
 * semihosting), so that the flash outlives QEMU runs the way a chip outlives power
 * cycles. It is the NV store's medium (nv_port_t): a write that needs a bit set goes
 * through an erase. See docs/firmware.md.
 */
#ifndef S4100_MPS2_FLASH_H
#define S4100_MPS2_FLASH_H

#include "nv/nv.h"

#define FLASH_SECTOR 4096u

typedef struct {
    uint8_t *base;     /* the region (memory-mapped, read directly) */
    uint32_t size;     /* bytes, whole sectors */
    int fd;            /* the host file, -1: none (the flash lives as long as QEMU) */
    uint32_t erases, programs, mirror_errors;
    uint8_t sect[FLASH_SECTOR]; /* a sector's kept part while it is erased */
} flash_t;

/* The NV region (linker script) as a flash of `size` bytes, loaded from the host file
 * `path` (NULL: none); a new or differently sized file starts blank (all 0xFF) and is
 * written so. 0, or -1 when size does not fit the region or is not whole sectors. */
int flash_open(flash_t *f, const char *path, uint32_t size);

/* Write n bytes at off as the NV store's medium does (flash.c: program, or erase the
 * sector first): 0, or NV_EIO out of range or when the host file failed. */
int flash_write(flash_t *f, uint32_t off, const void *buf, size_t n);

/* The nv_port_t over the flash. Its write keeps what the NV format needs of a sector it
 * must erase: the bytes before the write, never those after it (see flash.c). */
nv_port_t flash_nv_port(flash_t *f);

/* Whether a layout suits this flash: slots of whole sectors, rings of whole sectors
 * (so that entering a sector only ever takes one ring's oldest records). */
bool flash_layout_ok(const nv_layout_t *l);

/* A layout for trend logs of `keep` records each on this flash: 4 KB slots and rings
 * rounded up to whole sectors with at least one sector of slack. */
nv_layout_t flash_layout(uint8_t logs, uint32_t keep, uint16_t payload);

#endif
