/*
 * lex.c - the script lexer: comments, literals, pseudo-variables,
 * operators, and the bare-word mode of top-level setting values.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/lex.h"

void lex_init(lexer_t *lx, tz_script_t *s, tz_diag_t *d)
{
  lx->s = s;
  lx->d = d;
  lx->p = lx->bol = s->src.text;
  lx->end = s->src.text + s->src.len;
  lx->line = 1;
}

static tz_loc_t lex_loc(const lexer_t *lx, const char *at)
{
  tz_loc_t loc = {&lx->s->src, lx->line, (unsigned)(at - lx->bol) + 1};
  return loc;
}

static void lex_newline(lexer_t *lx)
{
  lx->line++;
  lx->bol = lx->p;
}

static int lex_is_ident(int c, int first)
{
  return isalpha(c) || c == '_' || (!first && isdigit(c));
}

/* "#!define" and friends at the start of a line are Kamailio's
 * preprocessor; we ignore the line, but say so, because silently taking
 * both sides of an #!ifdef would be worse than a warning. A "#!" shebang
 * or a "#!KAMAILIO" banner is fine. */
static void lex_check_directive(lexer_t *lx, const char *hash)
{
  const char *w = hash + 2, *e = w;
  while (e < lx->end && lex_is_ident((unsigned char)*e, e == w))
    e++;
  if (e == w)
    return;
  static const char *const banners[] = {"KAMAILIO", "OPENSER", "SER",
                                        "MAXCOMPAT", "ALL", "trapezoid"};
  for (size_t i = 0; i < sizeof banners / sizeof *banners; i++)
    if (strlen(banners[i]) == (size_t)(e - w) &&
        !strncmp(banners[i], w, (size_t)(e - w)))
      return;
  tz_loc_t loc = lex_loc(lx, hash);
  tz_diag_warning(lx->d, &loc,
                  "preprocessor directive '#!%.*s' is not supported; "
                  "the line is ignored",
                  (int)(e - w), w);
}

static void lex_skip_line(lexer_t *lx)
{
  while (lx->p < lx->end && *lx->p != '\n')
    lx->p++;
}

/* Skips blanks and comments. Returns -1 after reporting an unterminated
 * block comment. */
static int lex_skip_space(lexer_t *lx)
{
  while (lx->p < lx->end) {
    char c = *lx->p;
    if (c == '\n') {
      lx->p++;
      lex_newline(lx);
    } else if (isspace((unsigned char)c)) {
      lx->p++;
    } else if (c == '#') {
      if (lx->p == lx->bol && lx->p + 1 < lx->end && lx->p[1] == '!')
        lex_check_directive(lx, lx->p);
      lex_skip_line(lx);
    } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
      lex_skip_line(lx);
    } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
      tz_loc_t start = lex_loc(lx, lx->p);
      lx->p += 2;
      while (lx->p < lx->end && !(lx->p[0] == '*' && lx->p + 1 < lx->end &&
                                  lx->p[1] == '/')) {
        if (*lx->p++ == '\n')
          lex_newline(lx);
      }
      if (lx->p >= lx->end) {
        tz_diag_error(lx->d, &start, "unterminated comment");
        return -1;
      }
      lx->p += 2;
    } else {
      break;
    }
  }
  return 0;
}

int lex_unescape(char c)
{
  switch (c) {
  case 'n': return '\n';
  case 'r': return '\r';
  case 't': return '\t';
  case '\\': return '\\';
  case '"': return '"';
  case '\'': return '\'';
  default: return -1;
  }
}

static void lex_error(lexer_t *lx, token_t *t, const char *at,
                      const char *msg)
{
  tz_loc_t loc = lex_loc(lx, at);
  tz_diag_error(lx->d, &loc, "%s", msg);
  t->kind = T_ERROR;
}

static void lex_string(lexer_t *lx, token_t *t)
{
  char q = *lx->p;
  const char *raw = lx->p + 1, *e = raw;
  while (e < lx->end && *e != q && *e != '\n') {
    if (*e == '\\' && e + 1 < lx->end && e[1] != '\n')
      e++;
    e++;
  }
  if (e >= lx->end || *e != q) {
    lex_error(lx, t, lx->p, "unterminated string");
    return;
  }
  char *out = su_alloc(lx->s->home, (size_t)(e - raw) + 1), *o = out;
  if (!out) {
    lex_error(lx, t, lx->p, "out of memory");
    return;
  }
  for (const char *r = raw; r < e; r++) {
    int c = *r;
    if (c == '\\' && (c = lex_unescape(r[1])) >= 0)
      r++;
    else
      c = *r;
    *o++ = (char)c;
  }
  *o = '\0';
  t->kind = T_STR;
  t->s = out;
  t->slen = (size_t)(o - out);
  lx->p = e + 1;
}

/* Parses [-]digits or [-]0xhex spanning exactly [p, e). */
static int lex_parse_int(const char *p, const char *e, long *out)
{
  char buf[32];
  if (e - p <= 0 || (size_t)(e - p) >= sizeof buf)
    return e - p <= 0 ? -1 : -2;
  memcpy(buf, p, (size_t)(e - p));
  buf[e - p] = '\0';
  const char *digits = buf + (buf[0] == '-');
  if (!isdigit((unsigned char)digits[0]))
    return -1;
  /* Decimal, or hex with 0x; never octal, so 010 is ten. */
  int hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
  char *end;
  errno = 0;
  *out = strtol(buf, &end, hex ? 16 : 10);
  if (*end)
    return -1;
  return errno == ERANGE ? -2 : 0;
}

static void lex_number(lexer_t *lx, token_t *t)
{
  const char *e = lx->p;
  while (e < lx->end && isalnum((unsigned char)*e))
    e++;
  int rc = lex_parse_int(lx->p, e, &t->i);
  if (rc == -2)
    lex_error(lx, t, lx->p, "integer constant is too large");
  else if (rc < 0)
    lex_error(lx, t, lx->p, "invalid number");
  else
    t->kind = T_INT;
  lx->p = e;
}

static void lex_pvar(lexer_t *lx, token_t *t)
{
  int rc = pvar_scan(lx->p, lx->end, &t->pv);
  if (rc == 0) {
    lex_error(lx, t, lx->p, "expected a pseudo-variable name after '$'");
    return;
  }
  if (rc < 0) {
    lex_error(lx, t, lx->p, "missing ')' after pseudo-variable argument");
    return;
  }
  t->kind = T_PVAR;
  lx->p += t->pv.len;
}

/* Operators, longest first. */
static const struct {
  const char *text;
  tok_kind_t kind;
} lex_ops[] = {
    {"==", T_EQ},     {"!=", T_NE},     {"<=", T_LE},     {">=", T_GE},
    {"=~", T_MATCH},  {"!~", T_NMATCH}, {"&&", T_AND},    {"||", T_OR},
    {"{", T_LBRACE},  {"}", T_RBRACE},  {"(", T_LPAREN},  {")", T_RPAREN},
    {"[", T_LBRACK},  {"]", T_RBRACK},  {";", T_SEMI},    {",", T_COMMA},
    {"=", T_ASSIGN},  {"<", T_LT},      {">", T_GT},      {"!", T_NOT},
    {"+", T_PLUS},    {"-", T_MINUS},
};

static void lex_operator(lexer_t *lx, token_t *t)
{
  for (size_t i = 0; i < sizeof lex_ops / sizeof *lex_ops; i++) {
    size_t n = strlen(lex_ops[i].text);
    if ((size_t)(lx->end - lx->p) >= n && !memcmp(lx->p, lex_ops[i].text, n)) {
      t->kind = lex_ops[i].kind;
      lx->p += n;
      return;
    }
  }
  char msg[64];
  unsigned char c = (unsigned char)*lx->p;
  if (isprint(c))
    snprintf(msg, sizeof msg, "unexpected character '%c'", c);
  else
    snprintf(msg, sizeof msg, "unexpected character 0x%02x", c);
  lex_error(lx, t, lx->p, msg);
  lx->p++;
}

static void lex_begin(lexer_t *lx, token_t *t)
{
  memset(t, 0, sizeof *t);
  t->loc = lex_loc(lx, lx->p);
  t->text = lx->p;
}

void lex_next(lexer_t *lx, token_t *t)
{
  int rc = lex_skip_space(lx);
  lex_begin(lx, t);
  if (rc < 0) {
    t->kind = T_ERROR;
    return;
  }
  if (lx->p >= lx->end) {
    t->kind = T_EOF;
    return;
  }
  unsigned char c = (unsigned char)*lx->p;
  if (c == '"' || c == '\'') {
    lex_string(lx, t);
  } else if (isdigit(c)) {
    lex_number(lx, t);
  } else if (c == '$') {
    lex_pvar(lx, t);
  } else if (lex_is_ident(c, 1)) {
    while (lx->p < lx->end && lex_is_ident((unsigned char)*lx->p, 0))
      lx->p++;
    t->kind = T_IDENT;
  } else {
    lex_operator(lx, t);
  }
  t->len = (size_t)(lx->p - t->text);
}

static int lex_is_bare(char c)
{
  return !isspace((unsigned char)c) && c != ';' && c != '#' && c != '"';
}

void lex_setting_value(lexer_t *lx, token_t *t)
{
  while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
    lx->p++;
  if (lx->p < lx->end && (*lx->p == '"' || *lx->p == '\'')) {
    lex_next(lx, t);
    return;
  }
  lex_begin(lx, t);
  const char *e = lx->p;
  while (e < lx->end && lex_is_bare(*e))
    e++;
  if (e == lx->p) {
    lex_error(lx, t, lx->p, "expected a value after '='");
    return;
  }
  t->len = (size_t)(e - lx->p);
  if (lex_parse_int(lx->p, e, &t->i) == 0) {
    t->kind = T_INT;
  } else {
    t->kind = T_STR;
    t->s = su_strndup(lx->s->home, lx->p, (isize_t)t->len);
    t->slen = t->len;
  }
  lx->p = e;
}

static const char *lex_kind_name(tok_kind_t k)
{
  switch (k) {
  case T_EOF: return "end of file";
  case T_ERROR: return "invalid token";
  case T_INT: return "number";
  case T_STR: return "string";
  default: return NULL;
  }
}

const char *lex_describe(const token_t *t, char *buf, size_t size)
{
  const char *name = lex_kind_name(t->kind);
  if (name && t->kind != T_INT && t->kind != T_STR)
    snprintf(buf, size, "%s", name);
  else if (name)
    snprintf(buf, size, "%s %.*s", name, (int)(t->len > 40 ? 40 : t->len),
             t->text);
  else
    snprintf(buf, size, "'%.*s'", (int)(t->len > 40 ? 40 : t->len),
             t->text);
  return buf;
}
