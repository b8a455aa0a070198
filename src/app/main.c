/* s4100: the virtual Series 4100 meter. */
#define _POSIX_C_SOURCE 200809L /* readlink */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "control.h"
#include "s4100_version.h" /* generated at build time from git */

static void usage(FILE *f)
{
    fputs("usage: s4100 <command> [options]\n"
          "commands:\n"
          "  run       the meter in real time, serving BACnet/IP (the main job)\n"
          "  site      a building: a BACnet router and MS/TP trunks of meters (sites/)\n"
          "  measure   run the metering engine over a scenario or a recording, print readings\n"
          "  verify    an accuracy test: IEC test points through the engine and a modelled\n"
          "            front end, each error against its class limit (docs/verify.md)\n"
          "  ctl       drive a running meter through its control socket\n"
          "  version   the version (also --version)\n"
          "  help      this text; 's4100 <command> --help' for a command's options\n"
          "'man s4100' describes every command and option.\n",
          f);
}

/* <prefix>/share/s4100/scenarios, where <prefix> is the parent of the running binary's
 * directory: an installed tree, wherever it was installed (--prefix, DESTDIR) or moved. */
static const char *installed_scenario(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) { /* drop "/s4100", then "/bin" */
        char *slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = '\0';
    }
    int w = snprintf(buf, cap, "%s/%s/default.ini", exe, S4100_SCENARIO_REL);
    return w > 0 && (size_t)w < cap ? buf : NULL;
}

const char *app_default_scenario(void)
{
    /* A checkout's ./scenarios first (build/s4100 run from the top of the tree), then
     * the installed copy, then the configured install location, then the checkout the
     * binary was built from. */
    static char near_exe[PATH_MAX + 64];
    const char *paths[] = {"scenarios/default.ini", installed_scenario(near_exe, sizeof near_exe),
                           S4100_SCENARIO_DIR "/default.ini", S4100_SOURCE_SCENARIO_DIR "/default.ini"};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        if (paths[k] && access(paths[k], R_OK) == 0)
            return paths[k];
    return paths[0];
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "run"))
        return app_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "site"))
        return app_site(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ctl"))
        return app_ctl(argc - 1, argv + 1);
    if (!strcmp(argv[1], "measure"))
        return app_measure(argc - 1, argv + 1);
    if (!strcmp(argv[1], "verify"))
        return app_verify(argc - 1, argv + 1);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("s4100 %s\n", S4100_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "s4100: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
