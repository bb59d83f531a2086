/* fuzz_call: libFuzzer harness of the call link's decoding
 * (wire/ssi_call.c, rpc/ssi_call_link.c), both ways: a request as the
 * deputy's call server unpacks it (any bytes), an answer as the body
 * unpacks it into the program's buffers (each allocated at exactly the size
 * the program said, so a byte written beyond is an ASan error), and a
 * request arriving as an authenticated record through ssi_call_recv. The
 * first input byte chooses the mode. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_pair.h"
#include "ssi_call.h"
#include "ssi_call_link.h"

static void s_req(const uint8_t *p, size_t n, uint32_t cap)
{
    uint8_t *msg = malloc(n ? n : 1), *rep = malloc(cap);
    ssi_call_args_t u;
    if (!msg || !rep)
        abort();
    memcpy(msg, p, n);
    if (ssi_call_unpack_req(msg, (uint32_t)n, rep, cap, &u) == 0) {
        uint8_t *ans = malloc(SSI_CALL_MSG_MAX);
        if (!ans || u.call == NULL || u.call->op != u.op)
            abort();
        /* The home call wrote nothing (ret 0) or failed: both answers pack. */
        if (ssi_call_pack_rep(&u, -EIO, ans) > SSI_CALL_MSG_MAX ||
            ssi_call_pack_rep(&u, 0, rep) > cap)
            abort();
        free(ans);
    }
    free(msg);
    free(rep);
}

static void s_rep(const uint8_t *p, size_t n)
{
    static uint8_t msg[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
    unsigned count = 0, i;
    const ssi_call_t *c;
    void *buf[6] = {0};
    int64_t a[6] = {0}, ret;
    ssi_call_req_t q;
    if (n < 8)
        return;
    while (ssi_call_nth(count))
        count++;
    c = ssi_call_nth(p[0] % count);
    /* The program's arguments: lengths from the input, buffers of exactly
     * that size (NULL where the input's bit says so and the kind allows). */
    for (i = 0; i < c->nargs; i++)
        if (c->kind[i] == SSI_CALL_A_IN || c->kind[i] == SSI_CALL_A_OUT)
            a[c->aux[i]] = (int64_t)p[1 + i] * 97 + 1;
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        size_t len = 0;
        if (k == SSI_CALL_A_IN || k == SSI_CALL_A_OUT)
            len = (size_t)a[c->aux[i]];
        else if (k == SSI_CALL_A_OUTFIX || k == SSI_CALL_A_INFIX || k == SSI_CALL_A_INOUT)
            len = c->aux[i];
        else if (k == SSI_CALL_A_STR)
            len = 2;
        if (len == 0) {
            if (a[i] == 0)
                a[i] = (int64_t)(int8_t)p[1 + i];
            continue;
        }
        if ((p[7] >> i & 1) && k != SSI_CALL_A_IN && k != SSI_CALL_A_OUT)
            continue; /* a NULL pointer */
        buf[i] = calloc(1, len);
        if (!buf[i])
            abort();
        if (k == SSI_CALL_A_STR)
            ((char *)buf[i])[0] = 'p';
        a[i] = (int64_t)(intptr_t)buf[i];
    }
    if (ssi_call_pack_req(c->op, a, msg, sizeof msg) > 0) {
        uint8_t *rep = malloc(n - 8 ? n - 8 : 1);
        if (!rep)
            abort();
        memcpy(rep, p + 8, n - 8);
        memcpy(&q, msg, sizeof q);
        (void)ssi_call_unpack_rep(&q, a, rep, (uint32_t)(n - 8), &ret);
        free(rep);
    }
    for (i = 0; i < 6; i++)
        free(buf[i]);
}

static void s_link(const uint8_t *p, size_t n)
{
    static ssi_chan_t tx, rx;
    static uint8_t msg[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
    static int ready;
    long rc;
    if (!ready) {
        fuzz_pair(&tx, &rx);
        ready = 1;
    }
    /* A message of one record, shorter than a full one (a full first
     * record announces more behind it). */
    if (n == 0 || n >= SSI_CHAN_MAX_RECORD)
        return;
    if (ssi_chan_send(&tx, p, n) < 0)
        abort();
    rc = ssi_call_recv(&rx, msg, sizeof msg, sizeof(ssi_call_req_t));
    if (rc > 0)
        s_req(msg, (size_t)rc, SSI_CALL_MSG_MAX);
    else if (rc != -EPROTO)
        abort(); /* a bad message must not take the link down */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: s_req(data + 1, size - 1, data[0] & 0x80 ? 4096 : SSI_CALL_MSG_MAX); break;
    case 1: s_rep(data + 1, size - 1); break;
    default: s_link(data + 1, size - 1); break;
    }
    return 0;
}
