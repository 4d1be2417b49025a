/*
 * respsel.c - best-response selection and challenge merging for a forking
 * proxy (RFC 3261 16.7 steps 6 and 7). Owns no state.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/respsel.h"

#include <assert.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

static int resp_beats(int status, int best)
{
  if (best >= 600)
    return 0;
  return status >= 600 || status / 100 < best / 100;
}

int tz_resp_best(const tz_resp_cand_t *c, size_t n)
{
  int best = -1;
  for (size_t i = 0; i < n; i++) {
    if (c[i].status < 300 || c[i].superseded)
      continue;
    if (best < 0 || resp_beats(c[i].status, c[best].status))
      best = (int)i;
  }
  for (size_t i = n; best < 0 && i-- > 0;)
    if (c[i].status >= 300)
      best = (int)i; /* every target failed over: the last word */
  assert(best < 0 || c[best].status >= 300);
  return best;
}

int tz_resp_upstream_status(int status)
{
  return status == 503 ? 500 : status;
}

int tz_resp_is_challenge(int status)
{
  return status == 401 || status == 407;
}

/* msg_header_add_dup() copies h and every header after it in its list. */
static int resp_copy_all(msg_t *out, sip_t *os, const msg_header_t *h)
{
  int n = 0;
  for (const msg_header_t *k = h; k; k = k->sh_next)
    n++;
  return msg_header_add_dup(out, (msg_pub_t *)os, h) < 0 ? -1 : n;
}

int tz_resp_merge_challenges(msg_t *out, msg_t *const *others, size_t n)
{
  sip_t *os = sip_object(out);
  int copied = 0;
  for (size_t i = 0; i < n; i++) {
    sip_t *bs = others[i] ? sip_object(others[i]) : NULL;
    if (!bs || !bs->sip_status || !tz_resp_is_challenge(bs->sip_status->st_status))
      continue;
    int a = resp_copy_all(out, os, (const msg_header_t *)bs->sip_www_authenticate);
    int b = resp_copy_all(out, os, (const msg_header_t *)bs->sip_proxy_authenticate);
    if (a < 0 || b < 0)
      return -1;
    copied += a + b;
  }
  return copied;
}
