/*
 * test_pike.c - unit tests of the pike rate table: the sliding window,
 * blocking and its end, IPv4/IPv6 keys, a full table, the sweep, and
 * several threads counting in one table as workers do.
 */
#define _POSIX_C_SOURCE 200809L
#include "pike_table.h"
#include "tzunit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static pike_table_t t;

static pike_addr_t addr_of(const char *s)
{
  pike_addr_t a;
  CU_ASSERT_EQUAL_FATAL(pike_addr_parse(s, &a), 0);
  return a;
}

/* n requests from s at time now; the verdict of the last one. */
static pike_verdict_t hit_n(const char *s, int n, uint64_t now)
{
  pike_addr_t a = addr_of(s);
  pike_verdict_t v = PIKE_PASS;
  uint64_t until;
  for (int i = 0; i < n; i++)
    v = pike_table_hit(&t, &a, now, &until);
  return v;
}

static void test_threshold_blocks(void)
{
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 2000, 10, 5000, 42), 0);
  CU_ASSERT_EQUAL(hit_n("192.0.2.1", 10, 1000), PIKE_PASS);
  CU_ASSERT_EQUAL(hit_n("192.0.2.1", 1, 1000), PIKE_BLOCK);
  CU_ASSERT_EQUAL(hit_n("192.0.2.1", 1, 1001), PIKE_BLOCKED);
  /* another source is unaffected */
  CU_ASSERT_EQUAL(hit_n("192.0.2.2", 5, 1001), PIKE_PASS);
  pike_table_free(&t);
}

static void test_block_ends(void)
{
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 2000, 10, 5000, 1), 0);
  CU_ASSERT_EQUAL(hit_n("198.51.100.7", 11, 0), PIKE_BLOCK);
  CU_ASSERT_EQUAL(hit_n("198.51.100.7", 1, 4999), PIKE_BLOCKED);
  /* quiet since: the window is empty again and the block is over */
  CU_ASSERT_EQUAL(hit_n("198.51.100.7", 1, 5000), PIKE_PASS);
  pike_table_free(&t);
}

static void test_flooding_extends_block(void)
{
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 1000, 10, 2000, 1), 0);
  CU_ASSERT_EQUAL(hit_n("198.51.100.8", 11, 0), PIKE_BLOCK);
  CU_ASSERT_EQUAL(hit_n("198.51.100.8", 20, 1500), PIKE_BLOCKED);
  /* still flooding when the block ends: blocked again at once */
  CU_ASSERT_EQUAL(hit_n("198.51.100.8", 1, 2000), PIKE_BLOCK);
  pike_table_free(&t);
}

/* The previous window counts in proportion to how much of it still
 * overlaps the sliding window: a burst at the end of one window and the
 * start of the next is caught. */
static void test_sliding_estimate(void)
{
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 1000, 10, 1000, 1), 0);
  /* the window starts with the source's first request, at 0 */
  CU_ASSERT_EQUAL(hit_n("203.0.113.5", 1, 0), PIKE_PASS);
  CU_ASSERT_EQUAL(hit_n("203.0.113.5", 7, 900), PIKE_PASS);
  /* at 1100 the previous 8 weigh 8 * 0.9 = 7; 3 more make 10 */
  CU_ASSERT_EQUAL(hit_n("203.0.113.5", 3, 1100), PIKE_PASS);
  CU_ASSERT_EQUAL(hit_n("203.0.113.5", 1, 1100), PIKE_BLOCK);
  pike_table_free(&t);
}

static void test_ipv6_and_mapped(void)
{
  pike_addr_t a = addr_of("2001:db8::1"), b = addr_of("192.0.2.9");
  char buf[64];
  pike_addr_format(&a, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "2001:db8::1");
  pike_addr_format(&b, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "192.0.2.9");
  CU_ASSERT_NOT_EQUAL(pike_addr_parse("[::1]", &a), 0);
  CU_ASSERT_NOT_EQUAL(pike_addr_parse("example.com", &a), 0);
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 1000, 3, 1000, 7), 0);
  CU_ASSERT_EQUAL(hit_n("2001:db8::1", 4, 0), PIKE_BLOCK);
  CU_ASSERT_EQUAL(hit_n("2001:db8::2", 3, 0), PIKE_PASS);
  pike_table_free(&t);
}

/* Far more sources than slots: nothing is allocated, the table stays
 * bounded, and a blocked source survives the churn of idle ones. */
static void test_full_table_evicts(void)
{
  char ip[32];
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 16, 1000, 5, 10000, 3), 0);
  CU_ASSERT_EQUAL(hit_n("10.9.9.9", 6, 0), PIKE_BLOCK);
  for (int i = 0; i < 1000; i++) {
    snprintf(ip, sizeof ip, "10.0.%d.%d", i / 250, i % 250);
    CU_ASSERT_EQUAL(hit_n(ip, 1, 1 + (uint64_t)i), PIKE_PASS);
  }
  CU_ASSERT(pike_table_used(&t) <= t.mask + 1);
  CU_ASSERT_EQUAL(hit_n("10.9.9.9", 1, 2000), PIKE_BLOCKED);
  pike_table_free(&t);
}

static void test_sweep_forgets_idle(void)
{
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 1000, 2, 5000, 3), 0);
  hit_n("192.0.2.10", 1, 0);
  hit_n("192.0.2.11", 3, 0); /* blocked until 5000 */
  CU_ASSERT_EQUAL(pike_table_used(&t), 2);
  CU_ASSERT_EQUAL(pike_table_sweep(&t, 1999), 0);
  CU_ASSERT_EQUAL(pike_table_sweep(&t, 2000), 1);
  CU_ASSERT_EQUAL(pike_table_used(&t), 1);
  CU_ASSERT_EQUAL(hit_n("192.0.2.11", 1, 2500), PIKE_BLOCKED);
  CU_ASSERT_EQUAL(pike_table_sweep(&t, 5000 + 2000), 1);
  CU_ASSERT_EQUAL(pike_table_used(&t), 0);
  pike_table_free(&t);
}

/* ---- several workers --------------------------------------------------------- */

/* Threads stand for workers; assertions are made after they are joined,
 * as CUnit's are not thread-safe. */
#define WORKERS 4
#define SOURCES 64
#define HITS 2000

static pthread_barrier_t start;
static atomic_int counting; /* workers not yet done */

typedef struct worker {
  pthread_t thread;
  unsigned verdicts[3]; /* by pike_verdict_t */
} worker_t;

static worker_t workers[WORKERS];

static pike_addr_t source(int i)
{
  char ip[32];
  snprintf(ip, sizeof ip, "10.1.%d.%d", i / 200, i % 200 + 1);
  return addr_of(ip);
}

/* HITS requests from each of n sources, interleaved, all at time 1. */
static void hits_run(worker_t *w, int n)
{
  pike_addr_t a[SOURCES];
  uint64_t until;
  for (int i = 0; i < n; i++)
    a[i] = source(i);
  pthread_barrier_wait(&start);
  for (int k = 0; k < HITS; k++)
    for (int i = 0; i < n; i++)
      w->verdicts[pike_table_hit(&t, &a[i], 1, &until)]++;
  atomic_fetch_sub(&counting, 1);
}

static void *hit_all(void *arg)
{
  hits_run(arg, SOURCES);
  return NULL;
}

static void *hit_one(void *arg)
{
  hits_run(arg, 1);
  return NULL;
}

static void count_entry(const pike_entry_t *e, void *arg)
{
  (void)e;
  ++*(size_t *)arg;
}

/* What worker 0 does meanwhile: sweeps, and pike.list and the gauge read
 * the table. Nothing is idle, so nothing may be forgotten. */
static size_t sweep_while_counting(void)
{
  size_t forgotten = 0, blocked = 0;
  while (atomic_load(&counting) > 0) {
    forgotten += pike_table_sweep(&t, 1);
    pike_table_each_blocked(&t, 1, count_entry, &blocked);
    (void)pike_table_used(&t);
  }
  return forgotten;
}

static size_t workers_run(void *(*fn)(void *))
{
  CU_ASSERT_EQUAL_FATAL(pthread_barrier_init(&start, NULL, WORKERS), 0);
  atomic_store(&counting, WORKERS);
  for (int i = 0; i < WORKERS; i++) {
    workers[i] = (worker_t){0};
    CU_ASSERT_EQUAL_FATAL(
        pthread_create(&workers[i].thread, NULL, fn, &workers[i]), 0);
  }
  size_t forgotten = sweep_while_counting();
  for (int i = 0; i < WORKERS; i++)
    pthread_join(workers[i].thread, NULL);
  pthread_barrier_destroy(&start);
  return forgotten;
}

/* The table entry of a, or NULL. */
static const pike_entry_t *entry_of(const pike_addr_t *a)
{
  for (size_t i = 0; i <= t.mask; i++)
    if (t.slots[i].used && memcmp(&t.slots[i].addr, a, sizeof *a) == 0)
      return &t.slots[i];
  return NULL;
}

/* No request is lost when workers count the same sources at once. */
static void test_workers_count_all(void)
{
  CU_ASSERT_EQUAL_FATAL(
      pike_table_init(&t, 4096, 1000000, 10000000, 1000, 5), 0);
  CU_ASSERT_EQUAL(workers_run(hit_all), 0);
  CU_ASSERT_EQUAL(pike_table_used(&t), SOURCES);
  for (int i = 0; i < SOURCES; i++) {
    pike_addr_t a = source(i);
    const pike_entry_t *e = entry_of(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->cur, WORKERS * HITS);
  }
  pike_table_free(&t);
}

/* A flood spread over workers crosses the threshold exactly once. */
static void test_workers_block_once(void)
{
  unsigned v[3] = {0, 0, 0};
  CU_ASSERT_EQUAL_FATAL(pike_table_init(&t, 64, 1000000, 1000, 1000000, 9), 0);
  workers_run(hit_one);
  for (int i = 0; i < WORKERS; i++)
    for (int k = 0; k < 3; k++)
      v[k] += workers[i].verdicts[k];
  CU_ASSERT_EQUAL(v[PIKE_PASS], 1000);
  CU_ASSERT_EQUAL(v[PIKE_BLOCK], 1);
  CU_ASSERT_EQUAL(v[PIKE_BLOCKED], WORKERS * HITS - 1001);
  pike_table_free(&t);
}

int main(void)
{
  static const tz_unit_test_t tests[] = {
      {"threshold blocks the source", test_threshold_blocks},
      {"block ends after block_time", test_block_ends},
      {"a source still flooding is blocked again", test_flooding_extends_block},
      {"sliding estimate across windows", test_sliding_estimate},
      {"IPv6 and IPv4 keys", test_ipv6_and_mapped},
      {"full table evicts, never grows", test_full_table_evicts},
      {"sweep forgets idle sources, keeps blocked", test_sweep_forgets_idle},
      {"workers lose no request", test_workers_count_all},
      {"a flood over workers blocks once", test_workers_block_once},
      {NULL, NULL}};
  static const tz_unit_suite_t suites[] = {{"pike table", tests, NULL, NULL},
                                           {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
