/*
 * test_ctl.c - the control interface: JSON-RPC dispatch (results, errors,
 * invalid requests, notifications, batches, id echo), the unix and TCP
 * listeners on the event loop (framing, socket mode, stale and live socket
 * files, limits, slow readers), and the HTTP metrics endpoint.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "control/ctl.h"
#include "control/stream.h"
#include "runtime/command.h"
#include "runtime/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BIG_RESULT ((size_t)1 << 20)

static char tmpdir[] = "/tmp/tz-ctl-XXXXXX";
static char err[512];
static int notified;

/* ---- test methods ---------------------------------------------------- */

static int m_echo(tz_modinst_t *mod, const tz_json_t *params, tz_jbuf_t *out, char *e, size_t n)
{
  (void)mod;
  (void)e;
  (void)n;
  tz_jw_value(out, params);
  return 0;
}

static int m_fail(tz_modinst_t *mod, const tz_json_t *params, tz_jbuf_t *out, char *e, size_t n)
{
  (void)mod;
  (void)params;
  tz_jw_str(out, "discarded");
  snprintf(e, n, "file:1:2: error: no way\n  quoted\n  ^");
  return TZ_CTL_REFUSED;
}

static int m_fail_quiet(tz_modinst_t *mod, const tz_json_t *params, tz_jbuf_t *out, char *e,
                        size_t n)
{
  (void)mod;
  (void)params;
  (void)out;
  (void)e;
  (void)n;
  return TZ_CTL_INVALID_PARAMS;
}

static int m_broken(tz_modinst_t *mod, const tz_json_t *params, tz_jbuf_t *out, char *e,
                    size_t n)
{
  (void)mod;
  (void)params;
  (void)e;
  (void)n;
  tz_jw_arr_begin(out); /* never closed */
  return 0;
}

static int m_notify(tz_modinst_t *mod, const tz_json_t *params, tz_jbuf_t *out, char *e,
                    size_t n)
{
  (void)mod;
  (void)params;
  (void)e;
  (void)n;
  notified++;
  tz_jw_null(out);
  return 0;
}

static int m_big(tz_modinst_t *mod, const tz_json_t *params, tz_jbuf_t *out, char *e, size_t n)
{
  (void)mod;
  (void)params;
  (void)e;
  (void)n;
  char *s = malloc(BIG_RESULT + 1);
  memset(s, 'x', BIG_RESULT);
  s[BIG_RESULT] = '\0';
  tz_jw_str(out, s);
  free(s);
  return 0;
}

/* The test's commands, as the core's own (no module). */
static tz_owner_t methods;

static int reg(const char *name, tz_rpc_f fn, const char *help)
{
  return tz_command_register(&methods, NULL, name, fn, help);
}

static void unregister_all(void) { tz_owner_release(&methods, NULL); }

static void register_methods(void)
{
  unregister_all();
  CU_ASSERT_EQUAL(reg("echo", m_echo, "return the params"), 0);
  CU_ASSERT_EQUAL(reg("fail", m_fail, NULL), 0);
  CU_ASSERT_EQUAL(reg("fail.quiet", m_fail_quiet, "x"), 0);
  CU_ASSERT_EQUAL(reg("broken", m_broken, "x"), 0);
  CU_ASSERT_EQUAL(reg("notify", m_notify, "x"), 0);
  CU_ASSERT_EQUAL(reg("big", m_big, "x"), 0);
}

static tz_jbuf_t dispatched;

/* The dispatcher's output for one request text ("" for none). */
static const char *call(const char *req)
{
  tz_jbuf_t *out = &dispatched;
  tz_jbuf_free(out);
  tz_ctl_dispatch(req, strlen(req), out);
  CU_ASSERT_EQUAL(out->err, 0);
  return out->s ? out->s : "";
}

#define ASSERT_CALL(req, want)                                               \
  do {                                                                       \
    const char *got_ = call(req);                                            \
    if (strcmp(got_, want))                                                  \
      fprintf(stderr, "\n  request %s\n  got  %s\n  want %s\n", req, got_,   \
              want);                                                         \
    CU_ASSERT_STRING_EQUAL(got_, want);                                      \
  } while (0)

/* ---- dispatch ------------------------------------------------------------ */

static void test_results(void)
{
  register_methods();
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1,\"a\"],"
              "\"id\":1}",
              "{\"jsonrpc\":\"2.0\",\"result\":[1,\"a\"],\"id\":1}");
  ASSERT_CALL("{\"id\":\"abc\",\"method\":\"echo\",\"jsonrpc\":\"2.0\","
              "\"params\":{\"k\":null}}",
              "{\"jsonrpc\":\"2.0\",\"result\":{\"k\":null},\"id\":\"abc\"}");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":null}",
              "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":null}");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":-1.50e3}",
              "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":-1.50e3}");
}

static void test_handler_errors(void)
{
  register_methods();
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":7}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":"
              "\"file:1:2: error: no way\\n  quoted\\n  ^\"},\"id\":7}");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"fail.quiet\",\"id\":8}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":"
              "\"Invalid params\"},\"id\":8}");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"broken\",\"id\":9}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":"
              "\"Internal error: the method wrote no valid result\"},"
              "\"id\":9}");
}

static void test_unknown_method(void)
{
  register_methods();
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"ecoh\",\"id\":1}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":"
              "\"Method not found: ecoh (did you mean echo?)\"},\"id\":1}");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"fail.quit\",\"id\":1}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":"
              "\"Method not found: fail.quit (did you mean fail.quiet?)\"},"
              "\"id\":1}");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"shutdown\",\"id\":1}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":"
              "\"Method not found: shutdown\"},\"id\":1}");
}

static void test_parse_error(void)
{
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,}",
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":"
              "\"Parse error: 1:40: trailing comma before '}'\"},"
              "\"id\":null}");
  const char *got = call("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\"");
  CU_ASSERT_PTR_NOT_NULL(strstr(got, "\"code\":-32700"));
  CU_ASSERT_PTR_NOT_NULL(strstr(got, "\"id\":null}"));
}

static void test_invalid_requests(void)
{
  register_methods();
  static const struct {
    const char *req, *msg, *id;
  } bad[] = {
    {"{\"method\":\"echo\",\"id\":1}", "\"jsonrpc\" must be \"2.0\"", "1"},
    {"{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":\"s\"}",
     "\"jsonrpc\" must be \"2.0\"", "\"s\""},
    {"{\"jsonrpc\":2.0,\"method\":\"echo\",\"id\":1}",
     "\"jsonrpc\" must be \"2.0\"", "1"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1}", "\"method\" must be a string", "1"},
    {"{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",
     "\"method\" must be a string", "1"},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":\"x\",\"id\":1}",
     "\"params\" must be an array or an object", "1"},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":3}",
     "\"params\" must be an array or an object", "null"},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{}}",
     "id must be a string, a number or null", "null"},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":true}",
     "id must be a string, a number or null", "null"},
    {"5", "not an object", "null"},
    {"\"echo\"", "not an object", "null"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    /* the message embeds quotes: escape them as the writer does */
    char want[512];
    tz_jbuf_t w;
    tz_jbuf_init(&w);
    char msg[200];
    snprintf(msg, sizeof msg, "Invalid Request: %s", bad[i].msg);
    tz_jw_str(&w, msg);
    snprintf(want, sizeof want,
             "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":%s},"
             "\"id\":%s}",
             w.s, bad[i].id);
    tz_jbuf_free(&w);
    ASSERT_CALL(bad[i].req, want);
  }
}

static void test_notifications(void)
{
  register_methods();
  notified = 0;
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"notify\"}", "");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"notify\",\"params\":[]}", "");
  CU_ASSERT_EQUAL(notified, 2);
  /* errors of notifications are not reported either */
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"fail\"}", "");
  ASSERT_CALL("{\"jsonrpc\":\"2.0\",\"method\":\"nosuch\"}", "");
}

static void test_batches(void)
{
  register_methods();
  notified = 0;
  ASSERT_CALL("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],"
              "\"id\":1},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"notify\"},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"nosuch\",\"id\":\"b\"},"
              "{\"foo\":\"boo\"}, 1]",
              "[{\"jsonrpc\":\"2.0\",\"result\":[1],\"id\":1},"
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":"
              "\"Method not found: nosuch\"},\"id\":\"b\"},"
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":"
              "\"Invalid Request: \\\"jsonrpc\\\" must be \\\"2.0\\\"\"},"
              "\"id\":null},"
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":"
              "\"Invalid Request: not an object\"},\"id\":null}]");
  CU_ASSERT_EQUAL(notified, 1);
  ASSERT_CALL("[{\"jsonrpc\":\"2.0\",\"method\":\"notify\"},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"notify\"}]",
              "");
  CU_ASSERT_EQUAL(notified, 3);
  ASSERT_CALL("[]", "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,"
                    "\"message\":\"Invalid Request: empty batch\"},"
                    "\"id\":null}");
}

static void test_registry(void)
{
  register_methods();
  CU_ASSERT_NOT_EQUAL(reg("echo", m_echo, "again"), 0);
  CU_ASSERT_NOT_EQUAL(reg("help", m_echo, "mine"), 0);
  CU_ASSERT_NOT_EQUAL(reg("rpc.discover", m_echo, ""), 0);
  CU_ASSERT_NOT_EQUAL(reg("", m_echo, ""), 0);
  CU_ASSERT_NOT_EQUAL(reg("x", NULL, ""), 0);
  const char *got = call("{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"id\":1}");
  /* sorted by name, the built-in help among them */
  const char *big = strstr(got, "{\"name\":\"big\"");
  const char *echo =
      strstr(got, "{\"name\":\"echo\",\"help\":\"return the params\"}");
  const char *fail = strstr(got, "{\"name\":\"fail\",\"help\":\"\"}");
  const char *help = strstr(got, "{\"name\":\"help\"");
  CU_ASSERT_TRUE(big && echo && fail && help && big < echo && echo < fail &&
                 fail < help);
  unregister_all();
  got = call("{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"id\":1}");
  CU_ASSERT_PTR_NOT_NULL(strstr(got, "\"help\""));
  CU_ASSERT_PTR_NULL(strstr(got, "echo"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}"),
             "-32601"));
}

/* ---- sockets --------------------------------------------------------- */

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static size_t count_lines(const tz_jbuf_t *b)
{
  size_t n = 0;
  for (size_t i = 0; i < b->len; i++)
    n += b->s[i] == '\n';
  return n;
}

/* Steps the loop and reads fd until `lines` newlines have arrived (0: until
 * the peer closes) or 5 s have passed. Returns 1 if the peer closed. */
static int pump_read(int fd, tz_jbuf_t *in, size_t lines)
{
  long long end = now_ms() + 5000;
  while (now_ms() < end && (!lines || count_lines(in) < lines)) {
    su_root_step(tz_loop_root(), 5);
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
      tz_jbuf_append(in, buf, (size_t)n);
    if (n == 0)
      return 1;
  }
  return 0;
}

/* Sends everything, stepping the loop while the socket is full. */
static void pump_send(int fd, const char *s, size_t len)
{
  long long end = now_ms() + 5000;
  while (len && now_ms() < end) {
    ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
    if (n > 0) {
      s += n;
      len -= (size_t)n;
    } else {
      CU_ASSERT_FATAL(errno == EAGAIN || errno == EWOULDBLOCK);
      su_root_step(tz_loop_root(), 5);
    }
  }
  CU_ASSERT_EQUAL(len, 0);
}

static void steps(int n)
{
  for (int i = 0; i < n; i++)
    su_root_step(tz_loop_root(), 1);
}

static int nonblocking(int fd)
{
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void unix_addr(struct sockaddr_un *sun, const char *path)
{
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  CU_ASSERT_FATAL(strlen(path) < sizeof sun->sun_path);
  memcpy(sun->sun_path, path, strlen(path) + 1);
}

static int client_unix(const char *path)
{
  struct sockaddr_un sun;
  unix_addr(&sun, path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
  return nonblocking(fd);
}

static int client_tcp(unsigned short port)
{
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
  return nonblocking(fd);
}

/* A port nobody listens on right now. */
static unsigned short free_port(void)
{
  struct sockaddr_in sin = {0};
  socklen_t len = sizeof sin;
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bind(fd, (struct sockaddr *)&sin, sizeof sin);
  getsockname(fd, (struct sockaddr *)&sin, &len);
  close(fd);
  return ntohs(sin.sin_port);
}

static const char *sock_path(const char *name)
{
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  return path;
}

#define REQ(method, id)                                                      \
  "{\"jsonrpc\":\"2.0\",\"method\":\"" method "\",\"id\":" #id "}"

static void test_unix_server(void)
{
  register_methods();
  char path[256];
  snprintf(path, sizeof path, "%s", sock_path("run/ctl.sock"));
  CU_ASSERT_EQUAL_FATAL(tz_ctl_start(path, NULL, err, sizeof err), 0);
  struct stat st;
  CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
  CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
  CU_ASSERT_EQUAL(stat(sock_path("run"), &st), 0); /* made for us */
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0755);
  CU_ASSERT_NOT_EQUAL(tz_ctl_start(sock_path("x.sock"), NULL, err, sizeof err),
                      0);

  /* two requests in one write, a blank line, a CRLF line: two answers */
  int fd = client_unix(path);
  const char *reqs = REQ("echo", 1) "\n\n" REQ("nosuch", 2) "\r\n";
  pump_send(fd, reqs, strlen(reqs));
  tz_jbuf_t in;
  tz_jbuf_init(&in);
  pump_read(fd, &in, 2);
  CU_ASSERT_STRING_EQUAL(
      in.s, "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":1}\n"
            "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":"
            "\"Method not found: nosuch\"},\"id\":2}\n");
  /* a request split across writes, then a half-close without newline */
  tz_jbuf_free(&in);
  const char *part1 = "{\"jsonrpc\":\"2.0\",", *part2 = "\"method\":\"echo\",\"id\":3}";
  pump_send(fd, part1, strlen(part1));
  steps(3);
  pump_send(fd, part2, strlen(part2));
  shutdown(fd, SHUT_WR);
  CU_ASSERT_EQUAL(pump_read(fd, &in, 0), 1);
  CU_ASSERT_STRING_EQUAL(in.s,
                         "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":3}\n");
  tz_jbuf_free(&in);
  close(fd);

  tz_ctl_stop();
  CU_ASSERT_EQUAL(access(path, F_OK), -1); /* unlinked */
  tz_ctl_stop(); /* twice is harmless */
}

static void test_socket_files(void)
{
  const char *path = sock_path("busy.sock");
  struct sockaddr_un sun;
  unix_addr(&sun, path);
  /* another server answers on the path: refuse, and leave its file */
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  CU_ASSERT_EQUAL_FATAL(bind(other, (struct sockaddr *)&sun, sizeof sun), 0);
  CU_ASSERT_EQUAL_FATAL(listen(other, 4), 0);
  CU_ASSERT_NOT_EQUAL(tz_ctl_start(path, NULL, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "another server is using"));
  CU_ASSERT_EQUAL(access(path, F_OK), 0);
  /* it died without cleaning up: the stale file is replaced */
  close(other);
  CU_ASSERT_EQUAL(access(path, F_OK), 0);
  CU_ASSERT_EQUAL_FATAL(tz_ctl_start(path, NULL, err, sizeof err), 0);
  int fd = client_unix(path);
  pump_send(fd, REQ("echo", 4) "\n", strlen(REQ("echo", 4)) + 1);
  tz_jbuf_t in;
  tz_jbuf_init(&in);
  pump_read(fd, &in, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(in.s ? in.s : "", "\"id\":4"));
  tz_jbuf_free(&in);
  close(fd);
  tz_ctl_stop();
  /* a regular file is never removed */
  path = sock_path("file");
  FILE *f = fopen(path, "w");
  fclose(f);
  CU_ASSERT_NOT_EQUAL(tz_ctl_start(path, NULL, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a socket"));
  CU_ASSERT_EQUAL(access(path, F_OK), 0);
}

static void test_tcp_server(void)
{
  static const char *const refused[] = {
    "0.0.0.0:4000", "192.0.2.1:4000", "[::]:4000", "localhost:4000",
    "127.0.0.1",    "127.0.0.1:0",    "127.0.0.1:70000", "[::1:4000",
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    CU_ASSERT_NOT_EQUAL(tz_ctl_start(NULL, refused[i], err, sizeof err), 0);
    int fd = tz_stream_listen_tcp(refused[i], err, sizeof err);
    CU_ASSERT_EQUAL(fd, -1);
  }
  register_methods();
  unsigned short port = free_port();
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
  const char *path = sock_path("tcp.sock");
  CU_ASSERT_EQUAL_FATAL(tz_ctl_start(path, addr, err, sizeof err), 0);
  int fd = client_tcp(port);
  pump_send(fd, REQ("echo", 5) "\n", strlen(REQ("echo", 5)) + 1);
  tz_jbuf_t in;
  tz_jbuf_init(&in);
  pump_read(fd, &in, 1);
  CU_ASSERT_STRING_EQUAL(in.s ? in.s : "",
                         "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":5}\n");
  tz_jbuf_free(&in);
  close(fd);
  tz_ctl_stop();
  CU_ASSERT_EQUAL(access(path, F_OK), -1);
  /* a failing TCP listener undoes the unix one */
  CU_ASSERT_NOT_EQUAL(tz_ctl_start(path, "10.1.1.1:5", err, sizeof err), 0);
  CU_ASSERT_EQUAL(access(path, F_OK), -1);
}

static void test_limits(void)
{
  register_methods();
  const char *path = sock_path("limits.sock");
  CU_ASSERT_EQUAL_FATAL(tz_ctl_start(path, NULL, err, sizeof err), 0);

  /* an endless line: one error answer, then the server hangs up */
  int fd = client_unix(path);
  size_t n = ((size_t)1 << 20) + 100;
  char *line = malloc(n);
  memset(line, ' ', n);
  pump_send(fd, line, n);
  free(line);
  tz_jbuf_t in;
  tz_jbuf_init(&in);
  CU_ASSERT_EQUAL(pump_read(fd, &in, 0), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(in.s ? in.s : "", "\"code\":-32600"));
  CU_ASSERT_PTR_NOT_NULL(strstr(in.s ? in.s : "", "line longer than"));
  CU_ASSERT_EQUAL(count_lines(&in), 1);
  tz_jbuf_free(&in);
  close(fd);

  /* 64 connections are served; the 65th is closed at once */
  int fds[65];
  for (int i = 0; i < 65; i++) {
    fds[i] = client_unix(path);
    steps(2);
  }
  CU_ASSERT_EQUAL(pump_read(fds[64], &in, 0), 1);
  tz_jbuf_free(&in);
  pump_send(fds[63], REQ("echo", 6) "\n", strlen(REQ("echo", 6)) + 1);
  pump_read(fds[63], &in, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(in.s ? in.s : "", "\"id\":6"));
  tz_jbuf_free(&in);
  for (int i = 0; i < 65; i++)
    close(fds[i]);
  steps(10);

  /* a client that does not read its answers does not stall the loop, and
   * gets every answer once it reads */
  fd = client_unix(path);
  const char *reqs = REQ("big", 1) "\n" REQ("big", 2) "\n" REQ("big", 3) "\n"
                     REQ("echo", 4) "\n";
  pump_send(fd, reqs, strlen(reqs));
  long long start = now_ms();
  steps(50);
  CU_ASSERT_TRUE(now_ms() - start < 2000);
  pump_read(fd, &in, 4);
  CU_ASSERT_EQUAL(count_lines(&in), 4);
  CU_ASSERT_TRUE(in.len > 3 * BIG_RESULT);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(in.s ? in.s : "", "{\"jsonrpc\":\"2.0\",\"result\":null,"
                               "\"id\":4}\n"));
  tz_jbuf_free(&in);
  close(fd);

  /* stopping with clients connected closes them */
  fd = client_unix(path);
  steps(5);
  tz_ctl_stop();
  CU_ASSERT_EQUAL(pump_read(fd, &in, 0), 1);
  tz_jbuf_free(&in);
  close(fd);
}

/* ---- HTTP ---------------------------------------------------------------- */

static void metrics_text(tz_jbuf_t *text)
{
  tz_jbuf_printf(text, "# TYPE tz_requests_total counter\n"
                       "tz_requests_total{method=\"INVITE\"} %d\n",
                 12);
}

/* The whole response to one raw request, sent with a half-close. */
static char *http_get(unsigned short port, const char *req)
{
  int fd = client_tcp(port);
  pump_send(fd, req, strlen(req));
  shutdown(fd, SHUT_WR);
  tz_jbuf_t in;
  tz_jbuf_init(&in);
  CU_ASSERT_EQUAL(pump_read(fd, &in, 0), 1);
  close(fd);
  if (!in.s)
    tz_jbuf_append(&in, "", 0);
  return in.s;
}

static void test_http(void)
{
  CU_ASSERT_NOT_EQUAL(tz_http_start("0.0.0.0:9100", metrics_text, err,
                                    sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a loopback address"));
  unsigned short port = free_port();
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
  CU_ASSERT_EQUAL_FATAL(tz_http_start(addr, metrics_text, err, sizeof err),
                        0);
  const char *body = "# TYPE tz_requests_total counter\n"
                     "tz_requests_total{method=\"INVITE\"} 12\n";
  char want[512];
  snprintf(want, sizeof want,
           "HTTP/1.1 200 OK\r\n"
           "Content-Type: text/plain; version=0.0.4\r\n"
           "Content-Length: %zu\r\n"
           "Connection: close\r\n\r\n%s",
           strlen(body), body);
  char *r = http_get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CU_ASSERT_STRING_EQUAL(r, want);
  free(r);
  r = http_get(port, "GET /?x=1 HTTP/1.0\n\n");
  CU_ASSERT_STRING_EQUAL(r, want);
  free(r);
  r = http_get(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
  CU_ASSERT_NSTRING_EQUAL(r, want, strlen(want) - strlen(body));
  CU_ASSERT_EQUAL(strlen(r), strlen(want) - strlen(body));
  free(r);
  r = http_get(port, "GET /other HTTP/1.1\r\n\r\n");
  CU_ASSERT_NSTRING_EQUAL(r, "HTTP/1.1 404 Not Found\r\n", 24);
  free(r);
  r = http_get(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  CU_ASSERT_NSTRING_EQUAL(r, "HTTP/1.1 405 Method Not Allowed\r\n", 33);
  CU_ASSERT_PTR_NOT_NULL(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
  free(r);
  r = http_get(port, "hello\r\n\r\n");
  CU_ASSERT_NSTRING_EQUAL(r, "HTTP/1.1 400 Bad Request\r\n", 26);
  free(r);
  char big[9000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
  r = http_get(port, big);
  CU_ASSERT_NSTRING_EQUAL(r, "HTTP/1.1 431 ", 13);
  free(r);
  r = http_get(port, "GET /metr"); /* then a half-close: no answer */
  CU_ASSERT_STRING_EQUAL(r, "");
  free(r);
  CU_ASSERT_NOT_EQUAL(tz_http_start(addr, metrics_text, err, sizeof err), 0);
  tz_http_stop();
  tz_http_stop();
}

/* ---- main ---------------------------------------------------------------- */

static int suite_setup(void)
{
  if (!mkdtemp(tmpdir) || tz_loop_init() < 0)
    return -1;
  return 0;
}

static int suite_teardown(void)
{
  unregister_all();
  tz_loop_deinit();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const tz_unit_test_t dispatch_tests[] = {
  {"results and id echo", test_results},
  {"handler errors", test_handler_errors},
  {"unknown methods", test_unknown_method},
  {"parse errors", test_parse_error},
  {"invalid requests", test_invalid_requests},
  {"notifications", test_notifications},
  {"batches", test_batches},
  {"registry and help", test_registry},
  {NULL, NULL},
};

static const tz_unit_test_t socket_tests[] = {
  {"unix socket server", test_unix_server},
  {"live, stale and foreign socket files", test_socket_files},
  {"loopback TCP", test_tcp_server},
  {"line, connection and output limits", test_limits},
  {"HTTP metrics endpoint", test_http},
  {NULL, NULL},
};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
    {"ctl dispatch", dispatch_tests, NULL, NULL},
    {"ctl sockets", socket_tests, suite_setup, suite_teardown},
    {NULL, NULL, NULL, NULL},
  };
  int rc = tz_unit_main(suites);
  tz_jbuf_free(&dispatched);
  unregister_all();
  return rc;
}
