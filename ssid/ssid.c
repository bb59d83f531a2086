/* ssid: the node daemon. One per node. It keeps the cluster's membership
 * (heartbeats), disseminates load MOSIX style (gossip to a random peer), keeps
 * the table of ssi processes that live on this node, and answers tools and
 * shims on a local Unix socket. Peers talk zeromq over TCP with CurveZMQ;
 * only keys listed in the cluster file get past our ZAP handler. */
#define SSI_LOG_PREFIX "node"

#include <czmq.h>
#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ssi_cert.h"
#include "ssi_chan.h"
#include "ssi_cluster.h"
#include "ssi_gossip.h"
#include "ssi_local.h"
#include "ssi_log.h"
#include "ssi_msg.h"
#include "ssi_precheck.h"

#define HEARTBEAT_MS 500
#define GOSSIP_MS 500
#define PS_WAIT_MS 1000
#define MAX_CLIENTS 4096
#define CLIENT_BUF 65536
#define FRAME_MAX (SSI_MSG_HEADER + SSI_MSG_MAX_BODY)

/* One connection on the local socket: a tool asking once, or a shim whose
 * connection stays open for as long as its process lives. */
typedef struct {
	int fd;
	pid_t pid; /* from SO_PEERCRED */
	uid_t uid;
	bool registered;
	pid_t ppid;
	char cmd[1024];
	int away;       /* node index where its body runs, or -1: at home */
	int pidfd;      /* away: the deputy, watched once its socket closes */
	bool migrating; /* a migration is under way */
	bool stop_sent; /* away: its deputy is stopped and the body was told */
	size_t len;
	uint8_t buf[CLIENT_BUF];
} client_t;

/* A `ssictl ps` in flight: waiting for the peers' answers. */
typedef struct ps_req {
	struct ps_req *next;
	uint64_t reqid;
	int client_fd;
	int64_t deadline;
	int waiting;                    /* answers still expected */
	bool asked[SSI_CLUSTER_MAX];    /* peers we asked */
	bool answered[SSI_CLUSTER_MAX];
	size_t nbytes;
	uint8_t *records; /* PROC fields, back to back, ready to copy */
} ps_req_t;

typedef struct {
	zsock_t *dealer; /* our link to that peer, CURVE client */
} peer_t;

static struct {
	const char *name;
	ssi_cluster_t *cluster;
	int self;
	zcert_t *cert;
	ssi_gossip_t *gossip;
	zsock_t *router; /* CURVE server: everything peers send us */
	zsock_t *zap;    /* our ZAP handler: the allowlist */
	peer_t peer[SSI_CLUSTER_MAX];
	int listen_fd;
	int signal_fd;
	client_t *client[MAX_CLIENTS];
	int nclients;
	ps_req_t *ps;
	uint64_t next_reqid;
	uint64_t seq;
	double load; /* smoothed run-queue length */
	int64_t last_refusal_log;
	bool was_up[SSI_CLUSTER_MAX];
	char bindir[4096]; /* where ssid and its helpers live */
} S;

static uint8_t s_frame[FRAME_MAX];

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
	        "  -h, --help           this help\n"
	        "\n"
	        "See ssid(8) and ssi-cluster(5).\n",
	        SSI_LOCAL_DEFAULT);
}

static int64_t s_now(void)
{
	return zclock_mono();
}

/* --- load measurement ------------------------------------------------------ */

/* Runnable tasks in our PID namespace (our /proc), not counting ourselves. */
static int s_runnable(void)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	int n = 0;
	pid_t me = getpid();
	struct dirent *d;
	while ((d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/task", pid);
		DIR *tasks = opendir(path);
		if (!tasks)
			continue;
		struct dirent *t;
		while ((t = readdir(tasks))) {
			if (t->d_name[0] == '.')
				continue;
			char sp[300], buf[512];
			snprintf(sp, sizeof sp, "/proc/%ld/task/%s/stat", pid, t->d_name);
			FILE *f = fopen(sp, "r");
			if (!f)
				continue;
			size_t len = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[len] = 0;
			char *rp = strrchr(buf, ')');
			if (rp && rp[1] == ' ' && rp[2] == 'R' && pid != me)
				n++;
		}
		closedir(tasks);
	}
	closedir(proc);
	return n;
}

static uint64_t s_meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t v = 0;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtoull(line + kl + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* Our CPU share x 1000 from a cgroup quota (v2 cpu.max or v1 cfs), else the
 * number of CPUs we may run on x 1000. */
static uint64_t s_cpu_share(uint64_t ncpu)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512], path[600];
	uint64_t share = ncpu * 1000;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *ctl = strchr(line, ':');
		char *cg = ctl ? strchr(ctl + 1, ':') : NULL;
		if (!cg)
			continue;
		*cg++ = 0;
		ctl++;
		long long quota = -1, period = 0;
		if (*ctl == 0) {
			snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", cg);
			FILE *m = fopen(path, "r");
			if (m) {
				char q[32];
				if (fscanf(m, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0)
					quota = atoll(q);
				fclose(m);
			}
		} else if (strstr(ctl, "cpu") && !strstr(ctl, "cpuset")) {
			snprintf(path, sizeof path, "/sys/fs/cgroup/cpu%s/cpu.cfs_quota_us", cg);
			FILE *m = fopen(path, "r");
			if (m) {
				if (fscanf(m, "%lld", &quota) != 1)
					quota = -1;
				fclose(m);
			}
			snprintf(path, sizeof path, "/sys/fs/cgroup/cpu%s/cpu.cfs_period_us", cg);
			m = fopen(path, "r");
			if (m) {
				if (fscanf(m, "%lld", &period) != 1)
					period = 0;
				fclose(m);
			}
		}
		if (quota > 0 && period > 0 && (uint64_t)(quota * 1000 / period) < share)
			share = (uint64_t)(quota * 1000 / period);
	}
	if (f)
		fclose(f);
	return share;
}

static int s_nprocs(void)
{
	int n = 0;
	for (int i = 0; i < S.nclients; i++)
		n += S.client[i]->registered;
	return n;
}

static void s_measure(void)
{
	/* Exponential smoothing, as MOSIX does, so that one busy moment does not
	 * look like a loaded node. */
	S.load = 0.7 * S.load + 0.3 * s_runnable();
	cpu_set_t set;
	uint64_t ncpu = 1;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		ncpu = (uint64_t)CPU_COUNT(&set);
	ssi_gossip_entry_t own = {
		.loadm = (uint64_t)(S.load * 1000 + 0.5),
		.ncpu = ncpu,
		.cpum = s_cpu_share(ncpu),
		.freekb = s_meminfo_kb("MemAvailable"),
		.nprocs = (uint64_t)s_nprocs(),
	};
	ssi_gossip_set_own(S.gossip, &own, s_now());
}

/* --- peers ------------------------------------------------------------------ */

static void s_send_peer(int idx, const void *buf, size_t len)
{
	zsock_t *d = S.peer[idx].dealer;
	if (!d)
		return;
	/* Non-blocking: a peer that is down simply misses the message. */
	zmq_send(zsock_resolve(d), buf, len, ZMQ_DONTWAIT);
}

static void s_heartbeat(void)
{
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, s_frame, sizeof s_frame, SSI_MSG_HEARTBEAT);
	ssi_msg_put_str(&w, SSI_TAG_NODE, S.name);
	ssi_msg_put_u64(&w, SSI_TAG_SEQ, ++S.seq);
	long len = ssi_msg_end(&w);
	for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++)
		if ((int)i != S.self && len > 0)
			s_send_peer((int)i, s_frame, (size_t)len);
}

static void s_gossip(void)
{
	int to = ssi_gossip_pick(S.gossip, randombytes_random(), s_now());
	if (to < 0)
		return;
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, s_frame, sizeof s_frame, SSI_MSG_GOSSIP);
	ssi_msg_put_str(&w, SSI_TAG_NODE, S.name);
	ssi_gossip_encode(S.gossip, &w, s_now(), false);
	long len = ssi_msg_end(&w);
	if (len > 0)
		s_send_peer(to, s_frame, (size_t)len);
}

static void s_check_liveness(void)
{
	int64_t now = s_now();
	for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++) {
		if ((int)i == S.self)
			continue;
		bool up = ssi_gossip_is_up(S.gossip, (int)i, now);
		if (up != S.was_up[i])
			ssi_log_msg(up ? SSI_LOG_INFO : SSI_LOG_WARN, SSI_LOG_PREFIX, "node %s is %s",
			            ssi_cluster_node(S.cluster, i)->name, up ? "up" : "down");
		S.was_up[i] = up;
	}
}

/* Append this node's processes as PROC records. */
static void s_put_procs(ssi_msg_writer_t *w)
{
	for (int i = 0; i < S.nclients; i++) {
		client_t *c = S.client[i];
		if (!c->registered)
			continue;
		char path[64], buf[512], state = '?';
		snprintf(path, sizeof path, "/proc/%d/stat", c->pid);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			buf[n] = 0;
			char *rp = strrchr(buf, ')');
			if (rp && rp[1])
				state = rp[2];
			fclose(f);
		}
		const char *st = c->migrating               ? "migrating"
		                 : c->away >= 0 && (state == 'T' || state == 't') ? "stopped"
		                 : c->away >= 0             ? "away"
		                 : state == 'T' || state == 't' ? "stopped"
		                 : state == 'Z'             ? "zombie"
		                                            : "running";
		const char *node = c->away >= 0 ? ssi_cluster_node(S.cluster, (size_t)c->away)->name : S.name;
		size_t mark = ssi_msg_open(w, SSI_TAG_PROC);
		ssi_msg_put_str(w, SSI_TAG_HOME, S.name);
		ssi_msg_put_u64(w, SSI_TAG_PID, (uint64_t)c->pid);
		ssi_msg_put_str(w, SSI_TAG_NODE, node);
		ssi_msg_put_str(w, SSI_TAG_STATE, st);
		ssi_msg_put_u64(w, SSI_TAG_UID, c->uid);
		ssi_msg_put_str_cut(w, SSI_TAG_CMD, c->cmd);
		ssi_msg_close(w, mark);
	}
}

static void s_ps_finish(ps_req_t *r);
static void s_on_mig_offer(int from, const ssi_msg_t *m);
static void s_on_mig_ready(int from, const ssi_msg_t *m);
static void s_on_mig_fail(int from, const ssi_msg_t *m);
static void s_on_peer_migrate(int from, const ssi_msg_t *m);
static void s_on_mig_done(int from, const ssi_msg_t *m);
static void s_on_body_signal(int from, const ssi_msg_t *m);

static void s_ps_collect(uint64_t reqid, int from, const ssi_msg_t *m)
{
	for (ps_req_t *r = S.ps; r; r = r->next) {
		if (r->reqid != reqid)
			continue;
		if (!r->asked[from] || r->answered[from])
			return;
		r->answered[from] = true;
		for (size_t i = 0; i < m->nfields; i++) {
			const ssi_field_t *f = &m->field[i];
			if (f->tag != SSI_TAG_PROC || r->nbytes + 3 + f->len > SSI_MSG_MAX_BODY / 2)
				continue;
			uint8_t *nb = realloc(r->records, r->nbytes + 3 + f->len);
			if (!nb)
				continue;
			r->records = nb;
			nb[r->nbytes] = f->tag;
			nb[r->nbytes + 1] = (uint8_t)(f->len >> 8);
			nb[r->nbytes + 2] = (uint8_t)f->len;
			memcpy(nb + r->nbytes + 3, f->val, f->len);
			r->nbytes += 3 + f->len;
		}
		if (--r->waiting == 0)
			s_ps_finish(r);
		return;
	}
}

/* A message from a peer, already authenticated: from is its index. */
static void s_peer_message(int from, const uint8_t *data, size_t len, zsock_t *reply_to,
                           zframe_t *identity)
{
	static ssi_msg_t m;
	int rc = ssi_msg_parse(data, len, &m);
	if (rc < 0) {
		ssi_warn("dropped a malformed frame from %s: %s", ssi_cluster_node(S.cluster, (size_t)from)->name,
		         strerror(-rc));
		return;
	}
	int64_t now = s_now();
	ssi_gossip_heard(S.gossip, from, now);
	switch (m.type) {
	case SSI_MSG_HEARTBEAT:
		break;
	case SSI_MSG_GOSSIP:
		rc = ssi_gossip_apply(S.gossip, &m, now);
		if (rc < 0)
			ssi_warn("dropped a malformed gossip from %s", ssi_cluster_node(S.cluster, (size_t)from)->name);
		break;
	case SSI_MSG_PS: {
		uint64_t reqid = 0;
		ssi_field_u64(ssi_msg_find(m.field, m.nfields, SSI_TAG_REQID), &reqid);
		if (!reply_to)
			break;
		static uint8_t out[FRAME_MAX];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_PS_REP);
		ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
		ssi_msg_put_str(&w, SSI_TAG_NODE, S.name);
		s_put_procs(&w);
		long n = ssi_msg_end(&w);
		if (n > 0) {
			zframe_t *id = zframe_dup(identity);
			zframe_send(&id, reply_to, ZFRAME_MORE);
			zmq_send(zsock_resolve(reply_to), out, (size_t)n, ZMQ_DONTWAIT);
		}
		break;
	}
	case SSI_MSG_MIG_OFFER:
		s_on_mig_offer(from, &m);
		break;
	case SSI_MSG_MIGRATE:
		s_on_peer_migrate(from, &m);
		break;
	case SSI_MSG_MIG_DONE:
		s_on_mig_done(from, &m);
		break;
	case SSI_MSG_MIG_READY:
		s_on_mig_ready(from, &m);
		break;
	case SSI_MSG_MIG_FAIL:
		s_on_mig_fail(from, &m);
		break;
	case SSI_MSG_BODY_SIGNAL:
		s_on_body_signal(from, &m);
		break;
	case SSI_MSG_PS_REP: {
		uint64_t reqid = 0;
		if (ssi_field_u64(ssi_msg_find(m.field, m.nfields, SSI_TAG_REQID), &reqid) == 0)
			s_ps_collect(reqid, from, &m);
		break;
	}
	default:
		ssi_debug("ignored %s from %s", ssi_msg_type_name(m.type),
		          ssi_cluster_node(S.cluster, (size_t)from)->name);
	}
}

/* Who sent this frame: the node name our ZAP handler put in User-Id. */
static int s_sender(zframe_t *frame)
{
	const char *user = zframe_meta(frame, "User-Id");
	return user ? ssi_cluster_index(S.cluster, user) : -1;
}

static void s_on_router(void)
{
	zmsg_t *msg = zmsg_recv(S.router);
	if (!msg)
		return;
	zframe_t *id = zmsg_pop(msg);
	zframe_t *body = zmsg_pop(msg);
	if (id && body && zmsg_size(msg) == 0) {
		int from = s_sender(body);
		if (from >= 0 && from != S.self)
			s_peer_message(from, zframe_data(body), zframe_size(body), S.router, id);
	}
	zframe_destroy(&id);
	zframe_destroy(&body);
	zmsg_destroy(&msg);
}

static void s_on_dealer(int idx)
{
	zframe_t *f = zframe_recv(S.peer[idx].dealer);
	if (!f)
		return;
	/* Replies on our own link come from the server we authenticated by its
	 * key (CURVE), so the sender is idx. */
	if (!zframe_more(f))
		s_peer_message(idx, zframe_data(f), zframe_size(f), NULL, NULL);
	else
		while (zsock_rcvmore(S.peer[idx].dealer)) {
			zframe_t *g = zframe_recv(S.peer[idx].dealer);
			zframe_destroy(&g);
		}
	zframe_destroy(&f);
}

/* ZAP (RFC 27): let in a CURVE client only if its key is a cluster node's. */
static void s_on_zap(void)
{
	zmsg_t *req = zmsg_recv(S.zap);
	if (!req)
		return;
	char *version = zmsg_popstr(req);
	char *reqid = zmsg_popstr(req);
	char *domain = zmsg_popstr(req);
	char *address = zmsg_popstr(req);
	char *identity = zmsg_popstr(req);
	char *mechanism = zmsg_popstr(req);
	zframe_t *key = zmsg_pop(req);
	const ssi_node_conf_t *node = NULL;
	if (mechanism && strcmp(mechanism, "CURVE") == 0 && key && zframe_size(key) == 32)
		node = ssi_cluster_find_key(S.cluster, zframe_data(key));
	if (!node) {
		char z85[41] = "?";
		if (key && zframe_size(key) == 32)
			zmq_z85_encode(z85, zframe_data(key), 32);
		int64_t now = s_now();
		/* A refused peer retries every few hundred ms: say it, not forever. */
		if (now - S.last_refusal_log > 5000) {
			ssi_warn("refused a peer from %s: its key %s is not in the cluster file (%s)",
			         address ? address : "?", z85, mechanism ? mechanism : "?");
			S.last_refusal_log = now;
		}
	}
	zmsg_t *rep = zmsg_new();
	zmsg_addstr(rep, "1.0");
	zmsg_addstr(rep, reqid ? reqid : "");
	zmsg_addstr(rep, node ? "200" : "400");
	zmsg_addstr(rep, node ? "OK" : "key not in cluster file");
	zmsg_addstr(rep, node ? node->name : "");
	zmsg_addmem(rep, NULL, 0);
	zmsg_send(&rep, S.zap);
	free(version);
	free(reqid);
	free(domain);
	free(address);
	free(identity);
	free(mechanism);
	zframe_destroy(&key);
	zmsg_destroy(&req);
}

/* --- local clients ------------------------------------------------------------ */

static void s_mig_forget_client(int fd);

static void s_client_close(int i)
{
	client_t *c = S.client[i];
	/* A deputy may close the socket its process registered with: from then
	 * on its pidfd (readable when the process ends) stands in for it. */
	if (c->registered && c->pidfd >= 0) {
		close(c->fd);
		c->fd = c->pidfd;
		c->pidfd = -1;
		c->len = 0;
		return;
	}
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->registered)
		ssi_info("process %d left (%s)", c->pid, c->cmd);
	for (ps_req_t *r = S.ps; r; r = r->next)
		if (r->client_fd == c->fd)
			r->client_fd = -1;
	s_mig_forget_client(c->fd);
	close(c->fd);
	free(c);
	S.client[i] = S.client[--S.nclients];
}

static client_t *s_client_by_fd(int fd)
{
	for (int i = 0; i < S.nclients; i++)
		if (S.client[i]->fd == fd)
			return S.client[i];
	return NULL;
}

static void s_reply(client_t *c, const void *buf, size_t len)
{
	/* Replies are small and clients wait for them; a client that does not
	 * read loses its connection rather than stalling the daemon. */
	if (ssi_local_send(c->fd, buf, len) < 0)
		shutdown(c->fd, SHUT_RDWR);
}

static void s_reply_error(client_t *c, int err, const char *text)
{
	uint8_t out[1024];
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, out, sizeof out, SSI_MSG_ERROR);
	ssi_msg_put_u64(&w, SSI_TAG_ERRNO, (uint64_t)err);
	ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
	long n = ssi_msg_end(&w);
	if (n > 0)
		s_reply(c, out, (size_t)n);
}

static void s_ps_finish(ps_req_t *r)
{
	client_t *c = r->client_fd >= 0 ? s_client_by_fd(r->client_fd) : NULL;
	if (c) {
		static uint8_t out[FRAME_MAX];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_PS_REP);
		ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
		ssi_msg_put_str(&w, SSI_TAG_NODE, S.name);
		s_put_procs(&w);
		if (!w.err && w.len + r->nbytes <= w.cap) {
			memcpy(w.buf + w.len, r->records, r->nbytes);
			w.len += r->nbytes;
		}
		/* Say which nodes did not answer, so the tool can tell the user. */
		for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++)
			if (r->asked[i] && !r->answered[i])
				ssi_msg_put_str(&w, SSI_TAG_TEXT, ssi_cluster_node(S.cluster, i)->name);
		long n = ssi_msg_end(&w);
		if (n > 0)
			s_reply(c, out, (size_t)n);
	}
	for (ps_req_t **pp = &S.ps; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r->records);
	free(r);
}

/* --- migration ------------------------------------------------------------
 *
 * Home side: ssictl asks (MIGRATE); ssid checks what can be checked without
 * touching the process, sends MIG_OFFER with two fresh keys to the
 * destination, and when that answers MIG_READY runs
 *     ssi-freeze --deputy DEST:DPORT --key-fd 3 PID | ssi-xfer send --to DEST:PORT --key-fd 3
 * ssi-freeze's exit status says how it ended: 0 the process is the deputy
 * and its body runs at the destination; anything else, it runs on at home.
 * Destination side: on MIG_OFFER it listens on two ports of its own address
 * and runs
 *     ssi-xfer recv --listen-fd 3 --key-fd 4 | ssi-agent ... (pid 1 of a new PID namespace)
 * The helpers are separate programs: ssid forks only to exec them, so its
 * event loop (and the heartbeats) never waits for a migration. */

#define MIG_OFFER_MS 10000   /* the destination must answer an offer by then */
#define MIG_HELPER_MAX 2
#define XFER_TIMEOUT "10000" /* ms without progress before an image transfer gives up */

/* Who asked for a migration, and so who gets the answer: a local ssictl,
 * or another node that relays for its own ssictl (ssictl migrate HOME:PID). */
typedef struct {
	int client_fd;   /* a local client, or -1 */
	int peer;        /* a relaying node, or -1 */
	uint64_t reqid;  /* the relaying node's request id */
	uid_t uid;       /* the user asking */
} asker_t;

static void s_on_migrate(const asker_t *a, const ssi_msg_t *m);
static void s_home_start(const asker_t *a, client_t *p, int chain_to);
static void s_mig_offer_start(const asker_t *a, client_t *p, int to, const char *note);

typedef struct mig {
	struct mig *next;
	uint64_t reqid;
	bool home_side;
	int peer;          /* the other node's index */
	asker_t asker;     /* home side: who waits for the answer */
	pid_t pid;         /* the process's home pid */
	char home[SSI_NAME_MAX + 1];
	uint8_t key[32];   /* image key */
	uint8_t key2[32];  /* data key */
	int64_t deadline;  /* home side: for MIG_READY; 0 once the helpers run */
	pid_t helper[MIG_HELPER_MAX];
	int status[MIG_HELPER_MAX];
	int nhelpers, nexited;
	int err_fd;        /* the helpers' stderr, for the reason of a failure */
	int status_fd;     /* destination: ssi-agent's status lines */
	uint16_t port;     /* destination: the image port */
	bool ready_sent;   /* destination: MIG_READY went out */
	char line[256];    /* destination: a partial status line */
	size_t linelen;
	char err[512];
	size_t errlen;
	bool homecoming;   /* home side: the body comes home (ssi-freeze --home) */
	int chain_to;      /* homecoming: then move on to this node, or -1 */
	char note[160];    /* said first in the final message */
} mig_t;

static mig_t *s_migs;

/* A migration this node asked another node (the process's home) to make. */
typedef struct relay {
	struct relay *next;
	uint64_t reqid;
	int client_fd;
	int home;
	int64_t deadline;
} relay_t;

static relay_t *s_relays;
#define RELAY_WAIT_MS 600000

static void s_mig_forget_client(int fd)
{
	for (mig_t *m = s_migs; m; m = m->next)
		if (m->asker.client_fd == fd)
			m->asker.client_fd = -1;
	for (relay_t *r = s_relays; r; r = r->next)
		if (r->client_fd == fd)
			r->client_fd = -1;
}

static client_t *s_proc_by_pid(pid_t pid)
{
	for (int i = 0; i < S.nclients; i++)
		if (S.client[i]->registered && S.client[i]->pid == pid)
			return S.client[i];
	return NULL;
}

static mig_t *s_mig_find(uint64_t reqid, bool home_side)
{
	for (mig_t *m = s_migs; m; m = m->next)
		if (m->reqid == reqid && m->home_side == home_side)
			return m;
	return NULL;
}

/* The host part of a tcp://HOST:PORT endpoint. */
static void s_endpoint_host(const char *ep, char *out, size_t cap)
{
	const char *h = ep + 6;
	const char *colon = strrchr(h, ':');
	size_t n = colon ? (size_t)(colon - h) : strlen(h);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, h, n);
	out[n] = 0;
}

static void s_reply_ok(client_t *c, const char *text)
{
	uint8_t out[1024];
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, out, sizeof out, SSI_MSG_OK);
	ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
	long n = ssi_msg_end(&w);
	if (n > 0)
		s_reply(c, out, (size_t)n);
}

static void s_mig_free(mig_t *m)
{
	for (mig_t **pp = &s_migs; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (m->err_fd >= 0)
		close(m->err_fd);
	if (m->status_fd >= 0)
		close(m->status_fd);
	sodium_memzero(m->key, sizeof m->key);
	sodium_memzero(m->key2, sizeof m->key2);
	free(m);
}

/* Answer whoever asked. */
static void s_answer(const asker_t *a, int err, const char *text)
{
	client_t *c = a->client_fd >= 0 ? s_client_by_fd(a->client_fd) : NULL;
	if (c) {
		if (err)
			s_reply_error(c, err, text);
		else
			s_reply_ok(c, text);
	} else if (a->peer >= 0) {
		uint8_t out[1200];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIG_DONE);
		ssi_msg_put_u64(&w, SSI_TAG_REQID, a->reqid);
		ssi_msg_put_u64(&w, SSI_TAG_ERRNO, (uint64_t)err);
		ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
		long n = ssi_msg_end(&w);
		if (n > 0)
			s_send_peer(a->peer, out, (size_t)n);
	}
}

/* Tell whoever asked how it ended, and forget the migration. */
static void s_mig_finish(mig_t *m, int err, const char *text)
{
	if (err)
		ssi_warn("migration of %d to %s failed: %s", m->pid, ssi_cluster_node(S.cluster, (size_t)m->peer)->name,
		         text);
	else
		ssi_info("%s", text);
	s_answer(&m->asker, err, text);
	s_mig_free(m);
}

/* fork + exec with fds[i] placed at fd i (fds[i] < 0: /dev/null for 0-2,
 * closed otherwise). With new_pidns the program is pid 1 of a fresh PID
 * namespace. Only async-signal-safe calls between fork and exec. */
static pid_t s_spawn(char *const argv[], const int *fds, int nfds, bool new_pidns)
{
	/* Helpers live beside ssid. */
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", S.bindir, argv[0]);
	pid_t pid = new_pidns ? (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) : fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	/* Child: move every wanted fd above nfds first, so dup2 never clobbers
	 * one that is still to be placed. */
	int tmp[16];
	for (int i = 0; i < nfds; i++)
		tmp[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD, 64) : -1;
	for (int i = 0; i < nfds; i++) {
		int fd = tmp[i] >= 0 ? tmp[i] : (i < 3 ? open("/dev/null", O_RDWR) : -1);
		if (fd >= 0 && dup2(fd, i) < 0)
			_exit(126);
	}
	syscall(SYS_close_range, (unsigned)nfds, ~0u, 0u);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A helper dies with ssid: a migration cut short by a dying ssid then
	 * fails on the other side, and the process thaws at home. (The body
	 * agent clears this once its body runs.) */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execv(path, argv);
	_exit(127);
}

/* A pipe for the helpers' stderr; the read end stays with ssid. */
static int s_mig_errpipe(mig_t *m, int *wr)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	m->err_fd = p[0];
	*wr = p[1];
	return 0;
}

/* A pipe carrying a key to a helper: it reads 32 bytes from fd 3. */
static int s_keypipe(const uint8_t key[32])
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* 32 bytes always fit in an empty pipe: this never blocks. */
	if (write(p[1], key, 32) != 32) {
		close(p[0]);
		close(p[1]);
		return -EIO;
	}
	close(p[1]);
	return p[0];
}

/* Keep the tail of what the helpers say; drained from the poll loop so a
 * chatty helper never blocks on a full pipe. */
static void s_mig_drain_err(mig_t *m)
{
	if (m->err_fd < 0)
		return;
	for (;;) {
		if (m->errlen > sizeof m->err / 2) {
			size_t keep = sizeof m->err / 4;
			memmove(m->err, m->err + m->errlen - keep, keep);
			m->errlen = keep;
		}
		ssize_t n = read(m->err_fd, m->err + m->errlen, sizeof m->err - 1 - m->errlen);
		if (n <= 0) {
			if (n == 0) {
				close(m->err_fd);
				m->err_fd = -1;
			}
			break;
		}
		m->errlen += (size_t)n;
	}
	m->err[m->errlen] = 0;
}

/* The last line the helpers wrote on stderr: the reason of a failure. */
static const char *s_mig_reason(mig_t *m, const char *fallback)
{
	s_mig_drain_err(m);
	char *e = m->err + m->errlen;
	while (e > m->err && (e[-1] == '\n' || e[-1] == ' '))
		*--e = 0;
	char *nl = strrchr(m->err, '\n');
	const char *r = nl ? nl + 1 : m->err;
	return *r ? r : fallback;
}

static void s_send_mig_fail(int to, uint64_t reqid, const char *text)
{
	uint8_t out[1024];
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIG_FAIL);
	ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
	ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
	long n = ssi_msg_end(&w);
	if (n > 0)
		s_send_peer(to, out, (size_t)n);
}

/* ssictl migrate HOME:PID on a node that is not HOME: ask HOME, and pass its
 * answer back. The user's uid travels along; nodes trust each other's word
 * about their own users (they are authenticated by their CURVE keys). */
static void s_relay_migrate(const asker_t *a, const char *home, uint64_t pid, const char *dest)
{
	char why[512];
	int h = ssi_cluster_index(S.cluster, home);
	if (a->client_fd < 0) {
		s_answer(a, EINVAL, "a relayed request must be for a process of the node it was sent to");
		return;
	}
	if (h < 0) {
		snprintf(why, sizeof why, "unknown home node '%s' (see 'ssictl nodes')", home);
		s_answer(a, ENOENT, why);
		return;
	}
	if (!ssi_gossip_is_up(S.gossip, h, s_now())) {
		snprintf(why, sizeof why, "home node %s is down; nothing was touched", home);
		s_answer(a, EHOSTDOWN, why);
		return;
	}
	relay_t *r = calloc(1, sizeof *r);
	if (!r) {
		s_answer(a, ENOMEM, "out of memory");
		return;
	}
	r->reqid = ++S.next_reqid;
	r->client_fd = a->client_fd;
	r->home = h;
	r->deadline = s_now() + RELAY_WAIT_MS;
	r->next = s_relays;
	s_relays = r;
	uint8_t out[512];
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIGRATE);
	ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
	ssi_msg_put_u64(&w, SSI_TAG_PID, pid);
	ssi_msg_put_str(&w, SSI_TAG_NODE, dest);
	ssi_msg_put_u64(&w, SSI_TAG_UID, a->uid);
	long n = ssi_msg_end(&w);
	if (n > 0)
		s_send_peer(h, out, (size_t)n);
}

static void s_relay_free(relay_t *r)
{
	for (relay_t **pp = &s_relays; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
}

/* The home node's answer to a relayed request. */
static void s_on_mig_done(int from, const ssi_msg_t *m)
{
	uint64_t reqid = 0, err = 0;
	char text[1024] = "";
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0)
		return;
	ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_ERRNO), &err);
	ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
	for (relay_t *r = s_relays; r; r = r->next)
		if (r->reqid == reqid && r->home == from) {
			asker_t a = {.client_fd = r->client_fd, .peer = -1};
			s_answer(&a, (int)err, text);
			s_relay_free(r);
			return;
		}
}

/* A migration request relayed by another node for its user. */
static void s_on_peer_migrate(int from, const ssi_msg_t *m)
{
	uint64_t reqid = 0, uid = 0;
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
	    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_UID), &uid) < 0)
		return;
	asker_t a = {.client_fd = -1, .peer = from, .reqid = reqid, .uid = (uid_t)uid};
	s_on_migrate(&a, m);
}

/* ssictl migrate [HOME:]PID NODE: from a local client, or relayed by
 * another node for its own client. */
static void s_on_migrate(const asker_t *a, const ssi_msg_t *m)
{
	uint64_t pid = 0;
	char dest[SSI_NAME_MAX + 1], why[512];
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
	    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_NODE), dest, sizeof dest) < 0) {
		s_answer(a, EINVAL, "malformed migrate request");
		return;
	}
	char home[SSI_NAME_MAX + 1] = "";
	ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home);
	if (*home && strcmp(home, S.name) != 0) {
		s_relay_migrate(a, home, pid, dest);
		return;
	}
	client_t *p = s_proc_by_pid((pid_t)pid);
	if (!p) {
		snprintf(why, sizeof why,
		         "process %llu is not an ssi process whose home is %s (see 'ssictl ps'; start programs with ssirun)",
		         (unsigned long long)pid, S.name);
		s_answer(a, ESRCH, why);
		return;
	}
	if (a->uid != 0 && a->uid != p->uid) {
		snprintf(why, sizeof why, "process %d belongs to uid %u: only its owner or root may move it", p->pid,
		         (unsigned)p->uid);
		s_answer(a, EPERM, why);
		return;
	}
	if (p->migrating) {
		snprintf(why, sizeof why, "process %d is being moved already; try again when that is done", p->pid);
		s_answer(a, EBUSY, why);
		return;
	}
	bool to_home = strcmp(dest, "home") == 0 || strcmp(dest, S.name) == 0;
	if (p->away >= 0 && to_home) {
		s_home_start(a, p, -1);
		return;
	}
	if (to_home) {
		snprintf(why, sizeof why, "process %d already runs at home on %s", p->pid, S.name);
		s_answer(a, EALREADY, why);
		return;
	}
	int to = ssi_cluster_index(S.cluster, dest);
	if (to < 0) {
		char names[256] = "";
		for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++) {
			strncat(names, " ", sizeof names - strlen(names) - 1);
			strncat(names, ssi_cluster_node(S.cluster, i)->name, sizeof names - strlen(names) - 1);
		}
		snprintf(why, sizeof why, "unknown node '%s'; the nodes are:%s", dest, names);
		s_answer(a, ENOENT, why);
		return;
	}
	if (p->away >= 0 && to == p->away) {
		snprintf(why, sizeof why, "process %d already runs on %s", p->pid, dest);
		s_answer(a, EALREADY, why);
		return;
	}
	if (!ssi_gossip_is_up(S.gossip, to, s_now())) {
		snprintf(why, sizeof why, "node %s is down (see 'ssictl nodes'); the process was not touched", dest);
		s_answer(a, EHOSTDOWN, why);
		return;
	}
	if (p->away >= 0) {
		/* A chained move: home first, then on as a first hop. */
		s_home_start(a, p, to);
		return;
	}
	s_mig_offer_start(a, p, to, "");
}

/* The first hop of a move to node `to`: checks, then MIG_OFFER. note is
 * added to the final message (a chained move says where it came from). */
static void s_mig_offer_start(const asker_t *a, client_t *p, int to, const char *note)
{
	char why[512];
	const char *dest = ssi_cluster_node(S.cluster, (size_t)to)->name;
	int rc = ssi_deputy_check(p->pid, why, sizeof why);
	if (rc < 0) {
		char text[640];
		snprintf(text, sizeof text, "%sprocess %d cannot migrate: %s; it keeps running here on %s", note, p->pid,
		         why, S.name);
		s_answer(a, -rc, text);
		return;
	}
	mig_t *g = calloc(1, sizeof *g);
	if (!g) {
		s_answer(a, ENOMEM, "out of memory");
		return;
	}
	g->reqid = ++S.next_reqid;
	g->home_side = true;
	g->peer = to;
	g->asker = *a;
	g->pid = p->pid;
	g->err_fd = -1;
	g->status_fd = -1;
	snprintf(g->home, sizeof g->home, "%s", S.name);
	randombytes_buf(g->key, sizeof g->key);
	randombytes_buf(g->key2, sizeof g->key2);
	g->deadline = s_now() + MIG_OFFER_MS;
	snprintf(g->note, sizeof g->note, "%s", note);
	g->next = s_migs;
	s_migs = g;
	p->migrating = true;
	/* From the freeze on, the deputy may drop the socket it registered
	 * with; the pidfd then tells when it ends. */
	if (p->pidfd < 0)
		p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);

	uint8_t out[2048];
	ssi_msg_writer_t w;
	ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIG_OFFER);
	ssi_msg_put_u64(&w, SSI_TAG_REQID, g->reqid);
	ssi_msg_put_str(&w, SSI_TAG_HOME, S.name);
	ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)p->pid);
	ssi_msg_put_u64(&w, SSI_TAG_UID, p->uid);
	ssi_msg_put_str_cut(&w, SSI_TAG_CMD, p->cmd);
	/* The keys cross the CURVE-encrypted control plane only. */
	ssi_msg_put_bytes(&w, SSI_TAG_KEY, g->key, 32);
	ssi_msg_put_bytes(&w, SSI_TAG_KEY2, g->key2, 32);
	long n = ssi_msg_end(&w);
	if (n > 0)
		s_send_peer(to, out, (size_t)n);
	sodium_memzero(out, sizeof out);
	ssi_info("offering process %d (%s) to %s", p->pid, p->cmd, dest);
}

/* Destination: an offer. Listen for the image and the deputy, start the
 * receiving pipeline, and say where to send. */
static void s_on_mig_offer(int from, const ssi_msg_t *m)
{
	uint64_t reqid = 0, pid = 0, uid = 0;
	const ssi_field_t *k = ssi_msg_find(m->field, m->nfields, SSI_TAG_KEY);
	const ssi_field_t *k2 = ssi_msg_find(m->field, m->nfields, SSI_TAG_KEY2);
	char home[SSI_NAME_MAX + 1];
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
	    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
	    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_UID), &uid) < 0 ||
	    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home) < 0 || !k ||
	    k->len != 32 || !k2 || k2->len != 32) {
		ssi_warn("dropped a malformed migration offer from %s", ssi_cluster_node(S.cluster, (size_t)from)->name);
		return;
	}
	mig_t *g = calloc(1, sizeof *g);
	if (!g) {
		s_send_mig_fail(from, reqid, "destination out of memory");
		return;
	}
	g->reqid = reqid;
	g->peer = from;
	g->pid = (pid_t)pid;
	g->asker = (asker_t){.client_fd = -1, .peer = -1};
	g->err_fd = -1;
	snprintf(g->home, sizeof g->home, "%s", home);
	memcpy(g->key, k->val, 32);
	memcpy(g->key2, k2->val, 32);
	g->next = s_migs;
	s_migs = g;

	g->status_fd = -1;
	char host[256], why[512], listen[300];
	s_endpoint_host(ssi_cluster_node(S.cluster, (size_t)S.self)->endpoint, host, sizeof host);
	snprintf(listen, sizeof listen, "%s:0", host);
	int lfd = ssi_chan_listen(host, 0, &g->port);
	int errw = -1, pipefd[2] = {-1, -1}, st[2] = {-1, -1}, kfd = -1, k2fd = -1;
	int rc = 0;
	if (lfd < 0) {
		snprintf(why, sizeof why, "destination cannot listen on %s: %s", host, strerror(-lfd));
		rc = -1;
	}
	if (rc == 0 && (s_mig_errpipe(g, &errw) < 0 || pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0 ||
	                (kfd = s_keypipe(g->key)) < 0 || (k2fd = s_keypipe(g->key2)) < 0)) {
		snprintf(why, sizeof why, "destination cannot make pipes: %s", strerror(errno));
		rc = -1;
	}
	if (rc == 0) {
		fcntl(st[0], F_SETFL, O_NONBLOCK);
		g->status_fd = st[0];
		st[0] = -1;
		char *xargv[] = {"ssi-xfer", "recv", "--listen-fd", "3", "--key-fd", "4", "--timeout", XFER_TIMEOUT, NULL};
		int xfds[] = {-1, pipefd[1], errw, lfd, kfd};
		pid_t x = s_spawn(xargv, xfds, 5, false);
		/* The agent is pid 1 of a new PID namespace, so that the body gets
		 * its home pid back (clone3 set_tid). */
		char *aargv[] = {"ssi-agent", "--listen", listen, "--key-fd", "3", "--image-fd", "0",
		                 "--status-fd", "4", NULL};
		int afds[] = {pipefd[0], errw, errw, k2fd, st[1]};
		pid_t a = x > 0 ? s_spawn(aargv, afds, 5, true) : -1;
		if (x > 0)
			g->helper[g->nhelpers++] = x;
		if (a > 0)
			g->helper[g->nhelpers++] = a;
		if (x < 0 || a < 0) {
			snprintf(why, sizeof why, "destination cannot start its helpers: %s", strerror(errno));
			for (int i = 0; i < g->nhelpers; i++)
				kill(g->helper[i], SIGKILL);
			rc = -1;
		}
	}
	int close_fds[] = {lfd, errw, pipefd[0], pipefd[1], st[0], st[1], kfd, k2fd};
	for (size_t i = 0; i < sizeof close_fds / sizeof *close_fds; i++)
		if (close_fds[i] >= 0)
			close(close_fds[i]);
	if (rc < 0) {
		ssi_warn("refusing process %llu of %s: %s", (unsigned long long)pid, home, why);
		s_send_mig_fail(from, reqid, why);
		if (g->nhelpers == 0)
			s_mig_free(g);
		return;
	}
	ssi_info("receiving process %llu of %s (image port %u)", (unsigned long long)pid, home, g->port);
	/* MIG_READY goes out when the agent says where it listens. */
}

/* Destination: a status line from ssi-agent. */
static void s_mig_status_line(mig_t *g, const char *line)
{
	unsigned port;
	char addr[64];
	if (sscanf(line, "listening %63s %u", addr, &port) == 2 && !g->ready_sent) {
		uint8_t out[256];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIG_READY);
		ssi_msg_put_u64(&w, SSI_TAG_REQID, g->reqid);
		ssi_msg_put_u64(&w, SSI_TAG_PORT, g->port);
		ssi_msg_put_u64(&w, SSI_TAG_DPORT, port);
		long n = ssi_msg_end(&w);
		if (n > 0)
			s_send_peer(g->peer, out, (size_t)n);
		g->ready_sent = true;
	} else if (strncmp(line, "failed", 6) == 0) {
		ssi_warn("body of %s:%d: %s", g->home, g->pid, line);
		if (!g->ready_sent)
			s_send_mig_fail(g->peer, g->reqid, line);
	} else {
		ssi_info("body of %s:%d: %s", g->home, g->pid, line);
	}
}

static void s_mig_on_status(mig_t *g)
{
	for (;;) {
		ssize_t n = read(g->status_fd, g->line + g->linelen, sizeof g->line - 1 - g->linelen);
		if (n <= 0) {
			if (n == 0) {
				close(g->status_fd);
				g->status_fd = -1;
			}
			return;
		}
		g->linelen += (size_t)n;
		g->line[g->linelen] = 0;
		char *nl;
		while ((nl = strchr(g->line, '\n'))) {
			*nl = 0;
			s_mig_status_line(g, g->line);
			size_t used = (size_t)(nl + 1 - g->line);
			memmove(g->line, nl + 1, g->linelen - used + 1);
			g->linelen -= used;
		}
		if (g->linelen == sizeof g->line - 1)
			g->linelen = 0; /* a line too long to be ours */
	}
}

/* Home: the destination is ready. Freeze and stream. */
static void s_on_mig_ready(int from, const ssi_msg_t *m)
{
	uint64_t reqid = 0, port = 0, dport = 0;
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
	    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PORT), &port) < 0 ||
	    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_DPORT), &dport) < 0)
		return;
	mig_t *g = s_mig_find(reqid, true);
	if (!g || g->peer != from || g->deadline == 0)
		return;
	g->deadline = 0;
	char host[256], to[300], dep[300];
	s_endpoint_host(ssi_cluster_node(S.cluster, (size_t)from)->endpoint, host, sizeof host);
	snprintf(to, sizeof to, "%s:%llu", host, (unsigned long long)port);
	snprintf(dep, sizeof dep, "%s:%llu", host, (unsigned long long)dport);
	char pid_s[32];
	snprintf(pid_s, sizeof pid_s, "%d", g->pid);
	int errw = -1, pipefd[2] = {-1, -1}, kfd = -1, k2fd = -1;
	if (s_mig_errpipe(g, &errw) < 0 || pipe2(pipefd, O_CLOEXEC) < 0 || (kfd = s_keypipe(g->key)) < 0 ||
	    (k2fd = s_keypipe(g->key2)) < 0) {
		s_send_mig_fail(from, reqid, "home cannot make pipes");
		s_mig_finish(g, EIO, "cannot make pipes; the process was not touched");
	} else {
		char *fargv[] = {"ssi-freeze", "-q", "--deputy", dep, "--key-fd", "3", pid_s, NULL};
		int ffds[] = {-1, pipefd[1], errw, k2fd};
		char *xargv[] = {"ssi-xfer", "send", "--to", to, "--key-fd", "3", "--timeout", XFER_TIMEOUT, NULL};
		int xfds[] = {pipefd[0], -1, errw, kfd};
		/* helper[0] is ssi-freeze: its exit status decides. */
		pid_t x = s_spawn(xargv, xfds, 4, false);
		pid_t f = x > 0 ? s_spawn(fargv, ffds, 4, false) : -1;
		if (f > 0) {
			g->helper[g->nhelpers++] = f;
			g->helper[g->nhelpers++] = x;
		} else {
			if (x > 0) {
				kill(x, SIGKILL);
				waitpid(x, NULL, 0);
			}
			s_send_mig_fail(from, reqid, "home cannot start its helpers");
			s_mig_finish(g, EIO, "cannot start ssi-freeze; the process was not touched");
		}
	}
	int close_fds[] = {errw, pipefd[0], pipefd[1], kfd, k2fd};
	for (size_t i = 0; i < sizeof close_fds / sizeof *close_fds; i++)
		if (close_fds[i] >= 0)
			close(close_fds[i]);
}

static void s_on_mig_fail(int from, const ssi_msg_t *m)
{
	uint64_t reqid = 0;
	char text[512] = "the destination gave up";
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0)
		return;
	ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
	mig_t *g = s_mig_find(reqid, true);
	if (g && g->peer == from && g->deadline != 0) {
		/* Nothing was frozen yet: the process never noticed. */
		client_t *p = s_proc_by_pid(g->pid);
		if (p)
			p->migrating = false;
		char why[700];
		snprintf(why, sizeof why, "%s refused: %s; the process keeps running here",
		         ssi_cluster_node(S.cluster, (size_t)from)->name, text);
		s_mig_finish(g, ECONNREFUSED, why);
	} else if ((g = s_mig_find(reqid, false)) && g->peer == from) {
		/* The home side gave up: stop the receiving helpers. */
		for (int i = 0; i < g->nhelpers; i++)
			kill(g->helper[i], SIGKILL);
	}
}

/* --- coming home ----------------------------------------------------------
 *
 * The process is away: its deputy brings the body home when ssi-freeze
 * --home sigqueues it (docs/ENGINE.md, "Coming home"). ssi-freeze's exit
 * status: 0 it runs here again; 3 it runs on where it was; 4 it ended
 * while being restored here; other, nothing happened. A chained move
 * (n2 -> n3) goes home first and then moves on as a first hop: the body
 * crosses the network twice, but every step is one that already works
 * and fails safe (docs/ARCHITECTURE.md says why). */
static void s_home_start(const asker_t *a, client_t *p, int chain_to)
{
	const char *where = ssi_cluster_node(S.cluster, (size_t)p->away)->name;
	mig_t *g = calloc(1, sizeof *g);
	if (!g) {
		s_answer(a, ENOMEM, "out of memory");
		return;
	}
	g->reqid = ++S.next_reqid;
	g->home_side = true;
	g->homecoming = true;
	g->chain_to = chain_to;
	g->peer = p->away;
	g->asker = *a;
	g->pid = p->pid;
	g->err_fd = -1;
	g->status_fd = -1;
	snprintf(g->home, sizeof g->home, "%s", S.name);
	char restore[4200], pid_s[32];
	snprintf(restore, sizeof restore, "%s/ssi-restore", S.bindir);
	snprintf(pid_s, sizeof pid_s, "%d", p->pid);
	int errw = -1;
	if (s_mig_errpipe(g, &errw) < 0) {
		free(g);
		s_answer(a, EIO, "cannot make a pipe; the process was not touched");
		return;
	}
	char *fargv[] = {"ssi-freeze", "-q", "--home", "--restore", restore, pid_s, NULL};
	int ffds[] = {-1, -1, errw};
	pid_t f = s_spawn(fargv, ffds, 3, false);
	close(errw);
	if (f < 0) {
		close(g->err_fd);
		free(g);
		s_answer(a, EIO, "cannot start ssi-freeze; the process was not touched");
		return;
	}
	g->helper[g->nhelpers++] = f;
	g->next = s_migs;
	s_migs = g;
	p->migrating = true;
	ssi_info("bringing process %d (%s) home from %s%s%s", p->pid, p->cmd, where,
	         chain_to >= 0 ? " to move it on to " : "",
	         chain_to >= 0 ? ssi_cluster_node(S.cluster, (size_t)chain_to)->name : "");
}

static void s_home_reaped(mig_t *g, client_t *p)
{
	int st = g->status[0];
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	const char *where = ssi_cluster_node(S.cluster, (size_t)g->peer)->name;
	char text[900];
	if (p)
		p->migrating = false;
	if (code == 0) {
		if (p)
			p->away = -1;
		if (g->chain_to < 0) {
			snprintf(text, sizeof text, "process %d came home from %s to %s", g->pid, where, S.name);
			s_mig_finish(g, 0, text);
			return;
		}
		/* The second leg, as a first hop from home. Its failures leave
		 * the process here, and say so. */
		asker_t a = g->asker;
		int to = g->chain_to;
		char note[160];
		snprintf(note, sizeof note, "process %d came home from %s; then: ", g->pid, where);
		ssi_info("process %d came home from %s", g->pid, where);
		s_mig_free(g);
		if (!p) {
			s_answer(&a, ESRCH, "the process ended at home before it could move on");
			return;
		}
		if (!ssi_gossip_is_up(S.gossip, to, s_now())) {
			snprintf(text, sizeof text, "%snode %s is down; it keeps running on %s", note,
			         ssi_cluster_node(S.cluster, (size_t)to)->name, S.name);
			s_answer(&a, EHOSTDOWN, text);
			return;
		}
		s_mig_offer_start(&a, p, to, note);
		return;
	}
	if (code == 3) {
		snprintf(text, sizeof text, "process %d could not come home: %s; it keeps running on %s", g->pid,
		         s_mig_reason(g, "the deputy gave up"), where);
		s_mig_finish(g, EAGAIN, text);
	} else if (code == 4) {
		if (p)
			p->away = -1;
		snprintf(text, sizeof text, "process %d came home from %s but its restore at home failed: %s",
		         g->pid, where, s_mig_reason(g, "it ended"));
		s_mig_finish(g, EIO, text);
	} else {
		snprintf(text, sizeof text, "bringing process %d home from %s failed (%s); it keeps running on %s",
		         g->pid, where, s_mig_reason(g, "no answer"), where);
		s_mig_finish(g, EIO, text);
	}
}

/* --- job control of away processes ---------------------------------------
 *
 * A stop signal that the deputy can catch (TSTP, TTIN, TTOU) it forwards
 * itself, and it stops itself when its body stops. SIGSTOP it cannot
 * catch: we notice the stopped deputy here (state T, checked every 250 ms,
 * away processes only) and ask the body's node to stop the body. SIGCONT
 * wakes the deputy, whose handler forwards it. */
#define JOB_WATCH_MS 250

static void s_job_watch(void)
{
	for (int i = 0; i < S.nclients; i++) {
		client_t *c = S.client[i];
		if (!c->registered || c->away < 0 || c->migrating)
			continue;
		char path[64], buf[512], state = '?';
		snprintf(path, sizeof path, "/proc/%d/stat", c->pid);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			buf[n] = 0;
			char *rp = strrchr(buf, ')');
			if (rp && rp[1])
				state = rp[2];
			fclose(f);
		}
		if (state != 'T') {
			c->stop_sent = false;
			continue;
		}
		if (c->stop_sent)
			continue;
		c->stop_sent = true;
		uint8_t out[256];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_BODY_SIGNAL);
		ssi_msg_put_str(&w, SSI_TAG_HOME, S.name);
		ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)c->pid);
		ssi_msg_put_u64(&w, SSI_TAG_SIGNO, SIGSTOP);
		long n = ssi_msg_end(&w);
		if (n > 0)
			s_send_peer(c->away, out, (size_t)n);
		ssi_info("process %d stopped at home: stopping its body on %s", c->pid,
		         ssi_cluster_node(S.cluster, (size_t)c->away)->name);
	}
}

/* The last number of the NSpid line of /proc/PID/status: the pid in the
 * innermost namespace. */
static long s_nspid_inner(pid_t pid)
{
	char path[64], line[256];
	long inner = -1;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "NSpid:", 6) == 0) {
			char *e = strrchr(line, '\t');
			inner = e ? strtol(e + 1, NULL, 10) : -1;
		}
	if (f)
		fclose(f);
	return inner;
}

/* Body's node: the home node asks us to stop a body (only SIGSTOP). */
static void s_on_body_signal(int from, const ssi_msg_t *m)
{
	uint64_t pid = 0, sig = 0;
	char home[SSI_NAME_MAX + 1];
	if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
	    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_SIGNO), &sig) < 0 ||
	    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home) < 0 ||
	    sig != SIGSTOP)
		return;
	for (mig_t *g = s_migs; g; g = g->next) {
		if (g->home_side || g->peer != from || g->pid != (pid_t)pid || strcmp(g->home, home) ||
		    g->nhelpers < 2)
			continue;
		/* The agent (helper 1) is pid 1 of the body's namespace; the body
		 * is its child whose pid there is the home pid. */
		pid_t agent = g->helper[1];
		char path[80];
		snprintf(path, sizeof path, "/proc/%d/task/%d/children", agent, agent);
		FILE *f = fopen(path, "r");
		int kid;
		while (f && fscanf(f, "%d", &kid) == 1)
			if (s_nspid_inner(kid) == (long)pid) {
				kill(kid, SIGSTOP);
				ssi_info("stopped the body of %s:%llu (its deputy is stopped)", home,
				         (unsigned long long)pid);
			}
		if (f)
			fclose(f);
	}
}

/* A helper exited. When all of a migration's have, decide. */
static void s_mig_reaped(pid_t pid, int status)
{
	for (mig_t *g = s_migs; g; g = g->next) {
		for (int i = 0; i < g->nhelpers; i++) {
			if (g->helper[i] != pid)
				continue;
			g->status[i] = status;
			if (++g->nexited < g->nhelpers)
				return;
			client_t *p = s_proc_by_pid(g->pid);
			if (g->home_side && g->homecoming) {
				s_home_reaped(g, p);
				return;
			}
			if (g->home_side) {
				if (p)
					p->migrating = false;
				int st = g->status[0];
				char text[700];
				const char *dest = ssi_cluster_node(S.cluster, (size_t)g->peer)->name;
				if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
					if (p)
						p->away = g->peer;
					snprintf(text, sizeof text, "%sprocess %d moved from %s to %s", g->note, g->pid, S.name,
					         dest);
					s_mig_finish(g, 0, text);
				} else {
					snprintf(text, sizeof text, "%smoving process %d to %s failed (%s); it keeps running on %s",
					         g->note, g->pid, dest, s_mig_reason(g, "the image did not get through"), S.name);
					s_mig_finish(g, EIO, text);
				}
			} else {
				s_mig_drain_err(g);
				int st = g->status[g->nhelpers - 1];
				if (g->errlen)
					ssi_info("body of %s:%d: %s", g->home, g->pid, s_mig_reason(g, ""));
				ssi_info("body of %s:%d ended (%s %d)", g->home, g->pid,
				         WIFSIGNALED(st) ? "signal" : "status",
				         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
				s_mig_free(g);
			}
			return;
		}
	}
}

static void s_on_sigchld(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		s_mig_reaped(pid, status);
}

/* Offers that got no answer in time: the process was never touched. */
static void s_mig_timeouts(int64_t now)
{
	for (relay_t *r = s_relays, *next; r; r = next) {
		next = r->next;
		if (now >= r->deadline || !ssi_gossip_is_up(S.gossip, r->home, now)) {
			asker_t a = {.client_fd = r->client_fd, .peer = -1};
			s_answer(&a, ETIMEDOUT,
			         now >= r->deadline ? "the home node did not answer in time"
			                            : "the home node went down before it answered");
			s_relay_free(r);
		}
	}
	for (mig_t *g = s_migs, *next; g; g = next) {
		next = g->next;
		if (g->home_side && g->deadline && now >= g->deadline) {
			client_t *p = s_proc_by_pid(g->pid);
			if (p)
				p->migrating = false;
			char why[300];
			snprintf(why, sizeof why, "%s did not answer the offer in %d s; the process keeps running here",
			         ssi_cluster_node(S.cluster, (size_t)g->peer)->name, MIG_OFFER_MS / 1000);
			s_mig_finish(g, ETIMEDOUT, why);
		}
	}
}

static void s_client_message(client_t *c, const uint8_t *data, size_t len)
{
	static ssi_msg_t m;
	int rc = ssi_msg_parse(data, len, &m);
	if (rc < 0) {
		s_reply_error(c, -rc, "malformed request");
		return;
	}
	switch (m.type) {
	case SSI_MSG_REGISTER: {
		uint64_t ppid = 0;
		ssi_field_u64(ssi_msg_find(m.field, m.nfields, SSI_TAG_PPID), &ppid);
		c->ppid = (pid_t)ppid;
		const ssi_field_t *cmd = ssi_msg_find(m.field, m.nfields, SSI_TAG_CMD);
		if (ssi_field_str(cmd, c->cmd, sizeof c->cmd) < 0)
			snprintf(c->cmd, sizeof c->cmd, "?");
		c->registered = true;
		ssi_info("process %d (uid %u) started: %s", c->pid, (unsigned)c->uid, c->cmd);
		uint8_t out[64];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_OK);
		long n = ssi_msg_end(&w);
		s_reply(c, out, (size_t)n);
		break;
	}
	case SSI_MSG_NODES: {
		static uint8_t out[FRAME_MAX];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_NODES_REP);
		ssi_gossip_encode(S.gossip, &w, s_now(), true);
		long n = ssi_msg_end(&w);
		if (n > 0)
			s_reply(c, out, (size_t)n);
		else
			s_reply_error(c, (int)-n, "node table too large");
		break;
	}
	case SSI_MSG_PS: {
		ps_req_t *r = calloc(1, sizeof *r);
		if (!r) {
			s_reply_error(c, ENOMEM, "out of memory");
			break;
		}
		r->reqid = ++S.next_reqid;
		r->client_fd = c->fd;
		r->deadline = s_now() + PS_WAIT_MS;
		uint8_t out[128];
		ssi_msg_writer_t w;
		ssi_msg_begin(&w, out, sizeof out, SSI_MSG_PS);
		ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
		ssi_msg_put_u64(&w, SSI_TAG_SCOPE, 0);
		long n = ssi_msg_end(&w);
		for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++)
			if ((int)i != S.self && ssi_gossip_is_up(S.gossip, (int)i, s_now())) {
				r->asked[i] = true;
				r->waiting++;
				s_send_peer((int)i, out, (size_t)n);
			}
		r->next = S.ps;
		S.ps = r;
		if (r->waiting == 0)
			s_ps_finish(r);
		break;
	}
	case SSI_MSG_MIGRATE: {
		asker_t a = {.client_fd = c->fd, .peer = -1, .uid = c->uid};
		s_on_migrate(&a, &m);
		break;
	}
	default:
		s_reply_error(c, EPROTO, "unexpected request");
	}
}

static void s_on_client(int i)
{
	client_t *c = S.client[i];
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		s_client_close(i);
		return;
	}
	if (n < 0)
		return;
	c->len += (size_t)n;
	for (;;) {
		long want = ssi_msg_frame_len(c->buf, c->len);
		if (want == -EAGAIN || (want > 0 && (size_t)want > c->len && (size_t)want <= sizeof c->buf))
			return;
		if (want < 0 || (size_t)want > sizeof c->buf) {
			ssi_warn("closing local client %d: bad frame (%s)", c->pid,
			         want < 0 ? strerror((int)-want) : "too large");
			s_client_close(i);
			return;
		}
		s_client_message(c, c->buf, (size_t)want);
		memmove(c->buf, c->buf + want, c->len - (size_t)want);
		c->len -= (size_t)want;
	}
}

static void s_on_accept(void)
{
	for (;;) {
		int fd = accept4(S.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct ucred cred;
		socklen_t cl = sizeof cred;
		client_t *c = S.nclients < MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			ssi_warn("refused a local client: %s", c ? strerror(errno) : "too many clients");
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->away = -1;
		c->pidfd = -1;
		c->pid = cred.pid;
		c->uid = cred.uid;
		S.client[S.nclients++] = c;
	}
}

/* --- setup ---------------------------------------------------------------- */

static int s_setup_zmq(void)
{
	const ssi_node_conf_t *me = ssi_cluster_node(S.cluster, (size_t)S.self);
	/* The ZAP handler must be bound before the CURVE server exists, or
	 * libzmq lets every client in. */
	S.zap = zsock_new_rep("inproc://zeromq.zap.01");
	if (!S.zap) {
		ssi_error("cannot bind the ZAP handler");
		return -1;
	}
	S.router = zsock_new(ZMQ_ROUTER);
	zsock_set_zap_domain(S.router, "ssi");
	zcert_apply(S.cert, S.router);
	zsock_set_curve_server(S.router, 1);
	zsock_set_linger(S.router, 0);
	zsock_set_sndtimeo(S.router, 0);
	zsock_set_router_mandatory(S.router, 0);
	zsock_set_heartbeat_ivl(S.router, 1000);
	zsock_set_heartbeat_timeout(S.router, 3000);
	if (zsock_bind(S.router, "%s", me->endpoint) < 0) {
		ssi_error("cannot listen on %s: %s (is the endpoint one of this machine's addresses?)",
		          me->endpoint, zmq_strerror(zmq_errno()));
		return -1;
	}
	for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++) {
		if ((int)i == S.self)
			continue;
		const ssi_node_conf_t *n = ssi_cluster_node(S.cluster, i);
		zsock_t *d = zsock_new(ZMQ_DEALER);
		zcert_apply(S.cert, d);
		zsock_set_curve_serverkey(d, n->key);
		zsock_set_linger(d, 0);
		zsock_set_immediate(d, 1);
		zsock_set_sndhwm(d, 64);
		zsock_set_reconnect_ivl(d, 200);
		zsock_set_reconnect_ivl_max(d, 1000);
		/* ZMTP heartbeats: a connection that went silent (a cut link) is
		 * dropped and redialled within seconds, instead of waiting out TCP's
		 * retransmission backoff, which can hold messages for tens of seconds
		 * after the link is back. */
		zsock_set_heartbeat_ivl(d, 1000);
		zsock_set_heartbeat_timeout(d, 3000);
		if (zsock_connect(d, "%s", n->endpoint) < 0) {
			ssi_error("cannot connect to %s at %s: %s", n->name, n->endpoint, zmq_strerror(zmq_errno()));
			zsock_destroy(&d);
			return -1;
		}
		S.peer[i].dealer = d;
	}
	ssi_info("node %s of cluster '%s' listening on %s (%zu nodes)", S.name, ssi_cluster_name(S.cluster),
	         me->endpoint, ssi_cluster_size(S.cluster));
	return 0;
}

static int s_run(void)
{
	int64_t next_beat = 0, next_gossip = s_now() + GOSSIP_MS / 2, next_job = 0;
	zmq_pollitem_t items[4 + SSI_CLUSTER_MAX + MAX_CLIENTS + 64];
	mig_t *mig_of[64];
	bool mig_status[64];
	for (;;) {
		int n = 0;
		items[n++] = (zmq_pollitem_t){zsock_resolve(S.router), 0, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){zsock_resolve(S.zap), 0, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){NULL, S.listen_fd, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){NULL, S.signal_fd, ZMQ_POLLIN, 0};
		int first_peer = n;
		int peer_of[SSI_CLUSTER_MAX];
		for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++)
			if (S.peer[i].dealer) {
				peer_of[n - first_peer] = (int)i;
				items[n++] = (zmq_pollitem_t){zsock_resolve(S.peer[i].dealer), 0, ZMQ_POLLIN, 0};
			}
		int first_client = n;
		int nclients = S.nclients;
		for (int i = 0; i < nclients; i++)
			items[n++] = (zmq_pollitem_t){NULL, S.client[i]->fd, ZMQ_POLLIN, 0};
		int first_mig = n, nmig = 0;
		for (mig_t *g = s_migs; g && nmig < 62; g = g->next) {
			if (g->err_fd >= 0) {
				mig_of[nmig] = g;
				mig_status[nmig++] = false;
				items[n++] = (zmq_pollitem_t){NULL, g->err_fd, ZMQ_POLLIN, 0};
			}
			if (g->status_fd >= 0) {
				mig_of[nmig] = g;
				mig_status[nmig++] = true;
				items[n++] = (zmq_pollitem_t){NULL, g->status_fd, ZMQ_POLLIN, 0};
			}
		}

		int64_t now = s_now();
		int64_t wake = next_beat < next_gossip ? next_beat : next_gossip;
		if (next_job < wake)
			wake = next_job;
		for (ps_req_t *r = S.ps; r; r = r->next)
			if (r->deadline < wake)
				wake = r->deadline;
		for (mig_t *g = s_migs; g; g = g->next)
			if (g->home_side && g->deadline && g->deadline < wake)
				wake = g->deadline;
		long timeout = wake > now ? (long)(wake - now) : 0;
		bool reap = false;
		int rc = zmq_poll(items, n, timeout);
		if (rc < 0 && zmq_errno() != EINTR) {
			ssi_error("poll: %s", zmq_strerror(zmq_errno()));
			return -1;
		}
		if (items[3].revents & ZMQ_POLLIN) {
			struct signalfd_siginfo si;
			while (read(S.signal_fd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD) {
					reap = true;
					continue;
				}
				ssi_info("caught signal %u, shutting down", si.ssi_signo);
				return 0;
			}
		}
		if (items[1].revents & ZMQ_POLLIN)
			s_on_zap();
		while (zsock_events(S.router) & ZMQ_POLLIN)
			s_on_router();
		for (int k = first_peer; k < first_client; k++)
			while (zsock_events(S.peer[peer_of[k - first_peer]].dealer) & ZMQ_POLLIN)
				s_on_dealer(peer_of[k - first_peer]);
		/* Clients may close as we go: walk from the end so indexes hold. */
		for (int i = nclients - 1; i >= 0; i--)
			if (items[first_client + i].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
				s_on_client(i);
		if (items[2].revents & ZMQ_POLLIN)
			s_on_accept();
		/* Read the helpers' pipes before reaping them: reaping may end (and
		 * free) a migration, and what they said last is its reason. */
		for (int k = 0; k < nmig; k++)
			if (items[first_mig + k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
				if (mig_status[k])
					s_mig_on_status(mig_of[k]);
				else
					s_mig_drain_err(mig_of[k]);
			}
		if (reap)
			s_on_sigchld();

		now = s_now();
		if (now >= next_beat) {
			s_measure();
			s_heartbeat();
			s_check_liveness();
			next_beat = now + HEARTBEAT_MS;
		}
		if (now >= next_gossip) {
			s_gossip();
			/* Jitter keeps the nodes from gossiping in lockstep. */
			next_gossip = now + GOSSIP_MS - 50 + (int64_t)randombytes_uniform(100);
		}
		s_mig_timeouts(now);
		if (now >= next_job) {
			s_job_watch();
			next_job = now + JOB_WATCH_MS;
		}
		for (ps_req_t *r = S.ps, *next; r; r = next) {
			next = r->next;
			if (now >= r->deadline)
				s_ps_finish(r);
		}
	}
}

int main(int argc, char **argv)
{
	const char *cluster_path = NULL, *keys = NULL, *socket_path = NULL, *log = "stderr";
	int verbose = 0;
	static const struct option opts[] = {
	    {"cluster", required_argument, 0, 'c'}, {"name", required_argument, 0, 'n'},
	    {"keys", required_argument, 0, 'k'},    {"socket", required_argument, 0, 's'},
	    {"log", required_argument, 0, 'l'},     {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "c:n:k:s:l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cluster_path = optarg; break;
		case 'n': S.name = optarg; break;
		case 'k': keys = optarg; break;
		case 's': socket_path = optarg; break;
		case 'l': log = optarg; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !cluster_path || !S.name || !keys) {
		fprintf(stderr, "ssid: %s\n", optind != argc ? "unexpected argument" : "--cluster, --name and --keys are required");
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
	ssi_log_open("ssid", S.name, strcmp(log, "syslog") == 0);
	ssi_log_set_level(verbose ? SSI_LOG_DEBUG : SSI_LOG_INFO);
	if (sodium_init() < 0) {
		ssi_error("libsodium failed to initialise");
		return 1;
	}
	char err[512];
	S.cluster = ssi_cluster_load(cluster_path, err, sizeof err);
	if (!S.cluster) {
		ssi_error("%s", err);
		return 1;
	}
	S.self = ssi_cluster_index(S.cluster, S.name);
	if (S.self < 0) {
		ssi_error("node '%s' is not in %s; the nodes there are listed by 'grep ^node %s'", S.name,
		          cluster_path, cluster_path);
		return 1;
	}
	S.cert = ssi_cert_load(keys, err, sizeof err);
	if (!S.cert) {
		ssi_error("%s", err);
		return 1;
	}
	if (strcmp(zcert_public_txt(S.cert), ssi_cluster_node(S.cluster, (size_t)S.self)->key) != 0) {
		ssi_error("the key in %s/%s (%s) is not node %s's key in %s; fix the cluster file or --keys", keys,
		          SSI_CERT_SECRET, zcert_public_txt(S.cert), S.name, cluster_path);
		return 1;
	}
	S.gossip = ssi_gossip_new(S.cluster, S.name);
	ssize_t bl = readlink("/proc/self/exe", S.bindir, sizeof S.bindir - 1);
	if (bl > 0) {
		S.bindir[bl] = 0;
		char *slash = strrchr(S.bindir, '/');
		if (slash)
			*slash = 0;
	} else {
		snprintf(S.bindir, sizeof S.bindir, ".");
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	S.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	const char *path = socket_path ? socket_path : ssi_local_path();
	S.listen_fd = ssi_local_listen(path, err, sizeof err);
	if (S.listen_fd < 0) {
		ssi_error("%s", err);
		return 1;
	}
	zsys_set_linger(0);
	int rc = s_setup_zmq();
	if (rc == 0)
		rc = s_run();
	unlink(path);
	while (S.nclients)
		s_client_close(S.nclients - 1);
	while (S.ps)
		s_ps_finish(S.ps);
	for (size_t i = 0; i < ssi_cluster_size(S.cluster); i++)
		zsock_destroy(&S.peer[i].dealer);
	zsock_destroy(&S.router);
	zsock_destroy(&S.zap);
	zcert_destroy(&S.cert);
	ssi_gossip_destroy(&S.gossip);
	ssi_cluster_destroy(&S.cluster);
	zsys_shutdown();
	ssi_info("stopped");
	return rc == 0 ? 0 : 1;
}
