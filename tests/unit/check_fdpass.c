/* ssi_fdpass: one message with one descriptor, over a Unix socketpair, as
 * ssi-agent hands the body its call link and its channels' ends. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_fdpass.h"

static int s_same_file(int a, int b)
{
    struct stat sa, sb;
    ck_assert_int_eq(fstat(a, &sa), 0);
    ck_assert_int_eq(fstat(b, &sb), 0);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The bytes and the descriptor arrive together; the descriptor is the
 * same open file, close-on-exec on the receiving side. */
START_TEST(test_fdpass_message_and_fd_arrive)
{
    int sv[2], p[2], fd = -2;
    char buf[64], msg[] = "channel 32768";
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], msg, sizeof msg, p[1], 0), (long)sizeof msg);
    ck_assert_int_eq(ssi_fdpass_recv(sv[1], buf, sizeof buf, 0, &fd), (long)sizeof msg);
    ck_assert_str_eq(buf, msg);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ne(fd, p[1]);
    ck_assert(s_same_file(fd, p[1]));
    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    /* It works: written through the received descriptor, read at the other end. */
    ck_assert_int_eq(write(fd, "ok", 2), 2);
    ck_assert_int_eq(read(p[0], buf, sizeof buf), 2);
    close(fd);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* On a seqpacket pair (a listener's), each message keeps its own fd. */
START_TEST(test_fdpass_seqpacket_keeps_messages_apart)
{
    int sv[2], a[2], b[2], fd1 = -2, fd2 = -2;
    char buf[16];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], "one", 3, a[1], MSG_DONTWAIT), 3);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], "two", 3, b[1], MSG_DONTWAIT), 3);
    ck_assert_int_eq(ssi_fdpass_recv(sv[1], buf, sizeof buf, 0, &fd1), 3);
    ck_assert_mem_eq(buf, "one", 3);
    ck_assert_int_eq(ssi_fdpass_recv(sv[1], buf, sizeof buf, 0, &fd2), 3);
    ck_assert_mem_eq(buf, "two", 3);
    ck_assert(s_same_file(fd1, a[1]));
    ck_assert(s_same_file(fd2, b[1]));
    close(fd1);
    close(fd2);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* A message with no descriptor: ssi_fdpass_take says -1. The receiving
 * half also serves a caller that runs recvmsg itself (the body's trapped
 * accept). */
START_TEST(test_fdpass_no_fd_is_minus_one)
{
    int sv[2], fd = -2;
    char buf[16];
    ssi_fdpass_t m;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(write(sv[0], "bare", 4), 4);
    ck_assert_int_eq(ssi_fdpass_recv(sv[1], buf, sizeof buf, 0, &fd), 4);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(write(sv[0], "bare", 4), 4);
    ssi_fdpass_init(&m, buf, sizeof buf);
    ck_assert_int_eq(recvmsg(sv[1], &m.mh, 0), 4);
    ck_assert_int_eq(ssi_fdpass_take(&m), -1);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], "fd", 2, sv[0], 0), 2);
    ssi_fdpass_init(&m, buf, sizeof buf);
    ck_assert_int_eq(recvmsg(sv[1], &m.mh, MSG_CMSG_CLOEXEC), 2);
    fd = ssi_fdpass_take(&m);
    ck_assert_int_ge(fd, 0);
    ck_assert(s_same_file(fd, sv[0]));
    close(fd);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* Errors come back as -errno, without SIGPIPE, and no descriptor. */
START_TEST(test_fdpass_errors_are_negative_errno)
{
    int sv[2], fd = -2;
    char buf[4];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], "x", 1, 999999, 0), -EBADF);
    ck_assert_int_eq(ssi_fdpass_recv(sv[1], buf, sizeof buf, MSG_DONTWAIT, &fd), -EAGAIN);
    ck_assert_int_eq(fd, -1);
    close(sv[1]);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], "x", 1, sv[0], 0), -EPIPE);
    close(sv[0]);
    ck_assert_int_eq(ssi_fdpass_send(sv[0], "x", 1, 0, 0), -EBADF);
}
END_TEST

Suite *suite_fdpass(void)
{
    Suite *s = suite_create("fdpass");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_fdpass_message_and_fd_arrive);
    tcase_add_test(tc, test_fdpass_seqpacket_keeps_messages_apart);
    tcase_add_test(tc, test_fdpass_no_fd_is_minus_one);
    tcase_add_test(tc, test_fdpass_errors_are_negative_errno);
    suite_add_tcase(s, tc);
    return s;
}
