/*
 * json.c - owns the JSON reader (strict RFC 8259, bounded) and the writer.
 *
 * Linked into both the daemon and tzctl, so it depends on libc only: no
 * Sofia, no core logging. Errors go back to the caller as text.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/json.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The control server bounds its request lines far below this; the limit
 * here is for tzctl reading large results (a big location table). */
#define JSON_MAX_SIZE ((size_t)64 << 20)
#define JSON_MAX_DEPTH 64
#define JSON_WRITER_DEPTH (sizeof ((tz_jbuf_t *)0)->need_comma)

struct tz_json {
  tz_json_type_t type;
  int b;
  double num;
  size_t n;          /* string bytes, array elements or object members */
  tz_json_t **items; /* arrays: elements; objects: key, value, key, ... */
  char text[];       /* strings: decoded; numbers: the lexeme as written */
};

/* ---- reader ------------------------------------------------------------ */

typedef struct json_parser {
  const char *s;
  size_t len, pos;
  unsigned depth;
  char *err;
  size_t errlen;
  int failed;
} json_parser_t;

/* Records the first error only, at byte offset at, as "line:col: msg". */
static void *json_fail_at(json_parser_t *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *json_fail_at(json_parser_t *p, size_t at, const char *fmt, ...)
{
  if (p->failed)
    return NULL;
  p->failed = 1;
  unsigned line = 1, col = 1;
  for (size_t i = 0; i < at && i < p->len; i++) {
    if (p->s[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  if (!p->err || !p->errlen)
    return NULL;
  int n = snprintf(p->err, p->errlen, "%u:%u: ", line, col);
  if (n >= 0 && (size_t)n < p->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return NULL;
}

static void json_free_node(tz_json_t *j)
{
  if (!j)
    return;
  size_t n = j->type == TZ_JSON_OBJECT ? 2 * j->n : j->n;
  if (j->items)
    for (size_t i = 0; i < n; i++)
      json_free_node(j->items[i]);
  free(j->items);
  free(j);
}

void tz_json_free(tz_json_t *j) { json_free_node(j); }

static tz_json_t *json_node_new(json_parser_t *p, tz_json_type_t type,
                                size_t textlen)
{
  tz_json_t *j = calloc(1, sizeof *j + textlen + 1);
  if (!j)
    return json_fail_at(p, p->pos, "out of memory");
  j->type = type;
  return j;
}

static void json_skip_ws(json_parser_t *p)
{
  while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    p->pos++;
}

static void *json_fail_unexpected(json_parser_t *p, const char *expected)
{
  if (p->pos >= p->len)
    return json_fail_at(p, p->pos, "unexpected end of input, expected %s",
                        expected);
  unsigned char c = (unsigned char)p->s[p->pos];
  if (c >= 0x20 && c < 0x7f)
    return json_fail_at(p, p->pos, "unexpected '%c', expected %s", c,
                        expected);
  return json_fail_at(p, p->pos, "unexpected byte 0x%02x, expected %s", c,
                      expected);
}

static int json_hex4(const char *s, unsigned *out)
{
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static size_t json_put_utf8(char *d, unsigned cp)
{
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xc0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xe0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  d[0] = (char)(0xf0 | (cp >> 18));
  d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  d[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0:
 * rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return len;
}

/* Decodes the escape at p->pos (just after the backslash) into d; returns
 * the bytes written, or 0 after recording an error. */
static size_t json_parse_escape(json_parser_t *p, char *d)
{
  size_t at = p->pos - 1;
  char c = p->s[p->pos++]; /* the string's extent was checked */
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *k = c ? strchr(from, c) : NULL;
  if (k) {
    *d = to[k - from];
    return 1;
  }
  if (c != 'u') {
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
      json_fail_at(p, at, "invalid escape '\\%c'", c);
    else
      json_fail_at(p, at, "invalid escape");
    return 0;
  }
  unsigned cp, lo;
  if (p->len - p->pos < 4 || json_hex4(p->s + p->pos, &cp) < 0) {
    json_fail_at(p, at, "invalid \\u escape: four hex digits expected");
    return 0;
  }
  p->pos += 4;
  if (cp >= 0xdc00 && cp <= 0xdfff) {
    json_fail_at(p, at, "lone low surrogate \\u%04X", cp);
    return 0;
  }
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (p->len - p->pos < 6 || p->s[p->pos] != '\\' ||
        p->s[p->pos + 1] != 'u' || json_hex4(p->s + p->pos + 2, &lo) < 0 ||
        lo < 0xdc00 || lo > 0xdfff) {
      json_fail_at(p, at, "lone high surrogate \\u%04X", cp);
      return 0;
    }
    p->pos += 6;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  return json_put_utf8(d, cp);
}

/* The string at p->pos (on the opening quote). The decoded text is never
 * longer than the source, so the node is sized from the source span. */
static tz_json_t *json_parse_string(json_parser_t *p)
{
  size_t start = p->pos++, end = p->pos;
  while (end < p->len && p->s[end] != '"')
    end += p->s[end] == '\\' ? 2 : 1;
  if (end >= p->len)
    return json_fail_at(p, start, "unterminated string");
  tz_json_t *j = json_node_new(p, TZ_JSON_STRING, end - p->pos);
  if (!j)
    return NULL;
  char *d = j->text;
  while (p->pos < end) {
    const unsigned char *c = (const unsigned char *)p->s + p->pos;
    size_t n;
    if (*c == '\\') {
      p->pos++;
      n = json_parse_escape(p, d);
      d += n;
    } else if (*c < 0x20) {
      n = 0;
      json_fail_at(p, p->pos, "control character 0x%02x in string", *c);
    } else {
      n = json_utf8_len(c, end - p->pos);
      if (!n)
        json_fail_at(p, p->pos, "invalid UTF-8 in string");
      memcpy(d, c, n);
      d += n;
      p->pos += n;
    }
    if (!n) {
      json_free_node(j);
      return NULL;
    }
  }
  p->pos++;
  *d = '\0';
  j->n = (size_t)(d - j->text);
  return j;
}

static size_t json_skip_digits(json_parser_t *p)
{
  size_t n = 0;
  for (; p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9'; n++)
    p->pos++;
  return n;
}

static tz_json_t *json_parse_number(json_parser_t *p)
{
  size_t start = p->pos;
  if (p->s[p->pos] == '-')
    p->pos++;
  size_t int_at = p->pos, digits = json_skip_digits(p);
  if (!digits)
    return json_fail_at(p, int_at, "digit expected in number");
  if (digits > 1 && p->s[int_at] == '0')
    return json_fail_at(p, int_at, "leading zero in number");
  if (p->pos < p->len && p->s[p->pos] == '.') {
    p->pos++;
    if (!json_skip_digits(p))
      return json_fail_at(p, p->pos, "digit expected after '.'");
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    p->pos++;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
      p->pos++;
    if (!json_skip_digits(p))
      return json_fail_at(p, p->pos, "digit expected in exponent");
  }
  size_t n = p->pos - start;
  tz_json_t *j = json_node_new(p, TZ_JSON_NUMBER, n);
  if (!j)
    return NULL;
  memcpy(j->text, p->s + start, n);
  j->n = n;
  j->num = strtod(j->text, NULL);
  if (isinf(j->num)) {
    json_free_node(j);
    return json_fail_at(p, start, "number out of range");
  }
  return j;
}

static tz_json_t *json_parse_literal(json_parser_t *p)
{
  static const struct {
    const char *word;
    tz_json_type_t type;
    int b;
  } lits[] = {{"true", TZ_JSON_BOOL, 1},
              {"false", TZ_JSON_BOOL, 0},
              {"null", TZ_JSON_NULL, 0}};
  for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
    size_t n = strlen(lits[i].word);
    if (p->len - p->pos >= n && !memcmp(p->s + p->pos, lits[i].word, n)) {
      tz_json_t *j = json_node_new(p, lits[i].type, 0);
      if (j) {
        j->b = lits[i].b;
        p->pos += n;
      }
      return j;
    }
  }
  return json_fail_unexpected(p, "a value");
}

/* Makes room for `more` item pointers after the ones j already holds. */
static int json_items_grow(json_parser_t *p, tz_json_t *j, size_t *cap,
                           size_t more)
{
  size_t used = j->type == TZ_JSON_OBJECT ? 2 * j->n : j->n;
  if (used + more <= *cap)
    return 0;
  size_t ncap = *cap ? 2 * *cap : 8;
  tz_json_t **v = realloc(j->items, ncap * sizeof *v);
  if (!v) {
    json_fail_at(p, p->pos, "out of memory");
    return -1;
  }
  j->items = v;
  *cap = ncap;
  return 0;
}

static tz_json_t *json_parse_value(json_parser_t *p);

static int json_parse_member(json_parser_t *p, tz_json_t *j, size_t *cap)
{
  if (p->pos >= p->len || p->s[p->pos] != '"') {
    json_fail_unexpected(p, "a string key");
    return -1;
  }
  tz_json_t *key = json_parse_string(p), *val = NULL;
  if (!key)
    return -1;
  json_skip_ws(p);
  if (p->pos >= p->len || p->s[p->pos] != ':') {
    json_fail_unexpected(p, "':' after the key");
  } else {
    p->pos++;
    val = json_parse_value(p);
    if (val && json_items_grow(p, j, cap, 2) == 0) {
      j->items[2 * j->n] = key;
      j->items[2 * j->n + 1] = val;
      j->n++;
      return 0;
    }
  }
  json_free_node(key);
  json_free_node(val);
  return -1;
}

static int json_parse_element(json_parser_t *p, tz_json_t *j, size_t *cap)
{
  tz_json_t *val = json_parse_value(p);
  if (!val || json_items_grow(p, j, cap, 1) < 0) {
    json_free_node(val);
    return -1;
  }
  j->items[j->n++] = val;
  return 0;
}

/* Arrays and objects share the loop: elements separated by commas, with a
 * trailing comma reported by name because it is the commonest mistake. */
static tz_json_t *json_parse_container(json_parser_t *p, tz_json_type_t type)
{
  const char close = type == TZ_JSON_OBJECT ? '}' : ']';
  if (++p->depth > JSON_MAX_DEPTH)
    return json_fail_at(p, p->pos, "nesting deeper than %d levels",
                        JSON_MAX_DEPTH);
  tz_json_t *j = json_node_new(p, type, 0);
  if (!j)
    return NULL;
  size_t cap = 0;
  p->pos++;
  json_skip_ws(p);
  int empty = p->pos < p->len && p->s[p->pos] == close;
  while (!empty) {
    int rc = type == TZ_JSON_OBJECT ? json_parse_member(p, j, &cap)
                                    : json_parse_element(p, j, &cap);
    if (rc < 0)
      goto fail;
    json_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close)
      break;
    if (p->pos >= p->len || p->s[p->pos] != ',') {
      json_fail_unexpected(p, type == TZ_JSON_OBJECT ? "',' or '}'"
                                                     : "',' or ']'");
      goto fail;
    }
    size_t comma = p->pos++;
    json_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
      json_fail_at(p, comma, "trailing comma before '%c'", close);
      goto fail;
    }
  }
  p->pos++;
  p->depth--;
  return j;
fail:
  json_free_node(j);
  return NULL;
}

static tz_json_t *json_parse_value(json_parser_t *p)
{
  json_skip_ws(p);
  if (p->pos >= p->len)
    return json_fail_unexpected(p, "a value");
  char c = p->s[p->pos];
  if (c == '{')
    return json_parse_container(p, TZ_JSON_OBJECT);
  if (c == '[')
    return json_parse_container(p, TZ_JSON_ARRAY);
  if (c == '"')
    return json_parse_string(p);
  if (c == '-' || (c >= '0' && c <= '9'))
    return json_parse_number(p);
  return json_parse_literal(p);
}

tz_json_t *tz_json_parse(const char *text, size_t len, char *err,
                         size_t errlen)
{
  json_parser_t p = {text, len, 0, 0, err, errlen, 0};
  if (err && errlen)
    err[0] = '\0';
  if (len > JSON_MAX_SIZE)
    return json_fail_at(&p, 0, "input of %zu bytes exceeds the limit of %zu",
                        len, JSON_MAX_SIZE);
  tz_json_t *j = json_parse_value(&p);
  if (!j)
    return NULL;
  json_skip_ws(&p);
  if (p.pos < len) {
    json_free_node(j);
    return json_fail_unexpected(&p, "end of input after the value");
  }
  return j;
}

/* ---- accessors ------------------------------------------------------- */

tz_json_type_t tz_json_type(const tz_json_t *j)
{
  return j ? j->type : TZ_JSON_NULL;
}

/* The first member wins when keys repeat (RFC 8259 leaves it open). */
const tz_json_t *tz_json_get(const tz_json_t *j, const char *key)
{
  if (!j || j->type != TZ_JSON_OBJECT || !key)
    return NULL;
  for (size_t i = 0; i < j->n; i++)
    if (!strcmp(j->items[2 * i]->text, key))
      return j->items[2 * i + 1];
  return NULL;
}

size_t tz_json_len(const tz_json_t *j)
{
  return j && j->type == TZ_JSON_ARRAY ? j->n : 0;
}

const tz_json_t *tz_json_at(const tz_json_t *j, size_t i)
{
  return j && j->type == TZ_JSON_ARRAY && i < j->n ? j->items[i] : NULL;
}

const char *tz_json_key_at(const tz_json_t *j, size_t i)
{
  return j && j->type == TZ_JSON_OBJECT && i < j->n ? j->items[2 * i]->text
                                                    : NULL;
}

const tz_json_t *tz_json_value_at(const tz_json_t *j, size_t i)
{
  return j && j->type == TZ_JSON_OBJECT && i < j->n ? j->items[2 * i + 1]
                                                    : NULL;
}

const char *tz_json_str(const tz_json_t *j)
{
  return j && j->type == TZ_JSON_STRING ? j->text : NULL;
}

double tz_json_num(const tz_json_t *j)
{
  return j && j->type == TZ_JSON_NUMBER ? j->num : 0;
}

int tz_json_bool(const tz_json_t *j)
{
  return j && j->type == TZ_JSON_BOOL && j->b;
}

/* ---- writer ------------------------------------------------------------ */

void tz_jbuf_init(tz_jbuf_t *b) { memset(b, 0, sizeof *b); }

void tz_jbuf_free(tz_jbuf_t *b)
{
  free(b->s);
  tz_jbuf_init(b);
}

/* Makes room for n more bytes plus a NUL, so s is always a C string. */
static int jbuf_reserve(tz_jbuf_t *b, size_t n)
{
  if (b->err)
    return -1;
  if (b->cap - b->len > n)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len <= n) {
    if (cap > ((size_t)-1) / 2) {
      b->err = 1;
      return -1;
    }
    cap *= 2;
  }
  char *s = realloc(b->s, cap);
  if (!s) {
    b->err = 1;
    return -1;
  }
  b->s = s;
  b->cap = cap;
  return 0;
}

void tz_jbuf_append(tz_jbuf_t *b, const char *s, size_t n)
{
  if (jbuf_reserve(b, n) < 0)
    return;
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void jbuf_vprintf(tz_jbuf_t *b, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    b->err = 1;
    return;
  }
  if (jbuf_reserve(b, (size_t)n) < 0)
    return;
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void tz_jbuf_printf(tz_jbuf_t *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  jbuf_vprintf(b, fmt, ap);
  va_end(ap);
}

/* Emits the separator a new value needs. Values at depth 0 are separate
 * documents (one per line on the control socket), so they get none. A key
 * clears need_comma so that its value is not preceded by one. */
static void jw_begin_value(tz_jbuf_t *b)
{
  if (b->depth && b->need_comma[b->depth])
    tz_jbuf_append(b, ",", 1);
  b->need_comma[b->depth] = 1;
}

static void jw_open(tz_jbuf_t *b, char c)
{
  jw_begin_value(b);
  if (b->depth + 1 >= JSON_WRITER_DEPTH) {
    b->err = 1;
    return;
  }
  tz_jbuf_append(b, &c, 1);
  b->need_comma[++b->depth] = 0;
}

static void jw_close(tz_jbuf_t *b, char c)
{
  if (!b->depth) {
    b->err = 1;
    return;
  }
  b->depth--;
  tz_jbuf_append(b, &c, 1);
}

void tz_jw_obj_begin(tz_jbuf_t *b) { jw_open(b, '{'); }
void tz_jw_obj_end(tz_jbuf_t *b) { jw_close(b, '}'); }
void tz_jw_arr_begin(tz_jbuf_t *b) { jw_open(b, '['); }
void tz_jw_arr_end(tz_jbuf_t *b) { jw_close(b, ']'); }

/* Escapes what JSON requires and replaces ill-formed UTF-8 (a SIP header
 * may carry anything) with U+FFFD, so the output always parses. */
static void jw_string(tz_jbuf_t *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  tz_jbuf_append(b, "\"", 1);
  size_t run = 0; /* bytes at s that need no escaping, not yet copied */
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t len = json_utf8_len((const unsigned char *)s + i, n - i);
    if (len && c >= 0x20 && c != '"' && c != '\\') {
      i += len;
      run += len;
      continue;
    }
    tz_jbuf_append(b, s + i - run, run);
    run = 0;
    char esc[6] = {'\\', 0};
    const char *k = strchr("\"\\\b\f\n\r\t", c);
    if (!len) {
      tz_jbuf_append(b, "\\ufffd", 6);
    } else if (c && k) {
      esc[1] = "\"\\bfnrt"[k - "\"\\\b\f\n\r\t"];
      tz_jbuf_append(b, esc, 2);
    } else {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      tz_jbuf_append(b, esc, 6);
    }
    i++;
  }
  tz_jbuf_append(b, s + n - run, run);
  tz_jbuf_append(b, "\"", 1);
}

static void jw_key(tz_jbuf_t *b, const char *key, size_t n)
{
  jw_begin_value(b);
  jw_string(b, key, n);
  tz_jbuf_append(b, ":", 1);
  b->need_comma[b->depth] = 0;
}

void tz_jw_key(tz_jbuf_t *b, const char *key) { jw_key(b, key, strlen(key)); }

void tz_jw_str(tz_jbuf_t *b, const char *s)
{
  if (!s) {
    tz_jw_null(b);
    return;
  }
  jw_begin_value(b);
  jw_string(b, s, strlen(s));
}

void tz_jw_int(tz_jbuf_t *b, long long v)
{
  jw_begin_value(b);
  tz_jbuf_printf(b, "%lld", v);
}

void tz_jw_key_str(tz_jbuf_t *b, const char *key, const char *s)
{
  tz_jw_key(b, key);
  tz_jw_str(b, s);
}

void tz_jw_key_int(tz_jbuf_t *b, const char *key, long long v)
{
  tz_jw_key(b, key);
  tz_jw_int(b, v);
}

/* The shortest form that reads back as the same double; JSON has no
 * infinities or NaN, so those become null. */
void tz_jw_num(tz_jbuf_t *b, double v)
{
  if (!isfinite(v)) {
    tz_jw_null(b);
    return;
  }
  char tmp[32];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  jw_begin_value(b);
  tz_jbuf_append(b, tmp, strlen(tmp));
}

void tz_jw_bool(tz_jbuf_t *b, int v)
{
  jw_begin_value(b);
  tz_jbuf_append(b, v ? "true" : "false", v ? 4 : 5);
}

void tz_jw_null(tz_jbuf_t *b)
{
  jw_begin_value(b);
  tz_jbuf_append(b, "null", 4);
}

void tz_jw_raw(tz_jbuf_t *b, const char *s, size_t n)
{
  jw_begin_value(b);
  tz_jbuf_append(b, s, n);
}

void tz_jw_value(tz_jbuf_t *b, const tz_json_t *j)
{
  switch (tz_json_type(j)) {
  case TZ_JSON_NULL:
    tz_jw_null(b);
    break;
  case TZ_JSON_BOOL:
    tz_jw_bool(b, j->b);
    break;
  case TZ_JSON_NUMBER: /* the lexeme: ids and big integers stay exact */
    tz_jw_raw(b, j->text, j->n);
    break;
  case TZ_JSON_STRING:
    jw_begin_value(b);
    jw_string(b, j->text, j->n);
    break;
  case TZ_JSON_ARRAY:
    tz_jw_arr_begin(b);
    for (size_t i = 0; i < j->n; i++)
      tz_jw_value(b, j->items[i]);
    tz_jw_arr_end(b);
    break;
  case TZ_JSON_OBJECT:
    tz_jw_obj_begin(b);
    for (size_t i = 0; i < j->n; i++) {
      jw_key(b, j->items[2 * i]->text, j->items[2 * i]->n);
      tz_jw_value(b, j->items[2 * i + 1]);
    }
    tz_jw_obj_end(b);
    break;
  }
}

const char *tz_json_param_str(const tz_json_t *params, const char *key,
                              size_t pos)
{
  const tz_json_t *v = tz_json_type(params) == TZ_JSON_ARRAY
                           ? tz_json_at(params, pos)
                           : tz_json_get(params, key);
  return tz_json_str(v);
}
