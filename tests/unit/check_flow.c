/* ssi_flow: per-channel credit of the data link, as both ends use it.
 *
 * A sender and a receiver are driven by hand: every promise of
 * ssi_flow.h is one test, and the refusals (a peer that overruns its
 * window or returns more credit than it was given) are checked with the
 * values a forged frame could carry. */
#include <errno.h>
#include <stdint.h>

#include "check_ssi.h"
#include "ssi_flow.h"
#include "ssi_tunnel_link.h"

#define S_WIN 32768u

START_TEST(test_flow_fresh_window)
{
    ssi_flow_t f;
    ssi_flow_init(&f, S_WIN);
    ck_assert_uint_eq(f.win, S_WIN);
    ck_assert_uint_eq(f.credit, S_WIN);
    ck_assert_uint_eq(f.queued, 0);
    ck_assert_uint_eq(f.unacked, 0);
    ck_assert_uint_eq(ssi_flow_inflight(&f), 0);
    /* The window a channel gets from its flags: sockets get the large one. */
    ck_assert_uint_eq(ssi_tunnel_window(0), SSI_TUNNEL_WINDOW);
    ck_assert_uint_eq(ssi_tunnel_window(SSI_TUNNEL_CHAN_TTY), SSI_TUNNEL_WINDOW);
    ck_assert_uint_eq(ssi_tunnel_window(SSI_TUNNEL_CHAN_SOCKET), SSI_TUNNEL_SOCK_WINDOW);
}
END_TEST

/* Sending uses credit up, the peer's credit gives it back. */
START_TEST(test_flow_send_and_credit)
{
    ssi_flow_t f;
    ssi_flow_init(&f, S_WIN);
    ssi_flow_sent(&f, 1000);
    ck_assert_uint_eq(f.credit, S_WIN - 1000);
    ck_assert_uint_eq(ssi_flow_inflight(&f), 1000);
    ssi_flow_sent(&f, S_WIN - 1000);
    ck_assert_uint_eq(f.credit, 0);
    ck_assert_uint_eq(ssi_flow_inflight(&f), S_WIN);
    ck_assert_int_eq(ssi_flow_credit(&f, S_WIN / 2), 0);
    ck_assert_uint_eq(f.credit, S_WIN / 2);
    ck_assert_int_eq(ssi_flow_credit(&f, S_WIN / 2), 0);
    ck_assert_uint_eq(f.credit, S_WIN);
    ck_assert_uint_eq(ssi_flow_inflight(&f), 0);
}
END_TEST

/* Credit beyond what is in flight is a peer breaking the protocol, and
 * changes nothing. */
START_TEST(test_flow_credit_overflow_refused)
{
    ssi_flow_t f;
    ssi_flow_init(&f, S_WIN);
    ck_assert_int_eq(ssi_flow_credit(&f, 1), -EPROTO); /* nothing in flight */
    ck_assert_uint_eq(f.credit, S_WIN);
    ssi_flow_sent(&f, 100);
    ck_assert_int_eq(ssi_flow_credit(&f, 101), -EPROTO);
    ck_assert_int_eq(ssi_flow_credit(&f, UINT32_MAX), -EPROTO);
    ck_assert_uint_eq(f.credit, S_WIN - 100);
    ck_assert_int_eq(ssi_flow_credit(&f, 100), 0);
    ck_assert_uint_eq(f.credit, S_WIN);
}
END_TEST

/* A receiver accepts a whole window, and not one byte more. */
START_TEST(test_flow_window_overrun_refused)
{
    ssi_flow_t f;
    ssi_flow_init(&f, S_WIN);
    ck_assert_int_eq(ssi_flow_received(&f, S_WIN - 1), 0);
    ck_assert_int_eq(ssi_flow_received(&f, 1), 0);
    ck_assert_uint_eq(f.queued, S_WIN);
    ck_assert_int_eq(ssi_flow_received(&f, 1), -EPROTO);
    ck_assert_uint_eq(f.queued, S_WIN);
    /* Written but not yet credited still counts against the window. */
    ck_assert_uint_eq(ssi_flow_written(&f, 100), 0);
    ck_assert_uint_eq(f.queued, S_WIN - 100);
    ck_assert_int_eq(ssi_flow_received(&f, 1), -EPROTO);
    /* Credited, it is room again. */
    ck_assert_uint_eq(ssi_flow_written(&f, S_WIN / 2), S_WIN / 2 + 100);
    ck_assert_int_eq(ssi_flow_received(&f, S_WIN / 2 + 100), 0);
    ck_assert_int_eq(ssi_flow_received(&f, 1), -EPROTO);
    /* A forged length must not wrap the sum around the check. */
    ssi_flow_init(&f, S_WIN);
    ck_assert_int_eq(ssi_flow_received(&f, 10), 0);
    ck_assert_int_eq(ssi_flow_received(&f, UINT32_MAX - 5), -EPROTO);
    ck_assert_int_eq(ssi_flow_received(&f, UINT32_MAX), -EPROTO);
    ck_assert_uint_eq(f.queued, 10);
}
END_TEST

/* Credit goes back once half a window is written out, not before: a
 * small request sends no credit frame. */
START_TEST(test_flow_credit_at_half_window)
{
    ssi_flow_t f;
    uint32_t total = 0;
    ssi_flow_init(&f, S_WIN);
    ck_assert_int_eq(ssi_flow_received(&f, S_WIN), 0);
    ck_assert_uint_eq(ssi_flow_written(&f, 10), 0);
    ck_assert_uint_eq(ssi_flow_written(&f, S_WIN / 2 - 11), 0);
    ck_assert_uint_eq(f.unacked, S_WIN / 2 - 1);
    ck_assert_uint_eq(f.queued, S_WIN / 2 + 1);
    /* The byte that reaches half a window returns all that is pending. */
    total = ssi_flow_written(&f, 1);
    ck_assert_uint_eq(total, S_WIN / 2);
    ck_assert_uint_eq(f.unacked, 0);
    /* The rest, in one go: more than half, all of it. */
    ck_assert_uint_eq(ssi_flow_written(&f, S_WIN / 2), S_WIN / 2);
    ck_assert_uint_eq(f.queued, 0);
    /* Writing more than is queued counts only what was queued. */
    ck_assert_int_eq(ssi_flow_received(&f, 5), 0);
    ck_assert_uint_eq(ssi_flow_written(&f, 1000), 0);
    ck_assert_uint_eq(f.queued, 0);
    ck_assert_uint_eq(f.unacked, 5);
}
END_TEST

/* A sender and a receiver in step: the sender never overruns, every byte
 * is credited back in the end but for less than half a window. */
START_TEST(test_flow_sender_and_receiver_in_step)
{
    ssi_flow_t tx, rx;
    uint32_t sent = 0, credited = 0;
    ssi_flow_init(&tx, S_WIN);
    ssi_flow_init(&rx, S_WIN);
    for (int round = 0; round < 1000; round++) {
        uint32_t k = ssi_flow_room(&tx, 3000, ssi_flow_inflight(&tx), 1u << 20);
        if (k) {
            ssi_flow_sent(&tx, k);
            ck_assert_int_eq(ssi_flow_received(&rx, k), 0);
            sent += k;
        }
        uint32_t v = ssi_flow_written(&rx, 2345);
        if (v) {
            ck_assert_int_eq(ssi_flow_credit(&tx, v), 0);
            credited += v;
        }
    }
    ck_assert_uint_gt(sent, 50 * S_WIN);
    ck_assert_uint_eq(sent - credited, ssi_flow_inflight(&tx));
    ck_assert_uint_eq(ssi_flow_inflight(&tx), rx.queued + rx.unacked);
    ck_assert_uint_lt(rx.unacked, S_WIN / 2);
}
END_TEST

/* The reader is gone: what was queued and what was written but not
 * credited goes back at once, so the sender's window stays open. */
START_TEST(test_flow_drop_returns_everything)
{
    ssi_flow_t f;
    ssi_flow_init(&f, S_WIN);
    ck_assert_int_eq(ssi_flow_received(&f, 3000), 0);
    ck_assert_uint_eq(ssi_flow_written(&f, 1000), 0);
    ck_assert_uint_eq(ssi_flow_drop(&f), 3000);
    ck_assert_uint_eq(f.queued, 0);
    ck_assert_uint_eq(f.unacked, 0);
    ck_assert_uint_eq(ssi_flow_drop(&f), 0); /* once only */
    /* The window is whole again. */
    ck_assert_int_eq(ssi_flow_received(&f, S_WIN), 0);
}
END_TEST

/* How much may go now: the least of credit, one frame, and the link's
 * budget left; nothing once the budget is used up. */
START_TEST(test_flow_room_under_budget)
{
    ssi_flow_t f;
    ssi_flow_init(&f, S_WIN);
    ck_assert_uint_eq(ssi_flow_room(&f, 1u << 20, 0, 1u << 20), S_WIN); /* credit */
    ck_assert_uint_eq(ssi_flow_room(&f, 4096, 0, 1u << 20), 4096);      /* frame */
    ck_assert_uint_eq(ssi_flow_room(&f, 1u << 20, 1000, 5000), 4000);   /* budget */
    ck_assert_uint_eq(ssi_flow_room(&f, 1u << 20, 5000, 5000), 0);
    ck_assert_uint_eq(ssi_flow_room(&f, 1u << 20, 6000, 5000), 0); /* over: no wrap */
    ssi_flow_sent(&f, S_WIN - 10);
    ck_assert_uint_eq(ssi_flow_room(&f, 1u << 20, 0, 1u << 20), 10);
    ssi_flow_sent(&f, 10);
    ck_assert_uint_eq(ssi_flow_room(&f, 1u << 20, 0, 1u << 20), 0); /* wait for credit */
}
END_TEST

/* The link-wide budget across channels: the sum of what each has in
 * flight, and no channel sends past it. */
START_TEST(test_flow_budget_shared_by_channels)
{
    ssi_flow_t c[4];
    uint32_t budget = 3 * S_WIN / 2, used;
    for (int i = 0; i < 4; i++)
        ssi_flow_init(&c[i], S_WIN);
    for (int i = 0; i < 4; i++) {
        used = 0;
        for (int j = 0; j < 4; j++)
            used += ssi_flow_inflight(&c[j]);
        ssi_flow_sent(&c[i], ssi_flow_room(&c[i], 1u << 20, used, budget));
    }
    used = 0;
    for (int j = 0; j < 4; j++)
        used += ssi_flow_inflight(&c[j]);
    ck_assert_uint_eq(used, budget);
    ck_assert_uint_eq(ssi_flow_inflight(&c[0]), S_WIN);
    ck_assert_uint_eq(ssi_flow_inflight(&c[1]), S_WIN / 2);
    ck_assert_uint_eq(ssi_flow_inflight(&c[2]), 0);
    ck_assert_uint_eq(ssi_flow_room(&c[3], 1u << 20, used, budget), 0);
}
END_TEST

Suite *suite_flow(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_flow_fresh_window);
    tcase_add_test(tc, test_flow_send_and_credit);
    tcase_add_test(tc, test_flow_credit_overflow_refused);
    tcase_add_test(tc, test_flow_window_overrun_refused);
    tcase_add_test(tc, test_flow_credit_at_half_window);
    tcase_add_test(tc, test_flow_sender_and_receiver_in_step);
    tcase_add_test(tc, test_flow_drop_returns_everything);
    tcase_add_test(tc, test_flow_room_under_budget);
    tcase_add_test(tc, test_flow_budget_shared_by_channels);
    suite_add_tcase(s, tc);
    return s;
}
