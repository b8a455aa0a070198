/*
 * The flash's self-test (command line word `selftest`): what docs/firmware.md claims of
 * the emulated NOR under the NV format, checked on the target itself, where the flash
 * code runs as it does in the meter:
 *  - a write that only clears bits programs in place; one that needs a bit set erases
 *    its sector, keeping what lies before the write and leaving what follows erased;
 *  - a trend-log ring appended round twice keeps at least TL_BUFFER_SIZE newest records
 *    intact and in order (the sector of slack), entering each sector with one erase;
 *  - the checkpoint slots are untouched by the rings.
 * Prints PASS or FAIL lines; QEMU's exit status is 0 only if all passed.
 */
#include <string.h>

#include "flash.h"
#include "mps2.h"
#include "selftest.h"

static unsigned failures;

static void expect(bool ok, const char *what)
{
    sh_printf("s4100-fw: selftest: %s - %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void nor_rules(flash_t *f)
{
    uint8_t a[16], b[16];
    memset(a, 0x0F, sizeof a);
    uint32_t e0 = f->erases;
    flash_write(f, FLASH_SECTOR + 64, a, sizeof a); /* blank: programs */
    expect(f->erases == e0 && all(f->base + FLASH_SECTOR + 64, 16, 0x0F),
           "a write over erased flash programs in place");
    memset(b, 0x0E, sizeof b);
    flash_write(f, FLASH_SECTOR + 64, b, sizeof b); /* clears bits only */
    expect(f->erases == e0 && all(f->base + FLASH_SECTOR + 64, 16, 0x0E),
           "a write that only clears bits programs in place");
    memset(a, 0xF0, sizeof a);
    flash_write(f, FLASH_SECTOR + 56, a, sizeof a); /* over 0x0E: needs ones */
    expect(f->erases == e0 + 1 && all(f->base + FLASH_SECTOR, 56, 0xFF) &&
               all(f->base + FLASH_SECTOR + 56, 16, 0xF0) &&
               all(f->base + FLASH_SECTOR + 72, FLASH_SECTOR - 72, 0xFF),
           "a write needing a 1 erases its sector once, keeps what precedes it, "
           "leaves what follows erased");
}

typedef struct {
    uint32_t n, next, first, broken, delta;
} walk_t;

/* Records come back in order, each the one appended under its number. */
static int each(void *arg, uint32_t seq, const void *rec, size_t len)
{
    walk_t *w = arg;
    uint32_t v;
    memcpy(&v, rec, sizeof v);
    if (!w->n)
        w->first = seq, w->delta = seq - v;
    if (len != NV_TL_RECORD_SIZE || seq - v != w->delta || (w->n && seq != w->next))
        w->broken++;
    w->n++;
    w->next = seq + 1;
    return 0;
}

static void ring(flash_t *f, nv_store_t *s, const nv_layout_t *lay)
{
    uint32_t slots = lay->log_capacity + 1u, n = 2u * slots + 777u;
    uint8_t rec[NV_TL_RECORD_SIZE];
    memset(rec, 0x5A, sizeof rec);
    uint32_t e0 = f->erases, bad = 0;
    for (uint32_t seq = 1; seq <= n; seq++) {
        memcpy(rec, &seq, sizeof seq);
        bad += nv_log_append(s, 1, rec, sizeof rec) != NV_OK;
    }
    expect(bad == 0, "appends round a ring twice all succeed");
    walk_t w = {0};
    nv_log_info_t info;
    int rc = nv_log_load(s, 1, each, &w, &info);
    sh_printf("s4100-fw: selftest: ring of %u slots, %u appends: %u records read back "
              "(%u..%u), %u erased or damaged in the window, %u erases\n",
              slots, n, w.n, info.first, info.last, info.damaged, f->erases - e0);
    expect(rc == NV_OK && w.broken == 0 && info.last - w.first + 1u == w.n &&
               w.n >= TL_BUFFER_SIZE,
           "the newest TL_BUFFER_SIZE records (and more) intact and in order after two laps");
    /* Sectors are erased only once written: from the second lap on, one per sector. */
    uint32_t rec_bytes = (nv_medium_size(lay) - 2u * lay->slot_size) / lay->logs / slots;
    uint32_t entered = ((n - slots) * rec_bytes + FLASH_SECTOR - 1u) / FLASH_SECTOR + 1u;
    expect(f->erases - e0 <= entered, "one erase per sector entered, none for the others");
}

int selftest_flash(flash_t *f, nv_store_t *s)
{
    nv_layout_t lay = flash_layout(TL_COUNT, TL_BUFFER_SIZE, NV_TL_RECORD_SIZE);
    uint32_t size = (nv_medium_size(&lay) + FLASH_SECTOR - 1u) / FLASH_SECTOR * FLASH_SECTOR;
    expect(flash_layout_ok(&lay), "the layout's slots and rings are whole sectors");
    if (flash_open(f, NULL, size) < 0) {
        expect(false, "the flash opens");
        return 1;
    }
    nv_port_t port = flash_nv_port(f);
    nor_rules(f);
    memset(f->base, 0xFF, f->size);
    expect(nv_open(s, &port, &lay) == NV_OK, "the NV store opens on the flash");
    obj_identity_t id, back;
    obj_identity_default(&id, "SELFTEST");
    id.instance = 4100;
    expect(nv_save(s, &(nv_image_t){.identity = &id}) == NV_OK, "a checkpoint saves");
    ring(f, s, &lay);
    obj_identity_default(&back, "OTHER");
    nv_open(s, &port, &lay);
    expect(nv_load(s, &(nv_image_t){.identity = &back}, NULL) == NV_OK && back.instance == 4100,
           "the checkpoint loads back intact after the ring's laps");
    sh_printf("s4100-fw: selftest: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
