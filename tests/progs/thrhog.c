/*
 * thrhog.c - a body for tests/bench/threads.sh: the same resident memory
 * with any number of threads.
 *
 *   thrhog NTHREADS MIB
 *
 * Main fills MIB MiB with a non-zero pattern and starts NTHREADS-1 more
 * threads, each of which loops over a small sum and a 1 ms nanosleep (so
 * that a freeze finds them running or asleep). Main then prints "ready"
 * and a line "tick N" every 2 ms, so that a restore is seen by the next
 * line; after TICKS (default 100000) lines it checks the memory and exits.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint64_t sink;

static void *worker(void *arg)
{
    struct timespec ms = {0, 1000000};
    uint64_t s = (uint64_t)(uintptr_t)arg;
    for (;;) {
        for (int i = 0; i < 10000; i++)
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        sink = s;
        nanosleep(&ms, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 64, len = mib << 20;
    unsigned char *m = malloc(len);
    struct timespec tick = {0, 2000000};
    pthread_t t;
    if (!m || n < 1)
        return 2;
    for (size_t i = 0; i < len; i++)
        m[i] = (unsigned char)(i * 131 + 7) | 1;
    for (int i = 1; i < n; i++)
        if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)i) != 0)
            return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready threads=%d mib=%zu\n", n, mib);
    for (long k = 1; k <= 100000; k++) {
        nanosleep(&tick, NULL);
        printf("tick %ld\n", k);
    }
    for (size_t i = 0; i < len; i++)
        if (m[i] != ((unsigned char)(i * 131 + 7) | 1)) {
            printf("thrhog MISMATCH at %zu\n", i);
            return 1;
        }
    return 0;
}
