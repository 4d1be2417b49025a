/*
 * solomod.c - a loader test module that does not say it is written for
 * several workers, so a generation with workers > 1 must refuse it.
 */
#include <trapezoid/trapezoid.h>

const tz_module_t solomod_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "solomod",
};
