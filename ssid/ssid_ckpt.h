/* ssid_ckpt: checkpoints (ssictl checkpoint PID [FILE]). At the process's
 * home, ssid runs `ssi-ckpt save` (helpers/ssi_ckpt.c), which freezes the
 * process for as long as its image takes to write and lets it run on, and
 * answers with the helper's last line. FILE defaults to the cluster file's
 * spool directory (spool = DIR), in a subdirectory per uid. Uses ssid_mig
 * and ssid_client. Runs in ssid. */
#ifndef SSID_CKPT_H
#define SSID_CKPT_H

#include "ssid_client.h"
#include "ssid_mig.h"

/* CHECKPOINT (PID [PATH]) from a local client. */
void ssid_ckpt_request(ssid_client_t *c, const ssi_msg_t *m);

#define SSID_CKPT_KEEP 3 /* periodic checkpoints kept per process */

/* From the loop's watch timer: starts the periodic checkpoints that are
 * due (ssirun --checkpoint-every), into the spool as
 * NODE-PID-periodic-SEQ.ckpt, keeping the last SSID_CKPT_KEEP. */
void ssid_ckpt_periodic(void);

/* The helper of checkpoint g exited: answers and frees g. */
void ssid_ckpt_reaped(ssid_mig_t *g);

#endif
