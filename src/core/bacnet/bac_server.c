/*
 * The BACnet application-layer server: one received NPDU in, at most one NPDU out.
 * Services: ReadProperty, ReadPropertyMultiple, WriteProperty, DeviceCommunication-
 * Control, ReinitializeDevice, ReadRange (confirmed); Who-Is, Who-Has, TimeSynchronization
 * (unconfirmed). Everything else confirmed is rejected as unrecognized.
 *
 * Replies never exceed 480 octets nor the client's max-APDU: one that would is an Abort
 * segmentation-not-supported (DECISIONS P3). Malformed requests get a Reject, or are
 * dropped where no reply is possible; nothing from the wire is trusted.
 */
#include <string.h>

#include "bac.h"
#include "objects/obj.h"

#define MAX_APDU OBJ_MAX_APDU

void bac_server_init(bac_server_t *s, struct obj_device *dev, const char *password)
{
    memset(s, 0, sizeof *s);
    s->dev = dev;
    if (password) {
        size_t n = strlen(password);
        if (n > BAC_PASSWORD_MAX)
            n = BAC_PASSWORD_MAX;
        memcpy(s->password, password, n);
    }
}

void bac_server_tick(bac_server_t *s, uint32_t now_ms)
{
    if (!s->dcc_timed)
        return;
    /* Unsigned elapsed time: correct across the 49-day wrap of a ms counter. */
    uint32_t elapsed = now_ms - s->dcc_last_ms;
    s->dcc_last_ms = now_ms;
    if (elapsed < s->dcc_left_ms) {
        s->dcc_left_ms -= elapsed;
        return;
    }
    s->dcc_left_ms = 0;
    s->dcc = BAC_DCC_ENABLE;
    s->dcc_timed = false;
}

bool bac_server_reinit_requested(bac_server_t *s, uint8_t *state)
{
    if (!s->reinit_pending)
        return false;
    s->reinit_pending = false;
    if (state)
        *state = s->reinit_state;
    /* A restart re-enables communication: DCC is not kept over a reset. */
    s->dcc = BAC_DCC_ENABLE;
    s->dcc_timed = false;
    return true;
}

/* ---- reply assembly ----------------------------------------------------------------- */

typedef struct {
    bac_buf_t apdu;           /* the reply APDU, capped at the client's max */
    uint8_t buf[MAX_APDU];
    uint8_t invoke_id;
    uint8_t service;
} reply_t;

static void reply_start(reply_t *r, const bac_apdu_t *req)
{
    size_t cap = req->max_apdu ? req->max_apdu : 50; /* reserved codes: assume the least */
    if (cap > MAX_APDU)
        cap = MAX_APDU;
    bac_buf_writer(&r->apdu, r->buf, cap);
    r->invoke_id = req->invoke_id;
    r->service = req->service;
}

static void reply_reject(reply_t *r, uint8_t reason)
{
    bac_rewind(&r->apdu, 0);
    bac_enc_reject(&r->apdu, r->invoke_id, reason);
}

static void reply_abort(reply_t *r, uint8_t reason)
{
    bac_rewind(&r->apdu, 0);
    bac_enc_abort(&r->apdu, r->invoke_id, reason, true);
}

static void reply_error(reply_t *r, uint32_t cls, uint32_t code)
{
    bac_rewind(&r->apdu, 0);
    bac_enc_error(&r->apdu, r->invoke_id, r->service, cls, code);
}

/* A Complex-ACK that ran out of room means the answer needs segmentation. */
static void reply_check_fit(reply_t *r)
{
    if (bac_err(&r->apdu) == BAC_E_NOSPACE)
        reply_abort(r, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED);
}


/* ---- ReadProperty --------------------------------------------------------------------- */

typedef struct {
    bac_oid_t oid;
    uint32_t prop;
    uint32_t index;
} prop_ref_t;

static void svc_read_property(bac_server_t *s, bac_buf_t *req, reply_t *r)
{
    prop_ref_t ref = {.index = OBJ_NO_INDEX};
    bac_dec_ctx_oid(req, 0, &ref.oid);
    bac_dec_ctx_enum(req, 1, &ref.prop);
    if (bac_is_context(req, 2))
        bac_dec_ctx_unsigned(req, 2, &ref.index);
    if (!bac_done(req)) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    bac_buf_t *a = &r->apdu;
    bac_enc_complex_ack(a, r->invoke_id, r->service);
    bac_enc_ctx_oid(a, 0, ref.oid);
    bac_enc_ctx_enum(a, 1, ref.prop);
    if (ref.index != OBJ_NO_INDEX)
        bac_enc_ctx_unsigned(a, 2, ref.index);
    bac_enc_opening(a, 3);
    obj_err_t err;
    int rc = obj_read(s->dev, ref.oid, ref.prop, ref.index, a, &err);
    if (rc == OBJ_ERROR) {
        reply_error(r, err.cls, err.code);
        return;
    }
    bac_enc_closing(a, 3);
    reply_check_fit(r);
}

/* ---- ReadPropertyMultiple ------------------------------------------------------------- */

/* One pass over the request, encoding the results into ack as it goes. Stops at the
 * first error of either cursor. */
static int rpm_pass(bac_server_t *s, bac_buf_t *req, bac_buf_t *ack)
{
    int specs = 0;
    while (bac_left(req) && bac_err(req) == BAC_OK) {
        bac_oid_t oid;
        bac_dec_ctx_oid(req, 0, &oid);
        bac_dec_opening(req, 1);
        oid = obj_resolve(s->dev, oid);
        bac_enc_ctx_oid(ack, 0, oid);
        bac_enc_opening(ack, 1);
        int props = 0;
        while (bac_err(req) == BAC_OK && !bac_is_closing(req, 1)) {
            uint32_t prop, index = OBJ_NO_INDEX;
            if (bac_dec_ctx_enum(req, 0, &prop) < 0)
                break;
            if (bac_is_context(req, 1))
                bac_dec_ctx_unsigned(req, 1, &index);
            props++;
            uint32_t list[32];
            size_t n = 1;
            list[0] = prop;
            bool expand = prop == BAC_PROP_ALL || prop == BAC_PROP_REQUIRED || prop == BAC_PROP_OPTIONAL;
            if (expand && obj_exists(s->dev, oid) && index == OBJ_NO_INDEX) {
                int which = prop == BAC_PROP_ALL ? OBJ_PROPS_ALL
                            : prop == BAC_PROP_REQUIRED ? OBJ_PROPS_REQUIRED : OBJ_PROPS_OPTIONAL;
                n = obj_props(s->dev, oid, which, list, 32);
            }
            for (size_t k = 0; k < n; k++) {
                obj_err_t err = {BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_ARRAY_INDEX};
                bac_enc_ctx_enum(ack, 2, list[k]);
                if (index != OBJ_NO_INDEX)
                    bac_enc_ctx_unsigned(ack, 3, index);
                size_t mark = bac_pos(ack);
                bac_enc_opening(ack, 4);
                int rc = OBJ_ERROR;
                if (!expand)
                    rc = obj_read(s->dev, oid, list[k], index, ack, &err);
                else if (!obj_exists(s->dev, oid))
                    err = (obj_err_t){BAC_ERRCLASS_OBJECT, BAC_ERR_UNKNOWN_OBJECT};
                else if (index == OBJ_NO_INDEX)
                    rc = obj_read(s->dev, oid, list[k], index, ack, &err);
                if (rc == OBJ_ERROR) {
                    /* Per-property errors go inside the ACK. */
                    bac_rewind(ack, mark);
                    bac_enc_opening(ack, 5);
                    bac_enc_enum(ack, err.cls);
                    bac_enc_enum(ack, err.code);
                    bac_enc_closing(ack, 5);
                } else {
                    bac_enc_closing(ack, 4);
                }
                if (bac_err(ack) != BAC_OK)
                    return bac_err(ack);
            }
        }
        bac_dec_closing(req, 1);
        if (props == 0)
            bac_fail(req, BAC_E_TAG); /* an empty property list is not a request */
        bac_enc_closing(ack, 1);
        specs++;
    }
    if (specs == 0)
        bac_fail(req, BAC_E_TRUNCATED);
    return bac_err(req);
}

static void svc_read_property_multiple(bac_server_t *s, bac_buf_t *req, reply_t *r)
{
    /* One pass: reads have no side effects, so a request found malformed halfway is
     * answered by rewinding the ACK into a Reject. */
    bac_enc_complex_ack(&r->apdu, r->invoke_id, r->service);
    rpm_pass(s, req, &r->apdu);
    if (bac_err(&r->apdu) == BAC_E_NOSPACE) {
        reply_abort(r, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED); /* it would need segments */
        return;
    }
    if (bac_err(req) != BAC_OK || !bac_done(req)) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    reply_check_fit(r);
}

/* ---- WriteProperty --------------------------------------------------------------------- */

static void svc_write_property(bac_server_t *s, bac_buf_t *req, reply_t *r)
{
    prop_ref_t ref = {.index = OBJ_NO_INDEX};
    uint32_t priority = 0;
    bool has_priority = false;
    bac_dec_ctx_oid(req, 0, &ref.oid);
    bac_dec_ctx_enum(req, 1, &ref.prop);
    if (bac_is_context(req, 2))
        bac_dec_ctx_unsigned(req, 2, &ref.index);
    bac_dec_opening(req, 3);
    size_t start = bac_pos(req);
    while (bac_err(req) == BAC_OK && !bac_is_closing(req, 3))
        if (bac_skip_element(req) < 0)
            break;
    size_t end = bac_pos(req);
    bac_dec_closing(req, 3);
    if (bac_is_context(req, 4)) {
        bac_dec_ctx_unsigned(req, 4, &priority);
        has_priority = true;
    }
    if (!bac_done(req) || end == start) {
        reply_reject(r, end == start && bac_err(req) == BAC_OK ? BAC_REJECT_MISSING_REQUIRED_PARAMETER
                                                               : bac_reject_for(req));
        return;
    }
    if (has_priority && (priority < 1 || priority > 16)) {
        reply_reject(r, BAC_REJECT_PARAMETER_OUT_OF_RANGE);
        return;
    }
    bac_buf_t value;
    bac_buf_reader(&value, req->rd + start, end - start);
    obj_err_t err;
    if (obj_write(s->dev, ref.oid, ref.prop, ref.index, &value, (uint8_t)priority, &err) == OBJ_ERROR) {
        reply_error(r, err.cls, err.code);
        return;
    }
    bac_error_t e = {BAC_ERRCLASS_DEVICE, BAC_ERR_OPERATIONAL_PROBLEM};
    if (s->on_write && s->on_write(s->on_write_ctx, &e) != 0) {
        reply_error(r, e.cls, e.code); /* not durable: the host has undone the write */
        return;
    }
    bac_enc_simple_ack(&r->apdu, r->invoke_id, r->service);
}

/* ---- ReadRange ------------------------------------------------------------------------------ */

/* The most records a reply can carry: each takes at least 17 octets (a log-status). */
#define RR_MAX (OBJ_MAX_APDU / 17 + 1)

/* Octets one record takes (encoded into a scratch cursor). */
static size_t record_size(const tl_record_t *r)
{
    uint8_t tmp[64];
    bac_buf_t b;
    bac_buf_writer(&b, tmp, sizeof tmp);
    tl_encode_record(&b, r);
    return bac_pos(&b);
}

static void svc_read_range(bac_server_t *s, bac_buf_t *req, reply_t *r)
{
    prop_ref_t ref = {.index = OBJ_NO_INDEX};
    tl_range_t rr = {.by = TL_RANGE_ALL, .count = 1};
    bac_dec_ctx_oid(req, 0, &ref.oid);
    bac_dec_ctx_enum(req, 1, &ref.prop);
    if (bac_is_context(req, 2))
        bac_dec_ctx_unsigned(req, 2, &ref.index);
    if (bac_is_opening(req, 3) || bac_is_opening(req, 6)) {
        uint8_t tag = bac_is_opening(req, 3) ? 3 : 6;
        rr.by = tag == 3 ? TL_RANGE_POSITION : TL_RANGE_SEQUENCE;
        bac_dec_opening(req, tag);
        bac_dec_unsigned(req, &rr.ref);
        bac_dec_signed(req, &rr.count);
        bac_dec_closing(req, tag);
    } else if (bac_is_opening(req, 7) || bac_is_opening(req, 4)) {
        /* [4] is 135-2004's byTime; later editions moved it to [7]: read both. */
        uint8_t tag = bac_is_opening(req, 7) ? 7 : 4;
        bac_date_t d;
        bac_time_t t;
        rr.by = TL_RANGE_TIME;
        bac_dec_opening(req, tag);
        bac_dec_date(req, &d);
        bac_dec_time(req, &t);
        bac_dec_signed(req, &rr.count);
        bac_dec_closing(req, tag);
        if (bac_err(req) == BAC_OK && !tl_time_join(&d, &t, &rr.time)) {
            reply_reject(r, BAC_REJECT_PARAMETER_OUT_OF_RANGE);
            return;
        }
    }
    if (!bac_done(req)) { /* [5] (timeRange, withdrawn) lands here too */
        reply_reject(r, bac_reject_for(req));
        return;
    }
    if (rr.count == 0) {
        reply_reject(r, BAC_REJECT_PARAMETER_OUT_OF_RANGE);
        return;
    }
    obj_device_t *d = s->dev;
    ref.oid = obj_resolve(d, ref.oid);
    if (!obj_exists(d, ref.oid)) {
        reply_error(r, BAC_ERRCLASS_OBJECT, BAC_ERR_UNKNOWN_OBJECT);
        return;
    }
    tl_log_t *l = obj_tl(d, ref.oid);
    if (!l || ref.prop != BAC_PROP_LOG_BUFFER) {
        uint32_t props[32];
        size_t n = obj_props(d, ref.oid, OBJ_PROPS_ALL, props, 32), k = 0;
        while (k < n && props[k] != ref.prop)
            k++;
        if (k == n)
            reply_error(r, BAC_ERRCLASS_PROPERTY, BAC_ERR_UNKNOWN_PROPERTY);
        else
            reply_error(r, BAC_ERRCLASS_SERVICES, BAC_ERR_PROPERTY_IS_NOT_A_LIST);
        return;
    }
    if (ref.index != OBJ_NO_INDEX) {
        reply_error(r, BAC_ERRCLASS_PROPERTY, BAC_ERR_PROPERTY_IS_NOT_AN_ARRAY);
        return;
    }

    uint32_t first, n;
    tl_select(l, &rr, &first, &n);
    /* Room for the records: the APDU cap less the header and the closing parts (at most
     * 3 + 5 + 2 + 3 + 4 + 2 + 5 + 1 octets around them). Each record is read once (older
     * ones through the log's store) and kept for the encoding. */
    size_t cap = r->apdu.len, room = cap > 40 ? cap - 40 : 0;
    tl_record_t got[RR_MAX];
    tl_reader_t rd;
    uint32_t fit = 0;
    size_t used = 0;
    /* Going back from the reference, the records nearest it are the ones to keep. */
    bool backward = rr.count < 0 && rr.by != TL_RANGE_ALL;
    tl_reader_init(&rd, l);
    for (uint32_t k = 0; k < n && fit < RR_MAX; k++) {
        tl_read(&rd, backward ? first + n - 1 - k : first + k, &got[fit]);
        size_t sz = record_size(&got[fit]);
        if (used + sz > room)
            break;
        used += sz;
        fit++;
    }
    if (backward)
        first += n - fit;
    bac_buf_t *a = &r->apdu;
    bac_enc_complex_ack(a, r->invoke_id, r->service);
    bac_enc_ctx_oid(a, 0, ref.oid);
    bac_enc_ctx_enum(a, 1, ref.prop);
    bac_bits_t flags;
    bac_bits_init(&flags, 3);
    bac_bits_set(&flags, 0, fit > 0 && first == 0);                     /* first-item */
    bac_bits_set(&flags, 1, fit > 0 && first + fit == l->count);        /* last-item */
    bac_bits_set(&flags, 2, fit < n);                                    /* more-items */
    bac_enc_ctx_bits(a, 3, &flags);
    bac_enc_ctx_unsigned(a, 4, fit);
    bac_enc_opening(a, 5);
    for (uint32_t k = 0; k < fit; k++)
        tl_encode_record(a, &got[backward ? fit - 1 - k : k]);
    bac_enc_closing(a, 5);
    if (fit > 0 && (rr.by == TL_RANGE_SEQUENCE || rr.by == TL_RANGE_TIME))
        bac_enc_ctx_unsigned(a, 6, tl_seq_of(l, first));
    reply_check_fit(r);
}

/* ---- DeviceCommunicationControl and ReinitializeDevice --------------------------------- */

/* Optional password [tag]: 1..20 characters. Returns false (and rejects) if malformed. */
static bool dec_password(bac_buf_t *req, uint8_t tag, bac_str_t *pw, bool *given, reply_t *r)
{
    *given = false;
    if (!bac_is_context(req, tag) && !bac_is_opening(req, tag))
        return true;
    int rc = bac_dec_ctx_charstring(req, tag, pw);
    if (rc == BAC_E_CHARSET || (rc >= 0 && (pw->len < 1 || pw->len > BAC_PASSWORD_MAX))) {
        reply_reject(r, BAC_REJECT_PARAMETER_OUT_OF_RANGE);
        return false;
    }
    if (rc < 0) {
        reply_reject(r, bac_reject_reason(rc));
        return false;
    }
    *given = true;
    return true;
}

/* No password configured: anything goes (DECISIONS P2). Else it must match. */
static bool password_ok(const bac_server_t *s, const bac_str_t *pw, bool given)
{
    size_t n = strlen(s->password);
    if (n == 0)
        return true;
    return given && pw->len == n && memcmp(pw->data, s->password, n) == 0;
}

static void svc_dcc(bac_server_t *s, uint32_t now_ms, bac_buf_t *req, reply_t *r)
{
    uint32_t minutes = 0, state = 0;
    bool timed = bac_is_context(req, 0);
    if (timed)
        bac_dec_ctx_unsigned(req, 0, &minutes);
    bac_dec_ctx_enum(req, 1, &state);
    if (bac_err(req) != BAC_OK) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    bac_str_t pw;
    bool given;
    if (!dec_password(req, 2, &pw, &given, r))
        return;
    if (!bac_done(req)) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    if (state > BAC_DCC_DISABLE_INITIATION || minutes > 65535) {
        reply_reject(r, state > BAC_DCC_DISABLE_INITIATION ? BAC_REJECT_UNDEFINED_ENUMERATION
                                                           : BAC_REJECT_PARAMETER_OUT_OF_RANGE);
        return;
    }
    if (!password_ok(s, &pw, given)) {
        reply_error(r, BAC_ERRCLASS_SECURITY, BAC_ERR_PASSWORD_FAILURE);
        return;
    }
    bac_enc_simple_ack(&r->apdu, r->invoke_id, r->service);
    /* The ACK goes out under the old state; the new one governs what follows. */
    s->dcc = (uint8_t)state;
    s->dcc_timed = state != BAC_DCC_ENABLE && timed && minutes > 0;
    s->dcc_left_ms = minutes * 60000u; /* 65535 minutes still fit 32 bits */
    s->dcc_last_ms = now_ms;
}

static void svc_reinitialize(bac_server_t *s, bac_buf_t *req, reply_t *r)
{
    uint32_t state = 0;
    bac_dec_ctx_enum(req, 0, &state);
    if (bac_err(req) != BAC_OK) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    bac_str_t pw;
    bool given;
    if (!dec_password(req, 1, &pw, &given, r))
        return;
    if (!bac_done(req)) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    if (state > BAC_REINIT_ABORT_RESTORE) {
        reply_reject(r, BAC_REJECT_UNDEFINED_ENUMERATION);
        return;
    }
    if (!password_ok(s, &pw, given)) {
        reply_error(r, BAC_ERRCLASS_SECURITY, BAC_ERR_PASSWORD_FAILURE);
        return;
    }
    if (state > BAC_REINIT_WARMSTART) { /* backup and restore: not in this device */
        reply_error(r, BAC_ERRCLASS_SERVICES, BAC_ERR_OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED);
        return;
    }
    bac_enc_simple_ack(&r->apdu, r->invoke_id, r->service);
    s->reinit_pending = true; /* the host restarts after the ACK has gone out */
    s->reinit_state = (uint8_t)state;
}

/* ---- unconfirmed services --------------------------------------------------------------- */

/* Optional [lo][hi] instance range; false if malformed or we are outside it. */
static bool in_range(const bac_server_t *s, bac_buf_t *req)
{
    if (!bac_is_context(req, 0))
        return true;
    uint32_t lo, hi;
    bac_dec_ctx_unsigned(req, 0, &lo);
    bac_dec_ctx_unsigned(req, 1, &hi);
    if (bac_err(req) != BAC_OK || lo > BAC_MAX_INSTANCE || hi > BAC_MAX_INSTANCE)
        return false;
    uint32_t me = ((const obj_device_t *)s->dev)->id.instance;
    return me >= lo && me <= hi;
}

static void unconfirmed_header(bac_buf_t *a, uint8_t service)
{
    bac_apdu_t h = {.type = BAC_PDU_UNCONFIRMED_REQ, .service = service};
    bac_apdu_encode(a, &h);
}

static void enc_i_am(const bac_server_t *s, bac_buf_t *a)
{
    const obj_device_t *d = s->dev;
    unconfirmed_header(a, BAC_USVC_I_AM);
    bac_enc_oid(a, (bac_oid_t){OBJ_DEVICE, d->id.instance});
    bac_enc_unsigned(a, MAX_APDU);
    bac_enc_enum(a, BAC_SEGMENTATION_NONE);
    bac_enc_unsigned(a, 133); /* Leviton */
}

/* Returns true when an I-Am / I-Have is due, encoded into a. */
static bool svc_who_is(bac_server_t *s, bac_buf_t *req, bac_buf_t *a)
{
    if (!in_range(s, req) || !bac_done(req))
        return false;
    enc_i_am(s, a);
    return true;
}

static bool svc_who_has(bac_server_t *s, bac_buf_t *req, bac_buf_t *a)
{
    if (!in_range(s, req))
        return false;
    bac_oid_t oid;
    if (bac_is_context(req, 2)) {
        if (bac_dec_ctx_oid(req, 2, &oid) < 0 || !bac_done(req))
            return false;
        oid = obj_resolve(s->dev, oid);
        if (!obj_exists(s->dev, oid))
            return false;
    } else {
        bac_str_t name;
        if (bac_dec_ctx_charstring(req, 3, &name) < 0 || !bac_done(req))
            return false;
        if (!obj_by_name(s->dev, (const char *)name.data, name.len, &oid))
            return false;
    }
    const obj_device_t *d = s->dev;
    const char *n = obj_name(d, oid);
    unconfirmed_header(a, BAC_USVC_I_HAVE);
    bac_enc_oid(a, (bac_oid_t){OBJ_DEVICE, d->id.instance});
    bac_enc_oid(a, oid);
    bac_enc_charstring(a, n, strlen(n));
    return true;
}

static void svc_time_sync(bac_server_t *s, bac_buf_t *req)
{
    obj_datetime_t dt;
    bac_dec_date(req, &dt.date);
    bac_dec_time(req, &dt.time);
    if (bac_done(req))
        obj_clock_set(s->dev, &dt); /* wildcards and impossible dates are ignored */
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* NPDU + APDU into out. The APDU was built in its own buffer, capped at the client's max. */
static size_t emit(const bac_npdu_t *n, const bac_buf_t *apdu, uint8_t *out, size_t cap)
{
    bac_buf_t o;
    bac_buf_writer(&o, out, cap);
    bac_npdu_encode(&o, n);
    bac_put_bytes(&o, apdu->wr, bac_pos(apdu));
    return bac_err(&o) == BAC_OK && bac_err(apdu) == BAC_OK ? bac_pos(&o) : 0;
}

static size_t emit_broadcast(const bac_buf_t *apdu, uint8_t *out, size_t cap, bool *bcast)
{
    /* Protocol revision 4: a global broadcast, DNET 0xFFFF, DLEN 0, hop count 255. */
    bac_npdu_t n = {.has_dnet = true, .dnet = BAC_NET_BROADCAST, .hop_count = 255};
    *bcast = true;
    return emit(&n, apdu, out, cap);
}

size_t bac_server_i_am(bac_server_t *s, uint8_t *out, size_t cap)
{
    if (s->dcc != BAC_DCC_ENABLE)
        return 0; /* initiating is what DCC forbids */
    uint8_t buf[32];
    bac_buf_t a;
    bool bcast;
    bac_buf_writer(&a, buf, sizeof buf);
    enc_i_am(s, &a);
    return emit_broadcast(&a, out, cap, &bcast);
}

size_t bac_server_handle(bac_server_t *s, uint32_t now_ms, const uint8_t *npdu, size_t len,
                         bool received_as_broadcast, uint8_t *out, size_t cap, bool *bcast)
{
    bac_buf_t req;
    bac_npdu_t n;
    bac_apdu_t h;
    *bcast = false;
    bac_server_tick(s, now_ms);
    bac_buf_reader(&req, npdu, len);
    if (bac_npdu_decode(&req, &n) < 0 || n.network_msg)
        return 0; /* not for the application layer */
    if (n.has_dnet && n.dnet != BAC_NET_BROADCAST)
        return 0; /* for another network: we are not a router */
    bool bcast_in = received_as_broadcast || n.has_dnet;
    if (bac_apdu_decode(&req, &h) < 0)
        return 0; /* no invoke id we could trust to reject */
    s->requests++;

    if (h.type == BAC_PDU_UNCONFIRMED_REQ) {
        if (s->dcc == BAC_DCC_DISABLE)
            return 0; /* only DCC and ReinitializeDevice get through */
        uint8_t buf[MAX_APDU];
        bac_buf_t a;
        bac_buf_writer(&a, buf, sizeof buf);
        bool answer = false;
        switch (h.service) {
        case BAC_USVC_WHO_IS: answer = svc_who_is(s, &req, &a); break;
        case BAC_USVC_WHO_HAS:
            answer = s->dcc == BAC_DCC_ENABLE && svc_who_has(s, &req, &a);
            break;
        case BAC_USVC_TIME_SYNCHRONIZATION: svc_time_sync(s, &req); break;
        }
        return answer ? emit_broadcast(&a, out, cap, bcast) : 0;
    }
    if (h.type != BAC_PDU_CONFIRMED_REQ)
        return 0; /* we are a server: acks and errors are not for us */
    if (bcast_in)
        return 0; /* a confirmed request by broadcast is discarded silently */
    if (s->dcc == BAC_DCC_DISABLE && h.service != BAC_SVC_DEVICE_COMMUNICATION_CONTROL &&
        h.service != BAC_SVC_REINITIALIZE_DEVICE)
        return 0;

    reply_t r;
    reply_start(&r, &h);
    if (h.segmented)
        reply_abort(&r, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED);
    else
        switch (h.service) {
        case BAC_SVC_READ_PROPERTY: svc_read_property(s, &req, &r); break;
        case BAC_SVC_READ_PROPERTY_MULTIPLE: svc_read_property_multiple(s, &req, &r); break;
        case BAC_SVC_WRITE_PROPERTY: svc_write_property(s, &req, &r); break;
        case BAC_SVC_DEVICE_COMMUNICATION_CONTROL: svc_dcc(s, now_ms, &req, &r); break;
        case BAC_SVC_REINITIALIZE_DEVICE: svc_reinitialize(s, &req, &r); break;
        case BAC_SVC_READ_RANGE: svc_read_range(s, &req, &r); break;
        default: reply_reject(&r, BAC_REJECT_UNRECOGNIZED_SERVICE); break;
        }
    bac_npdu_t rn;
    bac_npdu_reply(&n, &rn);
    return emit(&rn, &r.apdu, out, cap);
}
