/*
 * sipt.h - a script test file (.sipt), parsed: what `trapezoid --test`
 * runs (core/test/harness.c). The format is in doc/script-tests.md.
 *
 * A file parses into one flat list of items in file order: directives and
 * fixtures, "case" headers, steps and expectations. The runner walks it
 * in order, so a fixture between two cases is set when the walk gets
 * there and every case sees the state the ones before it left.
 *
 * sipt.c owns the parsed file (one su_home, freed by sipt_free); it needs
 * nothing of the server, so the unit tests link it alone.
 */
#ifndef TZ_SIPT_H
#define TZ_SIPT_H

#include <stddef.h>

typedef enum sipt_kind {
  SIPT_SCRIPT,     /* script PATH: text = the path, relative to the file's folder */
  SIPT_MODPARAM,   /* modparam MOD PARAM VALUE: text = "MOD.PARAM=VALUE" */
  SIPT_LISTEN,     /* listen ADDR: text = ADDR, as -l takes it (repeatable) */
  SIPT_CLOCK,      /* clock YYYY-MM-DDTHH:MM:SSZ: text, where the clock starts */
  /* A fixture is a control command run as the walk reaches it (a running
   * server takes the same over its control socket): a = the command,
   * b = the keyword written (for messages), text = the params as JSON.
   *   subscriber USER@DOMAIN PASSWORD   -> auth.subscriber_add
   *       {"username","domain","password"}
   *   binding AOR CONTACT [expires=S] [q=Q] [received=URI]
   *                                     -> location.add
   *       {"aor","contact","expires"(3600),"q"?,"received"?}
   *   dns A|AAAA NAME ADDR [ttl=S]      -> dns.zone_add {"type","name","address","ttl"?}
   *   dns SRV NAME PRIO WEIGHT PORT TARGET
   *       {"type","name","priority","weight","port","target","ttl"?}
   *   dns NAPTR NAME ORDER PREF "FLAGS" "SERVICE" "REGEXP" REPLACEMENT
   *       {"type","name","order","preference","flags","service","regexp","replacement","ttl"?}
   *   dns NXDOMAIN NAME                 -> {"type":"NXDOMAIN","name"}
   *   control METHOD {json}             -> METHOD, the object as written */
  SIPT_FIXTURE,
  SIPT_CASE,       /* case "NAME": a */
  SIPT_SEND,       /* send [raw] from PROTO HOST:PORT [with credentials U P] */
  SIPT_RESPOND,    /* respond STATUS ["REASON"] [to METHOD] [NL headers] */
  SIPT_ADVANCE,    /* advance N(ms|s|m|h): n = milliseconds */
  SIPT_EXPECT,
} sipt_kind_t;

typedef enum sipt_expect {
  SIPT_X_REPLY,    /* expect reply STATUS ["REASON"]: n, a (NULL: any reason) */
  SIPT_X_NO_REPLY, /* expect no reply */
  SIPT_X_RELAY,    /* expect relay URI: a */
  SIPT_X_RELAYS,   /* expect relays N: n */
  SIPT_X_NO_RELAY, /* expect no relay */
  SIPT_X_REQUEST,  /* expect request METHOD URI: a = METHOD, b = URI */
  SIPT_X_RURI,     /* expect ruri URI: a */
  SIPT_X_HEADER,   /* expect header NAME[#N] (= "T" | ~ "ERE" | absent): a, n (0: any), op, b */
  SIPT_X_BODY,     /* expect body ~ "ERE": op = SIPT_OP_MATCH, b */
  SIPT_X_DROP,     /* expect drop */
  SIPT_X_ROUTE,    /* expect [no] route NAME: a ("request_route", "failure_route[x]"...), negate */
  SIPT_X_LOG,      /* expect log ~ "ERE": b */
} sipt_expect_t;

typedef enum sipt_op { SIPT_OP_EQ, SIPT_OP_MATCH, SIPT_OP_ABSENT } sipt_op_t;

typedef struct sipt_item {
  sipt_kind_t kind;
  unsigned line, col; /* where the item starts (1-based) */
  /* Strings, NULL when absent; their meaning per kind is above. */
  char *a, *b, *text;
  /* SEND: "udp", "tcp" or "tls"; RESPOND: "to METHOD" in a (NULL: the
   * last request sent downstream). */
  char proto[4];
  char *host;         /* SEND: the source address (an IP literal) */
  unsigned port;      /* SEND: the source port */
  int raw;            /* SEND raw: msg exactly as written (escapes expanded) */
  char *user, *password; /* SEND ... with credentials USER PASSWORD */
  unsigned repeat;    /* SEND: "repeat N send ...": N (1 otherwise) */
  char *msg;          /* SEND: the message, CRLF, Content-Length set unless raw;
                       * RESPOND: the extra header lines, CRLF each, or NULL */
  size_t msglen;
  int n;              /* RESPOND: the status; ADVANCE: ms; EXPECT: see sipt_expect_t */
  sipt_expect_t x;    /* EXPECT */
  sipt_op_t op;       /* EXPECT header/body */
  int negate;         /* EXPECT no route */
} sipt_item_t;

typedef struct sipt_file sipt_file_t;

/* Reads and parses path. Returns the file, or NULL with "path:line:col:
 * error: message" (gcc style, with "did you mean" for a misspelt keyword)
 * in err. */
sipt_file_t *sipt_parse_file(const char *path, char *err, size_t errlen);
/* The same from text in memory; name is what diagnostics call it. */
sipt_file_t *sipt_parse(const char *name, const char *text, size_t len, char *err,
                        size_t errlen);
void sipt_free(sipt_file_t *f);

const char *sipt_name(const sipt_file_t *f);
size_t sipt_count(const sipt_file_t *f);
const sipt_item_t *sipt_at(const sipt_file_t *f, size_t i);

#endif
