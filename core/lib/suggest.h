/*
 * suggest.h - "did you mean": the closest known name to a mistyped one,
 * for script diagnostics and unknown control commands.
 */
#ifndef TZ_SUGGEST_H
#define TZ_SUGGEST_H

#include <stddef.h>

typedef struct suggest {
  const char *want;
  const char *best;
  size_t dist;
} suggest_t;

void suggest_init(suggest_t *sg, const char *want);
void suggest_add(void *sg, const char *cand); /* fits tz_resolver_t.each */
/* The best candidate if it is close enough to be a typo, else NULL. */
const char *suggest_best(const suggest_t *sg);
/* The tail of an "unknown NAME" message: "; did you mean 'PREFIXBEST'?"
 * (written in buf) when a candidate is close enough, else "". */
const char *suggest_hint(const suggest_t *sg, const char *prefix, char *buf,
                         size_t len);

#endif
