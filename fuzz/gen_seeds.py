#!/usr/bin/env python3
"""Write the generated seeds (fuzz/seeds/<target>/g_*) and the dictionaries
(fuzz/dict/<target>.dict) of the BACnet fuzz targets.

One list of requests, each a whole NPDU, wrapped for each target's input format:
  fuzz_server  [flags] then [ctl][len][NPDU] records (sequences: write, then read)
  fuzz_bip     [flags][BVLC][NPDU] (a BVLC length that matches the datagram)
  fuzz_mstp    [mac][max_master] then 0xFA records: well-formed frames to the node
  fuzz_bac_codec  a few of the NPDUs as they are
The requests reach what the hand-written seeds did not: every Device and trend-log
property, RPM ALL/REQUIRED/OPTIONAL on each object type, ReadRange by position,
sequence and time (both tags) against the fixture's logs, and a write of every writable
property type. The dictionaries hold the tokens those requests are made of: headers,
object identifiers, property identifiers, range selectors, values. Run it after changing
a request; the output is committed.
    python3 fuzz/gen_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DEV = 1234  # meter_fixture.h FIX_INSTANCE

# ---- clause 20 encoders ---------------------------------------------------------------


def tag(num, ctx, data):
    n = len(data)
    first = (min(num, 15) << 4) | (8 if ctx else 0)
    ext = bytes([num]) if num >= 15 else b""
    if n < 5:
        return bytes([first | n]) + ext + data
    if n < 254:
        return bytes([first | 5]) + ext + bytes([n]) + data
    return bytes([first | 5]) + ext + bytes([254]) + struct.pack(">H", n) + data


def uint_bytes(v):
    out = b""
    while True:
        out = bytes([v & 0xFF]) + out
        v >>= 8
        if not v:
            return out


def sint_bytes(v):
    for n in (1, 2, 3, 4):
        if -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
            return v.to_bytes(n, "big", signed=True)
    raise ValueError(v)


def oid(t, inst):
    return struct.pack(">I", (t << 22) | inst)


def a_null(): return b"\x00"
def a_bool(v): return bytes([0x10 | (1 if v else 0)])
def a_uint(v): return tag(2, False, uint_bytes(v))
def a_sint(v): return tag(3, False, sint_bytes(v))
def a_real(v): return tag(4, False, struct.pack(">f", v))
def a_double(v): return tag(5, False, struct.pack(">d", v))
def a_octets(b): return tag(6, False, b)
def a_str(s, cs=0): return tag(7, False, bytes([cs]) + s.encode())
def a_bits(nbits, data): return tag(8, False, bytes([(8 - nbits % 8) % 8]) + data)
def a_enum(v): return tag(9, False, uint_bytes(v))
def a_date(y, m, d, wd): return tag(10, False, bytes([y - 1900 if y != 255 else 255, m, d, wd]))
def a_time(h, mi, s, hs=0): return tag(11, False, bytes([h, mi, s, hs]))
def a_oid(t, i): return tag(12, False, oid(t, i))
def c_uint(n, v): return tag(n, True, uint_bytes(v))
def c_enum(n, v): return tag(n, True, uint_bytes(v))
def c_oid(n, t, i): return tag(n, True, oid(t, i))
def c_str(n, s): return tag(n, True, b"\x00" + s.encode())
def op(n): return bytes([(n << 4) | 0x0E]) if n < 15 else bytes([0xFE, n])
def cl(n): return bytes([(n << 4) | 0x0F]) if n < 15 else bytes([0xFF, n])


AI, AV, BI, DEVICE, TL = 0, 2, 3, 8, 20
WILDCARD = 4194303

# ---- requests ----------------------------------------------------------------------------

NPDU_REPLY = b"\x01\x04"  # version 1, expecting reply
NPDU_NONE = b"\x01\x00"
_invoke = [0]


def confirmed(service, body, max_apdu=5):
    _invoke[0] = (_invoke[0] + 1) & 0xFF
    return NPDU_REPLY + bytes([0x00, max_apdu, _invoke[0], service]) + body


def unconfirmed(service, body):
    return NPDU_NONE + bytes([0x10, service]) + body


def rp(t, i, prop, index=None, max_apdu=5):
    body = c_oid(0, t, i) + c_enum(1, prop) + (c_uint(2, index) if index is not None else b"")
    return confirmed(12, body, max_apdu)


def rpm(specs, max_apdu=5):
    body = b""
    for (t, i), props in specs:
        body += c_oid(0, t, i) + op(1)
        for p in props:
            if isinstance(p, tuple):
                body += c_enum(0, p[0]) + c_uint(1, p[1])
            else:
                body += c_enum(0, p)
        body += cl(1)
    return confirmed(14, body, max_apdu)


def wp(t, i, prop, value, priority=None, index=None):
    body = c_oid(0, t, i) + c_enum(1, prop)
    if index is not None:
        body += c_uint(2, index)
    body += op(3) + value + cl(3)
    if priority is not None:
        body += c_uint(4, priority)
    return confirmed(15, body)


def rr(inst, rng=b"", prop=131, t=TL, index=None, max_apdu=5):
    body = c_oid(0, t, inst) + c_enum(1, prop)
    if index is not None:
        body += c_uint(2, index)
    return confirmed(26, body + rng, max_apdu)


def by_pos(ref, count): return op(3) + a_uint(ref) + a_sint(count) + cl(3)
def by_seq(ref, count): return op(6) + a_uint(ref) + a_sint(count) + cl(6)


def by_time(date, time, count, ctx=7):
    return op(ctx) + a_date(*date) + a_time(*time) + a_sint(count) + cl(ctx)


def dcc(state, minutes=None, password=None):
    body = (c_uint(0, minutes) if minutes is not None else b"") + c_enum(1, state)
    if password is not None:
        body += c_str(2, password)
    return confirmed(17, body)


def reinit(state, password=None):
    return confirmed(20, c_enum(0, state) + (c_str(1, password) if password is not None else b""))


def time_sync(date, time, utc=False):
    return unconfirmed(9 if utc else 6, a_date(*date) + a_time(*time))


DEVICE_PROPS = [75, 77, 79, 112, 121, 120, 70, 44, 12, 98, 139, 97, 96, 76, 62, 107, 11, 73,
                30, 155, 64, 63, 28, 58, 57, 56]
TL_PROPS = [75, 77, 79, 133, 144, 126, 131, 141, 145, 36, 111, 28, 142, 143, 132, 134]
ANALOG_PROPS = [75, 77, 79, 85, 111, 36, 81, 117, 28, 103]
BINARY_PROPS = [75, 77, 79, 85, 111, 36, 81, 84, 28, 103]

# Fixture times: the logs end at 2024-06-01 12:00 (a Saturday), every 15 minutes.
D_END = (2024, 6, 1, 6)
D_MAY = (2024, 5, 20, 1)
D_APR = (2024, 4, 1, 1)
ANY_DATE = (255, 255, 255, 255)
ANY_TIME = (255, 255, 255, 255)


def singles():
    """Requests that stand alone: name -> NPDU."""
    s = {}
    for p in DEVICE_PROPS:
        s[f"rp_dev_{p}"] = rp(DEVICE, DEV, p)
    s["rp_dev_wildcard_name"] = rp(DEVICE, WILDCARD, 77)
    s["rp_dev_objlist_1"] = rp(DEVICE, DEV, 76, 1)
    s["rp_dev_objlist_113"] = rp(DEVICE, DEV, 76, 113)
    s["rp_dev_objlist_200"] = rp(DEVICE, DEV, 76, 200)
    s["rp_dev_proplist"] = rp(DEVICE, DEV, 371)
    s["rp_dev_name_50"] = rp(DEVICE, DEV, 77, max_apdu=0)
    s["rp_dev_services_206"] = rp(DEVICE, DEV, 97, max_apdu=2)
    for inst in (1, 2, 3):
        for p in TL_PROPS:
            s[f"rp_tl{inst}_{p}"] = rp(TL, inst, p)
    s["rp_tl4"] = rp(TL, 4, 75)
    for p in ANALOG_PROPS:
        s[f"rp_ai11_{p}"] = rp(AI, 11, p)
        s[f"rp_av3_{p}"] = rp(AV, 3, p)
    for p in BINARY_PROPS:
        s[f"rp_bi15_{p}"] = rp(BI, 15, p)
    s["rp_ai83_pv"] = rp(AI, 83, 85)
    s["rp_ai84"] = rp(AI, 84, 85)
    s["rp_av1_pv"] = rp(AV, 1, 85)
    s["rp_av_index"] = rp(AV, 2, 85, 1)
    # ReadPropertyMultiple
    for name, t, i in (("dev", DEVICE, DEV), ("ai", AI, 1), ("av", AV, 11), ("bi", BI, 1),
                       ("tl1", TL, 1), ("tl2", TL, 2), ("none", AI, 99)):
        s[f"rpm_{name}_all"] = rpm([((t, i), [8])])
        s[f"rpm_{name}_required"] = rpm([((t, i), [105])])
        s[f"rpm_{name}_optional"] = rpm([((t, i), [80])])
    s["rpm_all_index"] = rpm([((AI, 1), [(8, 1)])])
    s["rpm_dev_objlist_index"] = rpm([((DEVICE, DEV), [(76, 0), (76, 5), (76, 500), 77])])
    s["rpm_mixed"] = rpm([((DEVICE, WILDCARD), [75, 57, 56, 58]), ((TL, 1), [141, 145, 142, 133]),
                          ((AV, 5), [85, 103, 111]), ((BI, 3), [85, 9999])])
    s["rpm_tl_all_206"] = rpm([((TL, 3), [8])], max_apdu=2)
    s["rpm_av_optional_50"] = rpm([((AV, 1), [80]), ((AV, 2), [80])], max_apdu=0)
    # ReadRange
    for inst in (1, 2, 3):
        s[f"rr_tl{inst}_all"] = rr(inst)
        s[f"rr_tl{inst}_pos_first"] = rr(inst, by_pos(1, 5))
        s[f"rr_tl{inst}_pos_back"] = rr(inst, by_pos(5760, -10))
        s[f"rr_tl{inst}_seq"] = rr(inst, by_seq(5790, 8))
        s[f"rr_tl{inst}_seq_back"] = rr(inst, by_seq(200, -20))
        s[f"rr_tl{inst}_time"] = rr(inst, by_time(D_MAY, (12, 0, 0, 0), 10))
        s[f"rr_tl{inst}_time_back"] = rr(inst, by_time(D_END, (11, 0, 0, 0), -10))
        s[f"rr_tl{inst}_time_old_tag"] = rr(inst, by_time(D_APR, (0, 0, 0, 0), 4, ctx=4))
    s["rr_tl1_pos_many"] = rr(1, by_pos(100, 200))
    s["rr_tl1_pos_many_206"] = rr(1, by_pos(100, 200), max_apdu=2)
    s["rr_tl1_pos_beyond"] = rr(1, by_pos(6000, 3))
    s["rr_tl1_seq_old"] = rr(1, by_seq(3, 5))
    s["rr_tl1_seq_newest_back"] = rr(1, by_seq(5802, -32768))
    s["rr_tl1_time_future"] = rr(1, by_time((2030, 1, 1, 2), (0, 0, 0, 0), -3))
    s["rr_tl1_time_wild"] = rr(1, by_time(ANY_DATE, (0, 0, 0, 0), 3))
    s["rr_tl2_time_across_change"] = rr(2, by_time(D_END, (0, 0, 0, 0), 30))
    s["rr_tl1_count0"] = rr(1, by_pos(1, 0))
    s["rr_tl1_withdrawn5"] = rr(1, op(5) + a_date(*D_MAY) + a_time(0, 0, 0) + a_date(*D_END) +
                                a_time(0, 0, 0) + cl(5))
    s["rr_tl1_other_prop"] = rr(1, by_pos(1, 1), prop=141)
    s["rr_tl1_unknown_prop"] = rr(1, by_pos(1, 1), prop=85)
    s["rr_tl1_index"] = rr(1, by_pos(1, 1), index=1)
    s["rr_ai1"] = rr(1, by_pos(1, 1), prop=85, t=AI)
    s["rr_tl9"] = rr(9)
    # WriteProperty: every writable property, accepted and refused
    s["wp_dev_oid"] = wp(DEVICE, DEV, 75, a_oid(DEVICE, 4096))
    s["wp_dev_oid_bad"] = wp(DEVICE, DEV, 75, a_oid(AI, 4096))
    s["wp_dev_name"] = wp(DEVICE, DEV, 77, a_str("Meter 7"))
    s["wp_dev_name_dup"] = wp(DEVICE, DEV, 77, a_str("KW_Total"))
    s["wp_dev_name_empty"] = wp(DEVICE, DEV, 77, a_str(""))
    s["wp_dev_name_ucs2"] = wp(DEVICE, DEV, 77, a_str("\0M", cs=4))
    s["wp_dev_location"] = wp(DEVICE, DEV, 58, a_str("Roof, panel B"))
    s["wp_dev_location_ctrl"] = wp(DEVICE, DEV, 58, a_str("a\tb"))
    s["wp_dev_maxmaster"] = wp(DEVICE, DEV, 64, a_uint(64))
    s["wp_dev_maxmaster_big"] = wp(DEVICE, DEV, 64, tag(2, False, b"\x01\x00\x00\x00\x00"))
    s["wp_dev_maxmaster_200"] = wp(DEVICE, DEV, 64, a_uint(200))
    s["wp_dev_maxmaster_0"] = wp(DEVICE, DEV, 64, a_uint(0))
    s["wp_dev_description"] = wp(DEVICE, DEV, 28, a_str("x"))
    s["wp_dev_wildcard_location"] = wp(DEVICE, WILDCARD, 58, a_str("here"), priority=16)
    avs = {1: 21211.0, 2: 31.0, 3: 200.0, 4: 3.0, 5: 2.5, 6: 480.0, 7: 0.0, 8: 20.0, 9: 30.0,
           10: 3.0, 11: 1000.0}
    for av, v in avs.items():
        s[f"wp_av{av}"] = wp(AV, av, 85, a_real(v))
    s["wp_av1_clear"] = wp(AV, 1, 85, a_real(30078.0))
    s["wp_av1_maxdem"] = wp(AV, 1, 85, a_real(21212.0))
    s["wp_av1_pulses"] = wp(AV, 1, 85, a_real(16498.0))
    s["wp_av11_sync"] = wp(AV, 11, 85, a_real(0.0))
    s["wp_av3_double"] = wp(AV, 3, 85, a_double(200.0))
    s["wp_av3_uint"] = wp(AV, 3, 85, a_uint(200))
    s["wp_av3_null"] = wp(AV, 3, 85, a_null())
    s["wp_av3_two"] = wp(AV, 3, 85, a_real(200.0) + a_real(1.0))
    s["wp_av_name"] = wp(AV, 3, 77, a_str("x"))
    s["wp_ai_pv"] = wp(AI, 1, 85, a_real(1.0))
    for inst in (1, 2, 3):
        s[f"wp_tl{inst}_enable_off"] = wp(TL, inst, 133, a_bool(False))
        s[f"wp_tl{inst}_enable_on"] = wp(TL, inst, 133, a_bool(True))
        s[f"wp_tl{inst}_stop_full"] = wp(TL, inst, 144, a_bool(True))
        s[f"wp_tl{inst}_purge"] = wp(TL, inst, 141, a_uint(0))
    s["wp_tl1_purge_1"] = wp(TL, 1, 141, a_uint(1))
    s["wp_tl1_start"] = wp(TL, 1, 142, a_date(*D_END) + a_time(13, 0, 0, 0))
    s["wp_tl1_start_any"] = wp(TL, 1, 142, a_date(*ANY_DATE) + a_time(*ANY_TIME))
    s["wp_tl1_start_hs_any"] = wp(TL, 1, 142, a_date(*D_END) + a_time(13, 0, 0, 255))
    s["wp_tl1_start_bad"] = wp(TL, 1, 142, a_date(2024, 2, 30, 255) + a_time(0, 0, 0, 0))
    s["wp_tl1_start_date_only"] = wp(TL, 1, 142, a_date(*D_END))
    s["wp_tl2_stop"] = wp(TL, 2, 143, a_date(*D_MAY) + a_time(0, 0, 0, 0))
    s["wp_tl1_interval"] = wp(TL, 1, 134, a_uint(6000))
    s["wp_tl1_interval_bad"] = wp(TL, 1, 134, a_uint(1234))
    s["wp_tl1_interval_real"] = wp(TL, 1, 134, a_real(6000.0))
    s["wp_tl1_dop"] = wp(TL, 1, 132, c_oid(0, AI, 11) + c_enum(1, 85))
    s["wp_tl1_dop_dev"] = wp(TL, 1, 132, c_oid(0, AI, 1) + c_enum(1, 85) + c_oid(3, DEVICE, DEV))
    s["wp_tl1_dop_index"] = wp(TL, 1, 132, c_oid(0, AI, 1) + c_enum(1, 85) + c_uint(2, 1))
    s["wp_tl1_dop_ai80"] = wp(TL, 1, 132, c_oid(0, AI, 80) + c_enum(1, 85))
    s["wp_tl1_buffer"] = wp(TL, 1, 131, a_null())
    s["wp_tl1_index"] = wp(TL, 1, 133, a_bool(True), index=1)
    s["wp_reserved_tag"] = wp(AV, 3, 85, b"\xD1\x00")
    # Device management and unconfirmed services
    s["dcc_disable_1"] = dcc(1, 1)
    s["dcc_disable_65535"] = dcc(1, 65535)
    s["dcc_initiation"] = dcc(2, None, "pw")
    s["dcc_enable"] = dcc(0)
    s["dcc_bad_state"] = dcc(3)
    s["reinit_warm"] = reinit(1)
    s["reinit_cold_pw"] = reinit(0, "pw")
    s["reinit_backup"] = reinit(2)
    s["time_sync"] = time_sync(D_END, (12, 30, 0, 0))
    s["time_sync_back"] = time_sync(D_MAY, (0, 0, 0, 0))
    s["time_sync_utc"] = time_sync(D_END, (12, 30, 0, 0), utc=True)
    s["who_is"] = unconfirmed(8, b"")
    s["who_is_range"] = unconfirmed(8, c_uint(0, 1000) + c_uint(1, 2000))
    s["who_has_name"] = unconfirmed(7, c_str(3, "Trend_Log_2"))
    s["who_has_oid"] = unconfirmed(7, c_oid(2, TL, 3))
    s["routed_rp"] = b"\x01\x0c\x00\x05\x01\x21" + confirmed(12, c_oid(0, TL, 1) + c_enum(1, 145))[2:]
    s["segmented"] = NPDU_REPLY + bytes([0x08, 0x05, 0x01, 0x00, 0x01, 0x0C]) + c_oid(0, AI, 1) + c_enum(1, 85)
    s["unknown_service"] = confirmed(27, b"")
    return s


def sequences():
    """Requests that need one before them: name -> [(ctl, NPDU), ...]."""
    # ctl bits 1..7 = s: the ms clock moves on by s^3 * 2000 ms
    two_min = 4 << 1  # 128 s
    twenty_days = 95 << 1  # 1.7e9 ms
    return {
        "av11_then_read": [(0, wp(AV, 11, 85, a_real(1000.0))), (0, rp(AV, 11, 85)),
                           (0, rp(TL, 1, 134)), (0, rr(1, by_pos(5760, -3)))],
        "sync_mode": [(0, wp(AV, 11, 85, a_real(0.0))), (0, wp(AV, 1, 85, a_real(21211.0))),
                      (0, rr(2, by_seq(1, 5)))],
        "tl_start_then_rr": [(0, wp(TL, 1, 142, a_date(*D_END) + a_time(12, 0, 0, 0))),
                             (0, rr(1, by_time(D_END, (11, 0, 0, 0), 5))), (0, rp(TL, 1, 142))],
        "tl_disable_then_rr": [(0, wp(TL, 3, 133, a_bool(False))), (0, rr(3, by_pos(1, 10))),
                               (0, rpm([((TL, 3), [8])]))],
        "tl_purge_then_rr": [(0, wp(TL, 1, 141, a_uint(0))), (0, rr(1, by_seq(5803, 3))),
                             (0, rr(1, by_time(D_END, (12, 0, 0, 0), -2)))],
        "tl_stop_full_then_rp": [(0, wp(TL, 2, 144, a_bool(True))), (0, rp(TL, 2, 133))],
        "tl_dop_then_rr": [(0, wp(TL, 1, 132, c_oid(0, AI, 11) + c_enum(1, 85))),
                           (0, rr(1, b"")), (0, rp(TL, 1, 132))],
        "time_sync_then_read": [(1, time_sync(D_END, (12, 30, 0, 0))), (0, rp(DEVICE, DEV, 56)),
                                (0, rp(DEVICE, DEV, 57)), (0, rr(1, by_pos(5760, -2)))],
        "dcc_then_timeout": [(0, dcc(1, 1)), (0, rp(DEVICE, DEV, 75)), (two_min, rp(DEVICE, DEV, 75))],
        "dcc_long": [(0, dcc(1, 40000)), (twenty_days, rp(DEVICE, DEV, 75)),
                     (twenty_days, rp(DEVICE, DEV, 75))],
        "dcc_initiation_who": [(0, dcc(2, 5)), (1, unconfirmed(8, b"")),
                               (1, unconfirmed(7, c_str(3, "KW_Total")))],
        "reinit_then_read": [(0, reinit(1)), (0, rp(AV, 3, 85)), (0, rp(DEVICE, DEV, 57))],
        "write_dev_then_who": [(0, wp(DEVICE, DEV, 75, a_oid(DEVICE, 77))), (1, unconfirmed(8, b"")),
                               (0, rp(DEVICE, 77, 77)), (0, wp(DEVICE, 77, 77, a_str("M"))),
                               (1, unconfirmed(7, c_str(3, "M")))],
        # The 1 s cycle runs after the first record: a write after it stays pending.
        "av_write_then_reliability": [(1, unconfirmed(8, b"")), (0, wp(AV, 8, 85, a_real(20.0))),
                                      (0, rp(AV, 8, 103)), (0, rp(AV, 8, 111)),
                                      (0, rpm([((AV, 8), [8])]))],
        "sync_log": [(0, wp(AV, 1, 85, a_real(21211.0))), (0, rr(1, by_pos(1, 5))),
                     (0, rp(TL, 2, 145)), (0, rp(AV, 11, 85))],
        "sync_interval_back": [(0, wp(AV, 11, 85, a_real(90000.0))), (0, rr(3, b""))],
        "hook_writes": [(0, wp(AV, 3, 85, a_real(200.0))), (0, wp(AV, 4, 85, a_real(3.0))),
                        (0, wp(DEVICE, DEV, 58, a_str("x"))), (0, wp(TL, 1, 141, a_uint(0))),
                        (0, rp(AV, 3, 85))],
        "energy_clear": [(0, wp(AV, 1, 85, a_real(30078.0))), (0, rp(AI, 1, 85)),
                         (0, rp(AI, 78, 85))],
    }


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def bvlc(npdu, bcast=False):
    n = len(npdu) + 4
    return bytes([0x81, 0x0B if bcast else 0x0A]) + struct.pack(">H", n) + npdu


def mstp_frame(npdu, mac=5, src=3, expecting=True):
    ftype, dst = (5, mac) if expecting else (6, 255)
    return bytes([0xFA, len(npdu), ftype, dst, src]) + npdu


def main():
    for target in ("fuzz_server", "fuzz_bip", "fuzz_mstp", "fuzz_bac_codec"):
        d = os.path.join(HERE, "seeds", target)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.startswith("g_"):
                os.remove(os.path.join(d, f))
    s = singles()
    for name, npdu in s.items():
        unconf = npdu[1] == 0x00 and npdu[2] == 0x10
        write("fuzz_server", "g_" + name, bytes([0, 1 if unconf else 0, len(npdu)]) + npdu)
        write("fuzz_bip", "g_" + name, b"\x00" + bvlc(npdu, unconf))
    for name, recs in sequences().items():
        flags = {"reinit": 0x80, "sync": 0x40, "hook": 0x20}.get(name.split("_")[0], 0)
        data = bytes([flags])
        for ctl, npdu in recs:
            data += bytes([ctl, len(npdu)]) + npdu
        write("fuzz_server", "g_" + name, data)
    # Flags of fuzz_bip: sends fail (bit 1), a failing durability hook (bit 5), the
    # sync-to-comms meter (bit 6).
    write("fuzz_bip", "g_sends_fail", b"\x02" + bvlc(s["rp_dev_75"]))
    write("fuzz_bip", "g_hook_wp_av3", b"\x20" + bvlc(s["wp_av3"]))
    write("fuzz_bip", "g_sync_av1", b"\x40" + bvlc(s["wp_av1"]))
    # The four BACnet/IP seeds whose BVLC length did not match their datagram.
    fixed = {
        "dcc": b"\x80" + bvlc(NPDU_REPLY + bytes([0x00, 0x03, 0x04, 0x11]) + c_uint(0, 1) +
                              c_enum(1, 1) + c_str(2, "pw")),
        "reinit": b"\x00" + bvlc(NPDU_REPLY + bytes([0x00, 0x03, 0x01, 0x14]) + c_enum(0, 1)),
        "rpm_all": b"\x00" + bvlc(NPDU_REPLY + bytes([0x00, 0x03, 0x02, 0x0E]) + c_oid(0, BI, 15) +
                                  op(1) + c_enum(0, 8) + cl(1)),
        "timesync": b"\x00" + bvlc(time_sync((2026, 11, 23, 1), (21, 10, 5, 50)), bcast=True),
    }
    for name, data in fixed.items():
        write("fuzz_bip", name, data)
    # MS/TP: a few of the same requests as frames to the node (MAC 5, Max_Master 127).
    for name in ("rpm_tl1_all", "rr_tl1_time", "rr_tl2_seq_back", "wp_tl1_start", "wp_dev_name",
                 "wp_av11", "dcc_disable_1", "reinit_warm", "rp_dev_57", "rpm_mixed"):
        write("fuzz_mstp", "g_" + name, b"\x05\x7f" + mstp_frame(s[name]) + b"\xfa\x00\x00\x05\x03")
    # The codec target reads an NPDU and an APDU header, then walks the elements.
    for name in ("rpm_mixed", "rr_tl1_time", "rr_tl1_withdrawn5", "wp_tl1_dop_dev", "wp_dev_name",
                 "wp_tl1_start", "dcc_initiation", "who_has_name", "routed_rp", "segmented",
                 "time_sync", "wp_reserved_tag", "wp_dev_maxmaster_big"):
        write("fuzz_bac_codec", "g_" + name, s[name])
    token = b"\xfa\x00\x00\x05\x03"
    write("fuzz_mstp", "g_baud_9600", b"\x05\x7f\xfc\x00" + mstp_frame(s["rp_dev_75"]) + token)
    write("fuzz_mstp", "g_send_fails", b"\x05\x7f\xfd\x01" + mstp_frame(s["rp_dev_75"]) + token +
          b"\xfd\x00" + token)
    write("fuzz_mstp", "g_time_sync_broadcast",
          b"\x05\x7f" + mstp_frame(s["time_sync"], expecting=False) + b"\xfa\x00\x00\x05\x03")


# ---- dictionaries ------------------------------------------------------------------------


def bacnet_tokens():
    t = {}
    t["npdu_reply"] = NPDU_REPLY
    t["npdu_none"] = NPDU_NONE
    t["npdu_global"] = b"\x01\x20\xff\xff\x00\xff"
    t["npdu_routed"] = b"\x01\x0c\x00\x05\x01\x21"
    t["npdu_dnet"] = b"\x01\x24\x00\x05\x01\x07\xff"
    for name, b in (("conf_1476", b"\x00\x05"), ("conf_480", b"\x00\x03"), ("conf_206", b"\x00\x02"),
                    ("conf_50", b"\x00\x00"), ("conf_seg", b"\x08\x05"), ("conf_sa", b"\x02\x75")):
        t[name] = b
    for name, sv in (("rp", 12), ("rpm", 14), ("wp", 15), ("dcc", 17), ("reinit", 20), ("rr", 26)):
        t["svc_" + name] = bytes([0x01, sv])
    for name, sv in (("who_is", 8), ("who_has", 7), ("time_sync", 6), ("utc_sync", 9)):
        t["usvc_" + name] = bytes([0x10, sv])
    for name, (ty, i) in (("dev", (DEVICE, DEV)), ("dev_any", (DEVICE, WILDCARD)), ("tl1", (TL, 1)),
                          ("tl2", (TL, 2)), ("tl3", (TL, 3)), ("ai1", (AI, 1)), ("ai83", (AI, 83)),
                          ("av1", (AV, 1)), ("av11", (AV, 11)), ("bi15", (BI, 15))):
        t["oid_" + name] = c_oid(0, ty, i)
        t["app_oid_" + name] = a_oid(ty, i)
    for p in sorted(set(DEVICE_PROPS + TL_PROPS + ANALOG_PROPS + BINARY_PROPS + [371])):
        t[f"prop_{p}"] = c_enum(1, p)
    for p in (8, 80, 105, 85, 77, 76):
        t[f"rpm_prop_{p}"] = c_enum(0, p)
    for n in (1, 3, 4, 5, 6, 7):
        t[f"open_{n}"] = op(n)
        t[f"close_{n}"] = cl(n)
    t["pos_1_5"] = by_pos(1, 5)
    t["seq_5790_m8"] = by_seq(5790, -8)
    t["time_may"] = by_time(D_MAY, (12, 0, 0, 0), 10)
    t["date_end"] = a_date(*D_END)
    t["date_any"] = a_date(*ANY_DATE)
    t["time_noon"] = a_time(12, 0, 0, 0)
    t["time_any"] = a_time(*ANY_TIME)
    t["count_m1"] = a_sint(-1)
    t["count_big"] = a_sint(-32768)
    t["uint_5760"] = a_uint(5760)
    t["uint_0"] = a_uint(0)
    for v in (0.0, 100.0, 1000.0, 21211.0, 21212.0, 30078.0, 16498.0, 31.0, 3.0, float("nan")):
        t[f"real_{v}"] = a_real(v)
    t["false"] = a_bool(False)
    t["true"] = a_bool(True)
    t["null"] = a_null()
    t["str_name"] = a_str("KW_Total")
    t["str_tl"] = a_str("Trend_Log_1")
    t["str_ucs2"] = a_str("\0M", cs=4)
    t["prio_16"] = c_uint(4, 16)
    t["dcc_minutes"] = c_uint(0, 65535)
    t["dcc_disable"] = c_enum(1, 1)
    t["password"] = c_str(2, "pw")
    t["reinit_pw"] = c_str(1, "pw")
    t["who_has_name"] = c_str(3, "KW_Total")
    t["dop"] = c_oid(0, AI, 11) + c_enum(1, 85)
    t["reserved_tag"] = b"\xd1\x00"
    return t


def write_dict(target, tokens):
    d = os.path.join(HERE, "dict")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, target + ".dict"), "w") as f:
        f.write(f"# {target}: generated by fuzz/gen_seeds.py\n")
        for name, b in tokens.items():
            f.write(name.replace(".", "_").replace("-", "m") + '="' +
                    "".join(f"\\x{c:02x}" for c in b) + '"\n')


def dictionaries():
    t = bacnet_tokens()
    write_dict("fuzz_server", t)
    bip = dict(t)
    for name, b in (("bvlc_unicast", b"\x81\x0a"), ("bvlc_bcast", b"\x81\x0b"),
                    ("bvlc_forwarded", b"\x81\x04"), ("bvlc_result", b"\x81\x00\x00\x06"),
                    ("bvlc_register", b"\x81\x05\x00\x06"), ("bvlc_distribute", b"\x81\x09"),
                    ("bip_addr", b"\x7f\x00\x00\x09\xba\xc0")):
        bip[name] = b
    write_dict("fuzz_bip", bip)
    mstp = dict(t)
    for name, b in (("token", b"\xfa\x00\x00\x05\x03"), ("pfm", b"\xfa\x00\x01\x05\x03"),
                    ("der", b"\xfa\x10\x05\x05\x03"), ("dner_bcast", b"\xfa\x08\x06\xff\x03"),
                    ("test_request", b"\xfa\x04\x03\x05\x03"), ("reply_postponed", b"\xfa\x00\x07\x03\x05"),
                    ("preamble", b"\x55\xff"), ("wait_480ms", b"\xf7\x05"), ("wait_10ms", b"\xf0\x00"),
                    ("rx_error", b"\xf8\x00"), ("queue", b"\xf9\x04"), ("set_mac", b"\xfb\x09"),
                    ("baud_9600", b"\xfc\x00"), ("sends_fail", b"\xfd\x01")):
        mstp[name] = b
    write_dict("fuzz_mstp", mstp)


if __name__ == "__main__":
    main()
    dictionaries()
