/*
 * lex.h - the script lexer: tokens with exact line:col, pulled one at a
 * time so the parser can switch to "setting value" mode after `name =`.
 *
 * Internal to core/script/.
 */
#ifndef TZ_SCRIPT_LEX_H
#define TZ_SCRIPT_LEX_H

#include "script/ast.h"

typedef enum {
  T_EOF,
  T_ERROR, /* a lexical error was reported */
  T_IDENT,
  T_INT,
  T_STR,
  T_PVAR,
  T_LBRACE,
  T_RBRACE,
  T_LPAREN,
  T_RPAREN,
  T_LBRACK,
  T_RBRACK,
  T_SEMI,
  T_COMMA,
  T_ASSIGN,
  T_EQ,
  T_NE,
  T_LT,
  T_GT,
  T_LE,
  T_GE,
  T_MATCH,
  T_NMATCH,
  T_AND,
  T_OR,
  T_NOT,
  T_PLUS,
  T_MINUS
} tok_kind_t;

typedef struct token {
  tok_kind_t kind;
  tz_loc_t loc;
  const char *text; /* source span */
  size_t len;
  long i;         /* T_INT */
  char *s;        /* T_STR: decoded, in the script home */
  size_t slen;
  pvar_span_t pv; /* T_PVAR */
} token_t;

typedef struct lexer {
  tz_script_t *s;
  tz_diag_t *d;
  const char *p, *end, *bol; /* bol: start of the current line */
  unsigned line;
} lexer_t;

void lex_init(lexer_t *lx, tz_script_t *s, tz_diag_t *d);

/* Lexes the next token into *t. */
void lex_next(lexer_t *lx, token_t *t);

/* Lexes a setting value after `name =`: a string literal, an integer, or
 * a bare word (a run of characters other than blanks, ';', '#', '"'),
 * which becomes a T_STR. */
void lex_setting_value(lexer_t *lx, token_t *t);

/* Decodes the escape "\c". Returns the byte, or -1 for an unknown escape,
 * which strings keep verbatim (backslash included) so that regexes such as
 * "^sip:\+49" mean what they say. */
int lex_unescape(char c);

/* A printable description of a token for "unexpected ..." messages. */
const char *lex_describe(const token_t *t, char *buf, size_t size);

#endif
