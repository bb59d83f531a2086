/* ssid_events: the ring of the cluster's events (see ssid_events.h). Runs
 * in ssid. */
#include "ssid_events.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "ssid_node.h"

typedef struct {
    uint64_t seq; /* ours, from 1; 0: an empty slot */
    uint64_t time_ms;
    char node[SSI_NAME_MAX + 1];
    char kind[16];
    char text[400];
} event_t;

static event_t s_ring[SSID_EVENTS_RING];
static uint64_t s_seq;
static uint8_t s_out[SSID_FRAME_MAX];

static uint64_t s_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void s_keep(const char *node, uint64_t time_ms, const char *kind, const char *text)
{
    event_t *e = &s_ring[s_seq % SSID_EVENTS_RING];
    e->seq = ++s_seq;
    e->time_ms = time_ms;
    snprintf(e->node, sizeof e->node, "%s", node);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->text, sizeof e->text, "%s", text);
}

/* Keeps an event of this node and sends it to every up peer but `except`
 * (-1: none). Returns its time. */
static uint64_t s_note(int except, const char *kind, const char *text)
{
    uint64_t now = s_wall_ms();
    s_keep(ssid_node.name, now, kind, text);
    uint8_t out[600];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_EVENT);
    ssid_events_put(&w, kind, now, text);
    long n = ssi_msg_end(&w);
    for (size_t i = 0; n > 0 && i < ssi_cluster_size(ssid_node.cluster); i++)
        if ((int)i != ssid_node.self && (int)i != except &&
            ssi_gossip_is_up(ssid_node.gossip, (int)i, ssid_node_now()))
            ssid_node_send((int)i, out, (size_t)n);
    return now;
}

void ssid_events_note(const char *kind, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s_note(-1, kind, text);
}

uint64_t ssid_events_note_except(int except, const char *kind, const char *text)
{
    return s_note(except, kind, text);
}

void ssid_events_put(ssi_msg_writer_t *w, const char *kind, uint64_t time_ms, const char *text)
{
    ssi_msg_put_str(w, SSI_TAG_KIND, kind);
    ssi_msg_put_u64(w, SSI_TAG_TIMEMS, time_ms);
    ssi_msg_put_str_cut(w, SSI_TAG_TEXT, text);
}

void ssid_events_received(int from, const ssi_msg_t *m)
{
    char kind[16], text[400] = "";
    uint64_t t = 0;
    if (ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_KIND), kind, sizeof kind) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_TIMEMS), &t) < 0)
        return;
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
    s_keep(ssid_node_peer_name(from), t, kind, text);
}

void ssid_events_list(ssid_client_t *c, const ssi_msg_t *m)
{
    uint64_t since = 0;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_SEQ), &since);
    uint64_t first = s_seq > SSID_EVENTS_RING ? s_seq - SSID_EVENTS_RING + 1 : 1;
    if (since + 1 > first)
        first = since + 1;
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, s_out, sizeof s_out, SSI_MSG_EVENTS_REP);
    uint64_t last = first - 1;
    for (uint64_t s = first; s <= s_seq; s++) {
        const event_t *e = &s_ring[(s - 1) % SSID_EVENTS_RING];
        if (w.len + sizeof *e + 64 > w.cap || s - first >= SSI_MSG_MAX_FIELDS - 8)
            break; /* the rest next time */
        size_t mark = ssi_msg_open(&w, SSI_TAG_EVENT);
        ssi_msg_put_u64(&w, SSI_TAG_SEQ, e->seq);
        ssi_msg_put_u64(&w, SSI_TAG_TIMEMS, e->time_ms);
        ssi_msg_put_str(&w, SSI_TAG_NODE, e->node);
        ssi_msg_put_str(&w, SSI_TAG_KIND, e->kind);
        ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, e->text);
        ssi_msg_close(&w, mark);
        last = s;
    }
    ssi_msg_put_u64(&w, SSI_TAG_SEQ, last);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_client_reply(c, s_out, (size_t)n);
    else
        ssid_client_reply_error(c, (int)-n, "events too large");
}
