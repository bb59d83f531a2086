/*
 * ssi_net.h - the netproxy: an away body's sockets live at home.
 *
 * Builds on the trap core (ssi/away/ssi_trap.h: seccomp trap, call link,
 * forwarded fds), the deputy's call server and channel table
 * (ssi/home/ssi_callsrv.h, ssi_chans.h) and the data link's tunnels; the
 * shim wires both sides into their core:
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

/* ---- body side: the trap core's handlers (ssi_trap_proxy_t) ---------- */

/* The calls this proxy needs trapped. */
extern const uint16_t ssi_net_body_calls[];
extern const unsigned ssi_net_body_ncalls;

/* call: a trapped call, before the file proxy sees it: 1 when it was a
 * socket's (*ret is its result), 0 to let the next proxy have it. */
int ssi_net_body_call(long nr, int64_t *a, void *uc, long *ret);

/* freeze: records which descriptors are sockets, and which of those
 * listen or are datagram sockets (they become socketpairs away). */
void ssi_net_body_freeze(void);

/* start: the control socket from the agent, moved out of the program's
 * way and kept: new channels arrive there. */
void ssi_net_body_start(int ctl_fd);

/* linked: the call link is up (before the program resumes): datagram
 * sockets open at freeze get their datagram tunnels. */
void ssi_net_body_linked(void);

/* home: restored at home; forget everything. */
void ssi_net_body_home(void);

/* own_fd: 1 when fd is the netproxy's own (the control socket). */
int ssi_net_body_own_fd(int fd);

/* replaced: a local descriptor was put at fd (dup2/dup3 onto it): a home
 * socket that was there is released at home. */
void ssi_net_body_replaced(int fd);

/* ---- home side: an executor of the call server ------------------------ */

/* Executes a socket call that needs more than the plain system call
 * (socket at a number, connect/listen that become channels, close of a
 * channel's socket, control calls on fds 0-2, DGRAM, ATTACH): 1 with *ret,
 * or 0 to let the next executor (at last the plain call) run it. Adds and
 * releases channels in the deputy's table (ssi_chans.h), nothing else. */
int ssi_net_exec(unsigned op, const int64_t *a, long *ret);

#endif
