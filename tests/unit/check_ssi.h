/* The unit suites, one per module; check_main.c runs them all. */
#ifndef CHECK_SSI_H
#define CHECK_SSI_H

#include <check.h>

Suite *suite_msg(void);
Suite *suite_cluster(void);
Suite *suite_cert(void);
Suite *suite_gossip(void);
Suite *suite_chan(void);
Suite *suite_precheck(void);
Suite *suite_image(void);
Suite *suite_cpu(void);
Suite *suite_json(void);
Suite *suite_flow(void);
Suite *suite_tunnel(void);
Suite *suite_fdpass(void);
Suite *suite_call(void);
Suite *suite_paths(void);
Suite *suite_stats(void);
Suite *suite_policy(void);
Suite *suite_ckpt(void);

#endif
