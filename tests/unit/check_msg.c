/* ssi_msg: golden frames byte for byte, and every malformed input. */
#include <errno.h>
#include <string.h>

#include "check_ssi.h"
#include "ssi_msg.h"

static ssi_msg_t m;

/* REGISTER pid 4660, ppid 1, cmd "sleep 30". */
static const uint8_t golden_register[] = {
    'S', 'I', 1, 5,   0,   0,   0,   0x21,                  /* header, body 33 */
    12,  0,   8, 0,   0,   0,   0,   0,    0,   0x12, 0x34, /* PID */
    13,  0,   8, 0,   0,   0,   0,   0,    0,   0,    1,    /* PPID */
    14,  0,   8, 's', 'l', 'e', 'e', 'p',  ' ', '3',  '0'}; /* CMD */

/* GOSSIP from n1 with one nested LOAD record {NODE n2, LOADM 1500}. */
static const uint8_t golden_gossip[] = {'S', 'I', 1, 4, 0,    0, 0, 0x18, 3,    0,   2,
                                        'n', '1', 5, 0, 0x10, 3, 0, 2,    'n',  '2', 7,
                                        0,   8,   0, 0, 0,    0, 0, 0,    0x05, 0xdc};

START_TEST(test_msg_encodes_golden_register)
{
    uint8_t buf[256];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_REGISTER);
    ssi_msg_put_u64(&w, SSI_TAG_PID, 4660);
    ssi_msg_put_u64(&w, SSI_TAG_PPID, 1);
    ssi_msg_put_str(&w, SSI_TAG_CMD, "sleep 30");
    long n = ssi_msg_end(&w);
    ck_assert_int_eq(n, sizeof golden_register);
    ck_assert_mem_eq(buf, golden_register, sizeof golden_register);
}
END_TEST

START_TEST(test_msg_encodes_golden_nested)
{
    uint8_t buf[256];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_GOSSIP);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n1");
    size_t mark = ssi_msg_open(&w, SSI_TAG_LOAD);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n2");
    ssi_msg_put_u64(&w, SSI_TAG_LOADM, 1500);
    ssi_msg_close(&w, mark);
    long n = ssi_msg_end(&w);
    ck_assert_int_eq(n, sizeof golden_gossip);
    ck_assert_mem_eq(buf, golden_gossip, sizeof golden_gossip);
}
END_TEST

START_TEST(test_msg_decodes_golden)
{
    ck_assert_int_eq(ssi_msg_parse(golden_register, sizeof golden_register, &m), 0);
    ck_assert_int_eq(m.type, SSI_MSG_REGISTER);
    ck_assert_uint_eq(m.nfields, 3);
    uint64_t pid;
    char cmd[64];
    ck_assert_int_eq(ssi_field_u64(ssi_msg_find(m.field, m.nfields, SSI_TAG_PID), &pid), 0);
    ck_assert_uint_eq(pid, 4660);
    ck_assert_int_eq(ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_CMD), cmd, sizeof cmd),
                     0);
    ck_assert_str_eq(cmd, "sleep 30");

    ck_assert_int_eq(ssi_msg_parse(golden_gossip, sizeof golden_gossip, &m), 0);
    const ssi_field_t *load = ssi_msg_find(m.field, m.nfields, SSI_TAG_LOAD);
    ck_assert_ptr_nonnull(load);
    ssi_field_t f[4];
    ck_assert_int_eq(ssi_msg_fields(load->val, load->len, f, 4), 2);
    uint64_t v;
    ck_assert_int_eq(ssi_field_u64(ssi_msg_find(f, 2, SSI_TAG_LOADM), &v), 0);
    ck_assert_uint_eq(v, 1500);
}
END_TEST

START_TEST(test_msg_rejects_truncated_frame)
{
    /* Every strict prefix of a valid frame is refused, never read past. */
    for (size_t n = 0; n < sizeof golden_register; n++)
        ck_assert_int_eq(ssi_msg_parse(golden_register, n, &m), -EBADMSG);
    /* A header that claims more than the field bytes hold. */
    uint8_t bad[sizeof golden_register];
    memcpy(bad, golden_register, sizeof bad);
    bad[sizeof bad - 9] = 9; /* CMD length 9, only 8 bytes follow */
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), -EBADMSG);
    /* Trailing garbage after the frame. */
    uint8_t longer[sizeof golden_register + 1];
    memcpy(longer, golden_register, sizeof golden_register);
    ck_assert_int_eq(ssi_msg_parse(longer, sizeof longer, &m), -EBADMSG);
}
END_TEST

START_TEST(test_msg_rejects_truncated_at_every_byte)
{
    /* Both golden frames, cut at every byte: the header alone tells a
	 * reader to wait (-EAGAIN) until 8 bytes and then how many it needs;
	 * the parser refuses every cut. */
    const struct {
        const uint8_t *p;
        size_t n;
    } g[] = {{golden_register, sizeof golden_register}, {golden_gossip, sizeof golden_gossip}};
    for (size_t k = 0; k < 2; k++)
        for (size_t n = 0; n < g[k].n; n++) {
            long want = n < SSI_MSG_HEADER ? -EAGAIN : (long)g[k].n;
            ck_assert_int_eq(ssi_msg_frame_len(g[k].p, n), want);
            ck_assert_int_eq(ssi_msg_parse(g[k].p, n, &m), -EBADMSG);
        }
    /* The nested LOAD record of the gossip frame, cut at every byte. */
    ck_assert_int_eq(ssi_msg_parse(golden_gossip, sizeof golden_gossip, &m), 0);
    const ssi_field_t *load = ssi_msg_find(m.field, m.nfields, SSI_TAG_LOAD);
    ck_assert_ptr_nonnull(load);
    ssi_field_t f[4];
    for (size_t n = 0; n < load->len; n++) {
        long want = n == 0 ? 0 : n == 5 ? 1 : -EBADMSG; /* 0 and 5: field boundaries */
        ck_assert_int_eq(ssi_msg_fields(load->val, n, f, 4), want);
    }
    /* A frame whose outer field is whole but says its nested record is
	 * longer than the bytes it holds. */
    uint8_t bad[sizeof golden_gossip];
    memcpy(bad, golden_gossip, sizeof bad);
    bad[sizeof bad - 14] = 20; /* NODE n2 inside LOAD claims 20 of its 16 bytes */
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), 0);
    load = ssi_msg_find(m.field, m.nfields, SSI_TAG_LOAD);
    ck_assert_int_eq(ssi_msg_fields(load->val, load->len, f, 4), -EBADMSG);
}
END_TEST

START_TEST(test_msg_rejects_unknown_type)
{
    uint8_t bad[sizeof golden_register];
    memcpy(bad, golden_register, sizeof bad);
    bad[3] = 200;
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), -ENOMSG);
    bad[3] = 0;
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), -ENOMSG);
}
END_TEST

START_TEST(test_msg_rejects_bad_magic_and_version)
{
    uint8_t bad[sizeof golden_register];
    memcpy(bad, golden_register, sizeof bad);
    bad[0] = 'X';
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), -EPROTO);
    memcpy(bad, golden_register, sizeof bad);
    bad[2] = 2;
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), -EPROTO);
}
END_TEST

/* A frame of another protocol is told apart from garbage by its header
 * alone, and still never parsed. */
START_TEST(test_msg_version_reads_only_the_header)
{
    uint8_t bad[sizeof golden_register];
    memcpy(bad, golden_register, sizeof bad);
    ck_assert_int_eq(ssi_msg_version(bad, sizeof bad), SSI_MSG_VERSION);
    bad[2] = 7;
    ck_assert_int_eq(ssi_msg_version(bad, sizeof bad), 7);
    ck_assert_int_eq(ssi_msg_version(bad, SSI_MSG_HEADER), 7);
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), -EPROTO);
    ck_assert_int_eq(ssi_msg_version(bad, SSI_MSG_HEADER - 1), -EAGAIN);
    bad[1] = 'X';
    ck_assert_int_eq(ssi_msg_version(bad, sizeof bad), -EPROTO);
}
END_TEST

START_TEST(test_msg_rejects_oversize_field)
{
    static uint8_t buf[SSI_MSG_MAX_FIELD * 2];
    static char big[SSI_MSG_MAX_FIELD + 2];
    memset(big, 'x', SSI_MSG_MAX_FIELD + 1);
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_REGISTER);
    ssi_msg_put_str(&w, SSI_TAG_CMD, big);
    ck_assert_int_eq(ssi_msg_end(&w), -EMSGSIZE);
    /* put_str_cut trims to the limit instead. */
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_REGISTER);
    ssi_msg_put_str_cut(&w, SSI_TAG_CMD, big);
    ck_assert_int_eq(ssi_msg_end(&w), SSI_MSG_HEADER + 3 + SSI_MSG_MAX_FIELD);
    /* A hand-made frame with a field one byte over the limit. */
    size_t flen = SSI_MSG_MAX_FIELD + 1, body = 3 + flen;
    memset(buf, 0, sizeof buf);
    memcpy(buf, "SI\1\5", 4);
    buf[4] = 0;
    buf[5] = (uint8_t)(body >> 16);
    buf[6] = (uint8_t)(body >> 8);
    buf[7] = (uint8_t)body;
    buf[8] = SSI_TAG_CMD;
    buf[9] = (uint8_t)(flen >> 8);
    buf[10] = (uint8_t)flen;
    ck_assert_int_eq(ssi_msg_parse(buf, SSI_MSG_HEADER + body, &m), -EMSGSIZE);
    /* A body over the frame limit is refused from its header alone. */
    uint8_t hdr[8] = {'S', 'I', 1, 5, 0x7f, 0, 0, 0};
    ck_assert_int_eq(ssi_msg_frame_len(hdr, sizeof hdr), -EMSGSIZE);
}
END_TEST

START_TEST(test_msg_rejects_bad_field_values)
{
    /* A u64 field of the wrong length; a string with a NUL; a zero tag. */
    uint8_t f1[] = {'S', 'I', 1, 5, 0, 0, 0, 5, 12, 0, 2, 1, 2};
    ck_assert_int_eq(ssi_msg_parse(f1, sizeof f1, &m), 0);
    uint64_t v;
    ck_assert_int_eq(ssi_field_u64(&m.field[0], &v), -EBADMSG);
    uint8_t f2[] = {'S', 'I', 1, 5, 0, 0, 0, 5, 14, 0, 2, 'a', 0};
    ck_assert_int_eq(ssi_msg_parse(f2, sizeof f2, &m), 0);
    char s[8];
    ck_assert_int_eq(ssi_field_str(&m.field[0], s, sizeof s), -EBADMSG);
    ck_assert_int_eq(ssi_field_str(&m.field[0], s, 2), -EMSGSIZE);
    ck_assert_int_eq(ssi_field_str(NULL, s, sizeof s), -ENOENT);
    uint8_t f3[] = {'S', 'I', 1, 5, 0, 0, 0, 3, 0, 0, 0};
    ck_assert_int_eq(ssi_msg_parse(f3, sizeof f3, &m), -EBADMSG);
}
END_TEST

START_TEST(test_msg_rejects_too_many_fields)
{
    static uint8_t buf[SSI_MSG_HEADER + 3 * (SSI_MSG_MAX_FIELDS + 1)];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_PS_REP);
    for (int i = 0; i <= SSI_MSG_MAX_FIELDS; i++)
        ssi_msg_put_bytes(&w, SSI_TAG_TEXT, "", 0);
    long n = ssi_msg_end(&w);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), -E2BIG);
}
END_TEST

START_TEST(test_msg_writer_overflow_sticks)
{
    uint8_t buf[16];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_REGISTER);
    ssi_msg_put_u64(&w, SSI_TAG_PID, 1); /* 11 bytes: does not fit in 8 */
    ssi_msg_put_bytes(&w, SSI_TAG_TEXT, "", 0);
    ck_assert_int_eq(ssi_msg_end(&w), -EMSGSIZE);
    ssi_msg_begin(&w, buf, sizeof buf, 99);
    ck_assert_int_eq(ssi_msg_end(&w), -EINVAL);
}
END_TEST

START_TEST(test_msg_fuzz_never_overreads)
{
    /* Flip every byte of a valid frame to every value: the parser returns,
	 * and whatever it accepts stays inside the buffer. */
    uint8_t buf[sizeof golden_gossip];
    for (size_t i = 0; i < sizeof buf; i++)
        for (int v = 0; v < 256; v++) {
            memcpy(buf, golden_gossip, sizeof buf);
            buf[i] = (uint8_t)v;
            if (ssi_msg_parse(buf, sizeof buf, &m) < 0)
                continue;
            for (size_t k = 0; k < m.nfields; k++)
                ck_assert(m.field[k].val + m.field[k].len <= buf + sizeof buf);
        }
}
END_TEST

Suite *suite_msg(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_msg_encodes_golden_register);
    tcase_add_test(tc, test_msg_encodes_golden_nested);
    tcase_add_test(tc, test_msg_decodes_golden);
    tcase_add_test(tc, test_msg_rejects_truncated_frame);
    tcase_add_test(tc, test_msg_rejects_truncated_at_every_byte);
    tcase_add_test(tc, test_msg_rejects_unknown_type);
    tcase_add_test(tc, test_msg_rejects_bad_magic_and_version);
    tcase_add_test(tc, test_msg_version_reads_only_the_header);
    tcase_add_test(tc, test_msg_rejects_oversize_field);
    tcase_add_test(tc, test_msg_rejects_bad_field_values);
    tcase_add_test(tc, test_msg_rejects_too_many_fields);
    tcase_add_test(tc, test_msg_writer_overflow_sticks);
    tcase_add_test(tc, test_msg_fuzz_never_overreads);
    suite_add_tcase(s, tc);
    return s;
}
