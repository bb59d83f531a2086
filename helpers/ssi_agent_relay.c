/*
 * ssi_agent_relay.c - ssi-agent's channels: the frames from the deputy,
 * what the body writes sent home as DATA, what home sends written to the
 * body, per-channel credit (rpc/ssi_flow) under the link's budget, the
 * channels the netproxy adds at run time (NEWCHAN), a home peer's reset,
 * and the relay loop. Calls the link, /proc and the base; the homecoming
 * (above) only through the hook main sets (ssi_agent_int.h).
 */
#include "ssi_agent_int.h"

#include "ssi_fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static ssi_agent_home_fn s_home_hook;

void ssi_agent_relay_set_home(ssi_agent_home_fn fn)
{
    s_home_hook = fn;
}

/* NEWCHAN: a socket of the body became a channel at home (connected,
 * listening, or accepted on a listener): make its socketpair and pass
 * the body's end, over the control socket or the listener's pair. */
static void s_new_chan(const ssi_tunnel_hdr_t *h)
{
    ssi_tunnel_newchan_t m;
    ssi_tunnel_pass_t msg;
    ssi_agent_chan_t *c, *parent = NULL;
    int sp[2], via;
    long n;

    if (h->len != sizeof(m))
        ssi_agent_fail("protocol error: NEWCHAN");
    memcpy(&m, ssi_agent.frame, sizeof(m));
    if (m.chan != h->chan || m.chan < SSI_TUNNEL_CHAN_DYN_MIN || ssi_agent_chan_find(m.chan))
        ssi_agent_fail("protocol error: NEWCHAN for channel %u", h->chan);
    if (m.parent != SSI_TUNNEL_NOPARENT) {
        parent = ssi_agent_chan_find(m.parent);
        if (!parent || !(parent->flags & SSI_TUNNEL_CHAN_LISTEN))
            ssi_agent_fail("protocol error: NEWCHAN on channel %u, not a listener", m.parent);
    }
    if (ssi_agent.nchans >= SSI_TUNNEL_MAX_CHANS)
        ssi_agent_fail("protocol error: too many channels");
    if (socketpair(AF_UNIX,
                   (m.flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM) ? SOCK_SEQPACKET
                                                                               : SOCK_STREAM) |
                       SOCK_CLOEXEC,
                   0, sp) < 0)
        ssi_agent_fail("socketpair: %s", strerror(errno));
    c = ssi_agent_chan_add(m.chan, m.dir, m.flags);
    c->fd = sp[0];
    c->rd_done = !(m.dir & SSI_TUNNEL_DIR_OUT) ||
                 (m.flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM));
    c->wr_done = !(m.dir & SSI_TUNNEL_DIR_IN) || (m.flags & SSI_TUNNEL_CHAN_LISTEN);
    c->dynamic = 1;
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    memset(&msg, 0, sizeof(msg));
    msg.magic = SSI_TUNNEL_PASS_MAGIC;
    msg.chan = m.chan;
    msg.alen = m.alen <= sizeof(msg.addr) ? m.alen : sizeof(msg.addr);
    memcpy(msg.addr, m.addr, msg.alen);
    via = parent ? parent->fd : ssi_agent.ctl[0];
    /* A listener whose queue is full (the body does not accept) drops the
     * connection, like a full backlog; the body waits on the control
     * socket for its own connect/listen, so that one never fills. */
    c->body_ino = ssi_agent_ino(sp[1]); /* coming home: the body's fd is ours */
    n = ssi_fdpass_send(via, &msg, sizeof(msg), sp[1], parent ? MSG_DONTWAIT : 0);
    close(sp[1]);
    if (n != (long)sizeof(msg)) {
        ssi_agent_log("channel %u: cannot pass it to the body (%s); closed", m.chan,
                      n < 0 ? strerror((int)-n) : "short");
        c->rd_done = c->wr_done = 1;
        ssi_agent_link_send(SSI_TUNNEL_CLOSE, m.chan, NULL, 0);
        ssi_agent_link_send(SSI_TUNNEL_EOF, m.chan, NULL, 0);
        return;
    }
    ssi_agent_log("channel %u added (%s%s)", m.chan,
                  m.flags & SSI_TUNNEL_CHAN_LISTEN ? "listener" : "socket",
                  parent ? ", accepted" : "");
}

/* Removes run-time channels that are done both ways. */
static void s_sweep(void)
{
    int i;
    for (i = 0; i < ssi_agent.nchans;) {
        ssi_agent_chan_t *c = &ssi_agent.chans[i];
        if (!c->dead && !(c->dynamic && c->rd_done && c->wr_done &&
                          !(c->flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM)))) {
            i++;
            continue;
        }
        if (c->fd >= 0)
            close(c->fd);
        free(c->buf);
        ssi_agent.chans[i] = ssi_agent.chans[--ssi_agent.nchans];
    }
}

/* Returns v bytes of credit on channel chan. */
static void s_credit(unsigned chan, uint32_t v)
{
    ssi_agent_link_send(SSI_TUNNEL_WINDOW_UPD, chan, &v, 4);
}

/* The home peer of c reset the connection and everything it sent before
 * is written: the body's next read must fail with ECONNRESET, as at home.
 * Linux gives an AF_UNIX stream socket exactly that (sk_err) when its
 * peer is closed with unread data in the peer's receive queue. So: make
 * sure our end holds one unread byte - sent from the body's end, which we
 * borrow with pidfd_getfd (found by inode, as for the homecoming) - then
 * close our end. The body then reads what was queued, then ECONNRESET
 * once, then EOF; its writes fail with EPIPE (SIGPIPE unless
 * MSG_NOSIGNAL), as after a reset at home. Nothing in the body changes:
 * its read/recv stay native. If the body's end cannot be borrowed (it
 * closed it) the body sees EOF instead. */
static void s_reset_body(ssi_agent_chan_t *c)
{
    int queued = 0;
    if (ioctl(c->fd, FIONREAD, &queued) < 0 || queued <= 0) {
        int pfd = (int)syscall(SYS_pidfd_open, ssi_agent.body, 0);
        int bfd = pfd >= 0 ? ssi_agent_proc_fd_of(c) : -1;
        int fd = bfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pfd, bfd, 0) : -1;
        if (fd >= 0 && ssi_agent_ino(fd) == c->body_ino &&
            send(fd, "R", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
            ssi_agent_log("channel %u: cannot mark the reset (%s): the body reads EOF",
                          (unsigned)c->chan, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (pfd >= 0)
            close(pfd);
    }
    ssi_agent_log("channel %u: the home peer reset the connection", (unsigned)c->chan);
    close(c->fd);
    c->fd = -1;
    c->wr_done = 1;
    ssi_flow_drop(&c->flow); /* nothing more is written; no credit goes back */
    if (!c->rd_done) {
        c->rd_done = 1;
        ssi_agent_link_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
    }
}

/* DATA from home for c: into its buffer (within its window), and on to
 * the body at once. */
static void s_data_in(ssi_agent_chan_t *c, const ssi_tunnel_hdr_t *h)
{
    uint32_t had;
    if (!c || !(c->dir & SSI_TUNNEL_DIR_IN) || c->in_eof)
        ssi_agent_fail("protocol error: DATA on channel %u", h->chan);
    if (c->wr_done || ssi_agent.body_done) {
        s_credit(h->chan, h->len); /* the body is gone or closed it: drop */
        return;
    }
    had = c->flow.queued; /* in buf, at off */
    if (ssi_flow_received(&c->flow, h->len) < 0)
        ssi_agent_fail("protocol error: window overrun on channel %u", h->chan);
    if (c->off + had + h->len > c->flow.win) {
        memmove(c->buf, c->buf + c->off, had);
        c->off = 0;
    }
    memcpy(c->buf + c->off + had, ssi_agent.frame, h->len);
    /* Our end is non-blocking: hand it over now rather than after one
     * more poll. */
    ssi_agent_relay_write(c);
}

void ssi_agent_relay_frame(const ssi_tunnel_hdr_t *h)
{
    ssi_agent_chan_t *c = ssi_agent_chan_find(h->chan);
    uint32_t v;
    int32_t sig;
    if (h->type == SSI_TUNNEL_NEWCHAN) {
        s_new_chan(h);
        return;
    }
    /* Late frames for a run-time channel that ended here. */
    if (!c && h->chan >= SSI_TUNNEL_CHAN_DYN_MIN && h->type != SSI_TUNNEL_SIGNAL)
        return;
    if (c && (c->flags & SSI_TUNNEL_CHAN_DGRAM)) {
        /* One datagram per frame, written as one message (queued while
         * the body's end is full: its credit then waits, the deputy stops
         * reading, and the home socket's own queue decides, as it would
         * with the program at home: UDP drops, seqpacket blocks). EOF: a
         * seqpacket peer at home closed or shut down its end. */
        if (h->type == SSI_TUNNEL_DATA)
            s_data_in(c, h);
        else if (h->type == SSI_TUNNEL_CLOSE)
            c->dead = 1;
        else if (h->type == SSI_TUNNEL_EOF) {
            c->in_eof = 1;
            if (c->flow.queued == 0 && !c->wr_done) {
                shutdown(c->fd, SHUT_WR);
                c->wr_done = 1;
            }
        } else
            ssi_agent_fail("protocol error: frame %u on datagram channel %u", h->type, h->chan);
        return;
    }
    if (c && (c->flags & SSI_TUNNEL_CHAN_LISTEN)) {
        /* The body closed its listener: the deputy closed it at home. */
        if (h->type == SSI_TUNNEL_CLOSE && c->dynamic)
            c->dead = 1;
        else if (h->type != SSI_TUNNEL_CLOSE)
            ssi_agent_fail("protocol error: frame %u on listener channel %u", h->type, h->chan);
        return;
    }
    switch (h->type) {
    case SSI_TUNNEL_DATA: s_data_in(c, h); return;
    case SSI_TUNNEL_EOF:
        if (!c)
            ssi_agent_fail("protocol error: EOF on channel %u", h->chan);
        c->in_eof = 1;
        if (c->flow.queued == 0 && !c->wr_done) {
            shutdown(c->fd, SHUT_WR);
            c->wr_done = 1;
        }
        return;
    case SSI_TUNNEL_RESET:
        if (!c || !(c->flags & SSI_TUNNEL_CHAN_SOCKET))
            ssi_agent_fail("protocol error: RESET on channel %u", h->chan);
        c->in_eof = 1;
        c->in_reset = 1;
        if (c->flow.queued == 0 && !c->wr_done)
            s_reset_body(c);
        return;
    case SSI_TUNNEL_CLOSE:
        /* Nobody reads this at home any more: the body's next write must
         * fail with EPIPE (and raise SIGPIPE), as it would have there. */
        if (!c)
            ssi_agent_fail("protocol error: CLOSE on channel %u", h->chan);
        shutdown(c->fd, SHUT_RD);
        if (!c->rd_done) {
            c->rd_done = 1;
            ssi_agent_link_send(SSI_TUNNEL_EOF, h->chan, NULL, 0);
        }
        return;
    case SSI_TUNNEL_WINDOW_UPD:
        if (!c || h->len != 4)
            ssi_agent_fail("protocol error: WINDOW");
        memcpy(&v, ssi_agent.frame, 4);
        if (ssi_flow_credit(&c->flow, v) < 0)
            ssi_agent_fail("protocol error: window credit overflow on channel %u", h->chan);
        return;
    case SSI_TUNNEL_SIGNAL:
        if (h->len != 4)
            ssi_agent_fail("protocol error: SIGNAL");
        memcpy(&sig, ssi_agent.frame, 4);
        if (sig >= 1 && sig <= 64 && !ssi_agent.body_done) {
            ssi_agent_log("signal %d for the body", sig);
            kill(ssi_agent.body, ssi_agent_link_signal(sig));
        }
        return;
    case SSI_TUNNEL_HOME_REQ: {
        ssi_tunnel_home_req_t r = {0, 0};
        if (h->len == sizeof(r))
            memcpy(&r, ssi_agent.frame, sizeof(r));
        ssi_agent.home_flags = r.flags;
        ssi_agent.home_wanted = 1;
        return;
    }
    case SSI_TUNNEL_HOME_VERDICT:
        /* Only while a homecoming waits for it; a late one is stale. */
        if (h->len == 1)
            ssi_agent.home_verdict = ssi_agent.frame[0];
        return;
    case SSI_TUNNEL_WINSZ:
        /* Kept for the body's shim to answer TIOCGWINSZ (not wired yet). */
        if (c && h->len == sizeof(ssi_tunnel_winsz_t))
            memcpy(&ssi_agent.winsz[c - ssi_agent.chans], ssi_agent.frame,
                   sizeof(ssi_tunnel_winsz_t));
        return;
    default: ssi_agent_fail("protocol error: frame type %u from the deputy", h->type);
    }
}

/* DATA bytes sent on every channel and not yet credited back. */
static uint32_t s_inflight(void)
{
    uint32_t t = 0;
    int i;
    for (i = 0; i < ssi_agent.nchans; i++)
        t += ssi_flow_inflight(&ssi_agent.chans[i].flow);
    return t;
}

/* Its credit, one frame, and what the link's budget has left. */
uint32_t ssi_agent_relay_room(const ssi_agent_chan_t *c)
{
    return ssi_flow_room(&c->flow, sizeof(ssi_agent.frame), s_inflight(),
                         ssi_tunnel_budget(&ssi_agent.link));
}

void ssi_agent_relay_data(ssi_agent_chan_t *c, uint32_t n)
{
    ssi_flow_sent(&c->flow, n);
    ssi_agent_link_send(SSI_TUNNEL_DATA, (unsigned)c->chan, ssi_agent.frame, n);
}

void ssi_agent_relay_read(ssi_agent_chan_t *c)
{
    uint32_t k = ssi_agent_relay_room(c);
    ssize_t n;
    if (k == 0)
        return;
    n = read(c->fd, ssi_agent.frame, k);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        /* Once the body is dead, an empty queue is the end: anything it
         * wrote was already queued when it died. */
        if (errno == EAGAIN && ssi_agent.body_done) {
            c->rd_done = 1;
            ssi_agent_link_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
        }
        return;
    }
    if (n <= 0) {
        c->rd_done = 1;
        ssi_agent_link_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
        return;
    }
    ssi_agent_relay_data(c, (uint32_t)n);
}

/* The next whole frame queued on a datagram channel (ssi_tunnel_dghdr_t
 * + payload, as the deputy sent it): its length. */
static uint32_t s_dgram_next(const ssi_agent_chan_t *c)
{
    ssi_tunnel_dghdr_t h;
    uint32_t n;
    if (c->flow.queued < sizeof(h))
        return c->flow.queued;
    memcpy(&h, c->buf + c->off, sizeof(h));
    n = (uint32_t)sizeof(h) +
        (h.len < SSI_TUNNEL_DGRAM_MAX ? h.len : (uint32_t)SSI_TUNNEL_DGRAM_MAX);
    return n < c->flow.queued ? n : c->flow.queued;
}

/* Writes c's queued datagrams, one message each, until the body's end is
 * full; each one's credit goes back at once (the deputy waits for room for
 * a whole datagram). One larger than the pair can take is dropped alone
 * (EMSGSIZE). The body gone or its end closed: the rest is dropped, the
 * home side told (CLOSE), as for a stream. */
static void s_dgram_write(ssi_agent_chan_t *c)
{
    while (c->flow.queued && !c->wr_done) {
        uint32_t k = s_dgram_next(c), v;
        ssize_t n = send(c->fd, c->buf + c->off, k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (n < 0 && errno != EMSGSIZE) {
            v = ssi_flow_drop(&c->flow);
            c->wr_done = 1;
            ssi_agent_link_send(SSI_TUNNEL_CLOSE, (unsigned)c->chan, NULL, 0);
            if (v)
                s_credit((unsigned)c->chan, v);
            return;
        }
        c->off += k;
        v = ssi_flow_written(&c->flow, k) + c->flow.unacked;
        c->flow.unacked = 0;
        s_credit((unsigned)c->chan, v);
    }
    c->off = 0;
    if (c->in_eof && !c->wr_done) {
        shutdown(c->fd, SHUT_WR);
        c->wr_done = 1;
    }
}

void ssi_agent_relay_write(ssi_agent_chan_t *c)
{
    ssize_t n;
    uint32_t v;
    if (c->flags & SSI_TUNNEL_CHAN_DGRAM) {
        s_dgram_write(c);
        return;
    }
    n = write(c->fd, c->buf + c->off, c->flow.queued);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        /* The body closed its end (EPIPE): stop the home side reading,
         * and give back the credit of what it will never read. */
        uint32_t drop = ssi_flow_drop(&c->flow);
        c->wr_done = 1;
        ssi_agent_link_send(SSI_TUNNEL_CLOSE, (unsigned)c->chan, NULL, 0);
        if (drop)
            s_credit((unsigned)c->chan, drop);
        return;
    }
    c->off += (uint32_t)n;
    /* Credit at half a window only (ssi_flow): a small request sends none
     * (the sender has plenty left), a stream gets it while the other half
     * is still in flight. */
    v = ssi_flow_written(&c->flow, (uint32_t)n);
    if (c->flow.queued == 0)
        c->off = 0;
    if (v)
        s_credit((unsigned)c->chan, v);
    if (c->flow.queued == 0 && c->in_eof && !c->wr_done && c->in_reset)
        s_reset_body(c);
    else if (c->flow.queued == 0 && c->in_eof && !c->wr_done) {
        shutdown(c->fd, SHUT_WR);
        c->wr_done = 1;
    }
}

static int s_drained(void)
{
    int i;
    for (i = 0; i < ssi_agent.nchans; i++)
        if (!ssi_agent.chans[i].rd_done)
            return 0;
    return 1;
}

void ssi_agent_relay_run(void)
{
    int pidfd = (int)syscall(SYS_pidfd_open, ssi_agent.body, 0);
    for (;;) {
        struct pollfd p[2 + SSI_TUNNEL_MAX_CHANS];
        int idx[2 + SSI_TUNNEL_MAX_CHANS], n = 0, i, r, room, drain = 0;

        if (ssi_agent.stop)
            ssi_agent_fail("stopped by a signal; body killed");
        ssi_agent_link_reap();
        s_sweep();
        if (ssi_agent.body_done && s_drained())
            break;
        if (ssi_agent.home_wanted) {
            ssi_agent.home_wanted = 0;
            if (s_home_hook)
                s_home_hook(pidfd);
            continue;
        }
        p[n].fd = ssi_tunnel_link_fd(&ssi_agent.link);
        p[n++].events = POLLIN;
        p[n].fd = pidfd;
        p[n++].events = pidfd >= 0 && !ssi_agent.body_done ? POLLIN : 0;
        room = s_inflight() < ssi_tunnel_budget(&ssi_agent.link);
        for (i = 0; i < ssi_agent.nchans; i++) {
            ssi_agent_chan_t *c = &ssi_agent.chans[i];
            int credit = c->flow.credit > 0;
            short ev = 0;
            if (!c->rd_done && credit && room)
                ev |= POLLIN;
            if (c->flow.queued && !c->wr_done && !ssi_agent.body_done)
                ev |= POLLOUT;
            /* After the body's death, drain what it left even if the
             * queue never signals again (read sees EAGAIN = done). */
            if (ssi_agent.body_done && !c->rd_done && credit && room)
                drain = 1;
            if (!ev && !(ssi_agent.body_done && !c->rd_done && credit))
                continue;
            p[n].fd = c->fd;
            p[n].events = ev ? ev : POLLIN;
            idx[n++] = i;
        }
        /* Once the body is gone, what it left is read without waiting;
         * what waits for credit waits on the link, not in a busy loop. */
        r = poll(p, (nfds_t)n, drain ? 0 : 200);
        if (r < 0 && errno != EINTR)
            ssi_agent_fail("poll: %s", strerror(errno));
        if (r < 0)
            continue;
        if (p[0].revents) {
            do {
                ssi_tunnel_hdr_t h;
                long rc =
                    ssi_tunnel_recv(&ssi_agent.link, &h, ssi_agent.frame, sizeof(ssi_agent.frame));
                if (rc < 0)
                    ssi_agent_link_lost(pidfd, rc);
                ssi_agent_relay_frame(&h);
            } while (ssi_tunnel_pending(&ssi_agent.link));
        }
        for (i = 2; i < n; i++) {
            ssi_agent_chan_t *c = &ssi_agent.chans[idx[i]];
            short rv = p[i].revents;
            if ((rv & (POLLOUT | POLLERR | POLLHUP)) && c->flow.queued && !c->wr_done &&
                !ssi_agent.body_done)
                ssi_agent_relay_write(c);
            if (!c->rd_done && c->flow.credit > 0 && (rv || ssi_agent.body_done))
                ssi_agent_relay_read(c);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
}
