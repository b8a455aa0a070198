/*
 * One Series 4100 as a unit a host drives (prefix meter_): the device (engine, objects,
 * trend logs), its BACnet server, its front panel, and the hooks to its data link and
 * its non-volatile memory. No static instance and no globals, so a host stamps out as
 * many as it likes; everything happens through explicit calls:
 *
 *   meter_init          identity, settings, password: the factory state
 *   meter_feed          sample sets from the analog front end (cycles complete here)
 *   meter_tick          the host's millisecond clock: panel blink, DCC expiry
 *   meter_upper         the net_upper_t a data link hands NPDUs to (answers at once)
 *   meter_key/_display  the panel's buttons and LCD
 *   meter_power_*       control power cut and restored
 *
 * The link below, the NV policy and the trend logs' record store are the host's (a
 * struct of function pointers and a context each): the meter never sees a socket, a UART
 * or a file, and holds only each log's newest records. An MCU main loop drives it the
 * same way.
 *
 * Portable core: no heap, no OS, no stdio, no mutable globals.
 */
#ifndef S4100_METER_H
#define S4100_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bacnet/bac.h"
#include "metering/mtr.h"
#include "net/net.h"
#include "objects/obj.h"
#include "ui/ui.h"

/* What the meter asks of its non-volatile memory (NULL functions: none kept). */
typedef struct {
    void *ctx;
    /* An accepted WriteProperty, before its acknowledgement: 0 when durable; -1 when it
     * is not, the write already undone and *err set (the server answers Error). */
    int (*commit)(void *ctx, bac_error_t *err);
    /* Something to keep changed (a cycle completed, a panel setting): new trend records
     * and accepted settings now, the energy when a checkpoint is due; force: now. */
    void (*sync)(void *ctx, bool force);
} meter_nv_t;

typedef struct meter {
    obj_device_t dev;
    bac_server_t srv;
    ui_t ui;
    bool powered;      /* control power: off, the meter measures and answers nothing */
    uint32_t now_ms;   /* the host's clock at the last tick */
    bool ticked;       /* now_ms holds a time */
    net_link_t link;   /* where the meter's own NPDUs go (I-Am); send NULL: none */
    meter_nv_t nv;
} meter_t;

/* The factory state on an identity and settings; password "" or NULL: none. Powered,
 * no link, no NV. */
void meter_init(meter_t *m, const obj_identity_t *id, const mtr_config_t *cfg,
                const char *password);
void meter_set_link(meter_t *m, const net_link_t *link);
void meter_set_nv(meter_t *m, const meter_nv_t *nv);
/* Where the trend logs keep their records (an empty store; the NV rings, a RAM array):
 * the meter holds only each log's newest records (obj_tl_attach). */
void meter_set_store(meter_t *m, const tl_store_t *st);

/* Feed up to n sample sets, only read (pulse[k]: the pulse input's contact for set k, NULL: open).
 * Stops early once max_cycles 1 s cycles completed (0: no limit). Returns the sets
 * consumed; *cycles (may be NULL) gets the cycles completed. Unpowered, the sets pass
 * unseen (time goes on without the meter). */
size_t meter_feed(meter_t *m, mtr_frame_t *x, const uint8_t *pulse, size_t n,
                  unsigned max_cycles, unsigned *cycles);

/* Time passes on the host's monotonic millisecond clock. */
void meter_tick(meter_t *m, uint32_t now_ms);

/* The meter as the layer above a data link. */
net_upper_t meter_upper(meter_t *m);

/* A ReinitializeDevice was acknowledged: true once. Send the acknowledgement, then call
 * meter_restart. */
bool meter_reinit_due(meter_t *m);
/* The application restarts (ReinitializeDevice): settings and logs kept, the clock runs
 * on (M16); it announces itself again. */
void meter_restart(meter_t *m);

/* The start-up I-Am through the link (nothing when DCC forbids initiating). */
void meter_announce(meter_t *m);

/* The panel. */
void meter_key(meter_t *m, ui_key_t key);
void meter_display(const meter_t *m, ui_display_t *d);

/* Control power: off saves everything first (the ride-through); on, after the host has
 * reloaded what NV holds (a power-up), starts the panel and announces. */
void meter_power_off(meter_t *m);
void meter_power_on(meter_t *m);

/* A meter holds pointers into itself (panel and server to the device): it stays where
 * meter_init put it. */

#endif
