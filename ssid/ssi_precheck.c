/* ssi_precheck: what a process holds that ssi cannot move (yet). */
#include "ssi_precheck.h"

#include "ssi_image.h"
#include "ssi_tunnel.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every obstacle found, one sentence each, joined with "; ". */
typedef struct {
    char *buf;
    size_t len, used;
    int count;
} s_why_t;

__attribute__((format(printf, 2, 3))) static void s_obstacle(s_why_t *w, const char *fmt, ...)
{
    if (w->used + 3 >= w->len) {
        w->count++;
        return;
    }
    if (w->count++ > 0)
        w->used += (size_t)snprintf(w->buf + w->used, w->len - w->used, "; ");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->used, w->len - w->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->used += (size_t)n < w->len - w->used ? (size_t)n : w->len - w->used - 1;
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

/* Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS: "/dev/zero (deleted)"
 * or "[anon_shmem:NAME]" in maps) lives in an shmem inode of its own. */
static int s_is_shared_anon(const char *name)
{
    return strcmp(name, "/dev/zero (deleted)") == 0 || strncmp(name, "[anon_shmem:", 12) == 0;
}

/* Does a process other than pid map the shmem inode dev:ino? Looked up in
 * every process's maps (this node's PID namespace: only a process forked
 * from a mapper, or one it passed the memory to, can map it). */
static int s_other_mapper(pid_t pid, const char *dev, unsigned long ino, pid_t *who)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    struct dirent *e;
    int found = 0;
    char line[4352];
    while (!found && (e = readdir(d))) {
        char *end;
        long other = strtol(e->d_name, &end, 10);
        if (*end || other <= 0 || other == pid)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/maps", other);
        FILE *f = fopen(path, "re");
        if (!f)
            continue; /* gone meanwhile */
        while (fgets(line, sizeof line, f)) {
            char odev[32] = "", name[4096] = "";
            unsigned long oino = 0;
            if (sscanf(line, "%*s %*s %*s %31s %lu %4095[^\n]", odev, &oino, name) == 3 &&
                oino == ino && strcmp(odev, dev) == 0 && s_is_shared_anon(name)) {
                found = 1;
                *who = (pid_t)other;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

/* Writable MAP_SHARED mappings: their other users would stay behind. Shared
 * anonymous memory that no other process maps any more (a parent's
 * handshake page, the parent gone) is private in all but name: it moves
 * (the freeze copies its pages, the restorer maps it shared again). */
static int s_check_maps(pid_t pid, s_why_t *w)
{
    char path[64], line[4352];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    int rc = 0;
    long nvmas = 0;
    while (fgets(line, sizeof line, f)) {
        char perms[8] = "", dev[32] = "", name[4096] = "";
        nvmas++;
        unsigned long ino = 0;
        if (sscanf(line, "%*s %7s %*s %31s %lu %4095[^\n]", perms, dev, &ino, name) < 1)
            continue;
        if (perms[1] == 'w' && perms[3] == 's') {
            char *n = name;
            while (*n == ' ')
                n++;
            if (s_is_shared_anon(n)) {
                pid_t who = 0;
                int r = s_other_mapper(pid, dev, ino, &who);
                if (r == 0)
                    continue;
                if (r > 0) {
                    s_obstacle(
                        w, "it shares anonymous memory with process %d, which ssi cannot move yet",
                        (int)who);
                    continue;
                }
            }
            s_obstacle(w, "it has writable shared memory (%s), which ssi cannot move yet",
                       *n ? n : "anonymous");
        }
    }
    fclose(f);
    /* The freeze handler's table holds every line of maps. */
    if (nvmas > SSI_IMAGE_FREEZE_MAX_VMAS)
        s_obstacle(w, "it has %ld memory mappings; at most %d can move", nvmas,
                   SSI_IMAGE_FREEZE_MAX_VMAS);
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
 * socket at fds 0-2 (tunnelled as a stream there: its message boundaries
 * would be lost) or a packet socket (stream sockets, connected or
 * listening, datagram sockets and other seqpacket sockets stay at home). Looks its inode up in the process's own network
 * namespace (/proc/PID/net/unix). Writes a description into what and
 * returns 1. */
static int s_packet_socket(pid_t pid, unsigned long inode)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/net/packet", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long ino;
        /* sk RefCnt Type Proto Iface R Rmem User Inode */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %lu", &ino) == 1 && ino == inode)
            found = 1;
    }
    fclose(f);
    return found;
}

static int s_socket_unmovable(pid_t pid, int fd, unsigned long inode, char *what, size_t len)
{
    char path[64], line[512];
    /* A packet socket is bound to this node's interfaces (and may map a
     * ring of their frames): the netproxy keeps none at home. */
    if (s_packet_socket(pid, inode)) {
        snprintf(what, len, "a packet socket (AF_PACKET, this node's interfaces)");
        return 1;
    }
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
            /* SOCK_SEQPACKET */
            int bad = type == 5 && fd <= 2;
            (void)flags;
            if (bad)
                snprintf(what, len, "a Unix seqpacket socket at fds 0-2");
            found = bad ? 1 : -1;
        }
    }
    fclose(f);
    return found > 0;
}

/* Local devices and epoll instances the agent reopens (SSI_AGENT_MAX_DEVS
 * in helpers/ssi_agent_int.h, which ssid does not include). */
#define S_MAX_LOCAL 16

/* What a process holds, against the limits that remain on a move. */
typedef struct {
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
static void s_check_limits(pid_t pid, const s_count_t *n, s_why_t *w)
{
    if (n->max_fd >= SSI_IMAGE_FD_LIMIT)
        s_obstacle(w, "it has fd %ld open; a process that moves may use descriptors below %d only",
                   n->max_fd, SSI_IMAGE_FD_LIMIT);
    if (n->tunnels > SSI_TUNNEL_MAX_CHANS)
        s_obstacle(w,
                   "it has %ld pipes, sockets and terminals (standard streams included); at most "
                   "%d can be tunnelled",
                   n->tunnels, SSI_TUNNEL_MAX_CHANS);
    if (n->local > S_MAX_LOCAL)
        s_obstacle(w,
                   "it has %ld descriptors of null, zero, random, urandom or epoll above fd 2; at "
                   "most %d can move",
                   n->local, S_MAX_LOCAL);
    /* Its deputy keeps the files at the body's numbers and its own
     * descriptors from a base near the soft limit up (ssi_chans.c). */
    long soft = s_nofile(pid);
    if (soft > 0 && n->max_file >= 0) {
        long base = soft > 1280 ? soft - 256 : (soft > 128 ? soft - 64 : soft / 2);
        if (n->max_file >= base)
            s_obstacle(w,
                       "it has a file open at fd %ld, where its deputy would keep its own "
                       "descriptors (from %ld up: RLIMIT_NOFILE %ld less %ld); raise its limit",
                       n->max_file, base, soft, soft - base);
    }
}

static int s_check_fds(pid_t pid, s_why_t *w, s_count_t *cnt)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int rc = 0;
    long nfds = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        nfds++;
        long fdn = strtol(e->d_name, NULL, 10);
        if (fdn > cnt->max_fd)
            cnt->max_fd = fdn;
        char link[400], target[4096];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
            continue; /* closed meanwhile */
        target[n] = 0;
        char sock[300];
        if (strncmp(target, "socket:[", 8) == 0 &&
            s_socket_unmovable(pid, (int)fdn, strtoul(target + 8, NULL, 10), sock, sizeof sock)) {
            s_obstacle(w, "fd %s is %s, which ssi cannot move yet", e->d_name, sock);
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
            s_obstacle(w, "it uses io_uring (fd %s), which ssi cannot move", e->d_name);
        } else if (strcmp(target, "anon_inode:[eventpoll]") == 0 ||
                   strcmp(target, "anon_inode:[eventfd]") == 0 ||
                   strcmp(target, "anon_inode:[timerfd]") == 0 ||
                   strcmp(target, "anon_inode:[signalfd]") == 0) {
            /* An epoll instance (with its registrations), an eventfd, a
             * timerfd or a signalfd (with their state) is made again where
             * the process resumes (ssi_epoll.c, ssi_kobj.c). The agent
             * reopens epoll instances among its local descriptors. */
            if (strcmp(target, "anon_inode:[eventpoll]") == 0)
                cnt->local += fdn > 2;
        } else if (strncmp(target, "anon_inode:", 11) == 0) {
            s_obstacle(w, "fd %s is a kernel object (%s) that ssi cannot move yet", e->d_name,
                       target + 11);
        } else if (strncmp(target, "/dev/", 5) == 0) {
            if (fdn > 2 && strncmp(target, "/dev/pts/", 9) != 0 &&
                strncmp(target, "/dev/tty", 8) != 0 && strcmp(target, "/dev/ptmx") != 0 &&
                strcmp(target, "/dev/console") != 0)
                cnt->local++;
            else if (fdn > 2)
                cnt->tunnels++;
            if (!s_allowed_device(target)) {
                s_obstacle(
                    w,
                    "fd %s is the device %s; only null, zero, random, urandom and terminals can move",
                    e->d_name, target);
            }
        } else {
            s_obstacle(w, "fd %s (%s) is a kind of descriptor that ssi cannot move yet", e->d_name,
                       target);
        }
    }
    closedir(d);
    /* The freeze handler's table also holds its own socket. */
    if (nfds >= SSI_IMAGE_FREEZE_MAX_FDS)
        s_obstacle(w, "it has %ld open descriptors; at most %d can move", nfds,
                   SSI_IMAGE_FREEZE_MAX_FDS - 1);
    return rc;
}

int ssi_deputy_check(pid_t pid, char *why, size_t len)
{
    long threads = 0, tracer = 0;
    s_why_t w = {.buf = why, .len = len};
    int rc = s_status_field(pid, "Threads", &threads);
    if (rc == 0)
        rc = s_status_field(pid, "TracerPid", &tracer);
    if (rc < 0) {
        snprintf(why, len, "process %d does not exist", (int)pid);
        return -ESRCH;
    }
    if (len)
        why[0] = 0;
    /* Every obstacle, not only the first: the user can remove them all
     * before trying again. */
    if (threads > SSI_IMAGE_FREEZE_MAX_THREADS)
        s_obstacle(&w, "it has %ld threads; at most %d can move", threads,
                   SSI_IMAGE_FREEZE_MAX_THREADS);
    if (tracer != 0)
        s_obstacle(&w, "it is being traced (ptrace) by process %ld", tracer);
    s_count_t cnt = {0, 0, -1, -1};
    rc = s_check_maps(pid, &w);
    if (rc == 0)
        rc = s_check_fds(pid, &w, &cnt);
    if (rc == 0)
        s_check_limits(pid, &cnt, &w);
    if (rc == -ENOENT || rc == -ESRCH) {
        snprintf(why, len, "process %d does not exist", (int)pid);
        return -ESRCH;
    }
    if (rc < 0) {
        snprintf(why, len, "cannot inspect process %d: %s", (int)pid, strerror(-rc));
        return rc;
    }
    return w.count ? -EBUSY : 0;
}

/* The calls that make a process, run a program or start a thread. */
static const char *const s_spawn_calls[] = {
    "fork",   "vfork",   "_Fork",  "clone",       "clone3",       "execve",         "execv",
    "execvp", "execvpe", "execl",  "execlp",      "execle",       "fexecve",        "execveat",
    "system", "popen",   "daemon", "posix_spawn", "posix_spawnp", "pthread_create", "thrd_create",
};

/* Libraries whose imports do not count: they define these calls, or are
 * ours. */
static int s_spawn_exempt(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libc.so", 7) == 0 || strncmp(base, "ld-linux", 8) == 0 ||
           strncmp(base, "libssi.so", 9) == 0 || strncmp(base, "libpthread.so", 13) == 0 ||
           strncmp(base, "ld-musl", 7) == 0 || strncmp(base, "libc.musl", 9) == 0;
}

/* Reads n bytes at off, all or -EIO. */
static int s_pread_all(int fd, void *buf, size_t n, off_t off)
{
    return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -EIO;
}

/* 1 and the call's name in *call if the ELF object at path imports one of
 * s_spawn_calls (an undefined dynamic symbol), 0 if not, -errno. */
static int s_elf_imports(const char *path, const char **call)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    Elf64_Sym *syms = NULL;
    char *str = NULL;
    int rc = -ENOEXEC;
    if (s_pread_all(fd, &eh, sizeof eh, 0) < 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shnum == 0 || eh.e_shnum > 4096)
        goto out;
    sh = calloc(eh.e_shnum, sizeof *sh);
    if (!sh || s_pread_all(fd, sh, eh.e_shnum * sizeof *sh, (off_t)eh.e_shoff) < 0)
        goto out;
    rc = 0; /* no .dynsym: it imports nothing */
    for (int i = 0; i < eh.e_shnum && rc == 0; i++) {
        if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh.e_shnum ||
            sh[i].sh_entsize != sizeof(Elf64_Sym) || sh[i].sh_size > (64u << 20))
            continue;
        const Elf64_Shdr *ss = &sh[sh[i].sh_link];
        if (ss->sh_size == 0 || ss->sh_size > (64u << 20)) {
            rc = -ENOEXEC;
            break;
        }
        syms = malloc(sh[i].sh_size);
        str = malloc(ss->sh_size + 1);
        if (!syms || !str || s_pread_all(fd, syms, sh[i].sh_size, (off_t)sh[i].sh_offset) < 0 ||
            s_pread_all(fd, str, ss->sh_size, (off_t)ss->sh_offset) < 0) {
            rc = -EIO;
            break;
        }
        str[ss->sh_size] = 0;
        size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        for (size_t k = 1; k < n && rc == 0; k++) {
            if (syms[k].st_shndx != SHN_UNDEF || syms[k].st_name >= ss->sh_size)
                continue;
            const char *name = str + syms[k].st_name;
            for (size_t j = 0; j < sizeof s_spawn_calls / sizeof *s_spawn_calls; j++)
                if (strcmp(name, s_spawn_calls[j]) == 0) {
                    *call = s_spawn_calls[j];
                    rc = 1;
                    break;
                }
        }
        free(syms);
        free(str);
        syms = NULL;
        str = NULL;
    }
out:
    free(syms);
    free(str);
    free(sh);
    close(fd);
    return rc;
}

int ssi_precheck_spawns(pid_t pid, char *what, size_t len)
{
    char path[64], line[4200], seen[16][256];
    int nseen = 0, rc = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    if (len)
        what[0] = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char perms[8];
        int at = 0;
        if (sscanf(line, "%*s %7s %*s %*s %*s %n", perms, &at) < 1 || at == 0 || line[at] != '/' ||
            perms[2] != 'x')
            continue;
        const char *obj = line + at;
        if (s_spawn_exempt(obj))
            continue;
        int dup = 0;
        for (int i = 0; i < nseen && !dup; i++)
            dup = strcmp(seen[i], obj) == 0;
        if (dup)
            continue;
        if (nseen == 16) {
            rc = -E2BIG; /* more objects than we look at: unknown */
            break;
        }
        snprintf(seen[nseen++], sizeof seen[0], "%s", obj);
        const char *call = NULL;
        rc = s_elf_imports(obj, &call);
        if (rc > 0 && len)
            snprintf(what, len, "%s calls %s", obj, call);
        else if (rc < 0 && len)
            snprintf(what, len, "%s cannot be read as ELF: %s", obj, strerror(-rc));
    }
    fclose(f);
    return rc;
}
