/*
 * s4100 run: the virtual meter in real time. The simulated front end feeds the engine
 * 2520 sample sets a second, paced by the monotonic clock; BACnet/IP is served from the
 * same single-threaded poll loop; SIGINT/SIGTERM (through a signalfd) stop it cleanly.
 */
#define _GNU_SOURCE
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meter.h"
#include "term.h"

enum { OPT_BIP_PORT = 256, OPT_BIND, OPT_BROADCAST, OPT_DEVICE_ID, OPT_SERIAL, OPT_SCENARIO,
       OPT_PASSWORD, OPT_NO_PANEL, OPT_SECONDS, OPT_QUIET, OPT_HELP, OPT_CONTROL, OPT_TIME_SCALE,
       OPT_NV, OPT_NV_RESET, OPT_MSTP, OPT_MAC, OPT_BAUD, OPT_MAX_MASTER, OPT_PCAP };

#define CHUNK 256 /* sample sets per engine call: 0.1 s, so BACnet waits little */


static void usage(FILE *f)
{
    fputs("usage: s4100 run [options]\n"
          "Runs the meter in real time on a scenario and serves BACnet/IP.\n"
          "  --scenario FILE        the load (default: scenarios/default.ini, rooftop PV)\n"
          "  --bip-port N           UDP port (default 47808)\n"
          "  --bind ADDR            local address (default 0.0.0.0, so broadcasts are heard)\n"
          "  --broadcast ADDR[:PORT] where I-Am/I-Have go (default 255.255.255.255, or\n"
          "                         127.255.255.255 when bound to loopback; port: --bip-port)\n"
          "  --device-id N          Device instance, 1..4193999 (default: the factory value,\n"
          "                         pseudo-random 1000000..3097151 from the serial number)\n"
          "  --serial S             serial number (default 4100000001)\n"
          "  --bacnet-password PW   password DCC and ReinitializeDevice must carry (1..20)\n"
          "  --seconds N            stop after N meter seconds (default: run until SIGINT/SIGTERM)\n"
          "  --time-scale X         run the sample stream and the meter's clock X times faster\n"
          "                         than wall time, 0.1..10000 (BACnet timing stays real)\n"
          "  --control PATH         a Unix socket for 's4100 ctl' (status, power, load changes)\n"
          "  --mstp DEVICE          BACnet MS/TP on a serial port or pty instead of BACnet/IP:\n"
          "    --mac N              MS/TP MAC, 0..127 (default 1, then as kept in NV)\n"
          "    --baud N             9600, 19200, 38400, 76800 (default), 115200\n"
          "    --max-master N       1..127 (default 127), not below the MAC\n"
          "    --pcap FILE          capture every frame seen (link type 165, for Wireshark)\n"
          "  --nv FILE              the meter's non-volatile memory (default:\n"
          "                         ~/.local/state/s4100/s4100-SERIAL.nv)\n"
          "  --nv-factory-reset     discard that file first: a meter fresh from the factory\n"
          "  --quiet                no status line\n"
          "  --no-panel             headless: no front panel even on a terminal (without a\n"
          "                         terminal the meter always runs headless)\n",
          f);
    app_settings_usage(f);
}

static int parse_opts(int argc, char **argv, run_opts_t *o, app_settings_t *st)
{
    static struct option opts[APP_N_SETTINGS + 21] = { /* 20 own + settings + the end */
        {"bip-port", required_argument, NULL, OPT_BIP_PORT},
        {"bind", required_argument, NULL, OPT_BIND},
        {"broadcast", required_argument, NULL, OPT_BROADCAST},
        {"device-id", required_argument, NULL, OPT_DEVICE_ID},
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"scenario", required_argument, NULL, OPT_SCENARIO},
        {"bacnet-password", required_argument, NULL, OPT_PASSWORD},
        {"no-panel", no_argument, NULL, OPT_NO_PANEL},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
        {"nv", required_argument, NULL, OPT_NV},
        {"nv-factory-reset", no_argument, NULL, OPT_NV_RESET},
        {"mstp", required_argument, NULL, OPT_MSTP},
        {"mac", required_argument, NULL, OPT_MAC},
        {"baud", required_argument, NULL, OPT_BAUD},
        {"max-master", required_argument, NULL, OPT_MAX_MASTER},
        {"pcap", required_argument, NULL, OPT_PCAP},
    };
    _Static_assert(sizeof opts / sizeof opts[0] == 20 + APP_N_SETTINGS + 1, "option table size");
    app_settings_options(opts + 20);
    int c;
    double v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BIP_PORT:
            if (app_parse_number("run", "bip-port", optarg, &v) || v < 1 || v > 65535 || v != floor(v)) {
                fprintf(stderr, "s4100 run: --bip-port must be 1..65535\n");
                return 2;
            }
            o->port = (uint16_t)v;
            break;
        case OPT_BIND: o->bind = optarg; break;
        case OPT_BROADCAST: o->broadcast = optarg; break;
        case OPT_DEVICE_ID:
            if (app_parse_number("run", "device-id", optarg, &v) || v != floor(v) ||
                v < OBJ_INSTANCE_MIN || v > OBJ_INSTANCE_MAX) {
                fprintf(stderr, "s4100 run: --device-id must be %u..%u\n", OBJ_INSTANCE_MIN,
                        OBJ_INSTANCE_MAX);
                return 2;
            }
            o->device_id = (long)v;
            break;
        case OPT_SERIAL:
            if (!*optarg || strlen(optarg) > OBJ_SERIAL_MAX) {
                fprintf(stderr, "s4100 run: --serial must be 1..%d characters\n", OBJ_SERIAL_MAX);
                return 2;
            }
            o->serial = optarg;
            break;
        case OPT_SCENARIO: o->scenario = optarg; break;
        case OPT_PASSWORD:
            if (!*optarg || strlen(optarg) > BAC_PASSWORD_MAX) {
                fprintf(stderr, "s4100 run: --bacnet-password must be 1..%u characters\n",
                        BAC_PASSWORD_MAX);
                return 2;
            }
            o->password = optarg;
            break;
        case OPT_NO_PANEL: o->no_panel = true; break;
        case OPT_SECONDS:
            if (app_parse_number("run", "seconds", optarg, &v) || v < 1 || v > 1e9 || v != floor(v)) {
                fprintf(stderr, "s4100 run: --seconds must be a whole number >= 1\n");
                return 2;
            }
            o->seconds = (unsigned)v;
            break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_CONTROL: o->control = optarg; break;
        case OPT_NV: o->nv_path = optarg; break;
        case OPT_MSTP: o->mstp = optarg; break;
        case OPT_PCAP: o->pcap = optarg; break;
        case OPT_MAC:
            if (app_parse_number("run", "mac", optarg, &v) || v < 0 || v > 127 || v != floor(v)) {
                fprintf(stderr, "s4100 run: --mac must be 0..127\n");
                return 2;
            }
            o->mac = (long)v;
            break;
        case OPT_BAUD:
            if (app_parse_number("run", "baud", optarg, &v) || !obj_baud_valid((uint32_t)v) ||
                v != floor(v)) {
                fprintf(stderr, "s4100 run: --baud must be 9600, 19200, 38400, 76800 or 115200\n");
                return 2;
            }
            o->baud = (long)v;
            break;
        case OPT_MAX_MASTER:
            if (app_parse_number("run", "max-master", optarg, &v) || v < 1 || v > 127 || v != floor(v)) {
                fprintf(stderr, "s4100 run: --max-master must be 1..127\n");
                return 2;
            }
            o->max_master = (long)v;
            break;
        case OPT_NV_RESET: o->nv_factory_reset = true; break;
        case OPT_TIME_SCALE:
            if (app_parse_number("run", "time-scale", optarg, &v) || v < 0.1 || v > 10000) {
                fprintf(stderr, "s4100 run: --time-scale must be 0.1..10000\n");
                return 2;
            }
            o->time_scale = v;
            break;
        case OPT_HELP: usage(stdout); return 1;
        default: {
            int rc = app_settings_take(st, c, optarg, "run");
            if (rc <= 0) {
                if (rc == 0)
                    usage(stderr);
                return 2;
            }
        }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "s4100 run: unexpected argument '%s'\n", argv[optind]);
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
    if (colon && (app_parse_number("run", "broadcast", colon + 1, &port) || port < 1 ||
                  port > 65535 || port != floor(port)))
        return false;
    return bip_addr_parse(ip, (uint16_t)port, out);
}


static void status_line(const meter_t *m)
{
    const float *ai = m->dev.mtr.ai;
    printf("[%6u s] P %9.3f kW  Q %9.3f kVAR  PF %6.3f  VLN %7.2f V  I %8.2f A  f %6.2f Hz"
           "  kWh +%.3f -%.3f  alerts 0x%04x  bip rx %u tx %u\n",
           m->dev.mtr.cycles, (double)ai[MTR_AI_KW], (double)ai[MTR_AI_KVAR],
           (double)ai[MTR_AI_PF], (double)ai[MTR_AI_VLN_AVG], (double)ai[MTR_AI_I_AVG],
           (double)ai[MTR_AI_FREQ], (double)ai[MTR_AI_KWH_IMP], (double)ai[MTR_AI_KWH_EXP],
           m->dev.mtr.alarms, m->bip.rx, m->bip.tx);
    fflush(stdout);
}

static void announce(meter_t *m)
{
    if (m->mstp_on) {
        mstp_announce(&m->mstp); /* sent when the node next holds the token */
        return;
    }
    uint8_t npdu[64];
    size_t n = bac_server_i_am(&m->srv, npdu, sizeof npdu);
    if (n)
        bip_send(&m->bip, NULL, npdu, n);
    lx_udp_batch_flush(&m->udp);
}

/* ReinitializeDevice: the application restarts; NV, identity, settings and the running
 * clock survive (it is not a power loss, DECISIONS M16). */
static void restart(meter_t *m)
{
    obj_restart(&m->dev, false);
    announce(m);
}

/* Control power off: the meter stops measuring and answering; what NV holds is what
 * survives (the engine's registers, settings, identity and logs stay in place). */
static void power_off(meter_t *m)
{
    app_nv_sync(m, true); /* the ride-through: everything is saved before the lights go */
    m->powered = false;
}

static void power_on(meter_t *m)
{
    if (app_nv_reload(m) < 0)
        obj_restart(&m->dev, true); /* the store went bad meanwhile: keep what RAM had */
    ui_init(&m->ui, &m->dev); /* the panel starts on its home screen */
    m->powered = true;
    announce(m);
}

static void status_json(meter_t *m, FILE *f)
{
    obj_datetime_t dt;
    obj_clock_get(&m->dev, &dt);
    const mtr_t *e = &m->dev.mtr;
    static const char *const dcc[] = {"enable", "disable", "disable-initiation"};
    fprintf(f, "{\"powered\":%s,\"device_id\":%u,\"cycles\":%u,\"sim_time\":%.3f,"
               "\"clock\":\"%04d-%02d-%02dT%02d:%02d:%02d\",\"alarms\":%u,\"alarm_output\":\"%s\","
               "\"dcc\":\"%s\",\"bip\":{\"rx\":%u,\"tx\":%u,\"dropped\":%u},\"readings\":{",
            m->powered ? "true" : "false", m->dev.id.instance, e->cycles, sim_time(m->src),
            1900 + dt.date.year, dt.date.month, dt.date.day, dt.time.hour, dt.time.min, dt.time.sec,
            e->alarms,
            (!m->powered || (e->alarms & MTR_ALARM_OUTPUT_MASK)) ? "open" : "closed",
            dcc[m->srv.dcc % 3], m->bip.rx, m->bip.tx, m->bip.dropped);
    app_json_readings(f, e);
    fputs("}}\n", f);
}

/* One control command; the answer goes into a heap string the caller frees. */
static char *command(meter_t *m, char *line)
{
    char *ans = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&ans, &len);
    char *argv[8];
    int argc = 0;
    for (char *t = strtok(line, " \t"); t && argc < 8; t = strtok(NULL, " \t"))
        argv[argc++] = t;
    if (argc == 0) {
        fputs("error: empty command (try 'help')\n", f);
    } else if (!strcmp(argv[0], "status") && argc == 1) {
        status_json(m, f);
    } else if (!strcmp(argv[0], "help") && argc == 1) {
        fputs("ok: status | power off | power on | set KEY VALUE [over SECONDS] | "
              "key up|down|select|back | display\n", f);
    } else if ((!strcmp(argv[0], "key") && argc == 2) || (!strcmp(argv[0], "display") && argc == 1)) {
        ui_key_t key;
        if (argc == 2 && !ui_key_parse(argv[1], &key)) {
            fprintf(f, "error: key '%s': up, down, select or back\n", argv[1]);
        } else if (!m->powered) {
            fputs("error: the meter is powered off: its display is dark\n", f);
        } else {
            if (argc == 2)
                ui_key(&m->ui, key);
            m->panel_dirty = true;
            ui_display_t d;
            ui_render(&m->ui, &d);
            fprintf(f, "%s\n%s\n", d.text[0], d.text[1]);
        }
    } else if (!strcmp(argv[0], "power") && argc == 2 && !strcmp(argv[1], "off")) {
        if (m->powered)
            power_off(m);
        fputs("ok: power off\n", f);
    } else if (!strcmp(argv[0], "power") && argc == 2 && !strcmp(argv[1], "on")) {
        if (!m->powered)
            power_on(m);
        fputs("ok: power on\n", f);
    } else if (!strcmp(argv[0], "set") && (argc == 3 || (argc == 5 && !strcmp(argv[3], "over")))) {
        sim_err_t err = {{0}};
        double secs = 0;
        char *end = NULL;
        if (argc == 5)
            secs = strtod(argv[4], &end);
        if (argc == 5 && (end == argv[4] || *end || !(secs >= 0) || secs > 1e7)) {
            fprintf(f, "error: over '%s': not a number of seconds\n", argv[4]);
        } else if ((argc == 5 ? sim_set_ramp(m->src, argv[1], argv[2], secs, &err)
                              : sim_set(m->src, argv[1], argv[2], &err)) < 0) {
            fprintf(f, "error: %s\n", err.msg[0] ? err.msg : "refused");
        } else {
            fprintf(f, "ok: %s = %s\n", argv[1], argv[2]);
        }
    } else {
        fprintf(f, "error: unknown command '%s' (try 'help')\n", argv[0]);
    }
    fclose(f);
    return ans;
}

/* Feed n frames, switching the pulse input where the scenario's contact changes. */
static void feed(meter_t *m, mtr_frame_t *x, const uint8_t *pulse, size_t n, bool quiet,
                 unsigned *cycles_left)
{
    size_t off = 0;
    while (off < n) {
        size_t run = 1;
        while (off + run < n && pulse[off + run] == pulse[off])
            run++;
        mtr_pulse_input(&m->dev.mtr, pulse[off] != 0);
        size_t done = 0;
        while (done < run) {
            bool cycle = false;
            done += mtr_feed(&m->dev.mtr, x + off + done, run - done, &cycle);
            if (cycle) {
                obj_cycle(&m->dev);
                app_nv_sync(m, false);
                /* At most a line per wall second, whatever the time scale. */
                m->panel_dirty = true;
                if (!quiet && !m->panel && lx_now_s() - m->last_status >= 0.9) {
                    status_line(m);
                    m->last_status = lx_now_s();
                }
                if (*cycles_left && --*cycles_left == 0)
                    return;
            }
        }
        off += run;
    }
}

static void mstp_follow_identity(meter_t *m);

static void draw_panel(meter_t *m)
{
    ui_display_t d;
    char title[160], state[200];
    if (m->powered) {
        ui_render(&m->ui, &d);
    } else {
        memset(&d, 0, sizeof d);
        for (int r = 0; r < UI_ROWS; r++)
            memset(d.text[r], ' ', UI_COLS);
    }
    snprintf(title, sizeof title, "s4100 - %s - device %u", m->dev.id.name, m->dev.id.instance);
    static const char *const dcc[] = {"enabled", "disabled", "initiation disabled"};
    snprintf(state, sizeof state,
             "%s | BACnet/IP :%u rx %u tx %u, communication %s | alerts 0x%04x | %u s",
             m->powered ? "powered" : "POWER OFF", m->opts->port, m->bip.rx, m->bip.tx,
             dcc[m->srv.dcc % 3], m->dev.mtr.alarms, m->dev.mtr.cycles);
    lx_term_draw(&d, title, state);
    m->panel_dirty = false;
}

static int loop(meter_t *m, const run_opts_t *o)
{
    int sfd = lx_signals_open();
    if (sfd < 0) {
        perror("s4100 run: signalfd");
        return 1;
    }
    static mtr_frame_t buf[CHUNK];
    static uint8_t pulse[CHUNK];
    unsigned cycles_left = o->seconds;
    double t0 = lx_now_s();
    uint64_t produced = 0, max_lag = 0;
    double last_tick = lx_now_s(), last_draw = 0;
    sim_err_t err = {{0}};
    int rc = 0;
    double hangup_until = 0;
    if (!m->mstp_on)
        announce(m); /* an MS/TP node queued its own when it started */
    for (;;) {
        /* Samples owed to the engine by now: real time is the sample clock. */
        uint64_t due = (uint64_t)((lx_now_s() - t0) * MTR_FS * o->time_scale);
        if (due > produced && due - produced > max_lag)
            max_lag = due - produced;
        while (produced < due) {
            size_t n = due - produced > CHUNK ? CHUNK : (size_t)(due - produced);
            long got = sim_read(m->src, buf, pulse, n, &err);
            if (got <= 0) {
                fprintf(stderr, "s4100 run: %s\n", got < 0 ? err.msg : "the recording ended");
                rc = got < 0 ? 1 : 0;
                goto out;
            }
            produced += (uint64_t)got;
            if (!m->powered)
                continue; /* time passes, the meter sees nothing */
            sim_afe(&m->dev.mtr.cfg, buf, (size_t)got);
            feed(m, buf, pulse, (size_t)got, o->quiet, &cycles_left);
            if (o->seconds && cycles_left == 0)
                goto out;
            if (n == CHUNK)
                break; /* let the network in between chunks */
        }
        double next = t0 + (double)(produced + 1) / (MTR_FS * o->time_scale);
        int wait_ms = (int)ceil((next - lx_now_s()) * 1000.0);
        if (wait_ms < 0 || produced < due)
            wait_ms = 0;
        if (m->panel && wait_ms > 50)
            wait_ms = 50; /* the display blinks and its clock runs */
        if (m->mstp_on && wait_ms > 1)
            wait_ms = 1; /* MS/TP timers want a tick every millisecond */
        int link_fd = m->mstp_on ? (lx_now_s() < hangup_until ? -1 : m->ml.fd) : m->udp.fd;
        struct pollfd pf[4] = {{.fd = link_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN},
                               {.fd = m->ctl, .events = POLLIN},
                               {.fd = m->panel ? STDIN_FILENO : -1, .events = POLLIN}};
        if (poll(pf, 4, wait_ms) < 0)
            continue;
        double now_s = lx_now_s();
        ui_tick(&m->ui, (uint32_t)((now_s - last_tick) * 1000.0));
        last_tick = now_s;
        if (m->panel && (pf[3].revents & POLLIN)) {
            ui_key_t key;
            int k;
            while ((k = lx_term_key(&key)) != 0) {
                if (k < 0)
                    goto out; /* q */
                if (k == 1 && m->powered)
                    ui_key(&m->ui, key);
                m->panel_dirty = true;
            }
            app_nv_sync(m, false);
        }
        if (m->panel && (m->panel_dirty || now_s - last_draw > 0.1)) {
            draw_panel(m);
            last_draw = now_s;
        }
        if (m->ctl >= 0 && (pf[2].revents & POLLIN)) {
            char line[512];
            int cfd = app_control_accept(m->ctl, line, sizeof line);
            if (cfd >= 0) {
                char *ans = command(m, line);
                app_nv_sync(m, false);
                app_control_reply(cfd, ans ? ans : "error: out of memory\n");
                free(ans);
            }
        }
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) > 0) {
                if (!o->quiet)
                    printf("s4100 run: stopping on signal %u\n", si.ssi_signo);
                goto out;
            }
        }
        if (m->mstp_on) {
            if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                uint32_t writes = m->dev.writes;
                if (!m->powered) {
                    uint8_t sink[512]; /* an unpowered meter hears nothing */
                    if (read(m->ml.fd, sink, sizeof sink) <= 0)
                        hangup_until = lx_now_s() + 0.1;
                } else if (lx_mstp_drain(&m->ml, &m->mstp) < 0) {
                    hangup_until = lx_now_s() + 0.1; /* a pty with nobody on the other end */
                }
                if (m->dev.writes != writes)
                    mstp_follow_identity(m);
            }
            if (m->powered)
                mstp_tick(&m->mstp, lx_now_us());
            if (bac_server_reinit_requested(&m->srv, NULL))
                restart(m);
        } else if (pf[0].revents & POLLIN) {
            /* Everything queued in one recvmmsg, the answers in one sendmmsg; a few
             * rounds at most, then back to the samples. */
            for (int round = 0; round < 4; round++) {
                int n = lx_udp_batch_recv(&m->udp);
                if (!m->powered)
                    continue; /* an unpowered meter hears nothing */
                uint32_t now = lx_now_ms();
                for (int k = 0; k < n; k++) {
                    bip_receive(&m->bip, now, &m->udp.rx_from[k], m->udp.rx[k], m->udp.rx_len[k]);
                    if (bac_server_reinit_requested(&m->srv, NULL)) {
                        app_nv_sync(m, false);
                        lx_udp_batch_flush(&m->udp); /* the ACK goes out first */
                        restart(m);
                    }
                }
                app_nv_sync(m, false); /* an acknowledged write is durable before its ACK */
                lx_udp_batch_flush(&m->udp);
                if (n < LX_UDP_BATCH)
                    break;
            }
        }
        if (!m->mstp_on)
            bac_server_tick(&m->srv, lx_now_ms()); /* MS/TP ticks it on its own clock */
    }
out:
    if (m->panel)
        lx_term_close();
    /* How far the engine ever fell behind real time (samples are never dropped: a
     * late engine catches up), and what the link saw. */
    if (!o->quiet || o->seconds)
        printf("s4100 run: %u cycles, %llu sample sets, engine max lag %.1f ms, bip rx %u tx %u "
               "dropped %u\n", m->dev.mtr.cycles, (unsigned long long)m->dev.mtr.n,
               (double)max_lag * 1000.0 / MTR_FS, m->bip.rx, m->bip.tx, m->bip.dropped);
    fflush(stdout);
    close(sfd);
    return rc;
}

/* An accepted write: durable before its acknowledgement is encoded (bac_server hook). */
static void durable(void *ctx)
{
    app_nv_sync(ctx, false);
}

/* --mac, --baud, --max-master: set like the panel sets them, checked, kept in NV. */
static int mstp_settings(meter_t *m, const run_opts_t *o)
{
    obj_identity_t *id = &m->dev.id;
    long mac = o->mac >= 0 ? o->mac : id->mac, mm = o->max_master >= 0 ? o->max_master : id->max_master;
    if (mac > mm) {
        fprintf(stderr, "s4100 run: MAC %ld is above Max_Master %ld: poll-for-master would never "
                        "reach it\n", mac, mm);
        return -1;
    }
    if (o->mac < 0 && o->max_master < 0 && o->baud < 0)
        return 0;
    id->mac = (uint8_t)mac;
    id->max_master = (uint8_t)mm;
    if (o->baud >= 0)
        id->baud = (uint32_t)o->baud;
    m->dev.writes++;
    app_nv_sync(m, false);
    return 0;
}

static int mstp_start(meter_t *m, const run_opts_t *o)
{
    char err[300];
    mstp_port_t port;
    if (o->pcap && !(m->pcap = lx_pcap_open(o->pcap, err, sizeof err))) {
        fprintf(stderr, "s4100 run: %s\n", err);
        return -1;
    }
    if (lx_mstp_open(&m->ml, o->mstp, m->dev.id.baud, m->pcap, &port, err, sizeof err) < 0) {
        fprintf(stderr, "s4100 run: %s\n", err);
        lx_pcap_close(m->pcap);
        return -1;
    }
    mstp_config_t cfg;
    mstp_config_default(&cfg, &m->dev.id);
    if (!mstp_init(&m->mstp, &port, &cfg, &m->srv, lx_now_us())) {
        fprintf(stderr, "s4100 run: MS/TP settings out of range (MAC %u, Max_Master %u, %u baud)\n",
                m->dev.id.mac, m->dev.id.max_master, m->dev.id.baud);
        lx_mstp_close(&m->ml);
        lx_pcap_close(m->pcap);
        return -1;
    }
    m->mstp_on = true;
    return 0;
}

/* Settings changed on the panel or over BACnet take effect on the link. */
static void mstp_follow_identity(meter_t *m)
{
    uint32_t baud = m->mstp.cfg.baud;
    mstp_apply_identity(&m->mstp, &m->dev.id, lx_now_us());
    if (m->mstp.cfg.baud != baud)
        lx_mstp_set_baud(&m->ml, m->mstp.cfg.baud);
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

int app_run(int argc, char **argv)
{
    run_opts_t o = {.bind = "0.0.0.0", .serial = "4100000001", .port = 47808, .device_id = -1,
                    .time_scale = 1.0, .mac = -1, .baud = -1, .max_master = -1};
    app_settings_t st = {{0}, {0}};
    int rc = parse_opts(argc, argv, &o, &st);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!o.scenario)
        o.scenario = app_default_scenario();

    static meter_t m;
    sim_err_t err = {{0}};
    if (sim_open_scenario(&m.src, o.scenario, &err) < 0) {
        fprintf(stderr, "s4100 run: %s\n", err.msg);
        return 1;
    }
    mtr_config_default(&m.cfg);
    sim_scenario_meter(m.src, &m.cfg);
    if (mtr_config_check(&m.cfg) != MTR_OK) {
        fprintf(stderr, "s4100 run: %s: the [meter] settings are out of range\n", o.scenario);
        sim_close(m.src);
        return 1;
    }
    mtr_config_t check = m.cfg; /* options are checked now, applied over what NV holds */
    if (app_settings_apply(&st, &check, "run") < 0) {
        sim_close(m.src);
        return 2;
    }
    bip_addr_t self, bcast;
    if (!bip_addr_parse(o.bind, o.port, &self)) {
        fprintf(stderr, "s4100 run: --bind %s: not an IPv4 address\n", o.bind);
        sim_close(m.src);
        return 2;
    }
    if (!parse_broadcast(&o, &bcast)) {
        fprintf(stderr, "s4100 run: --broadcast %s: expected ADDR or ADDR:PORT\n", o.broadcast);
        sim_close(m.src);
        return 2;
    }
    char msg[300];
    m.udp.fd = -1;
    if (!o.mstp && (m.udp.fd = lx_udp_open(o.bind, o.port, msg, sizeof msg)) < 0) {
        fprintf(stderr, "s4100 run: %s\n", msg);
        sim_close(m.src);
        return 1;
    }

    m.ctl = -1;
    if (o.control && (m.ctl = app_control_listen(o.control, msg, sizeof msg)) < 0) {
        fprintf(stderr, "s4100 run: %s\n", msg);
        close(m.udp.fd);
        sim_close(m.src);
        return 1;
    }
    char nv_path[512];
    if (!o.nv_path) {
        default_nv_path(o.serial, nv_path, sizeof nv_path);
        o.nv_path = nv_path;
    }
    obj_identity_t id;
    obj_identity_default(&id, o.serial);
    obj_init(&m.dev, &id, &m.cfg, NULL); /* the factory state, unless NV holds more */
    m.opts = &o;
    if (app_nv_start(&m, &st, o.device_id) < 0) {
        if (m.ctl >= 0)
            close(m.ctl), unlink(o.control);
        close(m.udp.fd);
        sim_close(m.src);
        return 1;
    }
    bac_server_init(&m.srv, &m.dev, o.password);
    m.srv.on_write = durable;
    m.srv.on_write_ctx = &m;
    m.powered = true;
    if (mstp_settings(&m, &o) < 0 || (o.mstp && mstp_start(&m, &o) < 0)) {
        app_nv_close(&m);
        if (m.ctl >= 0)
            close(m.ctl), unlink(o.control);
        sim_close(m.src);
        return o.mstp ? 1 : 2;
    }
    ui_init(&m.ui, &m.dev);
    m.panel = !o.no_panel && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && lx_term_open();
    bip_port_t port = {.ctx = &m.udp, .send = lx_udp_batch_send};
    bip_init(&m.bip, &port, &self, &bcast, &m.srv);
    if (!o.quiet && !m.panel) {
        if (m.mstp_on)
            printf("s4100 run: device %u \"%s\", MS/TP on %s, MAC %u, %u baud, Max_Master %u, "
                   "scenario %s\n", m.dev.id.instance, m.dev.id.name, o.mstp, m.dev.id.mac,
                   m.dev.id.baud, m.dev.id.max_master, o.scenario);
        else
            printf("s4100 run: device %u \"%s\", BACnet/IP on %s:%u, scenario %s\n",
                   m.dev.id.instance, m.dev.id.name, o.bind, o.port, o.scenario);
        fflush(stdout);
    }
    rc = loop(&m, &o);
    app_nv_close(&m);
    if (m.mstp_on) {
        printf("s4100 run: mstp: %u frames in, %u out, %u tokens, %u lost, %u invalid, "
               "replies %u (worst latency %.3f ms), pcap frames %llu\n", m.mstp.rx.c.frames,
               m.mstp.c.tx_frames, m.mstp.c.tokens_received, m.mstp.c.lost_tokens,
               m.mstp.c.invalid_frames, m.mstp.c.replies, m.mstp.c.reply_latency_max_us / 1000.0,
               (unsigned long long)(m.pcap ? lx_pcap_frames(m.pcap) : 0));
        lx_mstp_close(&m.ml);
        lx_pcap_close(m.pcap);
    }
    if (m.udp.fd >= 0)
        close(m.udp.fd);
    if (m.ctl >= 0) {
        close(m.ctl);
        unlink(o.control);
    }
    sim_close(m.src);
    return rc;
}
