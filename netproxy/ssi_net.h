/*
 * ssi_net.h - the netproxy: an away body's sockets live at home.
 *
 * Builds on the vfs-proxy (seccomp trap, call link, deputy executor) and
 * on the data link's tunnels:
 *   - socket() away is forwarded: the deputy creates the socket at home at
 *     the body's fd number (a placeholder in the body, as for files), and
 *     bind/setsockopt/getsockname/... on it run at home;
 *   - once a stream socket is connected (connect() runs at home), it
 *     becomes a tunnel: the deputy adds a channel at run time (NEWCHAN),
 *     the agent makes a socketpair and passes the body's end over the
 *     control socket; the body dup3s it over its placeholder. Reads,
 *     writes, poll/epoll/select, O_NONBLOCK are then native;
 *   - a listening socket (listen() away, or listening at freeze) stays at
 *     home; the body's descriptor is the body's end of a SOCK_SEQPACKET
 *     socketpair on which the agent passes each connection the deputy
 *     accepted (SCM_RIGHTS, peer address as data). accept/accept4 are
 *     trapped and receive it; poll/epoll see the listener readable;
 *   - a datagram socket (made away, or open at freeze once the call link
 *     is up) stays at home as a DGRAM channel: the deputy reads each
 *     datagram with its source and the agent writes it as one message to
 *     a SOCK_SEQPACKET pair, whose end the body holds; receiving is local
 *     (trapped, the head unpacked), sending stays forwarded;
 *   - a peer that resets: RESET, and the body's read fails ECONNRESET.
 * Protocol and decisions: docs/ARCHITECTURE.md, "netproxy".
 */
#ifndef SSI_NET_H
#define SSI_NET_H

#include <stdint.h>

#include "ssi_call.h"
#include "ssi_tunnel.h"

/* ---- body side (libssi.so) -------------------------------------------- */

/* Freeze hook: records which descriptors are listening sockets (they
 * become listener socketpairs away). Signal context. */
void ssi_net_freeze_hook(void);

/* The control socket from the agent (kept by the vfs-proxy's start):
 * moved out of the program's way; new channels arrive there. */
void ssi_net_body_start(int ctl_fd);

/* The call link is up (before the program resumes): datagram sockets
 * open at freeze get their datagram tunnels. */
void ssi_net_body_linked(void);

/* Restored at home: forget everything. */
void ssi_net_home(void);

/* 1 when fd is the netproxy's own (not the program's). */
int ssi_net_hidden_fd(int fd);

/* Called first by the vfs-proxy's SIGSYS dispatch: 1 when the call was
 * handled (*ret is its result), 0 to let the vfs-proxy handle it. */
int ssi_net_body_call(long nr, int64_t *a, void *uc, long *ret);

/* A local descriptor was put at fd (dup2/dup3 onto it): a home socket
 * that was there is released at home. */
void ssi_net_replaced(int fd);

/* Provided by the vfs-proxy body (ssi_vfs_body.c) for the netproxy. */
long ssi_vfs_forward(unsigned op, const int64_t *a);
long ssi_vfs_local(long nr, const int64_t *a, const void *uc);
void ssi_vfs_set_forwarded(int fd, int on);
int ssi_vfs_is_forwarded(int fd);

/* ---- deputy side (libssi.so) ------------------------------------------ */

/* Executes a socket call of the call link. 1 when handled (*ret set),
 * 0: let the vfs-proxy's generic executor run it. */
int ssi_net_deputy_exec(unsigned op, const int64_t *a, long *ret);

/* Reads one datagram of home socket fd into frame (ssi_tunnel_dghdr_t +
 * payload, at most SSI_TUNNEL_DATA_MAX bytes) if it fits in credit.
 * Returns the frame length, or -errno (-EAGAIN: none, or no credit). */
long ssi_net_dgram_read(int fd, uint8_t *frame, uint32_t credit);

/* Provided by the deputy loop (ssi_deputy.c): the channel table. */
/* Adds a channel for home socket fd (stays at fd); sends NEWCHAN.
 * Returns the channel id or -errno. */
long ssi_deputy_chan_add(int fd, unsigned dir, unsigned flags);
/* The body closed its descriptor fd: a channel using home fd fd keeps
 * running on a high copy (a listener is closed and its channel ends).
 * Returns 1 when fd belonged to a channel. */
int ssi_deputy_chan_release_fd(int fd);
/* 1 when home fd fd is a channel's. */
int ssi_deputy_chan_has_fd(int fd);
/* The home socket of static channel chan (0-2: kept above the body's
 * range) when the channel is a socket's, else -1. */
int ssi_deputy_chan_std_fd(unsigned chan);
/* Moves accepted channel chan's home socket to fd (the body's number). */
long ssi_deputy_chan_attach(unsigned chan, int fd);

#endif
