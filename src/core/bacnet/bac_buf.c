/*
 * The bounded cursor every BACnet codec call works on, and raw octet access.
 */
#include "bac.h"

#include <string.h>

/* Lengths travel in int return values. */
_Static_assert(sizeof(int) >= 4, "int must hold BAC_BUF_MAX");

const char *bac_err_str(int err)
{
    switch (err) {
    case BAC_OK: return "BAC_OK";
    case BAC_E_NOSPACE: return "BAC_E_NOSPACE";
    case BAC_E_TRUNCATED: return "BAC_E_TRUNCATED";
    case BAC_E_TAG: return "BAC_E_TAG";
    case BAC_E_LENGTH: return "BAC_E_LENGTH";
    case BAC_E_RANGE: return "BAC_E_RANGE";
    case BAC_E_VALUE: return "BAC_E_VALUE";
    case BAC_E_CHARSET: return "BAC_E_CHARSET";
    case BAC_E_NESTING: return "BAC_E_NESTING";
    case BAC_E_ARG: return "BAC_E_ARG";
    default: return err >= 0 ? "BAC_OK" : "BAC_E_?";
    }
}

uint8_t bac_reject_for(const bac_buf_t *req)
{
    if (req->err == BAC_OK)
        return bac_left(req) ? BAC_REJECT_TOO_MANY_ARGUMENTS : BAC_REJECT_MISSING_REQUIRED_PARAMETER;
    return bac_reject_reason(req->err);
}

uint8_t bac_reject_reason(int err)
{
    switch (err) {
    case BAC_E_TRUNCATED: return BAC_REJECT_MISSING_REQUIRED_PARAMETER;
    case BAC_E_TAG:
    case BAC_E_LENGTH:
    case BAC_E_NESTING: return BAC_REJECT_INVALID_TAG;
    case BAC_E_RANGE:
    case BAC_E_VALUE: return BAC_REJECT_PARAMETER_OUT_OF_RANGE;
    default: return BAC_REJECT_OTHER;
    }
}

void bac_buf_reader(bac_buf_t *b, const uint8_t *data, size_t len)
{
    /* The role of a cursor is told by which pointer is set, so an empty input
     * given as NULL still needs a (never read) address. */
    static const uint8_t empty[1];

    b->rd = data != NULL ? data : empty;
    b->wr = NULL;
    b->len = len;
    b->pos = 0;
    b->err = BAC_OK;
    /* A NULL buffer with a length, or one whose length the int returns cannot carry,
     * is a dead cursor rather than a later out-of-bounds access. */
    if ((data == NULL && len != 0) || len > BAC_BUF_MAX) {
        b->len = 0;
        b->err = BAC_E_ARG;
    }
}

void bac_buf_writer(bac_buf_t *b, uint8_t *data, size_t cap)
{
    b->rd = NULL;
    b->wr = data;
    b->len = cap;
    b->pos = 0;
    b->err = BAC_OK;
    if (data == NULL || cap > BAC_BUF_MAX) {
        b->len = 0;
        b->err = BAC_E_ARG;
    }
}

int bac_fail(bac_buf_t *b, int err)
{
    if (b->err == BAC_OK)
        b->err = err;
    return b->err;
}

int bac_rewind(bac_buf_t *b, size_t mark)
{
    if (b->wr == NULL || mark > b->pos)
        return BAC_E_ARG;
    b->pos = mark;
    b->err = BAC_OK;
    return BAC_OK;
}

int bac_put_bytes(bac_buf_t *b, const uint8_t *p, size_t n)
{
    if (b->err)
        return b->err;
    if (b->wr == NULL || (p == NULL && n != 0))
        return bac_fail(b, BAC_E_ARG);
    if (n > b->len - b->pos)
        return bac_fail(b, BAC_E_NOSPACE);
    if (n != 0)
        memcpy(b->wr + b->pos, p, n);
    b->pos += n;
    return (int)n;
}

int bac_put_u8(bac_buf_t *b, uint8_t v)
{
    return bac_put_bytes(b, &v, 1);
}

int bac_put_u16(bac_buf_t *b, uint16_t v)
{
    const uint8_t o[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return bac_put_bytes(b, o, sizeof o);
}

int bac_put_u32(bac_buf_t *b, uint32_t v)
{
    const uint8_t o[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                          (uint8_t)v};
    return bac_put_bytes(b, o, sizeof o);
}

int bac_get_bytes(bac_buf_t *b, uint8_t *dst, size_t n)
{
    if (b->err)
        return b->err;
    if (b->rd == NULL || (dst == NULL && n != 0))
        return bac_fail(b, BAC_E_ARG);
    if (n > b->len - b->pos)
        return bac_fail(b, BAC_E_TRUNCATED);
    if (n != 0)
        memcpy(dst, b->rd + b->pos, n);
    b->pos += n;
    return (int)n;
}

int bac_skip(bac_buf_t *b, size_t n)
{
    if (b->err)
        return b->err;
    if (b->rd == NULL)
        return bac_fail(b, BAC_E_ARG);
    if (n > b->len - b->pos)
        return bac_fail(b, BAC_E_TRUNCATED);
    b->pos += n;
    return (int)n;
}

int bac_get_u8(bac_buf_t *b, uint8_t *v)
{
    return bac_get_bytes(b, v, 1);
}

int bac_get_u16(bac_buf_t *b, uint16_t *v)
{
    uint8_t o[2] = {0}; /* (filled when rc >= 0; GCC -O2 on ARM and s390x cannot see it) */
    int rc = bac_get_bytes(b, o, sizeof o);
    if (rc >= 0)
        *v = (uint16_t)((unsigned)o[0] << 8 | o[1]);
    return rc;
}

int bac_get_u32(bac_buf_t *b, uint32_t *v)
{
    uint8_t o[4] = {0};
    int rc = bac_get_bytes(b, o, sizeof o);
    if (rc >= 0)
        *v = (uint32_t)o[0] << 24 | (uint32_t)o[1] << 16 | (uint32_t)o[2] << 8 | o[3];
    return rc;
}
