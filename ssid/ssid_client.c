/* ssid_client: the local socket's clients and so this node's ssi processes
 * (see ssid_client.h). Each client's socket is a poller of ssid's zloop,
 * added at accept and removed at close. Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ssi_local.h"
#include "ssi_log.h"
#include "ssi_paths.h"
#include "ssid_node.h"

static ssid_client_t *s_client[SSID_CLIENT_MAX];
static int s_nclients;
static uint64_t s_last_id;
static ssid_client_message_fn *s_on_message;

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
    if (c->registered)
        ssi_info("process %d left (%s)", c->pid, c->cmd);
    close(c->fd);
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
        s_on_message(c, c->buf, (size_t)want);
        memmove(c->buf, c->buf + want, c->len - (size_t)want);
        c->len -= (size_t)want;
    }
}

static int s_on_accept(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    for (;;) {
        int fd = accept4(ssid_node.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return 0;
        struct ucred cred;
        socklen_t cl = sizeof cred;
        ssid_client_t *c = s_nclients < SSID_CLIENT_MAX ? calloc(1, sizeof *c) : NULL;
        const char *why = !c ? "too many clients" : NULL;
        if (!why && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
            why = strerror(errno);
        if (!why && ssid_node_watch(fd, s_on_client, c) < 0)
            why = "out of memory";
        if (why) {
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
        s_client[s_nclients++] = c;
    }
}

int ssid_client_start(ssid_client_message_fn *on_message)
{
    s_on_message = on_message;
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
        if (s_client[i]->registered && s_client[i]->pid == pid)
            return s_client[i];
    return NULL;
}

void ssid_client_register(ssid_client_t *c, const ssi_msg_t *m)
{
    uint64_t ppid = 0;
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
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_CKPT_EVERY), &every) == 0 &&
        every > 0 && every <= 86400 * 365) {
        c->ckpt_every = (uint32_t)every;
        c->ckpt_due = ssid_node_now() + (int64_t)every * 1000;
    }
    ssi_info("process %d (uid %u) started%s: %s", c->pid, (unsigned)c->uid,
             c->stay ? " (stays)" : "", c->cmd);
    uint8_t out[64];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_OK);
    long n = ssi_msg_end(&w);
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
    snprintf(c->cmd, sizeof c->cmd, "%s", cmd);
    s_client[s_nclients++] = c;
    return 0;
}

void ssid_client_hold(ssid_client_t *c)
{
    if (c->pidfd < 0 && !c->sock_gone)
        c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
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
        if (!c->registered)
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
