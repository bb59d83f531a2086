/*
 * ssi_callsrv.h - the deputy's call server: the home end of the call
 * link. It receives a forwarded call, unpacks it (wire/ssi_call.c: every
 * pointer rebuilt into our buffers, every length checked), refuses
 * descriptors at or above the deputy's fd base (its own tunnels and
 * links), gives the call to the registered executors in order
 * (netproxy/home, vfs-proxy/home), runs it as the plain system call when
 * none takes it, and packs the answer.
 *
 * Part of libssi.so, run by the deputy loop in signal context: raw system
 * calls, static buffers. Calls only the channel table (for the fd base)
 * and the executors, through the table the shim registers.
 */
#ifndef SSI_CALLSRV_H
#define SSI_CALLSRV_H

#include <stdint.h>

/* An executor: 1 when it ran op with the rebuilt arguments a (*ret is
 * the result, >= 0 or -errno), 0 to let the next one (and at last the
 * plain system call op) have it. */
typedef struct {
    const char *name;
    int (*exec)(unsigned op, const int64_t *a, long *ret);
} ssi_callsrv_exec_t;

/* The executors, in order (a static table, set by the shim at start). */
void ssi_callsrv_set_execs(const ssi_callsrv_exec_t *execs, unsigned n);

/* Runs the handshake (initiator) on the deputy's second connection fd,
 * already connected to the agent. 0: the call link is up (it owns fd);
 * -errno: the caller closes fd. */
long ssi_callsrv_attach(int fd, const uint8_t *key, int timeout_ms);

/* The call link's socket for poll(), or -1. */
int ssi_callsrv_fd(void);

/* How many requests this call server answered (errors included) since
 * the process started: the forwarded calls of ssictl metrics. */
uint64_t ssi_callsrv_served(void);

/* Non-zero when a request was already read ahead: serve before polling. */
int ssi_callsrv_pending(void);

/* Serves every request that is waiting (at least one: call when the fd
 * polls readable). 0, or -errno when the link is gone (closed then). */
long ssi_callsrv_serve(void);

#endif
