/*
 * ssi_agent_home.c - ssi-agent's part of coming home.
 *
 * The deputy asks (HOME_REQ, after it stopped reading home input). We check
 * what could not exist at home, freeze the body with the freeze protocol
 * (we are its parent and pid 1 of its namespace), send what it wrote before
 * the freeze, then its image, and wait for the deputy's verdict: 'X' ends
 * the body (and us: not reported as the program's exit), 'C' thaws it and
 * the relay goes on. docs/ENGINE.md, "Coming home".
 *
 * Above the relay: calls it, the link, /proc and the base; the relay
 * reaches ssi_agent_home_run only through its hook (ssi_agent_int.h).
 */
#include "ssi_agent_int.h"
#include "ssi_io.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void s_home_refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void s_home_refuse(const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ssi_agent_status("home refused: %s", why);
    ssi_agent_link_send(SSI_TUNNEL_HOME_REFUSE, 0, why, (uint32_t)strlen(why));
}

__attribute__((format(printf, 4, 5))) static void s_obstacle(char *why, size_t cap, int *n,
                                                             const char *fmt, ...)
{
    size_t used = strlen(why);
    va_list ap;
    if ((*n)++ > 0 && used + 3 < cap) {
        memcpy(why + used, "; ", 3);
        used += 2;
    }
    va_start(ap, fmt);
    if (used + 1 < cap)
        vsnprintf(why + used, cap - used, fmt, ap);
    va_end(ap);
}

/* What cannot come home (every obstacle): children made here, descriptors
 * opened here. */
static int s_home_check_body(char *why, size_t cap)
{
    char path[80], link[300];
    struct dirent *e;
    DIR *d;
    FILE *f;
    int kid = 0, nobst = 0, nfds = 0;
    char fds[300] = "";

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)ssi_agent_proc_pid(),
             (int)ssi_agent_proc_pid());
    f = fopen(path, "re");
    if (f) {
        kid = fscanf(f, "%d", &kid) == 1 ? kid : 0;
        fclose(f);
    }
    /* Every obstacle, joined with "; ": the user can remove them all. */
    why[0] = 0;
    if (kid > 0)
        s_obstacle(why, cap, &nobst,
                   "it has child processes where it runs; they cannot follow it home");
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)ssi_agent_proc_pid());
    d = opendir(path);
    if (!d) {
        snprintf(why, cap, "cannot list its descriptors: %s", strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        char lp[128];
        unsigned long long ino;
        ssize_t n;
        int fd;
        ssi_agent_chan_t *c;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fd = atoi(e->d_name);
        snprintf(lp, sizeof(lp), "%s/%d", path, fd);
        n = readlink(lp, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = 0;
        /* One of our tunnels (at its own number, or a socket channel the
         * netproxy added, whose home socket the deputy keeps at the body's
         * number): the deputy has the real thing. */
        c = NULL;
        if (sscanf(link, "socket:[%llu]", &ino) == 1) {
            int k;
            for (k = 0; k < ssi_agent.nchans && !c; k++)
                if (ssi_agent.chans[k].body_ino && ssi_agent.chans[k].body_ino == ino)
                    c = &ssi_agent.chans[k];
        }
        if (c)
            continue;
        /* The vfs-proxy's own sockets: not in the image, not brought home. */
        if (sscanf(link, "socket:[%llu]", &ino) == 1 &&
            (ino == ssi_agent.ctl_ino || ino == ssi_agent.call_ino))
            continue;
        /* Made again at home (ssi_epoll.c, ssi_kobj.c). */
        if (!strcmp(link, "anon_inode:[eventpoll]") || !strcmp(link, "anon_inode:[eventfd]") ||
            !strcmp(link, "anon_inode:[timerfd]") || !strcmp(link, "anon_inode:[signalfd]"))
            continue;
        if (!strcmp(link, "/dev/null") || !strcmp(link, "/dev/zero") ||
            !strcmp(link, "/dev/random") || !strcmp(link, "/dev/urandom"))
            continue;
        n = (ssize_t)strlen(fds);
        snprintf(fds + n, sizeof(fds) - (size_t)n, "%s%d (%.60s)", nfds++ ? ", " : "", fd, link);
    }
    closedir(d);
    if (nfds)
        s_obstacle(why, cap, &nobst, "%s %s %s opened on this node and cannot be brought home",
                   nfds > 1 ? "fds" : "fd", fds, nfds > 1 ? "were" : "was");
    return nobst ? -1 : 0;
}

/* Bytes of one IN channel that home has given away and the body has not
 * read: in our buffer and unread in the body's end of the socketpair. */
static uint32_t s_home_unread(const ssi_agent_chan_t *c, int pidfd)
{
    int bfd = ssi_agent_proc_fd_of(c);
    int n = 0, fd = pidfd >= 0 && bfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, bfd, 0) : -1;
    if (fd >= 0) {
        if (ssi_agent_ino(fd) != c->body_ino || ioctl(fd, FIONREAD, &n) < 0)
            n = 0;
        close(fd);
    }
    /* After a failed write (the body closed its end) ours can never be read. */
    return (c->wr_done ? 0 : c->flow.queued) + (uint32_t)n;
}

/* A channel whose input read ahead goes back home with the body (the
 * deputy gives it back to its home pipe, ssi_homeinput.c): not a socket,
 * a terminal or a listener, which cannot take bytes back. */
static int s_home_gives_back(const ssi_agent_chan_t *c)
{
    return (c->dir & SSI_TUNNEL_DIR_IN) &&
           !(c->flags & (SSI_TUNNEL_CHAN_SOCKET | SSI_TUNNEL_CHAN_TTY | SSI_TUNNEL_CHAN_LISTEN |
                         SSI_TUNNEL_CHAN_DGRAM));
}

/* n bytes of channel chan's input read ahead, as HOME_INPUT frames. */
static void s_home_input_frames(unsigned chan, const uint8_t *p, size_t n)
{
    while (n) {
        size_t k = n < SSI_TUNNEL_DATA_MAX ? n : SSI_TUNNEL_DATA_MAX;
        ssi_agent_link_send(SSI_TUNNEL_HOME_INPUT, chan, p, (uint32_t)k);
        p += k;
        n -= k;
    }
}

/* Stream socket channels whose input read ahead waited out the grace:
 * carried home too, where the deputy gives them back if their peer is
 * gone (a fresh pair replaces the socket) or refuses, named. */
static uint8_t s_carry[SSI_TUNNEL_MAX_CHANS];

/* The frozen body's input read ahead of it, per channel that gives it
 * back: the unread bytes of the body's end (peeked, so that a thaw finds
 * them where they were), then our buffer; as HOME_INPUT frames. */
static void s_home_send_input(int pidfd)
{
    int i;
    for (i = 0; i < ssi_agent.nchans; i++) {
        ssi_agent_chan_t *c = &ssi_agent.chans[i];
        int bfd = ssi_agent_proc_fd_of(c), n = 0, fd;
        if (!s_home_gives_back(c) && !s_carry[i])
            continue;
        fd = pidfd >= 0 && bfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, bfd, 0) : -1;
        if (fd >= 0 && ssi_agent_ino(fd) == c->body_ino && ioctl(fd, FIONREAD, &n) == 0 && n > 0) {
            uint8_t *b = malloc((size_t)n);
            ssize_t got = b ? recv(fd, b, (size_t)n, MSG_PEEK | MSG_DONTWAIT) : -1;
            if (!b)
                ssi_agent_fail("out of memory");
            if (got > 0)
                s_home_input_frames((unsigned)c->chan, b, (size_t)got);
            free(b);
        }
        if (fd >= 0)
            close(fd);
        if (!c->wr_done && c->flow.queued)
            s_home_input_frames((unsigned)c->chan, c->buf + c->off, c->flow.queued);
    }
}

/* While the body is given time to read its input, its output keeps
 * flowing home (with the deputy's credit): a relay that must write before
 * it reads again would otherwise never read it. */
static void s_home_pump_out(int ms)
{
    struct pollfd p[1 + SSI_TUNNEL_MAX_CHANS];
    int idx[1 + SSI_TUNNEL_MAX_CHANS], n = 0, i;
    ssi_tunnel_link_t *l = &ssi_agent.link;
    p[n].fd = ssi_tunnel_link_fd(l);
    p[n++].events = POLLIN;
    for (i = 0; i < ssi_agent.nchans; i++) {
        ssi_agent_chan_t *c = &ssi_agent.chans[i];
        if (c->rd_done || ssi_agent_relay_room(c) == 0)
            continue;
        p[n].fd = c->fd;
        p[n].events = POLLIN;
        idx[n++] = i;
    }
    if (poll(p, (nfds_t)n, ssi_tunnel_pending(l) ? 0 : ms) <= 0 && !ssi_tunnel_pending(l))
        return;
    if (p[0].revents || ssi_tunnel_pending(l)) {
        do {
            ssi_tunnel_hdr_t h;
            long rc = ssi_tunnel_recv(l, &h, ssi_agent.frame, sizeof(ssi_agent.frame));
            if (rc < 0)
                ssi_agent_fail("deputy connection lost (%s); body killed", strerror((int)-rc));
            ssi_agent_relay_frame(&h);
        } while (ssi_tunnel_pending(l));
    }
    for (i = 1; i < n; i++) {
        ssi_agent_chan_t *c = &ssi_agent.chans[idx[i]];
        if (p[i].revents && !c->rd_done && c->flow.credit > 0)
            ssi_agent_relay_read(c);
    }
}

/* Home input that the deputy already read cannot be pushed back into a
 * home socket or terminal: wait a little for the body to read it, else
 * refuse. Nothing new comes (the deputy stopped reading). */
static int s_home_input_taken(int pidfd, char *why, size_t cap)
{
    long end = ssi_agent_now_ms() + 2000;
    for (;;) {
        int i, busy = 0;
        for (i = 0; i < ssi_agent.nchans; i++) {
            ssi_agent_chan_t *c = &ssi_agent.chans[i];
            uint32_t n;
            /* A channel whose home end is closed (wr_done after its EOF)
             * still counts: what the body has not read of it would be
             * lost (zdtm's sockets02 lost its one byte). */
            if (!(c->dir & SSI_TUNNEL_DIR_IN) || (c->flags & SSI_TUNNEL_CHAN_LISTEN))
                continue;
            /* A pipe's goes home with the body (s_home_send_input). */
            if (s_home_gives_back(c))
                continue;
            if (c->flow.queued && !c->wr_done)
                ssi_agent_relay_write(c);
            n = s_home_unread(c, pidfd);
            if (n) {
                busy = 1;
                snprintf(why, cap,
                         "fd %d has %u bytes of input already taken from home that "
                         "the program has not read yet; try again later",
                         c->chan, n);
            }
        }
        if (!busy)
            return 0;
        if (ssi_agent_now_ms() > end) {
            /* A stream socket's bytes go home with the body (s_carry):
             * only a terminal's or a datagram channel's refuse here. */
            busy = 0;
            for (i = 0; i < ssi_agent.nchans; i++) {
                ssi_agent_chan_t *c = &ssi_agent.chans[i];
                uint32_t n;
                if (!(c->dir & SSI_TUNNEL_DIR_IN) || (c->flags & SSI_TUNNEL_CHAN_LISTEN) ||
                    s_home_gives_back(c) || !(n = s_home_unread(c, pidfd)))
                    continue;
                if ((c->flags & SSI_TUNNEL_CHAN_SOCKET) &&
                    !(c->flags & (SSI_TUNNEL_CHAN_DGRAM | SSI_TUNNEL_CHAN_TTY))) {
                    s_carry[i] = 1;
                    continue;
                }
                busy = 1;
                snprintf(why, cap,
                         "fd %d has %u bytes of input already taken from home that "
                         "the program has not read yet; try again later",
                         c->chan, n);
            }
            return busy ? -1 : 0;
        }
        s_home_pump_out(20);
    }
}

/* Makes the directories of the freeze socket's path (the body's shim
 * looks there, as at home). */
static void s_home_mkdirs(const char *dir)
{
    char d2[128];
    size_t i;
    snprintf(d2, sizeof(d2), "%s", dir);
    for (i = 1; d2[i]; i++)
        if (d2[i] == '/') {
            d2[i] = 0;
            mkdir(d2, 0711);
            d2[i] = '/';
        }
    mkdir(d2, 0711);
}

/* Freezes the body: returns the connected freeze socket and the time by
 * which its verdict must be written (its own timeout, less a margin). */
static int s_home_freeze(long *deadline, char *why, size_t cap)
{
    struct sockaddr_un sa;
    char dir[96], root[128], tmo[16];
    int lfd, cfd, token, timeout_s = 30;
    long t0;
    struct pollfd p;
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};

    if (ssi_agent_proc_env("SSI_FREEZE_DIR", dir, sizeof(dir)) < 0)
        snprintf(dir, sizeof(dir), "%s", "/run/ssi/freeze");
    if (ssi_agent_proc_env("SSI_FREEZE_TIMEOUT", tmo, sizeof(tmo)) == 0 && atoi(tmo) > 0)
        timeout_s = atoi(tmo);
    /* In the body's own root (its sandbox: an empty tmpfs), which we
     * reach through /proc/PID/root; without a sandbox that is ours. */
    if (dir[0] != '/' || snprintf(root, sizeof(root), "/proc/%d/root%s", (int)ssi_agent_proc_pid(),
                                  dir) >= (int)sizeof(root)) {
        snprintf(why, cap, "bad freeze directory %s", dir);
        return -1;
    }
    s_home_mkdirs(root);
    randombytes_buf(&token, sizeof(token));
    token &= 0x7fffffff;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.sock", root, token) >=
        sizeof(sa.sun_path)) {
        snprintf(why, cap, "freeze socket path too long");
        return -1;
    }
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
        snprintf(why, cap, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    {
        /* The body runs as its user: the socket is that user's alone (the
         * directory lets it through, lists nothing). */
        char proc[32];
        struct stat pst;
        snprintf(proc, sizeof(proc), "/proc/%d", (int)ssi_agent_proc_pid());
        if (stat(proc, &pst) < 0 || chmod(sa.sun_path, 0600) < 0 ||
            chown(sa.sun_path, pst.st_uid, (gid_t)-1) < 0) {
            snprintf(why, cap, "cannot hand the freeze socket to the body: %s", strerror(errno));
            unlink(sa.sun_path);
            close(lfd);
            return -1;
        }
    }
    t0 = ssi_agent_now_ms();
    cfd = -1;
    if (sigqueue(ssi_agent.body, SSI_FREEZE_SIGNAL, (union sigval){.sival_int = token}) == 0) {
        p.fd = lfd;
        p.events = POLLIN;
        if (poll(&p, 1, 10000) == 1)
            cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    unlink(sa.sun_path);
    close(lfd);
    if (cfd >= 0) {
        /* Only the body itself may answer (pids as this namespace sees them). */
        struct ucred cr;
        socklen_t crl = sizeof(cr);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || cr.pid != ssi_agent.body) {
            close(cfd);
            snprintf(why, cap, "another process than the body answered the freeze");
            return -1;
        }
    }
    if (cfd < 0) {
        snprintf(why, cap, "the body did not freeze (%s)", strerror(errno ? errno : ETIMEDOUT));
        return -1;
    }
    setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    *deadline = t0 + timeout_s * 1000L - 3000;
    return cfd;
}

/* Pumps link frames (credit, signals) for up to ms milliseconds. */
static void s_home_pump(int ms)
{
    ssi_tunnel_link_t *l = &ssi_agent.link;
    struct pollfd p = {.fd = ssi_tunnel_link_fd(l), .events = POLLIN};
    if (!ssi_tunnel_pending(l) && poll(&p, 1, ms) <= 0)
        return;
    do {
        ssi_tunnel_hdr_t h;
        long rc = ssi_tunnel_recv(l, &h, ssi_agent.frame, sizeof(ssi_agent.frame));
        if (rc < 0)
            ssi_agent_fail("deputy connection lost (%s) while coming home; body killed",
                           strerror((int)-rc));
        ssi_agent_relay_frame(&h);
    } while (ssi_tunnel_pending(l));
}

/* Sends everything the frozen body wrote, within the deputy's windows. */
static int s_home_drain(long deadline, char *why, size_t cap)
{
    for (;;) {
        int i, busy = -1;
        for (i = 0; i < ssi_agent.nchans; i++) {
            ssi_agent_chan_t *c = &ssi_agent.chans[i];
            while (!c->rd_done && c->flow.credit > 0) {
                uint32_t k = ssi_agent_relay_room(c);
                ssize_t n = k ? read(c->fd, ssi_agent.frame, k) : (errno = EAGAIN, -1);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0)
                    break; /* EAGAIN: all of it is out */
                if (n == 0) {
                    c->rd_done = 1;
                    ssi_agent_link_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
                    break;
                }
                ssi_agent_relay_data(c, (uint32_t)n);
            }
            if (!c->rd_done && ssi_agent_relay_room(c) == 0)
                busy = c->chan;
        }
        if (busy < 0)
            return 0;
        if (ssi_agent_now_ms() > deadline) {
            snprintf(why, cap, "its output on fd %d is not being read at home", busy);
            return -1;
        }
        s_home_pump(100);
    }
}

/* The image goes as HOME_IMAGE frames of up to SSI_TUNNEL_DATA_MAX. */
static uint8_t s_home_buf[SSI_TUNNEL_DATA_MAX];
static uint32_t s_home_len;

static void s_home_put(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        size_t k = sizeof(s_home_buf) - s_home_len;
        if (k > n)
            k = n;
        memcpy(s_home_buf + s_home_len, b, k);
        s_home_len += (uint32_t)k;
        b += k;
        n -= k;
        if (s_home_len == sizeof(s_home_buf)) {
            ssi_agent_link_send(SSI_TUNNEL_HOME_IMAGE, 0, s_home_buf, s_home_len);
            s_home_len = 0;
        }
    }
}

/* Asks the frozen body for its image on cfd and sends it home. */
static int s_home_stream(int cfd, char *why, size_t cap)
{
    ssi_image_req_t req = {.magic = SSI_IMAGE_REQ_MAGIC, .version = SSI_IMAGE_VERSION, .flags = 0};
    ssi_image_hdr_t h;
    ssi_image_rec_t r;
    static uint8_t buf[1 << 16];

    s_home_len = 0;
    if (ssi_io_write_full(cfd, &req, sizeof(req)) < 0 || ssi_io_read_full(cfd, &h, sizeof(h)) < 0 ||
        h.magic != SSI_IMAGE_MAGIC || h.version != SSI_IMAGE_VERSION) {
        snprintf(why, cap, "the body's freeze failed before its image");
        return -1;
    }
    s_home_put(&h, sizeof(h));
    do {
        uint64_t left;
        if (ssi_io_read_full(cfd, &r, sizeof(r)) < 0 || r.size > (1u << 20)) {
            snprintf(why, cap, "the body's image stream broke");
            return -1;
        }
        s_home_put(&r, sizeof(r));
        for (left = r.size + r.data_len; left;) {
            size_t k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
            if (ssi_io_read_full(cfd, buf, k) < 0) {
                snprintf(why, cap, "the body's image stream broke");
                return -1;
            }
            s_home_put(buf, k);
            left -= k;
        }
    } while (r.type != SSI_IMAGE_REC_END);
    if (s_home_len)
        ssi_agent_link_send(SSI_TUNNEL_HOME_IMAGE, 0, s_home_buf, s_home_len);
    ssi_agent_link_send(SSI_TUNNEL_HOME_END, 0, NULL, 0);
    return 0;
}

/* Ends the body after a committed homecoming, tells the deputy, exits. */
__attribute__((noreturn)) static void s_home_commit(int cfd)
{
    char x = SSI_IMAGE_VERDICT_EXIT;
    long end = ssi_agent_now_ms() + 3000;
    int st;
    if (write(cfd, &x, 1) != 1)
        ssi_agent_log("the body did not take the exit verdict: killing it");
    close(cfd);
    /* The body exits at once (exit_group(0) in its freeze handler); it
     * must be gone before the deputy restores it at home. */
    for (;;) {
        pid_t p = waitpid(ssi_agent.body, &st, WNOHANG | __WALL);
        if (p == ssi_agent.body)
            break;
        if (ssi_agent_now_ms() > end) {
            kill(ssi_agent.body, SIGKILL);
            waitpid(ssi_agent.body, &st, __WALL);
            break;
        }
        usleep(5000);
    }
    ssi_agent.body_done = 1;
    ssi_agent_link_send(SSI_TUNNEL_HOME_DONE, 0, NULL, 0);
    ssi_agent_status("home");
    ssi_agent_link_finish();
    exit(0);
}

void ssi_agent_home_run(int pidfd)
{
    char why[400];
    long deadline;
    int cfd;
    char c = SSI_IMAGE_VERDICT_CONTINUE;

    int ckpt = (ssi_agent.home_flags & SSI_TUNNEL_HOME_F_CKPT) != 0;

    ssi_agent_link_reap();
    if (ssi_agent.body_done)
        return; /* it is ending: EXIT follows, the deputy exits with it */
    ssi_agent_status(ckpt ? "checkpoint" : "coming home");
    memset(s_carry, 0, sizeof(s_carry));
    /* A checkpoint brings nothing home: what could not come home does not
     * matter, and input already taken stays the body's. */
    if (!ckpt && (s_home_check_body(why, sizeof(why)) < 0 ||
                  s_home_input_taken(pidfd, why, sizeof(why)) < 0)) {
        s_home_refuse("%s", why);
        return;
    }
    cfd = s_home_freeze(&deadline, why, sizeof(why));
    if (cfd < 0) {
        s_home_refuse("%s", why);
        return;
    }
    ssi_agent.home_verdict = 0;
    if (!ckpt)
        s_home_send_input(pidfd);
    if (s_home_drain(deadline, why, sizeof(why)) == 0 &&
        s_home_stream(cfd, why, sizeof(why)) == 0) {
        while (!ssi_agent.home_verdict && ssi_agent_now_ms() < deadline)
            s_home_pump(100);
        if (ssi_agent.home_verdict == SSI_IMAGE_VERDICT_EXIT && !ckpt)
            s_home_commit(cfd);
        if (ckpt && ssi_agent.home_verdict) {
            /* Its image is at home: the body runs on. */
            if (write(cfd, &c, 1) != 1)
                ssi_agent_log("the body thawed by itself");
            close(cfd);
            ssi_agent.home_verdict = 0;
            ssi_agent_status("checkpoint sent home");
            return;
        }
        if (ssi_agent.home_verdict == 0)
            snprintf(why, sizeof(why), "no verdict from home in time (is the link to home down?)");
        else
            why[0] = 0; /* the deputy said why */
    }
    /* Thaw: the body goes on here, the relay too. */
    if (write(cfd, &c, 1) != 1)
        ssi_agent_log("the body thawed by itself");
    close(cfd);
    ssi_agent.home_verdict = 0;
    if (why[0])
        s_home_refuse("%s", why);
    else
        ssi_agent_status("home refused by the deputy");
}
