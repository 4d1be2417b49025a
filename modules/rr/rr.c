/*
 * rr.c - record-routing and loose routing (RFC 3261 sections 16.4, 16.6,
 * 16.12): record_route(), loose_route(), and the "always" toggle that
 * record-routes every initial INVITE without a script change.
 *
 * Locking rule: none needed. The functions and the relay hook run in every
 * worker at once and touch only the request and the configuration, which
 * is read only after load.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>

#include <string.h>

#include <sofia-sip/sip_header.h>

typedef struct rr_cfg {
  long always;
} rr_cfg_t;

static int rr_record_route(tz_msg_t *m, const tz_call_t *c)
{
  (void)c;
  tz_msg_record_route(m);
  return 1;
}

/* The core already removed our own Route entries (RFC 3261 16.4); what
 * is left to say is whether the request follows a Route set. */
static int rr_loose_route(tz_msg_t *m, const tz_call_t *c)
{
  (void)c;
  return tz_msg_loose_routed(m) ? 1 : -1;
}

/* The toggle: initial INVITEs (no To tag) get Record-Route. */
static void rr_on_relay(tz_modinst_t *mod, tz_msg_t *m)
{
  rr_cfg_t *cfg = tz_mod_cfg(mod);
  sip_t *sip = tz_msg_sip(m);
  if (cfg->always && sip->sip_request->rq_method == sip_method_invite &&
      !(sip->sip_to && sip->sip_to->a_tag))
    tz_msg_record_route(m);
}

static int rr_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  return tz_relay_hook_add(mod, rr_on_relay);
}

static const tz_param_export_t rr_params[] = {
  {.name = "always",
   .type = TZ_PARAM_INT,
   .offset = offsetof(rr_cfg_t, always),
   .max = 1,
   .doc = "1: record-route every initial INVITE relayed, as if record_route() ran"},
  {0}
};

static const tz_func_export_t rr_funcs[] = {
  {.name = "record_route",
   .handler = rr_record_route,
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "insert Record-Route (;lr) when the request is relayed"},
  {.name = "loose_route",
   .handler = rr_loose_route,
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "follow the Route set: pop our own entries; true if there was one"},
  {0}
};

const tz_module_t rr_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "rr",
  .version = "1",
  .description = "Record-Route and loose routing",
  .cfg_size = sizeof(rr_cfg_t),
  .params = rr_params,
  .funcs = rr_funcs,
  .init = rr_init,
  .flags = TZ_MOD_WORKERS,
};
