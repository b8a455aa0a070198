/*
 * Fuzz the NV loader: the input is the content of a medium (two checkpoint slots and two
 * record rings of a small layout; short inputs are padded with zeros). Whatever the
 * bytes, loading must not crash or overrun, and what it loads must survive a save and a
 * reload unchanged; a log append after the load must come back as the newest record.
 * Trend logs rebuilt from the rings and the checkpoint's account (nv_tl_restore) never
 * number below that account, and come back the same after being flushed to the ring:
 * every record the ring holds reads alike through both.
 * CRCs would stop the fuzzer at the door, so an input with one byte more than the medium
 * whose last byte is odd gets its CRCs fixed first: that reaches the TOC, the section
 * decoders and the ring logic with arbitrary contents.
 *
 * Seeds (fuzz/seeds/fuzz_nv/): media written by the store itself. To regenerate them:
 *   cc -DFUZZ_NV_MAKE_SEEDS -Isrc/core fuzz/fuzz_nv.c src/core/{nv,metering,objects,\
 *      trendlog,bacnet}/\*.c -lm -o /tmp/mkseeds && /tmp/mkseeds fuzz/seeds/fuzz_nv
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nv/nv.h"

static const nv_layout_t layout = {.slot_size = 1024, .logs = 2, .log_capacity = 7,
                                   .log_payload = NV_TL_RECORD_SIZE};
#define MEDIUM (2 * 1024 + 2 * 8 * 38)

typedef struct {
    uint8_t mem[MEDIUM];
} ram_t;

static int ram_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    ram_t *r = ctx;
    if (off > MEDIUM || n > MEDIUM - off)
        abort(); /* the store must stay inside the medium */
    memcpy(buf, r->mem + off, n);
    return 0;
}

static int ram_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    ram_t *r = ctx;
    if (off > MEDIUM || n > MEDIUM - off)
        abort();
    memcpy(r->mem + off, buf, n);
    return 0;
}

static int ram_sync(void *ctx)
{
    (void)ctx;
    return 0;
}

typedef struct {
    mtr_nv_t meter;
    mtr_config_t config;
    obj_identity_t identity;
    tl_log_t tl[TL_COUNT];
} state_t;

static ram_t m1, m2, m3;
static state_t x, y;
static tl_log_t rl, rl2;

static void defaults(state_t *s)
{
    memset(&s->meter, 0, sizeof s->meter);
    mtr_config_default(&s->config);
    obj_identity_default(&s->identity, "FUZZ");
    for (int i = 0; i < TL_COUNT; i++) {
        /* only the configuration is stored: leave the record buffers alone (speed) */
        s->tl[i].enable = true;
        s->tl[i].stop_when_full = false;
        s->tl[i].start = s->tl[i].stop = TL_TIME_ANY;
        s->tl[i].ai = (uint32_t)(1 + i);
    }
}

static nv_image_t image(state_t *s)
{
    return (nv_image_t){.meter = &s->meter, .config = &s->config, .identity = &s->identity,
                        .tl = s->tl};
}

static nv_port_t port_of(ram_t *r)
{
    return (nv_port_t){.ctx = r, .read = ram_read, .write = ram_write, .sync = ram_sync,
                       .size = MEDIUM};
}

typedef struct {
    uint32_t n, last_seq;
    uint8_t last[NV_TL_RECORD_SIZE];
} walk_t;

static int walk(void *arg, uint32_t seq, const void *rec, size_t len)
{
    walk_t *w = arg;
    /* In order, within the payload size, at most the capacity. */
    if (len == 0 || len > NV_TL_RECORD_SIZE || (w->n && seq <= w->last_seq) ||
        ++w->n > layout.log_capacity)
        abort();
    w->last_seq = seq;
    memset(w->last, 0, sizeof w->last);
    memcpy(w->last, rec, len);
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Make every slot header, slot body and ring record CRC right (docs/nv.md). */
static void fix_crcs(uint8_t *m)
{
    for (uint32_t i = 0; i < 2; i++) {
        uint8_t *h = m + i * layout.slot_size;
        uint32_t len = (uint32_t)h[12] | (uint32_t)h[13] << 8;
        if (len <= layout.slot_size - 32) {
            h[14] = h[15] = 0;
            put32(h + 20, nv_crc32(0, h + 32, len));
        }
        put32(h + 28, nv_crc32(0, h, 28));
    }
    for (uint8_t *r = m + 2 * layout.slot_size; r + 38 <= m + MEDIUM; r += 38)
        put32(r + 34, nv_crc32(0, r, 34));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(m1.mem, 0, MEDIUM);
    memcpy(m1.mem, data, size < MEDIUM ? size : MEDIUM);
    if (size > MEDIUM && (data[MEDIUM] & 1))
        fix_crcs(m1.mem);
    nv_store_t s;
    nv_port_t p = port_of(&m1);
    if (nv_open(&s, &p, &layout) != NV_OK)
        abort();

    /* The checkpoint. */
    defaults(&x);
    nv_image_t img = image(&x);
    nv_tl_state_t tls[TL_COUNT];
    memset(tls, 0, sizeof tls);
    img.tl_state = tls;
    nv_load_info_t info;
    int rc = nv_load(&s, &img, &info);
    if (rc != NV_OK && rc != NV_EMPTY && rc != NV_ECORRUPT && rc != NV_EVERSION &&
        rc != NV_EOLDER && rc != NV_ELOST)
        abort();
    if ((rc == NV_OK) != (info.used >= 0) || (rc == NV_EOLDER) != info.older)
        abort();
    if (rc == NV_EOLDER) { /* accepted: the survivor loads */
        rc = nv_load_ex(&s, &img, &info, NV_LOAD_ACCEPT_OLDER);
        if (rc != NV_OK || !info.older)
            abort();
    }
    img.tl_state = NULL;
    /* What was loaded is in range for the layers above (strings terminated). */
    if (strlen(x.identity.name) > OBJ_NAME_MAX || strlen(x.identity.serial) > OBJ_SERIAL_MAX ||
        strlen(x.identity.location) > OBJ_LOCATION_MAX)
        abort();
    for (int i = 0; i < MTR_E_COUNT; i++)
        if (x.meter.e[i].j < 0) /* the fraction (2^-32 J units) is < 1 J by its type */
            abort();

    /* It survives a save and a reload, byte for byte. */
    nv_store_t s2, s3;
    nv_port_t p2 = port_of(&m2), p3 = port_of(&m3);
    memset(m2.mem, 0, MEDIUM);
    memset(m3.mem, 0, MEDIUM);
    if (nv_open(&s2, &p2, &layout) || nv_save(&s2, &img) != NV_OK)
        abort();
    defaults(&y);
    nv_image_t img2 = image(&y);
    if (nv_load(&s2, &img2, &info) != NV_OK || info.missing || info.invalid)
        abort();
    if (nv_open(&s3, &p3, &layout) || nv_save(&s3, &img2) != NV_OK)
        abort();
    if (memcmp(m2.mem, m3.mem, 2 * layout.slot_size) != 0)
        abort();

    /* The trend logs rebuilt: never numbered below the checkpoint's count; flushed to the
     * ring and rebuilt again, the same count and every record read the same (a gap's
     * placeholders as the rebuild stamps them and as a read stamps them). */
    nv_tl_t nvtl;
    nv_tl_open(&nvtl, &s);
    for (unsigned log = 0; log < layout.logs; log++) {
        nv_tl_restore_info_t ri;
        tl_init(&rl, 1);
        rc = nv_tl_restore(&nvtl, log, &rl, &tls[log], &ri);
        if (rc != NV_OK || rl.count > TL_BUFFER_SIZE)
            abort();
        uint32_t d = tls[log].total - rl.total; /* serial: the count is not ahead */
        if (tls[log].total && rl.total != tls[log].total && d < 0x80000000u)
            abort();
        rc = tl_flush(&rl);
        if (rc == NV_EFULL)
            continue;
        if (rc != NV_OK || rl.stored != rl.total)
            abort();
        tl_init(&rl2, 1);
        if (nv_tl_restore(&nvtl, log, &rl2, &tls[log], NULL) != NV_OK ||
            rl2.total != rl.total || (rl.count != 0) != (rl2.count != 0))
            abort();
        /* What the ring holds of the log (it keeps fewer records than the log). */
        uint32_t n = rl.count < rl2.count ? rl.count : rl2.count;
        if (n > layout.log_capacity)
            n = layout.log_capacity;
        tl_reader_t ra, rb;
        tl_reader_init(&ra, &rl);
        tl_reader_init(&rb, &rl2);
        for (uint32_t i = 0; i < n; i++) {
            tl_record_t a, b;
            tl_read(&ra, rl.count - 1 - i, &a);
            tl_read(&rb, rl2.count - 1 - i, &b);
            if (a.t != b.t || memcmp(&a.value, &b.value, 4) || a.kind != b.kind)
                abort();
        }
    }

    /* The logs: load, append, reload; the append is the newest record. */
    for (unsigned log = 0; log < layout.logs; log++) {
        walk_t w = {0};
        nv_log_info_t li;
        if (nv_log_load(&s, log, walk, &w, &li) != NV_OK || li.records != w.n)
            abort();
        uint8_t rec[NV_TL_RECORD_SIZE];
        memset(rec, 0x5A ^ (int)log, sizeof rec);
        rc = nv_log_append(&s, log, rec, sizeof rec);
        if (rc == NV_EFULL)
            continue; /* a record claims sequence number 2^32-1 */
        if (rc != NV_OK)
            abort();
        walk_t w2 = {0};
        if (nv_log_load(&s, log, walk, &w2, &li) != NV_OK || w2.n < 1 ||
            memcmp(w2.last, rec, sizeof rec) != 0 || w2.last_seq != li.last)
            abort();
    }
    /* And the checkpoint can always be written over whatever was there. */
    if (nv_save(&s, &img) != NV_OK)
        abort();
    defaults(&y);
    if (nv_load(&s, &img2, &info) != NV_OK)
        abort();
    return 0;
}

#ifdef FUZZ_NV_MAKE_SEEDS
#include <stdio.h>

static void dump(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(m1.mem, 1, MEDIUM, f) != MEDIUM)
        abort();
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    nv_store_t s;
    nv_port_t p = port_of(&m1);
    memset(m1.mem, 0, MEDIUM);
    if (nv_open(&s, &p, &layout))
        abort();
    defaults(&x);
    x.meter.e[0].j = 123456789;
    x.meter.e[0].frac32 = 1u << 30; /* 0.25 J */
    x.meter.max_dem[0] = 42.5f;
    x.meter.power_ups = 7;
    x.identity.instance = 1234567;
    x.tl[1].start = 360000;
    nv_image_t img = image(&x);
    if (nv_save(&s, &img))
        abort();
    dump(dir, "one-save");
    /* A second save, records in both rings, log 1 wrapped and reset once. */
    x.meter.e[1].j = 99;
    x.config.subintervals = 3;
    if (nv_save(&s, &img))
        abort();
    for (uint32_t k = 1; k <= 12; k++) {
        tl_record_t r = {.t = k * 90000, .value = (float)k, .kind = TL_REC_REAL};
        uint8_t rec[NV_TL_RECORD_SIZE];
        nv_tl_record_put(rec, k, &r);
        if (nv_log_append(&s, 0, rec, sizeof rec) || nv_log_append(&s, 1, rec, sizeof rec))
            abort();
        if (k == 9 && nv_log_reset(&s, 1, rec, sizeof rec))
            abort();
    }
    dump(dir, "saves-and-logs");
    /* Only the meter section. */
    memset(m1.mem, 0, MEDIUM);
    nv_open(&s, &p, &layout);
    nv_image_t meter_only = {.meter = &x.meter};
    if (nv_save(&s, &meter_only))
        abort();
    dump(dir, "meter-only");
    /* The second seed with its CRC-fixing byte, so mutations reach the decoders. */
    nv_open(&s, &p, &layout);
    if (nv_save(&s, &img))
        abort();
    char path[512];
    snprintf(path, sizeof path, "%s/fix-crcs", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(m1.mem, 1, MEDIUM, f) != MEDIUM || fputc(1, f) != 1)
        abort();
    fclose(f);
    return 0;
}
#endif
