/*
 * build.c - builds generations from a script: parse, apply the settings,
 * load modules (libltdl), set their parameters, order them by
 * dependencies, refuse clashing function names, initialise them, then
 * resolve the script against the result.
 *
 * Building is all-or-nothing: any error leaves the caller's current
 * generation untouched, so a bad script or module never takes down a
 * running server.
 */
#define _POSIX_C_SOURCE 200809L
#include "control/build.h"
#include "lib/log.h"
#include "runtime/module.h"
#include "runtime/worker.h"
#include "script/script.h"
#include "sip/lang.h"
#include "lib/privs.h"
#include "lib/suggest.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int gen_add_listen(tz_gen_t *g, const char *text, tz_diag_t *d,
                          const tz_loc_t *loc)
{
  char err[256];
  tz_listen_t l;
  if (tz_listen_parse(text, &l, err, sizeof err) < 0) {
    tz_diag_error(d, loc, "%s", err);
    return -1;
  }
  tz_listen_t *nl = realloc(g->listens, (g->nlistens + 1) * sizeof *nl);
  if (!nl) {
    tz_listen_free(&l);
    return -1;
  }
  g->listens = nl;
  g->listens[g->nlistens++] = l;
  return 0;
}

/* ---- settings ------------------------------------------------------------ */

static int gen_set_string(char **slot, const tz_directive_t *dir,
                          tz_diag_t *d)
{
  if (dir->value.type != TZ_VAL_STR) {
    tz_diag_error(d, &dir->value_loc, "'%s' takes a string", dir->name);
    return -1;
  }
  free(*slot);
  *slot = strdup(dir->value.s);
  return *slot ? 0 : -1;
}

/* A timer in milliseconds, at least min_ms. */
static int gen_set_ms(unsigned *slot, const tz_directive_t *dir, long min_ms,
                      tz_diag_t *d)
{
  if (dir->value.type != TZ_VAL_INT || dir->value.i < min_ms ||
      dir->value.i > 3600000) {
    tz_diag_error(d, &dir->value_loc,
                  "'%s' takes milliseconds from %ld to 3600000", dir->name,
                  min_ms);
    return -1;
  }
  *slot = (unsigned)dir->value.i;
  return 0;
}

static int gen_set_range(unsigned *slot, const tz_directive_t *dir, long min,
                         long max, tz_diag_t *d)
{
  if (dir->value.type != TZ_VAL_INT || dir->value.i < min ||
      dir->value.i > max) {
    tz_diag_error(d, &dir->value_loc, "'%s' takes a number from %ld to %ld",
                  dir->name, min, max);
    return -1;
  }
  *slot = (unsigned)dir->value.i;
  return 0;
}

static int gen_set_listen(tz_gen_t *g, const tz_directive_t *dir,
                          const tz_gen_opts_t *o, tz_diag_t *d)
{
  if (o->nlistens)
    return 0; /* -l replaces every listen= of the script */
  if (dir->value.type != TZ_VAL_STR) {
    tz_diag_error(d, &dir->value_loc, "'listen' takes an address");
    return -1;
  }
  return gen_add_listen(g, dir->value.s, d, &dir->value_loc);
}

static int gen_set_alias(tz_gen_t *g, const tz_directive_t *dir,
                         const tz_gen_opts_t *o, tz_diag_t *d)
{
  (void)o;
  char *a = NULL;
  if (gen_set_string(&a, dir, d) < 0)
    return -1;
  char **na = realloc(g->aliases, (g->naliases + 1) * sizeof *na);
  if (!na) {
    free(a);
    return -1;
  }
  g->aliases = na;
  g->aliases[g->naliases++] = a;
  return 0;
}

/* Kamailio numbering: -1 err, 0 warn, 1 notice, 2 info, 3 debug. */
static int gen_set_debug(tz_gen_t *g, const tz_directive_t *dir,
                         const tz_gen_opts_t *o, tz_diag_t *d)
{
  (void)o;
  if (dir->value.type != TZ_VAL_INT) {
    tz_diag_error(d, &dir->value_loc,
                  "'debug' takes an integer (-1 errors only .. 3 debug)");
    return -1;
  }
  g->log_level = (int)dir->value.i + TZ_LOG_WARN;
  return 0;
}

/* user= and group=: a name the system does not know is the script's
 * error, at its line, before anything starts. */
static int gen_set_account(char **slot, const tz_directive_t *dir,
                           int (*exists)(const char *), tz_diag_t *d)
{
  if (gen_set_string(slot, dir, d) < 0)
    return -1;
  if (exists(*slot))
    return 0;
  tz_diag_error(d, &dir->value_loc, "unknown %s '%s'", dir->name, *slot);
  return -1;
}

static int gen_set_user(tz_gen_t *g, const tz_directive_t *dir,
                        const tz_gen_opts_t *o, tz_diag_t *d)
{
  (void)o;
  return gen_set_account(&g->user, dir, tz_privs_user_exists, d);
}

static int gen_set_group(tz_gen_t *g, const tz_directive_t *dir,
                         const tz_gen_opts_t *o, tz_diag_t *d)
{
  (void)o;
  return gen_set_account(&g->group, dir, tz_privs_group_exists, d);
}

/* The settings a script may make; doc/script.md describes each. Most
 * store a typed value at an offset; the others have their own function. */
typedef enum { SET_STRING, SET_MS, SET_RANGE, SET_OTHER } gen_kind_t;

typedef int (*gen_apply_f)(tz_gen_t *g, const tz_directive_t *dir,
                           const tz_gen_opts_t *o, tz_diag_t *d);

static const struct gen_setting {
  const char *name;
  gen_kind_t kind;
  size_t offset; /* in tz_gen_t */
  long min, max;
  gen_apply_f apply; /* SET_OTHER */
} gen_settings[] = {
  {"listen", SET_OTHER, 0, 0, 0, gen_set_listen},
  {"alias", SET_OTHER, 0, 0, 0, gen_set_alias},
  {"debug", SET_OTHER, 0, 0, 0, gen_set_debug},
  {"mpath", SET_STRING, offsetof(tz_gen_t, mpath), 0, 0, NULL},
  {"ctl_socket", SET_STRING, offsetof(tz_gen_t, ctl_socket), 0, 0, NULL},
  {"ctl_listen", SET_STRING, offsetof(tz_gen_t, ctl_listen), 0, 0, NULL},
  {"http_listen", SET_STRING, offsetof(tz_gen_t, http_listen), 0, 0, NULL},
  {"tls_dir", SET_STRING, offsetof(tz_gen_t, tls_dir), 0, 0, NULL},
  {"fr_timer", SET_MS, offsetof(tz_gen_t, fr_timer), 1000, 3600000, NULL},
  {"fr_inv_timer", SET_MS, offsetof(tz_gen_t, fr_inv_timer), 1000, 3600000, NULL},
  {"tcp_idle_timeout", SET_MS, offsetof(tz_gen_t, tcp_idle), 1000, 3600000, NULL},
  {"tcp_max_connections", SET_RANGE, offsetof(tz_gen_t, tcp_max), 0, 1000000, NULL},
  {"max_msg_size", SET_RANGE, offsetof(tz_gen_t, max_msg_size), 1024, 1048576, NULL},
  {"udp_rcvbuf", SET_RANGE, offsetof(tz_gen_t, udp_rcvbuf), 0, 1L << 28, NULL},
  {"udp_sndbuf", SET_RANGE, offsetof(tz_gen_t, udp_sndbuf), 0, 1L << 28, NULL},
  {"workers", SET_RANGE, offsetof(tz_gen_t, workers), 1, TZ_MAX_WORKERS, NULL},
  {"user", SET_OTHER, 0, 0, 0, gen_set_user},
  {"group", SET_OTHER, 0, 0, 0, gen_set_group},
};
#define GEN_NSETTINGS (sizeof gen_settings / sizeof *gen_settings)

/* The table's names, for the man page check (tests/tools/mandump.c). */
size_t tz_gen_setting_count(void) { return GEN_NSETTINGS; }
const char *tz_gen_setting_name(size_t i)
{
  return i < GEN_NSETTINGS ? gen_settings[i].name : NULL;
}

static void gen_unknown_setting(const tz_directive_t *dir, tz_diag_t *d)
{
  suggest_t sg;
  suggest_init(&sg, dir->name);
  for (size_t i = 0; i < GEN_NSETTINGS; i++)
    suggest_add(&sg, gen_settings[i].name);
  char hint[256];
  tz_diag_error(d, &dir->loc, "unknown setting '%s'%s", dir->name,
                suggest_hint(&sg, "", hint, sizeof hint));
}

static int gen_apply_setting(tz_gen_t *g, const tz_directive_t *dir,
                             const tz_gen_opts_t *o, tz_diag_t *d)
{
  const struct gen_setting *st = NULL;
  for (size_t i = 0; i < GEN_NSETTINGS && !st; i++)
    if (strcmp(gen_settings[i].name, dir->name) == 0)
      st = &gen_settings[i];
  if (!st) {
    gen_unknown_setting(dir, d);
    return -1;
  }
  void *slot = (char *)g + st->offset;
  switch (st->kind) {
  case SET_STRING:
    return gen_set_string(slot, dir, d);
  case SET_MS:
    return gen_set_ms(slot, dir, st->min, d);
  case SET_RANGE:
    return gen_set_range(slot, dir, st->min, st->max, d);
  case SET_OTHER:
    break;
  }
  return st->apply(g, dir, o, d);
}

static const tz_loc_t *gen_loadmodule_loc(const tz_directive_t *dirs,
                                          size_t n, const char *mod)
{
  for (size_t i = 0; i < n; i++) {
    char base[128];
    const char *b = strrchr(dirs[i].name, '/');
    b = b ? b + 1 : dirs[i].name;
    snprintf(base, sizeof base, "%.*s", (int)strcspn(b, "."), b);
    if (dirs[i].kind == TZ_DIR_LOADMODULE && strcmp(base, mod) == 0)
      return &dirs[i].loc;
  }
  return NULL;
}

static int gen_is_skipped(const tz_gen_opts_t *o, const char *name)
{
  char base[128];
  const char *b = strrchr(name, '/');
  b = b ? b + 1 : name;
  snprintf(base, sizeof base, "%.*s", (int)strcspn(b, "."), b);
  for (size_t i = 0; i < o->nskip; i++)
    if (strcmp(o->skip_modules[i], base) == 0)
      return 1;
  return 0;
}

/* The workers that will run g: those running, or at start the setting
 * (a reload cannot change their number). */
static unsigned gen_workers(const tz_gen_t *g)
{
  return tz_worker_count() > 1 ? tz_worker_count() : g->workers;
}

static int gen_check_workers(const tz_gen_t *g, const tz_modinst_t *mi,
                             const tz_directive_t *dir, tz_diag_t *d)
{
  if (gen_workers(g) < 2 || (tz_modinst_export(mi)->flags & TZ_MOD_WORKERS))
    return 0;
  tz_diag_error(d, dir->loc.src ? &dir->loc : NULL,
                "module '%s' is not written for several workers (this "
                "server runs %u): set workers=1", tz_mod_name(mi), gen_workers(g));
  return -1;
}

static int gen_load_module(tz_gen_t *g, const tz_directive_t *dir,
                           tz_diag_t *d)
{
  char err[512];
  tz_modinst_t *mi = tz_module_load(dir->name, g->mpath, err, sizeof err);
  if (!mi) {
    tz_diag_error(d, dir->loc.src ? &dir->loc : NULL, "%s", err);
    return -1;
  }
  if (tz_gen_find_module(g, tz_mod_name(mi))) {
    tz_diag_error(d, &dir->loc, "module '%s' is already loaded",
                  tz_mod_name(mi));
    tz_module_destroy(mi);
    return -1;
  }
  if (gen_check_workers(g, mi, dir, d) < 0) {
    tz_module_destroy(mi);
    return -1;
  }
  if (tz_gen_add_module(g, mi) < 0) {
    tz_module_destroy(mi);
    return -1;
  }
  return 0;
}

static int gen_set_modparam(tz_gen_t *g, const tz_directive_t *dir,
                            tz_diag_t *d)
{
  char err[512];
  tz_modinst_t *mi = tz_gen_find_module(g, dir->name);
  if (!mi) {
    tz_diag_error(d, &dir->loc,
                  "modparam for module '%s', which is not loaded "
                  "(loadmodule must come first)",
                  dir->name);
    return -1;
  }
  if (tz_module_set_param(mi, dir->param, &dir->value, err, sizeof err) < 0) {
    tz_diag_error(d, &dir->value_loc, "%s", err);
    return -1;
  }
  return 0;
}

/* "-o module.param=value": a number if it parses as one, else a string.
 * A module the script does not load is an error, unless lenient. */
static int gen_apply_override(tz_gen_t *g, const char *text, int lenient,
                              tz_diag_t *d)
{
  char err[512], mod[64], param[64];
  const char *dot = strchr(text, '.'), *eq = strchr(text, '=');
  if (!dot || !eq || eq < dot || dot - text >= (long)sizeof mod ||
      eq - dot - 1 >= (long)sizeof param) {
    tz_diag_error(d, NULL, "-o %s: expected module.param=value", text);
    return -1;
  }
  snprintf(mod, sizeof mod, "%.*s", (int)(dot - text), text);
  snprintf(param, sizeof param, "%.*s", (int)(eq - dot - 1), dot + 1);
  tz_modinst_t *mi = tz_gen_find_module(g, mod);
  if (!mi && lenient)
    return 0;
  if (!mi) {
    tz_diag_error(d, NULL, "-o %s: module '%s' is not loaded", text, mod);
    return -1;
  }
  char *end;
  tz_val_t v = {TZ_VAL_STR, strtol(eq + 1, &end, 10), eq + 1, strlen(eq + 1)};
  if (eq[1] && !*end)
    v.type = TZ_VAL_INT;
  int rc = tz_module_set_param(mi, param, &v, err, sizeof err);
  if (rc < 0 && v.type == TZ_VAL_INT) {
    v.type = TZ_VAL_STR; /* digits for a string parameter */
    rc = tz_module_set_param(mi, param, &v, err, sizeof err);
  }
  if (rc < 0)
    tz_diag_error(d, NULL, "-o %s: %s", text, err);
  return rc;
}

/* Orders g->mods so every module comes after the modules it depends on. */
static int gen_order_modules(tz_gen_t *g, const tz_directive_t *dirs,
                             size_t ndirs, tz_diag_t *d)
{
  size_t n = g->nmods, done = 0;
  tz_modinst_t **out = calloc(n ? n : 1, sizeof *out);
  char *placed = calloc(n ? n : 1, 1);
  int rc = -1;
  if (!out || !placed)
    goto end;
  for (size_t i = 0; i < n; i++) {
    const tz_module_t *e = tz_modinst_export(g->mods[i]);
    for (const char *const *dep = e->deps; dep && *dep; dep++)
      if (!tz_gen_find_module(g, *dep)) {
        tz_diag_error(d, gen_loadmodule_loc(dirs, ndirs, e->name),
                      "module '%s' needs module '%s': add loadmodule \"%s\"",
                      e->name, *dep, *dep);
        goto end;
      }
  }
  while (done < n) {
    size_t before = done;
    for (size_t i = 0; i < n; i++) {
      if (placed[i])
        continue;
      int ready = 1;
      const tz_module_t *e = tz_modinst_export(g->mods[i]);
      for (const char *const *dep = e->deps; dep && *dep && ready; dep++) {
        ready = 0;
        for (size_t k = 0; k < done; k++)
          if (strcmp(tz_mod_name(out[k]), *dep) == 0)
            ready = 1;
      }
      if (ready) {
        out[done++] = g->mods[i];
        placed[i] = 1;
      }
    }
    if (done == before) {
      for (size_t i = 0; i < n; i++)
        if (!placed[i])
          tz_diag_error(d, gen_loadmodule_loc(dirs, ndirs,
                                              tz_mod_name(g->mods[i])),
                        "module '%s' is part of a dependency cycle",
                        tz_mod_name(g->mods[i]));
      goto end;
    }
  }
  if (n)
    memcpy(g->mods, out, n * sizeof *out);
  rc = 0;
end:
  free(out);
  free(placed);
  return rc;
}

static int gen_check_exports(tz_gen_t *g, const tz_directive_t *dirs,
                             size_t ndirs, tz_diag_t *d)
{
  int rc = 0;
  for (size_t i = 0; i < g->nmods; i++) {
    const tz_module_t *e = tz_modinst_export(g->mods[i]);
    for (const tz_func_export_t *f = e->funcs; f && f->name; f++) {
      const char *clash = NULL;
      if (tz_script_is_builtin(g->script, f->name))
        clash = "the core";
      for (size_t k = 0; k < i && !clash; k++)
        if (tz_modinst_find_func(g->mods[k], f->name))
          clash = tz_mod_name(g->mods[k]);
      if (clash) {
        tz_diag_error(d, gen_loadmodule_loc(dirs, ndirs, e->name),
                      "module '%s' exports '%s', which %s already defines",
                      e->name, f->name, clash);
        rc = -1;
      }
    }
  }
  return rc;
}

/* Initialises in dependency order; on failure undoes those done. */
/* check_only: the modules' own checks alone (no files, no connections);
 * else each module's check, then its init. */
static int gen_init_modules(tz_gen_t *g, const tz_directive_t *dirs,
                            size_t ndirs, int check_only, tz_diag_t *d)
{
  char err[512];
  for (size_t i = 0; i < g->nmods; i++) {
    if (tz_module_check(g->mods[i], err, sizeof err) < 0 ||
        (!check_only && tz_module_init(g->mods[i], err, sizeof err) < 0)) {
      tz_diag_error(d, gen_loadmodule_loc(dirs, ndirs,
                                          tz_mod_name(g->mods[i])),
                    "%s", err);
      return -1;
    }
  }
  return 0;
}

/* ---- the resolver the script checker uses ------------------------------- */

static const tz_func_export_t *gen_lookup_func(void *ctx, const char *name,
                                               tz_modinst_t **mod)
{
  tz_gen_t *g = ctx;
  for (size_t i = 0; i < g->nmods; i++) {
    const tz_func_export_t *f = tz_modinst_find_func(g->mods[i], name);
    if (f) {
      *mod = g->mods[i];
      return f;
    }
  }
  return NULL;
}

static void gen_each_func(void *ctx, void (*cb)(void *, const char *),
                          void *cbctx)
{
  tz_gen_t *g = ctx;
  for (size_t i = 0; i < g->nmods; i++)
    for (const tz_func_export_t *f = tz_modinst_export(g->mods[i])->funcs;
         f && f->name; f++)
      cb(cbctx, f->name);
}

/* ---- building ------------------------------------------------------------ */

/* A command-line value over the script's. */
static int gen_override(char **slot, const char *value)
{
  if (!value)
    return 0;
  free(*slot);
  *slot = strdup(value);
  return *slot ? 0 : -1;
}

/* What the command line says wins over the script's settings. */
static int gen_apply_overrides(tz_gen_t *g, const tz_gen_opts_t *o, tz_diag_t *d)
{
  if (gen_override(&g->mpath, o->mpath) < 0 ||
      (!g->mpath && !(g->mpath = strdup(TZ_MODDIR))) ||
      gen_override(&g->user, o->user) < 0 || gen_override(&g->group, o->group) < 0)
    return -1;
  for (size_t i = 0; i < o->nlistens; i++)
    if (gen_add_listen(g, o->listens[i], d, NULL) < 0)
      return -1;
  g->log_level += o->debug_delta;
  if (o->workers)
    g->workers = o->workers;
  return 0;
}

static int gen_apply_directives(tz_gen_t *g, const tz_gen_opts_t *o,
                                tz_diag_t *d)
{
  const tz_directive_t *dirs;
  size_t n = tz_script_directives(g->script, &dirs);
  int rc = 0;
  for (size_t i = 0; i < n; i++)
    if (dirs[i].kind == TZ_DIR_SET && gen_apply_setting(g, &dirs[i], o, d) < 0)
      rc = -1;
  if (rc < 0 || gen_apply_overrides(g, o, d) < 0)
    return -1;
  if (o->settled && o->settled(g, o->settled_arg, d) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (dirs[i].kind != TZ_DIR_SET && gen_is_skipped(o, dirs[i].name))
      continue; /* unloaded at run time: its modparams go with it */
    if (dirs[i].kind == TZ_DIR_LOADMODULE && gen_load_module(g, &dirs[i], d) < 0)
      return -1;
    if (dirs[i].kind == TZ_DIR_MODPARAM && gen_set_modparam(g, &dirs[i], d) < 0)
      return -1;
  }
  for (size_t i = 0; i < o->nextra; i++) {
    tz_directive_t extra = {.kind = TZ_DIR_LOADMODULE, .name = o->extra_modules[i]};
    if (!tz_gen_find_module(g, extra.name) && gen_load_module(g, &extra, d) < 0)
      return -1;
  }
  for (size_t i = 0; i < o->nmodparams; i++)
    if (gen_apply_override(g, o->modparams[i], 0, d) < 0)
      return -1;
  for (size_t i = 0; i < o->nscratch; i++)
    if (gen_apply_override(g, o->scratch_modparams[i], 1, d) < 0)
      return -1;
  /* Checking a script (-c) must not open databases or start threads. */
  if (gen_order_modules(g, dirs, n, d) < 0 ||
      gen_check_exports(g, dirs, n, d) < 0 ||
      gen_init_modules(g, dirs, n, o->check_only, d) < 0)
    return -1;
  tz_resolver_t r = {gen_lookup_func, gen_each_func, g};
  return tz_script_check(g->script, &r, d);
}

static void gen_script_free(void *script) { tz_script_free(script); }

static tz_gen_t *gen_build(tz_script_t *s, const tz_gen_opts_t *o,
                           tz_diag_t *d)
{
  static const tz_gen_opts_t none;
  if (!s)
    return NULL;
  tz_gen_t *g = tz_gen_new();
  if (!g || !tz_cleanup_add(&g->owner, gen_script_free, s, NULL)) {
    tz_gen_unref(g);
    tz_script_free(s);
    return NULL;
  }
  g->script = s;
  if (gen_apply_directives(g, o ? o : &none, d) < 0) {
    tz_gen_unref(g);
    return NULL;
  }
  tz_gen_seal(g);
  return g;
}

tz_gen_t *tz_gen_build(const char *path, const tz_gen_opts_t *o,
                       tz_diag_t *d)
{
  return gen_build(tz_script_parse_file(path, &tz_sip_lang, d), o, d);
}

tz_gen_t *tz_gen_build_text(const char *name, const char *text,
                            const tz_gen_opts_t *o, tz_diag_t *d)
{
  return gen_build(tz_script_parse_text(name, text, strlen(text), &tz_sip_lang, d),
                   o, d);
}
