/*
 * control.h - what an operator changes while the server runs (script
 * reload, module load and unload, tracing), and the control commands that
 * expose it and the server's state.
 */
#ifndef TZ_CONTROL_H
#define TZ_CONTROL_H

#include "control/build.h"
#include <trapezoid/json.h>
#include "sip/msg.h"

/* Remembers how the serving generation was built (script path and the
 * command line's options, which must outlive the process's use of them). */
int tz_control_init(const char *script_path, const tz_gen_opts_t *o);
void tz_control_deinit(void);

/* Builds a new generation and makes it current; in-flight transactions
 * finish on the one they started in. On failure the serving generation
 * stays and d holds the errors. path NULL re-reads the current file. */
int tz_control_reload(const char *path, tz_diag_t *d);

/* Adds or removes a module at run time (rebuilding from the serving
 * script's text). Refusals and errors are written to msg. */
int tz_control_module_load(const char *name, char *msg, size_t len);
int tz_control_module_unload(const char *name, char *msg, size_t len);

/* The Prometheus text exposition of every counter (for tz_http_start). */
void tz_control_prometheus(tz_jbuf_t *out);

/* Registers the core's control commands (module.*, script.*, stats,
 * trace.*, version); modules register their own (location.*, ...). */
int tz_control_register_commands(void);
void tz_control_unregister_commands(void);

#endif
