/* ssi_seccomp: the program's own seccomp filters across a move (libssi.so;
 * see ssi_seccomp.c). Restore side: raw system calls only. */
#ifndef SSI_SECCOMP_H
#define SSI_SECCOMP_H

#include <stddef.h>

/* Notes a filter the program has just installed (successfully) through
 * libc's prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog) (flags 0) or
 * syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog): a copy of its
 * instructions, in memory the image carries. away: installed in a body (not
 * in the home process's kernel). */
void ssi_seccomp_note(unsigned flags, const void *fprog, int away);

enum {
    SSI_SECCOMP_AWAY = 0, /* a body: every filter */
    SSI_SECCOMP_HOME,     /* home again (the deputy kept its own): those installed away */
    SSI_SECCOMP_RESTART,  /* a checkpoint restarted in a fresh process: every filter */
};

/* Restore hook: installs the noted filters again, oldest first, after the
 * trap core's own (so they run before it, and the stricter answer wins).
 * Returns 0, or -errno of the first that the kernel refused (logged). */
long ssi_seccomp_restore(int which);

/* Before a freeze: 0, or -EPERM with `why` ("its seccomp filters: ...")
 * when a noted filter forbids a call that the freeze, the deputy or the
 * body's trap must make (run on each of them with our own text as the
 * instruction pointer and zero arguments): the move could not work, so it
 * is refused up front and the process runs on at home. */
long ssi_seccomp_check(char *why, size_t cap);

/* The same check, for a filter the program is about to install (prog: a
 * struct sock_fprog; it would be filter number ssi_seccomp_count() + 1):
 * made before the kernel takes it, since once it is in, the calls that
 * would tell ssid may be forbidden too. */
long ssi_seccomp_check_new(const void *fprog, char *why, size_t cap);

/* How many filters are noted (for tests and logs). */
int ssi_seccomp_count(void);

#endif
