/*
 * nocall.c - runs a program under a seccomp filter that refuses one system
 * call, as a container runtime's profile does (Docker's default refuses
 * unshare, mount, umount2 and pivot_root to a container without
 * CAP_SYS_ADMIN). tests/integ/sec_sandbox_fail.sh starts a node's ssid
 * under it: every helper ssid starts, and so the body's agent and restorer,
 * inherit the filter (filters survive fork and exec).
 *
 *   nocall CALL errno|kill PROGRAM [ARG...]
 *
 * errno: CALL fails with EPERM (the node cannot make the body's sandbox);
 * kill: the process that makes CALL is killed (SECCOMP_RET_KILL_PROCESS,
 * SIGSYS), at exactly that stage of its work. Calls of other ABIs than
 * x86_64 are left alone. No no_new_privs: run as root.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
    const char *name;
    int nr;
} s_calls[] = {
    {"unshare", SYS_unshare},       {"mount", SYS_mount},         {"umount2", SYS_umount2},
    {"pivot_root", SYS_pivot_root}, {"setresuid", SYS_setresuid}, {"capset", SYS_capset},
    {"seccomp", SYS_seccomp},
};

int main(int argc, char **argv)
{
    int nr = -1;
    unsigned action;
    if (argc < 4 || (strcmp(argv[2], "errno") && strcmp(argv[2], "kill"))) {
        fprintf(stderr, "usage: nocall CALL errno|kill PROGRAM [ARG...]\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof s_calls / sizeof *s_calls; i++)
        if (!strcmp(argv[1], s_calls[i].name))
            nr = s_calls[i].nr;
    if (nr < 0) {
        fprintf(stderr, "nocall: unknown call %s\n", argv[1]);
        return 2;
    }
    action = !strcmp(argv[2], "kill") ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ERRNO | EPERM;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {.len = sizeof f / sizeof *f, .filter = f};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0) < 0) {
        perror("nocall: seccomp");
        return 1;
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "nocall: %s: %s\n", argv[3], strerror(errno));
    return 127;
}
