/*
 * ssi_freeze_thr.h - the other threads of a freezing process: stopped in
 * the freeze handler, recorded, and released (thawed, restored, or ended
 * when the process becomes a deputy).
 *
 * Part of libssi.so, used by the freeze handler only (ssi_freeze.c).
 * Signal context: raw system calls, static buffers, futexes; no libc.
 *
 * The thread that took the freeze signal (the leader) calls
 * ssi_freeze_thr_stop(): every other thread of /proc/self/task gets the
 * freeze signal with the park code; its handler (ssi_freeze_thr_park)
 * records the thread (registers from its signal frame, fs base,
 * altstack, robust list, tid address, name, XSAVE), takes its own
 * pending signals, saves a jump point and waits on a futex. The image
 * then carries one THREAD record per parked thread; the restorer makes
 * each again with its tid and jumps to its point, where it checks in and
 * waits again until the leader releases everyone.
 */
#ifndef SSI_FREEZE_THR_H
#define SSI_FREEZE_THR_H

#include "ssi_image.h"
#include "ssi_sys.h"

#include <signal.h>
#include <stdint.h>

/* The most threads besides the leader that a freeze stops. */
#define SSI_FREEZE_THR_MAX (SSI_IMAGE_FREEZE_MAX_THREADS - 1)

/* How the leader lets the parked threads go. */
#define SSI_FREEZE_THR_THAW 2 /* return from the handler (thawed, or after a restore) */
#define SSI_FREEZE_THR_EXIT 3 /* end (the process becomes the deputy) */

/* Saves callee-saved registers, the caller's stack pointer and return
 * address; returns 0. The restorer "returns" here a second time with 1
 * (2 for a restore in place). */
int ssi_freeze_jmp_save(ssi_sys_jmp_t *j) __attribute__((returns_twice, visibility("hidden")));

/* In the handler, first: 1 when si is a park request (or a stale or forged one, ignored): the
 * thread has been parked and released, and the handler must return. 0: not one. */
int ssi_freeze_thr_park(const siginfo_t *si, void *uc);

/* Leader: stops every other thread within timeout_ms. The number stopped, or -errno (-EDEADLK:
 * a thread blocks the freeze signal; -ETIMEDOUT; -E2BIG: too many threads or pending
 * signals); after a failure, ssi_freeze_thr_release(THAW) lets go those that stopped. */
long ssi_freeze_thr_stop(int timeout_ms);

/* The stopped threads' records, k from 0 to the count stop returned; *xsave: its XSAVE bytes. */
const ssi_image_thread_t *ssi_freeze_thr_get(int k, const void **xsave);

/* The stopped threads' own pending signals (taken out; put back by a thaw or the restorer). */
const ssi_image_sig_t *ssi_freeze_thr_sigs(int *n);

/* Leader, restored: waits until every other thread has jumped out of the restorer (which ran
 * in the hole that the leader is about to map again). */
void ssi_freeze_thr_restored(void);

/* Leader, restored: takes sig out of the signal mask it (leader_uc, its freeze frame) and each
 * stopped thread return to. */
void ssi_freeze_thr_unblock(int sig, void *leader_uc);

/* Leader: lets the stopped threads go (how: SSI_FREEZE_THR_*) and waits until they have (for
 * EXIT, until they are gone). Safe when none is stopped. */
void ssi_freeze_thr_release(int how);

#endif
