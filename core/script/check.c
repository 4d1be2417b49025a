/*
 * check.c - load-time resolution and checking: functions (core first,
 * then the resolver), arity and argument types, constant conversion and
 * fixups, route(x) targets, assignability, route recursion, and where
 * each function may be called given which route kinds reach its block.
 *
 * Unlike the parser it reports every error it finds (up to a cap).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/ast.h"

typedef struct checker {
  tz_script_t *s;
  const tz_resolver_t *r;
  tz_diag_t *d;
  tz_route_t *route; /* the route being walked */
  unsigned nerr;
} checker_t;

static void check_error(checker_t *ck, const tz_loc_t *loc, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));
static void check_error(checker_t *ck, const tz_loc_t *loc, const char *fmt,
                        ...)
{
  if (++ck->nerr > SCRIPT_MAX_ERRORS)
    return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (ck->nerr == SCRIPT_MAX_ERRORS)
    tz_diag_error(ck->d, loc, "%s (too many errors, stopping)", buf);
  else
    tz_diag_error(ck->d, loc, "%s", buf);
}

static int check_push(checker_t *ck, void *arr, size_t *n, void *item)
{
  void **slot = script_vec_push(ck->s, arr, n, sizeof(void *));
  if (!slot) {
    check_error(ck, NULL, "out of memory");
    return -1;
  }
  *slot = item;
  return 0;
}

static const char *check_kind_name(unsigned kind)
{
  switch (kind) {
  case TZ_ROUTE_REQUEST: return "request_route";
  case TZ_ROUTE_REPLY: return "reply_route";
  default: return "failure_route";
  }
}

const char *tz_route_label(const tz_route_t *r, char *buf, size_t len)
{
  static const char *const kinds[] = {[RT_REQUEST] = "request_route",
                                      [RT_REPLY] = "reply_route",
                                      [RT_FAILURE] = "failure_route",
                                      [RT_SUB] = "route"};
  if (r->name)
    snprintf(buf, len, "%s[%s]", kinds[r->type], r->name);
  else
    snprintf(buf, len, "%s", kinds[r->type]);
  return buf;
}

static void check_expr(checker_t *ck, expr_t *e);

/* ---- functions ---------------------------------------------------------- */

static void check_suggest_function(checker_t *ck, const call_t *c)
{
  if (script_find_route(ck->s, RT_SUB, c->name)) {
    check_error(ck, &c->loc, "unknown function '%s'; did you mean "
                "'route(%s)'?", c->name, c->name);
    return;
  }
  suggest_t sg;
  suggest_init(&sg, c->name);
  for (const tz_func_export_t *fe = script_funcs; fe->name; fe++)
    suggest_add(&sg, fe->name);
  for (const tz_func_export_t *fe = ck->s->lang ? ck->s->lang->funcs : NULL;
       fe && fe->name; fe++)
    suggest_add(&sg, fe->name);
  if (ck->r && ck->r->each)
    ck->r->each(ck->r->ctx, suggest_add, &sg);
  char hint[256];
  check_error(ck, &c->loc, "unknown function '%s'%s", c->name,
              suggest_hint(&sg, "", hint, sizeof hint));
}

/* Finds the export; reports unknown names and wrong arity. */
static int check_resolve_call(checker_t *ck, call_t *c)
{
  int min, max;
  c->fe = script_func_find(ck->s, c->name, c->argc, &min, &max);
  if (min < 0 && ck->r && ck->r->lookup &&
      (c->fe = ck->r->lookup(ck->r->ctx, c->name, &c->mod))) {
    min = c->fe->min_args;
    max = c->fe->max_args;
  }
  if (min < 0) {
    check_suggest_function(ck, c);
    return -1;
  }
  if (c->argc < min || c->argc > max) {
    if (min == max)
      check_error(ck, &c->loc, "function '%s' takes %d argument%s, %d given",
                  c->name, min, min == 1 ? "" : "s", c->argc);
    else
      check_error(ck, &c->loc, "function '%s' takes %d to %d arguments, %d "
                  "given", c->name, min, max, c->argc);
    c->fe = NULL;
    return -1;
  }
  return 0;
}

static int check_parse_long(const char *s, long *out)
{
  char *end;
  if (!*s)
    return -1;
  *out = strtol(s, &end, 10);
  return *end ? -1 : 0;
}

/* A failure_route named by a literal argument (t_on_failure("x")). */
static int check_failure_route_arg(checker_t *ck, call_t *c, int i)
{
  expr_t *e = c->argv[i];
  tz_arg_t *a = &c->args[i];
  a->fixed = script_find_route(ck->s, RT_FAILURE, a->s);
  if (a->fixed)
    return 0;
  suggest_t sg;
  suggest_init(&sg, a->s);
  for (size_t k = 0; k < ck->s->nroutes; k++)
    if (ck->s->routes[k]->type == RT_FAILURE)
      suggest_add(&sg, ck->s->routes[k]->name);
  char hint[256];
  check_error(ck, &e->loc, "unknown failure_route '%s'%s", a->s,
              suggest_hint(&sg, "", hint, sizeof hint));
  return -1;
}

/* Converts a literal argument i into c->args[i]. Returns 1 if it is a
 * constant, 0 if it must be evaluated per call, -1 on error. */
static int check_const_arg(checker_t *ck, call_t *c, int i)
{
  expr_t *e = c->argv[i];
  tz_arg_t *a = &c->args[i];
  int n = i + 1;
  if (e->kind != EX_INT && e->kind != EX_STR) {
    if (a->type == TZ_ARG_REGEX || a->type == TZ_ARG_ROUTE) {
      check_error(ck, &e->loc, "argument %d of '%s' must be a %s literal", n,
                  c->name, a->type == TZ_ARG_REGEX ? "regular expression"
                                                   : "failure_route name");
      return -1;
    }
    return 0;
  }
  if (e->kind == EX_INT) {
    a->i = e->u.i;
    a->s = su_sprintf(ck->s->home, "%ld", e->u.i);
    a->len = a->s ? strlen(a->s) : 0;
  } else {
    a->s = e->u.str.s;
    a->len = e->u.str.len;
  }
  switch (a->type) {
  case TZ_ARG_INT:
    if (e->kind == EX_STR && check_parse_long(a->s, &a->i) < 0) {
      check_error(ck, &e->loc, "argument %d of '%s' must be an integer, "
                  "not \"%s\"", n, c->name, a->s);
      return -1;
    }
    return 1;
  case TZ_ARG_FMT:
    if (e->kind == EX_STR) {
      tz_loc_t raw = e->loc; /* of the quote; the text starts after it */
      raw.col++;
      fmt_t *f = fmt_parse(ck->s, e->u.str.raw, e->u.str.rawlen, &raw, ck->d);
      if (!f) {
        ck->nerr++;
        return -1;
      }
      if (f->has_pvars) {
        c->fmt[i] = f;
        return 0;
      }
    }
    return 1;
  case TZ_ARG_REGEX:
    if (e->kind != EX_STR) {
      check_error(ck, &e->loc, "argument %d of '%s' must be a regular "
                  "expression string literal", n, c->name);
      return -1;
    }
    a->re = script_regex_compile(ck->s, a->s, REG_EXTENDED, &e->loc, ck->d);
    if (!a->re)
      ck->nerr++;
    return a->re ? 1 : -1;
  case TZ_ARG_ROUTE:
    return check_failure_route_arg(ck, c, i) < 0 ? -1 : 1;
  default:
    return 1;
  }
}

static void check_fixup(checker_t *ck, call_t *c, int i)
{
  char err[256] = "";
  if (c->fe->fixup(c->mod, i, &c->args[i], err, sizeof err) < 0) {
    check_error(ck, &c->argv[i]->loc, "%s",
                *err ? err : "invalid argument");
    return;
  }
  c->fixed_mask |= 1u << i;
}

static void check_args(checker_t *ck, call_t *c)
{
  for (int i = 0; i < c->argc; i++) {
    c->args[i].type = c->fe->args[i];
    int rc = check_const_arg(ck, c, i);
    if (rc < 0)
      continue;
    if (rc == 0) {
      if (c->fe->const_mask & (1u << i))
        check_error(ck, &c->argv[i]->loc,
                    "argument %d of '%s' must be a constant", i + 1, c->name);
      else if (!c->fmt[i])
        check_expr(ck, c->argv[i]);
      c->dyn_mask |= 1u << i;
      continue;
    }
    if (c->fe->fixup)
      check_fixup(ck, c, i);
  }
}

static void check_call(checker_t *ck, call_t *c)
{
  if (check_push(ck, &ck->route->calls, &ck->route->ncalls, c) < 0)
    return;
  if (check_resolve_call(ck, c) == 0)
    check_args(ck, c);
  else
    for (int i = 0; i < c->argc; i++)
      check_expr(ck, c->argv[i]);
}

/* ---- route(x) ----------------------------------------------------------- */

static void check_route_call(checker_t *ck, expr_t *e)
{
  const char *name = e->u.route.name;
  const tz_loc_t *at = &e->u.route.name_loc;
  e->u.route.target = script_find_route(ck->s, RT_SUB, name);
  if (e->u.route.target) {
    check_push(ck, &ck->route->rcalls, &ck->route->nrcalls, e);
    return;
  }
  if (script_find_route(ck->s, RT_FAILURE, name)) {
    check_error(ck, at, "'%s' is a failure_route; route() calls route[...] "
                "blocks", name);
    return;
  }
  suggest_t sg;
  suggest_init(&sg, name);
  for (size_t i = 0; i < ck->s->nroutes; i++)
    if (ck->s->routes[i]->type == RT_SUB)
      suggest_add(&sg, ck->s->routes[i]->name);
  char hint[256];
  check_error(ck, at, "unknown route '%s'%s", name,
              suggest_hint(&sg, "", hint, sizeof hint));
}

/* ---- the walk ----------------------------------------------------------- */

static void check_expr(checker_t *ck, expr_t *e)
{
  if (!e)
    return;
  switch (e->kind) {
  case EX_CALL:
    check_call(ck, e->u.call);
    break;
  case EX_ROUTE:
    check_route_call(ck, e);
    break;
  case EX_NOT:
  case EX_NEG:
    check_expr(ck, e->u.bin.l);
    break;
  case EX_INT:
  case EX_STR:
  case EX_PVAR:
    break;
  default:
    check_expr(ck, e->u.bin.l);
    check_expr(ck, e->u.bin.r);
    break;
  }
}

static void check_stmts(checker_t *ck, stmt_t *st)
{
  for (; st; st = st->next) {
    switch (st->kind) {
    case ST_EXPR:
    case ST_RETURN:
      check_expr(ck, st->u.e);
      break;
    case ST_IF:
      check_expr(ck, st->u.cond.cond);
      check_stmts(ck, st->u.cond.then);
      check_stmts(ck, st->u.cond.els);
      break;
    case ST_BLOCK:
      check_stmts(ck, st->u.body);
      break;
    case ST_ASSIGN:
      if (!pvar_writable(&st->u.assign.lhs)) {
        char buf[80];
        check_error(ck, &st->u.assign.lhs_loc,
                    "cannot assign to read-only pseudo-variable '%s'",
                    pvar_print(&st->u.assign.lhs, buf, sizeof buf));
      }
      check_expr(ck, st->u.assign.rhs);
      break;
    case ST_EXIT:
    case ST_DROP:
      break;
    }
  }
}

/* ---- the route graph ---------------------------------------------------- */

/* Depth-first search for cycles; `path` holds the routes being visited. */
static void check_cycles_from(checker_t *ck, tz_route_t *r, tz_route_t **path,
                              size_t depth)
{
  r->mark = 1;
  path[depth] = r;
  for (size_t i = 0; i < r->nrcalls; i++) {
    tz_route_t *t = r->rcalls[i]->u.route.target;
    if (t->mark == 1) {
      char chain[512] = "";
      size_t from = depth;
      while (path[from] != t)
        from--;
      for (size_t j = from; j <= depth; j++)
        snprintf(chain + strlen(chain), sizeof chain - strlen(chain),
                 "route[%s] -> ", path[j]->name);
      check_error(ck, &r->rcalls[i]->loc, "recursive route call: %sroute[%s];"
                  " route blocks must not call themselves", chain, t->name);
    } else if (t->mark == 0) {
      check_cycles_from(ck, t, path, depth + 1);
    }
  }
  r->mark = 2;
}

static int check_cycles(checker_t *ck)
{
  unsigned before = ck->nerr;
  tz_route_t **path = calloc(ck->s->nroutes + 1, sizeof *path);
  if (!path) {
    check_error(ck, NULL, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < ck->s->nroutes; i++)
    if (ck->s->routes[i]->mark == 0)
      check_cycles_from(ck, ck->s->routes[i], path, 0);
  free(path);
  return ck->nerr == before ? 0 : -1;
}

static unsigned check_top_kind(route_type_t type)
{
  switch (type) {
  case RT_REQUEST: return TZ_ROUTE_REQUEST;
  case RT_REPLY: return TZ_ROUTE_REPLY;
  case RT_FAILURE: return TZ_ROUTE_FAILURE;
  default: return 0;
  }
}

/* Which kinds reach each route[]: a fixpoint over route(x) edges. The
 * graph is acyclic here, so `via` chains end at a top-level route. */
static void check_reach(checker_t *ck)
{
  for (size_t i = 0; i < ck->s->nroutes; i++)
    ck->s->routes[i]->kinds = check_top_kind(ck->s->routes[i]->type);
  for (int changed = 1; changed;) {
    changed = 0;
    for (size_t i = 0; i < ck->s->nroutes; i++) {
      tz_route_t *r = ck->s->routes[i];
      for (size_t j = 0; j < r->nrcalls; j++) {
        tz_route_t *t = r->rcalls[j]->u.route.target;
        unsigned added = r->kinds & ~t->kinds;
        for (unsigned k = 0; k < 3; k++)
          if (added & (1u << k))
            t->via[k] = r;
        t->kinds |= added;
        changed |= added != 0;
      }
    }
  }
}

/* " (in route[b], reached from reply_route via route[a])" */
static void check_describe_path(const tz_route_t *r, unsigned kind,
                                char *buf, size_t size)
{
  buf[0] = '\0';
  if (r->type != RT_SUB)
    return;
  snprintf(buf, size, " (in route[%s], reached from %s", r->name,
           check_kind_name(kind));
  const char *sep = " via ";
  unsigned bit = kind == TZ_ROUTE_REQUEST ? 0 : kind == TZ_ROUTE_REPLY ? 1 : 2;
  for (const tz_route_t *v = r->via[bit]; v && v->type == RT_SUB;
       v = v->via[bit]) {
    snprintf(buf + strlen(buf), size - strlen(buf), "%sroute[%s]", sep,
             v->name);
    sep = ", ";
  }
  snprintf(buf + strlen(buf), size - strlen(buf), ")");
}

static void check_route_masks(checker_t *ck, const tz_route_t *r)
{
  for (size_t i = 0; i < r->ncalls; i++) {
    const call_t *c = r->calls[i];
    if (!c->fe)
      continue;
    unsigned allowed = c->fe->route_mask ? c->fe->route_mask : TZ_ROUTE_ANY;
    unsigned bad = r->kinds & ~allowed;
    if (!bad)
      continue;
    unsigned kind = bad & -bad;
    char path[256];
    check_describe_path(r, kind, path, sizeof path);
    check_error(ck, &c->loc, "'%s' cannot be used in %s%s", c->name,
                check_kind_name(kind), path);
  }
}

static void check_unused(checker_t *ck)
{
  for (size_t i = 0; i < ck->s->nroutes; i++) {
    const tz_route_t *r = ck->s->routes[i];
    if (r->type == RT_SUB && !r->kinds)
      tz_diag_warning(ck->d, &r->loc, "route '%s' is never used", r->name);
  }
}

int tz_script_check(tz_script_t *s, const tz_resolver_t *r, tz_diag_t *d)
{
  checker_t ck = {.s = s, .r = r, .d = d};
  if (s->checked) {
    tz_diag_error(d, NULL, "script '%s' is already checked", s->src.name);
    return -1;
  }
  for (size_t i = 0; i < s->nroutes; i++) {
    ck.route = s->routes[i];
    check_stmts(&ck, ck.route->body);
  }
  if (check_cycles(&ck) == 0) {
    check_reach(&ck);
    for (size_t i = 0; i < s->nroutes; i++)
      check_route_masks(&ck, s->routes[i]);
    check_unused(&ck);
  }
  if (ck.nerr)
    return -1;
  s->checked = 1;
  return 0;
}
