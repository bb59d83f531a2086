/*
 * ssi_freeze_proc.h - what of the process an image carries besides its
 * memory and descriptors: the /proc/self/stat extents, credentials,
 * signal actions, rlimits, itimers, cwd and exe; the pending signals
 * (taken out during a freeze, put back after); the interrupted thread.
 *
 * Used by the freeze handler only (ssi_freeze.c). Signal context: raw
 * system calls, no errno, static buffers.
 */
#ifndef SSI_FREEZE_PROC_H
#define SSI_FREEZE_PROC_H

#include "ssi_image.h"

#include <stddef.h>
#include <stdint.h>

/* Reads a whole /proc file into buf (NUL-terminated): its length,
 * -E2BIG when it does not fit, or -errno. */
/* One descriptor's image record: kind, flags, position, path, socket bits. */
void ssi_freeze_proc_fill_fd(ssi_image_fd_t *r, int fd);

long ssi_freeze_proc_read(const char *path, char *buf, size_t cap);

/* The madvise advice of the process's VMAs (SSI_IMAGE_VMA_MADV_*, from
 * /proc/self/smaps VmFlags): _begin opens it, then ssi_freeze_proc_madv
 * answers for each VMA start, asked in ascending order (0 for a VMA smaps
 * does not show), _end closes it. */
void ssi_freeze_proc_madv_begin(void);
uint32_t ssi_freeze_proc_madv(uint64_t start);
void ssi_freeze_proc_madv_end(void);

/* Fills the process record and the credentials record. 0 or -errno. */
long ssi_freeze_proc_capture(ssi_image_proc_t *pr, ssi_image_creds_t *creds);

/* Fills the capabilities record (the calling thread's). 0 or -errno. */
long ssi_freeze_proc_capture_caps(ssi_image_caps_t *k);

/* Dequeues every pending signal but the freeze signal (all are blocked
 * inside the handler) into sigs, at most max, marked for thread tid or
 * the process: how many. */
int ssi_freeze_proc_take_signals(ssi_image_sig_t *sigs, int max, int tid);

/* Puts n dequeued signals back (thaw after a failed freeze, or restore): process-directed
 * ones to the process, the others to the thread they were taken from. */
void ssi_freeze_proc_requeue(const ssi_image_sig_t *sigs, int n);

/* The interrupted thread from its signal frame uc (a ucontext_t): what
 * the frame does not carry (fs/gs base, robust list, tid address, name)
 * and a copy of what it does; its XSAVE area into xsave (cap bytes). */
void ssi_freeze_proc_thread(ssi_image_thread_t *t, void *xsave, uint32_t cap, const void *uc);

/* A freeze must be invisible to a sleep: the freeze signal makes an
 * interrupted nanosleep or clock_nanosleep return EINTR (the kernel never
 * restarts them for a handler). sleep_note, at the freeze, remembers
 * whether the frame uc shows one and when the freeze began; sleep_restart,
 * as the handler returns (thawed, restored elsewhere or at home), rewrites
 * the frame so that the call is made again: an absolute sleep with the
 * same arguments, a relative one with the remaining time the kernel wrote
 * into its rem, less the time spent frozen. A relative sleep without rem
 * still returns EINTR (nothing says how much was left). */
typedef struct {
    int kind;
    uint64_t frozen_ns;
} ssi_freeze_proc_sleep_t;
void ssi_freeze_proc_sleep_note(ssi_freeze_proc_sleep_t *s, const void *uc);
void ssi_freeze_proc_sleep_restart(ssi_freeze_proc_sleep_t *s, void *uc);

/* A parked thread's own pending signals (SigPnd of /proc/thread-self/status: directed at it,
 * not at the process), dequeued one by one into sigs (at most max), marked with tid: how
 * many. The process-directed ones are the freezing thread's to take. */
int ssi_freeze_proc_take_private(ssi_image_sig_t *sigs, int max, int tid);

#endif
