/*
 * ssi_vfs.h - the vfs-proxy: an away body's file system calls, executed by
 * its deputy at home.
 *
 * Two parts share this header:
 *   - the body side (away/ssi_vfs_body.c): a proxy of the trap core
 *     (ssi/away/ssi_trap.h); it decides, per trapped file call, whether it
 *     goes home over the core's call link or runs locally, and handles by
 *     hand what one table entry cannot say (placement of new fds, reads
 *     and writes cut into pieces, read-ahead, mmap, terminals);
 *   - the home side (home/ssi_vfs_exec.c): an executor of the deputy's
 *     call server (ssi/home/ssi_callsrv.h) for the calls that are more
 *     than one system call at home.
 * The shim wires both into their core; the marshalling is
 * wire/ssi_call.c's, the same for every call of the table.
 *
 * Code in user processes: raw system calls, static buffers, no malloc, no
 * stdio, no libc calls once trapping (libc's own syscalls would trap).
 * How it works and how to add a call: docs/ARCHITECTURE.md, "vfs-proxy".
 */
#ifndef SSI_VFS_H
#define SSI_VFS_H

#include <stdint.h>

#include "ssi_call.h"
#include "ssi_tunnel.h"

/* termios2 requests by number: their macros need the kernel's struct
 * termios2, whose header clashes with glibc's <termios.h>. */
#define SSI_TCGETS2 0x802C542AUL
#define SSI_TCSETS2 0x402C542BUL
#define SSI_TCSETSW2 0x402C542CUL
#define SSI_TCSETSF2 0x402C542DUL

/* ---- body side: the trap core's handlers (ssi_trap_proxy_t) ----------- */

/* The calls this proxy needs trapped. */
extern const uint16_t ssi_vfs_body_calls[];
extern const unsigned ssi_vfs_body_ncalls;

/* seen: every trapped call first; gives the read-ahead back unless the
 * call leaves the stream alone. */
void ssi_vfs_body_seen(long nr, const int64_t *a);

/* call: a trapped call no proxy before took; always handled (1): goes
 * home, or runs here (ucontext_t uc: the program's mask). */
int ssi_vfs_body_call(long nr, int64_t *a, void *uc, long *ret);

/* freeze (home or away): gives the read-ahead back and records which low
 * fds are terminals (they become tunnels away). */
void ssi_vfs_body_freeze(void);

/* start: restored away. */
void ssi_vfs_body_start(int ctl_fd);

/* replaced: a local descriptor now sits at fd; a home file there is
 * closed at home. */
void ssi_vfs_body_replaced(int fd);

/* ---- body side: for the shim's interposed functions ------------------- */

/* Away: a terminal request (TCGETS/TCSETS*, TCGETS2/TCSETS*2,
 * TIOCGWINSZ/TIOCSWINSZ) on fd, which was a terminal at home and is a
 * tunnel here, done on the home terminal by the deputy. -ENOSYS when fd is
 * no such terminal, the request is another, or the link is down: the
 * caller does what it would have done. Other -errno: the home answer. */
long ssi_vfs_tty_ioctl(int fd, unsigned long req, void *arg);

/* Away: the home process's parent now (getppid at the deputy); -ENOSYS
 * when the link is down. */
long ssi_vfs_getppid(void);

/* ---- home side: an executor of the call server ------------------------ */

/* Executes op with the rebuilt arguments a when it needs more than the
 * plain system call (open at a number, record locks, the few ioctls,
 * terminals, fcntl and dup3 within the body's numbers): 1 with *ret, or
 * 0 to let the call server run it as itself. */
int ssi_vfs_exec(unsigned op, const int64_t *a, long *ret);

#endif
