/*
 * ssi_homecoming.c - the deputy brings its body home (see ssi_homecoming.h).
 *
 * ssid (ssi-freeze --home) sigqueues the freeze signal with a token; we
 * connect to the token's socket like a freeze does and read the request.
 * Then: stop reading home input, forward the signals already caught and
 * block the others (they wait in the kernel: forwarded if the homecoming
 * fails, delivered to the program at home if it succeeds), HOME_REQ to
 * the agent. It sends the body's last output (written out here as usual),
 * the image (kept in a memfd) and HOME_END. Once all output is written we
 * dry-run the restorer over the memfd (ssi-restore --check in a child that
 * inherits our descriptors) and commit ('X') or give up ('C'). After
 * HOME_DONE (the body is gone) this process execs ssi-restore --in-place:
 * it becomes the program again, at home, with its pid, parent and
 * descriptors. Nothing that can fail comes after the commit but the exec
 * of a restorer that the dry run just ran. docs/ENGINE.md, "Coming home".
 *
 * Part of libssi.so, home side, signal context (the deputy runs inside the
 * freeze handler): raw system calls, static buffers. Calls the channel
 * table and the call server's fd below it, and the freeze module's
 * connect; never the deputy loop.
 */
#include "ssi_homecoming.h"

#include "ssi_call.h"
#include "ssi_callsrv.h"
#include "ssi_chans.h"
#include "ssi_freeze.h"
#include "ssi_homeinput.h"
#include "ssi_image.h"
#include "ssi_signal.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define S_HOME_TIMEOUT_MS 120000

static volatile int s_home_token = -1;
static int s_home_state; /* 0 idle; 1 asked; 2 image complete; 3 committed */
static long s_home_req_fd = -1, s_home_mem = -1, s_home_err;
static long s_home_deadline;
static ssi_image_home_t s_home_req;
static char s_home_why[400];
static int s_home_ckpt;     /* a checkpoint: the image goes to the requester, the body thaws */
static int s_home_sent_any; /* a checkpoint: 'I' and image bytes went to the requester */
static long s_home_in_err;  /* input read ahead could not be kept (HOME_INPUT) */
static int s_wake_rd = -1, s_wake_wr = -1; /* the deputy loop's self-pipe */
static volatile int s_probe;               /* ssid asked for a probe of the link */
static long s_probe_until;                 /* the probe's user timeout is reset then */
static ssi_image_recover_t s_rec;          /* the last checkpoint, to recover from */
static int s_rec_armed;

static void s_sigmask(int how, uint64_t set)
{
    ssi_sys4(SYS_rt_sigprocmask, how, (long)&set, 0, 8);
}

static long s_now_ms(void)
{
    struct timespec ts;
    ssi_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The link's keepalive settings (idle, interval, count) before a probe,
 * kept while s_keep_have. */
static int s_keep_saved[3], s_keep_opt[3] = {TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT};
static volatile int s_keep_have;

/* A probe's patience on the link: unacknowledged data given up after
 * SSI_IMAGE_PROBE_MS (TCP_USER_TIMEOUT), and a keepalive of a second,
 * twice, for when nothing of ours is in flight (during a checkpoint the
 * deputy only reads the image, in a blocking read): a dead peer fails
 * the link within about 3 s instead of keepalive's usual 25. Raw
 * syscalls only: the signal handler calls it, so that a deputy blocked
 * in that read is freed too. */
static void s_probe_tighten(void)
{
    int fd = (int)ssi_tunnel_link_fd(ssi_chans_link()), t = SSI_IMAGE_PROBE_MS, i;
    int probe_keep[3] = {1, 1, 2};
    if (fd < 0)
        return;
    ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (long)&t, sizeof(t));
    for (i = 0; i < 3; i++) {
        if (!s_keep_have) {
            socklen_t len = sizeof(int);
            if (ssi_sys5(SYS_getsockopt, fd, IPPROTO_TCP, s_keep_opt[i], (long)&s_keep_saved[i],
                         (long)&len) < 0)
                s_keep_saved[i] = 0;
        }
        ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, s_keep_opt[i], (long)&probe_keep[i], sizeof(int));
    }
    s_keep_have = 1;
}

static void s_on_home_signal(int sig, siginfo_t *si, void *uc)
{
    char b = 0;
    (void)sig;
    (void)uc;
    if (si->si_code != SI_QUEUE)
        return;
    if (si->si_uid != 0 && si->si_uid != (uid_t)ssi_sys0(SYS_getuid))
        return;
    if (si->si_value.sival_int == SSI_IMAGE_PROBE_VALUE) {
        s_probe_tighten();
        s_probe = 1;
        ssi_sys3(SYS_write, s_wake_wr, (long)&b, 1);
        return;
    }
    if (si->si_value.sival_int < 0)
        return;
    if (s_home_token < 0)
        s_home_token = si->si_value.sival_int;
    ssi_sys3(SYS_write, s_wake_wr, (long)&b, 1);
}

void ssi_homecoming_init(int wake_rd, int wake_wr)
{
    s_wake_rd = wake_rd;
    s_wake_wr = wake_wr;
    ssi_signal_action(SSI_FREEZE_SIGNAL, (void (*)(void))s_on_home_signal, SA_SIGINFO, ~0ULL, 0);
    ssi_homecoming_arm(1);
}

int ssi_homecoming_wanted(void)
{
    return s_home_token >= 0 && !s_home_state;
}

int ssi_homecoming_is_ckpt(void)
{
    return s_home_ckpt;
}

int ssi_homecoming_active(void)
{
    return s_home_state != 0;
}

/* One byte and, for 'C', a u16 length and the reason, to the requester. */
static void s_home_answer(char code, const char *why)
{
    char buf[3 + sizeof(s_home_why)];
    size_t n = why ? ssi_sys_strlen(why) : 0;
    if (s_home_req_fd < 0)
        return;
    if (n > sizeof(s_home_why) - 1)
        n = sizeof(s_home_why) - 1;
    buf[0] = code;
    buf[1] = (char)(n & 0xff);
    buf[2] = (char)(n >> 8);
    ssi_sys_memcopy(buf + 3, why ? why : "", n);
    ssi_sys6(SYS_sendto, s_home_req_fd, (long)buf, (long)(code == SSI_IMAGE_HOME_OK ? 1 : 3 + n),
             MSG_NOSIGNAL, 0, 0);
}

/* The homecoming did not happen: the body runs on where it was. */
static void s_home_fail(const char *why)
{
    s_home_answer(SSI_IMAGE_VERDICT_CONTINUE, why);
    if (s_home_req_fd >= 0)
        ssi_sys1(SYS_close, s_home_req_fd);
    if (s_home_mem >= 0)
        ssi_sys1(SYS_close, s_home_mem);
    s_home_req_fd = s_home_mem = -1;
    ssi_homeinput_reset();
    s_home_state = 0;
    s_home_token = -1;
    s_home_ckpt = 0;
    /* The signals that waited are forwarded now. */
    s_sigmask(SIG_SETMASK, 0);
}

static void s_home_verdict(char v)
{
    ssi_chans_send(SSI_TUNNEL_HOME_VERDICT, 0, &v, 1);
}

int ssi_homecoming_begin(void)
{
    long fd = ssi_freeze_connect(s_home_token), n = 0;
    char *p = (char *)&s_home_req;
    if (fd < 0) {
        s_home_token = -1;
        return 0;
    }
    while (n < (long)sizeof(s_home_req)) {
        long r = ssi_sys3(SYS_read, fd, (long)(p + n), (long)(sizeof(s_home_req) - (size_t)n));
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        n += r;
    }
    /* Our own descriptors live above the fd base: every lower number is the
     * body's to open a home file at (vfs-proxy), which would replace them. */
    s_home_req_fd = fd = ssi_chans_high_fd(fd);
    s_home_req.restore[sizeof(s_home_req.restore) - 1] = 0;
    if (n != (long)sizeof(s_home_req) || s_home_req.magic != SSI_IMAGE_HOME_MAGIC ||
        s_home_req.version != SSI_IMAGE_VERSION || s_home_req.restore[0] != '/') {
        s_home_fail("bad homecoming request");
        return 0;
    }
    s_home_ckpt = (s_home_req.flags & SSI_IMAGE_HOME_F_CKPT) != 0;
    s_home_sent_any = 0;
    if (s_home_ckpt) {
        /* The image goes to the requester as it comes; nothing comes home,
         * so nothing here must be fit to come home. */
        s_home_err = 0;
        return 1;
    }
    {
        /* Every live socket connection must have its home socket at the
         * body's number (netproxy attaches it there): one the deputy
         * accepted that the program has not accept()ed yet would be lost,
         * one the program reaches only through a dup would be misplaced. */
        int i;
        for (i = 0; i < ssi_chans_count(); i++) {
            ssi_chans_chan_t *c = ssi_chans_at(i);
            if (c->dynamic && !c->dead && !(c->flags & SSI_TUNNEL_CHAN_LISTEN) &&
                !(c->in_done && c->out_done) && c->fd >= ssi_chans_fd_base()) {
                s_home_fail("a connection accepted at home is not taken by the program yet (or "
                            "lives only in a dup); try again later");
                return 0;
            }
        }
    }
    ssi_homeinput_reset();
    s_home_in_err = 0;
    s_home_mem = ssi_chans_high_fd(ssi_sys2(SYS_memfd_create, (long)"ssi-home-image", MFD_CLOEXEC));
    if (s_home_mem < 0) {
        s_home_mem = -1;
        s_home_fail("the deputy cannot make a memfd for the image");
        return 0;
    }
    s_home_err = 0;
    return 1;
}

void ssi_homecoming_ask(void)
{
    ssi_tunnel_home_req_t r = {.flags = s_home_ckpt ? SSI_TUNNEL_HOME_F_CKPT : 0, .pad = 0};
    ssi_chans_send(SSI_TUNNEL_HOME_REQ, 0, &r, sizeof(r));
    s_home_state = 1;
    s_home_deadline = s_now_ms() + S_HOME_TIMEOUT_MS;
}

static int s_home_own_fd(long fd, const long *extra, int nextra)
{
    int i;
    if (fd == ssi_tunnel_link_fd(ssi_chans_link()) || fd == s_wake_rd || fd == s_wake_wr ||
        fd == s_home_req_fd || fd == s_home_mem || fd == ssi_callsrv_fd())
        return 1;
    /* A tunnel's high slot: its channel number holds it now. (Not "every
     * fd above the fd base": the body may have its own up there, such as
     * the shim's ssid socket.) */
    for (i = 0; i < ssi_chans_count(); i++) {
        const ssi_chans_chan_t *c = ssi_chans_at(i);
        if (!c->dynamic && fd == c->fd && c->fd != c->chan)
            return 1;
    }
    for (i = 0; i < nextra; i++)
        if (fd == extra[i])
            return 1;
    return 0;
}

/* Before an exec of ssi-restore: every tunnel at its channel number and
 * every descriptor of the program inheritable (the restorer sets
 * FD_CLOEXEC again from the image); ours stay close-on-exec. Also lifts
 * the soft RLIMIT_NOFILE to the hard one: the restorer keeps the image at
 * fd 900+ (the image's own limit comes back at the end). */
static void s_home_exec_fds(const long *extra, int nextra)
{
    static char buf[4096];
    static int fds[SSI_IMAGE_FD_LIMIT];
    uint64_t rl[2];
    long n;
    int i;
    for (i = 0; i < ssi_chans_count(); i++) {
        /* The tunnel's home fd lives in a high slot (the numbers below
         * the fd base are the body's): put it back at its channel number.
         * The high copy stays close-on-exec and goes with the exec. */
        const ssi_chans_chan_t *c = ssi_chans_at(i);
        long chan = c->chan;
        if (c->out_done && c->dir == SSI_TUNNEL_DIR_OUT && !(c->flags & SSI_TUNNEL_CHAN_SOCKET))
            continue; /* closed at the body's EOF: stays closed */
        /* Only into a free number: if the body closed this channel and
         * reused its number (a home file, a socket the netproxy attached
         * there), the number is that one's now. */
        if (c->fd != chan && ssi_sys2(SYS_fcntl, chan, F_GETFD) == -EBADF)
            ssi_sys3(SYS_dup3, c->fd, chan, 0);
    }
    if (ssi_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)rl) == 0 && rl[0] < rl[1]) {
        rl[0] = rl[1];
        ssi_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, (long)rl, 0);
    }
    n = ssi_sys_list_fds(fds, sizeof(fds) / sizeof(fds[0]), buf, sizeof(buf));
    if (n > (long)(sizeof(fds) / sizeof(fds[0])))
        n = sizeof(fds) / sizeof(fds[0]); /* more than a move allows: the precheck refused */
    for (i = 0; i < n; i++)
        if (!s_home_own_fd(fds[i], extra, nextra))
            ssi_sys3(SYS_fcntl, fds[i], F_SETFD, 0);
}

/* The dry run: ssi-restore --check over the memfd, in a child that has our
 * descriptors. Returns 0, or -1 with the reason in s_home_why. */
static long s_home_check(void)
{
    static char msg[400];
    int sp[2];
    long pid, n = 0, r;
    int st = 0;
    if (ssi_sys2(SYS_pipe2, (long)sp, O_CLOEXEC) < 0) {
        ssi_sys_strlcpy(s_home_why, "the deputy cannot make a pipe", sizeof(s_home_why));
        return -1;
    }
    /* Up with our other descriptors: the low numbers it got are channel
     * numbers that s_home_exec_fds fills in the child. */
    sp[0] = (int)ssi_chans_high_fd(sp[0]);
    sp[1] = (int)ssi_chans_high_fd(sp[1]);
    /* No exit signal: SIGCHLD may still have the program's handler. */
    pid = ssi_sys5(SYS_clone, 0, 0, 0, 0, 0);
    if (pid == 0) {
        char a_st[24], a_fd[24];
        const char *argv[] = {"ssi-restore", "--check", "--status-fd", a_st, "--fd", a_fd, 0};
        const char *envp[] = {0};
        long extra[2] = {sp[0], sp[1]}, mfd, sfd;
        s_home_exec_fds(extra, 2);
        mfd = ssi_sys3(SYS_fcntl, s_home_mem, F_DUPFD, 900);
        sfd = ssi_sys3(SYS_fcntl, sp[1], F_DUPFD, 900);
        if (mfd < 0 || sfd < 0)
            ssi_sys1(SYS_exit_group, 126);
        ssi_sys3(SYS_lseek, mfd, 0, 0);
        ssi_sys_utoa(a_st, (uint64_t)sfd);
        ssi_sys_utoa(a_fd, (uint64_t)mfd);
        ssi_sys3(SYS_execve, (long)s_home_req.restore, (long)argv, (long)envp);
        ssi_sys1(SYS_exit_group, 127);
    }
    ssi_sys1(SYS_close, sp[1]);
    if (pid < 0) {
        ssi_sys1(SYS_close, sp[0]);
        ssi_sys_strlcpy(s_home_why, "the deputy cannot start ssi-restore --check",
                        sizeof(s_home_why));
        return -1;
    }
    for (;;) {
        struct pollfd p = {.fd = sp[0], .events = POLLIN, .revents = 0};
        struct timespec ts = {30, 0};
        r = ssi_sys5(SYS_ppoll, (long)&p, 1, (long)&ts, 0, 8);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        r = ssi_sys3(SYS_read, sp[0], (long)(msg + n), (long)(sizeof(msg) - 1 - (size_t)n));
        if (r == -EINTR)
            continue;
        if (r <= 0 || (n += r) >= (long)sizeof(msg) - 1)
            break;
    }
    msg[n] = 0;
    ssi_sys1(SYS_close, sp[0]);
    ssi_sys2(SYS_kill, pid, SIGKILL); /* a check that hung */
    while (ssi_sys4(SYS_wait4, pid, (long)&st, 0x40000000 /* __WALL */, 0) == -EINTR)
        ;
    if (n >= 1 && msg[0] == 'O' && (st & 0x7f) == 0 && ((st >> 8) & 0xff) == 0)
        return 0;
    while (n > 1 && msg[n - 1] == '\n')
        msg[--n] = 0;
    ssi_sys_strlcpy(s_home_why, "the restore at home would fail: ", sizeof(s_home_why));
    ssi_sys_strlcpy(s_home_why + ssi_sys_strlen(s_home_why),
                    n > 1 ? msg + 1 : "ssi-restore --check did not run",
                    sizeof(s_home_why) - ssi_sys_strlen(s_home_why));
    return -1;
}

/* Committed and the body is gone: become the program again. */
__attribute__((noreturn)) static void s_home_exec(void)
{
    char a_fd[24];
    const char *argv[] = {"ssi-restore", "--in-place", "--fd", a_fd, 0};
    const char *envp[] = {0};
    long rc;
    /* Input read ahead of the body goes back in front of its home pipes
     * (checked before the commit: ssi_homeinput_check). */
    ssi_homeinput_put();
    s_home_answer(SSI_IMAGE_HOME_OK, 0);
    s_home_exec_fds(0, 0);
    ssi_sys3(SYS_fcntl, s_home_mem, F_SETFD, 0);
    ssi_sys3(SYS_lseek, s_home_mem, 0, 0);
    ssi_sys_utoa(a_fd, (uint64_t)s_home_mem);
    rc = ssi_sys3(SYS_execve, (long)s_home_req.restore, (long)argv, (long)envp);
    ssi_sys_log(
        "ssi-deputy: ", "cannot exec ssi-restore after the body ended; the process is lost: ",
        s_home_req.restore, rc);
    ssi_chans_die_by(SIGKILL);
}

/* Writes n bytes to the requester (a checkpoint's image). */
static long s_home_to_req(const void *p, size_t n)
{
    return ssi_sys_send_all(s_home_req_fd, p, n);
}

/* A checkpoint's image is all with the requester and the body's output all
 * written out here: wait for its 'G' (it reads our descriptors while the
 * body is still frozen), thaw the body, answer 'K'. */
static void s_home_ckpt_done(void)
{
    struct pollfd p = {.fd = (int)s_home_req_fd, .events = POLLIN, .revents = 0};
    struct timespec ts = {10, 0};
    char g = 0, k = SSI_IMAGE_HOME_CKPT_OK;
    long r;
    do
        r = ssi_sys5(SYS_ppoll, (long)&p, 1, (long)&ts, 0, 8);
    while (r == -EINTR);
    if (r == 1)
        r = ssi_sys3(SYS_read, s_home_req_fd, (long)&g, 1);
    s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
    if (r != 1 || g != SSI_IMAGE_HOME_GO) {
        s_home_fail("the checkpoint's requester did not confirm the image");
        return;
    }
    {
        /* Where it goes: kept, to recover from should the body be lost. */
        static ssi_image_recover_t rec;
        long n = 0;
        while (n < (long)sizeof(rec)) {
            struct pollfd q = {.fd = (int)s_home_req_fd, .events = POLLIN, .revents = 0};
            struct timespec t1 = {2, 0};
            r = ssi_sys5(SYS_ppoll, (long)&q, 1, (long)&t1, 0, 8);
            if (r == -EINTR)
                continue;
            r = r == 1 ? ssi_sys3(SYS_read, s_home_req_fd, (long)((char *)&rec + n),
                                  (long)(sizeof(rec) - (size_t)n))
                       : 0;
            if (r == -EINTR)
                continue;
            if (r <= 0)
                break;
            n += r;
        }
        rec.prog[sizeof(rec.prog) - 1] = rec.file[sizeof(rec.file) - 1] = 0;
        if (n == (long)sizeof(rec) && rec.prog[0] == '/' && rec.file[0] == '/') {
            ssi_sys_memcopy(&s_rec, &rec, sizeof(rec));
            s_rec_armed = 1;
        }
    }
    s_home_to_req(&k, 1);
    ssi_sys1(SYS_close, s_home_req_fd);
    s_home_req_fd = -1;
    s_home_state = 0;
    s_home_token = -1;
    s_home_ckpt = 0;
    s_sigmask(SIG_SETMASK, 0);
}

void ssi_homecoming_step(void)
{
    /* Once committed, the agent answers DONE or REFUSE, or the link
     * breaks: no timeout of ours. */
    if (s_home_state < 3 && s_now_ms() > s_home_deadline) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail("the homecoming took too long; the body runs on where it was");
        return;
    }
    if (s_home_state != 2 || !ssi_chans_all_flushed())
        return;
    if (s_home_ckpt && s_home_err) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail("the deputy could not pass the image on (the requester went away)");
        return;
    }
    if (s_home_ckpt) {
        s_home_ckpt_done();
        return;
    }
    if (s_home_err) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail("the deputy could not keep the image (memfd write failed)");
        return;
    }
    if (s_home_in_err) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail("the deputy could not keep the input it had read ahead of the body");
        return;
    }
    if (s_home_check() < 0 || ssi_homeinput_check(s_home_why, sizeof(s_home_why)) < 0) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail(s_home_why);
        return;
    }
    s_home_verdict(SSI_IMAGE_VERDICT_EXIT);
    s_home_state = 3;
}

void ssi_homecoming_frame(const ssi_tunnel_hdr_t *h, const uint8_t *body)
{
    if (!s_home_state)
        return;
    switch (h->type) {
    case SSI_TUNNEL_HOME_REFUSE: {
        uint32_t n = h->len < sizeof(s_home_why) - 1 ? h->len : (uint32_t)sizeof(s_home_why) - 1;
        ssi_sys_memcopy(s_home_why, body, n);
        s_home_why[n] = 0;
        s_home_fail(s_home_why);
        return;
    }
    case SSI_TUNNEL_HOME_IMAGE: {
        if (s_home_ckpt) {
            static const char img = SSI_IMAGE_HOME_IMAGE;
            if (!s_home_err && s_home_state == 1 && !s_home_sent_any)
                s_home_err = s_home_to_req(&img, 1);
            s_home_sent_any = 1;
            if (!s_home_err)
                s_home_err = s_home_to_req(body, h->len);
            return;
        }
        if (!s_home_err)
            s_home_err = ssi_sys_write_all(s_home_mem, body, h->len);
        return;
    }
    case SSI_TUNNEL_HOME_INPUT:
        if (!s_home_ckpt && s_home_state == 1 && !s_home_in_err)
            s_home_in_err = ssi_homeinput_add(h->chan, body, h->len);
        return;
    case SSI_TUNNEL_HOME_END:
        if (s_home_state == 1)
            s_home_state = 2;
        return;
    case SSI_TUNNEL_HOME_DONE:
        if (s_home_state == 3)
            s_home_exec();
        ssi_chans_lost(-EPROTO);
    default: return;
    }
}

/* The link to the body broke (ssi_chans_lost): with a checkpoint taken
 * while it was away, become the program again from it, here, with our pid,
 * parent and descriptors (ssi-ckpt restart --self execs ssi-restore
 * --in-place --restart); returns only when there is none or the exec
 * failed, and the deputy then dies as killed by SIGKILL. */
static void s_recover(long err)
{
    const char *argv[] = {"ssi-ckpt", "restart", "--self", s_rec.file, 0};
    const char *envp[] = {0};
    long rc;
    (void)err;
    if (!s_rec_armed)
        return;
    s_rec_armed = 0;
    ssi_sys_log("ssi-deputy: ", "lost the body's node; restarting here from its checkpoint ",
                s_rec.file, 0);
    s_home_exec_fds(0, 0);
    /* The freeze signal stays blocked across the exec: ssid's probe or a
     * checkpoint's request that comes before the restored program has its
     * handler again would kill it (the default action); it waits, pending,
     * and the program's own mask, restored by ssi-restore, lets it in. */
    s_sigmask(SIG_SETMASK, 1ULL << (SSI_FREEZE_SIGNAL - 1));
    rc = ssi_sys3(SYS_execve, (long)s_rec.prog, (long)argv, (long)envp);
    ssi_sys_log("ssi-deputy: ", "cannot run ssi-ckpt to recover: ", s_rec.prog, rc);
}

void ssi_homecoming_set_recover(const ssi_image_recover_t *rec)
{
    s_rec_armed = 0;
    if (!rec || rec->prog[0] != '/' || rec->file[0] != '/')
        return;
    ssi_sys_memcopy(&s_rec, rec, sizeof(s_rec));
    s_rec.prog[sizeof(s_rec.prog) - 1] = s_rec.file[sizeof(s_rec.file) - 1] = 0;
    s_rec_armed = 1;
}

void ssi_homecoming_arm(int on)
{
    ssi_chans_set_lost_hook(on ? s_recover : 0);
    if (!on)
        s_rec_armed = 0;
}

long ssi_homecoming_probe_step(void)
{
    long now = s_now_ms();
    int fd = (int)ssi_tunnel_link_fd(ssi_chans_link()), t, i;
    if (s_probe) {
        int32_t zero = 0; /* SIGNAL 0: the agent does nothing with it */
        s_probe = 0;
        s_probe_tighten();
        ssi_chans_send(SSI_TUNNEL_SIGNAL, 0, &zero, sizeof(zero));
        s_probe_until = now + 3 * SSI_IMAGE_PROBE_MS;
    }
    if (!s_probe_until)
        return -1;
    if (now < s_probe_until)
        return s_probe_until - now;
    /* The link answered: it keeps its usual patience (a stall is not a
     * loss). */
    t = 0;
    ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (long)&t, sizeof(t));
    for (i = 0; i < 3; i++)
        if (s_keep_have && s_keep_saved[i] > 0)
            ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, s_keep_opt[i], (long)&s_keep_saved[i],
                     sizeof(int));
    s_keep_have = 0;
    s_probe_until = 0;
    return -1;
}

void ssi_homecoming_ended(void)
{
    if (s_home_state)
        s_home_answer(SSI_IMAGE_VERDICT_CONTINUE, s_home_ckpt
                                                      ? "the program ended during its checkpoint"
                                                      : "the program ended before it came home");
}

/* ---- the body asks to come home (fork, vfork, clone, execve away) ------- */

#define S_SELF_RETRIES 30 /* asks while ssid says the process is being moved (1 s apart) */

static uint32_t s_self_epoch; /* one per ask; each ends refused (or the exec) */
static int s_self_state;      /* 0 none; 1 ssid to be asked; 2 asked; 3 refused */
static long s_self_at;        /* state 1: when to ask */
static int s_self_tries;
static char s_self_why[sizeof(((ssi_call_home_t *)0)->why)];

static void s_self_refuse(const char *why)
{
    ssi_sys_strlcpy(s_self_why, why, sizeof(s_self_why));
    s_self_state = 3;
}

int ssi_homecoming_exec(unsigned op, const int64_t *a, long *ret)
{
    ssi_call_home_t *h = (ssi_call_home_t *)a[2];
    if (op != SSI_CALL_OP_HOME)
        return 0;
    if (!h) {
        *ret = -EFAULT;
        return 1;
    }
    /* Several threads (or one after a refusal) ask: one ask under way. */
    if (a[0] && s_self_state != 1 && s_self_state != 2) {
        s_self_epoch++;
        s_self_state = 1;
        s_self_at = 0;
        s_self_tries = 0;
    }
    ssi_sys_memzero(h, sizeof(*h));
    h->epoch = a[0] ? s_self_epoch : (uint32_t)a[1];
    if (h->epoch == s_self_epoch && s_self_state != 3) {
        h->state = SSI_CALL_HOME_PENDING;
    } else {
        /* Every ask before the last ended refused: its reason is the last. */
        h->state = SSI_CALL_HOME_REFUSED;
        ssi_sys_strlcpy(h->why, s_self_why, sizeof(h->why));
    }
    *ret = 0;
    return 1;
}

long ssi_homecoming_self_due(void)
{
    long now;
    if (s_self_state != 1)
        return -1;
    now = s_now_ms();
    return s_self_at > now ? s_self_at - now : 0;
}

void ssi_homecoming_self_asked(const char *failed)
{
    if (s_self_state != 1)
        return;
    if (failed)
        s_self_refuse(failed);
    else
        s_self_state = 2;
}

int ssi_homecoming_self_waiting(void)
{
    return s_self_state == 2;
}

void ssi_homecoming_self_answer(int err, const char *why)
{
    if (s_self_state != 2)
        return;
    if (err == EBUSY && ++s_self_tries < S_SELF_RETRIES) {
        /* Being moved or checkpointed: ask again when that is over. */
        s_self_state = 1;
        s_self_at = s_now_ms() + 1000;
        return;
    }
    s_self_refuse(err ? why : "the home node answered but the process did not come home");
}
