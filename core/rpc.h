/*
 * rpc.h - the registry of module-provided control commands.
 */
#ifndef TZ_RPC_H
#define TZ_RPC_H

#include <trapezoid/trapezoid.h>

/* Removes every command mod registered; returns how many. */
unsigned tz_rpc_release(tz_modinst_t *mod);

#endif
