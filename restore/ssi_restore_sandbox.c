/*
 * ssi_restore_sandbox.c - the body's empty root (issue #12). The agent
 * starts ssi-restore --sandbox in mount, network, IPC and UTS namespaces of
 * its own (unshare before the exec: helpers/ssi_agent.c). In the new task,
 * root still:
 *
 *   begin   (before the image's records) mounts private, a tmpfs on S_TOP
 *   file    (each file the image maps, and the executable) binds the node's
 *           file at its own path under S_TOP, read-only unless the mapping
 *           writes to it, where the restorer then opens it
 *   enter   (once every file is mapped and the executable set) adds the
 *           body's /proc and the harmless devices, makes S_TOP the root,
 *           and detaches the node's tree
 *
 * so the new root holds only
 *
 *   /proc                 a proc of the body's own PID namespace, its
 *                         processes only (subset=pid), where /proc/1 (the
 *                         agent, root's, holding the link keys) is covered
 *                         by an empty read-only tmpfs
 *   /dev/null, zero, full, random, urandom
 *                         bind mounts of the node's devices (those it has):
 *                         the vfs-proxy re-issues their opens locally
 *   each file it maps     at its own path
 *
 * and nothing else of the node's file system is reachable (pivot_root(".",
 * ".") then umount2(MNT_DETACH)). Descriptors made before (the agent's
 * /dev/null placeholders) keep their paths in /proc/self/fd. Every file the
 * program opens comes from home (vfs-proxy); a call that slips past the
 * trap (a raw `syscall` inside libssi.so's text) finds an empty tree and a
 * network namespace with nothing in it but a loopback that is down.
 *
 * Freestanding, as the rest of the restorer: raw system calls only.
 */
#include "ssi_restore.h"

#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <string.h> /* declarations only: ssi_restore_mem.c */
#include <sys/stat.h>

#ifndef MS_PRIVATE
#define MS_RDONLY 1
#define MS_NOSUID 2
#define MS_NODEV 4
#define MS_NOEXEC 8
#define MS_REMOUNT 32
#define MS_BIND 4096
#define MS_REC 16384
#define MS_PRIVATE (1 << 18)
#endif
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif

/* Where the new root is built: any directory of the node's tree will do,
 * since it is covered only in this (private) mount namespace; /proc is
 * there on every Linux. */
#define S_TOP "/proc"

static long s_mount(const char *src, const char *dst, const char *type, unsigned long fl,
                    const char *data)
{
    return ssi_sys5(SYS_mount, (long)src, (long)dst, (long)type, (long)fl, (long)data);
}

static void s_must(long r, const char *what, const char *detail)
{
    if (r < 0)
        ssi_restore_die(what, detail, r);
}

/* mkdir -p of the directories above `path` (absolute, under S_TOP). */
static void s_mkdirs(char *path)
{
    for (char *p = path + sizeof(S_TOP); *p; p++)
        if (*p == '/') {
            long r;
            *p = 0;
            r = ssi_sys3(SYS_mkdirat, AT_FDCWD, (long)path, 0755);
            *p = '/';
            if (r < 0 && r != -EEXIST)
                ssi_restore_die("sandbox: cannot make the directory of", path, r);
        }
}

void ssi_restore_sandbox_begin(void)
{
    s_must(s_mount(0, "/", 0, MS_REC | MS_PRIVATE, 0),
           "sandbox: cannot make the body's mounts private", 0);
    s_must(s_mount("ssi-body", S_TOP, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "mode=0755,size=1m,nr_inodes=16384"),
           "sandbox: cannot mount the body's root (tmpfs) on", S_TOP);
}

/* A file the body maps, bound at its own path in the new root (read-only
 * unless the mapping writes to it), and opened there by the caller, so
 * that the mapping's path stays the same after the pivot: the freeze that
 * brings the body home (or checkpoints it) checks that the file of each
 * mapped path is the mapped one and records its size and time. These are
 * files the body maps anyway, whose bytes home's ssid checked to be home's
 * before the move ("Security", files mapped at the freeze): they tell
 * nothing of the node. */
const char *ssi_restore_sandbox_file(const char *path, int writable)
{
    static char dst[4200];
    size_t n = ssi_sys_strlen(path);
    long r;
    if (path[0] != '/' || n + sizeof(S_TOP) > sizeof(dst) || !memcmp(path, "/proc/", 6) ||
        !memcmp(path, "/dev/", 5))
        return path; /* fails to open as it would have, or the sandbox's own */
    ssi_sys_memcopy(dst, S_TOP, sizeof(S_TOP) - 1);
    ssi_sys_memcopy(dst + sizeof(S_TOP) - 1, path, n + 1);
    s_mkdirs(dst);
    r = ssi_sys4(SYS_openat, AT_FDCWD, (long)dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (r == -EEXIST)
        return dst; /* bound already, for an earlier mapping */
    if (r < 0)
        ssi_restore_die("sandbox: cannot make", dst, r);
    ssi_sys1(SYS_close, r);
    s_must(s_mount(path, dst, 0, MS_BIND, 0), "sandbox: cannot bind", path);
    if (!writable)
        s_must(s_mount(0, dst, 0, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, 0),
               "sandbox: cannot make read-only", path);
    return dst;
}

void ssi_restore_sandbox_enter(void)
{
    /* Not an array of pointers: this program has no relocations. */
    static const char devs[][8] = {"null", "zero", "full", "random", "urandom"};
    char src[32], dst[48];
    struct stat st;
    long r;

    s_must(ssi_sys3(SYS_mkdirat, AT_FDCWD, (long)S_TOP "/proc", 0555), "sandbox: cannot make",
           S_TOP "/proc");
    s_must(ssi_sys3(SYS_mkdirat, AT_FDCWD, (long)S_TOP "/dev", 0755), "sandbox: cannot make",
           S_TOP "/dev");
    for (unsigned i = 0; i < sizeof devs / sizeof *devs; i++) {
        ssi_sys_strlcpy(src, "/dev/", sizeof(src));
        ssi_sys_strlcpy(src + 5, devs[i], sizeof(src) - 5);
        ssi_sys_strlcpy(dst, S_TOP "/dev/", sizeof(dst));
        ssi_sys_strlcpy(dst + sizeof(S_TOP "/dev/") - 1, devs[i],
                        sizeof(dst) - sizeof(S_TOP "/dev/") + 1);
        /* A device the node lacks (a container's /dev) is not made. */
        if (ssi_sys4(SYS_newfstatat, AT_FDCWD, (long)src, (long)&st, 0) < 0 || !S_ISCHR(st.st_mode))
            continue;
        r = ssi_sys4(SYS_openat, AT_FDCWD, (long)dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
                     0666);
        s_must(r, "sandbox: cannot make", dst);
        ssi_sys1(SYS_close, r);
        s_must(s_mount(src, dst, 0, MS_BIND, 0), "sandbox: cannot bind", src);
    }
    /* subset=pid: the processes only. The node's own files there (sys/,
     * sysrq-trigger, kcore, ...) would be the node's kernel to a root body;
     * the program's reads of them go home anyway (vfs-proxy). */
    s_must(s_mount("proc", S_TOP "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid"),
           "sandbox: cannot mount the body's /proc", 0);
    /* The agent, pid 1 here: nothing of it is to be seen (a root body
     * could otherwise reach the node's files through /proc/1/root, its
     * memory and descriptors through /proc/1/mem and fd/). */
    s_must(s_mount("ssi-agent", S_TOP "/proc/1", "tmpfs",
                   MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555,size=4k,nr_inodes=4"),
           "sandbox: cannot cover", "/proc/1");
    s_must(ssi_sys1(SYS_chdir, (long)S_TOP), "sandbox: cannot enter", S_TOP);
    s_must(ssi_sys2(SYS_pivot_root, (long)".", (long)"."), "sandbox: pivot_root failed", 0);
    s_must(ssi_sys2(SYS_umount2, (long)".", MNT_DETACH),
           "sandbox: cannot detach the node's file system", 0);
    s_must(ssi_sys1(SYS_chdir, (long)"/"), "sandbox: cannot enter", "/");
}
