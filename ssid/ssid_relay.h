/* ssid_relay: `ssictl migrate HOME:PID NODE` on a node that is not HOME.
 * The request goes to HOME (MIGRATE over the control plane, with the
 * user's uid: nodes trust each other's word about their own users, they
 * are authenticated by their CURVE keys), and HOME's answer (MIG_DONE)
 * comes back to the local client. Uses ssid_node, ssid_client, ssid_mig.
 * Runs in ssid. */
#ifndef SSID_RELAY_H
#define SSID_RELAY_H

#include "ssid_mig.h"

#define SSID_RELAY_WAIT_MS 600000

/* Asks node `home` to move its process pid to dest, for local asker a. */
void ssid_relay_ask(const ssid_asker_t *a, const char *home, uint64_t pid, const char *dest);

/* MIG_DONE from peer `from`: the answer to one of our relays. */
void ssid_relay_done(int from, const ssi_msg_t *m);

/* Gives up relays whose home went down or did not answer in
 * SSID_RELAY_WAIT_MS (called with every heartbeat). */
void ssid_relay_check(int64_t now);

#endif
