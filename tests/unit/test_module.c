/*
 * test_module.c - the module loader and generation builder: loading by
 * name from a path, descriptor checks, typed parameters, dependencies,
 * export clashes, init failure, and removal of every registration a module
 * leaves behind.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "control/ctl.h"
#include "control/build.h"
#include <trapezoid/json.h>
#include "runtime/loop.h"
#include "runtime/module.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char err[512];

static int suite_setup(void)
{
  return tz_loop_init() || tz_module_system_init();
}

static int suite_teardown(void)
{
  tz_module_system_deinit();
  tz_loop_deinit();
  return 0;
}

static tz_modinst_t *load(const char *name)
{
  err[0] = '\0';
  return tz_module_load(name, "/nonexistent:" TESTMOD_DIR, err, sizeof err);
}

static void test_load_defaults(void)
{
  tz_modinst_t *mi = load("testmod");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mi);
  CU_ASSERT_STRING_EQUAL(tz_mod_name(mi), "testmod");
  const long *cfg = tz_mod_cfg(mi);
  CU_ASSERT_EQUAL(cfg[0], 42);
  CU_ASSERT_PTR_NOT_NULL(tz_modinst_find_func(mi, "tm_answer"));
  CU_ASSERT_PTR_NULL(tz_modinst_find_func(mi, "tm_nothing"));
  tz_module_destroy(mi);
}

static void test_params(void)
{
  tz_modinst_t *mi = load("testmod");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mi);
  tz_val_t seven = {TZ_VAL_INT, 7, NULL, 0};
  tz_val_t big = {TZ_VAL_INT, 101, NULL, 0};
  tz_val_t text = {TZ_VAL_STR, 0, "hi", 2};
  tz_val_t numtext = {TZ_VAL_STR, 0, "9", 1};
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "answer", &seven, err, sizeof err), 0);
  CU_ASSERT_EQUAL(((long *)tz_mod_cfg(mi))[0], 7);
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "answer", &numtext, err, sizeof err), 0);
  CU_ASSERT_EQUAL(((long *)tz_mod_cfg(mi))[0], 9);
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "answer", &big, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "between 0 and 100"));
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "answer", &text, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "takes an integer"));
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "greeting", &seven, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "takes a string"));
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "greeting", &text, err, sizeof err), 0);
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "colour", &text, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "has no parameter 'colour'"));
  tz_module_destroy(mi);
}

static void test_bad_objects(void)
{
  CU_ASSERT_PTR_NULL(load("nosuchmod"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot load module 'nosuchmod'"));
  CU_ASSERT_PTR_NULL(load("oldmod"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "built for API version"));
  CU_ASSERT_PTR_NULL(load("notmod"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a trapezoid module"));
}

static void test_shared_object_refcount(void)
{
  tz_modinst_t *a = load("testmod"), *b = load("testmod");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(tz_modinst_lib_refs(a), 2);
  tz_module_destroy(a);
  CU_ASSERT_EQUAL(tz_modinst_lib_refs(b), 1);
  tz_module_destroy(b);
}

static size_t drain(int fd)
{
  char buf[256];
  size_t total = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    total += (size_t)n;
  return total;
}

static void spin(unsigned ms)
{
  su_root_sleep(tz_loop_root(), ms);
}

static void test_registrations_removed(void)
{
  int p[2];
  CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  tz_modinst_t *mi = load("testmod");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mi);
  tz_val_t fd = {TZ_VAL_INT, p[1], NULL, 0};
  CU_ASSERT_EQUAL(tz_module_set_param(mi, "notify_fd", &fd, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(tz_module_init(mi, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(tz_modinst_owner(mi)->head); /* a timer, an fd watch */
  spin(100);
  CU_ASSERT(drain(p[0]) > 0);
  tz_module_destroy(mi); /* testmod has no destroy(): the core must clean up */
  drain(p[0]);
  spin(60);
  CU_ASSERT_EQUAL(drain(p[0]), 0);
  close(p[0]);
  close(p[1]);
}

static void test_init_failure(void)
{
  tz_modinst_t *mi = load("testmod");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mi);
  tz_val_t v = {TZ_VAL_INT, 13, NULL, 0};
  tz_module_set_param(mi, "answer", &v, err, sizeof err);
  CU_ASSERT_EQUAL(tz_module_init(mi, err, sizeof err), -1);
  CU_ASSERT_STRING_EQUAL(err, "testmod: 13 is unlucky");
  tz_module_destroy(mi);
}

/* ---- module commands ------------------------------------------------------ */

static int rpc_answer(tz_modinst_t *mod, const tz_json_t *params,
                      tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params;
  (void)err;
  (void)errlen;
  tz_jw_int(out, *(long *)tz_mod_cfg(mod));
  return 0;
}

static void expect_rpc(const char *want)
{
  tz_jbuf_t out;
  tz_jbuf_init(&out);
  const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"testmod.answer\",\"id\":1}";
  tz_ctl_dispatch(req, strlen(req), &out);
  CU_ASSERT_PTR_NOT_NULL(out.s ? strstr(out.s, want) : NULL);
  tz_jbuf_free(&out);
}

static void test_rpc_newest_answers(void)
{
  tz_modinst_t *a = load("testmod"), *b = load("testmod");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  tz_val_t one = {TZ_VAL_INT, 1, NULL, 0}, two = {TZ_VAL_INT, 2, NULL, 0};
  tz_module_set_param(a, "answer", &one, err, sizeof err);
  tz_module_set_param(b, "answer", &two, err, sizeof err);
  CU_ASSERT_EQUAL(tz_rpc_register(a, "testmod.answer", rpc_answer, "x"), 0);
  expect_rpc("\"result\":1");
  CU_ASSERT_EQUAL(tz_rpc_register(b, "testmod.answer", rpc_answer, "x"), 0);
  expect_rpc("\"result\":2");  /* the newer instance answers */
  tz_module_destroy(b);         /* a failed reload: the old one answers again */
  expect_rpc("\"result\":1");
  tz_module_destroy(a);
  expect_rpc("-32601");         /* gone with its last owner */
}

/* ---- through the generation builder ------------------------------------ */

static tz_gen_t *build(const char *text, tz_diag_t *d)
{
  tz_gen_opts_t o = {.mpath = TESTMOD_DIR};
  tz_diag_clear(d);
  return tz_gen_build_text("t.cfg", text, &o, d);
}

static void expect_error(const char *text, const char *where, const char *what)
{
  tz_diag_t d = {0};
  tz_gen_t *g = build(text, &d);
  CU_ASSERT_PTR_NULL(g);
  tz_gen_unref(g);
  if (!strstr(tz_diag_text(&d), where) || !strstr(tz_diag_text(&d), what)) {
    fprintf(stderr, "\nexpected '%s' and '%s' in:\n%s\n", where, what,
            tz_diag_text(&d));
    CU_FAIL("diagnostic mismatch");
  }
  tz_diag_clear(&d);
}

static void test_gen_good(void)
{
  tz_diag_t d = {0};
  tz_gen_t *g = build("loadmodule \"depmod\"\n"
                      "loadmodule \"testmod\"\n"
                      "modparam(\"testmod\", \"answer\", 7)\n"
                      "alias=example.test\n"
                      "listen=udp:127.0.0.1:5099\n"
                      "request_route { if (tm_answer() && dm_true()) { exit; } }\n",
                      &d);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL(g->nmods, 2);
  /* dependencies initialise first, whatever the loadmodule order */
  CU_ASSERT_STRING_EQUAL(tz_mod_name(g->mods[0]), "testmod");
  CU_ASSERT_STRING_EQUAL(tz_mod_name(g->mods[1]), "depmod");
  CU_ASSERT_EQUAL(((long *)tz_mod_cfg(g->mods[0]))[0], 7);
  CU_ASSERT_EQUAL(g->nlistens, 1);
  CU_ASSERT_STRING_EQUAL(g->listens[0].proto, "udp");
  CU_ASSERT_EQUAL(g->listens[0].port, 5099);
  CU_ASSERT_EQUAL(g->naliases, 1);
  tz_gen_unref(g);
  tz_diag_clear(&d);
}

/* One worker runs any module; the setting is kept for the start. */
static void test_workers_setting(void)
{
  tz_diag_t d = {0};
  tz_gen_t *g = build("workers=1\nloadmodule \"solomod\"\n", &d);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL(g->workers, 1);
  tz_gen_unref(g);
  g = build("workers=3\nloadmodule \"testmod\"\n", &d);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL(g->workers, 3);
  tz_gen_unref(g);
  tz_diag_clear(&d);
}

static void test_gen_errors(void)
{
  expect_error("loadmodule \"depmod\"\nrequest_route { }\n", "t.cfg:1:",
               "module 'depmod' needs module 'testmod'");
  expect_error("loadmodule \"testmod\"\nloadmodule \"clashmod\"\n", "t.cfg:2:",
               "exports 'tm_answer', which testmod already defines");
  expect_error("modparam(\"testmod\", \"answer\", 7)\n", "t.cfg:1:",
               "not loaded");
  expect_error("loadmodule \"testmod\"\nmodparam(\"testmod\", \"answer\", 700)\n",
               "t.cfg:2:", "between 0 and 100");
  expect_error("loadmodule \"testmod\"\nloadmodule \"testmod\"\n", "t.cfg:2:",
               "already loaded");
  expect_error("workers=2\nloadmodule \"solomod\"\n", "t.cfg:2:",
               "module 'solomod' is not written for several workers");
  expect_error("workers=0\n", "t.cfg:1:", "from 1 to 64");
  expect_error("loadmodule \"testmod\"\nmodparam(\"testmod\", \"answer\", 13)\n",
               "t.cfg:1:", "13 is unlucky");
  expect_error("loadmodule \"nosuch\"\n", "t.cfg:1:", "cannot load module");
  expect_error("listen=udp:127.0.0.1:99999\n", "t.cfg:1:", "bad listen address");
  expect_error("colour=blue\n", "t.cfg:1:1", "unknown setting 'colour'");
  expect_error("loadmodule \"testmod\"\nrequest_route { tm_positive(0); }\n",
               "t.cfg:2:", "positive");
}

static void test_overrides(void)
{
  static const char *const good[] = {"testmod.answer=9", "testmod.greeting=77"};
  static const char *const bad[] = {"testmod.colour=red"};
  tz_diag_t d = {0};
  tz_gen_opts_t o = {.mpath = TESTMOD_DIR, .modparams = good, .nmodparams = 2};
  tz_gen_t *g = tz_gen_build_text("t.cfg", "loadmodule \"testmod\"\n"
                                  "modparam(\"testmod\", \"answer\", 7)\n", &o, &d);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL(((long *)tz_mod_cfg(g->mods[0]))[0], 9); /* -o wins */
  CU_ASSERT_STRING_EQUAL(((char **)tz_mod_cfg(g->mods[0]))[1], "77");
  tz_gen_unref(g);
  o.modparams = bad;
  o.nmodparams = 1;
  g = tz_gen_build_text("t.cfg", "loadmodule \"testmod\"\n", &o, &d);
  CU_ASSERT_PTR_NULL(g);
  CU_ASSERT_PTR_NOT_NULL(strstr(tz_diag_text(&d), "-o testmod.colour=red: module "
                                "'testmod' has no parameter 'colour'"));
  tz_diag_clear(&d);
}

static void test_listen_parse(void)
{
  tz_listen_t l;
  CU_ASSERT_EQUAL(tz_listen_parse("[::1]:5070", &l, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(l.host, "::1");
  CU_ASSERT_PTR_NULL(l.proto);
  CU_ASSERT_EQUAL(l.port, 5070);
  tz_listen_free(&l);
  CU_ASSERT_EQUAL(tz_listen_parse("tcp:example.test", &l, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(l.proto, "tcp");
  CU_ASSERT_EQUAL(l.port, 5060);
  tz_listen_free(&l);
  CU_ASSERT_EQUAL(tz_listen_parse("tls:[2001:db8::1]", &l, err, sizeof err), 0);
  CU_ASSERT_EQUAL(l.port, 5061);
  tz_listen_free(&l);
  CU_ASSERT_EQUAL(tz_listen_parse("[::1", &l, err, sizeof err), -1);
  CU_ASSERT_EQUAL(tz_listen_parse("1.2.3.4:0", &l, err, sizeof err), -1);
  CU_ASSERT_EQUAL(tz_listen_parse("1.2.3.4:5060x", &l, err, sizeof err), -1);
}

/* The one host:port parser, as the control endpoint, aliases and the dns
 * module's name server use it. */
static void test_hostport_parse(void)
{
  char h[64];
  unsigned port;
  CU_ASSERT_EQUAL(tz_hostport_parse("127.0.0.1:9", h, sizeof h, &port, 0), 0);
  CU_ASSERT_STRING_EQUAL(h, "127.0.0.1");
  CU_ASSERT_EQUAL(port, 9);
  CU_ASSERT_EQUAL(tz_hostport_parse("[::1]:53535", h, sizeof h, &port, 53), 0);
  CU_ASSERT_STRING_EQUAL(h, "::1");
  CU_ASSERT_EQUAL(port, 53535);
  CU_ASSERT_EQUAL(tz_hostport_parse("2001:db8::1", h, sizeof h, &port, 53), 0);
  CU_ASSERT_STRING_EQUAL(h, "2001:db8::1"); /* bare IPv6: no port */
  CU_ASSERT_EQUAL(port, 53);
  CU_ASSERT_EQUAL(tz_hostport_parse("example.test", h, sizeof h, &port, 0), -1);
  CU_ASSERT_EQUAL(tz_hostport_parse("a:65536", h, sizeof h, &port, 1), -1);
  CU_ASSERT_EQUAL(tz_hostport_parse("a:+5", h, sizeof h, &port, 1), -1);
  CU_ASSERT_EQUAL(tz_hostport_parse("[::1]x", h, sizeof h, &port, 1), -1);
  CU_ASSERT_EQUAL(tz_hostport_parse(":5060", h, sizeof h, &port, 1), -1);
  CU_ASSERT_EQUAL(tz_hostport_parse("averyveryverylonghostname.example:1", h, 8, &port, 1), -1);
  CU_ASSERT(tz_host_eq("[::1]", "0:0::1") && tz_host_eq("Example.Test", "example.test"));
  CU_ASSERT(!tz_host_eq("::1", "::2"));
}

/* interpose.c answers these for libc: the same text and address as libc. */
static void test_ipv4_literals(void)
{
  unsigned char a[4];
  char ours[INET_ADDRSTRLEN], libc[INET_ADDRSTRLEN];
  for (unsigned v = 0; v < 256 * 4; v++) {
    memset(a, (int)(v * 37 % 256), sizeof a); /* the others vary too */
    a[v / 256] = (unsigned char)(v % 256);
    size_t n = tz_ipv4_text(a, ours);
    CU_ASSERT_STRING_EQUAL(ours, inet_ntop(AF_INET, a, libc, sizeof libc));
    CU_ASSERT_EQUAL(n, strlen(libc) + 1);
  }
  struct addrinfo h = {.ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP}, *r;
  struct sockaddr_in sin;
  CU_ASSERT(tz_ipv4_literal("192.0.2.7", "5062", &h, &sin));
  CU_ASSERT_EQUAL_FATAL(getaddrinfo("192.0.2.7", "5062", &h, &r), 0);
  CU_ASSERT(r->ai_next == NULL && r->ai_family == AF_INET && r->ai_canonname == NULL &&
            r->ai_addrlen == sizeof sin && memcmp(r->ai_addr, &sin, sizeof sin) == 0);
  freeaddrinfo(r);
  CU_ASSERT(!tz_ipv4_literal("example.test", "5060", &h, &sin));
  CU_ASSERT(!tz_ipv4_literal("::1", "5060", &h, &sin));
  CU_ASSERT(!tz_ipv4_literal("127.1", "5060", &h, &sin)); /* libc's inet_aton forms */
  CU_ASSERT(!tz_ipv4_literal("127.0.0.1", "sip", &h, &sin));
  CU_ASSERT(!tz_ipv4_literal("127.0.0.1", "5060x", &h, &sin));
  h.ai_flags = AI_CANONNAME;
  CU_ASSERT(!tz_ipv4_literal("127.0.0.1", "5060", &h, &sin));
  h.ai_flags = 0, h.ai_family = AF_INET6;
  CU_ASSERT(!tz_ipv4_literal("127.0.0.1", "5060", &h, &sin));
  h.ai_family = AF_UNSPEC, h.ai_protocol = 0; /* libc: one result per protocol */
  CU_ASSERT(!tz_ipv4_literal("127.0.0.1", "5060", &h, &sin));
}

static const tz_unit_test_t loader_tests[] = {
  {"host:port parsing", test_hostport_parse},
  {"IPv4 literals as libc has them", test_ipv4_literals},
  {"load with defaults", test_load_defaults},
  {"typed parameters", test_params},
  {"missing, old and foreign objects", test_bad_objects},
  {"shared object refcount", test_shared_object_refcount},
  {"leftover registrations removed", test_registrations_removed},
  {"init failure", test_init_failure},
  {"module commands: newest answers", test_rpc_newest_answers},
  {NULL, NULL}
};

static const tz_unit_test_t gen_tests[] = {
  {"generation builds", test_gen_good},
  {"generation errors", test_gen_errors},
  {"workers setting", test_workers_setting},
  {"-o overrides", test_overrides},
  {"listen addresses", test_listen_parse},
  {NULL, NULL}
};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
    {"loader", loader_tests, suite_setup, suite_teardown},
    {"generation", gen_tests, suite_setup, suite_teardown},
    {NULL, NULL, NULL, NULL}
  };
  return tz_unit_main(suites);
}
