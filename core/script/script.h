/*
 * script.h - the routing script: parse once, check and resolve at load,
 * run per message.
 *
 * Core-internal interface between the script engine (core/script/) and the
 * rest of the core. Parsing yields a tree plus the top-level directives
 * (loadmodule, modparam, name=value settings), which the generation builder
 * applies; checking then resolves every function, route, variable and
 * regex, so running never looks anything up by name.
 *
 * The engine knows no SIP: it runs on an opaque tz_msg_t, and its host
 * (the SIP layer, sip/builtins.c) adds the built-in functions and
 * pseudo-variables of the language through a tz_lang_t, exactly as
 * modules add theirs through the resolver. Its own are $var(name) and
 * log/xlog.
 */
#ifndef TZ_SCRIPT_H
#define TZ_SCRIPT_H

#include <stdint.h>

#include <trapezoid/trapezoid.h>

typedef struct tz_script tz_script_t;
typedef struct tz_route tz_route_t;

typedef enum {
  TZ_DIR_LOADMODULE = 1, /* loadmodule "name"            name */
  TZ_DIR_MODPARAM,       /* modparam("mod","p",value)     name, param, value */
  TZ_DIR_SET             /* name = value                  name, value */
} tz_dir_kind_t;

typedef struct tz_directive {
  tz_dir_kind_t kind;
  tz_loc_t loc;        /* of the directive keyword / setting name */
  const char *name;
  const char *param;
  tz_val_t value;      /* string or integer literal, or a bare word as string */
  tz_loc_t value_loc;
} tz_directive_t;

/* ---- what a host adds to the language ----------------------------------- */

typedef struct tz_pvar_def tz_pvar_def_t;

/* A pseudo-variable reference, resolved at load. */
typedef struct tz_pvar_ref {
  const tz_pvar_def_t *def;
  const char *arg;   /* the argument of $name(arg), or NULL */
  size_t idx;        /* $var slot */
  const void *fixed; /* what the def's resolve made of arg */
} tz_pvar_ref_t;

struct tz_pvar_def {
  const char *name;
  int has_arg;
  /* Checks the argument at load (NULL: any non-empty one is fine); may
   * set *fixed. Returns 0, or -1 with a message in err. */
  int (*resolve)(const char *arg, const void **fixed, char *err,
                 size_t errlen);
  /* Sets *out (TZ_VAL_NULL when absent); strings live in the message or
   * its scratch home. */
  void (*get)(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *out);
  /* NULL when read-only. Returns 0, or -1 after logging an error. */
  int (*set)(tz_msg_t *m, const tz_pvar_ref_t *r, const tz_val_t *v,
             const tz_loc_t *loc);
};

typedef struct tz_lang {
  /* Built-in functions, {0}-terminated; a name may come again with
   * another arity (log/1, log/2). Module functions may not reuse them. */
  const tz_func_export_t *funcs;
  const tz_pvar_def_t *pvars; /* {NULL}-terminated */
} tz_lang_t;

/* ---- loading ------------------------------------------------------------- */

/* Parsing against the host's language lang (NULL: the engine's own only).
 * On error returns NULL and fills d. The script owns its source text
 * (tz_src_t), which tz_loc_t values point into. */
tz_script_t *tz_script_parse_file(const char *path, const tz_lang_t *lang,
                                  tz_diag_t *d);
tz_script_t *tz_script_parse_text(const char *name, const char *text,
                                  size_t len, const tz_lang_t *lang,
                                  tz_diag_t *d);
void tz_script_free(tz_script_t *s);

size_t tz_script_directives(const tz_script_t *s, const tz_directive_t **out);

/* The text the script was parsed from (to rebuild it unchanged). */
const tz_src_t *tz_script_source(const tz_script_t *s);

/* Looks up script functions that are not core built-ins (module exports). */
typedef struct tz_resolver {
  /* Returns the export and sets *mod, or NULL if unknown. */
  const tz_func_export_t *(*lookup)(void *ctx, const char *name,
                                    tz_modinst_t **mod);
  /* Calls cb for every known name (for "did you mean"). */
  void (*each)(void *ctx, void (*cb)(void *cbctx, const char *name),
               void *cbctx);
  void *ctx;
} tz_resolver_t;

/* Resolves and checks everything; returns 0, or -1 with errors in d.
 * Runs argument fixups; tz_script_free undoes them. */
int tz_script_check(tz_script_t *s, const tz_resolver_t *r, tz_diag_t *d);

/* Routes, after a successful check. NULL when the script has none. */
const tz_route_t *tz_script_request_route(const tz_script_t *s);
const tz_route_t *tz_script_reply_route(const tz_script_t *s);
const tz_route_t *tz_script_failure_route(const tz_script_t *s,
                                          const char *name);

/* "request_route", "failure_route[NAME]", "route[NAME]"... in buf. */
const char *tz_route_label(const tz_route_t *r, char *buf, size_t len);

/* Script-wide facts the core needs per message. */
size_t tz_script_nvars(const tz_script_t *s);

/* For unload refusal: calls cb for every call site of a function exported
 * by mod. Returns the number of call sites. */
size_t tz_script_uses_module(const tz_script_t *s, const tz_modinst_t *mod,
                             void (*cb)(void *ctx, const tz_loc_t *loc,
                                        const char *func),
                             void *ctx);

typedef enum {
  TZ_RUN_OK = 0,    /* route ended (end of block, return, exit) */
  TZ_RUN_DROP = 1,  /* drop: discard the message */
  TZ_RUN_ERROR = -1 /* a runtime error was logged */
} tz_run_result_t;

/* Runs a route on m. Strings the run makes, and its $var slots, live in
 * home (the message's scratch); trace logs every statement. */
tz_run_result_t tz_script_run(const tz_script_t *s, const tz_route_t *r,
                              tz_msg_t *m, su_home_t *home, int trace);

/* ---- coverage counts ----------------------------------------------------- */

/* Makes every later run of s count, in s, each statement executed, each
 * route entered and each if's outcomes (trapezoid --test --coverage).
 * Off by default: then a run pays one branch per statement, always the
 * same way. The counters are plain increments, not atomics: a counting
 * script must be run by one thread at a time (the test runner has one
 * worker), else counts are lost. Enable before the first run, not while
 * one runs. Returns 0, or -1 when out of memory; idempotent. */
int tz_script_count_enable(tz_script_t *s);

typedef struct tz_script_route_count {
  const tz_route_t *route; /* tz_route_label() names it */
  tz_loc_t loc;            /* of its keyword */
  uint64_t calls;          /* times entered */
} tz_script_route_count_t;

/* An executable statement: a block's braces are none, an if is one and
 * so is each statement in its branches. */
typedef struct tz_script_stmt_count {
  tz_loc_t loc;      /* loc.src->name is its file */
  uint64_t hits;     /* times executed */
  int is_if;
  uint64_t taken[2]; /* an if's outcomes: [0] true, [1] false */
} tz_script_stmt_count_t;

typedef struct tz_script_count_visitor {
  void (*route)(void *arg, const tz_script_route_count_t *r);
  void (*stmt)(void *arg, const tz_script_stmt_count_t *st);
  void *arg;
} tz_script_count_visitor_t;

/* Calls v->route for every route, run or not, each followed by v->stmt
 * for every statement in it, in source order (both branches of ifs,
 * nested blocks). All counts are 0 when s is not counting. */
void tz_script_each_count(const tz_script_t *s,
                          const tz_script_count_visitor_t *v);

/* True if name is a built-in function of the script's language (the
 * engine's or its host's): modules may not export it. */
int tz_script_is_builtin(const tz_script_t *s, const char *name);

/* The string form of a value, in home: ints are printed, NULL is "". */
const char *tz_val_str(su_home_t *home, const tz_val_t *v, size_t *len);

/* Logs "file:line:col: message" for a script location (built-ins report
 * run-time errors with it). */
void tz_script_log(int level, const tz_loc_t *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
