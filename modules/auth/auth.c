/*
 * auth.c - the auth module: digest authentication of requests (RFC 2617,
 * RFC 7616; MD5 and SHA-256, qop=auth) against the subscriber table, the
 * 401/407 challenges, the trusted-peer list that lets the script refuse to
 * be an open relay, and the auth.subscriber_* control commands.
 *
 * Script functions return Kamailio's auth_db codes, so scripts can tell
 * why a request failed: 1 ok, -1 error (malformed credentials, wrong uri,
 * algorithm not offered), -2 wrong password, -3 unknown user, -4 stale
 * nonce, -5 no credentials, -6 nonce reused, -8 user is not the one the
 * request claims to be.
 *
 * Locking rule: the script functions run in every worker at once. The
 * nonce table locks itself (auth_nonce.c). An instance's subscriber cache
 * is read under its subs_lock by requests and changed under it by the
 * commands, in worker 0; worker 0, its only writer, reads it unlocked.
 * auth_insts and the nonce table's reference count belong to worker 0
 * (init, destroy, commands). What consume_credentials() needs is per
 * thread. Everything else of an instance is fixed at init.
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include <trapezoid/trapezoid.h>
#include <trapezoid/json.h>
#include "auth.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <sofia-sip/auth_digest.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

enum {
  AUTH_OK = 1,
  AUTH_ERROR = -1,
  AUTH_BAD_PASSWORD = -2,
  AUTH_USER_UNKNOWN = -3,
  AUTH_STALE = -4,
  AUTH_NO_CREDENTIALS = -5,
  AUTH_NONCE_REUSED = -6,
  AUTH_USER_MISMATCH = -8
};

typedef struct auth_cfg {
  char *db_path;
  char *algorithms;
  char *trusted;
  long nonce_expires;
  long nonce_slots;
  long calculate_ha1;
  long qop_optional;
  long check_identity;
} auth_cfg_t;

typedef struct auth_inst {
  struct auth_inst *next; /* in auth_insts */
  tz_modinst_t *mod;
  const auth_cfg_t *cfg;
  auth_alg_t offer[AUTH_NALGS]; /* algorithms challenged with, preferred first */
  size_t noffer;
  auth_trusted_t trusted;
  pthread_rwlock_t subs_lock; /* guards subs; see the locking rule */
  auth_subs_t subs;
  tz_stat_t *st_ok, *st_challenges, *st_failed, *st_stale;
} auth_inst_t;

/* The credentials the last successful *_authorize() in this thread used,
 * for consume_credentials(): a request runs in one worker's thread from
 * start to end, so this is the request's. Checked against the instance
 * and the message before use. */
static _Thread_local struct auth_used {
  const auth_inst_t *in;
  const sip_t *sip;
  msg_header_t *hdr;
} auth_used;

/* Every live instance: a subscriber change updates each cache on its
 * db_path, whichever generation it serves. Worker 0's alone. */
static auth_inst_t *auth_insts;

/* Nonce state, shared by all instances so that a script reload does not
 * make every outstanding nonce unknown, and by all workers so that a
 * retry may reach another worker than its challenge. Made by the first
 * instance; the table locks itself, the count is worker 0's. */
static auth_nonces_t auth_nonces;
static unsigned auth_nonces_refs;

/* ---- helpers ---------------------------------------------------------------- */

static auth_inst_t *auth_inst(tz_modinst_t *mod) { return tz_mod_data(mod); }

static uint64_t auth_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec;
}

/* Identifies one request, so a retransmission of it may use its nonce-count
 * again: Call-ID, CSeq and the top Via branch. */
static uint32_t auth_request_id(const sip_t *sip)
{
  uint32_t h = 2166136261u;
  const char *parts[] = {sip->sip_call_id ? sip->sip_call_id->i_id : "",
                         sip->sip_via && sip->sip_via->v_branch
                             ? sip->sip_via->v_branch
                             : ""};
  for (size_t i = 0; i < 2; i++)
    for (const char *p = parts[i]; *p; p++)
      h = (h ^ (unsigned char)*p) * 16777619u;
  return h ^ (sip->sip_cseq ? sip->sip_cseq->cs_seq : 0);
}

/* The realm: the argument, or the To host for www (REGISTER) and the From
 * host for proxy authentication, as Kamailio does. NULL if there is none
 * or it cannot be quoted as is. */
static const char *auth_realm(tz_msg_t *m, const tz_call_t *c, int proxy)
{
  sip_t *sip = tz_msg_sip(m);
  const char *r = c->argc > 0 && c->argv[0].s ? c->argv[0].s : "";
  if (!*r) {
    const sip_addr_t *a = proxy ? sip->sip_from : sip->sip_to;
    r = a && a->a_url->url_host ? a->a_url->url_host : "";
  }
  return *r && !strpbrk(r, "\"\\\r\n") ? r : NULL;
}

static int auth_offered(const auth_inst_t *in, auth_alg_t alg)
{
  for (size_t i = 0; i < in->noffer; i++)
    if (in->offer[i] == alg)
      return 1;
  return 0;
}

/* ---- verification ----------------------------------------------------------- */

typedef struct auth_creds {
  msg_header_t *hdr;
  auth_response_t ar;
  auth_alg_t alg;
  uint32_t nc;
} auth_creds_t;

/* The Digest credentials for realm, parsed into cr. */
static int auth_creds_find(tz_msg_t *m, int proxy, const char *realm,
                           auth_creds_t *cr)
{
  sip_t *sip = tz_msg_sip(m);
  msg_auth_t *au = proxy ? sip->sip_proxy_authorization
                         : sip->sip_authorization;
  for (; au; au = au->au_next) {
    memset(&cr->ar, 0, sizeof cr->ar);
    cr->ar.ar_size = sizeof cr->ar;
    if (au->au_scheme && strcasecmp(au->au_scheme, "Digest") == 0 &&
        auth_digest_response_get(tz_msg_home(m), &cr->ar, au->au_params) >=
            0 &&
        cr->ar.ar_realm && strcasecmp(cr->ar.ar_realm, realm) == 0) {
      cr->hdr = (msg_header_t *)au;
      return 0;
    }
  }
  return -1;
}

/* The digest uri must be the Request-URI. Two URIs that both name this
 * server without a user (a REGISTER's domain, our own address) count as
 * the same: clients that register through us as their outbound proxy
 * (SIPp among them) put the proxy's address in the digest uri. */
static int auth_uri_matches(tz_msg_t *m, const char *uri)
{
  const url_t *rq = tz_msg_sip(m)->sip_request->rq_url;
  url_t *u = url_make(tz_msg_home(m), uri);
  return u && (url_cmp_all(u, rq) == 0 ||
               (!u->url_user && !rq->url_user && tz_is_myself(u) &&
                tz_is_myself(rq)));
}

/* Checks the form of the credentials: fields present, an algorithm we
 * offer, qop=auth with nc and cnonce (or no qop when allowed), and a uri
 * that is the Request-URI (RFC 7616 3.4.6). */
static int auth_creds_valid(const auth_inst_t *in, tz_msg_t *m,
                            auth_creds_t *cr)
{
  const auth_response_t *ar = &cr->ar;
  if (!ar->ar_username || !ar->ar_nonce || !ar->ar_uri || !ar->ar_response ||
      auth_alg_parse(ar->ar_algorithm, &cr->alg) < 0 ||
      !auth_offered(in, cr->alg))
    return -1;
  if (ar->ar_qop) {
    char *end;
    if (strcasecmp(ar->ar_qop, "auth") != 0 || !ar->ar_cnonce || !ar->ar_nc ||
        strlen(ar->ar_nc) != 8)
      return -1;
    unsigned long nc = strtoul(ar->ar_nc, &end, 16);
    if (*end || nc == 0)
      return -1;
    cr->nc = (uint32_t)nc;
  } else if (in->cfg->qop_optional) {
    cr->nc = 1; /* a nonce without qop is good for one request */
  } else {
    return -1;
  }
  return auth_uri_matches(m, ar->ar_uri) ? 0 : -1;
}

/* Whether the response is right for the subscriber's password. */
static int auth_response_ok(const auth_inst_t *in, tz_msg_t *m,
                            const auth_creds_t *cr, const auth_sub_t *sub,
                            const char *realm)
{
  char ha1[AUTH_HEX_MAX], expect[AUTH_HEX_MAX];
  const auth_response_t *ar = &cr->ar;
  if (in->cfg->calculate_ha1 || !*sub->ha1[cr->alg]) {
    if (!*sub->password)
      return 0;
    auth_calc_ha1(cr->alg, ar->ar_username, realm, sub->password, ha1);
  } else {
    snprintf(ha1, sizeof ha1, "%s", sub->ha1[cr->alg]);
  }
  auth_calc_in_t din = {cr->alg,   ha1,        ar->ar_nonce,
                          ar->ar_nc, ar->ar_cnonce, ar->ar_qop,
                          tz_msg_sip(m)->sip_request->rq_method_name,
                          ar->ar_uri};
  auth_calc_response(&din, expect);
  return auth_calc_equal(expect, ar->ar_response);
}

/* Once the response is right: is the nonce still good for this request?
 * Records the nonce-count when commit is set. */
static int auth_nonce_ok(const auth_inst_t *in, tz_msg_t *m,
                         const auth_creds_t *cr, int commit)
{
  uint32_t index;
  auth_nonce_status_t s =
      auth_nonce_check(&auth_nonces, cr->ar.ar_nonce, auth_now(),
                       (unsigned)in->cfg->nonce_expires, &index);
  if (s == AUTH_NONCE_OK)
    s = auth_nonce_use(&auth_nonces, index, cr->nc,
                       auth_request_id(tz_msg_sip(m)), commit);
  /* A nonce we cannot use with a right response is stale, also one made
   * before a restart: the client knows the password and needs only a new
   * nonce (RFC 7616 3.3, stale). */
  return s == AUTH_NONCE_OK      ? AUTH_OK
         : s == AUTH_NONCE_REPLAY ? AUTH_NONCE_REUSED
                                  : AUTH_STALE;
}

/* The request's user (To for www, From for proxy) must be the one who
 * authenticated, or alice could register as bob with her own password. */
static int auth_identity_ok(const auth_inst_t *in, tz_msg_t *m, int proxy,
                            const char *username)
{
  sip_t *sip = tz_msg_sip(m);
  const sip_addr_t *a = proxy ? sip->sip_from : sip->sip_to;
  return !in->cfg->check_identity ||
         (a && a->a_url->url_user && strcmp(a->a_url->url_user, username) == 0);
}

/* The subscriber and the response checked against its password, under
 * the cache's read lock: a command may replace the entry meanwhile. */
static int auth_password_ok(auth_inst_t *in, tz_msg_t *m,
                            const auth_creds_t *cr, const char *realm)
{
  pthread_rwlock_rdlock(&in->subs_lock);
  const auth_sub_t *sub = auth_subs_find(&in->subs, cr->ar.ar_username, realm);
  int rc = !sub                                    ? AUTH_USER_UNKNOWN
           : auth_response_ok(in, m, cr, sub, realm) ? AUTH_OK
                                                     : AUTH_BAD_PASSWORD;
  pthread_rwlock_unlock(&in->subs_lock);
  return rc;
}

static int auth_verify(auth_inst_t *in, tz_msg_t *m, int proxy,
                       const char *realm, int commit, auth_creds_t *cr)
{
  if (auth_creds_find(m, proxy, realm, cr) < 0)
    return AUTH_NO_CREDENTIALS;
  if (auth_creds_valid(in, m, cr) < 0)
    return AUTH_ERROR;
  int rc = auth_password_ok(in, m, cr, realm);
  if (rc == AUTH_OK)
    rc = auth_nonce_ok(in, m, cr, commit);
  if (rc == AUTH_OK && !auth_identity_ok(in, m, proxy, cr->ar.ar_username))
    return AUTH_USER_MISMATCH;
  return rc;
}

/* ---- script functions -------------------------------------------------------- */

static int auth_authorize(tz_msg_t *m, const tz_call_t *c, int proxy)
{
  auth_inst_t *in = auth_inst(c->mod);
  const char *realm = auth_realm(m, c, proxy);
  auth_creds_t cr;
  int rc = realm ? auth_verify(in, m, proxy, realm, 1, &cr) : AUTH_ERROR;
  if (rc == AUTH_OK) {
    auth_used = (struct auth_used){in, tz_msg_sip(m), cr.hdr};
    tz_stat_add(in->st_ok, 1);
  } else if (rc != AUTH_NO_CREDENTIALS) {
    tz_stat_add(rc == AUTH_STALE ? in->st_stale : in->st_failed, 1);
    if (tz_log_enabled(TZ_LOG_DBG))
      tz_log(TZ_LOG_DBG, "auth: %s credentials from %s refused (%d)",
             proxy ? "proxy" : "www", tz_msg_src_ip(m), rc);
  }
  return rc;
}

static int auth_www_authorize(tz_msg_t *m, const tz_call_t *c)
{
  return auth_authorize(m, c, 0);
}

static int auth_proxy_authorize(tz_msg_t *m, const tz_call_t *c)
{
  return auth_authorize(m, c, 1);
}

/* One challenge header per algorithm offered, preferred first (RFC 7616
 * 3.7), all with the same nonce. */
static char *auth_challenge_headers(const auth_inst_t *in, su_home_t *home,
                                    int proxy, const char *realm, int stale)
{
  char nonce[AUTH_NONCE_LEN + 1];
  uint64_t salt = 0;
  /* Without entropy yet the salt stays 0: the MAC alone keeps the nonce
   * unguessable, the salt only adds to it. */
  if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) != sizeof salt)
    salt = 0;
  auth_nonce_make(&auth_nonces, auth_now(), salt, nonce);
  char *h = su_strdup(home, "");
  for (size_t i = 0; h && i < in->noffer; i++)
    h = su_sprintf(home,
                   "%s%s: Digest realm=\"%s\", nonce=\"%s\", qop=\"auth\", "
                   "algorithm=%s%s\r\n",
                   h, proxy ? "Proxy-Authenticate" : "WWW-Authenticate", realm,
                   nonce, auth_alg_name(in->offer[i]),
                   stale ? ", stale=true" : "");
  return h;
}

static int auth_challenge(tz_msg_t *m, const tz_call_t *c, int proxy)
{
  auth_inst_t *in = auth_inst(c->mod);
  const char *realm = auth_realm(m, c, proxy);
  if (!realm)
    return -1;
  auth_creds_t cr;
  int rc = auth_verify(in, m, proxy, realm, 0, &cr);
  char *hdrs = auth_challenge_headers(
      in, tz_msg_home(m), proxy, realm,
      rc == AUTH_STALE || rc == AUTH_NONCE_REUSED);
  if (!hdrs ||
      tz_msg_reply(m, proxy ? 407 : 401,
                   proxy ? "Proxy Authentication Required" : "Unauthorized",
                   hdrs) < 0)
    return -1;
  tz_stat_add(in->st_challenges, 1);
  return 1;
}

static int auth_www_challenge(tz_msg_t *m, const tz_call_t *c)
{
  return auth_challenge(m, c, 0);
}

static int auth_proxy_challenge(tz_msg_t *m, const tz_call_t *c)
{
  return auth_challenge(m, c, 1);
}

/* Removes the credentials the last successful authorize() of this request
 * checked, so they do not travel on to the next hop. */
static int auth_consume_credentials(tz_msg_t *m, const tz_call_t *c)
{
  auth_inst_t *in = auth_inst(c->mod);
  sip_t *sip = tz_msg_sip(m);
  if (auth_used.in != in || auth_used.sip != sip || !auth_used.hdr)
    return -1;
  for (int proxy = 0; proxy < 2; proxy++)
    for (msg_auth_t *au = proxy ? sip->sip_proxy_authorization
                                : sip->sip_authorization;
         au; au = au->au_next)
      if ((msg_header_t *)au == auth_used.hdr) {
        auth_used.hdr = NULL;
        return msg_header_remove(tz_msg_sofia(m), (msg_pub_t *)sip,
                                 (msg_header_t *)au) == 0
                   ? 1
                   : -1;
      }
  return -1;
}

static int auth_is_trusted(tz_msg_t *m, const tz_call_t *c)
{
  return auth_trusted_match(&auth_inst(c->mod)->trusted, tz_msg_src_ip(m))
             ? 1
             : -1;
}

/* ---- control commands --------------------------------------------------------- */

/* Commands run in worker 0 and change a cache only under its write lock. */
static int auth_cache_put(auth_inst_t *in, const auth_sub_t *sub)
{
  assert(tz_worker_self() == 0);
  pthread_rwlock_wrlock(&in->subs_lock);
  int rc = auth_subs_put(&in->subs, sub);
  pthread_rwlock_unlock(&in->subs_lock);
  return rc;
}

static void auth_cache_remove(auth_inst_t *in, const char *user,
                              const char *domain)
{
  assert(tz_worker_self() == 0);
  pthread_rwlock_wrlock(&in->subs_lock);
  auth_subs_remove(&in->subs, user, domain);
  pthread_rwlock_unlock(&in->subs_lock);
}

static const char *auth_rpc_str(const tz_json_t *params, const char *key)
{
  const char *s = tz_json_str(tz_json_get(params, key));
  return s && *s ? s : NULL;
}

static int auth_rpc_add(tz_modinst_t *mod, const tz_json_t *params,
                        tz_jbuf_t *out, char *err, size_t errlen)
{
  const char *user = auth_rpc_str(params, "username");
  const char *domain = auth_rpc_str(params, "domain");
  const char *password = auth_rpc_str(params, "password");
  auth_newsub_t n;
  if (!user || !domain || !password || strpbrk(user, "@:") ||
      auth_newsub_make(&n, user, domain, password) < 0) {
    snprintf(err, errlen, "expected {username, domain, password}: a user "
             "without '@' or ':', and all three non-empty");
    return -32602;
  }
  const char *path = auth_inst(mod)->cfg->db_path;
  if (auth_db_add(path, &n, err, errlen) < 0)
    return -32000;
  for (auth_inst_t *in = auth_insts; in; in = in->next)
    if (strcmp(in->cfg->db_path, path) == 0 &&
        auth_cache_put(in, &n.sub) < 0) {
      snprintf(err, errlen, "stored in %s, but out of memory for the cache",
               path);
      return -32000;
    }
  char msg[600];
  snprintf(msg, sizeof msg, "added %s@%s", user, n.domain);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "message");
  tz_jw_str(out, msg);
  tz_jw_obj_end(out);
  return 0;
}

static int auth_rpc_remove(tz_modinst_t *mod, const tz_json_t *params,
                           tz_jbuf_t *out, char *err, size_t errlen)
{
  const char *user = auth_rpc_str(params, "username");
  const char *domain = auth_rpc_str(params, "domain");
  if (!user || !domain) {
    snprintf(err, errlen, "expected {username, domain}");
    return -32602;
  }
  const char *path = auth_inst(mod)->cfg->db_path;
  int removed = 0;
  if (auth_db_remove(path, user, domain, &removed, err, errlen) < 0)
    return -32000;
  for (auth_inst_t *in = auth_insts; in; in = in->next)
    if (strcmp(in->cfg->db_path, path) == 0)
      auth_cache_remove(in, user, domain);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "removed");
  tz_jw_int(out, removed);
  tz_jw_obj_end(out);
  return 0;
}

static int auth_sub_cmp(const void *a, const void *b)
{
  const auth_sub_t *x = *(const auth_sub_t *const *)a;
  const auth_sub_t *y = *(const auth_sub_t *const *)b;
  int d = strcmp(x->domain, y->domain);
  return d ? d : strcmp(x->username, y->username);
}

/* Subscribers from the cache, sorted by domain and user; never secrets.
 * Unlocked: this is worker 0, the only one that changes the cache. */
static int auth_rpc_list(tz_modinst_t *mod, const tz_json_t *params,
                         tz_jbuf_t *out, char *err, size_t errlen)
{
  assert(tz_worker_self() == 0);
  const auth_subs_t *s = &auth_inst(mod)->subs;
  const char *domain = auth_rpc_str(params, "domain");
  const auth_sub_t **v = calloc(s->count + 1, sizeof *v);
  size_t n = 0;
  if (!v) {
    snprintf(err, errlen, "out of memory");
    return -32000;
  }
  for (size_t i = 0; i < s->nbuckets; i++)
    for (const auth_sub_t *e = s->buckets[i]; e; e = e->next)
      if (!domain || strcasecmp(domain, e->domain) == 0)
        v[n++] = e;
  qsort(v, n, sizeof *v, auth_sub_cmp);
  tz_jw_arr_begin(out);
  for (size_t i = 0; i < n; i++) {
    tz_jw_obj_begin(out);
    tz_jw_key(out, "username");
    tz_jw_str(out, v[i]->username);
    tz_jw_key(out, "domain");
    tz_jw_str(out, v[i]->domain);
    tz_jw_key(out, "sha256");
    tz_jw_bool(out, *v[i]->ha1[AUTH_ALG_SHA256] || *v[i]->password);
    tz_jw_obj_end(out);
  }
  tz_jw_arr_end(out);
  free(v);
  return 0;
}

/* ---- module life ------------------------------------------------------------------ */

/* "SHA-256, MD5" into the offer list, in order. */
static int auth_offer_parse(auth_inst_t *in, char *err, size_t errlen)
{
  char buf[128];
  snprintf(buf, sizeof buf, "%s", in->cfg->algorithms ? in->cfg->algorithms
                                                       : "");
  char *save = NULL;
  in->noffer = 0;
  for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
    auth_alg_t alg;
    if (auth_alg_parse(t, &alg) < 0 || auth_offered(in, alg)) {
      snprintf(err, errlen, "auth: algorithms: '%s' is unknown or repeated "
               "(MD5, SHA-256)", t);
      return -1;
    }
    in->offer[in->noffer++] = alg;
  }
  if (!in->noffer) {
    snprintf(err, errlen, "auth: algorithms: none given");
    return -1;
  }
  return 0;
}

static int auth_nonces_hold(uint32_t nslots, char *err, size_t errlen)
{
  unsigned char secret[AUTH_SHA256_LEN];
  assert(tz_worker_self() == 0);
  if (auth_nonces_refs) {
    auth_nonces_refs++;
    return 0;
  }
  if (getrandom(secret, sizeof secret, 0) != sizeof secret ||
      auth_nonces_init(&auth_nonces, nslots, secret) < 0) {
    snprintf(err, errlen, "auth: cannot make the nonce secret and table");
    return -1;
  }
  auth_nonces_refs = 1;
  return 0;
}

static void auth_nonces_release(void)
{
  if (--auth_nonces_refs == 0)
    auth_nonces_free(&auth_nonces);
}

static void auth_inst_free(auth_inst_t *in)
{
  auth_trusted_free(&in->trusted);
  auth_subs_free(&in->subs);
  pthread_rwlock_destroy(&in->subs_lock);
  free(in);
}

/* Writers first: a command must not wait for a moment when no worker is
 * reading, which under load may never come. */
static void auth_subs_lock_init(pthread_rwlock_t *l)
{
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(l, &a);
  pthread_rwlockattr_destroy(&a);
}

static int auth_rpcs_register(tz_modinst_t *mod)
{
  return tz_rpc_register(mod, "auth.subscriber_add", auth_rpc_add,
                         "add or replace {username, domain, password}") |
         tz_rpc_register(mod, "auth.subscriber_remove", auth_rpc_remove,
                         "remove {username, domain}") |
         tz_rpc_register(mod, "auth.subscriber_list", auth_rpc_list,
                         "the subscribers (of {domain})");
}

static void auth_destroy(tz_modinst_t *mod);

static int auth_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  auth_inst_t *in = calloc(1, sizeof *in);
  if (!in)
    return -1;
  in->mod = mod;
  in->cfg = tz_mod_cfg(mod);
  auth_subs_lock_init(&in->subs_lock);
  if (auth_offer_parse(in, err, errlen) < 0 ||
      auth_trusted_parse(&in->trusted, in->cfg->trusted, err, errlen) < 0 ||
      auth_subs_init(&in->subs) < 0 ||
      auth_db_load(in->cfg->db_path, &in->subs, err, errlen) < 0 ||
      auth_nonces_hold((uint32_t)in->cfg->nonce_slots, err, errlen) < 0) {
    auth_inst_free(in);
    return -1;
  }
  in->st_ok = tz_stat_get("auth.ok", "requests with valid credentials");
  in->st_challenges = tz_stat_get("auth.challenges", "401/407 sent");
  in->st_failed = tz_stat_get("auth.failed", "credentials refused");
  in->st_stale = tz_stat_get("auth.stale",
                             "right credentials with an unusable nonce");
  tz_mod_set_data(mod, in);
  in->next = auth_insts;
  auth_insts = in;
  if (auth_rpcs_register(mod) < 0) {
    snprintf(err, errlen, "auth: cannot register the control commands");
    auth_destroy(mod); /* the core calls destroy only after a good init */
    return -1;
  }
  tz_log(TZ_LOG_INFO, "auth: %zu subscribers from %s", in->subs.count,
         in->cfg->db_path);
  return 0;
}

static void auth_destroy(tz_modinst_t *mod)
{
  auth_inst_t *in = auth_inst(mod);
  if (!in)
    return;
  for (auth_inst_t **pp = &auth_insts; *pp; pp = &(*pp)->next)
    if (*pp == in) {
      *pp = in->next;
      break;
    }
  auth_nonces_release();
  auth_inst_free(in);
  tz_mod_set_data(mod, NULL);
}

static int auth_fix_table(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                          char *err, size_t errlen)
{
  (void)mod;
  if (idx == 1 && strcmp(arg->s, "subscriber") != 0) {
    snprintf(err, errlen, "unknown credentials table '%s' (the auth module "
             "reads 'subscriber')", arg->s);
    return -1;
  }
  return 0;
}

static const tz_param_export_t auth_params[] = {
  {.name = "db_path",
   .type = TZ_PARAM_STR,
   .offset = offsetof(auth_cfg_t, db_path),
   .str_default = TZ_STATEDIR "/subscriber.db",
   .doc = "the sqlite database with the subscriber table"},
  {.name = "algorithms",
   .type = TZ_PARAM_STR,
   .offset = offsetof(auth_cfg_t, algorithms),
   .str_default = "SHA-256,MD5",
   .doc = "digest algorithms challenged with, preferred first; only these are "
          "accepted"},
  {.name = "trusted",
   .type = TZ_PARAM_STR,
   .offset = offsetof(auth_cfg_t, trusted),
   .str_default = "",
   .doc = "addresses and CIDR networks is_trusted() accepts, comma-separated"},
  {.name = "nonce_expires",
   .type = TZ_PARAM_INT,
   .offset = offsetof(auth_cfg_t, nonce_expires),
   .int_default = 300,
   .min = 1,
   .max = 86400,
   .doc = "seconds a nonce may be used; then stale=true"},
  {.name = "nonce_slots",
   .type = TZ_PARAM_INT,
   .offset = offsetof(auth_cfg_t, nonce_slots),
   .int_default = 262144,
   .min = 16,
   .max = 16777216,
   .doc = "nonces tracked for replay at once (12 bytes each); read by the first "
          "instance only"},
  {.name = "calculate_ha1",
   .type = TZ_PARAM_INT,
   .offset = offsetof(auth_cfg_t, calculate_ha1),
   .max = 1,
   .doc = "1: hash the password column, ignore the ha1 columns"},
  {.name = "qop_optional",
   .type = TZ_PARAM_INT,
   .offset = offsetof(auth_cfg_t, qop_optional),
   .max = 1,
   .doc = "1: also accept RFC 2069 responses without qop (single use)"},
  {.name = "check_identity",
   .type = TZ_PARAM_INT,
   .offset = offsetof(auth_cfg_t, check_identity),
   .int_default = 1,
   .max = 1,
   .doc = "1: the authenticated user must be the To user (www) or From user "
          "(proxy)"},
  {0}
};

/* The argument shapes of the authorize and challenge functions. */
#define AUTH_AUTHORIZE_ARGS                                                  \
  .min_args = 2, .max_args = 2, .args = {TZ_ARG_FMT, TZ_ARG_STR},            \
  .const_mask = 2u, .route_mask = TZ_ROUTE_REQUEST, .fixup = auth_fix_table
#define AUTH_CHALLENGE_ARGS                                                  \
  .min_args = 1, .max_args = 1, .args = {TZ_ARG_FMT},                        \
  .route_mask = TZ_ROUTE_REQUEST

static const tz_func_export_t auth_funcs[] = {
  {.name = "www_authorize",
   .handler = auth_www_authorize,
   AUTH_AUTHORIZE_ARGS,
   .doc = "true if the request has valid credentials (Authorization) for "
          "realm (\"\": the To domain)"},
  {.name = "proxy_authorize",
   .handler = auth_proxy_authorize,
   AUTH_AUTHORIZE_ARGS,
   .doc = "true if the request has valid credentials (Proxy-Authorization) "
          "for realm (\"\": the From domain)"},
  {.name = "www_challenge",
   .handler = auth_www_challenge,
   AUTH_CHALLENGE_ARGS,
   .doc = "reply 401 with a WWW-Authenticate per algorithm"},
  {.name = "proxy_challenge",
   .handler = auth_proxy_challenge,
   AUTH_CHALLENGE_ARGS,
   .doc = "reply 407 with a Proxy-Authenticate per algorithm"},
  {.name = "consume_credentials",
   .handler = auth_consume_credentials,
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "remove the credentials the last successful authorize checked"},
  {.name = "is_trusted",
   .handler = auth_is_trusted,
   .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
   .doc = "true if the source address is in the trusted list"},
  {0}
};

const tz_module_t auth_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "auth",
  .version = "1",
  .description = "digest authentication and trusted peers",
  .cfg_size = sizeof(auth_cfg_t),
  .params = auth_params,
  .funcs = auth_funcs,
  .init = auth_init,
  .destroy = auth_destroy,
  .flags = TZ_MOD_WORKERS,
};
