/* ssid_ps: `ssictl ps` across the cluster. A local PS is fanned out to
 * every up peer; the answer, sent when all have answered or after
 * SSID_PS_WAIT_MS, lists this node's processes, every process the peers
 * sent and the names of the peers that did not answer. Also answers a
 * peer's PS with this node's processes. Each node's answer also carries
 * its counters (a STATS record, ssid_stats), which `ssictl metrics` reads. Uses ssid_node and ssid_client.
 * Runs in ssid. */
#ifndef SSID_PS_H
#define SSID_PS_H

#include "ssid_client.h"
#include "ssid_node.h"

#define SSID_PS_WAIT_MS 1000
/* A ps asked of an ssid younger than this, while some peer is not known to
 * be up yet, waits until then: a restarted node has not heard its peers. */
#define SSID_PS_STARTUP_MS (SSI_GOSSIP_DOWN_MS + 700)

/* PS from a local client. */
void ssid_ps_start(ssid_client_t *c);

/* PS_REP from peer `from`: one of the answers we wait for. */
void ssid_ps_collect(int from, const ssi_msg_t *m);

/* PS from a peer, which came in on router from identity: our processes. */
void ssid_ps_answer(const ssi_msg_t *m, zsock_t *router, zframe_t *identity);

/* Answers every request in flight with what it has (at shutdown). */
void ssid_ps_stop(void);

#endif
