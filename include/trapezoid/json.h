/*
 * json.h - a small JSON reader and writer for the control interface.
 *
 * Reading builds an immutable tree from one JSON text; writing appends to a
 * growable buffer and keeps the commas and nesting right, so handlers never
 * print JSON by hand.
 */
#ifndef TZ_JSON_H
#define TZ_JSON_H

#include <stddef.h>

#include <trapezoid/export.h>

typedef enum {
  TZ_JSON_NULL = 0,
  TZ_JSON_BOOL,
  TZ_JSON_NUMBER,
  TZ_JSON_STRING,
  TZ_JSON_ARRAY,
  TZ_JSON_OBJECT
} tz_json_type_t;

typedef struct tz_json tz_json_t;

/* Parses exactly one JSON value (surrounding white space allowed). NULL on
 * error with "line:col: message" in err. Depth and size are bounded. */
TZ_API tz_json_t *tz_json_parse(const char *text, size_t len, char *err,
                         size_t errlen);
TZ_API void tz_json_free(tz_json_t *j);

TZ_API tz_json_type_t tz_json_type(const tz_json_t *j); /* NULL counts as NULL */
/* Object member by key, or NULL (also when j is not an object). */
TZ_API const tz_json_t *tz_json_get(const tz_json_t *j, const char *key);
/* Array element count (0 for non-arrays) and element i (NULL if none). */
TZ_API size_t tz_json_len(const tz_json_t *j);
TZ_API const tz_json_t *tz_json_at(const tz_json_t *j, size_t i);
/* Object members in order: key i (NULL past the end) and its value. */
TZ_API const char *tz_json_key_at(const tz_json_t *j, size_t i);
TZ_API const tz_json_t *tz_json_value_at(const tz_json_t *j, size_t i);
/* Scalars; the string is NUL-terminated and decoded (\uXXXX to UTF-8). */
TZ_API const char *tz_json_str(const tz_json_t *j);  /* NULL if not a string */
TZ_API double tz_json_num(const tz_json_t *j);       /* 0 if not a number */
TZ_API int tz_json_bool(const tz_json_t *j);         /* 0 if not true */
/* A command's string parameter: member key of a params object, or
 * element pos of a params array; NULL if absent or not a string. */
TZ_API const char *tz_json_param_str(const tz_json_t *params, const char *key,
                                     size_t pos);

/* The writer. Errors (out of memory) are sticky in err. */
typedef struct tz_jbuf {
  char *s;
  size_t len, cap;
  int err;
  unsigned depth;
  unsigned char need_comma[64];
} tz_jbuf_t;

TZ_API void tz_jbuf_init(tz_jbuf_t *b);
TZ_API void tz_jbuf_free(tz_jbuf_t *b);
/* Raw bytes, for non-JSON text such as the Prometheus format. */
TZ_API void tz_jbuf_append(tz_jbuf_t *b, const char *s, size_t n);
TZ_API void tz_jbuf_printf(tz_jbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
TZ_API void tz_jw_obj_begin(tz_jbuf_t *b);
TZ_API void tz_jw_obj_end(tz_jbuf_t *b);
TZ_API void tz_jw_arr_begin(tz_jbuf_t *b);
TZ_API void tz_jw_arr_end(tz_jbuf_t *b);
TZ_API void tz_jw_key(tz_jbuf_t *b, const char *key); /* inside an object */
TZ_API void tz_jw_str(tz_jbuf_t *b, const char *s);   /* NULL writes null */
TZ_API void tz_jw_int(tz_jbuf_t *b, long long v);
/* A member: the key and its value, the pair every object writer repeats. */
TZ_API void tz_jw_key_str(tz_jbuf_t *b, const char *key, const char *s);
TZ_API void tz_jw_key_int(tz_jbuf_t *b, const char *key, long long v);
TZ_API void tz_jw_num(tz_jbuf_t *b, double v);
TZ_API void tz_jw_bool(tz_jbuf_t *b, int v);
TZ_API void tz_jw_null(tz_jbuf_t *b);
/* A value already serialized as JSON by another writer (not checked). */
TZ_API void tz_jw_raw(tz_jbuf_t *b, const char *s, size_t n);
/* Copies an already parsed value. */
TZ_API void tz_jw_value(tz_jbuf_t *b, const tz_json_t *j);

#endif
