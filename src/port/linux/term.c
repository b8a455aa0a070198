/*
 * The front panel in a terminal, through ncurses: the 2 x 16 LCD, its icons, the key
 * legend and a line of live state. Arrow keys and Enter/Escape press the meter's keys.
 */
#define _GNU_SOURCE
#include "term.h"

#include <curses.h>
#include <string.h>

bool lx_term_open(void)
{
    if (!initscr())
        return false;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    return true;
}

void lx_term_close(void)
{
    endwin();
}

int lx_term_key(ui_key_t *key)
{
    int c = getch();
    switch (c) {
    case ERR: return 0;
    case KEY_UP: case '+': *key = UI_KEY_UP; return 1;
    case KEY_DOWN: case '-': *key = UI_KEY_DOWN; return 1;
    case KEY_RIGHT: case '\n': case '\r': case KEY_ENTER: *key = UI_KEY_SELECT; return 1;
    case KEY_LEFT: case 27: case KEY_BACKSPACE: case 127: *key = UI_KEY_BACK; return 1;
    case 'q': return -1;
    }
    return 2; /* some other key: ignored */
}

void lx_term_draw(const ui_display_t *d, const char *title, const char *state)
{
    erase();
    mvprintw(0, 2, "%s", title);
    mvprintw(2, 2, "+------------------+");
    for (int r = 0; r < UI_ROWS; r++) {
        mvprintw(3 + r, 2, "| ");
        for (int c = 0; c < UI_COLS; c++) {
            bool dark = (d->blink[r] >> c & 1u) && !d->blink_on;
            addch(dark ? ' ' : (chtype)(unsigned char)d->text[r][c]);
        }
        printw(" |");
    }
    mvprintw(5, 2, "+------------------+");
    mvprintw(6, 2, "  %s  %s", d->heart ? "<3" : "  ", d->wrench ? "[wrench: alert]" : "");
    mvprintw(8, 2, "keys: Up = + / up   Down = - / down   Right/Enter = select   Left/Esc = back");
    mvprintw(9, 2, "      q or Ctrl-C quits");
    mvprintw(11, 2, "%s", state);
    refresh();
}
