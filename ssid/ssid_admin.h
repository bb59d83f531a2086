/* ssid_admin: node administration, MOSIX style (ssictl block, unblock,
 * expel, drain, stay, nostay). Node commands are root's; stay and nostay
 * are the process owner's or root's, as for migrate. A command for another
 * node goes there (ADMIN with the user's uid, as a relayed MIGRATE: nodes
 * trust each other's word about their own users) and its answer
 * (ADMIN_DONE) comes back within SSID_ADMIN_WAIT_MS.
 *   block    this node takes no new guests (offers are refused, and the
 *            gossip tells the other balancers)
 *   unblock  it takes guests again (and stops draining)
 *   expel    asks the home of every guest here to bring it home (does not
 *            block: block first to keep them away)
 *   drain    block; expel; move every process of this home that runs here
 *            to the least loaded node that takes guests; the balancer
 *            brings none of them back while it drains
 *   stay PID / nostay PID: the balancer leaves process PID (whose home is
 *            this node) where it is, or may move it again
 * Uses ssid_node, ssid_client, ssid_mig, ssid_offer. Runs in ssid. */
#ifndef SSID_ADMIN_H
#define SSID_ADMIN_H

#include "ssid_client.h"

#define SSID_ADMIN_WAIT_MS 5000

/* ADMIN from a local client. */
void ssid_admin_request(ssid_client_t *c, const ssi_msg_t *m);

/* ADMIN relayed by peer `from` for its user. */
void ssid_admin_relayed(int from, const ssi_msg_t *m);

/* ADMIN_DONE from peer `from`: the answer to one we relayed. */
void ssid_admin_done(int from, const ssi_msg_t *m);

/* Stopping with SSID_DRAIN_ON_STOP=yes: drain (as `ssictl drain`). */
void ssid_admin_drain_for_stop(void);

/* What a drain still waits for: guests here (bodies of other homes) and
 * moves of this home's processes in flight; what: a short account. */
int ssid_admin_drain_left(char *what, size_t cap);

#endif
