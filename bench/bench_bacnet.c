/*
 * bench_bacnet: a BACnet/IP load generator (closed loop, many confirmed requests in
 * flight) that reports throughput and latency percentiles of a BACnet/IP device, and
 * the same figures for a do-nothing responder of its own as a floor.
 *
 * How to run: start the meter, e.g. `build/s4100 run --bip-port 47900 --bind 127.0.0.1
 * --device-id 1234 --no-panel &`, then `build/bench/bench_bacnet --port 47900 --device
 * 1234`. Two workloads: (a) ReadProperty of one property (default analog-input:11
 * present-value, see --object/--property) and (b) ReadPropertyMultiple of the
 * Present_Value of AI1..AI83, split into as few requests as a 480-octet reply allows.
 * Each runs for --seconds (default 3) against the target and as long against the floor,
 * a forked process bound to a free port on 127.0.0.1 that answers every request at once
 * with a canned Complex-ACK of the same shape; the two alternate in 3 rounds (--rounds),
 * each after a 0.1 s warm-up. It prints req/s (and points/s for RPM), p50/p90/p99/p99.9/
 * max latency in microseconds, the reply counters (errors, rejects, aborts, timeouts
 * kept apart) and ratio = target req/s / floor req/s. Any BACnet/IP implementation on
 * 127.0.0.0/8 can be the target (--target, --port); --floor-only measures the floor
 * alone, --no-floor the target alone. `--serve PORT` runs the responder in the
 * foreground (add --faults for a misbehaving one) and `--self-test` checks the bench's
 * own counting against a faulty responder, a silent target and a closed port. All is
 * bounded in time: a target that never answers costs one probe timeout. Figures depend
 * on the machine (both processes share its cores); a measurement, not a test.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------
 * Wire constants (docs/decisions.md, "BACnet facts").
 */
#define BVLC_TYPE 0x81u
#define BVLC_FORWARDED 0x04u
#define BVLC_UNICAST 0x0Au
#define BVLC_BROADCAST 0x0Bu

#define PDU_CONFIRMED 0u
#define PDU_SIMPLE_ACK 2u
#define PDU_COMPLEX_ACK 3u
#define PDU_ERROR 5u
#define PDU_REJECT 6u
#define PDU_ABORT 7u

#define SVC_RP 12u
#define SVC_RPM 14u

#define OBJ_AI 0u
#define PROP_PV 85u

/* Our requests: BVLC (4) + NPDU `01 04` (2) + `00 maxapdu invoke service`. */
#define APDU_OFF 6u
#define INVOKE_OFF (APDU_OFF + 2u)

/* Octets of one AI Present_Value in an RPM ACK: 0C oid(4) 1E 29 55 4E 44 r(4) 4F 1F,
 * after the Complex-ACK header `30 id 0E` (3). A reply must fit max-APDU, so one request
 * carries at most (max_apdu - 3) / 16 objects: 29 at 480 octets, 83 AIs = 3 requests. */
#define RPM_ACK_HDR 3u
#define RPM_ACK_PER_PV 16u
#define RPM_REQ_HDR 4u  /* 00 03 id 0E */
#define RPM_REQ_PER_PV 9u /* 0C oid(4) 1E 09 55 1F */

#define MAX_INFLIGHT 200
#define RX_MAX 2048u
#define TX_MAX 1600u
#define NS 1000000000ull
#define MS 1000000ull

/* ------------------------------------------------------------------------------------
 * Options.
 */
typedef struct {
    struct sockaddr_in target;
    char target_str[64];
    long device;      /* -1: not given */
    unsigned obj_type;
    uint32_t obj_inst;
    uint32_t prop;
    long arr_index;   /* -1: none */
    int inflight;
    double seconds;
    bool seconds_set;
    double warmup;
    int rounds;       /* floor and target alternate this many times per workload */
    int timeout_ms;
    unsigned max_apdu;
    unsigned rpm_objects;
    bool run_rp, run_rpm;
    bool floor_only, no_floor, verbose, self_test, faults;
    int serve_port;   /* 0: not serving */
} cfg_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------
 * Names for objects and properties (numbers are always accepted too).
 */
typedef struct {
    const char *name, *alias, *label;
    unsigned value;
} name_t;

static const name_t obj_names[] = {
    {"analog-input", "ai", "AI", 0},   {"analog-output", "ao", "AO", 1},
    {"analog-value", "av", "AV", 2},   {"binary-input", "bi", "BI", 3},
    {"binary-output", "bo", "BO", 4},  {"binary-value", "bv", "BV", 5},
    {"device", "dev", "DEV", 8},       {"trend-log", "tl", "TL", 20},
};

static const name_t prop_names[] = {
    {"present-value", "pv", "PV", 85},     {"object-name", "name", "NAME", 77},
    {"object-identifier", "oid", "OID", 75}, {"object-type", "type", "TYPE", 79},
    {"status-flags", "flags", "SF", 111},  {"units", "units", "UNITS", 117},
    {"object-list", "list", "OBJLIST", 76}, {"description", "desc", "DESC", 28},
    {"event-state", "state", "ES", 36},    {"out-of-service", "oos", "OOS", 81},
    {"reliability", "rel", "REL", 103},    {"local-time", "time", "TIME", 57},
    {"local-date", "date", "DATE", 56},    {"system-status", "status", "STATUS", 112},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool lookup(const name_t *t, size_t n, const char *s, unsigned long max, unsigned *out)
{
    unsigned long v;
    if (parse_ulong(s, max, &v)) {
        *out = (unsigned)v;
        return true;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, t[i].name) || !strcmp(s, t[i].alias)) {
            *out = t[i].value;
            return true;
        }
    return false;
}

static const name_t *find_value(const name_t *t, size_t n, unsigned v)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == v)
            return &t[i];
    return NULL;
}

/* "AI11", "P85" style labels for the summary lines. */
static void obj_label(char *buf, size_t cap, unsigned type, uint32_t inst)
{
    const name_t *n = find_value(obj_names, COUNT(obj_names), type);
    if (n)
        snprintf(buf, cap, "%s%lu", n->label, (unsigned long)inst);
    else
        snprintf(buf, cap, "%u:%lu", type, (unsigned long)inst);
}

static void prop_label(char *buf, size_t cap, uint32_t prop)
{
    const name_t *n = find_value(prop_names, COUNT(prop_names), prop);
    if (n)
        snprintf(buf, cap, "%s", n->label);
    else
        snprintf(buf, cap, "P%lu", (unsigned long)prop);
}

/* ------------------------------------------------------------------------------------
 * Encoding the requests (fixed layouts, built once; only the invoke id changes).
 */
static size_t put_ctx_uint(uint8_t *p, unsigned tag, uint32_t v)
{
    unsigned n = v < 0x100u ? 1 : v < 0x10000u ? 2 : v < 0x1000000u ? 3 : 4;
    p[0] = (uint8_t)(tag << 4 | 0x08u | n);
    for (unsigned i = 0; i < n; i++)
        p[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return 1 + n;
}

static size_t put_ctx_oid(uint8_t *p, unsigned tag, uint32_t oid)
{
    p[0] = (uint8_t)(tag << 4 | 0x08u | 4u);
    p[1] = (uint8_t)(oid >> 24);
    p[2] = (uint8_t)(oid >> 16);
    p[3] = (uint8_t)(oid >> 8);
    p[4] = (uint8_t)oid;
    return 5;
}

static uint32_t make_oid(unsigned type, uint32_t inst) { return (uint32_t)type << 22 | inst; }

static uint8_t max_apdu_code(unsigned octets)
{
    static const unsigned sizes[] = {50, 128, 206, 480, 1024, 1476};
    uint8_t code = 0;
    for (uint8_t i = 0; i < COUNT(sizes); i++)
        if (sizes[i] <= octets)
            code = i;
    return code;
}

/* BVLC Original-Unicast + NPDU expecting a reply + confirmed-request header. */
static size_t put_req_header(uint8_t *p, unsigned max_apdu, unsigned service)
{
    p[0] = BVLC_TYPE;
    p[1] = BVLC_UNICAST;
    p[2] = p[3] = 0; /* length, set by finish_req */
    p[4] = 0x01;     /* NPDU version */
    p[5] = 0x04;     /* expecting reply, normal priority */
    p[6] = 0x00;     /* confirmed request, no segmentation */
    p[7] = max_apdu_code(max_apdu); /* max-segs unspecified, max-APDU */
    p[8] = 0;        /* invoke id */
    p[9] = (uint8_t)service;
    return 10;
}

static void finish_req(uint8_t *p, size_t len)
{
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

typedef struct {
    uint8_t data[TX_MAX];
    size_t len;
    uint8_t service;
    unsigned obj_type;
    uint32_t first_inst; /* RP: the instance; RPM: the first of count consecutive ones */
    unsigned count;      /* objects read (RP: 1) */
    uint32_t prop;
    long arr_index;
} req_t;

typedef struct {
    const char *title; /* "ReadProperty AI11 PV" */
    char title_buf[128];
    req_t *req;
    unsigned nreq;
    unsigned points_per_sweep; /* RPM: values per full round of requests; RP: 0 */
} workload_t;

static void build_rp(req_t *r, unsigned max_apdu, unsigned type, uint32_t inst, uint32_t prop,
                     long arr_index)
{
    memset(r, 0, sizeof *r);
    size_t n = put_req_header(r->data, max_apdu, SVC_RP);
    n += put_ctx_oid(r->data + n, 0, make_oid(type, inst));
    n += put_ctx_uint(r->data + n, 1, prop);
    if (arr_index >= 0)
        n += put_ctx_uint(r->data + n, 2, (uint32_t)arr_index);
    finish_req(r->data, n);
    r->len = n;
    r->service = SVC_RP;
    r->obj_type = type;
    r->first_inst = inst;
    r->count = 1;
    r->prop = prop;
    r->arr_index = arr_index;
}

static void build_rpm(req_t *r, unsigned max_apdu, unsigned type, uint32_t first,
                      unsigned count, uint32_t prop)
{
    memset(r, 0, sizeof *r);
    size_t n = put_req_header(r->data, max_apdu, SVC_RPM);
    for (unsigned k = 0; k < count; k++) {
        n += put_ctx_oid(r->data + n, 0, make_oid(type, first + k));
        r->data[n++] = 0x1E;
        n += put_ctx_uint(r->data + n, 0, prop);
        r->data[n++] = 0x1F;
    }
    finish_req(r->data, n);
    r->len = n;
    r->service = SVC_RPM;
    r->obj_type = type;
    r->first_inst = first;
    r->count = count;
    r->prop = prop;
    r->arr_index = -1;
}

/* ------------------------------------------------------------------------------------
 * Decoding: a minimal tag walk (clause 20.2.1), enough to check replies.
 */
enum { TAG_PRIM, TAG_OPEN, TAG_CLOSE };

typedef struct {
    unsigned num;
    bool ctx;
    int kind;
    uint32_t len; /* content octets that follow the header */
} tag_t;

/* The header at p[0..n); returns its length, or 0 if malformed or truncated (a header
 * is never 0 octets long). Also checks that the content is present. */
static size_t tag_read(const uint8_t *p, size_t n, tag_t *t)
{
    size_t i = 1;
    if (n < 1)
        return 0;
    uint8_t o = p[0];
    t->num = o >> 4;
    t->ctx = (o & 0x08u) != 0;
    unsigned lvt = o & 0x07u;
    if (t->num == 15) {
        if (n < 2 || p[1] == 0xFF)
            return 0;
        t->num = p[i++];
    }
    t->kind = TAG_PRIM;
    t->len = 0;
    if (t->ctx && lvt == 6)
        t->kind = TAG_OPEN;
    else if (t->ctx && lvt == 7)
        t->kind = TAG_CLOSE;
    else if (!t->ctx && t->num == 1)
        t->len = 0; /* application Boolean: the value is the LVT */
    else if (lvt == 5) {
        if (i >= n)
            return 0;
        uint8_t b = p[i++];
        if (b < 254)
            t->len = b;
        else if (b == 254) {
            if (i + 2 > n)
                return 0;
            t->len = (uint32_t)p[i] << 8 | p[i + 1];
            i += 2;
        } else {
            if (i + 4 > n)
                return 0;
            t->len = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 |
                     p[i + 3];
            i += 4;
        }
    } else if (lvt > 5)
        return 0; /* application tag with LVT 6/7 */
    else
        t->len = lvt;
    if (t->len > n - i)
        return 0;
    return i;
}

/* Skip elements until the closing tag [num] at depth 0; returns the offset of that
 * closing tag, or -1. */
static long skip_to_close(const uint8_t *p, size_t n, unsigned num)
{
    size_t i = 0;
    unsigned depth = 0;
    while (i < n) {
        tag_t t;
        size_t h = tag_read(p + i, n - i, &t);
        if (!h)
            return -1;
        if (t.kind == TAG_OPEN) {
            if (++depth > 32)
                return -1;
        } else if (t.kind == TAG_CLOSE) {
            if (depth == 0)
                return t.num == num ? (long)i : -1;
            depth--;
        }
        i += h + t.len;
    }
    return -1;
}

/* A primitive context-tagged unsigned [num] of 1..4 octets at *i. */
static bool get_ctx_uint(const uint8_t *p, size_t n, size_t *i, unsigned num, uint32_t *v)
{
    tag_t t;
    size_t h = tag_read(p + *i, n - *i, &t);
    if (!h || !t.ctx || t.kind != TAG_PRIM || t.num != num || t.len < 1 || t.len > 4)
        return false;
    uint32_t x = 0;
    for (uint32_t k = 0; k < t.len; k++)
        x = x << 8 | p[*i + h + k];
    *v = x;
    *i += h + t.len;
    return true;
}

static bool peek_ctx(const uint8_t *p, size_t n, size_t i, unsigned num, int kind)
{
    tag_t t;
    return i < n && tag_read(p + i, n - i, &t) && t.ctx && t.num == num && t.kind == kind;
}

static bool expect(const uint8_t *p, size_t n, size_t *i, unsigned num, int kind)
{
    if (!peek_ctx(p, n, *i, num, kind))
        return false;
    (*i)++; /* opening/closing tags 0..14 are one octet */
    return true;
}

/* RP-ACK service data (after `30 id 0C`): [0] oid [1] prop [2] index? [3] { value } */
static bool check_rp_ack(const req_t *r, const uint8_t *p, size_t n)
{
    size_t i = 0;
    uint32_t v;
    if (n < 5 || p[0] != 0x0C)
        return false;
    v = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (v != make_oid(r->obj_type, r->first_inst))
        return false;
    i = 5;
    if (!get_ctx_uint(p, n, &i, 1, &v) || v != r->prop)
        return false;
    if (peek_ctx(p, n, i, 2, TAG_PRIM)) {
        if (!get_ctx_uint(p, n, &i, 2, &v) || r->arr_index < 0 || v != (uint32_t)r->arr_index)
            return false;
    } else if (r->arr_index >= 0)
        return false;
    if (!expect(p, n, &i, 3, TAG_OPEN))
        return false;
    long c = skip_to_close(p + i, n - i, 3);
    if (c <= 0) /* an empty value is not a value */
        return false;
    return i + (size_t)c + 1 == n;
}

/* RPM-ACK service data (after `30 id 0E`): per object [0] oid [1] { per property [2]
 * prop [3] index? then [4] { value } or [5] { error } }. Counts values and errors. */
static bool check_rpm_ack(const req_t *r, const uint8_t *p, size_t n, uint64_t *values,
                          uint64_t *errors)
{
    size_t i = 0;
    unsigned k = 0;
    uint64_t nv = 0, ne = 0;
    while (i < n) {
        if (k >= r->count || n - i < 5 || p[i] != 0x0C)
            return false;
        uint32_t oid = (uint32_t)p[i + 1] << 24 | (uint32_t)p[i + 2] << 16 |
                       (uint32_t)p[i + 3] << 8 | p[i + 4];
        if (oid != make_oid(r->obj_type, r->first_inst + k))
            return false;
        i += 5;
        if (!expect(p, n, &i, 1, TAG_OPEN))
            return false;
        unsigned props = 0;
        while (!peek_ctx(p, n, i, 1, TAG_CLOSE)) {
            uint32_t v;
            if (!get_ctx_uint(p, n, &i, 2, &v) || v != r->prop)
                return false;
            if (peek_ctx(p, n, i, 3, TAG_PRIM) && !get_ctx_uint(p, n, &i, 3, &v))
                return false;
            unsigned which = peek_ctx(p, n, i, 4, TAG_OPEN) ? 4 : 5;
            if (!expect(p, n, &i, which, TAG_OPEN))
                return false;
            long c = skip_to_close(p + i, n - i, which);
            if (c <= 0)
                return false;
            i += (size_t)c + 1;
            if (which == 4)
                nv++;
            else
                ne++;
            props++;
        }
        i++; /* closing [1] */
        if (props != 1)
            return false;
        k++;
    }
    if (k != r->count)
        return false;
    *values += nv;
    *errors += ne;
    return true;
}

/* Locate the APDU of a received BVLL datagram; NULL for anything that is not an
 * application-layer NPDU. */
static const uint8_t *find_apdu(const uint8_t *d, size_t n, size_t *alen)
{
    if (n < 6 || d[0] != BVLC_TYPE || (size_t)(d[2] << 8 | d[3]) != n)
        return NULL;
    size_t i = 4;
    if (d[1] == BVLC_FORWARDED)
        i += 6;
    else if (d[1] != BVLC_UNICAST && d[1] != BVLC_BROADCAST)
        return NULL;
    if (i + 2 > n || d[i] != 0x01)
        return NULL;
    uint8_t ctl = d[i + 1];
    i += 2;
    if (ctl & 0x80u) /* network-layer message */
        return NULL;
    if (ctl & 0x20u) { /* DNET DLEN DADR */
        if (i + 3 > n)
            return NULL;
        i += 3u + d[i + 2];
    }
    if (ctl & 0x08u) { /* SNET SLEN SADR */
        if (i + 3 > n)
            return NULL;
        i += 3u + d[i + 2];
    }
    if (ctl & 0x20u)
        i++; /* hop count */
    if (i >= n)
        return NULL;
    *alen = n - i;
    return d + i;
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s (%zu octets):", what, n);
    for (size_t i = 0; i < n && i < 96; i++)
        fprintf(stderr, " %02X", p[i]);
    fprintf(stderr, n > 96 ? " ...\n" : "\n");
}

/* ------------------------------------------------------------------------------------
 * The responder: a do-nothing BACnet/IP server. It answers ReadProperty with the
 * request's own parameters followed by `3E 44 43 66 00 00 3F` (230.0), and
 * ReadPropertyMultiple with one REAL per property reference, i.e. exactly the replies
 * a meter gives for REAL properties, built with no object lookup at all. Other
 * confirmed services get Reject 9, segmented requests and over-long replies Abort 4.
 * With faults on, request k (counted from 1) is answered by k % 50: 7 Error, 17
 * Reject, 27 Abort, 37 nothing, 45 the ACK twice, 47 a truncated ACK.
 */
typedef struct {
    uint64_t rx, acks, errors, rejects, aborts, drops, dups, truncated, ignored, points;
} resp_stats_t;

static const uint8_t REAL_230[] = {0x44, 0x43, 0x66, 0x00, 0x00};

static unsigned max_apdu_octets(unsigned code)
{
    static const unsigned sizes[] = {50, 128, 206, 480, 1024, 1476};
    return code < COUNT(sizes) ? sizes[code] : 0;
}

/* Build the RPM-ACK service data from the request's; returns its length or 0. */
static size_t rpm_transform(const uint8_t *q, size_t n, uint8_t *r, size_t cap,
                            uint64_t *points)
{
    size_t i = 0, o = 0;
    uint64_t np = 0;
    while (i < n) {
        tag_t t;
        size_t h = tag_read(q + i, n - i, &t);
        if (!h || !t.ctx || t.num != 0 || t.kind != TAG_PRIM || t.len != 4 || o + 6 > cap)
            return 0;
        memcpy(r + o, q + i, 5); /* [0] oid */
        o += 5;
        i += 5;
        if (!expect(q, n, &i, 1, TAG_OPEN))
            return 0;
        r[o++] = 0x1E;
        bool open_ref = false;
        for (;;) {
            h = tag_read(q + i, n - i, &t);
            if (!h || !t.ctx)
                return 0;
            bool ref_ends = t.kind == TAG_CLOSE || (t.kind == TAG_PRIM && t.num == 0);
            if (ref_ends && open_ref) { /* close the previous reference: its value */
                if (o + 7 > cap)
                    return 0;
                r[o++] = 0x4E;
                memcpy(r + o, REAL_230, sizeof REAL_230);
                o += sizeof REAL_230;
                r[o++] = 0x4F;
                np++;
                open_ref = false;
            }
            if (t.kind == TAG_CLOSE) {
                if (t.num != 1 || o + 1 > cap)
                    return 0;
                r[o++] = 0x1F;
                i++;
                break;
            }
            if (t.kind != TAG_PRIM || t.num > 1 || (t.num == 1 && !open_ref) ||
                o + h + t.len > cap)
                return 0;
            /* [0] property -> [2], [1] index -> [3], same content */
            memcpy(r + o, q + i, h + t.len);
            r[o] = (uint8_t)((t.num + 2) << 4 | (q[i] & 0x0Fu));
            o += h + t.len;
            i += h + t.len;
            open_ref = true;
        }
    }
    *points += np;
    return o;
}

/* The reply datagram for request datagram q, or 0 for none. k counts requests. */
static size_t respond(const uint8_t *q, size_t n, uint8_t *r, bool faults, uint64_t k,
                      resp_stats_t *st, bool *twice)
{
    size_t alen;
    const uint8_t *a = find_apdu(q, n, &alen);
    *twice = false;
    if (!a || q[1] == BVLC_BROADCAST || alen < 4 || a[0] >> 4 != PDU_CONFIRMED) {
        st->ignored++;
        return 0;
    }
    uint8_t *ap = r + 6; /* reply APDU after BVLC + NPDU `01 00` */
    size_t o = 0, cap = TX_MAX - 6;
    uint8_t id = a[2];
    unsigned max_apdu = max_apdu_octets(a[1] & 0x0Fu);
    unsigned f = faults ? (unsigned)(k % 50) : 0;
    uint64_t points = 0;
    if (f == 37) {
        st->drops++;
        return 0;
    }
    if (a[0] & 0x08u) { /* segmented request */
        ap[0] = 0x71; ap[1] = id; ap[2] = 4; o = 3;
        st->aborts++;
    } else if (f == 7) {
        /* property / UNKNOWN_PROPERTY */
        ap[0] = 0x50; ap[1] = id; ap[2] = a[3];
        ap[3] = 0x91; ap[4] = 2; ap[5] = 0x91; ap[6] = 32;
        o = 7;
        st->errors++;
    } else if (f == 17) {
        ap[0] = 0x60; ap[1] = id; ap[2] = 4; o = 3;
        st->rejects++;
    } else if (f == 27) {
        ap[0] = 0x71; ap[1] = id; ap[2] = 0; o = 3;
        st->aborts++;
    } else if (a[3] == SVC_RP) {
        size_t pn = alen - 4;
        if (pn + 3 + 7 > cap) {
            ap[0] = 0x60; ap[1] = id; ap[2] = 1; o = 3;
            st->rejects++;
        } else {
            ap[0] = 0x30; ap[1] = id; ap[2] = SVC_RP;
            memcpy(ap + 3, a + 4, pn);
            o = 3 + pn;
            ap[o++] = 0x3E;
            memcpy(ap + o, REAL_230, sizeof REAL_230);
            o += sizeof REAL_230;
            ap[o++] = 0x3F;
            points = 1;
        }
    } else if (a[3] == SVC_RPM) {
        size_t body = rpm_transform(a + 4, alen - 4, ap + 3, cap - 3, &points);
        if (!body) {
            ap[0] = 0x60; ap[1] = id; ap[2] = 4; o = 3;
            st->rejects++;
        } else {
            ap[0] = 0x30; ap[1] = id; ap[2] = SVC_RPM;
            o = 3 + body;
        }
    } else {
        ap[0] = 0x60; ap[1] = id; ap[2] = 9; o = 3;
        st->rejects++;
    }
    if (ap[0] == 0x30) {
        if (o > max_apdu) { /* too long for the client: no segmentation here */
            ap[0] = 0x71; ap[1] = id; ap[2] = 4; o = 3;
            st->aborts++;
        } else if (f == 47) {
            o -= 1; /* drop the final closing tag */
            st->truncated++;
        } else {
            st->acks++;
            st->points += points;
            if (f == 45) {
                st->dups++;
                *twice = true;
            }
        }
    }
    size_t len = 6 + o;
    r[0] = BVLC_TYPE;
    r[1] = BVLC_UNICAST;
    r[2] = (uint8_t)(len >> 8);
    r[3] = (uint8_t)len;
    r[4] = 0x01;
    r[5] = 0x00;
    return len;
}

/* Serve on fd until ctl (if >= 0) becomes readable or hangs up, or max_s elapse. One
 * blocking recvfrom and one sendto per request, as a minimal server does. */
static void responder_loop(int fd, int ctl, bool faults, double max_s, resp_stats_t *st)
{
    uint8_t q[RX_MAX], r[TX_MAX];
    struct timeval tv = {0, 100000};
    uint64_t deadline = now_ns() + (uint64_t)(max_s * 1e9);
    uint64_t k = 0;
    unsigned since_check = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(st, 0, sizeof *st);
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        bool check = n < 0 || ++since_check >= 1024;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break;
        if (n > 0) {
            bool twice;
            st->rx++;
            size_t len = respond(q, (size_t)n, r, faults, ++k, st, &twice);
            if (len) {
                sendto(fd, r, len, 0, (struct sockaddr *)&from, fl);
                if (twice)
                    sendto(fd, r, len, 0, (struct sockaddr *)&from, fl);
            }
        }
        if (check) {
            since_check = 0;
            if (now_ns() > deadline)
                break;
            if (ctl >= 0) {
                struct pollfd p = {ctl, POLLIN, 0};
                if (poll(&p, 1, 0) > 0)
                    break;
            }
        }
    }
}

typedef struct {
    pid_t pid;
    int ctl_w, res_r;
    uint16_t port;
} responder_t;

static int udp_socket_bound(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static int responder_start(responder_t *rs, bool faults, double max_s)
{
    int ctl[2], res[2];
    int fd = udp_socket_bound(0, &rs->port);
    if (fd < 0)
        return -1;
    if (pipe(ctl) < 0) {
        close(fd);
        return -1;
    }
    if (pipe(res) < 0) {
        close(fd);
        close(ctl[0]);
        close(ctl[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    rs->pid = fork();
    if (rs->pid < 0) {
        close(fd);
        close(ctl[0]); close(ctl[1]); close(res[0]); close(res[1]);
        return -1;
    }
    if (rs->pid == 0) {
        resp_stats_t st;
        close(ctl[1]);
        close(res[0]);
        responder_loop(fd, ctl[0], faults, max_s, &st);
        ssize_t w = write(res[1], &st, sizeof st);
        _exit(w == (ssize_t)sizeof st ? 0 : 1);
    }
    close(fd);
    close(ctl[0]);
    close(res[1]);
    rs->ctl_w = ctl[1];
    rs->res_r = res[0];
    return 0;
}

/* Stop the responder and collect its counters (zero if it died). */
static void responder_stop(responder_t *rs, resp_stats_t *st)
{
    memset(st, 0, sizeof *st);
    close(rs->ctl_w);
    size_t got = 0;
    while (got < sizeof *st) {
        ssize_t n = read(rs->res_r, (char *)st + got, sizeof *st - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    close(rs->res_r);
    int status;
    while (waitpid(rs->pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------------------------
 * The load engine: one connected UDP socket (the kernel then only delivers datagrams
 * from the target's address and port), a slot per invoke id, closed loop.
 */
enum { SLOT_FREE, SLOT_BUSY, SLOT_STALE };

typedef struct {
    uint8_t state;
    uint16_t req;         /* index into the workload's requests */
    uint64_t sent, until; /* send time; for STALE the end of the quarantine */
} slot_t;

typedef struct {
    uint64_t sent, ok, errors, rejects, aborts, bad, timeouts, late, unmatched, refused,
        send_fail, ignored, unfinished;
    uint64_t points, point_errors;      /* RPM values read / per-property errors */
    uint64_t ok_window, points_window;  /* inside the measured window */
    double window_s;
    uint32_t *lat;                      /* ns, ok replies inside the window */
    size_t nlat, cap;
    bool lat_oom;
    uint32_t err_class, err_code;       /* the last ones seen */
    uint8_t reject_reason, abort_reason;
    double wall_s;                      /* whole run, warm-up and drain included */
} result_t;

static void add_sample(result_t *r, uint64_t ns)
{
    if (r->nlat == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        uint32_t *p = realloc(r->lat, cap * sizeof *p);
        if (!p) {
            r->lat_oom = true;
            return;
        }
        r->lat = p;
        r->cap = cap;
    }
    r->lat[r->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int open_client(const struct sockaddr_in *to)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    int big = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Classify one reply; frees the slot it answers. */
static void on_reply(const cfg_t *c, const workload_t *w, slot_t *slots, unsigned *busy,
                     result_t *r, const uint8_t *d, size_t n, uint64_t t, uint64_t t_meas,
                     uint64_t t_end)
{
    size_t alen;
    const uint8_t *a = find_apdu(d, n, &alen);
    if (!a || alen < 3) {
        r->ignored++;
        return;
    }
    unsigned type = a[0] >> 4;
    if (type != PDU_SIMPLE_ACK && type != PDU_COMPLEX_ACK && type != PDU_ERROR &&
        type != PDU_REJECT && type != PDU_ABORT) {
        r->ignored++; /* requests to us (Who-Is, ...) */
        return;
    }
    slot_t *s = &slots[a[1]];
    if (s->state == SLOT_FREE) {
        r->unmatched++;
        return;
    }
    if (s->state == SLOT_STALE) {
        r->late++;
        s->state = SLOT_FREE;
        return;
    }
    const req_t *q = &w->req[s->req];
    s->state = SLOT_FREE;
    (*busy)--;
    bool in_window = t >= t_meas && t < t_end;
    switch (type) {
    case PDU_COMPLEX_ACK: {
        uint64_t nv = 0, ne = 0;
        bool good = !(a[0] & 0x08u) && a[2] == q->service && alen <= c->max_apdu &&
                    (q->service == SVC_RP ? check_rp_ack(q, a + 3, alen - 3)
                                          : check_rpm_ack(q, a + 3, alen - 3, &nv, &ne));
        if (!good) {
            if (c->verbose && r->bad == 0)
                hexdump("first bad reply", d, n);
            r->bad++;
            return;
        }
        if (q->service == SVC_RP)
            nv = 1;
        if (c->verbose && r->ok == 0)
            hexdump("first ACK", d, n);
        r->ok++;
        r->points += nv;
        r->point_errors += ne;
        if (in_window) {
            r->ok_window++;
            r->points_window += nv;
            add_sample(r, t - s->sent);
        }
        return;
    }
    case PDU_ERROR: {
        size_t i = 3;
        tag_t tg;
        uint32_t v[2] = {0, 0};
        for (int k = 0; k < 2; k++) { /* 91 class 91 code (enumerated) */
            size_t h = tag_read(a + i, alen - i, &tg);
            if (!h || tg.ctx || tg.num != 9 || tg.len < 1 || tg.len > 4)
                break;
            for (uint32_t b = 0; b < tg.len; b++)
                v[k] = v[k] << 8 | a[i + h + b];
            i += h + tg.len;
        }
        r->err_class = v[0];
        r->err_code = v[1];
        r->errors++;
        break;
    }
    case PDU_REJECT:
        r->reject_reason = a[2];
        r->rejects++;
        break;
    case PDU_ABORT:
        r->abort_reason = a[2];
        r->aborts++;
        break;
    default:
        r->bad++; /* a Simple-ACK to a read */
        break;
    }
    if (c->verbose && r->errors + r->rejects + r->aborts == 1)
        hexdump("first negative reply", d, n);
}

/* Run workload w against to for warm-up + seconds, then wait for the requests still out
 * (at most the timeout). Never longer than warm-up + seconds + timeout + 10 ms. Adds to
 * r, which the caller zeroes once: a measurement may be made of several rounds. */
static int run_load(const cfg_t *c, const struct sockaddr_in *to, const workload_t *w,
                    double seconds, result_t *r)
{
    int fd = open_client(to);
    if (fd < 0) {
        perror("bench_bacnet: socket");
        return -1;
    }
    static slot_t slots[256];
    static uint8_t tx[TX_MAX]; /* send() copies it: only the invoke id octet changes */
    memset(slots, 0, sizeof slots);
    uint8_t rx[RX_MAX];
    unsigned busy = 0, next_id = 0, next_req = 0;
    const uint64_t timeout = (uint64_t)c->timeout_ms * MS;
    const uint64_t t0 = now_ns();
    const uint64_t t_meas = t0 + (uint64_t)(c->warmup * 1e9);
    const uint64_t t_end = t_meas + (uint64_t)(seconds * 1e9);
    const uint64_t t_hard = t_end + timeout + 10 * MS;
    uint64_t next_scan = t0 + MS, now = t0;

    for (;;) {
        /* Receive everything that is there. */
        bool got = false;
        for (;;) {
            ssize_t n = recv(fd, rx, sizeof rx, 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                if (errno == ECONNREFUSED) { /* ICMP port unreachable */
                    r->refused++;
                    got = true;
                    continue;
                }
                if (errno == EINTR)
                    continue;
                perror("bench_bacnet: recv");
                break;
            }
            got = true;
            uint64_t t = now_ns();
            on_reply(c, w, slots, &busy, r, rx, (size_t)n, t, t_meas, t_end);
        }
        now = now_ns();
        /* Time out requests (checked every millisecond). */
        if (now >= next_scan) {
            for (unsigned id = 0; id < 256; id++)
                if (slots[id].state == SLOT_BUSY && now - slots[id].sent >= timeout) {
                    slots[id].state = SLOT_STALE;
                    slots[id].until = now + 3 * timeout; /* late replies must not match */
                    busy--;
                    r->timeouts++;
                }
            next_scan = now + MS;
        }
        if (now >= t_hard || (now >= t_end && busy == 0))
            break;
        /* Keep the window full. */
        bool sent = false;
        while (now < t_end && busy < (unsigned)c->inflight) {
            int id = -1;
            for (unsigned k = 0; k < 256; k++) {
                unsigned cand = (next_id + k) & 255u;
                if (slots[cand].state == SLOT_FREE ||
                    (slots[cand].state == SLOT_STALE && now >= slots[cand].until)) {
                    id = (int)cand;
                    break;
                }
            }
            if (id < 0)
                break; /* every id busy or quarantined: wait */
            const req_t *q = &w->req[next_req];
            memcpy(tx, q->data, q->len);
            tx[INVOKE_OFF] = (uint8_t)id;
            uint64_t ts = now_ns();
            ssize_t s = send(fd, tx, q->len, 0);
            if (s != (ssize_t)q->len) {
                if (s < 0 && errno == ECONNREFUSED)
                    r->refused++;
                else
                    r->send_fail++;
                break;
            }
            slots[id].state = SLOT_BUSY;
            slots[id].req = (uint16_t)next_req;
            slots[id].sent = ts;
            next_id = ((unsigned)id + 1) & 255u;
            next_req = (next_req + 1) % w->nreq;
            busy++;
            r->sent++;
            sent = true;
        }
        if (!got && !sent) {
            struct pollfd p = {fd, POLLIN, 0};
            poll(&p, 1, 1);
        }
    }
    r->unfinished += busy;
    r->window_s += seconds;
    r->wall_s += (double)(now_ns() - t0) / 1e9;
    close(fd);
    return 0;
}

/* One request, one reply (invoke id 0); for the reachability probe. Returns the reply
 * length, 0 on timeout, -1 on a socket error. */
static ssize_t transact(const struct sockaddr_in *to, const req_t *q, int timeout_ms,
                        uint8_t *reply, size_t cap)
{
    int fd = open_client(to);
    if (fd < 0)
        return -1;
    ssize_t got = 0;
    uint64_t end = now_ns() + (uint64_t)timeout_ms * MS;
    if (send(fd, q->data, q->len, 0) != (ssize_t)q->len) {
        close(fd);
        return -1;
    }
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, (int)((end - now) / MS) + 1);
        ssize_t n = recv(fd, reply, cap, 0);
        if (n < 0) {
            if (errno == ECONNREFUSED) {
                got = -2;
                break;
            }
            continue;
        }
        size_t alen;
        const uint8_t *a = find_apdu(reply, (size_t)n, &alen);
        if (a && alen >= 3 && (a[0] >> 4) >= PDU_SIMPLE_ACK && a[1] == 0) {
            got = n;
            break;
        }
    }
    close(fd);
    return got;
}

/* ------------------------------------------------------------------------------------
 * Reporting.
 */
static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile, in microseconds. */
static double pct_us(const result_t *r, double p)
{
    if (!r->nlat)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)r->nlat + 0.999999);
    if (k < 1)
        k = 1;
    if (k > r->nlat)
        k = r->nlat;
    return r->lat[k - 1] / 1000.0;
}

static double rps(const result_t *r)
{
    return r->window_s > 0 ? (double)r->ok_window / r->window_s : 0;
}

static double pps(const result_t *r)
{
    return r->window_s > 0 ? (double)r->points_window / r->window_s : 0;
}

static void print_result(const char *who, const workload_t *w, result_t *r)
{
    if (r->nlat)
        qsort(r->lat, r->nlat, sizeof *r->lat, cmp_u32);
    printf("  %-6s %9.0f req/s", who, rps(r));
    if (w->points_per_sweep)
        printf(" %10.0f points/s", pps(r));
    if (r->nlat)
        printf(" | us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n", pct_us(r, 50),
               pct_us(r, 90), pct_us(r, 99), pct_us(r, 99.9), pct_us(r, 100));
    else
        printf(" | no ACKs, no latency figures\n");
    printf("         sent %llu ok %llu error %llu reject %llu abort %llu timeout %llu bad %llu",
           (unsigned long long)r->sent, (unsigned long long)r->ok,
           (unsigned long long)r->errors, (unsigned long long)r->rejects,
           (unsigned long long)r->aborts, (unsigned long long)r->timeouts,
           (unsigned long long)r->bad);
    if (r->late || r->unmatched || r->ignored)
        printf(" late %llu unmatched %llu ignored %llu", (unsigned long long)r->late,
               (unsigned long long)r->unmatched, (unsigned long long)r->ignored);
    if (r->refused || r->send_fail || r->unfinished)
        printf(" icmp-refused %llu send-fail %llu unfinished %llu",
               (unsigned long long)r->refused, (unsigned long long)r->send_fail,
               (unsigned long long)r->unfinished);
    if (r->point_errors)
        printf(" property-errors %llu", (unsigned long long)r->point_errors);
    printf("\n");
    if (r->errors)
        printf("         last Error: class %lu code %lu\n", (unsigned long)r->err_class,
               (unsigned long)r->err_code);
    if (r->rejects)
        printf("         last Reject reason %u\n", r->reject_reason);
    if (r->aborts)
        printf("         last Abort reason %u\n", r->abort_reason);
    if (r->lat_oom)
        printf("         (out of memory for samples: percentiles from the first %zu)\n",
               r->nlat);
}

static void summary_line(const workload_t *w, const result_t *t, const result_t *f)
{
    printf("%s: ", w->title);
    const result_t *m = t ? t : f;
    printf("%.0f req/s", rps(m));
    if (w->points_per_sweep)
        printf(", %.0f points/s", pps(m));
    if (m->nlat)
        printf(", p50 %.0f us, p90 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us",
               pct_us(m, 50), pct_us(m, 90), pct_us(m, 99), pct_us(m, 99.9), pct_us(m, 100));
    uint64_t fails = m->errors + m->rejects + m->aborts + m->timeouts + m->bad;
    if (fails)
        printf(" [not ok: %llu error, %llu reject, %llu abort, %llu timeout, %llu bad]",
               (unsigned long long)m->errors, (unsigned long long)m->rejects,
               (unsigned long long)m->aborts, (unsigned long long)m->timeouts,
               (unsigned long long)m->bad);
    if (t && f) {
        printf(" | floor %.0f req/s", rps(f));
        if (w->points_per_sweep)
            printf(", %.0f points/s", pps(f));
        if (rps(f) > 0)
            printf(" | ratio %.2f", rps(t) / rps(f));
    } else if (!t) {
        printf(" (floor)");
    }
    printf("\n");
}

/* ------------------------------------------------------------------------------------
 * Workloads.
 */
static int make_workloads(const cfg_t *c, workload_t *rp, workload_t *rpm)
{
    char o[32], p[32];
    memset(rp, 0, sizeof *rp);
    memset(rpm, 0, sizeof *rpm);
    rp->req = calloc(1, sizeof *rp->req);
    if (!rp->req)
        return -1;
    rp->nreq = 1;
    build_rp(&rp->req[0], c->max_apdu, c->obj_type, c->obj_inst, c->prop, c->arr_index);
    obj_label(o, sizeof o, c->obj_type, c->obj_inst);
    prop_label(p, sizeof p, c->prop);
    if (c->arr_index >= 0)
        snprintf(rp->title_buf, sizeof rp->title_buf, "ReadProperty %s %s[%ld]", o, p,
                 c->arr_index);
    else
        snprintf(rp->title_buf, sizeof rp->title_buf, "ReadProperty %s %s", o, p);
    rp->title = rp->title_buf;

    unsigned per = (c->max_apdu - RPM_ACK_HDR) / RPM_ACK_PER_PV;
    unsigned per_req = (c->max_apdu - RPM_REQ_HDR) / RPM_REQ_PER_PV;
    if (per_req < per)
        per = per_req;
    if (per == 0)
        return -1;
    unsigned nreq = (c->rpm_objects + per - 1) / per;
    rpm->req = calloc(nreq, sizeof *rpm->req);
    if (!rpm->req)
        return -1;
    rpm->nreq = nreq;
    rpm->points_per_sweep = c->rpm_objects;
    /* As few requests as fit, and of nearly equal size. */
    unsigned first = 1, base = c->rpm_objects / nreq, extra = c->rpm_objects % nreq;
    for (unsigned i = 0; i < nreq; i++) {
        unsigned cnt = base + (i < extra ? 1 : 0);
        build_rpm(&rpm->req[i], c->max_apdu, OBJ_AI, first, cnt, PROP_PV);
        first += cnt;
    }
    snprintf(rpm->title_buf, sizeof rpm->title_buf,
             "ReadPropertyMultiple AI1..AI%u PV (%u req/sweep)", c->rpm_objects, nreq);
    rpm->title = rpm->title_buf;
    return 0;
}

static void free_workload(workload_t *w) { free(w->req); }

/* ------------------------------------------------------------------------------------
 * Self-test: the bench's counting against a responder whose answers are known.
 */
static int check_eq(const char *what, uint64_t got, uint64_t want)
{
    bool ok = got == want;
    printf("    %-34s %10llu %s %llu%s\n", what, (unsigned long long)got, ok ? "==" : "!=",
           (unsigned long long)want, ok ? "" : "   <-- FAIL");
    return ok ? 0 : 1;
}

static int self_test(cfg_t *c)
{
    int fails = 0;
    workload_t rp, rpm;
    if (!c->seconds_set)
        c->seconds = 1;
    c->warmup = 0;
    if (c->timeout_ms == 1000)
        c->timeout_ms = 100;
    if (make_workloads(c, &rp, &rpm) < 0)
        return 2;
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    printf("self-test: faulty responder (k%%50: 7 Error, 17 Reject, 27 Abort, 37 drop, 45 "
           "twice, 47 truncated), %.1f s per run, timeout %d ms, inflight %d\n",
           c->seconds, c->timeout_ms, c->inflight);
    workload_t *ws[2] = {&rp, &rpm};
    for (int i = 0; i < 2; i++) {
        responder_t rs;
        resp_stats_t st;
        result_t r;
        if (responder_start(&rs, true, c->seconds + 30) < 0) {
            perror("bench_bacnet: responder");
            return 2;
        }
        to.sin_port = htons(rs.port);
        memset(&r, 0, sizeof r);
        run_load(c, &to, ws[i], c->seconds, &r);
        responder_stop(&rs, &st);
        printf("  %s: %llu requests, %.0f req/s\n", ws[i]->title, (unsigned long long)r.sent,
               rps(&r));
        fails += check_eq("requests seen by the responder", st.rx, r.sent);
        fails += check_eq("ok == ACKs sent", r.ok, st.acks);
        fails += check_eq("errors", r.errors, st.errors);
        fails += check_eq("rejects", r.rejects, st.rejects);
        fails += check_eq("aborts", r.aborts, st.aborts);
        fails += check_eq("timeouts == dropped", r.timeouts, st.drops);
        fails += check_eq("unmatched == duplicates", r.unmatched, st.dups);
        fails += check_eq("bad == truncated", r.bad, st.truncated);
        fails += check_eq("points == values sent", r.points, st.points);
        fails += check_eq("late + unfinished + ignored", r.late + r.unfinished + r.ignored, 0);
        fails += check_eq("some of each fault (min count > 0)",
                          (st.errors && st.rejects && st.aborts && st.drops && st.dups &&
                           st.truncated) ? 1 : 0, 1);
        free(r.lat);
    }

    /* A target that never answers: everything times out, the run ends on time. */
    {
        uint16_t port;
        int fd = udp_socket_bound(0, &port);
        result_t r;
        to.sin_port = htons(port);
        cfg_t short_c = *c;
        short_c.seconds = 0.5;
        memset(&r, 0, sizeof r);
        run_load(&short_c, &to, &rp, short_c.seconds, &r);
        close(fd);
        printf("  silent target: sent %llu, %.2f s wall\n", (unsigned long long)r.sent,
               r.wall_s);
        fails += check_eq("timeouts == sent", r.timeouts, r.sent);
        fails += check_eq("ok", r.ok, 0);
        fails += check_eq("ended within seconds + timeout + 50 ms",
                          r.wall_s <= short_c.seconds + c->timeout_ms / 1000.0 + 0.05, 1);
        free(r.lat);
    }
    /* A closed port: ICMP unreachable, still bounded. */
    {
        uint16_t port;
        int fd = udp_socket_bound(0, &port);
        close(fd);
        result_t r;
        to.sin_port = htons(port);
        cfg_t short_c = *c;
        short_c.seconds = 0.5;
        memset(&r, 0, sizeof r);
        run_load(&short_c, &to, &rp, short_c.seconds, &r);
        printf("  closed port: sent %llu, icmp-refused %llu, %.2f s wall\n",
               (unsigned long long)r.sent, (unsigned long long)r.refused, r.wall_s);
        fails += check_eq("timeouts == sent", r.timeouts, r.sent);
        fails += check_eq("refused > 0", r.refused > 0, 1);
        fails += check_eq("ended within seconds + timeout + 50 ms",
                          r.wall_s <= short_c.seconds + c->timeout_ms / 1000.0 + 0.05, 1);
        free(r.lat);
    }
    free_workload(&rp);
    free_workload(&rpm);
    printf("self-test: %s\n", fails ? "FAIL" : "pass");
    return fails ? 1 : 0;
}

/* ------------------------------------------------------------------------------------
 * Main.
 */
static void usage(FILE *f)
{
    fputs("usage: bench_bacnet [options]\n"
          "  --target ADDR        target IPv4 address, 127.0.0.0/8 only (default 127.0.0.1)\n"
          "  --port N             target UDP port (default 47808)\n"
          "  --device N           target device instance: probe its Object_Name first\n"
          "  --object TYPE:INST   ReadProperty object (default analog-input:11; TYPE a number\n"
          "                       or ai ao av bi bo bv device trend-log)\n"
          "  --property N         ReadProperty property (default 85 present-value; names: pv\n"
          "                       name oid type flags units list desc state oos rel ...)\n"
          "  --index N            ReadProperty array index (default none)\n"
          "  --workload W         rp, rpm or both (default both)\n"
          "  --rpm-objects N      RPM reads AI1..AIN Present_Value (default 83)\n"
          "  --inflight N         requests in flight, 1..200 (default 8)\n"
          "  --seconds S          measured seconds per workload and target (default 3)\n"
          "  --rounds N           split them in N rounds, floor and target alternating\n"
          "                       (default 3)\n"
          "  --warmup S           unmeasured seconds before each round (default 0.1)\n"
          "  --timeout-ms N       per-request timeout, 1..4000 (default 1000)\n"
          "  --max-apdu N         max-APDU we announce; sizes the RPM requests (default 480)\n"
          "  --floor-only         only the built-in responder\n"
          "  --no-floor           only the target\n"
          "  --serve PORT         be the responder on 127.0.0.1:PORT for --seconds\n"
          "                       (default 60)\n"
          "  --faults             with --serve: misbehave (Error, Reject, Abort, drop,\n"
          "                       duplicate, truncate)\n"
          "  --self-test          check the bench's counters against a faulty responder\n"
          "  -v, --verbose        hex dumps of the first replies\n",
          f);
}

static int parse_args(int argc, char **argv, cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->target.sin_family = AF_INET;
    c->target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->target.sin_port = htons(47808);
    snprintf(c->target_str, sizeof c->target_str, "127.0.0.1");
    c->device = -1;
    c->obj_type = OBJ_AI;
    c->obj_inst = 11;
    c->prop = PROP_PV;
    c->arr_index = -1;
    c->inflight = 8;
    c->seconds = 3;
    c->warmup = 0.1;
    c->rounds = 3;
    c->timeout_ms = 1000;
    c->max_apdu = 480;
    c->rpm_objects = 83;
    c->run_rp = c->run_rpm = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long u;
        char *end;
#define NEED_ARG()                                                                          \
    do {                                                                                    \
        if (!v) {                                                                           \
            fprintf(stderr, "bench_bacnet: %s needs a value\n", a);                         \
            return -1;                                                                      \
        }                                                                                   \
        i++;                                                                                \
    } while (0)
        if (!strcmp(a, "--target")) {
            NEED_ARG();
            if (inet_pton(AF_INET, v, &c->target.sin_addr) != 1) {
                fprintf(stderr, "bench_bacnet: --target: not an IPv4 address: %s\n", v);
                return -1;
            }
            if ((ntohl(c->target.sin_addr.s_addr) >> 24) != 127) {
                fprintf(stderr, "bench_bacnet: --target must be on loopback (127.0.0.0/8)\n");
                return -1;
            }
            snprintf(c->target_str, sizeof c->target_str, "%s", v);
        } else if (!strcmp(a, "--port")) {
            NEED_ARG();
            if (!parse_ulong(v, 65535, &u) || u == 0)
                goto bad;
            c->target.sin_port = htons((uint16_t)u);
        } else if (!strcmp(a, "--device")) {
            NEED_ARG();
            if (!parse_ulong(v, 0x3FFFFF, &u))
                goto bad;
            c->device = (long)u;
        } else if (!strcmp(a, "--object")) {
            NEED_ARG();
            char tbuf[64];
            const char *colon = strchr(v, ':');
            if (!colon || (size_t)(colon - v) >= sizeof tbuf)
                goto bad;
            memcpy(tbuf, v, (size_t)(colon - v));
            tbuf[colon - v] = 0;
            if (!lookup(obj_names, COUNT(obj_names), tbuf, 1023, &c->obj_type) ||
                !parse_ulong(colon + 1, 0x3FFFFF, &u))
                goto bad;
            c->obj_inst = (uint32_t)u;
        } else if (!strcmp(a, "--property")) {
            NEED_ARG();
            unsigned pv;
            if (!lookup(prop_names, COUNT(prop_names), v, 4194303, &pv))
                goto bad;
            c->prop = pv;
        } else if (!strcmp(a, "--index")) {
            NEED_ARG();
            if (!parse_ulong(v, 0xFFFFFFFFul, &u))
                goto bad;
            c->arr_index = (long)u;
        } else if (!strcmp(a, "--workload")) {
            NEED_ARG();
            c->run_rp = !strcmp(v, "rp") || !strcmp(v, "both");
            c->run_rpm = !strcmp(v, "rpm") || !strcmp(v, "both");
            if (!c->run_rp && !c->run_rpm)
                goto bad;
        } else if (!strcmp(a, "--rpm-objects")) {
            NEED_ARG();
            if (!parse_ulong(v, 4096, &u) || u == 0)
                goto bad;
            c->rpm_objects = (unsigned)u;
        } else if (!strcmp(a, "--inflight")) {
            NEED_ARG();
            if (!parse_ulong(v, MAX_INFLIGHT, &u) || u == 0)
                goto bad;
            c->inflight = (int)u;
        } else if (!strcmp(a, "--seconds") || !strcmp(a, "--warmup")) {
            NEED_ARG();
            double d = strtod(v, &end);
            if (*end || !(d >= 0) || d > 3600 || (a[2] == 's' && d < 0.01))
                goto bad;
            if (a[2] == 's') {
                c->seconds = d;
                c->seconds_set = true;
            } else
                c->warmup = d;
        } else if (!strcmp(a, "--rounds")) {
            NEED_ARG();
            if (!parse_ulong(v, 100, &u) || u == 0)
                goto bad;
            c->rounds = (int)u;
        } else if (!strcmp(a, "--timeout-ms")) {
            NEED_ARG();
            if (!parse_ulong(v, 4000, &u) || u == 0)
                goto bad;
            c->timeout_ms = (int)u;
        } else if (!strcmp(a, "--max-apdu")) {
            NEED_ARG();
            if (!parse_ulong(v, 1476, &u) || u < 50)
                goto bad;
            c->max_apdu = (unsigned)max_apdu_octets(max_apdu_code((unsigned)u));
        } else if (!strcmp(a, "--serve")) {
            NEED_ARG();
            if (!parse_ulong(v, 65535, &u) || u == 0)
                goto bad;
            c->serve_port = (int)u;
        } else if (!strcmp(a, "--faults")) {
            c->faults = true;
        } else if (!strcmp(a, "--floor-only")) {
            c->floor_only = true;
        } else if (!strcmp(a, "--no-floor")) {
            c->no_floor = true;
        } else if (!strcmp(a, "--self-test")) {
            c->self_test = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            c->verbose = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_bacnet: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "bench_bacnet: bad value for %s: '%s'\n", a, v);
        return -1;
#undef NEED_ARG
    }
    if (c->floor_only && c->no_floor) {
        fprintf(stderr, "bench_bacnet: --floor-only and --no-floor exclude each other\n");
        return -1;
    }
    return 0;
}

static int serve(const cfg_t *c)
{
    uint16_t port;
    int fd = udp_socket_bound((uint16_t)c->serve_port, &port);
    if (fd < 0) {
        perror("bench_bacnet: --serve: bind");
        return 1;
    }
    double s = c->seconds_set ? c->seconds : 60;
    printf("serving on 127.0.0.1:%u for %.0f s%s\n", port, s,
           c->faults ? " (with faults)" : "");
    fflush(stdout);
    resp_stats_t st;
    responder_loop(fd, -1, c->faults, s, &st);
    close(fd);
    printf("served %llu requests: %llu ACKs (%llu values), %llu errors, %llu rejects, %llu "
           "aborts, %llu dropped, %llu doubled, %llu truncated, %llu ignored\n",
           (unsigned long long)st.rx, (unsigned long long)st.acks,
           (unsigned long long)st.points, (unsigned long long)st.errors,
           (unsigned long long)st.rejects, (unsigned long long)st.aborts,
           (unsigned long long)st.drops, (unsigned long long)st.dups,
           (unsigned long long)st.truncated, (unsigned long long)st.ignored);
    return 0;
}

/* Is the target there? Prints what it learns; false if it does not answer. */
static bool probe(const cfg_t *c, const workload_t *rp)
{
    uint8_t reply[RX_MAX];
    ssize_t n = transact(&c->target, &rp->req[0], c->timeout_ms, reply, sizeof reply);
    if (n <= 0) {
        printf("target %s:%u: %s; skipping the target runs\n", c->target_str,
               ntohs(c->target.sin_port),
               n == -2 ? "port unreachable (nothing listening)"
                       : n == 0 ? "no answer within the timeout" : "socket error");
        return false;
    }
    if (c->device >= 0) {
        req_t q;
        build_rp(&q, c->max_apdu, 8, (uint32_t)c->device, 77, -1);
        n = transact(&c->target, &q, c->timeout_ms, reply, sizeof reply);
        size_t alen;
        const uint8_t *a = n > 0 ? find_apdu(reply, (size_t)n, &alen) : NULL;
        /* 30 id 0C | 0C oid(4) 19 4D 3E 75 len 00 name 3F */
        tag_t t;
        size_t h;
        if (a && alen > 13 && a[0] == 0x30 && a[8] == 0x19 && a[9] == 77 && a[10] == 0x3E &&
            (h = tag_read(a + 11, alen - 11, &t)) && !t.ctx && t.num == 7 && t.len >= 1) {
            int len = (int)t.len - 1;
            printf("target device %ld: Object_Name \"%.*s\"\n", c->device, len > 64 ? 64 : len,
                   (const char *)a + 11 + h + 1);
        } else if (a && (a[0] >> 4) == PDU_ERROR) {
            printf("target device %ld: Error reading its Object_Name (wrong --device?)\n",
                   c->device);
        } else {
            printf("target device %ld: no usable answer to ReadProperty Object_Name\n",
                   c->device);
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    cfg_t c;
    if (parse_args(argc, argv, &c) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (c.serve_port)
        return serve(&c);
    if (c.self_test)
        return self_test(&c);

    workload_t rp, rpm;
    if (make_workloads(&c, &rp, &rpm) < 0) {
        fprintf(stderr, "bench_bacnet: cannot build the workloads\n");
        return 2;
    }
    workload_t *ws[2];
    int nw = 0;
    if (c.run_rp)
        ws[nw++] = &rp;
    if (c.run_rpm)
        ws[nw++] = &rpm;

    responder_t floor_rs;
    struct sockaddr_in floor_to;
    bool have_floor = !c.no_floor;
    if (have_floor) {
        /* The responder's own limit: every run, probe and drain, with margin. */
        double bound = 2 * (c.rounds * (c.warmup + c.timeout_ms / 1000.0) + c.seconds) +
                       c.timeout_ms / 1000.0 + 10;
        if (responder_start(&floor_rs, false, bound) < 0) {
            perror("bench_bacnet: floor responder");
            return 1;
        }
        memset(&floor_to, 0, sizeof floor_to);
        floor_to.sin_family = AF_INET;
        floor_to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        floor_to.sin_port = htons(floor_rs.port);
    }
    printf("bench_bacnet: inflight %d, %.3g s per workload and target in %d rounds (each "
           "after %.3g s warm-up), timeout %d ms, max-APDU %u\n", c.inflight, c.seconds,
           c.rounds, c.warmup, c.timeout_ms, c.max_apdu);
    if (!c.floor_only)
        printf("  target %s:%u", c.target_str, ntohs(c.target.sin_port));
    if (have_floor)
        printf("%s floor 127.0.0.1:%u (built-in responder)", c.floor_only ? " " : ",",
               floor_rs.port);
    printf("\n  RPM: %u requests of", rpm.nreq);
    for (unsigned i = 0; i < rpm.nreq; i++)
        printf("%s %u", i ? " +" : "", rpm.req[i].count);
    printf(" objects (<= %u per reply of 3 + 16 x n <= %u octets; request %zu octets)\n",
           (c.max_apdu - RPM_ACK_HDR) / RPM_ACK_PER_PV, c.max_apdu, rpm.req[0].len - APDU_OFF);
    fflush(stdout);

    bool have_target = !c.floor_only && probe(&c, &rp);
    result_t rt[2], rf[2];
    memset(rt, 0, sizeof rt);
    memset(rf, 0, sizeof rf);
    for (int i = 0; i < nw; i++) {
        printf("%s\n", ws[i]->title);
        fflush(stdout);
        /* Alternate floor and target in rounds, so that whatever else the machine does
         * weighs on both alike. */
        for (int k = 0; k < c.rounds; k++) {
            if (have_floor)
                run_load(&c, &floor_to, ws[i], c.seconds / c.rounds, &rf[i]);
            if (have_target)
                run_load(&c, &c.target, ws[i], c.seconds / c.rounds, &rt[i]);
        }
        if (have_floor)
            print_result("floor", ws[i], &rf[i]);
        if (have_target)
            print_result("target", ws[i], &rt[i]);
        fflush(stdout);
    }
    if (have_floor) {
        resp_stats_t st;
        responder_stop(&floor_rs, &st);
    }
    printf("summary:\n");
    for (int i = 0; i < nw; i++)
        if (have_target || have_floor)
            summary_line(ws[i], have_target ? &rt[i] : NULL, have_floor ? &rf[i] : NULL);
    for (int i = 0; i < nw; i++) {
        free(rt[i].lat);
        free(rf[i].lat);
    }
    free_workload(&rp);
    free_workload(&rpm);
    return (c.floor_only || have_target) ? 0 : 1;
}
