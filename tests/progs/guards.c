/*
 * guards.c - guard regions (madvise MADV_GUARD_INSTALL, Linux 6.13) that a
 * move must carry (issue #17; zdtm's maps12).
 *
 *   guards CHECKS
 *
 * Maps 16 private anonymous pages, fills each with its own pattern, then
 * installs guards on pages 1-2, 7 and 15 (page 15 the last of the VMA).
 * Prints "guards ready" (or "guards unsupported" and exits 0 on a kernel
 * without them), then on each SIGUSR2 checks and prints "check K ok" or
 * "check K FAIL: what"; exits after CHECKS checks (status 0 if each passed).
 * A check: every guarded page faults on a read and on a write (SIGSEGV,
 * caught), every other page still holds its pattern and can be written.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define NPAGES 16

static volatile sig_atomic_t s_asked;
static sigjmp_buf s_jmp;
static volatile sig_atomic_t s_armed;
static uint8_t *s_map;
static long s_pg;

static int s_guarded(int i)
{
    return i == 1 || i == 2 || i == 7 || i == NPAGES - 1;
}

static void s_on_usr2(int sig)
{
    (void)sig;
    s_asked = 1;
}

static void s_on_segv(int sig)
{
    (void)sig;
    if (s_armed)
        siglongjmp(s_jmp, 1);
    abort();
}

/* 1 if touching p (a read, or a write of v) faults. */
static int s_faults(volatile uint8_t *p, int write, uint8_t v)
{
    int faulted;
    s_armed = 1;
    faulted = sigsetjmp(s_jmp, 1) != 0;
    if (!faulted) {
        if (write)
            *p = v;
        else
            (void)*p;
    }
    s_armed = 0;
    return faulted;
}

static int s_check(char *why, size_t len)
{
    for (int i = 0; i < NPAGES; i++) {
        uint8_t *p = s_map + i * s_pg;
        if (s_guarded(i)) {
            if (!s_faults(p, 0, 0) || !s_faults(p + s_pg - 1, 1, 1)) {
                snprintf(why, len, "page %d is no longer a guard page", i);
                return -1;
            }
            continue;
        }
        for (long k = 0; k < s_pg; k++)
            if (p[k] != (uint8_t)(i * 31 + k)) {
                snprintf(why, len, "page %d byte %ld is %u, not %u", i, k, p[k],
                         (uint8_t)(i * 31 + k));
                return -1;
            }
        if (s_faults(p, 1, p[0])) {
            snprintf(why, len, "page %d faults but is no guard page", i);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int checks = argc > 1 ? atoi(argv[1]) : 1, bad = 0;
    struct sigaction sa;
    sigset_t none;

    setvbuf(stdout, NULL, _IOLBF, 0);
    s_pg = sysconf(_SC_PAGESIZE);
    s_map = mmap(NULL, NPAGES * s_pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s_map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int i = 0; i < NPAGES; i++)
        for (long k = 0; k < s_pg; k++)
            s_map[i * s_pg + k] = (uint8_t)(i * 31 + k);
    for (int i = 0; i < NPAGES; i++)
        if (s_guarded(i) && madvise(s_map + i * s_pg, s_pg, MADV_GUARD_INSTALL) < 0) {
            if (errno == EINVAL) {
                printf("guards unsupported\n");
                return 0;
            }
            perror("madvise(MADV_GUARD_INSTALL)");
            return 1;
        }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_segv;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sa.sa_handler = s_on_usr2;
    sa.sa_flags = 0;
    sigaction(SIGUSR2, &sa, NULL);
    printf("guards ready\n");
    sigemptyset(&none);
    for (int k = 0; k < checks; k++) {
        char why[256];
        while (!s_asked)
            pause();
        s_asked = 0;
        if (s_check(why, sizeof(why)) == 0)
            printf("check %d ok\n", k);
        else {
            printf("check %d FAIL: %s\n", k, why);
            bad = 1;
        }
    }
    return bad;
}
