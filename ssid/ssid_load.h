/* ssid_load: this node's load and the cluster's membership. Measures the
 * load (MOSIX style: smoothed run-queue length, CPU share, free memory,
 * number of ssi processes), sends heartbeats to every peer and gossip to a
 * random one, logs peers going up and down, answers NODES. The loop's
 * timers call it. Uses ssid_node and ssid_client. Runs in ssid. */
#ifndef SSID_LOAD_H
#define SSID_LOAD_H

#include "ssid_client.h"

#define SSID_HEARTBEAT_MS 500
#define SSID_GOSSIP_MS 500

/* Every SSID_HEARTBEAT_MS: measure, heartbeat every peer, log changes of
 * liveness. */
void ssid_load_beat(void);

/* A HEARTBEAT from peer from (parsed): records the version it runs. */
void ssid_load_heartbeat(int from, const ssi_msg_t *m);

/* A frame of protocol proto, not ours, came from peer from: it is shown as
 * incompatible, and the first time it is logged why nothing it sends is
 * read. */
void ssid_load_alien(int from, int proto);

/* Our entry and the freshest we know, to one random up peer. */
void ssid_load_gossip(void);

/* NODES from a local client: the node table. */
void ssid_load_nodes(ssid_client_t *c);

#endif
