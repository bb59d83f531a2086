/*
 * seqpk.c - Unix seqpacket sockets that a move must carry (issue #17):
 * message boundaries, queued messages, a peer's end.
 *
 *   seqpk CHECKS
 *
 * Holds, at fixed numbers: fds 10 and 11, the two ends of a
 * socketpair(AF_UNIX, SOCK_SEQPACKET); fd 12, one end of another pair
 * whose other end a child holds (forked at the start: it stays at home).
 * fds 13 and 14, a third pair: a thread waits in recv on fd 14, from the
 * end of the check before the last (away, in the test) through the
 * homecoming, for the message the last check sends on fd 13. (Not from
 * the start, and nothing else is done away once it waits: away, a thread
 * waiting in a trapped call holds the trap's lock and the other threads'
 * trapped calls, a printf too, wait for it; see #11.)
 * fd 15, a listening seqpacket socket (abstract name): on "connect" the
 * child connects, sends "hello conn" and 2000 bytes, answers "ack" with
 * "bye conn" and closes; every check but the last accepts and checks that.
 * The child answers each message "ping N" with "pong N" and a message of
 * N*1000+1 bytes; on "bye" it closes its end and exits.
 * Prints "seqpk ready", then on each SIGUSR2 runs check K and prints
 * "check K ok" or "check K FAIL: what"; exits after CHECKS checks (status
 * 0 if each passed). Check K:
 *   - check 1 reads, on fd 11, the two messages check 0 left queued there
 *     (in the home socket while the process moved): "left 0" then 5 bytes;
 *   - sends 1, 3000 and 100 bytes on fd 10 and reads each whole on fd 11
 *     (recvmsg into a 64 KiB buffer: its own length, no MSG_TRUNC), the
 *     other way too; then a message of 50 bytes read into 20: 20 bytes
 *     and MSG_TRUNC in msg_flags, the rest gone; fd 11 then has nothing
 *     (EAGAIN with MSG_DONTWAIT);
 *   - ping K on fd 12, then pong K and the N*1000+1 bytes, each whole;
 *     on the check before the last, "bye" and then the end (recv returns
 *     0, twice); on the last, still the end;
 *   - the last check sends "late message" on fd 13; the thread must get it
 *     whole (a receive that waited through both moves);
 *   - check 0 leaves "left 0" and 5 bytes queued on fd 11 (the test moves
 *     the process away next). Not before a homecoming: messages taken
 *     from home that the program has not read make it wait (#17, not done).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t s_asked;
static char s_why[512];
static char s_buf[65536];

static void s_on_usr2(int sig)
{
    (void)sig;
    s_asked = 1;
}

__attribute__((format(printf, 1, 2))) static int s_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_why, sizeof(s_why), fmt, ap);
    va_end(ap);
    return -1;
}

static void s_fill(char *p, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(seed * 7 + i * 13);
}

/* Reads one message on fd (waiting up to 10 s) into s_buf (cap bytes): its
 * length, or -1 with the reason; *fl gets msg_flags. */
static long s_recv(int fd, size_t cap, int *fl)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct iovec v = {.iov_base = s_buf, .iov_len = cap};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    long n;
    if (poll(&p, 1, 10000) != 1)
        return s_fail("fd %d: nothing to read after 10 s", fd);
    n = recvmsg(fd, &m, 0);
    if (n < 0)
        return s_fail("fd %d: recvmsg: %s", fd, strerror(errno));
    *fl = m.msg_flags;
    return n;
}

/* Sends n bytes (seed) on a and expects them whole, as one message, on b. */
static int s_one(int a, int b, size_t n, int seed)
{
    static char want[65536];
    int fl = 0;
    long got;
    s_fill(want, n, seed);
    if (send(a, want, n, 0) != (long)n)
        return s_fail("send %zu bytes on fd %d: %s", n, a, strerror(errno));
    got = s_recv(b, sizeof(s_buf), &fl);
    if (got < 0)
        return -1;
    if (got != (long)n || (fl & MSG_TRUNC) || memcmp(s_buf, want, n))
        return s_fail("fd %d: a message of %ld bytes (flags %#x), %zu sent", b, got, fl, n);
    return 0;
}

/* The child connects to the listener at fd 15 (on "connect"): its
 * connection must come whole, both ways, then end. */
static int s_conn(int k)
{
    int fl = 0, c;
    long n;
    send(12, "connect", 7, 0);
    c = accept(15, NULL, NULL);
    if (c < 0)
        return s_fail("accept: %s", strerror(errno));
    n = s_recv(c, sizeof(s_buf), &fl);
    if (n != 10 || memcmp(s_buf, "hello conn", 10))
        return s_fail("connection %d: first message of %ld bytes", k, n);
    n = s_recv(c, sizeof(s_buf), &fl);
    if (n != 2000)
        return s_fail("connection %d: second message of %ld bytes, not 2000", k, n);
    send(c, "ack", 3, 0);
    n = s_recv(c, sizeof(s_buf), &fl);
    if (n != 8 || memcmp(s_buf, "bye conn", 8))
        return s_fail("connection %d: answer of %ld bytes, not 'bye conn'", k, n);
    n = s_recv(c, sizeof(s_buf), &fl);
    if (n != 0)
        return s_fail("connection %d: %ld after the peer closed, not the end", k, n);
    close(c);
    return 0;
}

static pthread_t s_thr;
static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cv = PTHREAD_COND_INITIALIZER;
static int s_go;
static volatile long s_late_n = -2;
static char s_late[64];

static int s_check(int k, int checks)
{
    char want[64];
    int fl = 0;
    long n;
    if (k == 1) {
        snprintf(want, sizeof(want), "left %d", k - 1);
        n = s_recv(11, sizeof(s_buf), &fl);
        if (n < 0)
            return -1;
        if (n != (long)strlen(want) || memcmp(s_buf, want, n))
            return s_fail("queued message: %ld bytes '%.*s', not '%s'", n, (int)(n > 0 ? n : 0),
                          s_buf, want);
        n = s_recv(11, sizeof(s_buf), &fl);
        if (n < 0)
            return -1;
        if (n != (k - 1) * 700 + 5)
            return s_fail("second queued message: %ld bytes, not %d", n, (k - 1) * 700 + 5);
    }
    if (s_one(10, 11, 1, k) || s_one(10, 11, 3000, k + 1) || s_one(10, 11, 100, k + 2) ||
        s_one(11, 10, 2000, k + 3) || s_one(11, 10, 7, k + 4))
        return -1;
    s_fill(want, 50, k);
    send(10, want, 50, 0);
    n = s_recv(11, 20, &fl);
    if (n != 20 || !(fl & MSG_TRUNC))
        return s_fail("50 bytes read into 20: %ld, flags %#x", n, fl);
    if (recv(11, s_buf, sizeof(s_buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
        return s_fail("fd 11 should be empty after a truncated read");
    if (k < checks - 1) {
        snprintf(want, sizeof(want), "ping %d", k);
        send(12, want, strlen(want), 0);
        snprintf(want, sizeof(want), "pong %d", k);
        n = s_recv(12, sizeof(s_buf), &fl);
        if (n != (long)strlen(want) || memcmp(s_buf, want, n))
            return s_fail("fd 12: %ld bytes, not '%s'", n, want);
        n = s_recv(12, sizeof(s_buf), &fl);
        if (n != k * 1000 + 1)
            return s_fail("fd 12: %ld bytes, not %d", n, k * 1000 + 1);
    }
    if (k < checks - 1 && s_conn(k))
        return -1;
    if (k == checks - 2)
        send(12, "bye", 3, 0);
    if (k >= checks - 2)
        for (int i = 0; i < 2; i++)
            if ((n = s_recv(12, sizeof(s_buf), &fl)) != 0)
                return s_fail("fd 12 after bye: %ld, not the end", n);
    if (k == checks - 1) {
        void *ret;
        send(13, "late message", 12, 0);
        pthread_join(s_thr, &ret);
        if (s_late_n != 12 || memcmp(s_late, "late message", 12))
            return s_fail("the waiting thread got %ld bytes '%.*s', not 'late message'", s_late_n,
                          (int)(s_late_n > 0 ? s_late_n : 0), s_late);
    }
    if (k == 0) {
        snprintf(want, sizeof(want), "left %d", k);
        send(10, want, strlen(want), 0);
        s_fill(s_buf, k * 700 + 5, k);
        send(10, s_buf, k * 700 + 5, 0);
    }
    return 0;
}

static void *s_waiter(void *arg)
{
    sigset_t all;
    (void)arg;
    sigemptyset(&all);
    sigaddset(&all, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* SIGUSR2 is the main thread's */
    pthread_mutex_lock(&s_mu);
    while (!s_go)
        pthread_cond_wait(&s_cv, &s_mu);
    pthread_mutex_unlock(&s_mu);
    s_late_n = recv(14, s_late, sizeof(s_late), 0);
    if (s_late_n < 0)
        s_late_n = -errno;
    return NULL;
}

static struct sockaddr_un s_addr;

static void s_child_connect(void)
{
    char b[16];
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&s_addr, sizeof(s_addr)) < 0)
        _exit(3);
    send(c, "hello conn", 10, 0);
    s_fill(s_buf, 2000, 9);
    send(c, s_buf, 2000, 0);
    if (recv(c, b, sizeof(b), 0) == 3)
        send(c, "bye conn", 8, 0);
    close(c);
}

static void s_child(int fd)
{
    char b[64];
    for (;;) {
        long n = recv(fd, b, sizeof(b) - 1, 0);
        int k;
        if (n <= 0 || (n == 3 && !memcmp(b, "bye", 3)))
            break;
        if (n == 7 && !memcmp(b, "connect", 7)) {
            s_child_connect();
            continue;
        }
        b[n] = 0;
        if (sscanf(b, "ping %d", &k) != 1)
            break;
        snprintf(b, sizeof(b), "pong %d", k);
        send(fd, b, strlen(b), 0);
        s_fill(s_buf, k * 1000 + 1, k);
        send(fd, s_buf, k * 1000 + 1, 0);
    }
    close(fd);
    _exit(0);
}

int main(int argc, char **argv)
{
    int checks = argc > 1 ? atoi(argv[1]) : 3, bad = 0, sv[2], cv[2], lv[2];
    struct sigaction sa;
    pid_t pid;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (checks < 2)
        checks = 2;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET, 0, cv) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET, 0, lv) < 0) {
        perror("socketpair");
        return 1;
    }
    if (dup2(sv[0], 10) < 0 || dup2(sv[1], 11) < 0 || dup2(cv[0], 12) < 0 || dup2(lv[0], 13) < 0 ||
        dup2(lv[1], 14) < 0) {
        perror("dup2");
        return 1;
    }
    close(sv[0]);
    close(sv[1]);
    s_addr.sun_family = AF_UNIX;
    snprintf(s_addr.sun_path + 1, sizeof(s_addr.sun_path) - 1, "ssi-seqpk-%d", (int)getpid());
    {
        int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        if (l < 0 || bind(l, (struct sockaddr *)&s_addr, sizeof(s_addr)) < 0 || listen(l, 4) < 0 ||
            dup2(l, 15) < 0) {
            perror("listener");
            return 1;
        }
        close(l);
    }
    close(cv[0]);
    close(lv[0]);
    close(lv[1]);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(10);
        close(11);
        close(12);
        close(13);
        close(14);
        close(15);
        s_child(cv[1]);
    }
    close(cv[1]);
    if (pthread_create(&s_thr, NULL, s_waiter, NULL)) {
        perror("pthread_create");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    printf("seqpk ready\n");
    for (int k = 0; k < checks; k++) {
        while (!s_asked) /* (not pause(): the handler may run on the other thread) */
            usleep(20000);
        s_asked = 0;
        s_why[0] = 0;
        if (s_check(k, checks) == 0)
            printf("check %d ok\n", k);
        else {
            printf("check %d FAIL: %s\n", k, s_why);
            bad = 1;
        }
        if (k == checks - 2) { /* after its line: see above */
            pthread_mutex_lock(&s_mu);
            s_go = 1;
            pthread_cond_signal(&s_cv);
            pthread_mutex_unlock(&s_mu);
        }
    }
    return bad;
}
