/*
 * privs.c - switching the process to the user and group it serves as.
 *
 * Owns nothing but the ids in a tz_privs_t. The switch has two steps
 * because start-up needs both sides of it: modules open their databases
 * (and create the files) while the ids are effective only, so the files
 * belong to the service user and a later reload, as that user, can open
 * them again; then root's effective uid comes back to bind the listening
 * sockets (ports below 1024, SO_RCVBUFFORCE), and the drop is made for
 * good before the control socket exists. glibc applies each change to
 * every thread of the process.
 */
#define _GNU_SOURCE
#include "lib/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A name, or a number for systems whose service user has no entry. */
static int privs_number(const char *s, unsigned long *out)
{
  char *end;
  if (!*s || strspn(s, "0123456789") != strlen(s))
    return -1;
  errno = 0;
  *out = strtoul(s, &end, 10);
  return errno || *out > 0x7fffffffUL ? -1 : 0;
}

static int privs_lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
  unsigned long n;
  struct passwd *pw = getpwnam(user);
  if (pw) {
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
  }
  if (privs_number(user, &n) < 0)
    return -1;
  *uid = (uid_t)n;
  *gid = getegid();
  return 0;
}

static int privs_lookup_group(const char *group, gid_t *gid)
{
  unsigned long n;
  struct group *gr = getgrnam(group);
  if (gr) {
    *gid = gr->gr_gid;
    return 0;
  }
  if (privs_number(group, &n) < 0)
    return -1;
  *gid = (gid_t)n;
  return 0;
}

int tz_privs_user_exists(const char *user)
{
  uid_t u;
  gid_t g;
  return privs_lookup_user(user, &u, &g) == 0;
}

int tz_privs_group_exists(const char *group)
{
  gid_t g;
  return privs_lookup_group(group, &g) == 0;
}

int tz_privs_resolve(tz_privs_t *p, const char *user, const char *group,
                     char *err, size_t len)
{
  memset(p, 0, sizeof *p);
  p->uid = geteuid();
  p->gid = getegid();
  if (!user && !group)
    return 0;
  if (user && privs_lookup_user(user, &p->uid, &p->gid) < 0) {
    snprintf(err, len, "unknown user '%s'", user);
    return -1;
  }
  if (group && privs_lookup_group(group, &p->gid) < 0) {
    snprintf(err, len, "unknown group '%s'", group);
    return -1;
  }
  p->mode = TZ_PRIVS_SWITCH;
  snprintf(p->name, sizeof p->name, "%s:%s", user ? user : "-",
           group ? group : "-");
  return 0;
}

/* Without root, the only switch that works is none at all. */
static int privs_unprivileged(const tz_privs_t *p, char *err, size_t len)
{
  if (p->uid == geteuid() && p->gid == getegid())
    return 0;
  snprintf(err, len, "cannot run as %s: only root can switch users", p->name);
  return -1;
}

/* The service user's supplementary groups too (e.g. ssl-cert for the TLS
 * key), as login would give them. */
static int privs_set_groups(const tz_privs_t *p)
{
  struct passwd *pw = getpwuid(p->uid);
  if (pw && initgroups(pw->pw_name, p->gid) == 0)
    return 0;
  return setgroups(1, &p->gid);
}

int tz_privs_assume(const tz_privs_t *p, char *err, size_t len)
{
  if (p->mode == TZ_PRIVS_KEEP)
    return 0;
  if (getuid() != 0)
    return privs_unprivileged(p, err, len);
  if (privs_set_groups(p) < 0 || setegid(p->gid) < 0 || seteuid(p->uid) < 0) {
    snprintf(err, len, "cannot run as %s: %s", p->name, strerror(errno));
    return -1;
  }
  return 0;
}

int tz_privs_regain(const tz_privs_t *p, char *err, size_t len)
{
  if (p->mode == TZ_PRIVS_KEEP || getuid() != 0)
    return 0;
  if (seteuid(0) < 0) {
    snprintf(err, len, "cannot take root back to bind: %s", strerror(errno));
    return -1;
  }
  return 0;
}

int tz_privs_drop(const tz_privs_t *p, char *err, size_t len)
{
  if (p->mode == TZ_PRIVS_KEEP)
    return 0;
  if (getuid() != 0)
    return privs_unprivileged(p, err, len);
  if (setresgid(p->gid, p->gid, p->gid) < 0 ||
      setresuid(p->uid, p->uid, p->uid) < 0) {
    snprintf(err, len, "cannot run as %s: %s", p->name, strerror(errno));
    return -1;
  }
  /* A drop that left a way back is no drop. */
  if (p->uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
    snprintf(err, len, "still able to become root after switching to %s",
             p->name);
    return -1;
  }
  return 0;
}
