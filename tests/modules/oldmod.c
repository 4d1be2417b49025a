/*
 * oldmod.c - a loader test module built against another API version.
 */
#include <trapezoid/trapezoid.h>

const tz_module_t oldmod_LTX_module = {
  .api_version = TZ_API_VERSION + 100,
  .size = sizeof(tz_module_t),
  .name = "oldmod",
};
