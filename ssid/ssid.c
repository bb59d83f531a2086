/* ssid: the node daemon, one per node. It keeps the cluster's membership
 * (heartbeats), disseminates load MOSIX style (gossip to a random peer),
 * keeps the table of ssi processes whose home is this node, answers tools
 * and shims on a local Unix socket, and orchestrates migrations (helper
 * programs do the work). Peers talk zeromq over TCP with CurveZMQ; only
 * keys listed in the cluster file get past our ZAP handler.
 *
 * This file: options, set-up and shutdown. The parts, bottom up (a part
 * calls only parts below it): ssid_node (shared state), ssid_client (local
 * clients and processes), ssid_load (load, heartbeats, gossip), ssid_ps
 * (ps fan-out), ssid_mig (migration records, helpers), ssid_relay,
 * ssid_offer (first hop), ssid_home (coming home, job control), ssid_move
 * (migrate requests, chained moves), ssid_loop (the zloop and dispatch). */
#define SSI_LOG_PREFIX "node"

#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ssi_cert.h"
#include "ssi_local.h"
#include "ssi_log.h"
#include "ssi_paths.h"
#include "ssid_client.h"
#include "ssid_loop.h"
#include "ssid_node.h"
#include "ssid_ps.h"
#include "ssid_state.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ssid --cluster FILE --name NODE --keys DIR [OPTIONS]\n"
            "\n"
            "The ssi node daemon: one per node. Runs in the foreground.\n"
            "\n"
            "  -c, --cluster FILE   the cluster file (every node's name, endpoint, key)\n"
            "  -n, --name NODE      this node's name in the cluster file\n"
            "  -k, --keys DIR       this node's key pair (made by 'ssictl keygen DIR')\n"
            "  -s, --socket PATH    local socket for tools and shims [%s]\n"
            "  -l, --log SINK       stderr or syslog [stderr]\n"
            "  -v, --verbose        log more (repeat for czmq's own messages)\n"
            "  -V, --version        print the version and protocol, and exit\n"
            "  -h, --help           this help\n"
            "\n"
            "See ssid(8) and ssi-cluster(5).\n",
            SSI_LOCAL_DEFAULT);
}

/* Where the helpers are (ssi_paths.h: installed, reached from our own
 * directory through the configured ones, or beside us in the build tree).
 * They are installed together: finding ssi-agent finds them all. */
static int s_find_helpers(void)
{
    char self[4096];
    int rc = ssi_paths_self_dir(self, sizeof self);
    if (rc == 0)
        rc = ssi_paths_find(self, ".", SSI_INST_SBINDIR, SSI_INST_PKGLIBEXECDIR, "ssi-agent", X_OK,
                            ssid_node.bindir, sizeof ssid_node.bindir);
    char real[sizeof ssid_node.bindir];
    if (rc == 0 && realpath(ssid_node.bindir, real)) /* for the log: no "sbin/../lib" */
        snprintf(ssid_node.bindir, sizeof ssid_node.bindir, "%s", real);
    if (rc < 0) {
        ssi_error("cannot find the helpers (ssi-agent, ssi-freeze, ssi-xfer, ssi-restore) in %s, "
                  "nor beside ssid in %s: reinstall ssi",
                  SSI_INST_PKGLIBEXECDIR, self);
        return -1;
    }
    ssi_info("ssi %s, protocol %d, helpers in %s", SSI_VERSION, ssid_node.proto, ssid_node.bindir);
    return 0;
}

/* The ZAP handler, the ROUTER (CURVE server on our endpoint) and one DEALER
 * per peer (CURVE client that knows the peer's key). */
static int s_setup_zmq(void)
{
    const ssi_node_conf_t *me = ssi_cluster_node(ssid_node.cluster, (size_t)ssid_node.self);
    /* The ZAP handler must be bound before the CURVE server exists, or
	 * libzmq lets every client in. */
    ssid_node.zap = zsock_new_rep("inproc://zeromq.zap.01");
    if (!ssid_node.zap) {
        ssi_error("cannot bind the ZAP handler");
        return -1;
    }
    zsock_t *r = ssid_node.router = zsock_new(ZMQ_ROUTER);
    zsock_set_zap_domain(r, "ssi");
    zcert_apply(ssid_node.cert, r);
    zsock_set_curve_server(r, 1);
    zsock_set_linger(r, 0);
    zsock_set_sndtimeo(r, 0);
    zsock_set_router_mandatory(r, 0);
    zsock_set_heartbeat_ivl(r, 1000);
    zsock_set_heartbeat_timeout(r, 3000);
    if (zsock_bind(r, "%s", me->endpoint) < 0) {
        ssi_error("cannot listen on %s: %s (is the endpoint one of this machine's addresses?)",
                  me->endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++) {
        if ((int)i == ssid_node.self)
            continue;
        zsock_t *d = ssid_node_dealer_open((int)i);
        if (!d)
            return -1;
        ssid_node.dealer[i] = d;
    }
    ssi_info("node %s of cluster '%s' listening on %s (%zu nodes)", ssid_node.name,
             ssi_cluster_name(ssid_node.cluster), me->endpoint,
             ssi_cluster_size(ssid_node.cluster));
    return 0;
}

/* Loads the cluster file and our keys, and checks that they agree. */
static int s_setup_identity(const char *cluster_path, const char *keys)
{
    char err[512];
    ssid_node.cluster = ssi_cluster_load(cluster_path, err, sizeof err);
    if (!ssid_node.cluster) {
        ssi_error("%s", err);
        return -1;
    }
    ssid_node.self = ssi_cluster_index(ssid_node.cluster, ssid_node.name);
    if (ssid_node.self < 0) {
        ssi_error("node '%s' is not in %s; the nodes there are listed by 'grep ^node %s'",
                  ssid_node.name, cluster_path, cluster_path);
        return -1;
    }
    ssid_node.cert = ssi_cert_load(keys, err, sizeof err);
    if (!ssid_node.cert) {
        ssi_error("%s", err);
        return -1;
    }
    if (strcmp(zcert_public_txt(ssid_node.cert),
               ssi_cluster_node(ssid_node.cluster, (size_t)ssid_node.self)->key) != 0) {
        ssi_error(
            "the key in %s/%s (%s) is not node %s's key in %s; fix the cluster file or --keys",
            keys, SSI_CERT_SECRET, zcert_public_txt(ssid_node.cert), ssid_node.name, cluster_path);
        return -1;
    }
    ssid_node.gossip = ssi_gossip_new(ssid_node.cluster, ssid_node.name);
    ssi_gossip_set_version(ssid_node.gossip, ssid_node.self, SSI_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cluster_path = NULL, *keys = NULL, *socket_path = NULL, *log = "stderr";
    int verbose = 0;
    static const struct option opts[] = {
        {"cluster", required_argument, 0, 'c'},
        {"name", required_argument, 0, 'n'},
        {"keys", required_argument, 0, 'k'},
        {"socket", required_argument, 0, 's'},
        {"log", required_argument, 0, 'l'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        /* For tests only (ssid(8), TESTING): speak protocol N to peers. */
        {"test-protocol", required_argument, 0, 'P'},
        {0, 0, 0, 0}};
    int c;
    char *end;
    long proto;
    while ((c = getopt_long(argc, argv, "c:n:k:s:l:vhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cluster_path = optarg; break;
        case 'n': ssid_node.name = optarg; break;
        case 'k': keys = optarg; break;
        case 's': socket_path = optarg; break;
        case 'l': log = optarg; break;
        case 'v': verbose++; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("ssid (ssi) %s, protocol %d\n", SSI_VERSION, SSI_MSG_VERSION); return 0;
        case 'P':
            proto = strtol(optarg, &end, 10);
            if (*optarg == 0 || *end || proto < 1 || proto > 255) {
                fprintf(stderr, "ssid: --test-protocol takes a number from 1 to 255, not '%s'\n",
                        optarg);
                return 2;
            }
            ssid_node.proto = (int)proto;
            break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !cluster_path || !ssid_node.name || !keys) {
        fprintf(stderr, "ssid: %s\n",
                optind != argc ? "unexpected argument"
                               : "--cluster, --name and --keys are required");
        usage(stderr);
        return 2;
    }
    if (strcmp(log, "stderr") != 0 && strcmp(log, "syslog") != 0) {
        fprintf(stderr, "ssid: --log takes 'stderr' or 'syslog', not '%s'\n", log);
        return 2;
    }
    /* czmq must not install its own signal handlers: we read signals from a
	 * signalfd in the main loop. */
    zsys_handler_set(NULL);
    ssi_log_open("ssid", ssid_node.name, strcmp(log, "syslog") == 0);
    ssi_log_set_level(verbose ? SSI_LOG_DEBUG : SSI_LOG_INFO);
    if (sodium_init() < 0) {
        ssi_error("libsodium failed to initialise");
        return 1;
    }
    if (s_setup_identity(cluster_path, keys) < 0)
        return 1;
    ssid_node.cluster_path = cluster_path;
    if (s_find_helpers() < 0)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ssid_node.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    const char *path = socket_path ? socket_path : ssi_local_path();
    char err[512];
    ssid_node.listen_fd = ssi_local_listen(path, err, sizeof err);
    if (ssid_node.listen_fd < 0) {
        ssi_error("%s", err);
        return 1;
    }
    ssid_state_init(path);
    zsys_set_linger(0);
    ssid_node.loop = zloop_new();
    int rc = s_setup_zmq();
    if (rc == 0)
        rc = ssid_loop_run();
    unlink(path);
    ssid_client_close_all();
    ssid_ps_stop();
    zloop_destroy(&ssid_node.loop);
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++)
        zsock_destroy(&ssid_node.dealer[i]);
    zsock_destroy(&ssid_node.router);
    zsock_destroy(&ssid_node.zap);
    zcert_destroy(&ssid_node.cert);
    ssi_gossip_destroy(&ssid_node.gossip);
    ssi_cluster_destroy(&ssid_node.cluster);
    zsys_shutdown();
    ssi_info("stopped");
    return rc == 0 ? 0 : 1;
}
