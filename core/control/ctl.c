/*
 * ctl.c - owns the control interface: the method registry, the JSON-RPC 2.0
 * dispatcher, the unix/loopback-TCP listeners, and the non-blocking stream
 * server (connections, buffers, flow control) that http.c reuses.
 */
#define _POSIX_C_SOURCE 200809L
#include "control/ctl.h"
#include "lib/suggest.h"
#include "runtime/command.h"
#include "control/stream.h"
#include <trapezoid/trapezoid.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_LINE ((size_t)1 << 20) /* bytes in one request line */
#define CTL_ERR_MAX 65536 /* room for a script's whole diagnostic */

/* ---- help, the dispatcher's own method ---------------------------------- */

typedef struct ctl_name {
  const char *name, *help;
} ctl_name_t;

typedef struct ctl_names {
  ctl_name_t *v;
  size_t n, cap;
  int oom;
} ctl_names_t;

static void ctl_names_add(void *arg, const char *name, const char *help)
{
  ctl_names_t *l = arg;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 32;
    ctl_name_t *v = realloc(l->v, cap * sizeof *v);
    if (!v) {
      l->oom = 1;
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (ctl_name_t){name, help};
}

static int ctl_name_cmp(const void *a, const void *b)
{
  return strcmp(((const ctl_name_t *)a)->name, ((const ctl_name_t *)b)->name);
}

/* Every command with its help text, sorted by name, "help" among them. */
static int ctl_help(tz_jbuf_t *out, char *err, size_t errlen)
{
  ctl_names_t l = {0};
  ctl_names_add(&l, "help", "list the methods with their help text");
  tz_command_each(ctl_names_add, &l);
  if (l.oom) {
    free(l.v);
    snprintf(err, errlen, "out of memory");
    return TZ_CTL_INTERNAL;
  }
  qsort(l.v, l.n, sizeof *l.v, ctl_name_cmp);
  tz_jw_arr_begin(out);
  for (size_t i = 0; i < l.n; i++) {
    tz_jw_obj_begin(out);
    tz_jw_key(out, "name");
    tz_jw_str(out, l.v[i].name);
    tz_jw_key(out, "help");
    tz_jw_str(out, l.v[i].help);
    tz_jw_obj_end(out);
  }
  tz_jw_arr_end(out);
  free(l.v);
  return 0;
}

/* The registered name closest to a mistyped one, if close enough to be a
 * typo rather than a different word. */
static void ctl_suggest_add(void *arg, const char *name, const char *help)
{
  (void)help;
  suggest_add(arg, name);
}

static const char *ctl_method_suggest(const char *name)
{
  suggest_t sg;
  suggest_init(&sg, name);
  suggest_add(&sg, "help");
  tz_command_each(ctl_suggest_add, &sg);
  return suggest_best(&sg);
}

static void ctl_write_error(tz_jbuf_t *out, const tz_json_t *id, int code,
                            const char *msg)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "jsonrpc");
  tz_jw_str(out, "2.0");
  tz_jw_key(out, "error");
  tz_jw_obj_begin(out);
  tz_jw_key(out, "code");
  tz_jw_int(out, code);
  tz_jw_key(out, "message");
  tz_jw_str(out, msg);
  tz_jw_obj_end(out);
  tz_jw_key(out, "id");
  tz_jw_value(out, id); /* NULL writes null */
  tz_jw_obj_end(out);
}

static void ctl_write_result(tz_jbuf_t *out, const tz_json_t *id,
                             const tz_jbuf_t *result)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "jsonrpc");
  tz_jw_str(out, "2.0");
  tz_jw_key(out, "result");
  tz_jw_raw(out, result->s, result->len);
  tz_jw_key(out, "id");
  tz_jw_value(out, id);
  tz_jw_obj_end(out);
}

static const char *ctl_default_message(int code)
{
  switch (code) {
  case TZ_CTL_INVALID_PARAMS:
    return "Invalid params";
  case TZ_CTL_INTERNAL:
    return "Internal error";
  default:
    return "Server error";
  }
}

/* Why req is not a valid request object, or NULL if it is one. */
static const char *ctl_request_check(const tz_json_t *req)
{
  if (tz_json_type(req) != TZ_JSON_OBJECT)
    return "Invalid Request: not an object";
  const tz_json_t *id = tz_json_get(req, "id");
  tz_json_type_t idt = tz_json_type(id);
  if (id && idt != TZ_JSON_STRING && idt != TZ_JSON_NUMBER &&
      idt != TZ_JSON_NULL)
    return "Invalid Request: id must be a string, a number or null";
  const char *v = tz_json_str(tz_json_get(req, "jsonrpc"));
  if (!v || strcmp(v, "2.0"))
    return "Invalid Request: \"jsonrpc\" must be \"2.0\"";
  if (!tz_json_str(tz_json_get(req, "method")))
    return "Invalid Request: \"method\" must be a string";
  const tz_json_t *params = tz_json_get(req, "params");
  tz_json_type_t pt = tz_json_type(params);
  if (params && pt != TZ_JSON_ARRAY && pt != TZ_JSON_OBJECT)
    return "Invalid Request: \"params\" must be an array or an object";
  return NULL;
}

/* Runs the method; the result goes to out only if there is an id. A
 * handler's output is collected apart because a failure discards it. */
static void ctl_call(const tz_command_t *m, const tz_json_t *req,
                     tz_jbuf_t *out)
{
  const tz_json_t *id = tz_json_get(req, "id");
  tz_jbuf_t result;
  tz_jbuf_init(&result);
  char *err = calloc(1, CTL_ERR_MAX);
  const tz_json_t *params = tz_json_get(req, "params");
  int code = !err ? TZ_CTL_INTERNAL
             : m ? tz_command_call(m, params, &result, err, CTL_ERR_MAX)
                 : ctl_help(&result, err, CTL_ERR_MAX);
  if (!id) {
    /* a notification: nobody hears the outcome */
  } else if (code) {
    ctl_write_error(out, id, code,
                    err && *err ? err : ctl_default_message(code));
  } else if (result.err || result.depth || !result.len) {
    ctl_write_error(out, id, TZ_CTL_INTERNAL,
                    "Internal error: the method wrote no valid result");
  } else {
    ctl_write_result(out, id, &result);
  }
  free(err);
  tz_jbuf_free(&result);
}

static void ctl_dispatch_one(const tz_json_t *req, tz_jbuf_t *out)
{
  const char *why = ctl_request_check(req);
  const tz_json_t *id = tz_json_get(req, "id");
  if (why) {
    /* answered even without an id: the spec says a broken request is
     * not a notification; the id is echoed only if it is a valid one */
    tz_json_type_t t = tz_json_type(id);
    int id_ok = t == TZ_JSON_STRING || t == TZ_JSON_NUMBER;
    ctl_write_error(out, id_ok ? id : NULL, TZ_CTL_INVALID_REQUEST, why);
    return;
  }
  const char *name = tz_json_str(tz_json_get(req, "method"));
  const tz_command_t *m = tz_command_find(name);
  if (m || strcmp(name, "help") == 0) {
    ctl_call(m, req, out); /* NULL: help */
    return;
  }
  if (!id)
    return;
  char msg[512];
  const char *near = ctl_method_suggest(name);
  if (near)
    snprintf(msg, sizeof msg, "Method not found: %s (did you mean %s?)",
             name, near);
  else
    snprintf(msg, sizeof msg, "Method not found: %s", name);
  ctl_write_error(out, id, TZ_CTL_NO_METHOD, msg);
}

/* Answers only the requests that have ids; if none do, writes nothing. */
static void ctl_dispatch_batch(const tz_json_t *batch, tz_jbuf_t *out)
{
  size_t n = tz_json_len(batch);
  if (!n) {
    ctl_write_error(out, NULL, TZ_CTL_INVALID_REQUEST,
                    "Invalid Request: empty batch");
    return;
  }
  tz_jbuf_t responses;
  tz_jbuf_init(&responses);
  tz_jw_arr_begin(&responses);
  size_t empty = responses.len;
  for (size_t i = 0; i < n; i++)
    ctl_dispatch_one(tz_json_at(batch, i), &responses);
  tz_jw_arr_end(&responses);
  if (responses.err)
    out->err = 1;
  else if (responses.len > empty + 1)
    tz_jw_raw(out, responses.s, responses.len);
  tz_jbuf_free(&responses);
}

void tz_ctl_dispatch(const char *text, size_t len, tz_jbuf_t *out)
{
  char err[256], msg[300];
  tz_json_t *req = tz_json_parse(text, len, err, sizeof err);
  if (!req) {
    snprintf(msg, sizeof msg, "Parse error: %s", err);
    ctl_write_error(out, NULL, TZ_CTL_PARSE_ERROR, msg);
  } else if (tz_json_type(req) == TZ_JSON_ARRAY) {
    ctl_dispatch_batch(req, out);
  } else {
    ctl_dispatch_one(req, out);
  }
  tz_json_free(req);
}

/* ---- the control server ------------------------------------------------ */

static tz_stream_server_t *ctl_unix, *ctl_tcp;
static char *ctl_path;
static struct stat ctl_path_st; /* to unlink only the socket we made */

static void ctl_input_line(const char *line, size_t n, tz_jbuf_t *out)
{
  while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
               line[n - 1] == '\t'))
    n--;
  if (!n)
    return; /* blank lines keep interactive sessions friendly */
  size_t before = out->len;
  tz_ctl_dispatch(line, n, out);
  if (out->len > before)
    tz_jbuf_append(out, "\n", 1);
}

/* Newline-delimited JSON: one response line per request line; the last
 * line may lack its newline when the client half-closes. */
static size_t ctl_input(const char *in, size_t len, int eof, tz_jbuf_t *out,
                        int *done)
{
  size_t used = 0;
  while (used < len) {
    const char *nl = memchr(in + used, '\n', len - used);
    if (!nl && !eof)
      break;
    size_t n = nl ? (size_t)(nl - (in + used)) : len - used;
    ctl_input_line(in + used, n, out);
    used += n + (nl != NULL);
  }
  if (len - used > CTL_MAX_LINE) {
    char msg[96];
    snprintf(msg, sizeof msg, "Invalid Request: line longer than %zu bytes",
             CTL_MAX_LINE);
    ctl_write_error(out, NULL, TZ_CTL_INVALID_REQUEST, msg);
    tz_jbuf_append(out, "\n", 1);
    *done = 1;
    used = len;
  }
  return used;
}

static int ctl_start_unix(const char *path, char *err, size_t errlen)
{
  char *copy = strdup(path);
  if (!copy) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int fd = tz_stream_listen_unix(path, &ctl_path_st, err, errlen);
  if (fd >= 0 && !(ctl_unix = tz_stream_start(fd, "ctl", CTL_MAX_LINE + 1,
                                                  ctl_input, err, errlen)))
    unlink(path);
  if (!ctl_unix) {
    free(copy);
    return -1;
  }
  ctl_path = copy;
  return 0;
}

void tz_ctl_stop(void)
{
  tz_stream_stop(ctl_unix);
  tz_stream_stop(ctl_tcp);
  ctl_unix = ctl_tcp = NULL;
  struct stat st;
  if (ctl_path && lstat(ctl_path, &st) == 0 &&
      st.st_dev == ctl_path_st.st_dev && st.st_ino == ctl_path_st.st_ino)
    unlink(ctl_path);
  free(ctl_path);
  ctl_path = NULL;
}

int tz_ctl_start(const char *unix_path, const char *tcp, char *err,
                 size_t errlen)
{
  if (ctl_unix || ctl_tcp) {
    snprintf(err, errlen, "the control server is already running");
    return -1;
  }
  if (unix_path && ctl_start_unix(unix_path, err, errlen) < 0)
    return -1;
  if (tcp) {
    int fd = tz_stream_listen_tcp(tcp, err, errlen);
    if (fd < 0 || !(ctl_tcp = tz_stream_start(fd, "ctl", CTL_MAX_LINE + 1,
                                                  ctl_input, err, errlen))) {
      tz_ctl_stop();
      return -1;
    }
  }
  return 0;
}
