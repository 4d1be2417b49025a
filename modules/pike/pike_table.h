/*
 * pike_table.h - the per-source request-rate table behind the pike module:
 * a fixed-size open-addressing hash of source addresses, each with a
 * two-bucket sliding-window counter and a block deadline. Pure code (no
 * core calls), so the unit tests drive it with their own clock.
 *
 * Every worker counts its requests in the one table, so a flood spread
 * over workers is still seen whole. Locking rule: slots come in aligned
 * groups and an address lives in the group its hash names; a group's
 * slots, and the used count of its stripe, are guarded by its stripe's
 * lock (one of up to 256). Everything else is fixed at init. Entries seen
 * outside the table are copies.
 */
#ifndef PIKE_TABLE_H
#define PIKE_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* An address as 16 bytes: IPv4 in its IPv4-mapped IPv6 form. */
typedef struct pike_addr {
  uint8_t b[16];
} pike_addr_t;

typedef struct pike_entry {
  pike_addr_t addr;
  uint8_t used;
  uint32_t prev, cur;      /* requests in the previous and current window */
  uint64_t win_start;      /* ms; start of the current window */
  uint64_t last_seen;      /* ms */
  uint64_t blocked_until;  /* ms; 0 when not blocked */
  uint64_t dropped;        /* requests refused in the current block */
} pike_entry_t;

struct pike_lock; /* pike_table.c */

typedef struct pike_table {
  pike_entry_t *slots;
  size_t mask;             /* slot count - 1 (a power of two) */
  struct pike_lock *locks;
  size_t lock_mask;        /* lock count - 1 (a power of two) */
  uint64_t seed;
  uint32_t window_ms, density, block_ms;
} pike_table_t;

typedef enum {
  PIKE_PASS = 0,   /* under the threshold */
  PIKE_BLOCK,      /* this request crossed it: the source is now blocked */
  PIKE_BLOCKED     /* the source was already blocked */
} pike_verdict_t;

/* Allocates room for at least max_sources sources, once. Returns 0 or -1. */
int pike_table_init(pike_table_t *t, size_t max_sources, uint32_t window_ms,
                    uint32_t density, uint32_t block_ms, uint64_t seed);
void pike_table_free(pike_table_t *t);

/* Counts one request from addr at time now (ms, monotonic); *until gets
 * the end of the source's block (0 when not blocked). Never allocates;
 * when the probe range is full the least recently seen source there is
 * forgotten. */
pike_verdict_t pike_table_hit(pike_table_t *t, const pike_addr_t *addr,
                              uint64_t now, uint64_t *until);

/* The sliding-window estimate of requests per window for an entry. */
uint32_t pike_entry_rate(const pike_table_t *t, const pike_entry_t *e,
                         uint64_t now);

/* Forgets sources idle for two windows whose block (if any) has ended.
 * Returns how many were forgotten. */
size_t pike_table_sweep(pike_table_t *t, uint64_t now);

/* How many sources are tracked. */
size_t pike_table_used(pike_table_t *t);

/* Calls fn with a copy of each source blocked at now, no lock held. */
typedef void (*pike_each_f)(const pike_entry_t *e, void *arg);
void pike_table_each_blocked(pike_table_t *t, uint64_t now, pike_each_f fn,
                             void *arg);

/* Parses "192.0.2.1" or "2001:db8::1" (no brackets). Returns 0 or -1. */
int pike_addr_parse(const char *s, pike_addr_t *a);
/* Formats an address the way tz_msg_src_ip() does. */
void pike_addr_format(const pike_addr_t *a, char *buf, size_t len);

#endif /* PIKE_TABLE_H */
