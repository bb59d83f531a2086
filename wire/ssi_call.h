/*
 * ssi_call.h - the call link's wire format: an away body's forwarded
 * system calls and their answers (frames SSI_TUNNEL_CALL and
 * SSI_TUNNEL_RESULT, wire/ssi_tunnel.h), and the call table that says, per
 * forwarded call, which arguments are strings, buffers and structs, so
 * that one marshalling routine on each side serves every call.
 *
 * The marshalling both ways is here too, as pure functions: the body packs
 * a request from the program's arguments and unpacks the answer into the
 * program's buffers (ssi/away/ssi_trap.c); home unpacks the request into
 * rebuilt pointers and packs the answer (ssi/home/ssi_callsrv.c). Every
 * length that comes from the peer is checked here, once.
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
    SSI_CALL_OP_OPEN = 1000,  /* dirfd, path, flags, mode, target fd: open, then dup3 to target */
    SSI_CALL_OP_LOCK = 1001,  /* fd, cmd, struct flock in/out: fcntl record locks */
    SSI_CALL_OP_IOCTL = 1002, /* fd, request, out struct: the few read-only ioctls */
    SSI_CALL_OP_TTY = 1003,   /* chan, request, struct in/out: a home terminal's settings */
    /* Sockets (netproxy). */
    SSI_CALL_OP_SOCKET = 1010, /* domain, type, protocol, target fd: socket at home, at target */
    SSI_CALL_OP_ATTACH = 1011, /* chan, fd: the accepted channel's home socket moves to fd */
    SSI_CALL_OP_DGRAM = 1012,  /* fd: the home datagram socket at fd becomes a DGRAM channel */
    /* fork, vfork, clone and execve away (#11, w-thr 1020-1039). */
    SSI_CALL_OP_HOME = 1020, /* ask, epoch, ssi_call_home_t out: bring me home / how is it going */
};

/* The answer of SSI_CALL_OP_HOME. ask 1: the deputy asks its ssid to bring
 * the body home (once for several askers: the epoch of the ask under way);
 * ask 0: the state of the ask of that epoch. */
typedef struct {
    uint32_t epoch;
    int32_t state; /* SSI_CALL_HOME_* */
    char why[240]; /* REFUSED: the reason, NUL-terminated */
} ssi_call_home_t;
#define SSI_CALL_HOME_PENDING 1 /* asked; the homecoming has not ended */
#define SSI_CALL_HOME_REFUSED 2 /* it will not come home: why */

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
    uint16_t op; /* syscall number or SSI_CALL_OP_* */
    uint8_t nargs;
    uint8_t kind[6];    /* SSI_CALL_A_* */
    uint16_t aux[6];    /* length argument index, or struct size */
    uint8_t path, fd;   /* the path and the fd/dirfd that decide local vs home */
    uint8_t path2, fd2; /* a second path/fd (rename, link, copy_file_range) */
} ssi_call_t;

/* The entry of op, or NULL: not a forwarded call. */
const ssi_call_t *ssi_call_find(unsigned op);

/* The i-th entry of the table (i = 0, 1, ...), NULL past the last. */
const ssi_call_t *ssi_call_nth(unsigned i);

/* ---- marshalling ---------------------------------------------------------- */

/* The largest out-buffer of op that one answer carries: SSI_CALL_RW_MAX
 * for read and pread64, SSI_CALL_IO_MAX for every other call. */
uint32_t ssi_call_out_max(unsigned op);

/* Body: packs the request for op with the program's arguments a (its
 * pointers) into msg (cap bytes): the header, whose out-buffer lengths are
 * cut to what one answer carries (getdents and friends return less), then
 * every in-argument. Returns the message's length, or -ENOSYS (op is not
 * in the table), -ENAMETOOLONG (a string longer than SSI_CALL_PATH_MAX),
 * -EINVAL (it does not fit in cap). */
long ssi_call_pack_req(unsigned op, const int64_t *a, uint8_t *msg, uint32_t cap);

/* Home: a request with its pointer arguments rebuilt. */
typedef struct {
    const ssi_call_t *call;
    uint16_t op;
    int64_t a[6];       /* descriptors sign-extended; pointers into the request or the answer */
    uint32_t outcap[6]; /* room of each out-argument in the answer; SSI_CALL_NULL: a NULL in-out */
} ssi_call_args_t;

/* Home: checks the request msg (n bytes) against the call table and
 * rebuilds its arguments in u: in-arguments point into msg, out-arguments
 * into room reserved in rep (cap bytes; an in-out struct is copied there),
 * where ssi_call_pack_rep then packs the answer. 0; -ENOSYS: not a call of
 * the table (or a header whose length is not n's); -EPROTO: a length that
 * breaks the rules (truncated, trailing bytes, a string without its NUL, a
 * buffer whose length is not its length argument's, more out-room than
 * rep holds). */
int ssi_call_unpack_req(const uint8_t *msg, uint32_t n, uint8_t *rep, uint32_t cap,
                        ssi_call_args_t *u);

/* Home: the answer to u with result ret, in rep: each out-argument's bytes
 * that matter (a buffer: ret of them; a struct: all when ret >= 0; none
 * when ret < 0). Returns its length. */
uint32_t ssi_call_pack_rep(const ssi_call_args_t *u, int64_t ret, uint8_t *rep);

/* Home: an answer that refuses op before running it (ret < 0, no
 * out-arguments at all). Returns its length. */
uint32_t ssi_call_pack_err(unsigned op, int64_t ret, uint8_t *rep);

/* Body: checks the answer rep (n bytes) to request q (the header as it was
 * packed) and copies each out-argument to the program's pointer in a,
 * never more than q said the program's buffer holds. 0 with *ret the home
 * result; -EPROTO: the answer breaks the rules (the link is unusable). */
int ssi_call_unpack_rep(const ssi_call_req_t *q, const int64_t *a, const uint8_t *rep, uint32_t n,
                        int64_t *ret);

#endif
