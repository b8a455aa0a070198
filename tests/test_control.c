/*
 * The control socket (src/app/control.c): the command parser and its messages, and the
 * server against real Unix sockets in a temporary directory. The server is driven with
 * a time the test chooses, so no assertion depends on how fast the machine is; waits
 * on sockets are bounded and end as soon as the data is there.
 */
#include "../src/app/control.c" /* first: it sets the feature macros */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* ---- the parser ------------------------------------------------------------------------- */

static app_ctl_cmd_t parse_ok(const char *line)
{
    app_ctl_cmd_t cmd;
    char err[160] = "";
    int r = app_ctl_parse(line, &cmd, err, sizeof err);
    if (r != 0)
        fail_msg("'%s' refused: %s", line, err);
    return cmd;
}

static void expect_error(const char *line, const char *msg)
{
    app_ctl_cmd_t cmd;
    char err[160] = "";
    assert_int_equal(app_ctl_parse(line, &cmd, err, sizeof err), -1);
    if (strcmp(err, msg) != 0)
        fail_msg("'%s': got \"%s\", expected \"%s\"", line, err, msg);
}

static void test_parse_commands(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("status").verb, APP_CTL_STATUS);
    assert_int_equal(parse_ok("  status \t").verb, APP_CTL_STATUS);
    assert_int_equal(parse_ok("help").verb, APP_CTL_HELP);
    assert_int_equal(parse_ok("display").verb, APP_CTL_DISPLAY);
    app_ctl_cmd_t c = parse_ok("power on");
    assert_int_equal(c.verb, APP_CTL_POWER);
    assert_true(c.on);
    c = parse_ok("power off");
    assert_false(c.on);
    c = parse_ok("key up");
    assert_int_equal(c.verb, APP_CTL_KEY);
    assert_int_equal(c.key, UI_KEY_UP);
    assert_int_equal(parse_ok("key down").key, UI_KEY_DOWN);
    assert_int_equal(parse_ok("key select").key, UI_KEY_SELECT);
    assert_int_equal(parse_ok("key back").key, UI_KEY_BACK);
    c = parse_ok("set current 20");
    assert_int_equal(c.verb, APP_CTL_SET);
    assert_string_equal(c.name, "current");
    assert_string_equal(c.value, "20");
    assert_false(c.ramp);
    c = parse_ok("set\tdirection   export");
    assert_string_equal(c.name, "direction");
    assert_string_equal(c.value, "export");
    c = parse_ok("set current 20 over 2.5");
    assert_true(c.ramp);
    assert_true(c.seconds == 2.5);
    assert_true(parse_ok("set current 20 over 0").seconds == 0);
    assert_true(parse_ok("set current 20 over 1e7").seconds == 1e7);
    c = parse_ok("advance 3600");
    assert_int_equal(c.verb, APP_CTL_ADVANCE);
    assert_true(c.seconds == 3600);
    assert_true(parse_ok("advance 0.25").seconds == 0.25);
    assert_true(parse_ok("advance 10000000").seconds == 1e7);
    /* KEY and VALUE are the caller's to judge */
    assert_string_equal(parse_ok("set nosuchkey -1").value, "-1");
}

/* "meter K COMMAND" names one meter of a process; process-wide commands take none. */
static void test_parse_meter(void **state)
{
    (void)state;
    app_ctl_cmd_t c = parse_ok("meter 3 status");
    assert_int_equal(c.verb, APP_CTL_STATUS);
    assert_int_equal(c.meter, 3);
    c = parse_ok("meter 12 set current 5 over 2");
    assert_int_equal(c.verb, APP_CTL_SET);
    assert_int_equal(c.meter, 12);
    assert_string_equal(c.name, "current");
    assert_true(c.ramp && c.seconds == 2);
    assert_int_equal(parse_ok("status").meter, 0);
    assert_int_equal(parse_ok("meters").verb, APP_CTL_METERS);
    expect_error("meter", "meter: which one? (meter K COMMAND, K from 1)");
    expect_error("meter 0 status", "meter: '0' is not a meter number");
    expect_error("meter x status", "meter: 'x' is not a meter number");
    expect_error("meter 100001 status", "meter: '100001' is not a meter number");
    expect_error("meter 2", "meter K: and then what? (status, power, set, key, display)");
    expect_error("meter 2 advance 5", "meter K: 'advance' is not a command for one meter");
    expect_error("meter 2 meter 3 status", "meter K: 'meter' is not a command for one meter");
    expect_error("meter 2 frobnicate", "unknown command 'frobnicate'");
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("", "empty command");
    expect_error(" \t ", "empty command");
    expect_error("frobnicate", "unknown command 'frobnicate'");
    expect_error("Status", "unknown command 'Status'");
    expect_error("status now", "status: unexpected 'now'");
    expect_error("help me", "help: unexpected 'me'");
    expect_error("display 2", "display: unexpected '2'");
    expect_error("power", "power: say 'on' or 'off'");
    expect_error("power sideways", "power: 'sideways' is not 'on' or 'off'");
    expect_error("power on now", "power: unexpected 'now'");
    expect_error("key", "key: say up, down, select or back");
    expect_error("key sideways", "key: 'sideways' is not up, down, select or back");
    expect_error("key up down", "key: unexpected 'down'");
    expect_error("set", "set: give KEY VALUE [over SECONDS]");
    expect_error("set current", "set current: give a VALUE");
    expect_error("set current 20 over", "set: 'over' needs a number of seconds");
    expect_error("set current 20 over x", "set: over 'x': not a number of seconds");
    expect_error("set current 20 over nan", "set: over 'nan': not a number of seconds");
    expect_error("set current 20 over inf", "set: over 'inf': not a number of seconds");
    expect_error("set current 20 over 0x10", "set: over '0x10': not a number of seconds");
    expect_error("set current 20 over -1", "set: over -1: the seconds must be 0 to 10000000");
    expect_error("set current 20 over 2e7", "set: over 2e7: the seconds must be 0 to 10000000");
    expect_error("set current 20 in 5", "set: 'in' after the value: expected 'over SECONDS'");
    expect_error("set current 20 over 5 please", "set: unexpected 'please' after the seconds");
    expect_error("advance", "advance: give a number of seconds (0 < SECONDS <= 1e7)");
    expect_error("advance soon", "advance: 'soon' is not a number of seconds");
    expect_error("advance 0", "advance: 0 is out of range (0 < SECONDS <= 1e7)");
    expect_error("advance -5", "advance: -5 is out of range (0 < SECONDS <= 1e7)");
    expect_error("advance 1e8", "advance: 1e8 is out of range (0 < SECONDS <= 1e7)");
    expect_error("advance 1e999", "advance: '1e999' is not a number of seconds");
    expect_error("advance 5 6", "advance: unexpected '6' after the seconds");
    expect_error("status\x1b[2J", "the command holds a control character");
    expect_error("set current 20\nstatus", "the command holds a control character");
    expect_error("a b c d e f g h i", "too many words in the command");
    /* A long word is quoted, cut short, never overflowing the message */
    char line[600], err[64];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    app_ctl_cmd_t cmd;
    assert_int_equal(app_ctl_parse(line, &cmd, err, sizeof err), -1);
    assert_true(strncmp(err, "unknown command 'xxxx", 21) == 0);
}

/* No internal names in what a user reads; every command in the help. */
static void test_help_lists_every_command(void **state)
{
    (void)state;
    static const char *const cmds[] = {"status", "help", "power off", "power on", "set KEY VALUE",
                                       "over SECONDS", "key up|down|select|back", "display",
                                       "advance SECONDS"};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strstr(app_ctl_help, cmds[k]))
            fail_msg("help lacks '%s'", cmds[k]);
    assert_null(strstr(app_ctl_help, "sim_"));
    assert_null(strstr(app_ctl_help, "app_"));
}

/* ---- the server ------------------------------------------------------------------------- */

typedef struct {
    int n;
    unsigned ids[32];
    char lines[32][APP_CTL_LINE];
    bool pending;     /* do not answer now */
    int reply_result; /* what app_ctl_server_reply said to the last answer */
} rec_t;

static void handler(void *ctx, app_ctl_server_t *srv, unsigned conn, const char *line)
{
    rec_t *r = ctx;
    assert_true(strlen(line) < APP_CTL_LINE);
    assert_null(strchr(line, '\n'));
    if (r->n < 32) {
        r->ids[r->n] = conn;
        strcpy(r->lines[r->n], line);
    }
    r->n++;
    if (!r->pending) {
        char ans[APP_CTL_LINE + 16];
        snprintf(ans, sizeof ans, "ok: %s\n", line);
        r->reply_result = app_ctl_server_reply(srv, conn, ans);
    }
}

static char dir[64];
static char path[96];
static app_ctl_server_t srv; /* 270 KB: not on the stack */
static rec_t rec;
static double now;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_control.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.sock", dir);
    memset(&rec, 0, sizeof rec);
    now = 100;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    app_ctl_server_close(&srv);
    unlink(path);
    rmdir(dir);
    return 0;
}

static void open_server(void)
{
    char err[200];
    if (app_ctl_server_open(&srv, path, err, sizeof err) < 0)
        fail_msg("open: %s", err);
}

/* One turn of the meter's loop; poll returns at once when anything is ready. */
static void pump_wait(int wait_ms)
{
    struct pollfd pf[APP_CTL_POLLFDS];
    int n = app_ctl_server_pollfds(&srv, pf, APP_CTL_POLLFDS);
    assert_true(poll(pf, (nfds_t)n, wait_ms) >= 0);
    app_ctl_server_service(&srv, pf, n, now, handler, &rec);
}

static void pump(void)
{
    pump_wait(0);
}

/* Turns until the handler has seen `calls` lines (a bounded wait for real I/O). */
static void pump_until(int calls)
{
    for (int k = 0; k < 50 && rec.n < calls; k++)
        pump_wait(100);
    assert_int_equal(rec.n, calls);
}

static int client(void)
{
    struct sockaddr_un sa;
    assert_int_equal(unix_addr(path, &sa), 0);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    pump(); /* the server takes it */
    return fd;
}

static void put(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Everything the server sent until it closed (bounded wait per read). */
static char *answer(int fd)
{
    static char buf[65536];
    size_t n = 0;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 2000) <= 0)
            fail_msg("no answer (got %zu bytes)", n);
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    return buf;
}

static bool readable(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, 0) > 0;
}

static void test_answers_a_command(void **state)
{
    (void)state;
    open_server();
    int fd = client();
    put(fd, "status\n");
    pump_until(1);
    assert_string_equal(rec.lines[0], "status");
    assert_string_equal(answer(fd), "ok: status\n");
    assert_int_equal(srv.stats.accepted, 1);
    assert_int_equal(srv.stats.commands, 1);
    assert_int_equal(srv.stats.answered, 1);
    /* CR LF, and a last line ended by the end of input instead of a newline */
    fd = client();
    put(fd, "display\r\n");
    pump_until(2);
    assert_string_equal(rec.lines[1], "display");
    assert_string_equal(answer(fd), "ok: display\n");
    fd = client();
    put(fd, "power off");
    shutdown(fd, SHUT_WR);
    pump_until(3);
    assert_string_equal(rec.lines[2], "power off");
    assert_string_equal(answer(fd), "ok: power off\n");
    /* A NUL inside the line is refused, not cut short */
    fd = client();
    assert_int_equal(send(fd, "power on\0off\n", 13, 0), 13);
    for (int k = 0; k < 5 && srv.stats.answered < 4; k++)
        pump_wait(100);
    assert_int_equal(rec.n, 3);
    assert_string_equal(answer(fd), "error: the command holds a NUL byte\n");
    /* A connection that closes without a word is simply gone */
    fd = client();
    close(fd);
    pump_wait(100);
    assert_int_equal(srv.stats.hangups, 1);
    assert_int_equal(rec.n, 3);
}

/* A client sending a byte at a time holds nobody up: the other's line goes to the
 * handler as soon as it is complete, and its answer leaves at once. */
static void test_dribbler_does_not_delay_others(void **state)
{
    (void)state;
    open_server();
    int slow = client();
    put(slow, "s");
    pump();
    put(slow, "t");
    pump();
    int fast = client();
    put(fast, "display\n");
    pump_until(1);
    assert_string_equal(rec.lines[0], "display");
    assert_true(readable(fast));
    assert_string_equal(answer(fast), "ok: display\n");
    const char *rest = "atus\n";
    for (const char *p = rest; *p; p++) {
        assert_int_equal(rec.n, 1);
        assert_int_equal(send(slow, p, 1, 0), 1);
        pump_wait(100);
    }
    assert_int_equal(rec.n, 2);
    assert_string_equal(rec.lines[1], "status");
    assert_string_equal(answer(slow), "ok: status\n");
    assert_int_equal(srv.stats.answered, 2);
}

/* 300 connections that never send: the oldest idle ones make room, and the next real
 * client is still answered; the server never holds more than its slots. */
static void test_silent_connections_do_not_lock_out(void **state)
{
    (void)state;
    open_server();
    static int silent[300];
    for (int k = 0; k < 300; k++)
        silent[k] = client();
    assert_int_equal(srv.stats.accepted, 300);
    assert_int_equal(srv.stats.evicted, 300 - APP_CTL_CONNS);
    int fd = client();
    put(fd, "status\n");
    pump_until(1);
    assert_string_equal(answer(fd), "ok: status\n");
    assert_int_equal(srv.stats.evicted, 301 - APP_CTL_CONNS);
    /* The first one was told why it was dropped; the newest silent ones still wait */
    assert_true(strncmp(answer(silent[0]), "error: closed for a newer connection", 36) == 0);
    assert_false(readable(silent[299]));
    int open_conns = 0;
    for (int k = 0; k < APP_CTL_CONNS; k++)
        open_conns += srv.conn[k].state != APP_CTL_FREE;
    assert_int_equal(open_conns, APP_CTL_CONNS - 1);
    for (int k = 1; k < 300; k++)
        close(silent[k]);
}

/* A burst of clients, each with its line already sent before the meter looks: every
 * command is taken, none is pushed out as idle. */
static void test_burst_of_commands(void **state)
{
    (void)state;
    open_server();
    struct sockaddr_un sa;
    unix_addr(path, &sa);
    static int fds[40];
    for (int k = 0; k < 40; k++) {
        fds[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(fds[k], (struct sockaddr *)&sa, sizeof sa), 0);
        put(fds[k], "status\n");
    }
    for (int k = 0; k < 50 && rec.n < 40; k++)
        pump_wait(100);
    assert_int_equal(rec.n, 40);
    assert_int_equal(srv.stats.evicted, 0);
    for (int k = 0; k < 40; k++)
        assert_string_equal(answer(fds[k]), "ok: status\n");
}

/* A client that sends a command and hangs up at once must not kill the process with
 * SIGPIPE (this test leaves SIGPIPE at its default: it would die). */
static void test_early_hangup_no_sigpipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_DFL);
    open_server();
    int fd = client();
    put(fd, "status\n");
    close(fd);
    pump_until(1);
    assert_int_equal(rec.reply_result, -1);
    assert_int_equal(srv.stats.hangups, 1);
    assert_int_equal(srv.stats.answered, 0);
    /* The same for an answer that comes later (advance) */
    rec.pending = true;
    fd = client();
    put(fd, "advance 60\n");
    pump_until(2);
    close(fd);
    pump_wait(100);
    assert_int_equal(srv.stats.hangups, 2);
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[1], "ok: advanced 60 s\n"), -1);
    /* and the server goes on */
    rec.pending = false;
    fd = client();
    put(fd, "status\n");
    pump_until(3);
    assert_string_equal(answer(fd), "ok: status\n");
}

static void test_line_length_limit(void **state)
{
    (void)state;
    open_server();
    char line[APP_CTL_LINE + 2];
    /* The longest line: 511 characters and its newline */
    memset(line, 'a', APP_CTL_LINE - 1);
    strcpy(line + APP_CTL_LINE - 1, "\n");
    int fd = client();
    put(fd, line);
    pump_until(1);
    assert_int_equal(strlen(rec.lines[0]), APP_CTL_LINE - 1);
    answer(fd);
    /* One more is refused with an error, and the handler never sees it */
    memset(line, 'a', APP_CTL_LINE);
    strcpy(line + APP_CTL_LINE, "\n");
    fd = client();
    put(fd, line);
    for (int k = 0; k < 5 && !srv.stats.too_long; k++)
        pump_wait(100);
    assert_int_equal(srv.stats.too_long, 1);
    assert_int_equal(rec.n, 1);
    assert_string_equal(answer(fd), "error: a command line has at most 511 characters\n");
}

static void test_idle_timeout(void **state)
{
    (void)state;
    open_server();
    int fd = client();
    put(fd, "sta");
    pump();
    now += APP_CTL_IDLE_S - 0.1;
    app_ctl_server_expire(&srv, now);
    assert_false(readable(fd));
    assert_int_equal(srv.stats.idle, 0);
    now += 0.1;
    app_ctl_server_expire(&srv, now);
    assert_int_equal(srv.stats.idle, 1);
    assert_string_equal(answer(fd), "error: no complete command line in time\n");
    assert_int_equal(rec.n, 0);
    /* A pending command is never expired: advance may take long */
    rec.pending = true;
    fd = client();
    put(fd, "advance 1e6\n");
    pump_until(1);
    now += 1000;
    app_ctl_server_expire(&srv, now);
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[0], "ok: advanced\n"), 0);
    assert_string_equal(answer(fd), "ok: advanced\n");
}

static void test_pending_reply(void **state)
{
    (void)state;
    open_server();
    rec.pending = true;
    int a = client(), b = client();
    put(a, "advance 5\n");
    put(b, "advance 7\n");
    pump_until(2);
    assert_int_not_equal(rec.ids[0], rec.ids[1]);
    assert_false(readable(a));
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[1], "ok: advanced 7 s (cycle 7)\n"), 0);
    assert_string_equal(answer(b), "ok: advanced 7 s (cycle 7)\n");
    assert_false(readable(a));
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[0], "ok: advanced 5 s (cycle 12)\n"), 0);
    assert_string_equal(answer(a), "ok: advanced 5 s (cycle 12)\n");
    /* a token answers once */
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[0], "again\n"), -1);
    /* every slot busy with a command: a new connection is refused with a reason */
    int fds[APP_CTL_CONNS];
    for (int k = 0; k < APP_CTL_CONNS; k++) {
        fds[k] = client();
        put(fds[k], "advance 1\n");
        pump_until(3 + k);
    }
    int extra = client();
    assert_int_equal(srv.stats.busy, 1);
    assert_string_equal(answer(extra), "error: the meter is busy with other commands, try again\n");
    for (int k = 0; k < APP_CTL_CONNS; k++)
        close(fds[k]);
}

/* Pending, with a small socket buffer: the answer goes out in pieces as the client
 * reads; one that does not read is dropped after idle_s; one too long to hold is
 * dropped at once. */
static void test_slow_reader(void **state)
{
    (void)state;
    open_server();
    rec.pending = true;
    static char big[12000];
    for (size_t k = 0; k < sizeof big - 1; k++)
        big[k] = (char)('a' + k % 26);
    big[sizeof big - 2] = '\n';
    int fd = client();
    put(fd, "status\n");
    pump_until(1);
    int one = 1;
    setsockopt(srv.conn[0].fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[0], big), 0);
    assert_int_equal(srv.conn[0].state, APP_CTL_WRITING); /* it did not fit at once */
    static char got[sizeof big];
    size_t n = 0;
    for (int k = 0; k < 1000 && n < sizeof got - 1; k++) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 2000), 1);
        ssize_t r = recv(fd, got + n, sizeof got - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        pump();
    }
    got[n] = '\0';
    assert_string_equal(got, big);
    assert_int_equal(srv.stats.answered, 1);
    assert_string_equal(answer(fd), ""); /* then the end */

    fd = client();
    put(fd, "status\n");
    pump_until(2);
    setsockopt(srv.conn[0].fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[1], big), 0);
    assert_int_equal(srv.conn[0].state, APP_CTL_WRITING);
    now += APP_CTL_IDLE_S;
    app_ctl_server_expire(&srv, now);
    assert_int_equal(srv.stats.stalled, 1);
    assert_int_equal(srv.conn[0].state, APP_CTL_FREE);
    close(fd);

    static char huge[APP_CTL_REPLY * 4];
    memset(huge, 'x', sizeof huge - 1);
    fd = client();
    put(fd, "status\n");
    pump_until(3);
    setsockopt(srv.conn[0].fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
    assert_int_equal(app_ctl_server_reply(&srv, rec.ids[2], huge), -1);
    assert_int_equal(srv.stats.stalled, 2);
    close(fd);
}

/* ---- where the socket goes -------------------------------------------------------------- */

static void test_refuses_regular_file(void **state)
{
    (void)state;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    char err[200];
    assert_int_equal(app_ctl_server_open(&srv, path, err, sizeof err), -1);
    assert_string_equal(err, "exists and is not a socket (left as it is)");
    char buf[32] = "";
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "keep me\n");
}

static void test_refuses_live_socket(void **state)
{
    (void)state;
    open_server();
    static app_ctl_server_t second;
    char err[200];
    assert_int_equal(app_ctl_server_open(&second, path, err, sizeof err), -1);
    assert_string_equal(err, "another meter listens on this socket");
    app_ctl_server_close(&second); /* owns nothing: removes nothing */
    /* The first one still serves (its probe connection was only a hang-up) */
    int fd = client();
    put(fd, "status\n");
    pump_until(1);
    assert_string_equal(answer(fd), "ok: status\n");
}

static void test_replaces_stale_socket(void **state)
{
    (void)state;
    struct sockaddr_un sa;
    unix_addr(path, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd); /* a meter killed by SIGKILL leaves this behind */
    open_server();
    fd = client();
    put(fd, "status\n");
    pump_until(1);
    assert_string_equal(answer(fd), "ok: status\n");
    /* Closing removes the socket, but only while it is still ours */
    app_ctl_server_close(&srv);
    assert_int_equal(access(path, F_OK), -1);
    open_server();
    unlink(path);
    FILE *f = fopen(path, "w");
    fclose(f);
    app_ctl_server_close(&srv);
    assert_int_equal(access(path, F_OK), 0);
}

static void test_path_too_long(void **state)
{
    (void)state;
    char p[300], err[400];
    memset(p, 'a', sizeof p - 1);
    p[sizeof p - 1] = '\0';
    assert_int_equal(app_ctl_server_open(&srv, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "path too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_commands),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_meter),
        cmocka_unit_test(test_help_lists_every_command),
        cmocka_unit_test_setup_teardown(test_answers_a_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dribbler_does_not_delay_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_connections_do_not_lock_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_of_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_hangup_no_sigpipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_length_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_live_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaces_stale_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
