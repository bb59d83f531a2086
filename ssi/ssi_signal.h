/*
 * ssi_signal.h - signal handlers installed with the raw rt_sigaction, for
 * the code of libssi.so that runs where libc may not: the trap core's
 * SIGSYS handler in an away body, the deputy's handlers at home. The
 * kernel needs a restorer (the rt_sigreturn trampoline) that libc would
 * otherwise supply; this module has the one both sides use.
 *
 * Runs inside user processes, in signal context: raw system calls only.
 */
#ifndef SSI_SIGNAL_H
#define SSI_SIGNAL_H

#include <stdint.h>

/* The rt_sigreturn trampoline (never called directly). */
void ssi_signal_restorer(void) __attribute__((visibility("hidden")));

/* Installs handler for sig with the given SA_* flags (our restorer is
 * added) and mask; the previous action (the kernel's 32-byte struct
 * sigaction) goes to old unless NULL. handler may be SIG_DFL or SIG_IGN.
 * 0 or -errno. */
long ssi_signal_action(int sig, void (*handler)(void), unsigned long flags, uint64_t mask,
                       void *old);

#endif
