/*
 * Clause 20.2: tag headers, the primitive values under application or context tags,
 * and skipping whole elements.
 *
 * Every element is written or read as a unit: its total size is known (writer) or
 * checked against what is left (reader) before the position moves, so a failed call
 * leaves the cursor where it was and never touches memory beyond the buffer.
 */
#include "bac.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(float) == 4, "REAL needs a 32-bit IEEE-754 float");
_Static_assert(sizeof(double) == 8, "Double needs a 64-bit IEEE-754 double");

/* The tag of a value: APP for application class (the number is the value's type),
 * else a context tag number 0..254. */
#define APP (-1)
#define HDR_MAX 7u /* number octet + extended number + 5 length octets */

static void be_put(uint8_t *o, uint32_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; v >>= 8)
        o[i] = (uint8_t)v;
}

static uint32_t be_get(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- headers ---------------------------------------------------------------------- */

static size_t hdr_number(uint8_t *h, bool ctx, uint8_t number, uint8_t lvt)
{
    const uint8_t cls = ctx ? 0x08u : 0u;

    if (number < 15) {
        h[0] = (uint8_t)(number << 4 | cls | lvt);
        return 1;
    }
    h[0] = (uint8_t)(0xF0u | cls | lvt);
    h[1] = number;
    return 2;
}

static size_t hdr_prim(uint8_t *h, bool ctx, uint8_t number, uint32_t len)
{
    size_t n;

    if (len < 5)
        return hdr_number(h, ctx, number, (uint8_t)len);
    n = hdr_number(h, ctx, number, 5);
    if (len <= 253) {
        h[n++] = (uint8_t)len;
    } else if (len <= 0xFFFFu) {
        h[n++] = 254;
        be_put(h + n, len, 2);
        n += 2;
    } else {
        h[n++] = 255;
        be_put(h + n, len, 4);
        n += 4;
    }
    return n;
}

/* Parse the header at p; returns its length or an error. Nothing about the content
 * is checked here: callers compare t->lvt with what is left. */
static int parse_tag(const uint8_t *p, size_t avail, bac_tag_t *t)
{
    size_t h = 1;
    uint8_t lvt, x;

    memset(t, 0, sizeof *t);
    if (avail < 1)
        return BAC_E_TRUNCATED;
    t->context = (p[0] & 0x08u) != 0;
    t->number = (uint8_t)(p[0] >> 4);
    t->kind = BAC_TAG_PRIMITIVE;
    lvt = p[0] & 0x07u;
    if (t->number == 15) {
        if (avail < 2)
            return BAC_E_TRUNCATED;
        if (p[1] == 255)
            return BAC_E_TAG;
        t->number = p[1];
        h = 2;
    }
    /* Application tags 13..15 are reserved (clause 20.2.1.2; extended numbers are for
     * context tags): no type says what the content is, so nothing can decode it. */
    if (!t->context && t->number > BAC_APP_OBJECT_ID)
        return BAC_E_TAG;
    /* An application Boolean carries its value in LVT: not a length, whatever it is. */
    if (!t->context && t->number == BAC_APP_BOOLEAN) {
        t->lvt = lvt;
        return (int)h;
    }
    if (lvt == 6 || lvt == 7) {
        /* Opening and closing tags exist only in the context class. */
        if (!t->context)
            return BAC_E_TAG;
        t->kind = lvt == 6 ? BAC_TAG_OPENING : BAC_TAG_CLOSING;
        t->lvt = 0;
        return (int)h;
    }
    if (lvt < 5) {
        t->lvt = lvt;
        return (int)h;
    }
    if (avail < h + 1)
        return BAC_E_TRUNCATED;
    x = p[h++];
    if (x < 254) {
        t->lvt = x;
    } else {
        const unsigned n = x == 254 ? 2 : 4;
        if (avail < h + n)
            return BAC_E_TRUNCATED;
        t->lvt = be_get(p + h, n);
        h += n;
    }
    return (int)h;
}

static bool is_reader(const bac_buf_t *b)
{
    return b->rd != NULL;
}

static bool is_writer(const bac_buf_t *b)
{
    return b->wr != NULL;
}

/* Write header (nh octets) + prefix + data as one unit. */
static int put_unit(bac_buf_t *b, const uint8_t *h, size_t nh, const uint8_t *pre,
                    size_t npre, const uint8_t *data, size_t n)
{
    size_t left;

    if (b->err)
        return b->err;
    if (!is_writer(b) || (data == NULL && n != 0))
        return bac_fail(b, BAC_E_ARG);
    left = b->len - b->pos;
    if (n > left || npre > left - n || nh > left - n - npre)
        return bac_fail(b, BAC_E_NOSPACE);
    memcpy(b->wr + b->pos, h, nh);
    if (npre != 0)
        memcpy(b->wr + b->pos + nh, pre, npre);
    if (n != 0)
        memcpy(b->wr + b->pos + nh + npre, data, n);
    b->pos += nh + npre + n;
    return (int)(nh + npre + n);
}

/* A primitive element: tag (APP or a context number) + optional prefix + data. */
static int put_elem(bac_buf_t *b, int tag, uint8_t type, const uint8_t *pre, size_t npre,
                    const uint8_t *data, size_t n)
{
    uint8_t h[HDR_MAX];
    size_t nh;

    if (b->err)
        return b->err;
    /* The common case, every value a property read answers with: a one-octet header
     * and at most four octets of content, written in one go. */
    if (tag < 15 && npre == 0 && n < 5 && b->wr != NULL && (data != NULL || n == 0) &&
        b->len - b->pos >= 1 + n) {
        uint8_t *w = b->wr + b->pos;
        w[0] = (uint8_t)((tag != APP ? (unsigned)tag << 4 | 0x08u : (unsigned)type << 4) | n);
        for (size_t k = 0; k < n; k++)
            w[1 + k] = data[k];
        b->pos += 1 + n;
        return (int)(1 + n);
    }
    if (tag > (int)BAC_TAG_NUMBER_MAX)
        return bac_fail(b, BAC_E_ARG);
    /* Longer than any buffer can be: the length would not even fit the header. */
    if (n > BAC_BUF_MAX - npre)
        return bac_fail(b, BAC_E_NOSPACE);
    nh = hdr_prim(h, tag != APP, tag != APP ? (uint8_t)tag : type, (uint32_t)(npre + n));
    return put_unit(b, h, nh, pre, npre, data, n);
}

int bac_enc_tag(bac_buf_t *b, bool context, uint8_t number, uint32_t len)
{
    uint8_t h[HDR_MAX];

    if (b->err)
        return b->err;
    if (number > BAC_TAG_NUMBER_MAX)
        return bac_fail(b, BAC_E_ARG);
    return put_unit(b, h, hdr_prim(h, context, number, len), NULL, 0, NULL, 0);
}

static int enc_fixed(bac_buf_t *b, uint8_t number, uint8_t lvt)
{
    uint8_t h[2];

    if (b->err)
        return b->err;
    if (number > BAC_TAG_NUMBER_MAX)
        return bac_fail(b, BAC_E_ARG);
    return put_unit(b, h, hdr_number(h, true, number, lvt), NULL, 0, NULL, 0);
}

int bac_enc_opening(bac_buf_t *b, uint8_t number)
{
    return enc_fixed(b, number, 6);
}

int bac_enc_closing(bac_buf_t *b, uint8_t number)
{
    return enc_fixed(b, number, 7);
}

int bac_peek_tag(const bac_buf_t *b, bac_tag_t *t)
{
    if (b->err)
        return b->err;
    if (!is_reader(b))
        return BAC_E_ARG;
    return parse_tag(b->rd + b->pos, b->len - b->pos, t);
}

int bac_dec_tag(bac_buf_t *b, bac_tag_t *t)
{
    bac_tag_t tmp;
    int h;

    if (b->err)
        return b->err;
    h = bac_peek_tag(b, &tmp);
    if (h < 0)
        return bac_fail(b, h);
    *t = tmp;
    b->pos += (size_t)h;
    return h;
}

static int dec_fixed(bac_buf_t *b, uint8_t number, uint8_t kind)
{
    bac_tag_t t;
    int h;

    if (b->err)
        return b->err;
    h = bac_peek_tag(b, &t);
    if (h < 0)
        return bac_fail(b, h);
    if (!t.context || t.kind != kind || t.number != number)
        return bac_fail(b, BAC_E_TAG);
    b->pos += (size_t)h;
    return h;
}

int bac_dec_opening(bac_buf_t *b, uint8_t number)
{
    return dec_fixed(b, number, BAC_TAG_OPENING);
}

int bac_dec_closing(bac_buf_t *b, uint8_t number)
{
    return dec_fixed(b, number, BAC_TAG_CLOSING);
}

static bool next_is(const bac_buf_t *b, bool ctx, uint8_t number, uint8_t kind)
{
    bac_tag_t t = {false, 0, 0, 0};

    /* Context tags below 15 are told by their first octet alone (the decoders' loops
     * ask this once per element, so it is worth the shortcut), unless that octet says
     * the number follows: a non-minimal extended number, which the decoders accept. */
    if (ctx && number < 15 && !b->err && b->rd != NULL && b->pos < b->len &&
        (b->rd[b->pos] >> 4) != 15) {
        uint8_t o = b->rd[b->pos], lvt = o & 0x07u;
        if ((o >> 4) != number || !(o & 0x08u))
            return false;
        if (kind == BAC_TAG_OPENING)
            return lvt == 6;
        if (kind == BAC_TAG_CLOSING)
            return lvt == 7;
        if (lvt < 5)
            return true;
    }
    return bac_peek_tag(b, &t) >= 0 && t.context == ctx && t.number == number &&
           t.kind == kind;
}

bool bac_is_context(const bac_buf_t *b, uint8_t number)
{
    return next_is(b, true, number, BAC_TAG_PRIMITIVE);
}

bool bac_is_opening(const bac_buf_t *b, uint8_t number)
{
    return next_is(b, true, number, BAC_TAG_OPENING);
}

bool bac_is_closing(const bac_buf_t *b, uint8_t number)
{
    return next_is(b, true, number, BAC_TAG_CLOSING);
}

bool bac_is_app(const bac_buf_t *b, uint8_t type)
{
    return next_is(b, false, type, BAC_TAG_PRIMITIVE);
}

int bac_skip_element(bac_buf_t *b)
{
    /* Closing tags must match their opening tags, hence the stack rather than a
     * depth counter; its bound also bounds the work on hostile input. */
    uint8_t open[BAC_MAX_DEPTH];
    unsigned depth = 0;
    size_t at;

    if (b->err)
        return b->err;
    if (!is_reader(b))
        return bac_fail(b, BAC_E_ARG);
    at = b->pos;
    do {
        bac_tag_t t;
        const size_t left = b->len - at;
        const int h = parse_tag(b->rd + at, left, &t);
        size_t content = 0;

        if (h < 0)
            return bac_fail(b, h);
        if (t.kind == BAC_TAG_OPENING) {
            if (depth == BAC_MAX_DEPTH)
                return bac_fail(b, BAC_E_NESTING);
            open[depth++] = t.number;
        } else if (t.kind == BAC_TAG_CLOSING) {
            if (depth == 0 || open[depth - 1] != t.number)
                return bac_fail(b, BAC_E_NESTING);
            depth--;
        } else if (t.context || t.number != BAC_APP_BOOLEAN) {
            content = t.lvt;
        }
        if (content > left - (size_t)h)
            return bac_fail(b, BAC_E_TRUNCATED);
        at += (size_t)h + content;
    } while (depth > 0);
    {
        const size_t n = at - b->pos;
        b->pos = at;
        return (int)n;
    }
}

/* ---- primitive values ------------------------------------------------------------- */

/* A primitive element checked to be the expected tag and wholly present. */
typedef struct {
    const uint8_t *p; /* content */
    size_t n;         /* content length (0 for an application Boolean) */
    uint32_t lvt;     /* the raw LVT (the value of an application Boolean) */
    size_t total;     /* header + content */
} elem_t;

static int open_elem(bac_buf_t *b, int tag, uint8_t type, elem_t *e)
{
    bac_tag_t t;
    int h;
    bool app_bool;

    memset(e, 0, sizeof *e);
    if (b->err)
        return b->err;
    if (!is_reader(b) || tag > (int)BAC_TAG_NUMBER_MAX)
        return bac_fail(b, BAC_E_ARG);
    /* The common case: a one-octet header with a short length (LVT 0..4), not a Boolean. */
    if (b->pos < b->len) {
        uint8_t o = b->rd[b->pos], lvt = o & 0x07u;
        bool ctx = (o & 0x08u) != 0;
        if ((o >> 4) < 15 && lvt < 5 && ctx == (tag != APP) &&
            (o >> 4) == (tag != APP ? (unsigned)tag : type) && !(tag == APP && type == BAC_APP_BOOLEAN)) {
            if (lvt > b->len - b->pos - 1)
                return bac_fail(b, BAC_E_TRUNCATED);
            e->n = e->lvt = lvt;
            e->p = b->rd + b->pos + 1;
            e->total = 1 + (size_t)lvt;
            return BAC_OK;
        }
    }
    h = parse_tag(b->rd + b->pos, b->len - b->pos, &t);
    if (h < 0)
        return bac_fail(b, h);
    if (t.kind != BAC_TAG_PRIMITIVE || t.context != (tag != APP) ||
        t.number != (tag != APP ? (uint8_t)tag : type))
        return bac_fail(b, BAC_E_TAG);
    app_bool = tag == APP && type == BAC_APP_BOOLEAN;
    e->n = app_bool ? 0 : t.lvt;
    if (e->n > b->len - b->pos - (size_t)h)
        return bac_fail(b, BAC_E_TRUNCATED);
    e->lvt = t.lvt;
    e->p = b->rd + b->pos + h;
    e->total = (size_t)h + e->n;
    return BAC_OK;
}

static int take(bac_buf_t *b, const elem_t *e)
{
    b->pos += e->total;
    return (int)e->total;
}

/* Null */

static int enc_null(bac_buf_t *b, int tag)
{
    return put_elem(b, tag, BAC_APP_NULL, NULL, 0, NULL, 0);
}

static int dec_null(bac_buf_t *b, int tag)
{
    elem_t e;
    int rc = open_elem(b, tag, BAC_APP_NULL, &e);

    if (rc)
        return rc;
    if (e.n != 0)
        return bac_fail(b, BAC_E_LENGTH);
    return take(b, &e);
}

/* Boolean: the application form has no content, the context form one octet. */

static int enc_bool(bac_buf_t *b, int tag, bool v)
{
    const uint8_t o = v ? 1 : 0;

    if (tag == APP) {
        uint8_t h[1];
        if (b->err)
            return b->err;
        return put_unit(b, h, hdr_number(h, false, BAC_APP_BOOLEAN, o), NULL, 0, NULL, 0);
    }
    return put_elem(b, tag, BAC_APP_BOOLEAN, NULL, 0, &o, 1);
}

static int dec_bool(bac_buf_t *b, int tag, bool *v)
{
    elem_t e;
    uint32_t x;
    int rc = open_elem(b, tag, BAC_APP_BOOLEAN, &e);

    if (rc)
        return rc;
    if (tag == APP) {
        x = e.lvt;
    } else {
        if (e.n != 1)
            return bac_fail(b, BAC_E_LENGTH);
        x = e.p[0];
    }
    if (x > 1)
        return bac_fail(b, BAC_E_VALUE);
    *v = x == 1;
    return take(b, &e);
}

/* Unsigned and Enumerated: big endian in the fewest octets (1..4). */

static unsigned uint_octets(uint32_t v)
{
    return v < 0x100u ? 1 : v < 0x10000u ? 2 : v < 0x1000000u ? 3 : 4;
}

static int enc_uint(bac_buf_t *b, int tag, uint8_t type, uint32_t v)
{
    uint8_t o[4];
    const unsigned n = uint_octets(v);

    be_put(o, v, n);
    return put_elem(b, tag, type, NULL, 0, o, n);
}

static int dec_uint(bac_buf_t *b, int tag, uint8_t type, uint32_t *v)
{
    elem_t e;
    int rc = open_elem(b, tag, type, &e);

    if (rc)
        return rc;
    if (e.n == 0)
        return bac_fail(b, BAC_E_LENGTH);
    if (e.n > 4)
        return bac_fail(b, BAC_E_RANGE);
    *v = be_get(e.p, (unsigned)e.n);
    return take(b, &e);
}

/* Signed: two's complement in the fewest octets. */

static int enc_sint(bac_buf_t *b, int tag, int32_t v)
{
    uint8_t o[4];
    const unsigned n = (v >= -128 && v <= 127)           ? 1
                       : (v >= -32768 && v <= 32767)     ? 2
                       : (v >= -8388608 && v <= 8388607) ? 3
                                                         : 4;

    be_put(o, (uint32_t)v, n);
    return put_elem(b, tag, BAC_APP_SIGNED, NULL, 0, o, n);
}

static int dec_sint(bac_buf_t *b, int tag, int32_t *v)
{
    elem_t e;
    uint32_t u;
    int rc = open_elem(b, tag, BAC_APP_SIGNED, &e);

    if (rc)
        return rc;
    if (e.n == 0)
        return bac_fail(b, BAC_E_LENGTH);
    if (e.n > 4)
        return bac_fail(b, BAC_E_RANGE);
    u = (e.p[0] & 0x80u) ? UINT32_MAX : 0; /* sign extension */
    for (size_t i = 0; i < e.n; i++)
        u = u << 8 | e.p[i];
    /* Converting an out-of-range uint32_t to int32_t is implementation-defined;
     * this is not. */
    *v = u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)~u - 1;
    return take(b, &e);
}

/* REAL and Double: IEEE-754 big endian, one canonical quiet NaN. */

static int enc_real(bac_buf_t *b, int tag, float v)
{
    uint8_t o[4];
    uint32_t u = 0x7FC00000u;

    if (!isnan(v))
        memcpy(&u, &v, sizeof u);
    be_put(o, u, 4);
    return put_elem(b, tag, BAC_APP_REAL, NULL, 0, o, 4);
}

static int dec_real(bac_buf_t *b, int tag, float *v)
{
    elem_t e;
    uint32_t u;
    int rc = open_elem(b, tag, BAC_APP_REAL, &e);

    if (rc)
        return rc;
    if (e.n != 4)
        return bac_fail(b, BAC_E_LENGTH);
    u = be_get(e.p, 4);
    memcpy(v, &u, sizeof u);
    return take(b, &e);
}

static int enc_double(bac_buf_t *b, int tag, double v)
{
    uint8_t o[8];
    uint64_t u;

    /* A Double is only carried here: its NaNs are found from the bits, so that no
     * double-precision routine is needed on a single-precision FPU. */
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7FFFFFFFFFFFFFFFu) > 0x7FF0000000000000u)
        u = 0x7FF8000000000000u;
    be_put(o, (uint32_t)(u >> 32), 4);
    be_put(o + 4, (uint32_t)u, 4);
    return put_elem(b, tag, BAC_APP_DOUBLE, NULL, 0, o, 8);
}

static int dec_double(bac_buf_t *b, int tag, double *v)
{
    elem_t e;
    uint64_t u;
    int rc = open_elem(b, tag, BAC_APP_DOUBLE, &e);

    if (rc)
        return rc;
    if (e.n != 8)
        return bac_fail(b, BAC_E_LENGTH);
    u = (uint64_t)be_get(e.p, 4) << 32 | be_get(e.p + 4, 4);
    memcpy(v, &u, sizeof u);
    return take(b, &e);
}

/* Octet String */

static int enc_octets(bac_buf_t *b, int tag, const uint8_t *p, size_t n)
{
    return put_elem(b, tag, BAC_APP_OCTET_STRING, NULL, 0, p, n);
}

static int dec_octets(bac_buf_t *b, int tag, bac_octets_t *v)
{
    elem_t e;
    int rc = open_elem(b, tag, BAC_APP_OCTET_STRING, &e);

    if (rc)
        return rc;
    v->data = e.p;
    v->len = e.n;
    return take(b, &e);
}

/* Character String: a character-set octet, then the characters. */

static int enc_charstring(bac_buf_t *b, int tag, const char *s, size_t n)
{
    static const uint8_t charset = BAC_CHARSET_ANSI_X34;

    return put_elem(b, tag, BAC_APP_CHARACTER_STRING, &charset, 1, (const uint8_t *)s, n);
}

static int dec_charstring(bac_buf_t *b, int tag, bac_str_t *v)
{
    elem_t e;
    int rc = open_elem(b, tag, BAC_APP_CHARACTER_STRING, &e);

    if (rc)
        return rc;
    if (e.n == 0)
        return bac_fail(b, BAC_E_LENGTH);
    /* Reported even on failure so that the caller can name it in its error. */
    v->charset = e.p[0];
    if (e.p[0] != BAC_CHARSET_ANSI_X34)
        return bac_fail(b, BAC_E_CHARSET);
    v->data = e.p + 1;
    v->len = e.n - 1;
    return take(b, &e);
}

/* Bit String: an unused-bits octet, then the bits from the MSB of the first octet. */

void bac_bits_init(bac_bits_t *bs, unsigned nbits)
{
    memset(bs, 0, sizeof *bs);
    bs->nbits = (uint16_t)(nbits <= BAC_BITS_MAX ? nbits : BAC_BITS_MAX);
}

void bac_bits_set(bac_bits_t *bs, unsigned bit, bool on)
{
    const uint8_t mask = (uint8_t)(0x80u >> (bit % 8));

    if (bit >= bs->nbits || bit >= BAC_BITS_MAX)
        return;
    if (on)
        bs->data[bit / 8] |= mask;
    else
        bs->data[bit / 8] &= (uint8_t)~mask;
}

bool bac_bits_get(const bac_bits_t *bs, unsigned bit)
{
    if (bit >= bs->nbits || bit >= BAC_BITS_MAX)
        return false;
    return (bs->data[bit / 8] & (0x80u >> (bit % 8))) != 0;
}

static int enc_bits(bac_buf_t *b, int tag, const bac_bits_t *bs)
{
    uint8_t o[1 + BAC_BITS_MAX / 8];
    size_t n;

    if (b->err)
        return b->err;
    if (bs == NULL)
        return bac_fail(b, BAC_E_ARG);
    if (bs->nbits > BAC_BITS_MAX)
        return bac_fail(b, BAC_E_RANGE);
    n = (bs->nbits + 7u) / 8u;
    o[0] = (uint8_t)(n * 8 - bs->nbits);
    memcpy(o + 1, bs->data, n);
    /* The unused bits go out as zeros whatever the caller left in them. */
    if (n != 0)
        o[n] &= (uint8_t)(0xFFu << o[0]);
    return put_elem(b, tag, BAC_APP_BIT_STRING, NULL, 0, o, n + 1);
}

static int dec_bits(bac_buf_t *b, int tag, bac_bits_t *v)
{
    elem_t e;
    size_t n;
    uint8_t unused;
    int rc = open_elem(b, tag, BAC_APP_BIT_STRING, &e);

    if (rc)
        return rc;
    if (e.n == 0)
        return bac_fail(b, BAC_E_LENGTH);
    unused = e.p[0];
    n = e.n - 1;
    if (unused > 7 || (n == 0 && unused != 0))
        return bac_fail(b, BAC_E_VALUE);
    if (n > BAC_BITS_MAX / 8)
        return bac_fail(b, BAC_E_RANGE);
    memset(v, 0, sizeof *v);
    v->nbits = (uint16_t)(n * 8 - unused);
    memcpy(v->data, e.p + 1, n);
    if (n != 0)
        v->data[n - 1] &= (uint8_t)(0xFFu << unused);
    return take(b, &e);
}

/* Date, Time: four raw octets each (a wildcard is 0xFF on the wire and here). */

static int enc_date(bac_buf_t *b, int tag, bac_date_t d)
{
    const uint8_t o[4] = {d.year, d.month, d.day, d.wday};

    return put_elem(b, tag, BAC_APP_DATE, NULL, 0, o, 4);
}

static int dec_date(bac_buf_t *b, int tag, bac_date_t *v)
{
    elem_t e;
    int rc = open_elem(b, tag, BAC_APP_DATE, &e);

    if (rc)
        return rc;
    if (e.n != 4)
        return bac_fail(b, BAC_E_LENGTH);
    v->year = e.p[0];
    v->month = e.p[1];
    v->day = e.p[2];
    v->wday = e.p[3];
    return take(b, &e);
}

static int enc_time(bac_buf_t *b, int tag, bac_time_t t)
{
    const uint8_t o[4] = {t.hour, t.min, t.sec, t.hundredths};

    return put_elem(b, tag, BAC_APP_TIME, NULL, 0, o, 4);
}

static int dec_time(bac_buf_t *b, int tag, bac_time_t *v)
{
    elem_t e;
    int rc = open_elem(b, tag, BAC_APP_TIME, &e);

    if (rc)
        return rc;
    if (e.n != 4)
        return bac_fail(b, BAC_E_LENGTH);
    v->hour = e.p[0];
    v->min = e.p[1];
    v->sec = e.p[2];
    v->hundredths = e.p[3];
    return take(b, &e);
}

/* BACnetObjectIdentifier: type (10 bits) << 22 | instance (22 bits). */

static int enc_oid(bac_buf_t *b, int tag, bac_oid_t id)
{
    uint8_t o[4];

    if (b->err)
        return b->err;
    if (id.type > BAC_MAX_OBJECT_TYPE || id.instance > BAC_MAX_INSTANCE)
        return bac_fail(b, BAC_E_RANGE);
    be_put(o, (uint32_t)id.type << 22 | id.instance, 4);
    return put_elem(b, tag, BAC_APP_OBJECT_ID, NULL, 0, o, 4);
}

static int dec_oid(bac_buf_t *b, int tag, bac_oid_t *v)
{
    elem_t e;
    uint32_t u;
    int rc = open_elem(b, tag, BAC_APP_OBJECT_ID, &e);

    if (rc)
        return rc;
    if (e.n != 4)
        return bac_fail(b, BAC_E_LENGTH);
    u = be_get(e.p, 4);
    v->type = (uint16_t)(u >> 22);
    v->instance = u & BAC_MAX_INSTANCE;
    return take(b, &e);
}

/* ---- the public pairs: application tag, context tag ------------------------------- */

int bac_enc_null(bac_buf_t *b) { return enc_null(b, APP); }
int bac_enc_bool(bac_buf_t *b, bool v) { return enc_bool(b, APP, v); }
int bac_enc_unsigned(bac_buf_t *b, uint32_t v) { return enc_uint(b, APP, BAC_APP_UNSIGNED, v); }
int bac_enc_signed(bac_buf_t *b, int32_t v) { return enc_sint(b, APP, v); }
int bac_enc_real(bac_buf_t *b, float v) { return enc_real(b, APP, v); }
int bac_enc_double(bac_buf_t *b, double v) { return enc_double(b, APP, v); }
int bac_enc_octets(bac_buf_t *b, const uint8_t *p, size_t n) { return enc_octets(b, APP, p, n); }
int bac_enc_charstring(bac_buf_t *b, const char *s, size_t n) { return enc_charstring(b, APP, s, n); }
int bac_enc_bits(bac_buf_t *b, const bac_bits_t *bs) { return enc_bits(b, APP, bs); }
int bac_enc_enum(bac_buf_t *b, uint32_t v) { return enc_uint(b, APP, BAC_APP_ENUMERATED, v); }
int bac_enc_date(bac_buf_t *b, bac_date_t d) { return enc_date(b, APP, d); }
int bac_enc_time(bac_buf_t *b, bac_time_t t) { return enc_time(b, APP, t); }
int bac_enc_oid(bac_buf_t *b, bac_oid_t id) { return enc_oid(b, APP, id); }

int bac_enc_ctx_null(bac_buf_t *b, uint8_t tag) { return enc_null(b, tag); }
int bac_enc_ctx_bool(bac_buf_t *b, uint8_t tag, bool v) { return enc_bool(b, tag, v); }
int bac_enc_ctx_unsigned(bac_buf_t *b, uint8_t tag, uint32_t v) { return enc_uint(b, tag, BAC_APP_UNSIGNED, v); }
int bac_enc_ctx_signed(bac_buf_t *b, uint8_t tag, int32_t v) { return enc_sint(b, tag, v); }
int bac_enc_ctx_real(bac_buf_t *b, uint8_t tag, float v) { return enc_real(b, tag, v); }
int bac_enc_ctx_double(bac_buf_t *b, uint8_t tag, double v) { return enc_double(b, tag, v); }
int bac_enc_ctx_octets(bac_buf_t *b, uint8_t tag, const uint8_t *p, size_t n) { return enc_octets(b, tag, p, n); }
int bac_enc_ctx_charstring(bac_buf_t *b, uint8_t tag, const char *s, size_t n) { return enc_charstring(b, tag, s, n); }
int bac_enc_ctx_bits(bac_buf_t *b, uint8_t tag, const bac_bits_t *bs) { return enc_bits(b, tag, bs); }
int bac_enc_ctx_enum(bac_buf_t *b, uint8_t tag, uint32_t v) { return enc_uint(b, tag, BAC_APP_ENUMERATED, v); }
int bac_enc_ctx_date(bac_buf_t *b, uint8_t tag, bac_date_t d) { return enc_date(b, tag, d); }
int bac_enc_ctx_time(bac_buf_t *b, uint8_t tag, bac_time_t t) { return enc_time(b, tag, t); }
int bac_enc_ctx_oid(bac_buf_t *b, uint8_t tag, bac_oid_t id) { return enc_oid(b, tag, id); }

int bac_dec_null(bac_buf_t *b) { return dec_null(b, APP); }
int bac_dec_bool(bac_buf_t *b, bool *v) { return dec_bool(b, APP, v); }
int bac_dec_unsigned(bac_buf_t *b, uint32_t *v) { return dec_uint(b, APP, BAC_APP_UNSIGNED, v); }
int bac_dec_signed(bac_buf_t *b, int32_t *v) { return dec_sint(b, APP, v); }
int bac_dec_real(bac_buf_t *b, float *v) { return dec_real(b, APP, v); }
int bac_dec_double(bac_buf_t *b, double *v) { return dec_double(b, APP, v); }
int bac_dec_octets(bac_buf_t *b, bac_octets_t *v) { return dec_octets(b, APP, v); }
int bac_dec_charstring(bac_buf_t *b, bac_str_t *v) { return dec_charstring(b, APP, v); }
int bac_dec_bits(bac_buf_t *b, bac_bits_t *v) { return dec_bits(b, APP, v); }
int bac_dec_enum(bac_buf_t *b, uint32_t *v) { return dec_uint(b, APP, BAC_APP_ENUMERATED, v); }
int bac_dec_date(bac_buf_t *b, bac_date_t *v) { return dec_date(b, APP, v); }
int bac_dec_time(bac_buf_t *b, bac_time_t *v) { return dec_time(b, APP, v); }
int bac_dec_oid(bac_buf_t *b, bac_oid_t *v) { return dec_oid(b, APP, v); }

int bac_dec_ctx_null(bac_buf_t *b, uint8_t tag) { return dec_null(b, tag); }
int bac_dec_ctx_bool(bac_buf_t *b, uint8_t tag, bool *v) { return dec_bool(b, tag, v); }
int bac_dec_ctx_unsigned(bac_buf_t *b, uint8_t tag, uint32_t *v) { return dec_uint(b, tag, BAC_APP_UNSIGNED, v); }
int bac_dec_ctx_signed(bac_buf_t *b, uint8_t tag, int32_t *v) { return dec_sint(b, tag, v); }
int bac_dec_ctx_real(bac_buf_t *b, uint8_t tag, float *v) { return dec_real(b, tag, v); }
int bac_dec_ctx_double(bac_buf_t *b, uint8_t tag, double *v) { return dec_double(b, tag, v); }
int bac_dec_ctx_octets(bac_buf_t *b, uint8_t tag, bac_octets_t *v) { return dec_octets(b, tag, v); }
int bac_dec_ctx_charstring(bac_buf_t *b, uint8_t tag, bac_str_t *v) { return dec_charstring(b, tag, v); }
int bac_dec_ctx_bits(bac_buf_t *b, uint8_t tag, bac_bits_t *v) { return dec_bits(b, tag, v); }
int bac_dec_ctx_enum(bac_buf_t *b, uint8_t tag, uint32_t *v) { return dec_uint(b, tag, BAC_APP_ENUMERATED, v); }
int bac_dec_ctx_date(bac_buf_t *b, uint8_t tag, bac_date_t *v) { return dec_date(b, tag, v); }
int bac_dec_ctx_time(bac_buf_t *b, uint8_t tag, bac_time_t *v) { return dec_time(b, tag, v); }
int bac_dec_ctx_oid(bac_buf_t *b, uint8_t tag, bac_oid_t *v) { return dec_oid(b, tag, v); }
