/*
 * sysloop.c - the cost of a system call that runs untouched, at home (no
 * filter) and in a body away (through the trap core's allow-list filter):
 * tests/bench/filter.sh.
 *
 *   sysloop PIDFILE GOFILE N
 *     times N getpid and N prlimit64(0) (a call that runs only on itself)
 *     system calls, prints "home getpid NS" and "home prlimit64 NS" (ns per
 *     call), writes its pid to PIDFILE, waits for GOFILE (moved by then),
 *     times them again and prints "away ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void measure(const char *where, long n)
{
    unsigned long rl[2];
    double t = now();
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    double g = (now() - t) / n;
    t = now();
    for (long i = 0; i < n; i++)
        syscall(SYS_prlimit64, 0, 7, NULL, rl);
    double p = (now() - t) / n;
    printf("%s getpid %.1f\n%s prlimit64 %.1f\n", where, g, where, p);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sysloop PIDFILE GOFILE N\n");
        return 2;
    }
    long n = atol(argv[3]);
    struct timespec ts = {0, 50 * 1000 * 1000};
    measure("home", n);
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return 2;
    fprintf(f, "%d\n", getpid());
    fclose(f);
    while (access(argv[2], F_OK) != 0)
        nanosleep(&ts, NULL);
    measure("away", n);
    return 0;
}
