/*
 * harness.h - `trapezoid --test`: the runner (harness.c), the
 * expectations (expect.c) and the messages it writes (respond.c), and
 * what they share: one test file's run, in one child process.
 */
#ifndef TZ_TEST_HARNESS_H
#define TZ_TEST_HARNESS_H

#include "test/sipt.h"

#include <stddef.h>
#include <sys/socket.h>

/* The entry point: argv after "--test". Returns the exit status. */
int tz_test_main(int argc, char **argv);

/* One datagram the server sent. */
typedef struct tt_msg {
  char *text; /* NUL-terminated */
  size_t len;
  int status; /* 0: a request */
  char reason[64], method[32], ruri[512];
  struct sockaddr_storage from, to;
  char dst_host[64];
  unsigned dst_port;
} tt_msg_t;

typedef struct tt_route {
  char name[96];
  int rc; /* tz_run_result_t */
} tt_route_t;

struct tt_run;

/* How steps reach the server: in this process below Sofia (harness.c),
 * or a running server over real sockets and its control socket
 * (replay.c). */
typedef struct tt_wire {
  /* A datagram from `from` to `to`; -1 if it cannot be sent. */
  int (*inject)(struct tt_run *r, const struct sockaddr *from,
                const struct sockaddr *to, const char *text, size_t len);
  /* Until the server has done all it does without time passing; quick:
   * between the datagrams of a `repeat`, which must follow each other
   * fast (a flood). */
  void (*settle)(struct tt_run *r, const sipt_item_t *it, int quick);
  /* Lets it->n ms pass. */
  void (*advance)(struct tt_run *r, const sipt_item_t *it);
  /* A control command; 0, or -1 with err. */
  int (*command)(struct tt_run *r, const char *method, const char *params, char *err,
                 size_t errlen);
  int replay; /* route, drop and log are not seen: not checked */
} tt_wire_t;

/* What one step made happen, and the case so far. */
typedef struct tt_run {
  const tt_wire_t *wire;
  const sipt_file_t *file;
  tt_msg_t *msgs; /* everything the server sent in this case */
  size_t nmsgs;
  size_t step_first;  /* msgs[step_first..] are the step's */
  char step_method[32]; /* the request a send step sent ("" after respond) */
  struct sockaddr_storage sender; /* the case's last send's source: replies go there */
  tt_route_t *routes; /* the routes the step ran */
  size_t nroutes;
  char **logs;        /* the step's log lines */
  size_t nlogs;
  const tt_msg_t *subject; /* what expect header/body test */
  tt_msg_t challenge; /* the file's last 401 or 407: later cases answer it */
  unsigned nc;        /* answers to it so far (the digest's nonce count) */
  size_t nfailed;     /* this case's failed expectations */
  char **callids;     /* the Call-IDs the case's sends used: only messages */
  size_t ncallids;    /* of those are the case's (not an earlier case's timers) */
  struct sockaddr_storage server; /* the script's first UDP listen address */
  unsigned unchecked; /* expectations a replay cannot check */
  void *replay;       /* replay.c's state */
} tt_run_t;

/* Records a datagram the server sent, if it belongs to the case. */
void tt_record(tt_run_t *r, const struct sockaddr *from, const struct sockaddr *to,
               const char *data, size_t len);

/* The replay wire (replay.c): `server` is udp:HOST:PORT, `ctl` the control
 * socket's path. 0, or -1 with err. */
int tt_replay_open(tt_run_t *r, const char *server, const char *ctl, char *err,
                   size_t errlen);
void tt_replay_close(tt_run_t *r);
extern const tt_wire_t tt_replay_wire;

/* A failed expectation or step at item `it`: "file:line:col: error: ..."
 * added to the case's failures. */
void tt_fail(tt_run_t *r, const sipt_item_t *it, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks one expectation against the last step (expect.c). */
void tt_expect(tt_run_t *r, const sipt_item_t *it);

/* Header `name` (full or compact form, any case) of a message's text: the
 * nth occurrence (1-based), its value trimmed; NULL if there is none. */
const char *tt_header(const char *text, const char *name, unsigned nth, size_t *len);
/* The message body (after the blank line), or "". */
const char *tt_body(const char *text);
/* The first line parsed into m (status, reason, method, Request-URI). */
void tt_parse_first_line(tt_msg_t *m);

/* A downstream UAS's response to the request `req` (respond.c): malloc'd
 * text, or NULL. */
char *tt_make_response(const tt_msg_t *req, const sipt_item_t *it);
/* The request text of a send step with the credentials that answer the
 * case's last challenge (respond.c): malloc'd, or NULL with err. */
char *tt_add_credentials(tt_run_t *r, const sipt_item_t *it, char *err,
                         size_t errlen);

#endif
