/*
 * ssi_agent_proc.c - what /proc says of ssi-agent's body: its pid there,
 * the signals it handles, its initial environment, its descriptors. Calls
 * no other module of the agent (see ssi_agent_int.h).
 */
#include "ssi_agent_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Our /proc is the node's, not our PID namespace's (ssid does not mount
 * one for us): /proc/N with the body's own pid would be another process.
 * A pidfd's fdinfo says. */
pid_t ssi_agent_proc_pid(void)
{
    static pid_t cached;
    char path[64], line[128];
    FILE *f;
    int pfd;
    if (cached > 0)
        return cached;
    pfd = (int)syscall(SYS_pidfd_open, ssi_agent.body, 0);
    if (pfd < 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "Pid:", 4))
            cached = (pid_t)atoi(line + 4);
    if (f)
        fclose(f);
    close(pfd);
    return cached > 0 ? cached : -1;
}

/* /proc/PID/status: SigCgt, SigIgn. */
int ssi_agent_proc_handles(int sig)
{
    char path[64], line[256];
    int handled = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)ssi_agent_proc_pid());
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "SigCgt:", 7) || !strncmp(line, "SigIgn:", 7))
            handled |= (strtoull(line + 7, NULL, 16) >> (sig - 1)) & 1;
    fclose(f);
    return handled;
}

/* The body's shim read SSI_FREEZE_DIR and SSI_FREEZE_TIMEOUT from its
 * initial environment at startup, at home: so do we. */
int ssi_agent_proc_env(const char *key, char *out, size_t cap)
{
    static char env[65536];
    char path[64];
    size_t kl = strlen(key), n;
    const char *p;
    int fd;
    ssize_t r;
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)ssi_agent_proc_pid());
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = read(fd, env, sizeof(env) - 1);
    close(fd);
    if (r <= 0)
        return -1;
    env[r] = 0;
    for (p = env; p < env + r; p += strlen(p) + 1) {
        if (!strncmp(p, key, kl) && p[kl] == '=' && p[kl + 1]) {
            n = strlen(p + kl + 1);
            if (n >= cap)
                return -1;
            memcpy(out, p + kl + 1, n + 1);
            return 0;
        }
    }
    return -1;
}

/* Its number for the channels of ACCEPT; for one the netproxy added, the
 * fd whose socket is the channel's (found by inode in the body's fd
 * table). */
int ssi_agent_proc_fd_of(const ssi_agent_chan_t *c)
{
    char path[64], link[64], want[64];
    struct dirent *e;
    DIR *d;
    int fd = -1;
    if (!c->dynamic)
        return (int)c->chan;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)ssi_agent_proc_pid());
    snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)c->body_ino);
    d = opendir(path);
    if (!d)
        return -1;
    while (fd < 0 && (e = readdir(d))) {
        char lp[320];
        ssize_t n;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(lp, sizeof(lp), "%s/%s", path, e->d_name);
        n = readlink(lp, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = 0;
        if (!strcmp(link, want))
            fd = atoi(e->d_name);
    }
    closedir(d);
    return fd;
}
