/* ssid_offer: the first hop of a migration, from home to another node.
 *
 * Home side: ssictl asks (MIGRATE); the checks that need not touch the
 * process; MIG_OFFER with two fresh keys to the destination, which must
 * answer within SSID_OFFER_MS (a ticket of ssid's loop); on MIG_READY
 *     ssi-freeze --deputy DEST:DPORT --key-fd 3 PID | ssi-xfer send --to DEST:PORT --key-fd 3
 * whose exit status says how it ended: 0 the process is the deputy and its
 * body runs at the destination; anything else, it runs on at home.
 * Destination side: on MIG_OFFER it listens on two ports of its own
 * address and runs
 *     ssi-xfer recv --listen-fd 3 --key-fd 4 | ssi-agent ... (pid 1 of a new PID namespace)
 * and sends MIG_READY when the agent's status line says where it listens.
 * Uses ssid_node, ssid_client, ssid_mig, ssi_precheck. Runs in ssid. */
#ifndef SSID_OFFER_H
#define SSID_OFFER_H

#include "ssid_mig.h"

/* The destination must answer an offer by then. ssid's loop has one ticket
 * delay: this one. */
#define SSID_OFFER_MS 10000
#define SSID_OFFER_RESEND_MS 500 /* the offer is sent again until answered */

/* Home: moves process p to node `to` for asker a: checks, then MIG_OFFER.
 * note is said first in the final message (a chained move says where the
 * process came from). */
void ssid_offer_start(const ssid_asker_t *a, ssid_client_t *p, int to, const char *note);

/* Destination: MIG_OFFER from peer `from`. */
void ssid_offer_received(int from, const ssi_msg_t *m);

/* Home: MIG_READY from the destination: freeze and stream. */
void ssid_offer_ready(int from, const ssi_msg_t *m);

/* MIG_FAIL: the other side gave up. */
void ssid_offer_failed(int from, const ssi_msg_t *m);

/* Every helper of first hop g exited: decides, answers, frees g. */
void ssid_offer_reaped(ssid_mig_t *g);

#endif
