/* ssid_recover: see ssid_recover.h. Runs in ssid. */
#define SSI_LOG_PREFIX "recover"

#include "ssid_recover.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ssi_image.h"
#include "ssi_log.h"
#include "ssid_events.h"
#include "ssid_node.h"

/* The freeze signal with the probe value, through the pidfd ssid holds
 * (no pid can be taken again in between). */
static int s_probe(const ssid_client_t *p)
{
    siginfo_t si;
    int fd = ssid_client_pidfd(p);
    if (fd < 0)
        return -EBADF;
    memset(&si, 0, sizeof si);
    si.si_signo = SSI_FREEZE_SIGNAL;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = SSI_IMAGE_PROBE_VALUE;
    return syscall(SYS_pidfd_send_signal, fd, SSI_FREEZE_SIGNAL, &si, 0) < 0 ? -errno : 0;
}

void ssid_recover_watch(void)
{
    int64_t now = ssid_node_now();
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *p = ssid_client_at(i);
        if (!p->registered || p->away < 0 || p->migrating) {
            p->probe_next = 0;
            continue;
        }
        if (ssi_gossip_is_up(ssid_node.gossip, p->away, now)) {
            p->probe_next = 0;
            continue;
        }
        if (p->probe_next && now < p->probe_next)
            continue;
        if (!p->probe_next) {
            ssi_warn("node %s is down: the deputy of process %d (%s) probes its link",
                     ssid_node_peer_name(p->away), p->pid, p->cmd);
            ssid_events_note("recover",
                             "node %s is down: process %d (%s), whose body runs there, checks "
                             "its link (recovered from its checkpoint if lost)",
                             ssid_node_peer_name(p->away), p->pid, p->cmd);
        }
        p->probe_next = now + SSID_RECOVER_PROBE_MS;
        int rc = s_probe(p);
        if (rc < 0)
            ssi_warn("cannot ask process %d to probe its link: %s", p->pid, strerror(-rc));
    }
}

void ssid_recover_restarted(ssid_client_t *c, int node)
{
    ssi_warn("process %d (%s) was lost with its body on %s: restarted here from its last "
             "checkpoint",
             c->pid, c->cmd, ssid_node_peer_name(node));
    ssid_events_note("recover",
                     "process %d (%s) was lost with its body on %s: restarted at home from its "
                     "last checkpoint",
                     c->pid, c->cmd, ssid_node_peer_name(node));
}
