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

/* Runs ssi-ckpt save for process p into path; the answer goes to client
 * `client` (0: none). Answers it at once on failure. */
static void s_start(ssid_client_t *p, uint64_t client, uid_t asker_uid, const char *path,
                    bool periodic)
{
    ssid_client_t *c = client ? ssid_client_by_id(client) : NULL;
    ssid_mig_t *g = ssid_mig_new();
    int wr = -1;
    if (!g || ssid_mig_errpipe(g, &wr) < 0) {
        if (g)
            ssid_mig_free(g);
        if (c)
            ssid_client_reply_error(c, ENOMEM, "cannot start the checkpoint");
        return;
    }
    g->checkpoint = true;
    g->periodic = periodic;
    snprintf(g->file, sizeof g->file, "%s", path);
    g->reqid = ssid_node_new_reqid();
    g->home_side = true;
    g->pid = p->pid;
    g->asker = (ssid_asker_t){.client = client, .peer = -1, .uid = asker_uid};
    snprintf(g->home, sizeof g->home, "%s", ssid_node.name);
    char num[24], node[SSI_NAME_MAX + 1], file[1024], cmd[sizeof p->cmd];
    snprintf(num, sizeof num, "%d", p->pid);
    snprintf(node, sizeof node, "%s", ssid_node.name);
    snprintf(file, sizeof file, "%s", path);
    snprintf(cmd, sizeof cmd, "%s", p->cmd);
    /* A body away: its deputy here has it send its image home. */
    char *argv_home[] = {"ssi-ckpt", "save", "--node", node, num, file, NULL};
    char *argv_away[] = {"ssi-ckpt", "save", "--away", "--cmd", cmd,
                         "--node",   node,   num,      file,    NULL};
    char **argv = p->away >= 0 ? argv_away : argv_home;
    int fds[3] = {-1, wr, wr};
    pid_t h = ssid_mig_spawn(argv, fds, 3, false);
    close(wr);
    if (h < 0) {
        ssid_mig_free(g);
        if (c)
            ssid_client_reply_error(c, -h, "cannot start ssi-ckpt");
        return;
    }
    g->helper[0] = h;
    g->nhelpers = 1;
    ssid_mig_add(g);
    p->ckpt = true;
    if (p->away >= 0)
        ssi_info("checkpoint of process %d (%s), whose body runs on %s, to %s", p->pid, p->cmd,
                 ssid_node_peer_name(p->away), path);
    else
        ssi_info("checkpoint of process %d (%s) to %s", p->pid, p->cmd, path);
}

/* The file of periodic checkpoint seq of process p. */
static int s_periodic_path(const ssid_client_t *p, uint32_t seq, char *out, size_t cap)
{
    char dir[700];
    int rc = s_spool_dir(p->uid, s_gid_of(p->pid), dir, sizeof dir);
    if (rc < 0)
        return rc;
    snprintf(out, cap, "%s/%s-%d-periodic-%u.ckpt", dir, ssid_node.name, p->pid, (unsigned)seq);
    return 0;
}

void ssid_ckpt_periodic(void)
{
    int64_t now = ssid_node_now();
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *p = ssid_client_at(i);
        char path[1024];
        if (!p->registered || !p->ckpt_every || p->migrating || p->ckpt || p->pinned[0] ||
            now < p->ckpt_due)
            continue;
        p->ckpt_due = now + (int64_t)p->ckpt_every * 1000;
        if (s_periodic_path(p, p->ckpt_seq + 1, path, sizeof path) < 0) {
            ssi_warn("no spool directory for the checkpoints of process %d", p->pid);
            continue;
        }
        p->ckpt_seq++;
        s_start(p, 0, 0, path, true);
    }
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
    if (p->pinned[0]) {
        snprintf(why, sizeof why, "process %d cannot be checkpointed: %s", p->pid, p->pinned);
        ssid_client_reply_error(c, EBUSY, why);
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
    s_start(p, c->id, c->uid, path, false);
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
        if (p) {
            p->ckpt_done = ssid_node_now();
            snprintf(p->ckpt_file, sizeof p->ckpt_file, "%s", g->file);
        }
        /* Periodic: keep the last SSID_CKPT_KEEP. */
        char old[1024];
        if (p && g->periodic && p->ckpt_seq > SSID_CKPT_KEEP &&
            s_periodic_path(p, p->ckpt_seq - SSID_CKPT_KEEP, old, sizeof old) == 0)
            unlink(old);
        ssid_mig_answer(&g->asker, 0, why);
    } else {
        ssi_warn("checkpoint of process %d failed: %s", g->pid, why);
        ssid_mig_answer(&g->asker, EIO, why);
    }
    ssid_mig_free(g);
}
