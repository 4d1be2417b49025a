/*
 * rpc.c - control commands that modules provide (tz_rpc_register).
 *
 * A method may be registered by several instances of one module at once
 * (the serving generation's and a retiring or a failed new one's): the
 * newest registration answers, and an instance that goes takes only its
 * own registration with it (through its cleanup list), so a failed reload
 * leaves the old instance's commands working.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include "control/ctl.h"
#include "runtime/module.h"
#include "lib/owner.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct rpc_method rpc_method_t;

/* One instance's registration of a method. */
typedef struct rpc_reg {
  struct rpc_reg *next; /* older registrations */
  rpc_method_t *method;
  tz_modinst_t *mod;
  tz_rpc_f fn;
} rpc_reg_t;

struct rpc_method {
  rpc_method_t *next;
  char *name;
  rpc_reg_t *regs; /* newest first: it answers */
};

static rpc_method_t *rpc_methods;

static int rpc_call(void *ctx, const tz_json_t *params, tz_jbuf_t *out,
                    char *err, size_t errlen)
{
  rpc_method_t *m = ctx;
  assert(m->regs);
  return m->regs->fn(m->regs->mod, params, out, err, errlen);
}

static rpc_method_t *rpc_find(const char *name)
{
  for (rpc_method_t *m = rpc_methods; m; m = m->next)
    if (strcmp(m->name, name) == 0)
      return m;
  return NULL;
}

static rpc_method_t *rpc_method_new(const char *name, const char *help)
{
  rpc_method_t *m = calloc(1, sizeof *m);
  if (!m || !(m->name = strdup(name)) ||
      tz_ctl_register_ctx(name, rpc_call, m, help) < 0) {
    if (m)
      free(m->name);
    free(m);
    return NULL;
  }
  m->next = rpc_methods;
  rpc_methods = m;
  return m;
}

static void rpc_method_free(rpc_method_t *m)
{
  for (rpc_method_t **pp = &rpc_methods; *pp; pp = &(*pp)->next)
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  tz_ctl_unregister(m->name);
  free(m->name);
  free(m);
}

/* The instance goes: its registration too, and the method with its last. */
static void rpc_reg_free(void *obj)
{
  rpc_reg_t *r = obj;
  rpc_method_t *m = r->method;
  for (rpc_reg_t **pp = &m->regs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  free(r);
  if (!m->regs)
    rpc_method_free(m);
}

int tz_rpc_register(tz_modinst_t *mod, const char *method, tz_rpc_f fn,
                    const char *help)
{
  rpc_method_t *m = rpc_find(method);
  if (!m && !(m = rpc_method_new(method, help)))
    return -1;
  rpc_reg_t *r = calloc(1, sizeof *r);
  if (!r) {
    if (!m->regs)
      rpc_method_free(m);
    return -1;
  }
  *r = (rpc_reg_t){m->regs, m, mod, fn};
  m->regs = r;
  if (!tz_cleanup_add(tz_modinst_owner(mod), rpc_reg_free, r, NULL)) {
    rpc_reg_free(r);
    return -1;
  }
  return 0;
}
