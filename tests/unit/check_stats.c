/* Suite "stats": ssid_stats, the counters `ssictl metrics` reads. The errno
 * of a MIGRATE's answer decides its class (and so ssictl's exit status):
 * each class from its errnos, the ones that must not promise "kept where it
 * was"; the freeze-time histogram puts a time in the first bucket whose
 * bound it does not pass; the STATS record decodes to what was counted. Each
 * test runs in its own process (Check forks), so the counters start at 0. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check_ssi.h"
#include "ssid_stats.h"

START_TEST(test_stats_classes_errnos)
{
    ck_assert_int_eq(ssid_stats_outcome(0), SSI_OUTCOME_OK);
    ck_assert_int_eq(ssid_stats_outcome(EBUSY), SSI_OUTCOME_REFUSED);
    ck_assert_int_eq(ssid_stats_outcome(ENOENT), SSI_OUTCOME_NODE);
    ck_assert_int_eq(ssid_stats_outcome(EHOSTDOWN), SSI_OUTCOME_NODE);
    ck_assert_int_eq(ssid_stats_outcome(EPERM), SSI_OUTCOME_PERM);
    ck_assert_int_eq(ssid_stats_outcome(EACCES), SSI_OUTCOME_PERM);
    ck_assert_int_eq(ssid_stats_outcome(EIO), SSI_OUTCOME_FAILED);
    ck_assert_int_eq(ssid_stats_outcome(ECONNREFUSED), SSI_OUTCOME_FAILED);
    ck_assert_int_eq(ssid_stats_outcome(ETIMEDOUT), SSI_OUTCOME_FAILED);
    ck_assert_int_eq(ssid_stats_outcome(EAGAIN), SSI_OUTCOME_FAILED);
    ck_assert_int_eq(ssid_stats_outcome(ESRCH), SSI_OUTCOME_NOPROC);
    /* A process lost, or whose fate is unknown: never "failed, kept". */
    ck_assert_int_eq(ssid_stats_outcome(ENOTRECOVERABLE), SSI_OUTCOME_OTHER);
    ck_assert_int_eq(ssid_stats_outcome(ENOLINK), SSI_OUTCOME_OTHER);
    ck_assert_int_eq(ssid_stats_outcome(ENOMEM), SSI_OUTCOME_OTHER);
    ck_assert_int_eq(ssid_stats_outcome(EALREADY), SSI_OUTCOME_OTHER);
    ck_assert_str_eq(ssi_outcome_name(SSI_OUTCOME_PERM), "permission");
    ck_assert_str_eq(ssi_outcome_name(99), "other");
}
END_TEST

/* The STATS record of this process's counters, decoded: guests, the count
 * of each outcome, bytes, each bucket (bound, count) and the sum. */
typedef struct {
    uint64_t guests, outcome[SSI_OUTCOME_MAX + 1], bytes, sum, calls;
    uint64_t le[SSID_STATS_BUCKETS + 1], n[SSID_STATS_BUCKETS + 1];
    size_t nb;
} decoded_t;

static void s_decode(decoded_t *d)
{
    static uint8_t buf[8192];
    static ssi_msg_t m;
    static ssi_field_t f[64];
    ssi_msg_writer_t w;
    memset(d, 0, sizeof *d);
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_PS_REP);
    ssid_stats_put(&w, "n7", 3);
    long len = ssi_msg_end(&w);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)len, &m), 0);
    const ssi_field_t *rec = ssi_msg_find(m.field, m.nfields, SSI_TAG_STATS);
    ck_assert_ptr_nonnull(rec);
    long k = ssi_msg_fields(rec->val, rec->len, f, 64);
    ck_assert_int_gt(k, 0);
    char node[8];
    ck_assert_int_eq(ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), node, sizeof node), 0);
    ck_assert_str_eq(node, "n7");
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_GUESTS), &d->guests);
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_BYTES), &d->bytes);
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_FRZSUM), &d->sum);
    ck_assert_int_eq(ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_CALLS), &d->calls), 0);
    for (long i = 0; i < k; i++) {
        ssi_field_t g[4];
        uint64_t a = 0, b = 0;
        if (f[i].tag != SSI_TAG_MIGS && f[i].tag != SSI_TAG_FREEZE)
            continue;
        long kg = ssi_msg_fields(f[i].val, f[i].len, g, 4);
        ck_assert_int_eq(kg, 2);
        ck_assert_int_eq(ssi_field_u64(ssi_msg_find(g, 2, SSI_TAG_SEQ), &b), 0);
        if (f[i].tag == SSI_TAG_MIGS) {
            ck_assert_int_eq(ssi_field_u64(ssi_msg_find(g, 2, SSI_TAG_OUTCOME), &a), 0);
            ck_assert_uint_le(a, SSI_OUTCOME_MAX);
            d->outcome[a] = b;
        } else {
            ck_assert_uint_lt(d->nb, SSID_STATS_BUCKETS + 1);
            ck_assert_int_eq(ssi_field_u64(ssi_msg_find(g, 2, SSI_TAG_LEUS), &a), 0);
            d->le[d->nb] = a;
            d->n[d->nb++] = b;
        }
    }
}

START_TEST(test_stats_record_holds_counts)
{
    decoded_t d;
    ssid_stats_count(SSI_OUTCOME_OK);
    ssid_stats_count(SSI_OUTCOME_OK);
    ssid_stats_count(SSI_OUTCOME_REFUSED);
    ssid_stats_count(42); /* out of range: counted as other */
    ssid_stats_moved(1000, 800);
    ssid_stats_moved(24, 1000); /* on the first bound: in its bucket */
    ssid_stats_moved(1, 1001);  /* just above: the next */
    ssid_stats_moved(1, 20000000);
    ssid_stats_calls(1000);
    ssid_stats_calls(5);
    s_decode(&d);
    ck_assert_uint_eq(d.calls, 1005);
    ck_assert_uint_eq(d.guests, 3);
    ck_assert_uint_eq(d.outcome[SSI_OUTCOME_OK], 2);
    ck_assert_uint_eq(d.outcome[SSI_OUTCOME_REFUSED], 1);
    ck_assert_uint_eq(d.outcome[SSI_OUTCOME_OTHER], 1);
    ck_assert_uint_eq(d.outcome[SSI_OUTCOME_FAILED], 0);
    ck_assert_uint_eq(d.bytes, 1026);
    ck_assert_uint_eq(d.sum, 800 + 1000 + 1001 + 20000000);
    /* Bounds rising, ending with +Inf; one bucket per time. */
    ck_assert_uint_eq(d.nb, SSID_STATS_BUCKETS + 1);
    ck_assert_uint_eq(d.le[0], 1000);
    ck_assert_uint_eq(d.le[d.nb - 1], UINT64_MAX);
    for (size_t i = 1; i < d.nb; i++)
        ck_assert_uint_gt(d.le[i], d.le[i - 1]);
    ck_assert_uint_eq(d.n[0], 2);
    ck_assert_uint_eq(d.n[1], 1);
    ck_assert_uint_eq(d.n[d.nb - 1], 1);
    uint64_t total = 0;
    for (size_t i = 0; i < d.nb; i++)
        total += d.n[i];
    ck_assert_uint_eq(total, 4);
}
END_TEST

Suite *suite_stats(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("counters");
    tcase_add_test(tc, test_stats_classes_errnos);
    tcase_add_test(tc, test_stats_record_holds_counts);
    suite_add_tcase(s, tc);
    return s;
}
