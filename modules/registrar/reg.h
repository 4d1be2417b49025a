/*
 * reg.h - shared between the registrar's files: configuration, state, and
 * the change a REGISTER asks for.
 */
#ifndef REG_H
#define REG_H

#include <trapezoid/trapezoid.h>
#include <trapezoid/location.h>

typedef struct reg_cfg {
  long default_expires;
  long min_expires;
  long max_expires;
  long max_contacts;
  long max_contacts_reject;
  long use_domain;   /* 1: the AOR key is user@domain; 0: the user alone */
} reg_cfg_t;

typedef struct reg_state {
  reg_cfg_t *cfg;
  const tz_location_api_t *loc;
  void *loc_ctx;
  struct reg_job *jobs; /* saves waiting for the store; under reg_jobs_lock */
} reg_state_t;

/* What one REGISTER asks for, in the message's scratch home. */
typedef struct reg_change {
  char *aor;
  tz_binding_t *set; /* the AOR's complete new binding set */
  size_t n;
  unsigned char *touched; /* set[i] was written by this REGISTER */
  int changed;       /* 0: a query, or nothing to store */
  char *path;        /* the request's Path values, or NULL */
  char *txkey;       /* the request's transaction, as tz_binding_t.branch */
} reg_change_t;

/* RFC 3261 10.3 steps 2, 3 and 5, which need no bindings: clears ch, sets
 * ch->aor and returns 1, or sends the error reply itself (none when m is not
 * a REGISTER: a script error) and returns -1. */
int reg_check(reg_state_t *st, tz_msg_t *m, reg_change_t *ch);

/* After reg_check, steps 6-7 and 8's checks against the AOR's current
 * bindings: fills the rest of ch and returns 1, or sends the error reply
 * itself and returns -1. The caller holds the AOR's lock from here until
 * the store has the new set. */
int reg_compute(reg_state_t *st, tz_msg_t *m, reg_change_t *ch);

/* The key bindings are stored by: "user@host" with the host lowercased,
 * or with use_domain 0 the user part alone (one domain under many names). */
int reg_aor_of(const reg_cfg_t *cfg, const url_t *url, char *buf, size_t len);

/* Sends 200 OK listing every live binding of aor with its remaining
 * expires, plus Date and the Path (RFC 3327), through s or m. */
void reg_reply_bindings(reg_state_t *st, tz_suspended_t *s, tz_msg_t *m,
                        const char *aor, const char *path);

#endif
