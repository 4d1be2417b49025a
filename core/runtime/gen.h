/*
 * gen.h - generations: an immutable bundle of checked script, module
 * instances and core settings. The core serves from the current one; each
 * message or transaction pins the generation it started in.
 */
#ifndef TZ_GEN_H
#define TZ_GEN_H

#include <trapezoid/trapezoid.h>
#include "script/script.h"

/* A listen address: proto is "udp", "tcp", "tls" or NULL for udp+tcp. */
typedef struct tz_listen {
  char *proto;
  char *host; /* IPv6 without brackets */
  unsigned port;
} tz_listen_t;

typedef struct tz_gen {
  unsigned refs;
  unsigned id;
  tz_script_t *script;
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
  unsigned tcp_idle;     /* ms an idle TCP/TLS connection is kept; 0 = no limit */
  unsigned tcp_max;      /* open TCP/TLS connections at most; 0 = no limit */
  unsigned max_msg_size; /* octets; a larger message is refused (513/drop) */
} tz_gen_t;

/* What the command line overrides. */
typedef struct tz_gen_opts {
  const char *mpath;          /* -L: replaces the script's mpath */
  const char *const *listens; /* -l: replace the script's listen= */
  size_t nlistens;
  int debug_delta;            /* -d count */
  const char *const *modparams; /* -o module.param=value, after the script's */
  size_t nmodparams;
  int check_only;             /* -c: modules are not initialised */
  /* Runtime module changes (tzctl module load/unload) over the script:
   * modules loaded although the script does not say so, and modules left
   * out (with their modparams) although it does. */
  const char *const *extra_modules;
  size_t nextra;
  const char *const *skip_modules;
  size_t nskip;
} tz_gen_opts_t;

/* Parses, loads modules, sets parameters, initialises modules and checks
 * the script. On failure returns NULL with diagnostics in d and leaves
 * nothing behind. */
tz_gen_t *tz_gen_build(const char *path, const tz_gen_opts_t *o,
                       tz_diag_t *d);
/* The same from text (tests). */
tz_gen_t *tz_gen_build_text(const char *name, const char *text,
                            const tz_gen_opts_t *o, tz_diag_t *d);

int tz_gen_has_module(const tz_gen_t *g, const tz_modinst_t *mi);
tz_modinst_t *tz_gen_find_module(const tz_gen_t *g, const char *name);

tz_gen_t *tz_gen_ref(tz_gen_t *g);
void tz_gen_unref(tz_gen_t *g);

tz_gen_t *tz_gen_current(void);
/* Makes g current (taking a reference) and drops the old one's. */
void tz_gen_set_current(tz_gen_t *g);

/* Parses "[proto:]host[:port]" ("[::1]:5060", "udp:10.0.0.1", ...). */
int tz_listen_parse(const char *text, tz_listen_t *out, char *err,
                    size_t errlen);
void tz_listen_free(tz_listen_t *l);

#endif
