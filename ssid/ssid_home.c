/* ssid_home: homecomings and the job control of away processes (see
 * ssid_home.h). Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_home.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ssi_log.h"

void ssid_home_start(const ssid_asker_t *a, ssid_client_t *p, int chain_to)
{
    const char *where = ssid_node_peer_name(p->away);
    ssid_mig_t *g = ssid_mig_new();
    if (!g) {
        ssid_mig_answer(a, ENOMEM, "out of memory");
        return;
    }
    g->reqid = ssid_node_new_reqid();
    g->home_side = true;
    g->homecoming = true;
    g->chain_to = chain_to;
    g->peer = p->away;
    g->asker = *a;
    g->pid = p->pid;
    snprintf(g->home, sizeof g->home, "%s", ssid_node.name);
    char restore[4200], pid_s[32];
    snprintf(restore, sizeof restore, "%s/ssi-restore", ssid_node.bindir);
    snprintf(pid_s, sizeof pid_s, "%d", p->pid);
    int errw = -1;
    if (ssid_mig_errpipe(g, &errw) < 0) {
        ssid_mig_free(g);
        ssid_mig_answer(a, EIO, "cannot make a pipe; the process was not touched");
        return;
    }
    /* The signal goes to the registered process itself (its pidfd). */
    int pfd = ssid_client_pidfd(p);
    char *fargv[] = {"ssi-freeze", "-q", "--home", "--restore", restore, pid_s, NULL, NULL, NULL};
    int ffds[] = {-1, -1, errw, pfd};
    if (pfd >= 0) {
        fargv[5] = "--pidfd";
        fargv[6] = "3";
        fargv[7] = pid_s;
    }
    pid_t f = ssid_mig_spawn(fargv, ffds, pfd >= 0 ? 4 : 3, false);
    close(errw);
    if (f < 0) {
        ssid_mig_free(g);
        ssid_mig_answer(a, EIO, "cannot start ssi-freeze; the process was not touched");
        return;
    }
    g->helper[g->nhelpers++] = f;
    ssid_mig_add(g);
    p->migrating = true;
    ssi_info("bringing process %d (%s) home from %s%s%s", p->pid, p->cmd, where,
             chain_to >= 0 ? " to move it on to " : "",
             chain_to >= 0 ? ssid_node_peer_name(chain_to) : "");
}

int ssid_home_reaped(ssid_mig_t *g, ssid_home_next_t *next)
{
    ssid_client_t *p = ssid_client_by_pid(g->pid);
    int st = g->status[0];
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    const char *where = ssid_node_peer_name(g->peer);
    char text[900];
    if (p)
        p->migrating = false;
    if (code == 0) {
        if (p)
            ssid_client_moved(p, -1, ssid_node_now() - g->started);
        if (g->chain_to < 0) {
            snprintf(text, sizeof text, "process %d came home from %s to %s", g->pid, where,
                     ssid_node.name);
            /* Where from and to; ssi-freeze --home does not count bytes. */
            g->have_figs = true;
            snprintf(g->figs.from, sizeof g->figs.from, "%s", where);
            snprintf(g->figs.to, sizeof g->figs.to, "%s", ssid_node.name);
            ssid_mig_finish(g, 0, text);
            return 0;
        }
        /* The first leg of a chained move: the caller moves it on. */
        next->asker = g->asker;
        next->pid = g->pid;
        next->to = g->chain_to;
        snprintf(next->note, sizeof next->note, "process %d came home from %s; then: ", g->pid,
                 where);
        ssi_info("process %d came home from %s", g->pid, where);
        ssid_mig_free(g);
        return 1;
    }
    if (code == 3) {
        snprintf(text, sizeof text, "process %d could not come home: %s; it keeps running on %s",
                 g->pid, ssid_mig_reason(g, "the deputy gave up"), where);
        ssid_mig_finish(g, EAGAIN, text);
    } else if (code == 4) {
        if (p)
            ssid_client_moved(p, -1, ssid_node_now() - g->started);
        snprintf(text, sizeof text,
                 "process %d came home from %s but its restore at home failed: %s", g->pid, where,
                 ssid_mig_reason(g, "it ended"));
        /* Not EIO: the process did not stay where it was. */
        ssid_mig_finish(g, ENOTRECOVERABLE, text);
    } else {
        snprintf(text, sizeof text,
                 "bringing process %d home from %s failed (%s); it keeps running on %s", g->pid,
                 where, ssid_mig_reason(g, "no answer"), where);
        ssid_mig_finish(g, EIO, text);
    }
    return 0;
}

void ssid_home_watch(void)
{
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *c = ssid_client_at(i);
        if (!c->registered || c->away < 0 || c->migrating)
            continue;
        if (ssid_client_state(c->pid) != 'T') {
            c->stop_sent = false;
            continue;
        }
        if (c->stop_sent)
            continue;
        c->stop_sent = true;
        uint8_t out[256];
        ssi_msg_writer_t w;
        ssi_msg_begin(&w, out, sizeof out, SSI_MSG_BODY_SIGNAL);
        ssi_msg_put_str(&w, SSI_TAG_HOME, ssid_node.name);
        ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)c->pid);
        ssi_msg_put_u64(&w, SSI_TAG_SIGNO, SIGSTOP);
        long n = ssi_msg_end(&w);
        if (n > 0)
            ssid_node_send(c->away, out, (size_t)n);
        ssi_info("process %d stopped at home: stopping its body on %s", c->pid,
                 ssid_node_peer_name(c->away));
    }
}

/* The last number of the NSpid line of /proc/PID/status: the pid in the
 * innermost namespace. */
static long s_nspid_inner(pid_t pid)
{
    char path[64], line[256];
    long inner = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "NSpid:", 6) == 0) {
            char *e = strrchr(line, '\t');
            inner = e ? strtol(e + 1, NULL, 10) : -1;
        }
    if (f)
        fclose(f);
    return inner;
}

void ssid_home_body_signal(int from, const ssi_msg_t *m)
{
    uint64_t pid = 0, sig = 0;
    char home[SSI_NAME_MAX + 1];
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_SIGNO), &sig) < 0 ||
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home) < 0 ||
        sig != SIGSTOP)
        return;
    for (ssid_mig_t *g = ssid_mig_first(); g; g = g->next) {
        if (g->home_side || g->peer != from || g->pid != (pid_t)pid || strcmp(g->home, home) ||
            g->nhelpers < 2)
            continue;
        /* The agent (helper 1) is pid 1 of the body's namespace; the body
		 * is its child whose pid there is the home pid. */
        pid_t agent = g->helper[1];
        char path[80];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", agent, agent);
        FILE *f = fopen(path, "r");
        int kid;
        while (f && fscanf(f, "%d", &kid) == 1)
            if (s_nspid_inner(kid) == (long)pid) {
                kill(kid, SIGSTOP);
                ssi_info("stopped the body of %s:%llu (its deputy is stopped)", home,
                         (unsigned long long)pid);
            }
        if (f)
            fclose(f);
    }
}
