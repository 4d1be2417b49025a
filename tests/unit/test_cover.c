/*
 * test_cover.c - the script coverage accumulator (core/test/cover.c):
 * counts of a run script, the exact lcov text, tracefiles read back and
 * summed, gcov's annotated source, the notes, and refused tracefiles.
 *
 * The suite works in a temporary folder holding cover.cfg, since gcov's
 * output reads the script back from disk by its name.
 */
#define _POSIX_C_SOURCE 200809L

#include <unistd.h>

#include "script_test.h"
#include "test/cover.h"

#define COVER_CFG "cover.cfg"

static const char cover_text[] =
    "request_route {\n"
    "  if (t_true()) {\n"
    "    route(sub);\n"
    "  } else {\n"
    "    t_record(\"no\");\n"
    "  }\n"
    "  if (t_false()) exit;\n"
    "}\n"
    "route[sub] { t_record(\"s\"); }\n"
    "failure_route[f] {\n"
    "  if (t_true()) drop;\n"
    "}\n";

static char cover_dir[] = "/tmp/tzcoverXXXXXX";

static int cover_setup(void)
{
  FILE *f;
  if (!mkdtemp(cover_dir) || chdir(cover_dir) < 0 ||
      !(f = fopen(COVER_CFG, "w")))
    return -1;
  fputs(cover_text, f);
  return fclose(f);
}

static int cover_teardown(void)
{
  unlink(COVER_CFG);
  if (chdir("/") < 0 || rmdir(cover_dir) < 0)
    return -1;
  return test_cleanup();
}

/* cover.cfg loaded, its request_route run `runs` times; counting only
 * when runs > 0. */
static tz_script_t *cover_script(int runs)
{
  tz_diag_clear(&test_diag);
  tz_script_t *s = tz_script_parse_file(COVER_CFG, &tz_sip_lang, &test_diag);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL_FATAL(tz_script_check(s, &test_resolver, &test_diag), 0);
  if (runs)
    CU_ASSERT_EQUAL(tz_script_count_enable(s), 0);
  tz_msg_t m;
  test_msg_init(&m, NULL, TZ_ROUTE_REQUEST);
  for (int i = 0; i < runs; i++)
    CU_ASSERT_EQUAL(test_run(s, tz_script_request_route(s), &m), TZ_RUN_OK);
  test_msg_deinit(&m);
  return s;
}

/* A cover holding cover.cfg run `runs` times. */
static tz_cover_t *cover_of_runs(int runs)
{
  tz_cover_t *c = tz_cover_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  tz_script_t *s = cover_script(runs);
  CU_ASSERT_EQUAL(tz_cover_add_script(c, s), 0);
  tz_script_free(s);
  return c;
}

/* ---- output as text ----------------------------------------------------- */

typedef struct mem {
  FILE *f;
  char *buf;
  size_t len;
} mem_t;

static FILE *mem_open(mem_t *m)
{
  m->buf = NULL;
  m->f = open_memstream(&m->buf, &m->len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m->f);
  return m->f;
}

/* What was written; the caller frees it. */
static char *mem_text(mem_t *m)
{
  fclose(m->f);
  return m->buf;
}

static char *lcov_of(const tz_cover_t *c)
{
  mem_t m;
  CU_ASSERT_EQUAL(tz_cover_write_lcov(c, mem_open(&m), "unit"), 0);
  return mem_text(&m);
}

/* True if got (freed here) is want; else shows both. */
static int text_is(char *got, const char *want)
{
  int same = !strcmp(got, want);
  if (!same)
    fprintf(stderr, "\nwanted:\n%sgot:\n%s", want, got);
  free(got);
  return same;
}

/* ---- the tests ---------------------------------------------------------- */

/* cover.cfg's tracefile after n runs of its request_route. */
static const char *lcov_after(unsigned n)
{
  static char buf[1024];
  snprintf(buf, sizeof buf,
           "TN:unit\nSF:cover.cfg\n"
           "FN:1,request_route\nFN:9,route[sub]\nFN:10,failure_route[f]\n"
           "FNDA:%u,request_route\nFNDA:%u,route[sub]\n"
           "FNDA:0,failure_route[f]\nFNF:3\nFNH:2\n"
           "BRDA:2,3,0,%u\nBRDA:2,3,1,0\nBRDA:7,3,0,0\nBRDA:7,3,1,%u\n"
           "BRDA:11,3,0,-\nBRDA:11,3,1,-\nBRF:6\nBRH:2\n"
           "DA:2,%u\nDA:3,%u\nDA:5,0\nDA:7,%u\nDA:9,%u\nDA:11,0\n"
           "LF:6\nLH:4\nend_of_record\n",
           n, n, n, n, n, n, n, n);
  return buf;
}

/* Line 7's `exit` never runs, but the line counts as its if does. */
static void test_lcov(void)
{
  tz_cover_t *c = cover_of_runs(1);
  CU_ASSERT(text_is(lcov_of(c), lcov_after(1)));
  tz_cover_free(c);
}

static void test_missed(void)
{
  tz_cover_t *c = cover_of_runs(2);
  CU_ASSERT_EQUAL(tz_cover_missed(c, COVER_CFG), 2);
  CU_ASSERT_EQUAL(tz_cover_missed(c, NULL), 2);
  CU_ASSERT_EQUAL(tz_cover_missed(c, "other.cfg"), 0);
  tz_cover_free(c);
  /* Not counting: every line is there, none run. */
  c = cover_of_runs(0);
  CU_ASSERT_EQUAL(tz_cover_missed(c, NULL), 6);
  tz_cover_free(c);
}

static int read_text(tz_cover_t *c, const char *text)
{
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(in);
  int rc = tz_cover_read_lcov(c, in);
  fclose(in);
  return rc;
}

/* Two processes' tracefiles read back sum up, as two runs in one do. */
static void test_roundtrip(void)
{
  tz_cover_t *one = cover_of_runs(1), *sum = tz_cover_new();
  char *text = lcov_of(one);
  CU_ASSERT_EQUAL(read_text(sum, text), 0);
  CU_ASSERT_EQUAL(read_text(sum, text), 0);
  CU_ASSERT(text_is(lcov_of(sum), lcov_after(2)));
  free(text);
  tz_cover_free(one);
  tz_cover_free(sum);
}

/* Anything but what tz_cover_write_lcov writes is refused, and nothing
 * of a refused tracefile is kept. */
static void test_read_refused(void)
{
  tz_cover_t *c = cover_of_runs(1);
  CU_ASSERT_EQUAL(read_text(c, "SF:cover.cfg\nDA:5,1\nbogus\n"), -1);
  CU_ASSERT_EQUAL(read_text(c, "DA:5,1\n"), -1);
  CU_ASSERT_EQUAL(read_text(c, "SF:cover.cfg\nDA:5,x\n"), -1);
  CU_ASSERT_EQUAL(read_text(c, "SF:cover.cfg\nDA:0,1\n"), -1);
  CU_ASSERT_EQUAL(read_text(c, "SF:cover.cfg\nFNDA:1,route[x]\n"), -1);
  CU_ASSERT_EQUAL(read_text(c, "SF:cover.cfg\nBRDA:2,3,2,1\n"), -1);
  CU_ASSERT(text_is(lcov_of(c), lcov_after(1)));
  tz_cover_free(c);
}

static void test_gcov(void)
{
  tz_cover_t *c = cover_of_runs(2);
  mem_t m;
  CU_ASSERT_EQUAL(tz_cover_write_gcov(c, mem_open(&m)), 0);
  CU_ASSERT(text_is(mem_text(&m),
                    "        -:    0:Source:cover.cfg\n"
                    "        -:    1:request_route {\n"
                    "        2:    2:  if (t_true()) {\n"
                    "        2:    3:    route(sub);\n"
                    "        -:    4:  } else {\n"
                    "    #####:    5:    t_record(\"no\");\n"
                    "        -:    6:  }\n"
                    "        2:    7:  if (t_false()) exit;\n"
                    "        -:    8:}\n"
                    "        2:    9:route[sub] { t_record(\"s\"); }\n"
                    "        -:   10:failure_route[f] {\n"
                    "    #####:   11:  if (t_true()) drop;\n"
                    "        -:   12:}\n"));
  tz_cover_free(c);
}

#define NOTE " note: statement reached by no case\n"

static int notes_are(const tz_cover_t *c, const char *want)
{
  mem_t m;
  tz_cover_notes(c, mem_open(&m));
  return text_is(mem_text(&m), want);
}

/* Columns come from scripts: lines read from a tracefile have none until
 * a script adds them (a never-run one adds no counts). */
static void test_notes(void)
{
  tz_cover_t *c = cover_of_runs(1), *read = tz_cover_new();
  CU_ASSERT(notes_are(c, "cover.cfg:5:5:" NOTE "cover.cfg:11:3:" NOTE));
  char *text = lcov_of(c);
  CU_ASSERT_EQUAL(read_text(read, text), 0);
  CU_ASSERT(notes_are(read, "cover.cfg:5:" NOTE "cover.cfg:11:" NOTE));
  tz_script_t *s = cover_script(0);
  CU_ASSERT_EQUAL(tz_cover_add_script(read, s), 0);
  CU_ASSERT(notes_are(read, "cover.cfg:5:5:" NOTE "cover.cfg:11:3:" NOTE));
  CU_ASSERT(text_is(lcov_of(read), text));
  tz_script_free(s);
  free(text);
  tz_cover_free(read);
  tz_cover_free(c);
}

static const tz_unit_test_t cover_tests[] = {
    {"lcov of a run script", test_lcov},
    {"missed lines", test_missed},
    {"tracefiles read back sum up", test_roundtrip},
    {"bad tracefiles refused", test_read_refused},
    {"gcov annotated source", test_gcov},
    {"notes", test_notes},
    {NULL, NULL}};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
      {"cover", cover_tests, cover_setup, cover_teardown},
      {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
