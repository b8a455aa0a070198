/* s4100: the virtual Series 4100 meter. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

static void usage(FILE *f)
{
    fputs("usage: s4100 <command> [options]\n"
          "commands:\n"
          "  run       the meter in real time, serving BACnet/IP (the main job)\n"
          "  measure   run the metering engine over a scenario or a recording, print readings\n"
          "  ctl       drive a running meter through its control socket\n"
          "  help      this text; 's4100 <command> --help' for a command's options\n",
          f);
}

const char *app_default_scenario(void)
{
    /* From a checkout: ./scenarios; else where the build was configured from. */
    static const char *const paths[] = {"scenarios/default.ini", S4100_SCENARIO_DIR "/default.ini"};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        if (access(paths[k], R_OK) == 0)
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
    if (!strcmp(argv[1], "ctl"))
        return app_ctl(argc - 1, argv + 1);
    if (!strcmp(argv[1], "measure"))
        return app_measure(argc - 1, argv + 1);
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "s4100: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
