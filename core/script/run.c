/*
 * run.c - the interpreter: a walk over the checked tree. Nothing is looked
 * up by name; values are tz_val_t on the C stack; only built strings (int
 * printing, concatenation, format expansion, encoded headers) allocate,
 * from the message's scratch home.
 *
 * Control flow: every step returns a flow code, so exit/drop/return and a
 * function's "0 = stop" unwind without setjmp.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "script/ast.h"

#define RUN_MAX_DEPTH 64

typedef enum {
  FLOW_NEXT = 0,
  FLOW_RETURN,
  FLOW_EXIT,
  FLOW_DROP,
  FLOW_ERROR
} flow_t;

typedef struct run {
  run_env_t env;
  int depth;
  long retval; /* set by `return` */
  int trace;
  /* The script's counters, NULL when it is not counting. Plain
   * increments: a counting script runs on one thread (script.h). */
  script_count_t *counts;
} run_t;

static flow_t run_value(run_t *rc, const expr_t *e, tz_val_t *out);
static flow_t run_cond(run_t *rc, const expr_t *e, int *truth);
static flow_t run_stmts(run_t *rc, const stmt_t *st);

/* ---- logging and trace -------------------------------------------------- */

void tz_script_log(int level, const tz_loc_t *loc, const char *fmt, ...)
{
  char where[300];
  snprintf(where, sizeof where, "%s:%u:%u: ", loc->src->name, loc->line, loc->col);
  va_list ap;
  va_start(ap, fmt);
  tz_vlog_around(level, where, "", fmt, ap);
  va_end(ap);
}

static long run_usec(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void run_trace(const tz_loc_t *loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void run_trace(const tz_loc_t *loc, const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  tz_log(TZ_LOG_NOTICE, "trace: %s:%u:%u %s", loc->src->name, loc->line,
         loc->col, buf);
}

/* ---- values ------------------------------------------------------------- */

const char *tz_val_str(su_home_t *home, const tz_val_t *v, size_t *len)
{
  const char *s;
  switch (v->type) {
  case TZ_VAL_STR:
    *len = v->len;
    return v->s;
  case TZ_VAL_INT:
    s = su_sprintf(home, "%ld", v->i);
    *len = s ? strlen(s) : 0;
    return s ? s : "";
  default:
    *len = 0;
    return "";
  }
}

/* The string form without allocating: ints are printed into buf. */
static const char *run_val_sbuf(const tz_val_t *v, char *buf, size_t size,
                                size_t *len)
{
  switch (v->type) {
  case TZ_VAL_STR:
    *len = v->len;
    return v->s;
  case TZ_VAL_INT:
    *len = (size_t)snprintf(buf, size, "%ld", v->i);
    return buf;
  default:
    *len = 0;
    return "";
  }
}

/* A string that is a whole decimal number, like "42" or "-7". */
static int run_str_int(const char *s, size_t len, long *out)
{
  if (!len || !(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
    return -1;
  char *end;
  errno = 0;
  *out = strtol(s, &end, 10);
  return end == s + len && errno == 0 ? 0 : -1;
}

/* The int form; NULL is 0; a non-numeric string is an error. */
static int run_val_int(const tz_val_t *v, long *out)
{
  switch (v->type) {
  case TZ_VAL_INT:
    *out = v->i;
    return 0;
  case TZ_VAL_STR:
    return run_str_int(v->s, v->len, out);
  default:
    *out = 0;
    return 0;
  }
}

static int run_truthy(const tz_val_t *v)
{
  return v->type == TZ_VAL_INT ? v->i != 0
                               : v->type == TZ_VAL_STR && v->len > 0;
}

static void run_set_int(tz_val_t *v, long i)
{
  v->type = TZ_VAL_INT;
  v->i = i;
}

static const char *run_val_print(const tz_val_t *v, char *buf, size_t size)
{
  if (v->type == TZ_VAL_INT)
    snprintf(buf, size, "%ld", v->i);
  else if (v->type == TZ_VAL_STR)
    snprintf(buf, size, "\"%.*s\"", (int)(v->len > 200 ? 200 : v->len), v->s);
  else
    snprintf(buf, size, "null");
  return buf;
}

/* ---- comparisons -------------------------------------------------------- */

static int run_cmp_long(long a, long b)
{
  return (a > b) - (a < b);
}

static int run_cmp_bytes(const char *a, size_t la, const char *b, size_t lb)
{
  int c = memcmp(a, b, la < lb ? la : lb);
  return c ? c : run_cmp_long((long)la, (long)lb);
}

/* Ints compare numerically, strings by bytes; an int against a string
 * compares numerically when the string is a number, else as strings.
 * NULL is 0 against an int and "" against anything else. */
static int run_compare(const tz_val_t *a, const tz_val_t *b)
{
  tz_val_t na = *a, nb = *b;
  if (na.type == TZ_VAL_NULL)
    na = (tz_val_t){.type = nb.type == TZ_VAL_INT ? TZ_VAL_INT : TZ_VAL_STR,
                    .s = ""};
  if (nb.type == TZ_VAL_NULL)
    nb = (tz_val_t){.type = na.type == TZ_VAL_INT ? TZ_VAL_INT : TZ_VAL_STR,
                    .s = ""};
  long ia, ib;
  if (run_val_int(&na, &ia) == 0 && run_val_int(&nb, &ib) == 0 &&
      (na.type == TZ_VAL_INT || nb.type == TZ_VAL_INT))
    return run_cmp_long(ia, ib);
  char ba[24], bb[24];
  size_t la, lb;
  const char *sa = run_val_sbuf(&na, ba, sizeof ba, &la);
  const char *sb = run_val_sbuf(&nb, bb, sizeof bb, &lb);
  return run_cmp_bytes(sa, la, sb, lb);
}

static flow_t run_match(run_t *rc, const expr_t *e, int *truth)
{
  tz_val_t v;
  flow_t f = run_value(rc, e->u.bin.l, &v);
  if (f)
    return f;
  char buf[24];
  size_t len;
  const char *s = run_val_sbuf(&v, buf, sizeof buf, &len);
  int hit = regexec(e->u.bin.re, s, 0, NULL, 0) == 0;
  *truth = e->kind == EX_MATCH ? hit : !hit;
  return FLOW_NEXT;
}

/* Both operands of a binary expression, left first. */
static flow_t run_operands(run_t *rc, const expr_t *e, tz_val_t *l,
                           tz_val_t *r)
{
  flow_t f = run_value(rc, e->u.bin.l, l);
  return f ? f : run_value(rc, e->u.bin.r, r);
}

static flow_t run_relation(run_t *rc, const expr_t *e, int *truth)
{
  tz_val_t l, r;
  flow_t f = run_operands(rc, e, &l, &r);
  if (f)
    return f;
  int c = run_compare(&l, &r);
  switch (e->kind) {
  case EX_EQ: *truth = c == 0; break;
  case EX_NE: *truth = c != 0; break;
  case EX_LT: *truth = c < 0; break;
  case EX_GT: *truth = c > 0; break;
  case EX_LE: *truth = c <= 0; break;
  default: *truth = c >= 0; break;
  }
  return FLOW_NEXT;
}

/* ---- calls -------------------------------------------------------------- */

/* Evaluates argument i of a call into *a. Returns FLOW_NEXT with *ok = 0
 * when the value does not fit the argument type (the call then fails). */
static flow_t run_arg(run_t *rc, const call_t *c, int i, tz_arg_t *a, int *ok)
{
  if (c->fmt[i]) {
    tz_val_t v;
    fmt_expand(&rc->env, c->fmt[i], &v);
    a->s = v.s;
    a->len = v.len;
    return FLOW_NEXT;
  }
  tz_val_t v;
  flow_t f = run_value(rc, c->argv[i], &v);
  if (f)
    return f;
  if (a->type == TZ_ARG_INT) {
    if (run_val_int(&v, &a->i) < 0) {
      tz_script_log(TZ_LOG_ERR, &c->argv[i]->loc,
              "argument %d of '%s': \"%.*s\" is not an integer", i + 1,
              c->name, (int)v.len, v.s);
      *ok = 0;
    }
    return FLOW_NEXT;
  }
  a->s = tz_val_str(rc->env.home, &v, &a->len);
  return FLOW_NEXT;
}

/* The arguments as the handler saw them, for the trace. */
static const char *run_args_print(const tz_call_t *call, char *buf,
                                  size_t size)
{
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; i < call->argc && n < size; i++) {
    const tz_arg_t *a = &call->argv[i];
    const char *sep = i ? ", " : "";
    if (a->type == TZ_ARG_INT)
      n += (size_t)snprintf(buf + n, size - n, "%s%ld", sep, a->i);
    else
      n += (size_t)snprintf(buf + n, size - n, "%s\"%.*s\"", sep,
                            (int)(a->len > 60 ? 60 : a->len), a->s);
  }
  return buf;
}

static flow_t run_call(run_t *rc, const call_t *c, long *ret)
{
  tz_arg_t tmp[TZ_MAX_ARGS];
  const tz_arg_t *argv = c->args;
  if (c->dyn_mask) {
    int ok = 1;
    memcpy(tmp, c->args, (size_t)c->argc * sizeof *tmp);
    for (int i = 0; i < c->argc; i++) {
      if (!(c->dyn_mask & (1u << i)))
        continue;
      flow_t f = run_arg(rc, c, i, &tmp[i], &ok);
      if (f)
        return f;
    }
    if (!ok) {
      *ret = -1;
      return FLOW_NEXT;
    }
    argv = tmp;
  }
  tz_call_t call = {c->mod, c->argc, argv, &c->loc};
  if (!rc->trace) {
    *ret = c->fe->handler(rc->env.m, &call);
    return FLOW_NEXT;
  }
  long t0 = run_usec();
  *ret = c->fe->handler(rc->env.m, &call);
  long us = run_usec() - t0;
  char args[256];
  run_trace(&c->loc, "%s(%s) -> %ld (%ldus)", c->name,
            run_args_print(&call, args, sizeof args), *ret, us);
  return FLOW_NEXT;
}

/* Runs a route's statements, counting the entry. */
static flow_t run_body(run_t *rc, const tz_route_t *r)
{
  if (rc->counts)
    rc->counts[r->id].hits++;
  return run_stmts(rc, r->body);
}

/* Runs route[x]; its value is what it returned, or 1 at its end. */
static flow_t run_route(run_t *rc, const expr_t *e, long *ret)
{
  if (rc->depth >= RUN_MAX_DEPTH) {
    tz_script_log(TZ_LOG_ERR, &e->loc, "route nesting deeper than %d",
            RUN_MAX_DEPTH);
    return FLOW_ERROR;
  }
  rc->depth++;
  flow_t f = run_body(rc, e->u.route.target);
  rc->depth--;
  if (f == FLOW_RETURN || f == FLOW_NEXT) {
    *ret = f == FLOW_RETURN ? rc->retval : 1;
    f = FLOW_NEXT;
  }
  if (rc->trace)
    run_trace(&e->loc, "route(%s) -> %ld", e->u.route.name,
              f == FLOW_NEXT ? *ret : 0);
  return f;
}

/* ---- expressions -------------------------------------------------------- */

static flow_t run_arith(run_t *rc, const expr_t *e, tz_val_t *out)
{
  tz_val_t l, r;
  flow_t f = run_operands(rc, e, &l, &r);
  if (f)
    return f;
  if (e->kind == EX_ADD &&
      (l.type == TZ_VAL_STR || r.type == TZ_VAL_STR)) {
    size_t ll, lr;
    const char *sl = tz_val_str(rc->env.home, &l, &ll);
    const char *sr = tz_val_str(rc->env.home, &r, &lr);
    char *s = su_alloc(rc->env.home, ll + lr + 1);
    if (!s)
      return FLOW_ERROR;
    memcpy(s, sl, ll);
    memcpy(s + ll, sr, lr);
    s[ll + lr] = '\0';
    *out = (tz_val_t){.type = TZ_VAL_STR, .s = s, .len = ll + lr};
    return FLOW_NEXT;
  }
  long a, b;
  if (run_val_int(&l, &a) < 0 || run_val_int(&r, &b) < 0) {
    tz_script_log(TZ_LOG_ERR, &e->loc, "'-' needs numbers");
    return FLOW_ERROR;
  }
  /* Operands can come from the message ($cs, $hdr(...)), so overflow is
   * an input error, never C undefined behaviour. */
  int add = e->kind == EX_ADD;
  if (add ? (b > 0 && a > LONG_MAX - b) || (b < 0 && a < LONG_MIN - b)
          : (b < 0 && a > LONG_MAX + b) || (b > 0 && a < LONG_MIN + b)) {
    tz_script_log(TZ_LOG_ERR, &e->loc, "integer overflow in '%c'", add ? '+' : '-');
    return FLOW_ERROR;
  }
  run_set_int(out, add ? a + b : a - b);
  return FLOW_NEXT;
}

static flow_t run_value(run_t *rc, const expr_t *e, tz_val_t *out)
{
  long i = 0;
  int truth;
  flow_t f;
  switch (e->kind) {
  case EX_INT:
    run_set_int(out, e->u.i);
    return FLOW_NEXT;
  case EX_STR:
    *out = (tz_val_t){.type = TZ_VAL_STR, .s = e->u.str.s,
                      .len = e->u.str.len};
    return FLOW_NEXT;
  case EX_PVAR:
    pvar_get(&rc->env, &e->u.pv, out);
    return FLOW_NEXT;
  case EX_CALL:
    f = run_call(rc, e->u.call, &i);
    run_set_int(out, i);
    return f;
  case EX_ROUTE:
    f = run_route(rc, e, &i);
    run_set_int(out, i);
    return f;
  case EX_NEG:
    f = run_value(rc, e->u.bin.l, out);
    if (f)
      return f;
    if (run_val_int(out, &i) < 0) {
      tz_script_log(TZ_LOG_ERR, &e->loc, "unary '-' needs a number");
      return FLOW_ERROR;
    }
    if (i == LONG_MIN) {
      tz_script_log(TZ_LOG_ERR, &e->loc, "integer overflow in unary '-'");
      return FLOW_ERROR;
    }
    run_set_int(out, -i);
    return FLOW_NEXT;
  case EX_ADD:
  case EX_SUB:
    return run_arith(rc, e, out);
  default:
    f = run_cond(rc, e, &truth);
    run_set_int(out, truth);
    return f;
  }
}

/* A call's result as a condition: > 0 true, < 0 false, 0 stops the
 * script (Kamailio's convention, so `if (f())` and `f();` agree). */
static flow_t run_result(flow_t f, long ret, int *truth)
{
  if (f)
    return f;
  if (ret == 0)
    return FLOW_EXIT;
  *truth = ret > 0;
  return FLOW_NEXT;
}

static flow_t run_cond(run_t *rc, const expr_t *e, int *truth)
{
  long ret = 0;
  flow_t f;
  tz_val_t v;
  switch (e->kind) {
  case EX_CALL:
    f = run_call(rc, e->u.call, &ret);
    return run_result(f, ret, truth);
  case EX_ROUTE:
    f = run_route(rc, e, &ret);
    return run_result(f, ret, truth);
  case EX_NOT:
    f = run_cond(rc, e->u.bin.l, truth);
    *truth = !*truth;
    return f;
  case EX_AND:
  case EX_OR:
    f = run_cond(rc, e->u.bin.l, truth);
    if (f || *truth == (e->kind == EX_OR))
      return f;
    return run_cond(rc, e->u.bin.r, truth);
  case EX_EQ:
  case EX_NE:
  case EX_LT:
  case EX_GT:
  case EX_LE:
  case EX_GE:
    return run_relation(rc, e, truth);
  case EX_MATCH:
  case EX_NMATCH:
    return run_match(rc, e, truth);
  default:
    f = run_value(rc, e, &v);
    *truth = run_truthy(&v);
    return f;
  }
}

/* ---- statements --------------------------------------------------------- */

static flow_t run_assign(run_t *rc, const stmt_t *st)
{
  tz_val_t v;
  flow_t f = run_value(rc, st->u.assign.rhs, &v);
  if (f)
    return f;
  pvar_set(&rc->env, &st->u.assign.lhs, &v, &st->loc);
  if (rc->trace) {
    char name[80], val[256];
    run_trace(&st->loc, "%s = %s",
              pvar_print(&st->u.assign.lhs, name, sizeof name),
              run_val_print(&v, val, sizeof val));
  }
  return FLOW_NEXT;
}

static flow_t run_return(run_t *rc, const stmt_t *st)
{
  tz_val_t v = {.type = TZ_VAL_INT, .i = 1};
  flow_t f = st->u.e ? run_value(rc, st->u.e, &v) : FLOW_NEXT;
  if (f)
    return f;
  if (run_val_int(&v, &rc->retval) < 0) {
    tz_script_log(TZ_LOG_ERR, &st->loc, "return value \"%.*s\" is not an integer",
            (int)v.len, v.s);
    rc->retval = -1;
  }
  if (rc->trace)
    run_trace(&st->loc, "return %ld", rc->retval);
  return FLOW_RETURN;
}

static flow_t run_if(run_t *rc, const stmt_t *st)
{
  int truth = 0;
  flow_t f = run_cond(rc, st->u.cond.cond, &truth);
  if (f)
    return f;
  if (rc->counts)
    rc->counts[st->id].taken[!truth]++;
  if (rc->trace)
    run_trace(&st->loc, "if -> %s", truth ? "true" : "false");
  return run_stmts(rc, truth ? st->u.cond.then : st->u.cond.els);
}

static flow_t run_stmt(run_t *rc, const stmt_t *st)
{
  int truth;
  if (rc->counts)
    rc->counts[st->id].hits++;
  switch (st->kind) {
  case ST_EXPR:
    return run_cond(rc, st->u.e, &truth);
  case ST_IF:
    return run_if(rc, st);
  case ST_BLOCK:
    return run_stmts(rc, st->u.body);
  case ST_ASSIGN:
    return run_assign(rc, st);
  case ST_RETURN:
    return run_return(rc, st);
  case ST_EXIT:
    if (rc->trace)
      run_trace(&st->loc, "exit");
    return FLOW_EXIT;
  case ST_DROP:
    if (rc->trace)
      run_trace(&st->loc, "drop");
    return FLOW_DROP;
  }
  return FLOW_ERROR;
}

/* Runs a statement list (an if branch is a list of one). */
static flow_t run_stmts(run_t *rc, const stmt_t *st)
{
  for (; st; st = st->next) {
    flow_t f = run_stmt(rc, st);
    if (f)
      return f;
  }
  return FLOW_NEXT;
}

tz_run_result_t tz_script_run(const tz_script_t *s, const tz_route_t *r,
                              tz_msg_t *m, su_home_t *home, int trace)
{
  if (!s || !s->checked || !m || !home)
    return TZ_RUN_ERROR;
  if (!r)
    return TZ_RUN_OK;
  /* Every run starts with all $var unset: nothing leaks between runs. */
  tz_val_t *vars = s->nvars ? su_zalloc(home, s->nvars * sizeof *vars) : NULL;
  if (s->nvars && !vars)
    return TZ_RUN_ERROR;
  /* Read once per run, so not counting costs each statement one branch
   * that always goes the same way. */
  run_t rc = {.env = {m, home, vars}, .depth = 1, .trace = trace,
              .counts = s->counts};
  switch (run_body(&rc, r)) {
  case FLOW_DROP:
    return TZ_RUN_DROP;
  case FLOW_ERROR:
    return TZ_RUN_ERROR;
  default:
    return TZ_RUN_OK;
  }
}
