/*
 * fuzz_script.c - libFuzzer target for the script front end: arbitrary
 * bytes through tz_script_parse_text, tz_script_check and tz_script_free,
 * with the diagnostics rendered every time.
 *
 * The resolver exports a few fake module functions covering every
 * argument type, a fixup that can fail and a fixup_free, so the checker's
 * module paths (arity, constant conversion, fixup/undo, "did you mean")
 * are reached and any fixup that is not undone shows up as a leak or an
 * imbalance abort.
 *
 * regcomp is wrapped (regcomp_wrap.c): nested repetition makes glibc's
 * compiling exponential.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "script/script.h"
#include "sip/lang.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Opaque to the core; only its identity matters. */
static char fuzz_mod_tag;
#define FUZZ_MOD ((tz_modinst_t *)&fuzz_mod_tag)

static long fuzz_fixups_live;

static int fuzz_true(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  (void)c;
  return 1;
}

/* Heap-allocates so a missing fixup_free is reported by LeakSanitizer. */
static int fuzz_fixup(tz_modinst_t *mod, int idx, tz_arg_t *arg, char *err,
                      size_t errlen)
{
  (void)idx;
  if (mod != FUZZ_MOD || (arg->s && strcmp(arg->s, "bad") == 0)) {
    strncpy(err, "fake fixup refuses 'bad'", errlen - 1);
    err[errlen - 1] = '\0';
    return -1;
  }
  arg->fixed = malloc(1);
  if (!arg->fixed)
    return -1;
  fuzz_fixups_live++;
  return 0;
}

static void fuzz_fixup_free(tz_modinst_t *mod, int idx, tz_arg_t *arg)
{
  (void)mod;
  (void)idx;
  free(arg->fixed);
  fuzz_fixups_live--;
}

/* Names a Kamailio script commonly calls, so real configs check cleanly. */
static const tz_func_export_t fuzz_funcs[] = {
    {.name = "loose_route", .handler = fuzz_true},
    {.name = "record_route", .handler = fuzz_true},
    {.name = "save",
     .handler = fuzz_true,
     .min_args = 1,
     .max_args = 2,
     .args = {TZ_ARG_STR, TZ_ARG_INT},
     .const_mask = 1u << 0,
     .fixup = fuzz_fixup,
     .fixup_free = fuzz_fixup_free,
     .route_mask = TZ_ROUTE_REQUEST},
    {.name = "lookup",
     .handler = fuzz_true,
     .min_args = 1,
     .max_args = 2,
     .args = {TZ_ARG_STR, TZ_ARG_FMT},
     .const_mask = 1u << 0,
     .fixup = fuzz_fixup,
     .fixup_free = fuzz_fixup_free},
    {.name = "f_regex",
     .handler = fuzz_true,
     .min_args = 2,
     .max_args = 2,
     .args = {TZ_ARG_REGEX, TZ_ARG_FMT}},
    {.name = "f_int",
     .handler = fuzz_true,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_INT}},
    {.name = "f_route",
     .handler = fuzz_true,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_ROUTE},
     .const_mask = 1u << 0},
    {.name = "f_reply_only", .handler = fuzz_true, .route_mask = TZ_ROUTE_REPLY},
    {0}};

static const tz_func_export_t *fuzz_lookup(void *ctx, const char *name,
                                           tz_modinst_t **mod)
{
  (void)ctx;
  for (const tz_func_export_t *fe = fuzz_funcs; fe->name; fe++)
    if (strcmp(fe->name, name) == 0) {
      *mod = FUZZ_MOD;
      return fe;
    }
  return NULL;
}

static void fuzz_each(void *ctx, void (*cb)(void *cbctx, const char *name),
                      void *cbctx)
{
  (void)ctx;
  for (const tz_func_export_t *fe = fuzz_funcs; fe->name; fe++)
    cb(cbctx, fe->name);
}

static const tz_resolver_t fuzz_resolver = {fuzz_lookup, fuzz_each, NULL};

static void fuzz_count_use(void *ctx, const tz_loc_t *loc, const char *func)
{
  (void)loc;
  (void)func;
  ++*(size_t *)ctx;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  tz_log_set_level(TZ_LOG_ERR);
  return 0;
}

/* Where walked lengths go, so the walk is not optimised away. */
static volatile size_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  tz_diag_t d = {0};
  int ok = 0;
  size_t total = 0;
  tz_script_t *s =
      tz_script_parse_text("fuzz.cfg", (const char *)data, size, &tz_sip_lang, &d);
  if (s) {
    /* Directives point into the script: reading every string lets ASan
     * check it is live and terminated. */
    const tz_directive_t *dirs;
    size_t n = tz_script_directives(s, &dirs);
    for (size_t i = 0; i < n; i++)
      total += strlen(dirs[i].name) +
               (dirs[i].param ? strlen(dirs[i].param) : 0) +
               (dirs[i].value.s ? strlen(dirs[i].value.s) : 0);
    ok = tz_script_check(s, &fuzz_resolver, &d) == 0;
    if (ok)
      tz_script_uses_module(s, FUZZ_MOD, fuzz_count_use, &total);
    tz_script_free(s);
  }
  fuzz_sink = total + strlen(tz_diag_text(&d));
  /* A rejected script must say why; an accepted one has no errors. */
  if (ok != (d.nerrors == 0))
    abort();
  if (fuzz_fixups_live != 0)
    abort();
  tz_diag_clear(&d);
  return 0;
}
