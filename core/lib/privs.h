/*
 * privs.h - the user and group the daemon runs as once it has bound its
 * sockets (-u/-g, the user/group settings).
 */
#ifndef TZ_LIB_PRIVS_H
#define TZ_LIB_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

typedef enum {
  TZ_PRIVS_KEEP,    /* nothing asked: run as started */
  TZ_PRIVS_SWITCH   /* switch to uid/gid (effective first, then for good) */
} tz_privs_mode_t;

typedef struct tz_privs {
  tz_privs_mode_t mode;
  uid_t uid;
  gid_t gid;
  char name[64]; /* "user:group", for messages */
} tz_privs_t;

/* Looks the names up; either may be NULL (no user: keep the uid; no group:
 * the user's primary group). 0, or -1 with the reason in err. */
int tz_privs_resolve(tz_privs_t *p, const char *user, const char *group,
                     char *err, size_t len);
/* Checks that a name exists: the user and group settings, at parse time. */
int tz_privs_user_exists(const char *user);
int tz_privs_group_exists(const char *group);

/* Takes the ids as effective ones only, so that files the modules create
 * at start (databases) belong to them, while root can still bind. */
int tz_privs_assume(const tz_privs_t *p, char *err, size_t len);
/* Back to root's effective ids, to bind the listening sockets. */
int tz_privs_regain(const tz_privs_t *p, char *err, size_t len);
/* For good: real, effective and saved ids; fails unless root is then out
 * of reach. */
int tz_privs_drop(const tz_privs_t *p, char *err, size_t len);

#endif
