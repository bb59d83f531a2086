/*
 * ssi_chans.h - the deputy's channel table and the data link it runs on.
 *
 * One entry per tunnel between a home descriptor and the body's (static
 * channels from the agent's ACCEPT; channels added at run time for the
 * netproxy's sockets), with its credit (rpc/ssi_flow.h); the link to the
 * body's agent; where the deputy keeps its own descriptors (at or above
 * the fd base, so that every lower number is the body's); and how the
 * deputy ends when the link breaks.
 *
 * The lowest layer of the home side: the deputy loop, the homecoming and
 * the call server's executors use it, it calls none of them. Part of
 * libssi.so, runs inside the freeze handler of the home process (signal
 * context): raw system calls, static buffers, no malloc, no stdio.
 */
#ifndef SSI_CHANS_H
#define SSI_CHANS_H

#include "ssi_flow.h"
#include "ssi_tunnel_link.h"

#include <stdint.h>

/* One tunnel as the deputy sees it: the home descriptor `fd`. */
typedef struct {
    int chan;                    /* the id: the fd number in the body (and here at freeze) */
    uint64_t home_dev, home_ino; /* of fd 2, kept open at its number for log lines */
    int fd;                      /* the home descriptor, moved to a high slot (the fd base) */
    uint8_t dir, flags;          /* SSI_TUNNEL_DIR_*, SSI_TUNNEL_CHAN_* */
    /* Home -> body: credit; body -> home: flow.queued bytes wait in
     * out[out_off..], flow.unacked are written, credit not returned yet. */
    ssi_flow_t flow;
    uint32_t out_off;
    int in_done;  /* home -> body: EOF sent, or the body closed */
    int out_eof;  /* the body's side reached EOF: close after flushing */
    int out_done; /* home side closed (EOF done or EPIPE) */
    int dynamic;  /* added at run time (netproxy): removed once done */
    int dead;     /* to be removed at the next sweep */
    /* flow.win bytes, mapped at the first DATA: after the deputy released
     * the program's memory, and only for channels that carry data. */
    uint8_t *out;
} ssi_chans_chan_t;

/* ---- the data link ---------------------------------------------------------- */

/* The link to the body's agent (set up by the deputy's connect). */
ssi_tunnel_link_t *ssi_chans_link(void);

/* Sends one frame; a link that fails ends the deputy (ssi_chans_lost). */
void ssi_chans_send(unsigned type, unsigned chan, const void *p, uint32_t len);

/* The body is unreachable (gone, or about to be killed by its agent):
 * says so on stderr and ends as if killed by SIGKILL. */
__attribute__((noreturn)) void ssi_chans_lost(long err);
/* What ssi_chans_lost tries first (recovery from a checkpoint: it returns
 * only if it could not); 0: none. */
void ssi_chans_set_lost_hook(void (*fn)(long err));

/* Ends the process as if killed by sig (the parent's wait sees
 * WIFSIGNALED), without a core dump (the body dumped its own). */
__attribute__((noreturn)) void ssi_chans_die_by(int sig);

/* ---- the deputy's descriptors ------------------------------------------------ */

/* Picks the fd base once (near the top of RLIMIT_NOFILE, never raised). */
void ssi_chans_pick_fd_base(void);

/* Descriptors >= this are the deputy's own (links, tunnels' home fds). */
int ssi_chans_fd_base(void);

/* Moves fd to the deputy's range (closes the old number, except fd 2:
 * the deputy's own last words go to the home stderr). */
long ssi_chans_high_fd(long fd);

/* ---- the table ------------------------------------------------------------------ */

int ssi_chans_count(void);
ssi_chans_chan_t *ssi_chans_at(int i);

/* The channel with id chan, or NULL. */
ssi_chans_chan_t *ssi_chans_find(unsigned chan);

/* Empties the table, then adds the static channels of the agent's ACCEPT. */
void ssi_chans_reset(void);
void ssi_chans_add_static(const ssi_tunnel_chan_t *c);

/* Adds a channel at run time for home socket fd (which stays at fd) and
 * tells the agent (NEWCHAN; parent: the listener it was accepted on, or
 * SSI_TUNNEL_NOPARENT; addr: the peer's). The channel id or -errno. */
long ssi_chans_new(int fd, unsigned dir, unsigned flags, unsigned parent, const void *addr,
                   uint32_t alen);

/* 1 when home fd fd is a live channel's. */
int ssi_chans_has_fd(int fd);

/* The body closed its descriptor fd: a channel using home fd fd keeps
 * running on a high copy (a listener or datagram socket is closed and its
 * channel ends). 1 when fd belonged to a channel. */
int ssi_chans_release_fd(int fd);

/* The home socket of static channel chan (0-2: kept above the body's
 * range) when the channel is a socket's, else -1. */
int ssi_chans_std_fd(unsigned chan);

/* Moves accepted channel chan's home socket to fd (the body's number). */
long ssi_chans_attach(unsigned chan, int fd);

/* The home descriptor of the tunnelled terminal whose channel (the body's
 * fd number) is chan, or -EBADF. */
long ssi_chans_tty_fd(int chan);

/* Removes the run-time channels that are done both ways (and the dead). */
void ssi_chans_sweep(void);

/* DATA bytes in flight to the body on all channels (the link's budget). */
uint32_t ssi_chans_inflight(void);

/* 1 when every byte from the body is written out at home (or dropped). */
int ssi_chans_all_flushed(void);

#endif
