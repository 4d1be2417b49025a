/*
 * clashmod.c - a loader test module exporting a function name testmod
 * already exports, which the core must refuse.
 */
#include <trapezoid/trapezoid.h>

static int clashmod_answer(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  (void)c;
  return 1;
}

static const tz_func_export_t clashmod_funcs[] = {
  {.name = "tm_answer",
   .handler = clashmod_answer,
   .route_mask = TZ_ROUTE_ANY,
   .doc = "x"},
  {0}
};

const tz_module_t clashmod_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "clashmod",
  .funcs = clashmod_funcs,
  .flags = TZ_MOD_WORKERS, /* stateless */
};
