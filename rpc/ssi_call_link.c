/*
 * ssi_call_link.c - one call-link message as one or more ssi_chan records
 * (see ssi_call_link.h). Raw system calls only (through ssi_chan).
 */
#include "ssi_call_link.h"

#include "ssi_chan.h"
#include "ssi_sys.h"

#include <errno.h>

long ssi_call_send(void *chp, const uint8_t *msg, uint32_t len)
{
    ssi_chan_t *ch = chp;
    uint32_t off = 0;
    do {
        uint32_t k = len - off < SSI_CHAN_MAX_RECORD ? len - off : SSI_CHAN_MAX_RECORD;
        long rc = ssi_chan_send(ch, msg + off, k);
        if (rc < 0)
            return rc;
        off += k;
    } while (off < len);
    return 0;
}

long ssi_call_recv(void *chp, uint8_t *msg, uint32_t cap, uint32_t hdr)
{
    ssi_chan_t *ch = chp;
    uint32_t total, len;
    long n = ssi_chan_recv(ch, msg, cap);
    if (n <= 0)
        return n ? n : -EPIPE;
    if ((uint32_t)n < hdr)
        return -EPROTO;
    ssi_sys_memcopy(&len, msg + 4, 4);
    if (len > cap - hdr)
        return -EPROTO;
    total = hdr + len;
    /* Only a full first record can have more behind it. */
    if ((uint32_t)n > total || ((uint32_t)n < total && (uint32_t)n != SSI_CHAN_MAX_RECORD))
        return -EPROTO;
    while ((uint32_t)n < total) {
        long m = ssi_chan_recv(ch, msg + n, total - (uint32_t)n);
        if (m <= 0)
            return m ? m : -EPIPE;
        if ((uint32_t)n + (uint32_t)m < total && (uint32_t)m != SSI_CHAN_MAX_RECORD)
            return -EPROTO;
        n += m;
    }
    return n;
}
