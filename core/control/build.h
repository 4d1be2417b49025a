/*
 * build.h - making a generation (runtime/gen.h) from a routing script and
 * the command line's overrides.
 */
#ifndef TZ_BUILD_H
#define TZ_BUILD_H

#include "runtime/gen.h"

/* What the command line overrides. */
typedef struct tz_gen_opts {
  const char *mpath;          /* -L: replaces the script's mpath */
  const char *const *listens; /* -l: replace the script's listen= */
  size_t nlistens;
  int debug_delta;            /* -d count */
  unsigned workers;           /* -w: replaces the script's workers=; 0: none */
  const char *const *modparams; /* -o module.param=value, after the script's */
  size_t nmodparams;
  /* The same, but only for modules the script loads (trapezoid --test
   * keeps every module's files in a scratch folder). */
  const char *const *scratch_modparams;
  size_t nscratch;
  int check_only;             /* -c: modules are not initialised */
  const char *user, *group;   /* -u, -g: replace the script's user=, group= */
  /* Called once the settings are known and before any module loads (the
   * daemon's start switches users there); 0 to go on. */
  int (*settled)(const tz_gen_t *g, void *arg, tz_diag_t *d);
  void *settled_arg;
  /* Runtime module changes (tzctl module load/unload) over the script:
   * modules loaded although the script does not say so, and modules left
   * out (with their modparams) although it does. */
  const char *const *extra_modules;
  size_t nextra;
  const char *const *skip_modules;
  size_t nskip;
} tz_gen_opts_t;

/* Parses, loads modules, sets parameters, initialises modules and checks
 * the script. On failure returns NULL with diagnostics in d and leaves
 * nothing behind. */
tz_gen_t *tz_gen_build(const char *path, const tz_gen_opts_t *o,
                       tz_diag_t *d);
/* The same from text (tests, rebuilding from the serving script). */
tz_gen_t *tz_gen_build_text(const char *name, const char *text,
                            const tz_gen_opts_t *o, tz_diag_t *d);

/* The settings a script may make (name = value), by index: what
 * trapezoid.cfg(5) must document (tests/man.sh checks it). */
size_t tz_gen_setting_count(void);
const char *tz_gen_setting_name(size_t i); /* NULL past the end */

#endif
