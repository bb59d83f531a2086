/*
 * ssi_tunnel.h - the data connection between a deputy (home) and the body
 * agent (ssi-agent, on the body's node): wire format and transport.
 *
 * One connection per migrated process carries every tunnelled descriptor
 * (stdin/stdout/stderr, pipes, FIFOs, ttys, sockets) as a channel, plus
 * signals (home -> body) and the body's exit status (body -> home). The
 * full protocol, with flow control and failure handling, is in
 * docs/ENGINE.md, "Deputy and body agent".
 *
 * Frames: ssi_tunnel_hdr_t {type, flags, chan, len} then `len` payload
 * bytes (len <= SSI_TUNNEL_DATA_MAX), little-endian. The channel id is the
 * body's descriptor number.
 *
 * The transport (ssi_tunnel_link_*) is the one place that touches the
 * socket: every frame is one rpc/ssi_chan record (AEAD, keyed by the
 * migration's 32-byte data key; replayed, reordered or altered records
 * are refused). Code runs inside user processes (the deputy in
 * libssi.so): raw system calls, caller-owned buffers, no malloc, no stdio.
 */
#ifndef SSI_TUNNEL_H
#define SSI_TUNNEL_H

#include "ssi_chan.h"

#include <stdint.h>

#define SSI_TUNNEL_MAGIC 0x314e55542d495353ULL /* "SSI-TUN1" */
#define SSI_TUNNEL_VERSION 2 /* 2: per-channel windows, 128 KiB frames */
#define SSI_TUNNEL_DATA_MAX (128 * 1024) /* payload bytes per frame */
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
    SSI_TUNNEL_HELLO = 1,  /* D->A  ssi_tunnel_hello_t */
    SSI_TUNNEL_ACCEPT = 2, /* A->D  ssi_tunnel_accept_t + nchans x ssi_tunnel_chan_t */
    SSI_TUNNEL_REFUSE = 3, /* A->D  reason text; the agent then closes */
    SSI_TUNNEL_DATA = 4,   /* both  bytes for channel `chan` */
    SSI_TUNNEL_EOF = 5,    /* both  the sender's side of `chan` reached end of file */
    SSI_TUNNEL_CLOSE = 6,  /* both  the receiver's side of `chan` is gone: stop sending */
    SSI_TUNNEL_WINDOW_UPD = 7, /* both  uint32 bytes consumed: credit back */
    SSI_TUNNEL_SIGNAL = 8, /* D->A  int32 signo for the body */
    SSI_TUNNEL_EXIT = 9,   /* A->D  ssi_tunnel_exit_t, the last frame */
    SSI_TUNNEL_WINSZ = 10, /* D->A  ssi_tunnel_winsz_t for a tty channel */
    /* Coming home (11..19; docs/ENGINE.md, "Coming home"). */
    SSI_TUNNEL_HOME_REQ = 11,     /* D->A  ssi_tunnel_home_req_t: bring the body home */
    SSI_TUNNEL_HOME_REFUSE = 12,  /* A->D  reason text: the body runs on where it is */
    SSI_TUNNEL_HOME_IMAGE = 13,   /* A->D  the next bytes of the body's image */
    SSI_TUNNEL_HOME_END = 14,     /* A->D  the image is complete, all output sent */
    SSI_TUNNEL_HOME_VERDICT = 15, /* D->A  u8: 'X' end the body (commit), 'C' thaw it */
    SSI_TUNNEL_HOME_DONE = 16,    /* A->D  the body is gone: restore at home now */
    SSI_TUNNEL_STOPPED = 17,      /* A->D  ssi_tunnel_stopped_t: the body stopped */
};
/* The highest frame type a receiver accepts. */
#define SSI_TUNNEL_TYPE_MAX SSI_TUNNEL_STOPPED

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
    uint32_t flags; /* 0 */
    uint32_t pad;
} ssi_tunnel_home_req_t;

/* The body stopped with `sig`, after the agent had delivered `conts`
 * SIGCONTs from the deputy: a deputy that has sent more since then was
 * continued after this stop and ignores the frame. */
typedef struct {
    int32_t sig;
    uint32_t conts;
} ssi_tunnel_stopped_t;

_Static_assert(sizeof(ssi_tunnel_hdr_t) == 8, "tunnel header");
_Static_assert(sizeof(ssi_tunnel_chan_t) == 8, "tunnel chan");

/* The transport: one ssi_chan record per frame. Caller-owned and large
 * (the channel is ~262 KiB): static storage, never a signal stack. */
typedef struct {
    ssi_chan_t ch;
    int up; /* ch is initialised */
    uint32_t budget; /* ssi_tunnel_budget */
    uint8_t tbuf[sizeof(ssi_tunnel_hdr_t) + SSI_TUNNEL_DATA_MAX];
    uint8_t rbuf[sizeof(ssi_tunnel_hdr_t) + SSI_TUNNEL_DATA_MAX];
} ssi_tunnel_link_t;

/* The window of a channel with SSI_TUNNEL_CHAN_* flags. */
static inline uint32_t ssi_tunnel_window(unsigned flags)
{
    return (flags & SSI_TUNNEL_CHAN_SOCKET) ? SSI_TUNNEL_SOCK_WINDOW : SSI_TUNNEL_WINDOW;
}

/* Asks for SSI_TUNNEL_SOCKBUF send and receive buffers on a TCP socket
 * that is not yet connected (or listening: accepted sockets inherit). */
void ssi_tunnel_sockbuf(int fd);

/* The DATA bytes (all channels) this end may have sent and not yet got
 * credit for: what its socket's send buffer surely holds, so that a send
 * never blocks while the peer is itself blocked in a send. */
uint32_t ssi_tunnel_budget(const ssi_tunnel_link_t *l);

/* Runs the ssi_chan handshake on a connected stream socket with the data
 * key; initiator: 1 for the deputy, 0 for the agent. timeout_ms bounds the
 * handshake; afterwards the link has no inactivity timeout (an idle body
 * may say nothing for hours; TCP keepalive finds a dead peer). Returns 0
 * (the link owns fd) or -errno (-EKEYREJECTED: another key; the caller
 * still owns fd). */
long ssi_tunnel_link_init(ssi_tunnel_link_t *l, int fd, const uint8_t *key, int initiator,
                          int timeout_ms);

/* The socket, for poll(). */
int ssi_tunnel_link_fd(const ssi_tunnel_link_t *l);

/* Sends one frame; blocks until it is written. Returns 0 or -errno
 * (-EPIPE, -ECONNRESET: the peer is gone). */
long ssi_tunnel_send(ssi_tunnel_link_t *l, unsigned type, unsigned chan, const void *p,
                     uint32_t len);

/* Receives one frame (blocks until a whole one is in): copies its header
 * to *h and its payload to buf (cap >= SSI_TUNNEL_DATA_MAX). Returns 1,
 * -EPIPE when the peer closed the link, -EPROTO for a malformed frame, or
 * another -errno (-EBADMSG: forged or altered). */
long ssi_tunnel_recv(ssi_tunnel_link_t *l, ssi_tunnel_hdr_t *h, void *buf, uint32_t cap);

/* Like ssi_tunnel_recv, but gives up after timeout_ms (-ETIMEDOUT). */
long ssi_tunnel_recv_wait(ssi_tunnel_link_t *l, ssi_tunnel_hdr_t *h, void *buf, uint32_t cap,
                          int timeout_ms);

/* Non-zero when bytes are already buffered: call ssi_tunnel_recv before
 * polling the fd again. */
int ssi_tunnel_pending(const ssi_tunnel_link_t *l);

/* Sends an authenticated end of stream (after the last frame). */
void ssi_tunnel_shutdown(ssi_tunnel_link_t *l);

/* Wipes the keys and closes the socket. Safe twice. */
void ssi_tunnel_link_close(ssi_tunnel_link_t *l);

#endif
