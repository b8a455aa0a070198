/* One meter driven by explicit calls (meter.h). */
#include "meter/meter.h"

#include <string.h>

static int commit_write(void *ctx, bac_error_t *err)
{
    meter_t *m = ctx;
    return m->nv.commit ? m->nv.commit(m->nv.ctx, err) : 0;
}

static void nv_sync(meter_t *m, bool force)
{
    if (m->nv.sync)
        m->nv.sync(m->nv.ctx, force);
}

void meter_init(meter_t *m, const obj_identity_t *id, const mtr_config_t *cfg,
                const char *password)
{
    memset(m, 0, sizeof *m);
    obj_init(&m->dev, id, cfg, NULL);
    bac_server_init(&m->srv, &m->dev, password);
    /* The server asks the meter, the meter asks the host: the hook's context is ours. */
    m->srv.on_write = commit_write;
    m->srv.on_write_ctx = m;
    ui_init(&m->ui, &m->dev);
    m->powered = true;
}

void meter_set_link(meter_t *m, const net_link_t *link)
{
    m->link = *link;
}

void meter_set_nv(meter_t *m, const meter_nv_t *nv)
{
    m->nv = *nv;
}

void meter_set_store(meter_t *m, const tl_store_t *st)
{
    obj_tl_attach(&m->dev, st);
}

/* Sets in a row with the same pulse contact, up to n. */
static size_t same_contact(const uint8_t *pulse, size_t n)
{
    size_t run = 1;
    if (!pulse)
        return n;
    while (run < n && pulse[run] == pulse[0])
        run++;
    return run;
}

size_t meter_feed(meter_t *m, mtr_frame_t *x, const uint8_t *pulse, size_t n,
                  unsigned max_cycles, unsigned *cycles)
{
    unsigned done_cycles = 0;
    size_t off = 0;
    if (!m->powered)
        off = n;
    while (off < n && (!max_cycles || done_cycles < max_cycles)) {
        size_t run = same_contact(pulse ? pulse + off : NULL, n - off);
        mtr_pulse_input(&m->dev.mtr, pulse && pulse[off] != 0);
        bool cycle = false;
        off += mtr_feed(&m->dev.mtr, x + off, run, &cycle);
        if (cycle) {
            obj_cycle(&m->dev);
            nv_sync(m, false);
            done_cycles++;
        }
    }
    if (cycles)
        *cycles = done_cycles;
    return off;
}

void meter_tick(meter_t *m, uint32_t now_ms)
{
    uint32_t elapsed = m->ticked ? now_ms - m->now_ms : 0;
    m->now_ms = now_ms;
    m->ticked = true;
    ui_tick(&m->ui, elapsed);
    bac_server_tick(&m->srv, now_ms);
}

static size_t receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                      size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    meter_t *m = ctx;
    (void)src; /* the link answers src; the server needs no address */
    *reply_bcast = false;
    if (!m->powered)
        return 0; /* an unpowered meter hears nothing */
    return bac_server_handle(&m->srv, m->now_ms, npdu, len, bcast, out, cap, reply_bcast);
}

net_upper_t meter_upper(meter_t *m)
{
    return (net_upper_t){.ctx = m, .receive = receive};
}

bool meter_reinit_due(meter_t *m)
{
    return bac_server_reinit_requested(&m->srv, NULL);
}

void meter_restart(meter_t *m)
{
    nv_sync(m, false);
    obj_restart(&m->dev, false);
    meter_announce(m);
}

void meter_announce(meter_t *m)
{
    uint8_t npdu[64];
    if (!m->powered || !m->link.send)
        return;
    size_t n = bac_server_i_am(&m->srv, npdu, sizeof npdu);
    if (n)
        m->link.send(m->link.ctx, NULL, npdu, n);
}

void meter_key(meter_t *m, ui_key_t key)
{
    if (!m->powered)
        return; /* a dark panel */
    ui_key(&m->ui, key);
    nv_sync(m, false); /* a setting entered on the panel is kept at once */
}

void meter_display(const meter_t *m, ui_display_t *d)
{
    if (m->powered) {
        ui_render(&m->ui, d);
        return;
    }
    memset(d, 0, sizeof *d);
    for (int r = 0; r < UI_ROWS; r++)
        memset(d->text[r], ' ', UI_COLS);
}

void meter_power_off(meter_t *m)
{
    nv_sync(m, true); /* everything is saved before the lights go */
    m->powered = false;
}

void meter_power_on(meter_t *m)
{
    ui_init(&m->ui, &m->dev); /* the panel starts on its home screen */
    m->powered = true;
    meter_announce(m);
}
