/*
 * ssi_tunnel_link.h - the data link's transport: tunnel frames
 * (wire/ssi_tunnel.h) over one ssi_chan connection between a deputy (home)
 * and its body agent (ssi-agent, on the body's node).
 *
 * The one place that touches the link's socket: every frame is one
 * ssi_chan record (AEAD, keyed by the migration's 32-byte data key;
 * replayed, reordered or altered records are refused). Runs inside user
 * processes (the deputy in libssi.so) and in ssi-agent: raw system calls,
 * caller-owned buffers, no malloc, no stdio.
 */
#ifndef SSI_TUNNEL_LINK_H
#define SSI_TUNNEL_LINK_H

#include "ssi_chan.h"
#include "ssi_tunnel.h"

#include <stdint.h>

/* The transport: one ssi_chan record per frame. Caller-owned and large
 * (the channel is ~262 KiB): static storage, never a signal stack. */
typedef struct {
    ssi_chan_t ch;
    int up;          /* ch is initialised */
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
