/*
 * The control socket of a running meter (control.h) and `s4100 ctl`, its client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "objects/obj.h"

/* ---- the command language --------------------------------------------------------------- */

const char app_ctl_help[] =
    "  status                       the meter's state and readings, as JSON\n"
    "  help                         this list\n"
    "  power off | power on         cut and restore control power (a power cycle)\n"
    "  set KEY VALUE                change the simulated load, as a scenario's [signal]\n"
    "                               keys: current, pf, pf_type, direction, voltage_a,\n"
    "                               frequency, pulse_rate, ... (docs/scenarios.md)\n"
    "  set KEY VALUE over SECONDS   the same as a ramp over SECONDS of meter time\n"
    "  key up|down|select|back      press a front-panel key; answers the display\n"
    "  display                      the front panel's two lines\n"
    "  advance SECONDS              with 's4100 run --virtual-time': run SECONDS of meter\n"
    "                               time (every sample) as fast as the machine can, then\n"
    "                               answer (0 < SECONDS <= 1e7, fractions allowed)\n"
    "  meters                       every meter of the process (s4100 run --meters N):\n"
    "                               number, device instance, address, power\n"
    "  meter K COMMAND              COMMAND (status, power, set, key, display) for meter\n"
    "                               K, 1..N; without it a command is for meter 1\n";

#define MAX_TOKENS 8

typedef struct {
    const char *s;
    size_t n;
} tok_t;

/* Words separated by blanks; returns how many (MAX_TOKENS + 1: more than that). */
static int split(const char *line, tok_t *t)
{
    int n = 0;
    for (const char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n == MAX_TOKENS)
            return MAX_TOKENS + 1;
        t[n++] = (tok_t){start, (size_t)(p - start)};
    }
    return n;
}

static bool is(tok_t t, const char *word)
{
    return strlen(word) == t.n && memcmp(t.s, word, t.n) == 0;
}

/* A plain decimal number of seconds (no hex, inf or nan, which strtod would take). */
static bool seconds(tok_t t, double *out)
{
    char buf[64];
    if (t.n == 0 || t.n >= sizeof buf || strspn(t.s, "0123456789.eE+-") < t.n)
        return false;
    memcpy(buf, t.s, t.n);
    buf[t.n] = '\0';
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    return end != buf && *end == '\0' && isfinite(*out) && errno != ERANGE;
}

/* A message naming the word that is wrong (at most 40 characters of it). */
static int fail(char *err, size_t cap, const char *fmt, tok_t t)
{
    snprintf(err, cap, fmt, (int)(t.n > 40 ? 40 : t.n), t.s);
    return -1;
}

static int say_err(char *err, size_t cap, const char *text)
{
    snprintf(err, cap, "%s", text);
    return -1;
}

static int copy(char *dst, tok_t t)
{
    if (t.n >= APP_CTL_LINE)
        return -1;
    memcpy(dst, t.s, t.n);
    dst[t.n] = '\0';
    return 0;
}

static int parse_set(const tok_t *t, int n, app_ctl_cmd_t *cmd, char *err, size_t cap)
{
    if (n < 2)
        return say_err(err, cap, "set: give KEY VALUE [over SECONDS]");
    if (n < 3)
        return fail(err, cap, "set %.*s: give a VALUE", t[1]);
    if (copy(cmd->name, t[1]) < 0 || copy(cmd->value, t[2]) < 0)
        return say_err(err, cap, "set: KEY or VALUE too long");
    if (n == 3)
        return 0;
    if (!is(t[3], "over"))
        return fail(err, cap, "set: '%.*s' after the value: expected 'over SECONDS'", t[3]);
    if (n == 4)
        return say_err(err, cap, "set: 'over' needs a number of seconds");
    if (!seconds(t[4], &cmd->seconds))
        return fail(err, cap, "set: over '%.*s': not a number of seconds", t[4]);
    if (cmd->seconds < 0 || cmd->seconds > APP_CTL_MAX_SECONDS)
        return fail(err, cap, "set: over %.*s: the seconds must be 0 to 10000000", t[4]);
    if (n > 5)
        return fail(err, cap, "set: unexpected '%.*s' after the seconds", t[5]);
    cmd->ramp = true;
    return 0;
}

static int parse_advance(const tok_t *t, int n, app_ctl_cmd_t *cmd, char *err, size_t cap)
{
    if (n < 2)
        return say_err(err, cap, "advance: give a number of seconds (0 < SECONDS <= 1e7)");
    if (!seconds(t[1], &cmd->seconds))
        return fail(err, cap, "advance: '%.*s' is not a number of seconds", t[1]);
    if (!(cmd->seconds > 0) || cmd->seconds > APP_CTL_MAX_SECONDS)
        return fail(err, cap, "advance: %.*s is out of range (0 < SECONDS <= 1e7)", t[1]);
    if (n > 2)
        return fail(err, cap, "advance: unexpected '%.*s' after the seconds", t[2]);
    return 0;
}

static int parse_word(const tok_t *t, int n, app_ctl_cmd_t *cmd, char *err, size_t cap)
{
    if (is(t[0], "power")) {
        cmd->verb = APP_CTL_POWER;
        if (n < 2)
            return say_err(err, cap, "power: say 'on' or 'off'");
        if (!is(t[1], "on") && !is(t[1], "off"))
            return fail(err, cap, "power: '%.*s' is not 'on' or 'off'", t[1]);
        cmd->on = is(t[1], "on");
        if (n > 2)
            return fail(err, cap, "power: unexpected '%.*s'", t[2]);
        return 0;
    }
    if (is(t[0], "key")) {
        cmd->verb = APP_CTL_KEY;
        char name[16] = "";
        if (n < 2)
            return say_err(err, cap, "key: say up, down, select or back");
        if (t[1].n < sizeof name)
            memcpy(name, t[1].s, t[1].n);
        if (!ui_key_parse(name, &cmd->key))
            return fail(err, cap, "key: '%.*s' is not up, down, select or back", t[1]);
        if (n > 2)
            return fail(err, cap, "key: unexpected '%.*s'", t[2]);
        return 0;
    }
    if (is(t[0], "set")) {
        cmd->verb = APP_CTL_SET;
        return parse_set(t, n, cmd, err, cap);
    }
    if (is(t[0], "advance")) {
        cmd->verb = APP_CTL_ADVANCE;
        return parse_advance(t, n, cmd, err, cap);
    }
    return fail(err, cap, "unknown command '%.*s'", t[0]);
}

/* "meter K COMMAND": the command for meter K; not nested, and nothing process-wide. */
static int parse_meter(const tok_t *t, int n, app_ctl_cmd_t *cmd, char *err, size_t cap)
{
    char num[16];
    char *end;
    if (n < 2)
        return say_err(err, cap, "meter: which one? (meter K COMMAND, K from 1)");
    if (t[1].n >= sizeof num)
        return fail(err, cap, "meter: '%.*s' is not a meter number", t[1]);
    memcpy(num, t[1].s, t[1].n);
    num[t[1].n] = '\0';
    unsigned long k = strtoul(num, &end, 10);
    if (*end || num[0] < '1' || num[0] > '9' || k > APP_CTL_MAX_METER)
        return fail(err, cap, "meter: '%.*s' is not a meter number", t[1]);
    if (n < 3)
        return say_err(err, cap, "meter K: and then what? (status, power, set, key, display)");
    if (app_ctl_parse(t[2].s, cmd, err, cap) < 0)
        return -1;
    if (cmd->meter || cmd->verb == APP_CTL_ADVANCE || cmd->verb == APP_CTL_METERS ||
        cmd->verb == APP_CTL_HELP)
        return fail(err, cap, "meter K: '%.*s' is not a command for one meter", t[2]);
    cmd->meter = (unsigned)k;
    return 0;
}

int app_ctl_parse(const char *line, app_ctl_cmd_t *cmd, char *err, size_t cap)
{
    static const struct {
        const char *word;
        app_ctl_verb_t verb;
    } bare[] = {{"status", APP_CTL_STATUS}, {"help", APP_CTL_HELP}, {"display", APP_CTL_DISPLAY},
                {"meters", APP_CTL_METERS}};
    memset(cmd, 0, sizeof *cmd);
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return say_err(err, cap, "the command holds a control character");
    tok_t t[MAX_TOKENS];
    int n = split(line, t);
    if (n == 0)
        return say_err(err, cap, "empty command");
    if (n > MAX_TOKENS)
        return say_err(err, cap, "too many words in the command");
    if (is(t[0], "meter"))
        return parse_meter(t, n, cmd, err, cap);
    for (size_t k = 0; k < sizeof bare / sizeof bare[0]; k++) {
        if (is(t[0], bare[k].word)) {
            cmd->verb = bare[k].verb;
            if (n > 1) {
                char fmt[40];
                snprintf(fmt, sizeof fmt, "%s: unexpected '%%.*s'", bare[k].word);
                return fail(err, cap, fmt, t[1]);
            }
            return 0;
        }
    }
    return parse_word(t, n, cmd, err, cap);
}

/* ---- the server ------------------------------------------------------------------------- */

#define ACCEPTS_PER_SERVICE 64 /* bounded work per loop turn; the rest waits in the backlog */

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

void app_ctl_server_init(app_ctl_server_t *srv)
{
    memset(srv, 0, sizeof *srv);
    srv->lfd = -1;
    srv->idle_s = APP_CTL_IDLE_S;
    for (int k = 0; k < APP_CTL_CONNS; k++)
        srv->conn[k].fd = -1;
}

/* 1: a process listens there, 0: nobody does (a stale socket), -1: errno says. */
static int listening(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    int e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN) /* EAGAIN: its backlog is full, so it is alive */
        return 1;
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    errno = e;
    return -1;
}

/* What is at path now may go: nothing, or a socket nobody listens on. */
static int clear_path(const char *path, const struct sockaddr_un *sa, char *err, size_t cap)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, cap, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, cap, "exists and is not a socket (left as it is)");
        return -1;
    }
    int r = listening(sa);
    if (r != 0) {
        if (r > 0)
            snprintf(err, cap, "another meter listens on this socket");
        else
            snprintf(err, cap, "%s (left as it is)", strerror(errno));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, cap, "a stale socket that cannot be removed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int app_ctl_server_open(app_ctl_server_t *srv, const char *path, char *err, size_t cap)
{
    app_ctl_server_init(srv);
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) < 0) {
        snprintf(err, cap, "path too long (at most %zu characters)", sizeof sa.sun_path - 1);
        return -1;
    }
    if (clear_path(path, &sa, err, cap) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct stat st;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0 ||
        lstat(path, &st) < 0) {
        snprintf(err, cap, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    srv->lfd = fd;
    strcpy(srv->path, path);
    srv->dev = st.st_dev;
    srv->ino = st.st_ino;
    return 0;
}

/* A last word to a client we drop; it may not be listening, which is fine. */
static void say(int fd, const char *text)
{
    ssize_t r = send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)r;
}

static void conn_close(app_ctl_conn_t *c)
{
    /* Unread input would turn the close into a reset, and the client could lose the
     * answer still queued for it. */
    char sink[256];
    for (int k = 0; k < 4 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; k++) {
    }
    close(c->fd);
    c->fd = -1;
    c->state = APP_CTL_FREE;
    c->id = 0;
}

void app_ctl_server_close(app_ctl_server_t *srv)
{
    for (int k = 0; k < APP_CTL_CONNS; k++)
        if (srv->conn[k].state != APP_CTL_FREE)
            conn_close(&srv->conn[k]);
    if (srv->lfd < 0)
        return;
    close(srv->lfd);
    srv->lfd = -1;
    struct stat st;
    if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev && st.st_ino == srv->ino)
        unlink(srv->path);
}

/* A free slot, or the least recently active connection still waiting for its line. */
static app_ctl_conn_t *slot(app_ctl_server_t *srv)
{
    app_ctl_conn_t *oldest = NULL;
    for (int k = 0; k < APP_CTL_CONNS; k++) {
        app_ctl_conn_t *c = &srv->conn[k];
        if (c->state == APP_CTL_FREE)
            return c;
        if (c->state == APP_CTL_READING && (!oldest || c->seq < oldest->seq))
            oldest = c;
    }
    if (oldest) {
        say(oldest->fd, "error: closed for a newer connection (send the command at once)\n");
        conn_close(oldest);
        srv->stats.evicted++;
    }
    return oldest;
}

int app_ctl_server_adopt(app_ctl_server_t *srv, int fd, double now_s)
{
    app_ctl_conn_t *c = slot(srv);
    int fl = fcntl(fd, F_GETFL);
    if (!c || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        if (!c) {
            say(fd, "error: the meter is busy with other commands, try again\n");
            srv->stats.busy++;
        }
        close(fd);
        return -1;
    }
    if (++srv->next_id == 0)
        srv->next_id = 1;
    *c = (app_ctl_conn_t){.fd = fd, .state = APP_CTL_READING, .id = srv->next_id,
                          .since_s = now_s, .seq = ++srv->seq};
    srv->stats.accepted++;
    return 0;
}

int app_ctl_server_pollfds(const app_ctl_server_t *srv, struct pollfd *pf, int max)
{
    int n = 0;
    if (srv->lfd >= 0 && n < max)
        pf[n++] = (struct pollfd){.fd = srv->lfd, .events = POLLIN};
    for (int k = 0; k < APP_CTL_CONNS && n < max; k++) {
        const app_ctl_conn_t *c = &srv->conn[k];
        if (c->state == APP_CTL_FREE)
            continue;
        /* A pending command listens only for a hang-up (POLLHUP comes unasked): a
         * client may have shut its sending side and still wait for the answer. */
        short ev = c->state == APP_CTL_READING ? POLLIN : c->state == APP_CTL_WRITING ? POLLOUT : 0;
        pf[n++] = (struct pollfd){.fd = c->fd, .events = ev};
    }
    return n;
}

static app_ctl_conn_t *by_id(app_ctl_server_t *srv, unsigned id)
{
    for (int k = 0; k < APP_CTL_CONNS; k++)
        if (srv->conn[k].state != APP_CTL_FREE && srv->conn[k].id == id)
            return &srv->conn[k];
    return NULL;
}

static app_ctl_conn_t *by_fd(app_ctl_server_t *srv, int fd)
{
    for (int k = 0; k < APP_CTL_CONNS; k++)
        if (srv->conn[k].state != APP_CTL_FREE && srv->conn[k].fd == fd)
            return &srv->conn[k];
    return NULL;
}

/* Send what is buffered; closes the connection when done or when the client is gone. */
static int flush(app_ctl_server_t *srv, app_ctl_conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w <= 0) {
            srv->stats.hangups++;
            conn_close(c);
            return -1;
        }
        c->out_off += (size_t)w;
        c->since_s = srv->now_s;
    }
    srv->stats.answered++;
    conn_close(c);
    return 0;
}

int app_ctl_server_reply(app_ctl_server_t *srv, unsigned conn, const char *text)
{
    app_ctl_conn_t *c = by_id(srv, conn);
    if (!c || c->state != APP_CTL_PENDING)
        return -1;
    size_t n = strlen(text);
    ssize_t w = send(c->fd, text, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        srv->stats.hangups++;
        conn_close(c);
        return -1;
    }
    size_t sent = w > 0 ? (size_t)w : 0;
    if (n - sent > sizeof c->out) {
        srv->stats.stalled++; /* the client reads none of a long answer */
        conn_close(c);
        return -1;
    }
    memcpy(c->out, text + sent, n - sent);
    c->out_len = n - sent;
    c->out_off = 0;
    c->state = APP_CTL_WRITING;
    c->since_s = srv->now_s;
    return flush(srv, c);
}

static void line_ready(app_ctl_server_t *srv, app_ctl_conn_t *c, size_t len,
                       app_ctl_handler_t *handler, void *ctx)
{
    c->state = APP_CTL_PENDING;
    if (memchr(c->in, '\0', len)) {
        app_ctl_server_reply(srv, c->id, "error: the command holds a NUL byte\n");
        return;
    }
    if (len > 0 && c->in[len - 1] == '\r')
        len--; /* a terminal's or a telnet client's CR LF */
    c->in[len] = '\0';
    srv->stats.commands++;
    handler(ctx, srv, c->id, c->in);
}

/* Take what the client sent; a complete line goes to the handler. */
static void take(app_ctl_server_t *srv, app_ctl_conn_t *c, app_ctl_handler_t *handler,
                 void *ctx)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, APP_CTL_LINE - c->in_len, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (r <= 0) {
        /* The end of input also ends a line that had no newline ("printf status | nc") */
        if (r == 0 && c->in_len > 0) {
            line_ready(srv, c, c->in_len, handler, ctx);
        } else {
            srv->stats.hangups++;
            conn_close(c);
        }
        return;
    }
    c->seq = ++srv->seq;
    const char *nl = memchr(c->in + c->in_len, '\n', (size_t)r);
    c->in_len += (size_t)r;
    if (nl) {
        line_ready(srv, c, (size_t)(nl - c->in), handler, ctx);
    } else if (c->in_len == APP_CTL_LINE) {
        srv->stats.too_long++;
        c->state = APP_CTL_PENDING;
        char msg[96];
        snprintf(msg, sizeof msg, "error: a command line has at most %d characters\n",
                 APP_CTL_LINE - 1);
        app_ctl_server_reply(srv, c->id, msg);
    }
}

static bool full(const app_ctl_server_t *srv)
{
    for (int k = 0; k < APP_CTL_CONNS; k++)
        if (srv->conn[k].state == APP_CTL_FREE)
            return false;
    return true;
}

/* New connections. When every slot is taken, the waiting ones are read first (a burst
 * of clients may all have their lines queued), then one idle connection makes room
 * and the rest of the backlog waits for the next turn. */
static void accept_all(app_ctl_server_t *srv, app_ctl_handler_t *handler, void *ctx)
{
    for (int k = 0; k < ACCEPTS_PER_SERVICE; k++) {
        bool evict = full(srv);
        for (int j = 0; evict && j < APP_CTL_CONNS; j++)
            if (srv->conn[j].state == APP_CTL_READING)
                take(srv, &srv->conn[j], handler, ctx);
        evict = evict && full(srv);
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the backlog waits */
        app_ctl_server_adopt(srv, fd, srv->now_s);
        if (evict)
            return;
    }
}

void app_ctl_server_service(app_ctl_server_t *srv, const struct pollfd *pf, int n,
                            double now_s, app_ctl_handler_t *handler, void *ctx)
{
    srv->now_s = now_s;
    bool incoming = false;
    for (int k = 0; k < n; k++) {
        if (!pf[k].revents || pf[k].fd < 0)
            continue;
        if (pf[k].fd == srv->lfd) {
            incoming = true; /* after the others, so no descriptor is reused meanwhile */
            continue;
        }
        app_ctl_conn_t *c = by_fd(srv, pf[k].fd);
        if (!c)
            continue;
        if (c->state == APP_CTL_READING)
            take(srv, c, handler, ctx);
        else if (c->state == APP_CTL_WRITING)
            flush(srv, c);
        else if (pf[k].revents & (POLLHUP | POLLERR)) {
            srv->stats.hangups++; /* left while its command was pending */
            conn_close(c);
        }
    }
    if (incoming)
        accept_all(srv, handler, ctx);
    app_ctl_server_expire(srv, now_s);
}

void app_ctl_server_expire(app_ctl_server_t *srv, double now_s)
{
    for (int k = 0; k < APP_CTL_CONNS; k++) {
        app_ctl_conn_t *c = &srv->conn[k];
        if (c->state == APP_CTL_FREE || c->state == APP_CTL_PENDING || now_s - c->since_s < srv->idle_s)
            continue;
        if (c->state == APP_CTL_READING) {
            say(c->fd, "error: no complete command line in time\n");
            srv->stats.idle++;
        } else {
            srv->stats.stalled++;
        }
        conn_close(c);
    }
}

void app_ctl_stats_json(const app_ctl_stats_t *st, FILE *f)
{
    fprintf(f, "{\"accepted\":%lu,\"commands\":%lu,\"answered\":%lu,\"idle\":%lu,\"evicted\":%lu,"
               "\"busy\":%lu,\"too_long\":%lu,\"hangups\":%lu,\"stalled\":%lu}",
            st->accepted, st->commands, st->answered, st->idle, st->evicted, st->busy,
            st->too_long, st->hangups, st->stalled);
}

/* ---- readings as JSON (status, s4100 measure) ------------------------------------------- */

void app_json_readings(FILE *f, const mtr_t *m)
{
    for (unsigned k = 1; k <= MTR_AI_COUNT; k++) {
        float v = m->ai[k];
        const char *name = obj_find(OBJ_AI, k)->name;
        if (isnan(v))
            fprintf(f, "%s\"%s\":null", k > 1 ? "," : "", name);
        else
            fprintf(f, "%s\"%s\":%.9g", k > 1 ? "," : "", name, (double)v);
    }
}

/* ---- s4100 ctl -------------------------------------------------------------------------- */

#define CTL_TIMEOUT_S 5.0

static void ctl_usage(FILE *f)
{
    fprintf(f,
            "usage: s4100 ctl --control PATH [--timeout SECONDS] COMMAND...\n"
            "Drive a running meter (s4100 run --control PATH) through its control socket.\n"
            "  --control PATH      the meter's control socket\n"
            "  --timeout SECONDS   how long to wait for the answer (default %g; 'advance'\n"
            "                      waits until the meter has run the time it asked for)\n"
            "commands:\n%s"
            "Exit status: 0 answered, 1 the meter refused or did not answer, 2 usage errors.\n",
            CTL_TIMEOUT_S, app_ctl_help);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The command words as one line; -1 when it is too long for the meter. */
static int join(int argc, char **argv, char *line, size_t cap)
{
    size_t n = 0;
    line[0] = '\0';
    for (int k = 0; k < argc; k++) {
        size_t len = strlen(argv[k]);
        if (n + len + 2 > cap)
            return -1;
        if (k > 0)
            line[n++] = ' ';
        memcpy(line + n, argv[k], len + 1);
        n += len;
    }
    return 0;
}

/* Connect, waiting at most timeout_s (< 0: no limit) when the meter's backlog is full. */
static int ctl_connect(const char *path, double timeout_s)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) < 0) {
        fprintf(stderr, "s4100 ctl: --control %s: path too long\n", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "s4100 ctl: socket: %s\n", strerror(errno));
        return -1;
    }
    if (timeout_s > 0) {
        struct timeval tv = {.tv_sec = (time_t)timeout_s,
                             .tv_usec = (suseconds_t)((timeout_s - floor(timeout_s)) * 1e6)};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    int e = errno;
    close(fd);
    if (e == ENOENT || e == ECONNREFUSED)
        fprintf(stderr, "s4100 ctl: %s: %s (is 's4100 run --control %s' running?)\n", path,
                e == ENOENT ? "no such socket" : "nobody listens on it", path);
    else if (e == EAGAIN || e == EINPROGRESS)
        fprintf(stderr, "s4100 ctl: %s: the meter takes no connection (busy)\n", path);
    else
        fprintf(stderr, "s4100 ctl: %s: %s\n", path, strerror(e));
    return -1;
}

/* Send the line and read the answer to its end; NULL (message printed) on failure. */
static char *exchange(int fd, const char *line, double timeout_s)
{
    size_t len = strlen(line);
    if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
        fprintf(stderr, "s4100 ctl: sending the command: %s\n", strerror(errno));
        return NULL;
    }
    double deadline = mono_s() + timeout_s;
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        char *more = buf && n + 1 == cap ? realloc(buf, cap *= 2) : buf;
        if (!more) {
            fprintf(stderr, "s4100 ctl: out of memory\n");
            free(buf);
            return NULL;
        }
        buf = more;
        int wait_ms = -1;
        if (timeout_s > 0) {
            double left = deadline - mono_s();
            wait_ms = left > 0 ? (int)ceil(left * 1000.0) : 0;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int p = poll(&pf, 1, wait_ms);
        if (p < 0 && errno == EINTR)
            continue;
        if (p == 0) {
            fprintf(stderr, "s4100 ctl: no answer from the meter within %g s\n", timeout_s);
            free(buf);
            return NULL;
        }
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* the meter closes the connection after its answer */
        n += (size_t)r;
    }
    buf[n] = '\0';
    return buf;
}

/* --timeout: a positive number of seconds. */
static int ctl_timeout(const char *arg, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(arg, &end);
    if (end == arg || *end || errno || !isfinite(*out) || *out <= 0 || *out > 1e7) {
        fprintf(stderr, "s4100 ctl: --timeout '%s': give a number of seconds above 0\n", arg);
        return -1;
    }
    return 0;
}

/* 0: options taken (*cmd_at: the first command word), 1: --help done, 2: usage error. */
static int ctl_options(int argc, char **argv, const char **path, double *timeout_s, int *cmd_at)
{
    static const struct option opts[] = {{"control", required_argument, NULL, 'c'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'c') {
            *path = optarg;
        } else if (c == 't') {
            if (ctl_timeout(optarg, timeout_s) < 0)
                return 2;
        } else if (c == 'h') {
            ctl_usage(stdout);
            return 1;
        } else {
            if (optopt == 'c' || optopt == 't')
                fprintf(stderr, "s4100 ctl: %s needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "s4100 ctl: unknown option '%s' (see s4100 ctl --help)\n",
                        argv[optind - 1]);
            return 2;
        }
    }
    *cmd_at = optind;
    return 0;
}

int app_ctl(int argc, char **argv)
{
    const char *path = NULL;
    double timeout_s = 0;
    int at = 0;
    int rc = ctl_options(argc, argv, &path, &timeout_s, &at);
    if (rc)
        return rc == 1 ? 0 : 2;
    char line[APP_CTL_LINE + 1], err[160];
    app_ctl_cmd_t cmd;
    if (at >= argc) {
        fprintf(stderr, "s4100 ctl: give a command (see s4100 ctl --help)\n");
        return 2;
    }
    if (join(argc - at, argv + at, line, APP_CTL_LINE) < 0) {
        fprintf(stderr, "s4100 ctl: the command is longer than %d characters\n", APP_CTL_LINE - 1);
        return 2;
    }
    if (app_ctl_parse(line, &cmd, err, sizeof err) < 0) {
        fprintf(stderr, "s4100 ctl: error: %s (see s4100 ctl --help)\n", err);
        return 2;
    }
    if (!path) {
        fprintf(stderr, "s4100 ctl: give --control PATH, the socket of 's4100 run --control'\n");
        return 2;
    }
    if (timeout_s == 0)
        timeout_s = cmd.verb == APP_CTL_ADVANCE ? -1 : CTL_TIMEOUT_S;
    int fd = ctl_connect(path, timeout_s);
    if (fd < 0)
        return 1;
    strcat(line, "\n");
    char *ans = exchange(fd, line, timeout_s);
    close(fd);
    if (!ans)
        return 1;
    rc = 0;
    if (!ans[0]) {
        fprintf(stderr, "s4100 ctl: the meter closed the connection without an answer\n");
        rc = 1;
    } else if (!strncmp(ans, "error:", 6)) {
        fprintf(stderr, "s4100 ctl: %s", ans);
        rc = 1;
    } else {
        fputs(ans, stdout);
    }
    free(ans);
    return rc;
}
