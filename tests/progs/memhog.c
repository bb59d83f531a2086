/*
 * memhog.c - test program for the migration engine.
 *
 *   memhog [MiB [ITERATIONS [INTERVAL_MS [EXIT]]]]   (defaults 64 40 50 0)
 *
 * Holds MiB of patterned memory (mmap), a brk heap, TLS and stack data; an
 * interval timer's SIGALRM drives the iterations. Each iteration rewrites
 * a stripe of every page and recomputes a checksum over all of it, so the
 * result depends only on the iteration count, never on timing: a migrated
 * run must end with the same "memhog done" line as an unmigrated one.
 * Every iteration also checks that the process state a restore must bring
 * back is unchanged (pid, signal handler and mask, umask, rlimit, cwd,
 * brk, TLS) and exits with status 3 if not.
 * SIGUSR1 stays blocked; one that is pending is taken at the next
 * iteration and reported ("memhog got SIGUSR1"), so that a test can see a
 * signal reach a migrated body. It exits with EXIT (so that a test sees
 * a migrated process's own status reach its parent).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t s_alarms;
static __thread long s_tls_iter;

static void s_on_alarm(int sig)
{
    (void)sig;
    s_alarms++;
}

static void s_fail(const char *what)
{
    printf("memhog STATE MISMATCH: %s\n", what);
    fflush(stdout);
    exit(3);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
    long iters = argc > 2 ? strtol(argv[2], NULL, 0) : 40;
    long interval_ms = argc > 3 ? strtol(argv[3], NULL, 0) : 50;
    int exit_code = argc > 4 ? atoi(argv[4]) : 0;
    size_t words = mib << 17, npages = mib << 8, i;
    uint64_t *mem, *heap, sum = 0;
    struct sigaction sa;
    struct itimerval it;
    sigset_t block, wait_mask;
    struct rlimit rl;
    char cwd0[256], cwd[256];
    void *brk0;
    pid_t pid0 = getpid();
    long iter;

    mem = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    heap = malloc(4096 * 8); /* small: from the brk heap */
    if (mem == MAP_FAILED || !heap)
        return 1;
    for (i = 0; i < words; i++)
        mem[i] = i * 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < 4096; i++)
        heap[i] = i;
    brk0 = sbrk(0);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigaddset(&wait_mask, SIGUSR1); /* SIGUSR1 stays blocked throughout */
    umask(027);
    rl.rlim_cur = 777;
    rl.rlim_max = 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (chdir("/tmp") < 0 || !getcwd(cwd0, sizeof(cwd0)))
        return 1;

    it.it_interval.tv_sec = interval_ms / 1000;
    it.it_interval.tv_usec = (interval_ms % 1000) * 1000;
    it.it_value = it.it_interval;
    setitimer(ITIMER_REAL, &it, NULL);

    printf("memhog start pid=%d ppid=%d mib=%zu iters=%ld\n", (int)getpid(), (int)getppid(), mib,
           iters);
    fflush(stdout);
    for (iter = 1; iter <= iters; iter++) {
        struct sigaction cur;
        sigset_t now;
        /* Wait for the next alarm; the freeze signal may also wake us. */
        while (s_alarms < iter)
            sigsuspend(&wait_mask);
        for (i = 0; i < npages; i++)
            mem[i * 512 + (size_t)(iter % 512)] += (uint64_t)iter * i + 1;
        heap[iter % 4096] ^= (uint64_t)iter;
        sum = 0;
        for (i = 0; i < words; i++)
            sum = (sum ^ mem[i]) * 0x100000001b3ULL + (sum >> 29);
        for (i = 0; i < 4096; i++)
            sum += heap[i];
        s_tls_iter++;

        if (getpid() != pid0)
            s_fail("pid");
        if (s_tls_iter != iter)
            s_fail("tls");
        sigaction(SIGALRM, NULL, &cur);
        if (cur.sa_handler != s_on_alarm)
            s_fail("SIGALRM handler");
        sigprocmask(SIG_BLOCK, NULL, &now);
        if (!sigismember(&now, SIGUSR1) || !sigismember(&now, SIGALRM))
            s_fail("signal mask");
        if (umask(027) != 027)
            s_fail("umask");
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 777 || rl.rlim_max != 4096)
            s_fail("rlimit");
        if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, cwd0))
            s_fail("cwd");
        if (sbrk(0) != brk0)
            s_fail("brk");
        {
            sigset_t usr1;
            struct timespec zero = {0, 0};
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            if (sigtimedwait(&usr1, NULL, &zero) == SIGUSR1)
                printf("memhog got SIGUSR1 iter=%ld\n", iter);
        }
        getitimer(ITIMER_REAL, &it);
        if (it.it_interval.tv_usec != (interval_ms % 1000) * 1000)
            s_fail("itimer");
        printf("memhog pid=%d ppid=%d iter=%ld sum=%016llx\n", (int)getpid(), (int)getppid(), iter,
               (unsigned long long)sum);
        fflush(stdout);
    }
    /* The heap still works after a restore (brk grows). */
    {
        void *big = sbrk(1 << 20);
        if (big == (void *)-1)
            s_fail("brk growth");
        memset(big, 1, 1 << 20);
    }
    printf("memhog done iters=%ld sum=%016llx\n", iters, (unsigned long long)sum);
    fflush(stdout);
    return exit_code;
}
