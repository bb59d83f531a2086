/* ssictl_admin: ssictl's node administration commands (block, unblock,
 * expel, drain, stay, nostay), and events (ssictl_events.c). Kept apart from ssictl.c, which calls
 * ssictl_admin_main once. */
#ifndef SSICTL_ADMIN_H
#define SSICTL_ADMIN_H

/* Runs admin command cmd with its arguments, talking to ssid at socket:
 * its exit status (0 done, 1 refused or failed, 2 usage), or -1 if cmd is
 * not an admin command. */
int ssictl_admin_main(const char *socket, const char *cmd, int argc, char **argv);

/* The lines of ssictl's usage that describe them. */
extern const char ssictl_admin_usage[];

#endif
