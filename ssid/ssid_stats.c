/* ssid_stats: this node's counters (see ssid_stats.h). Runs in ssid. */
#include "ssid_stats.h"

#include <errno.h>

static const uint64_t s_bound_us[SSID_STATS_BUCKETS] = {1000,    2500,    5000,    10000,  25000,
                                                        50000,   100000,  250000,  500000, 1000000,
                                                        2500000, 5000000, 10000000};

static uint64_t s_outcomes[SSI_OUTCOME_MAX + 1];
static uint64_t s_bytes;
static uint64_t s_bucket[SSID_STATS_BUCKETS + 1]; /* the last one: above every bound */
static uint64_t s_freeze_sum_us;
static uint64_t s_calls;

int ssid_stats_outcome(int err)
{
    switch (err) {
    case 0: return SSI_OUTCOME_OK;
    case EBUSY: return SSI_OUTCOME_REFUSED;
    case ENOENT:
    case EHOSTDOWN: return SSI_OUTCOME_NODE;
    case EPERM:
    case EACCES: return SSI_OUTCOME_PERM;
    case EIO:
    case ECONNREFUSED:
    case ETIMEDOUT:
    case EAGAIN: return SSI_OUTCOME_FAILED;
    case ESRCH: return SSI_OUTCOME_NOPROC;
    default: return SSI_OUTCOME_OTHER;
    }
}

void ssid_stats_count(int outcome)
{
    if (outcome < 0 || outcome > SSI_OUTCOME_MAX)
        outcome = SSI_OUTCOME_OTHER;
    s_outcomes[outcome]++;
}

void ssid_stats_moved(uint64_t bytes, uint64_t freeze_us)
{
    s_bytes += bytes;
    s_freeze_sum_us += freeze_us;
    int i = 0;
    while (i < SSID_STATS_BUCKETS && freeze_us > s_bound_us[i])
        i++;
    s_bucket[i]++;
}

void ssid_stats_calls(uint64_t n)
{
    s_calls += n;
}

void ssid_stats_put(ssi_msg_writer_t *w, const char *node, uint64_t guests)
{
    size_t mark = ssi_msg_open(w, SSI_TAG_STATS);
    ssi_msg_put_str(w, SSI_TAG_NODE, node);
    ssi_msg_put_u64(w, SSI_TAG_GUESTS, guests);
    for (int o = 0; o <= SSI_OUTCOME_MAX; o++) {
        size_t m = ssi_msg_open(w, SSI_TAG_MIGS);
        ssi_msg_put_u64(w, SSI_TAG_OUTCOME, (uint64_t)o);
        ssi_msg_put_u64(w, SSI_TAG_SEQ, s_outcomes[o]);
        ssi_msg_close(w, m);
    }
    ssi_msg_put_u64(w, SSI_TAG_BYTES, s_bytes);
    for (int i = 0; i <= SSID_STATS_BUCKETS; i++) {
        size_t m = ssi_msg_open(w, SSI_TAG_FREEZE);
        ssi_msg_put_u64(w, SSI_TAG_LEUS, i < SSID_STATS_BUCKETS ? s_bound_us[i] : UINT64_MAX);
        ssi_msg_put_u64(w, SSI_TAG_SEQ, s_bucket[i]);
        ssi_msg_close(w, m);
    }
    ssi_msg_put_u64(w, SSI_TAG_FRZSUM, s_freeze_sum_us);
    ssi_msg_put_u64(w, SSI_TAG_CALLS, s_calls);
    ssi_msg_close(w, mark);
}
