/*
 * ssi_flow.h - per-channel flow control of the data link, written once and
 * used by both ends (the deputy at home, ssi-agent on the body's node).
 *
 * A sender may have at most `win` DATA bytes on a channel that the
 * receiver has not yet written to its local descriptor. The receiver
 * returns credit (a WINDOW_UPD frame) once half a window is written out,
 * so a small request and its answer send no credit frame at all, and a
 * stream gets credit while the other half is still in flight. Besides the
 * windows, each sender keeps the DATA bytes it has in flight on the whole
 * link under its socket's send buffer (ssi_tunnel_budget), so that two
 * senders can never block each other.
 *
 * Pure: no system calls, no allocation; safe in signal context.
 */
#ifndef SSI_FLOW_H
#define SSI_FLOW_H

#include <stdint.h>

typedef struct {
    uint32_t win;     /* the window: ssi_tunnel_window(flags) */
    uint32_t credit;  /* sending: bytes we may still send */
    uint32_t queued;  /* receiving: bytes received and not yet written out */
    uint32_t unacked; /* receiving: written out, credit not yet returned */
} ssi_flow_t;

/* A fresh channel with window win: full credit, nothing queued. */
void ssi_flow_init(ssi_flow_t *f, uint32_t win);

/* Sending: bytes sent and not yet credited back (what the peer holds). */
static inline uint32_t ssi_flow_inflight(const ssi_flow_t *f)
{
    return f->win - f->credit;
}

/* Sending: how much may go now, given at most `cap` bytes per frame and
 * the link's budget (`budget` bytes in flight at most on all channels,
 * `used` of them in flight already). 0: wait for credit. */
uint32_t ssi_flow_room(const ssi_flow_t *f, uint32_t cap, uint32_t used, uint32_t budget);

/* Sending: n bytes were sent (n <= credit). */
void ssi_flow_sent(ssi_flow_t *f, uint32_t n);

/* Sending: the peer returned v bytes of credit. 0, or -EPROTO when that is
 * more than was in flight (a peer that breaks the protocol). */
int ssi_flow_credit(ssi_flow_t *f, uint32_t v);

/* Receiving: a DATA frame of n bytes arrived. 0, or -EPROTO when it
 * overruns the window (the peer ignored it). */
int ssi_flow_received(ssi_flow_t *f, uint32_t n);

/* Receiving: n of the queued bytes were written out. Returns the credit
 * to send back now (0: none yet, less than half a window is pending). */
uint32_t ssi_flow_written(ssi_flow_t *f, uint32_t n);

/* Receiving: the local reader is gone; every queued and unacknowledged
 * byte is dropped. Returns the credit to send back so that the sender's
 * window stays open. */
uint32_t ssi_flow_drop(ssi_flow_t *f);

#endif
