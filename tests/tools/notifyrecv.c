/*
 * notifyrecv.c - stands in for systemd's notification socket in tests:
 * binds a Unix datagram socket at PATH and prints each message it gets on
 * one line (its assignments separated by spaces), until killed.
 * Usage: notifyrecv PATH
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int bind_at(const char *path)
{
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path)
    return -1;
  strcpy(a.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
    return -1;
  return fd;
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: notifyrecv PATH\n");
    return 2;
  }
  int fd = bind_at(argv[1]);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0)
      return 1;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == '\n')
        buf[i] = ' ';
    buf[n] = '\0';
    printf("%s\n", buf);
    fflush(stdout);
  }
}
