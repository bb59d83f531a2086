/*
 * ptimers.c - POSIX timers (timer_create) whose state a move must carry
 * (issue #17).
 *
 *   ptimers CHECKS
 *
 * Makes two CLOCK_MONOTONIC timers that signal SIGUSR1 with their own
 * sigev_value: a periodic one (100 ms, value 42) and a one-shot one (60 s,
 * value 7). Prints "ptimers ready", then on each SIGUSR2 runs a check and
 * prints "check K ok" or "check K FAIL: what"; exits after CHECKS checks
 * (status 0 if every check passed). A check: both timer ids still answer
 * timer_gettime; the one-shot has as much time left as the wall clock says
 * (within 1.5 s: frozen time counts); the periodic one fired since the
 * last check, no more often than every 100 ms (a second copy firing too,
 * as a deputy's would, doubles the rate), with value 42 every time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_asked, s_ticks, s_bad_value;
static char s_why[512];
static int s_bad;

static void s_on_usr2(int sig)
{
    (void)sig;
    s_asked = 1;
}

static void s_on_tick(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (si->si_code == SI_TIMER && si->si_value.sival_int == 42)
        s_ticks++;
    else
        s_bad_value++;
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

int main(int argc, char **argv)
{
    int checks = argc > 1 ? atoi(argv[1]) : 3, bad = 0;
    struct sigaction sa = {.sa_sigaction = s_on_tick, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, s_on_usr2);
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    timer_t tick, once;
    ev.sigev_value.sival_int = 42;
    timer_create(CLOCK_MONOTONIC, &ev, &tick);
    ev.sigev_value.sival_int = 7;
    timer_create(CLOCK_MONOTONIC, &ev, &once);
    struct itimerspec p = {.it_value = {0, 100000000}, .it_interval = {0, 100000000}},
                      o = {.it_value = {60, 0}};
    long armed = s_ms();
    timer_settime(once, 0, &o, NULL);
    timer_settime(tick, 0, &p, NULL);
    long last = s_ms();
    printf("ptimers ready\n");
    fflush(stdout);

    for (int k = 0; k < checks; k++) {
        while (!s_asked)
            usleep(20000);
        s_asked = 0;
        s_why[0] = 0;
        s_bad = 0;
        long now = s_ms(), ticks = s_ticks;
        s_ticks = 0;
        struct itimerspec cur;
        if (timer_gettime(tick, &cur) < 0)
            s_fail("the periodic timer is gone; ");
        if (timer_gettime(once, &cur) < 0) {
            s_fail("the one-shot timer is gone; ");
        } else {
            long left = cur.it_value.tv_sec * 1000L + cur.it_value.tv_nsec / 1000000L;
            long want = 60000 - (now - armed);
            if (left <= 0 || labs(left - want) > 1500)
                s_fail("one-shot has %ld ms left, the wall clock says %ld; ", left, want);
        }
        long most = (now - last) / 100 + 2;
        if (ticks < 1 || ticks > most)
            s_fail("%ld ticks in %ld ms (at most %ld); ", ticks, now - last, most);
        if (s_bad_value)
            s_fail("%d signals with another value; ", (int)s_bad_value);
        last = now;
        if (s_bad)
            printf("check %d FAIL: %s\n", k, s_why);
        else
            printf("check %d ok (%ld ticks)\n", k, ticks);
        fflush(stdout);
        bad |= s_bad;
    }
    return bad ? 1 : 0;
}
