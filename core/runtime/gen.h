/*
 * gen.h - generations: an immutable bundle of checked script, module
 * instances and core settings. The core serves from the current one; each
 * message or transaction pins the generation it started in.
 *
 * This is the object lower layers pin; control/build.c makes them. The
 * script is opaque here: the builder puts its release on the generation's
 * cleanup list, which runs before the module instances go (fixups may
 * point into them).
 */
#ifndef TZ_GEN_H
#define TZ_GEN_H

#include <trapezoid/trapezoid.h>
#include "lib/addr.h"
#include "lib/owner.h"

#include <stdatomic.h>

struct tz_script;

typedef struct tz_gen {
  atomic_uint refs;
  unsigned id;
  struct tz_script *script;
  tz_owner_t owner;    /* released first when the generation goes */
  tz_modinst_t **mods; /* in init order (dependencies first) */
  size_t nmods;
  tz_listen_t *listens;
  size_t nlistens;
  char **aliases; /* "host" or "host:port" */
  size_t naliases;
  char *mpath;
  int log_level;
  unsigned fr_timer;     /* ms: no response at all -> 408 (T1 x 64) */
  unsigned fr_inv_timer; /* ms: INVITE after a provisional (Timer C) */
  char *ctl_socket;      /* control socket path ("" = none) */
  char *ctl_listen;      /* control over TCP on loopback, or NULL */
  char *http_listen;     /* Prometheus endpoint on loopback, or NULL */
  char *tls_dir;         /* agent.pem (certificate + key), cafile.pem */
  char *user, *group;    /* served as, once the sockets are bound; fixed at start */
  unsigned tcp_idle;     /* ms an idle TCP/TLS connection is kept; 0 = no limit */
  unsigned tcp_max;      /* open TCP/TLS connections at most; 0 = no limit */
  unsigned max_msg_size; /* octets; a larger message is refused (513/drop) */
  unsigned udp_rcvbuf;   /* bytes asked for each UDP socket; 0: the kernel's */
  unsigned udp_sndbuf;
  unsigned workers;      /* event loops (threads); fixed at start */
} tz_gen_t;

/* A new generation with the default settings, one reference, no script
 * and no modules yet; NULL when out of memory. */
tz_gen_t *tz_gen_new(void);
/* The builder is done: the generation gets its number (ids count only
 * generations that could serve). */
void tz_gen_seal(tz_gen_t *g);
/* Appends an instance; the generation owns it from then on. */
int tz_gen_add_module(tz_gen_t *g, tz_modinst_t *mi);

int tz_gen_has_module(const tz_gen_t *g, const tz_modinst_t *mi);
tz_modinst_t *tz_gen_find_module(const tz_gen_t *g, const char *name);

tz_gen_t *tz_gen_ref(tz_gen_t *g);
void tz_gen_unref(tz_gen_t *g);

tz_gen_t *tz_gen_current(void);
/* Makes g current (taking a reference) and drops the old one's. */
void tz_gen_set_current(tz_gen_t *g);

#endif
