/* ssid_client: the local socket's clients and so this node's ssi processes
 * (see ssid_client.h). Each client's socket is a poller of ssid's zloop,
 * added at accept and removed at close. Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ssi_local.h"
#include "ssi_log.h"
#include "ssi_paths.h"
#include "ssid_node.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

static ssid_client_t *s_client[SSID_CLIENT_MAX];
static int s_nclients;
static uint64_t s_last_id;
static ssid_client_message_fn *s_on_message;

/* What each user other than root holds and may still ask (SSID_CLIENT_*). */
typedef struct {
    uid_t uid;
    int conns;          /* its clients in the table */
    double tokens;      /* requests it may send now */
    int64_t last_ms;    /* when tokens were last refilled */
    uint64_t refused;   /* connections refused, for the log */
    uint64_t throttled; /* requests refused, for the log */
} s_user_t;

static s_user_t s_user[SSID_CLIENT_MAX];
static int s_nusers;
static int s_spare_fd = -1; /* given up to accept and drop a client when out of fds */

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The entry of uid (not root), made if missing; NULL if the table is full. */
static s_user_t *s_user_of(uid_t uid, bool make)
{
    for (int i = 0; i < s_nusers; i++)
        if (s_user[i].uid == uid)
            return &s_user[i];
    if (!make || s_nusers == SSID_CLIENT_MAX)
        return NULL;
    s_user[s_nusers] = (s_user_t){uid, 0, SSID_CLIENT_BURST, s_now_ms(), 0, 0};
    return &s_user[s_nusers++];
}

static void s_user_drop(uid_t uid)
{
    s_user_t *u = uid != 0 ? s_user_of(uid, false) : NULL;
    if (u && --u->conns <= 0)
        *u = s_user[--s_nusers];
}

/* May c's user send one more request now? Root: always. */
static bool s_may_ask(ssid_client_t *c)
{
    s_user_t *u = c->uid != 0 ? s_user_of(c->uid, false) : NULL;
    if (!u)
        return true;
    int64_t now = s_now_ms();
    u->tokens += (double)(now - u->last_ms) * SSID_CLIENT_RATE / 1000.0;
    if (u->tokens > SSID_CLIENT_BURST)
        u->tokens = SSID_CLIENT_BURST;
    u->last_ms = now;
    if (u->tokens >= 1) {
        u->tokens -= 1;
        return true;
    }
    if (u->throttled++ % 1000 == 0)
        ssi_warn("uid %u sends more than %d requests a second: refused (%llu so far)",
                 (unsigned)c->uid, SSID_CLIENT_RATE, (unsigned long long)u->throttled);
    return false;
}

static int s_on_client(zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void s_close(ssid_client_t *c)
{
    int i = 0;
    while (i < s_nclients && s_client[i] != c)
        i++;
    if (i == s_nclients)
        return;
    ssid_node_unwatch(c->fd);
    /* A deputy may close the socket its process registered with: from then
	 * on its pidfd (readable when the process ends) stands in for it. */
    if (c->registered && c->pidfd >= 0) {
        close(c->fd);
        c->fd = c->pidfd;
        c->pidfd = -1;
        c->len = 0;
        c->sock_gone = true;
        if (ssid_node_watch(c->fd, s_on_client, c) == 0)
            return;
        ssi_warn("cannot watch process %d any more: it is dropped from the table", c->pid);
    }
    if (c->pidfd >= 0)
        close(c->pidfd);
    if (c->proc >= 0)
        close(c->proc);
    if (c->registered)
        ssi_info("process %d left (%s)", c->pid, c->cmd);
    close(c->fd);
    s_user_drop(c->uid);
    free(c);
    s_client[i] = s_client[--s_nclients];
}

/* Input from a client: every whole frame goes to the message handler. */
static int s_on_client(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    ssid_client_t *c = arg;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        s_close(c);
        return 0;
    }
    if (n < 0)
        return 0;
    c->len += (size_t)n;
    for (;;) {
        long want = ssi_msg_frame_len(c->buf, c->len);
        if (want == -EAGAIN || (want > 0 && (size_t)want > c->len && (size_t)want <= sizeof c->buf))
            return 0;
        int proto = ssi_msg_version(c->buf, c->len);
        if (want == -EPROTO && proto >= 0) {
            /* A tool or libssi.so of another ssi version: say so, read nothing. */
            ssi_warn("closing local client %d: it speaks protocol %d and this ssid (ssi %s) "
                     "protocol %d; use the tools and libssi.so installed with this ssid",
                     c->pid, proto, SSI_VERSION, SSI_MSG_VERSION);
            s_close(c);
            return 0;
        }
        if (want < 0 || (size_t)want > sizeof c->buf) {
            ssi_warn("closing local client %d: bad frame (%s)", c->pid,
                     want < 0 ? strerror((int)-want) : "too large");
            s_close(c);
            return 0;
        }
        /* A deputy's CALLS (no answer, once a second) costs no tokens. */
        if (c->buf[3] == SSI_MSG_REGISTER || c->buf[3] == SSI_MSG_CALLS ||
            c->buf[3] == SSI_MSG_PIN || s_may_ask(c))
            s_on_message(c, c->buf, (size_t)want);
        else
            ssid_client_reply_error(c, EAGAIN,
                                    "too many requests from this user: try again in a moment");
        memmove(c->buf, c->buf + want, c->len - (size_t)want);
        c->len -= (size_t)want;
    }
}

/* Start time of process pid in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 if there is no such process. */
uint64_t ssid_client_start_time(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long v = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command (field 2) may hold spaces and parentheses: count from
	 * the last ')'. Field 3 follows it; 22 is 19 fields on. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 2; field < 21 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", &v) != 1)
        return 0;
    return v;
}

/* The process at the other end of a new connection: its pidfd (exactly
 * that process, from the kernel) or, on kernels before 6.5, one opened by
 * pid; and its start time, so that a pid taken again later never matches. */
static void s_bind(ssid_client_t *c, int fd)
{
    socklen_t len = sizeof c->proc;
    c->proc = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &c->proc, &len) < 0)
        c->proc = (int)syscall(SYS_pidfd_open, c->pid, 0);
    else
        fcntl(c->proc, F_SETFD, FD_CLOEXEC);
    c->start = ssid_client_start_time(c->pid);
}

int ssid_client_pidfd(const ssid_client_t *c)
{
    return c->proc >= 0 ? c->proc : c->pidfd;
}

bool ssid_client_alive(const ssid_client_t *c)
{
    if (c->proc >= 0 && syscall(SYS_pidfd_send_signal, c->proc, 0, NULL, 0) < 0)
        return false;
    return c->start != 0 && ssid_client_start_time(c->pid) == c->start;
}

/* Why a client of uid may not have a slot now, or NULL. */
static const char *s_no_room(uid_t uid, char *why, size_t cap)
{
    if (s_nclients >= SSID_CLIENT_MAX)
        return "too many clients";
    if (uid == 0)
        return NULL;
    if (s_nclients >= SSID_CLIENT_MAX - SSID_CLIENT_ROOT_RESERVE)
        return "the last slots are root's";
    s_user_t *u = s_user_of(uid, true);
    if (!u)
        return "too many users";
    if (u->conns >= SSID_CLIENT_PER_UID) {
        if (u->refused++ % 1000 != 0)
            return ""; /* said already */
        snprintf(why, cap, "uid %u has %d connections, at most %d per user (%llu refused so far)",
                 (unsigned)uid, u->conns, SSID_CLIENT_PER_UID, (unsigned long long)u->refused);
        return why;
    }
    return NULL;
}

/* Out of descriptors: accept the waiting client with the spare one and
 * drop it, so that the listener does not stay readable (a busy loop). */
static void s_drop_one(void)
{
    if (s_spare_fd < 0)
        return;
    close(s_spare_fd);
    int fd = accept4(ssid_node.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    s_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ssi_warn("refused a local client: out of file descriptors");
}

static int s_on_accept(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    for (;;) {
        int fd = accept4(ssid_node.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                s_drop_one();
            return 0;
        }
        struct ucred cred;
        socklen_t cl = sizeof cred;
        char text[160];
        ssid_client_t *c = NULL;
        const char *why = NULL;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
            why = strerror(errno);
        if (!why)
            why = s_no_room(cred.uid, text, sizeof text);
        if (!why && !(c = calloc(1, sizeof *c)))
            why = "out of memory";
        if (!why && ssid_node_watch(fd, s_on_client, c) < 0)
            why = "out of memory";
        if (why) {
            if (*why)
                ssi_warn("refused a local client: %s", why);
            free(c);
            close(fd);
            continue;
        }
        c->id = ++s_last_id;
        c->fd = fd;
        c->away = -1;
        c->pidfd = -1;
        c->pid = cred.pid;
        c->uid = cred.uid;
        s_bind(c, fd);
        if (c->uid != 0)
            s_user_of(c->uid, true)->conns++;
        s_client[s_nclients++] = c;
    }
}

int ssid_client_start(ssid_client_message_fn *on_message)
{
    s_on_message = on_message;
    s_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return ssid_node_watch(ssid_node.listen_fd, s_on_accept, NULL);
}

void ssid_client_close_all(void)
{
    /* A held process's client closes in two steps (socket, then pidfd). */
    while (s_nclients)
        s_close(s_client[s_nclients - 1]);
}

int ssid_client_count(void)
{
    return s_nclients;
}

ssid_client_t *ssid_client_at(int i)
{
    return s_client[i];
}

int ssid_client_nprocs(void)
{
    int n = 0;
    for (int i = 0; i < s_nclients; i++)
        n += s_client[i]->registered;
    return n;
}

ssid_client_t *ssid_client_by_id(uint64_t id)
{
    for (int i = 0; i < s_nclients; i++)
        if (s_client[i]->id == id)
            return s_client[i];
    return NULL;
}

ssid_client_t *ssid_client_by_pid(pid_t pid)
{
    for (int i = 0; i < s_nclients; i++)
        if (s_client[i]->registered && s_client[i]->pid == pid) {
            if (ssid_client_alive(s_client[i]))
                return s_client[i];
            ssi_warn("process %d of uid %u is gone: its stale record matches nothing", pid,
                     (unsigned)s_client[i]->uid);
        }
    return NULL;
}

int ssid_client_register(ssid_client_t *c, const ssi_msg_t *m, int *lost)
{
    uint64_t ppid = 0;
    int was_away = -1;
    *lost = -1;
    if (c->registered) {
        ssid_client_reply_error(c, EALREADY, "this connection registered its process already");
        return -1;
    }
    if (!ssid_client_alive(c)) {
        ssi_warn("refused a registration for process %d (uid %u): that process has ended", c->pid,
                 (unsigned)c->uid);
        ssid_client_reply_error(
            c, ESRCH, "the process that opened this connection has ended: registration refused");
        return -1;
    }
    /* The same process registered before (its start time is the same: it
     * is this very process, restarted in place from a checkpoint): this
     * record replaces that one, which nobody finds any more. */
    ssid_client_t *old = ssid_client_by_pid(c->pid);
    if (old && old != c && old->start == c->start && !old->migrating) {
        was_away = old->away;
        old->registered = false;
        c->ckpt_seq = old->ckpt_seq;
        c->ckpt_done = old->ckpt_done;
        memcpy(c->ckpt_file, old->ckpt_file, sizeof c->ckpt_file);
        c->moves = old->moves;
        c->away_reqid = old->away_reqid; /* which body to end there (ssid_recover) */
        ssi_info("process %d registered again (restarted from a checkpoint)%s", c->pid,
                 was_away >= 0 ? "; its body away is gone" : "");
    }
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PPID), &ppid);
    c->ppid = (pid_t)ppid;
    const ssi_field_t *cmd = ssi_msg_find(m->field, m->nfields, SSI_TAG_CMD);
    if (ssi_field_str(cmd, c->cmd, sizeof c->cmd) < 0)
        snprintf(c->cmd, sizeof c->cmd, "?");
    uint64_t stay = 0;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_STAY), &stay);
    c->stay = stay != 0;
    c->since = c->started = ssid_node_now();
    c->registered = true;
    uint64_t every = 0;
    /* Its own period (ssirun --checkpoint-every), else the cluster's. */
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_CKPT_EVERY), &every) < 0)
        every = ssi_cluster_checkpoint_every(ssid_node.cluster);
    if (every > 0 && every <= 86400 * 365) {
        c->ckpt_every = (uint32_t)every;
        c->ckpt_due = ssid_node_now() + (int64_t)every * 1000;
    }
    ssi_info("process %d (uid %u) started%s: %s", c->pid, (unsigned)c->uid,
             c->stay ? " (stays)" : "", c->cmd);
    *lost = was_away;
    return 0;
}

void ssid_client_registered(ssid_client_t *c, const char *place)
{
    uint8_t out[128];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_OK);
    if (place && *place)
        ssi_msg_put_str(&w, SSI_TAG_PLACE, place);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_client_reply(c, out, (size_t)n);
}

void ssid_client_moved(ssid_client_t *c, int to, int64_t ms)
{
    c->away = to;
    c->moves++;
    c->since = ssid_node_now();
    c->move_ms = ms;
}

int ssid_client_adopt(pid_t pid, uid_t uid, pid_t ppid, const char *cmd, int away)
{
    if (s_nclients >= SSID_CLIENT_MAX)
        return -ENOSPC;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    ssid_client_t *c = calloc(1, sizeof *c);
    if (!c || ssid_node_watch(fd, s_on_client, c) < 0) {
        free(c);
        close(fd);
        return -ENOMEM;
    }
    c->id = ++s_last_id;
    c->fd = fd;
    c->pidfd = -1;
    c->sock_gone = true;
    c->registered = true;
    c->pid = pid;
    c->uid = uid;
    c->ppid = ppid;
    c->away = away;
    /* Bound to that very process, as a connection's record is (its start
     * time was checked against the file's by the caller). */
    c->proc = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    c->start = ssid_client_start_time(pid);
    c->since = c->started = ssid_node_now();
    snprintf(c->cmd, sizeof c->cmd, "%s", cmd);
    s_client[s_nclients++] = c;
    return 0;
}

void ssid_client_hold(ssid_client_t *c)
{
    /* The process itself, never whichever has its pid now. */
    if (c->pidfd < 0 && !c->sock_gone)
        c->pidfd = c->proc >= 0 ? fcntl(c->proc, F_DUPFD_CLOEXEC, 3)
                                : (int)syscall(SYS_pidfd_open, c->pid, 0);
}

char ssid_client_state(pid_t pid)
{
    char path[64], buf[512], state = '?';
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        char *rp = strrchr(buf, ')');
        if (rp && rp[1])
            state = rp[2];
        fclose(f);
    }
    return state;
}

void ssid_client_reply(ssid_client_t *c, const void *buf, size_t len)
{
    if (c->sock_gone)
        return;
    /* Replies are small and clients wait for them; a client that does not
	 * read loses its connection rather than stalling the daemon. */
    if (ssi_local_send(c->fd, buf, len) < 0)
        shutdown(c->fd, SHUT_RDWR);
}

void ssid_client_reply_error(ssid_client_t *c, int err, const char *text)
{
    uint8_t out[1024];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_ERROR);
    ssi_msg_put_u64(&w, SSI_TAG_ERRNO, (uint64_t)err);
    ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_client_reply(c, out, (size_t)n);
}

void ssid_client_reply_ok(ssid_client_t *c, const char *text)
{
    uint8_t out[1024];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_OK);
    ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_client_reply(c, out, (size_t)n);
}

void ssid_client_put_procs(ssi_msg_writer_t *w)
{
    for (int i = 0; i < s_nclients; i++) {
        ssid_client_t *c = s_client[i];
        if (!c->registered || !ssid_client_alive(c))
            continue;
        char state = ssid_client_state(c->pid);
        const char *st = c->migrating                                     ? "migrating"
                         : c->away >= 0 && (state == 'T' || state == 't') ? "stopped"
                         : c->away >= 0                                   ? "away"
                         : state == 'T' || state == 't'                   ? "stopped"
                         : state == 'Z'                                   ? "zombie"
                                                                          : "running";
        const char *node = c->away >= 0 ? ssid_node_peer_name(c->away) : ssid_node.name;
        size_t mark = ssi_msg_open(w, SSI_TAG_PROC);
        ssi_msg_put_str(w, SSI_TAG_HOME, ssid_node.name);
        ssi_msg_put_u64(w, SSI_TAG_PID, (uint64_t)c->pid);
        ssi_msg_put_str(w, SSI_TAG_NODE, node);
        ssi_msg_put_str(w, SSI_TAG_STATE, st);
        ssi_msg_put_u64(w, SSI_TAG_UID, c->uid);
        ssi_msg_put_str_cut(w, SSI_TAG_CMD, c->cmd);
        ssi_msg_put_u64(w, SSI_TAG_MOVES, c->moves);
        /* LOADM in a PROC record: its CPU demand x 1000 (runnable share). */
        ssi_msg_put_u64(w, SSI_TAG_LOADM, (uint64_t)(c->demand * 1000 + 0.5));
        ssi_msg_put_u64(w, SSI_TAG_ONNODEMS, (uint64_t)(ssid_node_now() - c->since));
        if (c->stay)
            ssi_msg_put_u64(w, SSI_TAG_STAY, 1);
        if (c->ckpt_done)
            ssi_msg_put_u64(w, SSI_TAG_CKPT_AGEMS, (uint64_t)(ssid_node_now() - c->ckpt_done));
        ssi_msg_close(w, mark);
    }
}
