/*
 * test_json.c - the JSON reader and writer: every value type, nesting,
 * escapes and surrogate pairs, the number grammar, each error class with
 * its position, the depth and size limits, and writer round trips.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include <trapezoid/json.h>

#include <stdlib.h>
#include <string.h>

static char err[256];

static tz_json_t *parse(const char *s)
{
  return tz_json_parse(s, strlen(s), err, sizeof err);
}

/* The parse must fail with exactly this "line:col: message" prefix. */
static void assert_error(const char *text, const char *want)
{
  tz_json_t *j = parse(text);
  CU_ASSERT_PTR_NULL(j);
  tz_json_free(j);
  if (strncmp(err, want, strlen(want)))
    fprintf(stderr, "\n  input %s\n  error %s\n  wanted %s\n", text, err,
            want);
  CU_ASSERT_NSTRING_EQUAL(err, want, strlen(want));
}

static void test_scalars(void)
{
  tz_json_t *j = parse(" true ");
  CU_ASSERT_EQUAL(tz_json_type(j), TZ_JSON_BOOL);
  CU_ASSERT_TRUE(tz_json_bool(j));
  tz_json_free(j);
  j = parse("false");
  CU_ASSERT_EQUAL(tz_json_type(j), TZ_JSON_BOOL);
  CU_ASSERT_FALSE(tz_json_bool(j));
  tz_json_free(j);
  j = parse("null");
  CU_ASSERT_PTR_NOT_NULL(j);
  CU_ASSERT_EQUAL(tz_json_type(j), TZ_JSON_NULL);
  tz_json_free(j);
  j = parse("\"abc\"");
  CU_ASSERT_STRING_EQUAL(tz_json_str(j), "abc");
  CU_ASSERT_EQUAL(tz_json_num(j), 0);
  tz_json_free(j);
  j = parse("\"\"");
  CU_ASSERT_STRING_EQUAL(tz_json_str(j), "");
  tz_json_free(j);
  /* accessors of the wrong type answer "nothing" */
  CU_ASSERT_EQUAL(tz_json_type(NULL), TZ_JSON_NULL);
  CU_ASSERT_PTR_NULL(tz_json_str(NULL));
  CU_ASSERT_PTR_NULL(tz_json_get(NULL, "a"));
  CU_ASSERT_EQUAL(tz_json_len(NULL), 0);
}

static void test_numbers(void)
{
  static const struct {
    const char *text;
    double v;
  } ok[] = {{"0", 0},         {"-0", 0},         {"7", 7},
            {"-12", -12},     {"3.25", 3.25},    {"-0.5", -0.5},
            {"1e3", 1000},    {"1E+2", 100},     {"25e-2", 0.25},
            {"1.5e1", 15},    {"1e-400", 0},     {"9007199254740993", 9007199254740992.0}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    tz_json_t *j = parse(ok[i].text);
    CU_ASSERT_EQUAL_FATAL(tz_json_type(j), TZ_JSON_NUMBER);
    CU_ASSERT_DOUBLE_EQUAL(tz_json_num(j), ok[i].v, 1e-12);
    tz_json_free(j);
  }
  assert_error("01", "1:1: leading zero");
  assert_error("-", "1:2: digit expected");
  assert_error("1.", "1:3: digit expected after '.'");
  assert_error("1.e5", "1:3: digit expected after '.'");
  assert_error("1e", "1:3: digit expected in exponent");
  assert_error("1e+", "1:4: digit expected in exponent");
  assert_error("+1", "1:1: unexpected '+'");
  assert_error(".5", "1:1: unexpected '.'");
  assert_error("0x10", "1:2: unexpected 'x'");
  assert_error("1e400", "1:1: number out of range");
  assert_error("-Infinity", "1:2: digit expected");
  assert_error("NaN", "1:1: unexpected 'N'");
}

static void test_containers(void)
{
  tz_json_t *j = parse("{\"a\": [1, {\"b\": null}, \"x\"], \"c\": {}, "
                       "\"d\": [], \"a\": 2}");
  CU_ASSERT_EQUAL_FATAL(tz_json_type(j), TZ_JSON_OBJECT);
  const tz_json_t *a = tz_json_get(j, "a");
  CU_ASSERT_EQUAL(tz_json_type(a), TZ_JSON_ARRAY); /* first of duplicates */
  CU_ASSERT_EQUAL(tz_json_len(a), 3);
  CU_ASSERT_EQUAL(tz_json_num(tz_json_at(a, 0)), 1);
  const tz_json_t *b = tz_json_get(tz_json_at(a, 1), "b");
  CU_ASSERT_PTR_NOT_NULL(b);
  CU_ASSERT_EQUAL(tz_json_type(b), TZ_JSON_NULL);
  CU_ASSERT_STRING_EQUAL(tz_json_str(tz_json_at(a, 2)), "x");
  CU_ASSERT_PTR_NULL(tz_json_at(a, 3));
  CU_ASSERT_EQUAL(tz_json_type(tz_json_get(j, "c")), TZ_JSON_OBJECT);
  CU_ASSERT_EQUAL(tz_json_len(tz_json_get(j, "d")), 0);
  CU_ASSERT_PTR_NULL(tz_json_get(j, "missing"));
  CU_ASSERT_STRING_EQUAL(tz_json_key_at(j, 1), "c");
  CU_ASSERT_STRING_EQUAL(tz_json_key_at(j, 3), "a");
  CU_ASSERT_EQUAL(tz_json_num(tz_json_value_at(j, 3)), 2);
  CU_ASSERT_PTR_NULL(tz_json_key_at(j, 4));
  CU_ASSERT_PTR_NULL(tz_json_value_at(j, 4));
  CU_ASSERT_PTR_NULL(tz_json_key_at(a, 0)); /* not an object */
  tz_json_free(j);
  j = parse("[[[]]]");
  CU_ASSERT_EQUAL(tz_json_len(tz_json_at(tz_json_at(j, 0), 0)), 0);
  tz_json_free(j);
}

static void test_strings(void)
{
  tz_json_t *j = parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"");
  CU_ASSERT_STRING_EQUAL(tz_json_str(j), "q\" b\\ s/ \b\f\n\r\t");
  tz_json_free(j);
  j = parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"");
  CU_ASSERT_STRING_EQUAL(tz_json_str(j), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  tz_json_free(j);
  j = parse("\"h\xc3\xa9llo \xf0\x9f\x98\x80\""); /* raw UTF-8 passes */
  CU_ASSERT_STRING_EQUAL(tz_json_str(j), "h\xc3\xa9llo \xf0\x9f\x98\x80");
  tz_json_free(j);
  assert_error("\"abc", "1:1: unterminated string");
  assert_error("\"a\\", "1:1: unterminated string");
  assert_error("\"a\tb\"", "1:3: control character 0x09");
  assert_error("\"a\nb\"", "1:3: control character 0x0a");
  assert_error("\"a\x1f\"", "1:3: control character 0x1f");
  assert_error("\"\\x\"", "1:2: invalid escape '\\x'");
  assert_error("\"\\u12g4\"", "1:2: invalid \\u escape");
  assert_error("\"\\u12\"", "1:2: invalid \\u escape");
  assert_error("\"\\ud800\"", "1:2: lone high surrogate \\uD800");
  assert_error("\"\\ud800\\u0041\"", "1:2: lone high surrogate");
  assert_error("\"ab\\udc00\"", "1:4: lone low surrogate \\uDC00");
  assert_error("\"\xc3\"", "1:2: invalid UTF-8");
  assert_error("\"\xc0\xaf\"", "1:2: invalid UTF-8");     /* overlong */
  assert_error("\"\xed\xa0\x80\"", "1:2: invalid UTF-8"); /* surrogate */
  assert_error("'a'", "1:1: unexpected '''");
}

static void test_errors(void)
{
  assert_error("", "1:1: unexpected end of input, expected a value");
  assert_error("   \n  ", "2:3: unexpected end of input");
  assert_error("[1,2,]", "1:5: trailing comma before ']'");
  assert_error("{\"a\":1,}", "1:7: trailing comma before '}'");
  assert_error("[1 2]", "1:4: unexpected '2', expected ',' or ']'");
  assert_error("{\"a\" 1}", "1:6: unexpected '1', expected ':'");
  assert_error("{a:1}", "1:2: unexpected 'a', expected a string key");
  assert_error("{\"a\":}", "1:6: unexpected '}', expected a value");
  assert_error("[1,\n  tru]", "2:3: unexpected 't', expected a value");
  assert_error("[", "1:2: unexpected end of input");
  assert_error("{\"a\":1", "1:7: unexpected end of input, expected ',' or '}'");
  assert_error("1 2", "1:3: unexpected '2', expected end of input");
  assert_error("{}x", "1:3: unexpected 'x'");
  assert_error("\x01", "1:1: unexpected byte 0x01");
  assert_error("[1,\n\n   {\"k\": [nul]}]", "3:11: unexpected 'n'");
  assert_error("[,1]", "1:2: unexpected ','");
}

static void test_limits(void)
{
  char deep[200];
  memset(deep, '[', 64);
  memset(deep + 64, ']', 64);
  tz_json_t *j = tz_json_parse(deep, 128, err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL(j);
  tz_json_free(j);
  memset(deep, '[', 65);
  memset(deep + 65, ']', 65);
  j = tz_json_parse(deep, 130, err, sizeof err);
  CU_ASSERT_PTR_NULL(j);
  CU_ASSERT_STRING_EQUAL(err, "1:65: nesting deeper than 64 levels");
  /* big but within the limit: a 2 MB array of strings */
  size_t n = 200000, len = 0;
  char *big = malloc(n * 10 + 2);
  big[len++] = '[';
  for (size_t i = 0; i < n; i++)
    len += (size_t)sprintf(big + len, "%s\"%06zu\"", i ? "," : "", i);
  big[len++] = ']';
  j = tz_json_parse(big, len, err, sizeof err);
  CU_ASSERT_EQUAL(tz_json_len(j), n);
  CU_ASSERT_STRING_EQUAL(tz_json_str(tz_json_at(j, n - 1)), "199999");
  tz_json_free(j);
  free(big);
  /* over the size limit: refused before reading a byte */
  size_t huge = ((size_t)64 << 20) + 1;
  char *h = malloc(huge);
  memset(h, ' ', huge);
  h[0] = '0';
  j = tz_json_parse(h, huge, err, sizeof err);
  CU_ASSERT_PTR_NULL(j);
  CU_ASSERT_NSTRING_EQUAL(err, "1:1: input of 67108865 bytes exceeds", 36);
  free(h);
  /* input need not be NUL-terminated: the length rules */
  j = tz_json_parse("[1]garbage", 3, err, sizeof err);
  CU_ASSERT_EQUAL(tz_json_len(j), 1);
  tz_json_free(j);
  /* a tiny error buffer truncates instead of overflowing */
  char small[6];
  CU_ASSERT_PTR_NULL(tz_json_parse("[1,]", 4, small, sizeof small));
  CU_ASSERT_STRING_EQUAL(small, "1:3: ");
}

/* Writes with the writer, then checks the exact text and that it parses. */
static void test_writer(void)
{
  tz_jbuf_t b;
  tz_jbuf_init(&b);
  tz_jw_obj_begin(&b);
  tz_jw_key(&b, "s");
  tz_jw_str(&b, "q\" b\\ \n\t\x01\x1f\x7f \xc3\xa9");
  tz_jw_key(&b, "null");
  tz_jw_str(&b, NULL);
  tz_jw_key(&b, "i");
  tz_jw_int(&b, -9007199254740993LL);
  tz_jw_key(&b, "n");
  tz_jw_arr_begin(&b);
  tz_jw_num(&b, 0.1);
  tz_jw_num(&b, 3);
  tz_jw_num(&b, -2.5e-10);
  tz_jw_num(&b, 1.0 / 0.0);
  tz_jw_arr_end(&b);
  tz_jw_key(&b, "b");
  tz_jw_arr_begin(&b);
  tz_jw_bool(&b, 1);
  tz_jw_bool(&b, 0);
  tz_jw_null(&b);
  tz_jw_obj_begin(&b);
  tz_jw_obj_end(&b);
  tz_jw_arr_begin(&b);
  tz_jw_arr_end(&b);
  tz_jw_arr_end(&b);
  tz_jw_obj_end(&b);
  CU_ASSERT_EQUAL(b.err, 0);
  CU_ASSERT_EQUAL(b.depth, 0);
  CU_ASSERT_STRING_EQUAL(
      b.s, "{\"s\":\"q\\\" b\\\\ \\n\\t\\u0001\\u001f\x7f \xc3\xa9\","
           "\"null\":null,\"i\":-9007199254740993,"
           "\"n\":[0.1,3,-2.5e-10,null],\"b\":[true,false,null,{},[]]}");
  tz_json_t *j = tz_json_parse(b.s, b.len, err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT_STRING_EQUAL(tz_json_str(tz_json_get(j, "s")),
                         "q\" b\\ \n\t\x01\x1f\x7f \xc3\xa9");
  CU_ASSERT_DOUBLE_EQUAL(tz_json_num(tz_json_at(tz_json_get(j, "n"), 0)),
                         0.1, 0);
  tz_json_free(j);
  tz_jbuf_free(&b);
}

static void test_writer_repairs(void)
{
  tz_jbuf_t b;
  tz_jbuf_init(&b);
  /* ill-formed UTF-8 from the wire must not make the output unparsable */
  tz_jw_str(&b, "a\xff" "b\xc3");
  CU_ASSERT_STRING_EQUAL(b.s, "\"a\\ufffdb\\ufffd\"");
  tz_json_t *j = tz_json_parse(b.s, b.len, err, sizeof err);
  CU_ASSERT_STRING_EQUAL(tz_json_str(j), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
  tz_json_free(j);
  tz_jbuf_free(&b);
  /* top-level values are separate documents: no comma between them */
  tz_jw_int(&b, 1);
  tz_jbuf_append(&b, "\n", 1);
  tz_jw_int(&b, 2);
  CU_ASSERT_STRING_EQUAL(b.s, "1\n2");
  tz_jbuf_free(&b);
  /* misuse is sticky rather than silently wrong */
  tz_jw_arr_end(&b);
  CU_ASSERT_NOT_EQUAL(b.err, 0);
  tz_jbuf_free(&b);
  for (int i = 0; i < 70; i++)
    tz_jw_arr_begin(&b);
  CU_ASSERT_NOT_EQUAL(b.err, 0);
  tz_jbuf_free(&b);
  tz_jbuf_printf(&b, "%s=%d;", "x", 42);
  tz_jbuf_append(&b, "raw", 3);
  CU_ASSERT_STRING_EQUAL(b.s, "x=42;raw");
  tz_jbuf_free(&b);
}

/* parse -> tz_jw_value -> text must equal the canonical input. */
static void test_value_copy(void)
{
  static const char *const docs[] = {
    "{\"a\":[1,2.50,-3e+7,12345678901234567890],\"b\":{\"c\":null,"
    "\"d\":true,\"e\":false},\"s\":\"\\u0000x\\n\\\"\",\"\\t\":[]}",
    "[]", "{}", "\"\"", "0", "[[[\"deep\"]]]",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    tz_json_t *j = parse(docs[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    tz_jbuf_t b;
    tz_jbuf_init(&b);
    tz_jw_value(&b, j);
    CU_ASSERT_STRING_EQUAL(b.s, docs[i]);
    tz_jbuf_free(&b);
    tz_json_free(j);
  }
  /* a copied value nests like any other value */
  tz_json_t *j = parse("{\"x\":[1]}");
  tz_jbuf_t b;
  tz_jbuf_init(&b);
  tz_jw_arr_begin(&b);
  tz_jw_int(&b, 0);
  tz_jw_value(&b, j);
  tz_jw_value(&b, tz_json_get(j, "x"));
  tz_jw_value(&b, NULL);
  tz_jw_arr_end(&b);
  CU_ASSERT_STRING_EQUAL(b.s, "[0,{\"x\":[1]},[1],null]");
  tz_jbuf_free(&b);
  tz_json_free(j);
}

static const tz_unit_test_t reader_tests[] = {
  {"scalars", test_scalars},
  {"numbers", test_numbers},
  {"containers", test_containers},
  {"strings and escapes", test_strings},
  {"syntax errors with positions", test_errors},
  {"depth and size limits", test_limits},
  {NULL, NULL},
};

static const tz_unit_test_t writer_tests[] = {
  {"writer output and round trip", test_writer},
  {"writer repairs and misuse", test_writer_repairs},
  {"copying parsed values", test_value_copy},
  {NULL, NULL},
};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
    {"json reader", reader_tests, NULL, NULL},
    {"json writer", writer_tests, NULL, NULL},
    {NULL, NULL, NULL, NULL},
  };
  return tz_unit_main(suites);
}
