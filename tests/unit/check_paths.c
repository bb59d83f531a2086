/* Unit tests of ssi_paths: the relative path between installed
 * directories, and the order in which a file is looked for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_paths.h"

static void s_rel(const char *from, const char *to, const char *want)
{
    char out[256];
    ck_assert_int_eq(ssi_paths_rel(from, to, out, sizeof out), 0);
    ck_assert_str_eq(out, want);
}

START_TEST(test_paths_rel_between_installed_dirs)
{
    s_rel("/usr/sbin", "/usr/lib/x86_64-linux-gnu/ssi", "../lib/x86_64-linux-gnu/ssi");
    s_rel("/usr/bin", "/usr/lib/ssi", "../lib/ssi");
    s_rel("/usr/local/sbin", "/usr/local/libexec/ssi", "../libexec/ssi");
    s_rel("/opt/ssi/bin", "/opt/ssi/bin", ".");
    s_rel("/opt/ssi/bin/", "/opt//ssi/./bin", ".");
    s_rel("/", "/usr/lib/ssi", "usr/lib/ssi");
    s_rel("/usr/bin", "/", "../..");
    s_rel("/a/b/c", "/a/x", "../../x");
    /* A component that only shares a prefix is not common. */
    s_rel("/usr/lib", "/usr/lib64/ssi", "../lib64/ssi");
}
END_TEST

START_TEST(test_paths_rel_rejects_relative_and_dotdot)
{
    char out[64];
    ck_assert_int_eq(ssi_paths_rel("usr/bin", "/usr/lib", out, sizeof out), -EINVAL);
    ck_assert_int_eq(ssi_paths_rel("/usr/bin", "/usr/../lib", out, sizeof out), -EINVAL);
    ck_assert_int_eq(ssi_paths_rel("/usr/bin", "/usr/lib/ssi", out, 5), -ENAMETOOLONG);
}
END_TEST

/* A staged install under a temporary root: bin/ssirun's library under
 * lib/ssi, and a stray one of the old layout in lib/ beside bin. */
START_TEST(test_paths_find_prefers_installed_place)
{
    char root[] = "/tmp/ssi-paths-XXXXXX", p[512], dir[512];
    ck_assert_ptr_nonnull(mkdtemp(root));
    const char *mk[] = {"bin", "lib", "lib/ssi", "build", "build/bin", "build/lib"};
    for (size_t i = 0; i < sizeof mk / sizeof *mk; i++) {
        snprintf(p, sizeof p, "%s/%s", root, mk[i]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    const char *files[] = {"lib/ssi/libssi.so", "lib/libssi.so", "build/lib/libssi.so"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
    }
    char self[512], want[1100];
    /* Installed: bin -> ../lib/ssi wins over the build-style ../lib. */
    snprintf(self, sizeof self, "%s/bin", root);
    ck_assert_int_eq(ssi_paths_find(self, "../lib", "/usr/bin", "/usr/lib/ssi", "libssi.so", R_OK,
                                    dir, sizeof dir),
                     0);
    snprintf(want, sizeof want, "%s/../lib/ssi", self);
    ck_assert_str_eq(dir, want);
    /* Build tree: build/bin has no ../lib/ssi, so ../lib. */
    snprintf(self, sizeof self, "%s/build/bin", root);
    ck_assert_int_eq(ssi_paths_find(self, "../lib", "/usr/bin", "/usr/lib/ssi", "libssi.so", R_OK,
                                    dir, sizeof dir),
                     0);
    snprintf(want, sizeof want, "%s/../lib", self);
    ck_assert_str_eq(dir, want);
    /* Neither: the absolute installed directory, here absent: -ENOENT. */
    snprintf(self, sizeof self, "%s/lib/ssi", root);
    ck_assert_int_eq(ssi_paths_find(self, "nowhere", "/usr/bin", "/nonexistent/ssi", "libssi.so",
                                    R_OK, dir, sizeof dir),
                     -ENOENT);
    /* ... and found there when it exists. */
    snprintf(want, sizeof want, "%s/lib/ssi", root);
    ck_assert_int_eq(ssi_paths_find("/nonexistent", "nowhere", "/usr/bin", want, "libssi.so", R_OK,
                                    dir, sizeof dir),
                     0);
    ck_assert_str_eq(dir, want);
    for (int i = (int)(sizeof files / sizeof *files) - 1; i >= 0; i--) {
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        unlink(p);
    }
    for (int i = (int)(sizeof mk / sizeof *mk) - 1; i >= 0; i--) {
        snprintf(p, sizeof p, "%s/%s", root, mk[i]);
        rmdir(p);
    }
    rmdir(root);
}
END_TEST

Suite *suite_paths(void)
{
    Suite *s = suite_create("paths");
    TCase *tc = tcase_create("paths");
    tcase_add_test(tc, test_paths_rel_between_installed_dirs);
    tcase_add_test(tc, test_paths_rel_rejects_relative_and_dotdot);
    tcase_add_test(tc, test_paths_find_prefers_installed_place);
    suite_add_tcase(s, tc);
    return s;
}
