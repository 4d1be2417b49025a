/*
 * hdr.c - header names as the script uses them ($hdr(Name), append_hf,
 * remove_hf, is_present_hf): checked and classified once at load, then
 * found in a message through Sofia's header table; token lists printed
 * again after an addition. Owns no state.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/lang.h"
#include "sip/msg.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_string.h>

int hdr_validate(const char *name, char *err, size_t errlen)
{
  const char *p = name;
  while (*p && (isalnum((unsigned char)*p) || strchr("-_.!%*+`'~", *p)))
    p++;
  if (*name && !*p)
    return 0;
  snprintf(err, errlen, "invalid header name '%s'", name);
  return -1;
}

msg_hclass_t *hdr_class(const char *name)
{
  msg_hclass_t *hc =
      msg_find_hclass(sip_default_mclass(), name, NULL)->hr_class;
  return hc ? hc : sip_unknown_class;
}

msg_header_t **hdr_slot(tz_msg_t *m, msg_hclass_t *hc)
{
  if (!m->sip || hc == sip_unknown_class)
    return NULL;
  return msg_hclass_offset(msg_mclass(m->msg), (msg_pub_t *)m->sip, hc);
}

int hdr_matches(msg_hclass_t *hc, const char *arg, const char *name)
{
  if (su_casematch(name, arg))
    return 1;
  return hc != sip_unknown_class &&
         (su_casematch(name, hc->hc_name) ||
          (hc->hc_short[0] && su_casematch(name, hc->hc_short)));
}

/* A token list field with no item of its own. */
static int hdr_list_empty(msg_header_t const *h)
{
  msg_param_t **items = msg_header_params(h->sh_common);
  return !items || !*items || !**items;
}

void hdr_reprint_lists(msg_t *msg, sip_t *sip)
{
  msg_header_t **slot = (msg_header_t **)&sip->sip_request;
  msg_header_t **end = (msg_header_t **)((char *)sip + sip->sip_size);
  for (; slot < end; slot++) {
    msg_header_t *h = *slot;
    if (!h || h->sh_class->hc_kind != msg_kind_list)
      continue;
    msg_fragment_clear(h->sh_common);
    for (msg_header_t *next; (next = h->sh_next) != NULL;)
      if (hdr_list_empty(next))
        msg_header_remove(msg, (msg_pub_t *)sip, next);
      else
        h = next;
  }
}
