/* ssid_load: load measurement, heartbeats, gossip and liveness (see
 * ssid_load.h). Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_load.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_log.h"
#include "ssi_paths.h"
#include "ssid_events.h"
#include "ssid_node.h"

static uint8_t s_frame[SSID_FRAME_MAX];
static uint64_t s_seq;
static double s_load; /* smoothed run-queue length */
static bool s_was_up[SSI_CLUSTER_MAX];

/* Runnable tasks in our PID namespace (our /proc), not counting ourselves. */
static int s_runnable(void)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int n = 0;
    pid_t me = getpid();
    struct dirent *d;
    while ((d = readdir(proc))) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/task", pid);
        DIR *tasks = opendir(path);
        if (!tasks)
            continue;
        struct dirent *t;
        while ((t = readdir(tasks))) {
            if (t->d_name[0] == '.')
                continue;
            char sp[300], buf[512];
            snprintf(sp, sizeof sp, "/proc/%ld/task/%s/stat", pid, t->d_name);
            FILE *f = fopen(sp, "r");
            if (!f)
                continue;
            size_t len = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[len] = 0;
            char *rp = strrchr(buf, ')');
            if (rp && rp[1] == ' ' && rp[2] == 'R' && pid != me)
                n++;
        }
        closedir(tasks);
    }
    closedir(proc);
    return n;
}

static uint64_t s_meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    uint64_t v = 0;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoull(line + kl + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* Our CPU share x 1000 from a cgroup quota (v2 cpu.max or v1 cfs), else the
 * number of CPUs we may run on x 1000. */
static uint64_t s_cpu_share(uint64_t ncpu)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[512], path[600];
    uint64_t share = ncpu * 1000;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *ctl = strchr(line, ':');
        char *cg = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!cg)
            continue;
        *cg++ = 0;
        ctl++;
        long long quota = -1, period = 0;
        if (*ctl == 0) {
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", cg);
            FILE *m = fopen(path, "r");
            if (m) {
                char q[32];
                if (fscanf(m, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0)
                    quota = atoll(q);
                fclose(m);
            }
        } else if (strstr(ctl, "cpu") && !strstr(ctl, "cpuset")) {
            snprintf(path, sizeof path, "/sys/fs/cgroup/cpu%s/cpu.cfs_quota_us", cg);
            FILE *m = fopen(path, "r");
            if (m) {
                if (fscanf(m, "%lld", &quota) != 1)
                    quota = -1;
                fclose(m);
            }
            snprintf(path, sizeof path, "/sys/fs/cgroup/cpu%s/cpu.cfs_period_us", cg);
            m = fopen(path, "r");
            if (m) {
                if (fscanf(m, "%lld", &period) != 1)
                    period = 0;
                fclose(m);
            }
        }
        if (quota > 0 && period > 0 && (uint64_t)(quota * 1000 / period) < share)
            share = (uint64_t)(quota * 1000 / period);
    }
    if (f)
        fclose(f);
    return share;
}

/* The first number after key (a line "key N") in file, or -1. */
static long long s_keyed(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            v = atoll(line + kl + 1);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* One number from a file ("max" and errors: -1). */
static long long s_number(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[64] = "";
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    return buf[0] >= '0' && buf[0] <= '9' ? atoll(buf) : -1;
}

/* Free memory in KiB: MemAvailable, or less under a cgroup memory limit
 * (v1 memory.limit_in_bytes, v2 memory.max): the limit less what is used,
 * not counting inactive file pages (the kernel reclaims them first). */
static uint64_t s_free_kb(void)
{
    uint64_t avail = s_meminfo_kb("MemAvailable");
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[512], path[700];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *ctl = strchr(line, ':');
        char *cg = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!cg)
            continue;
        *cg++ = 0;
        ctl++;
        long long limit = -1, used = -1, inactive = -1;
        if (*ctl == 0) {
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", cg);
            limit = s_number(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", cg);
            used = s_number(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.stat", cg);
            inactive = s_keyed(path, "inactive_file");
        } else if (strstr(ctl, "memory")) {
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cg);
            limit = s_number(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", cg);
            used = s_number(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.stat", cg);
            inactive = s_keyed(path, "total_inactive_file");
        }
        if (limit <= 0 || used < 0 || (uint64_t)limit / 1024 >= avail + (uint64_t)used / 1024)
            continue; /* no limit, or one above what the machine has */
        used -= inactive > 0 && inactive < used ? inactive : 0;
        uint64_t room = limit > used ? (uint64_t)(limit - used) / 1024 : 0;
        if (room < avail)
            avail = room;
    }
    if (f)
        fclose(f);
    return avail;
}

static void s_measure(void)
{
    /* Exponential smoothing, as MOSIX does, so that one busy moment does not
	 * look like a loaded node. */
    s_load = 0.7 * s_load + 0.3 * s_runnable();
    cpu_set_t set;
    uint64_t ncpu = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        ncpu = (uint64_t)CPU_COUNT(&set);
    ssi_gossip_entry_t own = {
        .loadm = (uint64_t)(s_load * 1000 + 0.5),
        .ncpu = ncpu,
        .cpum = s_cpu_share(ncpu),
        .freekb = s_free_kb(),
        .nprocs = (uint64_t)ssid_client_nprocs(),
        .blocked = ssid_node.draining  ? 2
                   : ssid_node.blocked ? 1
                                       : 0,
        .emptyms =
            ssid_node.empty_since ? (uint64_t)(ssid_node_now() - ssid_node.empty_since) + 1 : 0,
    };
    ssi_gossip_set_own(ssid_node.gossip, &own, ssid_node_now());
}

static void s_heartbeat(void)
{
    ssi_msg_writer_t w;
    int64_t now = ssid_node_now();
    ++s_seq;
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++) {
        if ((int)i == ssid_node.self)
            continue;
        ssi_msg_begin(&w, s_frame, sizeof s_frame, SSI_MSG_HEARTBEAT);
        ssi_msg_put_str(&w, SSI_TAG_NODE, ssid_node.name);
        ssi_msg_put_u64(&w, SSI_TAG_SEQ, s_seq);
        ssi_msg_put_str(&w, SSI_TAG_VERSION, SSI_VERSION);
        /* Whether we hear that peer: a peer we do not hear dials us again. */
        ssi_msg_put_u64(&w, SSI_TAG_HEARD, ssi_gossip_is_up(ssid_node.gossip, (int)i, now));
        long len = ssi_msg_end(&w);
        if (len > 0)
            ssid_node_send((int)i, s_frame, (size_t)len);
    }
}

static void s_check_liveness(void)
{
    int64_t now = ssid_node_now();
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++) {
        if ((int)i == ssid_node.self)
            continue;
        bool up = ssi_gossip_is_up(ssid_node.gossip, (int)i, now);
        /* An incompatible node is logged as such (ssid_load_alien). */
        if (up != s_was_up[i] && !ssi_gossip_alien_proto(ssid_node.gossip, (int)i, now)) {
            ssi_log_msg(up ? SSI_LOG_INFO : SSI_LOG_WARN, SSI_LOG_PREFIX, "node %s is %s",
                        ssid_node_peer_name((int)i), up ? "up" : "down");
            ssid_events_note("node", "%s sees node %s %s", ssid_node.name,
                             ssid_node_peer_name((int)i), up ? "up" : "down");
        }
        s_was_up[i] = up;
    }
}

void ssid_load_heartbeat(int from, const ssi_msg_t *m)
{
    char version[SSI_GOSSIP_VERSION_MAX] = "";
    const ssi_field_t *f = ssi_msg_find(m->field, m->nfields, SSI_TAG_VERSION);
    /* A version too long or with a NUL is shown cut or not at all. */
    if (f && ssi_field_str(f, version, sizeof version) == -EMSGSIZE) {
        size_t n = f->len < sizeof version - 1 ? f->len : sizeof version - 1;
        memcpy(version, f->val, n);
        version[n] = 0;
        if (memchr(version, 0, n))
            version[0] = 0;
    }
    ssi_gossip_set_version(ssid_node.gossip, from, version);
}

void ssid_load_alien(int from, int proto)
{
    if (ssi_gossip_alien(ssid_node.gossip, from, proto, ssid_node_now()))
        ssi_error("node %s speaks protocol %d and this node (ssi %s) protocol %d: everything it "
                  "sends is refused and it is shown as incompatible until both run the same "
                  "protocol (install the same ssi version on every node)",
                  ssid_node_peer_name(from), proto, SSI_VERSION, ssid_node.proto);
}

void ssid_load_beat(void)
{
    s_measure();
    s_heartbeat();
    s_check_liveness();
}

void ssid_load_gossip(void)
{
    int to = ssi_gossip_pick(ssid_node.gossip, randombytes_random(), ssid_node_now());
    if (to < 0)
        return;
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, s_frame, sizeof s_frame, SSI_MSG_GOSSIP);
    ssi_msg_put_str(&w, SSI_TAG_NODE, ssid_node.name);
    ssi_gossip_encode(ssid_node.gossip, &w, ssid_node_now(), false);
    long len = ssi_msg_end(&w);
    if (len > 0)
        ssid_node_send(to, s_frame, (size_t)len);
}

void ssid_load_nodes(ssid_client_t *c)
{
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, s_frame, sizeof s_frame, SSI_MSG_NODES_REP);
    ssi_gossip_encode_table(ssid_node.gossip, &w, ssid_node_now(), ssid_node.proto);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_client_reply(c, s_frame, (size_t)n);
    else
        ssid_client_reply_error(c, (int)-n, "node table too large");
}
