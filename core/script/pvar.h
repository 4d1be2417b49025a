/*
 * pvar.h - pseudo-variables ($ru, $hdr(Name), $var(x), ...) and format
 * strings ("ruri=$ru"), resolved at load into table references.
 *
 * Internal to core/script/.
 */
#ifndef TZ_SCRIPT_PVAR_H
#define TZ_SCRIPT_PVAR_H

#include <sofia-sip/msg_types.h>

#include "script/script.h"

typedef struct pvar_def pvar_def_t;

/* A resolved pseudo-variable reference. */
typedef struct pvar_ref {
  const pvar_def_t *def;
  const char *arg;  /* $hdr and $var argument */
  size_t idx;       /* $var slot */
  msg_hclass_t *hc; /* $hdr header class (sip_unknown_class if unknown) */
} pvar_ref_t;

struct pvar_def {
  const char *name;
  int has_arg;
  /* Sets *out (TZ_VAL_NULL when absent). Strings live in the message or
   * its scratch home. */
  void (*get)(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *out);
  /* NULL when read-only. Returns 0, or -1 after logging an error. */
  int (*set)(tz_msg_t *m, const pvar_ref_t *r, const tz_val_t *v,
             const tz_loc_t *loc);
};

/* The lexical shape of "$name" or "$name(arg)" in source text. */
typedef struct pvar_span {
  const char *name, *arg;
  size_t namelen, arglen, len; /* len: whole span from the '$' */
  int has_arg;
} pvar_span_t;

/* Scans a pseudo-variable at p (which points at '$'). Returns 1, 0 when
 * no name follows the '$', -1 when the argument's ')' is missing. */
int pvar_scan(const char *p, const char *end, pvar_span_t *sp);

/* Resolves a scanned name against the table; reports unknown names (with
 * a suggestion) and argument misuse at loc. Returns 0 or -1. */
int pvar_resolve(tz_script_t *s, const pvar_span_t *sp, const tz_loc_t *loc,
                 tz_diag_t *d, pvar_ref_t *out);

static inline void pvar_get(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *out)
{
  r->def->get(m, r, out);
}

static inline int pvar_writable(const pvar_ref_t *r)
{
  return r->def->set != NULL;
}

static inline int pvar_set(tz_msg_t *m, const pvar_ref_t *r,
                           const tz_val_t *v, const tz_loc_t *loc)
{
  return r->def->set(m, r, v, loc);
}

/* Writes "$name" or "$name(arg)" for messages; returns buf. */
const char *pvar_print(const pvar_ref_t *r, char *buf, size_t size);

/* Header names, shared by $hdr() and the header functions. The class is
 * resolved at load (sip_unknown_class for names Sofia does not know);
 * hdr_validate reports a bad name in err and returns -1. */
int hdr_validate(const char *name, char *err, size_t errlen);
msg_hclass_t *hdr_class(const char *name);
/* The slot of hc in m's sip_t, or NULL when the header is kept among the
 * unknown headers (as all are when m's message class does not know hc). */
msg_header_t **hdr_slot(tz_msg_t *m, msg_hclass_t *hc);
/* Whether an unknown header called `name` is the header (hc, arg). */
int hdr_matches(msg_hclass_t *hc, const char *arg, const char *name);

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

/* Expands a format into a string in the message's scratch home. */
void fmt_expand(tz_msg_t *m, const fmt_t *f, tz_val_t *out);

#endif
