/* ssi_helper.h - what every helper (ssi-agent, ssi-freeze, ssi-xfer)
 * answers to --help and --version: one line saying what it is and that
 * users do not run it (ssid does), and the version every ssi tool shares.
 * Header only: each helper's main calls it first. */
#ifndef SSI_HELPER_H
#define SSI_HELPER_H

#include <stdio.h>
#include <string.h>

#ifndef SSI_VERSION
#define SSI_VERSION "unknown"
#endif

/* 1 if argv asked for --help/-h or --version/-V (answered on stdout), else
 * 0. what: a few words on what the helper does. */
static inline int ssi_helper_about(int argc, char **argv, const char *name, const char *what)
{
    if (argc != 2)
        return 0;
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("%s (ssi) %s\n", name, SSI_VERSION);
        return 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s: %s; an internal helper of ssi that ssid starts, not run by users "
               "(see ssi-helpers(8)).\n",
               name, what);
        return 1;
    }
    return 0;
}

#endif
