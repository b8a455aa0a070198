/*
 * The control socket of a running meter (a Unix stream socket): one command line in,
 * one answer out, then the connection closes. `s4100 ctl` is the client.
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
#include <sys/un.h>
#include <unistd.h>

#include "app.h"
#include "objects/obj.h"

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

int app_control_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) < 0) {
        snprintf(err, errlen, "--control %s: path too long", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    unlink(path); /* a stale socket from a killed meter */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 8) < 0) {
        snprintf(err, errlen, "--control %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one command line from a new connection, bounded in size and time. */
int app_control_accept(int lfd, char *line, size_t cap)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 500) <= 0)
            break;
        ssize_t r = read(fd, line + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (memchr(line, '\n', n))
            break;
    }
    line[n] = '\0';
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    return fd;
}

void app_control_reply(int fd, const char *text)
{
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
}

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

static void ctl_usage(FILE *f)
{
    fputs("usage: s4100 ctl --control PATH COMMAND...\n"
          "commands of a running meter (s4100 run --control PATH):\n"
          "  status                      the meter's state and readings as JSON\n"
          "  power off | power on        cut and restore control power (a power cycle)\n"
          "  set KEY VALUE [over SECS]   change the simulated load, as a scenario's [signal]\n"
          "                              keys: current, pf, pf_type, direction, voltage_a,\n"
          "                              frequency, pulse_rate, ... (docs/scenarios.md)\n"
          "  help                        this list, from the meter\n",
          f);
}

int app_ctl(int argc, char **argv)
{
    static const struct option opts[] = {
        {"control", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'c')
            path = optarg;
        else if (c == 'h') {
            ctl_usage(stdout);
            return 0;
        } else {
            ctl_usage(stderr);
            return 2;
        }
    }
    if (!path || optind >= argc) {
        fprintf(stderr, "s4100 ctl: give --control PATH and a command\n");
        ctl_usage(stderr);
        return 2;
    }
    char line[512] = "";
    for (int k = optind; k < argc; k++) {
        if (strlen(line) + strlen(argv[k]) + 2 >= sizeof line) {
            fprintf(stderr, "s4100 ctl: command too long\n");
            return 2;
        }
        if (k > optind)
            strcat(line, " ");
        strcat(line, argv[k]);
    }
    strcat(line, "\n");
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || unix_addr(path, &sa) < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "s4100 ctl: %s: %s (is 's4100 run --control %s' running?)\n", path,
                strerror(errno), path);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (write(fd, line, strlen(line)) < 0) {
        fprintf(stderr, "s4100 ctl: %s: %s\n", path, strerror(errno));
        close(fd);
        return 1;
    }
    char buf[16384];
    size_t n = 0;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0) {
            fprintf(stderr, "s4100 ctl: no answer from the meter\n");
            close(fd);
            return 1;
        }
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[n] = '\0';
    bool error = strncmp(buf, "error", 5) == 0;
    fputs(buf, error ? stderr : stdout);
    return error ? 1 : 0;
}
