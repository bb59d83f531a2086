/* chan_bench: raw loopback TCP against ssi_chan over the same sockets, in
 * one run with the two alternating, so that both see the same machine noise.
 *
 *   chan_bench [REPS] [MIB]      (defaults 3 and 1024; chan.sh runs 2)
 *   chan_bench serve ADDR PORT   (one ssi_chan peer for "path", in another
 *                                 host's network namespace; CHAN_BENCH_POLL=1:
 *                                 it waits in ppoll before each read, as the
 *                                 deputy does)
 *   chan_bench path ADDR PORT [MIB [REC]]  (the same round trips and stream,
 *                                 both ways, over a real path: a lab's veths;
 *                                 REC: the server streams in records of REC
 *                                 bytes, as a tunnel sends its DATA frames)
 *
 * Throughput: MIB MiB one way, receiver timed from the first byte to the
 * last, into a freshly mmap'd buffer (as a restore writes) and into a buffer
 * written before (reused). Latency: 64-byte round trips with both processes
 * pinned, on the same CPU and on different CPUs. Every figure is the median
 * over REPS runs; ratios are chan time / raw time (> 1: the channel is
 * slower). CHAN_BENCH_PIN=1 pins the throughput sender to CPU 1 and the
 * receiver to CPU 0 (default: unpinned, as ssid runs). */
#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ssi_chan.h"

#define CHUNK (1u << 20)
#define RTT_N 4000
#define RTT_WARM 300

static ssi_chan_t ch; /* one per process: the bench forks */
static const uint8_t key[SSI_CHAN_KEY_BYTES] = {1, 2, 3};

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void s_die(const char *what, int err)
{
    fprintf(stderr, "chan_bench: %s: %s\n", what, strerror(-err));
    exit(1);
}

static void s_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (cpu >= 0 && sched_setaffinity(0, sizeof set, &set) < 0)
        s_die("sched_setaffinity", -errno);
}

static void s_unpin(void)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE; i++)
        CPU_SET(i, &all);
    sched_setaffinity(0, sizeof all, &all);
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A connected pair: *srv in this process, and a forked child that runs
 * child_fn on its end and exits. */
static pid_t s_fork_pair(int *srv, void (*child_fn)(int fd, void *arg), void *arg)
{
    uint16_t port;
    int l = ssi_chan_listen("127.0.0.1", 0, &port);
    if (l < 0)
        s_die("listen", l);
    pid_t pid = fork();
    if (pid == 0) {
        close(l);
        int fd = ssi_chan_connect("127.0.0.1", port, 5000);
        if (fd < 0)
            s_die("connect", fd);
        child_fn(fd, arg);
        _exit(0);
    }
    *srv = ssi_chan_accept(l, 5000);
    if (*srv < 0)
        s_die("accept", *srv);
    close(l);
    return pid;
}

static void s_reap(pid_t pid)
{
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "chan_bench: child failed\n");
        exit(1);
    }
}

/* ---- throughput ---- */

typedef struct {
    int chan, inplace;
    size_t total;
    int cpu_tx, cpu_rx; /* -1: unpinned */
} s_tput_t;

static void s_sender(int fd, void *arg)
{
    s_tput_t *t = arg;
    static uint8_t src[CHUNK];
    s_pin(t->cpu_tx);
    memset(src, 0xa5, sizeof src);
    int r;
    if (t->chan && (r = ssi_chan_init(&ch, fd, key, SSI_CHAN_INITIATOR, 10000)) < 0)
        s_die("sender init", r);
    for (size_t off = 0; off < t->total; off += CHUNK) {
        if (!t->chan) {
            for (size_t o = 0; o < CHUNK;) {
                ssize_t n = send(fd, src + o, CHUNK - o, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    s_die("send", -errno);
                o += (size_t)n;
            }
        } else if ((r = t->inplace ? ssi_chan_write_inplace(&ch, src, CHUNK)
                                   : ssi_chan_write(&ch, src, CHUNK)) < 0)
            s_die("chan write", r);
    }
    if (t->chan) {
        uint8_t ack;
        ssi_chan_recv(&ch, &ack, 1); /* keep the socket until the end */
    } else {
        shutdown(fd, SHUT_WR);
        char c;
        (void)!read(fd, &c, 1);
    }
}

/* Seconds to receive t->total bytes into dst. */
static double s_tput(s_tput_t *t, uint8_t *dst)
{
    int fd, r;
    pid_t pid = s_fork_pair(&fd, s_sender, t);
    s_pin(t->cpu_rx);
    if (t->chan && (r = ssi_chan_init(&ch, fd, key, SSI_CHAN_RESPONDER, 10000)) < 0)
        s_die("receiver init", r);
    double t0 = 0;
    for (size_t off = 0; off < t->total; off += CHUNK) {
        if (!t->chan) {
            ssize_t n = recv(fd, dst + off, CHUNK, MSG_WAITALL);
            if (n != CHUNK)
                s_die("recv", n < 0 ? -errno : -EPIPE);
        } else if ((r = ssi_chan_read(&ch, dst + off, CHUNK)) < 0)
            s_die("chan read", r);
        if (off == 0)
            t0 = s_now(); /* from the first chunk: excludes fork and connect */
    }
    double dt = s_now() - t0;
    if (t->chan) {
        ssi_chan_send(&ch, "k", 1);
        ssi_chan_close(&ch);
    } else
        close(fd);
    s_reap(pid);
    s_unpin();
    return dt * t->total / (t->total - CHUNK); /* the first chunk was not timed */
}

/* ---- latency ---- */

typedef struct {
    int chan, cpu;
} s_rtt_t;

static void s_echo(int fd, void *arg)
{
    s_rtt_t *t = arg;
    uint8_t buf[64];
    int r;
    s_pin(t->cpu);
    if (t->chan && (r = ssi_chan_init(&ch, fd, key, SSI_CHAN_RESPONDER, 10000)) < 0)
        s_die("echo init", r);
    for (int i = 0; i < RTT_WARM + RTT_N; i++) {
        if (t->chan) {
            if ((r = (int)ssi_chan_recv(&ch, buf, sizeof buf)) != 64 ||
                (r = ssi_chan_send(&ch, buf, 64)) < 0)
                s_die("echo", r);
        } else if (recv(fd, buf, 64, MSG_WAITALL) != 64 || send(fd, buf, 64, 0) != 64)
            s_die("echo", -errno);
    }
}

/* Median and p99 of 64-byte round trips, in microseconds. */
static void s_rtt(int chan, int cpu_a, int cpu_b, double *med, double *p99)
{
    static double v[RTT_N];
    s_rtt_t t = {chan, cpu_b};
    int fd, r;
    s_pin(cpu_a);
    pid_t pid = s_fork_pair(&fd, s_echo, &t);
    if (chan && (r = ssi_chan_init(&ch, fd, key, SSI_CHAN_INITIATOR, 10000)) < 0)
        s_die("ping init", r);
    uint8_t buf[64] = {0};
    for (int i = 0; i < RTT_WARM + RTT_N; i++) {
        double t0 = s_now();
        if (chan) {
            if ((r = ssi_chan_send(&ch, buf, 64)) < 0 ||
                (r = (int)ssi_chan_recv(&ch, buf, sizeof buf)) != 64)
                s_die("ping", r);
        } else if (send(fd, buf, 64, 0) != 64 || recv(fd, buf, 64, MSG_WAITALL) != 64)
            s_die("ping", -errno);
        if (i >= RTT_WARM)
            v[i - RTT_WARM] = (s_now() - t0) * 1e6;
    }
    if (chan)
        ssi_chan_close(&ch);
    else
        close(fd);
    s_reap(pid);
    s_unpin();
    qsort(v, RTT_N, sizeof *v, s_cmp);
    *med = v[RTT_N / 2];
    *p99 = v[RTT_N * 99 / 100];
}

/* ---- a real path: two hosts (the lab's namespaces) ---- */

/* Requests of the path client: a 64-byte record is echoed; 'R' + u32 MiB
 * [+ u32 REC]: the server streams that many MiB (ssi_chan_write, 1 MiB each,
 * or one record of REC bytes each ssi_chan_send); 'W' +
 * u32 MiB: the client streams them, the server answers one byte. */
__attribute__((noreturn)) static void s_serve(const char *addr, int port)
{
    static uint8_t buf[CHUNK];
    uint16_t bound;
    int l = ssi_chan_listen(addr, (uint16_t)port, &bound), r, pp[2];
    int use_poll = getenv("CHAN_BENCH_POLL") != NULL;
    if (pipe(pp) < 0)
        s_die("pipe", -errno);
    if (l < 0)
        s_die("listen", l);
    printf("listening %u\n", bound);
    fflush(stdout);
    for (;;) {
        int fd = ssi_chan_accept(l, 0);
        if (fd < 0)
            s_die("accept", fd);
        if ((r = ssi_chan_init(&ch, fd, key, SSI_CHAN_RESPONDER, 10000)) < 0)
            s_die("serve init", r);
        ssi_chan_set_timeout(&ch, 0);
        for (;;) {
            ssize_t n;
            if (use_poll && !ssi_chan_pending(&ch)) {
                /* As the deputy waits: ppoll over its link, its self-pipe and
				 * the call link, then the read. */
                struct pollfd p[3] = {{ch.fd, POLLIN, 0}, {pp[0], POLLIN, 0}, {pp[1], 0, 0}};
                if (ppoll(p, 3, NULL, NULL) < 0 && errno != EINTR)
                    s_die("ppoll", -errno);
            }
            n = ssi_chan_recv(&ch, buf, sizeof buf);
            uint32_t mib;
            if (n <= 0)
                break;
            if (n == 5 || n == 9)
                memcpy(&mib, buf + 1, 4);
            if (n == 9 && buf[0] == 'R') {
                uint32_t rec;
                memcpy(&rec, buf + 5, 4);
                if (rec < 1 || rec > SSI_CHAN_MAX_RECORD || rec > CHUNK)
                    s_die("record size", -EINVAL);
                for (uint64_t left = (uint64_t)mib << 20; left;) {
                    size_t k = left < rec ? left : rec;
                    if ((r = ssi_chan_send(&ch, buf, k)) < 0)
                        s_die("serve send", r);
                    left -= k;
                }
            } else if (n == 5 && buf[0] == 'R') {
                for (uint32_t i = 0; i < mib; i++)
                    if ((r = ssi_chan_write(&ch, buf, CHUNK)) < 0)
                        s_die("serve write", r);
            } else if (n == 5 && buf[0] == 'W') {
                for (uint32_t i = 0; i < mib; i++)
                    if ((r = ssi_chan_read(&ch, buf, CHUNK)) < 0)
                        s_die("serve read", r);
                ssi_chan_send(&ch, buf, 1);
            } else if (n == 5 && buf[0] == 'P') {
                /* a 4 KiB answer: a forwarded 4 KiB pread's sizes */
                if ((r = ssi_chan_send(&ch, buf, mib)) < 0)
                    s_die("answer", r);
            } else if ((r = ssi_chan_send(&ch, buf, (size_t)n)) < 0)
                s_die("echo", r);
        }
        ssi_chan_close(&ch);
    }
}

/* The python figures of vfs_bench.py are means: compare like with like. */
static double s_mean(const double *v, int n)
{
    double t = 0;
    for (int i = 0; i < n; i++)
        t += v[i];
    return t / n;
}

static int s_path(const char *addr, int port, uint32_t mib, uint32_t rec)
{
    static uint8_t buf[CHUNK];
    static double v[RTT_N];
    uint8_t req[9];
    double t0, rd, wr;
    int r, fd = ssi_chan_connect(addr, (uint16_t)port, 5000);
    if (fd < 0)
        s_die("connect", fd);
    if ((r = ssi_chan_init(&ch, fd, key, SSI_CHAN_INITIATOR, 10000)) < 0)
        s_die("path init", r);
    for (int i = 0; i < RTT_WARM + RTT_N; i++) {
        t0 = s_now();
        if ((r = ssi_chan_send(&ch, buf, 64)) < 0 ||
            (r = (int)ssi_chan_recv(&ch, buf, sizeof buf)) != 64)
            s_die("ping", r);
        if (i >= RTT_WARM)
            v[i - RTT_WARM] = (s_now() - t0) * 1e6;
    }
    qsort(v, RTT_N, sizeof *v, s_cmp);
    printf("path_rtt64_us %.1f\npath_rtt64_p99_us %.1f\npath_rtt64_mean_us %.1f\n", v[RTT_N / 2],
           v[RTT_N * 99 / 100], s_mean(v, RTT_N));
    {
        uint32_t k = 4096 + 20; /* a 4 KiB pread's answer: header, length, data */
        req[0] = 'P';
        memcpy(req + 1, &k, 4);
        for (int i = 0; i < RTT_WARM + RTT_N; i++) {
            t0 = s_now();
            if ((r = ssi_chan_send(&ch, req, 5)) < 0 ||
                (r = (int)ssi_chan_recv(&ch, buf, sizeof buf)) != (int)k)
                s_die("ping 4k", r);
            if (i >= RTT_WARM)
                v[i - RTT_WARM] = (s_now() - t0) * 1e6;
        }
        qsort(v, RTT_N, sizeof *v, s_cmp);
        printf("path_rtt4k_us %.1f\npath_rtt4k_mean_us %.1f\n", v[RTT_N / 2], s_mean(v, RTT_N));
    }
    memcpy(req + 1, &mib, 4);
    memcpy(req + 5, &rec, 4);
    req[0] = 'R';
    t0 = s_now();
    if ((r = ssi_chan_send(&ch, req, rec ? 9 : 5)) < 0)
        s_die("R", r);
    if (rec) {
        for (uint64_t left = (uint64_t)mib << 20; left;) {
            ssize_t n = ssi_chan_recv(&ch, buf, sizeof buf);
            if (n <= 0 || (uint64_t)n > left)
                s_die("recv", n < 0 ? (int)n : -EPROTO);
            left -= (uint64_t)n;
        }
    } else {
        for (uint32_t i = 0; i < mib; i++)
            if ((r = ssi_chan_read(&ch, buf, CHUNK)) < 0)
                s_die("read", r);
    }
    rd = s_now() - t0;
    req[0] = 'W';
    t0 = s_now();
    if ((r = ssi_chan_send(&ch, req, 5)) < 0)
        s_die("W", r);
    for (uint32_t i = 0; i < mib; i++)
        if ((r = ssi_chan_write(&ch, buf, CHUNK)) < 0)
            s_die("write", r);
    if ((r = (int)ssi_chan_recv(&ch, buf, sizeof buf)) != 1)
        s_die("W ack", r);
    wr = s_now() - t0;
    ssi_chan_close(&ch);
    printf("path_from_server_MBps %.0f\npath_to_server_MBps %.0f\n", mib * (double)CHUNK / rd / 1e6,
           mib * (double)CHUNK / wr / 1e6);
    printf("path_from_server_MiBps %.0f\n", mib / rd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && (!strcmp(argv[1], "serve") || !strcmp(argv[1], "path"))) {
        if (sodium_init() < 0)
            s_die("sodium_init", -EIO);
        signal(SIGPIPE, SIG_IGN);
        if (!strcmp(argv[1], "serve"))
            s_serve(argv[2], atoi(argv[3]));
        return s_path(argv[2], atoi(argv[3]), argc > 4 ? (uint32_t)atoi(argv[4]) : 256,
                      argc > 5 ? (uint32_t)atoi(argv[5]) : 0);
    }

    int reps = argc > 1 ? atoi(argv[1]) : 3;
    size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024;
    if (reps < 1 || reps > 50 || mib < 2) {
        fprintf(stderr, "usage: chan_bench [REPS] [MIB]\n");
        return 2;
    }
    if (sodium_init() < 0)
        s_die("sodium_init", -EIO);
    signal(SIGPIPE, SIG_IGN);
    size_t total = mib << 20;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    /* Each row: raw, chan, chan in place; per rep, alternating. */
    enum { FRESH, REUSED, NTP };
    double tp[NTP][3][50];
    double rtt[2][2][2][50]; /* [same/diff][raw/chan][med/p99][rep] */
    uint8_t *reused = mmap(NULL, total, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (reused == MAP_FAILED)
        s_die("mmap", -errno);
    /* Not inherited by the forked senders: a copy-on-write mapping would make
	 * every page the receiver writes a fault and a copy, "reused" in name only
	 * (the bench measured that, not TCP, until 2026-11-23). */
    madvise(reused, total, MADV_DONTFORK);
    memset(reused, 1, total);
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < 3; k++) {
            s_tput_t t = {k > 0, k == 2, total, getenv("CHAN_BENCH_PIN") ? 1 : -1,
                          getenv("CHAN_BENCH_PIN") ? 0 : -1};
            uint8_t *fresh =
                mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (fresh == MAP_FAILED)
                s_die("mmap", -errno);
            madvise(fresh, total, MADV_DONTFORK);
            tp[FRESH][k][r] = s_tput(&t, fresh);
            munmap(fresh, total);
            tp[REUSED][k][r] = s_tput(&t, reused);
        }
        for (int d = 0; d < 2; d++)
            for (int c = 0; c < 2; c++)
                s_rtt(c, 0, d && ncpu > 1 ? 1 : 0, &rtt[d][c][0][r], &rtt[d][c][1][r]);
    }

    double gib = (double)total / (1u << 30);
    printf("ssi_chan vs raw loopback TCP: medians of %d runs, %zu MiB one way, "
           "64 B round trips x %d (%d CPUs, %s)\n",
           reps, mib, RTT_N, ncpu,
           crypto_aead_aes256gcm_is_available() ? "AES-256-GCM" : "XChaCha20-Poly1305");
    const char *tpname[NTP] = {"fresh buffer", "reused buffer"};
    for (int i = 0; i < NTP; i++) {
        double raw = s_median(tp[i][0], reps), chan = s_median(tp[i][1], reps),
               inpl = s_median(tp[i][2], reps);
        printf("throughput, %-14s raw %6.2f GiB/s  chan %6.2f GiB/s  ratio %.2f"
               "   (chan in place %6.2f GiB/s, ratio %.2f)\n",
               tpname[i], gib / raw, gib / chan, chan / raw, gib / inpl, inpl / raw);
    }
    const char *where[2] = {"same CPU", "two CPUs"};
    for (int d = 0; d < 2; d++) {
        double rm = s_median(rtt[d][0][0], reps), rp = s_median(rtt[d][0][1], reps);
        double cm = s_median(rtt[d][1][0], reps), cp = s_median(rtt[d][1][1], reps);
        printf("64 B round trip, %-9s raw %6.1f us (p99 %6.1f)  chan %6.1f us (p99 %6.1f)"
               "  ratio %.2f\n",
               where[d], rm, rp, cm, cp, cm / rm);
    }
    return 0;
}
