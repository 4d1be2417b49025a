/*
 * service.h - the registry of interfaces modules provide to each other.
 */
#ifndef TZ_SERVICE_H
#define TZ_SERVICE_H

#include <trapezoid/trapezoid.h>

/* Removes every service mod registered; returns how many. */
unsigned tz_service_release(tz_modinst_t *mod);

#endif
