/*
 * testmod.c - a module for the loader tests: typed parameters, script
 * functions, and a timer plus an fd watch that destroy() deliberately
 * leaves behind, so the tests can prove the core removes them.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct testmod_cfg {
  long answer;
  char *greeting;
  char *dsn; /* never used: what tzctl shows of a secret */
  long notify_fd; /* the timer writes one byte here per tick; -1 = off */
} testmod_cfg_t;

static void testmod_tick(tz_modinst_t *mod, void *arg)
{
  (void)arg;
  testmod_cfg_t *cfg = tz_mod_cfg(mod);
  if (write((int)cfg->notify_fd, "t", 1) != 1)
    tz_log(TZ_LOG_WARN, "testmod: notify write failed");
}

static void testmod_readable(tz_modinst_t *mod, int fd, unsigned revents,
                             void *arg)
{
  (void)mod;
  (void)fd;
  (void)revents;
  (void)arg;
}

static int testmod_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  testmod_cfg_t *cfg = tz_mod_cfg(mod);
  if (cfg->answer == 13) {
    snprintf(err, errlen, "testmod: 13 is unlucky");
    return -1;
  }
  if (cfg->notify_fd >= 0) {
    if (!tz_timer_start(mod, 5, 1, testmod_tick, NULL) ||
        !tz_fd_watch(mod, (int)cfg->notify_fd, TZ_FD_IN, testmod_readable,
                     NULL))
      return -1;
  }
  return 0;
}

static int testmod_answer(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  testmod_cfg_t *cfg = tz_mod_cfg(c->mod);
  return (int)cfg->answer;
}

static int testmod_is_greeting(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  testmod_cfg_t *cfg = tz_mod_cfg(c->mod);
  return c->argv[0].s && cfg->greeting &&
                 strcmp(c->argv[0].s, cfg->greeting) == 0
             ? 1
             : -1;
}

static int testmod_fix_positive(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                                char *err, size_t errlen)
{
  (void)mod;
  (void)idx;
  if (arg->i <= 0) {
    snprintf(err, errlen, "tm_positive needs a positive number");
    return -1;
  }
  return 0;
}

static int testmod_positive(tz_msg_t *m, const tz_call_t *c)
{
  (void)m;
  return (int)c->argv[0].i;
}

static const tz_param_export_t testmod_params[] = {
  {.name = "answer",
   .type = TZ_PARAM_INT,
   .offset = offsetof(testmod_cfg_t, answer),
   .int_default = 42,
   .max = 100,
   .doc = "the number tm_answer() returns"},
  {.name = "greeting",
   .type = TZ_PARAM_STR,
   .offset = offsetof(testmod_cfg_t, greeting),
   .str_default = "hello",
   .doc = "what tm_is_greeting() compares with"},
  /* The core masks what control commands show of it (control.sh). */
  {.name = "dsn",
   .type = TZ_PARAM_STR,
   .offset = offsetof(testmod_cfg_t, dsn),
   .str_default = "postgresql://tz:pw1@db.example:5432/tz?sslmode=require"
                  "&password=pw2 password='p w\\'3' user=tz",
   .secret = 1,
   .doc = "a database URL with passwords in every form libpq takes"},
  {.name = "notify_fd",
   .type = TZ_PARAM_INT,
   .offset = offsetof(testmod_cfg_t, notify_fd),
   .int_default = -1,
   .doc = "fd the tick timer writes to"},
  {0}
};

static const tz_func_export_t testmod_funcs[] = {
  {.name = "tm_answer",
   .handler = testmod_answer,
   .route_mask = TZ_ROUTE_ANY,
   .doc = "returns the answer parameter"},
  {.name = "tm_is_greeting",
   .handler = testmod_is_greeting,
   .min_args = 1,
   .max_args = 1,
   .args = {TZ_ARG_STR},
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "compares its argument with greeting"},
  {.name = "tm_positive",
   .handler = testmod_positive,
   .min_args = 1,
   .max_args = 1,
   .args = {TZ_ARG_INT},
   .const_mask = 1,
   .route_mask = TZ_ROUTE_ANY,
   .fixup = testmod_fix_positive,
   .doc = "returns its constant positive argument"},
  {0}
};

const tz_module_t testmod_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "testmod",
  .version = "1",
  .description = "loader test module",
  .cfg_size = sizeof(testmod_cfg_t),
  .params = testmod_params,
  .funcs = testmod_funcs,
  .init = testmod_init,
  .flags = TZ_MOD_WORKERS, /* stateless */
};
