/*
 * ssi_call.h - the call link's wire format: an away body's forwarded
 * system calls and their answers (frames SSI_TUNNEL_CALL and
 * SSI_TUNNEL_RESULT, wire/ssi_tunnel.h), and the call table that says, per
 * forwarded call, which arguments are strings, buffers and structs, so
 * that one marshalling routine on each side serves every call.
 *
 * Pure: no system calls, no malloc; used by the trap in the body and by
 * the deputy's call server at home. How to add a call:
 * docs/ARCHITECTURE.md, "A forwarded call".
 */
#ifndef SSI_CALL_H
#define SSI_CALL_H

#include <stdint.h>

/* ---- the call link (deputy <-> body), one ssi_chan record per message -- */

/* A request: op is a syscall number (executed as that call with the
 * pointer arguments rebuilt at home) or an SSI_CALL_OP_* below. The
 * payload holds the in-arguments in argument order, each as a u32 length
 * (SSI_CALL_NULL for a NULL pointer) and that many bytes. */
typedef struct {
    uint8_t type;  /* SSI_TUNNEL_CALL */
    uint8_t flags; /* 0 */
    uint16_t op;
    uint32_t len; /* payload bytes */
    int64_t arg[6];
} ssi_call_req_t;

/* The answer: ret is the call's result (>= 0 or -errno at home); the
 * payload holds the out-arguments in argument order, u32 length + bytes. */
typedef struct {
    uint8_t type; /* SSI_TUNNEL_RESULT */
    uint8_t flags;
    uint16_t op;
    uint32_t len;
    int64_t ret;
} ssi_call_rep_t;

#define SSI_CALL_NULL 0xffffffffu
/* Largest message. A message longer than one ssi_chan record
 * (SSI_CHAN_MAX_RECORD, 256 KiB) goes as several records back to back:
 * the first starts with the header, whose len says how much follows
 * (ssi_call_send / ssi_call_recv). So a 1 MiB read or write is one
 * request and one answer, one read/write system call at home, while its
 * records are pipelined: the sender encrypts the next record while the
 * receiver decrypts the last. File reads and writes are cut into
 * SSI_CALL_RW_MAX pieces (the body loops, so the program sees one call);
 * other out-buffers (getdents, datagrams) get at most SSI_CALL_IO_MAX. */
#define SSI_CALL_RW_MAX (1024u * 1024)
#define SSI_CALL_MSG_MAX (SSI_CALL_RW_MAX + 4096)
#define SSI_CALL_IO_MAX (128u * 1024)
#define SSI_CALL_PATH_MAX 4096

/* Operations that are not one plain system call. */
enum {
    SSI_CALL_OP_OPEN = 1000, /* dirfd, path, flags, mode, target fd: open, then dup3 to target */
    SSI_CALL_OP_LOCK = 1001, /* fd, cmd, struct flock in/out: fcntl record locks */
    SSI_CALL_OP_IOCTL = 1002, /* fd, request, out struct: the few read-only ioctls */
    SSI_CALL_OP_TTY = 1003,   /* chan, request, struct in/out: a home terminal's settings */
    /* Sockets (netproxy). */
    SSI_CALL_OP_SOCKET = 1010, /* domain, type, protocol, target fd: socket at home, at target */
    SSI_CALL_OP_ATTACH = 1011, /* chan, fd: the accepted channel's home socket moves to fd */
    SSI_CALL_OP_DGRAM = 1012,  /* fd: the home datagram socket at fd becomes a DGRAM channel */
};

/* ---- the call table ------------------------------------------------------ */

/* Kinds of argument. */
enum {
    SSI_CALL_A_NONE = 0,
    SSI_CALL_A_INT,    /* passed as is */
    SSI_CALL_A_FD,     /* a descriptor (or AT_FDCWD) of the process */
    SSI_CALL_A_STR,    /* in: NUL-terminated string (NULL allowed) */
    SSI_CALL_A_IN,     /* in: buffer of arg[aux] bytes */
    SSI_CALL_A_OUT,    /* out: buffer of arg[aux] bytes, ret bytes come back */
    SSI_CALL_A_OUTFIX, /* out: struct of aux bytes, back when ret >= 0 */
    SSI_CALL_A_INFIX,  /* in: struct of aux bytes (NULL allowed) */
    SSI_CALL_A_INOUT,  /* in and out: struct of aux bytes (NULL allowed) */
};

#define SSI_CALL_NO 0xff

typedef struct {
    uint16_t op;       /* syscall number or SSI_CALL_OP_* */
    uint8_t nargs;
    uint8_t kind[6];   /* SSI_CALL_A_* */
    uint16_t aux[6];   /* length argument index, or struct size */
    uint8_t path, fd;  /* the path and the fd/dirfd that decide local vs home */
    uint8_t path2, fd2; /* a second path/fd (rename, link, copy_file_range) */
} ssi_call_t;

/* The entry of op, or NULL: not a forwarded call. */
const ssi_call_t *ssi_call_find(unsigned op);

#endif
