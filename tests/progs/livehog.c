/*
 * livehog.c - test program for live (pre-copy) moves.
 *
 *   livehog MIB HOT_MIB RATE [TICK]
 *
 * Holds MIB MiB of memory in which every page carries a pattern made of
 * its number and its generation; a table on the heap holds each page's
 * generation. It rewrites pages of the first HOT_MIB MiB, one whole page
 * at a time and round-robin, at RATE MB/s (0: never; -1: as fast as it
 * can), each time with the next generation. So at any moment between two
 * page writes every page must match its generation: a page that a move
 * delivered stale (an old copy sent before a later write) no longer does.
 *
 * SIGUSR1: check every page and print "livehog verify ok pages=N
 * writes=W" or "livehog verify FAIL page P ..."; SIGUSR2: the same, then
 * exit 0 (ok) or 1. It also checks by itself, before it writes again,
 * whenever it finds that it did not run for more than 50 ms (a move froze
 * it): a writer fast enough rewrites a stale page before any signal would
 * ask ("livehog verify ok ... after a gap of N ms"); not with TICK=2 (a
 * benchmark that measures gaps: the check would widen the next one). TICK=1: print "t USEC" (CLOCK_REALTIME) every
 * millisecond, so that the largest gap between lines shows how long a move
 * froze it. It prints "livehog ready PID" once the memory is written.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define WORDS (PAGE / 8)

static volatile sig_atomic_t s_verify, s_exit;
static uint64_t *s_mem;
static uint32_t *s_gen;
static uint64_t s_pages;

static void s_on_sig(int sig)
{
    if (sig == SIGUSR2)
        s_exit = 1;
    s_verify = 1;
}

static uint64_t s_word(uint64_t p, uint32_t gen, uint64_t i)
{
    uint64_t x = ((p << 32) | gen) * 0x9E3779B97F4A7C15ULL;
    return x ^ ((i + 1) * 0xD6E8FEB86659FD93ULL);
}

static void s_fill(uint64_t p)
{
    uint64_t *w = s_mem + p * WORDS;
    for (uint64_t i = 0; i < WORDS; i++)
        w[i] = s_word(p, s_gen[p], i);
}

/* 0, or 1 after printing the first page that does not match. */
static int s_check(void)
{
    for (uint64_t p = 0; p < s_pages; p++) {
        const uint64_t *w = s_mem + p * WORDS;
        for (uint64_t i = 0; i < WORDS; i++)
            if (w[i] != s_word(p, s_gen[p], i)) {
                printf("livehog verify FAIL page %llu word %llu gen %u\n", (unsigned long long)p,
                       (unsigned long long)i, s_gen[p]);
                fflush(stdout);
                return 1;
            }
    }
    return 0;
}

static uint64_t s_usec(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    uint64_t mib, hot, cursor = 0, writes = 0;
    double rate, due = 0;
    int tick;
    struct timespec next;
    if (argc < 4) {
        fprintf(stderr, "usage: livehog MIB HOT_MIB RATE_MBPS [TICK]\n");
        return 2;
    }
    mib = strtoull(argv[1], NULL, 10);
    hot = strtoull(argv[2], NULL, 10);
    rate = atof(argv[3]);
    tick = argc > 4 && atoi(argv[4]);
    if (!mib || hot > mib) {
        fprintf(stderr, "livehog: bad sizes\n");
        return 2;
    }
    s_pages = mib * 1048576 / PAGE;
    hot = hot * 1048576 / PAGE;
    s_mem = mmap(NULL, s_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    s_gen = calloc(s_pages, sizeof(*s_gen));
    if (s_mem == MAP_FAILED || !s_gen) {
        perror("livehog");
        return 2;
    }
    for (uint64_t p = 0; p < s_pages; p++)
        s_fill(p);
    signal(SIGUSR1, s_on_sig);
    signal(SIGUSR2, s_on_sig);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("livehog ready %d\n", (int)getpid());
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t last = s_usec(CLOCK_MONOTONIC);
    for (;;) {
        uint64_t now = s_usec(CLOCK_MONOTONIC);
        if (now - last > 50000 && tick != 2) {
            if (!s_check())
                printf("livehog verify ok pages=%llu writes=%llu after a gap of %llu ms\n",
                       (unsigned long long)s_pages, (unsigned long long)writes,
                       (unsigned long long)(now - last) / 1000);
            clock_gettime(CLOCK_MONOTONIC, &next);
            now = s_usec(CLOCK_MONOTONIC);
        }
        last = now;
        if (s_verify) {
            int bad = s_check();
            s_verify = 0;
            if (!bad)
                printf("livehog verify ok pages=%llu writes=%llu\n", (unsigned long long)s_pages,
                       (unsigned long long)writes);
            if (s_exit)
                return bad;
        }
        if (rate < 0) {
            /* As fast as it can: a page at a time, a tick now and then. */
            for (int k = 0; k < 64 && hot; k++) {
                uint64_t p = cursor++ % hot;
                s_gen[p]++;
                s_fill(p);
                writes++;
            }
            if (tick)
                printf("t %llu\n", (unsigned long long)s_usec(CLOCK_REALTIME));
            continue;
        }
        due += rate * 1e6 / 1000.0; /* bytes per millisecond */
        while (hot && due >= PAGE) {
            uint64_t p = cursor++ % hot;
            s_gen[p]++;
            s_fill(p);
            writes++;
            due -= PAGE;
        }
        if (tick)
            printf("t %llu\n", (unsigned long long)s_usec(CLOCK_REALTIME));
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}
