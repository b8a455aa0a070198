/*
 * BACnet codec tests: byte-exact vectors (BACNET-NOTES.md and clause 20 boundaries),
 * and for every vector the error paths that the generic runner derives from it:
 * encoding into every smaller buffer (sticky BAC_E_NOSPACE, nothing written past the
 * end), decoding every truncation (BAC_E_TRUNCATED, from exactly-sized heap copies so
 * that ASan sees any over-read), and trailing data left alone.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bacnet/bac.h"

#define WIRE(...)                                                                      \
    .wire = (const uint8_t[]){__VA_ARGS__}, .len = sizeof((const uint8_t[]){__VA_ARGS__})
#define CTX(n) .context = true, .tag = (n)
#define CHECK(name, cond)                                                              \
    do {                                                                               \
        if (!(cond))                                                                   \
            fail_msg("%s: %s (line %d)", (name), #cond, __LINE__);                     \
    } while (0)
#define CHECK_RC(name, got, want)                                                      \
    do {                                                                               \
        int got_ = (got), want_ = (want);                                              \
        if (got_ != want_)                                                             \
            fail_msg("%s: %s = %d (%s), want %d (%s) (line %d)", (name), #got, got_,   \
                     bac_err_str(got_), want_, bac_err_str(want_), __LINE__);          \
    } while (0)

/* The result of a sequence of calls, as a single call would return it. */
static int result(const bac_buf_t *b)
{
    return bac_err(b) ? bac_err(b) : (int)bac_pos(b);
}

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* ---- the generic vector runner ---------------------------------------------------- */

typedef int (*codec_fn)(bac_buf_t *b, const void *arg);

#define CANARY 0xA5u
#define SLACK 16u

static void check_encode(const char *name, const uint8_t *wire, size_t len, codec_fn enc,
                         const void *arg, bool atomic)
{
    uint8_t *out = malloc(len + SLACK);
    assert_non_null(out);
    for (size_t cap = 0; cap <= len + 1; cap++) {
        bac_buf_t b;
        int rc;

        memset(out, CANARY, len + SLACK);
        bac_buf_writer(&b, out, cap);
        rc = enc(&b, arg);
        if (cap >= len) {
            CHECK_RC(name, rc, (int)len);
            CHECK(name, bac_err(&b) == BAC_OK && bac_pos(&b) == len);
            CHECK(name, memcmp(out, wire, len) == 0);
            for (size_t i = len; i < len + SLACK; i++)
                CHECK(name, out[i] == CANARY);
            continue;
        }
        CHECK_RC(name, rc, BAC_E_NOSPACE);
        CHECK_RC(name, bac_err(&b), BAC_E_NOSPACE);
        CHECK(name, bac_pos(&b) <= cap);
        if (atomic)
            CHECK(name, bac_pos(&b) == 0);
        for (size_t i = cap; i < len + SLACK; i++)
            CHECK(name, out[i] == CANARY);
        /* Sticky: even a write that would fit is refused now. */
        {
            const size_t pos = bac_pos(&b);
            CHECK_RC(name, bac_put_bytes(&b, out, 0), BAC_E_NOSPACE);
            CHECK_RC(name, enc(&b, arg), BAC_E_NOSPACE);
            CHECK(name, bac_pos(&b) == pos);
        }
    }
    free(out);
}

static void check_decode(const char *name, const uint8_t *wire, size_t len, codec_fn dec,
                         const void *arg, bool atomic)
{
    for (size_t n = 0; n <= len; n++) {
        uint8_t *in = copy_of(wire, n);
        bac_buf_t b;
        int rc;

        bac_buf_reader(&b, in, n);
        rc = dec(&b, arg);
        if (n == len) {
            CHECK_RC(name, rc, (int)len);
            CHECK(name, bac_done(&b));
        } else {
            CHECK_RC(name, rc, BAC_E_TRUNCATED);
            CHECK_RC(name, bac_err(&b), BAC_E_TRUNCATED);
            CHECK(name, bac_pos(&b) <= n);
            if (atomic)
                CHECK(name, bac_pos(&b) == 0);
            /* Sticky: even a read that would succeed is refused now. */
            {
                const size_t pos = bac_pos(&b);
                uint8_t x;
                CHECK_RC(name, bac_get_bytes(&b, &x, 0), BAC_E_TRUNCATED);
                CHECK(name, bac_pos(&b) == pos);
            }
        }
        free(in);
    }
    /* Whatever follows the element is the next element's business. */
    {
        uint8_t *in = malloc(len + 1);
        bac_buf_t b;

        assert_non_null(in);
        memcpy(in, wire, len);
        in[len] = 0x21;
        bac_buf_reader(&b, in, len + 1);
        CHECK_RC(name, dec(&b, arg), (int)len);
        CHECK(name, bac_pos(&b) == len && bac_left(&b) == 1);
        free(in);
    }
}

static void run_vector(const char *name, const uint8_t *wire, size_t len, codec_fn enc,
                       codec_fn dec, const void *arg, bool atomic)
{
    if (enc)
        check_encode(name, wire, len, enc, arg, atomic);
    if (dec)
        check_decode(name, wire, len, dec, arg, atomic);
}

/* ---- primitive values ------------------------------------------------------------- */

enum { K_NULL, K_BOOL, K_UNSIGNED, K_SIGNED, K_REAL, K_DOUBLE, K_OCTETS, K_CHARS, K_BITS,
       K_ENUM, K_DATE, K_TIME, K_OID };

typedef struct {
    const char *name;
    int kind;
    bool context; /* else application tag */
    uint8_t tag;
    bool enc_only, dec_only;
    union {
        bool b;
        uint32_t u;
        int32_t i;
        float f;
        double d;
        struct {
            const char *p;
            size_t n;
        } s;
        bac_bits_t bits;
        bac_date_t date;
        bac_time_t time;
        bac_oid_t oid;
    } v;
    const uint8_t *wire;
    size_t len;
} prim_t;

static const prim_t prims[] = {
    /* Null, Boolean */
    {"null", K_NULL, WIRE(0x00)},
    {"ctx null [3]", K_NULL, CTX(3), WIRE(0x38)},
    {"bool false", K_BOOL, .v.b = false, WIRE(0x10)},
    {"bool true", K_BOOL, .v.b = true, WIRE(0x11)},
    {"ctx bool [0] true", K_BOOL, CTX(0), .v.b = true, WIRE(0x09, 0x01)},
    {"ctx bool [1] false", K_BOOL, CTX(1), .v.b = false, WIRE(0x19, 0x00)},
    /* Unsigned: minimal octets at every boundary */
    {"unsigned 0", K_UNSIGNED, .v.u = 0, WIRE(0x21, 0x00)},
    {"unsigned 113 (Object_List size)", K_UNSIGNED, .v.u = 113, WIRE(0x21, 0x71)},
    {"unsigned 255", K_UNSIGNED, .v.u = 255, WIRE(0x21, 0xFF)},
    {"unsigned 256", K_UNSIGNED, .v.u = 256, WIRE(0x22, 0x01, 0x00)},
    {"unsigned 480", K_UNSIGNED, .v.u = 480, WIRE(0x22, 0x01, 0xE0)},
    {"unsigned 65535", K_UNSIGNED, .v.u = 65535, WIRE(0x22, 0xFF, 0xFF)},
    {"unsigned 65536", K_UNSIGNED, .v.u = 65536, WIRE(0x23, 0x01, 0x00, 0x00)},
    {"unsigned 2^24-1", K_UNSIGNED, .v.u = 0xFFFFFF, WIRE(0x23, 0xFF, 0xFF, 0xFF)},
    {"unsigned 2^24", K_UNSIGNED, .v.u = 0x1000000, WIRE(0x24, 0x01, 0x00, 0x00, 0x00)},
    {"unsigned 2^32-1", K_UNSIGNED, .v.u = 0xFFFFFFFF, WIRE(0x24, 0xFF, 0xFF, 0xFF, 0xFF)},
    {"unsigned non-minimal 00 05", K_UNSIGNED, .dec_only = true, .v.u = 5,
     WIRE(0x22, 0x00, 0x05)},
    {"ctx unsigned [2] 0", K_UNSIGNED, CTX(2), .v.u = 0, WIRE(0x29, 0x00)},
    {"ctx unsigned [2] 0x1234", K_UNSIGNED, CTX(2), .v.u = 0x1234, WIRE(0x2A, 0x12, 0x34)},
    /* Signed: two's complement, minimal, at every boundary */
    {"signed 0", K_SIGNED, .v.i = 0, WIRE(0x31, 0x00)},
    {"signed 127", K_SIGNED, .v.i = 127, WIRE(0x31, 0x7F)},
    {"signed 128", K_SIGNED, .v.i = 128, WIRE(0x32, 0x00, 0x80)},
    {"signed -1", K_SIGNED, .v.i = -1, WIRE(0x31, 0xFF)},
    {"signed -128", K_SIGNED, .v.i = -128, WIRE(0x31, 0x80)},
    {"signed -129", K_SIGNED, .v.i = -129, WIRE(0x32, 0xFF, 0x7F)},
    {"signed 32767", K_SIGNED, .v.i = 32767, WIRE(0x32, 0x7F, 0xFF)},
    {"signed 32768", K_SIGNED, .v.i = 32768, WIRE(0x33, 0x00, 0x80, 0x00)},
    {"signed -32768", K_SIGNED, .v.i = -32768, WIRE(0x32, 0x80, 0x00)},
    {"signed -32769", K_SIGNED, .v.i = -32769, WIRE(0x33, 0xFF, 0x7F, 0xFF)},
    {"signed 8388607", K_SIGNED, .v.i = 8388607, WIRE(0x33, 0x7F, 0xFF, 0xFF)},
    {"signed 8388608", K_SIGNED, .v.i = 8388608, WIRE(0x34, 0x00, 0x80, 0x00, 0x00)},
    {"signed -8388608", K_SIGNED, .v.i = -8388608, WIRE(0x33, 0x80, 0x00, 0x00)},
    {"signed -8388609", K_SIGNED, .v.i = -8388609, WIRE(0x34, 0xFF, 0x7F, 0xFF, 0xFF)},
    {"signed INT32_MAX", K_SIGNED, .v.i = INT32_MAX, WIRE(0x34, 0x7F, 0xFF, 0xFF, 0xFF)},
    {"signed INT32_MIN", K_SIGNED, .v.i = INT32_MIN, WIRE(0x34, 0x80, 0x00, 0x00, 0x00)},
    {"ctx signed [1] -2 (ReadRange count)", K_SIGNED, CTX(1), .v.i = -2, WIRE(0x19, 0xFE)},
    /* REAL, Double */
    {"real 230.0", K_REAL, .v.f = 230.0f, WIRE(0x44, 0x43, 0x66, 0x00, 0x00)},
    {"real QNAN", K_REAL, .v.f = NAN, WIRE(0x44, 0x7F, 0xC0, 0x00, 0x00)},
    {"real -NAN is the canonical QNAN", K_REAL, .enc_only = true, .v.f = -NAN,
     WIRE(0x44, 0x7F, 0xC0, 0x00, 0x00)},
    {"real 0.0", K_REAL, .v.f = 0.0f, WIRE(0x44, 0x00, 0x00, 0x00, 0x00)},
    {"real -0.0", K_REAL, .v.f = -0.0f, WIRE(0x44, 0x80, 0x00, 0x00, 0x00)},
    {"real +inf", K_REAL, .v.f = INFINITY, WIRE(0x44, 0x7F, 0x80, 0x00, 0x00)},
    {"real -1.5", K_REAL, .v.f = -1.5f, WIRE(0x44, 0xBF, 0xC0, 0x00, 0x00)},
    {"ctx real [2] 1.0 (log datum)", K_REAL, CTX(2), .v.f = 1.0f,
     WIRE(0x2C, 0x3F, 0x80, 0x00, 0x00)},
    {"double 1.0", K_DOUBLE, .v.d = 1.0,
     WIRE(0x55, 0x08, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)},
    {"double QNAN", K_DOUBLE, .v.d = NAN,
     WIRE(0x55, 0x08, 0x7F, 0xF8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)},
    {"ctx double [1] -2.0", K_DOUBLE, CTX(1), .v.d = -2.0,
     WIRE(0x1D, 0x08, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)},
    /* Octet String, Character String */
    {"octets empty", K_OCTETS, .v.s = {"", 0}, WIRE(0x60)},
    {"octets 01 02", K_OCTETS, .v.s = {"\x01\x02", 2}, WIRE(0x62, 0x01, 0x02)},
    {"octets 6 (extended length)", K_OCTETS, .v.s = {"\xC0\xA8\x01\x02\xBA\xC0", 6},
     WIRE(0x65, 0x06, 0xC0, 0xA8, 0x01, 0x02, 0xBA, 0xC0)},
    {"ctx octets [0] 4", K_OCTETS, CTX(0), .v.s = {"\xDE\xAD\xBE\xEF", 4},
     WIRE(0x0C, 0xDE, 0xAD, 0xBE, 0xEF)},
    {"charstring abc", K_CHARS, .v.s = {"abc", 3}, WIRE(0x74, 0x00, 0x61, 0x62, 0x63)},
    {"charstring 4 chars (ext length)", K_CHARS, .v.s = {"abcd", 4},
     WIRE(0x75, 0x05, 0x00, 0x61, 0x62, 0x63, 0x64)},
    {"charstring empty", K_CHARS, .v.s = {"", 0}, WIRE(0x71, 0x00)},
    {"ctx charstring [3] S4100 (Who-Has name)", K_CHARS, CTX(3), .v.s = {"S4100", 5},
     WIRE(0x3D, 0x06, 0x00, 0x53, 0x34, 0x31, 0x30, 0x30)},
    /* Bit String */
    {"bits Status_Flags all false", K_BITS, .v.bits = {4, {0x00}}, WIRE(0x82, 0x04, 0x00)},
    {"bits Status_Flags fault", K_BITS, .v.bits = {4, {0x40}}, WIRE(0x82, 0x04, 0x40)},
    {"bits Protocol_Object_Types_Supported", K_BITS, .v.bits = {25, {0xB0, 0x80, 0x08, 0x00}},
     WIRE(0x85, 0x05, 0x07, 0xB0, 0x80, 0x08, 0x00)},
    {"bits Protocol_Services_Supported rev 4", K_BITS,
     .v.bits = {40, {0x00, 0x0B, 0x48, 0x30, 0xF0}},
     WIRE(0x85, 0x06, 0x00, 0x00, 0x0B, 0x48, 0x30, 0xF0)},
    {"bits empty", K_BITS, .v.bits = {0, {0}}, WIRE(0x81, 0x00)},
    {"bits 8", K_BITS, .v.bits = {8, {0xA5}}, WIRE(0x82, 0x00, 0xA5)},
    {"ctx bits [2] log status flags", K_BITS, CTX(2), .v.bits = {4, {0x00}},
     WIRE(0x2A, 0x04, 0x00)},
    /* Enumerated */
    {"enum 0", K_ENUM, .v.u = 0, WIRE(0x91, 0x00)},
    {"enum 31 (UNKNOWN_OBJECT)", K_ENUM, .v.u = 31, WIRE(0x91, 0x1F)},
    {"enum 256", K_ENUM, .v.u = 256, WIRE(0x92, 0x01, 0x00)},
    {"ctx enum [1] Object_List", K_ENUM, CTX(1), .v.u = BAC_PROP_OBJECT_LIST, WIRE(0x19, 0x4C)},
    {"ctx enum [1] Property_List", K_ENUM, CTX(1), .v.u = BAC_PROP_PROPERTY_LIST,
     WIRE(0x1A, 0x01, 0x73)},
    /* Date, Time */
    {"date 2000-01-01 Saturday", K_DATE, .v.date = {100, 1, 1, 6},
     WIRE(0xA4, 0x64, 0x01, 0x01, 0x06)},
    {"date any", K_DATE, .v.date = {BAC_ANY, BAC_ANY, BAC_ANY, BAC_ANY},
     WIRE(0xA4, 0xFF, 0xFF, 0xFF, 0xFF)},
    {"ctx date [0]", K_DATE, CTX(0), .v.date = {124, 2, 29, 4},
     WIRE(0x0C, 0x7C, 0x02, 0x1D, 0x04)},
    {"time 12:34:56.78", K_TIME, .v.time = {12, 34, 56, 78},
     WIRE(0xB4, 0x0C, 0x22, 0x38, 0x4E)},
    {"time any hundredths", K_TIME, .v.time = {23, 59, 59, BAC_ANY},
     WIRE(0xB4, 0x17, 0x3B, 0x3B, 0xFF)},
    {"ctx time [1]", K_TIME, CTX(1), .v.time = {0, 0, 0, 0}, WIRE(0x1C, 0x00, 0x00, 0x00, 0x00)},
    /* BACnetObjectIdentifier */
    {"oid Device 1234", K_OID, .v.oid = {BAC_OBJ_DEVICE, 1234},
     WIRE(0xC4, 0x02, 0x00, 0x04, 0xD2)},
    {"oid AI 1", K_OID, .v.oid = {BAC_OBJ_ANALOG_INPUT, 1}, WIRE(0xC4, 0x00, 0x00, 0x00, 0x01)},
    {"oid Trend Log 3", K_OID, .v.oid = {BAC_OBJ_TREND_LOG, 3},
     WIRE(0xC4, 0x05, 0x00, 0x00, 0x03)},
    {"oid max type and instance", K_OID, .v.oid = {1023, 4194303},
     WIRE(0xC4, 0xFF, 0xFF, 0xFF, 0xFF)},
    {"ctx oid [0] Device 1234", K_OID, CTX(0), .v.oid = {BAC_OBJ_DEVICE, 1234},
     WIRE(0x0C, 0x02, 0x00, 0x04, 0xD2)},
    {"oid with a non-minimal extended length", K_OID, .dec_only = true,
     .v.oid = {BAC_OBJ_DEVICE, 1234}, WIRE(0xC5, 0x04, 0x02, 0x00, 0x04, 0xD2)},
    /* Extended tag numbers: 14 is the last in the first octet */
    {"ctx [14]", K_UNSIGNED, CTX(14), .v.u = 1, WIRE(0xE9, 0x01)},
    {"ctx [15] extended", K_UNSIGNED, CTX(15), .v.u = 1, WIRE(0xF9, 0x0F, 0x01)},
    {"ctx [254] extended", K_UNSIGNED, CTX(254), .v.u = 1, WIRE(0xF9, 0xFE, 0x01)},
    {"ctx [15] bool", K_BOOL, CTX(15), .v.b = true, WIRE(0xF9, 0x0F, 0x01)},
    {"ctx [20] real: extended number and length", K_REAL, CTX(20), .v.f = 230.0f,
     WIRE(0xFC, 0x14, 0x43, 0x66, 0x00, 0x00)},
    {"ctx [200] charstring: extended number and length", K_CHARS, CTX(200), .v.s = {"abcd", 4},
     WIRE(0xFD, 0xC8, 0x05, 0x00, 0x61, 0x62, 0x63, 0x64)},
    {"ctx [15] null", K_NULL, CTX(15), WIRE(0xF8, 0x0F)},
};

static bool same_float(float a, float b)
{
    return isnan(a) ? isnan(b) : memcmp(&a, &b, sizeof a) == 0;
}

static bool same_double(double a, double b)
{
    return isnan(a) ? isnan(b) : memcmp(&a, &b, sizeof a) == 0;
}

static int prim_enc(bac_buf_t *b, const void *arg)
{
    const prim_t *p = arg;
    const uint8_t t = p->tag;
    const bool c = p->context;

    switch (p->kind) {
    case K_NULL: return c ? bac_enc_ctx_null(b, t) : bac_enc_null(b);
    case K_BOOL: return c ? bac_enc_ctx_bool(b, t, p->v.b) : bac_enc_bool(b, p->v.b);
    case K_UNSIGNED:
        return c ? bac_enc_ctx_unsigned(b, t, p->v.u) : bac_enc_unsigned(b, p->v.u);
    case K_SIGNED: return c ? bac_enc_ctx_signed(b, t, p->v.i) : bac_enc_signed(b, p->v.i);
    case K_REAL: return c ? bac_enc_ctx_real(b, t, p->v.f) : bac_enc_real(b, p->v.f);
    case K_DOUBLE: return c ? bac_enc_ctx_double(b, t, p->v.d) : bac_enc_double(b, p->v.d);
    case K_OCTETS: {
        const uint8_t *o = (const uint8_t *)p->v.s.p;
        return c ? bac_enc_ctx_octets(b, t, o, p->v.s.n) : bac_enc_octets(b, o, p->v.s.n);
    }
    case K_CHARS:
        return c ? bac_enc_ctx_charstring(b, t, p->v.s.p, p->v.s.n)
                 : bac_enc_charstring(b, p->v.s.p, p->v.s.n);
    case K_BITS: return c ? bac_enc_ctx_bits(b, t, &p->v.bits) : bac_enc_bits(b, &p->v.bits);
    case K_ENUM: return c ? bac_enc_ctx_enum(b, t, p->v.u) : bac_enc_enum(b, p->v.u);
    case K_DATE: return c ? bac_enc_ctx_date(b, t, p->v.date) : bac_enc_date(b, p->v.date);
    case K_TIME: return c ? bac_enc_ctx_time(b, t, p->v.time) : bac_enc_time(b, p->v.time);
    case K_OID: return c ? bac_enc_ctx_oid(b, t, p->v.oid) : bac_enc_oid(b, p->v.oid);
    default: fail();
    }
    return 0;
}

/* Decodes into outputs preset to a sentinel; checks the value on success and that
 * the outputs were left alone on failure. */
static int prim_dec(bac_buf_t *b, const void *arg)
{
    const prim_t *p = arg;
    const uint8_t t = p->tag;
    const bool c = p->context;
    int rc;

    switch (p->kind) {
    case K_NULL: return c ? bac_dec_ctx_null(b, t) : bac_dec_null(b);
    case K_BOOL: {
        bool v = !p->v.b;
        rc = c ? bac_dec_ctx_bool(b, t, &v) : bac_dec_bool(b, &v);
        CHECK(p->name, rc < 0 ? v == !p->v.b : v == p->v.b);
        return rc;
    }
    case K_UNSIGNED:
    case K_ENUM: {
        uint32_t v = 0xDEADBEEF;
        if (p->kind == K_UNSIGNED)
            rc = c ? bac_dec_ctx_unsigned(b, t, &v) : bac_dec_unsigned(b, &v);
        else
            rc = c ? bac_dec_ctx_enum(b, t, &v) : bac_dec_enum(b, &v);
        CHECK(p->name, rc < 0 ? v == 0xDEADBEEF : v == p->v.u);
        return rc;
    }
    case K_SIGNED: {
        int32_t v = 0x5A5A5A5A;
        rc = c ? bac_dec_ctx_signed(b, t, &v) : bac_dec_signed(b, &v);
        CHECK(p->name, rc < 0 ? v == 0x5A5A5A5A : v == p->v.i);
        return rc;
    }
    case K_REAL: {
        float v = 12345.0f;
        rc = c ? bac_dec_ctx_real(b, t, &v) : bac_dec_real(b, &v);
        CHECK(p->name, rc < 0 ? v == 12345.0f : same_float(v, p->v.f));
        return rc;
    }
    case K_DOUBLE: {
        double v = 12345.0;
        rc = c ? bac_dec_ctx_double(b, t, &v) : bac_dec_double(b, &v);
        CHECK(p->name, rc < 0 ? v == 12345.0 : same_double(v, p->v.d));
        return rc;
    }
    case K_OCTETS: {
        bac_octets_t v = {NULL, 999};
        rc = c ? bac_dec_ctx_octets(b, t, &v) : bac_dec_octets(b, &v);
        if (rc < 0) {
            CHECK(p->name, v.data == NULL && v.len == 999);
        } else {
            CHECK(p->name, v.len == p->v.s.n && memcmp(v.data, p->v.s.p, v.len) == 0);
            /* A view into the input, not a copy. */
            CHECK(p->name, v.data == b->rd + bac_pos(b) - v.len);
        }
        return rc;
    }
    case K_CHARS: {
        bac_str_t v = {NULL, 999, 99};
        rc = c ? bac_dec_ctx_charstring(b, t, &v) : bac_dec_charstring(b, &v);
        if (rc < 0)
            CHECK(p->name, v.data == NULL && v.len == 999);
        else
            CHECK(p->name, v.charset == 0 && v.len == p->v.s.n &&
                               memcmp(v.data, p->v.s.p, v.len) == 0);
        return rc;
    }
    case K_BITS: {
        bac_bits_t v;
        memset(&v, 0xEE, sizeof v);
        rc = c ? bac_dec_ctx_bits(b, t, &v) : bac_dec_bits(b, &v);
        if (rc < 0)
            CHECK(p->name, v.nbits == 0xEEEE);
        else
            CHECK(p->name, v.nbits == p->v.bits.nbits &&
                               memcmp(v.data, p->v.bits.data, sizeof v.data) == 0);
        return rc;
    }
    case K_DATE: {
        bac_date_t v = {1, 2, 3, 4};
        rc = c ? bac_dec_ctx_date(b, t, &v) : bac_dec_date(b, &v);
        if (rc < 0)
            CHECK(p->name, v.year == 1 && v.month == 2 && v.day == 3 && v.wday == 4);
        else
            CHECK(p->name, memcmp(&v, &p->v.date, sizeof v) == 0);
        return rc;
    }
    case K_TIME: {
        bac_time_t v = {1, 2, 3, 4};
        rc = c ? bac_dec_ctx_time(b, t, &v) : bac_dec_time(b, &v);
        if (rc < 0)
            CHECK(p->name, v.hour == 1 && v.min == 2 && v.sec == 3 && v.hundredths == 4);
        else
            CHECK(p->name, memcmp(&v, &p->v.time, sizeof v) == 0);
        return rc;
    }
    case K_OID: {
        bac_oid_t v = {77, 77};
        rc = c ? bac_dec_ctx_oid(b, t, &v) : bac_dec_oid(b, &v);
        if (rc < 0)
            CHECK(p->name, v.type == 77 && v.instance == 77);
        else
            CHECK(p->name, v.type == p->v.oid.type && v.instance == p->v.oid.instance);
        return rc;
    }
    default: fail();
    }
    return 0;
}

static void test_primitive_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
        const prim_t *p = &prims[i];
        run_vector(p->name, p->wire, p->len, p->dec_only ? NULL : prim_enc,
                   p->enc_only ? NULL : prim_dec, p, true);
    }
}

/* Every decoder refuses every other type's vectors with BAC_E_TAG (same class), or a
 * context vector with another tag number, without moving or touching its output. */
static void test_wrong_tag_matrix(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
        for (size_t j = 0; j < sizeof prims / sizeof prims[0]; j++) {
            const prim_t *data = &prims[i];
            prim_t as = prims[j];
            bac_buf_t b;
            int rc;

            if (data->enc_only || as.enc_only)
                continue;
            /* Same class and tag: the right decoder, or a context tag whose type only
             * the service knows; those may fail otherwise or not at all. */
            if (data->context == as.context &&
                (data->context ? data->tag == as.tag : data->kind == as.kind))
                continue;
            as.name = data->name;
            bac_buf_reader(&b, data->wire, data->len);
            rc = prim_dec(&b, &as);
            CHECK_RC(data->name, rc, BAC_E_TAG);
            CHECK(data->name, bac_pos(&b) == 0);
        }
    }
}

/* The same value encoded and decoded through every context tag number, and a spread
 * of Unsigned, Signed, REAL values. */
static void test_round_trips(void **state)
{
    uint8_t buf[64];
    (void)state;

    for (unsigned tag = 0; tag <= BAC_TAG_NUMBER_MAX; tag++) {
        bac_buf_t b;
        uint32_t u = 0;
        bac_tag_t t;
        bac_buf_writer(&b, buf, sizeof buf);
        assert_int_equal(bac_enc_ctx_unsigned(&b, (uint8_t)tag, 0x010203), tag < 15 ? 4 : 5);
        assert_int_equal(bac_enc_opening(&b, (uint8_t)tag), tag < 15 ? 1 : 2);
        assert_int_equal(bac_enc_closing(&b, (uint8_t)tag), tag < 15 ? 1 : 2);
        bac_buf_reader(&b, buf, bac_pos(&b));
        assert_int_equal(bac_peek_tag(&b, &t), tag < 15 ? 1 : 2);
        assert_true(t.context && t.number == tag && t.kind == BAC_TAG_PRIMITIVE && t.lvt == 3);
        assert_true(bac_is_context(&b, (uint8_t)tag));
        assert_true(bac_dec_ctx_unsigned(&b, (uint8_t)tag, &u) > 0 && u == 0x010203);
        assert_true(bac_is_opening(&b, (uint8_t)tag));
        assert_true(bac_dec_opening(&b, (uint8_t)tag) > 0);
        assert_true(bac_is_closing(&b, (uint8_t)tag));
        assert_true(bac_dec_closing(&b, (uint8_t)tag) > 0);
        assert_true(bac_done(&b));
    }
    /* Values around every power of two. */
    for (unsigned bit = 0; bit < 32; bit++) {
        const uint32_t base = (uint32_t)1 << bit;
        const uint32_t us[] = {base - 1, base, base + 1};
        for (size_t k = 0; k < 3; k++) {
            bac_buf_t b;
            uint32_t u = 0, e = 0;
            int32_t s = 0, ns = 0;
            const int32_t sv = (int32_t)(us[k] & 0x7FFFFFFF);
            bac_buf_writer(&b, buf, sizeof buf);
            bac_enc_unsigned(&b, us[k]);
            bac_enc_ctx_enum(&b, 9, us[k]);
            bac_enc_signed(&b, sv);
            bac_enc_ctx_signed(&b, 200, -sv - 1);
            assert_int_equal(bac_err(&b), BAC_OK);
            bac_buf_reader(&b, buf, bac_pos(&b));
            bac_dec_unsigned(&b, &u);
            bac_dec_ctx_enum(&b, 9, &e);
            bac_dec_signed(&b, &s);
            bac_dec_ctx_signed(&b, 200, &ns);
            assert_true(bac_done(&b));
            assert_true(u == us[k] && e == us[k] && s == sv && ns == -sv - 1);
        }
    }
    for (int i = -1000; i <= 1000; i++) {
        bac_buf_t b;
        float f = 0;
        double d = 0;
        const float fv = (float)i * 0.37f;
        bac_buf_writer(&b, buf, sizeof buf);
        bac_enc_real(&b, fv);
        bac_enc_double(&b, (double)i * 1e-3);
        bac_buf_reader(&b, buf, bac_pos(&b));
        bac_dec_real(&b, &f);
        bac_dec_double(&b, &d);
        assert_true(bac_done(&b));
        assert_true(f == fv && d == (double)i * 1e-3);
    }
}

static void test_signaling_nan_is_canonical(void **state)
{
    const uint32_t snan_bits = 0xFF800001u; /* negative, signaling, payload 1 */
    float snan;
    uint8_t buf[8];
    bac_buf_t b;
    (void)state;

    memcpy(&snan, &snan_bits, sizeof snan);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_real(&b, snan), 5);
    assert_memory_equal(buf, ((const uint8_t[]){0x44, 0x7F, 0xC0, 0x00, 0x00}), 5);

    /* A Double's NaN is found from its bits (no double arithmetic on the target): any
     * NaN is the canonical quiet one, an infinity stays itself. */
    static const struct {
        uint64_t in, out;
    } d[] = {
        {0xFFF0000000000001u, 0x7FF8000000000000u}, /* negative, signaling, payload 1 */
        {0x7FF0000000000001u, 0x7FF8000000000000u},
        {0x7FFFFFFFFFFFFFFFu, 0x7FF8000000000000u},
        {0x7FF0000000000000u, 0x7FF0000000000000u}, /* +infinity */
        {0xFFF0000000000000u, 0xFFF0000000000000u}, /* -infinity */
    };
    uint8_t wire[10];
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
        double v;
        memcpy(&v, &d[k].in, sizeof v);
        bac_buf_writer(&b, wire, sizeof wire);
        assert_int_equal(bac_enc_double(&b, v), 10);
        assert_int_equal(wire[0], 0x55);
        assert_int_equal(wire[1], 0x08);
        for (int i = 0; i < 8; i++)
            assert_int_equal(wire[2 + i], (uint8_t)(d[k].out >> (56 - 8 * i)));
    }
}

/* ---- extended lengths at each boundary -------------------------------------------- */

static void test_extended_lengths(void **state)
{
    static const struct {
        uint32_t n;
        uint8_t hdr[6];
        uint8_t nh;
    } cases[] = {
        {0, {0x60}, 1},
        {4, {0x64}, 1},
        {5, {0x65, 0x05}, 2},
        {253, {0x65, 0xFD}, 2},
        {254, {0x65, 0xFE, 0x00, 0xFE}, 4},
        {255, {0x65, 0xFE, 0x00, 0xFF}, 4},
        {65535, {0x65, 0xFE, 0xFF, 0xFF}, 4},
        {65536, {0x65, 0xFF, 0x00, 0x01, 0x00, 0x00}, 6},
        {70000, {0x65, 0xFF, 0x00, 0x01, 0x11, 0x70}, 6},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const size_t n = cases[i].n, nh = cases[i].nh, total = nh + n;
        uint8_t *data = malloc(n + 1), *out = malloc(total + SLACK), *in;
        bac_buf_t b;
        bac_octets_t v;
        bac_tag_t t;

        assert_non_null(data);
        assert_non_null(out);
        for (size_t k = 0; k < n; k++)
            data[k] = (uint8_t)(k * 7);
        /* exact fit */
        memset(out, CANARY, total + SLACK);
        bac_buf_writer(&b, out, total);
        assert_int_equal(bac_enc_octets(&b, data, n), (int)total);
        assert_memory_equal(out, cases[i].hdr, nh);
        assert_true(n == 0 || memcmp(out + nh, data, n) == 0);
        assert_int_equal(out[total], CANARY);
        /* the bare header through bac_enc_tag is the same */
        {
            uint8_t h[8];
            bac_buf_t hb;
            bac_buf_writer(&hb, h, sizeof h);
            assert_int_equal(bac_enc_tag(&hb, false, BAC_APP_OCTET_STRING, (uint32_t)n),
                             (int)nh);
            assert_memory_equal(h, cases[i].hdr, nh);
        }
        /* one short: nothing written at all, and not past the end */
        if (total > 0) {
            memset(out, CANARY, total + SLACK);
            bac_buf_writer(&b, out, total - 1);
            assert_int_equal(bac_enc_octets(&b, data, n), BAC_E_NOSPACE);
            assert_int_equal(bac_pos(&b), 0);
            for (size_t k = 0; k < total + SLACK; k++)
                assert_int_equal(out[k], CANARY);
        }
        /* decode from an exactly-sized copy */
        bac_buf_writer(&b, out, total);
        bac_enc_octets(&b, data, n);
        in = copy_of(out, total);
        bac_buf_reader(&b, in, total);
        assert_int_equal(bac_peek_tag(&b, &t), (int)nh);
        assert_true(!t.context && t.number == BAC_APP_OCTET_STRING && t.lvt == n);
        assert_int_equal(bac_dec_octets(&b, &v), (int)total);
        assert_true(v.len == n && v.data == in + nh);
        free(in);
        /* truncated in the header, at the end of the header, and in the content */
        {
            const size_t cuts[] = {nh - 1, nh, total - 1};
            for (size_t k = 0; k < 3; k++) {
                if (cuts[k] >= total || (k > 0 && cuts[k] == cuts[k - 1]))
                    continue;
                in = copy_of(out, cuts[k]);
                bac_buf_reader(&b, in, cuts[k]);
                assert_int_equal(bac_dec_octets(&b, &v), BAC_E_TRUNCATED);
                assert_int_equal(bac_pos(&b), 0);
                bac_buf_reader(&b, in, cuts[k]);
                assert_int_equal(bac_skip_element(&b), BAC_E_TRUNCATED);
                free(in);
            }
        }
        /* and skip_element steps over exactly the whole element */
        in = copy_of(out, total);
        bac_buf_reader(&b, in, total);
        assert_int_equal(bac_skip_element(&b), (int)total);
        assert_true(bac_done(&b));
        free(in);
        free(data);
        free(out);
    }
}

/* A wire length that claims more than any input holds. */
static void test_lengths_from_the_wire_are_not_trusted(void **state)
{
    static const struct {
        const char *name;
        uint8_t in[8];
        size_t n;
    } cases[] = {
        {"4G octet string", {0x65, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00}, 8},
        {"64K octet string", {0x65, 0xFE, 0xFF, 0xFF, 0x01}, 5},
        {"253 octet string", {0x65, 0xFD, 0x01, 0x02}, 4},
        {"4G context", {0x0D, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x01}, 7},
        {"ext length missing", {0x65}, 1},
        {"2-octet length cut", {0x65, 0xFE, 0x01}, 3},
        {"4-octet length cut", {0x65, 0xFF, 0x00, 0x00, 0x01}, 5},
        {"ext tag number missing", {0xF9}, 1},
        {"ext tag number and ext length cut", {0xFD, 0x20}, 2},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *in = copy_of(cases[i].in, cases[i].n);
        bac_buf_t b;
        bac_octets_t v;
        bac_tag_t t;

        bac_buf_reader(&b, in, cases[i].n);
        CHECK_RC(cases[i].name, bac_skip_element(&b), BAC_E_TRUNCATED);
        bac_buf_reader(&b, in, cases[i].n);
        if (cases[i].in[0] == 0x65) {
            CHECK_RC(cases[i].name, bac_dec_octets(&b, &v), BAC_E_TRUNCATED);
        } else {
            /* the header itself may parse; the content is what is missing */
            const int h = bac_peek_tag(&b, &t);
            CHECK(cases[i].name, h == BAC_E_TRUNCATED ||
                                     (h > 0 && t.lvt > cases[i].n - (size_t)h));
        }
        CHECK(cases[i].name, bac_pos(&b) == 0);
        free(in);
    }
}

/* ---- decoder error paths ---------------------------------------------------------- */

typedef struct {
    const char *name;
    int kind;
    bool context;
    uint8_t tag;
    int want;
    const uint8_t *wire;
    size_t len;
} bad_t;

static const bad_t bads[] = {
    /* lengths not legal for the type */
    {"null with content", K_NULL, .want = BAC_E_LENGTH, WIRE(0x01, 0x00)},
    {"ctx null with content", K_NULL, CTX(0), .want = BAC_E_LENGTH, WIRE(0x09, 0x00)},
    {"unsigned of 0 octets", K_UNSIGNED, .want = BAC_E_LENGTH, WIRE(0x20)},
    {"unsigned of 5 octets", K_UNSIGNED, .want = BAC_E_RANGE,
     WIRE(0x25, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00)},
    {"unsigned of 5 octets, leading zero", K_UNSIGNED, .want = BAC_E_RANGE,
     WIRE(0x25, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01)},
    {"ctx unsigned of 0 octets", K_UNSIGNED, CTX(2), .want = BAC_E_LENGTH, WIRE(0x28)},
    {"ctx unsigned of 8 octets", K_UNSIGNED, CTX(2), .want = BAC_E_RANGE,
     WIRE(0x2D, 0x08, 0, 0, 0, 0, 0, 0, 0, 1)},
    {"signed of 0 octets", K_SIGNED, .want = BAC_E_LENGTH, WIRE(0x30)},
    {"signed of 5 octets", K_SIGNED, .want = BAC_E_RANGE, WIRE(0x35, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)},
    {"enum of 0 octets", K_ENUM, .want = BAC_E_LENGTH, WIRE(0x90)},
    {"enum of 5 octets", K_ENUM, .want = BAC_E_RANGE, WIRE(0x95, 0x05, 1, 2, 3, 4, 5)},
    {"real of 3", K_REAL, .want = BAC_E_LENGTH, WIRE(0x43, 0x43, 0x66, 0x00)},
    {"real of 5", K_REAL, .want = BAC_E_LENGTH, WIRE(0x45, 0x05, 0x43, 0x66, 0x00, 0x00, 0x00)},
    {"real of 0", K_REAL, .want = BAC_E_LENGTH, WIRE(0x40)},
    {"ctx real of 2", K_REAL, CTX(2), .want = BAC_E_LENGTH, WIRE(0x2A, 0x43, 0x66)},
    {"double of 4", K_DOUBLE, .want = BAC_E_LENGTH, WIRE(0x54, 0x3F, 0xF0, 0x00, 0x00)},
    {"date of 3", K_DATE, .want = BAC_E_LENGTH, WIRE(0xA3, 0x64, 0x01, 0x01)},
    {"date of 5", K_DATE, .want = BAC_E_LENGTH, WIRE(0xA5, 0x05, 0x64, 0x01, 0x01, 0x06, 0x00)},
    {"time of 2", K_TIME, .want = BAC_E_LENGTH, WIRE(0xB2, 0x0C, 0x00)},
    {"oid of 3", K_OID, .want = BAC_E_LENGTH, WIRE(0xC3, 0x02, 0x00, 0x04)},
    {"ctx oid of 5", K_OID, CTX(0), .want = BAC_E_LENGTH, WIRE(0x0D, 0x05, 0x02, 0x00, 0x04, 0xD2, 0x00)},
    {"charstring without charset", K_CHARS, .want = BAC_E_LENGTH, WIRE(0x70)},
    {"bit string without unused-bits octet", K_BITS, .want = BAC_E_LENGTH, WIRE(0x80)},
    {"ctx bool of 0 octets", K_BOOL, CTX(0), .want = BAC_E_LENGTH, WIRE(0x08)},
    {"ctx bool of 2 octets", K_BOOL, CTX(0), .want = BAC_E_LENGTH, WIRE(0x0A, 0x00, 0x01)},
    /* contents never legal */
    {"app bool 2", K_BOOL, .want = BAC_E_VALUE, WIRE(0x12)},
    {"app bool 5 (not an extended length)", K_BOOL, .want = BAC_E_VALUE, WIRE(0x15)},
    {"app bool 7", K_BOOL, .want = BAC_E_VALUE, WIRE(0x17)},
    {"ctx bool 2", K_BOOL, CTX(0), .want = BAC_E_VALUE, WIRE(0x09, 0x02)},
    {"bit string unused 8", K_BITS, .want = BAC_E_VALUE, WIRE(0x82, 0x08, 0x00)},
    {"empty bit string with unused bits", K_BITS, .want = BAC_E_VALUE, WIRE(0x81, 0x03)},
    {"bit string longer than BAC_BITS_MAX", K_BITS, .want = BAC_E_RANGE,
     WIRE(0x85, 0x12, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)},
    /* character sets */
    {"charstring charset 4 (UCS-2)", K_CHARS, .want = BAC_E_CHARSET,
     WIRE(0x75, 0x05, 0x04, 0x00, 0x61, 0x00, 0x62)},
    {"ctx charstring charset 5 (ISO 8859-1)", K_CHARS, CTX(3), .want = BAC_E_CHARSET,
     WIRE(0x3A, 0x05, 0xE9)},
    /* tags */
    {"tag number 255 is reserved", K_UNSIGNED, CTX(254), .want = BAC_E_TAG, WIRE(0xF9, 0xFF, 0x01)},
    {"opening tag for a value", K_UNSIGNED, CTX(0), .want = BAC_E_TAG, WIRE(0x0E, 0x21, 0x01, 0x0F)},
    {"closing tag for a value", K_REAL, CTX(0), .want = BAC_E_TAG, WIRE(0x0F)},
    {"app value for a context tag", K_UNSIGNED, CTX(2), .want = BAC_E_TAG, WIRE(0x21, 0x00)},
    {"context [0] for [1]", K_ENUM, CTX(1), .want = BAC_E_TAG, WIRE(0x09, 0x4C)},
    {"extended [15] for [14]", K_UNSIGNED, CTX(14), .want = BAC_E_TAG, WIRE(0xF9, 0x0F, 0x01)},
    {"context [2] for an application REAL", K_REAL, .want = BAC_E_TAG,
     WIRE(0x2C, 0x43, 0x66, 0x00, 0x00)},
    {"unsigned for an enumerated", K_ENUM, .want = BAC_E_TAG, WIRE(0x21, 0x4C)},
    {"reserved application tag 13", K_NULL, .want = BAC_E_TAG, WIRE(0xD0)},
    {"application LVT 6", K_OCTETS, .want = BAC_E_TAG, WIRE(0x66, 1, 2, 3, 4, 5, 6)},
    {"application LVT 7", K_UNSIGNED, .want = BAC_E_TAG, WIRE(0x27, 1, 2, 3, 4, 5, 6, 7)},
};

static void test_decode_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const bad_t *x = &bads[i];
        prim_t as;
        uint8_t *in = copy_of(x->wire, x->len);
        bac_buf_t b;

        memset(&as, 0, sizeof as);
        as.name = x->name;
        as.kind = x->kind;
        as.context = x->context;
        as.tag = x->tag;
        bac_buf_reader(&b, in, x->len);
        CHECK_RC(x->name, prim_dec(&b, &as), x->want);
        CHECK_RC(x->name, bac_err(&b), x->want);
        CHECK(x->name, bac_pos(&b) == 0);
        /* sticky: the error outlives calls that would have succeeded */
        CHECK_RC(x->name, bac_skip(&b, 0), x->want);
        free(in);
    }
}

static void test_charset_is_reported(void **state)
{
    static const uint8_t in[] = {0x75, 0x05, 0x04, 0x00, 0x61, 0x00, 0x62};
    bac_buf_t b;
    bac_str_t s = {NULL, 0, 0};
    (void)state;

    bac_buf_reader(&b, in, sizeof in);
    assert_int_equal(bac_dec_charstring(&b, &s), BAC_E_CHARSET);
    assert_int_equal(s.charset, 4);
    assert_null(s.data);
}

static void test_encoder_argument_errors(void **state)
{
    uint8_t buf[32];
    bac_buf_t b;
    bac_bits_t bits;
    (void)state;

    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_ctx_unsigned(&b, 255, 1), BAC_E_ARG);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_opening(&b, 255), BAC_E_ARG);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_tag(&b, true, 255, 0), BAC_E_ARG);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_oid(&b, (bac_oid_t){1024, 0}), BAC_E_RANGE);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_ctx_oid(&b, 0, (bac_oid_t){8, BAC_MAX_INSTANCE + 1}), BAC_E_RANGE);
    assert_int_equal(bac_pos(&b), 0);
    bac_bits_init(&bits, 8);
    bits.nbits = BAC_BITS_MAX + 1;
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_bits(&b, &bits), BAC_E_RANGE);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_bits(&b, NULL), BAC_E_ARG);
    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_enc_octets(&b, NULL, 3), BAC_E_ARG);
    /* a decoder on a writer, an encoder on a reader */
    {
        uint32_t u;
        bac_tag_t t;
        bac_buf_writer(&b, buf, sizeof buf);
        assert_int_equal(bac_dec_unsigned(&b, &u), BAC_E_ARG);
        bac_buf_writer(&b, buf, sizeof buf);
        assert_int_equal(bac_peek_tag(&b, &t), BAC_E_ARG);
        assert_int_equal(bac_err(&b), BAC_OK); /* a peek never sets the error */
        assert_int_equal(bac_skip_element(&b), BAC_E_ARG);
        bac_buf_reader(&b, buf, sizeof buf);
        assert_int_equal(bac_enc_null(&b), BAC_E_ARG);
        bac_buf_reader(&b, buf, sizeof buf);
        assert_int_equal(bac_dec_ctx_unsigned(&b, 255, &u), BAC_E_ARG);
    }
    /* unusable buffers make dead cursors */
    bac_buf_writer(&b, NULL, 10);
    assert_int_equal(bac_err(&b), BAC_E_ARG);
    assert_int_equal(bac_put_u8(&b, 1), BAC_E_ARG);
    bac_buf_reader(&b, NULL, 10);
    assert_int_equal(bac_err(&b), BAC_E_ARG);
    assert_int_equal(bac_left(&b), 0);
    bac_buf_reader(&b, NULL, 0);
    assert_int_equal(bac_err(&b), BAC_OK);
    assert_true(bac_done(&b));
    assert_int_equal(bac_dec_null(&b), BAC_E_TRUNCATED);
}

/* ---- the cursor --------------------------------------------------------------------- */

static void test_sticky_nospace_and_rewind(void **state)
{
    uint8_t buf[8];
    bac_buf_t b;
    size_t mark;
    (void)state;

    memset(buf, CANARY, sizeof buf);
    bac_buf_writer(&b, buf, 7);
    assert_int_equal(bac_enc_unsigned(&b, 1), 2);
    mark = bac_pos(&b);
    assert_int_equal(bac_enc_real(&b, 1.0f), 5);
    assert_int_equal(bac_enc_real(&b, 2.0f), BAC_E_NOSPACE); /* 0 left */
    assert_int_equal(bac_pos(&b), 7);
    assert_int_equal(buf[7], CANARY);
    /* fits nowhere now, and the first error stays the error */
    assert_int_equal(bac_enc_null(&b), BAC_E_NOSPACE);
    assert_int_equal(bac_fail(&b, BAC_E_VALUE), BAC_E_NOSPACE);
    /* rewind: the way back for "as many as fit" encoders */
    assert_int_equal(bac_rewind(&b, 8), BAC_E_ARG);
    assert_int_equal(bac_rewind(&b, mark), BAC_OK);
    assert_int_equal(bac_err(&b), BAC_OK);
    assert_int_equal(bac_pos(&b), 2);
    assert_int_equal(bac_enc_enum(&b, 7), 2);
    assert_memory_equal(buf, ((const uint8_t[]){0x21, 0x01, 0x91, 0x07}), 4);
    /* a reader cannot be rewound */
    bac_buf_reader(&b, buf, 4);
    assert_int_equal(bac_rewind(&b, 0), BAC_E_ARG);
}

static void test_raw_octets(void **state)
{
    uint8_t buf[7];
    bac_buf_t b;
    uint8_t u8 = 0, rest[2] = {0};
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    (void)state;

    bac_buf_writer(&b, buf, sizeof buf);
    assert_int_equal(bac_put_u8(&b, 0x81), 1);
    assert_int_equal(bac_put_u16(&b, 0x0A00), 2);
    assert_int_equal(bac_put_u32(&b, 0x11223344), 4);
    assert_int_equal(bac_put_u8(&b, 0), BAC_E_NOSPACE);
    assert_memory_equal(buf, ((const uint8_t[]){0x81, 0x0A, 0x00, 0x11, 0x22, 0x33, 0x44}), 7);
    bac_buf_reader(&b, buf, sizeof buf);
    assert_int_equal(bac_get_u8(&b, &u8), 1);
    assert_int_equal(bac_get_u16(&b, &u16), 2);
    assert_int_equal(bac_get_u32(&b, &u32), 4);
    assert_true(u8 == 0x81 && u16 == 0x0A00 && u32 == 0x11223344);
    assert_true(bac_done(&b));
    bac_buf_reader(&b, buf, 5);
    assert_int_equal(bac_skip(&b, 3), 3);
    assert_int_equal(bac_get_u32(&b, &u32), BAC_E_TRUNCATED);
    assert_int_equal(bac_pos(&b), 3);
    assert_int_equal(bac_get_bytes(&b, rest, 2), BAC_E_TRUNCATED);
    bac_buf_reader(&b, buf, 5);
    assert_int_equal(bac_skip(&b, 6), BAC_E_TRUNCATED);
    assert_int_equal(bac_pos(&b), 0);
}

static void test_peek_and_queries(void **state)
{
    static const uint8_t in[] = {0x3E, 0x21, 0x71, 0x3F, 0x91, 0x03, 0xF9};
    bac_buf_t b;
    bac_tag_t t;
    uint32_t u;
    (void)state;

    bac_buf_reader(&b, in, sizeof in);
    assert_int_equal(bac_peek_tag(&b, &t), 1);
    assert_true(t.context && t.number == 3 && t.kind == BAC_TAG_OPENING && t.lvt == 0);
    assert_int_equal(bac_pos(&b), 0);
    assert_false(bac_is_context(&b, 3));
    assert_false(bac_is_closing(&b, 3));
    assert_false(bac_is_opening(&b, 2));
    assert_true(bac_is_opening(&b, 3));
    assert_int_equal(bac_dec_tag(&b, &t), 1);
    assert_true(bac_is_app(&b, BAC_APP_UNSIGNED));
    assert_false(bac_is_app(&b, BAC_APP_ENUMERATED));
    assert_int_equal(bac_dec_tag(&b, &t), 1);
    assert_true(!t.context && t.number == BAC_APP_UNSIGNED && t.lvt == 1);
    assert_int_equal(bac_skip(&b, t.lvt), 1);
    assert_int_equal(bac_dec_closing(&b, 3), 1);
    assert_int_equal(bac_dec_enum(&b, &u), 2);
    assert_int_equal(u, 3);
    /* a malformed header: the peek reports it and leaves the cursor healthy */
    assert_int_equal(bac_peek_tag(&b, &t), BAC_E_TRUNCATED);
    assert_int_equal(bac_err(&b), BAC_OK);
    assert_false(bac_is_context(&b, 15));
    assert_int_equal(bac_dec_tag(&b, &t), BAC_E_TRUNCATED);
    assert_int_equal(bac_err(&b), BAC_E_TRUNCATED);
    /* after an error every query says no */
    assert_false(bac_is_app(&b, BAC_APP_ENUMERATED));
    assert_int_equal(bac_peek_tag(&b, &t), BAC_E_TRUNCATED);
    /* boolean: the value is the LVT */
    bac_buf_reader(&b, (const uint8_t[]){0x11}, 1);
    assert_int_equal(bac_dec_tag(&b, &t), 1);
    assert_true(!t.context && t.number == BAC_APP_BOOLEAN && t.lvt == 1 && bac_done(&b));
    /* opening/closing of the wrong number or kind */
    bac_buf_reader(&b, (const uint8_t[]){0x3E}, 1);
    assert_int_equal(bac_dec_opening(&b, 4), BAC_E_TAG);
    bac_buf_reader(&b, (const uint8_t[]){0x3E}, 1);
    assert_int_equal(bac_dec_closing(&b, 3), BAC_E_TAG);
    bac_buf_reader(&b, (const uint8_t[]){0x39, 0x00}, 2);
    assert_int_equal(bac_dec_opening(&b, 3), BAC_E_TAG);
    /* LVT 6 of the application class is not an opening tag, nor anything else */
    bac_buf_reader(&b, (const uint8_t[]){0x36, 0, 0, 0, 0, 0, 0}, 7);
    assert_int_equal(bac_peek_tag(&b, &t), BAC_E_TAG);
    assert_int_equal(bac_dec_opening(&b, 3), BAC_E_TAG);
    /* application tags 13, 14 and 15 (extended numbers) are reserved: no decoder, no
     * skip, no query takes them; the same numbers as context tags are fine */
    static const uint8_t reserved[][3] = {{0xD0}, {0xD1, 0x00}, {0xE4}, {0xF1, 0x0F, 0x00}, {0xF0, 0xFE}};
    for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++) {
        bac_buf_reader(&b, reserved[k], 3);
        assert_int_equal(bac_peek_tag(&b, &t), BAC_E_TAG);
        assert_false(bac_is_app(&b, 13) || bac_is_app(&b, 14) || bac_is_app(&b, 15));
        assert_int_equal(bac_skip_element(&b), BAC_E_TAG);
        assert_int_equal(bac_pos(&b), 0);
        bac_buf_reader(&b, reserved[k], 3);
        assert_int_equal(bac_dec_tag(&b, &t), BAC_E_TAG);
        assert_int_equal(bac_err(&b), BAC_E_TAG);
    }
    bac_buf_reader(&b, (const uint8_t[]){0xD9, 0x07}, 2);
    assert_true(bac_is_context(&b, 13));
    assert_int_equal(bac_skip_element(&b), 2);
    /* a small number in extended form (accepted by the decoders): the queries agree */
    bac_buf_reader(&b, (const uint8_t[]){0xFE, 0x03, 0xF9, 0x00, 0x07, 0xFF, 0x03}, 7);
    assert_true(bac_is_opening(&b, 3));
    assert_false(bac_is_opening(&b, 15));
    assert_int_equal(bac_dec_opening(&b, 3), 2);
    assert_true(bac_is_context(&b, 0));
    assert_int_equal(bac_skip_element(&b), 3);
    assert_true(bac_is_closing(&b, 3));
    assert_int_equal(bac_dec_closing(&b, 3), 2);
}

static void test_opening_closing_encodings(void **state)
{
    static const struct {
        bool open;
        uint8_t n;
        uint8_t w[2];
        size_t len;
    } cases[] = {
        {true, 0, {0x0E}, 1},        {false, 0, {0x0F}, 1},   {true, 3, {0x3E}, 1},
        {false, 3, {0x3F}, 1},       {true, 14, {0xEE}, 1},   {false, 14, {0xEF}, 1},
        {true, 15, {0xFE, 0x0F}, 2}, {false, 15, {0xFF, 0x0F}, 2},
        {true, 254, {0xFE, 0xFE}, 2}, {false, 254, {0xFF, 0xFE}, 2},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[4];
        bac_buf_t b;
        bac_tag_t t;

        for (size_t cap = 0; cap < cases[i].len; cap++) {
            memset(out, CANARY, sizeof out);
            bac_buf_writer(&b, out, cap);
            assert_int_equal(cases[i].open ? bac_enc_opening(&b, cases[i].n)
                                           : bac_enc_closing(&b, cases[i].n),
                             BAC_E_NOSPACE);
            assert_int_equal(out[0], CANARY);
        }
        bac_buf_writer(&b, out, sizeof out);
        assert_int_equal(cases[i].open ? bac_enc_opening(&b, cases[i].n)
                                       : bac_enc_closing(&b, cases[i].n),
                         (int)cases[i].len);
        assert_memory_equal(out, cases[i].w, cases[i].len);
        for (size_t n = 0; n <= cases[i].len; n++) {
            uint8_t *in = copy_of(out, n);
            bac_buf_reader(&b, in, n);
            assert_int_equal(cases[i].open ? bac_dec_opening(&b, cases[i].n)
                                           : bac_dec_closing(&b, cases[i].n),
                             n == cases[i].len ? (int)n : BAC_E_TRUNCATED);
            free(in);
        }
        bac_buf_reader(&b, out, cases[i].len);
        assert_int_equal(bac_dec_tag(&b, &t), (int)cases[i].len);
        assert_true(t.context && t.number == cases[i].n &&
                    t.kind == (cases[i].open ? BAC_TAG_OPENING : BAC_TAG_CLOSING));
    }
}

static void test_bits_helpers(void **state)
{
    bac_bits_t bs;
    (void)state;

    bac_bits_init(&bs, BAC_SF_COUNT);
    bac_bits_set(&bs, BAC_SF_FAULT, true);
    bac_bits_set(&bs, BAC_SF_OUT_OF_SERVICE, true);
    bac_bits_set(&bs, BAC_SF_OUT_OF_SERVICE, false);
    bac_bits_set(&bs, 4, true); /* beyond nbits: ignored */
    assert_int_equal(bs.data[0], 0x40);
    assert_true(bac_bits_get(&bs, BAC_SF_FAULT));
    assert_false(bac_bits_get(&bs, BAC_SF_IN_ALARM));
    assert_false(bac_bits_get(&bs, 4));
    assert_false(bac_bits_get(&bs, 1000));
    bac_bits_init(&bs, 1000);
    assert_int_equal(bs.nbits, BAC_BITS_MAX);
    /* Protocol_Object_Types_Supported from the object types */
    {
        uint8_t out[8];
        bac_buf_t b;
        bac_bits_init(&bs, BAC_OBJ_TYPE_COUNT_REV4);
        bac_bits_set(&bs, BAC_OBJ_ANALOG_INPUT, true);
        bac_bits_set(&bs, BAC_OBJ_ANALOG_VALUE, true);
        bac_bits_set(&bs, BAC_OBJ_BINARY_INPUT, true);
        bac_bits_set(&bs, BAC_OBJ_DEVICE, true);
        bac_bits_set(&bs, BAC_OBJ_TREND_LOG, true);
        bac_buf_writer(&b, out, sizeof out);
        assert_int_equal(bac_enc_bits(&b, &bs), 7);
        assert_memory_equal(out, ((const uint8_t[]){0x85, 0x05, 0x07, 0xB0, 0x80, 0x08, 0x00}), 7);
    }
    /* unused bits go out as zero and come back as zero */
    {
        uint8_t out[4];
        bac_buf_t b;
        bac_bits_init(&bs, 4);
        bs.data[0] = 0xFF;
        bac_buf_writer(&b, out, sizeof out);
        assert_int_equal(bac_enc_bits(&b, &bs), 3);
        assert_memory_equal(out, ((const uint8_t[]){0x82, 0x04, 0xF0}), 3);
        bac_buf_reader(&b, (const uint8_t[]){0x82, 0x04, 0xFF}, 3);
        assert_int_equal(bac_dec_bits(&b, &bs), 3);
        assert_true(bs.nbits == 4 && bs.data[0] == 0xF0);
    }
}

/* ---- skip_element ----------------------------------------------------------------- */

static void test_skip_element(void **state)
{
    static const struct {
        const char *name;
        uint8_t in[24];
        size_t n;
        int want;
    } cases[] = {
        {"app unsigned", {0x21, 0x05}, 2, 2},
        {"app boolean has no content", {0x11, 0x21, 0x05}, 3, 1},
        {"app boolean LVT 5 is still one octet", {0x15, 0x21}, 2, 1},
        {"app null", {0x00}, 1, 1},
        {"ctx real", {0x2C, 0x43, 0x66, 0x00, 0x00}, 5, 5},
        {"ctx bool", {0x09, 0x01}, 2, 2},
        {"octets of 6", {0x65, 0x06, 1, 2, 3, 4, 5, 6, 0x00}, 9, 8},
        {"application LVT 6 is no tag", {0x66, 1, 2, 3, 4, 5, 6}, 7, BAC_E_TAG},
        {"application LVT 7 is no tag", {0x27}, 1, BAC_E_TAG},
        {"constructed", {0x3E, 0x21, 0x71, 0x3F, 0x00}, 5, 4},
        {"empty constructed", {0x3E, 0x3F}, 2, 2},
        {"nested", {0x0E, 0x1E, 0x21, 0x05, 0x1F, 0x2E, 0x2F, 0x0F, 0x00}, 9, 8},
        {"extended numbers nested", {0xFE, 0x20, 0xFE, 0x0F, 0xFF, 0x0F, 0xFF, 0x20}, 8, 8},
        {"log record datum", {0x1E, 0x2C, 0x43, 0x66, 0x00, 0x00, 0x1F, 0x2A, 0x04, 0x00}, 10, 7},
        {"unterminated", {0x3E, 0x21, 0x05}, 3, BAC_E_TRUNCATED},
        {"content runs out inside", {0x3E, 0x25, 0x10, 0x00, 0x3F}, 5, BAC_E_TRUNCATED},
        {"wrong closing number", {0x3E, 0x21, 0x05, 0x4F}, 4, BAC_E_NESTING},
        {"crossed nesting", {0x0E, 0x1E, 0x0F, 0x1F}, 4, BAC_E_NESTING},
        {"closing tag is not an element", {0x3F}, 1, BAC_E_NESTING},
        {"reserved tag number", {0xF9, 0xFF, 0x00}, 3, BAC_E_TAG},
        {"nothing", {0}, 0, BAC_E_TRUNCATED},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *in = copy_of(cases[i].in, cases[i].n);
        bac_buf_t b;

        bac_buf_reader(&b, in, cases[i].n);
        CHECK_RC(cases[i].name, bac_skip_element(&b), cases[i].want);
        CHECK(cases[i].name,
              bac_pos(&b) == (cases[i].want > 0 ? (size_t)cases[i].want : 0));
        free(in);
    }
}

static void test_skip_depth_limit(void **state)
{
    uint8_t in[2 * (BAC_MAX_DEPTH + 1)];
    bac_buf_t b;
    (void)state;

    for (unsigned d = BAC_MAX_DEPTH; d <= BAC_MAX_DEPTH + 1; d++) {
        for (unsigned k = 0; k < d; k++) {
            in[k] = (uint8_t)((k % 15) << 4 | 0x0E);
            in[2 * d - 1 - k] = (uint8_t)((k % 15) << 4 | 0x0F);
        }
        bac_buf_reader(&b, in, 2 * d);
        assert_int_equal(bac_skip_element(&b), d == BAC_MAX_DEPTH ? (int)(2 * d) : BAC_E_NESTING);
    }
}

/* What WriteProperty does: find the extent of [3] { value } whatever the value is. */
static void test_skip_finds_write_property_value(void **state)
{
    static const uint8_t in[] = {0x0C, 0x00, 0x80, 0x00, 0x02, /* [0] AV 2 */
                                 0x19, 0x55,                   /* [1] Present_Value */
                                 0x3E, 0x44, 0x43, 0x66, 0x00, 0x00, 0x3F, /* [3] 230.0 */
                                 0x49, 0x10};                  /* [4] priority 16 */
    bac_buf_t b;
    bac_oid_t oid;
    uint32_t prop, prio;
    size_t start, end;
    float f;
    (void)state;

    bac_buf_reader(&b, in, sizeof in);
    bac_dec_ctx_oid(&b, 0, &oid);
    bac_dec_ctx_enum(&b, 1, &prop);
    assert_false(bac_is_context(&b, 2)); /* no array index */
    bac_dec_opening(&b, 3);
    start = bac_pos(&b);
    while (bac_err(&b) == BAC_OK && !bac_is_closing(&b, 3))
        bac_skip_element(&b);
    end = bac_pos(&b);
    bac_dec_closing(&b, 3);
    bac_dec_ctx_unsigned(&b, 4, &prio);
    assert_true(bac_done(&b));
    assert_true(oid.type == BAC_OBJ_ANALOG_VALUE && oid.instance == 2);
    assert_true(prop == BAC_PROP_PRESENT_VALUE && prio == 16);
    assert_true(start == 8 && end == 13);
    /* the value decodes from its own cursor */
    bac_buf_reader(&b, in + start, end - start);
    assert_int_equal(bac_dec_real(&b, &f), 5);
    assert_true(f == 230.0f && bac_done(&b));
}

/* ---- APDU ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    bac_apdu_t a;
    const uint8_t *wire;
    size_t len;
} apdu_vec_t;

static const apdu_vec_t apdus[] = {
    {"confirmed RP", {.type = BAC_PDU_CONFIRMED_REQ, .max_apdu_code = 3, .max_apdu = 480,
                      .invoke_id = 1, .service = BAC_SVC_READ_PROPERTY},
     WIRE(0x00, 0x03, 0x01, 0x0C)},
    {"confirmed SA, 1476", {.type = BAC_PDU_CONFIRMED_REQ, .seg_accepted = true,
                            .max_segs = 0, .max_apdu_code = 5, .max_apdu = 1476,
                            .invoke_id = 0x80, .service = BAC_SVC_READ_PROPERTY_MULTIPLE},
     WIRE(0x02, 0x05, 0x80, 0x0E)},
    {"confirmed segmented", {.type = BAC_PDU_CONFIRMED_REQ, .segmented = true,
                             .more_follows = true, .seg_accepted = true, .max_segs = 7,
                             .max_apdu_code = 5, .max_apdu = 1476, .invoke_id = 5, .seq = 2,
                             .window = 4, .service = BAC_SVC_READ_PROPERTY},
     WIRE(0x0E, 0x75, 0x05, 0x02, 0x04, 0x0C)},
    {"confirmed reserved max-APDU code", {.type = BAC_PDU_CONFIRMED_REQ, .max_apdu_code = 9,
                                          .max_apdu = 0, .invoke_id = 2, .service = 20},
     WIRE(0x00, 0x09, 0x02, 0x14)},
    {"unconfirmed Who-Is", {.type = BAC_PDU_UNCONFIRMED_REQ, .service = BAC_USVC_WHO_IS},
     WIRE(0x10, 0x08)},
    {"simple ACK", {.type = BAC_PDU_SIMPLE_ACK, .invoke_id = 5,
                    .service = BAC_SVC_WRITE_PROPERTY},
     WIRE(0x20, 0x05, 0x0F)},
    {"complex ACK", {.type = BAC_PDU_COMPLEX_ACK, .invoke_id = 1,
                     .service = BAC_SVC_READ_PROPERTY},
     WIRE(0x30, 0x01, 0x0C)},
    {"complex ACK segmented", {.type = BAC_PDU_COMPLEX_ACK, .segmented = true,
                               .more_follows = true, .invoke_id = 7, .seq = 0, .window = 4,
                               .service = BAC_SVC_READ_PROPERTY},
     WIRE(0x3C, 0x07, 0x00, 0x04, 0x0C)},
    {"segment ACK", {.type = BAC_PDU_SEGMENT_ACK, .nak = true, .srv = true, .invoke_id = 7,
                     .seq = 2, .window = 4},
     WIRE(0x43, 0x07, 0x02, 0x04)},
    {"error header", {.type = BAC_PDU_ERROR, .invoke_id = 1, .service = BAC_SVC_READ_PROPERTY},
     WIRE(0x50, 0x01, 0x0C)},
    {"reject", {.type = BAC_PDU_REJECT, .invoke_id = 1,
                .reason = BAC_REJECT_UNRECOGNIZED_SERVICE},
     WIRE(0x60, 0x01, 0x09)},
    {"abort from server", {.type = BAC_PDU_ABORT, .srv = true, .invoke_id = 1,
                           .reason = BAC_ABORT_SEGMENTATION_NOT_SUPPORTED},
     WIRE(0x71, 0x01, 0x04)},
    {"abort from client", {.type = BAC_PDU_ABORT, .invoke_id = 5, .reason = BAC_ABORT_OTHER},
     WIRE(0x70, 0x05, 0x00)},
};

static int apdu_enc(bac_buf_t *b, const void *arg)
{
    return bac_apdu_encode(b, &((const apdu_vec_t *)arg)->a);
}

static int apdu_dec(bac_buf_t *b, const void *arg)
{
    const apdu_vec_t *v = arg;
    bac_apdu_t a;
    int rc;

    memset(&a, 0x77, sizeof a);
    rc = bac_apdu_decode(b, &a);
    if (rc < 0) {
        CHECK(v->name, a.invoke_id == 0x77 && a.type == 0x77);
        return rc;
    }
    CHECK(v->name, a.type == v->a.type && a.segmented == v->a.segmented &&
                       a.more_follows == v->a.more_follows &&
                       a.seg_accepted == v->a.seg_accepted && a.nak == v->a.nak &&
                       a.srv == v->a.srv);
    CHECK(v->name, a.max_segs == v->a.max_segs && a.max_apdu_code == v->a.max_apdu_code &&
                       a.max_apdu == v->a.max_apdu);
    CHECK(v->name, a.invoke_id == v->a.invoke_id && a.seq == v->a.seq &&
                       a.window == v->a.window && a.service == v->a.service &&
                       a.reason == v->a.reason);
    return rc;
}

static void test_apdu_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof apdus / sizeof apdus[0]; i++)
        run_vector(apdus[i].name, apdus[i].wire, apdus[i].len, apdu_enc, apdu_dec, &apdus[i],
                   true);
}

static void test_apdu_errors(void **state)
{
    uint8_t out[8];
    bac_buf_t b;
    bac_apdu_t a;
    (void)state;

    for (unsigned type = 8; type < 16; type++) {
        const uint8_t in[] = {(uint8_t)(type << 4), 0x01, 0x02, 0x03};
        bac_buf_reader(&b, in, sizeof in);
        assert_int_equal(bac_apdu_decode(&b, &a), BAC_E_VALUE);
        assert_int_equal(bac_pos(&b), 0);
    }
    memset(&a, 0, sizeof a);
    a.type = 8;
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_apdu_encode(&b, &a), BAC_E_RANGE);
    a.type = BAC_PDU_CONFIRMED_REQ;
    a.max_segs = 8;
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_apdu_encode(&b, &a), BAC_E_RANGE);
    a.max_segs = 0;
    a.max_apdu_code = 16;
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_apdu_encode(&b, &a), BAC_E_RANGE);
    assert_int_equal(bac_pos(&b), 0);
}

static void test_max_apdu_table(void **state)
{
    static const uint16_t octets[16] = {50, 128, 206, 480, 1024, 1476};
    (void)state;

    for (uint8_t code = 0; code < 16; code++)
        assert_int_equal(bac_max_apdu_octets(code), octets[code]);
    assert_int_equal(bac_max_apdu_code(0), 0);
    assert_int_equal(bac_max_apdu_code(50), 0);
    assert_int_equal(bac_max_apdu_code(127), 0);
    assert_int_equal(bac_max_apdu_code(128), 1);
    assert_int_equal(bac_max_apdu_code(479), 2);
    assert_int_equal(bac_max_apdu_code(480), 3);
    assert_int_equal(bac_max_apdu_code(1476), 5);
    assert_int_equal(bac_max_apdu_code(65535), 5);
}

/* ---- whole PDUs from BACNET-NOTES.md ------------------------------------------------ */

static int rp_req_enc(bac_buf_t *b, const void *arg)
{
    bac_apdu_t a = {.type = BAC_PDU_CONFIRMED_REQ, .max_apdu_code = 3, .invoke_id = 1,
                    .service = BAC_SVC_READ_PROPERTY};
    (void)arg;
    bac_apdu_encode(b, &a);
    bac_enc_ctx_oid(b, 0, (bac_oid_t){BAC_OBJ_DEVICE, 1234});
    bac_enc_ctx_enum(b, 1, BAC_PROP_OBJECT_LIST);
    bac_enc_ctx_unsigned(b, 2, 0);
    return result(b);
}

static int rp_req_dec(bac_buf_t *b, const void *arg)
{
    bac_apdu_t a;
    bac_oid_t oid;
    uint32_t prop, idx;
    (void)arg;

    bac_apdu_decode(b, &a);
    bac_dec_ctx_oid(b, 0, &oid);
    bac_dec_ctx_enum(b, 1, &prop);
    bac_dec_ctx_unsigned(b, 2, &idx);
    if (bac_err(b) == BAC_OK) {
        assert_int_equal(a.type, BAC_PDU_CONFIRMED_REQ);
        assert_false(a.segmented || a.more_follows || a.seg_accepted);
        assert_int_equal(a.max_segs, 0);
        assert_int_equal(a.max_apdu_code, 3);
        assert_int_equal(a.max_apdu, 480);
        assert_int_equal(a.invoke_id, 1);
        assert_int_equal(a.service, BAC_SVC_READ_PROPERTY);
        assert_int_equal(oid.type, BAC_OBJ_DEVICE);
        assert_int_equal(oid.instance, 1234);
        assert_int_equal(prop, BAC_PROP_OBJECT_LIST);
        assert_int_equal(idx, 0);
    }
    return result(b);
}

static int rp_ack_enc(bac_buf_t *b, const void *arg)
{
    (void)arg;
    bac_enc_complex_ack(b, 1, BAC_SVC_READ_PROPERTY);
    bac_enc_ctx_oid(b, 0, (bac_oid_t){BAC_OBJ_DEVICE, 1234});
    bac_enc_ctx_enum(b, 1, BAC_PROP_OBJECT_LIST);
    bac_enc_ctx_unsigned(b, 2, 0);
    bac_enc_opening(b, 3);
    bac_enc_unsigned(b, 113);
    bac_enc_closing(b, 3);
    return result(b);
}

static int rp_ack_dec(bac_buf_t *b, const void *arg)
{
    bac_apdu_t a;
    bac_oid_t oid;
    uint32_t prop, idx, count;
    (void)arg;

    bac_apdu_decode(b, &a);
    bac_dec_ctx_oid(b, 0, &oid);
    bac_dec_ctx_enum(b, 1, &prop);
    bac_dec_ctx_unsigned(b, 2, &idx);
    bac_dec_opening(b, 3);
    bac_dec_unsigned(b, &count);
    bac_dec_closing(b, 3);
    if (bac_err(b) == BAC_OK) {
        assert_int_equal(a.type, BAC_PDU_COMPLEX_ACK);
        assert_false(a.segmented || a.more_follows);
        assert_int_equal(a.invoke_id, 1);
        assert_int_equal(a.service, BAC_SVC_READ_PROPERTY);
        assert_true(oid.type == BAC_OBJ_DEVICE && oid.instance == 1234);
        assert_int_equal(prop, BAC_PROP_OBJECT_LIST);
        assert_int_equal(idx, 0);
        assert_int_equal(count, 113);
    }
    return result(b);
}

typedef struct {
    uint8_t invoke_id, service;
    uint32_t cls, code;
} err_vec_t;

static int error_enc(bac_buf_t *b, const void *arg)
{
    const err_vec_t *e = arg;
    return bac_enc_error(b, e->invoke_id, e->service, e->cls, e->code);
}

static int error_dec(bac_buf_t *b, const void *arg)
{
    const err_vec_t *e = arg;
    bac_apdu_t a;
    uint32_t cls = 99, code = 99;

    bac_apdu_decode(b, &a);
    if (bac_err(b) == BAC_OK && a.type == BAC_PDU_ERROR)
        bac_dec_error(b, &cls, &code);
    if (bac_err(b) == BAC_OK) {
        assert_int_equal(a.type, BAC_PDU_ERROR);
        assert_int_equal(a.invoke_id, e->invoke_id);
        assert_int_equal(a.service, e->service);
        assert_int_equal(cls, e->cls);
        assert_int_equal(code, e->code);
    } else {
        assert_true(cls == 99 && code == 99);
    }
    return result(b);
}

static int reject_enc(bac_buf_t *b, const void *arg)
{
    (void)arg;
    return bac_enc_reject(b, 1, BAC_REJECT_UNRECOGNIZED_SERVICE);
}

static int abort_srv_enc(bac_buf_t *b, const void *arg)
{
    (void)arg;
    return bac_enc_abort(b, 1, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED, true);
}

static int abort_cli_enc(bac_buf_t *b, const void *arg)
{
    (void)arg;
    return bac_enc_abort(b, 5, BAC_ABORT_OTHER, false);
}

static int simple_ack_enc(bac_buf_t *b, const void *arg)
{
    (void)arg;
    return bac_enc_simple_ack(b, 5, BAC_SVC_WRITE_PROPERTY);
}

static void test_notes_pdus(void **state)
{
    static const uint8_t rp_req[] = {0x00, 0x03, 0x01, 0x0C, 0x0C, 0x02, 0x00,
                                     0x04, 0xD2, 0x19, 0x4C, 0x29, 0x00};
    static const uint8_t rp_ack[] = {0x30, 0x01, 0x0C, 0x0C, 0x02, 0x00, 0x04, 0xD2,
                                     0x19, 0x4C, 0x29, 0x00, 0x3E, 0x21, 0x71, 0x3F};
    static const uint8_t err_obj[] = {0x50, 0x01, 0x0C, 0x91, 0x01, 0x91, 0x1F};
    static const err_vec_t err_obj_v = {1, BAC_SVC_READ_PROPERTY, BAC_ERRCLASS_OBJECT,
                                        BAC_ERR_UNKNOWN_OBJECT};
    static const uint8_t err_wp[] = {0x50, 0x07, 0x0F, 0x91, 0x02, 0x91, 0x28};
    static const err_vec_t err_wp_v = {7, BAC_SVC_WRITE_PROPERTY, BAC_ERRCLASS_PROPERTY,
                                       BAC_ERR_WRITE_ACCESS_DENIED};
    static const uint8_t err_dcc[] = {0x50, 0x09, 0x11, 0x91, 0x04, 0x91, 0x1A};
    static const err_vec_t err_dcc_v = {9, BAC_SVC_DEVICE_COMMUNICATION_CONTROL,
                                        BAC_ERRCLASS_SECURITY, BAC_ERR_PASSWORD_FAILURE};
    static const uint8_t reject[] = {0x60, 0x01, 0x09};
    static const uint8_t abort_srv[] = {0x71, 0x01, 0x04};
    static const uint8_t abort_cli[] = {0x70, 0x05, 0x00};
    static const uint8_t simple_ack[] = {0x20, 0x05, 0x0F};
    (void)state;

    run_vector("RP Object_List[0] request", rp_req, sizeof rp_req, rp_req_enc, rp_req_dec,
               NULL, false);
    run_vector("RP Object_List[0] ACK", rp_ack, sizeof rp_ack, rp_ack_enc, rp_ack_dec, NULL,
               false);
    run_vector("Error object/unknown-object", err_obj, sizeof err_obj, error_enc, error_dec,
               &err_obj_v, false);
    /* one call: all or nothing */
    check_encode("Error property/write-access-denied", err_wp, sizeof err_wp, error_enc,
                 &err_wp_v, true);
    run_vector("Error security/password-failure", err_dcc, sizeof err_dcc, error_enc,
               error_dec, &err_dcc_v, false);
    check_encode("Reject unrecognized-service", reject, sizeof reject, reject_enc, NULL, true);
    check_encode("Abort segmentation-not-supported", abort_srv, sizeof abort_srv,
                 abort_srv_enc, NULL, true);
    check_encode("Abort from a client", abort_cli, sizeof abort_cli, abort_cli_enc, NULL, true);
    check_encode("Simple-ACK", simple_ack, sizeof simple_ack, simple_ack_enc, NULL, true);
}

static void test_error_body_errors(void **state)
{
    bac_buf_t b;
    uint32_t cls = 1, code = 2;
    (void)state;

    /* class as Unsigned instead of Enumerated */
    bac_buf_reader(&b, (const uint8_t[]){0x21, 0x01, 0x91, 0x1F}, 4);
    assert_int_equal(bac_dec_error(&b, &cls, &code), BAC_E_TAG);
    assert_true(cls == 1 && code == 2 && bac_pos(&b) == 0);
    /* code missing: the cursor goes back to the class */
    bac_buf_reader(&b, (const uint8_t[]){0x91, 0x01}, 2);
    assert_int_equal(bac_dec_error(&b, &cls, &code), BAC_E_TRUNCATED);
    assert_true(cls == 1 && code == 2 && bac_pos(&b) == 0);
}

/* ---- NPDU ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    bac_npdu_t n;
    const uint8_t *wire;
    size_t len;
} npdu_vec_t;

static const npdu_vec_t npdus[] = {
    {"local", {.priority = 0}, WIRE(0x01, 0x00)},
    {"expecting reply", {.expecting_reply = true}, WIRE(0x01, 0x04)},
    {"life safety priority", {.priority = BAC_PRIO_LIFE_SAFETY}, WIRE(0x01, 0x03)},
    {"global broadcast (I-Am)", {.has_dnet = true, .dnet = 0xFFFF, .hop_count = 255},
     WIRE(0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF)},
    {"routed from MS/TP 5:0x0A",
     {.expecting_reply = true, .has_snet = true, .snet = 5, .sadr = {1, {0x0A}}},
     WIRE(0x01, 0x0C, 0x00, 0x05, 0x01, 0x0A)},
    {"reply to it", {.has_dnet = true, .dnet = 5, .dadr = {1, {0x0A}}, .hop_count = 255},
     WIRE(0x01, 0x20, 0x00, 0x05, 0x01, 0x0A, 0xFF)},
    {"DNET and SNET",
     {.expecting_reply = true, .has_dnet = true, .dnet = 7,
      .dadr = {6, {0xC0, 0xA8, 0x01, 0x02, 0xBA, 0xC0}}, .has_snet = true, .snet = 5,
      .sadr = {1, {0x0A}}, .hop_count = 0xFE},
     WIRE(0x01, 0x2C, 0x00, 0x07, 0x06, 0xC0, 0xA8, 0x01, 0x02, 0xBA, 0xC0, 0x00, 0x05, 0x01,
          0x0A, 0xFE)},
    {"longest MAC", {.has_snet = true, .snet = 1, .sadr = {BAC_MAC_MAX, {1, 2, 3, 4, 5, 6, 7, 8}}},
     WIRE(0x01, 0x08, 0x00, 0x01, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)},
    {"network message Who-Is-Router", {.network_msg = true, .msg_type = 0x00},
     WIRE(0x01, 0x80, 0x00)},
    {"proprietary network message",
     {.network_msg = true, .msg_type = 0x80, .vendor_id = 0x0104},
     WIRE(0x01, 0x80, 0x80, 0x01, 0x04)},
    {"routed network message",
     {.network_msg = true, .has_dnet = true, .dnet = 7, .hop_count = 5, .msg_type = 0x12},
     WIRE(0x01, 0xA0, 0x00, 0x07, 0x00, 0x05, 0x12)},
};

static int npdu_enc(bac_buf_t *b, const void *arg)
{
    return bac_npdu_encode(b, &((const npdu_vec_t *)arg)->n);
}

static bool same_mac(const bac_mac_t *a, const bac_mac_t *b)
{
    return a->len == b->len && memcmp(a->addr, b->addr, a->len) == 0;
}

static int npdu_dec(bac_buf_t *b, const void *arg)
{
    const npdu_vec_t *v = arg;
    bac_npdu_t n;
    int rc;

    memset(&n, 0x77, sizeof n);
    rc = bac_npdu_decode(b, &n);
    if (rc < 0) {
        CHECK(v->name, n.priority == 0x77 && n.dnet == 0x7777);
        return rc;
    }
    CHECK(v->name, n.network_msg == v->n.network_msg &&
                       n.expecting_reply == v->n.expecting_reply &&
                       n.priority == v->n.priority);
    CHECK(v->name, n.has_dnet == v->n.has_dnet && n.dnet == v->n.dnet &&
                       same_mac(&n.dadr, &v->n.dadr) && n.hop_count == v->n.hop_count);
    CHECK(v->name, n.has_snet == v->n.has_snet && n.snet == v->n.snet &&
                       same_mac(&n.sadr, &v->n.sadr));
    CHECK(v->name, n.msg_type == v->n.msg_type && n.vendor_id == v->n.vendor_id);
    return rc;
}

static void test_npdu_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof npdus / sizeof npdus[0]; i++)
        run_vector(npdus[i].name, npdus[i].wire, npdus[i].len, npdu_enc, npdu_dec, &npdus[i],
                   true);
}

static void test_npdu_errors(void **state)
{
    static const struct {
        const char *name;
        uint8_t in[16];
        size_t n;
        int want;
    } cases[] = {
        {"version 0", {0x00, 0x00}, 2, BAC_E_VALUE},
        {"version 2", {0x02, 0x04}, 2, BAC_E_VALUE},
        {"DLEN above BAC_MAC_MAX", {0x01, 0x20, 0x00, 0x05, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xFF},
         15, BAC_E_RANGE},
        {"SLEN 0", {0x01, 0x08, 0x00, 0x05, 0x00}, 5, BAC_E_VALUE},
        {"SNET broadcast", {0x01, 0x08, 0xFF, 0xFF, 0x01, 0x0A}, 6, BAC_E_VALUE},
        {"SLEN 200", {0x01, 0x08, 0x00, 0x05, 200, 1, 2}, 7, BAC_E_RANGE},
    };
    bac_buf_t b;
    bac_npdu_t n;
    uint8_t out[32];
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *in = copy_of(cases[i].in, cases[i].n);
        bac_buf_reader(&b, in, cases[i].n);
        CHECK_RC(cases[i].name, bac_npdu_decode(&b, &n), cases[i].want);
        CHECK(cases[i].name, bac_pos(&b) == 0);
        free(in);
    }
    memset(&n, 0, sizeof n);
    n.priority = 4;
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_npdu_encode(&b, &n), BAC_E_RANGE);
    memset(&n, 0, sizeof n);
    n.has_snet = true;
    n.snet = 5; /* SADR empty */
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_npdu_encode(&b, &n), BAC_E_RANGE);
    n.sadr.len = BAC_MAC_MAX + 1;
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_npdu_encode(&b, &n), BAC_E_RANGE);
    memset(&n, 0, sizeof n);
    n.has_dnet = true;
    n.dadr.len = BAC_MAC_MAX + 1;
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_npdu_encode(&b, &n), BAC_E_RANGE);
    assert_int_equal(bac_pos(&b), 0);
}

static void test_npdu_reply(void **state)
{
    bac_npdu_t req, rep;
    uint8_t out[16];
    bac_buf_t b;
    (void)state;

    /* local request: local reply, priority kept, nothing expected back */
    memset(&req, 0, sizeof req);
    req.expecting_reply = true;
    req.priority = BAC_PRIO_CRITICAL;
    bac_npdu_reply(&req, &rep);
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_npdu_encode(&b, &rep), 2);
    assert_memory_equal(out, ((const uint8_t[]){0x01, 0x02}), 2);
    /* routed request: back to SNET/SADR as DNET/DADR with hop count 255 */
    bac_buf_reader(&b, (const uint8_t[]){0x01, 0x0C, 0x00, 0x05, 0x01, 0x0A}, 6);
    assert_int_equal(bac_npdu_decode(&b, &req), 6);
    bac_npdu_reply(&req, &rep);
    assert_false(rep.has_snet || rep.expecting_reply || rep.network_msg);
    bac_buf_writer(&b, out, sizeof out);
    assert_int_equal(bac_npdu_encode(&b, &rep), 7);
    assert_memory_equal(out, ((const uint8_t[]){0x01, 0x20, 0x00, 0x05, 0x01, 0x0A, 0xFF}), 7);
    /* a request that passed through routers to us as a DNET: the reply ignores DNET */
    bac_buf_reader(&b, (const uint8_t[]){0x01, 0x2C, 0x00, 0x07, 0x00, 0x00, 0x05, 0x01, 0x0A,
                                         0xFE},
                   10);
    assert_int_equal(bac_npdu_decode(&b, &req), 10);
    bac_npdu_reply(&req, &rep);
    assert_true(rep.has_dnet && rep.dnet == 5 && rep.dadr.len == 1 && rep.dadr.addr[0] == 0x0A);
}

/* A whole I-Am: NPDU, APDU header, service data. */
static int iam_enc(bac_buf_t *b, const void *arg)
{
    bac_npdu_t n = {.has_dnet = true, .dnet = BAC_NET_BROADCAST, .hop_count = 255};
    bac_apdu_t a = {.type = BAC_PDU_UNCONFIRMED_REQ, .service = BAC_USVC_I_AM};
    (void)arg;
    bac_npdu_encode(b, &n);
    bac_apdu_encode(b, &a);
    bac_enc_oid(b, (bac_oid_t){BAC_OBJ_DEVICE, 1234});
    bac_enc_unsigned(b, 480);
    bac_enc_enum(b, BAC_SEGMENTATION_NONE);
    bac_enc_unsigned(b, 260);
    return result(b);
}

static int iam_dec(bac_buf_t *b, const void *arg)
{
    bac_npdu_t n;
    bac_apdu_t a;
    bac_oid_t oid;
    uint32_t max_apdu, seg, vendor;
    (void)arg;

    bac_npdu_decode(b, &n);
    bac_apdu_decode(b, &a);
    bac_dec_oid(b, &oid);
    bac_dec_unsigned(b, &max_apdu);
    bac_dec_enum(b, &seg);
    bac_dec_unsigned(b, &vendor);
    if (bac_err(b) == BAC_OK) {
        assert_true(n.has_dnet && n.dnet == 0xFFFF && n.dadr.len == 0 && n.hop_count == 255);
        assert_true(a.type == BAC_PDU_UNCONFIRMED_REQ && a.service == BAC_USVC_I_AM);
        assert_true(oid.type == BAC_OBJ_DEVICE && oid.instance == 1234);
        assert_true(max_apdu == 480 && seg == BAC_SEGMENTATION_NONE && vendor == 260);
    }
    return result(b);
}

static void test_i_am_frame(void **state)
{
    static const uint8_t iam[] = {0x01, 0x20, 0xFF, 0xFF, 0x00, 0xFF, 0x10, 0x00, 0xC4, 0x02, 0x00,
                                  0x04, 0xD2, 0x22, 0x01, 0xE0, 0x91, 0x03, 0x22, 0x01, 0x04};
    (void)state;
    run_vector("I-Am frame", iam, sizeof iam, iam_enc, iam_dec, NULL, false);
}

/* ---- errors as the service layer sees them ----------------------------------------- */

static void test_error_mapping(void **state)
{
    (void)state;
    assert_int_equal(bac_reject_reason(BAC_E_TRUNCATED), BAC_REJECT_MISSING_REQUIRED_PARAMETER);
    assert_int_equal(bac_reject_reason(BAC_E_TAG), BAC_REJECT_INVALID_TAG);
    assert_int_equal(bac_reject_reason(BAC_E_LENGTH), BAC_REJECT_INVALID_TAG);
    assert_int_equal(bac_reject_reason(BAC_E_NESTING), BAC_REJECT_INVALID_TAG);
    assert_int_equal(bac_reject_reason(BAC_E_RANGE), BAC_REJECT_PARAMETER_OUT_OF_RANGE);
    assert_int_equal(bac_reject_reason(BAC_E_VALUE), BAC_REJECT_PARAMETER_OUT_OF_RANGE);
    assert_int_equal(bac_reject_reason(BAC_E_CHARSET), BAC_REJECT_OTHER);
    assert_string_equal(bac_err_str(BAC_E_NOSPACE), "BAC_E_NOSPACE");
    assert_string_equal(bac_err_str(BAC_E_ARG), "BAC_E_ARG");
    assert_string_equal(bac_err_str(-100), "BAC_E_?");
    assert_string_equal(bac_err_str(5), "BAC_OK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitive_vectors),
        cmocka_unit_test(test_wrong_tag_matrix),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_signaling_nan_is_canonical),
        cmocka_unit_test(test_extended_lengths),
        cmocka_unit_test(test_lengths_from_the_wire_are_not_trusted),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_charset_is_reported),
        cmocka_unit_test(test_encoder_argument_errors),
        cmocka_unit_test(test_sticky_nospace_and_rewind),
        cmocka_unit_test(test_raw_octets),
        cmocka_unit_test(test_peek_and_queries),
        cmocka_unit_test(test_opening_closing_encodings),
        cmocka_unit_test(test_bits_helpers),
        cmocka_unit_test(test_skip_element),
        cmocka_unit_test(test_skip_depth_limit),
        cmocka_unit_test(test_skip_finds_write_property_value),
        cmocka_unit_test(test_apdu_vectors),
        cmocka_unit_test(test_apdu_errors),
        cmocka_unit_test(test_max_apdu_table),
        cmocka_unit_test(test_notes_pdus),
        cmocka_unit_test(test_error_body_errors),
        cmocka_unit_test(test_npdu_vectors),
        cmocka_unit_test(test_npdu_errors),
        cmocka_unit_test(test_npdu_reply),
        cmocka_unit_test(test_i_am_frame),
        cmocka_unit_test(test_error_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
