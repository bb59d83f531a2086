/*
 * sleeper.c - one sleep, not retried: a freeze must be invisible to it.
 *
 *   sleeper SECONDS [rel|abs]
 *
 * rel (default): one nanosleep(SECONDS, &rem); abs: one clock_nanosleep
 * (CLOCK_REALTIME, TIMER_ABSTIME) to now + SECONDS. Prints what the call
 * returned and how long it took (CLOCK_REALTIME, which every node shares),
 * "sleeper rc=R errno=E elapsed_ms=MS", and exits 0 if the call returned
 * 0, 1 otherwise. A move in the middle must change neither.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 5, rc;
    int abs_mode = argc > 2 && strcmp(argv[2], "abs") == 0;
    struct timespec req = {secs, 0}, rem = {0, 0};
    printf("sleeper start %s %d\n", abs_mode ? "abs" : "rel", secs);
    fflush(stdout);
    long t0 = s_ms();
    if (abs_mode) {
        clock_gettime(CLOCK_REALTIME, &req);
        req.tv_sec += secs;
        rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &req, NULL);
        errno = rc;
        rc = rc ? -1 : 0;
    } else {
        rc = nanosleep(&req, &rem);
    }
    int e = rc ? errno : 0;
    printf("sleeper rc=%d errno=%d elapsed_ms=%ld\n", rc, e, s_ms() - t0);
    return rc ? 1 : 0;
}
