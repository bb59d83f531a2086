/*
 * ssi_vfs.h - the vfs-proxy: an away body's file system calls, executed by
 * its deputy at home.
 *
 * Three parts share this header:
 *   - the body side (ssi_vfs_body.c, in libssi.so): a seccomp filter traps
 *     the file calls that do not come from libssi.so itself; the SIGSYS
 *     handler forwards them over the call link or re-issues them locally;
 *   - the deputy side (ssi_vfs_deputy.c, in libssi.so): executes forwarded
 *     calls with the home process's real descriptors and cwd;
 *   - the call table (ssi_vfs_call.c): per call, which arguments are
 *     strings, buffers and structs, used by both sides to marshal.
 * ssi-agent uses only the control message below (no code of this module).
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

/* ---- body side (libssi.so) ------------------------------------------- */

/* Freeze hook (home or away): remembers the control fd number for the
 * restore. Signal context. */
void ssi_vfs_freeze_hook(void);

/* Restore hook, away: takes the call link from the agent, marks the
 * forwarded descriptors, installs the SIGSYS handler and the seccomp
 * filter. Returns 1 when the vfs-proxy is active, 0 when there is no agent
 * control socket (plain restore: nothing installed), -errno on failure
 * (the caller must not let the program run: its deputy is not there). */
long ssi_vfs_body_start(void);

/* Restored at home (into the deputy, which has no filter): every fd is
 * real again; forget the table and the link. Installs nothing. */
void ssi_vfs_home(void);

/* 1 when fd is a placeholder of a home file (the body is away). */
int ssi_vfs_forwarded(int fd);

/* Away: a terminal request (TCGETS/TCSETS*, TCGETS2/TCSETS*2,
 * TIOCGWINSZ/TIOCSWINSZ) on fd, which was a terminal at home and is a
 * tunnel here, done on the home terminal by the deputy. -ENOSYS when fd is
 * no such terminal, the request is another, or the link is down: the
 * caller does what it would have done. Other -errno: the home answer. */
long ssi_vfs_tty_ioctl(int fd, unsigned long req, void *arg);

/* Away: the home process's parent now (getppid at the deputy); -ENOSYS
 * when the link is down. */
long ssi_vfs_getppid(void);

/* 1 when fd belongs to the vfs-proxy and must not be in an image's fd
 * table (the call link). */
int ssi_vfs_hidden_fd(int fd);

/* ---- deputy side (libssi.so) ----------------------------------------- */

/* Runs the handshake (initiator) on the deputy's second connection fd,
 * already connected to the agent. 0: the call link is up (it owns fd);
 * -errno: the caller closes fd. */
long ssi_vfs_deputy_attach(int fd, const uint8_t *key, int timeout_ms);

/* The call link's socket for poll(), or -1. */
int ssi_vfs_deputy_fd(void);

/* Non-zero when a request was already read ahead: serve before polling. */
int ssi_vfs_deputy_pending(void);

/* Descriptors >= base are the deputy's own (tunnels, links): forwarded
 * calls may not name them. */
void ssi_vfs_deputy_set_base(int base);

/* Serves every request that is waiting (at least one: call when the fd
 * polls readable). 0, or -errno when the link is gone. */
long ssi_vfs_deputy_serve(void);

#endif
