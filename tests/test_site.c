/*
 * A site in one process (src/app/site_host.c) driven as a head end on BACnet/IP would:
 * datagrams into the router's B/IP port, the site's clock advanced, and every datagram
 * the router sends decoded — BVLC, NPDU with SNET/SADR, APDU. Two MS/TP trunks (networks
 * 10 and 20) of three meters each, at 38400 baud, no NV.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "site_host.h"

#define MAXD 4096

typedef struct {
    bip_addr_t to;
    size_t len;
    uint8_t data[BIP_MAX_DATAGRAM + 64];
} dgram_t;

typedef struct {
    dgram_t d[MAXD];
    unsigned n;
} wire_t;

static int capture(void *ctx, const bip_addr_t *to, const uint8_t *data, size_t len)
{
    wire_t *w = ctx;
    if (w->n < MAXD && len <= sizeof w->d[0].data) {
        w->d[w->n].to = *to;
        w->d[w->n].len = len;
        memcpy(w->d[w->n].data, data, len);
        w->n++;
    }
    return 0;
}

typedef struct {
    site_host_t *s;
    wire_t *w;
    bip_addr_t client;
} fx_t;

static const uint16_t NETS[2] = {10, 20};
#define PER_TRUNK 3

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->w = calloc(1, sizeof *f->w);
    sh_config_t c = {.instance = 4194000, .name = "router", .bip_net = 1,
                     .port = {.ctx = f->w, .send = capture}};
    bip_addr_parse("127.0.0.1", 47808, &c.self);
    bip_addr_parse("127.255.255.255", 47808, &c.broadcast);
    bip_addr_parse("127.0.0.9", 50000, &f->client);
    char err[300] = "";
    f->s = sh_new(&c, 2, 2 * PER_TRUNK, err, sizeof err);
    assert_non_null(f->s);
    for (unsigned t = 0; t < 2; t++) {
        assert_int_equal(sh_add_trunk(f->s, NETS[t], 38400, 0, 127, 1, err, sizeof err), (int)t);
        for (unsigned k = 0; k < PER_TRUNK; k++) {
            char serial[16];
            snprintf(serial, sizeof serial, "77%02u%02u", NETS[t], k + 1);
            sh_meter_t m = {.mac = (uint8_t)(k + 1), .max_master = 127, .max_info_frames = 1,
                            .instance = NETS[t] * 1000u + k + 1, .serial = serial,
                            .scenario = S4100_SOURCE_DIR "/scenarios/default.ini", .variant = t * 3 + k};
            int rc = sh_add_meter(f->s, &m, err, sizeof err);
            if (rc < 0)
                fail_msg("%s", err);
        }
    }
    sh_start(f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sh_free(f->s);
    free(f->w);
    free(f);
    return 0;
}

static void advance_ms(fx_t *f, unsigned ms)
{
    int rc = 0;
    for (unsigned k = 0; k < ms; k++)
        assert_int_equal(sh_advance(f->s, 1000, &rc), 0);
}

/* One received datagram taken apart: BVLC function, NPDU header, APDU after it. */
typedef struct {
    uint8_t fn;
    bac_npdu_t n;
    const uint8_t *apdu;
    size_t apdu_len;
} parsed_t;

static void parse(const dgram_t *d, parsed_t *p)
{
    assert_true(d->len >= 4);
    assert_int_equal(d->data[0], 0x81);
    assert_int_equal((size_t)(d->data[2] << 8 | d->data[3]), d->len);
    p->fn = d->data[1];
    size_t off = p->fn == BIP_FORWARDED_NPDU ? 10 : 4;
    bac_buf_t b;
    bac_buf_reader(&b, d->data + off, d->len - off);
    assert_true(bac_npdu_decode(&b, &p->n) >= 0);
    p->apdu = d->data + off + bac_pos(&b);
    p->apdu_len = d->len - off - bac_pos(&b);
}

/* The I-Ams seen since mark: a bit per meter (trunk t, MAC m) with SNET/SADR right. */
static unsigned i_ams(const fx_t *f, unsigned mark, unsigned *count)
{
    unsigned seen = 0;
    *count = 0;
    for (unsigned i = mark; i < f->w->n; i++) {
        parsed_t p;
        parse(&f->w->d[i], &p);
        if (p.n.network_msg || p.apdu_len < 2 || p.apdu[0] != 0x10 || p.apdu[1] != 0x00)
            continue;
        assert_int_equal(p.fn, BIP_ORIGINAL_BROADCAST);
        bac_buf_t b;
        bac_buf_reader(&b, p.apdu + 2, p.apdu_len - 2);
        bac_oid_t oid;
        assert_true(bac_dec_oid(&b, &oid) >= 0);
        if (!p.n.has_snet) { /* the router's own device, on its own network */
            assert_int_equal(oid.instance, 4194000);
            continue;
        }
        assert_int_equal(p.n.sadr.len, 1);
        unsigned t = p.n.snet == 10 ? 0 : p.n.snet == 20 ? 1 : 9;
        assert_true(t < 2);
        assert_int_equal(oid.instance, NETS[t] * 1000u + p.n.sadr.addr[0]);
        seen |= 1u << (t * PER_TRUNK + p.n.sadr.addr[0] - 1);
        (*count)++;
    }
    return seen;
}

static size_t npdu_to(uint8_t *out, size_t cap, uint16_t dnet, int dadr, bool expecting)
{
    bac_buf_t w;
    bac_buf_writer(&w, out, cap);
    bac_npdu_t n = {.expecting_reply = expecting, .has_dnet = dnet != 0, .dnet = dnet, .hop_count = 255};
    if (dadr >= 0)
        n.dadr.len = 1, n.dadr.addr[0] = (uint8_t)dadr;
    bac_npdu_encode(&w, &n);
    return bac_pos(&w);
}

static void send_bvlc(fx_t *f, uint8_t fn, const uint8_t *npdu, size_t len)
{
    uint8_t d[600] = {0x81, fn, (uint8_t)((len + 4) >> 8), (uint8_t)(len + 4)};
    memcpy(d + 4, npdu, len);
    sh_bip_receive(f->s, &f->client, d, len + 4);
}

static void meters_announce_through_router(void **state)
{
    fx_t *f = *state;
    advance_ms(f, 3000);
    unsigned count;
    assert_int_equal(i_ams(f, 0, &count), (1u << 6) - 1);
    assert_int_equal(count, 6);
}

static void global_who_is_finds_every_meter(void **state)
{
    fx_t *f = *state;
    advance_ms(f, 3000);
    unsigned mark = f->w->n, count;
    uint8_t npdu[64];
    size_t n = npdu_to(npdu, sizeof npdu, 0xFFFF, -1, false);
    npdu[n++] = 0x10, npdu[n++] = 0x08; /* Who-Is, no range */
    send_bvlc(f, BIP_ORIGINAL_BROADCAST, npdu, n);
    advance_ms(f, 2000);
    assert_int_equal(i_ams(f, mark, &count), (1u << 6) - 1);
    assert_int_equal(count, 6);
}

static void local_who_is_stays_on_the_ip_network(void **state)
{
    fx_t *f = *state;
    advance_ms(f, 3000);
    unsigned mark = f->w->n, count;
    uint8_t npdu[64];
    size_t n = npdu_to(npdu, sizeof npdu, 0, -1, false);
    npdu[n++] = 0x10, npdu[n++] = 0x08;
    send_bvlc(f, BIP_ORIGINAL_BROADCAST, npdu, n);
    advance_ms(f, 2000);
    assert_int_equal(i_ams(f, mark, &count), 0);
}

/* ReadProperty of a meter's Object_Name through the router: the answer comes from
 * SNET 20 / SADR 2 to the client, as a unicast. */
static void read_property_through_router(void **state)
{
    fx_t *f = *state;
    advance_ms(f, 6000);
    unsigned mark = f->w->n;
    uint8_t npdu[64];
    size_t n = npdu_to(npdu, sizeof npdu, 20, 2, true);
    const uint8_t rp[] = {0x00, 0x05, 0x2A, 0x0C, 0x0C, 0x02, 0x00, 0x4E, 0x22, 0x19, 0x4D};
    /* confirmed, max APDU 1476, invoke 42, RP; device 20002; Object_Name (77) */
    memcpy(npdu + n, rp, sizeof rp);
    n += sizeof rp;
    send_bvlc(f, BIP_ORIGINAL_UNICAST, npdu, n);
    advance_ms(f, 1000);
    if (getenv("SITE_DEBUG")) {
        net_router_t *r = sh_router(f->s);
        const sh_trunk_t *t = sh_trunk(f->s, 1);
        mstp_t *m = sim_bus_mstp(t->bus, t->node);
        fprintf(stderr, "router fwd %u dlv %u drop %u rej %u; node npdu_in %u out %u queued %u full %u\n",
                r->stats.forwarded, r->stats.delivered, r->stats.dropped, r->stats.rejected,
                m->c.npdu_in, m->c.npdu_out, m->c.queued, m->c.queue_full);
        mstp_t *m2 = sim_bus_mstp(t->bus, 2);
        fprintf(stderr, "meter2 npdu_in %u out %u requests %u; router tok %u tx %u state %u ts %u ns %u; m2 tok %u\n", m2->c.npdu_in, m2->c.npdu_out, m2->c.requests, m->c.tokens_received, m->c.tx_frames, m->state, m->cfg.mac, m->ns, m2->c.tokens_received);
    }
    bool found = false;
    for (unsigned i = mark; i < f->w->n; i++) {
        parsed_t p;
        parse(&f->w->d[i], &p);
        if (getenv("SITE_DEBUG"))
            fprintf(stderr, "fn %u net %d type %u snet %u apdu %02x %02x %02x len %zu\n", p.fn,
                    p.n.network_msg, p.n.msg_type, p.n.snet, p.apdu[0], p.apdu_len > 1 ? p.apdu[1] : 0,
                    p.apdu_len > 2 ? p.apdu[2] : 0, p.apdu_len);
        if (p.n.network_msg || p.apdu_len < 3 || p.apdu[0] != 0x30)
            continue;
        assert_int_equal(p.fn, BIP_ORIGINAL_UNICAST);
        assert_memory_equal(f->w->d[i].to.octets, f->client.octets, 6);
        assert_true(p.n.has_snet);
        assert_int_equal(p.n.snet, 20);
        assert_int_equal(p.n.sadr.addr[0], 2);
        assert_false(p.n.has_dnet);
        assert_int_equal(p.apdu[1], 42);
        assert_int_equal(p.apdu[2], 12);
        found = true;
    }
    assert_true(found);
}

/* Who-Is-Router-To-Network from the IP side: the router answers for networks 10, 20. */
static void who_is_router_names_both_trunks(void **state)
{
    fx_t *f = *state;
    unsigned mark = f->w->n;
    const uint8_t npdu[] = {0x01, 0x80, 0x00};
    send_bvlc(f, BIP_ORIGINAL_BROADCAST, npdu, sizeof npdu);
    bool found = false;
    for (unsigned i = mark; i < f->w->n; i++) {
        parsed_t p;
        parse(&f->w->d[i], &p);
        if (!p.n.network_msg || p.n.msg_type != 0x01)
            continue;
        const uint8_t list[] = {0x00, 10, 0x00, 20};
        assert_int_equal(p.apdu_len, sizeof list);
        assert_memory_equal(p.apdu, list, sizeof list);
        found = true;
    }
    assert_true(found);
}

/* A request to a network nobody knows: Reject-Message-To-Network, reason 1, DNET 99. */
static void unknown_network_rejected(void **state)
{
    fx_t *f = *state;
    unsigned mark = f->w->n;
    uint8_t npdu[64];
    size_t n = npdu_to(npdu, sizeof npdu, 99, 5, true);
    const uint8_t rp[] = {0x00, 0x05, 0x01, 0x0C, 0x0C, 0x02, 0x00, 0x00, 0x05, 0x19, 0x4D};
    memcpy(npdu + n, rp, sizeof rp);
    send_bvlc(f, BIP_ORIGINAL_UNICAST, npdu, n + sizeof rp);
    bool found = false;
    for (unsigned i = mark; i < f->w->n; i++) {
        parsed_t p;
        parse(&f->w->d[i], &p);
        if (!p.n.network_msg || p.n.msg_type != 0x03)
            continue;
        const uint8_t body[] = {1, 0x00, 99};
        assert_int_equal(p.apdu_len, sizeof body);
        assert_memory_equal(p.apdu, body, sizeof body);
        found = true;
    }
    assert_true(found);
}

/* The router is a device of its own: its I-Am at start, and its Network_Port objects
 * readable on the IP side (no DNET: the router's own application entity). */
static void router_device_readable(void **state)
{
    fx_t *f = *state;
    bool i_am = false;
    for (unsigned i = 0; i < f->w->n; i++) {
        parsed_t p;
        parse(&f->w->d[i], &p);
        if (getenv("SITE_DEBUG")) {
            for (size_t k = 0; k < f->w->d[i].len; k++)
                fprintf(stderr, "%02x ", f->w->d[i].data[k]);
            fprintf(stderr, "\n");
        }
        if (!p.n.network_msg && !p.n.has_snet && p.apdu_len >= 7 && p.apdu[0] == 0x10 && p.apdu[1] == 0)
            i_am = !memcmp(p.apdu + 2, "\xC4\x02\x3F\xFE\xD0", 5) || i_am; /* device 4194000 */
    }
    assert_true(i_am);
    unsigned mark = f->w->n;
    uint8_t npdu[64];
    size_t n = npdu_to(npdu, sizeof npdu, 0, -1, true);
    /* RP network-port 3 (trunk network 20), Network_Number (425) */
    const uint8_t rp[] = {0x00, 0x05, 0x07, 0x0C, 0x0C, 0x0E, 0x00, 0x00, 0x03, 0x1A, 0x01, 0xA9};
    memcpy(npdu + n, rp, sizeof rp);
    send_bvlc(f, BIP_ORIGINAL_UNICAST, npdu, n + sizeof rp);
    bool found = false;
    for (unsigned i = mark; i < f->w->n; i++) {
        parsed_t p;
        parse(&f->w->d[i], &p);
        if (p.n.network_msg || p.apdu_len < 3 || p.apdu[0] != 0x30)
            continue;
        assert_false(p.n.has_snet);
        /* ACK: object id, property 425, value [3] { unsigned 20 } */
        const uint8_t ack[] = {0x30, 0x07, 0x0C, 0x0C, 0x0E, 0x00, 0x00, 0x03, 0x1A, 0x01, 0xA9,
                               0x3E, 0x21, 0x14, 0x3F};
        assert_int_equal(p.apdu_len, sizeof ack);
        assert_memory_equal(p.apdu, ack, sizeof ack);
        found = true;
    }
    assert_true(found);
}

/* load = shared: a trunk's meters on one scenario take one synthesized load, each its
 * own variant of it; meters with no variant read exactly alike; a meter's load cannot
 * be changed alone (it is not its own). */
static void shared_load_per_trunk(void **state)
{
    (void)state;
    wire_t *w = calloc(1, sizeof *w);
    sh_config_t c = {.instance = 4194000, .name = "router", .bip_net = 1, .shared_load = true,
                     .port = {.ctx = w, .send = capture}};
    char err[300] = "";
    site_host_t *s = sh_new(&c, 2, 8, err, sizeof err);
    assert_non_null(s);
    static const unsigned variant[2][4] = {{0, 0, 7, 9}, {0, 3, 0, 0}};
    for (unsigned t = 0; t < 2; t++) {
        assert_int_equal(sh_add_trunk(s, NETS[t], 38400, 0, 8, 1, err, sizeof err), (int)t);
        for (unsigned k = 0; k < 4; k++) {
            char serial[16];
            snprintf(serial, sizeof serial, "88%02u%02u", NETS[t], k + 1);
            sh_meter_t m = {.mac = (uint8_t)(k + 1), .max_master = 8, .max_info_frames = 1,
                            .instance = NETS[t] * 1000u + k + 1, .serial = serial,
                            .scenario = S4100_SOURCE_DIR "/scenarios/default.ini",
                            .variant = variant[t][k], .own_load = t == 1 && k == 3};
            if (sh_add_meter(s, &m, err, sizeof err) < 0)
                fail_msg("%s", err);
        }
    }
    assert_int_equal(sh_loads(s), 2); /* trunk 10's, trunk 20's; 20:4 has its own */
    int rc = 0;
    assert_int_equal(sh_advance(s, 3000000, &rc), 0);
    const float *kw[8];
    for (unsigned k = 0; k < 8; k++) {
        kw[k] = &sh_meter(s, k)->mt.dev.mtr.ai[MTR_AI_KW];
        assert_true(sh_meter(s, k)->mt.dev.mtr.cycles >= 2);
    }
    assert_true(*kw[0] == *kw[1]);                      /* one load, no variant */
    assert_true(*kw[2] != *kw[0] && *kw[3] != *kw[2]);  /* variants of it */
    assert_true(*kw[4] == *kw[6]);                      /* trunk 20's load */
    assert_true(fabsf(*kw[7] - *kw[4]) < 0.05f * fabsf(*kw[4])); /* its own: same scenario */
    char *ans = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&ans, &len);
    app_ctl_cmd_t cmd = {.verb = APP_CTL_SET};
    snprintf(cmd.name, sizeof cmd.name, "current");
    snprintf(cmd.value, sizeof cmd.value, "5");
    app_meter_cmd(sh_meter(s, 1), &cmd, f);
    app_meter_cmd(sh_meter(s, 7), &cmd, f);
    fclose(f);
    assert_non_null(strstr(ans, "error: set current: this meter runs its trunk's shared load"));
    assert_non_null(strstr(ans, "ok: current = 5"));
    free(ans);
    sh_free(s);
    free(w);
}

/* A site meter without NV (no nv_dir) still starts as a powered-up meter: the power-up
 * counted and its clock unset (RTC_Reset active), as one with NV does (DECISIONS M16). */
static void meters_without_nv_power_up(void **state)
{
    fx_t *f = *state;
    for (unsigned k = 0; k < sh_meters(f->s); k++) {
        const mtr_t *m = &sh_meter(f->s, k)->mt.dev.mtr;
        assert_int_equal(m->nv.power_ups, 1);
        assert_true(m->rtc_reset);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(meters_announce_through_router, setup, teardown),
        cmocka_unit_test_setup_teardown(global_who_is_finds_every_meter, setup, teardown),
        cmocka_unit_test_setup_teardown(local_who_is_stays_on_the_ip_network, setup, teardown),
        cmocka_unit_test_setup_teardown(read_property_through_router, setup, teardown),
        cmocka_unit_test_setup_teardown(who_is_router_names_both_trunks, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_network_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(router_device_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(meters_without_nv_power_up, setup, teardown),
        cmocka_unit_test(shared_load_per_trunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
