/*
 * test_run.c - the interpreter: conditions and short-circuits, value
 * semantics, $var lifetime, route() values, return/exit/drop, function
 * results (0 stops), argument conversion, the depth guard and coverage
 * counts.
 */
#include "script_test.h"

/* Loads text, runs its request_route on an empty context, and returns the
 * run result; what the script recorded is in test_record_buf. */
static tz_run_result_t run_text(const char *text, int trace)
{
  test_record_buf[0] = '\0';
  tz_script_t *s = test_load(text);
  if (!s) {
    fprintf(stderr, "\n%s\n", tz_diag_text(&test_diag));
    CU_FAIL_FATAL("script did not load");
  }
  tz_msg_t m;
  test_msg_init(&m, NULL, TZ_ROUTE_REQUEST);
  tz_run_result_t rc = tz_script_run(s, tz_script_request_route(s), &m, m.home,
                                     trace);
  test_msg_deinit(&m);
  tz_script_free(s);
  return rc;
}

#define RUN_EXPECT(text, result, record)                                      \
  do {                                                                        \
    CU_ASSERT_EQUAL(run_text(text, 0), result);                               \
    CU_ASSERT_STRING_EQUAL(test_record_buf, record);                          \
  } while (0)

static void test_if_else(void)
{
  RUN_EXPECT("request_route {\n"
             "  if (t_true()) t_record(\"a\"); else t_record(\"b\");\n"
             "  if (t_false()) t_record(\"c\"); else t_record(\"d\");\n"
             "  if (t_false()) t_record(\"e\");\n"
             "  else if (t_false()) t_record(\"f\");\n"
             "  else if (t_true()) { t_record(\"g\"); t_record(\"h\"); }\n"
             "  else t_record(\"i\");\n"
             "  if (1) ; else t_record(\"j\");\n"
             "}\n",
             TZ_RUN_OK, "a,d,g,h,");
}

static void test_short_circuit(void)
{
  RUN_EXPECT(
      "request_route {\n"
      "  if (t_false() && t_record(\"no1\")) t_record(\"no2\");\n"
      "  if (t_true() || t_record(\"no3\")) t_record(\"or\");\n"
      "  if (t_true() && t_record(\"and\")) t_record(\"both\");\n"
      "  if (!t_false()) t_record(\"not\");\n"
      "  if (!t_true() || !(t_false() || t_false())) t_record(\"nest\");\n"
      "  t_false() || t_record(\"stmt\");\n"
      "}\n",
      TZ_RUN_OK, "or,and,both,not,nest,stmt,");
}

static void test_comparisons(void)
{
  RUN_EXPECT("request_route {\n"
             "  if (10 == \"10\") t_record(\"a\");\n"
             "  if (2 < 10) t_record(\"b\");\n"
             "  if (\"2\" < \"10\") t_record(\"no-c\");\n"
             "  if (\"abc\" < \"abd\" && \"abd\" > \"abc\") t_record(\"d\");\n"
             "  if (5 != \"x\" && !(5 == \"x\")) t_record(\"e\");\n"
             "  if (\"ab\" < \"abc\") t_record(\"f\");\n"
             "  if ($var(u) == 0 && $var(u) == \"\" && !$var(u)) "
             "t_record(\"g\");\n"
             "  if (3 >= 3 && 3 <= 3 && -1 < 0) t_record(\"h\");\n"
             "  if (0x10 == 16 && true && !false) t_record(\"i\");\n"
             "  if (\"\") t_record(\"no-j\");\n"
             "  if (\"0\") t_record(\"k\");\n"
             "}\n",
             TZ_RUN_OK, "a,b,d,e,f,g,h,i,k,");
}

static void test_regex_match(void)
{
  RUN_EXPECT("request_route {\n"
             "  $var(x) = \"sip:alice@example.com\";\n"
             "  if ($var(x) =~ \"^sip:[a-z]+@\") t_record(\"m\");\n"
             "  if ($var(x) !~ \"^tel:\") t_record(\"n\");\n"
             "  if ($var(x) =~ \"^tel:\") t_record(\"no\");\n"
             "  if (12345 =~ \"^[0-9]+$\") t_record(\"int\");\n"
             "  if ($var(unset) =~ \"^$\") t_record(\"null\");\n"
             "  if (\"+49\" =~ \"^\\+[0-9]\") t_record(\"esc\");\n"
             "  if (t_regex(\"^a.c$\", \"abc\")) t_record(\"arg\");\n"
             "  if (t_regex(\"^a.c$\", $var(x))) t_record(\"no-arg\");\n"
             "}\n",
             TZ_RUN_OK, "m,n,int,null,esc,arg,");
}

static void test_arith_concat(void)
{
  RUN_EXPECT("request_route {\n"
             "  $var(s) = \"a\" + 1 + \"b\";\n"
             "  $var(n) = 2 + 3 - 1;\n"
             "  $var(m) = -$var(n) + 10;\n"
             "  $var(c) = $var(n) + \"x\";\n"
             "  t_record(\"$var(s) $var(n) $var(m) $var(c)\");\n"
             "  if (t_int(2 + 3 - 1) == 4) t_record(\"v\");\n"
             "  if ($var(n) == 4) t_record(\"w\");\n"
             "}\n",
             TZ_RUN_OK, "a1b 4 6 4x,v,w,");
  CU_ASSERT_EQUAL(run_text("request_route { $var(x) = \"a\" - 1; "
                           "t_record(\"no\"); }",
                           0),
                  TZ_RUN_ERROR);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "");
}

static void test_vars_and_fmt(void)
{
  RUN_EXPECT("request_route {\n"
             "  $var(x) = 1;\n"
             "  $var(y) = $var(x);\n"
             "  t_record(\"x=$var(x) y=$var(y) z=$var(z) $$ $5 end\");\n"
             "  t_record('single $var(x)\\t');\n"
             "  t_record($var(x) + 1);\n"
             "  t_record(\"\");\n"
             "}\n",
             TZ_RUN_OK, "x=1 y=1 z=<null> $ $5 end,single 1\t,2,,");
}

/* $var starts unset in every run, even on a reused context. */
static void test_var_reset(void)
{
  test_record_buf[0] = '\0';
  tz_script_t *s;
  TEST_LOAD_OK(s, "request_route {\n"
                  "  if ($var(c) == \"\") t_record(\"fresh\");\n"
                  "  else t_record(\"stale\");\n"
                  "  $var(c) = \"set\";\n"
                  "}\n");
  CU_ASSERT_EQUAL(tz_script_nvars(s), 1);
  tz_msg_t m;
  test_msg_init(&m, NULL, TZ_ROUTE_REQUEST);
  CU_ASSERT_EQUAL(test_run(s, tz_script_request_route(s), &m), TZ_RUN_OK);
  CU_ASSERT_EQUAL(test_run(s, tz_script_request_route(s), &m), TZ_RUN_OK);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "fresh,fresh,");
  test_msg_deinit(&m);
  tz_script_free(s);
}

static void test_route_values(void)
{
  RUN_EXPECT("request_route {\n"
             "  if (route(pos)) t_record(\"pos\");\n"
             "  if (!route(neg)) t_record(\"neg\");\n"
             "  if (route(bare)) t_record(\"bare\");\n"
             "  if (route(end)) t_record(\"end\");\n"
             "  $var(r) = route(pos);\n"
             "  t_record(\"r=$var(r)\");\n"
             "  route(nested);\n"
             "  t_record(\"after\");\n"
             "}\n"
             "route[pos] { return(5); t_record(\"no\"); }\n"
             "route[neg] { return -1; }\n"
             "route[bare] { if (1) { return; } }\n"
             "route[end] { t_true(); }\n"
             "route[nested] { if (route(neg)) return(1); t_record(\"in\"); }\n",
             TZ_RUN_OK, "pos,neg,bare,end,r=5,in,after,");
  /* return(0) from a route stops the script, as in Kamailio. */
  RUN_EXPECT("request_route { route(z); t_record(\"no\"); }\n"
             "route[z] { t_record(\"z\"); return(0); }\n",
             TZ_RUN_OK, "z,");
}

static void test_stop_semantics(void)
{
  RUN_EXPECT("request_route { t_record(\"a\"); exit; t_record(\"b\"); }",
             TZ_RUN_OK, "a,");
  RUN_EXPECT("request_route { t_record(\"a\"); return; t_record(\"b\"); }",
             TZ_RUN_OK, "a,");
  RUN_EXPECT("request_route { route(x); t_record(\"no\"); }\n"
             "route[x] { t_record(\"x\"); exit; }\n",
             TZ_RUN_OK, "x,");
  RUN_EXPECT("request_route { t_zero(); t_record(\"no\"); }", TZ_RUN_OK, "");
  RUN_EXPECT("request_route { if (t_zero()) t_record(\"t\"); "
             "else t_record(\"f\"); t_record(\"no\"); }",
             TZ_RUN_OK, "");
  RUN_EXPECT("request_route { if (t_true() && !t_zero()) t_record(\"no\"); "
             "t_record(\"no\"); }",
             TZ_RUN_OK, "");
  /* In a value context 0 is just a value. */
  RUN_EXPECT("request_route { $var(z) = t_zero(); t_record(\"v=$var(z)\"); "
             "if (t_int(0) == 0) t_record(\"eq\"); }",
             TZ_RUN_OK, "v=0,eq,");
  CU_ASSERT_EQUAL(run_text("request_route { t_record(\"a\"); drop; "
                           "t_record(\"b\"); }",
                           0),
                  TZ_RUN_DROP);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "a,");
  CU_ASSERT_EQUAL(run_text("request_route { route(d); t_record(\"no\"); }\n"
                           "route[d] { drop; }\n",
                           0),
                  TZ_RUN_DROP);
}

static void test_int_args(void)
{
  RUN_EXPECT(
      "request_route {\n"
      "  $var(x) = \"7\";\n"
      "  if (t_int($var(x)) == 7) t_record(\"seven\");\n"
      "  $var(x) = \"abc\";\n"
      "  if (t_int($var(x))) t_record(\"no\"); else t_record(\"failed\");\n"
      "  if (t_int(\"-3\") == -3) t_record(\"const\");\n"
      "  if (t_int($var(unset)) == 0) t_record(\"null0\");\n"
      "  if (t_int(010) == 10) t_record(\"dec\");\n"
      "}\n",
      TZ_RUN_OK, "seven,failed,const,null0,dec,");
}

static void test_core_funcs_without_message(void)
{
  RUN_EXPECT("request_route {\n"
             "  log(\"plain $var(x)\");\n"
             "  log(-1, \"err\");\n"
             "  log(\"L_DBG\", \"debug\");\n"
             "  xlog(\"L_NOTICE\", \"xlog $var(x)\\n\");\n"
             "  xlog(\"xlog at error level\");\n"
             "  if (!has_totag() && !is_method(\"INVITE\")) t_record(\"ok\");\n"
             "  if (t_fixed(\"k\")) t_record(\"fixed\");\n"
             "}\n",
             TZ_RUN_OK, "ok,fixed,");
}

static void test_trace(void)
{
  CU_ASSERT_EQUAL(run_text("request_route {\n"
                           "  $var(x) = 1;\n"
                           "  if (route(a) && t_true()) t_record(\"t\");\n"
                           "  if (t_false()) exit;\n"
                           "  return;\n"
                           "}\n"
                           "route[a] { return(2); }\n",
                           1),
                  TZ_RUN_OK);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "t,");
}

/* Route chains deeper than the guard fail at run time (cycles are already
 * refused at load). */
static void test_depth_limit(void)
{
  static char text[8192];
  strcpy(text, "request_route { route(r0); t_record(\"no\"); }\n");
  for (int i = 0; i < 69; i++)
    snprintf(text + strlen(text), sizeof text - strlen(text),
             "route[r%d] { route(r%d); }\n", i, i + 1);
  strcat(text, "route[r69] { t_record(\"deep\"); }\n");
  CU_ASSERT_EQUAL(run_text(text, 0), TZ_RUN_ERROR);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "");
}

static void test_failure_route_and_null(void)
{
  tz_script_t *s;
  TEST_LOAD_OK(s, "failure_route[f] { t_record(\"f\"); }\n");
  tz_msg_t m;
  test_msg_init(&m, NULL, TZ_ROUTE_FAILURE);
  test_record_buf[0] = '\0';
  CU_ASSERT_EQUAL(test_run(s, tz_script_failure_route(s, "f"), &m),
                  TZ_RUN_OK);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "f,");
  CU_ASSERT_EQUAL(test_run(s, tz_script_request_route(s), &m), TZ_RUN_OK);
  test_msg_deinit(&m);
  tz_script_free(s);
}

/* ---- coverage counts ---------------------------------------------------- */

static const char count_script[] =
    "request_route {\n"
    "  t_record(\"a\");\n"
    "  if (t_true()) {\n"
    "    route(sub);\n"
    "  } else {\n"
    "    t_record(\"no\");\n"
    "  }\n"
    "  if (t_false()) t_record(\"x\"); else { t_record(\"y\"); }\n"
    "  exit;\n"
    "  t_record(\"dead\");\n"
    "}\n"
    "route[sub] { if ($var(n) == \"\") $var(n) = 1; }\n"
    "route[never] { t_record(\"n\"); }\n";

/* What tz_script_each_count reports, one line per route ("R") and
 * statement: "line:col hits", and an if's "true/false". */
static char count_buf[1024];

static void count_route(void *arg, const tz_script_route_count_t *r)
{
  (void)arg;
  size_t n = strlen(count_buf);
  snprintf(count_buf + n, sizeof count_buf - n, "R%u:%u %lu\n", r->loc.line,
           r->loc.col, (unsigned long)r->calls);
}

static void count_stmt(void *arg, const tz_script_stmt_count_t *st)
{
  (void)arg;
  size_t n = strlen(count_buf);
  n += (size_t)snprintf(count_buf + n, sizeof count_buf - n, "%u:%u %lu",
                        st->loc.line, st->loc.col, (unsigned long)st->hits);
  if (st->is_if)
    n += (size_t)snprintf(count_buf + n, sizeof count_buf - n, " %lu/%lu",
                          (unsigned long)st->taken[0],
                          (unsigned long)st->taken[1]);
  snprintf(count_buf + n, sizeof count_buf - n, "\n");
}

/* Runs count_script's request_route twice, counting when asked; true if
 * the script then reports `want`. */
static int count_runs(int enable, const char *want)
{
  tz_script_t *s;
  TEST_LOAD_OK(s, count_script);
  if (enable) {
    CU_ASSERT_EQUAL(tz_script_count_enable(s), 0);
    CU_ASSERT_EQUAL(tz_script_count_enable(s), 0);
  }
  tz_msg_t m;
  test_msg_init(&m, NULL, TZ_ROUTE_REQUEST);
  test_record_buf[0] = '\0';
  for (int i = 0; i < 2; i++)
    CU_ASSERT_EQUAL(test_run(s, tz_script_request_route(s), &m), TZ_RUN_OK);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "a,y,a,y,");
  test_msg_deinit(&m);
  count_buf[0] = '\0';
  tz_script_each_count(s, &(tz_script_count_visitor_t){count_route,
                                                       count_stmt, NULL});
  tz_script_free(s);
  if (!strcmp(count_buf, want))
    return 1;
  fprintf(stderr, "\nwanted:\n%sgot:\n%s", want, count_buf);
  return 0;
}

/* Lines and if outcomes are counted; the braces of blocks are no
 * statements; a route never called and code after exit count 0. */
static void test_counts(void)
{
  CU_ASSERT(count_runs(1, "R1:1 2\n"
                          "2:3 2\n"
                          "3:3 2 2/0\n"
                          "4:5 2\n"
                          "6:5 0\n"
                          "8:3 2 0/2\n"
                          "8:18 0\n"
                          "8:40 2\n"
                          "9:3 2\n"
                          "10:3 0\n"
                          "R12:1 2\n"
                          "12:14 2 2/0\n"
                          "12:33 2\n"
                          "R13:1 0\n"
                          "13:16 0\n"));
}

/* Without tz_script_count_enable the same statements show, never run. */
static void test_counts_off(void)
{
  CU_ASSERT(count_runs(0, "R1:1 0\n"
                          "2:3 0\n"
                          "3:3 0 0/0\n"
                          "4:5 0\n"
                          "6:5 0\n"
                          "8:3 0 0/0\n"
                          "8:18 0\n"
                          "8:40 0\n"
                          "9:3 0\n"
                          "10:3 0\n"
                          "R12:1 0\n"
                          "12:14 0 0/0\n"
                          "12:33 0\n"
                          "R13:1 0\n"
                          "13:16 0\n"));
}

static const tz_unit_test_t run_tests[] = {
    {"if/else", test_if_else},
    {"short circuit", test_short_circuit},
    {"comparisons", test_comparisons},
    {"regex match", test_regex_match},
    {"arithmetic and concatenation", test_arith_concat},
    {"vars and format strings", test_vars_and_fmt},
    {"var reset per run", test_var_reset},
    {"route values", test_route_values},
    {"exit, return, drop, 0", test_stop_semantics},
    {"int arguments", test_int_args},
    {"core functions without a message", test_core_funcs_without_message},
    {"trace", test_trace},
    {"depth limit", test_depth_limit},
    {"failure route, null route", test_failure_route_and_null},
    {"coverage counts", test_counts},
    {"no counts unless enabled", test_counts_off},
    {NULL, NULL}};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
      {"run", run_tests, NULL, test_cleanup}, {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
