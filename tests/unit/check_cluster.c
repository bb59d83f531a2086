/* ssi_cluster: the cluster file parser, its allowlist lookup, bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check_ssi.h"
#include "ssi_cluster.h"

#define K1 "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define K2 "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static const char *good = "# a comment\n"
                          "cluster = lab\n"
                          "\n"
                          "node = n1\n"
                          "    endpoint = tcp://198.18.0.1:7410   # trailing comment\n"
                          "    key = \"" K1 "\"\n"
                          "node = n2\n"
                          "    key = '" K2 "'\n"
                          "    endpoint = tcp://host-2.example:7410\n";

static char err[512];

START_TEST(test_cluster_parses_nodes)
{
    ssi_cluster_t *c = ssi_cluster_parse(good, "good", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(ssi_cluster_name(c), "lab");
    ck_assert_uint_eq(ssi_cluster_size(c), 2);
    const ssi_node_conf_t *n2 = ssi_cluster_find(c, "n2");
    ck_assert_ptr_nonnull(n2);
    ck_assert_str_eq(n2->endpoint, "tcp://host-2.example:7410");
    ck_assert_str_eq(n2->key, K2);
    ck_assert_str_eq(ssi_cluster_node(c, 0)->endpoint, "tcp://198.18.0.1:7410");
    ck_assert_int_eq(ssi_cluster_index(c, "n1"), 0);
    ck_assert_ptr_null(ssi_cluster_find(c, "n3"));
    ssi_cluster_destroy(&c);
    ck_assert_ptr_null(c);
    ssi_cluster_destroy(&c); /* safe twice */
}
END_TEST

START_TEST(test_cluster_allowlist_by_key)
{
    ssi_cluster_t *c = ssi_cluster_parse(good, "good", err, sizeof err);
    ck_assert_ptr_nonnull(c);
    unsigned char key[32];
    ck_assert_ptr_nonnull(zmq_z85_decode(key, K2));
    const ssi_node_conf_t *n = ssi_cluster_find_key(c, key);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->name, "n2");
    key[0] ^= 1;
    ck_assert_ptr_null(ssi_cluster_find_key(c, key));
    ssi_cluster_destroy(&c);
}
END_TEST

/* Each bad file is refused with a message naming what is wrong. */
static void expect_bad(const char *text, const char *needle)
{
    ssi_cluster_t *c = ssi_cluster_parse(text, "f.conf", err, sizeof err);
    ck_assert_msg(c == NULL, "accepted: %s", text);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_cluster_rejects_bad_input)
{
    expect_bad("", "no nodes");
    expect_bad("cluster = x\n", "no nodes");
    expect_bad("node = n1\n    endpoint = tcp://a:1\n", "lacks a key");
    expect_bad("node = n1\n    key = \"" K1 "\"\n", "lacks an endpoint");
    expect_bad("node = n1\n    endpoint = udp://a:1\n    key = \"" K1 "\"\n",
               "f.conf:2: bad endpoint");
    expect_bad("node = n1\n    endpoint = tcp://a:99999\n", "bad endpoint");
    expect_bad("node = n1\n    endpoint = tcp://a:1\n    key = \"short\"\n", "f.conf:3: bad key");
    expect_bad("node = n1\n    key = \"" K1 "\n", "f.conf:2: unterminated");
    expect_bad("node = bad/name\n", "bad node name");
    expect_bad("node = home\n", "bad node name");
    expect_bad("node =\n", "bad node name");
    expect_bad("nodes = n1\n", "f.conf:1: unknown setting 'nodes'");
    expect_bad("node = n1\n    colour = red\n", "unknown node setting 'colour'");
    expect_bad("node = n1\n  endpoint = tcp://a:1\n", "unexpected indentation");
    expect_bad("    endpoint = tcp://a:1\n", "unexpected indentation");
    expect_bad("node = n1\n\tendpoint = tcp://a:1\n", "tab in indentation");
    expect_bad("node = n1\n    endpoint\n", "needs a value");
    expect_bad("node = n1\n    endpoint = tcp://a:1\n    key = \"" K1 "\"\n"
               "node = n1\n",
               "f.conf:4: node 'n1' listed twice");
    expect_bad("node = n1\n    endpoint = tcp://a:1\n    key = \"" K1 "\"\n"
               "node = n2\n    endpoint = tcp://b:1\n    key = \"" K1 "\"\n",
               "share a key");
}
END_TEST

/* spool = DIR: the checkpoints' directory, absolute; a default without it. */
START_TEST(test_cluster_spool)
{
    ssi_cluster_t *c = ssi_cluster_parse(good, "good", err, sizeof err);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(ssi_cluster_spool(c), SSI_SPOOL_DEFAULT);
    ssi_cluster_destroy(&c);
    c = ssi_cluster_parse("spool = /srv/ckpt\nnode = n1\n    endpoint = tcp://a:1\n"
                          "    key = \"" K1 "\"\n",
                          "s", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(ssi_cluster_spool(c), "/srv/ckpt");
    ssi_cluster_destroy(&c);
    expect_bad("spool = ckpt\nnode = n1\n", "f.conf:1: 'spool' needs an absolute directory");
    expect_bad("spool =\nnode = n1\n", "'spool' needs an absolute directory");
}
END_TEST

/* checkpoint_every = S: the default period of periodic checkpoints, 0 (none)
 * without it; a number of seconds within bounds, else refused. */
START_TEST(test_cluster_checkpoint_every)
{
    ssi_cluster_t *c = ssi_cluster_parse(good, "good", err, sizeof err);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(ssi_cluster_checkpoint_every(c), 0);
    ssi_cluster_destroy(&c);
    c = ssi_cluster_parse("checkpoint_every = 600\nnode = n1\n    endpoint = tcp://a:1\n"
                          "    key = \"" K1 "\"\n",
                          "s", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(ssi_cluster_checkpoint_every(c), 600);
    ssi_cluster_destroy(&c);
    expect_bad("checkpoint_every = 10s\nnode = n1\n",
               "f.conf:1: 'checkpoint_every' is a number of seconds from 0 to 31536000, not '10s'");
    expect_bad("checkpoint_every = -5\nnode = n1\n", "'checkpoint_every' is a number of seconds");
    expect_bad("checkpoint_every = 31536001\nnode = n1\n",
               "'checkpoint_every' is a number of seconds");
    expect_bad("checkpoint_every =\nnode = n1\n", "'checkpoint_every' is a number of seconds");
}
END_TEST

/* sandbox = on|off: a body runs in its sandbox unless the file says off
 * (ssi-cluster(5)); anything else is refused, naming the line. */
START_TEST(test_cluster_sandbox)
{
    ssi_cluster_t *c = ssi_cluster_parse(good, "good", err, sizeof err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(ssi_cluster_sandbox(c), 1);
    ssi_cluster_destroy(&c);
    for (int off = 0; off < 2; off++) {
        char text[256];
        snprintf(text, sizeof text,
                 "sandbox = %s\nnode = n1\n    endpoint = tcp://a:1\n    key = \"" K1 "\"\n",
                 off ? "off" : "on");
        c = ssi_cluster_parse(text, "s", err, sizeof err);
        ck_assert_msg(c != NULL, "%s", err);
        ck_assert_int_eq(ssi_cluster_sandbox(c), !off);
        ssi_cluster_destroy(&c);
    }
    expect_bad("node = n1\nsandbox = no\n", "f.conf:2: 'sandbox' is 'on' or 'off', not 'no'");
    expect_bad("sandbox =\nnode = n1\n", "'sandbox' is 'on' or 'off'");
}
END_TEST

/* The text of a cluster of the given nodes, each with its own fresh key. */
static char s_keys[5][41];
static void s_text(char *out, size_t cap, const char *nodes, const char *n3_endpoint)
{
    size_t len = 0;
    for (const char *p = nodes; *p; p++) {
        int i = *p - '0';
        len += (size_t)snprintf(out + len, cap - len,
                                "node = n%d\n    endpoint = %s\n    key = \"%s\"\n", i,
                                i == 3 && n3_endpoint ? n3_endpoint : "tcp://a:1", s_keys[i]);
    }
}

/* A cluster file read again: indices stay, removed nodes leave the lookups
 * and the allowlist, new ones are appended, a removed one comes back. */
START_TEST(test_cluster_update)
{
    char text[2048], secret[41];
    unsigned char what[SSI_CLUSTER_MAX];
    unsigned char bin[32];
    for (int i = 1; i <= 4; i++)
        ck_assert_int_eq(zmq_curve_keypair(s_keys[i], secret), 0);
    s_text(text, sizeof text, "123", NULL);
    ssi_cluster_t *c = ssi_cluster_parse(text, "a", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    s_text(text, sizeof text, "134", "tcp://b:2");
    ssi_cluster_t *f = ssi_cluster_parse(text, "b", err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_int_eq(ssi_cluster_update(c, f, what, err, sizeof err), 0);
    ssi_cluster_destroy(&f);
    ck_assert_uint_eq(ssi_cluster_size(c), 4);
    ck_assert_int_eq(what[0], SSI_CLUSTER_SAME);
    ck_assert_int_eq(what[1], SSI_CLUSTER_REMOVED);
    ck_assert_int_eq(what[2], SSI_CLUSTER_CHANGED);
    ck_assert_int_eq(what[3], SSI_CLUSTER_ADDED);
    ck_assert_int_eq(ssi_cluster_index(c, "n1"), 0);
    ck_assert_int_eq(ssi_cluster_index(c, "n2"), -1);
    ck_assert_int_eq(ssi_cluster_index(c, "n3"), 2);
    ck_assert_int_eq(ssi_cluster_index(c, "n4"), 3);
    ck_assert(ssi_cluster_removed(c, 1));
    ck_assert_str_eq(ssi_cluster_node(c, 2)->endpoint, "tcp://b:2");
    zmq_z85_decode(bin, s_keys[2]);
    ck_assert_ptr_null(ssi_cluster_find_key(c, bin));
    zmq_z85_decode(bin, s_keys[4]);
    ck_assert_ptr_eq(ssi_cluster_find_key(c, bin), ssi_cluster_node(c, 3));
    /* n2 comes back at its old index. */
    s_text(text, sizeof text, "1234", "tcp://b:2");
    f = ssi_cluster_parse(text, "c", err, sizeof err);
    ck_assert_int_eq(ssi_cluster_update(c, f, what, err, sizeof err), 0);
    ssi_cluster_destroy(&f);
    ck_assert_uint_eq(ssi_cluster_size(c), 4);
    ck_assert_int_eq(what[1], SSI_CLUSTER_ADDED);
    ck_assert_int_eq(what[0] + what[2] + what[3], 0);
    ck_assert_int_eq(ssi_cluster_index(c, "n2"), 1);
    ck_assert(!ssi_cluster_removed(c, 1));
    ssi_cluster_destroy(&c);
}
END_TEST

/* The balancer's block: defaults, every knob read, node speeds. */
START_TEST(test_cluster_balance_settings)
{
    ssi_cluster_t *c = ssi_cluster_parse(good, "good", err, sizeof err);
    ck_assert_ptr_nonnull(c);
    const ssi_balance_conf_t *b = ssi_cluster_balance(c);
    ck_assert_int_eq(b->on, 1);
    ck_assert_uint_eq(b->period_ms, 500);
    ck_assert_uint_eq(b->residence_ms, 3000);
    ck_assert_double_eq_tol(b->margin, 0.25, 1e-9);
    ck_assert_int_eq(b->place, 1);
    ck_assert_uint_eq(b->moves, 4);
    ck_assert_double_eq_tol(ssi_cluster_node(c, 1)->speed, 1, 1e-9);
    ssi_cluster_destroy(&c);
    c = ssi_cluster_parse("balance = off\n"
                          "    period = 700\n"
                          "    margin = 0.5\n"
                          "    residence = 4000\n"
                          "    near = 0.2\n"
                          "    bandwidth = 12.5\n"
                          "    io_limit = 80\n"
                          "    call_ms = 0.3\n"
                          "    mem_min = 48\n"
                          "    consolidate = on\n"
                          "    empty_after = 3000\n"
                          "    empty_command = \"systemctl suspend\"\n"
                          "    place = off\n"
                          "    moves = 2\n"
                          "node = n1\n"
                          "    endpoint = tcp://a:1\n"
                          "    key = \"" K1 "\"\n"
                          "    speed = 2.5\n",
                          "b", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    b = ssi_cluster_balance(c);
    ck_assert_int_eq(b->on, 0);
    ck_assert_uint_eq(b->period_ms, 700);
    ck_assert_uint_eq(b->residence_ms, 4000);
    ck_assert_double_eq_tol(b->margin, 0.5, 1e-9);
    ck_assert_double_eq_tol(b->near, 0.2, 1e-9);
    ck_assert_double_eq_tol(b->bandwidth, 12.5, 1e-9);
    ck_assert_double_eq_tol(b->io_limit, 80, 1e-9);
    ck_assert_double_eq_tol(b->call_ms, 0.3, 1e-9);
    ck_assert_double_eq_tol(b->mem_min, 48, 1e-9);
    ck_assert_int_eq(b->consolidate, 1);
    ck_assert_uint_eq(b->empty_after_ms, 3000);
    ck_assert_str_eq(b->empty_command, "systemctl suspend");
    ck_assert_int_eq(b->place, 0);
    ck_assert_uint_eq(b->moves, 2);
    ck_assert_double_eq_tol(ssi_cluster_node(c, 0)->speed, 2.5, 1e-9);
    ssi_cluster_destroy(&c);
}
END_TEST

START_TEST(test_cluster_balance_rejects_bad_input)
{
#define N1 "node = n1\n    endpoint = tcp://a:1\n    key = \"" K1 "\"\n"
    expect_bad("balance = maybe\n" N1, "f.conf:1: 'balance' is 'on' or 'off', not 'maybe'");
    expect_bad("balance\n" N1, "'balance' is 'on' or 'off'");
    expect_bad("balance = on\n    period = 10\n" N1, "f.conf:2: bad balance period '10'");
    expect_bad("balance = on\n    margin = -1\n" N1, "bad balance margin '-1'");
    expect_bad("balance = on\n    near = 1x\n" N1, "bad balance near '1x'");
    expect_bad("balance = on\n    bandwidth = 0\n" N1, "bad balance bandwidth '0'");
    expect_bad("balance = on\n    speed = 2\n" N1, "unknown balance setting 'speed'");
    expect_bad("balance = on\n    consolidate = yes\n" N1, "'consolidate' is 'on' or 'off'");
    expect_bad("balance = on\n    place = 1\n" N1, "'place' is 'on' or 'off', not '1'");
    expect_bad("balance = on\n    moves = 0\n" N1, "bad balance moves '0'");
    expect_bad("balance = on\n    period =\n" N1, "f.conf:2: 'period' needs a value");
    expect_bad("balance = on\nbalance = off\n" N1, "f.conf:2: 'balance' given twice");
    expect_bad(N1 "    speed = 0\n", "f.conf:4: bad speed '0' for node 'n1'");
    expect_bad(N1 "    speed = fast\n", "bad speed 'fast'");
#undef N1
}
END_TEST

START_TEST(test_cluster_load_missing_file)
{
    ssi_cluster_t *c = ssi_cluster_load("/nonexistent/cluster.conf", err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "cannot open cluster file") && strstr(err, "No such file"), "%s",
                  err);
}
END_TEST

START_TEST(test_cluster_load_file)
{
    char path[] = "/tmp/ssi-cluster-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, good, strlen(good)), (ssize_t)strlen(good));
    close(fd);
    ssi_cluster_t *c = ssi_cluster_load(path, err, sizeof err);
    unlink(path);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(ssi_cluster_size(c), 2);
    ssi_cluster_destroy(&c);
}
END_TEST

START_TEST(test_cluster_valid_names)
{
    ck_assert(ssi_cluster_valid_name("n1"));
    ck_assert(ssi_cluster_valid_name("node-7.lab_a"));
    ck_assert(!ssi_cluster_valid_name(""));
    ck_assert(!ssi_cluster_valid_name("a b"));
    ck_assert(!ssi_cluster_valid_name("home"));
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = 0;
    ck_assert(!ssi_cluster_valid_name(longname));
}
END_TEST

Suite *suite_cluster(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_cluster_parses_nodes);
    tcase_add_test(tc, test_cluster_allowlist_by_key);
    tcase_add_test(tc, test_cluster_balance_settings);
    tcase_add_test(tc, test_cluster_balance_rejects_bad_input);
    tcase_add_test(tc, test_cluster_rejects_bad_input);
    tcase_add_test(tc, test_cluster_load_missing_file);
    tcase_add_test(tc, test_cluster_spool);
    tcase_add_test(tc, test_cluster_checkpoint_every);
    tcase_add_test(tc, test_cluster_sandbox);
    tcase_add_test(tc, test_cluster_update);
    tcase_add_test(tc, test_cluster_load_file);
    tcase_add_test(tc, test_cluster_valid_names);
    suite_add_tcase(s, tc);
    return s;
}
