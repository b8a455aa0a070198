/*
 * s4100 front panel: the meter's backlit LCD and its four buttons, as a state machine
 * over one obj_device_t. See docs/panel.md for the screen map.
 *
 * The display is a character model of the meter's LCD: two rows of 16 characters,
 *
 *     row 0   LABEL TAG  RIGHT     screen name (5), a qualifier (4), phase/direction (6)
 *     row 1   ---value-- UNIT      the value right-aligned in columns 0..9, unit at 11
 *
 * plus a blink attribute per character (the digit being edited) and two icons: the
 * alert wrench (an input alert is active, see ALERT) and the heartbeat (the firmware is
 * alive; it blinks). The host draws this however it likes (ncurses, a test, an LCD).
 *
 * Keys: UP (+), DOWN (-), SELECT (right/enter), BACK. Settings entered on the panel go
 * through the same obj_* calls as BACnet writes (same rules, same commit), and each
 * one counts in obj_device_t.writes, which the host watches to save NV.
 *
 * Portable core: no heap, no stdio, no OS; the caller owns the ui_t. Prefix ui_.
 */
#ifndef S4100_UI_H
#define S4100_UI_H

#include <stdbool.h>
#include <stdint.h>

#include "objects/obj.h"

#define UI_ROWS 2
#define UI_COLS 16

#define UI_BLINK_MS 500u      /* an edited digit is lit, then dark, this long each */
#define UI_MESSAGE_MS 2000u   /* "DONE", "WRONG", "OUT OF RANGE" stay this long */
#define UI_IDLE_MS 300000u    /* no key for 5 min: back to the home screen (KWh) */

typedef enum { UI_KEY_UP, UI_KEY_DOWN, UI_KEY_SELECT, UI_KEY_BACK } ui_key_t;

/* What the LCD shows now. */
typedef struct {
    char text[UI_ROWS][UI_COLS + 1]; /* always UI_COLS characters, space padded, NUL */
    uint16_t blink[UI_ROWS];         /* bit c: the character in column c blinks */
    bool blink_on;                   /* blink phase: blinking characters are lit now */
    bool wrench;                     /* alert icon */
    bool heart;                      /* heartbeat icon, lit now (it blinks at 1 Hz) */
} ui_display_t;

/* One panel. The fields are the panel's own; use the functions. */
typedef struct {
    obj_device_t *dev;
    uint8_t mode;      /* which screen kind is up (ui.c: UI_M_...) */
    uint8_t top;       /* main-menu screen */
    uint8_t sub;       /* screen within the list that is open */
    uint8_t param;     /* setup: parameter within the S xxx menu */
    uint8_t after_msg; /* the mode a message gives way to */
    const char *msg_title, *msg_text;
    uint32_t msg_ms;   /* the message's time left */
    uint32_t raw, raw0; /* the value being edited, and as it was on entry */
    uint8_t cursor;     /* digit entry: the blinking digit, 0 = rightmost */
    uint32_t id_hi;     /* ID1 as accepted, until ID2 completes the instance */
    uint32_t idle_ms, blink_ms, clock_ms;
} ui_t;

/* Start a panel on a device, at the home screen. */
void ui_init(ui_t *ui, obj_device_t *d);

/* A button press. */
void ui_key(ui_t *ui, ui_key_t key);

/* Time passes: ms since the last tick (blink, heartbeat, messages, idle timeout). */
void ui_tick(ui_t *ui, uint32_t ms);

/* The display now. */
void ui_render(const ui_t *ui, ui_display_t *out);

/* "up", "down", "select", "back" (also "+", "-", "right", "enter", "esc"): for control
 * sockets and scripts. False for anything else. */
bool ui_key_parse(const char *name, ui_key_t *key);

#endif
