/*
 * test_parse.c - the script lexer, parser and checker: directives, routes,
 * and every load-time diagnostic with its exact file:line:col.
 */
#include "script_test.h"

#ifndef TZ_TEST_SRCDIR
#define TZ_TEST_SRCDIR "."
#endif

/* ---- good scripts ------------------------------------------------------- */

static void test_good_file(void)
{
  tz_diag_clear(&test_diag);
  tz_script_t *s =
      tz_script_parse_file(TZ_TEST_SRCDIR "/unit/scripts/good.cfg", &tz_sip_lang,
                           &test_diag);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(tz_script_check(s, &test_resolver, &test_diag), 0);
  CU_ASSERT_EQUAL(test_diag.nerrors, 0);
  CU_ASSERT_EQUAL(test_diag.nwarnings, 0);
  if (test_diag.nwarnings)
    fprintf(stderr, "%s", tz_diag_text(&test_diag));
  CU_ASSERT_PTR_NOT_NULL(tz_script_request_route(s));
  CU_ASSERT_PTR_NOT_NULL(tz_script_reply_route(s));
  CU_ASSERT_PTR_NOT_NULL(tz_script_failure_route(s, "MISSED"));
  CU_ASSERT_PTR_NULL(tz_script_failure_route(s, "nope"));
  CU_ASSERT(tz_script_nvars(s) >= 1);
  const tz_directive_t *dirs;
  CU_ASSERT(tz_script_directives(s, &dirs) >= 4);
  tz_script_free(s);
}

static void test_missing_file(void)
{
  tz_diag_clear(&test_diag);
  CU_ASSERT_PTR_NULL(tz_script_parse_file("/nonexistent/x.cfg", NULL, &test_diag));
  CU_ASSERT(test_diag_has("/nonexistent/x.cfg: error: cannot open"));
}

static void test_directives(void)
{
  tz_script_t *s;
  TEST_LOAD_OK(s, "#!KAMAILIO\n"
                  "loadmodule \"sl\"\n"
                  "modparam(\"sl\", \"p\", -5)\n"
                  "modparam(\"sl\", \"s\", 'x')\n"
                  "debug=2\n"
                  "listen=udp:127.0.0.1:5090\n"
                  "listen = [::1]:5070;\n"
                  "alias=\"example.test\"\n"
                  "alias=example.test # comment\n"
                  "mpath=\"/usr/lib/trapezoid\"\n"
                  "port=-1\n"
                  "request_route { exit; }\n");
  const tz_directive_t *d;
  CU_ASSERT_EQUAL_FATAL(tz_script_directives(s, &d), 10);
  CU_ASSERT_EQUAL(d[0].kind, TZ_DIR_LOADMODULE);
  CU_ASSERT_STRING_EQUAL(d[0].name, "sl");
  CU_ASSERT_EQUAL(d[0].loc.line, 2);
  CU_ASSERT_EQUAL(d[0].loc.col, 1);
  CU_ASSERT_EQUAL(d[0].value_loc.col, 12);

  CU_ASSERT_EQUAL(d[1].kind, TZ_DIR_MODPARAM);
  CU_ASSERT_STRING_EQUAL(d[1].name, "sl");
  CU_ASSERT_STRING_EQUAL(d[1].param, "p");
  CU_ASSERT_EQUAL(d[1].value.type, TZ_VAL_INT);
  CU_ASSERT_EQUAL(d[1].value.i, -5);
  CU_ASSERT_EQUAL(d[1].value_loc.line, 3);
  CU_ASSERT_EQUAL(d[1].value_loc.col, 21);
  CU_ASSERT_EQUAL(d[2].value.type, TZ_VAL_STR);
  CU_ASSERT_STRING_EQUAL(d[2].value.s, "x");

  CU_ASSERT_EQUAL(d[3].kind, TZ_DIR_SET);
  CU_ASSERT_STRING_EQUAL(d[3].name, "debug");
  CU_ASSERT_EQUAL(d[3].value.type, TZ_VAL_INT);
  CU_ASSERT_EQUAL(d[3].value.i, 2);
  CU_ASSERT_EQUAL(d[3].loc.line, 5);
  CU_ASSERT_EQUAL(d[3].value_loc.col, 7);

  CU_ASSERT_STRING_EQUAL(d[4].name, "listen");
  CU_ASSERT_EQUAL(d[4].value.type, TZ_VAL_STR);
  CU_ASSERT_STRING_EQUAL(d[4].value.s, "udp:127.0.0.1:5090");
  CU_ASSERT_STRING_EQUAL(d[5].value.s, "[::1]:5070");
  CU_ASSERT_EQUAL(d[5].value.len, 10);
  CU_ASSERT_EQUAL(d[5].value_loc.line, 7);
  CU_ASSERT_EQUAL(d[5].value_loc.col, 10);
  CU_ASSERT_STRING_EQUAL(d[6].value.s, "example.test");
  CU_ASSERT_STRING_EQUAL(d[7].value.s, "example.test");
  CU_ASSERT_STRING_EQUAL(d[8].value.s, "/usr/lib/trapezoid");
  CU_ASSERT_EQUAL(d[9].value.type, TZ_VAL_INT);
  CU_ASSERT_EQUAL(d[9].value.i, -1);
  tz_script_free(s);
}

static void test_legacy_routes(void)
{
  tz_script_t *s;
  TEST_LOAD_OK(s, "route { route(1); route(\"two\"); }\n"
                  "onreply_route { ; }\n"
                  "failure_route[\"f\"] { }\n"
                  "route[1] { }\n"
                  "route[\"two\"] { }\n");
  CU_ASSERT_PTR_NOT_NULL(tz_script_request_route(s));
  CU_ASSERT_PTR_NOT_NULL(tz_script_reply_route(s));
  CU_ASSERT_PTR_NOT_NULL(tz_script_failure_route(s, "f"));
  tz_script_free(s);
}

static void test_caret(void)
{
  TEST_LOAD_FAILS("request_route {\n\texit\n}\n",
                  "t.cfg:2:6: error: expected ';' after statement\n"
                  "    2 | \texit\n"
                  "      | \t    ^\n");
}

/* ---- syntax errors
 * ------------------------------------------------------------ */

static void test_lex_errors(void)
{
  TEST_LOAD_FAILS("request_route {\n  log(\"abc);\n}\n",
                  "t.cfg:2:7: error: unterminated string");
  TEST_LOAD_FAILS("debug=1\n  /* never\n closed", 
                  "t.cfg:2:3: error: unterminated comment");
  TEST_LOAD_FAILS("request_route { $var(x) = 1 @ 2; }",
                  "t.cfg:1:29: error: unexpected character '@'");
  TEST_LOAD_FAILS("request_route { $var(x = 1; }",
                  "t.cfg:1:17: error: missing ')' after pseudo-variable");
  TEST_LOAD_FAILS("request_route { $ = 1; }",
                  "t.cfg:1:17: error: expected a pseudo-variable name");
  TEST_LOAD_FAILS("request_route { t_int(99999999999999999999); }",
                  "t.cfg:1:23: error: integer constant is too large");
}

static void test_syntax_errors(void)
{
  TEST_LOAD_FAILS("request_route {\n  exit\n}\n",
                  "t.cfg:2:7: error: expected ';' after statement");
  TEST_LOAD_FAILS("request_route {\n  t_true()\n  exit;\n}\n",
                  "t.cfg:2:11: error: expected ';' after statement");
  TEST_LOAD_FAILS("}\n", "t.cfg:1:1: error: unexpected '}'");
  TEST_LOAD_FAILS("request_route { }\n}\n", "t.cfg:2:1: error: unexpected '}'");
  TEST_LOAD_FAILS("debug 2\n",
                  "t.cfg:1:7: error: expected '=' after setting name 'debug'");
  TEST_LOAD_FAILS("debug=\n", "t.cfg:1:7: error: expected a value after '='");
  TEST_LOAD_FAILS("exit;\n",
                  "t.cfg:1:1: error: statement outside of a route block");
  TEST_LOAD_FAILS("sl_reply(1, \"x\");\n",
                  "t.cfg:1:1: error: function call outside of a route block");
  TEST_LOAD_FAILS("request_route {\n  exit;\n",
                  "t.cfg:3:1: error: expected '}' at end of input (block "
                  "opened at line 1)");
  TEST_LOAD_FAILS("request_route { else exit; }",
                  "t.cfg:1:17: error: 'else' without a previous 'if'");
  TEST_LOAD_FAILS("request_route { if t_true() exit; }",
                  "t.cfg:1:20: error: expected '(' after 'if', found 't_true'");
  TEST_LOAD_FAILS("request_route { if (1 == 1 == 1) exit; }",
                  "t.cfg:1:28: error: comparisons cannot be chained");
  TEST_LOAD_FAILS("request_route { $var(x) == 1; }",
                  "t.cfg:1:25: error: expected '=' after '$var(x)'");
  TEST_LOAD_FAILS("request_route { 1 + 2; }",
                  "t.cfg:1:17: error: statement has no effect");
  TEST_LOAD_FAILS("request_route { has_totag; }",
                  "t.cfg:1:26: error: expected '(' after function name "
                  "'has_totag'");
  TEST_LOAD_FAILS("request_route { if ($ru == ) exit; }",
                  "t.cfg:1:28: error: expected an expression, found ')'");
  TEST_LOAD_FAILS("request_route { if ($ru =~ $rd) exit; }",
                  "t.cfg:1:28: error: the right side of '=~' must be a "
                  "string literal");
  TEST_LOAD_FAILS("loadmodule sl\n",
                  "t.cfg:1:12: error: expected a module name string after "
                  "'loadmodule'");
  TEST_LOAD_FAILS("modparam(\"sl\", \"p\", $ru)\n",
                  "t.cfg:1:21: error: expected a string or integer value");
  TEST_LOAD_FAILS("onreply_route[x] { }\n",
                  "t.cfg:1:1: error: named onreply_route blocks are not "
                  "supported");
  TEST_LOAD_FAILS("branch_route[x] { }\n",
                  "t.cfg:1:1: error: 'branch_route' blocks are not supported");
  TEST_LOAD_FAILS("request_route { t_record(1,2,3,4,5,6,7); }",
                  "t.cfg:1:38: error: too many arguments to 't_record'");
}

static void test_duplicate_route(void)
{
  TEST_LOAD_FAILS("route[a] { }\nroute[a] { }\n",
                  "t.cfg:2:1: error: route 'a' already defined at t.cfg:1:1");
  TEST_LOAD_FAILS("request_route { }\n  route { }\n",
                  "t.cfg:2:3: error: request_route already defined at "
                  "t.cfg:1:1");
  TEST_LOAD_FAILS("failure_route[x] { }\nfailure_route[x] { }\n",
                  "t.cfg:2:1: error: failure_route 'x' already defined");
}

/* ---- check errors ------------------------------------------------------- */

static void test_unknown_names(void)
{
  TEST_LOAD_FAILS("request_route { route(chek); }\nroute[check] { }\n",
                  "t.cfg:1:23: error: unknown route 'chek'; did you mean "
                  "'check'?");
  TEST_LOAD_FAILS("request_route { route(f); }\nfailure_route[f] { }\n",
                  "t.cfg:1:23: error: 'f' is a failure_route");
  TEST_LOAD_FAILS("request_route {\n  sl_replly(404, \"x\");\n}\n",
                  "t.cfg:2:3: error: unknown function 'sl_replly'; did you "
                  "mean 'sl_reply'?");
  TEST_LOAD_FAILS("request_route { if (t_ture()) exit; }",
                  "t.cfg:1:21: error: unknown function 't_ture'; did you "
                  "mean 't_true'?");
  TEST_LOAD_FAILS("request_route { check(); }\nroute[check] { }\n",
                  "unknown function 'check'; did you mean 'route(check)'?");
  TEST_LOAD_FAILS("request_route { zzzzzz(); }",
                  "t.cfg:1:17: error: unknown function 'zzzzzz'\n");
  TEST_LOAD_FAILS("request_route {\n  $var(x) = $rx;\n}\n",
                  "t.cfg:2:13: error: unknown pseudo-variable '$rx'; did you "
                  "mean '$rm'?");
  TEST_LOAD_FAILS("request_route {\n  log(\"ru=$ru fx=$fx\");\n}\n",
                  "t.cfg:2:18: error: unknown pseudo-variable '$fx'; did you "
                  "mean '$fu'?");
  TEST_LOAD_FAILS(
      "request_route { $var = 1; }",
      "t.cfg:1:17: error: pseudo-variable '$var' needs an argument");
  TEST_LOAD_FAILS("request_route { $var(x) = $ru(1); }",
                  "t.cfg:1:27: error: pseudo-variable '$ru' takes no argument");
  TEST_LOAD_FAILS("request_route { $var(x) = $hdr(a b); }",
                  "t.cfg:1:27: error: invalid header name 'a b'");
}

static void test_arity_and_args(void)
{
  TEST_LOAD_FAILS("request_route { sl_reply(404); }",
                  "t.cfg:1:17: error: function 'sl_reply' takes 2 arguments, "
                  "1 given");
  TEST_LOAD_FAILS("request_route { log(1, \"a\", \"b\"); }",
                  "function 'log' takes 1 to 2 arguments, 3 given");
  TEST_LOAD_FAILS("request_route { has_totag(1); }",
                  "function 'has_totag' takes 0 arguments, 1 given");
  TEST_LOAD_FAILS("request_route { t_int(\"abc\"); }",
                  "t.cfg:1:23: error: argument 1 of 't_int' must be an "
                  "integer, not \"abc\"");
  TEST_LOAD_FAILS("request_route { t_fixed($ru); }",
                  "t.cfg:1:25: error: argument 1 of 't_fixed' must be a "
                  "constant");
  TEST_LOAD_FAILS("request_route { t_fixed(\"bad\"); }",
                  "t.cfg:1:25: error: t_fixed does not like 'bad'");
  TEST_LOAD_FAILS("request_route { sl_reply(99, \"x\"); }",
                  "t.cfg:1:26: error: reply status 99 is out of range");
  TEST_LOAD_FAILS("request_route { log(\"loud\", \"x\"); }",
                  "t.cfg:1:21: error: unknown log level 'loud'");
  TEST_LOAD_FAILS("request_route { log(7, \"x\"); }", "unknown log level '7'");
  TEST_LOAD_FAILS("request_route { log($rm, \"x\"); }",
                  "argument 1 of 'log' must be a constant");
  TEST_LOAD_FAILS("request_route { is_method(\"INVITE||BYE\"); }",
                  "t.cfg:1:27: error: invalid method name ''");
  TEST_LOAD_FAILS("request_route { append_hf(\"no colon\"); }",
                  "t.cfg:1:27: error: expected \"Name: value\"");
  TEST_LOAD_FAILS("request_route { append_to_reply(\"X-A: 1\\r\\nbad line\"); }",
                  "t.cfg:1:33: error: expected \"Name: value\", not \"bad line\"");
  TEST_LOAD_FAILS("request_route { append_to_reply(\"\\r\\n\"); }",
                  "no header given");
  TEST_LOAD_FAILS("reply_route { append_to_reply(\"X-A: 1\"); }",
                  "'append_to_reply' cannot be used in reply_route");
  TEST_LOAD_FAILS("request_route { remove_hf(\"a:b\"); }",
                  "invalid header name 'a:b'");
  TEST_LOAD_FAILS("request_route { if ($ru =~ \"^a?++++\") { exit; } }",
                  "refused: a repetition of a repetition");
  TEST_LOAD_FAILS("request_route { if ($ru =~ \"(((((a+)+)+)+)+)+\") { exit; } }",
                  "refused: repeated groups nested too deeply");
  TEST_LOAD_FAILS("request_route { t_regex($ru, \"x\"); }",
                  "t.cfg:1:25: error: argument 1 of 't_regex' must be a "
                  "regular expression literal");
  TEST_LOAD_FAILS("request_route { t_regex(\"a(\", \"x\"); }",
                  "t.cfg:1:25: error: invalid regular expression \"a(\"");
  TEST_LOAD_FAILS("request_route {\n  if ($ru =~ \"sip:(a\") exit;\n}\n",
                  "t.cfg:2:14: error: invalid regular expression \"sip:(a\"");
  TEST_LOAD_FAILS("request_route { $ci = \"x\"; }",
                  "t.cfg:1:17: error: cannot assign to read-only "
                  "pseudo-variable '$ci'");
  TEST_LOAD_FAILS("request_route { $hdr(X) = \"x\"; }",
                  "cannot assign to read-only pseudo-variable '$hdr(X)'");
}

static void test_all_errors_reported(void)
{
  TEST_LOAD_FAILS("request_route {\n  foo();\n  bar();\n  $ci = 1;\n}\n",
                  "t.cfg:2:3: error: unknown function 'foo'");
  CU_ASSERT(test_diag_has("t.cfg:3:3: error: unknown function 'bar'"));
  CU_ASSERT(test_diag_has("t.cfg:4:3: error: cannot assign"));
  CU_ASSERT_EQUAL(test_diag.nerrors, 3);
}

static void test_error_cap(void)
{
  char text[4096] = "request_route {\n";
  for (int i = 0; i < 40; i++)
    strcat(text, "  nope();\n");
  strcat(text, "}\n");
  TEST_LOAD_FAILS(text, "too many errors, stopping");
  CU_ASSERT_EQUAL(test_diag.nerrors, 20);
}

static void test_route_masks(void)
{
  TEST_LOAD_FAILS("reply_route {\n  sl_reply(200, \"OK\");\n}\n",
                  "t.cfg:2:3: error: 'sl_reply' cannot be used in "
                  "reply_route\n");
  TEST_LOAD_FAILS("request_route { t_reply_only(); }",
                  "'t_reply_only' cannot be used in request_route");
  TEST_LOAD_FAILS("request_route { route(a); }\n"
                  "reply_route { route(a); }\n"
                  "route[a] { route(b); }\n"
                  "route[b] {\n  sl_reply(200, \"OK\");\n}\n",
                  "t.cfg:5:3: error: 'sl_reply' cannot be used in "
                  "reply_route (in route[b], reached from reply_route via "
                  "route[a])");
  CU_ASSERT_EQUAL(test_diag.nerrors, 1);
  tz_script_t *s;
  TEST_LOAD_OK(s, "failure_route[f] { route(a); }\n"
                  "request_route { route(a); }\n"
                  "route[a] { sl_reply(404, \"x\"); }\n");
  tz_script_free(s);
}

static void test_recursion(void)
{
  TEST_LOAD_FAILS("request_route { route(a); }\n"
                  "route[a] { route(b); }\n"
                  "route[b] { if (t_true()) route(a); }\n",
                  "t.cfg:3:26: error: recursive route call: route[a] -> "
                  "route[b] -> route[a]");
  TEST_LOAD_FAILS("request_route { route(a); }\nroute[a] { route(a); }\n",
                  "t.cfg:2:12: error: recursive route call: route[a] -> "
                  "route[a]");
}

/* ---- warnings, fixups, module uses -------------------------------------- */

static void test_warnings(void)
{
  tz_script_t *s;
  TEST_LOAD_OK(s, "#!define X 1\nrequest_route { }\nroute[lonely] { }\n");
  CU_ASSERT(test_diag_has("t.cfg:1:1: warning: preprocessor directive "
                          "'#!define' is not supported"));
  CU_ASSERT(test_diag_has("t.cfg:3:1: warning: route 'lonely' is never used"));
  CU_ASSERT_EQUAL(test_diag.nwarnings, 2);
  tz_script_free(s);
}

static void test_fixups_undone(void)
{
  test_fixups = test_fixup_frees = 0;
  tz_script_t *s;
  TEST_LOAD_OK(s, "request_route { t_fixed(\"a\"); "
                  "if (t_fixed(\"b\")) exit; }");
  CU_ASSERT_EQUAL(test_fixups, 2);
  CU_ASSERT_EQUAL(test_fixup_frees, 0);
  tz_script_free(s);
  CU_ASSERT_EQUAL(test_fixup_frees, 2);

  /* A check that fails halfway still undoes the fixups that ran. */
  test_fixups = test_fixup_frees = 0;
  TEST_LOAD_FAILS("request_route { t_fixed(\"a\"); t_fixed(\"bad\"); }",
                  "does not like 'bad'");
  CU_ASSERT_EQUAL(test_fixups, 1);
  CU_ASSERT_EQUAL(test_fixup_frees, 1);
}

static size_t test_uses;

static void test_use_cb(void *ctx, const tz_loc_t *loc, const char *func)
{
  (void)ctx;
  CU_ASSERT_STRING_EQUAL(func, "t_true");
  CU_ASSERT_EQUAL(loc->line, 2);
  test_uses++;
}

static void test_uses_module(void)
{
  tz_script_t *s;
  TEST_LOAD_OK(s, "request_route {\n  t_true(); log(\"x\"); t_true();\n}\n");
  test_uses = 0;
  CU_ASSERT_EQUAL(tz_script_uses_module(s, test_mod, test_use_cb, NULL), 2);
  CU_ASSERT_EQUAL(test_uses, 2);
  CU_ASSERT_EQUAL(tz_script_uses_module(s, (tz_modinst_t *)&test_uses, NULL,
                                        NULL),
                  0);
  tz_script_free(s);
}

static void test_diag_forms(void)
{
  tz_diag_t d = {0};
  tz_src_t src = {.name = "f.cfg"};
  tz_loc_t only_name = {.src = &src};
  tz_diag_error(&d, NULL, "plain %d", 1);
  tz_diag_warning(&d, &only_name, "named");
  CU_ASSERT_STRING_EQUAL(tz_diag_text(&d),
                         "error: plain 1\nf.cfg: warning: named\n");
  CU_ASSERT_EQUAL(d.nerrors, 1);
  CU_ASSERT_EQUAL(d.nwarnings, 1);
  tz_diag_clear(&d);
  CU_ASSERT_STRING_EQUAL(tz_diag_text(&d), "");
}

static const tz_unit_test_t good_tests[] = {
    {"good script file", test_good_file},
    {"missing file", test_missing_file},
    {"directives", test_directives},
    {"legacy route forms", test_legacy_routes},
    {NULL, NULL}};

static const tz_unit_test_t error_tests[] = {
    {"caret line", test_caret},
    {"lexical errors", test_lex_errors},
    {"syntax errors", test_syntax_errors},
    {"duplicate routes", test_duplicate_route},
    {"unknown names", test_unknown_names},
    {"arity and arguments", test_arity_and_args},
    {"all check errors reported", test_all_errors_reported},
    {"error cap", test_error_cap},
    {"route masks through route calls", test_route_masks},
    {"route recursion", test_recursion},
    {NULL, NULL}};

static const tz_unit_test_t misc_tests[] = {
    {"warnings", test_warnings},
    {"fixups undone", test_fixups_undone},
    {"uses_module", test_uses_module},
    {"diagnostic forms", test_diag_forms},
    {NULL, NULL}};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
      {"parse", good_tests, NULL, NULL},
      {"errors", error_tests, NULL, NULL},
      {"misc", misc_tests, NULL, test_cleanup},
      {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
