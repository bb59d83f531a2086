/*
 * escape.c - tries, once its body runs away, the ways out of the body that
 * the trap core's allow-list must close (tests/integ/confine_syscalls.sh):
 * io_uring, open_tree then openat, open_by_handle_at, inotify, bpf,
 * perf_event_open, an i386 open through int $0x80, an x32 open, raw
 * syscall instructions found in libssi.so's own text, calls aimed at
 * the agent (pid 1 of the body's PID namespace), /proc/self's links
 * into the file system (root, cwd) reached by path or directory fd, and,
 * through the raw syscall in libssi.so's text, the calls the shim does
 * make (openat of MARKER and of /proc/1/root..., a TCP connect to the
 * node's loopback port $ESCAPE_PORT), which only the body's sandbox
 * stops; and it lists the network interfaces it sees (netlink). MARKER is a
 * file that exists only on the node the body runs on: its bytes must never
 * be read.
 *
 *   escape PIDFILE GOFILE HOMEFILE MARKER [HANDLE]
 *     writes its pid to PIDFILE, waits for GOFILE (home's: moved by then),
 *     prints one line per attempt: "NAME rc=R errno=E", and "NAME read=N
 *     DATA" when it got a descriptor and read from it; then "done", and
 *     waits for HOMEFILE (brought home by then) and prints "home NETNS".
 *     HANDLE: MARKER's file handle in hex (from --handle, on that node).
 *   escape --handle PATH
 *     prints PATH's file handle (name_to_handle_at) in hex: "TYPE:HEX".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NR_IO_URING_SETUP 425
#define NR_OPEN_TREE 428
#define NR_BPF 321
#define NR_X32_BIT 0x40000000L

/* gadget_call(nr, a, b, c, g): runs the code at g (a "syscall; ret" in
 * libssi.so's text) with rax = nr, rdi = a, rsi = b, rdx = c. */
long gadget_call(long nr, long a, long b, long c, void *g);
__asm__(".text\n"
        ".globl gadget_call\n"
        ".type gadget_call,@function\n"
        "gadget_call:\n"
        "  mov %r8, %r11\n"
        "  mov %rdi, %rax\n"
        "  mov %rsi, %rdi\n"
        "  mov %rdx, %rsi\n"
        "  mov %rcx, %rdx\n"
        "  call *%r11\n"
        "  ret\n"
        ".size gadget_call, .-gadget_call\n");

static long int80(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static void say(const char *name, long rc, int err)
{
    printf("%s rc=%ld errno=%d\n", name, rc, rc < 0 ? err : 0);
    fflush(stdout);
}

/* A descriptor we should never have had: read what it gives and say so. */
static void leak(const char *name, int fd)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0)
        n = 0;
    buf[n] = 0;
    printf("%s read=%zd %s\n", name, n, buf);
    fflush(stdout);
    close(fd);
}

/* A descriptor from the gadget (or -errno): say so, and read it through
 * the gadget too. */
static void gadget_leak(const char *name, long fd, void *g)
{
    char buf[256];
    say(name, fd < 0 ? -1 : fd, (int)-fd);
    if (fd < 0)
        return;
    long n = gadget_call(SYS_read, fd, (long)buf, sizeof buf - 1, g);
    if (n < 0)
        n = 0;
    buf[n] = 0;
    for (long i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == 0)
            buf[i] = ' ';
    printf("%s read=%ld %s\n", name, n, buf);
    fflush(stdout);
    close((int)fd);
}

/* A "syscall; ret" in libssi.so's executable mapping, or NULL. */
static void *find_gadget(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    void *g = NULL;
    while (f && !g && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perm[8];
        if (!strstr(line, "libssi.so") || sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 ||
            perm[2] != 'x')
            continue;
        for (unsigned char *p = (unsigned char *)lo; p + 3 <= (unsigned char *)hi; p++)
            if (p[0] == 0x0f && p[1] == 0x05 && p[2] == 0xc3) {
                g = p;
                break;
            }
    }
    if (f)
        fclose(f);
    return g;
}

static int print_handle(const char *path)
{
    static uint64_t buf[(sizeof(struct file_handle) + 128) / 8];
    struct file_handle *h = (struct file_handle *)buf;
    const unsigned char *b = (const unsigned char *)(h + 1);
    int mnt;
    h->handle_bytes = 128;
    if (name_to_handle_at(AT_FDCWD, path, h, &mnt, 0) < 0) {
        perror("name_to_handle_at");
        return 1;
    }
    printf("%d:", h->handle_type);
    for (unsigned i = 0; i < h->handle_bytes; i++)
        printf("%02x", b[i]);
    printf("\n");
    return 0;
}

static void wait_for(const char *path)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    while (access(path, F_OK) != 0)
        nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--handle") == 0)
        return print_handle(argv[2]);
    if (argc < 5) {
        fprintf(stderr, "usage: escape PIDFILE GOFILE HOMEFILE MARKER [HANDLE]\n"
                        "       escape --handle PATH\n");
        return 2;
    }
    const char *marker = argv[4];
    const char *base = strrchr(marker, '/') ? strrchr(marker, '/') + 1 : marker;
    void *gadget = find_gadget();
    const char *port_env = getenv("ESCAPE_PORT");
    int port = port_env ? atoi(port_env) : 0;
    char path1[1200];
    /* The i386 ABI sees 32-bit pointers: the path and buffer in low memory. */
    char *low =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    snprintf(low, 1024, "%s", marker);

    FILE *pf = fopen(argv[1], "w");
    if (!pf)
        return 2;
    fprintf(pf, "%d\n", getpid());
    fclose(pf);
    wait_for(argv[2]);

    long rc;
    int fd;

    unsigned char params[120] = {0};
    rc = syscall(NR_IO_URING_SETUP, 4, params);
    say("io_uring_setup", rc, errno);
    if (rc >= 0)
        close((int)rc);

    rc = syscall(NR_OPEN_TREE, AT_FDCWD, "/tmp", 0);
    say("open_tree", rc, errno);
    if (rc >= 0) {
        fd = openat((int)rc, base, O_RDONLY);
        say("open_tree+openat", fd, errno);
        if (fd >= 0)
            leak("open_tree+openat", fd);
        close((int)rc);
    }

    if (argc > 5) {
        static uint64_t buf[(sizeof(struct file_handle) + 128) / 8];
        struct file_handle *h = (struct file_handle *)buf;
        unsigned char *b = (unsigned char *)(h + 1);
        const char *hex = strchr(argv[5], ':');
        unsigned n = 0;
        h->handle_type = atoi(argv[5]);
        for (hex = hex ? hex + 1 : ""; hex[0] && hex[1] && n < 128; hex += 2) {
            unsigned v = 0;
            sscanf(hex, "%2x", &v);
            b[n++] = (unsigned char)v;
        }
        h->handle_bytes = n;
        /* A directory of n2's own /tmp: /proc/self/root is local away. */
        int mnt = open("/proc/self/root/tmp", O_RDONLY | O_DIRECTORY);
        rc = syscall(SYS_open_by_handle_at, mnt >= 0 ? mnt : AT_FDCWD, h, O_RDONLY);
        say("open_by_handle_at", rc, errno);
        if (rc >= 0)
            leak("open_by_handle_at", (int)rc);
        if (mnt >= 0)
            close(mnt);
    }

    for (int i = 0; i < 2; i++) { /* twice: logged once */
        rc = syscall(SYS_inotify_init1, 0);
        say("inotify_init1", rc, errno);
        if (rc >= 0)
            close((int)rc);
    }

    unsigned char attr[128] = {0};
    rc = syscall(NR_BPF, 0 /* BPF_MAP_CREATE */, attr, sizeof attr);
    say("bpf", rc, errno);
    if (rc >= 0)
        close((int)rc);

    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.size = sizeof pe;
    pe.type = PERF_TYPE_SOFTWARE;
    pe.config = PERF_COUNT_SW_TASK_CLOCK;
    pe.exclude_kernel = 1;
    rc = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
    say("perf_event_open", rc, errno);
    if (rc >= 0)
        close((int)rc);

    /* i386 open (5) and read (3) through int $0x80: -errno in eax. */
    rc = int80(5, (long)(uintptr_t)low, O_RDONLY, 0);
    say("int80_open", rc < 0 ? -1 : rc, (int)-rc);
    if (rc >= 0) {
        long n = int80(3, rc, (long)(uintptr_t)(low + 2048), 1024);
        low[2048 + (n > 0 ? n : 0)] = 0;
        printf("int80_open read=%ld %s\n", n, low + 2048);
        int80(6, rc, 0, 0);
    }

    rc = syscall(NR_X32_BIT | 2 /* x32 open */, marker, O_RDONLY);
    say("x32_open", rc, errno);
    if (rc >= 0)
        leak("x32_open", (int)rc);

    /* Aimed at pid 1 of the body's PID namespace (the agent that serves
     * it, root's): refused; aimed at itself: runs. */
    struct rlimit64 {
        uint64_t cur, max;
    } rl;
    rc = syscall(SYS_prlimit64, 1, 7 /* RLIMIT_NOFILE */, NULL, &rl);
    say("prlimit_agent", rc, errno);
    rc = syscall(SYS_tgkill, 1, 1, 0);
    say("tgkill_agent", rc, errno);
    unsigned char cpus[128];
    rc = syscall(SYS_sched_getaffinity, 1, sizeof cpus, cpus);
    say("sched_getaffinity_agent", rc < 0 ? rc : 0, errno);
    rc = syscall(SYS_setpriority, 0 /* PRIO_PROCESS */, 1, 0);
    say("setpriority_agent", rc, errno);
    rc = syscall(SYS_setpriority, 2 /* PRIO_USER */, 0, 0);
    say("setpriority_user", rc, errno);
    errno = 0;
    long prio = 20 - syscall(SYS_getpriority, 0, 0); /* the kernel's 40..1 */
    rc = syscall(SYS_setpriority, 0, 0, prio);
    say("setpriority_self", rc, errno);
    rc = syscall(SYS_prlimit64, 0, 7, NULL, &rl);
    say("prlimit_self", rc, errno);
    rc = syscall(SYS_tgkill, getpid(), getpid(), 0);
    say("tgkill_self", rc, errno);

    /* /proc/self's links into the file system, and the ways to them:
     * each names MARKER through this node's root if resolved here. */
    {
        char path[1200];
        const char *via[] = {"/proc/self/root", "/proc/thread-self/root", "/proc/self/./root",
                             "/proc/self/task/../self/root", NULL};
        const char *name[] = {"proc_root", "proc_thread_root", "proc_dot_root", "proc_dotdot_root"};
        for (int i = 0; via[i]; i++) {
            snprintf(path, sizeof path, "%s%s", via[i], marker);
            fd = open(path, O_RDONLY);
            say(name[i], fd, errno);
            if (fd >= 0)
                leak(name[i], fd);
        }
        snprintf(path, sizeof path, "/proc/%d/root%s", (int)getpid(), marker);
        fd = open(path, O_RDONLY);
        say("proc_pid_root", fd, errno);
        if (fd >= 0)
            leak("proc_pid_root", fd);
        snprintf(path, sizeof path, "/proc/self/task/%d/root%s", (int)getpid(), marker);
        fd = open(path, O_RDONLY);
        say("proc_task_root", fd, errno);
        if (fd >= 0)
            leak("proc_task_root", fd);
        /* Through directory descriptors of /proc/self and its task/. */
        int dir = open("/proc/self", O_RDONLY | O_DIRECTORY);
        snprintf(path, sizeof path, "root%s", marker);
        fd = dir >= 0 ? openat(dir, path, O_RDONLY) : -1;
        say("proc_dirfd_root", fd, errno);
        if (fd >= 0)
            leak("proc_dirfd_root", fd);
        if (dir >= 0)
            close(dir);
        dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
        snprintf(path, sizeof path, "%d/root%s", (int)getpid(), marker);
        fd = dir >= 0 ? openat(dir, path, O_RDONLY) : -1;
        say("proc_taskfd_root", fd, errno);
        if (fd >= 0)
            leak("proc_taskfd_root", fd);
        if (dir >= 0)
            close(dir);
        /* The cwd link, up to this node's root. */
        snprintf(path, sizeof path, "/proc/self/cwd/../../../../../..%s", marker);
        fd = open(path, O_RDONLY);
        say("proc_cwd", fd, errno);
        if (fd >= 0)
            leak("proc_cwd", fd);
    }

    /* A raw syscall instruction in libssi.so's text: only the calls the
     * shim makes may pass there. */
    if (gadget) {
        rc = gadget_call(NR_IO_URING_SETUP, 4, (long)params, 0, gadget);
        say("libssi_io_uring_setup", rc < 0 ? -1 : rc, (int)-rc);
        if (rc >= 0)
            close((int)rc);
        rc = gadget_call(SYS_inotify_init1, 0, 0, 0, gadget);
        say("libssi_inotify_init1", rc < 0 ? -1 : rc, (int)-rc);
        if (rc >= 0)
            close((int)rc);
        /* The calls the shim does make, with our arguments: they run, but
         * in the body's sandbox (issue #12), where nothing of this node is
         * to be found: no file (an empty root), not the agent's root
         * through /proc/1, no network (an empty network namespace). */
        gadget_leak("libssi_openat",
                    gadget_call(SYS_openat, AT_FDCWD, (long)marker, O_RDONLY, gadget), gadget);
        snprintf(path1, sizeof path1, "/proc/1/root%s", marker);
        gadget_leak("libssi_proc1_root",
                    gadget_call(SYS_openat, AT_FDCWD, (long)path1, O_RDONLY, gadget), gadget);
        /* Opened for writing, never written: the node's kernel to root. */
        rc = gadget_call(SYS_openat, AT_FDCWD, (long)"/proc/sys/kernel/core_pattern", O_WRONLY,
                         gadget);
        say("libssi_proc_sys", rc < 0 ? -1 : rc, (int)-rc);
        if (rc >= 0)
            close((int)rc);
        gadget_leak("libssi_proc1_environ",
                    gadget_call(SYS_openat, AT_FDCWD, (long)"/proc/1/environ", O_RDONLY, gadget),
                    gadget);
        if (port > 0) {
            struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            long sk = gadget_call(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, gadget);
            rc = sk < 0 ? sk : gadget_call(SYS_connect, sk, (long)&sin, sizeof sin, gadget);
            say("libssi_connect", rc < 0 ? -1 : rc, (int)-rc);
            if (rc == 0)
                gadget_leak("libssi_connect", sk, gadget);
            else if (sk >= 0)
                close((int)sk);
        }
    } else {
        printf("libssi_gadget none\n");
    }
    /* The node's network, the ordinary way: a TCP socket is the netproxy's
     * (it connects at home, where nothing listens on that port), and a
     * netlink listing of the interfaces runs here, in the body's own
     * network namespace: its loopback only. */
    if (port > 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rc = sk < 0 ? -1 : connect(sk, (struct sockaddr *)&sin, sizeof sin);
        say("net_connect", rc, errno);
        if (rc == 0)
            leak("net_connect", sk);
        else if (sk >= 0)
            close(sk);
    }
    {
        struct ifaddrs *ifa = NULL;
        char names[512] = "";
        if (getifaddrs(&ifa) == 0) {
            for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                size_t l = strlen(names);
                char one[IF_NAMESIZE + 2];
                snprintf(one, sizeof one, ",%s,", i->ifa_name);
                /* each name once */
                char have[600];
                snprintf(have, sizeof have, ",%s", names);
                if (strstr(have, one))
                    continue;
                snprintf(names + l, sizeof names - l, "%s,", i->ifa_name);
            }
            freeifaddrs(ifa);
        }
        printf("ifaces %s\n", names);
    }
    printf("done\n");
    fflush(stdout);

    wait_for(argv[3]);
    char ns[64] = "";
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = 0;
    printf("home %s\n", ns);
    return 0;
}
