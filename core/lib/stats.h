/*
 * stats.h - the process's counters and gauges, for tzctl and Prometheus.
 */
#ifndef TZ_STATS_H
#define TZ_STATS_H

#include <trapezoid/trapezoid.h>

#include <stddef.h>

/* Counters the core keeps itself. */
extern tz_stat_t *tz_st_requests_in, *tz_st_replies_local,
    *tz_st_replies_relayed, *tz_st_script_errors, *tz_st_tx_inflight,
    *tz_st_generation, *tz_st_too_large;

int tz_stats_init(void);
void tz_stats_deinit(void);

/* Per-method request and per-status reply counters ("sip.requests.INVITE",
 * "sip.replies.486"), created on first use. */
void tz_stats_request(int method, const char *name); /* sip_method_t */
void tz_stats_reply(int status, int relayed);


/* Calls fn for every counter, in name order, with the table locked (fn
 * must not create counters). */
void tz_stats_each(void (*fn)(const tz_stat_t *st, void *arg), void *arg);
const char *tz_stat_name(const tz_stat_t *st);
const char *tz_stat_help(const tz_stat_t *st);
long tz_stat_value(const tz_stat_t *st);
int tz_stat_is_gauge(const tz_stat_t *st);

#endif
