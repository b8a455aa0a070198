/*
 * libFuzzer target: the control socket's command parser, and its server's line assembly.
 *
 * Each line of the input goes through app_ctl_parse, whose result must be consistent
 * (a message on refusal, numbers in range on success). Then the whole input is sent,
 * cut into chunks of input-chosen sizes with input-chosen pauses, through a socketpair
 * into a server (app_ctl_server_adopt), and every line the handler receives is
 * compared with what a model of the protocol expects from the bytes sent: the first
 * line of the connection, CR removed, at most 511 characters, no NUL. Some answers are
 * deferred, as `advance` defers them; idle connections expire as time passes.
 */
#include "../src/app/control.c" /* first: it sets the feature macros */

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                           \
    do {                                                                                   \
        if (!(x)) {                                                                        \
            fprintf(stderr, "check failed: %s (line %d)\n", #x, __LINE__);                 \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static void check_parse(const char *line)
{
    app_ctl_cmd_t cmd;
    char err[96];
    memset(err, 0x55, sizeof err);
    if (app_ctl_parse(line, &cmd, err, sizeof err) < 0) {
        CHECK(memchr(err, '\0', sizeof err) && err[0]);
        return;
    }
    CHECK(cmd.verb <= APP_CTL_METERS);
    /* A meter is named with a command for one meter, never with a process-wide one. */
    CHECK(cmd.meter <= APP_CTL_MAX_METER);
    CHECK(!cmd.meter || (cmd.verb != APP_CTL_ADVANCE && cmd.verb != APP_CTL_METERS &&
                         cmd.verb != APP_CTL_HELP));
    if (cmd.verb == APP_CTL_SET) {
        CHECK(cmd.name[0] && cmd.value[0] && !strpbrk(cmd.name, " \t") && !strpbrk(cmd.value, " \t"));
        CHECK(!cmd.ramp || (cmd.seconds >= 0 && cmd.seconds <= APP_CTL_MAX_SECONDS));
    }
    if (cmd.verb == APP_CTL_ADVANCE)
        CHECK(cmd.seconds > 0 && cmd.seconds <= APP_CTL_MAX_SECONDS);
}

typedef struct {
    int peer;                 /* the client's end; -1 when none */
    char sent[8192];          /* what the client sent on this connection */
    size_t n;
    bool eof;                 /* the client shut its sending side */
    bool handled;
    unsigned pending;         /* an answer still owed (0: none) */
    bool defer;               /* the next command is answered later */
} model_t;

static void handler(void *ctx, app_ctl_server_t *srv, unsigned conn, const char *line)
{
    model_t *m = ctx;
    CHECK(!m->handled); /* one command per connection */
    m->handled = true;
    const char *nl = memchr(m->sent, '\n', m->n);
    size_t len = nl ? (size_t)(nl - m->sent) : m->n;
    CHECK(nl || m->eof);
    CHECK(len < APP_CTL_LINE && !memchr(m->sent, '\0', len));
    if (len > 0 && m->sent[len - 1] == '\r')
        len--;
    CHECK(strlen(line) == len && memcmp(line, m->sent, len) == 0);
    check_parse(line);
    if (m->defer)
        m->pending = conn;
    else
        CHECK(app_ctl_server_reply(srv, conn, "ok\n") == 0);
}

static void connect_pair(app_ctl_server_t *srv, model_t *m, double now)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(app_ctl_server_adopt(srv, sv[0], now) == 0);
    m->peer = sv[1];
    m->n = 0;
    m->eof = m->handled = false;
    m->pending = 0;
}

/* Read what the server answered; the connection ends when it closes. */
static void drain(model_t *m)
{
    char buf[1024];
    for (;;) {
        ssize_t r = recv(m->peer, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        close(m->peer);
        m->peer = -1;
        return;
    }
}

static void turn(app_ctl_server_t *srv, model_t *m, double now)
{
    struct pollfd pf[APP_CTL_POLLFDS];
    int n = app_ctl_server_pollfds(srv, pf, APP_CTL_POLLFDS);
    CHECK(poll(pf, (nfds_t)n, 0) >= 0);
    app_ctl_server_service(srv, pf, n, now, handler, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser, line by line */
    char line[1024];
    for (size_t off = 0; off < size;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = (nl ? (size_t)(nl - data) : size) - off;
        size_t keep = len < sizeof line ? len : sizeof line - 1;
        memcpy(line, data + off, keep);
        line[keep] = '\0';
        check_parse(line);
        off += len + 1;
    }
    if (size < 2)
        return 0;

    /* The server: data[0] seeds the chunk sizes, pauses and deferrals */
    static app_ctl_server_t srv;
    static model_t m;
    app_ctl_server_init(&srv);
    double now = 0;
    uint32_t rng = data[0] * 2654435761u + 1;
    m.peer = -1;
    for (size_t off = 1; off < size;) {
        rng = rng * 1103515245u + 12345u;
        if (m.peer < 0) {
            connect_pair(&srv, &m, now);
            m.defer = (rng >> 20) & 1;
        }
        size_t chunk = 1 + (rng >> 8) % 64;
        if (chunk > size - off)
            chunk = size - off;
        if (m.n + chunk <= sizeof m.sent && !m.eof) {
            CHECK(send(m.peer, data + off, chunk, MSG_NOSIGNAL) == (ssize_t)chunk);
            memcpy(m.sent + m.n, data + off, chunk);
            m.n += chunk;
        }
        off += chunk;
        if (((rng >> 16) & 15) == 0) {
            shutdown(m.peer, SHUT_WR); /* a last line without its newline */
            m.eof = true;
        }
        now += ((rng >> 24) & 7) == 0 ? APP_CTL_IDLE_S : 0.01;
        turn(&srv, &m, now);
        if (m.pending && ((rng >> 4) & 1)) {
            app_ctl_server_reply(&srv, m.pending, "ok: later\n");
            m.pending = 0;
        }
        drain(&m);
        CHECK(!(m.peer >= 0 && m.handled && !m.pending)); /* answered, so closed */
    }
    if (m.peer >= 0)
        close(m.peer);
    app_ctl_server_close(&srv);
    return 0;
}
