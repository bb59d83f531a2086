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

/* The same with the text made already, sent to every up peer but peer
 * `except`, which is to get it in a reply (its fields written there by
 * ssid_events_put) instead: an answer that is sent again until it arrives
 * carries its event with it, where a broadcast sent while the link to that
 * peer is not connected yet (just after a pause) would be lost. Returns
 * the event's time (wall-clock ms). */
uint64_t ssid_events_note_except(int except, const char *kind, const char *text);

/* Writes an event's fields (KIND, TIMEMS, TEXT) into a message of another
 * type; the receiver keeps it with ssid_events_received. */
void ssid_events_put(ssi_msg_writer_t *w, const char *kind, uint64_t time_ms, const char *text);

/* EVENT from peer `from` (or any message with an event's fields). */
void ssid_events_received(int from, const ssi_msg_t *m);

/* EVENTS from a local client: the events after its SEQ, as many as fit. */
void ssid_events_list(ssid_client_t *c, const ssi_msg_t *m);

#endif
