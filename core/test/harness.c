/*
 * harness.c - `trapezoid --test FILE...`: routing scripts tested like
 * code. Each test file (.sipt, doc/script-tests.md) runs in a child
 * process of its own, which starts the server as a start would (the
 * script, its modules and parameters, the dispatcher, a real nta agent
 * with real transports: one worker) behind sealed sockets (wire.c), then
 * walks the file: fixtures become control commands, each step's message
 * goes in below Sofia, and what comes out is checked by the
 * expectations (expect.c). The parent prints TAP, sums the coverage and
 * gives the exit status.
 *
 * A child tells its parent, over a pipe, one line per event: "S LINE"
 * before a step (so a crash names it), "F TEXT" for a failure, "C OK
 * NAME" at a case's end, "E TEXT" for an error that ends the file.
 *
 * Owns, in a child: the file's run (tt_run_t), its scratch folder and
 * the generation it built; in the parent: the totals and the coverage.
 */
#define _GNU_SOURCE
#include "config.h"
#include "test/harness.h"
#include "test/clock.h"
#include "test/cover.h"
#include "test/wire.h"
#include "control/build.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "runtime/command.h"
#include "runtime/loop.h"
#include "runtime/module.h"
#include "runtime/worker.h"
#include "sip/dispatch.h"
#include "sip/msg.h"
#include "sip/transport.h"

#include <trapezoid/json.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/tport.h>

typedef struct test_opts {
  const char *mpath;    /* -L */
  const char *script;   /* --script: over the file's own */
  const char *coverage; /* --coverage[=FILE]: "" prints gcov text */
  int debug;            /* -d count */
  int verbose;          /* -v: the server's log on stderr */
  const char *replay;   /* --replay=udp:HOST:PORT: a running server instead */
  const char *ctl;      /* --ctl=PATH: its control socket, for the fixtures */
} test_opts_t;

/* The child's run and where its events go (one thread: the worker). */
static tt_run_t *run;
static FILE *events;
static int verbose;
/* The harness's thread (worker 0) records log lines; another thread's (the
 * location writer's) would race with it, so they only go to stderr. */
static _Thread_local int recording;

/* ---- events from the server ---------------------------------------------------- */

static void *grow(void *p, size_t n, size_t size)
{
  void *q = realloc(p, (n + 1) * size);
  if (!q)
    abort();
  return q;
}

/* Does the message belong to one of the case's calls? Before its first
 * send, a case has none of its own: everything is its. */
static int in_case(const tt_run_t *r, const char *text)
{
  size_t len;
  const char *id = tt_header(text, "Call-ID", 1, &len);
  for (size_t i = 0; i < r->ncallids; i++)
    if (id && strlen(r->callids[i]) == len && strncmp(r->callids[i], id, len) == 0)
      return 1;
  return r->ncallids == 0;
}

static void case_add_callid(tt_run_t *r, const char *text)
{
  size_t len;
  const char *id = tt_header(text, "Call-ID", 1, &len);
  if (!id || (r->ncallids && in_case(r, text)))
    return;
  r->callids = grow(r->callids, r->ncallids, sizeof *r->callids);
  if (!(r->callids[r->ncallids++] = strndup(id, len)))
    abort();
}

/* A new challenge (not a retransmission of the last) starts its nonce count. */
static void keep_challenge(tt_run_t *r, const tt_msg_t *m)
{
  if (r->challenge.text && strcmp(r->challenge.text, m->text) == 0)
    return;
  free(r->challenge.text);
  r->challenge = *m;
  r->nc = 0;
  if (!(r->challenge.text = strdup(m->text)))
    abort();
}

static void fill_addrs(tt_msg_t *m, const struct sockaddr *from, const struct sockaddr *to)
{
  memcpy(&m->from, from, tz_testwire_addr_len(from));
  memcpy(&m->to, to, tz_testwire_addr_len(to));
  const void *ip = to->sa_family == AF_INET6
                       ? (const void *)&((const struct sockaddr_in6 *)to)->sin6_addr
                       : (const void *)&((const struct sockaddr_in *)to)->sin_addr;
  inet_ntop(to->sa_family, ip, m->dst_host, sizeof m->dst_host);
  m->dst_port = ntohs(((const struct sockaddr_in *)to)->sin_port);
}

void tt_record(tt_run_t *r, const struct sockaddr *from, const struct sockaddr *to,
               const char *data, size_t len)
{
  tt_msg_t m = {.len = len};
  if (!(m.text = malloc(len + 1)))
    abort(); /* the harness cannot go on without its record */
  memcpy(m.text, data, len);
  m.text[len] = '\0';
  fill_addrs(&m, from, to);
  tt_parse_first_line(&m);
  if (verbose)
    fprintf(stderr, "  sent to %s:%u: %.*s\n", m.dst_host, m.dst_port,
            (int)strcspn(m.text, "\r\n"), m.text);
  if (!in_case(r, m.text)) {
    free(m.text);
    return;
  }
  if (m.status == 401 || m.status == 407)
    keep_challenge(r, &m);
  r->msgs = grow(r->msgs, r->nmsgs, sizeof *r->msgs);
  r->msgs[r->nmsgs++] = m;
}

static void msg_sent(void *arg, const struct sockaddr *from, const struct sockaddr *to,
                     const char *data, size_t len)
{
  (void)arg;
  tt_record(run, from, to, data, len);
}


static void route_ran(const tz_msg_t *m, const tz_route_t *rt, tz_run_result_t rc)
{
  (void)m;
  tt_run_t *r = run;
  if (!r)
    return;
  r->routes = grow(r->routes, r->nroutes, sizeof *r->routes);
  tz_route_label(rt, r->routes[r->nroutes].name, sizeof r->routes[0].name);
  r->routes[r->nroutes++].rc = (int)rc;
}

static void log_line(void *arg, int level, const char *line)
{
  (void)arg;
  tt_run_t *r = recording ? run : NULL;
  if (verbose || (!r && level <= TZ_LOG_WARN))
    fprintf(stderr, "  log: %s\n", line);
  if (!r)
    return;
  r->logs = grow(r->logs, r->nlogs, sizeof *r->logs);
  if (!(r->logs[r->nlogs++] = strdup(line)))
    abort();
}

/* Sofia's own lines ("nta outgoing create: invalid URI") join the
 * server's log instead of the harness's stderr; they arrive in pieces,
 * each ending with a newline once whole. */
static void sofia_line(void *stream, char const *fmt, va_list ap)
{
  static _Thread_local char line[1024];
  size_t n = strlen(line);
  (void)stream;
  vsnprintf(line + n, sizeof line - n, fmt, ap);
  n = strlen(line);
  if (n == 0 || (line[n - 1] != '\n' && n + 1 < sizeof line))
    return;
  line[n - 1] = line[n - 1] == '\n' ? '\0' : line[n - 1];
  log_line(NULL, TZ_LOG_INFO, line);
  line[0] = '\0';
}

/* ---- reporting ------------------------------------------------------------------- */

void tt_fail(tt_run_t *r, const sipt_item_t *it, const char *fmt, ...)
{
  char text[3072];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  for (char *c = text; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
  fprintf(events, "F %s:%u:%u: error: %s\n", sipt_name(r->file), it->line, it->col, text);
  r->nfailed++;
}

static void step_reset(tt_run_t *r)
{
  r->step_first = r->nmsgs;
  r->step_method[0] = '\0';
  r->subject = NULL;
  r->nroutes = 0;
  for (size_t i = 0; i < r->nlogs; i++)
    free(r->logs[i]);
  r->nlogs = 0;
}

static void case_reset(tt_run_t *r)
{
  step_reset(r);
  for (size_t i = 0; i < r->nmsgs; i++)
    free(r->msgs[i].text);
  r->nmsgs = r->step_first = 0;
  memset(&r->sender, 0, sizeof r->sender);
  r->nfailed = 0;
  while (r->ncallids)
    free(r->callids[--r->ncallids]);
}

static void case_end(tt_run_t *r, const sipt_item_t *c)
{
  if (c)
    fprintf(events, "C %d %s\n", r->nfailed == 0, c->a);
  fflush(events);
  case_reset(r);
}

/* ---- settling -------------------------------------------------------------------- */

/* Runs what is due at this moment of the virtual clock; returns the ms
 * to the next timer (or SU_WAIT_FOREVER). */
static su_duration_t run_due(void)
{
  su_root_t *root = tz_loop_root();
  su_duration_t next;
  for (int i = 0; i < 1000 && (next = su_root_step(root, 0)) == 0; i++)
    ;
  return next;
}

/* Runs the loop until the step has done all it will do at this moment:
 * events ready now, suspended requests answered (the location writer, a
 * thread on real time, answers through the mailbox: waited for in real
 * time), and timers due within 20 ms, to which the clock hops (the dns
 * module answers from its zone on a 1-ms timer). A relay a module holds
 * is not waited for: dns_relay() holds its relay until a final response,
 * which only a later step brings. */
static void local_settle(tt_run_t *r, const sipt_item_t *it, int quick)
{
  (void)quick; /* no real time passes here */
  tz_worker_t *w = tz_worker();
  long long start = tz_testclock_real_ms();
  for (;;) {
    su_duration_t next = run_due();
    if (tz_testclock_real_ms() - start > 10000) { /* an fsync on a loaded disk */
      tt_fail(r, it, "the step did not settle in 10 s (%u requests suspended)",
              w->nsuspended);
      return;
    }
    if (w->nsuspended)
      su_root_step(tz_loop_root(), 5);
    else if (next > 0 && next <= 20)
      tz_testclock_advance(next);
    else
      return;
  }
}

/* advance: the clock moves ms on, stopping at every timer on the way, so
 * they fire in order, each at its time. */
static void local_advance(tt_run_t *r, const sipt_item_t *it)
{
  (void)r;
  for (long long left = it->n; left > 0;) {
    su_duration_t next = run_due();
    long long hop = next > 0 && next < left ? next : left;
    tz_testclock_advance(hop);
    left -= hop;
  }
}

static int local_inject(tt_run_t *r, const struct sockaddr *from, const struct sockaddr *to,
                        const char *text, size_t len)
{
  (void)r;
  return tz_testwire_inject(tz_sip_agent(), to, from, tz_testwire_addr_len(from), text,
                            len);
}

/* A fixture is a control command, run as tzctl would have it run. */
static int local_command(tt_run_t *r, const char *method, const char *params, char *err,
                         size_t errlen)
{
  (void)r;
  const tz_command_t *c = tz_command_find(method);
  if (!c) {
    snprintf(err, errlen, "no module the script loads offers the control command %s",
             method);
    return -1;
  }
  tz_json_t *p = tz_json_parse(params, strlen(params), err, errlen);
  tz_jbuf_t out;
  tz_jbuf_init(&out);
  int rc = p ? tz_command_call(c, p, &out, err, errlen) : -1;
  tz_json_free(p);
  tz_jbuf_free(&out);
  if (rc != 0 && !err[0])
    snprintf(err, errlen, "failed");
  return rc != 0 ? -1 : 0;
}

static const tt_wire_t local_wire = {local_inject, local_settle, local_advance,
                                     local_command, 0};

static void step_advance(tt_run_t *r, const sipt_item_t *it)
{
  step_reset(r);
  r->wire->advance(r, it);
  r->wire->settle(r, it, 0);
}

/* ---- steps -------------------------------------------------------------------------- */

static void inject(tt_run_t *r, const sipt_item_t *it, const struct sockaddr *from,
                   const struct sockaddr *to, const char *text, size_t len, int quick)
{
  if (r->wire->inject(r, from, to, text, len) < 0)
    tt_fail(r, it, "cannot send: no UDP transport listens on the address, or the "
            "source address is not this machine's");
  r->wire->settle(r, it, quick);
}

/* A send (not raw) must be what it claims: a SIP message Sofia parses
 * whole, so that a typo in a test is reported here and not as whatever
 * the server does with garbage. */
static int parses_as_sip(const char *text, char *err, size_t errlen)
{
  msg_t *msg = msg_make(sip_default_mclass(), 0, text, (isize_t)strlen(text));
  sip_t *sip = msg ? sip_object(msg) : NULL;
  const char *bad = sip && sip->sip_error ? sip->sip_error->er_name : NULL;
  int ok = sip && (sip->sip_request || sip->sip_status) && !sip->sip_error &&
           sip->sip_call_id && sip->sip_cseq && sip->sip_from && sip->sip_to &&
           sip->sip_via;
  if (!ok && bad)
    snprintf(err, errlen, "this message does not parse as SIP: bad %s header (use "
             "'send raw' to send it as it is)", bad);
  else if (!ok)
    snprintf(err, errlen, "this message does not parse as SIP, or lacks Via, From, To, "
             "Call-ID or CSeq (use 'send raw' to send it as it is)");
  msg_destroy(msg);
  return ok;
}

static void step_send(tt_run_t *r, const sipt_item_t *it)
{
  struct sockaddr_storage from;
  char port[16], err[256];
  step_reset(r); /* a send that fails leaves its expectations nothing */
  snprintf(port, sizeof port, "%u", it->port);
  if (strcmp(it->proto, "udp") != 0) {
    tt_fail(r, it, "the harness sends over udp only, not %s", it->proto);
    return;
  }
  if (tz_testwire_parse_addr(it->host, port, &from) < 0) {
    tt_fail(r, it, "'%s' is no IP address", it->host);
    return;
  }
  char *text = it->user ? tt_add_credentials(r, it, err, sizeof err) : it->msg;
  if (text && !it->raw && !parses_as_sip(text, err, sizeof err)) {
    if (text != it->msg)
      free(text);
    text = NULL;
  }
  if (!text) {
    tt_fail(r, it, "%s", err);
    return;
  }
  tt_msg_t first = {.text = text};
  tt_parse_first_line(&first);
  r->sender = from;
  case_add_callid(r, text);
  for (unsigned i = 0; i < it->repeat; i++) { /* the expectations see the last */
    step_reset(r);
    snprintf(r->step_method, sizeof r->step_method, "%s", first.method);
    inject(r, it, (struct sockaddr *)&from, (struct sockaddr *)&r->server, text,
           text == it->msg ? it->msglen : strlen(text), i + 1 < it->repeat);
  }
  if (text != it->msg)
    free(text);
}

/* The case's last request downstream (of method `to`, if given; never an
 * ACK, which has no response). */
static const tt_msg_t *respond_target(const tt_run_t *r, const char *to)
{
  for (size_t i = r->nmsgs; i-- > 0;) {
    const tt_msg_t *m = &r->msgs[i];
    if (!m->status && (to ? strcmp(m->method, to) == 0 : strcmp(m->method, "ACK") != 0))
      return m;
  }
  return NULL;
}

static void step_respond(tt_run_t *r, const sipt_item_t *it)
{
  const tt_msg_t *req = respond_target(r, it->a);
  if (!req) {
    step_reset(r); /* the expectations after it see nothing, not the step before */
    tt_fail(r, it, "nothing to respond to: the server sent no %s%srequest in this case",
            it->a ? it->a : "", it->a ? " " : "");
    return;
  }
  char *text = tt_make_response(req, it);
  struct sockaddr_storage from = req->to, to = req->from;
  if (!text)
    abort();
  step_reset(r);
  inject(r, it, (struct sockaddr *)&from, (struct sockaddr *)&to, text, strlen(text), 0);
  free(text);
}

/* A fixture: its control command, on the server the wire reaches. */
static int step_fixture(tt_run_t *r, const sipt_item_t *it)
{
  char err[512] = "";
  if (r->wire->command(r, it->a, it->text, err, sizeof err) < 0) {
    tt_fail(r, it, "'%s': %s", it->b, err);
    return -1;
  }
  r->wire->settle(r, it, 0);
  return 0;
}

/* ---- one file, in a child ----------------------------------------------------------- */

/* A replay waits out each `advance` in real time: a case that waits
 * longer than this is skipped there (Timer C's 180 s, say). */
#define REPLAY_MAX_ADVANCE_MS 10000

/* The index of the item after case i's last; *wait: its advances, in ms. */
static size_t case_span(const sipt_file_t *f, size_t i, long long *wait)
{
  *wait = 0;
  for (i++; i < sipt_count(f) && sipt_at(f, i)->kind != SIPT_CASE; i++)
    if (sipt_at(f, i)->kind == SIPT_ADVANCE)
      *wait += sipt_at(f, i)->n;
  return i;
}

static void walk(tt_run_t *r)
{
  const sipt_item_t *open_case = NULL;
  for (size_t i = 0; i < sipt_count(r->file); i++) {
    const sipt_item_t *it = sipt_at(r->file, i);
    long long wait;
    if (it->kind == SIPT_SEND || it->kind == SIPT_RESPOND || it->kind == SIPT_FIXTURE ||
        it->kind == SIPT_ADVANCE)
      fprintf(events, "S %u\n", it->line), fflush(events);
    switch (it->kind) {
    case SIPT_CASE:
      case_end(r, open_case);
      open_case = it;
      if (r->wire->replay && case_span(r->file, i, &wait) && wait > REPLAY_MAX_ADVANCE_MS) {
        fprintf(events, "K %s # SKIP a replay would wait %lld s\n", it->a, wait / 1000);
        i = case_span(r->file, i, &wait) - 1;
        open_case = NULL;
      }
      break;
    case SIPT_SEND: step_send(r, it); break;
    case SIPT_RESPOND: step_respond(r, it); break;
    case SIPT_ADVANCE: step_advance(r, it); break;
    case SIPT_EXPECT: tt_expect(r, it); break;
    case SIPT_FIXTURE:
      if (step_fixture(r, it) < 0 && !open_case)
        return; /* the file's state is not what its cases assume */
      break;
    case SIPT_SCRIPT: case SIPT_MODPARAM: case SIPT_LISTEN: case SIPT_CLOCK: break;
    }
  }
  case_end(r, open_case);
}

/* The script the file names, relative to the file's folder. */
static char *script_path(const sipt_file_t *f, const test_opts_t *o)
{
  if (o->script)
    return strdup(o->script);
  for (size_t i = 0; i < sipt_count(f); i++) {
    const sipt_item_t *it = sipt_at(f, i);
    if (it->kind != SIPT_SCRIPT)
      continue;
    if (it->text[0] == '/')
      return strdup(it->text);
    char *copy = strdup(sipt_name(f)), *p = NULL;
    if (copy && asprintf(&p, "%s/%s", dirname(copy), it->text) < 0)
      p = NULL;
    free(copy);
    return p;
  }
  return NULL;
}

#define MAX_PARAMS 64

/* The build names a modparam the command line's way ("-o mod.p=v"); the
 * file's author wrote it on a line of the file: say which. */
static void report_build_error(const sipt_file_t *f, const char *line)
{
  const char *o = strstr(line, "error: -o ");
  for (size_t i = 0; o && i < sipt_count(f); i++) {
    const sipt_item_t *it = sipt_at(f, i);
    size_t n = it->text ? strlen(it->text) : 0;
    if (it->kind == SIPT_MODPARAM && strncmp(o + 10, it->text, n) == 0 && o[10 + n] == ':') {
      fprintf(events, "E %s:%u:%u: error: modparam %s\n", sipt_name(f), it->line, it->col,
              o + 10);
      return;
    }
  }
  fprintf(events, "E %s\n", line);
}

/* Builds the generation as a start would, with one worker and every
 * module's files in the scratch folder. */
static tz_gen_t *child_build(const sipt_file_t *f, const char *script, const char *dir,
                             const test_opts_t *o)
{
  const char *params[MAX_PARAMS], *listens[MAX_PARAMS];
  char scratch[3][600];
  tz_gen_opts_t go = {.mpath = o->mpath, .workers = 1, .debug_delta = o->debug,
                      .modparams = params, .listens = listens};
  const char *sp[3] = {scratch[0], scratch[1], scratch[2]};
  snprintf(scratch[0], sizeof scratch[0], "location.db_path=%s/location.db", dir);
  snprintf(scratch[1], sizeof scratch[1], "auth.db_path=%s/subscriber.db", dir);
  snprintf(scratch[2], sizeof scratch[2], "dns.zone_only=1");
  go.scratch_modparams = sp, go.nscratch = 3;
  for (size_t i = 0; i < sipt_count(f) && go.nmodparams < MAX_PARAMS; i++) {
    const sipt_item_t *it = sipt_at(f, i);
    if (it->kind == SIPT_MODPARAM)
      params[go.nmodparams++] = it->text;
    if (it->kind == SIPT_LISTEN && go.nlistens < MAX_PARAMS)
      listens[go.nlistens++] = it->text;
  }
  tz_diag_t d = {0};
  tz_gen_t *g = tz_gen_build(script, &go, &d);
  if (!g)
    for (char *line = strtok((char *)tz_diag_text(&d), "\n"); line; line = strtok(NULL, "\n"))
      report_build_error(f, line);
  tz_diag_clear(&d);
  return g;
}

static int child_serve(tt_run_t *r, tz_gen_t *g)
{
  char err[512] = "";
  tz_gen_set_current(g);
  if (tz_dispatch_start(g, err, sizeof err) < 0 ||
      tz_dispatch_start_workers(1, err, sizeof err) < 0 || tz_testwire_server(tz_sip_agent(), &r->server) < 0) {
    fprintf(events, "E %s: %s\n", sipt_name(r->file), err[0] ? err : "no UDP listen address");
    return -1;
  }
  return 0;
}

static void child_coverage(tz_gen_t *g, const char *path)
{
  tz_cover_t *c = tz_cover_new();
  FILE *out = fopen(path, "w");
  if (!c || !out || tz_cover_add_script(c, g->script) < 0 ||
      tz_cover_write_lcov(c, out, "script_tests") < 0)
    fprintf(events, "E cannot write the coverage to %s\n", path);
  if (out)
    fclose(out);
  tz_cover_free(c);
}

/* The file's `clock`, in seconds since the epoch; -1 if it has none. */
static long long file_clock(const sipt_file_t *f)
{
  for (size_t i = 0; i < sipt_count(f); i++)
    if (sipt_at(f, i)->kind == SIPT_CLOCK) {
      struct tm tm = {0};
      strptime(sipt_at(f, i)->text, "%Y-%m-%dT%H:%M:%SZ", &tm); /* checked when read */
      return (long long)timegm(&tm);
    }
  return -1;
}

/* The file against this process's own server. */
static int child_local(tt_run_t *r, const test_opts_t *o, const char *dir,
                       const char *lcov)
{
  char *script = script_path(r->file, o);
  if (!script) {
    fprintf(events, "E %s:1:1: error: no 'script' line names the script to test\n",
            sipt_name(r->file));
    return 1;
  }
  r->wire = &local_wire;
  recording = 1;
  tz_log_set_sink(log_line, NULL);
  su_log_redirect(NULL, sofia_line, NULL);
  tz_testwire_enable(msg_sent, NULL);
  tz_testclock_start(file_clock(r->file));
  tz_msg_observe(route_ran);
  if (tz_loop_init() < 0 || tz_module_system_init() < 0 || tz_stats_init() < 0) {
    fprintf(events, "E %s: cannot initialise the event loop\n", sipt_name(r->file));
    return 1;
  }
  tz_gen_t *g = child_build(r->file, script, dir, o);
  free(script);
  if (!g || (lcov && tz_script_count_enable(g->script) < 0)) {
    fprintf(events, "E %s: %s\n", sipt_name(r->file),
            g ? "out of memory for the coverage counters" : "the script did not load");
    return 1;
  }
  if (child_serve(r, g) == 0) {
    walk(r);
    if (lcov)
      child_coverage(g, lcov);
  }
  return 0; /* the process ends here: the parent removes the scratch folder */
}

/* The file against a running server (--replay). */
static int child_replay(tt_run_t *r, const test_opts_t *o)
{
  char err[512];
  if (tt_replay_open(r, o->replay, o->ctl, err, sizeof err) < 0) {
    fprintf(events, "E %s: %s\n", sipt_name(r->file), err);
    return 1;
  }
  if (file_clock(r->file) >= 0)
    fprintf(events, "W 'clock' is not replayed: the server keeps its own time\n");
  walk(r);
  if (r->unchecked)
    fprintf(events, "N %u\n", r->unchecked);
  tt_replay_close(r);
  return 0;
}

static int child_run(const char *path, const test_opts_t *o, const char *dir,
                     const char *lcov)
{
  char err[1024];
  sipt_file_t *f = sipt_parse_file(path, err, sizeof err);
  if (!f) {
    fprintf(events, "E %s\n", err);
    return 1;
  }
  tt_run_t r = {.file = f};
  tz_log_setup("trapezoid", 1);
  run = &r;
  verbose = o->verbose;
  return o->replay ? child_replay(&r, o) : child_local(&r, o, dir, lcov);
}

/* ---- the parent --------------------------------------------------------------------- */

typedef struct totals {
  unsigned n, passed, failed, skipped;
  tz_cover_t *cover;
} totals_t;

static void report_case(totals_t *t, const char *file, int ok, const char *name,
                        char **fails, size_t nfails)
{
  t->n++;
  ok ? t->passed++ : t->failed++;
  printf("%sok %u - %s: ", ok ? "" : "not ", t->n, file);
  for (const char *c = name; *c; c++) /* a '#' would start a TAP directive */
    printf(*c == '#' ? "\\#" : "%c", *c);
  printf("\n");
  for (size_t i = 0; i < nfails; i++) {
    printf("  # %s\n", fails[i]);
    fprintf(stderr, "%s\n", fails[i]);
  }
}

/* Reads a child's events; returns the line of the step it was in, or 0
 * if it said it was done. */
static unsigned read_events(FILE *in, totals_t *t, const char *file)
{
  char *line = NULL, **fails = NULL;
  size_t cap = 0, nfails = 0;
  unsigned step = ~0u; /* nothing yet */
  int file_error = 0;
  while (getline(&line, &cap, in) > 0) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == 'S')
      step = (unsigned)atoi(line + 2);
    else if (line[0] == 'D')
      step = 0;
    else if (line[0] == 'W')
      printf("# %s: %s\n", file, line + 2);
    else if (line[0] == 'N')
      printf("# %s: %s route, drop and log expectations are not seen by a replay\n",
             file, line + 2);
    else if (line[0] == 'F' || line[0] == 'E') {
      fails = grow(fails, nfails, sizeof *fails);
      fails[nfails++] = strdup(line + 2);
    }
    if (line[0] == 'E')
      file_error = 1;
    if (line[0] == 'K') {
      t->n++, t->skipped++;
      printf("ok %u - %s: %s\n", t->n, file, line + 2);
    }
    if (line[0] == 'C') {
      report_case(t, file, line[2] == '1', line + 4, fails, nfails);
      while (nfails)
        free(fails[--nfails]);
    }
  }
  if (nfails) /* one failure for the file, however many lines say why */
    report_case(t, file, 0, file_error ? "the file could not run"
                                       : "the file's fixtures failed", fails, nfails);
  while (nfails)
    free(fails[--nfails]);
  free(fails);
  free(line);
  return step;
}

static void remove_scratch(const char *dir)
{
  static const char *const files[] = {"location.db", "location.db-wal", "location.db-shm",
                                      "subscriber.db", "subscriber.db-wal",
                                      "subscriber.db-shm", "cover.info"};
  char p[600];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

/* A child that ended without saying it was done died in the step it
 * last named: a signal, or a sanitizer's exit. */
static void reap(pid_t pid, unsigned step, totals_t *t, const char *path)
{
  int status = 0;
  char msg[600];
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (step == 0 && WIFEXITED(status))
    return;
  if (WIFSIGNALED(status))
    snprintf(msg, sizeof msg, "%s:%u: error: the harness died (signal %d) in this step",
             path, step == ~0u ? 0 : step, WTERMSIG(status));
  else
    snprintf(msg, sizeof msg, "%s:%u: error: the harness ended (exit status %d) in this "
             "step", path, step == ~0u ? 0 : step, WEXITSTATUS(status));
  char *fails[] = {msg};
  report_case(t, path, 0, "the file could not finish", fails, 1);
}

static void merge_coverage(totals_t *t, const char *lcov)
{
  FILE *in = fopen(lcov, "r");
  if (in) {
    tz_cover_read_lcov(t->cover, in);
    fclose(in);
  }
}

static void run_file(const char *path, const test_opts_t *o, totals_t *t)
{
  char dir[] = "/tmp/tztest.XXXXXX", lcov[64];
  int p[2];
  if (!mkdtemp(dir) || pipe(p) < 0) {
    fprintf(stderr, "trapezoid: %s: %s\n", path, strerror(errno));
    t->n++, t->failed++;
    return;
  }
  snprintf(lcov, sizeof lcov, "%s/cover.info", dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    events = fdopen(p[1], "w");
    int rc = events ? child_run(path, o, dir, o->coverage ? lcov : NULL) : 1;
    if (events) /* "D": the parent knows the child did not die halfway */
      fprintf(events, "D\n"), fflush(events);
    _exit(rc);
  }
  close(p[1]);
  FILE *in = fdopen(p[0], "r");
  unsigned step = in ? read_events(in, t, path) : 0;
  if (in)
    fclose(in);
  reap(pid, step, t, path);
  if (o->coverage)
    merge_coverage(t, lcov);
  remove_scratch(dir);
}

static void usage(FILE *out)
{
  fprintf(out, "Usage: trapezoid --test [options] FILE.sipt...\n"
               "  --coverage       print which script lines the cases ran (gcov text)\n"
               "  --coverage=FILE  write it as an lcov tracefile\n"
               "  --script=FILE    test this script instead of the one the file names\n"
               "  --replay=udp:HOST:PORT  run the cases against a running server\n"
               "  --ctl=PATH       its control socket (the fixtures go there)\n"
               "  -L DIR           module search path\n"
               "  -v               the server's log on stderr\n"
               "  -d               more of it (repeatable)\n"
               "  -h               this help\n");
}

static int parse_opts(int argc, char **argv, test_opts_t *o, int *first)
{
  int i = 0;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--coverage") == 0) o->coverage = "";
    else if (strncmp(a, "--coverage=", 11) == 0) o->coverage = a + 11;
    else if (strncmp(a, "--script=", 9) == 0) o->script = a + 9;
    else if (strncmp(a, "--replay=", 9) == 0) o->replay = a + 9;
    else if (strncmp(a, "--ctl=", 6) == 0) o->ctl = a + 6;
    else if (strcmp(a, "-L") == 0 && i + 1 < argc) o->mpath = argv[++i];
    else if (strcmp(a, "-d") == 0) o->debug++;
    else if (strcmp(a, "-v") == 0) o->verbose = 1;
    else if (strcmp(a, "-h") == 0) { usage(stdout); return 0; }
    else { fprintf(stderr, "trapezoid --test: unknown option '%s'\n", a); usage(stderr); return 2; }
  }
  if (i == argc) {
    usage(stderr);
    return 2;
  }
  *first = i;
  return -1;
}

static void write_coverage(const totals_t *t, const test_opts_t *o)
{
  FILE *out = o->coverage[0] ? fopen(o->coverage, "w") : stdout;
  if (!out) {
    fprintf(stderr, "trapezoid --test: %s: %s\n", o->coverage, strerror(errno));
    return;
  }
  if (o->coverage[0])
    tz_cover_write_lcov(t->cover, out, "script_tests");
  else
    tz_cover_write_gcov(t->cover, out);
  if (out != stdout)
    fclose(out);
  tz_cover_notes(t->cover, stderr);
}

int tz_test_main(int argc, char **argv)
{
  test_opts_t o = {0};
  int first = 0, rc = parse_opts(argc, argv, &o, &first);
  if (rc >= 0)
    return rc;
  totals_t t = {0};
  if (o.coverage && !(t.cover = tz_cover_new()))
    return 1;
  printf("TAP version 13\n");
  for (int i = first; i < argc; i++)
    run_file(argv[i], &o, &t);
  printf("1..%u\n# %u passed, %u failed", t.n, t.passed, t.failed);
  printf(t.skipped ? ", %u skipped\n" : "\n", t.skipped);
  if (o.coverage)
    write_coverage(&t, &o);
  tz_cover_free(t.cover);
  return t.failed || t.n == 0 ? 1 : 0;
}
