/*
 * cover.c - the coverage accumulator of cover.h.
 *
 * A tz_cover_t owns everything it holds, in plain malloc: its files and,
 * per file, its name, a table of lines indexed by line number, its routes
 * and its if outcomes. Files, routes and ifs are kept sorted, so what is
 * written does not depend on the order processes report in.
 *
 * A script or a tracefile is first collected into a cover of its own and
 * then summed in: within one script a line takes the largest count of its
 * statements, while separate scripts and runs add up.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "test/cover.h"

typedef struct cover_line {
  uint64_t count;
  unsigned col;   /* of its first statement; 0 when unknown */
  int executable; /* a statement starts on it */
} cover_line_t;

typedef struct cover_func {
  char *name; /* as tz_route_label writes it: "route[x]" */
  unsigned line;
  uint64_t calls;
} cover_func_t;

typedef struct cover_branch {
  unsigned line, block; /* block: the if's column */
  uint64_t taken[2];    /* true, false */
  int ran;              /* the if ran at all (else lcov's "-") */
} cover_branch_t;

typedef struct cover_file {
  char *name;
  cover_line_t *lines; /* by line number; [0] is unused */
  unsigned nlines;     /* the last line + 1, or 0 */
  cover_func_t *funcs; /* by line, then name */
  size_t nfuncs;
  cover_branch_t *branches; /* by line, then block */
  size_t nbranches;
} cover_file_t;

struct tz_cover {
  cover_file_t *files; /* by name */
  size_t nfiles;
};

/* ---- sorted arrays ------------------------------------------------------ */

typedef int cover_cmp_f(const void *key, const void *el);

/* The element of the sorted array arr (n of size `size`) that cmp finds
 * equal to key, or NULL with *pos set where it would go. */
static void *cover_search(void *arr, size_t n, size_t size, const void *key,
                          cover_cmp_f *cmp, size_t *pos)
{
  char *base = arr;
  size_t i = 0;
  int c = 1;
  while (i < n && (c = cmp(key, base + i * size)) > 0)
    i++;
  *pos = i;
  return i < n && c == 0 ? base + i * size : NULL;
}

/* Inserts a copy of el at pos of the array *arr; NULL when out of memory.
 * Elements are only ever added whole, so a failure leaves none half made. */
static void *cover_insert(void *arr, size_t *n, size_t size, size_t pos,
                          const void *el)
{
  void **ap = arr;
  char *grown = realloc(*ap, (*n + 1) * size);
  if (!grown)
    return NULL;
  *ap = grown;
  memmove(grown + (pos + 1) * size, grown + pos * size, (*n - pos) * size);
  memcpy(grown + pos * size, el, size);
  (*n)++;
  return grown + pos * size;
}

static int cover_file_cmp(const void *key, const void *el)
{
  return strcmp(key, ((const cover_file_t *)el)->name);
}

static int cover_func_cmp(const void *key, const void *el)
{
  const cover_func_t *a = key, *b = el;
  return a->line != b->line ? (a->line > b->line) - (a->line < b->line)
                            : strcmp(a->name, b->name);
}

static int cover_branch_cmp(const void *key, const void *el)
{
  const cover_branch_t *a = key, *b = el;
  if (a->line != b->line)
    return (a->line > b->line) - (a->line < b->line);
  return (a->block > b->block) - (a->block < b->block);
}

/* ---- files, lines, routes and ifs --------------------------------------- */

/* The file named name, added if new; NULL when out of memory. */
static cover_file_t *cover_file(tz_cover_t *c, const char *name)
{
  size_t pos;
  cover_file_t *f = cover_search(c->files, c->nfiles, sizeof *f, name,
                                 cover_file_cmp, &pos);
  if (f)
    return f;
  cover_file_t nf = {.name = strdup(name)};
  if (!nf.name ||
      !(f = cover_insert(&c->files, &c->nfiles, sizeof nf, pos, &nf)))
    free(nf.name);
  return f;
}

static const cover_file_t *cover_file_find(const tz_cover_t *c,
                                           const char *name)
{
  size_t pos;
  return cover_search(c->files, c->nfiles, sizeof *c->files, name,
                      cover_file_cmp, &pos);
}

/* Line n (> 0) of f, made executable; NULL when out of memory. */
static cover_line_t *cover_line(cover_file_t *f, unsigned n)
{
  if (n >= f->nlines) {
    cover_line_t *grown = realloc(f->lines, ((size_t)n + 1) * sizeof *grown);
    if (!grown)
      return NULL;
    memset(grown + f->nlines, 0, (n + 1 - f->nlines) * sizeof *grown);
    f->lines = grown;
    f->nlines = n + 1;
  }
  f->lines[n].executable = 1;
  return &f->lines[n];
}

/* The column of a line's first statement: the smaller known one. */
static unsigned cover_col(unsigned a, unsigned b)
{
  return !a || (b && b < a) ? b : a;
}

static cover_func_t *cover_func(cover_file_t *f, unsigned line,
                                const char *name)
{
  size_t pos;
  cover_func_t key = {.name = (char *)name, .line = line};
  cover_func_t *fn = cover_search(f->funcs, f->nfuncs, sizeof key, &key,
                                  cover_func_cmp, &pos);
  if (fn)
    return fn;
  key.name = strdup(name);
  if (!key.name ||
      !(fn = cover_insert(&f->funcs, &f->nfuncs, sizeof key, pos, &key)))
    free(key.name);
  return fn;
}

static cover_branch_t *cover_branch(cover_file_t *f, unsigned line,
                                    unsigned block)
{
  size_t pos;
  cover_branch_t key = {.line = line, .block = block};
  cover_branch_t *b = cover_search(f->branches, f->nbranches, sizeof key,
                                   &key, cover_branch_cmp, &pos);
  return b ? b : cover_insert(&f->branches, &f->nbranches, sizeof key, pos,
                              &key);
}

/* ---- life --------------------------------------------------------------- */

tz_cover_t *tz_cover_new(void)
{
  return calloc(1, sizeof(tz_cover_t));
}

static void cover_file_free(cover_file_t *f)
{
  for (size_t i = 0; i < f->nfuncs; i++)
    free(f->funcs[i].name);
  free(f->funcs);
  free(f->branches);
  free(f->lines);
  free(f->name);
}

void tz_cover_free(tz_cover_t *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->nfiles; i++)
    cover_file_free(&c->files[i]);
  free(c->files);
  free(c);
}

/* ---- summing ------------------------------------------------------------ */

static int cover_merge_lines(cover_file_t *to, const cover_file_t *from)
{
  for (unsigned n = 1; n < from->nlines; n++) {
    const cover_line_t *l = &from->lines[n];
    cover_line_t *t = l->executable ? cover_line(to, n) : NULL;
    if (l->executable && !t)
      return -1;
    if (t) {
      t->count += l->count;
      t->col = cover_col(t->col, l->col);
    }
  }
  return 0;
}

static int cover_merge_funcs(cover_file_t *to, const cover_file_t *from)
{
  for (size_t i = 0; i < from->nfuncs; i++) {
    const cover_func_t *fn = &from->funcs[i];
    cover_func_t *t = cover_func(to, fn->line, fn->name);
    if (!t)
      return -1;
    t->calls += fn->calls;
  }
  return 0;
}

static int cover_merge_branches(cover_file_t *to, const cover_file_t *from)
{
  for (size_t i = 0; i < from->nbranches; i++) {
    const cover_branch_t *b = &from->branches[i];
    cover_branch_t *t = cover_branch(to, b->line, b->block);
    if (!t)
      return -1;
    t->taken[0] += b->taken[0];
    t->taken[1] += b->taken[1];
    t->ran |= b->ran;
  }
  return 0;
}

/* Adds everything in from to c; -1 when out of memory, with part added. */
static int cover_merge(tz_cover_t *c, const tz_cover_t *from)
{
  for (size_t i = 0; i < from->nfiles; i++) {
    const cover_file_t *ff = &from->files[i];
    cover_file_t *f = cover_file(c, ff->name);
    if (!f || cover_merge_lines(f, ff) < 0 || cover_merge_funcs(f, ff) < 0 ||
        cover_merge_branches(f, ff) < 0)
      return -1;
  }
  return 0;
}

/* Collects into a cover of its own with collect, then sums that in. */
static int cover_add(tz_cover_t *c, int (*collect)(tz_cover_t *, void *),
                     void *arg)
{
  tz_cover_t *one = tz_cover_new();
  int rc = one && collect(one, arg) == 0 ? cover_merge(c, one) : -1;
  tz_cover_free(one);
  return rc;
}

/* ---- scripts ------------------------------------------------------------ */

typedef struct cover_collect {
  tz_cover_t *c;
  int failed;
} cover_collect_t;

static void cover_script_route(void *arg, const tz_script_route_count_t *r)
{
  cover_collect_t *k = arg;
  char name[128];
  cover_file_t *f = cover_file(k->c, r->loc.src->name);
  cover_func_t *fn =
      f ? cover_func(f, r->loc.line,
                     tz_route_label(r->route, name, sizeof name))
        : NULL;
  if (fn)
    fn->calls += r->calls;
  else
    k->failed = 1;
}

static int cover_script_if(cover_file_t *f, const tz_script_stmt_count_t *st)
{
  cover_branch_t *b = cover_branch(f, st->loc.line, st->loc.col);
  if (!b)
    return -1;
  b->taken[0] += st->taken[0];
  b->taken[1] += st->taken[1];
  b->ran |= st->hits > 0;
  return 0;
}

/* A line counts as often as its busiest statement (gcov's meaning). */
static void cover_script_stmt(void *arg, const tz_script_stmt_count_t *st)
{
  cover_collect_t *k = arg;
  cover_file_t *f = cover_file(k->c, st->loc.src->name);
  cover_line_t *l = f && st->loc.line ? cover_line(f, st->loc.line) : NULL;
  if (!l || (st->is_if && cover_script_if(f, st) < 0)) {
    k->failed = 1;
    return;
  }
  if (st->hits > l->count)
    l->count = st->hits;
  l->col = cover_col(l->col, st->loc.col);
}

static int cover_collect_script(tz_cover_t *one, void *arg)
{
  cover_collect_t k = {one, 0};
  tz_script_count_visitor_t v = {cover_script_route, cover_script_stmt, &k};
  tz_script_each_count(arg, &v);
  return k.failed ? -1 : 0;
}

int tz_cover_add_script(tz_cover_t *c, const tz_script_t *s)
{
  return cover_add(c, cover_collect_script, (void *)s);
}

/* ---- reading lcov ------------------------------------------------------- */

/* A decimal number at *p ending with `end` (',' or '\0'); moves *p past
 * the end. */
static int lcov_num(const char **p, char end, uint64_t *out)
{
  char *e;
  if (!isdigit((unsigned char)**p))
    return -1;
  errno = 0;
  *out = strtoull(*p, &e, 10);
  if (errno || *e != end)
    return -1;
  *p = e + (end != '\0');
  return 0;
}

/* A line or column number: not 0, fits unsigned. */
static int lcov_pos(const char **p, char end, unsigned *out)
{
  uint64_t n;
  if (lcov_num(p, end, &n) < 0 || n == 0 || n > UINT_MAX)
    return -1;
  *out = (unsigned)n;
  return 0;
}

/* The file of the record being read: set by SF, cleared by end_of_record. */
typedef struct lcov_reader {
  tz_cover_t *c;
  cover_file_t *f;
} lcov_reader_t;

static int lcov_skip(lcov_reader_t *rd, const char *v)
{
  (void)rd;
  (void)v;
  return 0;
}

static int lcov_sf(lcov_reader_t *rd, const char *v)
{
  rd->f = *v ? cover_file(rd->c, v) : NULL;
  return rd->f ? 0 : -1;
}

static int lcov_fn(lcov_reader_t *rd, const char *v)
{
  unsigned line;
  return lcov_pos(&v, ',', &line) == 0 && *v && cover_func(rd->f, line, v)
             ? 0
             : -1;
}

static int lcov_fnda(lcov_reader_t *rd, const char *v)
{
  uint64_t calls;
  if (lcov_num(&v, ',', &calls) < 0)
    return -1;
  for (size_t i = 0; i < rd->f->nfuncs; i++)
    if (!strcmp(rd->f->funcs[i].name, v)) {
      rd->f->funcs[i].calls += calls;
      return 0;
    }
  return -1; /* FNDA of a route without its FN */
}

/* One outcome of an if: a count, or "-" when the if never ran. */
static int lcov_taken(cover_branch_t *b, unsigned branch, const char *v)
{
  uint64_t taken;
  if (!strcmp(v, "-"))
    return 0;
  if (lcov_num(&v, '\0', &taken) < 0)
    return -1;
  b->taken[branch] += taken;
  b->ran = 1;
  return 0;
}

static int lcov_brda(lcov_reader_t *rd, const char *v)
{
  unsigned line;
  uint64_t block, branch;
  cover_branch_t *b;
  if (lcov_pos(&v, ',', &line) < 0 || lcov_num(&v, ',', &block) < 0 ||
      block > UINT_MAX || lcov_num(&v, ',', &branch) < 0 || branch > 1 ||
      !(b = cover_branch(rd->f, line, (unsigned)block)))
    return -1;
  return lcov_taken(b, (unsigned)branch, v);
}

static int lcov_da(lcov_reader_t *rd, const char *v)
{
  unsigned line;
  uint64_t count;
  cover_line_t *l;
  if (lcov_pos(&v, ',', &line) < 0 || lcov_num(&v, '\0', &count) < 0 ||
      !(l = cover_line(rd->f, line)))
    return -1;
  l->count += count;
  return 0;
}

typedef struct lcov_record {
  const char *key;
  int in_file; /* only between SF and end_of_record */
  int (*read)(lcov_reader_t *rd, const char *value);
} lcov_record_t;

/* The totals (FNF, LH...) are recomputed when written. */
static const lcov_record_t lcov_records[] = {
    {"TN", 0, lcov_skip},   {"SF", 0, lcov_sf},     {"FN", 1, lcov_fn},
    {"FNDA", 1, lcov_fnda}, {"FNF", 1, lcov_skip},  {"FNH", 1, lcov_skip},
    {"BRDA", 1, lcov_brda}, {"BRF", 1, lcov_skip},  {"BRH", 1, lcov_skip},
    {"DA", 1, lcov_da},     {"LF", 1, lcov_skip},   {"LH", 1, lcov_skip},
    {NULL, 0, NULL}};

static int lcov_line(lcov_reader_t *rd, char *line)
{
  line[strcspn(line, "\n")] = '\0';
  if (!strcmp(line, "end_of_record")) {
    rd->f = NULL;
    return 0;
  }
  char *colon = strchr(line, ':');
  if (!colon)
    return -1;
  *colon = '\0';
  for (const lcov_record_t *r = lcov_records; r->key; r++)
    if (!strcmp(r->key, line))
      return r->in_file && !rd->f ? -1 : r->read(rd, colon + 1);
  return -1;
}

static int cover_collect_lcov(tz_cover_t *one, void *arg)
{
  FILE *in = arg;
  lcov_reader_t rd = {one, NULL};
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;
  while (rc == 0 && getline(&line, &cap, in) >= 0)
    rc = lcov_line(&rd, line);
  free(line);
  return rc == 0 && !ferror(in) ? 0 : -1;
}

int tz_cover_read_lcov(tz_cover_t *c, FILE *in)
{
  return cover_add(c, cover_collect_lcov, in);
}

/* ---- writing lcov ------------------------------------------------------- */

static void lcov_write_funcs(const cover_file_t *f, FILE *out)
{
  size_t hit = 0;
  for (size_t i = 0; i < f->nfuncs; i++)
    fprintf(out, "FN:%u,%s\n", f->funcs[i].line, f->funcs[i].name);
  for (size_t i = 0; i < f->nfuncs; i++) {
    fprintf(out, "FNDA:%" PRIu64 ",%s\n", f->funcs[i].calls,
            f->funcs[i].name);
    hit += f->funcs[i].calls > 0;
  }
  fprintf(out, "FNF:%zu\nFNH:%zu\n", f->nfuncs, hit);
}

static void lcov_write_branches(const cover_file_t *f, FILE *out)
{
  size_t hit = 0;
  for (size_t i = 0; i < f->nbranches; i++) {
    const cover_branch_t *b = &f->branches[i];
    for (unsigned k = 0; k < 2; k++) {
      if (b->ran)
        fprintf(out, "BRDA:%u,%u,%u,%" PRIu64 "\n", b->line, b->block, k,
                b->taken[k]);
      else
        fprintf(out, "BRDA:%u,%u,%u,-\n", b->line, b->block, k);
      hit += b->taken[k] > 0;
    }
  }
  fprintf(out, "BRF:%zu\nBRH:%zu\n", 2 * f->nbranches, hit);
}

static void lcov_write_lines(const cover_file_t *f, FILE *out)
{
  unsigned found = 0, hit = 0;
  for (unsigned n = 1; n < f->nlines; n++) {
    if (!f->lines[n].executable)
      continue;
    fprintf(out, "DA:%u,%" PRIu64 "\n", n, f->lines[n].count);
    found++;
    hit += f->lines[n].count > 0;
  }
  fprintf(out, "LF:%u\nLH:%u\n", found, hit);
}

int tz_cover_write_lcov(const tz_cover_t *c, FILE *out,
                        const char *test_name)
{
  for (size_t i = 0; i < c->nfiles; i++) {
    const cover_file_t *f = &c->files[i];
    fprintf(out, "TN:%s\nSF:%s\n", test_name ? test_name : "", f->name);
    lcov_write_funcs(f, out);
    lcov_write_branches(f, out);
    lcov_write_lines(f, out);
    fputs("end_of_record\n", out);
  }
  return ferror(out) ? -1 : 0;
}

/* ---- gcov, notes, misses ------------------------------------------------ */

/* The count column of line n: the count, "#####" never run, "-" none. */
static const char *gcov_count(const cover_file_t *f, unsigned n, char *buf,
                              size_t size)
{
  if (n >= f->nlines || !f->lines[n].executable)
    return "-";
  if (!f->lines[n].count)
    return "#####";
  snprintf(buf, size, "%" PRIu64, f->lines[n].count);
  return buf;
}

static int gcov_file(const cover_file_t *f, FILE *out)
{
  FILE *src = fopen(f->name, "r");
  if (!src)
    return -1;
  fprintf(out, "%9s:%5u:Source:%s\n", "-", 0u, f->name);
  char *line = NULL, count[24];
  size_t cap = 0;
  ssize_t len;
  for (unsigned n = 1; (len = getline(&line, &cap, src)) >= 0; n++)
    fprintf(out, "%9s:%5u:%s%s", gcov_count(f, n, count, sizeof count), n,
            line, len && line[len - 1] == '\n' ? "" : "\n");
  free(line);
  int rc = ferror(src) ? -1 : 0;
  fclose(src);
  return rc;
}

int tz_cover_write_gcov(const tz_cover_t *c, FILE *out)
{
  int rc = 0;
  for (size_t i = 0; i < c->nfiles; i++)
    if (gcov_file(&c->files[i], out) < 0)
      rc = -1;
  return rc == 0 && !ferror(out) ? 0 : -1;
}

void tz_cover_notes(const tz_cover_t *c, FILE *err)
{
  for (size_t i = 0; i < c->nfiles; i++) {
    const cover_file_t *f = &c->files[i];
    for (unsigned n = 1; n < f->nlines; n++) {
      const cover_line_t *l = &f->lines[n];
      if (!l->executable || l->count)
        continue;
      fprintf(err, "%s:%u:", f->name, n);
      if (l->col)
        fprintf(err, "%u:", l->col);
      fputs(" note: statement reached by no case\n", err);
    }
  }
}

static unsigned cover_file_missed(const cover_file_t *f)
{
  unsigned missed = 0;
  for (unsigned n = 1; n < f->nlines; n++)
    missed += f->lines[n].executable && !f->lines[n].count;
  return missed;
}

unsigned tz_cover_missed(const tz_cover_t *c, const char *file)
{
  if (file) {
    const cover_file_t *f = cover_file_find(c, file);
    return f ? cover_file_missed(f) : 0;
  }
  unsigned missed = 0;
  for (size_t i = 0; i < c->nfiles; i++)
    missed += cover_file_missed(&c->files[i]);
  return missed;
}
