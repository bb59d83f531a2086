/* ssi_gossip: freshness merge, liveness, the window, decoding peers' claims. */
#include <errno.h>
#include <string.h>

#include "check_ssi.h"
#include "ssi_gossip.h"

static const char *conf =
    "node = n1\n    endpoint = tcp://a:1\n    key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n"
    "node = n2\n    endpoint = tcp://b:1\n    key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
    "node = n3\n    endpoint = tcp://c:1\n    key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n";

static ssi_cluster_t *cluster;
static ssi_gossip_t *g;
static ssi_msg_t m;

static void setup(void)
{
    char err[256];
    cluster = ssi_cluster_parse(conf, "conf", err, sizeof err);
    ck_assert_msg(cluster != NULL, "%s", err);
    g = ssi_gossip_new(cluster, "n1");
    ck_assert_ptr_nonnull(g);
}

static void teardown(void)
{
    ssi_gossip_destroy(&g);
    ssi_cluster_destroy(&cluster);
}

static ssi_gossip_entry_t entry(uint64_t loadm)
{
    return (ssi_gossip_entry_t){
        .loadm = loadm, .ncpu = 2, .cpum = 2000, .freekb = 1024, .nprocs = 1};
}

START_TEST(test_gossip_unknown_self_refused)
{
    ck_assert_ptr_null(ssi_gossip_new(cluster, "n9"));
}
END_TEST

START_TEST(test_gossip_keeps_freshest)
{
    ssi_gossip_entry_t e = entry(1000);
    ck_assert_int_eq(ssi_gossip_merge(g, 1, &e, 300, 10000), 1); /* measured at 9700 */
    e = entry(2000);
    ck_assert_int_eq(ssi_gossip_merge(g, 1, &e, 500, 10000), 0); /* 9500: older */
    ck_assert_uint_eq(ssi_gossip_entry(g, 1)->loadm, 1000);
    e = entry(3000);
    ck_assert_int_eq(ssi_gossip_merge(g, 1, &e, 100, 10000), 1); /* 9900: newer */
    ck_assert_uint_eq(ssi_gossip_entry(g, 1)->loadm, 3000);
    ck_assert_int_eq(ssi_gossip_entry(g, 1)->stamp, 9900);
}
END_TEST

START_TEST(test_gossip_ignores_claims_about_self_and_stale)
{
    ssi_gossip_entry_t own = entry(500);
    ssi_gossip_set_own(g, &own, 10000);
    ssi_gossip_entry_t e = entry(9999);
    ck_assert_int_eq(ssi_gossip_merge(g, 0, &e, 0, 20000), 0);
    ck_assert_uint_eq(ssi_gossip_entry(g, 0)->loadm, 500);
    ck_assert_int_eq(ssi_gossip_merge(g, 2, &e, SSI_GOSSIP_MAX_AGE + 1, 20000), 0);
    ck_assert_int_eq(ssi_gossip_merge(g, 7, &e, 0, 20000), 0);
    ck_assert_int_eq(ssi_gossip_merge(g, -1, &e, 0, 20000), 0);
}
END_TEST

START_TEST(test_gossip_liveness_from_heartbeats_only)
{
    ck_assert(ssi_gossip_is_up(g, 0, 0));  /* self */
    ck_assert(!ssi_gossip_is_up(g, 1, 0)); /* never heard */
    ssi_gossip_entry_t e = entry(1);
    ssi_gossip_merge(g, 1, &e, 0, 1000);
    ck_assert(!ssi_gossip_is_up(g, 1, 1000)); /* hearsay is not a heartbeat */
    ssi_gossip_heard(g, 1, 1000);
    ck_assert(ssi_gossip_is_up(g, 1, 1000 + SSI_GOSSIP_DOWN_MS));
    ck_assert(!ssi_gossip_is_up(g, 1, 1001 + SSI_GOSSIP_DOWN_MS));
    ck_assert_int_eq(ssi_gossip_pick(g, 12345, 1500), 1); /* the only up peer */
    ck_assert_int_eq(ssi_gossip_pick(g, 1, 99999), -1);
}
END_TEST

START_TEST(test_gossip_roundtrip_through_codec)
{
    /* n1 knows itself and n3; n2 decodes n1's gossip and learns both. */
    ssi_gossip_entry_t own = entry(1500), e3 = entry(250);
    own.blocked = 2; /* n1 drains: its state travels */
    own.emptyms = 4500;
    ssi_gossip_set_own(g, &own, 5000);
    ssi_gossip_merge(g, 2, &e3, 1000, 5000); /* n3 measured at 4000 */
    uint8_t buf[1024];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_GOSSIP);
    ssi_gossip_encode(g, &w, 5200, false);
    long n = ssi_msg_end(&w);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), 0);

    ssi_gossip_t *g2 = ssi_gossip_new(cluster, "n2");
    ck_assert_int_eq(ssi_gossip_apply(g2, &m, 100000), 2);
    ck_assert_uint_eq(ssi_gossip_entry(g2, 0)->loadm, 1500);
    ck_assert_int_eq(ssi_gossip_entry(g2, 0)->stamp, 100000 - 200);
    ck_assert_uint_eq(ssi_gossip_entry(g2, 0)->blocked, 2);
    ck_assert_uint_eq(ssi_gossip_entry(g2, 0)->emptyms, 4500);
    ck_assert_uint_eq(ssi_gossip_entry(g2, 2)->loadm, 250);
    ck_assert_uint_eq(ssi_gossip_entry(g2, 2)->blocked, 0);
    ck_assert_int_eq(ssi_gossip_entry(g2, 2)->stamp, 100000 - 1200);
    /* The same message again brings nothing new. */
    ck_assert_int_eq(ssi_gossip_apply(g2, &m, 100000), 0);
    ssi_gossip_destroy(&g2);
}
END_TEST

START_TEST(test_gossip_rejects_malformed_records)
{
    uint8_t buf[256];
    ssi_msg_writer_t w;
    /* A LOAD record with a number of the wrong width. */
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_GOSSIP);
    size_t mark = ssi_msg_open(&w, SSI_TAG_LOAD);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n2");
    ssi_msg_put_u64(&w, SSI_TAG_AGEMS, 5);
    ssi_msg_put_bytes(&w, SSI_TAG_LOADM, "abc", 3);
    ssi_msg_close(&w, mark);
    long n = ssi_msg_end(&w);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), 0);
    ck_assert_int_eq(ssi_gossip_apply(g, &m, 1000), -EBADMSG);
    /* A record without a node name. */
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_GOSSIP);
    mark = ssi_msg_open(&w, SSI_TAG_LOAD);
    ssi_msg_put_u64(&w, SSI_TAG_AGEMS, 5);
    ssi_msg_close(&w, mark);
    n = ssi_msg_end(&w);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), 0);
    ck_assert_int_eq(ssi_gossip_apply(g, &m, 1000), -EBADMSG);
    /* A record whose inner fields overrun it. */
    uint8_t bad[] = {'S', 'I', 1, 4, 0, 0, 0, 6, SSI_TAG_LOAD, 0, 3, SSI_TAG_NODE, 0, 9};
    ck_assert_int_eq(ssi_msg_parse(bad, sizeof bad, &m), 0);
    ck_assert_int_eq(ssi_gossip_apply(g, &m, 1000), -EBADMSG);
    /* A claim about a node not in the cluster is skipped, not an error. */
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_GOSSIP);
    mark = ssi_msg_open(&w, SSI_TAG_LOAD);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "stranger");
    ssi_msg_put_u64(&w, SSI_TAG_AGEMS, 5);
    ssi_msg_put_u64(&w, SSI_TAG_LOADM, 1);
    ssi_msg_put_u64(&w, SSI_TAG_NCPU, 1);
    ssi_msg_put_u64(&w, SSI_TAG_CPUM, 1);
    ssi_msg_put_u64(&w, SSI_TAG_FREEKB, 1);
    ssi_msg_put_u64(&w, SSI_TAG_NPROCS, 1);
    ssi_msg_close(&w, mark);
    n = ssi_msg_end(&w);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), 0);
    ck_assert_int_eq(ssi_gossip_apply(g, &m, 1000), 0);
}
END_TEST

START_TEST(test_gossip_window_is_bounded_and_fresh_first)
{
    ssi_gossip_entry_t own = entry(1);
    ssi_gossip_set_own(g, &own, 100);
    ssi_gossip_entry_t e = entry(2);
    ssi_gossip_merge(g, 1, &e, 50, 100);
    ssi_gossip_merge(g, 2, &e, 10, 100);
    uint8_t buf[1024];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_GOSSIP);
    ssi_gossip_encode(g, &w, 100, false);
    long n = ssi_msg_end(&w);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), 0);
    ck_assert_uint_eq(m.nfields, 3);
    const char *order[] = {"n1", "n3", "n2"}; /* self, then by freshness */
    for (int i = 0; i < 3; i++) {
        ssi_field_t f[16];
        long k = ssi_msg_fields(m.field[i].val, m.field[i].len, f, 16);
        char name[64];
        ck_assert_int_eq(ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), name, sizeof name),
                         0);
        ck_assert_str_eq(name, order[i]);
    }
}
END_TEST

/* The node table for a tool: each node's STATE, VERSION and PROTO. */
static void s_table_row(int idx, int64_t now, char *state, char *version, uint64_t *proto)
{
    static uint8_t buf[4096];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, buf, sizeof buf, SSI_MSG_NODES_REP);
    ssi_gossip_encode_table(g, &w, now, SSI_MSG_VERSION);
    long n = ssi_msg_end(&w);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(ssi_msg_parse(buf, (size_t)n, &m), 0);
    ck_assert_uint_eq(m.nfields, 3);
    ssi_field_t f[16];
    long k = ssi_msg_fields(m.field[idx].val, m.field[idx].len, f, 16);
    ck_assert_int_gt(k, 0);
    ck_assert_int_eq(ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_STATE), state, 64), 0);
    version[0] = 0;
    ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_VERSION), version, 64);
    *proto = 0;
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_PROTO), proto);
}

START_TEST(test_gossip_table_shows_versions)
{
    char state[64], version[64];
    uint64_t proto;
    ssi_gossip_set_version(g, 0, "1.2.3");
    ssi_gossip_heard(g, 1, 1000);
    ssi_gossip_set_version(g, 1, "1.2.4");
    s_table_row(0, 1000, state, version, &proto);
    ck_assert_str_eq(state, "up");
    ck_assert_str_eq(version, "1.2.3");
    ck_assert_uint_eq(proto, SSI_MSG_VERSION);
    s_table_row(1, 1000, state, version, &proto);
    ck_assert_str_eq(state, "up");
    ck_assert_str_eq(version, "1.2.4");
    ck_assert_uint_eq(proto, SSI_MSG_VERSION);
    /* Never heard: down, no version, no protocol. */
    s_table_row(2, 1000, state, version, &proto);
    ck_assert_str_eq(state, "down");
    ck_assert_str_eq(version, "");
    ck_assert_uint_eq(proto, 0);
    /* A version longer than the table keeps is cut, not dropped. */
    ssi_gossip_set_version(g, 2, "0123456789012345678901234567890123456789");
    ck_assert_uint_eq(strlen(ssi_gossip_version(g, 2)), SSI_GOSSIP_VERSION_MAX - 1);
}
END_TEST

START_TEST(test_gossip_other_protocol_is_incompatible)
{
    char state[64], version[64];
    uint64_t proto;
    ssi_gossip_heard(g, 1, 1000);
    ssi_gossip_set_version(g, 1, "1.2.4");
    ck_assert(ssi_gossip_is_up(g, 1, 1000));
    /* The first frame of protocol 2 is news (logged once); the next is not. */
    ck_assert_int_eq(ssi_gossip_alien(g, 1, 2, 1100), 1);
    ck_assert_int_eq(ssi_gossip_alien(g, 1, 2, 1600), 0);
    ck_assert_int_eq(ssi_gossip_alien_proto(g, 1, 1700), 2);
    /* Shown as such, never as up, and what it said before no longer holds. */
    ck_assert(!ssi_gossip_is_up(g, 1, 1700));
    ck_assert_int_eq(ssi_gossip_pick(g, 0, 1700), -1);
    s_table_row(1, 1700, state, version, &proto);
    ck_assert_str_eq(state, "incompatible (protocol 2)");
    ck_assert_str_eq(version, "");
    ck_assert_uint_eq(proto, 2);
    /* Another protocol again is news again. */
    ck_assert_int_eq(ssi_gossip_alien(g, 1, 3, 1800), 1);
    /* Silent for longer than the down time: down, not incompatible. */
    s_table_row(1, 1800 + SSI_GOSSIP_DOWN_MS + 1, state, version, &proto);
    ck_assert_str_eq(state, "down");
    ck_assert_int_eq(ssi_gossip_alien(g, 1, 3, 1800 + SSI_GOSSIP_DOWN_MS + 2), 1);
    /* A frame of our protocol (after an upgrade): up again at once. */
    ssi_gossip_heard(g, 1, 5000);
    s_table_row(1, 5000, state, version, &proto);
    ck_assert_str_eq(state, "up");
    ck_assert_uint_eq(proto, SSI_MSG_VERSION);
    /* Ourselves and unknown nodes are never marked. */
    ck_assert_int_eq(ssi_gossip_alien(g, 0, 2, 5000), 0);
    ck_assert_int_eq(ssi_gossip_alien(g, 7, 2, 5000), 0);
    ck_assert_int_eq(ssi_gossip_alien_proto(g, 0, 5000), 0);
}
END_TEST

Suite *suite_gossip(void)
{
    Suite *s = suite_create("gossip");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_gossip_unknown_self_refused);
    tcase_add_test(tc, test_gossip_keeps_freshest);
    tcase_add_test(tc, test_gossip_ignores_claims_about_self_and_stale);
    tcase_add_test(tc, test_gossip_liveness_from_heartbeats_only);
    tcase_add_test(tc, test_gossip_roundtrip_through_codec);
    tcase_add_test(tc, test_gossip_rejects_malformed_records);
    tcase_add_test(tc, test_gossip_window_is_bounded_and_fresh_first);
    tcase_add_test(tc, test_gossip_table_shows_versions);
    tcase_add_test(tc, test_gossip_other_protocol_is_incompatible);
    suite_add_tcase(s, tc);
    return s;
}
