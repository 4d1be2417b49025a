/*
 * mandump.c - prints, from the tables the code itself uses, the names the
 * man pages must document (tests/man.sh compares them with doc/man/):
 *
 *   mandump settings        the script's core settings (control/build.c)
 *   mandump funcs           the core's script functions (sip/builtins.c,
 *                           script/funcs.c)
 *   mandump pvars           the core's pseudo-variables (sip/pvars.c, and
 *                           the engine's own $var)
 *   mandump methods         the control methods the core registers
 *                           (control/control.c)
 *   mandump module NAME MPATH
 *                           a module's exports as the loader sees them:
 *                           "param NAME TYPE DEFAULT" and
 *                           "func NAME MIN MAX ROUTES" lines
 *
 * One name per line (module: one export per line). -v after the command
 * adds each entry's built-in help text, for whoever writes the pages.
 */
#define _POSIX_C_SOURCE 200809L
#include "control/build.h"
#include "control/control.h"
#include "runtime/command.h"
#include "runtime/loop.h"
#include "runtime/module.h"
#include "script/ast.h"
#include "sip/lang.h"

#include <stdio.h>
#include <string.h>

static int verbose;

static void dump_funcs(const tz_func_export_t *t)
{
  for (; t->name; t++) {
    printf("%s", t->name);
    if (verbose)
      printf("\t%d..%d\t%s", t->min_args, t->max_args, t->doc ? t->doc : "");
    printf("\n");
  }
}

static void dump_method(void *arg, const char *name, const char *help)
{
  (void)arg;
  printf("%s", name);
  if (verbose)
    printf("\t%s", help ? help : "");
  printf("\n");
}

static const char *routes(unsigned mask)
{
  static char buf[64];
  if (!mask || mask == TZ_ROUTE_ANY)
    return "any";
  buf[0] = '\0';
  if (mask & TZ_ROUTE_REQUEST)
    strcat(buf, "request,");
  if (mask & TZ_ROUTE_REPLY)
    strcat(buf, "reply,");
  if (mask & TZ_ROUTE_FAILURE)
    strcat(buf, "failure,");
  buf[strlen(buf) - 1] = '\0';
  return buf;
}

static int dump_module(const char *name, const char *mpath)
{
  char err[512];
  if (tz_loop_init() < 0 || tz_module_system_init() < 0) {
    fprintf(stderr, "mandump: cannot initialise the module system\n");
    return 1;
  }
  tz_modinst_t *mi = tz_module_load(name, mpath, err, sizeof err);
  if (!mi) {
    fprintf(stderr, "mandump: %s\n", err);
    return 1;
  }
  const tz_module_t *e = tz_modinst_export(mi);
  for (const tz_param_export_t *p = e->params; p && p->name; p++) {
    if (p->type == TZ_PARAM_INT)
      printf("param %s int %ld", p->name, p->int_default);
    else
      printf("param %s str %s", p->name,
             p->str_default ? p->str_default : "(unset)");
    if (verbose)
      printf("\t[%ld..%ld] %s", p->min, p->max, p->doc ? p->doc : "");
    printf("\n");
  }
  for (const tz_func_export_t *f = e->funcs; f && f->name; f++) {
    printf("func %s %d %d %s", f->name, f->min_args, f->max_args,
           routes(f->route_mask));
    if (verbose)
      printf("\t%s", f->doc ? f->doc : "");
    printf("\n");
  }
  tz_module_destroy(mi);
  tz_module_system_deinit();
  tz_loop_deinit();
  return 0;
}

int main(int argc, char **argv)
{
  const char *cmd = argc > 1 ? argv[1] : "";
  int n = argc - 2;
  char **arg = argv + 2;
  if (n > 0 && !strcmp(arg[0], "-v")) {
    verbose = 1;
    n--;
    arg++;
  }
  if (!strcmp(cmd, "settings") && n == 0) {
    for (size_t i = 0; i < tz_gen_setting_count(); i++)
      printf("%s\n", tz_gen_setting_name(i));
  } else if (!strcmp(cmd, "funcs") && n == 0) {
    dump_funcs(tz_sip_funcs);
    dump_funcs(script_funcs);
  } else if (!strcmp(cmd, "pvars") && n == 0) {
    for (const tz_pvar_def_t *p = tz_sip_pvars; p->name; p++)
      printf("%s%s\n", p->name, verbose && p->set ? "\tassignable" : "");
    /* The engine's own (script/pvar.c keeps its definition private). */
    printf("var%s\n", verbose ? "\tassignable" : "");
  } else if (!strcmp(cmd, "methods") && n == 0) {
    if (tz_control_register_commands() < 0) {
      fprintf(stderr, "mandump: cannot register the core's commands\n");
      return 1;
    }
    tz_command_each(dump_method, NULL);
    tz_control_unregister_commands();
  } else if (!strcmp(cmd, "module") && n == 2) {
    return dump_module(arg[0], arg[1]);
  } else {
    fprintf(stderr, "usage: mandump settings|funcs|pvars|methods [-v]\n"
                    "       mandump module [-v] NAME MPATH\n");
    return 2;
  }
  return 0;
}
