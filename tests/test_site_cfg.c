/*
 * Site files (src/app/site_cfg.c, docs/site.md): a full file read field by field, the
 * defaults, the compact form, every rule a file can break (each refused with its file
 * and line, and nothing kept), uniqueness in a site of 130,048 meters, paths relative
 * to the file, the topology in words, and every file in sites/.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "site_cfg.h"

static site_t parse_ok(const char *text)
{
    site_t s;
    char err[256] = "";
    int r = site_parse_string(text, "t.ini", &s, err, sizeof err);
    if (r != 0)
        fail_msg("refused: %s", err);
    return s;
}

/* Refused, with "t.ini: line N: ..." containing what. Nothing is kept. */
static void parse_bad(const char *text, int line, const char *what)
{
    site_t s;
    memset(&s, 0x5a, sizeof s);
    char err[256] = "", want[32];
    assert_int_equal(site_parse_string(text, "t.ini", &s, err, sizeof err), -1);
    if (line)
        snprintf(want, sizeof want, "t.ini: line %d: ", line);
    else
        snprintf(want, sizeof want, "t.ini: ");
    if (strncmp(err, want, strlen(want)) || !strstr(err, what) || strchr(err, '\n'))
        fail_msg("for:\n%s\nwant '%s...%s', got '%s'", text, want, what, err);
    assert_null(s.trunks);
    assert_null(s.mem);
    assert_int_equal(s.ntrunks, 0);
    assert_int_equal(s.nmeters, 0);
}

static const char full[] = "; every key\n"
                           "[site]\n"
                           "name = Tower One\n"
                           "router_instance = 4194100\n"
                           "bind = 192.168.1.10:47809\n"
                           "broadcast = 192.168.1.255\n"
                           "bip_network = 7\n"
                           "bbmd = yes\n"
                           "bdt = 192.168.1.10, 10.0.0.1:47810/255.255.255.0\n"
                           "bdt = 10.0.1.1/24\n"
                           "fd_accept = no\n"
                           "nv_dir = /var/lib/s4100\n"
                           "profile = drift\n"
                           "baud = 19200\n"
                           "variation = on\n"
                           "\n"
                           "[trunk 12]\n"
                           "baud = 115200\n"
                           "router_mac = 5\n"
                           "max_master = 40\n"
                           "max_info_frames = 4\n"
                           "pty = /dev/ttyUSB1\n"
                           "meters = 1-3, 10\n"
                           "meters = 40\n"
                           "profile = harmonics\n"
                           "variation = no\n"
                           "instance_base = 500000\n"
                           "serial_prefix = T12-\n"
                           "\n"
                           "[TRUNK 11]   ; a comment after the header\n"
                           "Meters = 2\n"
                           "\n"
                           "[meter 12:10]\n"
                           "instance = 777\n"
                           "serial = SPECIAL\n"
                           "scenario = /x/y.ini\n"
                           "max_master = 60\n"
                           "max_info_frames = 2\n"
                           "\n"
                           "[meter 12 : 40]\n"
                           "profile = my/own.ini\n";

static void test_full_file(void **state)
{
    (void)state;
    site_t s = parse_ok(full);
    assert_string_equal(s.name, "Tower One");
    assert_int_equal(s.router_instance, 4194100);
    assert_memory_equal(s.bind.ip, ((uint8_t[]){192, 168, 1, 10}), 4);
    assert_int_equal(s.bind.port, 47809);
    assert_memory_equal(s.broadcast.ip, ((uint8_t[]){192, 168, 1, 255}), 4);
    assert_int_equal(s.broadcast.port, 47809); /* no port given: the router's own */
    assert_int_equal(s.bip_net, 7);
    assert_true(s.bbmd);
    assert_false(s.fd_accept);
    assert_int_equal(s.nbdt, 3);
    assert_memory_equal(s.bdt[0].addr.ip, ((uint8_t[]){192, 168, 1, 10}), 4);
    assert_int_equal(s.bdt[0].addr.port, 47808);
    assert_memory_equal(s.bdt[0].mask, ((uint8_t[]){255, 255, 255, 255}), 4);
    assert_int_equal(s.bdt[1].addr.port, 47810);
    assert_memory_equal(s.bdt[1].mask, ((uint8_t[]){255, 255, 255, 0}), 4);
    assert_memory_equal(s.bdt[2].addr.ip, ((uint8_t[]){10, 0, 1, 1}), 4);
    assert_memory_equal(s.bdt[2].mask, ((uint8_t[]){255, 255, 255, 0}), 4);
    assert_false(s.foreign);
    assert_string_equal(s.nv_dir, "/var/lib/s4100");
    assert_string_equal(s.profile, "drift");
    assert_int_equal(s.ntrunks, 2);
    assert_int_equal(s.nmeters, 6);

    /* sorted by network: 11 first; it takes the [site] defaults */
    const site_trunk_t *t = &s.trunks[0];
    assert_int_equal(t->net, 11);
    assert_int_equal(t->line, 30);
    assert_int_equal(t->baud, 19200);
    assert_string_equal(t->profile, "drift");
    assert_true(t->vary);
    assert_int_equal(t->router_mac, 0);
    assert_int_equal(t->max_master, 127);
    assert_int_equal(t->max_info_frames, 1);
    assert_null(t->pty);
    assert_int_equal(t->nmeters, 1);
    assert_int_equal(t->meters[0].mac, 2);
    assert_int_equal(t->meters[0].instance, 11002);
    assert_string_equal(t->meters[0].serial, "4100011002");
    assert_true(t->meters[0].vary);
    assert_int_equal(t->meters[0].vary_seed, 11u << 8 | 2);
    assert_string_equal(t->meters[0].profile, "drift");

    t = &s.trunks[1];
    assert_int_equal(t->net, 12);
    assert_int_equal(t->baud, 115200);
    assert_int_equal(t->router_mac, 5);
    assert_int_equal(t->max_master, 40);
    assert_int_equal(t->max_info_frames, 4);
    assert_string_equal(t->pty, "/dev/ttyUSB1");
    assert_false(t->vary);
    assert_string_equal(t->profile, "harmonics");
    assert_int_equal(t->nmeters, 5);
    static const uint8_t macs[] = {1, 2, 3, 10, 40};
    for (unsigned k = 0; k < 5; k++)
        assert_int_equal(t->meters[k].mac, macs[k]);
    const site_meter_t *m = &t->meters[0];
    assert_int_equal(m->instance, 500001);
    assert_string_equal(m->serial, "T12-001");
    assert_int_equal(m->max_master, 40);
    assert_int_equal(m->max_info_frames, 4);
    assert_false(m->vary);
    assert_string_equal(m->profile, "harmonics");
    assert_null(m->scenario);
    assert_int_equal(m->line, 23);
    m = site_meter_find(t, 10);
    assert_ptr_equal(m, &t->meters[3]);
    assert_int_equal(m->instance, 777);
    assert_string_equal(m->serial, "SPECIAL");
    assert_string_equal(m->scenario, "/x/y.ini");
    assert_int_equal(m->max_master, 60);
    assert_int_equal(m->max_info_frames, 2);
    assert_int_equal(m->line, 33);
    m = site_meter_find(t, 40);
    assert_string_equal(m->profile, "my/own.ini");
    assert_true(site_profile_is_path(m->profile));
    assert_false(site_profile_is_path(t->profile));
    assert_null(site_meter_find(t, 4));
    assert_ptr_equal(site_trunk_find(&s, 12), t);
    assert_null(site_trunk_find(&s, 13));
    site_free(&s);
    assert_null(s.trunks);
    site_free(&s); /* twice is fine */
}

static void test_defaults(void **state)
{
    (void)state;
    site_t s = parse_ok("[trunk 5]\nmeters = 1-3\n");
    assert_string_equal(s.name, "t"); /* the file's name */
    assert_int_equal(s.router_instance, SITE_DEFAULT_ROUTER_INSTANCE);
    assert_memory_equal(s.bind.ip, ((uint8_t[]){0, 0, 0, 0}), 4);
    assert_int_equal(s.bind.port, 47808);
    assert_memory_equal(s.broadcast.ip, ((uint8_t[]){255, 255, 255, 255}), 4);
    assert_int_equal(s.broadcast.port, 47808);
    assert_int_equal(s.bip_net, 1);
    assert_false(s.bbmd);
    assert_false(s.foreign);
    assert_null(s.nv_dir);
    assert_string_equal(s.profile, "default");
    assert_int_equal(s.ntrunks, 1);
    const site_trunk_t *t = &s.trunks[0];
    assert_int_equal(t->baud, 38400);
    assert_int_equal(t->router_mac, 0);
    assert_int_equal(t->max_master, 127);
    assert_int_equal(t->max_info_frames, 1);
    assert_false(t->vary);
    assert_null(t->pty);
    assert_int_equal(t->nmeters, 3);
    for (unsigned k = 0; k < 3; k++) {
        char serial[16];
        snprintf(serial, sizeof serial, "41000050%02u", k + 1);
        assert_int_equal(t->meters[k].instance, 5001 + k);
        assert_string_equal(t->meters[k].serial, serial);
        assert_string_equal(t->meters[k].profile, "default");
        assert_false(t->meters[k].vary);
    }
    site_free(&s);

    /* bound to loopback: broadcasts stay on it, as s4100 run does */
    s = parse_ok("[site]\nbind = 127.0.0.1:47900\nforeign = 10.1.2.3\n[trunk 2]\n");
    assert_memory_equal(s.broadcast.ip, ((uint8_t[]){127, 255, 255, 255}), 4);
    assert_int_equal(s.broadcast.port, 47900);
    assert_true(s.foreign);
    assert_memory_equal(s.foreign_bbmd.ip, ((uint8_t[]){10, 1, 2, 3}), 4);
    assert_int_equal(s.foreign_bbmd.port, 47808);
    assert_int_equal(s.foreign_ttl, SITE_DEFAULT_FOREIGN_TTL);
    assert_int_equal(s.trunks[0].nmeters, 0); /* a trunk may have no meters */
    site_free(&s);

    s = parse_ok("[site]\nforeign = 10.1.2.3:47000\nforeign_ttl = 60\nbbmd = no\n[trunk 2]\n");
    assert_int_equal(s.foreign_bbmd.port, 47000);
    assert_int_equal(s.foreign_ttl, 60);
    site_free(&s);

    s = parse_ok("[site]\nbbmd = yes\n[trunk 2]\n");
    assert_true(s.fd_accept); /* a BBMD accepts foreign devices unless told not to */
    assert_int_equal(s.nbdt, 0);
    site_free(&s);
}

static void check_compact(const site_t *s, unsigned n, unsigned m, unsigned first,
                          const char *profile)
{
    assert_int_equal(s->ntrunks, n);
    assert_int_equal(s->nmeters, n * m);
    for (unsigned k = 0; k < n; k++) {
        const site_trunk_t *t = &s->trunks[k];
        assert_int_equal(t->net, first + k);
        assert_int_equal(t->router_mac, 0);
        assert_string_equal(t->profile, profile);
        assert_int_equal(t->nmeters, m);
        for (unsigned j = 0; j < m; j++) {
            assert_int_equal(t->meters[j].mac, j + 1);
            assert_int_equal(t->meters[j].instance, (first + k) * 1000 + j + 1);
        }
    }
}

static void test_compact(void **state)
{
    (void)state;
    site_t s = parse_ok("[site]\ntrunks = 20 x 32\n");
    check_compact(&s, 20, 32, SITE_DEFAULT_FIRST_NETWORK, "default");
    assert_int_equal(s.trunks[0].baud, 38400);
    site_free(&s);

    /* the issue's own words */
    s = parse_ok("[site]\ntrunks = 20 x 32 meters, profile office\n");
    check_compact(&s, 20, 32, 10, "office");
    site_free(&s);

    s = parse_ok("[site]\ntrunks = 3X5 meter , profile=export-pv, baud 76800 ,first_network 300, "
                 "variation yes\n");
    check_compact(&s, 3, 5, 300, "export-pv");
    assert_int_equal(s.trunks[2].baud, 76800);
    assert_true(s.trunks[2].meters[4].vary);
    site_free(&s);

    s = parse_ok("[site]\ntrunks = 2 x 4\nfirst_network = 50\nbaud = 9600\nprofile = drift\n");
    check_compact(&s, 2, 4, 50, "drift");
    assert_int_equal(s.trunks[1].baud, 9600);
    site_free(&s);

    /* with explicit trunks beside them, and an override of a compact trunk's meter */
    s = parse_ok("[meter 11:3]\ninstance = 99\n[site]\ntrunks = 2 x 4\n[trunk 5]\nmeters = 7\n"
                 "[trunk 100]\n");
    assert_int_equal(s.ntrunks, 4);
    assert_int_equal(s.trunks[0].net, 5);
    assert_int_equal(s.trunks[1].net, 10);
    assert_int_equal(s.trunks[3].net, 100);
    assert_int_equal(site_meter_find(site_trunk_find(&s, 11), 3)->instance, 99);
    assert_int_equal(site_meter_find(site_trunk_find(&s, 11), 3)->line, 1);
    site_free(&s);

    /* the largest site */
    s = parse_ok("[site]\ntrunks = 1024 x 127\nfirst_network = 2\n");
    check_compact(&s, 1024, 127, 2, "default");
    site_free(&s);
}

typedef struct {
    const char *text;
    int line;
    const char *what;
} bad_t;

static const bad_t bad_files[] = {
    /* syntax: what inih would misread or skip */
    {"[site]\nname = a\0b\n[trunk 2]\n", 2, "NUL byte"},
    {"[site]\n  name = x\n[trunk 2]\n", 2, "indented line"},
    {"[site]\nname = x\n  continued\n[trunk 2]\n", 3, "indented line"},
    {"name = x\n[trunk 2]\n", 1, "before any [section]"},
    {"[site]\nbbmd\n[trunk 2]\n", 2, "expected 'key = value'"},
    {"[site\n[trunk 2]\n", 1, "without ']'"},
    {"[site] x\n[trunk 2]\n", 1, "text after the section header"},
    {"[building]\n[trunk 2]\n", 1, "unknown section [building]"},
    {"[site]\n[site]\n[trunk 2]\n", 2, "[site] appears twice (first at line 1)"},
    {"[trunk]\n", 1, "[trunk N]"},
    {"[trunk 2:3]\n", 1, "[trunk N]"},
    {"[meter 2]\n[trunk 2]\n", 1, "[meter N:MAC]"},
    {"[meter 2:128]\n[trunk 2]\n", 1, "[meter N:MAC]"},
    {"", 0, "no trunks"},
    {"[site]\nname = x\n", 0, "no trunks"},
    /* unknown keys, keys in the wrong place, keys twice */
    {"[site]\ncolour = red\n[trunk 2]\n", 2, "unknown key 'colour' in [site]"},
    {"[site]\nrouter_mac = 3\n[trunk 2]\n", 2, "unknown key 'router_mac' in [site]"},
    {"[trunk 2]\nbind = 1.2.3.4\n", 2, "unknown key 'bind' in [trunk N]"},
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\nbaud = 9600\n", 4, "unknown key 'baud' in [meter N:MAC]"},
    {"[trunk 2]\nbaud = 9600\nBAUD = 9600\n", 3, "baud given twice (first at line 2)"},
    {"[site]\nprofile = drift\ntrunks = 2 x 2, profile office\n", 3, "profile given twice"},
    /* numbers */
    {"[trunk 2]\nmax_master = 0x10\n", 2, "max_master: '0x10' is not a whole number in 1..127"},
    {"[trunk 2]\nmax_master = -1\n", 2, "max_master"},
    {"[trunk 2]\nmax_master = 128\n", 2, "max_master"},
    {"[trunk 2]\nmax_master = 0\n", 2, "max_master"},
    {"[trunk 2]\nmax_info_frames = 0\n", 2, "max_info_frames"},
    {"[trunk 2]\nrouter_mac = 12 3\n", 2, "router_mac"},
    {"[trunk 2]\nrouter_mac = 99999999999999999999\n", 2, "router_mac"},
    {"[trunk 2]\nmeters = 1-x\n", 2, "meters: '1-x' is not a MAC"},
    {"[trunk 2]\nmeters = 1,,2\n", 2, "meters: '' is not a MAC"},
    {"[trunk 2]\nmeters = 128\n", 2, "meters: '128'"},
    {"[trunk 2]\nmeters = 10-1\n", 2, "runs backwards"},
    {"[trunk 2]\nmeters =\n", 2, "meters: empty list"},
    {"[site]\nvariation = maybe\n[trunk 2]\n", 2, "variation: 'maybe' is not yes or no"},
    {"[site]\nload = pooled\n[trunk 2]\n", 2, "load: 'pooled' is not shared or own"},
    {"[trunk 2]\nload = shared\n", 2, "load"},
    {"[site]\nbind = 1.2.3\n[trunk 2]\n", 2, "bind: '1.2.3' is not an IPv4"},
    {"[site]\nbind = 1.2.3.4:0\n[trunk 2]\n", 2, "bind"},
    {"[site]\nbroadcast = 1.2.3.4:65536\n[trunk 2]\n", 2, "broadcast"},
    {"[site]\nforeign = host:47808\n[trunk 2]\n", 2, "foreign"},
    {"[site]\nbind = 1.2.3.4/24\n[trunk 2]\n", 2, "bind"},
    {"[site]\nbbmd = yes\nbdt = 1.2.3.4/33\n[trunk 2]\n", 3, "bdt: '1.2.3.4/33'"},
    {"[site]\nbbmd = yes\nbdt = 1.2.3.4, 1.2.3.4:47808\n[trunk 2]\n", 3, "listed twice"},
    {"[site]\nforeign_ttl = 0\n[trunk 2]\n", 2, "foreign_ttl"},
    {"[site]\nname =\n[trunk 2]\n", 2, "name: 1..64"},
    /* baud */
    {"[trunk 2]\nbaud = 57600\n", 2, "baud: '57600' is not 9600, 19200, 38400, 76800 or 115200"},
    {"[site]\nbaud = 0\n[trunk 2]\n", 2, "baud"},
    /* networks */
    {"[trunk 0]\n", 1, "network number 1..65534"},
    {"[trunk 65535]\n", 1, "network number 1..65534"},
    {"[site]\nbip_network = 0\n[trunk 2]\n", 2, "bip_network"},
    {"[site]\nbip_network = 65535\n[trunk 2]\n", 2, "bip_network"},
    {"[trunk 2]\n[trunk 3]\n[trunk 2]\n", 3, "network 2 has a trunk already (line 1)"},
    {"[site]\nbip_network = 3\n[trunk 2]\n[trunk 3]\n", 4, "trunk network 3 is the B/IP network"},
    {"[trunk 1]\n", 1, "trunk network 1 is the B/IP network"},
    {"[site]\ntrunks = 5 x 2\n[trunk 12]\n", 3, "network 12 has a trunk already (line 2)"},
    {"[site]\ntrunks = 5 x 2\nfirst_network = 65531\n", 2, "go past 65534"},
    {"[site]\nfirst_network = 5\n[trunk 2]\n", 2, "first_network: only with trunks"},
    /* the compact form */
    {"[site]\ntrunks = 20\n", 2, "is not 'N x M'"},
    {"[site]\ntrunks = 20 x\n", 2, "is not 'N x M'"},
    {"[site]\ntrunks = 20 x 32 meters profile office\n", 2, "is not 'N x M'"},
    {"[site]\ntrunks = 20 x 32, colour red\n", 2, "expected profile, baud, first_network"},
    {"[site]\ntrunks = 20 x 32, baud 1200\n", 2, "baud: '1200'"},
    {"[site]\ntrunks = 0 x 32\n", 2, "1..1024 trunks of 1..127 meters"},
    {"[site]\ntrunks = 1025 x 1\n", 2, "1..1024 trunks"},
    {"[site]\ntrunks = 1 x 128\n", 2, "1..1024 trunks of 1..127 meters"},
    {"[site]\ntrunks = 1024 x 1\n[trunk 2]\n", 2, "1025 trunks in all, more than 1024"},
    /* MACs */
    {"[trunk 2]\nmeters = 1-5, 3\n", 2, "meters: MAC 3 listed twice"},
    {"[trunk 2]\nmeters = 1-5\nmeters = 5\n", 3, "meters: MAC 5 listed twice"},
    {"[trunk 2]\nmeters = 0-3\n", 2, "meters: MAC 0 on network 2 is the router's"},
    {"[trunk 2]\nrouter_mac = 7\n\nmeters = 5-9\n", 4, "MAC 7 on network 2 is the router's"},
    {"[trunk 2]\nmeters = 1-3\nmeters = 4, 7\nmeters = 8\nrouter_mac = 7\n", 3, "MAC 7 on"},
    {"[trunk 2]\nmax_master = 20\nmeters = 19-21\n", 3,
     "MAC 21 on network 2 is above max_master 20"},
    {"[trunk 2]\nmax_master = 20\nrouter_mac = 21\n", 3, "router_mac 21 on network 2 is above"},
    {"[trunk 2]\nmeters = 5\n[meter 2:5]\nmax_master = 4\n", 4,
     "max_master 4 is below the meter's MAC 5"},
    /* overrides */
    {"[trunk 2]\nmeters = 1\n[meter 3:1]\n", 3, "no trunk has network 3"},
    {"[trunk 2]\nmeters = 1\n[meter 2:2]\n", 3, "trunk 2 has no meter with MAC 2"},
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\n[meter 2:1]\n", 4,
     "[meter 2:1] appears twice (first at line 3)"},
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\nprofile = drift\nscenario = x.ini\n", 5, "not both"},
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\nscenario =\n", 4, "scenario: expected a path"},
    {"[trunk 2]\nprofile = off ice\n", 2, "is not a profile name"},
    {"[trunk 2]\nprofile = \x01x\n", 2, "profile"},
    /* device instances */
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\ninstance = 4194000\n", 4, "instance: '4194000' is not"},
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\ninstance = 0\n", 4, "instance: '0'"},
    {"[site]\nrouter_instance = 4194303\n[trunk 2]\n", 2, "router_instance"},
    {"[trunk 2]\ninstance_base = 4193999\nmeters = 1\n", 3,
     "device instance 4194000 outside 1..4193999"},
    {"[trunk 5000]\nmeters = 1\n", 2, "give the trunk an instance_base"},
    {"[trunk 2]\nmeters = 1-3\n[trunk 3]\nmeters = 1\n[meter 3:1]\ninstance = 2002\n", 5,
     "meter 3:1: device instance 2002 is also meter 2:2's (line 2)"},
    {"[trunk 2]\ninstance_base = 100\nmeters = 1-3\n[trunk 3]\ninstance_base = 101\nmeters = 1\n",
     6, "meter 3:1: device instance 102 is also meter 2:2's (line 3)"},
    {"[site]\nrouter_instance = 2001\n[trunk 2]\nmeters = 1-3\n", 4,
     "device instance 2001 is also the router's (line 2)"},
    /* serials */
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\nserial = a/b\n", 4, "serial: 'a/b'"},
    {"[trunk 2]\nmeters = 1\n[meter 2:1]\nserial = 12345678901234567\n", 4, "serial"},
    {"[trunk 2]\nserial_prefix = 12345678901234\n", 2, "serial_prefix"},
    {"[trunk 2]\nmeters = 1-2\n[meter 2:2]\nserial = 4100002001\n", 3,
     "serial 4100002001 is also meter 2:1's"},
    {"[trunk 2]\nserial_prefix = A\nmeters = 1\n[trunk 3]\nserial_prefix = A\nmeters = 1\n", 6,
     "serial A001 is also meter 2:1's (line 3)"},
    /* B/IP options that go together */
    {"[site]\nbdt = 1.2.3.4\n[trunk 2]\n", 2, "bdt: only with bbmd = yes"},
    {"[site]\nbbmd = no\nfd_accept = yes\n[trunk 2]\n", 3, "fd_accept: only with bbmd = yes"},
    {"[site]\nbbmd = yes\nforeign = 1.2.3.4\n[trunk 2]\n", 3, "a BBMD does not register"},
    {"[site]\nforeign_ttl = 60\n[trunk 2]\n", 2, "foreign_ttl: only with foreign"},
    /* two trunks on one device */
    {"[trunk 2]\npty = /dev/ttyS0\n[trunk 3]\npty = /dev/ttyS0\n", 3,
     "pty /dev/ttyS0 is trunk 2's already (line 1)"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof bad_files / sizeof bad_files[0]; k++) {
        const bad_t *b = &bad_files[k];
        /* the NUL case: the text runs past the NUL */
        size_t len = strlen(b->text);
        if (strstr(b->what, "NUL"))
            len += 1 + strlen(b->text + len + 1);
        site_t s;
        char err[256] = "", want[32];
        memset(&s, 0x5a, sizeof s);
        int r = site_parse_buffer(b->text, len, "t.ini", NULL, &s, err, sizeof err);
        if (b->line)
            snprintf(want, sizeof want, "t.ini: line %d: ", b->line);
        else
            snprintf(want, sizeof want, "t.ini: ");
        if (r != -1 || strncmp(err, want, strlen(want)) || !strstr(err, b->what) ||
            strchr(err, '\n'))
            fail_msg("case %zu:\n%s\nwant '%s...%s', got %d '%s'", k, b->text, want, b->what, r,
                     err);
        assert_null(s.trunks);
        assert_null(s.mem);
        assert_int_equal(s.nmeters, 0);
    }
}

static void test_long_lines(void **state)
{
    (void)state;
    char text[600];
    /* 198 characters fit on a line; 199 do not (inih's line buffer) */
    size_t n = strlen("name = ");
    char line[260];
    memset(line, 'a', sizeof line);
    memcpy(line, "name = ", n);
    line[64 + n] = '\0'; /* the longest name */
    snprintf(text, sizeof text, "[site]\n%s\n[trunk 2]\n", line);
    site_t s = parse_ok(text);
    site_free(&s);
    char list[260] = "meters = 1";
    while (strlen(list) < 198 - 3)
        strcat(list, ",1");
    snprintf(text, sizeof text, "[trunk 2]\nmeters = 2\n%s\n", list);
    parse_bad(text, 3, "MAC 1 listed twice"); /* read whole, so checked */
    strcat(list, ",1");
    while (strlen(list) < 199)
        strcat(list, "1");
    snprintf(text, sizeof text, "[trunk 2]\nmeters = 2\n%s\n", list);
    parse_bad(text, 3, "line longer than 198 characters");
    /* a list continues on a repeated key */
    s = parse_ok("[trunk 2]\nmeters = 1-3\nmeters = 5\nmeters = 7-9\n");
    assert_int_equal(s.nmeters, 7);
    site_free(&s);
    /* a UTF-8 BOM and CRLF line ends are fine */
    s = parse_ok("\xEF\xBB\xBF[site]\r\nname = crlf\r\n[trunk 2]\r\nmeters = 1-2\r\n");
    assert_string_equal(s.name, "crlf");
    assert_int_equal(s.nmeters, 2);
    site_free(&s);
}

/* 1024 trunks of 127 meters: every instance and serial unique, then one clash. */
static void test_uniqueness_at_scale(void **state)
{
    (void)state;
    size_t cap = 1100 * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = 0;
    for (unsigned net = 2; net < 2 + 1024; net++)
        n += (size_t)snprintf(text + n, cap - n, "[trunk %u]\nrouter_mac = 127\nmeters = 0-126\n",
                              net);
    site_t s = parse_ok(text);
    assert_int_equal(s.nmeters, 1024 * 127);
    assert_int_equal(s.trunks[1023].meters[126].instance, 1025 * 1000 + 126);
    site_free(&s);
    /* the last meter takes the first one's instance */
    snprintf(text + n, cap - n, "[meter 1025:126]\ninstance = 2000\n");
    char err[256];
    assert_int_equal(site_parse_string(text, "big.ini", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "meter 1025:126: device instance 2000 is also meter 2:0's"));
    /* and one serial clash */
    snprintf(text + n, cap - n, "[meter 1025:126]\nserial = 4100002000\n");
    assert_int_equal(site_parse_string(text, "big.ini", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "serial 4100002000 is also meter 2:0's"));
    /* one trunk more is too many */
    snprintf(text + n, cap - n, "[trunk 2000]\n");
    assert_int_equal(site_parse_string(text, "big.ini", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 1024"));
    free(text);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_load_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_site_cfg.XXXXXX", path[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/b.ini", dir);
    write_file(path,
               "[site]\nnv_dir = nv\n[trunk 2]\nprofile = my.ini\npty = /dev/pts/9\n"
               "meters = 1-2\n[meter 2:1]\nscenario = ../s/x.ini\n[meter 2:2]\nprofile = office\n");
    site_t s;
    assert_int_equal(site_load(path, &s, err, sizeof err), 0);
    char want[160];
    assert_string_equal(s.name, "b");
    snprintf(want, sizeof want, "%s/nv", dir);
    assert_string_equal(s.nv_dir, want);
    snprintf(want, sizeof want, "%s/my.ini", dir);
    assert_string_equal(s.trunks[0].profile, want);
    assert_string_equal(s.trunks[0].pty, "/dev/pts/9");
    snprintf(want, sizeof want, "%s/../s/x.ini", dir);
    assert_string_equal(s.trunks[0].meters[0].scenario, want);
    assert_string_equal(s.trunks[0].meters[1].profile, "office");
    site_free(&s);

    /* an error names the file as given */
    write_file(path, "[trunk 2]\nbaud = 1\n");
    assert_int_equal(site_load(path, &s, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: line 2: baud", path);
    assert_memory_equal(err, want, strlen(want));
    assert_null(s.trunks);
    unlink(path);
    assert_int_equal(site_load(path, &s, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(site_load(dir, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "is a directory"));
    rmdir(dir);
}

static char *describe(const site_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    site_describe(s, f);
    fclose(f);
    return buf;
}

static void test_describe(void **state)
{
    (void)state;
    site_t s = parse_ok("[site]\nname = demo\ntrunks = 20 x 32\n[trunk 5]\nmeters = 1-8,10,12-13\n"
                        "pty = /dev/ttyUSB0\n[meter 5:10]\nprofile = drift\n");
    char *d = describe(&s);
    static const char *const want[] = {
        "site \"demo\": router 4194000 on B/IP network 1 (0.0.0.0:47808, broadcast "
        "255.255.255.255:47808), NV off, joins 21 MS/TP trunks with 651 meters:\n",
        "  network 5 at 38400 baud on /dev/ttyUSB0, router MAC 0, meters 1-8,10,12-13 "
        "(instances 5001-5013), profile default, 1 meter with its own\n",
        "  networks 10-29: 20 trunks at 38400 baud, router MAC 0, meters 1-32 each "
        "(instances 10001-29032), profile default\n"};
    for (size_t k = 0; k < 3; k++)
        if (!strstr(d, want[k]))
            fail_msg("want\n%s\nin\n%s", want[k], d);
    free(d);
    site_free(&s);
}

static int is_ini(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 4 && !strcmp(e->d_name + n - 4, ".ini");
}

static site_t load_site(const char *name)
{
    char path[512], err[256];
    site_t s;
    snprintf(path, sizeof path, "%s/sites/%s", S4100_SOURCE_DIR, name);
    if (site_load(path, &s, err, sizeof err))
        fail_msg("%s", err);
    return s;
}

static void test_sites_dir(void **state)
{
    (void)state;
    struct dirent **names;
    int n = scandir(S4100_SOURCE_DIR "/sites", &names, is_ini, alphasort);
    assert_true(n >= 6);
    for (int k = 0; k < n; k++) {
        site_t s = load_site(names[k]->d_name);
        assert_true(s.ntrunks > 0);
        char *d = describe(&s);
        assert_non_null(strstr(d, "MS/TP trunk"));
        free(d);
        site_free(&s);
        free(names[k]);
    }
    free(names);

    site_t s = load_site("compact-20x32.ini");
    check_compact(&s, 20, 32, 10, "office");
    site_free(&s);
    s = load_site("1000-meters.ini");
    assert_int_equal(s.nmeters, 1000);
    assert_int_equal(s.ntrunks, 32);
    site_free(&s);
    s = load_site("10000-meters.ini");
    assert_int_equal(s.nmeters, 10000);
    assert_true(s.shared_load);
    assert_int_equal(s.ntrunks, 313);
    site_free(&s);

    /* the two BBMDs: each other in their BDTs, one B/IP network, nothing else shared */
    site_t a = load_site("site-a.ini"), b = load_site("site-b.ini");
    static const uint8_t ipa[4] = {10, 77, 1, 1}, ipb[4] = {10, 77, 2, 1};
    assert_true(a.bbmd && b.bbmd);
    static const uint8_t any[4] = {0, 0, 0, 0}; /* broadcasts are heard only so */
    assert_memory_equal(a.bind.ip, any, 4);
    assert_memory_equal(b.bind.ip, any, 4);
    for (int k = 0; k < 2; k++) {
        const site_t *x = k ? &b : &a;
        bool has_a = false, has_b = false;
        for (unsigned j = 0; j < x->nbdt; j++) {
            assert_int_equal(x->bdt[j].addr.port, 47808);
            has_a |= !memcmp(x->bdt[j].addr.ip, ipa, 4);
            has_b |= !memcmp(x->bdt[j].addr.ip, ipb, 4);
        }
        assert_true(has_a && has_b);
        assert_int_equal(x->bind.port, 47808);
    }
    assert_int_equal(a.bip_net, b.bip_net);
    assert_int_not_equal(a.router_instance, b.router_instance);
    for (unsigned k = 0; k < a.ntrunks; k++) {
        assert_null(site_trunk_find(&b, a.trunks[k].net));
        for (unsigned j = 0; j < b.ntrunks; j++)
            for (unsigned i = 0; i < b.trunks[j].nmeters; i++)
                for (unsigned h = 0; h < a.trunks[k].nmeters; h++)
                    assert_int_not_equal(a.trunks[k].meters[h].instance,
                                         b.trunks[j].meters[i].instance);
    }
    site_free(&a);
    site_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),  cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_compact),    cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_long_lines), cmocka_unit_test(test_uniqueness_at_scale),
        cmocka_unit_test(test_load_paths), cmocka_unit_test(test_describe),
        cmocka_unit_test(test_sites_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
