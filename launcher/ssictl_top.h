/* ssictl_top: `ssictl top`, a live view of the cluster. */
#ifndef SSICTL_TOP_H
#define SSICTL_TOP_H

/* Runs top through ssid at socket: the exit status. */
int ssictl_top_main(const char *socket, int argc, char **argv);

#endif
