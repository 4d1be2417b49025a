/*
 * tzctl.c - owns the command-line client of trapezoid's control socket:
 * turns a command into one JSON-RPC 2.0 request, sends it over the unix
 * socket (or loopback TCP), and prints the result as text or raw JSON.
 *
 * Exit status: 0 done, 1 the server answered with an error, 2 usage error,
 * 3 no usable answer (cannot connect, timeout, malformed response).
 * "script test" runs trapezoid --test on the serving script's text and
 * exits with its status instead (0 all passed, 1 a case failed), keeping
 * 3 for its own failures.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/json.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TZ_CTL_SOCKET
#define TZ_CTL_SOCKET "/var/run/trapezoid/ctl.sock"
#endif
#ifndef TZ_SBINDIR
#define TZ_SBINDIR "/usr/sbin"
#endif

#define TZCTL_TIMEOUT_MS 30000 /* a script reload can take a moment */

enum { TZCTL_OK = 0, TZCTL_SERVER = 1, TZCTL_USAGE = 2, TZCTL_NOCONN = 3 };

typedef struct tzctl_cmd tzctl_cmd_t;

/* Writes the request's params (or nothing, to omit them); returns -1 on
 * a usage error, with the reason in err. */
typedef int (*tzctl_params_f)(const tzctl_cmd_t *cmd, int argc, char **argv,
                              tz_jbuf_t *params, char *err, size_t errlen);
typedef void (*tzctl_print_f)(const tz_json_t *result);

struct tzctl_cmd {
  const char *words; /* "module list" */
  const char *method;
  const char *args; /* usage of the arguments */
  const char *key;  /* params key of the positional argument */
  int min_args, max_args;
  tzctl_params_f params;
  tzctl_print_f print; /* NULL: script test, which runs the result */
  const char *help;
};

/* ---- text output --------------------------------------------------------- */

/* A value as one cell of text: strings as they are, string lists joined,
 * missing values as "-", anything else as JSON. Caller frees. */
static char *tzctl_text(const tz_json_t *v)
{
  tz_jbuf_t b;
  tz_jbuf_init(&b);
  if (!v || tz_json_type(v) == TZ_JSON_NULL) {
    tz_jbuf_append(&b, "-", 1);
  } else if (tz_json_type(v) == TZ_JSON_STRING) {
    tz_jbuf_append(&b, tz_json_str(v), strlen(tz_json_str(v)));
  } else if (tz_json_type(v) == TZ_JSON_ARRAY) {
    tz_jbuf_append(&b, "", 0);
    for (size_t i = 0; i < tz_json_len(v); i++) {
      char *s = tzctl_text(tz_json_at(v, i));
      tz_jbuf_printf(&b, "%s%s", i ? ", " : "", s);
      free(s);
    }
  } else {
    tz_jw_value(&b, v);
  }
  if (b.err) {
    fprintf(stderr, "tzctl: out of memory\n");
    exit(TZCTL_NOCONN);
  }
  return b.s;
}

typedef struct tzctl_table {
  size_t ncols, nrows;
  char **cells; /* row-major; row 0 is the header */
} tzctl_table_t;

static void tzctl_table_row(tzctl_table_t *t, char **cells)
{
  char **v = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *v);
  if (!v) {
    fprintf(stderr, "tzctl: out of memory\n");
    exit(TZCTL_NOCONN);
  }
  t->cells = v;
  memcpy(v + t->nrows * t->ncols, cells, t->ncols * sizeof *v);
  t->nrows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t tzctl_width(const char *s)
{
  size_t w = 0;
  for (; *s; s++)
    w += ((unsigned char)*s & 0xc0) != 0x80;
  return w;
}

/* Prints the table aligned, the last column unpadded, and frees it. */
static void tzctl_table_print(tzctl_table_t *t)
{
  size_t *width = calloc(t->ncols, sizeof *width);
  for (size_t i = 0; width && i < t->nrows * t->ncols; i++) {
    size_t w = tzctl_width(t->cells[i]);
    if (w > width[i % t->ncols])
      width[i % t->ncols] = w;
  }
  tz_jbuf_t line;
  tz_jbuf_init(&line);
  for (size_t r = 0; r < t->nrows; r++) {
    line.len = 0;
    for (size_t c = 0; c < t->ncols; c++) {
      const char *s = t->cells[r * t->ncols + c];
      size_t pad = c + 1 < t->ncols && width ? width[c] - tzctl_width(s) + 2
                                             : 0;
      tz_jbuf_printf(&line, "%s%*s", s, (int)pad, "");
    }
    while (line.len && line.s[line.len - 1] == ' ')
      line.len--; /* an empty last cell leaves no trailing blanks */
    printf("%.*s\n", (int)line.len, line.s ? line.s : "");
  }
  tz_jbuf_free(&line);
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(width);
}

/* Starts a table with the given header cells (NULL-terminated). */
static tzctl_table_t tzctl_table_new(const char *const *header)
{
  tzctl_table_t t = {0, 0, NULL};
  char *cells[8];
  while (header[t.ncols] && t.ncols < 8) {
    cells[t.ncols] = strdup(header[t.ncols]);
    t.ncols++;
  }
  tzctl_table_row(&t, cells);
  return t;
}

/* One row from the members keys[] of obj. */
static void tzctl_table_obj(tzctl_table_t *t, const tz_json_t *obj,
                            const char *const *keys)
{
  char *cells[8];
  for (size_t c = 0; c < t->ncols; c++)
    cells[c] = tzctl_text(tz_json_get(obj, keys[c]));
  tzctl_table_row(t, cells);
}

static void tzctl_print_json(const tz_json_t *result)
{
  tz_jbuf_t b;
  tz_jbuf_init(&b);
  tz_jw_value(&b, result);
  printf("%s\n", b.err ? "null" : b.s);
  tz_jbuf_free(&b);
}

static void tzctl_print_version(const tz_json_t *r)
{
  char *name = tzctl_text(tz_json_get(r, "name"));
  char *version = tzctl_text(tz_json_get(r, "version"));
  char *gen = tzctl_text(tz_json_get(r, "generation"));
  printf("%s %s (generation %s, up %.1f s)\n", name, version, gen,
         tz_json_num(tz_json_get(r, "uptime")));
  free(name);
  free(version);
  free(gen);
}

static void tzctl_print_modules(const tz_json_t *r)
{
  static const char *const head[] = {"NAME", "VERSION", "DESCRIPTION",
                                     "FUNCTIONS", NULL};
  static const char *const keys[] = {"name", "version", "description",
                                     "functions"};
  tzctl_table_t t = tzctl_table_new(head);
  for (size_t i = 0; i < tz_json_len(r); i++)
    tzctl_table_obj(&t, tz_json_at(r, i), keys);
  tzctl_table_print(&t);
}

static void tzctl_print_methods(const tz_json_t *r)
{
  static const char *const head[] = {"METHOD", "DESCRIPTION", NULL};
  static const char *const keys[] = {"name", "help"};
  tzctl_table_t t = tzctl_table_new(head);
  for (size_t i = 0; i < tz_json_len(r); i++)
    tzctl_table_obj(&t, tz_json_at(r, i), keys);
  tzctl_table_print(&t);
}

static void tzctl_print_locations(const tz_json_t *r)
{
  static const char *const head[] = {"AOR", "CONTACT", "EXPIRES", "Q", NULL};
  static const char *const keys[] = {"contact", "expires", "q"};
  tzctl_table_t t = tzctl_table_new(head);
  for (size_t i = 0; i < tz_json_len(r); i++) {
    const tz_json_t *aor = tz_json_at(r, i);
    const tz_json_t *bindings = tz_json_get(aor, "bindings");
    for (size_t j = 0; j < tz_json_len(bindings); j++) {
      char *cells[4];
      cells[0] = tzctl_text(tz_json_get(aor, "aor"));
      for (size_t k = 0; k < 3; k++)
        cells[k + 1] = tzctl_text(tz_json_get(tz_json_at(bindings, j), keys[k]));
      tzctl_table_row(&t, cells);
    }
  }
  tzctl_table_print(&t);
}

static void tzctl_print_subscribers(const tz_json_t *r)
{
  static const char *const head[] = {"USERNAME", "DOMAIN", "SHA-256", NULL};
  static const char *const keys[] = {"username", "domain", "sha256"};
  tzctl_table_t t = tzctl_table_new(head);
  for (size_t i = 0; i < tz_json_len(r); i++)
    tzctl_table_obj(&t, tz_json_at(r, i), keys);
  tzctl_table_print(&t);
}

static int tzctl_pair_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name value" lines sorted by name, for every member of an object. */
static void tzctl_print_members(const tz_json_t *obj)
{
  size_t n = 0;
  while (tz_json_key_at(obj, n))
    n++;
  char **pairs = calloc(2 * n + 1, sizeof *pairs);
  for (size_t i = 0; pairs && i < n; i++) {
    pairs[2 * i] = (char *)tz_json_key_at(obj, i);
    pairs[2 * i + 1] = tzctl_text(tz_json_value_at(obj, i));
  }
  if (pairs)
    qsort(pairs, n, 2 * sizeof *pairs, tzctl_pair_cmp);
  for (size_t i = 0; pairs && i < n; i++) {
    printf("%s %s\n", pairs[2 * i], pairs[2 * i + 1]);
    free(pairs[2 * i + 1]);
  }
  free(pairs);
}

static void tzctl_print_stats(const tz_json_t *r)
{
  tzctl_print_members(tz_json_get(r, "counters"));
}

/* Results that report an outcome: warnings (gcc-style diagnostics) go
 * verbatim to stderr, the message or "ok" to stdout. */
static void tzctl_print_outcome(const tz_json_t *r)
{
  const char *warnings = tz_json_str(tz_json_get(r, "warnings"));
  const char *message = tz_json_str(tz_json_get(r, "message"));
  const tz_json_t *gen = tz_json_get(r, "generation");
  if (warnings && *warnings)
    fprintf(stderr, "%s%s", warnings,
            warnings[strlen(warnings) - 1] == '\n' ? "" : "\n");
  if (message) {
    printf("%s\n", message);
  } else if (gen) {
    char *g = tzctl_text(gen);
    printf("generation %s\n", g);
    free(g);
  } else {
    printf("ok\n");
  }
}

static void tzctl_print_removed(const tz_json_t *r)
{
  char *n = tzctl_text(tz_json_get(r, "removed"));
  printf("removed %s\n", n);
  free(n);
}

static void tzctl_print_script(const tz_json_t *r)
{
  const char *text = tz_json_str(tz_json_get(r, "text"));
  fputs(text ? text : "", stdout);
}

/* ---- script test --------------------------------------------------------- */

/* DIR/NAME into buf (PATH_MAX); -1 with errno when it does not fit. */
static int tzctl_path(char *buf, const char *dir, const char *name)
{
  if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) < PATH_MAX)
    return 0;
  errno = ENAMETOOLONG;
  return -1;
}

/* Writes text to a new private folder as DIR/NAME, NAME the server's file
 * name, so that the harness's diagnostics read "trapezoid.cfg:12:3: ...".
 * Fills dir and file; -1 after a message. */
static int tzctl_script_write(const char *path, const char *text,
                              char *dir, char *file)
{
  const char *tmp = getenv("TMPDIR"), *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if (tzctl_path(dir, tmp && *tmp ? tmp : "/tmp", "tzctl-script.XXXXXX") < 0 ||
      !mkdtemp(dir)) {
    fprintf(stderr, "tzctl: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  int fd = tzctl_path(file, dir, *name ? name : "script.cfg") < 0
               ? -1
               : open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (fd >= 0 && !f)
    close(fd);
  int ok = f && fwrite(text, 1, strlen(text), f) == strlen(text);
  if (f && fclose(f) != 0)
    ok = 0;
  if (ok)
    return 0;
  fprintf(stderr, "tzctl: %s: %s\n", file, strerror(errno));
  unlink(file);
  rmdir(dir);
  return -1;
}

/* Runs TRAPEZOID --test --script=FILE -L MPATH ARGS... with this
 * process's stdout and stderr; returns its exit status. Like system(),
 * tzctl ignores ^C meanwhile: the harness stops, tzctl cleans up. */
static int tzctl_run_tests(const char *file, const char *mpath, int argc,
                           char **argv)
{
  const char *env = getenv("TZ_TRAPEZOID");
  const char *prog = env && *env ? env : TZ_SBINDIR "/trapezoid";
  char script[sizeof "--script=" + PATH_MAX];
  const char **av = calloc((size_t)argc + 6, sizeof *av);
  if (!av) {
    fprintf(stderr, "tzctl: out of memory\n");
    return TZCTL_NOCONN;
  }
  snprintf(script, sizeof script, "--script=%s", file);
  const char *head[] = {prog, "--test", script, "-L", mpath};
  memcpy(av, head, sizeof head);
  memcpy(av + 5, argv, (size_t)argc * sizeof *av);
  struct sigaction ign = {.sa_handler = SIG_IGN}, oint, oquit;
  sigaction(SIGINT, &ign, &oint);
  sigaction(SIGQUIT, &ign, &oquit);
  fflush(stdout);
  pid_t pid = fork();
  int fork_errno = errno;
  if (pid == 0) {
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    execvp(prog, (char *const *)av);
    fprintf(stderr, "tzctl: cannot run %s: %s (TZ_TRAPEZOID names the "
            "daemon to run)\n", prog, strerror(errno));
    _exit(TZCTL_NOCONN);
  }
  int st = 0;
  while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  sigaction(SIGINT, &oint, NULL);
  sigaction(SIGQUIT, &oquit, NULL);
  free(av);
  if (pid < 0)
    fprintf(stderr, "tzctl: fork: %s\n", strerror(fork_errno));
  else if (WIFSIGNALED(st))
    fprintf(stderr, "tzctl: %s ended by signal %d\n", prog, WTERMSIG(st));
  return pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : TZCTL_NOCONN;
}

/* script test: the script.show result tested in a scratch copy, never
 * the live server's state; the copy goes when the tests end. */
static int tzctl_script_test(const tz_json_t *r, int argc, char **argv)
{
  const char *path = tz_json_str(tz_json_get(r, "path"));
  const char *text = tz_json_str(tz_json_get(r, "text"));
  const char *mpath = tz_json_str(tz_json_get(r, "mpath"));
  char dir[PATH_MAX], file[PATH_MAX];
  if (!path || !text || !mpath) {
    fprintf(stderr, "tzctl: malformed response: no path, text or mpath\n");
    return TZCTL_NOCONN;
  }
  if (tzctl_script_write(path, text, dir, file) < 0)
    return TZCTL_NOCONN;
  int status = tzctl_run_tests(file, mpath, argc, argv);
  unlink(file);
  rmdir(dir);
  return status;
}

/* ---- requests ------------------------------------------------------------ */

/* {} or {key: argv[0]}: most commands take at most one positional. */
static int tzctl_params_positional(const tzctl_cmd_t *cmd, int argc,
                                   char **argv, tz_jbuf_t *p, char *err,
                                   size_t errlen)
{
  (void)err;
  (void)errlen;
  tz_jw_obj_begin(p);
  if (argc && cmd->key) {
    tz_jw_key(p, cmd->key);
    tz_jw_str(p, argv[0]);
  }
  tz_jw_obj_end(p);
  return 0;
}

static int tzctl_params_trace(const tzctl_cmd_t *cmd, int argc, char **argv,
                              tz_jbuf_t *p, char *err, size_t errlen)
{
  (void)cmd;
  tz_jw_obj_begin(p);
  for (int i = 0; i < argc; i += 2) {
    if ((strcmp(argv[i], "--callid") && strcmp(argv[i], "--source")) ||
        i + 1 >= argc) {
      snprintf(err, errlen, "trace on: expected --callid ID or --source IP,"
                            " got '%s'", argv[i]);
      return -1;
    }
    tz_jw_key(p, argv[i] + 2);
    tz_jw_str(p, argv[i + 1]);
  }
  tz_jw_obj_end(p);
  return 0;
}

/* USER@DOMAIN [PASSWORD]: the account splits at its last '@'. */
static int tzctl_params_subscriber(const tzctl_cmd_t *cmd, int argc,
                                   char **argv, tz_jbuf_t *p, char *err,
                                   size_t errlen)
{
  const char *at = strrchr(argv[0], '@');
  if (!at || at == argv[0] || !at[1]) {
    snprintf(err, errlen, "%s: expected USER@DOMAIN, got '%s'", cmd->words,
             argv[0]);
    return -1;
  }
  char *user = strndup(argv[0], (size_t)(at - argv[0]));
  if (!user) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  tz_jw_obj_begin(p);
  tz_jw_key(p, "username");
  tz_jw_str(p, user);
  tz_jw_key(p, "domain");
  tz_jw_str(p, at + 1);
  if (argc > 1) {
    tz_jw_key(p, "password");
    tz_jw_str(p, argv[1]);
  }
  tz_jw_obj_end(p);
  free(user);
  return 0;
}

/* AOR CONTACT [EXPIRES]: EXPIRES is checked here, so that "1h" is a usage
 * error rather than a string the server refuses. */
static int tzctl_params_location_add(const tzctl_cmd_t *cmd, int argc,
                                     char **argv, tz_jbuf_t *p, char *err,
                                     size_t errlen)
{
  char *end = NULL;
  long expires = argc > 2 ? strtol(argv[2], &end, 10) : 0;
  if (argc > 2 && (end == argv[2] || *end || expires <= 0)) {
    snprintf(err, errlen, "%s: EXPIRES must be a number of seconds above 0, "
             "got '%s'", cmd->words, argv[2]);
    return -1;
  }
  tz_jw_obj_begin(p);
  tz_jw_key(p, "aor");
  tz_jw_str(p, argv[0]);
  tz_jw_key(p, "contact");
  tz_jw_str(p, argv[1]);
  if (argc > 2) {
    tz_jw_key(p, "expires");
    tz_jw_int(p, expires);
  }
  tz_jw_obj_end(p);
  return 0;
}

/* call METHOD [PARAMS]: the params are checked here so that a typo gets a
 * usage error with its position instead of a server parse error. */
static int tzctl_params_call(const tzctl_cmd_t *cmd, int argc, char **argv,
                             tz_jbuf_t *p, char *err, size_t errlen)
{
  (void)cmd;
  if (argc < 2)
    return 0;
  char perr[200];
  tz_json_t *j = tz_json_parse(argv[1], strlen(argv[1]), perr, sizeof perr);
  tz_json_type_t t = tz_json_type(j);
  if (!j || (t != TZ_JSON_ARRAY && t != TZ_JSON_OBJECT)) {
    snprintf(err, errlen, "call: params must be a JSON array or object%s%s",
             j ? "" : ": ", j ? "" : perr);
    tz_json_free(j);
    return -1;
  }
  tz_jw_value(p, j);
  tz_json_free(j);
  return 0;
}

static void tzctl_print_pike(const tz_json_t *r)
{
  static const char *const head[] = {"SOURCE", "REMAINING", "RATE", "DROPPED",
                                     NULL};
  static const char *const keys[] = {"source", "remaining", "rate", "dropped"};
  tzctl_table_t t = tzctl_table_new(head);
  for (size_t i = 0; i < tz_json_len(r); i++)
    tzctl_table_obj(&t, tz_json_at(r, i), keys);
  tzctl_table_print(&t);
}

/* dns zone: each record type's fields, in the order "dns zone add" takes
 * them (that of the script tests' "dns" fixtures). */
static const struct {
  const char *type, *usage;
  const char *keys[7];
} tzctl_zone_types[] = {
  {"A", "NAME ADDRESS", {"address"}},
  {"AAAA", "NAME ADDRESS", {"address"}},
  {"SRV", "NAME PRIORITY WEIGHT PORT TARGET",
   {"priority", "weight", "port", "target"}},
  {"NAPTR", "NAME ORDER PREFERENCE FLAGS SERVICE REGEXP REPLACEMENT",
   {"order", "preference", "flags", "service", "regexp", "replacement"}},
  {"NXDOMAIN", "NAME", {NULL}},
};
#define TZCTL_NZONE_TYPES (sizeof tzctl_zone_types / sizeof tzctl_zone_types[0])

/* The entry of a record type (any case), or -1. */
static int tzctl_zone_type(const char *type)
{
  for (size_t i = 0; type && i < TZCTL_NZONE_TYPES; i++)
    if (!strcasecmp(type, tzctl_zone_types[i].type))
      return (int)i;
  return -1;
}

/* A record's fields as one cell, an empty one (a NAPTR's regexp) as "". */
static char *tzctl_zone_data(const tz_json_t *rec)
{
  int t = tzctl_zone_type(tz_json_str(tz_json_get(rec, "type")));
  tz_jbuf_t b;
  tz_jbuf_init(&b);
  tz_jbuf_append(&b, "", 0);
  for (size_t i = 0; t >= 0 && tzctl_zone_types[t].keys[i]; i++) {
    char *s = tzctl_text(tz_json_get(rec, tzctl_zone_types[t].keys[i]));
    tz_jbuf_printf(&b, "%s%s", i ? " " : "", *s ? s : "\"\"");
    free(s);
  }
  if (b.err) {
    fprintf(stderr, "tzctl: out of memory\n");
    exit(TZCTL_NOCONN);
  }
  return b.s;
}

static void tzctl_print_zone(const tz_json_t *r)
{
  static const char *const head[] = {"NAME", "TYPE", "TTL", "DATA", NULL};
  tzctl_table_t t = tzctl_table_new(head);
  for (size_t i = 0; i < tz_json_len(r); i++) {
    const tz_json_t *rec = tz_json_at(r, i);
    char *cells[] = {tzctl_text(tz_json_get(rec, "name")),
                     tzctl_text(tz_json_get(rec, "type")),
                     tzctl_text(tz_json_get(rec, "ttl")), tzctl_zone_data(rec)};
    tzctl_table_row(&t, cells);
  }
  tzctl_table_print(&t);
}

static size_t tzctl_zone_nkeys(int t)
{
  size_t n = 0;
  while (tzctl_zone_types[t].keys[n])
    n++;
  return n;
}

/* TYPE NAME FIELDS... [ttl=S]: the fields by the type's keys. */
static int tzctl_params_zone_add(const tzctl_cmd_t *cmd, int argc, char **argv,
                                 tz_jbuf_t *p, char *err, size_t errlen)
{
  int t = tzctl_zone_type(argv[0]);
  int ttl = argc > 2 && !strncmp(argv[argc - 1], "ttl=", 4);
  if (t < 0) {
    snprintf(err, errlen, "%s: TYPE is one of A, AAAA, SRV, NAPTR, NXDOMAIN, "
             "got '%s'", cmd->words, argv[0]);
    return -1;
  }
  if ((size_t)(argc - 2 - ttl) != tzctl_zone_nkeys(t)) {
    snprintf(err, errlen, "%s %s: expected %s [ttl=S]", cmd->words,
             tzctl_zone_types[t].type, tzctl_zone_types[t].usage);
    return -1;
  }
  tz_jw_obj_begin(p);
  tz_jw_key_str(p, "type", tzctl_zone_types[t].type);
  tz_jw_key_str(p, "name", argv[1]);
  for (size_t i = 0; tzctl_zone_types[t].keys[i]; i++)
    tz_jw_key_str(p, tzctl_zone_types[t].keys[i], argv[2 + i]);
  if (ttl)
    tz_jw_key_str(p, "ttl", argv[argc - 1] + 4);
  tz_jw_obj_end(p);
  return 0;
}

static const tzctl_cmd_t tzctl_cmds[] = {
  {"version", "version", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_version, "the server's version, generation and uptime"},
  {"module list", "module.list", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_modules, "the loaded modules"},
  {"module load", "module.load", "NAME", "name", 1, 1,
   tzctl_params_positional, tzctl_print_outcome, "load a module"},
  {"module unload", "module.unload", "NAME", "name", 1, 1,
   tzctl_params_positional, tzctl_print_outcome, "unload a module"},
  {"script reload", "script.reload", "[FILE]", "file", 0, 1,
   tzctl_params_positional, tzctl_print_outcome,
   "reload the routing script (or switch to FILE)"},
  {"script check", "script.check", "FILE", "file", 1, 1,
   tzctl_params_positional, tzctl_print_outcome,
   "check a script without loading it"},
  {"script show", "script.show", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_script, "the serving script's text (maybe not the file's)"},
  {"script test", "script.show", "[OPTION...] FILE.sipt...", NULL, 1, INT_MAX,
   tzctl_params_positional, NULL,
   "run script tests on the serving script (trapezoid --test)"},
  {"location show", "location.show", "[AOR]", "aor", 0, 1,
   tzctl_params_positional, tzctl_print_locations,
   "the registered bindings (of one AOR)"},
  {"location add", "location.add", "AOR CONTACT [EXPIRES]", NULL, 2, 3,
   tzctl_params_location_add, tzctl_print_members,
   "add a binding to an AOR (replaces the one of CONTACT)"},
  {"location remove", "location.remove", "AOR", "aor", 1, 1,
   tzctl_params_positional, tzctl_print_removed,
   "remove an AOR's bindings"},
  {"location count", "location.count", "", NULL, 0, 0,
   tzctl_params_positional, tzctl_print_members,
   "the number of AORs and bindings"},
  {"subscriber add", "auth.subscriber_add", "USER@DOMAIN PASSWORD", NULL, 2,
   2, tzctl_params_subscriber, tzctl_print_outcome,
   "add a subscriber (or set its password)"},
  {"subscriber remove", "auth.subscriber_remove", "USER@DOMAIN", NULL, 1, 1,
   tzctl_params_subscriber, tzctl_print_removed, "remove a subscriber"},
  {"subscriber list", "auth.subscriber_list", "[DOMAIN]", "domain", 0, 1,
   tzctl_params_positional, tzctl_print_subscribers,
   "the subscribers (of one domain)"},
  {"dns zone add", "dns.zone_add", "TYPE NAME ... [ttl=S]", NULL, 2, 9,
   tzctl_params_zone_add, tzctl_print_outcome,
   "add a static DNS record (dns module)"},
  {"dns zone clear", "dns.zone_clear", "", NULL, 0, 0,
   tzctl_params_positional, tzctl_print_removed,
   "drop every static DNS record"},
  {"dns zone show", "dns.zone_show", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_zone, "the static DNS records"},
  {"stats", "stats", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_stats, "the counters"},
  {"pike list", "pike.list", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_pike, "the sources blocked for flooding"},
  {"hep on", "hep.on", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_members, "start HEP capture (hep module)"},
  {"hep off", "hep.off", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_members, "stop HEP capture"},
  {"hep status", "hep.status", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_members, "whether HEP capture is on, its collector and queue"},
  {"trace on", "trace.on", "[--callid ID] [--source IP]", NULL, 0, 4,
   tzctl_params_trace, tzctl_print_outcome,
   "log SIP messages (matching a Call-ID or source address)"},
  {"trace off", "trace.off", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_outcome, "stop tracing"},
  {"help", "help", "", NULL, 0, 0, tzctl_params_positional,
   tzctl_print_methods, "the server's methods"},
  {"call", NULL, "METHOD [JSON-PARAMS]", NULL, 1, 2, tzctl_params_call,
   tzctl_print_json, "call any method; prints the result as JSON"},
};
#define TZCTL_NCMDS (sizeof tzctl_cmds / sizeof tzctl_cmds[0])

static void tzctl_usage(FILE *f)
{
  fprintf(f, "usage: tzctl [-s SOCKET | -t HOST:PORT] [--json] COMMAND "
             "[ARGS]\n\n"
             "  -s SOCKET     the control socket (default %s)\n"
             "  -t HOST:PORT  the control port on loopback instead\n"
             "  --json        print the raw JSON result\n\ncommands:\n",
          TZ_CTL_SOCKET);
  for (size_t i = 0; i < TZCTL_NCMDS; i++) {
    const tzctl_cmd_t *c = &tzctl_cmds[i];
    int n = fprintf(f, "  %s%s%s", c->words, *c->args ? " " : "", c->args);
    fprintf(f, "%*s%s\n", n < 40 ? 40 - n : 1, "", c->help);
  }
}

/* How many of argv's words a command's words are; 0 if they are not. */
static int tzctl_cmd_words(const char *words, int argc, char **argv)
{
  int n = 0;
  for (const char *w = words; *w; n++) {
    size_t len = strcspn(w, " ");
    if (n >= argc || strlen(argv[n]) != len || strncmp(argv[n], w, len))
      return 0;
    w += len + (w[len] == ' ');
  }
  return n;
}

/* The command named by argv's first words; *used says how many. */
static const tzctl_cmd_t *tzctl_cmd_find(int argc, char **argv, int *used)
{
  for (size_t i = 0; i < TZCTL_NCMDS; i++)
    if ((*used = tzctl_cmd_words(tzctl_cmds[i].words, argc, argv)))
      return &tzctl_cmds[i];
  return NULL;
}

/* ---- transport ----------------------------------------------------------- */

typedef struct tzctl_conn {
  int fd;
  const char *peer; /* for messages */
  struct timespec deadline;
} tzctl_conn_t;

static int tzctl_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tzctl_fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int tzctl_connect_unix(const char *path, char *err, size_t errlen)
{
  struct sockaddr_un sun = {0};
  sun.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun.sun_path)
    return tzctl_fail(err, errlen, "%s: socket path too long", path);
  strcpy(sun.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
    return fd;
  int e = errno;
  if (fd >= 0)
    close(fd);
  return tzctl_fail(err, errlen, "cannot connect to %s: %s%s", path,
                    strerror(e),
                    e == ENOENT || e == ECONNREFUSED
                        ? " (is trapezoid running with a control socket?)"
                        : "");
}

static int tzctl_connect_tcp(const char *addr, char *err, size_t errlen)
{
  char host[256];
  const char *colon = strrchr(addr, ':'), *h = addr;
  size_t hlen = colon ? (size_t)(colon - addr) : 0;
  if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']')
    h++, hlen -= 2;
  if (!colon || !hlen || hlen >= sizeof host || !colon[1])
    return tzctl_fail(err, errlen, "%s: expected HOST:PORT", addr);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  struct addrinfo hints = {0}, *res, *ai;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, colon + 1, &hints, &res);
  if (rc)
    return tzctl_fail(err, errlen, "%s: %s", addr, gai_strerror(rc));
  int fd = -1, e = 0;
  for (ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
      e = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    return tzctl_fail(err, errlen, "cannot connect to %s: %s", addr,
                      strerror(e));
  return fd;
}

/* Milliseconds left before the deadline, 0 once past it. */
static int tzctl_remaining(const tzctl_conn_t *c)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ms = (c->deadline.tv_sec - now.tv_sec) * 1000LL +
                 (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
  return ms > 0 ? (int)ms : 0;
}

/* Waits for the socket; -1 with a message on timeout or failure. */
static int tzctl_wait(const tzctl_conn_t *c, short events, char *err,
                      size_t errlen)
{
  struct pollfd pfd = {c->fd, events, 0};
  int rc;
  do
    rc = poll(&pfd, 1, tzctl_remaining(c));
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return tzctl_fail(err, errlen, "no answer from %s within %d s", c->peer,
                      TZCTL_TIMEOUT_MS / 1000);
  if (rc < 0)
    return tzctl_fail(err, errlen, "%s: poll: %s", c->peer, strerror(errno));
  return 0;
}

static int tzctl_send(const tzctl_conn_t *c, const char *s, size_t len,
                      char *err, size_t errlen)
{
  while (len) {
    if (tzctl_wait(c, POLLOUT, err, errlen) < 0)
      return -1;
    ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return tzctl_fail(err, errlen, "%s: send: %s", c->peer,
                        strerror(errno));
    s += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads up to the first newline into line (without it). */
static int tzctl_recv_line(const tzctl_conn_t *c, tz_jbuf_t *line, char *err,
                           size_t errlen)
{
  for (;;) {
    char buf[65536];
    if (tzctl_wait(c, POLLIN, err, errlen) < 0)
      return -1;
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return tzctl_fail(err, errlen, "%s: recv: %s", c->peer,
                        strerror(errno));
    if (n == 0)
      return tzctl_fail(err, errlen, "%s closed the connection without an "
                        "answer", c->peer);
    char *nl = memchr(buf, '\n', (size_t)n);
    tz_jbuf_append(line, buf, nl ? (size_t)(nl - buf) : (size_t)n);
    if (line->err)
      return tzctl_fail(err, errlen, "out of memory");
    if (nl)
      return 0;
  }
}

static void tzctl_request_write(tz_jbuf_t *req, const char *method,
                                const tz_jbuf_t *params)
{
  tz_jw_obj_begin(req);
  tz_jw_key(req, "jsonrpc");
  tz_jw_str(req, "2.0");
  tz_jw_key(req, "method");
  tz_jw_str(req, method);
  if (params->len) {
    tz_jw_key(req, "params");
    tz_jw_raw(req, params->s, params->len);
  }
  tz_jw_key(req, "id");
  tz_jw_int(req, 1);
  tz_jw_obj_end(req);
  tz_jbuf_append(req, "\n", 1);
}

/* Sends the request and reads its response line into resp. */
static int tzctl_exchange(const char *sock, const char *tcp,
                          const tz_jbuf_t *req, tz_jbuf_t *resp, char *err,
                          size_t errlen)
{
  tzctl_conn_t c;
  c.peer = tcp ? tcp : sock;
  c.fd = tcp ? tzctl_connect_tcp(tcp, err, errlen)
             : tzctl_connect_unix(sock, err, errlen);
  if (c.fd < 0)
    return -1;
  clock_gettime(CLOCK_MONOTONIC, &c.deadline);
  c.deadline.tv_sec += TZCTL_TIMEOUT_MS / 1000;
  int rc = tzctl_send(&c, req->s, req->len, err, errlen);
  if (rc == 0)
    rc = tzctl_recv_line(&c, resp, err, errlen);
  close(c.fd);
  return rc;
}

/* Prints the response, or runs it for script test (its arguments in
 * argv); returns the exit status. */
static int tzctl_response_print(const tzctl_cmd_t *cmd, const tz_jbuf_t *resp,
                                int json, int argc, char **argv)
{
  char err[256];
  tz_json_t *r = tz_json_parse(resp->s, resp->len, err, sizeof err);
  const tz_json_t *error = tz_json_get(r, "error");
  const tz_json_t *result = tz_json_get(r, "result");
  int status = TZCTL_OK;
  if (!r) {
    fprintf(stderr, "tzctl: malformed response: %s\n", err);
    status = TZCTL_NOCONN;
  } else if (error) {
    const char *msg = tz_json_str(tz_json_get(error, "message"));
    if (!msg || !*msg)
      msg = "the server returned an error without a message";
    fprintf(stderr, "%s%s", msg, msg[strlen(msg) - 1] == '\n' ? "" : "\n");
    status = TZCTL_SERVER;
  } else if (!result) {
    fprintf(stderr, "tzctl: malformed response: no result\n");
    status = TZCTL_NOCONN;
  } else if (!cmd->print) { /* prints nothing of its own: --json is moot */
    status = tzctl_script_test(result, argc, argv);
  } else {
    (json ? tzctl_print_json : cmd->print)(result);
  }
  tz_json_free(r);
  return status;
}

/* ---- main ---------------------------------------------------------------- */

static int tzctl_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int tzctl_usage_error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("tzctl: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\n(tzctl -h lists the commands)\n", stderr);
  va_end(ap);
  return TZCTL_USAGE;
}

int main(int argc, char **argv)
{
  const char *sock = TZ_CTL_SOCKET, *tcp = NULL;
  int json = 0, i = 1, nsel = 0;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      tzctl_usage(stdout);
      return TZCTL_OK;
    } else if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "-t")) &&
               i + 1 < argc) {
      *(argv[i][1] == 's' ? &sock : &tcp) = argv[i + 1];
      nsel++;
      i++;
    } else {
      return tzctl_usage_error("unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (nsel > 1)
    return tzctl_usage_error("-s and -t are exclusive, and given once");
  if (i >= argc)
    return tzctl_usage_error("no command");
  /* --json may also follow the command, where people tend to put it */
  int n = 0;
  for (int k = i; k < argc; k++)
    if (strcmp(argv[k], "--json"))
      argv[i + n++] = argv[k];
    else
      json = 1;
  int used;
  const tzctl_cmd_t *cmd = tzctl_cmd_find(n, argv + i, &used);
  if (!cmd)
    return tzctl_usage_error("unknown command '%s'", argv[i]);
  int nargs = n - used;
  char **args = argv + i + used;
  if (nargs < cmd->min_args || nargs > cmd->max_args)
    return tzctl_usage_error("usage: tzctl %s %s", cmd->words, cmd->args);
  char err[512];
  tz_jbuf_t params, req, resp;
  tz_jbuf_init(&params);
  tz_jbuf_init(&req);
  tz_jbuf_init(&resp);
  int status;
  if (cmd->params(cmd, nargs, args, &params, err, sizeof err) < 0) {
    status = tzctl_usage_error("%s", err);
  } else {
    tzctl_request_write(&req, cmd->method ? cmd->method : args[0], &params);
    if (tzctl_exchange(sock, tcp, &req, &resp, err, sizeof err) < 0) {
      fprintf(stderr, "tzctl: %s\n", err);
      status = TZCTL_NOCONN;
    } else {
      status = tzctl_response_print(cmd, &resp, json, nargs, args);
    }
  }
  tz_jbuf_free(&params);
  tz_jbuf_free(&req);
  tz_jbuf_free(&resp);
  return status;
}
