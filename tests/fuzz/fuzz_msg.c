/* fuzz_msg: libFuzzer harness of the control messages' decoder
 * (wire/ssi_msg.c), as ssid and the tools read a frame from a peer or the
 * local socket: the frame length from the header, the parse, every nested
 * record's fields and the typed readers on every field. */
#include <stdint.h>
#include <string.h>

#include "ssi_msg.h"

static void s_fields(const ssi_field_t *f, size_t n, int depth)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        char s[SSI_MSG_MAX_FIELD + 1];
        ssi_field_t sub[SSI_MSG_MAX_FIELDS];
        long k;
        (void)ssi_field_u64(&f[i], &v);
        (void)ssi_field_str(&f[i], s, sizeof s);
        (void)ssi_field_str(&f[i], s, 8); /* a reader with less room */
        if (ssi_field_str(&f[i], s, sizeof s) == 0)
            (void)ssi_msg_valid_name(s);
        (void)ssi_msg_find(f, n, f[i].tag);
        if (depth < 2) {
            k = ssi_msg_fields(f[i].val, f[i].len, sub, SSI_MSG_MAX_FIELDS);
            if (k > 0)
                s_fields(sub, (size_t)k, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ssi_msg_t m;
    long flen = ssi_msg_frame_len(data, size);
    /* A stream reader takes flen bytes once the header says how many. */
    if (flen > 0 && (size_t)flen <= size && ssi_msg_parse(data, (size_t)flen, &m) == 0) {
        (void)ssi_msg_type_name(m.type);
        s_fields(m.field, m.nfields, 0);
    }
    /* A datagram reader (zeromq) parses the whole buffer. */
    if (ssi_msg_parse(data, size, &m) == 0)
        s_fields(m.field, m.nfields, 0);
    return 0;
}
