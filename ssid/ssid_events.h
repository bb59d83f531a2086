/* ssid_events: the cluster's events as one stream (ssictl events). Each
 * ssid notes what happens to it (migrations ended, balancer decisions and
 * declined chances, refusals, administration, nodes going up and down),
 * keeps it in a ring and sends it to every peer (EVENT), which keeps it in
 * its own ring: any node can show the whole cluster's stream. A tool asks
 * with EVENTS (after sequence number SEQ) and gets EVENTS_REP. Events are
 * best effort: a node that was down misses what happened meanwhile.
 * Uses ssid_node and ssid_client only. Runs in ssid. */
#ifndef SSID_EVENTS_H
#define SSID_EVENTS_H

#include "ssid_client.h"

#define SSID_EVENTS_RING 1024

/* Notes an event of this node: kind is one word ("migrated", "failed",
 * "balance", "declined", "refused", "admin", "node"); the text says what. */
void ssid_events_note(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* EVENT from peer `from`. */
void ssid_events_received(int from, const ssi_msg_t *m);

/* EVENTS from a local client: the events after its SEQ, as many as fit. */
void ssid_events_list(ssid_client_t *c, const ssi_msg_t *m);

#endif
