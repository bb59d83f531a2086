/* ssi_precheck: real child processes in each state that cannot migrate, and
 * one that can. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_image.h"
#include "ssi_precheck.h"

enum {
    PLAIN,
    THREADS,
    MANY_THREADS,
    SHARED,
    FILEFD,
    EVENTFD,
    DEVICE,
    PRIVATE_MAP,
    STDIO_FILES,
    TCP_LISTEN,
    UDP,
    UNIX_LISTEN,
    UNIX_DGRAM,
    TCP_CONNECTED,
    EPOLLFD,
    TWO_OBSTACLES,
    INOTIFY,
    TIMER_SIGNAL_FDS,
    SHARED_WITH_CHILD,
    TOO_MANY,
    MANY_PIPES,
    MANY_FILES,
    HIGH_FILE,
    MANY_DEVS,
    FD_LIMIT,
    PACKET
};

/* RLIMIT_NOFILE soft to n (within the hard limit); 0 if it could. */
static int s_nofile(rlim_t n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n))
        return -1;
    rl.rlim_cur = n;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

static void *s_sleeper(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

/* One thread more than a freeze stops (with the caller: 257), on small stacks. */
static void s_many_threads(void)
{
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    for (int i = 0; i < SSI_IMAGE_FREEZE_MAX_THREADS; i++)
        pthread_create(&t, &a, s_sleeper, NULL);
}

/* A child set up as asked, stopped in pause() once ready. */
static pid_t s_child(int kind)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Only what we set up: stdio on /dev/null, the pipe at 3. */
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        dup2(p[1], 3);
        syscall(SYS_close_range, 4u, ~0u, 0u);
        p[1] = 3;
        pthread_t t;
        switch (kind) {
        case THREADS: pthread_create(&t, NULL, s_sleeper, NULL); break;
        case MANY_THREADS: s_many_threads(); break;
        case SHARED:
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            break;
        case TOO_MANY: {
            /* More descriptors and mappings than an image holds. */
            struct rlimit rl = {8192, 8192};
            setrlimit(RLIMIT_NOFILE, &rl);
            for (int i = 0; i < 4200; i++)
                open("/dev/null", O_RDONLY);
            char *m = mmap(NULL, 8400 * 2 * 4096L, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            for (long i = 0; m != MAP_FAILED && i < 8400; i++)
                mprotect(m + i * 2 * 4096L, 4096, PROT_READ); /* one VMA each, not merged */
            break;
        }
        case SHARED_WITH_CHILD:
            /* A child that keeps mapping it, and dies with us. */
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            if (fork() == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                    pause();
            }
            break;
        case PRIVATE_MAP:
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            break;
        case FILEFD: open("/etc/hostname", O_RDONLY); break;
        case STDIO_FILES: {
            /* stdin a regular file, stdout a named FIFO at 4: tunnelled. */
            char fifo[] = "/tmp/ssi-precheck-fifo-XXXXXX";
            int f = open("/etc/hostname", O_RDONLY);
            dup2(f, 0);
            close(f);
            int tmp = mkstemp(fifo);
            if (tmp >= 0 && close(tmp) == 0 && unlink(fifo) == 0 && mkfifo(fifo, 0600) == 0) {
                open(fifo, O_RDWR);
                unlink(fifo);
            }
            break;
        }
        case EVENTFD: eventfd(0, 0); break;
        case INOTIFY: inotify_init1(0); break;
        case PACKET: socket(AF_PACKET, SOCK_RAW, 0); break;
        case TIMER_SIGNAL_FDS: {
            sigset_t m;
            sigemptyset(&m);
            sigaddset(&m, SIGUSR1);
            timerfd_create(CLOCK_MONOTONIC, 0);
            signalfd(-1, &m, 0);
            break;
        }
        case TWO_OBSTACLES:
            s_many_threads();
            inotify_init1(0);
            break;
        case EPOLLFD: epoll_create1(0); break;
        case TCP_LISTEN:
        case UDP:
        case TCP_CONNECTED: {
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            socklen_t al = sizeof a;
            int l = socket(AF_INET, kind == UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
            bind(l, (struct sockaddr *)&a, sizeof a);
            if (kind != UDP)
                listen(l, 1);
            if (kind == TCP_CONNECTED) {
                /* A connected pair (both ends here), the listener closed. */
                getsockname(l, (struct sockaddr *)&a, &al);
                int c = socket(AF_INET, SOCK_STREAM, 0);
                connect(c, (struct sockaddr *)&a, sizeof a);
                accept(l, NULL, NULL);
                close(l);
            }
            break;
        }
        case UNIX_LISTEN:
        case UNIX_DGRAM: {
            struct sockaddr_un a = {.sun_family = AF_UNIX};
            snprintf(a.sun_path, sizeof a.sun_path, "/tmp/ssi-precheck-%d.sock", (int)getpid());
            int l = socket(AF_UNIX, kind == UNIX_DGRAM ? SOCK_DGRAM : SOCK_STREAM, 0);
            unlink(a.sun_path);
            bind(l, (struct sockaddr *)&a, sizeof a);
            if (kind == UNIX_LISTEN)
                listen(l, 1);
            unlink(a.sun_path);
            break;
        }
        case MANY_PIPES: /* 130 pipes: 260 tunnels with 0-2 and the pipe at 3 */
            for (int i = 0; i < 130; i++) {
                int q[2];
                if (pipe(q) < 0)
                    _exit(1);
            }
            break;
        case MANY_FILES: /* 5,000 home files with room under the limit */
            if (s_nofile(8192) < 0)
                _exit(1);
            for (int i = 0; i < 5000; i++)
                if (open("/etc/hostname", O_RDONLY) < 0)
                    _exit(1);
            break;
        case HIGH_FILE: /* a file where the deputy would keep its own fds */
            if (s_nofile(1024) < 0)
                _exit(1);
            dup2(open("/etc/hostname", O_RDONLY), 1000);
            break;
        case MANY_DEVS:
            for (int i = 0; i < 20; i++)
                open("/dev/null", O_RDONLY);
            break;
        case FD_LIMIT: /* a descriptor number above what a move carries */
            if (s_nofile(70000) < 0)
                _exit(1);
            dup2(0, 65536);
            break;
        case DEVICE:
            if (open("/dev/full", O_RDONLY) < 0)
                open("/dev/kmsg", O_RDONLY);
            break;
        }
        /* Nothing else open but stdio and the pipe (which is tunnelled). */
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void s_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void s_expect(int kind, int err, const char *needle)
{
    char why[512] = "";
    pid_t pid = s_child(kind);
    int rc = ssi_deputy_check(pid, why, sizeof why);
    s_reap(pid);
    ck_assert_msg(rc == err, "kind %d: rc %d (%s)", kind, rc, why);
    if (needle)
        ck_assert_msg(strstr(why, needle) != NULL, "kind %d: '%s' lacks '%s'", kind, why, needle);
}

START_TEST(test_precheck_plain_process_may_move)
{
    s_expect(PLAIN, 0, NULL);
    s_expect(PRIVATE_MAP, 0, NULL);
}
END_TEST

START_TEST(test_precheck_stdio_files_and_fifos_may_move)
{
    s_expect(STDIO_FILES, 0, NULL);
}
END_TEST

/* Threads move (#11), up to what the freeze stops and the restorer makes. */
START_TEST(test_precheck_threads_may_move)
{
    s_expect(THREADS, 0, NULL);
}
END_TEST

START_TEST(test_precheck_refuses_more_threads_than_a_freeze_stops)
{
    s_expect(MANY_THREADS, -EBUSY, "257 threads; at most 256 can move");
}
END_TEST

/* Shared anonymous memory nobody else maps is private in all but name. */
START_TEST(test_precheck_shared_anon_alone_may_move)
{
    s_expect(SHARED, 0, NULL);
}
END_TEST

START_TEST(test_precheck_refuses_shared_anon_another_process_maps)
{
    s_expect(SHARED_WITH_CHILD, -EBUSY, "shares anonymous memory with process");
}
END_TEST

/* Open files and directories are forwarded by the vfs-proxy. */
START_TEST(test_precheck_open_files_may_move)
{
    s_expect(FILEFD, 0, NULL);
}
END_TEST

START_TEST(test_precheck_epoll_may_move)
{
    s_expect(EPOLLFD, 0, NULL); /* made again where it resumes (ssi_epoll.c) */
}
END_TEST

START_TEST(test_precheck_refuses_kernel_objects)
{
    s_expect(INOTIFY, -EBUSY, "inotify");
}
END_TEST

/* Made again with their state where the process resumes (ssi_kobj.c). */
START_TEST(test_precheck_eventfd_timerfd_signalfd_may_move)
{
    s_expect(EVENTFD, 0, NULL);
    s_expect(TIMER_SIGNAL_FDS, 0, NULL);
}
END_TEST

START_TEST(test_precheck_refuses_devices)
{
    if (access("/dev/full", R_OK) != 0 && access("/dev/kmsg", R_OK) != 0)
        return; /* neither device exists here */
    s_expect(DEVICE, -EBUSY, "device");
}
END_TEST

START_TEST(test_precheck_refuses_sockets_a_tunnel_cannot_carry)
{
    /* Listening stream sockets stay at home (netproxy): they may move. */
    s_expect(TCP_LISTEN, 0, NULL);
    s_expect(UDP, 0, NULL); /* datagram sockets too */
    s_expect(UNIX_LISTEN, 0, NULL);
    s_expect(UNIX_DGRAM, 0, NULL);
    s_expect(TCP_CONNECTED, 0, NULL);
}
END_TEST

/* A packet socket belongs to this node's interfaces: refused up front (zdtm's
 * packet_sock_mmap and packet_sock_spkt moved, then failed). */
START_TEST(test_precheck_refuses_packet_sockets)
{
    int s = socket(AF_PACKET, SOCK_RAW, 0);
    if (s < 0)
        return; /* no CAP_NET_RAW here: nothing to check */
    close(s);
    s_expect(PACKET, -EBUSY, "is a packet socket (AF_PACKET");
}
END_TEST

/* A refusal names every obstacle, not only the first found. */
START_TEST(test_precheck_names_every_obstacle)
{
    char why[512] = "";
    pid_t pid = s_child(TWO_OBSTACLES);
    int rc = ssi_deputy_check(pid, why, sizeof why);
    s_reap(pid);
    ck_assert_int_eq(rc, -EBUSY);
    ck_assert_msg(strstr(why, "257 threads") && strstr(why, "inotify") && strstr(why, "; "),
                  "both obstacles named: '%s'", why);
}
END_TEST

/* More mappings than the freeze's tables hold is refused up front (descriptors: FD_LIMIT). */
START_TEST(test_precheck_refuses_more_than_an_image_holds)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < 8192)
        return; /* cannot open that many here */
    s_expect(TOO_MANY, -EBUSY, "memory mappings; at most 8192");
}
END_TEST

/* Every limit that remains on a move is checked up front and named. */
START_TEST(test_precheck_names_each_limit)
{
    struct rlimit rl;
    s_expect(MANY_PIPES, -EBUSY, "at most 256 can be tunnelled");
    s_expect(MANY_DEVS, -EBUSY, "at most 16 can move");
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 8192)
        s_expect(MANY_FILES, 0, NULL); /* no small fixed limit on files */
    s_expect(HIGH_FILE, -EBUSY, "file open at fd 1000");
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 70000)
        s_expect(FD_LIMIT, -EBUSY, "below 65536");
}
END_TEST

START_TEST(test_precheck_missing_process)
{
    char why[256];
    pid_t pid = s_child(PLAIN);
    s_reap(pid);
    ck_assert_int_eq(ssi_deputy_check(pid, why, sizeof why), -ESRCH);
    ck_assert_msg(strstr(why, "does not exist"), "%s", why);
}
END_TEST

/* Placement's check: a shell imports fork and execve; sleep and cat import none of the
 * calls that make processes, programs or threads. */
static pid_t s_exec_child(const char *prog, const char *a1, const char *a2)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(prog, prog, a1, a2, (char *)NULL);
        _exit(127);
    }
    /* Until exec replaced our image, maps shows this test program. */
    for (int i = 0; i < 200; i++) {
        char exe[256] = "", link[64];
        snprintf(link, sizeof link, "/proc/%d/exe", pid);
        ssize_t n = readlink(link, exe, sizeof exe - 1);
        if (n > 0 && strstr(exe, "check_ssi") == NULL)
            break;
        usleep(10000);
    }
    return pid;
}

START_TEST(test_precheck_spawns_names_fork_imports)
{
    char what[512];
    pid_t sh = s_exec_child("/bin/sh", "-c", "sleep 5; :"); /* the shell waits */
    pid_t sl = s_exec_child("/bin/sleep", "5", NULL);
    int rc_sh = ssi_precheck_spawns(sh, what, sizeof what);
    char what_sh[512];
    snprintf(what_sh, sizeof what_sh, "%s", what);
    int rc_sl = ssi_precheck_spawns(sl, what, sizeof what);
    kill(sl, SIGKILL);
    kill(sh, SIGKILL);
    s_reap(sl);
    s_reap(sh);
    ck_assert_msg(rc_sh == 1, "sh: %d %s", rc_sh, what_sh);
    ck_assert_msg(strstr(what_sh, " calls "), "%s", what_sh);
    ck_assert_msg(rc_sl == 0, "sleep: %d %s", rc_sl, what);
    ck_assert_int_eq(ssi_precheck_spawns(sl, what, sizeof what), -ENOENT);
}
END_TEST

Suite *suite_precheck(void)
{
    Suite *s = suite_create("precheck");
    TCase *tc = tcase_create("proc");
    tcase_add_test(tc, test_precheck_plain_process_may_move);
    tcase_add_test(tc, test_precheck_stdio_files_and_fifos_may_move);
    tcase_add_test(tc, test_precheck_threads_may_move);
    tcase_add_test(tc, test_precheck_refuses_more_threads_than_a_freeze_stops);
    tcase_add_test(tc, test_precheck_shared_anon_alone_may_move);
    tcase_add_test(tc, test_precheck_refuses_shared_anon_another_process_maps);
    tcase_add_test(tc, test_precheck_open_files_may_move);
    tcase_add_test(tc, test_precheck_refuses_kernel_objects);
    tcase_add_test(tc, test_precheck_eventfd_timerfd_signalfd_may_move);
    tcase_add_test(tc, test_precheck_epoll_may_move);
    tcase_add_test(tc, test_precheck_refuses_devices);
    tcase_add_test(tc, test_precheck_refuses_sockets_a_tunnel_cannot_carry);
    tcase_add_test(tc, test_precheck_refuses_packet_sockets);
    tcase_add_test(tc, test_precheck_names_every_obstacle);
    tcase_add_test(tc, test_precheck_refuses_more_than_an_image_holds);
    tcase_add_test(tc, test_precheck_missing_process);
    tcase_add_test(tc, test_precheck_names_each_limit);
    tcase_add_test(tc, test_precheck_spawns_names_fork_imports);
    suite_add_tcase(s, tc);
    return s;
}
