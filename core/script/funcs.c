/*
 * funcs.c - the script engine's own built-in functions: log and xlog.
 * Everything about SIP comes from the host's language (sip/builtins.c).
 *
 * They are ordinary tz_func_export_t entries, checked and called exactly
 * like module functions; the one extension is that a built-in name may
 * appear more than once with different arities (log/1 and log/2), which
 * script_func_find resolves over both tables.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/su_string.h>

#include "script/ast.h"

/* ---- log ---------------------------------------------------------------- */

/* One trailing newline is dropped: Kamailio's xlog texts end in "\n". */
static int core_log_text(int level, const tz_call_t *c, const tz_arg_t *text)
{
  size_t len = text->len;
  if (len && text->s[len - 1] == '\n')
    len--;
  tz_log(level, "%s:%u: %.*s", c->loc->src->name, c->loc->line, (int)len,
         text->s);
  return 1;
}

static int core_log(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  return core_log_text(TZ_LOG_INFO, c, &c->argv[0]);
}

/* xlog(text) logs at error level, as Kamailio's does. */
static int core_xlog(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  return core_log_text(TZ_LOG_ERR, c, &c->argv[0]);
}

/* The level was converted to a syslog priority in arg->i by the fixup. */
static int core_log_level(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  return core_log_text((int)c->argv[0].i, c, &c->argv[1]);
}

static int core_level_from_number(long n)
{
  if (n < -5 || n > 3)
    return -1;
  static const int levels[] = {TZ_LOG_WARN, TZ_LOG_NOTICE, TZ_LOG_INFO,
                               TZ_LOG_DBG};
  return n < 0 ? TZ_LOG_ERR : levels[n];
}

static int core_level_from_name(const char *s)
{
  static const struct {
    const char *name;
    int level;
  } names[] = {{"alert", TZ_LOG_ERR}, {"bug", TZ_LOG_ERR},
               {"crit", TZ_LOG_ERR},  {"err", TZ_LOG_ERR},
               {"error", TZ_LOG_ERR}, {"warn", TZ_LOG_WARN},
               {"warning", TZ_LOG_WARN}, {"notice", TZ_LOG_NOTICE},
               {"info", TZ_LOG_INFO}, {"dbg", TZ_LOG_DBG},
               {"debug", TZ_LOG_DBG}};
  if ((s[0] == 'L' || s[0] == 'l') && s[1] == '_')
    s += 2;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (su_casematch(s, names[i].name))
      return names[i].level;
  return -1;
}

/* Kamailio numbering (-1 err, 0 warn, 1 notice, 2 info, 3 dbg) or a name
 * ("err", "L_WARN", ...), turned into a syslog priority once. */
static int core_fixup_log(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                          char *err, size_t errlen)
{
  (void)mod;
  if (idx != 0)
    return 0;
  char *end;
  long n = strtol(arg->s, &end, 10);
  int level = *arg->s && !*end ? core_level_from_number(n)
                               : core_level_from_name(arg->s);
  if (level < 0) {
    snprintf(err, errlen, "unknown log level '%s' (use -1..3, or err, warn, "
             "notice, info, dbg)", arg->s);
    return -1;
  }
  arg->i = level;
  return 0;
}

/* ---- the table ---------------------------------------------------------- */

/* log(level, text) and xlog(level, text): the level a constant, resolved
 * at load. */
#define LOG_LEVEL_ARGS                                                       \
  .handler = core_log_level, .min_args = 2, .max_args = 2,                   \
  .args = {TZ_ARG_STR, TZ_ARG_FMT}, .const_mask = 1u << 0,                   \
  .fixup = core_fixup_log

const tz_func_export_t script_funcs[] = {
    {.name = "log",
     .handler = core_log,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_FMT},
     .doc = "log(text): log text at info level, prefixed with file:line; "
            "text may contain $pvars."},
    {.name = "log",
     LOG_LEVEL_ARGS,
     .doc = "log(level, text): log at a level given as -1..3 (err, warn, "
            "notice, info, dbg) or as a name (\"err\", \"L_WARN\", ...)."},
    {.name = "xlog",
     .handler = core_xlog,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_FMT},
     .doc = "xlog(text): Kamailio's spelling; logs at error level."},
    {.name = "xlog",
     LOG_LEVEL_ARGS,
     .doc = "xlog(level, text): the same as log(level, text)."},
    {0}};

/* Looks through one table; widens the arity range over every entry of
 * the name. */
static const tz_func_export_t *func_find_in(const tz_func_export_t *t,
                                            const char *name, int argc,
                                            int *min, int *max)
{
  const tz_func_export_t *found = NULL;
  for (const tz_func_export_t *fe = t; fe && fe->name; fe++) {
    if (strcmp(fe->name, name))
      continue;
    if (*min < 0 || fe->min_args < *min)
      *min = fe->min_args;
    if (fe->max_args > *max)
      *max = fe->max_args;
    if (argc >= fe->min_args && argc <= fe->max_args)
      found = fe;
  }
  return found;
}

const tz_func_export_t *script_func_find(const tz_script_t *s,
                                         const char *name, int argc, int *min,
                                         int *max)
{
  *min = -1;
  *max = 0;
  const tz_func_export_t *own = func_find_in(script_funcs, name, argc, min, max);
  const tz_func_export_t *host =
      func_find_in(s->lang ? s->lang->funcs : NULL, name, argc, min, max);
  return own ? own : host;
}

int tz_script_is_builtin(const tz_script_t *s, const char *name)
{
  int min, max;
  script_func_find(s, name, 0, &min, &max);
  return min >= 0;
}
