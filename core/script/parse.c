/*
 * parse.c - the recursive-descent parser: top-level directives and route
 * blocks, statements, and expressions by precedence (|| && ! comparisons
 * + - unary-minus primary). Stops at the first syntax error, reported at
 * the offending token (or just after the previous one for a missing ';').
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "script/lex.h"

typedef struct parser {
  lexer_t lx;
  tz_script_t *s;
  tz_diag_t *d;
  token_t tok;       /* the current token */
  tz_loc_t prev_end; /* just after the previous token */
  int failed;
} parser_t;

static void parse_error(parser_t *p, const tz_loc_t *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void parse_error(parser_t *p, const tz_loc_t *loc, const char *fmt, ...)
{
  if (p->failed)
    return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  tz_diag_error(p->d, loc, "%s", buf);
  p->failed = 1;
}

static void parse_advance(parser_t *p)
{
  p->prev_end = p->tok.loc;
  p->prev_end.col += (unsigned)p->tok.len;
  lex_next(&p->lx, &p->tok);
  if (p->tok.kind == T_ERROR)
    p->failed = 1;
}

static int parse_is(const parser_t *p, tok_kind_t k)
{
  return !p->failed && p->tok.kind == k;
}

static int parse_is_word(const parser_t *p, const char *w)
{
  return parse_is(p, T_IDENT) && p->tok.len == strlen(w) &&
         !memcmp(p->tok.text, w, p->tok.len);
}

static int parse_accept(parser_t *p, tok_kind_t k)
{
  if (!parse_is(p, k))
    return 0;
  parse_advance(p);
  return 1;
}

static const char *parse_found(const parser_t *p, char *buf, size_t size)
{
  return lex_describe(&p->tok, buf, size);
}

static int parse_expect(parser_t *p, tok_kind_t k, const char *what)
{
  if (parse_accept(p, k))
    return 0;
  char buf[64];
  parse_error(p, &p->tok.loc, "expected %s, found %s", what,
              parse_found(p, buf, sizeof buf));
  return -1;
}

/* A missing ';' is reported where it belongs: right after the statement. */
static int parse_expect_semi(parser_t *p)
{
  if (parse_accept(p, T_SEMI))
    return 0;
  parse_error(p, &p->prev_end, "expected ';' after statement");
  return -1;
}

static char *parse_token_text(parser_t *p, const token_t *t)
{
  if (t->kind == T_STR)
    return t->s;
  return su_strndup(p->s->home, t->text, (isize_t)t->len);
}

/* A route name: identifier, number or string. */
static char *parse_name(parser_t *p, const char *what)
{
  if (!parse_is(p, T_IDENT) && !parse_is(p, T_INT) && !parse_is(p, T_STR)) {
    char buf[64];
    parse_error(p, &p->tok.loc, "expected %s, found %s", what,
                parse_found(p, buf, sizeof buf));
    return NULL;
  }
  char *name = parse_token_text(p, &p->tok);
  parse_advance(p);
  return name;
}

static void *parse_alloc(parser_t *p, size_t size)
{
  void *n = su_zalloc(p->s->home, size);
  if (!n)
    parse_error(p, &p->tok.loc, "out of memory");
  return n;
}

/* ---- expressions -------------------------------------------------------- */

static expr_t *parse_expr(parser_t *p);

static expr_t *parse_new_expr(parser_t *p, expr_kind_t k, const tz_loc_t *loc)
{
  expr_t *e = parse_alloc(p, sizeof *e);
  if (e) {
    e->kind = k;
    e->loc = *loc;
  }
  return e;
}

static expr_t *parse_binary(parser_t *p, expr_kind_t k, const tz_loc_t *loc,
                            expr_t *l, expr_t *r)
{
  if (!l || !r)
    return NULL;
  expr_t *e = parse_new_expr(p, k, loc);
  if (e) {
    e->u.bin.l = l;
    e->u.bin.r = r;
  }
  return e;
}

static int parse_pvar(parser_t *p, pvar_ref_t *ref)
{
  if (pvar_resolve(p->s, &p->tok.pv, &p->tok.loc, p->d, ref) < 0) {
    p->failed = 1;
    return -1;
  }
  parse_advance(p);
  return 0;
}

/* Current token: '(' after a function name. */
static expr_t *parse_call(parser_t *p, const token_t *name)
{
  expr_t *e = parse_new_expr(p, EX_CALL, &name->loc);
  call_t *c = parse_alloc(p, sizeof *c);
  if (!e || !c)
    return NULL;
  e->u.call = c;
  c->name = parse_token_text(p, name);
  c->loc = name->loc;
  parse_advance(p);
  if (!parse_accept(p, T_RPAREN)) {
    do {
      if (c->argc == TZ_MAX_ARGS) {
        parse_error(p, &p->tok.loc, "too many arguments to '%s' (at most %d)",
                    c->name, TZ_MAX_ARGS);
        return NULL;
      }
      if (!(c->argv[c->argc++] = parse_expr(p)))
        return NULL;
    } while (parse_accept(p, T_COMMA));
    if (parse_expect(p, T_RPAREN, "')' after the arguments") < 0)
      return NULL;
  }
  call_t **slot = script_vec_push(p->s, &p->s->calls, &p->s->ncalls,
                                  sizeof *slot);
  if (!slot)
    return NULL;
  *slot = c;
  return e;
}

/* Current token: '(' after `route`. */
static expr_t *parse_route_call(parser_t *p, const tz_loc_t *loc)
{
  parse_advance(p);
  expr_t *e = parse_new_expr(p, EX_ROUTE, loc);
  if (e)
    e->u.route.name_loc = p->tok.loc;
  if (!e || !(e->u.route.name = parse_name(p, "a route name")) ||
      parse_expect(p, T_RPAREN, "')' after the route name") < 0)
    return NULL;
  return e;
}

static expr_t *parse_ident(parser_t *p)
{
  token_t name = p->tok;
  parse_advance(p);
  if (parse_is(p, T_LPAREN)) {
    if (name.len == 5 && !memcmp(name.text, "route", 5))
      return parse_route_call(p, &name.loc);
    return parse_call(p, &name);
  }
  int is_true = name.len == 4 && !memcmp(name.text, "true", 4);
  if (is_true || (name.len == 5 && !memcmp(name.text, "false", 5))) {
    expr_t *e = parse_new_expr(p, EX_INT, &name.loc);
    if (e)
      e->u.i = is_true;
    return e;
  }
  parse_error(p, &p->prev_end, "expected '(' after function name '%.*s'",
              (int)name.len, name.text);
  return NULL;
}

static expr_t *parse_not(parser_t *p);

static expr_t *parse_primary(parser_t *p)
{
  if (p->failed)
    return NULL;
  token_t t = p->tok;
  expr_t *e;
  switch (t.kind) {
  case T_INT:
    if ((e = parse_new_expr(p, EX_INT, &t.loc)))
      e->u.i = t.i;
    parse_advance(p);
    return e;
  case T_STR:
    if ((e = parse_new_expr(p, EX_STR, &t.loc))) {
      e->u.str.s = t.s;
      e->u.str.len = t.slen;
      e->u.str.raw = t.text + 1;
      e->u.str.rawlen = t.len - 2;
    }
    parse_advance(p);
    return e;
  case T_PVAR:
    if ((e = parse_new_expr(p, EX_PVAR, &t.loc)) && parse_pvar(p, &e->u.pv) < 0)
      return NULL;
    return e;
  case T_IDENT:
    return parse_ident(p);
  case T_NOT:
    return parse_not(p);
  case T_LPAREN:
    parse_advance(p);
    e = parse_expr(p);
    if (parse_expect(p, T_RPAREN, "')'") < 0)
      return NULL;
    return e;
  default: {
    char buf[64];
    parse_error(p, &t.loc, "expected an expression, found %s",
                parse_found(p, buf, sizeof buf));
    return NULL;
  }
  }
}

static expr_t *parse_unary(parser_t *p)
{
  if (!parse_is(p, T_MINUS))
    return parse_primary(p);
  tz_loc_t loc = p->tok.loc;
  parse_advance(p);
  expr_t *sub = parse_unary(p);
  if (sub && sub->kind == EX_INT) {
    /* Folded, so that -1 is a constant argument (log(-1, "...")). */
    sub->u.i = -sub->u.i;
    sub->loc = loc;
    return sub;
  }
  expr_t *e = sub ? parse_new_expr(p, EX_NEG, &loc) : NULL;
  if (e)
    e->u.bin.l = sub;
  return e;
}

static expr_t *parse_add(parser_t *p)
{
  expr_t *l = parse_unary(p);
  while (parse_is(p, T_PLUS) || parse_is(p, T_MINUS)) {
    expr_kind_t k = p->tok.kind == T_PLUS ? EX_ADD : EX_SUB;
    tz_loc_t loc = p->tok.loc;
    parse_advance(p);
    l = parse_binary(p, k, &loc, l, parse_unary(p));
  }
  return l;
}

static int parse_cmp_kind(tok_kind_t t, expr_kind_t *k)
{
  static const struct {
    tok_kind_t t;
    expr_kind_t k;
  } map[] = {{T_EQ, EX_EQ}, {T_NE, EX_NE},       {T_LT, EX_LT},
             {T_GT, EX_GT}, {T_LE, EX_LE},       {T_GE, EX_GE},
             {T_MATCH, EX_MATCH}, {T_NMATCH, EX_NMATCH}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (map[i].t == t) {
      *k = map[i].k;
      return 1;
    }
  return 0;
}

/* The right side of =~ and !~ is compiled once, here. */
static int parse_regex(parser_t *p, expr_t *e)
{
  expr_t *r = e->u.bin.r;
  if (r->kind != EX_STR) {
    parse_error(p, &r->loc, "the right side of '%s' must be a string literal",
                e->kind == EX_MATCH ? "=~" : "!~");
    return -1;
  }
  e->u.bin.re = script_regex_compile(p->s, r->u.str.s, REG_EXTENDED | REG_NOSUB,
                                     &r->loc, p->d);
  if (!e->u.bin.re)
    p->failed = 1;
  return e->u.bin.re ? 0 : -1;
}

static expr_t *parse_cmp(parser_t *p)
{
  expr_t *l = parse_add(p);
  expr_kind_t k;
  if (!l || p->failed || !parse_cmp_kind(p->tok.kind, &k))
    return l;
  tz_loc_t loc = p->tok.loc;
  parse_advance(p);
  expr_t *e = parse_binary(p, k, &loc, l, parse_add(p));
  if (!e || p->failed)
    return NULL;
  if ((k == EX_MATCH || k == EX_NMATCH) && parse_regex(p, e) < 0)
    return NULL;
  if (parse_cmp_kind(p->tok.kind, &k)) {
    parse_error(p, &p->tok.loc,
                "comparisons cannot be chained; add parentheses");
    return NULL;
  }
  return e;
}

static expr_t *parse_not(parser_t *p)
{
  if (!parse_is(p, T_NOT))
    return parse_cmp(p);
  tz_loc_t loc = p->tok.loc;
  parse_advance(p);
  expr_t *sub = parse_not(p);
  expr_t *e = sub ? parse_new_expr(p, EX_NOT, &loc) : NULL;
  if (e)
    e->u.bin.l = sub;
  return e;
}

static expr_t *parse_and(parser_t *p)
{
  expr_t *l = parse_not(p);
  while (parse_is(p, T_AND)) {
    tz_loc_t loc = p->tok.loc;
    parse_advance(p);
    l = parse_binary(p, EX_AND, &loc, l, parse_not(p));
  }
  return l;
}

static expr_t *parse_expr(parser_t *p)
{
  expr_t *l = parse_and(p);
  while (parse_is(p, T_OR)) {
    tz_loc_t loc = p->tok.loc;
    parse_advance(p);
    l = parse_binary(p, EX_OR, &loc, l, parse_and(p));
  }
  return p->failed ? NULL : l;
}

/* ---- statements --------------------------------------------------------- */

static stmt_t *parse_stmt(parser_t *p);

static stmt_t *parse_new_stmt(parser_t *p, stmt_kind_t k, const tz_loc_t *loc)
{
  stmt_t *st = parse_alloc(p, sizeof *st);
  if (st) {
    st->kind = k;
    st->loc = *loc;
  }
  return st;
}

/* Current token: '{'. */
static stmt_t *parse_block(parser_t *p)
{
  tz_loc_t open = p->tok.loc;
  parse_advance(p);
  stmt_t *first = NULL, **tail = &first;
  while (!p->failed && !parse_is(p, T_RBRACE)) {
    if (parse_is(p, T_EOF)) {
      parse_error(p, &p->tok.loc,
                  "expected '}' at end of input (block opened at line %u)",
                  open.line);
      return NULL;
    }
    stmt_t *st = parse_stmt(p);
    if (st) {
      *tail = st;
      tail = &st->next;
    }
  }
  stmt_t *block = parse_new_stmt(p, ST_BLOCK, &open);
  if (!block || p->failed)
    return NULL;
  parse_advance(p);
  block->u.body = first;
  return block;
}

static stmt_t *parse_if(parser_t *p)
{
  tz_loc_t loc = p->tok.loc;
  parse_advance(p);
  if (parse_expect(p, T_LPAREN, "'(' after 'if'") < 0)
    return NULL;
  expr_t *cond = parse_expr(p);
  if (parse_expect(p, T_RPAREN, "')' after the condition") < 0)
    return NULL;
  stmt_t *then = parse_stmt(p), *els = NULL;
  if (parse_is_word(p, "else")) {
    parse_advance(p);
    els = parse_stmt(p);
  }
  stmt_t *st = parse_new_stmt(p, ST_IF, &loc);
  if (!st || p->failed)
    return NULL;
  st->u.cond.cond = cond;
  st->u.cond.then = then;
  st->u.cond.els = els;
  return st;
}

static stmt_t *parse_return(parser_t *p)
{
  stmt_t *st = parse_new_stmt(p, ST_RETURN, &p->tok.loc);
  parse_advance(p);
  if (!st || parse_accept(p, T_SEMI))
    return st;
  st->u.e = parse_expr(p);
  return parse_expect_semi(p) < 0 ? NULL : st;
}

static stmt_t *parse_keyword(parser_t *p, stmt_kind_t k)
{
  stmt_t *st = parse_new_stmt(p, k, &p->tok.loc);
  parse_advance(p);
  return parse_expect_semi(p) < 0 ? NULL : st;
}

static stmt_t *parse_assign(parser_t *p)
{
  token_t lhs = p->tok;
  stmt_t *st = parse_new_stmt(p, ST_ASSIGN, &lhs.loc);
  if (!st || parse_pvar(p, &st->u.assign.lhs) < 0)
    return NULL;
  st->u.assign.lhs_loc = lhs.loc;
  if (!parse_is(p, T_ASSIGN)) {
    parse_error(p, &p->tok.loc, "expected '=' after '%.*s'", (int)lhs.len,
                lhs.text);
    return NULL;
  }
  parse_advance(p);
  st->u.assign.rhs = parse_expr(p);
  return parse_expect_semi(p) < 0 ? NULL : st;
}

/* Only expressions that do something can stand alone. */
static int parse_has_effect(const expr_t *e)
{
  switch (e->kind) {
  case EX_CALL:
  case EX_ROUTE:
    return 1;
  case EX_NOT:
    return parse_has_effect(e->u.bin.l);
  case EX_AND:
  case EX_OR:
    return parse_has_effect(e->u.bin.l) || parse_has_effect(e->u.bin.r);
  default:
    return 0;
  }
}

static stmt_t *parse_expr_stmt(parser_t *p)
{
  tz_loc_t loc = p->tok.loc;
  expr_t *e = parse_expr(p);
  if (!e)
    return NULL;
  if (!parse_has_effect(e)) {
    parse_error(p, &loc, "statement has no effect; expected a function "
                "call, route() or an assignment");
    return NULL;
  }
  stmt_t *st = parse_new_stmt(p, ST_EXPR, &loc);
  if (st)
    st->u.e = e;
  return parse_expect_semi(p) < 0 ? NULL : st;
}

static stmt_t *parse_stmt(parser_t *p)
{
  if (p->failed)
    return NULL;
  switch (p->tok.kind) {
  case T_LBRACE:
    return parse_block(p);
  case T_SEMI:
    parse_advance(p);
    return NULL;
  case T_PVAR:
    return parse_assign(p);
  default:
    break;
  }
  if (parse_is_word(p, "if"))
    return parse_if(p);
  if (parse_is_word(p, "return"))
    return parse_return(p);
  if (parse_is_word(p, "exit"))
    return parse_keyword(p, ST_EXIT);
  if (parse_is_word(p, "drop"))
    return parse_keyword(p, ST_DROP);
  if (parse_is_word(p, "else")) {
    parse_error(p, &p->tok.loc, "'else' without a previous 'if'");
    return NULL;
  }
  return parse_expr_stmt(p);
}

/* ---- top level ---------------------------------------------------------- */

static const char *parse_route_desc(route_type_t type, const char *name,
                                    char *buf, size_t size)
{
  static const char *const kinds[] = {"request_route", "reply_route",
                                      "failure_route", "route"};
  if (name)
    snprintf(buf, size, "%s '%s'", kinds[type], name);
  else
    snprintf(buf, size, "%s", kinds[type]);
  return buf;
}

/* Current token: the route keyword. Kamailio's old spellings are
 * `legacy`: `route { }` is request_route and `route[x]` a sub-route;
 * `onreply_route { }` is reply_route, but its named form is a
 * per-transaction hook this core does not have. */
static void parse_route_def(parser_t *p, route_type_t type, int legacy)
{
  tz_loc_t loc = p->tok.loc;
  char *name = NULL;
  parse_advance(p);
  if (legacy && parse_is(p, T_LBRACK) && type == RT_REPLY) {
    parse_error(p, &loc, "named onreply_route blocks are not supported; "
                "use reply_route");
    return;
  }
  if (legacy && parse_is(p, T_LBRACK))
    type = RT_SUB;
  if (type == RT_SUB || type == RT_FAILURE) {
    if (parse_expect(p, T_LBRACK, "'[' and a route name") < 0 ||
        !(name = parse_name(p, "a route name")) ||
        parse_expect(p, T_RBRACK, "']' after the route name") < 0)
      return;
  }
  const tz_route_t *dup = script_find_route(p->s, type, name);
  if (dup) {
    char buf[128];
    parse_error(p, &loc, "%s already defined at %s:%u:%u",
                parse_route_desc(type, name, buf, sizeof buf),
                dup->loc.src->name, dup->loc.line, dup->loc.col);
    return;
  }
  if (!parse_is(p, T_LBRACE)) {
    parse_expect(p, T_LBRACE, "'{'");
    return;
  }
  stmt_t *body = parse_block(p);
  tz_route_t *r = body ? parse_alloc(p, sizeof *r) : NULL;
  tz_route_t **slot = r ? script_vec_push(p->s, &p->s->routes,
                                          &p->s->nroutes, sizeof *slot)
                        : NULL;
  if (!slot)
    return;
  *slot = r;
  r->type = type;
  r->name = name;
  r->loc = loc;
  r->body = body->u.body;
  if (type == RT_REQUEST)
    p->s->request = r;
  else if (type == RT_REPLY)
    p->s->reply = r;
}

static tz_directive_t *parse_new_dir(parser_t *p, tz_dir_kind_t kind,
                                     const tz_loc_t *loc)
{
  tz_directive_t *dir =
      script_vec_push(p->s, &p->s->dirs, &p->s->ndirs, sizeof *dir);
  if (!dir) {
    parse_error(p, loc, "out of memory");
    return NULL;
  }
  dir->kind = kind;
  dir->loc = *loc;
  return dir;
}

static void parse_token_value(const token_t *t, tz_val_t *v)
{
  if (t->kind == T_INT) {
    v->type = TZ_VAL_INT;
    v->i = t->i;
  } else {
    v->type = TZ_VAL_STR;
    v->s = t->s;
    v->len = t->slen;
  }
}

static void parse_loadmodule(parser_t *p)
{
  tz_loc_t loc = p->tok.loc;
  parse_advance(p);
  if (!parse_is(p, T_STR)) {
    char buf[64];
    parse_error(p, &p->tok.loc, "expected a module name string after "
                "'loadmodule', found %s", parse_found(p, buf, sizeof buf));
    return;
  }
  tz_directive_t *dir = parse_new_dir(p, TZ_DIR_LOADMODULE, &loc);
  if (!dir)
    return;
  dir->name = p->tok.s;
  parse_token_value(&p->tok, &dir->value);
  dir->value_loc = p->tok.loc;
  parse_advance(p);
  parse_accept(p, T_SEMI);
}

static const char *parse_string_arg(parser_t *p, const char *what)
{
  if (!parse_is(p, T_STR)) {
    char buf[64];
    parse_error(p, &p->tok.loc, "expected %s string, found %s", what,
                parse_found(p, buf, sizeof buf));
    return NULL;
  }
  const char *s = p->tok.s;
  parse_advance(p);
  return s;
}

static void parse_modparam(parser_t *p)
{
  tz_loc_t loc = p->tok.loc;
  parse_advance(p);
  const char *mod, *param;
  if (parse_expect(p, T_LPAREN, "'(' after 'modparam'") < 0 ||
      !(mod = parse_string_arg(p, "a module name")) ||
      parse_expect(p, T_COMMA, "','") < 0 ||
      !(param = parse_string_arg(p, "a parameter name")) ||
      parse_expect(p, T_COMMA, "','") < 0)
    return;
  tz_loc_t value_loc = p->tok.loc;
  int neg = parse_accept(p, T_MINUS);
  if (!parse_is(p, T_INT) && (neg || !parse_is(p, T_STR))) {
    char buf[64];
    parse_error(p, &p->tok.loc, "expected a string or integer value, found %s",
                parse_found(p, buf, sizeof buf));
    return;
  }
  tz_directive_t *dir = parse_new_dir(p, TZ_DIR_MODPARAM, &loc);
  if (!dir)
    return;
  dir->name = mod;
  dir->param = param;
  parse_token_value(&p->tok, &dir->value);
  if (neg)
    dir->value.i = -dir->value.i;
  dir->value_loc = value_loc;
  parse_advance(p);
  if (parse_expect(p, T_RPAREN, "')' after the value") == 0)
    parse_accept(p, T_SEMI);
}

/* `name = value`; the value is lexed in bare-word mode so that
 * listen=udp:127.0.0.1:5060 needs no quotes. */
static void parse_setting(parser_t *p)
{
  token_t name = p->tok;
  parse_advance(p);
  if (!parse_is(p, T_ASSIGN)) {
    char buf[64];
    if (parse_is(p, T_LPAREN))
      parse_error(p, &name.loc, "function call outside of a route block");
    else
      parse_error(p, &p->tok.loc, "expected '=' after setting name '%.*s', "
                  "found %s", (int)name.len, name.text,
                  parse_found(p, buf, sizeof buf));
    return;
  }
  lex_setting_value(&p->lx, &p->tok);
  if (p->tok.kind == T_ERROR) {
    p->failed = 1;
    return;
  }
  tz_directive_t *dir = parse_new_dir(p, TZ_DIR_SET, &name.loc);
  if (!dir)
    return;
  dir->name = parse_token_text(p, &name);
  parse_token_value(&p->tok, &dir->value);
  dir->value_loc = p->tok.loc;
  parse_advance(p);
  parse_accept(p, T_SEMI);
}

static void parse_toplevel(parser_t *p)
{
  static const char *const unsupported[] = {
      "branch_route", "event_route", "onsend_route", "branch_failure_route"};
  static const char *const statements[] = {"if", "else", "return", "exit",
                                           "drop"};
  char buf[64];
  if (!parse_is(p, T_IDENT)) {
    parse_error(p, &p->tok.loc, "unexpected %s",
                parse_found(p, buf, sizeof buf));
    return;
  }
  if (parse_is_word(p, "loadmodule"))
    return parse_loadmodule(p);
  if (parse_is_word(p, "modparam"))
    return parse_modparam(p);
  if (parse_is_word(p, "request_route"))
    return parse_route_def(p, RT_REQUEST, 0);
  if (parse_is_word(p, "reply_route"))
    return parse_route_def(p, RT_REPLY, 0);
  if (parse_is_word(p, "failure_route"))
    return parse_route_def(p, RT_FAILURE, 0);
  if (parse_is_word(p, "onreply_route") || parse_is_word(p, "route"))
    return parse_route_def(p, p->tok.len == 5 ? RT_REQUEST : RT_REPLY, 1);
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
    if (parse_is_word(p, unsupported[i])) {
      parse_error(p, &p->tok.loc, "'%s' blocks are not supported",
                  unsupported[i]);
      return;
    }
  for (size_t i = 0; i < sizeof statements / sizeof *statements; i++)
    if (parse_is_word(p, statements[i])) {
      parse_error(p, &p->tok.loc, "statement outside of a route block");
      return;
    }
  parse_setting(p);
}

int script_parse(tz_script_t *s, tz_diag_t *d)
{
  parser_t p = {.s = s, .d = d};
  lex_init(&p.lx, s, d);
  parse_advance(&p);
  while (!p.failed && p.tok.kind != T_EOF)
    parse_toplevel(&p);
  return p.failed ? -1 : 0;
}
