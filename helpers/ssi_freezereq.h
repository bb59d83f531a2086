/*
 * ssi_freezereq.h - the requesting side of a freeze (ssid, ssi-freeze).
 *
 * Asks a process running with libssi.so to freeze itself, receives its
 * image (ssi_image.h) and passes it through to an fd, checking the record
 * stream as it goes, then sends the verdict. Ordinary libc code (daemon and
 * tools), not for the shim.
 */
#ifndef SSI_FREEZEREQ_H
#define SSI_FREEZEREQ_H

#include "ssi_image.h"
#include "ssi_precopy.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    const char *dir; /* socket directory; NULL: $SSI_FREEZE_DIR or default */
    int token;       /* >= 0; -1: derive from our pid and a counter */
    uint32_t flags;  /* SSI_IMAGE_REQ_F_* */
    int timeout_ms;  /* for the target to connect; <= 0: 10000 */
    char verdict;    /* SSI_IMAGE_VERDICT_* sent after a complete image */
    /* For SSI_IMAGE_VERDICT_DEPUTY: where the body's agent listens and the
     * data key; sent after the verdict. The run then waits for the
     * process's answer (connect timeout + accept timeout + 5 s). */
    const ssi_image_deputy_t *deputy;
    /* With deputy->flags SSI_IMAGE_DEPUTY_F_RECOVER: sent right after it
     * (the deputy's recovery point, the last checkpoint taken at home). */
    const ssi_image_recover_t *recover;
    /* Pre-copy: the memory goes in rounds while the process runs, before
     * the image (a preamble only ssi-agent reads); a process that cannot
     * track its writes moves by stop-and-copy. */
    int live;
    ssi_precopy_opts_t precopy;
} ssi_freezereq_opts_t;

typedef struct {
    uint64_t bytes;      /* image bytes written to out_fd */
    uint64_t page_bytes; /* memory content bytes */
    uint32_t nvmas;
    int32_t pid;      /* the process's pid in its own namespace */
    double freeze_ms; /* signal sent -> END received */
    int live;         /* the rounds were sent (else stop-and-copy) */
    ssi_precopy_stats_t pre;
    char live_why[160]; /* why a live move fell back to stop-and-copy */
} ssi_freezereq_stats_t;

/* Freezes `pid`, streams its image to out_fd, sends o->verdict. Returns 0
 * or -errno; on error the target thaws by itself (EOF on its socket).
 * With the deputy verdict, 0 means the process is now the deputy and
 * -ECONNABORTED that it could not reach the agent and continues at home.
 * err gets a message (may be NULL). stats may be NULL. */
int ssi_freezereq_run(pid_t pid, const ssi_freezereq_opts_t *o, int out_fd,
                      ssi_freezereq_stats_t *stats, char *err, size_t errlen);

/* From now on the freeze signal goes through pidfd (pidfd_send_signal),
 * which names the very process ssid registered: never another one that got
 * its pid since. -1: by pid (sigqueue), as before. */
void ssi_freezereq_bind(int pidfd);

/* Brings the body of the deputy `pid` home: sigqueues it the freeze
 * signal with a token, sends ssi_image_home_t (restore: the absolute path
 * of ssi-restore) and waits for its answer; after 'H', waits until the
 * process runs the program again (it no longer execs ssi-restore).
 * Returns 0: the process runs at home; -ECONNABORTED: the body runs on
 * where it was (err says why); -ESRCH: the process ended after the
 * commit (its restore at home failed: lost); other -errno: nothing
 * happened (not a deputy, no answer). timeout_ms bounds the whole. */
int ssi_freezereq_home(pid_t pid, const char *dir, const char *restore, int timeout_ms, char *err,
                       size_t errlen);

/* A checkpoint of the body of deputy `pid` (wire/ssi_image.h,
 * SSI_IMAGE_HOME_F_CKPT): asks, and returns the connected socket once the
 * deputy said 'I'; the body's image stream follows on it, as its freeze
 * wrote it. -ECONNABORTED (the deputy gave up: err says why), other
 * -errno. The body runs on where it was. */
int ssi_freezereq_ckpt_away(pid_t pid, const char *dir, int timeout_ms, char *err, size_t errlen);
/* The image was read up to its END: 'G' and where the checkpoint goes (prog:
 * this ssi-ckpt, file: the checkpoint, both absolute, or the deputy will
 * not recover from it: ssi_image_recover_t), then the deputy's 'K' (0) or
 * its reason (-ECONNABORTED). Closes cfd. */
int ssi_freezereq_ckpt_end(int cfd, const char *prog, const char *file, int timeout_ms, char *err,
                           size_t errlen);

#endif
