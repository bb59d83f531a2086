/*
 * ssi_freeze.h - freeze a process from inside (libssi.so) and write its
 * image (ssi_image.h) to a stream.
 *
 * Runs inside user processes: no malloc, no stdio, raw system calls in
 * the signal handler. Built into libssi.so with -fPIC -fno-stack-protector.
 *
 * Triggering a freeze (what ssid or `ssi-freeze` do):
 *   1. listen on an AF_UNIX stream socket at  $SSI_FREEZE_DIR/<token>.sock
 *      (SSI_FREEZE_DIR defaults to /run/ssi/freeze; read once at startup);
 *   2. sigqueue(pid, SSI_FREEZE_SIGNAL, (union sigval){ .sival_int = token })
 *      with 0 <= token; plain kill() of that signal is ignored;
 *   3. accept; send ssi_image_req_t; read the image until the END record;
 *   4. send one verdict byte (SSI_IMAGE_VERDICT_*).
 * The process is frozen (inside the handler) from 2 to 4. Any failure, EOF
 * or timeout (SSI_FREEZE_TIMEOUT seconds, default 30) thaws it: the
 * migration failed and nothing is lost.
 */
#ifndef SSI_FREEZE_H
#define SSI_FREEZE_H

#include "ssi_image.h" /* SSI_FREEZE_SIGNAL, SSI_FREEZE_DIR_DEFAULT */

#include <stdint.h>

#define SSI_FREEZE_HOLE_LEN (64UL << 20)

/* Installs the freeze handler, reserves the restore hole and records the
 * vDSO block and CPU features. Called by this module's own constructor;
 * safe to call again (does nothing). Returns 0 or -errno. */
int ssi_freeze_init(void);

/* In a forked child: closes its copies of a live move's tracking socket
 * and userfaultfd (the parent's move; the child's copy of the userfaultfd
 * would keep the parent's memory registered after the move ended). */
void ssi_freeze_atfork_child(void);

/* 1 when fd is this module's own, never in an image: a live move's
 * tracking socket or its userfaultfd, open while the program runs on. */
int ssi_freeze_own_fd(int fd);

/* How many times this process has been restored from an image (0 in the
 * process that was launched). */
uint32_t ssi_freeze_generation(void);

/* Non-zero when the last restore was ssi-restore --in-place: the body
 * came home into its deputy (the process runs at home again); zero when
 * it was restored on another node. Meaningful inside the restore hook. */
int ssi_freeze_restored_home(void);
/* Non-zero when the last restore was by ssi-agent on another node
 * (ssi-restore --agent): the agent put a control socket in the body, which
 * the restore hook must find. Meaningful inside the restore hook. */
int ssi_freeze_by_agent(void);
/* Non-zero when that in-place restore was a restart from a checkpoint
 * (ssi-ckpt restart; the image may be of a body that ran away). */
int ssi_freeze_restarted(void);

/* Connects to the requester's socket $SSI_FREEZE_DIR/<token>.sock (the
 * directory read at startup), checks its credentials (root or our uid)
 * and returns the fd (close-on-exec) or -errno. The deputy answers a
 * homecoming request this way. Raw system calls only. */
long ssi_freeze_connect(int token) __attribute__((visibility("hidden")));

/* Called in the restored process, inside the freeze handler, after memory
 * and kernel state are back and before the interrupted code resumes. Runs
 * in signal context: async-signal-safe code only. One hook; NULL clears. */
void ssi_freeze_set_restore_hook(void (*hook)(void));

/* Called in the process being frozen, inside the freeze handler, before
 * anything is captured (so what it records travels in the image). Signal
 * context. One hook; NULL clears. */
void ssi_freeze_set_freeze_hook(void (*hook)(void));

/* Verdict 'D' (the body runs elsewhere now): connect(d, rec) links this
 * process to the body's agent (0, or -errno with nothing changed: the
 * process thaws and goes on); once the requester has heard 'D', become()
 * turns it into the deputy and never returns. Without hooks a 'D' thaws.
 * rec: the recovery point sent with it (SSI_IMAGE_DEPUTY_F_RECOVER), or
 * NULL. Set by the shim (the deputy is ssi/home's). Signal context. */
typedef long ssi_freeze_deputy_connect_fn(const ssi_image_deputy_t *d,
                                          const ssi_image_recover_t *rec);
void ssi_freeze_set_deputy_hook(ssi_freeze_deputy_connect_fn *connect, void (*become)(void));

/* The program's own no_new_privs (0 or 1), which the image records instead
 * of the process's when ssi set it away (the trap's filter needs it); -1:
 * the process's. Set by the shim. */
void ssi_freeze_set_program_nnp(int nnp);

/* hidden(fd): 1 when fd is not the program's (the trap core's call link,
 * a proxy's control socket away) and stays out of the image's fd table.
 * Set by the shim. NULL: every descriptor is the program's. */
void ssi_freeze_set_fd_hook(int (*hidden)(int fd));

#endif
