/* chan_net: the data channel alone between two hosts, for tests/bench/net.sh.
 * One ssi_chan connection set up as the deputy's data connection is (blocking
 * TCP, TCP_NODELAY, the kernel's buffer autotuning), carrying records the
 * size of tunnel frames, so that the netproxy's figures can be set against
 * what the encrypted channel itself does on the same path in the same run.
 *
 *   chan_net server PORT                 serves one client at a time
 *   chan_net rr ADDR PORT COUNT          COUNT round trips of a 72-byte record
 *                                        (a DATA frame of 64 bytes); prints the
 *                                        mean microseconds per round trip
 *   chan_net stream ADDR PORT MIB REC    MIB MiB from the server in records of
 *                                        REC bytes; prints MiB/s
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ssi_chan.h"

static ssi_chan_t ch;
static uint8_t buf[SSI_CHAN_MAX_RECORD];
static const uint8_t key[SSI_CHAN_KEY_BYTES] = {7, 7, 7};

static double s_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void s_die(const char *what, long rc)
{
	fprintf(stderr, "chan_net: %s: %s\n", what, strerror((int)-rc));
	exit(1);
}

static void s_tcp(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void s_serve(int fd)
{
	uint32_t cmd[3]; /* mode (1 rr, 2 stream), MiB, record */
	long rc;
	if ((rc = ssi_chan_init(&ch, fd, key, SSI_CHAN_RESPONDER, 10000)) < 0) {
		close(fd);
		return;
	}
	ssi_chan_set_timeout(&ch, 0);
	if (ssi_chan_recv(&ch, cmd, sizeof cmd) != sizeof cmd)
		goto out;
	if (cmd[0] == 1) {
		for (;;) {
			long n = ssi_chan_recv(&ch, buf, sizeof buf);
			if (n <= 0 || ssi_chan_send(&ch, buf, (size_t)n) < 0)
				break;
		}
	} else if (cmd[0] == 2 && cmd[2] >= 1 && cmd[2] <= SSI_CHAN_MAX_RECORD) {
		uint64_t left = (uint64_t)cmd[1] << 20;
		memset(buf, 's', sizeof buf);
		while (left) {
			size_t k = left < cmd[2] ? left : cmd[2];
			if (ssi_chan_send(&ch, buf, k) < 0)
				break;
			left -= k;
		}
		ssi_chan_shutdown(&ch);
		ssi_chan_recv(&ch, buf, sizeof buf); /* the client's close */
	}
out:
	ssi_chan_close(&ch);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd, one = 1;
	long rc;
	if (argc >= 3 && !strcmp(argv[1], "server")) {
		int l = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_port = htons((uint16_t)atoi(argv[2]));
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0) {
			perror("chan_net: listen");
			return 1;
		}
		if (sodium_init() < 0)
			return 1;
		for (;;) {
			fd = accept(l, NULL, NULL);
			if (fd < 0)
				continue;
			s_tcp(fd);
			s_serve(fd);
		}
	}
	if (argc < 5 || (strcmp(argv[1], "rr") && strcmp(argv[1], "stream")) ||
	    (!strcmp(argv[1], "stream") && argc < 6)) {
		fprintf(stderr, "usage: chan_net server PORT | rr ADDR PORT COUNT | "
				"stream ADDR PORT MIB RECORD\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	a.sin_port = htons((uint16_t)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("chan_net: connect");
		return 1;
	}
	s_tcp(fd);
	if ((rc = ssi_chan_init(&ch, fd, key, SSI_CHAN_INITIATOR, 10000)) < 0)
		s_die("handshake", rc);
	ssi_chan_set_timeout(&ch, 0);
	if (!strcmp(argv[1], "rr")) {
		uint32_t cmd[3] = {1, 0, 0};
		long n = atol(argv[4]), i;
		double t0;
		ssi_chan_send(&ch, cmd, sizeof cmd);
		memset(buf, 'q', 72);
		t0 = s_now();
		for (i = 0; i < n; i++) {
			if ((rc = ssi_chan_send(&ch, buf, 72)) < 0)
				s_die("send", rc);
			if ((rc = ssi_chan_recv(&ch, buf, sizeof buf)) != 72)
				s_die("recv", rc < 0 ? rc : -EPROTO);
		}
		printf("%.1f\n", (s_now() - t0) / (double)n * 1e6);
	} else {
		uint32_t cmd[3] = {2, (uint32_t)atoi(argv[4]), (uint32_t)atoi(argv[5])};
		uint64_t total = 0;
		double t0;
		ssi_chan_send(&ch, cmd, sizeof cmd);
		t0 = s_now();
		while ((rc = ssi_chan_recv(&ch, buf, sizeof buf)) > 0)
			total += (uint64_t)rc;
		if (rc < 0)
			s_die("recv", rc);
		printf("%.0f\n", (double)total / (1 << 20) / (s_now() - t0));
	}
	ssi_chan_shutdown(&ch);
	ssi_chan_close(&ch);
	return 0;
}
