/*
 * A building in one process (s4100 site): a BACnet router joining one BACnet/IP port and
 * K MS/TP trunks on virtual RS-485 buses (sim/mstp_bus), with complete meters on the
 * trunks. Driven by explicit calls — datagrams in, time advanced — so the program
 * (site.c), the tests and bench/ run the same site; nothing here touches a socket.
 *
 * Time: the site's clock starts at 0 and moves only in sh_advance. Every trunk runs its
 * wire, its MS/TP nodes and its meters' millisecond ticks up to that time; the meters'
 * samples follow in slices of up to APP_FEED_MAX sample sets.
 */
#ifndef S4100_SITE_HOST_H
#define S4100_SITE_HOST_H

#include "meter.h"
#include "net/net_router.h"
#include "rdev/rdev.h"


typedef struct site_host site_host_t;

typedef struct {
    uint32_t instance;      /* the router's own device */
    const char *name;
    uint16_t bip_net;       /* the BACnet/IP network's number */
    bip_addr_t self, broadcast;
    bip_port_t port;        /* where the B/IP port's datagrams go */
    const char *nv_dir;     /* NULL: meters without NV (trend logs keep their newest 64) */
    uint32_t bip_rate;      /* NPDUs/s the router sends to B/IP (0: as fast as it may) */
    uint32_t bip_burst;
    uint8_t ip_mask[4];     /* the B/IP subnet (Network_Port IP_Subnet_Mask) */
    bool nv_factory_reset;
    /* The meters of a trunk on the same scenario share one synthesized load, each with
     * its own variant (level, load angle); otherwise every meter synthesizes its own. */
    bool shared_load;
    /* BACnet/IP roles (Annex J): a BBMD with these peers (its own entry included), or a
     * foreign device of the BBMD at foreign. */
    bool bbmd, fd_accept;
    const bip_addr_t *bdt;
    const uint8_t (*bdt_mask)[4];
    unsigned nbdt;
    bool foreign;
    bip_addr_t foreign_bbmd;
    uint16_t foreign_ttl;
} sh_config_t;

typedef struct {
    uint8_t mac, max_master, max_info_frames;
    uint32_t instance;
    const char *serial;
    const char *scenario;   /* a scenario file */
    unsigned variant;       /* 0: the scenario as written; k: load variant k */
    bool own_load;          /* never shares its load (a scenario of its own) */
} sh_meter_t;

typedef struct {
    sim_bus_t *bus;
    int node;               /* the router's station on it */
    uint16_t net;
    uint32_t baud;
    unsigned first, count;  /* its meters: sh_meter(first .. first+count-1) */
} sh_trunk_t;

/* The router's device instance must differ from every meter's: checked by the caller.
 * NULL with the reason in err. */
site_host_t *sh_new(const sh_config_t *c, unsigned max_trunks, unsigned max_meters, char *err,
                    size_t cap);
void sh_free(site_host_t *s);
/* A trunk with the router at router_mac: its index, or -1 with the reason in err. */
int sh_add_trunk(site_host_t *s, uint16_t net, uint32_t baud, uint8_t router_mac,
                 uint8_t max_master, uint8_t max_info_frames, char *err, size_t cap);
/* A meter on the newest trunk: its index, or -1 with the reason in err. */
int sh_add_meter(site_host_t *s, const sh_meter_t *m, char *err, size_t cap);
/* Everything added: every meter announces itself (when its trunk's token reaches it)
 * and the router says which networks it reaches (I-Am-Router-To-Network). */
void sh_start(site_host_t *s);

/* A datagram received on the B/IP port. */
void sh_bip_receive(site_host_t *s, const bip_addr_t *from, const uint8_t *data, size_t len);
/* Move the site's clock by us: samples, trunks, meters, the router's queues. 1: a
 * meter's source ended or failed (exit status in *rc). */
int sh_advance(site_host_t *s, uint64_t us, int *rc);
uint64_t sh_now_us(const site_host_t *s);
/* One slice of n (<= APP_FEED_MAX) sample sets to every meter, as sh_advance feeds them,
 * the clock untouched: what metering alone costs (bench/). 1: a source failed. */
int sh_feed_slice(site_host_t *s, size_t n, int *rc);

unsigned sh_meters(const site_host_t *s);
app_meter_t *sh_meter(site_host_t *s, unsigned k);
const sh_meter_t *sh_meter_conf(const site_host_t *s, unsigned k);
unsigned sh_trunks(const site_host_t *s);
unsigned sh_loads(const site_host_t *s); /* shared loads (shared_load) */
const sh_trunk_t *sh_trunk(const site_host_t *s, unsigned k);
unsigned sh_trunk_of(const site_host_t *s, unsigned meter);
net_router_t *sh_router(site_host_t *s);
rdev_t *sh_rdev(site_host_t *s);
bip_t *sh_bip(site_host_t *s);
/* Make every NV store durable (at the end, or before a power cut). */
void sh_sync(site_host_t *s, bool force);

#endif
