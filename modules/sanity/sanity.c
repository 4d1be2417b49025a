/*
 * sanity.c - sanity_check() for the script: runs the request checks of
 * sanity_check.c and answers a failing request 400 (416 for an unknown
 * R-URI scheme) with the precise reason, except an ACK, which is never
 * answered.
 *
 * Locking rule: none needed. sanity_check() runs in every worker at once
 * and touches only the request, its own stack and the configuration (read
 * only after load); the checks to run were fixed into the argument at load.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include "sanity_check.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The flags live in arg->fixed itself: they fit in a pointer and need no
 * freeing. */
static int sanity_fixup_flags(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                              char *err, size_t errlen)
{
  (void)mod;
  (void)idx;
  unsigned flags = sanity_flags_parse(arg->s, err, errlen);
  if (!flags)
    return -1;
  arg->fixed = (void *)(uintptr_t)flags;
  return 0;
}

typedef struct sanity_cfg {
  char *proxy_require; /* option tags we support in Proxy-Require */
} sanity_cfg_t;

static int sanity_check(tz_msg_t *m, const tz_call_t *c)
{
  sip_t *sip = tz_msg_sip(m);
  const sanity_cfg_t *cfg = tz_mod_cfg(c->mod);
  sanity_opts_t o = {
    .flags = c->argc ? (unsigned)(uintptr_t)c->argv[0].fixed : SANITY_DEFAULT,
    .datagram = strcmp(tz_msg_proto(m), "udp") == 0,
    .supported = cfg->proxy_require,
  };
  sanity_verdict_t v;
  int status = sanity_check_request(sip, &o, &v);
  if (!status)
    return 1;
  tz_log(TZ_LOG_INFO, "sanity: %s from %s:%u: %d %s%s%.*s",
         sip->sip_request->rq_method_name, tz_msg_src_ip(m),
         tz_msg_src_port(m), status, v.reason, v.headers[0] ? "; " : "",
         (int)strcspn(v.headers, "\r"), v.headers);
  if (sip->sip_request->rq_method != sip_method_ack)
    tz_msg_reply(m, status, v.reason, v.headers[0] ? v.headers : NULL);
  return -1;
}

static const tz_param_export_t sanity_params[] = {
  {.name = "proxy_require",
   .type = TZ_PARAM_STR,
   .offset = offsetof(sanity_cfg_t, proxy_require),
   .str_default = "",
   .doc = "option tags this proxy supports in Proxy-Require (comma-separated); "
          "any other gets 420 Bad Extension"},
  {0}
};

static const tz_func_export_t sanity_funcs[] = {
  {.name = "sanity_check",
   .handler = sanity_check,
   .max_args = 1,
   .args = {TZ_ARG_STR},
   .const_mask = 1u,
   .route_mask = TZ_ROUTE_REQUEST,
   .fixup = sanity_fixup_flags,
   .doc = "check the request (all default checks, or the listed ones: \"cseq,via\"); "
          "on failure answer 400 with the cause (416, 420 as RFC 3261 says; not an "
          "ACK) and return false"},
  {0}
};

const tz_module_t sanity_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "sanity",
  .version = "1",
  .description = "request sanity checks",
  .cfg_size = sizeof(sanity_cfg_t),
  .params = sanity_params,
  .funcs = sanity_funcs,
  .flags = TZ_MOD_WORKERS,
};
