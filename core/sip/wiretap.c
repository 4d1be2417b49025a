/*
 * wiretap.c - the wire tap registry: modules (hep) add a callback through
 * their instance, core/udpio.c hands each datagram to them, core/tportio.c
 * each TCP and TLS message. The list and
 * its locking rule are hooks.h's.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/wiretap.h"
#include "runtime/gen.h"

tz_hooks_t tz_wiretaps = TZ_HOOKS_INIT;

int tz_wiretap_add(tz_modinst_t *mod, tz_wiretap_f fn)
{
  return tz_hooks_add(&tz_wiretaps, mod, (void (*)(void))fn);
}

/* Only the calling worker's current generation's instances: during a
 * reload the old and the new instance are both registered, and an
 * instance is destroyed only once no worker serves its generation, so a
 * tap never runs on what its destroy freed. */
void tz_wiretap_run(const tz_wire_t *w)
{
  const tz_gen_t *g = tz_gen_current();
  tz_hooks_read(&tz_wiretaps);
  for (tz_hook_t *h = tz_wiretaps.head; h; h = h->next)
    if (tz_gen_has_module(g, h->mod))
      ((tz_wiretap_f)h->fn)(h->mod, w);
  tz_hooks_done(&tz_wiretaps);
}
