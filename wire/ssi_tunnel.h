/*
 * ssi_tunnel.h - the data link's wire format: the frames a deputy (home)
 * and its body agent (ssi-agent, on the body's node) exchange over one
 * ssi_chan connection, and the messages the agent hands the body.
 *
 * One connection per migrated process carries every tunnelled descriptor
 * (stdin/stdout/stderr, pipes, FIFOs, ttys, sockets) as a channel, plus
 * signals (home -> body), the body's exit status (body -> home), coming
 * home, and the call link's messages (wire/ssi_call.h). Every frame
 * number is defined here, once. Protocol, flow control and failure
 * handling: docs/ARCHITECTURE.md, "The data link".
 *
 * Frames: ssi_tunnel_hdr_t {type, flags, chan, len} then `len` payload
 * bytes (len <= SSI_TUNNEL_DATA_MAX), little-endian. A static channel's id
 * is the body's descriptor number; channels added at run time take ids
 * from SSI_TUNNEL_CHAN_DYN_MIN up. Header only, no code.
 */
#ifndef SSI_TUNNEL_H
#define SSI_TUNNEL_H

#include <stdint.h>

#define SSI_TUNNEL_MAGIC 0x314e55542d495353ULL /* "SSI-TUN1" */
#define SSI_TUNNEL_VERSION 2                   /* 2: per-channel windows, 128 KiB frames */
#define SSI_TUNNEL_DATA_MAX (128 * 1024)       /* payload bytes per frame */
/* Flow control: a sender may have at most this many DATA bytes per
 * channel that the receiver has not yet written to its local descriptor:
 * SSI_TUNNEL_SOCK_WINDOW for a socket channel (a stream needs several
 * large frames in flight to fill the path), SSI_TUNNEL_WINDOW for the
 * others (a terminal or a pipe does not need more). The receiver returns
 * credit once half a window is written out, so a small request and its
 * answer send no credit frame at all. Both ends send with blocking writes:
 * besides the windows, each sender keeps the DATA bytes it has in flight
 * on the whole link under its socket's send buffer (ssi_tunnel_budget), so
 * that two senders can never block each other (see docs/ENGINE.md). */
#define SSI_TUNNEL_WINDOW 32768
#define SSI_TUNNEL_SOCK_WINDOW (512 * 1024)
/* The link-wide DATA budget per direction, at most, and the socket buffers
 * asked for the data connection (before connect/listen: the TCP window
 * scale is chosen then). */
#define SSI_TUNNEL_BUDGET_MAX (1024 * 1024)
#define SSI_TUNNEL_SOCKBUF (2 * 1024 * 1024)
/* Static channels (open at freeze) plus those the netproxy adds at run
 * time (connections, listeners): a server with many clients. */
#define SSI_TUNNEL_MAX_CHANS 256
#define SSI_TUNNEL_KEY_LEN 32

enum {
    SSI_TUNNEL_HELLO = 1,      /* D->A  ssi_tunnel_hello_t */
    SSI_TUNNEL_ACCEPT = 2,     /* A->D  ssi_tunnel_accept_t + nchans x ssi_tunnel_chan_t */
    SSI_TUNNEL_REFUSE = 3,     /* A->D  reason text; the agent then closes */
    SSI_TUNNEL_DATA = 4,       /* both  bytes for channel `chan` */
    SSI_TUNNEL_EOF = 5,        /* both  the sender's side of `chan` reached end of file */
    SSI_TUNNEL_CLOSE = 6,      /* both  the receiver's side of `chan` is gone: stop sending */
    SSI_TUNNEL_WINDOW_UPD = 7, /* both  uint32 bytes consumed: credit back */
    SSI_TUNNEL_SIGNAL = 8,     /* D->A  int32 signo for the body */
    SSI_TUNNEL_EXIT = 9,       /* A->D  ssi_tunnel_exit_t, the last frame */
    SSI_TUNNEL_WINSZ = 10,     /* D->A  ssi_tunnel_winsz_t for a tty channel */
    /* Coming home (11..19; docs/ENGINE.md, "Coming home"). */
    SSI_TUNNEL_HOME_REQ = 11,     /* D->A  ssi_tunnel_home_req_t: bring the body home */
    SSI_TUNNEL_HOME_REFUSE = 12,  /* A->D  reason text: the body runs on where it is */
    SSI_TUNNEL_HOME_IMAGE = 13,   /* A->D  the next bytes of the body's image */
    SSI_TUNNEL_HOME_END = 14,     /* A->D  the image is complete, all output sent */
    SSI_TUNNEL_HOME_VERDICT = 15, /* D->A  u8: 'X' end the body (commit), 'C' thaw it */
    SSI_TUNNEL_HOME_DONE = 16,    /* A->D  the body is gone: restore at home now */
    SSI_TUNNEL_STOPPED = 17,      /* A->D  ssi_tunnel_stopped_t: the body stopped */
    /* The call link (a second ssi_chan connection; wire/ssi_call.h). */
    SSI_TUNNEL_CALL = 20,   /* body -> deputy: ssi_call_req_t + in-arguments */
    SSI_TUNNEL_RESULT = 21, /* deputy -> body: ssi_call_rep_t + out-arguments */
    /* Channels added at run time (netproxy). */
    SSI_TUNNEL_NEWCHAN = 30, /* D->A  ssi_tunnel_newchan_t: a channel added at run time */
    /* D->A  no payload: the home peer of socket channel `chan` reset the
     * connection (ECONNRESET at home). Like EOF for the home -> body
     * direction, but the body's next read fails with ECONNRESET. */
    SSI_TUNNEL_RESET = 36,
    /* A->D  bytes of home input channel `chan` that the deputy had read
     * and the body had not (the agent's buffer and the body's unread
     * bytes, oldest first), sent while coming home before HOME_IMAGE: the
     * deputy gives them back to the home pipe at the commit (#17). */
    SSI_TUNNEL_HOME_INPUT = 65,
};

/* The highest frame type a link accepts: up to 39 this protocol and the
 * proxies' ranges (11..19 homecoming, 30..39 netproxy: ssi_net.h), 40..84
 * the issues' own frames; a receiver refuses what it does not know. */
#define SSI_TUNNEL_TYPE_LAST 84

typedef struct {
    uint8_t type;
    uint8_t flags; /* 0 */
    uint16_t chan;
    uint32_t len;
} ssi_tunnel_hdr_t;

typedef struct {
    uint64_t magic;   /* SSI_TUNNEL_MAGIC */
    uint32_t version; /* SSI_TUNNEL_VERSION */
    int32_t home_pid; /* informational */
} ssi_tunnel_hello_t;

/* Channel direction bits. */
#define SSI_TUNNEL_DIR_IN 1u  /* home -> body (the body reads) */
#define SSI_TUNNEL_DIR_OUT 2u /* body -> home (the body writes) */
/* Channel flags. */
#define SSI_TUNNEL_CHAN_TTY 1u    /* the home fd is a terminal */
#define SSI_TUNNEL_CHAN_SOCKET 2u /* the home fd is a socket */
/* A listening socket; no data, the agent passes connections over its
 * SOCK_SEQPACKET socketpair. */
#define SSI_TUNNEL_CHAN_LISTEN 4u
/* A datagram or Unix seqpacket socket (home -> body only). Each DATA frame
 * is one datagram: ssi_tunnel_dghdr_t then the payload; the agent writes it
 * as one message to a SOCK_SEQPACKET pair (queued while the body's queue is
 * full) and returns its credit as soon as it is written. EOF: a seqpacket
 * peer's end. The channel ends only with the body's close (CLOSE). */
#define SSI_TUNNEL_CHAN_DGRAM 8u
/* Dynamic channel ids (never fd numbers: the body may dup or close the
 * descriptor) are taken from [SSI_TUNNEL_CHAN_DYN_MIN, 65535]; static
 * channels (open at freeze) keep their fd number, always below. */
#define SSI_TUNNEL_CHAN_DYN_MIN 32768u
#define SSI_TUNNEL_NOPARENT 0xffffu

typedef struct {
    uint16_t chan; /* = the fd number, at home and in the body */
    uint8_t dir;   /* SSI_TUNNEL_DIR_* */
    uint8_t flags; /* SSI_TUNNEL_CHAN_* */
    uint32_t pad;
} ssi_tunnel_chan_t;

typedef struct {
    uint32_t version;
    int32_t body_pid; /* in the body's namespace (= the home pid) */
    uint32_t nchans;
    uint32_t window; /* SSI_TUNNEL_WINDOW (SSI_TUNNEL_SOCK_WINDOW for sockets) */
} ssi_tunnel_accept_t;

#define SSI_TUNNEL_EXITED 1   /* value = exit code */
#define SSI_TUNNEL_SIGNALED 2 /* value = signal number */

typedef struct {
    int32_t how;
    int32_t value;
} ssi_tunnel_exit_t;

typedef struct {
    uint16_t row, col, xpixel, ypixel; /* struct winsize */
} ssi_tunnel_winsz_t;

typedef struct {
    uint32_t flags; /* 0, or SSI_TUNNEL_HOME_F_CKPT */
    uint32_t pad;
} ssi_tunnel_home_req_t;

/* HOME_REQ for a checkpoint: no check of what could come home, the image
 * as usual, and the verdict is always 'C' (the body runs on). */
#define SSI_TUNNEL_HOME_F_CKPT 1u

/* The body stopped with `sig`, after the agent had delivered `conts`
 * SIGCONTs from the deputy: a deputy that has sent more since then was
 * continued after this stop and ignores the frame. */
typedef struct {
    int32_t sig;
    uint32_t conts;
} ssi_tunnel_stopped_t;

/* NEWCHAN: a channel the deputy added at run time. */
typedef struct {
    uint16_t chan;   /* the new channel */
    uint8_t dir;     /* SSI_TUNNEL_DIR_* */
    uint8_t flags;   /* SSI_TUNNEL_CHAN_* */
    uint16_t parent; /* the listener channel it was accepted on, or SSI_TUNNEL_NOPARENT */
    uint16_t alen;   /* peer address length (accepted connections) */
    uint8_t addr[128];
} ssi_tunnel_newchan_t;

/* Head of a datagram on a DGRAM channel (and in the body's pair). */
typedef struct {
    uint32_t len;  /* the datagram's length at home (the payload may be cut) */
    uint16_t alen; /* source address length */
    uint16_t pad;
    uint8_t addr[112];
} ssi_tunnel_dghdr_t;
/* Payload bytes a datagram keeps through the tunnel; longer ones are cut
 * (recvmsg reports MSG_TRUNC, MSG_TRUNC returns the real length). */
#define SSI_TUNNEL_DGRAM_MAX (SSI_TUNNEL_DATA_MAX - sizeof(ssi_tunnel_dghdr_t))

/* ---- agent -> body, on local sockets ------------------------------------ */

/* A channel's body end: on the control socket (a connected or listening
 * socket of the body: parent NOPARENT) or on a listener's socketpair (an
 * accepted connection), one message with SCM_RIGHTS of the body's end. */
#define SSI_TUNNEL_PASS_MAGIC 0x4e455431u /* "NET1" */
typedef struct {
    uint32_t magic;
    uint16_t chan;
    uint16_t alen;
    uint8_t addr[128];
} ssi_tunnel_pass_t;

/* ssi-agent passes the body its call link over a socketpair that it puts
 * at the lowest fd number >= SSI_TUNNEL_CTL_FD_MIN that the image's fd
 * table does not use (the body computed the same number at freeze): one
 * ssi_tunnel_ctl_t with SCM_RIGHTS carrying the accepted TCP socket of the
 * deputy's second connection. The body runs the ssi_chan handshake on it
 * (responder, with the migration's data key) before the program resumes.
 * Right behind it on the same socket come nfwd int32 numbers: the
 * descriptors that are placeholders of home files (as many as the body may
 * hold, SSI_TUNNEL_CTL_MAX_FWD; version 1 had a fixed table of 256). */
#define SSI_TUNNEL_CTL_FD_MIN 900
#define SSI_TUNNEL_CTL_MAGIC 0x3153462d495353ULL /* "SSI-FS1" */
#define SSI_TUNNEL_CTL_VERSION 2
#define SSI_TUNNEL_CTL_MAX_FWD 65536 /* = SSI_IMAGE_FD_LIMIT: fds below it, so at most as many */

typedef struct {
    uint64_t magic;      /* SSI_TUNNEL_CTL_MAGIC */
    uint32_t version;    /* SSI_TUNNEL_CTL_VERSION */
    uint32_t nfwd;       /* int32 fd numbers that follow */
    uint8_t key[32];     /* the migration's data key (secret) */
    uint32_t timeout_ms; /* handshake */
    uint32_t pad;
} ssi_tunnel_ctl_t;

_Static_assert(sizeof(ssi_tunnel_hdr_t) == 8, "tunnel header");
_Static_assert(sizeof(ssi_tunnel_chan_t) == 8, "tunnel chan");

#endif
