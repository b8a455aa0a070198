/*
 * Site files for `s4100 site FILE`: a building as a BACnet router joining one BACnet/IP
 * network and MS/TP trunks of Series 4100 meters. The format is in docs/site.md.
 *
 * site_load parses and checks a whole file: on success every default is filled in
 * (each meter has its instance, serial, profile and link settings), trunks are sorted
 * by network number and meters by MAC; on failure nothing is kept and err holds one
 * line naming the file, the line and what is wrong.
 */
#ifndef S4100_SITE_CFG_H
#define S4100_SITE_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SITE_MAX_TRUNKS 1024
#define SITE_MAX_METERS_PER_TRUNK 127 /* MACs 0..127 less the router's */
#define SITE_MAX_BDT 64
#define SITE_NAME_MAX 64
#define SITE_SERIAL_MAX 16                    /* OBJ_SERIAL_MAX */
#define SITE_METER_INSTANCE_MAX 4193999u      /* what a meter accepts (DECISIONS O9) */
#define SITE_ROUTER_INSTANCE_MAX 4194302u     /* 4194303 is the wildcard */
#define SITE_DEFAULT_ROUTER_INSTANCE 4194000u /* the first one no meter can take */
#define SITE_DEFAULT_PORT 47808
#define SITE_DEFAULT_BAUD 38400u
#define SITE_DEFAULT_FIRST_NETWORK 10
#define SITE_DEFAULT_FOREIGN_TTL 300
#define SITE_ADDR_STRLEN 22 /* "255.255.255.255:65535" */

typedef struct {
    uint8_t ip[4]; /* as written: ip[0] is the first number */
    uint16_t port; /* host order */
} site_addr_t;

typedef struct {
    site_addr_t addr;
    uint8_t mask[4]; /* broadcast distribution mask; 255.255.255.255 unless given */
} site_bdt_t;

typedef struct {
    uint8_t mac;
    uint8_t max_master, max_info_frames;
    bool vary;                        /* give this meter its own variant of the load */
    uint32_t vary_seed;               /* (network << 8) | MAC: stable, distinct in the site */
    uint32_t instance;                /* 1..SITE_METER_INSTANCE_MAX, unique in the site */
    char serial[SITE_SERIAL_MAX + 1]; /* [A-Za-z0-9._-], unique in the site */
    const char *profile;              /* never NULL: see site_profile_is_path */
    const char *scenario;             /* a scenario file for this meter alone, or NULL */
    int line; /* where it is defined: its [meter] header or its trunk's meters */
} site_meter_t;

typedef struct {
    uint16_t net; /* 1..65534 */
    uint8_t router_mac, max_master, max_info_frames;
    bool vary;
    uint32_t baud;        /* 9600, 19200, 38400, 76800 or 115200 */
    const char *pty;      /* a pty or serial device for this trunk; NULL: the virtual bus */
    const char *profile;  /* the trunk's; a meter may override it */
    site_meter_t *meters; /* sorted by MAC */
    unsigned nmeters;
    int line; /* its [trunk N] header, or the compact form's trunks = line */
} site_trunk_t;

struct site_mem;

typedef struct {
    char name[SITE_NAME_MAX + 1];
    uint32_t router_instance;
    site_addr_t bind;      /* B/IP: where the router listens */
    site_addr_t broadcast; /* where its broadcasts go */
    uint16_t bip_net;
    bool bbmd;
    bool fd_accept; /* a BBMD accepts foreign-device registrations */
    site_bdt_t bdt[SITE_MAX_BDT];
    unsigned nbdt;
    bool foreign; /* register as a foreign device with foreign_bbmd */
    site_addr_t foreign_bbmd;
    uint16_t foreign_ttl; /* seconds */
    const char *nv_dir;   /* NULL: no NV */
    bool shared_load;     /* load = shared: the meters of a trunk that share a profile take
                             one synthesized load, each its own variant of it */
    const char *profile;  /* the site's default profile */
    site_trunk_t *trunks; /* sorted by network number */
    unsigned ntrunks;
    unsigned nmeters; /* in all trunks */
    struct site_mem *mem;
} site_t;

/* 0, or -1 with err filled (err may be NULL). Relative paths in the file (nv_dir, pty,
 * scenario, a profile that is a path) are made relative to the file's directory. */
int site_load(const char *path, site_t *out, char *err, size_t errcap);
/* The same from memory; name is used in messages. Paths are kept as written. */
int site_parse_string(const char *text, const char *name, site_t *out, char *err, size_t errcap);
/* len bytes (NULs are an error, as in a file); base_dir: for relative paths, or NULL. */
int site_parse_buffer(const char *data, size_t len, const char *name, const char *base_dir,
                      site_t *out, char *err, size_t errcap);
/* Frees what a successful load holds and zeroes it; a zeroed site_t is fine too. */
void site_free(site_t *s);

/* The topology in words: a paragraph, one line per trunk (runs of alike trunks as one). */
void site_describe(const site_t *s, FILE *f);

const site_trunk_t *site_trunk_find(const site_t *s, uint16_t net);
const site_meter_t *site_meter_find(const site_trunk_t *t, uint8_t mac);

/* A profile is a path when it contains '/' or ends in ".ini"; otherwise it is a name the
 * host resolves to scenarios/NAME.ini. */
bool site_profile_is_path(const char *profile);

/* "a.b.c.d:port" into buf (SITE_ADDR_STRLEN); returns buf. */
const char *site_addr_str(const site_addr_t *a, char *buf);

#endif
