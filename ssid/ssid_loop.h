/* ssid_loop: ssid's one event loop, on czmq's zloop, and the dispatch of
 * everything that comes in. Readers: the ROUTER (peers' requests), the ZAP
 * socket (our allowlist), one DEALER per peer (replies on our own links).
 * Pollers: the signalfd, the local listener and every client (ssid_client),
 * the helpers' stderr and status pipes (ssid_mig, ssid_offer). Timers:
 * heartbeats and liveness, gossip, the job-control watch, each ps request's
 * deadline (ssid_ps). Tickets: each offer's deadline (ssid_offer). The top
 * layer of ssid but for main: it calls every other part, none calls it.
 * Runs in ssid. */
#ifndef SSID_LOOP_H
#define SSID_LOOP_H

/* Runs ssid_node.loop (made by the caller, with ssid_node's sockets and fds
 * set up) until a stop signal (0) or an error (-1). */
int ssid_loop_run(void);

#endif
