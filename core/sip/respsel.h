/*
 * respsel.h - choosing the final response a forking proxy sends upstream
 * when no branch answered 2xx (RFC 3261 section 16.7 steps 6 and 7).
 *
 * Pure functions over branch statuses and Sofia messages, so that the
 * rules are tested on their own (tests/unit/test_respsel.c); relay.c owns
 * the branches and calls these.
 */
#ifndef TZ_RESPSEL_H
#define TZ_RESPSEL_H

#include <stddef.h>

#include <sofia-sip/msg.h>

/* One branch as selection sees it. */
typedef struct tz_resp_cand {
  int status;     /* last status; a candidate once >= 300 */
  int superseded; /* failed over to another target: not a candidate */
} tz_resp_cand_t;

/* The index of the best final response among c[0..n-1], or -1 if no
 * branch has one: any 6xx wins (the first), else the lowest class (the
 * first of it). When every failed branch was superseded, the last one to
 * fail speaks. */
int tz_resp_best(const tz_resp_cand_t *c, size_t n);

/* The status to send upstream for a best status: 503 speaks of the
 * proxy, not of the target, and becomes 500 (16.7 step 6). */
int tz_resp_upstream_status(int status);

/* True if the best status is a challenge whose siblings' challenges must
 * be merged into it (401 or 407, 16.7 step 7). */
int tz_resp_is_challenge(int status);

/* Copies every WWW-Authenticate and Proxy-Authenticate of the 401/407
 * responses in others[0..n-1] (NULL entries and other statuses skipped)
 * into out, so the caller answers every challenge at once. Returns the
 * number of headers copied, or -1 on allocation failure. */
int tz_resp_merge_challenges(msg_t *out, msg_t *const *others, size_t n);

#endif
