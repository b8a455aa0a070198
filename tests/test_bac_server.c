/*
 * The BACnet server and the B/IP link, byte by byte: requests as hex, replies compared
 * with the octets ASHRAE 135 (and BACNET-NOTES.md's checked vectors) require.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bacnet/bac.h"
#include "bip/bip.h"
#include "objects/obj.h"

static obj_device_t dev;
static bac_server_t srv;
static uint8_t out[1500];
static bool out_bcast;

#define HEX_MAX 2048
static size_t hex(const char *s, uint8_t *buf)
{
    size_t n = 0;
    unsigned v;
    while (*s) {
        assert_true(n < HEX_MAX);
        if (*s == ' ') {
            s++;
            continue;
        }
        sscanf(s, "%2x", &v);
        buf[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void setup_dev(const char *password)
{
    obj_identity_t id;
    mtr_config_t cfg;
    obj_identity_default(&id, "SN42");
    id.instance = 1234;
    mtr_config_default(&cfg);
    obj_init(&dev, &id, &cfg, NULL);
    bac_server_init(&srv, &dev, password);
}

static int setup(void **state)
{
    (void)state;
    setup_dev(NULL);
    return 0;
}

/* Handle an NPDU given as hex at time now; returns the reply length. */
static size_t req_at(uint32_t now, const char *npdu_hex, bool bcast)
{
    static uint8_t in[HEX_MAX];
    size_t n = hex(npdu_hex, in);
    return bac_server_handle(&srv, now, in, n, bcast, out, sizeof out, &out_bcast);
}

static size_t req(const char *npdu_hex)
{
    return req_at(0, npdu_hex, false);
}

/* The reply must be exactly these octets. */
static void expect(size_t got, const char *hexs)
{
    static uint8_t want[HEX_MAX];
    size_t n = hex(hexs, want);
    if (got != n || memcmp(out, want, n)) {
        printf("want %s\ngot  ", hexs);
        for (size_t k = 0; k < got; k++)
            printf("%02x ", out[k]);
        printf("\n");
    }
    assert_int_equal(got, n);
    assert_memory_equal(out, want, n);
}

static void test_read_property_vectors(void **state)
{
    (void)state;
    /* BACNET-NOTES: RP Object_List[0] -> count (113: DE, 83 AI, 11 AV, 15 BI, 3 TL). */
    expect(req("01 04 00 03 01 0C 0C 02 00 04 D2 19 4C 29 00"),
           "01 00 30 01 0C 0C 02 00 04 D2 19 4C 29 00 3E 21 71 3F");
    /* The whole list does not fit 480 octets: Abort segmentation-not-supported. */
    expect(req("01 04 00 03 02 0C 0C 02 00 04 D2 19 4C"), "01 00 71 02 04");
    /* Element 2 is AI1; 114 does not exist. */
    expect(req("01 04 00 03 03 0C 0C 02 00 04 D2 19 4C 29 02"),
           "01 00 30 03 0C 0C 02 00 04 D2 19 4C 29 02 3E C4 00 00 00 01 3F");
    expect(req("01 04 00 03 04 0C 0C 02 00 04 D2 19 4C 29 72"), "01 00 50 04 0C 91 02 91 2A");
    /* The wildcard instance 4194303 means this device. */
    expect(req("01 04 00 03 05 0C 0C 02 3F FF FF 19 78"),
           "01 00 30 05 0C 0C 02 3F FF FF 19 78 3E 21 85 3F");
    /* AI30 "Reserved" Object_Name; AI1 Units kilowatt-hours (19); BI8 Polarity normal. */
    expect(req("01 04 00 03 06 0C 0C 00 00 00 1E 19 4D"),
           "01 00 30 06 0C 0C 00 00 00 1E 19 4D 3E 75 09 00 52 65 73 65 72 76 65 64 3F");
    expect(req("01 04 00 03 07 0C 0C 00 00 00 01 19 75"),
           "01 00 30 07 0C 0C 00 00 00 01 19 75 3E 91 13 3F");
    expect(req("01 04 00 03 08 0C 0C 00 C0 00 08 19 54"),
           "01 00 30 08 0C 0C 00 C0 00 08 19 54 3E 91 00 3F");
    /* Status_Flags all false: 82 04 00. AV1 Present_Value always 0.0. */
    expect(req("01 04 00 03 09 0C 0C 00 80 00 01 19 6F"),
           "01 00 30 09 0C 0C 00 80 00 01 19 6F 3E 82 04 00 3F");
    expect(req("01 04 00 03 0A 0C 0C 00 80 00 01 19 55"),
           "01 00 30 0A 0C 0C 00 80 00 01 19 55 3E 44 00 00 00 00 3F");
    /* Before the first cycle an instantaneous AI is QNAN: 44 7F C0 00 00. */
    expect(req("01 04 00 03 0B 0C 0C 00 00 00 0B 19 55"),
           "01 00 30 0B 0C 0C 00 00 00 0B 19 55 3E 44 7F C0 00 00 3F");
    /* ...and its Reliability says so (unreliable-other, Status_Flags fault) until the
     * first 1 s cycle; a reserved AI is QNAN by definition and not a fault. */
    expect(req("01 04 00 03 0D 0C 0C 00 00 00 0B 19 67"),
           "01 00 30 0D 0C 0C 00 00 00 0B 19 67 3E 91 07 3F");
    expect(req("01 04 00 03 0E 0C 0C 00 00 00 0B 19 6F"),
           "01 00 30 0E 0C 0C 00 00 00 0B 19 6F 3E 82 04 40 3F");
    expect(req("01 04 00 03 0F 0C 0C 00 00 00 1C 19 67"),
           "01 00 30 0F 0C 0C 00 00 00 1C 19 67 3E 91 00 3F");
    /* AV3 default 100.0 = 42 C8 00 00; Max_Power AI76 103.923 kW */
    expect(req("01 04 00 03 0C 0C 0C 00 80 00 03 19 55"),
           "01 00 30 0C 0C 0C 00 80 00 03 19 55 3E 44 42 C8 00 00 3F");
}

static void test_device_bit_strings(void **state)
{
    (void)state;
    /* Protocol_Services_Supported: 40 bits, RP 12, RPM 14, WP 15, DCC 17, RD 20, I-Am 26,
     * I-Have 27, TimeSync 32, Who-Has 33, Who-Is 34, ReadRange 35 -> 00 0B 48 30 F0 (O7). */
    expect(req("01 04 00 03 01 0C 0C 02 00 04 D2 19 61"),
           "01 00 30 01 0C 0C 02 00 04 D2 19 61 3E 85 06 00 00 0B 48 30 F0 3F");
    /* Protocol_Object_Types_Supported: AI, AV, BI, Device, Trend Log (BACNET-NOTES). */
    expect(req("01 04 00 03 02 0C 0C 02 00 04 D2 19 60"),
           "01 00 30 02 0C 0C 02 00 04 D2 19 60 3E 85 05 07 B0 80 08 00 3F");
    /* Segmentation_Supported no-segmentation (3), Max_APDU 480, Vendor 133. */
    expect(req("01 04 00 03 03 0C 0C 02 00 04 D2 19 6B"),
           "01 00 30 03 0C 0C 02 00 04 D2 19 6B 3E 91 03 3F");
    expect(req("01 04 00 03 04 0C 0C 02 00 04 D2 19 3E"),
           "01 00 30 04 0C 0C 02 00 04 D2 19 3E 3E 22 01 E0 3F");
    /* Device_Address_Binding: an empty list. */
    expect(req("01 04 00 03 05 0C 0C 02 00 04 D2 19 1E"),
           "01 00 30 05 0C 0C 02 00 04 D2 19 1E 3E 3F");
}

static void test_errors_rejects_aborts(void **state)
{
    (void)state;
    /* Unknown object, unknown property, index on a non-array. */
    expect(req("01 04 00 03 01 0C 0C 00 00 00 54 19 55"), "01 00 50 01 0C 91 01 91 1F");
    expect(req("01 04 00 03 02 0C 0C 00 00 00 01 19 58"), "01 00 50 02 0C 91 02 91 20");
    expect(req("01 04 00 03 03 0C 0C 00 00 00 01 19 55 29 01"), "01 00 50 03 0C 91 02 91 32");
    /* Unknown service (27: life-safety-operation): Reject unrecognized-service (9). */
    expect(req("01 04 00 03 04 1B 0C 00 00 00 01"), "01 00 60 04 09");
    /* Missing property identifier: Reject missing-required-parameter (5). */
    expect(req("01 04 00 03 05 0C 0C 00 00 00 01"), "01 00 60 05 05");
    /* Wrong tag where the object id belongs: Reject invalid-tag (4). */
    expect(req("01 04 00 03 06 0C 19 55 19 55"), "01 00 60 06 04");
    /* Trailing octets: Reject too-many-arguments (7). */
    expect(req("01 04 00 03 07 0C 0C 00 00 00 01 19 55 2A 00 01 00"), "01 00 60 07 07");
    /* A segmented request: Abort segmentation-not-supported. */
    expect(req("01 04 08 03 08 00 01 0C 0C 00 00 00 01 19 55"), "01 00 71 08 04");
    /* Client accepts only 50 octets: the Object_Identifier fits... */
    assert_true(req("01 04 00 00 09 0C 0C 02 00 04 D2 19 4B") > 0);
    assert_int_equal(out[2], 0x30);
    /* ...the Object_Name (55 characters) does not: Abort, though 480 would fit it. */
    expect(req("01 04 00 00 0A 0C 0C 02 00 04 D2 19 4D"), "01 00 71 0A 04");
    /* Confirmed request received by broadcast: dropped (BTL). */
    assert_int_equal(req_at(0, "01 04 00 03 0B 0C 0C 00 00 00 01 19 55", true), 0);
    /* Truncated and garbage input: no reply, no crash. */
    assert_int_equal(req("01"), 0);
    assert_int_equal(req("02 04 00 03"), 0);
    assert_int_equal(req("01 04 00"), 0);
    /* A network-layer message, and a request for another network. */
    assert_int_equal(req("01 80 00 00 01"), 0);
    assert_int_equal(req("01 24 00 05 01 07 FF 00 03 0C 0C 0C 00 00 00 01 19 55"), 0);
    /* Simple-ACKs and other client-side PDUs are not for a server. */
    assert_int_equal(req("01 00 20 01 0F"), 0);
}

static void test_routed_request(void **state)
{
    (void)state;
    /* From network 5, MAC 0x21 via a router: the reply carries DNET 5 / DADR 21, hop 255. */
    expect(req("01 0C 00 05 01 21 00 03 01 0C 0C 02 00 04 D2 19 4C 29 00"),
           "01 20 00 05 01 21 FF 30 01 0C 0C 02 00 04 D2 19 4C 29 00 3E 21 71 3F");
}

static void test_write_property(void **state)
{
    (void)state;
    /* AV3 := 200.0: Simple-ACK; committed at the next cycle, Reliability says so. */
    expect(req("01 04 00 03 01 0F 0C 00 80 00 03 19 55 3E 44 43 48 00 00 3F"), "01 00 20 01 0F");
    expect(req("01 04 00 03 02 0C 0C 00 80 00 03 19 55"),
           "01 00 30 02 0C 0C 00 80 00 03 19 55 3E 44 42 C8 00 00 3F");
    expect(req("01 04 00 03 03 0C 0C 00 80 00 03 19 67"),
           "01 00 30 03 0C 0C 00 80 00 03 19 67 3E 91 07 3F");
    expect(req("01 04 00 03 04 0C 0C 00 80 00 03 19 6F"),
           "01 00 30 04 0C 0C 00 80 00 03 19 6F 3E 82 04 40 3F");
    obj_cycle(&dev);
    expect(req("01 04 00 03 05 0C 0C 00 80 00 03 19 55"),
           "01 00 30 05 0C 0C 00 80 00 03 19 55 3E 44 43 48 00 00 3F");
    expect(req("01 04 00 03 06 0C 0C 00 80 00 03 19 67"),
           "01 00 30 06 0C 0C 00 80 00 03 19 67 3E 91 00 3F");
    /* Out of range (4 A), NaN, wrong datatype (Unsigned), with a priority: errors. */
    expect(req("01 04 00 03 07 0F 0C 00 80 00 03 19 55 3E 44 40 80 00 00 3F"),
           "01 00 50 07 0F 91 02 91 25");
    expect(req("01 04 00 03 08 0F 0C 00 80 00 03 19 55 3E 44 7F C0 00 00 3F"),
           "01 00 50 08 0F 91 02 91 25");
    expect(req("01 04 00 03 09 0F 0C 00 80 00 02 19 55 3E 21 1F 3F"), "01 00 50 09 0F 91 02 91 09");
    expect(req("01 04 00 03 0A 0F 0C 00 80 00 02 19 55 3E 44 42 20 00 00 3F 49 08"), "01 00 20 0A 0F");
    /* Priority 17: Reject parameter-out-of-range. */
    expect(req("01 04 00 03 0B 0F 0C 00 80 00 02 19 55 3E 44 42 20 00 00 3F 49 11"), "01 00 60 0B 06");
    /* AI not writable; AV Object_Name not writable; array index on PV. */
    expect(req("01 04 00 03 0C 0F 0C 00 00 00 01 19 55 3E 44 00 00 00 00 3F"),
           "01 00 50 0C 0F 91 02 91 28");
    expect(req("01 04 00 03 0D 0F 0C 00 80 00 02 19 4D 3E 75 02 00 58 3F"),
           "01 00 50 0D 0F 91 02 91 28");
    expect(req("01 04 00 03 0E 0F 0C 00 80 00 02 19 55 29 01 3E 44 42 20 00 00 3F"),
           "01 00 50 0E 0F 91 02 91 32");
    /* AV5 := 0.01, as a client's nearest REAL 3C 23 D7 0A (0.0099999998): accepted. */
    expect(req("01 04 00 03 12 0F 0C 00 80 00 05 19 55 3E 44 3C 23 D7 0A 3F"), "01 00 20 12 0F");
    /* AV1 accepts only its four commands. */
    expect(req("01 04 00 03 0F 0F 0C 00 80 00 01 19 55 3E 44 46 EA FC 00 3F"), "01 00 20 0F 0F");
    expect(req("01 04 00 03 10 0F 0C 00 80 00 01 19 55 3E 44 3F 80 00 00 3F"),
           "01 00 50 10 0F 91 02 91 25");
    /* No value at all: Reject. */
    expect(req("01 04 00 03 11 0F 0C 00 80 00 02 19 55 3E 3F"), "01 00 60 11 05");
}

/* ---- the durability hook ---------------------------------------------------------- */

static int hook_calls;
static int hook_rc;
static bac_error_t hook_err;
static bool hook_sets_err;
static obj_device_t dev_before; /* what the host restores when a write cannot be saved */

static int hook(void *ctx, bac_error_t *err)
{
    assert_ptr_equal(ctx, &dev);
    hook_calls++;
    /* Called before any reply exists: the default error is filled in. */
    assert_int_equal(err->cls, BAC_ERRCLASS_DEVICE);
    assert_int_equal(err->code, BAC_ERR_OPERATIONAL_PROBLEM);
    if (hook_rc != 0) {
        dev = dev_before;
        if (hook_sets_err)
            *err = hook_err;
    }
    return hook_rc;
}

static void test_write_hook(void **state)
{
    (void)state;
    const char *wp_av3_200 = "01 04 00 03 %02X 0F 0C 00 80 00 03 19 55 3E 44 43 48 00 00 3F";
    char r[128];
    srv.on_write = hook;
    srv.on_write_ctx = &dev;
    hook_calls = 0;
    dev_before = dev;
    /* Not durable, disk full: Error resources (3) / no-space-to-write-property (20),
     * 50 id 0F 91 03 91 14 (clause 20.1.7: class and code as application Enumerated). */
    hook_rc = -1, hook_sets_err = true;
    hook_err = (bac_error_t){BAC_ERRCLASS_RESOURCES, BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY};
    snprintf(r, sizeof r, wp_av3_200, 1);
    expect(req(r), "01 00 50 01 0F 91 03 91 14");
    assert_int_equal(hook_calls, 1);
    obj_cycle(&dev);
    expect(req("01 04 00 03 02 0C 0C 00 80 00 03 19 55"),
           "01 00 30 02 0C 0C 00 80 00 03 19 55 3E 44 42 C8 00 00 3F"); /* still 100.0 */
    /* A hook that says nothing: device (0) / operational-problem (25). */
    hook_sets_err = false;
    snprintf(r, sizeof r, wp_av3_200, 3);
    expect(req(r), "01 00 50 03 0F 91 00 91 19");
    assert_int_equal(hook_calls, 2);
    /* A refused write never reaches the hook. */
    expect(req("01 04 00 03 04 0F 0C 00 80 00 03 19 55 3E 44 40 80 00 00 3F"),
           "01 00 50 04 0F 91 02 91 25");
    assert_int_equal(hook_calls, 2);
    /* Durable: Simple-ACK, and the value is committed at the next cycle. */
    hook_rc = 0;
    snprintf(r, sizeof r, wp_av3_200, 5);
    expect(req(r), "01 00 20 05 0F");
    assert_int_equal(hook_calls, 3);
    obj_cycle(&dev);
    expect(req("01 04 00 03 06 0C 0C 00 80 00 03 19 55"),
           "01 00 30 06 0C 0C 00 80 00 03 19 55 3E 44 43 48 00 00 3F");
    /* Device properties too. */
    expect(req("01 04 00 03 07 0F 0C 02 00 04 D2 19 40 3E 21 40 3F"), "01 00 20 07 0F");
    assert_int_equal(hook_calls, 4);
}

static void test_write_reserved_tag(void **state)
{
    (void)state;
    /* Application tags 13, 14 and 15 (extended) are reserved: the value cannot be
     * decoded at all, so Reject invalid-tag (4), not Error invalid-data-type. */
    expect(req("01 04 00 03 01 0F 0C 00 80 00 03 19 55 3E D1 00 3F"), "01 00 60 01 04");
    expect(req("01 04 00 03 02 0F 0C 00 80 00 03 19 55 3E E4 43 48 00 00 3F"), "01 00 60 02 04");
    expect(req("01 04 00 03 03 0F 0C 00 80 00 03 19 55 3E F1 0F 00 3F"), "01 00 60 03 04");
    expect(req("01 04 00 03 04 0F 0C 00 80 00 03 19 55 3E F1 FE 00 3F"), "01 00 60 04 04");
    /* ...also after a valid element, and inside a constructed value. */
    expect(req("01 04 00 03 05 0F 0C 00 80 00 03 19 55 3E 44 43 48 00 00 D0 3F"), "01 00 60 05 04");
    expect(req("01 04 00 03 06 0F 0C 00 80 00 03 19 55 3E 0E D0 0F 3F"), "01 00 60 06 04");
    /* Tag 12 (Object Identifier) is a type, only the wrong one here. */
    expect(req("01 04 00 03 07 0F 0C 00 80 00 03 19 55 3E C4 00 00 00 01 3F"),
           "01 00 50 07 0F 91 02 91 09");
    /* Nothing was written. */
    obj_cycle(&dev);
    expect(req("01 04 00 03 08 0C 0C 00 80 00 03 19 55"),
           "01 00 30 08 0C 0C 00 80 00 03 19 55 3E 44 42 C8 00 00 3F");
}

static void test_write_device(void **state)
{
    (void)state;
    /* Location: 64 characters accepted, 65 refused, and a refused write changes nothing. */
    char r[400], s64[65], s65[66];
    memset(s64, 'x', 64), s64[64] = 0;
    memset(s65, 'y', 65), s65[65] = 0;
    char body[300] = "";
    for (int k = 0; k < 64; k++)
        strcat(body, "78 ");
    snprintf(r, sizeof r, "01 04 00 03 01 0F 0C 02 00 04 D2 19 3A 3E 75 41 00 %s 3F", body);
    expect(req(r), "01 00 20 01 0F");
    assert_string_equal(dev.id.location, s64);
    body[0] = 0;
    for (int k = 0; k < 65; k++)
        strcat(body, "79 ");
    snprintf(r, sizeof r, "01 04 00 03 02 0F 0C 02 00 04 D2 19 3A 3E 75 42 00 %s 3F", body);
    expect(req(r), "01 00 50 02 0F 91 02 91 25");
    assert_string_equal(dev.id.location, s64);
    /* A character set other than ANSI X3.4. */
    expect(req("01 04 00 03 03 0F 0C 02 00 04 D2 19 3A 3E 75 03 04 00 41 3F"),
           "01 00 50 03 0F 91 02 91 29");
    /* Object_Name: another object's name is a duplicate; its own name back is fine. */
    expect(req("01 04 00 03 04 0F 0C 02 00 04 D2 19 4D 3E 75 09 00 4B 57 5F 54 6F 74 61 6C 3F"),
           "01 00 50 04 0F 91 02 91 30");
    expect(req("01 04 00 03 05 0F 0C 02 00 04 D2 19 4D 3E 75 05 00 4D 65 74 72 3F"), "01 00 20 05 0F");
    assert_string_equal(dev.id.name, "Metr");
    /* Object_Identifier: 1..4193999 of type Device. */
    expect(req("01 04 00 03 06 0F 0C 02 00 04 D2 19 4B 3E C4 02 3F FE D0 3F"),
           "01 00 50 06 0F 91 02 91 25");
    expect(req("01 04 00 03 07 0F 0C 02 00 04 D2 19 4B 3E C4 00 00 00 05 3F"),
           "01 00 50 07 0F 91 02 91 25");
    expect(req("01 04 00 03 08 0F 0C 02 00 04 D2 19 4B 3E C4 02 3F FE CF 3F"), "01 00 20 08 0F");
    assert_int_equal(dev.id.instance, 4193999);
    /* Max_Master 1..127; a read-only Device property. */
    expect(req("01 04 00 03 09 0F 0C 02 3F FE CF 19 40 3E 21 80 3F"), "01 00 50 09 0F 91 02 91 25");
    expect(req("01 04 00 03 0A 0F 0C 02 3F FE CF 19 40 3E 21 40 3F"), "01 00 20 0A 0F");
    assert_int_equal(dev.id.max_master, 64);
    expect(req("01 04 00 03 0B 0F 0C 02 3F FE CF 19 79 3E 21 01 3F"), "01 00 50 0B 0F 91 02 91 28");
}

static void test_read_property_multiple(void **state)
{
    (void)state;
    /* AV2 PV and an unknown property; an unknown object inside the same request. */
    expect(req("01 04 00 03 01 0E 0C 00 80 00 02 1E 09 55 09 58 1F 0C 00 00 00 63 1E 09 55 1F"),
           "01 00 30 01 0E 0C 00 80 00 02 1E 29 55 4E 44 42 20 00 00 4F 29 58 5E 91 02 91 20 5F 1F"
           " 0C 00 00 00 63 1E 29 55 5E 91 01 91 1F 5F 1F");
    /* ALL on a BI: the ten properties in table order. */
    size_t n = req("01 04 00 03 02 0E 0C 00 C0 00 0F 1E 09 08 1F");
    assert_true(n > 0);
    assert_int_equal(out[2], 0x30);
    /* REQUIRED on AV1 -> 8 properties; OPTIONAL -> Description and Reliability. */
    expect(req("01 04 00 03 03 0E 0C 00 80 00 01 1E 09 50 1F"),
           "01 00 30 03 0E 0C 00 80 00 01 1E 29 1C 4E 75 0E 00 43 6F 6E 66 69 67 75 72 61 74 69 6F"
           " 6E 4F 29 67 4E 91 00 4F 1F");
    /* ALL on an unknown object: the error inside the ACK. */
    expect(req("01 04 00 03 04 0E 0C 00 00 00 63 1E 09 08 1F"),
           "01 00 30 04 0E 0C 00 00 00 63 1E 29 08 5E 91 01 91 1F 5F 1F");
    /* Every AI Present_Value in one request does not fit: Abort 4. */
    static char r[4096] = "01 04 00 03 05 0E";
    for (int k = 1; k <= 83; k++) {
        char s[40];
        snprintf(s, sizeof s, " 0C 00 00 00 %02X 1E 09 55 1F", k);
        strcat(r, s);
    }
    expect(req(r), "01 00 71 05 04");
    /* Empty property list, and an empty request: Reject. */
    assert_int_equal(req("01 04 00 03 06 0E 0C 00 00 00 01 1E 1F"), 5);
    assert_int_equal(out[2], 0x60);
    assert_int_equal(req("01 04 00 03 07 0E"), 5);
    assert_int_equal(out[2], 0x60);
}

static void test_who_is_who_has(void **state)
{
    (void)state;
    /* Who-Is: I-Am as a global broadcast (DNET FFFF, DLEN 0, hop 255). */
    expect(req("01 00 10 08"), "01 20 FF FF 00 FF 10 00 C4 02 00 04 D2 22 01 E0 91 03 21 85");
    assert_true(out_bcast);
    expect(req("01 00 10 08 09 01 1A 04 D2"), "01 20 FF FF 00 FF 10 00 C4 02 00 04 D2 22 01 E0 91 03 21 85");
    assert_int_equal(req("01 00 10 08 09 01 19 05"), 0);           /* out of range */
    assert_int_equal(req("01 00 10 08 09 01"), 0);                 /* half a range */
    /* Who-Has by name and by object id: I-Have (device, object, name). */
    expect(req("01 00 10 07 3D 09 00 4B 57 5F 54 6F 74 61 6C"),
           "01 20 FF FF 00 FF 10 01 C4 02 00 04 D2 C4 00 00 00 0B 75 09 00 4B 57 5F 54 6F 74 61 6C");
    expect(req("01 00 10 07 2C 00 C0 00 0F"),
           "01 20 FF FF 00 FF 10 01 C4 02 00 04 D2 C4 00 C0 00 0F 75 0A 00 52 54 43 5F 52 65 73 65 74");
    assert_int_equal(req("01 00 10 07 3D 04 00 4E 6F 70"), 0);      /* no such name */
    assert_int_equal(req("01 00 10 07 2C 00 00 00 63"), 0);         /* no such object */
    assert_int_equal(req("01 00 10 07 09 00 19 05 2C 00 00 00 01"), 0); /* outside range */
}

static void test_dcc(void **state)
{
    (void)state;
    setup_dev("secret");
    /* Wrong or missing password: security / password-failure. */
    expect(req("01 04 00 03 01 11 19 01 2D 04 00 62 61 64"), "01 00 50 01 11 91 04 91 1A");
    expect(req("01 04 00 03 02 11 19 01"), "01 00 50 02 11 91 04 91 1A");
    /* A password over 20 characters: Reject. */
    expect(req("01 04 00 03 03 11 19 01 2D 16 00 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61"),
           "01 00 60 03 06");
    /* Disable for 1 minute with the password. */
    expect(req_at(1000, "01 04 00 03 04 11 09 01 19 01 2D 07 00 73 65 63 72 65 74", false), "01 00 20 04 11");
    assert_int_equal(req_at(2000, "01 04 00 03 05 0C 0C 02 00 04 D2 19 4C 29 00", false), 0);
    assert_int_equal(req_at(2000, "01 00 10 08", false), 0);
    /* ReinitializeDevice still gets through (and needs the password too). */
    expect(req_at(2000, "01 04 00 03 06 14 09 01", false), "01 00 50 06 14 91 04 91 1A");
    /* The minute runs out: everything is served again. */
    assert_true(req_at(61001, "01 04 00 03 07 0C 0C 02 00 04 D2 19 4C 29 00", false) > 0);
    /* Disable-initiation: Who-Is answered, Who-Has not, requests served. */
    expect(req("01 04 00 03 08 11 19 02 2D 07 00 73 65 63 72 65 74"), "01 00 20 08 11");
    assert_true(req("01 00 10 08") > 0);
    assert_int_equal(req("01 00 10 07 3D 09 00 4B 57 5F 54 6F 74 61 6C"), 0);
    assert_int_equal(bac_server_i_am(&srv, out, sizeof out), 0);
    assert_true(req("01 04 00 03 09 0C 0C 02 00 04 D2 19 4C 29 00") > 0);
    /* Enable. */
    expect(req("01 04 00 03 0A 11 19 00 2D 07 00 73 65 63 72 65 74"), "01 00 20 0A 11");
    assert_true(req("01 00 10 07 3D 09 00 4B 57 5F 54 6F 74 61 6C") > 0);
    /* Undefined state 3: Reject. */
    expect(req("01 04 00 03 0B 11 19 03 2D 07 00 73 65 63 72 65 74"), "01 00 60 0B 08");
    setup_dev(NULL);
    /* No password configured: with or without one, accepted (DECISIONS P2). */
    expect(req("01 04 00 03 0C 11 19 00 2D 03 00 61 62"), "01 00 20 0C 11");
    expect(req("01 04 00 03 0D 11 19 00"), "01 00 20 0D 11");
}

/* DCC disable for `minutes` at t0 (a clock about to wrap); the meter must stay silent
 * until exactly minutes * 60000 ms later, however the host ticks it: every hour
 * (hourly), or only through requests, one half-way (early) or none before the end. */
enum { DCC_HOURLY, DCC_EARLY, DCC_ONE_GAP };

static void dcc_long(uint32_t minutes, uint32_t t0, int mode)
{
    char r[96];
    setup_dev(NULL);
    snprintf(r, sizeof r, "01 04 00 03 01 11 0A %02X %02X 19 01", (unsigned)(minutes >> 8),
             (unsigned)(minutes & 0xFF));
    expect(req_at(t0, r, false), "01 00 20 01 11");
    const uint32_t span = minutes * 60000u, end = t0 + span;
    const char *rp = "01 04 00 03 02 0C 0C 02 00 04 D2 19 4C 29 00";
    if (mode == DCC_HOURLY)
        for (uint32_t t = 3600000u; t < span; t += 3600000u) {
            bac_server_tick(&srv, t0 + t);
            assert_int_equal(srv.dcc, BAC_DCC_DISABLE);
        }
    if (mode == DCC_EARLY)
        assert_int_equal(req_at(t0 + span / 2, rp, false), 0);
    assert_int_equal(req_at(end - 1, rp, false), 0);
    assert_int_equal(srv.dcc, BAC_DCC_DISABLE);
    assert_true(req_at(end, rp, false) > 0);
    assert_int_equal(srv.dcc, BAC_DCC_ENABLE);
}

static void test_dcc_long_durations(void **state)
{
    (void)state;
    /* Above 35,791 minutes the end lies more than 2^31 ms ahead; 65,535 minutes is
     * 3.9e9 ms, most of the 32-bit clock, which wraps on the way for most t0. */
    const uint32_t minutes[] = {1, 35791, 35792, 40000, 65535};
    const uint32_t t0s[] = {0xF0000000u, 0xFFFFFFFFu, 0x7FFFFFFFu, 5};
    for (size_t k = 0; k < sizeof minutes / sizeof minutes[0]; k++)
        for (size_t j = 0; j < sizeof t0s / sizeof t0s[0]; j++)
            for (int mode = DCC_HOURLY; mode <= DCC_ONE_GAP; mode++)
                dcc_long(minutes[k], t0s[j], mode);
}

static void test_reinitialize(void **state)
{
    (void)state;
    uint8_t st;
    expect(req("01 04 00 03 01 14 09 01"), "01 00 20 01 14");
    assert_true(bac_server_reinit_requested(&srv, &st));
    assert_int_equal(st, BAC_REINIT_WARMSTART);
    assert_false(bac_server_reinit_requested(&srv, &st));
    expect(req("01 04 00 03 02 14 09 00"), "01 00 20 02 14");
    assert_true(bac_server_reinit_requested(&srv, &st));
    assert_int_equal(st, BAC_REINIT_COLDSTART);
    /* Backup/restore states: optional functionality not supported; 7: Reject. */
    expect(req("01 04 00 03 03 14 09 02"), "01 00 50 03 14 91 05 91 2D");
    expect(req("01 04 00 03 04 14 09 07"), "01 00 60 04 08");
    assert_false(bac_server_reinit_requested(&srv, &st));
}

static void test_time_sync(void **state)
{
    (void)state;
    /* Power-up: the clock reads 2000-01-01 (a Saturday, 6) 00:00:00.00, BI15 active. */
    mtr_power_up(&dev.mtr);
    expect(req("01 04 00 03 01 0C 0C 02 00 04 D2 19 38"),
           "01 00 30 01 0C 0C 02 00 04 D2 19 38 3E A4 64 01 01 06 3F");
    expect(req("01 04 00 03 02 0C 0C 00 C0 00 0F 19 55"),
           "01 00 30 02 0C 0C 00 C0 00 0F 19 55 3E 91 01 3F");
    /* TimeSynchronization 2026-11-23 (Monday) 21:10:05.50. */
    assert_int_equal(req("01 00 10 06 A4 7E 0B 17 01 B4 15 0A 05 32"), 0);
    expect(req("01 04 00 03 03 0C 0C 02 00 04 D2 19 38"),
           "01 00 30 03 0C 0C 02 00 04 D2 19 38 3E A4 7E 0B 17 01 3F");
    expect(req("01 04 00 03 04 0C 0C 02 00 04 D2 19 39"),
           "01 00 30 04 0C 0C 02 00 04 D2 19 39 3E B4 15 0A 05 32 3F");
    expect(req("01 04 00 03 05 0C 0C 00 C0 00 0F 19 55"),
           "01 00 30 05 0C 0C 00 C0 00 0F 19 55 3E 91 00 3F");
    /* Wildcards and impossible dates are ignored. */
    assert_int_equal(req("01 00 10 06 A4 FF 0B 17 01 B4 15 0A 05 32"), 0);
    assert_int_equal(req("01 00 10 06 A4 7E 02 1E 01 B4 15 0A 05 32"), 0);
    expect(req("01 04 00 03 06 0C 0C 02 00 04 D2 19 38"),
           "01 00 30 06 0C 0C 02 00 04 D2 19 38 3E A4 7E 0B 17 01 3F");
}

/* ---- B/IP ---------------------------------------------------------------------------- */

static uint8_t sent[1600];
static size_t sent_len;
static bip_addr_t sent_to;
static int sends;

static int fake_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    memcpy(sent, data, len);
    sent_len = len;
    sent_to = *to;
    sends++;
    return 0;
}

/* The server as the layer above the link (what meter_upper does for a meter). */
static size_t srv_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                          size_t len, uint8_t *o, size_t cap, bool *reply_bcast)
{
    (void)src;
    return bac_server_handle(ctx, 0, npdu, len, bcast, o, cap, reply_bcast);
}

static void test_bip(void **state)
{
    (void)state;
    bip_t b;
    bip_addr_t self, bcast, peer;
    bip_addr_parse("10.0.0.5", 47808, &self);
    bip_addr_parse("10.0.0.255", 47808, &bcast);
    bip_addr_parse("10.0.0.9", 47809, &peer);
    bip_port_t port = {NULL, fake_send};
    bip_init(&b, &port, &self, &bcast, &(net_upper_t){.ctx = &srv, .receive = srv_receive});
    static uint8_t pkt[HEX_MAX];
    size_t n;

    /* Original-Unicast RP -> Original-Unicast Complex-ACK back to the sender. */
    n = hex("81 0A 00 13 01 04 00 03 01 0C 0C 02 00 04 D2 19 4C 29 00", pkt);
    sends = 0;
    bip_receive(&b, &peer, pkt, n);
    assert_int_equal(sends, 1);
    assert_memory_equal(&sent_to, &peer, sizeof peer);
    static uint8_t want[HEX_MAX];
    size_t wn = hex("81 0A 00 16 01 00 30 01 0C 0C 02 00 04 D2 19 4C 29 00 3E 21 71 3F", want);
    assert_int_equal(sent_len, wn);
    assert_memory_equal(sent, want, wn);
    /* Original-Broadcast Who-Is -> I-Am as Original-Broadcast to the broadcast address. */
    n = hex("81 0B 00 08 01 00 10 08", pkt);
    bip_receive(&b, &peer, pkt, n);
    assert_int_equal(sends, 2);
    assert_int_equal(sent[1], 0x0B);
    assert_memory_equal(&sent_to, &bcast, sizeof bcast);
    /* Our own broadcast coming back: dropped. */
    bip_receive(&b, &self, pkt, n);
    assert_int_equal(sends, 2);
    /* Forwarded-NPDU of a unicast-answerable request: reply to the originator. */
    n = hex("81 04 00 19 0A 00 00 07 BA C1 01 04 00 03 01 0C 0C 02 00 04 D2 19 4C 29 00", pkt);
    bip_receive(&b, &peer, pkt, n);
    assert_int_equal(sends, 2); /* a confirmed request forwarded as broadcast: discarded */
    n = hex("81 04 00 0E 0A 00 00 07 BA C1 01 00 10 08", pkt);
    bip_receive(&b, &peer, pkt, n);
    assert_int_equal(sends, 3);
    assert_int_equal(sent[1], 0x0B);
    /* BBMD functions: BVLC-Result NAK with the function's code. */
    const char *bbmd[][2] = {
        {"81 01 00 04", "81 00 00 06 00 10"}, {"81 02 00 04", "81 00 00 06 00 20"},
        {"81 05 00 06 00 3C", "81 00 00 06 00 30"}, {"81 06 00 04", "81 00 00 06 00 40"},
        {"81 08 00 0A 0A 00 00 07 BA C0", "81 00 00 06 00 50"},
        {"81 09 00 08 01 00 10 08", "81 00 00 06 00 60"},
    };
    for (int k = 0; k < 6; k++) {
        n = hex(bbmd[k][0], pkt);
        wn = hex(bbmd[k][1], want);
        bip_receive(&b, &peer, pkt, n);
        assert_int_equal(sent_len, wn);
        assert_memory_equal(sent, want, wn);
        assert_memory_equal(&sent_to, &peer, sizeof peer);
    }
    /* Wrong type, lying length, too short: dropped silently. */
    int before = sends;
    n = hex("82 0A 00 08 01 00 10 08", pkt);
    bip_receive(&b, &peer, pkt, n);
    n = hex("81 0A 00 09 01 00 10 08", pkt);
    bip_receive(&b, &peer, pkt, n);
    n = hex("81 0A 00", pkt);
    bip_receive(&b, &peer, pkt, n);
    n = hex("81 00 00 06 00 00", pkt); /* a result is not answered */
    bip_receive(&b, &peer, pkt, n);
    assert_int_equal(sends, before);
    /* Address parsing. */
    bip_addr_t a;
    assert_true(bip_addr_parse("127.0.0.1", 47808, &a));
    assert_int_equal(a.octets[0], 127);
    assert_int_equal(a.octets[4], 0xBA);
    assert_int_equal(a.octets[5], 0xC0);
    assert_false(bip_addr_parse("127.0.0", 1, &a));
    assert_false(bip_addr_parse("256.0.0.1", 1, &a));
    assert_false(bip_addr_parse("1.2.3.4.5", 1, &a));
    assert_false(bip_addr_parse("a.b.c.d", 1, &a));
    assert_false(bip_addr_parse("", 1, &a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_read_property_vectors, setup),
        cmocka_unit_test_setup(test_device_bit_strings, setup),
        cmocka_unit_test_setup(test_errors_rejects_aborts, setup),
        cmocka_unit_test_setup(test_routed_request, setup),
        cmocka_unit_test_setup(test_write_property, setup),
        cmocka_unit_test_setup(test_write_device, setup),
        cmocka_unit_test_setup(test_read_property_multiple, setup),
        cmocka_unit_test_setup(test_who_is_who_has, setup),
        cmocka_unit_test_setup(test_dcc, setup),
        cmocka_unit_test_setup(test_dcc_long_durations, setup),
        cmocka_unit_test_setup(test_write_hook, setup),
        cmocka_unit_test_setup(test_write_reserved_tag, setup),
        cmocka_unit_test_setup(test_reinitialize, setup),
        cmocka_unit_test_setup(test_time_sync, setup),
        cmocka_unit_test_setup(test_bip, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
