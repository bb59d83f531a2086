/* ssi_local: the node-local Unix stream socket between ssid and its tools
 * and shims. Frames are ssi_msg frames back to back. Nothing here logs. */
#ifndef SSI_LOCAL_H
#define SSI_LOCAL_H

#include <stddef.h>

#define SSI_LOCAL_DEFAULT "/run/ssi/ssid.sock"

/* $SSI_SOCKET, or the default path. Borrowed. */
const char *ssi_local_path(void);
/* Bind and listen at path (creating its directory; replacing a stale socket
 * but never a live one): the fd, or -errno with a reason in err. */
int ssi_local_listen(const char *path, char *err, size_t errlen);
/* Connect to path: the fd (close-on-exec) or -errno. */
int ssi_local_connect(const char *path);
/* Write all of buf: 0 or -errno. */
int ssi_local_send(int fd, const void *buf, size_t len);
/* Read exactly one frame into buf within timeout_ms: its length, or -errno
 * (-ETIMEDOUT, -ECONNRESET when the peer closed, -EPROTO/-EMSGSIZE). */
long ssi_local_recv(int fd, void *buf, size_t cap, int timeout_ms);

#endif
