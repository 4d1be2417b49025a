/*
 * main.c - the trapezoid daemon: command line, start-up order, signals and
 * clean shutdown.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "control/build.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "runtime/module.h"
#include "control/control.h"
#include "control/ctl.h"
#include "control/notify.h"
#include "lib/privs.h"
#include "sip/dispatch.h"
#include "runtime/worker.h"
#include "sip/msg.h"
#include "sip/transport.h"
#include "lib/stats.h"
#include "sip/trace.h"
#include "test/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LISTENS 32

typedef struct opts {
  const char *cfg;
  const char *pidfile;
  int check_only, foreground, to_stderr;
  tz_gen_opts_t gen;
  const char *listens[MAX_LISTENS];
  const char *modparams[MAX_LISTENS];
  const char *ctl_socket; /* -s */
} opts_t;

static void main_usage(FILE *out)
{
  fprintf(out,
          "Usage: trapezoid [options]\n"
          "  -f FILE        routing script (default " TZ_CFGDIR "/trapezoid.cfg)\n"
          "  -c             check the script and exit (0 = OK, 1 = errors)\n"
          "  -D             stay in the foreground (do not daemonize)\n"
          "  -E             log to stderr instead of syslog\n"
          "  -l ADDR        listen on [udp:|tcp:]host[:port]; repeatable;\n"
          "                 replaces the script's listen= lines\n"
          "  -L DIR         module search path (colon-separated); replaces mpath\n"
          "  -o MOD.P=V     set parameter P of module MOD, over the script's\n"
          "                 modparam (repeatable)\n"
          "  -s PATH        control socket for tzctl; replaces ctl_socket\n"
          "  -w N           run N workers (event loops); replaces workers\n"
          "  -u USER        run as USER once the sockets are bound; replaces user\n"
          "  -g GROUP       run as GROUP (default: USER's group); replaces group\n"
          "  -P FILE        write the process id to FILE\n"
          "  -d             more debug output (repeatable)\n"
          "  --test FILE... run the script tests in FILE (trapezoid --test -h)\n"
          "  -V             print the version and exit\n"
          "  -h             this help\n");
}

static int main_parse_args(int argc, char **argv, opts_t *o)
{
  int c;
  memset(o, 0, sizeof *o);
  o->cfg = TZ_CFGDIR "/trapezoid.cfg";
  o->gen.listens = o->listens;
  o->gen.modparams = o->modparams;
  while ((c = getopt(argc, argv, "f:cDEl:L:o:s:P:w:u:g:dVh")) != -1) {
    switch (c) {
    case 'f': o->cfg = optarg; break;
    case 'c': o->check_only = o->gen.check_only = 1; break;
    case 'o':
      if (o->gen.nmodparams == MAX_LISTENS) {
        fprintf(stderr, "trapezoid: too many -o (max %d)\n", MAX_LISTENS);
        return 2;
      }
      o->modparams[o->gen.nmodparams++] = optarg;
      break;
    case 'D': o->foreground = 1; break;
    case 'E': o->to_stderr = 1; break;
    case 'L': o->gen.mpath = optarg; break;
    case 'P': o->pidfile = optarg; break;
    case 's': o->ctl_socket = optarg; break;
    case 'u': o->gen.user = optarg; break;
    case 'g': o->gen.group = optarg; break;
    case 'w':
      o->gen.workers = (unsigned)atoi(optarg);
      if (o->gen.workers < 1 || o->gen.workers > TZ_MAX_WORKERS) {
        fprintf(stderr, "trapezoid: -w takes a number from 1 to %d\n", TZ_MAX_WORKERS);
        return 2;
      }
      break;
    case 'd': o->gen.debug_delta++; break;
    case 'l':
      if (o->gen.nlistens == MAX_LISTENS) {
        fprintf(stderr, "trapezoid: too many -l (max %d)\n", MAX_LISTENS);
        return 2;
      }
      o->listens[o->gen.nlistens++] = optarg;
      break;
    case 'V': printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
    case 'h': main_usage(stdout); return 0;
    default: main_usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "trapezoid: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return -1; /* go on */
}

/* Forks; the parent waits until the child says it is serving (or dies), so
 * start-up errors still reach the terminal and the exit status. */
static int daemon_fd = -1;

static int main_daemonize(void)
{
  int p[2];
  if (pipe(p) < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid > 0) {
    close(p[1]);
    char ok = 0;
    ssize_t n = read(p[0], &ok, 1);
    _exit(n == 1 && ok == '0' ? 0 : 1);
  }
  close(p[0]);
  daemon_fd = p[1];
  return setsid() < 0 ? -1 : 0;
}

/* Tells the waiting parent that start-up succeeded, and lets go of the
 * terminal; stderr stays where it was when the log goes there (-E). */
static void main_daemon_ready(int keep_stderr)
{
  if (daemon_fd < 0)
    return;
  int fd = open("/dev/null", O_RDWR);
  if (fd >= 0) {
    dup2(fd, 0);
    dup2(fd, 1);
    if (!keep_stderr)
      dup2(fd, 2);
    if (fd > 2)
      close(fd);
  }
  if (write(daemon_fd, "0", 1) != 1)
    tz_log(TZ_LOG_WARN, "cannot notify the parent process");
  close(daemon_fd);
  daemon_fd = -1;
}

static int main_write_pidfile(const char *path)
{
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fprintf(f, "%ld\n", (long)getpid());
  return fclose(f);
}

/* The service user: its ids are effective while the modules start (their
 * files are its own), root's come back to bind, then the drop is final. */
static tz_privs_t privs;

static int main_settled(const tz_gen_t *g, void *arg, tz_diag_t *d)
{
  const opts_t *o = arg;
  char err[256];
  if (tz_privs_resolve(&privs, g->user, g->group, err, sizeof err) < 0 ||
      (!o->check_only && tz_privs_assume(&privs, err, sizeof err) < 0)) {
    tz_diag_error(d, NULL, "%s", err);
    return -1;
  }
  return 0;
}

static int main_drop_privileges(void)
{
  char err[256];
  if (tz_privs_drop(&privs, err, sizeof err) < 0) {
    tz_log(TZ_LOG_ERR, "%s: refusing to serve as root", err);
    return -1;
  }
  if (privs.mode == TZ_PRIVS_SWITCH)
    tz_log(TZ_LOG_INFO, "running as uid %ld, gid %ld", (long)privs.uid,
           (long)privs.gid);
  return 0;
}

static void main_reload(void)
{
  tz_diag_t d = {0};
  if (tz_control_reload(NULL, &d) < 0)
    tz_log(TZ_LOG_ERR, "SIGHUP: reload failed, the old script keeps serving:\n%s",
           tz_diag_text(&d));
  tz_diag_clear(&d);
}

static void main_on_signal(int signo)
{
  if (signo == SIGHUP) {
    main_reload();
    return;
  }
  tz_log(TZ_LOG_NOTICE, "signal %d: shutting down", signo);
  tz_loop_break();
}

/* The control socket and the metrics endpoint. A socket path the operator
 * chose must work; the built-in default may be taken by another server on
 * the machine, which costs only tzctl for this one. */
static int main_start_control(const opts_t *o, const tz_gen_t *g)
{
  char err[512];
  const char *path = o->ctl_socket ? o->ctl_socket
                     : g->ctl_socket ? g->ctl_socket : TZ_CTL_SOCKET;
  int chosen = o->ctl_socket || g->ctl_socket;
  if (tz_control_register_commands() < 0)
    return -1;
  if (*path && tz_ctl_start(path, g->ctl_listen, err, sizeof err) < 0) {
    tz_log(chosen ? TZ_LOG_ERR : TZ_LOG_WARN, "control socket: %s", err);
    if (chosen)
      return -1;
  }
  if (g->http_listen &&
      tz_http_start(g->http_listen, tz_control_prometheus, err, sizeof err) < 0) {
    tz_log(TZ_LOG_ERR, "metrics endpoint: %s", err);
    return -1;
  }
  return 0;
}

static void main_stop_control(void)
{
  tz_http_stop();
  tz_ctl_stop();
  tz_control_unregister_commands();
}

/* Binds every worker's sockets, as root if the daemon started as root. */
static int main_bind(const opts_t *o, tz_gen_t *g)
{
  char err[512];
  if (tz_privs_regain(&privs, err, sizeof err) == 0 &&
      tz_dispatch_start(g, err, sizeof err) == 0 &&
      tz_dispatch_start_workers(g->workers, err, sizeof err) == 0)
    return 0;
  tz_log(TZ_LOG_ERR, "%s", err);
  if (!o->to_stderr) /* syslog alone would hide it from the operator */
    fprintf(stderr, "trapezoid: %s\n", err);
  return -1;
}

static void main_started(const opts_t *o, const tz_gen_t *g)
{
  char what[1024];
  if (o->pidfile && main_write_pidfile(o->pidfile) < 0)
    tz_log(TZ_LOG_WARN, "cannot write pid file %s: %s", o->pidfile,
           strerror(errno));
  tz_notify_describe(g, what, sizeof what);
  tz_log(TZ_LOG_NOTICE, "trapezoid %s serving %s: %s", PACKAGE_VERSION, o->cfg,
         what);
  main_daemon_ready(o->to_stderr);
  tz_notify_ready(g);
  if (tz_notify_watchdog_start() < 0)
    tz_log(TZ_LOG_WARN, "watchdog: cannot start its timer");
}

static int main_serve(const opts_t *o, tz_gen_t *g)
{
  if (main_bind(o, g) < 0) {
    tz_dispatch_stop();
    return 1;
  }
  if (main_drop_privileges() < 0 || tz_loop_catch_signals(main_on_signal) < 0 ||
      main_start_control(o, g) < 0) {
    tz_log(TZ_LOG_ERR, "start-up failed");
    main_stop_control();
    tz_workers_stop();
    tz_dispatch_stop();
    return 1;
  }
  main_started(o, g);
  tz_loop_run();
  tz_notify_stopping();
  tz_workers_stop(); /* each drains and ends its own transactions */
  tz_sip_drain(3000);
  main_stop_control();
  tz_dispatch_stop();
  if (o->pidfile)
    unlink(o->pidfile);
  return 0;
}

int main(int argc, char **argv)
{
  opts_t o;
  if (argc > 1 && strcmp(argv[1], "--test") == 0)
    return tz_test_main(argc - 2, argv + 2);
  int rc = main_parse_args(argc, argv, &o);
  if (rc >= 0)
    return rc;
  tz_log_setup("trapezoid", o.to_stderr || o.check_only);
  /* Fork before anything starts threads or opens databases. */
  if (!o.check_only && !o.foreground && main_daemonize() < 0) {
    fprintf(stderr, "trapezoid: cannot daemonize: %s\n", strerror(errno));
    return 1;
  }
  if (tz_loop_init() < 0 || tz_module_system_init() < 0 || tz_stats_init() < 0) {
    fprintf(stderr, "trapezoid: cannot initialise the event loop\n");
    return 1;
  }
  tz_diag_t d = {0};
  o.gen.settled = main_settled;
  o.gen.settled_arg = &o;
  tz_gen_t *g = tz_gen_build(o.cfg, &o.gen, &d);
  o.gen.settled = NULL; /* reloads keep the user the start chose */
  if (tz_diag_text(&d)[0])
    fputs(tz_diag_text(&d), stderr);
  tz_diag_clear(&d);
  if (!g) {
    rc = 1;
  } else if (o.check_only) {
    printf("%s: OK\n", o.cfg);
    rc = 0;
  } else if (tz_control_init(o.cfg, &o.gen) < 0) {
    rc = 1;
  } else {
    tz_gen_set_current(g);
    rc = main_serve(&o, g);
    tz_gen_set_current(NULL);
    tz_control_deinit();
  }
  tz_gen_unref(g);
  tz_loop_deinit();
  tz_module_system_deinit();
  tz_stats_deinit();
  tz_trace_deinit();
  return rc;
}
