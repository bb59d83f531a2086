/* ssid_offer: the first hop of a migration, both sides (see ssid_offer.h).
 * Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_offer.h"

#include "ssid_events.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ssi_chan.h"
#include "ssi_log.h"
#include "ssi_precheck.h"
#include "ssid_mapfiles.h"
#include "ssid_stats.h"

/* The host part of a tcp://HOST:PORT endpoint. */
static void s_endpoint_host(const char *ep, char *out, size_t cap)
{
    const char *h = ep + 6;
    const char *colon = strrchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : strlen(h);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, h, n);
    out[n] = 0;
}

/* Home: the offer got no answer in time; the process was never touched. */
static int s_on_offer_timeout(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    ssid_mig_t *g = arg;
    g->ticket = NULL; /* the loop deletes a ticket that fired */
    ssid_client_t *p = ssid_client_by_pid(g->pid);
    if (p)
        p->migrating = false;
    char why[300];
    snprintf(why, sizeof why, "%s did not answer the offer in %d s; the process keeps running here",
             ssid_node_peer_name(g->peer), SSID_OFFER_MS / 1000);
    ssid_mig_finish(g, ETIMEDOUT, why);
    return 0;
}

/* The resident memory of pid in KiB (what its image will roughly be), 0
 * if unknown. */
static uint64_t s_rss_kb(pid_t pid)
{
    char path[64], line[256];
    uint64_t kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

/* Home: MIG_OFFER of g (process p) to g->peer. */
static void s_send_offer(ssid_mig_t *g, const ssid_client_t *p)
{
    /* The fixed fields, then the mapped files (each with a 4-byte field head at most). */
    size_t cap = 2048 + g->mapfiles_len + 2 * SSID_MAPFILES_MAX;
    uint8_t *out = malloc(cap);
    ssi_msg_writer_t w;
    if (!out)
        return; /* sent again by the resend timer */
    ssi_msg_begin(&w, out, cap, SSI_MSG_MIG_OFFER);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, g->reqid);
    ssi_msg_put_str(&w, SSI_TAG_HOME, ssid_node.name);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)p->pid);
    ssi_msg_put_u64(&w, SSI_TAG_UID, p->uid);
    ssi_msg_put_str_cut(&w, SSI_TAG_CMD, p->cmd);
    ssi_msg_put_u64(&w, SSI_TAG_IMAGEKB, s_rss_kb(p->pid));
    /* The keys cross the CURVE-encrypted control plane only. */
    ssi_msg_put_bytes(&w, SSI_TAG_KEY, g->key, 32);
    ssi_msg_put_bytes(&w, SSI_TAG_KEY2, g->key2, 32);
    ssid_mapfiles_put(&w, g->mapfiles, g->mapfiles_len);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(g->peer, out, (size_t)n);
    else
        ssi_warn("cannot make the offer of process %d (%s)", p->pid, strerror((int)-n));
    sodium_memzero(out, cap);
    free(out);
}

/* Home: the offer again, while it waits for an answer. */
static int s_on_resend(zloop_t *loop, int timer_id, void *arg)
{
    ssid_mig_t *g = arg;
    ssid_client_t *p = ssid_client_by_pid(g->pid);
    if (!g->ticket || !p) {
        zloop_timer_end(loop, timer_id);
        g->resend = 0;
        return 0;
    }
    s_send_offer(g, p);
    return 0;
}

/* Destination: MIG_READY of g (the image and the agent's ports). */
static void s_send_ready(ssid_mig_t *g)
{
    uint8_t out[256];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIG_READY);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, g->reqid);
    ssi_msg_put_u64(&w, SSI_TAG_PORT, g->port);
    ssi_msg_put_u64(&w, SSI_TAG_DPORT, g->dport);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(g->peer, out, (size_t)n);
}

/* Destination: READY again, until the body runs (or a minute passed). */
static int s_on_ready_resend(zloop_t *loop, int timer_id, void *arg)
{
    ssid_mig_t *g = arg;
    if (g->running || ++g->nresent > 60000 / SSID_OFFER_RESEND_MS) {
        zloop_timer_end(loop, timer_id);
        g->resend = 0;
        return 0;
    }
    s_send_ready(g);
    return 0;
}

void ssid_offer_start(const ssid_asker_t *a, ssid_client_t *p, int to, const char *note)
{
    char why[512];
    const char *dest = ssid_node_peer_name(to);
    int rc = ssi_deputy_check(p->pid, why, sizeof why);
    if (rc == 0 && p->pinned[0]) { /* its shim said so (PIN) */
        snprintf(why, sizeof why, "%s", p->pinned);
        rc = -EBUSY;
    }
    /* What the precheck could not inspect was not touched: a failure (EIO)
	 * whatever its errno, not a refusal or a permission (ssid_stats). */
    if (rc < 0 && rc != -EBUSY && rc != -ESRCH)
        rc = -EIO;
    if (rc < 0) {
        char text[640];
        snprintf(text, sizeof text, "%sprocess %d cannot migrate: %s; it keeps running here on %s",
                 note, p->pid, why, ssid_node.name);
        ssid_mig_answer(a, -rc, text);
        return;
    }
    /* The files it maps, hashed, for the destination to compare with its own. */
    uint8_t *maps = NULL;
    size_t maps_len = 0, nmaps = 0;
    rc = ssid_mapfiles_collect(p->pid, &maps, &maps_len, &nmaps, why, sizeof why);
    if (rc < 0) {
        char text[640];
        snprintf(text, sizeof text, "%sprocess %d cannot migrate: %s; it keeps running here on %s",
                 note, p->pid, why, ssid_node.name);
        ssid_mig_answer(a, rc == -ENOMEM ? ENOMEM : EBUSY, text);
        return;
    }
    ssid_mig_t *g = ssid_mig_new();
    if (g)
        g->ticket = zloop_ticket(ssid_node.loop, s_on_offer_timeout, g);
    if (!g || !g->ticket) {
        free(g);
        free(maps);
        ssid_mig_answer(a, ENOMEM, "out of memory");
        return;
    }
    g->mapfiles = maps;
    g->mapfiles_len = maps_len;
    g->reqid = ssid_node_new_reqid();
    g->home_side = true;
    g->peer = to;
    g->asker = *a;
    g->pid = p->pid;
    snprintf(g->home, sizeof g->home, "%s", ssid_node.name);
    randombytes_buf(g->key, sizeof g->key);
    randombytes_buf(g->key2, sizeof g->key2);
    snprintf(g->note, sizeof g->note, "%s", note);
    ssid_mig_add(g);
    p->migrating = true;
    ssid_client_hold(p);
    s_send_offer(g, p);
    /* Sent again until the destination answers: a peer whose ssid has
     * just restarted is not connected yet, and a message sent meanwhile
     * is dropped. The destination answers each copy once. */
    int t = zloop_timer(ssid_node.loop, SSID_OFFER_RESEND_MS, 0, s_on_resend, g);
    g->resend = t > 0 ? t : 0;
    ssi_info("offering process %d (%s) to %s", p->pid, p->cmd, dest);
}

/* Destination: a status line from ssi-agent. */
static void s_status_line(ssid_mig_t *g, const char *line)
{
    unsigned port;
    char addr[64];
    if (sscanf(line, "listening %63s %u", addr, &port) == 2 && !g->ready_sent) {
        g->dport = (uint16_t)port;
        s_send_ready(g);
        g->ready_sent = true;
        /* Sent again until the body runs: a READY sent while our link to
         * home is down (just restarted, or woken from a stop) is dropped,
         * and home must see it to tell us when the offer is stale. */
        int t = zloop_timer(ssid_node.loop, SSID_OFFER_RESEND_MS, 0, s_on_ready_resend, g);
        g->resend = t > 0 ? t : 0;
    } else if (strncmp(line, "running", 7) == 0) {
        g->running = true;
        ssi_info("body of %s:%d: %s", g->home, g->pid, line);
    } else if (strncmp(line, "failed", 6) == 0) {
        ssi_warn("body of %s:%d: %s", g->home, g->pid, line);
        /* Before or during the transfer: home tells the user why. */
        ssid_mig_send_fail(g->peer, g->reqid, strncmp(line, "failed: ", 8) == 0 ? line + 8 : line);
    } else {
        ssi_info("body of %s:%d: %s", g->home, g->pid, line);
    }
}

/* Destination: reads what ssi-agent said, line by line. */
static void s_read_status(ssid_mig_t *g)
{
    while (g->status_fd >= 0) {
        ssize_t n = read(g->status_fd, g->line + g->linelen, sizeof g->line - 1 - g->linelen);
        if (n <= 0) {
            if (n == 0) {
                ssid_node_unwatch(g->status_fd);
                close(g->status_fd);
                g->status_fd = -1;
            }
            return;
        }
        g->linelen += (size_t)n;
        g->line[g->linelen] = 0;
        char *nl;
        while ((nl = strchr(g->line, '\n'))) {
            *nl = 0;
            s_status_line(g, g->line);
            size_t used = (size_t)(nl + 1 - g->line);
            memmove(g->line, nl + 1, g->linelen - used + 1);
            g->linelen -= used;
        }
        if (g->linelen == sizeof g->line - 1)
            g->linelen = 0; /* a line too long to be ours */
    }
}

static int s_on_status(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_read_status(arg);
    return 0;
}

void ssid_offer_received(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, pid = 0, uid = 0;
    const ssi_field_t *k = ssi_msg_find(m->field, m->nfields, SSI_TAG_KEY);
    const ssi_field_t *k2 = ssi_msg_find(m->field, m->nfields, SSI_TAG_KEY2);
    char home[SSI_NAME_MAX + 1];
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_UID), &uid) < 0 ||
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home) < 0 ||
        !k || k->len != 32 || !k2 || k2->len != 32) {
        ssi_warn("dropped a malformed migration offer from %s", ssid_node_peer_name(from));
        return;
    }
    /* Home sends its offer until it is answered: answer a copy with the
     * same READY (if it went out), never start twice. */
    ssid_mig_t *g = ssid_mig_find(reqid, false);
    if (g && g->peer == from) {
        if (g->ready_sent)
            s_send_ready(g);
        return;
    }
    if (ssid_node.blocked) {
        char why[200];
        snprintf(why, sizeof why, "%s is %s: it takes no guests (ssictl unblock %s)",
                 ssid_node.name, ssid_node.draining ? "draining" : "blocked", ssid_node.name);
        ssi_info("refused process %llu of %s: %s", (unsigned long long)pid, home, why);
        ssid_events_note("refused", "refused process %llu of %s: %s", (unsigned long long)pid, home,
                         why);
        ssid_mig_send_fail(from, reqid, why);
        return;
    }
    /* Memory: a guest must leave us mem_min free (ushering's rule). */
    uint64_t imagekb = 0;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_IMAGEKB), &imagekb);
    const ssi_gossip_entry_t *own = ssi_gossip_entry(ssid_node.gossip, ssid_node.self);
    double min_kb = ssi_cluster_balance(ssid_node.cluster)->mem_min * 1024;
    if (imagekb && own->known && (double)own->freekb - (double)imagekb < min_kb) {
        char why[200];
        snprintf(why, sizeof why,
                 "%s has %llu MiB free: no room for %llu MiB and the %.0f MiB it keeps free "
                 "(mem_min)",
                 ssid_node.name, (unsigned long long)(own->freekb / 1024),
                 (unsigned long long)(imagekb / 1024), min_kb / 1024);
        ssi_info("refused process %llu of %s: %s", (unsigned long long)pid, home, why);
        ssid_events_note("refused", "refused process %llu of %s: %s", (unsigned long long)pid, home,
                         why);
        ssid_mig_send_fail(from, reqid, why);
        return;
    }
    /* The files it maps: the restorer maps ours, so they must be home's. */
    char mwhy[600];
    if (ssid_mapfiles_verify(m, ssid_node.name, mwhy, sizeof mwhy) < 0) {
        ssi_info("refused process %llu of %s: %s", (unsigned long long)pid, home, mwhy);
        ssid_events_note("refused", "refused process %llu of %s: %s", (unsigned long long)pid, home,
                         mwhy);
        ssid_mig_send_fail(from, reqid, mwhy);
        return;
    }
    g = ssid_mig_new();
    if (!g) {
        ssid_mig_send_fail(from, reqid, "destination out of memory");
        return;
    }
    g->reqid = reqid;
    g->peer = from;
    g->pid = (pid_t)pid;
    snprintf(g->home, sizeof g->home, "%s", home);
    memcpy(g->key, k->val, 32);
    memcpy(g->key2, k2->val, 32);
    ssid_mig_add(g);

    char host[256], why[512], listen[300];
    s_endpoint_host(ssi_cluster_node(ssid_node.cluster, (size_t)ssid_node.self)->endpoint, host,
                    sizeof host);
    snprintf(listen, sizeof listen, "%s:0", host);
    int lfd = ssi_chan_listen(host, 0, &g->port);
    int errw = -1, pipefd[2] = {-1, -1}, st[2] = {-1, -1}, kfd = -1, k2fd = -1;
    int rc = 0;
    if (lfd < 0) {
        snprintf(why, sizeof why, "destination cannot listen on %s: %s", host, strerror(-lfd));
        rc = -1;
    }
    if (rc == 0 && (ssid_mig_errpipe(g, &errw) < 0 || pipe2(pipefd, O_CLOEXEC) < 0 ||
                    pipe2(st, O_CLOEXEC) < 0 || (kfd = ssid_mig_keypipe(g->key)) < 0 ||
                    (k2fd = ssid_mig_keypipe(g->key2)) < 0)) {
        snprintf(why, sizeof why, "destination cannot make pipes: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0) {
        fcntl(st[0], F_SETFL, O_NONBLOCK);
        if (ssid_node_watch(st[0], s_on_status, g) == 0) {
            g->status_fd = st[0];
            st[0] = -1;
        } else {
            snprintf(why, sizeof why, "destination cannot watch its helpers: out of memory");
            rc = -1;
        }
    }
    if (rc == 0) {
        char *xargv[] = {"ssi-xfer", "recv",      "--listen-fd",     "3", "--key-fd",
                         "4",        "--timeout", SSID_XFER_TIMEOUT, NULL};
        int xfds[] = {-1, pipefd[1], errw, lfd, kfd};
        pid_t x = ssid_mig_spawn(xargv, xfds, 5, false);
        /* The agent is pid 1 of a new PID namespace, so that the body gets
		 * its home pid back (clone3 set_tid). */
        char *aargv[] = {"ssi-agent", "--listen",    listen, "--key-fd", "3", "--image-fd",
                         "0",         "--status-fd", "4",    NULL,       NULL};
        /* The cluster file's 'sandbox = off' (ssi-cluster(5)): said in the log. */
        if (!ssi_cluster_sandbox(ssid_node.cluster)) {
            aargv[9] = "--no-sandbox";
            ssi_warn("process %llu of %s runs here without its sandbox (cluster file: sandbox = "
                     "off)",
                     (unsigned long long)pid, home);
        }
        int afds[] = {pipefd[0], errw, errw, k2fd, st[1]};
        /* With its sandbox, in a user namespace of its own (#12). */
        char awhy[300] = "";
        pid_t a = x > 0
                      ? ssid_mig_spawn_agent(aargv, afds, 5, ssi_cluster_sandbox(ssid_node.cluster),
                                             awhy, sizeof awhy)
                      : -1;
        if (x > 0)
            g->helper[g->nhelpers++] = x;
        if (a > 0)
            g->helper[g->nhelpers++] = a;
        if (x < 0 || a < 0) {
            if (x > 0 && awhy[0])
                snprintf(why, sizeof why, "destination %s", awhy);
            else
                snprintf(why, sizeof why, "destination cannot start its helpers: %s",
                         strerror(errno));
            for (int i = 0; i < g->nhelpers; i++)
                kill(g->helper[i], SIGKILL);
            rc = -1;
        }
    }
    int close_fds[] = {lfd, errw, pipefd[0], pipefd[1], st[0], st[1], kfd, k2fd};
    for (size_t i = 0; i < sizeof close_fds / sizeof *close_fds; i++)
        if (close_fds[i] >= 0)
            close(close_fds[i]);
    if (rc < 0) {
        ssi_warn("refusing process %llu of %s: %s", (unsigned long long)pid, home, why);
        ssid_mig_send_fail(from, reqid, why);
        if (g->nhelpers == 0)
            ssid_mig_free(g);
        return;
    }
    ssi_info("receiving process %llu of %s (image port %u)", (unsigned long long)pid, home,
             g->port);
    /* MIG_READY goes out when the agent says where it listens. */
}

void ssid_offer_ready(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, port = 0, dport = 0;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PORT), &port) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_DPORT), &dport) < 0)
        return;
    ssid_mig_t *g = ssid_mig_find(reqid, true);
    if (!g) {
        /* An offer that timed out here (or that a previous life of this
         * ssid made): the destination must not go on with it. */
        ssid_mig_send_fail(from, reqid, "the offer is no longer valid (it timed out at home)");
        ssi_info("%s answered an offer that is no longer valid; told it to give up",
                 ssid_node_peer_name(from));
        return;
    }
    if (g->peer != from || !g->ticket)
        return; /* a copy of the READY that started the move */
    zloop_ticket_delete(ssid_node.loop, g->ticket);
    g->ticket = NULL;
    if (g->resend) {
        zloop_timer_end(ssid_node.loop, g->resend);
        g->resend = 0;
    }
    char host[256], to[300], dep[300];
    s_endpoint_host(ssi_cluster_node(ssid_node.cluster, (size_t)from)->endpoint, host, sizeof host);
    snprintf(to, sizeof to, "%s:%llu", host, (unsigned long long)port);
    snprintf(dep, sizeof dep, "%s:%llu", host, (unsigned long long)dport);
    char pid_s[32];
    snprintf(pid_s, sizeof pid_s, "%d", g->pid);
    int errw = -1, pipefd[2] = {-1, -1}, kfd = -1, k2fd = -1;
    /* The signal goes to the registered process itself (its pidfd). */
    ssid_client_t *proc = ssid_client_by_pid(g->pid);
    if (!proc) {
        ssid_mig_send_fail(from, reqid, "the process ended");
        ssid_mig_finish(g, ESRCH, "the process ended before it could be frozen");
        return;
    }
    if (ssid_mig_errpipe(g, &errw) < 0 || pipe2(pipefd, O_CLOEXEC) < 0 ||
        (kfd = ssid_mig_keypipe(g->key)) < 0 || (k2fd = ssid_mig_keypipe(g->key2)) < 0) {
        ssid_mig_send_fail(from, reqid, "home cannot make pipes");
        ssid_mig_finish(g, EIO, "cannot make pipes; the process was not touched");
    } else {
        int pfd = ssid_client_pidfd(proc);
        char *fargv[] = {"ssi-freeze", "-q", "--stats", "--deputy", dep,  "--key-fd", "3", pid_s,
                         NULL,         NULL, NULL,      NULL,       NULL, NULL,       NULL};
        int ffds[] = {-1, pipefd[1], errw, k2fd, pfd};
        int fa = 7;
        /* Pre-copy unless the user asked for stop-and-copy. */
        if (!g->asker.stop_copy)
            fargv[fa++] = "--live";
        if (pfd >= 0) {
            fargv[fa++] = "--pidfd";
            fargv[fa++] = "4";
        }
        /* The last checkpoint taken at home arms the deputy: should the
         * body's node die before one is taken away, the process restarts
         * from it at home (ARCHITECTURE, "Recovery when a node dies"). */
        if (proc->ckpt_file[0] && access(proc->ckpt_file, R_OK) == 0) {
            fargv[fa++] = "--recover";
            fargv[fa++] = proc->ckpt_file;
        }
        fargv[fa] = pid_s;
        char *xargv[] = {"ssi-xfer",        "send", "--to", to, "--key-fd", "3", "--timeout",
                         SSID_XFER_TIMEOUT, NULL};
        int xfds[] = {pipefd[0], -1, errw, kfd};
        /* helper[0] is ssi-freeze: its exit status decides. */
        pid_t x = ssid_mig_spawn(xargv, xfds, 4, false);
        pid_t f = x > 0 ? ssid_mig_spawn(fargv, ffds, pfd >= 0 ? 5 : 4, false) : -1;
        if (f > 0) {
            g->helper[g->nhelpers++] = f;
            g->helper[g->nhelpers++] = x;
        } else {
            if (x > 0) {
                kill(x, SIGKILL);
                waitpid(x, NULL, 0);
            }
            ssid_mig_send_fail(from, reqid, "home cannot start its helpers");
            ssid_mig_finish(g, EIO, "cannot start ssi-freeze; the process was not touched");
        }
    }
    int close_fds[] = {errw, pipefd[0], pipefd[1], kfd, k2fd};
    for (size_t i = 0; i < sizeof close_fds / sizeof *close_fds; i++)
        if (close_fds[i] >= 0)
            close(close_fds[i]);
}

#define SSID_REMOTE_WAIT_MS 1500

/* Home: the move failed; says why, with the destination's reason when it
 * sent one. */
static void s_finish_failed(ssid_mig_t *g)
{
    char text[1100];
    const char *dest = ssid_node_peer_name(g->peer);
    const char *here = ssid_mig_reason(g, "the image did not get through");
    /* The destination stops its helpers and whatever body they made: a
     * failed move leaves nothing there (without this, a stalled transfer
     * or a body no deputy will reach stayed). */
    if (!g->remote[0])
        ssid_mig_send_fail(g->peer, g->reqid, here);
    /* The destination's reason first, unless all it saw was the image
     * stream ending (then the cause is here: a process that could not be
     * captured, a helper that died). */
    bool remote_first = g->remote[0] && strncmp(g->remote, "cannot read the image", 21) != 0 &&
                        strncmp(g->remote, "image stream broke", 18) != 0;
    if (g->remote[0] && !remote_first)
        snprintf(text, sizeof text,
                 "%smoving process %d to %s failed (%s; %s: %s); it keeps running on %s", g->note,
                 g->pid, dest, here, dest, g->remote, ssid_node.name);
    else if (g->remote[0])
        snprintf(text, sizeof text,
                 "%smoving process %d to %s failed (%s: %s; here: %s); it keeps running on %s",
                 g->note, g->pid, dest, dest, g->remote, here, ssid_node.name);
    else
        snprintf(text, sizeof text, "%smoving process %d to %s failed (%s); it keeps running on %s",
                 g->note, g->pid, dest, here, ssid_node.name);
    ssid_mig_finish(g, EIO, text);
}

static int s_on_remote_wait(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    ssid_mig_t *g = arg;
    g->waiting = false; /* the loop ends a timer that ran its times */
    s_finish_failed(g);
    return 0;
}

void ssid_offer_failed(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0;
    char text[512] = "the destination gave up";
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0)
        return;
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
    ssid_mig_t *g = ssid_mig_find(reqid, true);
    if (g && g->peer == from && g->ticket) {
        /* Nothing was frozen yet: the process never noticed. */
        ssid_client_t *p = ssid_client_by_pid(g->pid);
        if (p)
            p->migrating = false;
        char why[700];
        snprintf(why, sizeof why, "%s refused: %s; the process keeps running here",
                 ssid_node_peer_name(from), text);
        ssid_mig_finish(g, ECONNREFUSED, why);
    } else if (g && g->peer == from) {
        /* The transfer had begun: the destination's reason is what the
         * user reads, with ours (often just a broken stream). */
        snprintf(g->remote, sizeof g->remote, "%s", text);
        if (g->waiting)
            s_finish_failed(g);
    } else if ((g = ssid_mig_find(reqid, false)) && g->peer == from) {
        /* The home side gave up: stop the receiving helpers, unless the
         * body runs (read what the agent said up to now first). Then home
         * did send its image, and this is home's answer to a copy of our
         * READY that crossed the end of the move: the body's fate is its
         * deputy's to decide (the agent kills it if no deputy connects),
         * and killing the agent would kill a process that moved. */
        s_read_status(g);
        if (g->running) {
            ssi_info("ignored %s's give-up for process %d: its body runs here",
                     ssid_node_peer_name(from), g->pid);
            return;
        }
        for (int i = 0; i < g->nhelpers; i++)
            kill(g->helper[i], SIGKILL);
    }
}

void ssid_offer_reaped(ssid_mig_t *g)
{
    if (!g->home_side) {
        /* What the agent said last comes before its end. */
        s_read_status(g);
        ssid_mig_drain_err(g);
        int st = g->status[g->nhelpers - 1];
        if (g->errlen)
            ssi_info("body of %s:%d: %s", g->home, g->pid, ssid_mig_reason(g, ""));
        ssi_info("body of %s:%d ended (%s %d)", g->home, g->pid,
                 WIFSIGNALED(st) ? "signal" : "status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        ssid_mig_free(g);
        return;
    }
    ssid_client_t *p = ssid_client_by_pid(g->pid);
    if (p)
        p->migrating = false;
    int st = g->status[0];
    char text[700];
    const char *dest = ssid_node_peer_name(g->peer);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        if (p) {
            ssid_client_moved(p, g->peer, ssid_node_now() - g->started);
            p->away_reqid = g->reqid; /* which body to end there, were it recovered */
        }
        /* ssi-freeze --stats said last what it moved (ssid_stats). */
        unsigned long long bytes, freeze_us, rounds = 0, conv = 0;
        if (sscanf(ssid_mig_reason(g, ""),
                   "ssi-freeze: stats bytes=%llu freeze_us=%llu rounds=%llu converged=%llu", &bytes,
                   &freeze_us, &rounds, &conv) >= 2) {
            ssid_stats_moved(bytes, freeze_us);
            /* The second leg of a chained move: its figures are not the
             * whole move's, so its answer has none. */
            g->have_figs = !g->note[0];
            g->figs.have_bytes = true;
            g->figs.bytes = bytes;
            g->figs.freeze_us = freeze_us;
            g->figs.rounds = rounds;
            g->figs.converged = conv;
            snprintf(g->figs.from, sizeof g->figs.from, "%s", ssid_node.name);
            snprintf(g->figs.to, sizeof g->figs.to, "%s", dest);
        } else
            ssi_warn("ssi-freeze did not say what it moved; the counters miss move %d", g->pid);
        snprintf(text, sizeof text, "%sprocess %d moved from %s to %s", g->note, g->pid,
                 ssid_node.name, dest);
        ssid_mig_finish(g, 0, text);
    } else if (!g->remote[0] && ssi_gossip_is_up(ssid_node.gossip, g->peer, ssid_node_now())) {
        /* The destination's reason (a failed restore, say) may be on its
         * way: wait a moment for it before answering. */
        int id = zloop_timer(ssid_node.loop, SSID_REMOTE_WAIT_MS, 1, s_on_remote_wait, g);
        if (id < 0) {
            s_finish_failed(g);
            return;
        }
        g->wait_timer = id;
        g->waiting = true;
    } else {
        s_finish_failed(g);
    }
}
