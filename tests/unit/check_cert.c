/* ssi_cert: key files on disk, their permissions, and every bad key file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_cert.h"

static char dir[64], path[128], err[512];

static void setup(void)
{
    strcpy(dir, "/tmp/ssi-cert-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_cert_keygen_then_load)
{
    char z85[41];
    snprintf(path, sizeof path, "%s/keys", dir);
    ck_assert_int_eq(ssi_cert_keygen(path, "n1", z85, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(z85), 40);
    struct stat st;
    snprintf(path, sizeof path, "%s/keys/secret.cert", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/keys", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    zcert_t *cert = ssi_cert_load(path, err, sizeof err);
    ck_assert_msg(cert != NULL, "%s", err);
    ck_assert_str_eq(zcert_public_txt(cert), z85);
    zcert_destroy(&cert);
}
END_TEST

START_TEST(test_cert_keygen_refuses_overwrite)
{
    char z85[41];
    ck_assert_int_eq(ssi_cert_keygen(dir, NULL, z85, err, sizeof err), 0);
    ck_assert_int_lt(ssi_cert_keygen(dir, NULL, z85, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "exists already"), "%s", err);
}
END_TEST

START_TEST(test_cert_rejects_missing_key_file)
{
    zcert_t *cert = ssi_cert_load(dir, err, sizeof err);
    ck_assert_ptr_null(cert);
    ck_assert_msg(strstr(err, "missing key file") && strstr(err, "ssictl keygen"), "%s", err);
}
END_TEST

START_TEST(test_cert_rejects_loose_permissions)
{
    char z85[41];
    ck_assert_int_eq(ssi_cert_keygen(dir, NULL, z85, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/secret.cert", dir);
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_ptr_null(ssi_cert_load(dir, err, sizeof err));
    ck_assert_msg(strstr(err, "readable by others") && strstr(err, "chmod 600"), "%s", err);
}
END_TEST

START_TEST(test_cert_rejects_malformed_key_file)
{
    snprintf(path, sizeof path, "%s/secret.cert", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("curve\n    public-key = \"tooshort\"\n", f);
    fclose(f);
    chmod(path, 0600);
    ck_assert_ptr_null(ssi_cert_load(dir, err, sizeof err));
    ck_assert_msg(strstr(err, "not a CURVE secret key file"), "%s", err);
}
END_TEST

Suite *suite_cert(void)
{
    Suite *s = suite_create("cert");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cert_keygen_then_load);
    tcase_add_test(tc, test_cert_keygen_refuses_overwrite);
    tcase_add_test(tc, test_cert_rejects_missing_key_file);
    tcase_add_test(tc, test_cert_rejects_loose_permissions);
    tcase_add_test(tc, test_cert_rejects_malformed_key_file);
    suite_add_tcase(s, tc);
    return s;
}
