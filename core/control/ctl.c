/*
 * ctl.c - owns the control interface: the method registry, the JSON-RPC 2.0
 * dispatcher, the unix/loopback-TCP listeners, and the non-blocking stream
 * server (connections, buffers, flow control) that http.c reuses.
 */
#define _POSIX_C_SOURCE 200809L
#include "control/ctl.h"
#include "lib/suggest.h"
#include <trapezoid/trapezoid.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_LINE ((size_t)1 << 20) /* bytes in one request line */
#define CTL_MAX_CONNS 64               /* per listener */
#define CTL_READ_CHUNK 65536
#define CTL_ERR_MAX 65536 /* room for a script's whole diagnostic */

/* ---- the method registry ----------------------------------------------- */

typedef struct ctl_method {
  char *name;
  tz_ctl_f fn;
  char *help;
  tz_ctl_ctx_f fnc; /* instead of fn, for handlers with a context */
  void *ctx;
} ctl_method_t;

static ctl_method_t *ctl_methods;
static size_t ctl_nmethods;

static int ctl_help(const tz_json_t *params, tz_jbuf_t *out, char *err,
                    size_t errlen);

/* Built in, so tz_ctl_unregister_all() leaves them. */
static const ctl_method_t ctl_builtins[] = {
  {.name = "help", .fn = ctl_help, .help = "list the methods with their help text"},
};
#define CTL_NBUILTINS (sizeof ctl_builtins / sizeof ctl_builtins[0])

static int ctl_method_add(const char *method, tz_ctl_f fn, tz_ctl_ctx_f fnc,
                          void *ctx, const char *help);

static const ctl_method_t *ctl_method_find(const char *name)
{
  for (size_t i = 0; i < CTL_NBUILTINS; i++)
    if (!strcmp(ctl_builtins[i].name, name))
      return &ctl_builtins[i];
  for (size_t i = 0; i < ctl_nmethods; i++)
    if (!strcmp(ctl_methods[i].name, name))
      return &ctl_methods[i];
  return NULL;
}

/* Names starting with "rpc." are reserved by the JSON-RPC spec. */
int tz_ctl_register(const char *method, tz_ctl_f fn, const char *help)
{
  if (!fn)
    return -1;
  return ctl_method_add(method, fn, NULL, NULL, help);
}

int tz_ctl_register_ctx(const char *method, tz_ctl_ctx_f fn, void *ctx,
                        const char *help)
{
  if (!fn)
    return -1;
  return ctl_method_add(method, NULL, fn, ctx, help);
}

void tz_ctl_unregister(const char *method)
{
  for (size_t i = 0; i < ctl_nmethods; i++)
    if (!strcmp(ctl_methods[i].name, method)) {
      free(ctl_methods[i].name);
      free(ctl_methods[i].help);
      ctl_methods[i] = ctl_methods[--ctl_nmethods];
      return;
    }
}

static int ctl_method_add(const char *method, tz_ctl_f fn, tz_ctl_ctx_f fnc,
                          void *ctx, const char *help)
{
  if (!method || !*method || !strncmp(method, "rpc.", 4) ||
      ctl_method_find(method))
    return -1;
  ctl_method_t *v =
      realloc(ctl_methods, (ctl_nmethods + 1) * sizeof *ctl_methods);
  if (!v)
    return -1;
  ctl_methods = v;
  ctl_method_t *m = &ctl_methods[ctl_nmethods];
  m->name = strdup(method);
  m->help = strdup(help ? help : "");
  m->fn = fn;
  m->fnc = fnc;
  m->ctx = ctx;
  if (!m->name || !m->help) {
    free(m->name);
    free(m->help);
    return -1;
  }
  ctl_nmethods++;
  return 0;
}

void tz_ctl_unregister_all(void)
{
  for (size_t i = 0; i < ctl_nmethods; i++) {
    free(ctl_methods[i].name);
    free(ctl_methods[i].help);
  }
  free(ctl_methods);
  ctl_methods = NULL;
  ctl_nmethods = 0;
}

static int ctl_method_cmp(const void *a, const void *b)
{
  const ctl_method_t *const *x = a, *const *y = b;
  return strcmp((*x)->name, (*y)->name);
}

static int ctl_help(const tz_json_t *params, tz_jbuf_t *out, char *err,
                    size_t errlen)
{
  (void)params;
  size_t n = CTL_NBUILTINS + ctl_nmethods;
  const ctl_method_t **all = malloc(n * sizeof *all);
  if (!all) {
    snprintf(err, errlen, "out of memory");
    return TZ_CTL_INTERNAL;
  }
  for (size_t i = 0; i < CTL_NBUILTINS; i++)
    all[i] = &ctl_builtins[i];
  for (size_t i = 0; i < ctl_nmethods; i++)
    all[CTL_NBUILTINS + i] = &ctl_methods[i];
  qsort(all, n, sizeof *all, ctl_method_cmp);
  tz_jw_arr_begin(out);
  for (size_t i = 0; i < n; i++) {
    tz_jw_obj_begin(out);
    tz_jw_key(out, "name");
    tz_jw_str(out, all[i]->name);
    tz_jw_key(out, "help");
    tz_jw_str(out, all[i]->help);
    tz_jw_obj_end(out);
  }
  tz_jw_arr_end(out);
  free(all);
  return 0;
}

/* The registered name closest to a mistyped one, if close enough to be a
 * typo rather than a different word. */
static const char *ctl_method_suggest(const char *name)
{
  suggest_t sg;
  suggest_init(&sg, name);
  for (size_t i = 0; i < CTL_NBUILTINS + ctl_nmethods; i++)
    suggest_add(&sg, i < CTL_NBUILTINS ? ctl_builtins[i].name
                                       : ctl_methods[i - CTL_NBUILTINS].name);
  return suggest_best(&sg);
}

/* ---- the dispatcher -------------------------------------------------- */

static void ctl_write_error(tz_jbuf_t *out, const tz_json_t *id, int code,
                            const char *msg)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "jsonrpc");
  tz_jw_str(out, "2.0");
  tz_jw_key(out, "error");
  tz_jw_obj_begin(out);
  tz_jw_key(out, "code");
  tz_jw_int(out, code);
  tz_jw_key(out, "message");
  tz_jw_str(out, msg);
  tz_jw_obj_end(out);
  tz_jw_key(out, "id");
  tz_jw_value(out, id); /* NULL writes null */
  tz_jw_obj_end(out);
}

static void ctl_write_result(tz_jbuf_t *out, const tz_json_t *id,
                             const tz_jbuf_t *result)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "jsonrpc");
  tz_jw_str(out, "2.0");
  tz_jw_key(out, "result");
  tz_jw_raw(out, result->s, result->len);
  tz_jw_key(out, "id");
  tz_jw_value(out, id);
  tz_jw_obj_end(out);
}

static const char *ctl_default_message(int code)
{
  switch (code) {
  case TZ_CTL_INVALID_PARAMS:
    return "Invalid params";
  case TZ_CTL_INTERNAL:
    return "Internal error";
  default:
    return "Server error";
  }
}

/* Why req is not a valid request object, or NULL if it is one. */
static const char *ctl_request_check(const tz_json_t *req)
{
  if (tz_json_type(req) != TZ_JSON_OBJECT)
    return "Invalid Request: not an object";
  const tz_json_t *id = tz_json_get(req, "id");
  tz_json_type_t idt = tz_json_type(id);
  if (id && idt != TZ_JSON_STRING && idt != TZ_JSON_NUMBER &&
      idt != TZ_JSON_NULL)
    return "Invalid Request: id must be a string, a number or null";
  const char *v = tz_json_str(tz_json_get(req, "jsonrpc"));
  if (!v || strcmp(v, "2.0"))
    return "Invalid Request: \"jsonrpc\" must be \"2.0\"";
  if (!tz_json_str(tz_json_get(req, "method")))
    return "Invalid Request: \"method\" must be a string";
  const tz_json_t *params = tz_json_get(req, "params");
  tz_json_type_t pt = tz_json_type(params);
  if (params && pt != TZ_JSON_ARRAY && pt != TZ_JSON_OBJECT)
    return "Invalid Request: \"params\" must be an array or an object";
  return NULL;
}

/* Runs the method; the result goes to out only if there is an id. A
 * handler's output is collected apart because a failure discards it. */
static void ctl_call(const ctl_method_t *m, const tz_json_t *req,
                     tz_jbuf_t *out)
{
  const tz_json_t *id = tz_json_get(req, "id");
  tz_jbuf_t result;
  tz_jbuf_init(&result);
  char *err = calloc(1, CTL_ERR_MAX);
  const tz_json_t *params = tz_json_get(req, "params");
  int code = !err ? TZ_CTL_INTERNAL
             : m->fnc ? m->fnc(m->ctx, params, &result, err, CTL_ERR_MAX)
                      : m->fn(params, &result, err, CTL_ERR_MAX);
  if (!id) {
    /* a notification: nobody hears the outcome */
  } else if (code) {
    ctl_write_error(out, id, code,
                    err && *err ? err : ctl_default_message(code));
  } else if (result.err || result.depth || !result.len) {
    ctl_write_error(out, id, TZ_CTL_INTERNAL,
                    "Internal error: the method wrote no valid result");
  } else {
    ctl_write_result(out, id, &result);
  }
  free(err);
  tz_jbuf_free(&result);
}

static void ctl_dispatch_one(const tz_json_t *req, tz_jbuf_t *out)
{
  const char *why = ctl_request_check(req);
  const tz_json_t *id = tz_json_get(req, "id");
  if (why) {
    /* answered even without an id: the spec says a broken request is
     * not a notification; the id is echoed only if it is a valid one */
    tz_json_type_t t = tz_json_type(id);
    int id_ok = t == TZ_JSON_STRING || t == TZ_JSON_NUMBER;
    ctl_write_error(out, id_ok ? id : NULL, TZ_CTL_INVALID_REQUEST, why);
    return;
  }
  const char *name = tz_json_str(tz_json_get(req, "method"));
  const ctl_method_t *m = ctl_method_find(name);
  if (m) {
    ctl_call(m, req, out);
    return;
  }
  if (!id)
    return;
  char msg[512];
  const char *near = ctl_method_suggest(name);
  if (near)
    snprintf(msg, sizeof msg, "Method not found: %s (did you mean %s?)",
             name, near);
  else
    snprintf(msg, sizeof msg, "Method not found: %s", name);
  ctl_write_error(out, id, TZ_CTL_NO_METHOD, msg);
}

/* Answers only the requests that have ids; if none do, writes nothing. */
static void ctl_dispatch_batch(const tz_json_t *batch, tz_jbuf_t *out)
{
  size_t n = tz_json_len(batch);
  if (!n) {
    ctl_write_error(out, NULL, TZ_CTL_INVALID_REQUEST,
                    "Invalid Request: empty batch");
    return;
  }
  tz_jbuf_t responses;
  tz_jbuf_init(&responses);
  tz_jw_arr_begin(&responses);
  size_t empty = responses.len;
  for (size_t i = 0; i < n; i++)
    ctl_dispatch_one(tz_json_at(batch, i), &responses);
  tz_jw_arr_end(&responses);
  if (responses.err)
    out->err = 1;
  else if (responses.len > empty + 1)
    tz_jw_raw(out, responses.s, responses.len);
  tz_jbuf_free(&responses);
}

void tz_ctl_dispatch(const char *text, size_t len, tz_jbuf_t *out)
{
  char err[256], msg[300];
  tz_json_t *req = tz_json_parse(text, len, err, sizeof err);
  if (!req) {
    snprintf(msg, sizeof msg, "Parse error: %s", err);
    ctl_write_error(out, NULL, TZ_CTL_PARSE_ERROR, msg);
  } else if (tz_json_type(req) == TZ_JSON_ARRAY) {
    ctl_dispatch_batch(req, out);
  } else {
    ctl_dispatch_one(req, out);
  }
  tz_json_free(req);
}

/* ---- the stream server ------------------------------------------------- */

typedef struct ctl_conn {
  struct ctl_conn *next, **prevp;
  tz_ctl_server_t *srv;
  int fd;
  tz_fdwatch_t *watch;
  unsigned events; /* what watch waits for */
  char *in;
  size_t inlen, incap;
  tz_jbuf_t out;
  size_t sent; /* bytes of out already written */
  int done;    /* close once out is sent */
} ctl_conn_t;

struct tz_ctl_server {
  int fd;
  tz_fdwatch_t *watch;
  char *name;
  size_t max_in;
  tz_ctl_input_f input;
  ctl_conn_t *conns;
  unsigned nconns;
};

static int ctl_fd_prepare(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fcntl(fd, F_GETFD);
  if (fl < 0 || fdfl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
    return -1;
  return 0;
}

static void ctl_conn_close(ctl_conn_t *c)
{
  if ((*c->prevp = c->next))
    c->next->prevp = c->prevp;
  c->srv->nconns--;
  tz_fd_unwatch(c->watch);
  close(c->fd);
  free(c->in);
  tz_jbuf_free(&c->out);
  free(c);
}

static void ctl_conn_ready(tz_modinst_t *mod, int fd, unsigned revents,
                           void *arg);

/* A watch cannot change its events, so a change is a new watch. */
static int ctl_conn_watch(ctl_conn_t *c, unsigned events)
{
  if (c->watch && c->events == events)
    return 0;
  tz_fd_unwatch(c->watch);
  c->events = events;
  c->watch = tz_fd_watch(NULL, c->fd, events, ctl_conn_ready, c);
  return c->watch ? 0 : -1;
}

/* Sends what it can without blocking. While output is pending the
 * connection is not read: a client that does not read its answers stops
 * being served instead of growing our buffers. */
static void ctl_conn_flush(ctl_conn_t *c)
{
  while (c->sent < c->out.len) {
    ssize_t n = send(c->fd, c->out.s + c->sent, c->out.len - c->sent,
                     MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n < 0) {
      ctl_conn_close(c);
      return;
    }
    c->sent += (size_t)n;
  }
  if (c->sent < c->out.len) {
    if (ctl_conn_watch(c, TZ_FD_OUT) < 0)
      ctl_conn_close(c);
    return;
  }
  c->out.len = c->sent = 0;
  if (c->done || ctl_conn_watch(c, TZ_FD_IN) < 0)
    ctl_conn_close(c);
}

static void ctl_conn_process(ctl_conn_t *c, int eof)
{
  tz_ctl_server_t *s = c->srv;
  size_t used = s->input(c->in, c->inlen, eof, &c->out, &c->done);
  memmove(c->in, c->in + used, c->inlen - used);
  c->inlen -= used;
  if (eof)
    c->done = 1;
  if (c->out.err) {
    tz_log(TZ_LOG_ERR, "%s: out of memory writing a response", s->name);
    ctl_conn_close(c);
  } else if (!c->done && c->inlen >= s->max_in) {
    tz_log(TZ_LOG_ERR, "%s: request too large, closing", s->name);
    ctl_conn_close(c);
  } else {
    ctl_conn_flush(c);
  }
}

static void ctl_conn_read(ctl_conn_t *c)
{
  size_t want = c->srv->max_in - c->inlen;
  if (want > CTL_READ_CHUNK)
    want = CTL_READ_CHUNK;
  if (c->incap - c->inlen < want) {
    char *in = realloc(c->in, c->inlen + want);
    if (!in) {
      ctl_conn_close(c);
      return;
    }
    c->in = in;
    c->incap = c->inlen + want;
  }
  ssize_t n = recv(c->fd, c->in + c->inlen, want, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n < 0) {
    ctl_conn_close(c);
    return;
  }
  c->inlen += (size_t)n;
  ctl_conn_process(c, n == 0);
}

static void ctl_conn_ready(tz_modinst_t *mod, int fd, unsigned revents,
                           void *arg)
{
  (void)mod;
  (void)fd;
  (void)revents; /* errors and hangups surface through recv and send */
  ctl_conn_t *c = arg;
  if (c->events & TZ_FD_OUT)
    ctl_conn_flush(c);
  else
    ctl_conn_read(c);
}

/* Beyond the connection limit a client is accepted and closed at once: left
 * in the backlog it would keep the listener readable and spin the loop. */
static void ctl_server_accept(tz_modinst_t *mod, int lfd, unsigned revents,
                              void *arg)
{
  (void)mod;
  (void)revents;
  tz_ctl_server_t *s = arg;
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
        errno != ECONNABORTED)
      tz_log(TZ_LOG_ERR, "%s: accept: %s", s->name, strerror(errno));
    return;
  }
  ctl_conn_t *c = NULL;
  if (s->nconns >= CTL_MAX_CONNS)
    tz_log(TZ_LOG_WARN, "%s: %d connections open, refusing another",
           s->name, CTL_MAX_CONNS);
  else if (ctl_fd_prepare(fd) == 0)
    c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  c->srv = s;
  c->fd = fd;
  tz_jbuf_init(&c->out);
  if ((c->next = s->conns))
    c->next->prevp = &c->next;
  c->prevp = &s->conns;
  s->conns = c;
  s->nconns++;
  if (ctl_conn_watch(c, TZ_FD_IN) < 0)
    ctl_conn_close(c);
}

tz_ctl_server_t *tz_ctl_server_start(int fd, const char *name, size_t max_in,
                                     tz_ctl_input_f input, char *err,
                                     size_t errlen)
{
  tz_ctl_server_t *s = calloc(1, sizeof *s);
  if (s && (s->name = strdup(name))) {
    s->fd = fd;
    s->max_in = max_in;
    s->input = input;
    s->watch = tz_fd_watch(NULL, fd, TZ_FD_IN, ctl_server_accept, s);
    if (s->watch)
      return s;
  }
  snprintf(err, errlen, "%s: cannot watch the listening socket", name);
  if (s)
    free(s->name);
  free(s);
  close(fd);
  return NULL;
}

void tz_ctl_server_stop(tz_ctl_server_t *s)
{
  if (!s)
    return;
  while (s->conns)
    ctl_conn_close(s->conns);
  tz_fd_unwatch(s->watch);
  close(s->fd);
  free(s->name);
  free(s);
}

/* ---- listening sockets ------------------------------------------------- */

static int ctl_fail(char *err, size_t errlen, int fd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats the error, closes fd if open, and returns -1. */
static int ctl_fail(char *err, size_t errlen, int fd, const char *fmt, ...)
{
  if (fd >= 0)
    close(fd);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

int tz_ctl_listen_tcp(const char *addr, char *err, size_t errlen)
{
  char host[64];
  unsigned port;
  if (tz_hostport_parse(addr, host, sizeof host, &port, 0) < 0)
    return ctl_fail(err, errlen, -1,
                    "%s: expected 127.0.0.1:PORT or [::1]:PORT", addr);
  int v6 = strchr(host, ':') != NULL;
  struct sockaddr_in sin = {0};
  struct sockaddr_in6 sin6 = {0};
  struct sockaddr *sa = v6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin;
  socklen_t salen = v6 ? sizeof sin6 : sizeof sin;
  int loopback;
  if (v6) {
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    loopback = inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1 &&
               IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr);
  } else {
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    loopback = inet_pton(AF_INET, host, &sin.sin_addr) == 1 &&
               (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
  }
  if (!loopback)
    return ctl_fail(err, errlen, -1,
                    "%s: not a loopback address (only local listeners are "
                    "allowed)",
                    host);
  int fd = socket(sa->sa_family, SOCK_STREAM, 0), one = 1;
  if (fd < 0 || ctl_fd_prepare(fd) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return ctl_fail(err, errlen, fd, "socket: %s", strerror(errno));
  if (bind(fd, sa, salen) < 0 || listen(fd, 16) < 0)
    return ctl_fail(err, errlen, fd, "cannot listen on %s: %s", addr,
                    strerror(errno));
  return fd;
}

/* The directory (/run/trapezoid) must exist for bind; its parents are the
 * system's. Failing here is not an error yet: bind will say what is wrong. */
static void ctl_mkdir_parent(const char *path)
{
  char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir)
    return;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  (void)mkdir(dir, 0755);
}

/* An existing socket file is removed only if nothing answers on it, so a
 * second daemon cannot steal a running one's socket. */
static int ctl_unix_clear(const struct sockaddr_un *sun, char *err,
                          size_t errlen)
{
  struct stat st;
  if (lstat(sun->sun_path, &st) < 0)
    return 0;
  if (!S_ISSOCK(st.st_mode))
    return ctl_fail(err, errlen, -1, "%s exists and is not a socket",
                    sun->sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || ctl_fd_prepare(fd) < 0)
    return ctl_fail(err, errlen, fd, "socket: %s", strerror(errno));
  if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0 ||
      errno == EAGAIN || errno == EINPROGRESS)
    return ctl_fail(err, errlen, fd, "another server is using %s",
                    sun->sun_path);
  if (errno != ECONNREFUSED && errno != ENOENT)
    return ctl_fail(err, errlen, fd, "cannot probe %s: %s", sun->sun_path,
                    strerror(errno));
  close(fd);
  if (unlink(sun->sun_path) < 0 && errno != ENOENT)
    return ctl_fail(err, errlen, -1, "cannot remove the stale %s: %s",
                    sun->sun_path, strerror(errno));
  return 0;
}

static int ctl_listen_unix(const char *path, struct stat *st, char *err,
                           size_t errlen)
{
  struct sockaddr_un sun = {0};
  sun.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun.sun_path)
    return ctl_fail(err, errlen, -1, "%s: socket path too long", path);
  strcpy(sun.sun_path, path);
  ctl_mkdir_parent(path);
  if (ctl_unix_clear(&sun, err, errlen) < 0)
    return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || ctl_fd_prepare(fd) < 0)
    return ctl_fail(err, errlen, fd, "socket: %s", strerror(errno));
  /* the umask closes the window between bind and chmod */
  mode_t mask = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
  umask(mask);
  if (rc < 0)
    return ctl_fail(err, errlen, fd, "cannot bind %s: %s", path,
                    strerror(errno));
  if (chmod(path, 0600) < 0 || listen(fd, 16) < 0 || lstat(path, st) < 0) {
    ctl_fail(err, errlen, fd, "cannot listen on %s: %s", path,
             strerror(errno));
    unlink(path);
    return -1;
  }
  return fd;
}

/* ---- the control server ------------------------------------------------ */

static tz_ctl_server_t *ctl_unix, *ctl_tcp;
static char *ctl_path;
static struct stat ctl_path_st; /* to unlink only the socket we made */

static void ctl_input_line(const char *line, size_t n, tz_jbuf_t *out)
{
  while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
               line[n - 1] == '\t'))
    n--;
  if (!n)
    return; /* blank lines keep interactive sessions friendly */
  size_t before = out->len;
  tz_ctl_dispatch(line, n, out);
  if (out->len > before)
    tz_jbuf_append(out, "\n", 1);
}

/* Newline-delimited JSON: one response line per request line; the last
 * line may lack its newline when the client half-closes. */
static size_t ctl_input(const char *in, size_t len, int eof, tz_jbuf_t *out,
                        int *done)
{
  size_t used = 0;
  while (used < len) {
    const char *nl = memchr(in + used, '\n', len - used);
    if (!nl && !eof)
      break;
    size_t n = nl ? (size_t)(nl - (in + used)) : len - used;
    ctl_input_line(in + used, n, out);
    used += n + (nl != NULL);
  }
  if (len - used > CTL_MAX_LINE) {
    char msg[96];
    snprintf(msg, sizeof msg, "Invalid Request: line longer than %zu bytes",
             CTL_MAX_LINE);
    ctl_write_error(out, NULL, TZ_CTL_INVALID_REQUEST, msg);
    tz_jbuf_append(out, "\n", 1);
    *done = 1;
    used = len;
  }
  return used;
}

static int ctl_start_unix(const char *path, char *err, size_t errlen)
{
  char *copy = strdup(path);
  if (!copy)
    return ctl_fail(err, errlen, -1, "out of memory");
  int fd = ctl_listen_unix(path, &ctl_path_st, err, errlen);
  if (fd >= 0 && !(ctl_unix = tz_ctl_server_start(fd, "ctl", CTL_MAX_LINE + 1,
                                                  ctl_input, err, errlen)))
    unlink(path);
  if (!ctl_unix) {
    free(copy);
    return -1;
  }
  ctl_path = copy;
  return 0;
}

void tz_ctl_stop(void)
{
  tz_ctl_server_stop(ctl_unix);
  tz_ctl_server_stop(ctl_tcp);
  ctl_unix = ctl_tcp = NULL;
  struct stat st;
  if (ctl_path && lstat(ctl_path, &st) == 0 &&
      st.st_dev == ctl_path_st.st_dev && st.st_ino == ctl_path_st.st_ino)
    unlink(ctl_path);
  free(ctl_path);
  ctl_path = NULL;
}

int tz_ctl_start(const char *unix_path, const char *tcp, char *err,
                 size_t errlen)
{
  if (ctl_unix || ctl_tcp)
    return ctl_fail(err, errlen, -1, "the control server is already running");
  if (unix_path && ctl_start_unix(unix_path, err, errlen) < 0)
    return -1;
  if (tcp) {
    int fd = tz_ctl_listen_tcp(tcp, err, errlen);
    if (fd < 0 || !(ctl_tcp = tz_ctl_server_start(fd, "ctl", CTL_MAX_LINE + 1,
                                                  ctl_input, err, errlen))) {
      tz_ctl_stop();
      return -1;
    }
  }
  return 0;
}
