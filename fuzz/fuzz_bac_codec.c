/*
 * libFuzzer target for the BACnet codec: decodes the input as NPDU + APDU header, walks
 * every element after them, runs each typed decoder on it, and drives the encoders
 * into a small buffer. It traps when a cursor passes its end, a failed call moves the
 * cursor, a decoded header or value does not survive re-encoding, or an encoder
 * writes outside its buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bacnet/bac.h"

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c))                                                                      \
            __builtin_trap();                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t bytes_sink[4];

static void check_cursor(const bac_buf_t *b)
{
    CHECK(b->pos <= b->len);
}

static void npdu_round_trip(const bac_npdu_t *n)
{
    uint8_t out[64];
    bac_buf_t w, r;
    bac_npdu_t m;
    int len;

    bac_buf_writer(&w, out, sizeof out);
    len = bac_npdu_encode(&w, n);
    CHECK(len > 0);
    bac_buf_reader(&r, out, (size_t)len);
    CHECK(bac_npdu_decode(&r, &m) == len && bac_done(&r));
    CHECK(m.network_msg == n->network_msg && m.expecting_reply == n->expecting_reply &&
          m.priority == n->priority && m.has_dnet == n->has_dnet && m.dnet == n->dnet &&
          m.dadr.len == n->dadr.len && m.has_snet == n->has_snet && m.snet == n->snet &&
          m.sadr.len == n->sadr.len && m.hop_count == n->hop_count &&
          m.msg_type == n->msg_type && m.vendor_id == n->vendor_id);
    CHECK(memcmp(m.dadr.addr, n->dadr.addr, n->dadr.len) == 0);
    CHECK(memcmp(m.sadr.addr, n->sadr.addr, n->sadr.len) == 0);
}

static void apdu_round_trip(const bac_apdu_t *a)
{
    uint8_t out[8];
    bac_buf_t w, r;
    bac_apdu_t c;
    int len;

    bac_buf_writer(&w, out, sizeof out);
    len = bac_apdu_encode(&w, a);
    CHECK(len > 0);
    bac_buf_reader(&r, out, (size_t)len);
    CHECK(bac_apdu_decode(&r, &c) == len && bac_done(&r));
    CHECK(c.type == a->type && c.segmented == a->segmented &&
          c.more_follows == a->more_follows && c.seg_accepted == a->seg_accepted &&
          c.nak == a->nak && c.srv == a->srv && c.max_segs == a->max_segs &&
          c.max_apdu_code == a->max_apdu_code && c.max_apdu == a->max_apdu &&
          c.invoke_id == a->invoke_id && c.seq == a->seq && c.window == a->window &&
          c.service == a->service && c.reason == a->reason);
}

/* The queries agree with the header a peek finds, and an opening or closing tag is
 * consumed whole by its decoder (on a copy of the cursor). */
static void queries(const bac_buf_t *b)
{
    bac_tag_t t;
    const int h = bac_peek_tag(b, &t);
    const uint8_t other = (uint8_t)(t.number + 1);
    if (h < 0) {
        CHECK(!bac_is_context(b, 0) && !bac_is_opening(b, 0) && !bac_is_closing(b, 0));
        return;
    }
    CHECK(bac_is_context(b, t.number) == (t.context && t.kind == BAC_TAG_PRIMITIVE));
    CHECK(bac_is_opening(b, t.number) == (t.kind == BAC_TAG_OPENING));
    CHECK(bac_is_closing(b, t.number) == (t.kind == BAC_TAG_CLOSING));
    CHECK(bac_is_app(b, t.number) == !t.context);
    CHECK(!bac_is_context(b, other) && !bac_is_opening(b, other) && !bac_is_closing(b, other));
    if (t.kind != BAC_TAG_PRIMITIVE) {
        bac_buf_t c = *b;
        const size_t at = c.pos;
        int rc = t.kind == BAC_TAG_OPENING ? bac_dec_opening(&c, t.number)
                                           : bac_dec_closing(&c, t.number);
        CHECK(rc == h && c.pos == at + (size_t)h);
        c = *b;
        rc = t.kind == BAC_TAG_OPENING ? bac_dec_closing(&c, t.number)
                                       : bac_dec_opening(&c, t.number);
        CHECK(rc == BAC_E_TAG && c.pos == at && bac_err(&c) == BAC_E_TAG);
    }
}

/* Skip elements until the end; a stray closing tag is stepped over as a bare tag. */
static void walk(const uint8_t *data, size_t size)
{
    bac_buf_t b;

    bac_buf_reader(&b, data, size);
    while (bac_left(&b) > 0) {
        const size_t before = b.pos;
        bac_tag_t t;
        int rc;

        queries(&b);
        if (bac_peek_tag(&b, &t) > 0 && t.kind == BAC_TAG_CLOSING)
            rc = bac_dec_tag(&b, &t);
        else
            rc = bac_skip_element(&b);
        check_cursor(&b);
        if (rc < 0) {
            CHECK(b.pos == before && bac_err(&b) == rc);
            break;
        }
        CHECK(rc > 0 && b.pos == before + (size_t)rc);
    }
}

/* A decoder's result: the cursor is in bounds, moved by exactly the length returned,
 * or not at all with the error stuck. */
static bool ok(const bac_buf_t *b, int rc)
{
    check_cursor(b);
    if (rc < 0) {
        CHECK(b->pos == 0 && bac_err(b) == rc);
        return false;
    }
    CHECK(b->pos == (size_t)rc);
    return true;
}

/* A reader over what a writer wrote, which must have succeeded. */
static bac_buf_t reread(const bac_buf_t *w)
{
    bac_buf_t r;

    CHECK(bac_err(w) == BAC_OK);
    bac_buf_reader(&r, w->wr, bac_pos(w));
    return r;
}

/* Every typed decoder at the start of the input, under the tag found there; a value
 * decoded is re-encoded under the same tag and must read back the same. */
static void typed_decoders(const uint8_t *data, size_t size)
{
    uint8_t out[64];
    bac_buf_t b, w, r;
    bac_tag_t t;
    bool ctx = false;
    uint8_t tag = 0;

    bac_buf_reader(&b, data, size);
    if (bac_peek_tag(&b, &t) >= 0 && t.context) {
        ctx = true;
        tag = t.number;
    }

    bac_buf_reader(&b, data, size);
    ok(&b, ctx ? bac_dec_ctx_null(&b, tag) : bac_dec_null(&b));
    {
        bool v, v2 = false;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_bool(&b, tag, &v) : bac_dec_bool(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_bool(&w, tag, v) : bac_enc_bool(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_bool(&r, tag, &v2) : bac_dec_bool(&r, &v2);
            CHECK(bac_done(&r) && v2 == v);
        }
    }
    {
        uint32_t v, v2 = 0;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_unsigned(&b, tag, &v) : bac_dec_unsigned(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_unsigned(&w, tag, v) : bac_enc_unsigned(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_unsigned(&r, tag, &v2) : bac_dec_unsigned(&r, &v2);
            CHECK(bac_done(&r) && v2 == v);
        }
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_enum(&b, tag, &v) : bac_dec_enum(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_enum(&w, tag, v) : bac_enc_enum(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_enum(&r, tag, &v2) : bac_dec_enum(&r, &v2);
            CHECK(bac_done(&r) && v2 == v);
        }
    }
    {
        int32_t v, v2 = 0;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_signed(&b, tag, &v) : bac_dec_signed(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_signed(&w, tag, v) : bac_enc_signed(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_signed(&r, tag, &v2) : bac_dec_signed(&r, &v2);
            CHECK(bac_done(&r) && v2 == v);
        }
    }
    {
        float v, v2 = 0;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_real(&b, tag, &v) : bac_dec_real(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_real(&w, tag, v) : bac_enc_real(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_real(&r, tag, &v2) : bac_dec_real(&r, &v2);
            /* NaNs come back as the canonical one; everything else bit for bit */
            CHECK(bac_done(&r) && (v != v ? v2 != v2 : memcmp(&v2, &v, sizeof v) == 0));
        }
    }
    {
        double v, v2 = 0;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_double(&b, tag, &v) : bac_dec_double(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_double(&w, tag, v) : bac_enc_double(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_double(&r, tag, &v2) : bac_dec_double(&r, &v2);
            CHECK(bac_done(&r) && (v != v ? v2 != v2 : memcmp(&v2, &v, sizeof v) == 0));
        }
    }
    {
        bac_octets_t v;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_octets(&b, tag, &v) : bac_dec_octets(&b, &v)))
            CHECK(v.data >= data && v.len <= size && v.data + v.len == data + b.pos);
    }
    {
        bac_str_t v;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_charstring(&b, tag, &v) : bac_dec_charstring(&b, &v)))
            CHECK(v.charset == 0 && v.data > data && v.data + v.len == data + b.pos);
    }
    {
        bac_bits_t v, v2;
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_bits(&b, tag, &v) : bac_dec_bits(&b, &v))) {
            CHECK(v.nbits <= BAC_BITS_MAX);
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_bits(&w, tag, &v) : bac_enc_bits(&w, &v);
            r = reread(&w);
            ctx ? bac_dec_ctx_bits(&r, tag, &v2) : bac_dec_bits(&r, &v2);
            CHECK(bac_done(&r) && v2.nbits == v.nbits &&
                  memcmp(v2.data, v.data, sizeof v.data) == 0);
        }
    }
    {
        bac_date_t v, v2 = {0, 0, 0, 0};
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_date(&b, tag, &v) : bac_dec_date(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_date(&w, tag, v) : bac_enc_date(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_date(&r, tag, &v2) : bac_dec_date(&r, &v2);
            CHECK(bac_done(&r) && memcmp(&v, &v2, sizeof v) == 0);
        }
    }
    {
        bac_time_t v, v2 = {0, 0, 0, 0};
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_time(&b, tag, &v) : bac_dec_time(&b, &v))) {
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_time(&w, tag, v) : bac_enc_time(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_time(&r, tag, &v2) : bac_dec_time(&r, &v2);
            CHECK(bac_done(&r) && memcmp(&v, &v2, sizeof v) == 0);
        }
    }
    {
        bac_oid_t v, v2 = {0, 0};
        bac_buf_reader(&b, data, size);
        if (ok(&b, ctx ? bac_dec_ctx_oid(&b, tag, &v) : bac_dec_oid(&b, &v))) {
            CHECK(v.type <= BAC_MAX_OBJECT_TYPE && v.instance <= BAC_MAX_INSTANCE);
            bac_buf_writer(&w, out, sizeof out);
            ctx ? bac_enc_ctx_oid(&w, tag, v) : bac_enc_oid(&w, v);
            r = reread(&w);
            ctx ? bac_dec_ctx_oid(&r, tag, &v2) : bac_dec_oid(&r, &v2);
            CHECK(bac_done(&r) && v2.type == v.type && v2.instance == v.instance);
        }
    }
    {
        uint32_t cls, code;
        bac_buf_reader(&b, data, size);
        ok(&b, bac_dec_error(&b, &cls, &code));
    }
}

/* The input as a program for the encoders: first octet the capacity, then pairs of
 * (operation, argument). Nothing may land outside the capacity, and once an error
 * sticks the position never moves. */
static void encoders(const uint8_t *data, size_t size)
{
    enum { CAP_MAX = 48, GUARD = 16 };
    uint8_t out[CAP_MAX + GUARD];
    bac_buf_t b;
    size_t cap;

    if (size < 1)
        return;
    cap = data[0] % (CAP_MAX + 1);
    memset(out, 0xA5, sizeof out);
    bac_buf_writer(&b, out, cap);
    for (size_t i = 1; i + 1 < size; i += 2) {
        const uint8_t op = data[i], arg = data[i + 1];
        const uint32_t wide = (uint32_t)arg * 0x01010101u >> (op & 31);
        const int err_before = bac_err(&b);
        const size_t pos_before = b.pos;
        bac_bits_t bits;
        int rc = 0;

        if (op % 30 == 16) { /* back to an earlier mark: the one way to unstick an error */
            const size_t mark = arg % (b.pos + 1);
            CHECK(bac_rewind(&b, mark) == BAC_OK && b.pos == mark && bac_err(&b) == BAC_OK);
            continue;
        }
        switch (op % 30) {
        case 0: rc = bac_enc_null(&b); break;
        case 1: rc = bac_enc_ctx_bool(&b, arg, op & 0x80); break;
        case 2: rc = bac_enc_unsigned(&b, wide); break;
        case 3: rc = bac_enc_ctx_signed(&b, arg, (int32_t)wide); break;
        case 4: rc = bac_enc_ctx_real(&b, arg, (float)wide); break;
        case 5: rc = bac_enc_double(&b, (double)wide); break;
        case 6: rc = bac_enc_ctx_octets(&b, arg, data, (size - i) % 40); break;
        case 7: rc = bac_enc_charstring(&b, (const char *)data, arg % 40 % (size + 1)); break;
        case 8:
            bac_bits_init(&bits, arg % (BAC_BITS_MAX + 1));
            memcpy(bits.data, data, size < sizeof bits.data ? size : sizeof bits.data);
            rc = bac_enc_ctx_bits(&b, op, &bits);
            break;
        case 9: rc = bac_enc_ctx_enum(&b, arg, wide); break;
        case 10: rc = bac_enc_ctx_oid(&b, arg, (bac_oid_t){(uint16_t)(wide >> 20), wide}); break;
        case 11: rc = bac_enc_opening(&b, arg); break;
        case 12: rc = bac_enc_closing(&b, arg); break;
        case 13: rc = bac_enc_tag(&b, op & 0x80, arg, wide); break;
        case 14: rc = bac_enc_error(&b, arg, op, wide, arg); break;
        case 15: rc = bac_enc_abort(&b, arg, op, op & 0x80); break;
        case 17: rc = bac_put_u8(&b, arg); break;
        case 18: rc = bac_put_u16(&b, (uint16_t)wide); break;
        case 19: rc = bac_put_u32(&b, wide); break;
        case 20: rc = bac_put_bytes(&b, data, (size - i) % 24); break;
        case 21: rc = bac_enc_simple_ack(&b, arg, op); break;
        case 22: rc = bac_enc_reject(&b, arg, op); break;
        case 23: rc = bac_enc_complex_ack(&b, arg, op); break;
        case 24:
            rc = op & 0x80 ? bac_enc_ctx_date(&b, arg, (bac_date_t){arg, op, arg, op})
                           : bac_enc_date(&b, (bac_date_t){arg, op, arg, op});
            break;
        case 25:
            rc = op & 0x80 ? bac_enc_ctx_time(&b, arg, (bac_time_t){op, arg, op, arg})
                           : bac_enc_time(&b, (bac_time_t){op, arg, op, arg});
            break;
        case 26: rc = bac_enc_ctx_null(&b, arg); break;
        case 27: rc = bac_enc_octets(&b, data, (size - i) % 40); break;
        case 28: rc = bac_enc_ctx_charstring(&b, arg, (const char *)data, (size - i) % 40); break;
        default: /* bits set one by one read back the same */
            bac_bits_init(&bits, arg % (BAC_BITS_MAX + 1));
            for (unsigned k = 0; k < bits.nbits; k++)
                bac_bits_set(&bits, k, (data[k % size] >> (k % 8)) & 1);
            bac_bits_set(&bits, bits.nbits, true); /* beyond: ignored */
            for (unsigned k = 0; k < bits.nbits; k++)
                CHECK(bac_bits_get(&bits, k) == ((data[k % size] >> (k % 8)) & 1));
            CHECK(!bac_bits_get(&bits, bits.nbits));
            rc = bac_enc_bits(&b, &bits);
            break;
        }
        check_cursor(&b);
        if (err_before)
            CHECK(rc == err_before && b.pos == pos_before);
        else if (rc < 0)
            CHECK(bac_err(&b) == rc && b.pos == pos_before);
        else
            CHECK(b.pos == pos_before + (size_t)rc);
    }
    for (size_t k = cap; k < sizeof out; k++)
        CHECK(out[k] == 0xA5);
    /* walking what was written (headers may promise content that is not there) */
    walk(out, b.pos);
}

/* The input as a program for the raw readers over itself: each octet picks a read and
 * its size. A read moves by exactly what it returns, or fails without moving and sticks. */
static void raw_reads(const uint8_t *data, size_t size)
{
    bac_buf_t b;
    bac_buf_reader(&b, data, size);
    for (size_t i = 0; i < size && i < 64; i++) {
        const size_t pos_before = b.pos;
        const int err_before = bac_err(&b);
        uint8_t u8, bytes[16];
        uint16_t u16;
        uint32_t u32;
        int rc = 0;
        switch (data[i] % 6) {
        case 0: rc = bac_get_u8(&b, &u8); break;
        case 1: rc = bac_get_u16(&b, &u16); break;
        case 2: rc = bac_get_u32(&b, &u32); break;
        case 3: rc = bac_get_bytes(&b, bytes, data[i] / 6 % sizeof bytes); break;
        case 4: rc = bac_skip(&b, data[i] / 6); break;
        case 5: /* the names and reject reasons of every error stay defined */
            CHECK(bac_err_str(-(int)(data[i] / 6 % 12)) != NULL);
            CHECK(bac_reject_reason(-(int)(data[i] / 6 % 12)) <= BAC_REJECT_UNRECOGNIZED_SERVICE);
            continue;
        }
        check_cursor(&b);
        if (err_before)
            CHECK(rc == err_before && b.pos == pos_before);
        else if (rc < 0)
            CHECK(bac_err(&b) == rc && b.pos == pos_before);
        else
            CHECK(b.pos == pos_before + (size_t)rc);
    }
    /* A writer given to a reader's call, and buffers that cannot exist, are misuse. */
    uint8_t u8;
    bac_buf_writer(&b, bytes_sink, sizeof bytes_sink);
    CHECK(bac_get_u8(&b, &u8) == BAC_E_ARG && bac_skip(&b, 1) == BAC_E_ARG);
    bac_buf_reader(&b, NULL, size + 1);
    CHECK(bac_err(&b) == BAC_E_ARG && bac_rewind(&b, 0) == BAC_E_ARG);
    bac_buf_writer(&b, NULL, size + 1);
    CHECK(bac_err(&b) == BAC_E_ARG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bac_buf_t b;
    bac_npdu_t n;
    bac_apdu_t a;

    bac_buf_reader(&b, data, size);
    if (bac_npdu_decode(&b, &n) >= 0) {
        check_cursor(&b);
        npdu_round_trip(&n);
        if (!n.network_msg && bac_apdu_decode(&b, &a) >= 0) {
            check_cursor(&b);
            apdu_round_trip(&a);
        }
    }
    check_cursor(&b);
    walk(data + b.pos, size - b.pos);
    walk(data, size);
    typed_decoders(data, size);
    encoders(data, size);
    raw_reads(data, size);
    return 0;
}
