/* ssi_precheck: what a process holds that ssi cannot move (yet). */
#include "ssi_precheck.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssi_image.h"
#include "ssi_tunnel.h"

/* Local devices and epoll instances the agent reopens (SSI_AGENT_MAX_DEVS
 * in helpers/ssi_agent_int.h, which ssid does not include). */
#define S_MAX_LOCAL 16

/* What a process holds, against the limits that remain on a move. */
typedef struct {
    long fds;      /* descriptors */
    long tunnels;  /* pipes, FIFOs, sockets, terminals, fds 0-2: one channel each */
    long local;    /* /dev/null & co. above fd 2, epoll instances */
    long max_file; /* highest fd of a forwarded file or directory, -1 none */
    long max_fd;   /* highest fd */
} s_count_t;

/* The soft RLIMIT_NOFILE of pid (/proc/PID/limits), or -1. */
static long s_nofile(pid_t pid)
{
    char path[64], line[256];
    long soft = -1;
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Max open files", 14) == 0) {
            char *p = line + 14;
            while (*p == ' ')
                p++;
            soft = strncmp(p, "unlimited", 9) == 0 ? -1 : strtol(p, NULL, 10);
            break;
        }
    fclose(f);
    return soft;
}

/* Every limit that remains, each with its own sentence. */
static int s_check_limits(pid_t pid, const s_count_t *n, char *why, size_t len)
{
    if (n->max_fd >= SSI_IMAGE_FD_LIMIT) {
        snprintf(why, len,
                 "it has fd %ld open; a process that moves may use descriptors below %d only",
                 n->max_fd, SSI_IMAGE_FD_LIMIT);
        return -EMFILE;
    }
    if (n->tunnels > SSI_TUNNEL_MAX_CHANS) {
        snprintf(why, len,
                 "it has %ld pipes, sockets and terminals (standard streams included); at most %d "
                 "can be tunnelled",
                 n->tunnels, SSI_TUNNEL_MAX_CHANS);
        return -EMFILE;
    }
    if (n->local > S_MAX_LOCAL) {
        snprintf(why, len,
                 "it has %ld descriptors of null, zero, random, urandom or epoll above fd 2; at "
                 "most %d can move",
                 n->local, S_MAX_LOCAL);
        return -EMFILE;
    }
    /* Its deputy keeps the files at the body's numbers and its own
     * descriptors from a base near the soft limit up (ssi_chans.c). */
    long soft = s_nofile(pid);
    if (soft > 0 && n->max_file >= 0) {
        long base = soft > 1280 ? soft - 256 : (soft > 128 ? soft - 64 : soft / 2);
        if (n->max_file >= base) {
            snprintf(why, len,
                     "it has a file open at fd %ld, where its deputy would keep its own "
                     "descriptors (from %ld up: RLIMIT_NOFILE %ld less %ld); raise its limit",
                     n->max_file, base, soft, soft - base);
            return -EMFILE;
        }
    }
    return 0;
}

static int s_status_field(pid_t pid, const char *key, long *out)
{
    char path[64], line[256];
    size_t kl = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    int rc = -ENOENT;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            *out = strtol(line + kl + 1, NULL, 10);
            rc = 0;
            break;
        }
    fclose(f);
    return rc;
}

/* Writable MAP_SHARED mappings: their other users would stay behind. */
static int s_check_maps(pid_t pid, char *why, size_t len)
{
    char path[64], line[4352];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        char perms[8] = "", name[4096] = "";
        if (sscanf(line, "%*s %7s %*s %*s %*s %4095[^\n]", perms, name) < 1)
            continue;
        if (perms[1] == 'w' && perms[3] == 's') {
            char *n = name;
            while (*n == ' ')
                n++;
            snprintf(why, len, "it has writable shared memory (%s), which ssi cannot move yet",
                     *n ? n : "anonymous");
            rc = -EBUSY;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int s_allowed_device(const char *target)
{
    static const char *ok[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom",
                               "/dev/tty",  "/dev/ptmx", "/dev/console"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(target, ok[i]) == 0)
            return 1;
    return strncmp(target, "/dev/pts/", 9) == 0 || strncmp(target, "/dev/tty", 8) == 0;
}

/* A socket the netproxy cannot keep for the body yet: a Unix seqpacket
 * socket (stream sockets, connected or listening, and datagram sockets
 * stay at home). Looks its inode up in the process's own network
 * namespace (/proc/PID/net/unix). Writes a description into what and
 * returns 1. */
static int s_socket_unmovable(pid_t pid, unsigned long inode, char *what, size_t len)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/net/unix", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long flags, ino;
        unsigned type;
        char name[256] = "";
        /* Num RefCount Protocol Flags Type St Inode Path */
        if (sscanf(line, "%*s %*x %*x %lx %x %*x %lu %255s", &flags, &type, &ino, name) >= 3 &&
            ino == inode) {
            (void)flags;
            if (type == 5) /* SOCK_SEQPACKET */
                snprintf(what, len, "a Unix seqpacket socket");
            found = type == 5 ? 1 : -1;
        }
    }
    fclose(f);
    return found > 0;
}

static int s_check_fds(pid_t pid, char *why, size_t len, s_count_t *cnt)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char link[400], target[4096];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
            continue; /* closed meanwhile */
        target[n] = 0;
        long fdn = strtol(e->d_name, NULL, 10);
        cnt->fds++;
        if (fdn > cnt->max_fd)
            cnt->max_fd = fdn;
        char sock[300];
        if (strncmp(target, "socket:[", 8) == 0 &&
            s_socket_unmovable(pid, strtoul(target + 8, NULL, 10), sock, sizeof sock)) {
            snprintf(why, len, "fd %s is %s, which ssi cannot move yet", e->d_name, sock);
            rc = -EBUSY;
            continue;
        }
        if (fdn <= 2 || strncmp(target, "pipe:", 5) == 0 || strncmp(target, "socket:", 7) == 0) {
            cnt->tunnels++; /* tunnelled to the deputy */
            if (fdn > 2 || strncmp(target, "pipe:", 5) == 0 || strncmp(target, "socket:", 7) == 0)
                continue;
        }
        /* ssi-agent tunnels stdin/stdout/stderr whatever they are (the
		 * deputy reads or writes the file at home), and named FIFOs. */
        /* Regular files and directories are forwarded (vfs-proxy): the
		 * deputy keeps them open at home. */
        struct stat fst;
        if (stat(link, &fst) == 0 &&
            (S_ISFIFO(fst.st_mode) || S_ISREG(fst.st_mode) || S_ISDIR(fst.st_mode))) {
            if (S_ISFIFO(fst.st_mode) && fdn > 2)
                cnt->tunnels++;
            else if (!S_ISFIFO(fst.st_mode) && fdn > cnt->max_file)
                cnt->max_file = fdn;
            continue;
        }
        if (strcmp(target, "anon_inode:[io_uring]") == 0) {
            snprintf(why, len, "it uses io_uring (fd %s), which ssi cannot move", e->d_name);
            rc = -EBUSY;
        } else if (strcmp(target, "anon_inode:[eventpoll]") == 0) {
            /* An epoll instance is made again where the process resumes
			 * (ssi_epoll.c), with the same registrations. */
            cnt->local += fdn > 2;
        } else if (strncmp(target, "anon_inode:", 11) == 0) {
            snprintf(why, len, "fd %s is a kernel object (%s) that ssi cannot move yet", e->d_name,
                     target + 11);
            rc = -EBUSY;
        } else if (strncmp(target, "/dev/", 5) == 0) {
            if (fdn > 2 && strncmp(target, "/dev/pts/", 9) != 0 &&
                strncmp(target, "/dev/tty", 8) != 0 && strcmp(target, "/dev/ptmx") != 0 &&
                strcmp(target, "/dev/console") != 0)
                cnt->local++;
            else if (fdn > 2)
                cnt->tunnels++;
            if (!s_allowed_device(target)) {
                snprintf(
                    why, len,
                    "fd %s is the device %s; only null, zero, random, urandom and terminals can move",
                    e->d_name, target);
                rc = -EBUSY;
            }
        } else {
            snprintf(why, len, "fd %s (%s) is a kind of descriptor that ssi cannot move yet",
                     e->d_name, target);
            rc = -EBUSY;
        }
    }
    closedir(d);
    return rc;
}

int ssi_deputy_check(pid_t pid, char *why, size_t len)
{
    long threads = 0, tracer = 0;
    int rc = s_status_field(pid, "Threads", &threads);
    if (rc == 0)
        rc = s_status_field(pid, "TracerPid", &tracer);
    if (rc < 0) {
        snprintf(why, len, "process %d does not exist", (int)pid);
        return -ESRCH;
    }
    if (threads > 1) {
        snprintf(why, len, "it has %ld threads; multi-threaded processes cannot move yet", threads);
        return -EBUSY;
    }
    if (tracer != 0) {
        snprintf(why, len, "it is being traced (ptrace) by process %ld", tracer);
        return -EBUSY;
    }
    s_count_t cnt = {0, 0, 0, -1, -1};
    rc = s_check_maps(pid, why, len);
    if (rc == 0)
        rc = s_check_fds(pid, why, len, &cnt);
    if (rc == 0)
        rc = s_check_limits(pid, &cnt, why, len);
    if (rc == -ENOENT || rc == -ESRCH) {
        snprintf(why, len, "process %d does not exist", (int)pid);
        return -ESRCH;
    }
    if (rc < 0 && rc != -EBUSY && rc != -EMFILE) {
        snprintf(why, len, "cannot inspect process %d: %s", (int)pid, strerror(-rc));
        return rc;
    }
    return rc;
}
