/*
 * rpc.c - control commands that modules provide (tz_rpc_register).
 *
 * A method may be registered by several instances of one module at once
 * (the serving generation's and a retiring or a failed new one's): the
 * newest registration answers, and destroying an instance removes only its
 * own, so a failed reload leaves the old instance's commands working.
 */
#define _POSIX_C_SOURCE 200809L
#include "rpc.h"
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

typedef struct rpc_owner {
  tz_modinst_t *mod;
  tz_rpc_f fn;
} rpc_owner_t;

typedef struct rpc_method {
  struct rpc_method *next;
  char *name;
  rpc_owner_t *owners; /* the last one answers */
  size_t nowners;
} rpc_method_t;

static rpc_method_t *rpc_methods;

static int rpc_call(void *ctx, const tz_json_t *params, tz_jbuf_t *out,
                    char *err, size_t errlen)
{
  rpc_method_t *m = ctx;
  rpc_owner_t *o = &m->owners[m->nowners - 1];
  return o->fn(o->mod, params, out, err, errlen);
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

int tz_rpc_register(tz_modinst_t *mod, const char *method, tz_rpc_f fn,
                    const char *help)
{
  rpc_method_t *m = rpc_find(method);
  if (!m && !(m = rpc_method_new(method, help)))
    return -1;
  rpc_owner_t *v = realloc(m->owners, (m->nowners + 1) * sizeof *v);
  if (!v)
    return -1;
  m->owners = v;
  m->owners[m->nowners++] = (rpc_owner_t){mod, fn};
  return 0;
}

static void rpc_method_free(rpc_method_t **pp)
{
  rpc_method_t *m = *pp;
  *pp = m->next;
  tz_ctl_unregister(m->name);
  free(m->name);
  free(m->owners);
  free(m);
}

unsigned tz_rpc_release(tz_modinst_t *mod)
{
  unsigned n = 0;
  for (rpc_method_t **pp = &rpc_methods; *pp;) {
    rpc_method_t *m = *pp;
    size_t k = 0;
    for (size_t i = 0; i < m->nowners; i++)
      if (m->owners[i].mod != mod)
        m->owners[k++] = m->owners[i];
    n += (unsigned)(m->nowners - k);
    m->nowners = k;
    if (!k)
      rpc_method_free(pp);
    else
      pp = &m->next;
  }
  return n;
}
