/*
 * command.h - the registry of control commands, the core's and the
 * modules' alike: one handler type (tz_rpc_f, trapezoid.h), one owner per
 * registration. The control layer's JSON-RPC dispatcher finds them here.
 *
 * A name may be registered again only by another instance of the same
 * module (the serving generation's and a retiring or a failed new one's):
 * the newest registration answers, and an instance that goes takes only
 * its own with it, so a failed reload leaves the old commands working.
 * "help" and names starting with "rpc." are reserved (the dispatcher's).
 */
#ifndef TZ_COMMAND_H
#define TZ_COMMAND_H

#include <trapezoid/trapezoid.h>
#include "lib/owner.h"

typedef struct tz_command tz_command_t;

/* Registers name for owner o; mod is passed to fn (NULL for the core's
 * own commands). Returns 0, or -1 (bad or reserved name, no fn, taken by
 * the core or another module, out of memory). */
int tz_command_register(tz_owner_t *o, tz_modinst_t *mod, const char *name,
                        tz_rpc_f fn, const char *help);

const tz_command_t *tz_command_find(const char *name);
/* Runs the newest registration; returns what the handler returns. */
int tz_command_call(const tz_command_t *c, const tz_json_t *params,
                    tz_jbuf_t *out, char *err, size_t errlen);
/* Every command, in no particular order. */
void tz_command_each(void (*cb)(void *arg, const char *name, const char *help),
                     void *arg);

#endif
