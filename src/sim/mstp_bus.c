/*
 * A virtual RS-485 bus: MS/TP nodes on one simulated wire, in simulated nanoseconds.
 *
 * The wire is a list of transmissions (start time, octets). Octet k of a transmission
 * ends at start + (k + 1) * 10 bit times; at that instant it is handed to every
 * listening node with that timestamp, as a UART's receive interrupt would. The event
 * loop always advances to the earliest of: the next octet end, the next millisecond
 * tick. Nothing sleeps, so a simulated minute takes well under a second.
 */
#include "sim.h"

#include "meter/meter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TX 32     /* transmissions on the wire or just finished */
#define INBOX_LEN 16  /* replies a test master keeps */
#define TICK_NS 1000000u

typedef struct {
    uint8_t src;
    uint16_t len;
    uint8_t data[MSTP_MAX_DATA];
} reply_t;

typedef struct {
    sim_bus_t *bus;
    int index;
    bool on;
    mstp_t m;
    mstp_config_t cfg;
    meter_t *mt;       /* NULL: a test master or a port */
    bool own_mt;       /* the bus made it (sim_bus_add_meter) and frees it */
    net_upper_t up;    /* a port's layer above (sim_bus_add_port); receive NULL: none */
    uint32_t writes;   /* the device's settings writes the node has followed */
    uint64_t last_rx_ns;               /* end of the last octet it received */
    uint64_t tx_start_ns, tx_end_ns;   /* its last transmission */
    reply_t *inbox;    /* a test master's: INBOX_LEN replies (NULL for others) */
    int in_head, in_count;
} node_t;

typedef struct {
    bool used;
    int sender;       /* node, or -1 for an injected transmission */
    uint64_t start_ns;
    size_t n, next;   /* octets, next to deliver */
    bool garbled;
    uint8_t data[MSTP_MAX_FRAME]; /* as sent */
    uint8_t wire[MSTP_MAX_FRAME]; /* as on the wire */
} tx_t;

typedef struct {
    bool active;
    uint8_t from;
    uint64_t end_ns;
} pending_t;

struct sim_bus {
    uint32_t baud;
    uint64_t now_ns, next_tick_ns;
    node_t *nodes[SIM_BUS_MAX_NODES];
    int n_nodes;
    tx_t tx[MAX_TX];
    double ber;
    uint64_t ber_skip; /* good bits before the next bit error */
    uint64_t rng;
    void (*monitor)(void *ctx, uint64_t t_us, const uint8_t *octets, size_t n);
    void *monitor_ctx;
    void (*tap)(void *ctx, const uint8_t *octets, size_t n);
    void *tap_ctx;
    sim_bus_stats_t st;
    uint64_t last_token_ns[256];
    bool have_token[256];
    pending_t pending[256]; /* requests awaiting an answer, by responder */
};

/* ---- randomness and time ---------------------------------------------------------- */

static uint64_t rnd(sim_bus_t *b)
{
    /* splitmix64: small, seedable, good enough for noise */
    uint64_t z = (b->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rnd01(sim_bus_t *b)
{
    return ((double)(rnd(b) >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

/* Good bits before the next error: geometric, so the noise costs nothing per bit. */
static uint64_t draw_skip(sim_bus_t *b)
{
    if (b->ber <= 0)
        return UINT64_MAX;
    if (b->ber >= 1)
        return 0;
    double k = floor(log(rnd01(b)) / log1p(-b->ber));
    return k >= 1e18 ? UINT64_MAX : (uint64_t)k;
}

static uint64_t octet_end(const sim_bus_t *b, const tx_t *t, size_t k)
{
    return t->start_ns + ((uint64_t)(k + 1) * 10u * 1000000000u) / b->baud;
}

static uint64_t bits_ns(const sim_bus_t *b, uint64_t bits)
{
    return (bits * 1000000000u + b->baud - 1) / b->baud;
}

static uint32_t node_us(uint64_t ns)
{
    return (uint32_t)(ns / 1000u); /* the node's clock wraps, as a real one would */
}

/* ---- transmissions ----------------------------------------------------------------- */

static tx_t *new_tx(sim_bus_t *b)
{
    for (int i = 0; i < MAX_TX; i++)
        if (!b->tx[i].used)
            return &b->tx[i];
    return NULL;
}

static void put_on_wire(sim_bus_t *b, int sender, uint64_t start, const uint8_t *p, size_t n)
{
    tx_t *t = new_tx(b);
    if (!t || n == 0 || n > MSTP_MAX_FRAME)
        return; /* cannot happen with MAX_TX well above the nodes' needs */
    memset(t, 0, offsetof(tx_t, data));
    t->used = true;
    t->sender = sender;
    t->start_ns = start;
    t->n = n;
    memcpy(t->data, p, n);
}

/* The node's port: the frame goes on the wire after its turnaround and after its own
 * previous frame (the UART sends one frame after the other). */
static int node_send(void *ctx, const uint8_t *frame, size_t n)
{
    node_t *nd = ctx;
    sim_bus_t *b = nd->bus;
    uint64_t start = b->now_ns;
    uint64_t turn = nd->last_rx_ns + bits_ns(b, MSTP_TURNAROUND_BITS);
    if (nd->last_rx_ns && turn > start)
        start = turn;
    if (nd->tx_end_ns > start)
        start = nd->tx_end_ns;
    nd->tx_start_ns = start;
    nd->tx_end_ns = start + ((uint64_t)n * 10u * 1000000000u) / b->baud;
    put_on_wire(b, nd->index, start, frame, n);
    return 0;
}

/* A test master as the layer above its node: it keeps what was sent to it (its
 * replies), not the broadcasts, and answers nothing. */
static size_t client_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                             size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    node_t *nd = ctx;
    (void)out, (void)cap, (void)reply_bcast;
    if (bcast || src->len != 1 || len > MSTP_MAX_DATA)
        return 0;
    if (nd->in_count == INBOX_LEN) { /* drop the oldest */
        nd->in_head = (nd->in_head + 1) % INBOX_LEN;
        nd->in_count--;
    }
    reply_t *r = &nd->inbox[(nd->in_head + nd->in_count++) % INBOX_LEN];
    r->src = src->mac[0];
    r->len = (uint16_t)len;
    memcpy(r->data, npdu, len);
    return 0;
}

/* A meter's link settings as its device holds them (the record: what BACnet and the
 * panel write). */
static void meter_link_config(const meter_t *mt, mstp_config_t *c)
{
    mstp_config_default(c);
    c->mac = mt->dev.id.mac;
    c->max_master = mt->dev.id.max_master;
    c->max_info_frames = mt->dev.id.max_info_frames;
    c->baud = mt->dev.id.baud;
}

/* The host's part each millisecond: settings written over BACnet (Max_Master) take
 * effect on the node within the millisecond; a new MAC is announced. (Not after every
 * octet: that touched every meter of the wire for every octet on it.) */
static void follow_settings(node_t *nd)
{
    meter_t *mt = nd->mt;
    if (!mt || mt->dev.writes == nd->writes)
        return;
    nd->writes = mt->dev.writes;
    mstp_config_t want;
    meter_link_config(mt, &want);
    want.baud = nd->bus->baud; /* the wire's rate is the bus's */
    if (mstp_reconfigure(&nd->m, &want, node_us(nd->bus->now_ns)) & MSTP_NEW_MAC)
        meter_announce(mt);
}

/* ---- watching the wire --------------------------------------------------------------- */

static void watch(sim_bus_t *b, tx_t *t)
{
    if (t->sender >= 0 && b->tap) /* a line sees the frame once it has left our wire */
        b->tap(b->tap_ctx, t->wire, t->n);
    b->st.frames++;
    b->st.busy_us += (t->n * 10u * 1000000u) / b->baud;
    if (b->monitor)
        b->monitor(b->monitor_ctx, t->start_ns / 1000u, t->wire, t->n);
    mstp_frame_t f;
    if (mstp_decode(t->wire, t->n, &f) != (int)t->n) {
        b->st.garbled_frames++;
        return;
    }
    /* An answer: the first frame the responder sends after the request. */
    pending_t *p = &b->pending[f.src];
    if (p->active) {
        p->active = false;
        if (f.dst == p->from && (f.type == MSTP_DATA_NOT_EXPECTING_REPLY ||
                                 f.type == MSTP_TEST_RESPONSE || f.type == MSTP_REPLY_POSTPONED)) {
            uint64_t d = (t->start_ns - p->end_ns) / 1000u;
            b->st.reply_sum_us += d;
            if (d > b->st.reply_max_us)
                b->st.reply_max_us = (uint32_t)d;
            if (f.type == MSTP_REPLY_POSTPONED)
                b->st.postponed++;
            else
                b->st.replies++;
        } else {
            b->st.unanswered++;
        }
    }
    /* The requester sending again means its open request went unanswered. */
    for (int s = 0; s < 256; s++)
        if (b->pending[s].active && b->pending[s].from == f.src) {
            b->pending[s].active = false;
            b->st.unanswered++;
        }
    if ((f.type == MSTP_DATA_EXPECTING_REPLY || f.type == MSTP_TEST_REQUEST) &&
        f.dst != MSTP_BROADCAST) {
        b->st.requests++;
        b->pending[f.dst] = (pending_t){true, f.src, octet_end(b, t, t->n - 1)};
    }
    if (f.type == MSTP_POLL_FOR_MASTER)
        b->st.pfms++;
    if (f.type == MSTP_TOKEN) {
        b->st.tokens++;
        if (b->have_token[f.src]) {
            uint64_t d = (t->start_ns - b->last_token_ns[f.src]) / 1000u;
            b->st.rotations++;
            b->st.rotation_sum_us += d;
            if (d > b->st.rotation_max_us)
                b->st.rotation_max_us = (uint32_t)d;
            if (b->st.rotation_min_us == 0 || d < b->st.rotation_min_us)
                b->st.rotation_min_us = (uint32_t)d;
        }
        b->have_token[f.src] = true;
        b->last_token_ns[f.src] = t->start_ns;
    }
}

/* ---- delivering octets --------------------------------------------------------------- */

/* Line noise on one octet: start bit, 8 data bits LSB first, stop bit. */
static void noise(sim_bus_t *b, uint8_t *v, bool *err)
{
    uint64_t bit = 0;
    while (b->ber_skip < 10 - bit) {
        bit += b->ber_skip;
        if (bit == 0 || bit == 9)
            *err = true; /* a broken start or stop bit: the UART reports a framing error */
        else
            *v ^= (uint8_t)(1u << (bit - 1));
        b->st.bit_errors++;
        bit++;
        b->ber_skip = draw_skip(b);
    }
    if (b->ber_skip != UINT64_MAX)
        b->ber_skip -= 10 - bit;
}

static bool collides(const sim_bus_t *b, const tx_t *t, uint64_t from, uint64_t to)
{
    for (int i = 0; i < MAX_TX; i++) {
        const tx_t *o = &b->tx[i];
        if (!o->used || o == t)
            continue;
        uint64_t o_end = octet_end(b, o, o->n - 1);
        if (o->start_ns < to && o_end > from)
            return true;
    }
    return false;
}

static void deliver(sim_bus_t *b, tx_t *t)
{
    size_t k = t->next++;
    uint64_t end = b->now_ns;
    uint64_t start = octet_end(b, t, k) - ((uint64_t)10u * 1000000000u) / b->baud;
    uint8_t v = t->data[k];
    bool err = false;
    if (collides(b, t, start, end)) {
        /* Two drivers fighting: whatever the receivers make of it. */
        uint64_t r = rnd(b);
        v = (uint8_t)r;
        err = (r >> 8) & 1;
        b->st.collision_octets++;
        t->garbled = true;
    } else if (b->ber > 0) {
        noise(b, &v, &err);
    }
    if (err)
        b->st.framing_errors++;
    b->st.octets++;
    t->wire[k] = v;
    uint32_t us = node_us(end);
    for (int i = 0; i < b->n_nodes; i++) {
        node_t *nd = b->nodes[i];
        if (!nd->on || i == t->sender)
            continue;
        if (nd->tx_start_ns < end && nd->tx_end_ns > start)
            continue; /* its driver is on: its receiver is off */
        nd->last_rx_ns = end;
        if (err)
            mstp_rx_err(&nd->m, us);
        else
            mstp_rx(&nd->m, v, us);
    }
    if (t->next == t->n)
        watch(b, t);
}

/* Finished transmissions stay a little while so late collisions with them are seen. */
static void retire(sim_bus_t *b)
{
    uint64_t octet = ((uint64_t)10u * 1000000000u) / b->baud;
    for (int i = 0; i < MAX_TX; i++) {
        tx_t *t = &b->tx[i];
        if (t->used && t->next == t->n && octet_end(b, t, t->n - 1) + 2 * octet < b->now_ns)
            t->used = false;
    }
}

void sim_bus_run(sim_bus_t *b, uint64_t us)
{
    uint64_t end = b->now_ns + us * 1000u;
    for (;;) {
        retire(b);
        tx_t *next = NULL;
        uint64_t t_oct = UINT64_MAX;
        for (int i = 0; i < MAX_TX; i++) {
            tx_t *t = &b->tx[i];
            if (t->used && t->next < t->n) {
                uint64_t e = octet_end(b, t, t->next);
                if (e < t_oct) {
                    t_oct = e;
                    next = t;
                }
            }
        }
        uint64_t t = t_oct < b->next_tick_ns ? t_oct : b->next_tick_ns;
        if (t > end)
            break;
        b->now_ns = t;
        if (next && t_oct == t) {
            deliver(b, next);
            continue; /* other octets ending at the same instant come next round */
        }
        b->next_tick_ns += TICK_NS;
        uint32_t now = node_us(t);
        /* Meters every 10 ms: their clock serves the panel's blink and DCC's minutes,
         * and a tick touches each meter's state (10,000 meters: 10 M touches a second). */
        bool meters = (t / TICK_NS) % 10u == 0;
        for (int i = 0; i < b->n_nodes; i++) {
            node_t *nd = b->nodes[i];
            if (!nd->on)
                continue;
            if (nd->mt && meters)
                meter_tick(nd->mt, (uint32_t)(t / 1000000u));
            mstp_tick(&nd->m, now);
            follow_settings(nd);
        }
    }
    b->now_ns = end;
}

/* ---- the bus and its nodes --------------------------------------------------------- */

sim_bus_t *sim_bus_new(uint32_t baud, uint64_t seed)
{
    if (!obj_baud_valid(baud))
        return NULL;
    sim_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->baud = baud;
    b->rng = seed;
    b->ber_skip = UINT64_MAX;
    /* Start away from 0 so "never" and "at 0" differ, and tick on the millisecond. */
    b->now_ns = 1000000000u;
    b->next_tick_ns = b->now_ns + TICK_NS;
    return b;
}

void sim_bus_free(sim_bus_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n_nodes; i++) {
        if (b->nodes[i]->own_mt)
            free(b->nodes[i]->mt);
        free(b->nodes[i]->inbox);
        free(b->nodes[i]);
    }
    free(b);
}

/* (Re)start a node's MS/TP from its settings: a meter's from its device, which kept
 * them while it was off. */
static bool node_start(node_t *nd)
{
    mstp_port_t port = {.ctx = nd, .send = node_send};
    net_upper_t up = nd->inbox ? (net_upper_t){.ctx = nd, .receive = client_receive} : nd->up;
    if (nd->mt) {
        meter_link_config(nd->mt, &nd->cfg);
        nd->cfg.baud = nd->bus->baud;
        nd->writes = nd->mt->dev.writes;
        up = meter_upper(nd->mt);
    }
    if (!mstp_init(&nd->m, &port, &nd->cfg, &up, node_us(nd->bus->now_ns)))
        return false;
    if (nd->bus->tap)
        mstp_set_usage_timeout(&nd->m, MSTP_USAGE_TIMEOUT_MAX_US); /* (sim_bus_tap) */
    if (nd->mt) {
        net_link_t link = mstp_link(&nd->m);
        meter_set_link(nd->mt, &link);
    }
    return true;
}

/* kind: 'm' a meter (mt), 'c' a test master, 'p' a port with the layer above up. */
static int add_node(sim_bus_t *b, char kind, meter_t *mt, const mstp_config_t *cfg,
                    const net_upper_t *up)
{
    node_t *nd = calloc(1, sizeof *nd);
    if (nd && kind == 'c')
        nd->inbox = calloc(INBOX_LEN, sizeof *nd->inbox);
    if (!nd || (kind == 'c' && !nd->inbox) || b->n_nodes == SIM_BUS_MAX_NODES) {
        if (nd)
            free(nd->inbox);
        free(nd);
        return -1;
    }
    nd->bus = b;
    nd->index = b->n_nodes;
    nd->mt = mt;
    if (up)
        nd->up = *up;
    nd->cfg = *cfg;
    nd->cfg.baud = b->baud;
    if (!node_start(nd)) {
        free(nd->inbox);
        free(nd);
        return -1;
    }
    if (mt)
        meter_announce(mt); /* the start-up I-Am, sent with the first token */
    nd->on = true;
    b->nodes[b->n_nodes] = nd;
    return b->n_nodes++;
}

static void node_config(mstp_config_t *c, uint8_t mac, uint8_t max_master, uint8_t max_info_frames)
{
    mstp_config_default(c);
    c->mac = mac;
    c->max_master = max_master;
    c->max_info_frames = max_info_frames;
}

int sim_bus_add_meter(sim_bus_t *b, uint8_t mac, uint8_t max_master)
{
    meter_t *mt = calloc(1, sizeof *mt);
    if (!mt)
        return -1;
    obj_identity_t id;
    mtr_config_t cfg;
    char serial[16] = "SIM";
    serial[3] = (char)('0' + mac / 100);
    serial[4] = (char)('0' + mac / 10 % 10);
    serial[5] = (char)('0' + mac % 10);
    obj_identity_default(&id, serial);
    id.instance = 100000u + mac;
    id.mac = mac;
    id.max_master = max_master;
    id.baud = b->baud;
    mtr_config_default(&cfg);
    meter_init(mt, &id, &cfg, NULL);
    int k = sim_bus_attach_meter(b, mt);
    if (k < 0)
        free(mt);
    else
        b->nodes[k]->own_mt = true;
    return k;
}

int sim_bus_attach_meter(sim_bus_t *b, meter_t *mt)
{
    mstp_config_t c;
    meter_link_config(mt, &c);
    return add_node(b, 'm', mt, &c, NULL);
}

int sim_bus_add_port(sim_bus_t *b, const mstp_config_t *cfg, const net_upper_t *up)
{
    return add_node(b, 'p', NULL, cfg, up);
}

int sim_bus_add_client(sim_bus_t *b, uint8_t mac, uint8_t max_master, uint8_t max_info_frames)
{
    mstp_config_t c;
    node_config(&c, mac, max_master, max_info_frames);
    return add_node(b, 'c', NULL, &c, NULL);
}

static node_t *node_at(const sim_bus_t *b, int node)
{
    return node >= 0 && node < b->n_nodes ? b->nodes[node] : NULL;
}

mstp_t *sim_bus_mstp(sim_bus_t *b, int node)
{
    node_t *nd = node_at(b, node);
    return nd ? &nd->m : NULL;
}

obj_device_t *sim_bus_device(sim_bus_t *b, int node)
{
    node_t *nd = node_at(b, node);
    return nd && nd->mt ? &nd->mt->dev : NULL;
}

meter_t *sim_bus_meter(sim_bus_t *b, int node)
{
    node_t *nd = node_at(b, node);
    return nd ? nd->mt : NULL;
}

int sim_bus_nodes(const sim_bus_t *b)
{
    return b->n_nodes;
}

void sim_bus_power(sim_bus_t *b, int node, bool on)
{
    node_t *nd = node_at(b, node);
    if (!nd || nd->on == on)
        return;
    nd->on = on;
    if (!on) {
        if (nd->mt)
            meter_power_off(nd->mt);
        return;
    }
    nd->in_count = 0;
    node_start(nd);
    if (nd->mt)
        meter_power_on(nd->mt); /* it announces itself again */
}

void sim_bus_set_ber(sim_bus_t *b, double ber)
{
    b->ber = ber;
    b->ber_skip = draw_skip(b);
}

void sim_bus_inject(sim_bus_t *b, uint64_t at_us, const uint8_t *octets, size_t n)
{
    uint64_t at = at_us * 1000u;
    put_on_wire(b, -1, at > b->now_ns ? at : b->now_ns, octets, n);
}

void sim_bus_monitor(sim_bus_t *b, void (*fn)(void *, uint64_t, const uint8_t *, size_t),
                     void *ctx)
{
    b->monitor = fn;
    b->monitor_ctx = ctx;
}

void sim_bus_tap(sim_bus_t *b, void (*fn)(void *, const uint8_t *, size_t), void *ctx)
{
    b->tap = fn;
    b->tap_ctx = ctx;
    /* The wire goes on over there, to stations whose first octet the host's scheduler
     * or a USB adapter can hold up: every station here waits the longest
     * Tusage_timeout Clause 9 allows before it takes a token for lost. */
    for (int k = 0; k < b->n_nodes; k++)
        mstp_set_usage_timeout(&b->nodes[k]->m, MSTP_USAGE_TIMEOUT_MAX_US);
}

uint64_t sim_bus_now_us(const sim_bus_t *b)
{
    return b->now_ns / 1000u;
}

void sim_bus_stats(const sim_bus_t *b, sim_bus_stats_t *s)
{
    *s = b->st;
}

void sim_bus_reset_stats(sim_bus_t *b)
{
    memset(&b->st, 0, sizeof b->st);
    memset(b->have_token, 0, sizeof b->have_token);
    memset(b->pending, 0, sizeof b->pending);
}

/* ---- a test master's requests ------------------------------------------------------ */

int sim_bus_request(sim_bus_t *b, int client, uint8_t dst, const uint8_t *npdu, size_t len)
{
    node_t *nd = node_at(b, client);
    if (!nd)
        return -1;
    return mstp_queue(&nd->m, MSTP_DATA_EXPECTING_REPLY, dst, npdu, len);
}

long sim_bus_take(sim_bus_t *b, int client, uint8_t *src, uint8_t *buf, size_t cap)
{
    node_t *nd = node_at(b, client);
    if (!nd || nd->in_count == 0)
        return -1;
    reply_t *r = &nd->inbox[nd->in_head];
    nd->in_head = (nd->in_head + 1) % INBOX_LEN;
    nd->in_count--;
    if (src)
        *src = r->src;
    size_t n = r->len < cap ? r->len : cap;
    memcpy(buf, r->data, n);
    return (long)n;
}

long sim_bus_transact(sim_bus_t *b, int client, uint8_t dst, const uint8_t *npdu, size_t len,
                      uint8_t *reply, size_t cap, uint64_t timeout_us)
{
    node_t *nd = node_at(b, client);
    if (!nd)
        return -1;
    /* A full queue still holds earlier copies of this request: wait for their answer. */
    sim_bus_request(b, client, dst, npdu, len);
    uint64_t end = sim_bus_now_us(b) + timeout_us, done = 0;
    while (sim_bus_now_us(b) < end) {
        sim_bus_run(b, 1000);
        uint8_t src = 0;
        while (nd->in_count) {
            long n = sim_bus_take(b, client, &src, reply, cap);
            if (src == dst)
                return n;
        }
        /* Sent and no longer waiting, yet no answer: lost on the wire (a postponed
         * answer would come within a rotation or two). Give up early to retry. */
        if (nd->m.txq_count == 0 && nd->m.state != MSTP_ST_WAIT_FOR_REPLY) {
            if (!done)
                done = sim_bus_now_us(b);
            else if (sim_bus_now_us(b) - done > 2 * MSTP_REPLY_TIMEOUT_MAX_US)
                return -1;
        }
    }
    return -1;
}

size_t sim_bus_rp_npdu(uint8_t *out, size_t cap, uint8_t invoke_id, bac_oid_t oid,
                       uint32_t prop)
{
    bac_buf_t w;
    bac_buf_writer(&w, out, cap);
    bac_npdu_t n = {.expecting_reply = true};
    bac_apdu_t a = {.type = BAC_PDU_CONFIRMED_REQ, .max_apdu_code = 3, .invoke_id = invoke_id,
                    .service = BAC_SVC_READ_PROPERTY};
    bac_npdu_encode(&w, &n);
    bac_apdu_encode(&w, &a);
    bac_enc_ctx_oid(&w, 0, oid);
    bac_enc_ctx_enum(&w, 1, prop);
    return bac_err(&w) == BAC_OK ? bac_pos(&w) : 0;
}

size_t sim_bus_rpm_npdu(uint8_t *out, size_t cap, uint8_t invoke_id, const bac_oid_t *oids,
                        size_t n, uint32_t prop)
{
    bac_buf_t w;
    bac_buf_writer(&w, out, cap);
    bac_npdu_t np = {.expecting_reply = true};
    bac_apdu_t a = {.type = BAC_PDU_CONFIRMED_REQ, .max_apdu_code = 3, .invoke_id = invoke_id,
                    .service = BAC_SVC_READ_PROPERTY_MULTIPLE};
    bac_npdu_encode(&w, &np);
    bac_apdu_encode(&w, &a);
    for (size_t i = 0; i < n; i++) {
        bac_enc_ctx_oid(&w, 0, oids[i]);
        bac_enc_opening(&w, 1);
        bac_enc_ctx_enum(&w, 0, prop);
        bac_enc_closing(&w, 1);
    }
    return bac_err(&w) == BAC_OK ? bac_pos(&w) : 0;
}
