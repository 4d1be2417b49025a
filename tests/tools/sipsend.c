/*
 * sipsend.c - sends raw bytes (a SIP message, or garbage) over UDP or TCP
 * and prints what comes back, for tests that need exact wire control.
 *
 * Usage: sipsend [-t] [-6] [-a] [-w MS] HOST PORT < message
 * Line ends in the input are sent as they are; use files with CRLF. Prints
 * what comes back until a final response (status >= 200) has arrived, or,
 * with -a, until MS milliseconds (default 1000) pass with nothing new.
 * Exit 0 if anything came back, 1 if nothing did, 2 on local errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t sipsend_read_all(FILE *f, char **out)
{
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap)
      buf = realloc(buf, cap *= 2);
  }
  *out = buf;
  return len;
}

/* A whole final response: "SIP/2.0 2xx..6xx" with its header end. */
static int sipsend_is_final(const char *buf)
{
  return strncmp(buf, "SIP/2.0 ", 8) == 0 && buf[8] >= '2' && buf[8] <= '6' &&
         strstr(buf, "\r\n\r\n") != NULL;
}

int main(int argc, char **argv)
{
  int tcp = 0, wait_ms = 1000, all = 0, opt;
  int family = AF_UNSPEC;
  while ((opt = getopt(argc, argv, "t6aw:")) != -1) {
    if (opt == 't')
      tcp = 1;
    else if (opt == 'a')
      all = 1;
    else if (opt == '6')
      family = AF_INET6;
    else if (opt == 'w')
      wait_ms = atoi(optarg);
    else
      return 2;
  }
  if (argc - optind != 2) {
    fprintf(stderr, "usage: sipsend [-t] [-6] [-a] [-w MS] HOST PORT < message\n");
    return 2;
  }
  struct addrinfo hints = {0}, *ai;
  hints.ai_family = family;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai) != 0)
    return 2;
  int fd = socket(ai->ai_family, ai->ai_socktype, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    perror("sipsend: connect");
    return 2;
  }
  freeaddrinfo(ai);
  char *msg;
  size_t len = sipsend_read_all(stdin, &msg);
  if (!msg || send(fd, msg, len, 0) != (ssize_t)len) {
    perror("sipsend: send");
    return 2;
  }
  free(msg);
  int got = 0;
  char buf[65536];
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, wait_ms) == 1) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
      break;
    fwrite(buf, 1, (size_t)n, stdout);
    got = 1;
    buf[n] = '\0';
    if (!all && sipsend_is_final(buf))
      break;
  }
  close(fd);
  return got ? 0 : 1;
}
