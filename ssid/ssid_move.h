/* ssid_move: `ssictl migrate [HOME:]PID NODE`, from a local client or
 * relayed by another node for its own. Decides who may move what where,
 * and which kind of move it is: a relay to the process's home
 * (ssid_relay), a first hop (ssid_offer), a homecoming (ssid_home), or a
 * chained move n2 -> n3, which goes through home: ssid_home brings the
 * body home, then this layer moves it on as a first hop. The body crosses
 * the network twice, but every step is one that already works and fails
 * safe (docs/ARCHITECTURE.md says why). Also what follows when a
 * migration's helpers have all exited. Runs in ssid. */
#ifndef SSID_MOVE_H
#define SSID_MOVE_H

#include "ssid_mig.h"

/* MIGRATE from a local client c. */
void ssid_move_request(ssid_client_t *c, const ssi_msg_t *m);

/* HOME_ASK from a deputy c: its own away body asked to come home (it forks
 * or execs); as MIGRATE PID home from its owner, answered to c. */
void ssid_move_home_ask(ssid_client_t *c);

/* MIGRATE relayed by peer `from` for its user. */
void ssid_move_relayed(int from, const ssi_msg_t *m);

/* Every helper of migration g exited: it ends, or a chained move goes on. */
void ssid_move_reaped(ssid_mig_t *g);

#endif
