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

#include "ssi_image.h"

/* ---- the call link (deputy <-> body), one ssi_chan record per message -- */

/* Message types: the tunnel frame range reserved for the vfs-proxy. */
enum {
    SSI_VFS_CALL = 20,   /* body -> deputy: ssi_vfs_req_t + in-arguments */
    SSI_VFS_RESULT = 21, /* deputy -> body: ssi_vfs_rep_t + out-arguments */
};

/* A request: op is a syscall number (executed as that call with the
 * pointer arguments rebuilt at home) or an SSI_VFS_OP_* below. The
 * payload holds the in-arguments in argument order, each as a u32 length
 * (SSI_VFS_NULL for a NULL pointer) and that many bytes. */
typedef struct {
    uint8_t type;  /* SSI_VFS_CALL */
    uint8_t flags; /* 0 */
    uint16_t op;
    uint32_t len; /* payload bytes */
    int64_t arg[6];
} ssi_vfs_req_t;

/* The answer: ret is the call's result (>= 0 or -errno at home); the
 * payload holds the out-arguments in argument order, u32 length + bytes. */
typedef struct {
    uint8_t type; /* SSI_VFS_RESULT */
    uint8_t flags;
    uint16_t op;
    uint32_t len;
    int64_t ret;
} ssi_vfs_rep_t;

#define SSI_VFS_NULL 0xffffffffu
/* Largest message. A message longer than one ssi_chan record
 * (SSI_CHAN_MAX_RECORD, 256 KiB) goes as several records back to back:
 * the first starts with the header, whose len says how much follows
 * (ssi_vfs_send_msg / ssi_vfs_recv_msg). So a 1 MiB read or write is one
 * request and one answer, one read/write system call at home, while its
 * records are pipelined: the sender encrypts the next record while the
 * receiver decrypts the last. File reads and writes are cut into
 * SSI_VFS_RW_MAX pieces (the body loops, so the program sees one call);
 * other out-buffers (getdents, datagrams) get at most SSI_VFS_IO_MAX. */
#define SSI_VFS_RW_MAX (1024u * 1024)
#define SSI_VFS_MSG_MAX (SSI_VFS_RW_MAX + 4096)
#define SSI_VFS_IO_MAX (128u * 1024)
#define SSI_VFS_PATH_MAX 4096

/* Operations that are not one plain system call. */
enum {
    SSI_VFS_OP_OPEN = 1000, /* dirfd, path, flags, mode, target fd: open, then dup3 to target */
    SSI_VFS_OP_LOCK = 1001, /* fd, cmd, struct flock in/out: fcntl record locks */
    SSI_VFS_OP_IOCTL = 1002, /* fd, request, out struct: the few read-only ioctls */
    SSI_VFS_OP_TTY = 1003,   /* chan, request, struct in/out: a home terminal's settings */
};

/* termios2 requests by number: their macros need the kernel's struct
 * termios2, whose header clashes with glibc's <termios.h>. */
#define SSI_TCGETS2 0x802C542AUL
#define SSI_TCSETS2 0x402C542BUL
#define SSI_TCSETSW2 0x402C542CUL
#define SSI_TCSETSF2 0x402C542DUL

/* One message (request or answer: both have their u32 len at byte 4, the
 * payload after a header of hdr bytes) as one or more records. send: 0;
 * recv: the message's length. Or -errno: the link is unusable (a message
 * that breaks the rules is -EPROTO). ch is an ssi_chan_t. */
long ssi_vfs_send_msg(void *ch, const uint8_t *msg, uint32_t len);
long ssi_vfs_recv_msg(void *ch, uint8_t *msg, uint32_t cap, uint32_t hdr);

/* ---- the call table -------------------------------------------------- */

/* Kinds of argument. */
enum {
    SSI_VFS_A_NONE = 0,
    SSI_VFS_A_INT,    /* passed as is */
    SSI_VFS_A_FD,     /* a descriptor (or AT_FDCWD) of the process */
    SSI_VFS_A_STR,    /* in: NUL-terminated string (NULL allowed) */
    SSI_VFS_A_IN,     /* in: buffer of arg[aux] bytes */
    SSI_VFS_A_OUT,    /* out: buffer of arg[aux] bytes, ret bytes come back */
    SSI_VFS_A_OUTFIX, /* out: struct of aux bytes, back when ret >= 0 */
    SSI_VFS_A_INFIX,  /* in: struct of aux bytes (NULL allowed) */
    SSI_VFS_A_INOUT,  /* in and out: struct of aux bytes (NULL allowed) */
};

#define SSI_VFS_NO 0xff

typedef struct {
    uint16_t op;       /* syscall number or SSI_VFS_OP_* */
    uint8_t nargs;
    uint8_t kind[6];   /* SSI_VFS_A_* */
    uint16_t aux[6];   /* length argument index, or struct size */
    uint8_t path, fd;  /* the path and the fd/dirfd that decide local vs home */
    uint8_t path2, fd2; /* a second path/fd (rename, link, copy_file_range) */
} ssi_vfs_call_t;

/* The entry of op, or NULL: not a forwarded call. */
const ssi_vfs_call_t *ssi_vfs_call(unsigned op);

/* ---- agent -> body: the control message ----------------------------- */

/* ssi-agent passes the body its call link over a socketpair that it puts
 * at the lowest fd number >= SSI_VFS_CTL_FD_MIN that the image's fd table
 * does not use (the body computed the same number at freeze): one
 * ssi_vfs_ctl_t with SCM_RIGHTS carrying the accepted TCP socket of the
 * deputy's second connection. The body runs the ssi_chan handshake on it
 * (responder, with the migration's data key) before the program resumes. */
#define SSI_VFS_CTL_FD_MIN 900
#define SSI_VFS_CTL_MAGIC 0x3153462d495353ULL /* "SSI-FS1" */
#define SSI_VFS_CTL_VERSION 1
#define SSI_VFS_MAX_FWD 256 /* descriptors forwarded at restore */

typedef struct {
    uint64_t magic;   /* SSI_VFS_CTL_MAGIC */
    uint32_t version; /* SSI_VFS_CTL_VERSION */
    uint32_t nfwd;
    uint8_t key[32];  /* the migration's data key (secret) */
    uint32_t timeout_ms; /* handshake */
    uint32_t pad;
    int32_t fwd[SSI_VFS_MAX_FWD]; /* descriptors that are placeholders of home files */
} ssi_vfs_ctl_t;

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
