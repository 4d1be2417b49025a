/*
 * service.c - named, versioned interfaces that one module provides and
 * others use, so modules never link to or include each other.
 *
 * The newest registration of a name wins, so a provider in a new
 * generation takes over from the old one before the old one retires.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include "runtime/module.h"
#include "lib/owner.h"

#include <stdlib.h>
#include <string.h>

typedef struct service {
  struct service *next, **prevp;
  char *name;
  unsigned version;
  const void *api;
  void *ctx;
} service_t;

static service_t *services; /* newest first */

/* The provider's instance goes: so does its service. */
static void service_free(void *obj)
{
  service_t *s = obj;
  if ((*s->prevp = s->next))
    s->next->prevp = s->prevp;
  free(s->name);
  free(s);
}

int tz_service_register(tz_modinst_t *mod, const char *name,
                        unsigned version, const void *api, void *ctx)
{
  service_t *s = calloc(1, sizeof *s);
  if (!s || !(s->name = strdup(name))) {
    free(s);
    return -1;
  }
  s->version = version;
  s->api = api;
  s->ctx = ctx;
  if ((s->next = services))
    services->prevp = &s->next;
  s->prevp = &services;
  services = s;
  if (!tz_cleanup_add(tz_modinst_owner(mod), service_free, s, NULL)) {
    service_free(s);
    return -1;
  }
  return 0;
}

const void *tz_service_get(const char *name, unsigned version, void **ctx)
{
  for (service_t *s = services; s; s = s->next)
    if (strcmp(s->name, name) == 0) {
      if (s->version != version)
        return NULL;
      if (ctx)
        *ctx = s->ctx;
      return s->api;
    }
  return NULL;
}
