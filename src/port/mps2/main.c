/*
 * The s4100 firmware's main loop on mps2-an386: one meter_t, its MS/TP node on UART0,
 * its NV store on the emulated flash (the core's persist policy), and the synthetic
 * front end feeding the engine at its sample rate, paced by the SysTick clock. It wires
 * the core the way src/app/run.c does on Linux (an mstp_t whose port writes the UART,
 * the meter as the layer above, the meter's link the node's queue), without an OS.
 *
 * The command line (semihosting SYS_GET_CMDLINE: QEMU's -append) takes key=value words:
 *   mac=N device=N baud=N max_master=N   commissioning, applied over what NV holds
 *   nv=PATH                              the flash's backing file on the host
 *   selftest                             the flash's self-test instead (selftest.c)
 * Without them: the factory identity, MAC FW_MAC (default 1), FW_BAUD (38400), and a
 * flash that lives as long as QEMU.
 */
#include <string.h>

#include "flash.h"
#include "gen.h"
#include "meter/meter.h"
#include "mps2.h"
#include "mstp/mstp.h"
#include "persist/persist.h"
#include "selftest.h"

#ifndef FW_MAC
#define FW_MAC 1
#endif
#ifndef FW_BAUD
#define FW_BAUD 38400
#endif
#ifndef FW_SERIAL
#define FW_SERIAL "FW4100000001"
#endif
#define FW_BLOCK 63u           /* sample sets a feed: 25 ms, 1.5 line cycles */
#define FW_STATUS_MS 5000u     /* a status line on the console this often */

typedef struct {
    long mac, device, baud, max_master; /* -1: not given */
    bool selftest;
    char nv[200];
} fw_opts_t;

typedef struct {
    meter_t m;
    mstp_t mstp;
    pst_t pst;
    bool nv_on;
    flash_t flash;
    gen_t gen;
    uint32_t last_rx_us; /* the last octet received: Tturnaround counts from it */
    bool have_rx;
    uint32_t start_ms;
    uint64_t sets;       /* sample sets fed */
    uint32_t late_ms;    /* the worst lag of the feed behind the clock */
    uint32_t feed_us;    /* the longest feed (a cycle completing: engine, objects, NV) */
    uint32_t writes;     /* dev.writes when the link last followed the identity */
    mtr_frame_t x[FW_BLOCK];
    uint8_t pulse[FW_BLOCK];
} fw_t;

static fw_t fw;

/* ---- the command line ----------------------------------------------------------------- */

static long number(const char *s)
{
    long v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    return *s ? -1 : v;
}

static void parse_word(fw_opts_t *o, const char *w)
{
    if (!strncmp(w, "mac=", 4))
        o->mac = number(w + 4);
    else if (!strncmp(w, "device=", 7))
        o->device = number(w + 7);
    else if (!strncmp(w, "baud=", 5))
        o->baud = number(w + 5);
    else if (!strncmp(w, "max_master=", 11))
        o->max_master = number(w + 11);
    else if (!strcmp(w, "selftest"))
        o->selftest = true;
    else if (!strncmp(w, "nv=", 3) && strlen(w + 3) < sizeof o->nv)
        strcpy(o->nv, w + 3);
}

static void parse_cmdline(fw_opts_t *o)
{
    char line[400];
    *o = (fw_opts_t){-1, -1, -1, -1, false, ""};
    if (sh_cmdline(line, sizeof line) != 0)
        return;
    line[sizeof line - 1] = '\0';
    for (char *w = line; *w;) {
        char *end = strchr(w, ' ');
        if (end)
            *end = '\0';
        parse_word(o, w);
        if (!end)
            break;
        w = end + 1;
    }
}

/* ---- the MS/TP port ----------------------------------------------------------------- */

/* A whole frame out, after Tturnaround (40 bit times after the last octet received). */
static int port_send(void *ctx, const uint8_t *frame, size_t n)
{
    fw_t *f = ctx;
    if (f->have_rx) {
        uint32_t turn = (MSTP_TURNAROUND_BITS * 1000000u + f->mstp.cfg.baud - 1u) / f->mstp.cfg.baud;
        while ((int32_t)(systick_us() - (f->last_rx_us + turn)) < 0)
            ;
    }
    uart0_write(frame, n);
    return 0;
}

static void mstp_config_of(const obj_identity_t *id, mstp_config_t *c)
{
    mstp_config_default(c);
    c->mac = id->mac;
    c->max_master = id->max_master;
    c->max_info_frames = id->max_info_frames;
    c->baud = id->baud;
    /* QEMU hands over octets as the host's pty delivers them: a frame can pause for a
     * host scheduling slice. The longest Tframe_abort and usage timeout Clause 9 allows
     * ride that out (docs/firmware.md). */
    c->frame_abort_us = MSTP_FRAME_ABORT_MAX_US;
    c->usage_timeout_us = MSTP_USAGE_TIMEOUT_MAX_US;
}

/* Octets the interrupt took in, each with the time it completed. */
static bool drain_rx(fw_t *f)
{
    uint8_t c;
    uint32_t t;
    bool any = false;
    while (uart0_get(&c, &t)) {
        mstp_rx(&f->mstp, c, t);
        f->last_rx_us = t;
        f->have_rx = true;
        any = true;
    }
    return any;
}

/* MAC, Max_Master, baud follow the device's identity, however it was written. */
static void follow_identity(fw_t *f)
{
    if (f->m.dev.writes == f->writes)
        return;
    f->writes = f->m.dev.writes;
    mstp_config_t want;
    mstp_config_of(&f->m.dev.id, &want);
    unsigned changed = mstp_reconfigure(&f->mstp, &want, systick_us());
    if (changed & MSTP_NEW_BAUD)
        uart0_set_baud(f->mstp.cfg.baud);
    if (changed & MSTP_NEW_MAC)
        meter_announce(&f->m);
}

/* ---- start-up ------------------------------------------------------------------------- */

static void factory(fw_t *f, mtr_config_t *cfg)
{
    obj_identity_t id;
    obj_identity_default(&id, FW_SERIAL);
    id.mac = FW_MAC;
    id.baud = FW_BAUD;
    /* The default scenario's [meter] section: 480Y/277 V, 200 A CTs. */
    mtr_config_default(cfg);
    mtr_setting_set(cfg, MTR_SET_SYSTEM_TYPE, 40);
    mtr_setting_set(cfg, MTR_SET_CT_PRIMARY, 200);
    mtr_setting_set(cfg, MTR_SET_CT_SECONDARY, 1);
    mtr_setting_set(cfg, MTR_SET_PT_RATIO, 1);
    mtr_setting_set(cfg, MTR_SET_SYSTEM_VOLTAGE, 480);
    meter_init(&f->m, &id, cfg, NULL);
}

static void commission(fw_t *f, const fw_opts_t *o)
{
    obj_identity_t *id = &f->m.dev.id;
    bool any = false;
    if (o->device >= (long)OBJ_INSTANCE_MIN && o->device <= (long)OBJ_INSTANCE_MAX)
        id->instance = (uint32_t)o->device, any = true;
    if (o->max_master >= 1 && o->max_master <= 127)
        id->max_master = (uint8_t)o->max_master, any = true;
    if (o->mac >= 0 && o->mac <= id->max_master)
        id->mac = (uint8_t)o->mac, any = true;
    if (o->baud > 0 && obj_baud_valid((uint32_t)o->baud))
        id->baud = (uint32_t)o->baud, any = true;
    if (any)
        f->m.dev.writes++; /* kept by the first checkpoint */
}

/* v with three decimals, for a console without printf's %f. */
static char *milli(char *out, float v)
{
    int32_t m = (int32_t)(v * 1000.0f + (v < 0 ? -0.5f : 0.5f));
    uint32_t a = m < 0 ? 0u - (uint32_t)m : (uint32_t)m;
    char tmp[16];
    int n = 0;
    do
        tmp[n++] = (char)('0' + a % 10u), a /= 10u;
    while (a || n < 4);
    char *p = out;
    if (m < 0)
        *p++ = '-';
    while (n > 3)
        *p++ = tmp[--n];
    *p++ = '.';
    while (n)
        *p++ = tmp[--n];
    *p = '\0';
    return out;
}

/* The store: the flash, the core's policy, a layout whose rings have a sector of slack. */
static void start_nv(fw_t *f, const fw_opts_t *o)
{
    nv_layout_t lay = flash_layout(TL_COUNT, TL_BUFFER_SIZE, NV_TL_RECORD_SIZE);
    uint32_t size = nv_medium_size(&lay);
    size = (size + FLASH_SECTOR - 1u) / FLASH_SECTOR * FLASH_SECTOR;
    if (!flash_layout_ok(&lay) || flash_open(&f->flash, o->nv[0] ? o->nv : NULL, size) < 0) {
        sh_printf("s4100-fw: NV %s: cannot open the flash (%u bytes): no NV\n", o->nv, size);
        return;
    }
    nv_port_t port = flash_nv_port(&f->flash);
    pst_open_t rc = pst_open(&f->pst, &f->m, &port, &lay, NULL);
    if (rc == PST_REFUSED || rc == PST_NOFIT) {
        /* The host's s4100 refuses to start here; a meter with nobody to ask runs on
         * without NV rather than overwrite what an operator may still recover. */
        sh_printf("s4100-fw: NV REFUSED (%s): running without NV, the flash left as it is\n",
                  nv_strerror(f->pst.load.verdict));
        return;
    }
    commission(f, o);
    if (pst_start(&f->pst, systick_ms()) < 0) {
        sh_printf("s4100-fw: NV: the store cannot be written: running without NV\n");
        return;
    }
    f->nv_on = true;
    meter_nv_t hooks = pst_meter_nv(&f->pst);
    meter_set_nv(&f->m, &hooks);
    char kwh[20];
    sh_printf("s4100-fw: NV %s: %s, %u bytes of flash, power-up %u, %s kWh imported\n",
              o->nv[0] ? o->nv : "(RAM)", rc == PST_NEW ? "new store (factory state)" : "loaded",
              size, f->m.dev.mtr.nv.power_ups,
              milli(kwh, mtr_energy_kwhf(&f->m.dev.mtr.nv.e[MTR_E_KWH_IMP])));
}

static void start_link(fw_t *f)
{
    mstp_config_t cfg;
    mstp_config_of(&f->m.dev.id, &cfg);
    mstp_port_t port = {.ctx = f, .send = port_send, .test_response = NULL};
    net_upper_t up = meter_upper(&f->m);
    uart0_init(cfg.baud);
    if (!mstp_init(&f->mstp, &port, &cfg, &up, systick_us())) {
        sh_printf("s4100-fw: MS/TP settings out of range\n");
        sh_exit(2);
    }
    net_link_t link = mstp_link(&f->mstp);
    meter_set_link(&f->m, &link);
    f->writes = f->m.dev.writes;
}

/* ---- the loop ------------------------------------------------------------------------- */

/* The engine's samples up to the clock, a block at a time: false when caught up. */
static bool feed(fw_t *f, uint32_t now_ms)
{
    uint64_t due = (uint64_t)(now_ms - f->start_ms) * MTR_FS / 1000u;
    if (due <= f->sets)
        return false;
    uint64_t behind = due - f->sets;
    uint32_t lag = (uint32_t)(behind * 1000u / MTR_FS);
    if (lag > f->late_ms)
        f->late_ms = lag;
    uint32_t n = behind < FW_BLOCK ? (uint32_t)behind : FW_BLOCK;
    uint32_t t0 = systick_us();
    gen_fill(&f->gen, f->x, f->pulse, n);
    meter_feed(&f->m, f->x, f->pulse, n, 0, NULL);
    uint32_t took = systick_us() - t0;
    if (took > f->feed_us)
        f->feed_us = took;
    f->sets += n;
    return true;
}

/* The last cycle's readings, named as `s4100 measure` names them (a test compares). */
static void readings(const fw_t *f)
{
    static const struct { const char *name; unsigned ai; } show[] = {
        {"KW_Total", MTR_AI_KW}, {"KVAR_Total", MTR_AI_KVAR}, {"KVA_Total", MTR_AI_KVA},
        {"PF_Total", MTR_AI_PF}, {"Volts_LL_Avg", MTR_AI_VLL_AVG},
        {"Volts_LN_Avg", MTR_AI_VLN_AVG}, {"Current_Average", MTR_AI_I_AVG},
        {"Frequency", MTR_AI_FREQ}, {"KWh_Import", MTR_AI_KWH_IMP},
    };
    char v[20];
    sh_printf("s4100-fw: readings cycle %u:", f->m.dev.mtr.cycles);
    for (size_t k = 0; k < sizeof show / sizeof show[0]; k++)
        sh_printf(" %s=%s", show[k].name, milli(v, f->m.dev.mtr.ai[show[k].ai]));
    sh_puts("\n");
}

static void status(fw_t *f, uint32_t now_ms)
{
    const mstp_counters_t *c = &f->mstp.c;
    sh_printf("s4100-fw: %u s: %u cycles, MS/TP %u frames in, %u out, %u tokens, %u lost, "
              "%u invalid, %u replies, rx lost %u, feed lag max %u ms, longest feed %u us, "
              "NV %u saves %u errors, flash %u erases\n",
              (now_ms - f->start_ms) / 1000u, f->m.dev.mtr.cycles, f->mstp.rx.c.frames,
              c->tx_frames, c->tokens_received, c->lost_tokens, c->invalid_frames, c->replies,
              uart0_overruns(), f->late_ms, f->feed_us, f->pst.stat.saves, f->pst.stat.errors,
              f->flash.erases);
    readings(f);
}

int main(void)
{
    fw_t *f = &fw;
    fw_opts_t o;
    mtr_config_t cfg;
    systick_init();
    parse_cmdline(&o);
    if (o.selftest)
        return selftest_flash(&f->flash, &f->pst.nv);
    factory(f, &cfg);
    start_nv(f, &o);
    if (!f->nv_on)
        commission(f, &o);
    obj_commit_settings(&f->m.dev);
    gen_default(&f->gen, &f->m.dev.mtr.cfg);
    start_link(f);
    sh_printf("s4100-fw: device %u, MS/TP MAC %u, %u baud, Max_Master %u, UART0\n",
              f->m.dev.id.instance, f->m.dev.id.mac, f->m.dev.id.baud, f->m.dev.id.max_master);
    irq_on();
    f->start_ms = systick_ms();
    meter_tick(&f->m, f->start_ms);
    meter_announce(&f->m); /* leaves with the first token */
    uint32_t last_ms = f->start_ms, next_status = f->start_ms + FW_STATUS_MS;
    for (;;) {
        bool busy = drain_rx(f);
        mstp_tick(&f->mstp, systick_us());
        uint32_t now = systick_ms();
        if (now != last_ms) {
            meter_tick(&f->m, now);
            last_ms = now;
        }
        busy |= feed(f, now);
        if (meter_reinit_due(&f->m))
            meter_restart(&f->m);
        follow_identity(f);
        if ((int32_t)(now - next_status) >= 0) {
            status(f, now);
            next_status += FW_STATUS_MS;
        }
        if (!busy)
            cpu_wfi(); /* the next octet or the next millisecond */
    }
}
