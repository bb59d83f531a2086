/*
 * ownfilter.c - a program that confines itself with seccomp before it is
 * moved (tests/integ/sec_own_filter.sh): filter 1, installed with
 * syscall(SYS_seccomp), makes mkdir and mkdirat fail with EPERM; filter 2,
 * installed with prctl(PR_SET_SECCOMP), makes sysinfo fail with EACCES (a
 * call that runs locally away, where only a filter of the body itself can
 * refuse it). First, both calls with a bad pointer must fail with EFAULT
 * (the shim reads the filter before the kernel does, and must not crash). Every 100 ms it prints one line:
 *
 *   mkdir=ERRNO sysinfo=ERRNO filters=N
 *
 * (0: the call succeeded; N: Seccomp_filters of /proc/self/status, the
 * kernel's count where it runs) until STOPFILE exists, then "done".
 *
 *   ownfilter DIR STOPFILE [execve|socket]
 *
 * With "execve", filter 1 also makes execve fail with EPERM: a call a move
 * needs (the deputy execs ssi-restore to bring the body home), so the move
 * must be refused up front, the program running on at home. With "socket",
 * socket: the freeze cannot even reach the one who asks for it (its shim
 * tells ssid when the filter is installed, and the move is refused up
 * front all the same).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define LOAD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define FAIL(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e))

static int filters(void)
{
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "re");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Seccomp_filters:", 16))
            n = atoi(line + 16);
    if (f)
        fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    /* With "execve" (argv[3]): execve too, which a homecoming needs; with
     * "socket", socket, which a freeze needs to hear its request. */
    long deny = SYS_mkdir;
    if (argc == 4 && !strcmp(argv[3], "execve"))
        deny = SYS_execve;
    else if (argc == 4 && !strcmp(argv[3], "socket"))
        deny = SYS_socket;
    else if (argc == 4) {
        fprintf(stderr, "usage: ownfilter DIR STOPFILE [execve|socket]\n");
        return 2;
    }
    struct sock_filter mk[] = {
        LOAD_ARCH,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        ALLOW,
        LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)deny, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdir, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdirat, 0, 1),
        FAIL(EPERM),
        ALLOW,
    };
    struct sock_filter si[] = {
        LOAD_ARCH, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0), ALLOW,
        LOAD_NR,   BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sysinfo, 0, 1),       FAIL(EACCES),
        ALLOW,
    };
    struct sock_fprog p1 = {.len = sizeof mk / sizeof *mk, .filter = mk};
    struct sock_fprog p2 = {.len = sizeof si / sizeof *si, .filter = si};
    char dir[4096];
    struct timespec ts = {0, 100 * 1000 * 1000};

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: ownfilter DIR STOPFILE [execve|socket]\n");
        return 2;
    }
    /* A bad pointer is the kernel's to refuse (EFAULT), not a crash. */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8) != -1 || errno != EFAULT ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (void *)8, 0, 0) != -1 || errno != EFAULT) {
        fprintf(stderr, "seccomp with a bad pointer: not EFAULT\n");
        return 1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p1) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p2, 0, 0) < 0) {
        perror("seccomp");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/made", argv[1]);
    while (access(argv[2], F_OK) != 0) {
        struct sysinfo s;
        int mk_err = mkdir(dir, 0755) < 0 ? errno : 0;
        int si_err = sysinfo(&s) < 0 ? errno : 0;
        printf("mkdir=%d sysinfo=%d filters=%d\n", mk_err, si_err, filters());
        fflush(stdout);
        nanosleep(&ts, NULL);
    }
    printf("done\n");
    return 0;
}
