/*
 * ssi_agent_base.c - ssi-agent's shared state, its reporting (the log, the
 * status line ssid waits for, failure) and the channel table. The bottom
 * of the agent: calls no other module of it (see ssi_agent_int.h).
 */
#include "ssi_agent_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Zero-initialised (it holds the link's buffers: keep it out of .data);
 * ssi_agent_init sets what is not zero. */
ssi_agent_t ssi_agent;

void ssi_agent_init(void)
{
    ssi_agent.status_fd = -1;
    ssi_agent.sandbox = 1;
    ssi_agent.body = -1;
    ssi_agent.ctl[0] = ssi_agent.ctl[1] = -1;
    ssi_agent.ctl_num = -1;
}

void ssi_agent_log(const char *fmt, ...)
{
    va_list ap;
    if (!ssi_agent.verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "ssi-agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

void ssi_agent_status(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (ssi_agent.status_fd >= 0 && write(ssi_agent.status_fd, line, (size_t)n) < 0)
        ssi_agent.status_fd = -1;
    if (ssi_agent.verbose || strncmp(line, "failed", 6) == 0)
        fprintf(stderr, "ssi-agent: %.*s", n, line);
}

void ssi_agent_kill_body(void)
{
    if (ssi_agent.body > 0 && !ssi_agent.body_done) {
        kill(ssi_agent.body, SIGKILL);
        while (waitpid(ssi_agent.body, &ssi_agent.body_status, __WALL) < 0 && errno == EINTR)
            ;
        ssi_agent.body_done = 1;
    }
}

void ssi_agent_fail(const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ssi_agent_kill_body();
    ssi_agent_status("failed: %s", why);
    exit(1);
}

long ssi_agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

uint64_t ssi_agent_ino(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

ssi_agent_chan_t *ssi_agent_chan_find(unsigned id)
{
    int i;
    for (i = 0; i < ssi_agent.nchans; i++)
        if (ssi_agent.chans[i].chan == (int)id)
            return &ssi_agent.chans[i];
    return NULL;
}

ssi_agent_chan_t *ssi_agent_chan_add(int chan, uint8_t dir, uint8_t flags)
{
    ssi_agent_chan_t *c = &ssi_agent.chans[ssi_agent.nchans++];
    memset(c, 0, sizeof(*c));
    c->chan = chan;
    c->fd = -1;
    c->body_fd = -1;
    c->dir = dir;
    c->flags = flags;
    ssi_flow_init(&c->flow, ssi_tunnel_window(flags));
    c->buf = malloc(c->flow.win);
    if (!c->buf)
        ssi_agent_fail("out of memory");
    return c;
}
