/* ssid_recover: recovery of processes whose body's node died. At home,
 * for each process away on a node the gossip declares down, ssid asks the
 * deputy to probe its link (the freeze signal with SSI_IMAGE_PROBE_VALUE):
 * a link to a dead node then fails within a few seconds instead of TCP
 * keepalive's ~25 s, and the deputy either becomes the program again from
 * the last checkpoint taken while away, or dies as killed by SIGKILL. A
 * node whose ssid alone restarted still acknowledges: nothing happens.
 * A process recovered at home runs on at home unless home is loaded; then
 * it moves to the least loaded live node (ssid_offer). A node lost and
 * heard again is told (RECOVERED) to end the old bodies of the processes
 * recovered meanwhile: never two copies of a process running.
 * Uses ssid_client, ssid_events, ssid_node, ssid_offer, ssid_mig. Runs in
 * ssid. */
#ifndef SSID_RECOVER_H
#define SSID_RECOVER_H

#include <czmq.h>

#include "ssid_client.h"

#define SSID_RECOVER_PROBE_MS 5000 /* a probe again while the node stays down */
#define SSID_RECOVER_PLACE_MS 500  /* a recovered process runs its program again by then */
#define SSID_RECOVER_FRESH_MS 5000 /* a node's gossiped load older than this is not used */
#define SSID_RECOVER_TELL_MS 1000  /* RECOVERED again until answered */
#define SSID_RECOVER_TELL_MAX 256  /* recovered processes whose old node is still to be told */
#define SSID_RECOVER_TELL_FOR_MS (24 * 3600 * 1000LL) /* then a node is no longer waited for */
#define SSID_RECOVER_ENDED_MAX 64 /* old bodies killed here remembered, for a repeated word */

/* From the loop's watch timer. */
void ssid_recover_watch(void);

/* Process c registered again while its old record said its body ran on
 * node index `node`: its deputy recovered it at home (logged, event).
 * SSID_RECOVER_PLACE_MS later the watch decides where it runs: at home if
 * home is not loaded (its run queue, the process counted, is within its
 * CPUs, as gossiped), else on the least loaded live node that takes
 * guests, if that one is less loaded than home (logged, event). */
void ssid_recover_restarted(ssid_client_t *c, int node);

/* RECOVERED from `from` (the home of a process whose body runs here): its
 * body was recovered elsewhere while we were cut off: kill it (its agent,
 * the body's PID namespace with it), log it, answer RECOVERED_ACK with the
 * event (FOUND, and the event's fields). The answer goes back on the
 * connection the word came in on (router, identity; NULL: our link to
 * from). The same word again (our answer was lost) gets the same answer. */
void ssid_recover_told(int from, const ssi_msg_t *m, zsock_t *router, zframe_t *identity);

/* RECOVERED_ACK from `from`: it ended the old body (its event, carried by
 * the answer, is kept as from's) or had none: told. */
void ssid_recover_acked(int from, const ssi_msg_t *m);

#endif
