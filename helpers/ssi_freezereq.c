/*
 * ssi_freezereq.c - ask a libssi.so process to freeze and receive its
 * image; see ssi_freezereq.h and the protocol in ssi_freeze.h.
 */
#include "ssi_freezereq.h"

#include "ssi_image.h"
#include "ssi_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void s_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* Reads n bytes: 0, or -EPIPE when the stream ends first (*got: how many
 * came), or -errno. */
static int s_read_got(int fd, void *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, (char *)buf + *got, n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EPIPE;
        *got += (size_t)r;
    }
    return 0;
}

/* Reads one part of the image that c says is owed; a stream that ends
 * early gets c's reason (where the image was cut). */
static int s_read_part(int fd, void *buf, size_t n, ssi_image_check_t *c, char *err, size_t errlen)
{
    size_t got;
    int rc = s_read_got(fd, buf, n, &got);
    if (rc == -EPIPE) {
        ssi_image_check_truncated(c, got);
        s_err(err, errlen, "%s", c->why);
    } else if (rc < 0) {
        s_err(err, errlen, "reading the image: %s", strerror(-rc));
    }
    return rc;
}

/* Copies the current record's data (n bytes) from in to out through buf,
 * accounting it to c. */
static int s_pass(int in, int out, uint64_t n, char *buf, size_t cap, uint64_t *bytes,
                  ssi_image_check_t *c, char *err, size_t errlen)
{
    while (n) {
        size_t chunk = n < cap ? (size_t)n : cap;
        int rc = s_read_part(in, buf, chunk, c, err, errlen);
        if (rc < 0)
            return rc;
        rc = ssi_io_write_full(out, buf, chunk);
        if (rc < 0) {
            s_err(err, errlen, "writing the image: %s", strerror(-rc));
            return rc;
        }
        ssi_image_check_data(c, chunk);
        n -= chunk;
        *bytes += chunk;
    }
    return 0;
}

/* mkdir -p, mode 0711: only root lists or creates sockets there, but a
 * user's process must reach the one socket made for it (see below). */
static void s_mkdirs(const char *dir)
{
    char p[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t i;
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
        return;
    for (i = 1; p[i]; i++) {
        if (p[i] == '/') {
            p[i] = 0;
            mkdir(p, 0711);
            p[i] = '/';
        }
    }
    mkdir(p, 0711);
    chmod(p, 0711);
}

/* The socket is made as the requester (root, mode from the umask: nobody
 * else may connect); hand it to the target's owner, and to no one else. */
static int s_give_socket(const char *path, pid_t pid)
{
    char proc[32];
    struct stat st;
    snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
    if (stat(proc, &st) < 0)
        return -errno;
    if (chmod(path, 0600) < 0 || chown(path, st.st_uid, (gid_t)-1) < 0)
        return -errno;
    return 0;
}

/* Only the target itself may answer: another local process that raced to
 * the socket would otherwise read the verdict and the agent's key. */
static int s_peer_is(int fd, pid_t pid)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return 0;
    return cr.pid == pid;
}

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Sends the agent's address and key after the 'D' verdict and waits for
 * the process's one-byte answer. */
static int s_deputy_answer(int cfd, const ssi_image_deputy_t *d, const ssi_image_recover_t *rec,
                           char *err, size_t errlen)
{
    struct pollfd p = {.fd = cfd, .events = POLLIN};
    int timeout, rc, r;
    char answer = 0;
    if (!d) {
        s_err(err, errlen, "deputy verdict without the agent's address");
        return -EINVAL;
    }
    rc = ssi_io_write_full(cfd, d, sizeof(*d));
    if (rc == 0 && (d->flags & SSI_IMAGE_DEPUTY_F_RECOVER))
        rc = rec ? ssi_io_write_full(cfd, rec, sizeof(*rec)) : -EINVAL;
    if (rc < 0) {
        s_err(err, errlen, "sending the agent's address: %s", strerror(-rc));
        return rc;
    }
    timeout = (int)(d->connect_timeout_ms ? d->connect_timeout_ms : 5000) +
              (int)(d->accept_timeout_ms ? d->accept_timeout_ms : 30000) + 5000;
    r = poll(&p, 1, timeout);
    if (r == 1)
        r = (int)read(cfd, &answer, 1);
    if (r == 1 && answer == SSI_IMAGE_VERDICT_DEPUTY)
        return 0;
    if (r == 1 && answer == SSI_IMAGE_VERDICT_CONTINUE) {
        s_err(err, errlen, "the process could not reach the agent and continues at home");
        return -ECONNABORTED;
    }
    s_err(err, errlen, "no answer from the process after the deputy verdict");
    return -ETIMEDOUT;
}

static int s_pidfd = -1;

void ssi_freezereq_bind(int pidfd)
{
    s_pidfd = pidfd;
}

/* The freeze signal with token, as sigqueue(3) sends it, through the bound
 * pidfd if there is one. */
static int s_signal(pid_t pid, int token)
{
    siginfo_t si;
    if (s_pidfd < 0)
        return sigqueue(pid, SSI_FREEZE_SIGNAL, (union sigval){.sival_int = token});
    memset(&si, 0, sizeof(si));
    si.si_signo = SSI_FREEZE_SIGNAL;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = token;
    return (int)syscall(SYS_pidfd_send_signal, s_pidfd, SSI_FREEZE_SIGNAL, &si, 0);
}

/* Asks pid to connect (the freeze signal with a token, a socket made for
 * it alone) and returns the connected socket, or -errno with the reason in
 * err. silent: what to say when nothing connects within timeout_ms. *t0 gets
 * the time of the signal. The path is removed before returning. */
static int s_summon(pid_t pid, const char *dir, int token, int timeout_ms, const char *silent,
                    double *t0, char *err, size_t errlen)
{
    static int counter;
    struct sockaddr_un sa;
    struct pollfd p;
    int lfd, cfd = -1, rc, r;

    if (!dir)
        dir = getenv("SSI_FREEZE_DIR");
    if (!dir || !*dir)
        dir = SSI_FREEZE_DIR_DEFAULT;
    if (token < 0)
        token = (int)(((unsigned)getpid() << 8 | (unsigned)(counter++ & 0xff)) & 0x7fffffff);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.sock", dir, token) >=
        sizeof(sa.sun_path)) {
        s_err(err, errlen, "socket path too long");
        return -ENAMETOOLONG;
    }
    s_mkdirs(dir);
    unlink(sa.sun_path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
        rc = -errno;
        s_err(err, errlen, "listen on %s: %s", sa.sun_path, strerror(errno));
        goto out;
    }
    rc = s_give_socket(sa.sun_path, pid);
    if (rc < 0) {
        s_err(err, errlen, "process %d: %s", (int)pid, strerror(-rc));
        goto out;
    }
    if (t0)
        *t0 = s_now_ms();
    if (s_signal(pid, token) < 0) {
        rc = -errno;
        s_err(err, errlen, "sigqueue %d: %s", (int)pid, strerror(errno));
        goto out;
    }
    p.fd = lfd;
    p.events = POLLIN;
    r = poll(&p, 1, timeout_ms > 0 ? timeout_ms : 10000);
    if (r <= 0) {
        rc = r == 0 ? -ETIMEDOUT : -errno;
        s_err(err, errlen, "process %d %s", (int)pid, silent);
        goto out;
    }
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) {
        rc = -errno;
        s_err(err, errlen, "accept: %s", strerror(errno));
        goto out;
    }
    if (!s_peer_is(cfd, pid)) {
        close(cfd);
        cfd = -1;
        rc = -EPERM;
        s_err(err, errlen, "another process than %d answered; nothing was done", (int)pid);
        goto out;
    }
    rc = cfd;
out:
    close(lfd);
    unlink(sa.sun_path);
    return rc;
}

/* Waits (at most 2 s) until out_fd, a pipe, holds nothing more of the
 * rounds: the final freeze then does not wait behind them. Not a pipe: at
 * once. */
static void s_drain(int out_fd)
{
    for (int i = 0; i < 2000; i++) {
        int n = 0;
        if (ioctl(out_fd, FIONREAD, &n) < 0 || n <= 0)
            return;
        usleep(1000);
    }
}

/* A live move's rounds on the summoned socket cfd: asks the process to
 * track its writes, then sends the rounds (ssi_precopy.c) to out_fd. 0:
 * the final request may follow on cfd; 1: the process cannot track (the
 * reason in st->live_why), nothing was sent; -errno: failed (err). */
static int s_live_rounds(pid_t pid, const ssi_freezereq_opts_t *o, int cfd, int out_fd,
                         ssi_freezereq_stats_t *st, char *err, size_t errlen)
{
    ssi_image_req_t req = {
        .magic = SSI_IMAGE_REQ_MAGIC, .version = SSI_IMAGE_VERSION, .flags = SSI_IMAGE_REQ_F_TRACK};
    ssi_image_track_t t;
    ssi_image_range_t *r = NULL;
    struct pollfd p = {.fd = cfd, .events = POLLIN};
    int rc = ssi_io_write_full(cfd, &req, sizeof(req));
    if (rc == 0 && poll(&p, 1, 30000) != 1)
        rc = -ETIMEDOUT;
    if (rc == 0)
        rc = ssi_io_read_full(cfd, &t, sizeof(t));
    if (rc == 0 && (t.magic != SSI_IMAGE_TRACK_MAGIC || t.n > SSI_IMAGE_TRACK_MAX))
        rc = -EPROTO;
    if (rc < 0) {
        s_err(err, errlen, "asking the process to track its memory: %s", strerror(-rc));
        return rc;
    }
    if (t.err < 0) {
        snprintf(st->live_why, sizeof(st->live_why), "the process cannot track its writes (%s)",
                 strerror(-t.err));
        return 1;
    }
    r = calloc(t.n ? t.n : 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    rc = ssi_io_read_full(cfd, r, t.n * sizeof(*r));
    if (rc < 0)
        s_err(err, errlen, "reading the tracked ranges: %s", strerror(-rc));
    if (rc == 0) {
        (void)fcntl(out_fd, F_SETPIPE_SZ, 1 << 20);
        rc = ssi_precopy_run(pid, r, t.n, out_fd, &o->precopy, &st->pre, err, errlen);
    }
    free(r);
    if (rc == 0)
        st->live = 1;
    return rc;
}

int ssi_freezereq_run(pid_t pid, const ssi_freezereq_opts_t *o, int out_fd,
                      ssi_freezereq_stats_t *stats, char *err, size_t errlen)
{
    ssi_freezereq_stats_t st;
    int cfd = -1, rc;
    size_t cap = 1 << 20;
    char *buf = NULL;
    double t0;

    memset(&st, 0, sizeof(st));
    cfd = s_summon(pid, o->dir, o->token, o->timeout_ms, "did not connect (no libssi.so?)", &t0,
                   err, errlen);
    if (cfd < 0) {
        rc = cfd;
        goto out;
    }
    if (o->live) {
        rc = s_live_rounds(pid, o, cfd, out_fd, &st, err, errlen);
        if (rc < 0)
            goto out;
        if (rc == 1) {
            /* The process could not track its writes: stop-and-copy. */
            close(cfd);
            cfd = s_summon(pid, o->dir, -1, o->timeout_ms, "did not connect (no libssi.so?)", &t0,
                           err, errlen);
            if (cfd < 0) {
                rc = cfd;
                goto out;
            }
        } else {
            s_drain(out_fd);
            t0 = s_now_ms();
        }
    }
    {
        ssi_image_req_t req = {
            .magic = SSI_IMAGE_REQ_MAGIC, .version = SSI_IMAGE_VERSION, .flags = o->flags};
        if (st.live && !st.pre.tainted)
            req.flags |= SSI_IMAGE_REQ_F_LIVE;
        ssi_image_hdr_t h;
        ssi_image_rec_t r;
        /* Every part is checked before it is passed on: a verdict other
         * than "continue" goes only with an image the restorer will take. */
        ssi_image_check_t chk;
        ssi_image_check_init(&chk);
        rc = ssi_io_write_full(cfd, &req, sizeof(req));
        if (rc < 0) {
            s_err(err, errlen, "sending the request: %s", strerror(-rc));
            goto out;
        }
        /* The first 8 bytes say which: the image, or why there is none. */
        rc = s_read_part(cfd, &h, sizeof(h.magic), &chk, err, errlen);
        if (rc == 0 && h.magic == SSI_IMAGE_FAIL_MAGIC) {
            ssi_image_fail_t f;
            rc = s_read_part(cfd, (char *)&f + sizeof(f.magic), sizeof(f) - sizeof(f.magic), &chk,
                             err, errlen);
            if (rc == 0) {
                s_err(err, errlen, "%.*s", (int)(f.len < sizeof(f.text) ? f.len : sizeof(f.text)),
                      f.text);
                rc = f.err < 0 ? f.err : -EIO;
            }
            goto out;
        }
        if (rc == 0)
            rc = s_read_part(cfd, (char *)&h + sizeof(h.magic), sizeof(h) - sizeof(h.magic), &chk,
                             err, errlen);
        if (rc < 0)
            goto out;
        rc = ssi_image_check_hdr(&chk, &h);
        if (rc < 0) {
            s_err(err, errlen, "%s", chk.why);
            goto out;
        }
        st.nvmas = h.nvmas;
        st.pid = h.pid;
        (void)fcntl(out_fd, F_SETPIPE_SZ, 1 << 20); /* a pipe: 1 MiB, not 64 KiB of ping-pong */
        rc = ssi_io_write_full(out_fd, &h, sizeof(h));
        if (rc < 0) {
            s_err(err, errlen, "writing the image: %s", strerror(-rc));
            goto out;
        }
        st.bytes = sizeof(h);
        buf = malloc(cap);
        if (!buf) {
            rc = -ENOMEM;
            goto out;
        }
        for (;;) {
            rc = s_read_part(cfd, &r, sizeof(r), &chk, err, errlen);
            if (rc < 0)
                goto out;
            rc = ssi_image_check_rec(&chk, &r);
            if (rc == 0) {
                rc = s_read_part(cfd, buf, r.size, &chk, err, errlen);
                if (rc < 0)
                    goto out;
                rc = ssi_image_check_body(&chk, buf);
            }
            if (rc < 0) {
                s_err(err, errlen, "%s", chk.why);
                goto out;
            }
            rc = ssi_io_write_full(out_fd, &r, sizeof(r));
            if (rc == 0)
                rc = ssi_io_write_full(out_fd, buf, r.size);
            if (rc < 0) {
                s_err(err, errlen, "writing the image: %s", strerror(-rc));
                goto out;
            }
            st.bytes += sizeof(r) + r.size;
            if (r.type == SSI_IMAGE_REC_PAGES)
                st.page_bytes += r.data_len;
            rc = s_pass(cfd, out_fd, r.data_len, buf, cap, &st.bytes, &chk, err, errlen);
            if (rc < 0)
                goto out;
            if (r.type == SSI_IMAGE_REC_END)
                break;
        }
        st.freeze_ms = s_now_ms() - t0;
        /* The image is complete; only now may the verdict be anything
         * but "continue". */
        rc = ssi_io_write_full(cfd, &o->verdict, 1);
        if (rc == 0 && o->verdict == SSI_IMAGE_VERDICT_DEPUTY)
            rc = s_deputy_answer(cfd, o->deputy, o->recover, err, errlen);
    }
out:
    free(buf);
    if (cfd >= 0)
        close(cfd);
    if (stats)
        *stats = st;
    return rc;
}

/* The state letter and comm of /proc/PID/stat; 0 if the process is gone. */
static char s_proc_state(pid_t pid, char *comm, size_t cap)
{
    char path[64], buf[512];
    ssize_t n;
    int fd;
    char *l, *r;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    l = strchr(buf, '(');
    r = strrchr(buf, ')');
    if (!l || !r || r[1] != ' ')
        return 0;
    snprintf(comm, cap, "%.*s", (int)(r - l - 1), l + 1);
    return r[2];
}

int ssi_freezereq_home(pid_t pid, const char *dir, const char *restore, int timeout_ms, char *err,
                       size_t errlen)
{
    ssi_image_home_t req;
    int cfd = -1, rc, r;
    double end = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 120000);
    char answer[3], why[512], comm[64];

    if (!restore || restore[0] != '/' || strlen(restore) >= sizeof(req.restore)) {
        s_err(err, errlen, "bad ssi-restore path");
        return -EINVAL;
    }
    cfd = s_summon(pid, dir, -1, 10000, "did not answer (not the deputy of a body away?)", NULL,
                   err, errlen);
    if (cfd < 0)
        return cfd;
    memset(&req, 0, sizeof(req));
    req.magic = SSI_IMAGE_HOME_MAGIC;
    req.version = SSI_IMAGE_VERSION;
    snprintf(req.restore, sizeof(req.restore), "%s", restore);
    rc = ssi_io_write_full(cfd, &req, sizeof(req));
    if (rc < 0) {
        s_err(err, errlen, "sending the request: %s", strerror(-rc));
        goto out;
    }
    {
        struct pollfd p = {.fd = cfd, .events = POLLIN};
        r = poll(&p, 1, (int)(end - s_now_ms()));
        r = r == 1 ? (int)read(cfd, answer, 1) : 0;
    }
    if (r == 1 && answer[0] == SSI_IMAGE_VERDICT_CONTINUE) {
        uint16_t n = 0;
        if (ssi_io_read_full(cfd, answer + 1, 2) == 0) {
            n = (uint16_t)((uint8_t)answer[1] | (uint8_t)answer[2] << 8);
            if (n >= sizeof(why))
                n = sizeof(why) - 1;
            if (ssi_io_read_full(cfd, why, n) < 0)
                n = 0;
        }
        why[n] = 0;
        s_err(err, errlen, "%s", n ? why : "the deputy gave up");
        rc = -ECONNABORTED;
        goto out;
    }
    if (r != 1 || answer[0] != SSI_IMAGE_HOME_OK) {
        s_err(err, errlen, "no answer from the deputy of %d", (int)pid);
        rc = -ETIMEDOUT;
        goto out;
    }
    /* Committed: the process execs ssi-restore (our socket closes then),
     * which names itself after the program (PR_SET_NAME) just before it
     * jumps back into it. */
    {
        struct pollfd p = {.fd = cfd, .events = POLLIN};
        char b;
        r = poll(&p, 1, (int)(end - s_now_ms()));
        if (r != 1 || read(cfd, &b, 1) != 0) {
            s_err(err, errlen, "process %d committed to come home but did not restore", (int)pid);
            rc = -ETIMEDOUT;
            goto out;
        }
    }
    for (;;) {
        char st = s_proc_state(pid, comm, sizeof(comm));
        if (st == 0 || st == 'Z' || st == 'X') {
            s_err(err, errlen,
                  "process %d ended while it was being restored at home (its "
                  "stderr says why); it is lost",
                  (int)pid);
            rc = -ESRCH;
            goto out;
        }
        if (strcmp(comm, "ssi-restore") != 0)
            break;
        if (s_now_ms() > end) {
            s_err(err, errlen, "process %d committed to come home but is not running yet",
                  (int)pid);
            rc = -ETIMEDOUT;
            goto out;
        }
        usleep(5000);
    }
    rc = 0;
out:
    if (cfd >= 0)
        close(cfd);
    return rc;
}

/* After 'C': a u16 length and the reason, into err. */
static void s_read_reason(int cfd, char *err, size_t errlen)
{
    char len[2], why[512];
    uint16_t n = 0;
    if (ssi_io_read_full(cfd, len, 2) == 0) {
        n = (uint16_t)((uint8_t)len[0] | (uint8_t)len[1] << 8);
        if (n >= sizeof(why))
            n = sizeof(why) - 1;
        if (ssi_io_read_full(cfd, why, n) < 0)
            n = 0;
    }
    why[n] = 0;
    s_err(err, errlen, "%s", n ? why : "the deputy gave up");
}

/* One byte from cfd within ms; 0 when none came. */
static char s_byte(int cfd, int ms)
{
    struct pollfd p = {.fd = cfd, .events = POLLIN};
    char b = 0;
    if (poll(&p, 1, ms) != 1 || read(cfd, &b, 1) != 1)
        return 0;
    return b;
}

int ssi_freezereq_ckpt_away(pid_t pid, const char *dir, int timeout_ms, char *err, size_t errlen)
{
    ssi_image_home_t req;
    int cfd, rc;
    char b;

    cfd = s_summon(pid, dir, -1, 10000, "did not answer (not the deputy of a body away?)", NULL,
                   err, errlen);
    if (cfd < 0)
        return cfd;
    memset(&req, 0, sizeof(req));
    req.magic = SSI_IMAGE_HOME_MAGIC;
    req.version = SSI_IMAGE_VERSION;
    req.flags = SSI_IMAGE_HOME_F_CKPT;
    req.restore[0] = '/'; /* nothing is restored */
    rc = ssi_io_write_full(cfd, &req, sizeof(req));
    if (rc < 0) {
        s_err(err, errlen, "sending the request: %s", strerror(-rc));
        close(cfd);
        return rc;
    }
    b = s_byte(cfd, timeout_ms > 0 ? timeout_ms : 30000);
    if (b == SSI_IMAGE_HOME_IMAGE)
        return cfd;
    if (b == SSI_IMAGE_VERDICT_CONTINUE) {
        s_read_reason(cfd, err, errlen);
        rc = -ECONNABORTED;
    } else {
        s_err(err, errlen, "no image from the deputy of %d", (int)pid);
        rc = -ETIMEDOUT;
    }
    close(cfd);
    return rc;
}

int ssi_freezereq_ckpt_end(int cfd, const char *prog, const char *file, int timeout_ms, char *err,
                           size_t errlen)
{
    char g = SSI_IMAGE_HOME_GO, b;
    ssi_image_recover_t rec;
    int rc = 0;
    memset(&rec, 0, sizeof(rec));
    if (prog && file && strlen(prog) < sizeof(rec.prog) && strlen(file) < sizeof(rec.file)) {
        memcpy(rec.prog, prog, strlen(prog));
        memcpy(rec.file, file, strlen(file));
    }
    if (write(cfd, &g, 1) != 1 || ssi_io_write_full(cfd, &rec, sizeof(rec)) < 0) {
        s_err(err, errlen, "the deputy went away after the image: %s", strerror(errno));
        close(cfd);
        return -EPIPE;
    }
    b = s_byte(cfd, timeout_ms > 0 ? timeout_ms : 30000);
    if (b == SSI_IMAGE_VERDICT_CONTINUE) {
        s_read_reason(cfd, err, errlen);
        rc = -ECONNABORTED;
    } else if (b != SSI_IMAGE_HOME_CKPT_OK) {
        s_err(err, errlen, "the deputy did not confirm that its body runs on");
        rc = -ETIMEDOUT;
    }
    close(cfd);
    return rc;
}
