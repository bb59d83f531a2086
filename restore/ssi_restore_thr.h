/*
 * ssi_restore_thr.h - the restorer's thread mechanics: a thread made with
 * a given tid on a given stack, and the per-thread kernel state that
 * memory does not bring back. Part of ssi-restore: no libc.
 */
#ifndef SSI_RESTORE_THR_H
#define SSI_RESTORE_THR_H

#include "ssi_image.h"

#include <stdint.h>

/* A thread of this process (CLONE_THREAD and the rest of a pthread's
 * flags) whose tid is tid (clone3 set_tid), running fn(arg) on
 * [stack, stack + size) and never returning. The tid, or -errno
 * (-EEXIST: taken). */
long ssi_restore_thr_clone(uint64_t stack, uint64_t size, int32_t tid, void (*fn)(void *),
                           void *arg);

/* The calling thread's altstack, robust list, clear-child-tid address and
 * name, as t records them. */
void ssi_restore_thr_kstate(const ssi_image_thread_t *t);

/* Why the n thread records t (the header said nthreads) cannot be made
 * in process pid, or NULL: a count that differs, no main thread (tid =
 * pid); at home (home: an in-place restore, or its check), a tid another
 * task holds, or threads without the privilege set_tid needs (root). */
const char *ssi_restore_thr_check(const ssi_image_thread_t *t, int n, int nthreads, int32_t pid,
                                  int home);

/* The main thread's record (after ssi_restore_thr_check). */
const ssi_image_thread_t *ssi_restore_thr_main(const ssi_image_thread_t *t, int n, int32_t pid);

/* Futex wake of every waiter on w; wait while *w == val. */
void ssi_restore_thr_wake(int *w);
void ssi_restore_thr_wait(int *w, int val);

#endif
