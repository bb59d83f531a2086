/*
 * ssi_fdpass.c - one message with one descriptor attached (see
 * ssi_fdpass.h). Raw system calls only.
 */
#include "ssi_fdpass.h"

#include "ssi_sys.h"

void ssi_fdpass_init(ssi_fdpass_t *m, void *buf, size_t len)
{
    ssi_sys_memzero(m, sizeof(*m));
    m->iov.iov_base = buf;
    m->iov.iov_len = len;
    m->mh.msg_iov = &m->iov;
    m->mh.msg_iovlen = 1;
    m->mh.msg_control = m->cm.buf;
    m->mh.msg_controllen = sizeof(m->cm.buf);
}

int ssi_fdpass_take(const ssi_fdpass_t *m)
{
    int fd = -1;
    if (m->mh.msg_controllen >= CMSG_LEN(sizeof(int)) && m->cm.h.cmsg_level == SOL_SOCKET &&
        m->cm.h.cmsg_type == SCM_RIGHTS)
        ssi_sys_memcopy(&fd, CMSG_DATA(&m->cm.h), sizeof(int));
    return fd;
}

long ssi_fdpass_send(int sock, const void *buf, size_t len, int fd, int flags)
{
    ssi_fdpass_t m;
    ssi_fdpass_init(&m, (void *)buf, len);
    m.cm.h.cmsg_level = SOL_SOCKET;
    m.cm.h.cmsg_type = SCM_RIGHTS;
    m.cm.h.cmsg_len = CMSG_LEN(sizeof(int));
    ssi_sys_memcopy(CMSG_DATA(&m.cm.h), &fd, sizeof(int));
    return ssi_sys3(SYS_sendmsg, sock, (long)&m.mh, MSG_NOSIGNAL | flags);
}

long ssi_fdpass_recv(int sock, void *buf, size_t len, int flags, int *fd)
{
    ssi_fdpass_t m;
    long rc;
    ssi_fdpass_init(&m, buf, len);
    rc = ssi_sys3(SYS_recvmsg, sock, (long)&m.mh, MSG_CMSG_CLOEXEC | flags);
    *fd = rc >= 0 ? ssi_fdpass_take(&m) : -1;
    return rc;
}
