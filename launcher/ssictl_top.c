/* ssictl_top: a live view of the cluster, refreshed every second: one row
 * per node (load bar, CPUs, free memory, guests, state), the busiest
 * processes and where they run, and the latest migrations with their
 * reasons (from the events stream). On a terminal it uses the alternate
 * screen, reads keys without echo ('q' quits) and restores the terminal on
 * exit and on INT, TERM and HUP; when stdout is not a terminal it prints
 * one plain frame (or -n N frames) and exits. */
#include "ssictl_top.h"

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ssi_cluster.h"
#include "ssi_local.h"
#include "ssi_msg.h"
#include "ssictl_call.h"

#define S_TIMEOUT_MS 3000
#define S_PROCS 10 /* the busiest processes shown */
#define S_RECENT 6 /* the latest migrations shown */
#define S_BAR 20   /* the load bar's width */

static volatile sig_atomic_t s_stop;
static struct termios s_saved;
static bool s_tty;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* One request, its reply parsed into m: 0, or -1 (said on stderr). */
static int s_ask(int type, uint64_t seq, uint8_t *rep, size_t cap, ssi_msg_t *m, int want)
{
    uint8_t req[64];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, req, sizeof req, type);
    if (type == SSI_MSG_PS)
        ssi_msg_put_u64(&w, SSI_TAG_SCOPE, 1);
    if (type == SSI_MSG_EVENTS)
        ssi_msg_put_u64(&w, SSI_TAG_SEQ, seq);
    long n = ssi_msg_end(&w);
    n = ssictl_exchange(req, (size_t)n, rep, cap, S_TIMEOUT_MS, true);
    if (n < 0 || ssi_msg_parse(rep, (size_t)n, m) < 0 || m->type != want)
        return -1;
    return 0;
}

typedef struct {
    char home[SSI_NAME_MAX + 1], node[SSI_NAME_MAX + 1], state[16], cmd[80];
    uint64_t pid, moves, onms, demand;
} s_proc_t;

static int s_by_demand(const void *a, const void *b)
{
    const s_proc_t *x = a, *y = b;
    return x->demand < y->demand ? 1 : x->demand > y->demand ? -1 : 0;
}

/* The latest migrations, kept across frames. */
static char s_recent[S_RECENT][200];
static int s_nrecent;
static uint64_t s_seq;

static void s_take_events(const ssi_msg_t *m)
{
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->field[i].tag == SSI_TAG_SEQ) {
            ssi_field_u64(&m->field[i], &s_seq);
            continue;
        }
        if (m->field[i].tag != SSI_TAG_EVENT)
            continue;
        ssi_field_t f[8];
        long k = ssi_msg_fields(m->field[i].val, m->field[i].len, f, 8);
        char node[SSI_NAME_MAX + 1] = "?", kind[32] = "", text[300] = "";
        uint64_t t = 0;
        if (k < 0)
            continue;
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), node, sizeof node);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_KIND), kind, sizeof kind);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_TEXT), text, sizeof text);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_TIMEMS), &t);
        if (strcmp(kind, "migrated") != 0 && strcmp(kind, "balance") != 0 &&
            strcmp(kind, "failed") != 0)
            continue;
        if (s_nrecent == S_RECENT) {
            memmove(s_recent[0], s_recent[1], sizeof s_recent[0] * (S_RECENT - 1));
            s_nrecent--;
        }
        time_t sec = (time_t)(t / 1000);
        struct tm tm;
        localtime_r(&sec, &tm);
        snprintf(s_recent[s_nrecent++], sizeof s_recent[0], "%02d:%02d:%02d %-6s %-8s %.150s",
                 tm.tm_hour, tm.tm_min, tm.tm_sec, node, kind, text);
    }
}

/* One frame on stdout: 0, or -1 if ssid did not answer. */
static int s_frame(void)
{
    static uint8_t rep[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t m;
    static s_proc_t procs[1024];
    int np = 0;
    if (s_ask(SSI_MSG_EVENTS, s_seq, rep, sizeof rep, &m, SSI_MSG_EVENTS_REP) == 0)
        s_take_events(&m);
    if (s_ask(SSI_MSG_PS, 0, rep, sizeof rep, &m, SSI_MSG_PS_REP) < 0)
        return -1;
    for (size_t i = 0; i < m.nfields && np < 1024; i++) {
        if (m.field[i].tag != SSI_TAG_PROC)
            continue;
        ssi_field_t f[16];
        long k = ssi_msg_fields(m.field[i].val, m.field[i].len, f, 16);
        if (k < 0)
            continue;
        s_proc_t *p = &procs[np++];
        memset(p, 0, sizeof *p);
        char cmd[SSI_MSG_MAX_FIELD + 1] = "";
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_HOME), p->home, sizeof p->home);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), p->node, sizeof p->node);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_STATE), p->state, sizeof p->state);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_CMD), cmd, sizeof cmd);
        for (char *c = cmd; *c; c++)
            if ((unsigned char)*c < ' ')
                *c = ' ';
        snprintf(p->cmd, sizeof p->cmd, "%s", cmd);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_PID), &p->pid);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_MOVES), &p->moves);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_ONNODEMS), &p->onms);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_LOADM), &p->demand);
    }
    qsort(procs, (size_t)np, sizeof *procs, s_by_demand);

    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    printf("ssictl top  %02d:%02d:%02d  %d ssi processes%s\n\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
           np, s_tty ? "  (q quits)" : "");
    printf("%-12s %-8s %-*s %6s %6s %9s %6s\n", "NODE", "STATE", S_BAR + 2, "LOAD", "", "CPUS",
           "FREE-MiB", "GUESTS");
    if (s_ask(SSI_MSG_NODES, 0, rep, sizeof rep, &m, SSI_MSG_NODES_REP) < 0)
        return -1;
    for (size_t i = 0; i < m.nfields; i++) {
        if (m.field[i].tag != SSI_TAG_LOAD)
            continue;
        ssi_field_t f[16];
        long k = ssi_msg_fields(m.field[i].val, m.field[i].len, f, 16);
        if (k < 0)
            continue;
        char name[SSI_NAME_MAX + 1] = "?", state[16] = "?";
        uint64_t loadm = 0, cpum = 0, freekb = 0, blocked = 0, age = 0;
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), name, sizeof name);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_STATE), state, sizeof state);
        bool known = ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_AGEMS), &age) == 0;
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_LOADM), &loadm);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_CPUM), &cpum);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_FREEKB), &freekb);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_BLOCKED), &blocked);
        if (strcmp(state, "up") == 0 && blocked)
            snprintf(state, sizeof state, "%s", blocked == 2 ? "draining" : "blocked");
        int guests = 0;
        for (int p = 0; p < np; p++)
            guests += strcmp(procs[p].node, name) == 0 && strcmp(procs[p].home, name) != 0;
        char bar[S_BAR + 3] = "[";
        double per_cpu = cpum ? (double)loadm / (double)cpum : 0; /* runnable per CPU */
        int fill = (int)(per_cpu * S_BAR + 0.5);
        for (int b = 0; b < S_BAR; b++)
            bar[b + 1] = b < fill ? '#' : '.';
        bar[S_BAR + 1] = fill > S_BAR ? '+' : ']';
        bar[S_BAR + 2] = 0;
        if (known)
            printf("%-12s %-8s %s %6.2f %6.2f %9llu %6d\n", name, state, bar, loadm / 1000.0,
                   cpum / 1000.0, (unsigned long long)(freekb / 1024), guests);
        else
            printf("%-12s %-8s %-*s %6s %6s %9s %6s\n", name, state, S_BAR + 2, "", "-", "-", "-",
                   "-");
    }
    printf("\n%-8s %7s %-8s %-9s %4s %5s %8s  %s\n", "HOME", "PID", "NODE", "STATE", "CPU%",
           "MOVES", "ON-NODE", "COMMAND");
    for (int p = 0; p < np && p < S_PROCS; p++)
        printf("%-8s %7llu %-8s %-9s %4llu %5llu %7.1fs  %.60s\n", procs[p].home,
               (unsigned long long)procs[p].pid, procs[p].node, procs[p].state,
               (unsigned long long)(procs[p].demand / 10), (unsigned long long)procs[p].moves,
               procs[p].onms / 1000.0, procs[p].cmd);
    printf("\nLatest migrations\n");
    for (int r = 0; r < s_nrecent; r++)
        printf("  %s\n", s_recent[r]);
    if (!s_nrecent)
        printf("  (none yet)\n");
    return fflush(stdout) == 0 ? 0 : -1;
}

static void s_restore(void)
{
    if (!s_tty)
        return;
    tcsetattr(STDIN_FILENO, TCSANOW, &s_saved);
    fputs("\033[?25h\033[?1049l", stdout); /* cursor back, main screen back */
    fflush(stdout);
    s_tty = false;
}

int ssictl_top_main(const char *socket, int argc, char **argv)
{
    long frames = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            frames = atol(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("Usage: ssictl top [-n FRAMES]\n");
            return 0;
        } else {
            fprintf(stderr, "ssictl top: unexpected argument '%s'\nUsage: ssictl top [-n FRAMES]\n",
                    argv[i]);
            return 2;
        }
    }
    s_tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s_saved) == 0;
    if (frames < 0 && !s_tty)
        frames = 1; /* plain text: one frame */
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (s_tty) {
        struct termios raw = s_saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, no cursor */
    }
    int rc = 0;
    for (long f = 0; !s_stop && (frames < 0 || f < frames); f++) {
        if (s_tty)
            fputs("\033[H\033[2J", stdout);
        if (s_frame() < 0) {
            s_restore();
            fprintf(stderr, "ssictl top: no answer from ssid at %s\n", socket);
            return 1;
        }
        if (frames >= 0 && f + 1 >= frames)
            break;
        /* A second, or a key. */
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (s_tty && poll(&p, 1, 1000) > 0) {
            char key;
            if (read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
                break;
        } else if (!s_tty) {
            sleep(1);
        }
    }
    s_restore();
    return rc;
}
