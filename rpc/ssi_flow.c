/*
 * ssi_flow.c - per-channel flow control of the data link (see ssi_flow.h).
 * Pure arithmetic; the same code runs in the deputy and in ssi-agent.
 */
#include "ssi_flow.h"

#include <errno.h>

void ssi_flow_init(ssi_flow_t *f, uint32_t win)
{
    f->win = win;
    f->credit = win;
    f->queued = 0;
    f->unacked = 0;
}

uint32_t ssi_flow_room(const ssi_flow_t *f, uint32_t cap, uint32_t used, uint32_t budget)
{
    uint32_t k = f->credit < cap ? f->credit : cap;
    if (used >= budget)
        return 0;
    return k < budget - used ? k : budget - used;
}

void ssi_flow_sent(ssi_flow_t *f, uint32_t n)
{
    f->credit -= n <= f->credit ? n : f->credit;
}

int ssi_flow_credit(ssi_flow_t *f, uint32_t v)
{
    if (v > f->win - f->credit)
        return -EPROTO;
    f->credit += v;
    return 0;
}

int ssi_flow_received(ssi_flow_t *f, uint32_t n)
{
    /* 64-bit sum: a forged length cannot wrap around the check. */
    if ((uint64_t)f->queued + f->unacked + n > f->win)
        return -EPROTO;
    f->queued += n;
    return 0;
}

uint32_t ssi_flow_written(ssi_flow_t *f, uint32_t n)
{
    uint32_t v;
    if (n > f->queued)
        n = f->queued;
    f->queued -= n;
    f->unacked += n;
    if (f->unacked < f->win / 2)
        return 0;
    v = f->unacked;
    f->unacked = 0;
    return v;
}

uint32_t ssi_flow_drop(ssi_flow_t *f)
{
    uint32_t v = f->queued + f->unacked;
    f->queued = 0;
    f->unacked = 0;
    return v;
}
