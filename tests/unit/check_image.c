/* ssi_image: the checks of an image stream (wire/ssi_image.c). A valid
 * stream is built in memory from a table of records; each test changes one
 * thing and expects the refusal, its errno and its sentence. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_ssi.h"
#include "ssi_image.h"

#define S_PAGE SSI_IMAGE_PAGE_SIZE
#define S_XSAVE 64

typedef struct {
    uint32_t type;
    const void *body; /* NULL for END: the right counts are filled in */
    uint32_t size;
    uint64_t data_len;
} s_spec_t;

static ssi_image_hdr_t s_hdr;
static ssi_image_thread_t s_thread;
static ssi_image_proc_t s_proc;
static ssi_image_creds_t s_creds;
static ssi_image_sig_t s_sig;
static ssi_image_fd_t s_fd;
/* Room after the first VMA for a record that claims to be longer. */
static struct {
    ssi_image_vma_t v;
    uint8_t pad[16];
} s_vma1p;
#define s_vma1 s_vma1p.v
static ssi_image_vma_t s_vma2;
static ssi_image_pages_t s_pg1, s_pg2;
static uint8_t s_future[8];
static uint8_t s_big[SSI_IMAGE_REC_MAX + 8];
static s_spec_t s_specs[16];
static int s_nspecs;
static uint8_t s_img[160 << 10];
static size_t s_off[16]; /* where each record starts in s_img */
static size_t s_len;
static ssi_image_check_t s_chk;

/* The valid image: header, THREAD (+ XSAVE), PROC, CREDS, SIG, FD, two
 * VMAs, PAGES for each, a record of a future type (skippable), END. */
static void s_valid(void)
{
    memset(&s_hdr, 0, sizeof s_hdr);
    s_hdr.magic = SSI_IMAGE_MAGIC;
    s_hdr.version = SSI_IMAGE_VERSION;
    s_hdr.hdr_size = sizeof s_hdr;
    s_hdr.arch = SSI_IMAGE_ARCH_X86_64;
    s_hdr.page_size = S_PAGE;
    s_hdr.nthreads = 1;
    s_hdr.nvmas = 2;
    s_hdr.nfds = 1;
    s_hdr.pid = 2;
    memset(&s_thread, 0, sizeof s_thread);
    s_thread.tid = 2;
    s_thread.xsave_size = S_XSAVE;
    memset(&s_proc, 0, sizeof s_proc);
    s_proc.auxv_size = 16;
    memset(&s_creds, 0, sizeof s_creds);
    s_creds.ngroups = 2;
    memset(&s_sig, 0, sizeof s_sig);
    s_sig.signo = 10;
    memset(&s_fd, 0, sizeof s_fd);
    s_fd.fd = 1;
    memset(&s_vma1, 0, sizeof s_vma1);
    s_vma1.start = 0x400000;
    s_vma1.end = 0x402000;
    memset(&s_vma2, 0, sizeof s_vma2);
    s_vma2.start = 0x7f0000000000;
    s_vma2.end = 0x7f0000001000;
    s_pg1.addr = 0x400000;
    s_pg1.len = S_PAGE;
    s_pg2.addr = 0x7f0000000000;
    s_pg2.len = S_PAGE;
    s_spec_t v[] = {
        {SSI_IMAGE_REC_THREAD, &s_thread, sizeof s_thread, S_XSAVE},
        {SSI_IMAGE_REC_PROC, &s_proc, sizeof s_proc, 0},
        {SSI_IMAGE_REC_CREDS, &s_creds, sizeof s_creds, 0},
        {SSI_IMAGE_REC_SIG, &s_sig, sizeof s_sig, 0},
        {SSI_IMAGE_REC_FD, &s_fd, sizeof s_fd, 0},
        {SSI_IMAGE_REC_VMA, &s_vma1, sizeof s_vma1, 0},
        {SSI_IMAGE_REC_VMA, &s_vma2, sizeof s_vma2, 0},
        {SSI_IMAGE_REC_PAGES, &s_pg1, sizeof s_pg1, S_PAGE},
        {SSI_IMAGE_REC_PAGES, &s_pg2, sizeof s_pg2, S_PAGE},
        {99, s_future, sizeof s_future, 10},
        {SSI_IMAGE_REC_END, NULL, sizeof(ssi_image_end_t), 0},
    };
    s_nspecs = (int)(sizeof v / sizeof v[0]);
    memcpy(s_specs, v, sizeof v);
}

static void s_put(const void *p, size_t n)
{
    ck_assert_uint_le(s_len + n, sizeof s_img);
    memcpy(s_img + s_len, p, n);
    s_len += n;
}

/* Writes the header and s_specs into s_img. */
static void s_build(void)
{
    ssi_image_end_t end = {0, 0};
    s_len = 0;
    s_put(&s_hdr, sizeof s_hdr);
    for (int i = 0; i < s_nspecs; i++) {
        const s_spec_t *sp = &s_specs[i];
        ssi_image_rec_t r = {sp->type, sp->size, sp->data_len};
        s_off[i] = s_len;
        s_put(&r, sizeof r);
        if (sp->type == SSI_IMAGE_REC_END && !sp->body) {
            s_put(&end, sizeof end);
            continue;
        }
        s_put(sp->body, sp->size);
        if (sp->data_len > sizeof s_img - s_len) {
            /* More data than the test can hold: the stream ends
			 * here, after the record the checker must refuse. */
            s_len = sizeof s_img;
            return;
        }
        for (uint64_t k = 0; k < sp->data_len; k++)
            s_img[s_len + k] = (uint8_t)(k * 7);
        s_len += sp->data_len;
        if (sp->type != SSI_IMAGE_REC_END)
            end.nrecords++;
        if (sp->type == SSI_IMAGE_REC_PAGES)
            end.page_bytes += sp->data_len;
    }
}

/* Reads s_img[0, len) as a reader does, through the checker. */
static int s_walk(size_t len)
{
    static uint8_t body[SSI_IMAGE_REC_MAX] __attribute__((aligned(16)));
    ssi_image_hdr_t h;
    ssi_image_rec_t r;
    size_t off = 0;
    int rc;
    ssi_image_check_init(&s_chk);
    if (len < sizeof h)
        return ssi_image_check_truncated(&s_chk, len);
    memcpy(&h, s_img, sizeof h);
    off = sizeof h;
    rc = ssi_image_check_hdr(&s_chk, &h);
    if (rc < 0)
        return rc;
    for (;;) {
        if (len - off < sizeof r)
            return ssi_image_check_truncated(&s_chk, len - off);
        memcpy(&r, s_img + off, sizeof r);
        off += sizeof r;
        rc = ssi_image_check_rec(&s_chk, &r);
        if (rc < 0)
            return rc;
        if (len - off < r.size)
            return ssi_image_check_truncated(&s_chk, len - off);
        memcpy(body, s_img + off, r.size);
        off += r.size;
        rc = ssi_image_check_body(&s_chk, r.size ? body : NULL);
        if (rc < 0)
            return rc;
        if (r.type == SSI_IMAGE_REC_END)
            return s_chk.at == SSI_IMAGE_AT_DONE ? 0 : -EINVAL;
        if (len - off < r.data_len)
            return ssi_image_check_truncated(&s_chk, len - off);
        if (r.data_len && ssi_image_check_data(&s_chk, r.data_len) < 0)
            return -EINVAL;
        off += r.data_len;
    }
}

/* The whole image is refused with err and exactly the sentence why. */
static void s_refused(int err, const char *why)
{
    s_build();
    int rc = s_walk(s_len);
    ck_assert_msg(rc == err, "expected %d (%s), got %d (%s)", err, why, rc, s_chk.why);
    ck_assert_str_eq(s_chk.why, why);
}

START_TEST(test_image_accepts_valid_stream)
{
    s_valid();
    s_build();
    ck_assert_msg(s_walk(s_len) == 0, "refused: %s", s_chk.why);
    ck_assert_int_eq(s_chk.at, SSI_IMAGE_AT_DONE);
    ck_assert_uint_eq(s_chk.nrecords, 10);
    ck_assert_uint_eq(s_chk.page_bytes, 2 * S_PAGE);
    /* No FD and no SIG at all is just as valid. */
    s_hdr.nfds = 0;
    memmove(&s_specs[3], &s_specs[5], (size_t)(s_nspecs - 5) * sizeof s_specs[0]);
    s_nspecs -= 2;
    s_build();
    ck_assert_msg(s_walk(s_len) == 0, "refused: %s", s_chk.why);
}
END_TEST

START_TEST(test_image_rejects_truncated_stream)
{
    char want[160];
    s_valid();
    s_build();
    /* Every strict prefix is refused as truncated, never read past. */
    for (size_t n = 0; n < s_len; n++) {
        int rc = s_walk(n);
        ck_assert_msg(rc == -EPIPE, "prefix %zu: %d (%s)", n, rc, s_chk.why);
        ck_assert_msg(strstr(s_chk.why, "image truncated") == s_chk.why, "prefix %zu: %s", n,
                      s_chk.why);
    }
    /* The sentence says where: at each boundary and inside each part. */
    ck_assert_int_eq(s_walk(0), -EPIPE);
    ck_assert_str_eq(s_chk.why, "image truncated: the stream is empty");
    s_walk(100);
    snprintf(want, sizeof want, "image truncated in its header (100 of %zu bytes)", sizeof s_hdr);
    ck_assert_str_eq(s_chk.why, want);
    s_walk(sizeof s_hdr);
    ck_assert_str_eq(s_chk.why, "image truncated after its header: no records");
    s_walk(s_off[1]);
    ck_assert_str_eq(s_chk.why, "image truncated after record 1: no END record");
    s_walk(s_off[1] + 5);
    ck_assert_str_eq(s_chk.why, "image truncated in the header of record 2");
    s_walk(s_off[0] + 16 + 8);
    ck_assert_str_eq(s_chk.why, "image truncated in THREAD record 1");
    s_walk(s_off[1] - 1);
    snprintf(want, sizeof want, "image truncated in the data of THREAD record 1 (%d of %d bytes)",
             S_XSAVE - 1, S_XSAVE);
    ck_assert_str_eq(s_chk.why, want);
    s_walk(s_off[6] + 16 + 100);
    ck_assert_str_eq(s_chk.why, "image truncated in VMA record 2");
    s_walk(s_off[8] + 16 + sizeof s_pg2 + 100);
    ck_assert_str_eq(s_chk.why,
                     "image truncated in the data of PAGES record 2 (100 of 4096 bytes)");
    s_walk(s_off[9] + 16 + 3);
    ck_assert_str_eq(s_chk.why, "image truncated in record 10 (type 99)");
    s_walk(s_off[10]);
    ck_assert_str_eq(s_chk.why, "image truncated after record 10: no END record");
    s_walk(s_len - 1);
    ck_assert_str_eq(s_chk.why, "image truncated in END record 1");
}
END_TEST

START_TEST(test_image_rejects_bad_header)
{
    char want[160];
    s_valid();
    s_hdr.version = 7;
    s_refused(-EPROTONOSUPPORT, "unknown image version 7 (this build reads 1)");
    s_valid();
    s_hdr.magic ^= 1;
    s_refused(-EPROTO, "not an ssi image (bad magic)");
    s_valid();
    s_hdr.hdr_size = 200;
    snprintf(want, sizeof want, "image header of 200 bytes (this build's has %zu)", sizeof s_hdr);
    s_refused(-EPROTONOSUPPORT, want);
    s_valid();
    s_hdr.arch = 183;
    s_refused(-ENOEXEC, "image is for machine 183, this build restores x86-64 (62)");
    s_valid();
    s_hdr.page_size = 65536;
    s_refused(-ENOEXEC, "image has pages of 65536 bytes, this build 4096");
    s_valid();
    s_hdr.nthreads = 0;
    s_refused(-EBADMSG, "image header counts 0 threads (1 to 65536)");
    s_valid();
    s_hdr.nvmas = 0;
    s_refused(-EBADMSG, "image header counts 0 VMAs (1 to 1048576)");
    s_valid();
    s_hdr.nvmas = SSI_IMAGE_MAX_VMAS + 1;
    s_refused(-EBADMSG, "image header counts 1048577 VMAs (1 to 1048576)");
    s_valid();
    s_hdr.nfds = 0xffffffff;
    s_refused(-EBADMSG, "image header counts 4294967295 descriptors (at most 1048576)");
}
END_TEST

START_TEST(test_image_rejects_oversized_records)
{
    char want[160];
    /* A known type of the wrong size, either way. */
    s_valid();
    s_specs[5].size += 8;
    snprintf(want, sizeof want, "VMA record 1 has %zu bytes, this build's has %zu",
             sizeof s_vma1 + 8, sizeof s_vma1);
    s_refused(-EBADMSG, want);
    s_valid();
    s_specs[10].size = 8;
    snprintf(want, sizeof want, "END record 1 has 8 bytes, this build's has %zu",
             sizeof(ssi_image_end_t));
    s_refused(-EBADMSG, want);
    /* Data where a type has none; too much XSAVE or skipped data. */
    s_valid();
    s_specs[1].data_len = 8;
    s_refused(-EBADMSG, "PROC record 1 carries 8 data bytes; it has none");
    s_valid();
    s_specs[0].data_len = SSI_IMAGE_XSAVE_MAX + 1;
    s_thread.xsave_size = SSI_IMAGE_XSAVE_MAX + 1;
    s_hdr.nthreads = 1;
    s_build();
    ck_assert_int_eq(s_walk(s_len), -EBADMSG);
    ck_assert_str_eq(s_chk.why, "THREAD record 1 carries 1048577 XSAVE bytes (at most 1048576)");
    s_valid();
    s_specs[9].size = SSI_IMAGE_REC_MAX + 1;
    s_specs[9].body = s_big;
    s_refused(-EBADMSG, "record 10 (type 99) has 65537 bytes (at most 65536)");
    s_valid();
    s_specs[9].data_len = SSI_IMAGE_SKIP_MAX + 1;
    s_build();
    ck_assert_int_eq(s_walk(s_len), -EBADMSG);
    ck_assert_str_eq(s_chk.why,
                     "record 10 (type 99) carries 1073741825 data bytes (at most 1073741824)");
    /* A struct that disagrees with its data. */
    s_valid();
    s_thread.xsave_size = 32;
    s_refused(-EBADMSG, "THREAD record 1 says 32 XSAVE bytes but carries 64");
    s_valid();
    s_pg2.len = 2 * S_PAGE;
    s_refused(-EBADMSG, "PAGES record 2 says 8192 bytes but carries 4096");
    s_valid();
    s_pg1.addr += 8;
    s_refused(-EBADMSG,
              "PAGES record 1 (0x400008, 4096 bytes) is not page aligned or past user memory");
    s_valid();
    s_pg1.addr = ~0ULL & ~(uint64_t)(S_PAGE - 1);
    s_refused(
        -EBADMSG,
        "PAGES record 1 (0xfffffffffffff000, 4096 bytes) is not page aligned or past user memory");
    /* Fields out of their range. */
    s_valid();
    s_vma1.end = s_vma1.start;
    s_refused(-EBADMSG, "VMA record 1 (0x400000-0x400000) is empty or not page aligned");
    s_valid();
    s_vma2.start = 0x401000;
    s_refused(-EBADMSG,
              "VMA record 2 (0x401000-0x7f0000001000) overlaps or precedes the VMA before it");
    s_valid();
    s_creds.ngroups = SSI_IMAGE_NGROUPS + 1;
    s_refused(-EBADMSG, "CREDS record 1 has 65 groups (at most 64)");
    s_valid();
    s_sig.signo = 0;
    s_refused(-EBADMSG, "SIG record 1 holds signal 0 (1 to 64)");
    s_valid();
    s_fd.fd = -1;
    s_refused(-EBADMSG, "FD record 1 has a negative descriptor number");
    s_valid();
    s_proc.auxv_size = sizeof s_proc.auxv + 8;
    snprintf(want, sizeof want, "PROC record 1 has %zu bytes of auxv (at most %zu)",
             sizeof s_proc.auxv + 8, sizeof s_proc.auxv);
    s_refused(-EBADMSG, want);
}
END_TEST

START_TEST(test_image_skips_or_rejects_unknown_type)
{
    /* Type 99 is in the valid image: skipped. So is one without a struct. */
    s_valid();
    s_specs[9].size = 0;
    s_specs[9].body = s_future;
    s_build();
    ck_assert_msg(s_walk(s_len) == 0, "refused: %s", s_chk.why);
    /* One the format says a reader may not skip. */
    s_valid();
    s_specs[9].type = SSI_IMAGE_REC_MUST | 99;
    s_refused(-EBADMSG,
              "record 10 (type 16483) is of a kind this build does not know and may not skip");
    s_valid();
    s_specs[9].type = 0;
    s_refused(-EBADMSG, "record 10 of the image has type 0");
}
END_TEST

/* A live move's final image: CLEAN ranges (no data) are known and checked,
 * and a reader may not skip them (the agent must turn them into pages). */
START_TEST(test_image_checks_clean_ranges)
{
    static ssi_image_pages_t clean;
    s_valid();
    clean.addr = 0x401000;
    clean.len = S_PAGE;
    s_specs[9] = (s_spec_t){SSI_IMAGE_REC_CLEAN, &clean, sizeof clean, 0};
    s_build();
    ck_assert_msg(s_walk(s_len) == 0, "refused: %s", s_chk.why);
    ck_assert(SSI_IMAGE_REC_CLEAN & SSI_IMAGE_REC_MUST);
    ck_assert_str_eq(ssi_image_rec_name(SSI_IMAGE_REC_CLEAN), "CLEAN");
    clean.addr = 0x401001;
    s_refused(
        -EBADMSG,
        "CLEAN record 1 (0x401001, 4096 bytes) is empty, not page aligned or past user memory");
    clean.addr = 0x401000;
    clean.len = 0;
    s_refused(-EBADMSG,
              "CLEAN record 1 (0x401000, 0 bytes) is empty, not page aligned or past user memory");
    clean.len = S_PAGE;
    s_specs[9].data_len = S_PAGE;
    s_refused(-EBADMSG, "CLEAN record 1 carries 4096 data bytes; it has none");
}
END_TEST

/* Guard regions (GUARD: no data) are known and checked; an older reader
 * may skip them (it loses the guard only). */
START_TEST(test_image_checks_guard_ranges)
{
    static ssi_image_pages_t guard;
    s_valid();
    guard.addr = 0x402000;
    guard.len = 2 * S_PAGE;
    s_specs[9] = (s_spec_t){SSI_IMAGE_REC_GUARD, &guard, sizeof guard, 0};
    s_build();
    ck_assert_msg(s_walk(s_len) == 0, "refused: %s", s_chk.why);
    ck_assert(!(SSI_IMAGE_REC_GUARD & SSI_IMAGE_REC_MUST));
    ck_assert_str_eq(ssi_image_rec_name(SSI_IMAGE_REC_GUARD), "GUARD");
    guard.len = 100;
    s_refused(
        -EBADMSG,
        "GUARD record 1 (0x402000, 100 bytes) is empty, not page aligned or past user memory");
    guard.len = S_PAGE;
    s_specs[9].data_len = S_PAGE;
    s_refused(-EBADMSG, "GUARD record 1 carries 4096 data bytes; it has none");
}
END_TEST

START_TEST(test_image_rejects_wrong_counts)
{
    static ssi_image_end_t end;
    s_valid();
    s_build();
    memcpy(&end, s_img + s_off[10] + sizeof(ssi_image_rec_t), sizeof end);
    s_specs[10].body = &end;
    end.nrecords++;
    s_refused(-EBADMSG, "END counts 11 records, the image has 10");
    end.nrecords--;
    end.page_bytes -= S_PAGE;
    s_refused(-EBADMSG, "END counts 4096 page bytes, the image has 8192");
    end.page_bytes += S_PAGE;
    s_build();
    ck_assert_int_eq(s_walk(s_len), 0);
    /* The header counts more than came, or fewer. */
    s_valid();
    s_hdr.nvmas = 3;
    s_refused(-EBADMSG, "image incomplete: 2 VMA records, 3 expected");
    s_valid();
    s_hdr.nfds = 2;
    s_refused(-EBADMSG, "image incomplete: 1 FD records, 2 expected");
    s_valid();
    s_hdr.nvmas = 1;
    s_refused(-EBADMSG, "VMA record 2: more VMA records than the header's 1");
    /* No PROC; two PROCs; a second THREAD. */
    s_valid();
    s_specs[1].type = 77;
    s_refused(-EBADMSG, "image incomplete: 0 PROC records, 1 expected");
    s_valid();
    s_specs[2] = s_specs[1];
    s_refused(-EBADMSG, "PROC record 2: more PROC records than the header's 1");
    s_valid();
    s_specs[3] = s_specs[0];
    s_refused(-EBADMSG, "THREAD record 2: more THREAD records than the header's 1");
}
END_TEST

START_TEST(test_image_rejects_calls_out_of_turn)
{
    ssi_image_rec_t r = {SSI_IMAGE_REC_END, sizeof(ssi_image_end_t), 0};
    ssi_image_check_init(&s_chk);
    ck_assert_int_eq(ssi_image_check_rec(&s_chk, &r), -EINVAL);
    ck_assert_int_eq(ssi_image_check_body(&s_chk, NULL), -EINVAL);
    ck_assert_int_eq(ssi_image_check_data(&s_chk, 1), -EINVAL);
    /* A record header while the last record's data is owed. */
    s_valid();
    s_build();
    ssi_image_check_init(&s_chk);
    ck_assert_int_eq(ssi_image_check_hdr(&s_chk, &s_hdr), 0);
    memcpy(&r, s_img + s_off[0], sizeof r);
    ck_assert_int_eq(ssi_image_check_rec(&s_chk, &r), 0);
    ck_assert_int_eq(ssi_image_check_body(&s_chk, &s_thread), 0);
    ck_assert_int_eq(ssi_image_check_rec(&s_chk, &r), -EINVAL);
    ck_assert_int_eq(ssi_image_check_data(&s_chk, S_XSAVE + 1), -EINVAL);
    /* Data consumed in parts, cut in the middle of one. */
    ck_assert_int_eq(ssi_image_check_data(&s_chk, 10), 0);
    ck_assert_int_eq(s_chk.at, SSI_IMAGE_AT_DATA);
    ck_assert_int_eq(ssi_image_check_truncated(&s_chk, 5), -EPIPE);
    ck_assert_str_eq(s_chk.why, "image truncated in the data of THREAD record 1 (15 of 64 bytes)");
    ck_assert_int_eq(ssi_image_check_data(&s_chk, S_XSAVE - 10 + 1), -EINVAL);
    ck_assert_int_eq(ssi_image_check_data(&s_chk, S_XSAVE - 10), 0);
    ck_assert_int_eq(s_chk.at, SSI_IMAGE_AT_REC);
    ck_assert_int_eq(ssi_image_check_rec(&s_chk, &r), -EBADMSG); /* a second THREAD */
}
END_TEST

Suite *suite_image(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_image_accepts_valid_stream);
    tcase_add_test(tc, test_image_rejects_truncated_stream);
    tcase_add_test(tc, test_image_rejects_bad_header);
    tcase_add_test(tc, test_image_rejects_oversized_records);
    tcase_add_test(tc, test_image_skips_or_rejects_unknown_type);
    tcase_add_test(tc, test_image_rejects_wrong_counts);
    tcase_add_test(tc, test_image_checks_clean_ranges);
    tcase_add_test(tc, test_image_checks_guard_ranges);
    tcase_add_test(tc, test_image_rejects_calls_out_of_turn);
    suite_add_tcase(s, tc);
    return s;
}
