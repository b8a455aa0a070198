/*
 * Non-volatile storage: two checkpoint slots and append-only record rings on a port.
 * The on-medium format is described in docs/nv.md; tests/test_nv.c pins it byte by byte.
 */
#include "nv.h"

#include <math.h>
#include <string.h>

/* The codec stores float and double as their IEEE 754 bits: both targets (x86-64,
 * Cortex-M4F with arm-none-eabi) use binary32/binary64. Refuse to build elsewhere
 * rather than write a format another build could not read. */
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE 754 float/double expected");

/* ---- format constants ------------------------------------------------------------- */

/* Checkpoint slot header (32 bytes). */
#define SLOT_MAGIC 0x564E3453u /* "S4NV" on the medium */
#define SLOT_FORMAT 1u
#define SLOT_HDR 32u
#define TOC_ENTRY 12u /* id u16, version u16, offset u32, length u32 */
#define SEC_VERSION 1u /* every section is at version 1 */

/* Ring record: header (16 bytes), payload (layout.log_payload), CRC-32. */
#define REC_MAGIC 0x4C52u /* "RL" */
#define REC_FORMAT 1u
#define REC_HDR 16u
#define REC_CRC 4u

const char *nv_strerror(int rc)
{
    switch (rc) {
    case NV_OK: return "ok";
    case NV_EMPTY: return "empty store (nothing saved yet)";
    case NV_EIO: return "I/O error on the medium";
    case NV_EARG: return "bad argument or layout";
    case NV_ESIZE: return "medium too small for the layout, or image too big for a slot";
    case NV_ECORRUPT: return "both checkpoint slots are corrupt";
    case NV_EVERSION: return "checkpoint written by a newer format version";
    case NV_EFULL: return "log sequence numbers exhausted";
    case NV_ENOSPC: return "the medium is full";
    case NV_EOLDER: return "one checkpoint slot was erased after use: the other may be older";
    case NV_ELOST: return "both checkpoint slots were erased after use";
    default: return "unknown error";
    }
}

const char *nv_slot_str(int st)
{
    switch (st) {
    case NV_SLOT_BLANK: return "blank";
    case NV_SLOT_OK: return "ok";
    case NV_SLOT_BAD: return "bad header (torn or damaged)";
    case NV_SLOT_TORN: return "bad body CRC (torn or damaged)";
    case NV_SLOT_VERSION: return "newer format version";
    default: return "?";
    }
}

/* ---- CRC-32 ---------------------------------------------------------------------- */

uint32_t nv_crc32(uint32_t crc, const void *data, size_t n)
{
    /* Nibble table: 64 bytes of const data instead of 1 KB, fast enough for a store of
     * well under a megabyte (see bench/bench_nv.c). */
    static const uint32_t t[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return ~crc;
}

/* ---- little-endian codec ------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A bounded writer: an overflow is remembered, not written. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool ovf;
} wr_t;

static uint8_t *wr_take(wr_t *w, size_t k)
{
    if (w->ovf || w->cap - w->n < k) {
        w->ovf = true;
        return NULL;
    }
    uint8_t *at = w->p + w->n;
    w->n += k;
    return at;
}

static void w8(wr_t *w, uint8_t v)
{
    uint8_t *p = wr_take(w, 1);
    if (p)
        *p = v;
}

static void w32(wr_t *w, uint32_t v)
{
    uint8_t *p = wr_take(w, 4);
    if (p)
        put32(p, v);
}

static void w64(wr_t *w, uint64_t v)
{
    uint8_t *p = wr_take(w, 8);
    if (p)
        put64(p, v);
}

static void wf32(wr_t *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    w32(w, u);
}

/* An energy register's fraction (2^-32 J units) as the binary64 the format has always
 * stored (0 <= x < 1 J), built from the bits: a 32-bit fixed-point value is exact in a
 * binary64, and no double arithmetic is needed on a single-precision FPU. */
static uint64_t frac_to_f64(uint32_t f)
{
    if (f == 0)
        return 0;
    int top = 31;
    while (!(f >> top & 1u))
        top--;
    uint64_t exp = (uint64_t)(1023 - 32 + top);
    uint64_t mant = ((uint64_t)f << (52 - top)) & ((1ull << 52) - 1);
    return exp << 52 | mant;
}

/* The inverse, rounded to 2^-32 J; false unless 0 <= x < 1 (NaN, negative, >= 1). */
static bool f64_to_frac(uint64_t u, uint32_t *f)
{
    *f = 0;
    if ((u << 1) == 0)
        return true; /* +0 or -0 */
    int exp = (int)(u >> 52 & 0x7FF);
    if (u >> 63 || exp >= 1023)
        return false;
    uint64_t mant = (u & ((1ull << 52) - 1)) | (exp ? 1ull << 52 : 0);
    int shift = 1023 - 32 + 52 - (exp ? exp : 1); /* x * 2^32 = mant >> shift */
    if (shift >= 64)
        return true; /* below 2^-33 J: rounds to 0 */
    uint64_t v = (mant >> shift) + (mant >> (shift - 1) & 1u); /* shift >= 21 */
    *f = v > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)v;
    return true;
}

/* A string as u8 length + bytes (no NUL). */
static void wstr(wr_t *w, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        n = max;
    w8(w, (uint8_t)n);
    uint8_t *p = wr_take(w, n);
    if (p)
        memcpy(p, s, n);
}

/* A bounded reader: reading past the end sets bad and yields zeros. */
typedef struct {
    const uint8_t *p;
    size_t n, len;
    bool bad;
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t k)
{
    static const uint8_t zeros[8];
    if (r->bad || r->len - r->n < k) {
        r->bad = true;
        return zeros;
    }
    const uint8_t *at = r->p + r->n;
    r->n += k;
    return at;
}

static uint8_t r8(rd_t *r)
{
    return *rd_take(r, 1);
}

static uint32_t r32(rd_t *r)
{
    return get32(rd_take(r, 4));
}

static uint64_t r64(rd_t *r)
{
    return get64(rd_take(r, 8));
}

static float rf32(rd_t *r)
{
    uint32_t u = r32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}


static bool rbool(rd_t *r)
{
    uint8_t v = r8(r);
    if (v > 1)
        r->bad = true;
    return v == 1;
}

/* A string of at most max bytes into dst[max + 1]; an embedded NUL is invalid. */
static void rstr(rd_t *r, char *dst, size_t max)
{
    size_t n = r8(r);
    if (n > max) {
        r->bad = true;
        n = 0;
    }
    if (r->bad || r->len - r->n < n) {
        r->bad = true;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, r->p + r->n, n);
    dst[n] = '\0';
    r->n += n;
    if (strlen(dst) != n)
        r->bad = true;
}

/* ---- sections ---------------------------------------------------------------------- */

/* Section encoders and decoders. A decoder reads the fields of its version in order;
 * a longer section (fields appended by a later writer) is fine, a shorter one is bad.
 * Decoders fill a temporary that the loader copies only when every section is good. */

static void enc_meter(wr_t *w, const mtr_nv_t *m)
{
    for (int i = 0; i < MTR_E_COUNT; i++) {
        w64(w, (uint64_t)m->e[i].j);
        w64(w, frac_to_f64(m->e[i].frac32));
    }
    for (int i = 0; i < 6; i++)
        wf32(w, m->max_dem[i]);
    w32(w, m->pulses);
    w32(w, m->energy_resets);
    w32(w, m->power_ups);
}

static bool dec_meter(rd_t *r, mtr_nv_t *m)
{
    bool ok = true;
    memset(m, 0, sizeof *m);
    for (int i = 0; i < MTR_E_COUNT; i++) {
        m->e[i].j = (int64_t)r64(r);
        bool frac_ok = f64_to_frac(r64(r), &m->e[i].frac32);
        /* The engine's invariants: registers only count up from 0, 0 <= frac < 1. */
        ok = ok && m->e[i].j >= 0 && frac_ok;
    }
    for (int i = 0; i < 6; i++) {
        m->max_dem[i] = rf32(r);
        ok = ok && isfinite(m->max_dem[i]);
    }
    m->pulses = r32(r);
    m->energy_resets = r32(r);
    m->power_ups = r32(r);
    return ok && !r->bad;
}

static void enc_config(wr_t *w, const mtr_config_t *c)
{
    w8(w, c->system_type);
    wf32(w, c->ct_primary);
    w8(w, c->ct_secondary);
    wf32(w, c->pt_ratio);
    wf32(w, c->system_voltage);
    w8(w, c->display_units);
    w8(w, c->pl_volts_pct);
    w8(w, c->pl_imbalance_pct);
    w8(w, c->subintervals);
    w32(w, c->subinterval_cs);
}

static bool dec_config(rd_t *r, mtr_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->system_type = r8(r);
    c->ct_primary = rf32(r);
    c->ct_secondary = r8(r);
    c->pt_ratio = rf32(r);
    c->system_voltage = rf32(r);
    c->display_units = r8(r);
    c->pl_volts_pct = r8(r);
    c->pl_imbalance_pct = r8(r);
    c->subintervals = r8(r);
    c->subinterval_cs = r32(r);
    if (r->bad)
        return false;
    /* The discrete settings exactly as a write checks them; the REAL ones (AV3, AV5,
     * AV6) only finite and positive: they are stored as float, so a value accepted at a
     * range limit (AV5 = 0.01) can round to just outside it, and AV6's relation to AV5
     * is a write-time rule. Refusing those would lose a configuration the meter runs. */
    static const mtr_setting_t exact[] = {
        MTR_SET_SYSTEM_TYPE, MTR_SET_CT_SECONDARY, MTR_SET_DISPLAY_UNITS, MTR_SET_PL_VOLTS,
        MTR_SET_PL_IMBALANCE, MTR_SET_SUBINTERVALS, MTR_SET_SUBINTERVAL_LEN,
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (mtr_setting_check(c, exact[i], mtr_setting_get(c, exact[i])) != MTR_OK)
            return false;
    return isfinite(c->ct_primary) && c->ct_primary > 0 && isfinite(c->pt_ratio) &&
           c->pt_ratio > 0 && isfinite(c->system_voltage) && c->system_voltage > 0;
}

static void enc_identity(wr_t *w, const obj_identity_t *id)
{
    w32(w, id->instance);
    wstr(w, id->name, OBJ_NAME_MAX);
    wstr(w, id->location, OBJ_LOCATION_MAX);
    wstr(w, id->serial, OBJ_SERIAL_MAX);
    w8(w, id->max_master);
    w8(w, id->max_info_frames);
    w8(w, id->mac);
    w32(w, id->baud);
    w32(w, id->setup_password);
    w32(w, id->reset_password);
}

static bool dec_identity(rd_t *r, obj_identity_t *id)
{
    memset(id, 0, sizeof *id);
    id->instance = r32(r);
    rstr(r, id->name, OBJ_NAME_MAX);
    rstr(r, id->location, OBJ_LOCATION_MAX);
    rstr(r, id->serial, OBJ_SERIAL_MAX);
    id->max_master = r8(r);
    id->max_info_frames = r8(r);
    id->mac = r8(r);
    id->baud = r32(r);
    id->setup_password = r32(r);
    id->reset_password = r32(r);
    /* The ranges the object layer enforces on every write (obj_set_*). */
    return !r->bad && id->instance >= OBJ_INSTANCE_MIN && id->instance <= OBJ_INSTANCE_MAX &&
           id->max_master >= 1 && id->max_master <= 127 && id->mac <= id->max_master &&
           id->max_info_frames >= 1 && obj_baud_valid(id->baud) &&
           id->setup_password <= 99999u && id->reset_password <= 99999u;
}

/* The configuration part of a trend log: what Record_Count := 0 does not touch. */
typedef struct {
    bool enable, stop_when_full;
    tl_time_t start, stop;
    uint32_t ai;
} tl_conf_t;

static void enc_trendlog(wr_t *w, const tl_log_t *tl)
{
    w8(w, TL_COUNT);
    for (int i = 0; i < TL_COUNT; i++) {
        w8(w, tl[i].enable);
        w8(w, tl[i].stop_when_full);
        w64(w, (uint64_t)tl[i].start);
        w64(w, (uint64_t)tl[i].stop);
        w32(w, tl[i].ai);
    }
}

static bool dec_trendlog(rd_t *r, tl_conf_t c[TL_COUNT])
{
    bool ok = r8(r) == TL_COUNT;
    for (int i = 0; i < TL_COUNT; i++) {
        c[i].enable = rbool(r);
        c[i].stop_when_full = rbool(r);
        c[i].start = (tl_time_t)r64(r);
        c[i].stop = (tl_time_t)r64(r);
        c[i].ai = r32(r);
        ok = ok && c[i].ai >= 1 && c[i].ai <= 75; /* Log_DeviceObjectProperty: AI1..AI75 */
    }
    return ok && !r->bad;
}

static bool kind_ok(uint8_t kind)
{
    return kind == TL_REC_REAL || kind == TL_REC_STATUS || kind == TL_REC_TIME_CHANGE;
}

void nv_tl_state_of(const tl_log_t *l, nv_tl_state_t *out)
{
    memset(out, 0, sizeof *out);
    out->total = l->total;
    if (l->count) {
        out->oldest = tl_seq_of(l, 0);
        out->newest = tl_at(l, l->count - 1); /* from the cache: it holds the newest */
    }
}

static void enc_tlstate(wr_t *w, const tl_log_t *tl)
{
    w8(w, TL_COUNT);
    for (int i = 0; i < TL_COUNT; i++) {
        nv_tl_state_t st;
        nv_tl_state_of(&tl[i], &st);
        w32(w, st.total);
        w32(w, st.oldest);
        w64(w, (uint64_t)st.newest.t);
        wf32(w, st.newest.value);
        w8(w, st.newest.kind);
        w8(w, st.newest.flags);
    }
}

static bool dec_tlstate(rd_t *r, nv_tl_state_t st[TL_COUNT])
{
    bool ok = r8(r) == TL_COUNT;
    for (int i = 0; i < TL_COUNT; i++) {
        memset(&st[i], 0, sizeof st[i]);
        st[i].total = r32(r);
        st[i].oldest = r32(r);
        st[i].newest.t = (tl_time_t)r64(r);
        st[i].newest.value = rf32(r);
        st[i].newest.kind = r8(r);
        st[i].newest.flags = r8(r);
        ok = ok && (st[i].oldest == 0 || (st[i].total != 0 && kind_ok(st[i].newest.kind)));
    }
    return ok && !r->bad;
}

/* ---- store ---------------------------------------------------------------------------- */

uint32_t nv_medium_size(const nv_layout_t *l)
{
    if (!l || l->slot_size < SLOT_HDR + 32 || l->slot_size > NV_SLOT_MAX ||
        l->logs > NV_MAX_LOGS)
        return 0;
    uint64_t total = 2ull * l->slot_size;
    if (l->logs) {
        if (l->log_capacity < 1 || l->log_payload < 1 || l->log_payload > NV_LOG_PAYLOAD_MAX ||
            l->log_capacity >= UINT32_MAX / 2)
            return 0;
        uint64_t rec = REC_HDR + (uint64_t)l->log_payload + REC_CRC;
        total += (uint64_t)l->logs * ((uint64_t)l->log_capacity + 1) * rec;
    }
    return total > UINT32_MAX ? 0 : (uint32_t)total;
}

int nv_open(nv_store_t *s, const nv_port_t *port, const nv_layout_t *layout)
{
    if (!s || !port || !port->read || !port->write || !port->sync || !layout)
        return NV_EARG;
    uint32_t need = nv_medium_size(layout);
    if (need == 0)
        return NV_EARG;
    memset(s, 0, sizeof *s);
    if (port->size < need)
        return NV_ESIZE;
    s->port = *port;
    s->layout = *layout;
    s->cur = -1;
    s->rec_size = REC_HDR + layout->log_payload + REC_CRC;
    uint32_t off = 2 * layout->slot_size;
    for (unsigned i = 0; i < layout->logs; i++) {
        s->log_off[i] = off;
        off += (layout->log_capacity + 1) * s->rec_size;
    }
    return NV_OK;
}

static int rd(nv_store_t *s, uint32_t off, void *buf, size_t n)
{
    return s->port.read(s->port.ctx, off, buf, n) < 0 ? NV_EIO : NV_OK;
}

/* A port's failure as ours: a full medium is worth telling apart (the caller answers
 * differently), anything else is an I/O error. */
static int port_rc(int rc)
{
    return rc == NV_ENOSPC ? NV_ENOSPC : rc < 0 ? NV_EIO : NV_OK;
}

static int wr_sync(nv_store_t *s, uint32_t off, const void *buf, size_t n)
{
    int rc = port_rc(s->port.write(s->port.ctx, off, buf, n));
    return rc ? rc : port_rc(s->port.sync(s->port.ctx));
}

/* ---- checkpoint slots ------------------------------------------------------------------ */

typedef struct {
    uint8_t state; /* NV_SLOT_ */
    uint32_t seq;
    uint32_t body_len;
    uint16_t nsec;
} slot_t;

static bool blank(const uint8_t *p, size_t n)
{
    bool zero = true, ff = true;
    for (size_t i = 0; i < n; i++) {
        zero = zero && p[i] == 0x00;
        ff = ff && p[i] == 0xFF;
    }
    return zero || ff;
}

/* The TOC is inside the body and every section inside the body, after the TOC. */
static bool toc_ok(const uint8_t *body, uint32_t len, uint16_t nsec)
{
    uint32_t toc = (uint32_t)nsec * TOC_ENTRY;
    if (toc > len)
        return false;
    for (uint16_t i = 0; i < nsec; i++) {
        const uint8_t *e = body + i * TOC_ENTRY;
        uint32_t off = get32(e + 4), n = get32(e + 8);
        if (off < toc || off > len || n > len - off)
            return false;
    }
    return true;
}

/* Read and check slot i; on NV_SLOT_OK its body is in s->buf + SLOT_HDR. */
static int check_slot(nv_store_t *s, int i, slot_t *sl)
{
    uint8_t *h = s->buf;
    uint32_t base = (uint32_t)i * s->layout.slot_size;
    memset(sl, 0, sizeof *sl);
    int rc = rd(s, base, h, SLOT_HDR);
    if (rc)
        return rc;
    if (blank(h, SLOT_HDR)) {
        sl->state = NV_SLOT_BLANK;
        return NV_OK;
    }
    sl->state = NV_SLOT_BAD;
    if (get32(h) != SLOT_MAGIC || nv_crc32(0, h, SLOT_HDR - 4) != get32(h + 28))
        return NV_OK;
    sl->seq = get32(h + 8);
    if (get16(h + 4) != SLOT_FORMAT) {
        /* An intact header of another format: trust only its sequence number. */
        sl->state = NV_SLOT_VERSION;
        return NV_OK;
    }
    sl->body_len = get32(h + 12);
    sl->nsec = get16(h + 16);
    if (get16(h + 6) != SLOT_HDR || sl->body_len > s->layout.slot_size - SLOT_HDR)
        return NV_OK;
    rc = rd(s, base + SLOT_HDR, h + SLOT_HDR, sl->body_len);
    if (rc)
        return rc;
    if (nv_crc32(0, h + SLOT_HDR, sl->body_len) != get32(h + 20)) {
        sl->state = NV_SLOT_TORN;
        return NV_OK;
    }
    if (toc_ok(h + SLOT_HDR, sl->body_len, sl->nsec))
        sl->state = NV_SLOT_OK;
    return NV_OK;
}

/* Is sequence number a newer than b? Serial-number arithmetic (RFC 1982): the two slots
 * are always a step or two apart, so the comparison holds across the wrap from 2^32-1
 * to 0, and saving never has to stop. */
static bool newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* Check both slots; *best: the newest intact one (-1 none). */
static int scan_slots(nv_store_t *s, slot_t sl[2], int *best)
{
    for (int i = 0; i < 2; i++) {
        int rc = check_slot(s, i, &sl[i]);
        if (rc)
            return rc;
    }
    *best = -1;
    for (int i = 0; i < 2; i++)
        if (sl[i].state == NV_SLOT_OK && (*best < 0 || newer(sl[i].seq, sl[*best].seq)))
            *best = i;
    s->cur = (int8_t)*best;
    s->seq = *best < 0 ? 0 : sl[*best].seq;
    s->scanned = true;
    return NV_OK;
}

/* Serialize the image into s->buf as a slot with sequence number seq; its length. */
static int build_slot(nv_store_t *s, const nv_image_t *img, uint32_t seq, uint32_t *len)
{
    struct {
        uint16_t id;
        bool on;
    } secs[] = {
        {NV_SEC_METER, img->meter != NULL},
        {NV_SEC_CONFIG, img->config != NULL},
        {NV_SEC_IDENTITY, img->identity != NULL},
        {NV_SEC_TRENDLOG, img->tl != NULL},
        {NV_SEC_TLSTATE, img->tl != NULL},
    };
    uint16_t nsec = 0;
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++)
        nsec = (uint16_t)(nsec + secs[i].on);

    uint8_t *body = s->buf + SLOT_HDR;
    uint32_t cap = s->layout.slot_size - SLOT_HDR;
    uint32_t toc = nsec * TOC_ENTRY;
    if (toc > cap)
        return NV_ESIZE;
    memset(s->buf, 0, s->layout.slot_size);
    wr_t w = {.p = body, .n = toc, .cap = cap};
    uint16_t k = 0;
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        if (!secs[i].on)
            continue;
        size_t start = w.n;
        switch (secs[i].id) {
        case NV_SEC_METER: enc_meter(&w, img->meter); break;
        case NV_SEC_CONFIG: enc_config(&w, img->config); break;
        case NV_SEC_IDENTITY: enc_identity(&w, img->identity); break;
        case NV_SEC_TRENDLOG: enc_trendlog(&w, img->tl); break;
        case NV_SEC_TLSTATE: enc_tlstate(&w, img->tl); break;
        }
        uint8_t *e = body + k++ * TOC_ENTRY;
        put16(e, secs[i].id);
        put16(e + 2, SEC_VERSION);
        put32(e + 4, (uint32_t)start);
        put32(e + 8, (uint32_t)(w.n - start));
    }
    if (w.ovf)
        return NV_ESIZE;

    uint8_t *h = s->buf;
    put32(h, SLOT_MAGIC);
    put16(h + 4, SLOT_FORMAT);
    put16(h + 6, SLOT_HDR);
    put32(h + 8, seq);
    put32(h + 12, (uint32_t)w.n);
    put16(h + 16, nsec);
    put16(h + 18, 0);
    put32(h + 20, nv_crc32(0, body, w.n));
    put32(h + 24, 0);
    put32(h + 28, nv_crc32(0, h, SLOT_HDR - 4));
    *len = SLOT_HDR + (uint32_t)w.n;
    return NV_OK;
}

static int scan_log(nv_store_t *s, unsigned log);
static int log_write(nv_store_t *s, unsigned log, const void *rec, size_t len, bool reset);

/* Leave evidence that the store is in use in every empty ring: an empty record (the
 * marker of a reset to nothing, so the log reads the same). Should both checkpoint
 * slots later be erased, the loader can tell that from a new store. Once per store
 * (a ring the caller has not loaded yet is scanned here); a failure is retried at the
 * next save. */
static void mark_rings(nv_store_t *s)
{
    bool all = true;
    for (unsigned k = 0; k < s->layout.logs; k++) {
        if (!s->log_scanned[k] && scan_log(s, k) != NV_OK) {
            all = false;
            continue;
        }
        if (s->log_seq[k] == 0 && log_write(s, k, NULL, 0, true) != NV_OK)
            all = false;
    }
    s->marked = all;
}

int nv_save(nv_store_t *s, const nv_image_t *img)
{
    if (!s || !img || !s->port.write)
        return NV_EARG;
    if (!s->scanned) {
        slot_t sl[2];
        int best, rc = scan_slots(s, sl, &best);
        if (rc)
            return rc;
    }
    uint32_t len;
    if (s->cur < 0) {
        /* No intact image: write A, then B, each synced before the next, so that one bad
         * slot beside a blank one only ever means "the first save was cut short". */
        int rc = build_slot(s, img, 1, &len);
        if (rc)
            return rc;
        if ((rc = wr_sync(s, 0, s->buf, len)))
            return rc;
        s->cur = 0;
        s->seq = 1;
    }
    int target = 1 - s->cur;
    uint32_t seq = s->seq + 1; /* wraps: see newer() */
    int rc = build_slot(s, img, seq, &len);
    if (rc)
        return rc;
    if ((rc = wr_sync(s, (uint32_t)target * s->layout.slot_size, s->buf, len)))
        return rc; /* the image in s->cur is still the newest intact one */
    s->cur = (int8_t)target;
    s->seq = seq;
    if (!s->marked)
        mark_rings(s); /* after both slots: a cut first save leaves no marker */
    return NV_OK;
}

/* The TOC entry of section id in the slot body at s->buf + SLOT_HDR, or NULL. */
static const uint8_t *toc_find(const nv_store_t *s, const slot_t *sl, uint16_t id)
{
    const uint8_t *body = s->buf + SLOT_HDR;
    for (uint16_t i = 0; i < sl->nsec; i++)
        if (get16(body + i * TOC_ENTRY) == id)
            return body + i * TOC_ENTRY;
    return NULL;
}

/* Does any ring hold an intact record (or a marker)? Then the store was in use. */
static int rings_used(nv_store_t *s, bool *used)
{
    *used = false;
    for (unsigned k = 0; k < s->layout.logs; k++) {
        if (!s->log_scanned[k]) {
            int rc = scan_log(s, k);
            if (rc)
                return rc;
        }
        *used = *used || s->log_seq[k] != 0;
    }
    return NV_OK;
}

/* The verdict on the two slots (best: the newest intact one, or -1). Once a store is in
 * use neither slot is ever blank again: the first save writes both, and a cut write of
 * an image over an image keeps the magic. So a blank slot is either a first save cut
 * short (nothing acknowledged yet: the rings are still empty, and only A can be intact,
 * with sequence number 1) or an erasure. */
static int verdict(nv_store_t *s, const slot_t sl[2], int best, unsigned flags,
                   nv_load_info_t *info)
{
    /* Never roll back past a newer image we cannot read: the caller decides. */
    for (int i = 0; i < 2; i++)
        if (sl[i].state == NV_SLOT_VERSION && (best < 0 || newer(sl[i].seq, sl[best].seq)))
            return NV_EVERSION;
    bool b0 = sl[0].state == NV_SLOT_BLANK, b1 = sl[1].state == NV_SLOT_BLANK;
    if (!b0 && !b1)
        return best < 0 ? NV_ECORRUPT : NV_OK;
    bool first_cut = best < 0 || (best == 0 && sl[0].seq == 1);
    if (first_cut) {
        int rc = rings_used(s, &info->rings_used);
        if (rc)
            return rc;
        first_cut = !info->rings_used;
    }
    if (best < 0)
        return first_cut ? NV_EMPTY : b0 && b1 ? NV_ELOST : NV_ECORRUPT;
    if (first_cut)
        return NV_OK;
    info->older = true;
    return flags & NV_LOAD_ACCEPT_OLDER ? NV_OK : NV_EOLDER;
}

int nv_load(nv_store_t *s, nv_image_t *img, nv_load_info_t *info)
{
    return nv_load_ex(s, img, info, 0);
}

int nv_load_ex(nv_store_t *s, nv_image_t *img, nv_load_info_t *info, unsigned flags)
{
    nv_load_info_t dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->used = -1;
    if (!s || !img || !s->port.read)
        return NV_EARG;

    slot_t sl[2];
    int best, rc = scan_slots(s, sl, &best);
    if (rc)
        return rc;
    info->slot[0] = sl[0].state;
    info->slot[1] = sl[1].state;
    info->seq = best < 0 ? 0 : sl[best].seq; /* the survivor's, also when refused */
    if ((rc = verdict(s, sl, best, flags, info)) != NV_OK)
        return rc;
    /* s->buf holds the body of the slot checked last (or a ring): read ours again */
    if ((rc = check_slot(s, best, &sl[best])))
        return rc;
    if (sl[best].state != NV_SLOT_OK)
        return NV_EIO; /* it changed under us: the medium is not reading back */

    /* Decode every wanted section into temporaries; copy only if all are readable. */
    struct {
        mtr_nv_t meter;
        mtr_config_t config;
        obj_identity_t identity;
        tl_conf_t tl[TL_COUNT];
        nv_tl_state_t tls[TL_COUNT];
    } t;
    const uint16_t ids[] = {NV_SEC_METER, NV_SEC_CONFIG, NV_SEC_IDENTITY, NV_SEC_TRENDLOG,
                            NV_SEC_TLSTATE};
    const bool want[] = {img->meter, img->config, img->identity, img->tl, img->tl_state};
    uint32_t good = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (!want[i])
            continue;
        const uint8_t *e = toc_find(s, &sl[best], ids[i]);
        if (!e) {
            info->missing |= NV_SEC_BIT(ids[i]);
            continue;
        }
        uint16_t ver = get16(e + 2);
        if (ver > SEC_VERSION)
            return NV_EVERSION; /* a section layout this code cannot read */
        rd_t r = {.p = s->buf + SLOT_HDR + get32(e + 4), .len = get32(e + 8)};
        bool ok = ver == SEC_VERSION;
        switch (ids[i]) {
        case NV_SEC_METER: ok = dec_meter(&r, &t.meter) && ok; break;
        case NV_SEC_CONFIG: ok = dec_config(&r, &t.config) && ok; break;
        case NV_SEC_IDENTITY: ok = dec_identity(&r, &t.identity) && ok; break;
        case NV_SEC_TRENDLOG: ok = dec_trendlog(&r, t.tl) && ok; break;
        case NV_SEC_TLSTATE: ok = dec_tlstate(&r, t.tls) && ok; break;
        }
        if (ok)
            good |= NV_SEC_BIT(ids[i]);
        else
            info->invalid |= NV_SEC_BIT(ids[i]);
    }
    if (good & NV_SEC_BIT(NV_SEC_METER))
        *img->meter = t.meter;
    if (good & NV_SEC_BIT(NV_SEC_CONFIG))
        *img->config = t.config;
    if (good & NV_SEC_BIT(NV_SEC_IDENTITY))
        *img->identity = t.identity;
    if (good & NV_SEC_BIT(NV_SEC_TRENDLOG)) {
        for (int i = 0; i < TL_COUNT; i++) {
            img->tl[i].enable = t.tl[i].enable;
            img->tl[i].stop_when_full = t.tl[i].stop_when_full;
            img->tl[i].start = t.tl[i].start;
            img->tl[i].stop = t.tl[i].stop;
            img->tl[i].ai = t.tl[i].ai;
        }
    }
    if (good & NV_SEC_BIT(NV_SEC_TLSTATE))
        memcpy(img->tl_state, t.tls, sizeof t.tls);
    info->used = best;
    info->seq = sl[best].seq;
    return NV_OK;
}

/* ---- record rings ---------------------------------------------------------------------- */

typedef struct {
    bool ok;
    uint32_t seq, base;
    uint16_t len;
    const uint8_t *payload;
} rec_t;

static uint32_t ring_slots(const nv_store_t *s)
{
    return s->layout.log_capacity + 1;
}

/* Parse ring slot idx of log `log` from p. Valid: magic, version, log id, CRC, a length
 * that fits, and the slot that sequence number belongs in (so a stray copy elsewhere in
 * the ring is not taken for it). */
static rec_t parse_rec(const nv_store_t *s, unsigned log, uint32_t idx, const uint8_t *p)
{
    rec_t r = {0};
    uint32_t body = REC_HDR + s->layout.log_payload;
    if (get16(p) != REC_MAGIC || p[2] != REC_FORMAT || p[3] != log ||
        nv_crc32(0, p, body) != get32(p + body))
        return r;
    r.seq = get32(p + 4);
    r.base = get32(p + 8);
    r.len = get16(p + 12);
    r.payload = p + REC_HDR;
    r.ok = r.seq != 0 && r.base != 0 && r.base <= r.seq && r.len <= s->layout.log_payload &&
           r.seq % ring_slots(s) == idx;
    return r;
}

/* Records that fit in the work buffer at once. */
static uint32_t chunk_recs(const nv_store_t *s)
{
    return NV_SLOT_MAX / s->rec_size;
}

/* Find the newest intact record of a log: its sequence number and its history's base. */
static int scan_log(nv_store_t *s, unsigned log)
{
    uint32_t n = ring_slots(s), step = chunk_recs(s);
    uint32_t best = 0, base = 0;
    for (uint32_t i = 0; i < n; i += step) {
        uint32_t k = n - i < step ? n - i : step;
        int rc = rd(s, s->log_off[log] + i * s->rec_size, s->buf, (size_t)k * s->rec_size);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < k; j++) {
            rec_t r = parse_rec(s, log, i + j, s->buf + j * s->rec_size);
            if (r.ok && r.seq > best) {
                best = r.seq;
                base = r.base;
            }
        }
    }
    s->log_seq[log] = best;
    s->log_base[log] = base;
    s->log_scanned[log] = true;
    return NV_OK;
}

static int log_write(nv_store_t *s, unsigned log, const void *rec, size_t len, bool reset)
{
    if (!s || log >= s->layout.logs || len > s->layout.log_payload || (len && !rec))
        return NV_EARG;
    if (!s->log_scanned[log]) {
        int rc = scan_log(s, log);
        if (rc)
            return rc;
    }
    if (s->log_seq[log] == UINT32_MAX)
        return NV_EFULL;
    uint32_t seq = s->log_seq[log] + 1;
    /* A history starts at its first record: the first ever, or a reset. */
    uint32_t base = reset || s->log_base[log] == 0 ? seq : s->log_base[log];
    uint8_t *p = s->buf;
    uint32_t body = REC_HDR + s->layout.log_payload;
    memset(p, 0, s->rec_size);
    put16(p, REC_MAGIC);
    p[2] = REC_FORMAT;
    p[3] = (uint8_t)log;
    put32(p + 4, seq);
    put32(p + 8, base);
    put16(p + 12, (uint16_t)len);
    put16(p + 14, 0);
    if (len)
        memcpy(p + REC_HDR, rec, len);
    put32(p + body, nv_crc32(0, p, body));
    /* The slot it overwrites held record seq - (capacity + 1): already outside the
     * newest `capacity`, so a torn write here loses nothing the log still holds. */
    uint32_t idx = seq % ring_slots(s);
    int rc = wr_sync(s, s->log_off[log] + idx * s->rec_size, p, s->rec_size);
    if (rc)
        return rc;
    s->log_seq[log] = seq;
    s->log_base[log] = base;
    return NV_OK;
}

int nv_log_append(nv_store_t *s, unsigned log, const void *rec, size_t len)
{
    if (len == 0)
        return NV_EARG;
    return log_write(s, log, rec, len, false);
}

int nv_log_reset(nv_store_t *s, unsigned log, const void *rec, size_t len)
{
    return log_write(s, log, rec, len, true);
}

int nv_log_load(nv_store_t *s, unsigned log, nv_log_fn fn, void *arg, nv_log_info_t *info)
{
    nv_log_info_t dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    if (!s || log >= s->layout.logs || !fn)
        return NV_EARG;
    int rc = scan_log(s, log); /* always afresh: the medium is the truth */
    if (rc)
        return rc;
    uint32_t last = s->log_seq[log], base = s->log_base[log];
    if (last == 0)
        return NV_OK;
    uint32_t cap = s->layout.log_capacity, n = ring_slots(s), step = chunk_recs(s);
    uint32_t first = last - base + 1 > cap ? last - cap + 1 : base;

    /* Walk first..last; the ring slots they occupy are read a chunk at a time. */
    uint32_t win = 0, win_n = 0; /* buffered ring slots win .. win + win_n - 1 */
    for (uint32_t seq = first;; seq++) {
        uint32_t idx = seq % n;
        if (idx < win || idx >= win + win_n) {
            win = idx;
            win_n = n - idx < step ? n - idx : step;
            if ((rc = rd(s, s->log_off[log] + idx * s->rec_size, s->buf,
                         (size_t)win_n * s->rec_size)))
                return rc;
        }
        const uint8_t *p = s->buf + (idx - win) * s->rec_size;
        rec_t r = parse_rec(s, log, idx, p);
        if (!r.ok || r.seq != seq || r.base != base) {
            /* Blank slots before the first intact record are the oldest end of the
             * window erased (a flash sector entered by the ring): absent, not damage. */
            if (info->records > 0 || !blank(p, s->rec_size))
                info->damaged++;
        } else if (r.len > 0) {
            if (info->records == 0)
                info->first = seq;
            info->last = seq;
            info->records++;
            int stop = fn(arg, seq, r.payload, r.len);
            if (stop)
                return stop;
        }
        if (seq == last)
            break;
    }
    return NV_OK;
}

/* ---- trend-log records ------------------------------------------------------------------ */

void nv_tl_record_put(uint8_t out[NV_TL_RECORD_SIZE], uint32_t seq, const tl_record_t *r)
{
    uint32_t v;
    memcpy(&v, &r->value, 4);
    put32(out, seq);
    put64(out + 4, (uint64_t)r->t);
    put32(out + 12, v);
    out[16] = r->kind;
    out[17] = r->flags;
}

bool nv_tl_record_get(const void *in, size_t len, uint32_t *seq, tl_record_t *r)
{
    if (len != NV_TL_RECORD_SIZE)
        return false;
    const uint8_t *p = in;
    uint32_t v = get32(p + 12);
    memset(r, 0, sizeof *r);
    *seq = get32(p);
    r->t = (tl_time_t)get64(p + 4);
    memcpy(&r->value, &v, 4);
    r->kind = p[16];
    r->flags = p[17];
    return true;
}

/* ---- the trend logs' record store ----------------------------------------------------- */

/* Trend-log sequence numbers run 1..2^32-1 and wrap to 1 (0 is never a record's). */
static uint32_t tl_prev(uint32_t seq)
{
    return seq <= 1 ? UINT32_MAX : seq - 1;
}

/* Record the ring sequence number that now holds trend-log number seq. */
static void map_add(nv_tl_map_t *m, uint32_t seq, uint32_t ring)
{
    nv_tl_run_t *last = m->runs ? &m->run[m->runs - 1] : NULL;
    if (last && (seq == last->seq || tl_seq_after(seq, last->seq))) {
        uint32_t off = tl_seq_dist(seq, last->seq);
        if (off >= last->n && ring - last->ring == off) {
            last->n = off + 1; /* the run goes on (over damaged records too) */
            return;
        }
    }
    if (m->runs == NV_TL_RUNS) {
        memmove(m->run, m->run + 1, (NV_TL_RUNS - 1) * sizeof m->run[0]);
        m->runs--;
    }
    m->run[m->runs++] = (nv_tl_run_t){.seq = seq, .ring = ring, .n = 1};
}

/* The ring sequence number holding trend-log number seq (the newest run that has it). */
static bool map_find(const nv_tl_map_t *m, uint32_t seq, uint32_t *ring)
{
    for (unsigned i = m->runs; i-- > 0;) {
        const nv_tl_run_t *r = &m->run[i];
        if ((seq == r->seq || tl_seq_after(seq, r->seq)) && tl_seq_dist(seq, r->seq) < r->n) {
            *ring = r->ring + tl_seq_dist(seq, r->seq);
            return true;
        }
    }
    return false;
}

/* Ring record `ring` of the log's current history, if the ring still holds it. */
static bool in_ring(const nv_store_t *s, unsigned log, uint32_t ring)
{
    return s->log_scanned[log] && ring <= s->log_seq[log] && ring >= s->log_base[log] &&
           s->log_seq[log] - ring < s->layout.log_capacity;
}

static int tls_read(void *ctx, unsigned log, uint32_t seq, tl_record_t *r)
{
    nv_tl_t *t = ctx;
    nv_store_t *s = t->s;
    uint32_t ring, tseq;
    if (log >= TL_COUNT || log >= s->layout.logs || !map_find(&t->map[log], seq, &ring) ||
        !in_ring(s, log, ring)) {
        t->gone++;
        return TL_GONE;
    }
    uint32_t idx = ring % ring_slots(s);
    int rc = rd(s, s->log_off[log] + idx * s->rec_size, s->buf, s->rec_size);
    if (rc) {
        t->gone++;
        return rc;
    }
    rec_t x = parse_rec(s, log, idx, s->buf);
    if (!x.ok || x.seq != ring || x.base != s->log_base[log] ||
        !nv_tl_record_get(x.payload, x.len, &tseq, r) || tseq != seq || !kind_ok(r->kind)) {
        t->gone++;
        return TL_GONE;
    }
    return NV_OK;
}

static int tls_append(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r)
{
    nv_tl_t *t = ctx;
    uint8_t rec[NV_TL_RECORD_SIZE];
    if (log >= TL_COUNT)
        return NV_EARG;
    nv_tl_record_put(rec, seq, r);
    int rc = nv_log_append(t->s, log, rec, sizeof rec);
    if (rc == NV_OK)
        map_add(&t->map[log], seq, t->s->log_seq[log]);
    return rc;
}

static int tls_reset(void *ctx, unsigned log, uint32_t seq, const tl_record_t *r)
{
    nv_tl_t *t = ctx;
    uint8_t rec[NV_TL_RECORD_SIZE];
    if (log >= TL_COUNT)
        return NV_EARG;
    if (r)
        nv_tl_record_put(rec, seq, r);
    int rc = nv_log_reset(t->s, log, r ? rec : NULL, r ? sizeof rec : 0);
    if (rc != NV_OK)
        return rc;
    t->map[log].runs = 0; /* the ring's older records are another history now */
    if (r)
        map_add(&t->map[log], seq, t->s->log_seq[log]);
    return NV_OK;
}

void nv_tl_open(nv_tl_t *t, nv_store_t *s)
{
    memset(t, 0, sizeof *t);
    t->s = s;
}

tl_store_t nv_tl_store(nv_tl_t *t)
{
    return (tl_store_t){.ctx = t, .read = tls_read, .append = tls_append, .reset = tls_reset};
}

/* tl_append, also into a full single-shot log: replaying history must not switch a log
 * off (the newest records win, as they did when they were logged). */
static void tl_put(tl_log_t *l, const tl_record_t *r)
{
    bool enable = l->enable, swf = l->stop_when_full;
    l->stop_when_full = false;
    tl_append(l, r);
    l->enable = enable;
    l->stop_when_full = swf;
}

typedef struct {
    tl_log_t *l;
    uint32_t floor;    /* the checkpoint's oldest: nothing before it is the log's */
    uint32_t ring_last; /* the newest sequence number taken from the ring */
    nv_tl_restore_info_t *info;
    nv_tl_map_t map;   /* where the ring holds the log's records */
} restore_t;

static tl_time_t newest_t(const tl_log_t *l)
{
    return tl_at(l, l->count - 1).t; /* the newest is always in the cache */
}

/* Append record seq to the log being rebuilt, keeping sequence numbers contiguous:
 * placeholders over a gap, a fresh start if the numbers went back. */
static void restore_put(restore_t *r, uint32_t seq, const tl_record_t *t)
{
    tl_log_t *l = r->l;
    if (l->count == 0) {
        l->total = tl_prev(r->floor && tl_seq_after(seq, r->floor) ? r->floor : seq);
        r->info->missing += tl_fill(l, tl_prev(seq), t->t);
    } else if (tl_seq_after(seq, l->total)) {
        r->info->missing += tl_fill(l, tl_prev(seq), newest_t(l));
    } else {
        r->info->dropped += l->count; /* an old store's numbers went back: keep the newer */
        tl_clear(l);
        l->total = tl_prev(seq);
        r->map.runs = 0;
    }
    tl_put(l, t); /* Total_Record_Count is now seq */
}

static int restore_one(void *arg, uint32_t ring, const void *rec, size_t len)
{
    restore_t *r = arg;
    uint32_t tseq;
    tl_record_t t;
    if (!nv_tl_record_get(rec, len, &tseq, &t) || tseq == 0 || !kind_ok(t.kind)) {
        r->info->damaged++; /* intact on the medium, but not a trend record */
        return 0;
    }
    if (r->floor && tl_seq_after(r->floor, tseq)) {
        r->info->dropped++; /* before a purge the ring never saw */
        return 0;
    }
    restore_put(r, tseq, &t);
    map_add(&r->map, tseq, ring);
    r->info->records++;
    r->ring_last = tseq;
    return 0;
}

int nv_tl_restore(nv_tl_t *t, unsigned log, tl_log_t *l, const nv_tl_state_t *ck,
                  nv_tl_restore_info_t *info)
{
    nv_tl_restore_info_t dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    if (!t || !t->s || !l || log >= t->s->layout.logs || log >= TL_COUNT)
        return NV_EARG;
    restore_t r = {.l = l, .floor = ck ? ck->oldest : 0, .info = info};
    tl_store_t st = nv_tl_store(t);
    tl_attach(l, NULL, log, 0); /* rebuilt from the ring, not flushed into it */
    tl_clear(l);
    l->total = 0;
    nv_log_info_t li;
    int rc = nv_log_load(t->s, log, restore_one, &r, &li);
    if (rc != NV_OK) {
        tl_clear(l);
        l->total = 0;
        tl_attach(l, &st, log, 0);
        return rc;
    }
    info->damaged += li.damaged;
    if (ck && ck->total && (l->count == 0 || tl_seq_after(ck->total, l->total))) {
        if (ck->oldest) {
            /* The ring lacks the newest records the checkpoint counted: appends that
             * failed or were cut. Placeholders, then the newest as the checkpoint has it. */
            restore_put(&r, ck->total, &ck->newest);
            info->from_checkpoint = true;
        } else if (l->count == 0) {
            l->total = ck->total;
        } else {
            info->missing += tl_fill(l, ck->total, newest_t(l));
        }
    }
    t->map[log] = r.map;
    tl_attach(l, &st, log, r.ring_last);
    return NV_OK;
}
