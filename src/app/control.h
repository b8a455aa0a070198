/*
 * The control socket of a running meter and its client, `s4100 ctl`.
 *
 * Protocol: a Unix stream socket; the client sends one command line, the meter sends
 * one answer (text; "error: ..." when refused) and closes the connection.
 *
 * The server lives inside the meter's single poll loop, so nothing here ever blocks:
 * every socket is non-blocking, each connection has its own input and output buffer,
 * a line has a length limit, a connection that sends no complete line within idle_s
 * is dropped, and when all slots are taken a new connection pushes out the least
 * recently active one still waiting for its line. A slow, silent or vanished client
 * costs the meter a few system calls and never its time.
 */
#ifndef S4100_APP_CONTROL_H
#define S4100_APP_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "metering/mtr.h"
#include "ui/ui.h"

/* ---- the command language (pure: no I/O) ------------------------------------------------ */

#define APP_CTL_LINE 512            /* a command line, its newline included */
#define APP_CTL_MAX_SECONDS 1e7     /* "over SECONDS" and "advance SECONDS" */

typedef enum {
    APP_CTL_STATUS,  /* status */
    APP_CTL_HELP,    /* help */
    APP_CTL_DISPLAY, /* display */
    APP_CTL_POWER,   /* power on|off: .on */
    APP_CTL_KEY,     /* key up|down|select|back: .key */
    APP_CTL_SET,     /* set KEY VALUE [over SECONDS]: .name .value, .ramp .seconds */
    APP_CTL_ADVANCE, /* advance SECONDS: .seconds, 0 < seconds <= APP_CTL_MAX_SECONDS */
    APP_CTL_METERS,  /* meters: one line per meter of the process */
} app_ctl_verb_t;

typedef struct {
    app_ctl_verb_t verb;
    bool on;
    ui_key_t key;
    char name[APP_CTL_LINE], value[APP_CTL_LINE]; /* copies: the line may go */
    bool ramp;
    double seconds;
    unsigned meter; /* "meter K CMD": 1..APP_CTL_MAX_METER; 0: none named (the first) */
} app_ctl_cmd_t;

#define APP_CTL_MAX_METER 100000u

/* Parse one command line (no newline). 0 and *cmd filled, or -1 and a message in err
 * that says what is wrong, without an "error: " prefix (e.g. "set: 'over' needs a
 * number of seconds"). The names and values of `set` are the caller's to check. */
int app_ctl_parse(const char *line, app_ctl_cmd_t *cmd, char *err, size_t cap);

/* Every command, one per line, for `help` on the socket and `s4100 ctl --help`. */
extern const char app_ctl_help[];

/* ---- the server ------------------------------------------------------------------------- */

#define APP_CTL_CONNS 16              /* connections served at once */
#define APP_CTL_POLLFDS (APP_CTL_CONNS + 1)
#define APP_CTL_REPLY 16384           /* an answer the client has not read yet */
#define APP_CTL_IDLE_S 10.0           /* default: seconds to send a complete line */

typedef enum {
    APP_CTL_FREE,
    APP_CTL_READING, /* waiting for its line: "idle" */
    APP_CTL_PENDING, /* the line is with the handler; app_ctl_server_reply answers it */
    APP_CTL_WRITING, /* the answer is in out[], the client reads it slowly */
} app_ctl_state_t;

typedef struct {
    int fd;
    app_ctl_state_t state;
    unsigned id;           /* the token the handler answers with; never 0 */
    double since_s;        /* accepted (READING), last progress (WRITING) */
    unsigned long seq;     /* activity order: the least recent idle one goes first */
    size_t in_len, out_len, out_off;
    char in[APP_CTL_LINE + 1];
    char out[APP_CTL_REPLY];
} app_ctl_conn_t;

typedef struct {
    unsigned long accepted; /* connections taken */
    unsigned long commands; /* complete lines given to the handler */
    unsigned long answered; /* answers delivered in full */
    unsigned long idle;     /* dropped: no complete line within idle_s */
    unsigned long evicted;  /* dropped for a newer connection while all slots were taken */
    unsigned long busy;     /* refused: every slot was busy with a command */
    unsigned long too_long; /* lines over the limit (answered with an error) */
    unsigned long hangups;  /* clients that left before their answer was delivered */
    unsigned long stalled;  /* dropped: the client did not read its answer */
} app_ctl_stats_t;

typedef struct {
    int lfd;               /* -1: no listening socket (tests, fuzzing) */
    char path[108];
    dev_t dev;             /* the socket file we made, so we remove only that */
    ino_t ino;
    double idle_s;
    double now_s;          /* the time of the last service call */
    unsigned next_id;
    unsigned long seq;
    app_ctl_stats_t stats;
    app_ctl_conn_t conn[APP_CTL_CONNS];
} app_ctl_server_t;

/* A complete command line (newline and a trailing CR removed, no NUL inside) from the
 * connection `conn`. Answer it with app_ctl_server_reply(srv, conn, text), now or
 * later (e.g. when the simulated time it asked for has passed). */
typedef void app_ctl_handler_t(void *ctx, app_ctl_server_t *srv, unsigned conn,
                               const char *line);

/* A server with no socket and no connections (app_ctl_server_adopt feeds it). */
void app_ctl_server_init(app_ctl_server_t *srv);
/* Listen on path. Refuses a path that exists and is not a socket and a socket some
 * process listens on; removes only a stale socket. -1 and what is wrong in err, for
 * the caller to print after the path ("exists and is not a socket (left as it is)",
 * "another meter listens on this socket", ...). */
int app_ctl_server_open(app_ctl_server_t *srv, const char *path, char *err, size_t cap);
/* Close every connection and the socket; remove the socket file if it is still ours. */
void app_ctl_server_close(app_ctl_server_t *srv);
/* Serve an already connected stream socket (made non-blocking; the server owns it).
 * 0, or -1 when every slot is busy with a command (then it is closed). */
int app_ctl_server_adopt(app_ctl_server_t *srv, int fd, double now_s);

/* Append the server's descriptors to pf (at most max); returns how many. */
int app_ctl_server_pollfds(const app_ctl_server_t *srv, struct pollfd *pf, int max);
/* After poll(): accept, read, call the handler for each complete line, write, and
 * expire. pf may hold other descriptors too: entries are matched by fd. */
void app_ctl_server_service(app_ctl_server_t *srv, const struct pollfd *pf, int n,
                            double now_s, app_ctl_handler_t *handler, void *ctx);
/* Answer a command (the text is copied). 0, or -1 when that client has gone. */
int app_ctl_server_reply(app_ctl_server_t *srv, unsigned conn, const char *text);
/* Drop connections idle or stalled for idle_s (service does this too). */
void app_ctl_server_expire(app_ctl_server_t *srv, double now_s);
/* The counters as a JSON object: {"accepted":N,...}. */
void app_ctl_stats_json(const app_ctl_stats_t *st, FILE *f);

/* ---- elsewhere in the program ----------------------------------------------------------- */

/* s4100 ctl */
int app_ctl(int argc, char **argv);
/* "name":value pairs of every AI (QNAN as null), comma separated. */
void app_json_readings(FILE *f, const mtr_t *m);

#endif
