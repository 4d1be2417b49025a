/*
 * pvar.c - pseudo-variables in the script engine: scanning and resolving
 * names at load ($var against the script's slots, everything else against
 * the host's language), reading and writing them at run time, and format
 * strings.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/ast.h"
#include "script/lex.h"

/* ---- $var(name): the engine's own ---------------------------------------- */

/* Its slots live in the run, not in a table: get and set never run. */
static const pvar_def_t pvar_var = {"var", 1, NULL, NULL, NULL};

void pvar_get(const run_env_t *env, const pvar_ref_t *r, tz_val_t *out)
{
  if (r->def == &pvar_var)
    *out = env->vars[r->idx];
  else
    r->def->get(env->m, r, out);
}

int pvar_writable(const pvar_ref_t *r)
{
  return r->def == &pvar_var || r->def->set != NULL;
}

int pvar_set(const run_env_t *env, const pvar_ref_t *r, const tz_val_t *v,
             const tz_loc_t *loc)
{
  if (r->def != &pvar_var)
    return r->def->set(env->m, r, v, loc);
  env->vars[r->idx] = *v;
  return 0;
}

/* ---- resolving ------------------------------------------------------------ */


int pvar_scan(const char *p, const char *end, pvar_span_t *sp)
{
  memset(sp, 0, sizeof *sp);
  const char *q = p + 1;
  if (q >= end || !(isalpha((unsigned char)*q) || *q == '_'))
    return 0;
  sp->name = q;
  while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
    q++;
  sp->namelen = (size_t)(q - sp->name);
  if (q < end && *q == '(') {
    sp->has_arg = 1;
    sp->arg = ++q;
    while (q < end && *q != ')' && *q != '\n' && *q != '"')
      q++;
    if (q >= end || *q != ')')
      return -1;
    sp->arglen = (size_t)(q - sp->arg);
    q++;
  }
  sp->len = (size_t)(q - p);
  return 1;
}

static int pvar_named(const pvar_def_t *d, const char *name, size_t len)
{
  return strlen(d->name) == len && !memcmp(d->name, name, len);
}

static const pvar_def_t *pvar_find(const tz_script_t *s, const char *name,
                                   size_t len)
{
  if (pvar_named(&pvar_var, name, len))
    return &pvar_var;
  for (const pvar_def_t *d = s->lang ? s->lang->pvars : NULL; d && d->name; d++)
    if (pvar_named(d, name, len))
      return d;
  return NULL;
}

static int pvar_resolve_var(tz_script_t *s, const char *name, pvar_ref_t *out)
{
  for (size_t i = 0; i < s->nvars; i++)
    if (!strcmp(s->vars[i], name)) {
      out->idx = i;
      return 0;
    }
  const char **slot = script_vec_push(s, &s->vars, &s->nvars, sizeof *slot);
  if (!slot)
    return -1;
  *slot = name;
  out->idx = s->nvars - 1;
  return 0;
}

static int pvar_resolve_arg(tz_script_t *s, const tz_loc_t *loc, tz_diag_t *d,
                            pvar_ref_t *out)
{
  const char *name = out->def->name;
  if (!*out->arg) {
    tz_diag_error(d, loc, "empty argument in '$%s()'", name);
    return -1;
  }
  if (out->def == &pvar_var)
    return pvar_resolve_var(s, out->arg, out);
  char err[160];
  if (out->def->resolve &&
      out->def->resolve(out->arg, &out->fixed, err, sizeof err) < 0) {
    tz_diag_error(d, loc, "%s", err);
    return -1;
  }
  return 0;
}

int pvar_resolve(tz_script_t *s, const pvar_span_t *sp, const tz_loc_t *loc,
                 tz_diag_t *d, pvar_ref_t *out)
{
  memset(out, 0, sizeof *out);
  out->def = pvar_find(s, sp->name, sp->namelen);
  if (!out->def) {
    char *want = su_strndup(s->home, sp->name, (isize_t)sp->namelen);
    suggest_t sg;
    suggest_init(&sg, want ? want : "");
    suggest_add(&sg, pvar_var.name);
    for (const pvar_def_t *p = s->lang ? s->lang->pvars : NULL; p && p->name; p++)
      suggest_add(&sg, p->name);
    char hint[256];
    tz_diag_error(d, loc, "unknown pseudo-variable '$%.*s'%s",
                  (int)sp->namelen, sp->name,
                  suggest_hint(&sg, "$", hint, sizeof hint));
    return -1;
  }
  if (out->def->has_arg && !sp->has_arg) {
    tz_diag_error(d, loc, "pseudo-variable '$%s' needs an argument, as in "
                  "'$%s(name)'", out->def->name, out->def->name);
    return -1;
  }
  if (!out->def->has_arg && sp->has_arg) {
    tz_diag_error(d, loc, "pseudo-variable '$%s' takes no argument",
                  out->def->name);
    return -1;
  }
  if (!sp->has_arg)
    return 0;
  out->arg = su_strndup(s->home, sp->arg, (isize_t)sp->arglen);
  return out->arg ? pvar_resolve_arg(s, loc, d, out) : -1;
}

const char *pvar_print(const pvar_ref_t *r, char *buf, size_t size)
{
  if (r->arg)
    snprintf(buf, size, "$%s(%s)", r->def->name, r->arg);
  else
    snprintf(buf, size, "$%s", r->def->name);
  return buf;
}

/* ---- format strings ----------------------------------------------------- */

static fmt_piece_t *fmt_push(tz_script_t *s, fmt_t *f)
{
  return script_vec_push(s, &f->pieces, &f->n, sizeof *f->pieces);
}

/* Decodes raw[from, to) (escapes included) into a literal piece. */
static int fmt_push_literal(tz_script_t *s, fmt_t *f, const char *from,
                            const char *to)
{
  if (from == to)
    return 0;
  char *out = su_alloc(s->home, (size_t)(to - from) + 1), *o = out;
  fmt_piece_t *pc = fmt_push(s, f);
  if (!out || !pc)
    return -1;
  for (const char *r = from; r < to; r++) {
    int c = *r;
    if (c == '\\' && r + 1 < to && (c = lex_unescape(r[1])) >= 0)
      r++;
    else
      c = *r;
    *o++ = (char)c;
  }
  *o = '\0';
  pc->lit = out;
  pc->len = (size_t)(o - out);
  return 0;
}

fmt_t *fmt_parse(tz_script_t *s, const char *raw, size_t rawlen,
                 const tz_loc_t *loc, tz_diag_t *d)
{
  fmt_t *f = su_zalloc(s->home, sizeof *f);
  if (!f)
    return NULL;
  const char *end = raw + rawlen, *lit = raw, *p = raw;
  while (p < end) {
    if (*p == '\\' && p + 1 < end) {
      p += 2;
      continue;
    }
    if (*p != '$') {
      p++;
      continue;
    }
    tz_loc_t at = *loc;
    at.col += (unsigned)(p - raw);
    pvar_span_t sp;
    int rc = p + 1 < end && p[1] == '$' ? 0 : pvar_scan(p, end, &sp);
    if (rc < 0) {
      tz_diag_error(d, &at, "missing ')' after pseudo-variable argument");
      return NULL;
    }
    if (rc == 0) {
      /* "$$" is a literal '$', and so is a '$' that starts no name. */
      if (fmt_push_literal(s, f, lit, p + 1) < 0)
        return NULL;
      p += p + 1 < end && p[1] == '$' ? 2 : 1;
      lit = p;
      continue;
    }
    fmt_piece_t pv = {0};
    if (fmt_push_literal(s, f, lit, p) < 0 ||
        pvar_resolve(s, &sp, &at, d, &pv.pv) < 0)
      return NULL;
    fmt_piece_t *pc = fmt_push(s, f);
    if (!pc)
      return NULL;
    *pc = pv;
    f->has_pvars = 1;
    p += sp.len;
    lit = p;
  }
  return fmt_push_literal(s, f, lit, end) < 0 ? NULL : f;
}

/* Unset pseudo-variables print as "<null>", as Kamailio's xlog does, so a
 * log line shows that a value was missing rather than empty. */
static const char *fmt_piece_str(const run_env_t *env, const fmt_piece_t *pc,
                                 size_t *len)
{
  if (pc->lit) {
    *len = pc->len;
    return pc->lit;
  }
  tz_val_t v;
  pvar_get(env, &pc->pv, &v);
  if (v.type == TZ_VAL_NULL) {
    *len = 6;
    return "<null>";
  }
  return tz_val_str(env->home, &v, len);
}

#define FMT_STACK_PIECES 16

void fmt_expand(const run_env_t *env, const fmt_t *f, tz_val_t *out)
{
  const char *stack_s[FMT_STACK_PIECES];
  size_t stack_l[FMT_STACK_PIECES];
  const char **ps = stack_s;
  size_t *ls = stack_l, total = 0;
  if (f->n > FMT_STACK_PIECES) {
    ps = su_alloc(env->home, f->n * sizeof *ps);
    ls = su_alloc(env->home, f->n * sizeof *ls);
  }
  char *buf = NULL;
  if (ps && ls) {
    for (size_t i = 0; i < f->n; i++) {
      ps[i] = fmt_piece_str(env, &f->pieces[i], &ls[i]);
      total += ls[i];
    }
    buf = su_alloc(env->home, total + 1);
  }
  if (!buf) {
    *out = (tz_val_t){TZ_VAL_STR, 0, "", 0};
    return;
  }
  char *o = buf;
  for (size_t i = 0; i < f->n; i++) {
    memcpy(o, ps[i], ls[i]);
    o += ls[i];
  }
  *o = '\0';
  out->type = TZ_VAL_STR;
  out->s = buf;
  out->len = total;
}
