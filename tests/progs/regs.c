/*
 * regs.c - rseq and membarrier registrations, which a move must make
 * again (issue #17).
 *
 *   regs CHECKS
 *
 * Registers an rseq area of its own through syscall() (as librseq does)
 * and every membarrier REGISTER_* command the kernel offers. Prints "regs
 * ready", then on each SIGUSR2 runs a check and prints "check K ok" or
 * "check K FAIL: what"; exits after CHECKS checks (status 0 if every check
 * passed). A check: registering the same area again is refused with EBUSY
 * (it is registered), the kernel keeps the area's cpu_id current (set to
 * -1 before a yield, it is a valid cpu after); GET_REGISTRATIONS answers
 * what was registered, and each expedited command that needs its
 * registration runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define S_RSEQ_SIG 0x53053053

static struct {
    uint32_t cpu_id_start, cpu_id;
    uint64_t rseq_cs;
    uint32_t flags;
} __attribute__((aligned(32))) s_rseq;

static const struct {
    int reg, run;
    const char *name;
} s_mb[] = {
    {1 << 2, 1 << 1, "GLOBAL_EXPEDITED"},
    {1 << 4, 1 << 3, "PRIVATE_EXPEDITED"},
    {1 << 6, 1 << 5, "PRIVATE_EXPEDITED_SYNC_CORE"},
    {1 << 8, 1 << 7, "PRIVATE_EXPEDITED_RSEQ"},
};

static volatile sig_atomic_t s_asked;
static char s_why[512];
static int s_bad;

static void s_on_usr2(int sig)
{
    (void)sig;
    s_asked = 1;
}

__attribute__((format(printf, 1, 2))) static void s_fail(const char *fmt, ...)
{
    size_t n = strlen(s_why);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_why + n, sizeof s_why - n, fmt, ap);
    va_end(ap);
    s_bad = 1;
}

static void s_check(int registered)
{
    long r = syscall(SYS_rseq, &s_rseq, sizeof s_rseq, 0, S_RSEQ_SIG);
    if (!(r < 0 && errno == EBUSY))
        s_fail(" rseq area not registered (registering it again: %ld, %s);", r,
               r < 0 ? strerror(errno) : "accepted");
    s_rseq.cpu_id = (uint32_t)-1;
    sched_yield();
    usleep(1000);
    if ((int32_t)s_rseq.cpu_id < 0)
        s_fail(" rseq cpu_id not kept current (%d);", (int32_t)s_rseq.cpu_id);
    r = syscall(SYS_membarrier, 1 << 9 /* GET_REGISTRATIONS */, 0, 0);
    if (r != registered)
        s_fail(" membarrier registrations %#lx, want %#x;", r, registered);
    for (size_t i = 0; i < sizeof s_mb / sizeof *s_mb; i++)
        if ((registered & s_mb[i].reg) && syscall(SYS_membarrier, s_mb[i].run, 0, 0) < 0)
            s_fail(" membarrier %s: %s;", s_mb[i].name, strerror(errno));
}

int main(int argc, char **argv)
{
    int checks = argc > 1 ? atoi(argv[1]) : 3, bad = 0, registered = 0;
    signal(SIGUSR2, s_on_usr2);
    if (syscall(SYS_rseq, &s_rseq, sizeof s_rseq, 0, S_RSEQ_SIG) < 0) {
        printf("regs: cannot register rseq: %s\n", strerror(errno));
        return 2;
    }
    long q = syscall(SYS_membarrier, 0 /* QUERY */, 0, 0);
    for (size_t i = 0; q > 0 && i < sizeof s_mb / sizeof *s_mb; i++)
        if ((q & s_mb[i].reg) && syscall(SYS_membarrier, s_mb[i].reg, 0, 0) == 0)
            registered |= s_mb[i].reg;
    if (!registered) {
        printf("regs: no membarrier registration possible\n");
        return 2;
    }
    printf("regs ready %#x\n", registered);
    fflush(stdout);
    for (int k = 0; k < checks; k++) {
        while (!s_asked)
            pause();
        s_asked = 0;
        s_why[0] = 0;
        s_bad = 0;
        s_check(registered);
        printf("check %d %s%s\n", k, s_bad ? "FAIL:" : "ok", s_why);
        fflush(stdout);
        bad |= s_bad;
    }
    return bad;
}
