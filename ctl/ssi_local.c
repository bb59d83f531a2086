/* ssi_local: Unix socket plumbing for ssid, ssictl and ssirun. */
#include "ssi_local.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ssi_msg.h"

const char *ssi_local_path(void)
{
    const char *p = getenv("SSI_SOCKET");
    return p && *p ? p : SSI_LOCAL_DEFAULT;
}

static int s_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -ENAMETOOLONG;
    strcpy(sa->sun_path, path);
    return 0;
}

int ssi_local_connect(const char *path)
{
    struct sockaddr_un sa;
    int rc = s_addr(path, &sa);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int ssi_local_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (s_addr(path, &sa) < 0) {
        snprintf(err, errlen, "socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    char dir[sizeof sa.sun_path];
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            snprintf(err, errlen, "cannot create %s: %s", dir, strerror(e));
            return -e;
        }
    }
    int probe = ssi_local_connect(path);
    if (probe >= 0) {
        close(probe);
        snprintf(err, errlen, "another ssid already serves %s", path);
        return -EADDRINUSE;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return -EEXIST;
        }
        unlink(path); /* stale: nobody answered */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0666) < 0 ||
        listen(fd, 128) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

int ssi_local_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static long s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

long ssi_local_recv(int fd, void *buf, size_t cap, int timeout_ms)
{
    size_t have = 0;
    long want = -EAGAIN;
    long deadline = s_ms() + timeout_ms;
    for (;;) {
        want = ssi_msg_frame_len(buf, have);
        if (want >= 0 && (size_t)want > cap)
            return -EMSGSIZE;
        if (want >= 0 && have >= (size_t)want)
            return want;
        if (want < 0 && want != -EAGAIN)
            return want;
        long left = deadline - s_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno != EINTR)
            return -errno;
        if (rc <= 0)
            continue;
        /* Never read past this frame: the next one is someone else's. */
        size_t room = want >= 0 ? (size_t)want - have : SSI_MSG_HEADER - have;
        ssize_t n = recv(fd, (char *)buf + have, room, 0);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        have += (size_t)n;
    }
}
