/*
 * A site's scale (issue 12), on the in-process site host (src/app/site_host.h): one
 * router, its BACnet/IP port captured here, T MS/TP trunks of complete meters. Figures:
 *   1 build       wall time, RSS per 1,000 meters
 *   2 steady      CPU seconds per site second (= cores for real time) once the start-up
 *                 announcements have settled
 *   3 Who-Is      a global Who-Is from a B/IP client: site and wall time until every
 *                 meter's I-Am has left the B/IP port; duplicates; what the router dropped
 *   4 RP          ReadProperty (AI1 Present_Value) latency through the router, in site
 *                 time from the datagram in to the reply out, at a few loads, with the
 *                 trunk's wire time for the frame pair and its token rotation
 * and in the same run the floors: the metering of the same meters alone (as the site
 * slices it, in whole 256-set slices, and their engines without the synthesizer), and
 * the same trunks without metering or router (buses + MS/TP + the meters' BACnet side).
 * Figures only, never assertions. CPU is the thread's, so a shared machine skews less.
 *
 * Meters: the default scenario, variant = meter index; trunk t is network 10 + t, router
 * MAC 0, meters MAC 1..per, device (10 + t) * 1000 + MAC. Max_Master is the highest MAC
 * on the trunk by default: with 127 every station's poll for masters walks the empty
 * addresses (Tusage_timeout each), which slows ring formation and rotation; -m 127 shows it.
 *
 * -s: load = shared (a trunk's meters take one synthesized load, each its own variant).
 *
 * Usage: bench_site [-s] [-m max_master] [-f router_max_info_frames] [-r bip_rate[/burst]]
 *                   [-w max wait for I-Ams and drained queues, site s (120)]
 *                   [meters (1000)] [site seconds (10)] [meters per trunk (32)] [baud (38400)]
 * The router takes NET_MAX_PORTS - 1 trunks (319 by default: 10,208 meters of 32).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "site_host.h"

#define ROUTER_INSTANCE 4194000u
#define FIRST_NET 10u
#define BIP_NET 1u
#define STEP_US 1000u               /* the site moves a millisecond at a time */
#define RP_TIMEOUT_US 10000000u     /* an RP unanswered this long is counted lost */
#define RP_THINK_US 250000u         /* a client's pause before its next RP: 0 .. this */

/* ---- clocks and memory --------------------------------------------------------------- */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

/* ---- the bench's state --------------------------------------------------------------- */

typedef struct {
    unsigned meters, secs, per, baud;
    unsigned max_master;  /* 0: the highest MAC on each trunk */
    unsigned router_mif;
    unsigned bip_rate, bip_burst;
    bool shared;          /* -s: the meters of a trunk share one synthesized load */
    unsigned wait_s;      /* give up waiting for I-Ams or drained queues after this */
} opts_t;

/* A meter as the B/IP client sees it. */
typedef struct {
    uint16_t iam_phase; /* the phase that last heard its I-Am */
    bool busy;          /* an RP is outstanding */
    uint8_t invoke;
    uint64_t t0_us;     /* site time the RP went in */
    unsigned slot;      /* the client slot that sent it */
} peer_t;

/* One of a trunk's client slots: an RP outstanding, or a pause until next_us. */
typedef struct {
    bool busy;
    uint64_t next_us;
} slot_t;

typedef struct {
    site_host_t *s;
    opts_t o;
    unsigned ntrunks;
    peer_t *peer;
    bip_addr_t client;
    uint64_t bus_t0_us; /* a bus's clock at site time 0 */
    /* What the B/IP port sent since the phase began. */
    uint16_t phase;
    unsigned iam_distinct;
    uint64_t iam_total, iam_wrong, other, router_i_am;
    uint64_t iam_last_us; /* site time the newest meter was first heard */
    /* ReadProperty. */
    uint32_t *lat;        /* microseconds */
    size_t nlat, cap_lat;
    unsigned outstanding;
    uint64_t rp_sent, rp_lost, rp_stray;
    slot_t *slot;         /* per slots of each loaded trunk, trunk by trunk */
    unsigned per;
    uint64_t rng;
    /* Trunk 0's wire, watched: the last RP frame pair. */
    unsigned req_octets, rep_octets;
    uint8_t req_type, rep_type;
} bench_t;

/* ---- what leaves the B/IP port ------------------------------------------------------- */

static uint64_t trunk_now_us(const bench_t *b, unsigned t)
{
    /* The trunk's wire clock: exact to the octet inside sh_advance. */
    return sim_bus_now_us(sh_trunk(b->s, t)->bus) - b->bus_t0_us;
}

/* The meter at (SNET, SADR), or -1. */
static int peer_of(const bench_t *b, const bac_npdu_t *n, unsigned *trunk)
{
    if (!n->has_snet || n->sadr.len != 1 || n->snet < FIRST_NET || n->snet - FIRST_NET >= b->ntrunks)
        return -1;
    *trunk = n->snet - FIRST_NET;
    const sh_trunk_t *t = sh_trunk(b->s, *trunk);
    unsigned mac = n->sadr.addr[0];
    return mac >= 1 && mac <= t->count ? (int)(t->first + mac - 1) : -1;
}

static void on_i_am(bench_t *b, const bac_npdu_t *n, const uint8_t *apdu, size_t len)
{
    unsigned t;
    int k = peer_of(b, n, &t);
    bac_buf_t r;
    bac_oid_t oid;
    bac_buf_reader(&r, apdu + 2, len - 2);
    if (k < 0 && !n->has_snet && bac_dec_oid(&r, &oid) >= 0 && oid.instance == ROUTER_INSTANCE) {
        b->router_i_am++; /* the router's own device answers too */
        return;
    }
    b->iam_total++;
    if (k < 0 || bac_dec_oid(&r, &oid) < 0 || oid.instance != sh_meter_conf(b->s, (unsigned)k)->instance) {
        b->iam_wrong++;
        return;
    }
    if (b->peer[k].iam_phase != b->phase) {
        b->peer[k].iam_phase = b->phase;
        b->iam_distinct++;
        b->iam_last_us = trunk_now_us(b, t);
    }
}

static unsigned rnd(bench_t *b, unsigned n)
{
    b->rng ^= b->rng << 13, b->rng ^= b->rng >> 7, b->rng ^= b->rng << 17; /* xorshift64 */
    return (unsigned)(b->rng % n);
}

/* A slot whose RP was answered or lost pauses a random while: sent at once, the next
 * RP would meet the token at the same point of its rotation every time, and every
 * latency would be the same. */
static void slot_done(bench_t *b, peer_t *p, uint64_t now)
{
    p->busy = false;
    b->outstanding--;
    b->slot[p->slot].busy = false;
    b->slot[p->slot].next_us = now + rnd(b, RP_THINK_US);
}

static void on_ack(bench_t *b, const bac_npdu_t *n, const uint8_t *apdu, size_t len)
{
    unsigned t;
    int k = peer_of(b, n, &t);
    peer_t *p = k < 0 ? NULL : &b->peer[k];
    if (!p || !p->busy || len < 3 || apdu[1] != p->invoke || apdu[2] != BAC_SVC_READ_PROPERTY) {
        b->rp_stray++;
        return;
    }
    if (b->nlat == b->cap_lat) {
        b->cap_lat = b->cap_lat ? 2 * b->cap_lat : 4096;
        b->lat = realloc(b->lat, b->cap_lat * sizeof *b->lat);
    }
    uint64_t now = trunk_now_us(b, t);
    b->lat[b->nlat++] = (uint32_t)(now - p->t0_us);
    slot_done(b, p, now);
}

/* The router's B/IP port: every datagram is taken apart here, none kept. */
static int port_send(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    bench_t *b = ctx;
    (void)to;
    if (len < 4 || data[0] != 0x81)
        return 0;
    size_t off = data[1] == BIP_FORWARDED_NPDU ? 10 : 4;
    bac_buf_t r;
    bac_npdu_t n;
    bac_buf_reader(&r, data + off, len - off);
    if (len <= off || bac_npdu_decode(&r, &n) < 0 || n.network_msg) {
        b->other++;
        return 0;
    }
    const uint8_t *apdu = data + off + bac_pos(&r);
    size_t alen = len - off - bac_pos(&r);
    if (alen >= 2 && apdu[0] == 0x10 && apdu[1] == BAC_USVC_I_AM)
        on_i_am(b, &n, apdu, alen);
    else if (alen >= 3 && apdu[0] >> 4 == BAC_PDU_COMPLEX_ACK)
        on_ack(b, &n, apdu, alen);
    else
        b->other++;
    return 0;
}

static void begin_phase(bench_t *b)
{
    b->phase++;
    b->iam_distinct = 0;
    b->iam_total = b->iam_wrong = b->other = b->router_i_am = 0;
    b->iam_last_us = 0;
}

/* ---- building the site --------------------------------------------------------------- */

static uint8_t trunk_max_master(const opts_t *o, unsigned count)
{
    return (uint8_t)(o->max_master ? o->max_master : count);
}

static int add_trunk(bench_t *b, unsigned t, unsigned count, char *err, size_t cap)
{
    uint8_t mm = trunk_max_master(&b->o, count);
    if (sh_add_trunk(b->s, (uint16_t)(FIRST_NET + t), b->o.baud, 0, mm, (uint8_t)b->o.router_mif,
                     err, cap) < 0)
        return -1;
    for (unsigned mac = 1; mac <= count; mac++) {
        unsigned k = sh_meters(b->s);
        char serial[OBJ_SERIAL_MAX + 1];
        snprintf(serial, sizeof serial, "41%08u", k + 1);
        sh_meter_t m = {.mac = (uint8_t)mac, .max_master = mm, .max_info_frames = 1,
                        .instance = (FIRST_NET + t) * 1000u + mac, .serial = serial,
                        .scenario = S4100_SOURCE_DIR "/scenarios/default.ini", .variant = k};
        if (sh_add_meter(b->s, &m, err, cap) < 0)
            return -1;
    }
    return 0;
}

static int build(bench_t *b)
{
    sh_config_t c = {.instance = ROUTER_INSTANCE, .name = "bench router", .bip_net = BIP_NET,
                     .port = {.ctx = b, .send = port_send},
                     .bip_rate = b->o.bip_rate, .bip_burst = b->o.bip_burst,
                     .shared_load = b->o.shared};
    bip_addr_parse("127.0.0.1", 47808, &c.self);
    bip_addr_parse("127.255.255.255", 47808, &c.broadcast);
    bip_addr_parse("127.0.0.9", 50000, &b->client);
    b->ntrunks = (b->o.meters + b->o.per - 1) / b->o.per;
    char err[400] = "";
    if (!(b->s = sh_new(&c, b->ntrunks, b->o.meters, err, sizeof err))) {
        fprintf(stderr, "bench_site: %s\n", err);
        return -1;
    }
    for (unsigned t = 0; t < b->ntrunks; t++) {
        unsigned left = b->o.meters - t * b->o.per;
        if (add_trunk(b, t, left < b->o.per ? left : b->o.per, err, sizeof err) < 0) {
            fprintf(stderr, "bench_site: trunk %u: %s\n", t, err);
            return -1;
        }
    }
    sh_start(b->s);
    b->bus_t0_us = sim_bus_now_us(sh_trunk(b->s, 0)->bus) - sh_now_us(b->s);
    return 0;
}

/* ---- driving it ---------------------------------------------------------------------- */

static void step(bench_t *b)
{
    int rc = 0;
    if (sh_advance(b->s, STEP_US, &rc)) {
        fprintf(stderr, "bench_site: a meter's source ended (%d)\n", rc);
        exit(1);
    }
}

static void run_for(bench_t *b, uint64_t us)
{
    for (uint64_t end = sh_now_us(b->s) + us; sh_now_us(b->s) < end;)
        step(b);
}

/* Nothing waits in the router: its queues and its stations' transmit queues are empty. */
static bool drained(bench_t *b)
{
    if (net_router_waiting(sh_router(b->s)))
        return false;
    for (unsigned t = 0; t < b->ntrunks; t++) {
        const sh_trunk_t *tr = sh_trunk(b->s, t);
        if (sim_bus_mstp(tr->bus, tr->node)->txq_count)
            return false;
    }
    return true;
}

typedef struct {
    double all_s, all_wall, drained_s, drained_wall, cpu; /* all_s < 0: not all came */
} wait_t;

/* Run until every meter's I-Am of this phase is out and the router is drained, or the
 * cap; when each happened, from t0. */
static wait_t wait_for_i_ams(bench_t *b, uint64_t t0, double wall0, double cpu0)
{
    wait_t w = {-1, -1, -1, -1, 0};
    while (sh_now_us(b->s) - t0 < b->o.wait_s * 1000000ull && w.drained_s < 0) {
        step(b);
        if (w.all_s < 0 && b->iam_distinct == b->o.meters) {
            w.all_s = (double)(b->iam_last_us - t0) / 1e6;
            w.all_wall = wall_s() - wall0;
        }
        if (w.all_s >= 0 && sh_now_us(b->s) % 100000u == 0 && drained(b)) {
            w.drained_s = (double)(sh_now_us(b->s) - t0) / 1e6;
            w.drained_wall = wall_s() - wall0;
        }
    }
    w.cpu = cpu_s() - cpu0;
    return w;
}

/* ---- router figures ---------------------------------------------------------------- */

typedef struct {
    uint64_t dropped, fwd, bip_dropped, trunk_dropped, trunk_queued;
    uint32_t trunk_peak, bip_peak;
} rstat_t;

static rstat_t router_stats(bench_t *b)
{
    net_router_t *r = sh_router(b->s);
    rstat_t x = {.dropped = r->stats.dropped, .fwd = r->stats.forwarded,
                 .bip_dropped = r->ports[0].stats.dropped, .bip_peak = r->ports[0].stats.peak};
    for (unsigned k = 1; k < r->nports; k++) {
        x.trunk_dropped += r->ports[k].stats.dropped;
        x.trunk_queued += r->ports[k].stats.queued;
        if (r->ports[k].stats.peak > x.trunk_peak)
            x.trunk_peak = r->ports[k].stats.peak;
    }
    return x;
}

static void print_router(const char *what, rstat_t a, rstat_t z)
{
    printf("    router (%s): forwarded %llu, dropped %llu (B/IP port %llu, trunk ports %llu), "
           "queued on trunks %llu; queue peak B/IP %u B, a trunk %u B\n", what,
           (unsigned long long)(z.fwd - a.fwd), (unsigned long long)(z.dropped - a.dropped),
           (unsigned long long)(z.bip_dropped - a.bip_dropped),
           (unsigned long long)(z.trunk_dropped - a.trunk_dropped),
           (unsigned long long)(z.trunk_queued - a.trunk_queued), z.bip_peak, z.trunk_peak);
}

static void print_wait(bench_t *b, const char *what, const wait_t *w)
{
    if (w->all_s >= 0)
        printf("    every I-Am out after %.2f site s (%.1f wall s)", w->all_s, w->all_wall);
    else
        printf("    NOT every I-Am out within %u site s: %u of %u", b->o.wait_s, b->iam_distinct,
               b->o.meters);
    printf("; %s %llu meters' I-Ams in all (%llu duplicates, %llu wrong), the router's own %llu, "
           "%llu other datagrams\n", what, (unsigned long long)b->iam_total,
           (unsigned long long)(b->iam_total - b->iam_distinct - b->iam_wrong),
           (unsigned long long)b->iam_wrong, (unsigned long long)b->router_i_am,
           (unsigned long long)b->other);
    if (w->drained_s >= 0)
        printf("    router drained (queues and trunk transmit queues empty) after %.2f site s "
               "(%.1f wall s)\n", w->drained_s, w->drained_wall);
    else
        printf("    router NOT drained within %u site s: %u NPDUs waiting in its queues\n",
               b->o.wait_s, net_router_waiting(sh_router(b->s)));
}

/* ---- the wire of trunk 0 ------------------------------------------------------------- */

typedef struct {
    double rot_mean_ms, rot_max_ms, busy; /* rotation; wire busy fraction */
} wire_t;

static void reset_wires(bench_t *b)
{
    for (unsigned t = 0; t < b->ntrunks; t++)
        sim_bus_reset_stats(sh_trunk(b->s, t)->bus);
}

/* Token rotation and wire use over trunks [0, n) since reset_wires, over us. */
static wire_t wires(bench_t *b, unsigned n, uint64_t us)
{
    wire_t w = {0};
    unsigned with = 0;
    for (unsigned t = 0; t < n; t++) {
        sim_bus_stats_t st;
        sim_bus_stats(sh_trunk(b->s, t)->bus, &st);
        if (st.rotations) {
            w.rot_mean_ms += (double)st.rotation_sum_us / (double)st.rotations / 1e3;
            with++;
        }
        if (st.rotation_max_us / 1e3 > w.rot_max_ms)
            w.rot_max_ms = st.rotation_max_us / 1e3;
        w.busy += (double)st.busy_us / (double)us;
    }
    w.rot_mean_ms /= with ? with : 1;
    w.busy /= n;
    return w;
}

/* Trunk 0's monitor: the sizes of a request from the router and of a meter's answer. */
static void watch_frame(void *ctx, uint64_t t_us, const uint8_t *o, size_t n)
{
    bench_t *b = ctx;
    (void)t_us;
    if (n <= MSTP_HEADER_LEN || (o[2] != MSTP_DATA_EXPECTING_REPLY && o[2] != MSTP_DATA_NOT_EXPECTING_REPLY))
        return;
    if (o[4] == 0 && o[3] != MSTP_BROADCAST)
        b->req_octets = (unsigned)n, b->req_type = o[2];
    else if (o[3] == 0)
        b->rep_octets = (unsigned)n, b->rep_type = o[2];
}

/* ---- ReadProperty through the router ------------------------------------------------- */

static void send_rp(bench_t *b, unsigned k, unsigned t, unsigned slot)
{
    const sh_meter_t *m = sh_meter_conf(b->s, k);
    peer_t *p = &b->peer[k];
    uint8_t d[128];
    bac_buf_t w;
    bac_buf_writer(&w, d + 4, sizeof d - 4);
    bac_npdu_t n = {.expecting_reply = true, .has_dnet = true, .dnet = (uint16_t)(FIRST_NET + t),
                    .dadr = {.len = 1, .addr = {m->mac}}, .hop_count = 255};
    bac_apdu_t a = {.type = BAC_PDU_CONFIRMED_REQ, .max_apdu_code = 5, .invoke_id = ++p->invoke,
                    .service = BAC_SVC_READ_PROPERTY};
    bac_npdu_encode(&w, &n);
    bac_apdu_encode(&w, &a);
    bac_enc_ctx_oid(&w, 0, (bac_oid_t){BAC_OBJ_ANALOG_INPUT, 1});
    bac_enc_ctx_enum(&w, 1, BAC_PROP_PRESENT_VALUE);
    size_t len = bac_pos(&w) + 4;
    d[0] = 0x81, d[1] = BIP_ORIGINAL_UNICAST, d[2] = (uint8_t)(len >> 8), d[3] = (uint8_t)len;
    p->busy = true;
    p->t0_us = sh_now_us(b->s);
    p->slot = slot;
    b->slot[slot].busy = true;
    b->outstanding++;
    b->rp_sent++;
    sh_bip_receive(b->s, &b->client, d, len);
}

/* Each of trunks [0, n) has b->per client slots; a slot done pausing sends its RP to a
 * meter of the trunk that has none outstanding, drawn at random. */
static void refill(bench_t *b, unsigned n)
{
    uint64_t now = sh_now_us(b->s);
    for (unsigned i = 0; i < n * b->per; i++) {
        if (b->slot[i].busy || now < b->slot[i].next_us)
            continue;
        unsigned t = i / b->per;
        const sh_trunk_t *tr = sh_trunk(b->s, t);
        unsigned at = rnd(b, tr->count);
        for (unsigned tries = 0; tries < tr->count; tries++) {
            unsigned k = tr->first + (at + tries) % tr->count;
            if (!b->peer[k].busy) {
                send_rp(b, k, t, i);
                break;
            }
        }
    }
}

static void expire(bench_t *b)
{
    uint64_t now = sh_now_us(b->s);
    for (unsigned k = 0; k < b->o.meters; k++)
        if (b->peer[k].busy && now - b->peer[k].t0_us > RP_TIMEOUT_US) {
            slot_done(b, &b->peer[k], now);
            b->rp_lost++;
        }
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
    return a < c ? -1 : a > c;
}

static double pct_ms(const bench_t *b, double q)
{
    size_t i = (size_t)(q * (double)(b->nlat - 1) + 0.5);
    return b->nlat ? b->lat[i] / 1e3 : 0;
}

/* per client slots on each of trunks [0, n) for secs site seconds, then the
 * stragglers; the latency of every answer. */
static void rp_load(bench_t *b, const char *name, unsigned n, unsigned per, unsigned secs)
{
    b->nlat = 0;
    b->rp_sent = b->rp_lost = b->rp_stray = 0;
    b->per = per;
    b->slot = calloc((size_t)n * per, sizeof *b->slot);
    for (unsigned i = 0; i < n * per; i++)
        b->slot[i].next_us = sh_now_us(b->s) + rnd(b, RP_THINK_US);
    reset_wires(b);
    rstat_t r0 = router_stats(b);
    double cpu0 = cpu_s();
    uint64_t t0 = sh_now_us(b->s), end = t0 + secs * 1000000ull;
    while (sh_now_us(b->s) < end || (b->outstanding && sh_now_us(b->s) < end + RP_TIMEOUT_US)) {
        if (sh_now_us(b->s) < end)
            refill(b, n);
        step(b);
        if (sh_now_us(b->s) % 100000u == 0)
            expire(b);
    }
    expire(b);
    free(b->slot);
    uint64_t span = sh_now_us(b->s) - t0;
    double cpu = cpu_s() - cpu0;
    wire_t w = wires(b, n, span);
    if (b->nlat)
        qsort(b->lat, b->nlat, sizeof *b->lat, cmp_u32);
    printf("  %-28s %6llu RPs, %6zu answered, %llu lost, %llu stray: p50 %6.1f  p99 %6.1f  "
           "max %6.1f ms; %.0f RP/site s\n", name, (unsigned long long)b->rp_sent, b->nlat,
           (unsigned long long)b->rp_lost, (unsigned long long)b->rp_stray, pct_ms(b, 0.5),
           pct_ms(b, 0.99), b->nlat ? b->lat[b->nlat - 1] / 1e3 : 0, b->nlat / (span / 1e6));
    printf("    token rotation on the loaded trunks: mean %.1f ms, max %.1f ms; wire busy %.0f %%; "
           "CPU %.2f s per site s\n", w.rot_mean_ms, w.rot_max_ms, 100 * w.busy, cpu / (span / 1e6));
    rstat_t r1 = router_stats(b);
    if (r1.dropped != r0.dropped)
        print_router("RP", r0, r1);
}

static void print_wire_time(const bench_t *b)
{
    double bit_ms = 1e3 / b->o.baud;
    double wire = ((b->req_octets + b->rep_octets) * 10.0 + 2.0 * MSTP_TURNAROUND_BITS) * bit_ms;
    printf("  trunk wire time of the pair: request %u + reply %u octets x 10 bits + 2 turnarounds "
           "of %u bits at %u baud = %.1f ms (request frame type %u, reply type %u)\n",
           b->req_octets, b->rep_octets, MSTP_TURNAROUND_BITS, b->o.baud, wire, b->req_type,
           b->rep_type);
}

static void rp_phase(bench_t *b)
{
    unsigned secs = b->o.secs;
    printf("4 ReadProperty AI1 Present_Value through the router (site time, datagram in -> reply "
           "out), %u site s a load; N client slots a trunk, each pausing 0..%u ms after an answer\n",
           secs, RP_THINK_US / 1000u);
    sim_bus_monitor(sh_trunk(b->s, 0)->bus, watch_frame, b);
    rp_load(b, "1 slot in the site (trunk 0)", 1, 1, secs);
    print_wire_time(b);
    sim_bus_monitor(sh_trunk(b->s, 0)->bus, NULL, NULL);
    rp_load(b, "1 slot per trunk, all trunks", b->ntrunks, 1, secs);
    rp_load(b, "4 slots per trunk, all trunks", b->ntrunks, 4, secs);
}

/* ---- phases 2 and 3 ------------------------------------------------------------------ */

static double steady(bench_t *b)
{
    reset_wires(b);
    double cpu0 = cpu_s(), wall0 = wall_s();
    run_for(b, b->o.secs * 1000000ull);
    double cpu = (cpu_s() - cpu0) / b->o.secs;
    wire_t w = wires(b, b->ntrunks, b->o.secs * 1000000ull);
    printf("2 steady state, %u site s: %.3f CPU s per site s (cores for real time), %.3f per 1,000 "
           "meters; %.2f wall s per site s\n", b->o.secs, cpu, cpu * 1000.0 / b->o.meters,
           (wall_s() - wall0) / b->o.secs);
    printf("    token rotation: mean %.1f ms, max %.1f ms over all trunks; wire busy %.0f %%\n",
           w.rot_mean_ms, w.rot_max_ms, 100 * w.busy);
    return cpu;
}

static void who_is(bench_t *b)
{
    uint8_t d[32] = {0x81, BIP_ORIGINAL_BROADCAST};
    bac_buf_t w;
    bac_buf_writer(&w, d + 4, sizeof d - 4);
    bac_npdu_encode(&w, &(bac_npdu_t){.has_dnet = true, .dnet = BAC_NET_BROADCAST, .hop_count = 255});
    bac_put_bytes(&w, (const uint8_t[]){0x10, BAC_USVC_WHO_IS}, 2);
    size_t len = bac_pos(&w) + 4;
    d[3] = (uint8_t)len;
    begin_phase(b);
    rstat_t r0 = router_stats(b);
    double cpu0 = cpu_s(), wall0 = wall_s();
    uint64_t t0 = sh_now_us(b->s);
    sh_bip_receive(b->s, &b->client, d, len);
    wait_t wt = wait_for_i_ams(b, t0, wall0, cpu0);
    printf("3 global Who-Is (DNET 0xFFFF, Original-Broadcast from a client):\n");
    print_wait(b, "answered with", &wt);
    print_router("Who-Is", r0, router_stats(b));
    printf("    CPU %.2f s over %.2f site s\n", wt.cpu, (double)(sh_now_us(b->s) - t0) / 1e6);
}

/* ---- the floors ---------------------------------------------------------------------- */

/* The site's meters fed as sh_advance feeds them (whole slices of APP_FEED_MAX, a
 * shared load read once for its meters) over secs site seconds, nothing else: their
 * metering. */
static double metering_alone(bench_t *b, unsigned secs)
{
    double cpu0 = cpu_s();
    int rc = 0;
    for (uint64_t done = 0; done < (uint64_t)secs * MTR_FS; done += APP_FEED_MAX)
        sh_feed_slice(b->s, APP_FEED_MAX, &rc);
    return (cpu_s() - cpu0) / secs;
}

/* The engines of the same meters on frames made beforehand (one second of the default
 * scenario through the front end), in slices of APP_FEED_MAX: the meters' own cost
 * without the synthesizer that stands in for their inputs. */
static double engine_alone(bench_t *b, unsigned secs)
{
    static mtr_frame_t x[MTR_FS];
    static uint8_t pulse[MTR_FS];
    sim_source_t *src;
    sim_err_t err;
    if (sim_open_scenario(&src, S4100_SOURCE_DIR "/scenarios/default.ini", &err) < 0 ||
        sim_read(src, x, pulse, MTR_FS, &err) != MTR_FS)
        return -1;
    sim_close(src);
    sim_afe(&sh_meter(b->s, 0)->mt.dev.mtr.cfg, x, MTR_FS);
    double cpu0 = cpu_s();
    for (unsigned s = 0; s < secs; s++)
        for (size_t done = 0; done < MTR_FS; done += APP_FEED_MAX) {
            size_t n = MTR_FS - done < APP_FEED_MAX ? MTR_FS - done : APP_FEED_MAX;
            for (unsigned k = 0; k < b->o.meters; k++)
                meter_feed(&sh_meter(b->s, k)->mt, x + done, pulse + done, n, 0, NULL);
        }
    return (cpu_s() - cpu0) / secs;
}

/* The same trunks with a station at MAC 0 that routes nothing and unfed meters:
 * the wires, MS/TP and the meters' millisecond ticks alone. */
static double buses_alone(const opts_t *o, unsigned ntrunks, unsigned secs)
{
    sim_bus_t **bus = calloc(ntrunks, sizeof *bus);
    for (unsigned t = 0; t < ntrunks; t++) {
        unsigned left = o->meters - t * o->per, count = left < o->per ? left : o->per;
        mstp_config_t c;
        mstp_config_default(&c);
        c.max_master = trunk_max_master(o, count);
        c.max_info_frames = (uint8_t)o->router_mif;
        bus[t] = sim_bus_new(o->baud, 0x5173ull + t);
        sim_bus_add_port(bus[t], &c, NULL);
        for (unsigned mac = 1; mac <= count; mac++)
            sim_bus_add_meter(bus[t], (uint8_t)mac, c.max_master);
    }
    for (unsigned ms = 0; ms < 5000; ms++) /* the rings form, the I-Ams go */
        for (unsigned t = 0; t < ntrunks; t++)
            sim_bus_run(bus[t], STEP_US);
    double cpu0 = cpu_s();
    for (unsigned ms = 0; ms < secs * 1000u; ms++)
        for (unsigned t = 0; t < ntrunks; t++)
            sim_bus_run(bus[t], STEP_US);
    double cpu = (cpu_s() - cpu0) / secs;
    for (unsigned t = 0; t < ntrunks; t++)
        sim_bus_free(bus[t]);
    free(bus);
    return cpu;
}

/* ---- main ---------------------------------------------------------------------------- */

static int parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.meters = 1000, .secs = 10, .per = 32, .baud = 38400, .router_mif = 1, .wait_s = 120};
    int c;
    while ((c = getopt(argc, argv, "m:f:r:w:s")) != -1) {
        if (c == 's')
            o->shared = true;
        else if (c == 'w')
            o->wait_s = (unsigned)atoi(optarg);
        else if (c == 'm')
            o->max_master = (unsigned)atoi(optarg);
        else if (c == 'f')
            o->router_mif = (unsigned)atoi(optarg);
        else if (c == 'r' && sscanf(optarg, "%u/%u", &o->bip_rate, &o->bip_burst) >= 1)
            o->bip_burst = o->bip_burst ? o->bip_burst : o->bip_rate;
        else
            return -1;
    }
    unsigned *pos[] = {&o->meters, &o->secs, &o->per, &o->baud};
    for (unsigned k = 0; optind + (int)k < argc && k < 4; k++)
        *pos[k] = (unsigned)atoi(argv[optind + (int)k]);
    return o->meters >= 1 && o->secs >= 1 && o->per >= 1 && o->per <= 63 && o->router_mif >= 1 &&
                   o->max_master <= 127 && (o->max_master == 0 || o->max_master >= o->per)
               ? 0 : -1;
}

static void startup(bench_t *b, double wall0, double cpu0)
{
    begin_phase(b);
    rstat_t r0 = router_stats(b);
    wait_t w = wait_for_i_ams(b, 0, wall0, cpu0);
    printf("  start-up announcements:\n");
    print_wait(b, "the B/IP port sent", &w);
    print_router("start-up", r0, router_stats(b));
}

int main(int argc, char **argv)
{
    bench_t b = {0};
    setvbuf(stdout, NULL, _IOLBF, 0); /* a long run shows its phases as they end */
    if (parse(argc, argv, &b.o) < 0) {
        fprintf(stderr, "usage: bench_site [-s (load = shared)] [-m max_master (0: highest MAC)] [-f router_max_info_frames] "
                        "[-r bip_rate[/burst]] [-w max wait, site s (120)] [meters] [site seconds] "
                        "[meters per trunk <= 63] [baud]\n");
        return 2;
    }
    double rss0 = rss_mb(), wall0 = wall_s();
    if (build(&b) < 0)
        return 1;
    double build_s = wall_s() - wall0, rss1 = rss_mb();
    b.peer = calloc(b.o.meters, sizeof *b.peer);
    b.rng = 0x5173;
    char mm[24] = "the highest MAC";
    if (b.o.max_master)
        snprintf(mm, sizeof mm, "%u", b.o.max_master);
    char pace[40] = "none";
    if (b.o.bip_rate)
        snprintf(pace, sizeof pace, "%u NPDUs/s, burst %u", b.o.bip_rate, b.o.bip_burst);
    printf("bench_site: %u meters on %u trunks of %u at %u baud, Max_Master %s, router "
           "Max_Info_Frames %u, B/IP pacing %s, load %s; router with %u ports at most\n", b.o.meters,
           b.ntrunks, b.o.per, b.o.baud, mm, b.o.router_mif, pace,
           b.o.shared ? "shared per trunk (a variant each)" : "own per meter", (unsigned)NET_MAX_PORTS);
    printf("1 build: %.2f wall s; RSS %.1f -> %.1f MB: %.1f MB per 1,000 meters "
           "(app_meter_t %zu B)\n", build_s, rss0, rss1, (rss1 - rss0) * 1000.0 / b.o.meters,
           sizeof(app_meter_t));
    startup(&b, wall_s(), cpu_s());
    double site = steady(&b);
    who_is(&b);
    rp_phase(&b);
    unsigned fsecs = b.o.secs < 3 ? b.o.secs : 3;
    double meter = metering_alone(&b, fsecs);
    double engine = engine_alone(&b, fsecs);
    sh_free(b.s);
    double buses = buses_alone(&b.o, b.ntrunks, fsecs);
    printf("floors, same run, CPU s per site s: metering of the same meters alone %.3f; the same "
           "trunks without metering or router %.3f; sum %.3f vs the site's %.3f (router + host "
           "%.3f)\n", meter, buses, meter + buses, site, site - meter - buses);
    printf("  of it the meters' engines on frames made beforehand (no synthesizer): %.3f\n", engine);
    free(b.peer);
    free(b.lat);
    return 0;
}
