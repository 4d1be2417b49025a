/*
 * script_test.h - helpers shared by the script-engine unit tests: loading
 * a script from text, asserting on diagnostics, a fake module resolver
 * with test functions, and SIP messages parsed from raw text.
 */
#ifndef SCRIPT_TEST_H
#define SCRIPT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip_header.h>

#include "sip/lang.h"
#include "sip/msg.h"
#include "script/script.h"
#include "tzunit.h"

static tz_diag_t test_diag;

/* ---- the fake module ---------------------------------------------------- */

static tz_modinst_t *const test_mod = (tz_modinst_t *)&test_diag;
static char test_record_buf[1024];
static int test_fixups, test_fixup_frees;

static inline int t_true(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  (void)c;
  return 1;
}

static inline int t_false(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  (void)c;
  return -1;
}

static inline int t_zero(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  (void)c;
  return 0;
}

/* Appends its argument and a comma to test_record_buf. */
static inline int t_record(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  size_t len = strlen(test_record_buf);
  snprintf(test_record_buf + len, sizeof test_record_buf - len, "%s,",
           c->argv[0].s);
  return 1;
}

static inline int t_int(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  return (int)c->argv[0].i;
}

/* Succeeds when the (load-time compiled) regex matches the second arg. */
static inline int t_regex(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  return regexec(c->argv[0].re, c->argv[1].s, 0, NULL, 0) == 0 ? 1 : -1;
}

static inline int t_fixed(tz_msg_t *m, const tz_call_t *c) {
  (void)m;
  return c->argv[0].fixed == &test_fixups ? 1 : -1;
}

static inline int test_fixup(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                             char *err, size_t errlen) {
  (void)idx;
  if (mod != test_mod || !strcmp(arg->s, "bad")) {
    snprintf(err, errlen, "t_fixed does not like '%s'", arg->s);
    return -1;
  }
  test_fixups++;
  arg->fixed = &test_fixups;
  return 0;
}

static inline void test_fixup_free(tz_modinst_t *mod, int idx, tz_arg_t *arg) {
  (void)mod;
  (void)idx;
  (void)arg;
  test_fixup_frees++;
}

static const tz_func_export_t test_funcs[] = {
    {.name = "t_true", .handler = t_true},
    {.name = "t_false", .handler = t_false},
    {.name = "t_zero", .handler = t_zero},
    {.name = "t_record",
     .handler = t_record,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_FMT}},
    {.name = "t_int",
     .handler = t_int,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_INT}},
    {.name = "t_regex",
     .handler = t_regex,
     .min_args = 2,
     .max_args = 2,
     .args = {TZ_ARG_REGEX, TZ_ARG_STR}},
    {.name = "t_fixed",
     .handler = t_fixed,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_STR},
     .const_mask = 1,
     .fixup = test_fixup,
     .fixup_free = test_fixup_free},
    {.name = "t_reply_only", .handler = t_true, .route_mask = TZ_ROUTE_REPLY},
    {0}};

static inline const tz_func_export_t *test_lookup(void *ctx, const char *name,
                                                  tz_modinst_t **mod) {
  (void)ctx;
  for (const tz_func_export_t *fe = test_funcs; fe->name; fe++)
    if (!strcmp(fe->name, name)) {
      *mod = test_mod;
      return fe;
    }
  return NULL;
}

static inline void
test_each(void *ctx, void (*cb)(void *cbctx, const char *name), void *cbctx) {
  (void)ctx;
  for (const tz_func_export_t *fe = test_funcs; fe->name; fe++)
    cb(cbctx, fe->name);
}

static const tz_resolver_t test_resolver = {test_lookup, test_each, NULL};

/* ---- loading ------------------------------------------------------------ */

/* Parses and checks text as "t.cfg"; NULL on error (see test_diag). */
static inline tz_script_t *test_load(const char *text) {
  tz_diag_clear(&test_diag);
  tz_script_t *s =
      tz_script_parse_text("t.cfg", text, strlen(text), &tz_sip_lang, &test_diag);
  if (s && tz_script_check(s, &test_resolver, &test_diag) < 0) {
    tz_script_free(s);
    s = NULL;
  }
  return s;
}

static inline int test_diag_has(const char *want) {
  if (strstr(tz_diag_text(&test_diag), want))
    return 1;
  fprintf(stderr, "\nwanted: %s\ngot:\n%s\n", want, tz_diag_text(&test_diag));
  return 0;
}

/* Loading text must fail with `want` in the diagnostics. */
#define TEST_LOAD_FAILS(text, want)                                            \
  do {                                                                         \
    tz_script_t *s_ = test_load(text);                                         \
    CU_ASSERT_PTR_NULL(s_);                                                    \
    tz_script_free(s_);                                                        \
    CU_ASSERT(test_diag_has(want));                                            \
  } while (0)

#define TEST_LOAD_OK(s, text)                                                  \
  do {                                                                         \
    s = test_load(text);                                                       \
    if (!s)                                                                    \
      fprintf(stderr, "\n%s\n", tz_diag_text(&test_diag));                     \
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);                                           \
  } while (0)

/* ---- messages ----------------------------------------------------------- */

/* A context for a message parsed from raw text, or for none (raw NULL). */
static inline void test_msg_init(tz_msg_t *m, const char *raw, unsigned kind) {
  if (raw) {
    msg_t *msg = msg_make(sip_default_mclass(), 0, raw, (ssize_t)strlen(raw));
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sip_object(msg));
    tz_msg_open(m, NULL, msg, NULL, kind);
  } else {
    memset(m, 0, sizeof *m);
    su_home_init(m->home);
    m->route_kind = kind;
  }
}

/* Runs route r on m as the server would, without a trace. */
static inline tz_run_result_t test_run(const tz_script_t *s, const tz_route_t *r,
                                       tz_msg_t *m) {
  return tz_script_run(s, r, m, m->home, 0);
}

static inline void test_msg_deinit(tz_msg_t *m) {
  msg_t *msg = m->msg;
  tz_msg_close(m);
  if (msg)
    msg_destroy(msg);
}

/* Suite teardown: the last test's diagnostics. */
static inline int test_cleanup(void)
{
  tz_diag_clear(&test_diag);
  return 0;
}

#endif
