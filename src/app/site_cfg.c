/*
 * Site files (docs/site.md): INI parsed with inih, as scenario files are
 * (src/sim/scenario.c). Our reader in front of inih counts lines, rejects what inih
 * would silently misread (over-long lines, continuation lines, NUL bytes) and handles
 * section headers itself, so every message names its line. Sections are read into
 * specs first; the site is built and checked at the end, because a [meter N:MAC] may
 * come before its trunk and the compact form's trunks exist only once [site] is read.
 */
#define _POSIX_C_SOURCE 200809L
#include "site_cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SITE_FILE_MAX (16u << 20) /* 130,048 meters with an override each: 6.5 MB */

_Static_assert(SITE_MAX_METERS_PER_TRUNK == 127, "MACs 0..127, one is the router's");

/* Every string the site holds, freed together. */
typedef struct site_str {
    struct site_str *next;
    char s[];
} site_str_t;

struct site_mem {
    site_str_t *strs;
    site_meter_t *meters; /* all trunks' meters, one block */
};

enum {
    K_NAME,
    K_ROUTER_INSTANCE,
    K_BIND,
    K_BROADCAST,
    K_BIP_NETWORK,
    K_BBMD,
    K_BDT,
    K_FD_ACCEPT,
    K_LOAD,
    K_FOREIGN,
    K_FOREIGN_TTL,
    K_NV_DIR,
    K_TRUNKS,
    K_FIRST_NETWORK,
    K_BAUD,
    K_PROFILE,
    K_VARIATION,
    K_MAX_MASTER,
    K_MAX_INFO_FRAMES,
    K_ROUTER_MAC,
    K_PTY,
    K_METERS,
    K_INSTANCE_BASE,
    K_SERIAL_PREFIX,
    K_INSTANCE,
    K_SERIAL,
    K_SCENARIO,
    K_COUNT
};

enum { SEC_NONE, SEC_SITE, SEC_TRUNK, SEC_METER, SEC_BAD };
#define IN_SITE (1u << SEC_SITE)
#define IN_TRUNK (1u << SEC_TRUNK)
#define IN_METER (1u << SEC_METER)

typedef struct {
    const char *name;
    unsigned sections;
    bool list; /* may be repeated: each line adds to the list */
} site_key_t;

static const site_key_t site_keys[K_COUNT] = {
    [K_NAME] = {"name", IN_SITE, false},
    [K_ROUTER_INSTANCE] = {"router_instance", IN_SITE, false},
    [K_BIND] = {"bind", IN_SITE, false},
    [K_BROADCAST] = {"broadcast", IN_SITE, false},
    [K_BIP_NETWORK] = {"bip_network", IN_SITE, false},
    [K_BBMD] = {"bbmd", IN_SITE, false},
    [K_BDT] = {"bdt", IN_SITE, true},
    [K_FD_ACCEPT] = {"fd_accept", IN_SITE, false},
    [K_LOAD] = {"load", IN_SITE, false},
    [K_FOREIGN] = {"foreign", IN_SITE, false},
    [K_FOREIGN_TTL] = {"foreign_ttl", IN_SITE, false},
    [K_NV_DIR] = {"nv_dir", IN_SITE, false},
    [K_TRUNKS] = {"trunks", IN_SITE, false},
    [K_FIRST_NETWORK] = {"first_network", IN_SITE, false},
    [K_BAUD] = {"baud", IN_SITE | IN_TRUNK, false},
    [K_PROFILE] = {"profile", IN_SITE | IN_TRUNK | IN_METER, false},
    [K_VARIATION] = {"variation", IN_SITE | IN_TRUNK, false},
    [K_MAX_MASTER] = {"max_master", IN_TRUNK | IN_METER, false},
    [K_MAX_INFO_FRAMES] = {"max_info_frames", IN_TRUNK | IN_METER, false},
    [K_ROUTER_MAC] = {"router_mac", IN_TRUNK, false},
    [K_PTY] = {"pty", IN_TRUNK, false},
    [K_METERS] = {"meters", IN_TRUNK, true},
    [K_INSTANCE_BASE] = {"instance_base", IN_TRUNK, false},
    [K_SERIAL_PREFIX] = {"serial_prefix", IN_TRUNK, false},
    [K_INSTANCE] = {"instance", IN_METER, false},
    [K_SERIAL] = {"serial", IN_METER, false},
    [K_SCENARIO] = {"scenario", IN_METER, false},
};

/* One section's settings as written: [site] (defaults for every trunk), a [trunk N] or a
 * [meter N:MAC]. A key's value is meaningful when its bit is in set. */
typedef struct {
    int line; /* the header's */
    uint32_t set;
    int kline[K_COUNT];
    uint16_t net;
    uint8_t mac; /* [meter N:MAC] */
    uint8_t router_mac, max_master, max_info_frames;
    bool vary;
    uint32_t baud;
    uint32_t instance; /* [trunk]: instance_base; [meter]: instance */
    const char *pty, *profile, *scenario;
    char serial[SITE_SERIAL_MAX + 1]; /* [trunk]: serial_prefix; [meter]: serial */
    uint64_t macs[2];                 /* [trunk]: meters */
    int *macline;                     /* [trunk]: the meters line that listed each MAC */
} site_spec_t;

typedef struct {
    const char *data;
    size_t len, pos;
    const char *name, *base_dir;
    int line;
    int err_line;
    bool failed;
    char err[200];

    int sect;
    site_spec_t *cur;
    site_t *out;
    site_str_t *strs;
    site_spec_t site;
    site_spec_t *trunks, *meters;
    size_t ntrunks, captrunks, nmeters, capmeters;
    unsigned compact_n, compact_m;
    uint16_t first_network;
} site_parse_t;

static void site_perr(site_parse_t *c, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The first error is the one to fix. line 0: not about one line. */
static void site_perr(site_parse_t *c, int line, const char *fmt, ...)
{
    if (c->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_line = line;
    c->failed = true;
}

static void site_strs_free(site_str_t *s)
{
    while (s) {
        site_str_t *next = s->next;
        free(s);
        s = next;
    }
}

static const char *site_strdup(site_parse_t *c, const char *dir, const char *s)
{
    if (dir && !*dir)
        dir = NULL;
    /* "dir/s", or "/s" when dir is "/" */
    size_t dl = dir && s[0] != '/' ? strlen(dir) + (dir[strlen(dir) - 1] != '/') : 0;
    size_t sl = strlen(s);
    site_str_t *n = malloc(sizeof *n + dl + sl + 1);
    if (!n) {
        site_perr(c, c->line, "out of memory");
        return NULL;
    }
    if (dl) {
        memcpy(n->s, dir, strlen(dir));
        n->s[dl - 1] = '/';
    }
    memcpy(n->s + dl, s, sl + 1);
    n->next = c->strs;
    c->strs = n;
    return n->s;
}

/* ---- values ---- */

/* Decimal digits only: no sign, no hex, no blanks inside. */
static bool site_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || s[n] != '\0' || n > 10)
        return false;
    errno = 0;
    unsigned long v = strtoul(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool site_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t k = 0; k < 4; k++) {
        if (strcasecmp(s, yes[k]) == 0 || strcasecmp(s, no[k]) == 0) {
            *out = strcasecmp(s, yes[k]) == 0;
            return true;
        }
    }
    return false;
}

static bool site_baud_valid(unsigned long b)
{
    return b == 9600 || b == 19200 || b == 38400 || b == 76800 || b == 115200;
}

static bool site_ipv4(const char *s, size_t n, uint8_t ip[4])
{
    char buf[16];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, ip) == 1;
}

/* "A.B.C.D[:PORT][/MASK]" with MASK dotted or a prefix length; mask NULL: none allowed. */
static bool site_addr(const char *s, uint16_t def_port, site_addr_t *a, uint8_t *mask)
{
    size_t n = strcspn(s, ":/");
    if (!site_ipv4(s, n, a->ip))
        return false;
    a->port = def_port;
    s += n;
    if (*s == ':') {
        char buf[8];
        size_t p = strcspn(s + 1, "/");
        unsigned long v;
        if (p == 0 || p >= sizeof buf)
            return false;
        memcpy(buf, s + 1, p);
        buf[p] = '\0';
        if (!site_uint(buf, 1, 65535, &v))
            return false;
        a->port = (uint16_t)v;
        s += 1 + p;
    }
    if (mask)
        memset(mask, 255, 4);
    if (*s == '\0')
        return true;
    if (*s != '/' || !mask)
        return false;
    s++;
    unsigned long bits;
    if (strchr(s, '.'))
        return site_ipv4(s, strlen(s), mask);
    if (!site_uint(s, 0, 32, &bits))
        return false;
    uint32_t m = bits ? 0xFFFFFFFFu << (32 - bits) : 0;
    for (int k = 0; k < 4; k++)
        mask[k] = (uint8_t)(m >> (24 - 8 * k));
    return true;
}

static bool site_serial_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    return n >= min && n <= max &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static bool site_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

bool site_profile_is_path(const char *p)
{
    size_t n = strlen(p);
    return strchr(p, '/') || (n >= 4 && strcasecmp(p + n - 4, ".ini") == 0);
}

/* A name (letters, digits, . _ -) the host resolves, or a path kept (joined to the
 * file's directory when relative). */
static const char *site_profile(site_parse_t *c, const char *key, const char *v)
{
    if (!*v || !site_printable(v)) {
        site_perr(c, c->line, "%s: expected a profile name or a scenario file's path", key);
        return NULL;
    }
    if (site_profile_is_path(v))
        return site_strdup(c, c->base_dir, v);
    if (!site_serial_ok(v, 1, 64)) {
        site_perr(c, c->line,
                  "%s: '%.40s' is not a profile name (letters, digits, '.', '_', "
                  "'-'; a path contains '/' or ends in .ini)",
                  key, v);
        return NULL;
    }
    return site_strdup(c, NULL, v);
}

static const char *site_path(site_parse_t *c, const char *key, const char *v)
{
    if (!*v || !site_printable(v)) {
        site_perr(c, c->line, "%s: expected a path", key);
        return NULL;
    }
    return site_strdup(c, c->base_dir, v);
}

/* "1-10,12,20-25" into the bitmap; each MAC once. */
static bool site_macs(site_parse_t *c, site_spec_t *sp, const char *v)
{
    uint64_t *macs = sp->macs;
    const char *p = v;
    if (!sp->macline && !(sp->macline = malloc(128 * sizeof *sp->macline))) {
        site_perr(c, c->line, "out of memory");
        return false;
    }
    if (!*v) {
        site_perr(c, c->line, "meters: empty list (leave the key out for a trunk without meters)");
        return false;
    }
    for (;;) {
        char item[24];
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        unsigned long lo, hi;
        const char *dash = memchr(p, '-', n);
        bool ok = n > 0 && n < sizeof item;
        if (ok) {
            memcpy(item, p, n);
            item[n] = '\0';
            char *d = dash ? item + (dash - p) : NULL;
            if (d)
                *d = '\0';
            ok = site_uint(item, 0, 127, &lo) && (!d || site_uint(d + 1, 0, 127, &hi));
            if (!d)
                hi = lo;
        }
        if (!ok) {
            site_perr(c, c->line, "meters: '%.*s' is not a MAC (0..127) or a range like 1-32",
                      (int)(n > 40 ? 40 : n), p);
            return false;
        }
        if (hi < lo) {
            site_perr(c, c->line, "meters: range %lu-%lu runs backwards", lo, hi);
            return false;
        }
        for (unsigned long m = lo; m <= hi; m++) {
            if (macs[m / 64] >> (m % 64) & 1u) {
                site_perr(c, c->line, "meters: MAC %lu listed twice", m);
                return false;
            }
            macs[m / 64] |= (uint64_t)1 << (m % 64);
            sp->macline[m] = c->line;
        }
        p += strcspn(p, ",");
        if (!*p)
            return true;
        p++;
    }
}

static bool site_bdt(site_parse_t *c, const char *v)
{
    site_t *s = c->out;
    const char *p = v;
    for (;;) {
        char item[64];
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        site_bdt_t e;
        bool ok = n > 0 && n < sizeof item;
        if (ok) {
            memcpy(item, p, n);
            item[n] = '\0';
            ok = site_addr(item, SITE_DEFAULT_PORT, &e.addr, e.mask);
        }
        if (!ok) {
            site_perr(c, c->line, "bdt: '%.*s' is not ADDR[:PORT][/MASK]", (int)(n > 40 ? 40 : n),
                      p);
            return false;
        }
        for (unsigned k = 0; k < s->nbdt; k++) {
            if (!memcmp(s->bdt[k].addr.ip, e.addr.ip, 4) && s->bdt[k].addr.port == e.addr.port) {
                site_perr(c, c->line, "bdt: %.*s is listed twice", (int)n, p);
                return false;
            }
        }
        if (s->nbdt == SITE_MAX_BDT) {
            site_perr(c, c->line, "bdt: more than %d entries", SITE_MAX_BDT);
            return false;
        }
        s->bdt[s->nbdt++] = e;
        p += strcspn(p, ",");
        if (!*p)
            return true;
        p++;
    }
}

/* ---- keys ---- */

static int site_key_set(site_parse_t *c, site_spec_t *sp, int k, const char *v);

/* A number at the front of *p (digits only), *p moved past it. */
static bool site_lead_uint(const char **p, unsigned long *v)
{
    char *end;
    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    *v = strtoul(*p, &end, 10);
    if (errno)
        *v = ULONG_MAX;
    *p = end + strspn(end, " \t");
    return true;
}

/* One ", KEY VALUE" item after the compact form's size: a [site] key. */
static int site_compact_item(site_parse_t *c, const char *p, size_t len)
{
    char item[128];
    if (len >= sizeof item) {
        site_perr(c, c->line, "trunks: an item after the size is too long");
        return 0;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    char *key = item + strspn(item, " \t");
    char *val = key + strcspn(key, " \t=");
    if (*val)
        *val++ = '\0';
    val += strspn(val, " \t=");
    for (size_t e = strlen(val); e && (val[e - 1] == ' ' || val[e - 1] == '\t'); e--)
        val[e - 1] = '\0';
    int k = 0;
    while (k < K_COUNT && strcasecmp(key, site_keys[k].name))
        k++;
    if (k != K_PROFILE && k != K_BAUD && k != K_FIRST_NETWORK && k != K_VARIATION) {
        site_perr(c, c->line,
                  "trunks: '%.40s': expected profile, baud, first_network or "
                  "variation after the size",
                  key);
        return 0;
    }
    return site_key_set(c, &c->site, k, val);
}

/* trunks = N x M [meters] [, KEY VALUE]...: the items are [site] keys. */
static int site_compact(site_parse_t *c, const char *v)
{
    unsigned long n, m;
    const char *p = v;
    if (!site_lead_uint(&p, &n) || (*p != 'x' && *p != 'X')) {
        site_perr(c, c->line, "trunks: '%.60s' is not 'N x M' or 'N x M meters, profile NAME'", v);
        return 0;
    }
    p += 1 + strspn(p + 1, " \t");
    if (!site_lead_uint(&p, &m)) {
        site_perr(c, c->line, "trunks: '%.60s' is not 'N x M' or 'N x M meters, profile NAME'", v);
        return 0;
    }
    if (n < 1 || n > SITE_MAX_TRUNKS || m < 1 || m > SITE_MAX_METERS_PER_TRUNK) {
        site_perr(c, c->line, "trunks: '%.40s': 1..%d trunks of 1..%d meters", v, SITE_MAX_TRUNKS,
                  SITE_MAX_METERS_PER_TRUNK);
        return 0;
    }
    c->compact_n = (unsigned)n;
    c->compact_m = (unsigned)m;
    if (!strncasecmp(p, "meters", 6))
        p += 6;
    else if (!strncasecmp(p, "meter", 5))
        p += 5;
    p += strspn(p, " \t");
    while (*p == ',') {
        size_t len = strcspn(p + 1, ",");
        if (!site_compact_item(c, p + 1, len))
            return 0;
        p += 1 + len;
    }
    if (*p != '\0') {
        site_perr(c, c->line, "trunks: '%.60s' is not 'N x M' or 'N x M meters, profile NAME'", v);
        return 0;
    }
    return 1;
}

static int site_uint_key(site_parse_t *c, int k, const char *v, unsigned long lo, unsigned long hi,
                         unsigned long *out)
{
    if (site_uint(v, lo, hi, out))
        return 1;
    site_perr(c, c->line, "%s: '%.40s' is not a whole number in %lu..%lu", site_keys[k].name, v, lo,
              hi);
    return 0;
}

/* Keys of [site] alone. */
static int site_site_key(site_parse_t *c, int k, const char *v)
{
    site_t *s = c->out;
    site_addr_t *a;
    unsigned long x;
    bool b;
    switch (k) {
    case K_NAME:
        if (!*v || strlen(v) > SITE_NAME_MAX || !site_printable(v)) {
            site_perr(c, c->line, "name: 1..%d printable characters", SITE_NAME_MAX);
            return 0;
        }
        strcpy(s->name, v);
        return 1;
    case K_ROUTER_INSTANCE:
        if (!site_uint_key(c, k, v, 0, SITE_ROUTER_INSTANCE_MAX, &x))
            return 0;
        s->router_instance = (uint32_t)x;
        return 1;
    case K_BIND:
    case K_BROADCAST:
    case K_FOREIGN:
        a = k == K_BIND ? &s->bind : k == K_BROADCAST ? &s->broadcast : &s->foreign_bbmd;
        if (!site_addr(v, k == K_BROADCAST ? 0 : SITE_DEFAULT_PORT, a, NULL)) {
            site_perr(c, c->line, "%s: '%.40s' is not an IPv4 ADDR[:PORT]", site_keys[k].name, v);
            return 0;
        }
        s->foreign |= k == K_FOREIGN;
        return 1;
    case K_BIP_NETWORK:
        if (!site_uint_key(c, k, v, 1, 65534, &x))
            return 0;
        s->bip_net = (uint16_t)x;
        return 1;
    case K_BBMD:
    case K_FD_ACCEPT:
        if (!site_bool(v, &b)) {
            site_perr(c, c->line, "%s: '%.40s' is not yes or no", site_keys[k].name, v);
            return 0;
        }
        *(k == K_BBMD ? &s->bbmd : &s->fd_accept) = b;
        return 1;
    case K_LOAD:
        if (strcmp(v, "shared") && strcmp(v, "own")) {
            site_perr(c, c->line, "load: '%.40s' is not shared or own", v);
            return 0;
        }
        s->shared_load = !strcmp(v, "shared");
        return 1;
    case K_BDT: return site_bdt(c, v);
    case K_FOREIGN_TTL:
        if (!site_uint_key(c, k, v, 1, 65535, &x))
            return 0;
        s->foreign_ttl = (uint16_t)x;
        return 1;
    case K_NV_DIR: return (s->nv_dir = site_path(c, "nv_dir", v)) != NULL;
    case K_TRUNKS: return site_compact(c, v);
    case K_FIRST_NETWORK:
        if (!site_uint_key(c, k, v, 1, 65534, &x))
            return 0;
        c->first_network = (uint16_t)x;
        return 1;
    }
    return 0;
}

/* Keys a trunk or a meter holds (and [site] as defaults). */
static int site_spec_key(site_parse_t *c, site_spec_t *sp, int k, const char *v)
{
    unsigned long x;
    switch (k) {
    case K_BAUD:
        if (!site_uint(v, 0, 115200, &x) || !site_baud_valid(x)) {
            site_perr(c, c->line, "baud: '%.40s' is not 9600, 19200, 38400, 76800 or 115200", v);
            return 0;
        }
        sp->baud = (uint32_t)x;
        return 1;
    case K_PROFILE: return (sp->profile = site_profile(c, "profile", v)) != NULL;
    case K_SCENARIO: return (sp->scenario = site_path(c, "scenario", v)) != NULL;
    case K_PTY: return (sp->pty = site_path(c, "pty", v)) != NULL;
    case K_VARIATION:
        if (!site_bool(v, &sp->vary)) {
            site_perr(c, c->line, "variation: '%.40s' is not yes or no", v);
            return 0;
        }
        return 1;
    case K_MAX_MASTER:
        if (!site_uint_key(c, k, v, 1, 127, &x))
            return 0;
        sp->max_master = (uint8_t)x;
        return 1;
    case K_MAX_INFO_FRAMES:
        if (!site_uint_key(c, k, v, 1, 255, &x))
            return 0;
        sp->max_info_frames = (uint8_t)x;
        return 1;
    case K_ROUTER_MAC:
        if (!site_uint_key(c, k, v, 0, 127, &x))
            return 0;
        sp->router_mac = (uint8_t)x;
        return 1;
    case K_METERS: return site_macs(c, sp, v);
    case K_INSTANCE_BASE:
    case K_INSTANCE:
        if (!site_uint_key(c, k, v, k == K_INSTANCE, SITE_METER_INSTANCE_MAX, &x))
            return 0;
        sp->instance = (uint32_t)x;
        return 1;
    case K_SERIAL_PREFIX:
    case K_SERIAL:
        if (!site_serial_ok(v, k == K_SERIAL,
                            k == K_SERIAL ? SITE_SERIAL_MAX : SITE_SERIAL_MAX - 3)) {
            site_perr(c, c->line, "%s: '%.40s': %s letters, digits, '.', '_' or '-'",
                      site_keys[k].name, v, k == K_SERIAL ? "1..16" : "at most 13");
            return 0;
        }
        strcpy(sp->serial, v);
        return 1;
    }
    return site_site_key(c, k, v);
}

static int site_key_set(site_parse_t *c, site_spec_t *sp, int k, const char *v)
{
    if ((sp->set >> k & 1u) && !site_keys[k].list) {
        site_perr(c, c->line, "%s given twice (first at line %d)", site_keys[k].name, sp->kline[k]);
        return 0;
    }
    sp->set |= 1u << k;
    sp->kline[k] = c->line;
    return site_spec_key(c, sp, k, v);
}

static const char *const site_sect_names[] = {"", "site", "trunk N", "meter N:MAC"};

static int site_handler(void *user, const char *section, const char *name, const char *value)
{
    site_parse_t *c = user;
    (void)section; /* the reader tracked it, with its line */
    if (c->sect == SEC_NONE) {
        site_perr(c, c->line, "'%.40s' before any [section]", name);
        return 0;
    }
    if (c->sect == SEC_BAD || c->failed)
        return 1; /* the first error is already known */
    int k = 0;
    while (k < K_COUNT && strcasecmp(name, site_keys[k].name))
        k++;
    if (k == K_COUNT || !(site_keys[k].sections >> c->sect & 1u)) {
        site_perr(c, c->line, "unknown key '%.40s' in [%s]", name, site_sect_names[c->sect]);
        return 0;
    }
    return site_key_set(c, c->cur, k, value);
}

/* ---- sections ---- */

static site_spec_t *site_new_spec(site_parse_t *c, site_spec_t **arr, size_t *n, size_t *cap,
                                  size_t max)
{
    if (*n == max) {
        site_perr(c, c->line, "more than %zu such sections", max);
        return NULL;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 16;
        site_spec_t *a = realloc(*arr, ncap * sizeof *a);
        if (!a) {
            site_perr(c, c->line, "out of memory");
            return NULL;
        }
        *arr = a;
        *cap = ncap;
    }
    site_spec_t *sp = &(*arr)[(*n)++];
    memset(sp, 0, sizeof *sp);
    sp->line = c->line;
    return sp;
}

/* "N" (a network number) then, for a meter, ":MAC". */
static bool site_sect_arg(const char *a, bool meter, unsigned long *net, unsigned long *mac)
{
    char buf[32];
    size_t n = strlen(a);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, a, n + 1);
    char *colon = strchr(buf, ':');
    if (!meter != !colon)
        return false;
    if (colon) {
        char *m = colon + 1;
        *colon = '\0';
        while (*m == ' ' || *m == '\t')
            m++;
        if (!site_uint(m, 0, 127, mac))
            return false;
    }
    for (size_t e = strlen(buf); e && (buf[e - 1] == ' ' || buf[e - 1] == '\t'); e--)
        buf[e - 1] = '\0';
    return site_uint(buf, 1, 65534, net);
}

static void site_section_begin(site_parse_t *c, const char *name)
{
    unsigned long net = 0, mac = 0;
    size_t w = strcspn(name, " \t");
    const char *arg = name + w + strspn(name + w, " \t");
    c->sect = SEC_BAD;
    if (strcasecmp(name, "site") == 0) {
        if (c->site.line) {
            site_perr(c, c->line, "section [site] appears twice (first at line %d)", c->site.line);
            return;
        }
        c->site.line = c->line;
        c->cur = &c->site;
        c->sect = SEC_SITE;
        return;
    }
    bool trunk = w == 5 && !strncasecmp(name, "trunk", 5);
    bool meter = w == 5 && !strncasecmp(name, "meter", 5);
    if (!trunk && !meter) {
        site_perr(c, c->line, "unknown section [%.40s] (expected site, trunk N or meter N:MAC)",
                  name);
        return;
    }
    if (!site_sect_arg(arg, meter, &net, &mac)) {
        site_perr(c, c->line, "[%.40s]: expected %s with N a network number 1..65534%s", name,
                  meter ? "[meter N:MAC]" : "[trunk N]", meter ? " and MAC 0..127" : "");
        return;
    }
    site_spec_t *sp =
        trunk ? site_new_spec(c, &c->trunks, &c->ntrunks, &c->captrunks, SITE_MAX_TRUNKS)
              : site_new_spec(c, &c->meters, &c->nmeters, &c->capmeters,
                              (size_t)SITE_MAX_TRUNKS * SITE_MAX_METERS_PER_TRUNK);
    if (!sp)
        return;
    sp->net = (uint16_t)net;
    sp->mac = (uint8_t)mac;
    c->cur = sp;
    c->sect = trunk ? SEC_TRUNK : SEC_METER;
}

/* A header line: "[name]" with an optional comment after it. */
static void site_header(site_parse_t *c, const char *s)
{
    const char *end = strchr(s, ']');
    c->sect = SEC_BAD;
    if (!end) {
        site_perr(c, c->line, "section header without ']'");
        return;
    }
    const char *rest = end + 1;
    rest += strspn(rest, " \t\r");
    if (*rest != '\n' && *rest != '\0' && *rest != ';' && *rest != '#') {
        site_perr(c, c->line, "text after the section header");
        return;
    }
    s++;
    s += strspn(s, " \t");
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char name[64];
    size_t len = (size_t)(end - s) < sizeof name - 1 ? (size_t)(end - s) : sizeof name - 1;
    memcpy(name, s, len);
    name[len] = '\0';
    site_section_begin(c, name);
}

/* inih's fgets: one physical line per call, always ending in '\n'. What we reject is
 * handed on as a comment line so inih carries on and the line numbers stay true. */
static char *site_reader(char *str, int num, void *stream)
{
    site_parse_t *c = stream;
    if (c->pos >= c->len || num < 4)
        return NULL;
    c->line++;
    int len = 0;
    bool nul = false, longer = false;
    while (c->pos < c->len) {
        char ch = c->data[c->pos++];
        if (ch == '\n')
            break;
        if (ch == '\0')
            nul = true;
        else if (len < num - 2)
            str[len++] = ch;
        else
            longer = true;
    }
    str[len] = '\n';
    str[len + 1] = '\0';
    if (c->line == 1 && len >= 3 && !memcmp(str, "\xEF\xBB\xBF", 3))
        memmove(str, str + 3, (size_t)len - 1);
    if (nul || longer) {
        if (nul)
            site_perr(c, c->line, "NUL byte in the line");
        else
            site_perr(c, c->line,
                      "line longer than %d characters (repeat a meters or bdt key "
                      "to continue a list)",
                      num - 2);
        strcpy(str, ";\n");
        return str;
    }
    const char *s = str + strspn(str, " \t\r\f\v");
    if (*s == '\n' || *s == ';' || *s == '#')
        return str;
    if (s != str) {
        site_perr(c, c->line,
                  "indented line (a key starts at the line's beginning; "
                  "continuation lines are not supported)");
        strcpy(str, ";\n");
        return str;
    }
    if (*s == '[') {
        site_header(c, s);
        strcpy(str, ";\n"); /* the section is ours: inih need not see it */
    }
    return str;
}

/* ---- building the site ---- */

static int site_kl(const site_spec_t *sp, int k)
{
    return (sp->set >> k & 1u) ? sp->kline[k] : sp->line;
}

static int site_cmp_trunk(const void *a, const void *b)
{
    const site_spec_t *x = a, *y = b;
    if (x->net != y->net)
        return x->net < y->net ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int site_cmp_meter(const void *a, const void *b)
{
    const site_spec_t *x = a, *y = b;
    if (x->net != y->net)
        return x->net < y->net ? -1 : 1;
    if (x->mac != y->mac)
        return x->mac < y->mac ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* [site] settings that only make sense together, and the defaults that depend on others. */
static void site_check_site(site_parse_t *c)
{
    site_t *s = c->out;
    const site_spec_t *sp = &c->site;
    if (!(sp->set >> K_BROADCAST & 1u)) {
        uint8_t b = s->bind.ip[0] == 127 ? 127 : 255;
        s->broadcast = (site_addr_t){{b, 255, 255, 255}, s->bind.port};
    } else if (s->broadcast.port == 0) {
        s->broadcast.port = s->bind.port; /* ADDR alone: the router's own port */
    }
    if ((sp->set >> K_BDT & 1u) && !s->bbmd)
        site_perr(c, sp->kline[K_BDT], "bdt: only with bbmd = yes");
    if ((sp->set >> K_FD_ACCEPT & 1u) && !s->bbmd)
        site_perr(c, sp->kline[K_FD_ACCEPT], "fd_accept: only with bbmd = yes");
    if (s->foreign && s->bbmd)
        site_perr(c, sp->kline[K_FOREIGN], "foreign: a BBMD does not register as a foreign device");
    if ((sp->set >> K_FOREIGN_TTL & 1u) && !s->foreign)
        site_perr(c, sp->kline[K_FOREIGN_TTL], "foreign_ttl: only with foreign = ADDR[:PORT]");
    if ((sp->set >> K_FIRST_NETWORK & 1u) && !c->compact_n)
        site_perr(c, sp->kline[K_FIRST_NETWORK], "first_network: only with trunks = N x M");
}

/* The compact form's trunks, after the explicit ones. */
static void site_expand_compact(site_parse_t *c)
{
    int line = c->site.kline[K_TRUNKS];
    if (!c->compact_n)
        return;
    if ((unsigned long)c->first_network + c->compact_n - 1 > 65534) {
        site_perr(c, line, "trunks: networks %u..%lu go past 65534 (see first_network)",
                  c->first_network, (unsigned long)c->first_network + c->compact_n - 1);
        return;
    }
    if (c->ntrunks + c->compact_n > SITE_MAX_TRUNKS) {
        site_perr(c, line, "trunks: %zu trunks in all, more than %d", c->ntrunks + c->compact_n,
                  SITE_MAX_TRUNKS);
        return;
    }
    for (unsigned k = 0; k < c->compact_n; k++) {
        site_spec_t *sp = site_new_spec(c, &c->trunks, &c->ntrunks, &c->captrunks, SITE_MAX_TRUNKS);
        if (!sp)
            return;
        sp->line = line;
        sp->net = (uint16_t)(c->first_network + k);
        for (unsigned m = 1; m <= c->compact_m; m++)
            sp->macs[m / 64] |= (uint64_t)1 << (m % 64);
    }
}

static void site_check_networks(site_parse_t *c)
{
    qsort(c->trunks, c->ntrunks, sizeof *c->trunks, site_cmp_trunk);
    for (size_t k = 0; k < c->ntrunks && !c->failed; k++) {
        const site_spec_t *t = &c->trunks[k];
        if (t->net == c->out->bip_net)
            site_perr(c, t->line, "trunk network %u is the B/IP network (bip_network)", t->net);
        else if (k && t->net == t[-1].net)
            site_perr(c, t->line, "network %u has a trunk already (line %d)", t->net, t[-1].line);
    }
}

/* A trunk's setting: its own, else the [site] default, else the built-in one. */
#define SITE_EFF(c, sp, key, field, def)                                                           \
    (((sp)->set >> (key)&1u) ? (sp)->field : ((c)->site.set >> (key)&1u) ? (c)->site.field : (def))

static void site_make_meters(site_parse_t *c, const site_spec_t *sp, site_trunk_t *t)
{
    for (unsigned mac = 0; mac <= 127 && !c->failed; mac++) {
        if (!(sp->macs[mac / 64] >> (mac % 64) & 1u))
            continue;
        int mline = sp->macline ? sp->macline[mac] : sp->line;
        if (mac == t->router_mac) {
            site_perr(c, mline, "meters: MAC %u on network %u is the router's (router_mac)", mac,
                      t->net);
            return;
        }
        if (mac > t->max_master) {
            site_perr(c, mline, "meters: MAC %u on network %u is above max_master %u", mac, t->net,
                      t->max_master);
            return;
        }
        site_meter_t *m = &t->meters[t->nmeters++];
        memset(m, 0, sizeof *m);
        m->mac = (uint8_t)mac;
        m->max_master = t->max_master;
        m->max_info_frames = t->max_info_frames;
        m->vary = t->vary;
        m->vary_seed = (uint32_t)t->net << 8 | mac;
        /* net * 1000 + MAC: networks are unique on a BACnet internetwork, so are these
         * (up to network 4193, whose MAC 127 is 4,193,127 <= 4,193,999) */
        m->instance = ((sp->set >> K_INSTANCE_BASE & 1u) ? sp->instance : t->net * 1000u) + mac;
        if (sp->set >> K_SERIAL_PREFIX & 1u)
            snprintf(m->serial, sizeof m->serial, "%.13s%03u", sp->serial, mac);
        else
            snprintf(m->serial, sizeof m->serial, "41%05u%03u", t->net, mac);
        m->profile = t->profile;
        m->line = mline;
    }
}

static void site_make_trunks(site_parse_t *c)
{
    site_t *s = c->out;
    size_t total = 0;
    for (size_t k = 0; k < c->ntrunks; k++)
        total += (size_t)__builtin_popcountll(c->trunks[k].macs[0]) +
                 (size_t)__builtin_popcountll(c->trunks[k].macs[1]);
    s->trunks = calloc(c->ntrunks ? c->ntrunks : 1, sizeof *s->trunks);
    s->mem->meters = calloc(total ? total : 1, sizeof *s->mem->meters);
    if (!s->trunks || !s->mem->meters) {
        site_perr(c, 0, "out of memory");
        return;
    }
    site_meter_t *next = s->mem->meters;
    for (size_t k = 0; k < c->ntrunks && !c->failed; k++) {
        const site_spec_t *sp = &c->trunks[k];
        site_trunk_t *t = &s->trunks[s->ntrunks++];
        t->net = sp->net;
        t->line = sp->line;
        t->baud = SITE_EFF(c, sp, K_BAUD, baud, SITE_DEFAULT_BAUD);
        t->profile = SITE_EFF(c, sp, K_PROFILE, profile, s->profile);
        t->vary = SITE_EFF(c, sp, K_VARIATION, vary, false);
        t->router_mac = (sp->set >> K_ROUTER_MAC & 1u) ? sp->router_mac : 0;
        t->max_master = (sp->set >> K_MAX_MASTER & 1u) ? sp->max_master : 127;
        t->max_info_frames = (sp->set >> K_MAX_INFO_FRAMES & 1u) ? sp->max_info_frames : 1;
        t->pty = sp->pty;
        if (t->router_mac > t->max_master) {
            site_perr(c, site_kl(sp, K_ROUTER_MAC),
                      "router_mac %u on network %u is above max_master %u", t->router_mac, t->net,
                      t->max_master);
            return;
        }
        t->meters = next;
        site_make_meters(c, sp, t);
        next += t->nmeters;
        s->nmeters += t->nmeters;
    }
}

const site_trunk_t *site_trunk_find(const site_t *s, uint16_t net)
{
    size_t lo = 0, hi = s->ntrunks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->trunks[mid].net == net)
            return &s->trunks[mid];
        if (s->trunks[mid].net < net)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const site_meter_t *site_meter_find(const site_trunk_t *t, uint8_t mac)
{
    size_t lo = 0, hi = t->nmeters;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->meters[mid].mac == mac)
            return &t->meters[mid];
        if (t->meters[mid].mac < mac)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void site_override(site_parse_t *c, const site_spec_t *o)
{
    const site_trunk_t *t = site_trunk_find(c->out, o->net);
    site_meter_t *m = t ? (site_meter_t *)site_meter_find(t, o->mac) : NULL;
    if (!t) {
        site_perr(c, o->line, "[meter %u:%u]: no trunk has network %u", o->net, o->mac, o->net);
        return;
    }
    if (!m) {
        site_perr(c, o->line, "[meter %u:%u]: trunk %u has no meter with MAC %u (see its meters)",
                  o->net, o->mac, o->net, o->mac);
        return;
    }
    if ((o->set >> K_SCENARIO & 1u) && (o->set >> K_PROFILE & 1u)) {
        site_perr(c,
                  o->kline[K_SCENARIO] > o->kline[K_PROFILE] ? o->kline[K_SCENARIO]
                                                             : o->kline[K_PROFILE],
                  "[meter %u:%u]: scenario or profile, not both", o->net, o->mac);
        return;
    }
    m->line = o->line;
    if (o->set >> K_INSTANCE & 1u)
        m->instance = o->instance;
    if (o->set >> K_SERIAL & 1u)
        strcpy(m->serial, o->serial);
    if (o->set >> K_PROFILE & 1u)
        m->profile = o->profile;
    if (o->set >> K_SCENARIO & 1u)
        m->scenario = o->scenario;
    if (o->set >> K_MAX_INFO_FRAMES & 1u)
        m->max_info_frames = o->max_info_frames;
    if (o->set >> K_MAX_MASTER & 1u)
        m->max_master = o->max_master;
    if (m->mac > m->max_master)
        site_perr(c, site_kl(o, K_MAX_MASTER), "max_master %u is below the meter's MAC %u",
                  m->max_master, m->mac);
}

static void site_apply_overrides(site_parse_t *c)
{
    if (c->nmeters)
        qsort(c->meters, c->nmeters, sizeof *c->meters, site_cmp_meter);
    for (size_t k = 0; k < c->nmeters && !c->failed; k++) {
        const site_spec_t *o = &c->meters[k];
        if (k && o->net == o[-1].net && o->mac == o[-1].mac)
            site_perr(c, o->line, "[meter %u:%u] appears twice (first at line %d)", o->net, o->mac,
                      o[-1].line);
        else
            site_override(c, o);
    }
}

/* Each meter once, for the site-wide uniqueness checks. */
typedef struct {
    uint32_t instance;
    int line;
    const site_meter_t *m; /* NULL: the router */
    uint16_t net;
} site_ref_t;

static int site_cmp_instance(const void *a, const void *b)
{
    const site_ref_t *x = a, *y = b;
    if (x->instance != y->instance)
        return x->instance < y->instance ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int site_cmp_serial(const void *a, const void *b)
{
    const site_ref_t *x = a, *y = b;
    int r = strcmp(x->m->serial, y->m->serial);
    return r ? r : (x->line > y->line) - (x->line < y->line);
}

static const char *site_who(const site_ref_t *r, char *buf, size_t cap)
{
    if (!r->m)
        snprintf(buf, cap, "the router");
    else
        snprintf(buf, cap, "meter %u:%u", r->net, r->m->mac);
    return buf;
}

/* Instances and serials unique in the site: sorted, then neighbours compared. */
static void site_check_unique(site_parse_t *c, int router_line)
{
    site_t *s = c->out;
    site_ref_t *r = malloc((s->nmeters + 1) * sizeof *r);
    char a[32], b[32];
    size_t n = 0;
    if (!r) {
        site_perr(c, 0, "out of memory");
        return;
    }
    for (unsigned k = 0; k < s->ntrunks; k++) {
        for (unsigned j = 0; j < s->trunks[k].nmeters; j++) {
            const site_meter_t *m = &s->trunks[k].meters[j];
            r[n++] = (site_ref_t){m->instance, m->line, m, s->trunks[k].net};
            if (m->instance < 1 || m->instance > SITE_METER_INSTANCE_MAX)
                site_perr(
                    c, m->line, "meter %u:%u: device instance %u outside 1..%u (DECISIONS O9%s)",
                    s->trunks[k].net, m->mac, m->instance, SITE_METER_INSTANCE_MAX,
                    m->instance > SITE_METER_INSTANCE_MAX ? "; give the trunk an instance_base"
                                                          : "");
        }
    }
    qsort(r, n, sizeof *r, site_cmp_serial);
    for (size_t k = 1; k < n && !c->failed; k++)
        if (!strcmp(r[k].m->serial, r[k - 1].m->serial))
            site_perr(c, r[k].line, "%s: serial %s is also %s's (line %d)",
                      site_who(&r[k], a, sizeof a), r[k].m->serial,
                      site_who(&r[k - 1], b, sizeof b), r[k - 1].line);
    r[n++] = (site_ref_t){s->router_instance, router_line, NULL, 0};
    qsort(r, n, sizeof *r, site_cmp_instance);
    for (size_t k = 1; k < n && !c->failed; k++)
        if (r[k].instance == r[k - 1].instance)
            site_perr(c, r[k].line, "%s: device instance %u is also %s's (line %d)",
                      site_who(&r[k], a, sizeof a), r[k].instance, site_who(&r[k - 1], b, sizeof b),
                      r[k - 1].line);
    free(r);
}

static int site_cmp_pty(const void *a, const void *b)
{
    const site_trunk_t *x = *(const site_trunk_t *const *)a, *y = *(const site_trunk_t *const *)b;
    int r = strcmp(x->pty, y->pty);
    return r ? r : (x->line > y->line) - (x->line < y->line);
}

static void site_check_ptys(site_parse_t *c)
{
    site_t *s = c->out;
    const site_trunk_t **p = malloc((s->ntrunks + 1) * sizeof *p);
    size_t n = 0;
    if (!p) {
        site_perr(c, 0, "out of memory");
        return;
    }
    for (unsigned k = 0; k < s->ntrunks; k++)
        if (s->trunks[k].pty)
            p[n++] = &s->trunks[k];
    qsort(p, n, sizeof *p, site_cmp_pty);
    for (size_t k = 1; k < n && !c->failed; k++)
        if (!strcmp(p[k]->pty, p[k - 1]->pty))
            site_perr(c, p[k]->line, "pty %s is trunk %u's already (line %d)", p[k]->pty,
                      p[k - 1]->net, p[k - 1]->line);
    free(p);
}

static void site_build(site_parse_t *c)
{
    site_t *s = c->out;
    s->profile =
        (c->site.set >> K_PROFILE & 1u) ? c->site.profile : site_strdup(c, NULL, "default");
    site_check_site(c);
    if (!c->failed)
        site_expand_compact(c);
    if (!c->failed)
        site_check_networks(c);
    if (!c->failed)
        site_make_trunks(c);
    if (!c->failed)
        site_apply_overrides(c);
    if (!c->failed)
        site_check_unique(c, site_kl(&c->site, K_ROUTER_INSTANCE));
    if (!c->failed)
        site_check_ptys(c);
}

void site_free(site_t *s)
{
    if (s->mem) {
        site_strs_free(s->mem->strs);
        free(s->mem->meters);
        free(s->mem);
    }
    free(s->trunks);
    memset(s, 0, sizeof *s);
}

static void site_default_name(site_t *s, const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strlen(base);
    if (n > 4 && strcasecmp(base + n - 4, ".ini") == 0)
        n -= 4;
    if (n > SITE_NAME_MAX)
        n = SITE_NAME_MAX;
    memcpy(s->name, base, n);
    s->name[n] = '\0';
    if (!site_printable(s->name) || !n)
        strcpy(s->name, "site");
}

int site_parse_buffer(const char *data, size_t len, const char *name, const char *base_dir,
                      site_t *out, char *err, size_t errcap)
{
    site_parse_t c;
    memset(&c, 0, sizeof c);
    memset(out, 0, sizeof *out);
    c.data = data;
    c.len = len;
    c.name = name;
    c.base_dir = base_dir;
    c.out = out;
    c.first_network = SITE_DEFAULT_FIRST_NETWORK;
    out->mem = calloc(1, sizeof *out->mem);
    site_default_name(out, name);
    out->router_instance = SITE_DEFAULT_ROUTER_INSTANCE;
    out->bind = (site_addr_t){{0, 0, 0, 0}, SITE_DEFAULT_PORT};
    out->bip_net = 1;
    out->fd_accept = true;
    out->foreign_ttl = SITE_DEFAULT_FOREIGN_TTL;
    int r = out->mem ? ini_parse_stream(site_reader, &c, site_handler, &c) : -2;
    if (r > 0 && (!c.failed || r < c.err_line)) {
        c.failed = false;
        site_perr(&c, r, "expected 'key = value', '[section]' or a comment");
    } else if (r < 0 && !c.failed) {
        site_perr(&c, 0, "out of memory");
    }
    if (!c.failed && !c.ntrunks && !c.compact_n)
        site_perr(&c, 0, "no trunks: give [trunk N] sections or trunks = N x M in [site]");
    if (!c.failed)
        site_build(&c);
    for (size_t k = 0; k < c.ntrunks; k++)
        free(c.trunks[k].macline);
    free(c.trunks);
    free(c.meters);
    if (out->mem)
        out->mem->strs = c.strs;
    else
        site_strs_free(c.strs);
    if (!c.failed)
        return 0;
    site_free(out);
    if (err && errcap) {
        if (c.err_line)
            snprintf(err, errcap, "%s: line %d: %s", name, c.err_line, c.err);
        else
            snprintf(err, errcap, "%s: %s", name, c.err);
    }
    return -1;
}

int site_parse_string(const char *text, const char *name, site_t *out, char *err, size_t errcap)
{
    return site_parse_buffer(text, strlen(text), name, NULL, out, err, errcap);
}

int site_load(const char *path, site_t *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    struct stat sb;
    const char *why = NULL;
    if (!f)
        why = strerror(errno);
    else if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode))
        why = "is a directory, not a site file";
    else if (sb.st_size > (off_t)SITE_FILE_MAX)
        why = "larger than 16 MiB";
    char *buf = why ? NULL : malloc((size_t)sb.st_size + 1);
    size_t n = 0;
    if (!why && !buf)
        why = "out of memory";
    if (buf) {
        n = fread(buf, 1, (size_t)sb.st_size + 1, f);
        if (ferror(f) || n > (size_t)sb.st_size)
            why = ferror(f) ? "read error" : "changed while being read";
    }
    if (f)
        fclose(f);
    if (why) {
        free(buf);
        if (err && errcap)
            snprintf(err, errcap, "%s: %s", path, why);
        return -1;
    }
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        slash[slash == dir] = '\0'; /* "/x.ini": "/" */
    int r = site_parse_buffer(buf, n, path, slash ? dir : NULL, out, err, errcap);
    free(dir);
    free(buf);
    return r;
}

/* ---- in words ---- */

const char *site_addr_str(const site_addr_t *a, char *buf)
{
    snprintf(buf, SITE_ADDR_STRLEN, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3],
             a->port);
    return buf;
}

/* "1-8,10,12-20" */
static void site_print_macs(const site_trunk_t *t, FILE *f)
{
    for (unsigned k = 0; k < t->nmeters;) {
        unsigned j = k;
        while (j + 1 < t->nmeters && t->meters[j + 1].mac == t->meters[j].mac + 1)
            j++;
        fprintf(f, "%s%u", k ? "," : "", t->meters[k].mac);
        if (j > k)
            fprintf(f, "-%u", t->meters[j].mac);
        k = j + 1;
    }
}

/* Trunks alike but for their network: one line says them all. Meter overrides break it. */
static bool site_alike(const site_trunk_t *a, const site_trunk_t *b)
{
    if (b->net != a->net + 1 || a->baud != b->baud || a->router_mac != b->router_mac ||
        a->max_master != b->max_master || a->max_info_frames != b->max_info_frames ||
        a->vary != b->vary || a->pty || b->pty || strcmp(a->profile, b->profile) ||
        a->nmeters != b->nmeters)
        return false;
    for (unsigned k = 0; k < a->nmeters; k++) {
        const site_meter_t *x = &a->meters[k], *y = &b->meters[k];
        if (x->mac != y->mac || x->profile != a->profile || y->profile != b->profile ||
            x->scenario || y->scenario || x->max_master != a->max_master ||
            y->max_master != b->max_master || x->max_info_frames != a->max_info_frames ||
            y->max_info_frames != b->max_info_frames)
            return false;
    }
    return true;
}

static void site_describe_trunks(const site_trunk_t *t, unsigned n, FILE *f)
{
    if (n > 1)
        fprintf(f, "  networks %u-%u: %u trunks at %u baud", t->net, t[n - 1].net, n, t->baud);
    else
        fprintf(f, "  network %u at %u baud", t->net, t->baud);
    fprintf(f, "%s%s, router MAC %u, ", t->pty ? " on " : "", t->pty ? t->pty : "", t->router_mac);
    if (t->max_master != 127 || t->max_info_frames != 1)
        fprintf(f, "max_master %u, max_info_frames %u, ", t->max_master, t->max_info_frames);
    if (!t->nmeters) {
        fprintf(f, "no meters\n");
        return;
    }
    fprintf(f, "meter%s ", t->nmeters > 1 ? "s" : "");
    site_print_macs(t, f);
    uint32_t lo = t->meters[0].instance, hi = lo;
    for (unsigned k = 0; k < n; k++)
        for (unsigned j = 0; j < t[k].nmeters; j++) {
            uint32_t i = t[k].meters[j].instance;
            lo = i < lo ? i : lo;
            hi = i > hi ? i : hi;
        }
    unsigned own = 0;
    for (unsigned j = 0; j < t->nmeters; j++)
        own += t->meters[j].profile != t->profile || t->meters[j].scenario != NULL;
    fprintf(f, "%s (instances %u-%u), profile %s%s", n > 1 ? " each" : "", lo, hi, t->profile,
            t->vary ? " varied per meter" : "");
    if (own)
        fprintf(f, ", %u meter%s with %s own", own, own > 1 ? "s" : "", own > 1 ? "their" : "its");
    fputc('\n', f);
}

void site_describe(const site_t *s, FILE *f)
{
    char a[SITE_ADDR_STRLEN], b[SITE_ADDR_STRLEN];
    fprintf(f, "site \"%s\": router %u on B/IP network %u (%s, broadcast %s)", s->name,
            s->router_instance, s->bip_net, site_addr_str(&s->bind, a),
            site_addr_str(&s->broadcast, b));
    if (s->bbmd)
        fprintf(f, ", BBMD with %u BDT entr%s%s", s->nbdt, s->nbdt == 1 ? "y" : "ies",
                s->fd_accept ? ", accepting foreign devices" : "");
    if (s->foreign)
        fprintf(f, ", foreign device of %s (TTL %u s)", site_addr_str(&s->foreign_bbmd, a),
                s->foreign_ttl);
    fprintf(f, ", NV %s, joins %u MS/TP trunk%s with %u meters:\n", s->nv_dir ? s->nv_dir : "off",
            s->ntrunks, s->ntrunks == 1 ? "" : "s", s->nmeters);
    for (unsigned k = 0; k < s->ntrunks;) {
        unsigned n = 1;
        while (k + n < s->ntrunks && site_alike(&s->trunks[k + n - 1], &s->trunks[k + n]))
            n++;
        site_describe_trunks(&s->trunks[k], n, f);
        k += n;
    }
}
