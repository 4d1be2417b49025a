/*
 * module.h - loading module shared objects (libltdl) and the per-generation
 * module instances made from them.
 *
 * A shared object is opened once and reference-counted by the instances
 * that use it; the last instance to go closes it. An instance owns its
 * config struct, its private data and every core registration it made
 * (its cleanup list, owner.h), all undone when it is destroyed.
 */
#ifndef TZ_MODULE_H
#define TZ_MODULE_H

#include <trapezoid/trapezoid.h>
#include "lib/owner.h"

int tz_module_system_init(void);
void tz_module_system_deinit(void);

/* Opens module `name` (a bare name or a path) searching the colon-separated
 * directories in mpath, and makes an instance with default parameters.
 * Returns NULL with a message in err. */
tz_modinst_t *tz_module_load(const char *name, const char *mpath, char *err,
                             size_t errlen);
int tz_module_set_param(tz_modinst_t *mi, const char *param,
                        const tz_val_t *v, char *err, size_t errlen);
/* The module's check of its parameters (tz_module_t.check), if it has one. */
int tz_module_check(tz_modinst_t *mi, char *err, size_t errlen);
int tz_module_init(tz_modinst_t *mi, char *err, size_t errlen);
/* Runs destroy (if init ran), removes leftover registrations, frees the
 * config, and closes the shared object when no instance uses it. */
void tz_module_destroy(tz_modinst_t *mi);

const tz_module_t *tz_modinst_export(const tz_modinst_t *mi);
const tz_func_export_t *tz_modinst_find_func(const tz_modinst_t *mi,
                                             const char *name);
/* The cleanup list registries add to on mi's behalf; NULL (a
 * registration of the core itself) gives the core's owner. */
tz_owner_t *tz_modinst_owner(tz_modinst_t *mi);
/* How many instances share the shared object of mi (for tests). */
unsigned tz_modinst_lib_refs(const tz_modinst_t *mi);

#endif
