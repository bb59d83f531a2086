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

/* Placement before main: 1 if the program of pid (its executable or a
 * library it loaded, libc and the dynamic loader aside) imports a call that
 * starts a process, runs a program or makes a thread (fork, exec*,
 * posix_spawn, system, popen, pthread_create...), with the first such
 * object and call named in what; 0 if none does; -errno if a mapped object
 * cannot be read as ELF (then nothing is known). Away these calls fail
 * (ENOSYS) until threads and fork away exist, so such a program is not
 * moved before it was measured. */
int ssi_precheck_spawns(pid_t pid, char *what, size_t len);

#endif
