/*
 * suggest.c - "did you mean": Levenshtein distance over candidate names,
 * bounded so that long names cost nothing.
 */
#include "lib/suggest.h"

#include <stdio.h>
#include <string.h>

#define SUGGEST_MAX_LEN 64

static size_t suggest_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
    return (size_t)-1;
  size_t row[SUGGEST_MAX_LEN + 1];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

void suggest_init(suggest_t *sg, const char *want)
{
  sg->want = want;
  sg->best = NULL;
  sg->dist = (size_t)-1;
}

void suggest_add(void *ctx, const char *cand)
{
  suggest_t *sg = ctx;
  size_t dist = suggest_distance(sg->want, cand);
  if (dist < sg->dist) {
    sg->dist = dist;
    sg->best = cand;
  }
}

/* Close enough to be a typo: a third of the name, and for short names one
 * edit more than a quarter (so a swapped pair of letters counts). */
const char *suggest_best(const suggest_t *sg)
{
  size_t n = strlen(sg->want), limit = n / 3;
  if (limit < 1 + n / 4)
    limit = 1 + n / 4;
  return sg->best && sg->dist <= limit ? sg->best : NULL;
}

const char *suggest_hint(const suggest_t *sg, const char *prefix, char *buf,
                         size_t len)
{
  const char *best = suggest_best(sg);
  if (!best)
    return "";
  snprintf(buf, len, "; did you mean '%s%s'?", prefix, best);
  return buf;
}
