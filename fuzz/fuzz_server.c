/*
 * Fuzz the BACnet server directly, without a data link: a sequence of NPDUs into
 * bac_server_handle of a live meter (meter_fixture.h), with time passing between them,
 * so a write, a DCC or a TimeSynchronization can be followed by what it changes.
 *
 * Input: [flags] then records [ctl] [len] [len octets of NPDU] (the last one may be
 * short):
 *   flags bit 7   a DCC/ReinitializeDevice password ("pw") is set
 *   flags bit 6   the meter runs in sync-to-comms mode (FIX_SYNC_TO_COMMS)
 *   flags bit 5   the host's durability hook fails every other accepted write
 *   ctl bit 0     the NPDU arrived by broadcast
 *   ctl bits 1..7 s: the ms clock moves on by s^3 * 2000 ms first (0 .. 47 days, wraps)
 * After the first record the meter completes a 1 s cycle (pending writes commit, the
 * trend logs log); an acknowledged ReinitializeDevice restarts the meter.
 *
 * Every reply must be a well-formed NPDU + APDU: the PDU type a request allows, the
 * request's invoke id, at most min(480, the client's max-APDU) octets of APDU, and
 * service data that is a sequence of well-formed elements.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bacnet/bac.h"
#include "meter_fixture.h"
#include "objects/obj.h"

static obj_device_t dev;
static bac_server_t srv;

static void check_reply(const uint8_t *req, size_t req_len, const uint8_t *out, size_t n)
{
    bac_buf_t q, r;
    bac_npdu_t qn, rn;
    bac_apdu_t qa, ra;
    bac_buf_reader(&q, req, req_len);
    if (bac_npdu_decode(&q, &qn) < 0 || bac_apdu_decode(&q, &qa) < 0)
        abort(); /* the server answered what it could not decode */
    bac_buf_reader(&r, out, n);
    if (bac_npdu_decode(&r, &rn) < 0 || rn.network_msg || rn.expecting_reply)
        abort();
    size_t apdu_len = bac_left(&r);
    if (bac_apdu_decode(&r, &ra) < 0)
        abort();
    if (qa.type == BAC_PDU_UNCONFIRMED_REQ) {
        if (ra.type != BAC_PDU_UNCONFIRMED_REQ ||
            (ra.service != BAC_USVC_I_AM && ra.service != BAC_USVC_I_HAVE))
            abort();
    } else {
        size_t cap = qa.max_apdu && qa.max_apdu < OBJ_MAX_APDU ? qa.max_apdu : OBJ_MAX_APDU;
        if (qa.type != BAC_PDU_CONFIRMED_REQ || ra.invoke_id != qa.invoke_id ||
            apdu_len > (qa.max_apdu ? cap : 50))
            abort();
        if (ra.type == BAC_PDU_ABORT || ra.type == BAC_PDU_REJECT)
            return;
        if (ra.service != qa.service || ra.segmented)
            abort();
        if (ra.type == BAC_PDU_ERROR) {
            uint32_t cls, code;
            if (bac_dec_error(&r, &cls, &code) < 0 || !bac_done(&r))
                abort();
            return;
        }
        if (ra.type != BAC_PDU_SIMPLE_ACK && ra.type != BAC_PDU_COMPLEX_ACK)
            abort();
    }
    while (bac_left(&r))
        if (bac_skip_element(&r) < 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int variant = (data[0] & 0x40) ? FIX_SYNC_TO_COMMS : FIX_LOGGING;
    fix_restore_variant(&dev, variant);
    bac_server_init(&srv, &dev, (data[0] & 0x80) ? "pw" : NULL);
    if (data[0] & 0x20)
        srv.on_write = fix_flaky_hook;
    uint32_t now = 0xFFFF0000u; /* the ms clock wraps soon */
    size_t i = 1;
    int first = 1;
    while (i + 2 <= size) {
        uint8_t ctl = data[i], len = data[i + 1];
        i += 2;
        size_t n = len <= size - i ? len : size - i;
        uint32_t s = ctl >> 1;
        now += s * s * s * 2000u;
        /* An exact-size copy, so that any read past the NPDU is caught. */
        uint8_t *npdu = malloc(n ? n : 1), out[600];
        memcpy(npdu, data + i, n);
        i += n;
        bool bcast;
        size_t r = bac_server_handle(&srv, now, npdu, n, ctl & 1, out, sizeof out, &bcast);
        if (r > sizeof out)
            abort();
        if (r)
            check_reply(npdu, n, out, r);
        free(npdu);
        uint8_t state;
        if (bac_server_reinit_requested(&srv, &state)) {
            if (state > BAC_REINIT_WARMSTART)
                abort(); /* only cold and warm starts are acknowledged */
            obj_restart(&dev, false); /* as the host does, then it announces itself */
            r = bac_server_i_am(&srv, out, sizeof out);
            if (r > sizeof out)
                abort();
        }
        if (first)
            fix_cycle_variant(&dev, variant);
        first = 0;
    }
    return 0;
}
