/* ssid_stats: this node's counters for `ssictl metrics`: migration answers
 * by outcome class, image bytes moved out, a histogram of freeze times, and
 * the forwarded calls its deputies served.
 * They count from ssid's start (Prometheus counters: a restart resets
 * them). They travel in every PS_REP as one STATS record (wire/ssi_msg.h).
 * A leaf module: it calls nothing of ssid's. Runs in ssid. */
#ifndef SSID_STATS_H
#define SSID_STATS_H

#include <stdint.h>

#include "ssi_msg.h"

/* The freeze-time buckets' upper bounds in µs (then +Inf). */
#define SSID_STATS_BUCKETS 13

/* The class of a MIGRATE's answer from its errno (0: moved):
 *   EBUSY (precheck refusal, already moving)        SSI_OUTCOME_REFUSED
 *   ENOENT, EHOSTDOWN (node unknown or down)         SSI_OUTCOME_NODE
 *   EPERM, EACCES                                    SSI_OUTCOME_PERM
 *   EIO, ECONNREFUSED, ETIMEDOUT, EAGAIN (the move   SSI_OUTCOME_FAILED
 *     failed and the process runs where it was)
 *   ESRCH                                            SSI_OUTCOME_NOPROC
 *   anything else                                    SSI_OUTCOME_OTHER
 * So an answer whose process may be lost (or whose fate is unknown) must
 * not use one of the FAILED errnos. */
int ssid_stats_outcome(int err);

/* One MIGRATE answered by this node with that outcome class. */
void ssid_stats_count(int outcome);

/* One move out of home succeeded: its image bytes and freeze time. */
void ssid_stats_moved(uint64_t bytes, uint64_t freeze_us);

/* N more forwarded calls served by the deputies of this home. */
void ssid_stats_calls(uint64_t n);

/* Puts the STATS record (NODE node, GUESTS guests, the counters) into w. */
void ssid_stats_put(ssi_msg_writer_t *w, const char *node, uint64_t guests);

#endif
