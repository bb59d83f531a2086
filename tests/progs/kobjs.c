/*
 * kobjs.c - eventfd, timerfd and signalfd descriptors whose state a move
 * must carry (issue #17).
 *
 *   kobjs CHECKS
 *
 * Sets up, at fixed numbers: fd 10 an eventfd (non-blocking) holding 5;
 * fd 11 a semaphore eventfd holding 3; fd 12 a CLOCK_MONOTONIC timerfd, one
 * shot, 60 s; fd 13 a timerfd that fired once (10 ms) and was never read;
 * fd 14 a periodic timerfd (100 ms); fd 15 a signalfd for SIGUSR1 (blocked).
 * Prints "kobjs ready", then on each SIGUSR2 runs a check and prints
 * "check K ok" or "check K FAIL: what"; exits after CHECKS checks (status 0
 * if every check passed). A check: fd 10 reads 5 then EAGAIN (and 5 is
 * written back); fd 11 reads 1 (semaphore), 3 is restored; fd 12 has as
 * much time left as the wall clock says (within 1.5 s: frozen time counts)
 * and its clock is CLOCK_MONOTONIC; fd 13 reads 1 tick on the second check
 * (the first after a move) and then nothing; fd 14 has ticked since the last check; a SIGUSR1 sent
 * to itself is read from fd 15; each keeps its O_NONBLOCK and FD_CLOEXEC.
 * The second check also makes an eventfd holding 9 at fd 20 (away, in the
 * test); later checks read 9 from it (at home again).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_asked;
static char s_why[512];
static int s_bad;

static void s_on_usr2(int sig)
{
    (void)sig;
    s_asked = 1;
}

static long s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
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

static void s_at(int fd, int want)
{
    if (fd != want && (dup2(fd, want) < 0 || close(fd) < 0)) {
        perror("dup2");
        exit(2);
    }
}

static uint64_t s_read64(int fd, int *err)
{
    uint64_t v = 0;
    *err = read(fd, &v, sizeof v) == sizeof v ? 0 : errno;
    return v;
}

static void s_flags(int fd, int nonblock, int cloexec)
{
    int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
    if (fl < 0 || !!(fl & O_NONBLOCK) != nonblock || !!(fdf & FD_CLOEXEC) != cloexec)
        s_fail("fd %d flags changed (%x); ", fd, (unsigned)fl);
}

static int s_clockid(int fd)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    int id = -1;
    if (!f)
        return -1;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "clockid: %d", &id) == 1)
            break;
    fclose(f);
    return id;
}

int main(int argc, char **argv)
{
    int checks = argc > 1 ? atoi(argv[1]) : 3, bad = 0, err;
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigprocmask(SIG_BLOCK, &m, NULL);
    signal(SIGUSR2, s_on_usr2);

    s_at(eventfd(5, EFD_NONBLOCK), 10);
    s_at(eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC), 11);
    fcntl(11, F_SETFD, FD_CLOEXEC);
    struct itimerspec one = {.it_value = {60, 0}}, fired = {.it_value = {0, 10000000}},
                      tick = {.it_value = {0, 100000000}, .it_interval = {0, 100000000}};
    s_at(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), 12);
    long armed = s_ms();
    timerfd_settime(12, 0, &one, NULL);
    s_at(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), 13);
    timerfd_settime(13, 0, &fired, NULL);
    s_at(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), 14);
    timerfd_settime(14, 0, &tick, NULL);
    s_at(signalfd(-1, &m, SFD_NONBLOCK), 15);
    usleep(50000); /* fd 13 has fired */
    printf("kobjs ready\n");
    fflush(stdout);

    for (int k = 0; k < checks; k++) {
        while (!s_asked)
            usleep(20000);
        s_asked = 0;
        s_why[0] = 0;
        s_bad = 0;
        uint64_t v = s_read64(10, &err);
        if (err || v != 5)
            s_fail("eventfd read %ld (errno %d); ", (long)v, err);
        s_read64(10, &err);
        if (err != EAGAIN)
            s_fail("eventfd not empty after a read (errno %d); ", err);
        v = 5;
        if (write(10, &v, sizeof v) != sizeof v)
            s_fail("eventfd write: errno %d; ", errno);
        v = s_read64(11, &err);
        if (err || v != 1)
            s_fail("semaphore eventfd read %ld (errno %d); ", (long)v, err);
        v = 1;
        if (write(11, &v, sizeof v) != sizeof v)
            s_fail("semaphore eventfd write: errno %d; ", errno);
        struct itimerspec cur;
        timerfd_gettime(12, &cur);
        long left = cur.it_value.tv_sec * 1000L + cur.it_value.tv_nsec / 1000000L;
        long want = 60000 - (s_ms() - armed);
        if (left <= 0 || labs(left - want) > 1500)
            s_fail("timer has %ld ms left, the wall clock says %ld; ", left, want);
        if (s_clockid(12) != CLOCK_MONOTONIC)
            s_fail("timer clock %d, not %d; ", s_clockid(12), CLOCK_MONOTONIC);
        /* Left unread until the second check: after the first move. */
        v = k > 0 ? s_read64(13, &err) : 0;
        if (k > 0 && (k == 1 ? (err || v != 1) : err != EAGAIN))
            s_fail("fired timer read %ld ticks (errno %d); ", (long)v, err);
        v = s_read64(14, &err);
        if (err || v < 1)
            s_fail("periodic timer read %ld ticks (errno %d); ", (long)v, err);
        kill(getpid(), SIGUSR1);
        struct signalfd_siginfo si;
        if (read(15, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1)
            s_fail("signalfd: no SIGUSR1 (errno %d); ", errno);
        s_flags(10, 1, 0);
        s_flags(11, 1, 1);
        s_flags(12, 1, 0);
        s_flags(15, 1, 0);
        /* An eventfd made away (at the first check after a move) comes
         * home with its count. */
        if (k == 1)
            s_at(eventfd(9, EFD_NONBLOCK), 20);
        if (k >= 2) {
            v = s_read64(20, &err);
            if (err || v != 9)
                s_fail("eventfd made away read %ld (errno %d); ", (long)v, err);
            v = 9;
            if (write(20, &v, sizeof v) != sizeof v)
                s_fail("eventfd made away: write errno %d; ", errno);
        }
        if (s_bad)
            printf("check %d FAIL: %s\n", k, s_why);
        else
            printf("check %d ok\n", k);
        fflush(stdout);
        bad |= s_bad;
    }
    return bad ? 1 : 0;
}
