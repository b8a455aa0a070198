/*
 * s4100 router device (prefix rdev_): the BACnet router as a BACnet device of its own,
 * the application entity behind net_router_init's `app`. It has a Device object
 * (ASHRAE 135-2016 clause 12.11) and one Network_Port object (clause 12.56) per router
 * port, and serves Who-Is, Who-Has, ReadProperty, ReadPropertyMultiple and
 * WriteProperty (always denied). Everything it knows of a port that can change (network
 * number, whether configured or learned, the router's MAC) is read live from the
 * router; what the router cannot know (link type, speed, MS/TP and IP settings) the
 * host fills in per port.
 *
 * Portable core: no heap, no OS, no stdio, no mutable globals. See docs/router-device.md.
 */
#ifndef S4100_RDEV_H
#define S4100_RDEV_H

#include "bacnet/bac.h"
#include "net/net.h"
#include "net/net_router.h"

/* Per-port info is kept for this many ports (a site host with ~1024 trunks sets it, or
 * NET_MAX_PORTS, at build time); ports beyond it read as link type and speed 0. */
#ifndef RDEV_MAX_PORTS
#define RDEV_MAX_PORTS NET_MAX_PORTS
#endif

#define RDEV_OBJ_NETWORK_PORT 56u /* BACnetObjectType network-port (clause 21) */
#define RDEV_PROTOCOL_REVISION 19u /* 135-2016: see docs/router-device.md */
#define RDEV_MAX_APDU_DEFAULT 480u /* fits every link a router joins (MS/TP's 480) */

/* BACnetNetworkType (clause 21; Network_Type, 12.56.7). */
enum {
    RDEV_NET_ETHERNET = 0,
    RDEV_NET_ARCNET = 1,
    RDEV_NET_MSTP = 2,
    RDEV_NET_PTP = 3,
    RDEV_NET_LONTALK = 4,
    RDEV_NET_IPV4 = 5,
    RDEV_NET_ZIGBEE = 6,
    RDEV_NET_VIRTUAL = 7,
    RDEV_NET_IPV6 = 9,
    RDEV_NET_SERIAL = 10,
};

/* BACnetIPMode (BACnet_IP_Mode, 12.56.26). */
enum { RDEV_IP_NORMAL = 0, RDEV_IP_FOREIGN = 1, RDEV_IP_BBMD = 2 };

/* What the host knows of one port that the router does not: 20 octets, no strings, so
 * that a thousand of them stay small. */
typedef struct {
    float link_speed;        /* Link_Speed, bits/s (0: unknown) */
    uint8_t network_type;    /* RDEV_NET_ */
    uint8_t max_master;      /* MS/TP: Max_Master 0..127 */
    uint8_t max_info_frames; /* MS/TP: Max_Info_Frames */
    uint8_t ip_mode;         /* B/IP: RDEV_IP_ */
    uint8_t ip[4];           /* B/IP: IP_Address */
    uint8_t mask[4];         /* B/IP: IP_Subnet_Mask */
    uint16_t udp_port;       /* B/IP: BACnet_IP_UDP_Port */
} rdev_port_t;

/* The router device. The strings are the host's and must outlive the device; location
 * and description may be NULL (then the properties do not exist). */
typedef struct {
    uint32_t instance;          /* Device instance 0..4194302 */
    const char *name;           /* Object_Name */
    const char *vendor_name;
    uint16_t vendor_id;
    const char *model;          /* Model_Name */
    const char *firmware;       /* Firmware_Revision */
    const char *app_version;    /* Application_Software_Version */
    const char *location;       /* optional */
    const char *description;    /* optional */
    uint16_t max_apdu;          /* Max_APDU_Length_Accepted, 50..1476 */
    uint32_t apdu_timeout_ms;   /* APDU_Timeout */
    uint8_t apdu_retries;       /* Number_Of_APDU_Retries */
    uint32_t database_revision; /* Database_Revision */
    const net_router_t *router; /* ports, network numbers and MACs, read live */
    rdev_port_t port[RDEV_MAX_PORTS];
    uint32_t requests;          /* NPDUs handed to the application (statistics) */
} rdev_t;

/* Defaults: vendor "Leviton Mfg." (133, as the meter), model
 * "s4100 router", firmware and application version "0", max APDU 480, APDU timeout
 * 10000 ms, 3 retries, database revision 0, no location or description, every port's
 * info zero. router may be set before the router is initialised (it is only read). */
void rdev_init(rdev_t *d, const net_router_t *router, uint32_t instance, const char *name);

/* Per-port info for port k (0-based; Network_Port instance k + 1). False when k is
 * beyond RDEV_MAX_PORTS. speed in bits/s. */
bool rdev_port_mstp(rdev_t *d, unsigned k, float speed, uint8_t max_master,
                    uint8_t max_info_frames);
bool rdev_port_bip(rdev_t *d, unsigned k, float speed, const uint8_t ip[4],
                   const uint8_t mask[4], uint16_t udp_port, uint8_t ip_mode);

/* The application entity to give net_router_init: ctx is d. */
net_upper_t rdev_upper(rdev_t *d);

/* The receive behind rdev_upper, callable directly: one NPDU in (as a station on the
 * port's network sees it: no DNET, or DNET 0xFFFF; SNET/SADR when it came from beyond
 * a router), at most one reply NPDU of at most cap octets out. Replies to a request
 * with SNET/SADR carry DNET/DADR = that SNET/SADR; I-Am and I-Have are global
 * broadcasts (*reply_bcast true). Returns the reply's length, 0 for none. */
size_t rdev_receive(rdev_t *d, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                    size_t len, uint8_t *out, size_t cap, bool *reply_bcast);

/* The I-Am the router device broadcasts when it starts (a global broadcast NPDU). */
size_t rdev_i_am(const rdev_t *d, uint8_t *out, size_t cap);

#endif
