/*
 * tcpua.c - a callee behind a NAT, over one TCP connection it opens
 * itself and no listening socket: the proxy can reach it only through
 * that connection. It REGISTERs with a Contact on another host (as a UA
 * behind a NAT would), then answers every INVITE with 180 and 200 (its
 * Contact: the connection's own address), and every BYE with 200.
 *
 * Usage: tcpua [-n CALLS] [-w SECONDS] HOST PORT USER
 * Prints "registered" once the registrar said 200 (the test waits for
 * it). Exit 0 once CALLS BYEs were answered; 1 on timeout (default 60 s)
 * or when the connection ends first; 2 on local errors. A count line goes
 * to stdout on exit.
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int ua_fd;
static char ua_local[80]; /* "127.0.0.1:40123" */
static const char *ua_user;
static unsigned ua_invites, ua_acks, ua_byes;

static int ua_send(const char *buf, size_t len)
{
  while (len) {
    ssize_t n = write(ua_fd, buf, len);
    if (n <= 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Header line name matches one of the names (full or compact). */
static int ua_is(const char *line, const char *full, const char *compact)
{
  size_t n = strcspn(line, ": \t");
  return (strlen(full) == n && !strncasecmp(line, full, n)) ||
         (compact && strlen(compact) == n && !strncasecmp(line, compact, n));
}

/* A response to the request in req (headers only, NUL-terminated lines
 * joined by CRLF): its Vias, Record-Routes, From, To (tagged), Call-ID
 * and CSeq, then extra lines. */
static int ua_reply(const char *req, const char *status, const char *extra)
{
  char out[8192];
  int len = snprintf(out, sizeof out, "SIP/2.0 %s\r\n", status);
  for (const char *l = strstr(req, "\r\n") + 2; *l && strncmp(l, "\r\n", 2);
       l = strstr(l, "\r\n") + 2) {
    int n = (int)(strstr(l, "\r\n") - l);
    int to = ua_is(l, "To", "t");
    if (ua_is(l, "Via", "v") || ua_is(l, "Record-Route", NULL) ||
        ua_is(l, "From", "f") || to || ua_is(l, "Call-ID", "i") ||
        ua_is(l, "CSeq", NULL))
      len += snprintf(out + len, sizeof out - (size_t)len, "%.*s%s\r\n", n, l,
                      to && !strstr(l, "tag=") ? ";tag=ua" : "");
    if (len >= (int)sizeof out)
      return -1;
  }
  len += snprintf(out + len, sizeof out - (size_t)len,
                  "Contact: <sip:%s@%s;transport=tcp>\r\n%sContent-Length: 0\r\n\r\n",
                  ua_user, ua_local, extra);
  return len < (int)sizeof out ? ua_send(out, (size_t)len) : -1;
}

static int ua_request(const char *msg, unsigned *done)
{
  if (!strncmp(msg, "INVITE ", 7)) {
    ua_invites++;
    return ua_reply(msg, "180 Ringing", "") < 0 ? -1 : ua_reply(msg, "200 OK", "");
  }
  if (!strncmp(msg, "ACK ", 4)) {
    ua_acks++;
    return 0;
  }
  if (!strncmp(msg, "BYE ", 4)) {
    ua_byes++;
    (*done)++;
  }
  return ua_reply(msg, "200 OK", "");
}

static int ua_register(const char *host, const char *port)
{
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "REGISTER sip:%s:%s;transport=tcp SIP/2.0\r\n"
                   "Via: SIP/2.0/TCP %s;branch=z9hG4bK-tcpua-%ld\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:%s@example.test>;tag=u%ld\r\n"
                   "To: <sip:%s@example.test>\r\nCall-ID: tcpua-%ld@test\r\n"
                   "CSeq: 1 REGISTER\r\n"
                   "Contact: <sip:%s@192.0.2.1:5060;transport=tcp>\r\n"
                   "Expires: 600\r\nContent-Length: 0\r\n\r\n",
                   host, port, ua_local, (long)getpid(), ua_user, (long)getpid(),
                   ua_user, (long)getpid(), ua_user);
  return ua_send(buf, (size_t)n);
}

/* Whole messages from the front of buf: returns the bytes used, -1 when
 * one cannot be handled. */
static long ua_consume(char *buf, size_t len, unsigned *done)
{
  size_t used = 0;
  for (;;) {
    char *end = memmem(buf + used, len - used, "\r\n\r\n", 4);
    if (!end)
      return (long)used;
    *end = '\0';
    const char *cl = strcasestr(buf + used, "\r\nContent-Length:");
    size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
    size_t total = (size_t)(end + 4 - (buf + used)) + body;
    if (used + total > len) {
      *end = '\r';
      return (long)used;
    }
    strcpy(end, "\r\n"); /* the headers, each line CRLF-terminated */
    const char *m = buf + used;
    if (!strncmp(m, "SIP/2.0 200", 11) && strstr(m, "REGISTER")) {
      printf("registered\n");
      fflush(stdout);
    } else if (strncmp(m, "SIP/2.0 ", 8) && ua_request(m, done) < 0)
      return -1;
    used += total;
  }
}

static int ua_connect(const char *host, const char *port)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(host, port, &hints, &ai) != 0)
    return -1;
  ua_fd = socket(ai->ai_family, SOCK_STREAM, 0);
  int rc = ua_fd < 0 ? -1 : connect(ua_fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  if (rc < 0 || getsockname(ua_fd, (struct sockaddr *)&sa, &sl) < 0)
    return -1;
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
  snprintf(ua_local, sizeof ua_local, "%s:%u", ip, ntohs(sa.sin_port));
  return 0;
}

int main(int argc, char **argv)
{
  unsigned calls = 1, wait_s = 60, done = 0;
  for (int opt; (opt = getopt(argc, argv, "n:w:")) != -1;)
    if (opt == 'n')
      calls = (unsigned)atoi(optarg);
    else if (opt == 'w')
      wait_s = (unsigned)atoi(optarg);
    else
      return 2;
  if (argc - optind != 3) {
    fprintf(stderr, "usage: tcpua [-n CALLS] [-w SECONDS] HOST PORT USER\n");
    return 2;
  }
  ua_user = argv[optind + 2];
  if (ua_connect(argv[optind], argv[optind + 1]) < 0 ||
      ua_register(argv[optind], argv[optind + 1]) < 0) {
    perror("tcpua");
    return 2;
  }
  static char buf[1 << 20];
  size_t len = 0;
  time_t until = time(NULL) + wait_s;
  struct pollfd p = {.fd = ua_fd, .events = POLLIN};
  while (done < calls && time(NULL) < until) {
    if (poll(&p, 1, 200) <= 0)
      continue;
    ssize_t n = read(ua_fd, buf + len, sizeof buf - len - 1);
    if (n <= 0)
      break;
    long used = ua_consume(buf, len += (size_t)n, &done);
    if (used < 0)
      break;
    memmove(buf, buf + used, len -= (size_t)used);
  }
  printf("invites %u acks %u byes %u\n", ua_invites, ua_acks, ua_byes);
  return done >= calls ? 0 : 1;
}
