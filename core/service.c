/*
 * service.c - named, versioned interfaces that one module provides and
 * others use, so modules never link to or include each other.
 *
 * The newest registration of a name wins, so a provider in a new
 * generation takes over from the old one before the old one retires.
 */
#define _POSIX_C_SOURCE 200809L
#include "service.h"

#include <stdlib.h>
#include <string.h>

typedef struct service {
  struct service *next;
  tz_modinst_t *owner;
  char *name;
  unsigned version;
  const void *api;
  void *ctx;
} service_t;

static service_t *services; /* newest first */

int tz_service_register(tz_modinst_t *mod, const char *name,
                        unsigned version, const void *api, void *ctx)
{
  service_t *s = calloc(1, sizeof *s);
  if (!s || !(s->name = strdup(name))) {
    free(s);
    return -1;
  }
  s->owner = mod;
  s->version = version;
  s->api = api;
  s->ctx = ctx;
  s->next = services;
  services = s;
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

unsigned tz_service_release(tz_modinst_t *mod)
{
  unsigned n = 0;
  for (service_t **pp = &services; *pp;) {
    service_t *s = *pp;
    if (s->owner == mod) {
      *pp = s->next;
      free(s->name);
      free(s);
      n++;
    } else {
      pp = &s->next;
    }
  }
  return n;
}
