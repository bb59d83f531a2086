/* ssid_mig: migration records, answers, helper programs and their pipes
 * (see ssid_mig.h). Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_mig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ssi_log.h"
#include "ssid_stats.h"
#include "ssid_events.h"

static ssid_mig_t *s_migs;

ssid_mig_t *ssid_mig_new(void)
{
    ssid_mig_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->peer = -1;
    g->asker = (ssid_asker_t){.client = 0, .peer = -1};
    g->err_fd = -1;
    g->status_fd = -1;
    g->chain_to = -1;
    g->started = ssid_node_now();
    return g;
}

void ssid_mig_add(ssid_mig_t *g)
{
    g->next = s_migs;
    s_migs = g;
}

ssid_mig_t *ssid_mig_first(void)
{
    return s_migs;
}

ssid_mig_t *ssid_mig_find(uint64_t reqid, bool home_side)
{
    for (ssid_mig_t *g = s_migs; g; g = g->next)
        if (g->reqid == reqid && g->home_side == home_side)
            return g;
    return NULL;
}

void ssid_mig_free(ssid_mig_t *g)
{
    for (ssid_mig_t **pp = &s_migs; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    if (g->err_fd >= 0) {
        ssid_node_unwatch(g->err_fd);
        close(g->err_fd);
    }
    if (g->status_fd >= 0) {
        ssid_node_unwatch(g->status_fd);
        close(g->status_fd);
    }
    if (g->waiting)
        zloop_timer_end(ssid_node.loop, g->wait_timer);
    /* A deleted ticket is never called, and the loop frees it itself. */
    if (g->ticket)
        zloop_ticket_delete(ssid_node.loop, g->ticket);
    if (g->resend)
        zloop_timer_end(ssid_node.loop, g->resend);
    sodium_memzero(g->key, sizeof g->key);
    sodium_memzero(g->key2, sizeof g->key2);
    free(g->mapfiles);
    free(g);
}

void ssid_mig_pass_on(const ssid_asker_t *a, int err, const char *text, const ssid_mig_figs_t *figs)
{
    ssid_client_t *c = a->client ? ssid_client_by_id(a->client) : NULL;
    int outcome = ssid_stats_outcome(err);
    uint8_t out[1200];
    ssi_msg_writer_t w;
    if (!c && a->peer < 0)
        return;
    ssi_msg_begin(&w, out, sizeof out, c ? (err ? SSI_MSG_ERROR : SSI_MSG_OK) : SSI_MSG_MIG_DONE);
    if (!c)
        ssi_msg_put_u64(&w, SSI_TAG_REQID, a->reqid);
    if (!c || err)
        ssi_msg_put_u64(&w, SSI_TAG_ERRNO, (uint64_t)err);
    ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
    if (!c || err)
        ssi_msg_put_u64(&w, SSI_TAG_OUTCOME, (uint64_t)outcome);
    if (figs && !err) {
        ssi_msg_put_str(&w, SSI_TAG_MFROM, figs->from);
        ssi_msg_put_str(&w, SSI_TAG_MTO, figs->to);
    }
    if (figs && !err && figs->have_bytes) {
        ssi_msg_put_u64(&w, SSI_TAG_MBYTES, figs->bytes);
        ssi_msg_put_u64(&w, SSI_TAG_MFREEZE, figs->freeze_us);
        ssi_msg_put_u64(&w, SSI_TAG_MROUNDS, figs->rounds);
        ssi_msg_put_u64(&w, SSI_TAG_MCONV, figs->converged);
    }
    long n = ssi_msg_end(&w);
    if (n > 0 && c)
        ssid_client_reply(c, out, (size_t)n);
    else if (n > 0)
        ssid_node_send(a->peer, out, (size_t)n);
}

static void s_answer(const ssid_asker_t *a, int err, const char *text, const ssid_mig_figs_t *figs)
{
    ssid_stats_count(ssid_stats_outcome(err));
    ssid_mig_pass_on(a, err, text, figs);
}

void ssid_mig_answer(const ssid_asker_t *a, int err, const char *text)
{
    s_answer(a, err, text, NULL);
}

void ssid_mig_finish(ssid_mig_t *g, int err, const char *text)
{
    if (err)
        ssi_warn("migration of %d to %s failed: %s", g->pid, ssid_node_peer_name(g->peer), text);
    else
        ssi_info("%s", text);
    if (err)
        ssid_events_note("failed", "migration of %d to %s failed: %s", g->pid,
                         ssid_node_peer_name(g->peer), text);
    else
        ssid_events_note("migrated", "%s", text);
    s_answer(&g->asker, err, text, g->have_figs ? &g->figs : NULL);
    ssid_mig_free(g);
}

void ssid_mig_send_fail(int to, uint64_t reqid, const char *text)
{
    uint8_t out[1024];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIG_FAIL);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
    ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(to, out, (size_t)n);
}

/* The child's half of ssid_mig_spawn: places fds, execs helper argv[0]. */
static void s_exec_helper(char *const argv[], const int *fds, int nfds) __attribute__((noreturn));

pid_t ssid_mig_spawn(char *const argv[], const int *fds, int nfds, bool new_pidns)
{
    pid_t pid = new_pidns ? (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) : fork();
    if (pid != 0)
        return pid < 0 ? -errno : pid;
    s_exec_helper(argv, fds, nfds);
}

/* Writes `text` into /proc/PID/NAME; 0 or -errno. */
static int s_write_proc(pid_t pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return rc;
}

pid_t ssid_mig_spawn_agent(char *const argv[], const int *fds, int nfds, bool userns, char *why,
                           size_t cap)
{
    int sync[2];
    if (!userns) {
        pid_t pid = ssid_mig_spawn(argv, fds, nfds, true);
        if (pid < 0)
            snprintf(why, cap, "cannot start ssi-agent: %s", strerror((int)-pid));
        return pid;
    }
    if (pipe2(sync, O_CLOEXEC) < 0) {
        snprintf(why, cap, "cannot make a pipe: %s", strerror(errno));
        return -errno;
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        char go = 0;
        close(sync[1]);
        /* Nothing until ssid has written our maps and limits. */
        if (read(sync[0], &go, 1) != 1 || go != 'g')
            _exit(126);
        close(sync[0]);
        s_exec_helper(argv, fds, nfds);
    }
    int err = pid < 0 ? errno : 0;
    const char *step = "clone(CLONE_NEWUSER)";
    close(sync[0]);
    /* The identity map: every file a body touches is home's (vfs-proxy),
     * with home's owners; what the namespace changes is whose capabilities
     * a body holds: those of its own namespaces, none over the node's. */
    if (!err && (err = -s_write_proc(pid, "uid_map", "0 0 4294967295\n")) != 0)
        step = "writing its uid_map";
    if (!err && (err = -s_write_proc(pid, "gid_map", "0 0 4294967295\n")) != 0)
        step = "writing its gid_map";
    /* Inside, raising a hard limit needs CAP_SYS_RESOURCE over the node,
     * which the restorer no longer has: the body's limits must fit under
     * these. */
    for (int r = 0; !err && r < RLIM_NLIMITS; r++) {
        struct rlimit rl;
        if (prlimit(pid, (__rlimit_resource_t)r, NULL, &rl) < 0)
            continue;
        rl.rlim_max = RLIM_INFINITY;
        if (r == RLIMIT_NOFILE) {
            FILE *f = fopen("/proc/sys/fs/nr_open", "re");
            unsigned long long n = 0;
            if (!f || fscanf(f, "%llu", &n) != 1)
                n = rl.rlim_cur;
            if (f)
                fclose(f);
            rl.rlim_max = (rlim_t)n;
        }
        prlimit(pid, (__rlimit_resource_t)r, &rl, NULL); /* best effort: else as today */
    }
    if (!err && write(sync[1], "g", 1) != 1) {
        err = errno;
        step = "starting it";
    }
    close(sync[1]);
    if (err) {
        snprintf(why, cap, "cannot give the body a user namespace of its own: %s: %s", step,
                 strerror(err));
        if (pid > 0)
            kill(pid, SIGKILL); /* reaped with the other children */
        return -err;
    }
    return pid;
}

static void s_exec_helper(char *const argv[], const int *fds, int nfds)
{
    /* Helpers live beside ssid. */
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", ssid_node.bindir, argv[0]);
    /* Child: only async-signal-safe calls from here to exec. Move every
	 * wanted fd above nfds first, so dup2 never clobbers one that is still
	 * to be placed. */
    int tmp[16];
    for (int i = 0; i < nfds; i++)
        tmp[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD, 64) : -1;
    for (int i = 0; i < nfds; i++) {
        int fd = tmp[i] >= 0 ? tmp[i] : (i < 3 ? open("/dev/null", O_RDWR) : -1);
        if (fd >= 0 && dup2(fd, i) < 0)
            _exit(126);
    }
    syscall(SYS_close_range, (unsigned)nfds, ~0u, 0u);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* A helper dies with ssid: a migration cut short by a dying ssid then
	 * fails on the other side, and the process thaws at home. (The body
	 * agent clears this once its body runs.) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(path, argv);
    _exit(127);
}

/* Keeps the tail of what the helpers say; drained as it comes, so that a
 * chatty helper never blocks on a full pipe. */
void ssid_mig_drain_err(ssid_mig_t *g)
{
    if (g->err_fd < 0)
        return;
    for (;;) {
        if (g->errlen > sizeof g->err / 2) {
            size_t keep = sizeof g->err / 4;
            memmove(g->err, g->err + g->errlen - keep, keep);
            g->errlen = keep;
        }
        ssize_t n = read(g->err_fd, g->err + g->errlen, sizeof g->err - 1 - g->errlen);
        if (n <= 0) {
            if (n == 0) {
                ssid_node_unwatch(g->err_fd);
                close(g->err_fd);
                g->err_fd = -1;
            }
            break;
        }
        g->errlen += (size_t)n;
    }
    g->err[g->errlen] = 0;
}

static int s_on_err(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    ssid_mig_drain_err(arg);
    return 0;
}

int ssid_mig_errpipe(ssid_mig_t *g, int *wr)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int rc = ssid_node_watch(p[0], s_on_err, g);
    if (rc < 0) {
        close(p[0]);
        close(p[1]);
        return rc;
    }
    g->err_fd = p[0];
    *wr = p[1];
    return 0;
}

int ssid_mig_keypipe(const uint8_t key[32])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    /* 32 bytes always fit in an empty pipe: this never blocks. */
    if (write(p[1], key, 32) != 32) {
        close(p[0]);
        close(p[1]);
        return -EIO;
    }
    close(p[1]);
    return p[0];
}

const char *ssid_mig_reason(ssid_mig_t *g, const char *fallback)
{
    ssid_mig_drain_err(g);
    char *e = g->err + g->errlen;
    while (e > g->err && (e[-1] == '\n' || e[-1] == ' '))
        *--e = 0;
    char *nl = strrchr(g->err, '\n');
    const char *r = nl ? nl + 1 : g->err;
    return *r ? r : fallback;
}

ssid_mig_t *ssid_mig_exited(pid_t pid, int status)
{
    for (ssid_mig_t *g = s_migs; g; g = g->next)
        for (int i = 0; i < g->nhelpers; i++) {
            if (g->helper[i] != pid)
                continue;
            g->status[i] = status;
            return ++g->nexited < g->nhelpers ? NULL : g;
        }
    return NULL;
}
