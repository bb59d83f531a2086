/* ssid_ckpt: checkpoints at a process's home (see ssid_ckpt.h). Runs in
 * ssid. */
#define SSI_LOG_PREFIX "ckpt"

#include "ssid_ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ssi_log.h"

/* spool/UID, made if missing: the spool readable by all, each user's
 * directory theirs alone. */
static int s_spool_dir(uid_t uid, gid_t gid, char *out, size_t cap)
{
    const char *spool = ssi_cluster_spool(ssid_node.cluster);
    char part[512];
    snprintf(part, sizeof part, "%s", spool);
    /* mkdir -p of the spool itself. */
    for (char *s = part + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(part, 0755);
            *s = '/';
        }
    if (mkdir(part, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(out, cap, "%s/%u", spool, (unsigned)uid);
    if (mkdir(out, 0700) < 0) {
        if (errno != EEXIST)
            return -errno;
        return 0;
    }
    if (chown(out, uid, gid) < 0)
        return -errno;
    return 0;
}

static gid_t s_gid_of(pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return stat(path, &st) == 0 ? st.st_gid : 0;
}

void ssid_ckpt_request(ssid_client_t *c, const ssi_msg_t *m)
{
    uint64_t pid = 0;
    char path[1024] = "", why[1200];
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_PATH), path, sizeof path) ==
            -EBADMSG) {
        ssid_client_reply_error(c, EINVAL, "malformed checkpoint request");
        return;
    }
    if (*path && path[0] != '/') {
        ssid_client_reply_error(c, EINVAL, "the checkpoint file must be an absolute path");
        return;
    }
    ssid_client_t *p = ssid_client_by_pid((pid_t)pid);
    if (!p) {
        snprintf(why, sizeof why,
                 "process %llu is not an ssi process whose home is %s (see 'ssictl ps'; "
                 "checkpoints are taken at a process's home)",
                 (unsigned long long)pid, ssid_node.name);
        ssid_client_reply_error(c, ESRCH, why);
        return;
    }
    if (c->uid != 0 && c->uid != p->uid) {
        snprintf(why, sizeof why,
                 "process %d belongs to uid %u: only its owner or root may checkpoint it", p->pid,
                 (unsigned)p->uid);
        ssid_client_reply_error(c, EPERM, why);
        return;
    }
    if (p->migrating || p->ckpt) {
        snprintf(why, sizeof why, "process %d is being %s; try again when that is done", p->pid,
                 p->migrating ? "moved" : "checkpointed");
        ssid_client_reply_error(c, EBUSY, why);
        return;
    }
    if (p->away >= 0) {
        snprintf(why, sizeof why,
                 "process %d runs on %s: a checkpoint of a process away is not done yet; bring "
                 "it home first (ssictl migrate %d home)",
                 p->pid, ssid_node_peer_name(p->away), p->pid);
        ssid_client_reply_error(c, ENOTSUP, why);
        return;
    }
    if (!*path) {
        char dir[700], stamp[32];
        time_t now = time(NULL);
        int rc = s_spool_dir(p->uid, s_gid_of(p->pid), dir, sizeof dir);
        if (rc < 0) {
            snprintf(why, sizeof why, "cannot make the spool directory %s/%u: %s",
                     ssi_cluster_spool(ssid_node.cluster), (unsigned)p->uid, strerror(-rc));
            ssid_client_reply_error(c, -rc, why);
            return;
        }
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", gmtime(&now));
        snprintf(path, sizeof path, "%s/%s-%d-%s.ckpt", dir, ssid_node.name, p->pid, stamp);
    }
    ssid_mig_t *g = ssid_mig_new();
    int wr = -1;
    if (!g || ssid_mig_errpipe(g, &wr) < 0) {
        if (g)
            ssid_mig_free(g);
        ssid_client_reply_error(c, ENOMEM, "cannot start the checkpoint");
        return;
    }
    g->checkpoint = true;
    g->reqid = ssid_node_new_reqid();
    g->home_side = true;
    g->pid = p->pid;
    g->asker = (ssid_asker_t){.client = c->id, .peer = -1, .uid = c->uid};
    snprintf(g->home, sizeof g->home, "%s", ssid_node.name);
    char num[24], node[SSI_NAME_MAX + 1];
    snprintf(num, sizeof num, "%d", p->pid);
    snprintf(node, sizeof node, "%s", ssid_node.name);
    char *argv[] = {"ssi-ckpt", "save", "--node", node, num, path, NULL};
    int fds[3] = {-1, wr, wr};
    pid_t h = ssid_mig_spawn(argv, fds, 3, false);
    close(wr);
    if (h < 0) {
        ssid_mig_free(g);
        ssid_client_reply_error(c, -h, "cannot start ssi-ckpt");
        return;
    }
    g->helper[0] = h;
    g->nhelpers = 1;
    ssid_mig_add(g);
    p->ckpt = true;
    ssi_info("checkpoint of process %d (%s) to %s", p->pid, p->cmd, path);
}

void ssid_ckpt_reaped(ssid_mig_t *g)
{
    int st = g->status[0];
    ssid_client_t *p = ssid_client_by_pid(g->pid);
    if (p)
        p->ckpt = false;
    const char *why = ssid_mig_reason(g, "ssi-ckpt failed");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        ssi_info("%s", why);
        ssid_mig_answer(&g->asker, 0, why);
    } else {
        ssi_warn("checkpoint of process %d failed: %s", g->pid, why);
        ssid_mig_answer(&g->asker, EIO, why);
    }
    ssid_mig_free(g);
}
