/*
 * control.c - run-time changes and the control commands.
 *
 * Every change is the same operation: build a complete new generation
 * beside the serving one, check it, and swap. Module load and unload
 * rebuild from the serving script's own text with a module added or left
 * out, so they never pick up unrelated edits of the file on disk; a failed
 * build changes nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "control/control.h"
#include "runtime/command.h"
#include "script/script.h"
#include "config.h"
#include "control/ctl.h"
#include "control/notify.h"
#include "lib/log.h"
#include "runtime/module.h"
#include "sip/transport.h"
#include "sip/udp.h"
#include "lib/stats.h"
#include "sip/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct namelist {
  char **v;
  size_t n;
} namelist_t;

static struct {
  char *path;           /* the script file */
  tz_gen_opts_t opts;   /* the command line's; arrays live in main() */
  namelist_t extra;     /* tzctl module load, not in the script */
  namelist_t skip;      /* tzctl module unload, in the script */
  time_t started;
} rt;

/* ---- name lists --------------------------------------------------------- */

static int names_has(const namelist_t *l, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], name) == 0)
      return 1;
  return 0;
}

static int names_add(namelist_t *l, const char *name)
{
  char **v = realloc(l->v, (l->n + 1) * sizeof *v);
  if (!v)
    return -1;
  l->v = v;
  if (!(l->v[l->n] = strdup(name)))
    return -1;
  l->n++;
  return 0;
}

static void names_remove(namelist_t *l, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], name) == 0) {
      free(l->v[i]);
      l->v[i] = l->v[--l->n];
      return;
    }
}

static void names_free(namelist_t *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* ---- generations ----------------------------------------------------------- */

int tz_control_init(const char *script_path, const tz_gen_opts_t *o)
{
  rt.path = strdup(script_path);
  rt.opts = *o;
  rt.started = time(NULL);
  return rt.path ? 0 : -1;
}

void tz_control_deinit(void)
{
  free(rt.path);
  names_free(&rt.extra);
  names_free(&rt.skip);
  memset(&rt, 0, sizeof rt);
}

static tz_gen_opts_t control_opts(void)
{
  tz_gen_opts_t o = rt.opts;
  o.extra_modules = (const char *const *)rt.extra.v;
  o.nextra = rt.extra.n;
  o.skip_modules = (const char *const *)rt.skip.v;
  o.nskip = rt.skip.n;
  return o;
}

static int control_same(const char *a, const char *b)
{
  return a == b || (a && b && strcmp(a, b) == 0);
}

static void control_swap(tz_gen_t *g)
{
  tz_gen_t *old = tz_gen_current();
  unsigned old_id = old ? old->id : 0;
  if (old && g->nlistens && g->nlistens != old->nlistens)
    tz_log(TZ_LOG_WARN, "listen addresses change only with a restart");
  if (old && (!control_same(g->user, old->user) ||
              !control_same(g->group, old->group)))
    tz_log(TZ_LOG_WARN, "user and group change only with a restart");
  if (old && g->workers != old->workers)
    tz_log(TZ_LOG_WARN, "workers changes only with a restart (%u run)",
           tz_worker_count());
  tz_sip_apply_all(g);
  tz_gen_set_current(g);
  tz_gen_unref(g);
  tz_log(TZ_LOG_NOTICE, "generation %u serving (was %u)", g->id, old_id);
}

static int control_reload(const char *path, tz_diag_t *d)
{
  tz_gen_opts_t o = control_opts();
  const char *file = path ? path : rt.path;
  tz_gen_t *g = tz_gen_build(file, &o, d);
  if (!g)
    return -1;
  if (path && strcmp(path, rt.path) != 0) {
    char *p = strdup(path);
    if (!p) {
      tz_gen_unref(g);
      return -1;
    }
    free(rt.path);
    rt.path = p;
  }
  control_swap(g);
  return 0;
}

/* systemd hears of the reload and of its end, failed or not: the old
 * generation serving on is a state it shows (systemctl status). */
int tz_control_reload(const char *path, tz_diag_t *d)
{
  tz_notify_reloading();
  int rc = control_reload(path, d);
  tz_notify_reloaded(tz_gen_current(), rc == 0);
  return rc;
}

/* Rebuilds the serving script's text with the current module overlay. */
static int control_rebuild(char *msg, size_t len)
{
  tz_diag_t d = {0};
  const tz_src_t *src = tz_script_source(tz_gen_current()->script);
  tz_gen_opts_t o = control_opts();
  tz_gen_t *g = tz_gen_build_text(src->name, src->text, &o, &d);
  if (!g)
    snprintf(msg, len, "%s", tz_diag_text(&d));
  tz_diag_clear(&d);
  if (!g)
    return -1;
  control_swap(g);
  return 0;
}

int tz_control_module_load(const char *name, char *msg, size_t len)
{
  if (tz_gen_find_module(tz_gen_current(), name)) {
    snprintf(msg, len, "module '%s' is already loaded", name);
    return -1;
  }
  int was_skipped = names_has(&rt.skip, name);
  if (was_skipped)
    names_remove(&rt.skip, name);
  else if (names_add(&rt.extra, name) < 0)
    return snprintf(msg, len, "out of memory"), -1;
  if (control_rebuild(msg, len) < 0) {
    if (was_skipped)
      names_add(&rt.skip, name);
    else
      names_remove(&rt.extra, name);
    return -1;
  }
  snprintf(msg, len, "module '%s' loaded (generation %u)", name,
           tz_gen_current()->id);
  return 0;
}

typedef struct uses {
  char *buf;
  size_t len, used;
} uses_t;

static void control_note_use(void *ctx, const tz_loc_t *loc, const char *func)
{
  uses_t *u = ctx;
  if (u->used < u->len)
    u->used += (size_t)snprintf(u->buf + u->used, u->len - u->used,
                                "\n  %s:%u:%u: %s()", loc->src->name,
                                loc->line, loc->col, func);
}

/* Unloading is refused while anything of the serving generation needs
 * the module: a script call, or another module's dependency. */
static int control_check_unload(const tz_gen_t *g, tz_modinst_t *mi,
                                const char *name, char *msg, size_t len)
{
  int n = snprintf(msg, len, "module '%s' is in use by the running script:",
                   name);
  uses_t u = {msg, len, n > 0 ? (size_t)n : 0};
  if (tz_script_uses_module(g->script, mi, control_note_use, &u) > 0)
    return -1;
  for (size_t i = 0; i < g->nmods; i++)
    for (const char *const *dep = tz_modinst_export(g->mods[i])->deps;
         dep && *dep; dep++)
      if (strcmp(*dep, name) == 0) {
        snprintf(msg, len, "module '%s' is needed by module '%s'", name,
                 tz_mod_name(g->mods[i]));
        return -1;
      }
  return 0;
}

int tz_control_module_unload(const char *name, char *msg, size_t len)
{
  tz_gen_t *g = tz_gen_current();
  tz_modinst_t *mi = tz_gen_find_module(g, name);
  if (!mi) {
    snprintf(msg, len, "module '%s' is not loaded", name);
    return -1;
  }
  if (control_check_unload(g, mi, name, msg, len) < 0)
    return -1;
  int was_extra = names_has(&rt.extra, name);
  if (was_extra)
    names_remove(&rt.extra, name);
  else if (names_add(&rt.skip, name) < 0)
    return snprintf(msg, len, "out of memory"), -1;
  if (control_rebuild(msg, len) < 0) {
    if (was_extra)
      names_add(&rt.extra, name);
    else
      names_remove(&rt.skip, name);
    return -1;
  }
  snprintf(msg, len,
           "module '%s' unloaded (generation %u; closed when the last "
           "transaction of the old generation ends)",
           name, tz_gen_current()->id);
  return 0;
}

/* ---- the commands -------------------------------------------------------------- */

static int ctl_need(const char *v, const char *key, char *err, size_t len)
{
  if (v)
    return 0;
  snprintf(err, len, "missing string parameter '%s'", key);
  return TZ_CTL_INVALID_PARAMS;
}

static int cmd_version(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  (void)p;
  (void)err;
  (void)len;
  tz_jw_obj_begin(out);
  tz_jw_key(out, "name");
  tz_jw_str(out, PACKAGE_NAME);
  tz_jw_key(out, "version");
  tz_jw_str(out, PACKAGE_VERSION);
  tz_jw_key(out, "generation");
  tz_jw_int(out, tz_gen_current()->id);
  tz_jw_key(out, "uptime");
  tz_jw_int(out, (long long)(time(NULL) - rt.started));
  tz_jw_obj_end(out);
  return 0;
}

/* Length of a password=VALUE value at v: up to a space or '&' (or the end
 * of a script's line or string), or a single-quoted string (libpq's
 * key=value quoting, \' inside). */
static size_t ctl_secret_len(const char *v)
{
  if (*v != '\'')
    return strcspn(v, " \t&\n\"");
  size_t n = 1;
  while (v[n] && v[n] != '\'')
    n += v[n] == '\\' && v[n + 1] ? 2 : 1;
  return v[n] ? n + 1 : n;
}

/* The password of "//user:PASSWORD@host" at p (just past "//"): its
 * offset and length, or 0 when the authority holds none. */
static size_t ctl_userinfo_secret(const char *p, size_t *off)
{
  size_t auth = strcspn(p, "/?#\n\""); /* a script's URL ends with its line */
  const char *at = memchr(p, '@', auth);
  const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
  if (!colon)
    return 0;
  *off = (size_t)(colon + 1 - p);
  return (size_t)(at - colon - 1);
}

/* s with every password masked: libpq's password=VALUE (key=value string
 * or URL query) and a URL's user:PASSWORD@. */
static void ctl_write_masked(tz_jbuf_t *out, const char *s)
{
  tz_jbuf_t m;
  tz_jbuf_init(&m);
  for (const char *p = s; *p;) {
    size_t off = 0, n = 0;
    if (strncmp(p, "password=", 9) == 0 && (p == s || strchr(" \t&?", p[-1])))
      off = 9, n = ctl_secret_len(p + 9);
    else if (strncmp(p, "://", 3) == 0 && (n = ctl_userinfo_secret(p + 3, &off)))
      off += 3;
    if (off == 0) {
      tz_jbuf_append(&m, p++, 1);
      continue;
    }
    tz_jbuf_append(&m, p, off);
    tz_jbuf_append(&m, "***", 3);
    p += off + n;
  }
  tz_jw_str(out, m.err ? NULL : m.s ? m.s : "");
  tz_jbuf_free(&m);
}

static void ctl_write_params(tz_jbuf_t *out, tz_modinst_t *mi)
{
  const tz_module_t *e = tz_modinst_export(mi);
  tz_jw_obj_begin(out);
  for (const tz_param_export_t *p = e->params; p && p->name; p++) {
    tz_jw_key(out, p->name);
    const char *v = NULL;
    if (p->type == TZ_PARAM_INT)
      tz_jw_int(out, *(long *)((char *)tz_mod_cfg(mi) + p->offset));
    else if (!(v = *(char **)((char *)tz_mod_cfg(mi) + p->offset)) || !p->secret)
      tz_jw_str(out, v);
    else
      ctl_write_masked(out, v);
  }
  tz_jw_obj_end(out);
}

static int cmd_module_list(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  (void)p;
  (void)err;
  (void)len;
  tz_gen_t *g = tz_gen_current();
  tz_jw_arr_begin(out);
  for (size_t i = 0; i < g->nmods; i++) {
    const tz_module_t *e = tz_modinst_export(g->mods[i]);
    tz_jw_obj_begin(out);
    tz_jw_key(out, "name");
    tz_jw_str(out, e->name);
    tz_jw_key(out, "version");
    tz_jw_str(out, e->version);
    tz_jw_key(out, "description");
    tz_jw_str(out, e->description);
    tz_jw_key(out, "functions");
    tz_jw_arr_begin(out);
    for (const tz_func_export_t *f = e->funcs; f && f->name; f++)
      tz_jw_str(out, f->name);
    tz_jw_arr_end(out);
    tz_jw_key(out, "params");
    ctl_write_params(out, g->mods[i]);
    tz_jw_obj_end(out);
  }
  tz_jw_arr_end(out);
  return 0;
}

static int ctl_generation_result(tz_jbuf_t *out, const char *msg)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "generation");
  tz_jw_int(out, tz_gen_current()->id);
  tz_jw_key(out, "message");
  tz_jw_str(out, msg);
  tz_jw_obj_end(out);
  return 0;
}

static int module_change(const tz_json_t *p, tz_jbuf_t *out, char *err,
                         size_t len, int load)
{
  const char *name = tz_json_param_str(p, "name", 0);
  int rc = ctl_need(name, "name", err, len);
  if (rc)
    return rc;
  if ((load ? tz_control_module_load : tz_control_module_unload)(name, err, len) < 0)
    return TZ_CTL_REFUSED;
  return ctl_generation_result(out, err);
}

static int cmd_module_load(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  return module_change(p, out, err, len, 1);
}

static int cmd_module_unload(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  return module_change(p, out, err, len, 0);
}

static int cmd_script_reload(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  tz_diag_t d = {0};
  int rc = tz_control_reload(tz_json_param_str(p, "file", 0), &d);
  snprintf(err, len, "%s", rc < 0 ? tz_diag_text(&d) : "reloaded");
  tz_diag_clear(&d);
  return rc < 0 ? TZ_CTL_REFUSED : ctl_generation_result(out, err);
}

/* Parses and checks without initialising modules or touching the serving
 * generation, like trapezoid -c. */
static int cmd_script_check(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  const char *file = tz_json_param_str(p, "file", 0);
  int rc = ctl_need(file, "file", err, len);
  if (rc)
    return rc;
  tz_diag_t d = {0};
  tz_gen_opts_t o = control_opts();
  o.check_only = 1;
  tz_gen_t *g = tz_gen_build(file, &o, &d);
  if (!g) {
    snprintf(err, len, "%s", tz_diag_text(&d));
    tz_diag_clear(&d);
    return TZ_CTL_REFUSED;
  }
  tz_gen_unref(g);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "ok");
  tz_jw_bool(out, 1);
  tz_jw_key(out, "warnings");
  tz_jw_str(out, tz_diag_text(&d));
  tz_jw_obj_end(out);
  tz_diag_clear(&d);
  return 0;
}

/* The serving generation's own text, which may differ from the file on
 * disk after an edit without a reload: tzctl script test runs the script
 * tests against it, with the same module path. */
static int cmd_script_show(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  (void)p;
  (void)err;
  (void)len;
  const tz_gen_t *g = tz_gen_current();
  const tz_src_t *src = tz_script_source(g->script);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "path");
  tz_jw_str(out, src->name);
  tz_jw_key(out, "generation");
  tz_jw_int(out, g->id);
  /* Masked as module.list masks parameters: the control port on loopback
   * (ctl_listen) answers any local user. A masked database URL costs the
   * tests nothing: their server reaches no database but scratch sqlite. */
  tz_jw_key(out, "text");
  ctl_write_masked(out, src->text);
  tz_jw_key(out, "mpath");
  tz_jw_str(out, g->mpath);
  tz_jw_obj_end(out);
  return 0;
}

static void ctl_stat_json(const tz_stat_t *st, void *arg)
{
  tz_jw_key(arg, tz_stat_name(st));
  tz_jw_int(arg, tz_stat_value(st));
}

static int cmd_stats(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  (void)p;
  (void)err;
  (void)len;
  tz_udp_stats_refresh(); /* the kernel's counts, read when asked */
  tz_jw_obj_begin(out);
  tz_jw_key(out, "counters");
  tz_jw_obj_begin(out);
  tz_stats_each(ctl_stat_json, out);
  tz_jw_obj_end(out);
  tz_jw_obj_end(out);
  return 0;
}

static void ctl_stat_prometheus(const tz_stat_t *st, void *arg)
{
  tz_jbuf_t *out = arg;
  /* "sip.replies.local.404" -> "trapezoid_sip_replies_local_404" */
  char pn[160];
  int len = snprintf(pn, sizeof pn, "trapezoid_%s", tz_stat_name(st));
  for (int k = 0; k < len && (size_t)k < sizeof pn; k++)
    if (pn[k] == '.' || pn[k] == '-')
      pn[k] = '_';
  if (tz_stat_help(st))
    tz_jbuf_printf(out, "# HELP %s %s\n", pn, tz_stat_help(st));
  tz_jbuf_printf(out, "# TYPE %s %s\n%s %ld\n", pn,
                 tz_stat_is_gauge(st) ? "gauge" : "counter", pn, tz_stat_value(st));
}

void tz_control_prometheus(tz_jbuf_t *out)
{
  tz_udp_stats_refresh(); /* the kernel's counts, read when asked */
  tz_stats_each(ctl_stat_prometheus, out);
}

static int ctl_trace_result(tz_jbuf_t *out)
{
  const char *callid, *source;
  int on = tz_trace_get(&callid, &source);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "trace");
  tz_jw_str(out, on ? "on" : "off");
  tz_jw_key(out, "callid");
  tz_jw_str(out, callid);
  tz_jw_key(out, "source");
  tz_jw_str(out, source);
  tz_jw_obj_end(out);
  return 0;
}

static int cmd_trace_on(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  if (tz_trace_set(1, tz_json_str(tz_json_get(p, "callid")),
                   tz_json_str(tz_json_get(p, "source"))) < 0) {
    snprintf(err, len, "out of memory");
    return TZ_CTL_INTERNAL;
  }
  return ctl_trace_result(out);
}

static int cmd_trace_off(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out, char *err, size_t len)
{
  (void)mod;
  (void)p;
  (void)err;
  (void)len;
  tz_trace_set(0, NULL, NULL);
  return ctl_trace_result(out);
}

/* The core's own commands, released when the control plane stops. */
static tz_owner_t control_commands;

int tz_control_register_commands(void)
{
  static const struct {
    const char *name;
    tz_rpc_f fn;
    const char *help;
  } cmds[] = {
    {"version", cmd_version, "server name, version, generation, uptime"},
    {"module.list", cmd_module_list, "loaded modules, functions, parameters"},
    {"module.load", cmd_module_load, "load module {name} into a new generation"},
    {"module.unload", cmd_module_unload,
     "unload module {name}; refused while the script or a module uses it"},
    {"script.reload", cmd_script_reload,
     "load {file} (default: the current one); the old script keeps serving on errors"},
    {"script.check", cmd_script_check, "check {file} without loading it"},
    {"script.show", cmd_script_show,
     "the serving script's path, generation, text and module path"},
    {"stats", cmd_stats, "all counters"},
    {"trace.on", cmd_trace_on,
     "trace script lines for every message, or {callid} and/or {source}"},
    {"trace.off", cmd_trace_off, "stop tracing"},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (tz_command_register(&control_commands, NULL, cmds[i].name, cmds[i].fn,
                            cmds[i].help) < 0)
      return -1;
  return 0;
}

void tz_control_unregister_commands(void)
{
  tz_owner_release(&control_commands, NULL);
}
