/*
 * ssi_agent.c - `ssi-agent`: runs a migrated body on its new node and
 * connects it to its deputy at home.
 *
 *   ssi-agent --listen ADDR:PORT --key-fd N (--image-fd N | --image FILE)
 *             [--status-fd N] [--restore PATH] [--accept-timeout SEC]
 *             [--no-sandbox] [-v]
 *
 * Must be pid 1 of a fresh PID namespace (ssid: clone(CLONE_NEWPID);
 * tests: unshare --pid --fork --mount-proc). Everything comes in as fds or
 * arguments; the 32-byte data key is read raw from --key-fd, never argv.
 *
 * Order of operations (docs/ENGINE.md, "Deputy and body agent"):
 *   1. listen on ADDR:PORT          status: "listening ADDR PORT"
 *   2. read the image up to its fd table; plan one tunnel (a socketpair)
 *      per stdin/stdout/stderr, pipe, FIFO, tty or socket; reopen
 *      /dev/null-like devices; refuse anything else (ssi_agent_plan.c)
 *   3. start ssi-restore (as our child, "child of pid 1" mode) with each
 *      tunnel's body end at the body's fd number, feed it the image; the
 *      body becomes our child with its original pid
 *                                   status: "running PID"
 *   4. accept the deputy (HELLO -> ACCEPT with the channel list)
 *                                   status: "connected"
 *   5. relay channels, deliver signals, wait for the body; send EXIT
 *      (ssi_agent_relay.c, ssi_agent_link.c; coming home on the way:
 *      ssi_agent_home.c)
 *                                   status: "exited CODE" | "killed SIG"
 * Any failure: status "failed: REASON", the body (if any) is killed, exit
 * status 1. A deputy that does not come within --accept-timeout kills the
 * body. A link that breaks gives the body a short grace (its forwarded
 * calls fail with EIO, it may end by itself), then kills it: it never
 * outlives its deputy by more than a grace, and the status line says how
 * it ended.
 *
 * This file is the top of the agent's modules (ssi_agent_int.h): steps 1
 * to 4, and main.
 */
#include "ssi_agent_int.h"
#include "ssi_fdpass.h"
#include "ssi_helper.h"
#include "ssi_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static ssi_image_hdr_t s_hdr;

/* ---- listening ------------------------------------------------------------ */

static int s_listen(const char *spec)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    struct sockaddr_storage ss;
    socklen_t sl;
    size_t n;
    int fd, one = 1;
    char shown[INET6_ADDRSTRLEN];

    if (!colon)
        ssi_agent_fail("bad --listen %s (want ADDR:PORT)", spec);
    n = (size_t)(colon - spec);
    if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']') {
        spec++;
        n -= 2;
    }
    if (n >= sizeof(host))
        ssi_agent_fail("bad --listen address");
    memcpy(host, spec, n);
    host[n] = 0;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(colon + 1));
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(colon + 1));
        sl = sizeof(struct sockaddr_in6);
    } else {
        ssi_agent_fail("bad --listen address %s", host);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        ssi_agent_fail("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ssi_tunnel_sockbuf(fd); /* the deputy's connection inherits them */
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4) < 0)
        ssi_agent_fail("listen on %s: %s", spec, strerror(errno));
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, shown, sizeof(shown));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, shown, sizeof(shown));
    ssi_agent_status("listening %s %u", shown,
                     ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                   : ((struct sockaddr_in6 *)&ss)->sin6_port));
    return fd;
}

/* Reads the image up to (and including) the first record after the fd
 * table; returns the bytes in a malloc'd buffer, the last record header
 * at its end in *last. */
static uint8_t *s_read_prefix(int in, size_t *plen, ssi_image_rec_t *last)
{
    size_t cap = 1 << 16, len = 0;
    uint8_t *p = malloc(cap);
    if (!p)
        ssi_agent_fail("out of memory");
    if (ssi_io_read_full(in, &s_hdr.magic, sizeof(s_hdr.magic)) < 0)
        ssi_agent_fail("cannot read the image header");
    if (s_hdr.magic == SSI_IMAGE_PRE_MAGIC) {
        /* A live move: the pre-copy rounds come first. */
        int rc = ssi_agent_pre_read(in);
        if (rc < 0)
            ssi_agent_fail("pre-copy rounds: %s",
                           rc == -EPIPE ? "the stream ended" : strerror(-rc));
        if (ssi_io_read_full(in, &s_hdr.magic, sizeof(s_hdr.magic)) < 0)
            ssi_agent_fail("cannot read the image header");
    }
    if (ssi_io_read_full(in, (char *)&s_hdr + sizeof(s_hdr.magic),
                         sizeof(s_hdr) - sizeof(s_hdr.magic)) < 0)
        ssi_agent_fail("cannot read the image header");
    if (s_hdr.magic != SSI_IMAGE_MAGIC || s_hdr.version != SSI_IMAGE_VERSION ||
        s_hdr.hdr_size != sizeof(s_hdr))
        ssi_agent_fail("not an ssi image of version %d", SSI_IMAGE_VERSION);
    memcpy(p, &s_hdr, sizeof(s_hdr));
    len = sizeof(s_hdr);
    for (;;) {
        ssi_image_rec_t r;
        size_t need;
        if (ssi_io_read_full(in, &r, sizeof(r)) < 0)
            ssi_agent_fail("truncated image");
        need = len + sizeof(r) + r.size + (r.type == SSI_IMAGE_REC_THREAD ? r.data_len : 0);
        if (r.size > (1u << 20) || (r.data_len > (1u << 20) && r.type == SSI_IMAGE_REC_THREAD))
            ssi_agent_fail("bad image record");
        while (need > cap) {
            cap *= 2;
            p = realloc(p, cap);
            if (!p)
                ssi_agent_fail("out of memory");
        }
        memcpy(p + len, &r, sizeof(r));
        len += sizeof(r);
        if (r.type == SSI_IMAGE_REC_VMA || r.type == SSI_IMAGE_REC_PAGES ||
            r.type == SSI_IMAGE_REC_END) {
            *last = r;
            *plen = len;
            return p;
        }
        if (ssi_io_read_full(in, p + len, r.size) < 0)
            ssi_agent_fail("truncated image");
        if (r.type == SSI_IMAGE_REC_FD && r.size >= sizeof(ssi_image_fd_t))
            ssi_agent_plan_fd((const ssi_image_fd_t *)(p + len));
        len += r.size;
        if (r.data_len) {
            if (r.type != SSI_IMAGE_REC_THREAD)
                ssi_agent_fail("unexpected record data before the address space");
            if (ssi_io_read_full(in, p + len, r.data_len) < 0)
                ssi_agent_fail("truncated image");
            len += r.data_len;
        }
    }
}

/* Copies n bytes of the image from in to out: spliced pipe to pipe (no copy,
 * no user buffer), read/write when either end is not a pipe. */
static int s_pass(int in, int out, uint64_t n)
{
    static char buf[1 << 16];
    while (n) {
        size_t k = n < (1u << 20) ? (size_t)n : (1u << 20);
        ssize_t m = splice(in, NULL, out, NULL, k, SPLICE_F_MOVE);
        if (m < 0 && errno == EINTR)
            continue;
        if (m > 0) {
            n -= (uint64_t)m;
            continue;
        }
        if (m == 0)
            return -EPIPE;
        if (errno != EINVAL)
            return -EIO;
        k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        if (ssi_io_read_full(in, buf, k) < 0)
            return -EPIPE;
        if (ssi_io_write_full(out, buf, k) < 0)
            return -EIO;
        n -= k;
    }
    return 0;
}

/* Feeds the rest of the image, record by record, up to END. A live move's
 * CLEAN ranges become PAGES records of the pre-copied pages, and END
 * counts what the restorer then reads. */
static int s_feed(int in, int out, const uint8_t *prefix, size_t plen, ssi_image_rec_t r)
{
    int64_t nrec = 0;
    uint64_t bytes = 0;
    int rc = ssi_io_write_full(out, prefix, plen);
    while (rc == 0) {
        rc = s_pass(in, out, r.size + r.data_len);
        if (rc < 0 || r.type == SSI_IMAGE_REC_END)
            break;
        if (ssi_io_read_full(in, &r, sizeof(r)) < 0)
            return -EPIPE;
        if (r.type == SSI_IMAGE_REC_CLEAN && r.size == sizeof(ssi_image_pages_t) && !r.data_len) {
            ssi_image_pages_t pg;
            if (ssi_io_read_full(in, &pg, sizeof(pg)) < 0)
                return -EPIPE;
            rc = ssi_agent_pre_clean(out, pg.addr, pg.len, &nrec, &bytes);
            if (rc == -EBADMSG)
                ssi_agent_fail("the image has CLEAN pages but no pre-copy rounds came");
            nrec--;
            r.size = r.data_len = 0; /* nothing more to pass */
            continue;
        }
        if (r.type == SSI_IMAGE_REC_END && r.size == sizeof(ssi_image_end_t) && (nrec || bytes)) {
            ssi_image_end_t e;
            if (ssi_io_read_full(in, &e, sizeof(e)) < 0)
                return -EPIPE;
            e.nrecords += (uint64_t)nrec;
            e.page_bytes += bytes;
            rc = ssi_io_write_full(out, &r, sizeof(r));
            if (rc == 0)
                rc = ssi_io_write_full(out, &e, sizeof(e));
            break;
        }
        rc = ssi_io_write_full(out, &r, sizeof(r));
    }
    return rc;
}

/* ---- starting the restorer ------------------------------------------------- */

/* The child: puts each tunnel's body end and each device at its fd number
 * and execs ssi-restore on the image pipe. Never returns. */
__attribute__((noreturn)) static void s_exec_restorer(const char *restore, int img_rd, int err_wr,
                                                      int verbose)
{
    int maxfd = 2, base, i, tmp[SSI_TUNNEL_MAX_CHANS], img, ctl, errfd;
    char fdarg[16], errarg[16];
    for (i = 0; i < ssi_agent.nchans; i++)
        if (ssi_agent.chans[i].chan > maxfd)
            maxfd = ssi_agent.chans[i].chan;
    for (i = 0; i < ssi_agent.ndevs; i++)
        if (ssi_agent.devs[i].fd > maxfd)
            maxfd = ssi_agent.devs[i].fd;
    for (i = 0; i < ssi_agent.nfwds; i++)
        if (ssi_agent.fwds[i].fd > maxfd)
            maxfd = ssi_agent.fwds[i].fd;
    if (ssi_agent.ctl_num > maxfd)
        maxfd = ssi_agent.ctl_num;
    base = maxfd + 16;
    /* Out of the way first, so that no target number is still in use. */
    for (i = 0; i < ssi_agent.nchans; i++)
        tmp[i] = fcntl(ssi_agent.chans[i].body_fd, F_DUPFD_CLOEXEC, base);
    img = fcntl(img_rd, F_DUPFD_CLOEXEC, base);
    ctl = fcntl(ssi_agent.ctl[1], F_DUPFD_CLOEXEC, base);
    errfd = fcntl(err_wr, F_DUPFD_CLOEXEC, base);
    /* Nothing of ours may leak into the body. */
    syscall(SYS_close_range, 0U, ~0U, CLOSE_RANGE_CLOEXEC);
    for (i = 0; i < ssi_agent.nchans; i++) {
        ssi_agent_chan_t *c = &ssi_agent.chans[i];
        /* Inheritable: ssi-restore sets FD_CLOEXEC again from the image
         * (a close-on-exec descriptor would not survive its exec). */
        if (tmp[i] < 0 || dup3(tmp[i], c->chan, 0) < 0)
            _exit(126);
        fcntl(c->chan, F_SETFL, c->fl_flags & O_NONBLOCK);
    }
    for (i = 0; i < ssi_agent.ndevs; i++) {
        ssi_agent_dev_t *d = &ssi_agent.devs[i];
        int fd =
            open(d->path, (int)(d->fl_flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)) | O_CLOEXEC);
        if (fd < 0 || dup3(fd, d->fd, 0) < 0)
            _exit(126);
    }
    for (i = 0; i < ssi_agent.nfwds; i++) {
        ssi_agent_dev_t *d = &ssi_agent.fwds[i];
        int acc = (d->fl_flags & O_PATH) ? O_PATH : (int)(d->fl_flags & O_ACCMODE);
        int fd = open("/dev/null", acc | O_CLOEXEC);
        if (fd < 0 || dup3(fd, d->fd, 0) < 0)
            _exit(126);
    }
    if (ctl < 0 || dup3(ctl, ssi_agent.ctl_num, 0) < 0)
        _exit(126);
    /* The body's sandbox: its own mount (ssi-restore --sandbox then makes
     * its root an empty tmpfs), network (nothing in it: its sockets are
     * tunnels), IPC and UTS namespaces. We, who talk to other nodes, stay
     * outside. A node where this cannot be done refuses the move. */
    if (ssi_agent.sandbox &&
        unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
        dprintf(errfd, "ssi-restore: the body's sandbox cannot be made on this node: unshare: %s\n",
                strerror(errno));
        _exit(125);
    }
    /* ssi-restore moves the image fd to 900+ and closes it before the
     * jump; it only has to be inheritable. */
    fcntl(img, F_SETFD, 0);
    snprintf(fdarg, sizeof(fdarg), "%d", img);
    /* Its messages come to us (the reason of a failure goes to the user),
     * never into the body's stderr tunnel. */
    fcntl(errfd, F_SETFD, 0);
    snprintf(errarg, sizeof(errarg), "%d", errfd);
    /* --home-cwd: the body's cwd is its deputy's (forwarded); a cwd that
     * does not exist on this node is no reason to refuse. --agent: the
     * body must find its control socket at ctl_num, or stop. */
    {
        char *args[10];
        int n = 0;
        args[n++] = "ssi-restore";
        if (verbose)
            args[n++] = "-v";
        args[n++] = "--home-cwd";
        args[n++] = "--agent";
        if (ssi_agent.sandbox)
            args[n++] = "--sandbox";
        args[n++] = "--err-fd";
        args[n++] = errarg;
        args[n++] = "--fd";
        args[n++] = fdarg;
        args[n] = NULL;
        execv(restore, args);
    }
    _exit(127);
}

/* The tids of the image's threads (THREAD records, in the prefix): up to
 * cap of them into tids; their count. */
static int s_image_tids(const uint8_t *p, size_t plen, pid_t *tids, int cap)
{
    size_t off = sizeof(s_hdr);
    int n = 0;
    while (off + sizeof(ssi_image_rec_t) <= plen) {
        ssi_image_rec_t r;
        memcpy(&r, p + off, sizeof(r));
        off += sizeof(r);
        if (r.type == SSI_IMAGE_REC_VMA || r.type == SSI_IMAGE_REC_PAGES ||
            r.type == SSI_IMAGE_REC_END)
            break;
        if (r.type == SSI_IMAGE_REC_THREAD && r.size >= sizeof(ssi_image_thread_t) &&
            off + sizeof(ssi_image_thread_t) <= plen && n < cap) {
            ssi_image_thread_t t;
            memcpy(&t, p + off, sizeof(t));
            tids[n++] = t.tid;
        }
        off += r.size + (r.type == SSI_IMAGE_REC_THREAD ? r.data_len : 0);
    }
    return n;
}

/* A pid for the restorer in this namespace that none of the body's tasks
 * needs: not the pid, not a thread's tid (a thread made away got the
 * lowest free number of its node's namespace, often 2 or 3: the next move
 * found it taken by the restorer, EEXIST). */
static pid_t s_restorer_pid(const pid_t *tids, int n)
{
    pid_t other;
    int i;
    for (other = 2;; other++) {
        for (i = 0; i < n && tids[i] != other; i++)
            ;
        if (other != s_hdr.pid && i == n)
            return other;
    }
}

/* Threads the body makes from now on get numbers near the top of the pid
 * range (from min(pid_max, 32768) - 4096 up, or above every tid of the
 * image if higher), not the lowest free ones of this namespace: those are taken at
 * home (the kernel's threads; in the lab, the host's first processes), and
 * here by the restorer on the next move. A tid made away must be free at
 * home for the process to come home (ssi-restore --check), and home hands
 * out numbers from the bottom of its range and in turn: the top is the
 * last it reaches. Not a reservation: home may still hold one. Best
 * effort: the kernel takes the next free number after ns_last_pid (the
 * restorer's clone3 with set_tid and the threads it makes do not move it). */
static void s_set_last_pid(const pid_t *tids, int n)
{
    long last = s_hdr.pid, max = 0;
    char buf[24];
    int i, fd, len;
    FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 0;
        fclose(f);
    }
    /* 32768, the kernel's default pid_max, at most: home's may be that
     * while this node's is larger, and a tid above home's pid_max could
     * never come home. */
    if (max > 32768)
        max = 32768;
    if (max > 8192 && max - 4096 > last)
        last = max - 4096;
    for (i = 0; i < n; i++)
        if (tids[i] > last)
            last = tids[i];
    fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    len = snprintf(buf, sizeof(buf), "%ld", last);
    if (write(fd, buf, (size_t)len) != len && ssi_agent.verbose)
        fprintf(stderr, "ssi-agent: ns_last_pid: %s\n", strerror(errno));
    close(fd);
}

/* What a SIGSYS before the body resumed means: our trap is not installed
 * yet, so a filter this node's ssid runs under (a container's profile)
 * forbade a call the restore makes, the sandbox's mount calls say. */
static const char *s_sigsys_why(int sig)
{
    return sig == SIGSYS ? ": a seccomp filter of this node forbids a call the restore needs, "
                           "e.g. the sandbox's unshare, mount or pivot_root"
                         : "";
}

/* Reaps task `pid`, which has exited or is exiting, waiting at most 2 s:
 * 1 with its status in *st, 0 if it did not end by then. */
static int s_reap_task(pid_t pid, int *st)
{
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(pid, st, WNOHANG | __WALL);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
        usleep(10000);
    }
    return 0;
}

/* Restores the body from the image on `in`; returns when it runs. */
static void s_start_body(int in, const char *restore)
{
    ssi_image_rec_t last;
    size_t plen;
    uint8_t *prefix = s_read_prefix(in, &plen, &last);
    struct clone_args ca;
    pid_t other, tids[SSI_IMAGE_FREEZE_MAX_THREADS];
    int pipefd[2], errp[2], i, st, rc,
        ntids = s_image_tids(prefix, plen, tids, SSI_IMAGE_FREEZE_MAX_THREADS);
    long pid;

    for (i = 0; i < ssi_agent.nchans; i++) {
        int sp[2];
        int type = ssi_agent.chans[i].flags & SSI_TUNNEL_CHAN_LISTEN ? SOCK_SEQPACKET : SOCK_STREAM;
        if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp) < 0)
            ssi_agent_fail("socketpair: %s", strerror(errno));
        ssi_agent.chans[i].fd = sp[0];
        ssi_agent.chans[i].body_fd = sp[1];
        ssi_agent.chans[i].body_ino = ssi_agent_ino(sp[1]);
        fcntl(sp[0], F_SETFL, O_NONBLOCK);
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0)
        ssi_agent_fail("pipe: %s", strerror(errno));
    fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
    /* The vfs-proxy's control socket, at the number the body's shim
     * computed at freeze: the lowest one from SSI_TUNNEL_CTL_FD_MIN up that
     * the image does not use. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ssi_agent.ctl) < 0)
        ssi_agent_fail("socketpair: %s", strerror(errno));
    ssi_agent.ctl_ino = ssi_agent_ino(ssi_agent.ctl[1]);
    ssi_agent.ctl_num = ssi_agent_plan_ctl_num();
    /* The restorer must not take the body's pid nor a thread's: we are
     * pid 1 and the body is usually pid 2, which a plain fork would get. */
    other = s_restorer_pid(tids, ntids);
    s_set_last_pid(tids, ntids); /* set_tid does not move the cursor */
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    ca.set_tid = (uint64_t)(uintptr_t)&other;
    ca.set_tid_size = 1;
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid < 0)
        ssi_agent_fail("cannot start ssi-restore: %s", strerror(errno));
    if (pid == 0)
        s_exec_restorer(restore, pipefd[0], errp[1], ssi_agent.verbose);
    close(pipefd[0]);
    close(errp[1]);
    close(ssi_agent.ctl[1]);
    ssi_agent.ctl[1] = -1;
    for (i = 0; i < ssi_agent.nchans; i++) {
        close(ssi_agent.chans[i].body_fd);
        ssi_agent.chans[i].body_fd = -1;
    }
    rc = s_feed(in, pipefd[1], prefix, plen, last);
    free(prefix);
    close(pipefd[1]);
    while (waitpid((pid_t)pid, &st, __WALL) < 0 && errno == EINTR)
        ;
    ssi_agent_pre_free(); /* the pipe referred to its pages until now */
    if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        /* ssi-restore wrote its reason on our pipe: its last line. */
        char why[400] = "", *line = why;
        ssize_t n = read(errp[0], why, sizeof(why) - 1);
        why[n > 0 ? n : 0] = 0;
        while (n > 0 && why[n - 1] == '\n')
            why[--n] = 0;
        if (strrchr(why, '\n'))
            line = strrchr(why, '\n') + 1;
        if (strncmp(line, "ssi-restore: ", 13) == 0)
            line += 13;
        if (strncmp(line, "restore failed: ", 16) == 0)
            line += 16;
        if (rc < 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ssi_agent_fail("image stream broke while restoring");
        if (WIFSIGNALED(st))
            ssi_agent_fail("restore failed: ssi-restore was killed by signal %d (%s%s)",
                           WTERMSIG(st), strsignal(WTERMSIG(st)), s_sigsys_why(WTERMSIG(st)));
        if (!strcmp(line, "the new task died before resuming")) {
            /* It is our child (the restorer made it with CLONE_PARENT),
             * and it has exited (its end of the status pipe closed without
             * a word): how it died tells why. */
            int tst;
            if (s_reap_task((pid_t)s_hdr.pid, &tst) && WIFSIGNALED(tst))
                ssi_agent_fail("restore failed: the new task was killed by signal %d before "
                               "resuming (%s%s)",
                               WTERMSIG(tst), strsignal(WTERMSIG(tst)),
                               s_sigsys_why(WTERMSIG(tst)));
        }
        ssi_agent_fail("restore failed%s%s (ssi-restore status %d)", line[0] ? ": " : "", line,
                       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    /* The verbose restorer's notes, for the log. */
    {
        char note[400];
        ssize_t n = read(errp[0], note, sizeof(note));
        if (n > 0 && ssi_agent.verbose)
            fprintf(stderr, "%.*s", (int)n, note);
    }
    close(errp[0]);
    ssi_agent.body = s_hdr.pid;
    if (kill(ssi_agent.body, 0) < 0)
        ssi_agent_fail("the restored body %d is not there", (int)ssi_agent.body);
    ssi_agent_status("running %d", (int)ssi_agent.body);
}

/* The deputy's second connection is the vfs-proxy's call link: it goes to
 * the body, with the key and the list of forwarded fds, over the control
 * socket; the body runs the handshake itself (no agent in that path). */
static void s_pass_call_link(int lfd, long deadline, const uint8_t *key)
{
    static ssi_tunnel_ctl_t ctl;
    int fd = -1, one = 1, i;
    long n;

    while (fd < 0) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        long left = deadline - ssi_agent_now_ms();
        if (left < 10000)
            left = 10000; /* the deputy connects right after ACCEPT */
        if (ssi_agent.stop)
            ssi_agent_fail("stopped before the deputy's call link came");
        if (poll(&p, 1, (int)left) <= 0)
            ssi_agent_fail("the deputy did not open its call link; body killed");
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    memset(&ctl, 0, sizeof(ctl));
    ctl.magic = SSI_TUNNEL_CTL_MAGIC;
    ctl.version = SSI_TUNNEL_CTL_VERSION;
    memcpy(ctl.key, key, sizeof(ctl.key));
    ctl.timeout_ms = 10000;
    ctl.nfwd = (uint32_t)ssi_agent.nfwds;
    ssi_agent.call_ino = ssi_agent_ino(fd);
    n = ssi_fdpass_send(ssi_agent.ctl[0], &ctl, sizeof(ctl), fd, 0);
    memset(ctl.key, 0, sizeof(ctl.key));
    close(fd);
    /* Then the forwarded fds' numbers, right behind it. */
    if (n == (long)sizeof(ctl) && ssi_agent.nfwds) {
        int32_t *list = malloc((size_t)ssi_agent.nfwds * sizeof(*list));
        if (!list)
            ssi_agent_fail("out of memory");
        for (i = 0; i < ssi_agent.nfwds; i++)
            list[i] = ssi_agent.fwds[i].fd;
        if (ssi_io_write_full(ssi_agent.ctl[0], list, (size_t)ssi_agent.nfwds * sizeof(*list)) < 0)
            n = -EPIPE;
        free(list);
    }
    /* ssi_agent.ctl[0] stays: the netproxy's new channels go to the body there. */
    if (n != (long)sizeof(ctl))
        ssi_agent_fail("cannot pass the call link to the body: %s",
                       n < 0 ? strerror((int)-n) : "short write");
    ssi_agent_log("call link passed to the body (%d forwarded fds)", ssi_agent.nfwds);
}

static void s_accept_deputy(int lfd, int timeout_s, const uint8_t *key)
{
    long deadline = ssi_agent_now_ms() + timeout_s * 1000L;
    int fd = -1, one = 1, idle = 10, intvl = 5, cnt = 3;
    ssi_tunnel_hdr_t h;
    ssi_tunnel_hello_t hello;
    ssi_tunnel_accept_t acc;
    uint8_t msg[sizeof(acc) + SSI_TUNNEL_MAX_CHANS * sizeof(ssi_tunnel_chan_t)];
    int i;
    long rc;

    while (fd < 0) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        long left = deadline - ssi_agent_now_ms();
        if (left <= 0 || ssi_agent.stop)
            ssi_agent_fail(ssi_agent.stop ? "stopped before the deputy came"
                                          : "no deputy connected within %d s; body killed",
                           timeout_s);
        if (poll(&p, 1, (int)(left > 200 ? 200 : left)) <= 0)
            continue;
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    rc = ssi_tunnel_link_init(&ssi_agent.link, fd, key, 0, 10000);
    if (rc < 0) {
        close(fd);
        ssi_agent_fail(rc == -EKEYREJECTED ? "the deputy has another key; body killed"
                                           : "no handshake with the deputy (%s); body killed",
                       strerror((int)-rc));
    }
    rc = ssi_tunnel_recv_wait(&ssi_agent.link, &h, ssi_agent.frame, sizeof(ssi_agent.frame), 10000);
    if (rc == 1 && h.type == SSI_TUNNEL_HELLO && h.len == sizeof(hello))
        memcpy(&hello, ssi_agent.frame, sizeof(hello));
    else
        ssi_agent_fail("bad HELLO from the deputy");
    if (hello.magic != SSI_TUNNEL_MAGIC || hello.version != SSI_TUNNEL_VERSION) {
        static const char why[] = "tunnel protocol version mismatch";
        ssi_tunnel_send(&ssi_agent.link, SSI_TUNNEL_REFUSE, 0, why, sizeof(why) - 1);
        ssi_agent_fail("%s", why);
    }
    acc.version = SSI_TUNNEL_VERSION;
    acc.body_pid = (int32_t)ssi_agent.body;
    acc.nchans = (uint32_t)ssi_agent.nchans;
    acc.window = SSI_TUNNEL_WINDOW;
    memcpy(msg, &acc, sizeof(acc));
    for (i = 0; i < ssi_agent.nchans; i++) {
        ssi_tunnel_chan_t c = {.chan = (uint16_t)ssi_agent.chans[i].chan,
                               .dir = ssi_agent.chans[i].dir,
                               .flags = ssi_agent.chans[i].flags,
                               .pad = 0};
        memcpy(msg + sizeof(acc) + i * sizeof(c), &c, sizeof(c));
    }
    ssi_agent_link_send(SSI_TUNNEL_ACCEPT, 0, msg,
                        (uint32_t)(sizeof(acc) + ssi_agent.nchans * sizeof(ssi_tunnel_chan_t)));
    s_pass_call_link(lfd, deadline, key);
    ssi_agent_status("connected %d", hello.home_pid);
    /* ssid may have asked for SIGKILL when it dies (so that a migration
     * cut short by a dying ssid stops); a running body must outlive a
     * restart of ssid. */
    prctl(PR_SET_PDEATHSIG, 0);
}

static void s_on_stop(int sig)
{
    (void)sig;
    ssi_agent.stop = 1;
}

/* Whether a body could install ssi's trap here (no_new_privs, then a
 * seccomp filter with TSYNC), tried in a throwaway child before anything
 * is frozen: a node whose own filter (a container's profile) forbids it
 * would otherwise take the move and lose the process, whose body dies (or
 * stops) installing its trap after the deputy said 'D'. Fails the agent
 * with the reason when it cannot. */
static void s_probe_trap(void)
{
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = 1, .filter = &allow};
    int st;
    pid_t p = fork();
    if (p < 0)
        ssi_agent_fail("cannot fork: %s", strerror(errno));
    if (p == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(100 + (errno & 0x7f));
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) < 0)
            _exit(errno & 0x7f);
        _exit(0);
    }
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st))
        ssi_agent_fail(
            "this node cannot confine a body: installing ssi's seccomp filter killed the "
            "process by signal %d (%s%s)",
            WTERMSIG(st), strsignal(WTERMSIG(st)),
            WTERMSIG(st) == SIGSYS ? ": a seccomp filter of this node forbids it" : "");
    if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
        ssi_agent_fail("this node cannot confine a body: no_new_privs: %s",
                       strerror(WEXITSTATUS(st) - 100));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        ssi_agent_fail("this node cannot confine a body: seccomp: %s",
                       WIFEXITED(st) ? strerror(WEXITSTATUS(st)) : "the probe stopped");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"listen", required_argument, NULL, 'l'},         {"key-fd", required_argument, NULL, 'k'},
        {"image-fd", required_argument, NULL, 'i'},       {"image", required_argument, NULL, 'I'},
        {"status-fd", required_argument, NULL, 's'},      {"restore", required_argument, NULL, 'r'},
        {"accept-timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
        {"no-sandbox", no_argument, NULL, 'S'},           {NULL, 0, NULL, 0}};
    const char *listen_spec = NULL, *image = NULL;
    char restore[4096];
    int key_fd = -1, img_fd = -1, timeout_s = 30, c, lfd;
    uint8_t key[SSI_TUNNEL_KEY_LEN];
    struct sigaction sa;
    ssi_tunnel_exit_t x;

    if (ssi_helper_about(argc, argv, "ssi-agent", "runs a moved process on its new node"))
        return 0;
    ssi_agent_init();
    restore[0] = 0;
    /* The body's fds may sit near its own RLIMIT_NOFILE (the shim keeps
     * its ssid socket there), and the restorer needs slots above them
     * before the body's rlimits come back: take the hard limit. */
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    while ((c = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
        switch (c) {
        case 'l': listen_spec = optarg; break;
        case 'k': key_fd = atoi(optarg); break;
        case 'i': img_fd = atoi(optarg); break;
        case 'I': image = optarg; break;
        case 's': ssi_agent.status_fd = atoi(optarg); break;
        case 'r': snprintf(restore, sizeof(restore), "%s", optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        case 'v': ssi_agent.verbose = 1; break;
        case 'S': ssi_agent.sandbox = 0; break;
        default: goto usage;
        }
    }
    if (optind != argc || !listen_spec || key_fd < 0 || (img_fd < 0) == !image)
        goto usage;
    if (ssi_agent.status_fd >= 0)
        fcntl(ssi_agent.status_fd, F_SETFD, FD_CLOEXEC);
    if (getpid() != 1)
        ssi_agent_fail("must run as pid 1 of a fresh PID namespace (unshare --pid --fork)");
    if (!restore[0]) {
        /* ssi-restore next to us. */
        ssize_t n = readlink("/proc/self/exe", restore, sizeof(restore) - 16);
        char *slash;
        if (n < 0)
            ssi_agent_fail("cannot find ssi-restore (use --restore)");
        restore[n] = 0;
        slash = strrchr(restore, '/');
        strcpy(slash ? slash + 1 : restore, "ssi-restore");
    }
    if (sodium_init() < 0)
        ssi_agent_fail("libsodium failed to initialise");
    if (ssi_io_read_full(key_fd, key, sizeof(key)) < 0)
        ssi_agent_fail("cannot read the 32-byte data key from fd %d", key_fd);
    close(key_fd);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* As pid 1 only signals with a handler reach us (and SIGKILL). */
    sa.sa_handler = s_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    s_probe_trap();
    lfd = s_listen(listen_spec);
    if (image) {
        img_fd = open(image, O_RDONLY | O_CLOEXEC);
        if (img_fd < 0)
            ssi_agent_fail("cannot open %s: %s", image, strerror(errno));
    } else {
        fcntl(img_fd, F_SETFD, FD_CLOEXEC);
    }
    s_start_body(img_fd, restore);
    close(img_fd);
    s_accept_deputy(lfd, timeout_s, key);
    memset(key, 0, sizeof(key));
    close(lfd);
    ssi_agent_relay_set_home(ssi_agent_home_run);
    ssi_agent_relay_run();
    if (WIFSIGNALED(ssi_agent.body_status)) {
        x.how = SSI_TUNNEL_SIGNALED;
        x.value = WTERMSIG(ssi_agent.body_status);
        ssi_agent_status("killed %d", x.value);
    } else {
        x.how = SSI_TUNNEL_EXITED;
        x.value = WEXITSTATUS(ssi_agent.body_status);
        ssi_agent_status("exited %d", x.value);
    }
    ssi_agent_link_send(SSI_TUNNEL_EXIT, 0, &x, sizeof(x));
    ssi_agent_link_finish();
    return 0;
usage:
    fprintf(stderr, "usage: ssi-agent --listen ADDR:PORT --key-fd N (--image-fd N | --image FILE)\n"
                    "                 [--status-fd N] [--restore PATH] [--accept-timeout SEC] "
                    "[--no-sandbox] [-v]\n");
    return 2;
}
