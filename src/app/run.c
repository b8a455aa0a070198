/*
 * s4100 run: the virtual meter in real time. The simulated front end feeds the engine
 * 2520 sample sets a second, paced by the monotonic clock; BACnet/IP is served from the
 * same single-threaded poll loop; SIGINT/SIGTERM (through a signalfd) stop it cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "meter.h"
#include "term.h"

enum { OPT_BIP_PORT = 256, OPT_BIND, OPT_BROADCAST, OPT_DEVICE_ID, OPT_SERIAL, OPT_SCENARIO,
       OPT_PASSWORD, OPT_NO_PANEL, OPT_SECONDS, OPT_QUIET, OPT_HELP, OPT_CONTROL, OPT_TIME_SCALE,
       OPT_NV, OPT_NV_RESET, OPT_MSTP, OPT_MAC, OPT_BAUD, OPT_MAX_MASTER, OPT_PCAP,
       OPT_VIRTUAL_TIME, OPT_NV_ACCEPT_OLDER, OPT_METERS, OPT_COMTRADE, OPT_COMTRADE_MAP,
       OPT_COMTRADE_WINDOW };

#define CHUNK APP_FEED_MAX


static void usage(FILE *f)
{
    fputs("usage: s4100 run [options]\n"
          "Runs the meter in real time on a scenario and serves BACnet/IP.\n"
          "  --scenario FILE        the load (default: scenarios/default.ini, rooftop PV)\n"
          "  --comtrade FILE        or a COMTRADE recording (FILE.cfg with its .dat, or .cff),\n"
          "                         resampled to 2520 S/s; the meter stops where it ends\n"
          "  --comtrade-map MAP     its analog channels for Va..Ic, e.g. va=1,vb=2,ic=IC3\n"
          "  --comtrade-window FROM[,TO]  only this part of it, in seconds from the trigger\n"
          "                         (FROM may be start, TO end), e.g. 0 = from the trigger on\n"
          "  --bip-port N           UDP port (default 47808)\n"
          "  --bind ADDR            local address (default 0.0.0.0, so broadcasts are heard)\n"
          "  --broadcast ADDR[:PORT] where I-Am/I-Have go (default 255.255.255.255, or\n"
          "                         127.255.255.255 when bound to loopback; port: --bip-port).\n"
          "                         A client on the same host listens on another port: name it\n"
          "                         here, e.g. --broadcast 127.255.255.255:47808\n"
          "  --device-id N          Device instance, 1..4193999 (default: the factory value,\n"
          "                         pseudo-random 1000000..3097151 from the serial number)\n"
          "  --serial S             serial number (default 4100000001)\n"
          "  --bacnet-password PW   password DCC and ReinitializeDevice must carry (1..20)\n"
          "  --seconds N            stop after N meter seconds (default: run until SIGINT/SIGTERM)\n"
          "  --time-scale X         run the sample stream and the meter's clock X times faster\n"
          "                         than wall time, 0.1..10000 (BACnet timing stays real)\n"
          "  --virtual-time         the meter's clock moves only when told: 's4100 ctl advance\n"
          "                         SECONDS' runs that much meter time (every sample) as fast as\n"
          "                         the CPU allows, still answering BACnet (needs --control)\n"
          "  --control PATH         a Unix socket for 's4100 ctl' (status, power, load changes)\n"
          "  --meters N             N meters in this process, 1..10000: meter K (from 1) on\n"
          "                         --bip-port + K-1, serial + K-1, --device-id + K-1 (else\n"
          "                         distinct factory instances), NV file F-K.nv of --nv F.nv;\n"
          "                         'ctl meter K ...' drives one, 'ctl meters' lists them\n"
          "  --mstp DEVICE          BACnet MS/TP on a serial port or pty instead of BACnet/IP:\n"
          "    --mac N              MS/TP MAC, 0..127 (default 1, then as kept in NV)\n"
          "    --baud N             9600, 19200, 38400, 76800 (default), 115200\n"
          "    --max-master N       1..127 (default 127), not below the MAC\n"
          "    --pcap FILE          capture every frame seen (link type 165, for Wireshark)\n"
          "  --nv FILE              the meter's non-volatile memory (default:\n"
          "                         ~/.local/state/s4100/s4100-SERIAL.nv)\n"
          "  --nv-factory-reset     discard that file first: a meter fresh from the factory\n"
          "  --nv-accept-older      start from the older intact checkpoint when the newest\n"
          "                         was erased or damaged (the meter refuses otherwise)\n"
          "  --quiet                no status line\n"
          "  --no-panel             headless: no front panel even on a terminal (without a\n"
          "                         terminal the meter always runs headless)\n",
          f);
    app_settings_usage(f);
}

/* A numeric option: one message when it is not a number or out of range. */
static bool num_opt(const char *name, const char *arg, double lo, double hi, bool whole,
                    const char *must, double *v)
{
    char *end;
    double x = strtod(arg, &end);
    if (end == arg || *end || !isfinite(x) || x < lo || x > hi || (whole && x != floor(x))) {
        if (must)
            fprintf(stderr, "s4100 run: --%s '%s': %s\n", name, arg, must);
        else
            fprintf(stderr, "s4100 run: --%s '%s': a whole number, %.0f..%.0f\n", name, arg, lo, hi);
        return false;
    }
    *v = x;
    return true;
}

/* A file the meter writes: a directory there is a mistake worth naming. */
static bool file_opt(const char *name, const char *path)
{
    struct stat st;
    if (!*path || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "s4100 run: --%s '%s': %s\n", name, path,
                *path ? "is a directory, not a file" : "needs a file name");
        return false;
    }
    return true;
}

static int bad_option(int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        fprintf(stderr, "s4100 run: %s needs a value (try 's4100 run --help')\n", arg);
    else
        fprintf(stderr, "s4100 run: unknown option '%s' (try 's4100 run --help')\n", arg);
    return 2;
}

static int parse_own(int c, run_opts_t *o)
{
    double v;
    switch (c) {
    case OPT_BIP_PORT:
        if (!num_opt("bip-port", optarg, 1, 65535, true, "a UDP port, 1..65535", &v))
            return 2;
        o->port = (uint16_t)v;
        break;
    case OPT_BIND: o->bind = optarg; break;
    case OPT_BROADCAST: o->broadcast = optarg; break;
    case OPT_DEVICE_ID:
        if (!num_opt("device-id", optarg, OBJ_INSTANCE_MIN, OBJ_INSTANCE_MAX, true, NULL, &v))
            return 2;
        o->device_id = (long)v;
        break;
    case OPT_SERIAL:
        if (!*optarg || strlen(optarg) > OBJ_SERIAL_MAX) {
            fprintf(stderr, "s4100 run: --serial '%s': 1..%d characters\n", optarg, OBJ_SERIAL_MAX);
            return 2;
        }
        o->serial = optarg;
        break;
    case OPT_SCENARIO: o->scenario = optarg; break;
    case OPT_COMTRADE: o->comtrade = optarg; break;
    case OPT_COMTRADE_MAP: {
        sim_err_t err = {{0}};
        if (sim_comtrade_map(&o->ct_map, optarg, &err) != SIM_OK) {
            fprintf(stderr, "s4100 run: --comtrade-map: %s\n", err.msg);
            return 2;
        }
        break;
    }
    case OPT_COMTRADE_WINDOW: {
        sim_err_t err = {{0}};
        if (sim_comtrade_window(&o->ct_map, optarg, &err) != SIM_OK) {
            fprintf(stderr, "s4100 run: --comtrade-window: %s\n", err.msg);
            return 2;
        }
        break;
    }
    case OPT_PASSWORD:
        if (!*optarg || strlen(optarg) > BAC_PASSWORD_MAX) {
            fprintf(stderr, "s4100 run: --bacnet-password: 1..%u characters\n", BAC_PASSWORD_MAX);
            return 2;
        }
        o->password = optarg;
        break;
    case OPT_NO_PANEL: o->no_panel = true; break;
    case OPT_SECONDS:
        if (!num_opt("seconds", optarg, 1, 1e9, true, "a whole number of seconds >= 1", &v))
            return 2;
        o->seconds = (unsigned)v;
        break;
    case OPT_QUIET: o->quiet = true; break;
    case OPT_CONTROL: o->control = optarg; break;
    case OPT_NV:
        if (!file_opt("nv", optarg))
            return 2;
        o->nv_path = optarg;
        break;
    case OPT_MSTP: o->mstp = optarg; break;
    case OPT_PCAP:
        if (!file_opt("pcap", optarg))
            return 2;
        o->pcap = optarg;
        break;
    case OPT_MAC:
        if (!num_opt("mac", optarg, 0, 127, true, "an MS/TP MAC, 0..127", &v))
            return 2;
        o->mac = (long)v;
        break;
    case OPT_BAUD:
        if (!num_opt("baud", optarg, 0, 1e7, true, "9600, 19200, 38400, 76800 or 115200", &v))
            return 2;
        if (!obj_baud_valid((uint32_t)v)) {
            fprintf(stderr, "s4100 run: --baud '%s': 9600, 19200, 38400, 76800 or 115200\n", optarg);
            return 2;
        }
        o->baud = (long)v;
        break;
    case OPT_MAX_MASTER:
        if (!num_opt("max-master", optarg, 1, 127, true, "1..127", &v))
            return 2;
        o->max_master = (long)v;
        break;
    case OPT_NV_RESET: o->nv_factory_reset = true; break;
    case OPT_NV_ACCEPT_OLDER: o->nv_accept_older = true; break;
    case OPT_METERS:
        if (!num_opt("meters", optarg, 1, 10000, true, "how many meters, 1..10000", &v))
            return 2;
        o->meters = (unsigned)v;
        break;
    case OPT_VIRTUAL_TIME: o->virtual_time = true; break;
    case OPT_TIME_SCALE:
        if (!num_opt("time-scale", optarg, 0.1, 10000, false, "a factor, 0.1..10000", &v))
            return 2;
        o->time_scale = v;
        break;
    default: return -1;
    }
    return 0;
}

static int parse_opts(int argc, char **argv, run_opts_t *o, app_settings_t *st)
{
    static const struct option own[] = {
        {"bip-port", required_argument, NULL, OPT_BIP_PORT},
        {"bind", required_argument, NULL, OPT_BIND},
        {"broadcast", required_argument, NULL, OPT_BROADCAST},
        {"device-id", required_argument, NULL, OPT_DEVICE_ID},
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"scenario", required_argument, NULL, OPT_SCENARIO},
        {"comtrade", required_argument, NULL, OPT_COMTRADE},
        {"comtrade-map", required_argument, NULL, OPT_COMTRADE_MAP},
        {"comtrade-window", required_argument, NULL, OPT_COMTRADE_WINDOW},
        {"bacnet-password", required_argument, NULL, OPT_PASSWORD},
        {"no-panel", no_argument, NULL, OPT_NO_PANEL},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
        {"virtual-time", no_argument, NULL, OPT_VIRTUAL_TIME},
        {"nv", required_argument, NULL, OPT_NV},
        {"nv-factory-reset", no_argument, NULL, OPT_NV_RESET},
        {"nv-accept-older", no_argument, NULL, OPT_NV_ACCEPT_OLDER},
        {"meters", required_argument, NULL, OPT_METERS},
        {"mstp", required_argument, NULL, OPT_MSTP},
        {"mac", required_argument, NULL, OPT_MAC},
        {"baud", required_argument, NULL, OPT_BAUD},
        {"max-master", required_argument, NULL, OPT_MAX_MASTER},
        {"pcap", required_argument, NULL, OPT_PCAP},
    };
    enum { N_OWN = sizeof own / sizeof own[0] };
    struct option opts[N_OWN + APP_N_SETTINGS + 1];
    memcpy(opts, own, sizeof own);
    app_settings_options(opts + N_OWN);
    memset(&opts[N_OWN + APP_N_SETTINGS], 0, sizeof opts[0]);
    int c;
    optind = 1;
    opterr = 0; /* our own messages, one per mistake */
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return bad_option(c, argv);
        if (c == OPT_HELP) {
            usage(stdout);
            return 1;
        }
        int rc = parse_own(c, o);
        if (rc > 0)
            return rc;
        if (rc < 0 && app_settings_take(st, c, optarg, "run") <= 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "s4100 run: unexpected argument '%s' (try 's4100 run --help')\n", argv[optind]);
        return 2;
    }
    if (o->comtrade && o->scenario) {
        fprintf(stderr, "s4100 run: --scenario or --comtrade, not both\n");
        return 2;
    }
    if ((o->ct_map.has_from || o->ct_map.has_to) && !o->comtrade) {
        fprintf(stderr, "s4100 run: --comtrade-window needs --comtrade\n");
        return 2;
    }
    if (o->meters > 1 && o->mstp) {
        fprintf(stderr, "s4100 run: --meters with --mstp: one meter per serial port\n");
        return 2;
    }
    if (o->virtual_time && !o->control) {
        fprintf(stderr, "s4100 run: --virtual-time needs --control PATH (time advances with "
                        "'s4100 ctl advance')\n");
        return 2;
    }
    return 0;
}

static bool parse_broadcast(const run_opts_t *o, bip_addr_t *out)
{
    char ip[64];
    const char *spec = o->broadcast;
    if (!spec)
        spec = strncmp(o->bind, "127.", 4) == 0 ? "127.255.255.255" : "255.255.255.255";
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n >= sizeof ip)
        return false;
    memcpy(ip, spec, n);
    ip[n] = '\0';
    double port = o->port;
    char *end = NULL;
    if (colon && ((port = strtod(colon + 1, &end)), end == colon + 1 || *end || !(port >= 1) ||
                  port > 65535 || port != floor(port)))
        return false;
    return bip_addr_parse(ip, (uint16_t)port, out);
}


/* Short names of the alerts (BI1..BI15, bit n-1 of Alarm_Bitmap), for the status line. */
static void status_line(const app_meter_t *m)
{
    const float *ai = m->mt.dev.mtr.ai;
    char alerts[128], nv[128];
    if (app_nv_status_short(m, nv, sizeof nv) == 0)
        nv[0] = '\0';
    printf("[%6u s] P %9.3f kW  Q %9.3f kVAR  PF %6.3f  VLN %7.2f V  I %8.2f A  f %6.2f Hz"
           "  kWh +%.3f -%.3f  alerts %s  %s rx %u tx %u%s%s\n",
           m->mt.dev.mtr.cycles, (double)ai[MTR_AI_KW], (double)ai[MTR_AI_KVAR],
           (double)ai[MTR_AI_PF], (double)ai[MTR_AI_VLN_AVG], (double)ai[MTR_AI_I_AVG],
           (double)ai[MTR_AI_FREQ], (double)ai[MTR_AI_KWH_IMP], (double)ai[MTR_AI_KWH_EXP],
           app_alert_list(m->mt.dev.mtr.alarms, alerts, sizeof alerts), m->mstp_on ? "mstp" : "bip",
           m->mstp_on ? m->mstp.rx.c.frames : m->bip.rx, m->mstp_on ? m->mstp.c.tx_frames : m->bip.tx,
           nv[0] ? "  NV " : "", nv);
    fflush(stdout);
}

/* The meter's own NPDUs (I-Am) down BACnet/IP: at once, not with the next batch. (On
 * MS/TP the node's link queues them for the token.) */
static int bip_link_send(void *ctx, const net_addr_t *dst, const uint8_t *npdu, size_t len)
{
    app_meter_t *m = ctx;
    net_link_t link = bip_link(&m->bip);
    int rc = link.send(link.ctx, dst, npdu, len);
    lx_udp_batch_flush(&m->udp);
    return rc;
}

/* The sample clock: how many sample sets the engine owes by now. In real time that
 * follows the wall clock times the scale; in virtual time only 'ctl advance' moves it. */
typedef struct {
    double t0;            /* wall time of sample 0 (real time) */
    double scale;
    bool virtual_time;
    uint64_t produced;    /* sample sets made (fed, or dropped while unpowered) */
    uint64_t target;      /* virtual time: what the pending advances ask for */
    double max_lag_s;     /* the worst wall-time lag behind the schedule */
    double advance_s;     /* what the pending 'advance' asked for */
} pace_t;

static uint64_t pace_due(pace_t *p, double now)
{
    if (p->virtual_time)
        return p->target;
    uint64_t due = (uint64_t)((now - p->t0) * MTR_FS * p->scale);
    if (due > p->produced) {
        double lag = (double)(due - p->produced) / (MTR_FS * p->scale);
        if (lag > p->max_lag_s)
            p->max_lag_s = lag;
    }
    return due;
}

/* The speed the meter really ran at, as a multiple of real time. */
static double pace_achieved(const pace_t *p, double now)
{
    return now > p->t0 ? (double)p->produced / MTR_FS / (now - p->t0) : 0.0;
}

/* The meters of the process, their common clock and the control socket. */
typedef struct {
    app_meter_t **ms;
    unsigned n;
    const run_opts_t *o;
    pace_t pace;
    app_ctl_server_t *ctl; /* NULL without --control */
    unsigned advance_conn;  /* the connection an 'advance' answers, 0: none */
    unsigned cycles_left;   /* --seconds: cycles still to run (0: no limit) */
    lx_nv_group_t *nvg;     /* group commit of the meters' NV (--meters), or NULL */
    double nvg_last;        /* wall time of its last flush */
} run_t;

static void status_json(run_t *r, unsigned k, FILE *f)
{
    app_meter_t *m = r->ms[k];
    double now = lx_now_s();
    uint64_t due = pace_due(&r->pace, now);
    fprintf(f, "{\"meter\":%u,\"port\":%u,", k + 1, m->opts->port);
    app_meter_json_state(m, f);
    fprintf(f, "\"bip\":{\"rx\":%u,\"tx\":%u,\"dropped\":%u},", m->bip.rx, m->bip.tx, m->bip.dropped);
    /* Lag is wall time behind the schedule, so it means the same at any scale. */
    if (r->pace.virtual_time)
        fprintf(f, "\"time\":{\"virtual\":true,\"advancing\":%s,\"owed_s\":%.3f},",
                r->advance_conn ? "true" : "false",
                (double)(due - (due > r->pace.produced ? r->pace.produced : due)) / MTR_FS);
    else
        fprintf(f, "\"time\":{\"virtual\":false,\"scale\":%g,\"achieved_scale\":%.4g,"
                   "\"lag_ms\":%.1f,\"max_lag_ms\":%.1f},", r->pace.scale,
                pace_achieved(&r->pace, now),
                due > r->pace.produced ? (double)(due - r->pace.produced) / (MTR_FS * r->pace.scale) * 1e3 : 0.0,
                r->pace.max_lag_s * 1e3);
    if (r->nvg)
        fprintf(f, "\"nv_group\":{\"files\":%u,\"deferred\":%llu,\"forced\":%llu,"
                   "\"flushes\":%llu,\"failures\":%llu,\"off\":%s},", r->nvg->n,
                (unsigned long long)r->nvg->deferred, (unsigned long long)r->nvg->forced,
                (unsigned long long)r->nvg->flushes, (unsigned long long)r->nvg->failures,
                r->nvg->off ? "true" : "false");
    if (r->ctl) {
        fputs("\"control\":", f);
        app_ctl_stats_json(&r->ctl->stats, f);
        fputc(',', f);
    }
    app_meter_json_tail(m, f);
}

/* advance: answered once the meter has run that much time (ctl_advanced). */
static bool cmd_advance(run_t *r, const app_ctl_cmd_t *c, unsigned conn, FILE *f)
{
    if (!r->pace.virtual_time) {
        fputs("error: advance: this meter runs in real time (start it with --virtual-time)\n", f);
        return false;
    }
    if (r->advance_conn) {
        fputs("error: advance: another advance is still running\n", f);
        return false;
    }
    r->pace.advance_s = c->seconds;
    r->pace.target += (uint64_t)llround(c->seconds * MTR_FS);
    r->advance_conn = conn;
    return true;
}

/* meters: one line each. */
static void cmd_meters(const run_t *r, FILE *f)
{
    fprintf(f, "ok: %u meter%s\n", r->n, r->n == 1 ? "" : "s");
    for (unsigned k = 0; k < r->n; k++) {
        const app_meter_t *m = r->ms[k];
        fprintf(f, "%u device %u serial %s %s:%u %s %.3f kW\n", k + 1, m->mt.dev.id.instance,
                m->mt.dev.id.serial, m->opts->bind, m->opts->port,
                m->mt.powered ? "powered" : "off", (double)m->mt.dev.mtr.ai[MTR_AI_KW]);
    }
}

static void on_command(void *ctx, app_ctl_server_t *srv, unsigned conn, const char *line)
{
    run_t *r = ctx;
    app_meter_t *m = r->ms[0];
    char *ans = NULL, err[256];
    size_t len = 0;
    FILE *f = open_memstream(&ans, &len);
    app_ctl_cmd_t c;
    bool pending = false;
    if (!f) {
        app_ctl_server_reply(srv, conn, "error: out of memory\n");
        return;
    }
    if (app_ctl_parse(line, &c, err, sizeof err) < 0) {
        fprintf(f, "error: %s\n", err);
    } else if (c.meter > r->n) {
        fprintf(f, "error: meter %u: this process runs %u meter%s (1..%u)\n", c.meter, r->n,
                r->n == 1 ? "" : "s", r->n);
    } else {
        unsigned k = c.meter ? c.meter - 1 : 0;
        m = r->ms[k];
        switch (c.verb) {
        case APP_CTL_STATUS: status_json(r, k, f); break;
        case APP_CTL_METERS: cmd_meters(r, f); break;
        case APP_CTL_HELP: fprintf(f, "ok: commands:\n%s", app_ctl_help); break;
        case APP_CTL_DISPLAY:
        case APP_CTL_KEY:
        case APP_CTL_POWER:
        case APP_CTL_SET: app_meter_cmd(m, &c, f); break;
        case APP_CTL_ADVANCE: pending = cmd_advance(r, &c, conn, f); break;
        }
    }
    fclose(f);
    app_nv_sync(m, false); /* a panel setting is durable before its answer */
    if (!pending)
        app_ctl_server_reply(srv, conn, ans ? ans : "error: out of memory\n");
    free(ans);
}

/* The time an 'advance' asked for has passed: answer it. */
static void ctl_advanced(run_t *r)
{
    char ans[128];
    snprintf(ans, sizeof ans, "ok: advanced %g s (cycle %u)\n", r->pace.advance_s,
             r->ms[0]->mt.dev.mtr.cycles);
    for (unsigned k = 0; k < r->n; k++)
        app_nv_sync(r->ms[k], false);
    if (r->ctl)
        app_ctl_server_reply(r->ctl, r->advance_conn, ans);
    r->advance_conn = 0;
}

static void mstp_follow_identity(app_meter_t *m);

static void draw_state(app_meter_t *m, char *state, size_t cap)
{
    static const char *const dcc[] = {"enabled", "disabled", "initiation disabled"};
    char link[80];
    if (m->mstp_on)
        snprintf(link, sizeof link, "MS/TP MAC %u %u baud rx %u tx %u", m->mt.dev.id.mac,
                 m->mstp.cfg.baud, m->mstp.rx.c.frames, m->mstp.c.tx_frames);
    else
        snprintf(link, sizeof link, "BACnet/IP :%u rx %u tx %u", m->opts->port, m->bip.rx,
                 m->bip.tx);
    snprintf(state, cap, "%s | %s, communication %s | alerts 0x%04x | %u s",
             m->mt.powered ? "powered" : "POWER OFF", link, dcc[m->mt.srv.dcc % 3], m->mt.dev.mtr.alarms,
             m->mt.dev.mtr.cycles);
}

static void draw_panel(app_meter_t *m)
{
    ui_display_t d;
    char title[160], state[200];
    meter_display(&m->mt, &d);
    snprintf(title, sizeof title, "s4100 - %s - device %u", m->mt.dev.id.name, m->mt.dev.id.instance);
    draw_state(m, state, sizeof state);
    lx_term_draw(&d, title, state);
    m->panel_dirty = false;
}

/* A line a wall second for a fleet: how many meters, the sum of their power. */
static void fleet_line(const run_t *r)
{
    double kw = 0;
    unsigned on = 0, rx = 0, tx = 0;
    for (unsigned k = 0; k < r->n; k++) {
        const app_meter_t *m = r->ms[k];
        on += m->mt.powered;
        if (m->mt.powered && !isnan(m->mt.dev.mtr.ai[MTR_AI_KW]))
            kw += (double)m->mt.dev.mtr.ai[MTR_AI_KW];
        rx += m->bip.rx, tx += m->bip.tx;
    }
    printf("[%6u s] %u meters, %u powered, P %.3f kW in all, bip rx %u tx %u\n",
           r->ms[0]->mt.dev.mtr.cycles, r->n, on, kw, rx, tx);
    fflush(stdout);
}

/* Meter K's variant of the scenario: its load at vary_scale, and its currents late by
 * vary_delay samples (a load angle 8.6 degrees larger per sample at 60 Hz), exactly
 * and for next to nothing. */
/* Produce and feed what is owed to every meter, for at most a few milliseconds of wall
 * time so that BACnet and the panel are served between slices. 1: stop (rc in *rc). */
static int produce(run_t *r, int *rc)
{
    pace_t *p = &r->pace;
    const run_opts_t *o = r->o;
    double start = lx_now_s();
    uint64_t due = pace_due(p, start);
    while (p->produced < due) {
        size_t n = due - p->produced > CHUNK ? CHUNK : (size_t)(due - p->produced);
        unsigned cycles = 0, c;
        for (unsigned k = 0; k < r->n; k++) {
            if (app_meter_feed(r->ms[k], n, r->cycles_left, &c, rc))
                return 1;
            cycles = c > cycles ? c : cycles;
        }
        p->produced += n;
        /* At most a line per wall second, whatever the time scale. */
        app_meter_t *m0 = r->ms[0];
        if (cycles && !o->quiet && !m0->panel && lx_now_s() - m0->last_status >= 0.9) {
            if (r->n == 1)
                status_line(m0);
            else
                fleet_line(r);
            m0->last_status = lx_now_s();
        }
        if (o->seconds && (r->cycles_left -= cycles) == 0)
            return 1;
        if (lx_now_s() - start > 0.002)
            break;
    }
    return 0;
}

static void serve_panel_keys(app_meter_t *m, bool *quit)
{
    ui_key_t key;
    int k;
    while ((k = lx_term_key(&key)) != 0) {
        if (k < 0) {
            *quit = true; /* q */
            return;
        }
        if (k == 1)
            meter_key(&m->mt, key);
        m->panel_dirty = true;
    }
}

static void serve_mstp(app_meter_t *m, short revents, double *hangup_until)
{
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!m->mt.powered) {
            uint8_t sink[512]; /* an unpowered meter hears nothing */
            if (read(m->ml.fd, sink, sizeof sink) <= 0)
                *hangup_until = lx_now_s() + 0.1;
        } else if (lx_mstp_drain(&m->ml, &m->mstp) < 0) {
            *hangup_until = lx_now_s() + 0.1; /* a pty with nobody on the other end */
        }
    }
    if (m->mt.powered)
        mstp_tick(&m->mstp, lx_now_us());
    if (meter_reinit_due(&m->mt))
        meter_restart(&m->mt);
}

/* Replies held for a group commit leave once it is durable, or not at all. */
static bool release(app_meter_t *m)
{
    lx_nv_group_t *g = m->nvf.group;
    if (g && lx_nv_group_pending(g) && lx_nv_group_flush(g) < 0) {
        lx_udp_batch_drop(&m->udp); /* not durable: no acknowledgement */
        return false;
    }
    lx_udp_batch_flush(&m->udp);
    return true;
}

/* Everything queued in one recvmmsg, the answers in one sendmmsg; a few rounds at most,
 * then back to the samples. hold: one round, the answers left queued for the fleet's
 * group commit (release). */
static void serve_bip(app_meter_t *m, bool hold)
{
    for (int round = 0; round < (hold ? 1 : 4); round++) {
        int n = lx_udp_batch_recv(&m->udp);
        if (!m->mt.powered)
            continue; /* an unpowered meter hears nothing */
        const lx_udp_rx_t *rx = m->udp.rx;
        for (int k = 0; k < n; k++) {
            bip_receive(&m->bip, &rx->from[k], rx->data[k], rx->len[k]);
            if (meter_reinit_due(&m->mt)) {
                app_nv_sync(m, false);
                release(m); /* the ACK goes out first */
                meter_restart(&m->mt);
            }
        }
        app_nv_sync(m, false); /* an acknowledged write is durable before its ACK */
        if (!hold)
            lx_udp_batch_flush(&m->udp);
        if (n < LX_UDP_BATCH)
            break;
    }
}

/* How long poll may sleep: until the next sample is owed, shorter for a panel, MS/TP
 * timers and the control socket's expiry. */
static int wait_ms_for(const run_t *r, uint64_t due)
{
    const pace_t *p = &r->pace;
    const app_meter_t *m0 = r->ms[0];
    int wait_ms = 0;
    if (p->produced >= due) {
        double next = p->virtual_time ? 1e9 : p->t0 + (double)(p->produced + 1) / (MTR_FS * p->scale);
        double w = ceil((next - lx_now_s()) * 1000.0);
        wait_ms = w < 0 ? 0 : w > 500 ? 500 : (int)w;
    }
    if (m0->panel && wait_ms > 50)
        wait_ms = 50; /* the display blinks and its clock runs */
    if (m0->mstp_on && wait_ms > 1)
        wait_ms = 1; /* MS/TP timers want a tick every millisecond */
    return wait_ms;
}

static void print_summary(const run_t *r)
{
    const run_opts_t *o = r->o;
    const app_meter_t *m = r->ms[0];
    unsigned rx = 0, tx = 0, dropped = 0;
    for (unsigned k = 0; k < r->n; k++)
        rx += r->ms[k]->bip.rx, tx += r->ms[k]->bip.tx, dropped += r->ms[k]->bip.dropped;
    /* How far the engine fell behind its schedule, in wall time (samples are never
     * dropped: a late engine catches up), the speed it reached, and what the link saw. */
    if (o->virtual_time)
        printf("s4100 run: %u cycles, %llu sample sets%s, virtual time, bip rx %u tx %u "
               "dropped %u\n", m->mt.dev.mtr.cycles, (unsigned long long)m->mt.dev.mtr.n,
               r->n > 1 ? " a meter" : "", rx, tx, dropped);
    else
        printf("s4100 run: %u cycles, %llu sample sets%s, engine max lag %.1f ms (wall), ran "
               "at %.4gx real time (asked %gx), bip rx %u tx %u dropped %u\n",
               m->mt.dev.mtr.cycles, (unsigned long long)m->mt.dev.mtr.n,
               r->n > 1 ? " a meter" : "", r->pace.max_lag_s * 1000.0,
               pace_achieved(&r->pace, lx_now_s()), o->time_scale, rx, tx, dropped);
    fflush(stdout);
}

static int loop(run_t *r)
{
    const run_opts_t *o = r->o;
    app_meter_t *m0 = r->ms[0];
    int sfd = lx_signals_open();
    if (sfd < 0) {
        perror("s4100 run: signalfd");
        return 1;
    }
    pace_t *pace = &r->pace;
    double last_draw = 0, hangup_until = 0;
    uint32_t link_writes = m0->mt.dev.writes; /* MS/TP settings the link has followed */
    int rc = 0;
    bool quit = false;
    enum { PF_SIG, PF_STDIN, PF_MSTP, PF_CTL };
    size_t npf_max = PF_CTL + APP_CTL_POLLFDS + r->n;
    struct pollfd *pf = calloc(npf_max, sizeof *pf);
    if (!pf) {
        close(sfd);
        return 1;
    }
    for (unsigned k = 0; k < r->n; k++)
        meter_announce(&r->ms[k]->mt); /* on MS/TP it waits for the first token */
    r->cycles_left = o->seconds;
    while (!quit) {
        if (produce(r, &rc))
            break;
        uint64_t due = pace_due(pace, lx_now_s());
        if (r->advance_conn && pace->produced >= pace->target)
            ctl_advanced(r);
        pf[PF_SIG] = (struct pollfd){.fd = sfd, .events = POLLIN};
        pf[PF_STDIN] = (struct pollfd){.fd = m0->panel ? STDIN_FILENO : -1, .events = POLLIN};
        pf[PF_MSTP] = (struct pollfd){.fd = m0->mstp_on && lx_now_s() >= hangup_until ? m0->ml.fd : -1,
                                      .events = POLLIN};
        int nctl = r->ctl ? app_ctl_server_pollfds(r->ctl, pf + PF_CTL, APP_CTL_POLLFDS) : 0;
        struct pollfd *udp = pf + PF_CTL + nctl;
        for (unsigned k = 0; k < r->n; k++)
            udp[k] = (struct pollfd){.fd = r->ms[k]->mstp_on ? -1 : r->ms[k]->udp.fd, .events = POLLIN};
        int wait_ms = wait_ms_for(r, due);
        if (r->ctl && wait_ms > 1000)
            wait_ms = 1000; /* idle control connections expire */
        if (poll(pf, (nfds_t)(PF_CTL + nctl + r->n), wait_ms) < 0)
            continue;
        double now_s = lx_now_s();
        uint32_t now_ms = lx_now_ms();
        for (unsigned k = 0; k < r->n; k++)
            meter_tick(&r->ms[k]->mt, now_ms);
        if (m0->panel && (pf[PF_STDIN].revents & POLLIN))
            serve_panel_keys(m0, &quit);
        if (r->ctl)
            app_ctl_server_service(r->ctl, pf + PF_CTL, nctl, now_s, on_command, r);
        if (pf[PF_SIG].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) > 0) {
                if (!o->quiet)
                    printf("s4100 run: stopping on signal %u\n", si.ssi_signo);
                break;
            }
        }
        if (m0->mstp_on) {
            serve_mstp(m0, pf[PF_MSTP].revents, &hangup_until);
            /* MAC, baud and Max_Master follow whichever way they were set (panel, BACnet:
             * right after the request). */
            if (m0->mt.dev.writes != link_writes) {
                link_writes = m0->mt.dev.writes;
                mstp_follow_identity(m0);
            }
        }
        /* A fleet's answers of this turn wait for one group commit (acknowledged writes
         * durable before their ACKs, one durable write for all of them). */
        bool held = false;
        for (unsigned k = 0; k < r->n; k++)
            if (udp[k].revents & POLLIN)
                serve_bip(r->ms[k], r->nvg != NULL), held |= r->nvg != NULL;
        if (held) {
            bool ok = !lx_nv_group_pending(r->nvg) || lx_nv_group_flush(r->nvg) == 0;
            for (unsigned k = 0; k < r->n; k++) {
                if (!(udp[k].revents & POLLIN))
                    continue;
                if (ok)
                    lx_udp_batch_flush(&r->ms[k]->udp);
                else
                    lx_udp_batch_drop(&r->ms[k]->udp); /* not durable: no acknowledgement */
            }
            r->nvg_last = ok ? now_s : r->nvg_last;
        }
        /* Twice a second, one durable write for every routine save of the fleet. */
        if (r->nvg && now_s - r->nvg_last >= 0.5 && lx_nv_group_pending(r->nvg)) {
            if (lx_nv_group_flush(r->nvg) < 0)
                fprintf(stderr, "s4100 run: NV group flush failed (%s): every save syncs on "
                                "its own from now on\n", strerror(errno));
            r->nvg_last = now_s;
        }
        if (m0->panel && (m0->panel_dirty || now_s - last_draw > 0.1)) {
            draw_panel(m0);
            last_draw = now_s;
        }
    }
    free(pf);
    if (m0->panel)
        lx_term_close();
    if (!o->quiet || o->seconds)
        print_summary(r);
    close(sfd);
    return rc;
}

/* An accepted write: durable before its acknowledgement is encoded (bac_server hook). */
static int durable(void *ctx, bac_error_t *err)
{
    app_meter_t *m = ctx;
    /* In a fleet on BACnet/IP the acknowledgement waits in the socket's queue for the
     * turn's group commit (loop); MS/TP answers at once, so it syncs at once. */
    m->nvf.defer = m->nvf.group != NULL && !m->mstp_on;
    int rc = app_nv_commit_write(m, err);
    m->nvf.defer = false;
    return rc;
}

/* Routine saves (energy once a second, new trend records) wait for the group's flush;
 * a forced one (power off) does not. */
static void nv_sync(void *ctx, bool force)
{
    app_meter_t *m = ctx;
    m->nvf.defer = !force;
    app_nv_sync(m, force);
    m->nvf.defer = false;
}

/* --mac, --baud, --max-master: set like the panel sets them, checked, kept in NV. */
static int mstp_settings(app_meter_t *m, const run_opts_t *o)
{
    obj_identity_t *id = &m->mt.dev.id;
    long mac = o->mac >= 0 ? o->mac : id->mac, mm = o->max_master >= 0 ? o->max_master : id->max_master;
    if (mac > mm) {
        fprintf(stderr, "s4100 run: MAC %ld is above Max_Master %ld: poll-for-master would never "
                        "reach it\n", mac, mm);
        return -1;
    }
    if (o->mac < 0 && o->max_master < 0 && o->baud < 0)
        return 0;
    if (mac != id->mac)
        printf("s4100 run: MS/TP MAC %u -> %ld (--mac)\n", id->mac, mac);
    if (mm != id->max_master)
        printf("s4100 run: MS/TP Max_Master %u -> %ld (--max-master)\n", id->max_master, mm);
    if (o->baud >= 0 && (uint32_t)o->baud != id->baud)
        printf("s4100 run: MS/TP baud %u -> %ld (--baud)\n", id->baud, o->baud);
    id->mac = (uint8_t)mac;
    id->max_master = (uint8_t)mm;
    if (o->baud >= 0)
        id->baud = (uint32_t)o->baud;
    m->mt.dev.writes++;
    app_nv_sync(m, false);
    return 0;
}

/* The one place the link's settings come from: the device's identity is their record
 * (kept in NV, written by BACnet and the panel). */
static void mstp_config_of(const obj_identity_t *id, mstp_config_t *c)
{
    mstp_config_default(c);
    c->mac = id->mac;
    c->max_master = id->max_master;
    c->max_info_frames = id->max_info_frames;
    c->baud = id->baud;
}

static int mstp_start(app_meter_t *m, const run_opts_t *o)
{
    char err[300];
    mstp_port_t port;
    if (o->pcap && !(m->pcap = lx_pcap_open(o->pcap, err, sizeof err))) {
        fprintf(stderr, "s4100 run: %s\n", err);
        return -1;
    }
    if (lx_mstp_open(&m->ml, o->mstp, m->mt.dev.id.baud, m->pcap, &port, err, sizeof err) < 0) {
        fprintf(stderr, "s4100 run: %s\n", err);
        lx_pcap_close(m->pcap);
        return -1;
    }
    mstp_config_t cfg;
    mstp_config_of(&m->mt.dev.id, &cfg);
    net_upper_t up = meter_upper(&m->mt);
    if (!mstp_init(&m->mstp, &port, &cfg, &up, lx_now_us())) {
        fprintf(stderr, "s4100 run: MS/TP settings out of range (MAC %u, Max_Master %u, %u baud)\n",
                m->mt.dev.id.mac, m->mt.dev.id.max_master, m->mt.dev.id.baud);
        lx_mstp_close(&m->ml);
        lx_pcap_close(m->pcap);
        return -1;
    }
    m->mstp_on = true;
    return 0;
}

/* Settings changed on the panel or over BACnet take effect on the link; a new MAC is
 * a new station, which announces itself. */
static void mstp_follow_identity(app_meter_t *m)
{
    mstp_config_t want;
    mstp_config_of(&m->mt.dev.id, &want);
    unsigned changed = mstp_reconfigure(&m->mstp, &want, lx_now_us());
    if (changed & MSTP_NEW_BAUD)
        lx_mstp_set_baud(&m->ml, m->mstp.cfg.baud);
    if (changed & MSTP_NEW_MAC)
        meter_announce(&m->mt);
}

/* ~/.local/state/s4100/s4100-SERIAL.nv (XDG), created as needed; ./ without a home. */
static void default_nv_path(const char *serial, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[400];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/s4100", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/s4100", home);
    else
        dir[0] = '\0';
    if (dir[0]) {
        char part[400];
        for (char *p = dir + 1; *p; p++) /* mkdir -p */
            if (*p == '/') {
                snprintf(part, sizeof part, "%.*s", (int)(p - dir), dir);
                mkdir(part, 0755);
            }
        mkdir(dir, 0755);
        snprintf(out, cap, "%s/s4100-%s.nv", dir, serial);
    } else {
        snprintf(out, cap, "s4100-%s.nv", serial);
    }
}

/* One meter's own options in a process of many: its port, serial, device instance and
 * NV file follow from the process's (meter k: port + k, serial + k, ...). */
typedef struct {
    run_opts_t o;
    char serial[OBJ_SERIAL_MAX + 1];
    char nv_path[512];
} meter_opts_t;

static int derive_opts(const run_opts_t *o, unsigned k, unsigned n, meter_opts_t *mo)
{
    mo->o = *o;
    if (n == 1)
        return 0;
    if ((unsigned)o->port + k > 65535) {
        fprintf(stderr, "s4100 run: --meters %u from --bip-port %u runs past port 65535\n", n, o->port);
        return -1;
    }
    mo->o.port = (uint16_t)(o->port + k);
    /* A numeric serial counts up; any other gets a suffix. */
    char *end;
    unsigned long long sn = strtoull(o->serial, &end, 10);
    if (!*end && o->serial[0] >= '0' && o->serial[0] <= '9' && sn + k >= sn)
        snprintf(mo->serial, sizeof mo->serial, "%llu", sn + k);
    else
        snprintf(mo->serial, sizeof mo->serial, "%.*s-%hu", OBJ_SERIAL_MAX - 7, o->serial,
                 (unsigned short)(k + 1)); /* k < 10000 */
    mo->o.serial = mo->serial;
    if (o->device_id > 0 && (mo->o.device_id = o->device_id + (long)k) > (long)OBJ_INSTANCE_MAX) {
        fprintf(stderr, "s4100 run: --meters %u from --device-id %ld runs past %u\n", n,
                o->device_id, OBJ_INSTANCE_MAX);
        return -1;
    }
    if (o->nv_path) { /* F.nv -> F-3.nv */
        const char *dot = strrchr(o->nv_path, '.');
        const char *slash = strrchr(o->nv_path, '/');
        int stem = dot && (!slash || dot > slash) ? (int)(dot - o->nv_path) : (int)strlen(o->nv_path);
        snprintf(mo->nv_path, sizeof mo->nv_path, "%.*s-%u%s", stem, o->nv_path, k + 1,
                 o->nv_path + stem);
        mo->o.nv_path = mo->nv_path;
    }
    return 0;
}

/* Factory instances are pseudo-random from the serial: in a process of many, two may
 * meet. The later one takes the next free number, as an integrator would set it. */
static void distinct_instances(meter_opts_t *mo, unsigned n)
{
    for (unsigned k = 1; k < n; k++) {
        if (mo[k].o.device_id > 0)
            continue;
        obj_identity_t id;
        obj_identity_default(&id, mo[k].o.serial);
        uint32_t want = id.instance;
        for (bool clash = true; clash;) {
            clash = false;
            for (unsigned j = 0; j < k; j++) {
                obj_identity_t other;
                obj_identity_default(&other, mo[j].o.serial);
                uint32_t theirs = mo[j].o.device_id > 0 ? (uint32_t)mo[j].o.device_id : other.instance;
                if (theirs == want)
                    clash = true, want = want >= OBJ_INSTANCE_MAX ? OBJ_INSTANCE_MIN : want + 1;
            }
        }
        if (want != id.instance)
            mo[k].o.device_id = want;
    }
}

static void close_meter(app_meter_t *m)
{
    app_nv_close(m);
    if (m->mstp_on) {
        printf("s4100 run: mstp: %u frames in, %u out, %u tokens, %u lost, %u invalid, "
               "replies %u (worst latency %.3f ms), pcap frames %llu\n", m->mstp.rx.c.frames,
               m->mstp.c.tx_frames, m->mstp.c.tokens_received, m->mstp.c.lost_tokens,
               m->mstp.c.invalid_frames, m->mstp.c.replies, m->mstp.c.reply_latency_max_us / 1000.0,
               (unsigned long long)(m->pcap ? lx_pcap_frames(m->pcap) : 0));
        lx_mstp_close(&m->ml);
        lx_pcap_close(m->pcap);
    }
    if (m->udp.fd >= 0)
        close(m->udp.fd);
    sim_close(m->src);
}

/* One meter from its options to running: the scenario, NV, commissioning, the link.
 * 0, or the exit status with the reason printed (nothing left open). */
static int open_meter(app_meter_t *m, run_opts_t *o, const app_settings_t *st, bool scenario_named)
{
    sim_err_t err = {{0}};
    m->udp.fd = -1;
    sim_comtrade_info_t info;
    if (o->comtrade ? sim_open_comtrade(&m->src, o->comtrade, &o->ct_map, &info, &err) < 0
                    : sim_open_scenario(&m->src, o->scenario, &err) < 0) {
        fprintf(stderr, "s4100 run: %s\n", err.msg);
        return 1;
    }
    if (o->comtrade) {
        char what[256];
        sim_comtrade_describe(&info, what, sizeof what);
        printf("s4100 run: %s: %s\n", o->comtrade, what);
    }
    mtr_config_default(&m->cfg);
    sim_scenario_meter(m->src, &m->cfg);
    mtr_config_t check = m->cfg; /* options are checked now, applied over what NV holds */
    bip_addr_t self, bcast;
    int rc = 0;
    if (mtr_config_check(&m->cfg) != MTR_OK) {
        fprintf(stderr, "s4100 run: %s: the [meter] settings are out of range\n", o->scenario);
        rc = 1;
    } else if (app_settings_apply(st, &check, "run") < 0) {
        rc = 2;
    } else if (!bip_addr_parse(o->bind, o->port, &self)) {
        fprintf(stderr, "s4100 run: --bind %s: not an IPv4 address\n", o->bind);
        rc = 2;
    } else if (!parse_broadcast(o, &bcast)) {
        fprintf(stderr, "s4100 run: --broadcast %s: expected ADDR or ADDR:PORT\n", o->broadcast);
        rc = 2;
    }
    char msg[300];
    if (!rc && !o->mstp && (m->udp.fd = lx_udp_open(o->bind, o->port, msg, sizeof msg)) < 0) {
        fprintf(stderr, "s4100 run: %s\n", msg);
        rc = 1;
    }
    if (rc) {
        sim_close(m->src);
        return rc;
    }
    obj_identity_t id;
    obj_identity_default(&id, o->serial);
    meter_init(&m->mt, &id, &m->cfg, o->password); /* the factory state, unless NV holds more */
    meter_set_nv(&m->mt, &(meter_nv_t){.ctx = m, .commit = durable, .sync = nv_sync});
    m->opts = o;
    /* Without explicit settings NV wins; options and the scenario's [meter] keys are a
     * commissioning act, applied over what NV holds as the panel would apply them. */
    app_settings_t none = {{0}, {0}};
    if (app_nv_start(m, &none, o->device_id) < 0) {
        rc = 1;
    } else if (app_settings_commission(&m->mt.dev, st, &m->cfg,
                                       scenario_named ? sim_scenario_meter_given(m->src) : 0,
                                       stdout) < 0 ||
               mstp_settings(m, o) < 0) {
        app_nv_close(m);
        rc = 2;
    } else if (o->mstp && mstp_start(m, o) < 0) {
        app_nv_close(m);
        rc = 1;
    }
    if (rc) {
        if (m->udp.fd >= 0)
            close(m->udp.fd);
        sim_close(m->src);
        return rc;
    }
    obj_commit_settings(&m->mt.dev); /* measured from the first sample with them */
    app_nv_sync(m, false);
    bip_port_t port = {.ctx = &m->udp, .send = lx_udp_batch_send};
    net_upper_t up = meter_upper(&m->mt);
    bip_init(&m->bip, &port, &self, &bcast, &up);
    net_link_t link = {.ctx = m, .send = bip_link_send, .max_npdu = BIP_MAX_NPDU};
    if (m->mstp_on)
        link = mstp_link(&m->mstp);
    meter_set_link(&m->mt, &link);
    return 0;
}

static void say_started(const app_meter_t *m, const run_opts_t *o)
{
    if (m->mstp_on)
        printf("s4100 run: device %u \"%s\", MS/TP on %s, MAC %u, %u baud, Max_Master %u, "
               "scenario %s\n", m->mt.dev.id.instance, m->mt.dev.id.name, o->mstp, m->mt.dev.id.mac,
               m->mt.dev.id.baud, m->mt.dev.id.max_master, o->comtrade ? o->comtrade : o->scenario);
    else
        printf("s4100 run: device %u \"%s\", BACnet/IP on %s:%u, scenario %s\n",
               m->mt.dev.id.instance, m->mt.dev.id.name, o->bind, o->port,
               o->comtrade ? o->comtrade : o->scenario);
    fflush(stdout);
}

/* The front panel, for a single meter on a terminal of which it is in the foreground:
 * in the background (say, under timeout(1)) drawing would stop the process with
 * SIGTTOU, so it runs headless instead. */
static bool open_panel(const run_opts_t *o, unsigned n)
{
    bool tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    bool fg = tty && tcgetpgrp(STDIN_FILENO) == getpgrp();
    if (o->no_panel || n > 1 || !tty)
        return false;
    if (!fg) {
        if (!o->quiet)
            printf("s4100 run: not in the terminal's foreground: no panel, headless\n");
        return false;
    }
    return lx_term_open();
}

/* N meters in one process: open each, serve them all from one loop, close each. */
static int run_meters(run_opts_t *o, const app_settings_t *st, bool scenario_named, unsigned n)
{
    app_meter_t **ms = calloc(n, sizeof *ms);
    meter_opts_t *mo = calloc(n, sizeof *mo);
    app_ctl_server_t *ctl = NULL; /* one per process: its buffers are not the meters' */
    lx_nv_group_t nvg = {0};
    lx_udp_rx_t *rx = malloc(sizeof *rx); /* one receive buffer for every socket */
    char nv_path[512], msg[300];
    int rc = ms && mo && rx ? 0 : 1;
    unsigned opened = 0;
    if (!o->nv_path && n == 1) {
        default_nv_path(o->serial, nv_path, sizeof nv_path);
        o->nv_path = nv_path;
    }
    for (unsigned k = 0; !rc && k < n; k++)
        rc = derive_opts(o, k, n, &mo[k]) < 0 ? 2 : 0;
    if (!rc)
        distinct_instances(mo, n);
    for (unsigned k = 0; !rc && k < n; k++) {
        if (!mo[k].o.nv_path) {
            default_nv_path(mo[k].o.serial, mo[k].nv_path, sizeof mo[k].nv_path);
            mo[k].o.nv_path = mo[k].nv_path;
        }
        if (!(ms[k] = calloc(1, sizeof *ms[k])))
            rc = 1;
        else if (!(rc = open_meter(ms[k], &mo[k].o, st, scenario_named)))
            opened++, app_meter_vary(ms[k], k, 4100), ms[k]->udp.rx = rx;
    }
    if (!rc && o->control && (!(ctl = malloc(sizeof *ctl)) ||
                              app_ctl_server_open(ctl, o->control, msg, sizeof msg) < 0)) {
        fprintf(stderr, "s4100 run: --control %s: %s\n", o->control, ctl ? msg : "out of memory");
        free(ctl);
        ctl = NULL;
        rc = 1;
    }
    if (!rc) {
        ms[0]->panel = open_panel(o, n);
        if (!o->quiet && !ms[0]->panel) {
            for (unsigned k = 0; k < n && k < 4; k++)
                say_started(ms[k], &mo[k].o);
            if (n > 4)
                printf("s4100 run: ... %u meters in all, ports %u..%u\n", n, mo[0].o.port,
                       mo[n - 1].o.port);
        }
        run_t r = {.ms = ms, .n = n, .o = o, .ctl = ctl, .nvg = n > 1 ? &nvg : NULL,
                   .pace = {.t0 = lx_now_s(), .scale = o->time_scale, .virtual_time = o->virtual_time}};
        for (unsigned k = 0; r.nvg && k < n; k++)
            if (lx_nv_group_add(&nvg, &ms[k]->nvf) < 0)
                r.nvg = NULL; /* out of memory: each save syncs on its own */
        rc = loop(&r);
    }
    for (unsigned k = 0; k < opened; k++)
        close_meter(ms[k]);
    lx_nv_group_free(&nvg);
    if (ctl) {
        app_ctl_server_close(ctl);
        free(ctl);
    }
    for (unsigned k = 0; ms && k < n; k++)
        free(ms[k]);
    free(ms);
    free(mo);
    free(rx);
    return rc;
}

int app_run(int argc, char **argv)
{
    run_opts_t o = {.bind = "0.0.0.0", .serial = "4100000001", .port = 47808, .device_id = -1,
                    .time_scale = 1.0, .mac = -1, .baud = -1, .max_master = -1, .meters = 1};
    app_settings_t st = {{0}, {0}};
    int rc = parse_opts(argc, argv, &o, &st);
    if (rc)
        return rc == 1 ? 0 : rc;
    /* A scenario named on the command line commissions the meter with its [meter] keys;
     * the default one only shapes the factory state of a new store. */
    bool scenario_named = o.scenario != NULL;
    if (!o.scenario)
        o.scenario = app_default_scenario();
    /* A reader gone from a pipe or socket is an error to handle where it happens, never
     * a reason to die without saving NV. */
    signal(SIGPIPE, SIG_IGN);
    return run_meters(&o, &st, scenario_named, o.meters);
}
