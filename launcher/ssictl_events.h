/* ssictl_events: `ssictl events [--follow] [--json]`. */
#ifndef SSICTL_EVENTS_H
#define SSICTL_EVENTS_H

/* Lists (or follows) the cluster's events through ssid at socket: the
 * exit status. */
int ssictl_events_main(const char *socket, int argc, char **argv);

#endif
