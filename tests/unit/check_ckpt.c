/* ssi_ckpt: a checkpoint file's header (wire/ssi_ckpt.c) and the file
 * checks (helpers/ssi_ckpt_file.c). A valid file is sealed in a temporary
 * file; each test spoils one thing (cuts it, flips a bit, writes something
 * else) and expects the refusal, its errno and its sentence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_ckpt.h"
#include "ssi_ckpt_file.h"
#include "ssi_image.h"

#define S_BODY 5000 /* image bytes after the image header */

static char s_path[64];
static int s_fd = -1;
static uint64_t s_len; /* bytes of the valid file */
static char s_why[256];

/* A fake image: a header the image checker accepts, then bytes. */
static void s_write_image(int fd, int32_t pid)
{
    ssi_image_hdr_t ih;
    uint8_t body[S_BODY];
    memset(&ih, 0, sizeof(ih));
    ih.magic = SSI_IMAGE_MAGIC;
    ih.version = SSI_IMAGE_VERSION;
    ih.hdr_size = sizeof(ih);
    ih.arch = SSI_IMAGE_ARCH_X86_64;
    ih.page_size = SSI_IMAGE_PAGE_SIZE;
    ih.nthreads = 1;
    ih.nvmas = 3;
    ih.pid = pid;
    for (int i = 0; i < S_BODY; i++)
        body[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(write(fd, &ih, sizeof(ih)), sizeof(ih));
    ck_assert_int_eq(write(fd, body, sizeof(body)), sizeof(body));
}

/* A valid sealed checkpoint in s_path, open on s_fd. */
static void s_setup(void)
{
    ssi_ckpt_hdr_t h, zero;
    strcpy(s_path, "/tmp/check_ckpt.XXXXXX");
    s_fd = mkstemp(s_path);
    ck_assert_int_ge(s_fd, 0);
    memset(&zero, 0, sizeof(zero));
    ck_assert_int_eq(write(s_fd, &zero, sizeof(zero)), sizeof(zero));
    s_write_image(s_fd, 4242);
    ssi_ckpt_hdr_init(&h, "n1", 4242, 1000, "python3 work.py", 1700000000);
    ck_assert_int_eq(ssi_ckpt_file_seal(s_fd, &h, s_why, sizeof(s_why)), 0);
    s_len = sizeof(h) + sizeof(ssi_image_hdr_t) + S_BODY;
    ck_assert_uint_eq(h.image_len, s_len - sizeof(h));
}

static void s_teardown(void)
{
    if (s_fd >= 0)
        close(s_fd);
    s_fd = -1;
    unlink(s_path);
}

static int s_verify(void)
{
    ssi_ckpt_hdr_t h;
    s_why[0] = 0;
    return ssi_ckpt_file_verify(s_fd, &h, s_why, sizeof(s_why));
}

static void s_poke(uint64_t off, uint8_t xor)
{
    uint8_t b;
    ck_assert_int_eq(pread(s_fd, &b, 1, (off_t)off), 1);
    b ^= xor;
    ck_assert_int_eq(pwrite(s_fd, &b, 1, (off_t)off), 1);
}

START_TEST(test_ckpt_accepts_sealed_file)
{
    ssi_ckpt_hdr_t h;
    ck_assert_int_eq(ssi_ckpt_file_verify(s_fd, &h, s_why, sizeof(s_why)), 0);
    ck_assert_str_eq(h.node, "n1");
    ck_assert_str_eq(h.cmd, "python3 work.py");
    ck_assert_int_eq(h.pid, 4242);
    ck_assert_uint_eq(h.uid, 1000);
    ck_assert_uint_eq(h.created, 1700000000);
    ck_assert_uint_eq(h.version, SSI_CKPT_VERSION);
}
END_TEST

/* Cut at every byte of the header and at points in the image. */
START_TEST(test_ckpt_rejects_truncated_file)
{
    uint64_t cut;
    for (cut = 0; cut < s_len; cut += cut < sizeof(ssi_ckpt_hdr_t) + 64 ? 1 : 97) {
        ck_assert_int_eq(ftruncate(s_fd, (off_t)cut), 0);
        int rc = s_verify();
        if (cut < 8) {
            ck_assert_int_eq(rc, -EPROTO);
            ck_assert_msg(strstr(s_why, "not an ssi checkpoint"), "cut %llu: %s",
                          (unsigned long long)cut, s_why);
        } else {
            ck_assert_msg(rc == -EPIPE, "cut at %llu: %d %s", (unsigned long long)cut, rc, s_why);
            ck_assert_msg(strstr(s_why, "truncated"), "cut %llu: %s", (unsigned long long)cut,
                          s_why);
        }
        /* Put the file back whole: seal again from the same bytes. */
        s_teardown();
        s_setup();
    }
}
END_TEST

/* A flipped bit anywhere in the image or in the header's text is seen by
 * the hash. */
START_TEST(test_ckpt_rejects_corrupt_file)
{
    static const uint64_t offs[] = {offsetof(ssi_ckpt_hdr_t, cmd) + 3,
                                    offsetof(ssi_ckpt_hdr_t, created),
                                    offsetof(ssi_ckpt_hdr_t, uid),
                                    sizeof(ssi_ckpt_hdr_t) + sizeof(ssi_image_hdr_t) + 17,
                                    sizeof(ssi_ckpt_hdr_t) + offsetof(ssi_image_hdr_t, cpu),
                                    0 /* last byte */};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        uint64_t off = offs[i] ? offs[i] : s_len - 1;
        s_poke(off, 0x10);
        ck_assert_msg(s_verify() == -EBADMSG, "byte %llu: %s", (unsigned long long)off, s_why);
        ck_assert_msg(strstr(s_why, "hash does not match"), "byte %llu: %s",
                      (unsigned long long)off, s_why);
        s_poke(off, 0x10);
        ck_assert_int_eq(s_verify(), 0);
    }
}
END_TEST

START_TEST(test_ckpt_rejects_trailing_bytes)
{
    uint8_t b = 0;
    ck_assert_int_eq(pwrite(s_fd, &b, 1, (off_t)s_len), 1);
    ck_assert_int_eq(s_verify(), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(s_why, "1 bytes after"));
}
END_TEST

/* Something that is not ours: text, a bare migration image, an image
 * inside whose own header is not an image. */
START_TEST(test_ckpt_rejects_foreign_file)
{
    ck_assert_int_eq(ftruncate(s_fd, 0), 0);
    ck_assert_int_eq(pwrite(s_fd, "#!/bin/sh\necho hello, this is not a checkpoint\n", 48, 0), 48);
    ck_assert_int_eq(s_verify(), -EPROTO);
    ck_assert_ptr_nonnull(strstr(s_why, "not an ssi checkpoint"));

    ck_assert_int_eq(ftruncate(s_fd, 0), 0);
    ck_assert_int_eq(lseek(s_fd, 0, SEEK_SET), 0);
    s_write_image(s_fd, 4242);
    ck_assert_int_eq(s_verify(), -EPROTO);
    ck_assert_ptr_nonnull(strstr(s_why, "bare migration image"));

    /* A sealed file whose image is not an image: the hash is right (the
     * writer was wrong), the image check refuses it. */
    s_poke(sizeof(ssi_ckpt_hdr_t), 0xff);
    s_teardown();
    s_setup();
    {
        ssi_ckpt_hdr_t h;
        ck_assert_int_eq(pread(s_fd, &h, sizeof(h), 0), sizeof(h));
        s_poke(sizeof(h), 0xff); /* the image's magic */
        ck_assert_int_eq(ssi_ckpt_file_seal(s_fd, &h, s_why, sizeof(s_why)), 0);
        ck_assert_int_eq(s_verify(), -EPROTO);
        ck_assert_ptr_nonnull(strstr(s_why, "the image in the checkpoint: not an ssi image"));
    }
}
END_TEST

/* The header's own checks, without a file. */
START_TEST(test_ckpt_header_checks)
{
    ssi_ckpt_hdr_t h, g;
    uint64_t size;
    ssi_ckpt_hdr_init(&h, "n1", 77, 0, "a", 1);
    h.image_len = 10000;
    size = sizeof(h) + h.image_len;
    ck_assert_int_eq(ssi_ckpt_check_hdr(&h, size, s_why, sizeof(s_why)), 0);

    g = h;
    g.version = 2;
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, size, s_why, sizeof(s_why)), -EPROTONOSUPPORT);
    ck_assert_str_eq(s_why, "checkpoint format version 2 (this build reads 1)");
    g = h;
    g.hdr_size = 8;
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, size, s_why, sizeof(s_why)), -EPROTONOSUPPORT);
    g = h;
    g.image_version = SSI_IMAGE_VERSION + 1;
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, size, s_why, sizeof(s_why)), -EPROTONOSUPPORT);
    ck_assert_ptr_nonnull(strstr(s_why, "image of version"));
    g = h;
    memset(g.node, 'x', sizeof(g.node));
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, size, s_why, sizeof(s_why)), -EBADMSG);
    g = h;
    memset(g.cmd, 'x', sizeof(g.cmd));
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, size, s_why, sizeof(s_why)), -EBADMSG);
    g = h;
    g.pid = 0;
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, size, s_why, sizeof(s_why)), -EBADMSG);
    g = h;
    g.image_len = 3;
    ck_assert_int_eq(ssi_ckpt_check_hdr(&g, sizeof(h) + 3, s_why, sizeof(s_why)), -EBADMSG);
    ck_assert_int_eq(ssi_ckpt_check_hdr(&h, size - 1, s_why, sizeof(s_why)), -EPIPE);
    ck_assert_str_eq(s_why, "checkpoint truncated: it has 9999 bytes of its 10000-byte image");
    ck_assert_int_eq(ssi_ckpt_check_hdr(&h, size + 5, s_why, sizeof(s_why)), -EBADMSG);
    /* Strings that do not fit are cut, NUL-terminated. */
    char longcmd[600];
    memset(longcmd, 'c', sizeof(longcmd) - 1);
    longcmd[sizeof(longcmd) - 1] = 0;
    ssi_ckpt_hdr_init(&g, "n1", 77, 0, longcmd, 1);
    ck_assert_uint_eq(strlen(g.cmd), SSI_CKPT_CMD_MAX - 1);
}
END_TEST

Suite *suite_ckpt(void)
{
    Suite *s = suite_create("ckpt");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    /* The truncation test seals the file again for each of ~1000 cuts: seconds
     * on a loaded machine, beyond Check's default of 4 (CI, once). */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ckpt_accepts_sealed_file);
    tcase_add_test(tc, test_ckpt_rejects_truncated_file);
    tcase_add_test(tc, test_ckpt_rejects_corrupt_file);
    tcase_add_test(tc, test_ckpt_rejects_trailing_bytes);
    tcase_add_test(tc, test_ckpt_rejects_foreign_file);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("header");
    tcase_add_test(th, test_ckpt_header_checks);
    suite_add_tcase(s, th);
    return s;
}
