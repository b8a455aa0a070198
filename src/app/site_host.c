/*
 * The site's runtime (site_host.h): the router, its B/IP port, the trunks and their
 * meters. The router's port 0 is BACnet/IP; port k+1 is trunk k, where the router is
 * one more MS/TP master on the virtual wire.
 */
#include "site_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"

/* The router's queues, each port's unicasts apart from its broadcasts (which go only
 * when no unicast waits: net_router_port_bqueue). B/IP: the broadcasts hold an I-Am of
 * each of 10,000 meters (~45 octets a record) and more; a trunk's hold what waits for
 * its token (a flood of other trunks' I-Ams: ~800 of them). */
#define SH_BIP_QUEUE (256u * 1024u)
#define SH_BIP_BQUEUE (1024u * 1024u)
#define SH_TRUNK_QUEUE (16u * 1024u)
#define SH_TRUNK_BQUEUE (32u * 1024u)
#define SH_TRUNK_QUEUES (SH_TRUNK_QUEUE + SH_TRUNK_BQUEUE)

/* A load shared by the meters of one trunk on one scenario (sh_config_t.shared_load):
 * read once a slice, then each meter takes its own copy through its variant. */
typedef struct {
    sim_source_t *src;
    char path[512];
    unsigned trunk;
    mtr_frame_t buf[APP_FEED_MAX];
    uint8_t pulse[APP_FEED_MAX];
} sh_load_t;

typedef struct {
    app_meter_t am;
    run_opts_t o;      /* what persist.c reads of a meter's options: its NV file */
    char nv_path[512];
    sh_meter_t conf;
    char serial[OBJ_SERIAL_MAX + 1];
    char scenario[512];
    unsigned trunk;
    sh_load_t *load;   /* its trunk's shared load, or NULL: its own source */
} sh_node_t;

struct site_host {
    sh_config_t c;
    net_router_t *r;
    rdev_t *dev;        /* the router's own device */
    bip_t bip;
    bip_bbmd_t bbmd;
    sh_trunk_t *trunks;
    unsigned ntrunks, max_trunks;
    sh_node_t **meters;
    unsigned nmeters, max_meters;
    sh_load_t **loads;
    unsigned nloads;
    uint64_t now_us;    /* the site's clock */
    uint64_t produced;  /* sample sets fed to every meter */
    uint8_t *queues;    /* the router's port queues, one block */
    lx_nv_group_t nvg;  /* the meters' routine saves: one flush for all */
    uint64_t nvg_last_us;
    uint32_t bip_s;     /* the second bip_tick was last given */
};

/* The bus's clock starts at 1 s (sim_bus_new): the site's 0. */
#define BUS_T0_US 1000000u

static int bip_down(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    net_link_t l = bip_link(ctx);
    return l.send(l.ctx, dst, npdu, len);
}

/* The router's link to a trunk: its station's MS/TP link, whichever node it is. */
static int trunk_down(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    sh_trunk_t *t = ctx;
    net_link_t l = mstp_link(sim_bus_mstp(t->bus, t->node));
    return l.send(l.ctx, dst, npdu, len);
}

static int bip_roles(site_host_t *s, char *err, size_t cap)
{
    const sh_config_t *c = &s->c;
    if (c->bbmd) {
        bip_bbmd_init(&s->bbmd);
        s->bbmd.accept_fd = c->fd_accept;
        for (unsigned k = 0; k < c->nbdt; k++)
            if (bip_bdt_add(&s->bbmd, &c->bdt[k], c->bdt_mask[k]) < 0) {
                snprintf(err, cap, "the BDT holds %u entries at most", (unsigned)BIP_BDT_MAX);
                return -1;
            }
        bip_bbmd_attach(&s->bip, &s->bbmd);
    } else if (c->foreign && bip_register_foreign(&s->bip, &c->foreign_bbmd, c->foreign_ttl) < 0) {
        snprintf(err, cap, "foreign-device registration refused (TTL %u)", c->foreign_ttl);
        return -1;
    }
    bip_tick(&s->bip, 0);
    return 0;
}

site_host_t *sh_new(const sh_config_t *c, unsigned max_trunks, unsigned max_meters, char *err,
                    size_t cap)
{
    site_host_t *s = calloc(1, sizeof *s);
    if (!s || max_trunks + 1 > NET_MAX_PORTS) {
        snprintf(err, cap, s ? "%u trunks: the router has %u ports (NET_MAX_PORTS), one for B/IP"
                             : "out of memory", max_trunks, (unsigned)NET_MAX_PORTS);
        free(s);
        return NULL;
    }
    s->c = *c;
    s->r = calloc(1, sizeof *s->r);
    s->dev = calloc(1, sizeof *s->dev);
    s->trunks = calloc(max_trunks ? max_trunks : 1, sizeof *s->trunks);
    s->meters = calloc(max_meters ? max_meters : 1, sizeof *s->meters);
    s->loads = calloc(max_meters ? max_meters : 1, sizeof *s->loads);
    s->queues = malloc(SH_BIP_QUEUE + SH_BIP_BQUEUE + (size_t)max_trunks * SH_TRUNK_QUEUES);
    if (!s->r || !s->dev || !s->trunks || !s->meters || !s->loads || !s->queues) {
        snprintf(err, cap, "out of memory");
        sh_free(s);
        return NULL;
    }
    s->max_trunks = max_trunks;
    s->max_meters = max_meters;
    rdev_init(s->dev, s->r, c->instance, c->name);
    net_upper_t app = rdev_upper(s->dev);
    net_router_init(s->r, &app);
    net_link_t link = {.ctx = &s->bip, .send = bip_down, .max_npdu = BIP_MAX_NPDU};
    net_addr_t mac = {.len = 6};
    memcpy(mac.mac, c->self.octets, 6);
    if (net_router_add_port(s->r, &link, c->bip_net, &mac) != 0 ||
        net_router_port_queue(s->r, 0, s->queues, SH_BIP_QUEUE) < 0 ||
        net_router_port_bqueue(s->r, 0, s->queues + SH_BIP_QUEUE, SH_BIP_BQUEUE) < 0 ||
        (c->bip_rate && net_router_port_pace(s->r, 0, c->bip_rate, c->bip_burst) < 0)) {
        snprintf(err, cap, "B/IP network %u, pace %u/s burst %u: refused by the router",
                 c->bip_net, c->bip_rate, c->bip_burst);
        sh_free(s);
        return NULL;
    }
    net_upper_t up = net_router_port_upper(s->r, 0);
    bip_init(&s->bip, &c->port, &c->self, &c->broadcast, &up);
    rdev_port_bip(s->dev, 0, 100e6f, c->self.octets, c->ip_mask,
                  (uint16_t)(c->self.octets[4] << 8 | c->self.octets[5]),
                  c->bbmd ? RDEV_IP_BBMD : c->foreign ? RDEV_IP_FOREIGN : RDEV_IP_NORMAL);
    if (bip_roles(s, err, cap) < 0) {
        sh_free(s);
        return NULL;
    }
    return s;
}

void sh_free(site_host_t *s)
{
    if (!s)
        return;
    /* The group first: it unhooks the meters' files, which then close on their own. */
    if (lx_nv_group_pending(&s->nvg))
        lx_nv_group_flush(&s->nvg);
    lx_nv_group_free(&s->nvg);
    for (unsigned k = 0; k < s->nmeters; k++) {
        sh_node_t *n = s->meters[k];
        if (s->c.nv_dir)
            app_nv_close(&n->am);
        if (!n->load)
            sim_close(n->am.src);
        free(n);
    }
    for (unsigned k = 0; k < s->nloads; k++) {
        sim_close(s->loads[k]->src);
        free(s->loads[k]);
    }
    free(s->loads);
    for (unsigned k = 0; k < s->ntrunks; k++)
        sim_bus_free(s->trunks[k].bus);
    free(s->queues);
    free(s->meters);
    free(s->trunks);
    free(s->r);
    free(s->dev);
    free(s);
}

int sh_add_trunk(site_host_t *s, uint16_t net, uint32_t baud, uint8_t router_mac,
                 uint8_t max_master, uint8_t max_info_frames, char *err, size_t cap)
{
    if (s->ntrunks == s->max_trunks) {
        snprintf(err, cap, "more trunks than the %u planned", s->max_trunks);
        return -1;
    }
    sh_trunk_t *t = &s->trunks[s->ntrunks];
    *t = (sh_trunk_t){.net = net, .baud = baud, .first = s->nmeters};
    if (!(t->bus = sim_bus_new(baud, 0x5173ull + s->ntrunks))) {
        snprintf(err, cap, "network %u: %u baud is not an MS/TP rate", net, baud);
        return -1;
    }
    net_link_t link = {.ctx = t, .send = trunk_down, .max_npdu = MSTP_MAX_DATA};
    net_addr_t mac = {.len = 1, .mac = {router_mac}};
    int port = net_router_add_port(s->r, &link, net, &mac);
    mstp_config_t cfg;
    mstp_config_default(&cfg);
    cfg.mac = router_mac;
    cfg.max_master = max_master;
    cfg.max_info_frames = max_info_frames;
    net_upper_t up = net_router_port_upper(s->r, port < 0 ? 0 : (unsigned)port);
    uint8_t *q = s->queues + SH_BIP_QUEUE + SH_BIP_BQUEUE + (size_t)s->ntrunks * SH_TRUNK_QUEUES;
    if (port < 0 || (t->node = sim_bus_add_port(t->bus, &cfg, &up)) < 0 ||
        net_router_port_queue(s->r, (unsigned)port, q, SH_TRUNK_QUEUE) < 0 ||
        net_router_port_bqueue(s->r, (unsigned)port, q + SH_TRUNK_QUEUE, SH_TRUNK_BQUEUE) < 0 ||
        !rdev_port_mstp(s->dev, (unsigned)port, (float)baud, max_master, max_info_frames)) {
        snprintf(err, cap, "network %u: the router cannot take it (ports full, a duplicate "
                           "network, or MAC %u above Max_Master %u)", net, router_mac, max_master);
        sim_bus_free(t->bus);
        if (port >= 0)
            s->r->nports--; /* the port just added, never used */
        return -1;
    }
    return (int)s->ntrunks++;
}

static int nv_commit(void *ctx, bac_error_t *err)
{
    return app_nv_commit_write(ctx, err); /* MS/TP answers at once: synced at once */
}

static void nv_sync(void *ctx, bool force)
{
    app_meter_t *m = ctx;
    m->nvf.defer = !force && m->nvf.group != NULL;
    app_nv_sync(m, force);
    m->nvf.defer = false;
}

/* The load of n's trunk on n's scenario: found, or opened (NULL with err). */
static sh_load_t *shared_load(site_host_t *s, sh_node_t *n, char *err, size_t cap)
{
    for (unsigned k = s->nloads; k-- > 0 && s->loads[k]->trunk == n->trunk;)
        if (!strcmp(s->loads[k]->path, n->scenario))
            return s->loads[k];
    sh_load_t *l = calloc(1, sizeof *l);
    sim_err_t se = {{0}};
    if (!l) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (sim_open_scenario(&l->src, n->scenario, &se) < 0) {
        snprintf(err, cap, "%s", se.msg);
        free(l);
        return NULL;
    }
    snprintf(l->path, sizeof l->path, "%s", n->scenario);
    l->trunk = n->trunk;
    s->loads[s->nloads++] = l;
    return l;
}

static int open_node(site_host_t *s, sh_node_t *n, char *err, size_t cap)
{
    app_meter_t *m = &n->am;
    app_settings_t none = {{0}, {0}};
    sim_err_t se = {{0}};
    m->udp.fd = -1;
    m->nvf.fd = -1;
    if (s->c.shared_load && !n->conf.own_load) {
        if (!(n->load = shared_load(s, n, err, cap)))
            return -1;
        m->src = n->load->src;
        m->shared_src = true;
    } else if (sim_open_scenario(&m->src, n->conf.scenario, &se) < 0) {
        snprintf(err, cap, "%s", se.msg);
        return -1;
    }
    mtr_config_default(&m->cfg);
    sim_scenario_meter(m->src, &m->cfg);
    if (mtr_config_check(&m->cfg) != MTR_OK) {
        snprintf(err, cap, "%s: the [meter] settings are out of range", n->conf.scenario);
        return -1;
    }
    obj_identity_t id;
    obj_identity_default(&id, n->serial);
    meter_init(&m->mt, &id, &m->cfg, NULL);
    n->o = (run_opts_t){.serial = n->serial, .quiet = true, .nv_factory_reset = s->c.nv_factory_reset};
    m->opts = &n->o;
    if (s->c.nv_dir) {
        snprintf(n->nv_path, sizeof n->nv_path, "%s/%s.nv", s->c.nv_dir, n->serial);
        n->o.nv_path = n->nv_path;
        meter_set_nv(&m->mt, &(meter_nv_t){.ctx = m, .commit = nv_commit, .sync = nv_sync});
        if (app_nv_start(m, &none, (long)n->conf.instance) < 0) {
            snprintf(err, cap, "%s: NV refused (see above)", n->nv_path);
            return -1;
        }
    } else {
        obj_restart(&m->mt.dev, true); /* a power-up without NV: counted, RTC reset (M16) */
    }
    if (app_settings_commission(&m->mt.dev, &none, &m->cfg, sim_scenario_meter_given(m->src),
                                NULL) < 0) {
        snprintf(err, cap, "%s: the [meter] settings cannot be applied", n->conf.scenario);
        return -1;
    }
    /* The site file is the commissioning record of identity and link settings. */
    obj_identity_t *d = &m->mt.dev.id;
    d->instance = n->conf.instance;
    d->mac = n->conf.mac;
    d->max_master = n->conf.max_master;
    d->max_info_frames = n->conf.max_info_frames;
    d->baud = s->trunks[n->trunk].baud;
    m->mt.dev.writes++;
    obj_commit_settings(&m->mt.dev);
    if (s->c.nv_dir)
        app_nv_sync(m, false);
    app_meter_vary(m, n->conf.variant, 4100);
    return 0;
}

int sh_add_meter(site_host_t *s, const sh_meter_t *conf, char *err, size_t cap)
{
    if (s->ntrunks == 0 || s->nmeters == s->max_meters) {
        snprintf(err, cap, s->ntrunks ? "more meters than the %u planned" : "a meter before any trunk",
                 s->max_meters);
        return -1;
    }
    sh_node_t *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    n->conf = *conf;
    n->trunk = s->ntrunks - 1;
    snprintf(n->serial, sizeof n->serial, "%s", conf->serial);
    n->conf.serial = n->serial;
    snprintf(n->scenario, sizeof n->scenario, "%s", conf->scenario);
    n->conf.scenario = n->scenario;
    sh_trunk_t *t = &s->trunks[n->trunk];
    if (open_node(s, n, err, cap) < 0 || sim_bus_attach_meter(t->bus, &n->am.mt) < 0) {
        if (!err[0])
            snprintf(err, cap, "MAC %u does not fit on network %u", conf->mac, t->net);
        if (s->c.nv_dir && n->am.nvf.fd >= 0)
            app_nv_close(&n->am);
        if (!n->load)
            sim_close(n->am.src);
        free(n);
        return -1;
    }
    if (s->c.nv_dir)
        lx_nv_group_add(&s->nvg, &n->am.nvf); /* out of memory: it syncs on its own */
    t->count++;
    s->meters[s->nmeters] = n;
    return (int)s->nmeters++;
}

/* The router says who it is and which networks it reaches, on B/IP (the meters
 * announced themselves when they joined their wire). */
void sh_start(site_host_t *s)
{
    uint8_t npdu[BIP_MAX_NPDU];
    size_t n = rdev_i_am(s->dev, npdu, sizeof npdu);
    if (n)
        bip_send(&s->bip, NULL, npdu, n);
    uint8_t list[2 * 240];
    unsigned k = 1;
    while (k < s->r->nports) { /* as many DNETs as fit a message */
        net_msg_t m = {.type = NET_MSG_I_AM_ROUTER, .list = list};
        for (; k < s->r->nports && m.count < 240; k++, m.count++) {
            list[2 * m.count] = (uint8_t)(s->r->ports[k].net >> 8);
            list[2 * m.count + 1] = (uint8_t)s->r->ports[k].net;
        }
        m.list_len = 2u * m.count;
        bac_buf_t w;
        bac_buf_writer(&w, npdu, sizeof npdu);
        bac_npdu_t hdr = {.network_msg = true};
        if (net_msg_encode(&w, &hdr, &m) >= 0)
            bip_send(&s->bip, NULL, npdu, bac_pos(&w));
    }
}

void sh_bip_receive(site_host_t *s, const bip_addr_t *from, const uint8_t *data, size_t len)
{
    bip_receive(&s->bip, from, data, len);
}

/* One slice of n sample sets to every meter: each shared load read once, copied to
 * each of its meters. 1: a source ended or failed (rc in *rc). */
int sh_feed_slice(site_host_t *s, size_t n, int *rc)
{
    mtr_frame_t x[APP_FEED_MAX];
    unsigned cycles;
    for (unsigned k = 0; k < s->nloads; k++) {
        sh_load_t *l = s->loads[k];
        sim_err_t err = {{0}};
        if (sim_read(l->src, l->buf, l->pulse, n, &err) != (long)n) {
            fprintf(stderr, "s4100 site: %s: %s\n", l->path, err.msg[0] ? err.msg : "ended");
            *rc = 1;
            return 1;
        }
    }
    for (unsigned k = 0; k < s->nmeters; k++) {
        sh_node_t *m = s->meters[k];
        if (!m->load) {
            if (app_meter_feed(&m->am, n, 0, &cycles, rc))
                return 1;
            continue;
        }
        memcpy(x, m->load->buf, n * sizeof x[0]);
        app_meter_feed_frames(&m->am, x, m->load->pulse, n, 0, &cycles);
    }
    return 0;
}

/* Samples owed up to the site's clock, in whole slices. Whole: a meter's state comes
 * from RAM once a slice, and 64-set slices cost twice what 256-set ones do
 * (bench_site). The samples lag the clock by < 0.1 s. */
static int feed(site_host_t *s, int *rc)
{
    uint64_t due = s->now_us * MTR_FS / 1000000u;
    while (due - s->produced >= APP_FEED_MAX || (due > s->produced && s->nmeters == 0)) {
        size_t n = due - s->produced > APP_FEED_MAX ? APP_FEED_MAX : (size_t)(due - s->produced);
        if (sh_feed_slice(s, n, rc))
            return 1;
        s->produced += n;
    }
    return 0;
}

/* One millisecond slice: the trunks run to the site's clock, then the router offers
 * what waits in its queues to links that now have room. */
static void run_to(site_host_t *s, uint64_t now_us)
{
    for (unsigned k = 0; k < s->ntrunks; k++) {
        sim_bus_t *b = s->trunks[k].bus;
        uint64_t to = BUS_T0_US + now_us, at = sim_bus_now_us(b);
        if (to > at)
            sim_bus_run(b, to - at);
    }
    net_router_poll(s->r, (uint32_t)(now_us / 1000u));
    uint32_t sec = (uint32_t)(now_us / 1000000u);
    if (sec != s->bip_s) {
        bip_tick(&s->bip, sec);
        s->bip_s = sec;
    }
}

int sh_advance(site_host_t *s, uint64_t us, int *rc)
{
    uint64_t end = s->now_us + us;
    while (s->now_us < end) {
        uint64_t step = end - s->now_us > 1000u ? 1000u : end - s->now_us;
        s->now_us += step;
        if (feed(s, rc))
            return 1;
        run_to(s, s->now_us);
    }
    /* Twice a second, one durable write for every meter's routine saves. */
    if (s->c.nv_dir && s->now_us - s->nvg_last_us >= 500000u) {
        for (unsigned k = 0; k < s->nmeters; k++)
            nv_sync(&s->meters[k]->am, false);
        if (lx_nv_group_pending(&s->nvg) && lx_nv_group_flush(&s->nvg) < 0)
            fprintf(stderr, "s4100 site: NV group flush failed: each save syncs on its own now\n");
        s->nvg_last_us = s->now_us;
    }
    return 0;
}

void sh_sync(site_host_t *s, bool force)
{
    for (unsigned k = 0; s->c.nv_dir && k < s->nmeters; k++)
        nv_sync(&s->meters[k]->am, force);
    if (s->c.nv_dir && lx_nv_group_pending(&s->nvg))
        lx_nv_group_flush(&s->nvg);
}

uint64_t sh_now_us(const site_host_t *s) { return s->now_us; }
unsigned sh_meters(const site_host_t *s) { return s->nmeters; }
app_meter_t *sh_meter(site_host_t *s, unsigned k) { return k < s->nmeters ? &s->meters[k]->am : NULL; }
const sh_meter_t *sh_meter_conf(const site_host_t *s, unsigned k)
{
    return k < s->nmeters ? &s->meters[k]->conf : NULL;
}
unsigned sh_trunks(const site_host_t *s) { return s->ntrunks; }
unsigned sh_loads(const site_host_t *s) { return s->nloads; }
const sh_trunk_t *sh_trunk(const site_host_t *s, unsigned k) { return k < s->ntrunks ? &s->trunks[k] : NULL; }
unsigned sh_trunk_of(const site_host_t *s, unsigned meter) { return s->meters[meter]->trunk; }
net_router_t *sh_router(site_host_t *s) { return s->r; }
rdev_t *sh_rdev(site_host_t *s) { return s->dev; }
bip_t *sh_bip(site_host_t *s) { return &s->bip; }
