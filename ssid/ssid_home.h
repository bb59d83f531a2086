/* ssid_home: bodies that come home, and job control of away processes.
 *
 * Coming home: the process is away; ssi-freeze --home sigqueues its deputy,
 * which fetches the body and restores it into itself (docs/ENGINE.md,
 * "Coming home"). ssi-freeze's exit status: 0 it runs here again; 3 it runs
 * on where it was; 4 it ended while being restored here; other, nothing
 * happened. A chained move (n2 -> n3) comes home first; what follows the
 * homecoming is decided by the layer above (ssid_move).
 *
 * Job control: a stop signal that the deputy can catch (TSTP, TTIN, TTOU)
 * it forwards itself, and it stops itself when its body stops. SIGSTOP it
 * cannot catch: ssid_home_watch notices the stopped deputy (state T,
 * checked every SSID_HOME_WATCH_MS, away processes only) and sends
 * BODY_SIGNAL to the body's node, whose ssid stops the body (only SIGSTOP
 * is accepted). SIGCONT wakes the deputy, whose handler forwards it.
 * Uses ssid_node, ssid_client, ssid_mig. Runs in ssid. */
#ifndef SSID_HOME_H
#define SSID_HOME_H

#include "ssid_mig.h"

#define SSID_HOME_WATCH_MS 250

/* What comes after a homecoming that was the first leg of a chained move. */
typedef struct {
    ssid_asker_t asker;
    pid_t pid;
    int to;         /* the node to move on to */
    char note[160]; /* "process P came home from N; then: " */
} ssid_home_next_t;

/* Brings process p home from the node its body runs on, for asker a; with
 * chain_to >= 0, to move it on to that node afterwards. */
void ssid_home_start(const ssid_asker_t *a, ssid_client_t *p, int chain_to);

/* Every helper of homecoming g exited. Answers and frees g, and returns 0;
 * or, when the body came home and g was the first leg of a chained move,
 * frees g without answering, fills *next and returns 1. */
int ssid_home_reaped(ssid_mig_t *g, ssid_home_next_t *next);

/* Home: away processes whose deputy stopped get their body stopped. */
void ssid_home_watch(void);

/* Body's node: BODY_SIGNAL from the home node `from`. */
void ssid_home_body_signal(int from, const ssi_msg_t *m);

#endif
