/* ssi_policy: the balancer's decision rule on made-up clusters. */
#include <string.h>

#include "check_ssi.h"
#include "ssi_policy.h"

static const char *const names[] = {"n1", "n2", "n3", "n4"};
static ssi_balance_conf_t conf;
static ssi_policy_node_t nodes[4];
static ssi_policy_proc_t procs[8];

/* Four nodes of 0.3 CPU each, idle; eight CPU-bound processes on n1. */
static void s_setup(void)
{
    conf = (ssi_balance_conf_t){.on = 1,
                                .period_ms = 1000,
                                .margin = 0.25,
                                .residence_ms = 3000,
                                .near = 0.1,
                                .bandwidth = 50,
                                .io_limit = 200,
                                .call_ms = 0.2,
                                .mem_min = 64};
    for (int i = 0; i < 4; i++)
        nodes[i] = (ssi_policy_node_t){
            .up = true, .accepts = true, .runq = 0, .cap = 0.3, .free_mb = 1000};
    nodes[0].runq = 8;
    for (int i = 0; i < 8; i++)
        procs[i] = (ssi_policy_proc_t){
            .pid = 100 + i, .node = 0, .demand = 1, .io_rate = 0, .image_mb = 2, .age_s = 5};
}

static ssi_policy_decision_t s_decide(int nprocs, uint32_t rnd)
{
    ssi_policy_decision_t d;
    ssi_policy_decide(&conf, nodes, names, 4, 0, procs, nprocs, 0, rnd, &d);
    return d;
}

START_TEST(test_policy_spreads_from_loaded_node)
{
    s_setup();
    bool seen[4] = {false};
    for (uint32_t r = 0; r < 30; r++) {
        ssi_policy_decision_t d = s_decide(8, r);
        ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
        ck_assert_int_ge(d.to, 1);
        ck_assert_int_le(d.to, 3);
        ck_assert_int_ge(d.proc, 0);
        ck_assert_double_eq_tol(d.share_now, 0.3 / 8, 1e-9);
        ck_assert_double_eq_tol(d.share_then, 0.3, 1e-9);
        ck_assert_msg(strstr(d.why, "n1 -> n"), "%s", d.why);
        seen[d.to] = true;
    }
    /* Random among the equal targets: every idle node gets picked. */
    ck_assert(seen[1] && seen[2] && seen[3]);
}
END_TEST

START_TEST(test_policy_balanced_stays_quiet)
{
    s_setup();
    for (int i = 0; i < 4; i++)
        nodes[i].runq = 2;
    for (int i = 0; i < 8; i++)
        procs[i].node = i / 2;
    ssi_policy_decision_t d = s_decide(8, 7);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_str_eq(d.why, ""); /* no chance at all: nothing to say */
}
END_TEST

START_TEST(test_policy_margin)
{
    s_setup();
    /* 3 vs 1: 0.10 -> 0.15 of a CPU is 50%: above 25%, below 60%. */
    nodes[0].runq = 3;
    nodes[1].runq = 1;
    nodes[2].runq = nodes[3].runq = 2;
    ssi_policy_decision_t d = s_decide(3, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    ck_assert_int_eq(d.to, 1);
    conf.margin = 0.6;
    d = s_decide(3, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "declined: process 10") && strstr(d.why, "n1 -> n2") &&
                      strstr(d.why, "gain 50% below the margin 60%"),
                  "%s", d.why);
    /* A process that moved already needs 1 + moves margins: 50% is above 2 x 25% only. */
    conf.margin = 0.25;
    for (int i = 0; i < 3; i++)
        procs[i].moves = 1;
    d = s_decide(3, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    for (int i = 0; i < 3; i++)
        procs[i].moves = 2;
    d = s_decide(3, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "gain 50% below the margin 75% (3 x 25%: moved 2 times)"), "%s",
                  d.why);
    procs[1].moves = 0; /* the one that never moved goes */
    d = s_decide(3, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    ck_assert_int_eq(d.proc, 1);
}
END_TEST

START_TEST(test_policy_pinned_and_idle_processes_stay)
{
    s_setup();
    for (int i = 0; i < 8; i++)
        procs[i].pinned = "it stays (ssirun --stay)";
    ssi_policy_decision_t d = s_decide(8, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "it stays (ssirun --stay)"), "%s", d.why);
    s_setup();
    for (int i = 0; i < 8; i++)
        procs[i].demand = 0.1;
    d = s_decide(8, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "not CPU-bound"), "%s", d.why);
    /* One movable among pinned ones: that one moves. */
    s_setup();
    for (int i = 0; i < 8; i++)
        procs[i].pinned = i == 5 ? NULL : "resident less than 3 s";
    d = s_decide(8, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    ck_assert_int_eq(d.proc, 5);
}
END_TEST

START_TEST(test_policy_targets_up_and_accepting_only)
{
    s_setup();
    nodes[1].up = false;
    nodes[2].accepts = false;
    for (uint32_t r = 0; r < 20; r++) {
        ssi_policy_decision_t d = s_decide(8, r);
        ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
        ck_assert_int_eq(d.to, 3);
    }
    nodes[3].up = false;
    ssi_policy_decision_t d = s_decide(8, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
}
END_TEST

START_TEST(test_policy_near_best_only)
{
    s_setup();
    nodes[2].runq = 1; /* n3 offers 0.15, n2 and n4 0.3 */
    for (uint32_t r = 0; r < 20; r++)
        ck_assert_int_ne(s_decide(8, r).to, 2);
    conf.near = 0.6; /* 0.15 - share_now is within 60% of the best: n3 too */
    bool n3 = false;
    for (uint32_t r = 0; r < 20; r++)
        n3 |= s_decide(8, r).to == 2;
    ck_assert(n3);
}
END_TEST

START_TEST(test_policy_cost_of_a_big_image)
{
    s_setup();
    nodes[0].runq = 2; /* 0.15 -> 0.3 */
    for (int i = 0; i < 2; i++)
        procs[i].image_mb = 4000; /* 80 s at 50 MB/s */
    for (int i = 0; i < 4; i++)
        nodes[i].free_mb = 1e6;
    ssi_policy_decision_t d = s_decide(2, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "does not pay"), "%s", d.why);
    /* Measured bandwidth replaces the configured one. */
    ssi_policy_decide(&conf, nodes, names, 4, 0, procs, 2, 5000, 0, &d);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
}
END_TEST

START_TEST(test_policy_io_heavy_come_home)
{
    s_setup();
    /* At home and I/O-heavy: not sent away. */
    for (int i = 0; i < 8; i++)
        procs[i].io_rate = 150; /* > io_limit / 2 */
    ssi_policy_decision_t d = s_decide(8, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "I/O-heavy"), "%s", d.why);
    /* Away and above io_limit: home, whatever the loads. */
    s_setup();
    procs[3].node = 2;
    procs[3].io_rate = 500;
    nodes[2].runq = 1;
    d = s_decide(8, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_HOME);
    ck_assert_int_eq(d.proc, 3);
    ck_assert_int_eq(d.to, 0);
    ck_assert_msg(strstr(d.why, "500 forwarded calls/s"), "%s", d.why);
    /* Nor to a home that drains. */
    nodes[0].accepts = false;
    ck_assert_int_ne(s_decide(8, 0).kind, SSI_POLICY_HOME);
    nodes[0].accepts = true;
    /* A pinned one does not (it is being moved already, say). */
    procs[3].pinned = "migrating";
    ck_assert_int_ne(s_decide(8, 0).kind, SSI_POLICY_HOME);
}
END_TEST

START_TEST(test_policy_memory_ushering)
{
    s_setup();
    /* n2 is short of memory: the biggest of ours there goes to the node
	 * with the most room, whatever the CPU loads say. */
    procs[1].node = procs[2].node = 1;
    procs[1].image_mb = 30;
    procs[2].image_mb = 90;
    nodes[1].runq = 2;
    nodes[1].free_mb = 40;
    nodes[0].free_mb = 100; /* home: no room for 90 + 64 */
    nodes[2].free_mb = 160; /* room */
    nodes[3].free_mb = 100; /* not */
    ssi_policy_decision_t d = s_decide(8, 5);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    ck_assert_int_eq(d.proc, 2);
    ck_assert_int_eq(d.to, 2);
    ck_assert_msg(strstr(d.why, "n2 is short of memory (40 MiB free < mem_min 64): process 102 (90 "
                                "MiB) n2 -> n3 (160 MiB free)"),
                  "%s", d.why);
    /* Home has the most room: it comes home. */
    nodes[0].free_mb = 500;
    d = s_decide(8, 5);
    ck_assert_int_eq(d.kind, SSI_POLICY_HOME);
    ck_assert_int_eq(d.to, 0);
    /* Nowhere has room: declined, with the reason. */
    nodes[0].free_mb = nodes[2].free_mb = nodes[3].free_mb = 100;
    d = s_decide(8, 5);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    ck_assert_msg(strstr(d.why, "no node has room for process 102"), "%s", d.why);
    /* A CPU move never goes where it leaves less than mem_min. */
    s_setup();
    nodes[1].free_mb = nodes[2].free_mb = 60;
    for (uint32_t r = 0; r < 20; r++)
        ck_assert_int_eq(s_decide(8, r).to, 3);
}
END_TEST

START_TEST(test_policy_consolidation)
{
    s_setup();
    for (int i = 0; i < 4; i++)
        nodes[i] = (ssi_policy_node_t){
            .up = true, .accepts = true, .runq = 0.2, .cap = 2, .free_mb = 1000};
    /* Light processes, one per node. */
    for (int i = 0; i < 4; i++)
        procs[i].node = i, procs[i].demand = 0.05;
    ssi_policy_decision_t d = s_decide(4, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE); /* off by default */
    conf.consolidate = 1;
    d = s_decide(4, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_HOME); /* the last node's, to the first with room */
    ck_assert_int_eq(d.proc, 3);
    ck_assert_int_eq(d.to, 0);
    ck_assert_msg(strstr(d.why, "consolidate: process 103 n4 -> n1"), "%s", d.why);
    /* n1 full: to n2; never backwards. */
    nodes[0].runq = 1.98;
    d = s_decide(4, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    ck_assert_int_eq(d.to, 1);
    procs[3].node = 1;
    procs[2].node = 1;
    nodes[1].runq = 1.98; /* n2 now full too: the one on n2... stays; nothing goes to n3, n4 */
    d = s_decide(4, 0);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
}
END_TEST

/* Placement before main: a new process (nothing measured, taken as CPU-bound) goes where it
 * gets more CPU than at home by the margin; idle home, equal nodes: it stays. */
START_TEST(test_policy_place_new_process)
{
    s_setup();
    ssi_policy_decision_t d;
    for (int i = 0; i < 4; i++)
        nodes[i].runq = 0;
    ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, 3, &d);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE); /* 0.3 here, 0.3 there: no gain */
    nodes[0].runq = 1;                         /* one job at home already: 0.15 here against 0.3 */
    for (uint32_t r = 0; r < 3; r++) {
        ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, r, &d);
        ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
        ck_assert_int_ge(d.to, 1);
        ck_assert_double_eq_tol(d.share_now, 0.15, 1e-9);
        ck_assert_msg(strstr(d.why, "process 42 n1 -> n"), "%s", d.why);
    }
    /* Half the margin: with four jobs at home, a new one goes to n4 where three run and a
     * little (5 against 4.1: 22% more CPU, which the full margin of 0.25 would not take);
     * with three at home it stays (4 against 4.1). */
    for (int i = 0; i < 4; i++)
        nodes[i].runq = 4;
    nodes[3].runq = 3.1;
    ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, 0, &d);
    ck_assert_int_eq(d.kind, SSI_POLICY_MOVE);
    ck_assert_int_eq(d.to, 3);
    nodes[0].runq = 3;
    ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, 0, &d);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE); /* 4 here against 4 there */
    for (int i = 0; i < 4; i++)
        nodes[i].runq = i == 0;
    /* A blocked or down node is not a target; with none left, it stays. */
    nodes[1].accepts = false;
    nodes[2].up = false;
    ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, 0, &d);
    ck_assert_int_eq(d.to, 3);
    nodes[3].accepts = false;
    ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, 0, &d);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
    /* Not where it would leave less than mem_min free. */
    nodes[1].accepts = nodes[3].accepts = true;
    nodes[1].free_mb = nodes[3].free_mb = 60;
    ssi_policy_place(&conf, nodes, names, 4, 0, 42, 1, 0, 0, &d);
    ck_assert_int_eq(d.kind, SSI_POLICY_NONE);
}
END_TEST

/* Several moves per period under large imbalance, at most conf.moves out of each SOURCE node
 * (where the process runs), not per home: home n1 runs four processes on n1 and four away on
 * n2; n3 and n4 are idle. */
START_TEST(test_policy_many_moves_limited_per_source)
{
    ssi_policy_decision_t dec[16], declined;
    unsigned out[4];
    s_setup();
    for (int i = 4; i < 8; i++)
        procs[i].node = 1;
    nodes[0].runq = nodes[1].runq = 4;
    conf.moves = 1;
    memset(out, 0, sizeof out);
    int n =
        ssi_policy_decide_many(&conf, nodes, names, 4, 0, procs, 8, 0, 5, out, dec, 16, &declined);
    /* One from n1 and one from n2: a limit per home would allow one in all. */
    ck_assert_int_eq(n, 2);
    ck_assert_int_ne(procs[dec[0].proc].node, procs[dec[1].proc].node);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 1);
    for (int k = 0; k < n; k++)
        ck_assert_int_ge(dec[k].to, 2); /* to the idle nodes */

    /* Two per source: up to two leave each loaded node, while the imbalance stays large. */
    s_setup();
    for (int i = 4; i < 8; i++)
        procs[i].node = 1;
    nodes[0].runq = nodes[1].runq = 4;
    conf.moves = 2;
    memset(out, 0, sizeof out);
    n = ssi_policy_decide_many(&conf, nodes, names, 4, 0, procs, 8, 0, 5, out, dec, 16, &declined);
    ck_assert_int_ge(n, 2);
    ck_assert_uint_le(out[0], 2);
    ck_assert_uint_le(out[1], 2);

    /* Moves other homes already made out of a node count against it. */
    s_setup();
    conf.moves = 3;
    unsigned busy[4] = {3, 0, 0, 0};
    n = ssi_policy_decide_many(&conf, nodes, names, 4, 0, procs, 8, 0, 5, busy, dec, 16, &declined);
    ck_assert_int_eq(n, 0);
    ck_assert_msg(strstr(declined.why, "sent its moves for this period"), "%s", declined.why);
}
END_TEST

/* A further move in the same period only under large imbalance: eight on n1, the three
 * idle nodes fill up, and the moves stop once the share would no longer double. */
START_TEST(test_policy_many_moves_only_under_large_imbalance)
{
    ssi_policy_decision_t dec[16], declined;
    unsigned out[4] = {0};
    s_setup();
    conf.moves = 16;
    int n =
        ssi_policy_decide_many(&conf, nodes, names, 4, 0, procs, 8, 0, 9, out, dec, 16, &declined);
    ck_assert_int_ge(n, 3); /* 0.3/8 -> 0.3 on each idle node: large */
    ck_assert_int_le(n, 5);
    for (int k = 1; k < n; k++)
        ck_assert(dec[k].share_then >= dec[k].share_now * SSI_POLICY_LARGE);
    /* A small imbalance (one more on n1 than elsewhere): one move at most. */
    s_setup();
    conf.moves = 16;
    nodes[0].runq = 3;
    nodes[1].runq = nodes[2].runq = nodes[3].runq = 1;
    memset(out, 0, sizeof out);
    n = ssi_policy_decide_many(&conf, nodes, names, 4, 0, procs, 3, 0, 9, out, dec, 16, &declined);
    ck_assert_int_le(n, 1);
}
END_TEST

Suite *suite_policy(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("decide");
    tcase_add_test(tc, test_policy_spreads_from_loaded_node);
    tcase_add_test(tc, test_policy_balanced_stays_quiet);
    tcase_add_test(tc, test_policy_margin);
    tcase_add_test(tc, test_policy_pinned_and_idle_processes_stay);
    tcase_add_test(tc, test_policy_targets_up_and_accepting_only);
    tcase_add_test(tc, test_policy_near_best_only);
    tcase_add_test(tc, test_policy_cost_of_a_big_image);
    tcase_add_test(tc, test_policy_io_heavy_come_home);
    tcase_add_test(tc, test_policy_memory_ushering);
    tcase_add_test(tc, test_policy_consolidation);
    tcase_add_test(tc, test_policy_place_new_process);
    tcase_add_test(tc, test_policy_many_moves_limited_per_source);
    tcase_add_test(tc, test_policy_many_moves_only_under_large_imbalance);
    suite_add_tcase(s, tc);
    return s;
}
