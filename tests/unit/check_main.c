/* Runs every unit suite; exit status 0 only when all pass. */
#include <stdlib.h>

#include "check_ssi.h"

int main(void)
{
    SRunner *sr = srunner_create(suite_msg());
    srunner_add_suite(sr, suite_cluster());
    srunner_add_suite(sr, suite_cert());
    srunner_add_suite(sr, suite_gossip());
    srunner_add_suite(sr, suite_chan());
    srunner_add_suite(sr, suite_precheck());
    srunner_add_suite(sr, suite_image());
    srunner_add_suite(sr, suite_cpu());
    srunner_add_suite(sr, suite_json());
    srunner_add_suite(sr, suite_flow());
    srunner_add_suite(sr, suite_tunnel());
    srunner_add_suite(sr, suite_fdpass());
    srunner_add_suite(sr, suite_call());
    srunner_add_suite(sr, suite_paths());
    srunner_add_suite(sr, suite_stats());
    srunner_add_suite(sr, suite_policy());
    srunner_add_suite(sr, suite_ckpt());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
