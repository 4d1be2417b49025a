/*
 * location.h - the binding store interface: what a registrar saves and
 * what lookup reads (RFC 3261 section 10.3 bindings).
 *
 * A store module (modules/location: memory index + sqlite) implements it
 * and registers it as the service TZ_LOCATION_SERVICE; the registrar finds
 * it with tz_service_get(). Another backend (PostgreSQL for a farm of
 * proxies) can replace sqlite behind the same struct without touching the
 * registrar.
 */
#ifndef TZ_LOCATION_H
#define TZ_LOCATION_H

#include <trapezoid/trapezoid.h>

#define TZ_LOCATION_SERVICE "location"
#define TZ_LOCATION_API_VERSION 2

/* One binding of an address-of-record to a contact. Strings may be NULL
 * where optional. Columns follow Kamailio's location table so data can be
 * migrated. */
typedef struct tz_binding {
  const char *contact;     /* Contact URI, as the UA sent it */
  const char *received;    /* "sip:IP:PORT;transport=PROTO" it came from */
  const char *path;        /* RFC 3327 Path values, comma-separated */
  const char *callid;
  unsigned long cseq;
  long expires;            /* absolute time, epoch seconds */
  int q;                   /* q-value x 1000 (0..1000); -1 if not given */
  long last_modified;      /* epoch seconds of the REGISTER that set it */
  const char *user_agent;
  const char *socket;      /* local socket it arrived on: "udp:IP:PORT" */
  const char *instance;    /* +sip.instance (RFC 5626), or NULL */
  long reg_id;             /* RFC 5626 reg-id, 0 if none */
  unsigned flags;
  unsigned cflags;
  const char *methods;     /* allowed methods, or NULL for all */
  const char *branch;      /* "BRANCH SENT-BY" of the top Via of the REGISTER
                              that wrote it: its transaction (RFC 3261
                              17.2.3), so only a retransmission of that very
                              request may repeat its CSeq; NULL if unknown */
} tz_binding_t;

/* Called on the event loop when a save is durable (status 0) or failed
 * (status < 0: the bindings are unchanged, nothing was committed). A
 * store shared by several proxies also orders saves itself (RFC 3261
 * 10.3): TZ_LOCATION_STALE says it holds a newer save of one of the
 * contacts (same Call-ID, higher CSeq), which a retry cannot change. */
#define TZ_LOCATION_STALE (-2)
typedef void (*tz_location_done_f)(void *arg, int status);

typedef struct tz_location_api {
  /* Live bindings of aor (expires > now), best first: highest q, then
   * most recently modified. Copies are allocated in home. Returns the
   * count (0 = none), or -1 on error. */
  int (*lookup)(void *ctx, const char *aor, su_home_t *home,
                tz_binding_t **out);

  /* Replaces the whole binding set of aor with set[0..n-1] (n = 0 removes
   * the AOR) atomically: lookups see the new set at once, the change is
   * committed to durable storage with others in one batch, and done runs
   * once it is (or once it failed, after which the old set is restored).
   * Returns 0 if queued, -1 if it could not even be queued (done does not
   * run). */
  int (*save)(void *ctx, const char *aor, const tz_binding_t *set, size_t n,
              tz_location_done_f done, void *arg);

  /* Saves of aor queued or committing: not yet durable. A registrar
   * answering statelessly uses it to tell a retransmitted REGISTER whose
   * original is still being stored (stay silent) from one whose original
   * was answered (answer again). */
  unsigned (*pending)(void *ctx, const char *aor);

  /* Calls cb for every AOR with live bindings, best first; the bindings
   * are valid during the call only. For operators (tzctl), not per call. */
  void (*each)(void *ctx,
               void (*cb)(void *arg, const char *aor, const tz_binding_t *b,
                          int n),
               void *arg);

  /* Counts for stats: AORs with at least one live binding, and bindings. */
  void (*count)(void *ctx, unsigned long *aors, unsigned long *bindings);
} tz_location_api_t;

#endif
