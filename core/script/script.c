/*
 * script.c - the script object: creation from text or file, freeing
 * (undoing fixups and regexes), accessors, and the helpers the parser and
 * checker share (arrays in the script home, regexes, "did you mean").
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/ast.h"

void *script_vec_push(tz_script_t *s, void *arr, size_t *n, size_t size)
{
  void **ap = arr;
  size_t cnt = *n;
  if (cnt == 0 || (cnt >= 8 && (cnt & (cnt - 1)) == 0)) {
    void *grown = su_realloc(s->home, *ap, (cnt ? cnt * 2 : 8) * size);
    if (!grown)
      return NULL;
    *ap = grown;
  }
  char *el = (char *)*ap + cnt * size;
  memset(el, 0, size);
  (*n)++;
  return el;
}

/* glibc's regcomp() grows exponentially on stacked or deeply nested
 * repetition ("a?+++...", "((a+)+)+..."), and crashes on the worst: a typo
 * must not hang a reload. POSIX leaves a repeated quantifier undefined
 * anyway, so refuse those, and nesting of repeated groups beyond a depth
 * no real pattern needs. Returns an explanation, or NULL if acceptable. */
#define REGEX_MAX_REPEAT_DEPTH 4

static int regex_is_quantifier(char c)
{
  return c == '*' || c == '+' || c == '?' || c == '{';
}

static const char *regex_check_shape(const char *p)
{
  int depth = 0, repeated[64] = {0}, quantified = 0;
  for (; *p; p++) {
    int was_quantified = quantified;
    quantified = 0;
    if (*p == '\\' && p[1]) {
      p++;
    } else if (*p == '[') { /* a bracket expression: skip to its ']' */
      p += p[1] == '^' ? 2 : 1;
      if (*p == ']')
        p++;
      while (*p && *p != ']')
        p++;
      if (!*p)
        return NULL; /* unterminated: regcomp explains */
    } else if (*p == '(') {
      if (++depth >= 64)
        return "nested too deeply";
      repeated[depth] = 0;
    } else if (*p == ')' && depth > 0) {
      int inner = repeated[depth--];
      if (regex_is_quantifier(p[1]) && inner + 1 > REGEX_MAX_REPEAT_DEPTH)
        return "repeated groups nested too deeply";
      if (regex_is_quantifier(p[1]) && inner + 1 > repeated[depth])
        repeated[depth] = inner + 1;
    } else if (regex_is_quantifier(*p)) {
      if (was_quantified)
        return "a repetition of a repetition (\"a*+\")";
      if (*p == '{')
        while (*p && *p != '}')
          p++;
      if (!*p)
        return NULL;
      quantified = 1;
    }
  }
  return NULL;
}

regex_t *script_regex_compile(tz_script_t *s, const char *pattern, int flags,
                              const tz_loc_t *loc, tz_diag_t *d)
{
  const char *bad = regex_check_shape(pattern);
  if (bad) {
    tz_diag_error(d, loc, "regular expression \"%s\" refused: %s", pattern,
                  bad);
    return NULL;
  }
  regex_t *re = su_alloc(s->home, sizeof *re);
  if (!re)
    return NULL;
  int rc = regcomp(re, pattern, flags);
  if (rc) {
    char buf[256];
    regerror(rc, re, buf, sizeof buf);
    tz_diag_error(d, loc, "invalid regular expression \"%s\": %s", pattern,
                  buf);
    su_free(s->home, re);
    return NULL;
  }
  regex_t **slot = script_vec_push(s, &s->regexes, &s->nregexes, sizeof *slot);
  if (!slot) {
    regfree(re);
    return NULL;
  }
  *slot = re;
  return re;
}

/* ---- lifecycle ---------------------------------------------------------- */

tz_script_t *tz_script_parse_text(const char *name, const char *text,
                                  size_t len, const tz_lang_t *lang,
                                  tz_diag_t *d)
{
  tz_script_t *s = su_home_new(sizeof *s);
  if (!s) {
    tz_diag_error(d, NULL, "out of memory");
    return NULL;
  }
  s->lang = lang;
  s->src.name = su_strdup(s->home, name ? name : "<script>");
  s->src.text = su_alloc(s->home, len + 1);
  s->src.len = len;
  if (s->src.text) {
    memcpy(s->src.text, text, len);
    s->src.text[len] = '\0';
  }
  if (!s->src.name || !s->src.text) {
    tz_diag_error(d, NULL, "out of memory");
    tz_script_free(s);
    return NULL;
  }
  if (script_parse(s, d) < 0) {
    tz_script_free(s);
    return NULL;
  }
  return s;
}

tz_script_t *tz_script_parse_file(const char *path, const tz_lang_t *lang,
                                  tz_diag_t *d)
{
  tz_src_t src = {.name = (char *)path};
  tz_loc_t loc = {.src = &src};
  FILE *f = fopen(path, "rb");
  if (!f) {
    tz_diag_error(d, &loc, "cannot open: %s", strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      char *grown = realloc(buf, cap = cap ? cap * 2 : 16384);
      if (!grown)
        break;
      buf = grown;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  int failed = ferror(f) || !buf;
  fclose(f);
  tz_script_t *s = NULL;
  if (failed)
    tz_diag_error(d, &loc, "cannot read the file");
  else
    s = tz_script_parse_text(path, buf, len, lang, d);
  free(buf);
  return s;
}

static void script_undo_fixups(call_t *c)
{
  for (int i = 0; i < c->argc; i++)
    if ((c->fixed_mask & (1u << i)) && c->fe->fixup_free)
      c->fe->fixup_free(c->mod, i, &c->args[i]);
  c->fixed_mask = 0;
}

void tz_script_free(tz_script_t *s)
{
  if (!s)
    return;
  for (size_t i = 0; i < s->ncalls; i++)
    script_undo_fixups(s->calls[i]);
  for (size_t i = 0; i < s->nregexes; i++)
    regfree(s->regexes[i]);
  su_home_unref(s->home);
}

/* ---- accessors ---------------------------------------------------------- */

size_t tz_script_directives(const tz_script_t *s, const tz_directive_t **out)
{
  *out = s->dirs;
  return s->ndirs;
}

tz_route_t *script_find_route(const tz_script_t *s, route_type_t type,
                              const char *name)
{
  for (size_t i = 0; i < s->nroutes; i++) {
    tz_route_t *r = s->routes[i];
    if (r->type == type && (!name || (r->name && !strcmp(r->name, name))))
      return r;
  }
  return NULL;
}

const tz_src_t *tz_script_source(const tz_script_t *s)
{
  return &s->src;
}

const tz_route_t *tz_script_request_route(const tz_script_t *s)
{
  return s->request;
}

const tz_route_t *tz_script_reply_route(const tz_script_t *s)
{
  return s->reply;
}

const tz_route_t *tz_script_failure_route(const tz_script_t *s,
                                          const char *name)
{
  return name ? script_find_route(s, RT_FAILURE, name) : NULL;
}

size_t tz_script_nvars(const tz_script_t *s)
{
  return s->nvars;
}

size_t tz_script_uses_module(const tz_script_t *s, const tz_modinst_t *mod,
                             void (*cb)(void *ctx, const tz_loc_t *loc,
                                        const char *func),
                             void *ctx)
{
  size_t n = 0;
  for (size_t i = 0; i < s->ncalls; i++) {
    const call_t *c = s->calls[i];
    if (!c->fe || !mod || c->mod != mod)
      continue;
    n++;
    if (cb)
      cb(ctx, &c->loc, c->name);
  }
  return n;
}

/* ---- coverage counts ---------------------------------------------------- */

typedef void script_visit_f(void *arg, stmt_t *st);

/* Visits st and the statements after it, each before its branches or
 * body, which is source order. */
static void script_walk(stmt_t *st, script_visit_f *visit, void *arg)
{
  for (; st; st = st->next) {
    visit(arg, st);
    if (st->kind == ST_IF) {
      script_walk(st->u.cond.then, visit, arg);
      script_walk(st->u.cond.els, visit, arg);
    } else if (st->kind == ST_BLOCK) {
      script_walk(st->u.body, visit, arg);
    }
  }
}

static void script_number(void *arg, stmt_t *st)
{
  unsigned *next = arg;
  st->id = (*next)++;
}

int tz_script_count_enable(tz_script_t *s)
{
  if (s->counts)
    return 0;
  unsigned n = 0;
  for (size_t i = 0; i < s->nroutes; i++) {
    s->routes[i]->id = n++;
    script_walk(s->routes[i]->body, script_number, &n);
  }
  /* One more than needed: a script without routes still gets counters,
   * which tells the next call it is done. */
  s->counts = su_zalloc(s->home, (n + 1) * sizeof *s->counts);
  return s->counts ? 0 : -1;
}

typedef struct script_report {
  const tz_script_count_visitor_t *v;
  const script_count_t *counts;
} script_report_t;

static script_count_t script_count_of(const script_count_t *counts,
                                      unsigned id)
{
  return counts ? counts[id] : (script_count_t){0};
}

static void script_report_stmt(void *arg, stmt_t *st)
{
  const script_report_t *rp = arg;
  if (st->kind == ST_BLOCK) /* its braces run nothing themselves */
    return;
  script_count_t c = script_count_of(rp->counts, st->id);
  tz_script_stmt_count_t info = {st->loc, c.hits, st->kind == ST_IF,
                                 {c.taken[0], c.taken[1]}};
  rp->v->stmt(rp->v->arg, &info);
}

void tz_script_each_count(const tz_script_t *s,
                          const tz_script_count_visitor_t *v)
{
  script_report_t rp = {v, s->counts};
  for (size_t i = 0; i < s->nroutes; i++) {
    const tz_route_t *r = s->routes[i];
    tz_script_route_count_t info = {r, r->loc,
                                    script_count_of(s->counts, r->id).hits};
    v->route(v->arg, &info);
    script_walk(r->body, script_report_stmt, &rp);
  }
}
