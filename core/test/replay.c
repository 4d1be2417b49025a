/*
 * replay.c - the same test file against a running server: `trapezoid
 * --test --replay=udp:HOST:PORT --ctl=PATH FILE`. Each step's datagram
 * leaves a real UDP socket bound to the step's source address, what the
 * server sends back is read from the sockets it reaches, and fixtures go
 * to its control socket as JSON-RPC, as tzctl sends them. The
 * expectations are the harness's own, unchanged: a file that passes both
 * ways shows the harness and the server agree (tests/sip/script_replay.sh
 * runs it in a network namespace whose loopback carries the test
 * addresses).
 *
 * Every address a relay may reach must be listening before the server
 * sends there, so one socket is bound for each IP address the file names
 * with each port it names (and 5060): binding contacts, DNS answers and
 * message headers included. Time is real: `advance` sleeps, measured
 * from the case's last send, and a step is settled after 150 ms without
 * a datagram.
 *
 * Owns the sockets (closed by tt_replay_close) and the control
 * connection.
 */
#define _GNU_SOURCE
#include "test/harness.h"
#include "test/clock.h"
#include "test/wire.h"

#include <trapezoid/json.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLAY_MAX_SOCKS 256
#define REPLAY_QUIET_MS 150

typedef struct replay {
  struct pollfd fds[REPLAY_MAX_SOCKS];
  struct sockaddr_storage addrs[REPLAY_MAX_SOCKS];
  size_t n;
  int ctl;
  FILE *ctl_in; /* the control socket's answers, line by line */
  long long sent_at; /* ms of the case's last send (real: a replay never
                     * starts the virtual clock) */
  long long advanced; /* ms advanced since */
  unsigned id;
} replay_t;


/* ---- the sockets --------------------------------------------------------------------- */

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
  return tz_testwire_same((const struct sockaddr *)a, b);
}

static int replay_bind(replay_t *rp, const struct sockaddr_storage *a)
{
  for (size_t i = 0; i < rp->n; i++)
    if (same_addr(&rp->addrs[i], (const struct sockaddr *)a))
      return 0;
  if (rp->n == REPLAY_MAX_SOCKS)
    return -1;
  int fd = socket(a->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind(fd, (const struct sockaddr *)a, tz_testwire_addr_len((const void *)a)) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  rp->fds[rp->n] = (struct pollfd){.fd = fd, .events = POLLIN};
  rp->addrs[rp->n++] = *a;
  return 0;
}

static void add_port(unsigned *ports, size_t *n, unsigned port)
{
  for (size_t i = 0; i < *n; i++)
    if (ports[i] == port)
      return;
  if (*n < 64 && port > 0 && port < 65536)
    ports[(*n)++] = port;
}

static void add_ip(char ips[][64], size_t *n, const char *ip)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp(ips[i], ip) == 0)
      return;
  if (*n < 64)
    snprintf(ips[(*n)++], 64, "%s", ip);
}

/* The IPv4 literals in text, and the ports written after them. */
static void collect(const char *text, char ips[][64], size_t *nip, unsigned *ports,
                    size_t *nport)
{
  for (const char *p = text; *p; p++) {
    struct in_addr a;
    char ip[64];
    size_t k = strspn(p, "0123456789.");
    if (k >= 7 && k < sizeof ip && (p == text || !isalnum((unsigned char)p[-1]))) {
      snprintf(ip, sizeof ip, "%.*s", (int)k, p);
      if (inet_pton(AF_INET, ip, &a) == 1) {
        add_ip(ips, nip, ip);
        if (p[k] == ':' && isdigit((unsigned char)p[k + 1]))
          add_port(ports, nport, (unsigned)atoi(p + k + 1));
      }
    }
    if (k > 0)
      p += k - 1;
  }
}

/* Sockets for every address the file's steps and fixtures name, but the
 * server's. */
static int replay_bind_all(replay_t *rp, const tt_run_t *r, char *err, size_t errlen)
{
  const sipt_file_t *f = r->file;
  char ips[64][64];
  unsigned ports[64] = {5060};
  size_t nip = 0, nport = 1;
  for (size_t i = 0; i < sipt_count(f); i++) {
    const sipt_item_t *it = sipt_at(f, i);
    const char *texts[] = {it->msg, it->text, it->a, it->b, it->host};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
      if (texts[k])
        collect(texts[k], ips, &nip, ports, &nport);
    if (it->kind == SIPT_SEND)
      add_port(ports, &nport, it->port);
    const char *p = it->kind == SIPT_FIXTURE ? strstr(it->text, "\"port\":") : NULL;
    if (p)
      add_port(ports, &nport, (unsigned)atoi(p + 7));
  }
  for (size_t i = 0; i < nip; i++)
    for (size_t j = 0; j < nport; j++) {
      char port[16];
      struct sockaddr_storage ss;
      snprintf(port, sizeof port, "%u", ports[j]);
      if (inet_pton(AF_INET, ips[i], &((struct sockaddr_in *)&ss)->sin_addr) == 1 &&
          strncmp(ips[i], "127.", 4) != 0 && tz_testwire_parse_addr(ips[i], port, &ss) == 0 &&
          !same_addr(&r->server, (struct sockaddr *)&ss) && replay_bind(rp, &ss) < 0) {
        snprintf(err, errlen, "cannot bind %s:%s: %s (the test addresses must be on a "
                 "local interface)", ips[i], port, strerror(errno));
        return -1;
      }
    }
  return 0;
}

/* ---- the wire ---------------------------------------------------------------------------- */

static void replay_read(tt_run_t *r, replay_t *rp, size_t i)
{
  char buf[65536];
  struct sockaddr_storage from;
  socklen_t fl = sizeof from;
  ssize_t n;
  while ((n = recvfrom(rp->fds[i].fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from,
                       &fl)) > 0) {
    tt_record(r, (struct sockaddr *)&from, (struct sockaddr *)&rp->addrs[i], buf, (size_t)n);
    fl = sizeof from;
  }
}

/* Reads until the server has been quiet for REPLAY_QUIET_MS (quick: a
 * tenth of it), 2 s at most. */
static void replay_settle(tt_run_t *r, const sipt_item_t *it, int quick)
{
  replay_t *rp = r->replay;
  long long start = tz_testclock_real_ms(), last = start, quiet = quick ? REPLAY_QUIET_MS / 10
                                                          : REPLAY_QUIET_MS;
  (void)it;
  while (tz_testclock_real_ms() - last < quiet && tz_testclock_real_ms() - start < 2000) {
    if (poll(rp->fds, rp->n, (int)quiet) <= 0)
      continue;
    for (size_t i = 0; i < rp->n; i++)
      if (rp->fds[i].revents & POLLIN)
        replay_read(r, rp, i);
    last = tz_testclock_real_ms();
  }
}

static int replay_inject(tt_run_t *r, const struct sockaddr *from, const struct sockaddr *to,
                         const char *text, size_t len)
{
  replay_t *rp = r->replay;
  for (size_t i = 0; i < rp->n; i++)
    if (same_addr(&rp->addrs[i], from)) {
      if (sendto(rp->fds[i].fd, text, len, 0, to, tz_testwire_addr_len(to)) != (ssize_t)len)
        return -1;
      if (to == (const struct sockaddr *)&r->server)
        rp->sent_at = tz_testclock_real_ms(), rp->advanced = 0;
      return 0;
    }
  return -1;
}

/* Sleeps until it->n ms after the case's last send (and earlier advances);
 * the settling after it takes up to REPLAY_QUIET_MS more, so a file that
 * is to replay keeps its timer boundaries that far from its steps'. */
static void replay_advance(tt_run_t *r, const sipt_item_t *it)
{
  replay_t *rp = r->replay;
  rp->advanced += it->n;
  long long wait = rp->sent_at + rp->advanced - tz_testclock_real_ms();
  if (wait > 0) {
    struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
      ;
  }
}

/* ---- the control socket --------------------------------------------------------------------- */

/* One answer line, read whole (5 s at most): the answer of a fixture is
 * small, anything longer is drained so the next one starts clean. */
static char *replay_answer(replay_t *rp)
{
  char *line = NULL;
  size_t len = 0;
  struct pollfd p = {.fd = rp->ctl, .events = POLLIN};
  if (poll(&p, 1, 5000) <= 0 || getline(&line, &len, rp->ctl_in) < 0) {
    free(line);
    return NULL;
  }
  return line;
}

/* The answer for request `id` carries a "result" (else an "error"). */
static int replay_answer_ok(const char *line, unsigned id, char *err, size_t errlen)
{
  char e[256] = "";
  tz_json_t *j = line ? tz_json_parse(line, strlen(line), e, sizeof e) : NULL;
  const tz_json_t *error = tz_json_get(j, "error");
  int ok = j && tz_json_num(tz_json_get(j, "id")) == (double)id &&
           tz_json_get(j, "result") && !error;
  if (!ok)
    snprintf(err, errlen, "%s", !line ? "no answer from the control socket in 5 s"
                                : error && tz_json_str(tz_json_get(error, "message"))
                                    ? tz_json_str(tz_json_get(error, "message"))
                                    : line);
  tz_json_free(j);
  return ok ? 0 : -1;
}

static int replay_command(tt_run_t *r, const char *method, const char *params, char *err,
                          size_t errlen)
{
  replay_t *rp = r->replay;
  char *req = NULL;
  int n = asprintf(&req, "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\",\"params\":%s}\n",
                   ++rp->id, method, params);
  if (n < 0 || write(rp->ctl, req, (size_t)n) != n) {
    free(n < 0 ? NULL : req);
    snprintf(err, errlen, "cannot send %s to the control socket", method);
    return -1;
  }
  free(req);
  char *line = replay_answer(rp);
  int rc = replay_answer_ok(line, rp->id, err, errlen);
  free(line);
  return rc;
}

static int replay_ctl_open(const char *path, char *err, size_t errlen)
{
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (strlen(path) >= sizeof sun.sun_path || fd < 0) {
    snprintf(err, errlen, "bad control socket path %s", path);
    if (fd >= 0)
      close(fd);
    return -1;
  }
  strcpy(sun.sun_path, path);
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
    snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

const tt_wire_t tt_replay_wire = {replay_inject, replay_settle, replay_advance,
                                  replay_command, 1};

int tt_replay_open(tt_run_t *r, const char *server, const char *ctl, char *err,
                   size_t errlen)
{
  replay_t *rp = calloc(1, sizeof *rp);
  const char *hp = server && strncmp(server, "udp:", 4) == 0 ? server + 4 : NULL;
  const char *colon = hp ? strrchr(hp, ':') : NULL;
  char host[64];
  if (!rp || !colon || (size_t)(colon - hp) >= sizeof host || !ctl) {
    free(rp);
    snprintf(err, errlen, "--replay=udp:HOST:PORT and --ctl=PATH are both needed");
    return -1;
  }
  snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
  err[0] = '\0';
  rp->ctl = -1;
  r->replay = rp;
  r->wire = &tt_replay_wire;
  if (tz_testwire_parse_addr(host, colon + 1, &r->server) < 0 ||
      (rp->ctl = replay_ctl_open(ctl, err, errlen)) < 0 ||
      !(rp->ctl_in = fdopen(dup(rp->ctl), "r")) ||
      replay_bind_all(rp, r, err, errlen) < 0) {
    if (!err[0])
      snprintf(err, errlen, "bad server address %s", server);
    tt_replay_close(r);
    return -1;
  }
  return 0;
}

void tt_replay_close(tt_run_t *r)
{
  replay_t *rp = r->replay;
  for (size_t i = 0; rp && i < rp->n; i++)
    close(rp->fds[i].fd);
  if (rp && rp->ctl_in)
    fclose(rp->ctl_in);
  if (rp && rp->ctl >= 0)
    close(rp->ctl);
  free(rp);
  r->replay = NULL;
}
