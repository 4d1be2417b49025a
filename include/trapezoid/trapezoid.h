/*
 * trapezoid.h - the module-facing API of the trapezoid core.
 *
 * Modules see only include/trapezoid/: this header, the JSON writer for
 * control commands (json.h) and the service interfaces between modules
 * (location.h). It owns the module descriptor (exports table), the argument
 * and value types the script passes to module functions, and the services
 * the core lends to modules: message access and replies, timers and
 * file-descriptor watches on the event loop, logging. Every registration a
 * module makes goes through its module instance, so the core can undo all
 * of it when the module unloads. Only declarations marked TZ_API are
 * exported by the daemon.
 */
#ifndef TRAPEZOID_H
#define TRAPEZOID_H

#include <stddef.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>

#include <sofia-sip/su_config.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include <trapezoid/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct below changes layout or meaning. */
#define TZ_API_VERSION 2

#define TZ_MAX_ARGS 6

/* ---- logging ---------------------------------------------------------- */

/* syslog(3) priorities, so the levels mean the same thing everywhere. */
enum tz_log_level {
  TZ_LOG_ERR = 3,
  TZ_LOG_WARN = 4,
  TZ_LOG_NOTICE = 5,
  TZ_LOG_INFO = 6,
  TZ_LOG_DBG = 7
};

TZ_API void tz_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
TZ_API void tz_vlog(int level, const char *fmt, va_list ap);
TZ_API int tz_log_enabled(int level);
/* tz_log about a SIP message: the line ends with its Call-ID, so an
 * operator can find the call (in Homer, in the trace) the line is about.
 * sip may be NULL. Modules start the text with their name ("dns: ..."). */
TZ_API void tz_sip_log(const sip_t *sip, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- script values ----------------------------------------------------- */

typedef enum { TZ_VAL_NULL = 0, TZ_VAL_INT, TZ_VAL_STR } tz_val_type_t;

/* A script value. Strings are NUL-terminated; len excludes the NUL. The
 * string is owned by whoever produced the value (the script's constant pool,
 * or the current message's scratch home) and lives at least until the
 * message is done. */
typedef struct tz_val {
  tz_val_type_t type;
  long i;
  const char *s;
  size_t len;
} tz_val_t;

/* ---- locations and diagnostics ------------------------------------------ */

/* A source buffer: the script file text, kept so errors can quote it. */
typedef struct tz_src {
  char *name;
  char *text;
  size_t len;
} tz_src_t;

typedef struct tz_loc {
  const tz_src_t *src;
  unsigned line, col; /* both 1-based; 0 = unknown */
} tz_loc_t;

/* Accumulates "file:line:col: error: message" diagnostics, each followed by
 * the quoted source line and a caret, as gcc prints them. */
typedef struct tz_diag {
  char *buf;
  size_t len, cap;
  unsigned nerrors, nwarnings;
} tz_diag_t;

TZ_API void tz_diag_error(tz_diag_t *d, const tz_loc_t *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
TZ_API void tz_diag_warning(tz_diag_t *d, const tz_loc_t *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
TZ_API void tz_diag_clear(tz_diag_t *d);
TZ_API const char *tz_diag_text(const tz_diag_t *d);

/* ---- module descriptor ------------------------------------------------- */

typedef struct tz_msg tz_msg_t;         /* the message a script runs on */
typedef struct tz_modinst tz_modinst_t; /* a module loaded in a generation */

/* Route kinds, as a mask of where a function may be called. */
enum tz_route_kind {
  TZ_ROUTE_REQUEST = 1u << 0,
  TZ_ROUTE_REPLY = 1u << 1,
  TZ_ROUTE_FAILURE = 1u << 2,
  TZ_ROUTE_ANY = 0x7u
};

typedef enum {
  TZ_ARG_INT = 1, /* integer; a string argument must parse as one */
  TZ_ARG_STR,     /* string; the value of any expression as text */
  TZ_ARG_FMT,     /* string literal that may contain $pvars, expanded per call */
  TZ_ARG_REGEX,   /* string literal compiled as POSIX ERE at load */
  TZ_ARG_ROUTE    /* literal naming a failure_route; arg->fixed is the route */
} tz_arg_type_t;

/* A function argument as the handler sees it. For constant arguments the
 * fields are filled once at load time, and `fixed` holds what the
 * function's fixup made of it; otherwise they are filled per call. */
typedef struct tz_arg {
  tz_arg_type_t type;
  long i;                /* TZ_ARG_INT */
  const char *s;         /* TZ_ARG_STR, TZ_ARG_FMT, TZ_ARG_REGEX (source) */
  size_t len;
  const regex_t *re;     /* TZ_ARG_REGEX */
  void *fixed;           /* fixup result; NULL if no fixup ran */
} tz_arg_t;

typedef struct tz_call {
  tz_modinst_t *mod; /* instance of the exporting module; NULL for core */
  int argc;
  const tz_arg_t *argv;
  const tz_loc_t *loc; /* where the call is in the script */
} tz_call_t;

/* Return > 0 for true, < 0 for false, 0 to stop the script (like exit). */
typedef int (*tz_func_f)(tz_msg_t *m, const tz_call_t *c);

/* Runs once per constant argument at load. Returns 0, or -1 with a message
 * in err (the core prefixes file:line:col). May set arg->fixed. When a
 * script is only checked (trapezoid -c), modules are not initialised
 * first: a fixup must not rely on what init creates. */
typedef int (*tz_fixup_f)(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                          char *err, size_t errlen);
/* Undoes a fixup when the script generation is freed. */
typedef void (*tz_fixup_free_f)(tz_modinst_t *mod, int idx, tz_arg_t *arg);

typedef struct tz_func_export {
  const char *name;
  tz_func_f handler;
  int min_args, max_args;
  tz_arg_type_t args[TZ_MAX_ARGS];
  unsigned const_mask;  /* bit i set: argument i must be a literal */
  unsigned route_mask;  /* enum tz_route_kind; 0 means TZ_ROUTE_ANY */
  tz_fixup_f fixup;     /* optional, for constant arguments */
  tz_fixup_free_f fixup_free;
  const char *doc;
} tz_func_export_t;

typedef enum { TZ_PARAM_INT = 1, TZ_PARAM_STR } tz_param_type_t;

/* A module parameter lives at `offset` in the module's config struct (of
 * cfg_size bytes), one struct per module instance: no configuration lives
 * in globals. STR parameters are stored as `char *` owned by the core. */
typedef struct tz_param_export {
  const char *name;
  tz_param_type_t type;
  size_t offset;
  long int_default;
  const char *str_default;
  long min, max;        /* INT range check when min < max */
  const char *doc;
  /* STR that may hold a password (a database URL): what the core shows of
   * it (tzctl module list) has the password masked. */
  int secret;
} tz_param_export_t;

typedef struct tz_module {
  unsigned api_version;     /* TZ_API_VERSION */
  size_t size;              /* sizeof(tz_module_t) */
  const char *name;
  const char *version;
  const char *description;
  const char *const *deps;  /* NULL-terminated names, or NULL */
  size_t cfg_size;
  const tz_param_export_t *params; /* terminated by a zero entry */
  const tz_func_export_t *funcs;   /* terminated by a zero entry */
  /* Called after parameters are set, in dependency order. Returns 0 or -1
   * with a message in err. */
  int (*init)(tz_modinst_t *mod, char *err, size_t errlen);
  /* Releases everything init made. Timers and fd watches still registered
   * are removed by the core after this returns. */
  void (*destroy)(tz_modinst_t *mod);
  unsigned flags; /* TZ_MOD_* */
  /* Optional: checks the parameters without opening anything (no file,
   * no connection, no thread), so that `trapezoid -c` can name a bad
   * setting. Runs after parameters are set, before init, and instead of
   * init when only checking. 0, or -1 with a message in err. */
  int (*check)(tz_modinst_t *mod, char *err, size_t errlen);
} tz_module_t;

/* The module is written for several workers (see "workers" below): with
 * workers > 1 the core refuses a script that loads a module without it. */
#define TZ_MOD_WORKERS 1u

/* A module named NAME exports `const tz_module_t NAME_LTX_module`. */
#define TZ_MODULE_SYMBOL "_LTX_module"

TZ_API void *tz_mod_cfg(tz_modinst_t *mod);
TZ_API void *tz_mod_data(tz_modinst_t *mod);
TZ_API void tz_mod_set_data(tz_modinst_t *mod, void *data);
TZ_API const char *tz_mod_name(const tz_modinst_t *mod);

/* ---- messages ---------------------------------------------------------- */

/* The message under the script: a request in request/failure routes, a
 * response in reply routes. Valid only during the script run. Change its
 * headers with Sofia's msg_header_*() functions; a parsed header changed
 * in place must have its received text cleared with the other values of
 * its line (msg_fragment_clear_chain()), or it goes out as it came
 * (doc/architecture.md, "For module authors"). */
TZ_API msg_t *tz_msg_sofia(tz_msg_t *m);
TZ_API sip_t *tz_msg_sip(tz_msg_t *m);
TZ_API su_home_t *tz_msg_home(tz_msg_t *m);  /* scratch, freed after the run */
TZ_API unsigned tz_msg_route_kind(const tz_msg_t *m);

/* Where the message came from and the local socket it arrived on:
 * "udp" / "tcp" / "tls", an address without brackets, "udp:127.0.0.1:5060". */
TZ_API const char *tz_msg_src_ip(const tz_msg_t *m);
TZ_API unsigned tz_msg_src_port(const tz_msg_t *m);
TZ_API const char *tz_msg_proto(const tz_msg_t *m);
TZ_API const char *tz_msg_socket(tz_msg_t *m);

/* Rewrites the Request-URI. Returns 0, or -1 if uri does not parse. */
TZ_API int tz_msg_set_ruri(tz_msg_t *m, const char *uri);
/* Sets the next hop ($du) without touching the Request-URI; NULL clears. */
TZ_API int tz_msg_set_dst(tz_msg_t *m, const char *uri);
TZ_API const char *tz_msg_dst(const tz_msg_t *m);

/* Further targets for the request besides its Request-URI (forking):
 * uri becomes the branch's Request-URI, dst its next hop (or NULL), path
 * its preloaded Route set (RFC 3327, comma-separated, or NULL), q x 1000
 * (-1 unspecified). Strings are copied. Returns 0 or -1 (too many). */
#define TZ_MAX_BRANCHES 12
TZ_API int tz_msg_add_branch(tz_msg_t *m, const char *uri, const char *dst,
                      const char *path, int q);
TZ_API unsigned tz_msg_branch_count(const tz_msg_t *m);

/* True if the request follows a Route set: it carried our own Route entry
 * (the core removes those before the script runs, RFC 3261 16.4) or
 * still carries Route entries for others. */
TZ_API int tz_msg_loose_routed(const tz_msg_t *m);

/* Asks the core to add Record-Route when the request is relayed (two
 * entries when it leaves on another transport or address family). */
TZ_API void tz_msg_record_route(tz_msg_t *m);

/* Called for every request t_relay() is about to relay from a request
 * route, before its branches are prepared (e.g. to record-route all
 * initial INVITEs). Removed when the module instance is destroyed. */
typedef void (*tz_relay_hook_f)(tz_modinst_t *mod, tz_msg_t *m);
TZ_API int tz_relay_hook_add(tz_modinst_t *mod, tz_relay_hook_f fn);

/* Stateful relaying driven by a module (e.g. DNS failover, RFC 3263 4.3):
 * tz_relay_hold() takes the request over as t_relay() would (server
 * transaction, 100 Trying for INVITE, Record-Route, failure route) but sends
 * nothing; the module adds branches as it learns targets, and releases the
 * request when it will add no more. NULL if the request cannot be relayed
 * (it was answered: 483, 482 or 500). */
typedef struct tz_tx tz_relay_t;
TZ_API tz_relay_t *tz_relay_hold(tz_msg_t *m);
/* Called once per branch with its final status (any class; an internal
 * timeout is 408, a transport error 503). For status >= 300 return 1 if
 * the module started a replacement branch (failover): the failed one then
 * no longer competes for the response sent upstream. */
typedef int (*tz_branch_done_f)(tz_relay_t *r, int status, void *arg);
/* A branch to next hop dst ("sip:192.0.2.1:5060;transport=tcp"), the
 * Request-URI unchanged. Returns 0, or -1 (done is not called). */
TZ_API int tz_relay_branch(tz_relay_t *r, const char *dst, tz_branch_done_f done,
                    void *arg);
/* True once the caller CANCELed: add no more branches. */
TZ_API int tz_relay_cancelled(const tz_relay_t *r);
/* No more branches: the transaction completes with its branches, or with
 * status (failure route first) if it never had one. */
TZ_API void tz_relay_release(tz_relay_t *r, int status);

/* Sends a stateless-style final or provisional reply to the request.
 * extra_headers: NULL, or raw "Name: value\r\n" lines. Returns 0 or -1. */
TZ_API int tz_msg_reply(tz_msg_t *m, int status, const char *reason,
                 const char *extra_headers);

/* "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal:
 * the host (without brackets) into host[hostlen] and the port, or dflt
 * when none is given (dflt 0: a port is required). Ports are 1..65535.
 * Returns 0, or -1 when malformed. */
TZ_API int tz_hostport_parse(const char *text, char *host, size_t hostlen,
                             unsigned *port, unsigned dflt);
/* A port given as text: 1..65535, digits only; 0 when it is not one. */
TZ_API unsigned tz_port_parse(const char *s);

/* True if the URL's host (and port, if any) is one of ours: a listen
 * address or an alias of the current generation. */
TZ_API int tz_is_myself(const url_t *url);

/* Asynchronous replies: a function that must wait (for a database commit,
 * a DNS answer) suspends the request; the generation stays pinned until the
 * handle is answered or dropped, and nothing else replies meanwhile.
 * Request routes only. No server transaction is kept for it (replies go
 * out statelessly), so a retransmission of the request runs the script
 * again while the original waits: the suspending function must recognise
 * it (the registrar does, by Call-ID and CSeq). */
typedef struct tz_suspended tz_suspended_t;

TZ_API tz_suspended_t *tz_msg_suspend(tz_msg_t *m);
/* The request, valid until the handle is answered or dropped. */
TZ_API sip_t *tz_suspended_sip(tz_suspended_t *s);
/* Sends a reply; a final one (>= 200) also frees the handle. */
TZ_API int tz_suspended_reply(tz_suspended_t *s, int status, const char *reason,
                       const char *extra_headers);
/* Frees the handle without a reply (the client will retransmit). */
TZ_API void tz_suspended_drop(tz_suspended_t *s);

/* ---- wire tap -------------------------------------------------------------- */

/* A message as it crossed the wire: the exact bytes of one datagram
 * received or sent on one of the core's UDP sockets (nta's own
 * retransmissions and 100 Trying included), its peer and the local socket's
 * address (as bound: 0.0.0.0 for a wildcard listen); or one whole message
 * received or sent on a TCP or TLS connection (decrypted), with the
 * connection's addresses (modules/hep/hep.md). */
struct sockaddr;
struct iovec;
typedef struct tz_wire {
  int sent;                     /* 1: we sent it; 0: we received it */
  int proto;                    /* IPPROTO_UDP, or IPPROTO_TCP (TLS too) */
  const struct sockaddr *src, *dst;
  const struct iovec *iov;      /* the bytes, in iovcnt pieces, len in all */
  size_t iovcnt, len;
} tz_wire_t;

/* Called from inside the send or receive, in the worker that makes it, for
 * every datagram while the instance serves in that worker's current
 * generation (never twice while a reload's old one retires, never after
 * destroy). Must not block or touch SIP. Removed with the instance. */
typedef void (*tz_wiretap_f)(tz_modinst_t *mod, const tz_wire_t *w);
TZ_API int tz_wiretap_add(tz_modinst_t *mod, tz_wiretap_f fn);

/* ---- services between modules ------------------------------------------- */

/* Modules never call each other: a provider registers a named interface
 * struct (e.g. "location", see <trapezoid/location.h>) and users look it up at init
 * after declaring the provider in deps. Registrations are undone when the
 * provider's instance is destroyed. */
TZ_API int tz_service_register(tz_modinst_t *mod, const char *name,
                        unsigned version, const void *api, void *ctx);
/* Returns the interface, or NULL if no provider or another version. */
TZ_API const void *tz_service_get(const char *name, unsigned version, void **ctx);

/* ---- control commands ------------------------------------------------------ */

/* A module's command for tzctl / JSON-RPC (name it "MODULE.verb"). It
 * reads params and writes exactly one JSON value with the writer from
 * json.h, or returns a JSON-RPC error code (-32602 bad params, -32000
 * refused) with a message in err. Removed when the instance is destroyed;
 * the newest instance's registration answers. */
typedef struct tz_json tz_json_t;
typedef struct tz_jbuf tz_jbuf_t;
typedef int (*tz_rpc_f)(tz_modinst_t *mod, const tz_json_t *params,
                        tz_jbuf_t *out, char *err, size_t errlen);
TZ_API int tz_rpc_register(tz_modinst_t *mod, const char *method, tz_rpc_f fn,
                    const char *help);

/* ---- statistics ------------------------------------------------------------ */

/* A named counter ("dns.queries"), created on first use and kept for the
 * life of the process, so its value survives reloads and re-created module
 * instances. Shown by "tzctl stats" and the Prometheus endpoint. */
typedef struct tz_stat tz_stat_t;
TZ_API tz_stat_t *tz_stat_get(const char *name, const char *help);
TZ_API void tz_stat_add(tz_stat_t *st, long delta);
/* A gauge set to a value rather than counted. */
TZ_API void tz_stat_set(tz_stat_t *st, long value);

/* ---- event loop services ------------------------------------------------ */

typedef struct tz_timer tz_timer_t;
typedef void (*tz_timer_f)(tz_modinst_t *mod, void *arg);

/* Fires cb after ms milliseconds, then every ms if periodic. Owned by mod:
 * removed automatically when the module instance is destroyed. */
TZ_API tz_timer_t *tz_timer_start(tz_modinst_t *mod, unsigned ms, int periodic,
                           tz_timer_f cb, void *arg);
TZ_API void tz_timer_stop(tz_timer_t *t);

enum { TZ_FD_IN = 1, TZ_FD_OUT = 4, TZ_FD_ERR = 8 };
typedef struct tz_fdwatch tz_fdwatch_t;
typedef void (*tz_fd_f)(tz_modinst_t *mod, int fd, unsigned revents,
                        void *arg);

TZ_API tz_fdwatch_t *tz_fd_watch(tz_modinst_t *mod, int fd, unsigned events,
                          tz_fd_f cb, void *arg);
TZ_API void tz_fd_unwatch(tz_fdwatch_t *w);

/* ---- workers --------------------------------------------------------------- */

/* The core runs `workers` event loops, one per thread, each with its own
 * transactions (doc/architecture.md, "Workers"). The rules for a module
 * with TZ_MOD_WORKERS:
 * - its script functions, and the functions of services it provides, run
 *   in every worker at once: state they share needs its own lock;
 * - init, destroy, commands, its timers and fd watches run in worker 0
 *   (tz_timer_start and tz_fd_watch refuse from another worker);
 * - a request, a held relay (tz_relay_*) and a suspended request belong to
 *   the worker the request arrived in: work finished elsewhere goes back
 *   there with tz_worker_post. tz_suspended_reply and tz_suspended_drop
 *   may be called from any worker; the core hands them over. */
TZ_API unsigned tz_worker_self(void);  /* the calling thread's worker, 0.. */
TZ_API unsigned tz_worker_count(void);
/* Runs fn(arg) in worker id: at once if that is the caller's, else queued
 * to it, in order. -1 when fn will not run: errno ENOMEM (out of memory),
 * or ESHUTDOWN (that worker is stopping and ends its requests itself). */
TZ_API int tz_worker_post(unsigned id, void (*fn)(void *arg), void *arg);
/* A module's own thread (a database writer, a sender), no worker: it runs
 * with every signal blocked, as signals are worker 0's business. 0, or
 * pthread_create's error number; join it in destroy. */
TZ_API int tz_thread_start(pthread_t *thread, void *(*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TRAPEZOID_H */
