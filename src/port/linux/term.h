/* The terminal panel (ncurses), host side of src/core/ui. Prefix lx_term_. */
#ifndef S4100_TERM_H
#define S4100_TERM_H

#include <stdbool.h>

#include "ui/ui.h"

bool lx_term_open(void);
void lx_term_close(void);
/* A key press: 1 and *key set, 0 none, -1 quit, 2 an unmapped key. */
int lx_term_key(ui_key_t *key);
void lx_term_draw(const ui_display_t *d, const char *title, const char *state);

#endif
