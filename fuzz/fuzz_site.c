/*
 * libFuzzer target: the input as a site file (src/app/site_cfg.c). A refusal must be
 * one line naming the file, with nothing kept; an accepted site must keep every promise
 * of site_cfg.h (sorted, unique, in range, defaults filled), describe itself and free.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/app/site_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "check failed: %s (line %d)\n", #x, __LINE__);                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_meter(const site_trunk_t *t, const site_meter_t *m)
{
    CHECK(m->mac <= 127 && m->mac != t->router_mac && m->mac <= t->max_master);
    CHECK(m->mac <= m->max_master && m->max_master >= 1 && m->max_master <= 127);
    CHECK(m->max_info_frames >= 1);
    CHECK(m->instance >= 1 && m->instance <= SITE_METER_INSTANCE_MAX);
    size_t n = strnlen(m->serial, sizeof m->serial);
    CHECK(n >= 1 && n <= SITE_SERIAL_MAX);
    CHECK(m->profile && m->profile[0]);
    CHECK(!m->scenario || m->scenario[0]);
    CHECK(m->vary == t->vary && m->vary_seed == ((uint32_t)t->net << 8 | m->mac));
    CHECK(site_meter_find(t, m->mac) == m);
}

static void check_site(const site_t *s)
{
    unsigned total = 0;
    CHECK(s->ntrunks >= 1 && s->ntrunks <= SITE_MAX_TRUNKS);
    CHECK(s->bip_net >= 1 && s->bip_net <= 65534);
    CHECK(s->router_instance <= SITE_ROUTER_INSTANCE_MAX);
    CHECK(s->bind.port && s->broadcast.port);
    CHECK(s->nbdt <= SITE_MAX_BDT && (s->bbmd || !s->nbdt) && !(s->bbmd && s->foreign));
    CHECK(s->profile && s->name[0] && strlen(s->name) <= SITE_NAME_MAX);
    for (unsigned k = 0; k < s->ntrunks; k++) {
        const site_trunk_t *t = &s->trunks[k];
        CHECK(t->net >= 1 && t->net <= 65534 && t->net != s->bip_net);
        CHECK(k == 0 || t[-1].net < t->net);
        CHECK(t->baud == 9600 || t->baud == 19200 || t->baud == 38400 || t->baud == 76800 ||
              t->baud == 115200);
        CHECK(t->router_mac <= t->max_master && t->max_master <= 127);
        CHECK(t->nmeters <= SITE_MAX_METERS_PER_TRUNK && t->profile);
        CHECK(site_trunk_find(s, t->net) == t);
        for (unsigned j = 0; j < t->nmeters; j++) {
            CHECK(j == 0 || t->meters[j - 1].mac < t->meters[j].mac);
            check_meter(t, &t->meters[j]);
            CHECK(t->meters[j].instance != s->router_instance);
        }
        total += t->nmeters;
    }
    CHECK(total == s->nmeters);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    site_t s;
    char err[160];
    memset(err, 0x55, sizeof err);
    const char *dir = size && (data[0] & 1) ? "/base" : NULL;
    if (site_parse_buffer((const char *)data, size, "f.ini", dir, &s, err, sizeof err) != 0) {
        CHECK(memchr(err, '\0', sizeof err) && !strncmp(err, "f.ini: ", 7) && !strchr(err, '\n'));
        CHECK(!s.trunks && !s.mem && !s.ntrunks && !s.nmeters);
        return 0;
    }
    check_site(&s);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        site_describe(&s, f);
        fclose(f);
    }
    site_free(&s);
    CHECK(!s.trunks && !s.mem);
    return 0;
}
