/*
 * ssi_fdpass.h - one message with one descriptor attached (SCM_RIGHTS) on a
 * local socket: how ssi-agent hands the body its call link and the ends of
 * the channels it makes, written once for every sender and receiver.
 *
 * Raw system calls only (ssi_sys.h): safe in the shim's signal context and
 * usable by the helper programs. Returns >= 0 or -errno; nothing logs.
 */
#ifndef SSI_FDPASS_H
#define SSI_FDPASS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* A message being received: build it with ssi_fdpass_init, run recvmsg on
 * &m->mh (directly, or as a trapped call re-issued with the program's
 * signal mask), then take the descriptor with ssi_fdpass_take. */
typedef struct {
    struct msghdr mh;
    struct iovec iov;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
} ssi_fdpass_t;

/* Prepares m to receive up to len bytes into buf and one descriptor. */
void ssi_fdpass_init(ssi_fdpass_t *m, void *buf, size_t len);

/* The descriptor that came with the message received on m, or -1. */
int ssi_fdpass_take(const ssi_fdpass_t *m);

/* Sends len bytes of buf with fd attached (MSG_NOSIGNAL | flags): the
 * bytes sent or -errno. */
long ssi_fdpass_send(int sock, const void *buf, size_t len, int fd, int flags);

/* Receives up to len bytes into buf and one descriptor (MSG_CMSG_CLOEXEC
 * | flags): the bytes received (0 at end of stream) or -errno; *fd is the
 * descriptor or -1. */
long ssi_fdpass_recv(int sock, void *buf, size_t len, int flags, int *fd);

#endif
