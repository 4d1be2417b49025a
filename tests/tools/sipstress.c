/*
 * sipstress.c - abusive SIP clients for the robustness tests: random
 * garbage, every prefix of a message, oversize messages, a slow sender,
 * many idle TCP connections and a request flood, all aimed at one
 * loopback HOST PORT.
 *
 * Usage: sipstress MODE [options] HOST PORT [< message]
 *   garbage  -n N [-s SEED]   N datagrams: random blobs and byte-mutated
 *                             copies of the message on stdin
 *   prefixes [-t]             every proper prefix of the message, each as
 *                             one datagram (-t: one TCP connection each)
 *   oversize [-t] -b BYTES    a request padded with BYTES of header; prints
 *                             the status line (with " [closed]" when the
 *                             server then ends the connection), or
 *                             "closed"/"silence"
 *   slow     -d MS            the message over TCP one byte every MS ms;
 *                             prints the response's status line
 *   idle     -n N -w MS       N TCP connections held MS ms; prints "open K"
 *                             (how many the server has not closed)
 *   flood    -n N             the message N times over UDP as fast as the
 *                             socket takes it; prints "STATUS COUNT" lines
 * Exit 0 when the mode ran, 2 on local errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef struct stress_opts {
  int tcp, n, ms;
  long bytes;
  unsigned seed;
  const char *host, *port;
  char *msg;
  size_t len;
} stress_opts_t;

static void stress_sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* A connected socket; -1 (with errno) when the connection fails. */
static int stress_connect(const stress_opts_t *o, int tcp)
{
  struct addrinfo hints = {0}, *ai;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  if (getaddrinfo(o->host, o->port, &hints, &ai) != 0)
    return -1;
  int fd = socket(ai->ai_family, ai->ai_socktype, 0);
  if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

static int stress_read_stdin(stress_opts_t *o)
{
  size_t cap = 65536, n;
  o->msg = malloc(cap);
  o->len = 0;
  while (o->msg && (n = fread(o->msg + o->len, 1, cap - o->len, stdin)) > 0) {
    o->len += n;
    if (o->len == cap)
      o->msg = realloc(o->msg, cap *= 2);
  }
  return o->msg ? 0 : -1;
}

/* Reads until a whole status line arrived, the peer closed, or ms passed:
 * writes the line ("SIP/2.0 400 ...") or "closed" / "silence" to out. */
static void stress_read_status(int fd, int ms, char *out, size_t len)
{
  char buf[4096];
  size_t got = 0;
  struct pollfd p = {fd, POLLIN, 0};
  snprintf(out, len, "silence");
  while (got < sizeof buf - 1 && poll(&p, 1, ms) == 1) {
    ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
    if (r <= 0) {
      if (!got)
        snprintf(out, len, "closed");
      break;
    }
    got += (size_t)r;
    buf[got] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (eol) {
      snprintf(out, len, "%.*s", (int)(eol - buf), buf);
      break;
    }
  }
}

static void stress_fill_random(char *buf, size_t len)
{
  for (size_t i = 0; i < len; i++)
    buf[i] = (char)(rand() & 0xff);
}

/* Half random blobs of random length, half the message with a few bytes
 * changed: the second kind gets past the first parser checks. */
static int stress_garbage(stress_opts_t *o)
{
  int fd = stress_connect(o, 0);
  char *buf = malloc(65536);
  if (fd < 0 || !buf)
    return 2;
  srand(o->seed);
  for (int i = 0; i < o->n; i++) {
    size_t len;
    if (i % 2 || !o->len) {
      len = 1 + (size_t)rand() % 4096;
      stress_fill_random(buf, len);
    } else {
      len = o->len < 65536 ? o->len : 65536;
      memcpy(buf, o->msg, len);
      for (int k = 1 + rand() % 8; k > 0; k--)
        buf[(size_t)rand() % len] = (char)(rand() & 0xff);
    }
    send(fd, buf, len, 0);
    if (i % 50 == 49)
      stress_sleep_ms(5); /* stay under the receive buffer */
  }
  free(buf);
  close(fd);
  return 0;
}

static int stress_prefixes(stress_opts_t *o)
{
  int fd = o->tcp ? -1 : stress_connect(o, 0);
  if (!o->tcp && fd < 0)
    return 2;
  for (size_t n = 1; n < o->len; n++) {
    if (o->tcp) {
      int c = stress_connect(o, 1);
      if (c < 0)
        return 2;
      send(c, o->msg, n, MSG_NOSIGNAL);
      close(c);
    } else {
      send(fd, o->msg, n, 0);
    }
    if (n % 50 == 0)
      stress_sleep_ms(5);
  }
  if (fd >= 0)
    close(fd);
  return 0;
}

/* A request whose X-Pad header is o->bytes long (a datagram is capped
 * at what UDP can carry). */
/* True if the peer ends the stream within ms (what else it sends is
 * read and dropped). */
static int stress_eof(int fd, int ms)
{
  char buf[4096];
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, ms) == 1)
    if (recv(fd, buf, sizeof buf, 0) <= 0)
      return 1;
  return 0;
}

static int stress_oversize(stress_opts_t *o)
{
  static const char head[] =
      "OPTIONS sip:big@%s:%s SIP/2.0\r\n"
      "Via: SIP/2.0/%s 127.0.0.1:9;branch=z9hG4bK-big%d\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=b\r\n"
      "To: <sip:big@example.test>\r\nCall-ID: big-%d@test\r\n"
      "CSeq: 1 OPTIONS\r\nX-Pad: ";
  static const char tail[] = "\r\nContent-Length: 0\r\n\r\n";
  long pad = o->tcp ? o->bytes : (o->bytes < 65000 ? o->bytes : 65000);
  size_t cap = sizeof head + 128 + (size_t)pad + sizeof tail;
  char *buf = malloc(cap);
  int fd = stress_connect(o, o->tcp);
  if (!buf || fd < 0)
    return 2;
  /* a server that stopped reading must not block us */
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int n = snprintf(buf, cap, head, o->host, o->port, o->tcp ? "TCP" : "UDP",
                   (int)getpid(), (int)getpid());
  memset(buf + n, 'x', (size_t)pad);
  memcpy(buf + n + pad, tail, sizeof tail - 1);
  size_t len = (size_t)n + (size_t)pad + sizeof tail - 1, off = 0;
  char status[256];
  /* The server may answer and close before it has read everything. */
  while (off < len) {
    ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  stress_read_status(fd, 2000, status, sizeof status);
  printf("%s%s\n", status,
         o->tcp && strncmp(status, "SIP/", 4) == 0 && stress_eof(fd, 3000)
             ? " [closed]"
             : "");
  free(buf);
  close(fd);
  return 0;
}

static int stress_slow(stress_opts_t *o)
{
  int fd = stress_connect(o, 1);
  char status[256];
  if (fd < 0)
    return 2;
  size_t i = 0;
  for (; i < o->len; i++) {
    if (send(fd, o->msg + i, 1, MSG_NOSIGNAL) != 1)
      break;
    stress_sleep_ms(o->ms);
  }
  stress_read_status(fd, 2000, status, sizeof status);
  printf("%s\n", i < o->len ? "closed" : status);
  close(fd);
  return 0;
}

/* Raises the descriptor limit to fit n connections, as far as allowed. */
static void stress_raise_nofile(int n)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int stress_idle(stress_opts_t *o)
{
  int *fds = calloc((size_t)o->n, sizeof *fds);
  struct pollfd *p = calloc((size_t)o->n, sizeof *p);
  if (!fds || !p)
    return 2;
  stress_raise_nofile(o->n);
  int opened = 0;
  for (; opened < o->n; opened++)
    if ((fds[opened] = stress_connect(o, 1)) < 0)
      break;
  stress_sleep_ms(o->ms);
  int open = 0;
  for (int i = 0; i < opened; i++)
    p[i] = (struct pollfd){fds[i], POLLIN, 0};
  poll(p, (nfds_t)opened, 0);
  char c;
  for (int i = 0; i < opened; i++) {
    /* Readable with nothing to read: the server closed it. */
    if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
        recv(fds[i], &c, 1, MSG_DONTWAIT) > 0)
      open++;
    close(fds[i]);
  }
  printf("connected %d open %d\n", opened, open);
  free(fds);
  free(p);
  return 0;
}

/* Counts the status codes of what comes back while sending. */
static void stress_count_replies(int fd, long counts[700], int ms)
{
  char buf[65536];
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, ms) == 1) {
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    if (r < 12 || strncmp(buf, "SIP/2.0 ", 8) != 0)
      continue;
    int st = atoi(buf + 8);
    if (st >= 100 && st < 700)
      counts[st]++;
  }
}

static int stress_flood(stress_opts_t *o)
{
  int fd = stress_connect(o, 0);
  long counts[700] = {0};
  if (fd < 0)
    return 2;
  for (int i = 0; i < o->n; i++) {
    send(fd, o->msg, o->len, 0);
    stress_count_replies(fd, counts, 0);
  }
  stress_count_replies(fd, counts, 500);
  for (int st = 100; st < 700; st++)
    if (counts[st])
      printf("%d %ld\n", st, counts[st]);
  close(fd);
  return 0;
}

int main(int argc, char **argv)
{
  stress_opts_t o = {0};
  o.n = 100;
  o.ms = 10;
  o.seed = 1;
  if (argc < 2)
    goto usage;
  const char *mode = argv[1];
  optind = 2;
  int opt;
  while ((opt = getopt(argc, argv, "tn:d:w:b:s:")) != -1) {
    if (opt == 't')
      o.tcp = 1;
    else if (opt == 'n')
      o.n = atoi(optarg);
    else if (opt == 'd' || opt == 'w')
      o.ms = atoi(optarg);
    else if (opt == 'b')
      o.bytes = atol(optarg);
    else if (opt == 's')
      o.seed = (unsigned)strtoul(optarg, NULL, 10);
    else
      goto usage;
  }
  if (argc - optind != 2)
    goto usage;
  o.host = argv[optind];
  o.port = argv[optind + 1];
  signal(SIGPIPE, SIG_IGN);
  int wants_msg = strcmp(mode, "oversize") && strcmp(mode, "idle");
  if (wants_msg && stress_read_stdin(&o) < 0)
    return 2;
  int rc = !strcmp(mode, "garbage")    ? stress_garbage(&o)
           : !strcmp(mode, "prefixes") ? stress_prefixes(&o)
           : !strcmp(mode, "oversize") ? stress_oversize(&o)
           : !strcmp(mode, "slow")     ? stress_slow(&o)
           : !strcmp(mode, "idle")     ? stress_idle(&o)
           : !strcmp(mode, "flood")    ? stress_flood(&o)
                                       : -1;
  free(o.msg);
  if (rc >= 0)
    return rc;
usage:
  fprintf(stderr, "usage: sipstress garbage|prefixes|oversize|slow|idle|flood "
                  "[-t] [-n N] [-d MS] [-w MS] [-b BYTES] [-s SEED] HOST PORT\n");
  return 2;
}
