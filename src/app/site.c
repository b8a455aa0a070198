/*
 * s4100 site FILE: a building in one process. The site file (site_cfg.h) becomes a site
 * host (site_host.h): a router on a UDP socket, trunks on virtual buses, meters on
 * them. This file is the program around it: options, the clock, the socket, the
 * control socket and the trunks' captures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "app.h"
#include "control.h"
#include "site_cfg.h"
#include "site_host.h"

#define SITE_MAX_PTY 16

typedef struct {
    const char *file, *control, *bind, *broadcast;
    long port;            /* -1: the file's */
    long bip_rate;        /* NPDUs/s to B/IP; 0: unpaced */
    double time_scale;
    bool virtual_time, quiet, describe, check, nv_factory_reset;
    unsigned seconds;     /* 0: until stopped */
    const char *pcap[16]; /* "NET=FILE" */
    unsigned npcap;
} site_opts_t;

/* A trunk bridged to a pty or serial port. */
typedef struct {
    int fd;
    unsigned trunk;
    uint64_t inj_end_us;  /* the bus time the last octets read end on the wire */
    uint32_t rx, tx, errors;
    lx_line_t line;       /* the line's octets gathered into whole frames */
    void *run;            /* the site_run_t (for the bus) */
} site_pty_t;

typedef struct {
    site_host_t *h;
    const site_t *cfg;
    const site_opts_t *o;
    int fd;                   /* the B/IP socket */
    app_ctl_server_t *ctl;
    double t0;                /* wall time of site time 0 (real time) */
    uint64_t target_us;       /* virtual time: what the pending advances ask for */
    unsigned advance_conn;
    double advance_s;
    lx_pcap_t *pcap[16];
    site_pty_t pty[SITE_MAX_PTY];
    unsigned npty;
} site_run_t;

static void usage(FILE *f)
{
    fputs("usage: s4100 site FILE [options]\n"
          "Runs a building: a BACnet router joining BACnet/IP and the MS/TP trunks of meters\n"
          "that FILE describes (docs/site.md; examples in sites/).\n"
          "  --describe             print the topology in words and exit\n"
          "  --check                check the file and exit (status 0: it loads)\n"
          "  --bip-port N           the router's UDP port (default: the file's, else 47808)\n"
          "  --bind ADDR            its local address (default: the file's, else 0.0.0.0)\n"
          "  --broadcast ADDR[:PORT] where its broadcasts go (default: the file's)\n"
          "  --bip-rate N           NPDUs a second the router sends to BACnet/IP at most\n"
          "                         (default 2000, bursts of 100; 0: unpaced), so a flood of\n"
          "                         I-Ams reaches a head end paced, not dropped by its socket\n"
          "  --time-scale X         the site's clock X times faster than wall time, 0.1..100\n"
          "  --virtual-time         the clock moves only on 's4100 ctl advance SECONDS'\n"
          "  --seconds N            stop after N seconds of site time\n"
          "  --control PATH         a Unix socket for 's4100 ctl': status, meters,\n"
          "                         'meter K status|display|key|power|set', advance\n"
          "  --pcap NET=FILE        capture MS/TP trunk NET's frames (link type 165)\n"
          "  --nv-factory-reset     every meter's NV file discarded first\n"
          "  --quiet                no status line\n",
          f);
}

static int parse_opts(int argc, char **argv, site_opts_t *o)
{
    static const struct option opts[] = {
        {"describe", no_argument, 0, 'd'},     {"check", no_argument, 0, 'k'},
        {"bip-port", required_argument, 0, 'p'}, {"bind", required_argument, 0, 'b'},
        {"broadcast", required_argument, 0, 'B'}, {"time-scale", required_argument, 0, 't'},
        {"virtual-time", no_argument, 0, 'v'}, {"seconds", required_argument, 0, 's'},
        {"control", required_argument, 0, 'c'}, {"pcap", required_argument, 0, 'P'},
        {"nv-factory-reset", no_argument, 0, 'F'}, {"quiet", no_argument, 0, 'q'},
        {"bip-rate", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    double v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->describe = true; break;
        case 'k': o->check = true; break;
        case 'p':
            if (app_parse_number("site", "--bip-port", optarg, &v) < 0 || v < 1 || v > 65535 || v != floor(v)) {
                fprintf(stderr, "s4100 site: --bip-port %s: a UDP port 1..65535\n", optarg);
                return 2;
            }
            o->port = (long)v;
            break;
        case 'r':
            if (app_parse_number("site", "--bip-rate", optarg, &v) < 0 || v < 0 || v > 1000000 || v != floor(v)) {
                fprintf(stderr, "s4100 site: --bip-rate %s: NPDUs a second, 0..1000000 (0: unpaced)\n", optarg);
                return 2;
            }
            o->bip_rate = (long)v;
            break;
        case 'b': o->bind = optarg; break;
        case 'B': o->broadcast = optarg; break;
        case 't':
            if (app_parse_number("site", "--time-scale", optarg, &v) < 0 || !(v >= 0.1 && v <= 100)) {
                fprintf(stderr, "s4100 site: --time-scale %s: a number 0.1..100\n", optarg);
                return 2;
            }
            o->time_scale = v;
            break;
        case 'v': o->virtual_time = true; break;
        case 's':
            if (app_parse_number("site", "--seconds", optarg, &v) < 0 || v < 1 || v > 1e8 || v != floor(v)) {
                fprintf(stderr, "s4100 site: --seconds %s: a whole number of seconds, 1..1e8\n", optarg);
                return 2;
            }
            o->seconds = (unsigned)v;
            break;
        case 'c': o->control = optarg; break;
        case 'P':
            if (o->npcap == 16 || !strchr(optarg, '=')) {
                fprintf(stderr, "s4100 site: --pcap %s: expected NET=FILE (at most 16)\n", optarg);
                return 2;
            }
            o->pcap[o->npcap++] = optarg;
            break;
        case 'F': o->nv_factory_reset = true; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); return 1;
        default:
            fprintf(stderr, "s4100 site: %s: unknown option or missing value (s4100 site --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "s4100 site: %s (s4100 site --help)\n",
                optind >= argc ? "which site file?" : "one site file only");
        return 2;
    }
    o->file = argv[optind];
    if (o->virtual_time && !o->control) {
        fputs("s4100 site: --virtual-time needs --control (the clock moves on 'ctl advance')\n", stderr);
        return 2;
    }
    return 0;
}

/* "a.b.c.d[:port]" over a default port. */
static bool parse_addr(const char *s, uint16_t dflt_port, bip_addr_t *out)
{
    char ip[32];
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    long port = dflt_port;
    if (n >= sizeof ip)
        return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    if (colon) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535)
            return false;
    }
    return bip_addr_parse(ip, (uint16_t)port, out);
}

static void addr_of(const site_addr_t *a, bip_addr_t *out)
{
    memcpy(out->octets, a->ip, 4);
    out->octets[4] = (uint8_t)(a->port >> 8);
    out->octets[5] = (uint8_t)a->port;
}

/* A profile name is scenarios/NAME.ini next to the default scenario. */
static void scenario_of(const site_meter_t *m, char *out, size_t cap)
{
    if (m->scenario) {
        snprintf(out, cap, "%s", m->scenario);
    } else if (site_profile_is_path(m->profile)) {
        snprintf(out, cap, "%s", m->profile);
    } else {
        const char *def = app_default_scenario();
        const char *slash = strrchr(def, '/');
        snprintf(out, cap, "%.*s%s.ini", slash ? (int)(slash - def + 1) : 0, def, m->profile);
    }
}

static int open_pty(site_run_t *r, const site_trunk_t *tr, unsigned t);

static site_host_t *build(site_run_t *r, const site_t *cfg, const site_opts_t *o, int fd,
                          const bip_addr_t *self, const bip_addr_t *bcast, const uint8_t mask[4])
{
    bip_addr_t bdt[SITE_MAX_BDT];
    uint8_t bdt_mask[SITE_MAX_BDT][4];
    for (unsigned k = 0; k < cfg->nbdt; k++) {
        addr_of(&cfg->bdt[k].addr, &bdt[k]);
        memcpy(bdt_mask[k], cfg->bdt[k].mask, 4);
    }
    sh_config_t c = {.instance = cfg->router_instance, .name = cfg->name, .bip_net = cfg->bip_net,
                     .self = *self, .broadcast = *bcast,
                     .port = {.ctx = (void *)(intptr_t)fd, .send = lx_udp_send},
                     .nv_dir = cfg->nv_dir, .nv_factory_reset = o->nv_factory_reset,
                     .shared_load = cfg->shared_load,
                     .bip_rate = (uint32_t)o->bip_rate, .bip_burst = 100,
                     .ip_mask = {mask[0], mask[1], mask[2], mask[3]},
                     .bbmd = cfg->bbmd, .fd_accept = cfg->fd_accept, .bdt = bdt,
                     .bdt_mask = (const uint8_t(*)[4])bdt_mask, .nbdt = cfg->nbdt,
                     .foreign = cfg->foreign, .foreign_ttl = cfg->foreign_ttl};
    addr_of(&cfg->foreign_bbmd, &c.foreign_bbmd);
    if (cfg->nv_dir && mkdir(cfg->nv_dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "s4100 site: NV directory %s: %s\n", cfg->nv_dir, strerror(errno));
        return NULL;
    }
    char why[300];
    site_host_t *h = sh_new(&c, cfg->ntrunks, cfg->nmeters, why, sizeof why);
    if (!h) {
        fprintf(stderr, "s4100 site: %s: %s\n", o->file, why);
        return NULL;
    }
    char err[400] = "", scen[600];
    for (unsigned t = 0; t < cfg->ntrunks; t++) {
        const site_trunk_t *tr = &cfg->trunks[t];
        if (sh_add_trunk(h, tr->net, tr->baud, tr->router_mac, tr->max_master, tr->max_info_frames,
                         err, sizeof err) < 0) {
            fprintf(stderr, "s4100 site: %s:%d: %s\n", o->file, tr->line, err);
            sh_free(h);
            return NULL;
        }
        for (unsigned k = 0; k < tr->nmeters; k++) {
            const site_meter_t *m = &tr->meters[k];
            scenario_of(m, scen, sizeof scen);
            sh_meter_t sm = {.mac = m->mac, .max_master = m->max_master,
                             .max_info_frames = m->max_info_frames, .instance = m->instance,
                             .serial = m->serial, .scenario = scen,
                             .variant = m->vary ? m->vary_seed : 0,
                             .own_load = m->scenario != NULL};
            err[0] = '\0';
            if (sh_add_meter(h, &sm, err, sizeof err) < 0) {
                fprintf(stderr, "s4100 site: %s:%d: meter %u on network %u: %s\n", o->file, m->line,
                        m->mac, tr->net, err);
                sh_free(h);
                return NULL;
            }
        }
        r->h = h;
        if (tr->pty && open_pty(r, tr, t) < 0) {
            sh_free(h);
            r->h = NULL;
            return NULL;
        }
    }
    sh_start(h);
    return h;
}

/* ---- control ------------------------------------------------------------------------ */

static void status_json(site_run_t *r, FILE *f)
{
    net_router_t *rt = sh_router(r->h);
    bip_t *b = sh_bip(r->h);
    fprintf(f, "{\"site\":\"%s\",\"router\":{\"device_id\":%u,\"ports\":%u,\"forwarded\":%u,"
               "\"delivered\":%u,\"dropped\":%u,\"rejected\":%u},\"bip\":{\"rx\":%u,\"tx\":%u,"
               "\"dropped\":%u},\"trunks\":%u,\"meters\":%u,\"time\":{\"virtual\":%s,\"site_s\":%.3f}}\n",
            r->cfg->name, r->cfg->router_instance, rt->nports, rt->stats.forwarded,
            rt->stats.delivered, rt->stats.dropped, rt->stats.rejected, b->rx, b->tx, b->dropped,
            sh_trunks(r->h), sh_meters(r->h), r->o->virtual_time ? "true" : "false",
            (double)sh_now_us(r->h) / 1e6);
}

static void meter_status(site_run_t *r, unsigned k, FILE *f)
{
    app_meter_t *m = sh_meter(r->h, k);
    const sh_trunk_t *t = sh_trunk(r->h, sh_trunk_of(r->h, k));
    fprintf(f, "{\"meter\":%u,\"network\":%u,\"mac\":%u,", k + 1, t->net, m->mt.dev.id.mac);
    app_meter_json_state(m, f);
    app_meter_json_tail(m, f);
}

static void cmd_meters(site_run_t *r, FILE *f)
{
    unsigned n = sh_meters(r->h);
    fprintf(f, "ok: %u meter%s\n", n, n == 1 ? "" : "s");
    for (unsigned k = 0; k < n; k++) {
        app_meter_t *m = sh_meter(r->h, k);
        fprintf(f, "%u network %u mac %u device %u serial %s %s %.3f kW\n", k + 1,
                sh_trunk(r->h, sh_trunk_of(r->h, k))->net, m->mt.dev.id.mac, m->mt.dev.id.instance,
                m->mt.dev.id.serial, m->mt.powered ? "powered" : "off", (double)m->mt.dev.mtr.ai[MTR_AI_KW]);
    }
}

static bool cmd_advance(site_run_t *r, const app_ctl_cmd_t *c, unsigned conn, FILE *f)
{
    if (!r->o->virtual_time) {
        fputs("error: advance: this site runs in real time (start it with --virtual-time)\n", f);
        return false;
    }
    if (r->advance_conn) {
        fputs("error: advance: another advance is still running\n", f);
        return false;
    }
    r->advance_s = c->seconds;
    r->target_us += (uint64_t)llround(c->seconds * 1e6);
    r->advance_conn = conn;
    return true;
}

static void on_command(void *ctx, app_ctl_server_t *srv, unsigned conn, const char *line)
{
    site_run_t *r = ctx;
    char *ans = NULL, err[256];
    size_t len = 0;
    FILE *f = open_memstream(&ans, &len);
    app_ctl_cmd_t c;
    bool pending = false;
    unsigned n = sh_meters(r->h);
    if (!f) {
        app_ctl_server_reply(srv, conn, "error: out of memory\n");
        return;
    }
    if (app_ctl_parse(line, &c, err, sizeof err) < 0) {
        fprintf(f, "error: %s\n", err);
    } else if (c.meter > n) {
        fprintf(f, "error: meter %u: this site has %u meter%s (1..%u; 'meters' lists them)\n",
                c.meter, n, n == 1 ? "" : "s", n);
    } else if (c.verb == APP_CTL_STATUS) {
        if (c.meter)
            meter_status(r, c.meter - 1, f);
        else
            status_json(r, f);
    } else if (c.verb == APP_CTL_METERS) {
        cmd_meters(r, f);
    } else if (c.verb == APP_CTL_HELP) {
        fprintf(f, "ok: commands ('meter K' before one names meter K of 'meters'):\n%s", app_ctl_help);
    } else if (c.verb == APP_CTL_ADVANCE) {
        pending = cmd_advance(r, &c, conn, f);
    } else if (!c.meter) {
        fputs("error: which meter? 'meter K CMD' (K from 'meters')\n", f);
    } else {
        app_meter_t *m = sh_meter(r->h, c.meter - 1);
        app_meter_cmd(m, &c, f);
        if (m->opts && m->opts->nv_path)
            app_nv_sync(m, false); /* a panel setting is durable before its answer */
    }
    fclose(f);
    if (!pending)
        app_ctl_server_reply(srv, conn, ans ? ans : "error: out of memory\n");
    free(ans);
}

/* ---- the loop ----------------------------------------------------------------------- */

static void pcap_frame(void *ctx, uint64_t t_us, const uint8_t *octets, size_t n)
{
    lx_pcap_frame(ctx, t_us, octets, n);
}

static int open_pcaps(site_run_t *r)
{
    char err[300];
    for (unsigned k = 0; k < r->o->npcap; k++) {
        const char *spec = r->o->pcap[k], *eq = strchr(spec, '=');
        char *end;
        long net = strtol(spec, &end, 10);
        unsigned t = 0;
        while (t < sh_trunks(r->h) && sh_trunk(r->h, t)->net != net)
            t++;
        if (end != eq || t == sh_trunks(r->h)) {
            fprintf(stderr, "s4100 site: --pcap %s: no MS/TP trunk with that network number\n", spec);
            return -1;
        }
        if (!(r->pcap[k] = lx_pcap_open(eq + 1, err, sizeof err))) {
            fprintf(stderr, "s4100 site: --pcap %s\n", err);
            return -1;
        }
        sim_bus_monitor(sh_trunk(r->h, t)->bus, pcap_frame, r->pcap[k]);
    }
    return 0;
}

/* ---- trunks on a real line -------------------------------------------------------
 * The trunk's wire stays the virtual bus; a bridge joins it to the line: every frame a
 * station of ours starts goes out to the line at once, and what the line brings in is
 * put on the bus as a transmission at the trunk's baud, after the one before it. The
 * bus runs on the wall clock, so this needs real time at scale 1. */

static void pty_write(void *ctx, const uint8_t *octets, size_t n)
{
    site_pty_t *p = ctx;
    if (write(p->fd, octets, n) == (ssize_t)n)
        p->tx++;
    else
        p->errors++;
}

static int open_pty(site_run_t *r, const site_trunk_t *tr, unsigned t)
{
    const site_opts_t *o = r->o;
    char err[300];
    if (o->virtual_time || o->time_scale != 1.0) {
        fprintf(stderr, "s4100 site: %s:%d: network %u is on %s: a real line needs real time "
                        "(no --virtual-time, --time-scale 1)\n", o->file, tr->line, tr->net, tr->pty);
        return -1;
    }
    if (r->npty == SITE_MAX_PTY) {
        fprintf(stderr, "s4100 site: %s:%d: at most %u trunks on a pty or serial port\n", o->file,
                tr->line, SITE_MAX_PTY);
        return -1;
    }
    int fd = lx_serial_open(tr->pty, tr->baud, NULL, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "s4100 site: %s:%d: network %u: %s\n", o->file, tr->line, tr->net, err);
        return -1;
    }
    /* Octets as they come: a pty has no framing errors to mark. */
    struct termios tio;
    if (tcgetattr(fd, &tio) == 0) {
        tio.c_iflag &= ~(tcflag_t)(PARMRK | INPCK);
        tcsetattr(fd, TCSANOW, &tio);
    }
    unsigned k = r->npty++;
    r->pty[k].fd = fd;
    r->pty[k].trunk = t;
    r->pty[k].run = r;
    sim_bus_tap(sh_trunk(r->h, t)->bus, pty_write, &r->pty[k]);
    return 0;
}

/* A frame from the line onto the trunk, after what the line gave before it: its end
 * rounded up, since the bus times octets finer than a microsecond and a frame starting
 * before the last one ended would collide with it. */
static void pty_inject(void *ctx, const uint8_t *octets, size_t n)
{
    site_pty_t *p = ctx;
    site_run_t *r = p->run;
    const sh_trunk_t *t = sh_trunk(r->h, p->trunk);
    uint64_t now = sim_bus_now_us(t->bus);
    uint64_t at = p->inj_end_us > now ? p->inj_end_us : now;
    sim_bus_inject(t->bus, at, octets, n);
    p->inj_end_us = at + ((uint64_t)n * 10u * 1000000u + t->baud - 1u) / t->baud;
}

static uint64_t wall_us(void)
{
    return (uint64_t)(lx_now_s() * 1e6);
}

static void serve_pty(site_run_t *r, unsigned k)
{
    uint8_t buf[512];
    ssize_t n;
    site_pty_t *p = &r->pty[k];
    while ((n = read(p->fd, buf, sizeof buf)) > 0) {
        lx_line_push(&p->line, buf, (size_t)n, wall_us(), pty_inject, p);
        p->rx += (uint32_t)n;
    }
}

/* Milliseconds until a partial frame from a line is due to pass on as it is (-1:
 * none held), after passing on those that are. */
static int expire_ptys(site_run_t *r)
{
    uint64_t next = UINT64_MAX;
    for (unsigned k = 0; k < r->npty; k++) {
        uint64_t d = lx_line_expire(&r->pty[k].line, wall_us(), LX_LINE_ABORT_US, pty_inject,
                                    &r->pty[k]);
        next = d < next ? d : next;
    }
    return next == UINT64_MAX ? -1 : (int)(next / 1000u) + 1;
}

static void serve_bip(site_run_t *r)
{
    uint8_t buf[LX_UDP_DGRAM];
    bip_addr_t from;
    long n;
    for (int k = 0; k < 256 && (n = lx_udp_recv(r->fd, &from, buf, sizeof buf)) > 0; k++)
        sh_bip_receive(r->h, &from, buf, (size_t)n);
}

/* Run the site's clock towards where it should be, a few milliseconds of wall time at
 * most, so datagrams and commands are served in between. 1: stop. */
static int catch_up(site_run_t *r, int *rc)
{
    const site_opts_t *o = r->o;
    double start = lx_now_s();
    uint64_t due = o->virtual_time ? r->target_us
                                   : (uint64_t)((start - r->t0) * o->time_scale * 1e6);
    if (o->seconds && due > (uint64_t)o->seconds * 1000000u)
        due = (uint64_t)o->seconds * 1000000u;
    while (sh_now_us(r->h) < due) {
        uint64_t step = due - sh_now_us(r->h);
        if (step > 2000)
            step = 2000;
        if (sh_advance(r->h, step, rc))
            return 1;
        if (lx_now_s() - start > 0.005)
            break;
    }
    if (o->seconds && sh_now_us(r->h) >= (uint64_t)o->seconds * 1000000u)
        return 1;
    return 0;
}

static void advanced(site_run_t *r)
{
    char ans[128];
    snprintf(ans, sizeof ans, "ok: advanced %g s (site time %.3f s)\n", r->advance_s,
             (double)sh_now_us(r->h) / 1e6);
    sh_sync(r->h, false);
    app_ctl_server_reply(r->ctl, r->advance_conn, ans);
    r->advance_conn = 0;
}

static void status_line(site_run_t *r)
{
    net_router_t *rt = sh_router(r->h);
    bip_t *b = sh_bip(r->h);
    printf("s4100 site: t=%.0f s, %u meters on %u trunks, B/IP rx %u tx %u, routed %u, "
           "dropped %u, rejected %u\n", (double)sh_now_us(r->h) / 1e6, sh_meters(r->h),
           sh_trunks(r->h), b->rx, b->tx, rt->stats.forwarded, rt->stats.dropped, rt->stats.rejected);
    fflush(stdout);
}

static int loop(site_run_t *r)
{
    int sfd = lx_signals_open(), rc = 0;
    if (sfd < 0) {
        perror("s4100 site: signalfd");
        return 1;
    }
    struct pollfd pf[2 + SITE_MAX_PTY + APP_CTL_POLLFDS];
    double last_status = lx_now_s();
    r->t0 = lx_now_s();
    for (;;) {
        if (catch_up(r, &rc))
            break;
        if (r->advance_conn && sh_now_us(r->h) >= r->target_us)
            advanced(r);
        pf[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
        pf[1] = (struct pollfd){.fd = r->fd, .events = POLLIN};
        for (unsigned k = 0; k < r->npty; k++)
            pf[2 + k] = (struct pollfd){.fd = r->pty[k].fd, .events = POLLIN};
        struct pollfd *cpf = pf + 2 + r->npty;
        int nctl = r->ctl ? app_ctl_server_pollfds(r->ctl, cpf, APP_CTL_POLLFDS) : 0;
        bool behind = r->o->virtual_time ? sh_now_us(r->h) < r->target_us : true;
        int wait = behind ? 1 : 1000, held = expire_ptys(r);
        if (held >= 0 && held < wait)
            wait = held;
        if (poll(pf, (nfds_t)(2 + r->npty + nctl), wait) < 0 && errno != EINTR)
            break;
        double now = lx_now_s();
        if (pf[0].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) > 0) {
                if (!r->o->quiet)
                    printf("s4100 site: stopping on signal %u\n", si.ssi_signo);
                break;
            }
        }
        if (pf[1].revents & POLLIN)
            serve_bip(r);
        for (unsigned k = 0; k < r->npty; k++)
            if (pf[2 + k].revents & POLLIN)
                serve_pty(r, k);
        if (r->ctl)
            app_ctl_server_service(r->ctl, cpf, nctl, now, on_command, r);
        if (!r->o->quiet && now - last_status >= 10.0) {
            status_line(r);
            last_status = now;
        }
    }
    close(sfd);
    return rc;
}

/* The address this host's packets toward ip leave from (a UDP connect routes without
 * sending anything; a broadcast address needs SO_BROADCAST to be routed). */
static bool addr_toward(const uint8_t ip[4], uint16_t port, uint8_t out[4])
{
    int s = socket(AF_INET, SOCK_DGRAM, 0), on = 1;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)}, me;
    socklen_t len = sizeof me;
    memcpy(&to.sin_addr, ip, 4);
    bool ok = s >= 0 && setsockopt(s, SOL_SOCKET, SO_BROADCAST, &on, sizeof on) == 0 &&
              connect(s, (struct sockaddr *)&to, sizeof to) == 0 &&
              getsockname(s, (struct sockaddr *)&me, &len) == 0 && me.sin_addr.s_addr != 0;
    if (s >= 0)
        close(s);
    if (ok)
        memcpy(out, &me.sin_addr, 4);
    return ok;
}

/* Whether ip is one of this host's addresses; its interface's mask into mask. */
static bool local_addr(const uint8_t ip[4], uint8_t mask[4])
{
    struct ifaddrs *ifs, *i;
    bool found = false;
    if (getifaddrs(&ifs) < 0)
        return false;
    for (i = ifs; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_netmask && i->ifa_addr->sa_family == AF_INET &&
            !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, 4)) {
            memcpy(mask, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, 4);
            found = true;
        }
    freeifaddrs(ifs);
    return found;
}

/* Our own address as peers know it: what the Network_Port shows, what a BBMD's peers and
 * foreign devices send to, and how our own broadcasts heard back are told apart. Bound
 * to one address, that one; bound to all (which broadcasts need): a BBMD finds itself
 * among the host's addresses in its BDT, a foreign device takes the address its packets
 * to its BBMD leave from, and a plain node the one its broadcasts leave from. */
static bool own_address(const site_t *cfg, const bip_addr_t *bcast, bip_addr_t *self, uint8_t mask[4])
{
    uint8_t *ip = self->octets;
    memcpy(mask, (uint8_t[4]){255, 255, 255, 0}, 4);
    if (ip[0] || ip[1] || ip[2] || ip[3]) {
        local_addr(ip, mask);
        return true;
    }
    if (cfg->bbmd) {
        for (unsigned k = 0; k < cfg->nbdt; k++)
            if (cfg->bdt[k].addr.port == (self->octets[4] << 8 | self->octets[5]) &&
                local_addr(cfg->bdt[k].addr.ip, mask)) {
                memcpy(ip, cfg->bdt[k].addr.ip, 4);
                return true;
            }
        return false;
    }
    if (cfg->foreign)
        return addr_toward(cfg->foreign_bbmd.ip, cfg->foreign_bbmd.port, ip) && (local_addr(ip, mask), true);
    if (addr_toward(bcast->octets, (uint16_t)(bcast->octets[4] << 8 | bcast->octets[5]), ip))
        local_addr(ip, mask);
    return true; /* a plain node without a route to its broadcast address stays 0.0.0.0 */
}

static int run_site(const site_t *cfg, const site_opts_t *o)
{
    char msg[300], bind_ip[24];
    bip_addr_t self;
    uint16_t port = (uint16_t)(o->port > 0 ? o->port : cfg->bind.port);
    if (o->bind)
        snprintf(bind_ip, sizeof bind_ip, "%s", o->bind);
    else
        snprintf(bind_ip, sizeof bind_ip, "%u.%u.%u.%u", cfg->bind.ip[0], cfg->bind.ip[1],
                 cfg->bind.ip[2], cfg->bind.ip[3]);
    if (!bip_addr_parse(bind_ip, port, &self)) {
        fprintf(stderr, "s4100 site: --bind %s: not an IPv4 address\n", bind_ip);
        return 2;
    }
    bip_addr_t bcast;
    uint8_t mask[4];
    addr_of(&cfg->broadcast, &bcast);
    if (o->broadcast && !parse_addr(o->broadcast, port, &bcast)) {
        fprintf(stderr, "s4100 site: --broadcast %s: expected ADDR or ADDR:PORT\n", o->broadcast);
        return 2;
    }
    if (!own_address(cfg, &bcast, &self, mask)) {
        fprintf(stderr, "s4100 site: %s: a %s must know its own address: bind it to one (bind = "
                        "A.B.C.D:PORT) or %s\n", o->file, cfg->bbmd ? "BBMD" : "foreign device",
                cfg->bbmd ? "list this host's address and port in its bdt" : "make its BBMD reachable");
        return 2;
    }
    if (cfg->bbmd && strcmp(bind_ip, "0.0.0.0") && !o->quiet)
        fprintf(stderr, "s4100 site: warning: the BBMD is bound to %s alone, so it hears no "
                        "broadcast of its subnet (bind 0.0.0.0 to hear them)\n", bind_ip);
    int fd = lx_udp_open(bind_ip, port, msg, sizeof msg);
    if (fd < 0) {
        fprintf(stderr, "s4100 site: %s\n", msg);
        return 1;
    }
    site_run_t r = {.cfg = cfg, .o = o, .fd = fd};
    int rc = 1;
    if (!(r.h = build(&r, cfg, o, fd, &self, &bcast, mask)))
        goto out;
    if (open_pcaps(&r) < 0)
        goto out;
    if (o->control && (!(r.ctl = malloc(sizeof *r.ctl)) ||
                       app_ctl_server_open(r.ctl, o->control, msg, sizeof msg) < 0)) {
        fprintf(stderr, "s4100 site: --control %s: %s\n", o->control, r.ctl ? msg : "out of memory");
        free(r.ctl);
        r.ctl = NULL;
        goto out;
    }
    if (!o->quiet) {
        site_describe(cfg, stdout);
        printf("s4100 site: router device %u on %s:%u, %u meters on %u trunks: running\n",
               cfg->router_instance, bind_ip, port, sh_meters(r.h), sh_trunks(r.h));
        fflush(stdout);
    }
    rc = loop(&r);
    if (!o->quiet)
        status_line(&r);
out:
    if (r.h)
        sh_sync(r.h, true);
    for (unsigned k = 0; k < o->npcap; k++)
        lx_pcap_close(r.pcap[k]);
    for (unsigned k = 0; k < r.npty; k++)
        close(r.pty[k].fd);
    if (r.ctl) {
        app_ctl_server_close(r.ctl);
        free(r.ctl);
    }
    sh_free(r.h);
    close(fd);
    return rc;
}

int app_site(int argc, char **argv)
{
    site_opts_t o = {.port = -1, .time_scale = 1.0, .bip_rate = 2000};
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    site_t cfg;
    char err[512];
    if (site_load(o.file, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "s4100 site: %s\n", err);
        return 2;
    }
    if (o.describe || o.check) {
        if (o.describe)
            site_describe(&cfg, stdout);
        else
            printf("s4100 site: %s: ok, %u meters on %u trunks\n", o.file, cfg.nmeters, cfg.ntrunks);
        site_free(&cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = run_site(&cfg, &o);
    site_free(&cfg);
    return rc;
}
