/*
 * diag.c - gcc-style diagnostics: "file:line:col: error: message", then the
 * quoted source line and a caret under the column.
 *
 * Diagnostics accumulate in a growable buffer so a whole load (parse,
 * check, module setup) can be reported at once by whoever asked for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <trapezoid/trapezoid.h>

/* Appends formatted text; on allocation failure the text is dropped, since
 * losing a diagnostic is better than losing the process. */
static void diag_vappend(tz_diag_t *d, const char *fmt, va_list ap)
{
  va_list aq;
  va_copy(aq, ap);
  int n = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  if (n < 0)
    return;
  size_t need = d->len + (size_t)n + 1;
  if (need > d->cap) {
    size_t cap = d->cap ? d->cap : 256;
    while (cap < need)
      cap *= 2;
    char *buf = realloc(d->buf, cap);
    if (!buf)
      return;
    d->buf = buf;
    d->cap = cap;
  }
  vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap);
  d->len += (size_t)n;
}

static void diag_append(tz_diag_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void diag_append(tz_diag_t *d, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  diag_vappend(d, fmt, ap);
  va_end(ap);
}

/* Finds line `line` (1-based) of src; returns its start and sets *len. */
static const char *diag_find_line(const tz_src_t *src, unsigned line,
                                  size_t *len)
{
  const char *p = src->text, *end = src->text + src->len;
  for (unsigned l = 1; l < line; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
      return NULL;
    p = nl + 1;
  }
  const char *e = p;
  while (e < end && *e != '\n' && *e != '\r')
    e++;
  *len = (size_t)(e - p);
  return p;
}

/* Quotes the source line with a caret. Tabs before the column are copied
 * into the caret line so the caret stays aligned in any tab width. */
static void diag_quote(tz_diag_t *d, const tz_loc_t *loc)
{
  size_t len;
  const char *line = diag_find_line(loc->src, loc->line, &len);
  if (!line)
    return;
  diag_append(d, "%5u | %.*s\n", loc->line, (int)len, line);
  if (loc->col == 0)
    return;
  diag_append(d, "      | ");
  for (unsigned c = 1; c < loc->col; c++)
    diag_append(d, "%c", (c <= len && line[c - 1] == '\t') ? '\t' : ' ');
  diag_append(d, "^\n");
}

static void diag_emit(tz_diag_t *d, const char *kind, const tz_loc_t *loc,
                      const char *fmt, va_list ap)
{
  const tz_src_t *src = loc ? loc->src : NULL;
  if (src && src->name && loc->line && loc->col)
    diag_append(d, "%s:%u:%u: ", src->name, loc->line, loc->col);
  else if (src && src->name && loc->line)
    diag_append(d, "%s:%u: ", src->name, loc->line);
  else if (src && src->name)
    diag_append(d, "%s: ", src->name);
  diag_append(d, "%s: ", kind);
  diag_vappend(d, fmt, ap);
  diag_append(d, "\n");
  if (src && src->text && loc->line)
    diag_quote(d, loc);
}

void tz_diag_error(tz_diag_t *d, const tz_loc_t *loc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  diag_emit(d, "error", loc, fmt, ap);
  va_end(ap);
  d->nerrors++;
}

void tz_diag_warning(tz_diag_t *d, const tz_loc_t *loc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  diag_emit(d, "warning", loc, fmt, ap);
  va_end(ap);
  d->nwarnings++;
}

void tz_diag_clear(tz_diag_t *d)
{
  free(d->buf);
  memset(d, 0, sizeof *d);
}

const char *tz_diag_text(const tz_diag_t *d)
{
  return d->buf ? d->buf : "";
}
