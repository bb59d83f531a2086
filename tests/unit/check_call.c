/* ssi_call: the call link's marshalling both ways (wire/ssi_call.c). Every
 * entry of the call table goes body -> home -> body; what a peer could
 * send wrong (truncated, oversized, inconsistent) is refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "check_ssi.h"
#include "ssi_call.h"
#include "ssi_tunnel.h"

#define S_ROOM 512 /* every buffer of the program's below; >= any struct of the table */

/* The program's memory: its strings, in-buffers, out-buffers. */
static char prog_str[6][32];
static uint8_t prog_in[6][S_ROOM];
static uint8_t prog_out[6][S_ROOM];
static uint8_t msg[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
static uint8_t rep[SSI_CALL_MSG_MAX];

enum { S_IN_LEN = 23, S_OUT_LEN = 40, S_RET = 17 };

/* The arguments a program would pass for c (nulls: every pointer NULL). */
static void s_prog_args(const ssi_call_t *c, int64_t *a, int nulls)
{
    unsigned i, j;
    for (i = 0; i < 6; i++)
        a[i] = c->kind[i] == SSI_CALL_A_FD ? 3 + i : 1000 + i;
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        memset(prog_out[i], 0, S_ROOM);
        for (j = 0; j < S_ROOM; j++) {
            prog_in[i][j] = (uint8_t)(i * 17 + j);
            /* Never home's pattern (0xa0 + i), which the round trip looks
             * for just past each answer. */
            if (prog_in[i][j] >= 0xa0 && prog_in[i][j] < 0xa6)
                prog_in[i][j] = 0x5a;
        }
        snprintf(prog_str[i], sizeof prog_str[i], "/home/path%u", i);
        switch (k) {
        case SSI_CALL_A_STR: a[i] = nulls ? 0 : (int64_t)prog_str[i]; break;
        case SSI_CALL_A_IN:
            a[i] = nulls ? 0 : (int64_t)prog_in[i];
            a[c->aux[i]] = S_IN_LEN;
            break;
        case SSI_CALL_A_INFIX:
        case SSI_CALL_A_INOUT: a[i] = nulls ? 0 : (int64_t)prog_in[i]; break;
        case SSI_CALL_A_OUT:
            a[i] = nulls ? 0 : (int64_t)prog_out[i];
            a[c->aux[i]] = S_OUT_LEN;
            break;
        case SSI_CALL_A_OUTFIX: a[i] = nulls ? 0 : (int64_t)prog_out[i]; break;
        }
    }
}

static int s_inside(int64_t p, const uint8_t *buf, size_t len)
{
    return (const uint8_t *)p >= buf && (const uint8_t *)p < buf + len;
}

/* Body packs, home unpacks and checks what it rebuilt. Returns the
 * request's length. */
static long s_to_home(const ssi_call_t *c, const int64_t *a, ssi_call_args_t *u)
{
    long n = ssi_call_pack_req(c->op, a, msg, sizeof msg);
    unsigned i;
    ck_assert_int_gt(n, (long)sizeof(ssi_call_req_t) - 1);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, u), 0);
    ck_assert_uint_eq(u->op, c->op);
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        switch (k) {
        case SSI_CALL_A_INT:
        case SSI_CALL_A_FD: ck_assert_int_eq(u->a[i], a[i]); break;
        case SSI_CALL_A_STR:
            if (!a[i]) {
                ck_assert_int_eq(u->a[i], 0);
                break;
            }
            ck_assert(s_inside(u->a[i], msg, (size_t)n));
            ck_assert_str_eq((const char *)u->a[i], (const char *)a[i]);
            break;
        case SSI_CALL_A_IN:
        case SSI_CALL_A_INFIX:
            if (!a[i]) {
                ck_assert_int_eq(u->a[i], 0);
                break;
            }
            ck_assert(s_inside(u->a[i], msg, (size_t)n));
            ck_assert_mem_eq((const void *)u->a[i], (const void *)a[i],
                             k == SSI_CALL_A_IN ? S_IN_LEN : c->aux[i]);
            break;
        case SSI_CALL_A_INOUT:
            if (!a[i]) {
                ck_assert_int_eq(u->a[i], 0);
                ck_assert_uint_eq(u->outcap[i], SSI_CALL_NULL);
                break;
            }
            /* In the answer's room, with the program's bytes. */
            ck_assert(s_inside(u->a[i], rep, sizeof rep));
            ck_assert_uint_eq(u->outcap[i], c->aux[i]);
            ck_assert_mem_eq((const void *)u->a[i], (const void *)a[i], c->aux[i]);
            break;
        case SSI_CALL_A_OUT:
        case SSI_CALL_A_OUTFIX:
            /* Rebuilt even for a NULL: the call writes our room. */
            ck_assert(s_inside(u->a[i], rep, sizeof rep));
            ck_assert_uint_eq(u->outcap[i], k == SSI_CALL_A_OUT ? S_OUT_LEN : c->aux[i]);
            break;
        }
    }
    return n;
}

/* Home "runs" the call: every out-room gets a pattern. */
static void s_home_writes(const ssi_call_t *c, const ssi_call_args_t *u)
{
    unsigned i;
    for (i = 0; i < c->nargs; i++)
        if ((c->kind[i] == SSI_CALL_A_OUT || c->kind[i] == SSI_CALL_A_OUTFIX ||
             c->kind[i] == SSI_CALL_A_INOUT) &&
            u->outcap[i] != SSI_CALL_NULL)
            memset((void *)u->a[i], 0xa0 + (int)i, u->outcap[i]);
}

START_TEST(test_call_every_entry_round_trips)
{
    const ssi_call_t *c;
    unsigned e;
    for (e = 0; (c = ssi_call_nth(e)) != NULL; e++) {
        int64_t a[6], ret = 0;
        ssi_call_args_t u;
        ssi_call_req_t q;
        uint32_t rl, i, j;
        s_prog_args(c, a, 0);
        s_to_home(c, a, &u);
        memcpy(&q, msg, sizeof q);
        s_home_writes(c, &u);
        rl = ssi_call_pack_rep(&u, S_RET, rep);
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
        ck_assert_int_eq(ret, S_RET);
        for (i = 0; i < c->nargs; i++) {
            uint8_t k = c->kind[i];
            uint32_t want = k == SSI_CALL_A_OUT ? S_RET : c->aux[i];
            const uint8_t *p = (const uint8_t *)a[i];
            if (k != SSI_CALL_A_OUT && k != SSI_CALL_A_OUTFIX && k != SSI_CALL_A_INOUT)
                continue;
            for (j = 0; j < want; j++)
                ck_assert_uint_eq(p[j], 0xa0 + i);
            /* Not one byte more than the answer says. */
            ck_assert_uint_ne(p[want], 0xa0 + i);
        }
        /* A failed call answers no out-bytes: the program's stay. */
        s_prog_args(c, a, 0);
        s_to_home(c, a, &u);
        s_home_writes(c, &u);
        rl = ssi_call_pack_rep(&u, -ENOENT, rep);
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
        ck_assert_int_eq(ret, -ENOENT);
        for (i = 0; i < c->nargs; i++)
            if (c->kind[i] == SSI_CALL_A_OUT || c->kind[i] == SSI_CALL_A_OUTFIX)
                ck_assert_uint_eq(prog_out[i][0], 0);
    }
    ck_assert_uint_gt(e, 80); /* the whole table was walked */
}
END_TEST

START_TEST(test_call_null_pointers_stay_null)
{
    const ssi_call_t *c;
    unsigned e;
    for (e = 0; (c = ssi_call_nth(e)) != NULL; e++) {
        int64_t a[6], ret = 0;
        ssi_call_args_t u;
        ssi_call_req_t q;
        uint32_t rl;
        s_prog_args(c, a, 1);
        s_to_home(c, a, &u);
        memcpy(&q, msg, sizeof q);
        s_home_writes(c, &u);
        rl = ssi_call_pack_rep(&u, 5, rep);
        /* Nothing is written through a NULL of the program's. */
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
        ck_assert_int_eq(ret, 5);
    }
}
END_TEST

START_TEST(test_call_fd_arguments_are_sign_extended)
{
    /* newfstatat(AT_FDCWD, ...) as the register holds it: 0xffffff9c. */
    int64_t a[6] = {0xffffff9cLL, (int64_t) "rel/path", (int64_t)prog_out[0], 0, 0, 0};
    ssi_call_args_t u;
    long n = ssi_call_pack_req(SYS_newfstatat, a, msg, sizeof msg);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), 0);
    ck_assert_int_eq(u.a[0], -100);
}
END_TEST

START_TEST(test_call_out_buffers_are_cut_to_one_answer)
{
    int64_t a[6] = {3, (int64_t)prog_out[0], 4 << 20, 0, 0, 0};
    ssi_call_req_t q;
    ck_assert_int_gt(ssi_call_pack_req(SYS_read, a, msg, sizeof msg), 0);
    memcpy(&q, msg, sizeof q);
    ck_assert_int_eq(q.arg[2], SSI_CALL_RW_MAX);
    ck_assert_int_gt(ssi_call_pack_req(SYS_getdents64, a, msg, sizeof msg), 0);
    memcpy(&q, msg, sizeof q);
    ck_assert_int_eq(q.arg[2], SSI_CALL_IO_MAX);
    /* The program's own length when it is smaller. */
    a[2] = 100;
    ck_assert_int_gt(ssi_call_pack_req(SYS_getdents64, a, msg, sizeof msg), 0);
    memcpy(&q, msg, sizeof q);
    ck_assert_int_eq(q.arg[2], 100);
}
END_TEST

/* A copy of the first n bytes of p that ends where an unreadable page
 * begins: a decoder that reads one byte too many faults. */
static const uint8_t *s_guarded(const uint8_t *p, size_t n)
{
    static uint8_t *area;
    const size_t room = 16 * 4096;
    if (!area) {
        area = mmap(NULL, room + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert(area != MAP_FAILED);
        ck_assert_int_eq(mprotect(area + room, 4096, PROT_NONE), 0);
    }
    ck_assert_uint_le(n, room);
    memcpy(area + room - n, p, n);
    return area + room - n;
}

/* Sets the request's header len to what n bytes hold. */
static void s_req_len(uint32_t n)
{
    ssi_call_req_t q;
    memcpy(&q, msg, sizeof q);
    q.len = n - (uint32_t)sizeof q;
    memcpy(msg, &q, sizeof q);
}

START_TEST(test_call_rejects_truncated_request)
{
    const ssi_call_t *c;
    unsigned e;
    for (e = 0; (c = ssi_call_nth(e)) != NULL; e++) {
        int64_t a[6];
        ssi_call_args_t u;
        long n, k;
        s_prog_args(c, a, 0);
        n = ssi_call_pack_req(c->op, a, msg, sizeof msg);
        ck_assert_int_gt(n, 0);
        for (k = 0; k < n; k++) {
            /* As sent: the header's len says more. */
            ck_assert_int_lt(ssi_call_unpack_req(msg, (uint32_t)k, rep, sizeof rep, &u), 0);
            if (k < (long)sizeof(ssi_call_req_t))
                continue;
            /* A header made to match: the arguments are cut (and
			 * nothing past them is read). */
            s_req_len((uint32_t)k);
            ck_assert_int_eq(
                ssi_call_unpack_req(s_guarded(msg, (size_t)k), (uint32_t)k, rep, sizeof rep, &u),
                -EPROTO);
            s_req_len((uint32_t)n);
        }
    }
}
END_TEST

START_TEST(test_call_rejects_inconsistent_request)
{
    ssi_call_args_t u;
    ssi_call_req_t q;
    int64_t a[6] = {3, (int64_t)prog_in[0], 20, 0, 0, 0};
    long n = ssi_call_pack_req(SYS_write, a, msg, sizeof msg);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), 0);
    /* A buffer whose length is not its length argument's. */
    memcpy(&q, msg, sizeof q);
    q.arg[2] = 21;
    memcpy(msg, &q, sizeof q);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), -EPROTO);
    /* Trailing bytes. */
    n = ssi_call_pack_req(SYS_write, a, msg, sizeof msg);
    s_req_len((uint32_t)n + 1);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n + 1, rep, sizeof rep, &u), -EPROTO);
    /* Not a call, not in the table. */
    n = ssi_call_pack_req(SYS_write, a, msg, sizeof msg);
    msg[0] = SSI_TUNNEL_RESULT;
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), -ENOSYS);
    memcpy(&q, msg, sizeof q);
    q.type = SSI_TUNNEL_CALL;
    q.op = SYS_execve;
    memcpy(msg, &q, sizeof q);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), -ENOSYS);
    /* A string without its NUL. */
    a[0] = (int64_t) "abc";
    n = ssi_call_pack_req(SYS_unlink, a, msg, sizeof msg);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), 0);
    msg[n - 1] = 'x';
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), -EPROTO);
    /* A struct of another size (utimes: two timevals, 32 bytes): 31
	 * bytes said and sent. */
    a[1] = (int64_t)prog_in[1];
    n = ssi_call_pack_req(SYS_utimes, a, msg, sizeof msg);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), 0);
    {
        uint32_t l = 31;
        memcpy(msg + n - 36, &l, 4);
        s_req_len((uint32_t)n - 1);
        ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n - 1, rep, sizeof rep, &u), -EPROTO);
    }
}
END_TEST

START_TEST(test_call_rejects_oversized)
{
    static char longpath[SSI_CALL_PATH_MAX + 10];
    ssi_call_args_t u;
    int64_t a[6] = {(int64_t)longpath, 0, 0, 0, 0, 0};
    long n;
    /* Body: a path that no home accepts; an in-buffer that does not fit. */
    memset(longpath, 'p', sizeof longpath - 1);
    ck_assert_int_eq(ssi_call_pack_req(SYS_unlink, a, msg, sizeof msg), -ENAMETOOLONG);
    longpath[SSI_CALL_PATH_MAX - 1] = 0;
    ck_assert_int_gt(ssi_call_pack_req(SYS_unlink, a, msg, sizeof msg), 0);
    a[0] = 3;
    a[1] = (int64_t)prog_in[0];
    a[2] = 4000;
    ck_assert_int_eq(ssi_call_pack_req(SYS_write, a, msg, 1000), -EINVAL);
    ck_assert_int_eq(ssi_call_pack_req(SYS_write, a, msg, 10), -EINVAL);
    /* Home: an out-buffer larger than the answer's room. */
    a[1] = (int64_t)prog_out[0];
    a[2] = SSI_CALL_RW_MAX;
    n = ssi_call_pack_req(SYS_read, a, msg, sizeof msg);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), 0);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, 4096, &u), -EPROTO);
    /* A length argument that is negative. */
    {
        ssi_call_req_t q;
        memcpy(&q, msg, sizeof q);
        q.arg[2] = -1;
        memcpy(msg, &q, sizeof q);
        ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), -EPROTO);
    }
}
END_TEST

/* A read of 40 bytes, answered at home: the request header in q, the
 * answer (ret bytes) in rep; returns its length. */
static uint32_t s_read_answer(ssi_call_req_t *q, int64_t *a, int64_t ret)
{
    ssi_call_args_t u;
    long n;
    a[0] = 3;
    a[1] = (int64_t)prog_out[0];
    a[2] = S_OUT_LEN;
    a[3] = a[4] = a[5] = 0;
    n = ssi_call_pack_req(SYS_read, a, msg, sizeof msg);
    memcpy(q, msg, sizeof *q);
    ck_assert_int_eq(ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u), 0);
    memset((void *)u.a[1], 'r', S_OUT_LEN);
    return ssi_call_pack_rep(&u, ret, rep);
}

START_TEST(test_call_rejects_answer_longer_than_buffer)
{
    ssi_call_req_t q;
    int64_t a[6], ret;
    uint32_t rl = s_read_answer(&q, a, S_OUT_LEN), l = S_OUT_LEN + 1;
    ssi_call_rep_t r;
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
    /* 41 bytes for the program's 40. */
    memcpy(rep + sizeof r, &l, 4);
    rep[rl] = 'r';
    memcpy(&r, rep, sizeof r);
    r.len++;
    memcpy(rep, &r, sizeof r);
    memset(prog_out[0], 0, S_ROOM);
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl + 1, &ret), -EPROTO);
    ck_assert_uint_eq(prog_out[0][S_OUT_LEN], 0);
    /* A struct larger than its size (fstat: 144 bytes). */
    {
        ssi_call_args_t u;
        long n;
        a[1] = (int64_t)prog_out[0];
        n = ssi_call_pack_req(SYS_fstat, a, msg, sizeof msg);
        memcpy(&q, msg, sizeof q);
        ssi_call_unpack_req(msg, (uint32_t)n, rep, sizeof rep, &u);
        rl = ssi_call_pack_rep(&u, 0, rep);
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
        l = 145;
        memcpy(rep + sizeof r, &l, 4);
        memcpy(&r, rep, sizeof r);
        r.len++;
        memcpy(rep, &r, sizeof r);
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl + 1, &ret), -EPROTO);
    }
}
END_TEST

START_TEST(test_call_rejects_truncated_or_inconsistent_answer)
{
    ssi_call_req_t q;
    ssi_call_rep_t r;
    int64_t a[6], ret;
    uint32_t rl = s_read_answer(&q, a, 10), k;
    for (k = 0; k < rl; k++) {
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, k, &ret), -EPROTO);
        if (k < sizeof r)
            continue;
        memcpy(&r, rep, sizeof r);
        r.len = k - (uint32_t)sizeof r;
        memcpy(rep, &r, sizeof r);
        ck_assert_int_eq(ssi_call_unpack_rep(&q, a, s_guarded(rep, k), k, &ret), -EPROTO);
        r.len = rl - (uint32_t)sizeof r;
        memcpy(rep, &r, sizeof r);
    }
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
    /* Trailing bytes. */
    memcpy(&r, rep, sizeof r);
    r.len++;
    memcpy(rep, &r, sizeof r);
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl + 1, &ret), -EPROTO);
    /* The answer to another call; not an answer. */
    rl = s_read_answer(&q, a, 10);
    memcpy(&r, rep, sizeof r);
    r.op = SYS_write;
    memcpy(rep, &r, sizeof r);
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), -EPROTO);
    r.op = SYS_read;
    r.type = SSI_TUNNEL_CALL;
    memcpy(rep, &r, sizeof r);
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), -EPROTO);
    /* A refusal before the call carries nothing. */
    rl = ssi_call_pack_err(SYS_read, -EBADF, rep);
    ck_assert_uint_eq(rl, sizeof r);
    ck_assert_int_eq(ssi_call_unpack_rep(&q, a, rep, rl, &ret), 0);
    ck_assert_int_eq(ret, -EBADF);
}
END_TEST

Suite *suite_call(void)
{
    Suite *s = suite_create("call");
    TCase *tc = tcase_create("marshal");
    tcase_add_test(tc, test_call_every_entry_round_trips);
    tcase_add_test(tc, test_call_null_pointers_stay_null);
    tcase_add_test(tc, test_call_fd_arguments_are_sign_extended);
    tcase_add_test(tc, test_call_out_buffers_are_cut_to_one_answer);
    tcase_add_test(tc, test_call_rejects_truncated_request);
    tcase_add_test(tc, test_call_rejects_inconsistent_request);
    tcase_add_test(tc, test_call_rejects_oversized);
    tcase_add_test(tc, test_call_rejects_answer_longer_than_buffer);
    tcase_add_test(tc, test_call_rejects_truncated_or_inconsistent_answer);
    suite_add_tcase(s, tc);
    return s;
}
