/*
 * pvar.h - pseudo-variables ($ru, $hdr(Name), $var(x), ...) and format
 * strings ("ruri=$ru"), resolved at load into references: $var against
 * the script's slots, every other name against the host's language.
 *
 * Internal to core/script/.
 */
#ifndef TZ_SCRIPT_PVAR_H
#define TZ_SCRIPT_PVAR_H

#include "script/script.h"

typedef tz_pvar_ref_t pvar_ref_t;
typedef tz_pvar_def_t pvar_def_t;

/* What a run reads and writes besides the message: its scratch home and
 * the $var slots. */
typedef struct run_env {
  tz_msg_t *m;
  su_home_t *home;
  tz_val_t *vars;
} run_env_t;

/* The lexical shape of "$name" or "$name(arg)" in source text. */
typedef struct pvar_span {
  const char *name, *arg;
  size_t namelen, arglen, len; /* len: whole span from the '$' */
  int has_arg;
} pvar_span_t;

/* Scans a pseudo-variable at p (which points at '$'). Returns 1, 0 when
 * no name follows the '$', -1 when the argument's ')' is missing. */
int pvar_scan(const char *p, const char *end, pvar_span_t *sp);

/* Resolves a scanned name against $var and the script's language;
 * reports unknown names (with a suggestion) and argument misuse at loc.
 * Returns 0 or -1. */
int pvar_resolve(tz_script_t *s, const pvar_span_t *sp, const tz_loc_t *loc,
                 tz_diag_t *d, pvar_ref_t *out);

void pvar_get(const run_env_t *env, const pvar_ref_t *r, tz_val_t *out);
int pvar_writable(const pvar_ref_t *r);
int pvar_set(const run_env_t *env, const pvar_ref_t *r, const tz_val_t *v,
             const tz_loc_t *loc);

/* Writes "$name" or "$name(arg)" for messages; returns buf. */
const char *pvar_print(const pvar_ref_t *r, char *buf, size_t size);

/* A format string: literal pieces and pvar references, in order. */
typedef struct fmt_piece {
  const char *lit; /* NULL for a pvar piece */
  size_t len;
  pvar_ref_t pv;
} fmt_piece_t;

typedef struct fmt {
  size_t n;
  fmt_piece_t *pieces;
  int has_pvars;
} fmt_t;

/* Parses the raw source text of a string literal (between the quotes;
 * escapes not yet decoded) whose first byte is at loc. Returns NULL after
 * reporting an error at the exact column. */
fmt_t *fmt_parse(tz_script_t *s, const char *raw, size_t rawlen,
                 const tz_loc_t *loc, tz_diag_t *d);

/* Expands a format into a string in the run's scratch home. */
void fmt_expand(const run_env_t *env, const fmt_t *f, tz_val_t *out);

#endif
