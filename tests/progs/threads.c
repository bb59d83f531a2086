/*
 * threads.c - a multi-threaded test body for the migration of threads.
 *
 *   threads ITERS INTERVAL_MS
 *
 * Eight threads besides main: three producers and three consumers on a
 * queue of four slots (a mutex and two condition variables: most of them
 * wait on a condvar at any moment), a counter contending with main on a
 * robust mutex, and a sleeper that sleeps 100 ms at a time with nanosleep
 * and checks it never comes back early or with EINTR. Each thread keeps its own state and checks it
 * on every round: its tid (gettid, against the one it had at start), its
 * name, its signal mask, its altstack (the sleeper has one), the pid. Main
 * prints "threads pid=P ppid=Q iter=N ... host=H" every INTERVAL_MS, ITERS
 * times (H: the host names seen by a thread made for that round and by the
 * sleeper, made at the start),
 * then stops everyone and checks the results: every item produced was
 * consumed exactly once (sums and counts), the counters' total equals the
 * sum of their own counts, the sleeper slept as long as it asked. Any
 * difference prints a line with MISMATCH; the last line is
 * "threads done ok" or "threads done MISMATCH".
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define NPROD 3
#define NCONS 3
#define NCOUNT 1
#define NTHREADS (NPROD + NCONS + NCOUNT + 1)
#define QLEN 4

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static uint64_t q_items[QLEN];
static int q_head, q_count, q_producers_left = NPROD;

static pthread_mutex_t c_lock; /* robust: on the thread's robust list */
static uint64_t c_total;

static atomic_int stop;
static atomic_int mismatches;
static pid_t tids[NTHREADS];
static uint64_t produced_sum[NPROD], produced_n[NPROD], consumed_sum[NCONS], consumed_n[NCONS];
static uint64_t counted[NCOUNT];
static uint64_t slept_ns, asked_ns;
static char sleeper_host[65];

static void mismatch(const char *what, long a, long b)
{
    printf("MISMATCH %s: %ld != %ld\n", what, a, b);
    fflush(stdout);
    atomic_fetch_add(&mismatches, 1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A thread's own state, set at its start and checked on every round. */
static void self_setup(int i)
{
    char name[16];
    sigset_t m;
    tids[i] = gettid();
    snprintf(name, sizeof(name), "worker-%d", i);
    pthread_setname_np(pthread_self(), name);
    /* Each thread its own mask: SIGRTMIN+1+i blocked. */
    sigemptyset(&m);
    sigaddset(&m, SIGRTMIN + 1 + i);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
}

static void self_check(int i, pid_t pid)
{
    char name[16], want[16];
    sigset_t m;
    if (gettid() != tids[i])
        mismatch("tid", gettid(), tids[i]);
    if (getpid() != pid)
        mismatch("pid", getpid(), pid);
    snprintf(want, sizeof(want), "worker-%d", i);
    prctl(PR_GET_NAME, name);
    if (strcmp(name, want) != 0)
        mismatch("thread name", 0, i);
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    for (int k = 0; k < NTHREADS; k++)
        if (sigismember(&m, SIGRTMIN + 1 + k) != (k == i))
            mismatch("signal mask", k, i);
}

static void *producer(void *arg)
{
    int i = (int)(intptr_t)arg;
    pid_t pid = getpid();
    uint64_t v = (uint64_t)i * 1000000;
    self_setup(i);
    while (!atomic_load(&stop)) {
        self_check(i, pid);
        pthread_mutex_lock(&q_lock);
        while (q_count == QLEN)
            pthread_cond_wait(&q_not_full, &q_lock);
        q_items[(q_head + q_count) % QLEN] = ++v;
        q_count++;
        produced_sum[i] += v;
        produced_n[i]++;
        pthread_cond_signal(&q_not_empty);
        pthread_mutex_unlock(&q_lock);
        if (v % 7 == 0)
            usleep(500);
    }
    pthread_mutex_lock(&q_lock);
    q_producers_left--;
    pthread_cond_broadcast(&q_not_empty);
    pthread_mutex_unlock(&q_lock);
    self_check(i, pid);
    return NULL;
}

static void *consumer(void *arg)
{
    int i = (int)(intptr_t)arg, c = i - NPROD;
    pid_t pid = getpid();
    self_setup(i);
    for (;;) {
        self_check(i, pid);
        pthread_mutex_lock(&q_lock);
        while (q_count == 0 && q_producers_left > 0)
            pthread_cond_wait(&q_not_empty, &q_lock);
        if (q_count == 0) {
            pthread_mutex_unlock(&q_lock);
            break;
        }
        uint64_t v = q_items[q_head];
        q_head = (q_head + 1) % QLEN;
        q_count--;
        consumed_sum[c] += v;
        consumed_n[c]++;
        pthread_cond_signal(&q_not_full);
        pthread_mutex_unlock(&q_lock);
        /* Slow consumers: producers mostly wait on q_not_full. */
        if (consumed_n[c] % 3 == 0)
            usleep(1000);
    }
    self_check(i, pid);
    return NULL;
}

static void *counter(void *arg)
{
    int i = (int)(intptr_t)arg, c = i - NPROD - NCONS;
    pid_t pid = getpid();
    self_setup(i);
    while (!atomic_load(&stop)) {
        self_check(i, pid);
        for (int k = 0; k < 1000; k++) {
            int rc = pthread_mutex_lock(&c_lock);
            if (rc == EOWNERDEAD) {
                mismatch("robust mutex owner died", rc, 0);
                pthread_mutex_consistent(&c_lock);
            }
            c_total++;
            counted[c]++;
            pthread_mutex_unlock(&c_lock);
        }
        /* Contend with main, which takes c_lock too. */
        usleep(200);
    }
    self_check(i, pid);
    return NULL;
}

static void *sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    pid_t pid = getpid();
    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)}, got;
    self_setup(i);
    sigaltstack(&ss, NULL);
    while (!atomic_load(&stop)) {
        struct timespec req = {0, 100000000}, rem;
        uint64_t t0 = now_ns();
        self_check(i, pid);
        sigaltstack(NULL, &got);
        if (got.ss_sp != altstack || got.ss_size != sizeof(altstack))
            mismatch("altstack", (long)got.ss_sp, (long)altstack);
        struct utsname u;
        if (uname(&u) == 0) /* away: home's name, if this thread traps */
            memcpy(sleeper_host, u.nodename, sizeof(sleeper_host) - 1);
        if (nanosleep(&req, &rem) != 0)
            mismatch("nanosleep returned early, errno", errno, 0);
        slept_ns += now_ns() - t0;
        asked_ns += 100000000;
    }
    return NULL;
}

/* A thread made this round (away too, if the process has moved): what it
 * sees as the host name (away, the trap answers with home's). */
static char helper_host[65];
static void *helper(void *arg)
{
    struct utsname u;
    (void)arg;
    if (uname(&u) == 0)
        snprintf(helper_host, sizeof(helper_host), "%s", u.nodename);
    return NULL;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20, interval = argc > 2 ? atoi(argv[2]) : 100;
    pthread_t th[NTHREADS];
    pthread_mutexattr_t ma;
    pid_t pid = getpid();
    int i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&c_lock, &ma);
    for (i = 0; i < NTHREADS; i++) {
        void *(*fn)(void *) = i < NPROD                    ? producer
                              : i < NPROD + NCONS          ? consumer
                              : i < NPROD + NCONS + NCOUNT ? counter
                                                           : sleeper;
        if (pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i) != 0) {
            perror("pthread_create");
            return 2;
        }
    }
    for (int it = 1; it <= iters; it++) {
        struct timespec req = {interval / 1000, (interval % 1000) * 1000000L};
        while (nanosleep(&req, &req) != 0 && errno == EINTR)
            ;
        /* Main holds the counters' lock for a moment each round. */
        pthread_mutex_lock(&c_lock);
        uint64_t total = c_total;
        pthread_mutex_unlock(&c_lock);
        if (getpid() != pid)
            mismatch("main pid", getpid(), pid);
        if (gettid() != pid)
            mismatch("main tid", gettid(), pid);
        pthread_t h;
        helper_host[0] = 0;
        if (pthread_create(&h, NULL, helper, NULL) != 0 || pthread_join(h, NULL) != 0)
            mismatch("a new thread", it, 0);
        printf("threads pid=%d ppid=%d iter=%d tids=%d..%d counted=%llu host=%s/%s\n", getpid(),
               getppid(), it, tids[0], tids[NTHREADS - 1], (unsigned long long)total, helper_host,
               sleeper_host);
    }
    atomic_store(&stop, 1);
    for (i = 0; i < NTHREADS; i++) {
        /* pthread_join waits on the tid word the kernel clears at the
         * thread's exit (clear_child_tid): it must be the restored one. */
        if (pthread_kill(th[i], 0) != 0 && pthread_kill(th[i], 0) != ESRCH)
            mismatch("pthread_kill", i, 0);
        pthread_join(th[i], NULL);
    }
    uint64_t ps = 0, pn = 0, cs = 0, cn = 0, ct = 0;
    for (i = 0; i < NPROD; i++)
        ps += produced_sum[i], pn += produced_n[i];
    for (i = 0; i < NCONS; i++)
        cs += consumed_sum[i], cn += consumed_n[i];
    for (i = 0; i < NCOUNT; i++)
        ct += counted[i];
    if (ps != cs)
        mismatch("sum consumed vs produced", (long)cs, (long)ps);
    if (pn != cn)
        mismatch("items consumed vs produced", (long)cn, (long)pn);
    if (ct != c_total)
        mismatch("counter total", (long)c_total, (long)ct);
    if (slept_ns < asked_ns)
        mismatch("slept less than asked (ms)", (long)(slept_ns / 1000000),
                 (long)(asked_ns / 1000000));
    printf("threads items=%llu counted=%llu slept_ms=%llu\n", (unsigned long long)pn,
           (unsigned long long)ct, (unsigned long long)(slept_ns / 1000000));
    printf("threads done %s\n", atomic_load(&mismatches) ? "MISMATCH" : "ok");
    return atomic_load(&mismatches) ? 1 : 0;
}
