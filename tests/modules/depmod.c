/*
 * depmod.c - a loader test module that depends on testmod and exports a
 * function whose name clashes with testmod's when asked to.
 */
#include <trapezoid/trapezoid.h>

static const char *const depmod_deps[] = {"testmod", NULL};

static int depmod_true(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  (void)c;
  return 1;
}

static const tz_func_export_t depmod_funcs[] = {
  {.name = "dm_true",
   .handler = depmod_true,
   .route_mask = TZ_ROUTE_ANY,
   .doc = "true"},
  {0}
};

const tz_module_t depmod_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "depmod",
  .deps = depmod_deps,
  .funcs = depmod_funcs,
  .flags = TZ_MOD_WORKERS, /* stateless */
};
