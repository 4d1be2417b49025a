/*
 * test_dns.c - the dns module's pure parts with synthetic records: reading
 * the URI, NAPTR choice and transport, SRV order by priority and weight
 * (RFC 2782, with a scripted random source), target lists, the TTL cache
 * with negative entries and its bound, the RFC 3263 lookup steps fed
 * by a fake answer source, synchronously and asynchronously, and the
 * static zone (dns.zone_add's params, its answers, in front of the fake).
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "dns_cache.h"
#include "dns_lookup.h"
#include "dns_select.h"
#include "dns_zone.h"

#include <stdlib.h>
#include <string.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

/* ---- helpers --------------------------------------------------------------- */

static int parse(const char *uri, dns_uri_t *u)
{
  su_home_t home[1] = {SU_HOME_INIT(home)};
  int rc = dns_uri_parse(url_make(home, uri), u);
  su_home_deinit(home);
  return rc;
}

static dns_rr_t naptr(uint16_t order, uint16_t pref, const char *flags,
                      const char *services, const char *replace)
{
  dns_rr_t r = {.type = DNS_T_NAPTR};
  r.u.naptr.order = order;
  r.u.naptr.pref = pref;
  strcpy(r.u.naptr.flags, flags);
  strcpy(r.u.naptr.services, services);
  strcpy(r.u.naptr.replace, replace);
  return r;
}

static dns_rr_t srv(uint16_t prio, uint16_t weight, uint16_t port,
                    const char *target)
{
  dns_rr_t r = {.type = DNS_T_SRV};
  r.u.srv.prio = prio;
  r.u.srv.weight = weight;
  r.u.srv.port = port;
  strcpy(r.u.srv.target, target);
  return r;
}

static dns_rr_t addr(uint16_t type, const char *a)
{
  dns_rr_t r = {.type = type};
  strcpy(r.u.addr, a);
  return r;
}

static dns_rrset_t set_of(dns_rr_t *rr, size_t n)
{
  return (dns_rrset_t){DNS_OK, 300, n, rr};
}

/* Random source returning a scripted sequence, then always the bound. */
typedef struct script_rand {
  const unsigned *v;
  size_t n, i;
} script_rand_t;

static unsigned rand_scripted(void *arg, unsigned bound)
{
  script_rand_t *s = arg;
  unsigned r = s->i < s->n ? s->v[s->i++] : bound;
  return r > bound ? bound : r;
}

static unsigned rand_lcg(void *arg, unsigned bound)
{
  unsigned *state = arg;
  *state = *state * 1103515245u + 12345u;
  return ((*state >> 8) % (bound + 1));
}

/* ---- URI and transports ------------------------------------------------------ */

static void test_uri_parse(void)
{
  dns_uri_t u;
  CU_ASSERT_EQUAL_FATAL(parse("sip:bob@biloxi.test", &u), 0);
  CU_ASSERT_STRING_EQUAL(u.host, "biloxi.test");
  CU_ASSERT(!u.port && !u.tp && !u.sips && !u.numeric);

  CU_ASSERT_EQUAL_FATAL(parse("sip:192.0.2.1:5070;transport=TCP", &u), 0);
  CU_ASSERT(u.numeric && u.port == 5070 && u.tp == DNS_TP_TCP);

  CU_ASSERT_EQUAL_FATAL(parse("sips:bob@[2001:db8::1]", &u), 0);
  CU_ASSERT_STRING_EQUAL(u.host, "2001:db8::1");
  CU_ASSERT(u.numeric && u.sips);

  CU_ASSERT_EQUAL_FATAL(parse("sips:biloxi.test;transport=tcp", &u), 0);
  CU_ASSERT_EQUAL(u.tp, DNS_TP_TLS); /* sips over TCP is TLS */

  CU_ASSERT_EQUAL(parse("sips:biloxi.test;transport=udp", &u), -1);
  CU_ASSERT_EQUAL(parse("sip:biloxi.test;transport=sctp", &u), -1);
  CU_ASSERT_EQUAL(parse("tel:+15551234", &u), -1);
}

static void test_tp_mask(void)
{
  CU_ASSERT_EQUAL(dns_tp_mask("udp,tcp"), DNS_TP_UDP | DNS_TP_TCP);
  CU_ASSERT_EQUAL(dns_tp_mask(" TLS , udp "), DNS_TP_UDP | DNS_TP_TLS);
  CU_ASSERT_EQUAL(dns_tp_mask("udp,sctp"), -1);
  CU_ASSERT_EQUAL(dns_tp_mask(""), 0);
  CU_ASSERT_EQUAL(dns_tp_default_port(DNS_TP_TLS), 5061);
  CU_ASSERT_EQUAL(dns_tp_default_port(DNS_TP_UDP), 5060);
}

/* ---- NAPTR ----------------------------------------------------------------- */

static void test_naptr_order_and_services(void)
{
  dns_rr_t rr[] = {
      naptr(20, 10, "s", "SIP+D2U", "_sip._udp.biloxi.test"),
      naptr(10, 20, "S", "SIP+D2T", "_sip._tcp.biloxi.test"),
      naptr(10, 10, "s", "SIPS+D2T", "_sips._tcp.biloxi.test"),
      naptr(5, 10, "s", "SIP+D2S", "_sip._sctp.biloxi.test"), /* unsupported */
      naptr(1, 10, "u", "E2U+sip", "!^.*$!sip:x@y!"),          /* not "s" */
      naptr(1, 10, "s", "SIP+D2U", "."),                      /* no target */
  };
  dns_rrset_t s = set_of(rr, sizeof rr / sizeof rr[0]);
  dns_uri_t u;
  dns_srvq_t q[4];
  parse("sip:bob@biloxi.test", &u);

  size_t n = dns_naptr_select(&s, &u, DNS_TP_UDP | DNS_TP_TCP | DNS_TP_TLS, q, 4);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CU_ASSERT_STRING_EQUAL(q[0].name, "_sips._tcp.biloxi.test");
  CU_ASSERT_EQUAL(q[0].tp, DNS_TP_TLS);
  CU_ASSERT_STRING_EQUAL(q[1].name, "_sip._tcp.biloxi.test");
  CU_ASSERT_EQUAL(q[1].tp, DNS_TP_TCP);
  CU_ASSERT_STRING_EQUAL(q[2].name, "_sip._udp.biloxi.test");
  CU_ASSERT_EQUAL(q[2].tp, DNS_TP_UDP);

  /* only the transports the proxy has */
  n = dns_naptr_select(&s, &u, DNS_TP_UDP, q, 4);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(q[0].tp, DNS_TP_UDP);

  /* a sips URI keeps only SIPS+D2T */
  parse("sips:bob@biloxi.test", &u);
  n = dns_naptr_select(&s, &u, DNS_TP_UDP | DNS_TP_TCP | DNS_TP_TLS, q, 4);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(q[0].tp, DNS_TP_TLS);
  CU_ASSERT_EQUAL(dns_naptr_select(&s, &u, DNS_TP_UDP | DNS_TP_TCP, q, 4), 0);

  /* bounded output */
  parse("sip:bob@biloxi.test", &u);
  CU_ASSERT_EQUAL(dns_naptr_select(&s, &u, 7, q, 2), 2);
}

static void test_srv_names_without_naptr(void)
{
  dns_uri_t u;
  dns_srvq_t q[4];
  parse("sip:biloxi.test", &u);
  size_t n = dns_srv_names(&u, DNS_TP_TCP | DNS_TP_UDP, q, 4);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_STRING_EQUAL(q[0].name, "_sip._udp.biloxi.test"); /* UDP first */
  CU_ASSERT_STRING_EQUAL(q[1].name, "_sip._tcp.biloxi.test");

  parse("sip:biloxi.test;transport=tcp", &u);
  n = dns_srv_names(&u, DNS_TP_UDP, q, 4);
  CU_ASSERT_EQUAL_FATAL(n, 1); /* the URI's transport wins */
  CU_ASSERT_STRING_EQUAL(q[0].name, "_sip._tcp.biloxi.test");

  parse("sips:biloxi.test", &u);
  n = dns_srv_names(&u, DNS_TP_UDP | DNS_TP_TCP | DNS_TP_TLS, q, 4);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(q[0].name, "_sips._tcp.biloxi.test");
  CU_ASSERT_EQUAL(q[0].tp, DNS_TP_TLS);
}

/* ---- SRV (RFC 2782) ------------------------------------------------------------ */

static void test_srv_priority_first(void)
{
  dns_rr_t rr[] = {srv(20, 0, 5080, "p2.biloxi.test."),
                   srv(10, 0, 5070, "dead.biloxi.test."),
                   srv(30, 0, 5090, "p3.biloxi.test")};
  dns_rrset_t s = set_of(rr, 3);
  dns_host_t h[8];
  size_t n = 0;
  script_rand_t sr = {NULL, 0, 0};
  CU_ASSERT_EQUAL(dns_srv_order(&s, DNS_TP_UDP, rand_scripted, &sr, h, &n, 8), 0);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CU_ASSERT_STRING_EQUAL(h[0].name, "dead.biloxi.test"); /* final dot gone */
  CU_ASSERT_EQUAL(h[0].port, 5070);
  CU_ASSERT_EQUAL(h[0].tp, DNS_TP_UDP);
  CU_ASSERT_STRING_EQUAL(h[1].name, "p2.biloxi.test");
  CU_ASSERT_STRING_EQUAL(h[2].name, "p3.biloxi.test");
}

static void test_srv_weighted_choice(void)
{
  /* one priority: weights 0, 10, 30; running sums in RFC 2782 order
   * (zero weights first): a=0, b=10, c=40 */
  dns_rr_t rr[] = {srv(1, 10, 1, "b"), srv(1, 30, 1, "c"), srv(1, 0, 1, "a")};
  dns_rrset_t s = set_of(rr, 3);
  dns_host_t h[8];
  size_t n = 0;
  /* 25 picks c (first running sum >= 25); then of a=0, b=10: 5 picks b */
  unsigned seq[] = {25, 5, 0};
  script_rand_t sr = {seq, 3, 0};
  dns_srv_order(&s, DNS_TP_TCP, rand_scripted, &sr, h, &n, 8);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CU_ASSERT_STRING_EQUAL(h[0].name, "c");
  CU_ASSERT_STRING_EQUAL(h[1].name, "b");
  CU_ASSERT_STRING_EQUAL(h[2].name, "a");

  /* 0 picks the zero-weight record */
  unsigned zero[] = {0, 0, 0};
  sr = (script_rand_t){zero, 3, 0};
  n = 0;
  dns_srv_order(&s, DNS_TP_TCP, rand_scripted, &sr, h, &n, 8);
  CU_ASSERT_STRING_EQUAL(h[0].name, "a");
}

static void test_srv_weight_distribution(void)
{
  dns_rr_t rr[] = {srv(1, 1, 1, "light"), srv(1, 3, 1, "heavy")};
  dns_rrset_t s = set_of(rr, 2);
  unsigned state = 42, heavy = 0, runs = 4000;
  for (unsigned i = 0; i < runs; i++) {
    dns_host_t h[2];
    size_t n = 0;
    dns_srv_order(&s, DNS_TP_UDP, rand_lcg, &state, h, &n, 2);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    heavy += strcmp(h[0].name, "heavy") == 0;
  }
  /* RFC 2782 draws from [0, sum] inclusive: heavy wins for 2..4 of the
   * five values 0..4, i.e. 60% (a literal reading favours the first) */
  CU_ASSERT(heavy > runs * 52 / 100 && heavy < runs * 68 / 100);
}

static void test_srv_not_offered(void)
{
  dns_rr_t rr[] = {srv(0, 0, 0, ".")};
  dns_rrset_t s = set_of(rr, 1);
  dns_host_t h[2];
  size_t n = 0;
  script_rand_t sr = {NULL, 0, 0};
  CU_ASSERT_EQUAL(dns_srv_order(&s, DNS_TP_UDP, rand_scripted, &sr, h, &n, 2), 1);
  CU_ASSERT_EQUAL(n, 0);
}

static void test_srv_bounded(void)
{
  dns_rr_t rr[] = {srv(1, 0, 1, "a"), srv(2, 0, 1, "b"), srv(3, 0, 1, "c")};
  dns_rrset_t s = set_of(rr, 3);
  dns_host_t h[2];
  size_t n = 0;
  script_rand_t sr = {NULL, 0, 0};
  dns_srv_order(&s, DNS_TP_UDP, rand_scripted, &sr, h, &n, 2);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_STRING_EQUAL(h[1].name, "b");
}

/* ---- targets ------------------------------------------------------------------- */

static void test_targets(void)
{
  dns_targets_t t = {0};
  dns_host_t h = {"p2.biloxi.test", 5080, DNS_TP_UDP};
  dns_rr_t rr[] = {addr(DNS_T_A, "127.0.0.1"), addr(DNS_T_A, "127.0.0.1"),
                   addr(DNS_T_AAAA, "::1")};
  dns_rrset_t s = set_of(rr, 3);
  CU_ASSERT_EQUAL(dns_targets_add(&t, &h, &s), 2); /* the duplicate skipped */
  CU_ASSERT_STRING_EQUAL(t.uri[0], "sip:127.0.0.1:5080;transport=udp");
  CU_ASSERT_STRING_EQUAL(t.uri[1], "sip:[::1]:5080;transport=udp");

  dns_host_t lit = {"192.0.2.7", 5061, DNS_TP_TLS};
  CU_ASSERT_EQUAL(dns_targets_add(&t, &lit, NULL), 1);
  CU_ASSERT_STRING_EQUAL(t.uri[2], "sip:192.0.2.7:5061;transport=tls");

  for (unsigned p = 1; p < 40; p++) {
    dns_host_t x = {"192.0.2.8", p, DNS_TP_TCP};
    dns_targets_add(&t, &x, NULL);
  }
  CU_ASSERT_EQUAL(t.n, DNS_MAX_TARGETS);
}

/* ---- cache ---------------------------------------------------------------------- */

static void test_cache_ttl(void)
{
  dns_cache_t *c = dns_cache_new(8, 30);
  dns_rr_t rr[] = {addr(DNS_T_A, "127.0.0.1")};
  dns_rrset_t s = set_of(rr, 1), out;
  s.ttl = 100;
  dns_cache_put(c, DNS_T_A, "P2.Biloxi.Test.", &s, 1000);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "p2.biloxi.test", 1050, &out), 1);
  CU_ASSERT_EQUAL(out.status, DNS_OK);
  CU_ASSERT_EQUAL_FATAL(out.n, 1);
  CU_ASSERT_STRING_EQUAL(out.rr[0].u.addr, "127.0.0.1");
  dns_rrset_clear(&out);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_AAAA, "p2.biloxi.test", 1050, &out), 0);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "p2.biloxi.test", 1100, &out), 0);
  CU_ASSERT_EQUAL(dns_cache_count(c), 0); /* expired entry dropped */

  /* TTL 0 (dnsmasq's local records) is not kept */
  s.ttl = 0;
  dns_cache_put(c, DNS_T_A, "zero.test", &s, 1000);
  CU_ASSERT_EQUAL(dns_cache_count(c), 0);
  dns_cache_free(c);
}

static void test_cache_negative(void)
{
  dns_cache_t *c = dns_cache_new(8, 30);
  dns_rrset_t nx = {DNS_NXDOMAIN, 600, 0, NULL}, out;
  dns_cache_put(c, DNS_T_NAPTR, "nowhere.test", &nx, 0);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_NAPTR, "nowhere.test", 29, &out), 1);
  CU_ASSERT_EQUAL(out.status, DNS_NXDOMAIN);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_NAPTR, "nowhere.test", 30, &out), 0);

  dns_rrset_t nodata = {DNS_NODATA, 5, 0, NULL}; /* SOA minimum below the cap */
  dns_cache_put(c, DNS_T_SRV, "_sip._tcp.x.test", &nodata, 0);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_SRV, "_sip._tcp.x.test", 4, &out), 1);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_SRV, "_sip._tcp.x.test", 5, &out), 0);

  dns_rrset_t fail = {DNS_FAIL, 600, 0, NULL};
  dns_cache_put(c, DNS_T_A, "down.test", &fail, 0);
  CU_ASSERT_EQUAL(dns_cache_count(c), 0); /* failures are never kept */
  dns_cache_free(c);
}

static void test_cache_bounded_lru(void)
{
  dns_cache_t *c = dns_cache_new(3, 30);
  dns_rrset_t nx = {DNS_NXDOMAIN, 600, 0, NULL}, out;
  dns_cache_put(c, DNS_T_A, "a.test", &nx, 0);
  dns_cache_put(c, DNS_T_A, "b.test", &nx, 0);
  dns_cache_put(c, DNS_T_A, "c.test", &nx, 0);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "a.test", 1, &out), 1); /* a is recent */
  dns_cache_put(c, DNS_T_A, "d.test", &nx, 1);                       /* evicts b */
  CU_ASSERT_EQUAL(dns_cache_count(c), 3);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "b.test", 1, &out), 0);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "a.test", 1, &out), 1);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "c.test", 1, &out), 1);
  CU_ASSERT_EQUAL(dns_cache_get(c, DNS_T_A, "d.test", 1, &out), 1);
  dns_cache_put(c, DNS_T_A, "d.test", &nx, 2); /* replacing does not grow */
  CU_ASSERT_EQUAL(dns_cache_count(c), 3);
  dns_cache_free(c);

  c = dns_cache_new(0, 30);
  dns_cache_put(c, DNS_T_A, "a.test", &nx, 0);
  CU_ASSERT_EQUAL(dns_cache_count(c), 0);
  dns_cache_free(c);
}

/* ---- lookups with a fake answer source --------------------------------------- */

typedef struct fake_answer {
  unsigned type;
  const char *name;
  dns_status_t status;
  dns_rr_t rr[4];
  size_t n;
} fake_answer_t;

typedef struct fake {
  const fake_answer_t *answers;
  size_t nanswers;
  int async;            /* hold answers until fake_flush() */
  dns_slot_t *held[32];
  size_t nheld;
  char log[1024];       /* "NAPTR biloxi.test, SRV _sip._udp..." */
  unsigned cancels;
  unsigned queries;
} fake_t;

static const char *type_name(unsigned t)
{
  return t == DNS_T_NAPTR ? "NAPTR"
         : t == DNS_T_SRV ? "SRV"
         : t == DNS_T_A   ? "A"
                          : "AAAA";
}

static void fake_answer(fake_t *f, dns_slot_t *slot)
{
  dns_rrset_t set = {DNS_NXDOMAIN, 60, 0, NULL};
  for (size_t i = 0; i < f->nanswers; i++) {
    const fake_answer_t *a = &f->answers[i];
    if (a->type == slot->type && strcmp(a->name, slot->name) == 0) {
      set.status = a->status;
      set.n = a->n;
      set.rr = a->n ? malloc(a->n * sizeof *set.rr) : NULL;
      if (a->n)
        memcpy(set.rr, a->rr, a->n * sizeof *set.rr);
    }
  }
  dns_slot_answer(slot, &set);
}

static int fake_query(void *ctx, dns_slot_t *slot)
{
  fake_t *f = ctx;
  size_t len = strlen(f->log);
  f->queries++;
  snprintf(f->log + len, sizeof f->log - len, "%s%s %s", len ? ", " : "",
           type_name(slot->type), slot->name);
  if (f->async)
    f->held[f->nheld++] = slot;
  else
    fake_answer(f, slot);
  return 0;
}

static void fake_cancel(void *ctx, dns_slot_t *slot)
{
  fake_t *f = ctx;
  for (size_t i = 0; i < f->nheld; i++)
    if (f->held[i] == slot) {
      f->held[i] = NULL;
      f->cancels++;
    }
}

/* Answers what is held now, in order; queries these answers cause wait
 * for the next flush, as the next round trip would. */
static void fake_flush(fake_t *f)
{
  size_t n = f->nheld;
  for (size_t i = 0; i < n; i++) {
    dns_slot_t *s = f->held[i];
    if (s) {
      f->held[i] = NULL;
      fake_answer(f, s);
    }
  }
}

typedef struct result {
  int calls;
  dns_status_t status;
  dns_targets_t t;
} result_t;

static void on_done(void *arg, dns_status_t status, const dns_targets_t *t)
{
  result_t *r = arg;
  r->calls++;
  r->status = status;
  r->t = *t;
}

/* A lookup reading src, with f behind it (maybe not reached at all). */
static result_t run_lookup_on(const dns_source_t *src, fake_t *f,
                              const char *uri, unsigned mask)
{
  static unsigned zero[] = {0, 0, 0, 0, 0, 0, 0, 0};
  script_rand_t sr = {zero, 8, 0};
  dns_lookup_opts_t o = {mask, 0, rand_scripted, &sr};
  dns_uri_t u;
  result_t r = {0};
  CU_ASSERT_EQUAL_FATAL(parse(uri, &u), 0);
  dns_lookup_t *lk = dns_lookup_new(src, &o, &u, on_done, &r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(lk);
  dns_lookup_run(lk);
  fake_flush(f);
  fake_flush(f); /* each flush may issue the next step's queries */
  fake_flush(f);
  CU_ASSERT_EQUAL(r.calls, 1);
  return r;
}

static result_t run_lookup(fake_t *f, const char *uri, unsigned mask)
{
  dns_source_t src = {fake_query, fake_cancel, f};
  return run_lookup_on(&src, f, uri, mask);
}

/* The trapezoid test's zone: NAPTR -> SRV (dead target first) -> A. */
static const fake_answer_t biloxi[] = {
    {DNS_T_NAPTR, "biloxi.test", DNS_OK,
     {{.type = DNS_T_NAPTR,
       .u.naptr = {10, 10, "s", "SIP+D2U", "_sip._udp.biloxi.test"}},
      {.type = DNS_T_NAPTR,
       .u.naptr = {20, 10, "s", "SIP+D2T", "_sip._tcp.biloxi.test"}}},
     2},
    {DNS_T_SRV, "_sip._udp.biloxi.test", DNS_OK,
     {{.type = DNS_T_SRV, .u.srv = {20, 0, 5080, "p2.biloxi.test"}},
      {.type = DNS_T_SRV, .u.srv = {10, 0, 5999, "dead.biloxi.test"}}},
     2},
    {DNS_T_SRV, "_sip._tcp.biloxi.test", DNS_NODATA, {{0}}, 0},
    {DNS_T_A, "p2.biloxi.test", DNS_OK, {{.type = DNS_T_A, .u.addr = "127.0.0.1"}}, 1},
    {DNS_T_A, "dead.biloxi.test", DNS_OK, {{.type = DNS_T_A, .u.addr = "127.0.0.2"}}, 1},
    {DNS_T_A, "atlanta.test", DNS_OK, {{.type = DNS_T_A, .u.addr = "127.0.0.3"}}, 1},
    {DNS_T_NAPTR, "atlanta.test", DNS_NODATA, {{0}}, 0},
    {DNS_T_NAPTR, "down.test", DNS_FAIL, {{0}}, 0},
    {DNS_T_NAPTR, "nosip.test", DNS_OK, {{0}}, 0},
    {DNS_T_SRV, "_sip._udp.nosip.test", DNS_OK,
     {{.type = DNS_T_SRV, .u.srv = {0, 0, 0, "."}}}, 1},
};

/* A fake answering from biloxi[], at once or when flushed (async). */
static fake_t fake_biloxi(int async)
{
  return (fake_t){.answers = biloxi,
                  .nanswers = sizeof biloxi / sizeof biloxi[0],
                  .async = async};
}

static void test_lookup_full_chain(void)
{
  for (int async = 0; async <= 1; async++) {
    fake_t f = fake_biloxi(async);
    result_t r = run_lookup(&f, "sip:bob@biloxi.test", DNS_TP_UDP | DNS_TP_TCP);
    CU_ASSERT_EQUAL(r.status, DNS_OK);
    CU_ASSERT_EQUAL_FATAL(r.t.n, 2);
    CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.2:5999;transport=udp");
    CU_ASSERT_STRING_EQUAL(r.t.uri[1], "sip:127.0.0.1:5080;transport=udp");
    CU_ASSERT_STRING_EQUAL(f.log, "NAPTR biloxi.test, SRV _sip._udp.biloxi.test, "
                                  "SRV _sip._tcp.biloxi.test, A dead.biloxi.test, "
                                  "A p2.biloxi.test");
  }
}

static void test_lookup_nxdomain_stops(void)
{
  fake_t f = fake_biloxi(0);
  result_t r = run_lookup(&f, "sip:x@nowhere.test", DNS_TP_UDP);
  CU_ASSERT_EQUAL(r.status, DNS_NXDOMAIN);
  CU_ASSERT_EQUAL(r.t.n, 0);
  CU_ASSERT_STRING_EQUAL(f.log, "NAPTR nowhere.test");
}

static void test_lookup_fallbacks_to_a(void)
{
  /* no NAPTR, no SRV: A of the domain, port 5060, UDP */
  fake_t f = fake_biloxi(0);
  result_t r = run_lookup(&f, "sip:alice@atlanta.test", DNS_TP_UDP | DNS_TP_TCP);
  CU_ASSERT_EQUAL(r.status, DNS_OK);
  CU_ASSERT_EQUAL_FATAL(r.t.n, 1);
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.3:5060;transport=udp");
  CU_ASSERT_STRING_EQUAL(f.log, "NAPTR atlanta.test, SRV _sip._udp.atlanta.test, "
                                "SRV _sip._tcp.atlanta.test, A atlanta.test");
}

static void test_lookup_port_and_transport(void)
{
  fake_t f = fake_biloxi(0);
  result_t r = run_lookup(&f, "sip:p2.biloxi.test:5090;transport=tcp", DNS_TP_UDP);
  CU_ASSERT_EQUAL_FATAL(r.t.n, 1); /* explicit port: A only */
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.1:5090;transport=tcp");
  CU_ASSERT_STRING_EQUAL(f.log, "A p2.biloxi.test");

  fake_t g = fake_biloxi(0);
  r = run_lookup(&g, "sip:biloxi.test;transport=udp", DNS_TP_UDP);
  CU_ASSERT_EQUAL(r.t.n, 2); /* transport given: no NAPTR */
  CU_ASSERT_EQUAL(strncmp(g.log, "SRV _sip._udp.biloxi.test", 25), 0);

  fake_t h = fake_biloxi(0);
  r = run_lookup(&h, "sips:bob@192.0.2.1", DNS_TP_UDP);
  CU_ASSERT_EQUAL_FATAL(r.t.n, 1); /* numeric: no DNS at all */
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:192.0.2.1:5061;transport=tls");
  CU_ASSERT_STRING_EQUAL(h.log, "");
}

static void test_lookup_failures(void)
{
  fake_t f = fake_biloxi(0);
  result_t r = run_lookup(&f, "sip:down.test", DNS_TP_UDP);
  CU_ASSERT_EQUAL(r.status, DNS_FAIL); /* a timeout is not "no such domain" */

  fake_t g = fake_biloxi(0);
  r = run_lookup(&g, "sip:nosip.test", DNS_TP_UDP);
  CU_ASSERT_EQUAL(r.status, DNS_NXDOMAIN); /* SRV "." : no SIP here, no A */
  CU_ASSERT_STRING_EQUAL(g.log, "NAPTR nosip.test, SRV _sip._udp.nosip.test");
}

static void test_lookup_cancel(void)
{
  fake_t f = fake_biloxi(1);
  dns_source_t src = {fake_query, fake_cancel, &f};
  script_rand_t sr = {NULL, 0, 0};
  dns_lookup_opts_t o = {DNS_TP_UDP | DNS_TP_TCP, 1, rand_scripted, &sr};
  dns_uri_t u;
  result_t r = {0};
  parse("sip:bob@biloxi.test", &u);
  dns_lookup_t *lk = dns_lookup_new(&src, &o, &u, on_done, &r);
  dns_lookup_run(lk);
  fake_flush(&f); /* NAPTR answered: two SRV queries now pending */
  CU_ASSERT_EQUAL(f.nheld, 3);
  dns_lookup_cancel(lk);
  CU_ASSERT_EQUAL(f.cancels, 2);
  CU_ASSERT_EQUAL(r.calls, 0);
}

/* ---- the static zone ------------------------------------------------------------ */

/* dns.zone_add with params as JSON text: 0 or the JSON-RPC error code. */
static int zone_add(dns_zone_t *z, const char *json)
{
  char err[200];
  tz_json_t *j = tz_json_parse(json, strlen(json), err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  err[0] = '\0';
  int rc = dns_zone_add_json(z, j, err, sizeof err);
  CU_ASSERT(rc == 0 ? !err[0] : err[0] != '\0'); /* an error says why */
  tz_json_free(j);
  return rc;
}

/* The trapezoid test's zone as fixtures would give it: names in any case,
 * with and without the final dot, numbers as JSON or as text (tzctl). */
static const char *const biloxi_zone[] = {
    "{\"type\":\"NAPTR\",\"name\":\"Biloxi.Test.\",\"order\":10,\"preference\":10,"
    "\"flags\":\"s\",\"service\":\"SIP+D2U\",\"regexp\":\"\","
    "\"replacement\":\"_sip._udp.biloxi.test\"}",
    "{\"type\":\"naptr\",\"name\":\"biloxi.test\",\"order\":20,\"preference\":10,"
    "\"flags\":\"s\",\"service\":\"SIP+D2T\",\"regexp\":\"\","
    "\"replacement\":\"_sip._tcp.biloxi.test.\"}",
    "{\"type\":\"SRV\",\"name\":\"_sip._udp.biloxi.test\",\"priority\":20,"
    "\"weight\":0,\"port\":5080,\"target\":\"p2.biloxi.test\"}",
    "{\"type\":\"SRV\",\"name\":\"_SIP._UDP.biloxi.test\",\"priority\":\"10\","
    "\"weight\":\"0\",\"port\":\"5999\",\"target\":\"dead.biloxi.test.\"}",
    "{\"type\":\"A\",\"name\":\"p2.biloxi.test\",\"address\":\"127.0.0.1\"}",
    "{\"type\":\"A\",\"name\":\"DEAD.biloxi.test.\",\"address\":\"127.0.0.2\","
    "\"ttl\":60}",
    "{\"type\":\"A\",\"name\":\"atlanta.test\",\"address\":\"127.0.0.3\"}",
    "{\"type\":\"AAAA\",\"name\":\"atlanta.test\",\"address\":\"::1\"}",
    /* SRV only: chicago.test itself has no records */
    "{\"type\":\"SRV\",\"name\":\"_sip._tcp.chicago.test\",\"priority\":0,"
    "\"weight\":0,\"port\":5070,\"target\":\"atlanta.test\"}",
    "{\"type\":\"NXDOMAIN\",\"name\":\"nowhere.test\"}",
};

static dns_zone_t *zone_biloxi(void)
{
  dns_zone_t *z = dns_zone_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(z);
  for (size_t i = 0; i < sizeof biloxi_zone / sizeof biloxi_zone[0]; i++)
    CU_ASSERT_EQUAL(zone_add(z, biloxi_zone[i]), 0);
  return z;
}

static void test_zone_answers(void)
{
  dns_zone_t *z = zone_biloxi();
  dns_rrset_t s;
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_A, "dead.biloxi.test", 1, &s), 1);
  CU_ASSERT(s.status == DNS_OK && s.n == 1 && s.ttl == 60);
  CU_ASSERT_STRING_EQUAL(s.rr[0].u.addr, "127.0.0.2");
  dns_rrset_clear(&s);

  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_SRV, "_sip._udp.biloxi.test.", 1, &s), 1);
  CU_ASSERT_EQUAL_FATAL(s.n, 2);
  CU_ASSERT(s.rr[1].type == DNS_T_SRV && s.rr[1].u.srv.prio == 10 &&
            s.rr[1].u.srv.port == 5999 && s.ttl == 3600); /* the default */
  CU_ASSERT_STRING_EQUAL(s.rr[1].u.srv.target, "dead.biloxi.test.");
  dns_rrset_clear(&s);

  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_NAPTR, "BILOXI.test", 1, &s), 1);
  CU_ASSERT_EQUAL_FATAL(s.n, 2);
  CU_ASSERT(s.rr[0].u.naptr.order == 10 && s.rr[0].u.naptr.pref == 10);
  CU_ASSERT_STRING_EQUAL(s.rr[0].u.naptr.flags, "s");
  CU_ASSERT_STRING_EQUAL(s.rr[0].u.naptr.services, "SIP+D2U");
  CU_ASSERT_STRING_EQUAL(s.rr[1].u.naptr.replace, "_sip._tcp.biloxi.test.");
  dns_rrset_clear(&s);

  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_AAAA, "atlanta.test", 1, &s), 1);
  CU_ASSERT_STRING_EQUAL(s.rr[0].u.addr, "::1");
  dns_rrset_clear(&s);
  dns_zone_free(z);
}

static void test_zone_negative(void)
{
  dns_zone_t *z = zone_biloxi();
  dns_rrset_t s;
  static const unsigned types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_SRV, DNS_T_NAPTR};
  for (size_t i = 0; i < 4; i++) { /* zone-only or not: the mark answers */
    CU_ASSERT_EQUAL(dns_zone_answer(z, types[i], "Nowhere.Test.", (int)i % 2, &s), 1);
    CU_ASSERT_EQUAL(s.status, DNS_NXDOMAIN);
  }
  /* zone-only: a type the name lacks, a name with records below it */
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_NAPTR, "atlanta.test", 1, &s), 1);
  CU_ASSERT_EQUAL(s.status, DNS_NODATA);
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_NAPTR, "chicago.test", 1, &s), 1);
  CU_ASSERT_EQUAL(s.status, DNS_NODATA);
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_A, "elsewhere.test", 1, &s), 1);
  CU_ASSERT_EQUAL(s.status, DNS_NXDOMAIN);
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_A, "o.chicago.test", 1, &s), 1);
  CU_ASSERT_EQUAL(s.status, DNS_NXDOMAIN); /* below a name is not above it */
  /* not zone-only: neither is the zone's to say */
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_NAPTR, "atlanta.test", 0, &s), 0);
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_A, "elsewhere.test", 0, &s), 0);
  dns_zone_free(z);
}

/* The zone-only source with a fake behind it that must never be asked. */
static result_t zone_lookup(dns_zone_t *z, int only, fake_t *f, const char *uri)
{
  dns_source_t next = {fake_query, fake_cancel, f};
  dns_zone_source_t zs;
  dns_zone_source_init(&zs, z, &next, only);
  return run_lookup_on(&zs.src, f, uri, DNS_TP_UDP | DNS_TP_TCP);
}

static void test_zone_lookup_chain(void)
{
  dns_zone_t *z = zone_biloxi();
  fake_t f = fake_biloxi(0);
  result_t r = zone_lookup(z, 1, &f, "sip:bob@biloxi.test");
  CU_ASSERT_EQUAL(r.status, DNS_OK);
  CU_ASSERT_EQUAL_FATAL(r.t.n, 2);
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.2:5999;transport=udp");
  CU_ASSERT_STRING_EQUAL(r.t.uri[1], "sip:127.0.0.1:5080;transport=udp");

  r = zone_lookup(z, 1, &f, "sip:alice@atlanta.test"); /* NODATA, on to A */
  CU_ASSERT_EQUAL_FATAL(r.t.n, 1);
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.3:5060;transport=udp");

  r = zone_lookup(z, 1, &f, "sip:carol@chicago.test"); /* NAPTR: NODATA */
  CU_ASSERT_EQUAL_FATAL(r.t.n, 1);
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.3:5070;transport=tcp");
  CU_ASSERT_EQUAL(f.queries, 0);
  dns_zone_free(z);
}

static void test_zone_only_nxdomain(void)
{
  dns_zone_t *z = zone_biloxi();
  fake_t f = fake_biloxi(0);
  CU_ASSERT_EQUAL(zone_lookup(z, 1, &f, "sip:x@nowhere.test").status, DNS_NXDOMAIN);
  /* the fake would time out on down.test; zone-only never asks it */
  CU_ASSERT_EQUAL(zone_lookup(z, 1, &f, "sip:down.test").status, DNS_NXDOMAIN);
  CU_ASSERT_EQUAL(zone_lookup(z, 1, &f, "sip:x@unknown.test").status, DNS_NXDOMAIN);
  CU_ASSERT_EQUAL(f.queries, 0);
  CU_ASSERT_STRING_EQUAL(f.log, "");
  dns_zone_free(z);
}

/* Not zone-only: the zone overrides the types it has, the rest is asked. */
static void test_zone_in_front(void)
{
  dns_zone_t *z = dns_zone_new();
  CU_ASSERT_EQUAL(zone_add(z, "{\"type\":\"A\",\"name\":\"P2.biloxi.test\","
                              "\"address\":\"192.0.2.9\"}"), 0);
  fake_t f = fake_biloxi(0);
  result_t r = zone_lookup(z, 0, &f, "sip:bob@biloxi.test");
  CU_ASSERT_EQUAL_FATAL(r.t.n, 2);
  CU_ASSERT_STRING_EQUAL(r.t.uri[0], "sip:127.0.0.2:5999;transport=udp");
  CU_ASSERT_STRING_EQUAL(r.t.uri[1], "sip:192.0.2.9:5080;transport=udp");
  CU_ASSERT_STRING_EQUAL(f.log, "NAPTR biloxi.test, SRV _sip._udp.biloxi.test, "
                                "SRV _sip._tcp.biloxi.test, A dead.biloxi.test");

  /* a query pending in the next source is cancelled there */
  fake_t g = fake_biloxi(1);
  dns_source_t next = {fake_query, fake_cancel, &g};
  dns_zone_source_t zs;
  dns_zone_source_init(&zs, z, &next, 0);
  script_rand_t sr = {NULL, 0, 0};
  dns_lookup_opts_t o = {DNS_TP_UDP, 0, rand_scripted, &sr};
  dns_uri_t u;
  result_t none = {0};
  parse("sip:bob@biloxi.test", &u);
  dns_lookup_t *lk = dns_lookup_new(&zs.src, &o, &u, on_done, &none);
  dns_lookup_run(lk);
  dns_lookup_cancel(lk);
  CU_ASSERT(g.cancels == 1 && none.calls == 0);
  dns_zone_free(z);
}

static void test_zone_bad_params(void)
{
  static const char *const bad[] = {
      "{\"name\":\"a.test\",\"address\":\"127.0.0.1\"}", /* no type */
      "{\"type\":\"MX\",\"name\":\"a.test\"}",
      "{\"type\":\"A\",\"address\":\"127.0.0.1\"}", /* no name */
      "{\"type\":\"A\",\"name\":\"\",\"address\":\"127.0.0.1\"}",
      "{\"type\":\"A\",\"name\":\"a.test\",\"address\":\"::1\"}",
      "{\"type\":\"AAAA\",\"name\":\"a.test\",\"address\":\"127.0.0.1\"}",
      "{\"type\":\"A\",\"name\":\"a.test\",\"address\":\"localhost\"}",
      "{\"type\":\"A\",\"name\":\"a.test\",\"address\":\"127.0.0.1\",\"ttl\":-1}",
      "{\"type\":\"A\",\"name\":\"a.test\",\"address\":\"127.0.0.1\",\"ttl\":1.5}",
      "{\"type\":\"SRV\",\"name\":\"_sip._udp.a.test\",\"priority\":1,"
      "\"weight\":1,\"port\":70000,\"target\":\"a.test\"}",
      "{\"type\":\"SRV\",\"name\":\"_sip._udp.a.test\",\"priority\":\"x\","
      "\"weight\":1,\"port\":5060,\"target\":\"a.test\"}",
      "{\"type\":\"SRV\",\"name\":\"_sip._udp.a.test\",\"priority\":1,"
      "\"weight\":1,\"port\":5060}",
      "{\"type\":\"NAPTR\",\"name\":\"a.test\",\"order\":1,\"preference\":1,"
      "\"flags\":\"sssssssss\",\"service\":\"SIP+D2U\",\"regexp\":\"\","
      "\"replacement\":\"_sip._udp.a.test\"}",
      "{\"type\":\"NAPTR\",\"name\":\"a.test\",\"order\":1,\"preference\":1,"
      "\"flags\":\"s\",\"service\":\"SIP+D2U\",\"replacement\":\"x\"}",
  };
  dns_zone_t *z = dns_zone_new();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CU_ASSERT_EQUAL(zone_add(z, bad[i]), -32602);
  /* records and NXDOMAIN on one name are refused, in either order */
  CU_ASSERT_EQUAL(zone_add(z, "{\"type\":\"NXDOMAIN\",\"name\":\"a.test\"}"), 0);
  CU_ASSERT_EQUAL(zone_add(z, "{\"type\":\"A\",\"name\":\"A.test.\","
                              "\"address\":\"127.0.0.1\"}"), -32000);
  CU_ASSERT_EQUAL(zone_add(z, "{\"type\":\"A\",\"name\":\"b.test\","
                              "\"address\":\"127.0.0.1\"}"), 0);
  CU_ASSERT_EQUAL(zone_add(z, "{\"type\":\"NXDOMAIN\",\"name\":\"b.test\"}"), -32000);
  CU_ASSERT_EQUAL(dns_zone_clear(z), 2); /* nothing bad was added */
  dns_zone_free(z);
}

/* zone_show writes what zone_add reads: adding it again gives the same. */
static void test_zone_show_and_clear(void)
{
  dns_zone_t *z = zone_biloxi(), *again = dns_zone_new();
  tz_jbuf_t b, c;
  tz_jbuf_init(&b);
  tz_jbuf_init(&c);
  dns_zone_write_json(z, &b);
  char err[200];
  tz_json_t *j = tz_json_parse(b.s, b.len, err, sizeof err);
  CU_ASSERT_EQUAL_FATAL(tz_json_len(j), sizeof biloxi_zone / sizeof biloxi_zone[0]);
  const tz_json_t *dead = tz_json_at(j, 5);
  CU_ASSERT_STRING_EQUAL(tz_json_str(tz_json_get(dead, "name")), "dead.biloxi.test");
  CU_ASSERT_EQUAL(tz_json_num(tz_json_get(dead, "ttl")), 60);
  for (size_t i = 0; i < tz_json_len(j); i++)
    CU_ASSERT_EQUAL(dns_zone_add_json(again, tz_json_at(j, i), err, sizeof err), 0);
  dns_zone_write_json(again, &c);
  CU_ASSERT_STRING_EQUAL(b.s, c.s);
  CU_ASSERT_EQUAL(dns_zone_clear(z), tz_json_len(j));
  dns_rrset_t s;
  CU_ASSERT_EQUAL(dns_zone_answer(z, DNS_T_A, "p2.biloxi.test", 0, &s), 0);
  tz_json_free(j);
  tz_jbuf_free(&b);
  tz_jbuf_free(&c);
  dns_zone_free(z);
  dns_zone_free(again);
}

static const tz_unit_test_t select_tests[] = {
    {"URI parts for RFC 3263", test_uri_parse},
    {"transport lists", test_tp_mask},
    {"NAPTR order, services, sips", test_naptr_order_and_services},
    {"SRV names without NAPTR", test_srv_names_without_naptr},
    {"SRV by priority", test_srv_priority_first},
    {"SRV weighted choice (RFC 2782)", test_srv_weighted_choice},
    {"SRV weight distribution", test_srv_weight_distribution},
    {"SRV target \".\"", test_srv_not_offered},
    {"SRV output bounded", test_srv_bounded},
    {"targets: format, duplicates, bound", test_targets},
    {NULL, NULL}};

static const tz_unit_test_t cache_tests[] = {
    {"TTL expiry and keys", test_cache_ttl},
    {"negative answers and failures", test_cache_negative},
    {"bounded, least recently used goes", test_cache_bounded_lru},
    {NULL, NULL}};

static const tz_unit_test_t lookup_tests[] = {
    {"NAPTR, SRV, A in order", test_lookup_full_chain},
    {"NXDOMAIN stops at once", test_lookup_nxdomain_stops},
    {"no NAPTR, no SRV: A of the domain", test_lookup_fallbacks_to_a},
    {"explicit port, transport, numeric host", test_lookup_port_and_transport},
    {"timeouts and SRV \".\"", test_lookup_failures},
    {"cancel while queries are pending", test_lookup_cancel},
    {NULL, NULL}};

static const tz_unit_test_t zone_tests[] = {
    {"A, AAAA, SRV, NAPTR; case and final dot", test_zone_answers},
    {"NXDOMAIN marks, NODATA, empty non-terminals", test_zone_negative},
    {"RFC 3263 from zone records only", test_zone_lookup_chain},
    {"zone-only: unknown names never reach the resolver", test_zone_only_nxdomain},
    {"in front of the resolver: overrides, cancel", test_zone_in_front},
    {"zone_add: invalid params and conflicts", test_zone_bad_params},
    {"zone_show round trip, zone_clear", test_zone_show_and_clear},
    {NULL, NULL}};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
      {"dns selection", select_tests, NULL, NULL},
      {"dns cache", cache_tests, NULL, NULL},
      {"dns lookup", lookup_tests, NULL, NULL},
      {"dns zone", zone_tests, NULL, NULL},
      {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
