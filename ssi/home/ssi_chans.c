/*
 * ssi_chans.c - the deputy's channel table and its data link (see
 * ssi_chans.h). Part of libssi.so, home side, signal context: raw system
 * calls, static buffers.
 */
#include "ssi_chans.h"

#include "ssi_signal.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

static ssi_tunnel_link_t s_link;
static ssi_chans_chan_t s_chans[SSI_TUNNEL_MAX_CHANS];
static int s_nchans;
static unsigned s_next_chan = SSI_TUNNEL_CHAN_DYN_MIN;
/* The deputy's own descriptors (links, self-pipe, the tunnels' home fds)
 * live at or above this: every lower number is the body's, whose home
 * files (vfs-proxy) the deputy opens at the numbers the body picks. */
static int s_fd_base;

/* ---- the data link ------------------------------------------------------------ */

ssi_tunnel_link_t *ssi_chans_link(void)
{
    return &s_link;
}

void ssi_chans_die_by(int sig)
{
    uint64_t zero[2] = {0, 0};
    long pid = ssi_sys0(SYS_getpid);
    uint64_t set;
    if (sig < 1 || sig > 64 || sig == SIGSTOP)
        sig = SIGKILL;
    /* The body already dumped core where it ran, if at all. */
    ssi_sys4(SYS_prlimit64, 0, RLIMIT_CORE, (long)zero, 0);
    if (sig != SIGKILL)
        ssi_signal_action(sig, (void (*)(void))SIG_DFL, 0, 0, 0);
    set = 1ULL << (sig - 1);
    ssi_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, 8);
    ssi_sys2(SYS_kill, pid, sig);
    /* Signals whose default is to ignore cannot kill; nor could they have
     * killed the body. Keep the shell's convention. */
    ssi_sys1(SYS_exit_group, 128 + sig);
    __builtin_unreachable();
}

static void (*s_lost_hook)(long err);

void ssi_chans_set_lost_hook(void (*fn)(long err))
{
    s_lost_hook = fn;
}

void ssi_chans_lost(long err)
{
    if (s_lost_hook)
        s_lost_hook(err); /* returns only if it could not recover */
    ssi_sys_log("ssi-deputy: ",
                "lost the connection to the body's agent; the body is gone, exiting as killed by "
                "SIGKILL",
                0, err);
    ssi_chans_die_by(SIGKILL);
}

void ssi_chans_send(unsigned type, unsigned chan, const void *p, uint32_t len)
{
    long rc = ssi_tunnel_send(&s_link, type, chan, p, len);
    if (rc < 0)
        ssi_chans_lost(rc);
}

/* ---- the deputy's descriptors ----------------------------------------------------- */

/* Near the top of the body's RLIMIT_NOFILE (the same as ours), so that
 * files the body opens can take every lower number here too. Not above
 * it: raising our limit would change the process if the move fails and it
 * thaws at home. */
void ssi_chans_pick_fd_base(void)
{
    struct rlimit rl;
    long soft;
    if (s_fd_base)
        return;
    if (ssi_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) < 0 || rl.rlim_cur > (1 << 20))
        rl.rlim_cur = 1024;
    soft = (long)rl.rlim_cur;
    s_fd_base = soft > 1280 ? (int)soft - 256 : (soft > 128 ? (int)soft - 64 : (int)soft / 2);
}

int ssi_chans_fd_base(void)
{
    return s_fd_base;
}

long ssi_chans_high_fd(long fd)
{
    long h;
    if (fd < 0 || fd >= s_fd_base)
        return fd;
    h = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, s_fd_base);
    if (h < 0)
        return fd;
    if (fd != 2)
        ssi_sys1(SYS_close, fd);
    return h;
}

/* ---- the table ---------------------------------------------------------------------- */

int ssi_chans_count(void)
{
    return s_nchans;
}

ssi_chans_chan_t *ssi_chans_at(int i)
{
    return &s_chans[i];
}

ssi_chans_chan_t *ssi_chans_find(unsigned id)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == (int)id)
            return &s_chans[i];
    return 0;
}

static ssi_chans_chan_t *s_by_fd(int fd)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].fd == fd && !s_chans[i].dead)
            return &s_chans[i];
    return 0;
}

void ssi_chans_reset(void)
{
    s_nchans = 0;
}

void ssi_chans_add_static(const ssi_tunnel_chan_t *c)
{
    ssi_chans_chan_t *ch;
    if (s_nchans >= SSI_TUNNEL_MAX_CHANS)
        return;
    ch = &s_chans[s_nchans++];
    ssi_sys_memzero(ch, sizeof(*ch));
    ch->chan = c->chan;
    ch->fd = c->chan;
    ch->dir = c->dir;
    ch->flags = c->flags;
    ch->in_done = !(c->dir & SSI_TUNNEL_DIR_IN);
    ssi_flow_init(&ch->flow, ssi_tunnel_window(c->flags));
    if (c->flags & SSI_TUNNEL_CHAN_LISTEN)
        ch->in_done = ch->out_done = 1;
}

long ssi_chans_new(int fd, unsigned dir, unsigned flags, unsigned parent, const void *addr,
                   uint32_t alen)
{
    ssi_tunnel_newchan_t m;
    ssi_chans_chan_t *c;
    unsigned id, tries;
    if (s_nchans >= SSI_TUNNEL_MAX_CHANS)
        return -EMFILE;
    for (tries = 0;; tries++) {
        id = s_next_chan++;
        if (s_next_chan > 65535)
            s_next_chan = SSI_TUNNEL_CHAN_DYN_MIN;
        if (!ssi_chans_find(id))
            break;
        if (tries > 65536)
            return -EMFILE;
    }
    c = &s_chans[s_nchans++];
    ssi_sys_memzero(c, sizeof(*c));
    c->chan = (int)id;
    c->fd = fd;
    c->dir = (uint8_t)dir;
    c->flags = (uint8_t)flags;
    c->in_done = (flags & SSI_TUNNEL_CHAN_LISTEN) || !(dir & SSI_TUNNEL_DIR_IN);
    ssi_flow_init(&c->flow, ssi_tunnel_window(flags));
    c->out_done = (flags & SSI_TUNNEL_CHAN_LISTEN) || !(dir & SSI_TUNNEL_DIR_OUT);
    c->dynamic = 1;
    ssi_sys_memzero(&m, sizeof(m));
    m.chan = (uint16_t)id;
    m.dir = (uint8_t)dir;
    m.flags = (uint8_t)flags;
    m.parent = (uint16_t)parent;
    if (addr && alen) {
        m.alen = (uint16_t)(alen < sizeof(m.addr) ? alen : sizeof(m.addr));
        ssi_sys_memcopy(m.addr, addr, m.alen);
    }
    ssi_chans_send(SSI_TUNNEL_NEWCHAN, id, &m, sizeof(m));
    return (long)id;
}

int ssi_chans_has_fd(int fd)
{
    return s_by_fd(fd) != 0;
}

int ssi_chans_std_fd(unsigned chan)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == (int)chan && !s_chans[i].dynamic && !s_chans[i].dead &&
            (s_chans[i].flags & SSI_TUNNEL_CHAN_SOCKET))
            return s_chans[i].fd;
    return -1;
}

int ssi_chans_release_fd(int fd)
{
    ssi_chans_chan_t *c = s_by_fd(fd);
    if (!c)
        return 0;
    if (c->flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM)) {
        /* Nobody accepts (receives) any more: close at home, end the
         * channel. */
        ssi_sys1(SYS_close, fd);
        c->fd = -1;
        c->dead = 1;
        ssi_chans_send(SSI_TUNNEL_CLOSE, (unsigned)c->chan, 0, 0);
        return 1;
    }
    /* The connection lives on until both directions are done (the body
     * may hold a dup); the number is the body's again. */
    {
        long h = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, s_fd_base);
        if (h >= 0) {
            ssi_sys1(SYS_close, fd);
            c->fd = (int)h;
        }
    }
    return 1;
}

long ssi_chans_attach(unsigned chan, int fd)
{
    ssi_chans_chan_t *c = ssi_chans_find(chan);
    long rc;
    if (!c || !c->dynamic || (c->flags & SSI_TUNNEL_CHAN_LISTEN) || fd < 0 || fd >= s_fd_base)
        return -EBADF;
    if (c->fd == fd)
        return 0;
    rc = ssi_sys3(SYS_dup3, c->fd, fd, O_CLOEXEC);
    if (rc < 0)
        return rc;
    ssi_sys1(SYS_close, c->fd);
    c->fd = fd;
    return 0;
}

long ssi_chans_tty_fd(int chan)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == chan && (s_chans[i].flags & SSI_TUNNEL_CHAN_TTY))
            return s_chans[i].fd;
    return -EBADF;
}

void ssi_chans_sweep(void)
{
    int i;
    for (i = 0; i < s_nchans;) {
        ssi_chans_chan_t *c = &s_chans[i];
        /* Listeners and datagram sockets end only when the body closes
         * them (a seqpacket peer's end leaves the socket to the body). */
        if (c->dynamic && !(c->flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM)) &&
            c->in_done && c->out_done)
            c->dead = 1;
        if (!c->dead) {
            i++;
            continue;
        }
        if (c->fd >= 0 && !(c->flags & SSI_TUNNEL_CHAN_LISTEN))
            ssi_sys1(SYS_close, c->fd);
        if (c->out)
            ssi_sys2(SYS_munmap, (long)c->out, c->flow.win);
        if (i != s_nchans - 1)
            ssi_sys_memcopy(c, &s_chans[s_nchans - 1], sizeof(*c)); /* the last one moves here */
        s_nchans--;
    }
}

uint32_t ssi_chans_inflight(void)
{
    uint32_t t = 0;
    int i;
    for (i = 0; i < s_nchans; i++)
        t += ssi_flow_inflight(&s_chans[i].flow);
    return t;
}

int ssi_chans_all_flushed(void)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].flow.queued && !s_chans[i].out_done)
            return 0;
    return 1;
}
