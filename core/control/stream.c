/*
 * stream.c - owns the non-blocking stream servers under the control socket
 * and the metrics endpoint: listening sockets (unix, loopback TCP),
 * connections, their input and output buffers and flow control. What the
 * bytes mean is the caller's (ctl.c: JSON-RPC lines, http.c: HTTP).
 */
#define _POSIX_C_SOURCE 200809L
#include "control/stream.h"

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

#define STREAM_MAX_CONNS 64 /* per listener */
#define STREAM_READ_CHUNK 65536

/* ---- the stream server ------------------------------------------------- */

typedef struct stream_conn {
  struct stream_conn *next, **prevp;
  tz_stream_server_t *srv;
  int fd;
  tz_fdwatch_t *watch;
  unsigned events; /* what watch waits for */
  char *in;
  size_t inlen, incap;
  tz_jbuf_t out;
  size_t sent; /* bytes of out already written */
  int done;    /* close once out is sent */
} stream_conn_t;

struct tz_stream_server {
  int fd;
  tz_fdwatch_t *watch;
  char *name;
  size_t max_in;
  tz_stream_input_f input;
  stream_conn_t *conns;
  unsigned nconns;
};

static int stream_fd_prepare(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fcntl(fd, F_GETFD);
  if (fl < 0 || fdfl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
    return -1;
  return 0;
}

static void stream_conn_close(stream_conn_t *c)
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

static void stream_conn_ready(tz_modinst_t *mod, int fd, unsigned revents,
                           void *arg);

/* A watch cannot change its events, so a change is a new watch. */
static int stream_conn_watch(stream_conn_t *c, unsigned events)
{
  if (c->watch && c->events == events)
    return 0;
  tz_fd_unwatch(c->watch);
  c->events = events;
  c->watch = tz_fd_watch(NULL, c->fd, events, stream_conn_ready, c);
  return c->watch ? 0 : -1;
}

/* Sends what it can without blocking. While output is pending the
 * connection is not read: a client that does not read its answers stops
 * being served instead of growing our buffers. */
static void stream_conn_flush(stream_conn_t *c)
{
  while (c->sent < c->out.len) {
    ssize_t n = send(c->fd, c->out.s + c->sent, c->out.len - c->sent,
                     MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n < 0) {
      stream_conn_close(c);
      return;
    }
    c->sent += (size_t)n;
  }
  if (c->sent < c->out.len) {
    if (stream_conn_watch(c, TZ_FD_OUT) < 0)
      stream_conn_close(c);
    return;
  }
  c->out.len = c->sent = 0;
  if (c->done || stream_conn_watch(c, TZ_FD_IN) < 0)
    stream_conn_close(c);
}

static void stream_conn_process(stream_conn_t *c, int eof)
{
  tz_stream_server_t *s = c->srv;
  size_t used = s->input(c->in, c->inlen, eof, &c->out, &c->done);
  memmove(c->in, c->in + used, c->inlen - used);
  c->inlen -= used;
  if (eof)
    c->done = 1;
  if (c->out.err) {
    tz_log(TZ_LOG_ERR, "%s: out of memory writing a response", s->name);
    stream_conn_close(c);
  } else if (!c->done && c->inlen >= s->max_in) {
    tz_log(TZ_LOG_ERR, "%s: request too large, closing", s->name);
    stream_conn_close(c);
  } else {
    stream_conn_flush(c);
  }
}

static void stream_conn_read(stream_conn_t *c)
{
  size_t want = c->srv->max_in - c->inlen;
  if (want > STREAM_READ_CHUNK)
    want = STREAM_READ_CHUNK;
  if (c->incap - c->inlen < want) {
    char *in = realloc(c->in, c->inlen + want);
    if (!in) {
      stream_conn_close(c);
      return;
    }
    c->in = in;
    c->incap = c->inlen + want;
  }
  ssize_t n = recv(c->fd, c->in + c->inlen, want, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n < 0) {
    stream_conn_close(c);
    return;
  }
  c->inlen += (size_t)n;
  stream_conn_process(c, n == 0);
}

static void stream_conn_ready(tz_modinst_t *mod, int fd, unsigned revents,
                           void *arg)
{
  (void)mod;
  (void)fd;
  (void)revents; /* errors and hangups surface through recv and send */
  stream_conn_t *c = arg;
  if (c->events & TZ_FD_OUT)
    stream_conn_flush(c);
  else
    stream_conn_read(c);
}

/* Beyond the connection limit a client is accepted and closed at once: left
 * in the backlog it would keep the listener readable and spin the loop. */
static void stream_server_accept(tz_modinst_t *mod, int lfd, unsigned revents,
                              void *arg)
{
  (void)mod;
  (void)revents;
  tz_stream_server_t *s = arg;
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
        errno != ECONNABORTED)
      tz_log(TZ_LOG_ERR, "%s: accept: %s", s->name, strerror(errno));
    return;
  }
  stream_conn_t *c = NULL;
  if (s->nconns >= STREAM_MAX_CONNS)
    tz_log(TZ_LOG_WARN, "%s: %d connections open, refusing another",
           s->name, STREAM_MAX_CONNS);
  else if (stream_fd_prepare(fd) == 0)
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
  if (stream_conn_watch(c, TZ_FD_IN) < 0)
    stream_conn_close(c);
}

tz_stream_server_t *tz_stream_start(int fd, const char *name, size_t max_in,
                                     tz_stream_input_f input, char *err,
                                     size_t errlen)
{
  tz_stream_server_t *s = calloc(1, sizeof *s);
  if (s && (s->name = strdup(name))) {
    s->fd = fd;
    s->max_in = max_in;
    s->input = input;
    s->watch = tz_fd_watch(NULL, fd, TZ_FD_IN, stream_server_accept, s);
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

void tz_stream_stop(tz_stream_server_t *s)
{
  if (!s)
    return;
  while (s->conns)
    stream_conn_close(s->conns);
  tz_fd_unwatch(s->watch);
  close(s->fd);
  free(s->name);
  free(s);
}

/* ---- listening sockets ------------------------------------------------- */

static int stream_fail(char *err, size_t errlen, int fd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats the error, closes fd if open, and returns -1. */
static int stream_fail(char *err, size_t errlen, int fd, const char *fmt, ...)
{
  if (fd >= 0)
    close(fd);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

int tz_stream_listen_tcp(const char *addr, char *err, size_t errlen)
{
  char host[64];
  unsigned port;
  if (tz_hostport_parse(addr, host, sizeof host, &port, 0) < 0)
    return stream_fail(err, errlen, -1,
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
    return stream_fail(err, errlen, -1,
                    "%s: not a loopback address (only local listeners are "
                    "allowed)",
                    host);
  int fd = socket(sa->sa_family, SOCK_STREAM, 0), one = 1;
  if (fd < 0 || stream_fd_prepare(fd) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return stream_fail(err, errlen, fd, "socket: %s", strerror(errno));
  if (bind(fd, sa, salen) < 0 || listen(fd, 16) < 0)
    return stream_fail(err, errlen, fd, "cannot listen on %s: %s", addr,
                    strerror(errno));
  return fd;
}

/* The directory (/run/trapezoid) must exist for bind; its parents are the
 * system's. Failing here is not an error yet: bind will say what is wrong. */
static void stream_mkdir_parent(const char *path)
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
static int stream_unix_clear(const struct sockaddr_un *sun, char *err,
                          size_t errlen)
{
  struct stat st;
  if (lstat(sun->sun_path, &st) < 0)
    return 0;
  if (!S_ISSOCK(st.st_mode))
    return stream_fail(err, errlen, -1, "%s exists and is not a socket",
                    sun->sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || stream_fd_prepare(fd) < 0)
    return stream_fail(err, errlen, fd, "socket: %s", strerror(errno));
  if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0 ||
      errno == EAGAIN || errno == EINPROGRESS)
    return stream_fail(err, errlen, fd, "another server is using %s",
                    sun->sun_path);
  if (errno != ECONNREFUSED && errno != ENOENT)
    return stream_fail(err, errlen, fd, "cannot probe %s: %s", sun->sun_path,
                    strerror(errno));
  close(fd);
  if (unlink(sun->sun_path) < 0 && errno != ENOENT)
    return stream_fail(err, errlen, -1, "cannot remove the stale %s: %s",
                    sun->sun_path, strerror(errno));
  return 0;
}

int tz_stream_listen_unix(const char *path, struct stat *st, char *err,
                           size_t errlen)
{
  struct sockaddr_un sun = {0};
  sun.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun.sun_path)
    return stream_fail(err, errlen, -1, "%s: socket path too long", path);
  strcpy(sun.sun_path, path);
  stream_mkdir_parent(path);
  if (stream_unix_clear(&sun, err, errlen) < 0)
    return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || stream_fd_prepare(fd) < 0)
    return stream_fail(err, errlen, fd, "socket: %s", strerror(errno));
  /* the umask closes the window between bind and chmod */
  mode_t mask = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
  umask(mask);
  if (rc < 0)
    return stream_fail(err, errlen, fd, "cannot bind %s: %s", path,
                    strerror(errno));
  if (chmod(path, 0600) < 0 || listen(fd, 16) < 0 || lstat(path, st) < 0) {
    stream_fail(err, errlen, fd, "cannot listen on %s: %s", path,
             strerror(errno));
    unlink(path);
    return -1;
  }
  return fd;
}

