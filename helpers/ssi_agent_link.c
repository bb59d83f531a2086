/*
 * ssi_agent_link.c - ssi-agent's link to the deputy and the body's life as
 * the deputy sees it: every frame out, the end of the link, a deputy that
 * is lost; reaping the body, its stops told home, the signals relayed from
 * home made to act here as they did there. Calls only the base and
 * /proc (ssi_agent_int.h).
 */
#include "ssi_agent_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The deputy is gone (its link broke; the body's call link broke with it,
 * so the body's forwarded calls fail with EIO at once). The body gets
 * S_DEPUTY_GRACE_MS to end by itself, as a program that handles the
 * error would; then it is killed. The status line (ssid logs it) says
 * how it ended, so what the program saw is observable. */
#define S_DEPUTY_GRACE_MS 2000

static uint32_t s_conts; /* SIGCONTs delivered from the deputy */

void ssi_agent_link_send(unsigned type, unsigned chan, const void *p, uint32_t len)
{
    long rc;
    if (ssi_agent.link_lost)
        return;
    rc = ssi_tunnel_send(&ssi_agent.link, type, chan, p, len);
    if (rc < 0)
        ssi_agent_link_lost(-1, rc);
}

/* The last frame is sent: end the stream and let the deputy read it all
 * before the connection goes (a close with unread data from it would
 * reset the connection); it closes first, or 5 s pass. */
void ssi_agent_link_finish(void)
{
    int lf = ssi_tunnel_link_fd(&ssi_agent.link);
    struct pollfd p = {.fd = lf, .events = POLLIN};
    char b[4096];
    long end = ssi_agent_now_ms() + 5000;
    ssi_tunnel_shutdown(&ssi_agent.link);
    while (ssi_agent_now_ms() < end && poll(&p, 1, 200) >= 0)
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && read(lf, b, sizeof(b)) <= 0)
            break;
    ssi_tunnel_link_close(&ssi_agent.link);
}

void ssi_agent_link_lost(int pidfd, long err)
{
    long end = ssi_agent_now_ms() + S_DEPUTY_GRACE_MS;
    int killed = 0;
    char how[64];
    ssi_agent.link_lost = 1;
    if (ssi_agent.body <= 0)
        ssi_agent_fail("deputy connection lost (%s)", strerror((int)-err));
    while (!ssi_agent.body_done) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        long left = end - ssi_agent_now_ms();
        ssi_agent_link_reap();
        if (ssi_agent.body_done)
            break;
        if (left <= 0 || ssi_agent.stop) {
            ssi_agent_kill_body();
            killed = 1;
            break;
        }
        poll(&p, pidfd >= 0 ? 1 : 0, left < 100 ? (int)left : 100);
    }
    if (killed)
        snprintf(how, sizeof(how), "killed after a %d ms grace", S_DEPUTY_GRACE_MS);
    else if (WIFSIGNALED(ssi_agent.body_status))
        snprintf(how, sizeof(how), "ended by signal %d", WTERMSIG(ssi_agent.body_status));
    else
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(ssi_agent.body_status));
    ssi_agent_status("failed: deputy connection lost (%s); the body %s", strerror((int)-err), how);
    exit(1);
}

/* The body stopped (a stop signal relayed from home, SIGSTOP sent to it
 * on the home ssid's behalf, or its own raise): the deputy stops too, so
 * that a shell at home sees the job stopped. */
static void s_job_stopped(int sig)
{
    ssi_tunnel_stopped_t st = {.sig = sig, .conts = s_conts};
    ssi_agent_log("body stopped by signal %d", sig);
    ssi_agent_link_send(SSI_TUNNEL_STOPPED, 0, &st, sizeof(st));
}

void ssi_agent_link_reap(void)
{
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG | __WALL | WUNTRACED | WCONTINUED)) > 0) {
        if (p == ssi_agent.body && WIFSTOPPED(st)) {
            s_job_stopped(WSTOPSIG(st));
            continue;
        }
        if (WIFSTOPPED(st) || WIFCONTINUED(st))
            continue;
        if (p == ssi_agent.body) {
            ssi_agent.body_done = 1;
            ssi_agent.body_status = st;
            ssi_agent_log("body exited, status 0x%x", st);
        }
    }
}

/* A terminal stop signal whose default action the body keeps must stop
 * it: the kernel discards TSTP/TTIN/TTOU in an orphaned process group,
 * and the body's group here (under the agent, pid 1) may well be one. */
int ssi_agent_link_signal(int sig)
{
    if (sig == SIGCONT)
        s_conts++;
    if ((sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) && !ssi_agent_proc_handles(sig))
        return SIGSTOP;
    return sig;
}
