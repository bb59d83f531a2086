/* ssid_balance: the load balancer of one home node (MOSIX style). Every
 * decision period (the cluster file's 'balance' block) it gathers the
 * node table's loads (run queue over CPU share x speed, as gossiped) and
 * its own processes' facts (CPU demand from /proc/PID/schedstat, the calls
 * that go or would go home, image size), asks ssi_policy for a decision
 * and carries it out: at most one move out of this home per period, as a
 * first hop (ssid_offer), a homecoming or a chained move (ssid_home).
 * Every decision and every declined chance is logged with its reason.
 * Uses ssid_node, ssid_client, ssid_offer, ssid_home, ssi_precheck.
 * Runs in ssid. */
#ifndef SSID_BALANCE_H
#define SSID_BALANCE_H

#include "ssi_msg.h"
#include "ssid_client.h"

/* One decision period: returns the ms until the next one. */
unsigned ssid_balance_tick(void);

/* Placement before main: c has just registered with m (REGISTER). If it
 * asked (SSI_TAG_PLACE_ASK: a new program, not --stay, no --node) and the
 * balancer is on with 'place = on', the node it should run on, else NULL
 * (it stays). Logged as "placing: ..." with the reason. The name is
 * borrowed. */
const char *ssid_balance_place(ssid_client_t *c, const ssi_msg_t *m);

/* The per-source limit: MOVE_ASK from node `from` (a home whose process
 * runs here wants to move it): granted, and counted, if fewer than the
 * cluster file's 'moves' balancer moves left this node in the last period;
 * answered with MOVE_ANSWER. */
void ssid_balance_asked(int from, const ssi_msg_t *m);

/* MOVE_ANSWER from the node one of our processes runs on: the move we
 * asked for starts (granted), or is logged as declined. */
void ssid_balance_answered(int from, const ssi_msg_t *m);

/* GUEST_LOAD from node `from`: the CPU demand of our processes that run
 * there, measured there; the balancer uses it for them while it is fresh. */
void ssid_balance_guest_load(int from, const ssi_msg_t *m);

#endif
