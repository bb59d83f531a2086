/* fuzz_tunnel: libFuzzer harness of the data link's decoding, as the
 * deputy and ssi-agent read it: tunnel frames (rpc/ssi_tunnel_link.c) in
 * records that authenticate (the peer holds the key), and raw bytes on
 * the link's socket (an attacker on the path: wire/ssi_chan's record
 * layer). The first input byte chooses the mode and the reader's room. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_pair.h"
#include "ssi_tunnel_link.h"

static ssi_tunnel_link_t s_tx, s_rx;
static uint8_t s_frame[SSI_TUNNEL_DATA_MAX];

static void s_frames(const uint8_t *p, size_t n, uint32_t cap)
{
    static int ready;
    ssi_tunnel_hdr_t h;
    uint8_t *room;
    long rc;
    if (!ready) {
        fuzz_pair(&s_tx.ch, &s_rx.ch);
        s_tx.up = s_rx.up = 1;
        ready = 1;
    }
    /* A record longer than any frame ends the link for good (sticky
     * -EMSGSIZE, read as -EPROTO), by design: not this harness's case. */
    if (n == 0 || n > sizeof s_rx.rbuf)
        return;
    /* One record holding whatever the peer chose as a frame. */
    if (ssi_chan_send(&s_tx.ch, p, n) < 0)
        abort();
    /* The reader's room is exactly cap bytes: a byte beyond is an ASan error. */
    room = malloc(cap);
    if (!room)
        abort();
    rc = ssi_tunnel_recv(&s_rx, &h, room, cap);
    if (rc == 1 && (h.len > cap || h.type == 0 || h.type > 84 || h.len + sizeof h != n ||
                    memcmp(room, p + sizeof h, h.len) != 0))
        abort(); /* a frame accepted that breaks the rules */
    free(room);
    if (rc != 1 && rc != -EPROTO)
        abort(); /* the link itself must survive a bad frame */
}

static void s_raw(const uint8_t *p, size_t n)
{
    static ssi_tunnel_link_t a, b;
    ssi_tunnel_hdr_t h;
    int fd;
    fuzz_pair(&a.ch, &b.ch);
    a.up = b.up = 1;
    fd = a.ch.fd;
    fuzz_raw(fd, p, n);
    /* Nothing the attacker sent authenticates: the reader refuses it. */
    for (int i = 0; i < 4; i++) {
        long rc = ssi_tunnel_recv(&b, &h, s_frame, sizeof s_frame);
        if (rc == 1)
            abort();
        if (rc < 0)
            break;
    }
    ssi_tunnel_link_close(&a);
    ssi_tunnel_link_close(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t cap;
    if (size < 1)
        return 0;
    cap = (data[0] >> 1) ? (uint32_t)(data[0] >> 1) * 1024 : sizeof s_frame;
    if (cap > sizeof s_frame)
        cap = sizeof s_frame;
    if (data[0] & 1)
        s_raw(data + 1, size - 1);
    else
        s_frames(data + 1, size - 1, cap);
    return 0;
}
