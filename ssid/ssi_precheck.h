/* ssi_precheck: can this process migrate now? Looked at from outside
 * (/proc), before anything is frozen, so that a refusal costs the process
 * nothing. Ordinary libc code for ssid; not for the shim. */
#ifndef SSI_PRECHECK_H
#define SSI_PRECHECK_H

#include <stddef.h>
#include <sys/types.h>

/* 0 if pid can migrate now; else -errno and, in why, everything that stands
 * in the way (each obstacle, joined with "; "), in words a user can act on: several threads, being traced, writable
 * shared memory, io_uring, devices other than null/zero/random/urandom and
 * terminals, kernel
 * objects such as inotify. -ESRCH if it does not exist. */
int ssi_deputy_check(pid_t pid, char *why, size_t len);

#endif
