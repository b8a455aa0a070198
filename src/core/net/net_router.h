/*
 * s4100 network layer (prefix net_): ASHRAE 135 clause 6 network-layer messages and a
 * router joining N data links (net/net.h) with a routing table and the router's own
 * application entity. Kept apart from net.h so that the data links never see the
 * application-layer codec; the NPDU header codec is bacnet/bac.h's.
 *
 * Portable core: no heap, no OS, no stdio, no mutable globals. See docs/network.md.
 */
#ifndef S4100_NET_ROUTER_H
#define S4100_NET_ROUTER_H

#include "bacnet/bac.h"
#include "net/net.h"

/* Build-time limits (set them for the core and everything that includes this header
 * alike): 320 ports fit a site of 313 MS/TP trunks and its B/IP side. A port costs
 * 120 octets of net_router_t, a route 14 (1.9 KB at 8 and 64, 46 KB at the defaults,
 * 139 KB at 1024 and 1024). Port indices are 16-bit. */
#ifndef NET_MAX_PORTS
#define NET_MAX_PORTS 320u
#endif
#ifndef NET_MAX_ROUTES
#define NET_MAX_ROUTES 512u
#endif
#if NET_MAX_PORTS > 65535u || NET_MAX_ROUTES > 65535u
#error "port and route indices are 16-bit"
#endif
#define NET_PACE_MAX 1000000u /* NPDUs a second, and a burst: burst * 1000 fits 32 bits */
#ifndef NET_NPDU_MAX
#define NET_NPDU_MAX 1520u /* BACnet/IP's 1497 plus the SNET/SADR a router adds */
#endif

/* Network-layer message types (clause 6.2.4). */
enum {
    NET_MSG_WHO_IS_ROUTER = 0x00,
    NET_MSG_I_AM_ROUTER = 0x01,
    NET_MSG_I_COULD_BE_ROUTER = 0x02,
    NET_MSG_REJECT = 0x03,
    NET_MSG_ROUTER_BUSY = 0x04,
    NET_MSG_ROUTER_AVAILABLE = 0x05,
    NET_MSG_INIT_RT = 0x06,
    NET_MSG_INIT_RT_ACK = 0x07,
    NET_MSG_ESTABLISH = 0x08,
    NET_MSG_DISCONNECT = 0x09,
    NET_MSG_WHAT_IS_NETWORK_NUMBER = 0x12,
    NET_MSG_NETWORK_NUMBER_IS = 0x13,
    NET_MSG_PROPRIETARY = 0x80, /* 0x80..0xFF: a vendor id follows the type */
};

/* Reject-Message-To-Network reasons (clause 6.4.4; 5 withdrawn, 7.. later editions). */
enum {
    NET_REJECT_OTHER = 0,
    NET_REJECT_UNKNOWN_DNET = 1, /* not directly connected and no router to it known */
    NET_REJECT_BUSY = 2,
    NET_REJECT_UNKNOWN_MSG = 3,
    NET_REJECT_TOO_LONG = 4,
    NET_REJECT_SECURITY = 5,
    NET_REJECT_ADDRESSING = 6,
};

/* The body of one network-layer message, the octets after the type (and vendor id).
 * Lists stay on the wire: list points to count entries (DNETs, 2 octets each, for
 * I-Am-Router, Router-Busy and Router-Available; routing-table entries for
 * Initialize-Routing-Table and its Ack; the payload of an unknown type), so a list of
 * any length is read and written without a copy. */
typedef struct {
    uint8_t type;
    uint16_t vendor_id;  /* type >= NET_MSG_PROPRIETARY */
    bool has_dnet;       /* Who-Is-Router's optional DNET */
    uint16_t dnet;       /* Who-Is, I-Could-Be, Reject, Establish, Disconnect;
                            Network-Number-Is: the network number */
    uint8_t reason;      /* Reject */
    uint8_t perf;        /* I-Could-Be: performance index */
    uint8_t term_time;   /* Establish: termination time, minutes */
    uint8_t flag;        /* Network-Number-Is: 1 configured, 0 learned */
    uint16_t count;      /* entries in list */
    const uint8_t *list;
    size_t list_len;     /* octets */
} net_msg_t;

/* One Initialize-Routing-Table entry: port_id 0 purges dnet; info is a view. */
typedef struct {
    uint16_t dnet;
    uint8_t port_id;
    uint8_t info_len;
    const uint8_t *info;
} net_rt_entry_t;

/* Decode the body of a message of the given type (from bac_npdu_t msg_type and
 * vendor_id) up to the end of b; the layout is checked (lengths exact, flags 0/1).
 * Returns octets consumed or a negative BAC_E_. */
int net_msg_decode(bac_buf_t *b, uint8_t type, uint16_t vendor_id, net_msg_t *m);
/* Encode header hdr (network_msg, msg_type and vendor_id are set from m) and body. */
int net_msg_encode(bac_buf_t *b, const bac_npdu_t *hdr, const net_msg_t *m);
/* Entry i of a DNET list. */
uint16_t net_msg_dnet(const net_msg_t *m, uint16_t i);
/* The next routing-table entry at *off in m->list (start at 0): false at the end. */
bool net_msg_rt_next(const net_msg_t *m, size_t *off, net_rt_entry_t *e);

/* ---- the router -------------------------------------------------------------------- */
typedef struct net_router net_router_t;

/* A port's output queue: length-prefixed records (NPDU length 2, destination length 1,
 * destination, NPDU) in the caller's byte ring, each kept whole (a record that would
 * wrap starts again at offset 0 and the tail it skipped counts as used). */
typedef struct {
    uint8_t *buf;   /* net_router_port_queue's storage; NULL: no queue */
    uint32_t cap;   /* octets */
    uint32_t head;  /* the oldest record */
    uint32_t used;  /* octets from head to the free space, skipped tails included */
    uint32_t count; /* NPDUs waiting */
} net_queue_t;

/* A token bucket: rate NPDUs a second on average, burst of them at once. Tokens are
 * counted in thousandths so that a millisecond adds exactly rate of them. */
typedef struct {
    uint32_t rate;    /* 0: no limit */
    uint32_t burst;
    uint32_t tokens;  /* thousandths of an NPDU, at most burst * 1000 */
    uint32_t last_ms; /* the router's clock when tokens were last added */
} net_pace_t;

typedef struct {
    uint32_t sent;    /* NPDUs the link took (the upcall's reply buffer included) */
    uint32_t queued;  /* NPDUs that had to wait (link busy, pacing, or others waiting) */
    uint32_t dropped; /* lost: the queue was full, or there is none */
    uint32_t errors;  /* lost: the link's send failed hard */
    uint32_t peak;    /* the most octets the queue ever held */
} net_port_stats_t;

typedef struct {
    net_router_t *r;  /* back pointers for net_router_port_upper's ctx */
    uint16_t index;
    net_link_t link;
    uint16_t net;     /* 0: unknown until a Network-Number-Is teaches it */
    bool configured;  /* net was configured, not learned */
    net_addr_t mac;   /* the router's own address on this link */
    bool congested;   /* its queue is near full: its networks are busy (docs/network.md) */
    bool tell;        /* congested changed and the other routers are not told yet */
    net_queue_t queue;
    net_queue_t bqueue; /* broadcasts, when given their own (net_router_port_bqueue) */
    net_pace_t pace;
    net_port_stats_t stats;
} net_port_t;

typedef struct {
    uint16_t dnet;
    uint16_t port;
    bool busy;           /* Router-Busy-To-Network: reject until Router-Available */
    net_addr_t next_hop; /* the router on that port that reaches dnet */
} net_route_t;

typedef struct {
    uint32_t forwarded, delivered, dropped, rejected;
} net_stats_t;

/* Read the tables, never write them: routes[] is kept sorted by DNET and by_net[]
 * indexes the ports' numbers (a pointer from net_router_route is good until the table
 * next changes). */
struct net_router {
    net_port_t ports[NET_MAX_PORTS];
    uint16_t nports;
    net_route_t routes[NET_MAX_ROUTES]; /* sorted by dnet */
    uint16_t nroutes;
    uint16_t by_net[NET_MAX_PORTS];     /* the ports with a number, sorted by it */
    uint16_t nnets;
    net_upper_t app; /* the router's own application entity (receive may be NULL) */
    net_stats_t stats; /* dropped includes what the ports' queues and links lost */
    uint32_t now_ms;   /* the clock of the last net_router_poll */
    uint32_t waiting;  /* NPDUs in all the queues */
    uint16_t owed;     /* ports whose tell is set */
};

/* app: the router's device; its reply, if any, is routed like any NPDU. */
void net_router_init(net_router_t *r, const net_upper_t *app);
/* A port on link with network number net (0: learn it) and the router's mac there.
 * Returns the port index, or -1 when NET_MAX_PORTS are in use or net is 0xFFFF. */
int net_router_add_port(net_router_t *r, const net_link_t *link, uint16_t net,
                        const net_addr_t *mac);
/* What port k's link calls with each NPDU it receives. */
net_upper_t net_router_port_upper(net_router_t *r, unsigned k);
/* The receive behind that upper, callable directly. */
size_t net_router_receive(net_router_t *r, unsigned k, const net_addr_t *src, bool bcast,
                          const uint8_t *npdu, size_t len, uint8_t *out, size_t cap,
                          bool *reply_bcast);
/* Add or replace the route to dnet (what I-Am-Router-To-Network teaches). Returns
 * 1 when the table changed, 0 when it already said so, -1 when full or refused (dnet 0,
 * 0xFFFF or a directly connected network). */
int net_router_set_route(net_router_t *r, uint16_t dnet, unsigned port,
                         const net_addr_t *next_hop);
const net_route_t *net_router_route(const net_router_t *r, uint16_t dnet);
/* The port directly connected to net, or -1. */
int net_router_port_of(const net_router_t *r, uint16_t net);

/* ---- queueing and pacing (docs/network.md) ----------------------------------------- */

/* Give port k an output queue of cap octets at buf (the caller's, kept for the life of
 * the router; NULL/0: none). What the port's link refuses with NET_ERR_BUSY, or pacing
 * holds back, waits there, and whatever comes for the port while anything waits queues
 * behind it, in order. An NPDU takes its length + 3 + its destination's length (an
 * I-Am to a B/IP client about 40); one that does not fit is dropped and counted.
 * Returns 0, or -1 when k is no port or its queue holds NPDUs. */
int net_router_port_queue(net_router_t *r, unsigned k, uint8_t *buf, size_t cap);
/* Give port k's broadcasts a queue of their own (cap octets at buf; NULL/0: none, they
 * share the port's queue): they go only when no unicast waits, so a flood of I-Ams
 * forwarded into a slow trunk holds up neither the requests routed to its stations nor
 * their answers; order is kept within each queue. Returns 0, or -1 as for
 * net_router_port_queue. */
int net_router_port_bqueue(net_router_t *r, unsigned k, uint8_t *buf, size_t cap);
/* Pace port k: rate NPDUs a second on average and at most burst at once (a token
 * bucket on net_router_poll's clock, full to begin with). rate 0: no limit (the
 * default). Returns 0, or -1 when k is no port or rate/burst are outside
 * 1..NET_PACE_MAX (burst, with a rate). */
int net_router_port_pace(net_router_t *r, unsigned k, uint32_t rate, uint32_t burst);
/* Offer what waits to the links, oldest first, as far as they take it and pacing
 * allows; owed Router-Busy/-Available messages go out. now_ms: the host's monotonic
 * millisecond clock (it may wrap); call it after ticking the links, every millisecond
 * or so while net_router_waiting() is not 0. Returns the NPDUs still waiting. */
uint32_t net_router_poll(net_router_t *r, uint32_t now_ms);
/* NPDUs waiting in all the queues. */
uint32_t net_router_waiting(const net_router_t *r);

#endif
